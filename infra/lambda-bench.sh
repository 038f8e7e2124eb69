#!/usr/bin/env bash
# Cold start and size of every function as a Lambda package (BENCHMARKS.md):
#   - builds the release packages with cargo lambda (x86_64 to run here; arm64, the
#     template's default, for its sizes: needs `rustup target add aarch64-unknown-linux-gnu`),
#   - reports the stripped binary and zip sizes,
#   - times COLD_STARTS (default 20) cold starts of each x86_64 binary under the Runtime
#     API emulator against DynamoDB Local: process start to ready for its first event, and
#     to its first response.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT_DIR"
ensure_tools
bins=(--bin pages --bin services --bin incidents --bin maintenances --bin monitors --bin keys --bin og-ad --bin status --bin notifications)

cargo lambda build --release --locked "${bins[@]}"
if rustup target list --installed 2>/dev/null | grep -q aarch64-unknown-linux-gnu; then
  cargo lambda build --release --locked --arm64 --lambda-dir target/lambda-arm64 "${bins[@]}"
fi

python3 - <<'PY'
import io, os, zipfile
for arch, d in (("x86_64", "target/lambda"), ("arm64", "target/lambda-arm64")):
    for f in ("pages", "services", "incidents", "maintenances", "monitors", "keys", "og-ad", "status", "notifications"):
        p = f"{d}/{f}/bootstrap"
        if not os.path.exists(p):
            continue
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
            z.write(p, "bootstrap")
        print(f"size {arch:<7} {f:<10} binary {os.path.getsize(p):>10,} B   zip {len(buf.getvalue()):>10,} B")
PY

port=$(free_port)
start_dynamodb_local "$port" -inMemory
trap stop_dynamodb_local EXIT
export_local_aws_env
export DYNAMODB_ENDPOINT="http://127.0.0.1:$port" TABLE_NAME="bench"
cargo build -q --locked --bin livestatus-admin
./target/debug/livestatus-admin demo >/dev/null
python3 infra/lambda_emulator.py --bin-dir target/lambda --cold-starts "${COLD_STARTS:-20}" --json target/lambda-bench.json
