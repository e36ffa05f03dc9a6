"""Task definitions: registeredAt/By, resolution to the latest ACTIVE revision, resource requirements."""

from __future__ import annotations

import re
from typing import Any

from moto.core.utils import utcnow
from moto.ecs.exceptions import EcsClientException, TaskDefinitionNotFoundException

from .patching import Backend, _orig


def _iam_root(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:root"


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
