# Booting images by hand: make run, make qemu ROLE=r, make debug ROLE=r, make iso.

ROLE ?= p
QEMU_PY := $(PYTHON) scripts/qemu.py

.PHONY: run qemu debug iso
run: $(BUILD)/tessera-p.elf
	$(QEMU_PY) $< --role p

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
