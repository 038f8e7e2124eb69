#!/usr/bin/env python3
"""A Lambda Runtime API emulator: runs each function's real binary (a `bootstrap`) the way
Lambda does, hands it the sample events of `events/<function>/`, and checks each response
against `events/expected.json`. It also times cold starts: from process start to the
first `next` call (ready for its first event) and to its first response.

    lambda_emulator.py --bin-dir target/lambda            # cargo lambda build layout
    lambda_emulator.py --bin-dir target/debug --flat       # plain cargo build layout
    lambda_emulator.py ... --cold-starts 20 --json out.json # cold-start benchmark

Prints "N passed, N failed" and exits non-zero on a failure.
"""

import argparse
import base64
import gzip
import json
import os
import queue
import statistics
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ["pages", "services", "incidents", "maintenances", "monitors", "keys", "og-ad", "status"]


class Runtime:
    """One emulated execution environment: a queue of events, the responses posted."""

    def __init__(self):
        self.events = queue.Queue()
        self.responses = {}
        self.done = threading.Condition()
        self.first_next = None
        self.first_response = None
        self.init_error = None


def make_handler(runtime):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, status, body=b"{}", headers=None):
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path != "/2018-06-01/runtime/invocation/next":
                return self.reply(404)
            if runtime.first_next is None:
                runtime.first_next = time.perf_counter()
            request_id, event = runtime.events.get()
            deadline = int(time.time() * 1000) + 30_000
            self.reply(200, event, {
                "Lambda-Runtime-Aws-Request-Id": request_id,
                "Lambda-Runtime-Deadline-Ms": str(deadline),
                "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:123456789012:function:livestatus",
                "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000;Sampled=0",
            })

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            parts = self.path.split("/")
            now = time.perf_counter()
            if self.path.endswith("/init/error"):
                runtime.init_error = body.decode(errors="replace")
            elif len(parts) == 6 and parts[5] in ("response", "error"):
                # Acknowledge first: the function may be stopped as soon as it is recorded.
                self.reply(202, b'{"status":"OK"}')
                if runtime.first_response is None:
                    runtime.first_response = now
                with runtime.done:
                    runtime.responses[parts[4]] = (parts[5], body)
                    runtime.done.notify_all()
                return
            else:
                return self.reply(404)
            self.reply(202, b'{"status":"OK"}')

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # The function is killed once its last response is in; its open `next` call breaks.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def binary_path(bin_dir, function, flat):
    return Path(bin_dir) / function if flat else Path(bin_dir) / function / "bootstrap"


