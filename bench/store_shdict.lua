-- Figures for the nginx shared-dict store (no pass/fail): t:record events/s
-- inside one nginx worker, with bounce.store.shdict and, for scale, the
-- memory store in the same worker.
--   lua5.4 bench/store_shdict.lua [RUNS [SECONDS]]        (default 5 0.5)
-- Run from the repository root. It starts a private nginx (Debian's, with
-- its Lua module) on a free 127.0.0.1 port through spec/support/nginx.lua,
-- asks it to run the events, and stops it whatever happens. The timing is
-- the worker's CPU clock around the t:record loop, inside nginx.
package.path = "./lua/?.lua;./lua/?/init.lua;./?.lua;" .. package.path

local nginx = require("spec.support.nginx")

local runs = tonumber(arg[1]) or 5
local secs = tonumber(arg[2]) or 0.5

local ok, why = nginx.available()
if not ok then
  print("== store_shdict: skipped: " .. why)
  os.exit(0)
end

-- The events: the mix of bench/tracker.lua (100k addresses over 1000
-- domains), made once per worker. Each request runs whole batches of them
-- for about `secs` seconds of the worker's CPU and answers "events seconds".
local SERVER = [[
location = /run {
  content_by_lua_block {
    local bounce = require("bounce")
    local B = package.loaded["bench.shdict.state"]
    if not B then
      B = { trackers = {} }
      package.loaded["bench.shdict.state"] = B
      local T0, NADDR, NEV = 1795132800, 100000, 65536
      local addrs = {}
      for i = 1, NADDR do addrs[i] = "user" .. i .. "@domain" .. (i % 1000) .. ".example" end
      local mix = { { 400, "sent" }, { 850, "delivered" }, { 930, "soft", "mailboxfull" },
        { 960, "hard", "userunknown" }, { 995, "block", "blocked" }, { 998, "complaint" },
        { 1000, "unsubscribe" } }
      local seed = 42
      local function rnd(n) seed = (seed * 16807) % 2147483647 return seed % n end
      local ev = {}
      for i = 1, NEV do
        local r, m = rnd(1000), nil
        for _, x in ipairs(mix) do if r < x[1] then m = x break end end
        ev[i] = { rcpt = addrs[rnd(NADDR) + 1], type = m[2], reason = m[3],
                  at = T0 + math.floor(i / 1000), campaign = "c" .. (i % 10) }
      end
      B.events = ev
    end
    local kind = ngx.var.arg_store
    local t = B.trackers[kind]
    if not t then
      local s = kind == "memory" and bounce.store.memory() or assert(bounce.store.shdict("bench"))
      t = assert(bounce.tracker{ store = s, clock = function() return 1795132800 end })
      B.trackers[kind] = t
    end
    local want, ev, n = tonumber(ngx.var.arg_secs), B.events, 0
    local t0 = os.clock()
    local el
    repeat
      for i = 1, #ev do
        local d, err = t:record(ev[i])
        if not d then ngx.status = 500 ngx.say(err) return end
      end
      n = n + #ev
      el = os.clock() - t0
    until el >= want
    ngx.say(n, " ", el, " ", t:count())
  }
}
]]

local function median(t)
  table.sort(t)
  return t[math.floor((#t + 1) / 2)]
end

local srv = nginx.start{ http = "lua_shared_dict bench 128m;", server = SERVER }
local results, failed = {}, nil
local pok, perr = pcall(function()
  for _, kind in ipairs({ "shdict", "memory" }) do
    local rates, count = {}, 0
    for r = 1, runs + 1 do   -- the first run warms up (events made, records created)
      local status, body = srv:get("/run?store=" .. kind .. "&secs=" .. secs)
      if status ~= 200 then error("nginx answered " .. tostring(status) .. ": " .. tostring(body)) end
      local n, el, c = body:match("^(%d+) ([%d.e+-]+) (%d+)")
      if r > 1 then rates[#rates + 1] = tonumber(n) / tonumber(el) end
      count = tonumber(c)
    end
    results[#results + 1] = { kind, median(rates), count }
  end
end)
if not pok then failed = perr end
srv:stop()
if failed then
  io.stderr:write("store_shdict: ", tostring(failed), "\n")
  os.exit(1)
end
for _, r in ipairs(results) do
  io.write(string.format("nginx worker (LuaJIT): t:record, %s store: %.0f events/s "
    .. "(%d addresses, health on, median of %d)\n", r[1], r[2], r[3], runs))
end
