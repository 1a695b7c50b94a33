-- The store contract (spec/support/store_contract.lua) against the stores in
-- this Lua state: the C memory store and the reference table store.
local store = require("bounce.store")
local contract = require("spec.support.store_contract")

for _, engine in ipairs({ "memory", "table" }) do
  describe("store." .. engine, function()
    for _, case in ipairs(contract.cases) do
      it(case.name, function() case.run(store[engine]) end)
    end
  end)
end
