#include "acpi.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "aml.h"
#include "layout.h"
#include "log.h"

#define ACPI_OEM_ID "VMDBG "
#define ACPI_OEM_TABLE_ID "VMDBGVM "
#define ACPI_CREATOR_ID "VMDB"

#define ACPI_HDR_LEN 36
#define ACPI_RSDP_LEN 36
#define ACPI_RSDP_V1_LEN 20
#define ACPI_FADT_LEN 276 /* ACPI 6.0: up to the Hypervisor Vendor Identity */
#define ACPI_GAS_LEN 12

/* FADT flags and IA-PC boot architecture flags. */
#define FADT_F_RESET_REG_SUP (1u << 10)
#define FADT_F_HW_REDUCED_ACPI (1u << 20)
#define FADT_BOOT_VGA_NOT_PRESENT (1u << 2)
#define FADT_BOOT_CMOS_RTC_NOT_PRESENT (1u << 5)

#define GAS_SPACE_SYSTEM_IO 1
#define GAS_ACCESS_BYTE 1

/* MADT structure types and flags. */
#define MADT_PCAT_COMPAT (1u << 0)
#define MADT_LOCAL_APIC 0
#define MADT_IO_APIC 1
#define MADT_INT_SRC_OVERRIDE 2
#define MADT_LOCAL_APIC_NMI 4
#define MADT_LAPIC_ENABLED (1u << 0)
#define MADT_ALL_PROCESSORS 0xFF

/* xAPIC ids are 8 bits, 0xFF is broadcast, and the IOAPIC takes id ncpus. */
#define ACPI_MAX_CPUS 254

/* A staging copy of the region, so nothing reaches the guest on failure. */
struct acpi_area {
	uint8_t *buf;
	uint64_t gpa; /* of buf[0] */
	uint64_t size;
	uint64_t used;
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

uint8_t acpi_checksum(const void *p, uint64_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	for (uint64_t i = 0; i < len; i++)
		sum += b[i];
	return sum;
}

/* Room for LEN bytes at 16-byte alignment; returns its offset or -ENOSPC. */
static int64_t acpi_alloc(struct acpi_area *area, uint64_t len)
{
	uint64_t off = (area->used + 15) & ~15ULL;

	if (off > area->size || len > area->size - off)
		return -ENOSPC;
	area->used = off + len;
	return (int64_t)off;
}

static void acpi_header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	put32(t + 4, len);
	t[8] = rev;
	memcpy(t + 10, ACPI_OEM_ID, 6);
	memcpy(t + 16, ACPI_OEM_TABLE_ID, 8);
	put32(t + 24, 1); /* OEM revision */
	memcpy(t + 28, ACPI_CREATOR_ID, 4);
	put32(t + 32, 1); /* creator revision */
}

static void acpi_finish(uint8_t *t, uint32_t len)
{
	t[9] = 0;
	t[9] = (uint8_t)-acpi_checksum(t, len);
}

static void acpi_gas_io8(uint8_t *g, uint16_t port)
{
	g[0] = GAS_SPACE_SYSTEM_IO;
	g[1] = 8; /* register bit width */
	g[2] = 0; /* bit offset */
	g[3] = GAS_ACCESS_BYTE;
	put64(g + 4, port);
}

static int acpi_build_dsdt(struct aml *a, const struct acpi_config *cfg)
{
	static const struct {
		const char *name;
		uint16_t port;
		uint8_t irq;
		uint8_t uid;
	} com[] = {
		{ "COM1", LAYOUT_COM1, LAYOUT_COM1_IRQ, 1 },
		{ "COM2", LAYOUT_COM2, LAYOUT_COM2_IRQ, 2 },
	};
	size_t sb, dev, pkg;

	/* Hardware-reduced power-off: SLP_TYP for SLEEP_CONTROL_REG. */
	aml_name(a, "_S5");
	pkg = aml_package_begin(a, 4);
	aml_integer(a, LAYOUT_PM_S5_TYP);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_end(a, pkg);

	sb = aml_scope_begin(a, "\\_SB");

	for (size_t i = 0; i < sizeof(com) / sizeof(com[0]); i++) {
		struct aml crs;

		aml_init(&crs);
		aml_res_io(&crs, com[i].port, 8);
		aml_res_irq_noflags(&crs, com[i].irq);
		aml_res_end(&crs);

		dev = aml_device_begin(a, com[i].name);
		aml_name(a, "_HID");
		aml_integer(a, aml_eisaid("PNP0501"));
		aml_name(a, "_UID");
		aml_integer(a, com[i].uid);
		aml_name(a, "_CRS");
		aml_buffer(a, crs.data, crs.len);
		aml_end(a, dev);
		if (crs.err && !a->err)
			a->err = crs.err;
		aml_free(&crs);
	}

	for (int i = 0; i < cfg->nr_mmio; i++) {
		const struct acpi_mmio_dev *m = &cfg->mmio[i];
		struct aml crs;
		char name[5];
		static const char hex[] = "0123456789ABCDEF";

		name[0] = 'V';
		name[1] = 'R';
		name[2] = hex[(i >> 4) & 0xF];
		name[3] = hex[i & 0xF];
		name[4] = '\0';

		aml_init(&crs);
		aml_res_memory32_fixed(&crs, true, (uint32_t)m->base, m->size);
		/* Edge: vmdbg signals through an irqfd without a resample fd. */
		aml_res_ext_irq(&crs, AML_EXT_IRQ_CONSUMER | AML_EXT_IRQ_EDGE, m->gsi);
		aml_res_end(&crs);

		dev = aml_device_begin(a, name);
		aml_name(a, "_HID");
		aml_string(a, "LNRO0005");
		aml_name(a, "_UID");
		aml_integer(a, (uint64_t)i);
		aml_name(a, "_CCA");
		aml_integer(a, 1);
		aml_name(a, "_CRS");
		aml_buffer(a, crs.data, crs.len);
		aml_end(a, dev);
		if (crs.err && !a->err)
			a->err = crs.err;
		aml_free(&crs);
	}

	aml_end(a, sb);
	return a->err;
}

