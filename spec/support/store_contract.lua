-- spec/support/store_contract.lua - the behaviour every store must show.
--
-- One list of cases, run against each engine: the memory and table stores
-- (spec/unit/store_spec.lua), SQLite, Redis and the nginx shared dict. The cases
-- are plain Lua (no busted), so they run inside nginx too:
--
--   local contract = require("spec.support.store_contract")
--   for _, case in ipairs(contract.cases) do
--     it(case.name, function() case.run(make_store) end)
--   end
--   -- or, where busted is not: local results = contract.run_all(make_store)
--
-- make_store() returns a new, empty store (each case gets its own). A case
-- raises an error (with a message saying what differed) when the store
-- misbehaves. Stores that cannot count may leave count out; the case that
-- checks it is then skipped and says so.
local core = require("bounce.core")

local error, tostring, type, pairs, ipairs, pcall, next, string_format =
  error, tostring, type, pairs, ipairs, pcall, next, string.format

local _M = {}

local function fail(fmt, ...) error(string_format(fmt, ...), 2) end

local function show(v)
  if type(v) == "string" then
    if #v == 32 then return "<record " .. (v:gsub(".", function(c)
      return string_format("%02x", c:byte()) end):sub(1, 16)) .. "...>" end
    return string_format("%q", v)
  end
  return tostring(v)
end

local function eq(got, want, what)
  if got ~= want then fail("%s: expected %s, got %s", what, show(want), show(got)) end
end

-- Valid record blobs (stores may decode them for their own columns).
local function rec(n, extra)
  local t = { state = "bouncing", reason = "mailboxfull", last_event = "soft",
              attempts = n, bounces = n, last_at = 1700000000 + n,
              last_soft_at = 1700000000 + n, streak_start = 1700000000,
              retry_at = 1700000600 + n }
  for k, v in pairs(extra or {}) do t[k] = v end
  return core.encode_record(t)
end
_M.record = rec

local SUPPRESSED = function()
  return core.encode_record{ state = "suppressed", cause = "hard", reason = "userunknown",
    last_event = "hard", bounces = 1, last_at = 1700000000, since = 1700000000 }
end

local function must(ok, err, what)
  if ok == nil then fail("%s: store failed: %s", what, tostring(err)) end
  return ok
end

