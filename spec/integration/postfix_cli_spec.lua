-- bounce policyd and bounce intake from the command line, without Postfix:
-- the policy service over loopback (many connections at once, clients that
-- break the protocol, a Redis that goes away) and intake's exit codes,
-- which are what Postfix's pipe transport acts on.
local util = require("spec.support.util")
local redis_srv = require("spec.support.redis")
local socket = require("socket")

local q, run, read, write = util.q, util.run, util.read, util.write

local BOUNCE = "lua5.4 bin/bounce"

local function have_sqlite()
  return run("lua5.4 -e 'package.cpath = \"./build/?.so;\" .. package.cpath; require(\"bounce.sqlite\")'") == 0
end

local function tmpdir()
  local rc, dir = run("mktemp -d /tmp/bounce-postfix-cli.XXXXXX")
  assert(rc == 0, dir)
  return (dir:gsub("%s+$", ""))
end

-- A history file with some suppressions, made in this process.
local function seed(path, events)
  local bounce = require("bounce")
  local s = assert(bounce.store.sqlite(path))
  local t = assert(bounce.tracker{ store = s })
  for _, ev in ipairs(events or {}) do assert(t:record(ev)) end
  s:close()
end

local function tracker_on(path)
  local bounce = require("bounce")
  local s = assert(bounce.store.sqlite(path))
  return assert(bounce.tracker{ store = s }), s
end

------------------------------------------------------------------------------
-- A policyd process and a client for it
------------------------------------------------------------------------------

local function alive(pid)
  local stat = read("/proc/" .. pid .. "/stat")
  return stat ~= nil and not stat:match("^%d+ %b() Z")
end

local Daemon = {}
Daemon.__index = Daemon

-- Starts bin/bounce policyd ARGS on a free port; raises with its log if it does not listen.
local function policyd(dir, args, env)
  local self = setmetatable({ log = dir .. "/policyd." .. tostring(math.random(1e9)) .. ".log" }, Daemon)
  local rc, out = run((env or "") .. " " .. BOUNCE .. " policyd " .. args .. " --listen 127.0.0.1:0 >"
    .. q(self.log) .. " 2>&1 & echo $!")
  self.pid = tonumber(out:match("(%d+)"))
  assert(rc == 0 and self.pid, out)
  local deadline = socket.gettime() + 10
  repeat
    self.port = tonumber((read(self.log) or ""):match("listening on 127%.0%.0%.1:(%d+)"))
    if self.port then return self end
    socket.sleep(0.02)
  until not alive(self.pid) or socket.gettime() > deadline
  self:stop()
  error("bounce policyd did not start: " .. (read(self.log) or ""), 2)
end

function Daemon:stop()
  if self.pid and alive(self.pid) then
    run("kill -TERM " .. self.pid)
    local deadline = socket.gettime() + 5
    while alive(self.pid) and socket.gettime() < deadline do socket.sleep(0.02) end
    if alive(self.pid) then run("kill -KILL " .. self.pid) end
  end
  self.pid = nil
end

function Daemon:output() return read(self.log) or "" end

local function request(rcpt, sender)
  return "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
    .. "client_address=127.0.0.1\nsender=" .. (sender or "news@example.com") .. "\nrecipient="
    .. rcpt .. "\n\n"
end

local function connect(port)
  local c = assert(socket.connect("127.0.0.1", port))
  c:settimeout(5)
  return c
end

-- Reads one answer: the action, after checking the empty line that ends it.
local function answer(c)
  local line, err = c:receive("*l")
  if not line then return nil, err end
  local blank = c:receive("*l")
  assert.equal("", blank)
  return (line:match("^action=(.*)$"))
end

local function ask(port, rcpt, sender)
  local c = connect(port)
  assert(c:send(request(rcpt, sender)))
  local a, err = answer(c)
  c:close()
  return a, err
end

------------------------------------------------------------------------------
-- The specs
------------------------------------------------------------------------------

