/*
 * ACPI table parsing: RSDP -> RSDT/XSDT -> MADT and HPET.
 * Portable; unit-tested on the host with hand-built tables.
 */
#include <kernel/acpi.h>
#include <kernel/errno.h>
#include <lib/string.h>
#include <lib/unaligned.h>

#define SDT_HEADER   36
#define MAX_TABLE    (1u << 20)
#define MAX_TABLES   64

struct acpi_info acpi;

static bool checksum_ok(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + p[i]);
	return sum == 0;
}

/* Maps a whole table after checking its header; NULL if unusable. */
static const uint8_t *table_at(uint64_t pa, acpi_phys_fn phys)
{
	const uint8_t *h = phys(pa, SDT_HEADER), *t;
	uint32_t len;

	if (!h)
		return NULL;
	len = get_le32(h + 4);
	if (len < SDT_HEADER || len > MAX_TABLE)
		return NULL;
	t = phys(pa, len);
	if (!t || !checksum_ok(t, len))
		return NULL;
	return t;
}

static void add_cpu(struct acpi_info *ai, uint32_t apic_id, uint32_t flags)
{
	if (!(flags & 1)) /* not enabled */
		return;
	if (ai->ncpus < ACPI_MAX_CPUS)
		ai->cpu_apic_ids[ai->ncpus++] = apic_id;
}

/* Returns false, reading nothing past the header, if t is too short to
 * hold the MADT's own fields (local APIC address and flags). */
static bool parse_madt(struct acpi_info *ai, const uint8_t *t)
{
	uint32_t len = get_le32(t + 4), off = SDT_HEADER + 8;

	if (len < off)
		return false;
	ai->lapic_pa = get_le32(t + SDT_HEADER);
	ai->legacy_pics = get_le32(t + SDT_HEADER + 4) & 1;
	while (off + 2 <= len) {
		const uint8_t *e = t + off;
		uint8_t type = e[0], elen = e[1];

		if (elen < 2 || off + elen > len)
			break;
		switch (type) {
		case 0: /* processor local APIC */
			if (elen >= 8)
				add_cpu(ai, e[3], get_le32(e + 4));
			break;
		case 1: /* IOAPIC */
			if (elen >= 12 && ai->nioapics < ACPI_MAX_IOAPICS) {
				ai->ioapics[ai->nioapics].id = e[2];
				ai->ioapics[ai->nioapics].pa = get_le32(e + 4);
				ai->ioapics[ai->nioapics].gsi_base = get_le32(e + 8);
				ai->nioapics++;
			}
			break;
		case 2: /* interrupt source override */
			if (elen >= 10 && ai->noverrides < ACPI_MAX_OVERRIDES) {
				struct acpi_irq_override *o =
					&ai->overrides[ai->noverrides++];

				o->isa_irq = e[3];
				o->gsi = get_le32(e + 4);
				o->flags = (uint16_t)(e[8] | e[9] << 8);
			}
			break;
		case 5: /* 64-bit local APIC address */
			if (elen >= 12)
				ai->lapic_pa = get_le64(e + 4);
			break;
		case 9: /* processor local x2APIC */
			if (elen >= 16)
				add_cpu(ai, get_le32(e + 4), get_le32(e + 8));
			break;
		default:
			break;
		}
		off += elen;
	}
	return true;
}

static void parse_hpet(struct acpi_info *ai, const uint8_t *t)
{
	if (get_le32(t + 4) >= SDT_HEADER + 20 && t[SDT_HEADER + 4] == 0) /* memory space */
		ai->hpet_pa = get_le64(t + SDT_HEADER + 8);
}

int acpi_parse(struct acpi_info *ai, const uint8_t *rsdp, acpi_phys_fn phys)
{
	const uint8_t *root;
	uint64_t root_pa;
	unsigned entry_size, n;
	bool have_madt = false;

	memset(ai, 0, sizeof(*ai));
	if (memcmp(rsdp, "RSD PTR ", 8) != 0 || !checksum_ok(rsdp, 20))
		return -EINVAL;
	memcpy(ai->oem, rsdp + 9, 6);
	if (rsdp[15] >= 2 && get_le64(rsdp + 24) && checksum_ok(rsdp, 36)) {
		root_pa = get_le64(rsdp + 24); /* XSDT */
		entry_size = 8;
	} else {
		root_pa = get_le32(rsdp + 16); /* RSDT */
		entry_size = 4;
	}
	root = table_at(root_pa, phys);
	if (!root)
		return -EINVAL;
	n = (get_le32(root + 4) - SDT_HEADER) / entry_size;
	if (n > MAX_TABLES)
		n = MAX_TABLES;
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *p = root + SDT_HEADER + i * entry_size;
		uint64_t pa = entry_size == 8 ? get_le64(p) : get_le32(p);
		const uint8_t *t = table_at(pa, phys);

		if (!t)
			continue;
		if (memcmp(t, "APIC", 4) == 0 && !have_madt) {
			have_madt = parse_madt(ai, t);
		} else if (memcmp(t, "HPET", 4) == 0) {
			parse_hpet(ai, t);
		}
	}
	return have_madt ? 0 : -ENOENT;
}

static uint64_t scan(uint64_t start, uint64_t len, acpi_phys_fn phys)
{
	for (uint64_t pa = start; pa + 20 <= start + len; pa += 16) {
		const uint8_t *p = phys(pa, 20);

		if (p && memcmp(p, "RSD PTR ", 8) == 0 && checksum_ok(p, 20))
			return pa;
	}
	return 0;
}

uint64_t acpi_find_rsdp(acpi_phys_fn phys)
{
	const uint8_t *bda = phys(0x40e, 2);
	uint64_t found = 0;

	if (bda) {
		uint64_t ebda = (uint64_t)(bda[0] | bda[1] << 8) << 4;

		if (ebda >= 0x80000 && ebda < 0xa0000)
			found = scan(ebda, 1024, phys);
	}
	return found ? found : scan(0xe0000, 0x20000, phys);
}
