#!/usr/bin/env bash
# Load benchmark of the HTTP API (issue #4): `wrk` on loopback against `POST /v1/evaluate`
# of `aecl serve` with its durable audit log on SQLite (and on PostgreSQL with `--postgres
# URL` or `AECL_BENCH_POSTGRES_URL`), beside a baseline in the same run: `GET /healthz`
# (no token, no decision, no write; one read of the store) at the same connection counts.
#
# It builds the release `aecl`, generates an audit key and a token key in a temporary
# directory, mints a token for `finance_agent` of `examples/policies/finance` (a copy whose
# manifest's API `rate_limit` is raised like `--rate-limit`), starts
# `aecl serve` on a free port of 127.0.0.1 with the per-token rate limit raised out of the
# way (`--rate-limit`, so the limiter is not what is measured), runs wrk with
# `bench/evaluate.lua` (which checks every answer and counts non-2xx and non-`allow` ones),
# stops the server with SIGTERM and verifies the audit log with `aecl audit verify`. Each
# row of the summary shows the share of CPU time the hypervisor stole while it ran
# (`steal%`, from /proc/stat): on a shared VM a row with a large share is not comparable.
# It also shows the server's own CPU time per answered request (`cpu_us`: its user and
# system time over the row, from /proc/PID/stat), which the machine's other load moves
# much less than throughput, and which compares two builds where req/s cannot.
#
# Usage: bench/load.sh [--duration SECONDS] [--connections "16 64"] [--threads N]
#                      [--postgres URL [--replicas 2]] [--aecl BINARY]
# `--aecl` measures that binary instead of building the release one (to compare builds).
# The PostgreSQL URL names a server where the script may create and drop a scratch
# database (`aecl_bench_<pid>`); the URL's own database is only used to connect.
# Not run in CI: the figures depend on the machine and whatever else it runs.
set -euo pipefail

duration=10
connections="16 64"
threads=2
postgres="${AECL_BENCH_POSTGRES_URL:-}"
# With --postgres: also two `aecl serve` replicas on one database (`--replicas 2`).
replicas=1
# Requests per minute per token: far above anything wrk reaches here.
rate_limit=1000000000
aecl=""

while (($#)); do
    case "$1" in
        --duration) duration="$2"; shift 2 ;;
        --connections) connections="$2"; shift 2 ;;
        --threads) threads="$2"; shift 2 ;;
        --postgres) postgres="$2"; shift 2 ;;
        --replicas) replicas="$2"; shift 2 ;;
        --aecl) aecl="$2"; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed 's/^# \{0,1\}//;/^set -euo/d'; exit 0 ;;
        *) echo "load.sh: unknown argument \`$1\` (see --help)" >&2; exit 2 ;;
    esac
done

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
lua="$root/bench/evaluate.lua"
policy="$root/examples/policies/finance"
command -v wrk >/dev/null || { echo "load.sh: wrk not found (apt-get install wrk)" >&2; exit 1; }
command -v curl >/dev/null || { echo "load.sh: curl not found" >&2; exit 1; }

if [[ -z "${aecl:-}" ]]; then
    echo "== building the release aecl"
    # Niced: the build shares the machine and is not what is measured.
    (cd "$root" && nice -n 19 cargo build --release -p aecl-cli)
    aecl="${CARGO_TARGET_DIR:-$root/target}/release/aecl"
fi
[[ -x "$aecl" ]] || { echo "load.sh: no aecl binary at $aecl" >&2; exit 1; }

