#!/usr/bin/env bash
# Runs the whole API on http://127.0.0.1:${PORT:-3000} over DynamoDB Local, with the data
# kept in .local/dynamodb between runs. Creates the table when it is missing.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT_DIR"

ddb_port="${DYNAMODB_PORT:-8000}"
data_dir="${LIVESTATUS_DATA_DIR:-$ROOT_DIR/.local}"
mkdir -p "$data_dir/dynamodb"
DDB_LOG="$data_dir/dynamodb.log"
start_dynamodb_local "$ddb_port" -dbPath "$data_dir/dynamodb"
trap stop_dynamodb_local EXIT

export_local_aws_env
export DYNAMODB_ENDPOINT="http://127.0.0.1:$ddb_port"
export TABLE_NAME="${TABLE_NAME:-livestatus}"
# Webhook secrets are sealed with this key; kept with the data so they open after a restart.
if [ -z "${SECRETS_KEY:-}" ]; then
  [ -s "$data_dir/secrets.key" ] || (umask 077 && head -c 32 /dev/urandom | base64 > "$data_dir/secrets.key")
  SECRETS_KEY="$(cat "$data_dir/secrets.key")"
  export SECRETS_KEY
fi
# Subscriber email goes to the local SES (aws-ses-v2-local); its web viewer shows it.
SES_LOG="$data_dir/ses.log"
start_ses_local "${SES_PORT:-8005}"
trap 'stop_ses_local; stop_dynamodb_local' EXIT
export EMAIL_FROM="${EMAIL_FROM:-status@livestatus.local}"
# The local run may deliver webhooks to a receiver on this machine over plain http.
export OUTBOUND_ALLOW_PRIVATE="${OUTBOUND_ALLOW_PRIVATE:-1}"
cargo build --locked --bin livestatus-local --bin livestatus-admin
"$ROOT_DIR/target/debug/livestatus-local" &
server=$!
stop() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; stop_ses_local; stop_dynamodb_local; }
trap stop EXIT
trap 'stop; exit 0' INT TERM
wait "$server"
