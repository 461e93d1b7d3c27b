/*
 * The test guest's main program: set up the boot CPU, read the command line
 * and ACPI, then run the mode the command line names. The "tg: ..." lines are
 * a contract with the integration tests (README.md): keep them stable.
 */
#include "tg.h"
#include "io.h"
#include "vcon.h"

int tg_vcon_reboot_main(void); /* vcon_reboot.c */
void tg_prof_run(uint64_t end_tsc); /* prof.c */
int tg_vcon_soak_main(void);   /* vcon_soak.c */

#define TG_VEC_WAKE 0x30
#define TG_VEC_BP 3
#define ALIVE_EVERY_TICKS 100

enum mode {
	MODE_HELLO, MODE_TRIPLE, MODE_LOOP, MODE_ECHO, MODE_PANIC, MODE_FAULT,
	MODE_VCON, MODE_VCON_WAKE, MODE_VCON_STAY, MODE_VCON_BENCH, MODE_VCON_RESET,
	MODE_VCON_REBOOT, MODE_PROFILE, MODE_VCON_SOAK,
};
static const char *const mode_names[] = {
	"hello", "triple", "loop", "echo", "panic", "fault",
	"vcon", "vcon-wake", "vcon-stay", "vcon-bench", "vcon-reset",
	"vcon-reboot", "profile", "vcon-soak",
};

static enum mode mode;
static uint32_t hz;
static uint64_t ticks_wanted;
static volatile int go; /* the BSP lets the APs start their part */

/* Written by the BSP's tg_loop on every iteration: a target for gdb watchpoints. */
volatile uint64_t tg_counter;

/* Called by tg_loop on the BSP once per timer tick: a target for gdb breakpoints. */
__attribute__((noinline, noipa)) void tg_break_here(uint64_t n)
{
	__asm__ volatile("" : : "r"(n) : "memory");
}

/* #BP's handler with softint=1: counts the guest's own int3s (an exception: no EOI). */
volatile uint64_t tg_soft_ints;
static bool softint;

static void count_bp(struct tg_regs *r)
{
	(void)r;
	tg_soft_ints++;
}

/*
 * With softint=1, called by tg_loop on the BSP once per tick after tg_break_here: a nop, then
 * the guest's own int3 (PVM cannot emulate INT n; vmdbg completes int3 and injects #BP), so a
 * debugger's stepi from here delivers an exception whose frame saves the stepping TF, which
 * the stub must not leak (gdb_step_event.t).
 */
__attribute__((noinline, noipa)) void tg_int_here(void)
{
	__asm__ volatile("nop\n\tint3" : : : "memory");
}

__attribute__((noinline, noipa)) void tg_loop(struct tg_cpu *c)
{
	uint64_t last_tick = c->ticks, next_alive = ALIVE_EVERY_TICKS, alive = 0;

	irq_enable();
	for (;;) {
		c->counter++;
		if (c->index == 0) {
			tg_counter++;
			uint64_t t = c->ticks;
			if (t != last_tick) {
				last_tick = t;
				tg_break_here(t);
				if (softint)
					tg_int_here();
				if (t >= next_alive) {
					next_alive = t + ALIVE_EVERY_TICKS;
					tg_printf("tg: alive %lu\n", ++alive);
				}
			}
		}
		cpu_relax();
	}
}

static void wake_irq(struct tg_regs *r)
{
	lapic_eoi();
}

static void wait_for_go(void)
{
	irq_disable();
	while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE)) {
		safe_halt();
		irq_disable();
	}
}

/* Let every online AP go: they halt until then, so they cost nothing while the BSP works. */
static void release_aps(void)
{
	__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
	for (int i = 1; i < tg_ncpus; i++) {
		if (!tg_cpus[i].online)
			continue;
		lapic_write(LAPIC_ICR_HI, tg_cpus[i].apic_id << 24);
		lapic_write(LAPIC_ICR_LO, TG_VEC_WAKE);
	}
}

/* Take this CPU's ticks with interrupts on, halting in between. */
static void take_ticks(struct tg_cpu *c)
{
	tg_timer_start(hz, ticks_wanted);
	irq_disable();
	while (!c->ticks_done) {
		safe_halt();
		irq_disable();
	}
}

