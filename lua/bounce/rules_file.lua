-- bounce.rules_file: classification rules kept in a file, the way KumoMTA
-- and Sisimai users keep their custom wording. A rules file is a Lua file
-- that returns a list of rules, each what bounce.rules.add takes:
--
--   -- /etc/bounce/rules.lua
--   return {
--     { name = "acme-frozen", pattern = "account*frozen", reason = "suspend",
--       code = "55", example = "550 account frozen" },
--     { pattern = "mailbox is over its limit", reason = "mailboxfull" },
--   }
--
-- It runs in the policy sandbox (no io, os, require, load, debug; no global
-- writes; bounded time), so a rules file is data whoever wrote it. Its rules
-- go into a rule set ahead of the built-in ones, replacing the rules that
-- set had been given at run time: applying a file twice gives the same set.
-- By default that set is bounce.rules (the one bounce.classify, bounce.parse
-- and the tracker classify with). A file that does not load, or a rule that
-- is wrong, changes nothing: the set keeps what it had.

local policy = require("bounce.policy")

local type, pairs, ipairs, pcall, tostring, setmetatable, require, rawget =
  type, pairs, ipairs, pcall, tostring, setmetatable, require, rawget
local sfind, sformat, sgsub = string.find, string.format, string.gsub
local io_open, os_time = io.open, os.time

local _M = require("bounce.version").lazy({})

local MAX_RULES = 10000
local MAX_FILE = 1024 * 1024
local KEYS = { name = "string", pattern = "string", reason = "string", code = "string|number",
               status = "string", rhost = "string", command = "string", example = "string",
               final = "boolean" }

local function where(source, i, r)
  local n = type(r) == "table" and type(r.name) == "string" and " (" .. r.name .. ")" or ""
  return sformat("%s: rule %d%s", source, i, n)
end

-- nil, or what is wrong with rule r (a table) before the C side sees it.
local function shape_error(r)
  for k, v in pairs(r) do
    local want = KEYS[k]
    if not want then
      return "unknown key '" .. tostring(k) .. "' (a rule has name, pattern, reason, code, status, "
        .. "rhost, command, example, final)"
    end
    if not sfind(want, type(v), 1, true) then
      return sformat("%s: %s expected, got %s", k, sgsub(want, "|", " or "), type(v))
    end
    if type(v) == "string" and sfind(v, "%z") then return k .. ": a NUL byte is not allowed" end
  end
  if r.pattern == nil then return "pattern is missing" end
  if r.reason == nil then return "reason is missing" end
  return nil
end

-- syntax: rules, err = rules_file.check(value, source)
-- The value a rules file returned, checked: a list of rules that a fresh
-- rule set accepts, or nil and a message naming the source and the rule.
function _M.check(v, source)
  source = source or "rules"
  if type(v) ~= "table" then
    return nil, source .. ": a list of rules expected, got " .. type(v)
  end
  local n = #v
  for k in pairs(v) do
    if type(k) ~= "number" or k < 1 or k > n or k % 1 ~= 0 then
      return nil, source .. ": a list of rules expected (key '" .. tostring(k) .. "' is not a position)"
    end
  end
  if n > MAX_RULES then return nil, source .. ": more than " .. MAX_RULES .. " rules" end
  local bounce = require("bounce")
  local probe = bounce.rules.new(false)
  for i, r in ipairs(v) do
    if type(r) ~= "table" then return nil, where(source, i, r) .. ": table expected, got " .. type(r) end
    local why = shape_error(r)
    if not why then
      local ok, added, err = pcall(probe.add, probe, r)
      if not ok then why = sgsub(tostring(added), "^bad argument #1 to 'add' %((.*)%)$", "%1")
      elseif not added then why = err end
    end
    if why then return nil, where(source, i, r) .. ": " .. why end
  end
  return v
end

-- syntax: rules, err = rules_file.load(path)
-- Reads and checks a rules file (see check).
function _M.load(path)
  if type(path) ~= "string" then
    error("bad argument #1 to 'load' (string expected, got " .. type(path) .. ")", 2)
  end
  local v, err = policy.run_file(path, "rules file")
  if v == nil then return nil, err or (path .. ": returned nothing (a list of rules expected)") end
  return _M.check(v, path)
end

-- Replaces the run-time rules of set with rules (already checked).
local function install(set, rules)
  set:clear()
  for i, r in ipairs(rules) do
    local ok, err = set:add(r)
    if not ok then return nil, "rule " .. i .. ": " .. tostring(err) end
  end
  return #rules
end

local function default_set() return require("bounce").rules.default end

-- syntax: n, err = rules_file.apply(path [, set])
-- Loads the file and puts its rules into set (default bounce.rules) ahead
-- of the built-in rules, in place of the rules set had been given at run
-- time. Returns the number of rules, or nil and a message (set unchanged).
function _M.apply(path, set)
  local rules, err = _M.load(path)
  if not rules then return nil, err end
  return install(set or default_set(), rules)
end

local W = {}
W.__index = W

local function read(path)
  local f, err = io_open(path, "rb")
  if not f then return nil, err end
  local s = f:read(MAX_FILE + 1)
  f:close()
  return s or ""
end

-- syntax: changed, err = w:reload()
-- Reads the file now. When its text changed and loads, its rules replace the
-- set's (changed is true); when it does not load, the set keeps its rules and
-- err says why, for as long as the broken text stays in the file (changed is
-- false). Unchanged text: false, and the error of that text, if any.
function W:reload()
  self.checked = self.clock()
  local src, rerr = read(self.path)
  if not src then
    if self.content ~= false then
      self.content = false
      self.err = self.path .. ": cannot read: " .. tostring(rerr)
    end
    return false, self.err
  end
  if src == self.content then return false, self.err end
  self.content = src
  local v, err = policy.run_source(src, self.path, "rules file")
  if v == nil and not err then err = self.path .. ": returned nothing (a list of rules expected)" end
  local rules
  if v ~= nil then rules, err = _M.check(v, self.path) end
  if not rules then
    self.err = err
    return false, err
  end
  local n
  n, err = install(self.set, rules)
  if not n then
    self.err = self.path .. ": " .. err
    return false, self.err
  end
  self.err, self.count, self.loads = nil, n, self.loads + 1
  return true
end

-- syntax: changed, err = w:check()   -- reload() once `interval` has passed
function W:check()
  if self.clock() - self.checked >= self.interval then return self:reload() end
  return false, self.err
end

-- syntax: w, err = rules_file.watcher(path [, { interval = 1, clock = fn, set = set }])
-- Applies the file now (nil, err when it does not load), then follows its
-- edits through w:check() / w:reload(). w.count: rules in force; w.loads:
-- successful loads; w.err: why the file's current text is not in force.
function _M.watcher(path, opts)
  if type(path) ~= "string" then
    error("bad argument #1 to 'watcher' (string expected, got " .. type(path) .. ")", 2)
  end
  opts = opts or {}
  if type(opts) ~= "table" then
    error("bad argument #2 to 'watcher' (table expected, got " .. type(opts) .. ")", 2)
  end
  local interval = opts.interval == nil and 1 or opts.interval
  if type(interval) ~= "number" or interval < 0 then
    error("bad argument #2 to 'watcher' (opts.interval must be a number >= 0)", 2)
  end
  local ngx = rawget(_G, "ngx")
  local w = setmetatable({ path = path, interval = interval, set = opts.set or default_set(),
                           clock = opts.clock or (ngx and ngx.now) or os_time, checked = 0,
                           loads = 0, count = 0 }, W)
  local ok, err = w:reload()
  if not ok then return nil, err end
  return w
end

return _M
