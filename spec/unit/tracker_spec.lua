-- bounce.tracker: what a sender asks after each delivery attempt, and
-- before each send. Every time is explicit; nothing reads the wall clock.
local bounce = require("bounce")
local store = require("bounce.store")

local T0 = 1795132800          -- 2026-11-20 00:00 UTC
local M, H, D = 60, 3600, 86400

local function tracker(policy, opts)
  opts = opts or {}
  opts.policy = policy
  opts.clock = opts.clock or function() return T0 end
  return assert(bounce.tracker(opts))
end

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

describe("bounce.tracker", function()
  describe("record", function()
    it("classifies a reply and schedules a retry by the policy's backoff", function()
      local t = tracker({ soft = { backoff = { "10m", "1h" } } })
      local d = t:record{ rcpt = "a@example.com", reply = "452 4.2.2 Mailbox full", at = T0 }
      assert.same({ "retry", "bouncing", "mailboxfull", 1, T0 + 10 * M },
                  { d.action, d.state, d.reason, d.attempts, d.retry_at })
      d = t:record{ rcpt = "a@example.com", reply = "452 4.2.2 Mailbox full", at = T0 + H }
      assert.equal(T0 + 2 * H, d.retry_at)
      d = t:record{ rcpt = "a@example.com", reply = "452 4.2.2 Mailbox full", at = T0 + 3 * H }
      assert.equal(T0 + 4 * H, d.retry_at)   -- the last step repeats
    end)

    it("accepts a classification result as the event", function()
      local t = tracker()
      local c = bounce.classify("550 5.1.1 <b@example.com>: Recipient address rejected: User unknown")
      c.rcpt, c.at = "b@example.com", T0
      local d = t:record(c)
      assert.same({ "suppress", "hard", "userunknown" }, { d.action, d.cause, d.reason })
      assert.is_nil(d.expires_at)   -- forever
    end)

    it("expands an exponential backoff", function()
      local t = tracker({ soft = { max_attempts = 10, backoff = { first = "5m", factor = 2, max = "30m" } } })
      local got = {}
      for i = 1, 5 do
        local at = T0 + i * H
        got[i] = t:record{ rcpt = "x@example.com", type = "soft", at = at }.retry_at - at
      end
      assert.same({ 300, 600, 1200, 1800, 1800 }, got)
    end)

    it("escalates to suppression after max_attempts soft bounces", function()
      local t = tracker({ soft = { max_attempts = 3 } })
      local d
      for i = 0, 2 do d = t:record{ rcpt = "c@example.com", type = "soft", reason = "mailboxfull", at = T0 + i * H } end
      assert.same({ "suppress", "soft_exhausted", 3, T0 + 2 * H + 30 * D },
                  { d.action, d.cause, d.attempts, d.expires_at })
    end)

    it("escalates to suppression when the streak outlasts the window", function()
      local t = tracker({ soft = { max_attempts = 100, window = "24h" } })
      t:record{ rcpt = "c@example.com", type = "soft", at = T0 }
      t:record{ rcpt = "c@example.com", type = "soft", at = T0 + 20 * H }
      local d = t:record{ rcpt = "c@example.com", type = "soft", at = T0 + 24 * H }
      assert.same({ "suppress", "soft_exhausted", 3 }, { d.action, d.cause, d.attempts })
    end)

    it("ends a streak on delivery", function()
      local t = tracker({ soft = { max_attempts = 2 } })
      t:record{ rcpt = "d@example.com", type = "soft", at = T0 }
      local d = t:record{ rcpt = "d@example.com", type = "delivered", at = T0 + H }
      assert.same({ "send", "active", 0 }, { d.action, d.state, d.attempts })
      d = t:record{ rcpt = "d@example.com", type = "soft", at = T0 + 2 * H }
      assert.same({ "retry", 1 }, { d.action, d.attempts })
    end)

    it("never suppresses for a block: it holds with the block backoff", function()
      local t = tracker({ block = { backoff = { "15m", "1h" } } })
      local d
      for i = 0, 20 do
        d = t:record{ rcpt = "e@example.com", at = T0 + i * D,
          reply = "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org" }
      end
      assert.same({ "hold", "active", "blocked", T0 + 20 * D + H },
                  { d.action, d.state, d.reason, d.retry_at })
      assert.is_true((t:check("e@example.com", T0 + 20 * D)))
    end)

    it("suppresses a complaint forever, and an unsubscribe", function()
      local t = tracker()
      local d = t:record{ rcpt = "f@example.com", type = "complaint", at = T0 }
      assert.same({ "suppress", "complaint", "feedback" }, { d.action, d.cause, d.reason })
      assert.is_nil(d.expires_at)
      assert.is_false((t:check("f@example.com", T0 + 3650 * D)))
      d = t:record{ rcpt = "g@example.com", type = "unsubscribe", at = T0 }
      assert.equal("unsubscribe", d.cause)
    end)

    it("lets overrides per reason and per domain win, most specific last", function()
      local t = tracker({
        soft = { max_attempts = 5 },
        reasons = { mailboxfull = { max_attempts = 2 } },
        domains = { ["example.org"] = { soft = { max_attempts = 4 } } },
      })
      local function bounces_to_suppress(rcpt, reason)
        for i = 1, 10 do
          local d = t:record{ rcpt = rcpt, type = "soft", reason = reason, at = T0 + i * M }
          if d.action == "suppress" then return i end
        end
      end
      assert.equal(5, bounces_to_suppress("a@example.com", "systemerror"))
      assert.equal(2, bounces_to_suppress("b@example.com", "mailboxfull"))
      assert.equal(4, bounces_to_suppress("c@example.org", "systemerror"))
      assert.equal(4, bounces_to_suppress("d@EXAMPLE.ORG", "mailboxfull"))
    end)

    it("treats a soft bounce said with a 5xx by permanent_max_attempts", function()
      local t = tracker({ soft = { max_attempts = 5, permanent_max_attempts = 1 } })
      local d = t:record{ rcpt = "a@example.com", reply = "552 5.2.2 Mailbox full", at = T0 }
      assert.same({ "suppress", "soft_exhausted" }, { d.action, d.cause })
    end)

    it("writes into a given table instead of a new one, clearing stale fields", function()
      local t = tracker()
      local into = {}
      local d = t:record({ rcpt = "a@example.com", type = "soft", at = T0 }, into)
      assert.equal(into, d)
      assert.equal(T0 + 600, d.retry_at)
      t:record({ rcpt = "a@example.com", type = "delivered", at = T0 + H }, into)
      assert.same({ rcpt = "a@example.com", event = "delivered", action = "send", state = "active",
                    reason = "delivered", attempts = 0, at = T0 + H }, into)
    end)

    it("counts a batch of sends for health with count", function()
      local t = tracker()
      t:record{ rcpt = "list@example.com", type = "sent", count = 250, at = T0, campaign = "c9" }
      assert.equal(250, t:health("campaign:c9", T0).sent)
      assert.is_nil(t:get("list@example.com"))   -- sending changes no record
      assert.same({ "campaign:c9", "domain:example.com" }, t:scopes())
    end)

    it("raises on caller mistakes", function()
      local t = tracker()
      assert.has_error(function() t:record(nil) end,
        "bad argument #1 to 'record' (table expected, got nil)")
      assert.has_error(function() t:record{ type = "soft" } end,
        "bad argument #1 to 'record' (field 'rcpt': string expected, got nil)")
      assert.has_error(function() t:record{ rcpt = "a@example.com", type = "bogus" } end,
        "bad argument #1 to 'record' (field 'type': unknown event type 'bogus')")
      assert.has_error(function() t:record{ rcpt = "a@example.com" } end,
        "bad argument #1 to 'record' (field 'type' or 'reply' expected)")
      assert.has_error(function() t:record{ rcpt = "a@example.com", type = "soft", at = "noon" } end,
        "bad argument #1 to 'record' (field 'at': number expected, got string)")
      assert.has_error(function() t:record{ rcpt = "a@example.com", type = "soft", reason = "bogus" } end,
        "bad argument #1 to 'record' (field 'reason': unknown reason 'bogus')")
      assert.has_error(function() t:check("a@example.com", "noon") end,
        "bad argument #2 to 'check' (number expected, got string)")
      assert.has_error(function() t:check(nil) end,
        "bad argument #1 to 'check' (string expected, got nil)")
    end)
  end)

  describe("addresses", function()
    it("are trimmed, unbracketed and compared case-insensitively", function()
      local t = tracker()
      t:record{ rcpt = " <Bob@Example.COM> ", type = "hard", at = T0 }
      assert.is_false((t:check("bob@example.com", T0)))
      assert.equal("bob@example.com", t:get("BOB@example.com").rcpt)
    end)

    it("keep the local part's case when the policy says so", function()
      local t = tracker({ addresses = { case_sensitive = true } })
      t:record{ rcpt = "Bob@Example.COM", type = "hard", at = T0 }
      assert.is_false((t:check("Bob@example.com", T0)))
      assert.is_true((t:check("bob@example.com", T0)))
    end)

    it("that are invalid give nil and a message", function()
      local t = tracker()
      for _, bad in ipairs({ "no-at-sign", "a@", "@example.com", "a@b@c", "a b@example.com",
                             "a@example..com", "a@.example.com", "" }) do
        local d, err = t:record{ rcpt = bad, type = "hard", at = T0 }
        assert.is_nil(d)
        assert.matches("^invalid address", err)
      end
      assert.same({ nil, "invalid address 'x': expected local@domain" }, { t:check("x") })
      assert.same({ nil, "invalid address '\"ann@example.com': unterminated quoted local part" },
                  { t:check('"ann@example.com') })
    end)

    it("at an IDN domain are one key in Unicode and in A-labels, on both paths", function()
      for _, fast in ipairs({ true, false }) do
        local t = tracker(nil, { fast_path = fast })
        local d = assert(t:record{ rcpt = "idn@Bücher.de", type = "hard", at = T0 })
        assert.equal("idn@xn--bcher-kva.de", d.rcpt)
        assert.is_false((t:check("idn@xn--bcher-kva.de", T0)))
        assert.equal("idn@xn--bcher-kva.de", t:get("IDN@BÜCHER.DE").rcpt)
        assert.equal("active", assert(t:release("idn@xn--bcher-kva.de", T0 + 1)).state)
        assert.is_true((t:check("idn@bücher.de", T0 + 2)))
        -- soft bounces in either form count in one streak
        t:record{ rcpt = "s@xn--bcher-kva.de", type = "soft", at = T0 }
        d = t:record{ rcpt = "s@bücher.de", type = "soft", at = T0 + H }
        assert.equal(2, d.attempts)
        -- a fullwidth full stop and Japanese labels
        d = assert(t:record{ rcpt = "a@例え。テスト", type = "hard", at = T0 })
        assert.equal("a@xn--r8jz45g.xn--zckzah", d.rcpt)
        assert.equal("xn--r8jz45g.xn--zckzah", select(2, require("bounce.tracker").normalize("a@例え.テスト")))
      end
      local key, domain = require("bounce.tracker").normalize("plain@example.org")
      assert.same({ "plain@example.org", "example.org" }, { key, domain })
      local d, err = tracker():record{ rcpt = "x@b\255.de", type = "hard", at = T0 }
      assert.is_nil(d)
      assert.matches("^invalid address .*invalid UTF%-8", err)
    end)

    it("with a quoted local part are kept, one key with the plain spelling", function()
      local t = tracker()
      local d = assert(t:record{ rcpt = '"Neko....Nyaan"@Example.org', reply = "550 5.1.1 user unknown", at = T0 })
      assert.equals("suppress", d.action)
      assert.is_false((t:check('"neko....nyaan"@example.org', T0)))
      assert.is_true((t:check("neko.nyaan@example.org", T0)))
      t:record{ rcpt = '"Ann"@example.org', type = "hard", at = T0 }
      assert.is_false((t:check("ann@example.org", T0)))
    end)
  end)

  describe("check", function()
    it("explains a suppression in words, with UTC dates", function()
      local t = tracker()
      t:record{ rcpt = "a@example.com", reply = "550 5.1.1 user unknown", at = T0 + 5 * H }
      assert.same({ false, "suppressed since 2026-11-20: hard bounce (userunknown)" },
                  { t:check("a@example.com", T0 + D) })
    end)

    it("allows a bouncing address and says when the retry is due", function()
      local t = tracker()
      t:record{ rcpt = "a@example.com", reply = "452 4.2.2 Mailbox full", at = T0 }
      assert.same({ true, "bouncing: 1 soft bounce since 2026-11-20 (mailboxfull), next retry 2026-11-20 00:10 UTC" },
                  { t:check("a@example.com", T0 + M) })
      assert.same({ true, "active: no history" }, { t:check("new@example.com", T0) })
    end)

    it("says when a soft_exhausted suppression ends, and lifts it then", function()
      local t = tracker({ soft = { max_attempts = 1 }, retention = { soft = "7d" } })
      t:record{ rcpt = "a@example.com", type = "soft", reason = "mailboxfull", at = T0 }
      assert.same({ false, "suppressed since 2026-11-20 until 2026-11-27: 1 soft bounce in a row (mailboxfull)" },
                  { t:check("a@example.com", T0 + D) })
      assert.is_true((t:check("a@example.com", T0 + 7 * D)))
      local d = t:record{ rcpt = "a@example.com", type = "sent", at = T0 + 7 * D }
      assert.same({ "send", "active" }, { d.action, d.state })
      assert.is_nil(t:get("a@example.com"))   -- the clean record was dropped
    end)
  end)

  describe("release and suppress", function()
    it("release lifts any suppression", function()
      local t = tracker()
      t:record{ rcpt = "a@example.com", type = "complaint", at = T0 }
      assert.equal("send", t:release("a@example.com", T0 + H).action)
      assert.is_true((t:check("a@example.com", T0 + H)))
    end)

    it("suppress adds a manual suppression for retention.manual", function()
      local t = tracker({ retention = { manual = "30d" } })
      local d = t:suppress("a@example.com", T0)
      assert.same({ "suppress", "manual", T0 + 30 * D }, { d.action, d.cause, d.expires_at })
      assert.same({ false, "suppressed since 2026-11-20 until 2026-12-20: suppressed by hand" },
                  { t:check("a@example.com", T0) })
    end)
  end)

  describe("the README's worked examples of the streak (default policy)", function()
    it("a weekly campaign: suppressed at the 2nd soft bounce, by the 72 h window", function()
      local t = tracker()
      local d = t:record{ rcpt = "full@example.org", reply = "452 4.2.2 Mailbox full", at = T0 }
      assert.same({ "retry", 1 }, { d.action, d.attempts })
      d = t:record{ rcpt = "full@example.org", reply = "452 4.2.2 Mailbox full", at = T0 + 7 * D }
      assert.same({ "suppress", 2, "soft_exhausted", T0 + 37 * D }, { d.action, d.attempts, d.cause, d.expires_at })
      -- a delivery in week 2 instead: week 3 starts a new streak
      t:record{ rcpt = "back@example.org", type = "soft", at = T0 }
      t:record{ rcpt = "back@example.org", type = "delivered", at = T0 + 7 * D }
      d = t:record{ rcpt = "back@example.org", type = "soft", at = T0 + 14 * D }
      assert.same({ "retry", 1 }, { d.action, d.attempts })
    end)

    it("a 72 h outage: by count at 10 h 40 when retrying at retry_at, by window at 72 h daily", function()
      local t = tracker()
      local at, tries = T0, {}
      local d
      repeat
        d = t:record{ rcpt = "a@down.example", reply = "451 4.3.0 Temporary server error", at = at }
        tries[#tries + 1] = (at - T0) / M
        if d.retry_at then at = d.retry_at end
      until d.action ~= "retry"
      assert.same({ 0, 10, 40, 160, 640 }, tries)
      assert.same({ "suppress", 5 }, { d.action, d.attempts })
      for day = 0, 3 do
        d = t:record{ rcpt = "b@down.example", reply = "451 4.3.0 Temporary server error", at = T0 + day * D }
        assert.equal(day < 3 and "retry" or "suppress", d.action, "day " .. day)
      end
      assert.equal(4, d.attempts)
    end)
  end)

  describe("dead domains", function()
    local NXDOMAIN = "554 5.4.4 Host or domain name not found. Name service error for name=lapsed.example "
      .. "type=MX: Host not found"

    it("a domain that publishes a null MX (RFC 7505: notaccept) is dead too; a 5.1.10 'recipient not found' is not", function()
      for _, fast in ipairs({ true, false }) do
        local t = tracker(nil, { fast_path = fast })
        local d = t:record{ rcpt = "ann@nomail.example", at = T0,
          reply = "556 5.1.10 <ann@nomail.example>: Recipient address rejected: Domain nomail.example "
            .. "does not accept mail (nullMX)" }
        assert.same({ "suppress", "hard", "notaccept" }, { d.action, d.cause, d.reason })
        assert.same({ false, "dead domain nomail.example since 2026-11-20 until 2026-12-20: the domain "
                      .. "accepts no mail (notaccept)" }, { t:check("bob@nomail.example", T0 + H) })
        local doms = {}
        for dom, r in t:dead_domains(T0 + H) do doms[#doms + 1] = dom .. " " .. r.reason end
        assert.same({ "nomail.example notaccept" }, doms)
        -- Microsoft's RESOLVER.ADR.RecipientNotFound is an unknown mailbox, not a domain
        d = t:record{ rcpt = "ann@tenant.example", at = T0,
          reply = "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup" }
        assert.same({ "suppress", "userunknown" }, { d.action, d.reason })
        assert.is_true((t:check("bob@tenant.example", T0 + H)))
      end
    end)

    it("a hostunknown hard bounce refuses every address of the domain, naming it", function()
      for _, fast in ipairs({ true, false }) do
        local t = tracker(nil, { fast_path = fast })
        local d = t:record{ rcpt = "ann@lapsed.example", reply = NXDOMAIN, at = T0 }
        assert.same({ "suppress", "hard", "hostunknown" }, { d.action, d.cause, d.reason })
        assert.same({ false, "dead domain lapsed.example since 2026-11-20 until 2026-12-20: no such domain "
                      .. "(hostunknown)" }, { t:check("Bob@LAPSED.example", T0 + H) })
        -- its own suppression comes first, and outlives the domain's mark
        assert.same({ false, "suppressed since 2026-11-20: hard bounce (hostunknown)" },
                    { t:check("ann@lapsed.example", T0 + 40 * D) })
        assert.is_true((t:check("bob@lapsed.example", T0 + 30 * D)))
        -- the sub-domain and the parent are other domains
        assert.is_true((t:check("bob@mx.lapsed.example", T0 + H)))
        assert.is_true((t:check("bob@example", T0 + H)))
      end
    end)

    it("is marked by the event fields too, and not by a 4xx the policy retries or suppresses", function()
      local t = tracker()
      t:record{ rcpt = "a@one.example", type = "hard", reason = "hostunknown", at = T0 }
      assert.is_false((t:check("b@one.example", T0 + 1)))
      t:record{ rcpt = "a@two.example", type = "hard", reason = "hostunknown", permanent = false, at = T0 }
      assert.is_true((t:check("b@two.example", T0 + 1)))
      t:record{ rcpt = "a@three.example", type = "hard", reason = "userunknown", at = T0 }
      assert.is_true((t:check("b@three.example", T0 + 1)))
      local strict = tracker("policies/strict.lua")
      local d = strict:record{ rcpt = "a@four.example", at = T0,
                               reply = "450 4.1.2 <a@four.example>: Recipient address rejected: Domain not found" }
      assert.equal("suppress", d.action)   -- hard.transient = "suppress": the address
      assert.is_true((strict:check("b@four.example", T0 + 1)))   -- not its domain
    end)

    it("lasts retention.domain, per domain as the policy says, and a new bounce extends it", function()
      local t = tracker({ retention = { domain = "7d" },
                          domains = { ["slow.example"] = { retention = { domain = "forever" } } } })
      t:record{ rcpt = "a@quick.example", type = "hard", reason = "hostunknown", at = T0 }
      t:record{ rcpt = "a@slow.example", type = "hard", reason = "hostunknown", at = T0 }
      assert.is_false((t:check("b@quick.example", T0 + 7 * D - 1)))
      assert.is_true((t:check("b@quick.example", T0 + 7 * D)))
      assert.same({ false, "dead domain slow.example since 2026-11-20: no such domain (hostunknown)" },
                  { t:check("b@slow.example", T0 + 3000 * D) })
      t:record{ rcpt = "c@quick.example", type = "hard", reason = "hostunknown", at = T0 + 5 * D }
      assert.is_false((t:check("b@quick.example", T0 + 11 * D)))
      assert.is_true((t:check("b@quick.example", T0 + 12 * D)))
      local list = {}
      for dom, r in t:dead_domains(T0 + 8 * D) do list[#list + 1] = dom .. " " .. tostring(r.expires_at) end
      table.sort(list)
      assert.same({ "quick.example " .. (T0 + 12 * D), "slow.example nil" }, list)
      assert.equal(0, (t:expire(T0 + 12 * D - 1)))
      assert.equal(1, (t:expire(T0 + 12 * D)))   -- the quick.example mark
    end)

    it("is lifted by a delivery or an auto-reply from any address there", function()
      for _, fast in ipairs({ true, false }) do
        local t = tracker(nil, { fast_path = fast })
        t:record{ rcpt = "a@back.example", type = "hard", reason = "hostunknown", at = T0 }
        t:record{ rcpt = "z@back.example", type = "sent", at = T0 + 1 }   -- a send proves nothing
        assert.is_false((t:check("b@back.example", T0 + 2)))
        t:record{ rcpt = "b@back.example", type = "delivered", at = T0 + H }
        assert.same({ true, "active: last delivered 2026-11-20" }, { t:check("b@back.example", T0 + 2 * H) })
        assert.is_true((t:check("c@back.example", T0 + 2 * H)))
        t:record{ rcpt = "a@back.example", type = "hard", reason = "hostunknown", at = T0 + 3 * H }
        t:record{ rcpt = "o@back.example", type = "auto_reply", at = T0 + 4 * H }
        assert.is_true((t:check("c@back.example", T0 + 5 * H)))
      end
    end)

    it("on a store with round trips, reads a domain's mark for deliveries once a minute", function()
      local s, reads = store.table(), 0
      local counted = { get = function(_, k) if k:sub(1, 1) == "@" then reads = reads + 1 end return s:get(k) end,
                        cas = function(_, ...) return s:cas(...) end, scan = function() return s:scan() end }
      local now = T0
      local clock = function() return now end
      local t = tracker(nil, { store = counted, clock = clock })
      for i = 1, 50 do t:record{ rcpt = "u" .. i .. "@live.example", type = "delivered", at = T0 } end
      assert.equal(1, reads)
      -- another process's mark: lifted by this tracker's deliveries a minute later
      local other = tracker(nil, { store = counted, clock = clock })
      other:record{ rcpt = "x@live.example", type = "hard", reason = "hostunknown", at = T0 }
      t:record{ rcpt = "u1@live.example", type = "delivered", at = T0 }
      assert.is_false((t:check("v@live.example", T0)))
      now = T0 + 59
      t:record{ rcpt = "u1@live.example", type = "delivered", at = T0 + 1 }
      assert.is_false((t:check("v@live.example", T0 + 1)))
      now = T0 + 60
      t:record{ rcpt = "u1@live.example", type = "delivered", at = T0 + 1 }
      assert.is_true((t:check("v@live.example", T0 + 1)))
      -- its own mark: the next delivery reads, and lifts it
      t:record{ rcpt = "x@live.example", type = "hard", reason = "hostunknown", at = T0 + 1 }
      assert.is_false((t:check("v@live.example", T0 + 1)))
      t:record{ rcpt = "u2@live.example", type = "delivered", at = T0 + 1 }
      assert.is_true((t:check("v@live.example", T0 + 1)))
    end)

    it("t:release(domain) lifts it; the address stays suppressed", function()
      local t = tracker()
      t:record{ rcpt = "a@lapsed.example", reply = NXDOMAIN, at = T0 }
      local d = t:release("lapsed.example", T0 + H)
      assert.same({ "lapsed.example", "release", "send", "active", T0 + H, true },
                  { d.domain, d.event, d.action, d.state, d.at, d.lifted })
      assert.is_true((t:check("b@lapsed.example", T0 + H)))
      assert.is_false((t:check("a@lapsed.example", T0 + H)))
      for _, form in ipairs({ "@lapsed.example", " LAPSED.example ", "<@lapsed.example>" }) do
        t:record{ rcpt = "a@lapsed.example", reply = NXDOMAIN, at = T0 }
        assert.is_true(t:release(form, T0 + H).lifted, form)
      end
      assert.is_false(t:release("lapsed.example", T0 + H).lifted)
      local r, err = t:release("not a domain", T0)
      assert.is_nil(r)
      assert.matches("invalid address 'not a domain'", err)
      assert.has_error(function() t:release(5) end, "bad argument #1 to 'release' (string expected, got number)")
      assert.has_error(function() t:dead_domains("x") end,
        "bad argument #1 to 'dead_domains' (number expected, got string)")
    end)

    it("answers nil, err when the store fails, and names a corrupt mark", function()
      local data = {}
      local s = store.table(data)
      local t = tracker(nil, { store = s })
      t:record{ rcpt = "a@lapsed.example", type = "hard", reason = "hostunknown", at = T0 }
      data["@lapsed.example"] = string.rep("\0", 32)
      local ok, err = t:check("b@lapsed.example", T0 + 1)
      assert.is_nil(ok)
      assert.matches("^corrupt record for @lapsed%.example: ", err)
      local failing = { get = function() return nil, "disk on fire" end, cas = function() return nil, "disk on fire" end,
                        scan = function() return function() return nil end end }
      t = tracker(nil, { store = failing })
      assert.same({ nil, "store: disk on fire" }, { t:check("b@lapsed.example", T0) })
      assert.same({ nil, "store: disk on fire" }, { t:release("lapsed.example", T0) })
    end)
  end)

  describe("suppressions and expire", function()
    it("lists the suppressed addresses and purges what retention lets go", function()
      local t = tracker({ soft = { max_attempts = 1 }, retention = { soft = "2d" } })
      t:record{ rcpt = "hard@example.com", type = "hard", at = T0 }
      t:record{ rcpt = "soft1@example.com", type = "soft", at = T0 }
      t:record{ rcpt = "soft2@example.com", type = "soft", at = T0 + D }
      t:record{ rcpt = "fine@example.com", type = "delivered", at = T0 }
      local list = {}
      for rcpt, r in t:suppressions() do list[#list + 1] = rcpt .. " " .. r.cause end
      table.sort(list)
      assert.same({ "hard@example.com hard", "soft1@example.com soft_exhausted",
                    "soft2@example.com soft_exhausted" }, list)
      assert.equal(0, (t:expire(T0 + 2 * D - 1)))
      assert.equal(1, (t:expire(T0 + 2 * D)))
      assert.equal(3, t:count())
      assert.equal(1, (t:expire(T0 + 3 * D)))
      list = {}
      for rcpt in t:suppressions() do list[#list + 1] = rcpt end
      assert.same({ "hard@example.com" }, list)
    end)
  end)

  describe("health", function()
    local policy = { health = { min_sent = 10, window = "24h",
                                hard = { caution = 0.05, throttle = 0.1, stop = 0.2 } } }

    it("is not judged below min_sent", function()
      local t = tracker(policy)
      for i = 1, 5 do t:record{ rcpt = i .. "@example.com", type = "hard", at = T0, campaign = "c1" } end
      local h = t:health("campaign:c1", T0)
      assert.same({ 5, "healthy", false }, { h.hard, h.level, h.judged })
    end)

    it("rises with the hard-bounce rate and forgets outside the window", function()
      local t = tracker(policy)
      for i = 1, 100 do
        t:record{ rcpt = i .. "@gmail.com", type = "sent", at = T0, campaign = "c1", sender = "news@x.com" }
      end
      for i = 1, 90 do t:record{ rcpt = i .. "@gmail.com", type = "delivered", at = T0 + M, campaign = "c1" } end
      for i = 91, 96 do t:record{ rcpt = i .. "@gmail.com", type = "hard", at = T0 + M, campaign = "c1" } end
      local h = t:health("domain:gmail.com", T0 + H)
      assert.same({ 100, 90, 6, 0.06, "caution", true },
                  { h.sent, h.delivered, h.hard, h.hard_rate, h.level, h.judged })
      for i = 97, 100 do t:record{ rcpt = i .. "@gmail.com", type = "hard", at = T0 + M, campaign = "c1" } end
      assert.equal("throttle", t:health("campaign:c1", T0 + H).level)
      assert.equal(100, t:health("sender:news@x.com", T0 + H).sent)
      assert.equal(0, t:health("domain:gmail.com", T0 + 2 * D).sent)
    end)

    it("judges complaints by their own thresholds", function()
      local t = tracker({ health = { min_sent = 10, complaint = { caution = 0.001, stop = 0.003 } } })
      for i = 1, 1000 do t:record{ rcpt = i .. "@example.com", type = "delivered", at = T0 } end
      for i = 1, 3 do t:record{ rcpt = i .. "@example.com", type = "complaint", at = T0 } end
      assert.equal("stop", t:health("domain:example.com", T0).level)
    end)

    it("forgets scopes idle for longer than the window on expire", function()
      local t = tracker()
      t:record{ rcpt = "a@example.com", type = "sent", at = T0, campaign = "old" }
      t:expire(T0 + H)
      assert.same({ "campaign:old", "domain:example.com" }, t:scopes())
      t:expire(T0 + 2 * D)
      assert.same({}, t:scopes())
    end)

    it("raises on an unknown scope", function()
      local t = tracker()
      assert.has_error(function() t:health("planet:mars") end)
    end)
  end)

  describe("policy files", function()
    it("are reloaded on change, and a broken edit keeps the previous policy", function()
      local path = os.tmpname()
      write(path, "return { soft = { backoff = { '10m' } } }")
      local t = tracker(path, { reload_interval = 0 })
      assert.equal(T0 + 600, t:record{ rcpt = "a@example.com", type = "soft", at = T0 }.retry_at)
      write(path, "return { soft = { backoff = { '20m' } } }")
      assert.is_true(t:reload())
      assert.equal(T0 + 1200, t:record{ rcpt = "b@example.com", type = "soft", at = T0 }.retry_at)
      write(path, "return { soft = { max_attempts = -3 } }")
      local ok, err = t:reload()
      assert.is_nil(ok)
      assert.equal(path .. ": soft.max_attempts: expected an integer 1..1000, got -3", err)
      assert.equal(err, t:policy_error())
      assert.equal(T0 + 1200, t:record{ rcpt = "c@example.com", type = "soft", at = T0 }.retry_at)
      write(path, "return { soft = { backoff = { '30m' } } }")
      assert.equal(T0 + 1800, t:record{ rcpt = "d@example.com", type = "soft", at = T0 }.retry_at)
      assert.is_nil(t:policy_error())
      os.remove(path)
    end)

    it("that do not load give nil and the message", function()
      local t, err = bounce.tracker{ policy = "/nonexistent/policy.lua" }
      assert.is_nil(t)
      assert.matches("^/nonexistent/policy.lua: cannot read", err)
    end)
  end)

  describe("on_event", function()
    it("may change the decision the caller gets, not the record", function()
      local t = tracker({ on_event = function(event, record, decision)
        if event.campaign == "vip" and decision.action == "retry" then
          decision.retry_at = record.last_at + 60
        end
        return decision
      end })
      local d = t:record{ rcpt = "a@example.com", type = "soft", at = T0, campaign = "vip" }
      assert.equal(T0 + 60, d.retry_at)
      assert.equal(T0 + 600, t:get("a@example.com").retry_at)
    end)

    it("that fails or returns nonsense is reported and the decision kept", function()
      local t = tracker({ on_event = function(event)
        if event.campaign == "boom" then error("hook exploded") end
        return { action = "explode" }
      end })
      local d = t:record{ rcpt = "a@example.com", type = "hard", at = T0, campaign = "boom" }
      assert.equal("suppress", d.action)
      assert.matches("on_event failed: .*hook exploded", d.hook_error)
      d = t:record{ rcpt = "b@example.com", type = "hard", at = T0 }
      assert.equal("suppress", d.action)
      assert.matches("invalid action 'explode'", d.hook_error)
    end)

    it("from a policy file is stopped when it runs away, and the decision kept", function()
      local path = os.tmpname()
      write(path, [[
return {
  on_event = function(event, record, decision)
    if event.campaign == "loop" then while true do end end
    decision.retry_at = 42
    return decision
  end,
}]])
      local t = tracker(path)
      local d = t:record{ rcpt = "a@example.com", type = "hard", at = T0, campaign = "loop" }
      assert.equal("suppress", d.action)
      assert.matches("on_event failed: .*on_event ran too long", d.hook_error)
      d = t:record{ rcpt = "b@example.com", type = "soft", at = T0, campaign = "plain" }
      assert.equal(42, d.retry_at)
      assert.is_nil(d.hook_error)
      os.remove(path)
    end)
  end)

  describe("stores", function()
    it("set a corrupt record aside and apply the event to a fresh one, on every path", function()
      local junk = string.rep("\181\1", 16)
      for _, mk in ipairs({ store.table, store.memory }) do
        local s = mk()
        assert(s:cas("a@example.com", nil, junk))
        local t = tracker(nil, { store = s })
        assert.same({ nil, "corrupt record for a@example.com: checksum mismatch (record corrupt)" },
                    { t:check("a@example.com", T0) })
        local d = assert(t:record{ rcpt = "a@example.com", type = "hard", at = T0 })
        assert.equal("suppress", d.action)
        assert.is_true(d.corrupt)
        assert.equal("corrupt record for a@example.com: checksum mismatch (record corrupt); its "
          .. "bytes are kept under @@corrupt:a@example.com and the event applied to a fresh record",
          d.why)
        assert.equal(junk, s:get("@@corrupt:a@example.com"))
        assert.is_false((t:check("a@example.com", T0 + 1)))
        -- the next event is an ordinary one
        d = assert(t:record{ rcpt = "a@example.com", type = "soft", at = T0 + 2 })
        assert.is_nil(d.corrupt)
        -- a decision table reused after a corrupt one loses the flag
        assert(s:cas("b@example.com", nil, ("n"):rep(32)))
        local into = {}
        assert.is_true(assert(t:record({ rcpt = "b@example.com", type = "soft", at = T0 }, into)).corrupt)
        assert.is_nil(assert(t:record({ rcpt = "b@example.com", type = "soft", at = T0 + 1 }, into)).corrupt)
        -- listed until released
        assert(s:cas("c@example.com", nil, junk))
        local rows = {}
        for k, why in t:corrupt() do rows[#rows + 1] = k .. " | " .. why end
        table.sort(rows)
        assert.same({
          "@@corrupt:a@example.com | corrupt record set aside from a@example.com: checksum mismatch "
            .. "(record corrupt) (t:release of the address deletes it)",
          "@@corrupt:b@example.com | corrupt record set aside from b@example.com: not a bounce record "
            .. "(first byte 0x6e, expected 0xb5) (t:release of the address deletes it)",
          "c@example.com | corrupt record for c@example.com: checksum mismatch (record corrupt)",
        }, rows)
        local n, problems = t:expire(T0)
        assert.equal(0, n)
        assert.equal(3, #problems)
        for _, k in ipairs({ "a@example.com", "b@example.com", "c@example.com" }) do
          d = assert(t:release(k, T0 + 5))
          assert.equal("active", d.state)
          assert.is_true(d.corrupt)
        end
        assert.is_nil(t:corrupt()())
        assert.is_nil(s:get("@@corrupt:a@example.com"))
        assert.is_true((t:check("c@example.com", T0 + 6)))
      end
    end)

    it("retry a compare-and-set that lost a race", function()
      local s = store.table()
      local cas, raced = s.cas, false
      s.cas = function(self, key, old, new, ttl)
        if not raced then   -- another writer gets the same event in first
          raced = true
          assert(cas(self, key, old, new, ttl))
          return false
        end
        return cas(self, key, old, new, ttl)
      end
      local t = tracker(nil, { store = s })
      local d = t:record{ rcpt = "a@example.com", type = "soft", at = T0 }
      assert.equal(2, d.attempts)   -- applied on top of the other write
    end)

    it("pass a store's failure on as nil, err", function()
      local t = tracker(nil, { store = {
        get = function() return nil, "connection refused" end,
        cas = function() return true end,
        scan = function() return function() end end,
      } })
      assert.same({ nil, "store: connection refused" },
                  { t:record{ rcpt = "a@example.com", type = "soft", at = T0 } })
    end)

    it("must have get, cas and scan", function()
      assert.has_error(function() bounce.tracker{ store = {} } end,
        "bad argument #1 to 'tracker' (field 'store': store has no method 'get' (needs get, cas, scan))")
    end)
  end)
end)

describe("bounce replay", function()
  local replay = require("bounce.cmd.replay")

  local function run(args)
    local path = os.tmpname()
    local saved = io.output()
    io.output(path)
    local ok, status = pcall(replay.run, args)
    io.output():close()
    io.output(saved)
    assert(ok, status)
    local f = assert(io.open(path))
    local out = f:read("*a")
    f:close()
    os.remove(path)
    return status, out
  end

  it("replays the demo events: retries, suppressions, holds and health levels", function()
    local status, out = run({ "data/events.jsonl", "--db", ":memory:", "--policy", "policies/default.lua" })
    assert.equal(0, status)
    assert.matches("alice@gmail.example%s+soft/onhold%s+retry at 2026%-11%-16 08:11", out)
    assert.matches("bob@outlook.example%s+soft/mailboxfull%s+suppress until 2026%-12%-16 %(5 soft bounces%)", out)
    assert.matches("erin@outlook.example%s+block/blocked%s+hold sender until", out)
    assert.not_matches("\n  erin@", out)   -- never on the suppression list
    assert.matches("\n  carol@yahoo.example%s+hard%s+userunknown", out)
    assert.matches("domain:gmail.example .- throttle\n", out)
    assert.matches("domain:yahoo.example .- stop\n", out)
    assert.matches("domain:outlook.example .- healthy\n", out)
  end)

  it("records delay notices as delayed events: counted in health, not as bounces", function()
    local path = os.tmpname()
    write(path, '{"rcpt":"ann@example.org","action":"delayed","delayed":true,"type":"soft",'
      .. '"reason":"networkerror","reply":"451 4.4.1 no answer","at":' .. T0 .. '}\n'
      .. '{"rcpt":"bob@example.org","type":"soft","reason":"mailboxfull","at":' .. T0 .. '}\n'
      .. '{"rcpt":"bob@example.org","delayed":true,"at":' .. (T0 + 30) .. '}\n'
      .. '{"rcpt":"ann@example.org","type":"delivered","at":' .. (T0 + 60) .. '}\n')
    local status, out = run({ path, "--db", ":memory:" })
    os.remove(path)
    assert.equal(0, status)
    assert.matches("ann@example.org%s+delayed/networkerror%s+no change: a delay notice", out)
    -- bob's streak is neither lengthened nor ended by the notice
    assert.matches("bob@example.org%s+delayed%s+no change: a delay notice, the MTA still retries; "
      .. "retry at 2026%-11%-20 00:10 %(attempt 1%)", out)
    assert.matches("Suppressed at .-%(0%)", out)
    -- messages, delivered, soft, hard, block, complaint, delayed
    assert.matches("domain:example.org%s+2%s+1%s+1%s+0%s+0%s+0%s+2%s", out)
  end)

  it("prints decisions as JSON lines with --json", function()
    local _, out = run({ "data/events.jsonl", "--db", ":memory:", "--json" })
    local first = out:match("^[^\n]+")
    assert.matches('"action":"send"', first)
    assert.not_matches("Suppressed at", out)
  end)
end)
