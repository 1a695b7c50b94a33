-- bounce.csv and bounce.date: the CSV the command line and bounce serve write,
-- the reader bounce import uses, and the times payloads and exports carry.
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

  it("says what is wrong, and whether the value is no time at all or out of range", function()
    assert.same({ nil, "not a date: 'yesterday'", "format" }, { date.parse("yesterday") })
    assert.same({ nil, "unknown time zone 'CET' in '2024-01-02 03:04 CET'", "format" },
                { date.parse("2024-01-02 03:04 CET") })
    assert.same({ nil, "time out of range: 1969-12-31", "range" }, { date.parse("1969-12-31") })
    assert.same({ nil, "time expected, got boolean", "format" }, { date.parse(true) })
  end)
end)
