# Tessera build. `make` builds one kernel image per role; `make help` lists
# the other targets. Everything goes into $(BUILD).

BUILD    ?= build
ROLES    := p m s g
ARCH     := x86_64

# Role letter -> the folder linked into that role's image.
ROLE_DIR_p := pcomponent
ROLE_DIR_m := mcomponent
ROLE_DIR_s := scomponent
ROLE_DIR_g := managers

CC       := gcc
PYTHON   := python3
KCFLAGS  := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter \
	    -ffreestanding -fno-builtin -nostdlib -fno-pic -fno-pie \
	    -mcmodel=kernel -mno-red-zone -mno-mmx -mno-sse -mno-sse2 -mno-avx \
	    -fno-stack-protector -fno-omit-frame-pointer -fno-strict-aliasing \
	    -fno-asynchronous-unwind-tables -mgeneral-regs-only \
	    -Iinclude -Iarch/$(ARCH)/include -MMD -MP
KASFLAGS := -Iinclude -Iarch/$(ARCH)/include -D__ASSEMBLER__ -MMD -MP
KLDFLAGS := -nostdlib -static -z max-page-size=0x1000 -z noexecstack \
	    --build-id=none --no-warn-rwx-segments -T arch/$(ARCH)/kernel.ld

# Code shared by every role.
CORE_SRCS := $(wildcard arch/$(ARCH)/*.c arch/$(ARCH)/*.S kernel/*.c lib/*.c \
			drivers/*.c net/*.c)
CORE_OBJS := $(patsubst %,$(BUILD)/obj/%.o,$(CORE_SRCS))
role_objs  = $(patsubst %,$(BUILD)/obj/%.o,$(wildcard $(ROLE_DIR_$(1))/*.c))

# The harness self-test image: the processor image plus deliberately broken
# tests (tests/harness/), never linked into a real image.
SELFTEST_OBJS := $(patsubst %,$(BUILD)/obj/%.o,$(wildcard tests/harness/*.c))

IMAGES := $(foreach r,$(ROLES),$(BUILD)/tessera-$(r).elf)

.PHONY: all
all: $(IMAGES)

# V=1 shows the full commands.
Q := $(if $(V),,@)

# Missing Debian packages are installed (or the command to do so printed)
# before anything is compiled; the stamp makes that a one-time check.
DEPS_STAMP := $(BUILD)/.deps-ok
$(DEPS_STAMP): scripts/deps.py
	@mkdir -p $(@D)
	$(Q)$(PYTHON) scripts/deps.py
	@touch $@

$(BUILD)/obj/%.c.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(KCFLAGS) -c $< -o $@

$(BUILD)/obj/%.S.o: %.S | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  AS      $<")
	$(Q)$(CC) $(KASFLAGS) -c $< -o $@

# Two links: the first finds the addresses of all functions, from which
# scripts/gensyms.py makes the symbol table for backtraces; the second links
# that table in (into .ksyms, after all code, so no address moves).
define link_image
$(BUILD)/tessera-$(1).elf: $(2) arch/$(ARCH)/kernel.ld scripts/gensyms.py
	@mkdir -p $(BUILD)/syms
	@$(if $(Q),echo "  LD      $$@")
	$(Q)ld $(KLDFLAGS) -o $$@.pass1 $(2)
	$(Q)nm -n $$@.pass1 | $(PYTHON) scripts/gensyms.py > $(BUILD)/syms/ksyms-$(1).S
	$(Q)$(CC) $(KASFLAGS) -c $(BUILD)/syms/ksyms-$(1).S -o $(BUILD)/syms/ksyms-$(1).o
	$(Q)ld $(KLDFLAGS) -o $$@ $(2) $(BUILD)/syms/ksyms-$(1).o
	$(Q)rm -f $$@.pass1
endef
$(foreach r,$(ROLES),$(eval $(call link_image,$(r),$(CORE_OBJS) $(call role_objs,$(r)))))
$(eval $(call link_image,selftest,$(CORE_OBJS) $(call role_objs,p) $(SELFTEST_OBJS)))

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

include mk/run.mk
include mk/test.mk
include mk/tools.mk
include mk/tessera.mk
include mk/cluster.mk

.PHONY: clean
clean:
	rm -rf $(BUILD)

.PHONY: help
help:
	@echo "make               build every role image ($(IMAGES))"
	@echo "make run           boot the processor image on this terminal (Ctrl-A X quits)"
	@echo "make qemu ROLE=r   boot one role image (r = p, m, s or g) with -kernel"
	@echo "make debug ROLE=r  same, stopped at the first instruction, waiting for gdb on :1234"
	@echo "make iso           GRUB2 ISO with one menu entry per role ($(BUILD)/tessera.iso)"
	@echo "make test          every test layer CI runs; ends with 'N passed, N failed'"
	@echo "make unittest      host unit tests with ASan/UBSan"
	@echo "make ktest         in-kernel tests of every role image under QEMU (KTEST_FILTER=prefix)"
	@echo "make harness-test  self test of the ktest harness with deliberately broken tests"
	@echo "make iso-test      boot a ktest ISO through GRUB2 and SeaBIOS, check its KTAP"
	@echo "make bench-boot    time from QEMU start to banner per role, qboot vs SeaBIOS (RUNS=n)"
	@echo "make deps          install missing Debian packages"
	@echo "make fabricd       the fabric daemon ($(BUILD)/tools/fabricd; docs/fabric.md)"
	@echo "make tessera       the cluster CLI ($(BUILD)/tools/tessera; docs/cli.md)"
	@echo "make fabric-test   end-to-end test of fabricd with fake guests (KTAP in $(BUILD)/results)"
	@echo "make cluster-test  fabricd + 3 VMs: verbs and RPC under faults (KTAP in $(BUILD)/results)"
	@echo "make bench-fabric  guest RPC latency and throughput vs the host's eventfd floor"
	@echo "make bench-storage file I/O through the fabric vs a Linux guest on the same disk"
