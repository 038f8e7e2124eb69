#!/usr/bin/env python3
"""An emulator of Lambda's Invoke API in front of real function binaries, so the
scheduler's hand-over of work orders to the monitor-worker function runs offline the way
it runs on AWS: `POST /2015-03-31/functions/<name>/invocations`, with
`X-Amz-Invocation-Type: Event` (queued, answered 202, retried twice on a function
error, as Lambda does) or `RequestResponse` (answered with the function's result). Each
function named runs as `--environments` execution environments of its binary under the
Runtime API (see lambda_emulator.py). An unknown function answers 404
`ResourceNotFoundException`.

    invoke_emulator.py --port 9100 --bin-dir target/debug \
        --function monitor-worker=4 --function scheduler=1 [--duplicate]

`--duplicate` delivers every Event invocation twice (Lambda delivers at least once).
`GET /stats` answers the counts per function: invoked, succeeded, failed, retried.
`--invoked-by monitor-worker=scheduler` says whose code invokes a function: each such
invocation is appended to the file named by `AWS_CALL_LOG` as the permission it needs
(`scheduler lambda:InvokeFunction MonitorWorkerFunction`), for the least-privilege check
of tests/policy.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lambda_emulator import Runtime, Server, make_handler  # noqa: E402

RETRIES = 2


class Function:
    """A function's execution environments, fed from one queue of events."""

    def __init__(self, name, binary, environments):
        self.name = name
        self.runtime = Runtime()
        self.stats = {"invoked": 0, "succeeded": 0, "failed": 0, "retried": 0, "pending": 0}
        self.lock = threading.Lock()
        self.attempts = {}
        self.waiters = {}
        self.procs = []
        server = Server(("127.0.0.1", 0), make_handler(self.runtime))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        env = dict(os.environ)
        env.update({
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
            "AWS_LAMBDA_FUNCTION_NAME": f"livestatus-{name}",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_REGION": env.get("AWS_REGION", "us-east-1"),
        })
        for _ in range(environments):
            # The functions' logs go to stderr: stdout is the emulator's own.
            self.procs.append(subprocess.Popen([str(binary)], env=env, stdout=sys.stderr))
        threading.Thread(target=self.settle, daemon=True).start()

    def invoke(self, payload, waiter=None):
        request_id = str(uuid.uuid4())
        with self.lock:
            self.stats["invoked"] += 1
            self.stats["pending"] += 1
            self.attempts[request_id] = (payload, 0)
            if waiter is not None:
                self.waiters[request_id] = waiter
        self.runtime.events.put((request_id, payload))
        return request_id

    def settle(self):
        """Records each result; a failed Event invocation is queued again, twice at most."""
        seen = set()
        while True:
            with self.runtime.done:
                self.runtime.done.wait_for(lambda: set(self.runtime.responses) - seen)
                fresh = {k: v for k, v in self.runtime.responses.items() if k not in seen}
                seen.update(fresh)
            for request_id, (kind, body) in fresh.items():
                with self.lock:
                    payload, retries = self.attempts.pop(request_id)
                    waiter = self.waiters.pop(request_id, None)
                    if kind == "error" and waiter is None and retries < RETRIES:
                        self.stats["retried"] += 1
                        again = str(uuid.uuid4())
                        self.attempts[again] = (payload, retries + 1)
                        self.runtime.events.put((again, payload))
                        continue
                    self.stats["succeeded" if kind == "response" else "failed"] += 1
                    self.stats["pending"] -= 1
                if waiter is not None:
                    waiter.append((kind, body))
                    with self.runtime.done:
                        self.runtime.done.notify_all()


def logical_id(name):
    """`monitor-worker` → `MonitorWorkerFunction`, the template's resource."""
    return "".join(part.capitalize() for part in name.split("-")) + "Function"


def record_use(invoked_by, name):
    caller, log = invoked_by.get(name), os.environ.get("AWS_CALL_LOG")
    if caller and log:
        with open(log, "a") as f:
            f.write(f"{caller} lambda:InvokeFunction {logical_id(name)}\n")


def make_api(functions, duplicate, invoked_by):
    class Api(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, status, body=b"", headers=None):
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path == "/stats":
                return self.reply(200, json.dumps({n: f.stats for n, f in functions.items()}).encode())
            self.reply(404)

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            parts = self.path.split("?")[0].split("/")
            if len(parts) != 5 or parts[1] != "2015-03-31" or parts[4] != "invocations":
                return self.reply(404, b'{"Type":"User","message":"unknown path"}')
            name = parts[3].split(":")[-1].removeprefix("livestatus-")
            function = functions.get(name)
            if function is None:
                error = {"Type": "User", "message": f"Function not found: {parts[3]}"}
                return self.reply(404, json.dumps(error).encode(), {"x-amzn-ErrorType": "ResourceNotFoundException"})
            record_use(invoked_by, name)
            kind = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
            if kind == "Event":
                function.invoke(body)
                if duplicate:
                    function.invoke(body)
                return self.reply(202)
            waiter = []
            function.invoke(body, waiter)
            with function.runtime.done:
                function.runtime.done.wait_for(lambda: waiter, 900)
            result, payload = waiter[0] if waiter else ("error", b'{"errorMessage":"timed out"}')
            headers = {"X-Amz-Executed-Version": "$LATEST"}
            if result == "error":
                headers["X-Amz-Function-Error"] = "Unhandled"
            self.reply(200, payload, headers)

    return Api


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--bin-dir", required=True, help="the functions' binaries, <bin-dir>/<function>")
    ap.add_argument("--function", action="append", required=True, help="name=environments")
    ap.add_argument("--duplicate", action="store_true")
    ap.add_argument("--invoked-by", action="append", default=[], help="function=caller")
    args = ap.parse_args()
    invoked_by = dict(spec.partition("=")[::2] for spec in args.invoked_by)
    functions = {}
    for spec in args.function:
        name, _, count = spec.partition("=")
        functions[name] = Function(name, Path(args.bin_dir) / name, int(count or 1))
    server = Server(("127.0.0.1", args.port), make_api(functions, args.duplicate, invoked_by))
    # Stopped with SIGTERM, the emulator takes its functions' processes with it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"invoke emulator on 127.0.0.1:{args.port}: {', '.join(functions)}", flush=True)
    try:
        server.serve_forever()
    finally:
        for f in functions.values():
            for p in f.procs:
                p.kill()


if __name__ == "__main__":
    main()
