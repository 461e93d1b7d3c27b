/*
 * The test guest's core: what every part of it may use. Freestanding: no
 * libc, no SSE, one address space (identity map of 0-4 GiB plus the kernel
 * image at TG_KERNEL_VMA), one stack per CPU.
 */
#ifndef TG_H
#define TG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "defs.h"

#define TG_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define TG_NORETURN __attribute__((noreturn))
#define TG_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* struct hvm_start_info (Xen public/arch-x86/hvm/start_info.h), as PVH loaders pass it. */
#define HVM_START_MAGIC 0x336ec578
struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;   /* version >= 1 */
	uint32_t memmap_entries; /* version >= 1 */
	uint32_t reserved;
};

/* lib.c: the few libc functions the compiler may call on its own, and friends. */
void *memset(void *s, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
/* Parse a decimal or 0x-prefixed hex number that fills [s, s+len); -1 if it is not one. */
int tg_parse_u64(const char *s, size_t len, uint64_t *out);

/* A spinlock that also keeps interrupts off on its CPU while held. */
struct tg_spinlock {
	volatile uint32_t locked;
	uint64_t flags;
};
void tg_spin_lock(struct tg_spinlock *l);
void tg_spin_unlock(struct tg_spinlock *l);

/* console.c: COM1, polled 16550. Lines end in "\r\n" on the wire. */
void tg_console_init(void);
void tg_console_write(const char *s, size_t n); /* no lock: callers serialise */
int tg_console_getc(void);                      /* a received byte, or -1 if none */
void tg_console_enable_rx_irq(void);
int tg_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int tg_snprintf(char *buf, size_t size, const char *fmt, ...) TG_PRINTF(3, 4);
/* One whole message at a time, never interleaved with another CPU's. */
void tg_printf(const char *fmt, ...) TG_PRINTF(1, 2);
/* For exception paths: waits a bounded time for the console lock, then prints anyway. */
void tg_printf_urgent(const char *fmt, ...) TG_PRINTF(1, 2);

/* cmdline.c: "key=value" words from hvm_start_info.cmdline_paddr. */
void tg_cmdline_init(const char *src); /* copies SRC; reports unknown keys */
const char *tg_cmdline(void);
const char *tg_arg_str(const char *key, const char *def);
uint64_t tg_arg_num(const char *key, uint64_t def);

/* acpi.c */
#define TG_ACPI_MAX_IOAPICS 4
struct tg_gas {
	uint8_t space_id; /* 0 SystemMemory, 1 SystemIO */
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;
	uint64_t address;
} __attribute__((packed));

struct tg_acpi {
	uint64_t rsdp;             /* 0: no ACPI */
	int ncpus;                 /* enabled Local APICs in the MADT */
	uint32_t apic_ids[TG_MAX_CPUS];
	uint64_t lapic_addr;
	int nioapics;
	struct {
		uint8_t id;
		uint64_t addr;
		uint32_t gsi_base;
	} ioapic[TG_ACPI_MAX_IOAPICS];
	uint32_t isa_gsi[16];      /* ISA IRQ -> GSI after the MADT's overrides */
	uint16_t isa_flags[16];    /* MPS INTI flags of the override (0: ISA default) */
	/* Power-off. */
	struct tg_gas sleep_control; /* hardware-reduced FADT; address 0 if absent */
	uint32_t pm1a_cnt, pm1b_cnt; /* port I/O */
	uint32_t smi_cmd;
	uint8_t acpi_enable;
	int s5_typ;                  /* -1: no \_S5 found */
	uint64_t dsdt;               /* 0: none with a valid checksum */
};
extern struct tg_acpi tg_acpi;
int tg_acpi_init(uint64_t rsdp_hint); /* 0, or -1 when no valid RSDP was found */
/* A device the DSDT describes with _HID HID: its first Memory32Fixed and interrupt. */
struct tg_acpi_dev {
	uint64_t base;
	uint32_t size;
	uint32_t gsi;
	bool level, active_low;
};
/* The Nth (0, 1, ...) device with _HID HID: 0, or -1 when there is none. */
int tg_acpi_find_hid(const char *hid, int n, struct tg_acpi_dev *out);
TG_NORETURN void tg_poweroff(void);

/* cpu.c: GDT, TSS, IDT and per-CPU state. */
struct tg_regs {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error_code;
	uint64_t rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};

struct tg_cpu {
	struct tg_cpu *self; /* %gs:0 */
	int index;           /* 0 = BSP, then the APs in MADT order */
	uint32_t apic_id;
	volatile int online;
	volatile uint64_t ticks;
	volatile uint64_t tick_target; /* the timer stops itself here (0: never) */
	volatile int ticks_done;
	volatile uint64_t counter;     /* bumped by tg_loop */
	uint64_t deadline_period;      /* TSC cycles per tick in TSC-deadline mode, else 0 */
};
extern struct tg_cpu tg_cpus[TG_MAX_CPUS];
extern int tg_ncpus; /* CPUs tg_smp_start tried to run (BSP included) */
extern volatile bool tg_percpu_ready; /* %gs points at a struct tg_cpu on every running CPU */

static inline struct tg_cpu *this_cpu(void)
{
	struct tg_cpu *c;
	__asm__ volatile("movq %%gs:0, %0" : "=r"(c));
	return c;
}

typedef void (*tg_irq_handler)(struct tg_regs *regs);
void tg_cpu_tables_init(void);          /* once, on the BSP */
void tg_cpu_init(struct tg_cpu *c);     /* on each CPU: GDT, TSS, IDT, %gs */
void tg_set_irq_handler(int vector, tg_irq_handler fn); /* handler EOIs itself */
void tg_trap(struct tg_regs *regs);
TG_NORETURN void tg_halt_forever(void);  /* cli; hlt */
void tg_load_null_idt(void);

/* apic.c: Local APIC (xAPIC MMIO), IOAPIC, timers, delays. */
#define LAPIC_ID 0x20
#define LAPIC_EOI 0xb0
#define LAPIC_SVR 0xf0
#define LAPIC_ESR 0x280
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_CUR 0x390
#define LAPIC_TIMER_DIV 0x3e0
uint32_t lapic_read(uint32_t reg);
void lapic_write(uint32_t reg, uint32_t v);
uint32_t lapic_id(void);
void lapic_eoi(void);
void tg_lapic_init(void);              /* on each CPU */
void tg_calibrate(void);               /* once, BSP: TSC and LAPIC timer rates from the PIT */
extern uint64_t tg_tsc_khz;
extern uint32_t tg_lapic_per_ms;       /* LAPIC timer counts (divide by 16) per ms */
void tg_udelay(uint64_t us);
uint64_t tg_now_us(void);              /* TSC-based, since an arbitrary origin */
void tg_timer_start(uint32_t hz, uint64_t target); /* this CPU's periodic timer */
void tg_timer_stop(void);
int tg_ioapic_route_isa(int irq, int vector, uint32_t dest_apic); /* 0 or -1 */
int tg_ioapic_route_gsi(uint32_t gsi, int vector, uint32_t dest_apic, bool level, bool active_low);
int tg_send_init_sipi(uint32_t apic_id, uint8_t sipi_vector);     /* 0 or -1 (ICR stuck) */

/* smp.c */
int tg_smp_start(int max_cpus); /* returns how many CPUs are online, BSP included */

/* main.c */
extern volatile uint64_t tg_counter;
void tg_loop(struct tg_cpu *c) TG_NORETURN;
void tg_break_here(uint64_t n);
void tg_main(uint32_t start_info_pa); /* entry.S, on the BSP */
void tg_ap_main(void);                /* entry.S, on each AP (smp.c) */
void tg_ap_work(struct tg_cpu *c);    /* what an AP does once online */

#endif
