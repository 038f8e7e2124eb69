#!/usr/bin/env bash
# The scheduler hands monitor checks to the monitor-worker function, offline: the real
# scheduler and monitor-worker binaries under the Lambda Invoke emulator, against
# DynamoDB Local, with monitors made through the local server's API (its own tick off, so
# only the scheduler under test checks them). See infra/worker_check.py.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT_DIR"

cargo build -q --locked --bin livestatus-local --bin livestatus-admin --bin scheduler --bin monitor-worker
ddb_port=$(free_port)
DDB_LOG="$ROOT_DIR/target/dynamodb-local-workers.log"
start_dynamodb_local "$ddb_port" -inMemory
export_local_aws_env
export DYNAMODB_ENDPOINT="http://127.0.0.1:$ddb_port" TABLE_NAME=workers PORT=$(free_port) OUTBOUND_ALLOW_PRIVATE=1
SCHEDULER_TICK_MS=3600000 ./target/debug/livestatus-local >"$ROOT_DIR/target/worker-check-server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; stop_dynamodb_local' EXIT
for _ in $(seq 1 100); do grep -q "listening on" "$ROOT_DIR/target/worker-check-server.log" && break; sleep 0.2; done

log "the scheduler hands monitor checks to the monitor-worker function (Invoke emulator)"
python3 infra/worker_check.py --api "http://127.0.0.1:$PORT" --admin ./target/debug/livestatus-admin --bin-dir target/debug
