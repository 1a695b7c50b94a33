-- bounce.tracker: remembers what happened to each address and says what to
-- do next, under a policy (bounce.policy) and on a store (bounce.store).
--
--   local t = bounce.tracker{ policy = "policies/default.lua", store = ... }
--   local d = t:record{ rcpt = "a@example.com", reply = "550 5.1.1 ...", at = 1763600000 }
--   -- d.action: "send" | "retry" (d.retry_at) | "suppress" (d.expires_at, nil = forever)
--   --           | "hold" (a block: back off the sender/domain until d.retry_at)
--   local ok, why = t:check("a@example.com")   -- false: suppressed, or a dead domain
--
-- The state machine is bounce.core.step (src/history.c): one C call per event,
-- the policy resolved to plain numbers (cached per domain and reason). Each
-- event reads the record, applies the transition and writes it back with a
-- compare-and-set, retrying on conflict (see bounce.store for the interface);
-- the memory store does all three in one C call (store:apply). On the memory
-- store, t:record of a well-formed event is one C call in all (the fast path,
-- core.recorder: checks, address, reply classification, params, transition,
-- health counts).
-- Health counters (per domain, campaign and sender) live in this Lua state,
-- in buckets of 1/24 of the policy's health window; the fast path buffers
-- its counts in C and hands them over, in order, before they are read. On a
-- store with the health interface (bounce.store) they are also buffered for
-- the store and written to it, and t:health reads them from there: every
-- process on the store sees every process's counts.
--
-- Errors: caller mistakes raise (`bad argument #1 to 'record' (...)`); bad
-- data (an invalid address, a corrupt record, a failing store) returns
-- nil, message.

local core = require("bounce.core")
local policy_mod = require("bounce.policy")
local store_mod = require("bounce.store")

local type, error, pairs, ipairs, next, tostring, pcall, setmetatable, rawget =
  type, error, pairs, ipairs, next, tostring, pcall, setmetatable, rawget
local floor = math.floor
local random = math.random
local smatch, slower, sformat, sbyte, ssub =
  string.match, string.lower, string.format, string.byte, string.sub
local os_date, os_time = os.date, os.time
local sort = table.sort

local step, decode, expiry = core.step, core.decode_record, core.record_expiry
local ngx = rawget(_G, "ngx")

local _M = { _VERSION = core._VERSION }

-- Event types: the state machine's codes, plus the classifier's types.
local EVENT = {}
for i, name in ipairs(core.history_info().events) do EVENT[name] = i - 1 end
local EV_SOFT, EV_BLOCK, EV_RELEASE, EV_SUPPRESS = EVENT.soft, EVENT.block, EVENT.release,
  EVENT.suppress
local EV_HARD = EVENT.hard
-- A delay notice (a DSN with Action: delayed, RFC 3464 2.3.3) is stepped as
-- a check: it looks (lazy expiry included) and never writes, so it changes
-- no count or state; only health counts it.
EVENT.delayed = EVENT.check
EVENT.none, EVENT.check, EVENT.suppress = nil, nil, nil  -- not for record()
EVENT.auto_reply = EVENT.delivered   -- an auto-reply proves the mailbox took the message

local REASON = {}
for i, r in ipairs(core.reasons()) do REASON[r.name] = i - 1 end

-- Health counters: which event counts where.
local HEALTH_KINDS = { "sent", "delivered", "hard", "soft", "block", "complaint", "delayed" }
local HEALTH_INDEX = { sent = 1, delivered = 2, hard = 3, soft = 4, block = 5, complaint = 6,
                       delayed = 7 }
HEALTH_INDEX.auto_reply = 2
local BUCKETS = 24
local SCOPES = { domain = true, campaign = true, sender = true }
local HEALTH_BY_CODE = {}   -- the same by event code, for the fast path
for name, i in pairs(HEALTH_INDEX) do HEALTH_BY_CODE[EVENT[name]] = i end

local MAX_CAS_TRIES = 16
local DCACHE_MAX = 10000  -- domains whose compiled params are kept

local T = {}
T.__index = T

-- Raises at the caller of the public function (level: 3 when called from
-- it directly, 4 from a helper it called).
local function argerr(n, fname, msg, level)
  error("bad argument #" .. n .. " to '" .. fname .. "' (" .. msg .. ")", level or 3)
end

------------------------------------------------------------------------------
-- Addresses
------------------------------------------------------------------------------

-- syntax: key, domain = tracker.normalize(rcpt [, case_sensitive])
-- Trims white space and one pair of <>, lower-cases the domain (and the
-- local part unless case_sensitive) and writes an IDN domain in A-labels,
-- so "bücher.de" and "xn--bcher-kva.de" are one key. nil, err for what is
-- not an address. (src/address.c: one C call, the hot path of every event.)
local normalize = core.normalize_address
_M.normalize = normalize

-- A store written before keys named domains by A-labels holds an IDN
-- domain's addresses under its Unicode form (lower-cased). legacy_key: that
-- older key, or nil when the domain has no A-label (no extra read then).
local sfind = string.find
local function legacy_key(key, domain)
  if not sfind(domain, "xn--", 1, true) then return nil end
  local u = core.idn_to_unicode(domain)
  if not u or u == domain then return nil end
  return ssub(key, 1, #key - #domain) .. u
end

------------------------------------------------------------------------------
-- Construction and policy
------------------------------------------------------------------------------

local function default_clock()
  if ngx then return ngx.now() end
  return os_time()
end

-- The policy's backoff as a list of seconds (the exponential form expanded
-- until it reaches its cap), and its jitter.
local function steps(r, prefix)
  local list = r[prefix]
  if list then return list, 0 end
  local out, last = {}, nil
  for i = 1, core.history_info().backoff_max do
    local d = policy_mod.delay(r, ssub(prefix, 1, 4) == "soft" and "soft" or "block", i)
    out[i] = d
    if d == last or d >= r[prefix .. "_max"] then break end
    last = d
  end
  return out, r[prefix .. "_jitter"] or 0
end

local function compile_params(r)
  local soft, soft_jitter = steps(r, "soft_backoff")
  local block, block_jitter = steps(r, "block_backoff")
  return core.params{
    max_attempts = r.soft_max_attempts,
    permanent_max_attempts = r.soft_permanent_max_attempts,
    window = r.soft_window == policy_mod.FOREVER and 0 or r.soft_window,
    reset_after = r.soft_reset_after,
    hard_transient = r.hard_transient == "suppress" and 1 or 0,
    soft_backoff = soft, soft_jitter = soft_jitter,
    block_backoff = block, block_jitter = block_jitter,
    retention_hard = r.retention_hard, retention_soft = r.retention_soft,
    retention_complaint = r.retention_complaint,
    retention_unsubscribe = r.retention_unsubscribe,
    retention_manual = r.retention_manual,
  }, soft_jitter > 0 or block_jitter > 0
end

-- syntax: params = tracker.default_params()
-- The default policy (policies/default.lua) as the state machine's numbers:
-- what core.params takes for the keys a caller leaves out.
function _M.default_params()
  return (compile_params(policy_mod.default():resolve()))
end

-- Gives the fast path (see T:record) what it reads of the policy.
local function fast_ctx(self)
  self.hflush("ctx", self.fast, self.dcache, self.case_sensitive, self.keep_health and self.bucket)
end

