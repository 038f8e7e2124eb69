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

start_bench_server alert-bench
python3 infra/alert_bench.py "http://127.0.0.1:$PORT" "$BENCH_KEY" "$samples"
