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
#   make valgrind   the tool's commands, and programs under the library, in memcheck
#   make e2e-postgres  PostgreSQL under the library: as bare, right creator,
#                   SIGKILL, gc frees the orphan, restart (root; installs
#                   postgresql-15 when missing)
#   make e2e-httpd  apache2 killed uncleanly until AH00023, diagnosed and
#                   freed (root; installs apache2 when missing)
#   make e2e-pod    pid namespaces with their own /proc sharing one IPC
#                   namespace and ledger, apache2 in one of them (root)
#   make e2e-prometheus  doctor --output scraped by Debian's node exporter
#                   (root; installs prometheus-node-exporter, prometheus)
#   make deb        the Debian package, build/deb/shmguard_<v>_<arch>.deb,
#                   checked with lintian (installs debhelper, lintian)
#   make deb-check  install that package, verify its units, e2e-httpd
#                   against the installed files, purge, nothing left (root)
#   make install    PREFIX=/usr/local DESTDIR= (BINDIR, LIBDIR, UNITDIR,
#                   TEXTFILE_DIR: see below)
#   make clean

# Compile on every CPU unless told otherwise (make -jN); the tests
# themselves run one after another (scripts/run-tests.sh).
ifeq ($(filter -j%,$(MAKEFLAGS)),)
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 2)
endif

PREFIX   ?= /usr/local
DESTDIR  ?=
BINDIR   ?= $(PREFIX)/bin
LIBDIR   ?= $(PREFIX)/lib
MANDIR   ?= $(PREFIX)/share/man
UNITDIR  ?= $(PREFIX)/lib/systemd/system
# Where node exporter's textfile collector reads (Debian's default).
TEXTFILE_DIR ?= /var/lib/prometheus/node-exporter
BUILD    ?= build
CC       ?= cc
VERSION  := 0.1.0

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS   ?= -O2 -g
SANFLAGS ?=
MULTIARCH ?= $(shell $(CC) -print-multiarch 2>/dev/null)
LDFLAGS  ?=
ALL_CFLAGS := -std=gnu11 $(WARN) $(CFLAGS) $(SANFLAGS) -fPIC -fvisibility=hidden \
              -pthread -DSG_VERSION=\"$(VERSION)\" -DSG_MULTIARCH=\"$(MULTIARCH)\"
# Three folders, one direction of use: the preloaded library (shim/) and
# the tool (tool/) use the shared core (core/), never each other; core/
# uses nothing above it.  Each is compiled with only its own headers and
# those below in the include path, so a wrong-way include fails the build.
CORE_INC := -Icore
SHIM_INC := -Ishim -Icore
TOOL_INC := -Itool -Icore
TEST_INC := -Itests -Ishim -Icore -Itool
LDLIBS_LIB := -ldl -pthread

