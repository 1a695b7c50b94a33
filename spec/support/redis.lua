-- spec/support/redis.lua - runs a private redis-server for specs.
--
--   local redis_srv = require("spec.support.redis")
--   local ok, why = redis_srv.available()   -- false, reason when it cannot run here
--   local srv = redis_srv.start()           -- 127.0.0.1, a free port, a temp dir
--   local srv = redis_srv.start{ password = "s3cret" }   -- --requirepass s3cret
--   srv:port(); srv:cli("DBSIZE")           -- redis-cli's output, trimmed (authenticated)
--   local c = srv:client()                  -- a connected redis-lua client
--   srv:restart()                           -- same port, empty data
--   srv:stop()                              -- idempotent; call it from teardown/finally
--
-- The server saves nothing (--save '' --appendonly no) and lives in a mktemp
-- directory under $TMPDIR or /tmp that stop() removes. redis-lua (Debian
-- lua-redis) installs for Lua 5.1-5.3 only; under 5.4 it is loaded from the
-- 5.3 tree, where it works for the commands the store uses.
-- With a password, cli() passes it with -a (and --no-auth-warning), and
-- client() and connector() send AUTH after connecting.
local util = require("spec.support.util")
local q, run, exists, read, free_port = util.q, util.run, util.exists, util.read, util.free_port
local socket = require("socket")

local assert, error, tonumber, tostring, pcall, setmetatable, require, type, ipairs =
  assert, error, tonumber, tostring, pcall, setmetatable, require, type, ipairs
local getenv = os.getenv

local _M = {}

local SERVER = getenv("REDIS_SERVER") or "/usr/bin/redis-server"
local CLI = getenv("REDIS_CLI") or "/usr/bin/redis-cli"

_M.run, _M.q = run, q

-- require("redis") under any interpreter: Lua 5.4 borrows the 5.3 tree.
function _M.load_client()
  local ok, mod = pcall(require, "redis")
  if ok then return mod end
  if _VERSION == "Lua 5.4" and not package.path:find("/usr/share/lua/5.3/", 1, true) then
    package.path = package.path .. ";/usr/share/lua/5.3/?.lua"
    ok, mod = pcall(require, "redis")
    if ok then return mod end
  end
  return nil, "redis-lua not found (apt-get install lua-redis): " .. tostring(mod)
end

-- Whether a server can run and a client load here; false, reason if not.
function _M.available()
  if not exists(SERVER) then return false, SERVER .. " not found (apt-get install redis-server)" end
  if not exists(CLI) then return false, CLI .. " not found (apt-get install redis-tools)" end
  local mod, err = _M.load_client()
  if not mod then return false, err end
  return true
end

local Server = {}
Server.__index = Server

function Server:port() return self.p end

-- redis-cli's command line for this server, authenticated when it has a password.
function Server:_cli()
  local auth = self.password and " --no-auth-warning -a " .. q(self.password) or ""
  return q(CLI) .. " -h 127.0.0.1 -p " .. self.p .. auth
end

-- redis-cli against this server; returns its output without the last newline.
function Server:cli(args)
  local rc, out = run(self:_cli() .. " " .. args)
  if rc ~= 0 then error("redis-cli " .. args .. ": " .. out, 2) end
  return (out:gsub("\n$", ""))
end

function Server:_pid() return tonumber(read(self.dir .. "/redis.pid") or "") end

local function alive(pid)
  local stat = read("/proc/" .. pid .. "/stat")
  if stat then return not stat:match("^%d+ %b() Z") end
  return run("kill -0 " .. pid) == 0
end

