/*
 * User address spaces on x86-64 (include/kernel/uspace.h): 4-level page
 * tables whose lower half (PML4 entries 0..255) belongs to one process and
 * whose upper half is a copy of the kernel's 256 PML4 entries. vmm_init()
 * creates every kernel-half PML4 entry at boot and they never change, so
 * the copy stays right for later kernel mappings (vmm_map_phys).
 *
 * Entries: leaves are 4 KiB, present, user, writable if asked, no-execute
 * unless asked; intermediate tables of the user half are present, user and
 * writable (the leaf decides). The uspace owns its table pages only.
 *
 * TLB coherence. Each uspace keeps a mask of the CPUs that have its tables
 * loaded (uspace_switch, at context switches). A CPU sets its bit before
 * loading CR3 and clears it after loading another root, so a CPU not in
 * the mask holds no TLB entry of the uspace (user entries are never
 * global, and there are no PCIDs). After changing or removing a present
 * entry, the editor flushes its own TLB entry and asks every other CPU in
 * the mask for a flush:
 *   - it increments the target's tlb_req (a locked add: it also orders the
 *     PTE store before it), sends VEC_TLB, and waits until the target's
 *     tlb_done reaches the value it got;
 *   - the target reads tlb_req, reloads CR3 (a whole non-global flush),
 *     then publishes what it read in tlb_done. Since it read tlb_req after
 *     the request was made, its flush came after the PTE store.
 * No lock is held while waiting, and a waiter with interrupts off serves
 * its own CPU's requests while it spins, so two CPUs shooting each other
 * down cannot deadlock. A target that does not answer in 10 s is a
 * kernel bug (panic).
 *
 * Page-table edits of one uspace are serialised by us->lock (a spinlock:
 * editors may run with interrupts off); the shootdown happens after the
 * lock is dropped, before the call returns.
 */
#include <arch/apic.h>
#include <arch/cpu.h>
#include <arch/memlayout.h>
#include <arch/trap.h>
#include <arch/user.h>
#include <kernel/cpu.h>
#include <kernel/errno.h>
#include <kernel/mm.h>
#include <kernel/panic.h>
#include <kernel/spinlock.h>
#include <kernel/time.h>
#include <lib/string.h>

#define PTE_P	 (1ull << 0)
#define PTE_W	 (1ull << 1)
#define PTE_U	 (1ull << 2)
#define PTE_A	 (1ull << 5)
#define PTE_D	 (1ull << 6)
#define PTE_PS	 (1ull << 7)
#define PTE_NX	 (1ull << 63)
#define PTE_ADDR 0x000ffffffffff000ull

#define USER_PML4_ENTRIES 256
#define SHOOTDOWN_TIMEOUT_NS (10 * NS_PER_S)

_Static_assert(MAX_CPUS <= 32, "uspace CPU mask is 32 bits");

struct uspace {
	struct spinlock lock; /* serialises edits of the user half */
	uint64_t root; /* physical address of the PML4; constant */
	uint32_t active; /* CPUs with root loaded; atomic bit ops by each CPU
			  * for itself, read by editors */
};

static uint64_t *table_of(uint64_t entry)
{
	return phys_to_virt(entry & PTE_ADDR);
}

static unsigned index_at(uint64_t va, int level)
{
	return (unsigned)(va >> (12 + 9 * level)) & 511;
}

struct uspace *uspace_create(void)
{
	struct uspace *us = kzalloc(sizeof(*us));
	uint64_t *root, *kroot;

	if (!us)
		return NULL;
	us->root = pmm_alloc(0);
	if (!us->root) {
		kfree(us);
		return NULL;
	}
	root = phys_to_virt(us->root);
	kroot = phys_to_virt(vmm_kernel_root());
	memset(root, 0, USER_PML4_ENTRIES * sizeof(uint64_t));
	memcpy(root + USER_PML4_ENTRIES, kroot + USER_PML4_ENTRIES,
	       USER_PML4_ENTRIES * sizeof(uint64_t));
	spin_init(&us->lock, "uspace");
	return us;
}

/* Frees the table at entry (a table of the given level) and those below. */
static void free_table(uint64_t entry, int level)
{
	uint64_t *t = table_of(entry);

	if (level > 0)
		for (unsigned i = 0; i < 512; i++)
			if (t[i] & PTE_P)
				free_table(t[i], level - 1);
	pmm_free(entry & PTE_ADDR, 0);
}

void uspace_destroy(struct uspace *us)
{
	uint64_t *root;

	if (!us)
		return;
	if (__atomic_load_n(&us->active, __ATOMIC_ACQUIRE))
		panic("uspace_destroy: still active on cpus %#x", us->active);
	root = phys_to_virt(us->root);
	for (unsigned i = 0; i < USER_PML4_ENTRIES; i++)
		if (root[i] & PTE_P)
			free_table(root[i], 2);
	pmm_free(us->root, 0);
	kfree(us);
}

/*
 * The leaf entry for va, creating missing tables if create; NULL if a
 * table is missing (or, with create, no page was left). Caller holds
 * us->lock.
 */
static uint64_t *pte_walk(struct uspace *us, uint64_t va, bool create)
{
	uint64_t *t = phys_to_virt(us->root);

	for (int level = 3; level > 0; level--) {
		uint64_t *e = &t[index_at(va, level)];

		if (!(*e & PTE_P)) {
			uint64_t pa;

			if (!create)
				return NULL;
			pa = pmm_alloc(0);
			if (!pa)
				return NULL;
			memset(phys_to_virt(pa), 0, PAGE_SIZE);
			*e = pa | PTE_P | PTE_W | PTE_U;
		}
		t = table_of(*e);
	}
	return &t[index_at(va, 0)];
}

