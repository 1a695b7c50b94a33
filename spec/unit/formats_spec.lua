-- bounce.csv, bounce.output and bounce.date: the CSV the command line and
-- bounce serve write, the names every output uses, the reader bounce import
-- uses, and the times payloads, exports and mail headers carry.
local csv = require("bounce.csv")

describe("bounce.csv", function()
  it("quotes what must be quoted and writes whole numbers without a point", function()
    assert.equal('a@example.com,"said ""no"", twice",3,2.5,', csv.row({ "a@example.com",
      'said "no", twice', 3, 2.5, nil }, 5))
    assert.equal('"two\nlines"', csv.field("two\nlines"))
    assert.equal("-3", csv.field(-3))
  end)

  it("keeps a spreadsheet from running a field as a formula", function()
    assert.equal("'=HYPERLINK(1)", csv.field("=HYPERLINK(1)"))
    assert.equal("'@SUM(A1)", csv.field("@SUM(A1)"))
    assert.equal("\"'-2+3,x\"", csv.field("-2+3,x"))
  end)

  it("reads back what it writes", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "wb"))
    f:write("\239\187\191email,reason\r\n", csv.row({ "a@example.com", 'say "hi",\nthen go' }), "\r\n")
    f:close()
    local rows = {}
    f = assert(io.open(path, "rb"))
    for fields in csv.reader(f) do rows[#rows + 1] = fields end
    f:close()
    os.remove(path)
    assert.same({ { "email", "reason" }, { "a@example.com", 'say "hi",\nthen go' } }, rows)
  end)
end)

describe("bounce.date", function()
  local date = require("bounce.date")

  it("reads unix seconds, milliseconds and ISO 8601 in its common shapes", function()
    assert.equals(1704164645, date.parse("2024-01-02T03:04:05Z"))
    assert.equals(1704164645, date.parse("2024-01-02 05:04:05+02:00"))
    assert.equals(1704164645, date.parse(" 2024-01-02T03:04:05.123 UTC "))
    assert.equals(1704164640, date.parse("2024-01-02 03:04"))
    assert.equals(1704153600, date.parse("2024-01-02"))
    assert.equals(1704164645, date.parse(1704164645.9))
    assert.equals(1704164645, date.parse("1704164645123"))   -- milliseconds
  end)

  it("reads RFC 5322 dates as mail headers and ESP exports write them", function()
    local t = 1714730400   -- 2024-05-03 10:00:00 UTC
    for _, v in ipairs({ "Fri, 03 May 2024 10:00:00 UTC", "Fri, 03 May 2024 10:00:00 +0000",
                         "Fri, 3 May 2024 10:00:00 GMT", "3 May 2024 10:00:00 UT",
                         "Fri, 03 May 2024 12:00:00 +0200 (CEST)", "Fri, 03 May 2024 06:00:00 EDT",
                         "Fri, 03 May 2024 03:00:00 PDT", "Fri, 03 May 2024 05:00:00 -0500",
                         "Fri, 03 May 24 10:00:00 Z", "Friday, 03 May 2024 10:00 GMT",
                         "Fri, 03 May 2024 10:00:00", "fri, 03 may 2024 10:00:00 gmt" }) do
      assert.equals(t, date.parse(v), v)
    end
    assert.equals(t, date.parse("Fri, 03 May 2024 10:00:00 A"))   -- a military zone tells nothing: -0000
    assert.equals(946684800, date.parse("Sat, 1 Jan 00 00:00:00 +0000"))   -- two-digit year 00 is 2000
    assert.equals(915148800, date.parse("Fri, 1 Jan 99 00:00:00 +0000"))   -- 99 is 1999
    assert.same({ nil, "unknown time zone 'XYZ' in 'Fri, 03 May 2024 10:00:00 XYZ'", "format" },
                { date.parse("Fri, 03 May 2024 10:00:00 XYZ") })
    assert.same({ nil, "not a date: 'Fri, 03 Mai 2024 10:00:00'", "format" },
                { date.parse("Fri, 03 Mai 2024 10:00:00") })
    assert.is_nil(date.parse("Fri, 32 May 2024 10:00:00 +0000"))
    assert.is_nil(date.parse("Fri, 03 May 2024 25:00:00 +0000"))
  end)

  it("says what is wrong, and whether the value is no time at all or out of range", function()
    assert.same({ nil, "not a date: 'yesterday'", "format" }, { date.parse("yesterday") })
    assert.same({ nil, "unknown time zone 'CET' in '2024-01-02 03:04 CET'", "format" },
                { date.parse("2024-01-02 03:04 CET") })
    assert.same({ nil, "time out of range: 1969-12-31", "range" }, { date.parse("1969-12-31") })
    assert.same({ nil, "time expected, got boolean", "format" }, { date.parse(true) })
  end)
end)

describe("bounce.output", function()
  local output = require("bounce.output")

  it("names a suppression list entry the same way in every output", function()
    assert.equals("rcpt,state,cause,reason,since,expires_at,attempts,bounces,blocks,last_event,last_at",
                  output.csv_header())
    local item = output.suppression("ann@example.org", { state = "suppressed", cause = "soft_exhausted",
      reason = "mailboxfull", since = 1704164645, expires_at = 1706756645, attempts = 5, bounces = 5,
      blocks = 0, last_event = "soft", last_at = 1704164645, checksum = "not an output field" })
    assert.same({ rcpt = "ann@example.org", state = "suppressed", cause = "soft_exhausted",
                  reason = "mailboxfull", since = 1704164645, expires_at = 1706756645, attempts = 5,
                  bounces = 5, blocks = 0, last_event = "soft", last_at = 1704164645 }, item)
    assert.equals("ann@example.org,suppressed,soft_exhausted,mailboxfull,2024-01-02T03:04:05Z,"
      .. "2024-02-01T03:04:05Z,5,5,0,soft,2024-01-02T03:04:05Z", output.csv_row(item))
    item.expires_at = nil   -- forever
    assert.matches(",2024%-01%-02T03:04:05Z,,5,", output.csv_row(item))
  end)
end)