describe("bounce policyd", function()
  if not have_sqlite() then
    pending("bounce.sqlite is not built for Lua 5.4 (make)")
    return
  end
  local dir, db
  setup(function()
    dir = tmpdir()
    db = dir .. "/bounce.db"
    seed(db, {
      { rcpt = "nouser@example.org", reply = "550 5.1.1 user unknown", at = os.time() - 3600 },
      { rcpt = "spam@example.org", type = "complaint", at = os.time() - 3600 },
    })
  end)
  teardown(function() if dir then run("rm -rf " .. q(dir)) end end)

  describe("refuses to start", function()
    it("without a history to read", function()
      local rc, out = run(BOUNCE .. " policyd --listen 127.0.0.1:0")
      assert.equal(2, rc)
      assert.matches("where is the history%? %-%-db FILE or %-%-store URL", out)
    end)

    it("on a missing file, and creates nothing", function()
      local rc, out = run(BOUNCE .. " policyd --db " .. q(dir .. "/typo.db") .. " --listen 127.0.0.1:0")
      assert.equal(2, rc)
      assert.matches("typo.db: no such file", out, 1, true)
      assert.is_false(util.exists(dir .. "/typo.db"))
    end)

    it("on a file that is not a SQLite history, on :memory:, on bad options", function()
      write(dir .. "/notes.txt", "hello\n")
      local rc, out = run(BOUNCE .. " policyd --db " .. q(dir .. "/notes.txt"))
      assert.equal(2, rc)
      assert.matches("not a SQLite database", out, 1, true)
      rc, out = run(BOUNCE .. " policyd --db :memory:")
      assert.equal(2, rc)
      assert.matches("a SQLite file expected", out, 1, true)
      for _, args in ipairs({ "--on-error maybe", "--listen nowhere", "--bogus", "--max-connections 0",
                              "--store redis://127.0.0.1:6379 --db x.db" }) do
        rc, out = run(BOUNCE .. " policyd --db " .. q(db) .. " " .. args)
        assert.equal(2, rc, args .. ": " .. out)
      end
    end)

    it("when its port is taken", function()
      local d = policyd(dir, "--db " .. q(db))
      local rc, out = run(BOUNCE .. " policyd --db " .. q(db) .. " --listen 127.0.0.1:" .. d.port)
      d:stop()
      assert.equal(2, rc)
      assert.matches("127.0.0.1:" .. d.port .. ": address already in use", out, 1, true)
    end)

    it("unless --create asks for a new history (with --check: make it and exit)", function()
      local path = dir .. "/new.db"
      local rc, out = run(BOUNCE .. " policyd --db " .. q(path) .. " --create --check")
      assert.equal(0, rc, out)
      assert.matches("the history answers", out, 1, true)
      rc = run(BOUNCE .. " policyd --db " .. q(path) .. " --check")
      assert.equal(0, rc)
    end)
  end)

  describe("serving", function()
    local d
    setup(function() d = policyd(dir, "--db " .. q(db)) end)
    teardown(function() if d then d:stop() end end)

    it("refuses suppressed recipients with the why and lets the others through", function()
      assert.matches("^550 5%.1%.1 suppressed since %d+%-%d+%-%d+: hard bounce %(userunknown%)$",
                     ask(d.port, "nouser@example.org"))
      assert.matches("^550 5%.7%.1 suppressed since .*: spam complaint", ask(d.port, "spam@example.org"))
      assert.equal("DUNNO", ask(d.port, "ann@example.org"))
      assert.matches("suppressed <nouser@example%.org> from <news@example%.com>: 550 5%.1%.1", d:output())
    end)

    it("answers many requests on one connection, as Postfix keeps it open", function()
      local c = connect(d.port)
      for i = 1, 200 do
        assert(c:send(request(i % 2 == 0 and "nouser@example.org" or "r" .. i .. "@example.org")))
        local a = answer(c)
        if i % 2 == 0 then assert.matches("^550 ", a) else assert.equal("DUNNO", a) end
      end
      -- and several sent at once, answered in order
      local batch = {}
      for i = 1, 20 do batch[i] = request(i % 4 == 0 and "spam@example.org" or "x@example.org") end
      assert(c:send(table.concat(batch)))
      for i = 1, 20 do
        local a = answer(c)
        if i % 4 == 0 then assert.matches("^550 5%.7%.1 ", a) else assert.equal("DUNNO", a) end
      end
      c:close()
    end)

    it("serves many connections at once, and a slow client holds up no one", function()
      local slow = connect(d.port)
      assert(slow:send("request=smtpd_access_policy\nprotocol_state=RCPT\n"))   -- and then nothing
      local conns = {}
      for i = 1, 100 do conns[i] = connect(d.port) end
      for round = 1, 3 do
        for i, c in ipairs(conns) do
          assert(c:send(request((i + round) % 10 == 0 and "nouser@example.org" or "u" .. i .. "@example.org")))
        end
        for i, c in ipairs(conns) do
          local a = answer(c)
          if (i + round) % 10 == 0 then assert.matches("^550 ", a) else assert.equal("DUNNO", a) end
        end
      end
      assert(slow:send("recipient=nouser@example.org\n\n"))
      assert.matches("^550 5%.1%.1 ", answer(slow))
      for _, c in ipairs(conns) do c:close() end
      slow:close()
    end)

    it("closes a connection that breaks the protocol, and keeps serving", function()
      local c = connect(d.port)
      assert(c:send("GET / HTTP/1.0\r\n\r\n"))
      local line, err = c:receive("*l")
      assert.is_nil(line)
      assert.equal("closed", err)
      c:close()
      c = connect(d.port)
      assert(c:send("recipient=" .. ("x"):rep(70000)))
      line, err = c:receive("*l")
      assert.is_nil(line)
      assert.equal("closed", err)
      c:close()
      assert.equal("DUNNO", ask(d.port, "ann@example.org"))
      assert.matches("closing a connection: not a name=value line", d:output())
      assert.matches("closing a connection: request over 65536 bytes", d:output())
    end)

    it("sees what another process records, as it happens", function()
      assert.equal("DUNNO", ask(d.port, "later@example.org"))
      local t, s = tracker_on(db)
      assert(t:record{ rcpt = "later@example.org", reply = "550 5.1.1 user unknown" })
      s:close()
      assert.matches("^550 5%.1%.1 ", ask(d.port, "later@example.org"))
    end)

    it("refuses every address at a dead domain from the SQLite history, with 5.1.2 and the why", function()
      local t, s = tracker_on(db)
      assert(t:record{ rcpt = "x@lapsed.example",
        reply = "550 5.1.2 <x@lapsed.example>: Recipient address rejected: Domain not found" })
      s:close()
      assert.matches("^550 5%.1%.2 dead domain lapsed%.example since %d+%-%d+%-%d+ until %d+%-%d+%-%d+: "
        .. "no such domain %(hostunknown%)$", ask(d.port, "anyone@lapsed.example"))
      t, s = tracker_on(db)
      assert(t:record{ rcpt = "back@lapsed.example", type = "delivered" })
      s:close()
      assert.equal("DUNNO", ask(d.port, "anyone@lapsed.example"))
    end)
  end)

  describe("with more connections than --max-connections", function()
    it("closes the extra ones at once, and says so", function()
      local d = policyd(dir, "--db " .. q(db) .. " --max-connections 2")
      local ok, err = pcall(function()
        local a, b = connect(d.port), connect(d.port)
        assert(a:send(request("ann@example.org")))
        assert.equal("DUNNO", answer(a))
        local c = connect(d.port)
        local line, cerr = c:receive("*l")
        assert.is_nil(line)
        assert.equal("closed", cerr)
        assert(b:send(request("nouser@example.org")))
        assert.matches("^550 ", answer(b))
        a:close(); b:close(); c:close()
        assert.matches("too many connections %(2%)", d:output())
      end)
      d:stop()
      if not ok then error(err, 0) end
    end)
  end)

  describe("over Redis", function()
    local usable, why = redis_srv.available()
    if not usable then
      pending(why)
      return
    end
    local srv, defer, dunno
    setup(function()
      srv = redis_srv.start()
      local ok, err = pcall(function()
        local bounce = require("bounce")
        local s = assert(bounce.store.redis(nil, { connect = srv:connector(), prefix = "pf:" }))
        local t = assert(bounce.tracker{ store = s })
        assert(t:record{ rcpt = "nouser@example.org", reply = "550 5.1.1 user unknown" })
        local url = "redis://127.0.0.1:" .. srv:port() .. "/pf:"
        defer = policyd(dir, "--store " .. url .. " --redis-timeout 500")
        dunno = policyd(dir, "--store " .. url .. " --on-error dunno --redis-timeout 500")
      end)
      if not ok then
        if defer then defer:stop() end
        srv:stop()
        error(err, 0)
      end
    end)
    teardown(function()
      if defer then defer:stop() end
      if dunno then dunno:stop() end
      if srv then srv:stop() end
    end)

    it("reads the history bounce serve would share", function()
      assert.matches("^550 5%.1%.1 ", ask(defer.port, "nouser@example.org"))
      assert.equal("DUNNO", ask(defer.port, "ann@example.org"))
    end)

    it("answers what the operator chose while Redis is down, and recovers when it is back", function()
      srv:down()
      local c = connect(defer.port)   -- a connection kept across the outage, as Postfix keeps it
      for _ = 1, 5 do
        assert(c:send(request("ann@example.org")))
        assert.equal("451 4.3.0 bounce history unavailable, try again later", answer(c))
      end
      assert.equal("DUNNO", ask(dunno.port, "nouser@example.org"))
      srv:up()   -- empty: the server keeps nothing
      local bounce = require("bounce")
      local s = assert(bounce.store.redis(nil, { connect = srv:connector(), prefix = "pf:" }))
      assert(assert(bounce.tracker{ store = s }):record{ rcpt = "nouser@example.org", reply = "550 5.1.1 user unknown" })
      assert(c:send(request("nouser@example.org")))
      assert.matches("^550 5%.1%.1 ", answer(c))
      assert.matches("^550 5%.1%.1 ", ask(dunno.port, "nouser@example.org"))
      c:close()
      -- the outage is logged once, the repeats counted, not every request
      local _, n = defer:output():gsub("history unavailable, answering 451", "")
      assert.equal(1, n)
      assert.matches("history unavailable, answering DUNNO: store: redis", dunno:output())
    end)

    it("refuses to start when Redis does not answer", function()
      local port = util.free_port()
      local rc, out = run(BOUNCE .. " policyd --store redis://127.0.0.1:" .. port .. " --check")
      assert.equal(2, rc)
      assert.matches("redis://127.0.0.1:" .. port .. ": redis: connect failed", out, 1, true)
    end)
  end)
end)

