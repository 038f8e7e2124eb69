#!/usr/bin/env bash
# Server CPU per authenticated read and write: the local server built with the release
# profile plus symbols (`profiling`), over an in-memory DynamoDB Local, driven by
# infra/cpu_bench.py through one keep-alive connection (CONNECTIONS=4 for more). CPU is the server process's user +
# system time (all threads) from /proc, divided by the requests served.
# `PERF=1` also records a perf profile (target/cpu-bench.perf.txt); `SERVER_BIN` measures
# another build of livestatus-local (e.g. an older commit's) instead of this one;
# `ONLY=read` or `ONLY=write` runs one of the two.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT_DIR"
requests="${1:-4000}"

server_bin="${SERVER_BIN:-$ROOT_DIR/target/profiling/livestatus-local}"
[ -n "${SERVER_BIN:-}" ] || cargo build -q --locked --profile profiling --bin livestatus-local
cargo build -q --locked --bin livestatus-admin
ddb_port=$(free_port)
DDB_LOG="$ROOT_DIR/target/dynamodb-local-bench.log"
start_dynamodb_local "$ddb_port" -inMemory
export_local_aws_env
export DYNAMODB_ENDPOINT="http://127.0.0.1:$ddb_port" TABLE_NAME=bench PORT=$(free_port)
# The request path only: the local server's stream poller and scheduler tick (separate
# Lambdas in production) would otherwise bill their work to the requests.
export STREAM_POLL_MS="${STREAM_POLL_MS:-3600000}" SCHEDULER_TICK_MS="${SCHEDULER_TICK_MS:-3600000}"
if [ -n "${INSTR:-}" ]; then
  # Instructions instead of time: the server under callgrind, counted from user space
  # only, but the same for the same build whatever the machine's speed that hour.
  export CALLGRIND="$ROOT_DIR/target/callgrind.out"
  rm -f "$CALLGRIND"*
  valgrind --tool=callgrind --callgrind-out-file="$CALLGRIND" "$server_bin" >"$ROOT_DIR/target/cpu-bench-server.log" 2>&1 &
else
  "$server_bin" >"$ROOT_DIR/target/cpu-bench-server.log" 2>&1 &
fi
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; stop_dynamodb_local' EXIT
for _ in $(seq 1 300); do grep -q "listening on" "$ROOT_DIR/target/cpu-bench-server.log" && break; sleep 0.2; done

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
org=$(./target/debug/livestatus-admin org create --name Bench --plan business | json "['id']")
key=$(./target/debug/livestatus-admin key create --org "$org" --name bench --rate-limit 100000000 | json "['key']")
api() { curl -sf -H "Authorization: Bearer $key" -H "Content-Type: application/json" "$@"; }
url="http://127.0.0.1:$PORT"
page=$(api -X POST "$url/api/v1/pages" -d "{\"name\":\"Bench\",\"slug\":\"bench-$RANDOM$RANDOM\"}" | json "['data']['id']")
service=$(api -X POST "$url/api/v1/pages/$page/services" -d '{"name":"API"}' | json "['data']['id']")

if [ -n "${PERF:-}" ]; then
  perf record -F 1000 --call-graph dwarf,16384 -o "$ROOT_DIR/target/cpu-bench.perf.data" -p "$server" >/dev/null 2>&1 &
  perf_pid=$!
  sleep 0.5
fi
python3 infra/cpu_bench.py "$url" "$key" "$server" "$service" "$requests"
if [ -n "${PERF:-}" ]; then
  kill -INT "$perf_pid"; wait "$perf_pid" || true
  perf report -i "$ROOT_DIR/target/cpu-bench.perf.data" --no-children --sort dso,symbol --stdio 2>/dev/null \
    | grep -v '^$' | head -150 >"$ROOT_DIR/target/cpu-bench.perf.txt"
  log "perf profile: target/cpu-bench.perf.txt"
fi
