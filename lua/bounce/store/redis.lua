-- bounce.store.redis: the store over Redis, shared by every host that talks
-- to the same server (or Cluster). It takes a client object from the host
-- rather than a module name, so it runs in plain Lua and inside OpenResty:
--
--   -- plain Lua, redis-lua (Debian lua-redis) over LuaSocket
--   local redis = require("redis")
--   local connect = function() return redis.connect{ host = "127.0.0.1", port = 6379, timeout = 1 } end
--   local s = assert(bounce.store.redis(nil, { connect = connect }))
--
--   -- OpenResty, lua-resty-redis (Debian: require "nginx.redis"): one pooled
--   -- connection per call, handed back with set_keepalive
--   local redis = require("nginx.redis")
--   local s = bounce.store.redis(nil, {
--     connect = function()
--       local red = redis:new()
--       red:set_timeout(1000)
--       local ok, err = red:connect("127.0.0.1", 6379)
--       if not ok then return nil, err end
--       return red
--     end,
--     release = function(red) red:set_keepalive(10000, 64) end,
--   })
--
-- Clients. Both shapes are recognised, per client object:
--   * lua-resty-redis (nginx.redis, resty.redis): methods return res, err; a
--     server error is false, msg; a nil reply is ngx.null.
--   * redis-lua (require "redis"): methods raise on any failure (the message
--     holds "redis error: " for a server error); a nil reply is nil. Under
--     Lua 5.4 it loads from LUA_PATH_5_4="/usr/share/lua/5.3/?.lua;;".
-- Any other object with the same method names works when it follows either
-- convention. Every call is made under pcall, so a client that raises never
-- raises through the store.
--
-- Connections. Timeouts are the host's to set on the client (redis-lua:
-- `timeout` in connect; resty: set_timeout). A call that fails on the
-- connection (refused, reset, timeout, Redis restarted) returns nil, err; the
-- client is then closed and dropped, since a timed-out socket may still
-- deliver the old reply, and the next call takes a new one from
-- opts.connect. Without opts.connect the store keeps the client it was given
-- and reconnecting it is the host's job (redis-lua cannot reconnect a
-- client, so pass connect there). get() is a read and is retried once on a
-- fresh connection; a write (cas, update) is never retried, since a write
-- whose reply was lost may have happened (the tracker's caller sees nil,
-- "store: ..."). So that a Redis restart between two calls does not fail
-- the next write, a kept redis-lua connection is polled without blocking
-- before each write (one recv(), no round trip) and replaced when the
-- server has closed it.
-- With opts.release the store keeps no client between calls: each call
-- takes one from connect() and hands it to release() afterwards (the
-- OpenResty way: cosockets belong to the request that made them).
--
-- Atomicity: cas() is one server-side Lua script (EVALSHA, falling back to
-- EVAL when the server answers NOSCRIPT, which also loads it) that compares
-- the record's bytes and writes, so it is atomic across hosts; no WATCH, no
-- retries inside cas() (the tracker retries on false).
--
-- One round trip per event: update(key, fn) (what the tracker uses) does not
-- read first. It guesses the record from a small per-store cache of the
-- bytes it last read or wrote for each key (a miss guesses "no record",
-- right for a new address), lets fn compute the new record from the guess
-- and sends the compare-and-set. When the guess was wrong the script answers
-- with the current bytes, and fn runs again on them: a second round trip.
-- The cache is only a guess, never an answer: every decision is confirmed
-- by the script (or, when fn writes nothing, by a GET), and get() always
-- reads Redis. opts.cache bounds it (default 20,000 keys, about 180 bytes
-- each with the address: 3.6 MB at most; 0 turns it off).
--
-- Keys: PREFIX .. "{" .. address .. "}" (opts.prefix, default "bounce:").
-- The braces are a Redis Cluster hash tag: the slot comes from the address
-- alone, so records spread over every slot, and each call touches one key,
-- so nothing is ever cross-slot. There is no index key (it would put every
-- write on one slot and make cas() cross-slot); scan() and count() walk the
-- key space with SCAN MATCH PREFIX{*, which is O(keys in the database) and
-- meant for expiry runs and exports, not for every request. On a Cluster,
-- SCAN sees the node the client talks to: scan each master with its own
-- store (opts.cluster = true there, which reads values with one GET per key
-- instead of an MGET, as MGET may not span slots).
--
-- Expiry: the ttl cas() receives (seconds until a suppression ends) becomes
-- the key's expiry (SET ... EX), so Redis drops what the policy lets go; a
-- write without ttl leaves the key without expiry (and clears an old one).

local core = require("bounce.core")

local type, error, tostring, tonumber, setmetatable, rawget, pcall, pairs =
  type, error, tostring, tonumber, setmetatable, rawget, pcall, pairs
local unpack = rawget(_G, "unpack") or table.unpack
local find, sub, gsub, format, smatch = string.find, string.sub, string.gsub, string.format, string.match
local ceil, floor = math.ceil, math.floor

local ngx = rawget(_G, "ngx")
local null = ngx and ngx.null

local _M = { _VERSION = core._VERSION }

-- KEYS[1] the record. ARGV[1] '1' when a value is expected (ARGV[2]), '0'
-- when the key must be absent; ARGV[3] '1' to write ARGV[4], '0' to delete;
-- ARGV[5] the expiry in seconds, '0' for none. Returns 1 when it wrote (or
-- had nothing to do); when the value differed, an array holding the current
-- value (empty when there is none), so that update() can try again without
-- another read.
local CAS_SCRIPT = [[
local cur = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if cur ~= ARGV[2] then return cur and {cur} or {} end
elseif cur then
  return {cur}
end
if ARGV[3] == '1' then
  if ARGV[5] ~= '0' then
    redis.call('SET', KEYS[1], ARGV[4], 'EX', ARGV[5])
  else
    redis.call('SET', KEYS[1], ARGV[4])
  end
elseif cur then
  redis.call('DEL', KEYS[1])
end
return 1
]]
-- SHA1 of CAS_SCRIPT (spec/integration/store_redis_spec.lua checks it against SCRIPT LOAD).
local CAS_SHA = "7b6b096f05c2d7d5dc54f082eae20e1b742ecc6c"
_M.CAS_SCRIPT, _M.CAS_SHA = CAS_SCRIPT, CAS_SHA

local S = {}
S.__index = S

local function argerr(n, fname, msg)
  error("bad argument #" .. n .. " to '" .. fname .. "' (" .. msg .. ")", 3)
end

-- Whether c is a redis-lua client (it raises, and its scan takes a table).
local function is_redis_lua(c)
  return type(c) == "table" and type(rawget(c, "network")) == "table"
end

-- Closes a client we give up on; errors do not matter any more.
local function close(c)
  if is_redis_lua(c) then
    local sock = c.network.socket
    if sock then pcall(sock.close, sock) end
  elseif type(c.close) == "function" then
    pcall(c.close, c)
  end
end

-- A client for one call: the kept one, or a new one from connect().
local function acquire(self)
  local c = self.client
  if c then return c end
  local connect = self.connect
  if not connect then return nil, "redis: no client" end
  local ok, nc, err = pcall(connect)
  if not ok or not nc then
    return nil, "redis: connect failed: " .. gsub(tostring(ok and err or nc), "^.-redis%.lua:%d+: ", "")
  end
  if not self.release then self.client = nc end
  return nc
end

-- After a call: a per-call client goes back to release(); a client that
-- failed on its connection is closed and dropped when we can get another.
local function finish(self, c, broken)
  if broken then
    if self.connect then
      close(c)
      self.client = nil
    end
  elseif self.release then
    pcall(self.release, c)
  end
end

-- Calls c:method(...); redis-lua's scan takes its options as a table.
local function call(f, c, method, ...)
  if method == "scan" and is_redis_lua(c) then
    local cursor, _, match, _, count = ...
    return f(c, cursor, { match = match, count = count })
  end
  return f(c, ...)
end

-- One command on client c. Returns res (nil for a nil reply), or nil, err,
-- is_reply_error (true: Redis answered with an error, the connection is fine).
local function run(c, method, ...)
  local f = c[method]
  if type(f) ~= "function" then return nil, "redis: the client has no method '" .. method .. "'", true end
  local ok, res, err = pcall(call, f, c, method, ...)
  if not ok then
    -- redis-lua raises; "redis error: " marks an error reply from the server
    local msg = gsub(tostring(res), "^.-redis%.lua:%d+: ", "")
    local at = find(msg, "redis error: ", 1, true)
    if at then return nil, "redis: " .. sub(msg, at + 13), true end
    return nil, "redis: " .. msg, false
  end
  if res == nil then
    if err == nil then return nil end            -- redis-lua: nil reply
    return nil, "redis: " .. tostring(err), false -- resty: connection failed
  end
  if res == false and err ~= nil then return nil, "redis: " .. tostring(err), true end
  if null ~= nil and res == null then return nil end
  return res
end

-- Whether the socket of an idle connection reads EOF (or stray bytes) at
-- once: the server closed it (a restart) or the protocol is out of step.
-- One non-blocking recv(); the socket's timeouts are put back as they were.
local function closed_while_idle(sock)
  local block, total = sock:gettimeout()
  sock:settimeout(0)
  local data, err, partial = sock:receive(1)
  sock:settimeout(block)
  if total and total >= 0 then sock:settimeout(total, "t") end
  return data ~= nil or err ~= "timeout" or (partial ~= nil and partial ~= "")
end

-- Drops the kept client when it is a redis-lua (LuaSocket) connection the
-- server has closed, so that the next write goes out on a new one instead of
-- failing after it was sent (writes are not retried). lua-resty-redis needs
-- no such check: its pool already drops connections the server closed.
local function drop_if_closed(self)
  local c = self.client
  if not is_redis_lua(c) then return end
  local sock = c.network.socket
  if type(sock) ~= "userdata" or not sock.gettimeout then return end
  local ok, closed = pcall(closed_while_idle, sock)
  if not ok or closed then
    close(c)
    self.client = nil
  end
end

-- Runs method on a client, with one retry on a fresh connection when retry.
-- Without retry (a write), a kept redis-lua connection is first checked for
-- a close by the server while it sat idle.
local function command(self, retry, method, ...)
  if not retry and self.client and self.connect then drop_if_closed(self) end
  local c, err = acquire(self)
  if not c then return nil, err end
  local res, rerr, reply_err = run(c, method, ...)
  finish(self, c, rerr ~= nil and not reply_err)
  if rerr ~= nil and not reply_err and retry and self.connect then
    c, err = acquire(self)
    if not c then return nil, err end
    res, rerr, reply_err = run(c, method, ...)
    finish(self, c, rerr ~= nil and not reply_err)
  end
  return res, rerr, reply_err
end

-- Glob characters of SCAN MATCH, escaped in the prefix.
local function glob_escape(s)
  return (gsub(s, "[%*%?%[%]\\]", "\\%0"))
end

-- syntax: s, err = store_redis.new(client [, opts])
-- client: a connected redis-lua or lua-resty-redis client, or nil when
-- opts.connect is given. opts:
--   prefix     key prefix (string without braces, default "bounce:")
--   connect    function() -> client (or nil, err; may raise): a new
--              connection, used when there is no client and after one failed
--   release    function(client): with connect, makes every call use its own
--              client and hand it back here afterwards (OpenResty:
--              red:set_keepalive(...)); the store keeps none
--   scan_count SCAN's COUNT hint (default 1000)
--   cluster    true: scan() reads values with GET per key (no MGET)
--   cache      how many keys' last bytes update() keeps as guesses
--              (default 20000; 0: none, every existing address then costs
--              update() two round trips)
-- With connect and no client or release, new() connects at once and
-- returns nil, err when that fails.
function _M.new(client, opts)
  if opts ~= nil and type(opts) ~= "table" then
    argerr(2, "redis", "table expected, got " .. type(opts))
  end
  opts = opts or {}
  local tc = type(client)
  if client ~= nil and tc ~= "table" and tc ~= "userdata" then
    argerr(1, "redis", "redis client expected, got " .. tc)
  end
  local connect, release = opts.connect, opts.release
  if connect ~= nil and type(connect) ~= "function" then
    argerr(2, "redis", "opts.connect: function expected, got " .. type(connect))
  end
  if release ~= nil and (type(release) ~= "function" or not connect) then
    argerr(2, "redis", "opts.release: function expected, with opts.connect")
  end
  if release ~= nil and client ~= nil then
    argerr(1, "redis", "nil expected with opts.release (clients come from opts.connect)")
  end
  if client == nil and not connect then
    argerr(1, "redis", "redis client expected (or opts.connect), got nil")
  end
  if client ~= nil and type(client.get) ~= "function" then
    argerr(1, "redis", "redis client expected (an object with get, evalsha, scan), got " .. tc)
  end
  local prefix = opts.prefix or "bounce:"
  if type(prefix) ~= "string" or find(prefix, "[{}]") then
    argerr(2, "redis", "opts.prefix: string without { or } expected")
  end
  local scan_count = opts.scan_count or 1000
  if type(scan_count) ~= "number" or scan_count < 1 then
    argerr(2, "redis", "opts.scan_count: number >= 1 expected")
  end
  local cache = opts.cache or 20000
  if type(cache) ~= "number" or cache < 0 or cache ~= cache then
    argerr(2, "redis", "opts.cache: number >= 0 expected")
  end
  local self = setmetatable({
    client = client, connect = connect, release = release,
    prefix = prefix, plen = #prefix, match = glob_escape(prefix) .. "{*",
    scan_count = format("%d", scan_count), cluster = opts.cluster and true or false,
    gen = floor(cache / 2), seen = {}, seen_old = {}, nseen = 0,
  }, S)
  if not self.client and not release then
    local _, err = acquire(self)
    if err then return nil, err end
  end
  return self
end

local function key_of(self, key) return self.prefix .. "{" .. key .. "}" end

-- The guess cache: key -> the bytes last read or written (false: no record).
-- Two generations of at most `gen` keys: when the newer fills up it becomes
-- the older and the oldest is dropped, so the keys in use stay and the size
-- stays bounded without per-key bookkeeping. A guess is never trusted: the
-- script compares it with what Redis holds.
local function guess(self, key)
  local v = self.seen[key]
  if v == nil then v = self.seen_old[key] end
  return v or nil
end

local function remember(self, key, v)
  local seen = self.seen
  if seen[key] == nil then
    local n = self.nseen
    if n >= self.gen then
      if self.gen == 0 then return end
      self.seen_old, seen, n = seen, {}, 0
      self.seen = seen
    end
    self.nseen = n + 1
  end
  seen[key] = v or false
end

-- SET's EX argument for a ttl in seconds ("0": no expiry); nil when ttl is
-- not a number. Whole seconds, at least 1 (EX 0 is an error; an ended
-- suppression goes at once).
local function ex_of(ttl)
  if ttl == nil then return "0" end
  if type(ttl) ~= "number" or ttl ~= ttl then return nil end
  return ttl < 1 and "1" or format("%d", ceil(ttl))
end

-- The compare-and-set script on Redis key k: 1 when it wrote, a table
-- { current bytes } ({} for none) when old was not the value, nil, err when
-- Redis failed.
local function cas_script(self, k, old, new, ex)
  local o, n = old and "1" or "0", new and "1" or "0"
  local res, err, reply_err = command(self, false, "evalsha", CAS_SHA, 1, k, o, old or "", n, new or "", ex)
  if err and reply_err and find(err, "NOSCRIPT", 1, true) then
    res, err = command(self, false, "eval", CAS_SCRIPT, 1, k, o, old or "", n, new or "", ex)
  end
  if err then return nil, err end
  if res ~= 1 and type(res) ~= "table" then
    return nil, "redis: unexpected reply to the compare-and-set script: " .. tostring(res)
  end
  return res
end

-- A key that holds another type than a string (a hash, a list...: written
-- by something else under the prefix) is no record: Redis answers
-- WRONGTYPE, reported as a corrupt record naming the key, which the
-- tracker sets aside (s:set_aside) rather than fail on it for ever.
local function wrong_type(self, key, k, err)
  if not (err and find(tostring(err), "WRONGTYPE", 1, true)) then return err end
  local t = command(self, true, "type", k)
  if type(t) == "table" then t = t.ok or t[1] end
  return "corrupt record for " .. key .. ": the Redis key " .. k .. " holds a " .. tostring(t)
    .. ", not a string"
end

-- syntax: ok, err = s:set_aside(key, aside)
-- Moves what key holds, of any type, to the key aside as the bytes of
-- Redis DUMP (RESTORE brings it back) and deletes key. true, or nil, err.
function S:set_aside(key, aside)
  if type(key) ~= "string" then argerr(1, "set_aside", "string expected, got " .. type(key)) end
  if type(aside) ~= "string" then argerr(2, "set_aside", "string expected, got " .. type(aside)) end
  local k = key_of(self, key)
  -- DUMP through EVAL: not every client has a method for it
  local d, err = command(self, true, "eval", "return redis.call('DUMP', KEYS[1])", 1, k)
  if err then return nil, err end
  if d == nil or d == null or d == false then return true end
  local _, serr = command(self, false, "set", key_of(self, aside), d)
  if serr then return nil, serr end
  _, err = command(self, false, "del", k)
  if err then return nil, err end
  remember(self, key, nil)
  return true
end

-- syntax: blob, err = s:get(key)
-- Always a read from Redis (the cache is never an answer).
function S:get(key)
  if type(key) ~= "string" then argerr(1, "get", "string expected, got " .. type(key)) end
  local k = key_of(self, key)
  local v, err = command(self, true, "get", k)
  if err then return nil, wrong_type(self, key, k, err) end
  remember(self, key, v)
  return v
end

-- syntax: blob_a, blob_b, err = s:get2(key_a, key_b)
-- Two records in one round trip (MGET), as get() reads each: t:check reads
-- an address's record and its domain's dead-domain mark so. On a Cluster
-- (opts.cluster) the keys may sit in two slots: two GETs.
function S:get2(a, b)
  if type(a) ~= "string" then argerr(1, "get2", "string expected, got " .. type(a)) end
  if type(b) ~= "string" then argerr(2, "get2", "string expected, got " .. type(b)) end
  if self.cluster then
    local va, err = self:get(a)
    if err then return nil, nil, err end
    local vb
    vb, err = self:get(b)
    if err then return nil, nil, err end
    return va, vb
  end
  local res, err = command(self, true, "mget", key_of(self, a), key_of(self, b))
  if err then return nil, nil, err end
  if type(res) ~= "table" then return nil, nil, "redis: unexpected reply to MGET" end
  local va, vb = res[1], res[2]
  if va == null or va == false then va = nil end
  if vb == null or vb == false then vb = nil end
  remember(self, a, va)
  remember(self, b, vb)
  return va, vb
end

-- syntax: ok, err = s:cas(key, old, new [, ttl])
-- true when written, false when the value was not `old`, nil, err when
-- Redis failed (the write may or may not have happened: read again).
function S:cas(key, old, new, ttl)
  if type(key) ~= "string" then argerr(1, "cas", "string expected, got " .. type(key)) end
  if old ~= nil and type(old) ~= "string" then argerr(2, "cas", "string or nil expected, got " .. type(old)) end
  if new ~= nil and type(new) ~= "string" then argerr(3, "cas", "string or nil expected, got " .. type(new)) end
  local ex = ex_of(ttl)
  if not ex then argerr(4, "cas", "number or nil expected, got " .. type(ttl)) end
  local k = key_of(self, key)
  local res, err = cas_script(self, k, old, new, ex)
  if not res then return nil, wrong_type(self, key, k, err) end
  if res == 1 then
    remember(self, key, new)
    return true
  end
  remember(self, key, res[1])
  return false
end

local MAX_TRIES = 16   -- compare-and-set attempts of one update()

-- syntax: ok, err = s:update(key, fn)
-- Read-modify-write of one record, in one round trip when the cache guesses
-- the record right. fn(old) -> write, new, ttl: old is the record's bytes
-- (nil: none); write false leaves the record as it is, true sets it to new
-- (nil: delete) with ttl (seconds or nil, as in cas). fn may run more than
-- once (with the current bytes, after a wrong guess or a concurrent write);
-- only its last run counts, and it is always a run on bytes Redis held:
-- a write is made by the compare-and-set script, and a "no write" on a
-- guess is confirmed with a GET. Returns true, or nil, err when Redis failed
-- (a write may or may not have happened) or after 16 conflicting writes.
function S:update(key, fn)
  if type(key) ~= "string" then argerr(1, "update", "string expected, got " .. type(key)) end
  if type(fn) ~= "function" then argerr(2, "update", "function expected, got " .. type(fn)) end
  local k = key_of(self, key)
  local cur, known = guess(self, key), false
  for _ = 1, MAX_TRIES do
    local write, new, ttl = fn(cur)
    if not write then
      if known then return true end
      local v, err = command(self, true, "get", k)
      if err then return nil, wrong_type(self, key, k, err) end
      remember(self, key, v)
      if v == cur then return true end
      cur = v
    else
      local ex = ex_of(ttl)
      if not ex or (new ~= nil and type(new) ~= "string") then
        error("bounce.store.redis: update: fn returned " .. type(new) .. ", " .. type(ttl)
          .. " (string or nil, number or nil expected)", 2)
      end
      local res, err = cas_script(self, k, cur, new, ex)
      if not res then return nil, wrong_type(self, key, k, err) end
      if res == 1 then
        remember(self, key, new)
        return true
      end
      cur = res[1]
      remember(self, key, cur)
    end
    known = true
  end
  return nil, "too many conflicting writes for " .. key
end

-- One SCAN step: next cursor and the list of keys; raises on failure.
local function scan_step(self, cursor)
  local res, err = command(self, true, "scan", cursor, "MATCH", self.match, "COUNT", self.scan_count)
  if err then error("bounce.store.redis: scan failed: " .. err, 3) end
  if type(res) ~= "table" or type(res[2]) ~= "table" then
    error("bounce.store.redis: scan failed: unexpected reply to SCAN", 3)
  end
  return tostring(res[1]), res[2]
end

-- syntax: for key, blob in s:scan() do ... end
-- Every record under the prefix, in SCAN's order (batches of scan_count).
-- Raises when Redis fails part way (a silent end would look like the last
-- record). Keys deleted or expired during the walk are not returned.
function S:scan()
  local cursor, keys, vals, i, n, done = "0", nil, nil, 0, 0, false
  local plen = self.plen
  return function()
    while true do
      i = i + 1
      if i <= n then
        local v = vals[i]
        if v ~= nil and v ~= null and v ~= false then return sub(keys[i], plen + 2, -2), v end
      elseif done then
        return nil
      else
        cursor, keys = scan_step(self, cursor)
        done = cursor == "0"
        i, n = 0, #keys
        if n > 0 then
          local err
          if self.cluster then
            vals = {}
            for j = 1, n do
              vals[j], err = command(self, true, "get", keys[j])
              if err then break end
            end
          else
            vals, err = command(self, true, "mget", unpack(keys, 1, n))
          end
          if err then error("bounce.store.redis: scan failed: " .. err, 2) end
        end
      end
    end
  end
end

-- syntax: n = s:count()
-- The records under the prefix (a full SCAN: O(keys in the database), each
-- key counted once). Raises when Redis fails.
function S:count()
  local cursor, seen, n = "0", {}, 0
  repeat
    local keys
    cursor, keys = scan_step(self, cursor)
    for j = 1, #keys do
      local k = keys[j]
      if not seen[k] then seen[k], n = true, n + 1 end
    end
  until cursor == "0"
  return n
end

-- syntax: k = s:key(address)   -- the Redis key of an address's record
function S:key(key)
  if type(key) ~= "string" then argerr(1, "key", "string expected, got " .. type(key)) end
  return key_of(self, key)
end

-- syntax: s:close()   -- closes the kept client (a later call reconnects with opts.connect)
function S:close()
  local c = self.client
  self.client = nil
  if c then close(c) end
end

-- Health counts (the health interface of bounce.store): one hash per
-- scope, PREFIX .. "health:{" .. scope .. "}" (outside scan()'s PREFIX{*;
-- the braces a Cluster hash tag), with a field "BUCKET:KIND" (KIND 1..7:
-- sent, delivered, hard, soft, block, complaint, delayed) per count.
-- KEYS[1] the hash; ARGV[1] its expiry in seconds (a window and a bucket:
-- a scope nobody counts for that long has nothing left to read), ARGV[2]
-- the oldest bucket a window ending at the newest one written reads (older
-- fields are deleted), then pairs of field and count for HINCRBY.
local HEALTH_SCRIPT = [[
for i = 3, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
local oldest = tonumber(ARGV[2])
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  local b = tonumber(string.match(f, '^(%-?%d+):'))
  if b == nil or b < oldest then redis.call('HDEL', KEYS[1], f) end
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
]]
_M.HEALTH_SCRIPT = HEALTH_SCRIPT

local function health_key(self, scope) return self.prefix .. "health:{" .. scope .. "}" end

-- syntax: ok, err = s:health_add(counts, size)   -- see bounce.store
-- One script per scope (atomic per scope; a failure part way leaves the
-- scopes before it added).
function S:health_add(counts, size)
  if type(counts) ~= "table" then argerr(1, "health_add", "table expected, got " .. type(counts)) end
  if type(size) ~= "number" or size < 1 or floor(size) ~= size then
    argerr(2, "health_add", "bucket size in seconds expected, got " .. tostring(size))
  end
  for scope, rows in pairs(counts) do
    local args, newest = {}, nil
    for b, c in pairs(rows) do
      if not newest or b > newest then newest = b end
      for i = 1, 7 do
        local n = c[i]
        if n and n > 0 then
          args[#args + 1] = format("%d:%d", b, i)
          args[#args + 1] = format("%d", n)
        end
      end
    end
    if newest and #args > 0 then
      local _, err = command(self, false, "eval", HEALTH_SCRIPT, 1, health_key(self, scope),
                             format("%d", 25 * size), format("%d", newest - 24), unpack(args))
      if err then return nil, err end
    end
  end
  return true
end

-- syntax: rows, err = s:health_read(scope, first, last)   -- see bounce.store
function S:health_read(scope, first, last)
  if type(scope) ~= "string" then argerr(1, "health_read", "string expected, got " .. type(scope)) end
  local res, err = command(self, true, "hgetall", health_key(self, scope))
  if err then return nil, err end
  local rows = {}
  local function put(f, v)
    local b, i = smatch(tostring(f), "^(%-?%d+):(%d)$")
    b, i = tonumber(b), tonumber(i)
    if b and b >= first and b <= last and i >= 1 and i <= 7 then
      local c = rows[b]
      if not c then
        c = { 0, 0, 0, 0, 0, 0, 0 }
        rows[b] = c
      end
      c[i] = c[i] + (tonumber(v) or 0)
    end
  end
  if type(res) == "table" then
    if res[1] ~= nil then   -- lua-resty-redis: field, value, field, value...
      for j = 1, #res - 1, 2 do put(res[j], res[j + 1]) end
    else                    -- redis-lua: { field = value }
      for f, v in pairs(res) do put(f, v) end
    end
  end
  return rows
end

_M.is_redis_lua = is_redis_lua

return _M
