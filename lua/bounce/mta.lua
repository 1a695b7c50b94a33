-- bounce.mta: a small SMTP sender that lets the tracker decide, for hosts
-- written in Lua (LuaSocket; Lua 5.1-5.4 and LuaJIT).
--
--   local mta = require("bounce.mta")
--   local q = mta.new{ tracker = t, host = "127.0.0.1", port = 2525, helo = "me.example.com" }
--   q:add{ from = "news@example.com", to = { "ann@example.org", "bob@example.org" },
--          data = "Subject: hi\r\n\r\nhello\r\n" }
--   local report = q:run()        -- delivers what is due now
--   -- later (q:next_due() says when): q:run() again, until q:pending() == 0
--
-- Two layers. mta.connect() is one SMTP session that answers each command
-- with its reply (code, text), multi-line replies read whole: for a host
-- with its own queue. mta.new() is a queue over it: before each recipient it
-- asks tracker:check (a suppressed address is never sent to) and looks at
-- the recipient's retry time; each RCPT and DATA reply is classified with
-- bounce.classify (the command given, so that context counts) and recorded;
-- the tracker's decision schedules the next try (retry, hold) or drops the
-- recipient (suppress); a block said with a 5xx (decision.permanent) fails
-- that message at once, the address kept and held. A 2xx is recorded as
-- delivered only once DATA is accepted. A server that cannot be reached is
-- tried again by the policy's soft backoff. Time comes from an injectable
-- clock, so a test can move it.
--
-- Errors: caller mistakes raise (`bad argument #1 to 'add' (...)`); bad
-- data (an invalid address) and failures (connection refused, a timeout, a
-- server that stops answering) return nil, message, or show in the report
-- as a "deferred" outcome. Nothing here raises on what a server sends.

local bounce = require("bounce")
local tracker_mod = require("bounce.tracker")
local socket = require("socket")

local type, error, tostring, tonumber, ipairs, setmetatable, pcall =
  type, error, tostring, tonumber, ipairs, setmetatable, pcall
local floor = math.floor
local concat, sort = table.concat, table.sort
local sfind, sgsub, smatch, ssub, supper = string.find, string.gsub, string.match, string.sub, string.upper
local os_time = os.time

local classify, normalize, verp = bounce.classify, tracker_mod.normalize, bounce.verp

local _M = { _VERSION = bounce._VERSION }

-- A reply longer than this is cut off: the session is dropped as broken.
local MAX_REPLY_LINES = 100
local MAX_REPLY_BYTES = 64 * 1024

-- Raises at the caller of the public function: level 3 when called from
-- it directly, one more per helper in between.
local function argerr(n, fname, msg, level)
  error("bad argument #" .. n .. " to '" .. fname .. "' (" .. msg .. ")", level or 3)
end

local function opt_type(t, key, want, n, fname, level)
  local v = t[key]
  if v ~= nil and type(v) ~= want then
    argerr(n, fname, "field '" .. key .. "': " .. want .. " expected, got " .. type(v), level or 4)
  end
  return v
end

------------------------------------------------------------------------------
-- One SMTP session
------------------------------------------------------------------------------

local S = {}
S.__index = S

