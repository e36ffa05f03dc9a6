"""End-to-end test of the local AWS emulator (deploy/local/emulator + the ecs_realism package).

Run it with any Python 3; it re-runs itself with the emulator's Python environment
(creating <repo>/.venv through `deploy/local/emulator install` if needed), whose boto3 it uses:

    python3 deploy/local/test_emulator.py        # or: .venv/bin/python deploy/local/test_emulator.py

It starts its own emulator on a free port with a temporary state dir, exercises the ECS
realism layer through boto3, and stops the emulator again. Every wait is bounded.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
EMULATOR = os.path.join(HERE, "emulator")

VENV = os.path.abspath(os.environ.get("BOSUN_EMULATOR_VENV") or os.path.join(HERE, "..", "..", ".venv"))
if os.path.realpath(sys.prefix) != os.path.realpath(VENV):
    # Not the emulator's venv: create it if needed and run again in it (its boto3 and
    # AWS CLI are the pinned ones).
    if os.environ.get("BOSUN_EMULATOR_TEST_REEXEC"):
        sys.exit(f"still not running in {VENV} after re-exec")
    subprocess.run([EMULATOR, "install"], check=True, timeout=900)
    python = os.path.join(VENV, "bin", "python")
    os.environ["BOSUN_EMULATOR_TEST_REEXEC"] = "1"
    os.execv(python, [python, os.path.abspath(__file__), *sys.argv[1:]])

import boto3  # noqa: E402  (from the venv)
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

# Filled in by main() before the tests run.
ENV: dict[str, str] = {}
PORT = 0
ENDPOINT = ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_emulator(command: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [EMULATOR, command],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def parse_exports(stdout: str) -> dict[str, str]:
    values = {}
    for line in stdout.splitlines():
        assert line.startswith("export "), f"unexpected stdout line: {line!r}"
        key, _, value = line[len("export "):].partition("=")
        values[key] = value
    return values


def client(service: str):
    return boto3.client(
        service,
        endpoint_url=ENV["AWS_ENDPOINT_URL"],
        region_name=ENV["AWS_REGION"],
        aws_access_key_id=ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=ENV["AWS_SECRET_ACCESS_KEY"],
        config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30),
    )


def control(method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{ENDPOINT}{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class EcsCase(unittest.TestCase):
    """Each test gets a fresh cluster."""

    def setUp(self) -> None:
        self.ecs = client("ecs")
        self.ec2 = client("ec2")
        self.cluster = unique("c")
        self.ecs.create_cluster(clusterName=self.cluster)

    # -- helpers -------------------------------------------------------------------
    def register(self, family: str, image: str = "nginx:1.27", **kwargs) -> str:
        container = {"name": "app", "image": image, "memory": 128}
        container.update(kwargs.pop("container", {}))
        container = {k: v for k, v in container.items() if v is not None}
        response = self.ecs.register_task_definition(
            family=family, containerDefinitions=[container], **kwargs
        )
        return response["taskDefinition"]["taskDefinitionArn"]

    def describe(self, service: str, **kwargs) -> dict:
        response = self.ecs.describe_services(cluster=self.cluster, services=[service], **kwargs)
        self.assertEqual(response["failures"], [])
        return response["services"][0]

    def settle(self, service: str, max_describes: int = 10) -> dict:
        """Describe until the PRIMARY deployment leaves IN_PROGRESS (bounded)."""
        for _ in range(max_describes):
            svc = self.describe(service)
            primary = [d for d in svc["deployments"] if d["status"] == "PRIMARY"][0]
            if primary["rolloutState"] != "IN_PROGRESS":
                return svc
        self.fail(f"service {service} did not settle within {max_describes} describes")

    def create_service(self, name: str, task_definition: str, desired: int = 2, **kwargs) -> dict:
        return self.ecs.create_service(
            cluster=self.cluster,
            serviceName=name,
            taskDefinition=task_definition,
            desiredCount=desired,
            **kwargs,
        )["service"]

    def default_subnet(self) -> tuple[str, str]:
        vpc = [v for v in self.ec2.describe_vpcs()["Vpcs"] if v.get("IsDefault")][0]["VpcId"]
        subnets = self.ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
        return vpc, subnets[0]["SubnetId"]

    def error_of(self, call, *args, **kwargs) -> ClientError:
        with self.assertRaises(ClientError) as ctx:
            call(*args, **kwargs)
        return ctx.exception


class CommandTests(unittest.TestCase):
    def test_start_again_is_quick_and_prints_the_same_env(self) -> None:
        started = time.monotonic()
        result = run_emulator("start", {"BOSUN_EMULATOR_PORT": str(PORT), "BOSUN_EMULATOR_STATE_DIR": STATE_DIR})
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertLess(time.monotonic() - started, 10)
        self.assertEqual(parse_exports(result.stdout), ENV)
        self.assertIn("already running", result.stderr)

    def test_env_lines(self) -> None:
        self.assertEqual(ENV["AWS_ENDPOINT_URL"], f"http://127.0.0.1:{PORT}")
        self.assertEqual(ENV["AWS_REGION"], "us-east-1")
        self.assertEqual(ENV["AWS_DEFAULT_REGION"], "us-east-1")
        self.assertEqual(ENV["AWS_ACCESS_KEY_ID"], "test")
        self.assertEqual(ENV["AWS_SECRET_ACCESS_KEY"], "test")
        self.assertEqual(ENV["BOSUN_EMULATOR_PORT"], str(PORT))
        result = run_emulator("env", {"BOSUN_EMULATOR_PORT": str(PORT)})
        self.assertEqual(parse_exports(result.stdout), ENV)

    def test_status(self) -> None:
        result = run_emulator("status", {"BOSUN_EMULATOR_PORT": str(PORT), "BOSUN_EMULATOR_STATE_DIR": STATE_DIR})
        self.assertEqual(result.returncode, 0)
        self.assertIn("running", result.stdout)
        other = tempfile.mkdtemp(prefix="bosun-emu-other-")
        try:
            result = run_emulator("status", {"BOSUN_EMULATOR_PORT": str(PORT), "BOSUN_EMULATOR_STATE_DIR": other})
            self.assertEqual(result.returncode, 3)
            self.assertIn("stopped", result.stdout)
        finally:
            shutil.rmtree(other, ignore_errors=True)

    def test_port_taken_by_something_else(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            sock.listen()
            port = sock.getsockname()[1]
            state = tempfile.mkdtemp(prefix="bosun-emu-taken-")
            try:
                result = run_emulator(
                    "start", {"BOSUN_EMULATOR_PORT": str(port), "BOSUN_EMULATOR_STATE_DIR": state}, timeout=60
                )
                self.assertNotEqual(result.returncode, 0)
                self.assertIn("already in use", result.stderr)
                self.assertEqual(result.stdout, "")
            finally:
                shutil.rmtree(state, ignore_errors=True)

    def test_aws_cli_is_installed(self) -> None:
        aws = os.path.join(os.path.dirname(sys.executable), "aws")
        result = subprocess.run(
            [aws, "ecs", "list-clusters", "--output", "json"],
            env={**os.environ, **ENV},
            capture_output=True,
            text=True,
            timeout=60,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("clusterArns", json.loads(result.stdout))


class IamEnforcementTests(unittest.TestCase):
    """With IAM enforcement on, a REST GET (Route53) is authorized like any other request."""

    def test_route53_gets_pass_the_signature_check_and_the_policy_decides(self) -> None:
        iam, route53 = client("iam"), client("route53")
        zone = route53.create_hosted_zone(Name=f"{unique('z')}.example.com", CallerReference=unique("r"))
        zone_id = zone["HostedZone"]["Id"]
        keys = {}
        for name, actions in {"reader": ["route53:GetHostedZone", "route53:ListResourceRecordSets"], "other": ["ecs:ListClusters"]}.items():
            user = unique(name)
            iam.create_user(UserName=user)
            policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
            iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps(policy))
            keys[name] = iam.create_access_key(UserName=user)["AccessKey"]

        def as_user(name: str):
            key = keys[name]
            return boto3.client("route53", endpoint_url=ENV["AWS_ENDPOINT_URL"], region_name=ENV["AWS_REGION"],
                                aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                                config=Config(retries={"max_attempts": 1}))

        def reset_auth(after: bytes) -> None:
            # text/plain: moto reads the raw body, which Flask keeps only for a non-form type.
            request = urllib.request.Request(f"{ENDPOINT}/moto-api/reset-auth", data=after, method="POST",
                                             headers={"Content-Type": "text/plain"})
            urllib.request.urlopen(request, timeout=10).close()

        reset_auth(b"0")
        try:
            reader = as_user("reader")
            self.assertEqual(reader.get_hosted_zone(Id=zone_id)["HostedZone"]["Id"], zone_id)
            reader.list_resource_record_sets(HostedZoneId=zone_id)
            with self.assertRaises(ClientError) as denied:
                as_user("other").get_hosted_zone(Id=zone_id)
            self.assertIn("AccessDenied", str(denied.exception.response))
        finally:
            reset_auth(b"inf")


class AssumeRoleTests(unittest.TestCase):
    """AssumeRole as AWS does it: only existing roles, with the external id they ask for."""

    def test_roles_in_other_accounts_are_assumed_only_when_they_exist_and_trust_the_caller(self) -> None:
        account = "111111111111"
        iam = client("iam")
        # moto's multi-account support: a request with this header acts in that account.
        iam.meta.events.register("before-sign.iam.*", lambda request, **_: request.headers.add_header(
            "x-moto-account-id", account))
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
                 "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"sts:ExternalId": "bosun-ok"}}}]}
        name = unique("bosun")
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        self.assertEqual(arn, f"arn:aws:iam::{account}:role/{name}")
        sts = client("sts")

        creds = sts.assume_role(RoleArn=arn, RoleSessionName="bosun-test", ExternalId="bosun-ok")["Credentials"]
        assumed = boto3.client("sts", endpoint_url=ENV["AWS_ENDPOINT_URL"], region_name=ENV["AWS_REGION"],
                               aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                               aws_session_token=creds["SessionToken"])
        self.assertEqual(assumed.get_caller_identity()["Account"], account)

        for kwargs in ({"RoleArn": arn, "ExternalId": "other"}, {"RoleArn": arn},
                       {"RoleArn": f"arn:aws:iam::{account}:role/{unique('missing')}"},
                       {"RoleArn": f"arn:aws:iam::222222222222:role/{name}", "ExternalId": "bosun-ok"}):
            with self.assertRaises(ClientError) as denied:
                sts.assume_role(RoleSessionName="bosun-test", **kwargs)
            self.assertEqual(denied.exception.response["Error"]["Code"], "AccessDenied", kwargs)


class ControlEndpointTests(unittest.TestCase):
    def test_health_and_config(self) -> None:
        status, body = control("GET", "/_bosun/health")
        self.assertEqual(status, 200)
        self.assertEqual(body["emulator"], "bosun-ecs-realism")
        self.assertEqual(body["moto"], "5.2.5")
        status, body = control("GET", "/_bosun/config")
        self.assertEqual(status, 200)
        self.assertEqual(body["fail_image"], r":fail(-.*)?$|/fail:")
        self.assertEqual(body["rollout_describes"], 2)
        self.assertEqual(body["task_describes"], 2)

    def test_bad_config_is_rejected_and_nothing_changes(self) -> None:
        _, before = control("GET", "/_bosun/config")
        for bad in ({"fail_image": "("}, {"nope": 1}, {"rollout_describes": 0}):
            status, body = control("POST", "/_bosun/config", bad)
            self.assertEqual(status, 400, bad)
            self.assertIn("error", body)
        self.assertEqual(control("GET", "/_bosun/config")[1], before)


class ClusterTests(EcsCase):
    def test_create_cluster_twice_returns_the_existing_cluster(self) -> None:
        name = unique("tagged")
        first = self.ecs.create_cluster(clusterName=name, tags=[{"key": "team", "value": "infra"}])["cluster"]
        second = self.ecs.create_cluster(clusterName=name)["cluster"]
        self.assertEqual(first["clusterArn"], second["clusterArn"])
        described = self.ecs.describe_clusters(clusters=[name], include=["TAGS"])["clusters"][0]
        self.assertEqual(described["tags"], [{"key": "team", "value": "infra"}])

    def test_active_services_count(self) -> None:
        td = self.register(unique("fam"))
        self.create_service("one", td)
        self.create_service("two", td)
        cluster = self.ecs.describe_clusters(clusters=[self.cluster])["clusters"][0]
        self.assertEqual(cluster["activeServicesCount"], 2)

    def test_cluster_with_services_cannot_be_deleted(self) -> None:
        self.create_service("one", self.register(unique("fam")))
        err = self.error_of(self.ecs.delete_cluster, cluster=self.cluster)
        self.assertEqual(err.response["Error"]["Code"], "ClusterContainsServicesException")


class DeploymentTests(EcsCase):
    def test_create_service_rolls_out_step_by_step(self) -> None:
        family = unique("web")
        td_arn = self.register(family)
        created = self.create_service(
            "web",
            family,  # the family alone resolves to the latest ACTIVE revision
            deploymentConfiguration={
                "deploymentCircuitBreaker": {"enable": True, "rollback": True},
                "maximumPercent": 150,
                "minimumHealthyPercent": 50,
            },
        )
        self.assertEqual(created["taskDefinition"], td_arn)
        self.assertRegex(td_arn, r"^arn:aws:ecs:us-east-1:\d{12}:task-definition/" + family + ":1$")
        self.assertEqual(
            created["deploymentConfiguration"],
            {
                "deploymentCircuitBreaker": {"enable": True, "rollback": True},
                "maximumPercent": 150,
                "minimumHealthyPercent": 50,
            },
        )
        self.assertIn("createdAt", created)
        [deployment] = created["deployments"]
        self.assertEqual(deployment["status"], "PRIMARY")
        self.assertEqual(deployment["rolloutState"], "IN_PROGRESS")
        self.assertEqual(deployment["runningCount"], 0)
        self.assertEqual(deployment["taskDefinition"], td_arn)
        for field in ("id", "createdAt", "updatedAt", "failedTasks", "rolloutStateReason", "desiredCount"):
            self.assertIn(field, deployment)
        self.assertTrue(deployment["id"].startswith("ecs-svc/"))

        first = self.describe("web")
        self.assertEqual(first["deployments"][0]["rolloutState"], "IN_PROGRESS")
        self.assertEqual(first["runningCount"], 0)
        self.assertEqual(first["pendingCount"], 2)
        self.assertIn("has started 2 tasks", first["events"][0]["message"])

        second = self.describe("web")
        [done] = second["deployments"]
        self.assertEqual(done["id"], deployment["id"])
        self.assertEqual(done["rolloutState"], "COMPLETED")
        self.assertEqual(done["runningCount"], 2)
        self.assertEqual(done["pendingCount"], 0)
        self.assertEqual(second["runningCount"], 2)
        self.assertEqual(second["pendingCount"], 0)
        self.assertEqual(second["deploymentConfiguration"], created["deploymentConfiguration"])
        newest = second["events"][0]
        self.assertEqual(newest["message"], "(service web) has reached a steady state.")
        self.assertTrue(newest["id"])
        times = [e["createdAt"] for e in second["events"]]
        self.assertEqual(times, sorted(times, reverse=True))

    def test_defaults_for_deployment_configuration(self) -> None:
        svc = self.create_service("plain", self.register(unique("fam")))
        self.assertEqual(
            svc["deploymentConfiguration"],
            {
                "deploymentCircuitBreaker": {"enable": False, "rollback": False},
                "maximumPercent": 200,
                "minimumHealthyPercent": 100,
            },
        )

    def test_update_with_new_task_definition_starts_a_new_deployment(self) -> None:
        family = unique("api")
        rev1 = self.register(family)
        self.create_service("api", rev1)
        old_id = self.settle("api")["deployments"][0]["id"]
        rev2 = self.register(family, image="nginx:1.28")
        updated = self.ecs.update_service(cluster=self.cluster, service="api", taskDefinition=f"{family}:2")["service"]
        self.assertEqual(updated["taskDefinition"], rev2)
        primary, active = updated["deployments"]
        self.assertEqual((primary["status"], primary["rolloutState"]), ("PRIMARY", "IN_PROGRESS"))
        self.assertEqual(primary["taskDefinition"], rev2)
        self.assertNotEqual(primary["id"], old_id)
        self.assertEqual((active["status"], active["id"], active["taskDefinition"]), ("ACTIVE", old_id, rev1))
        self.assertEqual(updated["runningCount"], 2)  # the old tasks still run
        done = self.settle("api")
        self.assertEqual([d["id"] for d in done["deployments"]], [primary["id"]])
        self.assertEqual(done["taskDefinition"], rev2)
        self.assertEqual(done["runningCount"], 2)
        self.assertEqual(done["events"][0]["message"], "(service api) has reached a steady state.")

    def test_same_task_definition_starts_no_deployment(self) -> None:
        family = unique("same")
        rev1 = self.register(family)
        self.create_service("same", rev1)
        before = self.settle("same")["deployments"]
        after = self.ecs.update_service(cluster=self.cluster, service="same", taskDefinition=family)["service"]
        self.assertEqual([d["id"] for d in after["deployments"]], [d["id"] for d in before])

    def test_desired_count_only_scales_the_primary(self) -> None:
        self.create_service("scale", self.register(unique("fam")))
        deployment_id = self.settle("scale")["deployments"][0]["id"]
        updated = self.ecs.update_service(cluster=self.cluster, service="scale", desiredCount=5)["service"]
        self.assertEqual([d["id"] for d in updated["deployments"]], [deployment_id])
        self.assertEqual(updated["desiredCount"], 5)
        self.assertEqual(updated["deployments"][0]["desiredCount"], 5)
        self.assertEqual(updated["deployments"][0]["rolloutState"], "COMPLETED")
        for _ in range(3):
            svc = self.describe("scale")
        self.assertEqual(svc["runningCount"], 5)
        self.assertEqual([d["id"] for d in svc["deployments"]], [deployment_id])

    def test_force_new_deployment(self) -> None:
        self.create_service("force", self.register(unique("fam")))
        old = self.settle("force")["deployments"][0]
        updated = self.ecs.update_service(cluster=self.cluster, service="force", forceNewDeployment=True)["service"]
        self.assertEqual(len(updated["deployments"]), 2)
        self.assertEqual(updated["deployments"][0]["status"], "PRIMARY")
        self.assertEqual(updated["deployments"][0]["rolloutState"], "IN_PROGRESS")
        self.assertEqual(updated["deployments"][1]["id"], old["id"])
        self.assertEqual(updated["deployments"][0]["taskDefinition"], old["taskDefinition"])
        self.assertEqual(len(self.settle("force")["deployments"]), 1)

    def test_update_stores_the_other_fields(self) -> None:
        vpc, subnet = self.default_subnet()
        group = self.ec2.create_security_group(GroupName=unique("sg"), Description="x", VpcId=vpc)["GroupId"]
        td = self.register(unique("fam"), networkMode="awsvpc")
        self.create_service("fields", td, networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet]}})
        self.settle("fields")
        target_group = f"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/{unique('tg')}/0123456789abcdef"
        registry = "arn:aws:servicediscovery:us-east-1:123456789012:service/srv-0123456789abcdef"
        changes = {
            "deploymentConfiguration": {
                "deploymentCircuitBreaker": {"enable": True, "rollback": False},
                "maximumPercent": 100,
                "minimumHealthyPercent": 0,
            },
            "loadBalancers": [{"targetGroupArn": target_group, "containerName": "app", "containerPort": 80}],
            "serviceRegistries": [{"registryArn": registry}],
            "networkConfiguration": {
                "awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group], "assignPublicIp": "DISABLED"}
            },
            "placementStrategy": [{"type": "spread", "field": "attribute:ecs.availability-zone"}],
            "placementConstraints": [{"type": "distinctInstance"}],
            "healthCheckGracePeriodSeconds": 30,
        }
        updated = self.ecs.update_service(cluster=self.cluster, service="fields", **changes)["service"]
        for key, value in changes.items():
            self.assertEqual(updated[key], value, key)
        self.assertEqual(updated["deployments"][0]["rolloutState"], "IN_PROGRESS")  # LB/network changes deploy
        described = self.describe("fields")
        for key, value in changes.items():
            self.assertEqual(described[key], value, key)

    def test_deployment_configuration_alone_starts_no_deployment(self) -> None:
        self.create_service("cfg", self.register(unique("fam")))
        before = self.settle("cfg")["deployments"]
        after = self.ecs.update_service(
            cluster=self.cluster,
            service="cfg",
            deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": True}},
        )["service"]
        self.assertEqual([d["id"] for d in after["deployments"]], [d["id"] for d in before])
        self.assertEqual(after["deploymentConfiguration"]["deploymentCircuitBreaker"], {"enable": True, "rollback": True})
        self.assertEqual(after["deploymentConfiguration"]["maximumPercent"], 200)

    def test_time_based_progress(self) -> None:
        _, before = control("GET", "/_bosun/config")
        status, _ = control("POST", "/_bosun/config", {"rollout_seconds": 0.3, "rollout_describes": 50})
        self.assertEqual(status, 200)
        try:
            self.create_service("clock", self.register(unique("fam")))
            time.sleep(0.5)
            svc = self.describe("clock")
            self.assertEqual(svc["deployments"][0]["rolloutState"], "COMPLETED")
            self.assertEqual(svc["runningCount"], 2)
        finally:
            control("POST", "/_bosun/config", {k: before[k] for k in ("rollout_seconds", "rollout_describes")})


class CircuitBreakerTests(EcsCase):
    def make(self, name: str, enable: bool, rollback: bool) -> tuple[str, str]:
        family = unique(name)
        good = self.register(family)
        bad = self.register(family, image="registry.example/app:fail")
        self.create_service(
            name,
            good,
            deploymentConfiguration={"deploymentCircuitBreaker": {"enable": enable, "rollback": rollback}},
        )
        self.assertEqual(self.settle(name)["deployments"][0]["rolloutState"], "COMPLETED")
        self.ecs.update_service(cluster=self.cluster, service=name, taskDefinition=bad)
        return good, bad

    def test_failure_rolls_back(self) -> None:
        good, bad = self.make("rb", enable=True, rollback=True)
        good_id = self.describe("rb")["deployments"][1]["id"]
        failed = None
        for _ in range(5):
            svc = self.describe("rb")
            failed = next((d for d in svc["deployments"] if d.get("rolloutState") == "FAILED"), None)
            if failed:
                break
        self.assertIsNotNone(failed, "no FAILED deployment after 5 describes")
        self.assertEqual(failed["taskDefinition"], bad)
        self.assertIn("circuit breaker", failed["rolloutStateReason"])
        self.assertGreater(failed["failedTasks"], 0)
        primary = svc["deployments"][0]
        self.assertEqual(primary["status"], "PRIMARY")
        self.assertEqual(primary["taskDefinition"], good)
        self.assertEqual(svc["taskDefinition"], good)
        messages = [e["message"] for e in svc["events"]]
        self.assertTrue(any(f"(deployment {failed['id']}) deployment failed: tasks failed to start." in m for m in messages), messages)
        self.assertTrue(any(f"rolling back to deployment {good_id}" in m for m in messages), messages)
        done = self.settle("rb")
        [deployment] = done["deployments"]
        self.assertEqual(deployment["rolloutState"], "COMPLETED")
        self.assertEqual(deployment["taskDefinition"], good)
        self.assertEqual(done["taskDefinition"], good)
        self.assertEqual(done["runningCount"], 2)
        self.assertEqual(done["events"][0]["message"], "(service rb) has reached a steady state.")

    def test_failure_without_rollback_stays_failed(self) -> None:
        good, bad = self.make("norb", enable=True, rollback=False)
        for _ in range(6):
            svc = self.describe("norb")
        primary = svc["deployments"][0]
        self.assertEqual((primary["status"], primary["rolloutState"]), ("PRIMARY", "FAILED"))
        self.assertEqual(primary["taskDefinition"], bad)
        self.assertGreater(primary["failedTasks"], 0)
        self.assertEqual(svc["deployments"][1]["taskDefinition"], good)  # old tasks keep running
        self.assertEqual(svc["runningCount"], 2)

    def test_without_breaker_keeps_trying(self) -> None:
        self.make("nobreaker", enable=False, rollback=False)
        failed_counts = []
        for _ in range(5):
            primary = self.describe("nobreaker")["deployments"][0]
            self.assertEqual(primary["rolloutState"], "IN_PROGRESS")
            failed_counts.append(primary["failedTasks"])
        self.assertGreater(failed_counts[-1], failed_counts[0])

    def test_failing_first_deployment_cannot_roll_back(self) -> None:
        bad = self.register(unique("first"), image="nginx:fail")
        self.create_service(
            "first", bad, deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": True}}
        )
        svc = self.settle("first")
        self.assertEqual([d["rolloutState"] for d in svc["deployments"]], ["FAILED"])


class ServiceTaskTests(EcsCase):
    def service_tasks(self, service: str, desired_status: str = "RUNNING") -> list[dict]:
        arns = self.ecs.list_tasks(cluster=self.cluster, serviceName=service, desiredStatus=desired_status)["taskArns"]
        if not arns:
            return []
        return self.ecs.describe_tasks(cluster=self.cluster, tasks=arns)["tasks"]

    def test_deployments_run_real_tasks(self) -> None:
        family = unique("tasks")
        rev1 = self.register(family)
        self.create_service("svc", rev1)
        self.ecs.run_task(cluster=self.cluster, taskDefinition=rev1)  # a one-off task is no service task
        first = self.describe("svc")
        pending = self.service_tasks("svc")
        self.assertEqual(len(pending), 2)
        self.assertEqual({t["lastStatus"] for t in pending}, {"PENDING"})
        for task in pending:  # the event names the real tasks
            self.assertIn(task["taskArn"].split("/")[-1], first["events"][0]["message"])
        done = self.describe("svc")
        deployment_id = done["deployments"][0]["id"]
        running = self.service_tasks("svc")
        self.assertEqual(len(running), 2)
        for task in running:
            self.assertEqual(task["lastStatus"], "RUNNING")
            self.assertEqual(task["group"], "service:svc")
            self.assertEqual(task["startedBy"], deployment_id)
            self.assertEqual(task["taskDefinitionArn"], rev1)
        # Service tasks do not stop by themselves when described.
        self.assertEqual({t["lastStatus"] for t in self.service_tasks("svc")}, {"RUNNING"})
        cluster = self.ecs.describe_clusters(clusters=[self.cluster])["clusters"][0]
        self.assertEqual(cluster["runningTasksCount"], 2)  # the one-off task was never described: PENDING
        self.assertEqual(cluster["pendingTasksCount"], 1)

        rev2 = self.register(family, image="nginx:1.28")
        self.ecs.update_service(cluster=self.cluster, service="svc", taskDefinition=rev2)
        self.settle("svc")
        running = self.service_tasks("svc")
        self.assertEqual({t["taskDefinitionArn"] for t in running}, {rev2})
        stopped = self.service_tasks("svc", "STOPPED")
        self.assertEqual({t["taskDefinitionArn"] for t in stopped}, {rev1})
        self.assertEqual({t["stopCode"] for t in stopped}, {"ServiceSchedulerInitiated"})

    def test_stopped_service_task_is_replaced(self) -> None:
        self.create_service("svc", self.register(unique("fam")), desired=1)
        self.settle("svc")
        [task] = self.service_tasks("svc")
        self.ecs.stop_task(cluster=self.cluster, task=task["taskArn"])
        stopped = self.ecs.describe_tasks(cluster=self.cluster, tasks=[task["taskArn"]])["tasks"][0]
        self.assertEqual(stopped["lastStatus"], "STOPPED")
        self.assertEqual(stopped["stopCode"], "UserInitiated")
        [replacement] = self.service_tasks("svc")
        self.assertNotEqual(replacement["taskArn"], task["taskArn"])
        self.assertEqual(replacement["lastStatus"], "RUNNING")

    def test_failing_image_leaves_stopped_tasks_with_exit_code_1(self) -> None:
        bad = self.register(unique("bad"), image="nginx:fail-crashloop")
        self.create_service("bad", bad, deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": False}})
        self.settle("bad")
        self.assertEqual(self.service_tasks("bad"), [])
        stopped = self.service_tasks("bad", "STOPPED")
        self.assertGreater(len(stopped), 0)
        for task in stopped:
            self.assertEqual(task["stopCode"], "EssentialContainerExited")
            self.assertEqual(task["containers"][0]["exitCode"], 1)

    def test_scaling_and_deleting_change_the_tasks(self) -> None:
        self.create_service("svc", self.register(unique("fam")), desired=2)
        self.settle("svc")
        self.ecs.update_service(cluster=self.cluster, service="svc", desiredCount=3)
        for _ in range(2):
            self.describe("svc")
        self.assertEqual(len(self.service_tasks("svc")), 3)
        self.ecs.update_service(cluster=self.cluster, service="svc", desiredCount=1)
        for _ in range(2):
            self.describe("svc")
        self.assertEqual(len(self.service_tasks("svc")), 1)
        self.ecs.delete_service(cluster=self.cluster, service="svc", force=True)
        for _ in range(2):
            self.describe("svc")
        self.assertEqual(self.service_tasks("svc"), [])

    def test_awsvpc_service_needs_a_network_configuration(self) -> None:
        td = self.register(unique("vpc"), networkMode="awsvpc")
        err = self.error_of(self.create_service, "nonet", td)
        self.assertEqual(err.response["Error"]["Code"], "InvalidParameterException")


class ConcurrencyTests(EcsCase):
    def test_parallel_clients_get_no_server_errors(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        family = unique("par")
        self.register(family)
        _, subnet = self.default_subnet()
        job = self.ecs.register_task_definition(
            family=unique("parjob"), requiresCompatibilities=["FARGATE"], networkMode="awsvpc",
            cpu="256", memory="512", containerDefinitions=[{"name": "job", "image": "busybox"}],
        )["taskDefinition"]["taskDefinitionArn"]

        def worker(i: int) -> int:
            ecs = client("ecs")
            name = f"par-{i}"
            ecs.create_service(cluster=self.cluster, serviceName=name, taskDefinition=family, desiredCount=2)
            for _ in range(10):
                ecs.describe_services(cluster=self.cluster, services=[name])
                ecs.list_tasks(cluster=self.cluster)
                task = ecs.run_task(
                    cluster=self.cluster, taskDefinition=job, launchType="FARGATE",
                    networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet]}},
                )["tasks"][0]
                ecs.describe_tasks(cluster=self.cluster, tasks=[task["taskArn"]])
                ecs.describe_clusters(clusters=[self.cluster])
            ecs.update_service(cluster=self.cluster, service=name, forceNewDeployment=True)
            return len(ecs.describe_services(cluster=self.cluster, services=[name])["services"])

        with ThreadPoolExecutor(max_workers=6) as pool:
            results = list(pool.map(worker, range(6), timeout=120))
        self.assertEqual(results, [1] * 6)


class ServiceLifecycleTests(EcsCase):
    def test_create_twice_is_not_idempotent(self) -> None:
        td = self.register(unique("fam"))
        self.create_service("dup", td)
        err = self.error_of(self.create_service, "dup", td)
        self.assertEqual(err.response["Error"]["Code"], "InvalidParameterException")
        self.assertEqual(err.response["Error"]["Message"], "Creation of service was not idempotent.")
        self.assertEqual(err.response["ResponseMetadata"]["HTTPStatusCode"], 400)

    def test_create_retried_with_its_client_token_returns_the_service(self) -> None:
        td = self.register(unique("fam"))
        first = self.create_service("retried", td, clientToken="token-1")
        self.settle("retried")
        again = self.create_service("retried", td, clientToken="token-1")
        self.assertEqual(again["serviceArn"], first["serviceArn"])
        self.assertEqual(again["createdAt"], first["createdAt"])
        self.assertEqual(len(self.ecs.list_services(cluster=self.cluster)["serviceArns"]), 1)
        self.assertEqual([d["rolloutState"] for d in self.describe("retried")["deployments"]], ["COMPLETED"])
        # The same token with other parameters, or another token, is not a retry.
        for kwargs in ({"clientToken": "token-1", "desired": 3}, {"clientToken": "token-2"}):
            err = self.error_of(self.create_service, "retried", td, **kwargs)
            self.assertEqual(err.response["Error"]["Code"], "InvalidParameterException")
            self.assertEqual(err.response["Error"]["Message"], "Creation of service was not idempotent.")
        self.assertEqual(self.describe("retried")["desiredCount"], 2)

    def test_delete_drains_then_inactive_and_can_be_recreated(self) -> None:
        td = self.register(unique("fam"))
        self.create_service("gone", td)
        self.settle("gone")
        err = self.error_of(self.ecs.delete_service, cluster=self.cluster, service="gone")
        self.assertEqual(err.response["Error"]["Code"], "InvalidParameterException")
        deleted = self.ecs.delete_service(cluster=self.cluster, service="gone", force=True)["service"]
        self.assertEqual(deleted["status"], "DRAINING")
        self.assertEqual(deleted["desiredCount"], 0)
        self.assertEqual(self.ecs.list_services(cluster=self.cluster)["serviceArns"], [])
        statuses = [self.describe("gone")["status"] for _ in range(3)]
        self.assertEqual(statuses[-1], "INACTIVE")
        self.assertEqual(self.describe("gone")["runningCount"], 0)
        err = self.error_of(self.ecs.update_service, cluster=self.cluster, service="gone", desiredCount=1)
        self.assertEqual(err.response["Error"]["Code"], "ServiceNotActiveException")
        again = self.create_service("gone", td)
        self.assertEqual(again["status"], "ACTIVE")
        self.assertEqual(len(self.ecs.list_services(cluster=self.cluster)["serviceArns"]), 1)

    def test_list_services_pages(self) -> None:
        td = self.register(unique("fam"))
        names = [f"svc-{i:02d}" for i in range(12)]
        for name in names:
            self.create_service(name, td, desired=0)
        first = self.ecs.list_services(cluster=self.cluster)
        self.assertEqual(len(first["serviceArns"]), 10)
        self.assertIn("nextToken", first)
        second = self.ecs.list_services(cluster=self.cluster, nextToken=first["nextToken"])
        self.assertEqual(len(second["serviceArns"]), 2)
        self.assertNotIn("nextToken", second)
        arns = first["serviceArns"] + second["serviceArns"]
        self.assertEqual(sorted(a.split("/")[-1] for a in arns), names)
        paged = []
        for page in self.ecs.get_paginator("list_services").paginate(
            cluster=self.cluster, PaginationConfig={"PageSize": 5}
        ):
            self.assertLessEqual(len(page["serviceArns"]), 5)
            paged += page["serviceArns"]
        self.assertEqual(paged, arns)
        err = self.error_of(self.ecs.list_services, cluster=self.cluster, maxResults=101)
        self.assertEqual(err.response["Error"]["Code"], "InvalidParameterException")

    def test_service_tags(self) -> None:
        svc = self.create_service("tagged", self.register(unique("fam")), tags=[{"key": "team", "value": "a"}])
        self.assertNotIn("tags", self.describe("tagged"))
        self.assertEqual(self.describe("tagged", include=["TAGS"])["tags"], [{"key": "team", "value": "a"}])
        self.ecs.tag_resource(resourceArn=svc["serviceArn"], tags=[{"key": "env", "value": "dev"}])
        tags = {t["key"]: t["value"] for t in self.describe("tagged", include=["TAGS"])["tags"]}
        self.assertEqual(tags, {"team": "a", "env": "dev"})
        self.ecs.untag_resource(resourceArn=svc["serviceArn"], tagKeys=["team"])
        self.assertEqual(self.describe("tagged", include=["TAGS"])["tags"], [{"key": "env", "value": "dev"}])
        listed = self.ecs.list_tags_for_resource(resourceArn=svc["serviceArn"])["tags"]
        self.assertEqual(listed, [{"key": "env", "value": "dev"}])

    def test_fargate_service_without_security_groups(self) -> None:
        _, subnet = self.default_subnet()
        td = self.register(
            unique("fg"),
            requiresCompatibilities=["FARGATE"],
            networkMode="awsvpc",
            cpu="256",
            memory="512",
            container={"memory": None},  # task-level memory only
        )
        svc = self.create_service(
            "fargate", td, launchType="FARGATE", networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet]}}
        )
        self.assertEqual(svc["launchType"], "FARGATE")
        self.assertEqual(svc["platformVersion"], "LATEST")
        self.assertEqual(svc["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"], "DISABLED")
        self.assertEqual(self.settle("fargate")["deployments"][0]["rolloutState"], "COMPLETED")


class ServiceSettingsTests(EcsCase):
    """The service settings bosun reads back to detect drift (issue 15): a capacity
    provider strategy, ECS Exec, the grace period, managed tags and tag propagation
    round-trip through CreateService, UpdateService and DescribeServices."""

    SPOT = [
        {"capacityProvider": "FARGATE_SPOT", "weight": 3, "base": 0},
        {"capacityProvider": "FARGATE", "weight": 1, "base": 1},
    ]

    def fargate(self) -> tuple[str, dict]:
        _, subnet = self.default_subnet()
        td = self.register(
            unique("spot"), requiresCompatibilities=["FARGATE"], networkMode="awsvpc", cpu="256", memory="512"
        )
        network = {"awsvpcConfiguration": {"subnets": [subnet]}}
        return td, network

    def test_create_keeps_every_setting(self) -> None:
        td, network = self.fargate()
        self.create_service(
            "spot",
            td,
            desired=1,
            networkConfiguration=network,
            capacityProviderStrategy=self.SPOT,
            enableExecuteCommand=True,
            enableECSManagedTags=True,
            propagateTags="TASK_DEFINITION",
            healthCheckGracePeriodSeconds=45,
        )
        svc = self.describe("spot")
        self.assertEqual(svc["capacityProviderStrategy"], self.SPOT)
        self.assertNotIn("launchType", svc)  # a strategy or a launch type, never both
        self.assertIs(svc["enableExecuteCommand"], True)
        self.assertIs(svc["enableECSManagedTags"], True)
        self.assertEqual(svc["propagateTags"], "TASK_DEFINITION")
        self.assertEqual(svc["healthCheckGracePeriodSeconds"], 45)

    def test_unset_settings_read_as_ecs_defaults(self) -> None:
        self.create_service("plain", self.register(unique("plain")), desired=1, launchType="EC2")
        svc = self.describe("plain")
        self.assertEqual(svc["launchType"], "EC2")
        self.assertFalse(svc.get("capacityProviderStrategy"))
        self.assertIs(svc["enableExecuteCommand"], False)
        self.assertIs(svc["enableECSManagedTags"], False)
        self.assertIn(svc.get("propagateTags", "NONE"), ("NONE",))
        self.assertIn(svc.get("healthCheckGracePeriodSeconds", 0), (0,))

    def test_both_a_launch_type_and_a_strategy_are_refused(self) -> None:
        td, network = self.fargate()
        err = self.error_of(
            self.create_service,
            "both",
            td,
            networkConfiguration=network,
            launchType="FARGATE",
            capacityProviderStrategy=self.SPOT,
        )
        self.assertEqual(err.response["Error"]["Code"], "InvalidParameterException")

    def test_update_changes_each_setting_and_moves_a_launch_type_to_a_strategy(self) -> None:
        td, network = self.fargate()
        self.create_service("moved", td, desired=1, networkConfiguration=network, launchType="FARGATE")
        self.settle("moved")
        self.ecs.update_service(
            cluster=self.cluster,
            service="moved",
            capacityProviderStrategy=self.SPOT,
            forceNewDeployment=True,
            enableExecuteCommand=True,
            enableECSManagedTags=True,
            propagateTags="SERVICE",
            healthCheckGracePeriodSeconds=30,
        )
        svc = self.describe("moved")
        self.assertEqual(svc["capacityProviderStrategy"], self.SPOT)
        self.assertNotIn("launchType", svc)
        self.assertIs(svc["enableExecuteCommand"], True)
        self.assertIs(svc["enableECSManagedTags"], True)
        self.assertEqual(svc["propagateTags"], "SERVICE")
        self.assertEqual(svc["healthCheckGracePeriodSeconds"], 30)
        # And back off, field by field.
        self.ecs.update_service(
            cluster=self.cluster, service="moved", enableExecuteCommand=False, healthCheckGracePeriodSeconds=0
        )
        svc = self.describe("moved")
        self.assertIs(svc["enableExecuteCommand"], False)
        self.assertEqual(svc["healthCheckGracePeriodSeconds"], 0)
        self.assertEqual(svc["propagateTags"], "SERVICE")


class ServiceConnectTests(EcsCase):
    """Service Connect round-trips through CreateService, UpdateService and the PRIMARY
    deployment of DescribeServices (where ECS reports it), and ECS's checks of the
    namespace and the port names hold."""

    def setUp(self) -> None:
        super().setUp()
        _, self.subnet = self.default_subnet()
        # An HTTP namespace (Service Connect takes any kind): moto allows one private DNS
        # namespace per VPC, and the tests share the default VPC.
        self.namespace = unique("sc")
        client("servicediscovery").create_http_namespace(Name=self.namespace)
        self.td = self.register(
            unique("sc"),
            networkMode="awsvpc",
            container={"portMappings": [{"containerPort": 8080, "name": "http", "appProtocol": "http"}]},
        )

    def connect(self, **kwargs) -> dict:
        return {"enabled": True, "namespace": self.namespace, **kwargs}

    def primary(self, service: str) -> dict:
        return [d for d in self.describe(service)["deployments"] if d["status"] == "PRIMARY"][0]

    def create(self, name: str, conf: dict) -> dict:
        network = {"awsvpcConfiguration": {"subnets": [self.subnet]}}
        return self.create_service(
            name, self.td, desired=1, networkConfiguration=network, serviceConnectConfiguration=conf
        )

    def test_create_and_update_round_trip_on_the_primary_deployment(self) -> None:
        offered = [{"portName": "http", "discoveryName": "api", "clientAliases": [{"port": 80, "dnsName": "api.internal"}]}]
        self.create("api", self.connect(services=offered))
        got = self.primary("api")["serviceConnectConfiguration"]
        self.assertEqual((got["enabled"], got["namespace"], got["services"]), (True, self.namespace, offered))
        td = self.ecs.describe_task_definition(taskDefinition=self.td)["taskDefinition"]
        mapping = td["containerDefinitions"][0]["portMappings"][0]
        self.assertEqual((mapping["name"], mapping["appProtocol"]), ("http", "http"))
        self.settle("api")
        moved = [{**offered[0], "clientAliases": [{"port": 8080, "dnsName": "api.internal"}]}]
        self.ecs.update_service(
            cluster=self.cluster, service="api", serviceConnectConfiguration=self.connect(services=moved)
        )
        self.assertEqual(self.primary("api")["serviceConnectConfiguration"]["services"], moved)
        self.assertEqual(self.primary("api")["taskDefinition"], self.td, "no new revision")
        self.settle("api")
        self.ecs.update_service(cluster=self.cluster, service="api", serviceConnectConfiguration={"enabled": False})
        self.assertIs(self.primary("api")["serviceConnectConfiguration"]["enabled"], False)

    def test_a_service_without_it_reports_none(self) -> None:
        self.create_service("plain", self.register(unique("plain")), desired=1, launchType="EC2")
        self.assertNotIn("serviceConnectConfiguration", self.primary("plain"))

    def test_an_unknown_namespace_or_port_name_is_refused(self) -> None:
        err = self.error_of(self.create, "nons", {"enabled": True, "namespace": "missing.sd"})
        self.assertEqual(err.response["Error"]["Code"], "InvalidParameterException")
        self.assertIn("missing.sd", err.response["Error"]["Message"])
        err = self.error_of(self.create, "noport", self.connect(services=[{"portName": "grpc"}]))
        self.assertEqual(err.response["Error"]["Code"], "InvalidParameterException")
        self.assertIn("grpc", err.response["Error"]["Message"])


class TaskDefinitionTests(EcsCase):
    def test_list_task_definitions_pages_filters_and_sorts(self) -> None:
        family = unique("paged")
        arns = [self.register(family) for _ in range(5)]
        other = self.register(unique("zz-other"))
        first = self.ecs.list_task_definitions(familyPrefix=family, maxResults=2)
        self.assertEqual(first["taskDefinitionArns"], arns[:2])
        second = self.ecs.list_task_definitions(familyPrefix=family, maxResults=2, nextToken=first["nextToken"])
        self.assertEqual(second["taskDefinitionArns"], arns[2:4])
        third = self.ecs.list_task_definitions(familyPrefix=family, maxResults=2, nextToken=second["nextToken"])
        self.assertEqual(third["taskDefinitionArns"], arns[4:])
        self.assertNotIn("nextToken", third)
        desc = self.ecs.list_task_definitions(familyPrefix=family, sort="DESC")["taskDefinitionArns"]
        self.assertEqual(desc, list(reversed(arns)))
        everything = []
        for page in self.ecs.get_paginator("list_task_definitions").paginate(PaginationConfig={"PageSize": 3}):
            everything += page["taskDefinitionArns"]
        self.assertIn(other, everything)
        self.assertTrue(set(arns) <= set(everything))
        self.ecs.deregister_task_definition(taskDefinition=arns[4])
        active = self.ecs.list_task_definitions(familyPrefix=family)["taskDefinitionArns"]
        self.assertEqual(active, arns[:4])
        inactive = self.ecs.list_task_definitions(familyPrefix=family, status="INACTIVE")["taskDefinitionArns"]
        self.assertEqual(inactive, [arns[4]])
        # The family alone now resolves to the latest ACTIVE revision.
        latest = self.ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]
        self.assertEqual(latest["taskDefinitionArn"], arns[3])
        self.assertIn("registeredAt", latest)

    def test_list_task_definition_families(self) -> None:
        prefix = unique("famlist")
        families = [f"{prefix}-{i}" for i in range(3)]
        for family in families:
            self.register(family)
        page = self.ecs.list_task_definition_families(familyPrefix=prefix, maxResults=2)
        self.assertEqual(page["families"], families[:2])
        rest = self.ecs.list_task_definition_families(familyPrefix=prefix, nextToken=page["nextToken"])
        self.assertEqual(rest["families"], families[2:])
        self.ecs.deregister_task_definition(taskDefinition=f"{families[0]}:1")
        active = self.ecs.list_task_definition_families(familyPrefix=prefix)["families"]
        self.assertEqual(active, families[1:])
        self.assertEqual(
            self.ecs.list_task_definition_families(familyPrefix=prefix, status="INACTIVE")["families"],
            families[:1],
        )

    def test_container_settings_runtime_platform_and_ephemeral_storage_round_trip(self) -> None:
        # bosun reads these back to detect drift (issue 15): stock moto stores and
        # returns them as sent, so the realism layer needs no patch; this pins that.
        family = unique("process")
        container = {
            "command": ["nginx", "-g", "daemon off;"],
            "entryPoint": ["/docker-entrypoint.sh"],
            "workingDirectory": "/srv",
            "user": "101:101",
            "stopTimeout": 90,
            "readonlyRootFilesystem": True,
            "ulimits": [{"name": "nofile", "softLimit": 4096, "hardLimit": 8192}],
            "dockerLabels": {"app": "api"},
            "linuxParameters": {"initProcessEnabled": True},
        }
        self.register(
            family,
            container=container,
            requiresCompatibilities=["FARGATE"],
            networkMode="awsvpc",
            cpu="256",
            memory="512",
            runtimePlatform={"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
            ephemeralStorage={"sizeInGiB": 30},
        )
        td = self.ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]
        live = td["containerDefinitions"][0]
        for key, value in container.items():
            self.assertEqual(live.get(key), value, key)
        self.assertEqual(td["runtimePlatform"], {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"})
        self.assertEqual(td["ephemeralStorage"], {"sizeInGiB": 30})
        # Unset, they are absent, not defaulted: bosun's "unset" reads back as unset.
        other = unique("plain")
        self.register(other)
        plain = self.ecs.describe_task_definition(taskDefinition=other)["taskDefinition"]
        self.assertNotIn("runtimePlatform", plain)
        self.assertNotIn("ephemeralStorage", plain)
        for key in container:
            self.assertNotIn(key, plain["containerDefinitions"][0], key)

    def test_task_definition_tags(self) -> None:
        family = unique("tags")
        self.register(family, tags=[{"key": "owner", "value": "bosun"}])
        response = self.ecs.describe_task_definition(taskDefinition=family, include=["TAGS"])
        self.assertEqual(response["tags"], [{"key": "owner", "value": "bosun"}])


class RunTaskTests(EcsCase):
    def fargate_definition(self, image: str = "busybox:1.36") -> str:
        # No container-level memory: only task-level cpu/memory, as Fargate allows.
        return self.ecs.register_task_definition(
            family=unique("job"),
            requiresCompatibilities=["FARGATE"],
            networkMode="awsvpc",
            cpu="256",
            memory="512",
            containerDefinitions=[{"name": "job", "image": image}],
        )["taskDefinition"]["taskDefinitionArn"]

    def run_fargate(self, task_definition: str, subnet: str, **overrides) -> dict:
        kwargs = {}
        if overrides:
            kwargs["overrides"] = {"containerOverrides": [{"name": "job", **overrides}]}
        response = self.ecs.run_task(
            cluster=self.cluster,
            taskDefinition=task_definition,
            launchType="FARGATE",
            networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet]}},  # no securityGroups
            **kwargs,
        )
        self.assertEqual(response["failures"], [])
        return response["tasks"][0]

    def wait_stopped(self, task_arn: str) -> dict:
        for _ in range(10):
            task = self.ecs.describe_tasks(cluster=self.cluster, tasks=[task_arn])["tasks"][0]
            if task["lastStatus"] == "STOPPED":
                return task
        self.fail(f"task {task_arn} did not stop within 10 describes")

    def test_lifecycle_and_exit_codes(self) -> None:
        _, subnet = self.default_subnet()
        td = self.fargate_definition()
        task = self.run_fargate(td, subnet, command=["sh", "-c", "exit 3"])
        self.assertEqual(task["lastStatus"], "PROVISIONING")
        self.assertEqual(task["desiredStatus"], "RUNNING")
        self.assertEqual(task["launchType"], "FARGATE")
        running = self.ecs.describe_tasks(cluster=self.cluster, tasks=[task["taskArn"]])["tasks"][0]
        self.assertEqual(running["lastStatus"], "RUNNING")
        self.assertIn("startedAt", running)
        listed = self.ecs.list_tasks(cluster=self.cluster)["taskArns"]
        self.assertIn(task["taskArn"], listed)
        stopped = self.ecs.describe_tasks(cluster=self.cluster, tasks=[task["taskArn"]])["tasks"][0]
        self.assertEqual(stopped["lastStatus"], "STOPPED")
        self.assertEqual(stopped["desiredStatus"], "STOPPED")
        self.assertEqual(stopped["stopCode"], "EssentialContainerExited")
        self.assertIn("stoppedAt", stopped)
        self.assertEqual(stopped["containers"][0]["exitCode"], 3)
        self.assertEqual(stopped["containers"][0]["taskArn"], task["taskArn"])
        self.assertNotIn(task["taskArn"], self.ecs.list_tasks(cluster=self.cluster)["taskArns"])
        self.assertIn(task["taskArn"], self.ecs.list_tasks(cluster=self.cluster, desiredStatus="STOPPED")["taskArns"])

        env_task = self.run_fargate(td, subnet, environment=[{"name": "BOSUN_EMULATOR_EXIT_CODE", "value": "7"}])
        self.assertEqual(self.wait_stopped(env_task["taskArn"])["containers"][0]["exitCode"], 7)
        ok_task = self.run_fargate(td, subnet, command=["./migrate", "--yes"])
        self.assertEqual(self.wait_stopped(ok_task["taskArn"])["containers"][0]["exitCode"], 0)
        failing = self.run_fargate(self.fargate_definition("busybox:fail"), subnet)
        self.assertEqual(self.wait_stopped(failing["taskArn"])["containers"][0]["exitCode"], 1)

    def test_vpc_without_dns_hostnames(self) -> None:
        vpc = self.ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
        attribute = self.ec2.describe_vpc_attribute(VpcId=vpc, Attribute="enableDnsHostnames")
        self.assertFalse(attribute["EnableDnsHostnames"]["Value"])
        subnet = self.ec2.create_subnet(VpcId=vpc, CidrBlock="10.77.1.0/24")["Subnet"]["SubnetId"]
        task = self.run_fargate(self.fargate_definition(), subnet)
        details = {d["name"]: d["value"] for d in task["attachments"][0]["details"]}
        self.assertEqual(details["subnetId"], subnet)
        self.assertNotIn("privateDnsName", details)
        self.assertEqual(self.wait_stopped(task["taskArn"])["containers"][0]["exitCode"], 0)

    def test_ec2_launch_type_without_container_instances(self) -> None:
        td = self.ecs.register_task_definition(
            family=unique("ec2job"),
            memory="256",  # task-level memory only
            containerDefinitions=[{"name": "job", "image": "busybox:1.36", "command": ["exit", "4"]}],
        )["taskDefinition"]["taskDefinitionArn"]
        response = self.ecs.run_task(cluster=self.cluster, taskDefinition=td, launchType="EC2")
        [task] = response["tasks"]
        self.assertEqual(task["launchType"], "EC2")
        self.assertEqual(self.wait_stopped(task["taskArn"])["containers"][0]["exitCode"], 4)
        default_launch = self.ecs.run_task(cluster=self.cluster, taskDefinition=td)["tasks"][0]
        self.assertEqual(default_launch["launchType"], "EC2")

    def test_stop_task(self) -> None:
        _, subnet = self.default_subnet()
        task = self.run_fargate(self.fargate_definition(), subnet)
        stopping = self.ecs.stop_task(cluster=self.cluster, task=task["taskArn"], reason="operator said so")["task"]
        self.assertEqual(stopping["desiredStatus"], "STOPPED")
        stopped = self.wait_stopped(task["taskArn"])
        self.assertEqual(stopped["stopCode"], "UserInitiated")
        self.assertEqual(stopped["stoppedReason"], "operator said so")
        err = self.error_of(self.ecs.stop_task, cluster=self.cluster, task="0" * 32)
        self.assertEqual(err.response["Error"]["Code"], "InvalidParameterException")

    def test_describe_missing_task(self) -> None:
        response = self.ecs.describe_tasks(cluster=self.cluster, tasks=["0" * 32])
        self.assertEqual(response["tasks"], [])
        self.assertEqual(response["failures"][0]["reason"], "MISSING")


class AutoscalingTests(EcsCase):
    """Application Auto Scaling keeps a target's tags, and deregistering deletes what is on it."""

    def test_tags_round_trip_and_deregistering_deletes_policies_and_actions(self) -> None:
        aas = client("application-autoscaling")
        td = self.register(unique("f"))
        self.create_service("web", td, desired=1)
        rid = f"service/{self.cluster}/web"
        common = {"ServiceNamespace": "ecs", "ResourceId": rid, "ScalableDimension": "ecs:service:DesiredCount"}
        arn = aas.register_scalable_target(MinCapacity=1, MaxCapacity=4, Tags={"bosun:managed-by": "bosun"}, **common)[
            "ScalableTargetARN"
        ]
        self.assertEqual(aas.list_tags_for_resource(ResourceARN=arn)["Tags"], {"bosun:managed-by": "bosun"})
        # An update keeps the tags it does not name; TagResource adds to them.
        aas.register_scalable_target(MinCapacity=2, MaxCapacity=5, **common)
        aas.tag_resource(ResourceARN=arn, Tags={"team": "web"})
        self.assertEqual(
            aas.list_tags_for_resource(ResourceARN=arn)["Tags"], {"bosun:managed-by": "bosun", "team": "web"}
        )
        aas.put_scaling_policy(
            PolicyName="cpu",
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": 60.0,
                "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
                "ScaleInCooldown": 120,
            },
            **common,
        )
        aas.put_scheduled_action(
            ScheduledActionName="night", Schedule="cron(0 22 * * ? *)", ScalableTargetAction={"MinCapacity": 1}, **common
        )
        policy = aas.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=rid)["ScalingPolicies"][0]
        self.assertEqual(policy["TargetTrackingScalingPolicyConfiguration"]["ScaleInCooldown"], 120)

        aas.deregister_scalable_target(**common)
        self.assertEqual(aas.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=rid)["ScalingPolicies"], [])
        self.assertEqual(aas.describe_scheduled_actions(ServiceNamespace="ecs", ResourceId=rid)["ScheduledActions"], [])
        err = self.error_of(aas.deregister_scalable_target, **common)
        self.assertEqual(err.response["Error"]["Code"], "ObjectNotFoundException")
        err = self.error_of(aas.list_tags_for_resource, ResourceARN=arn)
        self.assertEqual(err.response["Error"]["Code"], "ResourceNotFoundException")


