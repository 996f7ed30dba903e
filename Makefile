# derpcheck — see README.md. `make demo` runs it, `make check` tests it.

VERSION    := 0.1.0
PREFIX     ?= /usr/local
DESTDIR    ?=
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/vendor-completions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d

BUILD      ?= build
BIN        ?= derpcheck
CFLAGS     ?= -O2 -g
PKGS       := openssl libcurl libcjson libsodium yaml-0.1
# libcurl is loaded with dlopen when a URL is fetched (src/net/http.c), and OpenSSL when
# TLS is first needed (src/net/ossl.c): headers only for derpcheck. Programs that call
# OpenSSL themselves (unit tests, test servers, benchmarks, fuzz targets) link it.
LINK_PKGS  := libcjson libsodium yaml-0.1
TEST_LINK_PKGS := openssl $(LINK_PKGS)
# Recursive (=) so pkg-config runs after scripts/deps.sh has installed what is missing.
PKG_CFLAGS  = $(shell pkg-config --cflags $(PKGS))
# --as-needed: a library nothing calls (libm) is not mapped into every process.
PKG_LIBS    = -Wl,--as-needed $(shell pkg-config --libs $(LINK_PKGS)) -ldl
TEST_PKG_LIBS = $(shell pkg-config --libs $(TEST_LINK_PKGS)) -ldl
CMOCKA_LIBS = $(shell pkg-config --libs cmocka)

WARN       := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wformat=2 -Wno-format-nonliteral
ifeq ($(WERROR),1)
WARN       += -Werror
endif
# The user's CFLAGS/LDFLAGS come last: they are added to, never replaced.
# -fno-math-errno: nothing reads errno after sqrt(), so the compiler inlines it and
# derpcheck needs no libm at run time (a mapped library is page faults at every start).
ALL_CFLAGS  = -std=c11 -D_GNU_SOURCE -DDERPCHECK_VERSION='"$(VERSION)"' -Iinclude -Isrc -fno-math-errno \
              $(WARN) $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(LDFLAGS)
LIBS        = $(PKG_LIBS) -lm
TEST_LIBS   = $(TEST_PKG_LIBS) -lm

