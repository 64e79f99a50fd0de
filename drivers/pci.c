/*
 * PCI enumeration, BAR assignment and configuration space access.
 *
 * Configuration space is reached through mechanism #1 (address to 0xcf8,
 * data at 0xcfc), serialised by one lock; only the first 256 bytes of each
 * function are reachable that way, which holds every capability we use.
 *
 * pci_init() works in four passes, all on the boot CPU before any driver:
 *
 *  1. Scan: bus 0, every device, all eight functions of multifunction
 *     devices, and the secondary bus of every PCI-PCI bridge (depth first).
 *     Bus numbers the firmware gave bridges are kept (SeaBIOS and qboot
 *     both number them); a bridge without gets the next free one. Each bus
 *     is scanned at most once and bridges nest at most PCI_MAX_DEPTH deep,
 *     so a device that lies about its bus numbers cannot make us loop.
 *  2. Size: each BAR is written with all ones (decoding off meanwhile) and
 *     read back. Sizes that are not a power of two, I/O BARs over 256
 *     bytes or a 64-bit BAR in the last slot are "broken": the function
 *     then keeps that kind of decoding off.
 *  3. Assign: firmware-assigned BARs are kept (SeaBIOS assigns them all),
 *     only zero ones get an address (qboot assigns none). Memory comes
 *     from [0xc0000000, 0xfebfffff]: inside the PCI hole of both QEMU
 *     machines (q35 has MMCONFIG at 0xb0000000 and below, the IOAPIC,
 *     HPET and local APIC are above). QEMU's pc puts RAM up to 3.5 GiB
 *     below 4 GiB when the VM has less than that, so with 3 GiB of RAM or
 *     more the window starts at 0xe0000000 instead. 64-bit BARs of
 *     PCI_HIGH_MIN or more (the fabric window) go above 4 GiB, in the
 *     upper half of the CPU's physical address space (below the AMD
 *     HyperTransport hole at 0xfd00000000), as do 64-bit BARs that no
 *     longer fit below. I/O BARs come from [0xc000, 0xffff]. Every BAR is
 *     naturally aligned, memory BARs to at least a page so that no two
 *     functions share a page. Unassigned BARs are placed largest first
 *     with first fit, skipping every range already in use; on bus 0 the
 *     bridges' I/O windows come last, so that 16 KiB of ports shared by
 *     4 KiB windows do not starve the devices on the root bus.
 *     Behind a bridge that the firmware did not set up (decoding off, or
 *     a BAR left zero somewhere below it) the whole subtree is assigned
 *     afresh: its size is computed bottom up (power-of-two windows, 1 MiB
 *     memory and 4 KiB I/O granularity, so the largest-first packing has
 *     no holes), the window is placed in the parent's like a BAR, and the
 *     bridge's memory and I/O windows are programmed to it (rounding each
 *     level up to a power of two wastes up to half a window per level of
 *     nesting: fine for the few small bridges a VM has). Bridges get no
 *     prefetchable window: prefetchable BARs behind them go into the
 *     32-bit memory window, which is allowed.
 *  4. Enable: memory and I/O decoding where every BAR of that kind has an
 *     address, and bus mastering (needed for DMA and for MSI writes).
 *     Non-prefetchable memory BARs up to PCI_EAGER_MAP are mapped now
 *     (uncached), so drivers and self tests that call pci_map_bar() later
 *     allocate no page tables. Prefetchable BARs are left to their driver.
 */
#include <arch/cpu.h>
#include <arch/memlayout.h>
#include <drivers/pci.h>
#include <kernel/mm.h>
#include <kernel/panic.h>
#include <kernel/printk.h>
#include <kernel/spinlock.h>
#include <lib/printf.h>
#include <stdarg.h>

#define PCI_CFG_ADDR 0xcf8
#define PCI_CFG_DATA 0xcfc

#define PCI_VENDOR_ID	   0x00
#define PCI_CLASS_REV	   0x08
#define PCI_HEADER_TYPE	   0x0e
#define PCI_CAP_PTR	   0x34
#define PCI_CAP_PTR_CB	   0x14
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_STATUS_CAPS	   0x0010
#define PCI_HEADER_MULTI   0x80

/* Type 1 (PCI-PCI bridge) header. */
#define PCI_BRIDGE_BUSES    0x18 /* primary, secondary, subordinate */
#define PCI_BRIDGE_IO	    0x1c /* I/O base, I/O limit (bytes) */
#define PCI_BRIDGE_MEM	    0x20 /* memory base, limit (16 bits each) */
#define PCI_BRIDGE_PREF	    0x24 /* prefetchable base, limit */
#define PCI_BRIDGE_PREF_HI  0x28 /* ... upper 32 bits of base */
#define PCI_BRIDGE_PREF_LHI 0x2c /* ... upper 32 bits of limit */
#define PCI_BRIDGE_IO_HI    0x30 /* I/O base, limit upper 16 bits */