class CloudMapTests(unittest.TestCase):
    def setUp(self) -> None:
        self.sd = client("servicediscovery")
        self.ec2 = client("ec2")

    def namespace(self) -> str:
        op = self.sd.create_http_namespace(Name=unique("ns"))["OperationId"]
        return self.sd.get_operation(OperationId=op)["Operation"]["Targets"]["NAMESPACE"]

    def create(self, name: str, namespace: str, request_id: str) -> dict:
        return self.sd.create_service(
            Name=name,
            NamespaceId=namespace,
            CreatorRequestId=request_id,
            DnsConfig={"RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": "A", "TTL": 30}]},
        )["Service"]

    def listed(self, **kwargs) -> list[str]:
        """Ids of the services ListServices returns, every page."""
        services = []
        for page in self.sd.get_paginator("list_services").paginate(**kwargs):
            services += [s["Id"] for s in page["Services"]]
        return sorted(services)

    def test_list_services_honours_the_namespace_filter_and_pages(self) -> None:
        a, b = self.namespace(), self.namespace()
        in_a = sorted([self.create("api", a, unique("r"))["Id"], self.create("web", a, unique("r"))["Id"]])
        in_b = [self.create("api", b, unique("r"))["Id"]]
        only_a = [{"Name": "NAMESPACE_ID", "Values": [a], "Condition": "EQ"}]
        self.assertEqual(self.listed(Filters=only_a), in_a)
        self.assertEqual(self.listed(Filters=[{"Name": "NAMESPACE_ID", "Values": [b]}]), in_b)
        both = [{"Name": "NAMESPACE_ID", "Values": [a, b], "Condition": "IN"}]
        self.assertEqual(self.listed(Filters=both), sorted(in_a + in_b))
        first = self.sd.list_services(Filters=only_a, MaxResults=1)
        self.assertEqual(len(first["Services"]), 1)
        self.assertIn("NextToken", first)
        self.assertEqual(self.listed(Filters=only_a, PaginationConfig={"PageSize": 1}), in_a)
        err = self.error_of(self.sd.list_services, Filters=[{"Name": "NAMESPACE_ID", "Values": [a, b]}])
        self.assertEqual(err.response["Error"]["Code"], "InvalidInput")

    def test_create_service_retried_with_its_creator_request_id_returns_the_service(self) -> None:
        ns, other = self.namespace(), self.namespace()
        first = self.create("users", ns, "request-1")
        again = self.create("users", ns, "request-1")
        self.assertEqual(again["Id"], first["Id"])
        self.assertEqual(self.listed(Filters=[{"Name": "NAMESPACE_ID", "Values": [ns]}]), [first["Id"]])
        # Another request for the name is refused, and says which service has it.
        err = self.error_of(self.create, "users", ns, "request-2")
        self.assertEqual(err.response["Error"]["Code"], "ServiceAlreadyExists")
        self.assertEqual(err.response["ServiceId"], first["Id"])
        self.assertEqual(err.response["CreatorRequestId"], "request-1")
        # The name is free in another namespace.
        self.assertNotEqual(self.create("users", other, "request-3")["Id"], first["Id"])

    def test_namespace_create_retried_with_its_creator_request_id_is_the_same_operation(self) -> None:
        vpc = self.ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
        name = f"{unique('ns')}.local"
        first = self.sd.create_private_dns_namespace(Name=name, Vpc=vpc, CreatorRequestId="ns-request")
        again = self.sd.create_private_dns_namespace(Name=name, Vpc=vpc, CreatorRequestId="ns-request")
        self.assertEqual(again["OperationId"], first["OperationId"])
        names = [n["Name"] for n in self.sd.list_namespaces()["Namespaces"]]
        self.assertEqual(names.count(name), 1)

    def error_of(self, call, *args, **kwargs) -> ClientError:
        with self.assertRaises(ClientError) as ctx:
            call(*args, **kwargs)
        return ctx.exception


