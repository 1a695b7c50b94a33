-- Figures for the SQLite store (no pass/fail): events/s through t:record on
-- a file, in batches and committing each event, the file's size, and the
-- cost of expire and of the suppression list on a large file.
--   lua5.4 bench/store_sqlite.lua [RUNS [SECONDS]]   throughput (default 5 0.5)
--   lua5.4 bench/store_sqlite.lua --size 100000      bytes per address in the file
--   lua5.4 bench/store_sqlite.lua --expire 1000000 [PERCENT [RUNS]]
--       t:suppressions() and t:expire(at) on that many addresses, PERCENT
--       of them suppressed (default 1; runs default 3): before (every row
--       read, as the tracker's loop over s:scan()) and after (the same loop
--       over s:scan_suppressed() / s:scan_expired(at), read through the
--       indexes of schema 3), and the migration of such a file from
--       version 2 (building the indexes; needs the sqlite3 shell).
-- Run from the repository root (it finds ./lua and ./build). Files go to a
-- temporary directory under /tmp, removed at the end. Times are wall-clock
-- (the store waits on the kernel, not only on the CPU).
local jit = rawget(_G, "jit")
package.path = "./lua/?.lua;./lua/?/init.lua;" .. package.path
package.cpath = (jit and "./build/luajit/?.so;" or (_VERSION == "Lua 5.4" and "./build/?.so;")
  or ("./build/lua" .. _VERSION:match("%d+%.%d+") .. "/?.so;")) .. package.cpath

local bounce = require("bounce")
local core = require("bounce.core")
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

-- Wall-clock seconds: luasocket's clock when it is there (a microsecond),
-- else date(1) (a process per reading: a few ms each).
local has_socket, socket = pcall(require, "socket")
local now = has_socket and socket.gettime or function() return tonumber(sh("date +%s.%N")) end

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

