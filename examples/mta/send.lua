#!/usr/bin/env lua5.4
-- examples/mta/send.lua: an MTA-like host in a page. Sends one message to
-- each recipient through an SMTP server, lets bounce decide what each reply
-- means, and retries by the policy until every recipient is delivered,
-- suppressed, or still held when --until runs out.
--
--   lua5.4 examples/mta/send.lua --port 2525 --from news@example.com \
--     --subject "hello" ann@example.org bob@example.org < body.txt
--
-- Options: --host H (127.0.0.1), --port N (25), --helo NAME (localhost),
-- --from ADDR (required), --subject TEXT, --policy FILE (the built-in
-- defaults), --until SECONDS (how long to keep retrying, default 3600),
-- --simulate (move a fake clock to each retry time instead of sleeping: to
-- watch a policy play out against a test server in a few seconds).
-- The body is read from stdin. One line is printed per recipient and try:
--   +600s  grey@example.org  retry  450 onhold soft  -> next try +1200s
-- The history is kept in memory for the run; a real host hands the tracker
-- a durable store (see bounce.store).
--
-- Run from the repository after `make` (it finds ./lua and ./build), or with
-- bounce installed.

do
  local root = ((arg and arg[0] or ""):match("^(.*)/[^/]+$") or ".") .. "/../.."
  package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. package.path
  package.cpath = root .. "/build/?.so;" .. package.cpath
end

local bounce = require("bounce")
local mta = require("bounce.mta")
local socket = require("socket")

local function usage(msg)
  io.stderr:write((msg and msg .. "\n" or "") ..
    "usage: send.lua --from ADDR [--host H] [--port N] [--helo NAME] [--subject TEXT]\n" ..
    "                [--policy FILE] [--until SECONDS] [--simulate] RCPT... < body\n")
  os.exit(2)
end

local opts = { host = "127.0.0.1", port = 25, helo = "localhost", subject = "(no subject)", ["until"] = 3600 }
local rcpts = {}
local i = 1
while i <= #arg do
  local a = arg[i]
  local key = a:match("^%-%-(.+)$")
  if key == "simulate" then
    opts.simulate = true
  elseif key == "help" then
    usage()
  elseif key then
    if opts[key] == nil and key ~= "from" and key ~= "policy" then usage("unknown option --" .. key) end
    i = i + 1
    if arg[i] == nil then usage("--" .. key .. " needs a value") end
    opts[key] = arg[i]
  else
    rcpts[#rcpts + 1] = a
  end
  i = i + 1
end
if not opts.from or #rcpts == 0 then usage() end
local port, horizon = tonumber(opts.port), tonumber(opts["until"])
if not port or not horizon then usage("--port and --until take numbers") end

-- The clock: real time, or a fake one that jumps to the next retry.
local start = os.time()
local now = start
local function clock()
  if opts.simulate then return now end
  return os.time()
end

local tracker, terr = bounce.tracker{ policy = opts.policy, clock = clock }
if not tracker then
  io.stderr:write("send.lua: ", terr, "\n")
  os.exit(1)
end

local queue = mta.new{ tracker = tracker, host = opts.host, port = port, helo = opts.helo,
                       clock = clock, timeout = 30 }
local body = io.read("*a")
local message = "From: " .. opts.from .. "\r\nTo: undisclosed-recipients:;\r\nSubject: " .. opts.subject
  .. "\r\nDate: " .. os.date("!%a, %d %b %Y %H:%M:%S +0000") .. "\r\n\r\n" .. body
local id, err = queue:add{ from = opts.from, to = rcpts, data = message }
if not id then
  io.stderr:write("send.lua: ", err, "\n")
  os.exit(1)
end

local function rel(t) return string.format("+%ds", t - start) end

while true do
  local report = queue:run()
  for _, r in ipairs(report.results) do
    local line = { rel(report.at), r.rcpt, r.outcome }
    if r.code then line[#line + 1] = tostring(r.code) end
    if r.reason then line[#line + 1] = r.reason .. " " .. r.type end
    if r.retry_at then line[#line + 1] = "-> next try " .. rel(r.retry_at) end
    if r.why and r.outcome == "skipped" then line[#line + 1] = "(" .. r.why .. ")" end
    if r.error then line[#line + 1] = "(" .. r.error .. ")" end
    print(table.concat(line, "  "))
  end
  local due = queue:next_due()
  if not due then break end
  if due > start + horizon then
    print(string.format("%d recipient(s) still queued, next try %s: past --until", queue:pending(), rel(due)))
    break
  end
  if opts.simulate then
    now = due
  else
    socket.sleep(math.max(0, due - os.time()))
  end
end
