"""Service deployments: the Deployment class, its progress, its service tasks, the circuit breaker."""

from __future__ import annotations

import copy
import math
import random
import time
import uuid
from typing import Any

from moto.core.utils import utcnow

from .config import CONFIG, MAX_SERVICE_EVENTS, _steps, log
from .patching import Task
from .task_model import _task_to_running, _task_to_stopped


def _deployment_id() -> str:
    return "ecs-svc/" + "".join(random.choice("0123456789") for _ in range(19))


def _add_event(service: Any, message: str) -> None:
    """Service events as ECS returns them: newest first, each with id/createdAt/message."""
    service.events.insert(
        0, {"id": str(uuid.uuid4()), "createdAt": utcnow(), "message": message}
    )
    del service.events[MAX_SERVICE_EVENTS:]


def _image_fails(task_definition: Any) -> bool:
    return any(
        CONFIG.fail_re.search(cd.get("image") or "")
        for cd in task_definition.container_definitions
    )


def _breaker(service: Any) -> dict[str, Any]:
    dc = getattr(service, "deployment_configuration", None) or {}
    return dc.get("deploymentCircuitBreaker") or {}


def _failure_threshold(desired: int) -> int:
    # ECS: 50 % of the desired count, at least 3, at most 200 failed tasks.
    return min(200, max(3, math.ceil(desired * 0.5)))


class Deployment:
    """One entry of Service.deployments, serialized through botocore's Deployment shape.

    moto gap: moto kept one static dict per service that never progressed. Attributes
    starting with ``_`` are the emulator's bookkeeping and are never serialized.
    """

    def __init__(self, service: Any, task_definition_arn: str, desired_count: int, fails: bool):
        now = utcnow()
        self.id = _deployment_id()
        self.status = "PRIMARY"
        self.task_definition = task_definition_arn
        self.desired_count = desired_count
        self.pending_count = 0
        self.running_count = 0
        self.failed_tasks = 0
        self.created_at = now
        self.updated_at = now
        self.launch_type = service.launch_type
        self.capacity_provider_strategy = copy.deepcopy(service.capacity_provider_strategy)
        fargate = service.launch_type == "FARGATE"
        version = service.platform_version
        self.platform_version = ("1.4.0" if version in (None, "LATEST") else version) if fargate else None
        self.platform_family = "Linux" if fargate else None
        self.network_configuration = copy.deepcopy(service.network_configuration) or None
        # moto gap: Service Connect was accepted and dropped. ECS reports it on each
        # deployment (the Service shape has no such member), as the deployment runs it.
        self.service_connect_configuration = copy.deepcopy(service.service_connect_configuration) or None
        self.rollout_state = "IN_PROGRESS"
        self.rollout_state_reason = f"ECS deployment {self.id} in progress."
        self._fails = fails and desired_count > 0
        self._describes = 0
        self._since = time.monotonic()
        self._step = 0  # steps already applied
        self._scaling = False  # a COMPLETED deployment converging to a new desiredCount
        self._tasks: list[Any] = []  # service tasks launched for this deployment

    def restart_clock(self) -> None:
        self._describes = 0
        self._since = time.monotonic()
        self._step = 0


def _sync_counts(service: Any) -> None:
    service.running_count = sum(d.running_count for d in service.deployments)
    service.pending_count = sum(d.pending_count for d in service.deployments)


def _primary(service: Any) -> Deployment | None:
    return next((d for d in service.deployments if d.status == "PRIMARY"), None)


def _start_deployment(backend: Any, service: Any, task_definition_arn: str) -> Deployment:
    for deployment in service.deployments:
        if deployment.status == "PRIMARY":
            deployment.status = "ACTIVE"
            deployment.updated_at = utcnow()
    td = backend.describe_task_definition(task_definition_arn)
    deployment = Deployment(service, task_definition_arn, service.desired_count, _image_fails(td))
    service.deployments.insert(0, deployment)
    service.task_definition = task_definition_arn
    return deployment


# Service tasks. moto gap: services never had tasks, so ListTasks(serviceName=...) was
# empty (in fact moto ignored serviceName and listed every task). The layer launches real
# Task objects for each deployment: group "service:NAME", startedBy = the deployment id.

MAX_STOPPED_SERVICE_TASKS = 100  # stopped tasks kept per service (ECS keeps them ~1 hour)


