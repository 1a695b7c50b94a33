-- Redis URLs for bounce.serve and `bounce serve --store`: credentials
-- (percent-decoded), ?db=N, the options that win over them, and messages
-- that never show a password. Plain Lua: parse_redis_url needs no nginx;
-- the CLI checks run `bounce serve --conf-only`, which starts nothing.
-- Talking to a password-protected Redis is in spec/serve_spec.lua.
local serve = require("bounce.serve")
local util = require("spec.support.util")

local parse, redact = serve.parse_redis_url, serve.redact_url

-- parse's result, or fails the test with its message
local function ok(url, opts)
  local r, err = parse(url, opts)
  assert(r, err)
  return r
end

-- parse's message, asserting that the URL was refused
local function refused(url, opts)
  local r, err = parse(url, opts)
  assert.is_nil(r)
  assert.is_string(err)
  return err
end

describe("serve.parse_redis_url", function()
  it("reads HOST:PORT, with no credentials, prefix or database", function()
    assert.same({ host = "127.0.0.1", port = 6379, db = 0 }, ok("redis://127.0.0.1:6379"))
    assert.same({ host = "redis.internal", port = 6380, db = 0 }, ok("redis://redis.internal:6380/"))
  end)

  it("takes the prefix as written", function()
    assert.equals("bounce:", ok("redis://h:6379/bounce:").prefix)
    assert.equals("a%41:", ok("redis://h:6379/a%41:").prefix)
  end)

  it("reads a password alone (:PASSWORD@) and a Redis 6 ACL user (USER:PASSWORD@)", function()
    local r = ok("redis://:s3cret@h:6379/bounce:")
    assert.is_nil(r.user)
    assert.equals("s3cret", r.password)
    assert.equals("bounce:", r.prefix)
    r = ok("redis://bouncer:s3cret@h:6379")
    assert.equals("bouncer", r.user)
    assert.equals("s3cret", r.password)
  end)

  it("percent-decodes the user and the password, so they may hold '@', ':', '/' and '?'", function()
    local r = ok("redis://b%C3%B6uncer:p%40ss%3Aw%2Frd%3F%25@h:6379/x:?db=1")
    assert.equals("b\195\182uncer", r.user)
    assert.equals("p@ss:w/rd?%", r.password)
    assert.equals("x:", r.prefix)
    assert.equals(1, r.db)
  end)

  it("splits the user from the password at the first ':' and the host at the last '@'", function()
    assert.equals("a:b", ok("redis://u:a:b@h:1").password)
    assert.equals("p@ss", ok("redis://:p@ss@h:1").password)
  end)

  it("reads ?db=N after the prefix or after the port", function()
    assert.equals(2, ok("redis://h:6379/bounce:?db=2").db)
    local r = ok("redis://h:6379?db=2")
    assert.equals(2, r.db)
    assert.is_nil(r.prefix)
    assert.equals(0, ok("redis://h:6379?db=0").db)
    assert.equals(15, ok("redis://:pw@h:6379/p:?db=15").db)
  end)

  it("refuses a database outside 0..15, or one that is not an integer", function()
    for _, v in ipairs({ "16", "-1", "", "1.5", "x", "0x1", " 1", "99999999999999999999" }) do
      assert.equals("db: an integer 0..15 expected", refused("redis://h:6379/p:?db=" .. v), v)
    end
    assert.matches("twice", refused("redis://h:6379?db=1&db=2"))
  end)

  it("allows higher databases when told the server has more (redis_databases)", function()
    assert.equals(31, ok("redis://h:6379?db=31", { redis_databases = 32 }).db)
    assert.equals("db: an integer 0..31 expected", refused("redis://h:6379?db=32", { redis_databases = 32 }))
    assert.matches("^redis_databases", refused("redis://h:6379", { redis_databases = 0 }))
  end)

  it("refuses other parameters, an empty query, and what is not HOST:PORT", function()
    assert.matches("only %?db=N", refused("redis://h:6379?timeout=1"))
    assert.matches("only %?db=N", refused("redis://h:6379?"))
    assert.matches("HOST:PORT expected", refused("redis://h"))
    assert.matches("HOST:PORT expected", refused("redis://h:port"))
    assert.matches("HOST:PORT expected", refused("redis://[::1]:6379"))
    assert.matches("1..65535", refused("redis://h:0"))
    assert.matches("1..65535", refused("redis://h:70000"))
    assert.matches("{ or }", refused("redis://h:1/a{b}"))
    assert.matches("^redis://", refused("rediss://h:1"))
  end)

  it("refuses an empty password, empty credentials and bad percent-encoding", function()
    assert.matches("empty password", refused("redis://:@h:6379"))
    assert.matches("empty password", refused("redis://user:@h:6379"))
    assert.matches("user or password expected", refused("redis://@h:6379"))
    assert.matches("^password: malformed percent%-encoding", refused("redis://:ab%zz@h:6379"))
    assert.matches("^password: malformed percent%-encoding", refused("redis://:ab%4@h:6379"))
    assert.matches("^user: malformed percent%-encoding", refused("redis://u%@h:6379", { redis_password = "x" }))
  end)

  it("refuses a user without a password unless an option gives one", function()
    assert.matches("user without a password", refused("redis://bouncer@h:6379"))
    local r = ok("redis://bouncer@h:6379", { redis_password = "s3cret" })
    assert.equals("bouncer", r.user)
    assert.equals("s3cret", r.password)
  end)

  it("lets redis_password, redis_user and redis_db win over the URL", function()
    local r = ok("redis://old:pw@h:6379/p:?db=1", { redis_user = "new", redis_password = "better", redis_db = 7 })
    assert.same({ host = "h", port = 6379, prefix = "p:", user = "new", password = "better", db = 7 }, r)
    assert.equals(3, ok("redis://h:1", { redis_db = "3" }).db)
    assert.equals("3", tostring(ok("redis://h:1", { redis_db = 3.0 }).db))
  end)

  it("refuses options of the wrong kind", function()
    assert.matches("^redis_password: a non%-empty string", refused("redis://h:1", { redis_password = "" }))
    assert.matches("^redis_password: a non%-empty string", refused("redis://h:1", { redis_password = 42 }))
    assert.matches("^redis_user: a non%-empty string", refused("redis://:pw@h:1", { redis_user = "" }))
    assert.matches("user without a password", refused("redis://h:1", { redis_user = "bouncer" }))
    assert.equals("redis_db: an integer 0..15 expected", refused("redis://h:1", { redis_db = 16 }))
    assert.equals("redis_db: an integer 0..15 expected", refused("redis://h:1", { redis_db = 2.5 }))
  end)

  it("never quotes the password in a message, even in a URL it cannot read", function()
    for _, url in ipairs({ "redis://:hunter2@h", "redis://:hunter2@h:1?db=99", "redis://:hunter2@h:1?x=y",
                           "redis://:hunter2%@h:1", "redis://hunter2@h:1", "redis://:hunter2/x@h:1",
                           "redis://:hunter2@h:1/a{" }) do
      assert.is_nil(refused(url):find("hunter2", 1, true), url)
    end
  end)

  it("raises on a URL that is not a string", function()
    assert.has_error(function() parse(nil) end,
      "bad argument #1 to 'parse_redis_url' (string expected, got nil)")
  end)
end)

