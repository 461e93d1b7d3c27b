/*
 * ACPI tables as a guest reads them: from the RSDP in the BIOS scan area
 * through the XSDT to the FADT, MADT and DSDT, whose AML is decoded by the
 * test's own decoder (tests/unit/aml_decode.c), not by emu/aml.c.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "emu/acpi.h"
#include "emu/aml.h"
#include "emu/guest_mem.h"
#include "emu/layout.h"
#include "emu/log.h"
#include "tests/unit/aml_decode.h"

#define RAM_SIZE (2u << 20)

struct fixture {
	void *ram;
	struct guest_mem gm;
	char last_error[256];
	int nr_errors;
};

static struct fixture *current;

static void capture_log(enum log_level level, const char *msg)
{
	if (level == LOG_ERROR && current) {
		snprintf(current->last_error, sizeof(current->last_error), "%s", msg);
		current->nr_errors++;
	}
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->ram = calloc(1, RAM_SIZE);
	assert_non_null(f->ram);
	gm_init_buf(&f->gm, f->ram, RAM_SIZE);
	current = f;
	log_sink = capture_log;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	log_sink = NULL;
	current = NULL;
	free(f->ram);
	free(f);
	return 0;
}

static uint64_t le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static uint8_t sum8(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

static struct acpi_config config(int ncpus, int nr_mmio)
{
	struct acpi_config c = { .ncpus = ncpus, .nr_mmio = nr_mmio };

	for (int i = 0; i < nr_mmio; i++) {
		c.mmio[i].base = LAYOUT_MMIO_START + (uint64_t)i * LAYOUT_MMIO_WINDOW;
		c.mmio[i].size = LAYOUT_MMIO_WINDOW;
		c.mmio[i].gsi = LAYOUT_CONSOLE_GSI + (uint32_t)i;
	}
	return c;
}

/* A table the guest would accept: in the ACPI area, its signature, its length, checksum 0. */
static const uint8_t *table_at(struct fixture *f, uint64_t gpa, const char *sig)
{
	const uint8_t *t = gm_ptr(&f->gm, gpa, 36);
	uint32_t len;

	assert_non_null(t);
	assert_true(gpa >= LAYOUT_ACPI_START);
	assert_memory_equal(t, sig, 4);
	len = (uint32_t)le(t + 4, 4);
	assert_true(len >= 36);
	assert_true(gpa + len <= LAYOUT_ACPI_END);
	assert_int_equal(sum8(t, len), 0);
	assert_memory_equal(t + 10, "VMDBG ", 6);
	assert_memory_equal(t + 16, "VMDBGVM ", 8);
	return t;
}

static const uint8_t *build(struct fixture *f, const struct acpi_config *c)
{
	uint64_t rsdp = 0;

	assert_int_equal(acpi_build(&f->gm, c, &rsdp), 0);
	return gm_ptr(&f->gm, rsdp, 36);
}

static const uint8_t *find_table(struct fixture *f, const struct acpi_config *c, const char *sig)
{
	const uint8_t *rsdp = build(f, c), *xsdt;
	uint32_t n;

	xsdt = table_at(f, le(rsdp + 24, 8), "XSDT");
	n = ((uint32_t)le(xsdt + 4, 4) - 36) / 8;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *t = gm_ptr(&f->gm, le(xsdt + 36 + 8 * i, 8), 4);

		assert_non_null(t);
		if (!memcmp(t, sig, 4))
			return table_at(f, le(xsdt + 36 + 8 * i, 8), sig);
	}
	fail_msg("no %s in the XSDT", sig);
	return NULL;
}

static const uint8_t *find_dsdt(struct fixture *f, const struct acpi_config *c)
{
	const uint8_t *fadt = find_table(f, c, "FACP");

	return table_at(f, le(fadt + 140, 8), "DSDT");
}

static void decode_dsdt(struct fixture *f, const struct acpi_config *c, struct amld_doc *doc)
{
	const uint8_t *dsdt = find_dsdt(f, c);
	uint32_t len = (uint32_t)le(dsdt + 4, 4);

	if (amld_parse(doc, dsdt + 36, len - 36))
		fail_msg("DSDT does not decode: %s", doc->error);
}

/* ---- RSDP and XSDT ------------------------------------------------------ */