static int acpi_check_config(const struct acpi_config *cfg)
{
	if (cfg->ncpus < 1 || cfg->ncpus > ACPI_MAX_CPUS) {
		log_err("acpi: %d vCPUs: the MADT describes 1 to %d (8-bit xAPIC ids)", cfg->ncpus,
			ACPI_MAX_CPUS);
		return -EINVAL;
	}
	if (cfg->nr_mmio < 0 || cfg->nr_mmio > ACPI_MAX_MMIO_DEVS) {
		log_err("acpi: %d virtio-mmio windows: at most %d", cfg->nr_mmio,
			ACPI_MAX_MMIO_DEVS);
		return -EINVAL;
	}
	for (int i = 0; i < cfg->nr_mmio; i++) {
		const struct acpi_mmio_dev *m = &cfg->mmio[i];

		if (m->size == 0 || m->base > 0xFFFFFFFFULL ||
		    m->size - 1 > 0xFFFFFFFFULL - m->base) {
			log_err("acpi: virtio-mmio window %d (0x%llx, size 0x%x) must be a "
				"non-empty range below 4 GiB",
				i, (unsigned long long)m->base, m->size);
			return -EINVAL;
		}
	}
	return 0;
}

static int acpi_build_tables(struct acpi_area *area, const struct acpi_config *cfg,
			     const struct aml *dsdt_aml)
{
	uint32_t madt_len = 44 + 8 * (uint32_t)cfg->ncpus + 12 + 10 + 6;
	uint64_t dsdt_len = ACPI_HDR_LEN + dsdt_aml->len;
	int64_t rsdp, xsdt, fadt, madt, dsdt;
	uint8_t *t;

	rsdp = acpi_alloc(area, ACPI_RSDP_LEN);
	xsdt = acpi_alloc(area, ACPI_HDR_LEN + 2 * 8);
	fadt = acpi_alloc(area, ACPI_FADT_LEN);
	madt = acpi_alloc(area, madt_len);
	dsdt = dsdt_len > UINT32_MAX ? -ENOSPC : acpi_alloc(area, dsdt_len);
	if (rsdp < 0 || xsdt < 0 || fadt < 0 || madt < 0 || dsdt < 0)
		return -ENOSPC;

	/* DSDT: the AML after a plain header; revision 2 means 64-bit integers. */
	t = area->buf + dsdt;
	acpi_header(t, "DSDT", (uint32_t)dsdt_len, 2);
	memcpy(t + ACPI_HDR_LEN, dsdt_aml->data, dsdt_aml->len);
	acpi_finish(t, (uint32_t)dsdt_len);

	/* MADT */
	t = area->buf + madt;
	acpi_header(t, "APIC", madt_len, 4);
	put32(t + 36, (uint32_t)LAYOUT_LAPIC);
	put32(t + 40, MADT_PCAT_COMPAT);
	uint8_t *e = t + 44;
	for (int i = 0; i < cfg->ncpus; i++, e += 8) {
		e[0] = MADT_LOCAL_APIC;
		e[1] = 8;
		e[2] = (uint8_t)i; /* ACPI processor UID */
		e[3] = (uint8_t)i; /* APIC id */
		put32(e + 4, MADT_LAPIC_ENABLED);
	}
	e[0] = MADT_IO_APIC;
	e[1] = 12;
	e[2] = (uint8_t)cfg->ncpus; /* IOAPIC id, apart from every LAPIC id */
	e[3] = 0;
	put32(e + 4, (uint32_t)LAYOUT_IOAPIC);
	put32(e + 8, 0); /* GSI base */
	e += 12;
	/* The PIT's IRQ0 arrives at IOAPIC pin 2, as on every PC. */
	e[0] = MADT_INT_SRC_OVERRIDE;
	e[1] = 10;
	e[2] = 0; /* bus: ISA */
	e[3] = 0; /* source IRQ */
	put32(e + 4, 2);
	put16(e + 8, 0); /* flags: conform to ISA (edge, active high) */
	e += 10;
	e[0] = MADT_LOCAL_APIC_NMI;
	e[1] = 6;
	e[2] = MADT_ALL_PROCESSORS;
	put16(e + 3, 0); /* flags: conform to the bus */
	e[5] = 1;	 /* LINT1 */
	acpi_finish(t, madt_len);

	/* FADT */
	t = area->buf + fadt;
	acpi_header(t, "FACP", ACPI_FADT_LEN, 6);
	put32(t + 40, (uint32_t)(area->gpa + dsdt)); /* DSDT (32-bit copy of X_DSDT) */
	put16(t + 109, FADT_BOOT_VGA_NOT_PRESENT | FADT_BOOT_CMOS_RTC_NOT_PRESENT);
	put32(t + 112, FADT_F_HW_REDUCED_ACPI | FADT_F_RESET_REG_SUP);
	acpi_gas_io8(t + 116, LAYOUT_PM_RESET);
	t[128] = LAYOUT_PM_RESET_VALUE;
	t[131] = 0; /* FADT minor version: ACPI 6.0 */
	put64(t + 140, area->gpa + dsdt);
	acpi_gas_io8(t + 244, LAYOUT_PM_SLEEP_CONTROL);
	acpi_gas_io8(t + 256, LAYOUT_PM_SLEEP_STATUS);
	memcpy(t + 268, "VMDBG\0\0\0", 8); /* hypervisor vendor identity */
	acpi_finish(t, ACPI_FADT_LEN);

	/* XSDT: the DSDT is reached through the FADT, not listed. */
	t = area->buf + xsdt;
	acpi_header(t, "XSDT", ACPI_HDR_LEN + 16, 1);
	put64(t + 36, area->gpa + fadt);
	put64(t + 44, area->gpa + madt);
	acpi_finish(t, ACPI_HDR_LEN + 16);

	/* RSDP, revision 2: no RSDT, the XSDT only. */
	t = area->buf + rsdp;
	memcpy(t, "RSD PTR ", 8);
	memcpy(t + 9, ACPI_OEM_ID, 6);
	t[15] = 2;
	put32(t + 16, 0);
	put32(t + 20, ACPI_RSDP_LEN);
	put64(t + 24, area->gpa + xsdt);
	t[8] = (uint8_t)-acpi_checksum(t, ACPI_RSDP_V1_LEN);
	t[32] = (uint8_t)-acpi_checksum(t, ACPI_RSDP_LEN);
	return (int)rsdp;
}

