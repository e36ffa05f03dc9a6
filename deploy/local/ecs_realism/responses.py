"""The patched moto ECS response handlers: request parameters moto did not read, and paging."""

from __future__ import annotations

import base64
import json
from typing import Any

from moto.core.responses import ActionResult
from moto.ecs import responses as ecs_responses
from moto.ecs.exceptions import InvalidParameterException

from .patching import LOCK


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
