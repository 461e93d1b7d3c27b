/*
 * Descriptor tables and per-CPU state. One GDT for all CPUs (a TSS descriptor
 * each), one IDT whose 256 gates point at the stubs in vectors.S. Exceptions
 * print one line and stop the CPU; interrupts go to registered handlers.
 */
#include "tg.h"
#include "io.h"

#define MSR_GS_BASE 0xc0000101
#define IST_CRITICAL 1 /* #DF, NMI and #MC run on their own stack */

struct tss64 {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));

struct idt_gate {
	uint16_t offset_lo;
	uint16_t selector;
	uint8_t ist;
	uint8_t type_attr;
	uint16_t offset_mid;
	uint32_t offset_hi;
	uint32_t zero;
} __attribute__((packed));

struct desc_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

struct tg_cpu tg_cpus[TG_MAX_CPUS];
int tg_ncpus = 1;
volatile bool tg_percpu_ready;

/* Stacks: entry.S starts the BSP on tg_stacks[0]; smp.c hands the others out. */
uint8_t tg_stacks[TG_MAX_CPUS][TG_STACK_SIZE] __attribute__((aligned(16)));
static uint8_t ist_stacks[TG_MAX_CPUS][TG_IST_SIZE] __attribute__((aligned(16)));
static struct tss64 tss[TG_MAX_CPUS];
static uint64_t gdt[TG_SEL_TSS0 / 8 + 2 * TG_MAX_CPUS] __attribute__((aligned(16)));
static struct idt_gate idt[256] __attribute__((aligned(16)));
static tg_irq_handler irq_handlers[256];

extern const char tg_isr_stubs[]; /* vectors.S: 16 bytes per vector */

static const char *const exception_names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS",
	"#NP", "#SS", "#GP", "#PF", "?15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
};

void tg_cpu_tables_init(void)
{
	gdt[TG_SEL_CODE64 / 8] = 0x00af9a000000ffffull;
	gdt[TG_SEL_DATA / 8] = 0x00cf92000000ffffull;
	gdt[TG_SEL_CODE32 / 8] = 0x00cf9a000000ffffull;
	for (int i = 0; i < TG_MAX_CPUS; i++) {
		uint64_t base = (uint64_t)&tss[i];
		uint64_t limit = sizeof(struct tss64) - 1;
		tss[i].ist[IST_CRITICAL - 1] = (uint64_t)&ist_stacks[i][TG_IST_SIZE];
		tss[i].iomap_base = sizeof(struct tss64); /* no I/O bitmap */
		uint64_t lo = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
			      (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
		gdt[TG_SEL_TSS0 / 8 + 2 * i] = lo;
		gdt[TG_SEL_TSS0 / 8 + 2 * i + 1] = base >> 32;
	}
	for (int v = 0; v < 256; v++) {
		uint64_t off = (uint64_t)(tg_isr_stubs + 16 * v);
		idt[v].offset_lo = (uint16_t)off;
		idt[v].selector = TG_SEL_CODE64;
		idt[v].ist = (v == 2 || v == 8 || v == 18) ? IST_CRITICAL : 0;
		idt[v].type_attr = 0x8e; /* present, DPL 0, 64-bit interrupt gate */
		idt[v].offset_mid = (uint16_t)(off >> 16);
		idt[v].offset_hi = (uint32_t)(off >> 32);
		idt[v].zero = 0;
	}
}

void tg_cpu_init(struct tg_cpu *c)
{
	struct desc_ptr g = { sizeof(gdt) - 1, (uint64_t)gdt };
	struct desc_ptr i = { sizeof(idt) - 1, (uint64_t)idt };
	uint64_t tmp;

	c->self = c;
	__asm__ volatile("lgdt %0" : : "m"(g));
	__asm__ volatile("pushq %1\n\t"
			 "leaq 1f(%%rip), %0\n\t"
			 "pushq %0\n\t"
			 "lretq\n"
			 "1:\n\t"
			 "movl %2, %k0\n\t"
			 "movl %k0, %%ds\n\t"
			 "movl %k0, %%es\n\t"
			 "movl %k0, %%ss\n\t"
			 : "=&r"(tmp)
			 : "i"(TG_SEL_CODE64), "i"(TG_SEL_DATA)
			 : "memory");
	__asm__ volatile("ltr %w0" : : "r"(TG_SEL_TSS0 + 16 * c->index));
	__asm__ volatile("lidt %0" : : "m"(i));
	/* Loading %gs zeroes its base: set the base after the selector. */
	__asm__ volatile("movl %0, %%gs" : : "r"(0));
	wrmsr(MSR_GS_BASE, (uint64_t)c);
}

void tg_set_irq_handler(int vector, tg_irq_handler fn)
{
	/* Exceptions only by choice (a #BP the guest expects); the rest halt the CPU. */
	if ((vector >= 32 && vector < 256) || vector == 3)
		irq_handlers[vector] = fn;
}

void tg_halt_forever(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

void tg_load_null_idt(void)
{
	struct desc_ptr i = { 0, 0 };
	__asm__ volatile("lidt %0" : : "m"(i));
}

static void exception(struct tg_regs *r)
{
	int cpu = tg_percpu_ready ? this_cpu()->index : 0;

	tg_printf_urgent("tg: exception %lu err=0x%lx rip=0x%lx cr2=0x%lx cpu=%d %s\n", r->vector,
			 r->error_code, r->rip, read_cr2(), cpu,
			 exception_names[r->vector] ? exception_names[r->vector] : "");
	tg_printf_urgent("tg: regs rsp=0x%lx rbp=0x%lx rax=0x%lx rbx=0x%lx rcx=0x%lx rdx=0x%lx "
			 "rsi=0x%lx rdi=0x%lx rflags=0x%lx cr3=0x%lx\n",
			 r->rsp, r->rbp, r->rax, r->rbx, r->rcx, r->rdx, r->rsi, r->rdi, r->rflags,
			 read_cr3());
	tg_halt_forever();
}

void tg_trap(struct tg_regs *r)
{
	if (r->vector < 32 && !irq_handlers[r->vector]) {
		exception(r);
		return;
	}
	if (irq_handlers[r->vector]) {
		irq_handlers[r->vector](r);
		return;
	}
	if (r->vector == TG_VEC_SPURIOUS)
		return; /* spurious interrupts take no EOI */
	tg_printf_urgent("tg: unexpected interrupt %lu cpu=%d\n", r->vector,
			 tg_percpu_ready ? this_cpu()->index : 0);
	lapic_eoi();
}
