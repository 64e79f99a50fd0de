# Cluster tests and benchmarks: fabricd plus several QEMU VMs on this
# host, every cluster started by the tessera CLI (DESIGN.md section 8,
# layer 3; docs/fabric.md, docs/cli.md). Included by the top Makefile;
# BUILD, CC, PYTHON, Q, DEPS_STAMP, IMAGES, RESULTS and SUBMAKE come from
# there and mk/test.mk, FABRICD from mk/tools.mk, TESSERA from mk/tessera.mk.
#
#   make cluster-test  fabricd + 3 VMs running the in-kernel cluster tests
#                      (net/fabric_cluster.c) under injected faults, booted
#                      through tessera from tests/cluster/fabric.yaml;
#                      KTAP -> $(RESULTS)/cluster-fabric.tap, logs in
#                      $(RESULTS)/cluster-fabric/ (CLUSTER_TIMEOUT seconds)
#   make bench-fabric  guest-measured RPC latency (8 B, 4 KiB: median, p99)
#                      and 4 KiB throughput at queue depth 1 and 16, next to
#                      the host floor (eventfd ping-pong) measured in the
#                      same run; prints ratios, never pass/fail
#   make bench-storage file I/O of a processor through the fabric and its
#                      storage node's file service vs a Linux guest on the
#                      same disk image in the same QEMU setup, booted
#                      through tessera from a self-test manifest the
#                      script writes (scripts/bench_storage.py; needs Debian's
#                      linux-image-amd64, a bench-only package that
#                      `make deps` does not install); ratios, never pass/fail
#   make storage-test  the storage component end to end through `tessera`
#                      (tests/cluster/storage.yaml: 2 vNodes sharing a
#                      storage node with different roots): file builtins,
#                      32 MiB files with CRC-32 checked on both ends,
#                      concurrent writers, export roots, permissions, then
#                      e2fsck -fn and debugfs of the disk after down;
#                      KTAP -> $(RESULTS)/storage.tap
#   make user-programs the memory path's test programs (tests/user/*.c),
#                      static musl binaries in $(BUILD)/user/
#   make rootfs        $(BUILD)/rootfs, the default cluster's root file
#                      system tree (scripts/mkrootfs.sh)
#   make memory-test   the memory path end to end through `tessera`
#                      (tests/cluster/memory.yaml: one processor per ExCache
#                      policy, two memory nodes): memtest, mmaptest,
#                      faulttest and two pattern processes at once, whose
#                      output must equal what the same binaries print on the
#                      host; free frames back after exits and faults; no
#                      panic in any console log; KTAP -> $(RESULTS)/memory.tap
#   make abi-programs  the Linux ABI test programs (tests/abi/*.c), static
#                      musl binaries in $(BUILD)/abi/
#   make abi-test      the Linux ABI of a processor against the host's
#                      (tests/cluster/abi.yaml, one vNode): each tests/abi
#                      program passes on the host, then its checks on p1;
#                      each busybox script (tests/abi/*.sh) prints on p1
#                      what it prints on the host; no panic in any console
#                      log; KTAP -> $(RESULTS)/abi.tap (docs/testing.md)
#   make bench-memory  ExCache miss latency vs the RPC round trip, and the
#                      slowdown of a sweep and a pointer chase with the
#                      ExCache at 50% and 25% of the working set
#                      (scripts/bench_memory.py); never pass/fail

CLUSTER_TIMEOUT ?= 170
EVENTFD_PINGPONG := $(BUILD)/bench/eventfd_pingpong
BLKBENCH := $(BUILD)/bench/blkbench
MUSL_GCC ?= musl-gcc

$(EVENTFD_PINGPONG): tests/bench/eventfd_pingpong.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  HOSTCC  $<")
	$(Q)$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -o $@ $<

# Static for the Linux guest's initramfs (no libc there).
$(BLKBENCH): tests/bench/blkbench.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  MUSLCC  $<")
	$(Q)$(MUSL_GCC) -static -std=gnu11 -O2 -g -Wall -Wextra -Werror -o $@ $< -lpthread

.PHONY: cluster-test bench-fabric bench-storage
cluster-test: $(DEPS_STAMP)
	+$(Q)$(SUBMAKE) $(IMAGES) $(FABRICD) $(TESSERA)
	@mkdir -p $(RESULTS)
	$(Q)$(PYTHON) tests/cluster/fabric_test.py --build-dir $(BUILD) \
		--timeout $(CLUSTER_TIMEOUT)

bench-fabric: $(DEPS_STAMP)
	+$(Q)$(SUBMAKE) $(IMAGES) $(FABRICD) $(TESSERA) $(EVENTFD_PINGPONG)
	$(Q)$(PYTHON) scripts/bench_fabric.py --build-dir $(BUILD) \
		--pingpong $(EVENTFD_PINGPONG)

bench-storage: $(DEPS_STAMP)
	+$(Q)$(SUBMAKE) $(IMAGES) $(FABRICD) $(TESSERA) $(BLKBENCH)
	$(Q)$(PYTHON) scripts/bench_storage.py --build-dir $(BUILD) --blkbench $(BLKBENCH)

.PHONY: storage-test
storage-test: $(DEPS_STAMP)
	+$(Q)$(SUBMAKE) $(IMAGES) $(FABRICD) $(TESSERA)
	@mkdir -p $(RESULTS)
	$(Q)$(PYTHON) tests/cluster/storage_test.py --build-dir $(BUILD) \
		--out $(RESULTS)/storage.tap

