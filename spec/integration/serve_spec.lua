-- `bounce serve` and bounce.serve, for real: bin/bounce serve starts Debian's
-- nginx (2 workers, shdict store) on a free 127.0.0.1 port; a second nginx
-- (spec/support/nginx.lua) serves the test's SNS certificate and takes the
-- SNS subscription confirmation, and runs the app from its own nginx.conf
-- on a tiny shared dict to show 503 when the store fails. The specs are
-- HTTP clients: they assert what a provider or an operator would see.
local util = require("spec.support.util")
local sh, read, write, free_port = util.run, util.read, util.write, util.free_port
local nginx = require("spec.support.nginx")
local sns = require("spec.support.sns")
local cjson = require("cjson")
local socket = require("socket")
local http = require("socket.http")
local ltn12 = require("ltn12")
local mime = require("mime")

local TOKEN = "test-token-0123456789"
local MAILGUN_KEY = "key-test"
local MANDRILL_KEY, MANDRILL_URL = "mandrill-test-key", "https://bounce:tok@hooks.example.com/webhooks/mandrill"
local RESEND_SECRET = "whsec_c3ZpeC10ZXN0LWtleS0wMTIzNDU2Nzg5YWJjZGVm"
local FIXTURES = "spec/fixtures/webhooks/"

local function fixture(name) return (assert(read("spec/fixtures/webhooks/" .. name .. ".json"))) end

local function iso(t) return os.date("!%Y-%m-%dT%H:%M:%SZ", t) end

-- The helper nginx: the SNS certificate, the subscription endpoint, and the
-- app included in a user's own nginx.conf over a shared dict that is full.
local HELPER_HTTP = [[
  lua_shared_dict hits 1m;
  lua_shared_dict tiny 12k;
  init_by_lua_block {
    require("bounce.serve").init{ token = "]] .. TOKEN .. [[", store = "shdict:tiny" }
  }
  init_worker_by_lua_block { require("bounce.serve").init_worker() }
]]
local HELPER_SERVER = [[
    location = /cert.pem { alias CERTFILE; }
    location = /confirm {
      content_by_lua_block {
        ngx.shared.hits:incr("confirm", 1, 0)
        ngx.say("<ConfirmSubscriptionResponse/>")
      }
    }
    location = /hits {
      content_by_lua_block { ngx.say(ngx.shared.hits:get("confirm") or 0) }
    }
    location = /fill {
      content_by_lua_block {
        local s = require("bounce.store.shdict").new("tiny")
        local rec = require("bounce.core").encode_record{ state = "active", last_event = "delivered",
          last_at = 1700000000 }
        for i = 1, 1000 do
          if s:cas("filler" .. i .. "@example.com", nil, rec) == nil then break end
        end
        ngx.say("full")
      }
    }
    location / { content_by_lua_block { require("bounce.serve").handle() } }
]]

local usable, why = nginx.available()

-- Starts `bin/bounce serve --listen 127.0.0.1:PORT --prefix PREFIX ARGS` in
-- the background on a free port, its output in OUT; tries another port when
-- one was taken meanwhile. Returns port, pid once nginx accepts connections,
-- or nil, the output and error log (having stopped what it started). ENV,
-- when given, prefixes the command (VAR=value ..., quoted for sh).
local function start_serve(prefix, args, out, env)
  local log = ""
  for _ = 1, 5 do
    local port = free_port()
    local _, p = sh((env and env .. " " or "") .. "lua5.4 " .. nginx.root .. "/bin/bounce serve --listen 127.0.0.1:" .. port
      .. " --prefix " .. prefix .. " " .. args .. " >" .. out .. " 2>&1 & echo $!")
    local pid = tonumber(p:match("(%d+)"))
    local deadline, up = socket.gettime() + 10
    repeat
      socket.sleep(0.05)
      local c = socket.tcp()
      c:settimeout(0.2)
      up = c:connect("127.0.0.1", port) ~= nil
      c:close()
    until up or socket.gettime() > deadline or sh("kill -0 " .. pid) ~= 0
    if up then return port, pid end
    sh("kill -TERM " .. pid)
    log = (read(out) or "") .. (read(prefix .. "/logs/error.log") or "")
    if not log:find("Address already in use", 1, true) then break end
  end
  return nil, log
end

