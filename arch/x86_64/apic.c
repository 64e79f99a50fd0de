/*
 * Local APIC, IOAPIC, legacy PIC and PIT.
 *
 * The 8259 PICs are remapped out of the exception range and masked: all
 * interrupts come through the IOAPIC (ISA devices), MSI/MSI-X (PCI) or the
 * local APIC (timer, IPIs). The local APIC timer's rate is measured once on
 * the boot CPU against PIT channel 2, which counts a known 1.193182 MHz
 * whatever the accelerator does.
 *
 * The timer: every CPU starts it periodic at HZ. When the clock is finer
 * than the tick (clock_is_hires(): the HPET), each CPU's first timer
 * interrupt switches it to one-shot mode, and from then on every interrupt
 * re-arms it for the earlier of the next tick (due every 1/HZ, counted on
 * clock_ns()) and the CPU's earliest sleeper (sched_wake_sleepers), and a
 * new earlier sleeper brings the expiry forward (lapic_timer_wake_by). So
 * a timed sleep ends at its deadline while the tick work (time_tick,
 * slices) still runs every 1/HZ. An interrupt that comes early (a
 * cancelled sleeper, calibration rounding) finds nothing due and just
 * re-arms. A tick missed while interrupts were off (or the virtual CPU was
 * not scheduled) is skipped, not made up: one interrupt does at most one
 * tick's work. Without an HPET, clock_ns() counts ticks and deadlines
 * cannot be finer: the timer stays periodic and sleepers wake at ticks.
 * TSC-deadline mode is not used: the kernel does not read the TSC.
 */
#include <arch/apic.h>
#include <arch/cpu.h>
#include <arch/trap.h>
#include <kernel/cpu.h>
#include <kernel/mm.h>
#include <kernel/panic.h>
#include <kernel/printk.h>
#include <kernel/sched.h>
#include <kernel/time.h>

/* Local APIC registers (xAPIC MMIO offsets; x2APIC MSR = 0x800 + off/16). */
#define LAPIC_ID	0x020
#define LAPIC_TPR	0x080
#define LAPIC_EOI	0x0b0
#define LAPIC_SVR	0x0f0
#define LAPIC_ICR_LO	0x300
#define LAPIC_ICR_HI	0x310
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360
#define LAPIC_LVT_ERR	0x370
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_CUR 0x390
#define LAPIC_TIMER_DIV 0x3e0

#define SVR_ENABLE	 0x100
#define LVT_MASKED	 (1u << 16)
#define LVT_PERIODIC	 (1u << 17)
#define ICR_INIT	 0x500
#define ICR_STARTUP	 0x600
#define ICR_NMI		 0x400
#define ICR_LEVEL_ASSERT 0x4000
#define ICR_PENDING	 0x1000
#define ICR_ALL_BUT_SELF 0xc0000

#define APIC_BASE_X2APIC (1ull << 10)
#define APIC_BASE_ENABLE (1ull << 11)

#define PIT_HZ 1193182

static volatile uint32_t *lapic_mmio;
static bool x2apic;
static uint64_t timer_hz; /* timer ticks per second at divide-by-16 */

/* Per-CPU timer state, each touched only by its own CPU with interrupts
 * off (in the timer interrupt, or from sched_block). */
static struct lapic_timer {
	bool oneshot; /* re-armed one event at a time (else periodic) */
	uint64_t next_tick; /* clock_ns() when the next tick's work is due */
	uint64_t armed_for; /* clock_ns() the one-shot is set to fire at */
} timers[MAX_CPUS];

static struct {
	volatile uint32_t *mmio;
	uint32_t gsi_base;
	unsigned nredir;
} ioapics[ACPI_MAX_IOAPICS];
static unsigned nioapics;
static const struct acpi_info *madt;

static uint32_t lapic_read(uint32_t reg)
{
	if (x2apic)
		return (uint32_t)rdmsr(0x800 + reg / 16);
	return lapic_mmio[reg / 4];
}

static void lapic_write(uint32_t reg, uint32_t v)
{
	if (x2apic)
		wrmsr(0x800 + reg / 16, v);
	else
		lapic_mmio[reg / 4] = v;
}

bool lapic_is_x2apic(void)
{
	return x2apic;
}

uint32_t lapic_id(void)
{
	uint32_t id = lapic_read(LAPIC_ID);

	return x2apic ? id : id >> 24;
}

void lapic_eoi(void)
{
	lapic_write(LAPIC_EOI, 0);
}

/* In xAPIC mode an IPI takes two register writes: interrupts stay off
 * between them, so a handler sending its own IPI cannot retarget ours. */
