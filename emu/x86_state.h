/*
 * Control-register bits (names from the SDM) and the flat segmented state both vmdbg's
 * boot vCPU and the KVM probe's snippets start from.
 */
#ifndef VMDBG_X86_STATE_H
#define VMDBG_X86_STATE_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#define X86_CR0_PE 0x1ULL
#define X86_CR0_ET 0x10ULL
#define X86_CR0_PG 0x80000000ULL
#define X86_CR4_PAE 0x20ULL
#define EFER_SCE 0x1ULL
#define EFER_LME 0x100ULL
#define EFER_LMA 0x400ULL

/* A present, 4 GiB, ring-0 segment of TYPE; CODE64 makes it a long-mode code segment. */
static inline void x86_flat_segment(struct kvm_segment *s, uint16_t sel, uint8_t type, bool code64)
{
	*s = (struct kvm_segment){ .limit = 0xffffffff, .selector = sel, .type = type,
				   .present = 1, .db = !code64, .s = 1, .l = code64, .g = 1 };
}

/*
 * Protected mode, paging off, flat CS and data segments from a GDT of GDT_ENTRIES at
 * GDT_BASE, an IDT of limit 0 (any exception triple-faults), a busy TSS and an LDT as KVM
 * wants them. Callers add paging and long mode.
 */
static inline void x86_flat_protected_mode(struct kvm_sregs *s, uint16_t cs, bool code64,
					   uint16_t ds, uint64_t gdt_base, unsigned gdt_entries)
{
	x86_flat_segment(&s->cs, cs, 0xb, code64);
	x86_flat_segment(&s->ds, ds, 0x3, false);
	s->es = s->fs = s->gs = s->ss = s->ds;
	s->gdt.base = gdt_base;
	s->gdt.limit = gdt_entries * 8 - 1;
	s->idt.base = 0;
	s->idt.limit = 0;
	s->tr = (struct kvm_segment){ .limit = 0x67, .type = 0xb, .present = 1 };
	s->ldt = (struct kvm_segment){ .limit = 0xffff, .type = 0x2, .present = 1 };
	s->cr0 = X86_CR0_PE | X86_CR0_ET;
	s->cr3 = s->cr4 = s->efer = 0;
}

#endif
