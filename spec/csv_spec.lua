-- bounce.csv: the CSV the command line and bounce serve write, and the
-- reader bounce import uses.
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
