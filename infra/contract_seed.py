"""Seeds the contract test's data through the real API and writes the schemathesis config
that hands its ids to every operation, so generated requests reach the logic behind each
route instead of stopping at `404`.

Usage: contract_seed.py BASE_URL KEY CONFIG_OUT

One of everything is kept for the reading and changing operations; the page `PATCH`
(which may rename or hide a page) gets a page of its own, and each `DELETE` a list of
things to delete, so they cannot take away what the other operations read. Webhook targets point at the local server itself,
which answers at once.
"""

import json
import sys
import urllib.error
import urllib.request
import uuid

BASE, KEY, OUT = sys.argv[1], sys.argv[2], sys.argv[3]
HEALTH = "getStatusHealth"


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(BASE + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {KEY}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req) as r:
            return json.load(r)["data"]
    except urllib.error.HTTPError as e:
        sys.exit(f"seeding failed: {method} {path} answered {e.code}: {e.read().decode()}")


def page(name, public=True):
    slug = f"contract-{name}-{uuid.uuid4().hex[:8]}"
    return call("POST", "/api/v1/pages", {"name": f"Contract {name}", "slug": slug, "isPublic": public})


target = BASE + "/robots.txt"


def one_of_everything(tag):
    """A page with a service, an incident, a maintenance, a monitor and a subscriber, a
    webhook, a delivery and a key."""
    p = page(tag)
    # A domain, so its check (`…/domain/verify`) has one to look at.
    call("PATCH", f"/api/v1/pages/{p['id']}", {"domain": f"{p['slug']}.localhost"})
    service = call("POST", f"/api/v1/pages/{p['id']}/services", {"name": f"API {tag}"})
    incident = call(
        "POST",
        f"/api/v1/pages/{p['id']}/incidents",
        {"title": "Slow API", "status": "investigating", "impact": "minor", "body": "Looking into it",
         "affectedServiceIds": [service["id"]]},
    )
    maintenance = call(
        "POST",
        f"/api/v1/pages/{p['id']}/maintenances",
        {"title": "Database upgrade", "body": "Brief read-only window",
         "scheduledFor": "2030-01-01T02:00:00Z", "scheduledUntil": "2030-01-01T03:00:00Z",
         "serviceIds": [service["id"]]},
    )
    monitor = call("POST", "/api/v1/monitors", {"name": f"Robots {tag}", "url": target})
    subscriber = call("POST", f"/api/v1/pages/{p['id']}/subscribers", {"type": "webhook", "url": target})
    webhook = call("POST", "/api/v1/webhooks", {"url": target})
    delivery = call("POST", f"/api/v1/webhooks/{webhook['id']}/test")
    key = call("POST", "/api/v1/keys", {"name": f"contract {tag}"})
    integration = call("POST", f"/api/v1/pages/{p['id']}/integrations", {"type": "generic", "name": f"Alerts {tag}"})
    return {
        "slug": p["slug"], "pageId": p["id"], "serviceId": service["id"], "incidentId": incident["id"],
        "maintenanceId": maintenance["id"], "monitorId": monitor["id"], "subscriberId": subscriber["id"],
        "webhookId": webhook["id"], "deliveryId": delivery["id"], "keyId": key["id"],
        "integrationId": integration["id"],
    }


kept = one_of_everything("kept")
# The tools' endpoint gets an integration of its own, which no other operation touches
# (the stateful phase may delete the kept one).
hook = call("POST", f"/api/v1/pages/{kept['pageId']}/integrations", {"type": "generic", "name": "Hook"})
renamed = page("renamed")

# Enough to delete for every DELETE the run sends: each DELETE operation draws its ids
# from a list of its own, so it deletes something real rather than answering `404` after
# its first success (and never takes away what the other operations read).
DOOMED = 60
host = page("doomed")
# Integrations are limited to 20 a page: the doomed ones spread over three pages.
doomed_pages = [page(f"hooks{i}")["id"] for i in range(3)]
doomed = {name: [] for name in ("pageId", "serviceId", "incidentId", "maintenanceId", "monitorId",
                                "subscriberId", "webhookId", "keyId", "integrationId")}
