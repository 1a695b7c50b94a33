-- bounce.serve: the bounce HTTP service inside nginx (lua-nginx-module,
-- LuaJIT): ESP webhooks, raw bounce messages, the pre-send check, the
-- suppression list and health, over one tracker per worker and a store
-- shared by all workers. `bounce serve` runs it with a generated nginx.conf;
-- the same three calls go into a user's own nginx.conf:
--
--   lua_shared_dict bounce 64m;          # the records (shdict store)
--   lua_shared_dict bounce_health 8m;    # health counters shared by workers
--   init_by_lua_block        { require("bounce.serve").init{ token = "...", store = "shdict:bounce",
--                                policy = "/etc/bounce/policy.lua", health_dict = "bounce_health" } }
--   init_worker_by_lua_block { require("bounce.serve").init_worker() }
--   location / { content_by_lua_block { require("bounce.serve").handle() } }
--
-- Endpoints (all need the token: "Authorization: Bearer TOKEN", or HTTP basic
-- auth with the token as the password, which is what ESPs can put in a
-- webhook URL: https://bounce:TOKEN@host/webhooks/postmark):
--   POST   /webhooks/{postmark,ses,sendgrid,mailgun,sparkpost,mailjet,brevo,mandrill,postal,resend}
--   POST   /events                     bounce's own events (t:record's fields), from any source
--   POST   /bounces                    a raw bounce message (bounce.parse)
--   GET    /check?rcpt=ADDR            {"allowed":..,"why":..}
--   GET    /suppressions[?cause=&reason=&limit=&after=&format=csv]
--   GET    /suppressions?kind=domain[&reason=&limit=&after=&format=csv]   dead domains
--   DELETE /suppressions/ADDR          release (a domain: lift its dead-domain mark)
--   GET    /health?scope=campaign:c1
--   GET    /verify?rcpt=ADDR[&smtp=1]  bounce.verify: verdict, why, checks
--
-- Status codes: 200 when every event is stored (or skipped, and said so);
-- 400 for bad JSON, wrong types, missing fields, invalid addresses or scopes,
-- query parameters without a value, with {"error": reason}; 401 without the
-- token or with a bad signature (Mailgun, SNS, Mandrill, Postal, Resend);
-- 404 for other paths; 405 for other methods; 413 over the body limit; 503
-- when the store fails (a provider retries later; the events stored before
-- the failure are stored again then, so delivery is at least once).

local bounce = require("bounce")
local webhooks = require("bounce.webhooks")
local tracker_mod = require("bounce.tracker")
local policy_mod = require("bounce.policy")
local json = require("bounce.json")
local output = require("bounce.output")
local csv = require("bounce.csv")

local type, error, tostring, tonumber, ipairs, pairs, pcall, require =
  type, error, tostring, tonumber, ipairs, pairs, pcall, require
local floor = math.floor
local concat, sort = table.concat, table.sort
local sfind, smatch, ssub, slower, sgsub, sgmatch, schar =
  string.find, string.match, string.sub, string.lower, string.gsub, string.gmatch, string.char
local open = io.open

local ngx = rawget(_G, "ngx")

local _M = { _VERSION = bounce._VERSION }

local cfg          -- options given to init()
local T            -- this worker's tracker
local worker_store -- and its store
local last_policy_err, last_policy

------------------------------------------------------------------------------
-- JSON out: lists carry a marker so that an empty one is [] not {}.
------------------------------------------------------------------------------

local list, encode = json.array, json.encode

local function reply(status, body, ctype)
  ngx.status = status
  ngx.header["Content-Type"] = ctype or "application/json"
  ngx.header["Cache-Control"] = "no-store"
  if status == 503 then ngx.header["Retry-After"] = "30" end
  ngx.print(type(body) == "string" and body or encode(body))
  ngx.print("\n")
end

local function fail(status, msg) return reply(status, { error = msg }) end

------------------------------------------------------------------------------
-- Redis URLs: redis://[[USER]:PASSWORD@]HOST:PORT[/PREFIX][?db=N]
------------------------------------------------------------------------------

-- syntax: shown = serve.redact_url(url)
-- The URL for messages: the credentials before the '@' of the authority
-- (before the last '@' of the whole string when it does not parse as a
-- URL) become ***, so a password never reaches an error or a log.
local function redact(url)
  url = tostring(url)
  if not sfind(url, "@", 1, true) then return url end
  local scheme, rest = smatch(url, "^(%a+://)(.*)$")
  if not scheme then return "***@" .. smatch(url, "([^@]*)$") end
  local authority, tail = smatch(rest, "^([^/?]*)(.*)$")
  if sfind(authority, "@", 1, true) and not sfind(tail, "@", 1, true) then
    return scheme .. "***@" .. smatch(authority, "([^@]*)$") .. tail
  end
  -- a raw '/', '?' or '@' in the password, or an '@' in the prefix: hide
  -- all up to the last '@' (more than needed rather than too little)
  return scheme .. "***@" .. smatch(rest, "([^@]*)$")
end
_M.redact_url = redact

