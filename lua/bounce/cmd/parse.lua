-- bounce parse: bounce messages from files, mboxes and maildirs, one line
-- per recipient result (JSON, or CSV), ready for `bounce replay`.

local bounce = require("bounce")
local cli = require("bounce.cli")
local json = require("bounce.json")
local csv = require("bounce.csv")

local io, os, ipairs, pcall, require, type, floor =
  io, os, ipairs, pcall, require, type, math.floor
local format, find = string.format, string.find

local _M = { _VERSION = bounce._VERSION }

_M.help = [[
usage: bounce parse [--format json|csv|sisimai] [--only failed] [--header NAME]...
                    [--campaign NAME] [--verp PREFIX] [--rules FILE] [PATH...]

Parses bounce messages (DSNs, complaints, auto-replies, plain-text bounces)
and prints one JSON object per recipient result: every field bounce.parse
gives (rcpt, action, status, code, text, reason, type, permanent, rhost,
command, reporting_mta, at, at_from, the original message's message_id,
from, to, subject, date, format, ...), where the message was (file, index,
offset), and sender (the address in the original From). The output pipes
straight into `bounce replay`:  bounce parse bounces.mbox | bounce replay -

PATH is a single message, an mbox (its first line starts with "From "), a
maildir (a directory with cur/ and new/) or a folder of such files (any
other directory: its own files, by name); "-" or no PATH reads stdin. Files
are streamed: memory stays flat on a mailbox of any size; a message over
64 MiB is reported and skipped.

  --format FORMAT  json (the default), csv, or sisimai: one JSON object per
                   record with Sisimai's field names (recipient,
                   deliverystatus, replycode, reason, hardbounce, softbounce,
                   timestamp, diagnosticcode, diagnostictype, action, rhost,
                   lhost, smtpcommand, smtpagent, destination, senderdomain,
                   addresser, subject, messageid, listid, feedbacktype,
                   alias, origin, catch, timezoneoffset, token), for tools
                   written against Sisimai's dump
  --csv            the same as --format csv: a header line, then one row
                   per result (RFC 4180: CRLF line ends, fields with a comma,
                   quote or line break quoted, quotes doubled; `at` in ISO
                   8601 UTC, unix seconds in JSON)
  --only failed    leave out delivered records and auto-replies (vacation),
                   as Sisimai does unless asked for them
  --header NAME    also extract this header of the original message (up to
                   16); JSON gives them in "headers", CSV one column each
  --campaign NAME  the original header that names the campaign (such as
                   X-Campaign-Id): its value becomes the "campaign" field,
                   which `bounce replay` counts health by
  --verp PREFIX    your return paths are VERP addresses with this local-part
                   prefix (bounces+ for bounces+ann=example.org@your.host):
                   "verp_rcpt" is the recipient the bounce's address names,
                   the one you sent to, which `bounce replay` then tracks
                   (the bounce may name another: a forward, or none)
  --rules FILE     a rules file (bounce help rules), ahead of the built-in rules

A message that cannot be parsed (not a bounce, too long, unreadable) is
reported on stderr with where it was, and the run goes on; the exit status
is 0 when every message gave results, 1 when some did not, 2 on a usage
error. On a terminal, large inputs show a progress bar on stderr (bytes or
messages done, messages/s); BOUNCE_PROGRESS=1 forces it, =0 turns it off.]]

local CSV_FIELDS = {
  "file", "index", "offset", "rcpt", "original_rcpt", "verp_rcpt", "action", "delayed",
  "status", "code", "reason", "type", "permanent", "rule", "text", "diagnostic", "rhost",
  "command", "reporting_mta", "at", "at_from", "arrival_date", "last_attempt_date", "will_retry_until",
  "message_id", "from", "to", "subject", "date", "sender", "campaign", "feedback_type",
  "source_ip", "format", "warnings",
}

local AT
for k, f in ipairs(CSV_FIELDS) do if f == "at" then AT = k end end
local iso = require("bounce.output").iso

local function die(msg)
  io.stderr:write("bounce parse: ", msg, "\n")
  return 2
end

local FORMATS = { json = true, csv = true, sisimai = true }

