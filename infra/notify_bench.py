"""Drives the notification benchmark against a running local server (infra/notify-bench.sh).

1. Fan-out: N webhook subscribers on one page (a receiver on 127.0.0.1 answering 204),
   one incident opened; the time from the API's answer (the event is committed by then)
   to the last of the N deliveries arriving.
2. Latency: one subscriber on another page, M incidents opened one after another; for
   each, the time from the API's answer to the delivery arriving; p50 and p95.
"""

import json
import statistics
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

base, key, fanout, samples = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
arrivals = {}  # path -> [(arrival time, body)]
lock = threading.Lock()


class Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        at = time.perf_counter()
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        with lock:
            arrivals.setdefault(self.path, []).append((at, json.loads(body)))
        self.send_response(204)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
server.daemon_threads = True
threading.Thread(target=server.serve_forever, daemon=True).start()
hook = f"http://127.0.0.1:{server.server_address[1]}"


def api(method, path, body=None):
    req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body else None,
                                 headers={"authorization": f"Bearer {key}", "content-type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def page(name):
    return api("POST", "/api/v1/pages", {"name": name, "slug": f"{name.lower()}-{time.time_ns()}"})["data"]["id"]


def incident(page_id, title):
    return api("POST", f"/api/v1/pages/{page_id}/incidents",
               {"title": title, "impact": "major", "status": "investigating", "body": "Benchmark."})["data"]["id"]


def wait_for(path, count, timeout=300):
    end = time.perf_counter() + timeout
    while time.perf_counter() < end:
        with lock:
            got = len(arrivals.get(path, []))
        if got >= count:
            return
        time.sleep(0.005)
    raise SystemExit(f"only {got} of {count} deliveries to {path} arrived in {timeout} s")


# 1. Fan-out.
fan_page = page("Fanout")
with ThreadPoolExecutor(16) as pool:
    list(pool.map(lambda i: api("POST", f"/api/v1/pages/{fan_page}/subscribers",
                                {"type": "webhook", "url": f"{hook}/fan"}), range(fanout)))
time.sleep(1.5)  # let the subscriber.created events pass through the notifier first
sent = time.perf_counter()
incident(fan_page, "Fan-out")
committed = time.perf_counter()
wait_for("/fan", fanout)
with lock:
    times = sorted(at for at, body in arrivals["/fan"] if body["type"] == "incident.created")
print(f"fan-out: {fanout} webhook subscribers, one incident")
print(f"  first delivery  {1000 * (times[0] - committed):8.0f} ms after the API answered")
print(f"  all delivered   {1000 * (times[-1] - committed):8.0f} ms after the API answered "
      f"({fanout / (times[-1] - times[0]):.0f} deliveries/s once started)")

# 2. Commit to first attempt.
one = page("Latency")
api("POST", f"/api/v1/pages/{one}/subscribers", {"type": "webhook", "url": f"{hook}/one"})
time.sleep(1.5)
latencies = []
for i in range(samples):
    incident(one, f"Sample {i}")
    committed = time.perf_counter()
    wait_for("/one", i + 1, timeout=30)
    with lock:
        latencies.append(arrivals["/one"][-1][0] - committed)
    time.sleep(0.05)
q = statistics.quantiles([1000 * x for x in latencies], n=100)
print(f"commit to first attempt: {samples} incidents, one subscriber")
print(f"  p50 {q[49]:.0f} ms   p95 {q[94]:.0f} ms   max {1000 * max(latencies):.0f} ms")
