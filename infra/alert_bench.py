"""Drives the alert benchmark against a running local server (infra/alert-bench.sh).

One page with one webhook subscriber (a receiver on 127.0.0.1 answering 204) and 20
generic alert integrations (the flap guard lets each open five incidents an hour). M
alerts, one after another, each a new group: for each, the time from sending the alert
to (1) its incident in the page's Statuspage JSON (`incidents/unresolved.json`, polled)
and (2) the subscriber's delivery arriving. Prints p50 and p95 of both.
"""

import json
import statistics
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

base, key, samples = sys.argv[1], sys.argv[2], int(sys.argv[3])
arrivals = {}  # incident id -> arrival time
lock = threading.Lock()


class Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        at = time.perf_counter()
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
        incident = (body.get("data") or {}).get("incident") or {}
        if body.get("type") == "incident.created" and incident.get("id"):
            with lock:
                arrivals.setdefault(incident["id"], at)
        self.send_response(204)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
server.daemon_threads = True
threading.Thread(target=server.serve_forever, daemon=True).start()


def request(method, url, body=None, token=None):
    headers = {"content-type": "application/json", "authorization": f"Bearer {token or key}"}
    req = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body else None, headers=headers)
    with urllib.request.urlopen(req) as r:
        return json.load(r)


slug = f"alerts-{int(time.time())}"
page = request("POST", f"{base}/api/v1/pages", {"name": "Alert bench", "slug": slug})["data"]["id"]
request("POST", f"{base}/api/v1/pages/{page}/subscribers",
        {"type": "webhook", "url": f"http://127.0.0.1:{server.server_address[1]}/hook"})
hooks = []
for i in range(20):
    made = request("POST", f"{base}/api/v1/pages/{page}/integrations", {"type": "generic", "name": f"bench {i}"})
    hooks.append((f"{base}/api/v1/hooks/{made['data']['id']}", made["data"]["token"]))
unresolved = f"{base}/status/{slug}/api/v2/incidents/unresolved.json"

visible, delivered = [], []
for n in range(samples):
    url, token = hooks[n % len(hooks)]
    start = time.perf_counter()
    reply = request("POST", url, {"key": f"alert-{n}", "status": "firing", "title": f"Alert {n}"}, token)
    incident = reply["data"]["incidentId"]
    assert reply["data"]["action"] == "opened", reply
    while True:
        with urllib.request.urlopen(unresolved) as r:
            if any(i["id"] == incident for i in json.load(r)["incidents"]):
                visible.append(time.perf_counter() - start)
                break
        time.sleep(0.002)
    deadline = time.perf_counter() + 30
    while time.perf_counter() < deadline:
        with lock:
            at = arrivals.get(incident)
        if at:
            delivered.append(at - start)
            break
        time.sleep(0.002)
    else:
        sys.exit(f"alert {n}: no delivery within 30 s")


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] * 1000


print(json.dumps({
    "alerts": samples,
    "alert_to_page_json_ms": {"p50": round(pct(visible, 50), 1), "p95": round(pct(visible, 95), 1)},
    "alert_to_first_delivery_ms": {"p50": round(pct(delivered, 50), 1), "p95": round(pct(delivered, 95), 1),
                                   "mean": round(statistics.mean(delivered) * 1000, 1)},
}, indent=2))