local function parse_args(args)
  local o, paths = cli.parse_args(args, { header = "list", campaign = true, verp = true,
                                          format = true, only = true, rules = true }, { csv = true })
  if not o then return nil, paths .. " (bounce parse --help)" end
  if o.help then return nil, nil, true end
  local headers = {}
  local function want(v)
    if v == "" then return nil, "--header needs a header name" end
    for _, h in ipairs(headers) do if h:lower() == v:lower() then return true end end
    headers[#headers + 1] = v
    return true
  end
  for _, h in ipairs(o.header or {}) do
    local ok, err = want(h)
    if not ok then return nil, err end
  end
  if o.campaign then
    if o.campaign == "" then return nil, "--campaign needs a header name" end
    want(o.campaign)
  end
  if o.verp and bounce.verp.prefix_error(o.verp) then
    return nil, "--verp needs the local-part prefix of your return paths, such as bounces+"
  end
  if o.csv then
    if o.format and o.format ~= "csv" then return nil, "--csv and --format " .. o.format .. " exclude each other" end
    o.format = "csv"
  end
  o.format = o.format or "json"
  if not FORMATS[o.format] then return nil, "--format: json, csv or sisimai expected, got '" .. o.format .. "'" end
  o.csv = o.format == "csv"
  if o.only and o.only ~= "failed" then return nil, "--only: 'failed' expected, got '" .. o.only .. "'" end
  if o.format == "sisimai" then want("List-Id") end
  if #headers > 16 then return nil, "at most 16 headers (--header, --campaign)" end
  o.headers = headers
  o.paths = #paths > 0 and paths or { "-" }
  return o
end

local function csv_row(values, n) return csv.row(values, n) .. "\r\n" end

-- The address in a From header ("News <news@example.com>" -> news@example.com).
local function address(from)
  if type(from) ~= "string" then return nil end
  local a = from:match("<%s*([^<>%s]+@[^<>%s]+)%s*>") or from:match("([^%s<>\"(),;:]+@[^%s<>\"(),;:]+)")
  return a
end

local function human(n)
  if n >= 1e9 then return format("%.1f GB", n / 1e9) end
  if n >= 1e6 then return format("%.1f MB", n / 1e6) end
  return format("%.0f kB", n / 1e3)
end

-- The progress bar: nil (off), or an object with :update(where) and :done().
local function progress_bar()
  local env = os.getenv("BOUNCE_PROGRESS")
  local forced = env == "1"
  if env == "0" then return nil end
  if not forced then
    local ok = os.execute("test -t 2")
    if ok ~= true and ok ~= 0 then return nil end
  end
  local okso, socket = pcall(require, "socket")
  local now = okso and type(socket) == "table" and socket.gettime or os.clock
  local t0, last, n, shown = now(), -1, 0, false
  local bar = {}
  local function draw(where, final)
    local frac, what
    if where.count then
      local k = where.file_index or where.index
      frac = k / where.count
      what = format("%d/%d %s", k, where.count, where.file_index and "files" or "messages")
    elseif where.total and where.total > 0 then
      frac = (where.offset + (where.size or 0)) / where.total
      what = format("%s/%s", human(where.offset + (where.size or 0)), human(where.total))
    else
      what = format("%d messages", n)
    end
    if final then frac = frac and 1 end
    local t = now() - t0
    local rate = t > 0 and n / t or 0
    local cells = 30
    local done = frac and floor(frac * cells + 0.5) or 0
    io.stderr:write(format("\r[%s%s] %s  %s  %.0f msg/s  %s\027[K",
      ("#"):rep(done), ("."):rep(cells - done), frac and format("%3.0f%%", 100 * frac) or " ?%",
      what, rate, where.source or where.file or ""))
    shown = true
  end
  function bar.update(_, where)
    n = n + 1
    if not forced and not shown and not ((where.total or 0) >= 8e6 or (where.count or 0) >= 2000) then
      return
    end
    local t = now()
    if t - last >= 0.2 then
      last = t
      draw(where)
    end
    bar.last = where
  end
  function bar.done()
    if shown and bar.last then
      draw(bar.last, true)
      io.stderr:write("\n")
    end
  end
  return bar
end

-- Sisimai's smtpagent for each reader of bounce.parse (r.format). Where
-- bounce reads a standard format (RFC 3464, ARF) Sisimai often names the
-- MTA behind it instead ("Postfix" for a Postfix DSN): there it says RFC3464.
local SMTPAGENT = {
  rfc3464 = "RFC3464", arf = "Feedback-Loop", autoreply = "RFC3834", amazonses = "AmazonSES",
  postfix = "Postfix", qmail = "qmail", exim = "Exim", sendmail = "Sendmail", dragonfly = "DragonFly",
  opensmtpd = "OpenSMTPD", gmail = "Gmail", googlegroups = "GoogleGroups", exchange = "Exchange2003",
  zoho = "Zoho", mailru = "MailRu", gmx = "GMX", yandex = "Yandex", ezweb = "EZweb", kddi = "KDDI",
  domino = "Domino", notes = "Notes", imailserver = "IMailServer", yahoo = "Yahoo",
  sendgrid = "SendGrid", courier = "Courier", apachejames = "ApacheJames",
  trendmicro = "InterScanMSS", x3 = "X3",
}

local function domain_of(addr)
  return type(addr) == "string" and addr:match("@([^@]+)$") or ""
end

-- Sisimai's token: SHA-1 of STX addresser RS recipient RS timestamp ETX,
-- the addresses lower-cased; "" without lua-luaossl or a part.
local sha1
local function token(addresser, recipient, at)
  if addresser == "" or recipient == "" or not at then return "" end
  if sha1 == nil then
    local ok, digest = pcall(require, "openssl.digest")
    sha1 = ok and function(text)
      return (digest.new("sha1"):final(text):gsub(".", function(c) return format("%02x", c:byte()) end))
    end or false
  end
  if not sha1 then return "" end
  return sha1(format("\2%s\30%s\30%d\3", addresser:lower(), recipient:lower(), at))
end

-- A result in Sisimai's record layout (the fields of its dump).
local function sisimai(r, where)
  local dtype, dcode = "", r.diagnostic or r.text or ""
  local t, rest = dcode:match("^%s*([%a][%w%-]*)%s*;%s*(.*)$")
  if t then dtype, dcode = t:upper(), rest end
  local addresser = r.sender or ""
  local stamp = r.at and not r.at_from and (r.last_attempt_date or r.arrival_date) or nil
  local soft = (r.type == "hard" and 0) or ((r.type == "soft" or r.type == "block") and 1) or -1
  return {
    recipient = r.rcpt or "", deliverystatus = r.status or r.pseudo_status or "",
    replycode = r.code and format("%d", r.code) or "", reason = r.reason or "",
    hardbounce = r.type == "hard" and 1 or 0, softbounce = soft,
    timestamp = r.at, diagnosticcode = dcode, diagnostictype = dtype, action = r.action or "",
    rhost = r.rhost or "", lhost = r.reporting_mta or "", smtpcommand = r.command or "",
    smtpagent = SMTPAGENT[r.format] or "", destination = domain_of(r.rcpt),
    senderdomain = domain_of(addresser), addresser = addresser, subject = r.subject or "",
    messageid = r.message_id and r.message_id:gsub("^%s*<(.-)>%s*$", "%1") or "",
    listid = r.headers and r.headers["List-Id"] and r.headers["List-Id"]:gsub("^.-<(.-)>.*$", "%1") or "",
    feedbacktype = r.feedback_type or "",
    alias = (r.original_rcpt and r.original_rcpt ~= r.rcpt) and r.original_rcpt or "",
    origin = where.file or "", catch = "",
    timezoneoffset = stamp and stamp:match("([+-]%d%d%d%d)") or "+0000",
    token = token(addresser, r.rcpt or "", r.at),
  }
end
_M.sisimai = sisimai

-- What --only failed leaves out: deliveries and auto-replies.
local function not_failed(r)
  return r.action == "delivered" or r.type == "delivered" or r.type == "auto_reply"
    or r.reason == "vacation"
end

local function location(where)
  if where.format == "mbox" then
    return format("%s: message %d at byte %d", where.file, where.index, where.offset)
  end
  return where.file
end

-- syntax: status = parse.run(args)
function _M.run(args)
  local o, err, help = parse_args(args or {})
  if help then io.write(_M.help, "\n") return 0 end
  if not o then return die(err) end
  if o.rules then
    local n, rerr = cli.use_rules(o.rules)
    if not n then return die(rerr) end
  end
  local popts = (#o.headers > 0 or o.verp) and { headers = o.headers, verp = o.verp } or nil
  local bar = progress_bar()
  local failed, messages, results = 0, 0, 0
  if o.csv then
    local head = {}
    for k, f in ipairs(CSV_FIELDS) do head[k] = f end
    for _, h in ipairs(o.headers) do head[#head + 1] = h end
    io.write(csv_row(head, #head))
  end
  local function emit(r, where)
    if o.only and not_failed(r) then return end
    r.file, r.index, r.offset = where.file, where.index, where.offset
    r.sender = address(r.from)
    if o.campaign and r.headers then r.campaign = r.headers[o.campaign] end
    if o.format == "sisimai" then
      io.write(json.encode(sisimai(r, where)), "\n")
    elseif o.csv then
      local row = {}
      for k, f in ipairs(CSV_FIELDS) do row[k] = r[f] end
      row[AT] = r.at and iso(r.at)   -- CSV times are ISO 8601 UTC, as in every CSV bounce writes
      local n = #CSV_FIELDS
      for k, h in ipairs(o.headers) do row[n + k] = r.headers and r.headers[h] end
      io.write(csv_row(row, n + #o.headers))
    else
      io.write(json.encode(r), "\n")
    end
  end
  for _, path in ipairs(o.paths) do
    local it, ierr
    if path == "-" then
      it, ierr = bounce.messages(io.stdin, { name = "stdin" })
    else
      it, ierr = bounce.messages(path)
    end
    if not it then
      io.stderr:write("bounce parse: ", ierr, "\n")
      failed = failed + 1
    else
      for msg, where in it do
        messages = messages + 1
        local list, perr
        if msg then list, perr = bounce.parse(msg, popts) else perr = where.error end
        if bar then bar:update(where) end
        if list then
          for _, r in ipairs(list) do emit(r, where) end
          results = results + #list
        else
          failed = failed + 1
          local loc = location(where)
          if find(perr, loc, 1, true) == 1 then loc = nil end
          io.stderr:write("bounce parse: ", loc and (loc .. ": ") or "", perr, "\n")
        end
      end
    end
  end
  if bar then bar:done() end
  if failed > 0 then
    io.stderr:write(format("bounce parse: %d messages read, %d results, %d failures\n",
                           messages, results, failed))
  end
  return failed > 0 and 1 or 0
end

return _M
