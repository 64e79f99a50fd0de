/*
 * MSI-X and MSI: message-signalled interrupts of PCI functions.
 *
 * A message is a memory write the device makes to the local APIC's
 * window: address 0xfee00000 | (destination APIC id << 12), physical
 * destination mode, data = the vector, fixed delivery, edge triggered.
 * There is no interrupt remapping, so the destination id has 8 bits: a
 * CPU with a larger APIC id (x2APIC only) cannot be a target.
 *
 * MSI-X keeps its messages in a table inside a memory BAR (mapped once by
 * pci_map_bar()). Enabling follows the specification's order: every entry
 * masked, MSI-X on with the function mask set, legacy INTx off, function
 * mask cleared; then entries are routed one by one (written while masked,
 * then unmasked). Plain MSI has one message in configuration space; we use
 * a single vector (Multiple Message Enable = 0).
 *
 * Vectors come from trap_alloc_vector() and go back with
 * trap_free_vector() when an entry is unrouted or MSI is disabled. Which
 * vector an entry uses is remembered here (struct pci_device), never read
 * back from the device, so a device cannot make us free someone else's.
 *
 * No lock: the MSI state of a device belongs to its driver, which must not
 * call these concurrently for one device (see include/drivers/pci.h).
 */
#include <arch/trap.h>
#include <drivers/pci.h>
#include <kernel/errno.h>
#include <stddef.h>

#define MSIX_CTRL	  2 /* message control, from the capability */
#define MSIX_TABLE	  4 /* table offset and BAR indicator */
#define MSIX_CTRL_SIZE	  0x07ff
#define MSIX_CTRL_FMASK	  0x4000
#define MSIX_CTRL_ENABLE  0x8000
#define MSIX_BIR_MASK	  0x7

/* One table entry: four dwords. */
#define MSIX_ENTRY_DWORDS 4
#define MSIX_ADDR_LO	  0
#define MSIX_ADDR_HI	  1
#define MSIX_DATA	  2
#define MSIX_VCTRL	  3
#define MSIX_VCTRL_MASK	  1u

#define MSI_CTRL	  2
#define MSI_ADDR	  4
#define MSI_CTRL_ENABLE	  0x0001
#define MSI_CTRL_MME	  0x0070 /* multiple message enable */
#define MSI_CTRL_64BIT	  0x0080
#define MSI_CTRL_PVM	  0x0100 /* per-vector masking */

#define MSI_ADDR_BASE	  0xfee00000u
#define MSI_MAX_APIC_ID	  255

static uint32_t msi_address(uint32_t apic_id)
{
	return MSI_ADDR_BASE | apic_id << 12;
}

static volatile uint32_t *msix_entry(const struct pci_device *d, unsigned i)
{
	return d->msix_table + (uintptr_t)i * MSIX_ENTRY_DWORDS;
}

static void intx_off(struct pci_device *d)
{
	pci_write16(d, PCI_COMMAND,
		    pci_read16(d, PCI_COMMAND) | PCI_COMMAND_INTX_OFF);
}

/* Turns plain MSI off in hardware whatever our state says (firmware may
 * have left it on); the vector, if any, stays ours. */
static void msi_hw_off(struct pci_device *d)
{
	uint8_t cap = pci_find_cap(d, PCI_CAP_MSI);

	if (cap)
		pci_write16(d, cap + MSI_CTRL,
			    pci_read16(d, cap + MSI_CTRL) & ~MSI_CTRL_ENABLE);
}

int pci_msix_enable(struct pci_device *d)
{
	uint8_t cap;
	uint16_t ctrl;
	uint32_t table, bir, n;
	uint64_t off;
	uint8_t *bar;

	if (d->msix_entries)
		return d->msix_entries;
	if (d->msi_vector)
		return -EBUSY;
	cap = pci_find_cap(d, PCI_CAP_MSIX);
	if (!cap)
		return -ENODEV;
	ctrl = pci_read16(d, cap + MSIX_CTRL);
	table = pci_read32(d, cap + MSIX_TABLE);
	n = (ctrl & MSIX_CTRL_SIZE) + 1u;
	bir = table & MSIX_BIR_MASK;
	off = table & ~MSIX_BIR_MASK;
	/* The table must lie inside an assigned memory BAR. */
	if (bir >= 6 || d->bar[bir].io || !d->bar[bir].size ||
	    off + (uint64_t)n * MSIX_ENTRY_DWORDS * 4 > d->bar[bir].size)
		return -ENXIO;
	bar = pci_map_bar(d, bir);
	if (!bar)
		return -ENXIO;
	d->msix_table = (volatile uint32_t *)(bar + off);

	msi_hw_off(d);
	for (unsigned i = 0; i < n; i++)
		msix_entry(d, i)[MSIX_VCTRL] = MSIX_VCTRL_MASK;
	(void)msix_entry(d, 0)[MSIX_VCTRL]; /* flush the posted writes */
	ctrl &= ~MSIX_CTRL_SIZE; /* read-only anyway */
	pci_write16(d, cap + MSIX_CTRL, ctrl | MSIX_CTRL_ENABLE | MSIX_CTRL_FMASK);
	intx_off(d);
	pci_write16(d, cap + MSIX_CTRL, (ctrl | MSIX_CTRL_ENABLE) & ~MSIX_CTRL_FMASK);
	for (unsigned i = 0; i < PCI_MSIX_MAX_ROUTED; i++)
		d->msix_vector[i] = 0;
	d->msix_entries = (uint16_t)n;
	return (int)n;
}

