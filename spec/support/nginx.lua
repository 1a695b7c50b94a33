-- spec/support/nginx.lua - runs a real nginx with the Lua module for specs.
--
--   local nginx = require("spec.support.nginx")
--   local ok, why = nginx.available()   -- false, reason when it cannot run here
--   local srv = nginx.start{
--     http = [[ lua_shared_dict d 1m; ]],          -- optional, inside http {}
--     server = [[ location /x { content_by_lua_block { ngx.say("hi") } } ]],
--     main = [[ env REDIS_PORT; ]],                 -- optional, top level
--     workers = 4,                                  -- optional, worker_processes (1)
--     env = "BOUNCE_TOKEN=abc",                     -- optional, nginx's environment (quoted for sh)
--   }
--   nginx.start{ conf = function(port) return "... server { listen 127.0.0.1:" .. port .. "; ... }" end,
--                lua_paths = false }   -- all of http {}, which sets lua_package_path/cpath itself
--   local status, body, headers = srv:get("/x?a=1")
--   srv:stop()   -- idempotent; call it from teardown/finally
--
--   nginx.with({ server = ... }, function(srv) ... end)   -- stops it whatever happens
--
-- Each server runs from a fresh temporary prefix with a self-contained
-- nginx.conf written by bounce.nginx, the template `bounce serve` uses,
-- listens on 127.0.0.1 on a free port, and finds the repo's ./lua modules
-- plus the LuaJIT build of bounce.core (nginx's Lua is LuaJIT; the module
-- is built here with `make LUA=luajit`). Commands run without
-- LD_PRELOAD, so an ASan run of the specs does not leak into nginx or make.
local util = require("spec.support.util")
local bnginx = require("bounce.nginx")
local q, run, read, free_port = util.q, util.run, util.read, util.free_port
local socket = require("socket")
local http = require("socket.http")
local ltn12 = require("ltn12")

local assert, error, tonumber, pairs, setmetatable = assert, error, tonumber, pairs, setmetatable
local concat = table.concat
local io_open, getenv = io.open, os.getenv

local _M = {}

local NGINX = bnginx.NGINX

-- The repo root: two levels above this file, made absolute.
local function repo_root()
  local src = debug.getinfo(1, "S").source:gsub("^@", "")
  local dir = src:match("^(.*)/spec/support/[^/]+$") or "."
  if dir:sub(1, 1) ~= "/" then
    local _, cwd = run("pwd")
    cwd = cwd:gsub("%s+$", "")
    dir = dir == "." and cwd or (cwd .. "/" .. dir:gsub("^%./", ""))
  end
  return dir
end

_M.root = repo_root()

-- Whether nginx with the Lua module can run here; false, reason if not.
_M.available = bnginx.available

-- Builds bounce.core for LuaJIT (build/luajit/bounce/core.so); make keeps it
-- up to date with src/. Done once per process.
local built
function _M.build_module()
  if built then return built end
  local rc, out = run("make -s -C " .. q(_M.root) .. " LUA=luajit all")
  if rc ~= 0 then error("building bounce.core for LuaJIT failed:\n" .. out, 2) end
  built = _M.root .. "/build/luajit"
  return built
end

local function is_root()
  local _, out = run("id -u")
  return out:match("^%s*0%s*$") ~= nil
end

local Server = {}
Server.__index = Server

-- The configuration: bounce.nginx's template, as `bounce serve` writes it,
-- with the test's own http {} text and server {} block. opts.conf, when
-- given, is a function(port) returning all that goes inside http {};
-- opts.lua_paths = false leaves lua_package_path/cpath to that text.
local function write_conf(prefix, port, opts)
  local root, cpath = _M.root, _M.build_module()
  local body = opts.conf and opts.conf(port)
    or ((opts.http or "") .. "\n  server {\n    listen 127.0.0.1:" .. port .. ";\n    server_name localhost;\n"
        .. (opts.server or "") .. "\n  }")
  local paths = opts.lua_paths ~= false
  local conf = bnginx.conf{
    by = "spec/support/nginx.lua", prefix = prefix, workers = opts.workers, main = opts.main,
    lua_path = paths and root .. "/lua" or nil, lua_cpath = paths and cpath or nil,
    -- As root, workers would run as nobody and could not read a checkout
    -- under a private home; this test server only listens on 127.0.0.1.
    user = is_root() and "root root" or nil, error_level = "info", http = body,
  }
  local f = assert(io_open(prefix .. "/conf/nginx.conf", "w"))
  f:write(conf)
  f:close()
end

