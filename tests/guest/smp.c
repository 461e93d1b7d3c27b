/*
 * Application-processor start-up through the xAPIC: one AP at a time (they
 * share one hand-off slot), INIT + two STARTUP IPIs pointing at the
 * trampoline copied to TG_TRAMP_BASE.
 */
#include "tg.h"
#include "io.h"

#define AP_START_TIMEOUT_US 2000000

extern const char tg_tramp_start[], tg_tramp_end[];
extern uint8_t tg_stacks[TG_MAX_CPUS][TG_STACK_SIZE];

/* The hand-off slot: entry.S loads tg_ap_stack_top into %rsp, tg_ap_main reads ap_next. */
uint64_t tg_ap_stack_top;
static struct tg_cpu *volatile ap_next;

void tg_ap_main(void)
{
	struct tg_cpu *c = ap_next;

	tg_cpu_init(c);
	/* An AP that missed its time-out and woke later would take another's slot. */
	if (lapic_id() != c->apic_id)
		tg_halt_forever();
	tg_lapic_init();
	tg_printf("tg: cpu %d up apic=%u\n", c->index, c->apic_id);
	__atomic_store_n(&c->online, 1, __ATOMIC_RELEASE);
	tg_ap_work(c);
	tg_halt_forever();
}

int tg_smp_start(int max_cpus)
{
	struct tg_cpu *bsp = &tg_cpus[0];
	size_t tramp_size = (size_t)(tg_tramp_end - tg_tramp_start);
	int want = tg_acpi.ncpus > 0 ? tg_acpi.ncpus : 1;
	int up = 1;

	if (max_cpus < 1)
		max_cpus = 1;
	if (want > max_cpus)
		want = max_cpus;
	tg_ncpus = 1;
	if (want > 1) {
		if (tramp_size > TG_TRAMP_MAX) {
			tg_printf("tg: trampoline too big (%zu bytes)\n", tramp_size);
			want = 1;
		} else {
			memcpy((void *)TG_TRAMP_BASE, tg_tramp_start, tramp_size);
		}
	}
	for (int i = 0; i < tg_acpi.ncpus && tg_ncpus < want; i++) {
		uint32_t id = tg_acpi.apic_ids[i];
		if (id == bsp->apic_id)
			continue;
		struct tg_cpu *c = &tg_cpus[tg_ncpus];
		c->index = tg_ncpus++;
		c->apic_id = id;
		tg_ap_stack_top = (uint64_t)&tg_stacks[c->index][TG_STACK_SIZE];
		ap_next = c;
		barrier();
		if (tg_send_init_sipi(id, TG_TRAMP_BASE >> 12) < 0) {
			tg_printf("tg: cpu %d apic=%u: IPI not delivered\n", c->index, id);
			continue;
		}
		uint64_t t0 = tg_now_us();
		while (!__atomic_load_n(&c->online, __ATOMIC_ACQUIRE) &&
		       tg_now_us() - t0 < AP_START_TIMEOUT_US)
			cpu_relax();
		if (!c->online) {
			tg_printf("tg: cpu %d apic=%u did not start\n", c->index, id);
			continue;
		}
		up++;
	}
	tg_printf("tg: cpus up=%d of %d\n", up, want);
	return up;
}
