"""install() and the server: SQS long-poll fix, request speed-ups, control endpoint, owner watch, main()."""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import signal
import threading
import time
from typing import Any

import moto
from moto.core.responses import BaseResponse

from . import autoscaling, cloud_map, cloudformation, elbv2, iam_auth, sts
from .clusters import (
    _cluster_counter,
    backend_create_cluster,
    backend_delete_cluster,
    backend_list_clusters,
)
from .config import CONFIG, LAYER_NAME, PINNED_MOTO_VERSION, log
from .patching import LOCK, Backend, Cluster, ResponseCls, Service, Task, _patch
from .responses import (
    response_create_service,
    response_describe_tasks,
    response_list_clusters,
    response_list_services,
    response_list_task_definition_families,
    response_list_task_definitions,
    response_list_tasks,
    response_run_task,
    response_update_service,
)
from .services import (
    backend_create_service,
    backend_delete_service,
    backend_describe_services,
    backend_list_services,
    backend_update_service,
    service_validate_network,
)
from .task_definitions import (
    backend_calculate_task_resource_requirements,
    backend_deregister_task_definition,
    backend_describe_task_definition,
    backend_register_task_definition,
)
from .task_model import _task_last_status_get, _task_last_status_set, task_init
from .tasks import backend_describe_tasks, backend_list_tasks, backend_run_task, backend_stop_task


# --------------------------------------------------------------------------------------
# Installation
# --------------------------------------------------------------------------------------


def install() -> None:
    """Apply every patch. Idempotent."""
    if getattr(Backend, "_bosun_realism", False):
        return
    if moto.__version__ != PINNED_MOTO_VERSION:
        raise SystemExit(
            f"{LAYER_NAME}: moto {moto.__version__} is installed but the ECS realism layer is "
            f"written against moto {PINNED_MOTO_VERSION}; reinstall deploy/local/requirements.txt"
        )
    # moto's own knobs would fight the layer's deployment model.
    os.environ.pop("MOTO_ECS_SERVICE_RUNNING", None)
    os.environ.pop("MOTO_ECS_SERVICE_FAILED_TASKS", None)

    for kind in ("active", "running", "pending"):
        name = {"active": "active_services_count", "running": "running_tasks_count",
                "pending": "pending_tasks_count"}[kind]
        _patch(Cluster, name, _cluster_counter(kind))

    _patch(Service, "_validate_network", service_validate_network, lock=False)
    _patch(Task, "__init__", task_init, lock=False)
    _patch(Task, "last_status", property(_task_last_status_get, _task_last_status_set))

    for name, fn in {
        "create_cluster": backend_create_cluster,
        "delete_cluster": backend_delete_cluster,
        "list_clusters": backend_list_clusters,
        "register_task_definition": backend_register_task_definition,
        "deregister_task_definition": backend_deregister_task_definition,
        "describe_task_definition": backend_describe_task_definition,
        "create_service": backend_create_service,
        "update_service": backend_update_service,
        "delete_service": backend_delete_service,
        "describe_services": backend_describe_services,
        "list_services": backend_list_services,
        "run_task": backend_run_task,
        "describe_tasks": backend_describe_tasks,
        "list_tasks": backend_list_tasks,
        "stop_task": backend_stop_task,
    }.items():
        _patch(Backend, name, fn)
    _patch(
        Backend,
        "_calculate_task_resource_requirements",
        staticmethod(backend_calculate_task_resource_requirements),
    )

    # Every ECS request, serialization of the response included, runs under LOCK.
    _patch(ResponseCls, "call_action", BaseResponse.call_action)
    for name, fn in {
        "create_service": response_create_service,
        "update_service": response_update_service,
        "list_services": response_list_services,
        "list_task_definitions": response_list_task_definitions,
        "list_task_definition_families": response_list_task_definition_families,
        "list_clusters": response_list_clusters,
        "list_tasks": response_list_tasks,
        "run_task": response_run_task,
        "describe_tasks": response_describe_tasks,
    }.items():
        _patch(ResponseCls, name, fn)

    # Cloud Map and ELBv2 creates that AWS makes idempotent (the check for an existing
    # resource and the create run under LOCK, so a retry cannot race its original), and
    # Application Auto Scaling's tags and deregistration.
    for patches in (cloud_map.PATCHES, elbv2.PATCHES, autoscaling.PATCHES):
        for cls, methods in patches.items():
            for name, fn in methods.items():
                _patch(cls, name, fn)
    # Signing of REST requests without a body, under IAM enforcement, and AssumeRole's
    # checks (no shared state of the layer's: no lock).
    for cls, methods in [*iam_auth.PATCHES.items(), *sts.PATCHES.items()]:
        for name, fn in methods.items():
            _patch(cls, name, fn, lock=False)

    # The resource types of bosun's own CloudFormation template that moto lacks.
    cloudformation.install()
    _speed_up_requests()
    _fix_sqs_long_poll()
    Backend._bosun_realism = True


