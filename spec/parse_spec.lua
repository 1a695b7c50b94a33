-- bounce.parse: bounce messages in, one classified result per recipient out.
local bounce = require("bounce")

-- Builds a multipart/report DSN with the given line ending.
local function dsn(eol, recipients)
  local l = {
    "From: MAILER-DAEMON@mx.example.com",
    "Subject: Undelivered Mail Returned to Sender",
    "Content-Type: multipart/report; report-type=delivery-status;",
    "\tboundary=\"=_b\"",
    "",
    "--=_b",
    "Content-Type: text/plain",
    "",
    "Your message could not be delivered.",
    "--=_b",
    "Content-Type: message/delivery-status",
    "",
    "Reporting-MTA: dns; mx.example.com",
    "Arrival-Date: Sat, 21 Jun 2014 18:34:34 +0000",
    "",
  }
  for _, r in ipairs(recipients) do
    for _, line in ipairs(r) do l[#l + 1] = line end
    l[#l + 1] = ""
  end
  for _, line in ipairs{
    "--=_b",
    "Content-Type: message/rfc822",
    "",
    "Message-ID: <42@example.com>",
    "From: news@example.com",
    "To: ann@example.org",
    "Subject: =?UTF-8?Q?Caf=C3=A9?= news",
    "Date: Sat, 21 Jun 2014 18:30:00 +0000",
    "X-Campaign: spring",
    "",
    "Hello",
    "--=_b--",
    "" } do l[#l + 1] = line end
  return table.concat(l, eol)
end

local two = {
  { "Final-Recipient: rfc822; ann@example.org", "Original-Recipient: rfc822; ann@example.org",
    "Action: failed", "Status: 5.1.1", "Remote-MTA: dns; mx.example.org",
    "Diagnostic-Code: smtp; 550 5.1.1 <ann@example.org>:",
    "    Recipient address rejected: User unknown in local recipient table",
    "Last-Attempt-Date: Sat, 21 Jun 2014 18:35:16 +0000" },
  { "Final-Recipient: rfc822; bob@example.org", "Action: failed", "Status: 5.2.2",
    "Diagnostic-Code: smtp; 552 5.2.2 Mailbox full" },
}

describe("parse", function()
  it("returns one result per recipient of a DSN, classified", function()
    local res = assert(bounce.parse(dsn("\r\n", two)))
    assert.equal(2, #res)
    local a, b = res[1], res[2]
    assert.equal("ann@example.org", a.rcpt)
    assert.equal("failed", a.action)
    assert.equal("5.1.1", a.status)
    assert.equal(550, a.code)
    assert.equal("userunknown", a.reason)
    assert.equal("hard", a.type)
    assert.equal("mx.example.org", a.rhost)
    assert.equal("mx.example.com", a.reporting_mta)
    assert.equal("rfc3464", a.format)
    assert.equal("Sat, 21 Jun 2014 18:35:16 +0000", a.last_attempt_date)
    assert.equal(1403375716, a.at)   -- Last-Attempt-Date, else Arrival-Date, in unix seconds
    assert.equal("bob@example.org", b.rcpt)
    assert.equal("mailboxfull", b.reason)
    assert.equal("soft", b.type)
  end)

  it("unfolds a folded Diagnostic-Code", function()
    local a = assert(bounce.parse(dsn("\n", two)))[1]
    assert.matches("User unknown in local recipient table", a.text, 1, true)
    assert.is_nil(a.text:find("\n"))
  end)

  it("reads LF, CRLF and CR line ends alike", function()
    local want = assert(bounce.parse(dsn("\r\n", two)))
    for _, eol in ipairs{ "\n", "\r" } do
      local got = assert(bounce.parse(dsn(eol, two)))
      assert.equal(#want, #got)
      for i = 1, #want do
        assert.equal(want[i].rcpt, got[i].rcpt)
        assert.equal(want[i].reason, got[i].reason)
        assert.equal(want[i].text, got[i].text)
      end
    end
  end)

  it("returns the original message's headers, and those named in opts.headers", function()
    local a = assert(bounce.parse(dsn("\n", two), { headers = { "X-Campaign", "X-Absent" } }))[1]
    assert.equal("<42@example.com>", a.message_id)
    assert.equal("news@example.com", a.from)
    assert.equal("ann@example.org", a.to)
    assert.equal("Café news", a.subject)
    assert.equal("Sat, 21 Jun 2014 18:30:00 +0000", a.date)
    assert.same({ ["X-Campaign"] = "spring" }, a.headers)
  end)

  it("reports a delayed DSN as delayed, not failed", function()
    local res = assert(bounce.parse(dsn("\n", { { "Final-Recipient: rfc822; c@example.org",
      "Action: delayed", "Status: 4.4.1", "Will-Retry-Until: Mon, 23 Jun 2014 18:35:16 +0000",
      "Diagnostic-Code: smtp; 421 4.4.1 connection timed out" } })))
    assert.equal("delayed", res[1].action)
    assert.is_true(res[1].delayed)
    assert.equal("soft", res[1].type)
    assert.equal("Mon, 23 Jun 2014 18:35:16 +0000", res[1].will_retry_until)
  end)

  it("uses the Status field when the diagnostic says nothing", function()
    local res = assert(bounce.parse(dsn("\n", { { "Final-Recipient: rfc822; d@example.org",
      "Action: failed", "Status: 5.1.2" } })))
    assert.equal("hostunknown", res[1].reason)
    assert.equal("hard", res[1].type)
  end)

  it("takes the diagnostic from the human-readable part when the DSN has none", function()
    local m = "Content-Type: multipart/report; boundary=z\n\n--z\nContent-Type: text/plain\n\n" ..
      "<e@example.org>: host mx.example.org[192.0.2.9] said: 550 5.7.26 Multiple\n" ..
      "    authentication checks failed (in reply to end of DATA command)\n\n" ..
      "--z\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; a.example\n\n" ..
      "Final-Recipient: rfc822; e@example.org\nAction: failed\nStatus: 5.0.0\n\n--z--\n"
    local r = assert(bounce.parse(m))[1]
    assert.equal("5.7.26", r.status)
    assert.equal(550, r.code)
    assert.equal("authfailure", r.reason)
    assert.equal("block", r.type)
  end)

  it("decodes base64 and quoted-printable parts", function()
    local b64 = "RmluYWwtUmVjaXBpZW50OiByZmM4MjI7IGRAZXhhbXBsZS5vcmcKQWN0aW9uOiBmYWlsZWQKU3Rh\n" ..
                "dHVzOiA1LjIuMgo=\n"
    local m = "Content-Type: multipart/report; boundary=q\n\n--q\n" ..
      "Content-Type: message/delivery-status\nContent-Transfer-Encoding: base64\n\n" .. b64 ..
      "--q\nContent-Type: message/rfc822\nContent-Transfer-Encoding: quoted-printable\n\n" ..
      "Subject: caf=C3=A9 =\nlatte\n\n--q--\n"
    local r = assert(bounce.parse(m))[1]
    assert.equal("d@example.org", r.rcpt)
    assert.equal("mailboxfull", r.reason)
    assert.equal("café latte", r.subject)
  end)

  it("reads an ARF complaint as reason feedback, type complaint", function()
    local m = "Content-Type: multipart/report; report-type=feedback-report; boundary=f\n\n" ..
      "--f\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\nSource-IP: 192.0.2.1\n" ..
      "Original-Rcpt-To: eve@example.org\n\n--f\nContent-Type: message/rfc822\n\n" ..
      "From: me@example.com\nSubject: offer\n\nbody\n--f--\n"
    local r = assert(bounce.parse(m))[1]
    assert.equal("arf", r.format)
    assert.equal("feedback", r.reason)
    assert.equal("complaint", r.type)
    assert.equal("abuse", r.feedback_type)
    assert.equal("192.0.2.1", r.source_ip)
    assert.equal("eve@example.org", r.rcpt)
    assert.equal("offer", r.subject)
  end)

  it("reads an auto-reply as reason vacation, type auto_reply, never a bounce", function()
    local r = assert(bounce.parse("From: Kim <kim@example.org>\nAuto-Submitted: auto-replied\n" ..
                                  "Subject: Out of office\n\nBack on Monday.\n"))[1]
    assert.equal("autoreply", r.format)
    assert.equal("kim@example.org", r.rcpt)
    assert.equal("vacation", r.reason)
    assert.equal("auto_reply", r.type)
  end)

  it("reads a plain-text qmail bounce", function()
    local r = assert(bounce.parse("From: MAILER-DAEMON@a.example\nSubject: failure notice\n\n" ..
      "Hi. This is the qmail-send program at a.example.\n\n<x@example.org>:\n" ..
      "192.0.2.1 does not like recipient.\nRemote host said: 550 5.1.1 no such user\n\n"))[1]
    assert.equal("qmail", r.format)
    assert.equal("x@example.org", r.rcpt)
    assert.equal("hard", r.type)
  end)

  describe("bad data", function()
    it("returns nil and a message for a letter that is no bounce", function()
      local r, err = bounce.parse("Subject: hi\n\nJust a letter.\n")
      assert.is_nil(r)
      assert.matches("not a bounce", err)
    end)
    it("returns nil and a message for an empty message", function()
      local r, err = bounce.parse(" \r\n")
      assert.is_nil(r)
      assert.matches("empty message", err)
    end)
  end)

  describe("bad arguments", function()
    it("raises on a non-string message", function()
      assert.has_error(function() bounce.parse(nil) end)
      assert.has_error(function() bounce.parse({}) end)
    end)
    it("raises on bad opts", function()
      assert.has_error(function() bounce.parse("x", 1) end)
      assert.has_error(function() bounce.parse("x", { headers = "X-A" }) end)
      assert.has_error(function() bounce.parse("x", { headers = { 1 } }) end)
    end)
  end)

  describe("hostile input gives a best-effort result or nil, err, quickly", function()
    local function quick(m)
      local t = os.clock()
      local r, err = bounce.parse(m)
      assert.is_true(os.clock() - t < 2, "took too long")
      assert.is_true(type(r) == "table" or type(err) == "string")
      return r, err
    end

    it("a multipart without boundary", function()
      -- read as one text part, with a warning
      local r = quick("Content-Type: multipart/report\n\n--x\nFinal-Recipient: rfc822; a@example.org\n")
      assert.equal("a@example.org", r[1].rcpt)
      assert.is_true(r[1].warnings > 0)
    end)

    it("a boundary that never closes", function()
      local r = quick("Content-Type: multipart/report; boundary=x\n\n--x\n" ..
                      "Content-Type: message/delivery-status\n\n" ..
                      "Final-Recipient: rfc822; a@example.org\nAction: failed\nStatus: 5.1.1\n")
      assert.equal("a@example.org", r[1].rcpt)
      assert.equal("userunknown", r[1].reason)
      assert.is_true(r[1].warnings > 0)
    end)

    it("1000 nested parts", function()
      local t = {}
      for i = 1, 1000 do
        t[#t + 1] = ("Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n"):format(i, i)
      end
      local r, err = quick(table.concat(t))
      assert.is_nil(r)
      assert.matches("not a bounce", err)
    end)

    it("NUL bytes", function()
      local r = quick((dsn("\n", two):gsub("Hello", "He\0llo")):gsub("Mailbox", "Mail\0box"))
      assert.equal(2, #r)
      assert.equal("ann@example.org", r[1].rcpt)
    end)

    it("invalid base64", function()
      local m = "Content-Type: multipart/report; boundary=q\n\n--q\n" ..
        "Content-Type: message/delivery-status\nContent-Transfer-Encoding: base64\n\n" ..
        "!!!@@@###***\n====\n--q--\n"
      local r, err = quick(m)
      assert.is_nil(r)
      assert.matches("not a bounce", err)
    end)

    it("a header of 1 MB", function()
      local m = "X-Big: " .. ("a"):rep(1024 * 1024) .. "\n" .. dsn("\n", two)
      local r = quick(m)
      assert.equal(2, #r)
    end)

    it("a 20 MB attachment", function()
      local big = ("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODkw\n"):rep(math.floor(20 * 1024 * 1024 / 45) + 1)
      local m = dsn("\n", two):gsub("%-%-=_b%-%-\n$", "--=_b\nContent-Type: application/zip\n" ..
        "Content-Transfer-Encoding: base64\n\n" .. big:gsub("%%", "%%%%") .. "--=_b--\n")
      assert.is_true(#m > 20 * 1024 * 1024)
      local r = quick(m)
      assert.equal(2, #r)
      assert.equal("userunknown", r[1].reason)
    end)
  end)
end)
