-- wrk script for `make bench` (tests/bench/load.py): POST one JSON body after another, with headers, at full
-- speed or at a fixed rate, and write what wrk measured as JSON when done.
--
-- Environment: BENCH_BODIES   file with one JSON body per line (taken round robin, each thread its own start)
--              BENCH_HEADERS  file with one "Name: value" header per line (Authorization, ...)
--              BENCH_KEY      if set, an Idempotency-Key "<BENCH_KEY>-<thread>-<n>" on every request
--              BENCH_RATE     if set, requests/s for the whole run, spread over the threads (fixed schedule)
--              BENCH_THREADS  threads wrk runs (to split BENCH_RATE)
--              BENCH_METHOD   GET or POST (default); a GET sends no body
--              BENCH_OUT      where done() writes {requests, duration_s, errors, latency_ms: {p50, p90, p99, max}}
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clk_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local threads = {}
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

local bodies, headers, key, interval, next_slot, n = {}, {}, nil, nil, nil, 0
local method = os.getenv("BENCH_METHOD") or "POST"

function init(args)
  for line in io.lines(os.getenv("BENCH_BODIES")) do
    if #line > 0 then table.insert(bodies, line) end
  end
  headers["Content-Type"] = "application/json"
  local header_file = os.getenv("BENCH_HEADERS")
  if header_file then
    for line in io.lines(header_file) do
      local name, value = line:match("^([^:]+):%s*(.*)$")
      if name then headers[name] = value end
    end
  end
  key = os.getenv("BENCH_KEY")
  local rate = tonumber(os.getenv("BENCH_RATE") or "")
  if rate and rate > 0 then
    interval = 1000.0 / (rate / tonumber(os.getenv("BENCH_THREADS") or "1"))
  end
  n = (id or 1) * 7919
end

function request()
  n = n + 1
  if key then headers["Idempotency-Key"] = key .. "-" .. (id or 0) .. "-" .. n end
  if method == "GET" then return wrk.format("GET", nil, headers, nil) end
  return wrk.format("POST", nil, headers, bodies[(n % #bodies) + 1])
end

-- At a fixed rate each request takes the next slot of its thread's schedule; a late slot goes at once.
function delay()
  if not interval then return 0 end
  local now = now_ms()
  if not next_slot then next_slot = now end
  next_slot = next_slot + interval
  local wait = next_slot - now
  if wait < 0 then return 0 end
  return math.floor(wait)
end

function done(summary, latency, requests)
  local out = io.open(os.getenv("BENCH_OUT"), "w")
  local e = summary.errors
  out:write(string.format(
    '{"requests": %d, "duration_s": %.3f, "errors": {"connect": %d, "read": %d, "write": %d, "status": %d, ' ..
    '"timeout": %d}, "latency_ms": {"p50": %.3f, "p90": %.3f, "p99": %.3f, "max": %.3f, "mean": %.3f}}\n',
    summary.requests, summary.duration / 1e6, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, latency.mean / 1000))
  out:close()
end
