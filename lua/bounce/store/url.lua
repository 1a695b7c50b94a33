-- bounce.store.url: a store named the way the command line names one, for
-- the commands that run beside an MTA (bounce policyd, bounce intake): a
-- SQLite file (PATH or sqlite:PATH) or redis://[[USER]:PASSWORD@]HOST:PORT
-- [/PREFIX][?db=N], read by bounce.serve.parse_redis_url so that the URL
-- means what it means to bounce serve, and the same history is shared.
--
--   local url = require("bounce.store.url")
--   local s, err, shown = url.open("/var/lib/bounce/bounce.db")
--   local s, err, shown = url.open("redis://127.0.0.1:6379", { timeout = 0.5 })
--
-- It fails closed: a SQLite file that does not exist is an error, never a
-- new empty history (a typo in a path would otherwise let every suppressed
-- address through), unless opts.create asks for one. `shown` is the spec
-- with any password hidden, for messages. Redis in plain Lua is Debian's
-- lua-redis (redis-lua over LuaSocket); it installs for 5.1-5.3 and works
-- under 5.4 from the 5.3 tree, which is looked at when the module is not
-- found otherwise.

local core = require("bounce.core")

local type, tostring, pcall, require, error = type, tostring, pcall, require, error
local smatch, ssub, sfind = string.match, string.sub, string.find
local open = io.open

local _M = { _VERSION = core._VERSION }

local SQLITE_MAGIC = "SQLite format 3\0"

-- syntax: mod, err = url.redis_client()   -- redis-lua, under any Lua
function _M.redis_client()
  local ok, mod = pcall(require, "redis")
  if ok then return mod end
  if _VERSION == "Lua 5.4" and not sfind(package.path, "/usr/share/lua/5.3/", 1, true) then
    package.path = package.path .. ";/usr/share/lua/5.3/?.lua"
    ok, mod = pcall(require, "redis")
    if ok then return mod end
  end
  return nil, "a Redis store needs redis-lua (apt-get install lua-redis)"
end

-- Whether path names an existing SQLite file: true, or nil and why. An
-- empty file would open as an empty history, so it is refused too.
local function sqlite_file(path)
  local f, err = open(path, "rb")
  if not f then
    if sfind(tostring(err), "No such file", 1, true) then
      return nil, path .. ": no such file (the history is never created on the fly:"
        .. " give the right path, or --create to start an empty one)"
    end
    return nil, tostring(err)
  end
  local ok, head, rerr = pcall(f.read, f, 16)
  f:close()
  if ok and head == nil and rerr == nil then
    return nil, path .. ": an empty file, not a bounce history (--create starts one where no file is)"
  end
  if not ok or head == nil then
    return nil, path .. ": cannot be read (a folder?)"
  end
  if head ~= SQLITE_MAGIC then return nil, path .. ": not a SQLite database" end
  return true
end
_M.sqlite_file = sqlite_file

-- The connect function of a redis-lua store: a new connection, AUTH when
-- the URL (or opts) gave a password, SELECT when it names a database. A
-- connection whose set-up fails is closed before the error goes up.
local function redis_connect(redis, r, timeout)
  return function()
    local c = redis.connect{ host = r.host, port = r.port, timeout = timeout }
    local ok, err = pcall(function()
      if r.password then
        if r.user then c:auth(r.user, r.password) else c:auth(r.password) end
      end
      if r.db ~= 0 then c:select(r.db) end
    end)
    if not ok then
      pcall(function() c.network.socket:close() end)
      error(tostring(err):gsub("^.-redis%.lua:%d+: ", ""), 0)
    end
    return c
  end
end

local function open_redis(spec, opts)
  local serve = require("bounce.serve")
  local shown = serve.redact_url(spec)
  local r, err = serve.parse_redis_url(spec, { redis_password = opts.redis_password,
                                               redis_databases = opts.redis_databases })
  if not r then return nil, shown .. ": " .. err, shown end
  local redis, rerr = _M.redis_client()
  if not redis then return nil, rerr, shown end
  local s, serr = require("bounce.store.redis").new(nil, {
    prefix = r.prefix, connect = redis_connect(redis, r, opts.timeout or 1),
  })
  if not s then return nil, shown .. ": " .. tostring(serr), shown end
  return s, nil, shown
end

-- syntax: s, err, shown = url.open(spec [, opts])
-- spec: a SQLite path, "sqlite:PATH" or a redis:// URL. opts: create (make
-- a missing SQLite file), busy_timeout (ms, SQLite), timeout (seconds per
-- Redis operation, default 1), redis_password (wins over the URL's),
-- redis_databases (16). The store is opened and, for Redis, connected: a
-- server that does not answer is an error here. Raises on a spec that is
-- not a string.
function _M.open(spec, opts)
  if type(spec) ~= "string" then
    error("bad argument #1 to 'open' (string expected, got " .. type(spec) .. ")", 2)
  end
  opts = opts or {}
  if ssub(spec, 1, 8) == "redis://" then return open_redis(spec, opts) end
  local path = smatch(spec, "^sqlite:(.+)$") or spec
  if path == "" or path == ":memory:" then
    return nil, "a SQLite file expected (a history in memory would start empty), got '" .. path .. "'", path
  end
  if not opts.create then
    local ok, err = sqlite_file(path)
    if not ok then return nil, err, path end
  end
  local ok, s, err = pcall(require("bounce.store.sqlite").new, path,
                           opts.busy_timeout and { busy_timeout = opts.busy_timeout } or nil)
  if not ok then return nil, tostring(s), path end
  if not s then return nil, path .. ": " .. tostring(err), path end
  return s, nil, path
end

return _M
