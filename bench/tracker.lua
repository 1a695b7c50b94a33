-- Figures for the tracker (no pass/fail): t:record and t:check with the
-- memory store, and the memory store's size at N addresses.
--   lua5.4 bench/tracker.lua [RUNS [SECONDS]]        throughput (default 5 0.5);
--                                 BOUNCE_FAST_PATH=0 measures the trackers
--                                 with fast_path = false
--   luajit bench/tracker.lua --memory 1000000 10000000
--                                 bytes per address at each N (run alone, so
--                                 RSS growth is the store's own)
--   lua5.4 bench/tracker.lua --passes N [into|nohealth]
--                                 N untimed passes of t:record, for callgrind:
--                                 instructions per event are stable where
--                                 wall time on a shared VM is not. Run it with
--                                 N = 0 and N = 2 under valgrind --tool=callgrind
--                                 and divide the difference by 2 * 262144.
-- Run from the repository root (it finds ./lua and ./build).
local jit = rawget(_G, "jit")
package.path = "./lua/?.lua;./lua/?/init.lua;" .. package.path
package.cpath = (jit and "./build/luajit/?.so;" or (_VERSION == "Lua 5.4" and "./build/?.so;")
  or ("./build/lua" .. _VERSION:match("%d+%.%d+") .. "/?.so;")) .. package.cpath

local bounce = require("bounce")
local clock = os.clock

local runs = tonumber(arg[1]) or 5
local secs = tonumber(arg[2]) or 0.5
local what = jit and jit.version or _VERSION
local T0 = 1795132800

local function rss()
  local f = io.open("/proc/self/statm")
  if not f then return 0 end
  local _, res = f:read("*n", "*n")
  f:close()
  return res * 4096
end

if arg[1] == "--memory" then
  for i = 2, #arg do
    local n = tonumber(arg[i])
    collectgarbage()
    collectgarbage()
    local before = rss()
    local s = bounce.store.memory()
    local tr = assert(bounce.tracker{ store = s, health = false })
    local keys = 0
    local ev = { type = "soft", reason = "mailboxfull", at = T0 }
    local into = {}
    local t0 = clock()
    for j = 1, n do
      local a = "user" .. j .. "." .. (j * 7919 % 100000) .. "@example" .. (j % 5000) .. ".com"
      keys = keys + #a
      ev.rcpt = a
      tr:record(ev, into)
    end
    local el = clock() - t0
    collectgarbage()
    collectgarbage()
    local grown = rss() - before
    local bytes = s:bytes()
    io.write(string.format("%s: memory store, %d addresses: %.1f bytes/address beyond the address "
      .. "(store accounting), %.1f by RSS growth; keys %.1f bytes avg; %.0f first events/s\n",
      what, n, (bytes - keys) / n, (grown - keys) / n, keys / n, n / el))
    s:close()
  end
  os.exit(0)
end

local function median(t)
  table.sort(t)
  return t[math.floor((#t + 1) / 2)]
end

-- The events: 100k addresses over 1000 domains, a sender's usual mix.
local NADDR, NEV = 100000, 262144
local addrs = {}
for i = 1, NADDR do addrs[i] = "user" .. i .. "@domain" .. (i % 1000) .. ".example" end
local mix = {
  { 400, "sent" }, { 850, "delivered" }, { 930, "soft", "mailboxfull" },
  { 960, "hard", "userunknown" }, { 995, "block", "blocked" }, { 998, "complaint" },
  { 1000, "unsubscribe" },
}
local seed = 42
local function rnd(n)   -- Park-Miller: exact in doubles, same sequence on every Lua
  seed = (seed * 16807) % 2147483647
  return seed % n
end
local events = {}
for i = 1, NEV do
  local r = rnd(1000)
  local m
  for _, x in ipairs(mix) do if r < x[1] then m = x break end end
  -- 1000 events a second of event time: health buckets open at a real rate
  events[i] = { rcpt = addrs[rnd(NADDR) + 1], type = m[2], reason = m[3],
                at = T0 + math.floor(i / 1000), campaign = "c" .. (i % 10) }
end

-- One untimed pass of evs through t: the records exist and the setup's
-- garbage is collected, so what is measured next is the steady state.
local function warm(t, evs)
  for i = 1, NEV do t:record(evs[i]) end
  collectgarbage()
end

if arg[1] == "--passes" then
  local n, mode = tonumber(arg[2]) or 0, arg[3]
  local t = assert(bounce.tracker{ clock = function() return T0 end, health = mode ~= "nohealth",
                                   fast_path = os.getenv("BOUNCE_FAST_PATH") ~= "0" })
  warm(t, events)
  local into = mode == "into" and {} or nil
  for _ = 1, n do
    for i = 1, NEV do t:record(events[i], into) end
  end
  os.exit(0)
end

local function rate(fn)
  local rates = {}
  for k = 1, runs do
    local n, t0 = 0, clock()
    local t
    repeat
      n = n + fn()
      t = clock() - t0
    until t >= secs
    rates[k] = n / t
  end
  return median(rates)
end

-- t:record of evs (into: the decision table to reuse), events/s.
local function record_rate(t, evs, into)
  return rate(function()
    for i = 1, NEV do t:record(evs[i], into) end
    return NEV
  end)
end

local FAST = os.getenv("BOUNCE_FAST_PATH") ~= "0"
local t = assert(bounce.tracker{ clock = function() return T0 end, fast_path = FAST })
warm(t, events)
local rec = record_rate(t, events)
io.write(string.format("%s: t:record, memory store: %.0f events/s (%d addresses, health on)\n",
  what, rec, t:count()))

local rec3 = record_rate(t, events, {})
io.write(string.format("%s: t:record(event, into), memory store: %.0f events/s (health on, "
  .. "decision table reused)\n", what, rec3))

local t2 = assert(bounce.tracker{ clock = function() return T0 end, health = false, fast_path = FAST })
warm(t2, events)
local rec2 = record_rate(t2, events)
io.write(string.format("%s: t:record, memory store: %.0f events/s (health off)\n", what, rec2))

-- Events as an MTA reports them: the SMTP reply, classified by t:record
-- (replies of several kinds and lengths, with the command they answered).
local REPLIES = {
  { "250 2.0.0 Ok: queued as 4B3F21C0A1" },
  { "452 4.2.2 The email account that you tried to reach is over quota. - gsmtp", "RCPT" },
  { "550 5.1.1 <x@example.org>: Recipient address rejected: User unknown in virtual mailbox table", "RCPT" },
  { "421 4.7.0 [TSS04] Messages from 198.51.100.7 temporarily deferred due to unexpected volume or user complaints" },
  { "554 5.7.1 Service unavailable; Client host [198.51.100.7] blocked using zen.spamhaus.org", "DATA" },
  { "250 OK id=1q2w3e-0004Rt-9Z" }, { "250 2.0.0 Ok" }, { "250 2.6.0 message received" },
}
local revents = {}
for i = 1, NEV do
  local r = REPLIES[rnd(#REPLIES) + 1]
  revents[i] = { rcpt = events[i].rcpt, reply = r[1], command = r[2], at = events[i].at,
                 campaign = events[i].campaign }
end
warm(t, revents)
local rec4 = record_rate(t, revents)
io.write(string.format("%s: t:record{ reply = ... }, memory store: %.0f events/s (the reply "
  .. "classified, health on)\n", what, rec4))

local chk = rate(function()
  for i = 1, NEV do t:check(addrs[(i % NADDR) + 1], T0) end
  return NEV
end)
io.write(string.format("%s: t:check: %.0f checks/s\n", what, chk))

