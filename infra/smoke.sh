#!/usr/bin/env bash
# End-to-end check of the README quick start: runs ./infra/run-local.sh, bootstraps an
# org and key with livestatus-admin, creates and lists a page with curl, restarts the
# stack and checks that the data survived. Prints "N passed, N failed".
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT_DIR"

export PORT=$(free_port) DYNAMODB_PORT=$(free_port) SES_PORT=$(free_port)
export LIVESTATUS_DATA_DIR=$(mktemp -d)
export TABLE_NAME=livestatus
base="http://127.0.0.1:$PORT"
passed=0; failed=0
check() { # check NAME COMMAND...
  if "${@:2}"; then passed=$((passed + 1)); log "ok: $1"; else failed=$((failed + 1)); log "FAILED: $1"; fi
}

start_stack() {
  ./infra/run-local.sh >"$LIVESTATUS_DATA_DIR/server.log" 2>&1 &
  stack=$!
  for _ in $(seq 1 600); do
    grep -q "listening on" "$LIVESTATUS_DATA_DIR/server.log" 2>/dev/null && return 0
    kill -0 "$stack" 2>/dev/null || { cat "$LIVESTATUS_DATA_DIR/server.log"; return 1; }
    sleep 0.5
  done
  return 1
}
stop_stack() { kill "$stack" 2>/dev/null || true; wait "$stack" 2>/dev/null || true; }
trap 'stop_stack; rm -rf "$LIVESTATUS_DATA_DIR"' EXIT

start_stack
admin() { DYNAMODB_ENDPOINT="http://127.0.0.1:$DYNAMODB_PORT" ./target/debug/livestatus-admin "$@"; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

org=$(admin org create --name "Acme" --plan pro | json "['id']")
key=$(admin key create --org "$org" --name "Production CI" | json "['key']")
check "admin printed a key" test "${key:0:8}" = "ls_live_"
check "admin rejects a bad plan" bash -c "! DYNAMODB_ENDPOINT=http://127.0.0.1:$DYNAMODB_PORT ./target/debug/livestatus-admin org create --name x --plan gold 2>/dev/null"

slug="acme-$RANDOM"
status=$(curl -s -o "$LIVESTATUS_DATA_DIR/page.json" -w '%{http_code}' -X POST "$base/api/v1/pages" \
  -H "Authorization: Bearer $key" -H "Content-Type: application/json" \
  -d "{\"name\": \"Acme Status\", \"slug\": \"$slug\"}")
check "curl creates a page (201)" test "$status" = 201
page=$(json "['data']['id']" <"$LIVESTATUS_DATA_DIR/page.json")

stop_stack
start_stack
listed=$(curl -s "$base/api/v1/pages" -H "X-API-Key: $key" | json "['data'][0]['id']")
check "the page survives a restart of the local stack" test "$listed" = "$page"

# The reference's "post an incident from GitHub Actions" example, as written, host changed.
PAGE_ID=$page LIVESTATUS_API_KEY=$key
curl -X POST "$base/api/v1/pages/$PAGE_ID/incidents" \
-H "Authorization: Bearer $LIVESTATUS_API_KEY" \
-H "Content-Type: application/json" \
-d '{
"title": "Deployment rollback in progress",
"impact": "minor",
"status": "monitoring",
"body": "Rolling back web-app to v2.41.0 due to a regression."
}' >"$LIVESTATUS_DATA_DIR/incident.json" 2>/dev/null
check "the reference curl example opens an incident" \
  test "$(json "['data']['updates'][0]['status']" <"$LIVESTATUS_DATA_DIR/incident.json")" = monitoring
incident=$(json "['data']['id']" <"$LIVESTATUS_DATA_DIR/incident.json")
status=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$base/api/v1/incidents/$incident/updates" \
  -H "Authorization: Bearer $key" -H "Content-Type: application/json" \
  -d '{"body": "Rollback complete.", "status": "resolved"}')
check "resolving it with an update (201)" test "$status" = 201
resolved=$(curl -s "$base/api/v1/incidents/$incident" -H "Authorization: Bearer $key" | json "['data']['resolvedAt'] is not None")
check "the incident is resolved" test "$resolved" = True

