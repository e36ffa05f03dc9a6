"""Application Auto Scaling: tags on scalable targets, and DeregisterScalableTarget as AWS does it."""

from __future__ import annotations

import json

from moto.applicationautoscaling import models as aas_models
from moto.applicationautoscaling import responses as aas_responses
from moto.core.exceptions import JsonRESTError

from .patching import _orig

AasBackend = aas_models.ApplicationAutoscalingBackend
AasResponse = aas_responses.ApplicationAutoScalingResponse


class ObjectNotFound(JsonRESTError):
    """Application Auto Scaling's error for a target, policy or action that does not exist."""

    def __init__(self, message: str) -> None:
        super().__init__("ObjectNotFoundException", message)


class ResourceNotFound(JsonRESTError):
    """The error of a tag call on an ARN that names no scalable target."""

    def __init__(self, arn: str) -> None:
        super().__init__("ResourceNotFoundException", f"No scalable target found for ARN: {arn}")


def _tags(backend) -> dict[str, dict[str, str]]:
    if not hasattr(backend, "_bosun_tags"):
        backend._bosun_tags = {}
    return backend._bosun_tags


def _target_by_arn(backend, arn: str):
    for by_id in backend.targets.values():
        for target in by_id.values():
            if target.arn == arn:
                return target
    raise ResourceNotFound(arn)


def response_register_scalable_target(self) -> str:
    # moto gap: RegisterScalableTarget dropped its Tags (and moto had no tag calls at all).
    # AWS tags a target when the call creates it; a call that updates one leaves its tags.
    backend = self.applicationautoscaling_backend
    dimension, resource_id = self._get_param("ScalableDimension"), self._get_param("ResourceId")
    existed = backend._scalable_target_exists(resource_id, dimension)
    body = _orig(AasResponse, "register_scalable_target")(self)
    tags = self._get_param("Tags") or {}
    if not existed and tags:
        arn = json.loads(body)["ScalableTargetARN"]
        _tags(backend)[arn] = dict(tags)
    return body


def response_list_tags_for_resource(self) -> str:
    backend = self.applicationautoscaling_backend
    arn = self._get_param("ResourceARN")
    _target_by_arn(backend, arn)
    return json.dumps({"Tags": _tags(backend).get(arn, {})})


def response_tag_resource(self) -> str:
    backend = self.applicationautoscaling_backend
    arn = self._get_param("ResourceARN")
    _target_by_arn(backend, arn)
    _tags(backend).setdefault(arn, {}).update(self._get_param("Tags") or {})
    return json.dumps({})


def response_untag_resource(self) -> str:
    backend = self.applicationautoscaling_backend
    arn = self._get_param("ResourceARN")
    _target_by_arn(backend, arn)
    for key in self._get_param("TagKeys") or []:
        _tags(backend).get(arn, {}).pop(key, None)
    return json.dumps({})


def backend_deregister_scalable_target(self, namespace: str, r_id: str, dimension: str) -> None:
    # moto gaps: deregistering a target left its scaling policies and scheduled actions
    # behind (AWS deletes them with it), and a missing target was a ValidationException
    # (AWS: ObjectNotFoundException).
    if not self._scalable_target_exists(r_id, dimension):
        raise ObjectNotFound(
            f"No scalable target found for service namespace: {namespace}, resource ID: {r_id}, "
            f"scalable dimension: {dimension}"
        )
    target = self.targets[dimension][r_id]
    _tags(self).pop(target.arn, None)
    del self.targets[dimension][r_id]
    for key, policy in list(self.policies.items()):
        if (policy.service_namespace, policy.resource_id, policy.scalable_dimension) == (namespace, r_id, dimension):
            policy.delete_alarms(self.account_id, self.region_name)
            del self.policies[key]
    self.scheduled_actions = [
        a
        for a in self.scheduled_actions
        if (a.service_namespace, a.resource_id, a.scalable_dimension) != (namespace, r_id, dimension)
    ]


PATCHES = {
    AasBackend: {"deregister_scalable_target": backend_deregister_scalable_target},
    AasResponse: {
        "register_scalable_target": response_register_scalable_target,
        "list_tags_for_resource": response_list_tags_for_resource,
        "tag_resource": response_tag_resource,
        "untag_resource": response_untag_resource,
    },
}
