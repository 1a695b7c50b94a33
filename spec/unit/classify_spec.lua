local bounce = require("bounce")

describe("bounce", function()
  it("has the same _VERSION in the C table and the Lua module", function()
    local core = require("bounce.core")
    assert.is_string(bounce._VERSION)
    assert.matches("^%d+%.%d+%.%d+", bounce._VERSION)
    assert.equals(core._VERSION, bounce._VERSION)
  end)
end)

describe("classify", function()
  it("returns code, status, text, reason, type, permanent and rule", function()
    local r = assert(bounce.classify("550 5.1.1 <ann@example.org>: Recipient address rejected: User unknown"))
    assert.equals(550, r.code)
    assert.equals("5.1.1", r.status)
    assert.equals("<ann@example.org>: Recipient address rejected: User unknown", r.text)
    assert.equals("userunknown", r.reason)
    assert.equals("hard", r.type)
    assert.is_true(r.permanent)
    assert.is_string(r.rule)
  end)

  it("reports each status as written, whatever was classified before", function()
    -- the FFI path caches status strings: a detail written with leading
    -- zeros is another string than the same number without them
    assert.equals("5.1.1", bounce.classify("550 5.1.1 no such user").status)
    assert.equals("5.1.01", bounce.classify("550 5.1.01 no such user").status)
    assert.equals("5.1.001", bounce.classify("550 5.1.001 no such user").status)
    assert.equals("5.1.1", bounce.classify("550 5.1.1 no such user").status)
  end)

  it("treats 550 5.1.1 as a hard bounce", function()
    local r = bounce.classify("550 5.1.1 mailbox does not exist here")
    assert.equals("hard", r.type)
  end)

  it("treats 2xx as delivered", function()
    local r = bounce.classify("250 2.0.0 Ok: queued as 4BqB0B1ZxYz")
    assert.equals("delivered", r.reason)
    assert.equals("delivered", r.type)
    assert.is_false(r.permanent)
  end)

  it("lets text beat a generic code", function()
    assert.equals("userunknown", bounce.classify("550 5.0.0 <b@example.org>... User unknown").reason)
    local r = bounce.classify("554 5.7.1 Service unavailable; Client host [203.0.113.5] blocked using zen.spamhaus.org")
    assert.equals("blocked", r.reason)
    assert.equals("block", r.type)
    r = bounce.classify("452 4.2.2 Mailbox full")
    assert.equals("mailboxfull", r.reason)
    assert.equals("soft", r.type)
  end)

  it("falls back to the enhanced status, then to the basic code", function()
    local r = bounce.classify("550 5.1.2 zzz")
    assert.equals("hostunknown", r.reason)
    assert.equals("status:5.1.2", r.rule)
    r = bounce.classify("551 zzz")
    assert.equals("hasmoved", r.reason)
    assert.equals("code:551", r.rule)
    r = bounce.classify("zzz")
    assert.equals("undefined", r.reason)
    assert.equals("soft", r.type)
    assert.equals("default", r.rule)
  end)

  it("reads Microsoft's own enhanced codes (its code table) when the text says nothing more", function()
    for reply, want in pairs({
      ["550 5.2.122 zzz"] = "speeding",            -- the recipient's hourly receive limit
      ["550 5.4.310 zzz"] = "hostunknown",         -- the domain is not in DNS
      ["451 4.4.310 zzz"] = "networkerror",        -- ... a temporary DNS failure
      ["550 5.4.11 zzz"] = "networkerror",         -- a loop
      ["550 5.6.11 zzz"] = "notcompliantrfc",      -- bare line feeds
      ["550 5.7.51 zzz"] = "blocked",              -- the connector refuses the sending IP
      ["550 5.7.124 zzz"] = "filtered",            -- not in the group's allowed senders
      ["451 4.7.321 zzz"] = "failedstarttls",      -- the destination offers no STARTTLS
      ["550 5.7.323 zzz"] = "securityerror",       -- DANE validation failed
      ["550 5.7.508 zzz"] = "speeding",            -- the IPv6 range sent too much
    }) do
      local r = bounce.classify(reply)
      assert.equals(want, r.reason, reply)
      assert.matches("^provider:microsoft:", r.rule, reply)   -- Microsoft's code table
    end
  end)

  it("joins multi-line replies, LF or CRLF", function()
    for _, eol in ipairs({ "\n", "\r\n" }) do
      local r = bounce.classify("550-5.1.1 The email account that you tried to reach does" .. eol ..
        "550-5.1.1 not exist. Please try" .. eol .. "550 5.1.1 double-checking. gsmtp" .. eol)
      assert.equals(550, r.code)
      assert.equals("5.1.1", r.status)
      assert.equals("The email account that you tried to reach does not exist. Please try double-checking. gsmtp", r.text)
      assert.equals("userunknown", r.reason)
    end
  end)

  it("reads a multi-line reply a bounce unfolded onto one line", function()
    -- Postfix's Diagnostic-Code joins the lines with spaces and keeps their
    -- prefixes: the phrase "at a rate that prevents" spans two of them
    local r = bounce.classify("smtp; 550-5.2.1 The user you are trying to contact is receiving" ..
      " mail at a rate that 550-5.2.1 prevents additional messages from being delivered. For" ..
      " more 550 5.2.1 information - gsmtp")
    assert.same({ "speeding", "block", "gmail-receiving-rate" }, { r.reason, r.type, r.rule })
    assert.equals("The user you are trying to contact is receiving mail at a rate that prevents" ..
      " additional messages from being delivered. For more information - gsmtp", r.text)
  end)

  it("finds enhanced codes inside the text", function()
    assert.equals("5.1.2", bounce.classify("Sorry, I couldn't find any host named x.example. (#5.1.2)").status)
    assert.equals("5.7.1", bounce.classify("rejected (5.7.1) by policy").status)
    assert.equals("4.7.0", bounce.classify("deferred [4.7.0] try later").status)
  end)

  it("reads Diagnostic-Code prefixes and MTA wrappers", function()
    local r = bounce.classify("X-Postfix; host mx.example.com[192.0.2.1] said: 550 5.1.1 <a@example.com>: " ..
      "Recipient address rejected: User unknown (in reply to RCPT TO command)")
    assert.equals(550, r.code)
    assert.equals("5.1.1", r.status)
    assert.equals("mx.example.com", r.rhost)
    assert.equals("RCPT", r.command)
    assert.equals("<a@example.com>: Recipient address rejected: User unknown", r.text)
    r = bounce.classify("smtp; 550 5.7.1 denied")
    assert.equals(550, r.code)
    assert.equals("denied", r.text)
  end)

  it("keeps both codes when they disagree and lets the basic code decide permanence", function()
    local r = bounce.classify("550 4.2.2 mailbox full")
    assert.equals(550, r.code)
    assert.equals("4.2.2", r.status)
    assert.is_true(r.permanent)
    r = bounce.classify("452 5.2.2 mailbox full")
    assert.is_false(r.permanent)
  end)

  it("reads a user unknown after DATA as a filter's refusal", function()
    local r = bounce.classify("host mx.example.org[192.0.2.1] said: 550 5.1.1 User unknown (in reply to end of DATA command)")
    assert.equals("filtered", r.reason)
    assert.equals("DATA", r.command)
    assert.matches("^context:DATA<", r.rule)
    assert.are_not.equal("hard", r.type)
    -- the caller may state the command itself
    r = bounce.classify("550 5.1.1 User unknown", { command = "DATA" })
    assert.equals("filtered", r.reason)
    r = bounce.classify("550 5.1.1 User unknown", { command = "rcpt" })
    assert.equals("userunknown", r.reason)
  end)

  it("takes the remote host from opts", function()
    local r = bounce.classify("550 5.1.1 no", { rhost = "mx.example.net" })
    assert.equals("mx.example.net", r.rhost)
  end)

  describe("with hostile input", function()
    it("returns nil and a message for an empty reply", function()
      local r, err = bounce.classify("")
      assert.is_nil(r)
      assert.matches("empty reply", err)
      r, err = bounce.classify(" \r\n\t")
      assert.is_nil(r)
      assert.matches("empty reply", err)
    end)

    it("handles NUL bytes", function()
      local r = assert(bounce.classify("550 5.1.1 user\0 unknown\0"))
      assert.equals(550, r.code)
      assert.equals("user\0 unknown\0", r.text)
    end)

    it("handles a 1 MB text of invalid UTF-8", function()
      local t = {}
      for i = 1, 1024 * 1024 / 64 do t[i] = ("\200\255\254"):rep(21) .. "x" end
      local s = "550 5.7.1 " .. table.concat(t) .. " listed at a DNS blocklist"
      local r = assert(bounce.classify(s))
      assert.equals(550, r.code)
      assert.equals(#s - 10, #r.text)
    end)

    it("handles a reply that is only a code", function()
      local r = assert(bounce.classify("421"))
      assert.equals(421, r.code)
      assert.equals("", r.text)
      assert.is_false(r.permanent)
    end)

    it("ignores codes out of range", function()
      local r = assert(bounce.classify("650 9.9.9 strange"))
      assert.is_nil(r.code)
      assert.is_nil(r.status)
      r = assert(bounce.classify("199 too low"))
      assert.is_nil(r.code)
    end)

    it("joins 100 continuation lines", function()
      local lines = {}
      for i = 1, 99 do lines[i] = ("452-4.2.2 line %d"):format(i) end
      lines[100] = "452 4.2.2 mailbox full"
      local r = assert(bounce.classify(table.concat(lines, "\r\n")))
      assert.equals(452, r.code)
      assert.equals("mailboxfull", r.reason)
      assert.matches("^line 1 line 2 ", r.text)
      assert.is_nil(r.text:find("452", 1, true))
    end)

    it("refuses a reply over the size bound with a message", function()
      local r, err = bounce.classify(("x"):rep(require("bounce.core").REPLY_MAX + 1))
      assert.is_nil(r)
      assert.matches("reply too long", err)
    end)

    it("raises on wrong argument types", function()
      assert.has_error(function() bounce.classify(nil) end)
      assert.has_error(function() bounce.classify({}) end)
      assert.has_error(function() bounce.classify("550", "opts") end)
      assert.has_error(function() bounce.classify("550", { rhost = 5 }) end)
      assert.has_error(function() bounce.classify("550", { command = "FETCH" }) end)
      assert.has_error(function() bounce.classify("550", { rules = {} }) end)
    end)
  end)
end)

describe("the reason table", function()
  it("says hard exactly for dead addresses", function()
    local hard = {}
    for _, r in ipairs(bounce.reasons) do
      if r.type == "hard" then hard[#hard + 1] = r.name end
    end
    table.sort(hard)
    assert.same({ "hasmoved", "hostunknown", "notaccept", "userunknown" }, hard)
    assert.equals("soft", bounce.type_of("notaccept", false))
    assert.equals("hard", bounce.type_of("notaccept", true))
  end)

  it("sends reputation, authentication, policy, content and rate limits to block", function()
    for _, name in ipairs({ "blocked", "badreputation", "requireptr", "authfailure", "securityerror",
                            "spamdetected", "virusdetected", "contenterror", "policyviolation",
                            "notcompliantrfc", "norelaying", "rejected", "toomanyconn", "speeding" }) do
      assert.equals("block", bounce.type_of(name), name)
    end
    for _, name in ipairs({ "mailboxfull", "expired", "systemerror", "networkerror", "suspend", "undefined" }) do
      assert.equals("soft", bounce.type_of(name), name)
    end
  end)

  it("knows the Sisimai reason names and refuses an unknown one", function()
    local names = {}
    for _, r in ipairs(bounce.reasons) do names[r.name] = true end
    for n in ([[userunknown hostunknown hasmoved notaccept mailboxfull exceedlimit mesgtoobig suspend
      expired systemerror systemfull networkerror mailererror toomanyconn speeding blocked
      badreputation requireptr authfailure securityerror spamdetected virusdetected contenterror
      policyviolation notcompliantrfc norelaying rejected filtered syntaxerror failedstarttls onhold
      undefined delivered]]):gmatch("%S+") do
      assert.is_true(names[n], n)
    end
    local t, err = bounce.type_of("nosuch")
    assert.is_nil(t)
    assert.matches("unknown reason", err)
  end)

  it("describes registered enhanced status codes", function()
    local what, reason = bounce.describe("5.1.1")
    assert.matches("mailbox", what)
    assert.equals("userunknown", reason)
    assert.is_nil((bounce.describe("not a status")))
  end)
end)

describe("rules", function()
  after_each(function() bounce.rules.clear() end)

  it("adds a user rule that wins over the built-in ones", function()
    assert.equals("userunknown", bounce.classify("550 user unknown, account frozen").reason)
    assert(bounce.rules.add({ name = "acme-frozen", pattern = "account*frozen", reason = "suspend",
                              code = "55", example = "550 account frozen" }))
    local r = bounce.classify("550 user unknown, account frozen")
    assert.equals("suspend", r.reason)
    assert.equals("acme-frozen", r.rule)
    -- its conditions hold: a 4xx is not matched
    assert.are_not.equal("acme-frozen", bounce.classify("450 account frozen").rule)
  end)

  it("applies a remote-host condition", function()
    assert(bounce.rules.add({ pattern = "try again", reason = "toomanyconn", rhost = "example.net" }))
    assert.equals("toomanyconn", bounce.classify("421 try again", { rhost = "mx1.example.net" }).reason)
    assert.equals("toomanyconn", bounce.classify("host mx.example.net[192.0.2.1] said: 421 try again").reason)
    assert.are_not.equal("toomanyconn", bounce.classify("421 try again", { rhost = "mx.example.org" }).reason)
    assert.are_not.equal("toomanyconn", bounce.classify("421 try again", { rhost = "badexample.net" }).reason)
  end)

  it("keeps a final rule's dead address even when the refusal answered DATA", function()
    local data = { command = "DATA" }
    -- after DATA a plain "user unknown" is a filter speaking ...
    assert.equals("filtered", bounce.classify("550 5.1.1 user unknown", data).reason)
    -- ... but a receiver that checks recipients at DATA means it (built-in final rules)
    local y = bounce.classify("554 delivery error: dd This user doesn't have a yahoo.com account " ..
      "(x@yahoo.com) [0] - mta1.mail.example", data)
    assert.same({ "userunknown", "hard", "yahoo-no-account" }, { y.reason, y.type, y.rule })
    -- and a user rule may say the same of its own receiver
    assert(bounce.rules.add({ name = "acme-gone", pattern = "acme: no such mailbox",
                              reason = "userunknown", final = true }))
    assert.equals("userunknown", bounce.classify("550 acme: no such mailbox", data).reason)
    assert.is_true(bounce.rules.list()[1].final)
    assert.has_error(function()
      bounce.rules.add({ pattern = "x", reason = "blocked", final = "yes" })
    end, "bad argument #1 to 'add' (field 'final': boolean expected, got string)")
  end)

  it("lists rules, user rules first, and clears them", function()
    local n = bounce.rules.count()
    assert(bounce.rules.add({ pattern = "zebra", reason = "blocked" }))
    local list = bounce.rules.list()
    assert.equals(n + 1, #list)
    assert.equals("text:zebra", list[1].name)
    assert.is_true(list[1].user)
    assert.is_false(list[2].user)
    bounce.rules.clear()
    assert.equals(n, bounce.rules.count())
  end)

  it("returns nil and a message for a bad rule, and raises for wrong types", function()
    local ok, err = bounce.rules.add({ pattern = "x", reason = "nosuch" })
    assert.is_nil(ok)
    assert.matches("reason: unknown reason 'nosuch'", err)
    ok, err = bounce.rules.add({ pattern = "x", reason = "blocked", code = "650" })
    assert.is_nil(ok)
    assert.matches("^code:", err)
    ok, err = bounce.rules.add({ pattern = "x", reason = "blocked", command = "FETCH" })
    assert.is_nil(ok)
    assert.matches("^command:", err)
    assert.has_error(function() bounce.rules.add("x") end)
    assert.has_error(function() bounce.rules.add({ pattern = 1, reason = "blocked" }) end)
    assert.has_error(function() bounce.rules.add({ reason = "blocked" }) end)
  end)

  it("reports a rule that an earlier rule always shadows", function()
    assert(bounce.rules.add({ name = "wide", pattern = "refused", reason = "rejected" }))
    assert(bounce.rules.add({ name = "narrow", pattern = "refused by policy", reason = "policyviolation" }))
    local found
    for _, p in ipairs(bounce.rules.check()) do
      if p.rule == "narrow" then found = p end
    end
    assert.is_table(found)
    assert.equals("wide", found.other)
    assert.matches("never win", found.problem)
  end)

  it("keeps separate rule sets apart", function()
    local set = bounce.rules.new(false)
    assert.equals(0, set:count())
    assert(set:add({ pattern = "quux", reason = "spamdetected" }))
    assert.equals("spamdetected", set:classify("550 quux").reason)
    assert.equals("spamdetected", bounce.classify("550 quux", { rules = set }).reason)
    assert.are_not.equal("spamdetected", bounce.classify("550 quux").reason)
    assert.has_error(function() bounce.rules.new("yes") end)
  end)
end)

-- The whole IANA enhanced-status registry (spec/fixtures/enhanced-status.tsv,
-- a copy of the registry's 81 enumerated codes with the reason and type
-- their description implies): every row, as a bare 4xx and 5xx reply whose
-- text says nothing, is decided by the registry with that reason.
describe("the enhanced-status registry", function()
  local rows = {}
  for line in io.lines("spec/fixtures/enhanced-status.tsv") do
    local code, _, reason, type_, rfc = line:match("^(X%.%d+%.%d+)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    if code and code ~= "code" then
      rows[#rows + 1] = { code = code, reason = reason, type = type_, rfc = rfc }
    end
  end
  -- where bounce has a closer name than the row's: a host that takes no mail
  -- (RFC 7505 null MX; RFC 7504 pairs 5.3.2 with 521 "does not accept mail")
  local closer = { ["X.1.10"] = "notaccept", ["X.3.2"] = "notaccept" }
  -- said as temporary, a dead host is a DNS answer that may change, and a host
  -- that takes no mail is one down for now
  local temporary = { hostunknown = "networkerror", notaccept = "systemerror" }

  it("holds all 81 codes, X.0.0 to X.7.30", function()
    assert.equals(81, #rows)
    assert.equals("X.0.0", rows[1].code)
    assert.equals("X.7.30", rows[#rows].code)
  end)

  for _, row in ipairs(rows) do
    for _, class in ipairs({ 5, 4 }) do
      local status = row.code:gsub("^X", tostring(class))
      it(("%s (%s) -> %s"):format(status, row.rfc, row.reason), function()
        local r = assert(bounce.classify(("%d %s"):format(class * 100 + 50, status)))
        local want = closer[row.code] or (row.reason == "-" and "undefined" or row.reason)
        if class == 4 then want = temporary[want] or want end
        assert.equals(want, r.reason)
        assert.equals(class == 5, r.permanent)
        if want ~= "undefined" then
          assert.equals("status:" .. status, r.rule)
          if class == 5 and not closer[row.code] and row.type ~= "-" then
            assert.equals(row.type, r.type)
          end
        end
      end)
    end
  end
end)

-- The DSN's own fields where the reply names no cause (RFC 3464 2.3.3), and
-- local delivery programs whose output says more than "mailer error".
describe("the decision's fallbacks in a delivery report", function()
  local function dsn(action, status, diag, human)
    return table.concat({
      "From: MAILER-DAEMON@mx.example.org\r\nTo: a@example.org\r\nSubject: Delivery Status Notification\r\n",
      "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n",
      "--B\r\nContent-Type: text/plain\r\n\r\n", human or "Delivery to b@example.net failed.", "\r\n\r\n",
      "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n",
      "Final-Recipient: rfc822; b@example.net\r\nAction: ", action, "\r\nStatus: ", status, "\r\n",
      diag and ("Diagnostic-Code: " .. diag .. "\r\n") or "", "\r\n--B--\r\n" })
  end
  local function record(...)
    local res = assert(bounce.parse(dsn(...)))
    return assert((res.records or res)[1])
  end

  it("reads a delay notice that names no cause as a message kept in the queue too long", function()
    local r = record("delayed", "4.4.0", nil, "Your message has not been delivered yet; the server will keep trying.")
    assert.equals("expired", r.reason)
    assert.equals("soft", r.type)
    assert.is_true(r.delayed)
  end)

  it("keeps the cause a delay notice names, and the notice a warning", function()
    local r = record("delayed", "4.2.2", "smtp; 452 4.2.2 Mailbox full")
    assert.equals("mailboxfull", r.reason)
    assert.is_true(r.delayed)
    r = record("delayed", "4.4.1", "smtp; 421 4.4.1 Connection timed out")
    assert.is_true(r.delayed)
  end)

  it("takes a notice marked delayed whose words say the message expired for the final one", function()
    local r = record("delayed", "4.4.7", nil, "b@example.net: Envelope expired")
    assert.equals("expired", r.reason)
    assert.is_false(r.delayed)
  end)

  it("reads a failure with nothing but a temporary status as given up after retries", function()
    local r = record("failed", "4.0.0", nil)
    assert.equals("expired", r.reason)
    assert.equals("soft", r.type)
    -- a permanent generic status is no expiry
    assert.are_not.equal("expired", record("failed", "5.0.0", nil).reason)
  end)

  it("lets a delivery program's output decide, else calls it a mailer error", function()
    assert.equals("mailererror", record("failed", "5.3.0",
      "X-Postfix; Command died with status 1: \"/usr/local/bin/filter\"").reason)
    assert.equals("userunknown", record("failed", "5.3.0",
      "X-Postfix; Command died with status 67: \"/usr/lib/dovecot/deliver\". Command output: user unknown").reason)
    assert.equals("mailboxfull", record("failed", "5.2.2",
      "X-Postfix; Command died with status 75: \"/usr/lib/dovecot/deliver\". Command output: Quota exceeded").reason)
  end)
end)
