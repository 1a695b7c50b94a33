-- Small hand-written bounce messages and temporary mail folders for the
-- reader and `bounce parse` specs. Everything is written under /tmp and
-- removed by cleanup().

local _M = {}

-- A delivery status notification (RFC 3464) for one recipient. o: rcpt,
-- status, diag (the Diagnostic-Code), date (Last-Attempt-Date; false for
-- none), own_date (a Date header of the bounce itself), sent (a Date header
-- of the returned message), campaign (an X-Campaign-Id header of the
-- returned message), subject (of the returned message), eol (default "\n").
function _M.dsn(o)
  local l = {
    "From: MAILER-DAEMON@mx.example.net",
    "To: news@example.com",
  }
  if o.own_date then l[#l + 1] = "Date: " .. o.own_date end
  for _, v in ipairs({
    "Subject: Delivery Status Notification (Failure)",
    "MIME-Version: 1.0",
    'Content-Type: multipart/report; report-type=delivery-status; boundary="=_dsn"',
    "",
    "--=_dsn",
    "Content-Type: text/plain",
    "",
    "We could not deliver your message.",
    "--=_dsn",
    "Content-Type: message/delivery-status",
    "",
    "Reporting-MTA: dns; mx.example.net",
    "",
    "Final-Recipient: rfc822; " .. o.rcpt,
    "Action: failed",
    "Status: " .. o.status,
    "Diagnostic-Code: smtp; " .. o.diag,
  }) do l[#l + 1] = v end
  if o.date ~= false then l[#l + 1] = "Last-Attempt-Date: " .. (o.date or "Mon, 3 Mar 2025 10:00:05 +0000") end
  for _, v in ipairs({
    "",
    "--=_dsn",
    "Content-Type: text/rfc822-headers",
    "",
    "From: Newsletter <news@example.com>",
    "To: " .. o.rcpt,
    "Subject: " .. (o.subject or "Our March letter"),
    "Message-ID: <" .. o.rcpt:gsub("@", ".") .. "@example.com>",
  }) do l[#l + 1] = v end
  if o.sent then l[#l + 1] = "Date: " .. o.sent end
  if o.campaign then l[#l + 1] = "X-Campaign-Id: " .. o.campaign end
  l[#l + 1] = ""
  l[#l + 1] = "--=_dsn--"
  l[#l + 1] = ""
  return table.concat(l, o.eol or "\n")
end

-- An mbox (mboxrd) holding the given messages: a "From " line before each,
-- ">From " escapes, a blank line after each.
function _M.mbox(msgs)
  local out = {}
  for i, m in ipairs(msgs) do
    m = m:gsub("\n(>*From )", "\n>%1"):gsub("^(>*From )", ">%1")
    if m:sub(-1) ~= "\n" then m = m .. "\n" end
    out[#out + 1] = "From MAILER-DAEMON Mon Mar  3 10:00:0" .. (i % 10) .. " 2025\n" .. m .. "\n"
  end
  return table.concat(out)
end

local made = {}

-- A new empty directory under /tmp.
function _M.tmpdir()
  local name = os.tmpname()
  os.remove(name)
  assert(name:find("^/tmp/"), "temporary files go under /tmp, got " .. name)
  assert(os.execute("mkdir -p '" .. name .. "'"))
  made[#made + 1] = name
  return name
end

-- Writes data to path (creating the file).
function _M.write(path, data)
  local f = assert(io.open(path, "wb"))
  assert(f:write(data))
  assert(f:close())
  return path
end

-- Removes every directory tmpdir() made.
function _M.cleanup()
  for i = #made, 1, -1 do
    os.execute("rm -rf '" .. made[i] .. "'")
    made[i] = nil
  end
end

return _M