static void test_rsdp(void **state)
{
	struct fixture *f = *state;
	struct acpi_config c = config(1, 1);
	uint64_t gpa = 0;
	const uint8_t *r;

	assert_int_equal(acpi_build(&f->gm, &c, &gpa), 0);
	/* Where Linux's scan of 0xE0000-0xFFFFF looks: 16-byte steps. */
	assert_true(gpa >= 0xE0000 && gpa + 36 <= 0x100000);
	assert_int_equal(gpa % 16, 0);
	r = gm_ptr(&f->gm, gpa, 36);
	assert_memory_equal(r, "RSD PTR ", 8);
	assert_int_equal(sum8(r, 20), 0);
	assert_int_equal(r[15], 2);
	assert_int_equal(le(r + 20, 4), 36);
	assert_int_equal(sum8(r, 36), 0);
	assert_memory_equal(r + 9, "VMDBG ", 6);
	table_at(f, le(r + 24, 8), "XSDT");
}

static void test_xsdt_lists_fadt_and_madt(void **state)
{
	struct fixture *f = *state;
	struct acpi_config c = config(2, 1);
	const uint8_t *r = build(f, &c), *x;
	char sigs[2][5] = { { 0 } };

	x = table_at(f, le(r + 24, 8), "XSDT");
	assert_int_equal(le(x + 4, 4), 36 + 2 * 8);
	for (int i = 0; i < 2; i++) {
		const uint8_t *t = gm_ptr(&f->gm, le(x + 36 + 8 * i, 8), 4);

		assert_non_null(t);
		memcpy(sigs[i], t, 4);
		table_at(f, le(x + 36 + 8 * i, 8), sigs[i]);
	}
	assert_true((!strcmp(sigs[0], "FACP") && !strcmp(sigs[1], "APIC")) ||
		    (!strcmp(sigs[0], "APIC") && !strcmp(sigs[1], "FACP")));
}

/* ---- FADT ------------------------------------------------------------------ */

static void assert_gas_io8(const uint8_t *g, uint64_t port)
{
	assert_int_equal(g[0], 1); /* SystemIO */
	assert_int_equal(g[1], 8);
	assert_int_equal(g[2], 0);
	assert_int_equal(g[3], 1); /* byte access */
	assert_int_equal(le(g + 4, 8), port);
}

static void test_fadt(void **state)
{
	struct fixture *f = *state;
	struct acpi_config c = config(1, 1);
	const uint8_t *fadt = find_table(f, &c, "FACP");
	uint32_t flags = (uint32_t)le(fadt + 112, 4);

	assert_int_equal(le(fadt + 4, 4), 276);
	assert_true(fadt[8] >= 5);
	assert_true(flags & (1u << 20)); /* HW_REDUCED_ACPI */
	assert_true(flags & (1u << 10)); /* RESET_REG_SUP */
	assert_gas_io8(fadt + 116, LAYOUT_PM_RESET);
	assert_int_equal(fadt[128], LAYOUT_PM_RESET_VALUE);
	assert_gas_io8(fadt + 244, LAYOUT_PM_SLEEP_CONTROL);
	assert_gas_io8(fadt + 256, LAYOUT_PM_SLEEP_STATUS);
	/* The DSDT: X_DSDT, and a 32-bit copy that agrees (else ACPICA warns). */
	table_at(f, le(fadt + 140, 8), "DSDT");
	assert_int_equal(le(fadt + 40, 4), le(fadt + 140, 8));
	assert_int_equal(fadt[8 + 0], 6);
	/* Hardware-reduced: no FACS, no SCI, no PM1 blocks. */
	assert_int_equal(le(fadt + 36, 4), 0);
	assert_int_equal(le(fadt + 132, 8), 0);
	assert_int_equal(le(fadt + 46, 2), 0);
	assert_int_equal(le(fadt + 56, 4), 0);
	assert_int_equal(le(fadt + 64, 4), 0);
	assert_int_equal(le(fadt + 148 + 4, 8), 0);
	assert_int_equal(le(fadt + 172 + 4, 8), 0);
	/* No 8042 (so Linux does not probe one). */
	assert_int_equal(le(fadt + 109, 2) & (1u << 1), 0);
}

/* ---- MADT ------------------------------------------------------------------ */

