/*
 * Tests of kernel/acpi.c: hand-built RSDP (ACPI 1.0 and 2.0), RSDT and
 * XSDT, MADT (local APIC, x2APIC, IOAPIC, interrupt source overrides,
 * 64-bit local APIC address) and HPET tables in fake physical memory
 * (fakemem.h: every read is an exact-size heap copy, so ASan catches a
 * read past what the parser asked for). Bad checksums, truncated tables
 * and MADT entries of length 0 or running past the end must give an error
 * or be skipped, never an out-of-bounds read. Also the RSDP search of the
 * BIOS areas.
 */
#include <stdlib.h>
#include <string.h>

#include <kernel/acpi.h>
#include <kernel/errno.h>

#include "fakemem.h"
#include "unit.h"

#define LOW_PA	  0x7fe0000ull	 /* tables below 4 GiB */
#define HIGH_PA	  0x1fff00000ull /* and above, reached through the XSDT */
#define AREA_SIZE 0x10000u

#define RSDT_PA	 (LOW_PA + 0x0)
#define MADT_PA	 (LOW_PA + 0x100)
#define HPET_PA	 (LOW_PA + 0x800)
#define FACP_PA	 (LOW_PA + 0x900)
#define XSDT_PA	 (HIGH_PA + 0x0)
#define XMADT_PA (HIGH_PA + 0x100)

static uint8_t *at(uint64_t pa, size_t len)
{
	uint8_t *p = fakemem_ptr(pa, len);

	if (!p)
		abort();
	return p;
}

static void wr32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void wr64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static void fix_checksum(uint8_t *p, size_t len, size_t at_byte)
{
	uint8_t sum = 0;

	p[at_byte] = 0;
	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + p[i]);
	p[at_byte] = (uint8_t)-sum;
}

/* Writes a table (header + body) at pa with a correct checksum. */
static void put_table(uint64_t pa, const char *sig, const void *body, uint32_t blen)
{
	uint8_t *t = at(pa, 36 + blen);

	memset(t, 0, 36);
	memcpy(t, sig, 4);
	wr32(t + 4, 36 + blen);
	t[8] = 1;
	memcpy(t + 10, "TESSER", 6);
	memcpy(t + 16, "UNITTEST", 8);
	if (blen)
		memcpy(t + 36, body, blen);
	fix_checksum(t, 36 + blen, 9);
}

static void put_rsdt(uint64_t pa, const uint32_t *entries, unsigned n)
{
	put_table(pa, "RSDT", entries, 4 * n);
}

static void put_xsdt(uint64_t pa, const uint64_t *entries, unsigned n)
{
	put_table(pa, "XSDT", entries, 8 * n);
}

/* An RSDP; revision 0 uses only the first 20 bytes. */
static void make_rsdp(uint8_t r[36], uint8_t rev, uint32_t rsdt, uint64_t xsdt)
{
	memset(r, 0, 36);
	memcpy(r, "RSD PTR ", 8);
	memcpy(r + 9, "TESSER", 6);
	r[15] = rev;
	wr32(r + 16, rsdt);
	if (rev >= 2) {
		wr32(r + 20, 36);
		wr64(r + 24, xsdt);
	}
	fix_checksum(r, 20, 8);
	if (rev >= 2) /* covers byte 8 too, so after it */
		fix_checksum(r, 36, 32);
}

/* MADT body: local APIC address, flags, then entries. */
struct madt {
	uint8_t b[4096];
	uint32_t len;
};

static void madt_init(struct madt *m, uint32_t lapic, uint32_t flags)
{
	memset(m, 0, sizeof(*m));
	wr32(m->b, lapic);
	wr32(m->b + 4, flags);
	m->len = 8;
}

static void madt_raw(struct madt *m, uint8_t type, uint8_t len, const uint8_t *rest,
		     size_t nrest)
{
	m->b[m->len] = type;
	m->b[m->len + 1] = len;
	memcpy(m->b + m->len + 2, rest, nrest);
	m->len += (uint32_t)(2 + nrest);
}

static void madt_lapic(struct madt *m, uint8_t uid, uint8_t id, uint32_t flags)
{
	uint8_t e[6] = {uid, id};

	wr32(e + 2, flags);
	madt_raw(m, 0, 8, e, 6);
}

