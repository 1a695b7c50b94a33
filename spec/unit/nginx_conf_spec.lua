-- bounce.nginx: the nginx.conf template `bounce serve` writes and every
-- nginx the specs start runs (spec/integration/*: a real nginx).
local nginx = require("bounce.nginx")

local function has(text, s) return text:find(s, 1, true) ~= nil end

describe("bounce.nginx.conf", function()
  local conf = nginx.conf{ prefix = "/srv/p", lua_path = "/opt/bounce/lua",
                           lua_cpath = "/opt/bounce/build/luajit", workers = 2, http = "  server { listen 1; }" }

  it("loads the NDK, then the Lua module, by absolute path", function()
    local ndk = conf:find("load_module " .. nginx.MODULES .. "/ndk_http_module.so;", 1, true)
    local lua = conf:find("load_module " .. nginx.MODULES .. "/ngx_http_lua_module.so;", 1, true)
    assert.truthy(ndk and lua and ndk < lua)
    assert.matches("^/", nginx.MODULES)
  end)

  it("keeps pid, logs and temporary files under the prefix, and has no daemon line", function()
    for _, line in ipairs({ "pid /srv/p/logs/nginx.pid;", "error_log /srv/p/logs/error.log notice;",
                            "access_log /srv/p/logs/access.log;", "client_body_temp_path /srv/p/tmp/client_body;",
                            "proxy_temp_path /srv/p/tmp/proxy;", "fastcgi_temp_path /srv/p/tmp/fastcgi;",
                            "uwsgi_temp_path /srv/p/tmp/uwsgi;", "scgi_temp_path /srv/p/tmp/scgi;",
                            "worker_processes 2;" }) do
      assert.is_true(has(conf, line), line)
    end
    assert.is_nil(conf:find("\n%s*daemon"))
  end)

  it("finds the Lua modules and bounce.core, keeping ;; for resty.core", function()
    assert.is_true(has(conf, 'lua_package_path "/opt/bounce/lua/?.lua;/opt/bounce/lua/?/init.lua;;";'))
    assert.is_true(has(conf, 'lua_package_cpath "/opt/bounce/build/luajit/?.so;;";'))
  end)

  it("puts the http text inside http {}, and leaves the Lua paths to it when not given", function()
    local c = nginx.conf{ prefix = "/srv/p", http = '  lua_package_path "/x/?.lua;;";', user = "www-data",
                          main = "env REDIS_PORT;", error_level = "info" }
    assert.matches('http {.*lua_package_path "/x/%?%.lua;;";\n}', c)
    assert.is_false(has(c, "/?/init.lua"))
    assert.is_true(has(c, "\nuser www-data;\n"))
    assert.is_true(has(c, "\nenv REDIS_PORT;\n"))
    assert.is_true(has(c, "error_log /srv/p/logs/error.log info;"))
  end)

  it("refuses a relative prefix and wrong option types", function()
    assert.has_error(function() nginx.conf{ prefix = "p" } end,
      "bad argument #1 to 'conf' (field 'prefix': an absolute path expected, got 'p')")
    assert.has_error(function() nginx.conf{} end,
      "bad argument #1 to 'conf' (field 'prefix': string expected, got nil)")
    assert.has_error(function() nginx.conf{ prefix = "/p", workers = 0 } end,
      "bad argument #1 to 'conf' (field 'workers': an integer >= 1 expected)")
    assert.has_error(function() nginx.conf("/p") end, "bad argument #1 to 'conf' (table expected, got string)")
  end)
end)

describe("bounce.nginx.service", function()
  local s = nginx.service{ listen = "127.0.0.1:8025", options = "/srv/p/conf/bounce.lua", limit = 4096,
                           dict_size = "16m", resolver = "127.0.0.53" }

  it("runs bounce.serve with its options from a file, so nginx.conf holds no secret", function()
    assert.is_true(has(s, 'require("bounce.serve").init(dofile("/srv/p/conf/bounce.lua"))'))
    assert.is_true(has(s, 'require("bounce.serve").init_worker()'))
    assert.is_true(has(s, 'require("bounce.serve").handle()'))
    assert.is_true(has(s, "listen 127.0.0.1:8025;"))
  end)

  it("sizes the record and health dicts, the body limit and the resolver", function()
    assert.is_true(has(s, "lua_shared_dict bounce 16m;"))
    assert.is_true(has(s, "lua_shared_dict bounce_health 8m;"))
    assert.is_true(has(s, "client_max_body_size 4096;"))
    assert.is_true(has(s, "client_body_buffer_size 4096;"))
    assert.is_true(has(s, [['{"error":"body over 4096 bytes"}\n']]))
    assert.is_true(has(s, "resolver 127.0.0.53 ipv6=off;"))
    assert.is_false(has(nginx.service{ listen = "1", options = "/o", limit = 1 }, "resolver"))
  end)
end)
