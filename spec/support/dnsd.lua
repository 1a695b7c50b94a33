-- spec/support/dnsd.lua - real DNS servers on 127.0.0.1 for the specs:
-- Debian's nsd serving zone files, dnsmasq in front of it (so that a zone
-- can be forwarded to a server that never answers), and
-- spec/support/dns_hostile.py for answers no real server sends.
--
--   local dnsd = require("spec.support.dnsd")
--   local ok, why = dnsd.available()
--   local srv = dnsd.start{ zones = { test = ZONE }, servfail = { "broken.test" },
--                           silent = { "silent.test" } }
--   -- srv.port: dnsmasq (everything), srv.nsd_port: nsd, srv.hostile_port
--   srv:forwarded("mx.test")   -- how many queries for that name dnsmasq passed on
--   srv:stop()                 -- idempotent; also from a finally/teardown
--
-- Every server listens on 127.0.0.1, on a free port, runs under
-- `timeout 600` (a run that dies cannot leave one behind) and is stopped
-- by stop(). Commands run without LD_PRELOAD (util.run).
local util = require("spec.support.util")
local socket = require("socket")
local core = require("bounce.core")

local q, run, read, write, free_port = util.q, util.run, util.read, util.write, util.free_port
local assert, error, ipairs, pairs, next, pcall, tonumber, tostring, setmetatable =
  assert, error, ipairs, pairs, next, pcall, tonumber, tostring, setmetatable
local os_remove, getenv = os.remove, os.getenv
local concat = table.concat

local _M = {}

local NSD, DNSMASQ, PYTHON = "/usr/sbin/nsd", "/usr/sbin/dnsmasq", "/usr/bin/python3"
local HERE = debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/[^/]+$") or "spec/support"
local HOSTILE_PY = HERE .. "/dns_hostile.py"

-- syntax: ok, why = dnsd.available()
function _M.available()
  if not util.exists(NSD) then return false, NSD .. " not found (apt-get install nsd)" end
  if not util.exists(DNSMASQ) then return false, DNSMASQ .. " not found (apt-get install dnsmasq-base)" end
  if not util.exists(PYTHON) then return false, PYTHON .. " not found (apt-get install python3)" end
  return true
end

-- Whether a DNS server answers on 127.0.0.1:port (any answer to a query
-- for name counts).
local function answers(port, name)
  local u = socket.udp()
  u:setpeername("127.0.0.1", port)
  u:settimeout(0.2)
  u:send(core.dns_query(4242, name, "SOA"))
  local got = u:receive()
  u:close()
  return got ~= nil
end

local function wait_for(check, seconds)
  local deadline = socket.gettime() + seconds
  repeat
    if check() then return true end
    socket.sleep(0.05)
  until socket.gettime() > deadline
  return false
end

local Srv = {}
Srv.__index = Srv

-- Starts a program in the background (under timeout 600); returns its pid.
local function spawn(cmd, out)
  local rc, pid = run("timeout -s TERM 600 " .. cmd .. " >" .. q(out) .. " 2>&1 & echo $!")
  assert(rc == 0, pid)
  return tonumber(pid:match("(%d+)"))
end

local function alive(pid)
  local stat = read("/proc/" .. pid .. "/stat")
  return stat ~= nil and not stat:match("^%d+ %b() Z")
end

