#!/usr/bin/env bash
# Instructions of one warm-cache `aecl hook claude-code --policy` call, for each binary given
# and for the test policy with and without the Cedar rules of bench/hook_rules.cedar, beside
# `aecl --version`: counts that this machine's noise does not move, where the walls of
# bench/hook_startup.sh do.
#
#   bench/hook_instructions.sh AECL_BINARY...
#
# Needs valgrind. The cache is warmed under valgrind too: a record's key names the running
# executable (`/proc/self/exe`), which under valgrind is valgrind's tool. Each measured call
# runs on a copy of the warmed state directory, so every binary decides the same session.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
[ $# -gt 0 ] || { echo "usage: $0 AECL_BINARY..." >&2; exit 1; }
command -v valgrind >/dev/null || { echo "valgrind is needed" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$here/crates/aecl-cli/tests/claude_code/policy" "$work/plain"
cp -r "$work/plain" "$work/cedar"
cp "$here/bench/hook_rules.cedar" "$work/cedar/rules.cedar"
printf '%s' '{"session_id":"bench-startup","cwd":"/tmp","hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"ls -la src"},"tool_use_id":"toolu_01"}' >"$work/input.json"

instructions() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" <"$work/input.json" 2>&1 >/dev/null |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

printf '%-40s %-8s %14s\n' binary policy instructions
n=0
for aecl in "$@"; do
    n=$((n + 1))
    printf '%-40s %-8s %14s\n' "$aecl" --version "$(instructions "$aecl" --version)"
    for policy in plain cedar; do
        state="$work/state-$n-$policy"
        hook=("$aecl" hook claude-code --policy "$work/$policy" --agent coder --state-dir)
        for _ in 1 2; do instructions "${hook[@]}" "$state" >/dev/null; done
        cp -r "$state" "$state.copy"
        printf '%-40s %-8s %14s\n' "$aecl" "$policy" "$(instructions "${hook[@]}" "$state.copy")"
    done
done
