/*
 * What identifies a kernel file, so a snapshot can refuse symbols (and a
 * --reboot) from another kernel than the one it was saved with:
 *   "build-id HEX"  the ELF's NT_GNU_BUILD_ID note (as `readelf -n` and
 *                   `file` print it);
 *   "sha256 HEX"    the whole file's SHA-256 (as `sha256sum` prints it) when
 *                   there is no such note: a bzImage (its vmlinux, build id
 *                   included, is compressed inside the payload) or an ELF
 *                   linked without --build-id.
 */
#ifndef VMDBG_KERNEL_ID_H
#define VMDBG_KERNEL_ID_H

#include <stddef.h>

#define KERNEL_ID_MAX 136 /* "build-id " + 2 x 63 bytes of note + NUL */

/* 0, or -errno with ERR naming the file and why it cannot be read. */
int kernel_id(const char *path, char *id, size_t idlen, char *err, size_t errlen);

#endif