describe("serve.redact_url", function()
  it("hides the credentials and keeps the rest", function()
    assert.equals("redis://***@h:6379/bounce:?db=2", redact("redis://u:s3cret@h:6379/bounce:?db=2"))
    assert.equals("redis://***@h:6379", redact("redis://:s3cret@h:6379"))
    assert.equals("redis://h:6379/bounce:", redact("redis://h:6379/bounce:"))
    assert.equals("sqlite:/var/lib/bounce.db", redact("sqlite:/var/lib/bounce.db"))
  end)

  it("hides more than needed rather than part of a password with a raw '/' or '@'", function()
    assert.equals("redis://***@h:1/x", redact("redis://:pa/ss@h:1/x"))
    assert.equals("redis://***@h:1", redact("redis://:p@ss@h:1"))
    assert.equals("***@h:1", redact("redis:/:pw@h:1"))
  end)
end)

describe("serve.init with a redis:// store", function()
  it("raises on a malformed URL without quoting the password", function()
    local ok_, err = pcall(serve.init, { token = "test-token-0123456789", store = "redis://:hunter2@h:1?db=42" })
    assert.is_false(ok_)
    assert.matches("bounce.serve: store redis://%*%*%*@h:1%?db=42: db: an integer 0..15 expected", err)
    assert.is_nil(err:find("hunter2", 1, true))
  end)

  it("raises on an option out of range", function()
    local ok_, err = pcall(serve.init, { token = "test-token-0123456789", store = "redis://h:1", redis_db = -1 })
    assert.is_false(ok_)
    assert.matches("redis_db: an integer 0..15 expected", err)
    ok_, err = pcall(serve.init, { token = "test-token-0123456789", store = "redis://h:1", redis_password = "" })
    assert.is_false(ok_)
    assert.matches("redis_password: a non%-empty string expected", err)
  end)

  it("names the expected forms, without the password, for what is not a store", function()
    local ok_, err = pcall(serve.init, { token = "test-token-0123456789", store = "redis:/:hunter2@h:1" })
    assert.is_false(ok_)
    assert.matches("redis://%[%[USER%]:PASSWORD@%]HOST:PORT%[/PREFIX%]%[%?db=N%]' expected", err)
    assert.is_nil(err:find("hunter2", 1, true))
  end)
end)