-- msg with every occurrence of secret replaced by *** (a server's error
-- text is not ours to trust).
local function scrub(msg, secret)
  msg = tostring(msg)
  if not secret or secret == "" then return msg end
  local out, i = {}, 1
  while true do
    local s, e = sfind(msg, secret, i, true)
    if not s then break end
    out[#out + 1] = ssub(msg, i, s - 1) .. "***"
    i = e + 1
  end
  out[#out + 1] = ssub(msg, i)
  return concat(out)
end

-- %XX escapes of s decoded; nil, err when a '%' is not followed by two hex
-- digits. The error never quotes s (it may be a password).
local function pct_decode(s, what)
  if sfind(sgsub(s, "%%%x%x", ""), "%", 1, true) then
    return nil, what .. ": malformed percent-encoding (a '%' must be followed by two hex digits)"
  end
  return (sgsub(s, "%%(%x%x)", function(h) return schar(tonumber(h, 16)) end))
end

local function db_number(v, databases, what)
  local n = tonumber(v)
  if type(v) == "string" and not smatch(v, "^%d+$") then n = nil end
  if not n or n % 1 ~= 0 or n < 0 or n >= databases then
    return nil, what .. ": an integer 0.." .. (databases - 1) .. " expected"
  end
  return floor(n)   -- 3, not 3.0, in SELECT and the pool name
end

local HINT = " (percent-encode '@', ':', '/' and '?' in a user or password: %40 %3A %2F %3F)"

-- syntax: r, err = serve.parse_redis_url(url[, opts])
-- Reads redis://[[USER]:PASSWORD@]HOST:PORT[/PREFIX][?db=N] and merges
-- opts.redis_user, opts.redis_password, opts.redis_db (which win over the
-- URL's). USER and PASSWORD are percent-decoded; PREFIX is taken as written.
-- N is an integer below opts.redis_databases (default 16: 0..15).
-- Returns { host =, port =, prefix = (nil: the store's default), user =
-- (nil: AUTH with the password alone), password = (nil: no AUTH), db = }
-- or nil and a message that quotes neither the URL nor the password.
-- Raises on a url that is not a string. Plain Lua; no nginx needed.
function _M.parse_redis_url(url, opts)
  if type(url) ~= "string" then
    error("bad argument #1 to 'parse_redis_url' (string expected, got " .. type(url) .. ")", 2)
  end
  opts = opts or {}
  local databases = opts.redis_databases or 16
  if type(databases) ~= "number" or databases < 1 or databases % 1 ~= 0 then
    return nil, "redis_databases: an integer >= 1 expected"
  end
  local rest = smatch(url, "^redis://(.*)$")
  if not rest then return nil, "redis://[[USER]:PASSWORD@]HOST:PORT[/PREFIX][?db=N] expected" end
  local query
  local qpos = sfind(rest, "?", 1, true)
  if qpos then rest, query = ssub(rest, 1, qpos - 1), ssub(rest, qpos + 1) end
  local authority, path = smatch(rest, "^([^/]*)(.*)$")
  local userinfo, hostport = smatch(authority, "^(.*)@([^@]*)$")
  hostport = hostport or authority
  local hint = sfind(rest, "@", 1, true) and HINT or ""
  local host, port = smatch(hostport, "^([%w%.%-]+):(%d+)$")
  port = tonumber(port)
  if not host then return nil, "HOST:PORT expected after redis://" .. hint end
  if port < 1 or port > 65535 then return nil, "port: 1..65535 expected" end
  local r = { host = host, port = port, db = 0 }
  if userinfo then
    local u, p = smatch(userinfo, "^([^:]*):(.*)$")
    if not u then u = userinfo end   -- redis://USER@: the password comes from opts
    if u == "" and p == nil then return nil, "user or password expected before '@'" end
    if p == "" then return nil, "empty password (redis://[USER]:PASSWORD@HOST:PORT)" end
    local err
    if u ~= "" then
      r.user, err = pct_decode(u, "user")
      if not r.user then return nil, err end
    end
    if p then
      r.password, err = pct_decode(p, "password")
      if not r.password then return nil, err end
    end
  end
  if path ~= "" then
    local prefix = ssub(path, 2)
    if sfind(prefix, "[{}]") then return nil, "the key prefix may not hold { or }" .. hint end
    if prefix ~= "" then r.prefix = prefix end
  end
  if query then
    local seen
    -- (not gmatch "[^&]*": 5.1 and 5.4 differ on empty matches)
    for param in sgmatch(query .. "&", "([^&]*)&") do
      local v = smatch(param, "^db=(.*)$")
      if not v then return nil, "unknown URL parameter: only ?db=N is understood" .. hint end
      if seen then return nil, "db given twice" end
      local n, err = db_number(v, databases, "db")
      if not n then return nil, err end
      r.db, seen = n, true
    end
  end
  -- the options win over the URL
  local user, password, db = opts.redis_user, opts.redis_password, opts.redis_db
  if user ~= nil then
    if type(user) ~= "string" or user == "" then return nil, "redis_user: a non-empty string expected" end
    r.user = user
  end
  if password ~= nil then
    if type(password) ~= "string" or password == "" then
      return nil, "redis_password: a non-empty string expected"
    end
    r.password = password
  end
  if db ~= nil then
    local n, err = db_number(db, databases, "redis_db")
    if not n then return nil, err end
    r.db = n
  end
  if r.user and not r.password then
    return nil, "a user without a password: redis://USER:PASSWORD@HOST:PORT expected, or the password apart"
      .. " (redis_password)"
  end
  return r
end

------------------------------------------------------------------------------
-- Configuration (init_by_lua)
------------------------------------------------------------------------------

-- The Redis store for nginx: each store call takes a connection from the
-- worker's cosocket pool (opts.connect) and hands it back with set_keepalive
-- (opts.release), so no connection outlives the request that used it. A
-- call that fails on its connection closes it instead, and the next call
-- connects afresh: after a Redis restart the first request already gets a
-- new connection. The client module is opts.redis_client, else Debian's
-- nginx.redis, else OpenResty's resty.redis.
local function redis_client_module(given)
  if given ~= nil then
    if type(given) ~= "table" or type(given.new) ~= "function" then
      error("bounce.serve: redis_client: a module with new() expected (nginx.redis, resty.redis)", 5)
    end
    return given
  end
  for _, name in ipairs({ "nginx.redis", "resty.redis" }) do
    local ok, mod = pcall(require, name)
    if ok then return mod end
  end
  error("bounce.serve: store redis: neither nginx.redis nor resty.redis found (apt-get install lua-nginx-redis)", 5)
end

-- Whether red is a new connection rather than one from the keepalive pool
-- (a client without get_reused_times counts as new: it is authenticated on
-- every connect, which is slower but right).
local function is_new(red)
  if type(red.get_reused_times) ~= "function" then return true end
  local n = red:get_reused_times()
  return n == nil or n == 0
end

-- r: parse_redis_url's result. A new connection is authenticated (AUTH
-- [user] password) and switched to r.db (SELECT) before the store sees it;
-- one from the pool already was, and goes straight to use. The pool is
-- bounce's own (named after host, port, db and user), so a connection set up
-- here never serves other code of the same nginx talking to that Redis, and
-- theirs, unauthenticated or on another database, never serves us.
local function redis_factory(mod, r, opts)
  local client = redis_client_module(opts.redis_client)
  local timeout = opts.redis_timeout or 1000
  local pool = opts.redis_pool_size or 64
  if type(timeout) ~= "number" or timeout <= 0 then
    error("bounce.serve: redis_timeout: milliseconds > 0 expected", 4)
  end
  if type(pool) ~= "number" or pool < 1 or pool % 1 ~= 0 then
    error("bounce.serve: redis_pool_size: integer >= 1 expected", 4)
  end
  local host, port, user, password, db = r.host, r.port, r.user, r.password, r.db
  local where = host .. ":" .. port .. ": "
  local copts = { pool = "bounce:" .. host .. ":" .. port .. ":" .. db .. ":" .. (user or "") }
  -- closes a connection that failed its set-up (it must not reach the pool)
  local function setup_failed(red, what, err)
    red:close()
    return nil, where .. what .. " failed: " .. scrub(err, password)
  end
  local sopts = {
    prefix = r.prefix,
    connect = function()
      local red, err = client:new()
      if not red then return nil, where .. tostring(err) end
      red:set_timeout(timeout)
      local ok, cerr = red:connect(host, port, copts)
      if not ok then return nil, where .. tostring(cerr) end
      if (password or db ~= 0) and is_new(red) then
        if password then
          local res, aerr
          if user then res, aerr = red:auth(user, password) else res, aerr = red:auth(password) end
          if not res then return setup_failed(red, user and "AUTH as user " .. user or "AUTH", aerr) end
        end
        if db ~= 0 then
          local res, serr = red:select(db)
          if not res then return setup_failed(red, "SELECT " .. db, serr) end
        end
      end
      return red
    end,
    release = function(red) red:set_keepalive(60000, pool) end,
  }
  -- new() takes no connection with opts.release: this checks the options
  -- now, in init_by_lua, where a mistake stops nginx from starting
  mod.new(nil, sopts)
  return function() return mod.new(nil, sopts) end
end

local function store_factory(spec, opts)
  if type(spec) == "function" then return spec end
  if spec == nil or spec == "shdict" then spec = "shdict:bounce" end
  if type(spec) ~= "string" then error("bounce.serve: store: string or function expected", 3) end
  local name = smatch(spec, "^shdict:([%w_]+)$")
  if name then
    -- health counts in the store, in health_dict when there is one (the
    -- counters count_health below writes, under the same names)
    local hd = opts and opts.health_dict
    return function() return require("bounce.store.shdict").new(name, hd and { health_dict = hd } or nil) end
  end
  local path = smatch(spec, "^sqlite:(.+)$")
  if path then
    local ok, mod = pcall(require, "bounce.store.sqlite")
    if not ok then
      error("bounce.serve: store " .. spec .. ": bounce.store.sqlite is not available: " .. tostring(mod), 3)
    end
    return function() return mod.new(path) end
  end
  if ssub(spec, 1, 8) == "redis://" then
    -- never the spec itself in a message: it may hold a password
    local r, err = _M.parse_redis_url(spec, opts)
    if not r then error("bounce.serve: store " .. redact(spec) .. ": " .. err, 3) end
    local ok, mod = pcall(require, "bounce.store.redis")
    if not ok then
      error("bounce.serve: store " .. redact(spec) .. ": bounce.store.redis is not available: "
        .. tostring(mod), 3)
    end
    return redis_factory(mod, r, opts)
  end
  error("bounce.serve: store: 'shdict[:DICT]', 'sqlite:PATH' or "
    .. "'redis://[[USER]:PASSWORD@]HOST:PORT[/PREFIX][?db=N]' expected, got '" .. redact(spec) .. "'", 3)
end

-- syntax: serve.init(opts)                                  context: init_by_lua*
-- opts: token (required), store ("shdict[:DICT]" (default shdict:bounce),
-- "sqlite:PATH", "redis://[[USER]:PASSWORD@]HOST:PORT[/PREFIX][?db=N]", or a function returning a
-- store, called once per worker), policy (a file, reloaded when it changes,
-- or a table), reload_interval (seconds, 1), health_dict (a shared dict for
-- health counters shared by the workers: the shdict store keeps its counts
-- there; the other stores share health themselves, and a store of your own
-- without the health interface is counted there), body_limit (bytes,
-- 1 MiB), verp (the local-part prefix of VERP
-- return paths, such as "bounces+": POST /bounces then tracks the address
-- the bounce's return path names), mailgun_key (verify Mailgun signatures),
-- sns_verify (verify SNS signatures, default true), sns_url_patterns (Lua
-- patterns for SigningCertURL and SubscribeURL; default https://sns.REGION.
-- amazonaws.com/ only), sns_confirm (fetch the SubscribeURL of a
-- subscription confirmation, default true), sns_topics (list of TopicArns
-- accepted; default any), fetch_timeout (ms, 5000), mandrill_key and
-- mandrill_url (verify X-Mandrill-Signature: the webhook's key and its URL
-- as configured in Mandrill), postal_key (verify X-Postal-Signature-256:
-- the Postal server's public key, PEM or base64 DER), resend_secret (verify
-- Resend's Svix signature: whsec_...; resend_tolerance, seconds, 300), rules
-- (a rules file, bounce.rules_file: applied now, reloaded in every worker
-- on edit like the policy, a broken edit keeps the old rules and is
-- logged). Mailjet and Brevo sign nothing: the token guards them. With a redis:// store:
-- redis_timeout (ms per Redis operation, 1000), redis_pool_size (idle
-- connections kept per worker, 64), redis_client (the client module:
-- default nginx.redis, else resty.redis), redis_password, redis_user,
-- redis_db (win over the URL's credentials and ?db=N), redis_databases (the
-- server's `databases`, 16: db is 0..15). Redis keys are PREFIX{address}
-- (PREFIX from the URL as written, default "bounce:"). USER and PASSWORD in
-- the URL are percent-decoded (%40 for '@', %3A ':', %2F '/', %3F '?');
-- with a password, every new connection sends AUTH [USER] PASSWORD, then
-- SELECT N when N is not 0; errors name host:port and the step, never the
-- password (nor does any message quote a URL's credentials).
function _M.init(opts)
  if type(opts) ~= "table" then error("bad argument #1 to 'init' (table expected, got " .. type(opts) .. ")", 2) end
  if type(opts.token) ~= "string" or #opts.token < 8 then
    error("bad argument #1 to 'init' (token: a string of 8 characters or more expected)", 2)
  end
  local c = {}
  for k, v in pairs(opts) do c[k] = v end
  c.body_limit = c.body_limit or 1048576
  c.sns_verify = c.sns_verify ~= false
  c.sns_confirm = c.sns_confirm ~= false
  c.fetch_timeout = c.fetch_timeout or 5000
  if c.verp ~= nil and bounce.verp.prefix_error(c.verp) then
    error("bad argument #1 to 'init' (verp: a local-part prefix such as 'bounces+' expected)", 2)
  end
  if c.mandrill_key ~= nil and (type(c.mandrill_key) ~= "string" or type(c.mandrill_url) ~= "string") then
    error("bad argument #1 to 'init' (mandrill_key needs mandrill_url: the webhook URL as configured in "
      .. "Mandrill, which it signs)", 2)
  end
  if c.postal_key ~= nil then
    if type(c.postal_key) ~= "string" or not webhooks.public_key(c.postal_key) then
      error("bad argument #1 to 'init' (postal_key: the Postal server's public key, PEM or base64 DER, expected)", 2)
    end
  end
  if c.resend_secret ~= nil and (type(c.resend_secret) ~= "string"
     or not webhooks.base64_decode((sgsub(c.resend_secret, "^whsec_", "")))) then
    error("bad argument #1 to 'init' (resend_secret: the endpoint's signing secret whsec_... expected)", 2)
  end
  c.make_store = store_factory(opts.store, c)
  if c.rules ~= nil then
    if type(c.rules) ~= "string" then error("bad argument #1 to 'init' (rules: a file name expected)", 2) end
    -- applied now, in the master, so that workers inherit them; a file that
    -- does not load stops nginx from starting
    local w, rerr = require("bounce.rules_file").watcher(c.rules, { interval = c.reload_interval })
    if not w then error("bounce.serve: rules: " .. tostring(rerr), 2) end
    c.rules_watch = w
  end
  if c.sns_topics then
    local set = {}
    for _, a in ipairs(c.sns_topics) do set[a] = true end
    c.topic_set = set
  end
  -- fail now, in the master, on a policy that does not load
  local t, err = tracker_mod.new{ policy = c.policy, health = false }
  if not t then error("bounce.serve: policy: " .. tostring(err), 2) end
  cfg = c
end

local start_policy_timer   -- defined below, with the policy watch
local health_of            -- defined below, with the shared health counters
local query                -- defined below, with the query parameters

-- syntax: serve.init_worker()                         context: init_worker_by_lua*
-- Opens this worker's store.
function _M.init_worker()
  if not cfg then error("bounce.serve: init() was not called in init_by_lua", 2) end
  local store, err = cfg.make_store()
  if not store then
    ngx.log(ngx.ERR, "bounce: cannot open the store: ", tostring(err))
    return
  end
  worker_store = store
  start_policy_timer()
  -- a store that shares health (SQLite, Redis, shdict) gets this worker's
  -- buffered counts within a second even when no event follows, and at exit
  local ok, terr = ngx.timer.every(1, function()
    if not T then return end
    local fok, ferr = T:flush()
    if not fok then ngx.log(ngx.WARN, "bounce: health counts not written yet: ", tostring(ferr)) end
  end)
  if not ok then ngx.log(ngx.ERR, "bounce: cannot start the health timer: ", tostring(terr)) end
end

-- The tracker is made on this worker's first request: loading a policy runs
-- it in a coroutine (bounded), which init_worker_by_lua* does not allow.
local function tracker()
  if T then return T end
  if not worker_store then return nil end
  local err
  -- a store that shares health (SQLite, Redis, shdict) keeps the counts of
  -- every worker and process: the tracker counts and reads there
  local shares = type(worker_store.health_add) == "function" and type(worker_store.health_read) == "function"
  T, err = tracker_mod.new{ policy = cfg.policy, store = worker_store, reload_interval = cfg.reload_interval,
                           health = cfg.health_dict == nil or shares }
  if not T then ngx.log(ngx.ERR, "bounce: ", tostring(err)) return nil end
  last_policy = T:current_policy()
  if cfg.health_dict and not shares then
    -- the counters the workers share answer t:check's scopes too
    T.health = function(_, scope) return health_of(scope) end
  end
  return T
end

------------------------------------------------------------------------------
-- Requests
------------------------------------------------------------------------------

local function authorized()
  local h = ngx.var.http_authorization
  if type(h) ~= "string" then return false end
  local given = smatch(h, "^[Bb]earer%s+(%S+)%s*$")
  if not given then
    local b64 = smatch(h, "^[Bb]asic%s+(%S+)%s*$")
    local userpass = b64 and ngx.decode_base64(b64)
    given = userpass and smatch(userpass, "^[^:]*:(.*)$")
  end
  return given ~= nil and webhooks.equal(given, cfg.token)
end

-- The request body, or nil after answering 413.
local function body()
  local len = tonumber(ngx.var.http_content_length)
  if len and len > cfg.body_limit then
    return nil, fail(413, "body over " .. cfg.body_limit .. " bytes")
  end
  ngx.req.read_body()
  local data = ngx.req.get_body_data()
  if not data then
    local file = ngx.req.get_body_file()
    if file then
      local f = open(file, "rb")
      if f then
        data = f:read(cfg.body_limit + 1)
        f:close()
      end
    end
  end
  data = data or ""
  if #data > cfg.body_limit then return nil, fail(413, "body over " .. cfg.body_limit .. " bytes") end
  return data
end

-- Logs policy reloads and broken edits, once per change, in this worker.
local function watch_policy()
  local err = T:policy_error()
  if err ~= last_policy_err then
    if err then
      ngx.log(ngx.ERR, "bounce: policy edit rejected, the previous policy stays in force: ", err)
    else
      ngx.log(ngx.NOTICE, "bounce: policy file is sound again")
    end
    last_policy_err = err
  end
  local p = T:current_policy()
  if p ~= last_policy then
    ngx.log(ngx.NOTICE, "bounce: policy reloaded")
    last_policy = p
  end
end

-- Follows edits of the rules file (cfg.rules: a watcher made in init, its
-- rules applied in the master and inherited): re-read at most every
-- reload_interval, in this worker; logs a reload and a broken edit once.
local last_rules_err
local function watch_rules()
  local w = cfg.rules_watch
  if not w then return end
  local changed, err = w:check()
  if changed then
    ngx.log(ngx.NOTICE, "bounce: rules reloaded from ", w.path, " (", w.count, " rules)")
  end
  if err ~= last_rules_err then
    if err then
      ngx.log(ngx.ERR, "bounce: rules edit rejected, the previous rules stay in force: ", err)
    elseif not changed then
      ngx.log(ngx.NOTICE, "bounce: rules file is sound again")
    end
    last_rules_err = err
  end
end

-- A worker that gets no request would keep an old policy or rules: it
-- looks at the files on a timer too, so every worker follows an edit within
-- reload_interval whether or not requests reach it.
start_policy_timer = function()
  local every = cfg.reload_interval or 1
  if (type(cfg.policy) ~= "string" and not cfg.rules_watch) or every <= 0 then return end
  local ok, err = ngx.timer.every(every, function(premature)
    if premature then return end
    watch_rules()
    if type(cfg.policy) == "string" and tracker() then
      T:current_policy()
      watch_policy()
    end
  end)
  if not ok then ngx.log(ngx.ERR, "bounce: cannot start the policy timer: ", tostring(err)) end
end

-- Health counters shared by the workers (health_dict): one counter per kind,
-- scope and bucket of 1/24 of the policy's health window.
local HEALTH_KIND = { sent = "sent", delivered = "delivered", auto_reply = "delivered", hard = "hard",
                      soft = "soft", block = "block", complaint = "complaint", delayed = "delayed" }
local KINDS = { "sent", "delivered", "hard", "soft", "block", "complaint", "delayed" }

local function window()
  local p = T:current_policy()
  local w = p.health and p.health.window or 86400
  local b = floor(w / 24)
  return w, b < 60 and 60 or b
end

local function count_health(ev, domain)
  if T.hshare then return end   -- the tracker counted it in the store
  local dict = cfg.health_dict and ngx.shared[cfg.health_dict]
  local kind = HEALTH_KIND[ev.type]
  if not dict or not kind then return end
  local w, size = window()
  local b = floor((ev.at or ngx.time()) / size)
  local function inc(scope)
    local _, err = dict:incr(kind .. "|" .. scope .. "|" .. b, 1, 0, w + size)
    if err then ngx.log(ngx.WARN, "bounce: health counter for ", scope, ": ", err) end
  end
  inc("domain:" .. domain)
  if type(ev.campaign) == "string" then inc("campaign:" .. ev.campaign) end
  if type(ev.sender) == "string" then inc("sender:" .. ev.sender) end
end

health_of = function(scope)
  local dict = cfg.health_dict and ngx.shared[cfg.health_dict]
  if not dict or T.hshare then return T:health(scope) end
  local w, size = window()
  local now = floor(ngx.time() / size)
  local h = { scope = scope, window = w }
  for _, k in ipairs(KINDS) do
    local n = 0
    for b = now - 23, now do n = n + (dict:get(k .. "|" .. scope .. "|" .. b) or 0) end
    h[k] = n
  end
  local outcomes = h.delivered + h.hard + h.soft + h.block
  h.messages = h.sent > outcomes and h.sent or outcomes
  h.hard_rate = h.messages > 0 and h.hard / h.messages or 0
  h.complaint_rate = h.messages > 0 and h.complaint / h.messages or 0
  h.level, h.judged = T:current_policy():level(h.messages, h.hard, h.complaint)
  return h
end

local function is_store_error(err)
  return type(err) == "string" and ssub(err, 1, 6) == "store:"
end

-- Records events; answers 503 on the first store failure. Returns stored
-- count and the list of rejected events (invalid address, corrupt record).
-- rejected[].index is the event's place in the payload (ev.index), the
-- numbering skipped[] uses. The policy's on_event calls of one request share
-- one budget (policy.hook_budget): once spent, the rest of the events keep
-- the tracker's decisions, each decision says so in hook_error, and the
-- error log once per request.
local function record_all(events)
  local stored, rejected, decisions = 0, list(), list()
  local budget = policy_mod.hook_budget()
  for i, ev in ipairs(events) do
    local tev = webhooks.tracker_event(ev)
    local ok, d, err = pcall(T.record, T, tev, nil, budget)
    if not ok then d, err = nil, sgsub(tostring(d), "^.-:%d+: ", "") end
    if d then
      stored = stored + 1
      local _, domain = tracker_mod.normalize(tev.rcpt, false)
      count_health(tev, domain or "")
      decisions[#decisions + 1] = { rcpt = d.rcpt, action = d.action, state = d.state, reason = d.reason,
                                    type = ev.type, source = ev.source, permanent = d.permanent,
                                    hook_error = d.hook_error, corrupt = d.corrupt, why = d.why }
      if d.corrupt then ngx.log(ngx.ERR, "bounce: ", d.why) end
    elseif is_store_error(err) then
      ngx.log(ngx.ERR, "bounce: ", err)
      return nil, fail(503, err)
    else
      if sfind(err or "", "^corrupt record") then ngx.log(ngx.ERR, "bounce: ", err) end
      rejected[#rejected + 1] = { index = ev.index or i, rcpt = ev.rcpt, error = err }
    end
  end
  if budget.spent then
    ngx.log(ngx.WARN, "bounce: the policy's on_event budget for this request is spent: ", budget.skipped,
      " of ", #events, " events keep the tracker's own decision")
  end
  -- the request's health counts, for the other workers and processes on
  -- the store (one write per request; a failure keeps them for the next)
  local fok, ferr = T:flush()
  if not fok then ngx.log(ngx.WARN, "bounce: health counts not written yet: ", tostring(ferr)) end
  return stored, rejected, decisions
end

-- A small HTTP GET over a cosocket (SNS certificates and subscription URLs;
-- the URL has passed the allowed patterns). Body capped at 64 KiB.
local cert_cache = {}
local function http_get(url)
  local scheme, host, port, path = smatch(url, "^(https?)://([%w%.%-]+):?(%d*)(/?[^#]*)")
  if not scheme then return nil, "unsupported URL" end
  port = tonumber(port) or (scheme == "https" and 443 or 80)
  local sock = ngx.socket.tcp()
  sock:settimeout(cfg.fetch_timeout)
  local ok, err = sock:connect(host, port)
  if not ok then return nil, "connect " .. host .. ": " .. tostring(err) end
  if scheme == "https" then
    ok, err = sock:sslhandshake(nil, host, true)
    if not ok then sock:close() return nil, "TLS " .. host .. ": " .. tostring(err) end
  end
  sock:send("GET " .. (path ~= "" and path or "/") .. " HTTP/1.0\r\nHost: " .. host
    .. "\r\nUser-Agent: bounce/" .. _M._VERSION .. "\r\nConnection: close\r\n\r\n")
  local line
  line, err = sock:receive("*l")
  local status = line and tonumber(smatch(line, "^HTTP/%d%.%d (%d%d%d)"))
  if not status then sock:close() return nil, "bad response: " .. tostring(line or err) end
  repeat line = sock:receive("*l") until not line or line == ""
  local chunks, n = {}, 0
  while n < 65536 do
    local data, rerr, partial = sock:receive(4096)
    data = data or partial
    if data and #data > 0 then chunks[#chunks + 1] = data n = n + #data end
    if rerr then break end
  end
  sock:close()
  if status ~= 200 then return nil, "HTTP " .. status end
  return concat(chunks)
end

local function fetch_cert(url)
  local pem = cert_cache[url]
  if pem then return pem end
  local err
  pem, err = http_get(url)
  if pem then cert_cache[url] = pem end
  return pem, err
end

-- Checks the signature over the raw body of a provider that signs it
-- (Mandrill, Postal, Resend), when its key is configured, before the body
-- is read further; true, or nil after answering 401. (Mailgun and SNS sign
-- fields inside the payload: checked once it is parsed.)
local function signed(provider, data)
  local ok, verr = true, nil
  if provider == "mandrill" and cfg.mandrill_key then
    ok, verr = webhooks.verify_mandrill(webhooks.form_decode(data), cfg.mandrill_key, cfg.mandrill_url,
                                        ngx.var.http_x_mandrill_signature)
  elseif provider == "postal" and cfg.postal_key then
    ok, verr = webhooks.verify_postal(data, cfg.postal_key, {
      ["x-postal-signature-256"] = ngx.var.http_x_postal_signature_256,
      ["x-postal-signature"] = ngx.var.http_x_postal_signature })
  elseif provider == "resend" and cfg.resend_secret then
    ok, verr = webhooks.verify_svix(data, cfg.resend_secret, {
      ["svix-id"] = ngx.var.http_svix_id, ["svix-timestamp"] = ngx.var.http_svix_timestamp,
      ["svix-signature"] = ngx.var.http_svix_signature }, { tolerance = cfg.resend_tolerance })
  end
  if not ok then
    fail(401, verr)
    return nil
  end
  return true
end

local function webhook(provider)
  local data = body()
  if not data then return end
  if not signed(provider, data) then return end
  local r, err = webhooks.parse(provider, data, { url_patterns = cfg.sns_url_patterns })
  if not r then return fail(400, err) end
  if provider == "mailgun" and cfg.mailgun_key then
    local ok, verr = webhooks.verify_mailgun(r.payload, cfg.mailgun_key, { max_age = cfg.mailgun_max_age })
    if not ok then return fail(401, verr) end
  elseif provider == "ses" and r.sns then
    if cfg.topic_set and not cfg.topic_set[r.sns.TopicArn] then
      return fail(403, "ses: TopicArn not accepted: " .. tostring(r.sns.TopicArn))
    end
    if cfg.sns_verify then
      local ok, verr = webhooks.verify_sns(r.sns, { fetch_cert = fetch_cert, url_patterns = cfg.sns_url_patterns })
      if not ok then
        -- an unreachable certificate is our trouble, not a forgery: SNS retries on 5xx
        if sfind(verr, "cannot fetch the certificate", 1, true) then
          ngx.log(ngx.ERR, "bounce: ", verr)
          return fail(503, verr)
        end
        return fail(401, verr)
      end
    end
  end
  if r.subscribe_url then
    if not cfg.sns_confirm then
      ngx.log(ngx.NOTICE, "bounce: SNS subscription to confirm by hand: ", r.subscribe_url)
      return reply(200, { subscription = "pending", subscribe_url = r.subscribe_url })
    end
    local _, ferr = http_get(r.subscribe_url)
    if ferr then
      ngx.log(ngx.ERR, "bounce: SNS subscription confirmation failed: ", ferr)
      return fail(503, "cannot confirm the subscription: " .. ferr)
    end
    ngx.log(ngx.NOTICE, "bounce: SNS subscription confirmed: ", r.sns and r.sns.TopicArn or "")
    return reply(200, { subscription = "confirmed" })
  end
  local stored, rejected, decisions = record_all(r.events)
  if not stored then return end
  return reply(200, { stored = stored, skipped = list(r.skipped), rejected = rejected, decisions = decisions })
end

local function post_bounces()
  local data = body()
  if not data then return end
  local results, err = bounce.parse(data, cfg.verp and { verp = cfg.verp } or nil)
  if not results then return fail(400, err) end
  local events, skipped = {}, {}
  for i, x in ipairs(results) do
    if x.verp_rcpt then x.rcpt = x.verp_rcpt end   -- the address it was sent to
    if x.rcpt and (x.action == "delayed" or x.delayed) then
      -- a delay notice: the MTA is still retrying, nothing has failed yet;
      -- recorded as such (health counts it, the address does not change)
      events[#events + 1] = { rcpt = x.rcpt, type = "delayed", reason = x.reason, at = x.at,
                              source = "reply", index = i }
    elseif x.rcpt and tracker_mod.events[x.type] then
      events[#events + 1] = { rcpt = x.rcpt, type = x.type, reason = x.reason,
                              permanent = x.permanent, at = x.at, source = "reply", index = i }
    else
      skipped[#skipped + 1] = { index = i, rcpt = x.rcpt,
        why = x.rcpt and "not a tracked outcome: " .. tostring(x.type) or "no recipient" }
    end
  end
  local stored, rejected, decisions = record_all(events)
  if not stored then return end
  return reply(200, { stored = stored, format = results[1] and results[1].format, rejected = rejected,
                      skipped = list(skipped), decisions = decisions })
end

local function valid_rcpt(rcpt, what)
  if type(rcpt) ~= "string" or rcpt == "" then return nil, what .. " expected" end
  if #rcpt > 512 then return nil, what .. ": too long" end
  local key, err = tracker_mod.normalize(rcpt, false)
  if not key then return nil, what .. ": " .. tostring(err) end
  return rcpt
end

-- GET /check?rcpt=A[&sender=S][&campaign=C]: the address, then the health
-- of the sender and campaign named (t:check's scopes).
local function check()
  local args, qerr = query({ "rcpt", "sender", "campaign" })
  if not args then return fail(400, qerr) end
  local rcpt, err = valid_rcpt(args.rcpt, "query parameter 'rcpt'")
  if not rcpt then return fail(400, err) end
  for _, k in ipairs({ "sender", "campaign" }) do
    if args[k] and #args[k] > 320 then return fail(400, "query parameter '" .. k .. "': too long") end
  end
  local allowed, why, level
  if args.sender or args.campaign then
    allowed, why, level = T:check(rcpt, { sender = args.sender, campaign = args.campaign })
  else
    allowed, why = T:check(rcpt)
  end
  if allowed == nil then
    if is_store_error(why) then return fail(503, why) end
    return fail(400, why)
  end
  -- level: "stop" or "throttle" when a sender or campaign is at that health level
  return reply(200, { rcpt = (tracker_mod.normalize(rcpt, false)), allowed = allowed, why = why,
                      level = level })
end

local CAUSES = { hard = true, soft_exhausted = true, complaint = true, unsubscribe = true, manual = true }
local REASON_NAMES = {}
for _, r in ipairs(bounce.reasons) do REASON_NAMES[r.name] = true end

-- The query parameters named in `names` as strings (nil when absent), or
-- nil and the reason for a 400: given twice, or given without a value
-- (`?after`, which ngx.req.get_uri_args reads as true).
query = function(names)
  local args, out = ngx.req.get_uri_args(), {}
  for _, k in ipairs(names) do
    local v = args[k]
    if type(v) == "table" then return nil, "query parameter '" .. k .. "' given twice" end
    if v == true or v == "" then return nil, "query parameter '" .. k .. "' needs a value" end
    out[k] = v
  end
  return out
end

-- A dead domain as GET /suppressions?kind=domain lists it, and its CSV columns.
local DOMAIN_FIELDS = { "domain", "reason", "since", "expires_at", "why" }
local function dead_item(domain, r)
  return { domain = domain, reason = r.reason, since = r.since, expires_at = r.expires_at,
           why = r.why }
end
local function dead_csv(item)
  return csv.row({ item.domain, item.reason, output.iso(item.since), output.iso(item.expires_at),
                   item.why }, #DOMAIN_FIELDS)
end

local function suppressions()
  local args, qerr = query({ "cause", "reason", "after", "format", "limit", "kind" })
  if not args then return fail(400, qerr) end
  local kind = args.kind or "address"
  if kind ~= "address" and kind ~= "domain" then
    return fail(400, "query parameter 'kind': address or domain expected")
  end
  local domains = kind == "domain"
  if domains and args.cause then
    return fail(400, "query parameter 'cause': not with kind=domain (a dead domain's cause is hard)")
  end
  local cause, reason, after, fmt = args.cause, args.reason, args.after, args.format or "json"
  local limit = tonumber(args.limit or 100)
  if not limit or limit < 1 or limit > 10000 or limit % 1 ~= 0 then
    return fail(400, "query parameter 'limit': an integer 1..10000 expected")
  end
  if fmt ~= "json" and fmt ~= "csv" then return fail(400, "query parameter 'format': json or csv expected") end
  if cause and not CAUSES[cause] then
    return fail(400, "query parameter 'cause': hard, soft_exhausted, complaint, unsubscribe or manual expected")
  end
  if reason and not REASON_NAMES[reason] then
    return fail(400, "query parameter 'reason': a reason name expected (bounce reasons lists them)")
  end
  -- The page is the `limit` smallest addresses after `after`. Stores list
  -- in no order, so the candidates are kept in a buffer of 2 x limit that is
  -- sorted and cut back to limit when full: a page costs a pass over the
  -- list and memory for its own rows, not a sort of the whole list.
  local rows, total, cutoff, bad = {}, 0, nil, list()
  local id = domains and "domain" or "rcpt"
  local by_rcpt = function(x, y) return x[id] < y[id] end
  local item = domains and dead_item or output.suppression
  local ok, err = pcall(function()
    local at = ngx.time()
    -- records that do not decode are in no list: named apart, in every page
    for key, why in T:corrupt() do
      if #bad < limit then bad[#bad + 1] = { key = key, why = why } end
    end
    for rcpt, r in (domains and T:dead_domains(at) or T:suppressions(at)) do
      if (not cause or r.cause == cause) and (not reason or r.reason == reason)
         and (not after or rcpt > after) then
        total = total + 1
        if not cutoff or rcpt < cutoff then
          local n = #rows + 1
          rows[n] = item(rcpt, r)
          if n >= 2 * limit then
            sort(rows, by_rcpt)
            for i = n, limit + 1, -1 do rows[i] = nil end
            cutoff = rows[limit][id]   -- limit rows below it already
          end
        end
      end
    end
  end)
  if not ok then return fail(503, "store: " .. sgsub(tostring(err), "^.-:%d+: ", "")) end
  sort(rows, by_rcpt)
  local page = list()
  for i = 1, limit < #rows and limit or #rows do page[i] = rows[i] end
  local nxt = total > limit and page[#page][id] or nil
  if nxt then ngx.header["X-Next-After"] = nxt end
  if #bad > 0 then ngx.header["X-Corrupt-Records"] = #bad end
  if fmt == "csv" then
    local out = { domains and csv.row(DOMAIN_FIELDS, #DOMAIN_FIELDS) or output.csv_header() }
    for _, r in ipairs(page) do out[#out + 1] = domains and dead_csv(r) or output.csv_row(r) end
    return reply(200, concat(out, "\r\n"), "text/csv; charset=utf-8")
  end
  return reply(200, { items = page, count = #page, total = total, next = nxt,
                      corrupt = #bad > 0 and bad or nil })
end

local function release(addr)
  if type(addr) == "string" and #addr <= 512 and not sfind(addr, "@", 2, true)
     and sfind(addr, ".", 1, true) then
    -- a domain (example.com or @example.com): lifts its dead-domain mark
    local d, derr = T:release(addr)
    if not d then return fail(is_store_error(derr) and 503 or 400, derr) end
    if not d.lifted then return fail(404, d.domain .. " is not a dead domain") end
    return reply(200, { domain = d.domain, released = true, state = d.state })
  end
  local rcpt, err = valid_rcpt(addr, "address")
  if not rcpt then return fail(400, err) end
  local r, gerr = T:get(rcpt)
  -- a corrupt record, or corrupt bytes set aside for the address: the
  -- release resets it (and deletes them)
  local corrupt = not r and sfind(tostring(gerr), "^corrupt record for ")
  if not r and not corrupt then
    if is_store_error(gerr) then return fail(503, gerr) end
    if gerr then return fail(400, gerr) end
    return fail(404, "no record for " .. rcpt)
  end
  if not corrupt and r.state ~= "suppressed" then
    local aside, aerr = T.store:get(tracker_mod.CORRUPT_PREFIX .. r.rcpt)
    if aside == nil and aerr ~= nil then return fail(503, "store: " .. tostring(aerr)) end
    if aside == nil then return fail(404, rcpt .. " is not suppressed") end
  end
  local d, rerr = T:release(rcpt)
  if not d then return fail(is_store_error(rerr) and 503 or 400, rerr) end
  return reply(200, { rcpt = d.rcpt, released = true, state = d.state, corrupt = d.corrupt,
                      why = d.why })
end

local function health()
  local scope = ngx.req.get_uri_args().scope
  if type(scope) ~= "string" or #scope > 320 then return fail(400, "query parameter 'scope' expected") end
  local kind, name = smatch(scope, "^(%a+):([^%s%c]+)$")
  if not (kind == "domain" or kind == "campaign" or kind == "sender") then
    return fail(400, "query parameter 'scope': domain:NAME, campaign:NAME or sender:NAME expected")
  end
  if kind == "domain" then scope = "domain:" .. slower(name) end
  local h, err = health_of(scope)
  if not h then return fail(is_store_error(err) and 503 or 500, err) end
  return reply(200, h)
end

local PROVIDER = {}
for _, p in ipairs(webhooks.providers) do PROVIDER[p] = true end

local function route(method, uri)
  local provider = smatch(uri, "^/webhooks/([%a]+)$")
  if provider then
    if not PROVIDER[provider] then return fail(404, "no webhook for provider '" .. provider .. "'") end
    if method ~= "POST" then return fail(405, "POST expected") end
    return webhook(provider)
  end
  if uri == "/events" then
    if method ~= "POST" then return fail(405, "POST expected") end
    return webhook("events")
  elseif uri == "/bounces" then
    if method ~= "POST" then return fail(405, "POST expected") end
    return post_bounces()
  elseif uri == "/check" then
    if method ~= "GET" then return fail(405, "GET expected") end
    return check()
  elseif uri == "/suppressions" then
    if method ~= "GET" then return fail(405, "GET expected") end
    return suppressions()
  elseif ssub(uri, 1, 14) == "/suppressions/" then
    if method ~= "DELETE" then return fail(405, "DELETE expected") end
    return release(ssub(uri, 15))
  elseif uri == "/health" then
    if method ~= "GET" then return fail(405, "GET expected") end
    return health()
  elseif uri == "/verify" then
    if method ~= "GET" then return fail(405, "GET expected") end
    return reply(require("bounce.verify").http(ngx.req.get_uri_args(), cfg.verify, T))
  end
  return fail(404, "no such endpoint: " .. ssub(uri, 1, 100))
end

-- syntax: serve.handle()                                  context: content_by_lua*
-- Answers one request (routes on ngx.var.uri and the method).
function _M.handle()
  if cfg and ngx.req.get_method() == "HEAD" and ngx.var.uri == "/webhooks/mandrill" then
    -- Mandrill checks a webhook URL with a HEAD it does not sign; it learns
    -- nothing but that the URL answers
    ngx.status = 200
    return
  end
  if not cfg or not tracker() then return fail(503, "bounce is not initialised (see the error log)") end
  if not authorized() then
    ngx.header["WWW-Authenticate"] = 'Basic realm="bounce"'
    return fail(401, "a valid token is required (Authorization: Bearer TOKEN, or basic auth)")
  end
  watch_policy()
  watch_rules()
  local ok, err = pcall(route, ngx.req.get_method(), ngx.var.uri)
  if not ok then
    ngx.log(ngx.ERR, "bounce: ", tostring(err))
    return fail(500, "internal error (see the error log)")
  end
end

-- For tests and `bounce serve`: the options init() received.
function _M.config() return cfg end

return _M
