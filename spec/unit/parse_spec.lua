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

  it("gives a pseudo status (X.0.9NN) when the bounce states none", function()
    local r = assert(bounce.parse("From: System Administrator <postmaster@corp.example>\n" ..
      "Subject: Undeliverable: lunch\n\ndid not reach the following recipient(s):\n\n" ..
      "lee@corp.example on Tue, 3 Mar 2009 10:00:00 +0100\n" ..
      "    The recipient name is not recognized\n"))[1]
    assert.equal("exchange", r.format)
    assert.equal("userunknown", r.reason)
    assert.is_nil(r.status)
    assert.equal("5.0.911", r.pseudo_status)
  end)

  it("says onhold for words nothing reads, undefined for no words at all", function()
    local function one(fields)
      local f = { "Final-Recipient: rfc822; al@example.org", "Action: failed" }
      for _, v in ipairs(fields) do f[#f + 1] = v end
      return assert(bounce.parse(dsn("\n", { f })))[1]
    end
    local r = one{ "Diagnostic-Code: smtp; 554 Transaction refused by zorblat" }
    assert.same({ "onhold", "soft", "5.0.901" }, { r.reason, r.type, r.pseudo_status })
    assert.equal("Transaction refused by zorblat", r.text)
    r = one{}
    assert.same({ "undefined", "soft", "5.0.900" }, { r.reason, r.type, r.pseudo_status })
    r = one{ "Diagnostic-Code: smtp; 554" }           -- a code, no words
    assert.equal("undefined", r.reason)
    r = one{ "Diagnostic-Code: smtp; 554 zorblat (in reply to MAIL FROM command)" }
    assert.equal("rejected", r.reason)                -- context still decides first
    r = assert(bounce.parse(dsn("\n", { { "Final-Recipient: rfc822; al@example.org",
      "Action: delayed", "Diagnostic-Code: smtp; 451 zorblat" } })))[1]
    assert.is_true(r.delayed)
    assert.not_equal("onhold", r.reason)             -- a delay is not held for want of words
  end)

  it("counts a relayed 'user unknown' as a dead address only when tied to the address", function()
    local function one(diag, status)
      return assert(bounce.parse(dsn("\n", { { "Final-Recipient: rfc822; al@example.org",
        "Action: failed", "Status: " .. (status or "5.0.0"), "Diagnostic-Code: smtp; " .. diag } })))[1]
    end
    local rc = one("550 Unknown user al@example.org (in reply to RCPT TO command)")
    assert.same({ "userunknown", "RCPT" }, { rc.reason, rc.command })
    assert.equal("userunknown", one("550 Unknown user al@example.org", "5.1.1").reason)
    assert.equal("hard", one("550 5.1.1 <al@example.org>: User unknown").type)
    -- no stage and no address status: a filtering gateway's answer as often as
    -- a dead mailbox; soft, so the tracker suppresses after its soft limit
    local r = one("550 Unknown user al@example.org")
    assert.same({ "filtered", "soft" }, { r.reason, r.type })
    assert.equal("context:relayed<user-unknown", r.rule)   -- says why the rule's reason gave way
    -- after DATA the recipient was accepted: a filter speaking, not a dead mailbox
    assert.is_nil(r.command)
    r = one("550 Unknown user al@example.org (in reply to end of DATA command)")
    assert.same({ "filtered", "DATA" }, { r.reason, r.command })
    assert.not_equal("hard", r.type)
    assert.equal("context:DATA<user-unknown", r.rule)
    assert.equal("user-unknown", one("550 Unknown user al@example.org", "5.1.1").rule)
  end)

  describe("plain-text families chosen by evidence", function()
    it("Domino: the reason after 'because:'", function()
      local r = assert(bounce.parse("From: Postmaster@lotus.example\nSubject: DELIVERY FAILURE\n\n" ..
        "was not delivered to:\n\n  pat@lotus.example\n\nbecause:\n\n" ..
        "  User Pat (pat@lotus.example) not listed in Domino Directory\n"))[1]
      assert.same({ "domino", "pat@lotus.example", "userunknown", "hard" },
                  { r.format, r.rcpt, r.reason, r.type })
    end)

    it("EZweb: a Recipient line and its transcript", function()
      local r = assert(bounce.parse("From: Postmaster@ezweb.example\nSubject: Mail System Error\n\n" ..
        "Each of the following recipients was rejected by a remote\nmail server.\n" ..
        "    Recipient: <kei@ezweb.example>\n    >>> RCPT TO:<kei@ezweb.example>\n" ..
        "    <<< 550 <kei@ezweb.example>: User unknown\n"))[1]
      assert.same({ "ezweb", "kei@ezweb.example", "userunknown", 550 }, { r.format, r.rcpt, r.reason, r.code })
    end)

    it("Zoho: the address and its diagnostic on one line", function()
      local r = assert(bounce.parse("From: mailer-daemon@mail.zoho.example\nSubject: Undelivered\n\n" ..
        "max@example.org Invalid Address, ERROR_CODE :550, ERROR_CODE :5.2.2 " ..
        "<max@example.org>... Mailbox full\n"))[1]
      assert.same({ "zoho", "max@example.org", "mailboxfull", "5.2.2" }, { r.format, r.rcpt, r.reason, r.status })
    end)

    it("Yahoo: 'Remote host said:' under the address, the command as a tag", function()
      local r = assert(bounce.parse("From: MAILER-DAEMON@yahoo.example\nSubject: Failure Notice\n\n" ..
        "Sorry, we were unable to deliver your message to the following address.\n\n" ..
        "<noor@example.org>:\nRemote host said: 550 5.1.1 <noor@example.org>: no such mailbox " ..
        "[RCPT_TO]\n\n--- Below this line is a copy of the message.\n"))[1]
      assert.same({ "yahoo", "noor@example.org", "userunknown", 550 },
                  { r.format, r.rcpt, r.reason, r.code })
    end)

    it("SendGrid: the reply is the last field of the recipient's line", function()
      local r = assert(bounce.parse("From: Mail Delivery System <apps@sendgrid.example>\n" ..
        "Subject: Undelivered\n\nThis is an automatically generated message from SendGrid.\n\n" ..
        "q7:123:<ines@example.org> : 198.51.100.4 : mx.example.org:[198.51.100.9] : " ..
        "552 5.2.2 <ines@example.org>: quota exceeded\n"))[1]
      assert.same({ "sendgrid", "ines@example.org", "mailboxfull", "5.2.2" },
                  { r.format, r.rcpt, r.reason, r.status })
    end)

    it("Courier: the host line and the transcript below the address", function()
      local r = assert(bounce.parse("From: MAILER-DAEMON@courier.example\nSubject: NOTICE\n\n" ..
        "This is a delivery status notification from courier.example,\n" ..
        "running the Courier mail server, version 1.1.\n\n" ..
        "<ode@example.org>:\n    mx.example.org [192.0.2.5]:\n>>> RCPT TO:<ode@example.org>\n" ..
        "<<< 550 5.1.1 <ode@example.org>: unknown user\n\n"))[1]
      assert.same({ "courier", "ode@example.org", "userunknown", "hard", 550 },
                  { r.format, r.rcpt, r.reason, r.type, r.code })
    end)

    it("V5 sendmail: each recipient of the session transcript", function()
      local rs = assert(bounce.parse("From: MAILER-DAEMON@old.example\nSubject: Returned mail\n\n" ..
        "   ----- Transcript of session follows -----\nWhile talking to mx.example.net:\n" ..
        ">>> MAIL From:<me@old.example>\n<<< 550 relaying denied\n" ..
        "554 <una@example.net>... Remote protocol error\n554 <dos@example.com>... 550 Host unknown\n"))
      assert.same({ 2, "norelaying", "hostunknown" }, { #rs, rs[1].reason, rs[2].reason })
    end)

    it("Exim: the host line, the lead-in naming the command, the reply's lines below", function()
      local rs = assert(bounce.parse("From: Mail Delivery System <Mailer-Daemon@mx.example.net>\n" ..
        "Subject: Mail delivery failed: returning message to sender\n" ..
        "X-Failed-Recipients: ann@gmail.example\n\n" ..
        "This message was created automatically by mail delivery software.\n\n" ..
        "A message that you sent could not be delivered to one or more of its\n" ..
        "recipients. This is a permanent error. The following address(es) failed:\n\n" ..
        "  ann@gmail.example\n    host gmail-smtp-in.l.google.com [192.0.2.26]\n" ..
        "    SMTP error from remote mail server after end of data:\n" ..
        "    550-5.7.1 [192.0.2.1] Our system has detected that this message is\n" ..
        "    550-5.7.1 likely unsolicited mail. To reduce the amount of spam sent to Gmail,\n" ..
        "    550 5.7.1 this message has been blocked. a1si - gsmtp\n"))
      local r = rs[1]
      assert.same({ "exim", "ann@gmail.example", "spamdetected", "gmail-likely-unsolicited" },
                  { r.format, r.rcpt, r.reason, r.rule })
      assert.same({ 550, "5.7.1", "DATA", "gmail-smtp-in.l.google.com" },
                  { r.code, r.status, r.command, r.rhost })
      assert.equal("[192.0.2.1] Our system has detected that this message is likely unsolicited " ..
                   "mail. To reduce the amount of spam sent to Gmail, this message has been " ..
                   "blocked. a1si - gsmtp", r.text)
    end)

    it("Mail.ru: one record when the text says it twice", function()
      local body = "  ivan@example.org\n    SMTP error from remote mail server after RCPT TO:" ..
        "<ivan@example.org>:\n    host mx.example.org [192.0.2.9]: 550 5.1.1 No such user\n\n"
      local rs = assert(bounce.parse("From: mailer-daemon@corp.mail.ru\nSubject: Mail delivery failed\n\n" ..
        body .. "This message was created automatically by mail delivery software.\n\n" .. body))
      assert.equal(1, #rs)
      assert.same({ "mailru", "userunknown" }, { rs[1].format, rs[1].reason })
    end)

    it("Amazon SES: bounce, complaint and delivery notifications", function()
      local head = "From: SES <no-reply@sns.amazonaws.example>\nSubject: AWS Notification Message\n\n"
      local b = assert(bounce.parse(head .. '{"notificationType":"Bounce","bounce":{' ..
        '"bouncedRecipients":[{"emailAddress":"sam@example.org","action":"failed",' ..
        '"status":"5.1.1","diagnosticCode":"smtp; 550 5.1.1 user unknown"}]}}\n'))[1]
      assert.same({ "amazonses", "sam@example.org", "userunknown", "5.1.1" },
                  { b.format, b.rcpt, b.reason, b.status })
      local c = assert(bounce.parse(head .. '{"notificationType":"Complaint","complaint":{' ..
        '"complainedRecipients":[{"emailAddress":"sue@example.org"}],' ..
        '"complaintFeedbackType":"abuse"}}\n'))[1]
      assert.same({ "sue@example.org", "feedback", "complaint", "abuse" },
                  { c.rcpt, c.reason, c.type, c.feedback_type })
      local d = assert(bounce.parse(head .. '{"notificationType":"Delivery","delivery":{' ..
        '"recipients":["tom@example.org"],"smtpResponse":"250 2.6.0 Message received"}}\n'))[1]
      assert.same({ "tom@example.org", "delivered" }, { d.rcpt, d.type })
    end)

    it("Amazon SES: the bounce type speaks when the recipient's fields do not, as in the webhook", function()
      local webhooks = require("bounce.webhooks")
      local head = "From: SES <no-reply@sns.amazonaws.example>\nSubject: AWS Notification Message\n\n"
      for _, c in ipairs({ { "Permanent", "NoEmail", "userunknown", "hard" },
                           { "Permanent", "OnAccountSuppressionList", "userunknown", "hard" },
                           { "Transient", "MailboxFull", "mailboxfull", "soft" },
                           { "Transient", "MessageTooLarge", "mesgtoobig", "soft" },
                           { "Transient", "AttachmentRejected", "contenterror", "block" },
                           { "Transient", "Unheardof", "undefined", "soft" },     -- its type's General
                           { "Undetermined", "Undetermined", "undefined", "soft" } }) do
        local json = '{"notificationType":"Bounce","bounce":{"bounceType":"' .. c[1] ..
          '","bounceSubType":"' .. c[2] .. '","bouncedRecipients":[{"emailAddress":"sam@example.org"}]},' ..
          '"mail":{"messageId":"m1"}}'
        local b = assert(bounce.parse(head .. json .. "\n"))[1]
        assert.same({ "amazonses", c[3], c[4] }, { b.format, b.reason, b.type }, c[2])
        local ev = assert(webhooks.parse("ses", json)).events[1]
        assert.same({ c[3], c[4] }, { ev.reason, ev.type }, c[2])
      end
      -- the recipient's own diagnostic still decides over the bounce type
      local b = assert(bounce.parse(head .. '{"notificationType":"Bounce","bounce":{"bounceType":"Transient",' ..
        '"bounceSubType":"MailboxFull","bouncedRecipients":[{"emailAddress":"sam@example.org",' ..
        '"diagnosticCode":"smtp; 550 5.1.1 user unknown"}]}}\n'))[1]
      assert.equals("userunknown", b.reason)
      local core = require("bounce.core")
      assert.same({ "soft", "mailboxfull" }, { core.ses_bounce("Transient", "MailboxFull") })
      assert.same({ "hard", "undefined" }, { core.ses_bounce("Permanent") })      -- no subtype: General
      assert.is_nil(core.ses_bounce("Temporary"))                               -- not an SES bounce type
    end)
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

describe("bounce.parse dates", function()
  -- A bounce that states no Arrival-Date nor Last-Attempt-Date.
  local function undated(own, sent, eol)
    eol = eol or "\n"
    local l = { "From: MAILER-DAEMON@mx.example.com", "Subject: Undelivered Mail Returned to Sender" }
    if own then l[#l + 1] = own end
    for _, v in ipairs({ 'Content-Type: multipart/report; report-type=delivery-status; boundary="=_b"', "",
      "--=_b", "Content-Type: message/delivery-status", "", "Reporting-MTA: dns; mx.example.com", "",
      "Final-Recipient: rfc822; ann@example.org", "Action: failed", "Status: 5.1.1",
      "Diagnostic-Code: smtp; 550 5.1.1 user unknown", "", "--=_b", "Content-Type: text/rfc822-headers", "",
      "From: news@example.com", "To: ann@example.org" }) do l[#l + 1] = v end
    if sent then l[#l + 1] = "Date: " .. sent end
    for _, v in ipairs({ "", "--=_b--", "" }) do l[#l + 1] = v end
    return table.concat(l, eol)
  end

  it("takes the bounce's own Date header when the report states no date", function()
    local r = assert(bounce.parse(undated("Date: Tue, 10 Mar 2015 08:00:00 +0100",
                                          "Mon, 09 Mar 2015 10:00:00 +0000")))[1]
    assert.same({ 1425970800, "date" }, { r.at, r.at_from })
    r = assert(bounce.parse(undated("date:\tTue, 10 Mar 2015\r\n 08:00:00 +0100", nil, "\r\n")))[1]
    assert.same({ 1425970800, "date" }, { r.at, r.at_from })    -- folded, any case, CRLF
  end)

  it("else the returned message's Date, else leaves at unset", function()
    local r = assert(bounce.parse(undated(nil, "Mon, 09 Mar 2015 10:00:00 +0000")))[1]
    assert.same({ 1425895200, "original-date" }, { r.at, r.at_from })
    r = assert(bounce.parse(undated("Date: not a date", "Mon, 09 Mar 2015 10:00:00 +0000")))[1]
    assert.same({ 1425895200, "original-date" }, { r.at, r.at_from })
    r = assert(bounce.parse(undated(nil, nil)))[1]
    assert.is_nil(r.at)
    assert.is_nil(r.at_from)
  end)

  it("keeps the report's own dates first", function()
    local r = assert(bounce.parse(dsn("\n", { { "Final-Recipient: rfc822; ann@example.org", "Action: failed",
      "Status: 5.1.1", "Diagnostic-Code: smtp; 550 5.1.1 user unknown" } })))[1]
    assert.equals(1403375674, r.at)   -- Arrival-Date
    assert.is_nil(r.at_from)
  end)
end)
