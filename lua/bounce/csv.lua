-- bounce.csv: RFC 4180 rows, written and read.
--
--   io.write(csv.row{ "a@example.com", "hard", "said \"no\", twice" }, "\r\n")
--   for fields, line in csv.reader(fh) do ... end   -- nil, err on bad quoting

local type, tostring, concat, floor, format, find, gsub =
  type, tostring, table.concat, math.floor, string.format, string.find, string.gsub

local _M = require("bounce.version").lazy({})

-- syntax: s = csv.field(v)
-- nil is empty; a whole number is written without a decimal point; a string
-- starting with = + - @ gets a leading ' (a spreadsheet would run it as a
-- formula); a field holding , " CR or LF is quoted.
function _M.field(v)
  if v == nil then return "" end
  if type(v) == "number" then
    return (floor(v) == v and v > -2^53 and v < 2^53) and format("%d", v) or tostring(v)
  end
  v = tostring(v)
  if find(v, "^[=+%-@]") then v = "'" .. v end
  if find(v, '[,"\r\n]') then return '"' .. gsub(v, '"', '""') .. '"' end
  return v
end

-- syntax: s = csv.row(list [, n])   -- one line, without its line ending
function _M.row(list, n)
  local out = {}
  for i = 1, n or #list do out[i] = _M.field(list[i]) end
  return concat(out, ",")
end

-- syntax: for fields, lineno in csv.reader(fh) do ... end
-- Reads records from a file handle: quoted fields may hold commas, doubled
-- quotes and line breaks; LF or CRLF endings; a UTF-8 byte-order mark at
-- the start is dropped. A record with an unterminated quote raises
-- "line N: unterminated quoted field" (callers pcall the loop).
function _M.reader(fh)
  if type(fh) ~= "userdata" and type(fh) ~= "table" then
    error("bad argument #1 to 'reader' (file handle expected, got " .. type(fh) .. ")", 2)
  end
  local lineno, first = 0, true
  return function()
    local line = fh:read("*l")
    if line == nil then return nil end
    lineno = lineno + 1
    local start = lineno
    if first then
      first = false
      if line:sub(1, 3) == "\239\187\191" then line = line:sub(4) end
    end
    local fields, i, n = {}, 1, 0
    while true do
      local c = line:sub(i, i)
      n = n + 1
      if c == '"' then
        local buf, j = {}, i + 1
        while true do
          local q = line:find('"', j, true)
          if q == nil then
            buf[#buf + 1] = line:sub(j)
            local more = fh:read("*l")
            if more == nil then error("line " .. start .. ": unterminated quoted field", 0) end
            lineno = lineno + 1
            buf[#buf + 1] = "\n"
            line, j = more, 1
          elseif line:sub(q + 1, q + 1) == '"' then
            buf[#buf + 1] = line:sub(j, q)
            j = q + 2
          else
            buf[#buf + 1] = line:sub(j, q - 1)
            i = q + 1
            break
          end
        end
        fields[n] = concat(buf)
        local rest = line:sub(i):match("^[^,]*")
        i = i + #rest
      else
        local stop = line:find(",", i, true) or (#line + 1)
        fields[n] = line:sub(i, stop - 1)
        i = stop
      end
      if line:sub(i, i) == "," then
        i = i + 1
      else
        break
      end
    end
    local last = fields[n]
    if last and last:sub(-1) == "\r" then fields[n] = last:sub(1, -2) end
    return fields, start
  end
end

return _M
