-- bounce suppressions: the suppression list, filtered, as a table, CSV or
-- JSON lines.

local bounce = require("bounce")
local cli = require("bounce.cli")
local json = require("bounce.json")
local output = require("bounce.output")
local state = require("bounce.state")
local csv = require("bounce.csv")

local io, ipairs, tonumber, tostring, format, date, sort, concat =
  io, ipairs, tonumber, tostring, string.format, os.date, table.sort, table.concat

local _M = { _VERSION = bounce._VERSION }

_M.help = [[
usage: bounce suppressions [--db FILE] [--cause LIST] [--reason LIST]
                           [--domain DOMAIN] [--at TIME] [--csv | --json]
       bounce suppressions --domains [--db FILE] [--at TIME] [--csv | --json]

Lists the suppressed addresses, sorted: address, cause, reason, since,
until. Suppressions whose retention has ended by --at (default now) are
left out. With --domains, lists the dead domains instead: those a hard
bounce for reason hostunknown marked (no such domain, no MX and no
address), where every address is refused until a delivery to one of them
or retention.domain: domain, reason, since, until.

  --db FILE        the history: a SQLite file, ./bounce.db by default (or
                   $BOUNCE_DB); it must exist (nothing is created)
  --policy FILE    the policy (retention decides when suppressions end)
  --cause LIST     only these causes, comma-separated: hard, soft_exhausted,
                   complaint, unsubscribe, manual
  --reason LIST    only these reasons, comma-separated (bounce reasons)
  --domain DOMAIN  only addresses at this domain
  --at TIME        unix time (default now)
  --csv            CSV with a header line: rcpt,state,cause,reason,since,
                   expires_at,attempts,bounces,blocks,last_event,last_at
                   (times in ISO 8601 UTC, expires_at empty when forever),
                   the columns GET /suppressions?format=csv gives
  --json           one JSON object per suppression, the fields of the CSV
                   (times in unix seconds; no expires_at when forever)
  --domains        the dead domains; --csv columns domain,reason,since,
                   expires_at,why (the columns of GET /suppressions?kind=
                   domain), --json the same fields

Records that do not decode (a corrupt record, or its bytes set aside when
an event met it) are in no list: each is named on stderr with a count, and
the exit status is 1. Releasing the address resets one.
]]

local CAUSES = { hard = true, soft_exhausted = true, complaint = true, unsubscribe = true,
                 manual = true }

local function die(msg)
  io.stderr:write("bounce suppressions: ", msg, "\n")
  return 2
end

local function day(t) return date("!%Y-%m-%d", t) end

-- "a,b" -> { a = true, b = true }, checking each name against known.
local function set_of(list, known, what)
  local s = {}
  for name in tostring(list):gmatch("[^,%s]+") do
    if not known[name] then return nil, "unknown " .. what .. " '" .. name .. "'" end
    s[name] = true
  end
  return s
end

