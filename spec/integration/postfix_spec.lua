-- bounce inside a real Postfix (Debian's package), end to end: a private
-- instance (its own configuration folder and queue in a temporary folder,
-- spec/support/postfix.lua) relays to a scripted aiosmtpd server
-- (spec/support/smtpd.py), asks `bounce policyd` at RCPT TO, and hands the
-- bounces it writes for its VERP return paths to `bounce intake` through a
-- pipe transport. Both share one SQLite file, as the README's Postfix
-- section sets them up. Mail is submitted over SMTP with XVERP; short queue
-- times let Postfix retry within seconds and give up on a full mailbox
-- after four.
--
-- policyd and intake run as nobody (Postfix's pipe refuses root): the
-- history and its folder belong to nobody, so the SQLite WAL files they
-- both write are theirs.

local util = require("spec.support.util")
local postfix = require("spec.support.postfix")
local smtpd = require("spec.support.smtpd")

local q, run, read, write = util.q, util.run, util.read, util.write

local ROOT = (function()
  local _, out = run("pwd")
  return (out:gsub("%s+$", ""))
end)()
local AS_NOBODY = "setpriv --reuid=nobody --regid=nogroup --clear-groups "
local BOUNCE = "lua5.4 " .. ROOT .. "/bin/bounce"
local DOMAIN = "postfix-spec.test"          -- the instance's own name
local RETURN_PATH = "bounces@" .. DOMAIN    -- submitted with XVERP

local function available()
  local ok, why = postfix.available()
  if not ok then return false, why end
  ok, why = smtpd.available()
  if not ok then return false, why end
  if run("command -v setpriv") ~= 0 then return false, "setpriv not found (util-linux)" end
  if run("lua5.4 -e 'package.cpath = \"" .. ROOT .. "/build/?.so;\" .. package.cpath; require(\"bounce.sqlite\")'")
     ~= 0 then
    return false, "bounce.sqlite is not built for Lua 5.4 (make)"
  end
  return true
end

-- The relay's answers, per recipient, attempt after attempt (the last repeats).
local SCRIPT = { rcpt = {
  ["nouser@example.org"] = { "550 5.1.1 <nouser@example.org>: Recipient address rejected: User unknown" },
  ["full@example.org"] = { "452 4.2.2 <full@example.org>: Recipient address rejected: Mailbox full" },
  ["blocked@example.org"] = { "554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using "
                              .. "zen.spamhaus.org" },
  ["grey@example.org"] = { "450 4.2.0 <grey@example.org>: Recipient address rejected: Greylisted, "
                           .. "try again later", "250 2.1.5 OK" },
} }

-- Two soft bounces suppress (the default is 5: two messages are enough here).
local POLICY = "return { soft = { max_attempts = 2, window = \"72h\" } }\n"

------------------------------------------------------------------------------
-- An SMTP client for submissions (LuaSocket)
------------------------------------------------------------------------------

local function smtp_session(port)
  local socket = require("socket")
  local c = assert(socket.connect("127.0.0.1", port))
  c:settimeout(10)
  local s = {}
  function s.reply()
    local lines = {}
    repeat
      local l, err = c:receive("*l")
      assert(l, "SMTP: " .. tostring(err))
      lines[#lines + 1] = l
    until l:sub(4, 4) ~= "-"
    return table.concat(lines, "\n")
  end
  function s.cmd(line)
    assert(c:send(line .. "\r\n"))
    return s.reply()
  end
  function s.close()
    pcall(s.cmd, "QUIT")
    c:close()
  end
  assert(s.reply():match("^220"))
  assert(s.cmd("EHLO client.example.com"):match("^250"))
  return s
end

-- Submits one message; returns the reply to each RCPT TO, by recipient.
-- rcpts: a list of addresses, or of { address, "NOTIFY=..." }. With
-- opts.rset the transaction ends before DATA (only the RCPT replies count).
local function submit(port, rcpts, opts)
  local s = smtp_session(port)
  local replies = {}
  local ok, err = pcall(function()
    assert(s.cmd("MAIL FROM:<" .. RETURN_PATH .. "> XVERP"):match("^250"))
    local any = false
    for _, r in ipairs(rcpts) do
      local addr, param = r, nil
      if type(r) == "table" then addr, param = r[1], r[2] end
      replies[addr] = s.cmd("RCPT TO:<" .. addr .. ">" .. (param and " " .. param or ""))
      any = any or replies[addr]:match("^250") ~= nil
    end
    if opts and opts.rset or not any then
      s.cmd("RSET")
      return
    end
    assert(s.cmd("DATA"):match("^354"))
    local r = s.cmd("From: News <" .. RETURN_PATH .. ">\r\nTo: undisclosed-recipients:;\r\n"
      .. "Subject: the weekly news\r\nX-Campaign: weekly-1\r\n\r\nHello.\r\n.")
    assert(r:match("^250"), r)
  end)
  s.close()
  if not ok then error(err, 0) end
  return replies
end

------------------------------------------------------------------------------
-- The whole set-up, and its tear-down
------------------------------------------------------------------------------

local function alive(pid)
  local stat = read("/proc/" .. pid .. "/stat")
  return stat ~= nil and not stat:match("^%d+ %b() Z")
end

local function sleep(s) require("socket").sleep(s) end
local function now() return require("socket").gettime() end

local env = {}

local function stop_all()
  if env.pf then env.pf:stop() end
  if env.store then pcall(env.store.close, env.store) env.store = nil end
  if env.policyd_pid and alive(env.policyd_pid) then
    run("kill -TERM " .. env.policyd_pid)
    local deadline = now() + 5
    while alive(env.policyd_pid) and now() < deadline do sleep(0.02) end
    if alive(env.policyd_pid) then run("kill -KILL " .. env.policyd_pid) end
  end
  if env.srv then env.srv:stop() end
  if env.dir then run("rm -rf " .. q(env.dir)) end
end

local function start_policyd()
  local log = env.dir .. "/policyd.log"
  local rc, out = run(AS_NOBODY .. BOUNCE .. " policyd --db " .. q(env.db) .. " --create --check")
  assert(rc == 0, out)
  rc, out = run(AS_NOBODY .. BOUNCE .. " policyd --db " .. q(env.db) .. " --policy " .. q(env.policy)
    .. " --listen 127.0.0.1:0 >" .. q(log) .. " 2>&1 & echo $!")
  env.policyd_pid = tonumber(out:match("(%d+)"))
  assert(rc == 0 and env.policyd_pid, out)
  local deadline = now() + 15
  repeat
    env.policyd_port = tonumber((read(log) or ""):match("listening on 127%.0%.0%.1:(%d+)"))
    if env.policyd_port then return end
    sleep(0.02)
  until not alive(env.policyd_pid) or now() > deadline
  error("bounce policyd did not start:\n" .. (read(log) or ""))
end

local function start_postfix()
  local intake = BOUNCE .. " intake --db " .. env.db .. " --policy " .. env.policy
    .. " --verp bounces+ --to ${original_recipient} --campaign X-Campaign"
  env.pf = postfix.start{
    main = {
      relayhost = "[127.0.0.1]:" .. env.srv.port,
      smtpd_recipient_restrictions = "check_policy_service inet:127.0.0.1:" .. env.policyd_port
        .. ", permit_mynetworks, reject_unauth_destination",
      -- VERP: submitted with XVERP, bounces go to bounces+RCPT=DOMAIN@postfix-spec.test
      smtpd_authorized_verp_clients = "127.0.0.0/8",
      recipient_delimiter = "+",
      transport_maps = "inline:{ " .. RETURN_PATH .. "=bounce-intake: }",
      ["bounce-intake_destination_recipient_limit"] = 1,
      -- retry within seconds, give up on a 4xx after four
      maximal_queue_lifetime = "4s", bounce_queue_lifetime = "4s", queue_run_delay = "1s",
      minimal_backoff_time = "1s", maximal_backoff_time = "1s", delay_warning_time = "1s",
    },
    master = {
      "bounce-intake unix - n n - - pipe",
      "  flags=q user=nobody argv=" .. intake,
    },
  }
end

local function start_all()
  local rc, dir = run("mktemp -d /tmp/bounce-postfix-spec.XXXXXX")
  assert(rc == 0, dir)
  env.dir = dir:gsub("%s+$", "")
  env.db = env.dir .. "/history/bounce.db"
  env.policy = env.dir .. "/policy.lua"
  write(env.policy, POLICY)
  rc, dir = run("chmod 0755 " .. q(env.dir) .. " && chmod 0644 " .. q(env.policy) .. " && mkdir "
    .. q(env.dir .. "/history") .. " && chown nobody:nogroup " .. q(env.dir .. "/history"))
  assert(rc == 0, dir)
  env.srv = smtpd.start(SCRIPT, 120)
  start_policyd()
  start_postfix()
  env.store = assert(require("bounce").store.sqlite(env.db))
  env.t = assert(require("bounce").tracker{ policy = env.policy, store = env.store })
end

-- Waits until fn() is true (polling); raises with what is known when not.
local function wait_for(what, fn, seconds)
  local deadline = now() + (seconds or 30)
  repeat
    if fn() then return end
    sleep(0.2)
  until now() > deadline
  error("timed out waiting for " .. what .. "\n--- maillog:\n" .. env.pf:log()
    .. "\n--- policyd:\n" .. (read(env.dir .. "/policyd.log") or ""))
end

-- s as a Lua pattern that matches it literally
local function lit(s) return (s:gsub("%p", "%%%0")) end

local function state(rcpt)
  local r = env.t:get(rcpt)
  return r and r.state, r
end

------------------------------------------------------------------------------
-- The specs
------------------------------------------------------------------------------

local usable, why = available()

describe("bounce with a real Postfix: policy service and bounce intake", function()
  if not usable then
    if os.getenv("CI") then error(why) end
    pending(why)
    return
  end

  local etc_before = postfix.snapshot("/etc/postfix")
  local first, second, later, counts_at_end, counts_later

  setup(function()
    -- busted skips teardown when setup fails: stop what was started here
    local ok, err = pcall(function()
      start_all()
      first = submit(env.pf.port, { "ok@example.org", "nouser@example.org", "full@example.org",
                                    "blocked@example.org", { "grey@example.org", "NOTIFY=SUCCESS,FAILURE" } })
      second = submit(env.pf.port, { "full@example.org" })
      -- what Postfix does with them: bounces at once for 5xx, retries the
      -- 4xx, returns the full mailbox's messages when their time is up
      wait_for("the history to hold every outcome", function()
        return state("nouser@example.org") == "suppressed" and state("full@example.org") == "suppressed"
          and state("blocked@example.org") ~= nil and state("grey@example.org") ~= nil
      end)
      wait_for("the queue to empty", function()
        local _, out = run("postqueue -c " .. q(env.pf.conf) .. " -p")
        return out:find("Mail queue is empty", 1, true) ~= nil
      end)
      counts_at_end = {}
      for _, e in ipairs(env.srv:entries()) do
        counts_at_end[e.cmd .. " " .. e.rcpt] = (counts_at_end[e.cmd .. " " .. e.rcpt] or 0) + 1
      end
      later = submit(env.pf.port, { "nouser@example.org", "full@example.org", "blocked@example.org",
                                    "ok@example.org" }, { rset = true })
      sleep(2.5)   -- two more queue runs: anything still queued for them would show
      counts_later = {}
      for _, e in ipairs(env.srv:entries()) do
        counts_later[e.cmd .. " " .. e.rcpt] = (counts_later[e.cmd .. " " .. e.rcpt] or 0) + 1
      end
    end)
    if not ok then
      stop_all()
      error(err, 0)
    end
  end)

  teardown(stop_all)

  it("asks the policy service, which lets everything through before any bounce", function()
    for _, rcpt in ipairs({ "ok@example.org", "nouser@example.org", "full@example.org",
                            "blocked@example.org", "grey@example.org" }) do
      assert.matches("^250 ", first[rcpt], 1, false)
    end
    assert.matches("^250 ", second["full@example.org"])
  end)

  it("delivers at once where the relay says 250, and after a retry where it said 450 first", function()
    assert.equal(1, counts_at_end["DATA ok@example.org"])
    assert.equal(2, counts_at_end["RCPT grey@example.org"])
    assert.equal(1, counts_at_end["DATA grey@example.org"])
    -- the success notice asked for came back through intake
    local st, rec = state("grey@example.org")
    assert.equal("active", st)
    assert.equal("delivered", rec.last_event)
    -- each with its own VERP return path
    for _, e in ipairs(env.srv:entries()) do
      if e.cmd == "DATA" then
        assert.equal("bounces+" .. e.rcpt:gsub("@", "=") .. "@" .. DOMAIN, e.from)
      end
    end
  end)

  it("suppresses the 550 recipient from the DSN Postfix wrote", function()
    local st, rec = state("nouser@example.org")
    assert.equal("suppressed", st)
    assert.equal("hard", rec.cause)
    assert.equal("userunknown", rec.reason)
    -- the notice went to its VERP address and through the pipe to intake
    assert.matches(lit("to=<bounces+nouser=example.org@" .. DOMAIN .. ">, relay=bounce-intake,")
      .. "[^\n]*status=sent", env.pf:log())
  end)

  it("refuses the next submission to it at RCPT TO, with the why", function()
    assert.matches("^550 5%.1%.1 <nouser@example%.org>: Recipient address rejected: suppressed since "
      .. "%d%d%d%d%-%d%d%-%d%d: hard bounce %(userunknown%)$", later["nouser@example.org"])
  end)

  it("never suppresses a blocklisted address: a block holds the sender, not the address", function()
    local st, rec = state("blocked@example.org")
    assert.equal("active", st)
    assert.equal("block", rec.last_event)
    assert.equal("blocked", rec.reason)
    assert.is_true((env.t:check("blocked@example.org")))
    assert.matches("^250 ", later["blocked@example.org"])
    assert.matches("^250 ", later["ok@example.org"])
  end)

  it("suppresses the full mailbox after the policy's soft bounces, delay notices not counted", function()
    local st, rec = state("full@example.org")
    assert.equal("suppressed", st)
    assert.equal("soft_exhausted", rec.cause)
    assert.equal("mailboxfull", rec.reason)
    assert.equal(2, rec.attempts)
    -- Postfix sent delay notices too (delay_warning_time = 1s), to the plain
    -- return path; intake took them and recorded nothing: two soft
    -- bounces, not more
    local log = env.pf:log()
    local _, notices = log:gsub("sender delay notification", "")
    local _, taken = log:gsub(lit("relay=bounce-intake,") .. "[^\n]*status=sent %(delivered via bounce%-intake "
      .. "service %(bounce intake: not recorded: full@example%.org: a delay notice", "")
    assert.is_true(notices >= 1, log)
    assert.equal(notices, taken)
    assert.matches("^550 5%.7%.1 <full@example%.org>: Recipient address rejected: suppressed since "
      .. "[^\n]*2 soft bounces in a row %(mailboxfull%)$", later["full@example.org"])
  end)

  it("lets nothing reach a suppressed address", function()
    assert.equal(1, counts_later["RCPT nouser@example.org"])
    assert.equal(counts_at_end["RCPT full@example.org"], counts_later["RCPT full@example.org"])
    assert.is_nil(counts_later["DATA nouser@example.org"])
    assert.is_nil(counts_later["DATA full@example.org"])
    assert.is_nil(counts_later["DATA blocked@example.org"])
    -- the policy service said why, in its log
    local log = read(env.dir .. "/policyd.log")
    assert.matches("suppressed <nouser@example%.org> from <" .. lit(RETURN_PATH) .. ">: 550 5%.1%.1", log)
  end)

  it("defers at RCPT TO a sender whose health is stop, from the bounces intake recorded", function()
    -- intake counted the return path's bounces (a hard one among five
    -- outcomes) in the history file; judged from 3 messages up, that is
    -- stop. policyd reads its policy file again within a second, and the
    -- counts intake left in the file.
    write(env.policy, (POLICY:gsub("}%s*$", ", health = { min_sent = 3 } }\n")))
    local reply
    local deadline = now() + 10
    repeat
      reply = submit(env.pf.port, { "ok@example.org" }, { rset = true })["ok@example.org"]
      if reply:match("^450") then break end
      sleep(0.3)
    until now() > deadline
    assert.matches("^450 4%.7%.1 <ok@example%.org>: Recipient address rejected: sender " .. lit(RETURN_PATH)
      .. " at health stop: 1 hard bounces, 0 complaints in %d+ messages$", reply)
    assert.matches("held <ok@example%.org> from <" .. lit(RETURN_PATH) .. ">: 450 4%.7%.1",
      read(env.dir .. "/policyd.log"))
  end)

  it("stops Postfix and every process it started, and leaves /etc/postfix as it was", function()
    local pf = env.pf
    assert.is_true(#pf:pids() >= 4, "the instance's processes are not found: nothing to check")
    assert.is_true(alive(env.policyd_pid))
    stop_all()
    assert.same({}, pf:pids())
    assert.is_false(alive(env.policyd_pid))
    assert.is_nil(read(pf.conf .. "/main.cf"))   -- its folder is gone
    assert.equal(etc_before, postfix.snapshot("/etc/postfix"))
  end)
end)
