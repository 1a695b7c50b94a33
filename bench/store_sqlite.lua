-- Figures for the SQLite store (no pass/fail): events/s through t:record on
-- a file, in batches and committing each event, and the file's size.
--   lua5.4 bench/store_sqlite.lua [RUNS [SECONDS]]   throughput (default 5 0.5)
--   lua5.4 bench/store_sqlite.lua --size 100000      bytes per address in the file
-- Run from the repository root (it finds ./lua and ./build). Files go to a
-- temporary directory under /tmp, removed at the end. Times are wall-clock
-- (the store waits on the kernel, not only on the CPU).
local jit = rawget(_G, "jit")
package.path = "./lua/?.lua;./lua/?/init.lua;" .. package.path
package.cpath = (jit and "./build/luajit/?.so;" or (_VERSION == "Lua 5.4" and "./build/?.so;")
  or ("./build/lua" .. _VERSION:match("%d+%.%d+") .. "/?.so;")) .. package.cpath

local bounce = require("bounce")
local sqlite = require("bounce.store.sqlite")

local clock = os.clock
local what = jit and jit.version or _VERSION
local T0 = 1795132800

local function sh(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("*a")
  p:close()
  return out
end

local function now() return tonumber(sh("date +%s.%N")) end

local function median(t)
  table.sort(t)
  return t[math.floor((#t + 1) / 2)]
end

local dir = sh("mktemp -d /tmp/bounce-bench-sqlite.XXXXXX"):match("%S+")
assert(dir, "mktemp failed")
local files = 0
local function newfile()
  files = files + 1
  return dir .. "/bench" .. files .. ".db"
end

local function size_of(path)
  local f = io.open(path, "rb")
  if not f then return 0 end
  local n = f:seek("end")
  f:close()
  return n
end

-- Block events: each one changes its record (counters, hold time) and never
-- suppresses, so every event is a read and a write of one row, the costly
-- case (a sender's usual mix has sends and events on suppressed addresses
-- that write nothing).
local REASONS = { "blocked", "badreputation", "spamdetected", "policyviolation" }
local function event_for(i, naddr)
  return { rcpt = "user" .. ((i * 104729) % naddr) .. "@domain" .. (i % 1000) .. ".example",
           type = "block", reason = REASONS[i % 4 + 1], at = T0 + i }
end

if arg[1] == "--size" then
  for i = 2, #arg do
    local n = assert(tonumber(arg[i]), "--size N...")
    local path = newfile()
    local s = assert(sqlite.new(path))
    local t = assert(bounce.tracker{ store = s, health = false })
    local keys, batch = 0, 1000
    local t0 = now()
    for j = 0, n - 1, batch do
      assert(s:batch(function()
        for k = j, math.min(j + batch, n) - 1 do
          local a = "user" .. k .. "." .. (k * 7919 % 100000) .. "@example" .. (k % 5000) .. ".com"
          keys = keys + #a
          assert(t:record{ rcpt = a, type = "soft", reason = "mailboxfull", at = T0 })
        end
      end))
    end
    local el = now() - t0
    assert(s:count() == n)
    s:close()   -- the last connection checkpoints the WAL into the file
    local bytes = size_of(path) + size_of(path .. "-wal")
    io.write(string.format("%s: sqlite store, %d addresses: %.1f bytes/address in the file "
      .. "(address %.1f bytes avg, record 32); %.0f first events/s in batches of %d\n",
      what, n, bytes / n, keys / n, n / el, batch))
  end
  os.execute("rm -rf '" .. dir .. "'")
  os.exit(0)
end

local runs = tonumber(arg[1]) or 5
local secs = tonumber(arg[2]) or 0.5
local NADDR = 10000

-- Median events/s of `runs` runs of at least `secs` seconds each, by wall
-- time and by this process's CPU time (on a busy machine the first counts
-- the neighbours too; the second leaves out waiting for fsync). fn(i0)
-- records some events from index i0 on and returns how many.
local function rate(fn)
  local wall, cpu, i = {}, {}, 0
  for k = 1, runs do
    local n, t0, c0 = 0, now(), clock()
    local c
    repeat
      local m = fn(i)
      n, i = n + m, i + m
      c = clock() - c0
    until c >= secs
    wall[k], cpu[k] = n / (now() - t0), n / c
  end
  return median(wall), median(cpu)
end

local function tracker_on(opts)
  local s = assert(sqlite.new(newfile(), opts))
  local t = assert(bounce.tracker{ store = s, health = false })
  -- every address has a record before timing starts: updates, not inserts
  s:batch(function() for i = 0, NADDR - 1 do assert(t:record(event_for(i, NADDR))) end end)
  return s, t
end

-- The events are made before timing: what is measured is the tracker and
-- the store.
local NEV = 262144
local events = {}
for i = 1, NEV do events[i] = event_for(i, NADDR) end
local function ev(i) return events[i % NEV + 1] end

local BATCH = 1000
local s, t = tracker_on()
local batched, batched_cpu = rate(function(i0)
  assert(s:batch(function()
    for i = i0, i0 + BATCH - 1 do assert(t:record(ev(i))) end
  end))
  return BATCH
end)
io.write(string.format("%s: sqlite store, t:record in batches of %d: %.0f events/s "
  .. "(%.0f by CPU time; %d addresses, WAL, synchronous=normal)\n", what, BATCH, batched,
  batched_cpu, NADDR))

local each, each_cpu = rate(function(i0)
  for i = i0, i0 + 99 do assert(t:record(ev(i))) end
  return 100
end)
io.write(string.format("%s: sqlite store, t:record committing each event: %.0f events/s "
  .. "(%.0f by CPU time; synchronous=normal: survives a killed process, not a power cut)\n",
  what, each, each_cpu))
s:close()

local s2, t2 = tracker_on({ synchronous = "full" })
local full, full_cpu = rate(function(i0)
  for i = i0, i0 + 9 do assert(t2:record(ev(i))) end
  return 10
end)
io.write(string.format("%s: sqlite store, t:record committing each event: %.0f events/s "
  .. "(%.0f by CPU time; synchronous=full: an fsync per commit)\n", what, full, full_cpu))
s2:close()

os.execute("rm -rf '" .. dir .. "'")