static void check_madt(struct fixture *f, int ncpus)
{
	struct acpi_config c = config(ncpus, 1);
	const uint8_t *m = find_table(f, &c, "APIC"), *e, *end;
	int lapics = 0, ioapics = 0, isos = 0, nmis = 0;
	uint8_t ioapic_id = 0;

	end = m + le(m + 4, 4);
	assert_int_equal(le(m + 36, 4), LAYOUT_LAPIC);
	assert_int_equal(le(m + 40, 4) & 1, 1); /* PCAT_COMPAT */
	for (e = m + 44; e < end; e += e[1]) {
		assert_true(e[1] >= 2 && e + e[1] <= end);
		switch (e[0]) {
		case 0:
			assert_int_equal(e[1], 8);
			assert_int_equal(e[2], lapics); /* processor UID */
			assert_int_equal(e[3], lapics); /* APIC id */
			assert_int_equal(le(e + 4, 4) & 1, 1);
			lapics++;
			break;
		case 1:
			assert_int_equal(e[1], 12);
			ioapic_id = e[2];
			assert_int_equal(le(e + 4, 4), LAYOUT_IOAPIC);
			assert_int_equal(le(e + 8, 4), 0);
			ioapics++;
			break;
		case 2:
			assert_int_equal(e[1], 10);
			assert_int_equal(e[2], 0); /* ISA */
			assert_int_equal(e[3], 0); /* IRQ0 */
			assert_int_equal(le(e + 4, 4), 2);
			/* Edge, active high: explicitly or by conforming to ISA. */
			assert_true(le(e + 8, 2) == 0 || le(e + 8, 2) == 5);
			isos++;
			break;
		case 4:
			assert_int_equal(e[1], 6);
			assert_int_equal(e[2], 0xFF);
			assert_int_equal(e[5], 1); /* LINT1 */
			nmis++;
			break;
		default:
			fail_msg("unexpected MADT entry type %u", e[0]);
		}
	}
	assert_ptr_equal(e, end);
	assert_int_equal(lapics, ncpus);
	assert_int_equal(ioapics, 1);
	assert_int_equal(isos, 1);
	assert_int_equal(nmis, 1);
	assert_true(ioapic_id >= ncpus); /* no clash with a Local APIC id */
}

static void test_madt_1cpu(void **state)
{
	check_madt(*state, 1);
}

static void test_madt_2cpus(void **state)
{
	check_madt(*state, 2);
}

static void test_madt_8cpus(void **state)
{
	check_madt(*state, 8);
}

static void test_madt_254cpus_and_8_windows_fit(void **state)
{
	struct fixture *f = *state;
	struct acpi_config c = config(254, ACPI_MAX_MMIO_DEVS);
	struct amld_doc doc;

	check_madt(f, 254);
	decode_dsdt(f, &c, &doc);
	assert_int_equal(amld_count(&doc, AMLD_DEVICE), 2 + ACPI_MAX_MMIO_DEVS);
}

/* ---- DSDT ------------------------------------------------------------------ */

static void test_dsdt_s5(void **state)
{
	struct fixture *f = *state;
	struct acpi_config c = config(1, 1);
	const struct amld_value *s5;
	struct amld_doc doc;
	const uint8_t *dsdt = find_dsdt(f, &c);

	assert_true(dsdt[8] >= 2); /* 64-bit integers */
	decode_dsdt(f, &c, &doc);
	s5 = amld_value(&doc, "\\_S5_");
	assert_non_null(s5);
	assert_int_equal(s5->type, AMLD_PACKAGE);
	assert_int_equal(s5->num_elements, 4);
	assert_int_equal(s5->nr_elems, 4);
	for (int i = 0; i < 4; i++) {
		const struct amld_value *e = amld_elem(&doc, s5, i);

		assert_non_null(e);
		assert_int_equal(e->type, AMLD_INTEGER);
		assert_int_equal(e->integer, i == 0 ? LAYOUT_PM_S5_TYP : 0);
	}
}