local function set_policy(self, p)
  if p == self.policy then return end
  local old = self.policy
  self.policy = p
  self.pcache = setmetatable({}, { __mode = "k" })  -- resolved table -> params
  self.jitter = setmetatable({}, { __mode = "k" })  -- params -> true when jittered
  self.retry_transient = setmetatable({}, { __mode = "k" })  -- params -> true: 4xx hard is soft
  self.dparams = setmetatable({}, { __mode = "k" })   -- resolved table -> dead-domain params
  self.dcache, self.ndomains = {}, 0                 -- domain -> reason -> params
  self.case_sensitive = p.addresses and p.addresses.case_sensitive or false
  self.on_event = p.on_event or false   -- false, not nil: no __index lookup per event
  local w = p.health and p.health.window or 86400
  if not old or not old.health or old.health.window ~= w then
    self.bucket = w / BUCKETS < 60 and 60 or floor(w / BUCKETS)
    self.last_b, self.last_lo, self.last_hi = 0, 0, 0
    self.counters = { domain = {}, campaign = {}, sender = {} }
    if self.hflush then self.hflush("discard") end   -- counts for the old counters
  end
  if self.fast then fast_ctx(self) end
end

-- Counts event kind i for one scope name in bucket b: { [b] = {7 counts} },
-- buckets older than the window dropped as new ones open.
local function count(scope, name, b, i, n)
  local ring = scope[name]
  if not ring then
    ring = {}
    scope[name] = ring
  end
  local c = ring[b]
  if not c then
    for old in pairs(ring) do
      if old <= b - BUCKETS then ring[old] = nil end
    end
    c = { 0, 0, 0, 0, 0, 0, 0 }
    ring[b] = c
  end
  c[i] = c[i] + n
end

-- Counts n events of kind i in bucket b for an event's scopes: its domain,
-- and its campaign and sender when given (names as strings). The current
-- bucket's counts are updated in place; count() opens buckets.
local function count_scopes(counters, domain, c, s, b, i, n)
  local scope = counters.domain
  local ring = scope[domain]
  local cnt = ring and ring[b]
  if cnt then cnt[i] = cnt[i] + n else count(scope, domain, b, i, n) end
  if c ~= nil then
    if type(c) ~= "string" then c = tostring(c) end
    scope = counters.campaign
    ring = scope[c]
    cnt = ring and ring[b]
    if cnt then cnt[i] = cnt[i] + n else count(scope, c, b, i, n) end
  end
  if s ~= nil then count(counters.sender, type(s) == "string" and s or tostring(s), b, i, n) end
end

-- Health shared through the store (a store with health_add and
-- health_read, see bounce.store): t:record buffers its counts in
-- self.hbuf, shaped as self.counters (count_scopes fills both), and
-- flush_health writes them as { [scope] = { [bucket] = counts } }; t:health
-- reads the store's counts, cached briefly.
local function empty_buffer() return { domain = {}, campaign = {}, sender = {} } end

-- Writes the buffer; kept (and the error returned) when the store fails.
local function flush_health(self)
  if self.hn == 0 then return true end
  local out = {}
  for kind, names in pairs(self.hbuf) do
    for name, ring in pairs(names) do out[kind .. ":" .. name] = ring end
  end
  local ok, err = self.hshare:health_add(out, self.bucket)
  if not ok then return nil, "store: " .. tostring(err) end
  self.hbuf, self.hn, self.hcache, self.ncache = empty_buffer(), 0, {}, 0
  return true
end

-- Buffers n events of kind i in bucket b for an event's scopes; writes the
-- buffer first when b is a new bucket, and after it when it holds
-- flush_events events or is flush_interval seconds old (the clock is asked
-- every 16 events). A failed write keeps the buffer for the next flush
-- (t:flush reports it).
local function share_scopes(self, domain, c, s, b, i, n)
  local hn = self.hn
  if hn > 0 and b ~= self.hb then
    flush_health(self)
    hn = self.hn
  end
  count_scopes(self.hbuf, domain, c, s, b, i, n)
  if hn == 0 then self.hsince = self.clock() end
  hn = hn + 1
  self.hb, self.hn = b, hn
  if hn >= self.flush_events or (hn % 16 == 0 and self.clock() - self.hsince >= self.flush_interval) then
    flush_health(self)
  end
end

-- The store's counts of a scope for the window of buckets ending at b,
-- summed into h; cached for health_cache seconds. nil, err on a failure.
local function read_shared(self, h, scope, b)
  local key = scope .. "|" .. b
  local now = self.clock()
  local e = self.hcache[key]
  if not e or now - e.at >= self.health_cache then
    local rows, err = self.hshare:health_read(scope, b - BUCKETS + 1, b)
    if not rows then return nil, "store: " .. tostring(err) end
    if self.ncache >= 10000 then self.hcache, self.ncache = {}, 0 end
    e = { at = now, rows = rows }
    if not self.hcache[key] then self.ncache = self.ncache + 1 end
    self.hcache[key] = e
  end
  for bk, c in pairs(e.rows) do
    if bk > b - BUCKETS and bk <= b then
      for j, k in ipairs(HEALTH_KINDS) do h[k] = h[k] + (c[j] or 0) end
    end
  end
  return h
end

-- syntax: t, err = tracker.new{ policy = path | table | policy object, store = s,
--   clock = fn, random = fn, reload_interval = seconds, health = true,
--   fast_path = true }
-- policy defaults to bounce.policy.default(); a path is watched for changes
-- (every reload_interval seconds, default 1, as events arrive). store
-- defaults to bounce.store.memory(). clock (unix seconds) is used when an
-- event has no `at`; random (in [0,1)) spreads backoff jitter. health =
-- false keeps no health counters. fast_path = false turns off the memory
-- store's one-call t:record (same results, slower: to rule it out when
-- something looks wrong, and for the spec that compares the two).
-- A store with the health interface (bounce.store: SQLite, Redis, shdict)
-- shares health: events' counts are buffered and written to it (see
-- t:flush; flush_events, default 10000, and flush_interval, seconds, default
-- 1, bound the buffer), and t:health and t:check's scopes read the store's
-- counts, so those of other processes count too (kept health_cache seconds,
-- default 1).
function _M.new(opts)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then argerr(1, "tracker", "table expected, got " .. type(opts)) end
  local self = setmetatable({
    clock = opts.clock or default_clock,
    random = opts.random or random,
    keep_health = opts.health ~= false,
    hook_errors = 0,
    reloader = false,   -- set by a policy path (false, not nil: no __index lookup per event)
    fast = false,
    hflush = false,
    live = false,   -- domain -> until when a delivery there need not read its mark
    nlive = 0,
    hshare = false,   -- the store, when health is shared through it
  }, T)
  if type(self.clock) ~= "function" then argerr(1, "tracker", "field 'clock': function expected") end
  if type(self.random) ~= "function" then argerr(1, "tracker", "field 'random': function expected") end
  local p, err = opts.policy, nil
  if p == nil then
    p = policy_mod.default()
  elseif type(p) == "string" then
    local r
    r, err = policy_mod.reloader(p, { interval = opts.reload_interval, clock = self.clock })
    if not r then return nil, err end
    self.reloader = r
    p, err = r:get()
  elseif type(p) == "table" then
    p, err = policy_mod.load(p)
  else
    argerr(1, "tracker", "field 'policy': path, table or policy expected, got " .. type(p))
  end
  if not p then return nil, err end
  set_policy(self, p)
  local s = opts.store
  if s == nil then s = store_mod.memory() end
  local ok, serr = store_mod.check(s)
  if not ok then argerr(1, "tracker", "field 'store': " .. serr) end
  self.store = s
  self.apply = type(s.apply) == "function" and s.apply or nil
  if self.keep_health and type(s.health_add) == "function" and type(s.health_read) == "function" then
    self.hshare = s
    self.hbuf, self.hn, self.hb, self.hsince, self.hcache, self.ncache = empty_buffer(), 0, 0, 0, {}, 0
    for k, default in pairs({ flush_events = 10000, flush_interval = 1, health_cache = 1 }) do
      local v = opts[k]
      if v == nil then v = default end
      if type(v) ~= "number" or v < 0 or v ~= v then
        argerr(1, "tracker", "field '" .. k .. "': number >= 0 expected, got " .. tostring(v))
      end
      self[k] = v
    end
  end
  if self.apply and opts.fast_path ~= false then
    -- t:record's fast path, over the memory store only (nil for other
    -- stores); hand() counts what its health buffer hands over
    local hand
    if self.keep_health then
      hand = function(kind, name, b, i, n) count(self.counters[kind], name, b, i, n) end
    end
    local fast, hflush = core.recorder(EVENT, REASON, HEALTH_BY_CODE, s, self.clock, hand,
                                       core.default_rules)
    if fast then
      self.fast, self.hflush = fast, hflush
      fast_ctx(self)
    end
  end
  return self