#define PCI_MAX_DEPTH	  8 /* bridges nested below bus 0 */
#define PCI_MAX_CAPS	  48 /* (256 - 64) / 4 capability headers at most */
#define PCI_MEM_LO	  0xc0000000ull
#define PCI_MEM_LO_BIGRAM 0xe0000000ull
#define PCI_MEM_HI	  0xfebfffffull
#define PCI_IO_LO	  0xc000ull
#define PCI_IO_HI	  0xffffull
#define PCI_HIGH_MIN	  (256ull << 20)
#define PCI_HT_HOLE	  0xfd00000000ull
#define PCI_BAR64_MAX	  (1ull << 40) /* larger sizes are taken as broken */
#define PCI_BRIDGE_MEM_GRAN 0x100000ull
#define PCI_BRIDGE_IO_GRAN  0x1000ull
#define PCI_EAGER_MAP	  (16ull << 20)
#define PCI_MAX_USED	  (PCI_MAX_DEVICES * 6) /* BARs, or 2 + 3 windows */

/* Items placed by pass 3: BARs 0-5, and these for a bridge's windows. */
#define PCI_SLOT_MEMWIN 6
#define PCI_SLOT_IOWIN	7

/* What pci_init() learned about a device, beyond struct pci_device. */
struct pci_priv {
	uint8_t broken; /* BARs (bit n) whose size made no sense */
	uint8_t tried; /* placement attempted: bit n for slot n */
	bool fresh; /* bridge: subtree set up by us, not by the firmware */
	uint64_t mem_base, mem_size; /* bridge memory window (fresh only) */
	uint64_t io_base, io_size; /* bridge I/O window (fresh only) */
	void *va[6]; /* pci_map_bar() cache; under map_lock */
};

struct pci_range {
	uint64_t base, size;
	bool io;
};

static struct pci_device devices[PCI_MAX_DEVICES];
static struct pci_priv priv[PCI_MAX_DEVICES];
static unsigned ndevices;
static bool table_full_warned;

static bool bus_scanned[256];
static unsigned next_bus = 1;

static struct pci_range used[PCI_MAX_USED]; /* ranges taken (pass 3) */
static unsigned nused;
static uint64_t mem_lo = PCI_MEM_LO;
static uint64_t high_lo, high_hi; /* 0, 0: no window above 4 GiB */

static struct spinlock cfg_lock = SPINLOCK_INIT("pci config");
static struct spinlock map_lock = SPINLOCK_INIT("pci map");

/* ---- configuration space ---------------------------------------------- */

static uint32_t cfg_address(const struct pci_device *d, uint16_t off)
{
	return 0x80000000u | (uint32_t)d->bus << 16 | (uint32_t)(d->dev & 31) << 11 |
	       (uint32_t)(d->fn & 7) << 8 | (off & 0xfc);
}

uint32_t pci_read32(const struct pci_device *d, uint16_t off)
{
	uint32_t v;

	if (off > 252)
		return 0xffffffff;
	spin_lock(&cfg_lock);
	outl(PCI_CFG_ADDR, cfg_address(d, off));
	v = inl(PCI_CFG_DATA);
	spin_unlock(&cfg_lock);
	return v;
}

uint16_t pci_read16(const struct pci_device *d, uint16_t off)
{
	uint16_t v;

	if (off > 254)
		return 0xffff;
	spin_lock(&cfg_lock);
	outl(PCI_CFG_ADDR, cfg_address(d, off));
	v = inw(PCI_CFG_DATA + (off & 2));
	spin_unlock(&cfg_lock);
	return v;
}

uint8_t pci_read8(const struct pci_device *d, uint16_t off)
{
	uint8_t v;

	if (off > 255)
		return 0xff;
	spin_lock(&cfg_lock);
	outl(PCI_CFG_ADDR, cfg_address(d, off));
	v = inb(PCI_CFG_DATA + (off & 3));
	spin_unlock(&cfg_lock);
	return v;
}

void pci_write32(const struct pci_device *d, uint16_t off, uint32_t v)
{
	if (off > 252)
		return;
	spin_lock(&cfg_lock);
	outl(PCI_CFG_ADDR, cfg_address(d, off));
	outl(PCI_CFG_DATA, v);
	spin_unlock(&cfg_lock);
}

void pci_write16(const struct pci_device *d, uint16_t off, uint16_t v)
{
	if (off > 254)
		return;
	spin_lock(&cfg_lock);
	outl(PCI_CFG_ADDR, cfg_address(d, off));
	outw(PCI_CFG_DATA + (off & 2), v);
	spin_unlock(&cfg_lock);
}

void pci_write8(const struct pci_device *d, uint16_t off, uint8_t v)
{
	if (off > 255)
		return;
	spin_lock(&cfg_lock);
	outl(PCI_CFG_ADDR, cfg_address(d, off));
	outb(PCI_CFG_DATA + (off & 3), v);
	spin_unlock(&cfg_lock);
}

