/*
 * vmdbg's own /idle for a user's initrd. On the PVM KVM of PLATFORM.md guest user space
 * cannot make system calls, so vmdbg boots Linux with rdinit=/idle: PID 1 is a pause
 * loop that never enters the kernel (scripts/initramfs/idle.S). A user's initramfs has
 * no /idle, so vmdbg carries the program and appends it to the initrd as a second newc
 * archive, which Linux unpacks after the first (compressed or not) and which overwrites
 * an /idle of the user's own.
 */
#ifndef VMDBG_INITRD_IDLE_H
#define VMDBG_INITRD_IDLE_H

#include <stddef.h>
#include <stdint.h>

#define INITRD_IDLE_NAME "idle" /* as the archive names it: /idle in the guest */
#define INITRD_IDLE_MODE 0100755

/* The static x86-64 ELF, built from scripts/initramfs/idle.S (emu/initrd_idle_elf.S). */
extern const uint8_t initrd_idle_elf[], initrd_idle_elf_end[];

static inline size_t initrd_idle_elf_size(void)
{
	return (size_t)(initrd_idle_elf_end - initrd_idle_elf);
}

/*
 * The archive: /idle (root, 0755) and the trailer, a multiple of 4 bytes long, in
 * *ARCHIVE (malloc'ed: the caller frees it). Returns 0 or -ENOMEM.
 */
int initrd_idle_archive(uint8_t **archive, size_t *len);

#endif
