"""Cloud Map: idempotent CreateService and namespace creates, ListServices filters and paging."""

from __future__ import annotations

import base64
import json
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.servicediscovery import models as sd_models
from moto.servicediscovery import responses as sd_responses
from moto.servicediscovery.exceptions import InvalidInput

from .patching import _orig

SdBackend = sd_models.ServiceDiscoveryBackend
SdResponse = sd_responses.ServiceDiscoveryResponse

# ListServices: MaxResults 1-100, 100 when left out (as in Cloud Map).
MAX_LIST_SERVICES = 100


class ServiceAlreadyExists(JsonRESTError):
    """Cloud Map's error for a second service of a name in a namespace, with the fields
    that identify the existing one (the SDKs model them)."""

    def __init__(self, service: Any) -> None:
        super().__init__("ServiceAlreadyExists", f"Service already exists: {service.name}")
        self.description = json.dumps(
            {
                "__type": self.error_type,
                "Message": self.message,
                "CreatorRequestId": service.creator_request_id,
                "ServiceId": service.id,
                "ServiceArn": service.arn,
            }
        )


def backend_create_service(self, name, namespace_id, creator_request_id, *args, **kwargs):
    # moto gap: every CreateService made a new service, so a retried request made a
    # second service of the same name. Cloud Map: a request whose CreatorRequestId is the
    # one that created the service of that name in the namespace returns that service
    # (the retry is idempotent); any other request for the name is ServiceAlreadyExists.
    for service in self.services.values():
        if service.namespace_id == namespace_id and service.name == name:
            if creator_request_id and creator_request_id == service.creator_request_id:
                return service
            raise ServiceAlreadyExists(service)
    return _orig(SdBackend, "create_service")(self, name, namespace_id, creator_request_id, *args, **kwargs)


def _namespace_create(method: str):
    """CreatePrivateDnsNamespace and friends, idempotent on CreatorRequestId."""

    def create(self, name, creator_request_id, *args, **kwargs):
        # moto gap: a retried request (same name and CreatorRequestId) failed
        # (ConflictingDomainExists for a private namespace in the same VPC) or made a
        # second namespace. Cloud Map answers a retry with the operation of the first.
        if creator_request_id:
            for namespace in self.namespaces.values():
                if namespace.name == name and namespace.creator_request_id == creator_request_id:
                    operation = getattr(namespace, "_bosun_operation_id", None)
                    if operation in self.operations:
                        return operation
        operation = _orig(SdBackend, method)(self, name, creator_request_id, *args, **kwargs)
        created = self.operations[operation].targets.get("NAMESPACE")
        if created in self.namespaces:
            self.namespaces[created]._bosun_operation_id = operation
        return operation

    return create


def _services_filter(filters: list[dict[str, Any]] | None):
    """A predicate for ListServices' Filters: NAMESPACE_ID (EQ with one value, or IN) and
    RESOURCE_OWNER (every service here belongs to the caller: SELF)."""
    checks = []
    for f in filters or []:
        name, values, condition = f.get("Name"), f.get("Values") or [], f.get("Condition") or "EQ"
        if not values:
            raise InvalidInput(f"Filter {name} needs at least one value.")
        if name == "NAMESPACE_ID":
            if condition == "EQ" and len(values) == 1:
                checks.append(lambda s, v=values[0]: s.namespace_id == v)
            elif condition == "IN":
                checks.append(lambda s, vs=frozenset(values): s.namespace_id in vs)
            else:
                raise InvalidInput(f"Condition {condition} with {len(values)} value(s) is not valid for {name}.")
        elif name == "RESOURCE_OWNER":
            if condition != "EQ" or len(values) != 1 or values[0] not in ("SELF", "OTHER_ACCOUNTS"):
                raise InvalidInput("RESOURCE_OWNER takes the condition EQ and one of SELF, OTHER_ACCOUNTS.")
            checks.append(lambda s, v=values[0]: v == "SELF")
        else:
            raise InvalidInput(f"Unknown filter name: {name}.")
    return lambda s: all(check(s) for check in checks)


def response_list_services(self) -> str:
    # moto gap: ListServices ignored Filters (a NAMESPACE_ID filter listed the services of
    # every namespace), MaxResults and NextToken.
    params = json.loads(self.body or "{}")
    keep = _services_filter(params.get("Filters"))
    limit = params.get("MaxResults", MAX_LIST_SERVICES)
    if not isinstance(limit, int) or not 1 <= limit <= MAX_LIST_SERVICES:
        raise InvalidInput(f"MaxResults must be between 1 and {MAX_LIST_SERVICES}.")
    start = 0
    if params.get("NextToken"):
        try:
            start = int(json.loads(base64.urlsafe_b64decode(params["NextToken"].encode()))["offset"])
        except Exception:
            raise InvalidInput("Invalid NextToken.")
    services = [s for s in self.servicediscovery_backend.list_services() if keep(s)]
    page = services[start:start + limit]
    result: dict[str, Any] = {"Services": [s.to_json() for s in page]}
    if start + limit < len(services):
        result["NextToken"] = base64.urlsafe_b64encode(json.dumps({"offset": start + limit}).encode()).decode()
    return json.dumps(result)


PATCHES = {
    SdBackend: {
        "create_service": backend_create_service,
        "create_private_dns_namespace": _namespace_create("create_private_dns_namespace"),
        "create_public_dns_namespace": _namespace_create("create_public_dns_namespace"),
        "create_http_namespace": _namespace_create("create_http_namespace"),
    },
    SdResponse: {"list_services": response_list_services},
}
