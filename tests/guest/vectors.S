/*
 * One 16-byte stub per IDT vector: push a zero error code when the CPU pushes
 * none, push the vector, and join tg_isr_common, which saves the general
 * registers as a struct tg_regs (cpu.h) and calls tg_trap(regs).
 */
#include "defs.h"

	.text
	.code64
	.balign 16
	.globl tg_isr_stubs
tg_isr_stubs:
	vec = 0
	.rept 256
	.balign 16
	.if vec < 32
	.if ((TG_EXC_ERRCODE_MASK >> vec) & 1) == 0
	pushq $0
	.endif
	.else
	pushq $0
	.endif
	pushq $vec
	jmp tg_isr_common
	vec = vec + 1
	.endr

tg_isr_common:
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, %rdi
	cld
	call tg_trap
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rbp
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rbx
	popq %rax
	addq $16, %rsp
	iretq
