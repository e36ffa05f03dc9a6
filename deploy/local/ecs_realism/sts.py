"""STS: AssumeRole of a role that does not exist, or with the wrong external id, is refused.

moto gap: moto's AssumeRole hands out credentials for any role ARN, in any account, with
any external id ("the role does not need to exist"). AWS refuses with AccessDenied when
the role does not exist or its trust policy does not let the caller in, and a trust
policy that asks for ``sts:ExternalId`` refuses a call without that id (the confused-
deputy guard). bosun reports a role it cannot assume as that cluster's failure, so the
emulator refuses the same calls: the role must exist in its account, and when its trust
policy names external ids, the call must carry one of them. (Who the caller is stays
unchecked, as in moto: that needs IAM enforcement.)
"""

from __future__ import annotations

import json
from typing import Any

from moto.core.exceptions import ServiceException
from moto.iam.models import iam_backends
from moto.sts.models import STSBackend
from moto.utilities.utils import get_partition

from .patching import _orig


class AccessDenied(ServiceException):
    code = "AccessDenied"


def _external_ids(trust_policy: str) -> set[str]:
    """The external ids a trust policy's statements ask for (``sts:ExternalId``)."""
    try:
        doc = json.loads(trust_policy)
    except (TypeError, ValueError):
        return set()
    statements = doc.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    ids: set[str] = set()
    for st in statements:
        for operator, keys in (st.get("Condition") or {}).items():
            for key, values in (keys or {}).items():
                if key.lower() == "sts:externalid" and operator.startswith("StringEquals"):
                    ids.update([values] if isinstance(values, str) else values)
    return ids


def assume_role(self: STSBackend, region_name: str, role_session_name: str, role_arn: str, policy: str,
                duration: int, external_id: str, **kwargs: Any) -> Any:
    parts = role_arn.split(":")
    account = parts[4] if len(parts) > 5 else ""
    denied = AccessDenied(f"User is not authorized to perform: sts:AssumeRole on resource: {role_arn}")
    try:
        role = iam_backends[account][get_partition(region_name)].get_role_by_arn(role_arn)
    except Exception:  # no such role (or no such account): AWS says AccessDenied, not NotFound
        raise denied from None
    wanted = _external_ids(role.assume_role_policy_document)
    if wanted and external_id not in wanted:
        raise denied
    return _orig(STSBackend, "assume_role")(self, region_name, role_session_name, role_arn, policy, duration,
                                            external_id, **kwargs)


PATCHES = {STSBackend: {"assume_role": assume_role}}
