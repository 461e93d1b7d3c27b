/*
 * ACPI: find the RSDP, check every table's checksum, list the CPUs and
 * IOAPICs from the MADT, and learn how to power off from the FADT and the
 * DSDT's \_S5. Tables are read in place through the identity map (all of them
 * lie below 4 GiB on the machines this guest runs on).
 */
#include "tg.h"
#include "io.h"

struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	uint32_t creator_id;
	uint32_t creator_revision;
} __attribute__((packed));

struct acpi_rsdp {
	char signature[8];
	uint8_t checksum;
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt_address;
	uint32_t length; /* revision >= 2 from here */
	uint64_t xsdt_address;
	uint8_t extended_checksum;
	uint8_t reserved[3];
} __attribute__((packed));

/* FADT field offsets (ACPI 6.x, table 5.9). */
#define FADT_DSDT 40
#define FADT_SMI_CMD 48
#define FADT_ACPI_ENABLE 52
#define FADT_PM1A_CNT_BLK 64
#define FADT_PM1B_CNT_BLK 68
#define FADT_FLAGS 112
#define FADT_RESET_REG 116
#define FADT_RESET_VALUE 128
#define FADT_X_DSDT 140
#define FADT_X_PM1A_CNT_BLK 172
#define FADT_X_PM1B_CNT_BLK 184
#define FADT_SLEEP_CONTROL_REG 244
#define FADT_RESET_REG_SUP (1u << 10)
#define FADT_HW_REDUCED_ACPI (1u << 20)

#define MADT_LAPIC 0
#define MADT_IOAPIC 1
#define MADT_ISO 2
#define MADT_LAPIC_OVERRIDE 5
#define MADT_X2APIC 9

#define GAS_SYSTEM_MEMORY 0
#define GAS_SYSTEM_IO 1

#define SLP_EN_HW_REDUCED (1 << 5)   /* SLEEP_CONTROL_REG: SLP_TYP in bits 2-4 */
#define PM1_SLP_EN (1 << 13)         /* PM1x_CNT: SLP_TYP in bits 10-12 */
#define PM1_SCI_EN (1 << 0)

#define PORT_VMDBG_SLEEP_CONTROL 0x600  /* emu/layout.h LAYOUT_PM_SLEEP_CONTROL */
#define QEMU_MICROVM_SLEEP_CONTROL 0xfea00200ull
#define PORT_RESET_CONTROL 0xcf9        /* PIIX/ICH Reset Control: 0x06 is a hard reset */
#define PORT_KBC_COMMAND 0x64           /* 8042: 0xfe pulses the CPU reset line */

/* The FADT's reset register (ACPI 6.x §4.8.3.6), kept here so tg.h's struct stays as it is. */
static struct tg_gas reset_reg;
static uint8_t reset_value;

struct tg_acpi tg_acpi;

static uint8_t sum(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t s = 0;
	while (n--)
		s += *b++;
	return s;
}

static const struct acpi_rsdp *rsdp_at(uint64_t pa)
{
	const struct acpi_rsdp *r = (const void *)pa;

	if (memcmp(r->signature, "RSD PTR ", 8) || sum(r, 20))
		return NULL;
	if (r->revision >= 2 && (r->length < sizeof(*r) || r->length > 4096 || sum(r, r->length)))
		return NULL;
	return r;
}

static const struct acpi_rsdp *find_rsdp(uint64_t hint)
{
	const struct acpi_rsdp *r;

	if (hint && hint < 0x100000000ull && (r = rsdp_at(hint)))
		return r;
	for (uint64_t pa = 0xe0000; pa < 0x100000; pa += 16)
		if ((r = rsdp_at(pa)))
			return r;
	return NULL;
}

