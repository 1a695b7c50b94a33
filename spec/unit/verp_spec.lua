-- bounce.verp and bounce.parse{ verp = ... }: the recipient a bounce is
-- about, read from the VERP return path it was sent back to.
local bounce = require("bounce")
local verp = bounce.verp
local mail = require("spec.support.mail")

-- A DSN for `named` (what the bounce says failed: a forward of the address
-- we sent to), sent back to `to` (our VERP return path).
local function forwarded(named, to, eol)
  local m = mail.dsn{ rcpt = named, status = "5.1.1", diag = "550 5.1.1 <" .. named .. ">: user unknown",
                      eol = eol }
  return (m:gsub("To: news@example.com", "To: " .. to, 1))
end

describe("verp", function()
  it("encodes a recipient into a return path and decodes it back", function()
    local a = verp.encode("Ann.Lee@Example.org", "bounces+", "mail.example.com")
    assert.equals("bounces+Ann.Lee=Example.org@mail.example.com", a)
    assert.equals("Ann.Lee@Example.org", verp.decode(a, "bounces+"))
    assert.equals("ann@example.org", verp.decode("<BOUNCES+ann=example.org@mail.example.com>", "bounces+"))
    -- a '=' of the local part survives: the split is at the last '='
    assert.equals("a=b@example.org", verp.decode(verp.encode("a=b@example.org", "b-", "h.example"), "b-"))
    assert.same({ nil, "invalid address 'nobody': expected local@domain" },
                { verp.encode("nobody", "bounces+", "h.example") })
  end)

  it("says what is wrong with an address it cannot decode", function()
    assert.same({ nil, "'bounces+ann@h.example': no local=domain after the prefix" },
                { verp.decode("bounces+ann@h.example", "bounces+") })
    assert.same({ nil, "'news+ann=example.org@h.example': no such prefix" },
                { verp.decode("news+ann=example.org@h.example", "bounces+") })
    assert.same({ nil, "'bounces+=example.org@h': no local=domain after the prefix" },
                { verp.decode("bounces+=example.org@h", "bounces+") })
    assert.same({ nil, "'bounces+ann=@h': no local=domain after the prefix" },
                { verp.decode("bounces+ann=@h", "bounces+") })
    assert.same({ nil, "'bounces': not an address" }, { verp.decode("bounces", "bounces+") })
  end)

  it("says what is wrong with a prefix", function()
    assert.is_nil(verp.prefix_error("bounces+"))
    assert.is_nil(verp.prefix_error("b-"))
    for _, bad in ipairs({ "", "a b", "b@x", "<b", ("x"):rep(65), "b\0" }) do
      assert.matches("prefix such as 'bounces%+' expected", verp.prefix_error(bad), 1)
    end
    assert.equals("string expected, got nil", verp.prefix_error(nil))
  end)

  it("raises on arguments of the wrong type or shape", function()
    assert.has_error(function() verp.decode(1, "b+") end,
      "bad argument #1 to 'decode' (string expected, got number)")
    assert.has_error(function() verp.find("x", "") end,
      "bad argument #2 to 'find' (a local-part prefix such as 'bounces+' expected, got '')")
    assert.has_error(function() verp.encode("a@b.example", "b@x", "h") end,
      "bad argument #2 to 'encode' (a local-part prefix such as 'bounces+' expected, got 'b@x')")
    assert.has_error(function() verp.encode("a@b.example", "b+", "h=x") end,
      "bad argument #3 to 'encode' (a domain expected, got 'h=x')")
    assert.has_error(function() bounce.parse("x", { verp = 1 }) end,
      "bad argument #2 to 'parse' (field 'verp': string expected, got number)")
    assert.has_error(function() bounce.parse("x", { verp = "a b" }) end,
      "bad argument #2 to 'parse' (field 'verp': a local-part prefix such as 'bounces+' expected)")
  end)

  it("finds the return path in a bounce's headers, Received lines or returned message", function()
    local rp = "bounces+ann=example.org@mail.example.com"
    for _, m in ipairs({
      "Delivered-To: " .. rp .. "\nFrom: x\n\nbody",
      "Received: from mx by mail.example.com\n\tfor <" .. rp .. ">; Mon, 3 Mar 2025\n\nbody",
      "From: MAILER-DAEMON@x\n\n--b\nContent-Type: message/rfc822\n\nReturn-Path:<" .. rp .. ">\n",
      "To: \"Bounces\" <BOUNCES+ann=example.org@MAIL.example.com>\n\nx",   -- a host may upcase it
    }) do
      assert.equals("ann@example.org", verp.find(m, "bounces+"), m)
    end
    -- not inside another word, not an address that does not decode
    assert.is_nil(verp.find("To: nobounces+ann=example.org@h.example\n\nx", "bounces+"))
    assert.equals("bob@example.net",
      verp.find("To: bounces+list@h.example, bounces+bob=example.net@h.example\n\nx", "bounces+"))
    -- only the head of a message is read, however large it is
    local far = ("x"):rep(256 * 1024) .. " <" .. rp .. ">"
    assert.is_nil(verp.find(far, "bounces+"))
    assert.equals("ann@example.org", verp.find(far:sub(-1024), "bounces+"))
  end)

  it("gives each result of bounce.parse the recipient its return path names", function()
    -- sent to ann@example.org, forwarded on to ann.lee@mail.example.net, which failed
    local m = forwarded("ann.lee@mail.example.net", "bounces+ann=example.org@news.example.com")
    local r = assert(bounce.parse(m, { verp = "bounces+" }))[1]
    assert.same({ "ann.lee@mail.example.net", "ann@example.org", "userunknown" },
                { r.rcpt, r.verp_rcpt, r.reason })
    assert.is_nil(assert(bounce.parse(m))[1].verp_rcpt)                       -- only when asked
    assert.is_nil(assert(bounce.parse(m, { verp = "returns-" }))[1].verp_rcpt) -- another prefix
    r = assert(bounce.parse(forwarded("a@x.example", "bounces+b=y.example@h.example", "\r\n"),
                            { verp = "bounces+", headers = { "Subject" } }))[1]
    assert.same({ "b@y.example", "Our March letter" }, { r.verp_rcpt, r.headers.Subject })
  end)

  it("names the complainer of a feedback report whose recipient was redacted", function()
    -- mailbox providers' feedback loops blank the recipient out; the return
    -- path of the returned message still names it
    local m = "From: feedback@fbl.example\nTo: fbl@news.example.com\n" ..
      "Content-Type: multipart/report; report-type=feedback-report; boundary=f\n\n" ..
      "--f\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\n" ..
      "Original-Mail-From: <bounces+eve=example.org@news.example.com>\n\n" ..
      "--f\nContent-Type: message/rfc822\n\n" ..
      "Return-Path: <bounces+eve=example.org@news.example.com>\nFrom: news@example.com\n" ..
      "To: redacted@example.org\nSubject: offer\n\nbody\n--f--\n"
    local r = assert(bounce.parse(m, { verp = "bounces+" }))[1]
    assert.same({ "feedback", "complaint", "eve@example.org" }, { r.reason, r.type, r.verp_rcpt })
  end)
end)
