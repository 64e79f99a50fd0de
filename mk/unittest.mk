# Host unit tests and libFuzzer targets for the portable kernel code
# (DESIGN.md section 8, layer 1). Included by mk/test.mk; BUILD, CC and
# PYTHON come from the top Makefile.
#
#   make unittest   build $(UNIT_BIN) with ASan/UBSan, run it plus a bounded
#                   smoke run of each fuzzer ($(FUZZ_RUNS) runs), write KTAP
#                   to $(BUILD)/results/unit.tap, fail if anything failed
#   make fuzz       run each fuzzer for $(FUZZ_SECONDS) s (clang, libFuzzer);
#                   make -j3 fuzz runs them in parallel
#
# The kernel sources are compiled a second time here, for the host: with
# -include tests/unit/rename.h (their memcpy, snprintf... become k_memcpy,
# k_snprintf..., see that file) and -ffreestanding so the compiler does not
# swap their loops for host libc calls.

UNIT_DIR     := $(BUILD)/unit
UNIT_BIN     := $(UNIT_DIR)/unit-tests
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_RUNS    ?= 20000
FUZZ_NAMES   := bootinfo acpi cmdline fabric manifest ext2 $(if $(wildcard tests/fuzz/fuzz_elf.c),elf)

UNIT_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all
UNIT_CFLAGS  := -std=gnu11 -g -O1 -Wall -Wextra -Werror \
		-fno-omit-frame-pointer -MMD -MP
# Flags only for the kernel code under test (the kernel build uses the
# first three too). Must not see arch/ headers: portable code only.
UNIT_KFLAGS  := -ffreestanding -fno-strict-aliasing -Wno-unused-parameter \
		-Iinclude -include tests/unit/rename.h
UNIT_TFLAGS  := -Iinclude -Itests/unit -Itools

UNIT_KSRCS   := lib/printf.c lib/cmdline.c lib/string.c lib/errno.c \
		kernel/bootinfo.c kernel/buddy.c kernel/acpi.c net/msg.c kernel/config.c \
		scomponent/bcache.c $(wildcard scomponent/ext2_*.c) \
		$(wildcard mcomponent/vma.c mcomponent/elf.c mcomponent/ustack.c \
			   pcomponent/excache_set.c pcomponent/excache_fresh.c pcomponent/excache_shared.c \
			   pcomponent/path.c pcomponent/cred.c) managers/members.c
