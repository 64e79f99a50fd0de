/*
 * Self tests of PCI enumeration, BAR assignment, MSI and MSI-X, against
 * the devices every test boot adds (scripts/qemu.py TEST_DEVICES):
 *   edu (1234:11e8)            1 MiB MMIO BAR, MSI, raises interrupts on
 *                              request (QEMU hw/misc/edu.c)
 *   pci-testdev (1b36:0005)    a memory and an I/O BAR
 *   virtio-rng-pci (1af4:1005 transitional, 1af4:1044 modern)  MSI-X
 * They hold under qboot (we assign the BARs) and SeaBIOS (it does), on
 * QEMU's pc and q35. Nothing allocated here outlives a test: BARs were
 * mapped by pci_init(), vectors are freed.
 */
#include <arch/apic.h>
#include <arch/cpu.h>
#include <arch/trap.h>
#include <drivers/pci.h>
#include <kernel/cpu.h>
#include <kernel/errno.h>
#include <kernel/ktest.h>
#include <kernel/time.h>
#include <kernel/wait.h>

#define EDU_VENDOR	 0x1234
#define EDU_DEVICE	 0x11e8
#define EDU_IDENT	 0x00 /* 0xRRrr00ed: major, minor revision */
#define EDU_LIVENESS	 0x04 /* reads back the inverse of what was written */
#define EDU_FACTORIAL	 0x08
#define EDU_STATUS	 0x20
#define EDU_STATUS_BUSY	 0x01
#define EDU_IRQ_STATUS	 0x24
#define EDU_IRQ_RAISE	 0x60
#define EDU_IRQ_ACK	 0x64

#define TESTDEV_VENDOR	 0x1b36
#define TESTDEV_DEVICE	 0x0005
#define VIRTIO_VENDOR	 0x1af4
#define VIRTIO_RNG_OLD	 0x1005
#define VIRTIO_RNG_MODERN 0x1044

static uint32_t mmio_read(volatile uint32_t *regs, unsigned off)
{
	return regs[off / 4];
}

static void mmio_write(volatile uint32_t *regs, unsigned off, uint32_t v)
{
	regs[off / 4] = v;
}

static struct pci_device *virtio_rng(void)
{
	struct pci_device *d = pci_find(VIRTIO_VENDOR, VIRTIO_RNG_OLD, 0);

	return d ? d : pci_find(VIRTIO_VENDOR, VIRTIO_RNG_MODERN, 0);
}

/* The APIC id of the CPU we run on now (may change right after). */
static uint32_t current_apic_id(void)
{
	uint32_t id;

	irq_push();
	id = lapic_id();
	irq_pop();
	return id;
}

KTEST(pci_host_bridge_found)
{
	struct pci_device *d = pci_get(0);

	KT_ASSERT(d != NULL);
	KT_EXPECT_EQ(d->bus, 0);
	KT_EXPECT_EQ(d->dev, 0);
	KT_EXPECT_EQ(d->fn, 0);
	KT_EXPECT_EQ(d->class_code, 0x06); /* bridge */
	KT_EXPECT_EQ(d->subclass, 0x00); /* host */
	KT_EXPECT_EQ(d->vendor, 0x8086);
	/* i440FX on pc, the Q35 MCH on q35 */
	KT_EXPECT(d->device == 0x1237 || d->device == 0x29c0);
	KT_EXPECT_EQ(pci_read16(d, 0), d->vendor);
	KT_EXPECT_EQ(pci_read32(d, 0), (uint32_t)d->device << 16 | d->vendor);
	KT_EXPECT_EQ(pci_read8(d, 0x0b), d->class_code);
	/* Out of mechanism #1's reach. */
	KT_EXPECT_EQ(pci_read32(d, 0x100), 0xffffffff);
	KT_EXPECT(pci_get(pci_count()) == NULL);
}