class ElbIdempotencyTests(unittest.TestCase):
    """CreateLoadBalancer, CreateTargetGroup and CreateListener with the same settings
    return the existing resource; with other settings they are Duplicate... errors."""

    def setUp(self) -> None:
        self.elb = client("elbv2")
        ec2 = client("ec2")
        self.vpc = ec2.create_vpc(CidrBlock="10.78.0.0/16")["Vpc"]["VpcId"]
        self.subnets = [
            ec2.create_subnet(VpcId=self.vpc, CidrBlock=f"10.78.{i}.0/24", AvailabilityZone=az)["Subnet"]["SubnetId"]
            for i, az in enumerate(["us-east-1a", "us-east-1b"])
        ]

    def target_group(self, name: str, port: int = 80) -> dict:
        return self.elb.create_target_group(
            Name=name, Protocol="HTTP", Port=port, VpcId=self.vpc, TargetType="ip", HealthCheckPath="/health"
        )["TargetGroups"][0]

    def load_balancer(self, name: str, scheme: str = "internet-facing") -> dict:
        return self.elb.create_load_balancer(Name=name, Subnets=self.subnets, Scheme=scheme, Type="application")[
            "LoadBalancers"
        ][0]

    def listener(self, lb: str, tg: str, port: int = 80) -> dict:
        return self.elb.create_listener(
            LoadBalancerArn=lb,
            Protocol="HTTP",
            Port=port,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
        )["Listeners"][0]

    def code(self, call, *args, **kwargs) -> str:
        with self.assertRaises(ClientError) as ctx:
            call(*args, **kwargs)
        return ctx.exception.response["Error"]["Code"]

    def test_target_group(self) -> None:
        name = unique("tg")
        first = self.target_group(name)
        self.assertEqual(self.target_group(name)["TargetGroupArn"], first["TargetGroupArn"])
        self.assertEqual(len(self.elb.describe_target_groups(Names=[name])["TargetGroups"]), 1)
        self.assertEqual(self.code(self.target_group, name, port=8080), "DuplicateTargetGroupName")

    def test_load_balancer_and_listener(self) -> None:
        name = unique("lb")
        lb = self.load_balancer(name)
        lb_arn = lb["LoadBalancerArn"]
        self.assertEqual(self.load_balancer(name)["LoadBalancerArn"], lb_arn)
        self.assertEqual(len(self.elb.describe_load_balancers(Names=[name])["LoadBalancers"]), 1)
        self.assertEqual(self.code(self.load_balancer, name, scheme="internal"), "DuplicateLoadBalancerName")

        tg, other = self.target_group(unique("tg"))["TargetGroupArn"], self.target_group(unique("tg"))["TargetGroupArn"]
        first = self.listener(lb_arn, tg)
        self.assertEqual(self.listener(lb_arn, tg)["ListenerArn"], first["ListenerArn"])
        self.assertEqual(len(self.elb.describe_listeners(LoadBalancerArn=lb_arn)["Listeners"]), 1)
        self.assertEqual(self.code(self.listener, lb_arn, other), "DuplicateListener")
        self.assertNotEqual(self.listener(lb_arn, tg, port=8080)["ListenerArn"], first["ListenerArn"])
        self.assertEqual(len(self.elb.describe_listeners(LoadBalancerArn=lb_arn)["Listeners"]), 2)


