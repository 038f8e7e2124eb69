#!/usr/bin/env bash
# Monitor benchmark, in two parts, each on a fresh in-memory DynamoDB Local (a long-used
# one slows down, which DynamoDB does not): one scheduler tick of 1,000 due monitors
# against a local target answering in 50 ms (wall time, and the median latency the
# checks recorded against a single check's); then one blackholed monitor with a 2 s
# timeout, and 100 of them in one tick. Release build of the test harness.
# `scale`: one steady tick of 50,000 monitors (50 organizations of 1,000) due in one
# minute, with its DynamoDB requests per due monitor.
# Usage: infra/monitor-bench.sh [MONITORS=1000] | infra/monitor-bench.sh scale [MONITORS=50000]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT_DIR"
export_local_aws_env
trap stop_dynamodb_local EXIT
parts="healthy_targets blackholed_targets" default=1000
if [ "${1:-}" = scale ]; then parts=fifty_thousand default=50000; shift; fi
export TABLE_NAME=monitor-bench MONITORS="${1:-$default}" RUST_LOG=warn
cargo test -q --locked --release -p livestatus-tests --test api --no-run
for part in $parts; do
  ddb_port=$(free_port)
  DDB_LOG="$ROOT_DIR/target/dynamodb-local-monitor-bench.log"
  start_dynamodb_local "$ddb_port" -inMemory
  DYNAMODB_ENDPOINT="http://127.0.0.1:$ddb_port" \
    cargo test -q --locked --release -p livestatus-tests --test api -- --ignored --nocapture --exact "monitors::monitor_tick_benchmark_$part" 2>&1 \
    | grep -E "monitor bench|test result|panicked|WARN|ERROR"
  stop_dynamodb_local
done