static unsigned pte_bits(uint64_t pte)
{
	unsigned r = 0;

	if (pte & PTE_P)
		r |= USPACE_PRESENT;
	if (pte & PTE_A)
		r |= USPACE_ACCESSED;
	if (pte & PTE_D)
		r |= USPACE_DIRTY;
	return r;
}

/* Serves the shootdown requests made of this CPU. Interrupts off. */
static void tlb_flush_requests(void)
{
	struct cpu *c = this_cpu();
	uint64_t req = __atomic_load_n(&c->arch.tlb_req, __ATOMIC_ACQUIRE);

	if (req == __atomic_load_n(&c->arch.tlb_done, __ATOMIC_RELAXED))
		return;
	write_cr3(read_cr3());
	__atomic_store_n(&c->arch.tlb_done, req, __ATOMIC_RELEASE);
}

static void tlb_ipi(struct trap_frame *tf, void *arg)
{
	tlb_flush_requests();
}

/* Waits until cpu t has flushed past request number `want`. */
static void tlb_wait(struct cpu *t, uint64_t want)
{
	uint64_t deadline = clock_ns() + SHOOTDOWN_TIMEOUT_NS;

	while (__atomic_load_n(&t->arch.tlb_done, __ATOMIC_ACQUIRE) < want) {
		if (!irqs_enabled())
			tlb_flush_requests(); /* someone may be waiting on us */
		if (clock_ns() > deadline)
			panic("tlb shootdown: cpu %u does not answer", t->id);
		cpu_relax();
	}
}

/*
 * Makes every CPU forget va's old translation in us: this CPU by invlpg,
 * the others where us is active by IPI. Called after the PTE changed,
 * without us->lock.
 */
static void tlb_shootdown(struct uspace *us, uint64_t va)
{
	uint64_t want[MAX_CPUS];
	uint32_t mask, self;

	irq_push(); /* stay on this CPU while reading who "others" are */
	self = this_cpu()->id;
	invlpg(va);
	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* PTE store before the mask read */
	mask = __atomic_load_n(&us->active, __ATOMIC_SEQ_CST) & ~(1u << self);
	for (unsigned i = 0; i < cpu_count; i++) {
		if (!(mask & (1u << i)))
			continue;
		want[i] = __atomic_add_fetch(&cpus[i].arch.tlb_req, 1, __ATOMIC_SEQ_CST);
		lapic_send_ipi(cpus[i].apic_id, VEC_TLB);
	}
	irq_pop();
	for (unsigned i = 0; i < cpu_count; i++)
		if (mask & (1u << i))
			tlb_wait(&cpus[i], want[i]);
}

static bool va_ok(uint64_t va)
{
	return va < USPACE_TOP && (va & (PAGE_SIZE - 1)) == 0;
}

int uspace_map(struct uspace *us, uint64_t va, uint64_t pa, unsigned rights)
{
	uint64_t *e, old, pte;

	if (!va_ok(va) || (pa & ~PTE_ADDR))
		return -EINVAL;
	pte = pa | PTE_P | PTE_U;
	if (rights & USPACE_WRITE)
		pte |= PTE_W;
	if (!(rights & USPACE_EXEC))
		pte |= PTE_NX;
	spin_lock(&us->lock);
	e = pte_walk(us, va, true);
	if (!e) {
		spin_unlock(&us->lock);
		return -ENOMEM;
	}
	old = __atomic_exchange_n(e, pte, __ATOMIC_SEQ_CST);
	spin_unlock(&us->lock);
	if (old & PTE_P)
		tlb_shootdown(us, va);
	return 0;
}

unsigned uspace_unmap(struct uspace *us, uint64_t va)
{
	uint64_t *e, old = 0;

	if (!va_ok(va))
		return 0;
	spin_lock(&us->lock);
	e = pte_walk(us, va, false);
	if (e)
		old = __atomic_exchange_n(e, 0, __ATOMIC_SEQ_CST);
	spin_unlock(&us->lock);
	if (old & PTE_P)
		tlb_shootdown(us, va);
	return pte_bits(old);
}

unsigned uspace_pte(struct uspace *us, uint64_t va, bool clear_accessed)
{
	uint64_t *e, old = 0;

	if (!va_ok(va))
		return 0;
	spin_lock(&us->lock);
	e = pte_walk(us, va, false);
	if (e && clear_accessed)
		old = __atomic_fetch_and(e, ~PTE_A, __ATOMIC_SEQ_CST);
	else if (e)
		old = __atomic_load_n(e, __ATOMIC_RELAXED);
	spin_unlock(&us->lock);
	if (clear_accessed && (old & PTE_P) && (old & PTE_A))
		tlb_shootdown(us, va);
	return pte_bits(old);
}

void uspace_switch(struct uspace *from, struct uspace *to)
{
	unsigned self = this_cpu()->id;

	if (from == to)
		return;
	if (to) {
		__atomic_fetch_or(&to->active, 1u << self, __ATOMIC_SEQ_CST);
		write_cr3(to->root);
	} else {
		write_cr3(vmm_kernel_root());
	}
	if (from)
		__atomic_fetch_and(&from->active, ~(1u << self), __ATOMIC_SEQ_CST);
}

/* Boot CPU, from user_init_cpu(). */
void uspace_init(void)
{
	trap_register(VEC_TLB, tlb_ipi, NULL);
}
