"""The task model: a task's containers, their planned exit codes, and its RUNNING/STOPPED transitions."""

from __future__ import annotations

import time
import uuid
from typing import Any

from moto.core.utils import utcnow
from moto.ec2 import ec2_backends
from moto.ecs import models as ecs_models
from moto.ecs.exceptions import InvalidParameterException
from moto.moto_api._internal.managed_state_model import ManagedState

from .config import CONFIG, EXIT_CODE_ENV, EXIT_COMMAND_RE


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