tmp="$(mktemp -d -t aecl-load-XXXXXX)"
server_pid=""
replica_pids=()
scratch_db=""
cleanup() {
    local pid
    for pid in "$server_pid" "${replica_pids[@]}"; do
        if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    if [[ -n "$scratch_db" ]]; then
        psql -q "$postgres" -c "DROP DATABASE IF EXISTS $scratch_db" >/dev/null 2>&1 || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# The agent's own API budget (its manifest's `rate_limit`, over all its tokens) raised out
# of the way too, in a copy of the policy: the limiter is not what is measured.
cp -r "$policy" "$tmp/policy"
policy="$tmp/policy"
sed -i "1i rate_limit = { rate = \"$rate_limit/minute\", burst = 1000000 }" \
    "$policy/agents/finance_agent.toml"

"$aecl" keys generate --name bench.local/audit --out "$tmp/audit" >/dev/null
"$aecl" keys generate --name bench.local/tokens --out "$tmp/tokens" >/dev/null
AECL_BENCH_TOKEN="$("$aecl" token issue --agent finance_agent --policy "$policy" \
    --key "$tmp/tokens/audit.key" --ttl 86400)"
export AECL_BENCH_TOKEN

summaries="$tmp/summaries"
: >"$summaries"

# Starts `aecl serve` on store $1 as node $2 (default n1), sets `server_pid` and
# `address`, waits for /healthz.
start_server() {
    local node="${2:-n1}"
    "$aecl" serve --policy "$policy" --db "$1" --listen 127.0.0.1:0 --node "$node" \
        --key "$tmp/audit/audit.key" --token-key "$tmp/tokens/audit.pub" \
        --rate-limit "$rate_limit" --watch-interval 0 \
        >"$tmp/serve-$node.out" 2>"$tmp/serve-$node.err" &
    server_pid=$!
    address=""
    for _ in $(seq 1 200); do
        address="$(sed -n 's|^aecl serve: listening on http://||p' "$tmp/serve-$node.out")"
        [[ -n "$address" ]] && curl -fsS "http://$address/healthz" >/dev/null 2>&1 && return 0
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "load.sh: aecl serve did not become healthy:" >&2
    cat "$tmp/serve-$node.err" >&2
    exit 1
}

# Stops the server with SIGTERM; it must exit cleanly.
stop_server() {
    kill -TERM "$server_pid"
    wait "$server_pid" || { echo "load.sh: aecl serve exited with $?" >&2; exit 1; }
    server_pid=""
}

# The machine's CPU time so far, all and stolen (by the hypervisor, from this VM), in ticks.
cpu_ticks() {
    awk '/^cpu / { print $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9, $9; exit }' /proc/stat
}

# The server's CPU time so far (user and system), in clock ticks.
server_ticks() {
    awk '{ print $14 + $15 }' "/proc/$server_pid/stat"
}

# The share of CPU time stolen between two `cpu_ticks`, in percent: a row measured while
# the hypervisor took a large share is not comparable with the others.
steal_percent() {
    local all0 steal0 all1 steal1
    read -r all0 steal0 <<<"$1"
    read -r all1 steal1 <<<"$2"
    echo $(( (steal1 - steal0) * 100 / (all1 - all0 > 0 ? all1 - all0 : 1) ))
}

# wrk against the running server: $1 store name, $2 mode (health|evaluate), $3 connections.
load() {
    local store="$1" mode="$2" conns="$3" path="/v1/evaluate"
    [[ "$mode" == health ]] && path="/healthz"
    echo
    echo "== $store: $mode, $conns connections, $threads threads, ${duration}s"
    local out="$tmp/wrk.out" before after served0 served1
    before="$(cpu_ticks)"
    served0="$(server_ticks)"
    AECL_BENCH_MODE="$mode" AECL_BENCH_LABEL="$store-$mode-$conns" \
        wrk --latency -t "$threads" -c "$conns" -d "${duration}s" -s "$lua" \
        "http://$address$path" | tee "$out"
    served1="$(server_ticks)"
    after="$(cpu_ticks)"
    local line requests cpu_us
    line="$(grep '^aecl-bench ' "$out")"
    requests="$(sed -n 's/.* requests=\([0-9]*\).*/\1/p' <<<"$line")"
    cpu_us=$(( (served1 - served0) * 1000000 / $(getconf CLK_TCK) / (requests > 0 ? requests : 1) ))
    echo "store=$store conns=$conns ${line#aecl-bench } steal=$(steal_percent "$before" "$after") cpu_us=$cpu_us" \
        >>"$summaries"
}

# One store: its own server, the baseline and evaluate at each connection count, then
# the log verified with the server stopped.
bench_store() {
    local store="$1" db="$2"
    echo
    echo "==== $store ($db)"
    start_server "$db"
    for conns in $connections; do
        load "$store" health "$conns"
        load "$store" evaluate "$conns"
    done
    stop_server
    echo
    echo "== $store: aecl audit verify after the load"
    "$aecl" audit verify --db "$db" --key "$tmp/audit/audit.pub"
}

echo "== $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== aecl serve --rate-limit $rate_limit (per token per minute: the limiter never refuses)"
bench_store sqlite "$tmp/aecl.db"

# Two replicas on one PostgreSQL database: each `aecl serve` (nodes n1 and n2) takes half
# of the connections, from its own wrk at the same time; their decisions add up.
bench_replicas() {
    local db="$1" conns half addresses=() node
    echo
    echo "==== postgres, two replicas on one database ($db)"
    for node in n1 n2; do
        start_server "$db" "$node"
        replica_pids+=("$server_pid")
        addresses+=("$address")
    done
    server_pid=""
    for conns in $connections; do
        half=$((conns / 2))
        echo
        echo "== two replicas: evaluate, $half connections each, 1 thread each, ${duration}s"
        local loaders=()
        for i in 0 1; do
            AECL_BENCH_MODE=evaluate AECL_BENCH_LABEL="replica-$i-$conns" \
                wrk --latency -t 1 -c "$half" -d "${duration}s" -s "$lua" \
                "http://${addresses[$i]}/v1/evaluate" >"$tmp/wrk-replica-$i.out" &
            loaders+=("$!")
        done
        wait "${loaders[@]}"
        local total=0 line rps
        for i in 0 1; do
            line="$(grep '^aecl-bench ' "$tmp/wrk-replica-$i.out")"
            rps="$(sed -n 's/.* rps=\([0-9]*\).*/\1/p' <<<"$line")"
            echo "replica $((i + 1)): ${line#aecl-bench }"
            total=$((total + rps))
        done
        echo "two replicas, $conns connections in all: $total evaluate/s" | tee -a "$tmp/replicas"
    done
    for pid in "${replica_pids[@]}"; do
        kill -TERM "$pid"
        wait "$pid" || { echo "load.sh: aecl serve exited with $?" >&2; exit 1; }
    done
    replica_pids=()
    echo
    echo "== postgres, two replicas: aecl audit verify after the load"
    "$aecl" audit verify --db "$db" --key "$tmp/audit/audit.pub"
}

if [[ -n "$postgres" ]]; then
    command -v psql >/dev/null || { echo "load.sh: --postgres needs psql" >&2; exit 1; }
    scratch_db="aecl_bench_$$"
    psql -q -v ON_ERROR_STOP=1 "$postgres" -c "CREATE DATABASE $scratch_db" >/dev/null
    base="${postgres%%\?*}"
    query="${postgres#"$base"}"
    after_scheme="${base#*://}"
    if [[ "$after_scheme" == */* ]]; then base="${base%/*}"; fi
    bench_store postgres "$base/$scratch_db$query"
    if ((replicas > 1)); then
        bench_replicas "$base/$scratch_db$query"
    fi
fi

echo
echo "==== summary (latencies in ms; evaluate's throughput as a ratio of /healthz's at the same connections)"
awk '
    function field(name,   i, kv) {
        for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == name) return kv[2] }
        return ""
    }
    {
        key = field("store") " " field("conns")
        if (field("mode") == "health") { base[key] = field("rps") }
        rows[NR] = $0
    }
    END {
        printf "%-9s %5s %-9s %9s %7s %7s %7s %7s %7s %6s %5s %6s %6s\n", \
            "store", "conns", "endpoint", "req/s", "p50", "p90", "p99", "p99.9", "max", "errors", \
            "ratio", "steal%", "cpu_us"
        for (r = 1; r <= NR; r++) {
            $0 = rows[r]
            key = field("store") " " field("conns")
            endpoint = field("mode") == "health" ? "healthz" : "evaluate"
            errors = field("non2xx") + field("unexpected") + field("socket_errors")
            printf "%-9s %5s %-9s %9d %7.2f %7.2f %7.2f %7.2f %7.2f %6d %5.2f %6s %6s\n", \
                field("store"), field("conns"), endpoint, field("rps"), field("p50_us") / 1000, \
                field("p90_us") / 1000, field("p99_us") / 1000, field("p999_us") / 1000, \
                field("max_us") / 1000, errors, field("rps") / base[key], field("steal"), \
                field("cpu_us")
        }
    }
' "$summaries"
if [[ -s "$tmp/replicas" ]]; then
    echo
    cat "$tmp/replicas"
fi
