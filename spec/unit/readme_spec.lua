-- What the README states that the code decides: the policy defaults it
-- prints and the load_module lines it tells users to write; and its layout,
-- the one lua-resty modules' READMEs share, with a table of contents that
-- matches the headings. (Its nginx snippets run in a real nginx:
-- spec/integration/readme_spec.lua.)
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

  -- the headings outside code blocks: { level, title }
  local function headings()
    local list, fence = {}, false
    for line in (text .. "\n"):gmatch("(.-)\n") do
      if line:find("^```") then fence = not fence
      elseif not fence then
        local hashes, title = line:match("^(#+) (.+)$")
        if hashes then list[#list + 1] = { level = #hashes, title = title } end
      end
    end
    return list
  end

  it("follows the lua-resty layout: Name, Status, Synopsis, Installation, Methods, ..., Copyright and License", function()
    local top = {}
    for _, h in ipairs(headings()) do
      if h.level == 2 and h.title ~= "Table of Contents" then top[#top + 1] = h.title end
    end
    assert.same({ "Name", "Status", "Synopsis", "Installation", "Methods", "Policies", "Stores", "Service",
                  "Command line", "Performance", "Limits", "Copyright and License" }, top)
    assert.matches("\n## Name\n\nbounce %- ", text)
  end)

  it("has a table of contents listing every section and subsection, in order, by its anchor", function()
    -- GitHub's anchors: lower case, punctuation but - and _ dropped, spaces as -,
    -- a repeated one numbered
    local seen, want = {}, {}
    for _, h in ipairs(headings()) do
      local a = h.title:lower():gsub("[^%w%-_ ]", ""):gsub(" ", "-")
      local n = seen[a]
      seen[a] = (n or 0) + 1
      if n then a = a .. "-" .. n end
      if h.level <= 3 and h.title ~= "Table of Contents" and h.level > 1 then
        want[#want + 1] = string.rep("  ", h.level - 2) .. "- [" .. h.title:gsub("`", "") .. "](#" .. a .. ")"
      end
    end
    local toc = assert(text:match("\n## Table of Contents\n\n(.-)\n\n"), "no table of contents")
    local got = {}
    for line in (toc .. "\n"):gmatch("(.-)\n") do got[#got + 1] = line end
    assert.same(want, got)
    assert.is_true(text:find("\n## Table of Contents\n", 1, true) < text:find("\n## Status\n", 1, true))
  end)

  it("gives every method a syntax: and a context: line", function()
    local methods = assert(text:match("\n## Methods\n(.-)\n## "))
    assert.matches("^%s*Each function below gives its %*%*syntax:%*%* and its %*%*context:%*%*", methods)
    -- each ### block, with its #### subsections
    local blocks, cur = {}, nil
    for line in (methods .. "\n"):gmatch("(.-)\n") do
      local title = line:match("^### (.+)$")
      if title then
        cur = { title = title, body = {} }
        blocks[#blocks + 1] = cur
      elseif cur then cur.body[#cur.body + 1] = line end
    end
    assert.is_true(#blocks >= 10, #blocks .. " methods")
    for _, b in ipairs(blocks) do
      local body = table.concat(b.body, "\n")
      assert.is_truthy(body:find("**syntax:**", 1, true), b.title .. ": no syntax:")
      assert.is_truthy(body:find("**context:**", 1, true), b.title .. ": no context:")
    end
  end)

  it("names the load_module lines bounce.nginx writes, the NDK first", function()
    local conf = nginx.conf{ prefix = "/p" }
    local want, got = {}, {}
    for line in conf:gmatch("load_module [^;]+;") do want[#want + 1] = line end
    local section = assert(text:match("\n#### In your own nginx.conf\n(.-)\n#### "))
    for line in section:gmatch("load_module /[^;`]+;") do got[#got + 1] = line end
    assert.equals(2, #want)
    assert.same(want, got)
  end)
end)