def _fix_sqs_long_poll() -> None:
    from moto.sqs import models as sqs_models

    orig = sqs_models.SQSBackend.receive_message

    # moto gaps in long polling (ReceiveMessage with WaitTimeSeconds > 0):
    # - the poll computes the FIFO message groups that have a message in flight once,
    #   when it starts; a group that frees up during the poll (its message deleted)
    #   stays blocked until the poll ends, so the next job of a cluster waited up to
    #   20 s, where SQS delivers it at once;
    # - between scans it waits with `wait_for(lambda: self.messages)`, which returns at
    #   once while any visible message is queued, deliverable or not, so a poll spun at
    #   100% CPU for its whole WaitTimeSeconds.
    # Instead, scan with moto's own receive (no wait: it recomputes the groups each
    # time), and between scans wait for a send (which notifies) or 0.2 s.
    def receive_message(self, queue_name, count, wait_seconds_timeout, visibility_timeout,
                        message_attribute_names=None):
        deadline = time.monotonic() + wait_seconds_timeout
        while True:
            result = orig(self, queue_name, count, 0, visibility_timeout, message_attribute_names)
            left = deadline - time.monotonic()
            if result or left <= 0:
                return result
            queue = self.get_queue(queue_name)
            with queue._messages_lock:
                queue._messages_lock.wait(timeout=min(left, 0.2))

    _patch(sqs_models.SQSBackend, "receive_message", receive_message, lock=False)


# --------------------------------------------------------------------------------------
# Request overhead
# --------------------------------------------------------------------------------------
# Profiled under the reconcile benchmark (bench/reconcile), moto spent more time on
# finding the code for a request and the attributes for its response than on the ECS
# work itself. These patches memoize three such lookups; what they return is
# unchanged. (The ECS work under LOCK is a small part of a request: moto's generic
# request parsing and response serialization are most of it, and the GIL serializes
# those anyway, so a narrower LOCK would not help.)


def _speed_up_requests() -> None:
    from moto import backends
    from moto.core import responses, serialize

    # moto gap (speed): every request listed moto's package directory and stat()ed its
    # ~250 entries, twice, under the dispatcher's global lock (werkzeug_app.py,
    # DomainDispatcherApplication.get_backend_for_host). The installed package does not
    # change while the server runs.
    modules = tuple(backends.list_of_moto_modules())
    _patch(backends, "list_of_moto_modules", lambda: modules, lock=False)

    # moto gap (speed): call_action ran inspect.getmembers over the response class on
    # every request to find its action methods. Classes are patched in install(),
    # before the server serves anything, and not after.
    names_of = responses.method_names_from_class
    cache: dict[type, frozenset[str]] = {}

    def method_names_from_class(cls: type) -> frozenset[str]:
        names = cache.get(cls)
        if names is None:
            names = cache[cls] = frozenset(names_of(cls))
        return names

    _patch(responses, "method_names_from_class", method_names_from_class, lock=False)

    # moto gap (speed): serializing a response asked six alias providers, newly built
    # for every field of every object, which attribute holds the field: almost half the
    # time of a DescribeServices. Their answer depends only on the object's class and
    # Meta, the field, its shape and the shape's parent (shapes live as long as the
    # cached service model), so it is kept per those.
    picker = serialize.XFormedAttributePicker
    possible_keys = picker.get_possible_keys
    known: dict[tuple, tuple[str, ...]] = {}

    def get_possible_keys(self: Any, context: Any) -> Any:
        shape = context.shape
        try:
            key = (type(self), tuple(self.alias_providers), type(context.obj), getattr(context.obj, "Meta", None),
                   context.key, shape, getattr(shape, "parent", None))
            keys = known.get(key)
        except TypeError:  # an unhashable Meta: ask the providers
            return possible_keys(self, context)
        if keys is None:
            keys = known[key] = tuple(possible_keys(self, context))
        return keys

    _patch(picker, "get_possible_keys", get_possible_keys, lock=False)


