/*
 * The parts of the ACPI tables Tessera uses (kernel/acpi.c): the MADT
 * (CPUs, IOAPICs, interrupt overrides) and the HPET table. Portable: the
 * tables are read through a caller-supplied accessor, and every length and
 * checksum is verified, so firmware garbage yields an error, not a fault.
 */
#ifndef KERNEL_ACPI_H
#define KERNEL_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ACPI_MAX_CPUS	   64
#define ACPI_MAX_IOAPICS   4
#define ACPI_MAX_OVERRIDES 16

struct acpi_irq_override {
	uint8_t isa_irq;
	uint32_t gsi;
	uint16_t flags; /* MPS INTI flags: polarity bits 0-1, trigger bits 2-3 */
};

struct acpi_info {
	uint64_t lapic_pa;
	unsigned ncpus;
	uint32_t cpu_apic_ids[ACPI_MAX_CPUS]; /* enabled CPUs, boot CPU first */
	unsigned nioapics;
	struct {
		uint8_t id;
		uint64_t pa;
		uint32_t gsi_base;
	} ioapics[ACPI_MAX_IOAPICS];
	unsigned noverrides;
	struct acpi_irq_override overrides[ACPI_MAX_OVERRIDES];
	bool legacy_pics; /* MADT says 8259s are present (must be masked) */
	uint64_t hpet_pa; /* 0 if none */
	char oem[7];
};

/* Returns a pointer through which len bytes at physical pa can be read,
 * or NULL. */
typedef const void *(*acpi_phys_fn)(uint64_t pa, size_t len);

/* Checks the RSDP at rsdp (36 bytes or 20 for ACPI 1.0) and parses the
 * tables it leads to. Returns 0 or a negative errno (-EINVAL: malformed,
 * -ENOENT: no MADT). */
int acpi_parse(struct acpi_info *ai, const uint8_t *rsdp, acpi_phys_fn phys);

/* Searches the BIOS areas for the RSDP (needed under Multiboot v1, which
 * does not pass it). Returns its physical address or 0. */
uint64_t acpi_find_rsdp(acpi_phys_fn phys);

/* The parsed tables of this machine (filled in at boot by kmain). */
extern struct acpi_info acpi;

#endif
