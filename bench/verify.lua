-- Figures for bounce.verify (no pass/fail), addresses/s:
--   syntax only      bounce.core.mailbox, no lookup
--   cold cache       v:many over addresses at distinct domains: one MX query
--                    each to a loopback nsd, 1 and 32 at a time
--   warm cache       the same addresses again, answered from the TTL cache
--   20 ms away       the same against a server that answers 20 ms late (as a
--                    resolver across a network does), 1 and 32 at a time:
--                    what the lookups in parallel are for
--   SMTP probe       with opts.smtp against aiosmtpd on loopback: EHLO, MAIL,
--                    RCPT, RCPT (catch-all), RSET, QUIT per address, 32 at a
--                    time over distinct domains
--   lua5.4 bench/verify.lua [RUNS [SECONDS]]          (default 5 0.5)
-- Run from the repository root. nsd and aiosmtpd are started on free
-- 127.0.0.1 ports through spec/support/ and stopped whatever happens; the
-- figures are medians of RUNS. The servers are on the same 2 cores: the
-- SMTP figure is bound by aiosmtpd (Python) as much as by bounce.
local jit = rawget(_G, "jit")
package.path = "./lua/?.lua;./lua/?/init.lua;./?.lua;" .. package.path
package.cpath = (jit and "./build/luajit/?.so;" or (_VERSION == "Lua 5.4" and "./build/?.so;")
  or ("./build/lua" .. _VERSION:match("%d+%.%d+") .. "/?.so;")) .. package.cpath

local core = require("bounce.core")
local verify = require("bounce.verify")
local dnsd = require("spec.support.dnsd")
local smtpd = require("spec.support.smtpd")
local socket = require("socket")

local runs = tonumber(arg[1]) or 5
local secs = tonumber(arg[2]) or 0.5
local what = jit and jit.version or _VERSION
local now = socket.gettime

local function median(t)
  table.sort(t)
  return t[math.floor((#t + 1) / 2)]
end

local ok, why = dnsd.available()
if not ok then
  print("== verify: skipped: " .. why)
  os.exit(0)
end

local ZONE = [[
$ORIGIN bench.test.
$TTL 3600
@         IN SOA ns.bench.test. admin.bench.test. 1 3600 600 86400 60
@         IN NS  ns.bench.test.
ns        IN A   127.0.0.1
mx        IN A   127.0.0.1
*.d       IN MX  10 mx.bench.test.
*.p       IN MX  10 mx.bench.test.
]]

local srv, smtp
local function stop()
  if smtp then smtp:stop() end
  if srv then srv:stop() end
end

local okrun, err = pcall(function()
  srv = dnsd.start{ zones = { ["bench.test"] = ZONE }, nsd_only = true }
  local DNS = "127.0.0.1:" .. srv.port

  -- syntax only
  local addrs = {}
  for i = 1, 10000 do addrs[i] = "user" .. i .. "@domain" .. (i % 1000) .. ".example.org" end
  local rates = {}
  for _ = 1, runs do
    local n, t0 = 0, os.clock()
    repeat
      for i = 1, #addrs do core.mailbox(addrs[i]) end
      n = n + #addrs
    until os.clock() - t0 >= secs
    rates[#rates + 1] = n / (os.clock() - t0)
  end
  io.write(string.format("%s: verify, syntax only (bounce.core.mailbox): %.0f addresses/s\n", what, median(rates)))

  -- DNS: distinct domains, a fresh verifier (cold cache) per run, then again (warm)
  local N = 2000
  for _, conc in ipairs({ 1, 32 }) do
    local cold, warm = {}, {}
    for r = 1, runs do
      local list = {}
      for i = 1, N do list[i] = "u" .. i .. "@x" .. r .. "c" .. conc .. "n" .. i .. ".d.bench.test" end
      local v = assert(verify.new{ dns = DNS })
      local t0 = now()
      local res = v:many(list, { concurrency = conc })
      cold[#cold + 1] = N / (now() - t0)
      assert(res[N].verdict == "valid", res[N].why)
      t0 = now()
      v:many(list, { concurrency = conc })
      warm[#warm + 1] = N / (now() - t0)
    end
    io.write(string.format("%s: verify, DNS cold cache, %d at a time (%d addresses, %d domains, loopback nsd): "
      .. "%.0f addresses/s\n", what, conc, N, N, median(cold)))
    io.write(string.format("%s: verify, DNS warm cache, %d at a time: %.0f addresses/s\n", what, conc, median(warm)))
  end

  -- a server 20 ms away (spec/support/dns_hostile.py's "slow" names)
  local F = 200
  for _, conc in ipairs({ 1, 32 }) do
    local far = {}
    for r = 1, runs do
      local list = {}
      for i = 1, F do list[i] = "u" .. i .. "@f" .. r .. "c" .. conc .. "n" .. i .. ".slow.test" end
      local v = assert(verify.new{ dns = "127.0.0.1:" .. srv.hostile_port })
      local t0 = now()
      local res = v:many(list, { concurrency = conc })
      far[#far + 1] = F / (now() - t0)
      assert(res[F].verdict == "valid", res[F].why)
    end
    io.write(string.format("%s: verify, DNS 20 ms away, %d at a time (%d addresses, %d domains): %.0f addresses/s\n",
      what, conc, F, F, median(far)))
  end

  -- with the SMTP probe
  local sok, swhy = smtpd.available()
  if not sok then
    io.write("== verify: SMTP probe skipped: " .. swhy .. "\n")
    return
  end
  smtp = smtpd.start({})
  local P = 200
  local probe = {}
  for r = 1, runs do
    local list = {}
    for i = 1, P do list[i] = "u" .. i .. "@s" .. r .. "n" .. i .. ".p.bench.test" end
    local v = assert(verify.new{ dns = DNS })
    local t0 = now()
    local res = v:many(list, { smtp = true, helo = "bench.example.com", from = "bench@example.com",
                               smtp_port = smtp.port, rate = 6000, concurrency = 32 })
    probe[#probe + 1] = P / (now() - t0)
    assert(res[P].smtp == "accepted", res[P].why)
  end
  io.write(string.format("%s: verify, SMTP probe, 32 at a time (%d addresses, %d domains, catch-all check, "
    .. "aiosmtpd on loopback): %.0f addresses/s\n", what, P, P, median(probe)))
end)
stop()
if not okrun then
  io.stderr:write("bench/verify.lua: ", tostring(err), "\n")
  os.exit(1)
end
