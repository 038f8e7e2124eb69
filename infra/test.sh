#!/usr/bin/env bash
# Runs every test of the workspace against a fresh in-memory DynamoDB Local.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT_DIR"

port=$(free_port)
DDB_LOG="${DDB_LOG:-$ROOT_DIR/target/dynamodb-local-test.log}"
mkdir -p "$ROOT_DIR/target"
start_dynamodb_local "$port" -inMemory
trap stop_dynamodb_local EXIT

export_local_aws_env
export DYNAMODB_ENDPOINT="http://127.0.0.1:$port"
cargo test --workspace --locked "$@"
stop_dynamodb_local
"$INFRA_DIR/smoke.sh"