/* Checks one device's BARs: assigned, aligned, programmed, decoded. */
static void check_bars(struct ktest_ctx *kt, struct pci_device *d)
{
	uint16_t cmd = pci_read16(d, PCI_COMMAND);
	unsigned implemented = 0;

	for (unsigned n = 0; n < 6; n++) {
		const struct pci_bar *b = &d->bar[n];
		uint32_t reg = pci_read32(d, PCI_BAR0 + 4 * n);

		if (!b->size)
			continue;
		implemented++;
		KT_EXPECT(b->addr != 0);
		KT_EXPECT((b->size & (b->size - 1)) == 0);
		KT_EXPECT_EQ(b->addr & (b->size - 1), 0);
		if (b->io) {
			KT_EXPECT(b->addr + b->size - 1 <= 0xffff);
			KT_EXPECT_EQ(reg & ~3u, b->addr);
			KT_EXPECT(cmd & PCI_COMMAND_IO);
		} else {
			KT_EXPECT_EQ(reg & ~0xfu, (uint32_t)b->addr);
			if (b->is64) {
				KT_EXPECT(n < 5 && d->bar[n + 1].size == 0);
				KT_EXPECT_EQ(pci_read32(d, PCI_BAR0 + 4 * n + 4),
					     (uint32_t)(b->addr >> 32));
			}
			KT_EXPECT(cmd & PCI_COMMAND_MEMORY);
		}
	}
	KT_EXPECT(implemented > 0);
	KT_EXPECT(cmd & PCI_COMMAND_MASTER);
}

KTEST(pci_test_devices_bars_assigned_and_decoded)
{
	struct pci_device *edu = pci_find(EDU_VENDOR, EDU_DEVICE, 0);
	struct pci_device *tdev = pci_find(TESTDEV_VENDOR, TESTDEV_DEVICE, 0);
	struct pci_device *rng = virtio_rng();

	KT_ASSERT(edu && tdev && rng);
	KT_EXPECT(pci_find(EDU_VENDOR, EDU_DEVICE, 1) == NULL);
	check_bars(kt, edu);
	check_bars(kt, tdev);
	check_bars(kt, rng);
	KT_EXPECT(!edu->bar[0].io);
	KT_EXPECT_EQ(edu->bar[0].size, 1u << 20);
	KT_EXPECT(!tdev->bar[0].io && tdev->bar[0].size >= 16);
	KT_EXPECT(tdev->bar[1].io && tdev->bar[1].size >= 4);
}

static bool overlap(const struct pci_bar *a, const struct pci_bar *b)
{
	return a->io == b->io && a->addr < b->addr + b->size &&
	       b->addr < a->addr + a->size;
}

/* True if BAR bi of device i overlaps an assigned BAR listed after it. */
static bool overlaps_a_later_bar(unsigned i, unsigned bi)
{
	const struct pci_bar *a = &pci_get(i)->bar[bi];

	for (unsigned j = i; j < pci_count(); j++) {
		for (unsigned bj = j == i ? bi + 1 : 0; bj < 6; bj++) {
			const struct pci_bar *b = &pci_get(j)->bar[bj];

			if (b->size && b->addr && overlap(a, b))
				return true;
		}
	}
	return false;
}

KTEST(pci_bars_do_not_overlap)
{
	unsigned checked = 0;

	for (unsigned i = 0; i < pci_count(); i++) {
		for (unsigned bi = 0; bi < 6; bi++) {
			const struct pci_bar *a = &pci_get(i)->bar[bi];

			if (!a->size || !a->addr)
				continue;
			checked++;
			KT_EXPECT(!overlaps_a_later_bar(i, bi));
		}
	}
	KT_EXPECT(checked >= 4);
}

