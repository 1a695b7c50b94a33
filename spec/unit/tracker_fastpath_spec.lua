-- The memory store's one-call t:record (core.recorder in src/lmstore.c)
-- must be invisible: the same events through a tracker with the fast path
-- and one without (fast_path = false, the Lua path every other store
-- takes) give the same decisions, errors, clock and random calls, records,
-- health counts, scopes and expiries. The events are pseudo-random but
-- seeded, and mix what the fast path takes with everything it declines:
-- replies (classified in C, with rhost and command, and a rule added at run
-- time; or declined: empty, too long, not strings, unknown commands), bad
-- addresses, unknown types and reasons, counts,
-- times out of range or missing, numbers as campaign names, names longer
-- than its health buffer keeps, metatables, jitter, policy hooks that read
-- health, corrupt records, a reload that changes the health window, and
-- more domains than the params cache holds.
local bounce = require("bounce")

local T0 = 1795132800   -- 2026-11-20 00:00 UTC

-- A stable text of any value: tables with sorted keys, numbers with their
-- subtype (an integer and a float that print alike are different answers).
local function ser(v, depth)
  depth = depth or 0
  local t = type(v)
  if t == "table" then
    if depth > 3 then return "{...}" end
    local ks = {}
    for k in pairs(v) do ks[#ks + 1] = k end
    table.sort(ks, function(a, b) return tostring(a) < tostring(b) end)
    local parts = {}
    for _, k in ipairs(ks) do parts[#parts + 1] = tostring(k) .. "=" .. ser(v[k], depth + 1) end
    return "{" .. table.concat(parts, ",") .. "}"
  elseif t == "string" then
    return string.format("%q", v)
  elseif t == "number" then
    return (math.type and math.type(v) or "n") .. ":" .. tostring(v)
  end
  return tostring(v)
end

-- Runs one seeded session; returns its log, one line per answer.
local function session(fast_path, seed, n)
  local out = {}
  local function log(...)
    local t = {}
    for i = 1, select("#", ...) do t[i] = ser((select(i, ...))) end
    out[#out + 1] = table.concat(t, " ")
  end
  local function rnd(k)
    seed = (seed * 16807) % 2147483647
    return seed % k
  end
  local clock_n, rand_n, clock_mode = 0, 0, "int"
  local function clock()
    clock_n = clock_n + 1
    if clock_mode == "float" then return T0 + clock_n * 7 + 0.75 end
    if clock_mode == "str" then return tostring(T0 + clock_n) end
    if clock_mode == "bad" then return -5 end
    return T0 + clock_n * 7
  end
  local function random()
    rand_n = rand_n + 1
    return (rand_n * 0.37) % 1
  end
  local function call(f, ...)
    local r = { pcall(f, ...) }
    if not r[1] then r[2] = tostring(r[2]):gsub("^[^:]*:%d+: ", "") end
    return r[1], r[2], r[3]
  end

  local t
  local policy = {
    soft = { max_attempts = 4, window = "2h",
             backoff = { first = "5m", factor = 2, max = "2h", jitter = 0.2 } },
    block = { backoff = { "15m", "1h" } },
    health = { window = "1h", min_sent = 5 },
    domains = {
      ["d3.example"] = { soft = { max_attempts = 2, backoff = { "1m" } } },
      ["d4.example"] = { block = { backoff = { first = "1m", factor = 3, max = "1h", jitter = 0.5 } } },
    },
    reasons = { mailboxfull = { max_attempts = 3 } },
    on_event = function(ev)
      if ev.campaign == "hook" then return { action = "hold" } end
      if ev.campaign == "boom" then error("hook exploded") end
      if ev.campaign == "c2" and type(ev.at) == "number" and ev.at >= 1 and ev.at < 2 ^ 32 then
        local h = t:health("campaign:c2", ev.at)   -- health read while an event is recorded
        log("hookhealth", h.sent, h.delivered, h.soft)
      end
    end,
  }
  t = assert(bounce.tracker{ policy = policy, clock = clock, random = random, fast_path = fast_path })
  local t2 = assert(bounce.tracker{ clock = clock, health = false, fast_path = fast_path,
                                    policy = { addresses = { case_sensitive = true } } })

  local types = { "sent", "delivered", "soft", "hard", "block", "complaint", "unsubscribe",
                  "release", "auto_reply", "delayed", "bogus" }
  local reasons = { false, false, false, "mailboxfull", "userunknown", "blocked", "rejected",
                    "nosuchreason", "hostunknown" }
  local campaigns = { false, "c1", "c2", "5", 5, 5.0, true, "true", "hook", "boom",
                      string.rep("x", 70), "c" .. string.rep("y", 63) }
  local senders = { false, false, "news@x.com", string.rep("s", 80) .. "@x.com", 7 }
  local replies = { "550 5.1.1 user unknown", "452 4.2.2 mailbox full", "421 4.7.0 try later",
                    "250 2.0.0 OK queued", "554 5.7.1 Service unavailable; client host blocked using zen.spamhaus.org",
                    "550 Unknown user (in reply to end of DATA command)",
                    "host mx.example.net[192.0.2.1] said: 550 5.7.1 refused", "   ", "550 " .. string.rep("x", 5000),
                    "550-5.1.1 first line\r\n550 5.1.1 second line", 42,
                    "550 5.1.2 Host or domain name not found", "450 4.1.2 Domain not found" }
  local rhosts = { false, false, "mx.example.com", "mx1.ezweb.ne.jp", 7 }
  local commands = { false, false, "RCPT", "DATA", "data", "BOGUS", 5 }
  local counts = { false, false, 2, 2.0, 1.5, 0, "3" }
  local function pick(list) local v = list[rnd(#list) + 1] if v == false then return nil end return v end

  local function addr(i)
    local d, r = rnd(60), rnd(100)
    if r < 80 then return "user" .. i .. "@d" .. d .. ".example"
    elseif r < 88 then return "User" .. i .. "@D" .. d .. ".Example"
    elseif r < 94 then return " <user" .. i .. "@d" .. d .. ".example> "
    elseif r < 97 then return "bad-address"
    elseif r < 99 then return "user" .. i .. "@" .. string.rep("a", 70) .. ".example" end
    return 12
  end

  local at, into = T0, {}
  for i = 1, n do
    local ev = { rcpt = addr(rnd(400)) }
    local k = rnd(100)
    if rnd(11) > 0 then ev.type = types[rnd(#types) + 1] end
    ev.reason = pick(reasons)
    if k < 25 then   -- a reply decides type, reason and permanence, whatever else is given
      if k < 15 then ev.type, ev.reason = nil, nil end
      ev.reply, ev.rhost, ev.command = replies[rnd(#replies) + 1], pick(rhosts), pick(commands)
    end
    -- a rule added at run time: replies are classified with it from then on
    if i == math.floor(n / 2) then assert(bounce.rules.add{ pattern = "try later", reason = "speeding" }) end
    if k >= 5 and k < 8 then ev.type, ev.permanent = "soft", true end
    if k >= 8 and k < 10 then ev.type, ev.permanent = "block", k == 8 end
    ev.campaign, ev.sender = pick(campaigns), pick(senders)
    if rnd(20) == 0 then ev.count = pick(counts) end
    -- time: mostly forward, sometimes late (minutes to a day), bad or none
    local r = rnd(100)
    if r < 70 then at = at + rnd(40); ev.at = at
    elseif r < 80 then ev.at = at - rnd(3 * 3600)
    elseif r < 83 then ev.at = at - 30 * 3600
    elseif r < 85 then ev.at = at + 0.5
    elseif r < 87 then ev.at = "soon"
    elseif r < 88 then ev.at = 2 ^ 33 end
    if rnd(200) == 0 then clock_mode = ({ "int", "float", "str", "bad" })[rnd(4) + 1] end
    if rnd(50) == 0 then setmetatable(ev, { __index = { campaign = "meta" } }) end
    local tr = rnd(10) == 0 and t2 or t
    local use_into = rnd(3) == 0 and into or (rnd(50) == 0 and 5 or nil)
    log(i, call(tr.record, tr, ev, use_into))
    log("clock", clock_n, "rand", rand_n)
    if rnd(500) == 0 then
      local c = rnd(3) == 0 and "campaign:c1" or "domain:d" .. rnd(60) .. ".example"
      log("health", c, t:health(c, at))
    end
    if rnd(2000) == 0 then log("scopes", t:scopes()) end
    if rnd(3000) == 0 then log("expire", t:expire(at)) end
    if rnd(1000) == 0 then   -- a record damaged in the store
      local key = "user" .. rnd(400) .. "@d" .. rnd(60) .. ".example"
      t.store:cas(key, t.store:get(key), string.rep("\0", 32))
    end
    if rnd(700) == 0 then log("release", t:release("user" .. rnd(400) .. "@d" .. rnd(60) .. ".example", T0 + 1)) end
    if rnd(700) == 0 then log("check", t:check("user" .. rnd(400) .. "@d" .. rnd(60) .. ".example", at)) end
    if rnd(900) == 0 then log("release domain", t:release("d" .. rnd(60) .. ".example", at)) end
    if rnd(700) == 0 then
      log("check scoped", t:check("user" .. rnd(400) .. "@d" .. rnd(60) .. ".example",
                                  { campaign = "c1", sender = "news@x.com", at = at }))
    end
  end
  local dead = {}
  for dom, r in t:dead_domains(at) do dead[#dead + 1] = dom .. " " .. r.why end
  table.sort(dead)
  log("dead", #dead, table.concat(dead, "|"))
  -- more domains than the params cache keeps (10000), more scopes than
  -- the health buffer holds
  for i = 1, 14000 do
    local ok, d = call(t.record, t, { rcpt = "u" .. i .. "@m" .. i .. ".example",
      type = i % 2 == 0 and "sent" or "soft", at = at + i % 5, campaign = "k" .. (i % 3000) })
    if i % 97 == 0 then log("many", i, ok, d) end
  end
  log("clock", clock_n, "rand", rand_n)
  local scopes = t:scopes()
  log("scopes", #scopes)
  for i = 1, #scopes, 23 do
    local c = scopes[i]
    log("H", c, t:health(c, at), t:health(c, at - 3600), t:health(c, at - 40 * 3600))
  end
  for i = 0, 399, 7 do
    for d = 0, 59, 13 do
      local a = "user" .. i .. "@d" .. d .. ".example"
      log("get", a, t:get(a), t:check(a, at))
    end
  end
  log("expire", t:expire(at + 86400 * 400))
  log("scopes", t:scopes())
  log("count", t:count(), t2:count())

  -- a policy file whose edit changes the health window
  local path = os.tmpname()
  local function write(w)
    local f = assert(io.open(path, "w"))
    f:write("return { health = { window = '", w, "' }, soft = { backoff = { first = '5m', factor = 2, max = '1h', jitter = 0.3 } } }")
    f:close()
  end
  write("2h")
  local t3 = assert(bounce.tracker{ policy = path, clock = clock, random = random,
                                    fast_path = fast_path })
  for _, bad in ipairs({ 5, "x" }) do
    log("t3bad", call(t3.record, t3, bad))
    log("tbad", call(t.record, t, bad))
  end
  for round = 1, 2 do
    for i = 1, 1200 do
      local ok, d = call(t3.record, t3, { rcpt = "r" .. (i % 300) .. "@e" .. (i % 17) .. ".example",
        type = ({ "sent", "soft", "delivered", "block" })[i % 4 + 1],
        at = (i % 11 ~= 0) and at + i * 31 or nil, campaign = "z" .. (i % 4) })
      if i % 37 == 0 then log("t3", round, i, ok, d) end
    end
    log("t3scopes", t3:scopes())
    for _, c in ipairs(t3:scopes()) do log("t3H", c, t3:health(c, at + 1200 * 31)) end
    write("6h")
    log("reload", t3:reload())
  end
  os.remove(path)
  return out
end

describe("t:record's fast path over the memory store", function()
  after_each(function() bounce.rules.clear() end)

  for _, seed in ipairs({ 1, 7, 2026 }) do
    it("answers as the Lua path does (seed " .. seed .. ")", function()
      local fast = session(true, seed, 6000)
      bounce.rules.clear()
      local slow = session(false, seed, 6000)
      assert.is_true(#slow > 6000)
      for i = 1, math.max(#fast, #slow) do
        if fast[i] ~= slow[i] then
          -- the first difference, with its line number, rather than two
          -- long lists
          assert.equal(i .. ": " .. tostring(slow[i]), i .. ": " .. tostring(fast[i]))
        end
      end
    end)
  end

  it("is taken for plain events, and fast_path = false turns it off", function()
    local on = assert(bounce.tracker{})
    local off = assert(bounce.tracker{ fast_path = false })
    assert.is_truthy(on.fast)
    assert.is_false(off.fast)
    -- a store other than the memory store never has it
    local mem = bounce.store.memory()
    local wrapped = { get = function(_, k) return mem:get(k) end,
                      cas = function(_, k, old, new) return mem:cas(k, old, new) end,
                      scan = function(_, ...) return mem:scan(...) end }
    local other = assert(bounce.tracker{ store = wrapped })
    assert.is_false(other.fast)
    local d = other:record{ rcpt = "a@example.com", type = "hard", at = T0 }
    assert.equal("suppress", d.action)
  end)
end)
