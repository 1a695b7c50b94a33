-- bounce: what a mail sender should do after a delivery fails.
--
-- The public Lua API over the C core (`bounce.core`). Every stage is usable
-- alone: classify replies, parse bounce messages, track history.

local core = require("bounce.core")

local type, error, setmetatable, getmetatable, require = type, error, setmetatable, getmetatable, require
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

-- syntax: results, err = bounce.parse(message [, opts])
-- One result per recipient of a bounce message (DSN, ARF, auto-reply, plain
-- text bounce); opts.headers names extra headers of the original message;
-- opts.verp, the local-part prefix of VERP return paths ("bounces+"), adds
-- verp_rcpt: the recipient the address the bounce was sent to names.
-- `at` is Last-Attempt-Date, else Arrival-Date, else the bounce's own Date
-- header, else the returned message's Date (bnc_message_at, in C): a backlog
-- is recorded when it happened, not when it is read. at_from says which, for
-- the last two: "date" or "original-date".
_M.parse = core.parse

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