end

-- Looks at the policy file when a reloader watches it.
local function current(self)
  local r = self.reloader
  if r then
    local p, err = r:get()
    if p ~= self.policy then set_policy(self, p) end
    self.policy_err = err
  end
  return self.policy
end

-- syntax: ok, err = t:reload()
-- Re-reads the policy file now. A broken edit keeps the running policy:
-- nil, err (also kept in t:policy_error() until the file is fixed).
function T:reload()
  local r = self.reloader
  if not r then return true end
  local p, err = r:reload()
  if p ~= self.policy then set_policy(self, p) end
  self.policy_err = err
  if err then return nil, err end
  return true
end

-- syntax: err = t:policy_error()   -- nil while the policy file is sound
function T:policy_error()
  current(self)
  return self.policy_err
end

-- syntax: p = t:current_policy()   -- the policy in force (after a reload check)
function T:current_policy() return current(self) end

-- Compiled params for a domain and a reason, cached per domain.
local function params_for(self, domain, reason)
  local row = self.dcache[domain]
  if not row then
    if self.ndomains >= DCACHE_MAX then
      self.dcache, self.ndomains = {}, 0
      if self.fast then fast_ctx(self) end
    end
    row = {}
    self.dcache[domain] = row
    self.ndomains = self.ndomains + 1
  end
  local k = reason or ""
  local ud = row[k]
  if ud then return ud end
  local r = self.policy:resolve(domain, reason)
  ud = self.pcache[r]
  if not ud then
    local jitter
    ud, jitter = compile_params(r)
    self.pcache[r] = ud
    if jitter then self.jitter[ud] = true end
    if r.hard_transient ~= "suppress" then self.retry_transient[ud] = true end
  end
  row[k] = ud
  return ud
end

------------------------------------------------------------------------------
-- Health
------------------------------------------------------------------------------

-- syntax: h = t:health(scope [, at])
-- scope: "domain:gmail.com", "campaign:c1" or "sender:news@x.com". h has the
-- counts (sent, delivered, hard, soft, block, complaint, delayed: delay
-- notices, which are no outcome) over the policy's health window ending at
-- `at`, messages (sent, or the outcomes when fewer sends were reported),
-- hard_rate, complaint_rate, level ("healthy",
-- "caution", "throttle", "stop") and judged (false below health.min_sent).
-- On a store that shares health: the store's counts (nil, "store: ..."
-- when it cannot be read), with this tracker's buffer written first.
function T:health(scope, at)
  if type(scope) ~= "string" then argerr(1, "health", "string expected, got " .. type(scope)) end
  local kind, name = smatch(scope, "^(%a+):(.+)$")
  if not kind or not SCOPES[kind] then
    argerr(1, "health", "scope 'domain:NAME', 'campaign:NAME' or 'sender:NAME' expected, got '"
      .. scope .. "'")
  end
  if at ~= nil and type(at) ~= "number" then argerr(2, "health", "number expected, got " .. type(at)) end
  local p = current(self)
  at = floor(at or self.clock())
  if self.hflush then self.hflush("all") end
  if kind == "domain" then name = slower(name) end
  local h = { scope = scope, window = p.health and p.health.window }
  for _, k in ipairs(HEALTH_KINDS) do h[k] = 0 end
  local ring = self.counters[kind][name]
  if self.hshare then
    -- shared: our own buffer first, then the store's counts
    local ok, err = flush_health(self)
    if ok then ok, err = read_shared(self, h, kind .. ":" .. name, floor(at / self.bucket)) end
    if not ok then return nil, err end
    ring = nil
  end
  if ring then
    local b = floor(at / self.bucket)
    for bk, c in pairs(ring) do
      if bk > b - BUCKETS and bk <= b then
        for i, k in ipairs(HEALTH_KINDS) do h[k] = h[k] + c[i] end
      end
    end
  end
  local outcomes = h.delivered + h.hard + h.soft + h.block
  h.messages = h.sent > outcomes and h.sent or outcomes
  h.hard_rate = h.messages > 0 and h.hard / h.messages or 0
  h.complaint_rate = h.messages > 0 and h.complaint / h.messages or 0
  h.level, h.judged = p:level(h.messages, h.hard, h.complaint)
  return h
end

-- syntax: list = t:scopes()   -- every scope with counters, sorted
function T:scopes()
  if self.hflush then self.hflush("all") end
  local out = {}
  for kind, names in pairs(self.counters) do
    for name in pairs(names) do out[#out + 1] = kind .. ":" .. name end
  end
  sort(out)
  return out
end

------------------------------------------------------------------------------
-- Events
------------------------------------------------------------------------------

-- A time argument: unix seconds 1..2^32-1, made whole. n is the argument
-- number (nil: the event's field 'at'); level as argerr's (default 4).
local MAX_COUNT = 1000000000   -- messages one event may stand for (field 'count')
local MAX_LABEL = 256          -- bytes of a campaign or sender label (BNC_LABEL_MAX in C)
local LABELS = { "campaign", "sender" }

local function check_at(at, fname, n, level)
  local what = n and "" or "field 'at': "
  level = level or 4
  if type(at) ~= "number" then argerr(n or 1, fname, what .. "number expected, got " .. type(at), level) end
  if at ~= at or at < 1 or at >= 4294967296 then argerr(n or 1, fname, what .. "time out of range", level) end
  return floor(at)
end

local function clean_record()
  return { state = "active", reason = "undefined", attempts = 0, blocks = 0, bounces = 0 }
end

-- Runs the policy's on_event hook; the decision it returns replaces ours
-- when every field passes policy.check_decision. The hook changes what the caller is told, never
-- what the record remembers.
local check_decision = policy_mod.check_decision

local function run_hook(self, hook, ev, key, d, budget)
  local blob = self.store:get(key)
  local rec = blob and decode(blob) or clean_record()
  rec.rcpt = key
  -- the hook's copy: one that fails half way leaves d as it was
  local given = { action = d.action, state = d.state, reason = d.reason, attempts = d.attempts,
                  retry_at = d.retry_at, expires_at = d.expires_at, since = d.since,
                  cause = d.cause, rcpt = d.rcpt, event = d.event, at = d.at }
  local ok, ret = pcall(hook, ev, rec, given, budget)
  local err
  if not ok then
    err = "on_event failed: " .. tostring(ret)
  elseif ret == nil then
    return d
  else
    local good
    good, err = check_decision(ret, d)
    if good then return d end
  end
  self.hook_errors = self.hook_errors + 1
  self.hook_error = err
  d.hook_error = err
  return d
end

-- The callback transition() hands to store:update, made once per tracker
-- and kept apart from transition(): a closure inside transition() would keep
-- LuaJIT from compiling it (closing upvalues is not compiled). Its inputs
-- and results travel in the table u.
local function updater(self)
  local u = {}
  u.fn = function(old)
    local a, st, r, n, ra, ea, si, ca, nw =
      step(old, u.params, u.code, u.rc, u.at, u.rnd, u.permanent)
    u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8] = a, st, r, n, ra, ea, si, ca
    if a == nil or not nw then return false end
    return true, nw ~= "" and nw or nil, ea and ea - u.at or nil
  end
  self.u = u
  return u
end

-- A store's error as the tracker answers it: "store: ..." (a failure: try
-- again later), except the store's own "corrupt record for KEY: ..." (a
-- Redis key of another type), which is about the data, not the store.
local function store_error(err)
  err = tostring(err)
  if sfind(err, "^corrupt record for ") then return err, true end
  return "store: " .. err