def _live(deployment: Deployment) -> list[Any]:
    return [t for t in deployment._tasks if t.last_status != "STOPPED"]


def _ids(tasks: list[Any]) -> str:
    return " ".join(f"(task {t.id})" for t in tasks[:10])


def _launch(backend: Any, service: Any, deployment: Deployment, count: int, running: bool) -> list[Any]:
    cluster = backend.clusters.get(service.cluster_name)
    if count <= 0 or cluster is None:
        return []
    td = backend.describe_task_definition(deployment.task_definition)
    requirements = backend._calculate_task_resource_requirements(td)
    tags = []
    if service.propagate_tags == "SERVICE":
        tags = copy.deepcopy(service.tags or [])
    elif service.propagate_tags == "TASK_DEFINITION":
        tags = copy.deepcopy(td.tags or [])
    provider = (service.capacity_provider_strategy or [{}])[0].get("capacityProvider")
    launched = []
    for _ in range(count):
        try:
            task = Task(
                cluster,
                td,
                None,
                requirements,
                backend=backend,
                group=f"service:{service.name}",
                launch_type=service.launch_type or "",
                overrides={},
                started_by=deployment.id,
                tags=copy.deepcopy(tags),
                networking_configuration=deployment.network_configuration,
                platform_version=service.platform_version,
                capacity_provider_name=provider,
            )
        except Exception:  # e.g. the service's subnet was deleted meanwhile
            log.exception("could not launch a task for service %s", service.name)
            break
        task._bosun.update(managed=True, service=service, deployment=deployment, backend=backend)
        backend.tasks.setdefault(cluster.name, {})[task.task_arn] = task
        deployment._tasks.append(task)
        if running:
            _task_to_running(task)
        launched.append(task)
    return launched


def _stop_by_scheduler(tasks: list[Any], deployment_id: str) -> None:
    for task in tasks:
        _task_to_stopped(
            task, "ServiceSchedulerInitiated", f"Scaling activity initiated by (deployment {deployment_id})", 0
        )


def _prune_stopped(backend: Any, service: Any) -> None:
    for deployment in service.deployments:
        deployment._tasks = _live(deployment)
    tasks = backend.tasks.get(service.cluster_name, {})
    stopped = [
        arn
        for arn, t in tasks.items()
        if t.group == f"service:{service.name}" and t.last_status == "STOPPED"
    ]
    for arn in stopped[:-MAX_STOPPED_SERVICE_TASKS]:
        del tasks[arn]


def _complete(backend: Any, service: Any, deployment: Deployment) -> None:
    live = _live(deployment)
    if len(live) < deployment.desired_count:  # settled by the clock before tasks were launched
        started = _launch(backend, service, deployment, deployment.desired_count - len(live), running=True)
        if started:
            _add_event(service, f"(service {service.name}) has started {len(started)} tasks: {_ids(started)}.")
    elif len(live) > deployment.desired_count:
        _stop_by_scheduler(live[deployment.desired_count:], deployment.id)
    for task in _live(deployment):
        if task.last_status != "RUNNING":
            _task_to_running(task)
    deployment.running_count = len(_live(deployment))
    deployment.pending_count = 0
    deployment.rollout_state = "COMPLETED"
    deployment.rollout_state_reason = f"ECS deployment {deployment.id} completed."
    deployment.updated_at = utcnow()
    # ECS drains the older deployments (ACTIVE -> INACTIVE) and then drops them.
    old = [t for d in service.deployments if d is not deployment for t in _live(d)]
    _stop_by_scheduler(old, deployment.id)
    service.deployments = [deployment]
    if old:
        _add_event(service, f"(service {service.name}) has stopped {len(old)} running tasks: {_ids(old)}.")
    _add_event(service, f"(service {service.name}) (deployment {deployment.id}) deployment completed.")
    _add_event(service, f"(service {service.name}) has reached a steady state.")
    service._bosun_last_completed = (deployment.id, deployment.task_definition)
    _prune_stopped(backend, service)


