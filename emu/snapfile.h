/*
 * The snapshot file: a versioned container of checksummed sections. Every
 * integer is little-endian (vmdbg runs on x86-64 only).
 *
 *   file    := header section* end
 *   header  := magic "VMDBGSNP" (8) | version u32 | header_size u32 (32)
 *              | created u64 (Unix seconds) | flags u32 (0) | crc u32
 *              (crc32 of the 28 bytes before it)
 *   section := tag char[4] | index u32 | length u64 | crc u32 (crc32 of
 *              the payload) | hcrc u32 (crc32 of the 20 bytes before it)
 *              | payload (length bytes)
 *   end     := a section with tag "END " and length 0, last in the file
 *
 * Most payloads are a list of fields, key u32 | length u32 | bytes, so a
 * reader finds what it knows and a field's size is checked before use. The
 * RAM section is a list of runs: offset u64 | length u64 | bytes, offsets
 * into guest RAM as vmdbg maps it (the pages below the 3 GiB hole, then the
 * rest), page-aligned, ascending, only pages that are not all zero.
 *
 * A reader checks the whole file (header, every section's checksums and
 * bounds, the end marker) before anything is restored, so a truncated or
 * corrupted file is refused, never applied half-way.
 */
#ifndef VMDBG_SNAPFILE_H
#define VMDBG_SNAPFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SNAP_MAGIC "VMDBGSNP"
#define SNAP_VERSION 1
#define SNAP_HEADER_SIZE 32
#define SNAP_SECTION_HEADER_SIZE 24
#define SNAP_MAX_SECTIONS 1024

/* Section tags. */
#define SNAP_CONF "CONF" /* machine configuration: memory, vCPUs, kernel, cmdline */
#define SNAP_CPUID "CPID" /* the CPUID table every vCPU was given */
#define SNAP_RAM "RAM "   /* guest RAM, sparse */
#define SNAP_VCPU "VCPU"  /* one per vCPU, index = vCPU number */
#define SNAP_IRQCHIP "IRQC" /* PIC master, PIC slave, IOAPIC */
#define SNAP_PIT "PIT2"
#define SNAP_CLOCK "CLCK" /* kvmclock */
#define SNAP_UART "UART"  /* index 0 = COM1, 1 = COM2 */
#define SNAP_VIRTIO "VIRT" /* one per virtio-mmio device: transport and queues */
#define SNAP_CONSOLE "VCON" /* the console's ports and control queue */
#define SNAP_END "END "

/* --- writing ------------------------------------------------------------- */

struct snap_writer {
	int fd;
	char *path, *tmp_path; /* written to TMP_PATH, renamed over PATH on success */
	int err;               /* first error (negative errno), sticky */
	/* The open section. */
	bool in_section;
	uint64_t sec_start, sec_len;
	uint32_t sec_crc;
	char sec_tag[4];
	uint32_t sec_index;
	uint64_t bytes;        /* file size so far */
};

/* 0 or -errno. Nothing appears at PATH until snap_write_finish succeeds. */
int snap_write_begin(struct snap_writer *w, const char *path);
void snap_section_begin(struct snap_writer *w, const char *tag, uint32_t index);
void snap_put(struct snap_writer *w, const void *buf, size_t len);
/* One field of a field-list payload. */
void snap_field(struct snap_writer *w, uint32_t key, const void *buf, uint32_t len);
void snap_section_end(struct snap_writer *w);
/* Writes the end marker, syncs and renames. Returns 0 or the first error. */
int snap_write_finish(struct snap_writer *w);
/* Drops the temporary file (after an error, or instead of finishing). */
void snap_write_abort(struct snap_writer *w);

/* --- reading ------------------------------------------------------------- */

struct snap_section {
	char tag[5];
	uint32_t index;
	uint64_t length;
	const uint8_t *data;
};

struct snap_file {
	uint8_t *map;
	size_t size;
	bool mapped;           /* snap_open's mapping (snap_close unmaps it) */
	uint32_t version;
	uint64_t created;
	unsigned nsec;
	struct snap_section sec[SNAP_MAX_SECTIONS];
};

/*
 * Map and check PATH. Returns 0, or -errno with ERR naming what is wrong
 * (not a snapshot, wrong version, truncated, which section is corrupted).
 */
int snap_open(struct snap_file *f, const char *path, char *err, size_t errlen);
/* The same checks over a buffer the caller keeps alive (unit tests, fuzzing). */
int snap_parse(struct snap_file *f, const uint8_t *buf, size_t size, char *err, size_t errlen);
void snap_close(struct snap_file *f);

/* The section TAG with INDEX, or NULL. */
const struct snap_section *snap_find(const struct snap_file *f, const char *tag, uint32_t index);
unsigned snap_count(const struct snap_file *f, const char *tag);

/*
 * Field KEY of a field-list section: its bytes and length, or NULL when
 * absent or when the list itself is malformed.
 */
const void *snap_get(const struct snap_section *s, uint32_t key, uint32_t *len);
/* Field KEY copied into DST, which must be exactly LEN bytes long: 0 or -EINVAL/-ENOENT. */
int snap_get_exact(const struct snap_section *s, uint32_t key, void *dst, uint32_t len);
/* Whether the field list of S is well formed (every field inside the section). */
bool snap_fields_ok(const struct snap_section *s);

uint32_t snap_crc32(uint32_t crc, const void *buf, size_t len);

#endif
