-- bounce.verify: should mail go to this address at all? Syntax, the
-- domain's mail servers, the bounce history, and (opt-in) an SMTP probe.
--
--   local verify = require("bounce.verify")
--   local r = verify.verify("ann@example.org", { tracker = t, smtp = true,
--     helo = "verify.example.com", from = "postmaster@example.com" })
--   -- r.verdict: "valid" | "invalid" | "risky" | "unknown"; r.why; r.syntax,
--   -- r.domain, r.mx, r.history, r.smtp, r.catch_all
--   local v = verify.new{ dns = "127.0.0.1:53" }     -- a verifier keeps its caches
--   local list = v:many(addresses)                   -- in parallel, results in order
--
-- The checks, in order, each able to settle the verdict:
--   syntax   "ok" | "invalid"    RFC 5321/5322 (bounce.core.mailbox): invalid
--   history  "clean" | "suppressed" | "dead_domain" | "error" (nil: no
--            tracker): t:check refuses (the address is suppressed, or a
--            hostunknown bounce marked its domain dead) -> invalid, with
--            the history's why
--   domain   "ok" | "nxdomain" | "null_mx" | "no_address" | "servfail" |
--            "timeout" | "literal": nxdomain, null_mx, no_address -> invalid;
--            servfail, timeout -> unknown (never invalid); literal -> risky
--   smtp     "accepted" | "hard" | "block" | "soft" | "failed" | "skipped"
--            (nil: not asked): hard -> invalid; block, soft, failed,
--            skipped -> unknown; accepted -> valid, unless
--   catch_all true: a random local part was accepted too -> risky
-- then the user's lists: a disposable domain or a role account turns valid
-- into risky. Without the probe, valid means the address is well formed,
-- its domain takes mail and nothing in the history refuses it; the mailbox
-- itself was not asked.
--
-- Errors: caller mistakes raise (`bad argument #2 to 'verify' (...)`); no
-- resolver (no /etc/resolv.conf and no dns option) is nil, message; all
-- else is in the result (a verdict, with why).

local bounce = require("bounce")
local core = require("bounce.core")
local dns = require("bounce.dns")
local net = require("bounce.net")
local probe = require("bounce.probe")

local type, error, tostring, ipairs, pairs, setmetatable, pcall, require =
  type, error, tostring, ipairs, pairs, setmetatable, pcall, require
local random = math.random
local sfind, smatch, slower, ssub, sgsub = string.find, string.match, string.lower, string.sub, string.gsub
local concat = table.concat
local io_open = io.open

local mailbox, classify = core.mailbox, bounce.classify

local _M = { _VERSION = core._VERSION }

local DEFAULTS = {
  smtp = false, smtp_port = 25, smtp_timeout = 10, rate = 10, rate_wait = 60, catch_all = true,
  catch_all_ttl = 3600, max_mx = 3, concurrency = 32,
}

local function argerr(n, fname, msg, level)
  error("bad argument #" .. n .. " to '" .. fname .. "' (" .. msg .. ")", level or 3)
end

------------------------------------------------------------------------------
-- The user's lists
------------------------------------------------------------------------------

local list_cache = setmetatable({}, { __mode = "k" })   -- table -> set
local file_cache = {}                                  -- path -> set

-- A set of lower-cased names from a list, a set or a file (one name per
-- line, '#' starts a comment). Returns the set, or nil, err for a file.
local function load_list(v, what)
  if type(v) == "table" then
    local s = list_cache[v]
    if s then return s end
    s = {}
    for k, x in pairs(v) do
      local name = type(k) == "number" and x or (x and k)
      if type(name) == "string" then s[slower(name)] = true end
    end
    list_cache[v] = s
    return s
  end
  local s = file_cache[v]
  if s then return s end
  local f, err = io_open(v, "r")
  if not f then return nil, what .. ": " .. tostring(err) end
  s = {}
  for line in f:lines() do
    local name = smatch(sgsub(line, "#.*$", ""), "^%s*(%S+)")
    if name then s[slower(name)] = true end
  end
  f:close()
  file_cache[v] = s
  return s
end

-- Whether domain or one of its parents is in the set.
local function domain_in(set, domain)
  local d = domain
  while d do
    if set[d] then return true end
    d = smatch(d, "^[^%.]+%.(.+)$")
  end
  return false
