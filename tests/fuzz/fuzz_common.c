#include "fuzz_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "emu/log.h"

uint64_t fz_gm_calls;

void fz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: invariant violated: %s: ", file, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

uint8_t fz_u8(struct fz_in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

uint16_t fz_u16(struct fz_in *in)
{
	return (uint16_t)(fz_u8(in) | fz_u8(in) << 8);
}

uint32_t fz_u32(struct fz_in *in)
{
	return fz_u16(in) | (uint32_t)fz_u16(in) << 16;
}

uint64_t fz_u64(struct fz_in *in)
{
	return fz_u32(in) | (uint64_t)fz_u32(in) << 32;
}

const uint8_t *fz_bytes(struct fz_in *in, size_t max, size_t *len)
{
	const uint8_t *p = in->p;

	*len = max < in->n ? max : in->n;
	in->p += *len;
	in->n -= *len;
	return p;
}

/* The one fenced RAM region of this process, for the gm_ptr check. */
static uint8_t *fz_ram;
static uint64_t fz_ram_size;

static void ram_map(struct guest_mem *gm, uint64_t size)
{
	long page = sysconf(_SC_PAGESIZE);

	if (!fz_ram) {
		uint8_t *p = mmap(NULL, size + 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED || mprotect(p + page, size, PROT_READ | PROT_WRITE)) {
			perror("fuzz: guest RAM");
			abort();
		}
		fz_ram = p + page;
		fz_ram_size = size;
	}
	FZ_CHECK(size == fz_ram_size, "one RAM size per process (%llu, %llu)",
		 (unsigned long long)size, (unsigned long long)fz_ram_size);
	gm_init_buf(gm, fz_ram, size);
}

void fz_ram_init(struct guest_mem *gm, uint64_t size)
{
	ram_map(gm, size);
	fz_ram_zero(gm);
}

/*
 * Zeroed by dropping the pages: the next touch of each gets a fresh zero page, so an
 * input pays for the pages it uses rather than a memset of all RAM.
 */
void fz_ram_init_sparse(struct guest_mem *gm, uint64_t size)
{
	ram_map(gm, size);
	if (madvise(gm->host, gm->size, MADV_DONTNEED))
		fz_ram_zero(gm);
}

void fz_ram_zero(struct guest_mem *gm)
{
	memset(gm->host, 0, gm->size);
}

void *__real_gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len);
void *__wrap_gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len);

/* Every pointer handed out must lie wholly inside the RAM the accessor was given. */
void *__wrap_gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	uint8_t *p = __real_gm_ptr(gm, gpa, len);

	fz_gm_calls++;
	if (p) {
		FZ_CHECK(p >= gm->host && (uint64_t)(p - gm->host) <= gm->size &&
				 len <= gm->size - (uint64_t)(p - gm->host),
			 "gm_ptr(%#llx, %llu) = host+%#llx outside RAM of %llu bytes",
			 (unsigned long long)gpa, (unsigned long long)len,
			 (unsigned long long)(p - gm->host), (unsigned long long)gm->size);
		if (gm->host == fz_ram)
			FZ_CHECK(p + len <= fz_ram + fz_ram_size, "gm_ptr past the fenced RAM");
	}
	return p;
}

static void fz_sink(enum log_level level, const char *msg)
{
	(void)level;
	(void)msg;
}

void fz_quiet_logs(void)
{
	log_sink = fz_sink;
	log_threshold = LOG_DEBUG;
}