def _fail(backend: Any, service: Any, deployment: Deployment) -> None:
    deployment.rollout_state = "FAILED"
    deployment.rollout_state_reason = "ECS deployment circuit breaker: tasks failed to start."
    deployment.failed_tasks = max(deployment.failed_tasks, _failure_threshold(deployment.desired_count))
    deployment.pending_count = 0
    deployment.running_count = 0
    deployment.updated_at = utcnow()
    _add_event(
        service,
        f"(service {service.name}) (deployment {deployment.id}) deployment failed: tasks failed to start.",
    )
    last = service._bosun_last_completed
    if not _breaker(service).get("rollback") or last is None:
        return  # no rollback: the FAILED deployment stays PRIMARY
    last_id, last_task_definition = last
    _add_event(service, f"(service {service.name}) rolling back to deployment {last_id}.")
    rollback = _start_deployment(backend, service, last_task_definition)
    rollback.rollout_state_reason = (
        f"ECS deployment circuit breaker: rolling back to deploymentId {last_id}."
    )


def _advance_deployment(backend: Any, service: Any, d: Deployment, observe: bool) -> None:
    if observe:
        d._describes += 1
    needed = CONFIG.rollout_describes
    step = _steps(d._describes, d._since, needed)
    if step <= d._step:
        return
    d._step = step
    d.updated_at = utcnow()
    name = service.name
    if d._scaling:  # desiredCount changed on a COMPLETED deployment
        if step >= needed:
            live = _live(d)
            if len(live) < d.desired_count:
                started = _launch(backend, service, d, d.desired_count - len(live), running=True)
                if started:
                    _add_event(service, f"(service {name}) has started {len(started)} tasks: {_ids(started)}.")
            elif len(live) > d.desired_count:
                extra = live[d.desired_count:]
                _stop_by_scheduler(extra, d.id)
                _add_event(service, f"(service {name}) has stopped {len(extra)} running tasks: {_ids(extra)}.")
            d.running_count, d.pending_count, d._scaling = len(_live(d)), 0, False
            _add_event(service, f"(service {name}) has reached a steady state.")
            _prune_stopped(backend, service)
        return
    if not d._fails:
        if step >= needed:
            _complete(backend, service, d)
        elif not d._tasks:
            started = _launch(backend, service, d, d.desired_count, running=False)
            d.pending_count = len(started)
            if started:
                _add_event(service, f"(service {name}) has started {len(started)} tasks: {_ids(started)}.")
        return
    # The image fails: each step, tasks start and their essential container exits.
    started = _launch(backend, service, d, d.desired_count, running=False)
    for task in started:
        _task_to_stopped(
            task,
            "EssentialContainerExited",
            "Essential container in task exited",
            max((c._planned_exit_code for c in task.containers), default=0) or 1,
        )
    d.pending_count = d.desired_count
    breaker = _breaker(service)
    # Without a breaker ECS keeps retrying for ever; with one it gives up at the threshold.
    d.failed_tasks = d.desired_count * (step if not breaker.get("enable") else min(step, needed))
    if started:
        _add_event(service, f"(service {name}) has started {len(started)} tasks: {_ids(started)}.")
    _prune_stopped(backend, service)
    if breaker.get("enable") and step >= needed:
        _fail(backend, service, d)


def _progress_service(backend: Any, service: Any, observe: bool) -> None:
    """Advance a service by one observation (DescribeServices) and by the clock."""
    if service.status == "DRAINING":
        drain = service._bosun_drain
        if observe:
            drain["describes"] += 1
        if _steps(drain["describes"], drain["since"], CONFIG.rollout_describes) >= CONFIG.rollout_describes:
            service.status = "INACTIVE"
            stopped = [t for d in service.deployments for t in _live(d)]
            for task in stopped:
                _task_to_stopped(task, "ServiceSchedulerInitiated", "Service deleted", 0)
            for d in service.deployments:
                d.running_count = d.pending_count = 0
            if stopped:
                _add_event(service, f"(service {service.name}) has stopped {len(stopped)} running tasks: {_ids(stopped)}.")
    elif service.status == "ACTIVE":
        primary = _primary(service)
        if primary is not None and (primary.rollout_state == "IN_PROGRESS" or primary._scaling):
            _advance_deployment(backend, service, primary, observe)
    _sync_counts(service)


def _replace_stopped_service_task(task: Any) -> None:
    """The service scheduler replaces a service task that was stopped (StopTask)."""
    state = task._bosun
    service, deployment, backend = state["service"], state["deployment"], state["backend"]
    if service.status != "ACTIVE" or deployment not in service.deployments:
        return
    running = deployment.rollout_state == "COMPLETED"
    started = _launch(backend, service, deployment, 1, running=running)
    if started:
        _add_event(service, f"(service {service.name}) has started 1 tasks: {_ids(started)}.")
