/*
 * Local APIC (xAPIC, MMIO), IOAPIC routing, and time: the PIT's channel 2
 * measures 10 ms once to calibrate the TSC and the LAPIC timer; delays then
 * use the TSC.
 */
#include "tg.h"
#include "io.h"

#define LAPIC_SVR_ENABLE 0x100
#define LVT_MASKED (1u << 16)
#define LVT_TIMER_PERIODIC (1u << 17)
#define LVT_TIMER_TSC_DEADLINE (2u << 17)
#define MSR_IA32_TSC_DEADLINE 0x6e0
#define CPUID1_ECX_TSC_DEADLINE (1u << 24)
#define LAPIC_DIV_16 0x3
#define ICR_DELIVERY_STATUS (1u << 12)
#define ICR_INIT 0x00004500 /* INIT, level assert */
#define ICR_STARTUP 0x00004600

#define IOAPIC_REGSEL 0x00
#define IOAPIC_WIN 0x10
#define IOAPIC_REDTBL(n) (0x10 + 2 * (n))
#define IOAPIC_VER 0x01

#define PIT_CH2 0x42
#define PIT_CMD 0x43
#define PIT_PORT_B 0x61
#define PIT_HZ 1193182
#define CALIBRATE_MS 10

uint64_t tg_tsc_khz;
uint32_t tg_lapic_per_ms;

static uint64_t lapic_base(void)
{
	return tg_acpi.lapic_addr ? tg_acpi.lapic_addr : 0xfee00000;
}

uint32_t lapic_read(uint32_t reg)
{
	return mmio_read32(lapic_base() + reg);
}

void lapic_write(uint32_t reg, uint32_t v)
{
	mmio_write32(lapic_base() + reg, v);
}

uint32_t lapic_id(void)
{
	return lapic_read(LAPIC_ID) >> 24;
}

void lapic_eoi(void)
{
	lapic_write(LAPIC_EOI, 0);
}

static void timer_irq(struct tg_regs *r)
{
	struct tg_cpu *c = this_cpu();

	c->ticks++;
	if (c->tick_target && c->ticks >= c->tick_target && !c->ticks_done) {
		tg_timer_stop();
		c->ticks_done = 1;
	} else if (c->deadline_period) {
		/* One-shot: the next tick is armed here, as Linux's clockevent does. */
		wrmsr(MSR_IA32_TSC_DEADLINE, rdtsc() + c->deadline_period);
	}
	lapic_eoi();
}

void tg_lapic_init(void)
{
	lapic_write(LAPIC_SVR, LAPIC_SVR_ENABLE | TG_VEC_SPURIOUS);
	lapic_write(LAPIC_LVT_TIMER, LVT_MASKED | TG_VEC_TIMER);
	lapic_write(LAPIC_TIMER_DIV, LAPIC_DIV_16);
	lapic_write(LAPIC_ESR, 0);
	tg_set_irq_handler(TG_VEC_TIMER, timer_irq);
}

/*
 * Start PIT channel 2 counting down MS milliseconds, gated on, speaker off.
 * OUT2 (port 0x61 bit 5) goes low on the mode write and high at zero; -1 if
 * it is high at once (no PIT behind port 0x61, e.g. QEMU microvm).
 */
static int pit_start(unsigned ms)
{
	uint32_t count = PIT_HZ / 1000 * ms;

	outb(PIT_PORT_B, (inb(PIT_PORT_B) & ~0x02) | 0x01);
	outb(PIT_CMD, 0xb0); /* channel 2, lobyte/hibyte, mode 0, binary */
	outb(PIT_CH2, count & 0xff);
	outb(PIT_CH2, count >> 8);
	return (inb(PIT_PORT_B) & 0x20) ? -1 : 0;
}

/* 0 once the count reached zero, -1 if that never came. */
static int pit_wait(void)
{
	for (long i = 0; i < 5000000; i++)
		if (inb(PIT_PORT_B) & 0x20)
			return 0;
	return -1;
}