function Srv:start_nsd(zones, servfail)
  local conf = {
    "server:", "  ip-address: 127.0.0.1", "  port: PORT", "  do-ip6: no", '  username: ""',
    '  chroot: ""', '  zonesdir: "' .. self.dir .. '"', '  database: ""',
    '  pidfile: "' .. self.dir .. '/nsd.pid"', '  xfrdfile: "' .. self.dir .. '/xfrd.state"',
    '  zonelistfile: "' .. self.dir .. '/zone.list"', '  xfrdir: "' .. self.dir .. '"',
    '  logfile: "' .. self.dir .. '/nsd.log"', "  server-count: 1", "  verbosity: 1",
    -- response rate limiting (on by default) would drop answers beyond
    -- 200 a second from one client: the specs and the benchmark send more
    "  rrl-ratelimit: 0", "  rrl-whitelist-ratelimit: 0",
    "remote-control:", "  control-enable: no",
  }
  for name, text in pairs(zones) do
    write(self.dir .. "/" .. name .. ".zone", text)
    conf[#conf + 1] = "zone:"
    conf[#conf + 1] = '  name: "' .. name .. '"'
    conf[#conf + 1] = '  zonefile: "' .. name .. '.zone"'
  end
  -- a secondary zone that never got its data: nsd answers SERVFAIL for it
  for _, name in ipairs(servfail or {}) do
    conf[#conf + 1] = "zone:"
    conf[#conf + 1] = '  name: "' .. name .. '"'
    conf[#conf + 1] = "  request-xfr: 127.0.0.1@1 NOKEY"
  end
  local text = concat(conf, "\n") .. "\n"
  for _ = 1, 5 do
    self.nsd_port = free_port()
    write(self.dir .. "/nsd.conf", (text:gsub("PORT", tostring(self.nsd_port))))
    self.nsd_pid = spawn(NSD .. " -d -c " .. q(self.dir .. "/nsd.conf"), self.dir .. "/nsd.out")
    local first = next(zones)
    if wait_for(function() return answers(self.nsd_port, first) or not alive(self.nsd_pid) end, 10)
       and alive(self.nsd_pid) then
      return
    end
    run("kill " .. self.nsd_pid)
  end
  error("nsd did not start:\n" .. (read(self.dir .. "/nsd.out") or "") .. (read(self.dir .. "/nsd.log") or ""), 3)
end

function Srv:start_hostile()
  for _ = 1, 5 do
    self.hostile_port = free_port()
    os_remove(self.dir .. "/hostile.ready")
    self.hostile_pid = spawn("env PYTHONDONTWRITEBYTECODE=1 " .. PYTHON .. " " .. q(HOSTILE_PY) .. " --port "
      .. self.hostile_port .. " --ready " .. q(self.dir .. "/hostile.ready") .. " --lifetime 600",
      self.dir .. "/hostile.out")
    if wait_for(function() return read(self.dir .. "/hostile.ready") or not alive(self.hostile_pid) end, 10)
       and alive(self.hostile_pid) then
      return
    end
  end
  error("dns_hostile.py did not start:\n" .. (read(self.dir .. "/hostile.out") or ""), 3)
end

function Srv:start_dnsmasq(silent)
  local _, user = run("id -un")
  user = user:gsub("%s+$", "")
  for _ = 1, 5 do
    self.port = free_port()
    local args = { "--keep-in-foreground", "--port=" .. self.port, "--listen-address=127.0.0.1",
      "--bind-interfaces", "--no-resolv", "--no-hosts", "--cache-size=0", "--log-queries",
      "--log-facility=" .. self.dir .. "/dnsmasq.log", "--pid-file=" .. self.dir .. "/dnsmasq.pid",
      "--user=" .. user, "--server=127.0.0.1#" .. self.nsd_port }
    for _, name in ipairs(silent or {}) do
      args[#args + 1] = "--server=/" .. name .. "/127.0.0.1#" .. self.hostile_port
    end
    for i, a in ipairs(args) do args[i] = q(a) end
    self.dnsmasq_pid = spawn(DNSMASQ .. " " .. concat(args, " "), self.dir .. "/dnsmasq.out")
    if wait_for(function() return answers(self.port, "test") or not alive(self.dnsmasq_pid) end, 10)
       and alive(self.dnsmasq_pid) then
      return
    end
    run("kill " .. self.dnsmasq_pid)
  end
  error("dnsmasq did not start:\n" .. (read(self.dir .. "/dnsmasq.out") or ""), 3)
end

-- syntax: srv = dnsd.start{ zones = { NAME = ZONEFILE_TEXT }, servfail = { NAME }, silent = { NAME },
--                          nsd_only = false }
-- The silent names are forwarded by dnsmasq to dns_hostile.py, which
-- never answers names with a "silent" label. nsd_only starts no dnsmasq
-- (srv.port is then nsd's).
function _M.start(opts)
  local rc, dir = run("mktemp -d /tmp/bounce-dnsd.XXXXXX")
  assert(rc == 0, dir)
  local self = setmetatable({ dir = dir:gsub("%s+$", "") }, Srv)
  run("chmod 755 " .. q(self.dir))
  local ok, err = pcall(function()
    self:start_nsd(opts.zones, opts.servfail)
    self:start_hostile()
    if opts.nsd_only then
      self.port = self.nsd_port
      return
    end
    self:start_dnsmasq(opts.silent)
  end)
  if not ok then
    self:stop()
    error(err, 2)
  end
  return self
end

-- syntax: n = srv:forwarded(name [, qtype])   -- queries dnsmasq passed on for name
function Srv:forwarded(name, qtype)
  local n = 0
  for line in (read(self.dir .. "/dnsmasq.log") or ""):gmatch("[^\n]+") do
    local t, what = line:match("query%[(%w+)%] (%S+) from")
    if what == name and (not qtype or t == qtype) then n = n + 1 end
  end
  return n
end

-- syntax: srv:stop()
function Srv:stop()
  for _, k in ipairs({ "dnsmasq_pid", "hostile_pid", "nsd_pid" }) do
    local pid = self[k]
    if pid then
      run("kill " .. pid)
      wait_for(function() return not alive(pid) end, 5)
      if alive(pid) then run("pkill -9 -P " .. pid .. "; kill -9 " .. pid) end
      self[k] = nil
    end
  end
  if self.dir and not getenv("BOUNCE_KEEP_TMP") then run("rm -rf " .. q(self.dir)) end
end

return _M
