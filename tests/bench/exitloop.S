/*
 * A bare 64-bit ELF (no PVH note: vmdbg enters it in long mode with the
 * first 4 GiB identity-mapped) that takes EXITS port-I/O or MMIO exits and
 * powers off through the ACPI sleep register. `make bench` times it with
 * two counts and divides the difference, so start-up cost cancels out.
 * Built with -DEXITS=N and -DMMIO for the MMIO flavour.
 */
	.code64
	.globl _start
_start:
	movabs	$EXITS, %rcx
	test	%rcx, %rcx
	jz	2f
#ifdef MMIO
	movl	$0xd0001000, %ebx	/* past the console's window: no device */
1:	movb	%al, (%rbx)
#else
	movw	$0x500, %dx		/* no device on this port */
1:	outb	%al, %dx
#endif
	dec	%rcx
	jnz	1b
2:	movw	$0x600, %dx		/* SLEEP_CONTROL: SLP_TYP=5, SLP_EN */
	movb	$0x34, %al
	outb	%al, %dx
3:	hlt
	jmp	3b
