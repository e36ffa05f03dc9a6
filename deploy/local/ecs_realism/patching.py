"""Monkeypatching: the moto ECS classes the layer patches, the ECS lock, and _patch/_orig."""

from __future__ import annotations

import functools
import threading
from typing import Any

from moto.ecs import models as ecs_models
from moto.ecs import responses as ecs_responses


Backend = ecs_models.EC2ContainerServiceBackend
Cluster = ecs_models.Cluster
Service = ecs_models.Service
Task = ecs_models.Task
ResponseCls = ecs_responses.EC2ContainerServiceResponse

# moto's server is threaded and its ECS models are not thread-safe: every ECS request
# (see install()) and every patched backend entry point runs under this lock.
LOCK = threading.RLock()

_ORIG: dict[str, Any] = {}


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