describe("bounce serve", function()
  if not usable then
    if os.getenv("CI") then error(why) end
    pending(why)
    return
  end

  local dir, port, pid, prefix, helper, policy, rules

  local function url(path) return "http://127.0.0.1:" .. port .. path end

  local function request(method, path, body, headers, target)
    local chunks = {}
    local h = { ["content-length"] = body and #body or nil }
    for k, v in pairs(headers or {}) do h[k:lower()] = v end
    http.TIMEOUT = 10
    local ok, status, rh = http.request{ url = (target or url)(path), method = method, headers = h,
      source = body and ltn12.source.string(body) or nil, sink = ltn12.sink.table(chunks) }
    if not ok then error(method .. " " .. path .. ": " .. tostring(status), 2) end
    return status, table.concat(chunks), rh
  end
  local AUTH = { authorization = "Bearer " .. TOKEN }
  local function api(method, path, body)
    local status, text, headers = request(method, path, body, AUTH)
    local okj, v = pcall(cjson.decode, text)
    return status, okj and v or text, headers
  end
  local function post(provider, body) return api("POST", "/webhooks/" .. provider, body) end

  local function allowed(rcpt)
    local status, r = api("GET", "/check?rcpt=" .. nginx.escape(rcpt))
    assert.equals(200, status)
    return r.allowed, r.why
  end

  setup(function()
    local _, out = sh("mktemp -d /tmp/bounce-serve-spec.XXXXXX")
    dir = out:gsub("%s+$", "")
    sh("chmod 755 " .. dir)
    write(dir .. "/cert.pem", sns.cert_pem())
    policy = dir .. "/policy.lua"
    write(policy, "return { soft = { max_attempts = 5 } }\n")
    rules = dir .. "/rules.lua"
    write(rules, 'return { { name = "parrot", pattern = "parrot is no more", reason = "suspend" } }\n')
    helper = nginx.start{ http = HELPER_HTTP, server = HELPER_SERVER:gsub("CERTFILE", dir .. "/cert.pem") }
    prefix = dir .. "/prefix"
    local p, pid_or_log = start_serve(prefix, table.concat({ "--token", TOKEN, "--workers", "2",
      "--policy", policy, "--mailgun-key", MAILGUN_KEY, "--verp", "bounces+", "--rules", rules,
      "--mandrill-key", MANDRILL_KEY, "--mandrill-url", "'" .. MANDRILL_URL .. "'",
      "--postal-key", nginx.root .. "/" .. FIXTURES .. "postal_public.pem", "--resend-secret", RESEND_SECRET,
      "--sns-cert-url", "'^http://127%.0%.0%.1:" .. helper.port .. "/'" }, " "), dir .. "/serve.out")
    if p then
      port, pid = p, pid_or_log
      return
    end
    -- busted skips teardown when setup fails: stop what was started here
    helper:stop()
    error("bounce serve did not start:\n" .. pid_or_log)
  end)

  teardown(function()
    if pid then sh("kill -TERM " .. pid) end
    local deadline = socket.gettime() + 10
    while prefix and read(prefix .. "/logs/nginx.pid") and socket.gettime() < deadline do socket.sleep(0.05) end
    if helper then helper:stop() end
    if dir and not os.getenv("BOUNCE_KEEP_NGINX") then sh("rm -rf " .. dir) end
  end)

  describe("security", function()
    it("answers 401 without the token, with a wrong one, and accepts basic auth", function()
      assert.equals(401, (request("GET", "/check?rcpt=a@example.org")))
      assert.equals(401, (request("GET", "/check?rcpt=a@example.org", nil,
        { authorization = "Bearer " .. TOKEN .. "x" })))
      assert.equals(401, (request("POST", "/webhooks/postmark", fixture("postmark_bounce"))))
      assert.equals(200, (request("GET", "/check?rcpt=a@example.org", nil,
        { authorization = "Basic " .. mime.b64("postmark:" .. TOKEN) })))
      assert.equals(401, (request("GET", "/check?rcpt=a@example.org", nil,
        { authorization = "Basic " .. mime.b64(TOKEN .. ":x") })))
    end)

    it("answers 413 to a 10 MB body", function()
      local status = request("POST", "/webhooks/sendgrid", "[" .. string.rep(" ", 10 * 1024 * 1024) .. "]", AUTH)
      assert.equals(413, status)
    end)

    it("answers 400 with a reason to bad JSON, wrong types and missing fields", function()
      local status, r = post("postmark", "{not json")
      assert.equals(400, status)
      assert.matches("^postmark: invalid JSON", r.error)
      status, r = post("sendgrid", '[{"event":"bounce","email":42}]')
      assert.equals(400, status)
      assert.equals("sendgrid[1]: field 'email': string expected, got number", r.error)
      status, r = post("sparkpost", '{"msys":{}}')
      assert.equals(400, status)
      assert.matches("array expected", r.error)
      status, r = post("ses", '{"Type":"Notification","MessageId":"x"}')
      assert.equals(400, status)
      assert.matches("field 'Message' is missing", r.error)
    end)

    it("validates addresses and scopes in queries", function()
      local status, r = api("GET", "/check?rcpt=" .. nginx.escape("not an address"))
      assert.equals(400, status)
      assert.matches("rcpt", r.error)
      assert.equals(400, (api("GET", "/check")))
      assert.equals(400, (api("GET", "/health?scope=planet:mars")))
      assert.equals(400, (api("GET", "/health?scope=" .. nginx.escape("campaign:a b"))))
      assert.equals(400, (api("GET", "/suppressions?limit=0")))
      assert.equals(404, (api("GET", "/nowhere")))
      assert.equals(404, (api("POST", "/webhooks/hotmail", "{}")))
      assert.equals(405, (api("GET", "/webhooks/postmark")))
    end)

    it("refuses a Mailgun payload with a bad or stale signature", function()
      local body = fixture("mailgun_bounce")   -- signed in 2025: too old now
      local status, r = post("mailgun", body)
      assert.equals(401, status)
      assert.matches("too old", r.error)
      local p = cjson.decode(body)
      p.signature.timestamp = tostring(os.time())
      status, r = post("mailgun", cjson.encode(p))   -- fresh time, old HMAC
      assert.equals(401, status)
      assert.equals("mailgun: signature mismatch", r.error)
    end)

    it("refuses an SNS message with a bad signature or a certificate from elsewhere", function()
      local cert = "http://127.0.0.1:" .. helper.port .. "/cert.pem"
      local m = sns.sign(cjson.decode(fixture("ses_bounce")), cert)
      m.Message = m.Message:gsub("jane%.doe", "eve")
      local status, r = post("ses", cjson.encode(m))
      assert.equals(401, status)
      assert.equals("sns: signature mismatch", r.error)
      m = sns.sign(cjson.decode(fixture("ses_bounce")), "http://192.0.2.1/cert.pem")
      status, r = post("ses", cjson.encode(m))
      assert.equals(401, status)
      assert.matches("not an allowed SNS host", r.error)
      assert.is_true((allowed("eve@example.org")))
    end)
  end)

  describe("webhooks", function()
    local function mailgun_signed(name)
      local p = cjson.decode(fixture(name))
      local ts, token = tostring(os.time()), p.signature.token
      local hex = require("openssl.hmac").new(MAILGUN_KEY, "sha256"):final(ts .. token)
        :gsub(".", function(c) return string.format("%02x", c:byte()) end)
      p.signature = { timestamp = ts, token = token, signature = hex }
      return cjson.encode(p)
    end
    local function ses_signed(name)
      return cjson.encode(sns.sign(cjson.decode(fixture(name)), "http://127.0.0.1:" .. helper.port .. "/cert.pem"))
    end

    -- Mandrill posts a form, signed over the configured URL and the fields
    local function mandrill_form(name)
      local events = fixture(name)
      local sig = mime.b64(require("openssl.hmac").new(MANDRILL_KEY, "sha1"):final(MANDRILL_URL
        .. "mandrill_events" .. events))
      return "mandrill_events=" .. nginx.escape(events), { ["x-mandrill-signature"] = sig,
        ["content-type"] = "application/x-www-form-urlencoded" }
    end
    -- Postal signs the body with its private key (a key made for the specs)
    local function postal_signed(name)
      local body = fixture(name)
      local key = require("openssl.pkey").new(assert(read(FIXTURES .. "postal_test_private.pem")))
      local sig = key:sign(require("openssl.digest").new("sha256"):update(body))
      return body, { ["x-postal-signature-256"] = mime.b64(sig) }
    end
    -- Resend signs through Svix: HMAC-SHA256 of id.timestamp.body
    local function resend_signed(name, ts)
      local body = fixture(name)
      ts = tostring(ts or os.time())
      local key = mime.unb64(RESEND_SECRET:gsub("^whsec_", ""))
      local sig = mime.b64(require("openssl.hmac").new(key, "sha256"):final("msg_" .. ts .. "." .. ts .. "." .. body))
      return body, { ["svix-id"] = "msg_" .. ts, ["svix-timestamp"] = ts, ["svix-signature"] = "v1," .. sig }
    end
    local function signed(f, name) return { f(name) } end

    local payloads = {
      postmark = { bounce = fixture("postmark_bounce"), delivery = fixture("postmark_delivery"),
                   complaint = fixture("postmark_complaint") },
      mailjet = { bounce = fixture("mailjet_bounce"), delivery = fixture("mailjet_delivery"),
                  complaint = fixture("mailjet_complaint") },
      brevo = { bounce = fixture("brevo_bounce"), delivery = fixture("brevo_delivery"),
                complaint = fixture("brevo_complaint") },
      mandrill = { bounce = signed(mandrill_form, "mandrill_bounce"), delivery = signed(mandrill_form, "mandrill_delivery"),
                   complaint = signed(mandrill_form, "mandrill_complaint") },
      postal = { bounce = signed(postal_signed, "postal_bounce"), delivery = signed(postal_signed, "postal_delivery") },
      resend = { bounce = signed(resend_signed, "resend_bounce"), delivery = signed(resend_signed, "resend_delivery"),
                 complaint = signed(resend_signed, "resend_complaint") },
      ses = { bounce = ses_signed("ses_bounce"), delivery = ses_signed("ses_delivery"),
              complaint = ses_signed("ses_complaint") },
      sendgrid = { bounce = fixture("sendgrid_bounce"), delivery = fixture("sendgrid_delivery"),
                   complaint = fixture("sendgrid_complaint") },
      mailgun = { bounce = mailgun_signed("mailgun_bounce"), delivery = mailgun_signed("mailgun_delivery"),
                  complaint = mailgun_signed("mailgun_complaint") },
      sparkpost = { bounce = fixture("sparkpost_bounce"), delivery = fixture("sparkpost_delivery"),
                    complaint = fixture("sparkpost_complaint") },
    }
    -- POST a payload: a body, or { body, headers } for the signed ones
    local function send(provider, p)
      local body, headers = p, nil
      if type(p) == "table" then body, headers = p[1], p[2] end
      local h = { authorization = "Bearer " .. TOKEN }
      for k, v in pairs(headers or {}) do h[k] = v end
      local status, text = request("POST", "/webhooks/" .. provider, body, h)
      local okj, v = pcall(cjson.decode, text)
      return status, okj and v or text
    end

    for _, provider in ipairs({ "postmark", "ses", "sendgrid", "mailgun", "sparkpost", "mailjet", "brevo",
                                "mandrill", "postal", "resend" }) do
      it(provider .. ": a bounce suppresses, a delivery keeps, a complaint suppresses", function()
        -- each provider starts from addresses no other provider's run has touched
        for _, a in ipairs({ "jane.doe@example.org", "grumpy@example.org" }) do
          api("DELETE", "/suppressions/" .. a)
        end
        local p = payloads[provider]
        local status, r = send(provider, p.bounce)
        assert.equals(200, status, cjson.encode(r))
        assert.is_true(r.stored >= 1)
        assert.equals("suppress", r.decisions[1].action)
        assert.equals("userunknown", r.decisions[1].reason)
        assert.is_false((allowed("jane.doe@example.org")))
        status, r = send(provider, p.delivery)
        assert.equals(200, status, cjson.encode(r))
        assert.is_true(r.stored >= 1)
        local delivered
        for _, d in ipairs(r.decisions) do
          if d.rcpt == "ok@example.org" then delivered = d end
        end
        assert.same({ "delivered", "send" }, { delivered.type, delivered.action })
        assert.is_true((allowed("ok@example.org")))
        if not p.complaint then return end   -- Postal reports no complaints
        status, r = send(provider, p.complaint)
        assert.equals(200, status, cjson.encode(r))
        assert.is_true(r.stored >= 1)
        local ok, reason = allowed("grumpy@example.org")
        assert.is_false(ok)
        assert.matches("spam complaint", reason)
      end)
    end

    it("refuses Mandrill, Postal and Resend payloads whose signature does not hold, and stores nothing", function()
      local body, h = mandrill_form("mandrill_bounce")
      h["x-mandrill-signature"] = "AAAA" .. h["x-mandrill-signature"]:sub(5)
      local function post_h(provider, b, headers)
        local hh = { authorization = "Bearer " .. TOKEN }
        for k, v in pairs(headers) do hh[k] = v end
        local status, text = request("POST", "/webhooks/" .. provider, b, hh)
        return status, cjson.decode(text)
      end
      local status, r = post_h("mandrill", body, h)
      assert.same({ 401, "mandrill: signature mismatch" }, { status, r.error })
      status, r = post_h("mandrill", body, {})
      assert.same({ 401, "mandrill: header 'X-Mandrill-Signature' is missing" }, { status, r.error })
      body, h = postal_signed("postal_bounce")
      status, r = post_h("postal", body:gsub("jane%.doe", "eve"), h)
      assert.same({ 401, "postal: signature mismatch" }, { status, r.error })
      body, h = resend_signed("resend_bounce", os.time() - 600)
      status, r = post_h("resend", body, h)
      assert.same({ 401, "resend: signature timestamp too old or in the future" }, { status, r.error })
      assert.is_true((allowed("eve@example.org")))
      -- the HEAD Mandrill sends when a webhook is added: no signature, no token
      assert.equals(200, (request("HEAD", "/webhooks/mandrill")))
    end)

    it("numbers skipped and rejected events by their place in the payload", function()
      local status, r = post("sendgrid", cjson.encode({
        { event = "open", email = "a@example.org", timestamp = os.time() },
        { event = "bounce", email = "not-an-address", timestamp = os.time(), reason = "550 5.1.1 unknown" },
        { event = "delivered", email = "fine@example.org", timestamp = os.time() },
        { event = "processed", email = "fine@example.org", timestamp = os.time() },
        { event = "bounce", email = "also bad", timestamp = os.time() } }))
      assert.equals(200, status, cjson.encode(r))
      assert.equals(1, r.stored)
      assert.same({ 1, 4 }, { r.skipped[1].index, r.skipped[2].index })
      assert.same({ 2, 5 }, { r.rejected[1].index, r.rejected[2].index })
      assert.same({ "not-an-address", "also bad" }, { r.rejected[1].rcpt, r.rejected[2].rcpt })
    end)

    it("answers 400, not 500, to JSON that is not what the provider sends", function()
      for _, body in ipairs({ "1", '"x"', "true", "null" }) do
        -- (providers that sign their body answer 401 first: see above)
        for _, provider in ipairs({ "sendgrid", "sparkpost", "postmark", "mailjet", "brevo" }) do
          local status, r = post(provider, body)
          assert.equals(400, status, provider .. " " .. body)
          assert.matches("^" .. provider .. ": JSON ", r.error)
        end
        assert.equals(400, (api("POST", "/events", body)))
      end
    end)

    it("reports unknown and untracked event kinds as skipped, with 200", function()
      local status, r = post("sendgrid", '[{"event":"teleported","email":"a@example.org","timestamp":1762354778},'
        .. '{"event":"open","email":"a@example.org","timestamp":1762354778}]')
      assert.equals(200, status)
      assert.equals(0, r.stored)
      assert.equals("teleported", r.skipped[1].event)
      assert.equals("open", r.skipped[2].event)
    end)

    it("rejects an event with an invalid address and stores the others", function()
      local status, r = post("sendgrid", '[{"event":"bounce","email":"not-an-address","timestamp":1762354778},'
        .. '{"event":"delivered","email":"fine@example.org","timestamp":1762354778}]')
      assert.equals(200, status)
      assert.equals(1, r.stored)
      assert.equals(1, r.rejected[1].index)
    end)

    it("confirms an SNS subscription by fetching the allowed SubscribeURL", function()
      local m = cjson.decode(fixture("ses_subscription_confirmation"))
      m.SubscribeURL = "http://127.0.0.1:" .. helper.port .. "/confirm"
      sns.sign(m, "http://127.0.0.1:" .. helper.port .. "/cert.pem")
      local status, r = post("ses", cjson.encode(m))
      assert.equals(200, status, cjson.encode(r))
      assert.equals("confirmed", r.subscription)
      assert.equals("1", (select(2, helper:get("/hits")):gsub("%s", "")))
    end)
  end)

  describe("raw bounces", function()
    -- A DSN for one recipient, sent back to `to`, with a text part when `text`.
    local function dsn(o)
      local l = { "From: MAILER-DAEMON@mx.sender.example", "To: " .. (o.to or "news@sender.example"),
        "Subject: " .. (o.subject or "Undelivered Mail Returned to Sender"), "MIME-Version: 1.0",
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"', "" }
      if o.text then
        for _, v in ipairs({ "--B", "Content-Type: text/plain", "", o.text, "" }) do l[#l + 1] = v end
      end
      for _, v in ipairs({ "--B", "Content-Type: message/delivery-status", "",
          "Reporting-MTA: dns; mx.sender.example", "",
          "Final-Recipient: rfc822; " .. o.rcpt, "Action: " .. (o.action or "failed"), "Status: " .. o.status,
          "Diagnostic-Code: smtp; " .. o.diag, "", "--B--", "" }) do l[#l + 1] = v end
      return table.concat(l, "\r\n")
    end

    it("records every recipient of a DSN posted to /bounces", function()
      local status, r = api("POST", "/bounces", dsn{ rcpt = "dsn-gone@example.net", status = "5.1.1",
        text = "Your message could not be delivered.",
        diag = "550 5.1.1 <dsn-gone@example.net>: Recipient address rejected: User unknown" })
      assert.equals(200, status, cjson.encode(r))
      assert.equals(1, r.stored)
      assert.equals("rfc3464", r.format)
      assert.is_false((allowed("dsn-gone@example.net")))
      status, r = api("POST", "/bounces", "hello, this is not a bounce")
      assert.equals(400, status)
      assert.is_string(r.error)
    end)

    it("tracks the address a VERP return path names, not the forward the DSN names", function()
      local status, r = api("POST", "/bounces", dsn{ to = "bounces+verp-ann=example.org@sender.example",
        rcpt = "ann.lee@forward.example", status = "5.1.1", diag = "550 5.1.1 user unknown" })
      assert.equals(200, status, cjson.encode(r))
      assert.equals(1, r.stored)
      assert.equals("verp-ann@example.org", r.decisions[1].rcpt)
      assert.is_false((allowed("verp-ann@example.org")))
      assert.is_true((allowed("ann.lee@forward.example")))
    end)

    it("records a delay notice as a delayed event: counted in health, not as a bounce", function()
      for _ = 1, 2 do
        local status, r = api("POST", "/bounces", dsn{ subject = "Delayed Mail (still being retried)",
          rcpt = "dsn-slow@slow.example.net", action = "delayed", status = "4.4.1",
          diag = "451 4.4.1 no answer from host" })
        assert.equals(200, status, cjson.encode(r))
        assert.equals(1, r.stored)
        assert.same({}, r.skipped)
        assert.same({ "dsn-slow@slow.example.net", "delayed", "send", "active" },
                    { r.decisions[1].rcpt, r.decisions[1].type, r.decisions[1].action, r.decisions[1].state })
      end
      local _, rec = api("GET", "/check?rcpt=dsn-slow@slow.example.net")
      assert.equals("active: no history", rec.why)
      local _, h = api("GET", "/health?scope=domain:slow.example.net")
      assert.same({ 2, 0, 0 }, { h.delayed, h.soft, h.messages })
    end)

    it("says permanent = true for a block said with a 5xx, false for a 4xx; the address stays", function()
      local _, r = api("POST", "/bounces", dsn{ rcpt = "dsn-listed@example.net", status = "5.7.1",
        diag = "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org" })
      assert.same({ "block", "hold", "blocked", true },
                  { r.decisions[1].type, r.decisions[1].action, r.decisions[1].reason, r.decisions[1].permanent })
      _, r = api("POST", "/bounces", dsn{ rcpt = "dsn-listed4@example.net", status = "4.7.1",
        diag = "451 4.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org" })
      assert.same({ "block", "hold", false },
                  { r.decisions[1].type, r.decisions[1].action, r.decisions[1].permanent })
      assert.is_true((allowed("dsn-listed@example.net")))
    end)
  end)

  describe("POST /events", function()
    it("stores bounce's own events from any source: replies classified, sends counted", function()
      local now = os.time()
      local status, r = api("POST", "/events", cjson.encode({
        { rcpt = "ev-gone@example.net", reply = "550 5.1.1 <ev-gone@example.net>: user unknown", at = now,
          campaign = "c-events" },
        { rcpt = "ev-ok@example.net", type = "sent", count = 9, at = now, campaign = "c-events" },
        { rcpt = "ev-ok@example.net", type = "delivered", at = now, campaign = "c-events" },
        { rcpt = "not an address", type = "hard" },
        { rcpt = "ev-slow@example.net", type = "delayed", at = now, campaign = "c-events" } }))
      assert.equals(200, status, cjson.encode(r))
      assert.equals(4, r.stored)
      assert.same({ "ev-slow@example.net", "send", "active" },
                  { r.decisions[4].rcpt, r.decisions[4].action, r.decisions[4].state })
      assert.same({ "ev-gone@example.net", "suppress", "userunknown", "reply" },
                  { r.decisions[1].rcpt, r.decisions[1].action, r.decisions[1].reason, r.decisions[1].source })
      assert.same({ 4, "not an address" }, { r.rejected[1].index, r.rejected[1].rcpt })
      assert.is_false((allowed("ev-gone@example.net")))
      local _, h = api("GET", "/health?scope=campaign:c-events")
      assert.same({ 1, 1, 1 }, { h.delivered, h.hard, h.delayed })
      assert.is_true(h.sent >= 1)   -- (the shared health counters count an event once, whatever its count)
      assert.is_true((allowed("ev-slow@example.net")))
      status, r = api("POST", "/events", '{"rcpt":"a@example.net","kind":"hard"}')
      assert.equals(400, status)
      assert.matches("^events: unknown field 'kind'", r.error)
      assert.equals(405, (api("GET", "/events")))
    end)
  end)

  describe("GET /check with a sender or campaign", function()
    -- 100 sends by one sender in one campaign: 6 hard bounces in the
    -- campaign (6%: stop), 3 of them by the sender (3%: throttle)
    setup(function()
      local now, events = os.time(), {}
      for i = 1, 100 do
        events[i] = { rcpt = "gate" .. i .. "@example.net", type = "sent", at = now, campaign = "c-gate",
                      sender = "news@gate.example" }
      end
      for i = 1, 6 do
        events[#events + 1] = { rcpt = "gate" .. i .. "@example.net", type = "hard", reason = "userunknown",
                                at = now, campaign = "c-gate", sender = i <= 3 and "news@gate.example" or nil }
      end
      local status, r = api("POST", "/events", cjson.encode(events))
      assert.equals(200, status, cjson.encode(r))
    end)

    it("answers allowed false at a campaign's stop, naming it and its rate, in every worker", function()
      for _ = 1, 4 do
        local status, r = api("GET", "/check?rcpt=gate99@example.net&campaign=c-gate")
        assert.equals(200, status)
        assert.is_false(r.allowed)
        assert.equals("stop", r.level)
        assert.equals("campaign c-gate at health stop: hard bounces 6.0%, complaints 0.00% of 100 messages", r.why)
      end
    end)

    it("answers allowed true with level throttle at a sender's throttle", function()
      for _ = 1, 4 do
        local _, r = api("GET", "/check?rcpt=gate99@example.net&sender=" .. nginx.escape("news@gate.example"))
        assert.is_true(r.allowed)
        assert.equals("throttle", r.level)
        assert.matches("; sender news@gate.example at health throttle: hard bounces 3.0%", r.why, 1, true)
      end
      local _, r = api("GET", "/check?rcpt=gate99@example.net")
      assert.is_true(r.allowed)
      assert.is_nil(r.level)
      assert.equals("active: no history", r.why)
      -- the address's own suppression answers first
      _, r = api("GET", "/check?rcpt=gate1@example.net&sender=" .. nginx.escape("news@gate.example"))
      assert.is_false(r.allowed)
      assert.matches("^suppressed since", r.why)
    end)

    it("answers 400 to a scope without a value or given twice", function()
      for _, q in ipairs({ "&sender", "&sender=", "&campaign=a&campaign=b" }) do
        local status, r = api("GET", "/check?rcpt=gate99@example.net" .. q)
        assert.equals(400, status, q)
        assert.matches("query parameter '%a+'", r.error)
      end
    end)
  end)

  describe("query parameters", function()
    it("answers 400 to a parameter without a value or an unknown cause or reason, never 503", function()
      for _, q in ipairs({ "after", "after=", "cause", "reason", "format", "limit", "cause=bogus",
                           "reason=nosuchreason", "after=a&after=b" }) do
        local status, r, h = api("GET", "/suppressions?" .. q)
        assert.equals(400, status, q)
        assert.matches("query parameter '%a+'", r.error)
        assert.is_nil(h["retry-after"])
      end
      assert.equals(400, (api("GET", "/check?rcpt")))
      assert.equals(400, (api("GET", "/health?scope")))
    end)
  end)

  describe("rules file", function()
    local function reason_of(reply)
      local _, r = api("POST", "/events", cjson.encode({ rcpt = "rules-" .. tostring(math.random(1e9)) .. "@example.net",
        reply = reply }))
      return r.decisions[1].reason
    end

    it("classifies with --rules, follows an edit in every worker, and keeps the rules through a broken edit", function()
      assert.equals("suspend", reason_of("550 the parrot is no more"))
      write(rules, 'return { { name = "frozen", pattern = "account is frozen", reason = "mailboxfull" } }\n')
      socket.sleep(2.5)   -- every worker looks at the file within 2 reload intervals
      for _ = 1, 6 do     -- requests land on both workers
        assert.equals("mailboxfull", reason_of("552 your account is frozen"))
        assert.not_equals("suspend", reason_of("550 the parrot is no more"))
      end
      write(rules, 'return { { name = "frozen", pattern = "account is frozen", reason = "nosuch" } }\n')
      socket.sleep(2.5)
      for _ = 1, 6 do assert.equals("mailboxfull", reason_of("552 your account is frozen")) end
      local log = read(prefix .. "/logs/error.log")
      assert.matches("rules reloaded from " .. rules:gsub("%p", "%%%0") .. " %(1 rules%)", log)
      assert.matches("rules edit rejected, the previous rules stay in force: .*unknown reason 'nosuch'", log)
      -- each of the 2 workers logged both, by its own pid: none was left behind
      local function workers(what)
        local seen, n = {}, 0
        for line in log:gmatch("[^\n]+") do
          local p = line:find(what, 1, true) and line:match("%] (%d+)#%d+:")
          if p and not seen[p] then seen[p], n = true, n + 1 end
        end
        return n
      end
      assert.equals(2, workers("rules reloaded from " .. rules))
      assert.equals(2, workers("rules edit rejected"))
      write(rules, 'return { { name = "parrot", pattern = "parrot is no more", reason = "suspend" } }\n')
    end)
  end)

  describe("suppressions, release and health", function()
    it("lists suppressions as JSON and CSV, filtered and paged", function()
      for i = 1, 5 do
        post("postmark", cjson.encode({ RecordType = "Bounce", TypeCode = 1, Type = "HardBounce",
          Email = "page" .. i .. "@example.com", BouncedAt = iso(os.time()), Details = "550 5.1.1 user unknown" }))
      end
      local status, r = api("GET", "/suppressions?cause=complaint")
      assert.equals(200, status)
      assert.equals("grumpy@example.org", r.items[1].rcpt)
      for _, it_ in ipairs(r.items) do assert.equals("complaint", it_.cause) end
      local _, p1, h1 = api("GET", "/suppressions?reason=userunknown&limit=3")
      assert.equals(3, p1.count)
      assert.is_true(p1.total > 3)
      assert.equals(p1.next, h1["x-next-after"])
      local _, p2 = api("GET", "/suppressions?reason=userunknown&limit=3&after=" .. nginx.escape(p1.next))
      assert.is_true(p2.items[1].rcpt > p1.items[3].rcpt)
      local s, csv, h = request("GET", "/suppressions?format=csv&cause=hard", nil, AUTH)
      assert.equals(200, s)
      assert.matches("^text/csv", h["content-type"])
      -- the columns and names of `bounce suppressions --csv` (bounce.output)
      assert.matches("^rcpt,state,cause,reason,since,expires_at,attempts,bounces,blocks,last_event,last_at\r\n", csv)
      assert.matches("\r\npage1@example%.com,suppressed,hard,userunknown,%d%d%d%d%-%d%d%-%d%dT", csv)
      local _, one = api("GET", "/suppressions?cause=hard&limit=1")
      assert.same({ "rcpt", "state", "cause", "reason", "since", "attempts", "bounces", "blocks", "last_event",
                    "last_at" }, (function()
        local keys = {}
        for _, k in ipairs(require("bounce.output").SUPPRESSION_FIELDS) do
          if one.items[1][k] ~= nil then keys[#keys + 1] = k end
        end
        return keys
      end)())
    end)

    it("pages through a list many times longer than a page, each address once, in order", function()
      local events = {}
      for i = 1, 60 do
        events[i] = { email = string.format("walk%02d@example.com", (i * 37) % 60), event = "bounce",
                      type = "bounce", timestamp = os.time(), reason = "550 5.1.1 user unknown" }
      end
      assert.equals(200, (post("sendgrid", cjson.encode(events))))
      local seen, after, pages = {}, nil, 0
      repeat
        local status, p = api("GET", "/suppressions?limit=4" .. (after and "&after=" .. nginx.escape(after) or ""))
        assert.equals(200, status)
        pages = pages + 1
        for _, item in ipairs(p.items) do
          if item.rcpt:match("^walk") then seen[#seen + 1] = item.rcpt end
          if #seen > 1 then assert.is_true(seen[#seen] > seen[#seen - 1]) end
        end
        after = p.next
      until not after or pages > 100
      assert.equals(60, #seen)
      assert.equals("walk00@example.com", seen[1])
      assert.equals("walk59@example.com", seen[60])
    end)

    it("releases a suppressed address, and says 404 for one that is not", function()
      assert.is_false((allowed("page1@example.com")))
      local status, r = api("DELETE", "/suppressions/page1@example.com")
      assert.equals(200, status)
      assert.same({ "page1@example.com", true, "active" }, { r.rcpt, r.released, r.state })
      assert.is_true((allowed("page1@example.com")))
      assert.equals(404, (api("DELETE", "/suppressions/page1@example.com")))
      assert.equals(404, (api("DELETE", "/suppressions/nobody@example.com")))
      assert.equals(400, (api("DELETE", "/suppressions/nonsense")))
    end)

    it("lists a dead domain under kind=domain, refuses its addresses at /check, releases it", function()
      local status = api("POST", "/events", cjson.encode({ rcpt = "x@gone.example",
        reply = "550 5.1.2 <x@gone.example>: Recipient address rejected: Domain not found" }))
      assert.equals(200, status)
      local ok, text = allowed("someone.else@gone.example")
      assert.is_false(ok)
      assert.matches("dead domain gone%.example since %d%d%d%d%-%d%d%-%d%d until ", text)
      local _, r = api("GET", "/suppressions?kind=domain")
      assert.equals(1, r.total)
      assert.same({ "gone.example", "hostunknown" }, { r.items[1].domain, r.items[1].reason })
      assert.equals(text, r.items[1].why)
      assert.is_number(r.items[1].expires_at)
      local s, csv = request("GET", "/suppressions?kind=domain&format=csv", nil, AUTH)
      assert.equals(200, s)
      assert.matches("^domain,reason,since,expires_at,why\r\ngone%.example,hostunknown,%d%d%d%d%-", csv)
      -- the address list holds addresses only
      local _, a = api("GET", "/suppressions?reason=hostunknown")
      assert.same({ "x@gone.example" }, { a.items[1].rcpt, a.items[2] })
      assert.equals(400, (api("GET", "/suppressions?kind=domain&cause=hard")))
      assert.equals(400, (api("GET", "/suppressions?kind=people")))
      local st, rel = api("DELETE", "/suppressions/gone.example")
      assert.equals(200, st)
      assert.same({ "gone.example", true }, { rel.domain, rel.released })
      assert.is_true((allowed("someone.else@gone.example")))
      assert.is_false((allowed("x@gone.example")))
      assert.equals(404, (api("DELETE", "/suppressions/gone.example")))
      assert.equals(0, select(2, api("GET", "/suppressions?kind=domain")).total)
    end)

    it("counts health per campaign across workers", function()
      local now = os.time()
      for i = 1, 10 do
        local body = i <= 2 and { RecordType = "Bounce", TypeCode = 1, Email = "h" .. i .. "@example.com",
                                  Tag = "c-health", BouncedAt = iso(now) }
          or { RecordType = "Delivery", Recipient = "h" .. i .. "@example.com", Tag = "c-health",
               DeliveredAt = iso(now) }
        assert.equals(200, (post("postmark", cjson.encode(body))))
      end
      local status, h = api("GET", "/health?scope=campaign:c-health")
      assert.equals(200, status)
      assert.same({ 8, 2, 10 }, { h.delivered, h.hard, h.messages })
      assert.equals(0.2, h.hard_rate)
    end)
  end)

  describe("policy", function()
    local function soft(rcpt)
      local _, r = post("postmark", cjson.encode({ RecordType = "Bounce", TypeCode = 4096, Email = rcpt,
        BouncedAt = iso(os.time()), Details = "452 4.2.2 mailbox full" }))
      return r.decisions[1].action
    end

    it("applies an edit in every worker without a restart, and keeps it through a broken edit", function()
      assert.equals("retry", soft("p1@example.com"))
      write(policy, "return { soft = { max_attempts = 1 } }\n")
      socket.sleep(2.5)   -- every worker looks at the file within 2 reload intervals
      for i = 1, 6 do   -- requests land on both workers
        assert.equals("suppress", soft("p2-" .. i .. "@example.com"))
      end
      write(policy, "return { soft = { max_attempts = -3 } }\n")
      socket.sleep(2.5)   -- every worker looks at the file within 2 reload intervals
      for i = 1, 6 do
        assert.equals("suppress", soft("p3-" .. i .. "@example.com"))
      end
      local log = read(prefix .. "/logs/error.log")
      assert.matches("policy edit rejected, the previous policy stays in force: .*max_attempts", log)
      write(policy, "return { soft = { max_attempts = 5 } }\n")
    end)

    it("keeps answering with a hook that backtracks or runs slow, in one budget per request", function()
      write(policy, [[
return { on_event = function(event, record, decision)
  if event.rcpt:find("^evil") then local x = ("a"):rep(30):find("a*a*a*a*a*a*a*a*a*a*b") end
  if event.rcpt:find("^slow") then local n = 0 for i = 1, 1e7 do n = n + i end end
  return decision
end }
]])
      socket.sleep(2.5)   -- every worker looks at the file within 2 reload intervals
      for i = 1, 4 do
        local t0 = socket.gettime()
        local status, r = post("postmark", cjson.encode({ RecordType = "Bounce", TypeCode = 1,
          Email = "evil" .. i .. "@example.com", BouncedAt = iso(os.time()), Details = "550 5.1.1 no such user" }))
        assert.equals(200, status)
        assert.is_true(socket.gettime() - t0 < 2)
        assert.equals("suppress", r.decisions[1].action)
        assert.matches("^on_event failed: " .. policy:gsub("%p", "%%%0")
          .. ":2: pattern matching ran out of steps", r.decisions[1].hook_error)
      end
      local events = {}
      for i = 1, 10000 do events[i] = { rcpt = "slow" .. i .. "@example.com", type = "hard" } end
      local t0 = socket.gettime()
      local status, r = api("POST", "/events", cjson.encode(events))
      assert.equals(200, status)
      assert.is_true(socket.gettime() - t0 < 20, "took " .. (socket.gettime() - t0) .. " s")
      assert.equals(10000, r.stored)
      assert.equals("suppress", r.decisions[10000].action)
      assert.matches("budget for policy hooks is spent", r.decisions[10000].hook_error)
      assert.equals(200, (api("GET", "/check?rcpt=a@example.org")))
      assert.matches("on_event budget for this request is spent", read(prefix .. "/logs/error.log"))
      write(policy, "return { soft = { max_attempts = 5 } }\n")
      socket.sleep(2.5)
    end)
  end)

  describe("in a user's own nginx.conf", function()
    local function helper_api(method, path, body)
      local status, text = request(method, path, body, AUTH, function(p) return helper:url(p) end)
      return status, cjson.decode(text)
    end

    it("answers 503 when the store cannot take the events, so the provider retries", function()
      helper:get("/fill")
      local status, r = helper_api("POST", "/webhooks/postmark", fixture("postmark_bounce"))
      assert.equals(503, status)
      assert.matches("no memory", r.error)
      local s2 = helper_api("GET", "/check?rcpt=jane.doe@example.org")
      assert.equals(200, s2)
    end)
  end)

  describe("with --store sqlite:PATH", function()
    local have = pcall(require, "bounce.store.sqlite")
      and read(nginx.root .. "/build/luajit/bounce/sqlite.so") ~= nil
    if not have then
      pending("bounce.store.sqlite or its LuaJIT build (make LUA=luajit) is missing")
      return
    end

    -- Starts bounce serve on the database, runs fn(port), stops it.
    local function with_sqlite(db, fn, more)
      local pre = dir .. "/sqlite-prefix"
      local p, spid = start_serve(pre, "--token " .. TOKEN .. " --store sqlite:" .. db .. " " .. (more or ""),
                                  dir .. "/sqlite.out")
      if not p then error("bounce serve --store sqlite: did not start:\n" .. spid, 0) end
      local ok, err = pcall(fn, function(path) return "http://127.0.0.1:" .. p .. path end)
      sh("kill -TERM " .. spid)
      local deadline = socket.gettime() + 10
      while read(pre .. "/logs/nginx.pid") and socket.gettime() < deadline do socket.sleep(0.05) end
      if not ok then error(err, 0) end
      -- SIGTERM to bounce serve stops nginx cleanly: master gone, pid file removed
      assert.is_nil(read(pre .. "/logs/nginx.pid"), "nginx still running 10 s after SIGTERM")
      assert.matches("exit", read(pre .. "/logs/error.log") or "")
    end

    it("keeps the suppressions across a restart", function()
      sh("mkdir -p " .. dir .. "/db && chmod 777 " .. dir .. "/db")   -- workers may run as nobody
      local db = dir .. "/db/bounce.db"
      with_sqlite(db, function(target)
        local status = request("POST", "/webhooks/postmark", fixture("postmark_bounce"), AUTH, target)
        assert.equals(200, status)
      end, "--create")
      with_sqlite(db, function(target)
        local status, text = request("GET", "/check?rcpt=jane.doe@example.org", nil, AUTH, target)
        assert.equals(200, status)
        assert.is_false(cjson.decode(text).allowed)
      end)
    end)

    it("applies an event that meets a corrupt record, lists the record and resets it on DELETE", function()
      if not os.execute("command -v sqlite3 >/dev/null") then
        return pending("the sqlite3 shell is not installed (Debian package sqlite3)")
      end
      sh("mkdir -p " .. dir .. "/cdb && chmod 777 " .. dir .. "/cdb")
      local db = dir .. "/cdb/bounce.db"
      with_sqlite(db, function(target)
        local function capi(method, path, body)
          local status, text, h = request(method, path, body, AUTH, target)
          return status, cjson.decode(text), h
        end
        local status = capi("POST", "/events", cjson.encode({
          { rcpt = "c@example.org", type = "soft", at = os.time() } }))
        assert.equals(200, status)
        -- a row changed behind the store's back (a disk fault, another program)
        sh("sqlite3 " .. db .. " \"update records set record = X'b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5"
          .. "b5b5b5b5b5b5b5b5b5b5b5b5b5b5' where address = 'c@example.org'\"")
        local r
        status, r = capi("POST", "/events", cjson.encode({
          { rcpt = "c@example.org", type = "hard", at = os.time() } }))
        assert.equals(200, status, cjson.encode(r))
        assert.equals(1, r.stored)
        assert.is_nil(r.rejected[1])
        assert.same({ "suppress", true }, { r.decisions[1].action, r.decisions[1].corrupt })
        assert.matches("^corrupt record for c@example.org: .*kept under @@corrupt:c@example.org",
                       r.decisions[1].why)
        local h
        status, r, h = capi("GET", "/suppressions")
        assert.equals(200, status)
        assert.equals("c@example.org", r.items[1].rcpt)
        assert.equals("@@corrupt:c@example.org", r.corrupt[1].key)
        assert.matches("set aside from c@example.org", r.corrupt[1].why)
        assert.equals("1", h["x-corrupt-records"])
        status, r = capi("DELETE", "/suppressions/c@example.org")
        assert.equals(200, status, cjson.encode(r))
        assert.same({ true, true }, { r.released, r.corrupt })
        status, r, h = capi("GET", "/suppressions")
        assert.equals(200, status)
        assert.is_nil(r.corrupt)
        assert.is_nil(h["x-corrupt-records"])
      end, "--create")
    end)

    -- Runs bounce serve to its end (it must not start); returns its output and exit code.
    local function serve_fails(args)
      local out = dir .. "/refused.out"
      -- (bounded: a serve that wrongly starts would run until stopped)
      local rc = sh("timeout -s TERM 30 lua5.4 " .. nginx.root .. "/bin/bounce serve --listen 127.0.0.1:" .. free_port()
        .. " --prefix " .. dir .. "/refused-prefix --token " .. TOKEN .. " " .. args .. " >" .. out .. " 2>&1")
      return read(out) or "", rc
    end

    it("refuses to start on a SQLite folder the workers cannot write, or a history that does not exist", function()
      -- as root (the spec's usual case) the workers run as nobody: a root-owned
      -- folder of mode 755 is not theirs; otherwise mode 555 takes it from us
      local _, uid = sh("id -u")
      local root = uid:match("^%s*0%s*$") ~= nil
      local ro = dir .. "/ro"
      sh("mkdir -p " .. ro .. " && chmod " .. (root and "755" or "555") .. " " .. ro)
      local who = root and "the user the workers run as, nobody" or "this user"
      local out, rc = serve_fails("--create --store sqlite:" .. ro .. "/bounce.db")
      assert.equals(2, rc, out)
      assert.not_matches("listening", out)
      assert.matches("%-%-store sqlite:" .. ro:gsub("%p", "%%%0") .. "/bounce.db: the folder "
        .. ro:gsub("%p", "%%%0") .. " is not writable by " .. who, out)
      assert.is_nil(read(ro .. "/bounce.db"))
      assert.is_nil(read(dir .. "/refused-prefix/logs/nginx.pid"))
      -- a file the workers cannot write, in a folder they can
      sh("mkdir -p " .. dir .. "/rw && chmod 777 " .. dir .. "/rw && touch " .. dir .. "/rw/bounce.db && chmod 444 "
        .. dir .. "/rw/bounce.db")
      out, rc = serve_fails("--store sqlite:" .. dir .. "/rw/bounce.db")
      assert.equals(2, rc, out)
      assert.matches("bounce.db is not readable and writable by " .. who, out)
      -- no such file, no --create: fails closed rather than answer /check from an empty history
      out, rc = serve_fails("--store sqlite:" .. dir .. "/db/typo.db")
      assert.equals(2, rc)
      assert.matches("typo.db: no such file %(%-%-create starts a new history there%)", out)
      assert.is_nil(read(dir .. "/db/typo.db"))
      -- an empty file (a `touch`, a truncated copy) is no history either
      sh("touch " .. dir .. "/rw/empty.db && chmod 666 " .. dir .. "/rw/empty.db")
      out, rc = serve_fails("--store sqlite:" .. dir .. "/rw/empty.db")
      assert.equals(2, rc, out)
      assert.not_matches("listening", out)
      assert.matches("empty.db: an empty file, not a bounce history", out, 1, true)
      assert.equals("", read(dir .. "/rw/empty.db"))
      -- a policy that does not load, a port another process holds: refused before "listening" too
      write(dir .. "/broken-policy.lua", "return { soft = { max_attempts = -3 } }\n")
      sh("chmod 644 " .. dir .. "/broken-policy.lua")
      out, rc = serve_fails("--policy " .. dir .. "/broken-policy.lua")
      assert.equals(2, rc, out)
      assert.not_matches("listening", out)
      assert.matches("%-%-policy: .*soft%.max_attempts: expected an integer", out)
      local held = assert(socket.bind("127.0.0.1", 0))
      local _, hport = held:getsockname()
      rc = sh("timeout -s TERM 30 lua5.4 " .. nginx.root .. "/bin/bounce serve --listen 127.0.0.1:" .. hport
        .. " --prefix " .. dir .. "/refused-prefix --token " .. TOKEN .. " >" .. dir .. "/held.out 2>&1")
      held:close()
      out = read(dir .. "/held.out") or ""
      assert.equals(2, rc, out)
      assert.not_matches("listening", out)
      assert.matches("%-%-listen 127%.0%.0%.1:" .. hport .. ": address already in use", out)
      sh("chmod 755 " .. ro)
    end)
  end)

  describe("with --store redis://HOST:PORT/PREFIX", function()
    local redis_srv = require("spec.support.redis")
    local have, rwhy = redis_srv.available()
    if have and not read("/usr/share/lua/5.1/nginx/redis.lua") and not read("/usr/share/lua/5.1/resty/redis.lua") then
      have, rwhy = false, "nginx.redis not found (apt-get install lua-nginx-redis)"
    end
    if not have then
      if os.getenv("CI") then error(rwhy) end
      pending(rwhy)
      return
    end

    local PFX = "spec:"
    local rsrv, rpid, rport, rprefix

    local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
    local function rapi(method, path, body)
      local status, text, headers = request(method, path, body, AUTH,
        function(p) return "http://127.0.0.1:" .. rport .. p end)
      local okj, v = pcall(cjson.decode, text)
      return status, okj and v or text, headers
    end
    local function hard_bounce(rcpt)
      return rapi("POST", "/webhooks/postmark", cjson.encode({ RecordType = "Bounce", TypeCode = 1,
        Type = "HardBounce", Email = rcpt, BouncedAt = iso(os.time()), Details = "smtp;550 5.1.1 user unknown" }))
    end
    local function rallowed(rcpt)
      local status, r = rapi("GET", "/check?rcpt=" .. nginx.escape(rcpt))
      assert.equals(200, status)
      return r.allowed
    end
    -- What redis-cli says about the address's key.
    local function in_redis(rcpt) return rsrv:cli("EXISTS " .. q(PFX .. "{" .. rcpt .. "}")) == "1" end
    local function keys() return rsrv:cli("--scan --pattern " .. q(PFX .. "{*")) end

    setup(function()
      rsrv = redis_srv.start()
      rprefix = dir .. "/redis-prefix"
      local p, pid_or_log = start_serve(rprefix, "--token " .. TOKEN .. " --workers 2 --store redis://127.0.0.1:"
        .. rsrv:port() .. "/" .. PFX, dir .. "/redis-serve.out")
      if p then
        rport, rpid = p, pid_or_log
        return
      end
      rsrv:stop()
      error("bounce serve --store redis:// did not start:\n" .. pid_or_log)
    end)

    teardown(function()
      if rpid then sh("kill -TERM " .. rpid) end
      local deadline = socket.gettime() + 10
      while rprefix and read(rprefix .. "/logs/nginx.pid") and socket.gettime() < deadline do socket.sleep(0.05) end
      if rsrv then rsrv:stop() end
    end)

    it("stores webhook events in Redis under the prefix, where redis-cli sees them", function()
      local status, r = hard_bounce("r1@example.net")
      assert.equals(200, status, cjson.encode(r))
      assert.equals(1, r.stored)
      assert.is_true(in_redis("r1@example.net"))
      assert.equals(PFX .. "{r1@example.net}", keys())
      assert.equals("0", rsrv:cli("EXISTS " .. q("bounce:{r1@example.net}")))
    end)

    it("answers /check and /suppressions from Redis, in every worker", function()
      for _ = 1, 4 do assert.is_false(rallowed("r1@example.net")) end
      local status, r = rapi("GET", "/suppressions")
      assert.equals(200, status)
      assert.equals(1, r.total)
      assert.equals("r1@example.net", r.items[1].rcpt)
      rsrv:cli("DEL " .. q(PFX .. "{r1@example.net}"))   -- an operator deletes the key
      for _ = 1, 4 do assert.is_true(rallowed("r1@example.net")) end
    end)

    it("answers 503 with Retry-After while Redis is down, 2xx once it is back, and loses nothing acknowledged",
      function()
      rsrv:cli("FLUSHALL")
      local acked, refused = {}, {}
      local function send(rcpt)
        local status, r, h = hard_bounce(rcpt)
        if status >= 200 and status < 300 then
          assert.equals(1, r.stored)
          acked[#acked + 1] = rcpt
        else
          assert.equals(503, status, cjson.encode(r))
          assert.equals("30", h["retry-after"])
          assert.matches("^store: redis", r.error)
          assert.is_nil(r.stored)
          refused[#refused + 1] = rcpt
        end
        return status
      end
      for i = 1, 10 do assert.equals(200, send("before" .. i .. "@example.net")) end
      -- Redis keeps what it acknowledged across its restart when it is set
      -- up to (appendonly, RDB): here a SAVE just before the stop stands in
      -- for that. What is tested is bounce serve's part: no 2xx for an event
      -- Redis did not take.
      rsrv:cli("SAVE")
      rsrv:down()
      for i = 1, 10 do assert.equals(503, send("during" .. i .. "@example.net")) end
      local status, r, h = rapi("GET", "/check?rcpt=before1@example.net")
      assert.equals(503, status)        -- not a guess such as "allowed"
      assert.equals("30", h["retry-after"])
      assert.matches("^store: redis", r.error)
      rsrv:up()
      for i = 1, 10 do assert.equals(200, send("after" .. i .. "@example.net")) end

      assert.equals(20, #acked)
      assert.equals(10, #refused)
      for _, rcpt in ipairs(acked) do
        assert.is_true(in_redis(rcpt), rcpt .. " was acknowledged but is not in Redis")
        assert.is_false(rallowed(rcpt))
      end
      for _, rcpt in ipairs(refused) do
        assert.is_false(in_redis(rcpt), rcpt .. " was refused with 503 but is in Redis")
        assert.is_true(rallowed(rcpt))
      end
      local _, list = rapi("GET", "/suppressions?limit=100")
      assert.equals(#acked, list.total)
      -- the provider's retries of the refused events go through now
      for _, rcpt in ipairs(refused) do
        assert.equals(200, (hard_bounce(rcpt)))
        assert.is_true(in_redis(rcpt))
      end
      -- the records, and the health counts of their domain (one hash)
      assert.equals("1", rsrv:cli("EXISTS " .. q(PFX .. "health:{domain:example.net}")))
      assert.equals(tostring(#acked + #refused + 1), rsrv:cli("DBSIZE"))
    end)

    it("logs no Lua error", function()
      local log = read(rprefix .. "/logs/error.log") or ""
      assert.not_matches("lua entry thread aborted", log)
      assert.not_matches("runtime error", log)
      assert.not_matches("internal error", log)
    end)
  end)

  describe("with a password-protected Redis: redis://[USER]:PASSWORD@HOST:PORT/PREFIX?db=N", function()
    local redis_srv = require("spec.support.redis")
    local have, rwhy = redis_srv.available()
    if have and not read("/usr/share/lua/5.1/nginx/redis.lua") and not read("/usr/share/lua/5.1/resty/redis.lua") then
      have, rwhy = false, "nginx.redis not found (apt-get install lua-nginx-redis)"
    end
    if not have then
      if os.getenv("CI") then error(rwhy) end
      pending(rwhy)
      return
    end

    -- '@', ':', '/' and '?' in the password: the URL carries it percent-encoded
    local PASSWORD, ENCODED = "s3cr@t:pa/ss?word", "s3cr%40t%3Apa%2Fss%3Fword"
    local rsrv

    local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
    local function has(text, s) return (text or ""):find(s, 1, true) ~= nil end
    local function mode(path) return (select(2, sh("stat -c %a " .. q(path))):gsub("%s+$", "")) end
    local function store_url(creds, rest)
      return "redis://" .. creds .. "127.0.0.1:" .. rsrv:port() .. rest
    end

    -- Starts bounce serve (one worker) on STORE, with ENV before the command,
    -- runs fn(api, prefix, out) and stops it, also when fn fails.
    local function with_serve(name, store, env, fn)
      local pre, out = dir .. "/" .. name .. "-prefix", dir .. "/" .. name .. ".out"
      local p, spid = start_serve(pre, "--token " .. TOKEN .. " --store " .. q(store), out, env)
      if not p then error("bounce serve --store redis:// did not start:\n" .. spid, 0) end
      local function rapi(method, path, body)
        local status, text, headers = request(method, path, body, AUTH,
          function(x) return "http://127.0.0.1:" .. p .. x end)
        local okj, v = pcall(cjson.decode, text)
        return status, okj and v or text, headers
      end
      local ok, err = pcall(fn, rapi, pre, out)
      sh("kill -TERM " .. spid)
      local deadline = socket.gettime() + 10
      while read(pre .. "/logs/nginx.pid") and socket.gettime() < deadline do socket.sleep(0.05) end
      if not ok then error(err, 0) end
    end

    local function hard_bounce(rapi, rcpt)
      return rapi("POST", "/webhooks/postmark", cjson.encode({ RecordType = "Bounce", TypeCode = 1,
        Type = "HardBounce", Email = rcpt, BouncedAt = iso(os.time()), Details = "smtp;550 5.1.1 user unknown" }))
    end

    -- The password appears in none of the files an operator shares (the
    -- generated nginx.conf, the logs, bounce serve's output); the options
    -- file that holds it is the serving user's alone.
    local function assert_kept_secret(pre, out, secret)
      assert.is_false(has(read(pre .. "/conf/nginx.conf"), secret), "password in nginx.conf")
      assert.is_false(has(read(pre .. "/logs/error.log"), secret), "password in the error log")
      assert.is_false(has(read(out), secret), "password in bounce serve's output")
      assert.equals("600", mode(pre .. "/conf/bounce.lua"))
    end

    setup(function() rsrv = redis_srv.start{ password = PASSWORD } end)
    teardown(function() if rsrv then rsrv:stop() end end)

    it("authenticates, selects ?db=3 and stores the event there under the prefix", function()
      with_serve("redis-auth", store_url(":" .. ENCODED .. "@", "/auth:?db=3"), nil, function(rapi, pre, out)
        local status, r = hard_bounce(rapi, "db3@example.net")
        assert.equals(200, status, cjson.encode(r))
        assert.equals(1, r.stored)
        assert.equals("1", rsrv:cli("-n 3 EXISTS " .. q("auth:{db3@example.net}")))
        assert.equals("0", rsrv:cli("-n 0 DBSIZE"))
        local _, c = rapi("GET", "/check?rcpt=db3@example.net")
        assert.is_false(c.allowed)
        -- the worker's connection goes back to the pool and is reused as it
        -- is: 20 requests send no AUTH and no SELECT (the one AUTH counted is
        -- redis-cli's own, for INFO)
        rsrv:cli("CONFIG RESETSTAT")
        for _ = 1, 20 do assert.equals(200, (rapi("GET", "/check?rcpt=db3@example.net"))) end
        local stats = rsrv:cli("INFO commandstats")
        assert.equals(1, tonumber(stats:match("cmdstat_auth:calls=(%d+)")), stats)
        assert.is_nil(stats:match("cmdstat_select:calls=(%d+)"), stats)
        assert_kept_secret(pre, out, PASSWORD)
      end)
    end)

    it("answers 503 with an error naming the store but not the password when the password is wrong", function()
      local WRONG = "wrong-p4ssword"
      with_serve("redis-wrong", store_url(":" .. WRONG .. "@", "/auth:"), nil, function(rapi, pre, out)
        local dsn = table.concat({
          "From: MAILER-DAEMON@mx.sender.example", "To: news@sender.example",
          "Subject: Undelivered Mail Returned to Sender", "MIME-Version: 1.0",
          'Content-Type: multipart/report; report-type=delivery-status; boundary="B"', "",
          "--B", "Content-Type: message/delivery-status", "",
          "Reporting-MTA: dns; mx.sender.example", "",
          "Final-Recipient: rfc822; wrongpw@example.net", "Action: failed", "Status: 5.1.1",
          "Diagnostic-Code: smtp; 550 5.1.1 user unknown", "", "--B--", "" }, "\r\n")
        local status, r, h = rapi("POST", "/bounces", dsn)
        assert.equals(503, status, cjson.encode(r))
        assert.equals("30", h["retry-after"])
        assert.matches("^store: redis", r.error)
        assert.is_true(has(r.error, "127.0.0.1:" .. rsrv:port() .. ": AUTH failed"), r.error)
        assert.is_false(has(r.error, WRONG), r.error)
        status, r = rapi("GET", "/check?rcpt=wrongpw@example.net")
        assert.equals(503, status)
        assert.is_false(has(r.error, WRONG), r.error)
        assert.equals("0", rsrv:cli("-n 0 DBSIZE"))
        assert_kept_secret(pre, out, WRONG)
      end)
    end)

    it("takes the password from BOUNCE_REDIS_PASSWORD, off the command line", function()
      with_serve("redis-env", store_url("", "/env:?db=5"), "BOUNCE_REDIS_PASSWORD=" .. q(PASSWORD),
        function(rapi, pre, out)
        local status, r = hard_bounce(rapi, "env@example.net")
        assert.equals(200, status, cjson.encode(r))
        assert.equals(1, r.stored)
        assert.equals("1", rsrv:cli("-n 5 EXISTS " .. q("env:{env@example.net}")))
        assert.is_true(has(read(pre .. "/conf/bounce.lua"), "redis_password"))
        assert_kept_secret(pre, out, PASSWORD)
      end)
    end)

    it("logs in as a Redis 6 ACL user with USER:PASSWORD@, percent-decoded", function()
      -- the user may touch keys under acl: only: a store that logged in as
      -- the default user would not show that, one that did not log in fails
      rsrv:cli("ACL SETUSER bouncer on " .. q(">b:o/u@nce") .. " " .. q("~acl:*") .. " +@all")
      with_serve("redis-acl", store_url("bouncer:b%3Ao%2Fu%40nce@", "/acl:?db=2"), nil, function(rapi, pre, out)
        local status, r = hard_bounce(rapi, "acl@example.net")
        assert.equals(200, status, cjson.encode(r))
        assert.equals("1", rsrv:cli("-n 2 EXISTS " .. q("acl:{acl@example.net}")))
        assert.matches("user=bouncer", rsrv:cli("CLIENT LIST"))   -- the worker's pooled connection
        assert_kept_secret(pre, out, "b:o/u@nce")
      end)
      -- the same user with a wrong password: the error says which user failed
      with_serve("redis-acl-wrong", store_url("bouncer:nope-nope@", "/acl:"), nil, function(rapi)
        local status, r = hard_bounce(rapi, "acl2@example.net")
        assert.equals(503, status)
        assert.is_true(has(r.error, "AUTH as user bouncer failed"), r.error)
        assert.is_false(has(r.error, "nope-nope"), r.error)
      end)
    end)

    it("logs no Lua error", function()
      for _, name in ipairs({ "redis-auth", "redis-wrong", "redis-env", "redis-acl", "redis-acl-wrong" }) do
        local log = read(dir .. "/" .. name .. "-prefix/logs/error.log") or ""
        assert.not_matches("lua entry thread aborted", log)
        assert.not_matches("runtime error", log)
        assert.not_matches("internal error", log)
      end
    end)
  end)

  it("logs no Lua error", function()
    local log = read(prefix .. "/logs/error.log") or ""
    assert.not_matches("lua entry thread aborted", log)
    assert.not_matches("runtime error", log)
    assert.not_matches("internal error", log)
  end)
end)
