"""CloudFormation: the resource types bosun's own template (deploy/aws/bosun.yml) needs and
moto's CloudFormation lacks, and AWS::NoValue in lists.

moto 5.2.5's CloudFormation skips a resource type it has no model for, with only a log
warning, and still reports CREATE_COMPLETE: the stack then looks whole and is not. Three
of the template's types are such gaps, and are added here on moto's own backends (the
same ones the S3, Secrets Manager and CloudWatch APIs serve):

* AWS::S3::BucketPolicy        -> PutBucketPolicy
* AWS::SecretsManager::Secret  -> CreateSecret (SecretString, or GenerateSecretString as
                                  GetRandomPassword makes it)
* AWS::CloudWatch::Alarm       -> PutMetricAlarm

moto's AWS::IAM::Role stores an inline policy (`Policies`) as Python's repr of the
document, which GetRolePolicy then returns; here the policies are put as PutRolePolicy
puts them: JSON, checked by moto's policy validator.

moto's AWS::S3::Bucket keeps only the encryption and the tags of its properties; the
bucket's versioning, lifecycle rules, public access block and ownership controls are
applied here after moto's create (and update), as the S3 API would set them.

And moto resolves ``!If [Cond, X, !Ref AWS::NoValue]`` inside a list to a ``null``
element, where CloudFormation drops the element; a policy statement or a lifecycle rule
that is there only under a condition needs the drop.

Other gaps are left alone, and the tests say so where they meet them: moto's ECS models
keep only a task definition's family, container definitions, volumes and memory (not its
roles, cpu, network mode or compatibilities), and only a service's cluster, task definition
and desired count (not its launch type, network configuration, load balancers or deployment
configuration).
"""

from __future__ import annotations

import json
from typing import Any

from moto.cloudformation import parsing
from moto.cloudwatch.models import cloudwatch_backends
from moto.core.common_models import CloudFormationModel
from moto.iam.models import Role, iam_backends
from moto.s3.models import FakeBucket, s3_backends
from moto.secretsmanager.models import secretsmanager_backends
from moto.utilities.utils import get_partition