end

-- Moves a record kept under the legacy key (see legacy_key) to key when
-- key has none, so the next step starts from its history. true, or nil, err.
local function adopt_legacy(self, key, domain, at)
  local old = legacy_key(key, domain)
  if not old then return true end
  local s = self.store
  local blob, err = s:get(old)
  if blob == nil then
    if err ~= nil then return nil, "store: " .. tostring(err) end
    return true
  end
  local r = decode(blob)
  if not r then return true end   -- a corrupt one stays where it is, for a look
  local ttl = r.expires_at and r.expires_at - at or nil
  if not ttl or ttl > 0 then
    local ok, cerr = s:cas(key, nil, blob, ttl)
    if ok == nil then return nil, "store: " .. tostring(cerr) end
  end
  local ok, cerr = s:cas(old, blob, nil)
  if ok == nil then return nil, "store: " .. tostring(cerr) end
  return true
end

-- What an event at domain for reason is stepped with: the policy's params
-- (given, cached by domain and reason, or resolved) and the jitter draw.
local function step_args(self, domain, code, reason, params)
  if not params then
    local row = self.dcache[domain]
    params = row and row[reason or ""] or params_for(self, domain, reason)
  end
  local rnd = 0
  if (code == EV_SOFT or code == EV_BLOCK) and self.jitter[params] then rnd = self.random() end
  return params, rnd
end

-- A block's permanent in its decision: true when said with a 5xx, false
-- otherwise; nil for other events.
local function block_permanent(code, permanent)
  if code == EV_BLOCK then return permanent and true or false end
  return nil
end

-- One transition, read-modify-write with compare-and-set: the decision,
-- or nil, err (and true when a corrupt record stopped it).
local function transition1(self, key, domain, code, reason, permanent, at, etype, params)
  local rnd
  params, rnd = step_args(self, domain, code, reason, params)
  local rc = reason and REASON[reason] or 0
  local action, state, rsn, attempts, retry_at, expires_at, since, cause, new
  local apply = self.apply
  if apply then
    action, state, rsn, attempts, retry_at, expires_at, since, cause =
      apply(self.store, key, params, code, rc, at, rnd, permanent)
    if action == nil then
      return nil, "corrupt record for " .. key .. ": " .. state, true
    end
  elseif type(self.store.update) == "function" then
    -- The store reads (or guesses), calls back and compare-and-sets: one
    -- round trip on Redis when its guess is right. A corrupt record makes
    -- the callback write nothing; only its last run counts (see updater).
    local u = self.u or updater(self)
    u.params, u.code, u.rc, u.at, u.rnd, u.permanent = params, code, rc, at, rnd, permanent
    local ok, err = self.store:update(key, u.fn)
    if not ok then return nil, store_error(err) end
    action, state, rsn, attempts, retry_at, expires_at, since, cause =
      u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8]
    if action == nil then return nil, "corrupt record for " .. key .. ": " .. state, true end
  else
    local s = self.store
    for _ = 1, MAX_CAS_TRIES do
      local old, err = s:get(key)
      if old == nil and err ~= nil then return nil, store_error(err) end
      action, state, rsn, attempts, retry_at, expires_at, since, cause, new =
        step(old, params, code, rc, at, rnd, permanent)
      if action == nil then
        return nil, "corrupt record for " .. key .. ": " .. state, true
      end
      if not new then break end
      local ttl = expires_at and expires_at - at or nil
      local ok, cerr = s:cas(key, old, new ~= "" and new or nil, ttl)
      if ok then break end
      if ok == nil then return nil, store_error(cerr) end
      action = nil
    end
    if action == nil then
      return nil, "store: too many conflicting writes for " .. key
    end
  end
  local d = {
    rcpt = key, event = etype, action = action, state = state, reason = rsn,
    attempts = attempts, retry_at = retry_at, expires_at = expires_at,
    since = since, cause = cause, at = at,
  }
  d.permanent = block_permanent(code, permanent)
  return d
end

-- A record that does not decode is moved aside, to CORRUPT .. key (no
-- address normalizes to a key starting with "@", and no dead-domain mark
-- to one starting with "@@"), and the event that met it applies to a fresh
-- record: the event is not lost, the bytes are kept for a look, and
-- t:corrupt lists both. true, or nil, err.
local CORRUPT = "@@corrupt:"
_M.CORRUPT_PREFIX = CORRUPT
local function set_aside(self, key)
  local s = self.store
  local blob, err = s:get(key)
  if blob == nil then
    if err == nil then return true end   -- gone meanwhile
    local e, corrupt = store_error(err)
    if corrupt and type(s.set_aside) == "function" then
      -- bytes the store cannot give as a record (a Redis key of another
      -- type): the store moves them itself
      local ok, aerr = s:set_aside(key, CORRUPT .. key)
      if not ok then return nil, "store: " .. tostring(aerr) end
      return true
    end
    return nil, e
  end
  if decode(blob) then return true end   -- rewritten meanwhile
  local ck = CORRUPT .. key
  local prev, perr = s:get(ck)
  if prev == nil and perr ~= nil then return nil, "store: " .. tostring(perr) end
  local ok, cerr = s:cas(ck, prev, blob)
  if ok then ok, cerr = s:cas(key, blob, nil) end
  if ok == nil then return nil, "store: " .. tostring(cerr) end
  if not ok then return nil, "store: conflicting writes to " .. key end
  return true
end

local function transition(self, key, domain, code, reason, permanent, at, etype, params)
  if not self.apply then   -- the memory store never held legacy keys
    local ok, lerr = adopt_legacy(self, key, domain, at)
    if not ok then return nil, lerr end
  end
  local d, err, corrupt = transition1(self, key, domain, code, reason, permanent, at, etype, params)
  if d or not corrupt then return d, err end
  local ok, serr = set_aside(self, key)
  if not ok then return nil, serr .. " (while setting aside: " .. err .. ")" end
  d, serr = transition1(self, key, domain, code, reason, permanent, at, etype, params)
  if not d then return nil, serr end
  d.corrupt, d.why = true, err .. "; its bytes are kept under " .. CORRUPT .. key ..
    " and the event applied to a fresh record"
  return d
