-- Health shared through the store: a tracker on a store with health_add
-- and health_read (bounce.store) buffers its counts, writes them when it
-- flushes, and reads the store's counts. The table store is the reference
-- implementation; SQLite, Redis and the shared dict pass the same contract
-- (spec/support/store_contract.lua) against their engines.
local bounce = require("bounce")
local store = require("bounce.store")

local T0 = 1795132800   -- 2026-11-21 00:00 UTC, a bucket boundary (buckets of 3600 s)
local B0 = math.floor(T0 / 3600)

-- The store's count of kind i (1 sent ... 7 delayed) for a scope, all buckets.
local function stored(s, scope, i)
  local n = 0
  for _, c in pairs(assert(s:health_read(scope, B0 - 100, B0 + 100))) do n = n + (c[i] or 0) end
  return n
end

local function tracker(s, clock, opts)
  opts = opts or {}
  opts.store, opts.clock = s, clock
  return assert(bounce.tracker(opts))
end

local function hard(t, i, at, sender)
  return assert(t:record{ rcpt = "u" .. i .. "@example.org", type = "hard", sender = sender or "news@example.com",
                          at = at or T0 })
end

describe("tracker health shared through the store", function()
  it("buffers the counts until t:flush writes them, then starts a new buffer", function()
    local s = store.table()
    local t = tracker(s, function() return T0 end)
    for i = 1, 5 do hard(t, i) end
    assert.equal(0, stored(s, "sender:news@example.com", 3))
    assert.is_true(t:flush())
    assert.equal(5, stored(s, "sender:news@example.com", 3))
    assert.equal(5, stored(s, "domain:example.org", 3))
    assert.is_true(t:flush())   -- nothing more to write: nothing counted twice
    assert.equal(5, stored(s, "sender:news@example.com", 3))
    hard(t, 6)
    assert.is_true(t:close())
    assert.equal(6, stored(s, "sender:news@example.com", 3))
  end)

  it("writes when a new bucket starts, every flush_events events, and after flush_interval", function()
    local s = store.table()
    local now = T0
    local t = tracker(s, function() return now end, { flush_events = 4 })
    hard(t, 1, T0)
    hard(t, 2, T0 + 3600)   -- the next bucket: the first one's count is written
    assert.same({ [B0] = { 0, 0, 1, 0, 0, 0, 0 } }, s:health_read("sender:news@example.com", B0, B0))
    for i = 3, 5 do hard(t, i, T0 + 3600) end   -- the fourth event in the buffer
    assert.equal(5, stored(s, "sender:news@example.com", 3))
    -- by time: after a second, at the next event the clock is asked for
    local u = tracker(store.table(), function() return now end)
    for i = 1, 15 do hard(u, i) end
    now = T0 + 2
    assert.equal(0, stored(u.store, "sender:news@example.com", 3))
    hard(u, 16)
    assert.equal(16, stored(u.store, "sender:news@example.com", 3))
  end)

  it("reads the counts another tracker wrote, kept health_cache seconds", function()
    local s = store.table()
    local now = T0
    local clock = function() return now end
    local writer, reader = tracker(s, clock), tracker(s, clock)
    assert.equal(0, reader:health("sender:news@example.com").hard)
    for i = 1, 3 do hard(writer, i) end
    assert.is_true(writer:flush())
    assert.equal(0, reader:health("sender:news@example.com").hard)   -- what it read a moment ago
    now = T0 + 1
    assert.equal(3, reader:health("sender:news@example.com").hard)
    -- its own events count at once
    hard(reader, 4)
    assert.equal(4, reader:health("sender:news@example.com").hard)
    -- and a window later nothing is left
    assert.equal(0, reader:health("sender:news@example.com", T0 + 86400).hard)
  end)

  it("keeps the buffer when the store fails, and writes it once when the store is back", function()
    local s = store.table()
    local down = true
    local add = s.health_add
    s.health_add = function(self, ...)
      if down then return nil, "disk full" end
      return add(self, ...)
    end
    local t = tracker(s, function() return T0 end, { flush_events = 2 })
    hard(t, 1)
    hard(t, 2)   -- the write it tries fails; the event itself is recorded
    assert.equal("suppressed", t:get("u2@example.org").state)
    local ok, err = t:flush()
    assert.is_nil(ok)
    assert.equal("store: disk full", err)
    down = false
    assert.is_true(t:flush())
    assert.equal(2, stored(s, "sender:news@example.com", 3))
  end)

  it("answers nil, a store error from t:health and t:check's scopes when the counts cannot be read", function()
    local s = store.table()
    s.health_read = function() return nil, "connection refused" end
    local t = tracker(s, function() return T0 end)
    local h, err = t:health("sender:news@example.com")
    assert.is_nil(h)
    assert.equal("store: connection refused", err)
    local ok, why = t:check("ann@example.org", { sender = "news@example.com" })
    assert.is_nil(ok)
    assert.equal("store: connection refused", why)
    assert.is_true((t:check("ann@example.org")))   -- the address alone needs no health
  end)

  it("keeps counting in memory on the memory store, and on any store with health = false", function()
    local t = tracker(nil, function() return T0 end)
    hard(t, 1)
    assert.is_true(t:flush())
    assert.equal(1, t:health("sender:news@example.com").hard)
    local s = store.table()
    local off = tracker(s, function() return T0 end, { health = false })
    hard(off, 1)
    assert.is_true(off:flush())
    assert.equal(0, stored(s, "sender:news@example.com", 3))
  end)

  it("refuses bad buffer options", function()
    for _, k in ipairs({ "flush_events", "flush_interval", "health_cache" }) do
      assert.has_error(function() bounce.tracker{ store = store.table(), [k] = -1 } end,
        "bad argument #1 to 'tracker' (field '" .. k .. "': number >= 0 expected, got -1)")
    end
  end)
end)
