-- Bad values that used to slip through: each is refused with a message
-- naming the field, on the memory store's fast path and off it.
local bounce = require("bounce")
local verp = require("bounce.verp")

local T0 = 1795132800
local NAN = 0 / 0

describe("hostile values", function()
  describe("rules.add", function()
    after_each(function() bounce.rules.clear() end)

    it("refuses a NUL byte in a pattern instead of cutting the pattern at it", function()
      assert.same({ nil, "pattern: a NUL byte is not allowed" },
        { bounce.rules.add{ pattern = "a\0x", reason = "userunknown" } })
      assert.same({ nil, "name: a NUL byte is not allowed" },
        { bounce.rules.add{ pattern = "gone away", reason = "userunknown", name = "x\0y" } })
      assert.equal("userunknown", bounce.classify("550 5.1.1 no such user").reason)
      assert.are_not.equal("userunknown", bounce.classify("550 a mailbox is full").reason)
    end)

    it("refuses a pattern of wildcards alone, which would decide every reply", function()
      for _, p in ipairs({ "*", "**", " * ", "|", "* | *" }) do
        local ok, err = bounce.rules.add{ pattern = p, reason = "userunknown" }
        assert.is_nil(ok)
        assert.equal("pattern: expected some text besides '*', '|' and spaces, got '" .. p .. "'", err)
      end
      assert.is_true(bounce.rules.add{ pattern = "mailbox * gone", reason = "userunknown" })
    end)
  end)

  for _, fast in ipairs({ true, false }) do
    describe("tracker (fast_path = " .. tostring(fast) .. ")", function()
      local t
      before_each(function()
        t = assert(bounce.tracker{ clock = function() return T0 end, fast_path = fast })
      end)

      it("refuses a local part that is not UTF-8, and keeps one that is (RFC 6531)", function()
        for _, rcpt in ipairs({ "\255\254@example.com", "ann\192\175@example.com", "x\237\160\128@example.com" }) do
          local d, err = t:record{ rcpt = rcpt, type = "hard", reason = "userunknown" }
          assert.is_nil(d)
          assert.matches("invalid UTF%-8 in the local part", err)
          assert.is_nil((t:check(rcpt)))
        end
        local d = assert(t:record{ rcpt = "j\195\188rgen@example.com", type = "hard", reason = "userunknown" })
        assert.equal("j\195\188rgen@example.com", d.rcpt)
        assert.is_false((t:check("j\195\188rgen@example.com")))
      end)

      it("refuses NaN as a time everywhere", function()
        assert.has_error(function() t:check("a@example.com", NAN) end,
          "bad argument #2 to 'check' (time out of range)")
        assert.has_error(function() t:expire(NAN) end, "bad argument #1 to 'expire' (time out of range)")
        assert.has_error(function() t:suppressions(NAN) end,
          "bad argument #1 to 'suppressions' (time out of range)")
        assert.has_error(function() t:record{ rcpt = "a@example.com", type = "soft", at = NAN } end,
          "bad argument #1 to 'record' (field 'at': time out of range)")
        assert.has_error(function() t:release("a@example.com", NAN) end)
        assert.is_nil(t:get("a@example.com"))
      end)

      it("refuses a count beyond 10^9, a 10 MB label and permanent = \"yes\"", function()
        assert.has_error(function() t:record{ rcpt = "a@example.com", type = "sent", count = 1e300 } end,
          "bad argument #1 to 'record' (field 'count': integer 1..1000000000 expected, got 1e+300)")
        assert.has_error(function()
          t:record{ rcpt = "a@example.com", type = "sent", campaign = ("x"):rep(1e7) }
        end, "bad argument #1 to 'record' (field 'campaign': at most 256 bytes expected, got 10000000)")
        assert.has_error(function()
          t:record{ rcpt = "a@example.com", type = "delivered", sender = ("s"):rep(257) }
        end, "bad argument #1 to 'record' (field 'sender': at most 256 bytes expected, got 257)")
        assert.has_error(function()
          t:record{ rcpt = "a@example.com", type = "soft", permanent = "yes" }
        end, "bad argument #1 to 'record' (field 'permanent': boolean expected, got string)")
        assert.is_nil(t:get("a@example.com"))
        local d = t:record{ rcpt = "a@example.com", type = "sent", count = 1e9, campaign = ("c"):rep(256) }
        assert.equal("send", d.action)
      end)
    end)
  end

  describe("verp.encode", function()
    it("keeps to RFC 5321's 64-byte local part and 254-byte address", function()
      local rcpt = ("a"):rep(40) .. "@" .. ("b"):rep(20) .. ".com"
      assert.same({ nil, "cannot encode '" .. rcpt .. "': the return path's local part would be 73 bytes,"
        .. " RFC 5321 allows 64" }, { verp.encode(rcpt, "bounces+", "mail.example.com") })
      local long_domain = ("d"):rep(63) .. "." .. ("e"):rep(63) .. "." .. ("f"):rep(63) .. "." .. ("g"):rep(60)
      assert.same({ nil, "cannot encode 'ann@example.org': the return path would be 276 bytes,"
        .. " RFC 5321 allows 254" }, { verp.encode("ann@example.org", "bounces+", long_domain) })
      local ok = assert(verp.encode(("a"):rep(30) .. "@example.org", "bounces+", "mail.example.com"))
      assert.equal(("a"):rep(30) .. "@example.org", verp.decode(ok, "bounces+"))
    end)
  end)
end)