def _without_no_value(clean_json):
    """clean_json, with ``AWS::NoValue`` (None) dropped from lists as CloudFormation drops it."""

    def clean(resource_json: Any, resources_map: Any) -> Any:
        if isinstance(resource_json, list):
            cleaned = (clean(v, resources_map) for v in resource_json)
            return [v for v in cleaned if v is not None]
        return clean_json(resource_json, resources_map)

    return clean


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle rule in the shape PutBucketLifecycleConfiguration's XML parses to."""
    api: dict[str, Any] = {"ID": rule.get("Id"), "Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
    if "ExpirationInDays" in rule:
        api["Expiration"] = {"Days": str(rule["ExpirationInDays"])}
    elif "ExpiredObjectDeleteMarker" in rule:
        api["Expiration"] = {"ExpiredObjectDeleteMarker": str(rule["ExpiredObjectDeleteMarker"]).lower()}
    if "NoncurrentVersionExpiration" in rule:
        days = rule["NoncurrentVersionExpiration"]["NoncurrentDays"]
        api["NoncurrentVersionExpiration"] = {"NoncurrentDays": str(days)}
    elif "NoncurrentVersionExpirationInDays" in rule:
        api["NoncurrentVersionExpiration"] = {"NoncurrentDays": str(rule["NoncurrentVersionExpirationInDays"])}
    unsupported = set(rule) - {
        "Id", "Status", "Prefix", "ExpirationInDays", "ExpiredObjectDeleteMarker",
        "NoncurrentVersionExpiration", "NoncurrentVersionExpirationInDays",
    }
    if unsupported:
        raise ValueError(f"lifecycle rule properties the emulator does not apply: {sorted(unsupported)}")
    return api


def _configure_bucket(bucket: Any, props: dict[str, Any], account_id: str, region_name: str) -> None:
    """Apply the bucket properties moto's CloudFormation ignores."""
    backend = s3_backends[account_id][get_partition(region_name)]
    name = bucket.name
    if "VersioningConfiguration" in props:
        backend.put_bucket_versioning(name, props["VersioningConfiguration"]["Status"])
    if "LifecycleConfiguration" in props:
        rules = [_lifecycle_rule(r) for r in props["LifecycleConfiguration"].get("Rules", [])]
        backend.put_bucket_lifecycle_configuration(name, rules)
    if "PublicAccessBlockConfiguration" in props:
        block = {k: str(v).lower() for k, v in props["PublicAccessBlockConfiguration"].items()}
        backend.put_public_access_block(name, block)
    if "OwnershipControls" in props:
        backend.put_bucket_ownership_controls(name, props["OwnershipControls"]["Rules"][0]["ObjectOwnership"])


def _bucket_create(original):
    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        bucket = original.__func__(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        _configure_bucket(bucket, cloudformation_json.get("Properties", {}), account_id, region_name)
        return bucket

    return classmethod(create)


def _bucket_update(original):
    def update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        bucket = original.__func__(
            cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
        )
        _configure_bucket(bucket, cloudformation_json.get("Properties", {}), account_id, region_name)
        return bucket

    return classmethod(update)


def _role_create(original):
    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = dict(cloudformation_json["Properties"])
        policies = props.pop("Policies", [])
        role = original.__func__(cls, resource_name, {**cloudformation_json, "Properties": props}, account_id,
                                 region_name, **kwargs)
        backend = iam_backends[account_id][get_partition(region_name)]
        for policy in policies:
            document = policy["PolicyDocument"]
            if not isinstance(document, str):
                document = json.dumps(document)
            backend.put_role_policy(role.name, policy["PolicyName"], document)
        return role

    return classmethod(create)


class BucketPolicy(CloudFormationModel):
    """AWS::S3::BucketPolicy: the bucket's policy document."""

    def __init__(self, account_id: str, bucket: str) -> None:
        self.account_id = account_id
        self.bucket = bucket

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::S3::BucketPolicy"

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @property
    def physical_resource_id(self) -> str:
        return self.bucket

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> "BucketPolicy":
        props = cloudformation_json["Properties"]
        bucket = props["Bucket"]
        document = props["PolicyDocument"]
        if not isinstance(document, str):
            document = json.dumps(document)
        s3_backends[account_id][get_partition(region_name)].put_bucket_policy(bucket, document.encode())
        return cls(account_id, bucket)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any, account_id: str,
        region_name: str,
    ) -> "BucketPolicy":
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        bucket = cloudformation_json["Properties"]["Bucket"]
        s3_backends[account_id][get_partition(region_name)].delete_bucket_policy(bucket)


class Secret(CloudFormationModel):
    """AWS::SecretsManager::Secret: a secret with its first value. Ref is its ARN."""

    def __init__(self, arn: str, name: str) -> None:
        self.arn = arn
        self.name = name

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SecretsManager::Secret"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("Id",)

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name == "Id":
            return self.arn
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        raise UnformattedGetAttTemplateException()

    @staticmethod
    def _generate(backend: Any, spec: dict[str, Any]) -> str:
        flag = lambda key: str(spec.get(key, False)).lower() == "true"  # noqa: E731
        password = json.loads(
            backend.get_random_password(
                password_length=int(spec.get("PasswordLength", 32)),
                exclude_characters=spec.get("ExcludeCharacters", ""),
                exclude_numbers=flag("ExcludeNumbers"),
                exclude_punctuation=flag("ExcludePunctuation"),
                exclude_uppercase=flag("ExcludeUppercase"),
                exclude_lowercase=flag("ExcludeLowercase"),
                include_space=flag("IncludeSpace"),
                require_each_included_type=str(spec.get("RequireEachIncludedType", True)).lower() == "true",
            )
        )["RandomPassword"]
        if "SecretStringTemplate" in spec:
            value = json.loads(spec["SecretStringTemplate"])
            value[spec["GenerateStringKey"]] = password
            return json.dumps(value)
        return password

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> "Secret":
        props = cloudformation_json["Properties"]
        backend = secretsmanager_backends[account_id][region_name]
        if ("SecretString" in props) == ("GenerateSecretString" in props):
            raise ValueError("a secret needs exactly one of SecretString and GenerateSecretString")
        value = props.get("SecretString")
        if value is None:
            value = cls._generate(backend, props["GenerateSecretString"])
        name = props.get("Name") or resource_name
        created = backend.create_secret(
            name=name,
            secret_string=value,
            secret_binary=None,
            description=props.get("Description"),
            tags=props.get("Tags"),
            kms_key_id=props.get("KmsKeyId"),
            client_request_token=None,
            replica_regions=[],
            force_overwrite=False,
        )
        return cls(json.loads(created)["ARN"] if isinstance(created, str) else created["ARN"], name)

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        backend = secretsmanager_backends[account_id][region_name]
        backend.delete_secret(resource_name, recovery_window_in_days=None, force_delete_without_recovery=True)


class Alarm(CloudFormationModel):
    """AWS::CloudWatch::Alarm: a metric alarm. Ref is its name."""

    def __init__(self, name: str, arn: str) -> None:
        self.name = name
        self.arn = arn

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::Alarm"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "AlarmName"

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("Arn",)

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name == "Arn":
            return self.arn
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        raise UnformattedGetAttTemplateException()

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> "Alarm":
        p = cloudformation_json["Properties"]
        name = p.get("AlarmName") or resource_name
        alarm = cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=name,
            namespace=p.get("Namespace"),
            metric_name=p.get("MetricName"),
            comparison_operator=p["ComparisonOperator"],
            evaluation_periods=int(p["EvaluationPeriods"]),
            datapoints_to_alarm=int(p["DatapointsToAlarm"]) if "DatapointsToAlarm" in p else None,
            period=int(p["Period"]) if "Period" in p else None,
            threshold=float(p["Threshold"]),
            statistic=p.get("Statistic"),
            description=p.get("AlarmDescription"),
            dimensions=p.get("Dimensions", []),
            alarm_actions=p.get("AlarmActions", []),
            ok_actions=p.get("OKActions", []),
            insufficient_data_actions=p.get("InsufficientDataActions", []),
            unit=p.get("Unit"),
            actions_enabled=str(p.get("ActionsEnabled", True)).lower() == "true",
            treat_missing_data=p.get("TreatMissingData"),
            tags=p.get("Tags", []),
        )
        return cls(name, alarm.alarm_arn)

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        cloudwatch_backends[account_id][region_name].delete_alarms([resource_name])


def install() -> None:
    """Register the models (moto finds them as CloudFormationModel subclasses) and the NoValue fix."""
    parsing.clean_json = _without_no_value(parsing.clean_json)
    Role.create_from_cloudformation_json = _role_create(Role.__dict__["create_from_cloudformation_json"])
    FakeBucket.create_from_cloudformation_json = _bucket_create(FakeBucket.__dict__["create_from_cloudformation_json"])
    FakeBucket.update_from_cloudformation_json = _bucket_update(FakeBucket.__dict__["update_from_cloudformation_json"])
    # The model map is cached on first use; drop it so the classes above are in it.
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()