local cases = {}
local function case(name, fn) cases[#cases + 1] = { name = name, run = fn } end

case("get of an unknown key is nil without an error", function(mk)
  local s = mk()
  local v, err = s:get("nobody@example.com")
  eq(v, nil, "get")
  eq(err, nil, "error")
end)

case("cas from nil creates, then get returns the same bytes", function(mk)
  local s = mk()
  local a = rec(1)
  eq(must(s:cas("a@example.com", nil, a), nil, "cas"), true, "cas(nil -> a)")
  eq(s:get("a@example.com"), a, "get after create")
end)

case("cas from nil fails when the key exists, and changes nothing", function(mk)
  local s = mk()
  local a, b = rec(1), rec(2)
  must(s:cas("a@example.com", nil, a), nil, "cas")
  eq(must(s:cas("a@example.com", nil, b), nil, "cas"), false, "cas(nil -> b) over a")
  eq(s:get("a@example.com"), a, "value after failed cas")
end)

case("cas with a stale old value fails, with the current one succeeds", function(mk)
  local s = mk()
  local a, b, c = rec(1), rec(2), rec(3)
  must(s:cas("a@example.com", nil, a), nil, "cas")
  eq(must(s:cas("a@example.com", b, c), nil, "cas"), false, "cas(b -> c) when a")
  eq(s:get("a@example.com"), a, "value after stale cas")
  eq(must(s:cas("a@example.com", a, b), nil, "cas"), true, "cas(a -> b)")
  eq(s:get("a@example.com"), b, "value after cas")
end)

case("cas to nil deletes; cas with an old value on a missing key fails", function(mk)
  local s = mk()
  local a = rec(1)
  must(s:cas("a@example.com", nil, a), nil, "cas")
  eq(must(s:cas("a@example.com", a, nil), nil, "cas"), true, "cas(a -> nil)")
  eq(s:get("a@example.com"), nil, "get after delete")
  eq(must(s:cas("a@example.com", a, rec(2)), nil, "cas"), false, "cas(a -> b) on a missing key")
  eq(s:get("a@example.com"), nil, "get after failed cas")
end)

case("keys and values are kept byte for byte", function(mk)
  local s = mk()
  local keys = { "o'brien@example.com", "\"quoted local\"@example.com",
                 "user+tag@sub.example.co.uk", "ünïcødé@exämple.com",
                 string.rep("x", 64) .. "@" .. string.rep("d", 180) .. ".com" }
  local vals = {}
  for i, k in ipairs(keys) do
    vals[i] = rec(i, { attempts = i * 257 % 65535 })   -- bytes 0x00..0xff inside
    must(s:cas(k, nil, vals[i]), nil, "cas " .. k)
  end
  for i, k in ipairs(keys) do eq(s:get(k), vals[i], "get " .. k) end
end)

case("scan visits every record once", function(mk)
  local s = mk()
  local want = {}
  for i = 1, 250 do
    local k = "user" .. i .. "@example.com"
    want[k] = rec(i)
    must(s:cas(k, nil, want[k]), nil, "cas")
  end
  local seen, n = {}, 0
  for k, v in s:scan() do
    if seen[k] then fail("scan returned %s twice", k) end
    seen[k] = true
    n = n + 1
    eq(v, want[k], "scan value of " .. k)
  end
  eq(n, 250, "records scanned")
end)

case("deleting the key just returned by scan is safe", function(mk)
  local s = mk()
  for i = 1, 100 do must(s:cas("u" .. i .. "@example.com", nil, rec(i)), nil, "cas") end
  local n = 0
  for k, v in s:scan() do
    if v == nil then fail("scan returned %s without a value", k) end
    eq(must(s:cas(k, v, nil), nil, "cas"), true, "delete " .. k .. " during scan")
    n = n + 1
  end
  eq(n, 100, "records scanned while deleting")
  local left = 0
  for _ in s:scan() do left = left + 1 end
  eq(left, 0, "records left")
end)

case("count is the number of records", function(mk)
  local s = mk()
  if type(s.count) ~= "function" then return "skipped: this store does not count" end
  eq(s:count(), 0, "count of an empty store")
  for i = 1, 30 do must(s:cas("c" .. i .. "@example.com", nil, rec(i)), nil, "cas") end
  must(s:cas("c1@example.com", rec(1), nil), nil, "cas")
  eq(s:count(), 29, "count after 30 creates and a delete")
end)

case("a ttl on cas is accepted and the record is readable at once", function(mk)
  local s = mk()
  local v = SUPPRESSED()
  eq(must(s:cas("t@example.com", nil, v, 3600), nil, "cas"), true, "cas with ttl")
  eq(s:get("t@example.com"), v, "get after cas with ttl")
end)

-- Through the tracker: what a user sees.
local function tracker_on(s)
  local bounce = require("bounce")
  return bounce.tracker{ policy = { soft = { max_attempts = 3, backoff = { "10m" } } },
                         store = s, health = false }
end

case("a tracker on the store escalates, suppresses, lists and expires", function(mk)
  local s = mk()
  local t = tracker_on(s)
  local T0 = 1780000000
  for i = 1, 3 do
    local d = must(t:record{ rcpt = "Full@Example.COM", type = "soft", reason = "mailboxfull",
                             at = T0 + i * 60 }, nil, "record")
    eq(d.action, i < 3 and "retry" or "suppress", "action after soft bounce " .. i)
  end
  must(t:record{ rcpt = "gone@example.com", reply = "550 5.1.1 <gone@example.com>: user unknown",
                 at = T0 }, nil, "record")
  must(t:record{ rcpt = "ok@example.com", type = "delivered", at = T0 }, nil, "record")
  local allowed = t:check("gone@example.com", T0 + 10)
  eq(allowed, false, "check of a hard-bounced address")
  eq((t:check("ok@example.com", T0 + 10)), true, "check of a delivered address")
  local list = {}
  for rcpt in t:suppressions(T0 + 10) do list[#list + 1] = rcpt end
  table.sort(list)
  eq(#list, 2, "suppressions")
  eq(list[1], "full@example.com", "first suppression (keys are normalised)")
  eq(list[2], "gone@example.com", "second suppression")
  -- soft suppressions age out (default retention soft = 30d); hard stays
  local n = t:expire(T0 + 31 * 86400)
  eq(n, 1, "records expired after 31 days")
  eq((t:check("Full@example.com", T0 + 31 * 86400)), true, "check after expiry")
  eq((t:check("gone@example.com", T0 + 31 * 86400)), false, "hard bounce after 31 days")
end)

case("a soft-bounce streak spans campaigns; a 4xx hard bounce is retried", function(mk)
  local s = mk()
  local bounce = require("bounce")
  local t = bounce.tracker{ store = s, health = false }   -- the default policy
  local T0, H, D = 1780000000, 3600, 86400
  -- two soft bounces 73 hours apart: the streak is past its 72 h window
  local d = must(t:record{ rcpt = "a@example.com", type = "soft", at = T0 }, nil, "record")
  eq(d.action, "retry", "first soft bounce")
  d = must(t:record{ rcpt = "a@example.com", type = "soft", at = T0 + 73 * H }, nil, "record")
  eq(d.action, "suppress", "soft bounce 73 h later")
  eq(d.attempts, 2, "attempts after the second soft bounce")
  -- 30 days without a soft bounce end the streak
  must(t:record{ rcpt = "b@example.com", type = "soft", at = T0 }, nil, "record")
  d = must(t:record{ rcpt = "b@example.com", type = "soft", at = T0 + 30 * D }, nil, "record")
  eq(d.action, "retry", "soft bounce 30 days later")
  eq(d.attempts, 1, "a new streak")
  -- Postfix verifying a recipient: a hard reason under 450, retried
  d = must(t:record{ rcpt = "v@example.com", at = T0,
    reply = "450 4.1.1 <v@example.com>: Recipient address rejected: unverified address" },
    nil, "record")
  eq(d.action, "retry", "450 4.1.1 under the default policy")
  eq(d.attempts, 1, "counted in the streak")
  eq((t:check("v@example.com", T0 + 1)), true, "check after a 450 4.1.1")
  local strict = bounce.tracker{ store = s, health = false, policy = "policies/strict.lua" }
  d = must(strict:record{ rcpt = "w@example.com", at = T0,
    reply = "450 4.1.1 <w@example.com>: Recipient address rejected: unverified address" },
    nil, "record")
  eq(d.action, "suppress", "450 4.1.1 under policies/strict.lua")
  eq(d.cause, "hard", "its cause")
end)

case("a hostunknown hard bounce marks its domain dead until a delivery, a release or its retention",
     function(mk)
  local s = mk()
  local bounce = require("bounce")
  local t = bounce.tracker{ store = s, health = false }   -- the default policy: domain 30d
  local T0, D = 1780000000, 86400
  must(t:record{ rcpt = "a@dead.example", at = T0,
    reply = "550 5.1.2 <a@dead.example>: Recipient address rejected: Domain not found" },
    nil, "record")
  local ok, why = t:check("b@Dead.Example", T0 + 60)
  eq(ok, false, "check of another address at a dead domain")
  if not tostring(why):find("dead domain dead.example", 1, true) then
    fail("why should name the domain, got %s", tostring(why))
  end
  eq((t:check("a@dead.example", T0 + 60)), false, "the bounced address itself")
  eq((t:check("b@alive.example", T0 + 60)), true, "an address at another domain")
  local doms = {}
  for dom, r in t:dead_domains(T0 + 60) do doms[#doms + 1] = dom .. " " .. r.reason end
  eq(#doms, 1, "dead domains listed")
  eq(doms[1], "dead.example hostunknown", "the dead domain")
  local list = {}
  for rcpt in t:suppressions(T0 + 60) do list[#list + 1] = rcpt end
  eq(#list, 1, "suppressions (the domain is not an address)")
  eq(list[1], "a@dead.example", "the suppressed address")
  -- a 4xx hostunknown (a DNS failure that may pass) marks nothing
  must(t:record{ rcpt = "x@flaky.example", at = T0,
    reply = "450 4.1.2 <x@flaky.example>: Recipient address rejected: Domain not found" },
    nil, "record")
  eq((t:check("y@flaky.example", T0 + 60)), true, "after a 450 4.1.2")
  -- the mark ends after retention.domain, and t:expire deletes it
  eq((t:check("b@dead.example", T0 + 30 * D)), true, "check after 30 days")
  eq((t:check("b@dead.example", T0 + 30 * D - 1)), false, "check just before")
  local n = t:expire(T0 + 30 * D)
  eq(n, 1, "records expired after 30 days (the domain's mark)")
  eq(t:dead_domains(T0)(), nil, "dead domains after expiry")
  -- a delivery to any address there lifts it
  must(t:record{ rcpt = "a@dead.example", type = "hard", reason = "hostunknown", at = T0 + 31 * D },
       nil, "record")
  eq((t:check("c@dead.example", T0 + 31 * D)), false, "dead again")
  must(t:record{ rcpt = "c@dead.example", type = "delivered", at = T0 + 32 * D }, nil, "record")
  eq((t:check("d@dead.example", T0 + 32 * D)), true, "check after a delivery to the domain")
  eq((t:check("a@dead.example", T0 + 32 * D)), false, "the hard-bounced address stays suppressed")
  -- t:release of the bare domain lifts it by hand
  must(t:record{ rcpt = "a@dead.example", type = "hard", reason = "hostunknown", at = T0 + 33 * D },
       nil, "record")
  local d = must(t:release("Dead.Example", T0 + 33 * D + 1), nil, "release")
  eq(d.domain, "dead.example", "released domain")
  eq(d.lifted, true, "it was dead")
  eq((t:check("d@dead.example", T0 + 33 * D + 2)), true, "check after t:release(domain)")
  eq(must(t:release("@dead.example", T0 + 33 * D + 3), nil, "release").lifted, false,
     "a second release")
end)

case("a delay notice changes nothing stored; a 5xx block is permanent, a 4xx one not", function(mk)
  local s = mk()
  local bounce = require("bounce")
  local t = bounce.tracker{ store = s, policy = { soft = { max_attempts = 3, backoff = { "10m" } } } }
  local T0 = 1780000000
  -- a delay notice for an address with no history stores no record
  local d = must(t:record{ rcpt = "new@example.com", type = "delayed", at = T0, campaign = "c1" },
                 nil, "record")
  eq(d.event, "delayed", "event")
  eq(d.action, "send", "action for an address with no history")
  eq(s:get("new@example.com"), nil, "record after a delay notice")
  -- nor changes one: the streak keeps its count and its retry time
  must(t:record{ rcpt = "slow@example.com", type = "soft", reason = "mailboxfull", at = T0 }, nil, "record")
  local before = s:get("slow@example.com")
  for i = 1, 4 do
    d = must(t:record{ rcpt = "slow@example.com", type = "delayed", reason = "networkerror",
                       at = T0 + i * 60, campaign = "c1" }, nil, "record")
  end
  eq(d.action, "retry", "action for a bouncing address")
  eq(d.attempts, 1, "attempts after four delay notices")
  eq(d.retry_at, T0 + 600, "retry time after the notices")
  eq(s:get("slow@example.com"), before, "the stored record after four delay notices")
  local h = t:health("campaign:c1", T0 + 300)
  eq(h.delayed, 5, "delay notices counted for the campaign")
  eq(h.soft, 0, "soft bounces counted for the campaign")
  -- blocks: the address is kept and held either way
  d = must(t:record{ rcpt = "x@example.com", at = T0,
    reply = "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org" },
    nil, "record")
  eq(d.action, "hold", "action for a 554 blocklist refusal")
  eq(d.permanent, true, "permanent for a 554 block")
  eq(d.state, "active", "state after a 554 block")
  d = must(t:record{ rcpt = "y@example.com", at = T0,
    reply = "451 4.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org" },
    nil, "record")
  eq(d.permanent, false, "permanent for a 451 block")
  eq((t:check("x@example.com", T0 + 1)), true, "check after a 554 block")
end)

case("an IDN domain is one key in Unicode and in A-labels; a Unicode-keyed record is found",
     function(mk)
  local s = mk()
  local t = tracker_on(s)
  local T0 = 1780000000
  local d = must(t:record{ rcpt = "idn@bücher.de", type = "hard", at = T0 }, nil, "record")
  eq(d.rcpt, "idn@xn--bcher-kva.de", "the key of the Unicode form")
  eq(d.action, "suppress", "hard bounce")
  eq((t:check("idn@xn--bcher-kva.de", T0 + 1)), false, "check in A-labels")
  eq((t:check("IDN@BÜCHER.DE", T0 + 1)), false, "check in Unicode capitals")
  eq(must(t:get("idn@xn--BCHER-kva.de"), nil, "get").state, "suppressed", "get in A-labels")
  d = must(t:release("idn@xn--bcher-kva.de", T0 + 2), nil, "release")
  eq(d.rcpt, "idn@xn--bcher-kva.de", "release in A-labels")
  eq((t:check("idn@bücher.de", T0 + 3)), true, "check in Unicode after the release")
  must(t:suppress("idn@xn--bcher-kva.de", T0 + 4), nil, "suppress")
  eq((t:check("idn@bücher.de", T0 + 5)), false, "check in Unicode after a suppression")
  local list = {}
  for rcpt in t:suppressions(T0 + 5) do list[#list + 1] = rcpt end
  eq(#list, 1, "one suppression for both forms")
  eq(list[1], "idn@xn--bcher-kva.de", "listed in A-labels")
  -- an address the domain check refuses stays out
  local r, err = t:check("x@e\204\129.de", T0)   -- e + a combining acute (not NFC)
  eq(r, nil, "check of a domain that is not NFC")
  if not tostring(err):find("combining", 1, true) then fail("err should say why, got %s", tostring(err)) end
  -- a record an older version kept under the Unicode key: found, then moved
  -- (the C memory store lives in one process, which never wrote such keys)
  if type(s.apply) == "function" then return "memory store: no Unicode-keyed records" end
  must(s:cas("old@münchen.de", nil, SUPPRESSED()), nil, "cas")
  eq((t:check("old@xn--mnchen-3ya.de", T0 + 5)), false, "check finds the Unicode-keyed record")
  eq(must(t:get("old@münchen.de"), nil, "get").state, "suppressed", "get finds it")
  d = must(t:record{ rcpt = "old@münchen.de", type = "soft", at = T0 + 6 }, nil, "record")
  eq(d.action, "suppress", "an event on it keeps the suppression")
  eq(s:get("old@münchen.de"), nil, "the Unicode key after the event (moved)")
  eq((t:check("old@münchen.de", T0 + 7)), false, "still suppressed after the move")
  must(t:release("old@münchen.de", T0 + 8), nil, "release")
  eq((t:check("old@münchen.de", T0 + 9)), true, "released")
end)

case("a corrupt record is set aside, the event applied to a fresh one, listed until released",
     function(mk)
  local s = mk()
  local t = tracker_on(s)
  local good = rec(1)
  must(s:cas("bad@example.com", nil, good), nil, "cas")
  -- flip a byte inside the checksummed part, as disk or a foreign writer would
  local bad = good:sub(1, 9) .. string.char((good:byte(10) + 1) % 256) .. good:sub(11)
  local ok = s:cas("bad@example.com", good, bad)
  if ok ~= true then
    -- a store may refuse corrupt bytes outright; that is also not losing data
    eq(s:get("bad@example.com"), good, "value after refused corrupt write")
    return "store refuses corrupt records at write time"
  end
  local allowed, cerr = t:check("bad@example.com", 1780000000)
  eq(allowed, nil, "check of a corrupt record")
  if not tostring(cerr):find("bad@example.com", 1, true) then
    fail("error should name the address, got %s", tostring(cerr))
  end
  local d = must(t:record{ rcpt = "bad@example.com", type = "hard", at = 1780000000 }, nil, "record")
  eq(d.action, "suppress", "the event applied to a fresh record")
  eq(d.corrupt, true, "the decision says the record was corrupt")
  if not tostring(d.why):find("checksum", 1, true) then
    fail("why should say what is wrong, got %s", tostring(d.why))
  end
  eq(s:get("@@corrupt:bad@example.com"), bad, "the corrupt bytes, set aside")
  eq((t:check("bad@example.com", 1780000001)), false, "check after the event")
  local keys = {}
  for k in t:corrupt() do keys[#keys + 1] = k end
  eq(#keys, 1, "corrupt rows listed")
  eq(keys[1], "@@corrupt:bad@example.com", "the row set aside")
  d = must(t:release("bad@example.com", 1780000002), nil, "release")
  eq(d.corrupt, true, "the release says it deleted corrupt bytes")
  eq(s:get("@@corrupt:bad@example.com"), nil, "the bytes set aside after a release")
  eq(t:corrupt()(), nil, "corrupt rows after the release")
end)

-- Health shared through the store (the optional health_add/health_read of
-- bounce.store): what one tracker records, another on the same store reads.
local function has_health(s)
  return type(s.health_add) == "function" and type(s.health_read) == "function"
end

local function health_tracker(s, clock)
  local bounce = require("bounce")
  return bounce.tracker{ store = s, clock = clock, flush_events = 1000000, flush_interval = 3600 }
end

case("health counts one tracker records are read by another tracker on the store", function(mk)
  local s = mk()
  if not has_health(s) then return "skipped: this store keeps no health counts" end
  local now = os.time()
  local clock = function() return now end
  local a, b = health_tracker(s, clock), health_tracker(s, clock)
  for i = 1, 95 do
    must(a:record{ rcpt = "ok" .. i .. "@example.com", type = "delivered", sender = "news@example.org",
                   campaign = "c1", at = now }, nil, "record delivered")
  end
  for i = 1, 5 do
    must(a:record{ rcpt = "gone" .. i .. "@example.net", type = "hard", reason = "userunknown",
                   sender = "news@example.org", at = now }, nil, "record hard")
  end
  -- buffered in a until it flushes: b sees nothing yet
  local h = must(b:health("sender:news@example.org", now), nil, "health")
  eq(h.messages, 0, "b's messages before a flushes")
  eq(must(a:flush(), nil, "flush"), true, "flush")
  now = now + 2   -- past b's cache
  h = must(b:health("sender:news@example.org", now), nil, "health")
  eq(h.delivered, 95, "b's delivered")
  eq(h.hard, 5, "b's hard")
  eq(h.messages, 100, "b's messages")
  eq(h.level, "stop", "b's level at 5% hard bounces")
  eq(must(b:health("campaign:c1", now), nil, "health").delivered, 95, "b's campaign")
  eq(must(b:health("domain:EXAMPLE.net", now), nil, "health").hard, 5, "b's domain")
  local ok, why, level = b:check("someone@example.com", { sender = "news@example.org", at = now })
  eq(ok, false, "b's check of the sender")
  eq(level, "stop", "b's level in check")
  if not tostring(why):find("news@example.org at health stop", 1, true) then
    fail("why should name the sender at stop, got %s", tostring(why))
  end
  -- a tracker's own buffer counts in its own answers at once
  must(b:record{ rcpt = "x@example.com", type = "delivered", sender = "other@example.org", at = now },
       nil, "record")
  eq(must(b:health("sender:other@example.org", now), nil, "health").delivered, 1, "own buffer")
  eq(must(a:health("sender:news@example.org", now), nil, "health").messages, 100, "a's own view")
end)

case("health counts of two writers add up, per bucket, within the window", function(mk)
  local s = mk()
  if not has_health(s) then return "skipped: this store keeps no health counts" end
  local size = 3600
  local b0 = math.floor(os.time() / size)
  must(s:health_add({ ["sender:a@x"] = { [b0] = { 3, 2, 1, 0, 0, 0, 0 }, [b0 - 1] = { 1, 0, 0, 0, 0, 0, 0 } } },
                    size), nil, "health_add")
  must(s:health_add({ ["sender:a@x"] = { [b0] = { 4, 0, 0, 1, 0, 2, 5 } },
                      ["sender:b@x"] = { [b0] = { 9, 0, 0, 0, 0, 0, 0 } } }, size), nil, "health_add")
  local rows = must(s:health_read("sender:a@x", b0 - 23, b0), nil, "health_read")
  local c = rows[b0] or {}
  eq(table.concat({ c[1], c[2], c[3], c[4], c[5], c[6], c[7] }, ","), "7,2,1,1,0,2,5", "bucket b0")
  eq((rows[b0 - 1] or {})[1], 1, "bucket b0 - 1")
  rows = must(s:health_read("sender:a@x", b0, b0), nil, "health_read")
  eq(rows[b0 - 1], nil, "a bucket outside the range read")
  eq(((must(s:health_read("sender:b@x", b0 - 23, b0), nil, "health_read"))[b0] or {})[1], 9, "other scope")
  eq(next(must(s:health_read("sender:nobody@x", b0 - 23, b0), nil, "health_read")), nil, "unknown scope")
  -- a tracker reads them over its window only
  local now = b0 * size + 10
  local t = health_tracker(s, function() return now end)
  eq(must(t:health("sender:a@x", now), nil, "health").sent, 8, "sent in the window")
  eq(must(t:health("sender:a@x", now + 24 * size), nil, "health").sent, 0, "sent a window later")
end)

_M.cases = cases

-- Runs every case; returns { {name=, ok=, err=, note=}, ... } and the number
-- of failures.
function _M.run_all(make_store)
  local out, failed = {}, 0
  for _, c in ipairs(cases) do
    local ok, res = pcall(c.run, make_store)
    if not ok then failed = failed + 1 end
    out[#out + 1] = { name = c.name, ok = ok, err = not ok and tostring(res) or nil,
                      note = ok and res or nil }
  end
  return out, failed
end

return _M