class PreflightReadTests(unittest.TestCase):
    """The reads bosun's preflight check makes (crates/aws/src/preflight.rs), as stock moto
    serves them: lookups by filter that return only what exists, the not-found errors it
    tells "missing" by, and the states it reports (a certificate not ISSUED, a secret
    scheduled for deletion)."""

    def test_ec2_filters_return_only_what_exists_with_its_vpc(self) -> None:
        ec2 = client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.77.1.0/24")["Subnet"]["SubnetId"]
        group = ec2.create_security_group(VpcId=vpc, GroupName=unique("sg"), Description="x")["GroupId"]
        subnets = ec2.describe_subnets(
            Filters=[{"Name": "subnet-id", "Values": [subnet, "subnet-0000000000000dead"]}])["Subnets"]
        self.assertEqual([(s["SubnetId"], s["VpcId"]) for s in subnets], [(subnet, vpc)])
        groups = ec2.describe_security_groups(
            Filters=[{"Name": "group-id", "Values": [group, "sg-0000000000000dead"]}])["SecurityGroups"]
        self.assertEqual([(g["GroupId"], g["VpcId"]) for g in groups], [(group, vpc)])
        vpcs = ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [vpc, "vpc-0000000000000dead"]}])["Vpcs"]
        self.assertEqual([v["VpcId"] for v in vpcs], [vpc])

    def test_acm_status_and_not_found(self) -> None:
        acm = client("acm")
        requested = acm.request_certificate(DomainName=f"{unique('www')}.example.com")["CertificateArn"]
        self.assertEqual(acm.describe_certificate(CertificateArn=requested)["Certificate"]["Status"],
                         "PENDING_VALIDATION")
        missing = requested.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000"
        with self.assertRaises(ClientError) as ctx:
            acm.describe_certificate(CertificateArn=missing)
        self.assertEqual(ctx.exception.response["Error"]["Code"], "ResourceNotFoundException")

    def test_iam_get_role_by_name_whatever_its_path(self) -> None:
        iam = client("iam")
        name = unique("role")
        iam.create_role(RoleName=name, Path="/service/", AssumeRolePolicyDocument="{}")
        self.assertTrue(iam.get_role(RoleName=name)["Role"]["Arn"].endswith(f":role/service/{name}"))
        with self.assertRaises(ClientError) as ctx:
            iam.get_role(RoleName=unique("missing"))
        self.assertEqual(ctx.exception.response["Error"]["Code"], "NoSuchEntity")

    def test_secret_metadata_and_deletion(self) -> None:
        sm = client("secretsmanager")
        arn = sm.create_secret(Name=unique("db"), SecretString="never read")["ARN"]
        self.assertNotIn("DeletedDate", sm.describe_secret(SecretId=arn))
        with self.assertRaises(ClientError) as ctx:
            sm.describe_secret(SecretId=arn[:-6] + "zzzzzz")
        self.assertEqual(ctx.exception.response["Error"]["Code"], "ResourceNotFoundException")
        sm.delete_secret(SecretId=arn)
        self.assertIn("DeletedDate", sm.describe_secret(SecretId=arn))

    def test_parameters_by_name_equals(self) -> None:
        ssm = client("ssm")
        tree, flat = f"/{unique('app')}/db", unique("flat")
        ssm.put_parameter(Name=tree, Value="never read", Type="SecureString")
        ssm.put_parameter(Name=flat, Value="never read", Type="String")
        found = ssm.describe_parameters(
            ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [tree, flat, f"/{flat}", "/nope"]}],
            MaxResults=50,
        )["Parameters"]
        self.assertEqual(sorted(p["Name"] for p in found), sorted([tree, flat]))