/* A table is used only if its header is sane and its checksum holds. */
static const struct acpi_header *table_at(uint64_t pa)
{
	const struct acpi_header *h = (const void *)pa;
	char sig[5];

	if (!pa || pa >= 0x100000000ull) {
		tg_printf("tg: acpi table at 0x%lx out of reach\n", pa);
		return NULL;
	}
	memcpy(sig, h->signature, 4);
	sig[4] = '\0';
	if (h->length < sizeof(*h) || h->length > (1u << 24)) {
		tg_printf("tg: acpi table %s at 0x%lx bad length %u\n", sig, pa, h->length);
		return NULL;
	}
	if (sum(h, h->length)) {
		tg_printf("tg: acpi table %s at 0x%lx bad checksum\n", sig, pa);
		return NULL;
	}
	tg_printf("tg: acpi table %s ok addr=0x%lx len=%u\n", sig, pa, h->length);
	return h;
}

static void parse_madt(const struct acpi_header *h)
{
	const uint8_t *p = (const uint8_t *)h + sizeof(*h);
	const uint8_t *end = (const uint8_t *)h + h->length;
	uint32_t lapic32;

	memcpy(&lapic32, p, 4);
	tg_acpi.lapic_addr = lapic32;
	for (p += 8; p + 2 <= end && p[1] >= 2 && p + p[1] <= end; p += p[1]) {
		uint32_t flags32, v32;
		switch (p[0]) {
		case MADT_LAPIC:
			memcpy(&flags32, p + 4, 4);
			/* Bit 0 enabled, bit 1 online-capable: either can be started. */
			if ((flags32 & 3) && tg_acpi.ncpus < TG_MAX_CPUS)
				tg_acpi.apic_ids[tg_acpi.ncpus++] = p[3];
			break;
		case MADT_X2APIC:
			memcpy(&v32, p + 4, 4);
			memcpy(&flags32, p + 8, 4);
			/* xAPIC can only address ids below 255. */
			if ((flags32 & 3) && v32 < 255 && tg_acpi.ncpus < TG_MAX_CPUS)
				tg_acpi.apic_ids[tg_acpi.ncpus++] = v32;
			break;
		case MADT_IOAPIC:
			if (tg_acpi.nioapics < TG_ACPI_MAX_IOAPICS) {
				int i = tg_acpi.nioapics++;
				tg_acpi.ioapic[i].id = p[2];
				memcpy(&v32, p + 4, 4);
				tg_acpi.ioapic[i].addr = v32;
				memcpy(&tg_acpi.ioapic[i].gsi_base, p + 8, 4);
			}
			break;
		case MADT_ISO:
			if (p[0 + 3] < 16) {
				memcpy(&tg_acpi.isa_gsi[p[3]], p + 4, 4);
				memcpy(&tg_acpi.isa_flags[p[3]], p + 8, 2);
			}
			break;
		case MADT_LAPIC_OVERRIDE:
			memcpy(&tg_acpi.lapic_addr, p + 4, 8);
			break;
		}
	}
}

/*
 * \_S5's first package element: the usual byte search, since this guest has
 * no AML interpreter. Matches NameOp "_S5_" (or "\_S5_") PackageOp PkgLength
 * NumElements, then a ZeroOp, OneOp or BytePrefix value.
 */
static int find_s5(const struct acpi_header *dsdt)
{
	const uint8_t *b = (const uint8_t *)dsdt;
	uint32_t len = dsdt->length;

	for (uint32_t i = sizeof(*dsdt); i + 4 < len; i++) {
		if (memcmp(b + i, "_S5_", 4))
			continue;
		if (!(b[i - 1] == 0x08 || (b[i - 1] == '\\' && b[i - 2] == 0x08)))
			continue;
		uint32_t j = i + 4;
		if (j >= len || b[j] != 0x12) /* PackageOp */
			continue;
		j++;
		if (j >= len)
			break;
		j += 1 + (b[j] >> 6); /* PkgLength: lead byte plus 0-3 more */
		j++;                  /* NumElements */
		if (j >= len)
			break;
		if (b[j] == 0x00 || b[j] == 0x01) /* ZeroOp, OneOp */
			return b[j];
		if (b[j] == 0x0a && j + 1 < len) /* BytePrefix */
			return b[j + 1] & 7;
		return -1;
	}
	return -1;
}

