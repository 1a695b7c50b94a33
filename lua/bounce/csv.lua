-- bounce.csv: RFC 4180 rows, written and read.
--
--   io.write(csv.row{ "a@example.com", "hard", "said \"no\", twice" }, "\r\n")
--   for fields, line in csv.reader(fh) do ... end   -- nil, err on bad quoting

local type, tostring, concat = type, tostring, table.concat

local _M = {}

-- syntax: s = csv.field(v)   -- v quoted when it holds , " CR or LF
function _M.field(v)
  if v == nil then return "" end
  v = tostring(v)
  if v:find('[,"\r\n]') then return '"' .. v:gsub('"', '""') .. '"' end
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