class SqsLongPollTests(unittest.TestCase):
    """The job queue's long poll: prompt delivery, no busy wait."""

    def setUp(self) -> None:
        self.sqs = client("sqs")
        self.url = self.sqs.create_queue(
            QueueName=unique("jobs") + ".fifo", Attributes={"FifoQueue": "true"}
        )["QueueUrl"]

    def send(self, group: str, body: str) -> None:
        self.sqs.send_message(QueueUrl=self.url, MessageBody=body, MessageGroupId=group,
                              MessageDeduplicationId=unique("d"))

    def test_a_freed_message_group_is_delivered_within_the_running_poll(self) -> None:
        self.send("a", "a1")
        self.send("a", "a2")
        first = self.sqs.receive_message(QueueUrl=self.url, WaitTimeSeconds=0)["Messages"]
        self.assertEqual([m["Body"] for m in first], ["a1"])
        import threading
        got: list = []
        poll = threading.Thread(target=lambda: got.append(
            (self.sqs.receive_message(QueueUrl=self.url, WaitTimeSeconds=10), time.monotonic())))
        poll.start()
        time.sleep(0.5)  # the poll is waiting: group a has a1 in flight
        deleted = time.monotonic()
        self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=first[0]["ReceiptHandle"])
        poll.join(timeout=15)
        response, at = got[0]
        self.assertEqual([m["Body"] for m in response["Messages"]], ["a2"])
        self.assertLess(at - deleted, 2.0, "a2 came only when the poll ended")

    def test_a_poll_on_a_blocked_group_waits_without_spinning(self) -> None:
        self.send("b", "b1")
        self.send("b", "b2")
        self.sqs.receive_message(QueueUrl=self.url, WaitTimeSeconds=0)
        cpu_before = emulator_cpu_seconds()
        started = time.monotonic()
        response = self.sqs.receive_message(QueueUrl=self.url, WaitTimeSeconds=2)
        self.assertNotIn("Messages", response)
        self.assertGreaterEqual(time.monotonic() - started, 1.9)
        self.assertLess(emulator_cpu_seconds() - cpu_before, 0.5, "the long poll busy-waited")


