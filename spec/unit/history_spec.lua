-- The state machine and the record codec, through bounce.core: one call per
-- event, explicit times, plain numbers for the policy.
local core = require("bounce.core")

local T0 = 1795132800          -- 2026-11-20 00:00 UTC
local M, H, D = 60, 3600, 86400

-- Applies events in order; returns the blob and the last decision as a table.
local _

local function run(params, events, blob)
  local d
  for _, e in ipairs(events) do
    local action, state, reason, attempts, retry_at, expires_at, since, cause, new =
      core.step(blob, params, e[1], e[2], e[3], e[4], e[5])
    assert(action, state)
    d = { action = action, state = state, reason = reason, attempts = attempts,
          retry_at = retry_at, expires_at = expires_at, since = since, cause = cause,
          changed = new ~= false }
    if new == "" then blob = nil elseif new then blob = new end
  end
  return blob, d
end

describe("the history state machine", function()
  local p = core.params{
    max_attempts = 5, window = 72 * H,
    soft_backoff = { 10 * M, 30 * M, 2 * H, 8 * H, 24 * H },
    block_backoff = { 15 * M, H, 4 * H },
    retention_hard = -1, retention_soft = 30 * D, retention_complaint = -1,
    retention_unsubscribe = -1, retention_manual = -1,
  }

  it("schedules each soft bounce's retry by the backoff list", function()
    local blob, d = run(p, { { "soft", "mailboxfull", T0 } })
    assert.same({ "retry", "bouncing", 1, T0 + 10 * M }, { d.action, d.state, d.attempts, d.retry_at })
    blob, d = run(p, { { "soft", "mailboxfull", T0 + 11 * M } }, blob)
    assert.equal(T0 + 11 * M + 30 * M, d.retry_at)
    _, d = run(p, { { "soft", "mailboxfull", T0 + H } }, blob)
    assert.equal(T0 + H + 2 * H, d.retry_at)
    assert.equal(3, d.attempts)
    assert.equal("mailboxfull", d.reason)
  end)

  it("suppresses when the streak reaches max_attempts", function()
    local events = {}
    for i = 1, 5 do events[i] = { "soft", "mailboxfull", T0 + (i - 1) * H } end
    local _, d = run(p, events)
    assert.equal("suppress", d.action)
    assert.equal("soft_exhausted", d.cause)
    assert.equal(T0 + 4 * H, d.since)
    assert.equal(T0 + 4 * H + 30 * D, d.expires_at)
  end)

  it("suppresses when the streak has lasted the window, whatever the count", function()
    local _, d = run(p, { { "soft", nil, T0 }, { "soft", nil, T0 + 30 * H },
                          { "soft", nil, T0 + 60 * H }, { "soft", nil, T0 + 72 * H } })
    assert.equal("suppress", d.action)
    assert.equal(4, d.attempts)
  end)

  it("takes what a caller leaves out from the default policy (policies/default.lua)", function()
    local r = require("bounce.policy").default():resolve()
    local q, blob, d = core.params{}, nil, nil
    for i = 1, r.soft_max_attempts do
      blob, d = run(q, { { "soft", "mailboxfull", T0 + i * H } }, blob)
    end
    assert.same({ "suppress", "soft_exhausted", r.soft_max_attempts }, { d.action, d.cause, d.attempts })
    _, d = run(q, { { "block", "blocked", T0 } })
    assert.equal(T0 + require("bounce.policy").delay(r, "block", 1), d.retry_at)
  end)

  it("keeps a streak going across a gap: 73 hours apart is past the 72 h window", function()
    local _, d = run(p, { { "soft", nil, T0 }, { "soft", nil, T0 + 73 * H } })
    assert.same({ "suppress", "soft_exhausted", 2 }, { d.action, d.cause, d.attempts })
    _, d = run(p, { { "soft", nil, T0 }, { "soft", nil, T0 + 71 * H } })
    assert.same({ "retry", 2 }, { d.action, d.attempts })
  end)

  it("ends a streak after reset_after without a soft bounce (default 30 days)", function()
    local blob, d = run(p, { { "soft", nil, T0 }, { "soft", nil, T0 + 30 * D } })
    assert.same({ "retry", 1 }, { d.action, d.attempts })
    assert.equal(T0 + 30 * D, core.decode_record(blob).streak_start)
    local short = core.params{ max_attempts = 5, window = 0, reset_after = 2 * D }
    _, d = run(short, { { "soft", nil, T0 }, { "soft", nil, T0 + 2 * D - 1 } })
    assert.equal(2, d.attempts)
    _, d = run(short, { { "soft", nil, T0 }, { "soft", nil, T0 + 2 * D } })
    assert.equal(1, d.attempts)
  end)

  it("counts weekly soft bounces to max_attempts when the window does not end it", function()
    local weekly = core.params{ max_attempts = 5, window = 0 }
    local blob, d
    for w = 0, 3 do
      blob, d = run(weekly, { { "soft", "mailboxfull", T0 + w * 7 * D } }, blob)
      assert.same({ "retry", w + 1 }, { d.action, d.attempts })
    end
    _, d = run(weekly, { { "soft", "mailboxfull", T0 + 28 * D } }, blob)
    assert.same({ "suppress", "soft_exhausted", 5 }, { d.action, d.cause, d.attempts })
  end)

  it("steps a hard bounce said with a 4xx as a soft one, unless hard_transient is 1", function()
    local blob, d = run(p, { { "hard", "userunknown", T0, 0, false } })
    assert.same({ "retry", "bouncing", 1, "userunknown" }, { d.action, d.state, d.attempts, d.reason })
    assert.equal("soft", core.decode_record(blob).last_event)
    _, d = run(p, { { "hard", "userunknown", T0, 0, nil } })
    assert.same({ "suppress", "hard" }, { d.action, d.cause })
    local strict = core.params{ hard_transient = 1 }
    _, d = run(strict, { { "hard", "userunknown", T0, 0, false } })
    assert.same({ "suppress", "hard" }, { d.action, d.cause })
    assert.has_error(function() core.params{ hard_transient = 2 } end)
  end)

  it("ends the streak on delivery", function()
    local blob, d = run(p, { { "soft", nil, T0 }, { "soft", nil, T0 + H },
                             { "delivered", nil, T0 + 2 * H } })
    assert.same({ "send", "active", 0, "delivered" }, { d.action, d.state, d.attempts, d.reason })
    _, d = run(p, { { "soft", nil, T0 + 3 * H } }, blob)
    assert.equal(1, d.attempts)
    assert.equal(T0 + 3 * H + 10 * M, d.retry_at)
  end)

  it("counts a permanent (5xx) soft bounce against permanent_max_attempts", function()
    local q = core.params{ max_attempts = 5, permanent_max_attempts = 2 }
    local _, d = run(q, { { "soft", "mailboxfull", T0 }, { "soft", "mailboxfull", T0 + H, 0, true } })
    assert.equal("suppress", d.action)
  end)

  it("suppresses a hard bounce, a complaint and an unsubscribe at once, forever by default", function()
    for _, e in ipairs({ "hard", "complaint", "unsubscribe" }) do
      local _, d = run(p, { { e, nil, T0 } })
      assert.equal("suppress", d.action)
      assert.equal(e, d.cause)
      assert.is_nil(d.expires_at)
    end
  end)

  it("never suppresses on blocks: it holds, backing off, the last step repeating", function()
    local blob, d
    for i = 1, 10 do blob, d = run(p, { { "block", "blocked", T0 + i * D } }, blob) end
    assert.same({ "hold", "active" }, { d.action, d.state })
    assert.equal(T0 + 10 * D + 4 * H, d.retry_at)
  end)

  it("keeps a suppression against later soft bounces and deliveries", function()
    local blob = run(p, { { "hard", "userunknown", T0 } })
    local _, d = run(p, { { "soft", nil, T0 + D }, { "delivered", nil, T0 + 2 * D } }, blob)
    assert.same({ "suppress", "hard", "userunknown", false },
                { d.action, d.cause, d.reason, d.changed })
  end)

  it("lets a hard bounce turn a soft_exhausted suppression into a permanent one", function()
    local q = core.params{ max_attempts = 1 }
    local _, d = run(q, { { "soft", "mailboxfull", T0 }, { "hard", "userunknown", T0 + D } })
    assert.same({ "hard", T0 + D }, { d.cause, d.since })
    assert.is_nil(d.expires_at)
  end)

  it("ends a suppression at its expiry with a clean record", function()
    local q = core.params{ max_attempts = 1, retention_soft = 7 * D }
    local blob, d = run(q, { { "soft", nil, T0 } })
    assert.equal(T0 + 7 * D, d.expires_at)
    _, d = run(q, { { "check", nil, T0 + 7 * D - 1 } }, blob)
    assert.equal("suppress", d.action)
    local after
    after, d = run(q, { { "sent", nil, T0 + 7 * D } }, blob)
    assert.same({ "send", "active", 0 }, { d.action, d.state, d.attempts })
    assert.is_nil(after)   -- clean: the store may drop it
  end)

  it("releases an address to a clean record", function()
    local blob = run(p, { { "complaint", nil, T0 } })
    local after, d = run(p, { { "release", nil, T0 + 1 } }, blob)
    assert.equal("send", d.action)
    assert.is_nil(after)
  end)

  it("spreads delays by jitter with the caller's random number", function()
    local q = core.params{ soft_backoff = { 1000 }, soft_jitter = 0.1 }
    local _, lo = run(q, { { "soft", nil, T0, 0 } })
    local _, hi = run(q, { { "soft", nil, T0, 0.999999 } })
    assert.equal(T0 + 900, lo.retry_at)
    assert.equal(T0 + 1100, hi.retry_at)
  end)

  it("raises on arguments of the wrong kind", function()
    assert.has_error(function() core.step(nil, p, "bogus", nil, T0) end,
      "bad argument #3 to 'step' (unknown event 'bogus')")
    assert.has_error(function() core.step(nil, {}, "soft", nil, T0) end)
    assert.has_error(function() core.step(nil, p, "soft", nil, 0) end)
    assert.has_error(function() core.step(nil, p, "soft", "nosuchreason", T0) end)
    assert.has_error(function() core.params{ soft_backoff = {} } end,
      "bad argument #1 to 'params' (field 'soft_backoff': empty list)")
  end)
end)

