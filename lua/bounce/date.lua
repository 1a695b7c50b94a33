-- bounce.date: times as ESP payloads and suppression exports write them,
-- read into unix seconds.

local type, tostring, tonumber, floor = type, tostring, tonumber, math.floor
local match, sub = string.match, string.sub

local _M = require("bounce.version").lazy({})

local MAX = 4294967295   -- records keep times in 32 bits

-- Days from 1970-01-01 to a civil date (proleptic Gregorian).
local function days(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local doy = floor((153 * ((m + 9) % 12) + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

local function in_range(n, v)
  if n ~= n or n < 1 or n > MAX then return nil, "time out of range: " .. tostring(v), "range" end
  return floor(n)
end

-- syntax: t, err, kind = date.parse(v)
-- Unix seconds from a number or a string of digits (milliseconds when it is
-- too large to be seconds), or ISO 8601 / RFC 3339: "2024-01-02",
-- "2024-01-02 03:04", "2019-11-05T16:33:54.9070259Z", "...+02:00", "... UTC".
-- On failure nil, a message and its kind: "format" (not a time at all) or
-- "range" (before 1970 or past 2106).
function _M.parse(v)
  if type(v) == "number" then return in_range(v > 1e11 and v / 1000 or v, v) end
  if type(v) ~= "string" then return nil, "time expected, got " .. type(v), "format" end
  local s = match(v, "^%s*(.-)%s*$")
  local n = match(s, "^%d+%.?%d*$") and tonumber(s)
  if n then return in_range(n > 1e11 and n / 1000 or n, s) end
  local shown = "'" .. sub(s, 1, 40) .. "'"
  local y, mo, d, rest = match(s, "^(%d%d%d%d)%-(%d%d)%-(%d%d)(.*)$")
  if not y then return nil, "not a date: " .. shown, "format" end
  local h, mi, sec, zone = 0, 0, 0, ""
  if rest ~= "" then
    local hh, mm, tail = match(rest, "^[T ](%d%d):(%d%d)(.*)$")
    if not hh then return nil, "not a date: " .. shown, "format" end
    h, mi = tonumber(hh), tonumber(mm)
    local ss, after = match(tail, "^:(%d%d)(.*)$")
    if ss then sec, tail = tonumber(ss), after end
    zone = match(tail, "^[.,]?%d*%s*(.*)$")
  end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  if mo < 1 or mo > 12 or d < 1 or d > 31 or h > 23 or mi > 59 or sec > 60 then
    return nil, "not a date: " .. shown, "format"
  end
  local off = 0
  if zone ~= "" and zone ~= "Z" and zone ~= "z" and zone ~= "UTC" and zone ~= "GMT" then
    local sign, zh, zm = match(zone, "^([+-])(%d%d):?(%d%d)$")
    if not sign then return nil, "unknown time zone '" .. zone .. "' in " .. shown, "format" end
    off = (tonumber(zh) * 3600 + tonumber(zm) * 60) * (sign == "+" and 1 or -1)
  end
  return in_range(days(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off, s)
end

return _M
