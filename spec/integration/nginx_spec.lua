-- bounce inside OpenResty-style nginx (Debian's nginx + lua module, LuaJIT):
-- a real server on 127.0.0.1 answers /classify with the classification as JSON.
local nginx = require("spec.support.nginx")
local cjson = require("cjson")

local SERVER = [[
    default_type application/json;
    location = /classify {
      content_by_lua_block {
        local bounce = require("bounce")
        local cjson = require("cjson")
        local reply = ngx.req.get_uri_args().reply
        if type(reply) ~= "string" then
          ngx.status = 400
          ngx.say(cjson.encode({ error = "query parameter 'reply' expected" }))
          return
        end
        local r, err = bounce.classify(reply)
        if not r then
          ngx.status = 422
          ngx.say(cjson.encode({ error = err }))
          return
        end
        ngx.say(cjson.encode(r))
      }
    }
    location = /version {
      content_by_lua_block {
        ngx.say(cjson_encode({ version = require("bounce")._VERSION,
                               core = require("bounce.core")._VERSION,
                               lua = jit and jit.version or _VERSION }))
      }
    }
]]

-- Loaded once in the master before the workers fork, as an OpenResty
-- application would; a failure here stops nginx from starting.
local HTTP = [[
  init_by_lua_block {
    require("bounce")
    cjson_encode = require("cjson").encode
  }
]]

local usable, why = nginx.available()

describe("bounce in nginx (lua-nginx-module, LuaJIT)", function()
  if not usable then
    -- In CI the packages are installed by .ci/deps: missing ones are a failure.
    if os.getenv("CI") then error(why) end
    pending(why)
    return
  end

  local srv
  setup(function()
    srv = nginx.start{ http = HTTP, server = SERVER }
  end)
  teardown(function()
    if srv then srv:stop() end
  end)

  local function classify(reply)
    local status, body, headers = srv:get("/classify?reply=" .. nginx.escape(reply))
    return status, cjson.decode(body), headers
  end

  it("classifies 550 5.1.1 user unknown as a hard bounce", function()
    local status, r, headers = classify("550 5.1.1 user unknown")
    assert.equals(200, status)
    assert.matches("^application/json", headers["content-type"])
    assert.equals("userunknown", r.reason)
    assert.equals("hard", r.type)
    assert.equals(550, r.code)
    assert.equals("5.1.1", r.status)
    assert.is_true(r.permanent)
  end)

  it("classifies a full mailbox as a soft bounce", function()
    local status, r = classify("452 4.2.2 Mailbox full, try again later")
    assert.equals(200, status)
    assert.equals("mailboxfull", r.reason)
    assert.equals("soft", r.type)
    assert.is_false(r.permanent)
  end)

  it("gives the same answer as the module in plain Lua", function()
    local bounce = require("bounce")
    local reply = "554 5.7.1 Service unavailable; Client host [203.0.113.5] blocked using zen.spamhaus.org"
    local _, r = classify(reply)
    local want = bounce.classify(reply)
    assert.equals(want.reason, r.reason)
    assert.equals(want.type, r.type)
    assert.equals(want.rule, r.rule)
    assert.equals(want.text, r.text)
  end)

  it("reports an empty reply as an error the caller can show", function()
    local status, r = classify("   ")
    assert.equals(422, status)
    assert.matches("empty reply", r.error)
  end)

  it("loads the repo's module and its LuaJIT build", function()
    local status, body = srv:get("/version")
    assert.equals(200, status)
    local v = cjson.decode(body)
    assert.equals(require("bounce")._VERSION, v.version)
    assert.equals(v.version, v.core)
    assert.matches("^LuaJIT", v.lua)
  end)

  it("logs no Lua error while serving", function()
    assert.equals(400, (srv:get("/classify")))
    local log = srv:error_log()
    assert.not_matches("%[error%]", log)
    assert.not_matches("lua entry thread aborted", log)
  end)
end)
