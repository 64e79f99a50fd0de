/*
 * kmain: brings up the kernel core shared by every role, prints the banner,
 * then starts the role (or the self tests) and leaves the boot CPU to its
 * idle thread.
 *
 * Order matters: the console first (so everything after can report), the
 * boot information (copied before its memory can be reused), descriptor
 * tables (so faults are reported), memory, ACPI and interrupts, the clock,
 * the scheduler, the other CPUs, then devices.
 *
 * The banner does not say "ready:": the role's start function prints
 * "ready: ROLE NAME" (status_ready(), kernel/status.c) once its services,
 * the fabric and the RPC server among them, are up. A `ktest` boot never
 * starts the role and so never claims to be ready.
 */
#include <arch/apic.h>
#include <arch/arch.h>
#include <arch/cpu.h>
#include <arch/memlayout.h>
#include <drivers/pci.h>
#include <drivers/serial.h>
#include <kernel/acpi.h>
#include <kernel/bootinfo.h>
#include <kernel/config.h>
#include <kernel/cpu.h>
#include <kernel/ktest.h>
#include <kernel/mm.h>
#include <kernel/panic.h>
#include <kernel/printk.h>
#include <kernel/sched.h>
#include <kernel/smp.h>
#include <kernel/status.h>
#include <kernel/time.h>

static struct bootinfo boot;

/* Physical memory reachable before vmm_init(): the boot map's first GiB. */
static const void *boot_phys(uint64_t pa, size_t len)
{
	if (pa + len < pa || pa + len > (1ull << 30))
		return NULL;
	return phys_to_virt(pa);
}

/* After vmm_init(): RAM through the direct map, anything else (ACPI tables
 * in firmware areas) through a fresh uncached mapping. */
static const void *acpi_phys(uint64_t pa, size_t len)
{
	if (vmm_direct_mapped(pa, len))
		return phys_to_virt(pa);
	return pa + len < pa ? NULL : vmm_map_mmio(pa, len);
}

static void acpi_setup(void)
{
	uint64_t rsdp_pa;
	const uint8_t *rsdp = boot.has_rsdp ? boot.rsdp : NULL;
	int err;

	if (!rsdp) {
		rsdp_pa = acpi_find_rsdp(acpi_phys);
		rsdp = rsdp_pa ? acpi_phys(rsdp_pa, 36) : NULL;
	}
	if (!rsdp)
		panic("acpi: no RSDP found; Tessera needs ACPI tables to find CPUs");
	err = acpi_parse(&acpi, rsdp, acpi_phys);
	if (err)
		panic("acpi: unusable tables (error %d)", err);
}

static void print_banner(void)
{
	pr_info("Tessera %s %s component, node %u (%s)", TESSERA_VERSION, this_role.name,
		kconfig.node_id, kconfig.name);
	pr_info("booted by %s via Multiboot%s, command line \"%s\"",
		boot.loader[0] ? boot.loader : "?", boot.protocol == 2 ? "2" : " v1",
		boot.cmdline);
	pr_info("cpus: %u online of %u", cpus_online(), cpu_count);
	pr_info("memory map:");
	for (unsigned i = 0; i < boot.nmem; i++)
		pr_info("  [%#014llx-%#014llx] %s", (unsigned long long)boot.mem[i].base,
			(unsigned long long)(boot.mem[i].base + boot.mem[i].len - 1),
			boot_mem_type_name(boot.mem[i].type));
	pr_info("memory: %zu MiB usable, %zu MiB free", pmm_total_pages() / 256,
		pmm_free_pages() / 256);
}

static void config_report(void *ctx, const char *problem)
{
	pr_warn("cmdline: %s", problem);
}

/* kconfig from the command line; a role= for another image is fatal. */
static int config_setup(void)
{
	int problems = kconfig_parse_into(&kconfig, boot.cmdline, &this_role,
					  config_report, NULL);

	if (kconfig.role_mismatch)
		panic("command line asks for role=%s but this is the %s image",
		      kconfig.role_asked, this_role.name);
	return problems;
}

void kmain(uint32_t magic, uint32_t info)
{
	int problems;

	serial_init();
	arch_early_init();
	if (bootinfo_parse(&boot, magic, info, boot_phys) < 0)
		panic("not started by a multiboot loader (magic %#x)", magic);
	problems = config_setup();
	printk_set_level(kconfig.loglevel);
	printk_set_node(kconfig.name);
	if (problems)
		pr_warn("cmdline: %d problem(s), see above", problems);
	if (boot.dropped)
		pr_warn("boot: %u memory ranges or modules did not fit", boot.dropped);

	pmm_early_init(&boot);
	vmm_init(&boot);
	pmm_init(&boot);
	acpi_setup();
	apic_init(&acpi);
	time_init();
	sched_init_cpu(NULL);
	cpus[0].online = true;
	irq_enable();
	smp_init();
	pci_init();
	print_banner();

	if (kconfig.ktest) {
		pr_info("ktest: running the self tests; the %s services are not started",
			this_role.name);
		ktest_run_all(kconfig.ktest_filter);
	}
	if (this_role.start)
		this_role.start();
	thread_exit();
}