static void check_virtio_dev(struct amld_doc *doc, int n, const struct acpi_mmio_dev *m)
{
	char path[64], err[128] = "";
	const struct amld_value *v;
	struct amld_res res[4];
	int nr;

	snprintf(path, sizeof(path), "\\_SB_.VR%02X", n);
	assert_non_null(amld_find(doc, path));
	assert_int_equal(amld_find(doc, path)->kind, AMLD_DEVICE);

	snprintf(path, sizeof(path), "\\_SB_.VR%02X._HID", n);
	v = amld_value(doc, path);
	assert_non_null(v);
	assert_int_equal(v->type, AMLD_STRING);
	assert_string_equal(v->string, "LNRO0005");

	snprintf(path, sizeof(path), "\\_SB_.VR%02X._UID", n);
	v = amld_value(doc, path);
	assert_non_null(v);
	assert_int_equal(v->type, AMLD_INTEGER);
	assert_int_equal(v->integer, n);

	snprintf(path, sizeof(path), "\\_SB_.VR%02X._CCA", n);
	v = amld_value(doc, path);
	assert_non_null(v);
	assert_int_equal(v->type, AMLD_INTEGER);
	assert_int_equal(v->integer, 1);

	snprintf(path, sizeof(path), "\\_SB_.VR%02X._CRS", n);
	v = amld_value(doc, path);
	assert_non_null(v);
	assert_int_equal(v->type, AMLD_BUFFER);
	assert_int_equal(v->buf_size, v->buf_len);
	nr = amld_resources(v->buf, v->buf_len, res, 4, err, sizeof(err));
	if (nr < 0)
		fail_msg("%s: %s", path, err);
	assert_int_equal(nr, 2);
	assert_int_equal(res[0].type, AMLD_RES_MEM32_FIXED);
	assert_true(res[0].writable);
	assert_int_equal(res[0].base, m->base);
	assert_int_equal(res[0].len, m->size);
	assert_int_equal(res[1].type, AMLD_RES_EXT_IRQ);
	assert_int_equal(res[1].nr_gsis, 1);
	assert_int_equal(res[1].gsi, m->gsi);
	/* Consumer, edge, active high, exclusive. */
	assert_int_equal(res[1].flags & 0x0F, 0x03);
}

static void test_dsdt_one_virtio_window(void **state)
{
	struct fixture *f = *state;
	struct acpi_config c = config(1, 1);
	struct amld_doc doc;

	assert_int_equal(c.mmio[0].base, 0xd0000000);
	assert_int_equal(c.mmio[0].size, 0x1000);
	decode_dsdt(f, &c, &doc);
	check_virtio_dev(&doc, 0, &c.mmio[0]);
	assert_null(amld_find(&doc, "\\_SB_.VR01"));
}

static void test_dsdt_two_virtio_windows(void **state)
{
	struct fixture *f = *state;
	struct acpi_config c = config(2, 2);
	struct amld_doc doc;

	c.mmio[1].base = 0xd0004000;
	c.mmio[1].gsi = 11;
	decode_dsdt(f, &c, &doc);
	check_virtio_dev(&doc, 0, &c.mmio[0]);
	check_virtio_dev(&doc, 1, &c.mmio[1]);
	assert_null(amld_find(&doc, "\\_SB_.VR02"));
}

static void test_dsdt_no_virtio_window(void **state)
{
	struct fixture *f = *state;
	struct acpi_config c = config(1, 0);
	struct amld_doc doc;

	decode_dsdt(f, &c, &doc);
	assert_null(amld_find(&doc, "\\_SB_.VR00"));
	assert_non_null(amld_value(&doc, "\\_S5_"));
}

/* The EISA id compression, done the long way round. */
static uint32_t eisa(const char *id)
{
	unsigned v = ((unsigned)(id[0] - '@') << 10) | ((unsigned)(id[1] - '@') << 5) |
		     (unsigned)(id[2] - '@');
	unsigned prod = (unsigned)strtoul(id + 3, NULL, 16);
	uint8_t b[4] = { (uint8_t)(v >> 8), (uint8_t)v, (uint8_t)(prod >> 8), (uint8_t)prod };

	return (uint32_t)le(b, 4);
}

