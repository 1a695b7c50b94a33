-- bounce.store.sqlite: the history in a SQLite file, shared safely by
-- several processes (nginx workers, cron jobs, the command line) on one host.
--
--   local s = assert(bounce.store.sqlite("/var/lib/bounce/bounce.db"))
--   local t = bounce.tracker{ store = s }
--   s:batch(function() for _, ev in ipairs(events) do t:record(ev) end end)
--
-- The C module bounce.sqlite (src/lsqlite.c, src/sqlite_store.c) links the
-- system's libsqlite3; bounce.core does not. The file is in WAL mode (readers
-- never wait for the writer), every statement is prepared once, and a writer
-- waits up to opts.busy_timeout ms for another's lock. Each address is one
-- row of the table `records`: the record blob (the source of truth) and
-- columns decoded from it that a person can query:
--
--   sqlite3 bounce.db "select address, state, cause, reason, datetime(since, 'unixepoch')
--                      from records where state = 'suppressed'"
--
-- (A dead domain is the row whose address is "@" followed by the domain:
-- see Dead domains in bounce.tracker.)
--
-- Partial indexes hold the suppressed rows, the suppressions that end and
-- the rows that failed their check, so s:scan_suppressed() and
-- s:scan_expired(at) read those rows only (a few percent of the table),
-- and a write costs them something only when its row is in one of these
-- subsets, before or after.
--
-- One store per process: open it after a fork (in OpenResty, in
-- init_worker_by_lua*, never in init_by_lua*), and keep it for the
-- process's life. Inside nginx every call blocks its worker while SQLite
-- reads or writes (and while it waits for another writer's lock, up to
-- busy_timeout): give it a short busy_timeout there.
--
-- Durability: with synchronous = "normal" (the default) a committed event
-- survives the process being killed at any moment; a power loss or an OS
-- crash may lose the last commits (never the file). synchronous = "full"
-- adds an fsync per commit and survives those too, at a much lower rate of
-- single-event commits.

local sqlite = require("bounce.sqlite")

local type, error, pcall, tostring, select, pairs, floor =
  type, error, pcall, tostring, select, pairs, math.floor
local unpack = table.unpack or unpack
local io_open = io.open

local _M = { _VERSION = sqlite._VERSION, SCHEMA = sqlite.SCHEMA }

local SYNC = { off = 0, normal = 1, full = 2, extra = 3 }
local PAGE = 256   -- records read per query while scanning
local MAX_TIME = 2 ^ 53   -- times beyond are not whole numbers in a double
local HEALTH_KEEP = 25    -- a bucket b is read until (b + 25) * size (bounce.store)

local S = sqlite.methods   -- the C store's methods, extended below

-- syntax: s, err = store.sqlite.new(path [, opts])
-- Opens the file at path (created when missing, unless opts.create is
-- false: then a missing file is nil, "PATH: no such file" and nothing is
-- created), switches it to WAL and
-- brings its schema to the current version (older files are migrated in
-- one transaction). opts: busy_timeout (ms to wait for another process's
-- lock, default 5000), synchronous ("normal", the default; "full"; "off";
-- "extra"). Returns the store, or nil, err naming the path: a directory
-- that does not exist, a file that is not a database, a read-only file, a
-- schema newer than this build reads. Raises on a non-string path or a bad
-- option.
function _M.new(path, opts)
  if type(path) ~= "string" then
    error("bad argument #1 to 'sqlite' (string expected, got " .. type(path) .. ")", 2)
  end
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then
    error("bad argument #2 to 'sqlite' (table expected, got " .. type(opts) .. ")", 2)
  end
  local bt = opts.busy_timeout
  if bt == nil then
    bt = 5000
  elseif type(bt) ~= "number" or bt < 0 or bt > 2147483647 or floor(bt) ~= bt then
    error("bad argument #2 to 'sqlite' (field 'busy_timeout': milliseconds 0..2^31-1 expected, got "
      .. tostring(bt) .. ")", 2)
  end
  local sync = opts.synchronous
  if sync == nil then sync = "normal" end
  if SYNC[sync] == nil then
    error("bad argument #2 to 'sqlite' (field 'synchronous': 'normal', 'full', 'off' or 'extra' "
      .. "expected, got " .. tostring(sync) .. ")", 2)
  end
  local create = opts.create
  if create ~= nil and type(create) ~= "boolean" then
    error("bad argument #2 to 'sqlite' (field 'create': boolean expected, got " .. type(create) .. ")", 2)
  end
  if create == false and path ~= ":memory:" then
    local f = io_open(path, "rb")
    if not f then return nil, path .. ": no such file" end
    f:close()
  end
  return sqlite.open(path, bt, SYNC[sync])
end

