-- bounce.json: a small JSON encoder for the command line's output, so that
-- `bounce classify` needs nothing beyond Lua itself. Decoding uses lua-cjson.

local type, pairs, ipairs, tostring, concat, sort, format, floor, getmetatable, setmetatable =
  type, pairs, ipairs, tostring, table.concat, table.sort, string.format, math.floor,
  getmetatable, setmetatable

local _M = require("bounce.version").lazy({})

local escapes = { ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
                  ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t' }

-- Replaces each byte that is not part of a well-formed UTF-8 sequence with
-- U+FFFD, so the output stays valid JSON whatever a reply contained.
local function valid_utf8(s)
  if not s:find("[\128-\255]") then return s end
  local out, i, n = {}, 1, #s
  while i <= n do
    local c = s:byte(i)
    local len = c < 0x80 and 1 or (c >= 0xC2 and c <= 0xDF) and 2
      or (c >= 0xE0 and c <= 0xEF) and 3 or (c >= 0xF0 and c <= 0xF4) and 4 or 0
    local ok = len > 0 and i + len - 1 <= n
    for k = 1, len - 1 do
      local b = ok and s:byte(i + k)
      if not b or b < 0x80 or b > 0xBF then ok = false end
    end
    if ok and len == 3 then
      local b = s:byte(i + 1)
      ok = not ((c == 0xE0 and b < 0xA0) or (c == 0xED and b > 0x9F))
    elseif ok and len == 4 then
      local b = s:byte(i + 1)
      ok = not ((c == 0xF0 and b < 0x90) or (c == 0xF4 and b > 0x8F))
    end
    if ok then
      out[#out + 1] = s:sub(i, i + len - 1)
      i = i + len
    else
      out[#out + 1] = "\239\191\189"
      i = i + 1
    end
  end
  return concat(out)
end

local function quote(s)
  return '"' .. valid_utf8(s):gsub('[%c"\\]', function(c)
    return escapes[c] or format("\\u%04x", c:byte())
  end) .. '"'
end

local encode

-- syntax: t = json.array([t])   -- t encodes as an array, [] when empty
local ARRAY = {}
function _M.array(t) return setmetatable(t or {}, ARRAY) end

local function is_array(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n == #t, n
end

encode = function(v, out)
  local tv = type(v)
  if tv == "string" then
    out[#out + 1] = quote(v)
  elseif tv == "number" then
    if v ~= v or v == math.huge or v == -math.huge then
      out[#out + 1] = "null"
    elseif floor(v) == v and v > -2^53 and v < 2^53 then
      out[#out + 1] = format("%d", v)
    else
      out[#out + 1] = format("%.14g", v)
    end
  elseif tv == "boolean" then
    out[#out + 1] = tostring(v)
  elseif tv == "table" then
    local arr, n = is_array(v)
    if (arr and n > 0) or getmetatable(v) == ARRAY then
      out[#out + 1] = "["
      for i, x in ipairs(v) do
        if i > 1 then out[#out + 1] = "," end
        encode(x, out)
      end
      out[#out + 1] = "]"
    else
      local keys = {}
      for k in pairs(v) do keys[#keys + 1] = tostring(k) end
      sort(keys)
      out[#out + 1] = "{"
      for i, k in ipairs(keys) do
        if i > 1 then out[#out + 1] = "," end
        out[#out + 1] = quote(k)
        out[#out + 1] = ":"
        local x = v[k]
        if x == nil then x = v[tonumber(k)] end
        encode(x, out)
      end
      out[#out + 1] = "}"
    end
  else
    out[#out + 1] = "null"
  end
end

-- syntax: s = json.encode(value)   -- object keys sorted, for stable output
function _M.encode(v)
  local out = {}
  encode(v, out)
  return concat(out)
end

return _M