static void icr_send(uint32_t apic_id, uint32_t low)
{
	bool was_on;

	if (x2apic) {
		wrmsr(0x830, ((uint64_t)apic_id << 32) | low);
		return;
	}
	was_on = irqs_enabled();
	irq_disable();
	lapic_write(LAPIC_ICR_HI, apic_id << 24);
	lapic_write(LAPIC_ICR_LO, low);
	if (was_on)
		irq_enable();
	for (int spins = 0; spins < 1000000 && (lapic_read(LAPIC_ICR_LO) & ICR_PENDING);
	     spins++)
		cpu_relax();
}

void lapic_send_ipi(uint32_t apic_id, uint8_t vector)
{
	icr_send(apic_id, vector);
}

void lapic_send_nmi_all_but_self(void)
{
	icr_send(0, ICR_ALL_BUT_SELF | ICR_NMI);
}

void lapic_start_ap(uint32_t apic_id, uint8_t page)
{
	icr_send(apic_id, ICR_INIT | ICR_LEVEL_ASSERT);
	delay_ns(10 * NS_PER_MS);
	for (int i = 0; i < 2; i++) {
		icr_send(apic_id, ICR_STARTUP | page);
		delay_ns(200 * NS_PER_US);
	}
}

uint64_t lapic_timer_hz(void)
{
	return timer_hz;
}

void pit_wait_us(unsigned us)
{
	uint32_t count = (uint32_t)((uint64_t)PIT_HZ * us / 1000000);
	uint8_t gate;

	if (count > 0xffff)
		count = 0xffff;
	if (count == 0)
		count = 1;
	/* Channel 2, gate on, speaker off; mode 0 (interrupt on terminal count). */
	gate = inb(0x61);
	outb(0x61, (uint8_t)((gate & ~0x02) | 0x01));
	outb(0x43, 0xb0);
	outb(0x42, (uint8_t)count);
	outb(0x42, (uint8_t)(count >> 8));
	while (!(inb(0x61) & 0x20))
		cpu_relax();
	outb(0x61, gate);
}

static void pic_disable(void)
{
	/* Remap to vectors 0x20-0x2f so a stray one is not taken for a fault. */
	outb(0x20, 0x11);
	outb(0xa0, 0x11);
	outb(0x21, 0x20);
	outb(0xa1, 0x28);
	outb(0x21, 0x04);
	outb(0xa1, 0x02);
	outb(0x21, 0x01);
	outb(0xa1, 0x01);
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
}

static void lapic_calibrate(void)
{
	uint32_t elapsed;

	lapic_write(LAPIC_TIMER_DIV, 0x3); /* divide by 16 */
	lapic_write(LAPIC_LVT_TIMER, LVT_MASKED);
	lapic_write(LAPIC_TIMER_INIT, 0xffffffff);
	pit_wait_us(10000);
	elapsed = 0xffffffff - lapic_read(LAPIC_TIMER_CUR);
	lapic_write(LAPIC_TIMER_INIT, 0);
	timer_hz = (uint64_t)elapsed * 100;
	if (timer_hz < HZ)
		panic("apic: timer calibration failed (%u ticks in 10 ms)", elapsed);
}

#define TICK_NS (NS_PER_S / HZ)

/* Sets the one-shot to fire at clock_ns() == at (at once if that has
 * passed, at most a tick from now). */
static void timer_program(struct lapic_timer *tm, uint64_t at)
{
	uint64_t now = clock_ns(), ns = at > now ? at - now : 0, count;

	if (ns > TICK_NS)
		ns = TICK_NS;
	count = (ns * timer_hz + NS_PER_S - 1) / NS_PER_S;
	lapic_write(LAPIC_TIMER_INIT, count ? (uint32_t)count : 1);
	tm->armed_for = at;
}

/* Arms for the next tick or the first sleeper (0: none), whichever is
 * earlier. */
static void timer_rearm(struct lapic_timer *tm, uint64_t sleeper)
{
	timer_program(tm, sleeper && sleeper < tm->next_tick ? sleeper : tm->next_tick);
}

/* Whether this interrupt is due for a tick's work; advances next_tick. */
static bool timer_tick_due(struct lapic_timer *tm)
{
	uint64_t now;

	if (!tm->oneshot)
		return true; /* periodic: every interrupt is a tick */
	now = clock_ns();
	if (now < tm->next_tick)
		return false;
	tm->next_tick += TICK_NS;
	if (tm->next_tick <= now)
		tm->next_tick = now + TICK_NS; /* missed ticks are skipped */
	return true;
}

/* Leaves periodic mode for one-shot; the caller re-arms. */
static void timer_go_oneshot(struct lapic_timer *tm)
{
	lapic_write(LAPIC_LVT_TIMER, VEC_TIMER);
	tm->next_tick = clock_ns() + TICK_NS;
	tm->oneshot = true;
}