describe("bounce serve --store redis:// (checked before nginx starts)", function()
  local root = (debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/spec/integration/[^/]*$") or ".")
  local have = util.exists("/usr/sbin/nginx") and util.exists("/usr/lib/nginx/modules/ngx_http_lua_module.so")
    and util.exists(root .. "/build/luajit/bounce/core.so")
  if not have then
    pending("needs nginx, its Lua module and the LuaJIT build (make LUA=luajit)")
    return
  end
  local dir

  setup(function()
    local _, out = util.run("mktemp -d /tmp/bounce-redis-url-spec.XXXXXX")
    dir = out:gsub("%s+$", "")
  end)
  teardown(function() if dir then util.run("rm -rf " .. util.q(dir)) end end)

  -- rc, output of `bounce serve --conf-only` on STORE, ENV before the command
  local function conf_only(store, env)
    return util.run((env or "") .. " lua5.4 " .. util.q(root .. "/bin/bounce") .. " serve --conf-only --token "
      .. "test-token-0123456789 --prefix " .. util.q(dir .. "/prefix") .. " --store " .. util.q(store))
  end

  it("writes the password only into conf/bounce.lua, created mode 0600", function()
    local rc, out = conf_only("redis://127.0.0.1:6379/bounce:?db=2", "BOUNCE_REDIS_PASSWORD='s3cr@t'")
    assert.equals(0, rc, out)
    local options = assert(util.read(dir .. "/prefix/conf/bounce.lua"))
    assert.truthy(options:find('["redis_password"] = "s3cr@t"', 1, true), options)
    assert.is_nil(util.read(dir .. "/prefix/conf/nginx.conf"):find("s3cr@t", 1, true))
    local _, mode = util.run("stat -c %a " .. util.q(dir .. "/prefix/conf/bounce.lua"))
    assert.equals("600", (mode:gsub("%s+$", "")))
    -- the options it wrote are the ones bounce.serve reads
    local opts = dofile(dir .. "/prefix/conf/bounce.lua")
    local r = ok(opts.store, opts)
    assert.same({ host = "127.0.0.1", port = 6379, prefix = "bounce:", password = "s3cr@t", db = 2 }, r)
  end)

  it("makes an existing, wider options file private again", function()
    local rc, out = conf_only("redis://127.0.0.1:6379")
    assert.equals(0, rc, out)
    util.run("chmod 644 " .. util.q(dir .. "/prefix/conf/bounce.lua"))
    rc, out = conf_only("redis://:pw@127.0.0.1:6379")
    assert.equals(0, rc, out)
    local _, mode = util.run("stat -c %a " .. util.q(dir .. "/prefix/conf/bounce.lua"))
    assert.equals("600", (mode:gsub("%s+$", "")))
  end)

  it("refuses a bad URL with a message that quotes no password", function()
    local rc, out = conf_only("redis://:hunter2@127.0.0.1:6379/bounce:?db=16")
    assert.equals(2, rc)
    assert.equals("bounce serve: --store redis://***@127.0.0.1:6379/bounce:?db=16: db: an integer 0..15 expected"
      .. " (a server with more: --redis-databases N)\n", out)
    rc, out = conf_only("redis://:@127.0.0.1:6379")
    assert.equals(2, rc)
    assert.matches("empty password", out)
    rc, out = conf_only("redis//:hunter2@127.0.0.1:6379")
    assert.equals(2, rc)
    assert.matches("expected, got '%*%*%*@127.0.0.1:6379'", out)
    assert.is_nil(out:find("hunter2", 1, true))
  end)

  it("refuses an empty BOUNCE_REDIS_PASSWORD, and points a user without a password at it", function()
    local rc, out = conf_only("redis://127.0.0.1:6379", "BOUNCE_REDIS_PASSWORD=")
    assert.equals(2, rc)
    assert.matches("BOUNCE_REDIS_PASSWORD is set but empty", out)
    rc, out = conf_only("redis://bouncer@127.0.0.1:6379")
    assert.equals(2, rc)
    assert.matches("BOUNCE_REDIS_PASSWORD", out)
    rc, out = conf_only("redis://bouncer@127.0.0.1:6379", "BOUNCE_REDIS_PASSWORD=pw")
    assert.equals(0, rc, out)
  end)

  it("accepts ?db=N above 15 with --redis-databases", function()
    local rc, out = util.run("lua5.4 " .. util.q(root .. "/bin/bounce") .. " serve --conf-only --token "
      .. "test-token-0123456789 --prefix " .. util.q(dir .. "/prefix") .. " --redis-databases 32"
      .. " --store 'redis://127.0.0.1:6379?db=31'")
    assert.equals(0, rc, out)
    assert.equals(32, dofile(dir .. "/prefix/conf/bounce.lua").redis_databases)
  end)
end)
