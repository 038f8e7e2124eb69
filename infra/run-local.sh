#!/usr/bin/env bash
# Runs the whole API on http://127.0.0.1:${PORT:-3000} over DynamoDB Local, with the data
# kept in .local/dynamodb between runs. Creates the table when it is missing.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT_DIR"

ddb_port="${DYNAMODB_PORT:-8000}"
mkdir -p "$ROOT_DIR/.local/dynamodb"
DDB_LOG="$ROOT_DIR/.local/dynamodb.log"
start_dynamodb_local "$ddb_port" -dbPath "$ROOT_DIR/.local/dynamodb"
trap 'kill "$DDB_PID" 2>/dev/null || true' EXIT

export_local_aws_env
export DYNAMODB_ENDPOINT="http://127.0.0.1:$ddb_port"
export TABLE_NAME="${TABLE_NAME:-livestatus}"
cargo build --locked --bin livestatus-local --bin livestatus-admin
"$ROOT_DIR/target/debug/livestatus-local"
