/*
 * A test-side AML decoder, written apart from emu/aml.c so that the tests
 * read the DSDT the way an OS would: DefScope, DefDevice, DefName with
 * Integer, String, Buffer and Package data, PkgLength in all its forms,
 * and the resource descriptors inside a _CRS buffer. Anything else is
 * reported as an error rather than skipped.
 */
#ifndef VMDBG_TEST_AML_DECODE_H
#define VMDBG_TEST_AML_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AMLD_PATH_MAX 128
#define AMLD_MAX_NODES 128
#define AMLD_MAX_VALUES 256
#define AMLD_MAX_ELEMS 256

enum amld_type { AMLD_INTEGER, AMLD_STRING, AMLD_BUFFER, AMLD_PACKAGE };

struct amld_value {
	enum amld_type type;
	uint64_t integer;
	const char *string;   /* inside the AML, NUL-terminated there */
	const uint8_t *buf;   /* inside the AML: the initializer bytes */
	size_t buf_len;       /* number of initializer bytes */
	uint64_t buf_size;    /* the BufferSize operand */
	int first_elem;       /* package: indices in amld_doc.elems */
	int nr_elems;         /* package: elements present */
	int num_elements;     /* package: NumElements */
};

enum amld_kind { AMLD_SCOPE, AMLD_DEVICE, AMLD_NAME };

struct amld_node {
	enum amld_kind kind;
	char path[AMLD_PATH_MAX]; /* absolute: "\\_SB_.VR00._HID" */
	int value;                /* AMLD_NAME: index in amld_doc.values */
};

struct amld_doc {
	struct amld_node nodes[AMLD_MAX_NODES];
	int nr_nodes;
	struct amld_value values[AMLD_MAX_VALUES];
	int nr_values;
	int elems[AMLD_MAX_ELEMS]; /* package elements, as value indices */
	int nr_elems;
	char error[160];
};

/*
 * Decode a PkgLength at P (AVAIL bytes readable). *VALUE gets the length
 * it encodes (which counts the PkgLength's own bytes), *NBYTES its size.
 * Returns 0 or -EINVAL (truncated, or bits 5:4 set in a multi-byte lead).
 */
int amld_pkglength(const uint8_t *p, size_t avail, uint32_t *value, unsigned *nbytes);

/* Decode a DSDT/SSDT body (the AML after the 36-byte header). 0 or -EINVAL with doc->error. */
int amld_parse(struct amld_doc *doc, const uint8_t *aml, size_t len);

const struct amld_node *amld_find(const struct amld_doc *doc, const char *path);
/* The value of the Name at PATH, or NULL. */
const struct amld_value *amld_value(const struct amld_doc *doc, const char *path);
/* Element I of package V, or NULL. */
const struct amld_value *amld_elem(const struct amld_doc *doc, const struct amld_value *v, int i);
int amld_count(const struct amld_doc *doc, enum amld_kind kind);

enum amld_res_type { AMLD_RES_IRQ, AMLD_RES_IO, AMLD_RES_MEM32_FIXED, AMLD_RES_EXT_IRQ };

struct amld_res {
	enum amld_res_type type;
	/* AMLD_RES_MEM32_FIXED */
	bool writable;
	uint32_t base, len;
	/* AMLD_RES_EXT_IRQ */
	uint8_t flags;
	int nr_gsis;
	uint32_t gsi; /* the first */
	/* AMLD_RES_IO */
	bool decode16;
	uint16_t io_min, io_max;
	uint8_t io_align, io_len;
	/* AMLD_RES_IRQ */
	uint16_t irq_mask;
	bool irq_has_flags;
	uint8_t irq_flags;
};

/*
 * Decode a resource template (a _CRS buffer's bytes). It must end with an
 * End Tag whose checksum makes the bytes sum to 0 (or is 0) and nothing may
 * follow. Returns the number of descriptors before the End Tag (at most
 * MAX are stored) or -EINVAL with ERR filled.
 */
int amld_resources(const uint8_t *buf, size_t len, struct amld_res *out, int max, char *err,
		   size_t errlen);

#endif
