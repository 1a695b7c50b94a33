-- bounce.output: the one set of names every output of bounce uses, the
-- command line's (JSON lines, CSV, tables) and the HTTP service's (JSON,
-- CSV). An address is `rcpt`, an end of suppression `expires_at`, a time in
-- JSON unix seconds and in CSV ISO 8601 UTC ("2026-11-20T00:00:00Z", empty
-- for none). The README's "Output fields" table lists them.
--
--   local output = require("bounce.output")
--   local item = output.suppression(rcpt, record)   -- a suppression list entry
--   io.write(output.csv_header(), "\r\n", output.csv_row(item), "\r\n")

local csv = require("bounce.csv")

local ipairs, os_date = ipairs, os.date

local _M = require("bounce.version").lazy({})

-- The fields of a suppression list entry, in CSV column order.
_M.SUPPRESSION_FIELDS = { "rcpt", "state", "cause", "reason", "since", "expires_at", "attempts",
                          "bounces", "blocks", "last_event", "last_at" }
local FIELDS = _M.SUPPRESSION_FIELDS
local TIMES = { since = true, expires_at = true, last_at = true }

-- syntax: item = output.suppression(rcpt, r)   -- r: a record (t:get, t:suppressions)
function _M.suppression(rcpt, r)
  local item = {}
  for _, k in ipairs(FIELDS) do item[k] = r[k] end
  item.rcpt = rcpt or r.rcpt
  return item
end

-- syntax: s = output.iso(t)   -- "" for nil
local function iso(t) return t and os_date("!%Y-%m-%dT%H:%M:%SZ", t) or "" end
_M.iso = iso

-- syntax: line = output.csv_header()   -- without the line end
function _M.csv_header() return csv.row(FIELDS, #FIELDS) end

-- syntax: line = output.csv_row(item)   -- RFC 4180, without the line end
function _M.csv_row(item)
  local row = {}
  for i, k in ipairs(FIELDS) do
    local v = item[k]
    if TIMES[k] then v = iso(v) end
    row[i] = v
  end
  return csv.row(row, #FIELDS)
end

return _M
