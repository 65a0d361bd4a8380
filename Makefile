# seccomp-syncd build.  `make` builds build/seccomp-syncd and the static library that the
# binary, the unit tests, the fuzzers and the benchmarks all link.  Sources are found by
# wildcard, so a new module file needs no Makefile change:
#   common/ daemon/ k8s/ profilestore/ *.c   -> the library (daemon/main.c -> the binary)
#   tests/unit/test_NAME.c                   -> build/tests/test_NAME (one cmocka program per module);
#                                               extra link flags (e.g. -Wl,--wrap=fsync) in
#                                               tests/unit/test_NAME.ldflags
#   tests/unit/support/*.c                   -> linked into every unit test
#   tests/fuzz/fuzz_NAME.c                   -> build/fuzz/fuzz_NAME (libFuzzer), seeds in
#                                               tests/fuzz/corpus/NAME/
#   bench/bench_NAME.c                       -> build/bench/bench_NAME
# Fragments in mk/*.mk add module-specific rules.

CC ?= cc
# GNU make presets CC=cc, so `?=` alone would not pick up the environment; keep what the user set.
ifeq ($(origin CC),default)
CC := cc
endif
BUILD ?= build
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
PYTHON ?= /usr/bin/python3
PKGS := libcurl yajl yaml-0.1 libseccomp libmicrohttpd

WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
	-Wvla -Wimplicit-fallthrough -fno-common
OPT ?= -O2
HARDEN := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fstack-clash-protection -fPIE
SAN_FLAGS :=
ifeq ($(SANITIZE),1)
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
OPT := -O1
HARDEN := -fPIE
endif
EXTRA_CFLAGS ?=
CFLAGS := -std=c11 -g $(OPT) $(WARN) $(HARDEN) $(SAN_FLAGS) $(EXTRA_CFLAGS)
CPPFLAGS := -I. -D_GNU_SOURCE $(shell pkg-config --cflags $(PKGS) 2>/dev/null) \
	-DSYNCD_VERSION='"$(VERSION)"' $(EXTRA_CPPFLAGS)
LDFLAGS := -pie -Wl,-z,relro,-z,now $(SAN_FLAGS) $(EXTRA_LDFLAGS)
LDLIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread
TEST_LDLIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