static void madt_ioapic(struct madt *m, uint8_t id, uint32_t pa, uint32_t gsi)
{
	uint8_t e[10] = {id, 0};

	wr32(e + 2, pa);
	wr32(e + 6, gsi);
	madt_raw(m, 1, 12, e, 10);
}

static void madt_override(struct madt *m, uint8_t irq, uint32_t gsi, uint16_t flags)
{
	uint8_t e[8] = {0, irq};

	wr32(e + 2, gsi);
	memcpy(e + 6, &flags, 2);
	madt_raw(m, 2, 10, e, 8);
}

static void madt_lapic_addr(struct madt *m, uint64_t pa)
{
	uint8_t e[10] = {0};

	wr64(e + 2, pa);
	madt_raw(m, 5, 12, e, 10);
}

static void madt_x2apic(struct madt *m, uint32_t id, uint32_t flags)
{
	uint8_t e[14] = {0};

	wr32(e + 2, id);
	wr32(e + 6, flags);
	wr32(e + 10, id); /* uid */
	madt_raw(m, 9, 16, e, 14);
}

static void put_madt(uint64_t pa, const struct madt *m)
{
	put_table(pa, "APIC", m->b, m->len);
}

static void put_hpet(uint64_t pa, uint8_t space, uint64_t addr)
{
	uint8_t body[20] = {0x01, 0xa2, 0x86, 0x80, space, 64, 0, 0};

	wr64(body + 8, addr); /* the address of the generic address struct */
	put_table(pa, "HPET", body, sizeof(body));
}

/* A QEMU-like machine: 2 enabled CPUs and a disabled one, an IOAPIC, two
 * overrides, an HPET and a table the parser does not use. */
static void standard_madt(struct madt *m)
{
	madt_init(m, 0xfee00000, 1);
	madt_lapic(m, 0, 0, 1);
	madt_lapic(m, 1, 1, 1);
	madt_lapic(m, 2, 2, 0);
	madt_ioapic(m, 2, 0xfec00000, 0);
	madt_override(m, 0, 2, 0);
	madt_override(m, 9, 9, 0xd);
}

static void build_standard(uint8_t rsdp[36])
{
	struct madt m;
	uint32_t entries[] = {FACP_PA, MADT_PA, HPET_PA};

	fakemem_reset();
	fakemem_add(LOW_PA, AREA_SIZE);
	fakemem_add(HIGH_PA, AREA_SIZE);
	standard_madt(&m);
	put_madt(MADT_PA, &m);
	put_hpet(HPET_PA, 0, 0xfed00000);
	put_table(FACP_PA, "FACP", "\0\0\0\0\0\0\0\0", 8);
	put_rsdt(RSDT_PA, entries, 3);
	make_rsdp(rsdp, 0, RSDT_PA, 0);
}

/* Parses from a heap copy of exactly len RSDP bytes. */
static int parse(struct acpi_info *ai, const uint8_t *rsdp, size_t len)
{
	uint8_t *copy = malloc(len);
	int err;

	if (!copy)
		abort();
	memcpy(copy, rsdp, len);
	memset(ai, 0xee, sizeof(*ai)); /* stale contents must be cleared */
	err = acpi_parse(ai, copy, fakemem_read);
	free(copy);
	return err;
}

static void expect_sane(const struct acpi_info *ai, int err)
{
	EXPECT(err == 0 || err == -EINVAL || err == -ENOENT);
	EXPECT_LE(ai->ncpus, (unsigned)ACPI_MAX_CPUS);
	EXPECT_LE(ai->nioapics, (unsigned)ACPI_MAX_IOAPICS);
	EXPECT_LE(ai->noverrides, (unsigned)ACPI_MAX_OVERRIDES);
	EXPECT_EQ(ai->oem[6], '\0');
	if (err == -EINVAL)
		EXPECT(ai->ncpus == 0 && ai->nioapics == 0 && ai->hpet_pa == 0);
}

