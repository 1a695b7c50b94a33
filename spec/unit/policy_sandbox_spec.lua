-- The policy sandbox's bounds: a policy file, while it loads and in each
-- on_event call, ends in bounded time and memory with an error naming the
-- file, whatever its patterns and strings; the tracker then keeps its own
-- decision. Runs under Lua 5.1, 5.3, 5.4 and LuaJIT.
local policy = require("bounce.policy")
local bounce = require("bounce")
local core = require("bounce.core")

local T0 = 1795132800

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

local function tmpfile(text)
  local path = os.tmpname()
  write(path, text)
  return path
end

local function elapsed(f)
  local t0 = os.clock()
  local a, b = f()
  return os.clock() - t0, a, b
end

local EVIL = '("a"):rep(30):find("a*a*a*a*a*a*a*a*a*a*b")'

local function tracker(path)
  return assert(bounce.tracker{ policy = path, clock = function() return T0 end })
end

local function hook_policy(body)
  return tmpfile("return { on_event = function(event, record, decision)\n" .. body
    .. "\n  return decision\nend }\n")
end

describe("the policy sandbox", function()
  describe("pattern matching", function()
    it("stops a catastrophic pattern while a policy loads, naming the file", function()
      local path = tmpfile("local hit = " .. EVIL .. "\nreturn {}\n")
      local secs, p, err = elapsed(function() return policy.load(path) end)
      assert.is_nil(p)
      assert.equal(path .. ":1: pattern matching ran out of steps (a policy run may take 10000000)",
        err)
      assert.is_true(secs < 2)
      os.remove(path)
    end)

    it("stops it in string.match, gmatch and gsub too, in both call forms", function()
      for _, expr in ipairs({ 'string.match(("a"):rep(30), "a*a*a*a*a*a*a*a*a*a*b")',
                              '("a"):rep(30):gsub("a*a*a*a*a*a*a*a*a*a*b", "")',
                              'string.gmatch(("a"):rep(30), "a*a*a*a*a*a*a*a*a*a*b")()' }) do
        local p, err = policy.load_string("local x = " .. expr .. "\nreturn {}", "policies/x.lua")
        assert.is_nil(p)
        assert.matches("^policies/x%.lua:1: pattern matching ran out of steps", err)
      end
    end)

    it("fails the load even when the policy catches the error", function()
      local p, err = policy.load_string("pcall(function() return " .. EVIL .. " end)\nreturn {}",
        "policies/x.lua")
      assert.is_nil(p)
      assert.matches("^policies/x%.lua: policy: pattern matching ran out of steps", err)
    end)

    it("stops one in on_event; the tracker keeps its decision and names the file", function()
      local path = hook_policy("  if event.campaign == 'evil' then local x = " .. EVIL .. " end\n"
        .. "  decision.retry_at = 42")
      local t = tracker(path)
      local secs, d = elapsed(function()
        return t:record{ rcpt = "a@example.com", type = "soft", at = T0, campaign = "evil" }
      end)
      assert.is_true(secs < 2)
      assert.equal("retry", d.action)
      assert.equal(T0 + 600, d.retry_at)
      assert.equal("on_event failed: " .. path
        .. ":2: pattern matching ran out of steps (a policy run may take 1000000)", d.hook_error)
      d = t:record{ rcpt = "b@example.com", type = "soft", at = T0 }
      assert.equal(42, d.retry_at)
      assert.is_nil(d.hook_error)
      os.remove(path)
    end)

    it("gives a policy the results of Lua's find, match, gmatch and gsub", function()
      local src = [=[
local out = {}
local function add(...) out[#out + 1] = table.concat({ tostring(select("#", ...)), ... }, ",") end
add(("user@example.com"):find("@(%w+)%."))
add(string.find("a.b", ".", 1, true))
add(string.find("hello", "l", -2))
add(string.find("hello", "x"))
add(("key = value"):match("^(%w+)%s*=%s*(%w+)$"))
add(string.match("  x", "()x"))
add(string.match("THE (quick) fox", "%((%a+)%)"))
add(string.match("f(a(b)c)", "%b()"))
add(string.match("THE", "%f[%a]%a+"))
add(("abab"):match("(ab)%1"))
add(("550 5.1.1 <a@b.c>"):match("^(%d%d%d)[ -](%d)%.(%d+)%.(%d+)"))
for k, v in ("a=1, b=2"):gmatch("(%w+)=(%w+)") do add(k, v) end
for w in string.gmatch("one two", "%a+") do add(w) end
add(("hello world"):gsub("o", "0"))
add(("hello"):gsub("", "-"))
add(("abc"):gsub("%w", "%0%0"))
add(("hello world"):gsub("(%w+) (%w+)", "%2 %1"))
add(("$x $y"):gsub("%$(%w+)", { x = "1" }))
add(("abc"):gsub("%w", function(c) if c == "b" then return "B" end end))
add(("aaa"):gsub("a", "b", 2))
add(("  trim  "):gsub("^%s+", ""))
return table.concat(out, ";")
]=]
      local got = assert(policy.run_source(src, "policies/ok.lua"))
      local host = assert((loadstring or load)(src))()
      assert.equal(host, got)
      assert.matches("^3,5,13,example;", got)
    end)

    it("reports malformed patterns as Lua does", function()
      local _, err = policy.load_string('local x = ("abc"):find("[a")\nreturn {}', "policies/x.lua")
      assert.equal("policies/x.lua:1: malformed pattern (missing ']')", err)
      _, err = policy.load_string('local x = ("abc"):gsub("b", "%2")\nreturn {}', "policies/x.lua")
      assert.equal("policies/x.lua:1: invalid capture index %2", err)
    end)

    it("gives the host its own string functions back, also after an error", function()
      local find, mt_index = string.find, getmetatable("").__index
      policy.load_string("local x = " .. EVIL .. "\nreturn {}", "policies/x.lua")
      assert.equal(string, mt_index)
      assert.equal(mt_index, getmetatable("").__index)
      assert.equal(find, ("").find)
      assert.equal(4, (("abcd"):find("d")))
    end)

    it("is a core function with its own budget per set", function()
      local a, b = core.pattern_funcs(), core.pattern_funcs()
      a.budget(100)
      b.budget(1000000)
      assert.has_error(function() a.find(("a"):rep(30), "a*a*a*b") end)
      assert.equal(nil, (b.find(("a"):rep(30), "a*a*a*b")))
      assert.equal(0, a.budget(0))
    end)
  end)

  describe("memory", function()
    it("stops s = s .. s at load, naming the file", function()
      local path = tmpfile("local s = 'x'\nfor i = 1, 40 do s = s .. s end\nreturn {}\n")
      local secs, p, err = elapsed(function() return policy.load(path) end)
      assert.is_nil(p)
      assert.equal(path .. ": policy needs more than 64 MiB of memory", err)
      assert.is_true(secs < 5)
      os.remove(path)
      collectgarbage()
      assert.is_true(collectgarbage("count") < 64 * 1024)
    end)

    it("keeps a policy that catches the memory error inside the bound", function()
      local p = assert(policy.load_string([[
local s, n = "x", 0
local ok = pcall(function() for i = 1, 40 do s = s .. s n = i end end)
return { description = tostring(ok) .. " " .. #s }
]], "policies/x.lua"))
      local ok, len = p.description:match("^(%a+) (%d+)$")
      assert.equal("false", ok)
      assert.is_true(tonumber(len) <= 64 * 1048576)
    end)

    it("refuses a string.rep larger than the bound before building it", function()
      local _, err = policy.load_string('local s = ("x"):rep(2^31)\nreturn {}', "policies/x.lua")
      assert.equal("policies/x.lua:1: string.rep: a result of 2147483648 bytes is larger than "
        .. "a policy may hold (64 MiB)", err)
      assert.truthy(policy.load_string('local s = ("ab"):rep(1000, ",")\nreturn {}', "ok.lua"))
      local secs, v = elapsed(function()
        return policy.run_source('return #(""):rep(1e15) + #string.rep("", 2^52, "")', "x.lua")
      end)
      assert.equal(0, v)
      assert.is_true(secs < 1)
    end)

    it("stops a hook that grows a table without end; the tracker keeps its decision", function()
      local path = hook_policy("  local s, t = 'x', {}\n  for i = 1, 20 do s = s .. s end\n"
        .. "  for i = 1, 1e9 do t[i] = s .. i end")
      local d = tracker(path):record{ rcpt = "a@example.com", type = "hard", at = T0 }
      assert.equal("suppress", d.action)
      assert.equal("on_event failed: " .. path .. ": on_event needs more than 64 MiB of memory",
        d.hook_error)
      os.remove(path)
    end)

    it("stops a hook that works on a long string without end while holding little", function()
      local path = hook_policy("  local s = ('x'):rep(2^20)\n  for i = 1, 1e6 do local u = s:upper() end")
      local secs, d = elapsed(function()
        return tracker(path):record{ rcpt = "a@example.com", type = "hard", at = T0 }
      end)
      assert.equal("suppress", d.action)
      -- Lua 5.4 allocates each result: the allocation bound stops it (or the
      -- growth bound, garbage counting until it is collected); LuaJIT reuses
      -- the interned result: the CPU-time bound does
      local msg = d.hook_error:gsub("needs more than 64 MiB of memory", "allocated more than 256 MiB")
        :gsub(":%d+: on_event ran too long %(more than 1000000 instructions or 0.25 s of CPU time%)",
              ": on_event allocated more than 256 MiB")
      assert.equal("on_event failed: " .. path .. ": on_event allocated more than 256 MiB", msg)
      assert.is_true(secs < 5, "took " .. secs .. " s")
      os.remove(path)
    end)
    it("stops a hook comparing long strings in a loop (no allocation, no pattern)", function()
      local path = hook_policy("  local a, b = ('x'):rep(2^24), ('x'):rep(2^24) .. 'y'\n"
        .. "  for i = 1, 1e6 do local c = a < b end")
      local secs, d = elapsed(function()
        return tracker(path):record{ rcpt = "a@example.com", type = "hard", at = T0 }
      end)
      assert.equal("suppress", d.action)
      assert.equal("on_event failed: " .. path .. ":3: on_event ran too long (more than 1000000 "
        .. "instructions or 0.25 s of CPU time)", d.hook_error)
      assert.is_true(secs < 2, "took " .. secs .. " s")
      os.remove(path)
    end)
  end)

  describe("a batch's hooks", function()
    it("share one budget: 10,000 events with a slow hook end in seconds", function()
      local path = hook_policy("  local n = 0\n  for i = 1, 1e7 do n = n + i end")
      local t = tracker(path)
      local budget = policy.hook_budget()
      local secs, last = elapsed(function()
        local d
        for i = 1, 10000 do
          d = t:record({ rcpt = "u" .. i .. "@example.com", type = "hard", at = T0 }, nil, budget)
          assert.equal("suppress", d.action)
        end
        return d
      end)
      assert.is_true(secs < 10, "took " .. secs .. " s")
      assert.is_true(budget.spent)
      assert.is_true(budget.skipped > 9900)
      assert.matches("^on_event failed: " .. path:gsub("%p", "%%%0")
        .. ": on_event not run: the batch's budget for policy hooks is spent", last.hook_error)
      local first = t:record({ rcpt = "v@example.com", type = "hard", at = T0 }, nil,
        policy.hook_budget())
      assert.matches("on_event ran too long", first.hook_error)
      os.remove(path)
    end)
  end)
end)

describe("on_event results", function()
  local function with_hook(ret)
    local t = assert(bounce.tracker{ clock = function() return T0 end,
      policy = { on_event = function(_, _, d) return ret(d) end } })
    return t:record{ rcpt = "a@example.com", type = "soft", at = T0 }
  end

  it("are checked field by field; a bad one keeps the tracker's decision and is named", function()
    local cases = {
      { function(d) d.retry_at = -1 return d end,
        "field 'retry_at': expected nil or a time (whole unix seconds 1..4294967295), got -1" },
      { function(d) d.retry_at = 0 / 0 return d end, "field 'retry_at': expected nil or a time" },
      { function(d) d.attempts = 1e300 return d end, "field 'attempts': expected an integer 0..1000000" },
      { function(d) d.state = "gone" return d end,
        "field 'state': expected active, bouncing, suppressed, got \"gone\"" },
      { function(d) d.reason = "bored" return d end, "field 'reason': expected a reason name" },
      { function(d) d.cause = 1 return d end, "field 'cause': expected nil or complaint, hard" },
      { function(d) d.rcpt = "b@example.com" return d end,
        "field 'rcpt': may not be changed (was \"a@example.com\", got \"b@example.com\")" },
      { function(d) d.note = ("x"):rep(1e6) return d end, "unknown field \"note\"" },
      { function(d) d[1] = true return d end, "unknown field 1" },
      { function() return { action = {} } end, "on_event returned an invalid action a table" },
    }
    for _, c in ipairs(cases) do
      local d = with_hook(c[1])
      assert.same({ "retry", "bouncing", T0 + 600, 1, "a@example.com" },
                  { d.action, d.state, d.retry_at, d.attempts, d.rcpt })
      assert.is_nil(d.note)
      assert.is_truthy(d.hook_error:find(c[2], 1, true), d.hook_error)
    end
  end)

  it("may change what is valid, and leave out what the tracker keeps", function()
    local d = with_hook(function(x) x.action, x.retry_at = "hold", T0 + 60 return x end)
    assert.same({ "hold", T0 + 60 }, { d.action, d.retry_at })
    assert.is_nil(d.hook_error)
    d = with_hook(function() return { action = "send" } end)
    assert.same({ "send", "bouncing", 1, "a@example.com", "soft", T0 },
                { d.action, d.state, d.attempts, d.rcpt, d.event, d.at })
    assert.is_nil(d.retry_at)
    assert.is_nil(d.hook_error)
  end)
end)
