-- The Redis store (bounce.store.redis) against a real redis-server on a free
-- 127.0.0.1 port: the shared store contract through redis-lua, what a user
-- sees in Redis (keys, TTLs), concurrent writers in separate processes,
-- failures of Redis, and the contract again inside nginx with nginx.redis.
local bounce = require("bounce")
local store_redis = require("bounce.store.redis")
local contract = require("spec.support.store_contract")
local redis_srv = require("spec.support.redis")
local nginx = require("spec.support.nginx")

local usable, why = redis_srv.available()

local function skip_or_fail(reason)
  -- In CI the packages are installed by .ci/deps: missing ones are a failure.
  if os.getenv("CI") then error(reason) end
  pending(reason)
end

-- The Lua interpreter running this spec, for the worker processes.
local function interpreter()
  if rawget(_G, "jit") then return "luajit" end
  return "lua" .. _VERSION:match("%d+%.%d+")
end

-- Commands a redis-server received from clients since the last call of the
-- returned function, read from INFO commandstats: script runs (EVALSHA,
-- EVAL) and GETs. Each script run makes one GET of its own inside Redis,
-- which is not a round trip and is taken off.
local function counter(srv)
  local function snap()
    local out = srv:cli("INFO commandstats")
    local function calls(cmd) return tonumber(out:match("cmdstat_" .. cmd .. ":calls=(%d+)")) or 0 end
    return calls("evalsha") + calls("eval"), calls("get")
  end
  local s0, g0 = snap()
  return function()
    local s1, g1 = snap()
    local d = { scripts = s1 - s0, gets = g1 - g0 - (s1 - s0) }
    s0, g0 = s1, g1
    return d
  end
end

