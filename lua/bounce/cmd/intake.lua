-- bounce intake: one message on stdin, as Postfix's pipe transport hands
-- it, into the history. The exit status is what Postfix acts on
-- (sysexits.h): 0 recorded (or nothing to record), 75 EX_TEMPFAIL keeps
-- the message in Postfix's queue to try again, 64 EX_USAGE and 65
-- EX_DATAERR return it as undeliverable.

local bounce = require("bounce")
local cli = require("bounce.cli")
local json = require("bounce.json")
local url = require("bounce.store.url")

local io, os, ipairs, pairs, pcall, tostring, type, require =
  io, os, ipairs, pairs, pcall, tostring, type, require
local format, find, sub, gsub = string.format, string.find, string.sub, string.gsub

local _M = { _VERSION = require("bounce.core")._VERSION }

local EX_OK, EX_USAGE, EX_DATAERR, EX_TEMPFAIL = 0, 64, 65, 75
_M.EX_OK, _M.EX_USAGE, _M.EX_DATAERR, _M.EX_TEMPFAIL = EX_OK, EX_USAGE, EX_DATAERR, EX_TEMPFAIL

-- bounce.parse's own bound on a message
local MAX_MESSAGE = 64 * 1024 * 1024

_M.help = [=[
usage: bounce intake (--db FILE | --store URL) [--verp PREFIX [--to ADDR]]
                     [--policy FILE] [--campaign HEADER] [--create] [--quiet]

Reads one message on stdin (a bounce: a DSN, a complaint, an auto-reply, any
format bounce parse reads) and records what it reports in the history:
failed recipients as bounces (hard, soft or block by their reason),
complaints, deliveries; delay notices are not counted (the MTA is still
retrying, nothing has failed yet), as in bounce replay. Made for Postfix's
pipe transport, in master.cf:

  bounce-intake unix - n n - - pipe flags=q user=bounce
    argv=/usr/local/bin/bounce intake --db /var/lib/bounce/bounce.db
         --verp bounces+ --to ${original_recipient}

  --db FILE        the history: a SQLite file (or $BOUNCE_DB); it must exist
  --store URL      sqlite:PATH or redis://[[USER]:PASSWORD@]HOST:PORT[/PREFIX]
                   [?db=N], as bounce serve reads it (the password may come
                   from BOUNCE_REDIS_PASSWORD)
  --create         create the SQLite file when it does not exist
  --verp PREFIX    return paths are VERP addresses (bounces+ann=example.org@
                   mail.example.com for ann@example.org): record the
                   recipient the address the bounce came back to names, the
                   one the mail was sent to, even when the bounce names a
                   forward or nothing readable
  --to ADDR        the address the message was delivered to (Postfix:
                   ${original_recipient}); with --verp, the recipient it
                   names wins over what the message's headers say
  --policy FILE    the policy (what a bounce does to the address)
  --campaign NAME  the original message's header naming its campaign
                   (health is counted by campaign)
  --quiet          print nothing on success (otherwise one JSON line per
                   decision on stdout)

Exit status (sysexits.h, which Postfix's pipe reads):
  0   recorded, or nothing to record (not a bounce, a delay notice)
  75  the history failed (store down, file missing, policy broken): Postfix
      keeps the message and delivers it again later; nothing was recorded
      from it (on SQLite; Redis has no transaction: a retry may count what
      was recorded before the failure again)
  64  a usage error (an unknown option)
  65  the message cannot be read (empty, over 64 MiB, or every recipient it
      names is not an address)
]=]

local VALUE = { db = true, store = true, verp = true, to = true, policy = true, campaign = true }
local FLAG = { create = true, quiet = true }

local function say(msg)
  io.stderr:write("bounce intake: ", msg, "\n")
end

local function fail(code, msg)
  say(msg)
  return code
end

local function options(args)
  local o, pos = cli.parse_args(args, VALUE)
  if not o then return nil, pos end
  if #pos > 0 then return nil, "unexpected argument '" .. pos[1] .. "' (the message comes on stdin)" end
  for k, v in pairs(o) do
    if not VALUE[k] and not FLAG[k] then return nil, "unknown option --" .. k end
    if VALUE[k] and v == true then return nil, "--" .. k .. " needs a value" end
  end
  if o.db and o.store then return nil, "--db and --store name the same thing: give one" end
  o.spec = o.store or o.db or os.getenv("BOUNCE_DB")
  if not o.spec or o.spec == "" then
    return nil, "where is the history? --db FILE or --store URL (or BOUNCE_DB)"
  end
  if o.verp then
    local why = bounce.verp.prefix_error(o.verp)
    if why then return nil, "--verp: " .. why end
  end
  if o.to and not o.verp then return nil, "--to names a VERP address: give --verp PREFIX too" end
  return o
end

-- All of stdin, up to the bound; nil, err on a read error; false when over.
local function read_message(fh)
  local parts, n = {}, 0
  while true do
    local ok, chunk, err = pcall(fh.read, fh, 65536)
    if not ok then return nil, tostring(chunk) end
    if chunk == nil then
      if err then return nil, tostring(err) end
      break
    end
    n = n + #chunk
    if n > MAX_MESSAGE then return false end
    parts[#parts + 1] = chunk
  end
  local msg = table.concat(parts)
  -- pipe's flags=F puts an mbox "From " line first: not a header
  if sub(msg, 1, 5) == "From " then msg = gsub(msg, "^[^\n]*\n", "", 1) end
  return msg
end

local function sender_of(from)
  if type(from) ~= "string" then return nil end
  return from:match("<%s*([^<>%s]+@[^<>%s]+)%s*>") or from:match("([^%s<>\"(),;:]+@[^%s<>\"(),;:]+)")
end

-- The events a message reports, and what was left out (and why).
local function events_of(results, o, verp_to)
  local tracked = require("bounce.tracker").events
  local events, skipped = {}, {}
  for _, x in ipairs(results) do
    local rcpt = verp_to or x.verp_rcpt or x.rcpt
    if x.delayed or x.action == "delayed" then
      skipped[#skipped + 1] = format("%s: a delay notice, the MTA still retries", tostring(rcpt))
    elseif not rcpt then
      skipped[#skipped + 1] = "a result with no recipient"
    elseif not tracked[x.type] then
      skipped[#skipped + 1] = format("%s: not a tracked outcome (%s)", rcpt, tostring(x.type))
    else
      events[#events + 1] = {
        rcpt = rcpt, type = x.type, reason = x.reason, permanent = x.permanent, at = x.at,
        sender = sender_of(x.from), campaign = o.campaign and x.headers and x.headers[o.campaign] or nil,
      }
    end
  end
  return events, skipped
end

-- Records events in one transaction where the store has them, their
-- health counts included. Returns the decisions and the events refused as
-- bad data, or nil, err on a store failure (the transaction rolled back).
local function record_all(t, store, events)
  local batch = type(store.begin) == "function" and type(store.commit) == "function"
  if batch then
    local ok, err = store:begin()
    if not ok then return nil, "store: " .. tostring(err) end
  end
  local decisions, bad = {}, {}
  for _, ev in ipairs(events) do
    local ok, d, err = pcall(t.record, t, ev)
    if not ok then d, err = nil, gsub(tostring(d), "^.-:%d+: ", "") end
    if d then
      decisions[#decisions + 1] = d
    elseif find(tostring(err), "^store:") or find(tostring(err), "^corrupt record") then
      if batch then store:rollback() end
      return nil, err
    else
      bad[#bad + 1] = ev.rcpt .. ": " .. tostring(err)
    end
  end
  -- the health counts (a store that shares them, for bounce policyd): in
  -- the same transaction, so a failure leaves nothing recorded
  local fok, ferr = t:flush()
  if not fok then
    if batch then store:rollback() end
    return nil, ferr
  end
  if batch then
    local ok, err = store:commit()
    if not ok then
      store:rollback()
      return nil, "store: " .. tostring(err)
    end
  end
  return decisions, bad
end

-- syntax: status = intake.run(args [, stdin])
function _M.run(args, stdin)
  local o, err = options(args or {})
  if not o then return fail(EX_USAGE, err .. " (bounce intake --help)") end
  local password = os.getenv("BOUNCE_REDIS_PASSWORD")
  if password == "" then return fail(EX_TEMPFAIL, "BOUNCE_REDIS_PASSWORD is set but empty") end
  local msg, rerr = read_message(stdin or io.stdin)
  if msg == false then return fail(EX_DATAERR, "message over 64 MiB: not read") end
  if not msg then return fail(EX_TEMPFAIL, "stdin: " .. rerr) end
  -- the history first: a missing or failing one keeps the message queued
  local store, serr = url.open(o.spec, { create = o.create, redis_password = password })
  if not store then return fail(EX_TEMPFAIL, serr) end
  local t, terr = bounce.tracker{ policy = o.policy, store = store }
  if not t then return fail(EX_TEMPFAIL, terr) end
  local popts = { verp = o.verp, headers = o.campaign and { o.campaign } or nil }
  local results, perr = bounce.parse(msg, popts)
  if not results then
    if find(perr, "^not a bounce") then
      if not o.quiet then say(perr .. ": nothing recorded") end
      return EX_OK
    end
    return fail(EX_DATAERR, perr)
  end
  local verp_to = o.to and bounce.verp.decode(o.to, o.verp) or nil
  local events, skipped = events_of(results, o, verp_to)
  for _, why in ipairs(skipped) do
    if not o.quiet then say("not recorded: " .. why) end
  end
  if #events == 0 then return EX_OK end
  local decisions, bad = record_all(t, store, events)
  if not decisions then
    return fail(EX_TEMPFAIL, tostring(bad) .. " (nothing recorded from this message; Postfix will retry)")
  end
  for _, why in ipairs(bad) do say("not recorded: " .. why) end
  if not o.quiet then
    for _, d in ipairs(decisions) do
      io.stdout:write(json.encode({ rcpt = d.rcpt, event = d.event, reason = d.reason, action = d.action,
                                    state = d.state, cause = d.cause }), "\n")
    end
  end
  if #decisions == 0 then return EX_DATAERR end
  return EX_OK
end

return _M