/* Mechanism #1 is there if the address register keeps what we write. */
static bool cfg_mech1_present(void)
{
	uint32_t old, v;

	spin_lock(&cfg_lock);
	old = inl(PCI_CFG_ADDR);
	outl(PCI_CFG_ADDR, 0x80000000u);
	v = inl(PCI_CFG_ADDR);
	outl(PCI_CFG_ADDR, old);
	spin_unlock(&cfg_lock);
	return v == 0x80000000u;
}

/* ---- lookup ------------------------------------------------------------ */

unsigned pci_count(void)
{
	return ndevices;
}

struct pci_device *pci_get(unsigned i)
{
	return i < ndevices ? &devices[i] : NULL;
}

struct pci_device *pci_find(uint16_t vendor, uint16_t device, unsigned nth)
{
	for (unsigned i = 0; i < ndevices; i++)
		if (devices[i].vendor == vendor && devices[i].device == device &&
		    nth-- == 0)
			return &devices[i];
	return NULL;
}

uint8_t pci_find_cap(const struct pci_device *d, uint8_t cap)
{
	uint8_t ptr;

	if (!(pci_read16(d, PCI_STATUS) & PCI_STATUS_CAPS))
		return 0;
	if (d->header_type == 2)
		ptr = pci_read8(d, PCI_CAP_PTR_CB);
	else
		ptr = pci_read8(d, PCI_CAP_PTR);
	/* Bounded walk: a list that loops or points into the header ends. */
	for (int i = 0; i < PCI_MAX_CAPS; i++) {
		uint16_t hdr;

		ptr &= 0xfc;
		if (ptr < 0x40)
			return 0;
		hdr = pci_read16(d, ptr);
		if ((hdr & 0xff) == cap)
			return ptr;
		if ((hdr & 0xff) == 0xff) /* device gone */
			return 0;
		ptr = (uint8_t)(hdr >> 8);
	}
	return 0;
}

static unsigned pci_index(const struct pci_device *d)
{
	uintptr_t i = (uintptr_t)(d - devices);

	BUG_ON(d < devices || i >= ndevices);
	return (unsigned)i;
}

void *pci_map_bar(const struct pci_device *d, unsigned n)
{
	const struct pci_bar *b;
	struct pci_priv *p;
	void *va;

	if (!d || n >= 6)
		return NULL;
	b = &d->bar[n];
	p = &priv[pci_index(d)];
	if (b->io || !b->size || !b->addr || (p->broken & (1u << n)))
		return NULL;
	spin_lock(&map_lock);
	if (!p->va[n])
		p->va[n] = vmm_map_mmio(b->addr, b->size);
	va = p->va[n];
	spin_unlock(&map_lock);
	return va;
}

