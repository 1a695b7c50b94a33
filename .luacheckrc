-- luacheck configuration (`make lint`).
-- The code runs on Lua 5.1, 5.3, 5.4 and LuaJIT and feature-tests the
-- differences (`table.unpack or unpack`, `package.searchpath and ...`), so
-- the union of their globals is allowed; the spec runs under all four
-- interpreters catch real incompatibilities.
std = "max"
max_line_length = 120

-- OpenResty's `ngx` exists only inside nginx: code tests it before use and
-- never assigns to it.
read_globals = { "ngx" }

-- Specs: busted's globals. Long lines are real SMTP replies quoted verbatim.
files["spec"] = { std = "+busted", max_line_length = false }

-- A rockspec is a file of global assignments.
files["rockspec"] = {
  globals = { "rockspec_format", "package", "version", "source", "description",
              "dependencies", "build_dependencies", "test_dependencies", "build", "test" },
}