LIB_SRC := $(filter-out daemon/main.c,$(sort $(wildcard common/*.c daemon/*.c k8s/*.c profilestore/*.c)))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LIB := $(BUILD)/libseccomp-syncd.a
BIN := $(BUILD)/seccomp-syncd
HEADERS := $(wildcard common/*.h daemon/*.h k8s/*.h profilestore/*.h tests/unit/support/*.h)

UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
SUPPORT_SRC := $(wildcard tests/unit/support/*.c)
SUPPORT_OBJ := $(SUPPORT_SRC:%.c=$(BUILD)/obj/%.o)

BENCH_SRC := $(sort $(wildcard bench/bench_*.c))
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_RUNS ?= 20000
# A fixed seed makes a CI run repeatable: what passes from a fresh clone here passes there.
# Explore with `make fuzz FUZZ_SEED=0 FUZZ_RUNS=1000000` (0: a random seed).
FUZZ_SEED ?= 1

FORMAT_SRC = $(shell git ls-files '*.c' '*.h' 2>/dev/null)

.PHONY: all deps unit check test integration asan valgrind analyze fuzz fuzz-build bench \
	format check-format demo clean
.DELETE_ON_ERROR:

all: $(BIN)

# Debian packages (idempotent; installs only what is missing, needs root when it does).
deps:
	@scripts/install-deps

$(BUILD)/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(BUILD)/obj/daemon/main.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB) $(SUPPORT_OBJ) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-missing-prototypes $(LDFLAGS) -o $@ $< $(SUPPORT_OBJ) $(LIB) \
		$$(cat tests/unit/$*.ldflags 2>/dev/null) $(LDLIBS) $(TEST_LDLIBS)

$(BUILD)/bench/%: bench/%.c $(LIB) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-missing-prototypes $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# Unit tests: every cmocka program, then one summary line.
unit: $(UNIT_BIN) $(BIN)
	@tests/run-unit $(UNIT_BIN)

integration: $(BIN) $(UNIT_BIN)
	@BUILD=$(BUILD) PYTHON=$(PYTHON) tests/run-integration

check: unit integration

# The README's test command: install what is missing, then every test, real containers included.
test: deps
	@$(MAKE) --no-print-directory check
	@$(MAKE) --no-print-directory e2e

asan:
	@$(MAKE) --no-print-directory BUILD=build/asan SANITIZE=1 unit

# Valgrind wants an unsanitized build; tests/run-unit picks the wrapper from VALGRIND.
valgrind:
	@$(MAKE) --no-print-directory BUILD=build/valgrind OPT=-O1 $(addprefix build/valgrind/tests/,$(notdir $(UNIT_BIN))) build/valgrind/seccomp-syncd
	@VALGRIND=1 tests/run-unit $(addprefix build/valgrind/tests/,$(notdir $(UNIT_BIN)))

analyze:
	@scripts/check-banned
	cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,portability,performance \
		--inline-suppr --suppress=missingIncludeSystem -D_GNU_SOURCE -I. \
		common daemon k8s profilestore
	@# One file per run: clang-tidy 14 reports false va_list findings when given several at once.
	@printf '%s\n' $(LIB_SRC) daemon/main.c | xargs -P2 -I{} clang-tidy --quiet {} -- $(CPPFLAGS) -std=c11
	scan-build --status-bugs -o build/scan-report $(MAKE) --no-print-directory BUILD=build/scan \
		CC=clang build/scan/seccomp-syncd

# libFuzzer targets link a sanitized, coverage-instrumented copy of the library.
FUZZ_BUILD := build/fuzz
FUZZ_CFLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
fuzz-build:
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD)/lib CC=clang OPT=-O1 \
		EXTRA_CFLAGS="$(FUZZ_CFLAGS)" HARDEN=-fPIE $(FUZZ_BUILD)/lib/libseccomp-syncd.a
	@mkdir -p $(FUZZ_BUILD)
	@set -e; for f in $(FUZZ_SRC); do n=$$(basename $$f .c); \
		echo "  FUZZ  $$n"; \
		clang $(CPPFLAGS) -std=c11 -g -O1 -Wall -Wextra -Werror -fsanitize=fuzzer,address,undefined \
			-o $(FUZZ_BUILD)/$$n $$f $(FUZZ_BUILD)/lib/libseccomp-syncd.a $(LDLIBS); done

fuzz: fuzz-build
	@set -e; for f in $(FUZZ_SRC); do n=$$(basename $$f .c); c=tests/fuzz/corpus/$${n#fuzz_}; \
		mkdir -p $(FUZZ_BUILD)/corpus/$$n; \
		echo "  RUN   $$n -runs=$(FUZZ_RUNS)"; \
		$(FUZZ_BUILD)/$$n -runs=$(FUZZ_RUNS) -seed=$(FUZZ_SEED) -artifact_prefix=$(FUZZ_BUILD)/ -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
			-print_final_stats=0 $(FUZZ_BUILD)/corpus/$$n $$c 2>$(FUZZ_BUILD)/$$n.log \
			|| { tail -50 $(FUZZ_BUILD)/$$n.log; exit 1; }; done

bench: $(BIN) $(BENCH_BIN)
	@BUILD=$(BUILD) PYTHON=$(PYTHON) bench/run

format:
	clang-format -i $(FORMAT_SRC)

check-format:
	clang-format --dry-run --Werror $(FORMAT_SRC)

# The README's main job.
demo: deps $(BIN)
	@BUILD=$(BUILD) PYTHON=$(PYTHON) scripts/demo

clean:
	rm -rf build

-include $(wildcard mk/*.mk)
