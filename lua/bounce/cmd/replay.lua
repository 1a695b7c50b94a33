-- bounce replay: runs a stream of delivery events through a tracker and
-- prints each decision, then the suppression list and the health table.

local json = require("bounce.json")
local state = require("bounce.state")

local io, ipairs, pairs, pcall, tonumber, tostring, type, require =
  io, ipairs, pairs, pcall, tonumber, tostring, type, require
local format, floor, date, sort = string.format, math.floor, os.date, table.sort

local _M = { _VERSION = require("bounce.core")._VERSION }

_M.help = [[
usage: bounce replay EVENTS.jsonl [--db FILE] [--policy FILE] [--at TIME] [--json]

Runs delivery events (one JSON object per line; "-" or no file reads stdin)
through a tracker and prints each decision, then the suppression list and
the health of every domain, campaign and sender.

An event line:
  {"rcpt":"a@example.com","reply":"550 5.1.1 user unknown","at":1763600000,
   "campaign":"c1","sender":"news@example.com"}
with "type" ("sent", "delivered", "soft", "hard", "block", "complaint",
"unsubscribe", "release") instead of "reply" when the outcome is known, an
optional "reason", and "count" for a batch of sends. Lines that are blank
or start with # or // are skipped, and so are delay notices ("delayed":
true or "action": "delayed", as bounce parse prints them): the MTA is still
retrying, nothing has failed yet. An event with "verp_rcpt" (bounce parse
--verp) is tracked under that address, the one the mail was sent to.

  --db FILE       where the history is kept: a SQLite file, ./bounce.db by
                  default (or $BOUNCE_DB); ":memory:" keeps nothing
  --policy FILE   the policy (default: the built-in defaults)
  --at TIME       unix time for the suppression list and the health table
                  (default: the latest event's time)
  --json          decisions as JSON lines instead of a table
]]

local function day(t) return date("!%Y-%m-%d", t) end
local function stamp(t) return date("!%Y-%m-%d %H:%M", t) end

local function die(msg)
  io.stderr:write("bounce replay: ", msg, "\n")
  return 2
end

local function what(d)
  if d.action == "retry" then
    return format("retry at %s (attempt %d)", stamp(d.retry_at), d.attempts)
  elseif d.action == "hold" then
    return format("hold sender until %s", stamp(d.retry_at))
  elseif d.action == "suppress" then
    local why = d.cause == "soft_exhausted"
      and format("%d soft bounces", d.attempts) or d.cause
    return format("suppress %s (%s)",
      d.expires_at and "until " .. day(d.expires_at) or "forever", why)
  end
  return "send"
end

local function outcome(ev, d)
  local kind = d.event
  if d.reason and d.reason ~= "undefined" and d.reason ~= kind
     and not (kind == "sent" or kind == "delivered") then
    kind = kind .. "/" .. d.reason
  end
  if ev.count and ev.count > 1 then kind = kind .. " x" .. ev.count end
  return kind
end

local function parse_args(args)
  local o, i = { files = {} }, 1
  while i <= #args do
    local a = args[i]
    if a == "--policy" or a == "--at" or a == "--db" then
      if not args[i + 1] then return nil, a .. " needs a value" end
      o[a:sub(3)] = args[i + 1]
      i = i + 2
    elseif a == "--json" then
      o.json = true
      i = i + 1
    elseif a:match("^%-%-") then
      return nil, "unknown option " .. a
    else
      o.files[#o.files + 1] = a
      i = i + 1
    end
  end
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

local function suppression_list(t, at)
  local rows = {}
  for rcpt, r in t:suppressions(at) do rows[#rows + 1] = { rcpt, r } end
  sort(rows, function(a, b) return a[1] < b[1] end)
  io.write("\nSuppressed at ", stamp(at), " UTC (", #rows, "):\n")
  for _, row in ipairs(rows) do
    local r = row[2]
    io.write(format("  %-26s %-15s %-13s since %s  %s\n", row[1], r.cause,
      r.reason ~= "undefined" and r.reason or "", day(r.since),
      r.expires_at and "until " .. day(r.expires_at) or "forever"))
  end
end

local function health_table(t, at)
  local p = t:current_policy()
  local h = p.health or {}
  io.write(format("\nHealth over the last %s at %s UTC (levels judged from %d messages up):\n",
    h.window and (h.window % 3600 == 0 and floor(h.window / 3600) .. "h" or h.window .. "s") or "?",
    stamp(at), h.min_sent or 0))
  io.write(format("  %-28s %8s %9s %5s %5s %6s %9s %7s %9s  %s\n", "scope", "messages",
    "delivered", "soft", "hard", "block", "complaint", "hard%", "complaint%", "level"))
  for _, scope in ipairs(t:scopes()) do
    local x = t:health(scope, at)
    io.write(format("  %-28s %8d %9d %5d %5d %6d %9d %6.2f%% %9.2f%%  %s\n", scope, x.messages,
      x.delivered, x.soft, x.hard, x.block, x.complaint, 100 * x.hard_rate,
      100 * x.complaint_rate, x.judged and x.level or "(not judged: too few)"))
  end
end

-- syntax: status = replay.run(args)
function _M.run(args)
  local o, err = parse_args(args or {})
  if not o then return die(err) end
  local ok, cjson = pcall(require, "cjson")
  if not ok then return die("needs lua-cjson (apt-get install lua-cjson)") end
  local t, store
  t, err, store = state.tracker(o)
  if not t then return die(err) end
  local batch = state.batcher(store)
  local file = o.files[1]
  local fh = io.stdin
  if file and file ~= "-" then
    fh, err = io.open(file, "r")
    if not fh then return die(err) end
  end
  if not o.json then
    io.write(format("%-16s  %-26s %-24s %s\n", "WHEN (UTC)", "RECIPIENT", "OUTCOME", "DECISION"))
    io.write(("-"):rep(100), "\n")
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
      elseif ev.delayed == true or ev.action == "delayed" then
        -- a delay notice (from bounce parse): the MTA is still trying, so
        -- nothing failed yet; counting it as a soft bounce would escalate early
        d = false
        if not o.json then
          io.write(format("%-16s  %-26s %-24s %s\n", type(ev.at) == "number" and stamp(ev.at) or "",
            tostring(ev.rcpt), "delayed" .. (type(ev.reason) == "string" and "/" .. ev.reason or ""),
            "nothing yet: a delay notice, the MTA still retries"))
        end
      else
        clean(ev, cjson.null)
        local okb, berr = batch.step()
        if not okb then
          io.stderr:write("bounce replay: store: ", tostring(berr), "\n")
          return 1
        end
        local okr, r, e = pcall(t.record, t, ev)
        if not okr then derr = tostring(r):gsub("^.-:%d+: ", "") else d, derr = r, e end
      end
      if d == false then   -- luacheck: ignore 542
        -- reported above, not counted
      elseif not d then
        bad = bad + 1
        io.stderr:write(format("%s:%d: %s\n", (file and file ~= "-") and file or "stdin", n, derr))
      else
        if not last or d.at > last then last = d.at end
        if o.json then
          io.write(json.encode(d), "\n")
        else
          io.write(format("%-16s  %-26s %-24s %s\n", stamp(d.at), d.rcpt, outcome(ev, d), what(d)))
        end
      end
    end
  end
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