/* ---- pass 1 and 2: scan and size --------------------------------------- */

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static uint64_t roundup_pow2(uint64_t v)
{
	uint64_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

static unsigned bar_count(const struct pci_device *d)
{
	return d->header_type == 0 ? 6 : d->header_type == 1 ? 2 : 0;
}

/* Sizes I/O BAR i from what the BAR read after writing all ones. */
static void size_io_bar(struct pci_device *d, unsigned i, uint32_t orig,
			uint32_t ones)
{
	uint32_t mask = ones & ~3u, size;

	if (!mask)
		return; /* not implemented */
	if (!(mask & 0xffff0000))
		mask |= 0xffff0000; /* 16-bit decoder */
	size = ~mask + 1;
	if (!is_pow2(size) || mask != ~(size - 1) || size > 256) {
		priv[pci_index(d)].broken |= 1u << i;
		return;
	}
	d->bar[i].io = true;
	d->bar[i].size = size;
	d->bar[i].addr = orig & ~3u;
}

/* Sizes memory BAR i (and i + 1 if 64-bit); returns the slots used. */
static unsigned size_mem_bar(struct pci_device *d, unsigned i, uint32_t orig,
			     uint32_t ones)
{
	uint16_t off = PCI_BAR0 + 4 * i;
	uint32_t type = (orig >> 1) & 3;
	unsigned slots = type == 2 ? 2 : 1;
	uint64_t mask = 0xffffffff00000000ull | (ones & ~0xfu);
	uint64_t size, addr = orig & ~0xfu;
	struct pci_bar *b = &d->bar[i];

	if (type == 2) {
		uint32_t hi, hi_ones;

		if (i + 1 >= bar_count(d)) {
			priv[pci_index(d)].broken |= 1u << i;
			return 1;
		}
		hi = pci_read32(d, off + 4);
		pci_write32(d, off + 4, 0xffffffff);
		hi_ones = pci_read32(d, off + 4);
		pci_write32(d, off + 4, hi);
		mask = (uint64_t)hi_ones << 32 | (ones & ~0xfu);
		addr |= (uint64_t)hi << 32;
	}
	if ((uint32_t)mask == 0 && (type != 2 || mask == 0))
		return slots; /* not implemented */
	size = ~mask + 1;
	/* Reserved type 3, or type 1 ("below 1 MiB") that we cannot place. */
	if (type == 3 || (type == 1 && !addr) || !is_pow2(size) ||
	    mask != ~(size - 1) || size > PCI_BAR64_MAX) {
		priv[pci_index(d)].broken |= 1u << i;
		return slots;
	}
	b->size = size;
	b->addr = addr;
	b->is64 = type == 2;
	b->prefetchable = orig & 8;
	return slots;
}

/* Pass 2 for one function. Decoding stays off if a BAR is unassigned. */
static void size_bars(struct pci_device *d)
{
	uint16_t cmd = pci_read16(d, PCI_COMMAND);
	bool complete = true;

	pci_write16(d, PCI_COMMAND,
		    cmd & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
	for (unsigned i = 0; i < bar_count(d);) {
		uint16_t off = PCI_BAR0 + 4 * i;
		uint32_t orig = pci_read32(d, off), ones;

		pci_write32(d, off, 0xffffffff);
		ones = pci_read32(d, off);
		pci_write32(d, off, orig);
		if (orig & 1) {
			size_io_bar(d, i, orig, ones);
			i++;
		} else {
			i += size_mem_bar(d, i, orig, ones);
		}
	}
	for (unsigned i = 0; i < 6; i++)
		if (d->bar[i].size && !d->bar[i].addr)
			complete = false;
	if (complete && !priv[pci_index(d)].broken)
		pci_write16(d, PCI_COMMAND, cmd);
}

static void scan_bus(uint8_t bus, unsigned depth);

/* Finds (or gives) the bridge d its secondary bus and scans it. */
static void scan_bridge(struct pci_device *d, unsigned depth)
{
	uint32_t buses = pci_read32(d, PCI_BRIDGE_BUSES);
	unsigned sec = (buses >> 8) & 0xff, sub = (buses >> 16) & 0xff;
	bool ours = false;

	if (depth >= PCI_MAX_DEPTH) {
		pr_warn("pci: %02x:%02x.%x: bridges nested too deep, not scanned",
			d->bus, d->dev, d->fn);
		return;
	}
	if (sec > d->bus && sub >= sec && !bus_scanned[sec]) {
		if (sub + 1 > next_bus)
			next_bus = sub + 1;
	} else {
		if (next_bus > 255) {
			pr_warn("pci: %02x:%02x.%x: no bus number left",
				d->bus, d->dev, d->fn);
			return;
		}
		sec = next_bus++;
		buses = (buses & 0xff000000) | 0xff0000 | sec << 8 | d->bus;
		pci_write32(d, PCI_BRIDGE_BUSES, buses);
		ours = true;
	}
	d->secondary_bus = (uint8_t)sec;
	scan_bus((uint8_t)sec, depth + 1);
	if (ours) /* close the range (0xff so far) to the buses found */
		pci_write8(d, PCI_BRIDGE_BUSES + 2, (uint8_t)(next_bus - 1));
}

/* Records function bus:dev.fn; returns its header type byte or 0xff. */
static uint8_t scan_function(uint8_t bus, uint8_t dev, uint8_t fn,
			     unsigned depth)
{
	struct pci_device probe = { .bus = bus, .dev = dev, .fn = fn };
	uint32_t id = pci_read32(&probe, PCI_VENDOR_ID), class;
	uint8_t htype;
	struct pci_device *d;

	if ((id & 0xffff) == 0xffff || (id & 0xffff) == 0)
		return 0xff;
	htype = pci_read8(&probe, PCI_HEADER_TYPE);
	if (ndevices == PCI_MAX_DEVICES) {
		if (!table_full_warned)
			pr_warn("pci: more than %d functions, ignoring the rest",
				PCI_MAX_DEVICES);
		table_full_warned = true;
		return htype;
	}
	d = &devices[ndevices++];
	class = pci_read32(&probe, PCI_CLASS_REV);
	*d = probe;
	d->vendor = (uint16_t)id;
	d->device = (uint16_t)(id >> 16);
	d->class_code = (uint8_t)(class >> 24);
	d->subclass = (uint8_t)(class >> 16);
	d->prog_if = (uint8_t)(class >> 8);
	d->irq_line = pci_read8(d, PCI_INTERRUPT_LINE);
	d->header_type = htype & 0x7f;
	size_bars(d);
	if (d->header_type == 1)
		scan_bridge(d, depth);
	return htype;
}

static void scan_bus(uint8_t bus, unsigned depth)
{
	if (bus_scanned[bus])
		return;
	bus_scanned[bus] = true;
	for (uint8_t dev = 0; dev < 32; dev++) {
		uint8_t htype = scan_function(bus, dev, 0, depth);

		if (htype == 0xff || !(htype & PCI_HEADER_MULTI))
			continue;
		for (uint8_t fn = 1; fn < 8; fn++)
			scan_function(bus, dev, fn, depth);
	}
}

/* ---- pass 3: assignment ------------------------------------------------ */

/*
 * The recursions below follow bridges to their secondary bus. Only a bus
 * that scan_bus() visited is recorded as a secondary bus, each bus once,
 * and always a larger number than the bridge's own: they end, at most
 * PCI_MAX_DEPTH + 1 levels deep.
 */

static void reserve(uint64_t base, uint64_t size, bool io)
{
	if (!size)
		return;
	if (nused == PCI_MAX_USED)
		panic("pci: range table full"); /* sized for the device table */
	used[nused++] = (struct pci_range){ base, size, io };
}

/*
 * Lowest address in [lo, hi] aligned to align where size bytes fit clear
 * of every used range of the same space; 0 if there is none. A range that
 * covers all of [lo, hi] is the bridge window we allocate in (or one
 * around it), not an obstacle. Each retry moves past a range that
 * overlapped, so the loop ends.
 */
static uint64_t fit(uint64_t lo, uint64_t hi, uint64_t size, uint64_t align,
		    bool io)
{
	uint64_t a = align_up(lo, align);

	while (a >= lo && a + size > a && a + size - 1 <= hi) {
		bool clear = true;

		for (unsigned i = 0; i < nused; i++) {
			const struct pci_range *r = &used[i];

			if (r->io != io || (r->base <= lo && hi <= r->base + r->size - 1))
				continue;
			if (a < r->base + r->size && r->base < a + size) {
				a = align_up(r->base + r->size, align);
				clear = false;
				break;
			}
		}
		if (clear)
			return a;
	}
	return 0;
}

static void bar_write(struct pci_device *d, unsigned i, uint64_t addr)
{
	uint16_t off = PCI_BAR0 + 4 * i;

	pci_write32(d, off, (uint32_t)addr);
	if (d->bar[i].is64)
		pci_write32(d, off + 4, (uint32_t)(addr >> 32));
	d->bar[i].addr = addr;
}

/* Space a BAR takes: its size, memory BARs at least a page. */
static uint64_t footprint(const struct pci_bar *b)
{
	return !b->io && b->size < PAGE_SIZE ? PAGE_SIZE : b->size;
}

static uint64_t subtree_need(uint8_t bus, bool io);

/* Window a fresh bridge needs for its subtree (0: none). */
static uint64_t bridge_window(const struct pci_device *d, bool io)
{
	uint64_t need, gran = io ? PCI_BRIDGE_IO_GRAN : PCI_BRIDGE_MEM_GRAN;

	if (!d->secondary_bus)
		return 0;
	need = subtree_need(d->secondary_bus, io);
	if (!need)
		return 0;
	return roundup_pow2(need < gran ? gran : need);
}

/* Bytes of memory (or I/O) the functions on bus need. Every item is a
 * power of two, so packed largest first from a base aligned to the
 * largest they leave no gap. */
static uint64_t subtree_need(uint8_t bus, bool io)
{
	uint64_t need = 0;

	for (unsigned i = 0; i < ndevices; i++) {
		const struct pci_device *d = &devices[i];

		if (d->bus != bus)
			continue;
		for (unsigned n = 0; n < 6; n++)
			if (d->bar[n].size && d->bar[n].io == io)
				need += footprint(&d->bar[n]);
		if (d->header_type == 1)
			need += bridge_window(d, io);
	}
	return need;
}

static bool decodes(const struct pci_device *d)
{
	return pci_read16(d, PCI_COMMAND) & (PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
}

/* True if every BAR on bus and below has an address and every bridge
 * there decodes: the firmware set this subtree up. */
static bool subtree_complete(uint8_t bus)
{
	for (unsigned i = 0; i < ndevices; i++) {
		const struct pci_device *d = &devices[i];

		if (d->bus != bus)
			continue;
		if (priv[i].broken)
			return false;
		for (unsigned n = 0; n < 6; n++)
			if (d->bar[n].size && !d->bar[n].addr)
				return false;
		if (d->header_type == 1 && d->secondary_bus &&
		    (!decodes(d) || !subtree_complete(d->secondary_bus)))
			return false;
	}
	return true;
}

static void decode_off(const struct pci_device *d)
{
	pci_write16(d, PCI_COMMAND,
		    pci_read16(d, PCI_COMMAND) &
			    ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
}

/* Forgets every address on bus and below (decoding off): we redo them. */
static void subtree_reset(uint8_t bus)
{
	for (unsigned i = 0; i < ndevices; i++) {
		struct pci_device *d = &devices[i];

		if (d->bus != bus)
			continue;
		decode_off(d);
		for (unsigned n = 0; n < 6; n++)
			d->bar[n].addr = 0;
		if (d->header_type == 1 && d->secondary_bus) {
			priv[i].fresh = true;
			subtree_reset(d->secondary_bus);
		}
	}
}

/* Adds a window of a bridge the firmware set up to the used list. */
static void reserve_window(uint64_t base, uint64_t limit, bool io)
{
	if (base <= limit)
		reserve(base, limit - base + 1, io);
}

static void reserve_bridge_windows(const struct pci_device *d)
{
	uint16_t io = pci_read16(d, PCI_BRIDGE_IO);
	uint32_t mem = pci_read32(d, PCI_BRIDGE_MEM);
	uint32_t pref = pci_read32(d, PCI_BRIDGE_PREF);
	uint64_t base, limit;

	reserve_window((uint64_t)(io & 0xf0) << 8,
		       ((uint64_t)(io >> 8 & 0xf0) << 8) | 0xfff, true);
	reserve_window((uint64_t)(mem & 0xfff0) << 16,
		       ((uint64_t)(mem >> 16 & 0xfff0) << 16) | 0xfffff, false);
	base = (uint64_t)(pref & 0xfff0) << 16;
	limit = ((uint64_t)(pref >> 16 & 0xfff0) << 16) | 0xfffff;
	if (pref & 1) { /* 64-bit window */
		base |= (uint64_t)pci_read32(d, PCI_BRIDGE_PREF_HI) << 32;
		limit |= (uint64_t)pci_read32(d, PCI_BRIDGE_PREF_LHI) << 32;
	}
	reserve_window(base, limit, false);
}

/* Marks the firmware's addresses on bus and below as used, keeping the
 * subtrees it set up completely and resetting the others (made fresh). */
static void reserve_firmware(uint8_t bus)
{
	for (unsigned i = 0; i < ndevices; i++) {
		struct pci_device *d = &devices[i];

		if (d->bus != bus)
			continue;
		for (unsigned n = 0; n < 6; n++)
			if (d->bar[n].size && d->bar[n].addr)
				reserve(d->bar[n].addr, footprint(&d->bar[n]),
					d->bar[n].io);
		if (d->header_type != 1 || !d->secondary_bus)
			continue;
		if (decodes(d) && subtree_complete(d->secondary_bus)) {
			reserve_bridge_windows(d);
			reserve_firmware(d->secondary_bus);
		} else {
			decode_off(d);
			priv[i].fresh = true;
			subtree_reset(d->secondary_bus);
		}
	}
}

/*
 * The next item on bus to place: the largest one not yet tried, a BAR
 * without address or a fresh bridge's window. On bus 0 the bridges' I/O
 * windows (4 KiB each, of 16 KiB in all) come after every I/O BAR, so the
 * devices on the root bus are not starved of ports by the bridges.
 * Returns the device index, or -1 when none is left; *size is the item's
 * size, *slot the BAR number or PCI_SLOT_MEMWIN / PCI_SLOT_IOWIN.
 */
static int next_item(uint8_t bus, bool root, uint64_t *size, unsigned *slot)
{
	uint64_t best_key = 0;
	int best = -1;

	for (unsigned i = 0; i < ndevices; i++) {
		const struct pci_device *d = &devices[i];

		if (d->bus != bus)
			continue;
		for (unsigned n = 0; n < 6; n++) {
			const struct pci_bar *b = &d->bar[n];

			if (!b->size || b->addr || (priv[i].tried & (1u << n)))
				continue;
			if (footprint(b) > best_key) {
				best_key = *size = footprint(b);
				*slot = n;
				best = (int)i;
			}
		}
		if (d->header_type != 1 || !priv[i].fresh)
			continue;
		for (unsigned w = PCI_SLOT_MEMWIN; w <= PCI_SLOT_IOWIN; w++) {
			uint64_t s, key;

			if (priv[i].tried & (1u << w))
				continue;
			s = bridge_window(d, w == PCI_SLOT_IOWIN);
			key = root && w == PCI_SLOT_IOWIN && s ? 1 : s;
			if (key > best_key) {
				best_key = key;
				*size = s;
				*slot = w;
				best = (int)i;
			}
		}
	}
	return best;
}

static void program_bridge(struct pci_device *d, const struct pci_priv *p)
{
	uint64_t lim;

	if (p->io_size) {
		lim = p->io_base + p->io_size - 1;
		pci_write16(d, PCI_BRIDGE_IO,
			    (uint16_t)((p->io_base >> 8 & 0xf0) | (lim & 0xf000)));
	} else {
		pci_write16(d, PCI_BRIDGE_IO, 0x00f0); /* base > limit: off */
	}
	pci_write32(d, PCI_BRIDGE_IO_HI, 0);
	if (p->mem_size) {
		lim = p->mem_base + p->mem_size - 1;
		pci_write32(d, PCI_BRIDGE_MEM,
			    (uint32_t)((p->mem_base >> 16 & 0xfff0) |
				       (lim & 0xfff00000)));
	} else {
		pci_write32(d, PCI_BRIDGE_MEM, 0x0000fff0);
	}
	pci_write32(d, PCI_BRIDGE_PREF, 0x0000fff0);
	pci_write32(d, PCI_BRIDGE_PREF_HI, 0);
	pci_write32(d, PCI_BRIDGE_PREF_LHI, 0);
}

/* Address ranges items may take: the global windows on bus 0, a fresh
 * bridge's own windows below it. lo > hi: none. */
struct pci_windows {
	uint64_t mem_lo, mem_hi;
	uint64_t io_lo, io_hi;
	bool root; /* may also use the window above 4 GiB */
};

/* Places one item of assign_bus(); false if there was no room. */
static bool place(struct pci_device *d, unsigned slot, uint64_t size,
		  const struct pci_windows *w)
{
	struct pci_priv *p = &priv[pci_index(d)];
	bool io = slot == PCI_SLOT_IOWIN || (slot < 6 && d->bar[slot].io);
	bool high = slot < 6 && d->bar[slot].is64 && w->root && high_hi;
	uint64_t a = 0;

	if (io)
		a = fit(w->io_lo, w->io_hi, size, size, true);
	else if (high && size >= PCI_HIGH_MIN)
		a = fit(high_lo, high_hi, size, size, false);
	else
		a = fit(w->mem_lo, w->mem_hi, size, size, false);
	if (!a && !io && high && size < PCI_HIGH_MIN)
		a = fit(high_lo, high_hi, size, size, false);
	if (!a)
		return false;
	reserve(a, size, io);
	if (slot < 6) {
		bar_write(d, slot, a);
	} else if (io) {
		p->io_base = a;
		p->io_size = size;
	} else {
		p->mem_base = a;
		p->mem_size = size;
	}
	return true;
}

/* Gives every unassigned BAR on bus, and every fresh bridge's subtree
 * below it, an address inside w. */
static void assign_bus(uint8_t bus, const struct pci_windows *w)
{
	uint64_t size = 0;
	unsigned slot = 0;
	int i;

	while ((i = next_item(bus, w->root, &size, &slot)) >= 0) {
		struct pci_device *d = &devices[i];

		priv[i].tried |= 1u << slot;
		if (place(d, slot, size, w))
			continue;
		if (slot < 6)
			pr_warn("pci: %02x:%02x.%x: no room for BAR%u (%#llx bytes of %s)",
				d->bus, d->dev, d->fn, slot, (unsigned long long)size,
				d->bar[slot].io ? "I/O" : "memory");
		else
			pr_warn("pci: %02x:%02x.%x: no room for a %#llx-byte %s window",
				d->bus, d->dev, d->fn, (unsigned long long)size,
				slot == PCI_SLOT_IOWIN ? "I/O" : "memory");
	}
	/* Then the subtrees, inside the windows just placed. */
	for (unsigned j = 0; j < ndevices; j++) {
		struct pci_device *d = &devices[j];
		const struct pci_priv *p = &priv[j];
		struct pci_windows sub = { 1, 0, 1, 0, false };

		if (d->bus != bus || d->header_type != 1 || !p->fresh ||
		    !d->secondary_bus)
			continue;
		program_bridge(d, p);
		if (p->mem_size) {
			sub.mem_lo = p->mem_base;
			sub.mem_hi = p->mem_base + p->mem_size - 1;
		}
		if (p->io_size) {
			sub.io_lo = p->io_base;
			sub.io_hi = p->io_base + p->io_size - 1;
		}
		assign_bus(d->secondary_bus, &sub);
	}
}

/* Picks the windows: see the top of the file. */
static void choose_windows(void)
{
	uint32_t a, b, c, dx;
	unsigned bits = 36;

	if ((uint64_t)pmm_total_pages() * PAGE_SIZE > PCI_MEM_LO - (64ull << 20))
		mem_lo = PCI_MEM_LO_BIGRAM;
	cpuid(0x80000000, 0, &a, &b, &c, &dx);
	if (a >= 0x80000008) {
		cpuid(0x80000008, 0, &a, &b, &c, &dx);
		bits = a & 0xff;
	}
	if (bits < 36 || bits > 52)
		return;
	high_lo = 1ull << (bits - 1);
	high_hi = (1ull << bits) - 1;
	if (high_hi >= PCI_HT_HOLE)
		high_hi = PCI_HT_HOLE - 1;
	if (high_hi <= high_lo)
		high_lo = high_hi = 0;
}

/* ---- pass 4: enable and report ----------------------------------------- */

static void enable(struct pci_device *d, const struct pci_priv *p)
{
	uint16_t cmd = pci_read16(d, PCI_COMMAND);
	bool has_mem = false, has_io = false, mem_ok = true, io_ok = true;

	for (unsigned n = 0; n < 6; n++) {
		const struct pci_bar *b = &d->bar[n];
		bool broken = p->broken & (1u << n);

		if (b->size && b->io) {
			has_io = true;
			io_ok &= b->addr != 0;
		} else if (b->size) {
			has_mem = true;
			mem_ok &= b->addr != 0;
		}
		/* A broken BAR still decodes somewhere: keep its kind off.
		 * Its kind is known from the register's low bit. */
		if (broken && (pci_read32(d, PCI_BAR0 + 4 * n) & 1)) {
			has_io = true;
			io_ok = false;
		} else if (broken) {
			has_mem = true;
			mem_ok = false;
		}
	}
	if (d->header_type == 1 && p->fresh) {
		/* Own BARs and forwarding share the enable bits. */
		has_mem |= p->mem_size != 0;
		has_io |= p->io_size != 0;
	}
	if (has_mem && mem_ok)
		cmd |= PCI_COMMAND_MEMORY;
	if (has_io && io_ok)
		cmd |= PCI_COMMAND_IO;
	cmd |= PCI_COMMAND_MASTER;
	pci_write16(d, PCI_COMMAND, cmd);
}

/* Appends to line (of size bytes, *len used so far), truncating. */
static void append(char *line, size_t size, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void append(char *line, size_t size, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*len + 1 >= size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line + *len, size - *len, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len = *len + (size_t)n < size ? *len + (size_t)n : size - 1;
}

/* One log line: bus:dev.fn vendor:device class, then the BARs. */
static void report(const struct pci_device *d, const struct pci_priv *p)
{
	char line[320];
	size_t len = 0;

	append(line, sizeof(line), &len, "pci: %02x:%02x.%x %04x:%04x class %02x%02x%02x",
	       d->bus, d->dev, d->fn, d->vendor, d->device, d->class_code,
	       d->subclass, d->prog_if);
	if (d->header_type == 1 && d->secondary_bus)
		append(line, sizeof(line), &len, " bridge to bus %02x", d->secondary_bus);
	for (unsigned n = 0; n < 6; n++) {
		const struct pci_bar *b = &d->bar[n];

		if (p->broken & (1u << n))
			append(line, sizeof(line), &len, " bar%u broken", n);
		if (!b->size)
			continue;
		append(line, sizeof(line), &len, " bar%u %s%s %#llx+%#llx", n,
		       b->io ? "io" : b->is64 ? "mem64" : "mem",
		       b->prefetchable ? "-pref" : "", (unsigned long long)b->addr,
		       (unsigned long long)b->size);
	}
	if (d->header_type == 1 && p->fresh)
		append(line, sizeof(line), &len, " window mem %#llx+%#llx io %#llx+%#llx",
		       (unsigned long long)p->mem_base, (unsigned long long)p->mem_size,
		       (unsigned long long)p->io_base, (unsigned long long)p->io_size);
	pr_info("%s", line);
}

/* Maps the memory BARs small enough to map at boot (see pci_map_bar). */
static void map_small_bars(const struct pci_device *d)
{
	for (unsigned n = 0; n < 6; n++) {
		const struct pci_bar *b = &d->bar[n];

		/* Prefetchable BARs are memory, not registers: their driver
		 * chooses the mapping (the fabric window is write-back). */
		if (b->io || b->prefetchable || !b->addr || !b->size ||
		    b->size > PCI_EAGER_MAP)
			continue;
		if (!pci_map_bar(d, n))
			pr_warn("pci: %02x:%02x.%x: cannot map BAR%u", d->bus,
				d->dev, d->fn, n);
	}
}

/* BARs with a size but no address. */
static unsigned count_unassigned(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < ndevices; i++)
		for (unsigned b = 0; b < 6; b++)
			n += devices[i].bar[b].size && !devices[i].bar[b].addr;
	return n;
}

void pci_init(void)
{
	unsigned todo, left, buses = 0;
	struct pci_windows root;

	if (!cfg_mech1_present()) {
		pr_warn("pci: no configuration mechanism #1, no PCI devices");
		return;
	}
	scan_bus(0, 0);
	choose_windows();
	root = (struct pci_windows){ mem_lo, PCI_MEM_HI, PCI_IO_LO, PCI_IO_HI, true };
	reserve_firmware(0);
	todo = count_unassigned();
	assign_bus(0, &root);
	left = count_unassigned();
	for (unsigned i = 0; i < ndevices; i++) {
		struct pci_device *d = &devices[i];

		enable(d, &priv[i]);
		report(d, &priv[i]);
		map_small_bars(d);
	}
	for (unsigned b = 0; b < 256; b++)
		buses += bus_scanned[b];
	pr_info("pci: %u functions on %u bus(es); %u BAR(s) assigned here, %u without room; "
		"memory window %#llx-%#llx",
		ndevices, buses, todo - left, left, (unsigned long long)mem_lo,
		(unsigned long long)PCI_MEM_HI);
}
