-- bounce.policy: loading, checking, merging and reloading bounce-history policies.
-- None of these specs needs the clock; the reason names come from bounce.core.

local policy = require("bounce.policy")
local util = require("spec.support.util")

local MIN, HOUR, DAY = 60, 3600, 86400

-- Write `src` to a fresh temporary file and return its path.
local function tmpfile(src)
  local path = os.tmpname()
  local fh = assert(io.open(path, "wb"))
  fh:write(src)
  fh:close()
  return path
end

local function write(path, src)
  local fh = assert(io.open(path, "wb"))
  fh:write(src)
  fh:close()
end

-- The message a policy source text fails with, named policies/x.lua.
local function err_of(src)
  local p, err = policy.load_string(src, "policies/x.lua")
  assert.is_nil(p)
  return err
end

local function err_of_table(t)
  local p, err = policy.load(t, "policies/x.lua")
  assert.is_nil(p)
  return err
end

describe("policy.default", function()
  local r = policy.default():resolve()

  it("retries soft bounces after 10m, 30m, 2h, 8h, 24h", function()
    assert.same({ 600, 1800, 7200, 28800, 86400 }, r.soft_backoff)
    assert.is_nil(r.soft_backoff_first)
  end)

  it("suppresses after 5 soft bounces in a row or 72h of failing", function()
    assert.equal(5, r.soft_max_attempts)
    assert.equal(5, r.soft_permanent_max_attempts)
    assert.equal(72 * HOUR, r.soft_window)
  end)

  it("ends a soft-bounce streak after 30 days without one, and retries a 4xx hard bounce", function()
    assert.equal(30 * DAY, r.soft_reset_after)
    assert.equal("soft", r.hard_transient)
  end)

  it("holds blocked sending for 15m, 1h, 4h", function()
    assert.same({ 900, 3600, 14400 }, r.block_backoff)
  end)

  it("keeps hard, complaint, unsubscribe and manual suppressions forever (-1), soft ones 30 days", function()
    assert.equal(-1, r.retention_hard)
    assert.equal(30 * DAY, r.retention_soft)
    assert.equal(-1, r.retention_complaint)
    assert.equal(-1, r.retention_unsubscribe)
    assert.equal(-1, r.retention_manual)
    assert.equal(30 * DAY, r.retention_domain)
    assert.equal(-1, policy.FOREVER)
  end)

  it("judges health from 100 sent messages over 24h", function()
    assert.same({ min_sent = 100, window = 24 * HOUR,
                  hard = { caution = 0.005, throttle = 0.02, stop = 0.05 },
                  complaint = { caution = 0.001, stop = 0.003 } }, policy.default().health)
  end)

  it("compares local parts case-insensitively, has no hook, and is named 'default'", function()
    local p = policy.default()
    assert.is_false(p.addresses.case_sensitive)
    assert.is_nil(p.on_event)
    assert.equal("default", p.source)
    assert.equal(p, policy.default())
  end)

  it("agrees with the shipped policies/default.lua", function()
    local file = assert(policy.load("policies/default.lua"))
    local builtin = policy.default()
    for _, reason in ipairs({ false, "mailboxfull", "userunknown", "toomanyconn" }) do
      assert.same(builtin:resolve("example.com", reason or nil),
                  file:resolve("example.com", reason or nil))
    end
    assert.same(builtin.health, file.health)
    assert.same(builtin.addresses, file.addresses)
  end)

  it("leaves out keys a policy omits: an empty table is the defaults", function()
    local p = assert(policy.load({}))
    assert.same(policy.default():resolve(), p:resolve())
    assert.same(policy.default().health, p.health)
  end)
end)