------------------------------------------------------------------------------
-- bounce intake
------------------------------------------------------------------------------

-- A delivery status notification in the shape Postfix writes (RFC 3464).
local function dsn(o)
  local action = o.action or "failed"
  return table.concat({
    "Return-Path: <>",
    "From: MAILER-DAEMON@mta.example.com (Mail Delivery System)",
    "Subject: " .. (action == "delayed" and "Delayed Mail (still being retried)"
                    or "Undelivered Mail Returned to Sender"),
    "To: " .. (o.to or "bounces@mta.example.com"),
    "Date: " .. (o.date or "Fri, 20 Nov 2026 10:00:00 +0000"),
    "MIME-Version: 1.0",
    "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B1\"",
    "",
    "--B1",
    "Content-Type: text/plain",
    "",
    "This is the mail system at host mta.example.com.",
    "",
    "--B1",
    "Content-Type: message/delivery-status",
    "",
    "Reporting-MTA: dns; mta.example.com",
    "Arrival-Date: " .. (o.date or "Fri, 20 Nov 2026 09:59:58 +0000"),
    "",
    "Final-Recipient: rfc822; " .. o.rcpt,
    "Original-Recipient: rfc822;" .. o.rcpt,
    "Action: " .. action,
    "Status: " .. (o.status or "5.1.1"),
    "Remote-MTA: dns; mx.example.org",
    "Diagnostic-Code: smtp; " .. (o.diag or "550 5.1.1 <" .. o.rcpt .. ">: Recipient address rejected: User unknown"),
    "",
    "--B1",
    "Content-Type: text/rfc822-headers",
    "",
    "From: " .. (o.from or "News <news@example.com>"),
    "To: " .. o.rcpt,
    "Subject: the weekly news",
    "X-Campaign: weekly-7",
    "",
    "--B1--",
    "",
  }, "\n")