for i in range(DOOMED):
    doomed["pageId"].append(page(f"doomed{i}", public=False)["id"])
    doomed["serviceId"].append(call("POST", f"/api/v1/pages/{host['id']}/services", {"name": f"Doomed {i}"})["id"])
    doomed["incidentId"].append(call(
        "POST", f"/api/v1/pages/{host['id']}/incidents",
        {"title": f"Doomed {i}", "status": "investigating", "impact": "minor", "body": "Soon gone"})["id"])
    doomed["maintenanceId"].append(call(
        "POST", f"/api/v1/pages/{host['id']}/maintenances",
        {"title": f"Doomed {i}", "body": "Soon gone",
         "scheduledFor": "2030-01-01T02:00:00Z", "scheduledUntil": "2030-01-01T03:00:00Z"})["id"])
    doomed["monitorId"].append(call("POST", "/api/v1/monitors", {"name": f"Doomed {i}", "url": target})["id"])
    doomed["subscriberId"].append(
        call("POST", f"/api/v1/pages/{host['id']}/subscribers", {"type": "webhook", "url": target})["id"])
    doomed["webhookId"].append(call("POST", "/api/v1/webhooks", {"url": f"{target}?{i}"})["id"])
    doomed["keyId"].append(call("POST", "/api/v1/keys", {"name": f"doomed {i}"})["id"])
    doomed["integrationId"].append(call(
        "POST", f"/api/v1/pages/{doomed_pages[i // 20]}/integrations", {"type": "generic", "name": f"Doomed {i}"})["id"])

# Each operation gets its own values (a value set for all would also be the fallback of
# every `DELETE`, which would then delete what the others read): the kept ids, the page
# `PATCH` its own page, each `DELETE` a draw from its list.
lines = ["# Written by infra/contract_seed.py for one run of infra/contract.sh.", "",
         # An operation that never gets past `404` fails the run: its logic went untested.
         "[warnings]", 'fail-on = ["missing_test_data"]']
for name, ids in doomed.items():
    lines += ["", f"[dictionaries.doomed-{name}]", "values = [" + ", ".join(f'"{i}"' for i in ids) + "]"]
spec = json.load(open("openapi.json"))
for path, operations in spec["paths"].items():
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    for method, operation in operations.items():
        if not isinstance(operation, dict) or "operationId" not in operation:
            continue
        op_id = operation["operationId"]
        values = {}
        for name in names:
            if method == "delete" and name in doomed:
                values[name] = f'{{ dictionary = "doomed-{name}" }}'
            elif op_id == "updatePage" and name == "pageId":
                values[name] = f'"{renamed["id"]}"'
            else:
                values[name] = f'"{kept[name]}"'
        if op_id == "receiveAlert":
            # The tool's endpoint takes the integration's token, not the run's API key.
            values = {"integrationId": f'"{hook["id"]}"', "token": f'"{hook["token"]}"'}
        if op_id == HEALTH:
            # `503` is this route's answer while the page is not operational (documented).
            lines += ["", "[[operations]]", f'include-operation-id = "{op_id}"',
                      "[operations.checks.not_a_server_error]",
                      "expected-statuses = [200, 204, 304, 400, 404, 405, 406, 503]"]
            if values:
                lines += ["[operations.parameters]"]
        elif values:
            lines += ["", "[[operations]]", f'include-operation-id = "{op_id}"', "[operations.parameters]"]
        lines += [f'"{"query" if name == "token" else "path"}.{name}" = {value}' for name, value in values.items()]
open(OUT, "w").write("\n".join(lines) + "\n")
print(json.dumps({"kept": kept}, indent=1), file=sys.stderr)
