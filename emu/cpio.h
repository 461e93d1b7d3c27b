/*
 * newc cpio entries ("070701"), the format Linux unpacks into its initramfs
 * (Documentation/driver-api/early-userspace/buffer-format.rst): a 110-byte header of
 * 8-digit hex fields, the name with its NUL, then the data; header+name and data each
 * padded to a multiple of 4 bytes. Entries are owned by root with mtime 0, so an archive
 * depends only on what is in it.
 */
#ifndef VMDBG_CPIO_H
#define VMDBG_CPIO_H

#include <stddef.h>
#include <stdint.h>

#define CPIO_NEWC_MAGIC "070701"
#define CPIO_NEWC_HDR_LEN 110
#define CPIO_TRAILER "TRAILER!!!"

/* Bytes one entry takes, padding included. */
size_t cpio_newc_entry_len(const char *name, size_t data_len);

/*
 * Write one entry at BUF + *POS (*POS a multiple of 4) and advance *POS past it: NAME
 * as the archive names it (no leading slash: "idle"), MODE with its type bits
 * (0100755 for an executable), INO unique within the archive. Returns 0, or -ENOSPC
 * when BUF's CAP bytes cannot hold it, or -EFBIG when DATA_LEN does not fit a newc field.
 */
int cpio_newc_put(uint8_t *buf, size_t cap, size_t *pos, const char *name, uint32_t mode,
		  uint32_t ino, const void *data, size_t data_len);

/* The TRAILER!!! entry that ends an archive; as cpio_newc_put. */
int cpio_newc_put_trailer(uint8_t *buf, size_t cap, size_t *pos);

#endif
