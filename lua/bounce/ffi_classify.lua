-- bounce.ffi_classify: `bounce.classify` for LuaJIT through the FFI.
--
-- The C API path (bounce.core.classify) works everywhere, but LuaJIT cannot
-- compile calls through it. Here the same core functions are reached
-- through the function table bounce.core hands out (`core._ffi`), so a loop
-- of classify calls stays in compiled traces. Results are identical to the C
-- binding's (spec/unit/classify_spec.lua runs under both); calls with `opts`
-- take the C binding path. Returns nil when the FFI is not available.

local ok, ffi = pcall(require, "ffi")
if not ok then return nil end

local core = require("bounce.core")

local type, error, tonumber = type, error, tonumber
local ffi_string, ffi_new, ffi_cast = ffi.string, ffi.new, ffi.cast

pcall(ffi.cdef, [[
typedef struct {
  int code, st_class, st_subject, st_detail;
  char status[12];
  size_t text_len, rhost_off, rhost_len;
  int command;
} bnc_ffi_reply_t;
typedef struct {
  int reason, type, permanent, rule;
  char source[16];
  int context_changed;
} bnc_ffi_class_t;
typedef struct {
  const char *name, *pattern, *reason, *code, *status, *rhost, *command, *example;
} bnc_ffi_rule_t;
typedef struct {
  int abi;
  size_t reply_size, class_size;
  int (*parse)(const char *, size_t, char *, size_t, bnc_ffi_reply_t *);
  int (*compile)(void *);
  void (*classify)(const void *, const bnc_ffi_reply_t *, const char *, size_t,
                   const char *, size_t, bnc_ffi_class_t *);
  const bnc_ffi_rule_t *(*rule)(const void *, size_t);
  unsigned (*generation)(const void *);
} bnc_ffi_api_t;
]])

local api = ffi_cast("const bnc_ffi_api_t *", core._ffi)
if api.abi ~= 1 or tonumber(api.reply_size) ~= ffi.sizeof("bnc_ffi_reply_t")
   or tonumber(api.class_size) ~= ffi.sizeof("bnc_ffi_class_t") then
  return nil
end

local REASONS, TYPES = {}, {}
for i, r in ipairs(core.reasons()) do REASONS[i - 1] = r.name end
for i, t in ipairs({ "soft", "hard", "block", "delivered", "complaint", "auto_reply" }) do
  TYPES[i - 1] = t
end
local COMMANDS = { [0] = false, "CONNECT", "HELO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA" }

local rs = ffi_cast("void *", core.default_rules:_handle())
local reply = ffi_new("bnc_ffi_reply_t")
local class = ffi_new("bnc_ffi_class_t")
local buf_size = 4096
local buf = ffi_new("char[?]", buf_size)
local empty_msg = "empty reply: no code, status or text"

-- rule names by index, valid for one generation of the rule set
local names, names_gen = {}, -1
local statuses = {}

local function rule_name(i)
  local gen = api.generation(rs)
  if gen ~= names_gen then names, names_gen = {}, gen end
  local n = names[i]
  if not n then
    local d = api.rule(rs, i)
    n = d.name ~= nil and ffi_string(d.name) or "text:" .. ffi_string(d.pattern)
    names[i] = n
  end
  return n
end

local classify_c = core.classify

-- syntax: r, err = classify(reply [, opts])
return function(s, opts)
  if opts ~= nil or type(s) ~= "string" then
    return classify_c(s, opts)
  end
  local len = #s
  if len + 1 > buf_size then
    if len > core.REPLY_MAX then return classify_c(s) end
    buf_size = len + 1
    buf = ffi_new("char[?]", buf_size)
  end
  local rc = api.parse(s, len, buf, len + 1, reply)
  if rc ~= 0 then
    if rc == -1 then return nil, empty_msg end
    return classify_c(s)
  end
  if api.compile(rs) ~= 0 then error("not enough memory") end
  local rhost_len = tonumber(reply.rhost_len)
  local rhost_ptr = nil
  if rhost_len > 0 then rhost_ptr = ffi_cast("const char *", s) + reply.rhost_off end
  api.classify(rs, reply, buf, reply.text_len, rhost_ptr, rhost_len, class)
  local r = {
    text = ffi_string(buf, reply.text_len),
    reason = REASONS[class.reason],
    type = TYPES[class.type],
    permanent = class.permanent ~= 0,
  }
  local code = reply.code
  if code ~= 0 then r.code = code end
  if reply.st_class ~= 0 then
    -- the length tells "5.1.1" from "5.1.01", which share class, subject
    -- and detail
    local slen = reply.status[5] == 0 and 5 or reply.status[6] == 0 and 6 or 7
    local key = slen * 100000 + reply.st_class * 10000 + reply.st_subject * 1000
      + reply.st_detail
    local st = statuses[key]
    if not st then
      st = ffi_string(reply.status)
      statuses[key] = st
    end
    r.status = st
  end
  local cmd = COMMANDS[reply.command]
  if cmd then r.command = cmd end
  if rhost_len > 0 then
    local off = tonumber(reply.rhost_off)
    r.rhost = s:sub(off + 1, off + rhost_len)
  end
  local rule
  if class.rule >= 0 then
    rule = rule_name(class.rule)
    if class.context_changed ~= 0 then
      rule = "context:" .. (COMMANDS[reply.command] or "MAIL") .. "<" .. rule
    end
  else
    local src = ffi_string(class.source)
    local prefix = class.context_changed ~= 0 and "context:" or ""
    if src == "status" and r.status then
      rule = prefix .. "status:" .. r.status
    elseif src == "code" and code ~= 0 then
      rule = prefix .. "code:" .. code
    else
      rule = src
    end
  end
  r.rule = rule
  return r
end
