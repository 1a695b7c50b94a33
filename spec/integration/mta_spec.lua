-- bounce.mta against a real SMTP server: Debian's python3-aiosmtpd on a free
-- 127.0.0.1 port (spec/support/smtpd.py), its replies scripted per
-- recipient. The queue runs round after round on a fake clock that jumps to
-- the next retry: the policy's times are exact and nothing sleeps.

local util = require("spec.support.util")
local q, run, read, write = util.q, util.run, util.read, util.write

local PYTHON = "/usr/bin/python3"   -- Debian's: a pyenv python3 in PATH lacks aiosmtpd

local HERE = debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/integration/[^/]+$") or "spec"
local SERVER_PY = HERE .. "/support/smtpd.py"

local function available()
  if not pcall(require, "socket") then return false, "LuaSocket not found (apt-get install lua-socket)" end
  if not pcall(require, "cjson") then return false, "lua-cjson not found (apt-get install lua-cjson)" end
  if not read(PYTHON) then return false, PYTHON .. " not found (apt-get install python3-aiosmtpd)" end
  if run(PYTHON .. " -c 'import aiosmtpd'") ~= 0 then
    return false, "python3-aiosmtpd not found (apt-get install python3-aiosmtpd)"
  end
  return true
end

------------------------------------------------------------------------------
-- The scripted server
------------------------------------------------------------------------------

local Server = {}
Server.__index = Server

local function alive(pid)
  local stat = read("/proc/" .. pid .. "/stat")
  if stat then return not stat:match("^%d+ %b() Z") end
  return false
end

-- Starts smtpd.py with a script { rcpt = { addr = { replies } }, data = ... }.
local function start_server(script)
  local socket, cjson = require("socket"), require("cjson")
  local rc, dir = run("mktemp -d /tmp/bounce-smtpd.XXXXXX")
  assert(rc == 0, dir)
  local self = setmetatable({ dir = dir:gsub("%s+$", "") }, Server)
  write(self.dir .. "/script.json", cjson.encode(script))
  self.log = self.dir .. "/log.jsonl"
  for _ = 1, 5 do   -- another process may take the port between probe and bind
    local probe = assert(socket.bind("127.0.0.1", 0))
    local _, port = probe:getsockname()
    probe:close()
    self.port = tonumber(port)
    os.remove(self.dir .. "/ready")
    local out
    rc, out = run("PYTHONDONTWRITEBYTECODE=1 " .. PYTHON .. " " .. q(SERVER_PY)
      .. " --port " .. self.port .. " --script " .. q(self.dir .. "/script.json")
      .. " --log " .. q(self.log) .. " --ready " .. q(self.dir .. "/ready")
      .. " --lifetime 300 >" .. q(self.dir .. "/out.txt") .. " 2>&1 & echo $!")
    self.pid = tonumber(out:match("(%d+)"))
    assert(rc == 0 and self.pid, out)
    local deadline = socket.gettime() + 15
    while not read(self.dir .. "/ready") and alive(self.pid) and socket.gettime() < deadline do
      socket.sleep(0.02)
    end
    if read(self.dir .. "/ready") then return self end
    local why = read(self.dir .. "/out.txt") or ""
    if not why:find("in use", 1, true) then
      self:stop()
      error("smtpd.py did not start:\n" .. why, 2)
    end
  end
  self:stop()
  error("smtpd.py found no free port", 2)
end

-- Stops the server and removes its folder. Idempotent.
function Server:stop()
  if self.stopped then return end
  self.stopped = true
  local socket = require("socket")
  if self.pid and alive(self.pid) then
    run("kill -TERM " .. self.pid)
    local deadline = socket.gettime() + 5
    while alive(self.pid) and socket.gettime() < deadline do socket.sleep(0.02) end
    if alive(self.pid) then run("kill -KILL " .. self.pid) end
  end
  run("rm -rf " .. q(self.dir))
end

