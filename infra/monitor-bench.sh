#!/usr/bin/env bash
# Monitor benchmark: one scheduler tick of 1,000 due monitors against a local target
# answering in 50 ms (wall time, and the median latency the checks recorded against a
# single check's), then 100 blackholed monitors with a 2 s timeout in one tick. The
# tick runs in the test harness (release build) over an in-memory DynamoDB Local.
# Usage: infra/monitor-bench.sh [MONITORS=1000]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT_DIR"
ddb_port=$(free_port)
DDB_LOG="$ROOT_DIR/target/dynamodb-local-monitor-bench.log"
start_dynamodb_local "$ddb_port" -inMemory
trap 'stop_dynamodb_local' EXIT
export_local_aws_env
export DYNAMODB_ENDPOINT="http://127.0.0.1:$ddb_port" TABLE_NAME=monitor-bench MONITORS="${1:-1000}" RUST_LOG=warn
cargo test -q --locked --release -p livestatus-tests --test api -- --ignored --nocapture monitor_tick_benchmark 2>&1 \
  | grep -E "monitor bench|test result|panicked"
