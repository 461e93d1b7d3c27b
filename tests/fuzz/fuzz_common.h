/*
 * Shared pieces of the libFuzzer targets: an input reader, guest RAM fenced by
 * PROT_NONE guard pages, a checked gm_ptr (linked with -Wl,--wrap=gm_ptr) that
 * also counts guest-memory lookups so a target can bound the work of one call,
 * and a quiet log sink.
 */
#ifndef VMDBG_FUZZ_COMMON_H
#define VMDBG_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "emu/guest_mem.h"

/* Print what was violated and abort: libFuzzer keeps the input as a crash. */
#define FZ_CHECK(cond, ...)                                                                        \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                           \
	} while (0)

__attribute__((noreturn, format(printf, 4, 5))) void fz_fail(const char *file, int line,
							    const char *cond, const char *fmt, ...);

/* Consume the input front to back; reads past the end give zeros. */
struct fz_in {
	const uint8_t *p;
	size_t n;
};

static inline bool fz_left(const struct fz_in *in)
{
	return in->n > 0;
}

uint8_t fz_u8(struct fz_in *in);
uint16_t fz_u16(struct fz_in *in);
uint32_t fz_u32(struct fz_in *in);
uint64_t fz_u64(struct fz_in *in);
/* Up to MAX bytes (fewer at the end of the input); *LEN gets the count. */
const uint8_t *fz_bytes(struct fz_in *in, size_t max, size_t *len);

/*
 * Guest RAM of SIZE bytes (a multiple of 4 KiB) between two inaccessible
 * pages, made once per process and zeroed on every call. GM points at it.
 */
void fz_ram_init(struct guest_mem *gm, uint64_t size);
/* The same for targets whose inputs touch a few pages (memset of all RAM cost more). */
void fz_ram_init_sparse(struct guest_mem *gm, uint64_t size);
void fz_ram_zero(struct guest_mem *gm);

/* gm_ptr lookups since the counter was last cleared. */
extern uint64_t fz_gm_calls;

/* Log messages are formatted (every level) and dropped. */
void fz_quiet_logs(void);

#endif
