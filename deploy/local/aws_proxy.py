#!/usr/bin/env python3
"""A reverse proxy in front of the emulator that adds latency and injects faults (stdlib only).

Listens on 127.0.0.1:PORT and forwards every request (method, path, query, headers, body)
to the upstream emulator after sleeping --latency-ms, then returns the upstream status,
headers and body unchanged (hop-by-hop headers aside). Requests are handled on threads,
so concurrent requests are delayed concurrently, like independent round trips to AWS.
The reconcile benchmark uses it for latency, the fault tests for faults:

    aws_proxy.py --upstream http://127.0.0.1:4566 --port 0 --port-file /tmp/p --latency-ms 50
    aws_proxy.py --upstream http://127.0.0.1:4566 --fault-rate 0.2 --faults throttle,500,503,drop,lost --seed 7

Faults. Each request to a chosen service (--services, by SigV4 signing name: ecs,
elasticloadbalancing, route53, servicediscovery, s3, sqs, ecr, ...; default all) and of a
chosen operation (--operations, by the names the stats use, e.g. ecs:CreateService;
default all) fails with probability --fault-rate, with a kind drawn uniformly from
--faults; --limit-per-operation N stops faulting an operation after its N-th fault (so
"the first answer of every CreateRule is lost" is rate 1 with a limit of 1):

    throttle  not forwarded; the service's own throttling error (JSON protocols: 400 with
              x-amzn-ErrorType ThrottlingException; query/XML: <Code>Throttling</Code>;
              S3: 503 SlowDown; EC2: RequestLimitExceeded)
    500, 503  not forwarded; an InternalFailure / ServiceUnavailable error in that shape
    denied    not forwarded; the service's own access-denied error, 403 (JSON protocols:
              AccessDeniedException; query/XML: AccessDenied; EC2: UnauthorizedOperation)
    drop      not forwarded; the connection is closed without an answer
    lost      forwarded and carried out upstream; the answer is discarded and the
              connection closed, as when a response is lost on the way back

The draws come from one seeded generator (--seed, else a random one); the seed is
printed on stderr so a failing run can be replayed (thread scheduling aside).

Requests are counted by operation: the X-Amz-Target header (JSON protocols: ECS, Cloud
Map), else the query/form `Action` (EC2, ELBv2), else `METHOD /path` with ids collapsed
(REST protocols: Route53, S3). Endpoints of the proxy itself (no latency, no faults, not
forwarded):

    GET  /_proxy/health   {"status": "ok", "latency_ms": ..., "upstream": ..., "seed": ...}
    GET  /_proxy/stats    {"requests": N, "errors": N, "operations": {"ecs:CreateService": n, ...},
                           "faults": {"lost": n, ...}, "faulted_operations": {"ecs:CreateService": n, ...}}
    POST /_proxy/reset    zero the counters
    POST /_proxy/faults   {"rate": 0.2, "kinds": ["lost"], "services": ["ecs"],
                           "operations": ["ecs:CreateService"], "limit_per_operation": 1}
                          (each optional; [] means all, a null limit none) changes the faults
                          from the next request on, and restarts the per-operation counts

On SIGTERM or SIGINT the counters are printed on stderr and the proxy exits.
"""

import argparse
import http.client
import http.server
import json
import re
import os
import random
import signal
import sys
import threading
import time
import urllib.parse
import uuid

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "proxy-connection",
}

_ID = re.compile(r"/(?:[A-Z0-9]{10,}|[0-9a-f-]{20,}|[^/]*\.[^/]*)(?=/|$)")


class Counters:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.requests = 0
            self.errors = 0
            self.ops = {}
            self.faults = {}
            self.faulted_ops = {}

    def add(self, op, error=False, fault=None):
        with self.lock:
            self.requests += 1
            if error:
                self.errors += 1
            self.ops[op] = self.ops.get(op, 0) + 1
            if fault:
                self.faults[fault] = self.faults.get(fault, 0) + 1
                self.faulted_ops[op] = self.faulted_ops.get(op, 0) + 1

    def snapshot(self):
        with self.lock:
            return {
                "requests": self.requests,
                "errors": self.errors,
                "operations": dict(sorted(self.ops.items())),
                "faults": dict(sorted(self.faults.items())),
                "faulted_operations": dict(sorted(self.faulted_ops.items())),
            }


FAULT_KINDS = ("throttle", "500", "503", "denied", "drop", "lost")
# What --faults draws from unless told: the failures a retry can get past.
DEFAULT_FAULTS = ("throttle", "500", "503", "drop", "lost")


