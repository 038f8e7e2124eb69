#!/usr/bin/env python3
"""The scheduler's hand-over of monitor checks to the monitor-worker function, run the
way AWS runs it: the real `scheduler` and `monitor-worker` binaries under the Lambda
Invoke emulator (invoke_emulator.py), the scheduler handing each batch over with the AWS
SDK's asynchronous `Invoke`, the workers checking a local target server and recording
in DynamoDB Local. The monitors are made through the API of the local server (started
by worker-check.sh with its own tick off).

Three runs, each on monitors of its own organizations:
1. every batch handed over (none checked by the scheduler itself), each monitor checked
   and recorded exactly once, one worker invocation per batch, none failed;
2. every invocation delivered twice (Lambda delivers at least once): each check still
   recorded once;
3. a worker function that does not exist: the scheduler checks every batch itself.

Prints "N passed, N failed" and exits non-zero on a failure.
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
results = {"passed": 0, "failed": 0}


def check(name, ok, detail=""):
    results["passed" if ok else "failed"] += 1
    print(f"{'ok' if ok else 'FAILED'}: {name}{'' if ok else f' ({detail})'}", file=sys.stderr, flush=True)


class Target(BaseHTTPRequestHandler):
    """A monitored service: answers 200 after 20 ms and counts requests per path."""

    hits = Counter()
    lock = threading.Lock()

    def log_message(self, *args):
        pass

    def do_GET(self):
        with self.lock:
            self.hits[self.path] += 1
        time.sleep(0.02)
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except ConnectionError:
            pass  # a check may hang up once it has the status


class TargetServer(ThreadingHTTPServer):
    # A hundred checks of a batch connect at once: more than the default backlog of 5.
    request_queue_size = 1024
    daemon_threads = True


def free_port():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Api:
    def __init__(self, base, key):
        self.base, self.key = base, key

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.key}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return json.loads(raw) if raw else None


def organization(admin, name, plan):
    run = lambda *a: json.loads(subprocess.run([admin, *a], check=True, capture_output=True, text=True).stdout)
    org = run("org", "create", "--name", name, "--plan", plan)["id"]
    return run("key", "create", "--org", org, "--name", "worker-check", "--rate-limit", "1000000")["key"]


def monitors(api, target, prefix, count):
    """Creates `count` monitors of `target` at /<prefix>/<i>; returns {path: id}."""
    made = {}
    for i in range(count):
        path = f"/{prefix}/{i}"
        m = api.call("POST", "/api/v1/monitors", {"name": f"{prefix} {i}", "url": target + path, "intervalSeconds": 3600})
        made[path] = (m["data"]["id"], api)
    return made


def delete(made):
    for monitor_id, api in made.values():
        api.call("DELETE", f"/api/v1/monitors/{monitor_id}")


class Emulator:
    def __init__(self, port, bin_dir, env, duplicate=False):
        self.port = port
        args = [sys.executable, str(HERE / "invoke_emulator.py"), "--port", str(self.port), "--bin-dir", bin_dir,
                "--function", "monitor-worker=4", "--function", "scheduler=1",
                "--invoked-by", "monitor-worker=scheduler"]
        if duplicate:
            args.append("--duplicate")
        self.proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, text=True)
        self.proc.stdout.readline()  # "invoke emulator on …": listening

    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def invoke(self, function):
        req = urllib.request.Request(f"{self.url()}/2015-03-31/functions/{function}/invocations",
                                     data=b'{"source": "aws.events", "detail-type": "Scheduled Event"}', method="POST")
        with urllib.request.urlopen(req, timeout=300) as r:
            return json.loads(r.read()), r.headers.get("X-Amz-Function-Error")

    def stats(self):
        with urllib.request.urlopen(f"{self.url()}/stats", timeout=10) as r:
            return json.loads(r.read())

    def settled(self, function, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self.stats()[function]
            if s["pending"] == 0:
                return s
            time.sleep(0.1)
        return self.stats()[function]

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def records(made):
    """Each monitor's check records, through the API: how many, and how many passed."""
    counted = {}
    for path, (mid, api) in made.items():
        checks = api.call("GET", f"/api/v1/monitors/{mid}/checks")["data"]
        counted[path] = (len(checks), sum(1 for c in checks if c["ok"]))
    return counted