# The public page, as a visitor and a Statuspage client see it.
html=$(curl -s "$base/status/$slug")
check "the public page shows the resolved incident" bash -c "grep -q 'Deployment rollback in progress' <<<\"\$1\"" _ "$html"
indicator=$(curl -s "$base/status/$slug/api/v2/status.json" | json "['status']['indicator']")
check "its Statuspage status.json says none" test "$indicator" = none

# A visitor signs up by email; the confirmation arrives at the local SES; its link works.
curl -s -o /dev/null -X POST "$base/status/$slug/subscribe" -d 'email=visitor@example.com'
mail=""
for _ in $(seq 1 50); do
  mail=$(curl -s "http://127.0.0.1:$SES_PORT/store" | python3 -c 'import json,sys; e=[m for m in json.load(sys.stdin)["emails"] if "visitor@example.com" in m["destination"]["to"]]; print(e[-1]["body"]["text"] if e else "")')
  [ -n "$mail" ] && break; sleep 0.2
done
check "a sign-up's confirmation email reaches the local SES" bash -c "grep -q 'subscriptions/confirm?token=' <<<"\$1"" _ "$mail"
link=$(grep -o 'http://[^ ]*subscriptions/confirm?token=[A-Za-z0-9_-]*' <<<"$mail" | head -n1)
check "its link confirms the subscription" bash -c "curl -s "\$1" | grep -q 'You are subscribed'" _ "$link"

# A maintenance window starting now: the local server's own scheduler starts it and puts
# its service under maintenance; the public calendar lists it.
service=$(curl -s -X POST "$base/api/v1/pages/$page/services" -H "Authorization: Bearer $key" \
  -H "Content-Type: application/json" -d '{"name": "Database"}' | json "['data']['id']")
from=$(date -u +%Y-%m-%dT%H:%M:%SZ); until=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
window=$(curl -s -X POST "$base/api/v1/pages/$page/maintenances" -H "Authorization: Bearer $key" \
  -H "Content-Type: application/json" \
  -d "{\"title\": \"Database upgrade\", \"body\": \"Upgrading.\", \"scheduledFor\": \"$from\", \"scheduledUntil\": \"$until\", \"serviceIds\": [\"$service\"]}" \
  | json "['data']['id']")
state=""
for _ in $(seq 1 60); do
  state=$(curl -s "$base/api/v1/services/$service" -H "Authorization: Bearer $key" | json "['data']['currentStatus']")
  [ "$state" = maintenance ] && break; sleep 0.5
done
check "the local scheduler starts a maintenance window and its service goes under maintenance" test "$state" = maintenance
check "the public calendar lists the window" bash -c "curl -s \"\$1\" | grep -q \"UID:\$2@livestatus\"" _ "$base/status/$slug/maintenance.ics" "$window"

# A monitor of the server's own OpenAPI document: the local scheduler checks it at once
# (a new monitor is due until its first verdict) and the check log shows it passed.
monitor=$(curl -s -X POST "$base/api/v1/monitors" -H "Authorization: Bearer $key" -H "Content-Type: application/json" \
  -d "{\"name\": \"API\", \"url\": \"$base/api/v1/openapi.json\", \"keyword\": \"openapi\"}" | json "['data']['id']")
passed_check=""
for _ in $(seq 1 60); do
  passed_check=$(curl -s "$base/api/v1/monitors/$monitor/checks" -H "Authorization: Bearer $key" \
    | python3 -c 'import json,sys; d=json.load(sys.stdin)["data"]; print(d[0]["ok"] if d else "")')
  [ -n "$passed_check" ] && break; sleep 0.5
done
check "the local scheduler checks a new monitor and its check log shows it passed" test "$passed_check" = True

key_id=$(admin key create --org "$org" --name "temp" | tee "$LIVESTATUS_DATA_DIR/k.json" | json "['id']")
temp=$(json "['key']" <"$LIVESTATUS_DATA_DIR/k.json")
admin key revoke --org "$org" --key-id "$key_id" >/dev/null
status=$(curl -s -o /dev/null -w '%{http_code}' "$base/api/v1/pages" -H "Authorization: Bearer $temp")
check "a key revoked with livestatus-admin gets 401" test "$status" = 401
check "no key plaintext in the server log" bash -c "! grep -q -e '$key' -e '$temp' '$LIVESTATUS_DATA_DIR/server.log'"

echo "smoke: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