class Faults:
    """Which requests fail and how; changed at runtime through POST /_proxy/faults."""

    def __init__(self, rate, kinds, services, seed, operations=(), limit=None):
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self.seed = seed
        self.set(rate, kinds, services, list(operations), limit)

    @staticmethod
    def check(rate, kinds, services, operations, limit):
        if not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError("rate must be a number from 0 to 1")
        if not isinstance(kinds, list) or not kinds or any(k not in FAULT_KINDS for k in kinds):
            raise ValueError(f"kinds must be a non-empty list of {', '.join(FAULT_KINDS)}")
        if not isinstance(services, list) or any(not isinstance(x, str) for x in services):
            raise ValueError("services must be a list of signing names")
        if not isinstance(operations, list) or any(not isinstance(x, str) for x in operations):
            raise ValueError("operations must be a list of operation names such as ecs:CreateService")
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
            raise ValueError("limit_per_operation must be a whole number >= 0, or null")

    def set(self, rate, kinds, services, operations, limit):
        self.check(rate, kinds, services, operations, limit)
        with self.lock:
            self.rate, self.kinds, self.services = float(rate), list(kinds), set(services)
            self.operations, self.limit, self.faulted = set(operations), limit, {}

    def snapshot(self):
        with self.lock:
            return {"rate": self.rate, "kinds": self.kinds, "services": sorted(self.services),
                    "operations": sorted(self.operations), "limit_per_operation": self.limit}

    def draw(self, service, op):
        """The fault for one request of operation `op` to `service`, or None."""
        with self.lock:
            if self.rate <= 0 or (self.services and service not in self.services):
                return None
            if (self.operations and op not in self.operations) or (
                self.limit is not None and self.faulted.get(op, 0) >= self.limit
            ):
                return None
            if self.rng.random() >= self.rate:
                return None
            self.faulted[op] = self.faulted.get(op, 0) + 1
            return self.rng.choice(self.kinds)


def signing_service(headers):
    """The SigV4 signing name of a request (`ecs`, `s3`, ...), from its credential scope."""
    m = re.search(r"Credential=[^/]*/[^/]*/[^/]*/([^/]*)/", headers.get("Authorization", ""))
    return m.group(1) if m else ""