if arg[1] == "--expire" then
  local n = assert(tonumber(arg[2]), "--expire N [PERCENT [RUNS]]")
  local pct = tonumber(arg[3]) or 1
  local runs = tonumber(arg[4]) or 3
  local at = T0 + 86400 * 30
  local every = math.max(1, math.floor(100 / pct + 0.5))   -- one suppressed in every
  -- The file: bouncing records (64 variants), and every `every`-th address
  -- suppressed, its expiry by turns ended before `at` (two in four), after
  -- it, forever.
  local bouncing = {}
  for v = 1, 64 do
    bouncing[v] = core.encode_record{ state = "bouncing", reason = "mailboxfull", last_event = "soft",
      attempts = v % 4 + 1, bounces = v, last_at = T0 + v, last_soft_at = T0 + v, streak_start = T0,
      retry_at = T0 + 600 + v }
  end
  local function suppression(j)
    local kind = j % 4
    return core.encode_record{ state = "suppressed", cause = "hard", reason = "userunknown",
      last_event = "hard", bounces = 1, last_at = T0, since = T0,
      expires_at = kind < 2 and at - 1000 - j % 86400 or kind == 2 and at + 86400 or nil }
  end
  local path = newfile()
  local s = assert(sqlite.new(path))
  local sup, ended, batch = 0, 0, 10000
  local t0 = now()
  for j = 0, n - 1, batch do
    assert(s:batch(function()
      for k = j, math.min(j + batch, n) - 1 do
        local a = "user" .. k .. "." .. (k * 7919 % 100000) .. "@example" .. (k % 5000) .. ".com"
        local b
        if k % every == 0 then
          b = suppression(sup)
          if sup % 4 < 2 then ended = ended + 1 end
          sup = sup + 1
        else
          b = bouncing[k % 64 + 1]
        end
        assert(s:cas(a, nil, b))
      end
    end))
  end
  local built = now() - t0
  s:close()
  io.write(string.format("%s: sqlite store, %d addresses, %d suppressed (%d of them ended): "
    .. "file built in %.1f s\n", what, n, sup, ended, built))

  -- The tracker's own loops, over a view of the store whose scan() is the
  -- one given: s.scan is every row (as t:suppressions and t:expire read
  -- today), s.scan_suppressed / s.scan_expired the indexed subsets.
  local function tracker_over(st, scan)
    return assert(bounce.tracker{ health = false, store = {
      get = function(_, k) return st:get(k) end,
      cas = function(_, k, old, new, ttl) return st:cas(k, old, new, ttl) end,
      scan = function() return scan(st) end,
    } })
  end
  local function copy()
    local c = newfile()
    assert(os.execute("cp '" .. path .. "' '" .. c .. "'"))
    return c
  end
  -- median wall seconds of fn(run) over `runs` runs
  local function timed(fn)
    local w = {}
    for r = 1, runs do
      local t1 = now()
      fn(r)
      w[r] = now() - t1
    end
    return median(w)
  end
  local function line(label, before, after, extra)
    io.write(string.format("%s: sqlite store, %d addresses, %d%% suppressed: %-34s before %8.3f s, "
      .. "after %7.3f s (%.0fx)%s\n", what, n, pct, label, before, after, before / after, extra or ""))
  end

  local ro = assert(sqlite.new(path))
  local count
  local function list(scan)
    local t = tracker_over(ro, scan)
    return function()
      local c = 0
      for _ in t:suppressions(at) do c = c + 1 end
      count = c
    end
  end
  local b_list = timed(list(function(st) return st:scan() end))
  local listed = count
  local a_list = timed(list(function(st) return st:scan_suppressed() end))
  assert(count == listed, "the suppression lists differ")
  line("t:suppressions(at)", b_list, a_list, string.format("; %d listed", listed))
  local function read(scan)
    return function() for _ in scan() do end end
  end
  line("reading only: scan / scan_expired", timed(read(function() return ro:scan() end)),
    timed(read(function() return ro:scan_expired(at) end)))
  ro:close()

  -- expire deletes: each run on a fresh copy of the file, opened before
  -- the clock starts
  local function expire(scan, in_batch)
    local stores, trackers, copies = {}, {}, {}
    for r = 1, runs do
      copies[r] = copy()
      stores[r] = assert(sqlite.new(copies[r]))
      trackers[r] = tracker_over(stores[r], scan)
    end
    local got
    local el = timed(function(r)
      if in_batch then
        assert(stores[r]:batch(function() got = trackers[r]:expire(at) end))
      else
        got = trackers[r]:expire(at)
      end
    end)
    assert(got == ended, ("expire deleted %d, expected %d"):format(got, ended))
    for r = 1, runs do
      stores[r]:close()
      os.remove(copies[r])
    end
    return el
  end
  local all = function(st) return st:scan() end
  local idx = function(st) return st:scan_expired(at) end
  line("t:expire(at)", expire(all), expire(idx),
    string.format("; %d deleted, one commit each", ended))
  line("t:expire(at) in s:batch()", expire(all, true), expire(idx, true),
    string.format("; %d deleted, one commit", ended))

  -- the migration from version 2: the same file without its indexes
  if sh("command -v sqlite3 || true"):match("%S") then
    local w = {}
    for r = 1, runs do
      local c = copy()
      assert(sh("sqlite3 '" .. c .. "' 'DROP INDEX records_suppressed; DROP INDEX records_expires; "
        .. "DROP INDEX records_unchecked; PRAGMA user_version = 2' 2>&1") == "")
      local t1 = now()
      local st = assert(sqlite.new(c))
      w[r] = now() - t1
      assert(st:count() == n)
      st:close()
      os.remove(c)
    end
    local el = median(w)
    io.write(string.format("%s: sqlite store, %d addresses, %d%% suppressed: opening a version 2 file "
      .. "(migration to 3: building the indexes) %.3f s\n", what, n, pct, el))
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