TEST(acpi_rsdt_madt_hpet)
{
	uint8_t rsdp[36];
	struct acpi_info ai;

	build_standard(rsdp);
	ASSERT_EQ(parse(&ai, rsdp, 20), 0); /* ACPI 1.0: 20 bytes */
	EXPECT_STREQ(ai.oem, "TESSER");
	EXPECT_EQ(ai.lapic_pa, 0xfee00000u);
	EXPECT(ai.legacy_pics);
	ASSERT_EQ(ai.ncpus, 2u); /* the disabled one is left out */
	EXPECT_EQ(ai.cpu_apic_ids[0], 0u);
	EXPECT_EQ(ai.cpu_apic_ids[1], 1u);
	ASSERT_EQ(ai.nioapics, 1u);
	EXPECT_EQ(ai.ioapics[0].id, 2);
	EXPECT_EQ(ai.ioapics[0].pa, 0xfec00000u);
	EXPECT_EQ(ai.ioapics[0].gsi_base, 0u);
	ASSERT_EQ(ai.noverrides, 2u);
	EXPECT_EQ(ai.overrides[0].isa_irq, 0);
	EXPECT_EQ(ai.overrides[0].gsi, 2u);
	EXPECT_EQ(ai.overrides[0].flags, 0);
	EXPECT_EQ(ai.overrides[1].isa_irq, 9);
	EXPECT_EQ(ai.overrides[1].gsi, 9u);
	EXPECT_EQ(ai.overrides[1].flags, 0xd);
	EXPECT_EQ(ai.hpet_pa, 0xfed00000u);
	expect_sane(&ai, 0);
	fakemem_reset();
}

TEST(acpi_xsdt_high_tables_x2apic)
{
	uint8_t rsdp[36];
	struct acpi_info ai;
	struct madt m;
	uint64_t xentries[] = {XMADT_PA, HPET_PA};

	build_standard(rsdp);
	madt_init(&m, 0xfee00000, 0);
	madt_x2apic(&m, 300, 1);
	madt_lapic(&m, 0, 7, 1);
	madt_x2apic(&m, 0x12345, 1);
	madt_x2apic(&m, 301, 0); /* disabled */
	madt_lapic_addr(&m, 0x1fee00000ull);
	put_madt(XMADT_PA, &m);
	put_xsdt(XSDT_PA, xentries, 2);
	make_rsdp(rsdp, 2, RSDT_PA, XSDT_PA);
	ASSERT_EQ(parse(&ai, rsdp, 36), 0);
	/* The XSDT wins over the RSDT when the RSDP is 2.0 and valid. */
	ASSERT_EQ(ai.ncpus, 3u);
	EXPECT_EQ(ai.cpu_apic_ids[0], 300u);
	EXPECT_EQ(ai.cpu_apic_ids[1], 7u);
	EXPECT_EQ(ai.cpu_apic_ids[2], 0x12345u);
	EXPECT_EQ(ai.lapic_pa, 0x1fee00000ull);
	EXPECT_FALSE(ai.legacy_pics);
	EXPECT_EQ(ai.nioapics, 0u);
	EXPECT_EQ(ai.hpet_pa, 0xfed00000u);
	fakemem_reset();
}

TEST(acpi_v2_falls_back_to_rsdt)
{
	uint8_t rsdp[36];
	struct acpi_info ai;
	uint64_t xentries[] = {XMADT_PA};
	struct madt m;

	build_standard(rsdp);
	madt_init(&m, 0xfee00000, 0);
	madt_x2apic(&m, 300, 1);
	put_madt(XMADT_PA, &m);
	put_xsdt(XSDT_PA, xentries, 1);

	/* A bad extended checksum: the XSDT is not trusted. */
	make_rsdp(rsdp, 2, RSDT_PA, XSDT_PA);
	rsdp[32] ^= 0x55;
	ASSERT_EQ(parse(&ai, rsdp, 36), 0);
	EXPECT_EQ(ai.ncpus, 2u);
	EXPECT_EQ(ai.nioapics, 1u);

	/* No XSDT address. */
	make_rsdp(rsdp, 2, RSDT_PA, 0);
	ASSERT_EQ(parse(&ai, rsdp, 36), 0);
	EXPECT_EQ(ai.ncpus, 2u);

	/* Revision 1 does not have the 2.0 fields at all. */
	make_rsdp(rsdp, 2, RSDT_PA, XSDT_PA);
	rsdp[15] = 1;
	fix_checksum(rsdp, 20, 8);
	ASSERT_EQ(parse(&ai, rsdp, 20), 0);
	EXPECT_EQ(ai.ncpus, 2u);
	fakemem_reset();
}

