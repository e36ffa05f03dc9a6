#!/usr/bin/env python3
"""The API benchmark's attack phase, against a running `bosun serve` (API and scheduler).

    attack.py URL PID VIEWER_TOKEN DEPLOYER_TOKEN CLUSTER SERVICE OUT.json [--slow N] [--plans N]

1. Idle: the server's resident memory (VmRSS) before anything.
2. Plans, two bursts of the largest bodies the API takes (1 MiB): N (default 16) viewer
   clients at once each POST to .../plan, each retrying after a 429 as its Retry-After
   says, until it gets another answer (at most 180 s). First "many": 1 MiB of tiny
   services (about 39,000, which the services limit refuses with 422 once parsed); then
   "large": the largest stackfile that is valid, 1,000 services (the limit) padded with
   environment values to 1 MiB, which is planned against live AWS. During the first
   burst a deployer bumps SERVICE's image, and the job is polled: the scheduler must
   keep reconciling. The server's memory is sampled every 20 ms, and its peak (VmHWM)
   read at the end.
3. Slow clients: N (default 400) connections each send half a request's headers and
   then nothing; each one's time until the server closes it is recorded.
4. After: the server's memory 10 s after the last request, against the idle figure.
Everything goes to 127.0.0.1 only; every wait is bounded.
"""
import http.client
import json
import socket
import sys
import threading
import time
import urllib.parse

MAX_BODY = 1 << 20


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


def many_services():
    """As many tiny services as fit in the body limit."""
    head, parts, size, i = "services:\n", [], 10, 0
    while True:
        entry = f"  - s{i}:\n      image: a\n"
        if size + len(entry) > MAX_BODY:
            break
        parts.append(entry)
        size += len(entry)
        i += 1
    return (head + "".join(parts)).encode(), i


def large_services(n=1000):
    """`n` services (the services limit), each padded with an environment value so that
    the whole is just under the body limit."""
    head = "services:\n"
    entry = "  - s{i:04d}:\n      image: nginx:1\n      environment:\n        PAD: {pad}\n"
    overhead = len(entry.format(i=0, pad=""))
    pad = (MAX_BODY - len(head)) // n - overhead - 1
    text = head + "".join(entry.format(i=i, pad="x" * pad) for i in range(n))
    assert len(text) <= MAX_BODY, len(text)
    return text.encode(), n


def request(host, port, method, path, token, body=None, ctype=None, timeout=180):
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    headers = {"Authorization": f"Bearer {token}"}
    if ctype:
        headers["Content-Type"] = ctype
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, dict(resp.getheaders()), data