-- bounce suppressions --domains: the dead domains at `at`, sorted.
local DOMAIN_FIELDS = { "domain", "reason", "since", "expires_at", "why" }
local function dead_domains(t, at, o)
  local rows = {}
  for domain, r in t:dead_domains(at) do
    rows[#rows + 1] = { domain = domain, reason = r.reason, since = r.since,
                        expires_at = r.expires_at, why = r.why }
  end
  sort(rows, function(a, b) return a.domain < b.domain end)
  if o.csv then
    io.write(csv.row(DOMAIN_FIELDS, #DOMAIN_FIELDS), "\r\n")
    for _, r in ipairs(rows) do
      io.write(csv.row({ r.domain, r.reason, output.iso(r.since), output.iso(r.expires_at), r.why },
                       #DOMAIN_FIELDS), "\r\n")
    end
  elseif o.json then
    for _, r in ipairs(rows) do io.write(json.encode(r), "\n") end
  else
    local width = 32
    for _, r in ipairs(rows) do if #r.domain > width then width = #r.domain end end
    for _, r in ipairs(rows) do
      io.write(format("%s %-15s since %s  %s\n", cli.pad(r.domain, width), r.reason, day(r.since),
        r.expires_at and "until " .. day(r.expires_at) or "forever"))
    end
    io.write(format("%d dead domain%s\n", #rows, #rows == 1 and "" or "s"))
  end
  return 0
end

-- Records that do not decode are in no list: each is named on stderr with
-- a count, and the status is 1 (t:release of the address resets one).
local function corrupt_rows(t)
  local n = 0
  for key, why in t:corrupt() do
    n = n + 1
    io.stderr:write("bounce suppressions: ", key, ": ", why, "\n")
  end
  if n == 0 then return 0 end
  io.stderr:write(format("bounce suppressions: %d corrupt record%s, in no list above "
    .. "(bounce serve's DELETE /suppressions/ADDR or t:release resets one)\n", n, n == 1 and "" or "s"))
  return 1
end

-- syntax: status = suppressions.run(args)
function _M.run(args)
  local o, pos = cli.parse_args(args, { db = true, cause = true, reason = true, domain = true,
                                        at = true, policy = true },
                                { csv = true, json = true, domains = true })
  if not o then return die(pos .. " (bounce suppressions --help)") end
  if o.help then io.write(_M.help) return 0 end
  if #pos > 0 then return die("unexpected argument '" .. pos[1] .. "'") end
  if o.csv and o.json then return die("--csv and --json exclude each other") end
  local at = tonumber(o.at or os.time())
  if not at then return die("--at expects unix seconds, got '" .. tostring(o.at) .. "'") end
  local causes, reasons, err
  if o.cause then
    causes, err = set_of(o.cause, CAUSES, "cause")
    if not causes then return die(err) end
  end
  if o.reason then
    local known = {}
    for _, r in ipairs(bounce.reasons) do known[r.name] = true end
    reasons, err = set_of(o.reason, known, "reason")
    if not reasons then return die(err) end
  end
  local domain = o.domain and tostring(o.domain):lower()
  if domain and domain:find("[\128-\255]") then   -- keys hold an IDN domain in A-labels
    local _, d = require("bounce.tracker").normalize("x@" .. domain)
    if not _ then return die("--domain: " .. tostring(d)) end
    domain = d
  end
  if o.domains and (o.cause or o.reason or o.domain) then
    return die("--domains lists dead domains: no --cause, --reason or --domain with it")
  end
  o.command = "suppressions"
  local t
  t, err = state.tracker(o)
  if not t then return die(err) end
  if o.domains then
    dead_domains(t, at, o)
    return corrupt_rows(t)
  end
  local rows = {}
  for rcpt, r in t:suppressions(at) do
    if (not causes or causes[r.cause]) and (not reasons or reasons[r.reason])
       and (not domain or rcpt:sub(-#domain - 1):lower() == "@" .. domain) then
      rows[#rows + 1] = output.suppression(rcpt, r)
    end
  end
  sort(rows, function(a, b) return a.rcpt < b.rcpt end)
  if o.csv then
    io.write(output.csv_header(), "\r\n")
    for _, r in ipairs(rows) do io.write(output.csv_row(r), "\r\n") end
  elseif o.json then
    for _, r in ipairs(rows) do io.write(json.encode(r), "\n") end
  else
    local by, width = {}, 32
    for _, r in ipairs(rows) do if #r.rcpt > width then width = #r.rcpt end end
    for _, r in ipairs(rows) do
      io.write(format("%s %-15s %-15s since %s  %s\n", cli.pad(r.rcpt, width), r.cause,
        r.reason ~= "undefined" and r.reason or "", day(r.since),
        r.expires_at and "until " .. day(r.expires_at) or "forever"))
      by[r.cause] = (by[r.cause] or 0) + 1
    end
    local parts = {}
    for _, c in ipairs({ "hard", "soft_exhausted", "complaint", "unsubscribe", "manual" }) do
      if by[c] then parts[#parts + 1] = by[c] .. " " .. c end
    end
    io.write(format("%d suppressed%s\n", #rows,
      #parts > 0 and " (" .. concat(parts, ", ") .. ")" or ""))
  end
  return corrupt_rows(t)
end

return _M