def run(args, label, env, made, batches, duplicate=False, worker="monitor-worker"):
    # The scheduler's SDK finds the emulator by the service's endpoint variable.
    port = free_port()
    env = dict(env, MONITOR_WORKER_FUNCTION=worker, AWS_ENDPOINT_URL_LAMBDA=f"http://127.0.0.1:{port}")
    emulator = Emulator(port, args.bin_dir, env, duplicate)
    try:
        before = Counter(Target.hits)
        started = time.monotonic()
        outcome, error = emulator.invoke("scheduler")
        took = time.monotonic() - started
        check(f"{label}: the scheduler's invocation succeeds", error is None, outcome)
        workers = emulator.settled("monitor-worker")
        hits = {p: Target.hits[p] - before[p] for p in made}
        counted = records(made)
        n = len(made)
        if worker == "monitor-worker":
            check(f"{label}: the scheduler hands all {n} checks over and makes none itself",
                  outcome.get("handed") == n and outcome.get("checks") == 0, outcome)
            check(f"{label}: the scheduler returns once the batches are queued ({took:.2f} s)", took < 10, took)
            invocations = batches * (2 if duplicate else 1)
            check(f"{label}: one worker invocation per batch ({invocations}), none failed or retried",
                  workers["invoked"] == invocations and workers["succeeded"] == invocations
                  and workers["failed"] == 0 and workers["retried"] == 0, workers)
        else:
            check(f"{label}: the scheduler checks all {n} itself when no worker takes them",
                  outcome.get("handed") == 0 and outcome.get("checks") == n, outcome)
            check(f"{label}: no worker ran", workers["invoked"] == 0, workers)
        if duplicate:
            check(f"{label}: every target was requested once or twice",
                  all(1 <= h <= 2 for h in hits.values()), Counter(hits.values()))
        else:
            check(f"{label}: every target was requested exactly once",
                  all(h == 1 for h in hits.values()), Counter(hits.values()))
        check(f"{label}: every monitor has exactly one check record, and it passed",
              all(c == (1, 1) for c in counted.values()), Counter(counted.values()))
    finally:
        emulator.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--api", required=True, help="the local server's base URL")
    ap.add_argument("--admin", required=True, help="the livestatus-admin binary")
    ap.add_argument("--bin-dir", required=True, help="where the scheduler and monitor-worker binaries are")
    args = ap.parse_args()

    server = TargetServer(("127.0.0.1", 0), Target)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    target = f"http://127.0.0.1:{server.server_address[1]}"
    env = dict(os.environ, OUTBOUND_ALLOW_PRIVATE="1", RUST_LOG=os.environ.get("RUST_LOG", "warn"))

    big = Api(args.api, organization(args.admin, "Worker check big", "business"))
    small = Api(args.api, organization(args.admin, "Worker check small", "pro"))
    made = monitors(big, target, "big", 250)
    made.update(monitors(small, target, "small", 30))
    # 250 in batches of 100, 100, 50; 30 in one.
    run(args, "handed over", env, made, batches=4)
    delete(made)

    made = monitors(Api(args.api, organization(args.admin, "Worker check twice", "pro")), target, "twice", 40)
    run(args, "delivered twice", env, made, batches=1, duplicate=True)
    delete(made)

    made = monitors(Api(args.api, organization(args.admin, "Worker check fallback", "pro")), target, "fallback", 20)
    run(args, "no such worker", env, made, batches=1, worker="no-such-function")

    print(f"{results['passed']} passed, {results['failed']} failed", flush=True)
    sys.exit(1 if results["failed"] else 0)


if __name__ == "__main__":
    main()
