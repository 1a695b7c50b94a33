-- bounce.webhooks: provider payloads (spec/fixtures/webhooks, written from
-- each provider's documented shapes) made into tracker events; hostile
-- payloads; Mailgun and SNS signatures.
local webhooks = require("bounce.webhooks")
local bounce = require("bounce")
local cjson = require("cjson")
local sns = require("spec.support.sns")

local function fixture(name)
  local f = assert(io.open("spec/fixtures/webhooks/" .. name .. ".json", "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local function parse(provider, name)
  local r, err = webhooks.parse(provider, fixture(name))
  assert(r, err)
  return r
end

local function only(r)
  assert.equals(1, #r.events)
  return r.events[1]
end

describe("webhooks.parse", function()
  describe("postmark", function()
    it("maps a hard bounce, and the server's reply confirms userunknown", function()
      local ev = only(parse("postmark", "postmark_bounce"))
      assert.equals("Jane.Doe@Example.ORG", ev.rcpt)
      assert.equals("hard", ev.type)
      assert.equals("userunknown", ev.reason)
      assert.equals("reply", ev.source)
      assert.equals("hard", ev.provider_type)
      assert.equals(550, ev.code)
      assert.equals("5.1.1", ev.status)
      assert.matches("^550 5%.1%.1 The email account", ev.reply)   -- "smtp;" removed
      assert.equals(1762360434, ev.at)                                 -- 2025-11-05T16:33:54Z
      assert.equals("welcome", ev.campaign)
      assert.equals("news@sender.example", ev.sender)
    end)

    it("reads a soft bounce's reply for the reason Postmark does not give", function()
      local ev = only(parse("postmark", "postmark_softbounce"))
      assert.equals("soft", ev.type)
      assert.equals("mailboxfull", ev.reason)
      assert.equals("undefined", ev.provider_reason)
      assert.equals("reply", ev.source)
    end)

    it("maps deliveries and spam complaints", function()
      local d = only(parse("postmark", "postmark_delivery"))
      assert.same({ "ok@example.org", "delivered", "provider" }, { d.rcpt, d.type, d.source })
      local c = only(parse("postmark", "postmark_complaint"))
      assert.same({ "grumpy@example.org", "complaint", "feedback" }, { c.rcpt, c.type, c.reason })
    end)

    it("skips opens and reports them", function()
      local r = parse("postmark", "postmark_open")
      assert.equals(0, #r.events)
      assert.same({ { index = 1, event = "Open", why = "not a delivery outcome" } }, r.skipped)
    end)

    it("falls back to the provider when the reply says nothing specific", function()
      local body = cjson.decode(fixture("postmark_bounce"))
      body.Details = "Test bounce details"
      local ev = only(assert(webhooks.parse("postmark", cjson.encode(body))))
      assert.equals("provider", ev.source)
      assert.same({ "hard", "userunknown" }, { ev.type, ev.reason })
    end)
  end)

  describe("ses", function()
    it("unwraps the SNS envelope and lets the diagnostic code refine Permanent/General", function()
      local r = parse("ses", "ses_bounce")
      local ev = only(r)
      assert.equals("jane.doe@example.org", ev.rcpt)
      assert.same({ "hard", "userunknown", "reply" }, { ev.type, ev.reason, ev.source })
      assert.same({ "hard", "undefined" }, { ev.provider_type, ev.provider_reason })
      assert.equals("Permanent/General", ev.provider_label)
      assert.equals("nov-2025", ev.campaign)
      assert.equals("news@sender.example", ev.sender)
      assert.equals("Notification", r.sns.Type)
    end)

    it("maps Transient/MailboxFull without a diagnostic", function()
      local ev = only(parse("ses", "ses_mailboxfull"))
      assert.same({ "soft", "mailboxfull", "provider", false }, { ev.type, ev.reason, ev.source, ev.permanent })
    end)

    it("maps deliveries and complaints", function()
      assert.equals("delivered", only(parse("ses", "ses_delivery")).type)
      local c = only(parse("ses", "ses_complaint"))
      assert.same({ "grumpy@example.org", "complaint" }, { c.rcpt, c.type })
    end)

    it("gives back the SubscribeURL of a subscription confirmation", function()
      local r = parse("ses", "ses_subscription_confirmation")
      assert.equals(0, #r.events)
      assert.matches("^https://sns%.us%-east%-1%.amazonaws%.com/%?Action=ConfirmSubscription", r.subscribe_url)
    end)

    it("refuses a SubscribeURL on another host", function()
      local body = cjson.decode(fixture("ses_subscription_confirmation"))
      for _, url in ipairs({ "https://evil.example/?Action=ConfirmSubscription",
                             "https://sns.us-east-1.amazonaws.com.evil.example/x",
                             "https://sns.us-east-1.amazonaws.com@evil.example/x",
                             "http://sns.us-east-1.amazonaws.com/x" }) do
        body.SubscribeURL = url
        local r, err = webhooks.parse("ses", cjson.encode(body))
        assert.is_nil(r)
        assert.matches("SubscribeURL': not an allowed SNS URL", err)
      end
    end)

    it("says where the inner message is broken", function()
      local body = cjson.decode(fixture("ses_bounce"))
      body.Message = "{not json"
      local _, err = webhooks.parse("ses", cjson.encode(body))
      assert.equals("ses: field 'Message': JSON object expected inside the SNS envelope", err)
      local m = cjson.decode(cjson.decode(fixture("ses_bounce")).Message)
      m.bounce.bouncedRecipients[1].emailAddress = 42
      local _, err2 = webhooks.parse("ses", m)   -- a raw SES message, already decoded
      assert.equals("ses.bounce.bouncedRecipients[1]: field 'emailAddress': string expected, got number", err2)
    end)
  end)

  describe("sendgrid", function()
    it("maps bounce classifications; a blocklist reply stays a block", function()
      local r = parse("sendgrid", "sendgrid_bounce")
      assert.equals(2, #r.events)
      local a, b = r.events[1], r.events[2]
      assert.same({ "jane.doe@example.org", "hard", "userunknown", "reply" }, { a.rcpt, a.type, a.reason, a.source })
      assert.same({ "block", "blocked", "badreputation" }, { b.type, b.reason, b.provider_reason })
      assert.equals(1762354778, a.at)
      assert.equals("nov-2025", a.campaign)
    end)

    it("maps deliveries, spam reports and unsubscribes; skips the rest", function()
      local d = parse("sendgrid", "sendgrid_delivery")
      assert.equals(1, #d.events)
      assert.equals("delivered", d.events[1].type)
      assert.equals("processed", d.skipped[1].event)
      local c = parse("sendgrid", "sendgrid_complaint")
      assert.same({ "complaint", "unsubscribe" }, { c.events[1].type, c.events[2].type })
      assert.same({ { index = 3, event = "open", why = "not a delivery outcome" } }, c.skipped)
    end)
  end)

  describe("mailgun", function()
    it("joins delivery-status code and message into the reply", function()
      local ev = only(parse("mailgun", "mailgun_bounce"))
      assert.equals("550 5.1.1 The email account that you tried to reach does not exist.", ev.reply)
      assert.same({ "hard", "userunknown", "reply", 550 }, { ev.type, ev.reason, ev.source, ev.code })
      assert.equals(1762354778, ev.at)
      assert.equals("20251105145938.1.DEADBEEF@sender.example", ev.id)
    end)

    it("maps a temporary failure to a soft bounce", function()
      local ev = only(parse("mailgun", "mailgun_temporary"))
      assert.same({ "soft", "mailboxfull", false }, { ev.type, ev.reason, ev.permanent })
    end)

    it("maps deliveries and complaints, skips Mailgun's own suppressions", function()
      assert.equals("delivered", only(parse("mailgun", "mailgun_delivery")).type)
      assert.equals("complaint", only(parse("mailgun", "mailgun_complaint")).type)
      local r = parse("mailgun", "mailgun_suppressed")
      assert.equals(0, #r.events)
      assert.equals("failed/suppress-bounce", r.skipped[1].event)
    end)
  end)

  describe("sparkpost", function()
    it("maps bounce classes, with raw_reason deciding", function()
      local r = parse("sparkpost", "sparkpost_bounce")
      local a, b = r.events[1], r.events[2]
      assert.same({ "hard", "userunknown", "reply" }, { a.type, a.reason, a.source })
      assert.equals("bounce_class 10", a.provider_label)
      assert.same({ "full@example.org", "soft", "mailboxfull" }, { b.rcpt, b.type, b.reason })
      assert.equals("nov-2025", a.campaign)
    end)

    it("maps deliveries, complaints and list unsubscribes; skips opens", function()
      local d = parse("sparkpost", "sparkpost_delivery")
      assert.equals("delivered", only(d).type)
      assert.equals("track_event/open", d.skipped[1].event)
      local c = parse("sparkpost", "sparkpost_complaint")
      assert.same({ "complaint", "unsubscribe" }, { c.events[1].type, c.events[2].type })
    end)

    it("skips the empty ping SparkPost sends when a webhook is created", function()
      local r = assert(webhooks.parse("sparkpost", '[{"msys":{}}]'))
      assert.equals(0, #r.events)
      assert.equals("ping", r.skipped[1].event)
    end)
  end)

  describe("feeds a tracker", function()
    it("suppresses the hard bounce and the complaint, keeps the delivered address", function()
      local t = bounce.tracker{}
      for _, f in ipairs({ "postmark_bounce", "ses_complaint", "sendgrid_delivery" }) do
        local r = parse(f:match("^%a+"), f)
        for _, ev in ipairs(r.events) do assert(t:record(webhooks.tracker_event(ev))) end
      end
      local now = 1762400000
      assert.is_false((t:check("jane.doe@example.org", now)))
      local allowed, why = t:check("grumpy@example.org", now)
      assert.is_false(allowed)
      assert.matches("spam complaint", why)
      assert.is_true((t:check("ok@example.org", now)))
    end)
  end)

  describe("hostile payloads", function()
    local cases = {
      { "postmark", "{", "postmark: invalid JSON" },
      { "postmark", "", "postmark: empty body" },
      { "postmark", "42", "postmark: JSON object expected, got number" },
      { "postmark", '{"RecordType":"Bounce","TypeCode":1}', "postmark: field 'Email' is missing" },
      { "postmark", '{"RecordType":"Bounce","TypeCode":1,"Email":["a@b.c"]}',
        "postmark: field 'Email': string expected, got table" },
      { "postmark", '{"RecordType":"Bounce","TypeCode":"1","Email":"a@b.c"}',
        "postmark: field 'TypeCode': number expected, got string" },
      { "postmark", '{"RecordType":"Bounce","TypeCode":1,"Email":"a@b.c","BouncedAt":"yesterday"}',
        "postmark: field 'BouncedAt': time expected" },
      { "postmark", '{"RecordType":"Bounce","TypeCode":1,"Email":"a@b.c","BouncedAt":"9999-01-01T00:00:00Z"}',
        "postmark: field 'BouncedAt': time out of range" },
      { "sendgrid", '{"event":"bounce"}', "sendgrid: payload: array expected, got object" },
      { "sendgrid", '[{"event":"bounce","email":null}]', "sendgrid[1]: field 'email' is missing" },
      { "sendgrid", '[1]', "sendgrid[1]: object expected" },
      { "sendgrid", '[{"event":"bounce","email":"a@b.c","timestamp":-5}]',
        "sendgrid[1]: field 'timestamp': time out of range" },
      { "mailgun", '{"signature":{}}', "mailgun: field 'event-data' is missing" },
      { "mailgun", '{"event-data":{"event":"failed","recipient":"a@b.c","severity":"bad"}}',
        "mailgun.event-data: field 'severity': 'permanent' or 'temporary' expected" },
      { "sparkpost", '[{"msys":{"message_event":{"type":"bounce","rcpt_to":"a@b.c"}}}]',
        "sparkpost[1].msys.message_event: field 'bounce_class' is missing" },
      { "ses", '{"Type":"Notification"}', "ses: field 'Message' is missing" },
      { "ses", '{"notificationType":"Bounce"}', "ses: field 'mail' is missing" },
      { "sendgrid", string.rep("[", 200) .. string.rep("]", 200), "sendgrid: invalid JSON" },
    }
    for _, c in ipairs(cases) do
      it(c[1] .. " " .. c[2]:sub(1, 60) .. " -> " .. c[3], function()
        local r, err = webhooks.parse(c[1], c[2])
        assert.is_nil(r)
        assert.equals(c[3], err:sub(1, #c[3]))
      end)
    end

    it("skips unknown event kinds and reports each", function()
      local r = assert(webhooks.parse("sendgrid", '[{"event":"teleported","email":"a@b.c"},'
        .. '{"event":"delivered","email":"ok@b.c","timestamp":1762354778}]'))
      assert.equals(1, #r.events)
      assert.same({ { index = 1, event = "teleported", why = "not a delivery outcome" } }, r.skipped)
      local p = assert(webhooks.parse("postmark", '{"RecordType":"Bounce","TypeCode":777,"Email":"a@b.c"}'))
      assert.equals("unknown Postmark TypeCode 777", p.skipped[1].why)
    end)

    it("raises on caller mistakes", function()
      assert.has_error(function() webhooks.parse("hotmail", "{}") end,
        "bad argument #1 to 'parse' (one of postmark, ses, sendgrid, mailgun, sparkpost, mailjet, brevo, mandrill, "
        .. "postal, resend, events expected, got 'hotmail')")
      assert.has_error(function() webhooks.parse("postmark", 42) end,
        "bad argument #2 to 'parse' (string or table expected, got number)")
    end)
  end)
end)

describe("webhooks.time", function()
  it("reads ISO 8601 with fractions and offsets, and unix seconds", function()
    assert.equals(1762360434, webhooks.time("2025-11-05T16:33:54.9070259Z"))
    assert.equals(1762360434, webhooks.time("2025-11-05T18:33:54+02:00"))
    assert.equals(951782400, webhooks.time("2000-02-29T00:00:00Z"))
    assert.equals(1762354778, webhooks.time("1762354778"))
    assert.equals(1521472262, webhooks.time(1521472262.908181))
    assert.is_nil(webhooks.time("2025-13-01T00:00:00Z"))
  end)
end)

describe("webhooks.verify_mailgun", function()
  local body = cjson.decode(fixture("mailgun_bounce"))
  it("accepts the signature made with the signing key", function()
    assert.is_true(webhooks.verify_mailgun(body, "key-test", { now = 1762354800 }))
  end)
  it("refuses another key, a changed token and an old timestamp", function()
    local ok, err = webhooks.verify_mailgun(body, "key-other", { now = 1762354800 })
    assert.is_nil(ok)
    assert.equals("mailgun: signature mismatch", err)
    local forged = cjson.decode(fixture("mailgun_bounce"))
    forged.signature.token = forged.signature.token .. "x"
    assert.is_nil((webhooks.verify_mailgun(forged, "key-test", { now = 1762354800 })))
    local _, old = webhooks.verify_mailgun(body, "key-test", { now = 1762354800 + 86400 })
    assert.equals("mailgun: signature timestamp too old or in the future", old)
    local _, missing = webhooks.verify_mailgun({ ["event-data"] = {} }, "key-test")
    assert.equals("mailgun: field 'signature' is missing", missing)
  end)
end)

describe("webhooks.verify_sns", function()
  local URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem"
  local fetched
  local function fetch(url) fetched = url return sns.cert_pem() end

  for _, v in ipairs({ 1, 2 }) do
    it("accepts a notification signed with SignatureVersion " .. v, function()
      local m = sns.sign(cjson.decode(fixture("ses_bounce")), URL, v)
      assert.is_true(webhooks.verify_sns(m, { fetch_cert = fetch }))
      assert.equals(URL, fetched)
    end)
  end

  it("accepts a signed subscription confirmation", function()
    local m = sns.sign(cjson.decode(fixture("ses_subscription_confirmation")), URL)
    assert.is_true(webhooks.verify_sns(m, { fetch_cert = fetch }))
  end)

  it("refuses a changed message", function()
    local m = sns.sign(cjson.decode(fixture("ses_bounce")), URL)
    m.Message = m.Message:gsub("jane%.doe", "john.doe")
    local ok, err = webhooks.verify_sns(m, { fetch_cert = fetch })
    assert.is_nil(ok)
    assert.equals("sns: signature mismatch", err)
  end)

  it("fetches no certificate from a host that is not SNS", function()
    fetched = nil
    local m = sns.sign(cjson.decode(fixture("ses_bounce")), "https://evil.example/cert.pem")
    local ok, err = webhooks.verify_sns(m, { fetch_cert = fetch })
    assert.is_nil(ok)
    assert.matches("SigningCertURL is not an allowed SNS host", err)
    assert.is_nil(fetched)
  end)

  it("uses the URL patterns it is given", function()
    local m = sns.sign(cjson.decode(fixture("ses_bounce")), "http://127.0.0.1:9/cert.pem")
    assert.is_true(webhooks.verify_sns(m, { fetch_cert = fetch, url_patterns = { "^http://127%.0%.0%.1:%d+/" } }))
  end)
end)