def emulator_cpu_seconds() -> float:
    """User + system CPU time of the emulator process, from /proc."""
    with open(os.path.join(STATE_DIR, "emulator.pid")) as f:
        pid = f.read().strip()
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


STATE_DIR = ""


class CloudFormationTests(unittest.TestCase):
    """The resource types bosun's template needs that moto's CloudFormation skips or half-makes."""

    TEMPLATE = """
Parameters:
  WithRule: {Type: String, AllowedValues: ["yes", "no"]}
Conditions:
  Rule: !Equals [!Ref WithRule, "yes"]
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub "${AWS::StackName}-bucket"
      VersioningConfiguration: {Status: Enabled}
      PublicAccessBlockConfiguration:
        {BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true}
      LifecycleConfiguration:
        Rules:
          - {Id: old, Prefix: a/, Status: Enabled, ExpiredObjectDeleteMarker: true,
             NoncurrentVersionExpiration: {NoncurrentDays: 1}}
          - !If [Rule, {Id: when, Prefix: b/, Status: Enabled, ExpirationInDays: 9}, !Ref AWS::NoValue]
  Policy:
    Type: AWS::S3::BucketPolicy
    Properties:
      Bucket: !Ref Bucket
      PolicyDocument:
        Statement:
          - {Effect: Deny, Principal: "*", Action: "s3:*", Resource: !Sub "${Bucket.Arn}/*",
             Condition: {Bool: {"aws:SecureTransport": "false"}}}
  Given:
    Type: AWS::SecretsManager::Secret
    Properties: {Name: !Sub "${AWS::StackName}/given", SecretString: "v1"}
  Generated:
    Type: AWS::SecretsManager::Secret
    Properties:
      Name: !Sub "${AWS::StackName}/generated"
      GenerateSecretString: {PasswordLength: 40, ExcludePunctuation: true}
  Alarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmName: !Sub "${AWS::StackName}-alarm"
      Namespace: AWS/SQS
      MetricName: ApproximateNumberOfMessagesVisible
      Dimensions: [{Name: QueueName, Value: q}]
      Statistic: Maximum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 0
      ComparisonOperator: GreaterThanThreshold
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement: [{Effect: Allow, Principal: {Service: ecs-tasks.amazonaws.com}, Action: "sts:AssumeRole"}]
      Policies:
        - PolicyName: p
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - {Sid: A, Effect: Allow, Action: ["s3:GetObject"], Resource: ["*"]}
              - !If [Rule, {Sid: B, Effect: Allow, Action: ["s3:PutObject"], Resource: ["*"]}, !Ref AWS::NoValue]
Outputs:
  Role: {Value: !Ref Role}
"""

    def stack(self, with_rule: str) -> str:
        cfn = client("cloudformation")
        name = unique("s")
        cfn.create_stack(
            StackName=name,
            TemplateBody=self.TEMPLATE,
            Parameters=[{"ParameterKey": "WithRule", "ParameterValue": with_rule}],
            Capabilities=["CAPABILITY_IAM"],
        )
        deadline = time.monotonic() + 30
        while True:
            stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
            if stack["StackStatus"] != "CREATE_IN_PROGRESS" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(stack["StackStatus"], "CREATE_COMPLETE", stack)
        return name

    def test_bucket_settings_policy_secrets_alarm_and_role_policy(self) -> None:
        name = self.stack("yes")
        s3 = client("s3")
        bucket = f"{name}-bucket"
        self.assertEqual(s3.get_bucket_versioning(Bucket=bucket)["Status"], "Enabled")
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        self.assertTrue(all(block.values()) and len(block) == 4, block)
        rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
        self.assertEqual(sorted(rules), ["old", "when"])
        self.assertEqual(rules["old"]["Filter"], {"Prefix": "a/"})
        self.assertEqual(rules["old"]["Expiration"], {"ExpiredObjectDeleteMarker": True})
        self.assertEqual(rules["old"]["NoncurrentVersionExpiration"]["NoncurrentDays"], 1)
        self.assertEqual(rules["when"]["Expiration"], {"Days": 9})
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        self.assertEqual(policy["Statement"][0]["Condition"], {"Bool": {"aws:SecureTransport": "false"}})

        sm = client("secretsmanager")
        self.assertEqual(sm.get_secret_value(SecretId=f"{name}/given")["SecretString"], "v1")
        generated = sm.get_secret_value(SecretId=f"{name}/generated")["SecretString"]
        self.assertEqual(len(generated), 40)
        self.assertTrue(generated.isalnum(), "no punctuation")

        alarm = client("cloudwatch").describe_alarms(AlarmNames=[f"{name}-alarm"])["MetricAlarms"][0]
        self.assertEqual((alarm["MetricName"], alarm["Threshold"]), ("ApproximateNumberOfMessagesVisible", 0.0))
        self.assertEqual(alarm["Dimensions"], [{"Name": "QueueName", "Value": "q"}])

        outputs = client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]["Outputs"]
        role = outputs[0]["OutputValue"]
        document = client("iam").get_role_policy(RoleName=role, PolicyName="p")["PolicyDocument"]
        # boto3 decodes IAM's JSON: the document is a dict, not moto's repr of one.
        self.assertIsInstance(document, dict)
        self.assertEqual([st["Sid"] for st in document["Statement"]], ["A", "B"])

    def test_no_value_drops_list_elements(self) -> None:
        name = self.stack("no")
        rules = client("s3").get_bucket_lifecycle_configuration(Bucket=f"{name}-bucket")["Rules"]
        self.assertEqual([r["ID"] for r in rules], ["old"])
        outputs = client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]["Outputs"]
        document = client("iam").get_role_policy(RoleName=outputs[0]["OutputValue"], PolicyName="p")
        self.assertEqual([st["Sid"] for st in document["PolicyDocument"]["Statement"]], ["A"])


