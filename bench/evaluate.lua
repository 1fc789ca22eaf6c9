-- wrk script of `bench/load.sh` (issue #4): what each request is, and what came back.
--
-- AECL_BENCH_MODE=evaluate (default): POST /v1/evaluate with an allowed `read_invoice`
-- call of `finance_agent` (`examples/policies/finance`), `Authorization: Bearer
-- $AECL_BENCH_TOKEN`. AECL_BENCH_MODE=health: GET /healthz, the baseline.
--
-- Runs: the engine decides the calls of one run one at a time (a striped per-run lock
-- held from loading the run to committing its event), and the finance agent's manifest
-- allows 50 calls per run. So each wrk thread cycles over SLOTS runs, one call to each in
-- turn: two calls of one run are SLOTS requests apart and never in flight together, and
-- every run gets CALLS_PER_RUN calls before a new generation of runs starts.
-- AECL_BENCH_LABEL keeps the runs of one wrk invocation apart from the others' in the
-- same store.
--
-- Every answer is checked: a non-2xx status, or (evaluate) a 200 whose decision is not
-- `allow` or (health) whose status is not `ok`, is counted and printed by `done`, with a
-- one-line summary `load.sh` reads.

local SLOTS = 1000
local CALLS_PER_RUN = 20

local mode = os.getenv("AECL_BENCH_MODE") or "evaluate"
local token = os.getenv("AECL_BENCH_TOKEN") or ""
local label = os.getenv("AECL_BENCH_LABEL") or "x"

local threads = {}

function setup(thread)
   thread:set("id", #threads + 1)
   table.insert(threads, thread)
end

function init(args)
   n = 0
   non2xx = 0
   unexpected = 0
   answered = 0
   if mode == "health" then
      health_request = wrk.format("GET", "/healthz")
   end
   headers = {
      ["Authorization"] = "Bearer " .. token,
      ["Content-Type"] = "application/json",
   }
end

function request()
   if mode == "health" then
      return health_request
   end
   local slot = n % SLOTS
   local generation = math.floor(n / (SLOTS * CALLS_PER_RUN))
   local run = string.format("bench-%s-t%d-g%d-s%d", label, id, generation, slot)
   local body = string.format(
      '{"run":"%s","id":"c%d","action":"read_invoice","args":{"invoice_id":"INV-%d"}}',
      run, n, 1000 + n % 9000)
   n = n + 1
   return wrk.format("POST", "/v1/evaluate", headers, body)
end

function response(status, headers, body)
   answered = answered + 1
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
      if non2xx <= 3 then
         io.stderr:write(string.format("non-2xx %d: %s\n", status, body))
      end
   elseif mode == "health" then
      if not string.find(body, '"status":"ok"', 1, true) then
         unexpected = unexpected + 1
      end
   elseif not string.find(body, '"decision":"allow"', 1, true) then
      unexpected = unexpected + 1
      if unexpected <= 3 then
         io.stderr:write("not allowed: " .. body .. "\n")
      end
   end
end

function done(summary, latency, requests)
   local bad, odd, seen = 0, 0, 0
   for _, thread in ipairs(threads) do
      bad = bad + thread:get("non2xx")
      odd = odd + thread:get("unexpected")
      seen = seen + thread:get("answered")
   end
   local expected = mode == "health" and "status ok" or "decision allow"
   io.write(string.format("checked answers: %d; non-2xx: %d; 2xx without %s: %d\n",
      seen, bad, expected, odd))
   local secs = summary.duration / 1e6
   io.write(string.format(
      "aecl-bench mode=%s requests=%d rps=%.0f p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d non2xx=%d unexpected=%d socket_errors=%d\n",
      mode, summary.requests, summary.requests / secs,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency:percentile(99.9), latency.max, bad, odd,
      summary.errors.connect + summary.errors.read + summary.errors.write
         + summary.errors.timeout))
end
