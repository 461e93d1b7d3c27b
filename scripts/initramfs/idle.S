/*
 * /idle: PID 1 that never makes a system call.
 *
 * On the PVM KVM of PLATFORM.md guest user space cannot make system calls, so busybox
 * cannot run there; vmdbg boots with rdinit=/idle to keep the kernel up (timer
 * interrupts, the virtio-console handshake, SysRq on hvc0) for a debugging session.
 * It must never return either: PID 1 exiting panics the kernel.
 */
	.text
	.globl	_start
	.type	_start, @function
_start:
1:	pause
	jmp	1b
	.size	_start, . - _start

	.section .note.GNU-stack, "", @progbits
