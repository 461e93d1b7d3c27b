#include "pagewalk.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define PAGE_4K 0x1000ULL

static const char *const level_names[] = {NULL, "PTE", "PDE", "PDPTE", "PML4E", "PML5E"};

/* Static so that res->fault stays valid however the result is copied. */
static const char *const not_present[] = {
	NULL,
	"PTE not present",
	"PDE not present",
	"PDPTE not present",
	"PML4E not present",
	"PML5E not present",
};

const char *pw_level_name(int level)
{
	if (level < 1 || level > PW_MAX_LEVELS)
		return "?";
	return level_names[level];
}

/*
 * Read one table entry (4 or 8 bytes) through the guest-memory accessor and
 * record it in RES.
 */
static int pw_read_entry(const struct guest_mem *gm, struct pw_result *res, int level,
			 uint64_t table, unsigned index, unsigned entry_size, uint64_t *entry)
{
	uint64_t gpa = table + (uint64_t)index * entry_size;
	uint32_t e32;
	struct pw_level *l;

	*entry = 0;
	if (entry_size == 4) {
		if (gm_read(gm, gpa, &e32, 4) == 0)
			*entry = e32;
		else
			goto not_ram;
	} else if (gm_read(gm, gpa, entry, 8) != 0) {
		goto not_ram;
	}
	if (res->nr_levels < PW_MAX_LEVELS) {
		l = &res->levels[res->nr_levels++];
		l->level = level;
		l->entry_gpa = gpa;
		l->entry = *entry;
	}
	return 0;
not_ram:
	snprintf(res->fault_buf, sizeof(res->fault_buf), "page table at 0x%" PRIx64 " is not RAM",
		 table);
	res->fault = res->fault_buf;
	return -EIO;
}

/* R/W and U/S grant access only when every level grants it; XD at any level forbids fetch. */
static void pw_accumulate(const struct pw_ctx *ctx, struct pw_result *res, uint64_t entry)
{
	res->writable = res->writable && (entry & PW_PTE_RW);
	res->user = res->user && (entry & PW_PTE_US);
	if (ctx->efer & PW_EFER_NXE)
		res->nx = res->nx || (entry & PW_PTE_NX);
}

/* 4- and 5-level paging (IA-32e), and the PD/PT part of PAE paging. */
static int pw_walk_long(const struct guest_mem *gm, const struct pw_ctx *ctx, uint64_t gva,
			uint64_t table, int top, struct pw_result *res)
{
	uint64_t entry = 0;
	int level, ret;

	for (level = top; level >= 1; level--) {
		unsigned shift = 12 + 9 * (level - 1);
		unsigned index = (gva >> shift) & 0x1ff;

		ret = pw_read_entry(gm, res, level, table, index, 8, &entry);
		if (ret)
			return ret;
		if (!(entry & PW_PTE_P)) {
			res->fault = not_present[level];
			return -EFAULT;
		}
		pw_accumulate(ctx, res, entry);
		if ((level == 3 || level == 2) && (entry & PW_PTE_PS)) {
			uint64_t size = 1ULL << shift;

			/* Bit 12 of a large-page entry is PAT, not address. */
			res->page_size = size;
			res->gpa = (entry & PW_PTE_ADDR & ~(size - 1)) | (gva & (size - 1));
			return 0;
		}
		table = entry & PW_PTE_ADDR;
	}
	res->page_size = PAGE_4K;
	res->gpa = table | (gva & (PAGE_4K - 1));
	return 0;
}

static int pw_walk_pae(const struct guest_mem *gm, const struct pw_ctx *ctx, uint64_t gva,
		       struct pw_result *res)
{
	uint64_t pdpte;
	int ret;

	gva &= 0xffffffffULL;
	/* CR3 holds a 32-byte aligned PDPT of four entries. */
	ret = pw_read_entry(gm, res, 3, ctx->cr3 & 0xffffffe0ULL, gva >> 30, 8, &pdpte);
	if (ret)
		return ret;
	if (!(pdpte & PW_PTE_P)) {
		res->fault = not_present[3];
		return -EFAULT;
	}
	/* PAE PDPTEs carry no R/W, U/S or XD: the permissions come from below. */
	return pw_walk_long(gm, ctx, gva, pdpte & PW_PTE_ADDR, 2, res);
}