# core/: what library and tool share: ledger, kernel and /proc facts,
# pid namespaces, analysis, verification, configuration, log.
CORE_SRC := $(wildcard core/*.c)
# shim/: what runs inside a host process: the hooks and the logic behind
# them (also linked by unit tests, without the hooks).
HOOK_SRC := shim/sg_hooks.c
SHIM_SRC := $(filter-out $(HOOK_SRC),$(wildcard shim/*.c))
# tool/: the shmguard command.
TOOL_SRC := $(wildcard tool/*.c)

CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)
SHIM_OBJ := $(SHIM_SRC:%.c=$(BUILD)/%.o)
HOOK_OBJ := $(HOOK_SRC:%.c=$(BUILD)/%.o)
TOOL_OBJ := $(TOOL_SRC:%.c=$(BUILD)/%.o)

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
              $(BUILD)/bench/libempty.so $(BUILD)/bench/oneshot

.PHONY: all check demo bench asan tsan install clean deps e2e-httpd torture fuzz valgrind e2e-postgres e2e-pod e2e-prometheus deb deb-check
UNITS := $(BUILD)/systemd/shmguard-metrics.service $(BUILD)/systemd/shmguard-metrics.timer
all: $(LIB) $(TOOL) $(UNITS)

# systemd units, with the paths of this install.
$(BUILD)/systemd/%: systemd/%.in Makefile
	@mkdir -p $(dir $@)
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@TEXTFILE_DIR@|$(TEXTFILE_DIR)|g' $< >$@
$(BUILD)/systemd/%: systemd/%
	@mkdir -p $(dir $@)
	cp $< $@

deps: $(DEPS_STAMP)
$(DEPS_STAMP): scripts/deps.sh
	@mkdir -p $(BUILD)
	@scripts/deps.sh
	@touch $@

$(BUILD)/core/%.o: core/%.c $(wildcard core/*.h) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CORE_INC) -c $< -o $@
$(BUILD)/shim/%.o: shim/%.c $(wildcard shim/*.h core/*.h) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SHIM_INC) -c $< -o $@
$(BUILD)/tool/%.o: tool/%.c $(wildcard tool/*.h core/*.h) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(TOOL_INC) -c $< -o $@

$(CORE_A): $(CORE_OBJ)
	ar rcs $@ $^
$(SHIM_A): $(SHIM_OBJ)
	ar rcs $@ $^

# The configuration first: the linker lays writable data out in input
# order, so its first fields, which every process's first call writes,
# begin right after .data, on the page of the library's data that the
# loader has already written (relocations), and cost no page fault of
# their own.  Then the process state (sg_st), whose first fields every
# call reads, on one page (sg_state.h).
FIRST_OBJ := $(BUILD)/core/sg_config.o $(BUILD)/shim/sg_state.o
# Code is laid out in input order too (within its kind: cold, hot, the
# rest): the objects whose code a process's first call runs come next, so
# that all of it lies in the library's first 64 KiB, which the kernel maps
# with one fault (fault-around); the code of rare paths (diagnosis,
# semaphores, queues, analysis) after it.
FIRST_CODE_OBJ := $(HOOK_OBJ) $(addprefix $(BUILD)/,shim/sg_init.o shim/sg_core.o shim/sg_local.o \
	shim/sg_locks.o core/sg_real.o core/sg_ledger.o core/sg_proc.o core/sg_selfns.o \
	core/sg_pidns.o shim/sg_defer.o core/sg_log.o shim/sg_out.o)
LIB_OBJ := $(FIRST_OBJ) $(FIRST_CODE_OBJ) \
	$(filter-out $(FIRST_OBJ) $(FIRST_CODE_OBJ),$(HOOK_OBJ) $(SHIM_OBJ) $(CORE_OBJ))
$(LIB): $(LIB_OBJ) shim/libshmguard.map
	$(CC) $(ALL_CFLAGS) -shared -Wl,--version-script=shim/libshmguard.map \
	    -Wl,-z,defs -Wl,-fini=sg_hooks_fini $(LDFLAGS) -o $@ $(LIB_OBJ) $(LDLIBS_LIB)

$(TOOL): $(TOOL_OBJ) $(CORE_A)
	$(CC) $(ALL_CFLAGS) -fPIE -pie $(LDFLAGS) -o $@ $(TOOL_OBJ) $(CORE_A) -lsmartcols -ldw -lelf -ldl -pthread

$(BUILD)/tests/%: tests/%.c $(wildcard tests/*.h) $(SHIM_A) $(CORE_A) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(TEST_INC) -o $@ $< $(SHIM_A) $(CORE_A) -lcmocka $(TEST_LIBS) -ldl -pthread
# Unit tests of the tool's own code compile its sources in.
$(BUILD)/tests/test_tool_gc: TEST_LIBS := -ldw -lelf -lsmartcols
$(BUILD)/tests/test_tool_gc: $(wildcard tool/*.c)
$(BUILD)/tests/test_table: TEST_LIBS := -lsmartcols
$(BUILD)/tests/test_table: tool/tool_table.c

check: all $(TESTS) $(HELPERS)
	@scripts/cycles.sh $(BUILD)/shim $(BUILD)/core $(BUILD)/tool
	@scripts/run-tests.sh $(BUILD)

demo: all $(HELPERS)
	@scripts/demo.sh $(BUILD)

$(BUILD)/bench/bench_diag: tests/bench/bench_diag.c $(SHIM_A) $(CORE_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(TEST_INC) -o $@ $< $(SHIM_A) $(CORE_A) -ldl -pthread

$(BUILD)/bench/libempty.so: tests/bench/empty.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -shared -o $@ $<

$(BUILD)/bench/%: tests/bench/%.c tests/bench/bench_util.h | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(TEST_INC) -o $@ $< -ldl -pthread

e2e-httpd: all
	scripts/e2e-httpd.sh

e2e-pod: all $(HELPERS)
	BUILD=$(abspath $(BUILD)) scripts/e2e-pod.sh

e2e-postgres: all
	BUILD=$(abspath $(BUILD)) scripts/e2e-postgres.sh

deb:
	scripts/deb.sh

deb-check: deb all
	scripts/deb-check.sh

e2e-prometheus: all $(HELPERS)
	BUILD=$(abspath $(BUILD)) scripts/e2e-prometheus.sh

valgrind: all $(BUILD)/tests/helper_actor $(BUILD)/tests/helper_calls
	@scripts/valgrind-tool.sh $(BUILD)

# SIGKILL torture: TORTURE_KILLS kills (at least 1,000), invariants after
# each burst (tests/torture/torture.c).
TORTURE_KILLS ?= 1200
$(BUILD)/torture: tests/torture/torture.c $(CORE_A) | $(DEPS_STAMP)
	$(CC) $(ALL_CFLAGS) $(TEST_INC) -o $@ $< $(CORE_A) -ldl -pthread
torture: all $(BUILD)/torture
	@scripts/torture.sh $(BUILD) $(TORTURE_KILLS)

# Fuzzing: clang's libFuzzer with ASan+UBSan over tests/fuzz/fuzz_ledger.c,
# the library's and the tool's ledger readers linked in; FUZZ_SECONDS of
# fuzzing from the seed corpus (scripts/fuzz.sh).
FUZZ_SECONDS ?= 60
FUZZ_SAN := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_TOOL_OBJ := $(filter-out $(BUILD)/tool/tool_main.o,$(TOOL_OBJ))
$(BUILD)/fuzz_ledger: tests/fuzz/fuzz_ledger.c $(FUZZ_TOOL_OBJ) $(CORE_A)
	$(CC) $(ALL_CFLAGS) $(TEST_INC) -fsanitize=fuzzer -o $@ $< $(FUZZ_TOOL_OBJ) $(CORE_A) -lsmartcols -ldw -lelf -ldl -pthread
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
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(UNITDIR)
	install -m 0755 $(TOOL) $(DESTDIR)$(BINDIR)/shmguard
	install -m 0644 $(LIB) $(DESTDIR)$(LIBDIR)/libshmguard.so
	install -m 0644 man/shmguard.1 $(DESTDIR)$(MANDIR)/man1/shmguard.1
	install -m 0644 man/libshmguard.7 $(DESTDIR)$(MANDIR)/man7/libshmguard.7
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@TEXTFILE_DIR@|$(TEXTFILE_DIR)|g' \
	    systemd/shmguard-metrics.service.in >$(DESTDIR)$(UNITDIR)/shmguard-metrics.service
	install -m 0644 systemd/shmguard-metrics.timer $(DESTDIR)$(UNITDIR)/

clean:
	rm -rf build build-asan build-tsan build-fuzz
