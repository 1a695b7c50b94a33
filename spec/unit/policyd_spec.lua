-- bounce.policyd in-process: the policy delegation protocol (requests read
-- from bytes however they arrive) and the answer to each request, from a
-- tracker over the memory store, or over a store that fails.
local bounce = require("bounce")
local policyd = require("bounce.policyd")

local T0 = 1795132800          -- 2026-11-20 00:00 UTC
local D = 86400

local function tracker(policy, store)
  return assert(bounce.tracker{ policy = policy, store = store, clock = function() return T0 end })
end

-- A request as Postfix sends it at RCPT TO (the attributes that matter
-- here, among the ones it always sends).
local function request(rcpt, over)
  local r = {
    request = "smtpd_access_policy", protocol_state = "RCPT", protocol_name = "ESMTP",
    client_address = "127.0.0.1", client_name = "localhost", helo_name = "app.example.com",
    sender = "news@example.com", recipient = rcpt, recipient_count = "0", queue_id = "",
    instance = "2a3f.6748a1b2.7c1d.0", size = "0", sasl_method = "", ccert_subject = "",
  }
  for k, v in pairs(over or {}) do r[k] = v end
  return r
end

local function wire(req)
  local names = {}
  for k in pairs(req) do names[#names + 1] = k end
  table.sort(names)
  local out = {}
  for _, k in ipairs(names) do out[#out + 1] = k .. "=" .. req[k] .. "\n" end
  return table.concat(out) .. "\n"
end

describe("bounce.policyd", function()
  describe("parser", function()
    it("reads a request of name=value lines ended by an empty line", function()
      local p = policyd.parser()
      p:push("request=smtpd_access_policy\nprotocol_state=RCPT\nrecipient=ann@example.org\n\n")
      assert.same({ request = "smtpd_access_policy", protocol_state = "RCPT",
                    recipient = "ann@example.org" }, p:pop())
      assert.is_nil(p:pop())
    end)

    it("waits for the empty line, however the bytes are cut", function()
      local text = wire(request("ann@example.org"))
      local p = policyd.parser()
      for i = 1, #text - 1 do
        p:push(text:sub(i, i))
        assert.is_nil(p:pop())
      end
      p:push(text:sub(-1))
      assert.same(request("ann@example.org"), p:pop())
    end)

    it("reads several requests sent together, in order", function()
      local p = policyd.parser()
      p:push(wire(request("a@example.org")) .. wire(request("b@example.org")) .. "recipient=c")
      assert.equal("a@example.org", p:pop().recipient)
      assert.equal("b@example.org", p:pop().recipient)
      assert.is_nil(p:pop())
      p:push("@example.org\n\n")
      assert.equal("c@example.org", p:pop().recipient)
    end)

    it("takes CRLF line ends, '=' inside values, and an empty request", function()
      local p = policyd.parser()
      p:push("\nccert_subject=CN=a=b\r\nrecipient=x@example.org\r\n\r\n")
      assert.same({}, p:pop())
      assert.same({ ccert_subject = "CN=a=b", recipient = "x@example.org" }, p:pop())
    end)

    it("keeps the last value of a name given twice", function()
      local p = policyd.parser()
      p:push("recipient=a@example.org\nrecipient=b@example.org\n\n")
      assert.equal("b@example.org", p:pop().recipient)
    end)

    it("refuses what is not the protocol: a line without '=', too many lines, too many bytes", function()
      local p = policyd.parser()
      p:push("HELO there\n\n")
      local req, err = p:pop()
      assert.is_nil(req)
      assert.matches("not a name=value line: 'HELO there'", err, 1, true)

      p = policyd.parser()
      p:push(("a=b\n"):rep(policyd.MAX_ATTRIBUTES + 1) .. "\n")
      req, err = p:pop()
      assert.is_nil(req)
      assert.matches("more than " .. policyd.MAX_ATTRIBUTES .. " attributes", err, 1, true)

      p = policyd.parser()
      p:push("recipient=" .. ("x"):rep(policyd.MAX_REQUEST))
      req, err = p:pop()
      assert.is_nil(req)
      assert.matches("request over " .. policyd.MAX_REQUEST .. " bytes", err, 1, true)
    end)

    it("writes an answer as one action line and an empty line", function()
      assert.equal("action=DUNNO\n\n", policyd.reply("DUNNO"))
    end)
  end)

  describe("decide", function()
    it("answers DUNNO for an address with no history", function()
      local t = tracker()
      assert.same({ "DUNNO", "dunno", "active: no history" }, { policyd.decide(t, request("new@example.org")) })
    end)

    it("refuses a hard-bounced recipient with 550 and the enhanced status of its reason", function()
      local t = tracker()
      t:record{ rcpt = "nouser@example.org", reply = "550 5.1.1 user unknown", at = T0 - D }
      t:record{ rcpt = "nodomain@example.net", reply = "550 5.1.2 <nodomain@example.net>: Host not found",
                at = T0 - D }
      t:record{ rcpt = "moved@example.org", reply = "551 5.1.6 user has moved, no forwarding", at = T0 - D }
      local action, verdict = policyd.decide(t, request("nouser@example.org"))
      assert.equal("550 5.1.1 suppressed since 2026-11-19: hard bounce (userunknown)", action)
      assert.equal("suppressed", verdict)
      assert.matches("^550 5%.1%.2 suppressed since 2026%-11%-19: hard bounce %(hostunknown%)$",
                     (policyd.decide(t, request("nodomain@example.net"))))
      assert.matches("^550 5%.1%.6 ", (policyd.decide(t, request("moved@example.org"))))
    end)

    it("refuses every address at a dead domain with 550 5.1.2 and the why, until a delivery there", function()
      local t = tracker()
      t:record{ rcpt = "gone@lapsed.example", at = T0 - D,
                reply = "550 5.1.2 <gone@lapsed.example>: Recipient address rejected: Domain not found" }
      assert.same({ "550 5.1.2 dead domain lapsed.example since 2026-11-19 until 2026-12-19: no such "
                    .. "domain (hostunknown)", "domain" },
                  { (policyd.decide(t, request("other@lapsed.example"))),
                    (select(2, policyd.decide(t, request("other@lapsed.example")))) })
      -- the bounced address itself: its own suppression
      assert.same({ "550 5.1.2 suppressed since 2026-11-19: hard bounce (hostunknown)", "suppressed" },
                  { (policyd.decide(t, request("gone@lapsed.example"))),
                    (select(2, policyd.decide(t, request("gone@lapsed.example")))) })
      assert.equal("DUNNO", (policyd.decide(t, request("other@alive.example"))))
      t:record{ rcpt = "back@lapsed.example", type = "delivered", at = T0 - 60 }
      assert.same({ "DUNNO", "dunno", "active: no history" },
                  { policyd.decide(t, request("other@lapsed.example")) })
      -- after retention.domain (30 days by default) without a delivery
      t:record{ rcpt = "gone@lapsed.example", type = "hard", reason = "hostunknown", at = T0 - 30 * D }
      assert.equal("DUNNO", (policyd.decide(t, request("other@lapsed.example"))))
      assert.matches("^550 5%.1%.2 dead domain ",
        (policyd.decide(t, request("other@lapsed.example"), { at = T0 - 30 * D + 1 })))
    end)

    it("refuses other suppressions with 550 5.7.1: the sender's policy, not the mailbox", function()
      local t = tracker{ soft = { max_attempts = 2 } }
      t:record{ rcpt = "c@example.org", type = "complaint", at = T0 - D }
      t:record{ rcpt = "u@example.org", type = "unsubscribe", at = T0 - D }
      t:record{ rcpt = "full@example.org", reply = "452 4.2.2 mailbox full", at = T0 - 2 * D }
      t:record{ rcpt = "full@example.org", reply = "452 4.2.2 mailbox full", at = T0 - D }
      t:suppress("m@example.org", T0 - D)
      for _, rcpt in ipairs({ "c@example.org", "u@example.org", "full@example.org", "m@example.org" }) do
        local action, verdict, why = policyd.decide(t, request(rcpt))
        assert.equal("550 5.7.1 " .. why, action)
        assert.equal("suppressed", verdict)
      end
      assert.matches("2 soft bounces in a row %(mailboxfull%)$", (policyd.decide(t, request("full@example.org"))))
    end)

    it("lets through an address that is bouncing but not suppressed, released, or whose suppression ended", function()
      local t = tracker{ retention = { soft = "10d" } }
      t:record{ rcpt = "busy@example.org", reply = "452 4.2.2 mailbox full", at = T0 - D }
      t:record{ rcpt = "back@example.org", reply = "550 5.1.1 user unknown", at = T0 - D }
      t:release("back@example.org", T0 - 1)
      for _ = 1, 5 do t:record{ rcpt = "old@example.org", type = "soft", at = T0 - 20 * D } end
      assert.equal("DUNNO", (policyd.decide(t, request("busy@example.org"))))
      assert.equal("DUNNO", (policyd.decide(t, request("back@example.org"))))
      assert.equal("suppressed", t:get("old@example.org").state)
      assert.equal("DUNNO", (policyd.decide(t, request("old@example.org"))))
    end)

    it("defers mail from a sender at health stop with 450 4.7.1, and only that sender's", function()
      local t = tracker{ health = { min_sent = 10, hard = { caution = 0.01, throttle = 0.02, stop = 0.05 } } }
      t:record{ rcpt = "list@example.org", type = "sent", sender = "news@example.com", count = 20, at = T0 - 60 }
      for i = 1, 3 do
        t:record{ rcpt = "gone" .. i .. "@example.org", type = "hard", sender = "news@example.com", at = T0 - 60 }
      end
      local action, verdict = policyd.decide(t, request("fine@example.org"))
      assert.equal("held", verdict)
      assert.equal("450 4.7.1 sender news@example.com at health stop: 3 hard bounces, 0 complaints in 20 messages",
                   action)
      assert.equal("DUNNO", (policyd.decide(t, request("fine@example.org", { sender = "billing@example.com" }))))
      -- the null sender (bounces, notifications) has no health to judge
      assert.equal("DUNNO", (policyd.decide(t, request("fine@example.org", { sender = "" }))))
      -- a suppressed address is refused for good first
      assert.matches("^550 5%.1%.1 ", (policyd.decide(t, request("gone1@example.org"))))
    end)

    it("judges RCPT TO only, and only policy requests", function()
      local t = tracker()
      t:record{ rcpt = "nouser@example.org", reply = "550 5.1.1 user unknown", at = T0 - D }
      for _, over in ipairs({ { protocol_state = "DATA" }, { protocol_state = "END-OF-MESSAGE" },
                              { request = "junk" }, { recipient = "" } }) do
        assert.same({ "DUNNO", "ignored" }, { policyd.decide(t, request("nouser@example.org", over)) })
      end
      assert.matches("^550 ", (policyd.decide(t, request("nouser@example.org", { protocol_state = "rcpt" }))))
      assert.same({ "DUNNO", "ignored" }, { policyd.decide(t, {}) })
    end)

    it("leaves an address it cannot read to Postfix's own checks", function()
      local t = tracker()
      local action, verdict, why = policyd.decide(t, request("not an address"))
      assert.equal("DUNNO", action)
      assert.equal("dunno", verdict)
      assert.is_string(why)
    end)

    describe("when the history cannot be read", function()
      local failing = {
        get = function() return nil, "redis: connect failed: connection refused" end,
        cas = function() return nil, "down" end,
        scan = function() return function() end end,
      }
      local raising = {
        get = function() error("socket closed") end,
        cas = function() error("socket closed") end,
        scan = function() return function() end end,
      }
      local corrupt = {
        get = function() return ("\0"):rep(32) end,
        cas = function() return false end,
        scan = function() return function() end end,
      }

      it("defers by default: 451 4.3.0, so the client tries again", function()
        for _, s in ipairs({ failing, raising, corrupt }) do
          local action, verdict, why = policyd.decide(tracker(nil, s), request("ann@example.org"))
          assert.equal("451 4.3.0 bounce history unavailable, try again later", action)
          assert.equal("error", verdict)
          assert.is_string(why)
        end
      end)

      it("applies on_error when the sender's shared health cannot be read", function()
        -- a store that shares health (bounce.store's health_add/health_read)
        -- whose health read fails while its records read fine
        local s = require("bounce.store").table()
        s.health_read = function() return nil, "redis: connection refused" end
        local t = tracker(nil, s)
        local action, verdict, why = policyd.decide(t, request("ann@example.org"))
        assert.same({ "451 4.3.0 bounce history unavailable, try again later", "error" }, { action, verdict })
        assert.matches("^store: redis: connection refused", why)
        action, verdict = policyd.decide(t, request("ann@example.org"), { on_error = "dunno" })
        assert.same({ "DUNNO", "error" }, { action, verdict })
        -- the null sender asks no health
        assert.equal("DUNNO", (policyd.decide(t, request("ann@example.org", { sender = "" }))))
      end)

      it("lets mail through with on_error = dunno, and says it was an error", function()
        local action, verdict, why = policyd.decide(tracker(nil, failing), request("ann@example.org"),
                                                    { on_error = "dunno" })
        assert.same({ "DUNNO", "error" }, { action, verdict })
        assert.matches("connection refused", why, 1, true)
      end)
    end)
  end)

  describe("gate", function()
    it("names the scope it refused", function()
      local t = tracker()
      t:record{ rcpt = "nouser@example.org", reply = "550 5.1.1 user unknown", at = T0 - D }
      local allowed, why, scope = policyd.gate(t, "nouser@example.org", "news@example.com")
      assert.same({ false, "address" }, { allowed, scope })
      assert.matches("^suppressed since", why)
      t:record{ rcpt = "x@lapsed.example", type = "hard", reason = "hostunknown", at = T0 - D }
      allowed, why, scope = policyd.gate(t, "y@lapsed.example", "news@example.com")
      assert.same({ false, "domain" }, { allowed, scope })
      assert.matches("^dead domain lapsed%.example since", why)
      allowed, why, scope = policyd.gate(t, "ann@example.org")
      assert.same({ true, "active: no history" }, { allowed, why })
      assert.is_nil(scope)
    end)
  end)
end)
