-- bounce replay: runs a stream of delivery events through a tracker and
-- prints each decision, then the suppression list and the health table.

local cli = require("bounce.cli")
local json = require("bounce.json")
local state = require("bounce.state")

local io, ipairs, pairs, pcall, tonumber, tostring, type, require =
  io, ipairs, pairs, pcall, tonumber, tostring, type, require
local format, floor, date, sort, concat = string.format, math.floor, os.date, table.sort, table.concat

local _M = { _VERSION = require("bounce.core")._VERSION }

_M.help = [[
usage: bounce replay EVENTS.jsonl [--db FILE] [--create] [--policy FILE] [--rules FILE]
                     [--at TIME] [--json]

Runs delivery events (one JSON object per line; "-" or no file reads stdin)
through a tracker and prints each decision, then the suppression list and
the health of every domain, campaign and sender.

An event line:
  {"rcpt":"a@example.com","reply":"550 5.1.1 user unknown","at":1763600000,
   "campaign":"c1","sender":"news@example.com"}
with "type" ("sent", "delivered", "soft", "hard", "block", "complaint",
"unsubscribe", "release", "delayed") instead of "reply" when the outcome is
known, an optional "reason", and "count" for a batch of sends. Lines that
are blank or start with # or // are skipped. A delay notice ("delayed":
true or "action": "delayed", as bounce parse prints them) is recorded as a
"delayed" event: the MTA is still retrying and nothing has failed yet, so
it changes no count or state of the address; the health table counts it.
An event with "verp_rcpt" (bounce parse --verp) is tracked under that
address, the one the mail was sent to.

  --db FILE       where the history is kept: a SQLite file, ./bounce.db by
                  default (or $BOUNCE_DB); ":memory:" keeps nothing
  --create        start a new history file when FILE does not exist (without
                  it a missing file is an error: events replayed into a
                  mistyped path would be kept where no check reads them)
  --policy FILE   the policy (default: the built-in defaults)
  --rules FILE    a rules file for the replies to classify (bounce help rules)
  --at TIME       unix time for the suppression list and the health table
                  (default: the latest event's time)
  --json          decisions as JSON lines instead of a table

Exit status: 0 when every event was taken, 1 when some were not (reported
as FILE:LINE: message on stderr) or the store failed, 2 on a usage error,
an unreadable input or a missing history.
]]

local function day(t) return date("!%Y-%m-%d", t) end
local function stamp(t) return date("!%Y-%m-%d %H:%M", t) end

local function die(msg)
  io.stderr:write("bounce replay: ", msg, "\n")
  return 2
end

local function standing(d)
  if d.action == "retry" then
    return format("retry at %s (attempt %d)", stamp(d.retry_at), d.attempts)
  elseif d.action == "hold" then
    -- a block said with a 5xx: this message is refused for good (RFC 5321
    -- 4.2.1), the address stays
    return format("hold sender until %s%s", stamp(d.retry_at),
      d.permanent and ", permanent: do not retry this message" or "")
  elseif d.action == "suppress" then
    local why = d.cause == "soft_exhausted"
      and format("%d soft bounces", d.attempts) or d.cause
    return format("suppress %s (%s)",
      d.expires_at and "until " .. day(d.expires_at) or "forever", why)
  end
  return "send"
end

local function what(d)
  if d.event == "delayed" then
    return "no change: a delay notice, the MTA still retries"
      .. (d.action ~= "send" and "; " .. standing(d) or "")
  end
  return standing(d)
end

local function outcome(ev, d)
  local kind = d.event
  if kind == "delayed" then
    -- the record's reason is not this notice's
    return kind .. (type(ev.reason) == "string" and "/" .. ev.reason or "")
  end
  if d.reason and d.reason ~= "undefined" and d.reason ~= kind
     and not (kind == "sent" or kind == "delivered") then
    kind = kind .. "/" .. d.reason
  end
  if ev.count and ev.count > 1 then kind = kind .. " x" .. ev.count end
  return kind
end

