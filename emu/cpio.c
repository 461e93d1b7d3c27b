#include "cpio.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

size_t cpio_newc_entry_len(const char *name, size_t data_len)
{
	return pad4(CPIO_NEWC_HDR_LEN + strlen(name) + 1) + pad4(data_len);
}

int cpio_newc_put(uint8_t *buf, size_t cap, size_t *pos, const char *name, uint32_t mode,
		  uint32_t ino, const void *data, size_t data_len)
{
	size_t namesize = strlen(name) + 1, len = cpio_newc_entry_len(name, data_len);
	char hdr[CPIO_NEWC_HDR_LEN + 1];
	uint8_t *p;

	if (data_len > UINT32_MAX)
		return -EFBIG;
	if (*pos > cap || cap - *pos < len)
		return -ENOSPC;
	/*
	 * magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor,
	 * rdevmajor, rdevminor, namesize, check (0: newc has no checksum).
	 */
	snprintf(hdr, sizeof(hdr),
		 "%s%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", CPIO_NEWC_MAGIC,
		 ino, mode, 0u, 0u, 1u, 0u, (uint32_t)data_len, 0u, 0u, 0u, 0u,
		 (uint32_t)namesize, 0u);
	p = buf + *pos;
	memset(p, 0, len);
	memcpy(p, hdr, CPIO_NEWC_HDR_LEN);
	memcpy(p + CPIO_NEWC_HDR_LEN, name, namesize);
	if (data_len)
		memcpy(p + pad4(CPIO_NEWC_HDR_LEN + namesize), data, data_len);
	*pos += len;
	return 0;
}

int cpio_newc_put_trailer(uint8_t *buf, size_t cap, size_t *pos)
{
	return cpio_newc_put(buf, cap, pos, CPIO_TRAILER, 0, 0, NULL, 0);
}
