#!/usr/bin/env bash
# Runs every test of the workspace against a fresh in-memory DynamoDB Local.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT_DIR"

# The SAM template: CloudFormation and SAM linters.
ensure_tools
log "linting template.yaml (cfn-lint, sam validate --lint)"
cfn-lint template.yaml
sam validate --lint >/dev/null

port=$(free_port)
DDB_LOG="${DDB_LOG:-$ROOT_DIR/target/dynamodb-local-test.log}"
mkdir -p "$ROOT_DIR/target"
start_dynamodb_local "$port" -inMemory
SES_LOG="$ROOT_DIR/target/ses-local-test.log"
start_ses_local "$(free_port)"
ensure_chat_check
trap 'stop_ses_local; stop_dynamodb_local' EXIT

export_local_aws_env
export DYNAMODB_ENDPOINT="http://127.0.0.1:$port" DDB_JAR_DIR
# Every AWS permission each function's code needs, recorded while the suite serves requests.
export AWS_CALL_LOG="$ROOT_DIR/target/aws-calls.log"
rm -f "$AWS_CALL_LOG"
if [ $# -eq 0 ]; then
  # The API tests mostly wait on DynamoDB Local, which keeps about one core busy: every
  # other one runs at the same time against a second instance, so both cores work.
  cargo test --workspace --locked --no-run
  api_bin=$(cargo test --locked -p livestatus-tests --test api --no-run --message-format=json 2>/dev/null \
    | python3 -c 'import json, sys
m = [j for j in map(json.loads, sys.stdin) if j.get("reason") == "compiler-artifact" and j.get("executable") and j["target"]["name"] == "api"]
print(m[-1]["executable"])')
  mapfile -t names < <("$api_bin" --list --format terse | sed -n 's/: test$//p')
  second=(); skips=()
  for i in "${!names[@]}"; do
    if ((i % 2)); then second+=("${names[$i]}"); skips+=(--skip "${names[$i]}"); fi
  done
  first_ddb=$DDB_PID second_port=$(free_port)
  DDB_LOG="$ROOT_DIR/target/dynamodb-local-test-2.log" start_dynamodb_local "$second_port" -inMemory
  second_ddb=$DDB_PID DDB_PID=$first_ddb
  trap 'kill "$second_ddb" 2>/dev/null || true; stop_ses_local; stop_dynamodb_local' EXIT
  log "running ${#second[@]} of the ${#names[@]} API tests against a second DynamoDB Local"
  (cd "$ROOT_DIR/tests" && DYNAMODB_ENDPOINT="http://127.0.0.1:$second_port" "$api_bin" --exact "${second[@]}") \
    >"$ROOT_DIR/target/api-tests-second-half.log" 2>&1 &
  second_run=$!
  failed=0
  cargo test --workspace --locked -- --exact "${skips[@]}" || failed=1
  wait "$second_run" || failed=1
  log "the API tests run against the second DynamoDB Local:"
  cat "$ROOT_DIR/target/api-tests-second-half.log"
  kill "$second_ddb" 2>/dev/null || true
  [ "$failed" -eq 0 ] || exit 1
else
  cargo test --workspace --locked "$@"
fi
# The scheduler's hand-over of monitor checks to the monitor-worker function, with the
# real binaries under the Lambda Invoke emulator (it records the scheduler's Invoke
# permission in the call log for the check below).
if [ $# -eq 0 ]; then
  "$INFRA_DIR/worker-check.sh"
  # A real Alertmanager's alerts opening, updating and resolving an incident.
  "$INFRA_DIR/alertmanager-check.sh"
  # Atlassian's status widget on another origin, pointed at a page's custom domain, and a
  # person signing in to a protected page, in headless Debian chromium.
  "$INFRA_DIR/widget-check.sh"
fi
# Least privilege: each function's policy in template.yaml grants exactly what its code
# did during the suite (only after a full run: a filtered one records too little).
if [ $# -eq 0 ]; then
  log "checking each function's IAM policy against the AWS calls its code made"
  cargo test --locked -p livestatus-tests --test policy -- --ignored
fi

# The real Lambda packages (cargo lambda; the cheaper `lambda-test` profile, see
# Cargo.toml) under a Runtime API emulator, against the same DynamoDB Local: every events/
# file must give its expected status.
if [ -z "${SKIP_LAMBDA:-}" ]; then
  cargo lambda build --profile lambda-test --locked --bin pages --bin services --bin incidents --bin maintenances --bin monitors --bin keys --bin og-ad --bin status --bin notifications
  cargo build -q --locked --bin livestatus-admin
  TABLE_NAME="events-$RANDOM" bash -c './target/debug/livestatus-admin demo >/dev/null && python3 infra/lambda_emulator.py --bin-dir target/lambda'
fi
stop_dynamodb_local

# The OpenAPI contract (schemathesis against the local server), then the quick start.
"$INFRA_DIR/contract.sh"
"$INFRA_DIR/smoke.sh"
