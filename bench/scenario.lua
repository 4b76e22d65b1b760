-- One wrk script for every scenario. Environment:
--   BENCH_METHOD  GET | POST (default GET)
--   BENCH_BODY    urlencoded body for every request (POST)
--   BENCH_AUTH    the whole Authorization header value
--   BENCH_EXPECT  Lua pattern that a 2xx body must match
--   BENCH_POOL    file of bodies, one per line: each is sent by exactly one request (BENCH_POOL_MODE=once,
--                 e.g. refresh tokens that rotate) or the threads cycle through them (cycle). wrk thread i of n
--                 (BENCH_THREADS, the -t given to wrk) takes lines i, i+n, i+2n, ... so no line is sent twice. Once a "once" pool
--                 is used up, each further request sends BENCH_POOL_EXHAUSTED, which the server refuses: the
--                 error count then shows it, and the figure is invalid rather than quietly wrong.
--   BENCH_POOL_HEADER  with a pool: each line is that header's value (e.g. DPoP, a proof used once) instead of the
--                 body; the other headers stay as set here
-- Prints "BENCH_JSON {...}" with throughput, latency percentiles and errors: non2xx (with status codes),
-- bad_body (2xx whose body does not match) and wrk's socket errors.
local method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY") or ""
local auth = os.getenv("BENCH_AUTH") or ""
local expect = os.getenv("BENCH_EXPECT") or ""
local pool_file = os.getenv("BENCH_POOL") or ""
local pool_mode = os.getenv("BENCH_POOL_MODE") or "once"
local exhausted_body = os.getenv("BENCH_POOL_EXHAUSTED") or ""
local pool_header = os.getenv("BENCH_POOL_HEADER") or ""

wrk.method = method
if body ~= "" or (pool_file ~= "" and pool_header == "") then
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end
if body ~= "" then
  wrk.body = body
end
if auth ~= "" then
  wrk.headers["Authorization"] = auth
end

local threads = {}
-- wrk starts each thread as soon as its setup() ran, so the thread count must be known up front
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  non2xx = 0
  bad_body = 0
  codes = {}
  pool = {}
  pos = 0
  exhausted = 0
end

if pool_file ~= "" then
  local loaded = false
  local function load()
    local i = 0
    for line in io.lines(pool_file) do
      if line ~= "" then
        if i % nthreads == tid then
          table.insert(pool, line)
        end
        i = i + 1
      end
    end
    loaded = true
  end

  -- with BENCH_POOL_HEADER the line goes into that header, beside a copy of the script's own headers
  local function format(line)
    if pool_header == "" then
      return wrk.format(nil, nil, nil, line)
    end
    local headers = {}
    for k, v in pairs(wrk.headers) do
      headers[k] = v
    end
    headers[pool_header] = line
    return wrk.format(nil, nil, headers, nil)
  end

  function request()
    if not loaded then
      load()
    end
    pos = pos + 1
    if pos > #pool then
      if pool_mode == "cycle" and #pool > 0 then
        pos = 1
      else
        exhausted = exhausted + 1
        return format(exhausted_body)
      end
    end
    return format(pool[pos])
  end
end

function response(status, headers, resp_body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    local k = tostring(status)
    codes[k] = (codes[k] or 0) + 1
  elseif expect ~= "" and not string.find(resp_body or "", expect) then
    bad_body = bad_body + 1
  end
end

function done(summary, latency, requests)
  local n, b, x, all = 0, 0, 0, {}
  for _, t in ipairs(threads) do
    n = n + t:get("non2xx")
    b = b + t:get("bad_body")
    x = x + t:get("exhausted")
    for k, v in pairs(t:get("codes")) do
      all[k] = (all[k] or 0) + v
    end
  end
  local parts = {}
  for k, v in pairs(all) do
    table.insert(parts, string.format('"%s":%d', k, v))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_s":%.3f,"rps":%.2f,' ..
    '"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,' ..
    '"non2xx":%d,"bad_body":%d,"pool_exhausted":%d,"codes":{%s},' ..
    '"sock_connect":%d,"sock_read":%d,"sock_write":%d,"sock_timeout":%d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, n, b, x, table.concat(parts, ","),
    e.connect, e.read, e.write, e.timeout))
end