end

------------------------------------------------------------------------------
-- Options
------------------------------------------------------------------------------

local TYPES = {
  dns = "string|table", resolver = "table", dns_timeout = "number", dns_retries = "number",
  tracker = "table", at = "number", smtp = "boolean", helo = "string", from = "string",
  smtp_port = "number", smtp_timeout = "number", rate = "number", rate_wait = "number",
  catch_all = "boolean", catch_all_ttl = "number", max_mx = "number", concurrency = "number",
  disposable = "string|table", roles = "string|table", probe_address = "string",
}

local function check_opts(o, n, fname)
  if o == nil then return {} end
  if type(o) ~= "table" then argerr(n, fname, "table expected, got " .. type(o), 4) end
  for k, v in pairs(o) do
    local want = TYPES[k]
    if not want then argerr(n, fname, "unknown option '" .. tostring(k) .. "'", 4) end
    if not sfind("|" .. want .. "|", "|" .. type(v) .. "|", 1, true) then
      argerr(n, fname, "field '" .. k .. "': " .. want .. " expected, got " .. type(v), 4)
    end
  end
  if o.tracker and type(o.tracker.check) ~= "function" then
    argerr(n, fname, "field 'tracker': a bounce.tracker expected", 4)
  end
  return o
end

-- The host name a prober calls itself by, unless opts.helo says: the
-- kernel's, then LuaSocket's.
local hostname
local function default_helo()
  if hostname then return hostname end
  local f = io_open("/proc/sys/kernel/hostname", "r")
  if f then
    hostname = smatch(f:read("*l") or "", "^%s*([%w%.%-]+)%s*$")
    f:close()
  end
  if not hostname and not net.cosockets then
    local ok, socket = pcall(require, "socket")
    if ok and socket.dns then hostname = socket.dns.gethostname() end
  end
  hostname = hostname or "localhost"
  return hostname
end

------------------------------------------------------------------------------
-- The verifier
------------------------------------------------------------------------------

local V = {}
V.__index = V

-- syntax: v, err = verify.new([opts])   -- opts: as verify.verify's
-- The resolver (and its TTL cache), the catch-all answers per domain and
-- the probes' rate per domain live in v.
function _M.new(opts)
  opts = check_opts(opts, 1, "new")
  local r = opts.resolver
  if not r then
    local err
    r, err = dns.new{ servers = opts.dns, timeout = opts.dns_timeout, retries = opts.dns_retries }
    if not r then return nil, err end
  end
  return setmetatable({ opts = opts, resolver = r, catch_all = {}, next_slot = {} }, V)
end

-- Options of one call: the call's, then the verifier's, then the defaults.
local function settings(self, o)
  return setmetatable({}, { __index = function(_, k)
    local v = o[k]
    if v == nil then v = self.opts[k] end
    if v == nil then v = DEFAULTS[k] end
    return v
  end })
end

-- The history: t:check of the address (the tracker keys an IDN domain by
-- its A-labels whichever form comes, and still finds a record an older
-- version kept under the Unicode form).
local function history(c, r)
  local t = c.tracker
  if not t then return end
  local allowed, why = t:check(r.addr, c.at)
  if allowed == nil then
    r.history = "error"
    r.history_error = tostring(why)
    return
  end
  if allowed == false then
    -- t:check's why for an address at a dead domain (bounce.tracker)
    r.history = sfind(why, "^dead domain ") and "dead_domain" or "suppressed"
    r.verdict, r.why = "invalid", why
    return true
  end
  r.history = "clean"
end

-- Waits for this domain's next probe slot: probes to one domain are at
-- least 60 / rate seconds apart. Returns true, or false when the wait would
-- pass rate_wait.
local function take_slot(self, c, domain)
  local now = net.now()
  local slot = self.next_slot[domain] or now
  if slot < now then slot = now end
  if slot - now > c.rate_wait then return false end
  self.next_slot[domain] = slot + 60 / c.rate
  if slot > now then net.sleep(slot - now) end
  return true
end

local HEX = "0123456789abcdef"
local function random_local()
  local t = {}
  for i = 1, 12 do
    local k = random(1, 16)
    t[i] = ssub(HEX, k, k)
  end
  return "bounce-probe-" .. concat(t)
