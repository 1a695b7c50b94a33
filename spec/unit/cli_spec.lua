-- bounce.cli in-process: the advice the demo and `classify --table` print.
-- (The command line itself runs in spec/integration/cli_spec.lua.)
local cli = require("bounce.cli")
local bounce = require("bounce")

describe("cli.advice", function()
  it("has a line for every reason the C table lists", function()
    for _, r in ipairs(bounce.reasons) do
      local text = cli.advice({ reason = r.name, type = r.type })
      assert.matches("^%l.....", text, r.name)
    end
  end)

  it("says retry, not suppress, for a dead-address reason said with a 4xx", function()
    assert.matches("^suppress", cli.advice(assert(bounce.classify("550 5.1.1 user unknown"))))
    assert.matches("^retry later", cli.advice({ reason = "userunknown", type = "soft" }))
    assert.matches("^suppress: the recipient reported", cli.advice({ reason = "feedback", type = "complaint" }))
  end)
end)