KTEST(pci_find_cap_walks_the_list)
{
	struct pci_device *edu = pci_find(EDU_VENDOR, EDU_DEVICE, 0);
	struct pci_device *rng = virtio_rng();
	uint8_t cap;

	KT_ASSERT(edu && rng);
	cap = pci_find_cap(edu, PCI_CAP_MSI);
	KT_EXPECT(cap >= 0x40);
	KT_EXPECT_EQ(pci_read8(edu, cap), PCI_CAP_MSI);
	KT_EXPECT_EQ(pci_find_cap(edu, PCI_CAP_MSIX), 0);
	cap = pci_find_cap(rng, PCI_CAP_MSIX);
	KT_EXPECT(cap >= 0x40);
	KT_EXPECT_EQ(pci_read8(rng, cap), PCI_CAP_MSIX);
	KT_EXPECT_EQ(pci_msix_enable(edu), -ENODEV);
}

KTEST(pci_edu_mmio_registers)
{
	struct pci_device *edu = pci_find(EDU_VENDOR, EDU_DEVICE, 0);
	volatile uint32_t *regs;
	uint64_t deadline;

	KT_ASSERT(edu != NULL);
	regs = pci_map_bar(edu, 0);
	KT_ASSERT(regs != NULL);
	KT_EXPECT(pci_map_bar(edu, 0) == regs); /* cached, not mapped again */
	KT_EXPECT(pci_map_bar(edu, 1) == NULL);
	KT_EXPECT_EQ(mmio_read(regs, EDU_IDENT) & 0xffff, 0x00ed);
	KT_EXPECT(mmio_read(regs, EDU_IDENT) >> 24 >= 1);
	mmio_write(regs, EDU_LIVENESS, 0x12345678);
	KT_EXPECT_EQ(mmio_read(regs, EDU_LIVENESS), ~0x12345678u);
	mmio_write(regs, EDU_LIVENESS, 0);
	KT_EXPECT_EQ(mmio_read(regs, EDU_LIVENESS), 0xffffffffu);

	mmio_write(regs, EDU_FACTORIAL, 10);
	deadline = clock_ns() + NS_PER_S;
	while ((mmio_read(regs, EDU_STATUS) & EDU_STATUS_BUSY) &&
	       clock_ns() < deadline)
		cpu_relax();
	KT_EXPECT_EQ(mmio_read(regs, EDU_STATUS) & EDU_STATUS_BUSY, 0);
	KT_EXPECT_EQ(mmio_read(regs, EDU_FACTORIAL), 3628800);
}

/* What the edu interrupt handler saw; one test at a time uses it. */
static struct {
	volatile uint32_t *regs;
	struct completion done;
	volatile uint32_t status;
	volatile unsigned count;
	volatile unsigned vector;
} edu_irq;

static void edu_interrupt(struct trap_frame *tf, void *arg)
{
	uint32_t status = mmio_read(edu_irq.regs, EDU_IRQ_STATUS);

	mmio_write(edu_irq.regs, EDU_IRQ_ACK, status);
	edu_irq.status |= status;
	edu_irq.vector = (unsigned)tf->vector;
	edu_irq.count++;
	complete(&edu_irq.done);
}

KTEST(pci_edu_msi_interrupt_arrives)
{
	struct pci_device *edu = pci_find(EDU_VENDOR, EDU_DEVICE, 0);
	const uint32_t value = 0x5a5a0100;
	bool arrived;
	int vec;

	KT_ASSERT(edu != NULL);
	edu_irq.regs = pci_map_bar(edu, 0);
	KT_ASSERT(edu_irq.regs != NULL);
	completion_init(&edu_irq.done);
	edu_irq.status = 0;
	edu_irq.count = 0;
	edu_irq.vector = 0;

	vec = pci_msi_enable(edu, current_apic_id(), edu_interrupt, NULL);
	KT_ASSERT(vec >= VEC_DYNAMIC_BASE && vec < VEC_DYNAMIC_END);
	KT_EXPECT_EQ(edu->msi_vector, vec);
	KT_EXPECT_EQ(pci_msi_enable(edu, current_apic_id(), edu_interrupt, NULL),
		     -EBUSY);
	KT_EXPECT_EQ(pci_msix_enable(edu), -EBUSY);
	mmio_write(edu_irq.regs, EDU_IRQ_RAISE, value);
	arrived = wait_for_completion_timeout(&edu_irq.done, 2 * NS_PER_S);
	pci_msi_disable(edu);
	KT_EXPECT(arrived);
	KT_EXPECT_EQ(edu_irq.count, 1);
	KT_EXPECT_EQ(edu_irq.status, value);
	KT_EXPECT_EQ(edu_irq.vector, vec);
	KT_EXPECT_EQ(mmio_read(edu_irq.regs, EDU_IRQ_STATUS), 0);
	KT_EXPECT_EQ(edu->msi_vector, 0);
	if (!arrived) /* leave the device quiet for whoever comes next */
		mmio_write(edu_irq.regs, EDU_IRQ_ACK, 0xffffffff);
}

