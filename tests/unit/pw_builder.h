/*
 * Page tables built in a unit test's fake guest memory (shared by
 * test_pagewalk.c and test_insn.c). Tables are taken from a bump allocator.
 */
#ifndef VMDBG_TESTS_PW_BUILDER_H
#define VMDBG_TESTS_PW_BUILDER_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "emu/guest_mem.h"
#include "emu/pagewalk.h"

struct pwb {
	struct guest_mem gm;
	void *buf;
	uint64_t next_table; /* bump allocator for 4 KiB tables */
	uint64_t root;
	int top; /* 4 or 5 */
};

static inline uint64_t pwb_alloc(struct pwb *b)
{
	uint64_t gpa = b->next_table;

	b->next_table += 0x1000;
	memset(b->gm.host + gpa, 0, 0x1000);
	return gpa;
}

static inline uint64_t *pwb_entry(struct pwb *b, uint64_t table, unsigned index)
{
	return (uint64_t *)(b->gm.host + table) + index;
}

/* SIZE bytes of RAM; tables from TABLES_AT; a TOP-level (4 or 5) hierarchy. */
static inline void pwb_init(struct pwb *b, uint64_t size, uint64_t tables_at, int top)
{
	b->buf = calloc(1, size);
	gm_init_buf(&b->gm, b->buf, size);
	b->next_table = tables_at;
	b->top = top;
	b->root = pwb_alloc(b);
}

static inline void pwb_free(struct pwb *b)
{
	free(b->buf);
}

/*
 * Map GVA to GPA with a leaf at LEAF_LEVEL (1: 4 KiB, 2: 2 MiB, 3: 1 GiB);
 * FLAGS go into the leaf, intermediate entries get P|RW|US.
 */
static inline void pwb_map(struct pwb *b, uint64_t gva, uint64_t gpa, int leaf_level,
			   uint64_t flags)
{
	uint64_t table = b->root;
	int level;

	for (level = b->top; level > leaf_level; level--) {
		unsigned index = (gva >> (12 + 9 * (level - 1))) & 0x1ff;
		uint64_t *e = pwb_entry(b, table, index);

		if (!(*e & PW_PTE_P))
			*e = pwb_alloc(b) | PW_PTE_P | PW_PTE_RW | PW_PTE_US;
		table = *e & PW_PTE_ADDR;
	}
	*pwb_entry(b, table, (gva >> (12 + 9 * (leaf_level - 1))) & 0x1ff) =
		gpa | flags | (leaf_level > 1 ? PW_PTE_PS : 0);
}

/* The entry at LEVEL on GVA's walk (the tables must exist down to it). */
static inline uint64_t *pwb_walk_entry(struct pwb *b, uint64_t gva, int at_level)
{
	uint64_t table = b->root;
	int level;

	for (level = b->top;; level--) {
		uint64_t *e = pwb_entry(b, table, (gva >> (12 + 9 * (level - 1))) & 0x1ff);

		if (level == at_level)
			return e;
		table = *e & PW_PTE_ADDR;
	}
}

static inline struct pw_ctx pwb_ctx(const struct pwb *b)
{
	struct pw_ctx c = {
		.cr0 = PW_CR0_PG | PW_CR0_WP | 1,
		.cr3 = b->root,
		.cr4 = PW_CR4_PAE | (b->top == 5 ? PW_CR4_LA57 : 0),
		.efer = PW_EFER_LMA | (1ULL << 8) | PW_EFER_NXE,
	};
	return c;
}

#endif