end

-- Reads an RCPT reply: its kind for r.smtp.
local function rcpt_kind(reply, host)
  if reply.code >= 200 and reply.code < 300 then return "accepted", nil end
  local k = classify(reply.text, { command = "RCPT", rhost = host })
  if not k then return "soft", nil end
  if k.type == "hard" then return "hard", k end
  if k.type == "block" then return "block", k end
  return "soft", k
end

local function one_line(text) return (sgsub(text or "", "%s*\n%s*", " ")) end

-- One probe session: to the MX hosts in order of preference (at most
-- max_mx, those with an address) until one holds a session. Returns the
-- probe's result and the host, or nil and why.
local function run_probe(c, r, m, rcpts, domain)
  local helo = c.helo or default_helo()
  local err
  for i = 1, #m.hosts do
    if i > c.max_mx then break end
    local h = m.hosts[i]
    if h.addresses and h.addresses[1] then
      local res
      res, err = probe.run{ address = h.addresses[1], port = c.smtp_port, host = h.host, helo = helo,
        from = c.from or ("postmaster@" .. helo), rcpts = rcpts, timeout = c.smtp_timeout,
        smtputf8 = r.smtputf8 }
      if res then return res, h.host end
    end
  end
  return nil, tostring(err or ("SMTP: no MX host of " .. domain .. " has an address"))
end

-- A session that ended before RCPT (a refused greeting, EHLO or MAIL FROM,
-- no SMTPUTF8): the prober or the server is the matter, not the address.
local function stopped_early(r, res, host)
  local kind = "failed"
  if res.code then
    local k = classify(res.text, { command = res.stage == "mail" and "MAIL" or "CONNECT", rhost = host })
    kind = (k and k.type == "block") and "block" or (res.code >= 400 and res.code < 500) and "soft" or "failed"
    r.smtp_reply = one_line(res.text)
  end
  r.smtp, r.verdict = kind, "unknown"
  r.why = "SMTP: " .. host .. " stopped the probe at " .. res.stage .. ": " .. one_line(res.text)
    .. (kind == "block" and " (the prober is refused, not the address)" or "")
end

-- The answer to the random address, kept per domain for catch_all_ttl
-- when it says something (accepted, or refused as unknown).
local function learn_catch_all(self, c, res, host, domain)
  local second = res.rcpt[2]
  if not second then return nil end
  local kind = rcpt_kind(second, host)
  if kind ~= "accepted" and kind ~= "hard" then return nil end
  local known = { value = kind == "accepted", expires = net.now() + c.catch_all_ttl }
  self.catch_all[domain] = known
  return known
end

-- The SMTP probe of r (its MX hosts known): sets r.smtp, r.smtp_reply,
-- r.smtp_host, r.catch_all and the verdict.
local function smtp_check(self, c, r, m, domain)
  local known = self.catch_all[domain]
  if known and known.expires <= net.now() then self.catch_all[domain], known = nil, nil end
  if not take_slot(self, c, domain) then
    r.smtp, r.verdict = "skipped", "unknown"
    r.why = "SMTP: not probed: " .. domain .. " was probed " .. c.rate .. " times a minute already (rate)"
    return
  end
  local rcpts = { r.addr }
  if c.catch_all and not known then rcpts[2] = random_local() .. "@" .. domain end
  local res, host = run_probe(c, r, m, rcpts, domain)
  if not res then
    r.smtp, r.verdict, r.why = "failed", "unknown", host
    return
  end
  r.smtp_host = host
  if res.stage ~= "rcpt" then return stopped_early(r, res, host) end
  local kind, k = rcpt_kind(res.rcpt[1], host)
  r.smtp, r.smtp_reply = kind, one_line(res.rcpt[1].text)
  local said = "SMTP: " .. host
  if kind == "hard" then
    r.verdict, r.why = "invalid", said .. " refused the mailbox: " .. r.smtp_reply .. " (" .. k.reason .. ")"
  elseif kind == "block" then
    r.verdict, r.why = "unknown", said .. " refused the prober, not the address: " .. r.smtp_reply
      .. " (" .. k.reason .. ")"
  elseif kind == "soft" then
    r.verdict, r.why = "unknown", said .. " deferred: " .. r.smtp_reply
  else
    if rcpts[2] then known = learn_catch_all(self, c, res, host, domain) end
    if known then r.catch_all = known.value end
    if r.catch_all then
      r.verdict = "risky"
      r.why = said .. " accepts any address at " .. domain .. " (catch-all): the mailbox may not exist"
    else
      r.verdict, r.why = "valid", said .. " accepted the mailbox: " .. r.smtp_reply
    end
  end