static void gas_from(struct tg_gas *g, const uint8_t *fadt, uint32_t off)
{
	memcpy(g, fadt + off, sizeof(*g));
}

static void parse_fadt(const struct acpi_header *h)
{
	const uint8_t *f = (const uint8_t *)h;
	uint32_t len = h->length, flags = 0, v32;
	uint64_t dsdt = 0;

#define HAS(off, n) (len >= (off) + (n))
	if (HAS(FADT_DSDT, 4)) {
		memcpy(&v32, f + FADT_DSDT, 4);
		dsdt = v32;
	}
	if (HAS(FADT_X_DSDT, 8)) {
		uint64_t x;
		memcpy(&x, f + FADT_X_DSDT, 8);
		if (x)
			dsdt = x;
	}
	if (HAS(FADT_SMI_CMD, 4))
		memcpy(&tg_acpi.smi_cmd, f + FADT_SMI_CMD, 4);
	if (HAS(FADT_ACPI_ENABLE, 1))
		tg_acpi.acpi_enable = f[FADT_ACPI_ENABLE];
	if (HAS(FADT_PM1A_CNT_BLK, 4))
		memcpy(&tg_acpi.pm1a_cnt, f + FADT_PM1A_CNT_BLK, 4);
	if (HAS(FADT_PM1B_CNT_BLK, 4))
		memcpy(&tg_acpi.pm1b_cnt, f + FADT_PM1B_CNT_BLK, 4);
	if (HAS(FADT_X_PM1A_CNT_BLK, 12)) {
		struct tg_gas g;
		gas_from(&g, f, FADT_X_PM1A_CNT_BLK);
		if (g.address && g.space_id == GAS_SYSTEM_IO)
			tg_acpi.pm1a_cnt = (uint32_t)g.address;
		gas_from(&g, f, FADT_X_PM1B_CNT_BLK);
		if (g.address && g.space_id == GAS_SYSTEM_IO)
			tg_acpi.pm1b_cnt = (uint32_t)g.address;
	}
	if (HAS(FADT_FLAGS, 4))
		memcpy(&flags, f + FADT_FLAGS, 4);
	if (HAS(FADT_SLEEP_CONTROL_REG, 12))
		gas_from(&tg_acpi.sleep_control, f, FADT_SLEEP_CONTROL_REG);
	if (HAS(FADT_RESET_VALUE, 1) && (flags & FADT_RESET_REG_SUP)) {
		gas_from(&reset_reg, f, FADT_RESET_REG);
		reset_value = f[FADT_RESET_VALUE];
	}
#undef HAS
	tg_printf("tg: acpi fadt rev=%u hw_reduced=%u\n", h->revision,
		  (flags & FADT_HW_REDUCED_ACPI) ? 1 : 0);

	const struct acpi_header *d = dsdt ? table_at(dsdt) : NULL;
	if (d && !memcmp(d->signature, "DSDT", 4)) {
		tg_acpi.dsdt = (uint64_t)d;
		tg_acpi.s5_typ = find_s5(d);
	}
}

