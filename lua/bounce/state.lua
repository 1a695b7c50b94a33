-- bounce.state: where the command line keeps its history.
--
-- `bounce replay`, `check`, `suppressions` and `import` share one store: a
-- SQLite file, ./bounce.db unless --db names another (or BOUNCE_DB is
-- set); `--db :memory:` keeps nothing after the command ends. This module
-- opens it and builds the tracker the commands use. A file that does not
-- exist is an error unless the command was asked to create it (--create,
-- which only replay and import take).

local bounce = require("bounce")

local getenv, tostring, type, pcall = os.getenv, tostring, type, pcall

local _M = { _VERSION = bounce._VERSION }

_M.DEFAULT_DB = "bounce.db"

-- syntax: path = state.db_path(opts)   -- opts.db, $BOUNCE_DB or ./bounce.db
function _M.db_path(opts)
  local p = opts and opts.db
  if p == nil or p == true then p = getenv("BOUNCE_DB") end
  if p == nil or p == "" then p = _M.DEFAULT_DB end
  return p
end

-- syntax: store, err = state.open_store(path [, create])
-- The history at path. A file that does not exist is an error, and nothing
-- is created, unless create is true: a pre-send check run from the wrong
-- folder, or a mistyped --db, must not answer from an empty history.
function _M.open_store(path, create)
  if path == ":memory:" then return bounce.store.memory() end
  local f = io.open(path, "rb")
  if f then
    f:close()
    -- an empty file would open as an empty history (every address allowed)
    -- and be written to: it is refused as policyd and serve refuse it
    local ok, err = require("bounce.store.url").sqlite_file(path)
    if not ok and not create then return nil, err end
  end
  local ok, s, err = pcall(bounce.store.sqlite, path, { create = create == true })
  if not ok then return nil, tostring(s) end
  if not s then return nil, err end
  return s
end

-- syntax: t, err, store = state.tracker(opts)
-- opts: db (path or ":memory:"), policy (file), create (true: start a new
-- history file when the path does not exist; otherwise that is an error
-- whose message says how to go on), command (named in that message).
-- Health counts go to the store (it shares them: SQLite, Redis); the
-- batcher below writes them with each batch.
function _M.tracker(opts)
  local path = _M.db_path(opts)
  local s, err = _M.open_store(path, opts.create)
  if not s then
    if type(err) == "string" and err == path .. ": no such file" then
      err = "no history at " .. path .. " (the file does not exist; "
        .. (opts.command and (opts.command == "check" or opts.command == "suppressions")
              and "give --db FILE or $BOUNCE_DB for the history to read"
              or "--create starts a new one, --db FILE names another") .. ")"
    end
    return nil, err
  end
  local t
  t, err = bounce.tracker{ policy = opts.policy, store = s }
  if not t then
    if s.close then s:close() end
    return nil, err
  end
  return t, nil, s
end

-- syntax: rcpt = state.normalize(addr)
-- The address as outputs name it (`rcpt`): normalised as the tracker keys
-- it (domain lower-cased, <> and white space removed), or as given when it
-- is not an address.
function _M.normalize(addr)
  local key = require("bounce.tracker").normalize(addr, false)
  return key or addr
end

-- syntax: b = state.batcher(store [, size [, t]])
-- Groups writes into transactions of `size` events (default 1000) on stores
-- that have them (store:begin() / store:commit()): a long replay or import
-- commits once per batch instead of once per event, and a crash loses at
-- most the batch in flight. Call b.step() before each event and b.finish()
-- at the end; both return true, or nil, err. On stores without
-- transactions both do nothing, except that finish() flushes the health
-- counts of tracker t (when given; with transactions, each commit does).
function _M.batcher(store, size, t)
  size = size or 1000
  local b = { n = 0 }
  local function flush()
    if not t then return true end
    local ok, err = t:flush()
    if not ok then return nil, (tostring(err):gsub("^store: ", "")) end   -- callers name the store
    return true
  end
  if type(store.begin) ~= "function" or type(store.commit) ~= "function" then
    b.step = function() return true end
    b.finish = flush
    return b
  end
  local open = false
  b.step = function()
    if open and b.n % size == 0 then
      open = false
      local ok, err = flush()
      if ok then ok, err = store:commit() end
      if not ok then return nil, err end
    end
    if not open then
      local ok, err = store:begin()
      if not ok then return nil, err end
      open = true
    end
    b.n = b.n + 1
    return true
  end
  b.finish = function()
    if not open then return flush() end
    open = false
    local ok, err = flush()
    if not ok then return nil, err end
    return store:commit()
  end
  return b
end

return _M
