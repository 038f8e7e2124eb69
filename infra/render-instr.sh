#!/usr/bin/env bash
# Instructions per render of the busy status page (functions/status/benches/page.rs), at
# its slug and at its custom domain, counted by valgrind's callgrind over the whole
# process (less the same run without renders): a comparison the VM's ±30% drift does not touch.
#   ./infra/render-instr.sh [RENDERS]   # default 200
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT_DIR"
count="${1:-200}"
command -v valgrind >/dev/null || { log "valgrind is needed (Debian: apt-get install valgrind)"; exit 1; }
bin=$(cargo bench -p livestatus-status --bench page --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import json, sys
m = [j for j in map(json.loads, sys.stdin) if j.get("reason") == "compiler-artifact" and j.get("executable") and j["target"]["name"] == "page"]
print(m[-1]["executable"])')
# Everything the process runs, minus the same run with no render: what the renders cost
# (the renderer is inlined under LTO, so no function boundary can be toggled on).
instructions() { # variant renders
  local out
  out=$(mktemp)
  RENDER_ONLY=$1 RENDER_COUNT=$2 valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" --bench >/dev/null 2>&1
  callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}'
  rm -f "$out"
}
for which in plain domain; do
  base=$(instructions "$which" 0)
  total=$(instructions "$which" "$count")
  printf '%-7s %s instructions per render (%s renders)\n' "$which" "$(((total - base) / count))" "$count"
done