def main():
    url, pid, viewer, deployer, cluster, service, out = sys.argv[1:8]
    opts = dict(zip(sys.argv[8::2], sys.argv[9::2]))
    n_slow, n_plans = int(opts.get("--slow", 400)), int(opts.get("--plans", 16))
    pid = int(pid)
    u = urllib.parse.urlparse(url)
    host, port = u.hostname, u.port
    # RSS, and of it private memory (heap, stacks) and pages mapped from files (the
    # binary's code, touched once, which the kernel can drop and read again).
    res = {"idle_rss_kib": rss_kib(pid), "idle_anon_kib": rss_kib(pid, "RssAnon"), "idle_file_kib": rss_kib(pid, "RssFile")}
    # Reset the peak, so VmHWM is this phase's (Linux >= 4.0).
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass

    samples, stop = [], threading.Event()

    def sample():
        while not stop.is_set():
            try:
                samples.append((time.monotonic(), rss_kib(pid)))
            except (OSError, RuntimeError):
                return
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()

    def planner(body, outcomes):
        start, throttled = time.monotonic(), 0
        while True:
            try:
                status, headers, _ = request(host, port, "POST", f"/api/v1/clusters/{cluster}/plan", viewer, body,
                                             "application/yaml")
            except OSError as e:
                outcomes.append((f"error: {e}", throttled, time.monotonic() - start))
                return
            if status == 429 and time.monotonic() - start < 180:
                throttled += 1
                time.sleep(float(headers.get("retry-after", headers.get("Retry-After", "1"))))
                continue
            outcomes.append((status, throttled, time.monotonic() - start))
            return

    def burst(body, services, during=None):
        outcomes, started = [], time.monotonic()
        threads = [threading.Thread(target=planner, args=(body, outcomes)) for _ in range(n_plans)]
        for t in threads:
            t.start()
        if during:
            during(threads)
        for t in threads:
            t.join(200)
        return {
            "body_bytes": len(body),
            "services": services,
            "clients": n_plans,
            "statuses": sorted(str(o[0]) for o in outcomes),
            "throttled_429": sum(o[1] for o in outcomes),
            "seconds_max": round(max(o[2] for o in outcomes), 2),
            "wall_seconds": round(time.monotonic() - started, 2),
        }

    bump = {}

    def bump_image(threads):
        # The scheduler keeps reconciling: a deployer's image bump, polled to its end.
        time.sleep(0.5)
        status, _, data = request(host, port, "PUT", f"/api/v1/clusters/{cluster}/services/{service}", deployer,
                                  json.dumps({"image_tag": f"attack-{int(time.time())}"}), "application/json")
        bump["put_status"] = status
        if status == 202:
            job = json.loads(data)["job_id"]
            put_at = time.monotonic()
            while time.monotonic() - put_at < 180:
                s, _, d = request(host, port, "GET", f"/api/v1/jobs/{job}", viewer)
                record = json.loads(d) if s == 200 else {}
                if record.get("status") not in (None, "queued", "running"):
                    bump["job_status"] = record["status"]
                    bump["job_seconds"] = round(time.monotonic() - put_at, 2)
                    break
                time.sleep(0.2)
            bump["during_attack"] = any(t.is_alive() for t in threads)

    res["plans"] = {"many": burst(*many_services(), during=bump_image), "large": burst(*large_services())}
    res["scheduler_during_attack"] = bump

    # Slow clients: half a request's headers, then silence.
    socks, opened = [], time.monotonic()
    for i in range(n_slow):
        s = socket.create_connection((host, port), timeout=5)
        s.sendall(f"POST /api/v1/clusters/c{i}/plan HTTP/1.1\r\nHost: x\r\nAuthorization: Bear".encode())
        socks.append(s)
    res["slow_open_seconds"] = round(time.monotonic() - opened, 2)
    closed = [None] * n_slow

    def watch(i, s):
        s.settimeout(60)
        try:
            while s.recv(4096):
                pass
        except OSError:
            pass
        closed[i] = time.monotonic() - opened
        s.close()

    watchers = [threading.Thread(target=watch, args=(i, s)) for i, s in enumerate(socks)]
    for w in watchers:
        w.start()
    for w in watchers:
        w.join(70)
    done = [c for c in closed if c is not None]
    res["slow_clients"] = {
        "clients": n_slow,
        "closed": len(done),
        "closed_after_s_min": round(min(done), 2) if done else None,
        "closed_after_s_max": round(max(done), 2) if done else None,
    }
    res["peak_rss_kib_sampled"] = max(k for _, k in samples) if samples else None
    res["peak_rss_kib_hwm"] = rss_kib(pid, "VmHWM")

    time.sleep(10)
    stop.set()
    res["after_rss_kib"] = rss_kib(pid)
    res["after_anon_kib"], res["after_file_kib"] = rss_kib(pid, "RssAnon"), rss_kib(pid, "RssFile")
    res["after_vs_idle"] = round(res["after_rss_kib"] / res["idle_rss_kib"], 3)
    with open(out, "w") as f:
        json.dump(res, f, indent=2)
        f.write("\n")
    mib = lambda k: f"{k / 1024:.1f} MiB"
    print(f"attack: idle {mib(res['idle_rss_kib'])}, peak {mib(res['peak_rss_kib_hwm'])}, "
          f"after {mib(res['after_rss_kib'])} ({res['after_vs_idle']}x idle); private memory "
          f"{mib(res['idle_anon_kib'])} -> {mib(res['after_anon_kib'])}, file-backed {mib(res['idle_file_kib'])} -> "
          f"{mib(res['after_file_kib'])}")
    for shape, b in res["plans"].items():
        print(f"attack: {n_plans} plans of {shape} ({b['services']} services, {b['body_bytes']} bytes): "
              f"statuses {b['statuses']}, {b['throttled_429']} answers 429, {b['wall_seconds']} s")
    print(f"attack: image bump during it: {bump}")
    print(f"attack: {n_slow} slow clients: {res['slow_clients']}")


if __name__ == "__main__":
    main()
