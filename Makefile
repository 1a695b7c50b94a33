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

CORE_SRC := src/reason.c src/reply.c src/status.c src/match.c src/classify.c src/rules.c src/providers.c src/record.c src/history.c src/mstore.c src/address.c src/verp.c src/date.c \
            src/message.c src/mime.c src/dsn.c src/ses.c src/families.c src/autoreply.c src/recipient.c src/charset.c \
            src/dns.c src/idn.c src/mailbox.c src/pattern.c
CORE_HDR := $(wildcard src/*.h)
MODULE   := $(BUILD)/bounce/core.so

.PHONY: all test ctest spec spec-unit spec-integration spec-luajit spec-all spec-old lint lint-headers asan conformance reference robustness \
        zoo zoo-generate bench bench-scale icount fuzz demo deps clean install smoke rockcheck rock rock-install

all: $(MODULE)

BIND_SRC := src/lbounce.c src/lrules.c src/lclassify.c src/lpolicy.c src/lrecord.c src/lmstore.c \
            src/lhealth.c src/laddress.c src/lmessage.c src/lverp.c src/ldns.c src/lpattern.c src/lmemory.c

$(MODULE): $(CORE_SRC) $(BIND_SRC) $(CORE_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LUA_CFLAGS) -shared -o $@ $(CORE_SRC) $(BIND_SRC) $(LDFLAGS)

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
# module, C tests, benchmark, fuzz targets (syntax only: libFuzzer is clang's),
# and each header on its own (lint-headers).
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
	$(MAKE) lint-headers

# Every header compiles on its own, twice in a row (it includes what it
# uses, and its guard holds); the binding's headers with the Lua headers.
# src/charset_tables.h is not an interface but generated data (static
# tables) that charset.c alone includes: alone it only defines unused arrays.
HDR_ALONE := $(filter-out src/charset_tables.h,$(CORE_HDR))
lint-headers:
	@for h in $(HDR_ALONE); do \
	  printf '#include "%s"\n#include "%s"\ntypedef int bnc_header_alone;\n' $${h#src/} $${h#src/} | \
	    $(CC) $(WARN) -Werror -fsyntax-only -Isrc $(LUA_CFLAGS) -x c - || { echo "lint: $$h does not compile alone"; exit 1; }; \
	done; echo "lint: $(words $(HDR_ALONE)) headers compile alone"

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

# Agreement on the reply set written from the providers' and RFCs'
# documentation (bench/reference_replies.tsv): a figure, checked by
# spec/unit/rules_spec.lua. REFERENCE_MISSES=1 lists every miss.
reference: $(MODULE)
	@$(LUA) bench/reference.lua $(if $(REFERENCE_MISSES),--misses)

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

# How cost grows with the number of addresses (bench/scale.lua): t:record,
# t:check and bytes per address at 10^4..10^7 addresses (memory store,
# SQLite) and 10^6 (a private redis-server). Minutes, and a few GB of memory
# and /tmp at 10^7: not part of `make bench`. SCALE_ARGS, e.g.
# "3 0.5 --sizes 10000,100000 --redis none".
bench-scale: $(MODULE)
	@$(LUA) bench/scale.lua $(SCALE_ARGS)

# Instruction counts (valgrind): per reply to parse and to parse and
# classify, per corpus message; figures that hold still on a shared machine.
icount:
	@CORE_SRC="$(CORE_SRC)" bash bench/icount.sh

# libFuzzer targets fuzz/fuzz_*.c, FUZZ_SECONDS each (default 60).
FUZZ_SECONDS ?= 60
fuzz:
	@sh .ci/deps fuzz
	@CORE_SRC="$(CORE_SRC)" bash fuzz/run.sh $(FUZZ_SECONDS)

# Installs the rockspec offline as a user would, `luarocks make` in this
# folder, into temporary trees: the 5.4 rock, and the 5.1 rock built
# against LuaJIT's headers (what OpenResty and `bounce serve` load). Checks
# that the build leaves nothing beside the sources (no src/*.o, no
# ./bounce/core.so for ./?.so to load), that each tree has every module of
# lua/, the default policy and the demo's data, and that what it installed
# works from there alone: require, bin/bounce classify and demo from /, and
# bounce serve --conf-only (the 5.4 rock names the rock nginx needs; given
# the 5.1 tree, and from the 5.1 tree, it writes a conf that loads there;
# once the 5.1 rock is installed into its tree as it says, it serves).
# The 5.1 rock is checked in LuaJIT and in lua5.1, which luarocks' wrapper
# bin/bounce runs: built with LuaJIT's headers, it must load in both.
ROCKTREE   := $(abspath build/rocktree)
ROCKTREE51 := $(abspath build/rocktree51)
define ROCKCHECK_LUA
local tree, lv = arg[1], arg[2]
local bounce = require("bounce")
local core = require("bounce.core")
local function where(name)
  for t in package.cpath:gmatch("[^;]+") do
    local p = t:gsub("%?", (name:gsub("%.", "/")))
    local f = io.open(p) if f then f:close() return p end
  end
end
local loc = where("bounce.core")
assert(loc and loc:find(tree, 1, true) == 1, "bounce.core not loaded from the tree")
assert(bounce._VERSION == core._VERSION, "_VERSION differs between bounce and bounce.core")
local sq = where("bounce.sqlite")
assert(sq and sq:find(tree, 1, true) == 1, "bounce.sqlite not in the tree")
assert(require("bounce.store.sqlite")._VERSION == core._VERSION, "bounce.sqlite _VERSION differs")
assert(require("bounce.policy").default():resolve().soft_max_attempts, "no default policy")
for _, f in ipairs({ "data/replies.txt", "data/events.jsonl", "policies/default.lua" }) do
  assert(io.open(tree .. "/share/lua/" .. lv .. "/bounce/" .. f), "not installed: bounce/" .. f)
end
for f in io.lines(arg[3]) do
  assert(io.open(tree .. "/share/lua/" .. lv .. "/" .. f:gsub("^lua/", "")), "not installed: " .. f)
end
local r = assert(bounce.classify("550 5.1.1 <a@example.org>: user unknown"))
assert(r.reason == "userunknown" and r.type == "hard", r.reason .. " " .. r.type)
print("rockcheck: bounce " .. bounce._VERSION .. " (" .. (rawget(_G, "jit") and jit.version or _VERSION)
  .. ") from " .. loc .. ": " .. r.reason .. ", " .. r.type)
endef
export ROCKCHECK_LUA
ROCK_ENV = cd / && env -u LUA_INIT -u LUA_INIT_5_4 -u LUA_PATH_5_4 -u LUA_CPATH_5_4 -u HOME
rockcheck:
	@sh .ci/deps rockcheck
	rm -rf $(ROCKTREE) $(ROCKTREE51) build/rockserve && find lua -name '*.lua' | sort >build/rock-modules
	@printf '%s\n' "$$ROCKCHECK_LUA" >build/rockcheck.lua
	@find . -path ./build -prune -o -path ./.git -prune -o -print | sort >build/rock-before
	luarocks make --tree=$(ROCKTREE) --lua-version=5.4 --deps-mode=none rockspec/bounce-scm-1.rockspec
	luarocks make --tree=$(ROCKTREE51) --lua-version=5.1 --deps-mode=none rockspec/bounce-scm-1.rockspec \
	  LUA_INCDIR=/usr/include/luajit-2.1
	@find . -path ./build -prune -o -path ./.git -prune -o -print | sort >build/rock-after
	@diff build/rock-before build/rock-after && test ! -e build/rock && \
	  echo "rockcheck: luarocks make left nothing in the source folder"
	$(ROCK_ENV) LUA_PATH='$(ROCKTREE)/share/lua/5.4/?.lua;$(ROCKTREE)/share/lua/5.4/?/init.lua' \
	  LUA_CPATH='$(ROCKTREE)/lib/lua/5.4/?.so;/usr/lib/x86_64-linux-gnu/lua/5.4/?.so' sh -c ' \
	  lua5.4 $(CURDIR)/build/rockcheck.lua $(ROCKTREE) 5.4 $(CURDIR)/build/rock-modules && \
	  $(ROCKTREE)/bin/bounce classify "550 5.1.1 user unknown" | grep "\"reason\":\"userunknown\"" && \
	  $(ROCKTREE)/bin/bounce demo | grep -q "replies: .* hard" && echo "rockcheck: the 5.4 rock runs bounce demo" && \
	  { $(ROCKTREE)/bin/bounce serve --token rockcheck-token --conf-only --prefix $(CURDIR)/build/rockserve \
	    2>&1 | grep "luarocks --lua-version=5.1 make --tree=$(ROCKTREE) --deps-mode=none rockspec"; } && \
	  $(ROCKTREE)/bin/bounce serve --token rockcheck-token --conf-only --prefix $(CURDIR)/build/rockserve \
	    --lua-cpath $(ROCKTREE51)/lib/lua/5.1 && \
	  grep -q "lua_package_cpath \"$(ROCKTREE51)/lib/lua/5.1/" $(CURDIR)/build/rockserve/conf/nginx.conf && \
	  echo "rockcheck: the 5.4 rock names the 5.1 rock bounce serve needs, and serves with it"'
	$(ROCK_ENV) LUA_PATH='$(ROCKTREE51)/share/lua/5.1/?.lua;$(ROCKTREE51)/share/lua/5.1/?/init.lua' \
	  LUA_CPATH='$(ROCKTREE51)/lib/lua/5.1/?.so;/usr/lib/x86_64-linux-gnu/lua/5.1/?.so' sh -c ' \
	  luajit $(CURDIR)/build/rockcheck.lua $(ROCKTREE51) 5.1 $(CURDIR)/build/rock-modules && \
	  luajit $(ROCKTREE51)/lib/luarocks/rocks-5.1/bounce/scm-1/bin/bounce serve --token rockcheck-token \
	    --conf-only --prefix $(CURDIR)/build/rockserve && \
	  grep -q "lua_package_cpath \"$(ROCKTREE51)/lib/lua/5.1/" $(CURDIR)/build/rockserve/conf/nginx.conf && \
	  echo "rockcheck: the LuaJIT rock loads in LuaJIT and bounce serve finds it in its own tree" && \
	  lua5.1 $(CURDIR)/build/rockcheck.lua $(ROCKTREE51) 5.1 $(CURDIR)/build/rock-modules && \
	  $(ROCKTREE51)/bin/bounce classify "550 5.1.1 user unknown" | grep -q "\"reason\":\"userunknown\"" && \
	  $(ROCKTREE51)/bin/bounce demo | grep -q "replies: .* hard" && rm -rf $(CURDIR)/build/rockserve && \
	  $(ROCKTREE51)/bin/bounce serve --token rockcheck-token --conf-only --prefix $(CURDIR)/build/rockserve && \
	  grep -q "lua_package_cpath \"$(ROCKTREE51)/lib/lua/5.1/" $(CURDIR)/build/rockserve/conf/nginx.conf && \
	  echo "rockcheck: the same rock, built with LuaJIT'"'"'s headers, runs in lua5.1 (its bin/bounce): classify, demo, serve"'
	@# what the 5.4 rock told to run: the 5.1 rock into the same tree; then it serves with it
	luarocks --lua-version=5.1 make --tree=$(ROCKTREE) --deps-mode=none rockspec/bounce-scm-1.rockspec
	@find . -path ./build -prune -o -path ./.git -prune -o -print | sort >build/rock-after
	@diff build/rock-before build/rock-after && test ! -e build/rock
	$(ROCK_ENV) LUA_PATH='$(ROCKTREE)/share/lua/5.4/?.lua;$(ROCKTREE)/share/lua/5.4/?/init.lua' \
	  LUA_CPATH='$(ROCKTREE)/lib/lua/5.4/?.so;/usr/lib/x86_64-linux-gnu/lua/5.4/?.so' sh -c ' \
	  rm -rf $(CURDIR)/build/rockserve && \
	  lua5.4 $(ROCKTREE)/lib/luarocks/rocks-5.4/bounce/scm-1/bin/bounce serve --token rockcheck-token --conf-only \
	    --prefix $(CURDIR)/build/rockserve && \
	  grep -q "lua_package_cpath \"$(ROCKTREE)/lib/lua/5.1/" $(CURDIR)/build/rockserve/conf/nginx.conf && \
	  echo "rockcheck: with the 5.1 rock installed as it said, in its own tree, the 5.4 rock serves with it"'

demo: deps $(MODULE)
	@$(LUA) bin/bounce demo

install: $(MODULE)
	install -d $(DESTDIR)$(LIBDIR)/bounce $(DESTDIR)$(SHAREDIR)/bounce
	install -m 0755 $(MODULE) $(DESTDIR)$(LIBDIR)/bounce/core.so
	install -m 0755 $(SQLITE_MODULE) $(DESTDIR)$(LIBDIR)/bounce/sqlite.so
	cd lua && for f in $$(find bounce -name '*.lua'); do \
	  install -D -m 0644 $$f $(DESTDIR)$(SHAREDIR)/$$f || exit 1; done
	install -D -m 0644 policies/default.lua $(DESTDIR)$(SHAREDIR)/bounce/policies/default.lua
	@# what `bounce demo` reads, found beside the modules
	install -D -m 0644 data/replies.txt $(DESTDIR)$(SHAREDIR)/bounce/data/replies.txt
	install -D -m 0644 data/events.jsonl $(DESTDIR)$(SHAREDIR)/bounce/data/events.jsonl

# The rockspec's build (type "make"): luarocks runs `make rock` with
# LUA_CFLAGS for the Lua it builds for, then `make rock-install` with the
# rock's LIBDIR and SHAREDIR. The build is always fresh (the headers may be
# another Lua's than last time) and goes to build/rock, which rock-install
# removes: nothing is left beside the sources, where ./?.so would load it.
ROCK_BUILD := build/rock
rock:
	rm -rf $(ROCK_BUILD)
	$(MAKE) BUILD=$(ROCK_BUILD) all

rock-install:
	$(MAKE) BUILD=$(ROCK_BUILD) install
	rm -rf $(ROCK_BUILD)

clean:
	rm -rf build
