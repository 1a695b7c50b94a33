-- Figures for bounce policyd (no pass/fail): Postfix policy requests over
-- loopback against a warm SQLite history (and Redis when REDIS_PORT names a
-- private server), as Postfix sends them: one connection asking one request
-- at a time (the latency a recipient waits: median and p99), then C
-- connections each with one request in flight (requests/s the one process
-- serves), and policyd.decide() alone in this process (the history's part).
--   lua5.4 bench/policyd.lua [RUNS [SECONDS [CONNECTIONS [ADDRESSES]]]]   (default 5 0.5 32 10000)
--   BENCH_SERVER_LUA=luajit ...   the server under LuaJIT (default lua5.4)
-- Run from the repository root. The history is a new file under /tmp, 1%
-- of its addresses suppressed; requests cycle over every address. The
-- client shares the machine with the server: requests/s is a floor.
local jit = rawget(_G, "jit")
package.path = "./lua/?.lua;./lua/?/init.lua;" .. package.path
package.cpath = (jit and "./build/luajit/?.so;" or (_VERSION == "Lua 5.4" and "./build/?.so;")
  or ("./build/lua" .. _VERSION:match("%d+%.%d+") .. "/?.so;")) .. package.cpath

local bounce = require("bounce")
local policyd = require("bounce.policyd")
local socket = require("socket")

local runs = tonumber(arg[1]) or 5
local secs = tonumber(arg[2]) or 0.5
local nconn = tonumber(arg[3]) or 32
local naddr = tonumber(arg[4]) or 10000
local server_lua = os.getenv("BENCH_SERVER_LUA") or "lua5.4"
local now = socket.gettime
local T0 = os.time() - 86400

local function sh(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("*a")
  p:close()
  return out
end

local function median(t)
  table.sort(t)
  return t[math.floor((#t + 1) / 2)]
end

local function pct(t, p)   -- t sorted
  return t[math.max(1, math.floor(#t * p + 0.5))]
end

local function addr(i) return "user" .. i .. "@example" .. (i % 50) .. ".org" end

-- Fills a tracker's store: every address sent to, 1% hard-bounced.
local function fill(t)
  for i = 1, naddr do
    if i % 100 == 0 then
      assert(t:record{ rcpt = addr(i), type = "hard", reason = "userunknown", at = T0 })
    else
      assert(t:record{ rcpt = addr(i), type = "sent", at = T0 })
    end
  end
end

local REQ = {}
for i = 1, naddr do
  REQ[i] = "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
    .. "client_address=127.0.0.1\nclient_name=localhost\nhelo_name=app.example.com\n"
    .. "queue_id=\nsender=news@example.com\nrecipient=" .. addr(i) .. "\nrecipient_count=0\n"
    .. "size=0\ninstance=1a2b.3c4d.5e6f.0\nsasl_method=\nccert_subject=\n\n"
end

local function read_answer(c)
  local line, err = c:receive("*l")
  if not line then error("policyd: " .. tostring(err)) end
  c:receive("*l")
  return line
end

-- One connection, one request at a time: latencies in microseconds.
local function latency(port, seconds)
  local c = assert(socket.connect("127.0.0.1", port))
  c:settimeout(5)
  c:setoption("tcp-nodelay", true)
  local lat, i, refused = {}, 0, 0
  local stop = now() + seconds
  repeat
    i = i % naddr + 1
    local t0 = now()
    c:send(REQ[i])
    local a = read_answer(c)
    lat[#lat + 1] = (now() - t0) * 1e6
    if a:find("^action=550") then refused = refused + 1 end
  until now() > stop
  c:close()
  return lat, refused
end

-- n connections, each with one request in flight: requests/s.
local function throughput(port, n, seconds)
  local conns = {}
  for k = 1, n do
    local c = assert(socket.connect("127.0.0.1", port))
    c:settimeout(0)
    c:setoption("tcp-nodelay", true)
    conns[k] = c

  end
  local i, done, bufs = 0, 0, {}
  for _, c in ipairs(conns) do
    i = i % naddr + 1
    c:send(REQ[i])
    bufs[c] = ""
  end
  local t0 = now()
  local stop = t0 + seconds
  while now() < stop do
    local ready = socket.select(conns, nil, 1)
    for _, c in ipairs(ready) do
      local data, err, partial = c:receive(4096)
      local b = bufs[c] .. (data or partial or "")
      if err == "closed" then error("policyd closed a connection") end
      local pos = 1
      while true do
        local s, e = b:find("\n\n", pos, true)
        if not s then break end
        done = done + 1
        pos = e + 1
        i = i % naddr + 1
        c:send(REQ[i])
      end
      bufs[c] = b:sub(pos)
    end
  end
  local elapsed = now() - t0
  for _, c in ipairs(conns) do c:close() end
  return done / elapsed
end

local dir = sh("mktemp -d /tmp/bounce-bench-policyd.XXXXXX"):match("%S+")
assert(dir, "mktemp failed")
local pids = {}
local function cleanup()
  for _, pid in ipairs(pids) do sh("kill " .. pid .. " 2>/dev/null") end
  sh("rm -rf '" .. dir .. "'")
end

local function start(spec)
  local log = dir .. "/policyd" .. #pids .. ".log"
  local pid = sh(server_lua .. " bin/bounce policyd --store '" .. spec .. "' --quiet --listen 127.0.0.1:0 >"
    .. log .. " 2>&1 & echo $!"):match("%d+")
  pids[#pids + 1] = pid
  local deadline = now() + 10
  repeat
    local f = io.open(log)
    local text = f and f:read("*a") or ""
    if f then f:close() end
    local port = tonumber(text:match("listening on 127%.0%.0%.1:(%d+)"))
    if port then return port end
    socket.sleep(0.02)
  until now() > deadline
  error("bounce policyd did not start")
end

local function bench_server(label, spec)
  local port = start(spec)
  latency(port, math.min(secs, 0.3))   -- warm-up: the store's pages, the server's code paths
  local meds, p99s, rates, refused = {}, {}, {}, 0
  for _ = 1, runs do
    local lat, r = latency(port, secs)
    table.sort(lat)
    meds[#meds + 1] = pct(lat, 0.5)
    p99s[#p99s + 1] = pct(lat, 0.99)
    refused = refused + r
    rates[#rates + 1] = throughput(port, nconn, secs)
  end
  assert(refused > 0, "no request was refused: the history is not what it should be")
  print(string.format("policyd (%s server, %s, %d addresses): 1 connection: median %.0f us, p99 %.0f us;"
    .. " %d connections: %.0f requests/s", server_lua, label, naddr, median(meds), median(p99s), nconn,
    median(rates)))
end

-- policyd.decide() in this process, no socket: the history's share.
local function bench_decide(label, t)
  local p = policyd.parser()
  local rate = {}
  for _ = 1, runs do
    local n, i = 0, 0
    local t0 = now()
    repeat
      for _ = 1, 200 do
        i = i % naddr + 1
        p:push(REQ[i])
        policyd.decide(t, p:pop())
      end
      n = n + 200
    until now() - t0 > secs
    rate[#rate + 1] = n / (now() - t0)
  end
  local r = median(rate)
  print(string.format("policyd.decide + parser (%s, %s, in process): %.0f requests/s (%.1f us each)",
    jit and jit.version or _VERSION, label, r, 1e6 / r))
end

local ok, err = pcall(function()
  local db = dir .. "/bounce.db"
  local s = assert(bounce.store.sqlite(db))
  local t = assert(bounce.tracker{ store = s })
  assert(s:batch(fill, t))
  bench_decide("sqlite", t)
  bench_server("sqlite", db)
  s:close()
  local rport = os.getenv("REDIS_PORT")
  if rport and rport ~= "" then
    local url = require("bounce.store.url")
    local rs = assert(url.open("redis://127.0.0.1:" .. rport .. "/policyd-bench:"))
    local rt = assert(bounce.tracker{ store = rs })
    fill(rt)
    bench_decide("redis", rt)
    bench_server("redis", "redis://127.0.0.1:" .. rport .. "/policyd-bench:")
  else
    print("policyd over Redis: REDIS_PORT not set (bench/run.sh starts a redis-server): skipped")
  end
end)
cleanup()
if not ok then
  io.stderr:write("bench/policyd.lua: ", tostring(err), "\n")
  os.exit(1)
end
