/*
 * x86 guest page-table walks in software (4- and 5-level paging, 2 MiB and
 * 1 GiB pages, 32-bit PAE and non-PAE), through the guest-memory accessor.
 * Used by emulation-failure completion, the REPL's x/translate and gdb.
 */
#ifndef VMDBG_PAGEWALK_H
#define VMDBG_PAGEWALK_H

#include <stdbool.h>
#include <stdint.h>

#include "guest_mem.h"

struct pw_ctx {
	uint64_t cr0, cr3, cr4, efer;
};

#define PW_MAX_LEVELS 5

struct pw_level {
	int level; /* 5, 4, 3, 2, 1 (PML5 .. PT) */
	uint64_t entry_gpa;
	uint64_t entry;
};

struct pw_result {
	uint64_t gpa;
	uint64_t page_size; /* 4 KiB, 2 MiB, 1 GiB (or 4 MiB non-PAE) */
	bool writable, user, nx;
	int nr_levels;
	struct pw_level levels[PW_MAX_LEVELS];
	/*
	 * NULL on success, else why: "PDE not present", "non-canonical
	 * address", or "page table at 0x... is not RAM" (then it points into
	 * fault_buf: valid while this result is).
	 */
	const char *fault;
	char fault_buf[64];
};

/* CR0/CR4/EFER bits the walk depends on. */
#define PW_CR0_WP   (1ULL << 16)
#define PW_CR0_PG   (1ULL << 31)
#define PW_CR4_PSE  (1ULL << 4)
#define PW_CR4_PAE  (1ULL << 5)
#define PW_CR4_LA57 (1ULL << 12)
#define PW_EFER_LMA (1ULL << 10)
#define PW_EFER_NXE (1ULL << 11)

/* Page-table entry bits. */
#define PW_PTE_P    (1ULL << 0)
#define PW_PTE_RW   (1ULL << 1)
#define PW_PTE_US   (1ULL << 2)
#define PW_PTE_PS   (1ULL << 7)
#define PW_PTE_NX   (1ULL << 63)
#define PW_PTE_ADDR 0x000FFFFFFFFFF000ULL /* bits 12..51 */

/* "PML5E", "PML4E", "PDPTE", "PDE", "PTE" for levels 5..1. */
const char *pw_level_name(int level);

/*
 * Translate GVA. With paging off, GPA = GVA. Returns 0, -EFAULT when the walk
 * faults (res->fault says where), or -EIO when a table is not in RAM.
 */
int pw_translate(const struct guest_mem *gm, const struct pw_ctx *ctx, uint64_t gva,
		 struct pw_result *res);

/*
 * Read up to LEN bytes at a GVA, page by page; returns the number of bytes of
 * the readable prefix (0 when the first page is unmapped).
 */
uint64_t pw_read_virt(const struct guest_mem *gm, const struct pw_ctx *ctx, uint64_t gva, void *dst,
		      uint64_t len);
uint64_t pw_write_virt(const struct guest_mem *gm, const struct pw_ctx *ctx, uint64_t gva,
		       const void *src, uint64_t len);

#endif
