"""bosun's local AWS emulator: moto in server mode plus an ECS realism layer.

Run as ``.venv/bin/python deploy/local/ecs_realism.py --host 127.0.0.1 --port 4566``
(``deploy/local/emulator start`` does that). One endpoint serves every AWS service moto
implements. Stock moto 5.2.5 is faithful enough for S3, SQS, ELBv2, Route53, Cloud Map and
friends, but its ECS emulation never progresses. This module monkeypatches moto's ECS
backend (moto/ecs/models.py) and its response class (moto/ecs/responses.py) so that:

* service deployments progress IN_PROGRESS -> COMPLETED (or FAILED, with circuit-breaker
  rollback) one step per DescribeServices call or with the clock, with service events;
* UpdateService starts new deployments the way ECS does;
* one-off tasks (RunTask) run and end in STOPPED with an exit code chosen by the caller;
* the API gaps listed in README.md are fixed (idempotency errors, paging, resolved ARNs, ...).

Every patch below names the moto gap it fixes. The layer is pinned to the moto version in
requirements.txt: it refuses to start on any other version.

Knobs (environment, or at runtime through ``POST /_bosun/config``):
  BOSUN_EMULATOR_FAIL_IMAGE        regex; an image matching it fails (default below)
  BOSUN_EMULATOR_ROLLOUT_DESCRIBES DescribeServices calls until a deployment settles (2)
  BOSUN_EMULATOR_TASK_DESCRIBES    DescribeTasks calls until a one-off task stops (2)
  BOSUN_EMULATOR_ROLLOUT_SECONDS   seconds until either settles anyway; <= 0 disables (2)
"""

from __future__ import annotations

import argparse
import base64
import copy
import functools
import gc
import json
import logging
import math
import os
import random
import re
import signal
import threading
import time
import uuid
from typing import Any

import moto
from moto.core.responses import ActionResult, BaseResponse
from moto.core.utils import utcnow
from moto.ec2 import ec2_backends
from moto.ecs import models as ecs_models
from moto.ecs import responses as ecs_responses
from moto.ecs.exceptions import (
    ECSException,
    EcsClientException,
    InvalidParameterException,
    TaskDefinitionNotFoundException,
)
from moto.moto_api._internal.managed_state_model import ManagedState

PINNED_MOTO_VERSION = "5.2.5"
LAYER_NAME = "bosun-ecs-realism"

DEFAULT_FAIL_IMAGE = r":fail(-.*)?$|/fail:"
EXIT_CODE_ENV = "BOSUN_EMULATOR_EXIT_CODE"
# "exit N" anywhere in a container command (e.g. ["sh", "-c", "exit 3"]); the first one wins.
EXIT_COMMAND_RE = re.compile(r"(?<![\w-])exit\s+(-?\d+)\b")
MAX_SERVICE_EVENTS = 100  # ECS keeps the 100 most recent service events

log = logging.getLogger("bosun.emulator")

Backend = ecs_models.EC2ContainerServiceBackend
Cluster = ecs_models.Cluster
Service = ecs_models.Service
Task = ecs_models.Task
ResponseCls = ecs_responses.EC2ContainerServiceResponse

# moto's server is threaded and its ECS models are not thread-safe: every ECS request
# (see install()) and every patched backend entry point runs under this lock.
LOCK = threading.RLock()

_ORIG: dict[str, Any] = {}


# --------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------


class Config:
    """Timing and failure-injection knobs, from the environment, changeable at runtime."""

    FIELDS = {
        "fail_image": str,
        "rollout_describes": int,
        "task_describes": int,
        "rollout_seconds": float,
    }

    def __init__(self) -> None:
        self.fail_image = os.environ.get("BOSUN_EMULATOR_FAIL_IMAGE", DEFAULT_FAIL_IMAGE)
        self.rollout_describes = int(os.environ.get("BOSUN_EMULATOR_ROLLOUT_DESCRIBES", "2"))
        self.task_describes = int(os.environ.get("BOSUN_EMULATOR_TASK_DESCRIBES", "2"))
        self.rollout_seconds = float(os.environ.get("BOSUN_EMULATOR_ROLLOUT_SECONDS", "2"))
        self._validate()

    def _validate(self) -> None:
        self.fail_re = re.compile(self.fail_image)
        if self.rollout_describes < 1 or self.task_describes < 1:
            raise ValueError("rollout_describes and task_describes must be >= 1")

    def update(self, changes: dict[str, Any]) -> None:
        unknown = set(changes) - set(self.FIELDS)
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        old = self.as_dict()
        try:
            for key, value in changes.items():
                setattr(self, key, self.FIELDS[key](value))
            self._validate()
        except Exception:
            for key, value in old.items():
                setattr(self, key, value)
            self._validate()
            raise

    def as_dict(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.FIELDS}


try:
    CONFIG = Config()
except (ValueError, re.error) as exc:
    raise SystemExit(f"{LAYER_NAME}: invalid BOSUN_EMULATOR_* setting: {exc}")


def _steps(describes: int, since: float, needed: int) -> int:
    """How far something has progressed: one step per observation, or by the clock.

    ``needed`` steps settle it; the clock reaches ``needed`` after rollout_seconds.
    """
    by_clock = 0
    if CONFIG.rollout_seconds > 0:
        by_clock = int((time.monotonic() - since) / CONFIG.rollout_seconds * needed)
    return max(describes, by_clock)


