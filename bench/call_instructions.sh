#!/usr/bin/env bash
# Instructions per call of the two long-running front ends, for each binary given: counts
# that this machine's noise does not move, where the throughput of bench/load.sh and the
# latencies of the gateway bench move by a fifth from one minute to the next.
#
#   bench/call_instructions.sh AECL_BINARY...
#   GATEWAY_BENCH=target/release/deps/gateway-HASH bench/call_instructions.sh AECL_BINARY...
#
# - evaluate: `aecl serve` (SQLite store on /dev/shm, the finance example's `read_invoice`,
#   as bench/load.sh) under `valgrind --tool=callgrind`, answering N sequential
#   `POST /v1/evaluate` requests on one kept-alive connection, for N = 200 and N = 1000;
#   the difference over 800 is one decision's instructions, start-up and shutdown left out.
# - gateway (with GATEWAY_BENCH, the executable `cargo bench -p aecl-mcp --bench gateway
#   --no-run` built): the bench's stdio `aecl mcp` with its store on /dev/shm under
#   callgrind, 200 and 800 calls of the echo tool; the difference over 600 is one call's.
#
# Needs valgrind and python3. Under valgrind SHA-256 runs without the CPU's SHA extensions
# and large copies count a byte an instruction, so hashing and copying weigh more here than
# on the machine: compare binaries with this, not the parts of one call.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
[ $# -gt 0 ] || { echo "usage: $0 AECL_BINARY..." >&2; exit 1; }
command -v valgrind >/dev/null || { echo "valgrind is needed" >&2; exit 1; }

work="$(mktemp -d)"
server=""
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null
    rm -rf "$work" /dev/shm/aecl-instr-$$*
}
trap cleanup EXIT

# Instructions of `aecl serve` answering $2 evaluates, binary $1.
evaluate() {
    local aecl="$1" n="$2"
    local run addr=""
    run="$(mktemp -d "$work/evaluate-$n-XXXXXX")"
    cp -r "$here/examples/policies/finance" "$run/policy"
    sed -i '1i rate_limit = { rate = "1000000000/minute", burst = 1000000 }' \
        "$run/policy/agents/finance_agent.toml"
    "$aecl" keys generate --name bench.local/audit --out "$run/audit" >/dev/null
    "$aecl" keys generate --name bench.local/tokens --out "$run/tokens" >/dev/null
    local token
    token="$("$aecl" token issue --agent finance_agent --policy "$run/policy" \
        --key "$run/tokens/audit.key" --ttl 86400 2>/dev/null)"
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$aecl" serve \
        --policy "$run/policy" --db "/dev/shm/aecl-instr-$$-${run##*/}.db" --listen 127.0.0.1:0 \
        --key "$run/audit/audit.key" --token-key "$run/tokens/audit.pub" \
        --rate-limit 1000000000 --watch-interval 0 >"$run/out" 2>"$run/err" &
    server=$!
    for _ in $(seq 1 600); do
        addr="$(sed -n 's|^aecl serve: listening on http://||p' "$run/out")"
        [ -n "$addr" ] && break
        kill -0 "$server" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$addr" ] || { cat "$run/err" >&2; exit 1; }
    python3 - "$addr" "$token" "$n" <<'PY'
import http.client, json, sys
addr, token, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
host, port = addr.rsplit(":", 1)
conn = http.client.HTTPConnection(host, int(port), timeout=120)
for i in range(n):
    # 200 runs, at most 5 calls each: under the finance agent's 50 calls per run.
    body = json.dumps({"run": f"r{i % 200}", "id": f"c{i}", "action": "read_invoice",
                       "args": {"invoice_id": f"INV-{1000 + i}"}})
    conn.request("POST", "/v1/evaluate", body,
                 {"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    answer = conn.getresponse()
    text = answer.read()
    if answer.status != 200 or b'"decision":"allow"' not in text:
        sys.exit(f"request {i}: {answer.status} {text[:300]!r}")
PY
    kill -TERM "$server"
    wait "$server" || true
    server=""
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$run/err"
}

# Instructions of the stdio gateway (store on /dev/shm) over $2 calls, binary $1.
gateway() {
    local aecl="$1" n="$2"
    local wrapper="$work/aecl-under-valgrind" log="$work/gateway-$n.log"
    # The bench starts several gateways; only the stdio one on /dev/shm runs under valgrind.
    cat >"$wrapper" <<EOF
#!/bin/sh
case "\$*" in
  *--listen*) exec "$aecl" "\$@" ;;
  *mcp*/dev/shm*) exec valgrind --tool=callgrind --callgrind-out-file=/dev/null --log-file="$log" "$aecl" "\$@" ;;
esac
exec "$aecl" "\$@"
EOF
    chmod +x "$wrapper"
    AECL_BIN="$wrapper" "$GATEWAY_BENCH" --bench --calls "$n" >/dev/null 2>&1
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$log"
}

printf '%-40s %-9s %12s\n' binary front instructions/call
for aecl in "$@"; do
    low="$(evaluate "$aecl" 200)"
    high="$(evaluate "$aecl" 1000)"
    printf '%-40s %-9s %12d\n' "$aecl" evaluate $(((high - low) / 800))
    if [ -n "${GATEWAY_BENCH:-}" ]; then
        low="$(gateway "$aecl" 200)"
        high="$(gateway "$aecl" 800)"
        printf '%-40s %-9s %12d\n' "$aecl" gateway $(((high - low) / 600))
    fi
done
