"""bosun's local AWS emulator: moto in server mode plus an ECS realism layer.

Run as ``PYTHONPATH=deploy/local .venv/bin/python -m ecs_realism --host 127.0.0.1 --port 4566``
(``deploy/local/emulator start`` does that). One endpoint serves every AWS service moto
implements. Stock moto 5.2.5 is faithful enough for S3, SQS, Route53 and friends, but its
ECS emulation never progresses, and some ELBv2 and Cloud Map creates are not idempotent
where AWS's are. This package monkeypatches moto's ECS
backend (moto/ecs/models.py) and its response class (moto/ecs/responses.py) so that:

* service deployments progress IN_PROGRESS -> COMPLETED (or FAILED, with circuit-breaker
  rollback) one step per DescribeServices call or with the clock, with service events;
* UpdateService starts new deployments the way ECS does;
* one-off tasks (RunTask) run and end in STOPPED with an exit code chosen by the caller;
* the API gaps listed in README.md are fixed (idempotency errors, paging, resolved ARNs, ...);
* retried ELBv2 and Cloud Map creates return the resource the first call made, as in AWS,
  and Cloud Map's ListServices honours its namespace filter;
* with IAM enforcement on (``POST /moto-api/reset-auth``), a REST request without a body
  (a Route53 GET) is checked against the signature its client computed;
* AssumeRole of a role that does not exist, or without the external id its trust policy
  asks for, is refused with AccessDenied, as in AWS;
* Application Auto Scaling keeps a scalable target's tags, and deregistering a target deletes
  its policies and scheduled actions, as in AWS;
* CloudFormation creates the resource types bosun's own template needs that moto skips
  (a bucket policy, a secret, an alarm), and drops ``AWS::NoValue`` from lists.

Every patch names the moto gap it fixes. The layer is pinned to the moto version in
requirements.txt: it refuses to start on any other version.

Modules, each importing only those listed before it:
  config            the knobs below, the pinned moto version, shared constants, the logger
  patching          the patched moto classes, the ECS lock, _patch/_orig
  clusters          CreateCluster, DeleteCluster, ListClusters, the cluster counters
  task_definitions  Register/Deregister/DescribeTaskDefinition, resource requirements
  task_model        a task's containers, exit codes, RUNNING/STOPPED transitions
  deployments       the Deployment class, its progress and service tasks, the circuit breaker
  services          Create/Update/Delete/Describe/ListServices
  tasks             RunTask, DescribeTasks, ListTasks, StopTask
  responses         the patched ECS response handlers (request parameters, paging)
  cloud_map         Cloud Map: idempotent CreateService and namespace creates, ListServices filters
  elbv2             ELBv2: idempotent CreateLoadBalancer, CreateTargetGroup, CreateListener
  autoscaling       Application Auto Scaling: tags on scalable targets (RegisterScalableTarget's
                    Tags, ListTagsForResource, TagResource, UntagResource), and
                    DeregisterScalableTarget deleting the target's policies and scheduled actions
  iam_auth          IAM enforcement: SigV4 of REST requests without a body (Route53 GETs)
  sts               AssumeRole: the role must exist, and carry the external id its trust policy asks for
  cloudformation    CloudFormation: the S3 bucket policy, Secrets Manager secret and CloudWatch
                    alarm resource types, and AWS::NoValue dropped from lists
  server            install(), the SQS long-poll fix, the request speed-ups, the control
                    endpoint, the owner watch, main()

Knobs (environment, or at runtime through ``POST /_bosun/config``):
  BOSUN_EMULATOR_FAIL_IMAGE        regex; an image matching it fails (default in config.py)
  BOSUN_EMULATOR_ROLLOUT_DESCRIBES DescribeServices calls until a deployment settles (2)
  BOSUN_EMULATOR_TASK_DESCRIBES    DescribeTasks calls until a one-off task stops (2)
  BOSUN_EMULATOR_ROLLOUT_SECONDS   seconds until either settles anyway; <= 0 disables (2)
"""
