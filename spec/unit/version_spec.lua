-- Every Lua module of bounce reports the version of the C core it runs on.
-- The modules are the files under lua/ (what `make install` and the rock
-- install; `make rockcheck` checks each is in the installed tree), so a new
-- module is covered when its file is added.
local core = require("bounce.core")

local function lua_modules()
  local names = {}
  local p = assert(io.popen("find lua -name '*.lua' | sort"))
  for f in p:lines() do
    names[#names + 1] = f:gsub("^lua/", ""):gsub("%.lua$", ""):gsub("/init$", ""):gsub("/", ".")
  end
  p:close()
  return names
end

describe("_VERSION", function()
  local names = lua_modules()

  it("is bounce.core's in bounce and bounce.core alike", function()
    assert.matches("^%d+%.%d+%.%d+", core._VERSION)
    assert.equals(core._VERSION, require("bounce")._VERSION)
  end)

  it("is bounce.core's in every Lua module under lua/", function()
    assert.is_true(#names >= 20, "lua/ holds " .. #names .. " Lua modules")
    local checked = 0
    for _, name in ipairs(names) do
      local m = require(name)
      -- bounce.ffi_classify is the LuaJIT classify function (nil without the FFI), not a module table
      if name ~= "bounce.ffi_classify" then
        assert.is_table(m, name)
        assert.equals(core._VERSION, m._VERSION, name .. "._VERSION")
        checked = checked + 1
      end
    end
    assert.equals(#names - 1, checked)
  end)

  -- Readers, encoders, the nginx template, the webhook normaliser and the
  -- shared-dict store do their work without the C module: they load without
  -- it, and read _VERSION from it only when asked (bounce.version).
  it("is read lazily by the modules that load without bounce.core", function()
    local pure = { "bounce.reader", "bounce.json", "bounce.csv", "bounce.date", "bounce.webhooks",
                   "bounce.store.shdict", "bounce.nginx", "bounce.version", "bounce.output" }
    local saved, cpath, decode = {}, package.cpath, require("cjson").decode
    for _, name in ipairs(pure) do saved[name] = package.loaded[name] end
    saved["bounce.core"] = package.loaded["bounce.core"]
    local ok, err = pcall(function()
      package.cpath = ""
      for name in pairs(saved) do package.loaded[name] = nil end
      for _, name in ipairs(pure) do
        local m = require(name)
        assert.is_table(m, name)
        assert.is_nil(package.loaded["bounce.core"], name .. " loaded bounce.core")
      end
      local webhooks = require("bounce.webhooks")
      local r = assert(webhooks.parse("postmark", '{"RecordType":"Delivery","Recipient":"ann@example.org",'
        .. '"DeliveredAt":"2025-11-05T16:33:54Z"}', { decode = decode }))
      assert.equals("delivered", r.events[1].type)
      assert.has_error(function() return require("bounce.json")._VERSION end)
    end)
    package.cpath = cpath
    for name, m in pairs(saved) do package.loaded[name] = m end
    assert(ok, err)
    for _, name in ipairs(pure) do assert.equals(core._VERSION, require(name)._VERSION, name) end
  end)

  it("of bounce.sqlite, the other C module, is the core's", function()
    assert.equals(core._VERSION, require("bounce.sqlite")._VERSION)
  end)
end)
