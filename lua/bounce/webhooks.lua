-- bounce.webhooks: ESP webhook payloads (Postmark, Amazon SES over SNS,
-- SendGrid, Mailgun, SparkPost) made into tracker events. Pure Lua, for
-- Lua 5.1-5.4, LuaJIT and OpenResty: bounce.classify (the C module) is
-- loaded when a payload carries a reply to classify, unless opts.classify
-- is given; JSON is decoded with lua-cjson unless a decoder is passed in;
-- signatures are checked with lua-luaossl (loaded only when a check runs).
--
--   local webhooks = require("bounce.webhooks")
--   local r, err = webhooks.parse("postmark", body)
--   -- r.events:  { {rcpt, type, reason, permanent, code, status, reply, at,
--   --              campaign, sender, source, provider, provider_type,
--   --              provider_reason, id}, ... }
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
local sbyte, schar, sfind, sformat, slower, smatch, ssub, sgsub =
  string.byte, string.char, string.find, string.format, string.lower, string.match, string.sub,
  string.gsub
local concat = table.concat

local _M = require("bounce.version").lazy({})

local PROVIDERS = { "postmark", "ses", "sendgrid", "mailgun", "sparkpost" }
_M.providers = PROVIDERS

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
local function default_classify(reply)
  bounce_mod = bounce_mod or require("bounce")
  return bounce_mod.classify(reply)
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

local function add(ctx, ev) ctx.events[#ctx.events + 1] = ev end

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

local SES_BOUNCE = {
  Undetermined = { Undetermined = { "soft", "undefined" } },
  Permanent = {
    General = { "hard", "undefined" }, NoEmail = { "hard", "userunknown" },
    Suppressed = { "hard", "userunknown" }, OnAccountSuppressionList = { "hard", "userunknown" },
  },
  Transient = {
    General = { "soft", "undefined" }, MailboxFull = { "soft", "mailboxfull" },
    MessageTooLarge = { "soft", "mesgtoobig" }, ContentRejected = { "block", "contenterror" },
    AttachmentRejected = { "block", "contenterror" },
  },
}
_M.ses_types = SES_BOUNCE

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
    local map = SES_BOUNCE[bt] and (SES_BOUNCE[bt][bst] or SES_BOUNCE[bt].General)
      or { "soft", "undefined" }
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

local PARSERS = { postmark = postmark, ses = ses, sendgrid = sendgrid, mailgun = mailgun,
                  sparkpost = sparkpost }

------------------------------------------------------------------------------
-- Entry points
------------------------------------------------------------------------------

-- syntax: r, err = webhooks.parse(provider, body [, opts])
-- provider: "postmark", "ses", "sendgrid", "mailgun" or "sparkpost". body:
-- the request body (a JSON string) or a table already decoded. opts.decode:
-- a JSON decoder (string -> value, may raise; default lua-cjson with depth
-- 32), opts.null: the decoder's null value, opts.classify: the reply
-- classifier (default bounce.classify), opts.url_patterns: Lua patterns a
-- SubscribeURL must match (default webhooks.SNS_URL_PATTERNS).
-- Returns { provider, events, skipped, subscribe_url, sns, payload }, or nil, err.
function _M.parse(provider, body, opts)
  if type(provider) ~= "string" then
    error("bad argument #1 to 'parse' (string expected, got " .. type(provider) .. ")", 2)
  end
  local parser = PARSERS[provider]
  if not parser then
    error("bad argument #1 to 'parse' (one of " .. concat(PROVIDERS, ", ") .. " expected, got '"
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
  local payload = body
  if type(body) == "string" then
    if not sfind(body, "%S") then return nil, provider .. ": empty body, JSON expected" end
    local ok, v = pcall(decode, body)
    if not ok then
      return nil, provider .. ": invalid JSON: " .. sgsub(tostring(v), "^.-:%d+: ", "")
    end
    payload = v
  end
  if type(payload) ~= "table" then
    return nil, provider .. ": JSON " .. (provider == "sendgrid" or provider == "sparkpost"
      and "array" or "object") .. " expected, got " .. type(payload)
  end
  local ctx = { provider = provider, events = {}, skipped = {}, decode = decode,
                classify = opts.classify or default_classify, url_patterns = opts.url_patterns }
  local ok, err = pcall(parser, ctx, payload)
  if not ok then
    if type(err) == "table" and err[1] == Bad then return nil, err[2] end
    error(err, 0)
  end
  return { provider = provider, events = ctx.events, skipped = ctx.skipped,
           subscribe_url = ctx.subscribe_url, sns = ctx.sns, payload = payload }
end

-- syntax: ev = webhooks.tracker_event(event)
-- The fields t:record takes (without `reply`, which t:record would
-- classify again, overriding the precedence above).
function _M.tracker_event(ev)
  return { rcpt = ev.rcpt, type = ev.type, reason = ev.reason, permanent = ev.permanent,
           at = ev.at, campaign = ev.campaign, sender = ev.sender }
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
  local okc, cert = pcall(require("openssl.x509").new, pem, "PEM")
  if not okc or not cert then return nil, "sns: the certificate is not PEM" end
  local digest = require("openssl.digest").new(alg)
  digest:update(text)
  local okv, valid = pcall(cert:getPublicKey().verify, cert:getPublicKey(), sig, digest)
  if not okv or not valid then return nil, "sns: signature mismatch" end
  return true
end

return _M
