-- bounce.store: the store interface the tracker talks to, and two stores.
--
-- A store keeps one opaque record (a byte string, bounce.core's 32-byte
-- record) per normalised address. The tracker never knows which store it
-- runs on; a store never looks inside a record. The interface:
--
--   blob, err  = store:get(key)
--       The record under key, or nil when there is none; nil, err when the
--       store failed (the tracker returns that error to its caller).
--   ok, err    = store:cas(key, old, new [, ttl])
--       Compare-and-set: if the value under key is `old` (nil: no value),
--       set it to `new` (nil: delete the key) and return true; if it is
--       something else return false (the tracker reads again and retries);
--       nil, err when the store failed. A record's bytes are its version:
--       the state machine is a pure function of them, so equal bytes mean
--       an equal state (no ABA problem). `ttl` (seconds, or nil) says when
--       the record may be dropped (a suppression's expiry): stores with
--       expiry (Redis, ngx.shared.DICT) may use it, others ignore it.
--   iter       = store:scan()
--       An iterator of key, blob over every record. Deleting the key just
--       returned (by cas) must be safe; other changes may repeat or skip.
--   iter       = store:scan_suppressed()  (optional) like scan, over at
--       least the suppressed records (t:suppressions reads this when present).
--   iter       = store:scan_expired(at)   (optional) like scan, over at least
--       the suppressions ended at `at` and the records known to fail their
--       check (t:expire reads this when present).
--   n          = store:count()          (optional) number of records.
--   a, b, err  = store:get2(key_a, key_b)   (optional) two gets in one call,
--       for stores where a read is a round trip (Redis): t:check reads an
--       address's record and its domain's dead-domain mark with it.
--   ok, err    = store:update(key, fn)  (optional)
--       Read-modify-write of one record for stores where a read costs a
--       round trip (Redis): the store calls write, new, ttl = fn(old) with
--       the current bytes, or with its best guess of them, and makes the
--       change with its compare-and-set; when the guess (or a concurrent
--       writer) made that fail, it calls fn again with the bytes it found.
--       write false leaves the record as it is; true sets it to new (nil:
--       delete) with ttl as in cas. Only fn's last run counts, and that run
--       always saw bytes the store held (a "no write" on a guess is checked
--       too). Returns true, or nil, err when the store failed or too many
--       writes conflicted. The tracker uses it when present, get + cas if not.
--   ...        = store:apply(key, params, event, reason, at, rand, permanent)
--       (optional, C stores only) get + transition + write in one call, for
--       stores that are atomic by construction; see bounce.core.mstore.
--   ok, err    = store:health_add(counts, size)   (optional, with health_read)
--       Health counts shared by trackers in several processes (bounce
--       intake records, bounce policyd reads). counts is
--       { [scope] = { [bucket] = { sent, delivered, hard, soft, block,
--       complaint, delayed } } }: scope "domain:NAME", "sender:NAME" or
--       "campaign:NAME"; bucket b holds the events of [b * size,
--       (b + 1) * size), size being 1/24 of the policy's health window. The
--       store adds them to what it holds (concurrent adds all count) and
--       may forget bucket b once 25 buckets have passed since (b + 1) *
--       size and since it was added to (a window ending at a later time
--       does not read it). Returns true, or nil, err
--       (SQLite then added nothing; Redis, which adds scope by scope, may
--       have added some scopes: the tracker keeps its buffer and adds it
--       all again at its next flush).
--   rows, err  = store:health_read(scope, first, last)   (optional)
--       The counts of scope's buckets first..last as above: { [bucket] =
--       { 7 counts } } (buckets without counts may be left out); nil, err
--       when the store failed. With both methods, a tracker writes its
--       health counts to the store and reads them from it (t:health, the
--       scopes of t:check); without them it counts in its own memory.
--
-- Later stores (SQLite, Redis, nginx shared dict) implement get/cas/scan,
-- and the health methods.

local core = require("bounce.core")

local type, error, next, pairs, ipairs, setmetatable = type, error, next, pairs, ipairs, setmetatable

local _M = { _VERSION = core._VERSION }

-- syntax: s = store.memory()
-- The default store: a C hash table in this Lua state (45-52 bytes per
-- address beyond the address itself). Also has :count(), :bytes() (bytes
-- allocated, bytes of keys), :close() and the :apply() fast path. Not
-- shared between nginx workers or processes.
function _M.memory()
  return core.mstore()
end

-- A store in a plain Lua table: the reference implementation of the
-- interface, for tests and as a model for new stores. Slower and larger than
-- store.memory().
local TableStore = {}
TableStore.__index = TableStore

function TableStore:get(key) return self.data[key] end

function TableStore:cas(key, old, new)
  if self.data[key] ~= old then return false end   -- nil ~= blob covers "absent"
  self.data[key] = new
  return true
end

function TableStore:scan()
  local data, k = self.data, nil
  return function()
    local v
    k, v = next(data, k)
    return k, v
  end
end

function TableStore:count()
  local n = 0
  for _ in pairs(self.data) do n = n + 1 end
  return n
end

-- The health interface, in plain tables: { [scope] = { [bucket] = counts } }.
function TableStore:health_add(counts)
  local h = self.health
  for scope, rows in pairs(counts) do
    local mine = h[scope]
    if not mine then
      mine = {}
      h[scope] = mine
    end
    for b, c in pairs(rows) do
      local m = mine[b]
      if not m then
        m = { 0, 0, 0, 0, 0, 0, 0 }
        mine[b] = m
      end
      for i = 1, 7 do m[i] = m[i] + (c[i] or 0) end
    end
  end
  return true
end

function TableStore:health_read(scope, first, last)
  local out = {}
  for b, c in pairs(self.health[scope] or {}) do
    if b >= first and b <= last then out[b] = { c[1], c[2], c[3], c[4], c[5], c[6], c[7] } end
  end
  return out
end

-- syntax: s = store.table([t])   -- t: an existing key -> blob table
function _M.table(t)
  if t ~= nil and type(t) ~= "table" then
    error("bad argument #1 to 'table' (table expected, got " .. type(t) .. ")", 2)
  end
  return setmetatable({ data = t or {}, health = {} }, TableStore)
end

-- The stores over other engines live in their own modules, loaded on first
-- use so that bounce.store needs nothing beyond bounce.core:
--   store.sqlite(path [, opts])        bounce.store.sqlite (C module bounce.sqlite)
--   store.redis(client [, opts])       bounce.store.redis (a connected client)
--   store.shdict(dict_or_name [, opts]) bounce.store.shdict (inside OpenResty)
-- Each returns a store, or nil, err.
for _, name in ipairs({ "sqlite", "redis", "shdict" }) do
  _M[name] = function(...)
    return require("bounce.store." .. name).new(...)
  end
end

-- syntax: ok, err = store.check(s)   -- whether s has the interface
function _M.check(s)
  local ts = type(s)
  if ts ~= "table" and ts ~= "userdata" then
    return nil, "store expected (a table or userdata with get, cas, scan), got " .. ts
  end
  for _, m in ipairs({ "get", "cas", "scan" }) do
    if type(s[m]) ~= "function" then
      return nil, "store has no method '" .. m .. "' (needs get, cas, scan)"
    end
  end
  return true
end

return _M