static void test_dsdt_serial_ports(void **state)
{
	static const struct {
		const char *name;
		uint16_t port;
		unsigned irq;
	} com[] = { { "COM1", LAYOUT_COM1, LAYOUT_COM1_IRQ },
		    { "COM2", LAYOUT_COM2, LAYOUT_COM2_IRQ } };
	struct fixture *f = *state;
	struct acpi_config c = config(1, 1);
	struct amld_doc doc;

	decode_dsdt(f, &c, &doc);
	for (int i = 0; i < 2; i++) {
		char path[64], err[128] = "";
		const struct amld_value *v;
		struct amld_res res[4];
		int nr;

		snprintf(path, sizeof(path), "\\_SB_.%s._HID", com[i].name);
		v = amld_value(&doc, path);
		assert_non_null(v);
		assert_int_equal(v->type, AMLD_INTEGER);
		assert_int_equal(v->integer, eisa("PNP0501"));
		snprintf(path, sizeof(path), "\\_SB_.%s._CRS", com[i].name);
		v = amld_value(&doc, path);
		assert_non_null(v);
		assert_int_equal(v->type, AMLD_BUFFER);
		nr = amld_resources(v->buf, v->buf_len, res, 4, err, sizeof(err));
		if (nr < 0)
			fail_msg("%s: %s", path, err);
		assert_int_equal(nr, 2);
		assert_int_equal(res[0].type, AMLD_RES_IO);
		assert_true(res[0].decode16);
		assert_int_equal(res[0].io_min, com[i].port);
		assert_int_equal(res[0].io_max, com[i].port);
		assert_int_equal(res[0].io_len, 8);
		assert_int_equal(res[1].type, AMLD_RES_IRQ);
		assert_int_equal(res[1].irq_mask, 1u << com[i].irq);
	}
	/* Distinct _UIDs for the two instances of one _HID. */
	assert_int_not_equal(amld_value(&doc, "\\_SB_.COM1._UID")->integer,
			     amld_value(&doc, "\\_SB_.COM2._UID")->integer);
}

/* Eight windows push \_SB past 63 bytes: its PkgLength needs two bytes. */
static void test_dsdt_multibyte_pkglength(void **state)
{
	struct fixture *f = *state;
	struct acpi_config c = config(4, ACPI_MAX_MMIO_DEVS);
	const uint8_t *dsdt, *p, *end;
	struct amld_doc doc;
	uint32_t len;
	unsigned n;

	decode_dsdt(f, &c, &doc);
	for (int i = 0; i < ACPI_MAX_MMIO_DEVS; i++)
		check_virtio_dev(&doc, i, &c.mmio[i]);

	dsdt = find_dsdt(f, &c);
	end = dsdt + le(dsdt + 4, 4);
	for (p = dsdt + 36; p < end && *p != AML_SCOPE_OP; p++)
		;
	assert_true(p < end);
	assert_int_equal(amld_pkglength(p + 1, (size_t)(end - p - 1), &len, &n), 0);
	assert_int_equal(n, 2);
	assert_ptr_equal(p + 1 + len, end); /* \_SB is the last object */
}

static void test_rebuild_replaces_old_tables(void **state)
{
	struct fixture *f = *state;
	struct acpi_config two = config(2, 2), one = config(1, 1);
	struct amld_doc doc;

	build(f, &two);
	decode_dsdt(f, &one, &doc);
	assert_null(amld_find(&doc, "\\_SB_.VR01"));
	check_virtio_dev(&doc, 0, &one.mmio[0]);
}

/* ---- bad configurations ------------------------------------------------------ */

static void assert_rejected(struct fixture *f, const struct acpi_config *c, int err,
			    const char *what)
{
	uint8_t *area = gm_ptr(&f->gm, LAYOUT_ACPI_START, LAYOUT_ACPI_END - LAYOUT_ACPI_START);
	uint64_t rsdp = 0x1234;

	memset(area, 0xAA, LAYOUT_ACPI_END - LAYOUT_ACPI_START);
	f->nr_errors = 0;
	assert_int_equal(acpi_build(&f->gm, c, &rsdp), err);
	assert_int_equal(rsdp, 0x1234);
	for (uint64_t i = 0; i < LAYOUT_ACPI_END - LAYOUT_ACPI_START; i++)
		assert_int_equal(area[i], 0xAA);
	assert_int_equal(f->nr_errors, 1);
	assert_null(strchr(f->last_error, '\n'));
	if (!strstr(f->last_error, what))
		fail_msg("error \"%s\" does not name \"%s\"", f->last_error, what);
}

static void test_bad_cpu_counts(void **state)
{
	struct fixture *f = *state;
	static const int bad[] = { 0, -1, 255, 256, 4096 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct acpi_config c = config(bad[i], 1);

		assert_rejected(f, &c, -EINVAL, "vCPUs");
	}
}

