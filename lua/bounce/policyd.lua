-- bounce.policyd: bounce as a Postfix policy service. Postfix asks it, at
-- RCPT TO, whether mail may go to a recipient (check_policy_service in
-- smtpd_recipient_restrictions), and it answers from the bounce history.
--
--   local policyd = require("bounce.policyd")
--   local srv = assert(policyd.listen{ tracker = t, host = "127.0.0.1", port = 10040 })
--   srv:run()                                 -- or srv:step(timeout) in your own loop
--
-- The protocol (Postfix's policy delegation): a request is name=value
-- lines, each ended by LF, then an empty line; the answer is one
-- `action=...` line and an empty line. Postfix keeps a connection open for
-- many requests, one at a time. The pieces are usable alone:
-- policyd.parser() reads requests from bytes as they arrive,
-- policyd.decide(t, req) is the answer to one request, and policyd.gate()
-- the pre-send question behind it.
--
-- Answers (what follows "action="):
--   550 5.1.1 WHY   the recipient is suppressed after a hard bounce
--                   (5.1.2 hostunknown, 5.1.6 hasmoved, 5.1.10 notaccept),
--   550 5.1.2 WHY   its domain is dead,
--   550 5.7.1 WHY   it is suppressed for another cause (soft bounces that
--                   did not stop, a complaint, an unsubscribe, by hand):
--                   refused by the sender's own policy, not by the mailbox,
--   450 4.7.1 WHY   the sender (or campaign) is at health `stop`: the
--                   submitting client keeps the message and tries later,
--   451 4.3.0 ...   the history cannot be read (--on-error defer, the
--                   default), or DUNNO with --on-error dunno,
--   DUNNO           anything else: the next restriction decides.
-- 550 is the reply RFC 5321 gives RCPT TO for a recipient refused for good
-- (554 is not among RCPT's replies) and the one Postfix itself uses for
-- unknown recipients; 450 and 451 are its temporary ones. Postfix puts the
-- address in front of the text: "550 5.1.1 <ann@example.org>: Recipient
-- address rejected: suppressed since 2026-11-20: hard bounce (userunknown)".

local bounce = require("bounce")

local type, tostring, tonumber, pcall, setmetatable, ipairs, error, require =
  type, tostring, tonumber, pcall, setmetatable, ipairs, error, require
local sfind, ssub, slower, sgsub, sformat, sbyte =
  string.find, string.sub, string.lower, string.gsub, string.format, string.byte
local remove = table.remove
local stderr = io.stderr

local _M = { _VERSION = bounce._VERSION }

-- Bounds on what a client may send: Postfix's requests are about 1-2 KB
-- and 30 attributes; anything far larger is not Postfix.
_M.MAX_REQUEST = 64 * 1024
_M.MAX_ATTRIBUTES = 256
-- Longest reply text (the line Postfix sends back must stay under SMTP's
-- 512-byte reply line with the code and the address in front).
local MAX_TEXT = 300
-- Answers waiting for a client that sends requests and reads none.
local MAX_PENDING = 1024 * 1024

------------------------------------------------------------------------------
-- The protocol: requests in, answers out
------------------------------------------------------------------------------

local Parser = {}
Parser.__index = Parser

-- syntax: p = policyd.parser()
-- p:push(bytes) appends what a connection received; req, err = p:pop() is
-- the next whole request (a table name -> value; a name given twice keeps
-- its last value), nil when more bytes are needed, or nil, err when the
-- client broke the protocol (a line without '=', too many attributes, a
-- request over MAX_REQUEST bytes); the connection should then be closed.
-- Lines may end in CRLF (a person typing into nc); values keep any other
-- bytes, '=' included.
function _M.parser()
  return setmetatable({ buf = "", pos = 1 }, Parser)
end

function Parser:push(data)
  if self.pos > 1 then
    self.buf = ssub(self.buf, self.pos) .. data
    self.pos = 1
  else
    self.buf = self.buf .. data
  end
end

-- the attributes of buf[from .. to] (whole lines), or nil, err. Plain
-- finds only: a pattern with classes costs several times more per byte.
local function attributes(buf, from, to)
  local req, n, i = {}, 0, from
  while i <= to do
    local nl = sfind(buf, "\n", i, true)
    local eq = sfind(buf, "=", i, true)
    if not eq or eq >= nl or eq == i then
      return nil, "not a name=value line: '" .. sgsub(ssub(buf, i, nl - 1 < i + 59 and nl - 1 or i + 59), "%c", "?")
        .. "'"
    end
    n = n + 1
    if n > _M.MAX_ATTRIBUTES then return nil, "more than " .. _M.MAX_ATTRIBUTES .. " attributes" end
    local last = nl - 1
    if sbyte(buf, last) == 13 then last = last - 1 end
    req[ssub(buf, i, eq - 1)] = ssub(buf, eq + 1, last)
    i = nl + 1
  end
  return req
end

-- where the request starting at pos ends: the start of its empty line
local function request_end(buf, pos)
  local s = sfind(buf, "\n\n", pos, true)
  local r = sfind(buf, "\n\r\n", pos, true)
  if r and (not s or r < s) then return r, r + 2 end
  if s then return s, s + 1 end
end

function Parser:pop()
  local buf, pos = self.buf, self.pos
  if pos > #buf then return nil end
  -- an empty line at the start is an empty request
  local b = sbyte(buf, pos)
  if b == 10 or (b == 13 and sbyte(buf, pos + 1) == 10) then
    self.pos = pos + (b == 10 and 1 or 2)
    return {}
  end
  local s, e = request_end(buf, pos)
  if not s then
    if #buf - pos + 1 > _M.MAX_REQUEST then
      return nil, "request over " .. _M.MAX_REQUEST .. " bytes"
    end
    return nil
  end
  if s - pos + 1 > _M.MAX_REQUEST then return nil, "request over " .. _M.MAX_REQUEST .. " bytes" end
  self.pos = e + 1
  return attributes(buf, pos, s)
end

-- syntax: text = policyd.reply(action)   -- the bytes that answer a request
function _M.reply(action)
  return "action=" .. action .. "\n\n"
end

------------------------------------------------------------------------------
-- The gate and the answer
------------------------------------------------------------------------------

-- syntax: allowed, why, scope = policyd.gate(t, rcpt [, sender [, at]])
-- The pre-send question for one recipient of one sender, in one place:
-- allowed is false with the why and the scope refused ("address",
-- "domain", "sender" or "campaign"); true with why (and scope nil); nil,
-- err when the history cannot tell (a store failure, a corrupt record, an
-- invalid address). The address comes from t:check, the sender from its
-- health level (a `stop` holds it). Every refusal policyd gives comes from
-- here: when t:check judges the domain and the sender itself
-- (t:check(rcpt, { sender = S, at = T })), that one call replaces both.
-- Postfix knows no campaign at RCPT TO (it has not seen the headers).
function _M.gate(t, rcpt, sender, at)
  local allowed, why = t:check(rcpt, at)
  if allowed == nil then return nil, why end
  if not allowed then
    -- t:check answers "dead domain D since ..." for an address at a domain a
    -- hostunknown bounce marked (bounce.tracker), its own suppression first
    return false, why, sfind(why, "^dead domain ") and "domain" or "address"
  end
  if sender and sender ~= "" then
    -- on a store that shares health, the counts of every process (bounce
    -- intake's): nil, "store: ..." when they cannot be read
    local h, herr = t:health("sender:" .. sender, at)
    if not h then return nil, herr end
    if h.level == "stop" then
      return false, sformat("sender %s at health stop: %d hard bounces, %d complaints in %d messages",
        sender, h.hard, h.complaint, h.messages), "sender"
    end
  end
  return true, why
end

-- Enhanced status of a refused address, by what suppressed it.
local HARD_STATUS = { hostunknown = "5.1.2", hasmoved = "5.1.6", notaccept = "5.1.10" }

local function address_status(t, rcpt)
  local ok, r = pcall(t.get, t, rcpt)
  if not ok or type(r) ~= "table" then return "5.7.1" end
  if r.cause == "hard" then return HARD_STATUS[r.reason] or "5.1.1" end
  return "5.7.1"
end

-- A reply text Postfix can carry: one line, printable, bounded.
local function text(why)
  why = sgsub(tostring(why or ""), "[%c\127]", " ")
  if #why > MAX_TEXT then why = ssub(why, 1, MAX_TEXT - 3) .. "..." end
  return why
end

-- Errors that mean "the history cannot be read", as opposed to an address
-- the tracker refuses to read (those are Postfix's to judge: DUNNO).
local function is_store_failure(err)
  err = tostring(err)
  return ssub(err, 1, 6) == "store:" or ssub(err, 1, 14) == "corrupt record"
end

-- syntax: action, verdict, why = policyd.decide(t, req [, opts])
-- The answer to one request (what follows "action="), with the verdict
-- for the log: "dunno", "suppressed", "domain", "held", "error", "ignored"
-- (not an RCPT request). opts: on_error ("defer", the default, or "dunno"),
-- at (unix seconds, default the tracker's clock). Only RCPT-stage requests
-- of request=smtpd_access_policy are judged; the others get DUNNO.
-- Never raises on what a client sent.
function _M.decide(t, req, opts)
  local on_error = opts and opts.on_error or "defer"
  local rcpt = req.recipient
  if req.request ~= "smtpd_access_policy" or slower(req.protocol_state or "") ~= "rcpt"
     or rcpt == nil or rcpt == "" then
    return "DUNNO", "ignored"
  end
  local ok, allowed, why, scope = pcall(_M.gate, t, rcpt, req.sender, opts and opts.at)
  if not ok then allowed, why = nil, "store: " .. tostring(allowed) end
  if allowed == nil then
    if not is_store_failure(why) then return "DUNNO", "dunno", why end
    if on_error == "dunno" then return "DUNNO", "error", why end
    return "451 4.3.0 bounce history unavailable, try again later", "error", why
  end
  if allowed then return "DUNNO", "dunno", why end
  if scope == "sender" or scope == "campaign" then
    return "450 4.7.1 " .. text(why), "held", why
  elseif scope == "domain" then
    return "550 5.1.2 " .. text(why), "domain", why
  end
  return "550 " .. address_status(t, rcpt) .. " " .. text(why), "suppressed", why
end

------------------------------------------------------------------------------
-- The server: one process, LuaSocket, socket.select over every connection
------------------------------------------------------------------------------

local Server = {}
Server.__index = Server

local function default_log(line) stderr:write("bounce policyd: ", line, "\n") end

-- syntax: srv, err = policyd.listen(opts)
-- opts: tracker (required), host ("127.0.0.1"), port (10040; 0 picks a free
-- one, srv:port() tells which), on_error ("defer" | "dunno"),
-- max_connections (500; more are accepted and closed at once, so that
-- Postfix sees a refusal rather than a wait), idle_timeout (seconds a
-- connection may stay silent, 600: Postfix closes its own after
-- smtpd_policy_service_max_idle, 300 s), reuseport (true: several
-- processes may listen on the same port and the kernel spreads the
-- connections), log (function(line), default stderr), quiet (log only
-- errors and start-up). Returns nil, err when it cannot listen.
function _M.listen(opts)
  if type(opts) ~= "table" or type(opts.tracker) ~= "table" then
    error("bad argument #1 to 'listen' (table with a tracker expected)", 2)
  end
  local on_error = opts.on_error or "defer"
  if on_error ~= "defer" and on_error ~= "dunno" then
    error("bad argument #1 to 'listen' (on_error: 'defer' or 'dunno' expected, got '"
      .. tostring(on_error) .. "')", 2)
  end
  local socket = require("socket")
  local host, port = opts.host or "127.0.0.1", opts.port or 10040
  local ls = socket.tcp4 and socket.tcp4() or socket.tcp()
  ls:setoption("reuseaddr", true)
  if opts.reuseport then
    local ok, err = ls:setoption("reuseport", true)
    if not ok then ls:close() return nil, "reuseport: " .. tostring(err) end
  end
  local ok, err = ls:bind(host, port)
  if ok then ok, err = ls:listen(128) end
  if not ok then
    ls:close()
    return nil, host .. ":" .. port .. ": " .. tostring(err)
  end
  ls:settimeout(0)
  local _, bound = ls:getsockname()
  local max = opts.max_connections or 500
  -- select(2) sees descriptors below FD_SETSIZE (1024) only
  if max > 1000 then max = 1000 end
  return setmetatable({
    socket = socket, listener = ls, host = host, bound = tonumber(bound),
    t = opts.tracker, dopts = { on_error = on_error }, log = opts.log or default_log,
    quiet = opts.quiet, max = max, idle = opts.idle_timeout or 600,
    conns = {}, state = {}, served = 0, refused = 0, errors = 0,
    err_last = nil, err_since = 0, err_more = 0, swept = socket.gettime(),
  }, Server)
end

function Server:port() return self.bound end

-- Store errors come in floods while a store is down: the first is logged,
-- repeats within 10 s are counted and logged with the next one after.
function Server:log_error(why)
  local now = self.socket.gettime()
  if why == self.err_last and now - self.err_since < 10 then
    self.err_more = self.err_more + 1
    return
  end
  local more = self.err_more > 0 and sformat(" (and %d more like the last)", self.err_more) or ""
  self.log("history unavailable, answering " .. (self.dopts.on_error == "dunno" and "DUNNO" or "451")
    .. ": " .. tostring(why) .. more)
  self.err_last, self.err_since, self.err_more = why, now, 0
end

function Server:drop(c)
  local st = self.state[c]
  self.state[c] = nil
  local conns = self.conns
  for i = #conns, 1, -1 do
    if conns[i] == c then remove(conns, i) break end
  end
  if st then c:close() end
end

-- Sends what is waiting for c; keeps the rest for when it can take more.
local function flush(c, st)
  local out = st.out
  if out == "" then return true end
  local n, err, sent = c:send(out)
  n = n or sent
  if n and n > 0 then out = ssub(out, n + 1) end
  st.out = out
  if err and err ~= "timeout" then return nil end
  return true
end

function Server:answer(req, st)
  local action, verdict, why = _M.decide(self.t, req, self.dopts)
  self.served = self.served + 1
  if verdict == "error" then
    self.errors = self.errors + 1
    self:log_error(why)
  elseif verdict == "suppressed" or verdict == "domain" or verdict == "held" then
    self.refused = self.refused + 1
    if not self.quiet then
      self.log(sformat("%s <%s> from <%s>: %s", verdict, text(req.recipient), text(req.sender),
        action))
    end
  end
  st.out = st.out .. _M.reply(action)
end

function Server:receive(c, st)
  local data, err, partial = c:receive(8192)
  data = data or partial
  if data and data ~= "" then
    st.last = self.socket.gettime()
    st.p:push(data)
    while true do
      local req, perr = st.p:pop()
      if req and #st.out > MAX_PENDING then
        req, perr = nil, "over " .. MAX_PENDING .. " bytes of answers it does not read"
      end
      if req then
        self:answer(req, st)
      elseif perr then
        self.log("closing a connection: " .. perr)
        flush(c, st)
        return self:drop(c)
      else
        break
      end
    end
    if not flush(c, st) then return self:drop(c) end
  end
  if err == "closed" then return self:drop(c) end
end

function Server:accept()
  local ls = self.listener
  while true do
    local c = ls:accept()
    if not c then return end
    if #self.conns >= self.max then
      c:close()
      self.log("too many connections (" .. self.max .. "): one refused")
    else
      c:settimeout(0)
      c:setoption("tcp-nodelay", true)
      self.conns[#self.conns + 1] = c
      self.state[c] = { p = _M.parser(), out = "", last = self.socket.gettime() }
    end
  end
end

function Server:sweep(now)
  if now - self.swept < 1 then return end
  self.swept = now
  local conns = self.conns
  for i = #conns, 1, -1 do
    local c = conns[i]
    if now - self.state[c].last > self.idle then self:drop(c) end
  end
end

-- syntax: srv:step([timeout])   -- waits up to timeout seconds (default 1)
-- and serves whatever is ready: new connections, requests, pending answers.
function Server:step(timeout)
  local recvt, sendt = { self.listener }, {}
  for i, c in ipairs(self.conns) do
    recvt[i + 1] = c
    if self.state[c].out ~= "" then sendt[#sendt + 1] = c end
  end
  local readable, writable = self.socket.select(recvt, sendt, timeout or 1)
  for _, c in ipairs(writable) do
    local st = self.state[c]
    if st and not flush(c, st) then self:drop(c) end
  end
  for _, c in ipairs(readable) do
    if c == self.listener then
      self:accept()
    else
      local st = self.state[c]
      if st then self:receive(c, st) end
    end
  end
  self:sweep(self.socket.gettime())
end

-- syntax: srv:run()   -- serves until the process is stopped
function Server:run()
  while true do self:step(1) end
end

-- syntax: srv:close()   -- closes the listener and every connection
function Server:close()
  for i = #self.conns, 1, -1 do self:drop(self.conns[i]) end
  self.listener:close()
end

-- syntax: n = srv:connections()
function Server:connections() return #self.conns end

-- syntax: stats = srv:stats()   -- served, refused, errors, connections
function Server:stats()
  return { served = self.served, refused = self.refused, errors = self.errors,
           connections = #self.conns }
end

return _M
