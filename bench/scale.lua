-- How the tracker's cost grows with the number of addresses it holds (no
-- pass/fail): t:record and t:check rates and bytes per address at each size,
-- for the memory store, SQLite and Redis.
--   lua5.4 bench/scale.lua [RUNS [SECONDS]] [--sizes N,N,...] [--redis N,N,...|none]
--       defaults: 3 runs of 0.5 s, sizes 10^4,10^5,10^6,10^7 for the memory
--       store and SQLite, 10^6 for Redis (`make bench-scale`)
-- Each store and size is measured in a child process of its own (the same
-- interpreter), so that RSS growth is that store's and one size's garbage
-- does not weigh on the next. For each:
--   fill    N addresses, one first event each (a soft bounce) through
--           t:record (SQLite in batches of 1000); Redis is filled with
--           pipelined SETs of the record t:record writes (the bytes Redis
--           keeps do not depend on how they came), to keep 10^6 short
--   record  t:record of block events to addresses drawn at random among the
--           N (each event reads and rewrites a record; a block never
--           suppresses), the decision table reused, health off; SQLite in
--           batches of 1000
--   check   t:check of addresses drawn at random among the N
--   bytes   per address, the address included: the memory store's own
--           accounting (s:bytes()) and RSS growth; SQLite's file after close;
--           Redis' used_memory growth
-- Rates are medians of RUNS runs of at least SECONDS each, by this process's
-- CPU time for the memory store and SQLite (on a shared machine wall time
-- counts the neighbours), by wall time for Redis (the work is in the
-- server). Redis: a private redis-server on a free 127.0.0.1 port, started
-- and stopped here; skipped with a message when redis-server is missing.
-- Files go to a temporary directory under /tmp, removed at the end.
-- Run from the repository root (it finds ./lua and ./build).
local jit = rawget(_G, "jit")
package.path = "./lua/?.lua;./lua/?/init.lua;" .. package.path
  .. (_VERSION == "Lua 5.4" and ";/usr/share/lua/5.3/?.lua" or "")
package.cpath = (jit and "./build/luajit/?.so;" or (_VERSION == "Lua 5.4" and "./build/?.so;")
  or ("./build/lua" .. _VERSION:match("%d+%.%d+") .. "/?.so;")) .. package.cpath

local what = jit and jit.version or _VERSION
local T0 = 1795132800
local POOL = 65536
local BATCH = 1000

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

-- Realistic addresses: 20-30 bytes, spread over 5,000 domains.
local function address(j)
  return "user" .. j .. "." .. (j * 7919 % 100000) .. "@example" .. (j % 5000) .. ".com"
end

local function rss()
  local f = io.open("/proc/self/statm")
  if not f then return 0 end
  local _, res = f:read("*n", "*n")
  f:close()
  return res * 4096
end

local function size_of(path)
  local f = io.open(path, "rb")
  if not f then return 0 end
  local n = f:seek("end")
  f:close()
  return n
end