TEST(acpi_bad_rsdp)
{
	uint8_t rsdp[36];
	struct acpi_info ai;

	build_standard(rsdp);
	rsdp[3] = 'x';
	fix_checksum(rsdp, 20, 8);
	EXPECT_EQ(parse(&ai, rsdp, 20), -EINVAL);
	expect_sane(&ai, -EINVAL);
	build_standard(rsdp);
	rsdp[8] ^= 1;
	EXPECT_EQ(parse(&ai, rsdp, 20), -EINVAL);
	expect_sane(&ai, -EINVAL);
	/* The checksum covers bytes 0-19: a change in 16-19 is seen. */
	build_standard(rsdp);
	rsdp[19] ^= 0x80;
	EXPECT_EQ(parse(&ai, rsdp, 20), -EINVAL);
	fakemem_reset();
}

TEST(acpi_bad_root_table)
{
	uint8_t rsdp[36];
	struct acpi_info ai;
	uint8_t *rsdt;

	/* Checksum. */
	build_standard(rsdp);
	at(RSDT_PA, 36)[9] ^= 1;
	EXPECT_EQ(parse(&ai, rsdp, 20), -EINVAL);
	expect_sane(&ai, -EINVAL);
	/* Nowhere. */
	build_standard(rsdp);
	make_rsdp(rsdp, 0, 0x1000, 0);
	EXPECT_EQ(parse(&ai, rsdp, 20), -EINVAL);
	/* Header straddling the end of memory. */
	make_rsdp(rsdp, 0, LOW_PA + AREA_SIZE - 20, 0);
	EXPECT_EQ(parse(&ai, rsdp, 20), -EINVAL);
	/* Lengths: shorter than a header, huge, past the end of memory. */
	static const uint32_t lens[] = {0, 35, 0x100001, 0xffffffff, AREA_SIZE + 1};

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		build_standard(rsdp);
		rsdt = at(RSDT_PA, 36);
		wr32(rsdt + 4, lens[i]);
		fix_checksum(rsdt, 36, 9);
		EXPECT_EQ(parse(&ai, rsdp, 20), -EINVAL);
		expect_sane(&ai, -EINVAL);
	}
	fakemem_reset();
}

TEST(acpi_no_usable_madt)
{
	uint8_t rsdp[36];
	struct acpi_info ai;
	uint32_t entries[] = {HPET_PA, FACP_PA};

	/* A MADT with a bad checksum is skipped; HPET still counts. */
	build_standard(rsdp);
	at(MADT_PA, 44)[40] ^= 1;
	EXPECT_EQ(parse(&ai, rsdp, 20), -ENOENT);
	EXPECT_EQ(ai.ncpus, 0u);
	EXPECT_EQ(ai.hpet_pa, 0xfed00000u);
	expect_sane(&ai, -ENOENT);
	/* No MADT listed at all. */
	build_standard(rsdp);
	put_rsdt(RSDT_PA, entries, 2);
	EXPECT_EQ(parse(&ai, rsdp, 20), -ENOENT);
	/* An empty RSDT. */
	put_rsdt(RSDT_PA, NULL, 0);
	EXPECT_EQ(parse(&ai, rsdp, 20), -ENOENT);
	fakemem_reset();
}

TEST(acpi_unreadable_entries_skipped)
{
	uint8_t rsdp[36];
	struct acpi_info ai;
	uint8_t *t;
	uint32_t entries[] = {0, 0xfffffff0, LOW_PA + AREA_SIZE - 30, FACP_PA, MADT_PA};

	build_standard(rsdp);
	/* FACP claims to be longer than the memory it sits in. */
	t = at(FACP_PA, 36);
	wr32(t + 4, AREA_SIZE);
	fix_checksum(t, 36, 9);
	put_rsdt(RSDT_PA, entries, 5);
	ASSERT_EQ(parse(&ai, rsdp, 20), 0);
	EXPECT_EQ(ai.ncpus, 2u);
	expect_sane(&ai, 0);
	fakemem_reset();
}