-- What the server saw: a list of { cmd = "RCPT" | "DATA", rcpt, reply, content }.
function Server:entries()
  local cjson = require("cjson")
  local out = {}
  for line in (read(self.log) or ""):gmatch("[^\n]+") do out[#out + 1] = cjson.decode(line) end
  return out
end

-- How many times the server got `cmd` for rcpt.
function Server:count(cmd, rcpt)
  local n = 0
  for _, e in ipairs(self:entries()) do
    if e.cmd == cmd and e.rcpt == rcpt then n = n + 1 end
  end
  return n
end

------------------------------------------------------------------------------
-- The specs
------------------------------------------------------------------------------

local T0 = 1763856000   -- 2025-11-23 00:00 UTC

-- Explicit backoff, so the times below are exact.
local POLICY = {
  soft = { max_attempts = 3, window = "30d", backoff = { "10m", "20m", "40m" } },
  block = { backoff = { "1h", "2h" } },
}

local GMAIL_550 = "550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n"
  .. "550-5.1.1 double-checking the recipient's email address for typos or\r\n"
  .. "550 5.1.1 unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser gsmtp"

local SCRIPT = {
  rcpt = {
    ["grey@example.org"] = { "450 4.2.0 <grey@example.org>: Recipient address rejected: greylisted, try again later",
                             "250 2.1.5 OK" },
    ["grey2@example.org"] = { "450 4.2.0 greylisted, try again later", "250 2.1.5 OK" },
    ["full@example.org"] = { "452 4.2.2 mailbox full" },
    ["dead@example.org"] = { "550 5.1.1 user unknown" },
    ["busy@example.org"] = { "452 4.2.2 mailbox full" },
    ["gone@example.org"] = { GMAIL_550 },
    -- a blocklist refusal said with a 4xx (Postfix's soft_bounce, a 4xx rbl_code): retried
    ["listed@example.org"] = { "451 4.7.1 Service unavailable; Client host [127.0.0.1] blocked using "
                               .. "zen.spamhaus.org" },
    -- the same said with a 5xx: this message is refused for good
    ["banned@example.org"] = { "554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using "
                               .. "zen.spamhaus.org; listed at a DNS blocklist" },
    ["slow@example.org"] = { "421 4.7.0 rate limited, try again later", "250 2.1.5 OK" },
  },
  data = {
    ["filtered@example.org"] = { "550 5.1.1 <filtered@example.org>: user unknown", "250 2.0.0 OK" },
  },
}

local MESSAGE = "From: news@example.com\nSubject: hello\n\n.a line that starts with a dot\nbye\n"

local usable, why = available()

describe("bounce.mta against a real SMTP server (aiosmtpd)", function()
  if not usable then
    -- In CI the packages are installed by .ci/deps: missing ones are a failure.
    if os.getenv("CI") then error(why) end
    pending(why)
    return
  end

  local bounce = require("bounce")
  local mta = require("bounce.mta")

  local srv
  setup(function() srv = start_server(SCRIPT) end)
  teardown(function() if srv then srv:stop() end end)

  local function tracker_at(clock)
    return assert(bounce.tracker{ policy = POLICY, clock = clock })
  end

  describe("a batch over several rounds", function()
    local now = T0
    local function clock() return now end
    local t, qu, reports, times

    -- Rounds until the queue holds only blocked addresses (which never go
    -- away: a block holds, it does not suppress), the clock jumping to the
    -- next due time; a second message to some of the same addresses at 2h.
    setup(function()
      t = tracker_at(clock)
      qu = mta.new{ tracker = t, host = "127.0.0.1", port = srv.port, helo = "sender.example.com",
                    clock = clock, timeout = 10, defer = 300 }
      assert(qu:add{ id = "m1", from = "news@example.com", data = MESSAGE, to = {
        "ok@example.org", "grey@example.org", "full@example.org", "gone@example.org", "listed@example.org" } })
      assert(qu:add{ id = "m2", from = "news@example.com", data = MESSAGE, to = "filtered@example.org" })
      assert(qu:add{ id = "m3", from = "news@example.com", data = MESSAGE,
                     to = { "early@example.org", "slow@example.org", "late@example.org" } })
      reports, times = {}, {}
      local second = false
      while now <= T0 + 4 * 3600 do
        if not second and now >= T0 + 7200 then
          second = true
          assert(qu:add{ id = "m4", from = "news@example.com", data = "Subject: again\n\nhi\n", to = {
            "ok@example.org", "grey@example.org", "full@example.org", "gone@example.org",
            "listed@example.org" } })
        end
        local r = qu:run()
        reports[#reports + 1] = r
        times[#times + 1] = now - T0
        local nxt = qu:next_due()
        if not second and (not nxt or nxt > T0 + 7200) then nxt = T0 + 7200 end
        now = nxt
      end
    end)

    local function result(round, rcpt, id)
      for _, r in ipairs(reports[round].results) do
        if r.rcpt == rcpt and (id == nil or r.id == id) then return r end
      end
    end

    it("runs rounds at the times the policy gives", function()
      -- 0: first try; 300: the recipients a 421 kept from their turn
      -- (defer); 600: first retries (10m); 1800: the second retry of the
      -- full mailbox (+20m); 3600: the blocks' first hold ends (1h); 7200:
      -- the second message; 10800: the blocklisted address again (+2h).
      assert.same({ 0, 300, 600, 1800, 3600, 7200, 10800 }, times)
    end)

    it("delivers at once to an address that answers 250", function()
      local r = result(1, "ok@example.org")
      assert.equal("delivered", r.outcome)
      assert.equal(250, r.code)
      local rec = t:get("ok@example.org")
      assert.equal("active", rec.state)
      assert.equal("delivered", rec.last_event)
    end)

    it("retries a greylisted address after the first backoff step and delivers it", function()
      local r = result(1, "grey@example.org")
      assert.equal("retry", r.outcome)
      assert.equal(450, r.code)
      assert.equal("soft", r.type)
      assert.equal(T0 + 600, r.retry_at)
      assert.equal("delivered", result(3, "grey@example.org").outcome)
      local rec = t:get("grey@example.org")
      assert.equal("active", rec.state)
      assert.equal(0, rec.attempts)
      assert.equal("delivered", rec.last_event)
      assert.equal(1, rec.bounces)
      -- m1 on retry, then m4
      assert.equal(2, srv:count("DATA", "grey@example.org"))
    end)

    it("suppresses 550 5.1.1 at once, read from a multi-line reply", function()
      local r = result(1, "gone@example.org")
      assert.equal("suppressed", r.outcome)
      assert.equal("userunknown", r.reason)
      assert.equal("hard", r.type)
      assert.equal((GMAIL_550:gsub("\r\n", "\n")), r.reply)
      local rec = t:get("gone@example.org")
      assert.equal("suppressed", rec.state)
      assert.equal("hard", rec.cause)
      assert.equal(T0, rec.since)
      assert.is_nil(rec.expires_at)   -- retention.hard: forever
      assert.is_false((t:check("gone@example.org")))
    end)

    it("suppresses a full mailbox after the policy's max_attempts (3) soft bounces", function()
      assert.equal(T0 + 600, result(1, "full@example.org").retry_at)
      assert.equal(T0 + 1800, result(3, "full@example.org").retry_at)   -- 600 + 20m
      local r = result(4, "full@example.org")
      assert.equal("suppressed", r.outcome)
      assert.equal("mailboxfull", r.reason)
      local rec = t:get("full@example.org")
      assert.equal("suppressed", rec.state)
      assert.equal("soft_exhausted", rec.cause)
      assert.equal(3, rec.attempts)
      assert.equal(T0 + 1800 + 30 * 86400, rec.expires_at)   -- retention.soft: 30d
    end)

    it("never sends to a suppressed address", function()
      -- the server heard of each only until it was suppressed, never DATA
      assert.equal(1, srv:count("RCPT", "gone@example.org"))
      assert.equal(3, srv:count("RCPT", "full@example.org"))
      assert.equal(0, srv:count("DATA", "gone@example.org"))
      assert.equal(0, srv:count("DATA", "full@example.org"))
      -- the second message was not offered to them
      for _, rcpt in ipairs{ "gone@example.org", "full@example.org" } do
        local r = result(6, rcpt, "m4")
        assert.equal("skipped", r.outcome)
        assert.matches("^suppressed since 2025%-11%-23", r.why)
      end
      assert.equal("delivered", result(6, "ok@example.org", "m4").outcome)
      assert.equal("delivered", result(6, "grey@example.org", "m4").outcome)
      assert.equal(2, srv:count("DATA", "ok@example.org"))
    end)

    it("holds a blocklisted address by the block backoff and never suppresses it", function()
      assert.equal("held", result(1, "listed@example.org").outcome)
      assert.equal("blocked", result(1, "listed@example.org").reason)
      assert.is_false(result(1, "listed@example.org").decision.permanent)   -- a 4xx: retried
      assert.equal(T0 + 3600, result(1, "listed@example.org").retry_at)
      assert.equal(T0 + 3600 + 7200, result(5, "listed@example.org").retry_at)
      assert.equal(T0 + 10800 + 7200, result(7, "listed@example.org", "m1").retry_at)
      local rec = t:get("listed@example.org")
      assert.equal("active", rec.state)
      assert.equal("blocked", rec.reason)
      assert.equal(3, rec.blocks)
      assert.is_true((t:check("listed@example.org")))
      assert.equal(0, srv:count("DATA", "listed@example.org"))
      -- still queued for its next try, both messages
      local due = {}
      for _, e in ipairs(qu:list()) do if e.rcpt == "listed@example.org" then due[e.id] = e.due end end
      assert.same({ m1 = T0 + 10800 + 7200, m4 = T0 + 10800 + 7200 }, due)
    end)

    it("keeps a second message waiting for the address's retry time", function()
      -- m4 came while listed@ was held: not sent, queued for the hold's end
      local r = result(6, "listed@example.org", "m4")
      assert.equal("waiting", r.outcome)
      assert.equal(T0 + 10800, r.retry_at)
      -- at 10800 m1 went first and drew a new hold; m4 waits again
      r = result(7, "listed@example.org", "m4")
      assert.equal("waiting", r.outcome)
      assert.equal(T0 + 18000, r.retry_at)
      -- one RCPT per round it was due in: 0, 3600, 10800
      assert.equal(3, srv:count("RCPT", "listed@example.org"))
    end)

    it("treats 421 rate limiting as a block and defers the recipients not yet tried", function()
      local r = result(1, "slow@example.org")
      assert.equal("held", r.outcome)
      assert.equal("block", r.type)
      assert.equal("speeding", r.reason)
      assert.equal(T0 + 3600, r.retry_at)
      -- the server closed the connection before DATA: early@ (accepted)
      -- did not get the message and late@ was not tried; neither is recorded
      for _, rcpt in ipairs{ "early@example.org", "late@example.org" } do
        local d = result(1, rcpt)
        assert.equal("deferred", d.outcome)
        assert.equal(T0 + 300, d.retry_at)
        assert.equal("delivered", result(2, rcpt).outcome)
        assert.equal(1, srv:count("DATA", rcpt))
      end
      assert.matches("421 4.7.0 rate limited", reports[1].error, 1, true)
      assert.equal(1, srv:count("RCPT", "late@example.org"))
      assert.equal(2, srv:count("RCPT", "early@example.org"))
      -- the hold ended at 3600 and the server took it then
      assert.equal("delivered", result(5, "slow@example.org").outcome)
      assert.equal("active", t:get("slow@example.org").state)
      assert.equal(1, srv:count("DATA", "slow@example.org"))
    end)

    it("classifies a refusal after DATA in context: filtered, retried, not suppressed", function()
      local r = result(1, "filtered@example.org")
      assert.equal("retry", r.outcome)
      assert.equal("DATA", r.command)
      assert.equal("filtered", r.reason)   -- "user unknown" after DATA is a content filter
      assert.equal("delivered", result(3, "filtered@example.org").outcome)
      assert.equal("active", t:get("filtered@example.org").state)
    end)

    it("offers a message's recipients in their order, in one transaction", function()
      local order = {}
      for _, e in ipairs(srv:entries()) do
        if #order < 6 then order[#order + 1] = e.cmd .. " " .. e.rcpt end
      end
      assert.same({ "RCPT ok@example.org", "RCPT grey@example.org", "RCPT full@example.org",
                    "RCPT gone@example.org", "RCPT listed@example.org", "DATA ok@example.org" }, order)
    end)

    it("sends the message intact (line endings, a leading dot)", function()
      local got
      for _, e in ipairs(srv:entries()) do
        if e.cmd == "DATA" and e.rcpt == "ok@example.org" then got = got or e.content end
      end
      assert.equal((MESSAGE:gsub("\n", "\r\n")), got)
    end)
  end)

  describe("with verp", function()
    it("sends each recipient from its own return path, which a later bounce is read by", function()
      local now = T0
      local t = tracker_at(function() return now end)
      local qu = mta.new{ tracker = t, host = "127.0.0.1", port = srv.port, clock = function() return now end,
                          verp = { prefix = "bounces+", domain = "news.example.com" } }
      assert(qu:add{ from = "news@example.com", data = MESSAGE,
                     to = { "verp-a@example.org", "dead@example.org", "verp-b@example.net" } })
      local r = qu:run()
      assert.same({ delivered = 2, suppressed = 1 }, r.counts)
      local from = {}
      for _, e in ipairs(srv:entries()) do
        if e.cmd == "DATA" and e.rcpt:match("^verp%-") then from[e.rcpt] = e.from end
      end
      assert.same({ ["verp-a@example.org"] = "bounces+verp-a=example.org@news.example.com",
                    ["verp-b@example.net"] = "bounces+verp-b=example.net@news.example.com" }, from)
      -- the recipient forwards to an address that fails later: the bounce
      -- comes back to verp-a's return path and names the forward
      local dsn = require("spec.support.mail").dsn{ rcpt = "a.fwd@elsewhere.example",
        status = "5.1.1", diag = "550 5.1.1 user unknown" }
      dsn = dsn:gsub("To: news@example.com", "To: " .. from["verp-a@example.org"], 1)
      local x = assert(bounce.parse(dsn, { verp = "bounces+" }))[1]
      assert.equals("verp-a@example.org", x.verp_rcpt)
      assert.equal("suppress", t:record{ rcpt = x.verp_rcpt, type = x.type, reason = x.reason, at = now }.action)
      assert.is_false((t:check("verp-a@example.org", now)))
    end)

    it("raises on a verp option that is not a prefix and a domain", function()
      local t = tracker_at(function() return T0 end)
      assert.has_error(function()
        mta.new{ tracker = t, host = "127.0.0.1", verp = { prefix = "bounces+" } }
      end, "bad argument #1 to 'new' (field 'verp': { prefix = 'bounces+', domain = 'mail.example.com' } expected)")
    end)
  end)

  describe("mta.connect", function()
    it("reads a multi-line EHLO reply whole and its extensions", function()
      local s = assert(mta.connect{ host = "127.0.0.1", port = srv.port, helo = "sender.example.com" })
      assert.matches("^250%-", s.ehlo)
      assert.matches("\n250 [^\n]+$", s.ehlo)
      assert.truthy(s.extensions.SIZE)
      assert.truthy(s.extensions["8BITMIME"])
      assert.equal(250, (s:mail("news@example.com")))
      local code, text = s:rcpt("gone@example.org")
      assert.equal(550, code)
      assert.equal(3, select(2, text:gsub("\n", "\n")) + 1)   -- three lines
      assert.equal(250, (s:rset()))
      s:quit()
      assert.is_true(s.closed)
    end)

    it("returns nil, err when nothing listens", function()
      local socket = require("socket")
      local probe = assert(socket.bind("127.0.0.1", 0))
      local _, port = probe:getsockname()
      probe:close()
      local s, err = mta.connect{ host = "127.0.0.1", port = tonumber(port) }
      assert.is_nil(s)
      assert.matches("^SMTP 127%.0%.0%.1:%d+: connect: ", err)
    end)
  end)

  describe("a block said with a 5xx", function()
    it("fails that message at once, keeps the address and holds it; a later message goes", function()
      local now = T0
      local t = tracker_at(function() return now end)
      local qu = mta.new{ tracker = t, host = "127.0.0.1", port = srv.port,
                          clock = function() return now end, defer = 300 }
      assert(qu:add{ id = "b1", from = "news@example.com", data = MESSAGE, to = "banned@example.org" })
      local r = qu:run()
      local x = r.results[1]
      assert.equal("failed", x.outcome)
      assert.equal(554, x.code)
      assert.equal("block", x.type)
      assert.equal("blocked", x.reason)
      assert.is_true(x.decision.permanent)
      assert.equal("hold", x.decision.action)
      assert.is_nil(x.retry_at)
      -- not retried: nothing left, whatever the clock says (not every 4h for 5 days)
      assert.equal(0, qu:pending())
      now = T0 + 5 * 86400
      assert.same({}, qu:run().results)
      assert.equal(1, srv:count("RCPT", "banned@example.org"))
      -- the address is kept (a block is about the sender), held until the backoff's end
      local rec = t:get("banned@example.org")
      assert.equal("active", rec.state)
      assert.equal("blocked", rec.reason)
      assert.is_true((t:check("banned@example.org", T0 + 1)))
      -- a new message is tried (and refused again), once the hold is over
      now = T0 + 1
      assert(qu:add{ id = "b2", from = "news@example.com", data = MESSAGE, to = "banned@example.org" })
      r = qu:run()
      assert.equal("waiting", r.results[1].outcome)
      assert.equal(T0 + 3600, r.results[1].retry_at)
      now = T0 + 3600
      assert.equal("failed", qu:run().results[1].outcome)
      assert.equal(2, srv:count("RCPT", "banned@example.org"))
      assert.equal(0, qu:pending())
    end)
  end)

  describe("queue failures", function()
    it("defers every recipient by the policy's backoff when the server cannot be reached", function()
      local socket = require("socket")
      local probe = assert(socket.bind("127.0.0.1", 0))
      local _, port = probe:getsockname()
      probe:close()
      local now = T0
      local t = tracker_at(function() return now end)
      local qu = mta.new{ tracker = t, host = "127.0.0.1", port = tonumber(port),
                          clock = function() return now end, defer = 120 }
      assert(qu:add{ from = "news@example.com", to = { "a@example.org", "b@example.org" }, data = MESSAGE })
      local r = qu:run()
      assert.matches("connect: ", r.error)
      assert.equal(2, r.counts.deferred)
      -- POLICY's soft backoff (10m, 20m, 40m), not the flat `defer`
      assert.equal(T0 + 600, r.results[1].retry_at)
      assert.equal(T0 + 600, r.results[2].retry_at)
      assert.equal(2, qu:pending())
      assert.equal(T0 + 600, qu:next_due())
      assert.is_nil(t:get("a@example.org"))   -- nothing recorded: the address is not at fault
      -- nothing is due before then
      now = T0 + 120
      assert.same({}, qu:run().results)
      -- refused again: the next steps, the last one repeating
      now = T0 + 600
      assert.equal(T0 + 600 + 1200, qu:run().results[1].retry_at)
      now = T0 + 1800
      assert.equal(T0 + 1800 + 2400, qu:run().results[1].retry_at)
      now = T0 + 4200
      assert.equal(T0 + 4200 + 2400, qu:run().results[1].retry_at)
      assert.is_nil(t:get("b@example.org"))
    end)

    it("starts the backoff again once the server answers", function()
      local socket = require("socket")
      local probe = assert(socket.bind("127.0.0.1", 0))
      local _, port = probe:getsockname()
      probe:close()
      local now = T0
      local t = tracker_at(function() return now end)
      local conn = { port = tonumber(port) }
      local qu = mta.new{ tracker = t, host = "127.0.0.1", port = conn.port,
                          clock = function() return now end }
      assert(qu:add{ from = "news@example.com", to = "full@example.org", data = MESSAGE })
      assert.equal(T0 + 600, qu:run().results[1].retry_at)
      now = T0 + 600
      assert.equal(T0 + 1800, qu:run().results[1].retry_at)   -- second refusal: 20m
      -- the server is back (same queue, its port): the soft bounce is the tracker's
      qu.conn.port = srv.port
      now = T0 + 1800
      local x = qu:run().results[1]
      assert.equal("retry", x.outcome)
      assert.equal(T0 + 1800 + 600, x.retry_at)
      -- unreachable again: the count of refusals started over
      qu.conn.port = conn.port
      now = T0 + 2400
      assert.equal(T0 + 2400 + 600, qu:run().results[1].retry_at)
    end)

    it("keeps what it did not settle queued when the tracker raises", function()
      local now = T0
      local t = tracker_at(function() return now end)
      -- a tracker whose store breaks after the first recipient is recorded
      local calls = 0
      local broken = setmetatable({ record = function(_, ev)
        calls = calls + 1
        if calls > 1 then error("store exploded") end
        return t.record(t, ev)
      end }, { __index = function(_, k) return function(_, ...) return t[k](t, ...) end end })
      local qu = mta.new{ tracker = broken, host = "127.0.0.1", port = srv.port,
                          clock = function() return now end }
      assert(qu:add{ from = "news@example.com", data = MESSAGE,
                     to = { "dead@example.org", "busy@example.org", "fine@example.org" } })
      assert.has_error(function() qu:run() end, "store exploded")
      -- dead@ was settled (suppressed); busy@ raised; fine@ was never reached
      local left = {}
      for _, e in ipairs(qu:list()) do left[#left + 1] = e.rcpt end
      table.sort(left)
      assert.same({ "busy@example.org", "fine@example.org" }, left)
      assert.equal("suppressed", t:get("dead@example.org").state)
    end)

    it("drops a message still queued after max_age", function()
      local now = T0
      local t = tracker_at(function() return now end)
      local qu = mta.new{ tracker = t, host = "127.0.0.1", port = 1, clock = function() return now end,
                          max_age = 3600 }
      assert(qu:add{ from = "news@example.com", to = "a@example.org", data = MESSAGE })
      now = T0 + 3600
      local r = qu:run()
      assert.equal("expired", r.results[1].outcome)
      assert.equal(0, qu:pending())
    end)
  end)

  describe("examples/mta/send.lua", function()
    it("sends, retries on a fake clock and prints each outcome", function()
      local root = HERE:match("^(.*)/spec$") or "."
      local rc, out = run("echo hello | lua5.4 " .. q(root .. "/examples/mta/send.lua")
        .. " --port " .. srv.port .. " --from news@example.com --subject hi --simulate --until 3600"
        .. " fine@example.org grey2@example.org gone@example.org")
      assert.equal(0, rc, out)
      local lines = {}
      for line in out:gmatch("[^\n]+") do lines[#lines + 1] = line end
      assert.same({
        "+0s  grey2@example.org  retry  450  onhold soft  -> next try +600s",
        "+0s  gone@example.org  suppressed  550  userunknown hard",
        "+0s  fine@example.org  delivered  250",
        "+600s  grey2@example.org  delivered  250",
      }, lines)
    end)
  end)

  describe("arguments", function()
    local t = tracker_at(function() return T0 end)
    local qu = mta.new{ tracker = t, host = "127.0.0.1", port = 1 }

    it("raises on wrong types", function()
      assert.has_error(function() mta.new("x") end,
        "bad argument #1 to 'new' (table expected, got string)")
      assert.has_error(function() mta.new{ host = "127.0.0.1" } end,
        "bad argument #1 to 'new' (field 'tracker': a bounce.tracker expected, got nil)")
      assert.has_error(function() mta.new{ tracker = t, host = "h", port = "25" } end,
        "bad argument #1 to 'new' (field 'port': number expected, got string)")
      assert.has_error(function() qu:add{ from = "a@x.org", to = 5, data = "" } end,
        "bad argument #1 to 'add' (field 'to': string or list expected, got number)")
      assert.has_error(function() qu:add{ from = "a@x.org", to = { "b@x.org", false }, data = "" } end,
        "bad argument #1 to 'add' (field 'to[2]': string expected, got boolean)")
      assert.has_error(function() qu:add{ from = "a@x.org", to = "b@x.org" } end,
        "bad argument #1 to 'add' (field 'data': string expected, got nil)")
      assert.has_error(function() mta.connect{ port = 25 } end,
        "bad argument #1 to 'connect' (field 'host': string expected, got nil)")
    end)

    it("returns nil, err for bad addresses", function()
      local id, err = qu:add{ from = "a@x.org", to = { "b@x.org", "no address" }, data = "" }
      assert.is_nil(id)
      assert.matches("^to%[2%]: ", err)
      id, err = qu:add{ from = "a@x.org", to = "b@x.org\r\nDATA", data = "" }
      assert.is_nil(id)
      assert.matches("^to%[1%]: invalid address", err)
      id, err = qu:add{ from = "a@x.org", to = {}, data = "" }
      assert.is_nil(id)
      assert.equal("to: no recipients", err)
      assert.equal(0, qu:pending())
      -- the null sender is allowed (bounces, DSNs)
      assert.equal(1, qu:add{ from = "", to = "b@x.org", data = "" })
    end)
  end)
end)
