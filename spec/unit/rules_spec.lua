-- The built-in text rules: their health (every example decided by its own
-- rule, none shadowed), and what they make of real provider wordings.
local bounce = require("bounce")

-- Classifies reply and checks reason and type together, naming the reply
-- and the deciding rule when either is wrong.
local function expect(reply, reason, type_)
  local r = assert(bounce.classify(reply))
  local got = r.reason .. "/" .. r.type
  local want = reason .. "/" .. type_
  assert(got == want, ("%q\n  expected %s, got %s (rule %s)"):format(reply, want, got, r.rule))
  return r
end

describe("built-in rules", function()
  before_each(function() bounce.rules.clear() end)

  it("pass their own check: no rule shadowed, every example decided by its rule", function()
    local problems = bounce.rules.check()
    local lines = {}
    for _, p in ipairs(problems) do
      lines[#lines + 1] = ("%s: %s (%s)"):format(p.rule, p.problem, tostring(p.other))
    end
    assert(#problems == 0, table.concat(lines, "\n"))
  end)

  it("list a name, a pattern, a reason, an example and a source for every rule", function()
    local list = bounce.rules.list()
    assert.is_true(#list >= 300, "expected a few hundred rules, got " .. #list)
    local names = {}
    for i, r in ipairs(list) do
      assert.is_string(r.name, "rule " .. i .. " has no name")
      -- a provider code table entry is named after the provider's code
      if r.name:match("^provider:") then
        assert.matches("^provider:[a-z0-9-]+:[%w._#:-]+$", r.name)
        assert.equals(r.name:match("^provider:[^:]+"), r.source)
      else
        assert.matches("^[a-z0-9]+[a-z0-9-]*$", r.name)
      end
      assert.is_string(r.source, r.name)
      assert.matches("^[a-z]+", r.source)
      assert.is_truthy(r.source == "wording" or r.source:match("^rfc:%d+$") or
                       r.source:match("^provider:[a-z0-9-]+$") or r.source:match("^mta:[a-z0-9-]+$"),
                       r.name .. ": source " .. r.source)
      assert.is_nil(names[r.name], "two rules are named " .. r.name)
      names[r.name] = true
      assert.is_string(r.pattern, r.name)
      if r.source == "wording" then
        assert.is_string(r.counter, r.name .. ": a general-wording rule needs a counter-example")
      end
      assert.equals(r.pattern:lower(), r.pattern, r.name .. ": patterns are lower case")
      assert.is_string(r.reason, r.name)
      assert.is_string(r.example, r.name)
      assert.is_false(r.user, r.name)
    end
  end)

  describe("decide their own example:", function()
    for _, rule in ipairs(bounce.rules.list()) do
      it(rule.name .. " -> " .. rule.reason, function()
        local r = assert(bounce.classify(rule.example))
        assert.equals(rule.name, r.rule)
        assert.equals(rule.reason, r.reason)
      end)
    end
  end)

  -- A counter-example holds the rule's words where they mean something else:
  -- inside advice, at a stage where the reason is impossible, or in the
  -- sense an earlier rule reads. The rule must not decide it.
  describe("leave their counter-example to another reading:", function()
    for _, rule in ipairs(bounce.rules.list()) do
      if rule.counter then
        it(rule.name .. " does not decide " .. rule.counter:sub(1, 50), function()
          local r = assert(bounce.classify(rule.counter))
          local decided = r.rule == rule.name
          assert.is_false(decided, ("%q is decided by %s (%s)"):format(rule.counter, r.rule, r.reason))
          -- a near miss: the counter holds every word of the pattern's first alternative
          -- or fragment, else the check could not fail
          local text = rule.counter:lower():gsub("%s+", " ")
          local found = false
          for alt in (rule.pattern .. "|"):gmatch("([^|]*)|") do
            local ok, from = true, 1
            for frag in (alt .. "*"):gmatch("([^*]*)%*") do
              frag = frag:gsub("^ ", ""):gsub(" $", "")
              local a, b = text:find(frag, from, true)
              if not a then ok = false break end
              from = b + 1
            end
            if ok then found = true break end
          end
          assert.is_true(found, rule.name .. ": the counter-example lacks the rule's words")
        end)
      end
    end
  end)

  it("count by source: every built-in rule says where its meaning comes from", function()
    local by = {}
    for _, r in ipairs(bounce.rules.list()) do
      local kind = r.source:match("^[a-z]+")
      by[kind] = (by[kind] or 0) + 1
    end
    for _, kind in ipairs({ "rfc", "provider", "mta", "wording" }) do
      assert.is_true((by[kind] or 0) > 10, kind .. ": " .. tostring(by[kind]))
    end
  end)
end)

describe("text beats a generic code", function()
  it("reads 550 5.0.0 ... user unknown as an unknown user", function()
    local r = expect("550 5.0.0 <b@example.org>... User unknown", "userunknown", "hard")
    assert.equals("user-unknown", r.rule)
  end)

  it("reads 554 5.7.1 ... listed at a DNS blocklist as blocked", function()
    expect("554 5.7.1 Service unavailable; Client host [203.0.113.5] is listed at a DNS blocklist",
      "blocked", "block")
    expect("554 5.7.1 Service unavailable; Client host [203.0.113.5] blocked using zen.spamhaus.org",
      "blocked", "block")
  end)

  it("reads 452 4.2.2 mailbox full as a full mailbox, a soft bounce", function()
    expect("452 4.2.2 Mailbox full", "mailboxfull", "soft")
  end)

  it("still lets the status decide when the text says nothing", function()
    expect("550 5.1.1 <zed@example.org>...", "userunknown", "hard")
  end)
end)

describe("provider wordings", function()
  describe("Google / Gmail", function()
    it("treats 550 5.1.1 'account ... does not exist' as a hard bounce", function()
      expect("550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n" ..
        "550 5.1.1 double-checking the recipient's email address. a1si2 - gsmtp", "userunknown", "hard")
    end)
    it("reads a disabled account as suspended, not dead", function()
      expect("550 5.2.1 The email account that you tried to reach is disabled. b3si4 - gsmtp",
        "suspend", "soft")
    end)
    it("reads a full inbox as a soft bounce", function()
      expect("452 4.2.2 The recipient's inbox is out of storage space. - gsmtp", "mailboxfull", "soft")
    end)
    it("reads the receiving-rate limit as speeding", function()
      expect("450 4.2.1 The user you are trying to contact is receiving mail at a rate that " ..
        "prevents additional messages from being delivered. - gsmtp", "speeding", "block")
    end)
    it("reads the RFC 5322 notice as non-compliance although it mentions spam", function()
      expect("550 5.7.1 This message is not RFC 5322 compliant. There are multiple From headers. " ..
        "To reduce the amount of spam sent to Gmail, this message has been blocked.",
        "notcompliantrfc", "block")
    end)
    it("reads the 5.7.26 unauthenticated notice as an authentication failure", function()
      expect("550 5.7.26 This mail has been blocked because the sender is unauthenticated.",
        "authfailure", "block")
    end)
    it("reads the unsolicited-rate deferral as bad reputation", function()
      expect("421 4.7.28 Our system has detected an unusual rate of unsolicited mail originating " ..
        "from your IP address. - gsmtp", "badreputation", "block")
    end)
  end)

  describe("Microsoft (Exchange Online, Outlook.com)", function()
    it("treats 550 5.1.1 RESOLVER.ADR.RecipNotFound as a hard bounce", function()
      expect("550 5.1.1 RESOLVER.ADR.RecipNotFound; not found", "userunknown", "hard")
    end)
    it("reads 5.7.606-649 'banned sending IP' as blocked", function()
      expect("550 5.7.621 Access denied, banned sending IP [198.51.100.7].", "blocked", "block")
    end)
    it("reads 550 5.4.1 Recipient address rejected: Access denied as an unknown user", function()
      -- Directory-Based Edge Blocking: the address is not in the tenant
      local r = expect("550 5.4.1 Recipient address rejected: Access denied", "userunknown", "hard")
      assert.equals("provider:microsoft:5.4.1", r.rule)
      -- Postfix's access map says the same words under 5.7.1: a refusal
      expect("554 5.7.1 <a@example.net>: Recipient address rejected: Access denied",
             "rejected", "block")
    end)
    it("reads the directory-based edge block AS(201806281) as an unknown user", function()
      expect("550 5.4.1 Recipient address rejected: Access denied. AS(201806281)", "userunknown", "hard")
    end)
    it("reads 5.4.1 'Relay Access Denied' as relaying, not as a recipient refusal", function()
      expect("550 5.4.1 Relay Access Denied ATTR36", "norelaying", "block")
    end)
    it("reads the Outlook.com block list notice as blocked", function()
      expect("550 SC-002 (BAY0-MC1-F2) Unfortunately, messages from 198.51.100.7 weren't sent. " ..
        "Please contact your Internet service provider since part of their network is on our " ..
        "block list.", "blocked", "block")
    end)
    it("reads 4.7.650 IP reputation rate limiting as bad reputation", function()
      expect("451 4.7.650 The mail server [198.51.100.7] has been temporarily rate limited due to " ..
        "IP reputation.", "badreputation", "block")
    end)
  end)

  describe("Yahoo and AOL", function()
    it("reads [TSS04] as bad reputation, to retry later", function()
      expect("421 4.7.0 [TSS04] Messages from 198.51.100.7 temporarily deferred due to unexpected " ..
        "volume or user complaints - 4.16.55.1", "badreputation", "block")
    end)
    it("reads [TS03] 'permanently deferred' as blocked", function()
      expect("553 5.7.1 [TS03] All messages from 198.51.100.7 will be permanently deferred; " ..
        "Retrying will NOT succeed.", "blocked", "block")
    end)
    it("reads 554 5.7.9 policy reasons as a policy violation, not a security error", function()
      expect("554 5.7.9 Message not accepted for policy reasons.", "policyviolation", "block")
    end)
    it("treats 'doesn't have a yahoo.com account' as a hard bounce", function()
      expect("554 delivery error: dd This user doesn't have a yahoo.com account " ..
        "(x@yahoo.com) [0] - mta1.mail.example", "userunknown", "hard")
    end)
  end)

  describe("Apple iCloud", function()
    it("treats an inactive address as a hard bounce", function()
      expect("550 5.1.1 <x@icloud.com>: inactive email address", "userunknown", "hard")
    end)
    it("tells the one 'local policy' wording apart by its code: [CS01] blocked, [CS02] reputation",
       function()
      expect("554 5.7.1 [CS01] Message rejected due to local policy.", "blocked", "block")
      expect("554 5.7.1 [CS02] Message rejected due to local policy.", "badreputation", "block")
      expect("554 5.7.1 Message rejected due to local policy.", "policyviolation", "block")
    end)
  end)

  describe("Orange", function()
    it("treats OFR_416 'invalid recipient' as a hard bounce", function()
      expect("550 5.1.1 Adresse d au moins un destinataire invalide. Invalid recipient. OFR_416 [416]",
        "userunknown", "hard")
    end)
    it("reads OFR_417 'recipient overquota' as a full mailbox", function()
      expect("552 5.2.2 Boite du destinataire pleine. Recipient overquota. OFR_417 [417]",
        "mailboxfull", "soft")
    end)
  end)

  describe("GMX and WEB.DE", function()
    it("reads 'IP address is black listed' as blocked", function()
      expect("554-gmx.net (mxgmx001) Nemesis ESMTP Service not available\n" ..
        "554-IP address is black listed.\n554 For explanation visit https://postmaster.gmx.net/",
        "blocked", "block")
    end)
    it("reads 'Bad DNS PTR resource record' as a missing PTR", function()
      expect("554-No SMTP service\n554 Bad DNS PTR resource record.", "requireptr", "block")
    end)
  end)

  describe("Mail.ru and Yandex", function()
    it("treats Mail.ru's 'invalid mailbox' as a hard bounce", function()
      expect("550 Message was not accepted -- invalid mailbox.  Local mailbox x@mail.ru is " ..
        "unavailable: user not found", "userunknown", "hard")
    end)
    it("reads Mail.ru's disabled account as suspended", function()
      expect("550 Message was not accepted -- invalid mailbox.  Local mailbox x@mail.ru is " ..
        "unavailable: account is disabled", "suspend", "soft")
    end)
    it("treats Yandex's 'No such user!' as a hard bounce", function()
      expect("550 5.7.1 No such user!", "userunknown", "hard")
    end)
    it("reads Yandex's spam suspicion as spam", function()
      expect("554 5.7.1 [2] Message rejected under suspicion of SPAM; https://ya.cc/1IrBc",
        "spamdetected", "block")
    end)
  end)

  describe("Zoho", function()
    it("treats 'User does not exist' as a hard bounce", function()
      expect("550 5.1.1 User does not exist - <x@zoho.example>", "userunknown", "hard")
    end)
    it("reads 'Relaying disallowed' as relaying", function()
      expect("553 Relaying disallowed as x@example.org", "norelaying", "block")
    end)
  end)

  describe("filtering services and appliances", function()
    it("reads Proofpoint's DNSBL notice as blocked", function()
      expect("554 5.7.1 Blocked - see https://support.proofpoint.com/dnsbl-lookup.cgi?ip=198.51.100.7",
        "blocked", "block")
    end)
    it("treats Mimecast's 'Invalid Recipient' as a hard bounce", function()
      expect("550 Invalid Recipient - https://community.mimecast.com/docs/DOC-1369#550",
        "userunknown", "hard")
    end)
    it("reads Mimecast's 'Envelope blocked' as a refused sender", function()
      expect("550 Envelope blocked - User Entry - https://community.mimecast.com/docs/DOC-1369#550",
        "rejected", "block")
    end)
    it("reads Barracuda's reputation list as blocked", function()
      expect("554 Service unavailable; Client host [198.51.100.7] blocked using Barracuda " ..
        "Reputation, see http://www.barracudanetworks.com/reputation/?ip=198.51.100.7",
        "blocked", "block")
    end)
    it("treats Cisco IronPort's '#5.1.0 Address rejected' as a hard bounce", function()
      expect("550 #5.1.0 Address rejected.", "userunknown", "hard")
    end)
    it("reads Cisco IronPort's 'poor reputation' as bad reputation", function()
      expect("554 Your access to this mail system has been rejected due to the sending MTA's " ..
        "poor reputation.", "badreputation", "block")
    end)
  end)

  describe("blocklists", function()
    local lists = {
      "554 5.7.1 Service unavailable; Client host [198.51.100.7] blocked using zen.spamhaus.org",
      "550 5.7.1 Rejected: 198.51.100.7 listed at https://www.spamcop.net/bl.shtml?198.51.100.7",
      "554 5.7.1 Rejected - see http://www.sorbs.net/lookup.shtml?198.51.100.7",
      "550 5.7.1 IP 198.51.100.7 is listed in UCEPROTECT-Level1",
      "554 5.7.1 Client host [198.51.100.7] rejected, see b.barracudacentral.org",
      "553 5.7.1 Connections not accepted from IP addresses on Spamhaus PBL",
    }
    for _, reply in ipairs(lists) do
      it("reads an IP listing as blocked: " .. reply:sub(11, 60), function()
        expect(reply, "blocked", "block")
      end)
    end
    it("reads a URI listing of the message as spam, not a blocked host", function()
      expect("554 5.7.1 Message rejected: link listed in multi.uribl.com", "spamdetected", "block")
    end)
  end)
end)

describe("reason families", function()
  local cases = {
    { "an unknown user", "550 5.1.1 <a@example.org>: Recipient address rejected: User unknown " ..
      "in local recipient table", "userunknown", "hard" },
    { "an unknown domain", "550 5.1.2 Host unknown (Name server: example.invalid: host not found)",
      "hostunknown", "hard" },
    { "a moved address", "551 5.1.6 User has moved; please try <b@example.net>", "hasmoved", "hard" },
    { "a null MX said with 5xx", "556 5.1.10 Recipient address has null MX", "notaccept", "hard" },
    { "a null MX said with 4xx", "450 4.1.10 Recipient domain has null MX", "notaccept", "soft" },
    { "a full mailbox", "552 5.2.2 <a@example.org>: user is over quota", "mailboxfull", "soft" },
    { "a disabled mailbox", "550 5.2.1 This mailbox has been suspended", "suspend", "soft" },
    { "a message over the recipient's limit", "552 5.2.3 Message length exceeds administrative limit",
      "exceedlimit", "soft" },
    { "a message too big for the system", "552 5.3.4 Message size exceeds fixed maximum message size",
      "mesgtoobig", "soft" },
    { "a full mail system", "452 4.3.1 Insufficient system storage", "systemfull", "soft" },
    { "a remote system error", "451 4.3.0 Temporary local problem - please try later",
      "systemerror", "soft" },
    { "a local delivery agent failure", "554 5.3.0 unknown mailer error 1", "mailererror", "soft" },
    { "a network failure", "lost connection with mx.example.net[203.0.113.9] while sending RCPT TO",
      "networkerror", "soft" },
    { "a timeout after retrying", "connect to mx.example.net[203.0.113.9]:25: Connection timed out",
      "expired", "soft" },
    { "an expired message", "550 4.4.7 QUEUE.Expired; message expired", "expired", "soft" },
    { "a queue that gave up", "Delivery failed: retry time exceeded for b@example.net", "expired", "soft" },
    { "a delay notice", "Delivery to the following recipient has been delayed. Message will be retried "
      .. "for 2 more day(s)", "expired", "soft" },
    { "a delay notice that names its cause", "Deferred: Connection refused by mx.example.net. Warning: "
      .. "message still undelivered after 4 hours. Will keep trying until message is 5 days old",
      "networkerror", "soft" },
    { "a session closed for protocol errors", "421 4.7.0 mx.example.net Error: too many errors",
      "syntaxerror", "block" },
    { "a message on hold", "451 4.3.0 Message is on hold pending review", "onhold", "soft" },
    { "a recipient filter", "550 5.7.1 User refuses to accept mail from this sender", "filtered", "soft" },
    { "too many connections", "421 4.7.0 Too many concurrent SMTP connections; try again later",
      "toomanyconn", "block" },
    { "too many recipients", "452 4.5.3 Too many recipients", "toomanyconn", "block" },
    { "a sending rate limit", "450 4.7.1 Rate limit exceeded for 198.51.100.7", "speeding", "block" },
    { "a bad reputation", "421 4.7.0 Deferred: sender has a poor reputation", "badreputation", "block" },
    { "a missing PTR record", "550 5.7.25 No PTR record found for 198.51.100.7", "requireptr", "block" },
    { "a DMARC rejection", "550 5.7.1 Email rejected per DMARC policy for example.org",
      "authfailure", "block" },
    { "an SPF failure", "550 5.7.23 SPF validation failed for example.org", "authfailure", "block" },
    { "missing SMTP authentication", "530 5.7.0 Authentication required", "securityerror", "block" },
    { "a required STARTTLS", "530 5.7.0 Must issue a STARTTLS command first", "failedstarttls", "block" },
    { "spam", "550 5.7.1 Message rejected as spam by Content Filtering", "spamdetected", "block" },
    { "a virus", "554 5.7.0 Virus found in attachment", "virusdetected", "block" },
    { "broken MIME", "554 5.6.0 This message contains invalid MIME headers", "contenterror", "block" },
    { "a policy violation", "550 5.7.0 Local Policy Violation", "policyviolation", "block" },
    { "an RFC 5322 violation", "550 5.7.1 Messages with multiple addresses in From: are not accepted",
      "notcompliantrfc", "block" },
    { "a relay refusal", "554 5.7.1 <a@example.org>: Relay access denied", "norelaying", "block" },
    { "a refused sender", "553 5.1.8 <b@example.org>: Sender address rejected: Domain not found",
      "rejected", "block" },
    { "an SMTP syntax error", "500 5.5.1 Command unrecognized: \"XYZZY\"", "syntaxerror", "block" },
    { "a blocked host", "554 5.7.1 Your IP 198.51.100.7 is listed on our blocklist", "blocked", "block" },
  }
  for _, c in ipairs(cases) do
    it(("reads %s as %s (%s)"):format(c[1], c[3], c[4]), function()
      expect(c[2], c[3], c[4])
    end)
  end

  it("keeps a temporary 'mailbox unavailable' from reading as a dead address", function()
    local r = assert(bounce.classify("450 4.2.1 Requested action not taken: mailbox unavailable"))
    assert.are_not.equal("userunknown", r.reason)
    assert.are_not.equal("hard", r.type)
  end)

  it("reads Postfix's 'Host not found, try again' as a DNS hiccup, not a dead domain", function()
    expect("Host or domain name not found. Name service error for name=example.net type=MX: " ..
      "Host not found, try again", "networkerror", "soft")
  end)

  it("does not take the sender's null MX or unknown domain for the recipient's", function()
    expect("550 5.7.27 Sender address has null MX", "rejected", "block")
    expect("450 4.1.8 <b@example.org>: Sender address rejected: Domain not found", "rejected", "block")
  end)

  it("does not take a HELO host lookup failure for an unknown recipient domain", function()
    expect("450 4.7.1 <bogus.example>: Helo command rejected: Host not found", "blocked", "block")
  end)
end)

-- The reply set written from the providers' and RFCs' documentation
-- (bench/reference_replies.tsv; `make reference` prints the figures): every
-- documented row of ../shared/reference/providers.md, each read as its
-- documentation says (or, for the few rows of kind "labelled", as the
-- labelled corpus reads it), and every counter-example (a provider's word
-- inside advice, in another sense, at an impossible stage, in a transcript)
-- read as the other failure it is.
describe("the documentation-derived reply set", function()
  local rows = {}
  for line in io.lines("bench/reference_replies.tsv") do
    if not line:match("^#") and line:match("%S") then
      local kind, section, reason, type_, reply = line:match("^(%a+)\t([^\t]+)\t(%a+)\t(%a+)\t(.+)$")
      assert(kind, "malformed line: " .. line)
      rows[#rows + 1] = { kind = kind, section = section, reason = reason, type = type_,
                          reply = reply:gsub("\\n", "\n") }
    end
  end

  it("covers the providers of the reference", function()
    local seen = {}
    for _, row in ipairs(rows) do seen[row.section] = true end
    for _, s in ipairs({ "rfc5321", "rfc7505", "google", "microsoft", "yahoo", "apple", "orange", "free",
                         "sfr", "gmx", "t-online", "mailru", "yandex", "qq", "netease", "comcast", "att",
                         "cox", "zoho", "proofpoint", "mimecast", "barracuda", "trendmicro", "blocklists" }) do
      assert.is_true(seen[s], s)
    end
    assert.is_true(#rows > 280, "rows: " .. #rows)
  end)

  for i, row in ipairs(rows) do
    it(("%s row %d (%s) reads as %s"):format(row.kind, i, row.section, row.reason), function()
      local r = assert(bounce.classify(row.reply))
      assert.equals(row.reason, r.reason, row.reply)
      assert.equals(row.type == "hard", r.type == "hard", row.reply)
      if row.kind == "counter" then assert.equals(row.type, r.type, row.reply) end
    end)
  end
end)