static int pw_walk_legacy(const struct guest_mem *gm, const struct pw_ctx *ctx, uint64_t gva,
			  struct pw_result *res)
{
	uint64_t pde, pte;
	int ret;

	gva &= 0xffffffffULL;
	ret = pw_read_entry(gm, res, 2, ctx->cr3 & 0xfffff000ULL, gva >> 22, 4, &pde);
	if (ret)
		return ret;
	if (!(pde & PW_PTE_P)) {
		res->fault = not_present[2];
		return -EFAULT;
	}
	pw_accumulate(ctx, res, pde);
	if ((pde & PW_PTE_PS) && (ctx->cr4 & PW_CR4_PSE)) {
		/* PSE-36: PDE bits 20:13 are physical-address bits 39:32. */
		uint64_t base = (pde & 0xffc00000ULL) | (((pde >> 13) & 0xff) << 32);

		res->page_size = 0x400000;
		res->gpa = base | (gva & 0x3fffff);
		return 0;
	}
	ret = pw_read_entry(gm, res, 1, pde & 0xfffff000ULL, (gva >> 12) & 0x3ff, 4, &pte);
	if (ret)
		return ret;
	if (!(pte & PW_PTE_P)) {
		res->fault = not_present[1];
		return -EFAULT;
	}
	pw_accumulate(ctx, res, pte);
	res->page_size = PAGE_4K;
	res->gpa = (pte & 0xfffff000ULL) | (gva & 0xfff);
	return 0;
}

int pw_translate(const struct guest_mem *gm, const struct pw_ctx *ctx, uint64_t gva,
		 struct pw_result *res)
{
	memset(res, 0, sizeof(*res));
	res->writable = true;
	res->user = true;

	if (!(ctx->cr0 & PW_CR0_PG)) {
		res->gpa = gva;
		res->page_size = PAGE_4K;
		return 0;
	}
	if (ctx->efer & PW_EFER_LMA) {
		bool la57 = ctx->cr4 & PW_CR4_LA57;
		unsigned bits = la57 ? 57 : 48;
		int64_t sext = (int64_t)(gva << (64 - bits)) >> (64 - bits);

		if ((uint64_t)sext != gva) {
			res->fault = "non-canonical address";
			return -EFAULT;
		}
		return pw_walk_long(gm, ctx, gva, ctx->cr3 & PW_PTE_ADDR, la57 ? 5 : 4, res);
	}
	if (ctx->cr4 & PW_CR4_PAE)
		return pw_walk_pae(gm, ctx, gva, res);
	return pw_walk_legacy(gm, ctx, gva, res);
}

/*
 * Bytes from GVA to the end of its 4 KiB page, capped at LEFT: 4 KiB steps even
 * within a large page, so a page that runs past RAM still yields its RAM prefix.
 */
static uint64_t pw_chunk(uint64_t gva, uint64_t page_size, uint64_t left)
{
	uint64_t room = page_size - (gva & (page_size - 1));

	return room < left ? room : left;
}

uint64_t pw_read_virt(const struct guest_mem *gm, const struct pw_ctx *ctx, uint64_t gva, void *dst,
		      uint64_t len)
{
	struct pw_result res;
	uint64_t done = 0;

	while (done < len) {
		uint64_t va = gva + done, n;

		if (pw_translate(gm, ctx, va, &res))
			break;
		n = pw_chunk(va, PAGE_4K, len - done);
		if (gm_read(gm, res.gpa, (uint8_t *)dst + done, n))
			break;
		done += n;
	}
	return done;
}

uint64_t pw_write_virt(const struct guest_mem *gm, const struct pw_ctx *ctx, uint64_t gva,
		       const void *src, uint64_t len)
{
	struct pw_result res;
	uint64_t done = 0;

	while (done < len) {
		uint64_t va = gva + done, n;

		if (pw_translate(gm, ctx, va, &res))
			break;
		n = pw_chunk(va, PAGE_4K, len - done);
		if (gm_write(gm, res.gpa, (const uint8_t *)src + done, n))
			break;
		done += n;
	}
	return done;
}