TEST(acpi_rsdt_odd_length)
{
	uint8_t rsdp[36];
	struct acpi_info ai;
	uint8_t body[6];
	uint32_t madt = MADT_PA;

	/* Six bytes of entries: one whole 4-byte entry, the rest ignored. */
	build_standard(rsdp);
	memcpy(body, &madt, 4);
	body[4] = 0xff;
	body[5] = 0xff;
	put_table(RSDT_PA, "RSDT", body, 6);
	ASSERT_EQ(parse(&ai, rsdp, 20), 0);
	EXPECT_EQ(ai.ncpus, 2u);
	EXPECT_EQ(ai.hpet_pa, 0u);
	fakemem_reset();
}

TEST(acpi_madt_too_short_for_its_fields)
{
	uint8_t rsdp[36];
	struct acpi_info ai;

	/* A MADT needs 44 bytes (header, local APIC address, flags); shorter
	 * ones with valid checksums must not be read past their end. */
	for (uint32_t blen = 0; blen < 8; blen++) {
		build_standard(rsdp);
		put_table(MADT_PA, "APIC", "\0\0\xe0\xfe\x01\0\0", blen);
		int err = parse(&ai, rsdp, 20);

		EXPECT_EQ(err, -ENOENT);
		EXPECT_EQ(ai.ncpus, 0u);
		expect_sane(&ai, err);
	}
	fakemem_reset();
}

/* Parses the standard machine with m as its MADT. */
static int parse_with_madt(struct acpi_info *ai, const struct madt *m)
{
	uint8_t rsdp[36];

	build_standard(rsdp);
	put_madt(MADT_PA, m);
	return parse(ai, rsdp, 20);
}

TEST(acpi_madt_entry_length_zero)
{
	struct acpi_info ai;
	struct madt m;

	madt_init(&m, 0xfee00000, 0);
	madt_lapic(&m, 0, 4, 1);
	madt_raw(&m, 0, 0, (const uint8_t[]){1, 5, 1, 0, 0, 0}, 6);
	madt_lapic(&m, 2, 6, 1);
	ASSERT_EQ(parse_with_madt(&ai, &m), 0);
	ASSERT_EQ(ai.ncpus, 1u); /* parsing stops at the bad entry */
	EXPECT_EQ(ai.cpu_apic_ids[0], 4u);

	madt_init(&m, 0xfee00000, 0);
	madt_lapic(&m, 0, 4, 1);
	madt_raw(&m, 1, 1, (const uint8_t[]){0}, 1); /* length 1 */
	ASSERT_EQ(parse_with_madt(&ai, &m), 0);
	EXPECT_EQ(ai.ncpus, 1u);
	fakemem_reset();
}

TEST(acpi_madt_entry_past_end)
{
	struct acpi_info ai;
	struct madt m;

	for (uint8_t len = 2; len < 40; len++) {
		madt_init(&m, 0xfee00000, 0);
		madt_lapic(&m, 0, 4, 1);
		/* The last entry claims len bytes but the table ends after 8. */
		madt_raw(&m, len & 1 ? 9 : 1, len, (const uint8_t[6]){0, 9, 1}, 6);
		ASSERT_EQ(parse_with_madt(&ai, &m), 0);
		EXPECT_GE(ai.ncpus, 1u);
		EXPECT_EQ(ai.cpu_apic_ids[0], 4u);
		expect_sane(&ai, 0);
	}
	/* A lone type byte at the very end. */
	madt_init(&m, 0xfee00000, 0);
	madt_lapic(&m, 0, 4, 1);
	m.b[m.len++] = 0;
	ASSERT_EQ(parse_with_madt(&ai, &m), 0);
	EXPECT_EQ(ai.ncpus, 1u);
	fakemem_reset();
}