-- One store at one size, in this process: prints one line of key=value.
local function one(kind, n, runs, secs, where)
  local bounce = require("bounce")
  local has_socket, socket = pcall(require, "socket")
  local wall = has_socket and socket.gettime or os.time
  local clock = kind == "redis" and wall or os.clock

  local seed = 42
  local function rnd(m)   -- Park-Miller: exact in doubles, same sequence on every Lua
    seed = (seed * 16807) % 2147483647
    return seed % m
  end

  collectgarbage()
  collectgarbage()
  local rss0 = rss()
  local s, close, bytes
  local keys = 0
  local batch = function(fn) fn() end
  local t0 = clock()
  if kind == "memory" then
    s = bounce.store.memory()
  elseif kind == "sqlite" then
    local path = where .. "/scale.db"
    s = assert(require("bounce.store.sqlite").new(path))
    batch = function(fn) assert(s:batch(fn)) end
    bytes = function()
      s:close()   -- the last connection checkpoints the WAL into the file
      return size_of(path) + size_of(path .. "-wal")
    end
  else
    local redis = require("redis")
    local params = { host = "127.0.0.1", port = where, timeout = 30 }
    local client = redis.connect(params)
    client:flushall()
    local function used() return tonumber(client:info().memory.used_memory) end
    s = assert(bounce.store.redis(client, { connect = function() return redis.connect(params) end }))
    local before = used()
    -- the record a first soft bounce leaves, as t:record writes it
    local probe = bounce.store.memory()
    local pt = assert(bounce.tracker{ store = probe, health = false })
    assert(pt:record{ rcpt = "probe@example.com", type = "soft", reason = "mailboxfull", at = T0 })
    local rec = assert(probe:get("probe@example.com"))
    probe:close()
    local raw = assert(socket.connect("127.0.0.1", where))
    raw:settimeout(30)
    local i = 0
    while i < n do
      local out, m = {}, 0
      for _ = 1, math.min(1000, n - i) do
        i = i + 1
        local a = address(i)
        keys = keys + #a
        local k = s:key(a)
        m = m + 1
        out[m] = "*3\r\n$3\r\nSET\r\n$" .. #k .. "\r\n" .. k .. "\r\n$" .. #rec .. "\r\n" .. rec .. "\r\n"
      end
      assert(raw:send(table.concat(out)))
      for _ = 1, m do
        local line = assert(raw:receive("*l"))
        assert(line == "+OK", line)
      end
    end
    raw:close()
    local grown = used() - before
    assert(tonumber(client:dbsize()) == n, "records missing")
    bytes = function() return grown end
    close = function() client:flushall() end
  end
  local t = assert(bounce.tracker{ store = s, health = false })
  if kind ~= "redis" then
    local ev, into = { type = "soft", reason = "mailboxfull", at = T0 }, {}
    for j = 1, n, BATCH do
      batch(function()
        for k = j, math.min(j + BATCH - 1, n) do
          local a = address(k)
          keys = keys + #a
          ev.rcpt = a
          t:record(ev, into)
        end
      end)
    end
  end
  local fill = n / (clock() - t0)
  assert(s:count() == n, "store holds " .. tostring(s:count()) .. " addresses, not " .. n)
  local grown
  if kind == "memory" then
    collectgarbage()
    collectgarbage()
    grown = rss() - rss0
    local b = s:bytes()
    bytes = function() return b end
  end

  local pool = {}
  for i = 1, POOL do pool[i] = address(rnd(n) + 1) end

  -- median of `runs` rates of fn(i0), which does some work from index i0 on
  -- and returns how much
  local function rate(fn)
    local rates, i = {}, 0
    for r = 1, runs do
      local done, c0 = 0, clock()
      local c
      repeat
        local m = fn(i)
        done, i = done + m, i + m
        c = clock() - c0
      until c >= secs
      rates[r] = done / c
    end
    return median(rates)
  end

  local REASONS = { "blocked", "badreputation", "spamdetected", "policyviolation" }
  local ev, into = { type = "block" }, {}
  local chunk = kind == "redis" and 200 or BATCH
  local rec = rate(function(i0)
    batch(function()
      for i = i0, i0 + chunk - 1 do
        ev.rcpt, ev.reason, ev.at = pool[i % POOL + 1], REASONS[i % 4 + 1], T0 + 60 + i
        assert(t:record(ev, into))
      end
    end)
    return chunk
  end)
  local at = T0 + 86400
  local chk = rate(function(i0)
    for i = i0, i0 + chunk - 1 do t:check(pool[i % POOL + 1], at) end
    return chunk
  end)
  local b = bytes()
  if close then close() elseif kind == "memory" then s:close() end
  io.write(string.format("n=%d fill=%.0f record=%.0f check=%.0f bytes=%.1f rss=%s addr=%.1f\n",
    n, fill, rec, chk, b / n, grown and string.format("%.1f", grown / n) or "-", keys / n))
end

if arg[1] == "--one" then
  local where = arg[6]
  one(arg[2], assert(tonumber(arg[3])), assert(tonumber(arg[4])), assert(tonumber(arg[5])),
    arg[2] == "redis" and assert(tonumber(where)) or where)
  os.exit(0)
end