describe("the record codec", function()
  local p = core.params{}
  local blob = run(p, { { "soft", "mailboxfull", T0 }, { "soft", "mailboxfull", T0 + H } })

  it("is 32 bytes, versioned, and decodes to a readable table", function()
    assert.equal(32, #blob)
    assert.equal(core.history_info().record_size, #blob)
    local r = core.decode_record(blob)
    assert.same({ state = "bouncing", reason = "mailboxfull", attempts = 2, blocks = 0,
                  bounces = 2, last_event = "soft", last_at = T0 + H, last_soft_at = T0 + H,
                  streak_start = T0, retry_at = T0 + H + 30 * 60 }, r)
    assert.equal(blob, core.encode_record(r))
  end)

  it("reports a truncated record", function()
    local r, err = core.decode_record(blob:sub(1, 20))
    assert.is_nil(r)
    assert.equal("record truncated or padded: 20 bytes, expected 32", err)
  end)

  it("reports a flipped byte as corruption, never as a clean record", function()
    for i = 3, 32 do
      local b = blob:sub(1, i - 1) .. string.char((blob:byte(i) + 1) % 256) .. blob:sub(i + 1)
      local r, err = core.decode_record(b)
      assert.is_nil(r)
      assert.matches("corrupt", err)
    end
  end)

  it("reports a foreign blob and a future version", function()
    assert.same({ nil, "not a bounce record (first byte 0x7b, expected 0xb5)" },
                { core.decode_record('{"state":"active"}') })
    local v2 = blob:sub(1, 1) .. "\2" .. blob:sub(3)
    assert.same({ nil, "record version 2 is not supported (this build reads version 1)" },
                { core.decode_record(v2) })
    assert.same({ nil, "empty record" }, { core.decode_record("") })
  end)

  it("makes step return nil, err for a corrupt record instead of resetting it", function()
    local a, err = core.step(blob:sub(1, 31) .. "\0", p, "soft", nil, T0)
    assert.is_nil(a)
    assert.equal("checksum mismatch (record corrupt)", err)
  end)
end)

describe("the memory store's table", function()
  it("compares and sets, deletes, counts and scans", function()
    local m = core.mstore()
    local a, b = string.rep("a", 32), string.rep("b", 32)
    assert.is_true(m:cas("x@example.com", nil, a))
    assert.is_false(m:cas("x@example.com", nil, b))      -- already there
    assert.is_false(m:cas("x@example.com", b, a))        -- not what the caller read
    assert.is_true(m:cas("x@example.com", a, b))
    assert.equal(b, m:get("x@example.com"))
    assert.is_true(m:cas("y@example.com", nil, a))
    assert.equal(2, m:count())
    local seen = {}
    for k, v in m:scan() do seen[k] = v end
    assert.same({ ["x@example.com"] = b, ["y@example.com"] = a }, seen)
    assert.is_true(m:cas("x@example.com", b, nil))
    assert.is_nil(m:get("x@example.com"))
    assert.equal(1, m:count())
    assert.same({ nil, "memory store holds values of 32 bytes, got 3" }, { m:cas("z@x", nil, "abc") })
  end)

  it("survives deleting every key during a scan", function()
    local m = core.mstore()
    for i = 1, 1000 do m:cas("u" .. i .. "@example.com", nil, string.rep("v", 32)) end
    local n = 0
    for k, v in m:scan() do
      assert.is_true(m:cas(k, v, nil))
      n = n + 1
    end
    assert.equal(1000, n)
    assert.equal(0, m:count())
  end)

  it("applies an event in one call", function()
    local m = core.mstore()
    local p = core.params{}
    local action, state, _, attempts, retry_at, _, _, _, changed =
      m:apply("x@example.com", p, "soft", "mailboxfull", T0)
    assert.same({ "retry", "bouncing", 1, T0 + 600, true }, { action, state, attempts, retry_at, changed })
    assert.equal("bouncing", core.decode_record(m:get("x@example.com")).state)
  end)
end)