end

------------------------------------------------------------------------------
-- Dead domains
------------------------------------------------------------------------------

-- A hard bounce for reason hostunknown (the domain does not exist, or has
-- neither MX nor address: RFC 5321 5.1) says the same of every address
-- there, so it marks the domain dead for retention.domain. So does one for
-- reason notaccept: a domain that publishes a null MX (RFC 7505: "MX 0 .",
-- refused with 556 5.1.10, RFC 7504) or otherwise says it takes no mail;
-- a 5.1.10 that means "no such recipient" (Microsoft's
-- RESOLVER.ADR.RecipientNotFound) is userunknown and marks nothing. A 4xx
-- one (a DNS failure that may pass, such as Postfix's 450 4.1.2) marks
-- nothing. The mark is a record like an address's (suppressed, cause hard,
-- reason hostunknown or notaccept, since, until) under the key "@" .. domain, which no address
-- normalizes to: so every store keeps it with no change to the store
-- interface, t:expire ends it, Redis and shdict expire it by its ttl, and
-- t:suppressions leaves it out (t:dead_domains lists it). A delivery to any
-- address of the domain, or t:release(domain), deletes it.
local DEAD = "@"
local RC_HOSTUNKNOWN, RC_NOTACCEPT = REASON.hostunknown, REASON.notaccept
local EV_DELIVERED = EVENT.delivered
-- On a store where a read is a round trip (all but the memory store), a
-- delivery that found no mark trusts that answer for its domain for
-- LIVE_TTL seconds of the tracker's clock: deliveries cost a read per
-- domain and minute, not one each. A mark this tracker makes ends the
-- trust at once; one another process makes is lifted by this tracker's
-- deliveries within LIVE_TTL. (t:check always reads.)
local LIVE_TTL, LIVE_MAX = 60, 10000

-- The params a domain's mark is stepped with: the policy's, for that domain
-- and reason hostunknown, with retention.domain as the hard retention.
local function dead_params(self, domain)
  local r = self.policy:resolve(domain, "hostunknown")
  local ud = self.dparams[r]
  if not ud then
    ud = compile_params(setmetatable({ retention_hard = r.retention_domain }, { __index = r }))
    self.dparams[r] = ud
  end
  return ud
end

-- Marks domain dead from at (a longer mark in place stays), for reason
-- (hostunknown or notaccept). true, or nil, err.
local function mark_dead(self, domain, at, reason)
  local live = self.live
  if live and live[domain] then live[domain] = nil end
  local d, err = transition(self, DEAD .. domain, domain, EV_HARD, reason, true, at, "hard",
                            dead_params(self, domain))
  if not d then return nil, err end
  return true
end

-- Deletes domain's mark. true (and whether there was one), or nil, err.
local function lift_dead(self, domain)
  local s, key = self.store, DEAD .. domain
  for _ = 1, MAX_CAS_TRIES do
    local blob, err = s:get(key)
    if blob == nil then
      if err ~= nil then return nil, "store: " .. tostring(err) end
      return true, false
    end
    local ok, cerr = s:cas(key, blob, nil)
    if ok then return true, true end
    if ok == nil then return nil, "store: " .. tostring(cerr) end
  end
  return nil, "store: too many conflicting writes for " .. key
end

-- A delivery at domain: lifts its mark, unless a read less than LIVE_TTL
-- ago found none (stores without apply only).
local function delivered_at(self, domain)
  if self.apply then return lift_dead(self, domain) end
  local live, now = self.live, self.clock()
  if type(now) ~= "number" then return lift_dead(self, domain) end
  if not live or self.nlive >= LIVE_MAX then
    live = {}
    self.live, self.nlive = live, 0
  end
  local t = live[domain]
  if t and now >= t - LIVE_TTL and now < t then return true end
  local ok, err = lift_dead(self, domain)
  if not ok then return nil, err end
  if not t then self.nlive = self.nlive + 1 end
  live[domain] = now + LIVE_TTL
  return true
end

