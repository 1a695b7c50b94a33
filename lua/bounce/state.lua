-- bounce.state: where the command line keeps its history.
--
-- `bounce replay`, `check`, `suppressions` and `import` share one store: a
-- SQLite file, ./bounce.db unless --db names another (or BOUNCE_DB is
-- set); `--db :memory:` keeps nothing after the command ends. This module
-- opens it and builds the tracker the commands use.

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

-- syntax: store, err = state.open_store(path)
function _M.open_store(path)
  if path == ":memory:" then return bounce.store.memory() end
  local ok, s, err = pcall(bounce.store.sqlite, path)
  if not ok then return nil, tostring(s) end
  if not s then return nil, err end
  return s
end

-- syntax: t, err, store = state.tracker(opts)
-- opts: db (path or ":memory:"), policy (file). Health counters live in the
-- tracker, not the store: they do not outlast the command.
function _M.tracker(opts)
  local s, err = _M.open_store(_M.db_path(opts))
  if not s then return nil, err end
  local t
  t, err = bounce.tracker{ policy = opts.policy, store = s }
  if not t then
    if s.close then s:close() end
    return nil, err
  end
  return t, nil, s
end

-- syntax: b = state.batcher(store [, size])
-- Groups writes into transactions of `size` events (default 1000) on stores
-- that have them (store:begin() / store:commit()): a long replay or import
-- commits once per batch instead of once per event, and a crash loses at
-- most the batch in flight. Call b.step() before each event and b.finish()
-- at the end; both return true, or nil, err. On stores without
-- transactions both do nothing.
function _M.batcher(store, size)
  size = size or 1000
  local b = { n = 0 }
  if type(store.begin) ~= "function" or type(store.commit) ~= "function" then
    b.step = function() return true end
    b.finish = b.step
    return b
  end
  local open = false
  b.step = function()
    if open and b.n % size == 0 then
      open = false
      local ok, err = store:commit()
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
    if not open then return true end
    open = false
    return store:commit()
  end
  return b
end

return _M