-- The store's methods (besides those of the interface: get, cas, count):
--
-- syntax: ok, err = s:begin()   ok, err = s:commit()   ok, err = s:rollback()
-- A batch: the events between begin and commit are one transaction, written
-- at once (50,000+ events/s against some thousands committing each). begin
-- takes the file's write lock at once (BEGIN IMMEDIATE), waiting up to
-- busy_timeout, so two batching processes never deadlock; other processes'
-- writes wait until commit, their reads do not. Keep batches short (a few
-- thousand events). rollback outside a batch does nothing.
-- syntax: yes = s:in_batch()
-- syntax: s:close()   -- also on garbage collection, and by `local s <close>`
--
-- syntax: ok, ... = s:batch(fn, ...)
-- Runs fn(...) in a batch: commits when fn returns (ok is true, then fn's
-- results), rolls back and raises fn's error again when it raises; nil, err
-- when the batch could not begin or commit (nothing of it is written).
function S:batch(fn, ...)
  if type(fn) ~= "function" then
    error("bad argument #1 to 'batch' (function expected, got " .. type(fn) .. ")", 2)
  end
  local ok, err = self:begin()
  if not ok then return nil, err end
  local res = { n = 0 }
  local function keep(success, ...)
    res.n = select("#", ...)
    for i = 1, res.n do res[i] = (select(i, ...)) end
    return success
  end
  if not keep(pcall(fn, ...)) then
    self:rollback()
    error(res[1], 0)
  end
  ok, err = self:commit()
  if not ok then
    self:rollback()
    return nil, err
  end
  return true, unpack(res, 1, res.n)
end

-- An iterator of key, blob over the pages the fetchers return (keys,
-- values, or nil, err), PAGE rows each, one fetcher after the other: each
-- keeps its own cursor, and a page shorter than PAGE is its last. No read
-- stays open while the loop body runs, so it may write, and deleting the
-- key just returned is safe. A failing read raises (a scan never ends
-- early in silence).
local function pages(...)
  local fetchers, f = { ... }, 1
  local keys, vals, i, n = nil, nil, 0, 0
  return function()
    while i >= n do
      local fetch = fetchers[f]
      if not fetch then return nil end
      keys, vals = fetch()
      if not keys then error("store: " .. tostring(vals), 2) end
      i, n = 0, #keys
      if n < PAGE then f = f + 1 end
    end
    i = i + 1
    return keys[i], vals[i]
  end
end

-- A fetcher of the pages of one set of rows in key order (see page() in
-- src/lsqlite.c).
local function set_pages(self, set)
  local after
  return function()
    local keys, vals = self:page(after, PAGE, set)
    if keys then after = keys[#keys] end
    return keys, vals
  end
end

-- syntax: for key, blob in s:scan() do ... end
-- Every record in key order, read PAGE at a time.
function S:scan()
  return pages(set_pages(self, "all"))
end

-- syntax: for key, blob in s:scan_suppressed() do ... end
-- The suppressed records in key order, through the index of the suppressed
-- rows: what t:suppressions() needs, at a cost that follows the number of
-- suppressions, not of addresses. Otherwise like scan() (the caller still
-- checks each record it gets).
function S:scan_suppressed()
  return pages(set_pages(self, "suppressed"))
end

-- syntax: for key, blob in s:scan_expired(at) do ... end
-- What t:expire(at) needs, through indexes: the suppressions that ended at
-- or before `at` (unix seconds; the column `expires`), soonest first, then
-- the records that failed their check when an older file was migrated (so
-- that expire can report them). Otherwise like scan(). Raises on an `at`
-- that is not a whole number.
function S:scan_expired(at)
  if type(at) ~= "number" or floor(at) ~= at or at < -MAX_TIME or at > MAX_TIME then
    error("bad argument #1 to 'scan_expired' (unix seconds expected, got "
      .. (type(at) == "number" and tostring(at) or type(at)) .. ")", 2)
  end
  local last, after
  return pages(function()
    local keys, vals, e = self:page_expired(at, last, after, PAGE)
    if e then last, after = e, keys[#keys] end
    return keys, vals
  end, set_pages(self, "unchecked"))
end

-- syntax: ok, err = s:health_add(counts, size)
-- The health interface of bounce.store: adds counts ({ [scope] = { [bucket]
-- = { sent, delivered, hard, soft, block, complaint, delayed } } }) to the
-- table `health`, in one transaction (or in the open batch), and deletes
-- the rows that no tracker reads any more: those whose window ended before
-- the newest bucket written here began.
function S:health_add(counts, size)
  if type(counts) ~= "table" then
    error("bad argument #1 to 'health_add' (table expected, got " .. type(counts) .. ")", 2)
  end
  if type(size) ~= "number" or size < 1 or floor(size) ~= size then
    error("bad argument #2 to 'health_add' (bucket size in seconds expected, got " .. tostring(size) .. ")", 2)
  end
  local own = not self:in_batch()
  if own then
    local ok, err = self:begin()
    if not ok then return nil, err end
  end
  local newest
  for scope, rows in pairs(counts) do
    for b, c in pairs(rows) do
      local ok, err = self:health_row(scope, b, (b + HEALTH_KEEP) * size,
                                      c[1], c[2], c[3], c[4], c[5], c[6], c[7])
      if not ok then
        if own then self:rollback() end
        return nil, err
      end
      if not newest or b > newest then newest = b end
    end
  end
  if newest then
    local n, err = self:health_prune(newest * size)
    if not n then
      if own then self:rollback() end
      return nil, err
    end
  end
  if own then
    local ok, err = self:commit()
    if not ok then
      self:rollback()
      return nil, err
    end
  end
  return true
end

-- syntax: rows, err = s:health_read(scope, first, last)
-- The counts of scope's buckets first..last: { [bucket] = { 7 counts } }.
function S:health_read(scope, first, last)
  if type(scope) ~= "string" then
    error("bad argument #1 to 'health_read' (string expected, got " .. type(scope) .. ")", 2)
  end
  return self:health_rows(scope, first, last)
end

return _M
