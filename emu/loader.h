/*
 * Kernel loading: an ELF kernel through libelf (the PVH entry note, entered
 * in 32-bit protected mode with a struct hvm_start_info; or a 64-bit entry
 * point, entered in long mode), or a bzImage through the Linux 64-bit boot
 * protocol (zero page, command line, initrd, e820).
 */
#ifndef VMDBG_LOADER_H
#define VMDBG_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest_mem.h"
#include "layout.h"

enum boot_mode {
	BOOT_PVH,      /* 32-bit protected mode, paging off, EBX = start info */
	BOOT_LINUX64,  /* bzImage: long mode, identity map, RSI = zero page */
	BOOT_ELF64,    /* ELF64 without PVH note: long mode, identity map, RSI = zero page */
};

struct boot_args {
	const char *kernel;    /* path */
	const char *initrd;    /* path or NULL */
	const char *cmdline;   /* full command line ("" allowed) */
	uint64_t rsdp_gpa;     /* 0: none */
	/*
	 * Bytes that follow the initrd file in guest memory from its next 4-byte boundary
	 * (zeros between), or NULL: a second cpio archive, which Linux unpacks after the
	 * first (buffer-format.rst). The initrd the kernel is told about covers both.
	 * Only with an initrd.
	 */
	const void *initrd_append;
	size_t initrd_append_size;
};

struct boot_info {
	enum boot_mode mode;
	uint64_t entry;        /* RIP (or EIP) at entry */
	uint64_t boot_data;    /* start info (EBX) or zero page (RSI) GPA */
	uint64_t kernel_start, kernel_end; /* GPA range the kernel occupies */
	uint64_t initrd_start, initrd_size; /* initrd_size includes args->initrd_append */
	uint64_t page_tables;  /* PML4 GPA for the long-mode entries, else 0 */
	bool is_elf;
};

/*
 * The GDT the loader writes at LAYOUT_BOOT_GDT, for the vCPU setup to load
 * (GDTR base LAYOUT_BOOT_GDT, limit LOADER_GDT_SIZE - 1) and to mirror in the
 * hidden segment state. The selectors are those Linux's 64-bit boot protocol
 * expects (__BOOT_CS 0x10, __BOOT_DS 0x18); PVH only needs some flat 32-bit
 * code and data, so it uses 0x08 and 0x18. All segments have base 0 and a
 * 4 GiB limit (G=1, limit 0xfffff).
 */
#define LOADER_SEL_CODE32 0x08 /* 32-bit code, execute/read (PVH entry) */
#define LOADER_SEL_CODE64 0x10 /* 64-bit code (L=1), execute/read */
#define LOADER_SEL_DATA 0x18   /* 32-bit data, read/write (DS, ES, SS, FS, GS) */
#define LOADER_GDT_ENTRIES 4
#define LOADER_GDT_SIZE (LOADER_GDT_ENTRIES * 8)
#define LOADER_GDT_CODE32 0x00cf9b000000ffffULL /* accessed bit preset: no write-back */
#define LOADER_GDT_CODE64 0x00af9b000000ffffULL
#define LOADER_GDT_DATA 0x00cf93000000ffffULL

/* PVH module list (one entry: the initrd), right after the start info. */
#define LOADER_PVH_MODLIST (LAYOUT_PVH_START_INFO + 0x40)
/* Identity map of the first 4 GiB: PML4, PDPT, then 4 page directories. */
#define LOADER_PAGE_TABLE_PAGES 6
/* The loader refuses guests with less RAM than this. */
#define LOADER_MIN_RAM (2ULL << 20)
/* e820 entries the loader hands over (e820_build makes at most 4). */
#define LOADER_E820_MAX 16

/* Returns 0 or -errno; ERR gets a one-line reason naming the file and what is wrong. */
int loader_load(const struct guest_mem *gm, const struct boot_args *args, struct boot_info *out,
		char *err, size_t errlen);

/* e820 as Linux's boot_params and PVH's memmap describe RAM and reserved ranges. */
#define E820_RAM 1
#define E820_RESERVED 2
#define E820_ACPI 3

struct e820_entry {
	uint64_t addr, size;
	uint32_t type;
} __attribute__((packed));

/* Fill up to MAX entries; returns how many. */
int e820_build(const struct guest_mem *gm, struct e820_entry *out, int max);

/*
 * Internal to loader.c, loader_elf.c and loader_bzimage.c: one load in
 * progress. Not for other layers.
 */
struct loader_ctx {
	const struct guest_mem *gm;
	const struct boot_args *args;
	struct boot_info *out;
	char *err;
	size_t errlen;
	const uint8_t *kernel;     /* the kernel file, mapped */
	size_t kernel_size;
	const uint8_t *initrd;     /* the initrd file, mapped, or NULL */
	size_t initrd_size;
	uint64_t initrd_limit;     /* the initrd must end at or below this GPA */
	uint64_t cmdline_max;      /* longest command line the kernel takes, NUL excluded */
	const uint8_t *setup;      /* bzImage setup header (file bytes from 0x1f1), or NULL */
	size_t setup_len;
	struct e820_entry e820[LOADER_E820_MAX];
	int e820_nr;
};

/* "64 MiB", "1536 KiB" or "123 bytes", for messages. */
const char *loader_fmt_size(uint64_t bytes, char *buf, size_t len);

__attribute__((format(printf, 3, 4))) int loader_fail(struct loader_ctx *c, int ret,
						      const char *fmt, ...);
/* Load the ELF's segments; set mode, entry, kernel range and limits. */
int loader_elf_load(struct loader_ctx *c);
/* Write the PVH start info, module list and memmap (after the initrd is placed). */
int loader_elf_write_start_info(struct loader_ctx *c);
/* Load the bzImage's protected-mode kernel; set mode, entry, kernel range and limits. */
int loader_bzimage_load(struct loader_ctx *c);
/* Write the zero page; SETUP is the kernel's setup header, or NULL for an ELF64 kernel. */
int loader_write_zero_page(struct loader_ctx *c, const uint8_t *setup, size_t setup_len);

#endif
