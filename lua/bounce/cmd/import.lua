-- bounce import: loads a suppression list exported from an ESP (a CSV file)
-- into the history, so the addresses it names are not mailed again.

local bounce = require("bounce")
local cli = require("bounce.cli")
local csv = require("bounce.csv")
local date = require("bounce.date")
local state = require("bounce.state")

local io, ipairs, pcall, tonumber, tostring, format =
  io, ipairs, pcall, tonumber, tostring, string.format

local _M = { _VERSION = bounce._VERSION }

_M.help = [[
usage: bounce import FILE.csv [--db FILE] [--create] [--policy FILE] [--rules FILE]
                     [--at TIME] [--dry-run]

Imports a suppression list exported from an ESP (Postmark, SES, SendGrid,
Mailgun, SparkPost, Mailchimp...): a CSV file with a header line. Columns
are found by name, case-insensitively:
  address   email, address, email_address, recipient, rcpt
  reason    reason, type, suppression_reason, bounce_type, category,
            description, error (optional)
  created   created, created_at, date, timestamp, suppressed_at,
            last_update_time, date_added (optional)
Each row becomes a suppression dated `created` (ISO 8601, RFC 5322 as in
"Fri, 03 May 2024 10:00:00 UTC" or "+0000", or unix seconds; a row without a
date, or with one that cannot be read, is dated --at or now, the latter with
a warning FILE:LINE: on stderr):
  - a complaint ("spam complaint", "abuse", "complaint")  -> complaint
  - an unsubscribe ("unsubscribe", "opt-out")              -> unsubscribe
  - an SMTP reply ("550 5.1.1 ...") classified hard, or a
    bounce ("hard bounce", "bounce", "invalid", ...)       -> hard
  - anything else (manual, block, unknown)                 -> manual
Retention follows the policy (hard, complaint, unsubscribe: forever by
default). Rows that cannot be used (no address, an invalid one) are reported
as FILE:LINE: message and skipped; the others are imported.

  --db FILE     the history: a SQLite file, ./bounce.db by default (or
                $BOUNCE_DB)
  --create      start a new history file when FILE does not exist (without
                it a missing file is an error: a suppression list imported
                into a mistyped path would be kept where no check reads it)
  --policy FILE the policy (retention)
  --rules FILE  a rules file for SMTP replies in the reason column (bounce
                help rules)
  --at TIME     unix time for rows without a readable date (default now)
  --dry-run     read and report, store nothing (needs no history file)

Exit status: 0 when every row was imported (dates warned about included), 1
when some were skipped, 2 when the file or the store cannot be used.
]]

local ADDRESS = { email = true, address = true, email_address = true, emailaddress = true,
                  recipient = true, rcpt = true, ["e-mail"] = true, mail = true }
local REASON = { reason = true, type = true, suppression_reason = true, bounce_type = true,
                 category = true, description = true, error = true, status = true,
                 bounce_reason = true, suppression_type = true }
local CREATED = { created = true, created_at = true, createdat = true, date = true,
                  timestamp = true, suppressed_at = true, last_update_time = true,
                  date_added = true, bounced_at = true, updated_at = true, time = true }

local function die(msg)
  io.stderr:write("bounce import: ", msg, "\n")
  return 2
end

local function norm(name) return (name:lower():gsub("^%s+", ""):gsub("%s+$", ""):gsub("[%s%-]+", "_")) end

-- syntax: t, err = import.time(s)   -- see bounce.date.parse
_M.time = date.parse

-- What a row's reason text means: event type and bounce reason.
local function meaning(text)
  if text == nil or not text:find("%S") then return "manual" end
  local l = text:lower()
  if l:find("complain") or l:find("spam report") or l:find("abuse") or l:find("^spam") then
    return "complaint", "feedback"
  end
  if l:find("unsub") or l:find("opt[%-_ ]?out") then return "unsubscribe" end
  if text:match("^%s*[2-5]%d%d[%s%-]") or text:match("^%s*[245]%.%d") then
    local r = bounce.classify(text)
    if r and r.type == "hard" then return "hard", r.reason end
    return "manual", r and r.reason
  end
  if l:find("hard") or l:find("bounce") or l:find("invalid") or l:find("does not exist")
     or l:find("unknown") or l:find("permanent") or l:find("no such") then
    local r = bounce.classify(text)
    return "hard", r and r.type == "hard" and r.reason or nil
  end
  return "manual"
