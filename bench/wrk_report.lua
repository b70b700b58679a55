-- wrk script of bench/api.py: counts every response that is not a 2xx (wrk itself only counts
-- statuses above 399, so a redirect would pass) and prints one machine-readable line at the end:
-- requests, duration, latency percentiles (microseconds), socket errors, non-2xx and the last
-- bad status seen. The Authorization header comes from wrk's -H option.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  bad = 0
  bad_status = 0
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    bad = bad + 1
    bad_status = status
  end
end

function done(summary, latency, requests)
  local non_2xx, last_bad = 0, 0
  for _, thread in ipairs(threads) do
    non_2xx = non_2xx + thread:get("bad")
    local status = thread:get("bad_status")
    if status ~= 0 then
      last_bad = status
    end
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, ' ..
    '"write": %d, "status": %d, "timeout": %d, "non_2xx": %d, "last_bad_status": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, non_2xx, last_bad, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean))
end
