/*
 * vmdbg's /idle as bytes, for emu/initrd_idle.c: the binary scripts/initramfs/idle.mk
 * builds from scripts/initramfs/idle.S, taken in at build time (IDLE_BIN is its path),
 * so the program exists in one source and is never committed as a generated file.
 */
	.section .rodata, "a"
	.globl	initrd_idle_elf
	.globl	initrd_idle_elf_end
	.type	initrd_idle_elf, @object
	.balign	16
initrd_idle_elf:
	.incbin	IDLE_BIN
initrd_idle_elf_end:
	.size	initrd_idle_elf, initrd_idle_elf_end - initrd_idle_elf

	.section .note.GNU-stack, "", @progbits