int pci_msix_route(struct pci_device *d, unsigned entry, uint32_t apic_id,
		   void (*fn)(struct trap_frame *tf, void *arg), void *arg)
{
	volatile uint32_t *e;
	int vec;

	if (!d->msix_entries || entry >= d->msix_entries || !fn ||
	    apic_id > MSI_MAX_APIC_ID)
		return -EINVAL;
	if (entry >= PCI_MSIX_MAX_ROUTED)
		return -ERANGE;
	if (d->msix_vector[entry])
		return -EBUSY;
	vec = trap_alloc_vector(fn, arg);
	if (vec < 0)
		return -ENOSPC;
	e = msix_entry(d, entry);
	e[MSIX_VCTRL] = MSIX_VCTRL_MASK;
	e[MSIX_ADDR_LO] = msi_address(apic_id);
	e[MSIX_ADDR_HI] = 0;
	e[MSIX_DATA] = (uint32_t)vec;
	e[MSIX_VCTRL] = 0;
	(void)e[MSIX_VCTRL];
	d->msix_vector[entry] = (uint8_t)vec;
	return vec;
}

void pci_msix_mask(struct pci_device *d, unsigned entry, bool masked)
{
	volatile uint32_t *e;

	if (!d->msix_entries || entry >= d->msix_entries)
		return;
	e = msix_entry(d, entry);
	e[MSIX_VCTRL] = masked ? MSIX_VCTRL_MASK : 0;
	(void)e[MSIX_VCTRL];
}

void pci_msix_unroute(struct pci_device *d, unsigned entry)
{
	volatile uint32_t *e;

	if (!d->msix_entries || entry >= d->msix_entries ||
	    entry >= PCI_MSIX_MAX_ROUTED || !d->msix_vector[entry])
		return;
	e = msix_entry(d, entry);
	e[MSIX_VCTRL] = MSIX_VCTRL_MASK;
	e[MSIX_ADDR_LO] = 0;
	e[MSIX_DATA] = 0;
	(void)e[MSIX_VCTRL]; /* the device has seen the mask before we free */
	trap_free_vector(d->msix_vector[entry]);
	d->msix_vector[entry] = 0;
}

void pci_msix_disable(struct pci_device *d)
{
	uint8_t cap;

	if (!d->msix_entries)
		return;
	for (unsigned i = 0; i < d->msix_entries; i++) {
		if (i < PCI_MSIX_MAX_ROUTED)
			pci_msix_unroute(d, i);
		msix_entry(d, i)[MSIX_VCTRL] = MSIX_VCTRL_MASK;
	}
	(void)msix_entry(d, 0)[MSIX_VCTRL];
	cap = pci_find_cap(d, PCI_CAP_MSIX);
	if (cap)
		pci_write16(d, cap + MSIX_CTRL,
			    pci_read16(d, cap + MSIX_CTRL) &
				    ~(MSIX_CTRL_ENABLE | MSIX_CTRL_FMASK));
	d->msix_entries = 0;
	d->msix_table = NULL;
}

int pci_msi_enable(struct pci_device *d, uint32_t apic_id,
		   void (*fn)(struct trap_frame *tf, void *arg), void *arg)
{
	uint8_t cap;
	uint16_t ctrl, data_off, mask_off;
	int vec;

	if (d->msi_vector || d->msix_entries)
		return -EBUSY;
	if (!fn || apic_id > MSI_MAX_APIC_ID)
		return -EINVAL;
	cap = pci_find_cap(d, PCI_CAP_MSI);
	if (!cap)
		return -ENODEV;
	vec = trap_alloc_vector(fn, arg);
	if (vec < 0)
		return -ENOSPC;
	ctrl = pci_read16(d, cap + MSI_CTRL);
	ctrl &= ~(MSI_CTRL_ENABLE | MSI_CTRL_MME);
	pci_write16(d, cap + MSI_CTRL, ctrl);
	pci_write32(d, cap + MSI_ADDR, msi_address(apic_id));
	if (ctrl & MSI_CTRL_64BIT) {
		pci_write32(d, cap + MSI_ADDR + 4, 0);
		data_off = cap + 12;
		mask_off = cap + 16;
	} else {
		data_off = cap + 8;
		mask_off = cap + 12;
	}
	pci_write16(d, data_off, (uint16_t)vec);
	if (ctrl & MSI_CTRL_PVM)
		pci_write32(d, mask_off, pci_read32(d, mask_off) & ~1u);
	intx_off(d);
	pci_write16(d, cap + MSI_CTRL, ctrl | MSI_CTRL_ENABLE);
	d->msi_vector = (uint8_t)vec;
	return vec;
}

void pci_msi_disable(struct pci_device *d)
{
	if (!d->msi_vector)
		return;
	msi_hw_off(d);
	trap_free_vector(d->msi_vector);
	d->msi_vector = 0;
}
