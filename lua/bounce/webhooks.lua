-- bounce.webhooks: ESP webhook payloads (Postmark, Amazon SES over SNS,
-- SendGrid, Mailgun, SparkPost, Mailjet, Brevo, Mandrill, Postal, Resend)
-- and bounce's own event schema made into tracker events. Pure Lua, for
-- Lua 5.1-5.4, LuaJIT and OpenResty: bounce.classify (the C module) is
-- loaded when a payload carries a reply to classify, unless opts.classify
-- is given, and bounce.core for an SES or Resend bounce (SES's bounce types
-- are the C table the message parser uses too); JSON is decoded with lua-cjson unless a decoder is passed in;
-- signatures are checked with lua-luaossl (loaded only when a check runs).
--
--   local webhooks = require("bounce.webhooks")
--   local r, err = webhooks.parse("postmark", body)
--   -- r.events:  { {rcpt, type, reason, permanent, code, status, reply, at,
--   --              campaign, sender, source, provider, provider_type,
--   --              provider_reason, id, index}, ... }
--   -- r.skipped: { {index, event, why}, ... }  (opens, clicks, unknown kinds)
--   -- r.subscribe_url (SES/SNS SubscriptionConfirmation), r.sns (the envelope)
--   for _, ev in ipairs(r.events) do t:record(webhooks.tracker_event(ev)) end
--
-- Which source decides (ev.source). Delivery, complaint, unsubscribe and
-- auto-reply events are what the provider says they are ("provider").
-- For a bounce the provider gives a coarse label (SES Permanent/General,
-- SendGrid "Technical", SparkPost class 40) and often the receiving
-- server's own reply (SES diagnosticCode, Postmark Details, SendGrid reason,
-- Mailgun delivery-status, SparkPost raw_reason). The reply is the primary
-- evidence and the provider's label is a classification of it, so the reply
-- decides ("reply") when our classifier finds a specific reason in it;
-- the provider decides when there is no reply, when the reply classifies as
-- "undefined" (we learn nothing), or when the reply says "delivered" (a 2xx
-- in a bounce contradicts the event; the provider saw the failure). Both
-- views are kept: provider_type and provider_reason always carry the
-- provider's mapping.
--
-- Errors: a body that is not JSON, a field of the wrong type, a missing
-- required field or a time out of range gives nil, "postmark: field
-- 'Email': string expected, got number" (the path names the event in an
-- array). Events of kinds we do not track (opens, clicks, SendGrid
-- "processed", Mailgun "suppress-*" failures, ...) are skipped and listed in
-- r.skipped, not errors. Wrong argument types raise.

local date = require("bounce.date")

local type, error, tostring, tonumber, ipairs, pairs, next, pcall, require, rawget =
  type, error, tostring, tonumber, ipairs, pairs, next, pcall, require, rawget
local floor = math.floor
local sbyte, schar, sfind, sformat, slower, smatch, ssub, sgsub, sgmatch =
  string.byte, string.char, string.find, string.format, string.lower, string.match, string.sub,
  string.gsub, string.gmatch
local concat = table.concat

local _M = require("bounce.version").lazy({})

local PROVIDERS = { "postmark", "ses", "sendgrid", "mailgun", "sparkpost", "mailjet", "brevo", "mandrill",
                    "postal", "resend" }
_M.providers = PROVIDERS
-- what a payload is when it is not JSON of the right kind (for messages)
local ARRAY_PAYLOAD = { sendgrid = true, sparkpost = true, mandrill = true }
local OBJECT_OR_ARRAY = { mailjet = true, brevo = true, events = true }

local MAX_EVENTS = 10000     -- per payload
local MAX_DEPTH = 32         -- JSON nesting

------------------------------------------------------------------------------
-- Helpers
------------------------------------------------------------------------------

local cjson_inst
local function default_decode(s)
  if not cjson_inst then
    local ok, cjson = pcall(require, "cjson")
    if not ok then error("bounce.webhooks needs lua-cjson, or opts.decode", 0) end
    cjson_inst = cjson.new()
    cjson_inst.decode_max_depth(MAX_DEPTH)
    _M.null = cjson.null
  end
  return cjson_inst.decode(s)
end

-- Raised inside a parser with a path and a message; caught by parse().
local Bad = {}
local function bad(path, msg) error({ Bad, path .. ": " .. msg }, 0) end

local function is_null(v) return v == nil or (v ~= nil and v == _M.null) end

local function field(t, k, path, want, required)
  local v = t[k]
  if is_null(v) then
    if required then bad(path, "field '" .. k .. "' is missing") end
    return nil
  end
  local tv = type(v)
  if want == "number|string" then
    if tv == "number" or tv == "string" then return v end
  elseif want == "string|array" then
    if tv == "string" or tv == "table" then return v end
  elseif tv == want then
    return v
  end
  bad(path, "field '" .. k .. "': " .. want .. " expected, got " .. tv)
end

local function str(t, k, path, required) return field(t, k, path, "string", required) end
local function obj(t, k, path, required) return field(t, k, path, "table", required) end

-- syntax: t, err = webhooks.time(v)   -- see bounce.date.parse
_M.time = date.parse

local function time_field(t, k, path, required)
  local v = t[k]
  if is_null(v) then
    if required then bad(path, "field '" .. k .. "' is missing") end
    return nil
  end
  local n, err, kind = date.parse(v)
  if not n then
    if kind == "format" then err = "time expected (ISO 8601 or unix seconds), " .. err end
    bad(path, "field '" .. k .. "': " .. err)
  end
  return n
end

-- A JSON array: a table with 1..n and nothing else (cjson gives {} for []).
local function is_array(t)
  if type(t) ~= "table" then return false end
  local n = #t
  for k in pairs(t) do
    if type(k) ~= "number" or k < 1 or k > n or k % 1 ~= 0 then return false end
  end
  return true
end

local function array(v, path, what)
  if not is_array(v) then
    bad(path, what .. ": array expected, got " .. (type(v) == "table" and "object" or type(v)))
  end
  if #v > MAX_EVENTS then bad(path, what .. ": more than " .. MAX_EVENTS .. " entries") end
  return v
end

-- The first string of a string or a list of strings (a campaign label).
local function first_string(v)
  if type(v) == "string" then return v end
  if type(v) == "table" and type(v[1]) == "string" then return v[1] end
  return nil
end

------------------------------------------------------------------------------
-- Classification: the provider's label and the server's reply
------------------------------------------------------------------------------

local bounce_mod
local function default_classify(reply, opts)
  bounce_mod = bounce_mod or require("bounce")
  return bounce_mod.classify(reply, opts)
end

-- Strips the DSN type prefix of a diagnostic ("smtp; 550 ...").
local function clean_reply(s)
  if type(s) ~= "string" then return nil end
  s = sgsub(s, "^%s*[Ss][Mm][Tt][Pp]%s*;%s*", "")
  if not sfind(s, "%S") then return nil end
  if #s > 4096 then s = ssub(s, 1, 4096) end
  return s
end

-- Builds the event for a bounce-like outcome. ptype/preason: the provider's
-- mapping (type: hard, soft, block; reason: one of bounce.reasons).
local function outcome(ctx, rcpt, ptype, preason, reply, fields)
  local ev = fields or {}
  ev.rcpt, ev.provider = rcpt, ctx.provider
  ev.provider_type, ev.provider_reason = ptype, preason
  ev.type, ev.reason, ev.source = ptype, preason, "provider"
  ev.permanent = ptype == "hard"
  reply = clean_reply(reply)
  ev.reply = reply
  if reply and (ptype == "hard" or ptype == "soft" or ptype == "block") then
    local ok, r = pcall(ctx.classify, reply)
    if ok and type(r) == "table" then
      ev.code = ev.code or r.code
      ev.status = ev.status or r.status
      if r.reason ~= "undefined" and r.type ~= "delivered" and r.type then
        ev.type, ev.reason, ev.permanent, ev.source = r.type, r.reason, r.permanent, "reply"
      elseif r.permanent ~= nil and ptype ~= "hard" then
        ev.permanent = r.permanent
      end
    end
  end
  return ev
end

local function plain(ctx, rcpt, etype, fields)
  local ev = fields or {}
  ev.rcpt, ev.provider, ev.type, ev.source = rcpt, ctx.provider, etype, "provider"
  ev.provider_type = etype
  if etype == "complaint" then ev.reason = "feedback"
  elseif etype == "auto_reply" then ev.reason = "vacation"
  elseif etype == "delivered" then ev.reason = "delivered" end
  ev.provider_reason = ev.reason
  return ev