DERPMAP_JSON := data/tailscale-default-derpmap.json
# The folders are the layers (input -> probe over net -> judge -> output; util under all).
# Every .c in them, and cli.c, is a core module in the library; main.c and the command
# layer (src/cmd/) are the tool.
LAYERS     := input net probe judge output util
CMD_SRCS   := src/main.c $(sort $(wildcard src/cmd/*.c))
CORE_SRCS  := src/cli.c $(sort $(foreach d,$(LAYERS),$(wildcard src/$(d)/*.c)))
CORE_OBJS  := $(CORE_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/src/input/default_derpmap.o
CMD_OBJS   := $(CMD_SRCS:%.c=$(BUILD)/%.o)
LIB        := $(BUILD)/libderpcheck.a
UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRCS  := $(wildcard tests/fuzz/fuzz_*.c)
# Test servers (STUN, DERP, LocalAPI, ...) with misbehaviour modes, one file each.
TOOL_SRCS  := $(wildcard tests/tools/*.c)
TOOL_BINS  := $(TOOL_SRCS:tests/tools/%.c=$(BUILD)/tools/%)
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)

.PHONY: all deps deps-check check unit cli-tests integration peers tools fuzz fuzz-smoke fuzz-build asan bench bench-exporter demo install uninstall clean

all: $(BIN)

deps:
	@scripts/deps.sh build
deps-check:
	@scripts/deps.sh check

$(BUILD)/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/src/input/default_derpmap.o: src/input/default_derpmap.S $(DERPMAP_JSON) | deps
	@mkdir -p $(dir $@)
	$(CC) -DDERPMAP_FILE='"$(DERPMAP_JSON)"' -c $< -o $@

$(LIB): $(CORE_OBJS)
	$(AR) rcs $@ $^

$(BIN): $(CMD_OBJS) $(LIB)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(CMD_OBJS) $(LIB) $(LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB) | deps-check
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB) $(TEST_LIBS) $(CMOCKA_LIBS)

$(BUILD)/tools/%: tests/tools/%.c $(LIB) | deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB) $(TEST_LIBS)

tools: $(TOOL_BINS)

# ---- tests ---------------------------------------------------------------------

# Network safety net: no test may fetch Tailscale's public default map, even one that
# forgets --derp-map (set but empty: derpcheck skips that source, src/input/mapchoice.c).
export DERPCHECK_DEFAULT_MAP_URL =

check: deps-check
	@$(MAKE) --no-print-directory unit cli-tests integration fuzz-smoke

# Each test program's full output is kept in its .log; it is shown when the program fails.
unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do \
		if $$t >$$t.log 2>&1; then echo "$$t: $$(grep -c '^\[       OK \]' $$t.log) passed"; \
		else cat $$t.log; echo "FAIL: $$t"; exit 1; fi; done

cli-tests: $(BIN) | deps-check
	@DERPCHECK=$(abspath $(BIN)) tests/cli/run.sh
	@DERPCHECK=$(abspath $(BIN)) tests/cli/docs.sh
	@DERPCHECK=$(abspath $(BIN)) tests/cli/completions.sh
	@DERPCHECK=$(abspath $(BIN)) tests/cli/install.sh "$(MAKE)" "$(BIN)"
	@tests/cli/tree.sh

# Tailscale's real derper (v1.34.2) and Go DERP client, from the vendored sources next to
# this repository (PEERS_SRC), built once into build/peers (also for `make asan`): the
# integration tests run derpcheck against them. Missing sources are an error, not a skip.
# (../shared/peers beside the clone; ../../shared/peers for a git worktree one level down).
PEERS_SRC ?= $(firstword $(wildcard $(abspath ../shared/peers) $(abspath ../../shared/peers)) $(abspath ../shared/peers))
PEERS_DIR := build/peers
peers:
	@if [ ! -x "$(PEERS_SRC)/build.sh" ]; then \
		echo "derpcheck: Tailscale's derper sources are not in $(PEERS_SRC); set PEERS_SRC=DIR" >&2; exit 1; fi
	@"$(PEERS_SRC)/build.sh" $(PEERS_DIR)

# Every tests/integration/*.sh against real local servers (loopback and test namespaces).
# Scripts that need root skip loudly when not root, and fail in CI (CI=1 or root).
# Every derpcheck command an output prints is run as well (tests/lib/hints.sh); the
# commands and their exit statuses are listed in $(BUILD)/hints.log.
integration: $(BIN) $(TOOL_BINS) peers | deps-check
	@: >$(BUILD)/hints.log
	@set -e; for t in $(sort $(wildcard tests/integration/*.sh)); do \
		echo "== $$t"; DERPCHECK=$(abspath $(BIN)) TOOLS=$(abspath $(BUILD)/tools) \
		PEERS=$(abspath $(PEERS_DIR)/bin) HINTS_LOG=$(abspath $(BUILD)/hints.log) $$t; done
	@echo "printed commands run: $$(wc -l <$(BUILD)/hints.log) (listed in $(BUILD)/hints.log)"

# The whole suite again under AddressSanitizer and UndefinedBehaviorSanitizer. The
# sanitizers make derpcheck 2-3 times slower: the hostile suite's "--timeout + 1 s" gets
# more slack for that (tests/integration/lib/hostile.sh), and so does diagnose --all's
# "slowest region plus 700 ms" (SANITIZER_SLACK_MS, tests/integration/diagnose_all.sh).
asan: deps-check
	@$(MAKE) --no-print-directory BUILD=build-asan BIN=build-asan/derpcheck HOSTILE_SLACK_MS=2500 SANITIZER_SLACK_MS=2000 \
		CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		LDFLAGS="-fsanitize=address,undefined" unit cli-tests integration

# libFuzzer targets (clang), docs/fuzzing.md. The core is compiled once with coverage
# instrumentation and the sanitizers into its own library; each tests/fuzz/fuzz_NAME.c
# links against it and runs on tests/fuzz/corpus/NAME/. FUZZ_TIME seconds per target;
# the smoke run in `make check` gives each 3 s. fuzz_cli also links the command layer
# (for the command tables), without main.c.
FUZZ_TIME  ?= 60
FUZZ_CC    ?= clang
FUZZ_BUILD := $(BUILD)/fuzz
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -DDERPCHECK_VERSION='"$(VERSION)"' -Iinclude -Isrc -g -O1 \
              -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all $(PKG_CFLAGS)
FUZZ_LIB   := $(FUZZ_BUILD)/libderpcheck-fuzz.a
FUZZ_CMDLIB := $(FUZZ_BUILD)/libderpcheck-fuzz-cmd.a
FUZZ_BINS  := $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_BUILD)/%)

$(FUZZ_BUILD)/obj/%.o: %.c | deps-check
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

$(FUZZ_BUILD)/obj/default_derpmap.o: src/input/default_derpmap.S $(DERPMAP_JSON)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -DDERPMAP_FILE='"$(DERPMAP_JSON)"' -c $< -o $@

$(FUZZ_LIB): $(CORE_SRCS:%.c=$(FUZZ_BUILD)/obj/%.o) $(FUZZ_BUILD)/obj/default_derpmap.o
	$(AR) rcs $@ $^

$(FUZZ_CMDLIB): $(filter-out $(FUZZ_BUILD)/obj/src/main.o,$(CMD_SRCS:%.c=$(FUZZ_BUILD)/obj/%.o))
	$(AR) rcs $@ $^

$(FUZZ_BUILD)/fuzz_cli: tests/fuzz/fuzz_cli.c $(FUZZ_CMDLIB) $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_CMDLIB) $(FUZZ_LIB) $(TEST_PKG_LIBS) -lm

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB) $(TEST_PKG_LIBS) -lm

fuzz-build: $(FUZZ_BINS)

fuzz: deps-check
	@$(MAKE) --no-print-directory fuzz-run FUZZ_TIME=$(FUZZ_TIME)
fuzz-smoke: deps-check
	@$(MAKE) --no-print-directory fuzz-run FUZZ_TIME=3

.PHONY: fuzz-run fuzz-build
fuzz-run: $(FUZZ_BINS)
	@set -e; for bin in $(FUZZ_BINS); do \
		name=$$(basename $$bin); corpus=tests/fuzz/corpus/$${name#fuzz_}; \
		mkdir -p $(FUZZ_BUILD)/corpus-$$name; log=$(FUZZ_BUILD)/$$name.log; \
		if $$bin -max_total_time=$(FUZZ_TIME) -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
			-artifact_prefix=$(FUZZ_BUILD)/$$name- -print_final_stats=1 \
			$(FUZZ_BUILD)/corpus-$$name $$corpus >$$log 2>&1; then \
			echo "fuzz $$name: $$(sed -n 's/^stat::number_of_executed_units: *//p' $$log) runs in $(FUZZ_TIME)s, no crash"; \
		else \
			tail -40 $$log; echo "FAIL: fuzz $$name found a bug; the input is in $(FUZZ_BUILD)/$$name-*"; exit 1; \
		fi; \
	done

# ---- benchmarks, demo, install --------------------------------------------------

$(BUILD)/bench/%: bench/%.c $(LIB) | deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB) $(TEST_LIBS)

# Every bench/bench_*.sh; each prints its figures and the target it is measured against:
# Tailscale's own derper, DERP client and netcheck (PEERS) where one exists, in the same run.
# BENCH=netcheck (a bench_*.sh name without the prefix) runs one of them.
BENCH ?= *
bench: $(BIN) $(BENCH_BINS) $(TOOL_BINS) peers
	@scripts/deps.sh bench
	@status=0; for b in $(sort $(wildcard bench/bench_$(BENCH).sh)); do \
		DERPCHECK=$(abspath $(BIN)) BENCH_BIN=$(abspath $(BUILD)/bench) TOOLS=$(abspath $(BUILD)/tools) \
		PEERS=$(abspath $(PEERS_DIR)/bin) $$b || status=1; done; exit $$status

# The exporter over 10 minutes with 30 loopback regions: its CPU time and memory (not in `make bench`).
bench-exporter: $(BIN) $(TOOL_BINS)
	@DERPCHECK=$(abspath $(BIN)) TOOLS=$(abspath $(BUILD)/tools) bench/exporter_soak.sh

# The problem derpcheck exists for, diagnosed and fixed on this machine (scripts/demo.sh):
# in network namespaces as root, on loopback otherwise; with Tailscale's derper, built
# first when its sources are beside the clone, else with the project's test servers.
demo: $(BIN) $(TOOL_BINS)
	@if [ -x "$(PEERS_SRC)/build.sh" ]; then $(MAKE) --no-print-directory peers; \
	else echo "derpcheck: no $(PEERS_SRC): the demo uses the project's test DERP server" >&2; fi
	@scripts/demo.sh ./$(BIN) $(BUILD)/tools $(PEERS_DIR)/bin

install: $(BIN)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(BASHCOMPDIR) \
		$(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	install -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/derpcheck
	install -m 0644 docs/derpcheck.1 $(DESTDIR)$(MANDIR)/man1/derpcheck.1
	install -m 0644 completions/derpcheck.bash $(DESTDIR)$(BASHCOMPDIR)/derpcheck
	install -m 0644 completions/_derpcheck $(DESTDIR)$(ZSHCOMPDIR)/_derpcheck
	install -m 0644 completions/derpcheck.fish $(DESTDIR)$(FISHCOMPDIR)/derpcheck.fish

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/derpcheck $(DESTDIR)$(MANDIR)/man1/derpcheck.1 \
		$(DESTDIR)$(BASHCOMPDIR)/derpcheck $(DESTDIR)$(ZSHCOMPDIR)/_derpcheck \
		$(DESTDIR)$(FISHCOMPDIR)/derpcheck.fish

clean:
	rm -rf build build-asan derpcheck

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