-- Reads one reply, all its lines: `250-...` continues, `250 ...` ends.
-- Returns code (number), text (the lines joined by "\n", codes included,
-- as bounce.classify reads them), or nil, err.
local function read_reply(sock)
  local lines, bytes, code = {}, 0, nil
  while true do
    local line, err = sock:receive("*l")
    if not line then return nil, err end
    bytes = bytes + #line
    local c, sep = smatch(line, "^([2-5]%d%d)([ %-]?)")
    if not c or (code and c ~= code) then
      return nil, "malformed reply: " .. ssub(line, 1, 200)
    end
    code = c
    lines[#lines + 1] = line
    if sep ~= "-" then break end
    if #lines >= MAX_REPLY_LINES or bytes > MAX_REPLY_BYTES then
      return nil, "reply too long: over " .. #lines .. " lines or " .. bytes .. " bytes"
    end
  end
  return tonumber(code), concat(lines, "\n")
end

-- Marks the session broken (closed) and returns nil, err.
local function broken(self, what, err)
  self.sock:close()
  self.closed = true
  self.err = "SMTP " .. self.where .. ": " .. what .. ": " .. tostring(err)
  return nil, self.err
end

-- 421: the server closes the channel (RFC 5321 3.8); so do we.
local function closing(self, text)
  self.sock:close()
  self.closed = true
  self.err = "SMTP " .. self.where .. ": closed by the server: " .. text
end

-- syntax: code, text = session:command(line)   -- nil, err when the session broke
-- Sends one command line (no CRLF) and reads its reply.
function S:command(line)
  if type(line) ~= "string" then argerr(1, "command", "string expected, got " .. type(line)) end
  if self.closed then return nil, self.err or "SMTP " .. self.where .. ": session closed" end
  if sfind(line, "[\r\n]") then return nil, "command contains CR or LF" end
  local ok, err = self.sock:send(line .. "\r\n")
  if not ok then return broken(self, ssub(line, 1, 4), err) end
  local code, text = read_reply(self.sock)
  if not code then return broken(self, "reply to " .. ssub(line, 1, 4), text) end
  if code == 421 then closing(self, text) end
  return code, text
end

-- An address fit for MAIL FROM / RCPT TO: <> and white space trimmed.
local function path(addr, allow_empty)
  local a = smatch(addr, "^%s*<?(.-)>?%s*$")
  if a == "" and allow_empty then return a end
  if sfind(a, "[%c<>%s]") then return nil, "invalid address '" .. addr .. "'" end
  local key, err = normalize(a, true)
  if not key then return nil, err end
  return a
end

-- syntax: code, text = session:mail(from)   -- "" for the null sender <>
function S:mail(from)
  if type(from) ~= "string" then argerr(1, "mail", "string expected, got " .. type(from)) end
  local a, err = path(from, true)
  if not a then return nil, err end
  return self:command("MAIL FROM:<" .. a .. ">")
end

-- syntax: code, text = session:rcpt(to)
function S:rcpt(to)
  if type(to) ~= "string" then argerr(1, "rcpt", "string expected, got " .. type(to)) end
  local a, err = path(to, false)
  if not a then return nil, err end
  return self:command("RCPT TO:<" .. a .. ">")
end

-- The message on the wire: every line ends in CRLF, a leading dot doubled
-- (RFC 5321 4.5.2), and the terminating "." line.
local function wire(data)
  data = sgsub(sgsub(sgsub(data, "\r\n", "\n"), "\r", "\n"), "\n", "\r\n")  -- a lone CR or LF too
  if ssub(data, -2) ~= "\r\n" then data = data .. "\r\n" end
  data = sgsub(data, "\n%.", "\n..")
  if ssub(data, 1, 1) == "." then data = "." .. data end
  return data .. ".\r\n"
end
_M.wire = wire

-- syntax: code, text = session:data(message)
-- DATA, then the message (headers and body; line endings made CRLF, dots
-- stuffed) when the server says 354. Returns the final reply, or the reply
-- to DATA itself when it was not 354: either answers the DATA command.
function S:data(message)
  if type(message) ~= "string" then argerr(1, "data", "string expected, got " .. type(message)) end
  local code, text = self:command("DATA")
  if code ~= 354 then return code, text end
  local ok, err = self.sock:send(wire(message))
  if not ok then return broken(self, "message", err) end
  code, text = read_reply(self.sock)
  if not code then return broken(self, "reply to the message", text) end
  if code == 421 then closing(self, text) end
  return code, text
end

-- syntax: code, text = session:rset()
function S:rset() return self:command("RSET") end

-- syntax: session:quit()   -- QUIT and close; the reply does not matter
function S:quit()
  if not self.closed then
    self:command("QUIT")
    self.sock:close()
    self.closed = true
    self.err = "SMTP " .. self.where .. ": session closed"
  end
end

-- syntax: session:close()   -- drops the connection without QUIT
function S:close()
  if not self.closed then
    self.sock:close()
    self.closed = true
    self.err = "SMTP " .. self.where .. ": session closed"
  end
end

local function check_conn_opts(opts, n, fname)
  if type(opts.host) ~= "string" then
    argerr(n, fname, "field 'host': string expected, got " .. type(opts.host), 4)
  end
  opt_type(opts, "port", "number", n, fname, 5)
  opt_type(opts, "helo", "string", n, fname, 5)
  opt_type(opts, "timeout", "number", n, fname, 5)
end

-- syntax: session, err, code, text = mta.connect{ host = "127.0.0.1", port = 25,
--   helo = "me.example.com", timeout = 30 }
-- Connects, reads the greeting and says EHLO (HELO when EHLO is refused).
-- session.ehlo is the EHLO reply, session.extensions its keywords
-- (`{ SIZE = "10240000", PIPELINING = "" }`). On failure: nil, err, and the
-- server's code and text when it answered (a 554 greeting, a refused HELO).
function _M.connect(opts)
  if type(opts) ~= "table" then argerr(1, "connect", "table expected, got " .. type(opts)) end
  check_conn_opts(opts, 1, "connect")
  local port, helo = opts.port or 25, opts.helo or "localhost"
  if sfind(helo, "[%s%c]") then return nil, "helo: invalid name '" .. helo .. "'" end
  local where = opts.host .. ":" .. port
  local sock, err = socket.tcp()
  if not sock then return nil, "SMTP " .. where .. ": " .. tostring(err) end
  sock:settimeout(opts.timeout or 30)
  local ok
  ok, err = sock:connect(opts.host, port)
  if not ok then
    sock:close()
    return nil, "SMTP " .. where .. ": connect: " .. tostring(err)
  end
  local self = setmetatable({ sock = sock, where = where, extensions = {} }, S)
  local code, text = read_reply(sock)
  if not code then return broken(self, "greeting", text) end
  if code ~= 220 then
    self:close()
    return nil, "SMTP " .. where .. ": greeting: " .. text, code, text
  end
  code, text = self:command("EHLO " .. helo)
  if code and code >= 500 then code, text = self:command("HELO " .. helo) end
  if not code then return nil, text end
  if code ~= 250 then
    self:quit()
    return nil, "SMTP " .. where .. ": EHLO/HELO: " .. text, code, text
  end
  self.ehlo = text
  local first = true
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    if not first then
      local kw, rest = smatch(line, "^%d%d%d[ %-](%S+)%s*(.-)%s*$")
      if kw then self.extensions[supper(kw)] = rest end
    end
    first = false
  end
  return self
end

------------------------------------------------------------------------------
-- The queue
------------------------------------------------------------------------------

local Q = {}
Q.__index = Q

-- syntax: q = mta.new{ tracker = t, host = "127.0.0.1" [, port = 25,
--   helo = "localhost", timeout = 30, clock = fn, defer = 300,
--   max_age = 432000, rhost = host, rules = set, verp = { prefix, domain }] }
-- tracker: a bounce.tracker. clock: unix seconds (default os.time); the
-- queue and every event it records use it. defer: seconds to wait before
-- trying again a recipient that was not tried because the session failed
-- on the way, or the server closed it with 421 first. A recipient not tried
-- because no session could be opened (connection refused, a timeout, a
-- greeting or EHLO refused) waits instead by the policy's soft backoff for
-- its domain, step n for its n-th such failure in a row (10m, 30m, 2h, ...
-- by default; RFC 5321 4.5.4.1 asks for spaced retries). max_age: a recipient still queued this
-- long after its message was added is dropped as "expired". rhost and rules
-- go to bounce.classify. verp: send each recipient in its own transaction
-- from its own return path, bounce.verp.encode(rcpt, prefix, domain), so
-- that a bounce that comes back later names it (bounce.parse{ verp = prefix }).
function _M.new(opts)
  if type(opts) ~= "table" then argerr(1, "new", "table expected, got " .. type(opts)) end
  local t = opts.tracker
  if type(t) ~= "table" or type(t.check) ~= "function" or type(t.record) ~= "function"
      or type(t.get) ~= "function" then
    argerr(1, "new", "field 'tracker': a bounce.tracker expected, got " .. type(t))
  end
  check_conn_opts(opts, 1, "new")
  opt_type(opts, "clock", "function", 1, "new")
  opt_type(opts, "defer", "number", 1, "new")
  opt_type(opts, "max_age", "number", 1, "new")
  opt_type(opts, "rhost", "string", 1, "new")
  if opts.rules ~= nil and type(opts.rules) ~= "userdata" then
    argerr(1, "new", "field 'rules': a rule set from bounce.rules.new() expected, got " .. type(opts.rules))
  end
  local v = opts.verp
  if v ~= nil then
    local ok = type(v) == "table" and pcall(verp.encode, "a@b.example", v.prefix, v.domain)
    if not ok then
      argerr(1, "new", "field 'verp': { prefix = 'bounces+', domain = 'mail.example.com' } expected")
    end
  end
  return setmetatable({
    tracker = t, clock = opts.clock or os_time,
    conn = { host = opts.host, port = opts.port, helo = opts.helo, timeout = opts.timeout },
    defer = opts.defer or 300, max_age = opts.max_age or 5 * 86400,
    copts = { rhost = opts.rhost or opts.host, rules = opts.rules }, verp = v,
    queue = {}, seq = 0,
  }, Q)
end

local function now_of(self)
  local now = self.clock()
  if type(now) ~= "number" then error("clock returned " .. type(now) .. ", number expected", 3) end
  return floor(now)
end

-- syntax: id, err = q:add{ from = "news@example.com", to = "a@x" | { "a@x", ... },
--   data = message [, id = "...", campaign = "..."] }
-- Queues a message for each recipient (duplicates once), due now. Returns
-- its id (msg.id, or a number), or nil, err for an invalid address.
function Q:add(msg)
  if type(msg) ~= "table" then argerr(1, "add", "table expected, got " .. type(msg)) end
  if type(msg.from) ~= "string" then argerr(1, "add", "field 'from': string expected, got " .. type(msg.from)) end
  if type(msg.data) ~= "string" then argerr(1, "add", "field 'data': string expected, got " .. type(msg.data)) end
  local to = msg.to
  if type(to) == "string" then to = { to } end
  if type(to) ~= "table" then argerr(1, "add", "field 'to': string or list expected, got " .. type(to)) end
  if msg.id ~= nil and type(msg.id) ~= "string" and type(msg.id) ~= "number" then
    argerr(1, "add", "field 'id': string or number expected, got " .. type(msg.id))
  end
  opt_type(msg, "campaign", "string", 1, "add")
  local from, err = path(msg.from, true)
  if not from then return nil, "from: " .. err end
  if #to == 0 then return nil, "to: no recipients" end
  local rcpts, seen = {}, {}
  for i, r in ipairs(to) do
    if type(r) ~= "string" then argerr(1, "add", "field 'to[" .. i .. "]': string expected, got " .. type(r)) end
    local a, aerr = path(r, false)
    if not a then return nil, "to[" .. i .. "]: " .. aerr end
    local key = normalize(a)
    if not seen[key] then
      seen[key] = true
      rcpts[#rcpts + 1] = a
    end
  end
  self.seq = self.seq + 1
  local now = now_of(self)
  local m = { id = msg.id or self.seq, from = from, data = msg.data, campaign = msg.campaign,
              added = now, seq = self.seq }
  for i, r in ipairs(rcpts) do
    self.queue[#self.queue + 1] = { msg = m, rcpt = r, due = now, tries = 0, n = i }
  end
  return m.id
end

-- syntax: n = q:pending()   -- recipients (of all messages) still queued
function Q:pending() return #self.queue end

-- syntax: at = q:next_due()   -- when the earliest queued recipient is due; nil if none
function Q:next_due()
  local at
  for _, e in ipairs(self.queue) do
    if not at or e.due < at then at = e.due end
  end
  return at
end

-- syntax: list = q:list()   -- { id, rcpt, due, tries } per queued recipient, by due time
function Q:list()
  local out = {}
  for _, e in ipairs(self.queue) do
    out[#out + 1] = { id = e.msg.id, rcpt = e.rcpt, due = e.due, tries = e.tries }
  end
  sort(out, function(a, b) if a.due ~= b.due then return a.due < b.due end return a.rcpt < b.rcpt end)
  return out
end

-- One line of the report; the entry goes back in the queue at `due`, or
-- leaves it when due is nil.
local function outcome(self, report, e, what, due, extra)
  local r = extra or {}
  r.id, r.rcpt, r.outcome, r.retry_at = e.msg.id, e.rcpt, what, due
  e.report = report
  report.results[#report.results + 1] = r
  report.counts[what] = (report.counts[what] or 0) + 1
  if due then
    e.due = due
    self.queue[#self.queue + 1] = e
  end
end

local function defer(self, report, e, now, err, code, text)
  outcome(self, report, e, "deferred", now + self.defer, { error = err, code = code, reply = text })
end

-- A recipient not tried because the server could not be reached: deferred
-- by the policy's soft backoff (a tracker without a policy: `defer`).
local function unreachable(self, report, e, now, err, code, text)
  e.unreached = (e.unreached or 0) + 1
  local t, wait = self.tracker, self.defer
  if type(t.current_policy) == "function" then
    local _, domain = normalize(e.rcpt)
    wait = t:current_policy():backoff("soft", e.unreached, nil, domain)
  end
  outcome(self, report, e, "deferred", now + wait, { error = err, code = code, reply = text })
end

-- Classifies a failed reply to RCPT or DATA, records it, and queues the
-- recipient again or drops it as the decision says.
local ACTION_OUTCOME = { retry = "retry", hold = "held", suppress = "suppressed" }

local function settle(self, report, e, now, code, text, command)
  e.tries = e.tries + 1
  local c, cerr = classify(text, { command = command, rhost = self.copts.rhost, rules = self.copts.rules })
  if not c then return defer(self, report, e, now, cerr, code, text) end
  local d, err = self.tracker:record{ rcpt = e.rcpt, type = c.type, reason = c.reason,
    permanent = c.permanent, at = now, sender = e.msg.from, campaign = e.msg.campaign }
  if not d then return defer(self, report, e, now, err, code, text) end
  local extra = { code = code, reply = text, command = command, reason = c.reason, type = c.type,
                  decision = d }
  local what = ACTION_OUTCOME[d.action]
  if what == "suppressed" then return outcome(self, report, e, what, nil, extra) end
  -- a block said with a 5xx refuses this message for good (RFC 5321 4.2.1):
  -- retrying it as it is would only repeat the refusal
  if what == "held" and d.permanent then return outcome(self, report, e, "failed", nil, extra) end
  -- retry and hold come with a time; anything else (a hook's "send") waits `defer`
  local due = d.retry_at
  if not what or not due or due <= now then due = now + self.defer end
  outcome(self, report, e, what or "retry", due, extra)
end

local function delivered(self, report, e, now, code, text)
  e.tries = e.tries + 1
  local d, err = self.tracker:record{ rcpt = e.rcpt, type = "delivered", at = now,
    sender = e.msg.from, campaign = e.msg.campaign }
  -- the message is delivered whatever the store said: never send it twice
  outcome(self, report, e, "delivered", nil, { code = code, reply = text, decision = d, error = err })
  report.delivered = report.delivered + 1
end

-- Whether a recipient may be tried now: "go", or an outcome already given.
local function admit(self, report, e, now)
  if now - e.msg.added >= self.max_age then
    return outcome(self, report, e, "expired", nil)
  end
  local t = self.tracker
  local allowed, why = t:check(e.rcpt, now)
  if allowed == nil then return defer(self, report, e, now, why) end
  if not allowed then return outcome(self, report, e, "skipped", nil, { why = why }) end
  local rec = t:get(e.rcpt)
  if rec and rec.retry_at and rec.retry_at > now then
    -- another message failed for this address: wait for its retry time
    return outcome(self, report, e, "waiting", rec.retry_at, { why = why })
  end
  return "go"
end

-- One message to the recipients admitted. Returns false when the session
-- is gone and the round must stop.
local function transaction(self, report, s, m, go, now, from)
  for _, e in ipairs(go) do e.unreached = nil end   -- the server was reached
  local code, text = s:mail(from or m.from)
  if not code or code == 421 then
    for _, e in ipairs(go) do defer(self, report, e, now, s.err or text, code, code and text) end
    return false
  end
  if code >= 300 then
    for _, e in ipairs(go) do
      if code >= 500 then
        outcome(self, report, e, "failed", nil, { code = code, reply = text, command = "MAIL" })
      else
        defer(self, report, e, now, "MAIL FROM refused", code, text)
      end
    end
    return s:rset() ~= nil
  end
  local accepted = {}
  for i, e in ipairs(go) do
    code, text = s:rcpt(e.rcpt)
    if code and (code < 200 or code >= 300) then
      settle(self, report, e, now, code, text, "RCPT")
    elseif code then
      accepted[#accepted + 1] = e
    end
    if s.closed then
      -- the session broke: those accepted never got the message, the rest
      -- were not tried (nor was e, when there was no reply)
      for _, a in ipairs(accepted) do defer(self, report, a, now, s.err) end
      for j = code and i + 1 or i, #go do defer(self, report, go[j], now, s.err) end
      return false
    end
  end
  if #accepted == 0 then return s:rset() ~= nil end
  code, text = s:data(m.data)
  if not code then
    -- the end of the message may have arrived: the risk of a duplicate is
    -- what RFC 5321 6.1 accepts over losing mail
    for _, e in ipairs(accepted) do defer(self, report, e, now, text) end
    return false
  end
  for _, e in ipairs(accepted) do
    if code >= 200 and code < 300 then
      delivered(self, report, e, now, code, text)
    else
      settle(self, report, e, now, code, text, "DATA")
    end
  end
  return not s.closed
end

-- One round over the recipients due; state.session is the open session.
local function round(self, report, due, now, state)
  local s, stopped, refused
  local i = 1
  while i <= #due do
    local m, go = due[i].msg, {}
    while i <= #due and due[i].msg == m do
      local e = due[i]
      if refused then
        unreachable(self, report, e, now, stopped)
      elseif stopped then
        defer(self, report, e, now, stopped)
      elseif admit(self, report, e, now) == "go" then
        go[#go + 1] = e
      end
      i = i + 1
    end
    if #go > 0 then
      local err, code, text
      if not s then
        s, err, code, text = _M.connect(self.conn)
        state.session = s
        if not s then
          stopped, refused = err, true
          report.error = err
          for _, e in ipairs(go) do unreachable(self, report, e, now, err, code, text) end
        end
      end
      -- with VERP, each recipient its own transaction, from its own return path
      local groups, froms = { go }, { false }
      if s and self.verp then
        groups, froms = {}, {}
        for k, e in ipairs(go) do
          groups[k], froms[k] = { e }, verp.encode(e.rcpt, self.verp.prefix, self.verp.domain)
        end
      end
      for k = 1, s and #groups or 0 do
        if stopped then
          for _, e in ipairs(groups[k]) do defer(self, report, e, now, stopped) end
        elseif not transaction(self, report, s, m, groups[k], now, froms[k] or nil) then
          stopped = s.err or "SMTP " .. s.where .. ": session lost"
          report.error = stopped
          s:close()
        end
      end
    end
  end
  if s then s:quit() end
end

-- syntax: report = q:run()
-- One round: every queued recipient due now (by the clock) is tried, the
-- recipients of a message together in one transaction (one each with
-- verp), all messages over one connection. report = { at, delivered = n,
-- counts = { outcome = n }, results = { { id, rcpt, outcome, retry_at,
-- code, reply, command, reason, type, decision, why, error }, ... },
-- error = the session's failure }.
-- Outcomes: delivered; retry (soft) and held (block), queued again at the
-- tracker's retry_at; suppressed (this reply suppressed the address);
-- skipped (tracker:check refused: never sent); waiting (the address's retry
-- time has not come: queued for it, not sent); deferred (not tried: the
-- session failed, queued again `defer` seconds later, or the server could
-- not be reached, queued by the policy's soft backoff); failed (MAIL FROM
-- refused for good, or a block said with a 5xx: decision.permanent, the
-- address kept and held by the tracker); expired (max_age passed).
function Q:run()
  local now = now_of(self)
  local report = { at = now, delivered = 0, counts = {}, results = {} }
  local due, later = {}, {}
  for _, e in ipairs(self.queue) do
    if e.due <= now then due[#due + 1] = e else later[#later + 1] = e end
  end
  self.queue = later
  -- messages in the order added, each with its recipients in their order
  sort(due, function(a, b)
    if a.msg.seq ~= b.msg.seq then return a.msg.seq < b.msg.seq end
    return a.n < b.n
  end)
  local state = {}
  local ok, err = pcall(round, self, report, due, now, state)
  if not ok then
    -- something raised (a tracker hook, a store): what was not settled stays queued
    for _, e in ipairs(due) do
      if e.report ~= report then self.queue[#self.queue + 1] = e end
    end
    if state.session then state.session:close() end
    error(err, 0)
  end
  return report
end

return _M
