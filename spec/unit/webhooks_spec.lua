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

  describe("mailjet", function()
    it("maps a hard bounce; the reply confirms userunknown", function()
      local ev = only(parse("mailjet", "mailjet_bounce"))
      assert.same({ "jane.doe@example.org", "hard", "userunknown", "reply" }, { ev.rcpt, ev.type, ev.reason, ev.source })
      assert.same({ "hard", "userunknown", "recipient/user unknown" },
                  { ev.provider_type, ev.provider_reason, ev.provider_label })
      assert.same({ 1762354778, "nov-2025", "5b0f2c4e-8d1a-4c3b-9e6f-0a7d1e2c3b4a" }, { ev.at, ev.campaign, ev.id })
    end)

    it("reads grouped events (an array): sent is a delivery, spam a complaint; skips Mailjet's own blocks", function()
      local d = parse("mailjet", "mailjet_delivery")
      assert.same({ "ok@example.org", "delivered", 1 }, { only(d).rcpt, only(d).type, only(d).index })
      assert.same({ { index = 2, event = "open", why = "not a delivery outcome" } }, d.skipped)
      local c = parse("mailjet", "mailjet_complaint")
      assert.same({ "complaint", "unsubscribe" }, { c.events[1].type, c.events[2].type })
      assert.same({ 1, 3 }, { c.events[1].index, c.events[2].index })
      assert.same({ { index = 2, event = "blocked", why = "not sent by Mailjet: preblocked" } }, c.skipped)
    end)

    it("takes a soft bounce's permanence from hard_bounce and its reason from Mailjet's category", function()
      local ev = only(assert(webhooks.parse("mailjet", { event = "bounce", email = "a@example.org", time = 1762354778,
        hard_bounce = false, error_related_to = "recipient", error = "quota exceeded" })))
      assert.same({ "soft", "mailboxfull", "provider" }, { ev.type, ev.reason, ev.source })
      ev = only(assert(webhooks.parse("mailjet", { event = "bounce", email = "a@example.org",
        hard_bounce = true, error_related_to = "spam", error = "sender blocked" })))
      assert.same({ "block", "blocked" }, { ev.type, ev.reason })
    end)
  end)

  describe("brevo", function()
    it("maps hard_bounce; the reply behind Brevo's RecipientError prefix decides", function()
      local ev = only(parse("brevo", "brevo_bounce"))
      assert.same({ "jane.doe@example.org", "hard", "userunknown", "reply" }, { ev.rcpt, ev.type, ev.reason, ev.source })
      assert.matches("^550 5%.1%.1 <jane", ev.reply)
      assert.same({ 1762360434, "nov-2025" }, { ev.at, ev.campaign })      -- ts_epoch is milliseconds
    end)

    it("reads batches; a 'deferred' that is a 550 5.1.1 is a hard bounce; skips request and blocked", function()
      local d = parse("brevo", "brevo_delivery")
      assert.same({ "delivered", 2 }, { only(d).type, only(d).index })
      assert.equals("request", d.skipped[1].event)
      local c = parse("brevo", "brevo_complaint")
      assert.same({ "complaint", "soft", "hard" }, { c.events[1].type, c.events[2].type, c.events[3].type })
      assert.same({ "userunknown", "reply" }, { c.events[3].reason, c.events[3].source })
      assert.same({ { index = 4, event = "blocked", why = "not sent by Brevo: the address is on its block list" } },
                  c.skipped)
    end)
  end)

  describe("mandrill", function()
    local function form(name)
      return "mandrill_events=" .. fixture(name):gsub("[^%w%-_%.~]", function(c)
        return string.format("%%%02X", c:byte())
      end)
    end

    it("reads the mandrill_events form field; bounce_description and the diag decide", function()
      local r = assert(webhooks.parse("mandrill", form("mandrill_bounce")))
      assert.equals(2, #r.events)
      local a, b = r.events[1], r.events[2]
      assert.same({ "jane.doe@example.org", "hard", "userunknown", "reply", 1 }, { a.rcpt, a.type, a.reason, a.source, a.index })
      assert.equals("hard_bounce/bad_mailbox", a.provider_label)
      assert.same({ "full@example.org", "soft", "mailboxfull", 2 }, { b.rcpt, b.type, b.reason, b.index })
      assert.same({ 1762354778, "news@sender.example", "nov-2025" }, { a.at, a.sender, a.campaign })
      assert.equals(fixture("mandrill_bounce"), r.form.mandrill_events)
    end)

    it("also takes the JSON array itself; maps deliveries, deferrals, spam; skips send, reject and list syncs", function()
      local d = parse("mandrill", "mandrill_delivery")
      assert.same({ "delivered", "soft" }, { d.events[1].type, d.events[2].type })
      assert.same({ 2, 3 }, { d.events[1].index, d.events[2].index })
      assert.matches("^451 4%.3%.5", d.events[2].reply)
      assert.same({ "send", "blacklist/add" }, { d.skipped[1].event, d.skipped[2].event })
      assert.same({ 1, 4 }, { d.skipped[1].index, d.skipped[2].index })
      local c = parse("mandrill", "mandrill_complaint")
      assert.equals("complaint", only(c).type)
      assert.equals("reject", c.skipped[1].event)
    end)

    it("says what is wrong with the form", function()
      local r, err = webhooks.parse("mandrill", "other=1")
      assert.is_nil(r)
      assert.equals("mandrill: form field 'mandrill_events' is missing", err)
      r, err = webhooks.parse("mandrill", "mandrill_events=%7B%22a%22%3A1%7D")
      assert.is_nil(r)
      assert.equals("mandrill: mandrill_events: array expected, got object", err)
    end)
  end)

  describe("postal", function()
    it("maps MessageDeliveryFailed by Postal's output, MessageSent, and MessageBounced", function()
      local ev = only(parse("postal", "postal_bounce"))
      assert.same({ "jane.doe@example.org", "hard", "userunknown", "reply" }, { ev.rcpt, ev.type, ev.reason, ev.source })
      assert.same({ 1762354778, "nov-2025", "news@sender.example" }, { ev.at, ev.campaign, ev.sender })
      assert.equals("delivered", only(parse("postal", "postal_delivery")).type)
      local b = only(parse("postal", "postal_bounced"))
      assert.same({ "later@example.org", "hard", "undefined", "provider", "MessageBounced" },
                  { b.rcpt, b.type, b.reason, b.source, b.provider_label })
    end)

    it("counts a delay as a soft bounce and skips a message Postal holds", function()
      local body = cjson.decode(fixture("postal_bounce"))
      body.event, body.payload.status = "MessageDelayed", "SoftFail"
      body.payload.output = "451 4.7.1 Greylisted, try again in 5 minutes"
      local ev = only(assert(webhooks.parse("postal", cjson.encode(body))))
      assert.same({ "soft", false }, { ev.type, ev.permanent })
      body.event = "MessageHeld"
      local r = assert(webhooks.parse("postal", cjson.encode(body)))
      assert.equals(0, #r.events)
      assert.equals("MessageHeld", r.skipped[1].event)
    end)
  end)

  describe("resend", function()
    it("maps email.bounced by its type and SMTP diagnostic, and a suppressed address as SES does", function()
      local ev = only(parse("resend", "resend_bounce"))
      assert.same({ "jane.doe@example.org", "hard", "userunknown", "reply" }, { ev.rcpt, ev.type, ev.reason, ev.source })
      assert.same({ 1762360434, "nov-2025", "news@sender.example", "Permanent/General" },
                  { ev.at, ev.campaign, ev.sender, ev.provider_label })
      local s = only(parse("resend", "resend_suppressed"))
      assert.same({ "listed@example.org", "hard", "userunknown", "provider" }, { s.rcpt, s.type, s.reason, s.source })
      assert.equals("delivered", only(parse("resend", "resend_delivery")).type)
      assert.equals("complaint", only(parse("resend", "resend_complaint")).type)
    end)

    it("skips what Resend did not send", function()
      local r = assert(webhooks.parse("resend", { type = "email.failed", created_at = "2025-11-05T16:33:54Z",
        data = { to = { "a@example.org" }, failed = { reason = "reached_daily_quota" } } }))
      assert.same({ { index = 1, event = "email.failed", why = "not sent by Resend: reached_daily_quota" } }, r.skipped)
    end)
  end)

  describe("events (bounce's own schema)", function()
    it("takes t:record's fields from one object or an array, classifying a reply", function()
      local r = assert(webhooks.parse("events", cjson.encode({
        { rcpt = "a@example.org", reply = "550 5.1.1 user unknown", at = "Fri, 03 May 2024 10:00:00 UTC",
          campaign = "c1", sender = "news@example.com" },
        { rcpt = "b@example.org", type = "sent", count = 40, at = 1714730400 },
        { rcpt = "c@example.org", reply = "550 5.1.1 user unknown", command = "DATA" },
        { rcpt = "d@example.org", type = "soft", reason = "mailboxfull", permanent = true } })))
      local a, b, c, d = r.events[1], r.events[2], r.events[3], r.events[4]
      assert.same({ "hard", "userunknown", true, "reply", 1714730400, 550, "c1", 1 },
                  { a.type, a.reason, a.permanent, a.source, a.at, a.code, a.campaign, a.index })
      assert.same({ "sent", 40, "event", 2 }, { b.type, b.count, b.source, b.index })
      assert.equals("filtered", c.reason)   -- the command passed to the classifier
      assert.same({ "soft", "mailboxfull", true }, { d.type, d.reason, d.permanent })
      assert.equals(40, webhooks.tracker_event(b).count)
      assert.equals("hard", only(assert(webhooks.parse("events", '{"rcpt":"x@example.org","type":"hard"}'))).type)
      -- a delay notice from any source is t:record's "delayed" event
      assert.equals("delayed", only(assert(webhooks.parse("events", '{"rcpt":"x@example.org","type":"delayed"}'))).type)
    end)

    it("refuses what is not an event, naming the item", function()
      local cases = {
        { '[{"rcpt":"a@example.org","typ":"hard"}]', "events[1]: unknown field 'typ'" },
        { '{"type":"hard"}', "events: field 'rcpt' is missing" },
        { '{"rcpt":"a@example.org"}', "events: field 'type' or 'reply' is missing" },
        { '{"rcpt":"a@example.org","type":"bounced"}', "events: field 'type': sent, delivered, soft" },
        { '{"rcpt":"a@example.org","type":"sent","count":0}', "events: field 'count': an integer 1..1000000" },
        { '{"rcpt":"a@example.org","reply":"   "}', "events: field 'reply': empty reply" },
        { '{"rcpt":"a@example.org","reply":"550 x","command":"FETCH"}', "events: field 'command'" },
        { '{"rcpt":"a@example.org","type":"hard","at":"soon"}', "events: field 'at': time expected" },
        { '[1]', "events[1]: object expected" },
        { '[]', "events: object or array expected, got an empty one" },
        { '"x"', "events: JSON object or array expected, got string" },
      }
      for _, c in ipairs(cases) do
        local r, err = webhooks.parse("events", c[1])
        assert.is_nil(r, c[1])
        assert.equals(c[2], err:sub(1, #c[2]), c[1])
      end
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
      -- a JSON value that is not an array or object: a 400, never an internal error
      { "sendgrid", "1", "sendgrid: JSON array expected, got number" },
      { "sendgrid", '"x"', "sendgrid: JSON array expected, got string" },
      { "sendgrid", "true", "sendgrid: JSON array expected, got boolean" },
      { "sendgrid", "null", "sendgrid: JSON array expected, got null" },
      { "sparkpost", "null", "sparkpost: JSON array expected, got null" },
      { "mandrill", "[1]", "mandrill[1]: object expected" },
      { "mailjet", "42", "mailjet: JSON object or array expected, got number" },
      { "brevo", "[[]]", "brevo[1]: field 'event' is missing" },
      { "postal", "[1]", "postal: object expected" },
      { "resend", '{"type":"email.bounced"}', "resend: field 'data' is missing" },
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

  it("refuses a fetched certificate that is not PEM or not DER inside", function()
    local m = sns.sign(cjson.decode(fixture("ses_bounce")), URL)
    for _, pem in ipairs({ "<html>not found</html>",
                           "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n" }) do
      local ok, err = webhooks.verify_sns(m, { fetch_cert = function() return pem end })
      assert.is_nil(ok)
      assert.equals("sns: the certificate is not PEM", err)
    end
  end)

  it("uses the URL patterns it is given", function()
    local m = sns.sign(cjson.decode(fixture("ses_bounce")), "http://127.0.0.1:9/cert.pem")
    assert.is_true(webhooks.verify_sns(m, { fetch_cert = fetch, url_patterns = { "^http://127%.0%.0%.1:%d+/" } }))
  end)
end)

-- Signatures made by other tools: the Postal ones with `openssl dgst -sign`
-- (spec/fixtures/webhooks/postal_test_private.pem, a key made for the specs),
-- the Mandrill and Svix ones with Python's hmac module.
describe("webhooks.verify_mandrill", function()
  local URL = "https://bounce:tok@hooks.example.com/webhooks/mandrill"
  local SIG = "3bWqDGmEp0NGwpKyHWR+5nLrAOA="
  local params = { mandrill_events = fixture("mandrill_bounce") }

  it("accepts the HMAC-SHA1 of the configured URL and the sorted fields", function()
    assert.is_true(webhooks.verify_mandrill(params, "mandrill-test-key", URL, SIG))
    local r = assert(webhooks.parse("mandrill", "mandrill_events=" .. params.mandrill_events:gsub("[^%w]",
      function(c) return string.format("%%%02X", c:byte()) end)))
    assert.is_true(webhooks.verify_mandrill(r.form, "mandrill-test-key", URL, SIG))
  end)

  it("refuses another key, another URL, a changed body or no signature", function()
    local cases = {
      { params, "other-key", URL, SIG }, { params, "mandrill-test-key", URL .. "/", SIG },
      { { mandrill_events = params.mandrill_events .. " " }, "mandrill-test-key", URL, SIG },
      { { mandrill_events = params.mandrill_events, extra = "" }, "mandrill-test-key", URL, SIG },
    }
    for _, c in ipairs(cases) do
      local ok, err = webhooks.verify_mandrill(c[1], c[2], c[3], c[4])
      assert.is_nil(ok)
      assert.equals("mandrill: signature mismatch", err)
    end
    local _, err = webhooks.verify_mandrill(params, "mandrill-test-key", URL, nil)
    assert.equals("mandrill: header 'X-Mandrill-Signature' is missing", err)
    assert.has_error(function() webhooks.verify_mandrill(params, "k", nil, SIG) end)
  end)
end)

describe("webhooks.verify_postal", function()
  local body = fixture("postal_bounce")
  local f = assert(io.open("spec/fixtures/webhooks/postal_public.pem", "rb"))
  local pem = f:read("*a")
  f:close()
  local function sig(ext)
    local g = assert(io.open("spec/fixtures/webhooks/postal_bounce." .. ext, "rb"))
    local v = g:read("*a")
    g:close()
    return v
  end

  it("accepts an RSA-SHA256 signature of the body, and the older SHA-1 one alone", function()
    assert.is_true(webhooks.verify_postal(body, pem, { ["x-postal-signature-256"] = sig("sig256") }))
    assert.is_true(webhooks.verify_postal(body, pem, { ["x-postal-signature"] = sig("sig1") }))
    -- the key as the base64 DER body some Postal installs show
    local der = pem:gsub("%-%-%-%-%-[^\n]*%-%-%-%-%-", ""):gsub("%s", "")
    assert.is_true(webhooks.verify_postal(body, der, { ["x-postal-signature-256"] = sig("sig256") }))
  end)

  it("refuses a changed body, the SHA-1 signature as SHA-256, and a missing header", function()
    local ok, err = webhooks.verify_postal(body .. " ", pem, { ["x-postal-signature-256"] = sig("sig256") })
    assert.is_nil(ok)
    assert.equals("postal: signature mismatch", err)
    assert.is_nil((webhooks.verify_postal(body, pem, { ["x-postal-signature-256"] = sig("sig1") })))
    ok, err = webhooks.verify_postal(body, pem, {})
    assert.is_nil(ok)
    assert.equals("postal: header 'X-Postal-Signature-256' is missing", err)
    ok, err = webhooks.verify_postal(body, pem, { ["x-postal-signature-256"] = "%%%" })
    assert.is_nil(ok)
    assert.equals("postal: the signature is not base64", err)
    ok, err = webhooks.verify_postal(body, "not a key", { ["x-postal-signature-256"] = sig("sig256") })
    assert.is_nil(ok)
    assert.equals("postal: the configured public key cannot be read", err)
  end)

  it("reads no key from base64 that is not DER, a cut PEM, or a PEM of another kind", function()
    local h = { ["x-postal-signature-256"] = sig("sig256") }
    local b64 = pem:match("%-%-%-%-%-BEGIN PUBLIC KEY%-%-%-%-%-(.-)%-%-%-%-%-END")
    local cut = "-----BEGIN PUBLIC KEY-----\n" .. b64:sub(1, 40) .. "\n-----END PUBLIC KEY-----\n"
    for _, key in ipairs({ "bm90IGEga2V5", cut, (pem:gsub("PUBLIC KEY", "CERTIFICATE")) }) do
      local ok, err = webhooks.verify_postal(body, key, h)
      assert.is_nil(ok)
      assert.equals("postal: the configured public key cannot be read", err)
    end
    -- the bare body of the same key still verifies
    assert.is_true(webhooks.verify_postal(body, b64, h))
  end)
end)

describe("webhooks.verify_svix (Resend)", function()
  local SECRET = "whsec_c3ZpeC10ZXN0LWtleS0wMTIzNDU2Nzg5YWJjZGVm"
  local SIG = "+qzke8pEmLEAjnxRRsV/5JG3Di4h4istKqxgW7FqtpE="
  local body = fixture("resend_bounce")
  local function h(sigs, ts)
    return { ["svix-id"] = "msg_2KxZq1example", ["svix-timestamp"] = ts or "1762360434", ["svix-signature"] = sigs }
  end

  it("accepts a v1 signature among several, within five minutes", function()
    assert.is_true(webhooks.verify_svix(body, SECRET, h("v1," .. SIG), { now = 1762360434 }))
    assert.is_true(webhooks.verify_svix(body, SECRET, h("v1,b2xkLXNlY3JldA== v1," .. SIG), { now = 1762360734 }))
  end)

  it("refuses a changed body or id, an old or future timestamp, missing headers", function()
    local ok, err = webhooks.verify_svix(body .. "\n", SECRET, h("v1," .. SIG), { now = 1762360434 })
    assert.is_nil(ok)
    assert.equals("resend: signature mismatch", err)
    local hh = h("v1," .. SIG)
    hh["svix-id"] = "msg_other"
    assert.is_nil((webhooks.verify_svix(body, SECRET, hh, { now = 1762360434 })))
    assert.is_nil((webhooks.verify_svix(body, SECRET, h("v2," .. SIG), { now = 1762360434 })))
    for _, now in ipairs({ 1762360434 + 301, 1762360434 - 301 }) do
      ok, err = webhooks.verify_svix(body, SECRET, h("v1," .. SIG), { now = now })
      assert.is_nil(ok)
      assert.equals("resend: signature timestamp too old or in the future", err)
    end
    ok, err = webhooks.verify_svix(body, SECRET, { ["svix-id"] = "x" })
    assert.is_nil(ok)
    assert.matches("svix%-timestamp", err)
    assert.has_error(function() webhooks.verify_svix(body, "whsec_%%%", h("v1," .. SIG)) end)
  end)
end)
