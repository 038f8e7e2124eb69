#!/usr/bin/env bash
# Atlassian's status widget (npm @statuspage/status-widget, pinned in infra/widget-check)
# on a page of another origin, in headless Debian chromium (installed here when missing),
# pointed at a page's .localhost domain on the local server. See infra/widget_check.py.
# Screenshots: docs/widget-light.png, docs/widget-dark.png.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT_DIR"

ensure_tools
ensure_chromium
ensure_widget_check
cargo build -q --locked --bin livestatus-local --bin livestatus-admin
ddb_port=$(free_port)
DDB_LOG="$ROOT_DIR/target/dynamodb-local-widget.log"
start_dynamodb_local "$ddb_port" -inMemory
export_local_aws_env
export DYNAMODB_ENDPOINT="http://127.0.0.1:$ddb_port" TABLE_NAME=widget PORT=$(free_port) OUTBOUND_ALLOW_PRIVATE=1
./target/debug/livestatus-local >"$ROOT_DIR/target/widget-check-server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; stop_dynamodb_local' EXIT
for _ in $(seq 1 100); do grep -q "listening on" "$ROOT_DIR/target/widget-check-server.log" && break; sleep 0.2; done

log "Atlassian's status widget on another origin, in headless $(chromium --version 2>/dev/null | head -1)"
python3 infra/widget_check.py --api "http://127.0.0.1:$PORT" --admin ./target/debug/livestatus-admin \
  --site-port "$(free_port)" --widget-dir "$WIDGET_CHECK_DIR/node_modules/@statuspage/status-widget/dist" \
  --chromium "$(command -v chromium)" --docs docs