local function parse_args(args)
  local o, files = cli.parse_args(args, { policy = true, at = true, db = true, rules = true },
                                  { json = true, create = true })
  if not o then return nil, files .. " (bounce replay --help)" end
  o.files = files
  if #o.files > 1 then return nil, "one events file at a time" end
  if o.at and not tonumber(o.at) then return nil, "--at expects unix seconds" end
  return o
end

-- cjson's null and JSON numbers, made into plain Lua values.
local function clean(ev, null)
  for k, v in pairs(ev) do
    if v == null then ev[k] = nil end
  end
  if type(ev.at) == "number" then ev.at = floor(ev.at) end
  if type(ev.count) == "number" then ev.count = floor(ev.count) end
  return ev
end

-- Rows of columns printed with the widths of the widest cell so far (never
-- narrower than the given minimums). Rows are held in blocks of up to
-- BLOCK and printed a block at a time, so a long run streams while columns
-- still line up for long addresses and scopes.
local BLOCK = 1000
local function columns(min, indent, right)
  local c = { rows = {}, width = {}, indent = indent or "", right = right or {} }
  for i, w in ipairs(min) do c.width[i] = w end
  function c.add(row)
    if row == "rule" then c.rows[#c.rows + 1] = row return end
    for i = 1, #row - 1 do
      if #row[i] > (c.width[i] or 0) then c.width[i] = #row[i] end
    end
    c.rows[#c.rows + 1] = row
    if #c.rows >= BLOCK then c.flush() end
  end
  function c.flush()
    for _, row in ipairs(c.rows) do
      if row == "rule" then
        row = {}
        for i, w in ipairs(c.width) do row[i] = ("-"):rep(w) end
        row[#row + 1] = ("-"):rep(30)
      end
      local out = {}
      for i = 1, #row - 1 do
        local cell = row[i]
        out[i] = c.right[i] and (" "):rep(c.width[i] - #cell) .. cell or cli.pad(cell, c.width[i])
      end
      out[#row] = row[#row]
      io.write(c.indent, concat(out, " "), "\n")
    end
    c.rows = {}
  end
  return c
end

local function suppression_list(t, at)
  local rows = {}
  for rcpt, r in t:suppressions(at) do rows[#rows + 1] = { rcpt, r } end
  sort(rows, function(a, b) return a[1] < b[1] end)
  io.write("\nSuppressed at ", stamp(at), " UTC (", #rows, "):\n")
  local c = columns({ 26, 15, 13, 16 }, "  ")
  for _, row in ipairs(rows) do
    local r = row[2]
    c.add({ row[1], r.cause, r.reason ~= "undefined" and r.reason or "", "since " .. day(r.since),
            r.expires_at and "until " .. day(r.expires_at) or "forever" })
  end
  c.flush()
end

local function health_table(t, at)
  local p = t:current_policy()
  local h = p.health or {}
  local scopes = t:scopes()
  local sent = 0
  for _, scope in ipairs(scopes) do sent = sent + t:health(scope, at).sent end
  io.write(format("\nHealth over the last %s at %s UTC (levels judged from %d messages up):\n",
    h.window and (h.window % 3600 == 0 and floor(h.window / 3600) .. "h" or h.window .. "s") or "?",
    stamp(at), h.min_sent or 0))
  if sent == 0 then
    -- rates are per message sent: outcomes alone would give rates over 100%
    io.write("  (no sends were recorded: the events hold no \"sent\" lines, so there are no\n",
             "  rates or levels; add {\"rcpt\":...,\"type\":\"sent\"} lines, or \"count\" for a batch)\n")
  end
  -- delayed: delay notices, no outcome (not in messages nor in the rates)
  local c = columns({ 28, 8, 9, 5, 5, 6, 9, 7, 7, 10 }, "  ",
                    { [2] = true, [3] = true, [4] = true, [5] = true, [6] = true, [7] = true, [8] = true,
                      [9] = true, [10] = true })
  c.add({ "scope", "messages", "delivered", "soft", "hard", "block", "complaint", "delayed", "hard%",
          "complaint%", "level" })
  for _, scope in ipairs(scopes) do
    local x = t:health(scope, at)
    local rated = x.sent > 0
    c.add({ scope, tostring(x.messages), tostring(x.delivered), tostring(x.soft), tostring(x.hard),
            tostring(x.block), tostring(x.complaint), tostring(x.delayed),
            rated and format("%.2f%%", 100 * x.hard_rate) or "-",
            rated and format("%.2f%%", 100 * x.complaint_rate) or "-",
            not rated and "(no sends recorded)" or x.judged and x.level or "(not judged: too few)" })
  end
  c.flush()
end

-- syntax: status = replay.run(args)
function _M.run(args)
  local o, err = parse_args(args or {})
  if not o then return die(err) end
  if o.help then io.write(_M.help) return 0 end
  local ok, cjson = pcall(require, "cjson")
  if not ok then return die("needs lua-cjson (apt-get install lua-cjson)") end
  if o.rules then
    local n, rerr = cli.use_rules(o.rules)
    if not n then return die(rerr) end
  end
  -- the input first: a missing events file must leave no history behind
  local file = o.files[1]
  local fh = io.stdin
  if file and file ~= "-" then
    fh, err = io.open(file, "r")
    if not fh then return die(err) end
  end
  o.command = "replay"
  local t, store
  t, err, store = state.tracker(o)
  if not t then
    if fh ~= io.stdin then fh:close() end
    return die(err)
  end
  local batch = state.batcher(store, nil, t)
  local rows
  if not o.json then
    rows = columns({ 16, 26, 24 })
    rows.add({ "WHEN (UTC)", "RECIPIENT", "OUTCOME", "DECISION" })
    rows.add("rule")
  end
  local n, bad, last = 0, 0, nil
  for line in fh:lines() do
    n = n + 1
    if line:match("%S") and not line:match("^%s*#") and not line:match("^%s*//") then
      local okj, ev = pcall(cjson.decode, line)
      local d, derr
      if okj and type(ev) == "table" and type(ev.verp_rcpt) == "string" then
        -- the address it was sent to, from its VERP return path (bounce
        -- parse --verp): the one to track, whatever the bounce names
        ev.bounce_rcpt, ev.rcpt = ev.rcpt, ev.verp_rcpt
      end
      if not okj or type(ev) ~= "table" then
        derr = "not a JSON object"
      elseif ev.rcpt == nil or ev.rcpt == cjson.null then
        derr = "no rcpt: the event names no recipient"
      else
        if ev.delayed == true or ev.action == "delayed" then
          -- a delay notice (from bounce parse): the MTA is still trying, so
          -- nothing failed yet; counting it as a soft bounce would escalate
          -- early. Its reply, if any, is not classified: the type stands.
          ev.type, ev.reply = "delayed", nil
        end
        clean(ev, cjson.null)
        local okb, berr = batch.step()
        if not okb then
          if rows then rows.flush() end
          io.stderr:write("bounce replay: store: ", tostring(berr), "\n")
          return 1
        end
        local okr, r, e = pcall(t.record, t, ev)
        if not okr then derr = tostring(r):gsub("^.-:%d+: ", "") else d, derr = r, e end
      end
      if not d then
        bad = bad + 1
        io.stderr:write(format("%s:%d: %s\n", (file and file ~= "-") and file or "stdin", n, derr))
      else
        if not last or d.at > last then last = d.at end
        if o.json then
          io.write(json.encode(d), "\n")
        else
          rows.add({ stamp(d.at), d.rcpt, outcome(ev, d), what(d) })
        end
      end
    end
  end
  if rows then rows.flush() end
  if fh ~= io.stdin then fh:close() end
  local okb, berr = batch.finish()
  if not okb then
    io.stderr:write("bounce replay: store: ", tostring(berr), "\n")
    return 1
  end
  local at = tonumber(o.at) or last
  if at and not o.json then
    suppression_list(t, at)
    health_table(t, at)
  end
  return bad > 0 and 1 or 0
end

return _M