int tg_acpi_init(uint64_t rsdp_hint)
{
	const struct acpi_rsdp *r = find_rsdp(rsdp_hint);
	const struct acpi_header *root;
	const struct acpi_header *madt = NULL, *fadt = NULL;

	memset(&tg_acpi, 0, sizeof(tg_acpi));
	memset(&reset_reg, 0, sizeof(reset_reg));
	tg_acpi.s5_typ = -1;
	tg_acpi.lapic_addr = 0xfee00000;
	for (int i = 0; i < 16; i++)
		tg_acpi.isa_gsi[i] = i;

	if (!r) {
		tg_printf("tg: acpi RSDP not found\n");
		return -1;
	}
	tg_acpi.rsdp = (uint64_t)r;
	tg_printf("tg: acpi RSDP at 0x%lx rev=%u\n", (uint64_t)r, r->revision);

	bool x = r->revision >= 2 && r->xsdt_address;
	root = table_at(x ? r->xsdt_address : r->rsdt_address);
	if (!root)
		return 0;
	size_t esize = x ? 8 : 4;
	size_t n = (root->length - sizeof(*root)) / esize;
	const uint8_t *e = (const uint8_t *)root + sizeof(*root);
	for (size_t i = 0; i < n; i++) {
		uint64_t pa = 0;
		memcpy(&pa, e + i * esize, esize);
		const struct acpi_header *t = table_at(pa);
		if (!t)
			continue;
		if (!memcmp(t->signature, "APIC", 4) && !madt)
			madt = t;
		else if (!memcmp(t->signature, "FACP", 4) && !fadt)
			fadt = t;
	}
	if (madt)
		parse_madt(madt);
	if (fadt)
		parse_fadt(fadt);

	char ids[4 * TG_MAX_CPUS + 1];
	size_t off = 0;
	ids[0] = '\0';
	for (int i = 0; i < tg_acpi.ncpus; i++)
		off += tg_snprintf(ids + off, sizeof(ids) - off, "%s%u", i ? "," : "",
				   tg_acpi.apic_ids[i]);
	tg_printf("tg: acpi cpus=%d apic_ids=%s lapic=0x%lx\n", tg_acpi.ncpus, ids,
		  tg_acpi.lapic_addr);
	for (int i = 0; i < tg_acpi.nioapics; i++)
		tg_printf("tg: acpi ioapic id=%u addr=0x%lx gsi_base=%u\n", tg_acpi.ioapic[i].id,
			  tg_acpi.ioapic[i].addr, tg_acpi.ioapic[i].gsi_base);
	if (tg_acpi.sleep_control.address)
		tg_printf("tg: acpi poweroff via SLEEP_CONTROL_REG %s 0x%lx slp_typ=%d\n",
			  tg_acpi.sleep_control.space_id == GAS_SYSTEM_IO ? "io" : "mem",
			  tg_acpi.sleep_control.address, tg_acpi.s5_typ);
	else if (tg_acpi.pm1a_cnt)
		tg_printf("tg: acpi poweroff via PM1a_CNT io 0x%x slp_typ=%d\n", tg_acpi.pm1a_cnt,
			  tg_acpi.s5_typ);
	else
		tg_printf("tg: acpi poweroff register not found\n");
	return 0;
}

/*
 * No AML interpreter: find the _HID string (StringPrefix 0x0d, then the text), then the first
 * Memory32Fixed (0x86) and Extended Interrupt (0x89) resource descriptors before the next
 * device's _HID. Enough for the flat device lists of vmdbg's and QEMU microvm's DSDTs.
 */
int tg_acpi_find_hid(const char *hid, int n, struct tg_acpi_dev *out)
{
	const struct acpi_header *d = (const void *)tg_acpi.dsdt;
	size_t hl = strlen(hid);

	if (!d)
		return -1;
	const uint8_t *b = (const uint8_t *)d;
	uint32_t len = d->length;
	for (uint32_t i = sizeof(*d); i + 1 + hl < len; i++) {
		if (b[i] != 0x0d || memcmp(b + i + 1, hid, hl) || b[i + 1 + hl] != 0)
			continue;
		if (n-- > 0)
			continue;
		bool have_mem = false, have_irq = false;
		memset(out, 0, sizeof(*out));
		for (uint32_t j = i + 2 + hl; j + 9 <= len && !(have_mem && have_irq); j++) {
			if (b[j] == 0x0d && !memcmp(b + j + 1, hid, hl))
				break;
			if (!have_mem && j + 12 <= len && b[j] == 0x86 && b[j + 1] == 9 && b[j + 2] == 0) {
				uint32_t v;
				memcpy(&v, b + j + 4, 4);
				out->base = v;
				memcpy(&out->size, b + j + 8, 4);
				have_mem = true;
				j += 11;
			} else if (!have_irq && b[j] == 0x89 && b[j + 1] >= 6 && b[j + 2] == 0 &&
				   b[j + 4] >= 1) {
				uint8_t fl = b[j + 3];
				memcpy(&out->gsi, b + j + 5, 4);
				out->level = !(fl & 2); /* bit 1: 1 edge, 0 level */
				out->active_low = fl & 4;
				have_irq = true;
				j += 8;
			}
		}
		return have_mem && have_irq ? 0 : -1;
	}
	return -1;
}