-- A command in RESP, whatever bytes its arguments hold.
local function resp(...)
  local args = { ... }
  local out = { "*" .. #args .. "\r\n" }
  for _, a in ipairs(args) do out[#out + 1] = "$" .. #a .. "\r\n" .. a .. "\r\n" end
  return table.concat(out)
end

-- Starts redis-server on self.p; true, or false and why.
function Server:_launch()
  local rc, out = run(q(SERVER) .. " --bind 127.0.0.1 --port " .. self.p
    .. " --save '' --appendonly no --dir " .. q(self.dir) .. " --daemonize yes --pidfile "
    .. q(self.dir .. "/redis.pid") .. " --logfile " .. q(self.dir .. "/redis.log")
    .. (self.password and " --requirepass " .. q(self.password) or ""))
  if rc ~= 0 then return false, out end
  local deadline = socket.gettime() + 5
  repeat
    local c = socket.tcp()
    c:settimeout(0.2)
    if c:connect("127.0.0.1", self.p) then
      if self.password then
        c:send(resp("AUTH", self.password))
        c:receive("*l")   -- +OK; a failure shows as PING's -NOAUTH below
      end
      c:send("PING\r\n")
      local line = c:receive("*l")
      c:close()
      if line == "+PONG" and self:_pid() then
        self.pid = self:_pid()
        return true
      end
    else
      c:close()
    end
    socket.sleep(0.02)
  until socket.gettime() > deadline
  return false, read(self.dir .. "/redis.log") or "redis-server did not answer"
end

-- Stops the server process (not the directory); waits until it is gone.
function Server:_halt()
  local pid = self.pid or self:_pid()
  if not pid then return end
  run(self:_cli() .. " shutdown nosave")
  local deadline = socket.gettime() + 5
  while alive(pid) and socket.gettime() < deadline do socket.sleep(0.02) end
  if alive(pid) then run("kill -KILL " .. pid) end
  os.remove(self.dir .. "/redis.pid")
  self.pid = nil
end

-- syntax: srv = redis_srv.start([opts])
-- Starts a server; raises with its log when it cannot. opts.password: the
-- server runs with --requirepass (the default user's password).
function _M.start(opts)
  opts = opts or {}
  local ok, why = _M.available()
  if not ok then error(why, 2) end
  if opts.password ~= nil and (type(opts.password) ~= "string" or opts.password == "") then
    error("bad argument #1 to 'start' (password: a non-empty string expected)", 2)
  end
  local rc, dir = run("mktemp -d " .. q((getenv("TMPDIR") or "/tmp") .. "/bounce-redis.XXXXXX"))
  assert(rc == 0, dir)
  local self = setmetatable({ dir = (dir:gsub("%s+$", "")), password = opts.password }, Server)
  local err
  for _ = 1, 5 do   -- another process may take the port between probe and bind
    self.p = free_port()
    ok, err = self:_launch()
    if ok then return self end
    self:_halt()
  end
  run("rm -rf " .. q(self.dir))
  error("redis-server failed to start:\n" .. tostring(err), 2)
end

-- syntax: redis_srv.with([opts, ]fn)
-- Runs fn(server) and stops the server afterwards, also when fn raises.
function _M.with(opts, fn)
  if fn == nil then opts, fn = nil, opts end
  local srv = _M.start(opts)
  local ok, err = pcall(fn, srv)
  srv:stop()
  if not ok then error(err, 0) end
end

-- Stops and removes the server's directory. Idempotent.
function Server:stop()
  if self.stopped then return end
  self.stopped = true
  self:_halt()
  run("rm -rf " .. q(self.dir))
end

-- Stops the server (as a crash or an operator would); start() brings it back.
function Server:down() self:_halt() end

-- Starts it again on the same port, with no data (nothing is saved).
function Server:up()
  assert(not self.stopped, "server stopped for good")
  local ok, err = self:_launch()
  if not ok then error("redis-server did not come back:\n" .. tostring(err), 2) end
end

function Server:restart()
  self:_halt()
  self:up()
end

-- connect options for redis-lua's redis.connect.
function Server:params()
  return { host = "127.0.0.1", port = self.p, timeout = 2 }
end

-- A connected redis-lua client (raises when it cannot connect).
function Server:client()
  return self:connector()()
end

-- A function that connects a new redis-lua client (authenticated when the
-- server has a password): opts.connect of the store.
function Server:connector()
  local redis = assert(_M.load_client())
  local params, password = self:params(), self.password
  return function()
    local c = redis.connect(params)
    if password then c:auth(password) end
    return c
  end
end

_M.read = read

return _M
