-- Figures for the Redis store (no pass/fail): events/s through t:record with
-- bounce.store.redis over one loopback connection (redis-lua), with the
-- store's update() (one round trip) and with get + cas (two), t:check/s, and
-- Redis memory per address at N addresses (INFO memory used_memory before and
-- after, divided), for records without and with a TTL.
--   REDIS_PORT=6379 lua5.4 bench/store_redis.lua [RUNS [SECONDS [N]]]   (default 5 0.5 100000)
-- bench/run.sh starts a private redis-server for it. The database on that
-- port is flushed (FLUSHALL): never point it at a Redis that holds data.
-- Run from the repository root (it finds ./lua and ./build).
local jit = rawget(_G, "jit")
package.path = "./lua/?.lua;./lua/?/init.lua;" .. package.path
  .. (_VERSION == "Lua 5.4" and ";/usr/share/lua/5.3/?.lua" or "")
package.cpath = (jit and "./build/luajit/?.so;" or (_VERSION == "Lua 5.4" and "./build/?.so;")
  or ("./build/lua" .. _VERSION:match("%d+%.%d+") .. "/?.so;")) .. package.cpath

local bounce = require("bounce")
local core = require("bounce.core")
local socket = require("socket")
local redis = require("redis")

local runs = tonumber(arg[1]) or 5
local secs = tonumber(arg[2]) or 0.5
local naddr = tonumber(arg[3]) or 100000
local port = tonumber(os.getenv("REDIS_PORT") or "")
local what = jit and jit.version or _VERSION
local now = socket.gettime
local T0 = 1795132800

if not port then
  print("store_redis: REDIS_PORT not set (bench/run.sh starts a redis-server): skipped")
  os.exit(0)
end

local params = { host = "127.0.0.1", port = port, timeout = 5 }
local client = redis.connect(params)
client:flushall()

local function median(t)
  table.sort(t)
  return t[math.floor((#t + 1) / 2)]
end

-- Realistic addresses: 20-30 bytes, spread over 5,000 domains.
local function address(j)
  return "user" .. j .. "." .. (j * 7919 % 100000) .. "@example" .. (j % 5000) .. ".com"
end

-- Client commands Redis has run so far: script runs and GETs (each script
-- run makes one GET inside Redis, taken off: it is not a round trip).
local function calls()
  local st = client:info("commandstats").commandstats
  local function n(cmd) return tonumber((st["cmdstat_" .. cmd] or ""):match("calls=(%d+)") or 0) end
  local scripts = n("evalsha") + n("eval")
  return scripts, n("get") - scripts
end

-- t:record: a mix of soft bounces, blocks and deliveries over 10,000
-- addresses, health counters on (as in bench/tracker.lua); round trips
-- per event are script runs + GETs.
local store = assert(bounce.store.redis(client, { connect = function() return redis.connect(params) end }))
local kinds = { "soft", "delivered", "block", "soft", "delivered" }
local ev, into, j = { reason = "mailboxfull", at = T0 }, {}, 0

-- One run of secs seconds on tracker t: events/s and events.
local function record_run(t)
  local n, t0 = 0, now()
  repeat
    for _ = 1, 200 do
      j = j + 1
      ev.rcpt, ev.type, ev.at = address(j % 10000), kinds[j % 5 + 1], T0 + j
      assert(t:record(ev, into))
    end
    n = n + 200
  until now() - t0 >= secs
  return n / (now() - t0), n
end

-- The update path (one round trip when the store's cache guesses right),
-- after one pass over the 10,000 addresses so that they all exist; and the
-- get + cas path the tracker takes with a store without update() (the same
-- store behind a table without that method). Their runs alternate, so that
-- both see the same load on a shared machine.
local t = assert(bounce.tracker{ store = store })
for i = 1, 10000 do
  ev.rcpt, ev.type, ev.at = address(i), kinds[i % 5 + 1], T0
  assert(t:record(ev, into))
end
local plain = assert(bounce.tracker{ store = {
  get = function(_, k) return store:get(k) end,
  cas = function(_, k, o, n, ttl) return store:cas(k, o, n, ttl) end,
  scan = function() return store:scan() end,
} })
local paths = { { t = t, what = "update", rates = {}, events = 0, trips = 0 },
                { t = plain, what = "get + cas, for comparison", rates = {}, events = 0, trips = 0 } }
for _ = 1, runs do
  for _, p in ipairs(paths) do
    local s0, g0 = calls()
    local rate, n = record_run(p.t)
    local s1, g1 = calls()
    p.rates[#p.rates + 1], p.events, p.trips = rate, p.events + n, p.trips + s1 - s0 + g1 - g0
  end
end
for _, p in ipairs(paths) do
  print(string.format("%s: t:record, redis store, one connection: %.0f events/s, %.2f round trips/event "
    .. "(%s; median of %d x %.1fs)", what, median(p.rates), p.trips / p.events, p.what, runs, secs))
end

local rates = {}
for _ = 1, runs do
  local n, t0 = 0, now()
  repeat
    for _ = 1, 200 do
      j = j + 1
      t:check(address(j % 10000))
    end
    n = n + 200
  until now() - t0 >= secs
  rates[#rates + 1] = n / (now() - t0)
end
print(string.format("%s: t:check, redis store, one connection: %.0f checks/s", what, median(rates)))

-- Memory: N records written with pipelined SETs on a raw connection (the
-- bytes Redis keeps do not depend on how they were written), keys and
-- values exactly as the store writes them.
local raw = assert(socket.connect("127.0.0.1", port))
raw:settimeout(30)
local function resp(...)
  local args, out = { ... }, {}
  out[1] = "*" .. #args .. "\r\n"
  for i = 1, #args do
    local a = tostring(args[i])
    out[#out + 1] = "$" .. #a .. "\r\n" .. a .. "\r\n"
  end
  return table.concat(out)
end
local function used_memory()
  return tonumber(client:info().memory.used_memory)
end

local rec = core.encode_record{ state = "suppressed", cause = "hard", reason = "userunknown",
  last_event = "hard", bounces = 1, last_at = T0, since = T0 }
for _, ttl in ipairs({ false, 30 * 86400 }) do
  client:flushall()
  collectgarbage()
  local before, keylen = used_memory(), 0
  local i = 0
  while i < naddr do
    local batch = {}
    for _ = 1, math.min(1000, naddr - i) do
      i = i + 1
      local a = address(i)
      keylen = keylen + #a
      local k = store:key(a)
      batch[#batch + 1] = ttl and resp("SET", k, rec, "EX", ttl) or resp("SET", k, rec)
    end
    assert(raw:send(table.concat(batch)))
    for _ = 1, #batch do
      local line = assert(raw:receive("*l"))
      assert(line == "+OK", line)
    end
  end
  local after = used_memory()
  assert(tonumber(client:dbsize()) == naddr, "records missing")
  print(string.format("%s: redis %s, %d addresses (%.1f bytes avg, key prefix 'bounce:{...}'): "
    .. "%.0f bytes/address (used_memory), %.0f beyond the address",
    what, ttl and "records with TTL" or "records without TTL", naddr, keylen / naddr,
    (after - before) / naddr, (after - before - keylen) / naddr))
end
raw:close()
client:flushall()
