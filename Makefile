# shmguard - top-level build.  Plain GNU make; see README.md.
#
#   make            library (build/libshmguard.so) and tool (build/shmguard)
#   make check      the test suite, in private IPC namespaces
#   make demo       a short run that shows what the library records
#   make bench      benchmarks: ratios to the bare calls, same run
#   make asan       the test suite built with ASan+UBSan
#   make tsan       the threaded tests built with TSan
#   make torture    SIGKILL torture (1,200 kills), invariants after each burst
#   make fuzz       libFuzzer (clang) over every ledger reader, FUZZ_SECONDS
#   make valgrind   the tool's commands under valgrind memcheck
#   make e2e-postgres  PostgreSQL under the library: as bare, right creator,
#                   SIGKILL, gc frees the orphan, restart (root; installs
#                   postgresql-15 when missing)
#   make e2e-httpd  apache2 killed uncleanly until AH00023, diagnosed and
#                   freed (root; installs apache2 when missing)
#   make e2e-pod    pid namespaces with their own /proc sharing one IPC
#                   namespace and ledger, apache2 in one of them (root)
#   make install    PREFIX=/usr/local DESTDIR=
#   make clean

# Compile on every CPU unless told otherwise (make -jN); the tests
# themselves run one after another (scripts/run-tests.sh).
ifeq ($(filter -j%,$(MAKEFLAGS)),)
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 2)
endif

PREFIX   ?= /usr/local
DESTDIR  ?=
BUILD    ?= build
CC       ?= cc
VERSION  := 0.1.0

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS   ?= -O2 -g
SANFLAGS ?=
ALL_CFLAGS := -std=gnu11 $(WARN) $(CFLAGS) $(SANFLAGS) -fPIC -fvisibility=hidden \
              -pthread -DSG_VERSION=\"$(VERSION)\" -Ishim
LDLIBS_LIB := -ldl -pthread

# The shared analysis core: ledger, kernel facts, identity, config, log.
CORE_SRC := shim/sg_config.c shim/sg_log.c shim/sg_real.c shim/sg_proc.c shim/sg_pidns.c \
            shim/sg_kernel.c shim/sg_ksem.c shim/sg_ledger.c shim/sg_ledger_dir.c shim/sg_reconcile.c shim/sg_analysis.c shim/sg_verify.c
# The interposition logic (library only, also linked by unit tests).
SHIM_SRC := shim/sg_core.c shim/sg_local.c shim/sg_sem.c shim/sg_defer.c shim/sg_locks.c shim/sg_callsite.c shim/sg_diag.c shim/sg_creds.c
HOOK_SRC := shim/sg_hooks.c
TOOL_SRC := shim/tool_main.c shim/tool_ledger.c shim/tool_ls.c shim/tool_ls_sem.c shim/tool_doctor.c shim/tool_doctor_sem.c \
            shim/tool_gc.c shim/tool_gc_sem.c shim/tool_run.c shim/tool_util.c shim/tool_scan.c shim/tool_site.c \
            shim/tool_check.c shim/tool_check_report.c shim/tool_table.c shim/tool_ledger_check.c

CORE_OBJ := $(CORE_SRC:shim/%.c=$(BUILD)/%.o)
SHIM_OBJ := $(SHIM_SRC:shim/%.c=$(BUILD)/%.o)
HOOK_OBJ := $(HOOK_SRC:shim/%.c=$(BUILD)/%.o)
TOOL_OBJ := $(TOOL_SRC:shim/%.c=$(BUILD)/%.o)

LIB   := $(BUILD)/libshmguard.so
TOOL  := $(BUILD)/shmguard
CORE_A := $(BUILD)/libsgcore.a
SHIM_A := $(BUILD)/libsgshim.a
DEPS_STAMP := $(BUILD)/.deps-ok

