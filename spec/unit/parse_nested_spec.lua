-- bounce.parse on bounces handed on inside message/rfc822 parts (RFC 2046
-- 5.2.1): forwarded as an attachment, wrapped by a gateway, at any depth
-- within the bound.
local bounce = require("bounce")

local function report(rcpt, diag)
  return table.concat({
    "From: MAILER-DAEMON@mx.example.com",
    "Subject: Undelivered Mail Returned to Sender",
    'Content-Type: multipart/report; report-type=delivery-status; boundary="=_r"',
    "", "--=_r", "Content-Type: text/plain", "", "Your message could not be delivered.",
    "--=_r", "Content-Type: message/delivery-status", "",
    "Reporting-MTA: dns; mx.example.com", "",
    "Final-Recipient: rfc822; " .. rcpt, "Action: failed", "Status: 5.1.1",
    "Diagnostic-Code: smtp; " .. diag, "",
    "--=_r", "Content-Type: text/rfc822-headers", "", "From: news@example.com", "To: " .. rcpt,
    "", "--=_r--", "" }, "\n")
end

-- msg as the only body of an envelope (a gateway handing it on)
local function wrapped(msg)
  return "From: relay@example.net\nSubject: handed on\nMIME-Version: 1.0\n" ..
         "Content-Type: message/rfc822\n\n" .. msg
end

-- msg attached to a person's note (multipart/mixed)
local function forwarded(msg)
  return table.concat({ "From: dana@example.net", "To: team@example.net", "Subject: Fwd: bounce",
    'Content-Type: multipart/mixed; boundary="fwd"', "", "--fwd", "Content-Type: text/plain", "",
    "This came back, see attached (write to me at dana@example.net).", "", "--fwd",
    "Content-Type: message/rfc822", "", msg, "--fwd--", "" }, "\n")
end

describe("parse, nested reports", function()
  local msg = report("ann@example.org", "550 5.1.1 <ann@example.org>: user unknown")

  it("reads a report wrapped or forwarded as message/rfc822", function()
    for _, m in ipairs({ wrapped(msg), forwarded(msg), forwarded(wrapped(msg)),
                         wrapped(forwarded(wrapped(msg))) }) do
      local res = assert(bounce.parse(m))
      assert.equal(1, #res)
      assert.equal("ann@example.org", res[1].rcpt)
      assert.equal("userunknown", res[1].reason)
      assert.equal("rfc3464", res[1].format)
    end
  end)

  it("stops at the nesting bound", function()
    local m = msg
    for _ = 1, 6 do m = wrapped(m) end
    assert.is_nil((bounce.parse(m)))
  end)

  it("does not take a forwarded ordinary message for a bounce", function()
    local res, err = bounce.parse(forwarded("From: a@example.org\nTo: b@example.org\nSubject: hi\n\nhello\n"))
    assert.is_nil(res)
    assert.matches("not a bounce", err)
  end)

  it("keeps the outer report when it has one", function()
    local outer = report("bob@example.org", "550 5.1.1 <bob@example.org>: user unknown")
    local res = assert(bounce.parse(outer))
    assert.equal("bob@example.org", res[1].rcpt)
  end)
end)