TEST(acpi_madt_entries_too_short_skipped)
{
	static const uint8_t pad[14] = {0, 9, 1, 0, 0, 0, 1, 0, 0, 0, 1};
	struct acpi_info ai;
	struct madt m;

	/* Each entry is one byte shorter than its type needs: skipped, and
	 * parsing goes on with the next. */
	madt_init(&m, 0xfee00000, 0);
	madt_raw(&m, 0, 7, pad, 5);    /* local APIC needs 8 */
	madt_raw(&m, 1, 11, pad, 9);   /* IOAPIC needs 12 */
	madt_raw(&m, 2, 9, pad, 7);    /* override needs 10 */
	madt_raw(&m, 5, 11, pad, 9);   /* 64-bit address needs 12 */
	madt_raw(&m, 9, 15, pad, 13);  /* x2APIC needs 16 */
	madt_raw(&m, 0x7f, 3, pad, 1); /* unknown type */
	madt_lapic(&m, 0, 42, 1);
	ASSERT_EQ(parse_with_madt(&ai, &m), 0);
	ASSERT_EQ(ai.ncpus, 1u);
	EXPECT_EQ(ai.cpu_apic_ids[0], 42u);
	EXPECT_EQ(ai.nioapics, 0u);
	EXPECT_EQ(ai.noverrides, 0u);
	EXPECT_EQ(ai.lapic_pa, 0xfee00000u);

	/* Longer than needed is fine. */
	madt_init(&m, 0xfee00000, 0);
	madt_raw(&m, 0, 10, (const uint8_t[8]){0, 8, 1, 0, 0, 0, 0xaa, 0xbb}, 8);
	ASSERT_EQ(parse_with_madt(&ai, &m), 0);
	ASSERT_EQ(ai.ncpus, 1u);
	EXPECT_EQ(ai.cpu_apic_ids[0], 8u);
	fakemem_reset();
}

TEST(acpi_madt_limits)
{
	struct acpi_info ai;
	struct madt m;

	madt_init(&m, 0xfee00000, 0);
	for (unsigned i = 0; i < ACPI_MAX_CPUS + 6; i++)
		madt_lapic(&m, (uint8_t)i, (uint8_t)i, 1);
	for (unsigned i = 0; i < ACPI_MAX_IOAPICS + 2; i++)
		madt_ioapic(&m, (uint8_t)i, 0xfec00000 + 0x1000 * i, 24 * i);
	for (unsigned i = 0; i < ACPI_MAX_OVERRIDES + 4; i++)
		madt_override(&m, (uint8_t)i, i, 0);
	ASSERT_EQ(parse_with_madt(&ai, &m), 0);
	EXPECT_EQ(ai.ncpus, (unsigned)ACPI_MAX_CPUS);
	EXPECT_EQ(ai.cpu_apic_ids[ACPI_MAX_CPUS - 1], ACPI_MAX_CPUS - 1u);
	EXPECT_EQ(ai.nioapics, (unsigned)ACPI_MAX_IOAPICS);
	EXPECT_EQ(ai.ioapics[ACPI_MAX_IOAPICS - 1].gsi_base,
		  24u * (ACPI_MAX_IOAPICS - 1));
	EXPECT_EQ(ai.noverrides, (unsigned)ACPI_MAX_OVERRIDES);
	fakemem_reset();
}

TEST(acpi_first_madt_wins)
{
	uint8_t rsdp[36];
	struct acpi_info ai;
	struct madt m;
	uint32_t entries[] = {MADT_PA, FACP_PA};

	build_standard(rsdp);
	madt_init(&m, 0xfee00000, 0);
	madt_lapic(&m, 0, 77, 1);
	put_madt(FACP_PA, &m); /* a second MADT */
	put_rsdt(RSDT_PA, entries, 2);
	ASSERT_EQ(parse(&ai, rsdp, 20), 0);
	EXPECT_EQ(ai.ncpus, 2u);
	EXPECT_EQ(ai.cpu_apic_ids[1], 1u);
	fakemem_reset();
}

