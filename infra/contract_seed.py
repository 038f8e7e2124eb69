"""Seeds the contract test's data through the real API and writes the schemathesis config
that hands its ids to every operation, so generated requests reach the logic behind each
route instead of stopping at `404`.

Usage: contract_seed.py BASE_URL KEY CONFIG_OUT

One of everything is kept for the reading and changing operations; each `DELETE`, and the
page `PATCH` (which may rename or hide a page), gets one of its own, so they cannot take
away what the other operations read. Webhook targets point at the local server itself,
which answers at once.
"""

import json
import sys
import urllib.error
import urllib.request
import uuid

BASE, KEY, OUT = sys.argv[1], sys.argv[2], sys.argv[3]


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
    return {
        "slug": p["slug"], "pageId": p["id"], "serviceId": service["id"], "incidentId": incident["id"],
        "maintenanceId": maintenance["id"], "monitorId": monitor["id"], "subscriberId": subscriber["id"],
        "webhookId": webhook["id"], "deliveryId": delivery["id"], "keyId": key["id"],
    }


kept = one_of_everything("kept")
doomed = one_of_everything("doomed")
renamed = page("renamed")

lines = ["# Written by infra/contract_seed.py for one run of infra/contract.sh.", "", "[parameters]"]
lines += [f'"path.{name}" = "{value}"' for name, value in kept.items()]
overrides = {
    "updatePage": {"pageId": renamed["id"]},
    "deletePage": {"pageId": doomed["pageId"]},
    "deleteService": {"serviceId": doomed["serviceId"]},
    "deleteIncident": {"incidentId": doomed["incidentId"]},
    "cancelMaintenance": {"maintenanceId": doomed["maintenanceId"]},
    "deleteMonitor": {"monitorId": doomed["monitorId"]},
    "deleteSubscriber": {"subscriberId": doomed["subscriberId"]},
    "deleteWebhook": {"webhookId": doomed["webhookId"]},
    "revokeKey": {"keyId": doomed["keyId"]},
}
for operation, params in overrides.items():
    lines += ["", "[[operations]]", f'include-operation-id = "{operation}"', "[operations.parameters]"]
    lines += [f'"path.{name}" = "{value}"' for name, value in params.items()]
open(OUT, "w").write("\n".join(lines) + "\n")
print(json.dumps({"kept": kept, "doomed": doomed}, indent=1), file=sys.stderr)
