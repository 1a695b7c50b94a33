-- bounce.date: times as ESP payloads, suppression exports and mail headers
-- write them, read into unix seconds.

local type, tostring, tonumber, floor, pairs = type, tostring, tonumber, math.floor, pairs
local match, sub, gsub, upper, lower, sbyte =
  string.match, string.sub, string.gsub, string.upper, string.lower, string.byte

local _M = require("bounce.version").lazy({})

local MAX = 4294967295   -- records keep times in 32 bits

-- Days from 1970-01-01 to a civil date (proleptic Gregorian), for years
-- from 1 on (so a - a % b is floor division, without a call per step).
local function days(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = (y - y % 400) / 400
  local yoe = y - era * 400
  local t = 153 * ((m + 9) % 12) + 2
  local doy = (t - t % 5) / 5 + d - 1
  local doe = yoe * 365 + (yoe - yoe % 4) / 4 - (yoe - yoe % 100) / 100 + doy
  return era * 146097 + doe - 719468
end

local function in_range(n, v)
  if n ~= n or n < 1 or n > MAX then return nil, "time out of range: " .. tostring(v), "range" end
  return floor(n)
end

-- Zone names RFC 5322 keeps as obsolete (section 4.3) and the common
-- abbreviations exports print, in minutes east of UTC. Military letters
-- ("Z" aside) are read as -0000 as RFC 5322 says: their sign was reversed
-- in RFC 822, so they tell nothing.
local ZONES = {
  UT = 0, UTC = 0, GMT = 0, Z = 0, EST = -300, EDT = -240, CST = -360, CDT = -300,
  MST = -420, MDT = -360, PST = -480, PDT = -420,
}
local ISO_NAMES = { Z = true, UTC = true, GMT = true }   -- after an ISO 8601 time
local MONTHS = { jan = 1, feb = 2, mar = 3, apr = 4, may = 5, jun = 6, jul = 7, aug = 8,
                 sep = 9, oct = 10, nov = 11, dec = 12 }

-- Minutes east of UTC for a zone written after a time, or nil.
local function zone_offset(zone)
  if zone == "" then return 0 end
  local sign, zh, zm = match(zone, "^([+-])(%d%d):?(%d%d)$")
  if sign then
    return (tonumber(zh) * 60 + tonumber(zm)) * (sign == "+" and 1 or -1)
  end
  local name = upper(zone)
  if ZONES[name] then return ZONES[name] end
  if match(name, "^[A-IK-Y]$") then return 0 end
  return nil
end

local function civil(s, shown, y, mo, d, h, mi, sec, off)
  if mo < 1 or mo > 12 or d < 1 or d > 31 or h > 23 or mi > 59 or sec > 60 then
    return nil, "not a date: " .. shown, "format"
  end
  return in_range(days(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off * 60, s)
end

-- RFC 5322 section 3.3 (and its obsolete forms, 4.3): "Fri, 03 May 2024
-- 10:00:00 +0000", the day name optional, seconds optional, a zone as an
-- offset or a name ("UTC", "GMT", "EST"...), a comment such as "(CEST)"
-- after it ignored, two-digit years read as 19xx or 20xx.
local function rfc5322(s, shown)
  local t = gsub(s, "%b()", " ")
  t = gsub(t, "^%s*%a+%s*,%s*", "")            -- "Fri, "
  local d, mon, y, rest = match(t, "^(%d%d?)%s+(%a%a%a)%a*%s+(%d%d%d?%d?)%s+(.*)$")
  if not d then return nil end
  local mo = MONTHS[lower(mon)]
  if not mo then return nil end
  local hh, mm, tail = match(rest, "^(%d%d?):(%d%d)(.*)$")
  if not hh then return nil end
  local sec = 0
  local ss, after = match(tail, "^:(%d%d)(.*)$")
  if ss then sec, tail = tonumber(ss), after end
  local zone = match(tail, "^%s*(.*%S)") or ""
  local off = zone_offset(zone)
  if not off then return nil, "unknown time zone '" .. zone .. "' in " .. shown, "format" end
  local year = tonumber(y)
  if #y == 2 then year = year + (year < 50 and 2000 or 1900)
  elseif #y == 3 then year = year + 1900 end
  return civil(s, shown, year, mo, tonumber(d), tonumber(hh), tonumber(mm), sec, off)
end

-- Month numbers keyed by the three letters' byte values, lower-cased; the
-- value of each digit byte; each letter byte lower-cased.
local MONTH_KEY, DIGIT, LOWER = {}, {}, {}
for name, n in pairs(MONTHS) do
  local a, b, c = sbyte(name, 1, 3)
  MONTH_KEY[a * 65536 + b * 256 + c] = n
end
for c = 48, 57 do DIGIT[c] = c - 48 end
for c = 97, 122 do LOWER[c], LOWER[c - 32] = c, c end

-- The shape nearly every mail header has, read byte by byte with table
-- lookups (bounce.parse dates many bounces by their Date header, and a
-- pattern costs a step per byte and a string per capture): "[Www, ]D[D] Mon
-- YYYY HH:MM:SS +ZZZZ[ (comment)]". Unix seconds, or nil for anything else,
-- which the general reader below then reads or refuses.
local function quick(v)
  local p = 1
  local c4, c5 = sbyte(v, 4, 5)
  if c4 == 44 and c5 == 32 then p = 6 end                        -- "Fri, "
  local d1, d2, d3 = sbyte(v, p, p + 2)
  local day = DIGIT[d1]
  if not day then return nil end
  if DIGIT[d2] then
    if d3 ~= 32 then return nil end
    day, p = day * 10 + DIGIT[d2], p + 3
  elseif d2 == 32 then
    p = p + 2
  else
    return nil
  end
  local m1, m2, m3, sp1, y1, y2, y3, y4, sp2, h1, h2, col1, n1, n2, col2, s1, s2, sp3, sign, z1, z2, z3, z4 =
    sbyte(v, p, p + 22)
  local l1, l2, l3 = LOWER[m1], LOWER[m2], LOWER[m3]
  local mo = l1 and l2 and l3 and MONTH_KEY[l1 * 65536 + l2 * 256 + l3]
  y1, y2, y3, y4 = DIGIT[y1], DIGIT[y2], DIGIT[y3], DIGIT[y4]
  h1, h2, n1, n2, s1, s2 = DIGIT[h1], DIGIT[h2], DIGIT[n1], DIGIT[n2], DIGIT[s1], DIGIT[s2]
  z1, z2, z3, z4 = DIGIT[z1], DIGIT[z2], DIGIT[z3], DIGIT[z4]
  if not (mo and sp1 == 32 and sp2 == 32 and sp3 == 32 and col1 == 58 and col2 == 58
          and (sign == 43 or sign == 45) and y1 and y2 and y3 and y4 and h1 and h2 and n1 and n2
          and s1 and s2 and z1 and z2 and z3 and z4) then
    return nil
  end
  local rest = sbyte(v, p + 23)
  if rest ~= nil and not (rest == 32 and sbyte(v, p + 24) == 40 and sbyte(v, -1) == 41) then return nil end
  local h, mi, sec = h1 * 10 + h2, n1 * 10 + n2, s1 * 10 + s2
  if day < 1 or day > 31 or h > 23 or mi > 59 or sec > 60 then return nil end
  local off = (z1 * 600 + z2 * 60 + z3 * 10 + z4) * (sign == 43 and 1 or -1)
  local n = days(y1 * 1000 + y2 * 100 + y3 * 10 + y4, mo, day) * 86400 + h * 3600 + mi * 60 + sec - off * 60
  if n < 1 or n > MAX then return nil end
  return n
end

-- syntax: t, err, kind = date.parse(v)
-- Unix seconds from a number or a string of digits (milliseconds when it is
-- too large to be seconds), from ISO 8601 / RFC 3339 ("2024-01-02",
-- "2024-01-02 03:04", "2019-11-05T16:33:54.9070259Z", "...+02:00", "...
-- UTC"), or from an RFC 5322 date as mail headers and ESP exports write it
-- ("Fri, 03 May 2024 10:00:00 UTC", "+0000", "GMT", "EST", "(CEST)"). On
-- failure nil, a message and its kind: "format" (not a time at all) or
-- "range" (before 1970 or past 2106).
function _M.parse(v)
  if type(v) == "number" then return in_range(v > 1e11 and v / 1000 or v, v) end
  if type(v) ~= "string" then return nil, "time expected, got " .. type(v), "format" end
  local q = quick(v)
  if q then return q end
  local s = match(v, "^%s*(.*%S)") or ""   -- trimmed (not "(.-)%s*$": quadratic)
  local n = match(s, "^%d+%.?%d*$") and tonumber(s)
  if n then return in_range(n > 1e11 and n / 1000 or n, s) end
  local shown = "'" .. sub(s, 1, 40) .. "'"
  local y, mo, d, rest = match(s, "^(%d%d%d%d)%-(%d%d)%-(%d%d)(.*)$")
  if not y then
    local t, err, kind = rfc5322(s, shown)
    if t or err then return t, err, kind end
    return nil, "not a date: " .. shown, "format"
  end
  local h, mi, sec, zone = 0, 0, 0, ""
  if rest ~= "" then
    local hh, mm, tail = match(rest, "^[T ](%d%d):(%d%d)(.*)$")
    if not hh then return nil, "not a date: " .. shown, "format" end
    h, mi = tonumber(hh), tonumber(mm)
    local ss, after = match(tail, "^:(%d%d)(.*)$")
    if ss then sec, tail = tonumber(ss), after end
    zone = match(tail, "^[.,]?%d*%s*(.*)$")
  end
  local off = zone_offset(zone)
  if not off or (zone ~= "" and not match(zone, "^[+-]") and not ISO_NAMES[upper(zone)]) then
    return nil, "unknown time zone '" .. zone .. "' in " .. shown, "format"
  end
  return civil(s, shown, tonumber(y), tonumber(mo), tonumber(d), h, mi, sec, off)
end

return _M
