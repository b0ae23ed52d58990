-- wrk script: every request carries the next pre-generated body (each a fresh, single-use code),
-- and every reply is checked. Environment:
--   BENCH_BODIES  file with one request body per line
--   BENCH_PATH    request path;  BENCH_HEADERS  "name: value" pairs separated by "\n" (escaped)
--   BENCH_OK      a substring every good reply body contains (checked with a plain find)
-- Prints one JSON line prefixed "BENCH_RESULT " when done.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local path = os.getenv("BENCH_PATH")
  local headers = {}
  for line in string.gmatch(os.getenv("BENCH_HEADERS") or "", "[^\n]+") do
    local name, value = string.match(line, "^([^:]+):%s*(.*)$")
    if name then headers[name] = value end
  end
  ok_marker = os.getenv("BENCH_OK")
  local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
  reqs = {}
  local i = 0
  for body in io.lines(os.getenv("BENCH_BODIES")) do
    if i % nthreads == id then
      headers["Content-Length"] = tostring(#body)
      table.insert(reqs, wrk.format("POST", path, headers, body))
    end
    i = i + 1
  end
  idx = 0
  exhausted = 0
  bad = 0
  bad_status = 0
  sample = ""
end

function request()
  idx = idx + 1
  if idx > #reqs then
    exhausted = exhausted + 1
    idx = 1
  end
  return reqs[idx]
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    bad_status = bad_status + 1
    if sample == "" then sample = tostring(status) .. " " .. string.sub(body or "", 1, 200) end
  elseif not body or not string.find(body, ok_marker, 1, true) then
    bad = bad + 1
    if sample == "" then sample = string.sub(body or "", 1, 200) end
  end
end

local function esc(s)
  return (string.gsub(s, '[%c"\\]', function(c) return string.format("\\u%04x", string.byte(c)) end))
end

function done(summary, latency, requests)
  local bad_total, status_total, exhausted_total, sent, samples = 0, 0, 0, 0, ""
  for _, t in ipairs(threads) do
    bad_total = bad_total + t:get("bad")
    status_total = status_total + t:get("bad_status")
    exhausted_total = exhausted_total + t:get("exhausted")
    sent = sent + t:get("idx")
    local s = t:get("sample")
    if s ~= "" and samples == "" then samples = s end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"socket_errors":%d,"timeouts":%d,"non2xx":%d,"bad_body":%d,"exhausted":%d,"sample":"%s"}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect + e.read + e.write, e.timeout, status_total, bad_total, exhausted_total, esc(samples)))
end
