#!/usr/bin/env python3
"""A latency-injecting HTTP reverse proxy for the reconcile benchmark (stdlib only).

Listens on 127.0.0.1:PORT and forwards every request (method, path, query, headers, body)
to the upstream emulator after sleeping --latency-ms, then returns the upstream status,
headers and body unchanged (hop-by-hop headers aside). Requests are handled on threads,
so concurrent requests are delayed concurrently, like independent round trips to AWS.

    latency_proxy.py --upstream http://127.0.0.1:4566 --port 0 --port-file /tmp/p --latency-ms 50

Requests are counted by operation: the X-Amz-Target header (JSON protocols: ECS, Cloud
Map), else the query/form `Action` (EC2, ELBv2), else `METHOD /path` with ids collapsed
(REST protocols: Route53). Endpoints of the proxy itself (no latency, not forwarded):

    GET  /_proxy/health   {"status": "ok", "latency_ms": ..., "upstream": ...}
    GET  /_proxy/stats    {"requests": N, "errors": N, "operations": {"ecs:CreateService": n, ...}}
    POST /_proxy/reset    zero the counters

On SIGTERM or SIGINT the counters are printed on stderr and the proxy exits.
"""

import argparse
import http.client
import http.server
import json
import re
import os
import signal
import sys
import threading
import time
import urllib.parse

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

    def add(self, op, error=False):
        with self.lock:
            self.requests += 1
            if error:
                self.errors += 1
            self.ops[op] = self.ops.get(op, 0) + 1

    def snapshot(self):
        with self.lock:
            return {
                "requests": self.requests,
                "errors": self.errors,
                "operations": dict(sorted(self.ops.items())),
            }


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


def make_handler(upstream_host, upstream_port, latency, timeout, counters):
    # One kept-alive upstream connection per handler thread (each client connection has
    # its own thread), so forwarding costs neither a TCP handshake nor, in the
    # emulator, a new thread per request.
    local = threading.local()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Answers go out as two writes (headers, then body): with Nagle's algorithm the
        # body waits for the client's delayed ACK of the headers, up to 40 ms.
        disable_nagle_algorithm = True
        server_version = "bosun-bench-latency-proxy"
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
                })
            elif path == "/_proxy/stats":
                self._reply(200, counters.snapshot())
            elif path == "/_proxy/reset" and self.command == "POST":
                counters.reset()
                self._reply(200, {"status": "reset"})
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
            if latency > 0:
                time.sleep(latency)
            try:
                resp, data = self._upstream(self.command, body)
            except (OSError, http.client.HTTPException) as e:
                counters.add(op, error=True)
                self._reply(502, {"error": f"upstream: {e}"})
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
    ap.add_argument("--latency-ms", type=float, default=50.0, help="delay added before forwarding each request (default 50)")
    ap.add_argument("--timeout", type=float, default=120.0, help="upstream socket timeout in seconds (default 120)")
    args = ap.parse_args()
    if args.latency_ms < 0:
        ap.error("--latency-ms must be >= 0")

    up = urllib.parse.urlsplit(args.upstream)
    if up.scheme != "http" or not up.hostname:
        ap.error("--upstream must be http://HOST:PORT")
    counters = Counters()
    handler = make_handler(up.hostname, up.port or 80, args.latency_ms / 1000.0, args.timeout, counters)
    server = Server(("127.0.0.1", args.port), handler)
    port = server.server_address[1]

    def stop(signum, _frame):
        snap = counters.snapshot()
        print(f"latency_proxy: {snap['requests']} requests, {snap['errors']} errors", file=sys.stderr)
        for op, n in snap["operations"].items():
            print(f"  {n:6d}  {op}", file=sys.stderr)
        sys.stderr.flush()
        # shutdown() blocks until serve_forever returns, so call it off the main thread
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(f"{port}\n")
        os.replace(args.port_file + ".tmp", args.port_file)
    print(f"latency_proxy: 127.0.0.1:{port} -> {args.upstream}, +{args.latency_ms:g} ms per request",
          file=sys.stderr, flush=True)
    server.serve_forever(poll_interval=0.2)
    server.server_close()


if __name__ == "__main__":
    main()
