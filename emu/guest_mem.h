/*
 * Guest RAM and the one bounds-checked accessor every layer uses to touch it.
 *
 * RAM is one host mapping. The first min(size, 3 GiB) bytes appear at GPA 0;
 * the rest appears at GPA 4 GiB, past the PCI/MMIO hole. An access is valid
 * only when it lies wholly inside one of those two windows: a guest-supplied
 * address or length can never reach host memory outside the mapping.
 */
#ifndef VMDBG_GUEST_MEM_H
#define VMDBG_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct guest_mem {
	uint8_t *host;     /* start of the mapping */
	uint64_t size;     /* bytes of RAM in all */
	uint64_t low_size; /* bytes mapped at GPA 0 (the rest is at 4 GiB) */
	bool owned;        /* mapping made by gm_init (munmap on free) */
};

/* Map SIZE bytes of anonymous RAM. Returns 0 or -errno. */
int gm_init(struct guest_mem *gm, uint64_t size);
/* Use a caller's buffer as guest RAM (unit tests' fake guest memory). */
void gm_init_buf(struct guest_mem *gm, void *buf, uint64_t size);
void gm_free(struct guest_mem *gm);

/* Host pointer for [gpa, gpa+len) or NULL when any byte of it is not RAM. */
void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len);
static inline bool gm_is_ram(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	return gm_ptr(gm, gpa, len) != NULL;
}

/* Copy in or out; -EFAULT (nothing copied) when the range is not all RAM. */
int gm_read(const struct guest_mem *gm, uint64_t gpa, void *dst, uint64_t len);
int gm_write(const struct guest_mem *gm, uint64_t gpa, const void *src, uint64_t len);

/* Bytes of RAM above 4 GiB. */
static inline uint64_t gm_high_size(const struct guest_mem *gm)
{
	return gm->size - gm->low_size;
}

/* One past the highest RAM GPA. */
uint64_t gm_end(const struct guest_mem *gm);

#endif