end

local ARF = table.concat({
  "From: staff@hotmail.com",
  "To: fbl@mta.example.com",
  "Subject: complaint about message from 192.0.2.1",
  "MIME-Version: 1.0",
  "Content-Type: multipart/report; report-type=feedback-report; boundary=\"F\"",
  "",
  "--F",
  "Content-Type: text/plain",
  "",
  "This is an email abuse report.",
  "",
  "--F",
  "Content-Type: message/feedback-report",
  "",
  "Feedback-Type: abuse",
  "User-Agent: SomeGenerator/1.0",
  "Version: 1",
  "Original-Rcpt-To: <complainer@example.org>",
  "",
  "--F",
  "Content-Type: text/rfc822-headers",
  "",
  "From: news@example.com",
  "To: complainer@example.org",
  "Subject: the weekly news",
  "",
  "--F--",
  "",
}, "\n")

describe("bounce intake", function()
  if not have_sqlite() then
    pending("bounce.sqlite is not built for Lua 5.4 (make)")
    return
  end
  local dir, db
  setup(function()
    dir = tmpdir()
    db = dir .. "/bounce.db"
    seed(db)
  end)
  teardown(function() if dir then run("rm -rf " .. q(dir)) end end)

  local function intake(args, message)
    local path = dir .. "/in.eml"
    write(path, message or "")
    return run(BOUNCE .. " intake " .. args .. " <" .. q(path))
  end

  local function get(rcpt)
    local t, s = tracker_on(db)
    local r = t:get(rcpt)
    s:close()
    return r
  end

  it("records a hard bounce, exits 0 and prints the decision", function()
    local rc, out = intake("--db " .. q(db), dsn{ rcpt = "nouser@example.org" })
    assert.equal(0, rc, out)
    assert.matches('"action":"suppress"', out, 1, true)
    local r = get("nouser@example.org")
    assert.same({ "suppressed", "hard", "userunknown" }, { r.state, r.cause, r.reason })
    assert.equal(1795168798, r.since)   -- its Arrival-Date (2026-11-20 09:59:58 UTC), not the time it was read
  end)

  it("records the recipient its VERP address names, from --to or from the message", function()
    local forward = dsn{ rcpt = "ann@forward.example.net", to = "bounces+ann=example.org@mta.example.com",
                         status = "5.1.1" }
    local rc, out = intake("--db " .. q(db) .. " --verp bounces+ --quiet", forward)
    assert.equal(0, rc, out)
    assert.equal("", out)
    assert.equal("suppressed", get("ann@example.org").state)
    assert.is_nil(get("ann@forward.example.net"))
    -- --to (Postfix's ${original_recipient}) wins over the headers
    rc, out = intake("--db " .. q(db) .. " --verp bounces+ --to bounces+bob=example.org@mta.example.com",
                     dsn{ rcpt = "bob@forward.example.net" })
    assert.equal(0, rc, out)
    assert.equal("suppressed", get("bob@example.org").state)
    -- a --to that is not a VERP address (delay and success notices come to
    -- the plain return path) leaves the message to say whom it is about
    rc, out = intake("--db " .. q(db) .. " --verp bounces+ --to bounces@mta.example.com",
                     dsn{ rcpt = "carol@example.org" })
    assert.equal(0, rc, out)
    assert.equal("suppressed", get("carol@example.org").state)
  end)

  it("counts a soft bounce, a block and a complaint, each by its kind", function()
    assert.equal(0, (intake("--db " .. q(db) .. " --campaign X-Campaign",
      dsn{ rcpt = "full@example.org", status = "4.2.2", diag = "452 4.2.2 Mailbox full" })))
    local r = get("full@example.org")
    assert.same({ "bouncing", 1, "mailboxfull" }, { r.state, r.attempts, r.reason })
    assert.equal(0, (intake("--db " .. q(db), dsn{ rcpt = "listed@example.org", status = "5.7.1",
      diag = "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org" })))
    r = get("listed@example.org")
    assert.same({ "active", "block" }, { r.state, r.last_event })
    assert.equal(0, (intake("--db " .. q(db), ARF)))
    r = get("complainer@example.org")
    assert.same({ "suppressed", "complaint" }, { r.state, r.cause })
  end)

  it("records nothing for a delay notice or a message that is not a bounce, and exits 0", function()
    local rc, out = intake("--db " .. q(db), dsn{ rcpt = "slow@example.org", action = "delayed", status = "4.4.1",
                                                   diag = "451 4.4.1 try again later" })
    assert.equal(0, rc, out)
    assert.matches("not recorded: slow@example.org: a delay notice", out, 1, true)
    assert.is_nil(get("slow@example.org"))
    rc, out = intake("--db " .. q(db), "From: ann@example.org\nSubject: lunch?\n\nAt noon?\n")
    assert.equal(0, rc, out)
    assert.matches("not a bounce", out, 1, true)
  end)

  it("exits 75 when the history fails, so Postfix keeps the message, and creates nothing", function()
    local rc, out = intake("--db " .. q(dir .. "/missing.db"), dsn{ rcpt = "x@example.org" })
    assert.equal(75, rc)
    assert.matches("missing.db: no such file", out, 1, true)
    assert.is_false(util.exists(dir .. "/missing.db"))
    rc, out = intake("--store redis://127.0.0.1:" .. util.free_port(), dsn{ rcpt = "x@example.org" })
    assert.equal(75, rc)
    assert.matches("redis: connect failed", out, 1, true)
    write(dir .. "/broken.lua", "return { soft = { max_attempts = -3 } }")
    rc, out = intake("--db " .. q(db) .. " --policy " .. q(dir .. "/broken.lua"), dsn{ rcpt = "x@example.org" })
    assert.equal(75, rc)
    assert.matches("max_attempts", out, 1, true)
  end)

  it("exits 75 when the health counts cannot be written, and records nothing of the message", function()
    if run("command -v sqlite3") ~= 0 then return pending("the sqlite3 shell is not installed") end
    local path = dir .. "/health-fails.db"
    seed(path)
    -- the file refuses new health rows, as a full disk would refuse the write
    local rc, out = run("sqlite3 " .. q(path) .. " \"CREATE TRIGGER health_full BEFORE INSERT ON health "
      .. "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;\"")
    assert.equal(0, rc, out)
    rc, out = intake("--db " .. q(path), dsn{ rcpt = "kept@example.org" })
    assert.equal(75, rc)
    assert.matches("database or disk is full", out, 1, true)
    assert.matches("nothing recorded from this message", out, 1, true)
    local t, s = tracker_on(path)
    assert.is_nil(t:get("kept@example.org"))   -- rolled back with the counts
    s:close()
    -- once the file takes them again, the message Postfix retries is recorded, its counts with it
    assert.equal(0, (run("sqlite3 " .. q(path) .. " 'DROP TRIGGER health_full'")))
    rc, out = intake("--db " .. q(path), dsn{ rcpt = "kept@example.org", date = os.date("!%a, %d %b %Y %H:%M:%S +0000") })
    assert.equal(0, rc, out)
    t, s = tracker_on(path)
    assert.equal("suppressed", t:get("kept@example.org").state)
    assert.equal(1, t:health("sender:news@example.com").hard)
    s:close()
  end)

  it("exits 75 while Redis is down, and records every recipient when it is up", function()
    if not redis_srv.available() then return pending("redis-server is not installed") end
    local srv = redis_srv.start()
    local ok, err = pcall(function()
      local two = dsn{ rcpt = "one@example.org" }:gsub("(Final%-Recipient: rfc822; one@example.org)",
        "Final-Recipient: rfc822; two@example.org\nAction: failed\nStatus: 5.1.1\n\n%1")
      local url = "redis://127.0.0.1:" .. srv:port()
      local rc, out = intake("--store " .. url, two)
      assert.equal(0, rc, out)
      -- two records, and the health hashes of the sender and of the domain
      assert.equal("4", srv:cli("DBSIZE"))
      assert.equal("2", srv:cli("EXISTS bounce:{one@example.org} bounce:{two@example.org}"))
      srv:down()
      rc, out = intake("--store " .. url, two)
      assert.equal(75, rc)
      assert.matches("redis: connect failed", out, 1, true)
    end)
    srv:stop()
    if not ok then error(err, 0) end
  end)

  it("exits 64 on a usage error and 65 on a message it cannot read", function()
    for _, args in ipairs({ "--bogus", "--db " .. q(db) .. " --to x@example.org", "--db " .. q(db) .. " extra",
                            "--db " .. q(db) .. " --verp 'bad prefix'", "" }) do
      local rc, out = intake(args, dsn{ rcpt = "x@example.org" })
      assert.equal(64, rc, args .. ": " .. out)
    end
    local rc, out = intake("--db " .. q(db), "")
    assert.equal(65, rc, out)
    rc, out = intake("--db " .. q(db), dsn{ rcpt = "not an address" })
    assert.equal(65, rc, out)
    assert.matches("not recorded", out, 1, true)
  end)

  it("reads a message that pipe's flags=F starts with a From line", function()
    local rc, out = intake("--db " .. q(db), "From MAILER-DAEMON Fri Nov 20 10:00:00 2026\n"
      .. dsn{ rcpt = "dave@example.org" })
    assert.equal(0, rc, out)
    assert.equal("suppressed", get("dave@example.org").state)
  end)
end)

describe("bounce policyd with the health bounce intake records in other processes", function()
  if not have_sqlite() then
    pending("bounce.sqlite is not built for Lua 5.4 (make)")
    return
  end
  local dir, db, d, policy
  setup(function()
    dir = tmpdir()
    db = dir .. "/bounce.db"
    seed(db)
    policy = dir .. "/health-policy.lua"
    write(policy, "return { health = { min_sent = 10, hard = { caution = 0.01, throttle = 0.02, stop = 0.05 } } }\n")
    d = policyd(dir, "--db " .. q(db) .. " --policy " .. q(policy))
  end)
  teardown(function()
    if d then d:stop() end
    if dir then run("rm -rf " .. q(dir)) end
  end)

  it("defers a sender at health stop with 450 4.7.1 and the why, and only that sender", function()
    assert.equal("DUNNO", ask(d.port, "fresh@example.org", "promo@example.com"))
    -- ten hard bounces from now, each read by its own bounce intake process
    local now = os.date("!%a, %d %b %Y %H:%M:%S +0000")
    local path = dir .. "/promo.eml"
    for i = 1, 10 do
      write(path, dsn{ rcpt = "promo" .. i .. "@example.org", from = "Promo <promo@example.com>", date = now })
      local rc, out = run(BOUNCE .. " intake --db " .. q(db) .. " --policy " .. q(policy) .. " --quiet <" .. q(path))
      assert.equal(0, rc, out)
    end
    -- policyd keeps what it read for a second at most
    local a
    local deadline = socket.gettime() + 5
    repeat
      a = ask(d.port, "fresh@example.org", "promo@example.com")
      if a ~= "DUNNO" then break end
      socket.sleep(0.2)
    until socket.gettime() > deadline
    assert.equal("450 4.7.1 sender promo@example.com at health stop: 10 hard bounces, 0 complaints in 10 messages", a)
    assert.equal("DUNNO", ask(d.port, "fresh@example.org", "news@example.com"))
    assert.matches("held <fresh@example%.org> from <promo@example%.com>: 450 4%.7%.1", d:output())
    -- the counts are in the file, for any tracker on it
    local t, s = tracker_on(db)
    local h = assert(t:health("sender:promo@example.com"))
    s:close()
    assert.equal(10, h.hard)
  end)
end)
