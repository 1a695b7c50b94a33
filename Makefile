# bounce - a thin front door. Variables can be overridden on the command line:
#   make LUA=luajit          build and test for LuaJIT (also lua5.1, lua5.3)
#   make install PREFIX=/usr/local DESTDIR=...
LUA            ?= lua5.4
LUA_PC         ?= $(LUA)
LUA_INCLUDE_DIR ?= $(shell pkg-config --variable=includedir $(LUA_PC) 2>/dev/null)/$(if $(filter luajit,$(LUA_PC)),luajit-2.1,$(LUA_PC))
LUA_CFLAGS     ?= $(shell pkg-config --cflags $(LUA_PC) 2>/dev/null || echo -I$(LUA_INCLUDE_DIR))
LUA_VERSION    ?= $(if $(filter luajit lua5.1,$(LUA)),5.1,$(patsubst lua%,%,$(LUA)))
PREFIX         ?= /usr/local
DESTDIR        ?=
LIBDIR         ?= $(PREFIX)/lib/lua/$(LUA_VERSION)
SHAREDIR       ?= $(PREFIX)/share/lua/$(LUA_VERSION)
BUILD          ?= $(if $(filter lua5.4,$(LUA)),build,build/$(LUA))

CC       ?= cc
WARN     := -std=c99 -Wall -Wextra -pedantic -Wshadow -Wundef -Wwrite-strings \
            -Wmissing-prototypes -Wstrict-prototypes
OPT      ?= -O2 -g
WERROR   ?=
CFLAGS_ALL = $(OPT) $(WARN) $(WERROR) -fPIC -fvisibility=hidden $(CFLAGS)

CORE_SRC := src/reason.c src/reply.c src/status.c src/match.c src/classify.c src/rules.c src/record.c src/history.c src/mstore.c src/address.c src/date.c \
            src/message.c src/mime.c src/dsn.c src/ses.c src/families.c src/autoreply.c src/recipient.c
