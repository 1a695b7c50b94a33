-- bounce check: the pre-send question for addresses, from the command line.

local cli = require("bounce.cli")
local json = require("bounce.json")
local state = require("bounce.state")

local io, ipairs, pcall, tonumber, tostring, format =
  io, ipairs, pcall, tonumber, tostring, string.format

local _M = { _VERSION = require("bounce.core")._VERSION }

_M.help = [[
usage: bounce check ADDR... [--db FILE] [--policy FILE] [--at TIME]
                            [--sender ADDR] [--campaign NAME] [--json]
       bounce check - [...]          (one address per line from stdin)

Says whether mail may go to each address, and why not: "allowed",
"suppressed" or "dead_domain" (a hostunknown bounce marked the address's
domain dead: every address there is refused until a delivery to one of
them, bounce serve's DELETE /suppressions/DOMAIN or retention.domain),
then the reason ("suppressed since 2026-11-20: hard bounce (userunknown)",
"dead domain example.net since 2026-11-20 until 2026-12-20: no such
domain (hostunknown)"). With --sender or --campaign, the health of that
sender or campaign is asked too: at level stop the answer is "stopped"
(not allowed), at throttle "throttle" (allowed, slowly), with the scope's
rates.

  --db FILE       the history: a SQLite file, ./bounce.db by default (or
                  $BOUNCE_DB). It must exist: check never creates one, so a
                  hook run from the wrong folder, or a mistyped name, fails
                  instead of finding every address allowed
  --policy FILE   the policy (retention decides when suppressions end)
  --at TIME       unix time to ask about (default now)
  --sender ADDR   the sender (the health label events were recorded with)
  --campaign NAME the campaign, likewise. Health counts live in the process
                  that recorded the events (bounce serve, the policy
                  service); the history file keeps none, so here a scope is
                  judged only from what this process recorded: nothing, when
                  run on its own
  --json          one JSON object per address: rcpt, allowed, why (and
                  level: "stop" or "throttle" when a scope is there)

Exit status: 0 when every address is allowed, 1 when one is refused
(suppressed, at a dead domain, or stopped),
2 on an error (no address given, an invalid address, a missing or
unreadable history).
]]

local function die(msg)
  io.stderr:write("bounce check: ", msg, "\n")
  return 2
end

-- syntax: status = check.run(args [, tracker])
-- tracker: ask it instead of opening the history (a host that embeds the
-- command, with the health its own events built).
function _M.run(args, tracker)
  local o, pos = cli.parse_args(args, { db = true, policy = true, at = true, sender = true,
                                        campaign = true }, { json = true })
  if not o then return die(pos .. " (bounce check --help)") end
  if o.help then io.write(_M.help) return 0 end
  if #pos == 0 then return die("no address given (bounce check ADDR..., or - for stdin)") end
  local at = o.at and tonumber(o.at)
  if o.at and not at then return die("--at expects unix seconds, got '" .. tostring(o.at) .. "'") end
  for _, k in ipairs({ "sender", "campaign" }) do
    if o[k] == true or o[k] == "" then return die("--" .. k .. " expects a name") end
  end
  local scopes = (o.sender or o.campaign) and { sender = o.sender, campaign = o.campaign, at = at }
  o.command = "check"
  local t, err = tracker, nil
  if not t then t, err = state.tracker(o) end
  if not t then return die(err) end
  local from_stdin = #pos == 1 and pos[1] == "-"
  local width = 32
  if not from_stdin then
    for _, a in ipairs(pos) do if #a > width then width = #a end end
  end
  local status = 0
  local function one(addr)
    addr = addr:match("^%s*(.-)%s*$")
    if addr == "" then return end
    local ok, allowed, why, level = pcall(t.check, t, addr, scopes or at)
    if not ok then allowed, why = nil, tostring(allowed) end
    if allowed == nil then
      io.stderr:write("bounce check: ", addr, ": ", tostring(why), "\n")
      status = 2
      return
    end
    if not allowed and status == 0 then status = 1 end
    if o.json then
      io.write(json.encode({ rcpt = (state.normalize(addr)), allowed = allowed, why = why,
                             level = level }), "\n")
    else
      -- "stopped": refused by a scope's health, not by the address's record
      local word = level == "stop" and "stopped" or level == "throttle" and "throttle"
        or allowed and "allowed" or why:find("^dead domain ") and "dead_domain" or "suppressed"
      io.write(format("%s %-10s %s\n", cli.pad(addr, width), word, why))
    end
  end
  if from_stdin then
    for line in io.stdin:lines() do one(line) end
  else
    for _, a in ipairs(pos) do one(a) end
  end
  return status
end

return _M
