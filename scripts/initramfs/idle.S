/*
 * /idle: PID 1 that never makes a system call.
 *
 * On the PVM KVM of PLATFORM.md guest user space cannot make system calls, so busybox
 * cannot run there; vmdbg boots with rdinit=/idle to keep the kernel up (timer
 * interrupts, the virtio-console handshake, SysRq on hvc0) for a debugging session.
 * It must never return either: PID 1 exiting panics the kernel.
 *
 * Built by scripts/initramfs/idle.mk into build/idle, which goes into the project's
 * initramfs (scripts/mkguest.sh) and into vmdbg itself (emu/initrd_idle.c), which
 * appends it to any user's initrd when it adds rdinit=/idle.
 */
	.text
	.globl	_start
	.type	_start, @function
_start:
1:	pause
	jmp	1b
	.size	_start, . - _start

	.section .note.GNU-stack, "", @progbits