CORE_HDR := $(wildcard src/*.h)
MODULE   := $(BUILD)/bounce/core.so

.PHONY: all test ctest spec spec-unit spec-integration spec-luajit spec-all spec-old lint asan conformance robustness zoo zoo-generate \
        bench fuzz demo deps clean install smoke rockcheck

all: $(MODULE)

$(MODULE): $(CORE_SRC) src/lbounce.c $(CORE_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LUA_CFLAGS) -shared -o $@ $(CORE_SRC) src/lbounce.c $(LDFLAGS)

# bounce.sqlite, the SQLite store: its own module, so that only it links
# libsqlite3 (bounce.core stays free of dependencies). It decodes records
# with record.c for its columns.
SQLITE_SRC    := src/lsqlite.c src/sqlite_store.c src/record.c src/reason.c
SQLITE_LIBS   ?= $(shell pkg-config --libs sqlite3 2>/dev/null || echo -lsqlite3)
SQLITE_MODULE := $(BUILD)/bounce/sqlite.so
all spec install: $(SQLITE_MODULE)
$(SQLITE_MODULE): $(SQLITE_SRC) $(CORE_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LUA_CFLAGS) -shared -o $@ $(SQLITE_SRC) $(LDFLAGS) $(SQLITE_LIBS)

# C unit tests of the core, no Lua involved: one binary per test/test_*.c.
CTESTS := $(patsubst test/%.c,$(BUILD)/%,$(wildcard test/test_*.c))
$(BUILD)/test_%: test/test_%.c $(CORE_SRC) $(CORE_HDR) test/check.h
	@mkdir -p $(dir $@)
	$(CC) $(OPT) $(WARN) $(WERROR) $(CFLAGS) -Isrc -o $@ $(CORE_SRC) $< $(LDFLAGS)

deps:
	@sh .ci/deps test

ctest: $(CTESTS)
	@for t in $(CTESTS); do echo "== $$t"; $$t || exit 1; done

# spec/unit: in-process specs (no server, no subprocess); spec/integration:
# the ones that start nginx, redis-server, SMTP servers, the command line or
# open SQLite files. `make spec` runs both.
spec: $(MODULE)
	busted --lua=$(LUA) --cpath='./$(BUILD)/?.so' spec

spec-unit: $(MODULE)
	busted --lua=$(LUA) --cpath='./$(BUILD)/?.so' spec/unit

spec-integration: $(MODULE)
	busted --lua=$(LUA) --cpath='./$(BUILD)/?.so' spec/integration

spec-luajit:
	$(MAKE) LUA=luajit spec

# Every test: C tests and specs under Lua 5.4, then the specs under LuaJIT.
test: deps
	$(MAKE) ctest spec
	$(MAKE) spec-luajit

# The same specs under each Lua this module supports: spec-all is make test
# plus spec-old (Lua 5.1 and 5.3), which CI runs after make test.
spec-all: test spec-old

spec-old:
	@sh .ci/deps spec-all
	$(MAKE) LUA=lua5.1 spec
	$(MAKE) LUA=lua5.3 spec

# luacheck (.luacheckrc), cppcheck, and a -Werror build of everything in C:
# module, C tests, benchmark, fuzz targets (syntax only: libFuzzer is clang's).
lint:
	@sh .ci/deps lint
	luacheck --no-color lua spec bench examples $(wildcard bin/*)
	@# Given a .rockspec, luacheck checks the modules it lists; from stdin it
	@# checks the rockspec itself.
	for f in $(wildcard rockspec/*.rockspec); do \
	  luacheck --no-color --filename $$f - <$$f || exit 1; done
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --std=c99 --inline-suppr -Isrc \
	  $(CORE_SRC) $(wildcard test/*.c bench/*.c fuzz/*.c)
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --std=c99 --inline-suppr -Isrc src/sqlite_store.c src/lsqlite.c
	$(MAKE) -B WERROR=-Werror BUILD=build/werror all ctest
	$(CC) $(OPT) $(WARN) -Werror -Isrc -o build/werror/bench_core bench/bench_core.c $(CORE_SRC)
	for f in $(wildcard fuzz/fuzz_*.c); do \
	  $(CC) $(WARN) -Werror -Isrc -fsyntax-only $$f || exit 1; done

# The C tests and the specs with AddressSanitizer and UBSan. The module is
# loaded by a stock interpreter, so the runtime is preloaded, libasan first.
# Leak checks run on the C tests only (the interpreter exits without freeing).
# Specs that start programs (nginx, the CLI) run them without LD_PRELOAD or
# against the plain build: the sanitized module is what is checked here.
ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
asan: deps
	$(MAKE) BUILD=build/asan OPT="$(ASAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" \
	  ctest build/asan/bounce/core.so build/asan/bounce/sqlite.so
	$(MAKE) all
	LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" \
	  ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0:abort_on_error=1 \
	  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  busted --lua=$(LUA) --cpath='./build/asan/?.so' spec

conformance: $(MODULE)
	@$(LUA) bench/conformance.lua

# Metamorphic robustness (figures, not a gate): every corpus message rewritten
# in ways that keep its meaning (bench/robustness.py, python3), and bounce.parse
# must give the same records. ROBUSTNESS_VERBOSE=1 lists each failure,
# ROBUSTNESS_OUT=DIR keeps the transformed files, ROBUSTNESS_SISIMAI=1 measures
# Sisimai 4.25 on the same files, ROBUSTNESS_ONLY=a,b runs some transformations.
robustness: $(MODULE)
	@$(LUA) bench/robustness.lua

# The MTA zoo (figures, not a gate): bounces that the real MTAs of Debian
# wrote against scripted SMTP servers (tools/mta-zoo), labelled by
# construction (spec/fixtures/mta-zoo); bounce.parse and Sisimai 4.25 scored
# against the labels. ZOO_VERBOSE=1 lists each disagreement. zoo-generate
# writes the fixtures anew: root, Debian's archive, a few minutes; not in CI.
zoo: $(MODULE)
	@$(LUA) bench/zoo.lua $(if $(ZOO_VERBOSE),-v)

zoo-generate:
	sh tools/mta-zoo/generate.sh

# Throughput figures (no pass/fail): C core, Lua 5.4, LuaJIT, Sisimai.
bench: $(MODULE)
	@sh .ci/deps bench
	$(MAKE) LUA=luajit all
	@CORE_SRC="$(CORE_SRC)" bash bench/run.sh

# libFuzzer targets fuzz/fuzz_*.c, FUZZ_SECONDS each (default 60).
FUZZ_SECONDS ?= 60
fuzz:
	@sh .ci/deps fuzz
	@CORE_SRC="$(CORE_SRC)" bash fuzz/run.sh $(FUZZ_SECONDS)

# Installs the rockspec offline into a temporary tree (from a copy of the
# sources, so no object files land in src/), then loads the module from that
# tree alone. First checks the rockspec lists CORE_SRC + src/lbounce.c,
# every file under lua/ and the default policy.
ROCKTREE := $(abspath build/rocktree)
define ROCKSPEC_SYNC_LUA
local t = {}
assert(loadfile(arg[1], "t", t))()
local want, have, bad = {}, {}, false
for f in (arg[2] .. " " .. arg[3]):gmatch("%S+") do want[f] = true end
for _, m in pairs(t.build.modules) do
  for _, f in ipairs(type(m) == "table" and m.sources or { m }) do have[f] = true end
end
-- bounce.sqlite: exactly SQLITE_SRC, linking sqlite3
local sq, sqwant = t.build.modules["bounce.sqlite"], {}
for f in arg[4]:gmatch("%S+") do want[f] = true; sqwant[f] = true end
if type(sq) ~= "table" then print("rockspec: bounce.sqlite is missing"); bad = true
else
  local n = 0
  for _, f in ipairs(sq.sources or {}) do
    n = n + 1
    if not sqwant[f] then print("rockspec: bounce.sqlite: " .. f .. " is not in SQLITE_SRC"); bad = true end
  end
  for _ in pairs(sqwant) do n = n - 1 end
  if n ~= 0 then print("rockspec: bounce.sqlite: sources differ from SQLITE_SRC"); bad = true end
  if not (sq.libraries and sq.libraries[1] == "sqlite3") then
    print("rockspec: bounce.sqlite: libraries = { \"sqlite3\" } is missing"); bad = true
  end
end
for f in pairs(want) do
  if not have[f] then print("rockspec: " .. f .. " is missing"); bad = true end
end
for f in pairs(have) do
  if not want[f] then print("rockspec: " .. f .. " is not in CORE_SRC, lua/ or policies/default.lua"); bad = true end
end
if bad then os.exit(1) end
endef
define ROCKCHECK_LUA
local bounce = require("bounce")
local core = require("bounce.core")
local where = package.searchpath("bounce.core", package.cpath)
assert(where and where:find(arg[1], 1, true) == 1, "bounce.core not loaded from the tree")
assert(bounce._VERSION == core._VERSION, "_VERSION differs between bounce and bounce.core")
local sqwhere = package.searchpath("bounce.sqlite", package.cpath)
assert(sqwhere and sqwhere:find(arg[1], 1, true) == 1, "bounce.sqlite not in the tree")
assert(require("bounce.store.sqlite")._VERSION == core._VERSION, "bounce.sqlite _VERSION differs")
assert(require("bounce.policy").default():resolve().soft_max_attempts, "no default policy")
local r = assert(bounce.classify("550 5.1.1 <a@example.org>: user unknown"))
assert(r.reason == "userunknown" and r.type == "hard", r.reason .. " " .. r.type)
print("rockcheck: bounce " .. bounce._VERSION .. " from " .. where .. ": " .. r.reason .. ", " .. r.type)
endef
export ROCKSPEC_SYNC_LUA ROCKCHECK_LUA
rockcheck:
	@sh .ci/deps rockcheck
	@lua5.4 -e "$$ROCKSPEC_SYNC_LUA" /dev/null rockspec/bounce-scm-1.rockspec \
	  "$(CORE_SRC) src/lbounce.c" "$$(find lua -name '*.lua') policies/default.lua" "$(SQLITE_SRC)"
	rm -rf $(ROCKTREE) build/rocksrc && mkdir -p build/rocksrc
	cp -r src lua bin rockspec policies build/rocksrc/
	cd build/rocksrc && luarocks make --tree=$(ROCKTREE) --lua-version=5.4 --deps-mode=none \
	  rockspec/bounce-scm-1.rockspec
	cd / && env -u LUA_INIT -u LUA_INIT_5_4 -u LUA_PATH_5_4 -u LUA_CPATH_5_4 \
	  LUA_PATH='$(ROCKTREE)/share/lua/5.4/?.lua;$(ROCKTREE)/share/lua/5.4/?/init.lua' \
	  LUA_CPATH='$(ROCKTREE)/lib/lua/5.4/?.so' sh -c 'lua5.4 -e "$$ROCKCHECK_LUA" /dev/null $(ROCKTREE) && \
	  $(ROCKTREE)/bin/bounce classify "550 5.1.1 user unknown" | grep "\"reason\":\"userunknown\"" && \
	  echo "rockcheck: the installed bin/bounce works"'

demo: deps $(MODULE)
	@$(LUA) bin/bounce demo

install: $(MODULE)
	install -d $(DESTDIR)$(LIBDIR)/bounce $(DESTDIR)$(SHAREDIR)/bounce
	install -m 0755 $(MODULE) $(DESTDIR)$(LIBDIR)/bounce/core.so
	install -m 0755 $(SQLITE_MODULE) $(DESTDIR)$(LIBDIR)/bounce/sqlite.so
	cd lua && for f in $$(find bounce -name '*.lua'); do \
	  install -D -m 0644 $$f $(DESTDIR)$(SHAREDIR)/$$f || exit 1; done
	install -D -m 0644 policies/default.lua $(DESTDIR)$(SHAREDIR)/bounce/policies/default.lua

clean:
	rm -rf build
