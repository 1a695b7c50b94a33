-- bounce: what a mail sender should do after a delivery fails.
--
-- The public Lua API over the C core (`bounce.core`). Every stage is usable
-- alone: classify replies, parse bounce messages, track history.

local core = require("bounce.core")

local type, error, setmetatable, getmetatable, require = type, error, setmetatable, getmetatable, require
local sfind, sbyte, ssub, slower = string.find, string.byte, string.sub, string.lower
local jit = rawget(_G, "jit")

local _M = { _VERSION = core._VERSION }

-- syntax: r, err = bounce.classify(reply [, opts])
-- opts.rhost (remote host), opts.command ("RCPT", "DATA", ...), opts.rules.
-- Under LuaJIT the FFI path gives the same results, faster.
_M.classify = (jit and require("bounce.ffi_classify")) or core.classify

-- syntax: t = bounce.type_of(reason [, permanent])
_M.type_of = core.type_of

-- syntax: what, reason = bounce.describe("5.1.1")
_M.describe = core.describe

-- The reasons, in table order, each with the type it implies.
_M.reasons = core.reasons()

local rules_methods = getmetatable(core.default_rules).__index

-- syntax: r, err = rules:classify(reply [, opts])
function rules_methods.classify(self, reply, opts)
  if opts == nil then
    return core.classify(reply, { rules = self })
  end
  if type(opts) ~= "table" then
    error("bad argument #2 to 'classify' (table expected, got " .. type(opts) .. ")", 2)
  end
  local o = { rhost = opts.rhost, command = opts.command, rules = self }
  return core.classify(reply, o)
end

-- bounce.rules: the rule set bounce.classify uses, and new ones.
local default = core.default_rules

local rules = {}

-- syntax: ok, err = bounce.rules.add{ pattern = "...", reason = "...",
--   code = "55", status = "5.7.", rhost = "example.com", command = "RCPT",
--   name = "...", example = "..." }
function rules.add(def)
  if type(def) ~= "table" then
    error("bad argument #1 to 'add' (table expected, got " .. type(def) .. ")", 2)
  end
  return default:add(def)
end

-- syntax: list = bounce.rules.list()
function rules.list() return default:list() end

-- syntax: bounce.rules.clear()   -- removes the rules added at run time
function rules.clear() return default:clear() end

-- syntax: problems = bounce.rules.check()
function rules.check() return default:check() end

-- syntax: n = bounce.rules.count()
function rules.count() return default:count() end

-- syntax: set = bounce.rules.new([builtin])   -- builtin defaults to true
function rules.new(builtin)
  if builtin ~= nil and type(builtin) ~= "boolean" then
    error("bad argument #1 to 'new' (boolean expected, got " .. type(builtin) .. ")", 2)
  end
  return core.new_rules(builtin ~= false)
end

rules.default = default
_M.rules = setmetatable(rules, { __index = function(_, k)
  error("bounce.rules has no field '" .. tostring(k) .. "'", 2)
end })

-- The value of the first Date header in the header block that starts msg
-- (the bounce's own, not the returned message's), unfolded; nil when none.
-- Plain searches and byte tests where they do (a pattern costs a step per
-- byte of what it scans).
local function own_date(msg)
  local at
  if slower(ssub(msg, 1, 5)) == "date:" then
    at = 1
  else
    at = sfind(msg, "\nDate:", 1, true)
    if at then
      local before = ssub(msg, 1, at)   -- in the header block: no blank line before it
      if sfind(before, "\n\n", 1, true) or sfind(before, "\n\r\n", 1, true) then at = nil end
    end
    if not at then
      -- other spellings (DATE:, date:, "Date :"): a pattern, over the header block only
      local a, b = sfind(msg, "\n\n", 1, true), sfind(msg, "\n\r\n", 1, true)
      local stop = (a and b) and (a < b and a or b) or a or b or #msg
      at = sfind(ssub(msg, 1, stop), "\n[Dd][Aa][Tt][Ee][ \t]*:")
    end
    if not at then return nil end
    at = at + 1
  end
  local colon = sfind(msg, ":", at, true)
  local eol = sfind(msg, "\n", colon, true) or #msg + 1
  local value = ssub(msg, colon + 1, eol - 1)
  local c = sbyte(msg, eol + 1)
  while c == 32 or c == 9 do   -- folded onto the next line
    local nxt = sfind(msg, "\n", eol + 1, true) or #msg + 1
    value = value .. " " .. ssub(msg, eol + 1, nxt - 1)
    eol, c = nxt, sbyte(msg, nxt + 1)
  end
  if sbyte(value, -1) == 13 then value = ssub(value, 1, -2) end
  if sbyte(value, 1) == 32 then value = ssub(value, 2) end
  return value
end

-- syntax: results, err = bounce.parse(message [, opts])
-- One result per recipient of a bounce message (DSN, ARF, auto-reply, plain
-- text bounce); opts.headers names extra headers of the original message;
-- opts.verp, the local-part prefix of VERP return paths ("bounces+"), adds
-- verp_rcpt: the recipient the address the bounce was sent to names.
-- `at` is Last-Attempt-Date, else Arrival-Date (the C parser reads them);
-- a bounce that states neither is dated here by its own Date header, else
-- by the returned message's (r.date), as Sisimai does, so that a backlog is
-- recorded when it happened, not when it is read. at_from says which, for
-- those: "date" or "original-date" (absent when the report's dates gave it).
local date_parse = require("bounce.date").parse
local core_parse = core.parse
function _M.parse(message, opts)
  local list, err = core_parse(message, opts)
  if not list then return list, err end
  local fallback, from
  for i = 1, #list do
    local r = list[i]
    if r.at == nil then
      if fallback == nil then
        local own = own_date(message)
        fallback = own and date_parse(own)
        from = "date"
        if not fallback and type(r.date) == "string" then
          fallback, from = date_parse(r.date), "original-date"
        end
        fallback = fallback or false
      end
      if fallback then r.at, r.at_from = fallback, from end
    end
  end
  return list
end

-- syntax: bounce.verp.encode / decode / find   (bounce/verp.lua)
_M.verp = require("bounce.verp")

-- syntax: iter, err = bounce.messages(path_or_file [, opts])   (bounce/reader.lua)
-- for msg, where in iter do ... end: the messages of a file, an mbox or a
-- maildir, one at a time (memory stays flat on a large mailbox).
_M.messages = require("bounce.reader").messages

-- syntax: r, err = bounce.verify(addr [, opts])   (bounce/verify.lua)
-- Should mail go to addr at all: r.verdict (valid, invalid, risky,
-- unknown), r.why, and the checks syntax, domain, mx, history, smtp,
-- catch_all. Loaded on first use (it brings the resolver and LuaSocket).
_M.verify = function(addr, opts) return require("bounce.verify").verify(addr, opts) end

-- syntax: t, err = bounce.tracker{ policy = ..., store = ... }   (bounce.tracker.lua)
_M.tracker = function(opts) return require("bounce.tracker").new(opts) end
-- syntax: s = bounce.store.memory()   (the store interface: bounce/store.lua)
_M.store = setmetatable({}, { __index = function(_, k) return require("bounce.store")[k] end })

return _M
