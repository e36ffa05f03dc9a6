"""ELBv2: CreateLoadBalancer, CreateTargetGroup and CreateListener idempotent, as in AWS."""

from __future__ import annotations

import inspect
import json
from typing import Any, Callable

from moto.elbv2 import models as elbv2_models
from moto.elbv2.exceptions import DuplicateListenerError, DuplicateLoadBalancerName, DuplicateTargetGroupName

from .patching import _orig

ElbBackend = elbv2_models.ELBv2Backend

# ELBv2 documents these creates as idempotent: "If you attempt to create multiple ...
# with the same settings, each call succeeds" (and returns the existing resource); the
# same name (for a listener: the same port of the load balancer) with other settings is
# the Duplicate... error. moto instead failed a retried CreateTargetGroup with
# DuplicateTargetGroupName, and made a second load balancer of the same name and a second
# listener on the same port (it looked the port up among the listeners' ARNs).
#
# "The same settings" is the request's parameters (tags aside) compared with those of the
# request that created the resource.


def _fingerprint(method: str, args: tuple, kwargs: dict) -> str:
    bound = inspect.signature(_orig(ElbBackend, method)).bind(None, *args, **kwargs)
    bound.apply_defaults()
    settings = {k: v for k, v in bound.arguments.items() if k not in ("self", "tags")}
    return json.dumps(settings, sort_keys=True, default=str)


def _idempotent(method: str, find: Callable[..., Any], duplicate: type[Exception]):
    def create(self, *args, **kwargs):
        request = _fingerprint(method, args, kwargs)
        existing = find(self, *args, **kwargs)
        if existing is not None:
            if getattr(existing, "_bosun_create_request", None) == request:
                return existing
            raise duplicate()
        created = _orig(ElbBackend, method)(self, *args, **kwargs)
        created._bosun_create_request = request
        return created

    return create


def _argument(method: str, name: str, args: tuple, kwargs: dict) -> Any:
    return inspect.signature(_orig(ElbBackend, method)).bind(None, *args, **kwargs).arguments.get(name)


def _find_load_balancer(self, *args, **kwargs):
    name = _argument("create_load_balancer", "name", args, kwargs)
    return next((lb for lb in self.load_balancers.values() if lb.name == name), None)


def _find_target_group(self, *args, **kwargs):
    name = _argument("create_target_group", "name", args, kwargs)
    return next((tg for tg in self.target_groups.values() if tg.name == name), None)


def _find_listener(self, *args, **kwargs):
    lb_arn = _argument("create_listener", "load_balancer_arn", args, kwargs)
    port = _argument("create_listener", "port", args, kwargs)
    balancer = self.load_balancers.get(lb_arn)
    if balancer is None:
        return None  # moto's create says LoadBalancerNotFound
    return next((lis for lis in balancer.listeners.values() if str(lis.port) == str(port)), None)


PATCHES = {
    ElbBackend: {
        "create_load_balancer": _idempotent("create_load_balancer", _find_load_balancer, DuplicateLoadBalancerName),
        "create_target_group": _idempotent("create_target_group", _find_target_group, DuplicateTargetGroupName),
        "create_listener": _idempotent("create_listener", _find_listener, DuplicateListenerError),
    },
}
