/*
 * Application-processor trampoline. smp.c copies [tg_tramp_start,
 * tg_tramp_end) to TG_TRAMP_BASE and sends STARTUP IPIs with vector
 * TG_TRAMP_BASE >> 12, so an AP starts here in real mode with CS =
 * TG_TRAMP_BASE >> 4, IP = 0. It switches to 32-bit protected mode and joins
 * the BSP's path into long mode (entry.S), which sends it on to tg_ap_main.
 * Only offsets from tg_tramp_start are used: the code runs at a copy.
 */
#include "defs.h"

#define TRAMP(sym) (TG_TRAMP_BASE + (sym) - tg_tramp_start)

	.section .boot.text, "ax", @progbits
	.code16
	.globl tg_tramp_start, tg_tramp_end
	.balign 16
tg_tramp_start:
	cli
	cld
	movw %cs, %ax
	movw %ax, %ds
	lgdtl tramp_gdtr - tg_tramp_start
	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl $TG_SEL_CODE32, $TRAMP(tramp32)

	.code32
tramp32:
	movl $TG_SEL_DATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl $tg_enter_long_mode, %eax
	jmp *%eax

	.balign 8
	.word 0
tramp_gdtr:
	.word 4 * 8 - 1
	.long tg_boot_gdt
tg_tramp_end:
