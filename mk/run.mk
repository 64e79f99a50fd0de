# Booting by hand: make run (the default cluster and a demo, through the
# tessera CLI; KEEP=1 leaves it up), make qemu ROLE=r (one image on this
# terminal), make debug ROLE=r, make iso.

ROLE ?= p
QEMU_PY := $(PYTHON) scripts/qemu.py
RUN_MANIFEST ?= configs/default.yaml

.PHONY: run qemu debug iso
run: $(BUILD)/.deps-ok
	+$(Q)$(MAKE) --no-print-directory $(IMAGES) $(FABRICD) $(TESSERA) $(BUILD)/rootfs
	KEEP=$(KEEP) sh scripts/demo.sh $(TESSERA) $(RUN_MANIFEST)

qemu: $(BUILD)/tessera-$(ROLE).elf
	$(QEMU_PY) $< --role $(ROLE) $(if $(CMDLINE),--cmdline "$(CMDLINE)")

debug: $(BUILD)/tessera-$(ROLE).elf
	$(QEMU_PY) $< --role $(ROLE) --gdb $(if $(CMDLINE),--cmdline "$(CMDLINE)")

# Packages first (the stamp rule is in mk/test.mk), then the build, so
# that -j cannot run grub-mkrescue before it is installed.
iso: $(BUILD)/.deps-ok
	+$(Q)$(MAKE) --no-print-directory $(BUILD)/tessera.iso
$(BUILD)/tessera.iso: $(IMAGES) scripts/mkiso.py
	$(PYTHON) scripts/mkiso.py --out $@ $(IMAGES)