def run_function(binary, function, events, env_extra, timeout=30.0):
    """Starts the binary under a fresh runtime, sends `events` (name, bytes), returns the
    responses by name and the cold-start timings in milliseconds."""
    runtime = Runtime()
    server = Server(("127.0.0.1", 0), make_handler(runtime))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ids = {}
    for name, event in events:
        request_id = str(uuid.uuid4())
        ids[request_id] = name
        runtime.events.put((request_id, event))
    env = dict(os.environ)
    env.update({
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
        "AWS_LAMBDA_FUNCTION_NAME": f"livestatus-{function}",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/livestatus-{function}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/11/22/[$LATEST]emulator",
        "AWS_REGION": env.get("AWS_REGION", "us-east-1"),
        "RUST_LOG": env.get("RUST_LOG", "warn"),
    })
    env.update(env_extra)
    started = time.perf_counter()
    proc = subprocess.Popen([str(binary)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        with runtime.done:
            runtime.done.wait_for(lambda: len(runtime.responses) == len(events) or proc.poll() is not None, timeout)
    finally:
        peak_rss_kb = None
        try:  # the process's peak resident memory (its high-water mark), for MemorySize
            status = Path(f"/proc/{proc.pid}/status").read_text()
            peak_rss_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
        except (OSError, StopIteration, ValueError):
            pass
        proc.kill()
        stderr = proc.communicate()[1].decode(errors="replace")
        server.shutdown()
    timings = {
        "ready_ms": (runtime.first_next - started) * 1000 if runtime.first_next else None,
        "first_response_ms": (runtime.first_response - started) * 1000 if runtime.first_response else None,
        "peak_rss_kb": peak_rss_kb,
    }
    responses = {ids[rid]: value for rid, value in runtime.responses.items()}
    if runtime.init_error or len(responses) < len(events):
        print(f"  {function}: init error {runtime.init_error!r}; stderr:\n{stderr[-2000:]}", file=sys.stderr)
    return responses, timings


def decoded(reply, headers):
    """A response body as bytes: base64 and gzip undone."""
    body = reply.get("body") or ""
    raw = base64.b64decode(body) if reply.get("isBase64Encoded") else body.encode()
    return gzip.decompress(raw) if headers.get("content-encoding") == "gzip" else raw


def check(name, expected, kind, body):
    """Whether a response matches what the event expects, with a reason when it does not."""
    if kind != "response":
        return False, f"function error: {body[:300]!r}"
    reply = json.loads(body)
    status = reply.get("statusCode")
    if status != expected:
        return False, f"status {status}, expected {expected}: {str(reply.get('body'))[:300]}"
    headers = {k.lower(): v for k, v in (reply.get("headers") or {}).items()}
    if "x-request-id" not in headers:
        return False, "no X-Request-Id"
    if headers.get("content-type") == "image/png":
        if not reply.get("isBase64Encoded"):
            return False, "PNG not base64-encoded"
        png = base64.b64decode(reply["body"])
        if not png.startswith(b"\x89PNG\r\n\x1a\n"):
            return False, "body is not a PNG"
    elif status >= 400 and headers.get("content-type", "").startswith("text/html"):
        # The status pages' HTML 404, gzipped for a reader that accepts it.
        html = decoded(reply, headers).decode()
        if not html.startswith("<!doctype html>") or "not found" not in html:
            return False, f"not the HTML 404 page: {html[:200]}"
    elif status >= 400:
        error = json.loads(decoded(reply, headers)).get("error", {})
        if not error.get("code") or error.get("requestId") != headers["x-request-id"]:
            return False, f"not the error envelope: {reply['body'][:200]}"
    return True, f"{status}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--flat", action="store_true", help="binaries are <bin-dir>/<function>, not <function>/bootstrap")
    ap.add_argument("--cold-starts", type=int, default=0, help="also time this many cold starts per function")
    ap.add_argument("--json", help="write the cold-start results here")
    args = ap.parse_args()

    expected = json.loads((ROOT / "events" / "expected.json").read_text())
    passed = failed = 0
    for function in FUNCTIONS:
        binary = binary_path(args.bin_dir, function, args.flat)
        names = sorted(n for n in expected if n.startswith(function + "/"))
        events = [(n, (ROOT / "events" / n).read_bytes()) for n in names]
        responses, timings = run_function(binary, function, events, {})
        for name in names:
            if name not in responses:
                ok, why = False, "no response"
            else:
                ok, why = check(name, expected[name], *responses[name])
            passed, failed = passed + ok, failed + (not ok)
            print(f"{'ok' if ok else 'FAILED'}: {name} ({why})")
        if timings["peak_rss_kb"]:
            print(f"peak memory {function:<10} {timings['peak_rss_kb'] / 1024:.1f} MiB over {len(events)} events")

    results = {}
    for function in FUNCTIONS if args.cold_starts else []:
        binary = binary_path(args.bin_dir, function, args.flat)
        first = sorted(n for n in expected if n.startswith(function + "/") and expected[n] < 300)[0]
        event = (first, (ROOT / "events" / first).read_bytes())
        ready, first_response = [], []
        for _ in range(args.cold_starts):
            _, t = run_function(binary, function, [event], {})
            ready.append(t["ready_ms"])
            first_response.append(t["first_response_ms"])
        results[function] = {
            "event": first,
            "ready_ms_median": statistics.median(ready),
            "ready_ms_max": max(ready),
            "first_response_ms_median": statistics.median(first_response),
            "first_response_ms_max": max(first_response),
            "binary_bytes": binary.stat().st_size,
        }
        r = results[function]
        print(f"cold start {function:<10} ready {r['ready_ms_median']:.1f} ms (max {r['ready_ms_max']:.1f}), "
              f"first response {r['first_response_ms_median']:.1f} ms (max {r['first_response_ms_max']:.1f}) over {args.cold_starts} starts")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")

    print(f"lambda events: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
