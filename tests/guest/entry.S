/*
 * PVH entry. vmdbg and QEMU start the boot CPU here in 32-bit protected mode,
 * paging off, flat segments, EBX = physical address of struct hvm_start_info.
 * Everything in the .boot.* sections runs before paging and is linked at its
 * physical address; the rest is linked at TG_KERNEL_VMA + physical.
 */
#include "defs.h"

#define CR0_PE (1 << 0)
#define CR0_WP (1 << 16)
#define CR0_PG (1 << 31)
#define CR4_PAE (1 << 5)
#define MSR_EFER 0xc0000080
#define EFER_LME (1 << 8)
#define PTE_P 0x1
#define PTE_RW 0x2
#define PTE_PWT 0x8
#define PTE_PCD 0x10
#define PTE_PS 0x80

/* XEN_ELFNOTE_PHYS32_ENTRY: 8-byte descriptor as Linux's vmlinux has it. */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4
	.long 8
	.long 18
	.asciz "Xen"
	.balign 4
	.quad tg_pvh_entry

	.section .boot.text, "ax", @progbits
	.code32
	.globl tg_pvh_entry
tg_pvh_entry:
	cli
	cld
	movl %ebx, tg_start_info_pa

	/* Nothing guarantees zeroed memory past a segment's file size. */
	xorl %eax, %eax
	movl $tg_boot_bss_start, %edi
	movl $tg_boot_bss_end, %ecx
	subl %edi, %ecx
	rep stosb
	movl $tg_bss_start_pa, %edi
	movl $tg_bss_end_pa, %ecx
	subl %edi, %ecx
	rep stosb

	/*
	 * Identity map 0-4 GiB with 2 MiB pages (the last GiB, where the LAPIC and
	 * IOAPIC live, uncached) and map TG_KERNEL_VMA -> 0 for 1 GiB by reusing
	 * the first page directory.
	 */
	movl $tg_boot_pd, %edi
	xorl %ecx, %ecx
1:	movl %ecx, %eax
	shll $21, %eax
	orl $(PTE_P | PTE_RW | PTE_PS), %eax
	cmpl $1536, %ecx
	jb 2f
	orl $(PTE_PCD | PTE_PWT), %eax
2:	movl %eax, (%edi, %ecx, 8)
	incl %ecx
	cmpl $2048, %ecx
	jb 1b

	movl $tg_boot_pdpt, %edi
	movl $tg_boot_pd + (PTE_P | PTE_RW), %eax
	movl %eax, 0(%edi)
	addl $4096, %eax
	movl %eax, 8(%edi)
	addl $4096, %eax
	movl %eax, 16(%edi)
	addl $4096, %eax
	movl %eax, 24(%edi)

	movl $tg_boot_pdpt_high, %edi
	movl $tg_boot_pd + (PTE_P | PTE_RW), %eax
	movl %eax, 510 * 8(%edi)

	movl $tg_boot_pml4, %edi
	movl $tg_boot_pdpt + (PTE_P | PTE_RW), %eax
	movl %eax, 0(%edi)
	movl $tg_boot_pdpt_high + (PTE_P | PTE_RW), %eax
	movl %eax, 511 * 8(%edi)

	.globl tg_enter_long_mode
tg_enter_long_mode:	/* the AP trampoline joins here, with a flat 32-bit data segment */
	lgdt tg_boot_gdtr
	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $tg_boot_pml4, %eax
	movl %eax, %cr3
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	movl %cr0, %eax
	orl $(CR0_PG | CR0_WP | CR0_PE), %eax
	movl %eax, %cr0
	ljmp $TG_SEL_CODE64, $tg_boot64

	.code64
tg_boot64:
	movl $TG_SEL_DATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	xorl %eax, %eax
	movl %eax, %fs
	movl %eax, %gs
	/* The first CPU through here is the BSP; every later one is an AP. */
	movl $1, %eax
	lock xchgl %eax, tg_boot_cpu_seen
	testl %eax, %eax
	jnz 3f
	movabsq $tg_start64, %rax
	jmp *%rax
3:	movabsq $tg_ap_start64, %rax
	jmp *%rax

	.section .boot.data, "aw", @progbits
	.balign 8
	.globl tg_boot_gdt
tg_boot_gdt:
	.quad 0
	.quad 0x00af9a000000ffff	/* TG_SEL_CODE64 */
	.quad 0x00cf92000000ffff	/* TG_SEL_DATA */
	.quad 0x00cf9a000000ffff	/* TG_SEL_CODE32 */
tg_boot_gdt_end:
	.balign 8
	.word 0
	.globl tg_boot_gdtr
tg_boot_gdtr:
	.word tg_boot_gdt_end - tg_boot_gdt - 1
	.long tg_boot_gdt
	.balign 4
	.globl tg_start_info_pa
tg_start_info_pa:
	.long 0
tg_boot_cpu_seen:
	.long 0

	.section .boot.bss, "aw", @nobits
	.balign 4096
	.globl tg_boot_pml4
tg_boot_pml4:
	.skip 4096
tg_boot_pdpt:
	.skip 4096
tg_boot_pdpt_high:
	.skip 4096
tg_boot_pd:
	.skip 4 * 4096

	.text
	.code64
tg_start64:
	movabsq $tg_stacks + TG_STACK_SIZE, %rsp
	xorl %ebp, %ebp
	movl tg_start_info_pa, %edi
	call tg_main
4:	cli
	hlt
	jmp 4b

/* An AP arrives with the stack the BSP published in tg_ap_stack_top. */
tg_ap_start64:
	movq tg_ap_stack_top(%rip), %rsp
	xorl %ebp, %ebp
	call tg_ap_main
5:	cli
	hlt
	jmp 5b
