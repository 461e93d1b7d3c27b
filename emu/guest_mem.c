#include "guest_mem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "layout.h"

static void gm_set_windows(struct guest_mem *gm, uint64_t size)
{
	gm->size = size;
	gm->low_size = size < LAYOUT_RAM_HOLE_START ? size : LAYOUT_RAM_HOLE_START;
}

int gm_init(struct guest_mem *gm, uint64_t size)
{
	void *p;

	memset(gm, 0, sizeof(*gm));
	if (size == 0)
		return -EINVAL;
	/* NORESERVE: an untouched page costs nothing, so --mem can be generous. */
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	madvise(p, size, MADV_MERGEABLE);
	gm->host = p;
	gm->owned = true;
	gm_set_windows(gm, size);
	return 0;
}

void gm_init_buf(struct guest_mem *gm, void *buf, uint64_t size)
{
	memset(gm, 0, sizeof(*gm));
	gm->host = buf;
	gm_set_windows(gm, size);
}

void gm_free(struct guest_mem *gm)
{
	if (gm->owned && gm->host)
		munmap(gm->host, gm->size);
	memset(gm, 0, sizeof(*gm));
}

void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	/* Written so that no sum of guest-controlled numbers can overflow. */
	if (gpa < gm->low_size) {
		if (len > gm->low_size - gpa)
			return NULL;
		return gm->host + gpa;
	}
	if (gpa >= LAYOUT_RAM_HIGH_START) {
		uint64_t off = gpa - LAYOUT_RAM_HIGH_START;
		uint64_t high = gm_high_size(gm);

		if (off >= high || len > high - off)
			return NULL;
		return gm->host + gm->low_size + off;
	}
	return NULL;
}

int gm_read(const struct guest_mem *gm, uint64_t gpa, void *dst, uint64_t len)
{
	void *src = gm_ptr(gm, gpa, len);

	if (!src)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

int gm_write(const struct guest_mem *gm, uint64_t gpa, const void *src, uint64_t len)
{
	void *dst = gm_ptr(gm, gpa, len);

	if (!dst)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

uint64_t gm_end(const struct guest_mem *gm)
{
	if (gm_high_size(gm))
		return LAYOUT_RAM_HIGH_START + gm_high_size(gm);
	return gm->low_size;
}
