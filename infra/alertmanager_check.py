#!/usr/bin/env python3
"""A real Prometheus Alertmanager (Debian's `prometheus-alertmanager`) routes alerts to
the local server's hook, configured as the README's recipe says (`webhook_configs` with
`http_config.authorization`). Alerts are posted to Alertmanager's own API, the way
Prometheus does, and the page is read back through our API:

1. firing opens one incident with the right service and impact;
2. a second alert in the group adds one update;
3. Alertmanager's repeats (every `repeat_interval`) add nothing;
4. resolving resolves the incident and gives the service back;
5. an incident a person updated in between is left open with a note.

Started by alertmanager-check.sh with the local server running. Prints "N passed, N
failed" and exits non-zero on a failure.
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

results = {"passed": 0, "failed": 0}


def check(name, ok, detail=""):
    results["passed" if ok else "failed"] += 1
    print(f"{'ok' if ok else 'FAILED'}: {name}{'' if ok else f' ({detail})'}", file=sys.stderr, flush=True)


def call(method, url, key=None, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    with urllib.request.urlopen(req, timeout=10) as r:
        text = r.read()
        return json.loads(text) if text else None


def wait_for(what, probe, timeout=40):
    """Polls `probe` until it returns something truthy; that, or None after `timeout`."""
    end = time.time() + timeout
    while time.time() < end:
        value = probe()
        if value:
            return value
        time.sleep(0.25)
    print(f"gave up waiting for {what}", file=sys.stderr)
    return None


def now(offset=0):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", required=True)
    ap.add_argument("--admin", required=True)
    ap.add_argument("--alertmanager", default="alertmanager")
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args()
    api = args.api

    org = json.loads(subprocess.check_output([args.admin, "org", "create", "--name", "Alerts", "--plan", "business"]))
    key = json.loads(subprocess.check_output(
        [args.admin, "key", "create", "--org", org["id"], "--name", "am", "--rate-limit", "100000"]
    ))["key"]
    page = call("POST", f"{api}/api/v1/pages", key, {"name": "Acme", "slug": f"am-{int(time.time())}"})["data"]["id"]
    service = call("POST", f"{api}/api/v1/pages/{page}/services", key, {"name": "API"})["data"]["id"]
    integration = call(
        "POST", f"{api}/api/v1/pages/{page}/integrations", key, {"type": "alertmanager", "name": "Prometheus"}
    )["data"]
    hook_id = integration["id"]

    # The README's recipe, with short timers so the run takes seconds, not minutes.
    config = f"""route:
  receiver: livestatus
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 3s
receivers:
  - name: livestatus
    webhook_configs:
      - url: {api}/api/v1/hooks/{hook_id}
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: {integration['token']}
"""
    work = tempfile.mkdtemp(prefix="alertmanager-")
    with open(os.path.join(work, "alertmanager.yml"), "w") as f:
        f.write(config)
    am_url = f"http://127.0.0.1:{args.port}"
    log = open(os.path.join(os.environ.get("LOG_DIR", work), "alertmanager.log"), "w")
    am = subprocess.Popen(
        [
            args.alertmanager,
            f"--config.file={work}/alertmanager.yml",
            f"--storage.path={work}/data",
            f"--web.listen-address=127.0.0.1:{args.port}",
            "--cluster.listen-address=",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        ready = wait_for("Alertmanager", lambda: probe_ready(am_url), timeout=30)
        check("Alertmanager starts", bool(ready))
        if not ready:
            return

        def alert(name, instance, ends=None, summary="API error rate above 5%"):
            a = {
                "labels": {"alertname": name, "service": "api", "severity": "critical", "instance": instance},
                "annotations": {"summary": summary},
                "startsAt": now(-60),
            }
            if ends:
                a["endsAt"] = ends
            return a

        def open_incidents():
            return call("GET", f"{api}/api/v1/pages/{page}/incidents?open=true", key)["data"]

        def incident(i):
            return call("GET", f"{api}/api/v1/incidents/{i}", key)["data"]

        def service_status():
            return call("GET", f"{api}/api/v1/services/{service}", key)["data"]["currentStatus"]

        def requests():
            return call("GET", f"{api}/api/v1/integrations/{hook_id}/requests", key)["data"]

        # 1. Firing opens one incident with the service and the impact.
        call("POST", f"{am_url}/api/v2/alerts", body=[alert("HighErrorRate", "api-1")])
        opened = wait_for("the incident", lambda: open_incidents())
        check("a firing alert opens an incident", bool(opened) and len(opened) == 1, opened)
        if not opened:
            return
        inc = incident(opened[0]["id"])
        check("its impact is major (critical)", inc["impact"] == "major", inc["impact"])
        check("it names the service", inc["affectedServiceIds"] == [service], inc["affectedServiceIds"])
        check("the service is in outage", service_status() == "outage", service_status())

        # 2. A second alert in the group adds one update.
        call("POST", f"{am_url}/api/v2/alerts", body=[alert("HighErrorRate", "api-1"), alert("HighErrorRate", "api-2")])
        updated = wait_for("the update", lambda: len(incident(inc["id"])["updates"]) >= 2)
        check("a second alert in the group adds an update", bool(updated), incident(inc["id"])["updates"])

        # 3. Repeats add nothing.
        repeats = wait_for(
            "two repeats", lambda: sum(1 for r in requests() if r["outcome"] == "ignored") >= 2, timeout=30
        )
        check("Alertmanager re-sent the group", bool(repeats), [r["outcome"] for r in requests()])
        updates = incident(inc["id"])["updates"]
        check("its repeats add nothing", len(updates) == 2, [u["body"] for u in updates])
        check("still one open incident", len(open_incidents()) == 1, open_incidents())

        # 4. Resolving resolves the incident and gives the service back.
        past = now(-1)
        call(
            "POST",
            f"{am_url}/api/v2/alerts",
            body=[alert("HighErrorRate", "api-1", ends=past), alert("HighErrorRate", "api-2", ends=past)],
        )
        resolved = wait_for("the resolution", lambda: incident(inc["id"])["status"] == "resolved")
        check("resolving the alerts resolves the incident", bool(resolved), incident(inc["id"])["status"])
        check("the service is operational again", service_status() == "operational", service_status())

        # 5. A person updates the next incident: it is left open with a note.
        call("POST", f"{am_url}/api/v2/alerts", body=[alert("DiskFull", "db-1", summary="Database disk almost full")])
        second = wait_for("the second incident", lambda: open_incidents())
        if not second:
            check("a second group opens a second incident", False)
            return
        second_id = second[0]["id"]
        time.sleep(1.1)  # a person's change is a later instant than the tool's
        call(
            "POST",
            f"{api}/api/v1/incidents/{second_id}/updates",
            key,
            {"body": "We are freeing space.", "status": "identified"},
        )
        call("POST", f"{am_url}/api/v2/alerts", body=[alert("DiskFull", "db-1", ends=now(-1))])
        noted = wait_for(
            "the note", lambda: "changed by hand" in incident(second_id)["updates"][-1]["body"]
        )
        after = incident(second_id)
        check("an incident changed by hand gets a note when its alerts resolve", bool(noted), after["updates"][-1])
        check("and stays open", after["status"] == "identified", after["status"])
        print("the requests Alertmanager made:", file=sys.stderr)
        for r in reversed(requests()):
            print(f"  {r['receivedAt']} {r['status']} {r['outcome']}", file=sys.stderr)
    finally:
        am.terminate()
        try:
            am.wait(timeout=10)
        except subprocess.TimeoutExpired:
            am.kill()


def probe_ready(url):
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


if __name__ == "__main__":
    main()
    print(f"alertmanager check: {results['passed']} passed, {results['failed']} failed", file=sys.stderr)
    sys.exit(1 if results["failed"] else 0)
