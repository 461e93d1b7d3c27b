/*
 * Constants shared by the test guest's assembly and C: where it is linked and
 * loaded, its segment selectors, its interrupt vectors. Keep this header
 * preprocessor-only so the .S files can include it.
 */
#ifndef TG_DEFS_H
#define TG_DEFS_H

/* Linked Linux-style: 64-bit code at TG_KERNEL_VMA + physical, loaded at 1 MiB. */
#define TG_KERNEL_VMA 0xffffffff80000000
#define TG_LOAD_PHYS 0x100000

/*
 * The AP trampoline is copied here (SIPI vector 0x01). vmdbg keeps boot data
 * at 0x500, 0x6000-0x7fff, 0x9000-0xefff and 0x20000-0x2ffff; 0x1000 is free.
 */
#define TG_TRAMP_BASE 0x1000
#define TG_TRAMP_MAX 0x1000

#define TG_MAX_CPUS 64
#define TG_STACK_SIZE 16384
#define TG_IST_SIZE 4096

/* GDT: the boot GDT and the runtime GDT share the first four selectors. */
#define TG_SEL_CODE64 0x08
#define TG_SEL_DATA 0x10
#define TG_SEL_CODE32 0x18
#define TG_SEL_TSS0 0x20 /* then one 16-byte TSS descriptor per CPU */

#define TG_VEC_TIMER 0x20
#define TG_VEC_COM1 0x24
#define TG_VEC_SPURIOUS 0xff

/* Exceptions for which the CPU pushes an error code (bitmask of vectors 0-31). */
#define TG_EXC_ERRCODE_MASK ((1 << 8) | (1 << 10) | (1 << 11) | (1 << 12) | (1 << 13) | \
			     (1 << 14) | (1 << 17) | (1 << 21) | (1 << 29) | (1 << 30))

#endif
