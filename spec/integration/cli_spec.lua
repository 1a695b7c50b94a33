local cjson = require("cjson")

-- Runs bin/bounce with the given shell-quoted arguments and optional stdin.
local function run(args, input)
  local cmd = "lua5.4 bin/bounce " .. args
  local tmp
  if input then
    tmp = os.tmpname()
    local f = assert(io.open(tmp, "w"))
    f:write(input)
    f:close()
    cmd = cmd .. " < " .. tmp
  end
  local p = assert(io.popen(cmd .. " 2>&1; echo \"exit:$?\""))
  local out = p:read("*a")
  p:close()
  if tmp then os.remove(tmp) end
  local code = tonumber(out:match("exit:(%d+)%s*$"))
  return out:gsub("exit:%d+%s*$", ""), code
end

local function lines(s)
  local t = {}
  for l in s:gmatch("[^\n]+") do t[#t + 1] = l end
  return t
end

describe("bounce classify", function()
  it("prints one JSON object per reply given as arguments", function()
    local out, code = run("classify '550 5.1.1 user unknown' '452 4.2.2 mailbox full'")
    assert.equals(0, code)
    local l = lines(out)
    assert.equals(2, #l)
    local a, b = cjson.decode(l[1]), cjson.decode(l[2])
    assert.equals("userunknown", a.reason)
    assert.equals("hard", a.type)
    assert.equals(550, a.code)
    assert.equals("5.1.1", a.status)
    assert.equals("mailboxfull", b.reason)
    assert.equals("soft", b.type)
  end)

  it("reads one reply per line from stdin", function()
    local out, code = run("classify", "250 ok\n554 5.7.1 Relay access denied\n")
    assert.equals(0, code)
    local l = lines(out)
    assert.equals(2, #l)
    assert.equals("delivered", cjson.decode(l[1]).type)
    assert.equals("norelaying", cjson.decode(l[2]).reason)
  end)

  it("passes --command and --rhost to the classifier", function()
    local out = run("classify --command data --rhost mx.example.org '550 5.1.1 user unknown'")
    local r = cjson.decode(lines(out)[1])
    assert.equals("filtered", r.reason)
    assert.equals("mx.example.org", r.rhost)
  end)

  it("reports an empty reply as an error object and exits 1", function()
    local out, code = run("classify", "\n")
    assert.equals(1, code)
    assert.matches("empty reply", cjson.decode(lines(out)[1]).error)
  end)

  it("writes valid UTF-8 JSON whatever bytes the reply holds", function()
    local out, code = run("classify", "550 5.1.1 caf\195\169 \255\254 end\n")
    assert.equals(0, code)
    local line = lines(out)[1]
    assert.is_nil(line:find("[\255\254]"))
    local r = cjson.decode(line)
    assert.equals("caf\195\169 \239\191\189\239\191\189 end", r.text)
    assert.equals("userunknown", r.reason)
  end)

  it("explains itself with --help", function()
    local out, code = run("--help")
    assert.equals(0, code)
    assert.matches("usage: bounce COMMAND", out)
    assert.matches("classify", out)
    out, code = run("nosuchcommand")
    assert.equals(2, code)
    assert.matches("unknown command", out)
  end)

  it("prints the version of the module", function()
    local out = run("--version")
    assert.equals("bounce " .. require("bounce")._VERSION, out:match("^[^\n]+"))
  end)
end)

describe("bounce demo", function()
  it("prints a table of the bundled replies with what to do", function()
    local out, code = run("demo")
    assert.equals(0, code)
    assert.matches("REASON", out)
    assert.matches("userunknown%s+hard%s+suppress", out)
    assert.matches("%d+ replies: %d+ hard, %d+ soft, %d+ block, %d+ delivered", out)
  end)
end)

describe("bounce rules --check", function()
  it("finds no problem in the built-in rules", function()
    local out, code = run("rules --check")
    assert.matches("%d+ rules, 0 problems", out)
    assert.equals(0, code)
  end)
end)