end

-- The user's lists: sets r.disposable and r.role.
local function flags(c, r, mb)
  if c.disposable then
    local set, err = load_list(c.disposable, "disposable")
    if not set then error(err, 0) end
    if domain_in(set, mb.domain) then r.disposable = true end
  end
  if c.roles then
    local set, err = load_list(c.roles, "roles")
    if not set then error(err, 0) end
    local lp = slower(sgsub(mb["local"], "^\"(.*)\"$", "%1"))
    if set[lp] or set[(smatch(lp, "^([^+]+)%+"))] then r.role = true end
  end
end

local DOMAIN_INVALID = { nxdomain = true, null_mx = true, no_address = true }

-- The domain's mail servers: sets r.domain, r.mx, r.implicit_mx, and the
-- verdict when they settle it. Returns the resolver's answer when the
-- domain takes mail.
local function domain_check(self, r, mb)
  if mb.literal then
    r.domain, r.mx = "literal", {}
    r.verdict, r.why = "risky", "an address literal: no domain to look up"
    return nil
  end
  local m = self.resolver:mx(mb.domain)
  r.domain, r.mx, r.implicit_mx = m.status, {}, m.implicit
  for i, h in ipairs(m.hosts) do r.mx[i] = h.host end
  if m.status == "ok" then return m end
  r.verdict, r.why = DOMAIN_INVALID[m.status] and "invalid" or "unknown", m.why
  return nil
end

local function check_one(self, addr, c)
  local r = { input = addr }
  local mb, why = mailbox(addr)
  if not mb then
    r.addr = (sgsub(addr, "^%s*<?%s*(.-)%s*>?%s*$", "%1"))
    r.syntax, r.verdict, r.why = "invalid", "invalid", "syntax: " .. why
    return r
  end
  r.addr, r.syntax = mb.addr, "ok"
  r.idn, r.smtputf8, r.quoted = mb.idn, mb.utf8, mb.quoted
  if history(c, r) then return r end
  flags(c, r, mb)
  local m = domain_check(self, r, mb)
  if not m then return r end
  if r.history == "error" then
    r.verdict, r.why = "unknown", "history: " .. r.history_error
    return r
  end
  if c.smtp then
    smtp_check(self, c, r, m, mb.domain)
    if r.verdict ~= "valid" then return r end
  else
    r.verdict = "valid"
    r.why = (m.implicit and "no MX; " .. mb.domain .. " takes mail itself" or "mail goes to " .. m.hosts[1].host)
      .. "; the mailbox was not probed"
  end
  if r.disposable then
    r.verdict, r.why = "risky", "a disposable domain (your list); " .. r.why
  elseif r.role then
    r.verdict, r.why = "risky", "a role account (your list); " .. r.why
  end
  return r
end

-- syntax: r = v:verify(addr [, opts])
function V:verify(addr, o)
  if type(addr) ~= "string" then argerr(1, "verify", "string expected, got " .. type(addr)) end
  o = check_opts(o, 2, "verify")
  return net.run(check_one, self, addr, settings(self, o))
end

-- syntax: results = v:many(addrs [, opts [, progress]])
-- Each address verified as by v:verify, opts.concurrency (32) at a time;
-- results in the order given. progress(done, result, i) is called after
-- each one.
function V:many(addrs, o, progress)
  if type(addrs) ~= "table" then argerr(1, "many", "table expected, got " .. type(addrs)) end
  for i, a in ipairs(addrs) do
    if type(a) ~= "string" then argerr(1, "many", "entry " .. i .. ": string expected, got " .. type(a)) end
  end
  o = check_opts(o, 2, "many")
  if progress ~= nil and type(progress) ~= "function" then
    argerr(3, "many", "function expected, got " .. type(progress))
  end
  local c = settings(self, o)
  local done = 0
  return net.run(function()
    return (net.map(addrs, c.concurrency, function(a, i)
      local r = check_one(self, a, c)
      done = done + 1
      if progress then progress(done, r, i) end
      return r
    end))
  end)
