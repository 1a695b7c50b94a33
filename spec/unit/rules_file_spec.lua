-- bounce.rules_file: custom wording kept in a file, run in the policy
-- sandbox, applied ahead of the built-in rules, followed on edit.
local bounce = require("bounce")
local rules_file = require("bounce.rules_file")

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

describe("bounce.rules_file", function()
  local path
  before_each(function() path = os.tmpname() end)
  after_each(function()
    os.remove(path)
    bounce.rules.clear()
  end)

  local FROZEN = [[
return {
  { name = "acme-frozen", pattern = "account*frozen", reason = "suspend", code = "55",
    example = "550 account frozen" },
  { pattern = "mailbox is over its limit", reason = "mailboxfull" },
}
]]

  it("puts the file's rules ahead of the built-in ones, in the rules bounce.classify uses", function()
    write(path, FROZEN)
    assert.equals("userunknown", bounce.classify("550 5.1.1 user unknown").reason)
    assert.equals(2, rules_file.apply(path))
    local r = bounce.classify("550 your account is frozen")
    assert.same({ "suspend", "acme-frozen" }, { r.reason, r.rule })
    assert.equals("text:mailbox is over its limit", bounce.classify("452 mailbox is over its limit").rule)
    assert.equals("acme-frozen", bounce.rules.list()[1].name)
    assert.is_nil(bounce.classify("450 account frozen").rule:find("acme"))   -- code = "55" holds
    -- applied again, or edited: the file's rules replace the run-time ones
    write(path, "return { { pattern = 'parrot is no more', reason = 'suspend' } }")
    assert.equals(1, rules_file.apply(path))
    assert.not_equals("acme-frozen", bounce.classify("550 your account is frozen").rule)
    assert.equals(bounce.rules.count(), #bounce.rules.list())
  end)

  it("applies to a rule set of one's own", function()
    write(path, FROZEN)
    local set = bounce.rules.new()
    assert.equals(2, rules_file.apply(path, set))
    assert.equals("acme-frozen", set:classify("550 account frozen").rule)
    assert.not_equals("acme-frozen", bounce.classify("550 account frozen").rule)
  end)

  it("says which rule is wrong and changes nothing", function()
    write(path, FROZEN)
    rules_file.apply(path)
    local cases = {
      { "return { { pattern = 'x y', reason = 'nosuch' } }", ": rule 1: reason: unknown reason 'nosuch'" },
      { "return { { patern = 'x y', reason = 'suspend' } }", ": rule 1: unknown key 'patern'" },
      { "return { { name = 'a', pattern = 'x y' } }", ": rule 1 (a): reason is missing" },
      { "return { { pattern = 'x y', reason = 'suspend', code = '650' } }", ": rule 1: code: expected" },
      { "return { { pattern = 'x\\0y', reason = 'suspend' } }", ": rule 1: pattern: a NUL byte is not allowed" },
      { "return { { pattern = 1, reason = 'suspend' } }", ": rule 1: pattern: string expected, got number" },
      { "return { 'x' }", ": rule 1: table expected, got string" },
      { "return { a = {} }", ": a list of rules expected (key 'a' is not a position)" },
      { "return 42", ": a list of rules expected, got number" },
      { "", ": returned nothing (a list of rules expected)" },
      { "io.write('x') return {}", ":1: rules file may not use 'io' (not available in the policy sandbox)" },
      { "x = 1 return {}", ":1: rules file may not set global 'x'" },
      { "while true do end", ":1: rules file ran too long" },
      { "return {", ":1: unexpected symbol" },
      { "\27Lua", ": binary (precompiled) chunks are not allowed" },
    }
    for _, c in ipairs(cases) do
      write(path, c[1])
      local n, err = rules_file.apply(path)
      assert.is_nil(n, c[1])
      assert.equals(path .. c[2], err:sub(1, #path + #c[2]), c[1])
      assert.equals("acme-frozen", bounce.classify("550 account frozen").rule, c[1])
    end
    local n, err = rules_file.apply(path .. ".missing")
    assert.is_nil(n)
    assert.matches("cannot read", err)
  end)

  it("follows edits through a watcher, keeping the old rules through a broken edit", function()
    local now = 0
    write(path, FROZEN)
    local w = assert(rules_file.watcher(path, { interval = 1, clock = function() return now end }))
    assert.same({ 2, 1 }, { w.count, w.loads })
    write(path, "return { { pattern = 'parrot is no more', reason = 'suspend' } }")
    assert.is_false((w:check()))              -- not looked at before the interval
    now = 1
    assert.is_true((w:check()))
    assert.equals("suspend", bounce.classify("550 the parrot is no more").reason)
    write(path, "return { { pattern = 'parrot', reason = 'nosuch' } }")
    now = 2
    local changed, err = w:check()
    assert.is_false(changed)
    assert.matches("unknown reason 'nosuch'", err)
    assert.equals("suspend", bounce.classify("550 the parrot is no more").reason)   -- still in force
    now = 3
    changed, err = w:check()                  -- the same broken text: the same error, nothing redone
    assert.is_false(changed)
    assert.matches("unknown reason 'nosuch'", err)
    assert.equals(2, w.loads)
    write(path, FROZEN)
    now = 4
    assert.is_true((w:check()))
    assert.is_nil(w.err)
    assert.equals("acme-frozen", bounce.classify("550 account frozen").rule)
  end)

  it("raises on caller mistakes", function()
    assert.has_error(function() rules_file.load(42) end, "bad argument #1 to 'load' (string expected, got number)")
    assert.has_error(function() rules_file.watcher(path, { interval = -1 }) end)
  end)
end)
