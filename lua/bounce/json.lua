-- bounce.json: a small JSON encoder for the command line's output, so that
-- `bounce classify` needs nothing beyond Lua itself. Decoding uses lua-cjson.

local type, pairs, ipairs, tostring, concat, sort, format, floor =
  type, pairs, ipairs, tostring, table.concat, table.sort, string.format, math.floor

local _M = {}

local escapes = { ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
                  ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t' }

local function quote(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return escapes[c] or format("\\u%04x", c:byte())
  end) .. '"'
end

local encode

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
    if arr and n > 0 then
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
