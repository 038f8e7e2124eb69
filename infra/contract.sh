#!/usr/bin/env bash
# Contract test: schemathesis generates requests for every operation of openapi.json and
# sends them to the local server (real router, DynamoDB Local) with a real key. Fails on
# any 5xx, undocumented status, wrong content type, or response that breaks its schema.
# Then a client generated from the document by a standard generator (openapi-python-client)
# must work against the same server.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT_DIR"
ensure_tools

ddb_port=$(free_port)
DDB_LOG="$ROOT_DIR/target/dynamodb-local-contract.log"
start_dynamodb_local "$ddb_port" -inMemory
export_local_aws_env
# Private targets allowed, as in the local run: the seeded webhooks and monitors point at
# this server (the address guard's refusals are the Rust suite's to test).
export DYNAMODB_ENDPOINT="http://127.0.0.1:$ddb_port" TABLE_NAME=contract PORT=$(free_port) OUTBOUND_ALLOW_PRIVATE=1
cargo build -q --locked --bin livestatus-local --bin livestatus-admin
./target/debug/livestatus-local >"$ROOT_DIR/target/contract-server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; stop_dynamodb_local' EXIT
for _ in $(seq 1 100); do grep -q "listening on" "$ROOT_DIR/target/contract-server.log" && break; sleep 0.2; done

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
org=$(./target/debug/livestatus-admin org create --name Contract --plan business | json "['id']")
# A raised limit: the run sends thousands of requests within a minute.
key=$(./target/debug/livestatus-admin key create --org "$org" --name contract --rate-limit 1000000 | json "['key']")

# One of everything, made through the API, whose ids every operation gets (the schemathesis
# config written by the seeding), so requests reach the logic rather than a `404`.
config="$ROOT_DIR/target/contract-schemathesis.toml"
python3 infra/contract_seed.py "http://127.0.0.1:$PORT" "$key" "$config" 2>"$ROOT_DIR/target/contract-seed.log" \
  || { cat "$ROOT_DIR/target/contract-seed.log"; exit 1; }

# One worker: with two, CPython 3.11's ast module (Hypothesis reads lambda sources with it
# while rewriting filters) fails from a worker thread with "AST constructor recursion depth
# mismatch", a crash of the tool, not of the API. One worker is about as fast on 2 cores.
st --config-file "$config" run openapi.json --url "http://127.0.0.1:$PORT" \
  -H "Authorization: Bearer $key" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
  --max-examples "${CONTRACT_EXAMPLES:-45}" \
  --workers "${CONTRACT_WORKERS:-1}" \
  --report-junit-path "$ROOT_DIR/target/contract-junit.xml" \
  --report junit \
  --no-color 2>&1 | tee "$ROOT_DIR/target/contract.log"
status=${PIPESTATUS[0]}
[ "$status" -eq 0 ] || exit "$status"

client_dir="$ROOT_DIR/target/generated-client"
rm -rf "$client_dir" && mkdir -p "$client_dir"
openapi-python-client generate --path openapi.json --meta none --output-path "$client_dir/livestatus_client" \
  >"$ROOT_DIR/target/generated-client.log" 2>&1 || { cat "$ROOT_DIR/target/generated-client.log"; exit 1; }
python infra/client_check.py "$client_dir" "http://127.0.0.1:$PORT" "$key"
# The number of generated requests, from the JUnit report's test cases and the server log.
requests=$(grep -c "request served\|request rejected" "$ROOT_DIR/target/contract-server.log" || true)
log "contract: schemathesis sent $requests requests to the local server"
exit "$status"