static void test_bad_windows(void **state)
{
	struct fixture *f = *state;
	struct acpi_config c = config(1, 1);

	c.nr_mmio = ACPI_MAX_MMIO_DEVS + 1;
	assert_rejected(f, &c, -EINVAL, "windows");
	c.nr_mmio = -1;
	assert_rejected(f, &c, -EINVAL, "windows");

	c = config(1, 1);
	c.mmio[0].size = 0;
	assert_rejected(f, &c, -EINVAL, "window 0");
	c = config(1, 2);
	c.mmio[1].base = 0x100000000ULL;
	assert_rejected(f, &c, -EINVAL, "window 1");
	c.mmio[1].base = 0xFFFFF000ULL;
	c.mmio[1].size = 0x2000;
	assert_rejected(f, &c, -EINVAL, "window 1");
	/* The last page below 4 GiB is fine. */
	c.mmio[1].size = 0x1000;
	build(f, &c);
}

static void test_enospc(void **state)
{
	struct fixture *f = *state;
	struct acpi_config c = config(254, ACPI_MAX_MMIO_DEVS);
	uint64_t rsdp = 0;
	uint8_t *area = gm_ptr(&f->gm, 0x10000, 0x5000);

	memset(area, 0xAA, 0x5000);
	f->nr_errors = 0;
	assert_int_equal(acpi_build_range(&f->gm, &c, 0x10000, 0x10800, &rsdp), -ENOSPC);
	assert_int_equal(f->nr_errors, 1);
	assert_non_null(strstr(f->last_error, "do not fit"));
	for (int i = 0; i < 0x5000; i++)
		assert_int_equal(area[i], 0xAA);
	/* The same config fits in a larger region, and stays inside it. */
	assert_int_equal(acpi_build_range(&f->gm, &c, 0x10000, 0x14000, &rsdp), 0);
	assert_int_equal(rsdp, 0x10000);
	for (int i = 0x4000; i < 0x5000; i++)
		assert_int_equal(area[i], 0xAA);
}

static void test_area_not_ram(void **state)
{
	struct acpi_config c = config(1, 1);
	struct guest_mem small;
	uint64_t rsdp = 0;
	void *buf = calloc(1, 512 * 1024);

	(void)state;
	assert_non_null(buf);
	gm_init_buf(&small, buf, 512 * 1024);
	assert_int_equal(acpi_build(&small, &c, &rsdp), -EFAULT);
	assert_int_equal(acpi_build(NULL, &c, &rsdp), -EINVAL);
	free(buf);
}

/* ---- the AML emitter's encodings, read back by the decoder --------------- */

static void test_pkglength_encodings(void **state)
{
	static const struct {
		uint32_t len;
		unsigned bytes;
	} cases[] = {
		{ 0, 1 },      { 0x3F, 1 },    { 0x40, 2 },	{ 0x41, 2 },	  { 0xFFF, 2 },
		{ 0x1000, 3 }, { 0xFFFFF, 3 }, { 0x100000, 4 }, { 0x1234567, 4 }, { 0xFFFFFFF, 4 },
	};
	uint8_t enc[4];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t v;
		unsigned n;

		memset(enc, 0xEE, sizeof(enc));
		assert_int_equal(aml_pkglength_encode(enc, cases[i].len), cases[i].bytes);
		if (cases[i].bytes > 1)
			assert_int_equal(enc[0] & 0x30, 0);
		assert_int_equal(amld_pkglength(enc, cases[i].bytes, &v, &n), 0);
		assert_int_equal(n, cases[i].bytes);
		assert_int_equal(v, cases[i].len);
	}
	assert_int_equal(aml_pkglength_encode(enc, 0x10000000), 0);
	/* 0x40 by hand (ACPI spec): lead 0x40 | low nibble, then the rest. */
	aml_pkglength_encode(enc, 0x40);
	assert_int_equal(enc[0], 0x40);
	assert_int_equal(enc[1], 0x04);
}

/* Buffers whose PkgLength sits on each side of every size boundary. */
static void test_buffer_sizes(void **state)
{
	static const size_t sizes[] = { 0,    1,    58,	  59,	60,   61,    62,      63,     64,
					4085, 4090, 4093, 4094, 5000, 70000, 1048560, 1048580 };

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint8_t *data = malloc(sizes[i] + 1);
		struct amld_doc *doc = malloc(sizeof(*doc));
		const struct amld_value *v;
		struct aml a;

		assert_non_null(data);
		assert_non_null(doc);
		for (size_t j = 0; j < sizes[i]; j++)
			data[j] = (uint8_t)(j * 7 + 3);
		aml_init(&a);
		aml_name(&a, "BUF");
		aml_buffer(&a, data, sizes[i]);
		assert_int_equal(a.err, 0);
		if (amld_parse(doc, a.data, a.len))
			fail_msg("buffer of %zu: %s", sizes[i], doc->error);
		v = amld_value(doc, "\\BUF_");
		assert_non_null(v);
		assert_int_equal(v->type, AMLD_BUFFER);
		assert_int_equal(v->buf_size, sizes[i]);
		assert_int_equal(v->buf_len, sizes[i]);
		if (sizes[i])
			assert_memory_equal(v->buf, data, sizes[i]);
		aml_free(&a);
		free(data);
		free(doc);
	}
}