/*
 * Without a PIT, time the TSC against the LAPIC timer instead, taking its
 * input clock to be 1 GHz as both KVM and QEMU's emulated APIC make it.
 */
static uint64_t tsc_khz_from_lapic(void)
{
	uint32_t count = 1000000 / 16 * CALIBRATE_MS;

	lapic_write(LAPIC_TIMER_DIV, LAPIC_DIV_16);
	lapic_write(LAPIC_TIMER_INIT, count);
	uint64_t t0 = rdtsc();
	for (long i = 0; i < 50000000 && lapic_read(LAPIC_TIMER_CUR); i++)
		cpu_relax();
	uint64_t t1 = rdtsc();
	lapic_write(LAPIC_TIMER_INIT, 0);
	return (t1 - t0) / CALIBRATE_MS;
}

void tg_calibrate(void)
{
	const char *how = "pit";
	uint64_t khz;
	uint32_t per_ms;

	lapic_write(LAPIC_TIMER_DIV, LAPIC_DIV_16);
	int ok = pit_start(CALIBRATE_MS);
	lapic_write(LAPIC_TIMER_INIT, 0xffffffff);
	uint64_t t0 = rdtsc();
	if (ok == 0)
		ok = pit_wait();
	uint64_t t1 = rdtsc();
	uint32_t left = lapic_read(LAPIC_TIMER_CUR);
	lapic_write(LAPIC_TIMER_INIT, 0);
	khz = (t1 - t0) / CALIBRATE_MS;
	per_ms = (0xffffffff - left) / CALIBRATE_MS;

	if (ok < 0 || khz < 1000 || per_ms < 10) {
		how = "lapic";
		per_ms = 1000000 / 16;
		khz = tsc_khz_from_lapic();
		if (khz < 1000) {
			how = "guess";
			khz = 1000000;
		}
	}
	tg_tsc_khz = khz;
	tg_lapic_per_ms = per_ms;
	tg_printf("tg: calibrated by %s tsc=%lu kHz lapic_timer=%u/ms\n", how, tg_tsc_khz,
		  tg_lapic_per_ms);
}

uint64_t tg_now_us(void)
{
	uint64_t khz = tg_tsc_khz ? tg_tsc_khz : 1000000;
	return rdtsc() * 1000 / khz;
}

void tg_udelay(uint64_t us)
{
	uint64_t khz = tg_tsc_khz ? tg_tsc_khz : 1000000;
	uint64_t end = rdtsc() + us * khz / 1000;
	while ((int64_t)(rdtsc() - end) < 0)
		cpu_relax();
}

static bool tsc_deadline_supported(void)
{
	uint32_t a, b, c, d;

	cpuid(1, 0, &a, &b, &c, &d);
	return c & CPUID1_ECX_TSC_DEADLINE;
}

/*
 * HZ ticks from the LAPIC timer: periodic by default; with timer=deadline on the command
 * line, one-shot TSC-deadline ticks re-armed by each interrupt (the mode Linux uses, and
 * the one a snapshot must carry through the TSC deadline MSR).
 */
void tg_timer_start(uint32_t hz, uint64_t target)
{
	struct tg_cpu *c = this_cpu();
	uint64_t count = (uint64_t)tg_lapic_per_ms * 1000 / (hz ? hz : 1000);

	c->ticks = 0;
	c->ticks_done = 0;
	c->tick_target = target;
	c->deadline_period = 0;
	if (!strcmp(tg_arg_str("timer", "periodic"), "deadline") && tsc_deadline_supported() &&
	    tg_tsc_khz) {
		c->deadline_period = tg_tsc_khz * 1000 / (hz ? hz : 1000);
		lapic_write(LAPIC_LVT_TIMER, LVT_TIMER_TSC_DEADLINE | TG_VEC_TIMER);
		wrmsr(MSR_IA32_TSC_DEADLINE, rdtsc() + c->deadline_period);
		return;
	}
	lapic_write(LAPIC_TIMER_DIV, LAPIC_DIV_16);
	lapic_write(LAPIC_LVT_TIMER, LVT_TIMER_PERIODIC | TG_VEC_TIMER);
	lapic_write(LAPIC_TIMER_INIT, count ? (uint32_t)count : 1);
}

