-- bounce.tracker: blocks said with a 5xx, delay notices, and t:check's
-- sender and campaign scopes. Each rule is checked on the memory store's
-- one-call path, its Lua path (fast_path = false) and a plain table store.
local bounce = require("bounce")
local store = require("bounce.store")

local T0 = 1795132800          -- 2026-11-20 00:00 UTC
local M, H = 60, 3600

local BLOCKLIST_554 = "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org"
local BLOCKLIST_451 = "451 4.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org"

local KINDS = {
  { "the memory store's fast path", function(o) return o end },
  { "the Lua path", function(o) o.fast_path = false return o end },
  { "a table store", function(o) o.store = store.table({}) return o end },
}

local function tracker(policy, how)
  local o = how({ policy = policy, clock = function() return T0 end })
  return assert(bounce.tracker(o))
end

for _, kind in ipairs(KINDS) do
  local label, how = kind[1], kind[2]

  describe("t:record of a block, on " .. label, function()
    it("says permanent = true for a 5xx block: held, never suppressed", function()
      local t = tracker({ block = { backoff = { "1h" } } }, how)
      for _ = 1, 2 do   -- the second time with the domain's params cached
        local d = t:record{ rcpt = "ann@example.org", reply = BLOCKLIST_554, at = T0 }
        assert.same({ "block", "hold", "active", "blocked", true, T0 + H },
                    { d.event, d.action, d.state, d.reason, d.permanent, d.retry_at })
      end
      assert.equal("active", t:get("ann@example.org").state)
      local ok, why = t:check("ann@example.org", T0 + 1)
      assert.is_true(ok)
      assert.matches("sender held until", why)
    end)

    it("says permanent = false for a 4xx block, and for a block without a code", function()
      local t = tracker(nil, how)
      for _ = 1, 2 do
        assert.is_false(t:record{ rcpt = "bob@example.org", reply = BLOCKLIST_451, at = T0 }.permanent)
      end
      assert.is_false(t:record{ rcpt = "bob@example.org", type = "block", at = T0 }.permanent)
      assert.is_true(t:record{ rcpt = "bob@example.org", type = "block", permanent = true, at = T0 }.permanent)
      -- the classifier's answer as the event
      local c = bounce.classify(BLOCKLIST_554)
      assert.is_true(c.permanent)
      c.rcpt, c.at = "cy@example.org", T0
      assert.is_true(t:record(c).permanent)
    end)

    it("gives other events no permanent field, also in a reused table", function()
      local t = tracker(nil, how)
      local into = {}
      assert.is_true(t:record({ rcpt = "d@example.org", reply = BLOCKLIST_554, at = T0 }, into).permanent)
      local d = t:record({ rcpt = "d@example.org", reply = "452 4.2.2 Mailbox full", at = T0 }, into)
      assert.equal("soft", d.event)
      assert.is_nil(d.permanent)
      assert.is_nil(t:record{ rcpt = "e@example.org", type = "delivered", at = T0 }.permanent)
    end)
  end)

  describe("delay notices, on " .. label, function()
    it("change no count or state of the address", function()
      local t = tracker({ soft = { max_attempts = 2, backoff = { "10m" } } }, how)
      t:record{ rcpt = "slow@example.org", type = "soft", reason = "mailboxfull", at = T0 }
      local before = t:get("slow@example.org")
      for i = 1, 5 do   -- more notices than max_attempts: a soft bounce each would suppress
        local d = t:record{ rcpt = "slow@example.org", type = "delayed", reason = "networkerror", at = T0 + i * M }
        assert.same({ "delayed", "retry", "bouncing", 1, T0 + 10 * M },
                    { d.event, d.action, d.state, d.attempts, d.retry_at })
      end
      assert.same(before, t:get("slow@example.org"))
      assert.is_true((t:check("slow@example.org", T0 + H)))
    end)

    it("leave a suppression as it is and create no record", function()
      local t = tracker(nil, how)
      t:record{ rcpt = "gone@example.org", type = "hard", reason = "userunknown", at = T0 }
      local d = t:record{ rcpt = "gone@example.org", type = "delayed", at = T0 + M }
      assert.same({ "suppress", "suppressed" }, { d.action, d.state })
      d = t:record{ rcpt = "new@example.org", type = "delayed", at = T0 }
      assert.same({ "send", "active", 0 }, { d.action, d.state, d.attempts })
      assert.is_nil(t:get("new@example.org"))
      assert.equal(1, t:count())
    end)

    it("are counted by health as delayed, not as messages or bounces", function()
      local t = tracker(nil, how)
      t:record{ rcpt = "a@example.org", type = "sent", at = T0, campaign = "c1", sender = "news@me.example" }
      for i = 1, 3 do
        t:record{ rcpt = "a@example.org", type = "delayed", at = T0 + i, campaign = "c1",
                  sender = "news@me.example" }
      end
      t:record{ rcpt = "b@example.org", type = "delayed", at = T0 + 5, count = 2 }
      for _, scope in ipairs({ "campaign:c1", "sender:news@me.example" }) do
        local h = t:health(scope, T0 + 10)
        assert.same({ 1, 3, 0, 1 }, { h.sent, h.delayed, h.soft, h.messages }, scope)
      end
      local h = t:health("domain:example.org", T0 + 10)
      assert.same({ 1, 5, 1 }, { h.sent, h.delayed, h.messages })
      assert.equal(0, h.hard_rate)
    end)

    it("are checked like any event", function()
      local t = tracker(nil, how)
      local d, err = t:record{ rcpt = "not an address", type = "delayed", at = T0 }
      assert.is_nil(d)
      assert.matches("address", err)
      assert.has_error(function() t:record{ rcpt = "a@example.org", type = "delayed", reason = "nope" } end,
        "bad argument #1 to 'record' (field 'reason': unknown reason 'nope')")
    end)
  end)

  describe("t:check with scopes, on " .. label, function()
    -- 100 sends by a sender in two campaigns; c-bad draws 6 hard bounces
    -- (6%: stop under the default policy), c-meh 3 (3%: throttle)
    local function sending(t)
      for i = 1, 100 do
        t:record{ rcpt = "u" .. i .. "@example.org", type = "sent", at = T0, sender = "news@me.example",
                  campaign = i <= 50 and "c-bad" or "c-meh" }
      end
      for i = 1, 6 do
        t:record{ rcpt = "u" .. i .. "@example.org", type = "hard", reason = "userunknown", at = T0 + 1,
                  sender = "news@me.example", campaign = "c-bad" }
      end
      for i = 51, 52 do
        t:record{ rcpt = "u" .. i .. "@example.org", type = "hard", reason = "userunknown", at = T0 + 1,
                  campaign = "c-meh" }
      end
    end

    local function policy()
      -- min_sent 50: each campaign is judged on its own 50 sends
      return { health = { min_sent = 50 } }
    end

    it("answers false, naming the scope and its rate, when the scope is at stop", function()
      local t = tracker(policy(), how)
      sending(t)
      local ok, why, level = t:check("u99@example.org", { campaign = "c-bad", at = T0 + 2 })
      assert.is_false(ok)
      assert.equal("campaign c-bad at health stop: hard bounces 12.0%, complaints 0.00% of 50 messages", why)
      assert.equal("stop", level)
      ok, why = t:check("u99@example.org", { sender = "news@me.example", at = T0 + 2 })
      assert.is_false(ok)
      assert.matches("^sender news@me.example at health stop: hard bounces 6.0%%", why)
    end)

    it("answers true with level throttle as the third value, and says so", function()
      local t = tracker(policy(), how)
      sending(t)
      local ok, why, level = t:check("u99@example.org", { campaign = "c-meh", at = T0 + 2 })
      assert.is_true(ok)
      assert.equal("throttle", level)
      assert.equal("active: no history; campaign c-meh at health throttle: hard bounces 4.0%, "
        .. "complaints 0.00% of 50 messages", why)
    end)

    it("lets stop win over throttle, and the address's own suppression over both", function()
      local t = tracker(policy(), how)
      sending(t)
      local ok, _, level = t:check("u99@example.org", { campaign = "c-meh", sender = "news@me.example",
                                                        at = T0 + 2 })
      assert.is_false(ok)
      assert.equal("stop", level)
      local why
      ok, why, level = t:check("u1@example.org", { campaign = "c-bad", at = T0 + 2 })
      assert.is_false(ok)
      assert.matches("^suppressed since 2026%-11%-20: hard bounce", why)
      assert.is_nil(level)
    end)

    it("judges the scopes at the time asked: out of the window they are healthy", function()
      local t = tracker(policy(), how)
      sending(t)
      local ok, why, level = t:check("u99@example.org", { campaign = "c-bad", at = T0 + 25 * H })
      assert.is_true(ok)
      assert.equal("active: no history", why)
      assert.is_nil(level)
      -- a scope with no events at all, and too few sends to judge
      assert.same({ true, "active: no history" },
                  { t:check("u99@example.org", { campaign = "c-none", sender = "x@me.example", at = T0 }) })
    end)

    it("keeps the number form and the default time", function()
      local t = tracker(policy(), how)
      sending(t)
      assert.same({ true, "active: no history" }, { t:check("u99@example.org", T0 + 2) })
      assert.same({ false }, { (t:check("u1@example.org")) })
      -- clock() is T0: the health window ends in the hour of the bounces
      assert.same({ false, "stop" }, { select(1, t:check("u99@example.org", { campaign = "c-bad" })),
                                       select(3, t:check("u99@example.org", { campaign = "c-bad" })) })
    end)

    it("takes a number as a label, as t:record counts it", function()
      local t = tracker(policy(), how)
      for i = 1, 50 do t:record{ rcpt = "n" .. i .. "@example.org", type = "sent", at = T0, campaign = 7 } end
      for i = 1, 5 do t:record{ rcpt = "n" .. i .. "@example.org", type = "hard", at = T0, campaign = 7 } end
      local ok, why = t:check("n50@example.org", { campaign = 7, at = T0 })
      assert.is_false(ok)
      assert.matches("^campaign 7 at health stop", why)
    end)

    it("raises on wrong scopes and times", function()
      local t = tracker(policy(), how)
      assert.has_error(function() t:check("a@example.org", { sender = {} }) end,
        "bad argument #2 to 'check' (field 'sender': string expected, got table)")
      assert.has_error(function() t:check("a@example.org", { campaign = "" }) end,
        "bad argument #2 to 'check' (field 'campaign': string expected, got an empty string)")
      assert.has_error(function() t:check("a@example.org", { at = "now" }) end,
        "bad argument #2 to 'check' (field 'at': number expected, got string)")
      assert.has_error(function() t:check("a@example.org", { at = -1 }) end,
        "bad argument #2 to 'check' (field 'at': time out of range)")
      assert.has_error(function() t:check(42, { sender = "s@me.example" }) end,
        "bad argument #1 to 'check' (string expected, got number)")
      local ok, err = t:check("nobody", { sender = "s@me.example" })
      assert.is_nil(ok)
      assert.is_string(err)
    end)
  end)