-- After an event of code `code` at domain: marks it dead or lifts its mark.
-- nil, err when the store failed (the address's own record is written).
local function follow_domain(self, code, rc, permanent, domain, at)
  if code == EV_HARD then
    if (rc == RC_HOSTUNKNOWN or rc == RC_NOTACCEPT) and permanent ~= false then
      return mark_dead(self, domain, at, rc == RC_NOTACCEPT and "notaccept" or "hostunknown")
    end
  elseif code == EV_DELIVERED then
    return delivered_at(self, domain)
  end
  return true
end

-- The decision of an event stepped in C (the memory store's apply, or the
-- fast path), written into `into` or a new table. One constructor per
-- shape, so a new table is made at its final size (a nil field is not
-- stored): no rehash as fields are added. The fast path calls it too, so
-- that the decision's shape is written in one place.
-- permanent: a block's (said with a 5xx: true), nil for other events.
local function decision(into, key, etype, action, state, rsn, attempts, at, retry_at, since,
                        expires_at, cause, permanent)
  if into then
    into.rcpt, into.event, into.action, into.state, into.reason, into.attempts, into.at =
      key, etype, action, state, rsn, attempts, at
    into.retry_at, into.since, into.expires_at, into.cause, into.hook_error, into.permanent =
      retry_at, since, expires_at, cause, nil, permanent
    into.corrupt, into.why = nil, nil
    return into
  elseif since then
    return { rcpt = key, event = etype, action = action, state = state, reason = rsn,
             attempts = attempts, at = at, retry_at = retry_at, since = since,
             expires_at = expires_at, cause = cause, permanent = permanent }
  elseif retry_at then
    if permanent ~= nil then
      -- a block: its own shape (a ninth field would double the hash part
      -- of every retry decision's table)
      return { rcpt = key, event = etype, action = action, state = state, reason = rsn,
               attempts = attempts, at = at, retry_at = retry_at, permanent = permanent }
    end
    return { rcpt = key, event = etype, action = action, state = state, reason = rsn,
             attempts = attempts, at = at, retry_at = retry_at }
  end
  return { rcpt = key, event = etype, action = action, state = state, reason = rsn,
           attempts = attempts, at = at }
end

-- t:record's general path, after the policy check. clocked: the fast path
-- already asked the clock, which answered now. Called from t:record (not
-- as a tail call), so errors raised at level 4 point at t:record's caller.
local function record(self, ev, into, clocked, now, budget)
  if type(ev) ~= "table" then argerr(1, "record", "table expected, got " .. type(ev), 4) end
  local rcpt = ev.rcpt
  local key, domain = normalize(rcpt, self.case_sensitive)
  if not key then
    if type(rcpt) ~= "string" then
      argerr(1, "record", "field 'rcpt': string expected, got " .. type(rcpt), 4)
    end
    return nil, domain
  end
  local etype, reason, permanent = ev.type, ev.reason, ev.permanent
  if ev.reply ~= nil then
    if type(ev.reply) ~= "string" then
      argerr(1, "record", "field 'reply': string expected, got " .. type(ev.reply), 4)
    end
    local c, cerr = core.classify(ev.reply,
      (ev.rhost or ev.command) and { rhost = ev.rhost, command = ev.command } or nil)
    if not c then return nil, "cannot classify the reply for " .. key .. ": " .. cerr end
    etype, reason, permanent = c.type, c.reason, c.permanent
  end
  local code = EVENT[etype]
  if not code then
    argerr(1, "record", etype == nil and "field 'type' or 'reply' expected"
      or "field 'type': unknown event type '" .. tostring(etype) .. "'", 4)
  end
  local rc = 0
  if reason ~= nil then
    rc = REASON[reason]
    if not rc then
      argerr(1, "record", "field 'reason': unknown reason '" .. tostring(reason) .. "'", 4)
    end
  end
  if code == EV_HARD and permanent == false then
    -- a hard reason under a 4xx: a soft bounce when the policy retries it
    local row = self.dcache[domain]
    local params = row and row[reason or ""] or params_for(self, domain, reason)
    if self.retry_transient[params] then code, etype = EV_SOFT, "soft" end
  end
  local n = ev.count
  if n ~= nil and (type(n) ~= "number" or n < 1 or n > MAX_COUNT or n % 1 ~= 0) then
    argerr(1, "record", "field 'count': integer 1.." .. MAX_COUNT .. " expected, got " .. tostring(n), 4)
  end
  for _, f in ipairs(LABELS) do
    local v = ev[f]
    if type(v) == "string" and #v > MAX_LABEL then
      argerr(1, "record", "field '" .. f .. "': at most " .. MAX_LABEL .. " bytes expected, got " .. #v, 4)
    end
  end
  if ev.reply == nil and permanent ~= nil and type(permanent) ~= "boolean"
     and (code == EV_SOFT or code == EV_HARD) then
    argerr(1, "record", "field 'permanent': boolean expected, got " .. type(permanent), 4)
  end
  local at = ev.at
  if at == nil then
    if clocked then at = floor(now) else at = floor(self.clock()) end
  elseif type(at) ~= "number" or at ~= at or at < 1 or at >= 4294967296 then
    at = check_at(at, "record", nil, 5)
  else
    at = floor(at)   -- whole seconds; an integer on 5.3+ even from JSON's floats
  end
  local d, err
  local apply = self.apply
  if apply then
    -- the memory store's fast path: one C call reads, steps and writes
    local params, rnd = step_args(self, domain, code, reason)
    local action, state, rsn, attempts, retry_at, expires_at, since, cause =
      apply(self.store, key, params, code, rc, at, rnd, permanent)
    if action == nil then   -- a corrupt record: transition sets it aside
      local c, cerr = transition(self, key, domain, code, reason, permanent, at, etype, params)
      if not c then return nil, cerr end
      d = decision(into, key, etype, c.action, c.state, c.reason, c.attempts, at, c.retry_at,
                   c.since, c.expires_at, c.cause, c.permanent)
      d.corrupt, d.why = c.corrupt, c.why
    else
      d = decision(into, key, etype, action, state, rsn, attempts, at, retry_at, since, expires_at, cause,
                   block_permanent(code, permanent))
    end
  else
    d, err = transition(self, key, domain, code, reason, permanent, at, etype)
    if not d then return nil, err end
  end
  if code == EV_HARD or code == EV_DELIVERED then
    local ok, derr = follow_domain(self, code, rc, permanent, domain, at)
    if not ok then return nil, derr end
  end
  local hi = HEALTH_INDEX[etype]
  if hi and self.keep_health then
    -- the bucket of the last event is kept: no division for most events
    local b = self.last_b
    if at < self.last_lo or at >= self.last_hi then
      local size = self.bucket
      b = floor(at / size)
      self.last_b, self.last_lo, self.last_hi = b, b * size, (b + 1) * size
    end
    local c, s = ev.campaign, ev.sender
    -- what the fast path's buffer holds of these scopes goes first
    local hflush = self.hflush
    if hflush then hflush("scopes", domain, c, s) end
    count_scopes(self.counters, domain, c, s, b, hi, n or 1)
    if self.hshare then share_scopes(self, domain, c, s, b, hi, n or 1) end
  end
  local hook = self.on_event
  if hook then d = run_hook(self, hook, ev, key, d, budget) end
  return d
end

-- syntax: d, err = t:record(event [, into [, budget]])
-- event: rcpt (required); then type ("sent", "delivered", "soft", "hard",
-- "block", "complaint", "unsubscribe", "release", "delayed" (a delay notice:
-- counted in health, it changes no count or state of the address), or a
-- classifier type such as "auto_reply"), or reply (an SMTP reply or diagnostic, classified with
-- bounce.classify; rhost and command help it), or the fields of a
-- classification result (type, reason, permanent); at (unix seconds,
-- default now); campaign and sender (health labels); count (how many
-- messages the event stands for in the health counters, default 1: for
-- hosts that report sends in batches). `into`, when given, is a table the
-- decision is written to and returned instead of a new one (saves the
-- garbage collector a table per event in hot loops). Returns the decision:
-- { action, state, reason, attempts, retry_at, expires_at, since, cause,
--   rcpt, event, at, permanent } (plus hook_error when the policy's on_event
-- failed). permanent is set for a block only: true when it was said with a
-- 5xx (the message must not be retried as it is, RFC 5321 4.2.1; the
-- address stays and the sender is held all the same), false for a 4xx.
-- `budget`, a bounce.policy.hook_budget(), is what the on_event calls of a
-- batch share (one webhook request): once spent, hooks are skipped.
function T:record(ev, into, budget)
  if self.reloader then
    if type(ev) ~= "table" then argerr(1, "record", "table expected, got " .. type(ev)) end
    current(self)
  end
  local fast = self.fast
  if not fast then
    local d, err = record(self, ev, into, nil, nil, budget)
    return d, err
  end
  -- The memory store's fast path (l_record in src/lmstore.c): one C call
  -- checks the event, normalizes the address and reads, steps and writes
  -- the record; it declines what it does not handle, which record() does.
  local action, state, rsn, attempts, at, retry_at, since, expires_at, cause, key, etype,
    permanent, domain, n, b, hi = fast(ev, into)
  if not action then
    local d, err = record(self, ev, into, action == false, state, budget)
    return d, err
  end
  local d = decision(into, key, etype, action, state, rsn, attempts, at, retry_at, since, expires_at,
                     cause, permanent)
  if hi then
    -- Health the fast path left to us (its buffer holds none of these
    -- scopes): n in bucket b for kind hi
    count_scopes(self.counters, domain, ev.campaign, ev.sender, b, hi, n)
  end
  local hook = self.on_event
  if hook then d = run_hook(self, hook, ev, key, d, budget) end
  return d
end

-- A bare domain ("example.com", "@example.com", with white space or <>
-- around) given to t:release: the domain as the tracker keys it, or nil.
local function bare_domain(s)
  s = smatch(smatch(s, "^%s*<?%s*(.-)%s*>?%s*$"), "^@?([^@%s]+)$")
  if not s then return nil end
  local key, domain = normalize("postmaster@" .. s)
  return key and domain or nil
end

-- syntax: d, err = t:release(rcpt [, at])   -- lifts any suppression
-- rcpt may also be a domain ("example.com" or "@example.com"): that lifts
-- its dead-domain mark; d is then { domain, event = "release", action =
-- "send", state = "active", at, lifted = whether it was dead }.
function T:release(rcpt, at)
  if type(rcpt) ~= "string" then argerr(1, "release", "string expected, got " .. type(rcpt)) end
  current(self)
  local dom = bare_domain(rcpt)
  if dom then
    at = at == nil and floor(self.clock()) or check_at(at, "release", 2)
    local ok, lifted = lift_dead(self, dom)
    if not ok then return nil, lifted end
    return { domain = dom, event = "release", action = "send", state = "active", at = at,
             lifted = lifted }
  end
  local key, domain = normalize(rcpt, self.case_sensitive)
  if not key then return nil, domain end
  at = at == nil and floor(self.clock()) or check_at(at, "release", 2)
  local d, err = transition(self, key, domain, EV_RELEASE, nil, false, at, "release")
  if not d then return nil, err end
  -- a release is someone's look at the address: corrupt bytes set aside
  -- for it go (the release says so)
  local s = self.store
  local ck = CORRUPT .. key
  local blob, gerr = s:get(ck)
  if blob == nil and gerr ~= nil then return nil, "store: " .. tostring(gerr) end
  if blob ~= nil then
    local ok, cerr = s:cas(ck, blob, nil)
    if ok == nil then return nil, "store: " .. tostring(cerr) end
    d.corrupt = true
    d.why = d.why or ("the corrupt bytes kept under " .. ck .. " were deleted")
  end
  return d
end

-- syntax: d, err = t:suppress(rcpt [, at])   -- a manual suppression
-- Lasts the policy's retention.manual; a longer suppression in place stays.
function T:suppress(rcpt, at)
  if type(rcpt) ~= "string" then argerr(1, "suppress", "string expected, got " .. type(rcpt)) end
  current(self)
  local key, domain = normalize(rcpt, self.case_sensitive)
  if not key then return nil, domain end
  at = at == nil and floor(self.clock()) or check_at(at, "suppress", 2)
  return transition(self, key, domain, EV_SUPPRESS, nil, false, at, "suppress")
end

------------------------------------------------------------------------------
-- Questions
------------------------------------------------------------------------------

-- UTC dates, cached per day (check() answers with them on every call).
local days, ndays = {}, 0
local function day(t)
  local k = floor(t / 86400)
  local s = days[k]
  if not s then
    if ndays >= 4096 then days, ndays = {}, 0 end
    s = os_date("!%Y-%m-%d", k * 86400)
    days[k], ndays = s, ndays + 1
  end
  return s
end
local function minute(t) return os_date("!%Y-%m-%d %H:%M UTC", t) end

local CAUSE_TEXT = {
  hard = "hard bounce", complaint = "spam complaint", unsubscribe = "unsubscribed",
  manual = "suppressed by hand",
}

local function because(reason)
  if reason == nil or reason == "undefined" then return "" end
  return " (" .. reason .. ")"
end

-- The readable answer to "why" for a record at time at.
local function explain(r, at)
  if r.state == "suppressed" then
    local what = CAUSE_TEXT[r.cause]
    if r.cause == "soft_exhausted" then
      what = sformat("%d soft bounce%s in a row", r.attempts, r.attempts == 1 and "" or "s")
    end
    return sformat("suppressed since %s%s: %s%s", day(r.since),
      r.expires_at and " until " .. day(r.expires_at) or "", what, because(r.reason))
  end
  local hold = r.retry_at and at < r.retry_at
  if r.state == "bouncing" then
    return sformat("bouncing: %d soft bounce%s since %s%s%s", r.attempts,
      r.attempts == 1 and "" or "s", day(r.streak_start or r.last_at), because(r.reason),
      hold and ", next retry " .. minute(r.retry_at) or ", retry due")
  end
  if hold and r.last_event == "block" then
    return sformat("active, sender held until %s: blocked%s", minute(r.retry_at), because(r.reason))
  end
  if r.last_event then return "active: last " .. r.last_event .. " " .. day(r.last_at) end
  return "active: no history"
end

local DEAD_WORDS = { hostunknown = "no such domain", notaccept = "the domain accepts no mail" }

local function dead_why(domain, r)
  return sformat("dead domain %s since %s%s: %s (%s)", domain, day(r.since),
    r.expires_at and " until " .. day(r.expires_at) or "", DEAD_WORDS[r.reason] or "no such domain",
    r.reason)
end

-- Whether domain is dead at `at`: true and the why, false, or nil, err
-- when the store failed. blob: the mark when the caller read it already
-- (false: it did, and found none).
local function dead_domain(self, domain, at, blob)
  local err
  if blob == false then return false end
  if blob == nil then blob, err = self.store:get(DEAD .. domain) end
  if blob == nil then
    if err ~= nil then return nil, "store: " .. tostring(err) end
    return false
  end
  local r, derr = decode(blob)
  if not r then return nil, "corrupt record for " .. DEAD .. domain .. ": " .. derr end
  if r.state ~= "suppressed" or (r.expires_at and at >= r.expires_at) then return false end
  return true, dead_why(domain, r)
end

-- The health gate of t:check's scopes: what a scope at `stop` or
-- `throttle` adds to the address's answer (allowed, why).
local GATE_SCOPES = { "sender", "campaign" }

local function scope_health(h)
  return sformat("hard bounces %.1f%%, complaints %.2f%% of %d messages", 100 * h.hard_rate,
    100 * h.complaint_rate, h.messages)
end

local check_scoped   -- t:check with a table of scopes (below)

-- syntax: allowed, why [, level] = t:check(rcpt [, at | scopes])   -- nil, err on bad data
-- The pre-send question. allowed is false while the address is suppressed,
-- or its domain is dead (why names the domain); a scheduled retry or hold is told in `why` (and by the last
-- decision), not refused here. scopes = { sender = S, campaign = C, at = T }
-- also asks the health of that sender and campaign (t:health): a scope at
-- level `stop` answers false, a why naming it and its rates, and "stop"
-- as a third value; one at `throttle` answers true, says so in why, and
-- "throttle" (the third value is nil otherwise).
function T:check(rcpt, at)
  if type(at) == "table" then
    local ok, why, level = check_scoped(self, rcpt, at)
    return ok, why, level
  end
  if self.reloader then current(self) end
  local key, kerr = normalize(rcpt, self.case_sensitive)
  if not key then
    if type(rcpt) ~= "string" then argerr(1, "check", "string expected, got " .. type(rcpt)) end
    return nil, kerr
  end
  if at == nil then
    at = floor(self.clock())
  elseif type(at) ~= "number" or at < 1 or at >= 4294967296 or at % 1 ~= 0 then
    at = check_at(at, "check", 2)
  end
  local s = self.store
  local blob, err, mark
  if s.get2 then   -- the record and the domain's mark in one round trip
    blob, mark, err = s:get2(key, DEAD .. kerr)
    if err == nil and mark == nil then mark = false end
  else
    blob, err = s:get(key)
  end
  local r, derr
  if blob == nil and err == nil then
    local old = legacy_key(key, kerr)
    if old then blob, err = s:get(old) end
  end
  if blob == nil then
    if err ~= nil then return nil, (store_error(err)) end
  else
    r, derr = decode(blob)
    if not r then return nil, "corrupt record for " .. key .. ": " .. derr end
    if r.state == "suppressed" and not (r.expires_at and at >= r.expires_at) then
      return false, explain(r, at)
    end
  end
  local dead, dwhy = dead_domain(self, kerr, at, mark)   -- kerr: the address's domain
  if dead then return false, dwhy end
  if dead == nil then return nil, dwhy end
  if not r then return true, "active: no history" end
  if r.state == "suppressed" then return true, "active: suppression ended " .. day(r.expires_at) end
  return true, explain(r, at)
end

-- Called from t:check only (errors at level 4 point at its caller).
check_scoped = function(self, rcpt, scopes)
  if type(rcpt) ~= "string" then argerr(1, "check", "string expected, got " .. type(rcpt), 4) end
  local at = scopes.at
  if at == nil then
    at = floor(self.clock())
  elseif type(at) ~= "number" or at < 1 or at >= 4294967296 or at % 1 ~= 0 then
    -- (check_at names the field: 'at' of argument 2)
    if type(at) ~= "number" then argerr(2, "check", "field 'at': number expected, got " .. type(at), 4) end
    if at ~= at or at < 1 or at >= 4294967296 then argerr(2, "check", "field 'at': time out of range", 4) end
    at = floor(at)
  end
  for _, k in ipairs(GATE_SCOPES) do
    local v = scopes[k]
    if v ~= nil and (type(v) ~= "string" or v == "") and type(v) ~= "number" then
      argerr(2, "check", "field '" .. k .. "': string expected, got "
        .. (v == "" and "an empty string" or type(v)), 4)
    end
  end
  local allowed, why = self:check(rcpt, at)
  if not allowed then return allowed, why end
  local level
  for _, k in ipairs(GATE_SCOPES) do
    local v = scopes[k]
    if v ~= nil then
      local name = k .. ":" .. tostring(v)
      local h, herr = self:health(name, at)
      if not h then return nil, herr end
      if h.level == "stop" then
        return false, sformat("%s %s at health stop: %s", k, tostring(v), scope_health(h)), "stop"
      elseif h.level == "throttle" then
        level = "throttle"
        why = sformat("%s; %s %s at health throttle: %s", why, k, tostring(v), scope_health(h))
      end
    end
  end
  return true, why, level
end

-- syntax: rec, err = t:get(rcpt)   -- nil when the address has no record
-- rec: state, cause, reason, attempts, blocks, bounces, last_event,
-- last_at, last_soft_at, streak_start, retry_at, since, expires_at, rcpt.
function T:get(rcpt)
  if type(rcpt) ~= "string" then argerr(1, "get", "string expected, got " .. type(rcpt)) end
  current(self)
  local key, kerr = normalize(rcpt, self.case_sensitive)
  if not key then return nil, kerr end
  local blob, err = self.store:get(key)
  if blob == nil and err == nil then
    local old = legacy_key(key, kerr)
    if old then blob, err = self.store:get(old) end
  end
  if blob == nil then
    if err ~= nil then return nil, (store_error(err)) end
    return nil
  end
  local r, derr = decode(blob)
  if not r then return nil, "corrupt record for " .. key .. ": " .. derr end
  r.rcpt = key
  return r
end

-- The suppressed records of the store at `at` (all when nil): addresses,
-- or with domains set the dead-domain marks (keys "@" .. domain).
local function suppressed(self, fname, at, domains)
  if at ~= nil then at = check_at(at, fname, 1, 5) end
  local s = self.store
  local mark = sbyte(DEAD)
  -- a store that can list its suppressed records alone (SQLite, by an index)
  local nextkv = type(s.scan_suppressed) == "function" and s:scan_suppressed() or s:scan()
  return function()
    while true do
      local k, b = nextkv()
      if k == nil then return nil end
      -- the state byte: suppressed; the key's first byte: a domain's mark or not
      if sbyte(b, 3) == 2 and (sbyte(k) == mark) == domains then
        local r = decode(b)
        if r and not (at and r.expires_at and at >= r.expires_at) then
          if domains then
            k = ssub(k, 2)
            r.domain, r.why = k, dead_why(k, r)
          else
            r.rcpt = k
          end
          return k, r
        end
      end
    end
  end
end

-- syntax: for rcpt, rec in t:suppressions([at]) do ... end
-- Every suppressed address (still suppressed at `at` when given). Corrupt
-- records are skipped (t:expire reports them). Dead domains are not in it.
function T:suppressions(at)
  local it = suppressed(self, "suppressions", at, false)
  return it
end

-- syntax: for key, why in t:corrupt() do ... end
-- Every record of the store that does not decode, and every one set aside
-- when an event met it: key as stored (an address; "@" .. domain for a
-- dead domain's mark; CORRUPT_PREFIX .. address for bytes set aside), why
-- says what is wrong. t:release(address) resets both. Reads the whole store
-- (on SQLite, a row changed behind its back keeps its old columns: no index
-- finds them all).
function T:corrupt()
  local nextkv = self.store:scan()
  local n = #CORRUPT
  return function()
    while true do
      local k, b = nextkv()
      if k == nil then return nil end
      local r, err = decode(b)
      if ssub(k, 1, n) == CORRUPT then
        return k, "corrupt record set aside from " .. ssub(k, n + 1) .. ": " ..
          (err or "kept as it was") .. " (t:release of the address deletes it)"
      elseif not r then
        return k, "corrupt record for " .. k .. ": " .. tostring(err)
      end
    end
  end
end

-- syntax: for domain, rec in t:dead_domains([at]) do ... end
-- Every dead domain (still dead at `at` when given): rec as t:get's, with
-- domain and why (the text t:check answers) instead of rcpt.
function T:dead_domains(at)
  local it = suppressed(self, "dead_domains", at, true)
  return it
end

-- syntax: n, problems = t:expire([at])
-- Deletes the suppressions whose retention ended at or before `at` (default
-- now) and returns how many; problems lists corrupt records met on the way
-- (nil when none). Also forgets health counters older than the window (call
-- it now and then: hourly is plenty).
function T:expire(at)
  at = at == nil and floor(self.clock()) or check_at(at, "expire", 1)
  local s, gone, problems = self.store, {}, nil
  -- a store that can list what may have ended (SQLite, by an index)
  local iter = type(s.scan_expired) == "function" and s:scan_expired(at) or s:scan()
  for k, b in iter do
    local e, err = expiry(b)
    if e == nil then
      problems = problems or {}
      problems[#problems + 1] = "corrupt record for " .. k .. ": " .. err
    elseif e and e > 0 and at >= e then
      gone[#gone + 1] = k
      gone[#gone + 1] = b
    end
  end
  local n = 0
  for i = 1, #gone, 2 do
    if s:cas(gone[i], gone[i + 1], nil) then n = n + 1 end
  end
  -- health: drop buckets out of the window, and scopes left with none
  if self.hflush then self.hflush("all") end
  local cur = floor(at / self.bucket)
  for _, names in pairs(self.counters) do
    for name, ring in pairs(names) do
      for b in pairs(ring) do
        if b <= cur - BUCKETS then ring[b] = nil end
      end
      if next(ring) == nil then names[name] = nil end
    end
  end
  return n, problems
end

-- syntax: ok, err = t:flush()
-- Writes the health counts buffered for a store that shares health (see
-- tracker.new); true when there was nothing to write. nil, "store: ..." when
-- the store failed: the counts stay buffered for the next flush.
function T:flush()
  if not self.hshare then return true end
  return flush_health(self)
end

-- syntax: ok, err = t:close()   -- also by `local t <close>` (Lua 5.4)
-- Flushes (see t:flush); the store stays open (it is the caller's).
function T:close() return self:flush() end
T.__close = function(self) self:flush() end

-- syntax: n = t:count()   -- records in the store (when it can count)
function T:count()
  local s = self.store
  if type(s.count) == "function" then return s:count() end
  local n = 0
  for _ in s:scan() do n = n + 1 end
  return n
end

_M.explain = explain
_M.events = EVENT

return setmetatable(_M, { __call = function(_, opts) return _M.new(opts) end })
