#!/usr/bin/env bash
# Hook start-up (issue #21 item 5): every tool call of an agent starts `aecl hook` anew, so
# the process start and the policy load are on the decision path. Measures, in one run,
# the median wall time of 60 runs each of `/bin/true`, `aecl --version` and `aecl hook
# claude-code --policy` answering one fixed recorded PreToolUse (a `Bash` call) from a
# fresh state directory; the hook's first run, which loads the policy in full and writes
# its cache, is not counted (the cache is warm for the 60). Prints milliseconds and the
# ratios the issue sets: hook <= 1.5 x version, version <= 2 x true.
#
#   bench/hook_startup.sh [AECL_BINARY] [POLICY_DIR | cedar]
#       # defaults: target/debug/aecl, crates/aecl-cli/tests/claude_code/policy
#       # `cedar`: that policy with the Cedar rules of bench/hook_rules.cedar beside it
#
# Each run is started with posix_spawn from one Python process and timed around spawn and
# wait (Python 3 is only the stopwatch: a `date` per run would cost more than /bin/true).
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
aecl="${1:-$here/target/debug/aecl}"
policy="${2:-$here/crates/aecl-cli/tests/claude_code/policy}"
[ -x "$aecl" ] || { echo "no binary at $aecl (cargo build -p aecl-cli --bin aecl)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if [ "$policy" = cedar ]; then
    cp -r "$here/crates/aecl-cli/tests/claude_code/policy" "$work/policy"
    cp "$here/bench/hook_rules.cedar" "$work/policy/rules.cedar"
    policy="$work/policy"
fi
printf '%s' '{"session_id":"bench-startup","cwd":"/tmp","hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"ls -la src"},"tool_use_id":"toolu_01"}' >"$work/input.json"

python3 - "$aecl" "$policy" "$work" <<'PY'
import os, statistics, sys, time

aecl, policy, work = sys.argv[1:4]
RUNS = 60

def median_ms(argv, stdin="/dev/null", warm=1):
    times = []
    for i in range(warm + RUNS):
        inp = os.open(stdin, os.O_RDONLY)
        out = os.open("/dev/null", os.O_WRONLY)
        start = time.perf_counter_ns()
        pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=[
            (os.POSIX_SPAWN_DUP2, inp, 0),
            (os.POSIX_SPAWN_DUP2, out, 1),
            (os.POSIX_SPAWN_DUP2, out, 2),
        ])
        _, status = os.waitpid(pid, 0)
        elapsed = time.perf_counter_ns() - start
        os.close(inp)
        os.close(out)
        if i >= warm:
            times.append(elapsed)
    return statistics.median(times) / 1e6

hook = [aecl, "hook", "claude-code", "--policy", policy, "--agent", "coder",
        "--state-dir", os.path.join(work, "state")]
true_ms = median_ms(["/bin/true"])
version_ms = median_ms([aecl, "--version"])
hook_ms = median_ms(hook, stdin=os.path.join(work, "input.json"))
cached = os.listdir(os.path.join(work, "state", "policy-cache"))
print(f"{'command':<40} {'median ms':>10}")
print(f"{'/bin/true':<40} {true_ms:>10.2f}")
print(f"{'aecl --version':<40} {version_ms:>10.2f}")
print(f"{'aecl hook claude-code --policy':<40} {hook_ms:>10.2f}")
print(f"hook/version {hook_ms / version_ms:.2f} (target <= 1.5)   "
      f"version/true {version_ms / true_ms:.2f} (target <= 2)   cache records: {len(cached)}")
PY
