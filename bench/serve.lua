-- wrk script for bench/serve.sh and bench/tls.sh.
--   WRK_TARGET=http://127.0.0.1:ORIGIN/small wrk ... -s bench/serve.lua http://127.0.0.1:PROXYPORT
-- wrk connects to the host:port on its command line; every request carries WRK_TARGET as its
-- request target, so an absolute URL makes it an absolute-form (forward proxy) request, and a bare
-- path ("/small") a plain origin-form request for the direct-to-nginx ceiling.
-- done() prints one machine-readable "BENCH ..." line that bench/serve.sh parses.

local target = os.getenv("WRK_TARGET") or "/small"
wrk.path = target
local authority = target:match("^https?://([^/]+)")
if authority then
  -- Host must name the origin, not the proxy wrk happens to connect to.
  wrk.headers["Host"] = authority
end

-- WRK_PATHS=a,b,c: each request picks one of these targets at random (a mixed-size workload); they share
-- WRK_TARGET's origin, so Host stays right.
local paths = {}
for p in (os.getenv("WRK_PATHS") or ""):gmatch("[^,]+") do paths[#paths + 1] = p end
if #paths > 0 then
  request = function()
    return wrk.format(nil, paths[math.random(#paths)])
  end
end

-- WRK_CLOSE=1: every request asks to close its connection (a new TCP connection, and with https:// a new
-- TLS handshake, per request).
if os.getenv("WRK_CLOSE") == "1" then
  wrk.headers["Connection"] = "close"
end

-- WRK_HEADERS="Name: value|Name: value": more fields on every request (a browser's set, say).
for line in (os.getenv("WRK_HEADERS") or ""):gmatch("[^|]+") do
  local name, value = line:match("^([^:]+):%s*(.*)$")
  if name then wrk.headers[name] = value end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d bytes=%d p50_us=%d p99_us=%d max_us=%d " ..
    "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
