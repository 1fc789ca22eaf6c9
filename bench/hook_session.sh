#!/usr/bin/env bash
# The local hook's cost per call as its session grows (issue #20): `aecl hook claude-code
# --policy` decides against the session's whole history, replayed from its file (since
# 2026-11-27, from the state saved beside it and the events after that), so a long session
# could make every call slower. Measures, in one run, the time of one PreToolUse + PostToolUse pair at
# several session sizes, beside `aecl --version` (the process start-up floor) measured in
# the same run; prints milliseconds and the ratio to the floor.
#
#   bench/hook_session.sh [AECL_BINARY] [CALLS] [OUTPUT_BYTES]
#       # defaults: target/release/aecl, 2000, and a one-line output (about 60 bytes)
#
# OUTPUT_BYTES > 0 makes each output that many bytes of prose (a page or a file the agent
# read): the case where the session's growth costs most (a whole replay indexes every
# output again; a saved state holds their texts, read back at every call).
#
# Build the binary first (`cargo build --release -p aecl-cli`, or pass target/debug/aecl).
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
aecl="${1:-$here/target/release/aecl}"
calls="${2:-2000}"
output_bytes="${3:-0}"
policy="$here/crates/aecl-cli/tests/claude_code/policy"
[ -x "$aecl" ] || { echo "no binary at $aecl (cargo build --release -p aecl-cli)" >&2; exit 1; }

state="$(mktemp -d)"
trap 'rm -rf "$state"' EXIT
session="bench-$$"

pre() {
  printf '{"session_id":"%s","cwd":"/tmp","hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"ls -la src/%s"},"tool_use_id":"toolu_%s"}' "$session" "$1" "$1"
}
# Prose of `output_bytes` bytes (words from a fixed list, seeded), made once.
prose=""
if [ "$output_bytes" -gt 0 ]; then
  prose="$(python3 -c '
import random, sys
random.seed(7)
words = "the of and to in report invoice vendor account payment status page section update review".split()
out = []
while sum(len(w) + 1 for w in out) < int(sys.argv[1]):
    out.append(random.choice(words))
print(" ".join(out)[: int(sys.argv[1])], end="")
' "$output_bytes")"
fi
post() {
  printf '{"session_id":"%s","cwd":"/tmp","hook_event_name":"PostToolUse","tool_name":"Bash","tool_input":{"command":"ls -la src/%s"},"tool_response":{"stdout":"main.rs lib.rs file-%s.rs https://example.test/page/%s %s\\n","stderr":""},"tool_use_id":"toolu_%s"}' "$session" "$1" "$1" "$1" "$prose" "$1"
}
hook() {
  "$aecl" hook claude-code --policy "$policy" --agent coder --state-dir "$state" >/dev/null 2>&1 || true
}
now_ns() { date +%s%N; }

# Mean milliseconds of `reps` runs of `aecl --version`.
floor() {
  local reps=20 start end
  start=$(now_ns)
  for _ in $(seq "$reps"); do "$aecl" --version >/dev/null; done
  end=$(now_ns)
  echo $(( (end - start) / reps / 1000 ))
}

printf '%-10s %12s %12s %8s\n' "events" "pair_us" "version_us" "ratio"
measure_points=(0 $((calls / 20)) $((calls / 4)) $((calls / 2)) "$calls")
done_calls=0
for point in "${measure_points[@]}"; do
  # Grow the session to `point` calls (each a decided call and its result).
  while [ "$done_calls" -lt "$point" ]; do
    pre "$done_calls" | hook
    post "$done_calls" | hook
    done_calls=$((done_calls + 1))
  done
  # Time 10 pairs at this size (they add 20 events; negligible against the size).
  start=$(now_ns)
  for i in $(seq 10); do
    id="m$point-$i"
    pre "$id" | hook
    post "$id" | hook
  done
  end=$(now_ns)
  pair_us=$(( (end - start) / 10 / 1000 ))
  version_us=$(floor)
  ratio=$(awk -v a="$pair_us" -v b="$version_us" 'BEGIN { printf "%.1f", a / (2 * b) }')
  events=$(wc -l < "$(ls "$state"/*.jsonl | head -1)" 2>/dev/null || echo 0)
  printf '%-10s %12s %12s %8s\n' "$events" "$pair_us" "$version_us" "$ratio"
done
echo "ratio: one hook call (half a pair) over one \`aecl --version\`; flat means the cost does not grow with the session"
