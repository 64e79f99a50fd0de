# Test layers (DESIGN.md section 8), the boot benchmark and the package
# check. Included by the top Makefile after mk/run.mk; BUILD, ROLES, IMAGES,
# PYTHON, Q and DEPS_STAMP (the package check) come from there.
#
#   make test          clean $(BUILD)/results, run every layer below in turn
#                      (a failing layer does not stop the next), then
#                      scripts/summary.py; its last line is "N passed, M failed"
#                      and the exit status is non-zero if anything failed
#   make unittest      host unit tests (mk/unittest.mk) -> results/unit.tap
#   make docs-test     generated documents match their sources
#                      (docs/syscalls.md; `make syscalls-doc` remakes it)
#   make ktest         in-kernel tests of every role image, one QEMU boot each
#                      (KTEST_FILTER=prefix runs only the tests so named)
#   make harness-test  self test of scripts/ktest.py (tests/harness/)
#   make iso-test      GRUB ISO whose default entry runs ktest, booted with
#                      SeaBIOS through GRUB and Multiboot2
#   make cli-test      the `tessera` command end to end (tests/cli/test_cli.py):
#                      check, up, status, logs, run, inject, console, down and
#                      crash cleanup on configs/default.yaml -> results/cli.tap
#   make storage-test  the storage component end to end (mk/cluster.mk,
#                      tests/cluster/storage_test.py) -> results/storage.tap
#   make memory-test   the memory path end to end (mk/cluster.mk,
#                      tests/cluster/memory_test.py) -> results/memory.tap
#   make abi-test      Linux ABI programs and busybox scripts on a vNode,
#                      against the host (mk/cluster.mk,
#                      tests/cluster/abi_test.py) -> results/abi.tap
#   make bench-boot    QEMU start -> 'ready:' per role, qboot vs SeaBIOS,
#                      and `tessera up configs/default.yaml` wall time
#                      (a benchmark, never part of make test; RUNS=n)
#   make deps          install missing Debian packages (scripts/deps.py)
#
# Every result file goes to $(RESULTS)/*.tap, logs to $(RESULTS)/logs/. The
# layer targets first make sure the packages are there (the stamp
# $(DEPS_STAMP), so the check runs once per build directory; `make deps`
# always checks) and only then build what they boot, with a recursive make,
# so that -j cannot start compiling before gcc is installed.

RESULTS       := $(BUILD)/results
KTEST_PY      := $(PYTHON) scripts/ktest.py --build-dir $(BUILD)
KTEST_TIMEOUT ?= 60
# GRUB and SeaBIOS under TCG boot more slowly than qboot with -kernel.
ISO_TIMEOUT   ?= 180
TEST_ISO      := $(BUILD)/tessera-ktest.iso
SELFTEST_ELF  := $(BUILD)/tessera-selftest.elf
SUBMAKE       := $(MAKE) --no-print-directory

# Written by another layer's owner; optional so this file works without it.
-include mk/unittest.mk

TEST_LAYERS   := $(if $(wildcard mk/unittest.mk),unittest) docs-test fabric-test ktest harness-test iso-test cluster-test cli-test storage-test memory-test abi-test

.PHONY: test ktest harness-test iso-test cli-test bench-boot deps docs-test syscalls-doc

deps:
	$(Q)$(PYTHON) scripts/deps.py
	@mkdir -p $(BUILD) && touch $(DEPS_STAMP)
	@echo "deps: all packages present"

# Each layer's result files are written by the layer itself. layers.tap
# records whether each layer's make succeeded, so a layer that died before
# writing its results (a compile error, a crashed runner) still counts as
# a failure in the summary.
test: $(DEPS_STAMP)
	@rm -rf $(RESULTS) && mkdir -p $(RESULTS)/logs
	$(if $(wildcard mk/unittest.mk),,@echo "make test: mk/unittest.mk does not exist yet; no host unit tests")
	+@status=0; n=0; lines=""; \
	for layer in $(TEST_LAYERS); do \
		n=$$((n + 1)); \
		echo "==== make $$layer ===="; \
		if $(SUBMAKE) $$layer; then \
			lines="$$lines\nok $$n make $$layer"; \
		else \
			status=1; lines="$$lines\nnot ok $$n make $$layer"; \
			echo "==== make $$layer FAILED (going on with the other layers) ===="; \
		fi; \
	done; \
	printf 'KTAP version 1\n1..%d%b\n' $$n "$$lines" > $(RESULTS)/layers.tap; \
	$(PYTHON) scripts/summary.py $(RESULTS) || status=1; \
	exit $$status

# Generated documents must match their sources (docs/syscalls.md: the
# processor's system call table).
docs-test:
	@mkdir -p $(RESULTS)
	$(Q)$(PYTHON) scripts/gensyscalls.py --check --tap $(RESULTS)/docs.tap

syscalls-doc:
	$(Q)$(PYTHON) scripts/gensyscalls.py

ktest: $(DEPS_STAMP)
	+$(Q)$(SUBMAKE) $(IMAGES)
	@mkdir -p $(RESULTS)
	@status=0; for r in $(ROLES); do \
		$(KTEST_PY) $(BUILD)/tessera-$$r.elf --timeout $(KTEST_TIMEOUT) \
			$(if $(KTEST_FILTER),--cmdline ktest=$(KTEST_FILTER) --allow-empty) \
			|| status=1; \
	done; exit $$status

harness-test: $(DEPS_STAMP)
	+$(Q)$(SUBMAKE) $(SELFTEST_ELF)
	@mkdir -p $(RESULTS)
	$(Q)$(PYTHON) tests/harness/test_harness.py --build-dir $(BUILD)

# Default entry 0 (the first image, the processor) boots at once into ktest.
$(TEST_ISO): $(IMAGES) scripts/mkiso.py
	$(Q)$(PYTHON) scripts/mkiso.py --out $@ --default 0 --timeout 0 \
		--cmdline-extra ktest $(IMAGES)

iso-test: $(DEPS_STAMP)
	+$(Q)$(SUBMAKE) $(TEST_ISO)
	@mkdir -p $(RESULTS)
	$(Q)$(KTEST_PY) --iso $(TEST_ISO) --name iso-grub-p --timeout $(ISO_TIMEOUT)

# TESSERA and FABRICD come from mk/tessera.mk and mk/tools.mk (expanded
# when the recipe runs).
cli-test: $(DEPS_STAMP)
	+$(Q)$(SUBMAKE) $(IMAGES) $(FABRICD) $(TESSERA)
	@mkdir -p $(RESULTS)
	$(Q)$(PYTHON) tests/cli/test_cli.py --build-dir $(BUILD) --out $(RESULTS)/cli.tap

bench-boot: $(DEPS_STAMP)
	+$(Q)$(SUBMAKE) $(IMAGES) $(FABRICD) $(TESSERA)
	$(Q)$(PYTHON) scripts/bench_boot.py --build-dir $(BUILD) $(if $(RUNS),--runs $(RUNS)) \
		--manifest configs/default.yaml
