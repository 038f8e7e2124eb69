#!/usr/bin/env bash
# Stream backlog benchmark: EVENTS (default 10,000) incident events over 100 pages
# queued in a fresh in-memory DynamoDB Local's stream, then drained by the local server's
# real poller to a webhook receiver on 127.0.0.1 (time to drain, order per page checked).
# Release build of the test harness. Usage: infra/stream-bench.sh [EVENTS=10000]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT_DIR"
export_local_aws_env
trap stop_dynamodb_local EXIT
export EVENTS="${1:-10000}" RUST_LOG=warn
cargo test -q --locked --release -p livestatus-tests --test api --no-run
ddb_port=$(free_port)
DDB_LOG="$ROOT_DIR/target/dynamodb-local-stream-bench.log"
start_dynamodb_local "$ddb_port" -inMemory
DYNAMODB_ENDPOINT="http://127.0.0.1:$ddb_port" \
  cargo test -q --locked --release -p livestatus-tests --test api -- --ignored --nocapture --exact local_stream::stream_backlog_benchmark 2>&1 \
  | grep -E "stream bench|test result|panicked"
