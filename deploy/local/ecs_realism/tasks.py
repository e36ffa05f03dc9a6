"""Tasks: RunTask, DescribeTasks, ListTasks and StopTask, and how a one-off task progresses."""

from __future__ import annotations

import time
from typing import Any

from moto.ecs.exceptions import InvalidParameterException

from .config import CONFIG, _steps
from .deployments import _progress_service, _replace_stopped_service_task
from .patching import Task
from .task_definitions import _active_task_definition
from .task_model import _task_to_running, _task_to_stopped


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
