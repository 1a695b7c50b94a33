-- bounce.policy: load, check, merge and serve bounce-history policies.
--
-- A policy is a Lua file (or a table) in the schema below. This module runs the
-- file in a sandbox, checks every key, fills in the defaults, and compiles the
-- result into an immutable object. The tracker asks that object one question per
-- event: `p:resolve(domain, reason)`, a flat table of integer seconds and counts
-- that the C state machine consumes. Runs under Lua 5.1, 5.3, 5.4 and LuaJIT;
-- from bounce.core it takes the reason names and its version.
--
-- The defaults are policies/default.lua, loaded here in the sandbox like any
-- other policy file (found next to this module when installed, as
-- bounce/policies/default.lua, or in the checkout's policies/); this module
-- keeps no copy of their values. Every other policy merges over them.
--
-- The schema (every key optional; a key left out takes its value in
-- policies/default.lua). D is a duration ("10m", "72h", seconds, "forever"
-- where allowed), N a whole number, R a rate 0..1:
--
--   soft = { max_attempts = N,            -- consecutive soft bounces before suppression
--            permanent_max_attempts = N,  -- the same, counted when the soft bounce was a
--                                         -- permanent (5xx) reply; at most max_attempts,
--                                         -- max_attempts when left out
--            window = D,                  -- or a streak this old suppresses ("forever": never)
--            reset_after = D,             -- a streak ends after this long without a soft
--                                         -- bounce (1h..3650d)
--            backoff = { D, D, ... } },   -- the waits before retry 1, 2, ...; or
--                      -- { first = D, factor = 1..10 (2), max = D (24h), jitter = R (0) }
--   hard = { transient = "soft" | "suppress" },  -- a hard bounce said with a 4xx
--   block = { backoff = ... },            -- either backoff form
--   retention = { hard = D, soft = D, complaint = D, unsubscribe = D, manual = D,
--                 domain = D },           -- how long a hostunknown hard bounce keeps
--                                         -- its whole domain dead
--   reasons = { mailboxfull = { max_attempts = N } },
--   domains = { ["example.com"] = { soft = { max_attempts = N } } },
--   health = { min_sent = N, window = D,
--              hard = { caution = R, throttle = R, stop = R },
--              complaint = { caution = R, throttle = R, stop = R } },
--   addresses = { case_sensitive = false },  -- compare local parts case-sensitively?
--   description = "one line shown by tools",
--   on_event = function(event, record, decision) return decision end,
--
-- A `reasons` entry holds the soft keys directly (max_attempts, window, backoff,
-- permanent_max_attempts), or nested as `soft = {...}`, and may add `block = {...}`
-- and `retention = {...}`. A `domains` entry holds `soft`, `hard`, `block`, `retention` and
-- its own `reasons`. Layers merge key by key, most specific last:
--   base < reasons[reason] < domains[domain] < domains[domain].reasons[reason]
-- A backoff is replaced whole, never merged step by step.

local type, pairs, ipairs, tostring, tonumber = type, pairs, ipairs, tostring, tonumber
local error, pcall, setmetatable, getmetatable, rawget, next = error, pcall, setmetatable,
  getmetatable, rawget, next
local floor, huge, min = math.floor, math.huge, math.min
local sfind, smatch, sformat, slower, sbyte, ssub, srep = string.find, string.match,
  string.format, string.lower, string.byte, string.sub, string.rep
local concat, sort = table.concat, table.sort
local io_open = io.open
local co_create, co_resume, co_status, co_running = coroutine.create, coroutine.resume,
  coroutine.status, coroutine.running
local debug_sethook, debug_gethook = debug.sethook, debug.gethook
local load, loadstring, setfenv = load, rawget(_G, "loadstring"), rawget(_G, "setfenv")
local jit = rawget(_G, "jit")
local os_time, os_clock = os.time, os.clock
local debug_getinfo = debug.getinfo
local package_path = package.path

local core = require("bounce.core")

local _M = { _VERSION = core._VERSION }

local FOREVER = -1
_M.FOREVER = FOREVER

local MAX_FILE = 1024 * 1024        -- bytes a policy file may have
local MAX_STEPS = 10000000          -- VM instructions a policy file may run while loading
local HOOK_EVERY = 100
local MAX_HOOK_STEPS = 1000000      -- VM instructions one on_event call may run
-- (each bound on instructions is also one on pattern-matching steps)
local MAX_MEMORY = 64 * 1048576     -- bytes the memory in use may grow by while a policy runs
local MAX_LOAD_ALLOC = 1024 * 1048576   -- bytes a policy file may allocate while loading
local MAX_HOOK_ALLOC = 256 * 1048576    -- bytes one on_event call may allocate
local BATCH_STEPS = 20000000        -- instructions (and pattern steps) of a batch's hooks
local BATCH_ALLOC = 1024 * 1048576  -- bytes a batch's hooks may allocate together
local MAX_LOAD_SECONDS = 2          -- CPU time a policy file may take to load
local MAX_HOOK_SECONDS = 0.25       -- CPU time one on_event call may take
local BATCH_SECONDS = 2             -- CPU time a batch's hooks may take together

-- Reason names the classifier produces, in the C table's order (bounce.reasons).
local REASONS = {}
for i, r in ipairs(core.reasons()) do REASONS[i] = r.name end
local IS_REASON = {}
for _, r in ipairs(REASONS) do IS_REASON[r] = true end
_M.reason_names = REASONS

------------------------------------------------------------------------------
-- Durations
------------------------------------------------------------------------------

local UNIT = { s = 1, m = 60, h = 3600, d = 86400, w = 604800 }

-- syntax: seconds = policy.duration(v)
-- v is a whole number of seconds >= 0, "forever" (-1), or a string of
-- <digits><unit> groups with units s m h d w ("90m", "1h30m", "2w"). Returns nil
-- for anything else; ranges are the caller's business.
local function duration(v)
  if type(v) == "number" then
    if v ~= v or v < 0 or v == huge or floor(v) ~= v then return nil end
    return floor(v)
  end
  if type(v) ~= "string" or v == "" or #v > 40 then return nil end
  if v == "forever" then return FOREVER end
  local total, pos, len = 0, 1, #v
  while pos <= len do
    local _, e, n, u = sfind(v, "^(%d+)([smhdw])", pos)
    if not e then return nil end
    total = total + tonumber(n) * UNIT[u]
    pos = e + 1
  end
  return total
end
_M.duration = duration

------------------------------------------------------------------------------
-- Checking: every failure is thrown as { msg = "path: expected ..., got ..." }
-- and turned into `nil, "source: msg"` by compile().
------------------------------------------------------------------------------

local Fail = {}

local function fail(path, msg)
  error(setmetatable({ msg = path .. ": " .. msg }, Fail), 0)
end

local function show(v)
  local t = type(v)
  if t == "string" then
    if #v > 40 then v = ssub(v, 1, 37) .. "..." end
    return sformat("%q", v)
  elseif t == "number" or t == "boolean" or t == "nil" then
    return tostring(v)
  end
  return "a " .. t
end

local function expected(path, what, v)
  fail(path, "expected " .. what .. ", got " .. show(v))
end

local function keypath(path, k)
  local s
  if type(k) == "string" and smatch(k, "^[%a_][%w_]*$") then
    s = k
    return path == "" and s or path .. "." .. s
  elseif type(k) == "string" then
    s = sformat("[%q]", k)
  else
    s = "[" .. tostring(k) .. "]"
  end
  return path .. s
end

-- Edit distance, for "did you mean" hints on misspelt keys.
local function distance(a, b)
  if #a > 40 or #b > 40 then return 99 end
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = sbyte(a, i) == sbyte(b, j) and 0 or 1
      cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

local function suggest(k, names)
  if type(k) ~= "string" then return "" end
  local best, bd = nil, 3
  for _, n in ipairs(names) do
    local d = distance(k, n)
    if d < bd then best, bd = n, d end
  end
  return best and " (did you mean " .. best .. "?)" or ""
end

-- Refuse keys outside `names` (a sorted list), the first in sorted order.
local function only_keys(t, path, names)
  local allowed, bad = {}, {}
  for _, n in ipairs(names) do allowed[n] = true end
  for k in pairs(t) do
    if not allowed[k] then bad[#bad + 1] = k end
  end
  if #bad == 0 then return end
  sort(bad, function(a, b) return tostring(a) < tostring(b) end)
  fail(keypath(path, bad[1]), "unknown key" .. suggest(bad[1], names)
    .. ", expected one of " .. concat(names, ", "))
end

-- The keys of t in a stable order, so errors name the same key every run.
local function sorted_keys(t)
  local names = {}
  for k in pairs(t) do names[#names + 1] = k end
  sort(names, function(a, b) return tostring(a) < tostring(b) end)
  return names
end

local function check_table(v, path, what)
  if type(v) ~= "table" then expected(path, what, v) end
  return v
end

local function check_int(v, path, lo, hi)
  if type(v) ~= "number" or v ~= v or floor(v) ~= v or v < lo or v > hi then
    expected(path, sformat("an integer %d..%d", lo, hi), v)
  end
  return floor(v)
end

local function check_rate(v, path)
  if type(v) ~= "number" or v ~= v or v < 0 or v > 1 then
    expected(path, "a number 0..1", v)
  end
  return v
end

-- range = { lo, hi, "1m..365d", forever_ok }
local function check_duration(v, path, range)
  local s = duration(v)
  local what = "a duration " .. range[3] .. (range[4] and ' or "forever"' or "")
  if s == nil or (s == FOREVER and not range[4])
     or (s ~= FOREVER and (s < range[1] or s > range[2])) then
    expected(path, what, v)
  end
  return s
end

local STEP = { 1, 30 * 86400, "1s..30d" }
local WINDOW = { 60, 365 * 86400, "1m..365d", true }
local RESET = { 3600, 3650 * 86400, "1h..3650d" }
local RETENTION = { 86400, 3650 * 86400, "1d..3650d", true }
local HEALTH_WINDOW = { 60, 90 * 86400, "1m..90d" }

local BACKOFF_FORM = "a list of 1..100 durations or { first =, factor =, max =, jitter = }"
local EXP_KEYS = { "factor", "first", "jitter", "max" }

-- A backoff, normalised to { list = {...} } or { first =, factor =, max =, jitter = }.
local function check_backoff(v, path)
  check_table(v, path, BACKOFF_FORM)
  local n, strings = #v, false
  for k in pairs(v) do
    if type(k) == "string" then strings = true end
  end
  if strings then
    if n > 0 then fail(path, "expected " .. BACKOFF_FORM .. ", not both") end
    only_keys(v, path, EXP_KEYS)
    local b = {}
    b.first = check_duration(v.first, path .. ".first", STEP)
    if v.factor == nil then
      b.factor = 2
    elseif type(v.factor) ~= "number" or v.factor ~= v.factor or v.factor < 1 or v.factor > 10 then
      expected(path .. ".factor", "a number 1..10", v.factor)
    else
      b.factor = v.factor
    end
    if v.max == nil then
      b.max = 86400
    else
      b.max = check_duration(v.max, path .. ".max", STEP)
    end
    if b.max < b.first then
      expected(path .. ".max", "a duration no shorter than first and at most 30d", v.max)
    end
    if v.jitter == nil then b.jitter = 0 else b.jitter = check_rate(v.jitter, path .. ".jitter") end
    return b
  end
  if n < 1 or n > 100 then expected(path, BACKOFF_FORM, v) end
  local list = {}
  for k in pairs(v) do
    if type(k) ~= "number" or floor(k) ~= k or k < 1 or k > n then
      fail(keypath(path, k), "unknown key, expected " .. BACKOFF_FORM)
    end
  end
  for i = 1, n do list[i] = check_duration(v[i], keypath(path, i), STEP) end
  return { list = list }
end

local SOFT_KEYS = { "backoff", "max_attempts", "permanent_max_attempts", "reset_after", "window" }
local TRANSIENT = { soft = 0, suppress = 1 }
local RETENTION_KEYS = { "complaint", "domain", "hard", "manual", "soft", "unsubscribe" }

-- Each section check returns a partial table holding only the keys given.
local function check_soft(v, path, out)
  out = out or {}
  if v.max_attempts ~= nil then
    out.max_attempts = check_int(v.max_attempts, path .. ".max_attempts", 1, 1000)
  end
  if v.permanent_max_attempts ~= nil then
    out.permanent_max_attempts = check_int(v.permanent_max_attempts,
      path .. ".permanent_max_attempts", 1, 1000)
  end
  if v.window ~= nil then out.window = check_duration(v.window, path .. ".window", WINDOW) end
  if v.reset_after ~= nil then
    out.reset_after = check_duration(v.reset_after, path .. ".reset_after", RESET)
  end
  if v.backoff ~= nil then out.backoff = check_backoff(v.backoff, path .. ".backoff") end
  return out
end

local function check_soft_section(v, path)
  check_table(v, path, "a table")
  only_keys(v, path, SOFT_KEYS)
  return check_soft(v, path)
end

-- hard = { transient = "soft" | "suppress" }: what a hard bounce said with a
-- 4xx (an address reason under a temporary code) is.
local function check_hard_section(v, path)
  check_table(v, path, "a table")
  only_keys(v, path, { "transient" })
  local out = {}
  if v.transient ~= nil then
    if TRANSIENT[v.transient] == nil then
      expected(path .. ".transient", '"soft" or "suppress"', v.transient)
    end
    out.transient = v.transient
  end
  return out
end

local function check_block_section(v, path)
  check_table(v, path, "a table")
  only_keys(v, path, { "backoff" })
  local out = {}
  if v.backoff ~= nil then out.backoff = check_backoff(v.backoff, path .. ".backoff") end
  return out
end

local function check_retention(v, path)
  check_table(v, path, "a table")
  only_keys(v, path, RETENTION_KEYS)
  local out = {}
  for _, k in ipairs(RETENTION_KEYS) do
    if v[k] ~= nil then out[k] = check_duration(v[k], path .. "." .. k, RETENTION) end
  end
  return out
end

local REASON_KEYS = { "backoff", "block", "max_attempts", "permanent_max_attempts",
                      "reset_after", "retention", "soft", "window" }

-- A reason entry: soft keys flat (or in `soft`), plus `block` and `retention`.
local function check_reason(v, path)
  check_table(v, path, "a table")
  only_keys(v, path, REASON_KEYS)
  local layer = { soft = {} }
  if v.soft ~= nil then
    layer.soft = check_soft_section(v.soft, path .. ".soft")
    for _, k in ipairs(SOFT_KEYS) do
      if v[k] ~= nil then
        fail(path .. "." .. k, "set either " .. path .. "." .. k .. " or "
          .. path .. ".soft." .. k .. ", not both")
      end
    end
  end
  check_soft(v, path, layer.soft)
  if v.block ~= nil then layer.block = check_block_section(v.block, path .. ".block") end
  if v.retention ~= nil then layer.retention = check_retention(v.retention, path .. ".retention") end
  return layer
end

local function check_reasons(v, path)
  check_table(v, path, "a table of reason = { ... }")
  local names = sorted_keys(v)
  local out = {}
  for _, k in ipairs(names) do
    if type(k) ~= "string" or not IS_REASON[k] then
      fail(keypath(path, k), "unknown reason" .. suggest(k, REASONS)
        .. ", expected a reason name from bounce.reasons (mailboxfull, userunknown, ...)")
    end
    out[k] = check_reason(v[k], keypath(path, k))
  end
  return out
end

-- A domain name: letters, digits, hyphens and dots; no empty labels.
local function valid_domain(d)
  if #d < 1 or #d > 253 then return false end
  for label in (d .. "."):gmatch("([^.]*)%.") do
    if #label < 1 or #label > 63 or not smatch(label, "^[%w%-_]+$")
       or ssub(label, 1, 1) == "-" or ssub(label, -1) == "-" then
      return false
    end
  end
  return true
end

local function check_domains(v, path)
  check_table(v, path, 'a table of ["domain"] = { ... }')
  local names = sorted_keys(v)
  local out = {}
  for _, k in ipairs(names) do
    local p = keypath(path, k)
    if type(k) ~= "string" or not valid_domain(k) then
      fail(p, "expected a domain name such as \"example.com\" as key, got " .. show(k))
    end
    local d = slower(k)
    if out[d] then fail(p, "domain given twice (keys are compared in lower case)") end
    local e = check_table(v[k], p, "a table")
    only_keys(e, p, { "block", "hard", "reasons", "retention", "soft" })
    local layer = { soft = {} }
    if e.soft ~= nil then layer.soft = check_soft_section(e.soft, p .. ".soft") end
    if e.hard ~= nil then layer.hard = check_hard_section(e.hard, p .. ".hard") end
    if e.block ~= nil then layer.block = check_block_section(e.block, p .. ".block") end
    if e.retention ~= nil then layer.retention = check_retention(e.retention, p .. ".retention") end
    if e.reasons ~= nil then layer.reasons = check_reasons(e.reasons, p .. ".reasons") end
    out[d] = layer
  end
  return out
end

local function check_levels(v, path, names, base)
  if v ~= nil then
    check_table(v, path, "a table")
    only_keys(v, path, names)
  end
  v = v or {}
  local out = {}
  for _, k in ipairs(names) do
    if v[k] ~= nil then out[k] = check_rate(v[k], path .. "." .. k) else out[k] = base[k] end
  end
  -- caution <= throttle <= stop, over the levels present (complaint has no throttle
  -- unless the policy gives one)
  local present, got, ordered, last = {}, {}, true, nil
  for _, k in ipairs({ "caution", "throttle", "stop" }) do
    local x = out[k]
    if x ~= nil then
      present[#present + 1] = k
      got[#got + 1] = k .. " = " .. tostring(x)
      if last ~= nil and x < last then ordered = false end
      last = x
    end
  end
  if not ordered then
    fail(path, "expected " .. concat(present, " <= ") .. ", got " .. concat(got, ", "))
  end
  return out
end

local function check_health(v, path, base)
  if v ~= nil then
    check_table(v, path, "a table")
    only_keys(v, path, { "complaint", "hard", "min_sent", "window" })
  end
  v = v or {}
  local h = {}
  h.min_sent = v.min_sent == nil and base.min_sent
    or check_int(v.min_sent, path .. ".min_sent", 0, 1000000000)
  h.window = v.window == nil and base.window
    or check_duration(v.window, path .. ".window", HEALTH_WINDOW)
  h.hard = check_levels(v.hard, path .. ".hard", { "caution", "stop", "throttle" }, base.hard)
  h.complaint = check_levels(v.complaint, path .. ".complaint",
    { "caution", "stop", "throttle" }, base.complaint)
  return h
end

------------------------------------------------------------------------------
-- Merging and resolving
------------------------------------------------------------------------------

local SECTIONS = { "soft", "hard", "block", "retention" }

local function merge_into(acc, layer)
  if not layer then return end
  for _, sec in ipairs(SECTIONS) do
    local src = layer[sec]
    if src then
      for k, x in pairs(src) do acc[sec][k] = x end
    end
  end
end

local function flat_backoff(out, prefix, b)
  if b.list then
    local l = {}
    for i, s in ipairs(b.list) do l[i] = s end
    out[prefix] = l
  else
    out[prefix .. "_first"] = b.first
    out[prefix .. "_factor"] = b.factor
    out[prefix .. "_max"] = b.max
    out[prefix .. "_jitter"] = b.jitter
  end
end

-- The flat table the state machine reads. Built once per (domain layer, reason layer).
-- Every duration is whole seconds, -1 meaning forever:
--   soft_max_attempts, soft_permanent_max_attempts (<= soft_max_attempts), soft_window
--     (-1: no window), soft_reset_after, hard_transient ("soft" or "suppress"),
--     retention_hard, retention_soft (for soft_exhausted),
--     retention_complaint, retention_unsubscribe, retention_manual, retention_domain
--     (a dead domain, see bounce.tracker);
--   soft_backoff = { s1, s2, ... } in the list form, or else soft_backoff_first,
--     soft_backoff_factor, soft_backoff_max, soft_backoff_jitter (all set, jitter 0..1);
--   block_backoff, or block_backoff_first/_factor/_max/_jitter, the same way.
local function build(st, dl, reason)
  local acc = { soft = {}, hard = {}, block = {}, retention = {} }
  merge_into(acc, st.base)
  merge_into(acc, reason and st.reasons[reason])
  merge_into(acc, dl)
  merge_into(acc, dl and reason and dl.reasons and dl.reasons[reason])
  local s, r = acc.soft, acc.retention
  local out = {
    soft_max_attempts = s.max_attempts,
    soft_permanent_max_attempts = min(s.permanent_max_attempts or s.max_attempts, s.max_attempts),
    soft_window = s.window,
    soft_reset_after = s.reset_after,
    hard_transient = acc.hard.transient,
    retention_hard = r.hard,
    retention_soft = r.soft,
    retention_complaint = r.complaint,
    retention_unsubscribe = r.unsubscribe,
    retention_manual = r.manual,
    retention_domain = r.domain,
  }
  flat_backoff(out, "soft_backoff", s.backoff)
  flat_backoff(out, "block_backoff", acc.block.backoff)
  return out
end

local NONE = {}
local state = setmetatable({}, { __mode = "k" })   -- policy object -> private state
local P = {}                                        -- methods of policy objects

-- syntax: r = p:resolve([domain [, reason]])
-- The settings for one recipient domain and bounce reason, as a flat table (see
-- build()). The same table comes back for the same inputs: treat it as read-only.
-- Unknown domains and reasons share the base settings, so the cache stays bounded by
-- the number of overrides in the policy, whatever the traffic.
function P.resolve(self, domain, reason)
  local st = state[self]
  if not st then error("bad argument #1 to 'resolve' (policy expected)", 2) end
  local dl = domain and (st.domains[domain] or st.domains[slower(domain)]) or nil
  local rk = reason and (st.reasons[reason] or (dl and dl.reasons and dl.reasons[reason]))
    and reason or NONE
  local row = st.cache[dl or NONE]
  if not row then
    row = {}
    st.cache[dl or NONE] = row
  end
  local r = row[rk]
  if not r then
    r = build(st, dl, rk ~= NONE and rk or nil)
    row[rk] = r
  end
  return r
end

-- syntax: seconds = policy.delay(resolved, kind, attempt [, rand])
-- The wait before retry number `attempt` (1 = after the first failure), computed
-- from a table p:resolve() returned; kind is "soft" or "block".
-- List form: step `attempt`, the last step repeating once the list runs out.
-- Exponential form: first * factor^(attempt-1), capped at max; then, if jitter > 0
-- and rand (in [0,1)) is given, scaled by 1 + jitter*(2*rand - 1), so rand = 0.5
-- keeps it, 0 takes jitter off, ~1 adds it. Rounded to whole seconds, at least 1.
local function delay(r, kind, attempt, rand)
  if kind ~= "soft" and kind ~= "block" then
    error("bad argument #2 to 'delay' (\"soft\" or \"block\" expected, got " .. show(kind) .. ")", 2)
  end
  if type(attempt) ~= "number" or attempt < 1 or floor(attempt) ~= attempt then
    error("bad argument #3 to 'delay' (integer >= 1 expected, got " .. show(attempt) .. ")", 2)
  end
  if rand ~= nil and (type(rand) ~= "number" or rand < 0 or rand >= 1) then
    error("bad argument #4 to 'delay' (number in [0,1) expected, got " .. show(rand) .. ")", 2)
  end
  local prefix = kind == "soft" and "soft_backoff" or "block_backoff"
  local list = r[prefix]
  if list then
    return list[attempt] or list[#list]
  end
  local d = r[prefix .. "_first"] * r[prefix .. "_factor"] ^ (attempt - 1)
  local cap = r[prefix .. "_max"]
  if d > cap then d = cap end
  local j = r[prefix .. "_jitter"]
  if rand and j > 0 then d = d * (1 + j * (2 * rand - 1)) end
  d = floor(d + 0.5)
  return d < 1 and 1 or d
end
_M.delay = delay

-- syntax: seconds = p:backoff(kind, attempt [, rand [, domain [, reason]]])
-- delay() over p:resolve(domain, reason).
function P.backoff(self, kind, attempt, rand, domain, reason)
  local r = P.resolve(self, domain, reason)
  local ok, v = pcall(delay, r, kind, attempt, rand)
  if not ok then error(v, 2) end
  return v
end

local RANK = { healthy = 0, caution = 1, throttle = 2, stop = 3 }
local NAMES = { [0] = "healthy", "caution", "throttle", "stop" }

local function rank(rate, t)
  if rate <= 0 then return 0 end
  if t.stop and rate >= t.stop then return 3 end
  if t.throttle and rate >= t.throttle then return 2 end
  if t.caution and rate >= t.caution then return 1 end
  return 0
end

-- syntax: level, judged = p:level(sent, hard, complaint)
-- The health level of a scope with these counts over the policy's health window:
-- "healthy", "caution", "throttle" or "stop", the worse of the hard-bounce rate and
-- the complaint rate (both per sent message). A rate reaches a level when it is at
-- or above that threshold (and above zero). Below health.min_sent sent messages
-- nothing is judged: the answer is "healthy", false. Otherwise judged is true.
function P.level(self, sent, hard, complaint)
  local st = state[self]
  if not st then error("bad argument #1 to 'level' (policy expected)", 2) end
  for i, v in ipairs({ sent, hard or 0, complaint or 0 }) do
    if type(v) ~= "number" or v < 0 then
      error("bad argument #" .. (i + 1) .. " to 'level' (number >= 0 expected, got "
        .. show(v) .. ")", 2)
    end
  end
  local h = st.health
  if sent < 1 or sent < h.min_sent then return "healthy", false end
  local a = rank((hard or 0) / sent, h.hard)
  local b = rank((complaint or 0) / sent, h.complaint)
  return NAMES[a > b and a or b], true
end
_M.level = P.level
_M.levels = RANK

------------------------------------------------------------------------------
-- Compiling
------------------------------------------------------------------------------

local TOP_KEYS = { "addresses", "block", "description", "domains", "hard", "health", "on_event",
                   "reasons", "retention", "soft" }

-- policies/default.lua, compiled: { base =, health =, addresses = }; set below.
-- Every other policy is compiled over it.
local defaults

-- What a policy may leave out, and so what the defaults must give.
local REQUIRED = {
  { "soft", "max_attempts" }, { "soft", "window" }, { "soft", "reset_after" },
  { "soft", "backoff" }, { "hard", "transient" },
  { "block", "backoff" },
  { "retention", "hard" }, { "retention", "soft" }, { "retention", "complaint" },
  { "retention", "unsubscribe" }, { "retention", "manual" }, { "retention", "domain" },
  { "health", "min_sent" }, { "health", "window" },
  { "addresses", "case_sensitive" },
}

-- The defaults are checked like any policy, and must besides be complete and
-- hold nothing that other policies would not inherit (overrides, a hook).
local function check_complete(t)
  for _, k in ipairs(REQUIRED) do
    local sec = t[k[1]]
    if type(sec) ~= "table" or sec[k[2]] == nil then
      fail(k[1] .. "." .. k[2], "missing: the default policy gives every key its value")
    end
  end
  for _, k in ipairs({ "reasons", "domains" }) do
    if type(t[k]) == "table" and next(t[k]) ~= nil then
      fail(k, "the default policy holds no overrides (other policies do not inherit them)")
    end
  end
  if t.on_event ~= nil then
    fail("on_event", "the default policy has no hook (other policies do not inherit it)")
  end
end

local NO_HEALTH = { hard = {}, complaint = {} }

local function compile_checked(t, d)
  only_keys(t, "", TOP_KEYS)
  if not d then check_complete(t) end
  local st = { reasons = {}, domains = {}, cache = {} }
  local b = { soft = {}, hard = {}, block = {}, retention = {} }
  if d then merge_into(b, d.base) end
  if t.soft ~= nil then merge_into(b, { soft = check_soft_section(t.soft, "soft") }) end
  if t.hard ~= nil then merge_into(b, { hard = check_hard_section(t.hard, "hard") }) end
  if t.block ~= nil then merge_into(b, { block = check_block_section(t.block, "block") }) end
  if t.retention ~= nil then merge_into(b, { retention = check_retention(t.retention, "retention") }) end
  st.base = b
  if t.reasons ~= nil then st.reasons = check_reasons(t.reasons, "reasons") end
  if t.domains ~= nil then st.domains = check_domains(t.domains, "domains") end
  st.health = check_health(t.health, "health", d and d.health or NO_HEALTH)
  local addresses = { case_sensitive = d and d.addresses.case_sensitive }
  if t.addresses ~= nil then
    check_table(t.addresses, "addresses", "a table")
    only_keys(t.addresses, "addresses", { "case_sensitive" })
    local cs = t.addresses.case_sensitive
    if cs ~= nil and type(cs) ~= "boolean" then
      expected("addresses.case_sensitive", "a boolean", cs)
    end
    if cs ~= nil then addresses.case_sensitive = cs end
  end
  addresses.case_sensitive = addresses.case_sensitive == true
  if t.on_event ~= nil and type(t.on_event) ~= "function" then
    expected("on_event", "a function(event, record, decision)", t.on_event)
  end
  if t.description ~= nil and (type(t.description) ~= "string" or #t.description > 200) then
    expected("description", "a string of at most 200 bytes", t.description)
  end
  return st, addresses
end

local function new_policy(st, addresses, t, source, fingerprint)
  local fields = setmetatable({
    source = source,
    fingerprint = fingerprint,
    health = st.health,
    addresses = addresses,
    on_event = t.on_event,
    description = t.description,
  }, { __index = P })
  local p = setmetatable({}, {
    __index = fields,
    __newindex = function(_, k)
      error("policy objects are read-only (tried to set '" .. tostring(k) .. "')", 2)
    end,
    __metatable = "bounce.policy",
    __tostring = function() return "bounce.policy: " .. source end,
  })
  state[p] = st
  return p
end

-- `source` names the policy in messages; `name`, when given, in the object.
local function compile(t, source, fingerprint, name)
  if type(t) ~= "table" then
    return nil, source .. ": expected the policy to be a table, got " .. show(t)
  end
  local ok, st, addresses = pcall(compile_checked, t, defaults)
  if not ok then
    if type(st) == "table" and getmetatable(st) == Fail then
      return nil, source .. ": " .. st.msg
    end
    return nil, source .. ": " .. tostring(st)
  end
  return new_policy(st, addresses, t, name or source, fingerprint)
end

------------------------------------------------------------------------------
-- The sandbox
------------------------------------------------------------------------------

local function copy(lib, drop)
  local c = {}
  for k, v in pairs(lib) do
    if not drop or not drop[k] then c[k] = v end
  end
  return c
end

local function prefixed(source, msg)
  if type(msg) ~= "string" then
    msg = "error object is a " .. type(msg)
  end
  if ssub(msg, 1, #source + 1) == source .. ":" then return msg end
  return source .. ": " .. msg
end

-- string.rep with the size of its result checked first: a policy may not
-- build a string larger than its whole memory bound.
local function bounded_rep(s, n, sep)
  if type(n) == "number" and n > 1 and (type(s) == "string" or type(s) == "number") then
    local size = #tostring(s) * n
    if type(sep) == "string" or type(sep) == "number" then size = size + #tostring(sep) * (n - 1) end
    if size > MAX_MEMORY then
      error(sformat("string.rep: a result of %.0f bytes is larger than a policy may hold (%d MiB)",
        size, MAX_MEMORY / 1048576), 2)
    end
    -- Lua's own would loop n times to copy nothing: ("").rep(1e15) never returns
    if size == 0 then return "" end
  end
  return srep(s, n, sep)
end

-- A fresh environment per load: copies of the safe libraries (so a policy cannot
-- change the host's), no io/os/require/load/debug/package/metatables/rawset, and no
-- global writes. Reading a name the sandbox lacks is an error too, which says why.
-- string.find, match, gmatch and gsub are bounce.core's bounded ones (pattern.c:
-- Lua's own backtrack in C, out of the instruction hook's reach), string.rep
-- checks its size. Returns the environment and the box run() needs: the
-- sandbox's string table (strings' methods while the policy runs) and the
-- pattern functions' budget.
local function sandbox(what)
  what = what or "policy"
  local pf = core.pattern_funcs()
  local str = copy(string, { dump = true })
  str.find, str.match, str.gmatch, str.gsub = pf.find, pf.match, pf.gmatch, pf.gsub
  str.rep = bounded_rep
  local safe = {
    string = str,
    math = copy(math, { randomseed = true }),
    table = copy(table),
    assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs,
    pcall = pcall, select = select, tonumber = tonumber, tostring = tostring,
    type = type, xpcall = xpcall, unpack = rawget(table, "unpack") or rawget(_G, "unpack"),
  }
  local utf8 = rawget(_G, "utf8")
  if utf8 then safe.utf8 = copy(utf8) end
  setmetatable(safe, {
    __index = function(_, k)
      error(what .. " may not use '" .. tostring(k) .. "' (not available in the policy sandbox)", 2)
    end,
  })
  -- The environment itself stays empty, so every assignment reaches __newindex,
  -- even one to a name the sandbox provides (`string = nil`).
  return setmetatable({}, {
    __index = safe,
    __newindex = function(_, k)
      error(what .. " may not set global '" .. tostring(k) .. "'", 2)
    end,
    __metatable = false,
  }), { string = str, budget = pf.budget, what = what }
end

local function compile_chunk(src, chunkname, env)
  if setfenv then
    local f, err = loadstring(src, chunkname)
    if f then setfenv(f, env) end
    return f, err
  end
  return load(src, chunkname, "t", env)
end

-- Strings' metatable: while policy code runs its __index is the sandbox's
-- string table, so that ("x"):find(...) reaches the bounded functions too.
local string_mt = getmetatable("")
local guard = core.memory_guard()

-- ok, v, instructions, pattern steps, bytes allocated, seconds = run(f, box, limits, ...)
-- Runs f(...) in its own coroutine under limits = { steps = VM instructions,
-- pattern = pattern steps, memory = growth in bytes, alloc = bytes allocated,
-- seconds = CPU time, checked with the instruction count: it catches what
-- counts miss, such as an operation on a long string repeated by a loop
-- where LuaJIT reuses the interned result without allocating }, with
-- strings' methods taken from box.string; everything is put back
-- afterwards, on error too. A spent pattern budget fails the run even when
-- the policy caught the error; a refused allocation raises "not enough
-- memory" where it happened, and a policy that catches it goes on, still
-- inside the bound. LuaJIT runs hooks
-- only in interpreted code: the caller keeps f out of the JIT.
local function run(f, box, limits, ...)
  local what = box.what
  local co = co_create(f)
  -- LuaJIT keeps one hook for all coroutines: put the caller's back afterwards.
  local old_hook, old_mask, old_count = debug_gethook()
  local steps, over, max = 0, false, limits.steps
  -- the clock starts at the first tick: a run shorter than HOOK_EVERY
  -- instructions (most hook calls) never asks it
  local t0, deadline
  debug_sethook(co, function()
    if co_running() ~= co then return end   -- LuaJIT: the caller's thread
    steps = steps + HOOK_EVERY
    local now = os_clock()
    if not t0 then t0, deadline = now, now + limits.seconds end
    if steps > max or now > deadline then
      if not over then
        over = true
        -- from now on every instruction fails, so a pcall inside cannot swallow it
        debug_sethook(co, function()
          if co_running() == co then error(what .. " ran too long", 2) end
        end, "", 1)
      end
      -- where in the policy, when policy code (not a sandbox helper) was running
      local info = debug_getinfo(2, "S")
      error(sformat("%s ran too long (more than %d instructions or %g s of CPU time)", what, max,
        limits.seconds), info and info.source == box.chunkname and 2 or 0)
    end
  end, "", HOOK_EVERY)
  box.budget(limits.pattern)
  local saved = string_mt.__index
  string_mt.__index = box.string
  guard:enter(limits.memory, limits.alloc)
  local ok, v = co_resume(co, ...)
  local refused, pending, _, allocated = guard:leave()
  string_mt.__index = saved
  local pleft = box.budget(0)
  debug_sethook(co)
  if old_hook then debug_sethook(old_hook, old_mask, old_count) end
  -- A refused allocation raised "not enough memory" where it happened; a
  -- policy that caught it goes on, still inside the bound.
  if refused and (pending or (not ok and sfind(tostring(v), "not enough memory", 1, true))) then
    ok = false
    v = allocated + 65536 >= limits.alloc
      and sformat("%s allocated more than %d MiB", what, limits.alloc / 1048576)
      or sformat("%s needs more than %d MiB of memory", what, limits.memory / 1048576)
  elseif pleft <= 0 and limits.pattern > 0 and ok then
    ok, v = false, sformat("%s: pattern matching ran out of steps (a policy run may take %d)", what,
                           limits.pattern)
  elseif ok and co_status(co) ~= "dead" then
    ok, v = false, what .. " may not yield"
  end
  return ok, v, steps, limits.pattern - pleft, allocated, t0 and os_clock() - t0 or 0
end

local LOAD_LIMITS = { steps = MAX_STEPS, pattern = MAX_STEPS, memory = MAX_MEMORY,
                      alloc = MAX_LOAD_ALLOC, seconds = MAX_LOAD_SECONDS }

local HOOK_LIMITS = { steps = MAX_HOOK_STEPS, pattern = MAX_HOOK_STEPS, memory = MAX_MEMORY,
                      alloc = MAX_HOOK_ALLOC, seconds = MAX_HOOK_SECONDS }

local function run_bounded(f, box)
  if jit then jit.off(f, true) end
  local ok, v = run(f, box, LOAD_LIMITS)
  if jit then jit.on(f, true) end
  return ok, v
end

-- syntax: b = policy.hook_budget()
-- One budget for the on_event calls of a batch (a webhook request): the
-- hooks of its events may together run at most BATCH_STEPS instructions and
-- pattern steps, allocate BATCH_ALLOC bytes and take BATCH_SECONDS of CPU. Handed to t:record(ev, into,
-- b): once spent, the remaining events keep the tracker's decisions, each
-- with a hook_error saying so, and b.spent is true.
function _M.hook_budget()
  return { steps = BATCH_STEPS, pattern = BATCH_STEPS, alloc = BATCH_ALLOC,
           seconds = BATCH_SECONDS, spent = false, skipped = 0 }
end

-- What an on_event hook may return: the decision table, each field checked.
-- rcpt, event and at are facts about the event, not choices: they must come
-- back as they went in.
local DECISION = {
  action = { send = true, retry = true, suppress = true, hold = true },
  state = { active = true, bouncing = true, suppressed = true },
  cause = { hard = true, soft_exhausted = true, complaint = true, unsubscribe = true,
            manual = true },
}
local DECISION_KEYS = { "action", "at", "attempts", "cause", "event", "expires_at", "rcpt",
                        "reason", "retry_at", "since", "state" }
local TIME_MAX = 4294967295
-- Fields a returned table may leave out, keeping the tracker's value; the
-- others (retry_at, expires_at, since, cause) are as returned, nil for none.
local KEPT = { state = true, reason = true, attempts = true, rcpt = true, event = true, at = true }

local function decision_field(k, v, d)
  local set = DECISION[k]
  if set then
    if v == nil and k == "cause" then return true end
    if set[v] then return true end
    local names = {}
    for n in pairs(set) do names[#names + 1] = n end
    sort(names)
    return nil, "expected " .. (k == "cause" and "nil or " or "") .. concat(names, ", ") .. ", got "
      .. show(v)
  elseif k == "reason" then
    if IS_REASON[v] then return true end
    return nil, "expected a reason name (bounce.reasons), got " .. show(v)
  elseif k == "attempts" then
    if type(v) == "number" and v == v and floor(v) == v and v >= 0 and v <= 1000000 then
      return true
    end
    return nil, "expected an integer 0..1000000, got " .. show(v)
  elseif k == "retry_at" or k == "expires_at" or k == "since" then
    if v == nil or (type(v) == "number" and v == v and floor(v) == v and v >= 1 and v <= TIME_MAX) then
      return true
    end
    return nil, "expected nil or a time (whole unix seconds 1.." .. TIME_MAX .. "), got " .. show(v)
  end
  if v == d[k] then return true end                 -- rcpt, event, at
  return nil, "may not be changed (was " .. show(d[k]) .. ", got " .. show(v) .. ")"
end

-- syntax: ok, err = policy.check_decision(returned, decision)
-- Checks what an on_event hook returned against the tracker's decision it
-- was given: a table with only the decision's fields (DECISION_KEYS), each
-- of its type and range; state, reason, attempts, rcpt, event and at left
-- out keep the tracker's. When it passes, its fields are written into
-- `decision` (which the tracker then answers with); otherwise `decision` is
-- left alone and err names the field:
--   "on_event returned a bad decision: field 'retry_at': expected nil or a time ..."
local ALLOWED = {}
for _, k in ipairs(DECISION_KEYS) do ALLOWED[k] = true end

-- The first problem in DECISION_KEYS order (unknown fields first), so that
-- the message does not depend on pairs' order.
local function decision_error(ret, d)
  local unknown = {}
  for k in pairs(ret) do
    if not ALLOWED[k] then unknown[#unknown + 1] = k end
  end
  if #unknown > 0 then
    sort(unknown, function(a, b) return tostring(a) < tostring(b) end)
    return "on_event returned a bad decision: unknown field " .. show(unknown[1]) .. ", expected "
      .. concat(DECISION_KEYS, ", ")
  end
  for _, k in ipairs(DECISION_KEYS) do
    local v = ret[k]
    if v ~= d[k] and not (v == nil and KEPT[k]) then
      local ok, why = decision_field(k, v, d)
      if not ok then return "on_event returned a bad decision: field '" .. k .. "': " .. why end
    end
  end
end

local OPTIONAL = { "retry_at", "expires_at", "since", "cause" }

function _M.check_decision(ret, d)
  if type(ret) ~= "table" or not DECISION.action[ret.action] then
    return nil, "on_event returned " .. (type(ret) == "table"
      and "an invalid action " .. (type(ret.action) == "string" and "'" .. ret.action .. "'"
        or show(ret.action)) or "a " .. type(ret))
      .. ", expected a decision table with action send, retry, suppress or hold"
  end
  -- one pass over what came back: what the tracker gave is valid as it is,
  -- only changes are checked; a field left out is nil, which the optional
  -- ones may be and the others keep the tracker's value for
  for k, v in pairs(ret) do
    if not ALLOWED[k] or (v ~= d[k] and not decision_field(k, v, d)) then
      return nil, decision_error(ret, d)
    end
  end
  if ret ~= d then
    for k, v in pairs(ret) do d[k] = v end
    for i = 1, #OPTIONAL do
      local k = OPTIONAL[i]
      d[k] = ret[k]
    end
  end
  return true
end

local function copy_table(t)
  if type(t) ~= "table" then return t end
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

-- A policy file's on_event, wrapped so that each call runs in its own
-- coroutine under an instruction, pattern and memory bound: a runaway hook
-- (an endless loop in a user's edit) fails that event's hook with "on_event
-- ran too long" (the tracker keeps its own decision) instead of hanging the
-- host. Errors name the policy file. The hook sees a copy of the event (the
-- tracker hands it a fresh record and a copy of its decision). `batch`, when given, is a policy.hook_budget() the
-- call draws from. Kept out of LuaJIT's compiler, which would skip the
-- count hook.
local function bounded_hook(fn, box, source)
  if jit then jit.off(fn, true) end
  local hbox = { string = box.string, budget = box.budget, what = "on_event",
                 chunkname = box.chunkname }
  return function(event, record, decision, batch)
    local limits = HOOK_LIMITS
    if batch then
      limits = { steps = MAX_HOOK_STEPS, pattern = MAX_HOOK_STEPS, memory = MAX_MEMORY,
                 alloc = MAX_HOOK_ALLOC, seconds = MAX_HOOK_SECONDS }
      if batch.spent or batch.steps < HOOK_EVERY or batch.pattern < 1 or batch.alloc < 65536
         or batch.seconds <= 0 then
        batch.spent = true
        batch.skipped = batch.skipped + 1
        error(sformat("%s: on_event not run: the batch's budget for policy hooks is spent"
          .. " (%d instructions, %d pattern steps, %d MiB allocated, %g s of CPU time)", source,
          BATCH_STEPS, BATCH_STEPS, BATCH_ALLOC / 1048576, BATCH_SECONDS), 0)
      end
      limits.steps = min(limits.steps, batch.steps)
      limits.pattern = min(limits.pattern, batch.pattern)
      limits.alloc = min(limits.alloc, batch.alloc)
      limits.seconds = min(limits.seconds, batch.seconds)
    end
    local ok, v, isteps, psteps, bytes, secs = run(fn, hbox, limits, copy_table(event), record,
                                                   decision)
    if batch then
      batch.steps = batch.steps - isteps
      batch.pattern = batch.pattern - psteps
      batch.alloc = batch.alloc - bytes
      batch.seconds = batch.seconds - secs
    end
    if not ok then error(prefixed(source, v), 0) end
    return v
  end
end

local function fingerprint_of(src)
  local h = 0
  for i = 1, #src, 4096 do
    local bytes = { sbyte(src, i, i + 4095) }
    for j = 1, #bytes do h = (h * 31 + bytes[j]) % 4294967296 end
  end
  return sformat("%08x-%d", h, #src)
end


-- Compile policy source text; `source` names it in messages. For the
-- defaults, `name` names the object and `installed` runs the chunk as a
-- plain call: the instruction bound guards against runaway edits of a user's
-- policy, but its coroutine cannot run inside `require` in OpenResty (no
-- yield across a C call), and the defaults load when this module does.
local function load_source(src, source, name, installed)
  if #src > MAX_FILE then
    return nil, source .. ": policy file larger than " .. MAX_FILE .. " bytes"
  end
  if sbyte(src, 1) == 27 then
    return nil, source .. ": binary (precompiled) chunks are not allowed"
  end
  local env, box = sandbox()
  box.chunkname = "@" .. source
  local f, err = compile_chunk(src, box.chunkname, env)
  if not f then return nil, prefixed(source, err) end
  local ok, t
  if installed then
    box.budget(MAX_STEPS)   -- its string.find & co. are the sandbox's, so they need steps
    ok, t = pcall(f)
    box.budget(0)
  else
    ok, t = run_bounded(f, box)
  end
  if not ok then return nil, prefixed(source, t) end
  if type(t) == "table" and type(t.on_event) == "function" then
    t.on_event = bounded_hook(t.on_event, box, source)
  end
  return compile(t, source, fingerprint_of(src), name)
end

local function read_file(path)
  local fh, err = io_open(path, "rb")
  if not fh then return nil, err end
  local src = fh:read(MAX_FILE + 1)
  fh:close()
  return src or ""
end

------------------------------------------------------------------------------
-- Public API
------------------------------------------------------------------------------

-- syntax: ok = policy.is_policy(v)
local function is_policy(v) return state[v] ~= nil end
_M.is_policy = is_policy

-- syntax: p, err = policy.load(path_or_table [, name])
-- A path is read and run in the sandbox; a table is checked as is (it is host
-- code, so its on_event is not sandboxed). `name` replaces the path (default) or
-- "policy" (for a table) in messages. A compiled policy comes back unchanged.
-- Bad arguments raise; a bad policy returns nil and a message such as
--   "policies/x.lua: soft.max_attempts: expected an integer 1..1000, got -3"
--   "policies/x.lua:3: policy may not set global 'x'"   (Lua errors keep their line)
function _M.load(v, name)
  if name ~= nil and type(name) ~= "string" then
    error("bad argument #2 to 'load' (string expected, got " .. type(name) .. ")", 2)
  end
  if is_policy(v) then return v end
  if type(v) == "table" then return compile(v, name or "policy") end
  if type(v) ~= "string" then
    error("bad argument #1 to 'load' (string or table expected, got " .. type(v) .. ")", 2)
  end
  local src, err = read_file(v)
  if not src then return nil, (name or v) .. ": cannot read: " .. tostring(err) end
  return load_source(src, name or v)
end

-- syntax: p, err = policy.load_string(source_text [, name])
function _M.load_string(src, name)
  if type(src) ~= "string" then
    error("bad argument #1 to 'load_string' (string expected, got " .. type(src) .. ")", 2)
  end
  return load_source(src, name or "policy")
end

-- syntax: v, err = policy.run_source(text, name [, what])
-- syntax: v, err = policy.run_file(path [, what])
-- Run a Lua file that is data, not host code (a rules file), as a policy
-- file runs: in the sandbox, text only, at most 1 MiB, bounded to the same
-- 10 million instructions. Return what the chunk returns, or nil and a
-- message naming the file ("rules.lua:3: rules file may not use 'os' ...").
-- `what` names the kind of file in messages (default "policy").
function _M.run_source(src, name, what)
  if type(src) ~= "string" then
    error("bad argument #1 to 'run_source' (string expected, got " .. type(src) .. ")", 2)
  end
  if type(name) ~= "string" then
    error("bad argument #2 to 'run_source' (string expected, got " .. type(name) .. ")", 2)
  end
  what = what or "policy"
  if #src > MAX_FILE then
    return nil, name .. ": " .. what .. " larger than " .. MAX_FILE .. " bytes"
  end
  if sbyte(src, 1) == 27 then
    return nil, name .. ": binary (precompiled) chunks are not allowed"
  end
  local env, box = sandbox(what)
  box.chunkname = "@" .. name
  local f, err = compile_chunk(src, box.chunkname, env)
  if not f then return nil, prefixed(name, err) end
  local ok, v = run_bounded(f, box)
  if not ok then return nil, prefixed(name, v) end
  return v
end

function _M.run_file(path, what)
  if type(path) ~= "string" then
    error("bad argument #1 to 'run_file' (string expected, got " .. type(path) .. ")", 2)
  end
  local src, rerr = read_file(path)
  if not src then return nil, path .. ": cannot read: " .. tostring(rerr) end
  return _M.run_source(src, path, what)
end

-- Where policies/default.lua is: beside this module when installed
-- (bounce/policies/default.lua, as the rockspec and `make install` put it),
-- else in the checkout (lua/bounce/policy.lua -> policies/default.lua), else
-- anywhere on package.path as bounce/policies/default.lua (a module
-- loaded without its file name, such as stripped bytecode).
local function default_candidates()
  local list = {}
  local src = debug_getinfo(1, "S").source
  if ssub(src, 1, 1) == "@" then
    local dir = smatch(src, "^@(.*)/[^/]*$") or "."
    list[#list + 1] = dir .. "/policies/default.lua"
    list[#list + 1] = dir .. "/../../policies/default.lua"
  end
  for template in (package_path .. ";"):gmatch("([^;]*);") do
    if sfind(template, "?", 1, true) then
      list[#list + 1] = (template:gsub("%?", "bounce/policies/default"))
    end
  end
  return list
end

-- Loads the defaults once, when this module is loaded. Without them no
-- policy can be compiled, so a missing or broken file raises.
local default_policy
do
  local list, src, path = default_candidates(), nil, nil
  for _, candidate in ipairs(list) do
    src = read_file(candidate)
    if src then path = candidate break end
  end
  if not src then
    error("bounce.policy: the default policy (policies/default.lua) is not installed; looked in "
      .. concat(list, ", "), 0)
  end
  local p, err = load_source(src, path, "default", true)
  if not p then error("bounce.policy: the default policy is broken: " .. err, 0) end
  local st = state[p]
  defaults = { base = st.base, health = st.health, addresses = p.addresses }
  default_policy = p
end

-- syntax: p = policy.default()
-- The defaults: policies/default.lua, compiled (p.source is "default").
function _M.default() return default_policy end

-- syntax: r, err = policy.reloader(path [, opts])
-- opts.interval: seconds between looks at the file (default 1; 0 = every get()).
-- opts.clock: function returning seconds (default ngx.now inside OpenResty, else
-- os.time). Loads the file now: nil, err when that fails.
--   p, err = r:get()     -- the current policy; re-reads the file once `interval`
--                        -- has passed and recompiles when its content changed.
--                        -- A broken edit keeps the previous policy: p is that
--                        -- one and err says what is wrong, for as long as the
--                        -- broken content stays in the file.
--   p, err = r:reload()  -- the same, now, whatever the interval.
--   r.path, r.loads (number of successful compilations)
local R = {}
R.__index = R

function R:reload()
  self.checked = self.clock()
  local src, rerr = read_file(self.path)
  if not src then
    self.err = self.path .. ": cannot read: " .. tostring(rerr)
    self.content = nil
    return self.policy, self.err
  end
  if src == self.content then return self.policy, self.err end
  self.content = src
  local p, err = load_source(src, self.path)
  if p then
    self.policy, self.err = p, nil
    self.loads = self.loads + 1
  else
    self.err = err
  end
  return self.policy, self.err
end

function R:get()
  if self.clock() - self.checked >= self.interval then return self:reload() end
  return self.policy, self.err
end

function _M.reloader(path, opts)
  if type(path) ~= "string" then
    error("bad argument #1 to 'reloader' (string expected, got " .. type(path) .. ")", 2)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error("bad argument #2 to 'reloader' (table expected, got " .. type(opts) .. ")", 2)
  end
  opts = opts or {}
  local interval = opts.interval == nil and 1 or opts.interval
  if type(interval) ~= "number" or interval < 0 then
    error("bad argument #2 to 'reloader' (opts.interval must be a number >= 0)", 2)
  end
  local clock = opts.clock
  if clock == nil then
    local ngx = rawget(_G, "ngx")
    clock = ngx and ngx.now or os_time
  elseif type(clock) ~= "function" then
    error("bad argument #2 to 'reloader' (opts.clock must be a function)", 2)
  end
  local r = setmetatable({ path = path, interval = interval, clock = clock, loads = 0,
                           checked = 0 }, R)
  local p, err = r:reload()
  if not p then return nil, err end
  return r
end

return _M