def _locked(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with LOCK:
            return fn(*args, **kwargs)

    return wrapper


def _patch(cls: type, name: str, value: Any, *, lock: bool = True) -> None:
    _ORIG[f"{cls.__name__}.{name}"] = cls.__dict__.get(name)
    if lock and callable(value) and not isinstance(value, (staticmethod, property)):
        value = _locked(value)
    setattr(cls, name, value)


def _orig(cls: type, name: str) -> Any:
    return _ORIG[f"{cls.__name__}.{name}"]


# --------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------


def _iam_root(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:root"


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


def _parse_units(value: Any, per_unit: int) -> int:
    """'512' -> 512, '1 GB' / '1 vCPU' -> per_unit, '0.5 vCPU' -> per_unit/2."""
    if value is None:
        return 0
    text = str(value).strip()
    match = re.match(r"^([\d.]+)\s*([A-Za-z]*)$", text)
    if not match:
        return 0
    number = float(match.group(1))
    return int(number * per_unit) if match.group(2) else int(number)


def _breaker(service: Any) -> dict[str, Any]:
    dc = getattr(service, "deployment_configuration", None) or {}
    return dc.get("deploymentCircuitBreaker") or {}


def _failure_threshold(desired: int) -> int:
    # ECS: 50 % of the desired count, at least 3, at most 200 failed tasks.
    return min(200, max(3, math.ceil(desired * 0.5)))


def _paginate(items: list[Any], max_results: Any, next_token: str | None, default: int):
    """Offset paging with an opaque token (moto ignores maxResults/nextToken on ECS lists)."""
    if max_results is None:
        limit = default
    else:
        limit = int(max_results)
        if not 1 <= limit <= 100:
            raise InvalidParameterException("maxResults must be between 1 and 100.")
    start = 0
    if next_token:
        try:
            start = int(json.loads(base64.urlsafe_b64decode(next_token.encode()))["offset"])
        except Exception:
            raise InvalidParameterException("Invalid nextToken.")
    end = start + limit
    token = None
    if end < len(items):
        token = base64.urlsafe_b64encode(json.dumps({"offset": end}).encode()).decode()
    return items[start:end], token


# --------------------------------------------------------------------------------------
# Clusters
# --------------------------------------------------------------------------------------


def _cluster_backend(cluster: Any) -> Any:
    account_id = cluster.arn.split(":")[4]
    return ecs_models.ecs_backends[account_id][cluster.region_name]


def _cluster_counts(cluster: Any) -> dict[str, int]:
    try:
        backend = _cluster_backend(cluster)
    except Exception:
        return {"active": 0, "running": 0, "pending": 0}
    services = [s for s in backend.services.values() if s.cluster_arn == cluster.arn]
    tasks = [t for t in backend.tasks.get(cluster.name, {}).values() if t.cluster_arn == cluster.arn]
    return {
        "active": sum(1 for s in services if s.status == "ACTIVE"),
        "running": sum(1 for t in tasks if t.last_status == "RUNNING"),
        "pending": sum(1 for t in tasks if t.last_status in ("PROVISIONING", "PENDING", "ACTIVATING")),
    }


def _cluster_counter(kind: str) -> property:
    # moto gap: activeServicesCount stayed 0, and the task counters were bookkeeping that
    # missed Fargate tasks and tasks stopping on their own. Computed from the state here.
    def getter(self: Any) -> int:
        with LOCK:
            return _cluster_counts(self)[kind]

    def setter(self: Any, value: Any) -> None:  # moto's own increments are ignored
        pass

    return property(getter, setter)


def backend_create_cluster(self, cluster_name, *args, **kwargs):
    # moto gap: a second CreateCluster with the same name replaced the cluster (new
    # object, tags lost). ECS returns the existing ACTIVE cluster unchanged.
    existing = self.clusters.get(cluster_name)
    if existing is not None and existing.status == "ACTIVE":
        return existing
    return _orig(Backend, "create_cluster")(self, cluster_name, *args, **kwargs)


def backend_delete_cluster(self, cluster_str):
    # moto gap: a cluster with ACTIVE services could be deleted.
    cluster = self._get_cluster(cluster_str)
    if any(
        s.cluster_arn == cluster.arn and s.status in ("ACTIVE", "DRAINING")
        for s in self.services.values()
    ):
        raise ECSException(
            "ClusterContainsServicesException",
            "The Cluster cannot be deleted while Services are active.",
        )
    return _orig(Backend, "delete_cluster")(self, cluster_str)


def backend_list_clusters(self):
    # moto gap: INACTIVE (deleted) clusters were listed.
    return [c.arn for c in self.clusters.values() if c.status == "ACTIVE"]


# --------------------------------------------------------------------------------------
# Task definitions
# --------------------------------------------------------------------------------------


def backend_register_task_definition(self, *args, **kwargs):
    # moto gap: registeredAt/registeredBy missing.
    task_definition = _orig(Backend, "register_task_definition")(self, *args, **kwargs)
    task_definition.registered_at = utcnow()
    task_definition.registered_by = _iam_root(self.account_id)
    return task_definition


def backend_deregister_task_definition(self, task_definition_str):
    task_definition = _orig(Backend, "deregister_task_definition")(self, task_definition_str)
    task_definition.deregistered_at = utcnow()
    return task_definition


def backend_describe_task_definition(self, task_definition_str):
    # moto gap: "family" alone resolved to the highest revision even when INACTIVE; ECS
    # resolves it to the latest ACTIVE revision. A bad revision number was a 500.
    name = (task_definition_str or "").split("/")[-1]
    if ":" in name:
        family, rev = name.rsplit(":", 1)
        try:
            revision = int(rev)
        except ValueError:
            raise EcsClientException(f"Invalid revision number. Number: {rev}")
        found = self.task_definitions.get(family, {}).get(revision)
    else:
        active = [
            td for td in self.task_definitions.get(name, {}).values() if td.status == "ACTIVE"
        ]
        found = max(active, key=lambda td: td.revision) if active else None
    if found is None:
        raise TaskDefinitionNotFoundException()
    return found


def _active_task_definition(backend: Any, task_definition_str: str) -> Any:
    task_definition = backend.describe_task_definition(task_definition_str)
    if task_definition.status != "ACTIVE":
        raise EcsClientException("TaskDefinition is inactive")
    return task_definition


def backend_calculate_task_resource_requirements(task_definition):
    # moto gap: a container without its own memory (task-level memory, or Fargate) made
    # RunTask fail with HTTP 500 (int += None). Task-level cpu/memory are used instead.
    reqs: dict[str, Any] = {"CPU": 0, "MEMORY": 0, "PORTS": [], "PORTS_UDP": []}
    for cd in task_definition.container_definitions:
        reqs["CPU"] += int(cd.get("cpu", cd.get("Cpu", 0)) or 0)
        memory = (
            cd.get("memory")
            or cd.get("Memory")
            or cd.get("memoryReservation")
            or cd.get("MemoryReservation")
            or 0
        )
        reqs["MEMORY"] += int(memory)
        for mapping in cd.get("portMappings", cd.get("PortMappings", [])) or []:
            host_port = mapping.get("hostPort", mapping.get("HostPort"))
            if host_port:
                key = "PORTS_UDP" if mapping.get("protocol") == "udp" else "PORTS"
                reqs[key].append(host_port)
    if not reqs["CPU"]:
        reqs["CPU"] = _parse_units(task_definition.cpu, 1024)
    if not reqs["MEMORY"]:
        reqs["MEMORY"] = _parse_units(task_definition.memory, 1024)
    return reqs


# --------------------------------------------------------------------------------------
# Services and deployments
# --------------------------------------------------------------------------------------

# UpdateService fields that make ECS start a new deployment when their value changes.
DEPLOYMENT_TRIGGERS = (
    "load_balancers",
    "service_registries",
    "network_configuration",
    "platform_version",
    "capacity_provider_strategy",
    "placement_constraints",
    "placement_strategy",
    "service_connect_configuration",
    "volume_configurations",
)


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


def _merge_deployment_configuration(current: dict | None, given: dict | None) -> dict:
    # moto gap: CreateService dropped deploymentConfiguration. ECS fills in defaults.
    merged = copy.deepcopy(current) or {
        "deploymentCircuitBreaker": {"enable": False, "rollback": False},
        "maximumPercent": 200,
        "minimumHealthyPercent": 100,
    }
    for key, value in (given or {}).items():
        if key == "deploymentCircuitBreaker" and value is not None:
            breaker = merged.setdefault("deploymentCircuitBreaker", {})
            breaker.update(copy.deepcopy(value))
        elif value is not None:
            merged[key] = copy.deepcopy(value)
    return merged


def service_validate_network(self, nc):
    # moto gap: omitted securityGroups (ECS uses the VPC's default group) was a KeyError
    # (HTTP 500), and a missing awsvpcConfiguration too.
    conf = (nc or {}).get("awsvpcConfiguration")
    if not conf:
        raise InvalidParameterException("Network Configuration must contain awsvpcConfiguration.")
    subnets = conf.get("subnets") or []
    if not subnets:
        raise InvalidParameterException("subnets can not be empty.")
    ec2 = ec2_backends[self._account_id][self.region_name]
    for subnet_id in subnets:
        try:
            ec2.get_subnet(subnet_id)
        except Exception:
            raise InvalidParameterException(
                f"Error retrieving subnet information for [{subnet_id}]: The subnet ID "
                f"'{subnet_id}' does not exist (ErrorCode: InvalidSubnetID.NotFound)"
            )
    for group_id in conf.get("securityGroups") or []:
        if ec2.get_security_group_from_id(group_id) is None:
            raise InvalidParameterException(
                f"Error retrieving security group information for [{group_id}]: "
                f"The security group '{group_id}' does not exist (ErrorCode: InvalidGroup.NotFound)"
            )
    nc = copy.deepcopy(nc)
    nc["awsvpcConfiguration"].setdefault("assignPublicIp", "DISABLED")
    return nc


def _require_network_configuration(task_definition: Any, network_configuration: Any) -> None:
    # moto gap: accepted services of awsvpc task definitions without a network configuration.
    if task_definition.network_mode == "awsvpc" and not network_configuration:
        raise InvalidParameterException(
            "Network Configuration must be provided when networkMode 'awsvpc' is specified."
        )


def _init_service(backend: Any, service: Any, extra: dict[str, Any]) -> None:
    """Fill in what moto's Service lacks and replace its static deployment."""
    service.created_at = utcnow()
    service.created_by = _iam_root(backend.account_id)
    service.deployment_configuration = _merge_deployment_configuration(
        None, extra.get("deployment_configuration")
    )
    service.placement_constraints = copy.deepcopy(extra.get("placement_constraints") or [])
    service.placement_strategy = copy.deepcopy(extra.get("placement_strategy") or [])
    service.health_check_grace_period_seconds = extra.get("health_check_grace_period_seconds") or 0
    service.enable_ecs_managed_tags = bool(extra.get("enable_ecs_managed_tags"))
    service.enable_execute_command = bool(extra.get("enable_execute_command"))
    service.service_connect_configuration = copy.deepcopy(extra.get("service_connect_configuration"))
    service.volume_configurations = copy.deepcopy(extra.get("volume_configurations"))
    service.capacity_provider_strategy = copy.deepcopy(extra.get("capacity_provider_strategy"))
    if service.capacity_provider_strategy:
        service.launch_type = None  # ECS reports either a launch type or a strategy
    if service.launch_type == "FARGATE":
        service.platform_version = service.platform_version or "LATEST"
        service.platform_family = "Linux"
    # moto returned networkConfiguration {} for services without one; ECS omits it.
    service.network_configuration = service.network_configuration or None
    service._bosun_client_token = extra.get("client_token")
    service._bosun_drain = None
    service._bosun_last_completed = None  # (deployment id, task definition ARN)
    service.running_count = 0
    service.pending_count = 0
    if service.task_definition and (service.deployment_controller or {}).get("type", "ECS") == "ECS":
        td = backend.describe_task_definition(service.task_definition)
        service.deployments = [
            Deployment(service, service.task_definition, service.desired_count, _image_fails(td))
        ]
    else:
        service.deployments = []


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


def backend_create_service(
    self,
    cluster_str,
    service_name,
    desired_count,
    task_definition_str=None,
    load_balancers=None,
    scheduling_strategy=None,
    tags=None,
    deployment_controller=None,
    launch_type=None,
    service_registries=None,
    platform_version=None,
    propagate_tags="NONE",
    network_configuration=None,
    role_arn=None,
    **extra,
):
    cluster = self._get_cluster(cluster_str)
    existing = self.services.get(f"{cluster.name}:{service_name}")
    # moto gap: a second CreateService with the same name silently replaced the service.
    if existing is not None and existing.status == "ACTIVE":
        token = extra.get("client_token")
        if token and token == getattr(existing, "_bosun_client_token", None):
            return existing  # a retried request with the same clientToken
        raise InvalidParameterException("Creation of service was not idempotent.")
    if task_definition_str:
        task_definition = _active_task_definition(self, task_definition_str)
        task_definition_str = task_definition.arn
        _require_network_configuration(task_definition, network_configuration)
    if launch_type and extra.get("capacity_provider_strategy"):
        raise InvalidParameterException(
            "Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again."
        )
    service = _orig(Backend, "create_service")(
        self,
        cluster_str,
        service_name,
        desired_count,
        task_definition_str,
        copy.deepcopy(load_balancers),
        scheduling_strategy,
        tags,
        deployment_controller,
        launch_type,
        copy.deepcopy(service_registries),
        platform_version,
        propagate_tags,
        network_configuration,
        role_arn,
    )
    _init_service(self, service, extra)
    return service


def backend_update_service(self, props):
    # moto gap: UpdateService stored the taskDefinition string as sent, never started a
    # deployment, set runningCount = desiredCount at once, and ignored most fields.
    # (The dict signature is moto's, so CloudFormation updates keep working.)
    props = dict(props)
    cluster_str = props.pop("cluster", None) or "default"
    service = self._get_service(cluster_str, props.pop("service").split("/")[-1])
    if service.status != "ACTIVE":
        raise ECSException("ServiceNotActiveException", "Service was not ACTIVE.")
    _progress_service(self, service, observe=False)

    new_deployment = bool(props.pop("force_new_deployment", False))
    target_td = service.task_definition
    if props.get("task_definition"):
        task_definition = _active_task_definition(self, props.pop("task_definition"))
        _require_network_configuration(
            task_definition, props.get("network_configuration") or service.network_configuration
        )
        target_td = task_definition.arn
        new_deployment = new_deployment or target_td != service.task_definition
    if props.get("network_configuration") is not None:
        props["network_configuration"] = service._validate_network(props["network_configuration"])
    for key in DEPLOYMENT_TRIGGERS:
        value = props.get(key)
        if value is not None and value != getattr(service, key, None):
            setattr(service, key, copy.deepcopy(value))
            new_deployment = True
    if service.capacity_provider_strategy and props.get("capacity_provider_strategy"):
        service.launch_type = None
    if props.get("deployment_configuration") is not None:
        service.deployment_configuration = _merge_deployment_configuration(
            service.deployment_configuration, props["deployment_configuration"]
        )
    for key in ("health_check_grace_period_seconds", "enable_ecs_managed_tags",
                "enable_execute_command", "propagate_tags"):
        if props.get(key) is not None:
            setattr(service, key, props[key])

    desired = props.get("desired_count")
    if desired is not None:
        service.desired_count = int(desired)
    if new_deployment and service.deployments is not None and (
        (service.deployment_controller or {}).get("type", "ECS") == "ECS"
    ):
        _start_deployment(self, service, target_td)
    elif desired is not None:
        # A desiredCount-only change scales the PRIMARY deployment; no new deployment.
        primary = _primary(service)
        if primary is not None:
            primary.desired_count = service.desired_count
            primary.updated_at = utcnow()
            if primary.rollout_state == "COMPLETED" and primary.running_count != primary.desired_count:
                primary._scaling = True
                primary.restart_clock()
                if primary.desired_count > primary.running_count:
                    primary.pending_count = primary.desired_count - primary.running_count
    _sync_counts(service)
    return service


def backend_delete_service(self, cluster_name, service_name, force):
    # moto gap: the service became INACTIVE at once; ECS drains it (DRAINING) first.
    service = self._get_service(cluster_name, service_name)
    if service.status != "ACTIVE":
        raise ECSException("ServiceNotActiveException", "Service was not ACTIVE.")
    _progress_service(self, service, observe=False)
    if service.desired_count > 0 and not force:
        raise InvalidParameterException("The service cannot be stopped while it is scaled above 0.")
    service.status = "DRAINING"
    service.desired_count = 0
    for deployment in service.deployments:
        deployment.desired_count = 0
        deployment._scaling = False
    service._bosun_drain = {"describes": 0, "since": time.monotonic()}
    _sync_counts(service)
    return service


def backend_describe_services(self, cluster_str, service_names_or_arns):
    services, failures = _orig(Backend, "describe_services")(self, cluster_str, service_names_or_arns)
    unique = list({id(s): s for s in services}.values())
    for service in unique:  # each DescribeServices call is one observation
        _progress_service(self, service, observe=True)
    return services, failures


def backend_list_services(self, cluster_str, scheduling_strategy=None, launch_type=None):
    # moto gap: DRAINING/INACTIVE services were listed, and cluster matching was by
    # substring ("a" matched services of cluster "ba").
    cluster = self._get_cluster(cluster_str)
    arns = []
    for service in self.services.values():
        if service.cluster_arn != cluster.arn or service.status != "ACTIVE":
            continue
        if scheduling_strategy and service.scheduling_strategy != scheduling_strategy:
            continue
        if launch_type and service.launch_type != launch_type:
            continue
        arns.append(service.arn)
    return sorted(arns)


# --------------------------------------------------------------------------------------
# Tasks (RunTask / DescribeTasks / ListTasks / StopTask)
# --------------------------------------------------------------------------------------


def _exit_code_from(environment: list | None, command: list | None) -> int | None:
    for pair in environment or []:
        if pair.get("name") == EXIT_CODE_ENV:
            try:
                return int(pair.get("value")) % 256
            except (TypeError, ValueError):
                pass
    if command:
        match = EXIT_COMMAND_RE.search(" ".join(str(part) for part in command))
        if match:
            return int(match.group(1)) % 256
    return None


def planned_exit_code(container_definition: dict, override: dict | None) -> int:
    """Exit code of a one-off task's container (see README: exit-code conventions)."""
    override = override or {}
    for env, cmd in (
        (override.get("environment"), override.get("command")),
        (container_definition.get("environment"), container_definition.get("command")),
    ):
        code = _exit_code_from(env, cmd)
        if code is not None:
            return code
    if CONFIG.fail_re.search(container_definition.get("image") or ""):
        return 1
    return 0


class TaskContainer:
    """A task's container, serialized through botocore's Container shape.

    moto gap: moto modelled only the first container of the task definition, with
    taskArn set to the task definition ARN and exitCode 0 from the start.
    """

    def __init__(self, task: Any, container_definition: dict, override: dict | None):
        self._task = task
        self.container_arn = (
            f"arn:aws:ecs:{task.region_name}:{task._account_id}:container/"
            f"{task.cluster_name}/{task.id}/{uuid.uuid4()}"
        )
        self.name = container_definition.get("name")
        self.image = container_definition.get("image")
        self.last_status = "PENDING"
        self.exit_code = None
        self.health_status = "UNKNOWN"
        self.cpu = str(container_definition.get("cpu", 0))
        memory = container_definition.get("memory")
        reservation = container_definition.get("memoryReservation")
        self.memory = str(memory) if memory else None
        self.memory_reservation = str(reservation) if reservation else None
        self.network_interfaces: list[dict[str, str]] = []
        self.network_bindings = None
        self.runtime_id = None
        self.essential = container_definition.get("essential", True)
        self._planned_exit_code = planned_exit_code(container_definition, override)

    @property
    def task_arn(self) -> str:
        return self._task.task_arn


def task_init(
    self,
    cluster,
    task_definition,
    container_instance_arn,
    resource_requirements,
    backend,
    group,
    launch_type="",
    overrides=None,
    started_by="",
    tags=None,
    networking_configuration=None,
    platform_version=None,
    capacity_provider_name=None,
):
    # Replaces moto's Task.__init__. moto gaps fixed: omitted securityGroups was a
    # KeyError (HTTP 500); a VPC with DNS hostnames disabled was an AttributeError on
    # the ENI's privateDnsName (HTTP 500); only the first container was modelled; the
    # task walked RUNNING -> DEACTIVATING -> ... one state per DescribeTasks.
    ManagedState.__init__(self, model_name="ecs::task", transitions=[("PROVISIONING", "RUNNING")])
    self.id = str(uuid.uuid4())
    self.cluster_name = cluster.name
    self.cluster_arn = cluster.arn
    self.container_instance_arn = container_instance_arn
    self.task_definition_arn = task_definition.arn
    self.overrides = overrides or {}
    self.started_by = started_by or None
    self.tags = tags or []
    self.launch_type = launch_type or None
    self.capacity_provider_name = capacity_provider_name
    fargate = launch_type == "FARGATE" or capacity_provider_name in ("FARGATE", "FARGATE_SPOT")
    self.platform_version = (
        ("1.4.0" if platform_version in (None, "LATEST") else platform_version) if fargate else None
    )
    self.platform_family = "Linux" if fargate else None
    self.resource_requirements = resource_requirements
    self.region_name = cluster.region_name
    self._account_id = backend.account_id
    self._backend = backend
    self.group = group
    self.attachments = []
    self.desired_status = "RUNNING"
    self.stopped_reason = None
    self.stop_code = None
    self.cpu = task_definition.cpu or (str(resource_requirements["CPU"]) if resource_requirements else None)
    self.memory = task_definition.memory or (
        str(resource_requirements["MEMORY"]) if resource_requirements else None
    )
    self.created_at = utcnow()
    self.version = 1
    self.health_status = "UNKNOWN"
    self.enable_execute_command = False
    self.availability_zone = f"{cluster.region_name}a"
    self.connectivity = None
    self.connectivity_at = None
    self.pull_started_at = self.pull_stopped_at = self.started_at = None
    self.stopping_at = self.execution_stopped_at = self.stopped_at = None
    self.ephemeral_storage = task_definition.ephemeral_storage
    self._eni_id = None

    if task_definition.network_mode == "awsvpc":
        if not networking_configuration:
            raise InvalidParameterException(
                "Network Configuration must be provided when networkMode 'awsvpc' is specified."
            )
        self.network_configuration = networking_configuration
        conf = networking_configuration.get("awsvpcConfiguration") or {}
        subnets = conf.get("subnets") or []
        if not subnets:
            raise InvalidParameterException("subnets can not be empty.")
        ec2 = ec2_backends[self._account_id][self.region_name]
        subnet = ec2.get_subnet(subnets[0])
        groups = conf.get("securityGroups") or []
        if not groups:  # ECS uses the VPC's default security group
            default = ec2.get_default_security_group(subnet.vpc_id)
            groups = [default.id] if default else []
        eni = ec2.create_network_interface(
            subnet=subnets[0],
            private_ip_address=ecs_models.random_private_ip(),
            group_ids=groups,
            description="moto ECS",
        )
        eni.status = "in-use"
        eni.device_index = 0
        self._eni_id = eni.id
        self.availability_zone = subnet.availability_zone
        details = [
            {"name": "subnetId", "value": subnets[0]},
            {"name": "networkInterfaceId", "value": eni.id},
            {"name": "macAddress", "value": eni.mac_address},
        ]
        dns_name = getattr(eni, "private_dns_name", None)
        if dns_name:
            details.append({"name": "privateDnsName", "value": dns_name})
        details.append({"name": "privateIPv4Address", "value": eni.private_ip_address})
        attachment_id = str(uuid.uuid4())
        self.attachments.append(
            {"id": attachment_id, "type": "ElasticNetworkInterface", "status": "PRECREATED", "details": details}
        )
        self._ip = eni.private_ip_address
        self._attachment_id = attachment_id

    container_overrides = {
        o.get("name"): o for o in (self.overrides.get("containerOverrides") or []) if isinstance(o, dict)
    }
    self.containers = [
        TaskContainer(self, cd, container_overrides.get(cd.get("name")))
        for cd in task_definition.container_definitions
    ]
    self._bosun = {"describes": 0, "since": time.monotonic(), "step": 0, "stop_reason": None}
    self.last_status = "PROVISIONING" if self.attachments else "PENDING"


def _task_last_status_get(self):
    return self._bosun_last_status


def _task_last_status_set(self, value):
    self._bosun_last_status = value


def _task_to_running(task: Any) -> None:
    now = utcnow()
    task.last_status = "RUNNING"
    task.connectivity, task.connectivity_at = "CONNECTED", now
    task.pull_started_at = task.pull_stopped_at = task.started_at = now
    for attachment in task.attachments:
        attachment["status"] = "ATTACHED"
    for container in task.containers:
        container.last_status = "RUNNING"
        container.runtime_id = uuid.uuid4().hex
        if task.attachments:
            container.network_interfaces = [
                {"attachmentId": task._attachment_id, "privateIpv4Address": task._ip}
            ]


def _task_to_stopped(task: Any, stop_code: str, reason: str, exit_code: int | None) -> None:
    """Stop a task; exit_code None means each container's planned exit code."""
    if task.last_status != "RUNNING":
        _task_to_running(task)
    now = utcnow()
    task.desired_status = "STOPPED"
    task.last_status = "STOPPED"
    task.stopping_at = task.execution_stopped_at = task.stopped_at = now
    task.stop_code = stop_code
    task.stopped_reason = reason
    for container in task.containers:
        container.last_status = "STOPPED"
        container.exit_code = container._planned_exit_code if exit_code is None else exit_code
    for attachment in task.attachments:
        attachment["status"] = "DELETED"
    backend = task._backend
    if task._eni_id:  # ECS deletes the task's ENI when the task stops
        try:
            ec2_backends[task._account_id][task.region_name].delete_network_interface(task._eni_id)
        except Exception:
            pass
    if task.container_instance_arn and task.resource_requirements:
        try:
            instance = backend.container_instances[task.cluster_name][task.container_instance_arn.split("/")[-1]]
            backend.update_container_instance_resources(instance, task.resource_requirements, removing=True)
        except Exception:
            pass


def _refresh_task(task: Any, observe: bool) -> None:
    """Advance a one-off task by one observation (DescribeTasks) and by the clock."""
    if task.last_status == "STOPPED":
        return
    state = task._bosun
    if observe:
        state["describes"] += 1
    needed = CONFIG.task_describes
    if state["stop_reason"] is not None:  # StopTask was called: stops at the next look
        if _steps(state["describes"], state["since"], 1) >= 1:
            # A container stopped by SIGTERM exits with 128 + 15.
            _task_to_stopped(task, "UserInitiated", state["stop_reason"], 143)
            if state.get("managed"):
                _replace_stopped_service_task(task)
        return
    if state.get("managed"):  # service tasks follow their deployment, not the clock
        return
    step = _steps(state["describes"], state["since"], needed)
    if step <= state["step"]:
        return
    state["step"] = step
    if step >= needed:
        _task_to_stopped(task, "EssentialContainerExited", "Essential container in task exited", None)
    elif task.last_status != "RUNNING":
        _task_to_running(task)


class _TaskList(list):
    """A list of tasks that also carries the call's failures to the response."""

    failures: list[dict[str, str]] = []


def backend_run_task(
    self,
    cluster_str,
    task_definition_str,
    count,
    overrides,
    started_by,
    tags,
    launch_type,
    networking_configuration=None,
    group=None,
    platform_version=None,
    capacity_provider_strategy=None,
):
    # moto gaps: HTTP 500 without registered container instances (EC2), with task-level
    # memory only, without securityGroups, in VPCs without DNS hostnames; launchType
    # came back as "" when omitted. The emulator starts EC2 tasks even when no container
    # instance is registered (AWS would answer with a placement failure).
    if launch_type and launch_type not in ("EC2", "FARGATE", "EXTERNAL"):
        raise InvalidParameterException("launch type should be one of [EC2,FARGATE,EXTERNAL]")
    if launch_type and capacity_provider_strategy:
        raise InvalidParameterException(
            "Specify either Launch Type or Capacity Provider Strategy, but not both."
        )
    count = count or 1
    if not 1 <= count <= 10:
        raise InvalidParameterException("count must be between 1 and 10.")
    cluster = self._get_cluster(cluster_str)
    if not launch_type and not capacity_provider_strategy:
        capacity_provider_strategy = cluster.default_capacity_provider_strategy
    provider = capacity_provider_strategy[0]["capacityProvider"] if capacity_provider_strategy else None
    fargate = launch_type == "FARGATE" or provider in ("FARGATE", "FARGATE_SPOT")
    effective_launch_type = launch_type or (None if provider else "EC2")
    task_definition = _active_task_definition(self, task_definition_str)
    group = group or f"family:{task_definition.family}"
    requirements = self._calculate_task_resource_requirements(task_definition)
    self.tasks.setdefault(cluster.name, {})

    def new_task(instance_arn: str | None) -> Any:
        task = Task(
            cluster,
            task_definition,
            instance_arn,
            requirements,
            backend=self,
            group=group,
            launch_type=effective_launch_type or "",
            overrides=overrides or {},
            started_by=started_by or "",
            tags=tags or [],
            networking_configuration=networking_configuration,
            platform_version=platform_version,
            capacity_provider_name=provider,
        )
        self.tasks[cluster.name][task.task_arn] = task
        return task

    tasks = _TaskList()
    tasks.failures = []
    instances = [
        ci
        for ci in self.container_instances.get(cluster.name, {}).values()
        if ci.status == "ACTIVE"
    ]
    if fargate or launch_type == "EXTERNAL" or not instances:
        for _ in range(count):
            tasks.append(new_task(None))
        return tasks
    for instance in instances:
        while len(tasks) < count and self._can_be_placed(instance, requirements):
            tasks.append(new_task(instance.container_instance_arn))
            self.update_container_instance_resources(instance, requirements)
    if len(tasks) < count:  # as ECS: one placement failure per instance that was full
        for instance in instances:
            tasks.failures.append({"arn": instance.container_instance_arn, "reason": "RESOURCE:MEMORY"})
    return tasks


def _find_task(backend: Any, cluster: Any, ref: str) -> Any:
    tasks = backend.tasks.get(cluster.name, {})
    if ref in tasks:
        return tasks[ref]
    task_id = ref.split("/")[-1]
    return next((t for t in tasks.values() if t.id == task_id), None)


def backend_describe_tasks(self, cluster_str, tasks):
    # moto gaps: looked in every cluster, matched ids by substring, never reported
    # MISSING failures.
    cluster = self._get_cluster(cluster_str)
    if not tasks:
        raise InvalidParameterException("Tasks cannot be empty.")
    found = _TaskList()
    found.failures = []
    seen = set()
    for ref in tasks:
        task = _find_task(self, cluster, ref)
        if task is None:
            arn = ref if ref.startswith("arn:") else (
                f"arn:aws:ecs:{self.region_name}:{self.account_id}:task/{cluster.name}/{ref}"
            )
            found.failures.append({"arn": arn, "reason": "MISSING"})
        elif task.task_arn not in seen:
            seen.add(task.task_arn)
            _refresh_task(task, observe=True)
            found.append(task)
    return found


def backend_list_tasks(
    self,
    cluster_str=None,
    container_instance=None,
    family=None,
    started_by=None,
    service_name=None,
    desiredStatus=None,
    launch_type=None,
):
    # moto gaps: no default desiredStatus=RUNNING filter (stopped tasks were listed),
    # serviceName was ignored (every task was returned for any service), and family
    # matched through list_task_definitions' ACTIVE filter only.
    if cluster_str is None:
        # moto's own callers (e.g. TagResource on a task ARN) want every task there is.
        return [t for tasks in self.tasks.values() for t in tasks.values()]
    cluster = self._get_cluster(cluster_str)
    for service in list(self.services.values()):  # service tasks follow the clock too
        if service.cluster_arn == cluster.arn and service.status in ("ACTIVE", "DRAINING"):
            _progress_service(self, service, observe=False)
    result = []
    for task in list(self.tasks.get(cluster.name, {}).values()):
        _refresh_task(task, observe=False)
        if task.desired_status != (desiredStatus or "RUNNING"):
            continue
        if container_instance and (task.container_instance_arn or "").split("/")[-1] != container_instance.split("/")[-1]:
            continue
        if family and task.task_definition_arn.split("/")[-1].rsplit(":", 1)[0] != family:
            continue
        if started_by and task.started_by != started_by:
            continue
        if service_name and task.group != f"service:{service_name.split('/')[-1]}":
            continue
        if launch_type and task.launch_type != launch_type:
            continue
        result.append(task)
    return result


def backend_stop_task(self, cluster_str, task_str, reason):
    # moto gaps: unknown task was a bare Exception (HTTP 500); the task jumped to STOPPED
    # in the StopTask response itself.
    cluster = self._get_cluster(cluster_str)
    task = _find_task(self, cluster, task_str or "")
    if task is None:
        raise InvalidParameterException("The referenced task was not found.")
    _refresh_task(task, observe=False)
    if task.last_status != "STOPPED":
        task.desired_status = "STOPPED"
        task._bosun["stop_reason"] = reason or "Task stopped by user"
        task._bosun["describes"] = 0
        task._bosun["since"] = time.monotonic()
    return task


# --------------------------------------------------------------------------------------
# Response-level patches (request parsing and paging)
# --------------------------------------------------------------------------------------


def response_create_service(self):
    # moto gap: deploymentConfiguration, placement*, healthCheckGracePeriodSeconds,
    # capacityProviderStrategy, clientToken, ... were not read from the request.
    p = self._get_param
    service = self.ecs_backend.create_service(
        p("cluster", "default"),
        p("serviceName"),
        self._get_int_param("desiredCount"),
        p("taskDefinition"),
        p("loadBalancers"),
        p("schedulingStrategy"),
        p("tags"),
        p("deploymentController"),
        p("launchType"),
        network_configuration=p("networkConfiguration"),
        service_registries=p("serviceRegistries"),
        platform_version=p("platformVersion"),
        propagate_tags=p("propagateTags") or "NONE",
        role_arn=p("role"),
        deployment_configuration=p("deploymentConfiguration"),
        placement_constraints=p("placementConstraints"),
        placement_strategy=p("placementStrategy"),
        health_check_grace_period_seconds=p("healthCheckGracePeriodSeconds"),
        enable_ecs_managed_tags=p("enableECSManagedTags"),
        enable_execute_command=p("enableExecuteCommand"),
        capacity_provider_strategy=p("capacityProviderStrategy"),
        client_token=p("clientToken"),
        service_connect_configuration=p("serviceConnectConfiguration"),
        volume_configurations=p("volumeConfigurations"),
    )
    return ActionResult({"service": service})


UPDATE_SERVICE_PARAMS = {
    "cluster": "cluster",
    "service": "service",
    "desiredCount": "desired_count",
    "taskDefinition": "task_definition",
    "capacityProviderStrategy": "capacity_provider_strategy",
    "deploymentConfiguration": "deployment_configuration",
    "networkConfiguration": "network_configuration",
    "placementConstraints": "placement_constraints",
    "placementStrategy": "placement_strategy",
    "platformVersion": "platform_version",
    "forceNewDeployment": "force_new_deployment",
    "healthCheckGracePeriodSeconds": "health_check_grace_period_seconds",
    "enableExecuteCommand": "enable_execute_command",
    "enableECSManagedTags": "enable_ecs_managed_tags",
    "loadBalancers": "load_balancers",
    "propagateTags": "propagate_tags",
    "serviceRegistries": "service_registries",
    "serviceConnectConfiguration": "service_connect_configuration",
    "volumeConfigurations": "volume_configurations",
}


def response_update_service(self):
    props = {ours: self._get_param(theirs) for theirs, ours in UPDATE_SERVICE_PARAMS.items()}
    service = self.ecs_backend.update_service({k: v for k, v in props.items() if v is not None})
    return ActionResult({"service": service})


def response_list_services(self):
    arns = self.ecs_backend.list_services(
        self._get_param("cluster", "default"),
        self._get_param("schedulingStrategy"),
        launch_type=self._get_param("launchType"),
    )
    page, token = _paginate(arns, self._get_param("maxResults"), self._get_param("nextToken"), 10)
    return ActionResult({"serviceArns": page, "nextToken": token})


def response_list_task_definitions(self):
    # moto gaps: no paging, no sort, and status was passed as a filter but not validated.
    family = self._get_param("familyPrefix")
    status = self._get_param("status") or "ACTIVE"
    sort = self._get_param("sort") or "ASC"
    with LOCK:
        items = [
            td
            for revisions in self.ecs_backend.task_definitions.values()
            for td in revisions.values()
            if (family is None or td.family == family) and td.status == status
        ]
    items.sort(key=lambda td: (td.family, td.revision), reverse=(sort == "DESC"))
    page, token = _paginate(
        [td.arn for td in items], self._get_param("maxResults"), self._get_param("nextToken"), 100
    )
    return ActionResult({"taskDefinitionArns": page, "nextToken": token})


def response_list_task_definition_families(self):
    # moto gaps: no paging, status ignored.
    prefix = self._get_param("familyPrefix") or ""
    status = self._get_param("status") or "ACTIVE"
    with LOCK:
        families = []
        for family, revisions in self.ecs_backend.task_definitions.items():
            statuses = {td.status for td in revisions.values()}
            if not family.startswith(prefix) or not revisions:
                continue
            if status == "ALL" or status in statuses:
                families.append(family)
    families.sort()
    page, token = _paginate(families, self._get_param("maxResults"), self._get_param("nextToken"), 100)
    return ActionResult({"families": page, "nextToken": token})


def response_list_clusters(self):
    arns = self.ecs_backend.list_clusters()
    page, token = _paginate(arns, self._get_param("maxResults"), self._get_param("nextToken"), 100)
    return ActionResult({"clusterArns": page, "nextToken": token})


def response_list_tasks(self):
    tasks = self.ecs_backend.list_tasks(
        self._get_param("cluster", "default"),
        self._get_param("containerInstance"),
        self._get_param("family"),
        self._get_param("startedBy"),
        self._get_param("serviceName"),
        self._get_param("desiredStatus"),
        launch_type=self._get_param("launchType"),
    )
    page, token = _paginate(
        [t.task_arn for t in tasks], self._get_param("maxResults"), self._get_param("nextToken"), 100
    )
    return ActionResult({"taskArns": page, "nextToken": token})


def response_run_task(self):
    tasks = self.ecs_backend.run_task(
        self._get_param("cluster", "default"),
        self._get_param("taskDefinition"),
        self._get_int_param("count", 1),
        self._get_param("overrides"),
        self._get_param("startedBy"),
        self._get_param("tags"),
        self._get_param("launchType"),
        self._get_param("networkConfiguration"),
        self._get_param("group"),
        self._get_param("platformVersion"),
        self._get_param("capacityProviderStrategy"),
    )
    return ActionResult({"tasks": list(tasks), "failures": getattr(tasks, "failures", [])})


def response_describe_tasks(self):
    tasks = self.ecs_backend.describe_tasks(
        self._get_param("cluster", "default"), self._get_param("tasks", [])
    )
    if "TAGS" in self._get_param("include", []):
        self._include_in_response(ecs_responses.DESCRIBE_TASKS_TAGS)
    else:
        self._exclude_from_response(ecs_responses.DESCRIBE_TASKS_TAGS)
    return ActionResult({"tasks": list(tasks), "failures": getattr(tasks, "failures", [])})


# --------------------------------------------------------------------------------------
# Installation
# --------------------------------------------------------------------------------------


def install() -> None:
    """Apply every patch. Idempotent."""
    if getattr(Backend, "_bosun_realism", False):
        return
    if moto.__version__ != PINNED_MOTO_VERSION:
        raise SystemExit(
            f"{LAYER_NAME}: moto {moto.__version__} is installed but the ECS realism layer is "
            f"written against moto {PINNED_MOTO_VERSION}; reinstall deploy/local/requirements.txt"
        )
    # moto's own knobs would fight the layer's deployment model.
    os.environ.pop("MOTO_ECS_SERVICE_RUNNING", None)
    os.environ.pop("MOTO_ECS_SERVICE_FAILED_TASKS", None)

    for kind in ("active", "running", "pending"):
        name = {"active": "active_services_count", "running": "running_tasks_count",
                "pending": "pending_tasks_count"}[kind]
        _patch(Cluster, name, _cluster_counter(kind))

    _patch(Service, "_validate_network", service_validate_network, lock=False)
    _patch(Task, "__init__", task_init, lock=False)
    _patch(Task, "last_status", property(_task_last_status_get, _task_last_status_set))

    for name, fn in {
        "create_cluster": backend_create_cluster,
        "delete_cluster": backend_delete_cluster,
        "list_clusters": backend_list_clusters,
        "register_task_definition": backend_register_task_definition,
        "deregister_task_definition": backend_deregister_task_definition,
        "describe_task_definition": backend_describe_task_definition,
        "create_service": backend_create_service,
        "update_service": backend_update_service,
        "delete_service": backend_delete_service,
        "describe_services": backend_describe_services,
        "list_services": backend_list_services,
        "run_task": backend_run_task,
        "describe_tasks": backend_describe_tasks,
        "list_tasks": backend_list_tasks,
        "stop_task": backend_stop_task,
    }.items():
        _patch(Backend, name, fn)
    _patch(
        Backend,
        "_calculate_task_resource_requirements",
        staticmethod(backend_calculate_task_resource_requirements),
    )

    # Every ECS request, serialization of the response included, runs under LOCK.
    _patch(ResponseCls, "call_action", BaseResponse.call_action)
    for name, fn in {
        "create_service": response_create_service,
        "update_service": response_update_service,
        "list_services": response_list_services,
        "list_task_definitions": response_list_task_definitions,
        "list_task_definition_families": response_list_task_definition_families,
        "list_clusters": response_list_clusters,
        "list_tasks": response_list_tasks,
        "run_task": response_run_task,
        "describe_tasks": response_describe_tasks,
    }.items():
        _patch(ResponseCls, name, fn)

    _speed_up_requests()
    _fix_sqs_long_poll()
    Backend._bosun_realism = True


def _fix_sqs_long_poll() -> None:
    from moto.sqs import models as sqs_models

    orig = sqs_models.SQSBackend.receive_message

    # moto gaps in long polling (ReceiveMessage with WaitTimeSeconds > 0):
    # - the poll computes the FIFO message groups that have a message in flight once,
    #   when it starts; a group that frees up during the poll (its message deleted)
    #   stays blocked until the poll ends, so the next job of a cluster waited up to
    #   20 s, where SQS delivers it at once;
    # - between scans it waits with `wait_for(lambda: self.messages)`, which returns at
    #   once while any visible message is queued, deliverable or not, so a poll spun at
    #   100% CPU for its whole WaitTimeSeconds.
    # Instead, scan with moto's own receive (no wait: it recomputes the groups each
    # time), and between scans wait for a send (which notifies) or 0.2 s.
    def receive_message(self, queue_name, count, wait_seconds_timeout, visibility_timeout,
                        message_attribute_names=None):
        deadline = time.monotonic() + wait_seconds_timeout
        while True:
            result = orig(self, queue_name, count, 0, visibility_timeout, message_attribute_names)
            left = deadline - time.monotonic()
            if result or left <= 0:
                return result
            queue = self.get_queue(queue_name)
            with queue._messages_lock:
                queue._messages_lock.wait(timeout=min(left, 0.2))

    _patch(sqs_models.SQSBackend, "receive_message", receive_message, lock=False)


# --------------------------------------------------------------------------------------
# Request overhead
# --------------------------------------------------------------------------------------
# Profiled under the reconcile benchmark (bench/reconcile), moto spent more time on
# finding the code for a request and the attributes for its response than on the ECS
# work itself. These patches memoize three such lookups; what they return is
# unchanged. (The ECS work under LOCK is a small part of a request: moto's generic
# request parsing and response serialization are most of it, and the GIL serializes
# those anyway, so a narrower LOCK would not help.)


def _speed_up_requests() -> None:
    from moto import backends
    from moto.core import responses, serialize

    # moto gap (speed): every request listed moto's package directory and stat()ed its
    # ~250 entries, twice, under the dispatcher's global lock (werkzeug_app.py,
    # DomainDispatcherApplication.get_backend_for_host). The installed package does not
    # change while the server runs.
    modules = tuple(backends.list_of_moto_modules())
    _patch(backends, "list_of_moto_modules", lambda: modules, lock=False)

    # moto gap (speed): call_action ran inspect.getmembers over the response class on
    # every request to find its action methods. Classes are patched in install(),
    # before the server serves anything, and not after.
    names_of = responses.method_names_from_class
    cache: dict[type, frozenset[str]] = {}

    def method_names_from_class(cls: type) -> frozenset[str]:
        names = cache.get(cls)
        if names is None:
            names = cache[cls] = frozenset(names_of(cls))
        return names

    _patch(responses, "method_names_from_class", method_names_from_class, lock=False)

    # moto gap (speed): serializing a response asked six alias providers, newly built
    # for every field of every object, which attribute holds the field: almost half the
    # time of a DescribeServices. Their answer depends only on the object's class and
    # Meta, the field, its shape and the shape's parent (shapes live as long as the
    # cached service model), so it is kept per those.
    picker = serialize.XFormedAttributePicker
    possible_keys = picker.get_possible_keys
    known: dict[tuple, tuple[str, ...]] = {}

    def get_possible_keys(self: Any, context: Any) -> Any:
        shape = context.shape
        try:
            key = (type(self), tuple(self.alias_providers), type(context.obj), getattr(context.obj, "Meta", None),
                   context.key, shape, getattr(shape, "parent", None))
            keys = known.get(key)
        except TypeError:  # an unhashable Meta: ask the providers
            return possible_keys(self, context)
        if keys is None:
            keys = known[key] = tuple(possible_keys(self, context))
        return keys

    _patch(picker, "get_possible_keys", get_possible_keys, lock=False)


# --------------------------------------------------------------------------------------
# Server: moto's WSGI app behind a small control endpoint
# --------------------------------------------------------------------------------------


class ControlMiddleware:
    """Serves /_bosun/* and passes everything else to moto.

    GET  /_bosun/health  {"status": "ok", "emulator": "bosun-ecs-realism", "moto": ..., "config": ...}
    GET  /_bosun/config  the current knobs
    POST /_bosun/config  JSON object with any of the knobs; answers with the new knobs
    """

    def __init__(self, app: Any):
        self.app = app

    def __call__(self, environ: dict, start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if not path.startswith("/_bosun/"):
            return self.app(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET")
        status, body = "404 Not Found", {"error": f"no such endpoint: {method} {path}"}
        if path == "/_bosun/health" and method == "GET":
            status = "200 OK"
            body = {"status": "ok", "emulator": LAYER_NAME, "moto": moto.__version__,
                    "pid": os.getpid(), "config": CONFIG.as_dict()}
        elif path == "/_bosun/config" and method == "GET":
            status, body = "200 OK", CONFIG.as_dict()
        elif path == "/_bosun/config" and method == "POST":
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
                changes = json.loads(environ["wsgi.input"].read(length) or b"{}")
                if not isinstance(changes, dict):
                    raise ValueError("expected a JSON object")
                with LOCK:
                    CONFIG.update(changes)
                status, body = "200 OK", CONFIG.as_dict()
                log.info("config changed: %s", body)
            except Exception as exc:  # bad JSON, unknown key, bad regex, bad number
                status, body = "400 Bad Request", {"error": str(exc)}
        payload = json.dumps(body).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
        return [payload]


def watch_owner(pid: str | None, server: Any) -> None:
    """Shut down when the process that owns this emulator is gone.

    A test that is killed (for example by nextest's timeout) never runs its cleanup; with
    BOSUN_EMULATOR_WATCH_PID set to the test's PID, its emulator follows it within a second.
    """
    if not pid:
        return
    owner = int(pid)

    def watch() -> None:
        while True:
            time.sleep(1)
            try:
                os.kill(owner, 0)
            except ProcessLookupError:
                log.info("owner process %d is gone: shutting down", owner)
                server.shutdown()
                return
            except PermissionError:
                continue  # alive, owned by another user

    threading.Thread(target=watch, name="owner-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="moto server with bosun's ECS realism layer")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("BOSUN_EMULATOR_PORT", "4566")))
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    os.environ.setdefault("MOTO_PORT", str(args.port))  # moto builds some URLs from it
    install()
    # The process holds moto's and botocore's models, hundreds of thousands of
    # long-lived objects. With the default thresholds a full collection walked them
    # every ~70,000 allocations, a pause of about 150 ms (measured under
    # bench/reconcile); young collections 14 times rarer make full ones as much rarer.
    gc.set_threshold(10_000, 10, 10)

    from werkzeug.serving import make_server
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )

    app = ControlMiddleware(DomainDispatcherApplication(create_backend_app))
    server = make_server(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)

    def stop(signum: int, _frame: Any) -> None:
        log.info("signal %d: shutting down", signum)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    watch_owner(os.environ.get("BOSUN_EMULATOR_WATCH_PID"), server)
    log.info(
        "%s (moto %s) listening on http://%s:%d, config %s",
        LAYER_NAME, moto.__version__, args.host, args.port, CONFIG.as_dict(),
    )
    server.serve_forever()
    log.info("stopped")


if __name__ == "__main__":
    main()