# The memory path's test programs: ordinary static Linux binaries, so the
# host runs them too (that is where the tests get the expected output).
USER_DIR      := $(BUILD)/user
USER_PROGRAMS := memtest mmaptest faulttest pattern membench spantest forktest pipetest futextest filetest exectest sigtest cattest threadtest
USER_BINS     := $(addprefix $(USER_DIR)/,$(USER_PROGRAMS))

$(USER_DIR)/%: tests/user/%.c tests/user/tu.h include/proto/tessera_sys.h | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  MUSLCC  $<")
	$(Q)$(MUSL_GCC) -static -std=gnu11 -O2 -g -Wall -Wextra -Werror -Iinclude -o $@ $<

# The Linux ABI test programs (tests/abi/*.c): static Linux binaries too,
# run on the host (the oracle) and on a vNode by tests/cluster/abi_test.py;
# the scripts (tests/abi/*.sh for busybox sh, *.bash for bash) go on the
# disk as they are.
# A few are also built with glibc, static (NAME.glibc) and static-PIE
# (NAME.glibc-pie): glibc's start-up and system call habits differ from
# musl's (tests/cluster/abi_test.py's GLIBC_PROGRAMS names the same ones).
# And dynamically linked (PIEs with a PT_INTERP), against glibc
# (NAME.glibc-dyn: /lib64/ld-linux-x86-64.so.2, libc.so.6) and musl
# (NAME.musl-dyn: /lib/ld-musl-x86_64.so.1), whose loaders and libraries
# scripts/mkrootfs.sh puts on the disk (abi_test.py's DYNAMIC_PROGRAMS).
ABI_DIR      := $(BUILD)/abi
ABI_HEADERS  := $(wildcard tests/abi/*.h)
ABI_PROGRAMS := $(basename $(notdir $(wildcard tests/abi/*.c)))
ABI_GLIBC    := time signals threads vfork spawn
ABI_DYNAMIC  := time signals
ABI_BINS     := $(addprefix $(ABI_DIR)/,$(ABI_PROGRAMS)) \
		$(foreach n,$(ABI_GLIBC),$(ABI_DIR)/$(n).glibc $(ABI_DIR)/$(n).glibc-pie) \
		$(foreach n,$(ABI_DYNAMIC),$(ABI_DIR)/$(n).glibc-dyn $(ABI_DIR)/$(n).musl-dyn)
ABI_SCRIPTS  := $(wildcard tests/abi/*.sh tests/abi/*.bash)
ABI_CFLAGS   := -std=gnu11 -O2 -g -Wall -Wextra -Werror

$(ABI_DIR)/%: tests/abi/%.c $(ABI_HEADERS) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  MUSLCC  $<")
	$(Q)$(MUSL_GCC) -static $(ABI_CFLAGS) -o $@ $<

$(ABI_DIR)/%.glibc: tests/abi/%.c $(ABI_HEADERS) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  GLIBCC  $<")
	$(Q)$(CC) -static $(ABI_CFLAGS) -o $@ $<

$(ABI_DIR)/%.glibc-pie: tests/abi/%.c $(ABI_HEADERS) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  GLIBCC  $<")
	$(Q)$(CC) -static-pie -fPIE $(ABI_CFLAGS) -o $@ $<

$(ABI_DIR)/%.glibc-dyn: tests/abi/%.c $(ABI_HEADERS) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  GLIBCC  $<")
	$(Q)$(CC) -fPIE -pie $(ABI_CFLAGS) -o $@ $<

$(ABI_DIR)/%.musl-dyn: tests/abi/%.c $(ABI_HEADERS) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  MUSLCC  $<")
	$(Q)$(MUSL_GCC) -fPIE -pie $(ABI_CFLAGS) -o $@ $<

# The default cluster's root file system tree (configs/default.yaml: disk
# dir @build/rootfs, made by `tessera up` through this rule): the test
# programs and busybox in /bin, the ABI tests in /abi, the dynamic loaders
# and libraries in /lib and /lib64.
ROOTFS := $(BUILD)/rootfs
$(ROOTFS): $(USER_BINS) $(ABI_BINS) $(ABI_SCRIPTS) scripts/mkrootfs.sh scripts/mkexecfiles.sh
	@$(if $(Q),echo "  ROOTFS  $@")
	$(Q)sh scripts/mkrootfs.sh $@ $(USER_BINS) --abi $(ABI_BINS) $(ABI_SCRIPTS)

.PHONY: user-programs abi-programs memory-test abi-test bench-memory rootfs
user-programs: $(USER_BINS)
abi-programs: $(ABI_BINS)
rootfs: $(ROOTFS)

memory-test: $(DEPS_STAMP)
	+$(Q)$(SUBMAKE) $(IMAGES) $(FABRICD) $(TESSERA) $(USER_BINS)
	@mkdir -p $(RESULTS)
	$(Q)$(PYTHON) tests/cluster/memory_test.py --build-dir $(BUILD) \
		--out $(RESULTS)/memory.tap

abi-test: $(DEPS_STAMP)
	+$(Q)$(SUBMAKE) $(IMAGES) $(FABRICD) $(TESSERA) $(ABI_BINS)
	@mkdir -p $(RESULTS)
	$(Q)$(PYTHON) tests/cluster/abi_test.py --build-dir $(BUILD) \
		--out $(RESULTS)/abi.tap

bench-memory: $(DEPS_STAMP)
	+$(Q)$(SUBMAKE) $(IMAGES) $(FABRICD) $(TESSERA) $(USER_BINS)
	$(Q)$(PYTHON) scripts/bench_memory.py --build-dir $(BUILD)
