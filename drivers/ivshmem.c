/*
 * ivshmem-doorbell: the fabric NIC of a Tessera node (DESIGN.md section 3).
 *
 * fabricd speaks the ivshmem-server protocol to QEMU, so the device shows
 * up with BAR0 = registers, BAR1 = MSI-X table, BAR2 = this node's window
 * (the memfd fabricd maps too). IVPosition is the client id fabricd gave
 * us, which is our fabric node id. Everything above the device (rings,
 * keys, completions) is net/verbs.c's business; this file only finds the
 * device, maps it and turns its one interrupt into a function call.
 *
 * The window is RAM on both sides, so it is mapped write-back with
 * vmm_map_phys() (pci_init() leaves prefetchable BARs such as BAR2 to
 * their driver). Registers stay uncached (pci_map_bar()).
 *
 * MSI-X entry 0 goes to the boot CPU. The handler pointer is read under
 * irq_lock so that a handler change never splits fn from its arg.
 */
#include <arch/trap.h>
#include <drivers/ivshmem.h>
#include <drivers/pci.h>
#include <kernel/cpu.h>
#include <kernel/errno.h>
#include <kernel/mm.h>
#include <kernel/printk.h>
#include <kernel/spinlock.h>

static struct spinlock probe_lock = SPINLOCK_INIT("ivshmem-probe");
static bool probed;	       /* under probe_lock */
static int probe_result;       /* under probe_lock, valid once probed */
static struct ivshmem the_dev; /* written once, under probe_lock */

static struct spinlock irq_lock = SPINLOCK_INIT("ivshmem-irq");
static void (*irq_fn)(void *arg); /* under irq_lock */
static void *irq_arg;		  /* under irq_lock */

static void ivshmem_irq(struct trap_frame *tf, void *unused)
{
	void (*fn)(void *);
	void *arg;

	spin_lock(&irq_lock);
	fn = irq_fn;
	arg = irq_arg;
	spin_unlock(&irq_lock);
	if (fn)
		fn(arg);
}

void ivshmem_set_handler(void (*fn)(void *arg), void *arg)
{
	spin_lock(&irq_lock);
	irq_fn = fn;
	irq_arg = arg;
	spin_unlock(&irq_lock);
}

void ivshmem_doorbell(const struct ivshmem *dev, uint16_t peer, uint16_t vector)
{
	dev->regs[IVSHMEM_DOORBELL / 4] = (uint32_t)peer << 16 | vector;
}

/* The real work of ivshmem_probe; caller holds probe_lock. */
static int probe_locked(void)
{
	struct pci_device *d = pci_find(IVSHMEM_VENDOR, IVSHMEM_DEVICE, 0);
	const struct pci_bar *win;
	int err;

	if (!d) {
		pr_info("ivshmem: no fabric device (%04x:%04x): fabric unavailable",
			IVSHMEM_VENDOR, IVSHMEM_DEVICE);
		return -ENODEV;
	}
	win = &d->bar[2];
	the_dev.regs = pci_map_bar(d, 0);
	if (!the_dev.regs || win->io || !win->addr || !win->size) {
		pr_err("ivshmem: %02x:%02x.%x: BAR0 or BAR2 missing or unassigned",
		       d->bus, d->dev, d->fn);
		return -ENXIO;
	}
	the_dev.window = vmm_map_phys(win->addr, win->size, VMM_WRITE_BACK);
	if (!the_dev.window) {
		pr_err("ivshmem: cannot map the %llu-byte window",
		       (unsigned long long)win->size);
		return -ENXIO;
	}
	the_dev.window_size = win->size;
	the_dev.window_phys = win->addr;
	the_dev.position = (uint16_t)the_dev.regs[IVSHMEM_IV_POSITION / 4];
	err = pci_msix_enable(d);
	if (err < 0) {
		pr_err("ivshmem: MSI-X unavailable (error %d)", err);
		return err;
	}
	err = pci_msix_route(d, 0, cpus[0].apic_id, ivshmem_irq, NULL);
	if (err < 0) {
		pr_err("ivshmem: cannot route MSI-X entry 0 (error %d)", err);
		return err;
	}
	the_dev.vector = err;
	pr_info("ivshmem: %02x:%02x.%x position %u, window %llu KiB at %#llx, vector %d",
		d->bus, d->dev, d->fn, the_dev.position,
		(unsigned long long)(win->size >> 10), (unsigned long long)win->addr,
		the_dev.vector);
	return 0;
}

int ivshmem_probe(struct ivshmem *dev)
{
	int err;

	spin_lock(&probe_lock);
	if (!probed) {
		probe_result = probe_locked();
		probed = true;
	}
	err = probe_result;
	if (!err)
		*dev = the_dev;
	spin_unlock(&probe_lock);
	return err;
}
