-- bounce serve: writes a self-contained nginx.conf for the bounce HTTP
-- service (bounce.serve) into a prefix folder and runs Debian's nginx with
-- its Lua module in the foreground. Ctrl-C or SIGTERM stops it.

local nginx = require("bounce.nginx")

local io, os, ipairs, pairs, tonumber, tostring, type =
  io, os, ipairs, pairs, tonumber, tostring, type
local format, concat, sort = string.format, table.concat, table.sort

local _M = { _VERSION = require("bounce.core")._VERSION }

_M.help = [=[
usage: bounce serve [--listen 127.0.0.1:8025] [--policy FILE] [--prefix DIR] [--token TOKEN]
                    [--store shdict|sqlite:PATH|redis://[[USER]:PASSWORD@]HOST:PORT[/PREFIX][?db=N]]
                    [--workers N]

Runs the bounce HTTP service in nginx (Debian's nginx + libnginx-mod-http-lua):
  POST /webhooks/{postmark,ses,sendgrid,mailgun,sparkpost}   ESP webhooks
  POST /bounces                                               a raw bounce message
  GET  /check?rcpt=ADDR                                       may we send?
  GET  /suppressions[?cause=&reason=&limit=&after=&format=csv]
  DELETE /suppressions/ADDR                                   release an address
  GET  /health?scope=campaign:NAME|domain:NAME|sender:NAME
  GET  /verify?rcpt=ADDR[&smtp=1]                              should we send at all?
Every request needs the token: "Authorization: Bearer TOKEN", or basic auth
with the token as the password (https://bounce:TOKEN@host/webhooks/postmark).

  --listen ADDR:PORT     where to listen (default 127.0.0.1:8025)
  --store SPEC           shdict (default: an nginx shared dict, lost when
                         nginx stops), sqlite:PATH (durable),
                         redis://[[USER]:PASSWORD@]HOST:PORT[/PREFIX][?db=N]
                         (shared by every nginx using that Redis; keys
                         PREFIX{address}, default prefix bounce:; as durable
                         as Redis is configured: appendonly yes, appendfsync
                         always loses nothing). With a password each new
                         connection sends AUTH [USER] PASSWORD (USER: a Redis
                         6 ACL user), then SELECT N for ?db=N (0..15); USER
                         and PASSWORD are percent-decoded (%40 '@', %3A ':',
                         %2F '/', %3F '?'). A password in the URL shows in
                         `ps`: prefer BOUNCE_REDIS_PASSWORD (below)
  --policy FILE          the policy; edits apply within a second, in every
                         worker; a broken edit keeps the old policy (logged)
  --prefix DIR           nginx's folder: conf/, logs/, tmp/ (default: a new
                         folder under /tmp, printed at start)
  --token TOKEN          the API token (or the environment's BOUNCE_TOKEN)
  --workers N            worker processes (default 1)
  --body-limit BYTES     largest request body (default 1048576)
  --dict-size SIZE       the shared dict for the shdict store (default 64m)
  --mailgun-key KEY      verify Mailgun signatures with this signing key
  --verp PREFIX          return paths are VERP addresses with this local-part
                         prefix (bounces+): POST /bounces tracks the address
                         the bounce came back to, not a forward it names
  --sns-cert-url PATTERN a Lua pattern SNS certificate and subscription URLs
                         must match (default: https://sns.REGION.amazonaws.com/)
  --sns-topic ARN        accept SNS messages of this topic only (repeatable)
  --no-sns-verify        do not verify SNS signatures
  --no-sns-confirm       log SNS subscription URLs instead of fetching them
  --resolver ADDR        DNS server nginx uses for SNS hosts (default: the
                         first nameserver of /etc/resolv.conf)
  --dns HOST:PORT        DNS server of /verify (default: /etc/resolv.conf's)
  --verify-smtp          let /verify?smtp=1 probe mailboxes over SMTP, as
  --probe-helo NAME      this EHLO name (default: the host's name)
  --probe-from ADDR      and this MAIL FROM (default: postmaster@NAME)
  --user USER            user the workers run as (when started as root)
  --lua-cpath DIR        folder holding bounce/core.so built for LuaJIT
  --redis-databases N    the Redis server's `databases` (default 16), for
                         ?db=N above 15
  --conf-only            write the configuration, print its path and exit

Environment:
  BOUNCE_TOKEN           the API token, when --token is not given
  BOUNCE_REDIS_PASSWORD  the Redis password for a redis:// store (wins over
                         one in the URL); with redis://USER@HOST:PORT for an
                         ACL user. Set but empty is an error.
The token and the Redis password are written to PREFIX/conf/bounce.lua only,
created mode 0600: readable by the user running bounce serve alone (nginx's
master reads it in init_by_lua; workers never open it). nginx.conf and the
logs hold no secret; no message shows a URL's credentials.
]=]

local function die(msg)
  io.stderr:write("bounce serve: ", msg, "\n")
  return 2
end

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- Writes text to path, created mode 0600 before a byte is written: a new
-- file from mktemp (0600 whatever the umask) renamed over path, so no
-- reader can have opened it earlier or hold an old, wider mode.
local function write_private(path, text)
  local p = io.popen("mktemp " .. q(path .. ".XXXXXX") .. " 2>/dev/null")
  local tmp = p:read("*l")
  p:close()
  if not tmp or tmp == "" then return nil, "cannot create a file next to " .. path end
  local f, err = io.open(tmp, "w")
  if not f then os.remove(tmp) return nil, err end
  local ok, werr = f:write(text)
  f:close()
  if not ok then os.remove(tmp) return nil, tmp .. ": " .. tostring(werr) end
  local moved, merr = os.rename(tmp, path)
  if not moved then os.remove(tmp) return nil, merr end
  return true
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

local function abs(path)
  if path:sub(1, 1) == "/" then return path end
  local p = io.popen("pwd")
  local cwd = p:read("*l")
  p:close()
  return cwd .. "/" .. path:gsub("^%./", "")
end

-- Options: --name VALUE, flags, repeatable ones collected in lists.
local VALUE = { listen = true, store = true, policy = true, prefix = true, token = true, workers = true,
                ["body-limit"] = true, ["dict-size"] = true, ["mailgun-key"] = true, verp = true,
                ["sns-cert-url"] = true, ["sns-topic"] = "list", resolver = true, user = true,
                ["lua-cpath"] = true, ["redis-databases"] = true, dns = true, ["probe-helo"] = true,
                ["probe-from"] = true }
local FLAG = { ["no-sns-verify"] = true, ["no-sns-confirm"] = true, ["conf-only"] = true, ["verify-smtp"] = true }

local function parse_args(args)
  local o, i = {}, 1
  while i <= #args do
    local name = args[i]:match("^%-%-([%w-]+)$")
    if name and VALUE[name] then
      local v = args[i + 1]
      if v == nil then return nil, "--" .. name .. " needs a value" end
      if VALUE[name] == "list" then
        o[name] = o[name] or {}
        o[name][#o[name] + 1] = v
      else
        o[name] = v
      end
      i = i + 2
    elseif name and FLAG[name] then
      o[name] = true
      i = i + 1
    else
      return nil, "unknown argument " .. args[i] .. " (bounce serve --help)"
    end
  end
  return o
end

-- A Lua literal for a plain value (the app's options file).
local function literal(v)
  local t = type(v)
  if t == "string" then return format("%q", v) end
  if t == "number" or t == "boolean" then return tostring(v) end
  if t == "table" then
    local keys, out = {}, {}
    for k in pairs(v) do keys[#keys + 1] = k end
    sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    for _, k in ipairs(keys) do
      out[#out + 1] = (type(k) == "number" and "" or "[" .. format("%q", k) .. "] = ") .. literal(v[k])
    end
    return "{ " .. concat(out, ", ") .. " }"
  end
  return "nil"
end

-- Where the Lua modules and the LuaJIT build of bounce.core are.
local function lua_dir()
  local path = package.searchpath("bounce.serve", package.path)
  if not path then return nil end
  return abs(path:match("^(.*)/bounce/serve%.lua$"))
end

local function core_dir(given, luadir)
  local candidates = { given, luadir and luadir .. "/../build/luajit", "/usr/local/lib/lua/5.1",
                       "/usr/lib/x86_64-linux-gnu/lua/5.1", "/usr/lib/lua/5.1" }
  for _, d in pairs(candidates) do
    if d and exists(d .. "/bounce/core.so") then return abs(d) end
  end
  return nil
end

local function resolver()
  local f = io.open("/etc/resolv.conf", "r")
  if not f then return nil end
  for line in f:lines() do
    local ns = line:match("^%s*nameserver%s+([%d%.]+)%s*$")
    if ns then f:close() return ns end
  end
  f:close()
  return nil
end

-- syntax: path, err = serve.write_conf(opts)   -- opts: the parsed options
function _M.write_conf(o)
  local listen = o.listen or "127.0.0.1:8025"
  if not listen:match("^[%w%.%-:%[%]]+:%d+$") and not listen:match("^%d+$") then
    return nil, "--listen: ADDR:PORT expected, got '" .. listen .. "'"
  end
  local token = o.token or os.getenv("BOUNCE_TOKEN")
  if not token or #token < 8 then return nil, "a token of 8 characters or more is needed (--token or BOUNCE_TOKEN)" end
  local workers = tonumber(o.workers or 1)
  if not workers or workers < 1 or workers > 64 or workers % 1 ~= 0 then return nil, "--workers: 1..64 expected" end
  local limit = tonumber(o["body-limit"] or 1048576)
  if not limit or limit < 1024 or limit % 1 ~= 0 then return nil, "--body-limit: bytes >= 1024 expected" end
  if o.verp and require("bounce.verp").prefix_error(o.verp) then
    return nil, "--verp: the local-part prefix of your return paths expected, such as bounces+"
  end
  local dict_size = o["dict-size"] or "64m"
  if not dict_size:match("^%d+[kKmM]?$") then return nil, "--dict-size: a size such as 64m expected" end
  local luadir = lua_dir()
  if not luadir then return nil, "cannot find the bounce Lua modules" end
  local cdir = core_dir(o["lua-cpath"], luadir)
  if not cdir then
    return nil, "bounce/core.so built for LuaJIT not found (run `make LUA=luajit`, or give --lua-cpath DIR)"
  end
  local store = o.store or "shdict"
  if store == "shdict" then store = "shdict:bounce" end
  local redis_password, redis_databases
  if store:match("^redis://") then
    -- checked here with bounce.serve's own parser, so that nginx starts;
    -- messages show the URL without its credentials
    local serve = require("bounce.serve")
    local shown = serve.redact_url(store)
    redis_password = os.getenv("BOUNCE_REDIS_PASSWORD")
    if redis_password == "" then return nil, "BOUNCE_REDIS_PASSWORD is set but empty" end
    if o["redis-databases"] then
      redis_databases = tonumber(o["redis-databases"])
      if not redis_databases or redis_databases < 1 or redis_databases % 1 ~= 0 then
        return nil, "--redis-databases: an integer >= 1 expected"
      end
    end
    local r, rerr = serve.parse_redis_url(store, { redis_password = redis_password,
                                                   redis_databases = redis_databases })
    if not r then
      rerr = rerr:gsub("redis_password", "BOUNCE_REDIS_PASSWORD")   -- where the CLI takes it from
      if rerr:find("^db: an integer") then rerr = rerr .. " (a server with more: --redis-databases N)" end
      return nil, "--store " .. shown .. ": " .. rerr
    end
    if r.prefix and r.prefix:find("%s") then
      return nil, "--store " .. shown .. ": the key prefix may not hold spaces"
    end
  elseif not (store:match("^shdict:[%w_]+$") or store:match("^sqlite:.+")) then
    return nil, "--store: shdict, sqlite:PATH or redis://[[USER]:PASSWORD@]HOST:PORT[/PREFIX][?db=N] expected, got '"
      .. require("bounce.serve").redact_url(store) .. "'"
  end
  local sq = store:match("^sqlite:(.+)$")
  if sq then store = "sqlite:" .. abs(sq) end
  local prefix = o.prefix
  if not prefix then
    local p = io.popen("mktemp -d /tmp/bounce-serve.XXXXXX")
    prefix = p:read("*l")
    p:close()
    if not prefix then return nil, "cannot create a prefix folder under /tmp" end
  end
  prefix = abs(prefix)
  if not os.execute("mkdir -p " .. q(prefix .. "/conf") .. " " .. q(prefix .. "/logs") .. " "
      .. q(prefix .. "/tmp") .. " && chmod 755 " .. q(prefix)) then
    return nil, "cannot create " .. prefix
  end
  local app = {
    token = token, store = store, body_limit = limit, health_dict = "bounce_health",
    policy = o.policy and abs(o.policy) or nil, mailgun_key = o["mailgun-key"], verp = o.verp,
    sns_verify = not o["no-sns-verify"], sns_confirm = not o["no-sns-confirm"],
    sns_url_patterns = o["sns-cert-url"] and { o["sns-cert-url"] } or nil, sns_topics = o["sns-topic"],
    redis_password = redis_password, redis_databases = redis_databases,
    verify = { dns = o.dns, smtp = o["verify-smtp"] or nil, helo = o["probe-helo"], from = o["probe-from"] },
  }
  -- the secrets (token, Redis password) go here only, never into nginx.conf
  local ok, err = write_private(prefix .. "/conf/bounce.lua",
    "-- Options for bounce.serve.init(), written by `bounce serve` (holds the token\n"
    .. "-- and any Redis password: keep it mode 0600).\nreturn " .. literal(app) .. "\n")
  if not ok then return nil, err end
  local conf = nginx.conf{
    by = "`bounce serve`", prefix = prefix, lua_path = luadir, lua_cpath = cdir,
    workers = workers, user = o.user,
    http = nginx.service{ listen = listen, options = prefix .. "/conf/bounce.lua", limit = limit,
                          dict_size = dict_size, resolver = o.resolver or resolver() },
  }
  local f
  f, err = io.open(prefix .. "/conf/nginx.conf", "w")
  if not f then return nil, err end
  f:write(conf)
  f:close()
  return prefix .. "/conf/nginx.conf", prefix
end

-- syntax: status = serve.run(args)
function _M.run(args)
  local o, err = parse_args(args or {})
  if not o then return die(err) end
  local usable, why = nginx.available()
  if not usable then
    return die("needs nginx and its Lua module: " .. why)
  end
  local conf, prefix = _M.write_conf(o)
  if not conf then return die(prefix) end
  if o["conf-only"] then
    io.write(conf, "\n")
    return 0
  end
  io.stderr:write("bounce serve: listening on http://", o.listen or "127.0.0.1:8025", "/ (nginx prefix ",
    prefix, ", log ", prefix, "/logs/error.log); Ctrl-C stops\n")
  io.stderr:flush()
  -- exec: nginx replaces the shell, so it is our child; --pdeathsig makes it
  -- get SIGTERM (fast shutdown) if this process is killed. Ctrl-C reaches
  -- nginx through the terminal's process group.
  local pdeath = os.execute("command -v setpriv >/dev/null 2>&1") and "setpriv --pdeathsig TERM " or ""
  local ok, how, code = os.execute("exec " .. pdeath .. q(nginx.NGINX) .. " -p " .. q(prefix)
    .. " -c conf/nginx.conf -e " .. q(prefix .. "/logs/error.log") .. " -g 'daemon off;'")
  if ok == true or ok == 0 then return 0 end
  if how == "signal" then return 0 end
  io.stderr:write("bounce serve: nginx exited with ", tostring(code or ok), "; see ", prefix,
    "/logs/error.log\n")
  local log = io.open(prefix .. "/logs/error.log", "r")
  if log then
    local text = log:read("*a")
    log:close()
    io.stderr:write(text:sub(-2000))
  end
  return 1
end

return _M
