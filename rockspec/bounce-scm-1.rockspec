-- bounce: what a mail sender should do after a delivery fails.
--
-- Builds offline with Debian's luarocks, from bounce's source folder
-- (--deps-mode=none when lua-cjson comes from apt, not from a rock):
--   luarocks --lua-version=5.4 make --deps-mode=none rockspec/bounce-scm-1.rockspec
--   luarocks --lua-version=5.1 make --deps-mode=none rockspec/bounce-scm-1.rockspec
-- The 5.1 rock loads in Lua 5.1 and in LuaJIT: it is the one nginx (OpenResty,
-- `bounce serve`) needs. With LUA_INCDIR=/usr/include/luajit-2.1 it is built
-- against LuaJIT's headers instead (when Lua 5.1's are not installed); it
-- still loads in both.
-- `luarocks make` uses the folder it runs in, whatever source.url says. To
-- install from a clone elsewhere, point source.url at it:
--   url = "git+file:///home/you/src/bounce", branch = "main"
-- (or use `luarocks make` in that clone). The build runs the Makefile's
-- `rock` target, which compiles into build/rock and removes it once
-- installed: no object file or bounce/core.so is left in the source tree,
-- where ./?.so would load it. `make rockcheck` installs both rocks into a
-- temporary tree and checks what they installed works from there.
rockspec_format = "3.0"
package = "bounce"
version = "scm-1"
source = {
  -- Replace with the repository you build from (see above).
  url = "git+https://git.example.org/bounce/bounce.git",
  branch = "main",
}
description = {
  summary = "Classify SMTP replies and bounce messages, and track what to do next per recipient",
  detailed = [[
bounce tells a mail sender what to do after a delivery fails. A C core reads
SMTP replies and bounce messages (RFC 3464 DSNs, ARF complaints, auto-replies
and 24 MTA families) and classifies them into Sisimai's reason names and a
type (hard, soft, block); a per-recipient history, under a policy written in
Lua, decides whether to retry, hold or suppress. Histories live in memory, a
SQLite file, an nginx shared dict or Redis. It runs in Lua 5.1, 5.3, 5.4,
LuaJIT and OpenResty, ships an HTTP service for ESP webhooks (bounce serve,
in nginx) and a command line (bin/bounce).
]],
  homepage = "https://git.example.org/bounce/bounce",
  license = "MIT",
  maintainer = "the bounce authors",
  labels = { "email", "smtp", "bounce", "dsn", "openresty" },
}
dependencies = {
  "lua >= 5.1",
  "lua-cjson",   -- webhooks, bounce replay, POST /events (lua-luaossl, for signatures, is optional)
}
external_dependencies = {
  SQLITE = { header = "sqlite3.h", library = "sqlite3" },
}
build = {
  type = "make",
  -- one source list, the Makefile's; LUA_CFLAGS points the build at the
  -- headers of the Lua this rock is for
  build_target = "rock",
  build_variables = {
    CFLAGS = "$(CFLAGS)",
    LUA_CFLAGS = "-I$(LUA_INCDIR)",
    SQLITE_LIBS = "-L$(SQLITE_LIBDIR) -lsqlite3",
  },
  install_target = "rock-install",
  install_variables = {
    LIBDIR = "$(LIBDIR)",
    SHAREDIR = "$(LUADIR)",
  },
  install = {
    bin = { bounce = "bin/bounce" },
  },
}
test = {
  type = "command",
  command = "make test",
}