describe("the defaults", function()
  local dirs = {}
  teardown(function()
    for _, d in ipairs(dirs) do util.run("rm -rf " .. util.q(d)) end
  end)

  -- A copy of bounce/policy.lua at MODULE (relative to a fresh folder), the
  -- default policy at DEFAULT edited by EDIT (text -> text); returns what
  -- loading that copy gives: the module, or false and the error.
  local function load_copy(module, default, edit)
    local rc, dir = util.run("mktemp -d /tmp/bounce-policy-spec.XXXXXX")
    assert(rc == 0, dir)
    dir = dir:gsub("%s+$", "")
    dirs[#dirs + 1] = dir
    local text = assert(util.read("policies/default.lua"))
    for _, f in ipairs({ module, default }) do
      assert(util.run("mkdir -p " .. util.q(dir .. "/" .. f:match("^(.*)/"))) == 0)
    end
    util.write(dir .. "/" .. module, assert(util.read("lua/bounce/policy.lua")))
    util.write(dir .. "/" .. default, edit and edit(text) or text)
    local chunk = assert(loadfile(dir .. "/" .. module))
    local ok, m = pcall(chunk)
    if not ok then return false, m end
    return m
  end

  it("come from policies/default.lua: an edited file changes what every policy leaves out", function()
    local m = assert(load_copy("lua/bounce/policy.lua", "policies/default.lua", function(t)
      return (t:gsub("max_attempts = 5,", "max_attempts = 7,", 1):gsub('soft = "30d"', 'soft = "9d"', 1))
    end))
    assert.equal(7, m.default():resolve().soft_max_attempts)
    assert.equal(9 * DAY, m.default():resolve().retention_soft)
    local p = assert(m.load({ soft = { window = "1h" } }))
    assert.equal(7, p:resolve().soft_max_attempts)
    assert.equal(HOUR, p:resolve().soft_window)
    assert.equal(9 * DAY, p:resolve("example.com", "mailboxfull").retention_soft)
    assert.equal("default", m.default().source)
  end)

  it("are found beside the module when installed (bounce/policies/default.lua)", function()
    local m = assert(load_copy("share/lua/5.4/bounce/policy.lua", "share/lua/5.4/bounce/policies/default.lua",
      function(t) return (t:gsub("min_sent = 100", "min_sent = 42", 1)) end))
    assert.equal(42, m.default().health.min_sent)
    assert.equal(42, assert(m.load({})).health.min_sent)
  end)

  it("must give every key a value: a default file without one is refused, naming the key", function()
    local ok, err = load_copy("lua/bounce/policy.lua", "policies/default.lua", function(t)
      return (t:gsub('\n%s*window = "72h",', "\n", 1))
    end)
    assert.is_false(ok)
    assert.matches("the default policy is broken: .*policies/default%.lua: soft%.window: missing", err)
  end)

  it("may not hold overrides other policies would not inherit", function()
    local ok, err = load_copy("lua/bounce/policy.lua", "policies/default.lua", function(t)
      return (t:gsub("reasons = {},", "reasons = { mailboxfull = { max_attempts = 2 } },", 1))
    end)
    assert.is_false(ok)
    assert.matches("policies/default%.lua: reasons: the default policy holds no overrides", err)
  end)

  it("are required: without the file the module says where it looked", function()
    local path = package.path
    package.path = "/nonexistent/?.lua"   -- an installed bounce elsewhere must not answer
    local ok, err = load_copy("lua/bounce/policy.lua", "elsewhere/default.lua")
    package.path = path
    assert.is_false(ok)
    assert.matches("the default policy %(policies/default%.lua%) is not installed; looked in .*/lua/bounce/policies/default%.lua", err)
  end)
end)

describe("policy.duration", function()
  it("reads seconds, minutes, hours, days and weeks", function()
    assert.equal(45, policy.duration("45s"))
    assert.equal(90 * MIN, policy.duration("90m"))
    assert.equal(72 * HOUR, policy.duration("72h"))
    assert.equal(30 * DAY, policy.duration("30d"))
    assert.equal(14 * DAY, policy.duration("2w"))
  end)

  it("adds up combined units such as 1h30m and 1d12h", function()
    assert.equal(90 * MIN, policy.duration("1h30m"))
    assert.equal(36 * HOUR, policy.duration("1d12h"))
  end)

  it("takes a whole number as seconds and 'forever' as -1", function()
    assert.equal(600, policy.duration(600))
    assert.equal(0, policy.duration(0))
    assert.equal(-1, policy.duration("forever"))
  end)

  it("refuses what is not a duration", function()
    for _, v in ipairs({ "10", "10x", "1.5h", "h", "", " 10m", "10m ", "-5m", -1, 1.5, true }) do
      assert.is_nil(policy.duration(v), tostring(v))
    end
  end)

  it("accepts every form in a policy", function()
    local p = assert(policy.load({ soft = { window = "1d12h", backoff = { 30, "45s", "90m", "1w" } } }))
    local r = p:resolve()
    assert.equal(36 * HOUR, r.soft_window)
    assert.same({ 30, 45, 90 * MIN, 7 * DAY }, r.soft_backoff)
  end)
end)

describe("policy validation", function()
  it("names the file, key path, value and expectation", function()
    assert.equal("policies/x.lua: soft.max_attempts: expected an integer 1..1000, got -3",
      err_of("return { soft = { max_attempts = -3 } }"))
    assert.equal("policies/x.lua: soft.max_attempts: expected an integer 1..1000, got 2.5",
      err_of_table({ soft = { max_attempts = 2.5 } }))
    assert.equal('policies/x.lua: soft.max_attempts: expected an integer 1..1000, got "5"',
      err_of_table({ soft = { max_attempts = "5" } }))
  end)

  it("uses the path when no name is given", function()
    local path = tmpfile("return { soft = { max_attempts = 0 } }")
    local p, err = policy.load(path)
    os.remove(path)
    assert.is_nil(p)
    assert.equal(path .. ": soft.max_attempts: expected an integer 1..1000, got 0", err)
  end)

  it("names a table policy 'policy' by default", function()
    local _, err = policy.load({ soft = { max_attempts = 1001 } })
    assert.equal("policy: soft.max_attempts: expected an integer 1..1000, got 1001", err)
  end)

  it("refuses unknown keys, with a hint for near misses", function()
    assert.equal("policies/x.lua: soft.max_attempt: unknown key (did you mean max_attempts?), "
      .. "expected one of backoff, max_attempts, permanent_max_attempts, reset_after, window",
      err_of_table({ soft = { max_attempt = 3 } }))
    assert.equal("policies/x.lua: bogus: unknown key, expected one of addresses, block, "
      .. "description, domains, hard, health, on_event, reasons, retention, soft",
      err_of_table({ bogus = 1 }))
    assert.equal("policies/x.lua: retention.hardd: unknown key (did you mean hard?), "
      .. "expected one of complaint, domain, hard, manual, soft, unsubscribe",
      err_of_table({ retention = { hardd = "forever" } }))
  end)

  it("refuses wrong types for sections", function()
    assert.equal('policies/x.lua: soft: expected a table, got "5"', err_of_table({ soft = "5" }))
    assert.equal("policies/x.lua: on_event: expected a function(event, record, decision), got true",
      err_of_table({ on_event = true }))
    assert.equal('policies/x.lua: addresses.case_sensitive: expected a boolean, got "yes"',
      err_of_table({ addresses = { case_sensitive = "yes" } }))
  end)

  it("refuses a policy that is not a table", function()
    assert.equal("policies/x.lua: expected the policy to be a table, got 42", err_of("return 42"))
    assert.equal("policies/x.lua: expected the policy to be a table, got nil", err_of("local x = 1"))
  end)

  it("checks durations and their ranges", function()
    assert.equal('policies/x.lua: soft.window: expected a duration 1m..365d or "forever", got "72 hours"',
      err_of_table({ soft = { window = "72 hours" } }))
    assert.equal('policies/x.lua: soft.window: expected a duration 1m..365d or "forever", got "30s"',
      err_of_table({ soft = { window = "30s" } }))
    assert.equal('policies/x.lua: retention.soft: expected a duration 1d..3650d or "forever", got "12h"',
      err_of_table({ retention = { soft = "12h" } }))
    assert.equal('policies/x.lua: retention.hard: expected a duration 1d..3650d or "forever", got "3651d"',
      err_of_table({ retention = { hard = "3651d" } }))
    assert.equal('policies/x.lua: retention.domain: expected a duration 1d..3650d or "forever", got "2h"',
      err_of_table({ retention = { domain = "2h" } }))
    assert.equal('policies/x.lua: domains["example.com"].retention.domain: expected a duration 1d..3650d '
      .. 'or "forever", got -1', err_of_table({ domains = { ["example.com"] = { retention = { domain = -1 } } } }))
    assert.equal('policies/x.lua: soft.backoff[2]: expected a duration 1s..30d, got "10x"',
      err_of_table({ soft = { backoff = { "5m", "10x" } } }))
    assert.equal('policies/x.lua: block.backoff[1]: expected a duration 1s..30d, got "forever"',
      err_of_table({ block = { backoff = { "forever" } } }))
    assert.equal("policies/x.lua: health.window: expected a duration 1m..90d, got -5",
      err_of_table({ health = { window = -5 } }))
    assert.equal('policies/x.lua: soft.reset_after: expected a duration 1h..3650d, got "59m"',
      err_of_table({ soft = { reset_after = "59m" } }))
    assert.equal('policies/x.lua: soft.reset_after: expected a duration 1h..3650d, got "forever"',
      err_of_table({ soft = { reset_after = "forever" } }))
    assert.equal('policies/x.lua: domains["a.example"].soft.reset_after: expected a duration '
      .. '1h..3650d, got "3651d"',
      err_of_table({ domains = { ["a.example"] = { soft = { reset_after = "3651d" } } } }))
    assert.equal('policies/x.lua: hard.transient: expected "soft" or "suppress", got "retry"',
      err_of_table({ hard = { transient = "retry" } }))
    assert.equal("policies/x.lua: hard.soft: unknown key, expected one of transient",
      err_of_table({ hard = { soft = 1 } }))
  end)

  it("accepts reset_after at both ends of 1h..3650d, per reason and domain too", function()
    local p = assert(policy.load({ soft = { reset_after = "1h" },
      reasons = { mailboxfull = { reset_after = "3650d" } },
      domains = { ["b.example"] = { hard = { transient = "suppress" } } } }))
    assert.equal(3600, p:resolve().soft_reset_after)
    assert.equal(3650 * DAY, p:resolve(nil, "mailboxfull").soft_reset_after)
    assert.equal("suppress", p:resolve("b.example").hard_transient)
    assert.equal("soft", p:resolve("c.example").hard_transient)
  end)

  it("accepts retention at both ends of 1d..3650d, and 'forever'", function()
    local r = assert(policy.load({ retention = { soft = "1d", hard = "3650d", complaint = "forever" } })):resolve()
    assert.equal(DAY, r.retention_soft)
    assert.equal(3650 * DAY, r.retention_hard)
    assert.equal(-1, r.retention_complaint)
    local d = assert(policy.load({ retention = { domain = "7d" },
      domains = { ["example.org"] = { retention = { domain = "90d" } } } }))
    assert.equal(7 * DAY, d:resolve("example.com", "hostunknown").retention_domain)
    assert.equal(90 * DAY, d:resolve("example.org", "hostunknown").retention_domain)
  end)

  it("checks both backoff forms", function()
    assert.equal("policies/x.lua: soft.backoff: expected a list of 1..100 durations or "
      .. "{ first =, factor =, max =, jitter = }, got a table", err_of_table({ soft = { backoff = {} } }))
    assert.equal("policies/x.lua: soft.backoff.first: expected a duration 1s..30d, got nil",
      err_of_table({ soft = { backoff = { factor = 2 } } }))
    assert.equal("policies/x.lua: soft.backoff.factor: expected a number 1..10, got 0.5",
      err_of_table({ soft = { backoff = { first = "5m", factor = 0.5 } } }))
    assert.equal("policies/x.lua: soft.backoff.jitter: expected a number 0..1, got 2",
      err_of_table({ soft = { backoff = { first = "5m", jitter = 2 } } }))
    assert.equal('policies/x.lua: soft.backoff.max: expected a duration no shorter than first '
      .. 'and at most 30d, got "1m"', err_of_table({ soft = { backoff = { first = "5m", max = "1m" } } }))
    assert.equal("policies/x.lua: soft.backoff.fist: unknown key (did you mean first?), "
      .. "expected one of factor, first, jitter, max",
      err_of_table({ soft = { backoff = { fist = "5m" } } }))
    assert.equal("policies/x.lua: soft.backoff: expected a list of 1..100 durations or "
      .. "{ first =, factor =, max =, jitter = }, not both",
      err_of_table({ soft = { backoff = { "5m", first = "5m" } } }))
  end)

  it("checks health rates are 0..1 and ordered caution <= throttle <= stop", function()
    assert.equal("policies/x.lua: health.hard.stop: expected a number 0..1, got 1.5",
      err_of_table({ health = { hard = { stop = 1.5 } } }))
    assert.equal("policies/x.lua: health.hard: expected caution <= throttle <= stop, "
      .. "got caution = 0.03, throttle = 0.02, stop = 0.05",
      err_of_table({ health = { hard = { caution = 0.03 } } }))
    assert.equal("policies/x.lua: health.complaint: expected caution <= stop, "
      .. "got caution = 0.01, stop = 0.003",
      err_of_table({ health = { complaint = { caution = 0.01 } } }))
    assert.equal("policies/x.lua: health.min_sent: expected an integer 0..1000000000, got -1",
      err_of_table({ health = { min_sent = -1 } }))
  end)

  it("checks reason names and domain names", function()
    assert.equal("policies/x.lua: reasons.mailboxful: unknown reason (did you mean mailboxfull?), "
      .. "expected a reason name from bounce.reasons (mailboxfull, userunknown, ...)",
      err_of_table({ reasons = { mailboxful = { max_attempts = 3 } } }))
    assert.equal('policies/x.lua: domains["bad domain"]: expected a domain name such as '
      .. '"example.com" as key, got "bad domain"', err_of_table({ domains = { ["bad domain"] = {} } }))
    assert.equal('policies/x.lua: domains["example.com"].soft.max_attempts: expected an integer '
      .. "1..1000, got 0", err_of_table({ domains = { ["example.com"] = { soft = { max_attempts = 0 } } } }))
    assert.equal('policies/x.lua: domains["example.com"]: domain given twice (keys are compared in '
      .. "lower case)", err_of_table({ domains = { ["Example.com"] = {}, ["example.com"] = {} } }))
  end)

  it("checks permanent_max_attempts like max_attempts", function()
    assert.equal("policies/x.lua: reasons.mailboxfull.permanent_max_attempts: expected an integer "
      .. "1..1000, got 0", err_of_table({ reasons = { mailboxfull = { permanent_max_attempts = 0 } } }))
  end)

  it("refuses the same soft key both flat and nested in a reason", function()
    assert.equal("policies/x.lua: reasons.mailboxfull.max_attempts: set either "
      .. "reasons.mailboxfull.max_attempts or reasons.mailboxfull.soft.max_attempts, not both",
      err_of_table({ reasons = { mailboxfull = { max_attempts = 2, soft = { max_attempts = 3 } } } }))
  end)

  it("reports syntax and runtime errors with the file name and line", function()
    assert.equal("policies/x.lua:1: unexpected symbol near '}'", err_of("return { soft = }"))
    assert.equal("policies/x.lua:2: boom", err_of("local x = 1\nerror('boom')"))
    assert.equal("policies/x.lua: error object is a table", err_of("error({})"))
  end)

  it("says when the file cannot be read", function()
    local p, err = policy.load("/nonexistent/policy.lua")
    assert.is_nil(p)
    assert.matches("^/nonexistent/policy.lua: cannot read: ", err)
  end)

  it("raises on caller mistakes rather than returning them", function()
    assert.has_error(function() policy.load(42) end,
      "bad argument #1 to 'load' (string or table expected, got number)")
    assert.has_error(function() policy.load({}, 1) end,
      "bad argument #2 to 'load' (string expected, got number)")
  end)
end)

describe("policy sandbox", function()
  it("offers string, math and table and the safe basics", function()
    local p = assert(policy.load_string([[
      local steps = {}
      for i = 1, 3 do steps[#steps + 1] = string.format("%dm", math.floor(10 * 2 ^ (i - 1))) end
      assert(type(tostring(1)) == "string" and tonumber("2") == 2 and select("#", 1, 2) == 2)
      assert(pcall(error, "x") == false)
      return { soft = { backoff = steps, max_attempts = #table.concat({ "a", "b" }) } }
    ]], "policies/x.lua"))
    assert.same({ 600, 1200, 2400 }, p:resolve().soft_backoff)
    assert.equal(2, p:resolve().soft_max_attempts)
  end)

  it("refuses io, os, require, load, loadstring, dofile, debug and package", function()
    for _, name in ipairs({ "io", "os", "require", "load", "loadstring", "dofile", "loadfile",
                            "debug", "package", "getmetatable", "setmetatable", "rawset",
                            "collectgarbage", "_G", "print" }) do
      assert.equal("policies/x.lua:1: policy may not use '" .. name
        .. "' (not available in the policy sandbox)", err_of("local x = " .. name), name)
    end
    assert.equal("policies/x.lua:1: policy may not use 'os' (not available in the policy sandbox)",
      err_of("os.execute('touch /tmp/pwned')"))
    assert.equal("policies/x.lua:1: policy may not use 'io' (not available in the policy sandbox)",
      err_of("return io.open('/etc/passwd')"))
  end)

  it("refuses global writes", function()
    assert.equal("policies/x.lua:1: policy may not set global 'x'", err_of("x = 1 return {}"))
    assert.equal("policies/x.lua:1: policy may not set global 'string'", err_of("string = nil return {}"))
  end)

  it("has no string.dump and no math.randomseed", function()
    -- the wording of "attempt to call" differs between Lua versions
    assert.matches("^policies/x.lua:1: attempt to call", err_of("return string.dump(function() end)"))
    assert.matches("^policies/x.lua:1: attempt to call", err_of("math.randomseed(1) return {}"))
  end)

  it("cannot change the host's libraries", function()
    local real = string.format
    assert(policy.load_string("string.format = nil return {}", "policies/x.lua"))
    assert.equal(real, string.format)
    assert.is_function(string.format)
  end)

  it("refuses precompiled (bytecode) files", function()
    local bytecode = string.dump(function() return {} end)
    assert.equal("policies/x.lua: binary (precompiled) chunks are not allowed", err_of(bytecode))
  end)

  it("stops a file that runs forever", function()
    assert.equal("policies/x.lua:1: policy ran too long (more than 10000000 instructions or 2 s of CPU time)",
      err_of("while true do end"))
    assert.matches("^policies/x.lua:1: policy ran too long",
      err_of("while true do pcall(function() while true do end end) end"))
  end)

  it("leaves the caller's debug hook in place", function()
    local function hook() end
    debug.sethook(hook, "", 1000000)
    local ok, err = policy.load_string("for i = 1, 100000 do end return {}", "policies/x.lua")
    local h, _, count = debug.gethook()
    debug.sethook()
    assert.is_nil(err)
    assert.is_truthy(ok)
    assert.equal(hook, h)
    assert.equal(1000000, count)
  end)

  it("runs a file's on_event hook with the sandbox as its globals", function()
    local p = assert(policy.load_string(
      "return { on_event = function(e, r, d) return os end }", "policies/x.lua"))
    assert.has_error(function() p.on_event({}, {}, {}) end)
  end)
end)

describe("policy overrides", function()
  local p = assert(policy.load({
    soft = { max_attempts = 4, window = "48h" },
    reasons = {
      mailboxfull = { max_attempts = 3, backoff = { "1h" },
                      retention = { soft = "7d" } },
      toomanyconn = { block = { backoff = { "1m", "5m" } } },
    },
    domains = {
      ["Example.COM"] = {
        soft = { max_attempts = 8 },
        reasons = { mailboxfull = { max_attempts = 2 } },
      },
      ["other.org"] = { soft = { window = "5d" } },
    },
  }))

  it("merges the policy over the defaults key by key", function()
    local r = p:resolve("gmail.com", "userunknown")
    assert.equal(4, r.soft_max_attempts)
    assert.equal(48 * HOUR, r.soft_window)
    assert.same({ 600, 1800, 7200, 28800, 86400 }, r.soft_backoff)
    assert.equal(30 * DAY, r.retention_soft)
  end)

  it("applies a reason entry over the base", function()
    local r = p:resolve("gmail.com", "mailboxfull")
    assert.equal(3, r.soft_max_attempts)
    assert.same({ 3600 }, r.soft_backoff)
    assert.equal(48 * HOUR, r.soft_window)
    assert.equal(7 * DAY, r.retention_soft)
    assert.same({ 60, 300 }, p:resolve(nil, "toomanyconn").block_backoff)
  end)

  it("applies a domain entry over a reason entry", function()
    local r = p:resolve("other.org", "mailboxfull")
    assert.equal(3, r.soft_max_attempts)          -- from the reason
    assert.equal(5 * DAY, r.soft_window)          -- from the domain
    assert.equal(8, p:resolve("example.com", "userunknown").soft_max_attempts)
  end)

  it("applies domains[domain].reasons[reason] over everything", function()
    local r = p:resolve("example.com", "mailboxfull")
    assert.equal(2, r.soft_max_attempts)
    assert.same({ 3600 }, r.soft_backoff)         -- still from reasons.mailboxfull
  end)

  it("matches domains in any case", function()
    assert.equal(8, p:resolve("EXAMPLE.com").soft_max_attempts)
  end)

  it("returns the same table for the same domain and reason", function()
    assert.equal(p:resolve("example.com", "mailboxfull"), p:resolve("example.com", "mailboxfull"))
    -- domains and reasons without overrides share the base entry
    assert.equal(p:resolve(), p:resolve("unknown.net", "userunknown"))
  end)

  it("replaces a backoff whole rather than step by step", function()
    local q = assert(policy.load({ soft = { backoff = { first = "2m" } },
                                   reasons = { mailboxfull = { backoff = { "1h", "2h" } } } }))
    local r = q:resolve(nil, "mailboxfull")
    assert.same({ 3600, 7200 }, r.soft_backoff)
    assert.is_nil(r.soft_backoff_first)
    r = q:resolve()
    assert.is_nil(r.soft_backoff)
    assert.equal(120, r.soft_backoff_first)
    assert.equal(2, r.soft_backoff_factor)        -- defaults of the exponential form
    assert.equal(24 * HOUR, r.soft_backoff_max)
    assert.equal(0, r.soft_backoff_jitter)
  end)

  it("caps permanent_max_attempts at max_attempts and follows max_attempts by default", function()
    local q = assert(policy.load({ soft = { max_attempts = 3, permanent_max_attempts = 9 },
                                   domains = { ["a.com"] = { soft = { max_attempts = 7 } } } }))
    assert.equal(3, q:resolve().soft_permanent_max_attempts)
    assert.equal(7, q:resolve("a.com").soft_permanent_max_attempts)
    assert.equal(7, assert(policy.load({ soft = { max_attempts = 7 } })):resolve().soft_permanent_max_attempts)
  end)
end)

describe("p:backoff", function()
  local p = policy.default()

  it("takes the n-th step and repeats the last past the end", function()
    assert.equal(600, p:backoff("soft", 1))
    assert.equal(86400, p:backoff("soft", 5))
    assert.equal(86400, p:backoff("soft", 6))
    assert.equal(86400, p:backoff("soft", 50))
    assert.equal(900, p:backoff("block", 1))
    assert.equal(14400, p:backoff("block", 4))
  end)

  it("grows exponentially up to the cap", function()
    local q = assert(policy.load({ soft = { backoff = { first = "5m", factor = 2, max = "1h" } } }))
    assert.equal(300, q:backoff("soft", 1))
    assert.equal(600, q:backoff("soft", 2))
    assert.equal(2400, q:backoff("soft", 4))
    assert.equal(3600, q:backoff("soft", 5))
    assert.equal(3600, q:backoff("soft", 1000))
  end)

  it("spreads by +-jitter with the rand given, and not at all without one", function()
    local q = assert(policy.load({ soft = { backoff = { first = "10m", jitter = 0.1 } } }))
    assert.equal(600, q:backoff("soft", 1))
    assert.equal(540, q:backoff("soft", 1, 0))      -- 600 * (1 - 0.1)
    assert.equal(600, q:backoff("soft", 1, 0.5))
    assert.equal(630, q:backoff("soft", 1, 0.75))   -- 600 * (1 + 0.05)
  end)

  it("uses the domain and reason overrides", function()
    local q = assert(policy.load({ reasons = { mailboxfull = { backoff = { "1h" } } },
                                   domains = { ["a.com"] = { block = { backoff = { "2m" } } } } }))
    assert.equal(3600, q:backoff("soft", 3, nil, "x.com", "mailboxfull"))
    assert.equal(120, q:backoff("block", 3, nil, "a.com"))
    assert.equal(1800, q:backoff("soft", 2, nil, "a.com"))
  end)

  it("is the same computation as policy.delay over a resolved table", function()
    assert.equal(7200, policy.delay(p:resolve(), "soft", 3))
  end)

  it("raises on a bad kind or attempt", function()
    assert.has_error(function() p:backoff("hard", 1) end)
    assert.has_error(function() p:backoff("soft", 0) end)
    assert.has_error(function() p:backoff("soft", 1, 1) end)
  end)
end)

describe("p:level", function()
  local p = policy.default()

  it("is not judged below min_sent", function()
    assert.same({ "healthy", false }, { p:level(99, 99, 99) })
    assert.same({ "healthy", false }, { p:level(0, 0, 0) })
  end)

  it("reads the hard-bounce rate: <0.5% healthy, 0.5-2% caution, 2-5% throttle, >=5% stop", function()
    assert.same({ "healthy", true }, { p:level(1000, 4, 0) })
    assert.same({ "caution", true }, { p:level(1000, 5, 0) })
    assert.same({ "throttle", true }, { p:level(1000, 20, 0) })
    assert.same({ "stop", true }, { p:level(1000, 50, 0) })
  end)

  it("takes the worse of the hard and complaint rates", function()
    assert.equal("caution", (p:level(10000, 0, 10)))     -- 0.1% complaints
    assert.equal("stop", (p:level(10000, 0, 30)))        -- 0.3% complaints
    assert.equal("throttle", (p:level(10000, 200, 10)))
    assert.equal("stop", (policy.level(p, 10000, 0, 30)))
  end)
end)

describe("policy objects", function()
  it("are read-only", function()
    local p = policy.default()
    assert.has_error(function() p.source = "x" end,
      "policy objects are read-only (tried to set 'source')")
  end)

  it("carry their source, a fingerprint, the hook and a description", function()
    local hook = function(_, _, d) return d end
    local p = assert(policy.load({ on_event = hook, description = "mine" }, "mine"))
    assert.equal("mine", p.source)
    assert.equal(hook, p.on_event)
    assert.equal("mine", p.description)
    assert.is_true(policy.is_policy(p))
    assert.is_false(policy.is_policy({}))
    assert.equal(p, policy.load(p))
    local q = assert(policy.load_string("return {}", "a"))
    local r = assert(policy.load_string("return {}", "b"))
    assert.equal(q.fingerprint, r.fingerprint)
    assert.not_equal(q.fingerprint, assert(policy.load_string("return { }", "c")).fingerprint)
  end)
end)

describe("policy.reloader", function()
  local path, now, clock
  before_each(function()
    path = tmpfile("return { soft = { max_attempts = 3 } }")
    now = 1000
    clock = function() return now end
  end)
  after_each(function() os.remove(path) end)

  it("loads the file at once, and fails when it is broken", function()
    local r = assert(policy.reloader(path, { clock = clock }))
    assert.equal(3, r:get():resolve().soft_max_attempts)
    write(path, "return { soft = { max_attempts = -3 } }")
    local r2, err = policy.reloader(path, { clock = clock })
    assert.is_nil(r2)
    assert.equal(path .. ": soft.max_attempts: expected an integer 1..1000, got -3", err)
  end)

  it("picks up a good edit once the interval has passed", function()
    local r = assert(policy.reloader(path, { interval = 5, clock = clock }))
    local first = r:get()
    write(path, "return { soft = { max_attempts = 7 } }")
    now = now + 4
    assert.equal(first, r:get())                  -- not looked at yet
    now = now + 1
    local p, err = r:get()
    assert.is_nil(err)
    assert.equal(7, p:resolve().soft_max_attempts)
    assert.equal(2, r.loads)
  end)

  it("keeps the previous policy on a broken edit and reports the error", function()
    local r = assert(policy.reloader(path, { interval = 0, clock = clock }))
    local good = r:get()
    write(path, "return { soft = { max_attempts = 'many' } }")
    local p, err = r:get()
    assert.equal(good, p)
    assert.equal(path .. ': soft.max_attempts: expected an integer 1..1000, got "many"', err)
    p, err = r:get()                              -- still broken: still said
    assert.equal(good, p)
    assert.is_string(err)
    write(path, "return { soft = { max_attempts = 9 } }")
    p, err = r:get()
    assert.is_nil(err)
    assert.equal(9, p:resolve().soft_max_attempts)
  end)

  it("keeps the previous policy when the file disappears", function()
    local r = assert(policy.reloader(path, { interval = 0, clock = clock }))
    local good = r:get()
    os.remove(path)
    local p, err = r:get()
    assert.equal(good, p)
    assert.matches(": cannot read: ", err)
  end)

  it("does not recompile an unchanged file", function()
    local r = assert(policy.reloader(path, { interval = 0, clock = clock }))
    local p = r:get()
    assert.equal(p, r:reload())
    assert.equal(1, r.loads)
  end)

  it("reloads on demand whatever the interval", function()
    local r = assert(policy.reloader(path, { interval = 3600, clock = clock }))
    write(path, "return { soft = { max_attempts = 4 } }")
    assert.equal(3, r:get():resolve().soft_max_attempts)
    assert.equal(4, r:reload():resolve().soft_max_attempts)
  end)
end)

describe("shipped policies", function()
  for _, name in ipairs({ "default", "strict", "transactional" }) do
    it("policies/" .. name .. ".lua loads cleanly", function()
      local p, err = policy.load("policies/" .. name .. ".lua")
      assert.is_nil(err)
      assert.equal("policies/" .. name .. ".lua", p.source)
    end)
  end

  it("strict.lua suppresses on the first permanent soft bounce, and sooner on temporary ones", function()
    local p = assert(policy.load("policies/strict.lua"))
    local r = p:resolve("example.com", "mailboxfull")
    assert.equal(1, r.soft_permanent_max_attempts)   -- "552 5.2.2 mailbox full": suppress now
    assert.equal(3, r.soft_max_attempts)             -- "452 4.2.2 mailbox full": 3 tries
    assert.equal(24 * HOUR, r.soft_window)
    assert.equal(1, p:resolve(nil, "suspend").soft_max_attempts)
    assert.equal(-1, r.retention_hard)
    assert.equal("suppress", r.hard_transient)       -- "450 4.1.1 unverified address": suppress
  end)

  it("transactional.lua retries with jittered exponential backoff", function()
    local p = assert(policy.load("policies/transactional.lua"))
    assert.equal(60, p:backoff("soft", 1))
    assert.equal(240, p:backoff("soft", 3))
    assert.equal(4 * HOUR, p:backoff("soft", 20))
    assert.equal(54, p:backoff("soft", 1, 0))
    assert.equal(12, p:resolve(nil, "mailboxfull").soft_max_attempts)
    assert.equal(7 * DAY, p:resolve().retention_soft)
  end)
end)

describe("reason names", function()
  it("are the C table's: a policy may override each reason bounce.reasons lists", function()
    local reasons = {}
    for _, r in ipairs(require("bounce.core").reasons()) do reasons[r.name] = { max_attempts = 2 } end
    local p = assert(policy.load({ reasons = reasons }))
    for name in pairs(reasons) do assert.equal(2, p:resolve(nil, name).soft_max_attempts) end
    assert.matches("unknown reason", err_of_table({ reasons = { nosuchreason = { max_attempts = 2 } } }))
  end)

  it("match the classifier's, when the C module is built", function()
    local ok, core = pcall(require, "bounce.core")
    if not ok then
      pending("bounce.core is not built")
      return
    end
    local names = {}
    for _, r in ipairs(core.reasons()) do names[#names + 1] = type(r) == "table" and (r.name or r[1]) or r end
    assert.same(names, policy.reason_names)
  end)
end)
