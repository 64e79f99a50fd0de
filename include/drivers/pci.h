/*
 * PCI bus enumeration and configuration (drivers/pci.c, drivers/msix.c).
 *
 * pci_init() scans every bus through configuration mechanism #1 (ports
 * 0xcf8/0xcfc), records each function, sizes its BARs and assigns
 * addresses to those the firmware left unassigned (qboot assigns none),
 * then enables decoding. Drivers then look devices up by vendor/device id.
 */
#ifndef DRIVERS_PCI_H
#define DRIVERS_PCI_H

#include <stdbool.h>
#include <stdint.h>

#define PCI_MAX_DEVICES 64

struct pci_bar {
	uint64_t addr; /* bus address (0: not implemented) */
	uint64_t size;
	bool io; /* I/O space rather than memory */
	bool is64; /* 64-bit memory BAR (takes two slots) */
	bool prefetchable;
};

struct pci_device {
	uint8_t bus, dev, fn;
	uint16_t vendor, device;
	uint8_t class_code, subclass, prog_if;
	uint8_t irq_line;
	struct pci_bar bar[6];
};

void pci_init(void);

/* Configuration space access of a recorded device (off: byte offset). */
uint32_t pci_read32(const struct pci_device *d, uint16_t off);
uint16_t pci_read16(const struct pci_device *d, uint16_t off);
uint8_t pci_read8(const struct pci_device *d, uint16_t off);
void pci_write32(const struct pci_device *d, uint16_t off, uint32_t v);
void pci_write16(const struct pci_device *d, uint16_t off, uint16_t v);

/* The nth device (0-based) with this vendor and device id, or NULL. */
struct pci_device *pci_find(uint16_t vendor, uint16_t device, unsigned nth);
/* Number of recorded devices, and the ith of them. */
unsigned pci_count(void);
struct pci_device *pci_get(unsigned i);

/* Offset of capability id cap in the capability list, or 0. */
uint8_t pci_find_cap(const struct pci_device *d, uint8_t cap);

/* Maps BAR n (memory BARs only) uncached; NULL if absent or unmappable. */
void *pci_map_bar(const struct pci_device *d, unsigned n);

/*
 * MSI-X (drivers/msix.c). pci_msix_enable() maps the vector table, masks
 * every entry and turns MSI-X on (legacy INTx off); it returns the number
 * of table entries, or a negative errno (-ENODEV: no MSI-X capability).
 * pci_msix_route() points entry i at a freshly allocated vector on CPU
 * apic_id with handler fn(arg) and unmasks it; returns the vector or a
 * negative errno.
 */
struct trap_frame;
int pci_msix_enable(struct pci_device *d);
int pci_msix_route(struct pci_device *d, unsigned entry, uint32_t apic_id,
		   void (*fn)(struct trap_frame *tf, void *arg), void *arg);
void pci_msix_mask(struct pci_device *d, unsigned entry, bool masked);

#endif
