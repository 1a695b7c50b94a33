-- The README's nginx snippets, as written, in a real nginx: each ```nginx
-- block goes inside http {} of the template `bounce serve` uses
-- (bounce.nginx, with the absolute load_module lines the README names),
-- with three substitutions a reader makes too: /opt/bounce is this checkout
-- (build/luajit its LuaJIT build), /etc/bounce/policy.lua a real policy file,
-- and the port a free one on 127.0.0.1. Then it is asked what the README
-- says it answers.
local util = require("spec.support.util")
local nginx = require("spec.support.nginx")
local cjson = require("cjson")

local TOKEN = "readme-token-0123456789"

local function snippets()
  local text = assert(util.read(nginx.root .. "/README.md"))
  local list = {}
  for block in text:gmatch("\n```nginx\n(.-)\n```") do list[#list + 1] = block end
  return list
end

-- The snippet as a reader would adapt it: a function(port) for nginx.start.
local function adapt(block)
  return function(port)
    local s = block:gsub("/opt/bounce/build/luajit", nginx.build_module())
    s = s:gsub("/opt/bounce/", nginx.root .. "/")
    s = s:gsub("/etc/bounce/policy%.lua", nginx.root .. "/policies/default.lua")
    s = s:gsub("listen%s+[%d%.]*:?8025;", "listen 127.0.0.1:" .. port .. ";")
    return s
  end
end

local usable, why = nginx.available()

describe("the README's nginx snippets", function()
  if not usable then
    if os.getenv("CI") then error(why) end
    pending(why)
    return
  end

  local list = snippets()

  it("are found: the OpenResty one and the bounce service in your own nginx.conf", function()
    assert.equals(2, #list)
    assert.matches("location = /classify", list[1])
    assert.matches('require%("bounce.serve"%)%.init', list[2])
  end)

  it("load the Lua module by the absolute paths it gives, as Debian's relative modules-enabled lines cannot", function()
    local lines = {}
    for l in assert(util.read(nginx.root .. "/README.md")):gmatch("`(load_module /[^`]+;)`") do lines[#lines + 1] = l end
    assert.same({ "load_module /usr/lib/nginx/modules/ndk_http_module.so;",
                  "load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;" }, lines)
    -- nginx -t under a prefix of one's own, as `bounce serve` and these specs
    -- run it: the README's lines load the modules, Debian's fail to
    local function test(main)
      local rc, prefix = util.run("mktemp -d")
      assert(rc == 0, prefix)
      prefix = prefix:gsub("%s+$", "")
      assert(util.run("mkdir -p " .. util.q(prefix .. "/conf") .. " " .. util.q(prefix .. "/logs")) == 0)
      util.write(prefix .. "/conf/nginx.conf", main .. "\npid logs/nginx.pid;\nerror_log logs/error.log;\n"
        .. "events {}\nhttp { lua_package_path \"/usr/share/lua/5.1/?.lua;;\"; }\n")
      local code, out = util.run(util.q(require("bounce.nginx").NGINX) .. " -t -p " .. util.q(prefix)
        .. " -c conf/nginx.conf -e " .. util.q(prefix .. "/logs/error.log"))
      util.run("rm -rf " .. util.q(prefix))
      return code, out, prefix
    end
    local code, out = test(table.concat(lines, "\n"))
    assert.equals(0, code, out)
    local debian = "/etc/nginx/modules-enabled"
    if not util.exists(debian .. "/10-mod-http-ndk.conf") then return end
    local prefix
    code, out, prefix = test("include " .. debian .. "/10-mod-http-ndk.conf;\ninclude " .. debian .. "/50-mod-http-lua.conf;")
    assert.not_equals(0, code)
    assert.matches('dlopen() "' .. prefix .. '/modules/ndk_http_module.so" failed', out, 1, true)
  end)

  it("classify in OpenResty, with a rule added in init_by_lua", function()
    nginx.with({ conf = adapt(list[1]), lua_paths = false }, function(srv)
      local status, body = srv:get("/classify?reply=" .. nginx.escape("550 5.1.1 <ann@example.org>: user unknown"))
      assert.equals(200, status, body)
      local r = cjson.decode(body)
      assert.equals("userunknown", r.reason)
      assert.equals("hard", r.type)
      status, body = srv:get("/classify?reply=" .. nginx.escape("550 sorry, this mailbox is frozen"))
      assert.equals(200, status, body)
      assert.equals("suspend", cjson.decode(body).reason)
      status, body = srv:get("/classify")
      assert.equals(422, status)
      assert.matches("empty reply", body)
      assert.is_nil(srv:error_log():find("%[error%]"), srv:error_log())
    end)
  end)

  it("run the bounce service from your own nginx.conf: webhooks in, the pre-send check out", function()
    local env = "BOUNCE_TOKEN=" .. util.q(TOKEN)
    nginx.with({ conf = adapt(list[2]), lua_paths = false, env = env }, function(srv)
      local auth = { authorization = "Bearer " .. TOKEN }
      assert.equals(401, (srv:get("/check?rcpt=jane.doe%40example.org")))
      local status, body = srv:get("/check?rcpt=jane.doe%40example.org", auth)
      assert.equals(200, status, body)
      assert.is_true(cjson.decode(body).allowed)
      status, body = srv:post("/webhooks/postmark",
        assert(util.read(nginx.root .. "/spec/fixtures/webhooks/postmark_bounce.json")),
        { authorization = auth.authorization, ["content-type"] = "application/json" })
      assert.equals(200, status, body)
      assert.equals(1, cjson.decode(body).stored)
      status, body = srv:get("/check?rcpt=jane.doe%40example.org", auth)
      assert.equals(200, status, body)
      local r = cjson.decode(body)
      assert.is_false(r.allowed)
      assert.matches("hard", r.why)
      assert.is_nil(srv:error_log():find("%[error%]"), srv:error_log())
    end)
  end)
end)
