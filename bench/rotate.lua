-- wrk script of the Tokendesk benchmark (bench/load.py writes the targets file).
--
-- Usage: wrk ... -s bench/rotate.lua http://127.0.0.1:PORT -- TARGETS_FILE
-- TARGETS_FILE: the Authorization header value on the first line, then one request path a
-- line. Requests rotate over the paths; every one carries the header. At the end one line
--   BENCH_JSON {...}
-- gives the exact counts and latency percentiles (microseconds) for bench/load.py to read.

local requests = {}
local next_index = 0

function init(args)
  local file = assert(io.open(args[1], "r"))
  local authorization = file:read("*l")
  for path in file:lines() do
    if #path > 0 then
      requests[#requests + 1] = wrk.format("GET", path, { ["Authorization"] = authorization })
    end
  end
  file:close()
  assert(#requests > 0, "no request paths in " .. args[1])
end

function request()
  next_index = next_index % #requests + 1
  return requests[next_index]
end

function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d},' ..
    '"latency_us":{"min":%d,"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.timeout, e.status,
    latency.min, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max))
end