-- Starts nginx; returns a Server. Raises with the error log when it fails.
-- opts.main, opts.http, opts.server: config text spliced in at the top
-- level, inside http {} and inside server {}.
function _M.start(opts)
  opts = opts or {}
  local ok, why = _M.available()
  if not ok then error(why, 2) end
  local rc, prefix = run("mktemp -d " .. q((getenv("TMPDIR") or "/tmp") .. "/bounce-nginx.XXXXXX"))
  assert(rc == 0, prefix)
  prefix = prefix:gsub("%s+$", "")
  assert(run("mkdir -p " .. q(prefix .. "/conf") .. " " .. q(prefix .. "/logs") .. " "
    .. q(prefix .. "/tmp") .. " && chmod 755 " .. q(prefix)) == 0)
  local self = setmetatable({ prefix = prefix }, Server)
  local out
  for _ = 1, 5 do  -- another process may take the port between probe and bind
    self.port = free_port()
    write_conf(prefix, self.port, opts)
    rc, out = run((opts.env and opts.env .. " " or "") .. self:_nginx() .. " -g 'daemon on;'")
    if rc == 0 then break end
    if not out:find("Address already in use", 1, true) then break end
  end
  if rc ~= 0 then
    local log = read(prefix .. "/logs/error.log") or ""
    self:stop()
    error("nginx failed to start (exit " .. tostring(rc) .. "):\n" .. out .. log, 2)
  end
  if not self:_wait_ready(5) then
    local log = read(prefix .. "/logs/error.log") or ""
    self:stop()
    error("nginx did not answer on 127.0.0.1:" .. self.port .. ":\n" .. log, 2)
  end
  return self
end

-- Runs fn(server) and stops the server afterwards, also when fn raises.
function _M.with(opts, fn)
  local srv = _M.start(opts)
  local ok, err = pcall(fn, srv)
  srv:stop()
  if not ok then error(err, 0) end
end

function Server:_nginx()
  return q(NGINX) .. " -p " .. q(self.prefix) .. " -c conf/nginx.conf -e "
    .. q(self.prefix .. "/logs/error.log")
end

function Server:_pid()
  return tonumber(read(self.prefix .. "/logs/nginx.pid") or "")
end

function Server:_wait_ready(seconds)
  local deadline = socket.gettime() + seconds
  repeat
    if self:_pid() then
      local c = socket.tcp()
      c:settimeout(0.2)
      local ok = c:connect("127.0.0.1", self.port)
      c:close()
      if ok then self.pid = self:_pid() return true end
    end
    socket.sleep(0.02)
  until socket.gettime() > deadline
  return false
end

-- Whether pid still runs. A daemonized master is reaped by init, which may
-- take a while in a container: a zombie counts as gone.
local function alive(pid)
  local stat = read("/proc/" .. pid .. "/stat")
  if stat then return not stat:match("^%d+ %b() Z") end
  return run("kill -0 " .. pid) == 0
end

-- Stops the master (and its worker) and removes the prefix. Idempotent.
function Server:stop()
  if self.stopped then return end
  self.stopped = true
  local pid = self.pid or self:_pid()
  if pid then
    run("kill -TERM " .. pid)
    local deadline = socket.gettime() + 5
    while alive(pid) and socket.gettime() < deadline do socket.sleep(0.02) end
    if alive(pid) then run("kill -KILL " .. pid) end
  end
  if not getenv("BOUNCE_KEEP_NGINX") then run("rm -rf " .. q(self.prefix)) end
end

function Server:url(path)
  return "http://127.0.0.1:" .. self.port .. (path or "/")
end

-- HTTP request to this server: returns status, body, headers (lowercased
-- names). method defaults to GET; body is a string or nil.
function Server:request(method, path, body, headers)
  local chunks = {}
  local h = { ["content-length"] = body and #body or nil }
  for k, v in pairs(headers or {}) do h[k:lower()] = v end
  http.TIMEOUT = 5
  local ok, status, resp_headers = http.request{
    url = self:url(path), method = method or "GET", headers = h,
    source = body and ltn12.source.string(body) or nil,
    sink = ltn12.sink.table(chunks),
  }
  if not ok then error("HTTP " .. (method or "GET") .. " " .. path .. ": " .. tostring(status), 2) end
  return status, concat(chunks), resp_headers
end

function Server:get(path, headers) return self:request("GET", path, nil, headers) end
function Server:post(path, body, headers) return self:request("POST", path, body, headers) end

-- The error log so far (for assertions and failure messages).
function Server:error_log()
  return read(self.prefix .. "/logs/error.log") or ""
end

-- Percent-encodes a query string value.
function _M.escape(s)
  return (s:gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

return _M