UNIT_TSRCS   := $(wildcard tests/unit/*.c)
# Host tools' code under test: built like the tests (no rename.h: they are
# ordinary libc programs).
UNIT_HSRCS   := tools/fabricd/check.c tools/tessera/manifest.c
# Libraries of the host code (the manifest parser uses libyaml).
UNIT_LIBS    := -lyaml
UNIT_OBJS    := $(patsubst %.c,$(UNIT_DIR)/k/%.o,$(UNIT_KSRCS)) \
		$(patsubst %.c,$(UNIT_DIR)/t/%.o,$(UNIT_TSRCS) $(UNIT_HSRCS))

$(UNIT_DIR)/k/%.o: %.c tests/unit/rename.h
	@mkdir -p $(@D)
	@$(if $(Q),echo "  HOSTCC  $<")
	$(Q)$(CC) $(UNIT_CFLAGS) $(UNIT_SAN) $(UNIT_KFLAGS) -c $< -o $@

$(UNIT_DIR)/t/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  HOSTCC  $<")
	$(Q)$(CC) $(UNIT_CFLAGS) $(UNIT_SAN) $(UNIT_TFLAGS) -c $< -o $@

$(UNIT_BIN): $(UNIT_OBJS)
	@$(if $(Q),echo "  HOSTLD  $@")
	$(Q)$(CC) $(UNIT_SAN) -o $@ $^ $(UNIT_LIBS)

# libFuzzer targets: tests/fuzz/fuzz_<name>.c plus the fake memory and the
# kmalloc shim of the unit tests, linked against every kernel object (clang
# builds its own).
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_KOBJS   := $(patsubst %.c,$(FUZZ_DIR)/k/%.o,$(UNIT_KSRCS))
FUZZ_BINS    := $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(FUZZ_NAMES))
# name=binary:dictionary, as tests/unit/run.py takes them.
FUZZ_SPECS    = $(foreach n,$(FUZZ_NAMES),$(n)=$(FUZZ_DIR)/fuzz_$(n):$(wildcard tests/fuzz/$(n).dict))

$(FUZZ_DIR)/k/%.o: %.c tests/unit/rename.h
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(UNIT_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link \
		$(UNIT_KFLAGS) -c $< -o $@

$(FUZZ_DIR)/t/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(UNIT_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link \
		$(UNIT_TFLAGS) -c $< -o $@

$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/t/tests/fuzz/fuzz_%.o \
		    $(FUZZ_DIR)/t/tests/unit/fakemem.o $(FUZZ_DIR)/t/tests/unit/kmem.o \
		    $(FUZZ_KOBJS)
	@$(if $(Q),echo "  FUZZLD  $@")
	$(Q)$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(FUZZ_LIBS)

# fuzz_fabric also links fabricd's engine (check, exec, wire, control).
FUZZ_FABRIC_OBJS := $(patsubst %.c,$(FUZZ_DIR)/t/%.o,tools/fabricd/check.c \
		    tools/fabricd/exec.c tools/fabricd/wire.c tools/fabricd/control.c)
$(FUZZ_DIR)/fuzz_fabric: $(FUZZ_FABRIC_OBJS)

# fuzz_manifest links the CLI's manifest parser and libyaml (the system's,
# not instrumented: coverage guidance comes from manifest.c).
FUZZ_MANIFEST_OBJS := $(FUZZ_DIR)/t/tools/tessera/manifest.o
$(FUZZ_DIR)/fuzz_manifest: $(FUZZ_MANIFEST_OBJS)
$(FUZZ_DIR)/fuzz_manifest: FUZZ_LIBS := -lyaml

# fuzz_ext2 mounts its input on the in-memory block device.
FUZZ_EXT2_OBJS := $(FUZZ_DIR)/t/tests/unit/fileblk.o
$(FUZZ_DIR)/fuzz_ext2: $(FUZZ_EXT2_OBJS)

# Seed inputs (well-formed blocks, tables and manifests, among them
# configs/*.yaml, and small ext2 images made by mke2fs) that fuzzing
# starts from;
# what the fuzzers find goes to $(FUZZ_DIR)/corpus/<name>, kept across runs.
FUZZ_SEEDS   := $(FUZZ_DIR)/seeds/.stamp
$(FUZZ_SEEDS): tests/fuzz/mkseeds.py tests/fuzz/mkseeds_fabric.py \
	       tests/fuzz/mkseeds_ext2.py $(wildcard configs/*.yaml)
	@mkdir -p $(@D)
	$(Q)$(PYTHON) tests/fuzz/mkseeds.py $(@D) && \
		$(PYTHON) tests/fuzz/mkseeds_fabric.py $(@D) && \
		$(PYTHON) tests/fuzz/mkseeds_ext2.py $(@D) && touch $@

# Keep the objects of the chained pattern rules (make would delete them).
.SECONDARY: $(patsubst %,$(FUZZ_DIR)/t/tests/fuzz/fuzz_%.o,$(FUZZ_NAMES)) \
	    $(FUZZ_DIR)/t/tests/unit/fakemem.o $(FUZZ_DIR)/t/tests/unit/kmem.o \
	    $(FUZZ_KOBJS) $(FUZZ_FABRIC_OBJS) $(FUZZ_MANIFEST_OBJS) $(FUZZ_EXT2_OBJS)

# Fuzzers take part in unittest only if $(FUZZ_CC) has the libFuzzer
# runtime (-print-file-name echoes the bare name when it has not).
FUZZ_RT      := $(wildcard $(shell $(FUZZ_CC) \
		-print-file-name=libclang_rt.fuzzer-$(shell uname -m).a 2>/dev/null))
unit_comma   := ,
unit_space   := $() $()
UNIT_RUN     := $(PYTHON) tests/unit/run.py --out $(BUILD)/results/unit.tap \
		--unit $(UNIT_BIN) --runs $(FUZZ_RUNS) \
		--corpus-dir $(FUZZ_DIR)/corpus --seeds-dir $(FUZZ_DIR)/seeds \
		--names $(subst $(unit_space),$(unit_comma),$(strip $(FUZZ_NAMES)))
ifneq ($(FUZZ_RT),)
UNIT_RUN     += $(foreach s,$(FUZZ_SPECS),--fuzz $(s))
else
UNIT_RUN     += --skip-fuzz "no libFuzzer runtime for $(FUZZ_CC)"
endif

# The report is written first and then shown, so the exit status is the
# runner's own (no pipe to lose it in).
.PHONY: unittest
unittest: $(UNIT_BIN) $(if $(FUZZ_RT),$(FUZZ_BINS) $(FUZZ_SEEDS))
	@mkdir -p $(BUILD)/results
	$(Q)$(UNIT_RUN); status=$$?; cat $(BUILD)/results/unit.tap; \
		exit $$status

# One phony target per fuzzer so make -j runs them side by side.
.PHONY: fuzz $(patsubst %,fuzz-%,$(FUZZ_NAMES))
fuzz: $(patsubst %,fuzz-%,$(FUZZ_NAMES))

$(patsubst %,fuzz-%,$(FUZZ_NAMES)): fuzz-%: $(FUZZ_DIR)/fuzz_% $(FUZZ_SEEDS)
	@mkdir -p $(FUZZ_DIR)/corpus/$*
	$(FUZZ_DIR)/fuzz_$* -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
		-timeout=10 -print_final_stats=1 \
		-artifact_prefix=$(FUZZ_DIR)/crash-$*- \
		$(if $(wildcard tests/fuzz/$*.dict),-dict=tests/fuzz/$*.dict) \
		$(FUZZ_DIR)/corpus/$* $(FUZZ_DIR)/seeds/$*

-include $(shell find $(UNIT_DIR) $(FUZZ_DIR) -name '*.d' 2>/dev/null)
