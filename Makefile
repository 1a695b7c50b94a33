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

CORE_SRC := src/reason.c src/reply.c src/status.c src/match.c src/classify.c src/rules.c
CORE_HDR := $(wildcard src/*.h)
MODULE   := $(BUILD)/bounce/core.so

.PHONY: all test ctest spec spec-luajit spec-all lint asan conformance bench fuzz \
        demo deps clean install smoke

all: $(MODULE)

$(MODULE): $(CORE_SRC) src/lbounce.c $(CORE_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LUA_CFLAGS) -shared -o $@ $(CORE_SRC) src/lbounce.c $(LDFLAGS)

# C unit tests of the core, no Lua involved: one binary per test/test_*.c.
CTESTS := $(patsubst test/%.c,$(BUILD)/%,$(wildcard test/test_*.c))
$(BUILD)/test_%: test/test_%.c $(CORE_SRC) $(CORE_HDR) test/check.h
	@mkdir -p $(dir $@)
	$(CC) $(OPT) $(WARN) $(WERROR) $(CFLAGS) -Isrc -o $@ $(CORE_SRC) $< $(LDFLAGS)

deps:
	@sh .ci/deps test

ctest: $(CTESTS)
	@for t in $(CTESTS); do echo "== $$t"; $$t || exit 1; done

spec: $(MODULE)
	busted --lua=$(LUA) --cpath='./$(BUILD)/?.so' spec

spec-luajit:
	$(MAKE) LUA=luajit spec

# Every test: C tests and specs under Lua 5.4, then the specs under LuaJIT.
test: deps
	$(MAKE) ctest spec
	$(MAKE) spec-luajit

# The same specs under each Lua this module supports.
spec-all: test
	$(MAKE) LUA=lua5.1 spec
	$(MAKE) LUA=lua5.3 spec

lint: deps
	luacheck lua spec bin rockspec bench
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --std=c99 --inline-suppr -Isrc \
	  $(CORE_SRC) $(wildcard test/*.c)
	$(MAKE) -B WERROR=-Werror BUILD=build/werror all ctest

# The C tests and the specs with AddressSanitizer and UBSan. The module is
# loaded by a stock interpreter, so the runtime is preloaded.
ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
asan: deps
	$(MAKE) BUILD=build/asan OPT="$(ASAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" \
	  ctest build/asan/bounce/core.so
	LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" \
	  ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  busted --lua=$(LUA) --cpath='./build/asan/?.so' spec

conformance: $(MODULE)
	@$(LUA) bench/conformance.lua

bench: $(MODULE)
	$(MAKE) LUA=luajit all
	@sh bench/run.sh

fuzz:
	@sh fuzz/run.sh $(FUZZ_SECONDS)

demo: deps $(MODULE)
	@$(LUA) bin/bounce demo

install: $(MODULE)
	install -d $(DESTDIR)$(LIBDIR)/bounce $(DESTDIR)$(SHAREDIR)/bounce
	install -m 0755 $(MODULE) $(DESTDIR)$(LIBDIR)/bounce/core.so
	install -m 0644 lua/bounce/*.lua $(DESTDIR)$(SHAREDIR)/bounce/

clean:
	rm -rf build