void tg_timer_stop(void)
{
	this_cpu()->deadline_period = 0;
	lapic_write(LAPIC_LVT_TIMER, LVT_MASKED | TG_VEC_TIMER);
	lapic_write(LAPIC_TIMER_INIT, 0);
	if (tsc_deadline_supported())
		wrmsr(MSR_IA32_TSC_DEADLINE, 0);
}

static uint32_t ioapic_read(uint64_t base, uint32_t reg)
{
	mmio_write32(base + IOAPIC_REGSEL, reg);
	return mmio_read32(base + IOAPIC_WIN);
}

static void ioapic_write(uint64_t base, uint32_t reg, uint32_t v)
{
	mmio_write32(base + IOAPIC_REGSEL, reg);
	mmio_write32(base + IOAPIC_WIN, v);
}

int tg_ioapic_route_gsi(uint32_t gsi, int vector, uint32_t dest_apic, bool level, bool active_low)
{
	uint64_t base = 0xfec00000;
	uint32_t gsi_base = 0;

	for (int i = 0; i < tg_acpi.nioapics; i++) {
		uint32_t ver = ioapic_read(tg_acpi.ioapic[i].addr, IOAPIC_VER);
		uint32_t pins = ((ver >> 16) & 0xff) + 1;
		if (gsi >= tg_acpi.ioapic[i].gsi_base && gsi < tg_acpi.ioapic[i].gsi_base + pins) {
			base = tg_acpi.ioapic[i].addr;
			gsi_base = tg_acpi.ioapic[i].gsi_base;
			break;
		}
	}
	if (gsi < gsi_base || gsi - gsi_base > 23)
		return -1;
	uint32_t pin = gsi - gsi_base;
	uint32_t lo = (uint32_t)vector;
	if (active_low)
		lo |= 1u << 13;
	if (level)
		lo |= 1u << 15;
	ioapic_write(base, IOAPIC_REDTBL(pin) + 1, dest_apic << 24);
	ioapic_write(base, IOAPIC_REDTBL(pin), lo);
	return 0;
}

int tg_ioapic_route_isa(int irq, int vector, uint32_t dest_apic)
{
	uint32_t gsi = tg_acpi.isa_gsi[irq & 15];
	uint16_t flags = tg_acpi.isa_flags[irq & 15];

	/* MPS INTI flags: polarity bits 0-1 (3 = active low), trigger bits 2-3 (3 = level). */
	return tg_ioapic_route_gsi(gsi, vector, dest_apic, ((flags >> 2) & 3) == 3, (flags & 3) == 3);
}

static int icr_wait(void)
{
	for (long i = 0; i < 1000000; i++)
		if (!(lapic_read(LAPIC_ICR_LO) & ICR_DELIVERY_STATUS))
			return 0;
	return -1;
}

/* The MP-spec start sequence: INIT, 10 ms, STARTUP, 200 us, STARTUP. */
int tg_send_init_sipi(uint32_t apic_id, uint8_t sipi_vector)
{
	lapic_write(LAPIC_ESR, 0);
	lapic_write(LAPIC_ICR_HI, apic_id << 24);
	lapic_write(LAPIC_ICR_LO, ICR_INIT);
	if (icr_wait() < 0)
		return -1;
	tg_udelay(10000);
	for (int i = 0; i < 2; i++) {
		lapic_write(LAPIC_ICR_HI, apic_id << 24);
		lapic_write(LAPIC_ICR_LO, ICR_STARTUP | sipi_vector);
		if (icr_wait() < 0)
			return -1;
		tg_udelay(200);
	}
	return 0;
}
