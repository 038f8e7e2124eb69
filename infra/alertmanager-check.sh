#!/usr/bin/env bash
# A real Prometheus Alertmanager (Debian's prometheus-alertmanager, installed here when
# missing) routes alerts to the local server's alert integration, configured as the
# README's recipe says. See infra/alertmanager_check.py.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT_DIR"

ensure_alertmanager
cargo build -q --locked --bin livestatus-local --bin livestatus-admin
ddb_port=$(free_port)
DDB_LOG="$ROOT_DIR/target/dynamodb-local-alertmanager.log"
start_dynamodb_local "$ddb_port" -inMemory
export_local_aws_env
export DYNAMODB_ENDPOINT="http://127.0.0.1:$ddb_port" TABLE_NAME=alerts PORT=$(free_port)
./target/debug/livestatus-local >"$ROOT_DIR/target/alertmanager-check-server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; stop_dynamodb_local' EXIT
for _ in $(seq 1 100); do grep -q "listening on" "$ROOT_DIR/target/alertmanager-check-server.log" && break; sleep 0.2; done

log "a real Alertmanager routes alerts to an alert integration ($("$ALERTMANAGER" --version 2>&1 | head -1))"
LOG_DIR="$ROOT_DIR/target" python3 infra/alertmanager_check.py --api "http://127.0.0.1:$PORT" \
  --admin ./target/debug/livestatus-admin --alertmanager "$ALERTMANAGER" --port "$(free_port)"
