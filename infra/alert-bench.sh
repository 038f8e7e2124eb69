#!/usr/bin/env bash
# Alert benchmark on the local stack: the local server (release profile with symbols, as
# cpu-bench.sh and notify-bench.sh) with its in-process stream poller and scheduler, over
# an in-memory DynamoDB Local. infra/alert_bench.py sends M alerts to generic alert
# integrations and times each to its incident in the page's JSON and to the first
# subscriber delivery (p50, p95).
# Usage: infra/alert-bench.sh [M=100]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT_DIR"
samples="${1:-100}"

cargo build -q --locked --profile profiling --bin livestatus-local
cargo build -q --locked --bin livestatus-admin
ddb_port=$(free_port)
DDB_LOG="$ROOT_DIR/target/dynamodb-local-bench.log"
start_dynamodb_local "$ddb_port" -inMemory
export_local_aws_env
export DYNAMODB_ENDPOINT="http://127.0.0.1:$ddb_port" TABLE_NAME=bench PORT=$(free_port) OUTBOUND_ALLOW_PRIVATE=1
export SECRETS_KEY=bench-sealing-key RUST_LOG=warn
"$ROOT_DIR/target/profiling/livestatus-local" >"$ROOT_DIR/target/alert-bench-server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; stop_dynamodb_local' EXIT
for _ in $(seq 1 100); do grep -q "listening on" "$ROOT_DIR/target/alert-bench-server.log" && break; sleep 0.2; done

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
org=$(./target/debug/livestatus-admin org create --name Bench --plan business | json "['id']")
key=$(./target/debug/livestatus-admin key create --org "$org" --name bench --rate-limit 100000000 | json "['key']")
python3 infra/alert_bench.py "http://127.0.0.1:$PORT" "$key" "$samples"