int acpi_build_range(const struct guest_mem *gm, const struct acpi_config *cfg, uint64_t start,
		     uint64_t end, uint64_t *rsdp_gpa)
{
	struct acpi_area area = { 0 };
	struct aml dsdt;
	int ret;

	if (!gm || !cfg || !rsdp_gpa || end <= start || (start & 15)) {
		log_err("acpi: bad arguments to acpi_build_range");
		return -EINVAL;
	}
	ret = acpi_check_config(cfg);
	if (ret)
		return ret;
	if (!gm_is_ram(gm, start, end - start)) {
		log_err("acpi: table area 0x%llx-0x%llx is not guest RAM",
			(unsigned long long)start, (unsigned long long)end);
		return -EFAULT;
	}

	aml_init(&dsdt);
	ret = acpi_build_dsdt(&dsdt, cfg);
	if (ret) {
		log_err("acpi: cannot encode the DSDT (error %d)", ret);
		goto out;
	}

	area.gpa = start;
	area.size = end - start;
	area.buf = calloc(1, area.size);
	if (!area.buf) {
		ret = -ENOMEM;
		goto out;
	}
	ret = acpi_build_tables(&area, cfg, &dsdt);
	if (ret < 0) {
		log_err("acpi: tables for %d vCPUs and %d virtio-mmio windows do not fit in "
			"0x%llx-0x%llx",
			cfg->ncpus, cfg->nr_mmio, (unsigned long long)start,
			(unsigned long long)end);
		goto out;
	}
	*rsdp_gpa = start + (uint64_t)ret;
	/* The whole region: stale bytes from an earlier build must not linger. */
	ret = gm_write(gm, start, area.buf, area.size);
out:
	free(area.buf);
	aml_free(&dsdt);
	return ret;
}

int acpi_build(const struct guest_mem *gm, const struct acpi_config *cfg, uint64_t *rsdp_gpa)
{
	return acpi_build_range(gm, cfg, LAYOUT_ACPI_START, LAYOUT_ACPI_END, rsdp_gpa);
}