# Tests: cmocka programs (tests/test_*.c) and helper programs
# (tests/helper_*.c) that the tests run as separate processes.
TEST_SRC   := $(wildcard tests/test_*.c)
HELPER_SRC := $(wildcard tests/helper_*.c)
TESTS      := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
HELPERS    := $(HELPER_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH      := $(BUILD)/bench/bench_calls $(BUILD)/bench/bench_diag $(BUILD)/bench/bench_mkseg \
              $(BUILD)/bench/bench_contend $(BUILD)/bench/bench_start $(BUILD)/bench/bench_scale \
              $(BUILD)/bench/libempty.so

.PHONY: all check demo bench asan tsan install clean deps e2e-httpd torture fuzz valgrind e2e-postgres e2e-pod
all: $(LIB) $(TOOL)

deps: $(DEPS_STAMP)
$(DEPS_STAMP): scripts/deps.sh
	@mkdir -p $(BUILD)
	@scripts/deps.sh
	@touch $@

$(BUILD)/%.o: shim/%.c $(wildcard shim/*.h) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(CORE_A): $(CORE_OBJ)
	ar rcs $@ $^
$(SHIM_A): $(SHIM_OBJ)
	ar rcs $@ $^

$(LIB): $(HOOK_OBJ) $(SHIM_OBJ) $(CORE_OBJ) shim/libshmguard.map
	$(CC) $(ALL_CFLAGS) -shared -Wl,--version-script=shim/libshmguard.map \
	    -Wl,-z,defs -o $@ $(HOOK_OBJ) $(SHIM_OBJ) $(CORE_OBJ) $(LDLIBS_LIB)

$(TOOL): $(TOOL_OBJ) $(CORE_A)
	$(CC) $(ALL_CFLAGS) -fPIE -pie -o $@ $(TOOL_OBJ) $(CORE_A) -lsmartcols -ldw -lelf -ldl -pthread

$(BUILD)/tests/%: tests/%.c $(wildcard tests/*.h) $(SHIM_A) $(CORE_A) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests -o $@ $< $(SHIM_A) $(CORE_A) -lcmocka $(TEST_LIBS) -ldl -pthread
# Unit tests of the tool's own code compile its sources in.
$(BUILD)/tests/test_tool_gc: TEST_LIBS := -ldw -lelf
$(BUILD)/tests/test_tool_gc: $(wildcard shim/tool_*.c)
$(BUILD)/tests/test_table: TEST_LIBS := -lsmartcols
$(BUILD)/tests/test_table: shim/tool_table.c

check: all $(TESTS) $(HELPERS)
	@scripts/run-tests.sh $(BUILD)

demo: all $(HELPERS)
	@scripts/demo.sh $(BUILD)

$(BUILD)/bench/bench_diag: tests/bench/bench_diag.c $(SHIM_A) $(CORE_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(SHIM_A) $(CORE_A) -ldl -pthread

$(BUILD)/bench/libempty.so: tests/bench/empty.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -shared -o $@ $<

$(BUILD)/bench/%: tests/bench/%.c tests/bench/bench_util.h | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< -ldl -pthread

e2e-httpd: all
	scripts/e2e-httpd.sh

e2e-pod: all $(HELPERS)
	BUILD=$(abspath $(BUILD)) scripts/e2e-pod.sh

e2e-postgres: all
	BUILD=$(abspath $(BUILD)) scripts/e2e-postgres.sh

valgrind: all $(BUILD)/tests/helper_actor
	@scripts/valgrind-tool.sh $(BUILD)

# SIGKILL torture: TORTURE_KILLS kills (at least 1,000), invariants after
# each burst (tests/torture/torture.c).
TORTURE_KILLS ?= 1200
$(BUILD)/torture: tests/torture/torture.c $(CORE_A) | $(DEPS_STAMP)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(CORE_A) -ldl -pthread
torture: all $(BUILD)/torture
	@scripts/torture.sh $(BUILD) $(TORTURE_KILLS)

# Fuzzing: clang's libFuzzer with ASan+UBSan over tests/fuzz/fuzz_ledger.c,
# the library's and the tool's ledger readers linked in; FUZZ_SECONDS of
# fuzzing from the seed corpus (scripts/fuzz.sh).
FUZZ_SECONDS ?= 60
FUZZ_SAN := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_TOOL_OBJ := $(filter-out $(BUILD)/tool_main.o,$(TOOL_OBJ))
$(BUILD)/fuzz_ledger: tests/fuzz/fuzz_ledger.c $(FUZZ_TOOL_OBJ) $(CORE_A)
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_TOOL_OBJ) $(CORE_A) -lsmartcols -ldw -lelf -ldl -pthread
fuzz:
	@scripts/fuzz.sh deps
	$(MAKE) BUILD=build-fuzz CC=clang CFLAGS="-O1 -g" SANFLAGS="$(FUZZ_SAN)" build-fuzz/fuzz_ledger
	@scripts/fuzz.sh run build-fuzz $(FUZZ_SECONDS)

bench: all $(BENCH)
	@scripts/bench.sh $(BUILD)

asan:
	$(MAKE) BUILD=build-asan SANFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" check

tsan:
	$(MAKE) BUILD=build-tsan SANFLAGS="-fsanitize=thread" SG_TESTS_FILTER="thread test_ledger" check

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/share/man/man1 \
	    $(DESTDIR)$(PREFIX)/share/man/man7
	install -m 0755 $(TOOL) $(DESTDIR)$(PREFIX)/bin/shmguard
	install -m 0755 $(LIB) $(DESTDIR)$(PREFIX)/lib/libshmguard.so
	install -m 0644 man/shmguard.1 $(DESTDIR)$(PREFIX)/share/man/man1/shmguard.1
	install -m 0644 man/libshmguard.7 $(DESTDIR)$(PREFIX)/share/man/man7/libshmguard.7

clean:
	rm -rf build build-asan build-tsan build-fuzz