end

describe("bounce check --sender / --campaign", function()
  local check = require("bounce.cmd.check")

  -- Runs the command over tracker t; returns its exit status and output.
  local function run(args, t)
    local path = os.tmpname()
    local saved = io.output()
    io.output(path)
    local ok, status = pcall(check.run, args, t)
    io.output():close()
    io.output(saved)
    assert(ok, status)
    local f = assert(io.open(path))
    local out = f:read("*a")
    f:close()
    os.remove(path)
    return status, out
  end

  local function sending()
    local t = assert(bounce.tracker{ policy = { health = { min_sent = 50 } }, clock = function() return T0 end })
    for i = 1, 100 do
      t:record{ rcpt = "u" .. i .. "@example.org", type = "sent", at = T0, sender = "news@me.example",
                campaign = i <= 50 and "c-bad" or "c-meh" }
    end
    for i = 1, 6 do t:record{ rcpt = "u" .. i .. "@example.org", type = "hard", at = T0, campaign = "c-bad" } end
    for i = 51, 52 do
      t:record{ rcpt = "u" .. i .. "@example.org", type = "hard", at = T0, campaign = "c-meh",
                sender = "news@me.example" }
    end
    return t
  end

  it("says stopped, exit 1, for a campaign at stop; throttle, exit 0, at throttle", function()
    local t = sending()
    local status, out = run({ "u99@example.org", "--campaign", "c-bad", "--at", tostring(T0) }, t)
    assert.equal(1, status)
    assert.matches("^u99@example.org%s+stopped%s+campaign c%-bad at health stop: hard bounces 12.0%%", out)
    status, out = run({ "u99@example.org", "--campaign=c-meh", "--at", tostring(T0), "--json" }, t)
    assert.equal(0, status)
    local cjson = require("cjson")
    local r = cjson.decode(out)
    assert.same({ true, "throttle" }, { r.allowed, r.level })
    assert.matches("campaign c-meh at health throttle", r.why, 1, true)
    status, out = run({ "u99@example.org", "--sender", "news@me.example", "--at", tostring(T0) }, t)
    assert.equal(0, status)   -- 2 of 100: throttle for the sender
    assert.matches("^u99@example.org%s+throttle%s+active: no history; sender news@me.example at health "
      .. "throttle: hard bounces 2.0%%", out)
    status, out = run({ "u1@example.org", "--campaign", "c-bad", "--at", tostring(T0) }, t)
    assert.equal(1, status)
    assert.matches("^u1@example.org%s+suppressed%s+suppressed since", out)
  end)
end)
