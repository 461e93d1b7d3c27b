#include "initrd_idle.h"

#include <errno.h>
#include <stdlib.h>

#include "cpio.h"

int initrd_idle_archive(uint8_t **archive, size_t *len)
{
	size_t cap = cpio_newc_entry_len(INITRD_IDLE_NAME, initrd_idle_elf_size()) +
		     cpio_newc_entry_len(CPIO_TRAILER, 0);
	size_t pos = 0;
	uint8_t *buf = malloc(cap);
	int r;

	if (!buf)
		return -ENOMEM;
	r = cpio_newc_put(buf, cap, &pos, INITRD_IDLE_NAME, INITRD_IDLE_MODE, 1, initrd_idle_elf,
			  initrd_idle_elf_size());
	if (!r)
		r = cpio_newc_put_trailer(buf, cap, &pos);
	if (r) {
		free(buf);
		return r;
	}
	*archive = buf;
	*len = pos;
	return 0;
}
