-- spec/support/postfix.lua - runs a private Postfix (Debian's package) for
-- specs: its own configuration folder and queue in a temporary folder,
-- listening on a free 127.0.0.1 port, logging to a file. The system's
-- Postfix configuration (/etc/postfix) is only read (master.cf is copied).
--
--   local postfix = require("spec.support.postfix")
--   local ok, why = postfix.available()          -- false, reason when it cannot run here
--   local pf = postfix.start{ main = { relayhost = "[127.0.0.1]:2525" },
--                             master = { "name unix - n n - - pipe ..." } }
--   pf.port, pf.dir                              -- its SMTP port, its folder
--   pf:log()                                     -- what it logged so far
--   pf:wait_log(pattern, seconds)                -- until a log line matches
--   pf:stop()                                    -- idempotent; also kills what is left
--
-- Every service runs without chroot (the queue folder holds no copy of
-- /etc). The folders above the queue must be searchable by the postfix
-- user: the temporary folder is made 0755 under /tmp. `postfix -c DIR
-- start-fg` runs in the background (start without -fg logs to syslog,
-- which a build machine may lack); stop() asks `postfix -c DIR stop`, then
-- kills the master and any process of this instance still running (found
-- by MAIL_CONFIG=DIR in its environment).
local util = require("spec.support.util")
local socket = require("socket")
local q, run, read, write, free_port = util.q, util.run, util.read, util.write, util.free_port

local assert, error, ipairs, pairs, tonumber, setmetatable, type, tostring =
  assert, error, ipairs, pairs, tonumber, setmetatable, type, tostring
local concat, sort = table.concat, table.sort

local _M = {}

local POSTFIX = "/usr/sbin/postfix"
local SYSTEM_MASTER = "/etc/postfix/master.cf"

-- syntax: ok, why = postfix.available()
function _M.available()
  if not util.exists(POSTFIX) then return false, POSTFIX .. " not found (apt-get install postfix)" end
  if not util.exists(SYSTEM_MASTER) then return false, SYSTEM_MASTER .. " not found (apt-get install postfix)" end
  local rc, id = run("id -u")
  if rc ~= 0 or tonumber(id) ~= 0 then return false, "a private Postfix instance needs root" end
  if run("getent passwd postfix >/dev/null && getent group postdrop >/dev/null") ~= 0 then
    return false, "the postfix user or the postdrop group is missing (apt-get install postfix)"
  end
  return true
end

-- The system's master.cf with every service out of chroot and the smtp
-- inet service on 127.0.0.1:port, then the extra service lines.
local function master_cf(port, extra)
  local out = {}
  for line in (assert(read(SYSTEM_MASTER), SYSTEM_MASTER)):gmatch("([^\n]*)\n?") do
    if line:match("^[%w%.:%-]") then
      local f = {}
      for w in line:gmatch("%S+") do f[#f + 1] = w end
      if f[1] == "smtp" and f[2] == "inet" then f[1] = "127.0.0.1:" .. port end
      if f[5] then f[5] = "n" end
      line = concat(f, " ")
    end
    out[#out + 1] = line
  end
  for _, l in ipairs(extra or {}) do out[#out + 1] = l end
  return concat(out, "\n") .. "\n"
end

local function main_cf(dir, settings)
  local base = {
    compatibility_level = "3.6",
    queue_directory = dir .. "/queue",
    data_directory = dir .. "/data",
    myhostname = "postfix-spec.test",
    mydomain = "postfix-spec.test",
    myorigin = "postfix-spec.test",
    inet_interfaces = "127.0.0.1",
    inet_protocols = "ipv4",
    mydestination = "",
    mynetworks = "127.0.0.0/8",
    alias_maps = "",
    alias_database = "",
    maillog_file = dir .. "/maillog",
    maillog_file_prefixes = dir,
    notify_classes = "",
    smtputf8_enable = "no",
    biff = "no",
  }
  for k, v in pairs(settings or {}) do base[k] = v end
  local keys = {}
  for k in pairs(base) do keys[#keys + 1] = k end
  sort(keys)
  local out = {}
  for _, k in ipairs(keys) do out[#out + 1] = k .. " = " .. tostring(base[k]) end
  return concat(out, "\n") .. "\n"
end

local Instance = {}
Instance.__index = Instance

local function alive(pid)
  local stat = read("/proc/" .. pid .. "/stat")
  return stat ~= nil and not stat:match("^%d+ %b() Z")
end

-- The processes of this instance: MAIL_CONFIG=DIR in their environment.
function Instance:pids()
  -- (-s: processes come and go while grep reads; their errors are not matches)
  local _, out = run("grep -slzxF " .. q("MAIL_CONFIG=" .. self.conf) .. " /proc/[0-9]*/environ 2>/dev/null")
  local pids = {}
  for pid in out:gmatch("/proc/(%d+)/environ") do
    pid = tonumber(pid)
    if alive(pid) then pids[#pids + 1] = pid end
  end
  return pids
end

function Instance:log() return read(self.dir .. "/maillog") or "" end

-- syntax: line = pf:wait_log(pattern [, seconds])   -- the first line matching, or nil
function Instance:wait_log(pattern, seconds)
  local deadline = socket.gettime() + (seconds or 10)
  repeat
    for line in self:log():gmatch("[^\n]+") do
      if line:find(pattern) then return line end
    end
    socket.sleep(0.05)
  until socket.gettime() > deadline
end

-- Whether the SMTP port greets (a 220 line); nil, why if not.
local function greets(port)
  local c = socket.tcp()
  c:settimeout(1)
  local ok, err = c:connect("127.0.0.1", port)
  if not ok then c:close() return nil, err end
  local line
  line, err = c:receive("*l")
  c:send("QUIT\r\n")
  c:close()
  if line and line:match("^220") then return true end
  return nil, line or err
end

function Instance:launch()
  write(self.conf .. "/master.cf", master_cf(self.port, self.master))
  local rc, out = run("postfix -c " .. q(self.conf) .. " check")
  if rc ~= 0 then return false, "postfix check: " .. out .. self:log() end
  rc, out = run("MAIL_CONFIG=" .. q(self.conf) .. " " .. POSTFIX .. " -c " .. q(self.conf)
    .. " start-fg >" .. q(self.dir .. "/start-fg.out") .. " 2>&1 & echo $!")
  self.pid = tonumber(out:match("(%d+)"))
  if rc ~= 0 or not self.pid then return false, out end
  local deadline = socket.gettime() + 20
  repeat
    if greets(self.port) then return true end
    if not alive(self.pid) then break end
    socket.sleep(0.05)
  until socket.gettime() > deadline
  return false, (read(self.dir .. "/start-fg.out") or "") .. self:log()
end

-- Stops the instance (not its folder); waits until every process is gone.
function Instance:halt()
  run("postfix -c " .. q(self.conf) .. " stop")
  local deadline = socket.gettime() + 10
  while socket.gettime() < deadline do
    if #self:pids() == 0 and not (self.pid and alive(self.pid)) then break end
    socket.sleep(0.05)
  end
  -- the fallback: the master from its pid file, then whatever is left
  local mpid = tonumber(read(self.dir .. "/queue/pid/master.pid") or "")
  if mpid and alive(mpid) then run("kill -KILL " .. mpid) end
  for _, pid in ipairs(self:pids()) do run("kill -KILL " .. pid) end
  if self.pid and alive(self.pid) then run("kill -KILL " .. self.pid) end
  self.pid = nil
end

-- syntax: pf = postfix.start(opts)
-- opts.main: main.cf settings over the defaults above (relayhost,
-- restrictions, queue times...); opts.master: extra master.cf lines;
-- opts.dir: a folder to use (default a new one under /tmp, removed by
-- stop()). Raises with the log when Postfix does not start.
function _M.start(opts)
  opts = opts or {}
  local ok, why = _M.available()
  if not ok then error(why, 2) end
  local dir = opts.dir
  if not dir then
    local rc, out = run("mktemp -d /tmp/bounce-postfix.XXXXXX")
    assert(rc == 0, out)
    dir = out:gsub("%s+$", "")
  end
  local self = setmetatable({ dir = dir, conf = dir .. "/conf", master = opts.master, own = not opts.dir },
    Instance)
  local rc, out = run("chmod 0755 " .. q(dir) .. " && mkdir -p " .. q(self.conf) .. " " .. q(dir .. "/queue")
    .. " " .. q(dir .. "/data") .. " && chown postfix " .. q(dir .. "/data"))
  assert(rc == 0, out)
  local err
  for _ = 1, 5 do   -- another process may take the port between probe and bind
    self.port = free_port()
    local settings = {}
    for k, v in pairs(opts.main or {}) do settings[k] = type(v) == "function" and v(self) or v end
    write(self.conf .. "/main.cf", main_cf(dir, settings))
    ok, err = self:launch()
    if ok then return self end
    self:halt()
    if not tostring(err):find("in use", 1, true) then break end
  end
  if self.own then run("rm -rf " .. q(dir)) end
  error("postfix did not start:\n" .. tostring(err), 2)
end

-- Stops Postfix and removes its folder (when start() made it). Idempotent.
function Instance:stop()
  if self.stopped then return end
  self.stopped = true
  self:halt()
  if self.own then run("rm -rf " .. q(self.dir)) end
end

-- syntax: text = postfix.snapshot(dir)   -- names, sizes, times of every file under dir
function _M.snapshot(dir)
  local _, out = run("find " .. q(dir) .. " -printf '%p %s %T@ %m %u\\n' 2>/dev/null | sort")
  return out
end

return _M