end

-- One verifier per resolver setting, kept for the calls of verify.verify,
-- so that the TTL cache, catch-all answers and probe rates carry over.
local defaults, ndefaults = {}, 0

local function default_verifier(o)
  local key
  if o.resolver then
    key = o.resolver
  else
    key = type(o.dns) == "table" and concat(o.dns, ",") or (o.dns or "")
    key = key .. "|" .. tostring(o.dns_timeout) .. "|" .. tostring(o.dns_retries)
  end
  local v = defaults[key]
  if v then return v end
  if ndefaults >= 16 then defaults, ndefaults = {}, 0 end
  local err
  v, err = _M.new{ dns = o.dns, resolver = o.resolver, dns_timeout = o.dns_timeout, dns_retries = o.dns_retries }
  if not v then return nil, err end
  defaults[key], ndefaults = v, ndefaults + 1
  return v
end

-- syntax: r, err = verify.verify(addr [, opts])   -- bounce.verify
-- opts: dns ("HOST:PORT" or a list; default /etc/resolv.conf), resolver
-- (a bounce.dns resolver), dns_timeout, dns_retries, tracker (history),
-- at (the time history is asked about), smtp (probe), helo, from,
-- smtp_port, smtp_timeout, rate (probes per domain per minute), rate_wait,
-- catch_all, catch_all_ttl, max_mx, disposable and roles (a list, a set or
-- a file of names), concurrency (for many).
function _M.verify(addr, opts)
  if type(addr) ~= "string" then argerr(1, "verify", "string expected, got " .. type(addr)) end
  opts = check_opts(opts, 2, "verify")
  local v, err = default_verifier(opts)
  if not v then return nil, err end
  return net.run(check_one, v, addr, settings(v, opts))
end

-- syntax: results, err = verify.many(addrs [, opts [, progress]])
function _M.many(addrs, opts, progress)
  opts = check_opts(opts, 2, "many")
  local v, err = default_verifier(opts)
  if not v then return nil, err end
  return v:many(addrs, opts, progress)
end

-- syntax: status, body = verify.http(args, conf, tracker)
-- GET /verify?rcpt=ADDR[&smtp=1] of bounce serve: args are the query's,
-- conf is serve.init's `verify` table (dns, smtp: whether probes may be
-- asked for, helo, from, smtp_port, rate, rate_wait, disposable, roles,
-- dns_timeout), tracker the worker's. body: the result, or { error }.
function _M.http(args, conf, tracker)
  conf = conf or {}
  local rcpt, smtp = args.rcpt, args.smtp
  if type(rcpt) ~= "string" or rcpt == "" then return 400, { error = "query parameter 'rcpt' expected" } end
  if #rcpt > 1024 then return 400, { error = "query parameter 'rcpt': longer than 1024 bytes" } end
  if smtp ~= nil and smtp ~= "0" and smtp ~= "1" then
    return 400, { error = "query parameter 'smtp': 0 or 1 expected" }
  end
  smtp = smtp == "1"
  if smtp and not conf.smtp then
    return 403, { error = "SMTP probes are not enabled here (bounce serve --verify-smtp)" }
  end
  local r, err = _M.verify(rcpt, { dns = conf.dns, dns_timeout = conf.dns_timeout, tracker = tracker, smtp = smtp,
    helo = conf.helo, from = conf.from, smtp_port = conf.smtp_port, rate = conf.rate, rate_wait = conf.rate_wait,
    disposable = conf.disposable, roles = conf.roles })
  if not r then return 503, { error = err } end
  r.mx = require("bounce.json").array(r.mx or {})
  return 200, r
end

-- syntax: name = verify.default_helo()   -- the EHLO name when opts.helo is not given
_M.default_helo = default_helo

-- The result's fields, in the order the command line and CSV write them.
_M.FIELDS = { "addr", "verdict", "why", "syntax", "domain", "mx", "history", "smtp", "catch_all",
              "disposable", "role", "smtp_reply", "smtp_host", "input" }

_M.DEFAULTS = DEFAULTS

return _M