TEST(acpi_hpet_variants)
{
	uint8_t rsdp[36];
	struct acpi_info ai;

	/* In I/O space: not usable as memory. */
	build_standard(rsdp);
	put_hpet(HPET_PA, 1, 0xfed00000);
	ASSERT_EQ(parse(&ai, rsdp, 20), 0);
	EXPECT_EQ(ai.hpet_pa, 0u);
	/* Too short to hold the address. */
	for (uint32_t blen = 0; blen < 20; blen++) {
		static const uint8_t body[20] = {1, 0xa2, 0x86, 0x80, 0,    64,
						 0, 0,	  0,	0,    0xd0, 0xfe};

		build_standard(rsdp);
		put_table(HPET_PA, "HPET", body, blen);
		ASSERT_EQ(parse(&ai, rsdp, 20), 0);
		EXPECT_EQ(ai.hpet_pa, 0u);
	}
	fakemem_reset();
}

/* BIOS areas for acpi_find_rsdp. */
static void bios_areas(uint16_t ebda_segment)
{
	fakemem_reset();
	wr32(fakemem_add(0, 0x1000) + 0x40e, ebda_segment);
	fakemem_add(0x9f000, 0x1000);
	fakemem_add(0xe0000, 0x20000);
}

static void plant_rsdp(uint64_t pa)
{
	uint8_t r[36];

	make_rsdp(r, 0, RSDT_PA, 0);
	memcpy(at(pa, 20), r, 20);
}

TEST(acpi_find_rsdp)
{
	/* In the first KiB of the EBDA. */
	bios_areas(0x9fc0);
	plant_rsdp(0x9fc30);
	plant_rsdp(0xf0000);
	EXPECT_EQ(acpi_find_rsdp(fakemem_read), 0x9fc30u);
	/* Past the EBDA's first KiB: only the BIOS area is found. */
	bios_areas(0x9f00);
	plant_rsdp(0x9f800);
	EXPECT_EQ(acpi_find_rsdp(fakemem_read), 0u);
	plant_rsdp(0xf5a30);
	EXPECT_EQ(acpi_find_rsdp(fakemem_read), 0xf5a30u);
	/* An EBDA pointer outside 0x80000-0x9ffff is not followed. */
	bios_areas(0x100);
	plant_rsdp(0x1000 - 64);
	EXPECT_EQ(acpi_find_rsdp(fakemem_read), 0u);
	/* Not 16-byte aligned: not an RSDP. */
	bios_areas(0);
	plant_rsdp(0xf5a38);
	EXPECT_EQ(acpi_find_rsdp(fakemem_read), 0u);
	/* A bad checksum is passed over. */
	plant_rsdp(0xe0010);
	at(0xe0010, 20)[8] ^= 1;
	plant_rsdp(0xfffe0); /* the last place that fits */
	EXPECT_EQ(acpi_find_rsdp(fakemem_read), 0xfffe0u);
	/* No BDA readable at all. */
	fakemem_reset();
	fakemem_add(0xe0000, 0x20000);
	plant_rsdp(0xe0000);
	EXPECT_EQ(acpi_find_rsdp(fakemem_read), 0xe0000u);
	/* Nothing readable. */
	fakemem_reset();
	EXPECT_EQ(acpi_find_rsdp(fakemem_read), 0u);
}

/* Flips bytes of the tables, often fixing checksums afterwards so the
 * garbage reaches the MADT and HPET parsers. */
TEST(acpi_random_corruption)
{
	struct unit_rng rng = {0xac91};
	static const uint64_t tables[] = {RSDT_PA, MADT_PA, HPET_PA, FACP_PA};
	uint8_t rsdp[36];
	struct acpi_info ai;

	for (int i = 0; i < 3000 && !unit_failed(); i++) {
		unsigned flips = 1 + (unsigned)unit_rand_below(&rng, 6);
		int err;

		build_standard(rsdp);
		for (unsigned f = 0; f < flips; f++) {
			uint64_t t = tables[unit_rand_below(&rng, 4)];
			uint8_t *p = at(t, 0x100);

			p[unit_rand_below(&rng, 0x100)] = (uint8_t)unit_rand(&rng);
		}
		if (unit_rand(&rng) & 1) {
			for (size_t k = 0; k < 4; k++) {
				uint8_t *p = at(tables[k], 36);
				uint32_t len;

				memcpy(&len, p + 4, 4);
				if (len >= 36 && fakemem_ptr(tables[k], len))
					fix_checksum(p, len, 9);
			}
		}
		err = parse(&ai, rsdp, 20);
		expect_sane(&ai, err);
	}
	fakemem_reset();
}
