#!/usr/bin/env bash
# Looks at the public page as people and crawlers do, against the local run (start it
# first with ./infra/run-local.sh): seeds the showcase page (livestatus-admin showcase),
# runs Lighthouse (pinned, headless Debian chromium; mobile preset) and prints its four
# scores, and takes light, dark and phone screenshots into docs/.
#   ./infra/page-check.sh            # seed a new showcase page and check it
#   ./infra/page-check.sh acme-1234  # check an existing public page
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT_DIR"

LIGHTHOUSE_VERSION=13.5.0
base="${BASE_URL:-http://127.0.0.1:${PORT:-3000}}"
tools="$ROOT_DIR/target/page-tools"
out="$ROOT_DIR/target/page-check"
mkdir -p "$tools" "$out"

if ! command -v chromium >/dev/null 2>&1; then
  log "installing Debian chromium"
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq chromium >/dev/null
fi
if [ ! -x "$tools/node_modules/.bin/lighthouse" ] || ! grep -q "\"version\": \"$LIGHTHOUSE_VERSION\"" "$tools/node_modules/lighthouse/package.json"; then
  log "installing lighthouse@$LIGHTHOUSE_VERSION into target/page-tools"
  npm install --prefix "$tools" --no-audit --no-fund --loglevel=error "lighthouse@$LIGHTHOUSE_VERSION" >/dev/null
fi

slug="${1:-}"
if [ -z "$slug" ]; then
  export_local_aws_env
  export DYNAMODB_ENDPOINT="${DYNAMODB_ENDPOINT:-http://127.0.0.1:${DYNAMODB_PORT:-8000}}" TABLE_NAME="${TABLE_NAME:-livestatus}"
  cargo build -q --locked --bin livestatus-admin
  slug=$("$ROOT_DIR/target/debug/livestatus-admin" showcase | python3 -c 'import json,sys; print(json.load(sys.stdin)["slug"])')
  log "seeded the showcase page /status/$slug"
fi
url="$base/status/$slug"
curl -fsS -o /dev/null "$url" || { log "$url does not answer: is ./infra/run-local.sh running?"; exit 1; }

# As the machine's probe found: without these, chromium keeps trying hosts it cannot reach.
flags="--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking --disable-component-update --disable-sync --hide-scrollbars"
log "Lighthouse (mobile) on $url"
CHROME_PATH="$(command -v chromium)" "$tools/node_modules/.bin/lighthouse" "$url" --quiet \
  --chrome-flags="$flags" --only-categories=performance,accessibility,best-practices,seo \
  --output=json --output=html --output-path="$out/lighthouse"
python3 - "$out/lighthouse.report.json" <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
for key, category in report["categories"].items():
    print(f"{category['title']:>16}: {round(category['score'] * 100)}")
    for ref in category["auditRefs"]:
        audit = report["audits"][ref["id"]]
        if ref["weight"] and audit.get("score") is not None and audit["score"] < 1:
            print(f"{'':>18}{audit['id']}: {audit.get('displayValue') or audit.get('explanation', '')}")
audits = report["audits"]
print("FCP", audits["first-contentful-paint"]["displayValue"], "· LCP", audits["largest-contentful-paint"]["displayValue"],
      "· TBT", audits["total-blocking-time"]["displayValue"], "· CLS", audits["cumulative-layout-shift"]["displayValue"])
EOF

shot() { # name width height extra-flags...
  local name=$1 width=$2 height=$3; shift 3
  chromium $flags "$@" --user-data-dir="$(mktemp -d)" --window-size="$width,$height" \
    --screenshot="$ROOT_DIR/docs/status-page-$name.png" "$url" >/dev/null 2>&1
}
mkdir -p "$ROOT_DIR/docs"
shot light 1280 2200
shot dark 1280 2200 --force-dark-mode
shot phone 390 1700 --force-device-scale-factor=2 --user-agent="Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Mobile"
log "screenshots in docs/status-page-{light,dark,phone}.png; the report in target/page-check/lighthouse.report.html"
