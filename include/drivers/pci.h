/*
 * PCI bus enumeration and configuration (drivers/pci.c, drivers/msix.c).
 *
 * pci_init() scans every bus through configuration mechanism #1 (ports
 * 0xcf8/0xcfc), records each function, sizes its BARs and assigns
 * addresses to those the firmware left unassigned (qboot assigns none),
 * then enables decoding. Drivers then look devices up by vendor/device id.
 *
 * The device table is written only by pci_init() (boot CPU, before any
 * driver runs). Afterwards a device belongs to the driver that found it:
 * the MSI/MSI-X calls for one device must not run concurrently.
 */
#ifndef DRIVERS_PCI_H
#define DRIVERS_PCI_H

#include <stdbool.h>
#include <stdint.h>

#define PCI_MAX_DEVICES 64
/* MSI-X entries pci_msix_route() can route on one device (0 .. n-1). */
#define PCI_MSIX_MAX_ROUTED 32

/* Configuration space registers and bits used outside drivers/pci.c. */
#define PCI_COMMAND		0x04
#define PCI_COMMAND_IO		0x0001
#define PCI_COMMAND_MEMORY	0x0002
#define PCI_COMMAND_MASTER	0x0004
#define PCI_COMMAND_INTX_OFF	0x0400
#define PCI_STATUS		0x06
#define PCI_BAR0		0x10

/* Capability ids (pci_find_cap). */
#define PCI_CAP_MSI    0x05
#define PCI_CAP_VENDOR 0x09
#define PCI_CAP_MSIX   0x11

struct pci_bar {
	uint64_t addr; /* bus address (0: not implemented, or no room left) */
	uint64_t size; /* 0: not implemented */
	bool io; /* I/O space rather than memory */
	bool is64; /* 64-bit memory BAR (takes two slots) */
	bool prefetchable;
};

struct pci_device {
	uint8_t bus, dev, fn;
	uint16_t vendor, device;
	uint8_t class_code, subclass, prog_if;
	uint8_t irq_line;
	uint8_t header_type; /* 0 device, 1 PCI-PCI bridge, 2 CardBus */
	uint8_t secondary_bus; /* bridges: the bus behind, 0 if not scanned */
	struct pci_bar bar[6];

	/* MSI / MSI-X state (drivers/msix.c), owned by the device's driver. */
	uint8_t msi_vector; /* MSI on, to this vector; 0: MSI off */
	uint16_t msix_entries; /* table size once MSI-X is on; 0: off */
	volatile uint32_t *msix_table; /* mapped vector table (MSI-X on) */
	uint8_t msix_vector[PCI_MSIX_MAX_ROUTED]; /* routed entry i; 0: none */
};

void pci_init(void);

/* Configuration space access of a recorded device (off: byte offset,
 * naturally aligned). Offsets past 255 are out of mechanism #1's reach:
 * reads return all ones, writes are dropped. */
uint32_t pci_read32(const struct pci_device *d, uint16_t off);
uint16_t pci_read16(const struct pci_device *d, uint16_t off);
uint8_t pci_read8(const struct pci_device *d, uint16_t off);
void pci_write32(const struct pci_device *d, uint16_t off, uint32_t v);
void pci_write16(const struct pci_device *d, uint16_t off, uint16_t v);
void pci_write8(const struct pci_device *d, uint16_t off, uint8_t v);

/* The nth device (0-based) with this vendor and device id, or NULL. */
struct pci_device *pci_find(uint16_t vendor, uint16_t device, unsigned nth);
/* Number of recorded devices, and the ith of them (NULL past the end). */
unsigned pci_count(void);
struct pci_device *pci_get(unsigned i);

/* Offset of capability id cap in the capability list, or 0. */
uint8_t pci_find_cap(const struct pci_device *d, uint8_t cap);

/*
 * Maps BAR n (memory BARs only) uncached; NULL if absent, unassigned or
 * unmappable. The mapping is made once and cached: BARs up to 16 MiB are
 * mapped by pci_init() already, larger ones on the first call (which
 * allocates page tables for good). Callers never unmap.
 */
void *pci_map_bar(const struct pci_device *d, unsigned n);

/*
 * MSI-X (drivers/msix.c). pci_msix_enable() maps the vector table, masks
 * every entry and turns MSI-X on (legacy INTx off); it returns the number
 * of table entries, or a negative errno (-ENODEV: no MSI-X capability,
 * -EBUSY: MSI is on, -ENXIO: the table is not in an assigned memory BAR).
 * Calling it again while MSI-X is on returns the size again.
 * pci_msix_route() points entry i at a freshly allocated vector on CPU
 * apic_id with handler fn(arg) and unmasks it; returns the vector or a
 * negative errno (-EINVAL: MSI-X off, bad entry or apic_id > 255,
 * -EBUSY: entry already routed, -ERANGE: entry >= PCI_MSIX_MAX_ROUTED,
 * -ENOSPC: no free vector).
 * pci_msix_mask() masks or unmasks a table entry.
 * pci_msix_unroute() masks entry i and frees its vector; an interrupt
 * already in flight may still arrive once on the freed vector.
 * pci_msix_disable() unroutes every entry and turns MSI-X off.
 */
struct trap_frame;
int pci_msix_enable(struct pci_device *d);
int pci_msix_route(struct pci_device *d, unsigned entry, uint32_t apic_id,
		   void (*fn)(struct trap_frame *tf, void *arg), void *arg);
void pci_msix_mask(struct pci_device *d, unsigned entry, bool masked);
void pci_msix_unroute(struct pci_device *d, unsigned entry);
void pci_msix_disable(struct pci_device *d);

/*
 * Plain MSI (drivers/msix.c), one message. pci_msi_enable() allocates a
 * vector for fn(arg), points the device's message at CPU apic_id and
 * turns MSI on (legacy INTx off); returns the vector or a negative errno
 * (-ENODEV: no MSI capability, -EBUSY: MSI or MSI-X already on, -EINVAL:
 * apic_id > 255, -ENOSPC: no free vector). pci_msi_disable() turns MSI
 * off and frees the vector.
 */
int pci_msi_enable(struct pci_device *d, uint32_t apic_id,
		   void (*fn)(struct trap_frame *tf, void *arg), void *arg);
void pci_msi_disable(struct pci_device *d);

#endif
