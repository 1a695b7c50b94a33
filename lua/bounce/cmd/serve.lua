-- bounce serve: writes a self-contained nginx.conf for the bounce HTTP
-- service (bounce.serve) into a prefix folder and runs Debian's nginx with
-- its Lua module in the foreground. Ctrl-C or SIGTERM stops it.

local cli = require("bounce.cli")
local nginx = require("bounce.nginx")

local io, os, ipairs, pairs, tonumber, tostring, type =
  io, os, ipairs, pairs, tonumber, tostring, type
local format, concat, sort = string.format, table.concat, table.sort

local _M = { _VERSION = require("bounce.core")._VERSION }

_M.help = [=[
usage: bounce serve [--listen 127.0.0.1:8025] [--policy FILE] [--rules FILE] [--prefix DIR]
                    [--token TOKEN] [--workers N] [--create]
                    [--store shdict|sqlite:PATH|redis://[[USER]:PASSWORD@]HOST:PORT[/PREFIX][?db=N]]

Runs the bounce HTTP service in nginx (Debian's nginx + libnginx-mod-http-lua):
  POST /webhooks/{postmark,ses,sendgrid,mailgun,sparkpost,        ESP webhooks
                  mailjet,brevo,mandrill,postal,resend}
  POST /events                                  bounce's own events, from any source
  POST /bounces                                 a raw bounce message
  GET  /check?rcpt=ADDR                         may we send?
  GET  /suppressions[?cause=&reason=&limit=&after=&format=csv]
  GET  /suppressions?kind=domain                the dead domains
  DELETE /suppressions/ADDR                     release an address (or a dead domain)
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
  --create               with sqlite:PATH, start a new history when PATH does
                         not exist (without it that is an error: /check on a
                         mistyped path would find every address allowed)
  --policy FILE          the policy; edits apply within a second, in every
                         worker; a broken edit keeps the old policy (logged)
  --rules FILE           a rules file (bounce help rules), ahead of the
                         built-in rules; reloaded on edit like the policy
  --prefix DIR           nginx's folder: conf/, logs/, tmp/ (default: a new
                         folder under /tmp, printed at start)
  --token TOKEN          the API token (or the environment's BOUNCE_TOKEN)
  --workers N            worker processes (default 1)
  --body-limit BYTES     largest request body (default 1048576)
  --dict-size SIZE       the shared dict for the shdict store (default 64m)
  --mailgun-key KEY      verify Mailgun signatures with this signing key
  --mandrill-key KEY     verify Mandrill's X-Mandrill-Signature with the
                         webhook's key; needs --mandrill-url
  --mandrill-url URL     the webhook URL exactly as configured in Mandrill
                         (it is part of what Mandrill signs)
  --postal-key FILE      verify Postal's X-Postal-Signature-256 with the
                         server's public key (PEM, or the base64 DER body)
  --resend-secret SECRET verify Resend's (Svix) signature with the endpoint's
                         signing secret whsec_...
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
  --user USER            user the workers run as (when started as root;
                         default nginx's, nobody)
  --lua-cpath DIR        folder holding bounce/core.so built for LuaJIT
                         (default: found beside the modules, in the checkout's
                         build/luajit, or the system's and luarocks' 5.1 trees)
  --redis-databases N    the Redis server's `databases` (default 16), for
                         ?db=N above 15
  --conf-only            write the configuration, print its path and exit

Before it says it listens, bounce serve checks what the workers will need:
the LuaJIT build of bounce.core (and bounce.sqlite for a sqlite store), and
that the policy and rules files load, that the user the workers run as
(nginx's when started as root) can read them and write the SQLite file and
its folder, and that the port is free. It exits 2 with the cause otherwise.

Environment:
  BOUNCE_TOKEN           the API token, when --token is not given
  BOUNCE_REDIS_PASSWORD  the Redis password for a redis:// store (wins over
                         one in the URL); with redis://USER@HOST:PORT for an
                         ACL user. Set but empty is an error.
The token, the Redis password and the webhook keys are written to
PREFIX/conf/bounce.lua only, created mode 0600: readable by the user running
bounce serve alone (nginx's master reads it in init_by_lua; workers never
open it). nginx.conf and the logs hold no secret; no message shows a URL's
credentials.
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
                ["lua-cpath"] = true, ["redis-databases"] = true, rules = true, ["mandrill-key"] = true,
                ["mandrill-url"] = true, ["postal-key"] = true, ["resend-secret"] = true, dns = true,
                ["probe-helo"] = true, ["probe-from"] = true }
local FLAG = { ["no-sns-verify"] = true, ["no-sns-confirm"] = true, ["conf-only"] = true, create = true,
               ["verify-smtp"] = true }

local function parse_args(args)
  local o, pos = cli.parse_args(args, VALUE, FLAG)
  if not o then return nil, pos .. " (bounce serve --help)" end
  if #pos > 0 then return nil, "unexpected argument '" .. pos[1] .. "' (bounce serve --help)" end
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

-- Where the Lua modules are (the folder holding bounce/serve.lua).
local function lua_dir()
  local path = cli.searchpath("bounce.serve", package.path)
  if not path then return nil end
  return abs(path:match("^(.*)/bounce/serve%.lua$"))
end

local LUAJIT = os.getenv("LUAJIT") or "luajit"

-- Whether nginx's LuaJIT can load DIR/bounce/core.so (and bounce/sqlite.so
-- when needed) and it is this version: true, or nil and why not. Without a
-- luajit interpreter to ask, the files' presence is taken as the answer.
local function loads_in_luajit(dir, need_sqlite, version)
  if not exists(dir .. "/bounce/core.so") then return nil, "no bounce/core.so" end
  if need_sqlite and not exists(dir .. "/bounce/sqlite.so") then return nil, "no bounce/sqlite.so" end
  if not os.execute("command -v " .. q(LUAJIT) .. " >/dev/null 2>&1") then return true end
  local probe = "package.cpath = " .. format("%q", dir .. "/?.so") .. " "
    .. "local ok, c = pcall(require, 'bounce.core') "
    .. "if not ok then io.write('cannot load: ', (tostring(c):gsub('%s+', ' '))) os.exit(1) end "
    .. (need_sqlite and "local okq, e = pcall(require, 'bounce.sqlite') "
      .. "if not okq then io.write('bounce.sqlite cannot load: ', (tostring(e):gsub('%s+', ' '))) os.exit(1) end "
      or "")
    .. "io.write('version ', c._VERSION)"
  local p = io.popen(q(LUAJIT) .. " -e " .. q(probe) .. " 2>&1")
  local out = p:read("*a") or ""
  p:close()
  local got = out:match("^version (%S+)")
  if not got then return nil, out ~= "" and out or "cannot load" end
  if got ~= version then return nil, "version " .. got .. ", not " .. version end
  return true
end

-- The folders where a LuaJIT build of bounce.core may be, most likely first.
local function core_candidates(given, luadir)
  if given then return { given } end
  local list = {}
  local function add(d) if d then list[#list + 1] = d end end
  if luadir then
    add(luadir .. "/../build/luajit")                              -- a checkout (make LUA=luajit)
    local tree = luadir:match("^(.*)/share/lua/5%.%d$")
    if tree then add(tree .. "/lib/lua/5.1") end                   -- the same luarocks tree, 5.1 rock
  end
  if _VERSION == "Lua 5.1" then                                    -- this Lua's own build
    local mine = cli.searchpath("bounce.core", package.cpath)
    if mine then add((mine:gsub("/bounce/core%.so$", ""))) end
  end
  local home = os.getenv("HOME")
  add(home and home .. "/.luarocks/lib/lua/5.1")
  add("/usr/local/lib/lua/5.1")
  add("/usr/lib/x86_64-linux-gnu/lua/5.1")
  add("/usr/lib/lua/5.1")
  return list
end

-- What to run: the 5.1 rock in this bounce's own luarocks tree when it is
-- in one (tree/share/lua/5.x), offline-proof (--deps-mode=none: Debian's
-- lua-cjson is no rock luarocks can see).
local function need_luajit(luadir)
  local tree = luadir and luadir:match("^(.*)/share/lua/5%.%d$")
  return "nginx runs LuaJIT, so bounce serve needs bounce.core built for Lua 5.1 (a 5.1 build"
    .. " loads in LuaJIT), and found none. Install the 5.1 rock beside this one, in bounce's source"
    .. " folder: `luarocks --lua-version=5.1 make" .. (tree and " --tree=" .. tree or "")
    .. " --deps-mode=none rockspec/bounce-scm-1.rockspec` (--deps-mode=none when lua-cjson comes from"
    .. " Debian's package, not a rock); or run `make LUA=luajit` in a checkout; or give --lua-cpath DIR"
end

-- The folder of a LuaJIT build of bounce.core that fits, or nil and a
-- message saying where it looked and what to install.
local function core_dir(given, luadir, need_sqlite)
  local version = require("bounce.core")._VERSION
  local tried = {}
  for _, d in ipairs(core_candidates(given, luadir)) do
    local ok, why = loads_in_luajit(d, need_sqlite, version)
    if ok then return abs(d) end
    if exists(d .. "/bounce/core.so") or given then tried[#tried + 1] = d .. " (" .. why .. ")" end
  end
  return nil, need_luajit(luadir) .. (#tried > 0 and ". Found, but not usable: " .. concat(tried, "; ") or "")
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

-- Who the workers run as: nil when they run as this user (not root), else
-- user, group (nginx's defaults when started as root without `user`:
-- nobody, and the group Debian's build names, nogroup).
local function worker_identity(o)
  local p = io.popen("id -u 2>/dev/null")
  local uid = p and p:read("*l")
  if p then p:close() end
  if uid ~= "0" then return nil end
  local user, group = (o.user or "nobody"):match("^(%S+)%s*(%S*)$")
  if group == "" then
    group = o.user and user or "nogroup"
  end
  return user, group
end

-- Runs `test EXPR` as the workers would (as user:group with the user's
-- supplementary groups, when started as root); true when it holds.
local function as_workers(user, group, expr)
  local cmd = "test " .. expr
  if user then
    if os.execute("command -v setpriv >/dev/null 2>&1") then
      cmd = "setpriv --reuid=" .. q(user) .. " --regid=" .. q(group) .. " --init-groups " .. cmd
    elseif os.execute("command -v runuser >/dev/null 2>&1") then
      cmd = "runuser -u " .. q(user) .. " -g " .. q(group) .. " -- " .. cmd
    else
      return true   -- nothing here can take the workers' identity: nginx will tell
    end
  end
  local ok = os.execute(cmd .. " 2>/dev/null")
  return ok == true or ok == 0
end

-- syntax: ok, err = serve.check_workers(opts, sqlite_path, policy_path, rules_path)
-- What the workers need from the file system, checked as the user they run
-- as: the policy and rules files readable; for a SQLite store the folder
-- searchable and writable (SQLite creates the file, its -wal and -shm
-- there) and the file, when it exists, readable and writable; a missing
-- file is an error unless opts.create. nil, err names the path, the user
-- and what to do.
function _M.check_workers(o, db, policy, rules)
  local user, group = worker_identity(o)
  local who = "this user"
  if user then
    who = "the user the workers run as, " .. user
      .. (o.user and "" or " (nginx's default; --user USER changes it)")
  end
  for _, f in ipairs({ { policy, "--policy" }, { rules, "--rules" } }) do
    if f[1] and not as_workers(user, group, "-r " .. q(f[1])) then
      return nil, f[2] .. " " .. f[1] .. ": not readable by " .. who
    end
  end
  if not db then return true end
  local dir = db:match("^(.*)/[^/]*$")
  if dir == "" then dir = "/" end
  if not exists(db) then
    if not o.create then
      return nil, "--store sqlite:" .. db .. ": no such file (--create starts a new history there)"
    end
    if not as_workers(nil, nil, "-d " .. q(dir)) then
      return nil, "--store sqlite:" .. db .. ": the folder " .. dir .. " does not exist"
    end
  end
  if not as_workers(user, group, "-w " .. q(dir) .. " -a -x " .. q(dir)) then
    return nil, "--store sqlite:" .. db .. ": the folder " .. dir .. " is not writable by " .. who
      .. " (SQLite writes the database, its -wal and -shm files there): chown or chmod it"
  end
  for _, f in ipairs({ db, db .. "-wal", db .. "-shm" }) do
    if exists(f) and not as_workers(user, group, "-r " .. q(f) .. " -a -w " .. q(f)) then
      return nil, "--store sqlite:" .. db .. ": " .. f .. " is not readable and writable by " .. who
    end
  end
  if exists(db) and not o.create then
    -- an empty file would be an empty history: every address allowed
    local ok, err = require("bounce.store.url").sqlite_file(db)
    if not ok then return nil, "--store sqlite:" .. err end
  end
  return true
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
  local store = o.store or "shdict"
  local cdir, cerr = core_dir(o["lua-cpath"], luadir, store:match("^sqlite:") ~= nil)
  if not cdir then return nil, cerr end
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
  if o.create and not sq then return nil, "--create is for --store sqlite:PATH" end
  if (o["mandrill-key"] == nil) ~= (o["mandrill-url"] == nil) then
    return nil, "--mandrill-key and --mandrill-url go together (Mandrill signs the URL it posts to)"
  end
  local postal_key
  if o["postal-key"] then
    local f, ferr = io.open(o["postal-key"], "rb")
    if not f then return nil, "--postal-key: " .. tostring(ferr) end
    postal_key = f:read("*a")
    f:close()
    if not require("bounce.webhooks").public_key(postal_key) then
      return nil, "--postal-key: " .. o["postal-key"] .. ": not a public key (PEM, or the base64 DER body)"
    end
  end
  local secret = o["resend-secret"]
  if secret and not require("bounce.webhooks").base64_decode((secret:gsub("^whsec_", ""))) then
    return nil, "--resend-secret: the endpoint's signing secret whsec_... expected"
  end
  if o.policy then   -- loaded here as init_by_lua will: a broken one stops nginx before it listens
    local p, perr = require("bounce.policy").load(abs(o.policy))
    if not p then return nil, "--policy: " .. tostring(perr) end
  end
  local rules = o.rules and abs(o.rules)
  if rules then
    local n, rerr = require("bounce.rules_file").load(rules)
    if not n then return nil, "--rules: " .. rerr end
  end
  local ok_, werr = _M.check_workers(o, sq and abs(sq), o.policy and abs(o.policy), rules)
  if not ok_ then return nil, werr end
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
    rules = rules, mandrill_key = o["mandrill-key"], mandrill_url = o["mandrill-url"],
    postal_key = postal_key, resend_secret = secret,
  }
  -- the secrets (token, Redis password) go here only, never into nginx.conf
  local ok, err = write_private(prefix .. "/conf/bounce.lua",
    "-- Options for bounce.serve.init(), written by `bounce serve` (holds the token,\n"
    .. "-- any Redis password and webhook keys: keep it mode 0600).\nreturn " .. literal(app) .. "\n")
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
-- Whether nginx will be able to bind ADDR:PORT (or PORT): true, or nil and
-- why. nginx binds after "listening" is printed; a port another process
-- holds is found here instead. Without LuaSocket the answer is yes.
local function port_free(listen)
  local ok, socket = pcall(require, "socket")
  if not ok then return true end
  local host, port = listen:match("^(.*):(%d+)$")
  if not host then host, port = "0.0.0.0", listen end
  host = host:gsub("^%[(.*)%]$", "%1")
  local s, err = socket.bind(host, tonumber(port))
  if not s then return nil, err end
  s:close()
  return true
end

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
  local free, ferr = port_free(o.listen or "127.0.0.1:8025")
  if not free then return die("--listen " .. (o.listen or "127.0.0.1:8025") .. ": " .. tostring(ferr)) end
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