end

local function skip(ctx, index, what, why)
  ctx.skipped[#ctx.skipped + 1] = { index = index, event = what, why = why }
end

-- ev.index: the place in the payload of the item the event came from (1
-- for a payload of one object), the same numbering as skipped[].index.
local function add(ctx, ev)
  ev.index = ctx.index or 1
  ctx.events[#ctx.events + 1] = ev
end

------------------------------------------------------------------------------
-- Postmark (one event per request)
------------------------------------------------------------------------------

-- TypeCode -> type, reason; "skip" for what is not a delivery outcome.
local POSTMARK = {
  [1] = { "hard", "userunknown" },          -- HardBounce
  [2] = { "soft", "undefined" },            -- Transient
  [16] = { "unsubscribe" },                 -- Unsubscribe
  [32] = { "skip" },                        -- Subscribe
  [64] = { "auto_reply" },                  -- AutoResponder
  [128] = { "auto_reply" },                 -- AddressChange (an auto-reply naming a new address)
  [256] = { "soft", "networkerror" },       -- DnsError
  [512] = { "block", "spamdetected" },      -- SpamNotification
  [1024] = { "skip" },                      -- OpenRelayTest
  [2048] = { "soft", "undefined" },         -- Unknown
  [4096] = { "soft", "undefined" },         -- SoftBounce
  [8192] = { "block", "virusdetected" },    -- VirusNotification
  [16384] = { "soft", "onhold" },           -- ChallengeVerification
  [100000] = { "hard", "userunknown" },     -- BadEmailAddress
  [100001] = { "complaint" },               -- SpamComplaint
  [100002] = { "skip" },                    -- ManuallyDeactivated (Postmark's own list)
  [100003] = { "skip" },                    -- Unconfirmed
  [100006] = { "block", "blocked" },        -- Blocked
  [100007] = { "skip" },                    -- SMTPApiError (Postmark's API, not the receiver)
  [100008] = { "skip" },                    -- InboundError
  [100009] = { "block", "authfailure" },    -- DMARCPolicy
  [100010] = { "skip" },                    -- TemplateRenderingFailed
}
local POSTMARK_NAMES = {
  HardBounce = 1, Transient = 2, Unsubscribe = 16, Subscribe = 32, AutoResponder = 64,
  AddressChange = 128, DnsError = 256, SpamNotification = 512, OpenRelayTest = 1024,
  Unknown = 2048, SoftBounce = 4096, VirusNotification = 8192, ChallengeVerification = 16384,
  BadEmailAddress = 100000, SpamComplaint = 100001, ManuallyDeactivated = 100002,
  Unconfirmed = 100003, Blocked = 100006, SMTPApiError = 100007, InboundError = 100008,
  DMARCPolicy = 100009, TemplateRenderingFailed = 100010,
}
_M.postmark_types = POSTMARK

local function postmark(ctx, p)
  local path = "postmark"
  if type(p) ~= "table" or is_array(p) and #p > 0 then bad(path, "object expected") end
  local kind = str(p, "RecordType", path, true)
  local common = {
    id = p.MessageID ~= nil and not is_null(p.MessageID) and tostring(p.MessageID) or nil,
    campaign = str(p, "Tag", path), sender = str(p, "From", path),
  }
  if kind == "Bounce" or kind == "SpamComplaint" then
    local rcpt = str(p, "Email", path, true)
    local code = field(p, "TypeCode", path, "number")
    local name = str(p, "Type", path)
    if not code and name then code = POSTMARK_NAMES[name] end
    if not code then bad(path, "field 'TypeCode' is missing") end
    local m = POSTMARK[code]
    if not m then
      return skip(ctx, 1, kind, "unknown Postmark TypeCode " .. (code % 1 == 0 and sformat("%d", code) or code))
    end
    common.at = time_field(p, "BouncedAt", path)
    local details = str(p, "Details", path)
    local k = m[1]
    if k == "skip" then return skip(ctx, 1, kind .. "/" .. tostring(name or code), "not a delivery outcome") end
    if k == "hard" or k == "soft" or k == "block" then
      return add(ctx, outcome(ctx, rcpt, k, m[2], details, common))
    end
    return add(ctx, plain(ctx, rcpt, k, common))
  elseif kind == "Delivery" then
    common.at = time_field(p, "DeliveredAt", path)
    return add(ctx, plain(ctx, str(p, "Recipient", path, true), "delivered", common))
  elseif kind == "SubscriptionChange" then
    local rcpt = str(p, "Recipient", path, true)
    common.at = time_field(p, "ChangedAt", path)
    local suppress = p.SuppressSending
    if type(suppress) ~= "boolean" then bad(path, "field 'SuppressSending': boolean expected") end
    if suppress and p.SuppressionReason == "ManualSuppression" then
      return add(ctx, plain(ctx, rcpt, "unsubscribe", common))
    end
    return skip(ctx, 1, "SubscriptionChange", suppress
      and "suppression for " .. tostring(p.SuppressionReason) .. " (reported by its own event)"
      or "reactivation by Postmark")
  end
  return skip(ctx, 1, kind, "not a delivery outcome")
end

------------------------------------------------------------------------------
-- Amazon SES (notifications or event publishing, inside an SNS envelope)
------------------------------------------------------------------------------

-- SES's bounceType and bounceSubType as { type, reason }: the table the
-- message parser reads SES notifications with (src/ses.c), through
-- core.ses_bounce; nil for a bounce type SES does not document.
local ses_core
local function ses_bounce(bt, bst)
  ses_core = ses_core or require("bounce.core")
  local t, reason = ses_core.ses_bounce(bt, bst)
  return t and { t, reason }
end

local function ses_message(ctx, m, path)
  local kind = str(m, "notificationType", path) or str(m, "eventType", path)
  if not kind then bad(path, "field 'notificationType' or 'eventType' is missing") end
  local mail = obj(m, "mail", path, true)
  local mpath = path .. ".mail"
  local tags = obj(mail, "tags", mpath)
  local common = { id = str(mail, "messageId", mpath), sender = str(mail, "source", mpath),
                   campaign = tags and first_string(tags.campaign or tags["ses:configuration-set"]) }
  local function with(extra)
    local t = {}
    for k, v in pairs(common) do t[k] = v end
    for k, v in pairs(extra or {}) do t[k] = v end
    return t
  end
  if kind == "Bounce" then
    local b = obj(m, "bounce", path, true)
    local bpath = path .. ".bounce"
    local bt, bst = str(b, "bounceType", bpath, true), str(b, "bounceSubType", bpath) or "General"
    local map = ses_bounce(bt, bst) or { "soft", "undefined" }
    local at = time_field(b, "timestamp", bpath)
    local list = array(b.bouncedRecipients, bpath, "field 'bouncedRecipients'")
    for i, r in ipairs(list) do
      local rpath = bpath .. ".bouncedRecipients[" .. i .. "]"
      if type(r) ~= "table" then bad(rpath, "object expected") end
      local ev = outcome(ctx, str(r, "emailAddress", rpath, true), map[1], map[2],
        str(r, "diagnosticCode", rpath), with{ at = at, status = str(r, "status", rpath) })
      ev.provider_label = bt .. "/" .. bst
      add(ctx, ev)
    end
  elseif kind == "Complaint" then
    local c = obj(m, "complaint", path, true)
    local cpath = path .. ".complaint"
    local fbt = str(c, "complaintFeedbackType", cpath)
    if fbt == "not-spam" then return skip(ctx, 1, "Complaint/not-spam", "the recipient says it is not spam") end
    local at = time_field(c, "timestamp", cpath)
    for i, r in ipairs(array(c.complainedRecipients, cpath, "field 'complainedRecipients'")) do
      local rpath = cpath .. ".complainedRecipients[" .. i .. "]"
      if type(r) ~= "table" then bad(rpath, "object expected") end
      add(ctx, plain(ctx, str(r, "emailAddress", rpath, true), "complaint", with{ at = at }))
    end
  elseif kind == "Delivery" then
    local d = obj(m, "delivery", path, true)
    local dpath = path .. ".delivery"
    local at = time_field(d, "timestamp", dpath)
    local reply = str(d, "smtpResponse", dpath)
    for i, r in ipairs(array(d.recipients, dpath, "field 'recipients'")) do
      if type(r) ~= "string" then bad(dpath .. ".recipients[" .. i .. "]", "string expected") end
      add(ctx, plain(ctx, r, "delivered", with{ at = at, reply = reply }))
    end
  elseif kind == "Subscription" then
    local s = obj(m, "subscription", path, true)
    local prefs = obj(s, "newTopicPreferences", path .. ".subscription")
    if not (prefs and prefs.unsubscribeAll == true) then
      return skip(ctx, 1, "Subscription", "a topic preference change, not an unsubscribe from all")
    end
    local at = time_field(s, "timestamp", path .. ".subscription")
    for i, r in ipairs(array(mail.destination, mpath, "field 'destination'")) do
      if type(r) ~= "string" then bad(mpath .. ".destination[" .. i .. "]", "string expected") end
      add(ctx, plain(ctx, r, "unsubscribe", with{ at = at }))
    end
  else
    skip(ctx, 1, kind, "not a delivery outcome")
  end
end

-- The SNS fields signed, per message type, in the order SNS signs them.
local SNS_SIGNED = {
  Notification = { "Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type" },
  SubscriptionConfirmation = { "Message", "MessageId", "SubscribeURL", "Timestamp", "Token",
                               "TopicArn", "Type" },
}
SNS_SIGNED.UnsubscribeConfirmation = SNS_SIGNED.SubscriptionConfirmation

-- Where SNS certificates and subscription URLs may come from by default:
-- https://sns.<region>.amazonaws.com/ (and .com.cn), nothing else.
_M.SNS_URL_PATTERNS = { "^https://sns%.[%a%d%-]+%.amazonaws%.com/", "^https://sns%.[%a%d%-]+%.amazonaws%.com%.cn/" }

-- syntax: ok = webhooks.url_allowed(url [, patterns])
function _M.url_allowed(url, patterns)
  if type(url) ~= "string" or #url > 2048 or sfind(url, "[%s%c\\]") then return false end
  for _, p in ipairs(patterns or _M.SNS_URL_PATTERNS) do
    if sfind(url, p) then return true end
  end
  return false
end

local function ses(ctx, p)
  local path = "ses"
  if type(p) ~= "table" or is_array(p) and #p > 0 then bad(path, "object expected") end
  local kind = p.Type
  if kind == nil then
    -- a raw SES message (SNS raw message delivery, or an EventBridge detail)
    return ses_message(ctx, p, path)
  end
  kind = str(p, "Type", path, true)
  ctx.sns = p
  for _, k in ipairs(SNS_SIGNED[kind] or {}) do
    if k ~= "Subject" then str(p, k, path, true) else str(p, k, path) end
  end
  if kind == "SubscriptionConfirmation" then
    local url = p.SubscribeURL
    if not _M.url_allowed(url, ctx.url_patterns) then
      bad(path, "field 'SubscribeURL': not an allowed SNS URL: " .. ssub(url, 1, 200))
    end
    ctx.subscribe_url = url
    return
  elseif kind ~= "Notification" then
    return skip(ctx, 1, kind, "not a notification")
  end
  local ok, m = pcall(ctx.decode, p.Message)
  if not ok or type(m) ~= "table" then
    bad(path, "field 'Message': JSON object expected inside the SNS envelope")
  end
  return ses_message(ctx, m, path .. ".Message")
end

------------------------------------------------------------------------------
-- SendGrid (an array of events)
------------------------------------------------------------------------------

local SENDGRID_CLASS = {
  ["Invalid Address"] = { "hard", "userunknown" },
  ["Mailbox Unavailable"] = { "soft", "suspend" },
  ["Technical"] = { "soft", "systemerror" },
  ["Content"] = { "block", "contenterror" },
  ["Reputation"] = { "block", "badreputation" },
  ["Frequency or Volume"] = { "block", "speeding" },
  ["Unclassified"] = nil,
}
_M.sendgrid_classes = SENDGRID_CLASS

local function sendgrid(ctx, p)
  for i, e in ipairs(array(p, "sendgrid", "payload")) do
    ctx.index = i
    local path = "sendgrid[" .. i .. "]"
    if type(e) ~= "table" then bad(path, "object expected") end
    local kind = str(e, "event", path, true)
    local rcpt = str(e, "email", path, true)
    local common = { at = time_field(e, "timestamp", path), id = str(e, "sg_message_id", path),
                     campaign = first_string(e.category) or str(e, "marketing_campaign_name", path) }
    if kind == "bounce" then
      local btype = str(e, "type", path) or "bounce"
      local map = SENDGRID_CLASS[str(e, "bounce_classification", path) or ""]
        or (btype == "blocked" and { "block", "blocked" } or { "hard", "undefined" })
      local reply = str(e, "reason", path)
      local status = str(e, "status", path)
      common.status = status
      local ev = outcome(ctx, rcpt, map[1], map[2], reply, common)
      add(ctx, ev)
    elseif kind == "deferred" then
      add(ctx, outcome(ctx, rcpt, "soft", "undefined", str(e, "response", path), common))
    elseif kind == "delivered" then
      common.reply = str(e, "response", path)
      add(ctx, plain(ctx, rcpt, "delivered", common))
    elseif kind == "spamreport" then
      add(ctx, plain(ctx, rcpt, "complaint", common))
    elseif kind == "unsubscribe" or kind == "group_unsubscribe" then
      add(ctx, plain(ctx, rcpt, "unsubscribe", common))
    elseif kind == "dropped" then
      skip(ctx, i, kind, "dropped by SendGrid before sending: " .. tostring(e.reason))
    else
      skip(ctx, i, kind, "not a delivery outcome")
    end
  end
end

------------------------------------------------------------------------------
-- Mailgun (one event per request, webhooks API v3)
------------------------------------------------------------------------------

local function mailgun(ctx, p)
  local path = "mailgun"
  if type(p) ~= "table" or is_array(p) and #p > 0 then bad(path, "object expected") end
  local e = obj(p, "event-data", path, true)
  path = path .. ".event-data"
  local kind = str(e, "event", path, true)
  local rcpt = str(e, "recipient", path, kind ~= "opened" and kind ~= "clicked")
  local tags = e.tags
  local env = obj(e, "envelope", path)
  local msg = obj(e, "message", path)
  local headers = msg and obj(msg, "headers", path .. ".message")
  local common = { at = time_field(e, "timestamp", path), id = headers and str(headers, "message-id", path),
                   campaign = first_string(tags), sender = env and str(env, "sender", path .. ".envelope") }
  if kind == "failed" then
    local sev = str(e, "severity", path, true)
    local reason = str(e, "reason", path) or ""
    if sfind(reason, "^suppress%-") then
      return skip(ctx, 1, "failed/" .. reason, "not sent: the address is on Mailgun's suppression list")
    end
    local ds = obj(e, "delivery-status", path) or {}
    local dpath = path .. ".delivery-status"
    local code = field(ds, "code", dpath, "number|string")
    local text = str(ds, "message", dpath)
    if not text or not sfind(text, "%S") then text = str(ds, "description", dpath) end
    local reply
    if text and sfind(text, "%S") then
      local n = tonumber(code)
      reply = (n and not smatch(text, "^%s*%d%d%d") and sformat("%d ", n) or "") .. text
    end
    local ptype, preason
    if sev == "permanent" then
      ptype, preason = "hard", "undefined"
      if reason == "espblock" then ptype, preason = "block", "blocked" end
    elseif sev == "temporary" then
      ptype, preason = "soft", "undefined"
    else
      bad(path, "field 'severity': 'permanent' or 'temporary' expected, got '" .. sev .. "'")
    end
    if reason == "old" then ptype, preason = "soft", "expired" end
    local n = tonumber(code)
    common.code = n and n >= 200 and n <= 599 and floor(n) or nil
    add(ctx, outcome(ctx, rcpt, ptype, preason, reply, common))
  elseif kind == "delivered" then
    add(ctx, plain(ctx, rcpt, "delivered", common))
  elseif kind == "complained" then
    add(ctx, plain(ctx, rcpt, "complaint", common))
  elseif kind == "unsubscribed" then
    add(ctx, plain(ctx, rcpt, "unsubscribe", common))
  else
    skip(ctx, 1, kind, "not a delivery outcome")
  end
end

------------------------------------------------------------------------------
-- SparkPost (an array of { msys = { <kind>_event = {...} } })
------------------------------------------------------------------------------

local SPARKPOST_CLASS = {
  [1] = { "soft", "undefined" },        -- Undetermined
  [10] = { "hard", "userunknown" },     -- Invalid Recipient
  [20] = { "soft", "undefined" },       -- Soft Bounce
  [21] = { "soft", "networkerror" },    -- DNS Failure
  [22] = { "soft", "mailboxfull" },     -- Mailbox Full
  [23] = { "soft", "mesgtoobig" },      -- Too Large
  [24] = { "soft", "expired" },         -- Timeout
  [25] = { "block", "policyviolation" },-- Admin Failure (the sender's own policy)
  [26] = { "skip" },                    -- Smart Send Suppression (SparkPost's list)
  [30] = { "hard", "undefined" },       -- Generic Bounce: No RCPT
  [40] = { "soft", "undefined" },       -- Generic Bounce
  [50] = { "block", "blocked" },        -- Mail Block
  [51] = { "block", "blocked" },        -- Spam Block
  [52] = { "block", "spamdetected" },   -- Spam Content
  [53] = { "block", "contenterror" },   -- Prohibited Attachment
  [54] = { "block", "norelaying" },     -- Relaying Denied
  [60] = { "auto_reply" },              -- Auto-Reply
  [70] = { "soft", "undefined" },       -- Transient Failure
  [80] = { "skip" },                    -- Subscribe
  [90] = { "unsubscribe" },             -- Unsubscribe
  [100] = { "soft", "onhold" },         -- Challenge-Response
}
_M.sparkpost_classes = SPARKPOST_CLASS

local function sparkpost_event(ctx, i, e, path, group)
  local kind = str(e, "type", path, true)
  local rcpt = str(e, "rcpt_to", path, kind ~= "open" and kind ~= "click")
  local common = { at = time_field(e, "timestamp", path), id = str(e, "message_id", path),
                   campaign = str(e, "campaign_id", path),
                   sender = str(e, "friendly_from", path) or str(e, "msg_from", path) }
  if kind == "bounce" or kind == "out_of_band" then
    local cls = tonumber(field(e, "bounce_class", path, "number|string", true))
    local map = cls and SPARKPOST_CLASS[cls]
    if not map then return skip(ctx, i, kind, "unknown SparkPost bounce_class " .. tostring(e.bounce_class)) end
    if map[1] == "skip" then return skip(ctx, i, kind .. "/" .. cls, "not a delivery outcome") end
    if map[1] == "auto_reply" or map[1] == "unsubscribe" then return add(ctx, plain(ctx, rcpt, map[1], common)) end
    local code = tonumber(e.error_code)
    common.code = code and code >= 200 and code <= 599 and floor(code) or nil
    local ev = outcome(ctx, rcpt, map[1], map[2], str(e, "raw_reason", path) or str(e, "reason", path), common)
    ev.provider_label = "bounce_class " .. cls
    add(ctx, ev)
  elseif kind == "delay" then
    add(ctx, outcome(ctx, rcpt, "soft", "undefined", str(e, "raw_reason", path) or str(e, "reason", path), common))
  elseif kind == "delivery" then
    add(ctx, plain(ctx, rcpt, "delivered", common))
  elseif kind == "spam_complaint" then
    add(ctx, plain(ctx, rcpt, "complaint", common))
  elseif kind == "list_unsubscribe" or kind == "link_unsubscribe" then
    add(ctx, plain(ctx, rcpt, "unsubscribe", common))
  else
    skip(ctx, i, group .. "/" .. kind, "not a delivery outcome")
  end
end

local function sparkpost(ctx, p)
  for i, item in ipairs(array(p, "sparkpost", "payload")) do
    ctx.index = i
    local path = "sparkpost[" .. i .. "]"
    if type(item) ~= "table" then bad(path, "object expected") end
    local msys = obj(item, "msys", path, true)
    local group, e = next(msys)
    if group == nil then
      skip(ctx, i, "ping", "an empty test event")
    else
      if next(msys, group) ~= nil then bad(path .. ".msys", "one event object expected") end
      if type(e) ~= "table" then bad(path .. ".msys." .. tostring(group), "object expected") end
      sparkpost_event(ctx, i, e, path .. ".msys." .. tostring(group), tostring(group))
    end
  end
end

------------------------------------------------------------------------------
-- Payloads of one object or an array of them (Mailjet's grouped events,
-- Brevo's batched webhooks)
------------------------------------------------------------------------------

local function each_item(ctx, p, provider, fn)
  if type(p) ~= "table" then bad(provider, "object or array expected") end
  if is_array(p) and #p > 0 then
    for i, item in ipairs(array(p, provider, "payload")) do
      ctx.index = i
      local path = provider .. "[" .. i .. "]"
      if type(item) ~= "table" or (is_array(item) and #item > 0) then bad(path, "object expected") end
      fn(item, path, i)
    end
  elseif next(p) == nil then
    bad(provider, "object or array expected, got an empty one")
  else
    ctx.index = 1
    fn(p, provider, 1)
  end
end

-- The address inside "Name <addr>", or the string itself.
local function bare_address(v)
  if type(v) ~= "string" then return nil end
  return smatch(v, "<%s*([^<>%s]+@[^<>%s]+)%s*>") or v
end

------------------------------------------------------------------------------
-- Mailjet (Event API: one object, or an array with "Version 2" grouping)
------------------------------------------------------------------------------

-- error_related_to/error -> reason (the type comes from hard_bounce, or is
-- "block" for the reasons that blame the sender or its message).
local MAILJET_ERROR = {
  ["recipient/user unknown"] = "userunknown", ["recipient/mailbox inactive"] = "suspend",
  ["recipient/quota exceeded"] = "mailboxfull", ["recipient/blacklisted"] = "blocked",
  ["recipient/spam reporter"] = "feedback",
  ["domain/invalid domain"] = "hostunknown", ["domain/no mail host"] = "hostunknown",
  ["domain/relay/access denied"] = "norelaying", ["domain/greylisted"] = "undefined",
  ["domain/typofix"] = "hostunknown",
  ["content/bad or empty template"] = "contenterror", ["content/error in template language"] = "contenterror",
  ["spam/sender blocked"] = "blocked", ["spam/content blocked"] = "spamdetected",
  ["spam/policy issue"] = "policyviolation",
  ["system/system issue"] = "systemerror", ["system/protocol issue"] = "syntaxerror",
  ["system/connection issue"] = "networkerror",
}
_M.mailjet_errors = MAILJET_ERROR
local BLOCK_REASON = { blocked = true, spamdetected = true, policyviolation = true, contenterror = true,
                       norelaying = true, syntaxerror = true, badreputation = true, authfailure = true }

local function mailjet_event(ctx, e, path, i)
  local kind = str(e, "event", path, true)
  local rcpt = str(e, "email", path, kind ~= "open" and kind ~= "click")
  local custom = str(e, "customcampaign", path)
  local common = {
    at = time_field(e, "time", path),
    -- (MessageID is a 64-bit number a double cannot hold exactly)
    id = str(e, "Message_GUID", path)
      or (type(e.MessageID) == "number" and sformat("%.0f", e.MessageID) or nil),
    campaign = custom ~= "" and custom or nil,
  }
  if kind == "bounce" then
    local hard = e.hard_bounce
    if hard ~= nil and not is_null(hard) and type(hard) ~= "boolean" then
      bad(path, "field 'hard_bounce': boolean expected, got " .. type(hard))
    end
    local label = (str(e, "error_related_to", path) or "") .. "/" .. (str(e, "error", path) or "")
    local reason = MAILJET_ERROR[label] or "undefined"
    local ptype = hard == true and "hard" or "soft"
    if BLOCK_REASON[reason] then ptype = "block" end
    if reason == "feedback" then ptype, reason = "hard", "undefined" end   -- Mailjet's own list
    local ev = outcome(ctx, rcpt, ptype, reason, str(e, "comment", path), common)
    ev.provider_label = label
    add(ctx, ev)
  elseif kind == "sent" then
    common.reply = str(e, "smtp_reply", path)
    add(ctx, plain(ctx, rcpt, "delivered", common))
  elseif kind == "spam" then
    add(ctx, plain(ctx, rcpt, "complaint", common))
  elseif kind == "unsub" then
    add(ctx, plain(ctx, rcpt, "unsubscribe", common))
  elseif kind == "blocked" then
    skip(ctx, i, kind, "not sent by Mailjet: " .. tostring(str(e, "error", path) or "blocked"))
  else
    skip(ctx, i, kind, "not a delivery outcome")
  end
end

local function mailjet(ctx, p)
  each_item(ctx, p, "mailjet", function(e, path, i) mailjet_event(ctx, e, path, i) end)
end

------------------------------------------------------------------------------
-- Brevo, formerly Sendinblue (transactional webhooks: one object, or an
-- array when the webhook is batched)
------------------------------------------------------------------------------

local function brevo_event(ctx, e, path, i)
  local kind = str(e, "event", path, true)
  local rcpt = str(e, "email", path, true)
  local tags = e.tags
  local common = {
    at = time_field(e, "ts_epoch", path) or time_field(e, "ts_event", path) or time_field(e, "ts", path),
    id = str(e, "message-id", path),
    campaign = first_string(tags) or str(e, "tag", path),
  }
  local reason = str(e, "reason", path)
  if reason then
    -- Brevo's own words before the server's: "RecipientError: ", "undefined "
    reason = sgsub(reason, "^%s*undefined%s+", "")
    reason = sgsub(reason, "^%s*%d*%s*RecipientError:%s*", "")
  end
  if kind == "hard_bounce" then
    add(ctx, outcome(ctx, rcpt, "hard", "undefined", reason, common))
  elseif kind == "soft_bounce" or kind == "deferred" then
    -- Brevo's label can be wrong (a "deferred" 550 5.1.1): the reply decides
    add(ctx, outcome(ctx, rcpt, "soft", "undefined", reason, common))
  elseif kind == "invalid_email" then
    add(ctx, outcome(ctx, rcpt, "hard", "userunknown", reason, common))
  elseif kind == "delivered" then
    add(ctx, plain(ctx, rcpt, "delivered", common))
  elseif kind == "spam" or kind == "complaint" then
    add(ctx, plain(ctx, rcpt, "complaint", common))
  elseif kind == "unsubscribed" or kind == "unsubscribe" then
    add(ctx, plain(ctx, rcpt, "unsubscribe", common))
  elseif kind == "blocked" then
    skip(ctx, i, kind, "not sent by Brevo: the address is on its block list")
  elseif kind == "error" then
    skip(ctx, i, kind, "not sent: Brevo failed to process the message")
  else
    skip(ctx, i, kind, "not a delivery outcome")
  end
end

local function brevo(ctx, p)
  each_item(ctx, p, "brevo", function(e, path, i) brevo_event(ctx, e, path, i) end)
end

------------------------------------------------------------------------------
-- Mandrill, Mailchimp Transactional (a form field mandrill_events holding a
-- JSON array of events)
------------------------------------------------------------------------------

-- msg.bounce_description -> type, reason (the event name gives hard or soft
-- when the description does not blame the sender).
local MANDRILL_BOUNCE = {
  bad_mailbox = { "hard", "userunknown" }, invalid_domain = { "hard", "hostunknown" },
  no_mx = { "hard", "hostunknown" }, mailbox_full = { "soft", "mailboxfull" },
  spam_related = { "block", "spamdetected" }, policy_related = { "block", "policyviolation" },
  virus_related = { "block", "virusdetected" }, invalid_content = { "block", "contenterror" },
  general = { nil, "undefined" },
}
_M.mandrill_bounces = MANDRILL_BOUNCE

local function mandrill_event(ctx, e, path, i)
  if is_null(e.event) and e.type ~= nil then
    local sync = tostring(e.type) .. (type(e.action) == "string" and "/" .. e.action or "")
    return skip(ctx, i, sync, "a change of Mandrill's own lists, not a delivery outcome")
  end
  local kind = str(e, "event", path, true)
  if kind == "inbound" then return skip(ctx, i, kind, "an inbound message") end
  local msg = obj(e, "msg", path, true)
  local mpath = path .. ".msg"
  local rcpt = str(msg, "email", mpath, kind ~= "open" and kind ~= "click")
  local common = { at = time_field(e, "ts", path) or time_field(msg, "ts", mpath),
                   id = str(e, "_id", path) or str(msg, "_id", mpath), sender = str(msg, "sender", mpath),
                   campaign = first_string(msg.tags) }
  if kind == "hard_bounce" or kind == "soft_bounce" then
    local desc = str(msg, "bounce_description", mpath)
    local map = desc and MANDRILL_BOUNCE[desc] or {}
    local ptype = map[1] or (kind == "hard_bounce" and "hard" or "soft")
    if kind == "soft_bounce" and ptype == "hard" then ptype = "soft" end
    local ev = outcome(ctx, rcpt, ptype, map[2] or "undefined", str(msg, "diag", mpath), common)
    ev.provider_label = kind .. (desc and "/" .. desc or "")
    add(ctx, ev)
  elseif kind == "deferral" then
    local events, reply = msg.smtp_events, nil
    if type(events) == "table" then
      for _, se in ipairs(events) do
        if type(se) == "table" and type(se.diag) == "string" then reply = se.diag end
      end
    end
    add(ctx, outcome(ctx, rcpt, "soft", "undefined", reply, common))
  elseif kind == "delivered" then
    add(ctx, plain(ctx, rcpt, "delivered", common))
  elseif kind == "spam" then
    add(ctx, plain(ctx, rcpt, "complaint", common))
  elseif kind == "unsub" then
    add(ctx, plain(ctx, rcpt, "unsubscribe", common))
  elseif kind == "reject" then
    skip(ctx, i, kind, "not sent by Mandrill: the address is on its rejection list")
  elseif kind == "send" then
    skip(ctx, i, kind, "accepted by Mandrill, not yet an outcome")
  else
    skip(ctx, i, kind, "not a delivery outcome")
  end
end

local function mandrill(ctx, p)
  for i, e in ipairs(array(p, "mandrill", "mandrill_events")) do
    ctx.index = i
    local path = "mandrill[" .. i .. "]"
    if type(e) ~= "table" or (is_array(e) and #e > 0) then bad(path, "object expected") end
    mandrill_event(ctx, e, path, i)
  end
end

-- application/x-www-form-urlencoded: key -> value (a key given twice keeps
-- the last value).
local function unescape(s)
  s = sgsub(s, "+", " ")
  return (sgsub(s, "%%(%x%x)", function(h) return schar(tonumber(h, 16)) end))
end

-- syntax: params = webhooks.form_decode(body)
function _M.form_decode(body)
  local t = {}
  for pair in sgmatch(body .. "&", "([^&]*)&") do
    if pair ~= "" then
      local k, v = smatch(pair, "^([^=]*)=?(.*)$")
      t[unescape(k)] = unescape(v)
    end
  end
  return t
end

------------------------------------------------------------------------------
-- Postal (one event per request, in an envelope: event, timestamp, uuid,
-- payload)
------------------------------------------------------------------------------

local function postal(ctx, p)
  local path = "postal"
  if type(p) ~= "table" or is_array(p) and #p > 0 then bad(path, "object expected") end
  local kind = str(p, "event", path, true)
  local pl = obj(p, "payload", path, true)
  local ppath = path .. ".payload"
  local at = time_field(pl, "timestamp", ppath) or time_field(p, "timestamp", path)
  local function common(m, mpath)
    return { at = at, id = str(m, "message_id", mpath), sender = str(m, "from", mpath),
             campaign = str(m, "tag", mpath) }
  end
  if kind == "MessageDeliveryFailed" or kind == "MessageDelayed" or kind == "MessageSent"
     or kind == "MessageHeld" then
    local m = obj(pl, "message", ppath, true)
    local mpath = ppath .. ".message"
    local rcpt = str(m, "to", mpath, true)
    local reply = str(pl, "output", ppath)
    if kind == "MessageDeliveryFailed" then
      local ev = outcome(ctx, rcpt, "hard", "undefined", reply, common(m, mpath))
      ev.provider_label = "HardFail"
      add(ctx, ev)
    elseif kind == "MessageDelayed" then
      add(ctx, outcome(ctx, rcpt, "soft", "undefined", reply, common(m, mpath)))
    elseif kind == "MessageSent" then
      local c = common(m, mpath)
      c.reply = reply
      add(ctx, plain(ctx, rcpt, "delivered", c))
    else
      skip(ctx, 1, kind, "held by Postal, not sent: " .. tostring(str(pl, "details", ppath) or ""))
    end
  elseif kind == "MessageBounced" then
    -- a bounce message received after the remote server accepted the mail:
    -- Postal gives no reason, and a bounce is a permanent failure unless
    -- read otherwise (POST the bounce itself to /bounces to have it read)
    local m = obj(pl, "original_message", ppath, true)
    local mpath = ppath .. ".original_message"
    local ev = outcome(ctx, str(m, "to", mpath, true), "hard", "undefined", nil, common(m, mpath))
    ev.provider_label = "MessageBounced"
    add(ctx, ev)
  else
    skip(ctx, 1, kind, "not a delivery outcome")
  end
end

------------------------------------------------------------------------------
-- Resend (one event per request: type, created_at, data; sent through Svix)
------------------------------------------------------------------------------

local function resend(ctx, p)
  local path = "resend"
  if type(p) ~= "table" or is_array(p) and #p > 0 then bad(path, "object expected") end
  local kind = str(p, "type", path, true)
  local d = obj(p, "data", path, true)
  local dpath = path .. ".data"
  local to = field(d, "to", dpath, "string|array", kind ~= "email.opened" and kind ~= "email.clicked")
  if type(to) == "string" then to = { to } end
  local common = { at = time_field(p, "created_at", path) or time_field(d, "created_at", dpath),
                   id = str(d, "email_id", dpath), sender = bare_address(str(d, "from", dpath)),
                   campaign = str(d, "broadcast_id", dpath) }
  local function each(fn)
    for i, rcpt in ipairs(array(to or {}, dpath, "field 'to'")) do
      if type(rcpt) ~= "string" then bad(dpath .. ".to[" .. i .. "]", "string expected") end
      local ev = {}
      for k, v in pairs(common) do ev[k] = v end
      fn(rcpt, ev)
    end
  end
  if kind == "email.bounced" then
    local b = obj(d, "bounce", dpath) or {}
    local bpath = dpath .. ".bounce"
    local bt, bst = str(b, "type", bpath) or "Permanent", str(b, "subType", bpath) or "General"
    if bt == "Temporary" then bt = "Transient" end
    local map = ses_bounce(bt, bst) or { "hard", "undefined" }
    local diag = b.diagnosticCode
    if type(diag) == "table" then diag = diag[#diag] end
    if type(diag) ~= "string" then diag = nil end
    each(function(rcpt, c)
      local ev = outcome(ctx, rcpt, map[1], map[2], diag, c)
      ev.provider_label = bt .. "/" .. bst
      add(ctx, ev)
    end)
  elseif kind == "email.delivery_delayed" then
    each(function(rcpt, c) add(ctx, outcome(ctx, rcpt, "soft", "undefined", nil, c)) end)
  elseif kind == "email.delivered" then
    each(function(rcpt, c) add(ctx, plain(ctx, rcpt, "delivered", c)) end)
  elseif kind == "email.complained" then
    each(function(rcpt, c) add(ctx, plain(ctx, rcpt, "complaint", c)) end)
  elseif kind == "email.failed" then
    local f = obj(d, "failed", dpath)
    skip(ctx, 1, kind, "not sent by Resend: " .. tostring(f and f.reason or "failed"))
  else
    skip(ctx, 1, kind, "not a delivery outcome")
  end
end

------------------------------------------------------------------------------
-- bounce's own events (POST /events): what t:record takes, from any source
------------------------------------------------------------------------------

local EVENT_TYPES = { sent = true, delivered = true, soft = true, hard = true, block = true,
                      complaint = true, unsubscribe = true, release = true, auto_reply = true,
                      delayed = true }
local EVENT_FIELDS = { rcpt = "string", type = "string", reason = "string", permanent = "boolean",
                       reply = "string", rhost = "string", command = "string", at = "time",
                       campaign = "string", sender = "string", count = "number" }
_M.event_fields = EVENT_FIELDS

local function own_event(ctx, e, path)
  for k in pairs(e) do
    if not EVENT_FIELDS[k] then
      bad(path, "unknown field '" .. tostring(k) .. "' (an event has rcpt, type, reason, permanent, "
        .. "reply, rhost, command, at, campaign, sender, count)")
    end
  end
  local ev = { rcpt = str(e, "rcpt", path, true), type = str(e, "type", path), reason = str(e, "reason", path),
               campaign = str(e, "campaign", path), sender = str(e, "sender", path),
               at = time_field(e, "at", path), provider = "events" }
  local permanent = field(e, "permanent", path, "boolean")
  local count = field(e, "count", path, "number")
  if count and (count < 1 or count > 1e6 or count % 1 ~= 0) then
    bad(path, "field 'count': an integer 1..1000000 expected")
  end
  ev.count = count
  if ev.type and not EVENT_TYPES[ev.type] then
    bad(path, "field 'type': sent, delivered, soft, hard, block, complaint, unsubscribe, release, "
      .. "auto_reply or delayed expected, got '" .. ev.type .. "'")
  end
  local reply = str(e, "reply", path)
  if reply then
    local ok, r, err = pcall(ctx.classify, reply, { rhost = str(e, "rhost", path), command = str(e, "command", path) })
    if not ok then bad(path, "field 'command': " .. sgsub(tostring(r), "^.-%((.*)%)$", "%1")) end
    if not r then bad(path, "field 'reply': " .. tostring(err)) end
    ev.reply, ev.code, ev.status = reply, r.code, r.status
    if not ev.type then
      ev.type, ev.reason, ev.permanent, ev.source = r.type, ev.reason or r.reason, r.permanent, "reply"
    end
  end
  if not ev.type then bad(path, "field 'type' or 'reply' is missing") end
  if permanent ~= nil then ev.permanent = permanent end
  ev.source = ev.source or "event"
  add(ctx, ev)
end

local function own_events(ctx, p)
  each_item(ctx, p, "events", function(e, path) own_event(ctx, e, path) end)
end

local PARSERS = { postmark = postmark, ses = ses, sendgrid = sendgrid, mailgun = mailgun,
                  sparkpost = sparkpost, mailjet = mailjet, brevo = brevo, mandrill = mandrill,
                  postal = postal, resend = resend, events = own_events }

------------------------------------------------------------------------------
-- Entry points
------------------------------------------------------------------------------

-- syntax: r, err = webhooks.parse(provider, body [, opts])
-- provider: one of webhooks.providers ("postmark", "ses", "sendgrid",
-- "mailgun", "sparkpost", "mailjet", "brevo", "mandrill", "postal",
-- "resend"), or "events" for bounce's own event schema (an object or an
-- array of objects with t:record's fields: rcpt, type or reply, reason,
-- permanent, rhost, command, at, campaign, sender, count; any other field is
-- an error). body: the request body (JSON; for Mandrill the form it posts,
-- mandrill_events=..., or the JSON array itself) or a table already
-- decoded. opts.decode: a JSON decoder (string -> value, may raise; default
-- lua-cjson with depth 32), opts.null: the decoder's null value,
-- opts.classify: the reply classifier (reply, opts -> result; default
-- bounce.classify), opts.url_patterns: Lua patterns a SubscribeURL must
-- match (default webhooks.SNS_URL_PATTERNS).
-- Returns { provider, events, skipped, subscribe_url, sns, payload, form }
-- (form: Mandrill's decoded form fields, for verify_mandrill), or nil, err.
-- Every event and every skipped entry has `index`: the place of the item
-- it came from in the payload (1 for a payload of one object).
function _M.parse(provider, body, opts)
  if type(provider) ~= "string" then
    error("bad argument #1 to 'parse' (string expected, got " .. type(provider) .. ")", 2)
  end
  local parser = PARSERS[provider]
  if not parser then
    error("bad argument #1 to 'parse' (one of " .. concat(PROVIDERS, ", ") .. ", events expected, got '"
      .. provider .. "')", 2)
  end
  if type(body) ~= "string" and type(body) ~= "table" then
    error("bad argument #2 to 'parse' (string or table expected, got " .. type(body) .. ")", 2)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error("bad argument #3 to 'parse' (table expected, got " .. type(opts) .. ")", 2)
  end
  opts = opts or {}
  local decode = opts.decode or default_decode
  if opts.null ~= nil then _M.null = opts.null end
  local payload, form = body, nil
  if provider == "mandrill" and type(body) == "string" and not sfind(body, "^%s*%[") then
    -- the form Mandrill posts: mandrill_events=<JSON array>
    form = _M.form_decode(body)
    body = form.mandrill_events
    if body == nil then return nil, "mandrill: form field 'mandrill_events' is missing" end
    payload = body
  end
  if type(body) == "string" then
    if not sfind(body, "%S") then return nil, provider .. ": empty body, JSON expected" end
    local ok, v = pcall(decode, body)
    if not ok then
      return nil, provider .. ": invalid JSON: " .. sgsub(tostring(v), "^.-:%d+: ", "")
    end
    payload = v
  end
  if type(payload) ~= "table" then
    local want = ARRAY_PAYLOAD[provider] and "array" or OBJECT_OR_ARRAY[provider] and "object or array"
      or "object"
    return nil, provider .. ": JSON " .. want .. " expected, got "
      .. (payload == nil and "null" or payload == _M.null and "null" or type(payload))
  end
  local ctx = { provider = provider, events = {}, skipped = {}, decode = decode,
                classify = opts.classify or default_classify, url_patterns = opts.url_patterns }
  local ok, err = pcall(parser, ctx, payload)
  if not ok then
    if type(err) == "table" and err[1] == Bad then return nil, err[2] end
    error(err, 0)
  end
  return { provider = provider, events = ctx.events, skipped = ctx.skipped,
           subscribe_url = ctx.subscribe_url, sns = ctx.sns, payload = payload, form = form }
end

-- syntax: ev = webhooks.tracker_event(event)
-- The fields t:record takes (without `reply`, which t:record would
-- classify again, overriding the precedence above).
function _M.tracker_event(ev)
  return { rcpt = ev.rcpt, type = ev.type, reason = ev.reason, permanent = ev.permanent,
           at = ev.at, campaign = ev.campaign, sender = ev.sender, count = ev.count }
end

------------------------------------------------------------------------------
-- Signatures
------------------------------------------------------------------------------

local function hex(s)
  return (sgsub(s, ".", function(c) return sformat("%02x", sbyte(c)) end))
end

-- syntax: same = webhooks.equal(a, b)   -- compares in time independent of where they differ
local function equal(a, b)
  if type(a) ~= "string" or type(b) ~= "string" then return false end
  local la, lb = #a, #b
  local diff = la == lb and 0 or 1
  local n = la > lb and la or lb
  for i = 1, n do
    local x, y = sbyte(a, i) or 0, sbyte(b, i) or 0
    if x ~= y then diff = 1 end
  end
  return diff == 0
end
_M.equal = equal

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local B64INV = {}
for i = 1, 64 do B64INV[sbyte(B64, i)] = i - 1 end

-- syntax: s = webhooks.base64_decode(b64)   -- nil when malformed
function _M.base64_decode(s)
  s = sgsub(s, "%s", "")
  if #s % 4 ~= 0 or sfind(s, "[^%w%+/=]") or sfind(s, "=[^=]") then return nil end
  local out, n = {}, 0
  for i = 1, #s, 4 do
    local a, b, c, d = sbyte(s, i, i + 3)
    local va, vb, vc, vd = B64INV[a], B64INV[b], B64INV[c] or 0, B64INV[d] or 0
    if not va or not vb then return nil end
    local v = ((va * 64 + vb) * 64 + vc) * 64 + vd
    n = n + 1
    out[n] = schar(floor(v / 65536) % 256)
    if c ~= 61 then n = n + 1; out[n] = schar(floor(v / 256) % 256) end
    if d ~= 61 then n = n + 1; out[n] = schar(v % 256) end
  end
  return concat(out)
end

-- syntax: b64 = webhooks.base64_encode(s)
function _M.base64_encode(s)
  local out, n = {}, 0
  for i = 1, #s, 3 do
    local a, b, c = sbyte(s, i, i + 2)
    local v = a * 65536 + (b or 0) * 256 + (c or 0)
    local c1, c2 = floor(v / 262144) % 64, floor(v / 4096) % 64
    local c3, c4 = floor(v / 64) % 64, v % 64
    n = n + 1
    out[n] = ssub(B64, c1 + 1, c1 + 1) .. ssub(B64, c2 + 1, c2 + 1)
      .. (b and ssub(B64, c3 + 1, c3 + 1) or "=") .. (c and ssub(B64, c4 + 1, c4 + 1) or "=")
  end
  return concat(out)
end

local function header(headers, name)
  if type(headers) ~= "table" then return nil end
  local v = headers[name]
  if type(v) == "table" then v = v[1] end   -- a header given twice: the first
  return type(v) == "string" and v or nil
end

local function now_of(opts)
  local ngx = rawget(_G, "ngx")
  return opts.now or (ngx and ngx.time() or os.time())
end

-- syntax: ok, err = webhooks.verify_mandrill(params, key, url, signature)
-- params: the form fields Mandrill posted (r.form), key: the webhook's
-- authentication key, url: the webhook URL exactly as configured in
-- Mandrill (scheme, credentials, query and trailing slash included; behind
-- a proxy it differs from the URL the request reached), signature: the
-- X-Mandrill-Signature header. Mandrill signs the URL followed by each field
-- name and value, names sorted, with HMAC-SHA1 in base64; nothing in it is
-- time-based, so a replay within the same payload cannot be told apart.
function _M.verify_mandrill(params, key, url, signature)
  if type(key) ~= "string" or key == "" then
    error("bad argument #2 to 'verify_mandrill' (webhook key expected)", 2)
  end
  if type(url) ~= "string" or url == "" then
    error("bad argument #3 to 'verify_mandrill' (the webhook URL as configured in Mandrill expected)", 2)
  end
  if type(params) ~= "table" then return nil, "mandrill: no form fields to verify" end
  if type(signature) ~= "string" or signature == "" then
    return nil, "mandrill: header 'X-Mandrill-Signature' is missing"
  end
  local keys = {}
  for k in pairs(params) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = { url }
  for _, k in ipairs(keys) do parts[#parts + 1] = k .. params[k] end
  local hmac = require("openssl.hmac")
  local want = _M.base64_encode(hmac.new(key, "sha1"):final(concat(parts)))
  if not equal(want, signature) then return nil, "mandrill: signature mismatch" end
  return true
end

-- Whether bytes i..j hold a sequence of well-formed DER elements (X.690:
-- tag, definite length, contents; constructed contents walked in turn),
-- `depth` levels deep at most. Keys and certificates are checked with it
-- before OpenSSL sees them: luaossl's error path on text OpenSSL refuses
-- reads an error string OpenSSL has already freed (seen under ASan with
-- Debian 12's lua-luaossl), so text that is not DER never goes that way.
local function der_ok(s, i, j, depth)
  if depth > 16 then return false end
  while i <= j do
    local tag, len = sbyte(s, i), sbyte(s, i + 1)
    if not len or tag % 32 == 31 then return false end
    i = i + 2
    if len >= 128 then
      local n = len - 128
      if n < 1 or n > 4 or i + n - 1 > j then return false end
      len = 0
      for k = i, i + n - 1 do len = len * 256 + sbyte(s, k) end
      i = i + n
    end
    local last = i + len - 1
    if last > j then return false end
    if tag % 64 >= 32 and not der_ok(s, i, last, depth + 1) then return false end
    i = last + 1
  end
  return true
end

-- The DER bytes of PEM text with the given label ("PUBLIC KEY",
-- "CERTIFICATE"), or of a bare base64 body; nil unless they are one
-- well-formed DER element.
local function pem_der(text, label)
  local body = text
  if sfind(text, "-----BEGIN", 1, true) then
    local _, b = smatch(text, "%-%-%-%-%-BEGIN ([%u ]*" .. label .. ")%-%-%-%-%-(.-)%-%-%-%-%-END %1%-%-%-%-%-")
    body = b
    if not body then return nil end
  end
  local der = _M.base64_decode(body)
  if not der or #der < 2 or sbyte(der, 1) ~= 0x30 then return nil end
  local len = sbyte(der, 2)
  local head = 2
  if len >= 128 then
    head = 2 + len - 128
    len = 0
    for k = 3, head do len = len * 256 + (sbyte(der, k) or 0) end
  end
  if head + len ~= #der or not der_ok(der, 1, #der, 0) then return nil end
  return der
end

-- A public key from PEM text, or from the base64 DER body older Postal
-- installs show.
local function public_key(text)
  local der = pem_der(text, "PUBLIC KEY")
  if not der then return nil end
  if not sfind(text, "-----BEGIN", 1, true) then
    local b64 = _M.base64_encode(der)
    local lines = {}
    for i = 1, #b64, 64 do lines[#lines + 1] = ssub(b64, i, i + 63) end
    text = "-----BEGIN PUBLIC KEY-----\n" .. concat(lines, "\n") .. "\n-----END PUBLIC KEY-----\n"
  end
  local ok, key = pcall(require("openssl.pkey").new, text)
  if not ok or not key then return nil end
  return key
end
_M.public_key = public_key

-- syntax: ok, err = webhooks.verify_postal(body, key, headers)
-- body: the raw request body; key: the Postal server's public key (PEM, or
-- the base64 DER body); headers: the request headers with lower-case names.
-- Checks X-Postal-Signature-256 (RSA PKCS#1 v1.5 over SHA-256 of the body,
-- base64), or, from a Postal that sends only that, the older
-- X-Postal-Signature (the same over SHA-1). Nothing in it is time-based.
function _M.verify_postal(body, key, headers)
  if type(body) ~= "string" then
    error("bad argument #1 to 'verify_postal' (string expected, got " .. type(body) .. ")", 2)
  end
  if type(key) ~= "string" or key == "" then
    error("bad argument #2 to 'verify_postal' (public key expected)", 2)
  end
  local sig, alg = header(headers, "x-postal-signature-256"), "sha256"
  if not sig then sig, alg = header(headers, "x-postal-signature"), "sha1" end
  if not sig then return nil, "postal: header 'X-Postal-Signature-256' is missing" end
  local raw = _M.base64_decode(sig)
  if not raw then return nil, "postal: the signature is not base64" end
  local pkey = public_key(key)
  if not pkey then return nil, "postal: the configured public key cannot be read" end
  local digest = require("openssl.digest").new(alg)
  digest:update(body)
  local ok, valid = pcall(pkey.verify, pkey, raw, digest)
  if not ok or not valid then return nil, "postal: signature mismatch" end
  return true
end

-- syntax: ok, err = webhooks.verify_svix(body, secret, headers [, { now =, tolerance = 300 }])
-- Resend's webhooks, sent through Svix. secret: the endpoint's signing
-- secret ("whsec_" and base64 of the key); headers: svix-id, svix-timestamp,
-- svix-signature (lower-case names). The signature is HMAC-SHA256 of
-- "id.timestamp.body" in base64; svix-signature lists one or more "v1,SIG"
-- separated by spaces (several while a secret is rotated) and one must
-- match; the timestamp must be within tolerance seconds of now, so a
-- captured request cannot be replayed later.
function _M.verify_svix(body, secret, headers, opts)
  if type(body) ~= "string" then
    error("bad argument #1 to 'verify_svix' (string expected, got " .. type(body) .. ")", 2)
  end
  if type(secret) ~= "string" or secret == "" then
    error("bad argument #2 to 'verify_svix' (signing secret expected)", 2)
  end
  opts = opts or {}
  local key = _M.base64_decode((sgsub(secret, "^whsec_", "")))
  if not key then error("bad argument #2 to 'verify_svix' (a secret whsec_BASE64 expected)", 2) end
  local id, ts = header(headers, "svix-id"), header(headers, "svix-timestamp")
  local sigs = header(headers, "svix-signature")
  if not (id and ts and sigs) then
    return nil, "resend: headers 'svix-id', 'svix-timestamp' and 'svix-signature' are required"
  end
  local t = smatch(ts, "^%d+$") and tonumber(ts)
  local tolerance = opts.tolerance or 300
  local now = now_of(opts)
  if not t or t < now - tolerance or t > now + tolerance then
    return nil, "resend: signature timestamp too old or in the future"
  end
  local hmac = require("openssl.hmac")
  local want = _M.base64_encode(hmac.new(key, "sha256"):final(id .. "." .. ts .. "." .. body))
  local found = false
  for entry in sgmatch(sigs, "%S+") do
    local version, given = smatch(entry, "^([^,]+),(.*)$")
    if version == "v1" and equal(want, given) then found = true end
  end
  if not found then return nil, "resend: signature mismatch" end
  return true
end

-- syntax: ok, err = webhooks.verify_mailgun(payload, signing_key [, opts])
-- payload: the parsed body (r.payload) or the JSON string. Checks the HMAC-
-- SHA256 of timestamp .. token with the signing key, and that the timestamp
-- is within opts.max_age seconds (default 900) of opts.now (default now),
-- so an old signed request cannot be replayed forever.
function _M.verify_mailgun(payload, key, opts)
  if type(key) ~= "string" or key == "" then
    error("bad argument #2 to 'verify_mailgun' (signing key expected)", 2)
  end
  opts = opts or {}
  if type(payload) == "string" then
    local ok, v = pcall(opts.decode or default_decode, payload)
    if not ok then return nil, "mailgun: invalid JSON" end
    payload = v
  end
  local sig = type(payload) == "table" and payload.signature
  if type(sig) ~= "table" then return nil, "mailgun: field 'signature' is missing" end
  local ts, token, given = sig.timestamp, sig.token, sig.signature
  if type(ts) == "number" then ts = sformat("%d", ts) end
  if type(ts) ~= "string" or type(token) ~= "string" or type(given) ~= "string" then
    return nil, "mailgun: signature needs timestamp, token and signature strings"
  end
  local hmac = require("openssl.hmac")
  local want = hex(hmac.new(key, "sha256"):final(ts .. token))
  if not equal(want, slower(given)) then return nil, "mailgun: signature mismatch" end
  local max_age = opts.max_age or 900
  if max_age > 0 then
    local ngx = rawget(_G, "ngx")
    local now = opts.now or (ngx and ngx.time() or os.time())
    local t = tonumber(ts)
    if not t or t < now - max_age or t > now + max_age then
      return nil, "mailgun: signature timestamp too old or in the future"
    end
  end
  return true
end

-- syntax: s = webhooks.sns_string_to_sign(envelope)
function _M.sns_string_to_sign(m)
  local keys = SNS_SIGNED[m.Type]
  if not keys then return nil, "sns: no signature scheme for Type '" .. tostring(m.Type) .. "'" end
  local out = {}
  for _, k in ipairs(keys) do
    local v = m[k]
    if type(v) == "string" then
      out[#out + 1] = k
      out[#out + 1] = v
    end
  end
  out[#out + 1] = ""
  return concat(out, "\n")
end

-- syntax: ok, err = webhooks.verify_sns(envelope, opts)
-- envelope: the SNS message (r.sns). opts.fetch_cert(url) -> pem or nil,
-- err (required: the host does the I/O; OpenResty uses a cosocket), and
-- opts.url_patterns (default webhooks.SNS_URL_PATTERNS): the certificate
-- URL must match one, or nothing is fetched. SignatureVersion 1 is
-- RSA-SHA1, 2 is RSA-SHA256.
function _M.verify_sns(m, opts)
  if type(m) ~= "table" then error("bad argument #1 to 'verify_sns' (table expected, got " .. type(m) .. ")", 2) end
  if type(opts) ~= "table" or type(opts.fetch_cert) ~= "function" then
    error("bad argument #2 to 'verify_sns' (opts.fetch_cert expected)", 2)
  end
  local url = m.SigningCertURL
  if type(url) ~= "string" then return nil, "sns: field 'SigningCertURL' is missing" end
  if not _M.url_allowed(url, opts.url_patterns) then
    return nil, "sns: SigningCertURL is not an allowed SNS host: " .. ssub(url, 1, 200)
  end
  local alg = ({ ["1"] = "sha1", ["2"] = "sha256" })[tostring(m.SignatureVersion)]
  if not alg then return nil, "sns: unknown SignatureVersion " .. tostring(m.SignatureVersion) end
  local sig = type(m.Signature) == "string" and _M.base64_decode(m.Signature)
  if not sig then return nil, "sns: field 'Signature' is not base64" end
  local text, terr = _M.sns_string_to_sign(m)
  if not text then return nil, terr end
  local pem, ferr = opts.fetch_cert(url)
  if not pem then return nil, "sns: cannot fetch the certificate: " .. tostring(ferr) end
  if type(pem) ~= "string" or not pem_der(pem, "CERTIFICATE") then
    return nil, "sns: the certificate is not PEM"
  end
  local okc, cert = pcall(require("openssl.x509").new, pem, "PEM")
  if not okc or not cert then return nil, "sns: the certificate is not PEM" end
  local digest = require("openssl.digest").new(alg)
  digest:update(text)
  local okv, valid = pcall(cert:getPublicKey().verify, cert:getPublicKey(), sig, digest)
  if not okv or not valid then return nil, "sns: signature mismatch" end
  return true
end

return _M
