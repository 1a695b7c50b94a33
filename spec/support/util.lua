-- spec/support/util.lua - small helpers the specs and their support modules
-- share: shell commands, files, free ports.
--
--   local util = require("spec.support.util")
--   local rc, out = util.run("redis-cli -p " .. port .. " ping")
--   util.write(path, text); local text = util.read(path)   -- nil when absent
--   local port = util.free_port()
local socket = require("socket")

local assert, tonumber, tostring = assert, tonumber, tostring
local io_open, io_popen = io.open, io.popen

local _M = {}

-- syntax: s = util.q(s)   -- quoted for sh
function _M.q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- syntax: rc, out = util.run(cmd)
-- Runs a shell command without LD_PRELOAD (an ASan run of the specs must not
-- leak into nginx, redis-server or python) and returns its exit code and
-- its output, stdout and stderr together. (io.popen():close() does not give
-- the status on 5.1/LuaJIT.)
function _M.run(cmd)
  -- (unset, not `env -u`: a bare Debian has no /usr/bin/kill, only the
  -- shell's builtin, and cmd may be a compound command)
  local p = assert(io_popen("unset LD_PRELOAD; " .. cmd .. " 2>&1; echo \"__rc=$?\""))
  local out = p:read("*a")
  p:close()
  return tonumber(out:match("__rc=(%d+)%s*$")), (out:gsub("__rc=%d+%s*$", ""))
end

-- syntax: ok = util.exists(path)
function _M.exists(path)
  local f = io_open(path, "rb")
  if f then f:close() return true end
  return false
end

-- syntax: text = util.read(path)   -- nil when the file cannot be read
function _M.read(path)
  local f = io_open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

-- syntax: util.write(path, text)   -- raises when the file cannot be written
function _M.write(path, s)
  local f = assert(io_open(path, "wb"))
  f:write(s)
  f:close()
end

-- syntax: port = util.free_port()
-- A port on 127.0.0.1 that was free a moment ago (the kernel picks it).
function _M.free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

return _M