describe("store.redis (redis-lua, real redis-server)", function()
  if not usable then
    skip_or_fail(why)
    return
  end

  local srv, nstores = nil, 0
  setup(function() srv = redis_srv.start() end)
  teardown(function() if srv then srv:stop() end end)

  -- Each store gets its own prefix, so each case starts empty.
  local function fresh(opts)
    nstores = nstores + 1
    opts = opts or {}
    opts.prefix = opts.prefix or ("spec" .. nstores .. ":")
    return opts
  end

  describe("with a connected client", function()
    for _, case in ipairs(contract.cases) do
      it(case.name, function()
        case.run(function() return assert(bounce.store.redis(srv:client(), fresh())) end)
      end)
    end
  end)

  describe("with opts.connect and opts.cluster (GET per key in scan)", function()
    for _, case in ipairs(contract.cases) do
      it(case.name, function()
        case.run(function()
          return assert(bounce.store.redis(nil, fresh{ connect = srv:connector(), cluster = true }))
        end)
      end)
    end
  end)

  describe("in Redis", function()
    it("ships the compare-and-set script under the SHA1 Redis computes for it", function()
      local sha = srv:cli("SCRIPT LOAD " .. redis_srv.q(store_redis.CAS_SCRIPT))
      assert.equals(store_redis.CAS_SHA, sha)
    end)

    it("falls back to EVAL when the script is not loaded (SCRIPT FLUSH), which loads it", function()
      local s = assert(bounce.store.redis(srv:client(), fresh()))
      srv:cli("SCRIPT FLUSH")
      assert.equals("0", srv:cli("SCRIPT EXISTS " .. store_redis.CAS_SHA))
      assert.is_true(s:cas("a@example.com", nil, contract.record(1)))
      assert.equals("1", srv:cli("SCRIPT EXISTS " .. store_redis.CAS_SHA))
      assert.equals(contract.record(1), s:get("a@example.com"))
    end)

    it("keeps each record under PREFIX{address}, the address as the Cluster hash tag", function()
      local s = assert(bounce.store.redis(srv:client(), { prefix = "acme:bounce:" }))
      local t = bounce.tracker{ store = s, health = false }
      assert(t:record{ rcpt = "Ann@Example.ORG", type = "soft", at = 1780000000 })
      assert(t:record{ rcpt = "bob@example.org", type = "hard", at = 1780000000 })
      local keys = {}
      for k in srv:cli("--scan --pattern 'acme:bounce:*'"):gmatch("[^\n]+") do keys[#keys + 1] = k end
      table.sort(keys)
      assert.same({ "acme:bounce:{ann@example.org}", "acme:bounce:{bob@example.org}" }, keys)
      assert.equals("acme:bounce:{ann@example.org}", s:key("ann@example.org"))
      -- the bytes under the key are the record the tracker reads
      assert.equals(s:get("bob@example.org"), srv:client():get("acme:bounce:{bob@example.org}"))
      assert.equals("suppressed", t:get("bob@example.org").state)
    end)

    it("keeps stores with different prefixes apart", function()
      local a = assert(bounce.store.redis(srv:client(), fresh()))
      local b = assert(bounce.store.redis(srv:client(), fresh()))
      assert.is_true(a:cas("x@example.com", nil, contract.record(1)))
      assert.is_nil(b:get("x@example.com"))
      assert.equals(1, a:count())
      assert.equals(0, b:count())
    end)

    it("sets a soft suppression's TTL from its retention, none for a hard one, and clears it on release", function()
      local s = assert(bounce.store.redis(srv:client(), { prefix = "ttl:" }))
      local t = bounce.tracker{ store = s, health = false,
                                policy = { soft = { max_attempts = 2, backoff = { "10m" } } } }
      local now = os.time()
      assert(t:record{ rcpt = "full@example.com", type = "soft", reason = "mailboxfull", at = now - 60 })
      local d = assert(t:record{ rcpt = "full@example.com", type = "soft", reason = "mailboxfull", at = now })
      assert.equals("suppress", d.action)
      assert.is_number(d.expires_at)
      local want = d.expires_at - now
      local ttl = tonumber(srv:cli("TTL " .. redis_srv.q("ttl:{full@example.com}")))
      assert.is_true(ttl > 0 and ttl <= want and ttl >= want - 5,
        "TTL " .. ttl .. ", expected about " .. want)

      d = assert(t:record{ rcpt = "gone@example.com", reply = "550 5.1.1 user unknown", at = now })
      assert.equals("suppress", d.action)
      assert.is_nil(d.expires_at)
      assert.equals("-1", srv:cli("TTL " .. redis_srv.q("ttl:{gone@example.com}")))

      -- a release leaves a clean record: the key goes
      assert(t:release("full@example.com", now + 1))
      assert.equals("-2", srv:cli("TTL " .. redis_srv.q("ttl:{full@example.com}")))
      assert.is_true((t:check("full@example.com")))
    end)

    it("clears an expiry when a record is rewritten without ttl", function()
      local s = assert(bounce.store.redis(srv:client(), { prefix = "ttl2:" }))
      assert.is_true(s:cas("a@example.com", nil, contract.record(1), 3600))
      local ttl = tonumber(srv:cli("TTL " .. redis_srv.q("ttl2:{a@example.com}")))
      assert.is_true(ttl > 3590 and ttl <= 3600, "TTL " .. ttl)
      assert.is_true(s:cas("a@example.com", contract.record(1), contract.record(2)))
      assert.equals("-1", srv:cli("TTL " .. redis_srv.q("ttl2:{a@example.com}")))
    end)

    it("lets Redis drop a record when its TTL runs out", function()
      local s = assert(bounce.store.redis(srv:client(), fresh()))
      assert.is_true(s:cas("brief@example.com", nil, contract.record(1), 1))
      assert.equals(contract.record(1), s:get("brief@example.com"))
      local socket = require("socket")
      local deadline = socket.gettime() + 3
      while s:get("brief@example.com") and socket.gettime() < deadline do socket.sleep(0.1) end
      assert.is_nil(s:get("brief@example.com"))
    end)
  end)

  describe("arguments", function()
    it("raises on caller mistakes", function()
      local s = assert(bounce.store.redis(srv:client(), fresh()))
      assert.has_error(function() s:get(1) end, "bad argument #1 to 'get' (string expected, got number)")
      assert.has_error(function() s:cas("k", 1) end, "bad argument #2 to 'cas' (string or nil expected, got number)")
      assert.has_error(function() s:cas("k", nil, {}) end,
        "bad argument #3 to 'cas' (string or nil expected, got table)")
      assert.has_error(function() s:cas("k", nil, "v", "1h") end,
        "bad argument #4 to 'cas' (number or nil expected, got string)")
      assert.has_error(function() store_redis.new("redis://127.0.0.1") end,
        "bad argument #1 to 'redis' (redis client expected, got string)")
      assert.has_error(function() store_redis.new(nil) end,
        "bad argument #1 to 'redis' (redis client expected (or opts.connect), got nil)")
      assert.has_error(function() store_redis.new(srv:client(), { prefix = "{bounce}:" }) end,
        "bad argument #2 to 'redis' (opts.prefix: string without { or } expected)")
      assert.has_error(function() store_redis.new(srv:client(), { release = print }) end,
        "bad argument #2 to 'redis' (opts.release: function expected, with opts.connect)")
      assert.has_error(function() store_redis.new(srv:client(), { connect = print, release = print }) end,
        "bad argument #1 to 'redis' (nil expected with opts.release (clients come from opts.connect))")
    end)

    it("returns nil, err from new() when opts.connect cannot reach Redis", function()
      local redis = assert(redis_srv.load_client())
      local s, err = store_redis.new(nil, { connect = function()
        return redis.connect{ host = "127.0.0.1", port = 1, timeout = 1 }
      end })
      assert.is_nil(s)
      assert.matches("redis: connect failed: could not connect to 127.0.0.1:1", err, 1, true)
    end)
  end)

  describe("update (what the tracker uses): one round trip per event", function()
    local function round_trips() return counter(srv) end
    local function tracker(s) return bounce.tracker{ store = s, health = false } end

    before_each(function()
      -- loaded, so that no NOSCRIPT + EVAL pair is counted
      srv:cli("SCRIPT LOAD " .. redis_srv.q(store_redis.CAS_SCRIPT))
    end)

    it("records a new address with one EVALSHA and no GET", function()
      local t = tracker(assert(bounce.store.redis(srv:client(), fresh())))
      local delta = round_trips()
      local d = assert(t:record{ rcpt = "new@example.com", type = "soft", at = 1780000000 })
      assert.equals("retry", d.action)
      assert.same({ scripts = 1, gets = 0 }, delta())
      assert.equals(1, t:get("new@example.com").bounces)
    end)

    it("records an address it wrote before with one EVALSHA each", function()
      local t = tracker(assert(bounce.store.redis(srv:client(), fresh())))
      local delta = round_trips()
      for i = 1, 10 do
        assert(t:record{ rcpt = "ann@example.com", type = "block", at = 1780000000 + i })
      end
      local d = assert(t:record{ rcpt = "ann@example.com", type = "soft", at = 1780000100 })
      assert.same({ scripts = 11, gets = 0 }, delta())
      assert.equals(1, d.attempts)
      local r = t:get("ann@example.com")
      assert.equals(10, r.blocks)
      assert.equals(11, r.bounces)
    end)

    it("confirms an event that changes nothing with one GET and no write", function()
      local t = tracker(assert(bounce.store.redis(srv:client(), fresh())))
      assert(t:record{ rcpt = "ann@example.com", type = "delivered", at = 1780000000 })
      local delta = round_trips()
      local d = assert(t:record{ rcpt = "ann@example.com", type = "sent", at = 1780000060 })
      assert.equals("send", d.action)
      assert.same({ scripts = 0, gets = 1 }, delta())
    end)

    it("gets it right in two round trips when another host changed the record", function()
      local s = assert(bounce.store.redis(srv:client(), fresh()))
      local other = assert(bounce.store.redis(srv:client(), { prefix = s.prefix }))
      local t, t2 = tracker(s), tracker(other)
      assert(t:record{ rcpt = "ann@example.com", type = "soft", at = 1780000000 })
      assert(t2:record{ rcpt = "ann@example.com", type = "soft", at = 1780000600 })
      assert(t2:record{ rcpt = "ann@example.com", type = "soft", at = 1780001200 })
      -- t's cache still holds the record after one soft bounce
      local delta = round_trips()
      local d = assert(t:record{ rcpt = "ann@example.com", type = "soft", at = 1780001800 })
      assert.same({ scripts = 2, gets = 0 }, delta())
      assert.equals(4, d.attempts)
      assert.equals(4, t2:get("ann@example.com").bounces)
      delta()
      -- and t's next event goes in one again
      d = assert(t:record{ rcpt = "ann@example.com", type = "soft", at = 1780002400 })
      assert.same({ scripts = 1, gets = 0 }, delta())
      assert.equals(5, d.attempts)
    end)

    it("checks an address and its domain's mark in one MGET; deliveries read the mark once a minute",
       function()
      local s = assert(bounce.store.redis(srv:client(), fresh()))
      local t = tracker(s)
      local function mgets()
        return tonumber(srv:cli("INFO commandstats"):match("cmdstat_mget:calls=(%d+)")) or 0
      end
      assert(t:record{ rcpt = "x@lapsed.example", type = "hard", reason = "hostunknown", at = 1780000000 })
      local delta, m0 = round_trips(), mgets()
      local ok, text = t:check("y@lapsed.example", 1780000060)
      assert.is_false(ok)
      assert.matches("^dead domain lapsed%.example since ", text)
      assert.is_true((t:check("y@alive.example", 1780000060)))
      assert.equals(2, mgets() - m0)
      assert.same({ scripts = 0, gets = 0 }, delta())
      -- the first delivery at a domain reads its mark; the next ones in the minute do not
      for i = 1, 5 do
        assert(t:record{ rcpt = "u" .. i .. "@alive.example", type = "delivered", at = 1780000100 })
      end
      assert.same({ scripts = 5, gets = 1 }, delta())
      assert(t:record{ rcpt = "z@lapsed.example", type = "delivered", at = 1780000100 })
      assert.is_true((t:check("y@lapsed.example", 1780000160)))
      local a, b, err = s:get2("z@lapsed.example", "nobody@lapsed.example")
      assert.same({ true, nil, nil }, { type(a) == "string" and #a == 32, b, err })
      local cs = assert(bounce.store.redis(srv:client(), { prefix = s.prefix, cluster = true }))
      local ca, cb = cs:get2("z@lapsed.example", "nobody@lapsed.example")
      assert.same({ a, nil }, { ca, cb })
    end)

    it("never answers check or get from its cache", function()
      local s = assert(bounce.store.redis(srv:client(), fresh()))
      local other = assert(bounce.store.redis(srv:client(), { prefix = s.prefix }))
      local t, t2 = tracker(s), tracker(other)
      assert(t:record{ rcpt = "ann@example.com", type = "delivered", at = 1780000000 })
      assert.is_true((t:check("ann@example.com")))
      assert(t2:record{ rcpt = "ann@example.com", reply = "550 5.1.1 user unknown", at = 1780000060 })
      local allowed, because = t:check("ann@example.com")
      assert.is_false(allowed)
      assert.matches("^suppressed since", because)
      assert.equals("suppressed", t:get("ann@example.com").state)
      -- nor a "sent" that writes nothing: its decision comes from Redis
      local d = assert(t2:release("ann@example.com", 1780000120))
      assert.equals("active", d.state)
      d = assert(t:record{ rcpt = "ann@example.com", type = "hard", at = 1780000180 })
      assert.equals("suppress", d.action)
    end)

    it("costs an address its cache does not hold two round trips (opts.cache bounds it)", function()
      local s = assert(bounce.store.redis(srv:client(), fresh{ cache = 2 }))   -- one key per generation
      local t = tracker(s)
      for _, a in ipairs({ "a", "b", "c" }) do
        assert(t:record{ rcpt = a .. "@example.com", type = "soft", at = 1780000000 })
      end
      local delta = round_trips()
      assert.equals(2, assert(t:record{ rcpt = "c@example.com", type = "soft", at = 1780000600 }).attempts)
      assert.same({ scripts = 1, gets = 0 }, delta())
      assert.equals(2, assert(t:record{ rcpt = "a@example.com", type = "soft", at = 1780000600 }).attempts)
      assert.same({ scripts = 2, gets = 0 }, delta())
      local none = tracker(assert(bounce.store.redis(srv:client(), { prefix = s.prefix, cache = 0 })))
      assert.equals(3, assert(none:record{ rcpt = "a@example.com", type = "soft", at = 1780001200 }).attempts)
      assert.same({ scripts = 2, gets = 0 }, delta())
    end)

    it("calls fn again with the current bytes, and gives up after 16 conflicting writes", function()
      local s = assert(bounce.store.redis(srv:client(), fresh()))
      local c = srv:client()
      local k = s:key("hot@example.com")
      local seen = {}
      local ok, err = s:update("hot@example.com", function(old)
        seen[#seen + 1] = old or "none"
        c:set(k, contract.record(#seen))   -- another writer, every time
        return true, contract.record(100)
      end)
      assert.is_nil(ok)
      assert.equals("too many conflicting writes for hot@example.com", err)
      assert.equals(16, #seen)
      assert.equals("none", seen[1])
      assert.equals(contract.record(15), seen[16])
      assert.equals(contract.record(16), s:get("hot@example.com"))
    end)

    it("deletes with a nil new value, sets the ttl, and leaves the record when fn writes nothing", function()
      local s = assert(bounce.store.redis(srv:client(), fresh()))
      assert.is_true(s:update("a@example.com", function(old)
        assert.is_nil(old)
        return true, contract.record(1), 3600
      end))
      local ttl = tonumber(srv:cli("TTL " .. redis_srv.q(s:key("a@example.com"))))
      assert.is_true(ttl > 3590 and ttl <= 3600, "TTL " .. ttl)
      assert.is_true(s:update("a@example.com", function(old)
        assert.equals(contract.record(1), old)
        return false
      end))
      assert.equals(contract.record(1), s:get("a@example.com"))
      assert.is_true(s:update("a@example.com", function() return true, nil end))
      assert.equals("0", srv:cli("EXISTS " .. redis_srv.q(s:key("a@example.com"))))
    end)

    it("sets aside a record that turned corrupt after it was cached, never overwrites it", function()
      local s = assert(bounce.store.redis(srv:client(), fresh()))
      local t = tracker(s)
      assert(t:record{ rcpt = "bad@example.com", type = "soft", at = 1780000000 })
      srv:client():set(s:key("bad@example.com"), "not a record")
      local d = assert(t:record{ rcpt = "bad@example.com", type = "hard", at = 1780000060 })
      assert.is_true(d.corrupt)
      assert.matches("^corrupt record for bad@example.com: ", d.why)
      assert.equal("suppress", d.action)
      assert.equals("not a record", s:get("@@corrupt:bad@example.com"))
    end)

    it("reports a key of another type as a corrupt record naming it, and sets it aside", function()
      local s = assert(bounce.store.redis(srv:client(), fresh()))
      local t = tracker(s)
      local k = s:key("typed@example.com")
      srv:cli("HSET " .. redis_srv.q(k) .. " a b")
      -- t:check reads with MGET, which answers none for a key of another type
      assert.is_true((t:check("typed@example.com", 1780000000)))
      local rec, err = t:get("typed@example.com")
      assert.is_nil(rec)
      assert.equal("corrupt record for typed@example.com: the Redis key " .. k .. " holds a hash, "
        .. "not a string", err)
      local d = assert(t:record{ rcpt = "typed@example.com", type = "hard", at = 1780000000 })
      assert.is_true(d.corrupt)
      assert.equal("suppress", d.action)
      assert.equals("string", srv:cli("TYPE " .. redis_srv.q(k)))
      -- what it held, as DUMP gives it (RESTORE brings it back)
      assert.equals("string", srv:cli("TYPE " .. redis_srv.q(s:key("@@corrupt:typed@example.com"))))
      local rows = {}
      for key in t:corrupt() do rows[#rows + 1] = key end
      assert.same({ "@@corrupt:typed@example.com" }, rows)
      -- a release resets another one, and deletes what was set aside
      srv:cli("RPUSH " .. redis_srv.q(s:key("list@example.com")) .. " x")
      d = assert(t:release("list@example.com", 1780000001))
      assert.equal("active", d.state)
      assert.is_true(d.corrupt)
      assert(t:release("typed@example.com", 1780000001))
      assert.is_nil(t:corrupt()())
    end)

    it("raises on caller mistakes", function()
      local s = assert(bounce.store.redis(srv:client(), fresh()))
      assert.has_error(function() s:update(1, print) end,
        "bad argument #1 to 'update' (string expected, got number)")
      assert.has_error(function() s:update("k") end,
        "bad argument #2 to 'update' (function expected, got nil)")
      assert.has_error(function() store_redis.new(srv:client(), { cache = -1 }) end,
        "bad argument #2 to 'redis' (opts.cache: number >= 0 expected)")
    end)
  end)

  describe("concurrency", function()
    it("4 processes x 5,000 block events over 100 addresses lose no update", function()
      local prefix = "conc:"
      local rc, dir = redis_srv.run("mktemp -d /tmp/bounce-redis-workers.XXXXXX")
      assert.equals(0, rc)
      dir = dir:gsub("%s+$", "")
      local ok, err = pcall(function()
        local worker = dir .. "/worker.lua"
        local f = assert(io.open(worker, "w"))
        f:write(("package.path = %q\npackage.cpath = %q\n"):format(
          package.path .. ";/usr/share/lua/5.3/?.lua", package.cpath), [[
local id, port, prefix = tonumber(arg[1]), tonumber(arg[2]), arg[3]
local bounce = require("bounce")
local redis = require("redis")
local client = redis.connect{ host = "127.0.0.1", port = port, timeout = 5 }
local t = bounce.tracker{ store = bounce.store.redis(client, { prefix = prefix }), health = false }
local done, failed, last = 0, 0, nil
for i = 1, 5000 do
  -- each worker walks the 100 addresses in its own order
  local rcpt = "user" .. ((i * 7 + id * 31) % 100) .. "@example.com"
  local d, e = t:record{ rcpt = rcpt, type = "block", reason = "blocked", at = 1780000000 + i }
  if d then done = done + 1 else failed, last = failed + 1, e end
end
print(("done %d failed %d %s"):format(done, failed, tostring(last)))
]])
        f:close()
        local procs = {}
        for id = 1, 4 do
          -- the environment is inherited: under `make asan` the workers load
          -- the sanitized module with the same LD_PRELOAD as this process
          procs[id] = assert(io.popen(("cd %s && %s %s %d %d %s 2>&1"):format(
            redis_srv.q(nginx.root), interpreter(), redis_srv.q(worker), id, srv:port(), prefix)))
        end
        for id = 1, 4 do
          local out = procs[id]:read("*a")
          procs[id]:close()
          assert.matches("^done 5000 failed 0 ", out, nil, false, "worker " .. id .. ": " .. out)
        end
        local t = bounce.tracker{ store = assert(bounce.store.redis(srv:client(), { prefix = prefix })),
                                  health = false }
        local wrong = {}
        for a = 0, 99 do
          local r = assert(t:get("user" .. a .. "@example.com"))
          if r.bounces ~= 200 then wrong[#wrong + 1] = a .. ":" .. r.bounces end
        end
        assert.same({}, wrong)
        assert.equals(100, t:count())
      end)
      redis_srv.run("rm -rf " .. redis_srv.q(dir))
      if not ok then error(err, 0) end
    end)
  end)

  describe("faults", function()
    it("returns nil, err while Redis is down and works again once it is back", function()
      local s = assert(bounce.store.redis(srv:client(), fresh{ connect = srv:connector() }))
      local t = bounce.tracker{ store = s, health = false }
      assert(t:record{ rcpt = "a@example.com", type = "soft", at = 1780000000 })
      srv:down()
      local ok, run_err = pcall(function()
        for i = 1, 2 do   -- the call that finds the socket dead, and one that cannot connect
          local d, err = t:record{ rcpt = "a@example.com", type = "soft", at = 1780000000 + i }
          assert.is_nil(d)
          assert.matches("^store: redis: ", err)
        end
        local allowed, err = t:check("a@example.com")
        assert.is_nil(allowed)   -- not "allowed, no history"
        assert.matches("^store: redis: connect failed", err)
        local r, gerr = t:get("a@example.com")
        assert.is_nil(r)
        assert.matches("^store: redis: ", gerr)
        assert.has_error(function() for _ in s:scan() do end end)
      end)
      srv:up()   -- an empty Redis: nothing was saved
      if not ok then error(run_err, 0) end
      local d = assert(t:record{ rcpt = "a@example.com", type = "soft", at = 1780000100 })
      assert.equals("retry", d.action)
      assert.equals(1, t:get("a@example.com").bounces)   -- only what was acknowledged
    end)

    it("recovers on the next call after a restart between calls (the closed idle connection is replaced)", function()
      local s = assert(bounce.store.redis(srv:client(), fresh{ connect = srv:connector() }))
      local t = bounce.tracker{ store = s, health = false }
      assert(t:record{ rcpt = "b@example.com", type = "soft", at = 1780000000 })
      srv:restart()
      local d, err = t:record{ rcpt = "b@example.com", type = "soft", at = 1780000060 }
      assert.is_nil(err)
      assert.equals("retry", d.action)
      assert.equals(1, t:get("b@example.com").bounces)   -- the restart emptied Redis
      srv:restart()   -- a read after a restart is retried on a new connection
      assert.same({ true, "active: no history" }, { t:check("b@example.com") })
    end)

    it("drops a timed-out connection, so a late reply is never read as the next one", function()
      local redis = assert(redis_srv.load_client())
      local params = { host = "127.0.0.1", port = srv:port(), timeout = 0.2 }
      local s = assert(bounce.store.redis(nil, fresh{ connect = function() return redis.connect(params) end }))
      local t = bounce.tracker{ store = s, health = false }
      assert(t:record{ rcpt = "slow@example.com", type = "soft", at = 1780000000 })
      srv:cli("CLIENT PAUSE 700 ALL")
      local d, err = t:record{ rcpt = "slow@example.com", type = "soft", at = 1780000060 }
      assert.is_nil(d)
      assert.matches("timeout", err)
      require("socket").sleep(0.8)
      d = assert(t:record{ rcpt = "slow@example.com", type = "soft", at = 1780000120 })
      assert.equals(2, d.attempts)
      local r = assert(t:get("slow@example.com"))
      assert.equals(2, r.bounces)
    end)

    it("reports a corrupt record in Redis with the address and leaves it as it is", function()
      local s = assert(bounce.store.redis(srv:client(), { prefix = "corrupt:" }))
      local t = bounce.tracker{ store = s, health = false }
      assert(t:record{ rcpt = "bad@example.com", type = "soft", at = 1780000000 })
      local c = srv:client()
      local good = c:get("corrupt:{bad@example.com}")
      local bad = good:sub(1, 9) .. string.char((good:byte(10) + 1) % 256) .. good:sub(11)
      c:set("corrupt:{bad@example.com}", bad)
      c:set("corrupt:{junk@example.com}", "not a record")
      local allowed, cerr = t:check("bad@example.com")
      assert.is_nil(allowed)
      assert.matches("bad@example.com", cerr, 1, true)
      local d = assert(t:record{ rcpt = "bad@example.com", type = "hard", at = 1780000060 })
      assert.is_true(d.corrupt)
      assert.matches("bad@example.com", d.why, 1, true)
      assert.matches("checksum", d.why, 1, true)
      d = assert(t:record{ rcpt = "junk@example.com", type = "soft", at = 1780000060 })
      assert.matches("corrupt record for junk@example.com", d.why, 1, true)
      assert.equals(bad, c:get("corrupt:{@@corrupt:bad@example.com}"))
      assert.equals("not a record", c:get("corrupt:{@@corrupt:junk@example.com}"))
      local _, problems = t:expire(1780000000 + 400 * 86400)
      assert.equals(2, #problems)
    end)
  end)
end)

describe("store.redis inside nginx (nginx.redis, LuaJIT)", function()
  local ok_nginx, why_nginx = nginx.available()
  if not usable or not ok_nginx then
    skip_or_fail(not usable and why or why_nginx)
    return
  end
  local function exists(p) local f = io.open(p) if f then f:close() end return f ~= nil end
  if not exists("/usr/share/lua/5.1/nginx/redis.lua") then
    skip_or_fail("nginx.redis not found (apt-get install lua-nginx-redis)")
    return
  end

  local rsrv, srv
  setup(function()
    rsrv = redis_srv.start()
    -- The repo root on the path for spec.support.*; stores use one pooled
    -- connection per call (connect + release), as OpenResty wants.
    srv = nginx.start{
      http = ([[
  init_by_lua_block {
    package.path = %q .. "/?.lua;" .. package.path
    REDIS_PORT = %d
    local redis = require("nginx.redis")
    local n = 0
    function make_store(prefix)
      n = n + 1
      return assert(require("bounce").store.redis(nil, {
        prefix = prefix or ("ngx" .. n .. ":"),
        connect = function()
          local red = redis:new()
          red:set_timeout(2000)
          local ok, err = red:connect("127.0.0.1", REDIS_PORT)
          if not ok then return nil, err end
          return red
        end,
        release = function(red) red:set_keepalive(10000, 16) end,
      }))
    end
  }
]]):format(nginx.root, rsrv:port()),
      server = [[
    default_type application/json;
    location = /contract {
      content_by_lua_block {
        local results, failed = require("spec.support.store_contract").run_all(make_store)
        ngx.say(require("cjson").encode({ results = results, failed = failed }))
      }
    }
    location = /burst {
      content_by_lua_block {
        local t = require("bounce").tracker{ store = make_store("burst:"), health = false }
        local args = ngx.req.get_uri_args()
        local d, err
        for i = 1, tonumber(args.n) do
          d, err = t:record{ rcpt = args.rcpt, type = "block", at = 1780000000 + i }
          if not d then break end
        end
        ngx.say(require("cjson").encode(d or { error = err }))
      }
    }
    location = /record {
      content_by_lua_block {
        local bounce = require("bounce")
        local t = bounce.tracker{ store = make_store("shared:"), health = false }
        local args = ngx.req.get_uri_args()
        local d, err = t:record{ rcpt = args.rcpt, type = args.type, at = tonumber(args.at) }
        ngx.say(require("cjson").encode(d or { error = err }))
      }
    }
]],
    }
  end)
  teardown(function()
    if srv then srv:stop() end
    if rsrv then rsrv:stop() end
  end)

  it("passes every case of the store contract", function()
    local status, body = srv:get("/contract")
    assert.equals(200, status, body)
    local res = require("cjson").decode(body)
    assert.equals(#contract.cases, #res.results)
    for _, r in ipairs(res.results) do
      assert.is_true(r.ok, r.name .. ": " .. tostring(r.err))
    end
    assert.equals(0, res.failed)
    assert.not_matches("%[error%]", srv:error_log())
  end)

  it("shares records with plain Lua hosts on the same Redis", function()
    local status, body = srv:get("/record?rcpt=Ann%40example.org&type=soft&at=1780000000")
    assert.equals(200, status, body)
    assert.equals("retry", require("cjson").decode(body).action)
    local t = bounce.tracker{ store = assert(bounce.store.redis(rsrv:client(), { prefix = "shared:" })),
                              health = false }
    local d = assert(t:record{ rcpt = "ann@example.org", type = "soft", at = 1780000600 })
    assert.equals(2, d.attempts)
    status, body = srv:get("/record?rcpt=ann%40example.org&type=soft&at=1780001200")
    assert.equals(200, status, body)
    assert.equals(3, require("cjson").decode(body).attempts)
  end)

  it("records each event in one round trip over pooled connections (connect + release)", function()
    rsrv:cli("SCRIPT LOAD " .. redis_srv.q(store_redis.CAS_SCRIPT))
    local delta = counter(rsrv)
    local status, body = srv:get("/burst?rcpt=burst%40example.org&n=20")
    assert.equals(200, status, body)
    assert.equals("block", require("cjson").decode(body).event)
    assert.same({ scripts = 20, gets = 0 }, delta())
    local t = bounce.tracker{ store = assert(bounce.store.redis(rsrv:client(), { prefix = "burst:" })),
                              health = false }
    assert.equals(20, t:get("burst@example.org").blocks)
    -- a new store (empty cache) on the same record: two round trips, right count
    status, body = srv:get("/burst?rcpt=burst%40example.org&n=1")
    assert.equals(200, status, body)
    assert.same({ scripts = 2, gets = 1 }, delta())   -- and t:get's GET
    assert.equals(21, t:get("burst@example.org").blocks)
    assert.not_matches("%[error%]", srv:error_log())
  end)

  it("answers with an error, not a decision, when Redis is down", function()
    rsrv:down()
    local status, body = srv:get("/record?rcpt=ann%40example.org&type=soft&at=1780002000")
    rsrv:up()
    assert.equals(200, status, body)
    local r = require("cjson").decode(body)
    assert.is_nil(r.action)
    assert.matches("^store: redis: ", r.error)
  end)
end)