static void test_integers_and_names(void **state)
{
	static const uint64_t ints[] = { 0,	 1,	  2,	      0xFF,	      0x100,
					 0xFFFF, 0x10000, 0xFFFFFFFF, 0x100000000ULL, ~0ULL };
	static const uint8_t expect_len[] = { 1, 1, 2, 2, 3, 3, 5, 5, 9, 9 };
	struct amld_doc doc;
	struct aml a;
	size_t scope, dev;

	(void)state;
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		aml_init(&a);
		aml_integer(&a, ints[i]);
		assert_int_equal(a.len, expect_len[i]);
		aml_free(&a);
	}

	aml_init(&a);
	scope = aml_scope_begin(&a, "\\_SB");
	dev = aml_device_begin(&a, "DEV0");
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		char name[5];

		snprintf(name, sizeof(name), "I%zu", i);
		aml_name(&a, name);
		aml_integer(&a, ints[i]);
	}
	aml_name(&a, "STR");
	aml_string(&a, "hello");
	aml_end(&a, dev);
	aml_end(&a, scope);
	aml_name(&a, "\\_SB.DEV0.ABS");
	aml_integer(&a, 42);
	assert_int_equal(a.err, 0);
	if (amld_parse(&doc, a.data, a.len))
		fail_msg("%s", doc.error);
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		char path[32];

		snprintf(path, sizeof(path), "\\_SB_.DEV0.I%zu__", i);
		assert_non_null(amld_value(&doc, path));
		assert_int_equal(amld_value(&doc, path)->integer, ints[i]);
	}
	assert_string_equal(amld_value(&doc, "\\_SB_.DEV0.STR_")->string, "hello");
	assert_int_equal(amld_value(&doc, "\\_SB_.DEV0.ABS_")->integer, 42);
	aml_free(&a);

	/* Names the encoder must refuse. */
	static const char *const bad[] = { "1ABC", "ABCDE", "a", "A..B", "A.", "A-B" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		aml_init(&a);
		aml_name(&a, bad[i]);
		assert_int_equal(a.err, -EINVAL);
		aml_free(&a);
	}
}

static void test_resource_checksum(void **state)
{
	struct amld_res res[2];
	char err[128];
	struct aml r;

	(void)state;
	aml_init(&r);
	aml_res_memory32_fixed(&r, false, 0x12345678, 0x1000);
	aml_res_end(&r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.len, 12 + 2);
	assert_int_equal(sum8(r.data, r.len), 0);
	assert_int_equal(amld_resources(r.data, r.len, res, 2, err, sizeof(err)), 1);
	assert_false(res[0].writable);
	/* A corrupted byte breaks the checksum, and the decoder notices. */
	r.data[5] ^= 1;
	assert_int_equal(amld_resources(r.data, r.len, res, 2, err, sizeof(err)), -EINVAL);
	aml_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rsdp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_xsdt_lists_fadt_and_madt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fadt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_madt_1cpu, setup, teardown),
		cmocka_unit_test_setup_teardown(test_madt_2cpus, setup, teardown),
		cmocka_unit_test_setup_teardown(test_madt_8cpus, setup, teardown),
		cmocka_unit_test_setup_teardown(test_madt_254cpus_and_8_windows_fit, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_dsdt_s5, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dsdt_one_virtio_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dsdt_two_virtio_windows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dsdt_no_virtio_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dsdt_serial_ports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dsdt_multibyte_pkglength, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rebuild_replaces_old_tables, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_cpu_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_windows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enospc, setup, teardown),
		cmocka_unit_test(test_area_not_ram),
		cmocka_unit_test(test_pkglength_encodings),
		cmocka_unit_test(test_buffer_sizes),
		cmocka_unit_test(test_integers_and_names),
		cmocka_unit_test(test_resource_checksum),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