static void never_called(struct trap_frame *tf, void *arg)
{
}

KTEST(pci_virtio_rng_msix_table_programmed)
{
	struct pci_device *rng = virtio_rng();
	uint8_t cap;
	uint32_t apic;
	volatile uint32_t *e;
	int n, vec;

	KT_ASSERT(rng != NULL);
	cap = pci_find_cap(rng, PCI_CAP_MSIX);
	KT_ASSERT(cap != 0);
	n = pci_msix_enable(rng);
	KT_ASSERT(n >= 1);
	KT_EXPECT_EQ(pci_msix_enable(rng), n);
	KT_EXPECT_EQ(rng->msix_entries, n);
	KT_EXPECT_EQ(pci_read16(rng, cap + 2) & 0xc000, 0x8000); /* on, unmasked */
	KT_EXPECT(pci_read16(rng, PCI_COMMAND) & PCI_COMMAND_INTX_OFF);
	/* Every entry starts masked. */
	for (int i = 0; i < n; i++)
		KT_EXPECT_EQ(rng->msix_table[4 * i + 3] & 1, 1);

	apic = current_apic_id();
	vec = pci_msix_route(rng, 0, apic, never_called, NULL);
	KT_ASSERT(vec >= VEC_DYNAMIC_BASE && vec < VEC_DYNAMIC_END);
	e = rng->msix_table;
	KT_EXPECT_EQ(e[0], 0xfee00000u | apic << 12);
	KT_EXPECT_EQ(e[1], 0);
	KT_EXPECT_EQ(e[2], vec);
	KT_EXPECT_EQ(e[3] & 1, 0);
	KT_EXPECT_EQ(pci_msix_route(rng, 0, apic, never_called, NULL), -EBUSY);
	KT_EXPECT_EQ(pci_msix_route(rng, (unsigned)n, apic, never_called, NULL),
		     -EINVAL);
	KT_EXPECT_EQ(pci_msix_route(rng, 1, 256, never_called, NULL), -EINVAL);
	KT_EXPECT_EQ(pci_msi_enable(rng, apic, never_called, NULL), -EBUSY);

	pci_msix_mask(rng, 0, true);
	KT_EXPECT_EQ(e[3] & 1, 1);
	pci_msix_mask(rng, 0, false);
	KT_EXPECT_EQ(e[3] & 1, 0);

	pci_msix_disable(rng);
	KT_EXPECT_EQ(e[3] & 1, 1);
	KT_EXPECT_EQ(rng->msix_vector[0], 0);
	KT_EXPECT_EQ(rng->msix_entries, 0);
	KT_EXPECT_EQ(pci_read16(rng, cap + 2) & 0x8000, 0);
	KT_EXPECT_EQ(pci_msix_route(rng, 0, apic, never_called, NULL), -EINVAL);
	/* The vector is free again: the lowest free one is at most it. */
	n = trap_alloc_vector(never_called, NULL);
	KT_EXPECT(n >= VEC_DYNAMIC_BASE && n <= vec);
	if (n >= 0)
		trap_free_vector((unsigned)n);
}
