-- bounce.store.shdict: the store over an nginx shared dict (ngx.shared.DICT),
-- shared by every worker of one nginx. Needs lua-nginx-module (OpenResty or
-- Debian's libnginx-mod-http-lua); outside nginx new() returns nil, err.
--
--   lua_shared_dict bounce 64m;            # nginx.conf, http {}
--   local s = assert(require("bounce.store.shdict").new("bounce"))
--   local t = bounce.tracker{ store = s, policy = "/etc/bounce/policy.lua" }
--
-- Why a lock: a shared dict has atomic single operations (get, set, add,
-- incr) but no compare-and-set, and workers are separate processes running at
-- the same time, so get-compare-set must be made atomic by hand. cas() takes
-- a per-key lock, an entry added with `safe_add` (which fails when it exists,
-- atomically under the dict's mutex) that expires by itself after
-- `lock_ttl` seconds, so a worker that dies inside the critical section
-- cannot wedge the key. The critical section is three dict operations and
-- never yields, so it lasts microseconds; get() needs no lock (one dict:get
-- is atomic). While another worker holds the lock, cas() waits: with
-- ngx.sleep in phases that may yield (content, access, rewrite, timers), by
-- spinning a bounded number of times elsewhere; when the wait runs out it
-- returns nil, "... lock busy".
--
-- Memory pressure: writes use `safe_set`/`safe_add`, which never push out
-- other live entries; when the zone is full they fail and cas() returns
-- nil, "shdict 'NAME': no memory ..." (the tracker returns it as a store
-- error: nothing is dropped silently). With opts.evict = true, writes use
-- `set`, which may evict least recently used records to make room; each such
-- write is counted (store:stats().evictions) and logged at WARN, since the
-- evicted addresses lose their history.
--
-- The ttl cas() receives (seconds until a suppression ends) becomes the
-- entry's expiry, so the dict drops what the policy lets go; a ttl <= 0 or
-- nil means no expiry (a record rewritten without ttl loses its old one).
--
-- Keys: records live under PREFIX .. "r:" .. address, locks under
-- PREFIX .. "l:" .. address (opts.prefix, default ""), so a dict may be
-- shared with other data and scan() sees only records. scan() and count()
-- use dict:get_keys(0), which locks the whole zone while it copies the key
-- list: fine for occasional exports, not for every request.

local type, error, tostring, setmetatable, rawget, pcall, pairs =
  type, error, tostring, setmetatable, rawget, pcall, pairs
local sub, format = string.sub, string.format

local ngx = rawget(_G, "ngx")

local _M = require("bounce.version").lazy({})

local S = {}
S.__index = S

-- Phases where ngx.sleep may be called.
local YIELDABLE = { rewrite = true, access = true, content = true, timer = true,
                    ssl_cert = true, ssl_session_fetch = true, ssl_client_hello = true }

local SPINS = 100000   -- tries of a busy lock where we cannot yield

-- syntax: s, err = shdict.new(dict_or_name [, opts])
-- dict_or_name: an ngx.shared.DICT or its name. opts: prefix (string, ""),
-- evict (boolean, false: see above), lock_ttl (seconds, 1), lock_wait
-- (seconds a cas() waits for a busy lock, 2), health_dict (a dict or its
-- name for the health counts, see s:health_add; default this dict). nil,
-- err outside nginx or when no such dict is declared.
function _M.new(dict, opts)
  local td = type(dict)
  if td ~= "string" and td ~= "table" and td ~= "userdata" then
    error("bad argument #1 to 'shdict' (dict or dict name expected, got " .. td .. ")", 2)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error("bad argument #2 to 'shdict' (table expected, got " .. type(opts) .. ")", 2)
  end
  opts = opts or {}
  local prefix = opts.prefix or ""
  if type(prefix) ~= "string" then
    error("bad argument #2 to 'shdict' (opts.prefix: string expected, got " .. type(prefix) .. ")", 2)
  end
  local lock_ttl, lock_wait = opts.lock_ttl or 1, opts.lock_wait or 2
  if type(lock_ttl) ~= "number" or lock_ttl <= 0 or type(lock_wait) ~= "number" or lock_wait < 0 then
    error("bad argument #2 to 'shdict' (opts.lock_ttl > 0 and opts.lock_wait >= 0 expected)", 2)
  end
  if not ngx or not ngx.shared then
    return nil, "bounce.store.shdict runs inside nginx with the Lua module (ngx.shared is missing)"
  end
  local name = td == "string" and dict or "?"
  if td == "string" then
    dict = ngx.shared[dict]
    if not dict then
      return nil, "no shared dict '" .. name .. "' (declare it: lua_shared_dict " .. name .. " 16m;)"
    end
  else
    local ok, f = pcall(function() return dict.safe_add end)
    if not ok or type(f) ~= "function" then
      error("bad argument #1 to 'shdict' (ngx.shared.DICT expected)", 2)
    end
  end
  local hdict, hprefix = dict, prefix .. "h:"
  if opts.health_dict ~= nil then
    local hd = opts.health_dict
    hdict = type(hd) == "string" and ngx.shared[hd] or hd
    if type(hdict) ~= "table" and type(hdict) ~= "userdata" then
      return nil, "no shared dict '" .. tostring(hd) .. "' for health (declare it: lua_shared_dict "
        .. tostring(hd) .. " 8m;)"
    end
    hprefix = ""
  end
  return setmetatable({
    hdict = hdict, hprefix = hprefix,
    dict = dict, name = name, rprefix = prefix .. "r:", lprefix = prefix .. "l:",
    evict = opts.evict == true, lock_ttl = lock_ttl, lock_wait = lock_wait,
    evictions = 0, writes = 0, lock_waits = 0,
  }, S)
end

function S:get(key)
  local v, err = self.dict:get(self.rprefix .. key)
  if v == nil and err then return nil, format("shdict '%s': %s", self.name, err) end
  return v
end

-- Takes the lock of one key; true, or nil, err.
local function lock(self, lkey)
  local dict = self.dict
  local ok, err = dict:safe_add(lkey, 1, self.lock_ttl)
  if ok then return true end
  if err ~= "exists" then return nil, err end
  self.lock_waits = self.lock_waits + 1
  local phase = ngx.get_phase()
  if YIELDABLE[phase] then
    local waited, delay = 0, 0.001
    while waited < self.lock_wait do
      ngx.sleep(delay)
      waited = waited + delay
      if delay < 0.008 then delay = delay * 2 end
      ok, err = dict:safe_add(lkey, 1, self.lock_ttl)
      if ok then return true end
      if err ~= "exists" then return nil, err end
    end
  else
    for _ = 1, SPINS do
      ok, err = dict:safe_add(lkey, 1, self.lock_ttl)
      if ok then return true end
      if err ~= "exists" then return nil, err end
    end
  end
  return nil, "lock busy"
end

local function failure(self, what, key, err)
  return format("shdict '%s': %s %s: %s%s", self.name, what, key, tostring(err),
    err == "no memory" and " (the zone is full: raise lua_shared_dict's size)" or "")
end

-- syntax: ok, err = s:cas(key, old, new [, ttl])   (see bounce.store)
function S:cas(key, old, new, ttl)
  local dict = self.dict
  local rkey, lkey = self.rprefix .. key, self.lprefix .. key
  local ok, err = lock(self, lkey)
  if not ok then return nil, failure(self, "cannot lock", key, err) end
  -- critical section: no yield until the lock is released
  local cur, gerr = dict:get(rkey)
  local res, forcible
  if cur == nil and gerr then
    res, err = nil, gerr
  elseif cur ~= old then
    res = false
  elseif new == nil then
    dict:delete(rkey)
    res = true
  else
    local exptime = (type(ttl) == "number" and ttl > 0) and ttl or 0
    if self.evict then
      res, err, forcible = dict:set(rkey, new, exptime)
    else
      res, err = dict:safe_set(rkey, new, exptime)
    end
    if not res then res = nil end   -- set/safe_set fail with false, err
  end
  dict:delete(lkey)
  if res == nil then return nil, failure(self, "cannot write", key, err) end
  if res then self.writes = self.writes + 1 end
  if forcible then
    self.evictions = self.evictions + 1
    ngx.log(ngx.WARN, "bounce: shdict '", self.name, "' is full: writing ", key,
      " evicted older records (their history is lost); raise lua_shared_dict's size")
  end
  return res
end

-- The record keys, without the prefix.
local function keys(self)
  local all = self.dict:get_keys(0)
  local rp, out, n = self.rprefix, {}, 0
  local len = #rp
  for i = 1, #all do
    local k = all[i]
    if sub(k, 1, len) == rp then
      n = n + 1
      out[n] = sub(k, len + 1)
    end
  end
  return out, n
end

-- syntax: for key, blob in s:scan() do ... end
-- The keys are taken at the start; records deleted or expired since are
-- skipped.
function S:scan()
  local list, n = keys(self)
  local i, dict, rp = 0, self.dict, self.rprefix
  return function()
    while i < n do
      i = i + 1
      local k = list[i]
      local v = dict:get(rp .. k)
      if v ~= nil then return k, v end
    end
    return nil
  end
end

-- syntax: n = s:count()
function S:count()
  local _, n = keys(self)
  return n
end

-- Health counts (the health interface of bounce.store): one counter per
-- kind, scope and bucket, "KIND|SCOPE|BUCKET" (KIND sent, delivered, hard,
-- soft, block, complaint, delayed), the keys bounce.serve's health_dict
-- holds: under PREFIX .. "h:" in the store's dict, or as they are in
-- opts.health_dict (serve's dict, so both read the same counters). incr is
-- atomic across workers; a counter expires a window and a bucket (25
-- buckets) after it was created, as serve's do.
local KINDS = { "sent", "delivered", "hard", "soft", "block", "complaint", "delayed" }

-- syntax: ok, err = s:health_add(counts, size)   -- see bounce.store
function S:health_add(counts, size)
  if type(counts) ~= "table" then
    error("bad argument #1 to 'health_add' (table expected, got " .. type(counts) .. ")", 2)
  end
  if type(size) ~= "number" or size < 1 then
    error("bad argument #2 to 'health_add' (bucket size in seconds expected, got " .. tostring(size) .. ")", 2)
  end
  local dict, hp, ttl = self.hdict, self.hprefix, 25 * size
  for scope, rows in pairs(counts) do
    for b, c in pairs(rows) do
      for i = 1, 7 do
        local n = c[i]
        if n and n > 0 then
          local _, err = dict:incr(hp .. KINDS[i] .. "|" .. scope .. "|" .. b, n, 0, ttl)
          if err then return nil, failure(self, "cannot count health of", scope, err) end
        end
      end
    end
  end
  return true
end

-- syntax: rows, err = s:health_read(scope, first, last)   -- see bounce.store
function S:health_read(scope, first, last)
  if type(scope) ~= "string" then
    error("bad argument #1 to 'health_read' (string expected, got " .. type(scope) .. ")", 2)
  end
  local dict, hp, rows = self.hdict, self.hprefix, {}
  for b = first, last do
    local c
    for i = 1, 7 do
      local n = dict:get(hp .. KINDS[i] .. "|" .. scope .. "|" .. b)
      if n then
        c = c or { 0, 0, 0, 0, 0, 0, 0 }
        c[i] = n
      end
    end
    rows[b] = c
  end
  return rows
end

-- syntax: st = s:stats()
-- { writes, evictions (writes that pushed out other records; only with
-- opts.evict), lock_waits (cas calls that found the key locked), free_bytes,
-- capacity } for this worker (free_bytes and capacity are the zone's).
function S:stats()
  local dict = self.dict
  return {
    writes = self.writes, evictions = self.evictions, lock_waits = self.lock_waits,
    free_bytes = dict.free_space and dict:free_space() or nil,
    capacity = dict.capacity and dict:capacity() or nil,
  }
end

return _M
