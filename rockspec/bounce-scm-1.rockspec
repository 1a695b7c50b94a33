-- Builds offline with Debian's luarocks:
--   luarocks make --lua-version=5.4 --deps-mode=none rockspec/bounce-scm-1.rockspec
-- `make rockcheck` installs it into a temporary tree, loads it from there and
-- checks that the C sources and Lua modules below match the Makefile and lua/.
rockspec_format = "3.0"
package = "bounce"
version = "scm-1"
source = {
  -- No public repository yet; `luarocks make` builds from the checkout.
  url = "git+file:///dev/null/bounce.git",
}
description = {
  summary = "Classify SMTP replies and bounces: what a mail sender should do next",
  detailed = [[
A C core (reply parser, enhanced status registry, rule-based classifier,
history state machine) with a Lua API for Lua 5.1, 5.3, 5.4, LuaJIT and
OpenResty: bounce.classify("550 5.1.1 user unknown") -> userunknown, hard.
]],
}
dependencies = {
  "lua >= 5.1",
}
build = {
  type = "builtin",
  modules = {
    -- Same files as CORE_SRC in the Makefile, plus the binding.
    ["bounce.core"] = {
      sources = {
        "src/reason.c", "src/reply.c", "src/status.c", "src/match.c",
        "src/classify.c", "src/rules.c", "src/providers.c", "src/record.c", "src/history.c",
        "src/mstore.c", "src/address.c", "src/date.c", "src/message.c", "src/mime.c",
        "src/dsn.c", "src/ses.c", "src/families.c", "src/autoreply.c", "src/recipient.c",
        "src/lbounce.c",
      },
      incdirs = { "src" },
    },
    -- The SQLite store: SQLITE_SRC in the Makefile; links the system's libsqlite3.
    ["bounce.sqlite"] = {
      sources = { "src/lsqlite.c", "src/sqlite_store.c", "src/record.c", "src/reason.c" },
      libraries = { "sqlite3" },
      incdirs = { "src" },
    },
    ["bounce"] = "lua/bounce/init.lua",
    ["bounce.cli"] = "lua/bounce/cli.lua",
    ["bounce.cmd.check"] = "lua/bounce/cmd/check.lua",
    ["bounce.cmd.import"] = "lua/bounce/cmd/import.lua",
    ["bounce.cmd.intake"] = "lua/bounce/cmd/intake.lua",
    ["bounce.cmd.parse"] = "lua/bounce/cmd/parse.lua",
    ["bounce.cmd.policyd"] = "lua/bounce/cmd/policyd.lua",
    ["bounce.cmd.replay"] = "lua/bounce/cmd/replay.lua",
    ["bounce.cmd.serve"] = "lua/bounce/cmd/serve.lua",
    ["bounce.cmd.suppressions"] = "lua/bounce/cmd/suppressions.lua",
    ["bounce.csv"] = "lua/bounce/csv.lua",
    ["bounce.date"] = "lua/bounce/date.lua",
    ["bounce.ffi_classify"] = "lua/bounce/ffi_classify.lua",
    ["bounce.json"] = "lua/bounce/json.lua",
    ["bounce.mta"] = "lua/bounce/mta.lua",
    ["bounce.nginx"] = "lua/bounce/nginx.lua",
    ["bounce.policy"] = "lua/bounce/policy.lua",
    ["bounce.policyd"] = "lua/bounce/policyd.lua",
    -- The defaults bounce.policy loads, installed beside it.
    ["bounce.policies.default"] = "policies/default.lua",
    ["bounce.reader"] = "lua/bounce/reader.lua",
    ["bounce.serve"] = "lua/bounce/serve.lua",
    ["bounce.state"] = "lua/bounce/state.lua",
    ["bounce.store"] = "lua/bounce/store.lua",
    ["bounce.store.redis"] = "lua/bounce/store/redis.lua",
    ["bounce.store.shdict"] = "lua/bounce/store/shdict.lua",
    ["bounce.store.sqlite"] = "lua/bounce/store/sqlite.lua",
    ["bounce.store.url"] = "lua/bounce/store/url.lua",
    ["bounce.tracker"] = "lua/bounce/tracker.lua",
    ["bounce.verp"] = "lua/bounce/verp.lua",
    ["bounce.version"] = "lua/bounce/version.lua",
    ["bounce.webhooks"] = "lua/bounce/webhooks.lua",
  },
  install = {
    bin = { bounce = "bin/bounce" },
  },
}
test = {
  type = "command",
  command = "make test",
}
