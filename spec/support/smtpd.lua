-- spec/support/smtpd.lua - the scripted SMTP server of spec/support/smtpd.py
-- (Debian's python3-aiosmtpd) on a free 127.0.0.1 port, for specs that
-- need a real SMTP peer:
--
--   local smtpd = require("spec.support.smtpd")
--   local ok, why = smtpd.available()
--   local srv = smtpd.start{ rcpt = { ["full@example.org"] = { "452 4.2.2 mailbox full" } },
--                            domains = { ["x.test"] = "550 5.1.1 no such user" }, log_session = true }
--   srv.port; srv:entries(); srv:entries("RCPT"); srv:count("RCPT", "full@example.org")
--   srv:stop()                               -- idempotent; call it from teardown
--
-- The script's format is smtpd.py's (see its docstring). The server stops
-- by itself after `lifetime` seconds (default 300) should a run die.
local util = require("spec.support.util")
local socket = require("socket")
local q, run, read, write = util.q, util.run, util.read, util.write

local assert, error, ipairs, tonumber, setmetatable, pcall, require =
  assert, error, ipairs, tonumber, setmetatable, pcall, require

local _M = {}

_M.PYTHON = "/usr/bin/python3"   -- Debian's: a pyenv python3 in PATH lacks aiosmtpd

local HERE = debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/[^/]+$") or "spec/support"
local SERVER_PY = HERE .. "/smtpd.py"

-- syntax: ok, why = smtpd.available()
function _M.available()
  if not pcall(require, "cjson") then return false, "lua-cjson not found (apt-get install lua-cjson)" end
  if not read(_M.PYTHON) then return false, _M.PYTHON .. " not found (apt-get install python3-aiosmtpd)" end
  if run(_M.PYTHON .. " -c 'import aiosmtpd'") ~= 0 then
    return false, "python3-aiosmtpd not found (apt-get install python3-aiosmtpd)"
  end
  return true
end

local Server = {}
Server.__index = Server

local function alive(pid)
  local stat = read("/proc/" .. pid .. "/stat")
  return stat ~= nil and not stat:match("^%d+ %b() Z")
end

-- syntax: srv = smtpd.start(script [, lifetime])
function _M.start(script, lifetime)
  local cjson = require("cjson")
  local rc, dir = run("mktemp -d /tmp/bounce-smtpd.XXXXXX")
  assert(rc == 0, dir)
  local self = setmetatable({ dir = dir:gsub("%s+$", "") }, Server)
  write(self.dir .. "/script.json", cjson.encode(script))
  self.log = self.dir .. "/log.jsonl"
  for _ = 1, 5 do   -- another process may take the port between probe and bind
    self.port = util.free_port()
    os.remove(self.dir .. "/ready")
    local out
    rc, out = run("PYTHONDONTWRITEBYTECODE=1 " .. _M.PYTHON .. " " .. q(SERVER_PY)
      .. " --port " .. self.port .. " --script " .. q(self.dir .. "/script.json")
      .. " --log " .. q(self.log) .. " --ready " .. q(self.dir .. "/ready")
      .. " --lifetime " .. (lifetime or 300) .. " >" .. q(self.dir .. "/out.txt") .. " 2>&1 & echo $!")
    self.pid = tonumber(out:match("(%d+)"))
    assert(rc == 0 and self.pid, out)
    local deadline = socket.gettime() + 15
    while not read(self.dir .. "/ready") and alive(self.pid) and socket.gettime() < deadline do
      socket.sleep(0.02)
    end
    if read(self.dir .. "/ready") then return self end
    local why = read(self.dir .. "/out.txt") or ""
    if not why:find("in use", 1, true) then
      self:stop()
      error("smtpd.py did not start:\n" .. why, 2)
    end
  end
  self:stop()
  error("smtpd.py found no free port", 2)
end

-- Stops the server and removes its folder. Idempotent.
function Server:stop()
  if self.stopped then return end
  self.stopped = true
  if self.pid and alive(self.pid) then
    run("kill -TERM " .. self.pid)
    local deadline = socket.gettime() + 5
    while alive(self.pid) and socket.gettime() < deadline do socket.sleep(0.02) end
    if alive(self.pid) then run("kill -KILL " .. self.pid) end
  end
  run("rm -rf " .. q(self.dir))
end

-- syntax: list = srv:entries([cmd])   -- what the server logged (of that command): a list of
-- { cmd = "RCPT" | "DATA" | ..., rcpt, reply, content, from }
function Server:entries(cmd)
  local cjson = require("cjson")
  local out = {}
  for line in (read(self.log) or ""):gmatch("[^\n]+") do
    local ok, e = pcall(cjson.decode, line)
    if ok and (not cmd or e.cmd == cmd) then out[#out + 1] = e end
  end
  return out
end

-- syntax: srv:clear()   -- forget what was logged so far
function Server:clear() write(self.log, "") end

-- How many times the server got `cmd` for rcpt.
function Server:count(cmd, rcpt)
  local n = 0
  for _, e in ipairs(self:entries()) do
    if e.cmd == cmd and e.rcpt == rcpt then n = n + 1 end
  end
  return n
end

return _M
