#!/usr/bin/env bash
# Notification benchmark on the local stack: the local server (release profile with
# symbols, the same build as cpu-bench.sh) with its in-process stream poller and
# scheduler, over an in-memory DynamoDB Local. infra/notify_bench.py drives it: one
# incident fanned out to N webhook subscribers (time to all delivered), and M incidents
# one by one (event commit to first attempt, p50/p95).
# Usage: infra/notify-bench.sh [N=1000] [M=100]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT_DIR"
fanout="${1:-1000}"; samples="${2:-100}"

start_bench_server notify-bench
python3 infra/notify_bench.py "http://127.0.0.1:$PORT" "$BENCH_KEY" "$fanout" "$samples"