static void gas_write8(const struct tg_gas *g, uint8_t v)
{
	if (g->space_id == GAS_SYSTEM_IO)
		outb((uint16_t)g->address, v);
	else if (g->space_id == GAS_SYSTEM_MEMORY)
		mmio_write8(g->address, v);
}

/*
 * Power off: the FADT's hardware-reduced SLEEP_CONTROL_REG if there is one,
 * else PM1a/PM1b_CNT (classic ACPI, e.g. QEMU q35), with \_S5's SLP_TYP. Then,
 * whatever the tables said, vmdbg's and QEMU microvm's sleep registers. QEMU
 * microvm with acpi=off has no power-off at all: the guest then says so and
 * halts with interrupts off.
 */
void tg_poweroff(void)
{
	int typ = tg_acpi.s5_typ >= 0 ? tg_acpi.s5_typ : 5;

	irq_disable();
	if (tg_acpi.sleep_control.address) {
		gas_write8(&tg_acpi.sleep_control, (uint8_t)((typ << 2) | SLP_EN_HW_REDUCED));
	} else if (tg_acpi.pm1a_cnt) {
		uint16_t port = (uint16_t)tg_acpi.pm1a_cnt;
		/* Firmware may leave the machine in legacy (SMM) mode: ask for ACPI mode first. */
		if (!(inw(port) & PM1_SCI_EN) && tg_acpi.smi_cmd && tg_acpi.acpi_enable) {
			outb((uint16_t)tg_acpi.smi_cmd, tg_acpi.acpi_enable);
			for (int i = 0; i < 1000 && !(inw(port) & PM1_SCI_EN); i++)
				tg_udelay(1000);
		}
		uint16_t typ_bits = (uint16_t)((typ & 7) << 10) | PM1_SLP_EN;
		outw(port, (uint16_t)((inw(port) & ~(7u << 10)) | typ_bits));
		if (tg_acpi.pm1b_cnt)
			outw((uint16_t)tg_acpi.pm1b_cnt, typ_bits);
	}
	/* QEMU acts on the request asynchronously: give it time before falling back. */
	tg_udelay(500000);
	outb(PORT_VMDBG_SLEEP_CONTROL, (5 << 2) | SLP_EN_HW_REDUCED);
	tg_udelay(100000);
	if (!tg_acpi.rsdp) { /* no tables: perhaps QEMU microvm (its GED sleep register) */
		mmio_write8(QEMU_MICROVM_SLEEP_CONTROL, (5 << 2) | SLP_EN_HW_REDUCED);
		tg_udelay(100000);
	}
	tg_printf_urgent("tg: poweroff unavailable\n");
	tg_halt_forever();
}

int tg_acpi_reset_reg(struct tg_gas *reg, uint8_t *value)
{
	if (!reset_reg.address ||
	    (reset_reg.space_id != GAS_SYSTEM_IO && reset_reg.space_id != GAS_SYSTEM_MEMORY))
		return -1;
	*reg = reset_reg;
	*value = reset_value;
	return 0;
}

/*
 * Reset the machine as Linux's reboot=acpi,pci,kbd would: the FADT's RESET_REG with
 * RESET_VALUE, then port 0xcf9, then the keyboard controller, each given time to act (QEMU
 * resets asynchronously). Returns, interrupts off, about 2 s later if the machine is still
 * running.
 */
void tg_reset(void)
{
	irq_disable();
	if (reset_reg.address) {
		gas_write8(&reset_reg, reset_value);
		tg_udelay(500000);
	}
	outb(PORT_RESET_CONTROL, 0x06);
	tg_udelay(500000);
	outb(PORT_KBC_COMMAND, 0xfe);
	tg_udelay(reset_reg.address ? 1000000 : 1500000);
}