def main() -> int:
    global PORT, ENDPOINT, STATE_DIR
    PORT = free_port()
    STATE_DIR = tempfile.mkdtemp(prefix="bosun-emulator-test-")
    env = {
        "BOSUN_EMULATOR_PORT": str(PORT),
        "BOSUN_EMULATOR_STATE_DIR": STATE_DIR,
        # Progress by DescribeServices/DescribeTasks calls only, so the tests are exact;
        # test_time_based_progress turns the clock on through /_bosun/config.
        "BOSUN_EMULATOR_ROLLOUT_SECONDS": "0",
    }
    started = time.monotonic()
    try:
        result = run_emulator("start", env)
        sys.stderr.write(result.stderr)
        if result.returncode != 0:
            print(f"emulator start failed with exit code {result.returncode}", file=sys.stderr)
            return 1
        print(f"emulator started on port {PORT} in {time.monotonic() - started:.1f}s", file=sys.stderr)
        ENV.update(parse_exports(result.stdout))
        ENDPOINT = ENV["AWS_ENDPOINT_URL"]
        outcome = unittest.main(module=__name__, argv=[sys.argv[0], *sys.argv[1:]], exit=False, verbosity=2)
        return 0 if outcome.result.wasSuccessful() else 1
    finally:
        result = run_emulator("stop", env, timeout=60)
        sys.stderr.write(result.stderr)
        if os.path.exists(os.path.join(STATE_DIR, "emulator.pid")):
            print("emulator.pid still present after stop", file=sys.stderr)
        log_file = os.path.join(STATE_DIR, "emulator.log")
        if os.environ.get("BOSUN_EMULATOR_TEST_KEEP_LOG"):
            print(f"emulator log kept in {log_file}", file=sys.stderr)
        else:
            shutil.rmtree(STATE_DIR, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