static void timer_interrupt(struct trap_frame *tf, void *arg)
{
	struct cpu *c = this_cpu();
	struct lapic_timer *tm = &timers[c->id];
	bool tick = timer_tick_due(tm);
	uint64_t sleeper;

	if (tick && c->id == 0)
		time_tick();
	sleeper = sched_wake_sleepers();
	if (tick)
		sched_tick();
	if (!tm->oneshot && clock_is_hires())
		timer_go_oneshot(tm); /* this CPU's first interrupt */
	if (tm->oneshot)
		timer_rearm(tm, sleeper);
}

void lapic_timer_wake_by(uint64_t deadline_ns)
{
	struct lapic_timer *tm = &timers[this_cpu()->id];

	if (tm->oneshot && deadline_ns < tm->armed_for)
		timer_program(tm, deadline_ns);
}

void lapic_init_cpu(void)
{
	uint64_t base = rdmsr(MSR_APIC_BASE) | APIC_BASE_ENABLE;

	if (x2apic)
		base |= APIC_BASE_X2APIC;
	wrmsr(MSR_APIC_BASE, base);
	lapic_write(LAPIC_TPR, 0);
	lapic_write(LAPIC_SVR, SVR_ENABLE | VEC_SPURIOUS);
	lapic_write(LAPIC_LVT_LINT0, LVT_MASKED);
	lapic_write(LAPIC_LVT_LINT1, LVT_MASKED);
	lapic_write(LAPIC_LVT_ERR, LVT_MASKED);
	if (timer_hz) {
		lapic_write(LAPIC_TIMER_DIV, 0x3);
		lapic_write(LAPIC_LVT_TIMER, LVT_PERIODIC | VEC_TIMER);
		lapic_write(LAPIC_TIMER_INIT, (uint32_t)(timer_hz / HZ));
	}
}

static uint32_t ioapic_read(unsigned i, uint32_t reg)
{
	ioapics[i].mmio[0] = reg;
	return ioapics[i].mmio[4];
}

static void ioapic_write(unsigned i, uint32_t reg, uint32_t v)
{
	ioapics[i].mmio[0] = reg;
	ioapics[i].mmio[4] = v;
}

void ioapic_route_isa(unsigned irq, uint8_t vector, uint32_t apic_id)
{
	uint32_t gsi = irq, low = vector;

	for (unsigned i = 0; i < madt->noverrides; i++) {
		const struct acpi_irq_override *o = &madt->overrides[i];

		if (o->isa_irq != irq)
			continue;
		gsi = o->gsi;
		if ((o->flags & 3) == 3)
			low |= 1u << 13; /* active low */
		if (((o->flags >> 2) & 3) == 3)
			low |= 1u << 15; /* level triggered */
	}
	for (unsigned i = 0; i < nioapics; i++) {
		uint32_t pin = gsi - ioapics[i].gsi_base;

		if (gsi < ioapics[i].gsi_base || pin >= ioapics[i].nredir)
			continue;
		ioapic_write(i, 0x10 + 2 * pin + 1, x2apic ? apic_id : apic_id << 24);
		ioapic_write(i, 0x10 + 2 * pin, low);
		return;
	}
	pr_warn("ioapic: no IOAPIC serves GSI %u (IRQ %u)", gsi, irq);
}

void apic_init(const struct acpi_info *ai)
{
	uint32_t a, b, c, d;

	madt = ai;
	pic_disable();
	cpuid(1, 0, &a, &b, &c, &d);
	x2apic = (c >> 21) & 1;
	if (!x2apic) {
		lapic_mmio = vmm_map_mmio(ai->lapic_pa ? ai->lapic_pa : 0xfee00000, 4096);
		if (!lapic_mmio)
			panic("apic: cannot map the local APIC");
	}
	for (unsigned i = 0; i < ai->nioapics; i++) {
		ioapics[nioapics].mmio = vmm_map_mmio(ai->ioapics[i].pa, 4096);
		if (!ioapics[nioapics].mmio)
			continue;
		ioapics[nioapics].gsi_base = ai->ioapics[i].gsi_base;
		ioapics[nioapics].nredir = ((ioapic_read(nioapics, 1) >> 16) & 0xff) + 1;
		for (unsigned pin = 0; pin < ioapics[nioapics].nredir; pin++)
			ioapic_write(nioapics, 0x10 + 2 * pin, LVT_MASKED);
		nioapics++;
	}
	lapic_init_cpu(); /* enable before calibrating: the timer needs it */
	lapic_calibrate();
	trap_register(VEC_TIMER, timer_interrupt, NULL);
	lapic_init_cpu(); /* now with the timer running */
	pr_info("apic: %s, %u IOAPIC(s), timer %llu kHz", x2apic ? "x2APIC" : "xAPIC",
		nioapics, (unsigned long long)(timer_hz / 1000));
}
