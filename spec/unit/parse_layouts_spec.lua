-- bounce.parse on layouts: each case is a class of message layout (a way
-- MTAs write bounces), built from synthetic messages, and every case is read
-- again in variants that keep the meaning (CRLF line ends, the top-level
-- header fields in another order, header fields refolded) which must give
-- the same records.
local bounce = require("bounce")

-- The fields a reader of the result relies on.
local FIELDS = { "rcpt", "action", "delayed", "status", "code", "reason", "type", "at", "at_from", "format" }

local function summary(list)
  local out = {}
  for i, r in ipairs(list) do
    local s = {}
    for _, k in ipairs(FIELDS) do s[k] = r[k] end
    out[i] = s
  end
  return out
end

-- The header block and the body of msg (LF line ends).
local function split(msg)
  local a = msg:find("\n\n", 1, true)
  return msg:sub(1, a), msg:sub(a + 1)
end

-- The header fields of a block, each with its folded lines.
local function fields(block)
  local list = {}
  for line in block:gmatch("([^\n]*)\n") do
    if line:match("^[ \t]") and #list > 0 then list[#list] = list[#list] .. "\n" .. line
    elseif line ~= "" then list[#list + 1] = line end
  end
  return list
end

-- Every field longer than 30 bytes folded at its spaces after 24 bytes.
local function refold(field)
  if #field <= 30 or field:find("\n") then return field end
  local head, out, n = field:sub(1, 24), {}, 0
  local rest = field:sub(25)
  out[1] = head
  for word, sp in rest:gmatch("(%S*)(%s*)") do
    if word ~= "" or sp ~= "" then
      n = n + #word
      out[#out + 1] = word
      if sp ~= "" then
        if n > 20 then out[#out + 1] = "\n " ; n = 0 else out[#out + 1] = sp end
      end
    end
  end
  return table.concat(out)
end

-- The variants of msg (LF line ends): name -> message.
local function variants(msg)
  local head, body = split(msg)
  local f = fields(head)
  local rev, folded = {}, {}
  for i = #f, 1, -1 do rev[#rev + 1] = f[i] end
  for i = 1, #f do folded[i] = refold(f[i]) end
  return {
    crlf = msg:gsub("\n", "\r\n"),
    reordered = table.concat(rev, "\n") .. "\n" .. body,
    refolded = table.concat(folded, "\n") .. "\n" .. body,
  }
end

-- msg parsed, and each of its variants parsed the same (extra variants
-- given by the case are checked too); returns the records.
local function read(msg, extra)
  local list, err = bounce.parse(msg)
  assert(list, err)
  local want = summary(list)
  for name, v in pairs(variants(msg)) do
    local got = assert(bounce.parse(v), name)
    assert.same(want, summary(got), name)
  end
  for name, v in pairs(extra or {}) do
    local got = assert(bounce.parse(v), name)
    assert.same(want, summary(got), name)
  end
  return list
end

-- Lines joined with LF.
local function lines(t) return table.concat(t, "\n") .. "\n" end

describe("bounce.parse layouts: the date of a bounce", function()
  -- A plain-text bounce from a backlog: no Arrival-Date anywhere.
  local function backlog(date, sent)
    local l = {
      "Return-Path: <>",
      "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>",
      "To: news@example.com",
      "Subject: Undelivered Mail Returned to Sender",
    }
    if date then l[#l + 1] = "Date: " .. date end
    for _, v in ipairs({ "", "This is the mail system at host mx.example.net.", "",
      "<ann@example.org>: host mx.example.org[192.0.2.1] said: 550 5.1.1 <ann@example.org>:",
      "    Recipient address rejected: User unknown (in reply to RCPT TO command)", "",
      "--- Below this line is a copy of the message.", "", "From: news@example.com",
      "To: ann@example.org" }) do l[#l + 1] = v end
    if sent then l[#l + 1] = "Date: " .. sent end
    l[#l + 1] = "Subject: news"
    return lines(l)
  end

  it("dates a plain-text bounce by its own Date header", function()
    local r = read(backlog("Tue, 10 Mar 2015 08:00:00 +0100", "Mon, 09 Mar 2015 10:00:00 +0000"))[1]
    assert.same({ "ann@example.org", 1425970800, "date" }, { r.rcpt, r.at, r.at_from })
    assert.equal("2015", os.date("!%Y", r.at))
  end)

  it("else by the returned message's Date", function()
    local r = read(backlog(nil, "Mon, 09 Mar 2015 10:00:00 +0000"))[1]
    assert.same({ 1425895200, "original-date" }, { r.at, r.at_from })
    r = read(backlog("sometime in March", "Mon, 09 Mar 2015 10:00:00 +0000"))[1]
    assert.same({ 1425895200, "original-date" }, { r.at, r.at_from })   -- a Date that does not parse
    r = read(backlog(nil, nil))[1]
    assert.same({ "ann@example.org" }, { r.rcpt, r.at, r.at_from })
  end)

  it("dates a bounce handed on inside another message by the bounce, not the envelope", function()
    local inner = backlog("Tue, 10 Mar 2015 08:00:00 +0100")
    local outer = lines({ "From: postmaster@gateway.example.com", "To: news@example.com",
      "Subject: Fwd: Undelivered Mail Returned to Sender", "Date: Fri, 01 Jan 2021 00:00:00 +0000",
      "MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="out"', "", "--out",
      "Content-Type: text/plain", "", "See the attached bounce.", "", "--out",
      "Content-Type: message/rfc822", "" }) .. inner .. "\n--out--\n"
    local r = read(outer)[1]
    assert.same({ "ann@example.org", 1425970800, "date" }, { r.rcpt, r.at, r.at_from })
  end)

  it("keeps the report's Last-Attempt-Date and Arrival-Date first", function()
    local function dsn(last)
      local l = { "From: MAILER-DAEMON@mx.example.net", "Subject: Delivery Status Notification (Failure)",
        "Date: Fri, 01 Jan 2021 00:00:00 +0000", "MIME-Version: 1.0",
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"', "", "--b",
        "Content-Type: message/delivery-status", "", "Reporting-MTA: dns; mx.example.net",
        "Arrival-Date: Sun, 08 Mar 2015 10:00:00 +0000", "", "Final-Recipient: rfc822; ann@example.org",
        "Action: failed", "Status: 5.1.1", "Diagnostic-Code: smtp; 550 5.1.1 user unknown" }
      if last then l[#l + 1] = "Last-Attempt-Date: " .. last end
      for _, v in ipairs({ "", "--b--" }) do l[#l + 1] = v end
      return lines(l)
    end
    local r = read(dsn("Mon, 09 Mar 2015 10:00:00 +0000"))[1]
    assert.same({ 1425895200 }, { r.at, r.at_from })
    r = read(dsn())[1]
    assert.same({ 1425808800 }, { r.at, r.at_from })
    r = read(dsn("not a date"))[1]   -- a Last-Attempt-Date that does not parse gives way to Arrival-Date
    assert.same({ 1425808800 }, { r.at, r.at_from })
  end)
end)

describe("bounce.parse layouts: addresses in recipient fields", function()
  local function dsn(final, original)
    local l = { "From: MAILER-DAEMON@mx.example.net", "To: news@example.com",
      "Subject: Delivery Status Notification (Failure)", "Date: Mon, 09 Mar 2015 10:00:00 +0000",
      "MIME-Version: 1.0", 'Content-Type: multipart/report; report-type=delivery-status; boundary="b"', "",
      "--b", "Content-Type: text/plain", "", "Your message could not be delivered.", "",
      "--b", "Content-Type: message/delivery-status", "", "Reporting-MTA: dns; mx.example.net", "",
      "Final-Recipient: " .. final }
    if original then l[#l + 1] = "Original-Recipient: " .. original end
    for _, v in ipairs({ "Action: failed", "Status: 5.1.1",
      "Diagnostic-Code: smtp; 550 5.1.1 user unknown", "", "--b--" }) do l[#l + 1] = v end
    return lines(l)
  end

  it("takes the address out of what gateways and MTAs write around it", function()
    local forms = {
      "rfc822; ann@example.org", "RFC822;ann@example.org", "rfc822; <ann@example.org>",
      "rfc822; smtp=ann@example.org", "rfc822; SMTP:ann@example.org", "smtp=ann@example.org",
      'rfc822; "ann@example.org"', "rfc822; 'ann@example.org'", "rfc822; ann@example.org.",
      "rfc822; ann@example.org,", "rfc822; <ann@example.org>;", "rfc822; mailto:ann@example.org",
      "rfc822; ann@example.org (Ann Example)", "rfc822; (Ann) ann@example.org",
      'rfc822; "Ann Example" <ann@example.org>', "rfc822; Ann Example <smtp:ann@example.org>",
      "rfc822; <mailto:ann@example.org>", 'rfc822; "<ann@example.org>"', "rfc822;  ann@example.org  ",
      "rfc822; ann@example.org (was: ann@old.example.org)",
    }
    for _, f in ipairs(forms) do
      local r = read(dsn(f, f))[1]
      assert.same({ f, "ann@example.org", "ann@example.org", "userunknown" },
                  { f, r.rcpt, r.original_rcpt, r.reason })
    end
  end)

  it("keeps what belongs to the address", function()
    for f, want in pairs({
      ['rfc822; "ann example"@example.org'] = '"ann example"@example.org',
      ["rfc822; ann@[192.0.2.1]"] = "ann@[192.0.2.1]",
      ["rfc822; o'brien@example.org"] = "o'brien@example.org",
      ["rfc822; ann+tag@example.org"] = "ann+tag@example.org",
      ["rfc822; postmaster"] = "postmaster",
    }) do
      assert.equal(want, read(dsn(f))[1].rcpt, f)
    end
  end)

  it("cleans addresses that plain-text bounces list the same way", function()
    local function plain(addr)
      return lines({ "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>",
        "Subject: Mail delivery failed: returning message to sender", "",
        "This message was created automatically by mail delivery software.", "",
        "A message that you sent could not be delivered to one or more of its",
        "recipients. This is a permanent error. The following address(es) failed:", "",
        "  " .. addr, "    host mx.example.org [192.0.2.1]",
        "    SMTP error from remote mail server after RCPT TO:<ann@example.org>:",
        "    550 5.1.1 user unknown" })
    end
    for _, a in ipairs({ "ann@example.org", "<ann@example.org>", "smtp=ann@example.org",
                         "'ann@example.org'" }) do
      local list = read(plain(a))
      assert.same({ a, 1, "ann@example.org", "userunknown" }, { a, #list, list[1].rcpt, list[1].reason })
    end
  end)
end)

describe("bounce.parse layouts: plain-text bounces with several recipients", function()
  local HEAD = { "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>", "To: news@example.com",
    "Date: Mon, 09 Mar 2015 10:00:00 +0000" }
  -- The message: headers, the preamble, the recipients' blocks joined by sep.
  local function build(subject, preamble, blocks, sep, flat)
    local l = {}
    for _, v in ipairs(HEAD) do l[#l + 1] = v end
    l[#l + 1] = "Subject: " .. subject
    l[#l + 1] = ""
    l[#l + 1] = preamble
    local b = {}
    for i, v in ipairs(blocks) do b[i] = flat and v:gsub("\n[ \t]+", "\n"):gsub("^[ \t]+", "") or v end
    l[#l + 1] = table.concat(b, sep)
    return lines(l)
  end
  local function by_rcpt(list)
    local s = summary(list)
    table.sort(s, function(x, y) return x.rcpt < y.rcpt end)
    return s
  end
  -- Each layout read as written, then glued (no blank line between the
  -- recipients), at the margin (continuation lines not indented), and with
  -- the recipients in the other order: the same two results every time.
  local function check(subject, preamble, blocks)
    local want
    for _, sep in ipairs({ "\n\n", "\n" }) do
      for _, flat in ipairs({ false, true }) do
        for _, rev in ipairs({ false, true }) do
          local bl = rev and { blocks[2], blocks[1] } or blocks
          local msg = build(subject, preamble, bl, sep, flat)
          local list = read(msg)
          local got = by_rcpt(list)
          local name = ("sep %q flat %s reversed %s"):format(sep, tostring(flat), tostring(rev))
          if not want then
            want = got
            assert.same({ "ann@example.org", "userunknown", "5.1.1", "bob@example.com", "mailboxfull", "5.2.2" },
                        { want[1].rcpt, want[1].reason, want[1].status, want[2] and want[2].rcpt,
                          want[2] and want[2].reason, want[2] and want[2].status }, name)
          else
            assert.same(want, got, name)
          end
        end
      end
    end
  end

  it("reads Postfix's blocks, re-wrapped replies that restate the address included", function()
    check("Undelivered Mail Returned to Sender",
      "This is the mail system at host mx.example.net.\n\nI'm sorry to have to inform you that your " ..
      "message could not\nbe delivered to one or more recipients.\n", {
      "<ann@example.org>: host mx.example.org[192.0.2.1] said: 550 5.1.1\n" ..
      "    <ann@example.org>: Recipient address rejected: User unknown (in reply to\n    RCPT TO command)",
      "<bob@example.com>: host mx.example.com[192.0.2.2] said: 552 5.2.2 Mailbox\n" ..
      "    full, over quota (in reply to RCPT TO command)" })
  end)

  it("reads Exim's list after its lead-in", function()
    check("Mail delivery failed: returning message to sender",
      "This message was created automatically by mail delivery software.\n\nA message that you sent " ..
      "could not be delivered to one or more of its\nrecipients. This is a permanent error. The " ..
      "following address(es) failed:\n", {
      "  ann@example.org\n    host mx.example.org [192.0.2.1]\n" ..
      "    SMTP error from remote mail server after RCPT TO:<ann@example.org>:\n    550 5.1.1 user unknown",
      "  bob@example.com\n    host mx.example.com [192.0.2.2]\n" ..
      "    SMTP error from remote mail server after RCPT TO:<bob@example.com>:\n    552 5.2.2 mailbox full" })
  end)

  it("reads qmail's paragraphs", function()
    check("failure notice",
      "Hi. This is the qmail-send program at mx.example.net.\nI'm afraid I wasn't able to deliver " ..
      "your message to the following addresses.\n", {
      "<ann@example.org>:\n192.0.2.1 does not like recipient.\nRemote host said: 550 5.1.1 user unknown\n" ..
      "Giving up on 192.0.2.1.",
      "<bob@example.com>:\n192.0.2.2 does not like recipient.\nRemote host said: 552 5.2.2 mailbox full\n" ..
      "Giving up on 192.0.2.2." })
  end)

  it("reads sendmail's list of fatal errors", function()
    check("Returned mail: see transcript for details",
      "The original message was received at Mon, 9 Mar 2015 10:00:00 +0000\n\n" ..
      "   ----- The following addresses had permanent fatal errors -----", {
      "<ann@example.org>\n    (reason: 550 5.1.1 User unknown)",
      "<bob@example.com>\n    (reason: 552 5.2.2 Mailbox full)" })
  end)

  it("reads bounces of no known family: lines that open with the address", function()
    check("Delivery failure", "Your message could not be delivered.\n\nThe following address(es) failed:\n", {
      "ann@example.org: 550 5.1.1 user unknown", "bob@example.com: 552 5.2.2 mailbox full" })
  end)

  it("reads bounces of no known family: a lead-in per recipient, the reason below it", function()
    check("Undeliverable message", "Your message could not be delivered.\n", {
      "Your message to ann@example.org could not be delivered for the following reason:\n\n" ..
      "550 5.1.1 user unknown",
      "Your message to bob@example.com could not be delivered for the following reason:\n\n" ..
      "552 5.2.2 mailbox full" })
  end)

  it("does not take the sender named in the notice for a recipient", function()
    local list = read(build("Delivery failure", "Your message could not be delivered.\n",
      { "Your message to ann@example.org could not be delivered for the following reason:\n" ..
        "550 5.1.1 user unknown", "Original Sender: <news@example.com>" }, "\n\n"))
    assert.same({ 1, "ann@example.org" }, { #list, list[1].rcpt })
  end)
end)

describe("bounce.parse layouts: the SMTP transcript in a delivery report", function()
  -- sendmail's report: the human-readable part with a transcript, the
  -- delivery-status part with the Diagnostic-Code diag ("" leaves it out).
  local function report(transcript, diag, status, action)
    local l = { "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>", "To: news@example.com",
      "Subject: Returned mail: see transcript for details", "Date: Mon, 09 Mar 2015 10:00:00 +0000",
      "MIME-Version: 1.0", 'Content-Type: multipart/report; report-type=delivery-status; boundary="b"', "",
      "--b", "", "The original message was received at Mon, 9 Mar 2015 10:00:00 +0000",
      "from localhost [127.0.0.1]", "", "   ----- Transcript of session follows -----" }
    for _, v in ipairs(transcript) do l[#l + 1] = v end
    for _, v in ipairs({ "", "--b", "Content-Type: message/delivery-status", "",
      "Reporting-MTA: dns; mx.example.net", "", "Final-Recipient: RFC822; ann@example.org",
      "Action: " .. (action or "failed"), "Status: " .. status }) do l[#l + 1] = v end
    if diag then l[#l + 1] = "Diagnostic-Code: " .. diag end
    for _, v in ipairs({ "", "--b--" }) do l[#l + 1] = v end
    return lines(l)
  end
  local SPAM = {
    "... while talking to mx.example.org.:", ">>> DATA",
    "<<< 550-5.7.1 [192.0.2.31] Our system has detected that this message is",
    "<<< 550-5.7.1 likely unsolicited mail. To reduce the amount of spam sent to us,",
    "<<< 550 5.7.1 this message has been blocked as spam",
    "554 5.0.0 Service unavailable" }

  it("completes a Diagnostic-Code cut to a reply's first line from the transcript", function()
    local cut = "SMTP; 550-5.7.1 [192.0.2.31] Our system has detected that this message is"
    local r = read(report(SPAM, cut, "5.2.0"))[1]
    assert.same({ "ann@example.org", "spamdetected", "5.7.1", 550 }, { r.rcpt, r.reason, r.status, r.code })
    assert.truthy(r.diagnostic:find("blocked as spam", 1, true))
    -- the transcript with the server's lines indented, as some MTAs quote them
    local quoted = {}
    for i, v in ipairs(SPAM) do quoted[i] = v:gsub("^<<< ", "    ") end
    local q = read(report(quoted, cut, "5.2.0"))[1]
    assert.same({ r.reason, r.status }, { q.reason, q.status })
  end)

  it("reads an empty Diagnostic-Code from the transcript", function()
    local t = { "... while talking to mx.example.org.:",
      "<<< 421 4.7.0 [TS01] Messages from 192.0.2.32 temporarily deferred due to user complaints",
      "<ann@example.org>... Deferred: 421 4.7.0 [TS01] Messages from 192.0.2.32 temporarily deferred",
      "Warning: message still undelivered after 4 hours" }
    for _, diag in ipairs({ "SMTP; ", "SMTP;", false }) do
      local r = read(report(t, diag or nil, "4.5.0", "delayed"))[1]
      assert.same({ "ann@example.org", true, "4.7.0", 421, "badreputation" },
                  { r.rcpt, r.delayed, r.status, r.code, r.reason }, tostring(diag))
    end
  end)

  it("takes the refusal, not the positive replies before it, and the command it answered", function()
    local t = { "... while talking to mx.example.org.:", ">>> EHLO mx.example.net",
      "<<< 250-mx.example.org Hello mx.example.net [192.0.2.10], pleased to meet you",
      "<<< 250-ENHANCEDSTATUSCODES", "<<< 250 SIZE 52428800",
      ">>> MAIL From:<news@example.com> SIZE=4317", "<<< 250 2.1.0 <news@example.com>... Sender ok",
      ">>> RCPT To:<bob@example.org>", "<<< 250 2.1.5 <bob@example.org>... Recipient ok",
      ">>> RCPT To:<ann@example.org>", "<<< 550 5.1.1 <ann@example.org>... User unknown" }
    local with_greeting = { "... while talking to mx.example.org.:",
      "<<< 220-mx.example.org ESMTP ready", "<<< 220-Unsolicited mail is not welcome here", "<<< 220 ok" }
    for i = 2, #t do with_greeting[#with_greeting + 1] = t[i] end
    for _, tr in ipairs({ t, with_greeting }) do
      local r = read(report(tr, nil, "5.1.1"))[1]
      assert.same({ "ann@example.org", "userunknown", "hard", 550, "RCPT" },
                  { r.rcpt, r.reason, r.type, r.code, r.command })
      r = read(report(tr, "SMTP; 550 5.1.1 <ann@example.org>... User unknown", "5.1.1"))[1]
      assert.same({ "userunknown", "RCPT" }, { r.reason, r.command })
    end
  end)
end)

describe("bounce.parse layouts: Amazon SES notifications", function()
  local HEAD = "From: no-reply@sns.amazonaws.com\nTo: ops@example.com\nSubject: AWS Notification Message\n" ..
    "Date: Mon, 09 Mar 2015 10:00:00 +0000\nContent-Type: text/plain; charset=UTF-8\n\n"
  local NOTE = '{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bounceSubType":"General",' ..
    '"bouncedRecipients":[{"emailAddress":"ann@example.org","action":"failed","status":"5.1.1",' ..
    '"diagnosticCode":"smtp; 550 5.1.1 <ann@example.org>: user unknown"},{"emailAddress":' ..
    '"bob@example.com","action":"failed","status":"5.2.2","diagnosticCode":"smtp; 552 5.2.2 mailbox full"}],' ..
    '"timestamp":"2015-03-09T10:00:00.000Z","reportingMTA":"dsn; a1-2.smtp-out.amazonses.com"},' ..
    '"mail":{"timestamp":"2015-03-09T09:59:59.000Z","source":"news@example.com",' ..
    '"destination":["ann@example.org","bob@example.com"]}}'
  -- A JSON string holding s.
  local function quote(s)
    return '"' .. s:gsub('[\\"]', "\\%0"):gsub("<", "\\u003c"):gsub(">", "\\u003e") .. '"'
  end
  local function envelope(note)
    return '{\n  "Type" : "Notification",\n  "MessageId" : "b1e3-42",\n  "TopicArn" : ' ..
      '"arn:aws:sns:us-east-1:123456789012:ses-bounces",\n  "Message" : ' .. quote(note) ..
      ',\n  "Timestamp" : "2015-03-09T10:00:01.000Z",\n  "SignatureVersion" : "1"\n}\n'
  end
  local WANT = { "amazonses", "ann@example.org", "userunknown", "5.1.1", "bob@example.com", "mailboxfull" }
  local function got(list)
    return { list[1].format, list[1].rcpt, list[1].reason, list[1].status, list[2] and list[2].rcpt,
             list[2] and list[2].reason }
  end

  it("reads a notification as it comes, spaced and ordered as any writer does", function()
    assert.same(WANT, got(read(HEAD .. NOTE)))
    local spaced = NOTE:gsub('":', '" : '):gsub(',"', ',\n    "')
    assert.same(WANT, got(read(HEAD .. spaced)))
    local reordered = '{"mail":{"source":"news@example.com"},' .. NOTE:sub(2, #NOTE - 1):gsub(',"mail":.*$', "") .. "}"
    assert.same(WANT, got(read(HEAD .. reordered)))
  end)

  it("reads the notification carried as the Message string of an SNS envelope", function()
    local list = read(HEAD .. envelope(NOTE))
    assert.same(WANT, got(list))
    assert.equal("<ann@example.org>: user unknown", list[1].text)   -- escapes undone
    assert.same(WANT, got(read(HEAD .. envelope(NOTE):gsub("\n", "\r\n"))))
  end)

  it("reads SES event publishing, whose type key is eventType", function()
    assert.same(WANT, got(read(HEAD .. envelope((NOTE:gsub("notificationType", "eventType"))))))
  end)

  it("does not take other JSON for a notification", function()
    assert.is_nil(bounce.parse(HEAD .. '{"Type":"Notification","Message":"{\\"hello\\":\\"world\\"}"}'))
    assert.is_nil(bounce.parse(HEAD .. '{"Type":"SubscriptionConfirmation","Message":"You have chosen"}'))
  end)
end)

describe("bounce.parse layouts: legacy charsets", function()
  -- "not in the directory list", as Lotus Notes writes it in Japanese
  local JA = {
    ["ISO-2022-JP"] = "\027$B%G%#%l%/%H%j$N%j%9%H$K$\034$j$^$;$s\027(B",
    ["Shift_JIS"] = "\131f\131B\131\140\131N\131g\131\138\130\204\131\138\131X\131g\130\201\130\160\130\232" ..
      "\130\220\130\185\130\241",
    ["EUC-JP"] = "\165\199\165\163\165\236\165\175\165\200\165\234\164\206\165\234\165\185\165\200\164\203" ..
      "\164\162\164\234\164\222\164\187\164\243",
    ["UTF-8"] = "\227\131\135\227\130\163\227\131\172\227\130\175\227\131\136\227\131\170\227\129\174\227" ..
      "\131\170\227\130\185\227\131\136\227\129\171\227\129\130\227\130\138\227\129\190\227\129\155\227\130\147",
  }
  local function notes(charset, text, declared)
    return lines({ "From: Postmaster <postmaster@notes.example.jp>", "To: news@example.com",
      "Subject: Undeliverable message", "Date: Mon, 09 Mar 2015 10:00:00 +0000", "MIME-Version: 1.0",
      "Content-Type: text/plain" .. (declared == false and "" or "; charset=" .. charset), "",
      "------- Failure Reasons  --------", "", text, "ann@example.org", "",
      "------- Returned Message --------", "Subject: news" })
  end

  it("decodes the Japanese charsets, so one wording is one rule", function()
    for cs, text in pairs(JA) do
      local r = read(notes(cs, text))[1]
      assert.same({ cs, "ann@example.org", "userunknown", "notes" }, { cs, r.rcpt, r.reason, r.format })
    end
    -- ISO-2022-JP says what it is by its escape sequences, also without a label
    local r = read(notes("ISO-2022-JP", JA["ISO-2022-JP"], false))[1]
    assert.same({ "ann@example.org", "userunknown" }, { r.rcpt, r.reason })
  end)

  it("finds no address inside a kanji's bytes", function()
    -- "this mail was generated automatically": its ISO-2022-JP bytes hold an '@'
    local pre = "\027$B$3$N%a!<%k$O<+F0E*$K@8@.$5$l$F$$$^$9!#\027(B"
    local msg = lines({ "From: MAILER-DAEMON@mx.example.jp", "To: news@example.com", "Subject: failure notice",
      "Date: Mon, 09 Mar 2015 10:00:00 +0000", "Content-Type: text/plain; charset=ISO-2022-JP", "", pre, "",
      "ann@example.org", "    550 5.1.1 <ann@example.org>: user unknown" })
    local list = read(msg)
    assert.same({ 1, "ann@example.org", "userunknown" }, { #list, list[1].rcpt, list[1].reason })
  end)

  it("decodes single-byte charsets (a rule written in UTF-8 holds for each)", function()
    local RU = {   -- "addressee not found"
      ["KOI8-R"] = "\225\196\210\197\211\193\212 \206\197 \206\193\202\196\197\206",
      ["windows-1251"] = "\192\228\240\229\241\224\242 \237\229 \237\224\233\228\229\237",
      ["ISO-8859-5"] = "\176\212\224\213\225\208\226 \221\213 \221\208\217\212\213\221",
      ["UTF-8"] = "\208\144\208\180\209\128\208\181\209\129\208\176\209\130 \208\189\208\181 \208\189\208\176" ..
        "\208\185\208\180\208\181\208\189",
    }
    bounce.rules.add({ name = "spec-ru-addressee", pattern = RU["UTF-8"], reason = "suspend" })
    local ok, err = pcall(function()
      for cs, text in pairs(RU) do
        local r = read(lines({ "From: Mail Delivery System <Mailer-Daemon@mx.example.ru>", "To: news@example.com",
          "Subject: Mail delivery failed: returning message to sender", "Date: Mon, 09 Mar 2015 10:00:00 +0000",
          "Content-Type: text/plain; charset=" .. cs, "",
          "This message was created automatically by mail delivery software.", "",
          "  ann@example.org", "    host mx.example.ru [192.0.2.1]",
          "    SMTP error from remote mail server after RCPT TO:<ann@example.org>:", "    550 " .. text }))[1]
        assert.same({ cs, "ann@example.org", "suspend" }, { cs, r.rcpt, r.reason })
      end
    end)
    bounce.rules.clear()
    assert(ok, err)
  end)

  it("decodes RFC 2047 words in legacy charsets", function()
    local function dsn(subject)
      return lines({ "From: MAILER-DAEMON@mx.example.net", "Subject: Delivery Status Notification (Failure)",
        "Date: Mon, 09 Mar 2015 10:00:00 +0000", "MIME-Version: 1.0",
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"', "", "--b",
        "Content-Type: message/delivery-status", "", "Reporting-MTA: dns; mx.example.net", "",
        "Final-Recipient: rfc822; ann@example.org", "Action: failed", "Status: 5.1.1", "", "--b",
        "Content-Type: text/rfc822-headers", "", "From: news@example.com", "To: ann@example.org",
        "Subject: " .. subject, "", "--b--" })
    end
    assert.equal("Gr\195\188\195\159e", read(dsn("=?windows-1252?Q?Gr=FC=DFe?="))[1].subject)
    assert.equal("Gr\195\188\195\159e", read(dsn("=?ISO-8859-1?B?R3L83w==?=e"))[1].subject)
    assert.equal("\233\133\141\228\191\161\229\164\177\230\149\151: \229\174\155\229\133\136\228\184\141\230\152\142",
      read(dsn("=?ISO-2022-JP?B?GyRCR1s/Ljw6R1QbKEI6IBskQjA4QGhJVExAGyhC?="))[1].subject)
    assert.equal("Gr\195\188\195\159e", read(dsn("=?utf-8?Q?Gr=C3=BC=C3=9Fe?="))[1].subject)   -- kept
  end)
end)

describe("bounce.parse layouts: delay warnings in plain text", function()
  local function notice(subject, body)
    return lines({ "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>", "To: news@example.com",
      "Subject: " .. subject, "Date: Mon, 09 Mar 2015 10:00:00 +0000", "" }) .. body
  end
  local EXIM = "This message was created automatically by mail delivery software.\n\n" ..
    "A message that you sent has not yet been delivered to one or more of its\n" ..
    "recipients after more than 24 hours on the queue on mx.example.net.\n\n" ..
    "  ann@example.org\n    host mx.example.org [192.0.2.1]\n" ..
    "    Delay reason: SMTP error from remote mail server after RCPT TO:<ann@example.org>:\n" ..
    "    451 4.7.1 Greylisted, try again later\n\n" ..
    "No action is required on your part. Delivery attempts will continue for\nsome time.\n"
  local POSTFIX = "This is the mail system at host mx.example.net.\n\n" ..
    "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n\n" ..
    "Your message could not be delivered for more than 4 hour(s).\nIt will be retried until it is 5 day(s) old.\n\n" ..
    "<ann@example.org>: host mx.example.org[192.0.2.1] said: 450 4.2.0 Mailbox\n" ..
    "    temporarily unavailable (in reply to RCPT TO command)\n"
  local GENERIC = "THIS IS A WARNING MESSAGE ONLY.\n\nDelivery to the following recipients has been delayed.\n\n" ..
    "       ann@example.org\n\nThe server will continue to attempt delivery of this message.\n"

  it("reads a warning as delayed, whatever the MTA's template", function()
    for name, m in pairs({
      exim = notice("Warning: message 1abcDE-000123-AB delayed 24 hours", EXIM),
      exim_subject_plain = notice("Mail delivery notice", EXIM),
      postfix = notice("Delayed Mail (still being retried)", POSTFIX),
      postfix_subject_plain = notice("Undelivered Mail Returned to Sender", POSTFIX),
      generic = notice("Delivery Status Notification (Delay)", GENERIC),
    }) do
      local list = read(m)
      assert.same({ name, 1, "ann@example.org", "delayed", true },
                  { name, #list, list[1].rcpt, list[1].action, list[1].delayed })
      assert.is_not.equal("hard", list[1].type, name)
    end
  end)

  it("keeps a failure that gave up a failure", function()
    local final = notice("Mail delivery failed: returning message to sender",
      "This message was created automatically by mail delivery software.\n\n" ..
      "A message that you sent could not be delivered to one or more of its\n" ..
      "recipients. This is a permanent error. The following address(es) failed:\n\n" ..
      "  ann@example.org\n    retry timeout exceeded\n")
    local r = read(final)[1]
    assert.same({ "ann@example.org", "failed", false }, { r.rcpt, r.action, r.delayed })
    r = read(notice("Undelivered Mail Returned to Sender", POSTFIX:gsub("THIS IS A WARNING ONLY%.  YOU DO NOT " ..
      "NEED TO RESEND YOUR MESSAGE%.", "Your message has not been delivered."):gsub("It will be retried until " ..
      "it is 5 day%(s%) old%.\n", "")))[1]
    assert.same({ "failed", false }, { r.action, r.delayed })
  end)
end)

describe("bounce.parse layouts: a Diagnostic-Code over several lines", function()
  local function dsn(diag)
    return lines({ "From: MAILER-DAEMON@mx.example.net", "To: news@example.com",
      "Subject: Returned mail: Could not send message", "Date: Mon, 09 Mar 2015 10:00:00 +0000",
      "MIME-Version: 1.0", 'Content-Type: multipart/report; report-type=delivery-status; boundary="b"', "",
      "--b", "Content-Type: message/delivery-status", "", "Reporting-MTA: dns; mx.example.net", "",
      "Final-Recipient: rfc822; ann@example.org", "Action: failed", "Status: 5.7.1",
      "Diagnostic-Code: " .. diag, "", "--b--" })
  end
  local REPLY = { "550-5.7.1 [192.0.2.31] Our system has detected that this message is",
    "550-5.7.1 likely unsolicited mail. To reduce the amount of spam sent to us,",
    "550 5.7.1 this message has been blocked as spam" }

  it("reads the reply's lines written at the margin as the reply, as folded ones are", function()
    local margin = read(dsn("SMTP; " .. table.concat(REPLY, "\n")))[1]
    local folded = read(dsn("SMTP; " .. table.concat(REPLY, "\n ")))[1]
    assert.same({ "ann@example.org", "spamdetected", "5.7.1", 550 },
                { margin.rcpt, margin.reason, margin.status, margin.code })
    assert.same({ margin.reason, margin.status, margin.code }, { folded.reason, folded.status, folded.code })
  end)

  it("takes no line that is not the same reply's", function()
    local r = read(dsn("SMTP; 550-5.7.1 first line\nX-Other: 550 5.1.1 user unknown"))[1]
    assert.is_nil(r.diagnostic:find("X-Other", 1, true))
  end)
end)

describe("bounce.parse layouts: a report's human-readable part listing several recipients", function()
  local function report(text, groups)
    local l = { "From: MAILER-DAEMON@mx.example.net", "To: news@example.com",
      "Subject: Delivery status notification: error", "Date: Mon, 09 Mar 2015 10:00:00 +0000", "MIME-Version: 1.0",
      'Content-Type: multipart/report; report-type=delivery-status; boundary="b"', "", "--b",
      "Content-Type: text/plain; charset=us-ascii", "", text, "", "--b", "Content-Type: message/delivery-status", "",
      "Reporting-MTA: dns; mx.example.net", "" }
    for _, g in ipairs(groups) do
      l[#l + 1] = "Final-Recipient: rfc822; " .. g
      l[#l + 1] = "Action: failed"
      l[#l + 1] = "Status: 5.0.0"
      l[#l + 1] = ""
    end
    l[#l + 1] = "--b--"
    return lines(l)
  end
  local RCPTS = { "ann@example.org", "bob@example.com", "cat@example.net" }
  local WANT = { ["ann@example.org"] = "userunknown", ["bob@example.com"] = "mailboxfull",
                 ["cat@example.net"] = "hasmoved" }
  local function check(text)
    for _, order in ipairs({ RCPTS, { RCPTS[3], RCPTS[1], RCPTS[2] } }) do
      local list = read(report(text, order))
      assert.equal(3, #list)
      for _, r in ipairs(list) do assert.equal(WANT[r.rcpt], r.reason, r.rcpt) end
    end
  end

  it("gives each recipient its own line, as OpenSMTPD lists them", function()
    check("An error has occurred while attempting to deliver a message for\nthe following list of recipients:\n\n" ..
      "ann@example.org: 550 5.1.1 <ann@example.org>: Recipient address rejected: User unknown\n" ..
      "bob@example.com: 552 5.2.2 Requested mail action aborted: exceeded storage allocation\n" ..
      "cat@example.net: 551 5.1.6 User not local; please try <cat@new.example.net>")
  end)

  it("gives each recipient its own block, as Exim lists them", function()
    check("The following address(es) failed:\n\n" ..
      "  ann@example.org\n    host mx.example.org [192.0.2.1]\n" ..
      "    SMTP error from remote mail server after RCPT TO:<ann@example.org>:\n    550 5.1.1 user unknown\n" ..
      "  bob@example.com\n    host mx.example.com [192.0.2.2]\n" ..
      "    SMTP error from remote mail server after RCPT TO:<bob@example.com>:\n" ..
      "    552-5.2.2 The email account that you tried to reach is over quota\n    552 5.2.2 please try later\n" ..
      "  cat@example.net\n    host mx.example.net [192.0.2.3]\n" ..
      "    SMTP error from remote mail server after RCPT TO:<cat@example.net>:\n" ..
      "    551 5.1.6 User not local; please try <cat@new.example.net>")
  end)
end)
