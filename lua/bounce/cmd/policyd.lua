-- bounce policyd: the Postfix policy service (bounce.policyd) from the
-- command line: opens the history, checks that it answers, listens, serves.

local cli = require("bounce.cli")
local url = require("bounce.store.url")

local io, os, pairs, pcall, tonumber, tostring, require = io, os, pairs, pcall, tonumber, tostring, require
local format = string.format

local _M = { _VERSION = require("bounce.core")._VERSION }

_M.help = [=[
usage: bounce policyd (--db FILE | --store URL) [--listen 127.0.0.1:10040]
                      [--policy FILE] [--on-error defer|dunno] [--check]

A Postfix policy service: Postfix asks it at RCPT TO whether mail may go to
a recipient, and it answers from the bounce history that bounce intake,
bounce serve and the other commands keep. In main.cf:

  smtpd_recipient_restrictions = check_policy_service inet:127.0.0.1:10040,
      permit_mynetworks, reject_unauth_destination

Answers: a suppressed recipient is refused, 550 5.1.1 after a hard bounce
(5.1.2 for a dead domain), 550 5.7.1 for the other causes (soft bounces
that did not stop, complaints, unsubscribes, by hand), with the why; a
sender at health stop is deferred, 450 4.7.1; anything else is DUNNO (the
next restriction decides). One process serves every Postfix connection
(socket.select); each request is one read of the history.

  --db FILE            the history: a SQLite file (or $BOUNCE_DB). It must
                       exist: a missing file is an error, not an empty history
  --store URL          sqlite:PATH or redis://[[USER]:PASSWORD@]HOST:PORT
                       [/PREFIX][?db=N], as bounce serve reads it (the
                       password may come from BOUNCE_REDIS_PASSWORD)
  --create             create the SQLite file when it does not exist
  --listen HOST:PORT   where to listen (default 127.0.0.1:10040; port 0
                       picks a free one). The protocol has no
                       authentication: keep it on loopback or firewall it
  --policy FILE        the policy (retention decides when suppressions end)
  --on-error WHAT      when the history cannot be read: defer (default:
                       451 4.3.0, the client retries) or dunno (let the mail
                       through)
  --check              open the history, check that it answers, and exit
  --max-connections N  connections served at once (default 500, at most
                       1000); more are closed at once
  --idle-timeout S     close a connection silent for S seconds (default 600)
  --redis-timeout MS   per Redis operation (default 1000)
  --busy-timeout MS    how long a SQLite read waits for a lock (default 5000)
  --reuseport          let several bounce policyd listen on one port (the
                       kernel spreads connections over them)
  --quiet              log errors only, not each refusal

Logs go to stderr. Exit status: 2 when it cannot start (bad option, missing
or unreadable history, port taken); 0 after --check when all is well.
]=]

local VALUE = { db = true, store = true, listen = true, policy = true, ["on-error"] = true,
                ["max-connections"] = true, ["idle-timeout"] = true, ["redis-timeout"] = true,
                ["busy-timeout"] = true }
local FLAG = { create = true, check = true, reuseport = true, quiet = true }

local function die(msg)
  io.stderr:write("bounce policyd: ", msg, "\n")
  return 2
end

local function number(o, name, lo, hi)
  local v = o[name]
  if v == nil then return true end
  local n = tonumber(v)
  if not n or n % 1 ~= 0 or n < lo or n > hi then
    return nil, format("--%s: an integer %d..%d expected, got '%s'", name, lo, hi, tostring(v))
  end
  o[name] = n
  return true
end

-- HOST:PORT, :PORT or PORT; nil, err otherwise.
local function listen_addr(s)
  local host, port = s:match("^([%w%.%-]*):(%d+)$")
  if not host then host, port = "", s:match("^(%d+)$") end
  port = tonumber(port)
  if not port or port > 65535 then return nil, "--listen: HOST:PORT expected, got '" .. s .. "'" end
  if host == "" then host = "127.0.0.1" end
  if host == "localhost" then host = "127.0.0.1" end
  return host, port
end

local function options(args)
  local o, pos = cli.parse_args(args, VALUE)
  if not o then return nil, pos end
  if #pos > 0 then return nil, "unexpected argument '" .. pos[1] .. "'" end
  for k, v in pairs(o) do
    if not VALUE[k] and not FLAG[k] then return nil, "unknown option --" .. k end
    if VALUE[k] and v == true then return nil, "--" .. k .. " needs a value" end
  end
  if o.db and o.store then return nil, "--db and --store name the same thing: give one" end
  o.spec = o.store or o.db or os.getenv("BOUNCE_DB")
  if not o.spec or o.spec == "" then
    return nil, "where is the history? --db FILE or --store URL (or BOUNCE_DB)"
  end
  o["on-error"] = o["on-error"] or "defer"
  if o["on-error"] ~= "defer" and o["on-error"] ~= "dunno" then
    return nil, "--on-error: defer or dunno expected, got '" .. o["on-error"] .. "'"
  end
  local ok, err = number(o, "max-connections", 1, 1000)
  if ok then ok, err = number(o, "idle-timeout", 1, 86400) end
  if ok then ok, err = number(o, "redis-timeout", 1, 60000) end
  if ok then ok, err = number(o, "busy-timeout", 0, 600000) end
  if not ok then return nil, err end
  local host, port = listen_addr(o.listen or "127.0.0.1:10040")
  if not host then return nil, port end
  o.host, o.port = host, port
  return o
end

-- The history answers a read (a missing key is an answer; a failure is not).
local function probe(store)
  local ok, v, err = pcall(store.get, store, "probe@bounce.invalid")
  if not ok then return nil, tostring(v) end
  if v == nil and err ~= nil then return nil, tostring(err) end
  return true
end

-- syntax: status = policyd.run(args)
function _M.run(args)
  local o, err = options(args)
  if not o then return die(err) end
  local password = os.getenv("BOUNCE_REDIS_PASSWORD")
  if password == "" then return die("BOUNCE_REDIS_PASSWORD is set but empty") end
  local store, serr, shown = url.open(o.spec, {
    create = o.create, timeout = (o["redis-timeout"] or 1000) / 1000,
    busy_timeout = o["busy-timeout"], redis_password = password,
  })
  if not store then return die(serr) end
  local ok, perr = probe(store)
  if not ok then return die(shown .. ": " .. perr) end
  local t, terr = require("bounce").tracker{ policy = o.policy, store = store }
  if not t then return die(terr) end
  if o.check then
    io.stdout:write("bounce policyd: ", shown, ": the history answers\n")
    return 0
  end
  local policyd = require("bounce.policyd")
  local srv, lerr = policyd.listen{
    tracker = t, host = o.host, port = o.port, on_error = o["on-error"], quiet = o.quiet,
    max_connections = o["max-connections"], idle_timeout = o["idle-timeout"],
    reuseport = o.reuseport,
  }
  if not srv then return die(lerr) end
  if not o.host:match("^127%.") then
    io.stderr:write("bounce policyd: warning: listening on ", o.host,
                    ": the policy protocol has no authentication; keep it behind a firewall\n")
  end
  io.stderr:write(format("bounce policyd %s: listening on %s:%d (history %s, on error %s)\n",
    policyd._VERSION, o.host, srv:port(), shown, o["on-error"]))
  io.stderr:flush()
  srv:run()
  return 0
end

return _M
