# hydrant: one top-level GNU Makefile (see ../shared/STYLE.md section 8).
#   make            build/hydrant (release, -O2 -g)
#   make run        install missing Debian packages, build, serve on 127.0.0.1:4566
#   make test       install what the tests need, build, run unit then integration tests
#   make asan       build with ASan+UBSan (clang); run the unit and integration tests on it
#   make tsan       build with ThreadSanitizer (clang) and run the unit tests
#   make fuzz       run every libFuzzer target for FUZZ_TIME seconds (default 30)
#   make lint       clang-format --dry-run, cppcheck, banned-function check
#   make bench      run the benchmarks (bench/README.md)

CC ?= cc
BUILD ?= build
WERROR ?=
PKGS := libcjson libcrypto libcurl zlib libzstd expat libpq
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wstrict-prototypes -Wvla \
	-Wformat=2 -Wno-unused-parameter -Isrc $(WERROR) -MMD -MP -pthread \
	$(shell pkg-config --cflags $(PKGS) 2>/dev/null)
CFLAGS ?= -O2 -g -D_FORTIFY_SOURCE=2
LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lsnappy -ljq -lh2o-evloop -pthread -lm

SRC := $(filter-out src/main.c,$(wildcard src/*/*.c src/*/*/*.c))
OBJ := $(SRC:%.c=$(BUILD)/obj/%.o)
UNIT_SRC := $(wildcard tests/unit/*_test.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC := $(wildcard tests/fuzz/*_fuzz.c)
FUZZ_TIME ?= 30

.SECONDARY:

.PHONY: all run test unit integration asan tsan fuzz fuzz-lib lint bench deps test-deps clean

all: $(BUILD)/hydrant

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(CFLAGS) -c $< -o $@

$(BUILD)/libhydrant.a: $(OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/hydrant: $(BUILD)/obj/src/main.o $(BUILD)/libhydrant.a
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(BUILD)/libhydrant.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS) -lcmocka

$(BUILD)/loadgen: bench/loadgen.c $(BUILD)/libhydrant.a
	$(CC) $(CFLAGS_BASE) $(CFLAGS) -o $@ $^ $(LIBS)

LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lsnappy -ljq -lh2o-evloop -pthread -lm

$(BUILD)/nabsweep: bench/nabsweep.c $(BUILD)/libhydrant.a
	$(CC) $(CFLAGS_BASE) $(CFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/parse: bench/parse.c $(BUILD)/libhydrant.a
	$(CC) $(CFLAGS_BASE) $(CFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/pqconv: bench/pqconv.c $(BUILD)/libhydrant.a
	$(CC) $(CFLAGS_BASE) $(CFLAGS) -o $@ $^ $(LIBS)

deps:
	@scripts/deps.sh run

test-deps:
	@scripts/deps.sh test
	@[ tests/integration/js/node_modules/.package-lock.json -nt tests/integration/js/package-lock.json ] || ! command -v npm >/dev/null || \
	    (cd tests/integration/js && npm ci --no-audit --no-fund --loglevel=error) || \
	    echo "npm ci failed: the AWS SDK for JavaScript test will skip"

run: deps all
	$(BUILD)/hydrant serve

unit: $(UNIT_BIN)
	@scripts/run-unit.sh $(UNIT_BIN)

integration: all
	@tests/integration/run.sh $(BUILD)/hydrant

test: test-deps
	$(MAKE) -j2 all unit $(BUILD)/pqconv
	$(MAKE) integration

asan:
	$(MAKE) BUILD=build/asan CC=clang \
	    CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" \
	    all unit
	HYDRANT_IT_TIMEOUT_SCALE=4 tests/integration/run.sh build/asan/hydrant

# ThreadSanitizer over the unit tests (the committer, delivery and event-loop threads).
tsan:
	$(MAKE) -j2 BUILD=build/tsan CC=clang CFLAGS="-O1 -g -fsanitize=thread" all unit

# libFuzzer targets: each tests/fuzz/X_fuzz.c links the library built with the fuzzer's coverage.
# The library is brought up to date first (a sub-make), so a changed source relinks every target.
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/bin/%)
FUZZ_CFLAGS := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -DHY_FUZZ

fuzz-lib:
	$(MAKE) BUILD=build/fuzz CC=clang CFLAGS="$(FUZZ_CFLAGS)" build/fuzz/libhydrant.a

build/fuzz/bin/%: tests/fuzz/%.c build/fuzz/libhydrant.a
	@mkdir -p $(dir $@)
	clang $(CFLAGS_BASE) -O1 -g -fsanitize=fuzzer,address,undefined -DHY_FUZZ -o $@ $< \
	    build/fuzz/libhydrant.a $(LIBS)

fuzz: fuzz-lib
	$(MAKE) $(FUZZ_BIN)
	@scripts/run-fuzz.sh $(FUZZ_TIME) $(FUZZ_BIN)

lint:
	@scripts/lint.sh

bench: all $(BUILD)/loadgen $(BUILD)/parse $(BUILD)/pqconv
	@bench/run.sh

clean:
	rm -rf build

-include $(OBJ:.o=.d) $(BUILD)/obj/src/main.d $(UNIT_SRC:tests/unit/%.c=$(BUILD)/obj/tests/unit/%.d)
