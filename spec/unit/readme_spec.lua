-- What the README states that the code decides: the policy defaults it
-- prints and the load_module lines it tells users to write. (Its nginx
-- snippets run in a real nginx: spec/integration/readme_spec.lua.)
local policy = require("bounce.policy")
local nginx = require("bounce.nginx")

local function readme()
  local f = assert(io.open("README.md", "rb"))
  local text = f:read("*a")
  f:close()
  return text
end

describe("the README", function()
  local text = readme()

  it("prints the default policy's values in its Policies section", function()
    local section = assert(text:match("\n## Policies\n(.-)\n## "))
    local block = assert(section:match("\n```lua\n(.-)\n```"), "no lua block in ## Policies")
    local p = assert(policy.load_string(block, "README.md ## Policies"))
    local d = policy.default()
    -- the block's reasons and domains are examples of overrides: compare the base layer
    assert.same(d:resolve(), p:resolve())
    assert.same(d.health, p.health)
    assert.same(d.addresses, p.addresses)
  end)

  it("names the load_module lines bounce.nginx writes, the NDK first", function()
    local conf = nginx.conf{ prefix = "/p" }
    local want, got = {}, {}
    for line in conf:gmatch("load_module [^;]+;") do want[#want + 1] = line end
    local section = assert(text:match("\n### In your own nginx.conf\n(.-)\n### "))
    for line in section:gmatch("load_module /[^;`]+;") do got[#got + 1] = line end
    assert.equals(2, #want)
    assert.same(want, got)
  end)
end)