# --------------------------------------------------------------------------------------
# Server: moto's WSGI app behind a small control endpoint
# --------------------------------------------------------------------------------------


class ControlMiddleware:
    """Serves /_bosun/* and passes everything else to moto.

    GET  /_bosun/health  {"status": "ok", "emulator": "bosun-ecs-realism", "moto": ..., "config": ...}
    GET  /_bosun/config  the current knobs
    POST /_bosun/config  JSON object with any of the knobs; answers with the new knobs
    """

    def __init__(self, app: Any):
        self.app = app

    def __call__(self, environ: dict, start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if not path.startswith("/_bosun/"):
            return self.app(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET")
        status, body = "404 Not Found", {"error": f"no such endpoint: {method} {path}"}
        if path == "/_bosun/health" and method == "GET":
            status = "200 OK"
            body = {"status": "ok", "emulator": LAYER_NAME, "moto": moto.__version__,
                    "pid": os.getpid(), "config": CONFIG.as_dict()}
        elif path == "/_bosun/config" and method == "GET":
            status, body = "200 OK", CONFIG.as_dict()
        elif path == "/_bosun/config" and method == "POST":
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
                changes = json.loads(environ["wsgi.input"].read(length) or b"{}")
                if not isinstance(changes, dict):
                    raise ValueError("expected a JSON object")
                with LOCK:
                    CONFIG.update(changes)
                status, body = "200 OK", CONFIG.as_dict()
                log.info("config changed: %s", body)
            except Exception as exc:  # bad JSON, unknown key, bad regex, bad number
                status, body = "400 Bad Request", {"error": str(exc)}
        payload = json.dumps(body).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
        return [payload]


def watch_owner(pid: str | None, server: Any) -> None:
    """Shut down when the process that owns this emulator is gone.

    A test that is killed (for example by nextest's timeout) never runs its cleanup; with
    BOSUN_EMULATOR_WATCH_PID set to the test's PID, its emulator follows it within a second.
    """
    if not pid:
        return
    owner = int(pid)

    def watch() -> None:
        while True:
            time.sleep(1)
            try:
                os.kill(owner, 0)
            except ProcessLookupError:
                log.info("owner process %d is gone: shutting down", owner)
                server.shutdown()
                return
            except PermissionError:
                continue  # alive, owned by another user

    threading.Thread(target=watch, name="owner-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ecs_realism", description="moto server with bosun's ECS realism layer")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("BOSUN_EMULATOR_PORT", "4566")))
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    os.environ.setdefault("MOTO_PORT", str(args.port))  # moto builds some URLs from it
    install()
    # The process holds moto's and botocore's models, hundreds of thousands of
    # long-lived objects. With the default thresholds a full collection walked them
    # every ~70,000 allocations, a pause of about 150 ms (measured under
    # bench/reconcile); young collections 14 times rarer make full ones as much rarer.
    gc.set_threshold(10_000, 10, 10)

    from werkzeug.serving import make_server
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )

    app = ControlMiddleware(DomainDispatcherApplication(create_backend_app))
    server = make_server(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)

    def stop(signum: int, _frame: Any) -> None:
        log.info("signal %d: shutting down", signum)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    watch_owner(os.environ.get("BOSUN_EMULATOR_WATCH_PID"), server)
    log.info(
        "%s (moto %s) listening on http://%s:%d, config %s",
        LAYER_NAME, moto.__version__, args.host, args.port, CONFIG.as_dict(),
    )
    server.serve_forever()
    log.info("stopped")