void tg_ap_work(struct tg_cpu *c)
{
	wait_for_go();
	switch (mode) {
	case MODE_HELLO:
		take_ticks(c);
		break;
	case MODE_LOOP:
		tg_timer_start(hz, 0);
		tg_loop(c);
		break;
	case MODE_PROFILE:
		tg_prof_run(0); /* the BSP powers off for every CPU */
		break;
	case MODE_VCON_SOAK:
		/* A slow tick, halted in between: the BSP does the soak's work. */
		tg_timer_start(100, 0);
		for (;;)
			safe_halt();
	default:
		break;
	}
	tg_halt_forever();
}

static void run_hello(void)
{
	struct tg_cpu *bsp = &tg_cpus[0];

	tg_smp_start((int)tg_arg_num("cpus", TG_MAX_CPUS));
	release_aps();
	take_ticks(bsp);

	/* Every CPU's ticks take ticks/hz seconds; allow far more for slow (emulated) CPUs. */
	uint64_t limit_us = 5000000 + ticks_wanted * 1000000 / hz * 20;
	uint64_t t0 = tg_now_us();
	for (int i = 1; i < tg_ncpus; i++)
		while (tg_cpus[i].online && !tg_cpus[i].ticks_done && tg_now_us() - t0 < limit_us)
			cpu_relax();
	for (int i = 0; i < tg_ncpus; i++) {
		if (!tg_cpus[i].online && i)
			continue;
		tg_printf("tg: cpu %d ticks=%lu%s\n", i, tg_cpus[i].ticks,
			  tg_cpus[i].ticks_done ? "" : " (timed out)");
	}
	tg_printf("tg: done\n");
	tg_poweroff();
}

static void run_loop(void)
{
	struct tg_cpu *bsp = &tg_cpus[0];

	softint = tg_arg_num("softint", 0) != 0;
	if (softint)
		tg_set_irq_handler(TG_VEC_BP, count_bp); /* otherwise a #BP halts the CPU as before */
	tg_smp_start((int)tg_arg_num("cpus", TG_MAX_CPUS));
	release_aps();
	tg_timer_start(hz, 0);
	tg_printf("tg: loop running%s%s\n", bsp->deadline_period ? " on TSC-deadline ticks" : "",
		  softint ? " with an int3 each tick" : "");
	tg_loop(bsp);
}

/* Known shares of time in known functions (prof.c), on every CPU; ms=N powers off after N ms. */
static void run_profile(void)
{
	uint64_t ms = tg_arg_num("ms", 0);

	tg_smp_start((int)tg_arg_num("cpus", TG_MAX_CPUS));
	release_aps();
	tg_printf("tg: profile running\n");
	tg_prof_run(ms ? rdtsc() + tg_tsc_khz * ms : 0);
	tg_printf("tg: profile done\n");
	tg_printf("tg: done\n");
	tg_poweroff();
}

/* COM1 input: the IRQ 4 handler and the polling loop both feed this ring (BSP only). */
static uint8_t rx_ring[256];
static volatile uint32_t rx_head, rx_tail;

static void rx_drain(void)
{
	int ch;
	/* A full ring leaves bytes in the UART: the host then holds the rest, nothing is lost. */
	while (rx_head - rx_tail < sizeof(rx_ring) && (ch = tg_console_getc()) >= 0)
		rx_ring[rx_head++ % sizeof(rx_ring)] = (uint8_t)ch;
}

static void com1_irq(struct tg_regs *r)
{
	rx_drain();
	lapic_eoi();
}