end
_M.meaning = meaning

-- syntax: status = import.run(args)
function _M.run(args)
  local o, pos = cli.parse_args(args, { db = true, policy = true, at = true, rules = true },
                                { ["dry-run"] = true, create = true })
  if not o then return die(pos .. " (bounce import --help)") end
  if o.help then io.write(_M.help) return 0 end
  if o.rules then
    local n, rerr = cli.use_rules(o.rules)
    if not n then return die(rerr) end
  end
  if #pos ~= 1 then return die("one CSV file expected (bounce import --help)") end
  local path = pos[1]
  local default_at = tonumber(o.at or os.time())
  if not default_at then return die("--at expects unix seconds, got '" .. tostring(o.at) .. "'") end
  local fh, err = io.open(path, "rb")
  if not fh then return die(err) end
  local rows = csv.reader(fh)
  local okh, header = pcall(rows)
  if not okh or not header then
    fh:close()
    return die(path .. ": " .. (okh and "empty file" or tostring(header)))
  end
  local ca, cr, cc
  for i, name in ipairs(header) do
    local n = norm(name)
    if ADDRESS[n] and not ca then ca = i end
    if REASON[n] and not cr then cr = i end
    if CREATED[n] and not cc then cc = i end
  end
  if not ca then
    fh:close()
    return die(path .. ":1: no address column (expected one named email, address or recipient)")
  end
  local t, store
  if o["dry-run"] then
    t, err = bounce.tracker{ policy = o.policy }
    store = {}
  else
    o.command = "import"
    t, err, store = state.tracker(o)
  end
  if not t then fh:close() return die(err) end
  local batch = state.batcher(store, nil, t)
  local counts, bad, n, warned = {}, 0, 0, 0
  local function skip(line, msg)
    bad = bad + 1
    io.stderr:write(format("%s:%d: %s\n", path, line, msg))
  end
  local when = o.at and "--at" or "now"
  while true do
    local okr, fields, line = pcall(rows)
    if not okr then skip(0, tostring(fields)) break end
    if fields == nil then break end
    local addr = fields[ca]
    if addr == nil or not addr:find("%S") then
      if #fields > 1 or (fields[1] or "") ~= "" then skip(line, "no address") end
    else
      local at = default_at
      if cc and fields[cc] and fields[cc]:find("%S") then
        local terr
        at, terr = date.parse(fields[cc])
        if not at then
          -- the row is still a suppression the ESP holds: keep it, dated as
          -- a row without a date is, and say so
          warned = warned + 1
          io.stderr:write(format("%s:%d: warning: %s; dated %s instead\n", path, line, terr, when))
          at = default_at
        end
      end
      local etype, reason = meaning(cr and fields[cr])
      local okb, berr = batch.step()
      if not okb then fh:close() return die("store: " .. tostring(berr)) end
      local d, derr
      if etype == "manual" then
        d, derr = t:suppress(addr, at)
      else
        d, derr = t:record{ rcpt = addr, type = etype, reason = reason, at = at }
      end
      if not d then
        skip(line, derr)
      else
        n = n + 1
        counts[etype] = (counts[etype] or 0) + 1
      end
    end
  end
  fh:close()
  local okb, berr = batch.finish()
  if not okb then return die("store: " .. tostring(berr)) end
  local parts = {}
  for _, k in ipairs({ "hard", "complaint", "unsubscribe", "manual" }) do
    if counts[k] then parts[#parts + 1] = counts[k] .. " " .. k end
  end
  io.write(format("%s %d suppression%s%s from %s%s\n", o["dry-run"] and "would import" or "imported",
    n, n == 1 and "" or "s", #parts > 0 and " (" .. table.concat(parts, ", ") .. ")" or "", path,
    (bad > 0 and format(", %d row%s skipped", bad, bad == 1 and "" or "s") or "")
    .. (warned > 0 and format(", %d dated %s", warned, when) or "")))
  return bad > 0 and 1 or 0
end

return _M
