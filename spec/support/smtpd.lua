-- spec/support/smtpd.lua - the scripted SMTP server (spec/support/smtpd.py,
-- Debian's python3-aiosmtpd) on a free 127.0.0.1 port, for specs.
--
--   local smtpd = require("spec.support.smtpd")
--   local ok, why = smtpd.available()
--   local srv = smtpd.start{ rcpt = { ["a@x.test"] = { "550 5.1.1 no" } },
--                            domains = { ["x.test"] = "550 5.1.1 no such user" }, log_session = true }
--   srv.port; srv:entries()   -- what it saw, one table per command logged
--   srv:stop()                -- idempotent; the server also stops by itself after 300 s
local util = require("spec.support.util")
local socket = require("socket")
local cjson = require("cjson")

local q, run, read, write = util.q, util.run, util.read, util.write
local assert, error, tonumber, setmetatable, pcall = assert, error, tonumber, setmetatable, pcall

local _M = {}

local PYTHON = "/usr/bin/python3"   -- Debian's: a pyenv python3 in PATH lacks aiosmtpd
local HERE = debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/[^/]+$") or "spec/support"
local SERVER_PY = HERE .. "/smtpd.py"

function _M.available()
  if not read(PYTHON) then return false, PYTHON .. " not found (apt-get install python3-aiosmtpd)" end
  if run(PYTHON .. " -c 'import aiosmtpd'") ~= 0 then
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

-- syntax: srv = smtpd.start(script)   -- script: see spec/support/smtpd.py
function _M.start(script)
  local rc, dir = run("mktemp -d /tmp/bounce-smtpd.XXXXXX")
  assert(rc == 0, dir)
  local self = setmetatable({ dir = dir:gsub("%s+$", "") }, Server)
  write(self.dir .. "/script.json", cjson.encode(script))
  self.log = self.dir .. "/log.jsonl"
  for _ = 1, 5 do   -- another process may take the port between probe and bind
    self.port = util.free_port()
    os.remove(self.dir .. "/ready")
    local out
    rc, out = run("PYTHONDONTWRITEBYTECODE=1 " .. PYTHON .. " " .. q(SERVER_PY)
      .. " --port " .. self.port .. " --script " .. q(self.dir .. "/script.json")
      .. " --log " .. q(self.log) .. " --ready " .. q(self.dir .. "/ready")
      .. " --lifetime 300 >" .. q(self.dir .. "/out.txt") .. " 2>&1 & echo $!")
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

-- syntax: list = srv:entries([cmd])   -- what the server logged (of that command)
function Server:entries(cmd)
  local out = {}
  for line in (read(self.log) or ""):gmatch("[^\n]+") do
    local ok, e = pcall(cjson.decode, line)
    if ok and (not cmd or e.cmd == cmd) then out[#out + 1] = e end
  end
  return out
end

-- syntax: srv:clear()   -- forget what was logged so far
function Server:clear() write(self.log, "") end

return _M