def error_reply(service, headers, kind):
    """(status, headers, body) of a throttling, access-denied or server error, in the service's own shape."""
    rid = str(uuid.uuid4())
    code, status, message = {
        "throttle": ("Throttling", 400, "Rate exceeded"),
        "500": ("InternalFailure", 500, "We encountered an internal error. Please try again."),
        "503": ("ServiceUnavailable", 503, "Service is unavailable. Please try again."),
        "denied": ("AccessDenied", 403, "User is not authorized to perform this operation"),
    }[kind]
    if service == "s3":
        code, status = {"throttle": ("SlowDown", 503), "500": ("InternalError", 500)}.get(kind, (code, status))
        body = f"<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{rid}</RequestId></Error>"
        return status, {"Content-Type": "application/xml", "x-amz-request-id": rid}, body.encode()
    if service == "ec2":
        code, status = {"throttle": ("RequestLimitExceeded", 503), "denied": ("UnauthorizedOperation", 403)}.get(
            kind, (code, status))
        body = (f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
                f"<RequestID>{rid}</RequestID></Response>")
        return status, {"Content-Type": "text/xml"}, body.encode()
    if headers.get("X-Amz-Target") or "json" in headers.get("Content-Type", ""):
        code = {"throttle": "ThrottlingException", "denied": "AccessDeniedException"}.get(kind, code)
        body = json.dumps({"__type": code, "message": message}).encode()
        return status, {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": code,
                        "x-amzn-RequestId": rid}, body
    # Query (ELBv2) and REST-XML (Route53) protocols.
    typ = "Sender" if status < 500 else "Receiver"
    body = (f"<ErrorResponse><Error><Type>{typ}</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            f"<RequestId>{rid}</RequestId></ErrorResponse>")
    return status, {"Content-Type": "text/xml", "x-amzn-RequestId": rid}, body.encode()


def operation(method, path, headers, body):
    """A readable name for the AWS operation of a request."""
    target = headers.get("X-Amz-Target")
    if target:
        # "AmazonEC2ContainerServiceV20141113.CreateService" -> "ecs:CreateService"
        prefix, _, op = target.rpartition(".")
        short = {
            "AmazonEC2ContainerServiceV20141113": "ecs",
            "Route53AutoNaming_v20170314": "servicediscovery",
            "Logs_20140328": "logs",
            "AmazonSSM": "ssm",
            "secretsmanager": "secretsmanager",
        }.get(prefix, prefix)
        return f"{short}:{op}"
    url = urllib.parse.urlsplit(path)
    action = urllib.parse.parse_qs(url.query).get("Action")
    if not action and body and "x-www-form-urlencoded" in headers.get("Content-Type", ""):
        try:
            action = urllib.parse.parse_qs(body.decode("utf-8", "replace")).get("Action")
        except ValueError:
            action = None
    if action:
        auth = headers.get("Authorization", "")
        m = re.search(r"Credential=[^/]*/[^/]*/[^/]*/([^/]*)/", auth)
        service = m.group(1) if m else "query"
        return f"{service}:{action[0]}"
    return f"{method} {_ID.sub('/{id}', url.path)}"


def make_handler(upstream_host, upstream_port, latency, timeout, counters, faults):
    # One kept-alive upstream connection per handler thread (each client connection has
    # its own thread), so forwarding costs neither a TCP handshake nor, in the
    # emulator, a new thread per request.
    local = threading.local()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Answers go out as two writes (headers, then body): with Nagle's algorithm the
        # body waits for the client's delayed ACK of the headers, up to 40 ms.
        disable_nagle_algorithm = True
        server_version = "bosun-aws-proxy"
        sys_version = ""

        def log_message(self, fmt, *args):  # quiet
            pass

        def _read_body(self):
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                parts = []
                while True:
                    line = self.rfile.readline(65537)
                    size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                    if size == 0:
                        # trailers up to the empty line
                        while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                            pass
                        break
                    parts.append(self.rfile.read(size))
                    self.rfile.readline(65537)  # CRLF after the chunk
                return b"".join(parts)
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _reply(self, status, payload, content_type="application/json"):
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _own(self, body):
            path = urllib.parse.urlsplit(self.path).path
            if path == "/_proxy/health":
                self._reply(200, {
                    "status": "ok",
                    "latency_ms": latency * 1000.0,
                    "upstream": f"http://{upstream_host}:{upstream_port}",
                    "seed": faults.seed,
                    "faults": faults.snapshot(),
                })
            elif path == "/_proxy/stats":
                self._reply(200, counters.snapshot())
            elif path == "/_proxy/reset" and self.command == "POST":
                counters.reset()
                self._reply(200, {"status": "reset"})
            elif path == "/_proxy/faults" and self.command == "POST":
                now = faults.snapshot()
                try:
                    req = json.loads(body or b"{}")
                    if not isinstance(req, dict):
                        raise ValueError("the body must be a JSON object")
                    faults.set(req.get("rate", now["rate"]), req.get("kinds", now["kinds"]),
                               req.get("services", now["services"]), req.get("operations", now["operations"]),
                               req.get("limit_per_operation", now["limit_per_operation"]))
                except ValueError as e:
                    self._reply(400, {"error": str(e)})
                    return
                self._reply(200, faults.snapshot())
            else:
                self._reply(404, {"error": f"unknown proxy endpoint {path}"})

        def _upstream(self, method, body):
            """Send the request upstream on this thread's kept-alive connection.

            A connection the emulator closed while it sat idle fails on first use; only
            then (a reused connection, nothing answered yet) is the request sent once
            more, on a new connection.
            """
            for attempt in (0, 1):
                conn = getattr(local, "conn", None)
                reused = conn is not None
                if conn is None:
                    conn = local.conn = http.client.HTTPConnection(upstream_host, upstream_port, timeout=timeout)
                try:
                    conn.putrequest(method, self.path, skip_host=True, skip_accept_encoding=True)
                    for name, value in self.headers.items():
                        lname = name.lower()
                        if lname in HOP_BY_HOP or lname == "content-length" or lname == "expect":
                            continue
                        conn.putheader(name, value)
                    if body or method in ("POST", "PUT", "PATCH"):
                        conn.putheader("Content-Length", str(len(body)))
                    conn.endheaders(body if body else None)
                    resp = conn.getresponse()
                    data = resp.read()  # de-chunked if the upstream used chunked encoding
                except (OSError, http.client.HTTPException) as e:
                    conn.close()
                    local.conn = None
                    stale = isinstance(e, (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError))
                    if reused and stale and attempt == 0:
                        continue
                    raise
                if resp.will_close:
                    conn.close()
                    local.conn = None
                return resp, data
            raise AssertionError("unreachable")

        def _forward(self):
            body = self._read_body()
            if self.path.startswith("/_proxy/"):
                self._own(body)
                return
            op = operation(self.command, self.path, self.headers, body)
            fault = faults.draw(signing_service(self.headers), op)
            if latency > 0:
                time.sleep(latency)
            if fault == "drop":
                counters.add(op, error=True, fault=fault)
                self.close_connection = True
                return
            if fault in ("throttle", "500", "503", "denied"):
                counters.add(op, error=True, fault=fault)
                status, headers, data = error_reply(signing_service(self.headers), self.headers, fault)
                self.send_response_only(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            try:
                resp, data = self._upstream(self.command, body)
            except (OSError, http.client.HTTPException) as e:
                counters.add(op, error=True)
                self._reply(502, {"error": f"upstream: {e}"})
                return
            if fault == "lost":
                counters.add(op, error=True, fault=fault)
                self.close_connection = True
                return
            counters.add(op, error=resp.status >= 500)
            self.send_response_only(resp.status, resp.reason)
            for name, value in resp.getheaders():
                lname = name.lower()
                if lname in HOP_BY_HOP or lname == "content-length":
                    continue
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _forward

    return Handler


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--upstream", required=True, help="e.g. http://127.0.0.1:4566")
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    ap.add_argument("--port-file", help="write the port actually bound here once listening")
    ap.add_argument("--latency-ms", type=float, default=0.0, help="delay added before forwarding each request (default 0)")
    ap.add_argument("--timeout", type=float, default=120.0, help="upstream socket timeout in seconds (default 120)")
    ap.add_argument("--fault-rate", type=float, default=0.0, help="share of requests that fail, 0 to 1 (default 0)")
    ap.add_argument("--faults", default=",".join(DEFAULT_FAULTS),
                    help=f"comma-separated fault kinds to draw from, of {','.join(FAULT_KINDS)} "
                         f"(default {','.join(DEFAULT_FAULTS)})")
    ap.add_argument("--services", default="", help="comma-separated signing names to fault (default: all)")
    ap.add_argument("--operations", default="",
                    help="comma-separated operations to fault, as the stats name them (default: all)")
    ap.add_argument("--limit-per-operation", type=int,
                    help="fault each operation at most this many times (default: no limit)")
    ap.add_argument("--seed", type=int, help="seed of the fault draws (default: a random one, printed)")
    ap.add_argument("--watch-pid", type=int, help="exit when this process is gone (a test that was killed)")
    args = ap.parse_args()
    if args.latency_ms < 0:
        ap.error("--latency-ms must be >= 0")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    try:
        faults = Faults(args.fault_rate, [k for k in args.faults.split(",") if k],
                        [x for x in args.services.split(",") if x], seed,
                        [x for x in args.operations.split(",") if x], args.limit_per_operation)
    except ValueError as e:
        ap.error(str(e))

    up = urllib.parse.urlsplit(args.upstream)
    if up.scheme != "http" or not up.hostname:
        ap.error("--upstream must be http://HOST:PORT")
    counters = Counters()
    handler = make_handler(up.hostname, up.port or 80, args.latency_ms / 1000.0, args.timeout, counters, faults)
    server = Server(("127.0.0.1", args.port), handler)
    port = server.server_address[1]

    def stop(signum, _frame):
        snap = counters.snapshot()
        print(f"aws_proxy: {snap['requests']} requests, {snap['errors']} errors, faults {snap['faults']}, "
              f"seed {seed}", file=sys.stderr)
        for op, n in snap["operations"].items():
            print(f"  {n:6d}  {op}", file=sys.stderr)
        sys.stderr.flush()
        # shutdown() blocks until serve_forever returns, so call it off the main thread
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.watch_pid:
        def watch():
            while True:
                time.sleep(1)
                try:
                    os.kill(args.watch_pid, 0)
                except ProcessLookupError:
                    stop(None, None)
                    return
                except PermissionError:
                    pass
        threading.Thread(target=watch, daemon=True).start()
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(f"{port}\n")
        os.replace(args.port_file + ".tmp", args.port_file)
    print(f"aws_proxy: 127.0.0.1:{port} -> {args.upstream}, +{args.latency_ms:g} ms per request, "
          f"fault rate {args.fault_rate:g} ({args.faults}), seed {seed}", file=sys.stderr, flush=True)
    server.serve_forever(poll_interval=0.2)
    server.server_close()


if __name__ == "__main__":
    main()
