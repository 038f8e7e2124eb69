"""Server CPU per request: drives the local server with keep-alive connections and reads
the server process's CPU time (user + system, all threads) from /proc before and after.
Usage: cpu_bench.py URL KEY PID SERVICE_ID [REQUESTS]"""
import http.client
import json
import glob
import os
import subprocess
import sys
import threading
import time
import urllib.parse

url, key, pid, service = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
requests = int(sys.argv[5]) if len(sys.argv) > 5 else 4000
host = urllib.parse.urlparse(url)
TICKS = os.sysconf("SC_CLK_TCK")
CONNECTIONS = int(os.environ.get("CONNECTIONS", "1"))


def cpu_seconds():
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


CALLGRIND = os.environ.get("CALLGRIND")  # the server runs under callgrind: count its instructions


def instructions(label):
    """Zeroes callgrind's counters (label None) or dumps them and returns the instructions
    counted since, all threads."""
    if label is None:
        subprocess.run(["callgrind_control", "-z", str(pid)], check=True, capture_output=True)
        return 0
    subprocess.run(["callgrind_control", "-d", label, str(pid)], check=True, capture_output=True)
    dump = max(glob.glob(f"{CALLGRIND}.*"), key=os.path.getmtime)
    for line in open(dump):
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    sys.exit(f"no totals in {dump}")


def drive(method, path, body_for, count):
    errors = []

    def worker(n, offset):
        conn = http.client.HTTPConnection(host.hostname, host.port)
        for i in range(n):
            body = body_for(offset + i)
            headers = {"Authorization": f"Bearer {key}"}
            if body is not None:
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            r.read()
            if r.status >= 300:
                errors.append(r.status)
        conn.close()

    per = count // CONNECTIONS
    threads = [threading.Thread(target=worker, args=(per, k * per)) for k in range(CONNECTIONS)]
    if CALLGRIND:
        instructions(None)
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cpu1, t1 = cpu_seconds(), time.perf_counter()
    counted = instructions(f"{method} {path}") if CALLGRIND else None
    if errors:
        sys.exit(f"{method} {path}: {len(errors)} responses were not 2xx, e.g. {errors[0]}")
    done = per * CONNECTIONS
    if CALLGRIND:  # CPU time under valgrind means nothing; its instruction count does
        return {"requests": done, "user_instructions_per_request": round(counted / done)}
    return {"requests": done, "cpu_us_per_request": round((cpu1 - cpu0) / done * 1e6, 1),
            "requests_per_second": round(done / (t1 - t0))}


statuses = ["degraded", "operational"]
patch = lambda i: json.dumps({"currentStatus": statuses[i % 2]})  # noqa: E731
drive("GET", "/api/v1/pages", lambda i: None, 400)  # warm up connections, caches, pools
ONLY = os.environ.get("ONLY", "")  # "read" or "write": one of the two (e.g. for a profile)
result = {}
if ONLY in ("", "read"):
    result["read GET /api/v1/pages"] = drive("GET", "/api/v1/pages", lambda i: None, requests)
if ONLY in ("", "write"):
    result["write PATCH /api/v1/services/{id}"] = drive("PATCH", f"/api/v1/services/{service}", patch, requests)
print(json.dumps(result, indent=2))
