/*
 * A test-side initramfs reader, written apart from emu/cpio.c so that the tests read an
 * initrd the way Linux 6.1's init/initramfs.c (unpack_to_rootfs) does: newc entries one
 * after another, zeros allowed between them, each header at a 4-byte boundary of the
 * whole initrd (of the decompressed stream inside a compressed part), gzip'd parts
 * ending at an entry's end. Anything Linux would refuse is reported as an error.
 */
#ifndef VMDBG_TEST_INITRAMFS_WALK_H
#define VMDBG_TEST_INITRAMFS_WALK_H

#include <stddef.h>
#include <stdint.h>

#define IRW_MAX_ENTRIES 32
#define IRW_MAX_PARTS 4

struct irw_entry {
	char name[128];
	uint32_t ino, mode, uid, gid, nlink, mtime, filesize, namesize, check;
	const uint8_t *data;   /* FILESIZE bytes (in the initrd or an inflated part) */
	size_t offset;         /* of the header: in the initrd, or in its inflated part */
	int part;              /* 0: uncompressed in the initrd; N: the Nth gzip'd part */
};

struct irw_result {
	struct irw_entry e[IRW_MAX_ENTRIES];
	int n;
	int gzip_parts;
	uint8_t *inflated[IRW_MAX_PARTS];
};

/* Returns 0, or -1 with WHY saying what Linux would complain about and where. */
int irw_walk(const uint8_t *initrd, size_t len, struct irw_result *out, char *why, size_t whylen);
void irw_free(struct irw_result *r);
/* The last entry named NAME (later archives overwrite earlier files), or NULL. */
const struct irw_entry *irw_find(const struct irw_result *r, const char *name);

#endif
