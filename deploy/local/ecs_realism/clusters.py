"""Clusters: idempotent CreateCluster, DeleteCluster refused with active services, live counters."""

from __future__ import annotations

from typing import Any

from moto.ecs import models as ecs_models
from moto.ecs.exceptions import ECSException

from .patching import LOCK, Backend, _orig


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