static void run_echo(void)
{
	char line[64];
	size_t len = 0;
	bool last_cr = false;

	tg_set_irq_handler(TG_VEC_COM1, com1_irq);
	if (tg_ioapic_route_isa(4, TG_VEC_COM1, tg_cpus[0].apic_id) == 0)
		tg_console_enable_rx_irq();
	/* The timer wakes the loop too, so input is polled even if IRQ 4 never comes. */
	tg_timer_start(100, 0);
	tg_printf("tg: echo ready\n");
	for (;;) {
		irq_disable();
		rx_drain();
		if (rx_tail == rx_head) {
			safe_halt();
			continue;
		}
		uint8_t ch = rx_ring[rx_tail++ % sizeof(rx_ring)];
		irq_enable();
		if (ch == '\n' && last_cr) {
			last_cr = false;
			continue;
		}
		last_cr = ch == '\r';
		if (ch == '\r' || ch == '\n') {
			tg_printf("\n");
			line[len] = '\0';
			if (!strcmp(line, "quit")) {
				tg_printf("tg: echo quit\n");
				tg_printf("tg: done\n");
				tg_poweroff();
			}
			len = 0;
			continue;
		}
		if (len < sizeof(line) - 1)
			line[len++] = (char)ch;
		tg_printf("%c", ch >= 'a' && ch <= 'z' ? ch - 'a' + 'A' : ch);
	}
}

void tg_main(uint32_t start_info_pa)
{
	struct tg_cpu *bsp = &tg_cpus[0];
	const struct hvm_start_info *si = (const void *)(uint64_t)start_info_pa;
	const char *cmdline = NULL;
	uint64_t rsdp_hint = 0;

	tg_cpu_tables_init();
	bsp->index = 0;
	tg_cpu_init(bsp);
	tg_percpu_ready = true;
	tg_console_init();
	tg_printf("tg: hello from the test guest\n");

	if (si && si->magic == HVM_START_MAGIC) {
		if (si->cmdline_paddr && si->cmdline_paddr < 0x100000000ull)
			cmdline = (const char *)si->cmdline_paddr;
		rsdp_hint = si->rsdp_paddr;
	} else {
		tg_printf("tg: no PVH start info (ebx=0x%x)\n", start_info_pa);
	}
	tg_cmdline_init(cmdline);

	const char *m = tg_arg_str("mode", "hello");
	mode = MODE_HELLO;
	size_t i;
	for (i = 0; i < TG_ARRAY_SIZE(mode_names); i++)
		if (!strcmp(m, mode_names[i]))
			break;
	if (i == TG_ARRAY_SIZE(mode_names))
		tg_printf("tg: unknown mode '%s', using hello\n", m);
	else
		mode = (enum mode)i;
	ticks_wanted = tg_arg_num("ticks", 10);
	if (!ticks_wanted)
		ticks_wanted = 1;
	hz = (uint32_t)tg_arg_num("hz", 1000);
	if (!hz || hz > 100000)
		hz = 1000;
	tg_printf("tg: mode %s\n", mode_names[mode]);

	tg_acpi_init(rsdp_hint);

	/* Legacy PIC off: interrupts come through the LAPIC and IOAPIC only. */
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
	bsp->apic_id = lapic_id();
	tg_lapic_init();
	tg_set_irq_handler(TG_VEC_WAKE, wake_irq);
	tg_calibrate();
	tg_printf("tg: cpu 0 up apic=%u\n", bsp->apic_id);
	bsp->online = 1;

	switch (mode) {
	case MODE_HELLO:
		run_hello();
		break;
	case MODE_LOOP:
		run_loop();
		break;
	case MODE_ECHO:
		run_echo();
		break;
	case MODE_TRIPLE:
		tg_printf("tg: triple fault now\n");
		/* #UD cannot be delivered through an empty IDT, nor the #GP and #DF after it. */
		tg_load_null_idt();
		__asm__ volatile("ud2");
		break;
	case MODE_PANIC:
		tg_printf("Kernel panic - not syncing: test guest panic\n");
		break;
	case MODE_VCON:
	case MODE_VCON_WAKE:
	case MODE_VCON_STAY:
	case MODE_VCON_BENCH:
	case MODE_VCON_RESET:
		tg_vcon_main(mode_names[mode]);
		break;
	case MODE_VCON_REBOOT:
		tg_vcon_reboot_main();
		break;
	case MODE_PROFILE:
		run_profile();
		break;
	case MODE_VCON_SOAK:
		tg_smp_start((int)tg_arg_num("cpus", TG_MAX_CPUS));
		release_aps();
		tg_vcon_soak_main();
		break;
	case MODE_FAULT:
		/* An exception the guest handles itself: its handler prints and halts. */
		tg_printf("tg: fault now\n");
		__asm__ volatile("ud2");
		break;
	}
	tg_halt_forever();
}
