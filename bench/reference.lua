-- Scores bounce.classify on the reply set written from the providers' and
-- RFCs' documentation (bench/reference_replies.tsv):
--   lua5.4 bench/reference.lua [FILE] [--misses]
-- Prints the agreement on reason and on hard/not-hard, per kind (documented
-- rows, counter-examples) and per section; --misses lists every miss.
package.path = "./lua/?.lua;./lua/?/init.lua;" .. package.path
package.cpath = "./build/?.so;" .. package.cpath
local bounce = require("bounce")

local file, misses = "bench/reference_replies.tsv", false
for _, a in ipairs(arg) do
  if a == "--misses" then misses = true else file = a end
end

local total, by_kind, by_section, missed = { n = 0, reason = 0, hard = 0 }, {}, {}, {}
local function add(t, k, ok_reason, ok_hard)
  t[k] = t[k] or { n = 0, reason = 0, hard = 0 }
  t[k].n = t[k].n + 1
  if ok_reason then t[k].reason = t[k].reason + 1 end
  if ok_hard then t[k].hard = t[k].hard + 1 end
end
for line in io.lines(file) do
  if not line:match("^#") and line:match("%S") then
    local kind, section, reason, type_, reply = line:match("^(%a+)\t([^\t]+)\t(%a+)\t(%a+)\t(.+)$")
    assert(kind, "bad line: " .. line)
    reply = reply:gsub("\\n", "\n")
    local r = assert(bounce.classify(reply))
    local ok_reason = r.reason == reason
    local ok_hard = (r.type == "hard") == (type_ == "hard")
    total.n = total.n + 1
    if ok_reason then total.reason = total.reason + 1 end
    if ok_hard then total.hard = total.hard + 1 end
    add(by_kind, kind, ok_reason, ok_hard)
    add(by_section, section, ok_reason, ok_hard)
    if not ok_reason or not ok_hard then
      local shown = reply:gsub("\n", "\\n"):sub(1, 90)
      missed[#missed + 1] = ("  %-10s %s/%s -> %s/%s (%s)  %s"):format(section, reason, type_,
                                                                      r.reason, r.type, r.rule, shown)
    end
  end
end
local function pct(a, n) return n > 0 and ("%5.1f%%"):format(100 * a / n) or "-" end
io.write(("reference replies: %d  reason %s  hard %s\n"):format(total.n, pct(total.reason, total.n),
                                                                 pct(total.hard, total.n)))
for _, k in ipairs({ "row", "counter" }) do
  local t = by_kind[k]
  if t then
    io.write(("  %-8s %4d  reason %s  hard %s\n"):format(k, t.n, pct(t.reason, t.n), pct(t.hard, t.n)))
  end
end
local names = {}
for k in pairs(by_section) do names[#names + 1] = k end
table.sort(names)
for _, k in ipairs(names) do
  local t = by_section[k]
  io.write(("    %-12s %3d  reason %s  hard %s\n"):format(k, t.n, pct(t.reason, t.n), pct(t.hard, t.n)))
end
if misses and #missed > 0 then io.write("misses:\n", table.concat(missed, "\n"), "\n") end
