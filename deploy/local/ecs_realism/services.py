"""Services: CreateService, UpdateService, DeleteService, DescribeServices and ListServices."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

from moto.core.utils import utcnow
from moto.ec2 import ec2_backends
from moto.ecs.exceptions import ECSException, InvalidParameterException
from moto.servicediscovery.models import servicediscovery_backends

from .deployments import (
    Deployment,
    _image_fails,
    _primary,
    _progress_service,
    _start_deployment,
    _sync_counts,
)
from .patching import Backend, _orig
from .task_definitions import _active_task_definition, _iam_root


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


def _check_service_connect(backend: Any, task_definition: Any, conf: dict | None) -> None:
    """ECS: an enabled Service Connect configuration names an existing Cloud Map
    namespace (by name or ARN) and ports the task definition names."""
    if not conf or not conf.get("enabled"):
        return
    namespace = conf.get("namespace")
    if namespace:
        sd = servicediscovery_backends[backend.account_id][backend.region_name]
        if not any(namespace in (ns.name, ns.arn) for ns in sd.namespaces.values()):
            raise InvalidParameterException(f"The namespace {namespace} does not exist.")
    named = {
        mapping.get("name")
        for container in task_definition.container_definitions
        for mapping in container.get("portMappings") or []
        if mapping.get("name")
    }
    for service in conf.get("services") or []:
        if service.get("portName") not in named:
            raise InvalidParameterException(
                f"The portName {service.get('portName')} specified in serviceConnectConfiguration "
                "does not match any port mapping name in the task definition."
            )
        if len(service.get("clientAliases") or []) > 1:
            raise InvalidParameterException("A maximum of 1 clientAliases is supported per service.")


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
    request = _create_request_fingerprint(
        cluster.name, service_name, desired_count, task_definition_str, load_balancers, scheduling_strategy,
        tags, deployment_controller, launch_type, service_registries, platform_version, propagate_tags,
        network_configuration, role_arn, extra,
    )
    # moto gap: a second CreateService with the same name silently replaced the service.
    # ECS: a retry with the first call's clientToken and the same parameters returns the
    # service it created; anything else with the name of an ACTIVE service is refused.
    if existing is not None and existing.status == "ACTIVE":
        token = extra.get("client_token")
        if (
            token
            and token == getattr(existing, "_bosun_client_token", None)
            and request == getattr(existing, "_bosun_create_request", None)
        ):
            return existing
        raise InvalidParameterException("Creation of service was not idempotent.")
    if task_definition_str:
        task_definition = _active_task_definition(self, task_definition_str)
        task_definition_str = task_definition.arn
        _require_network_configuration(task_definition, network_configuration)
        _check_service_connect(self, task_definition, extra.get("service_connect_configuration"))
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
    service._bosun_create_request = request
    return service


def _create_request_fingerprint(*params: Any) -> str:
    """The parameters of a CreateService call, but its clientToken, in a comparable form."""
    *positional, extra = params
    rest = {k: v for k, v in extra.items() if k != "client_token"}
    return json.dumps([positional, rest], sort_keys=True, default=str)


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
    if target_td:
        _check_service_connect(
            self,
            self.describe_task_definition(target_td),
            props.get("service_connect_configuration", service.service_connect_configuration),
        )
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