-- The driver: arguments, the Redis server, one child per store and size, the table.
local runs, secs, sizes, rsizes = 3, 0.5, { 1e4, 1e5, 1e6, 1e7 }, { 1e6 }
local pos = 0
local i = 1
local function list(s)
  local t = {}
  if s == "none" then return t end
  for x in s:gmatch("[^,]+") do t[#t + 1] = assert(tonumber(x), "a size: " .. x) end
  return t
end
while arg[i] do
  local a = arg[i]
  if a == "--sizes" then sizes, i = list(assert(arg[i + 1], "--sizes N,N,...")), i + 1
  elseif a == "--redis" then rsizes, i = list(assert(arg[i + 1], "--redis N,N,...|none")), i + 1
  else
    pos = pos + 1
    if pos == 1 then runs = assert(tonumber(a), "RUNS") else secs = assert(tonumber(a), "SECONDS") end
  end
  i = i + 1
end

-- the interpreter running this script, for the children
local interp = arg[-1] or "lua5.4"
for j = -2, -10, -1 do
  if arg[j] == nil then break end
  interp = arg[j]
end
local dir = sh("mktemp -d /tmp/bounce-bench-scale.XXXXXX"):match("%S+")
assert(dir, "mktemp failed")

local port, rdir
local function stop_redis()
  if port then
    os.execute("redis-cli -p " .. port .. " shutdown nosave >/dev/null 2>&1")
    port = nil
  end
end

local failed = false
local rows = {}
local function run(kind, n)
  local cmd = string.format("%s bench/scale.lua --one %s %d %d %s '%s'", interp, kind, n, runs, secs,
    kind == "redis" and tostring(port) or dir)
  local out = sh(cmd .. " 2>&1")
  local row = { kind = kind }
  for k, v in out:gmatch("(%a+)=(%S+)") do row[k] = tonumber(v) or v end
  if not row.record then
    io.write(string.format("scale: %s at %d failed:\n%s", kind, n, out))
    failed = true
    return
  end
  rows[#rows + 1] = row
  local function k(x) return x and string.format("%.0f K", x / 1000) or "-" end
  io.write(string.format("%-8s %10d %12s %12s %12s %8.1f %8s %8.1f\n", kind, row.n, k(row.fill), k(row.record),
    k(row.check), row.bytes, row.rss == "-" and "-" or string.format("%.1f", row.rss), row.addr))
  io.flush()
  if kind == "sqlite" then os.remove(dir .. "/scale.db") end
end

local ok, err = pcall(function()
  io.write(string.format("scale: %s, median of %d runs x %gs; rates/s (CPU time; Redis: wall, one "
    .. "connection), t:record in batches of %d (SQLite), health off; bytes per address include the "
    .. "address (addr: its average)\n", what, runs, secs, BATCH))
  io.write(string.format("%-8s %10s %12s %12s %12s %8s %8s %8s\n", "store", "addresses", "fill/s",
    "t:record/s", "t:check/s", "bytes", "RSS", "addr"))
  for _, kind in ipairs({ "memory", "sqlite" }) do
    for _, n in ipairs(sizes) do run(kind, n) end
  end
  if #rsizes > 0 then
    if not sh("command -v redis-server; command -v redis-cli"):match("redis%-cli") then
      io.write("redis: redis-server or redis-cli not installed (apt-get install redis-server "
        .. "redis-tools): skipped\n")
      return
    end
    if not pcall(require, "redis") or not pcall(require, "socket") then
      io.write("redis: the lua-redis and lua-socket modules are needed: skipped\n")
      return
    end
    local srv = require("socket").bind("127.0.0.1", 0)
    local _, p = srv:getsockname()
    srv:close()
    rdir = dir .. "/redis"
    assert(os.execute("mkdir -p '" .. rdir .. "'"))
    assert(os.execute(string.format("redis-server --bind 127.0.0.1 --port %d --save '' --appendonly no "
      .. "--dir '%s' --daemonize yes --pidfile '%s/redis.pid' --logfile '%s/redis.log'", p, rdir, rdir, rdir)))
    port = p
    local up = false
    for _ = 1, 50 do
      if sh("redis-cli -p " .. p .. " ping 2>/dev/null"):match("PONG") then up = true break end
      os.execute("sleep 0.1")
    end
    assert(up, "redis-server did not answer on port " .. p)
    for _, n in ipairs(rsizes) do run("redis", n) end
  end
end)
stop_redis()
os.execute("rm -rf '" .. dir .. "'")
if not ok then error(err, 0) end
if failed then os.exit(1) end
