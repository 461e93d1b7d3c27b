/*
 * A small AML byte-code emitter (ACPI spec, "ACPI Machine Language
 * Specification"): just what a DSDT describing a few devices needs.
 *
 * Everything is appended to one growable buffer. Objects with a PkgLength
 * (Scope, Device, Package, Buffer) are opened with *_begin, which returns a
 * mark, and closed with aml_end(mark), which inserts the PkgLength once the
 * body's size is known. Errors are sticky: check aml.err once at the end.
 */
#ifndef VMDBG_AML_H
#define VMDBG_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Opcodes and prefixes used by the emitter (and named for tests). */
#define AML_ZERO_OP 0x00
#define AML_ONE_OP 0x01
#define AML_NAME_OP 0x08
#define AML_BYTE_PREFIX 0x0A
#define AML_WORD_PREFIX 0x0B
#define AML_DWORD_PREFIX 0x0C
#define AML_STRING_PREFIX 0x0D
#define AML_QWORD_PREFIX 0x0E
#define AML_SCOPE_OP 0x10
#define AML_BUFFER_OP 0x11
#define AML_PACKAGE_OP 0x12
#define AML_DUAL_NAME_PREFIX 0x2E
#define AML_MULTI_NAME_PREFIX 0x2F
#define AML_EXT_OP_PREFIX 0x5B
#define AML_DEVICE_OP 0x82 /* after AML_EXT_OP_PREFIX */
#define AML_ROOT_CHAR '\\'
#define AML_PARENT_PREFIX '^'

/* The largest length a PkgLength can carry (28 bits). */
#define AML_PKGLENGTH_MAX 0x0FFFFFFFu

/* Resource descriptor flags (ACPI spec, "Resource Data Types for ACPI"). */
#define AML_EXT_IRQ_CONSUMER (1u << 0)
#define AML_EXT_IRQ_EDGE (1u << 1)
#define AML_EXT_IRQ_ACTIVE_LOW (1u << 2)
#define AML_EXT_IRQ_SHARED (1u << 3)

struct aml {
	uint8_t *data;
	size_t len, cap;
	int err; /* first error (-ENOMEM, -EINVAL, -E2BIG) or 0 */
};

void aml_init(struct aml *a);
void aml_free(struct aml *a);

void aml_byte(struct aml *a, uint8_t b);
void aml_bytes(struct aml *a, const void *p, size_t n);
/* N little-endian bytes of V (N <= 8). */
void aml_le(struct aml *a, uint64_t v, unsigned n);

/*
 * Encode LEN (the PkgLength's value, which counts its own bytes) into OUT.
 * Returns the number of bytes (1-4), or 0 when LEN cannot be encoded.
 */
unsigned aml_pkglength_encode(uint8_t out[4], uint32_t len);

/* Data objects. */
void aml_integer(struct aml *a, uint64_t v); /* ZeroOp, OneOp or the shortest prefix */
void aml_string(struct aml *a, const char *s); /* ASCII 0x01-0x7F */
/* EISA id "PNP0501" compressed to its 32-bit integer form, or 0 if malformed. */
uint32_t aml_eisaid(const char *id);

/*
 * A NameString: "\\" or "^" prefixes, then dot-separated segments of up to
 * four of [A-Z0-9_] (the first not a digit), padded with '_'.
 */
void aml_namestring(struct aml *a, const char *path);

/* NameOp + NameString; the caller then emits the object's value. */
void aml_name(struct aml *a, const char *name);

size_t aml_scope_begin(struct aml *a, const char *path);
size_t aml_device_begin(struct aml *a, const char *name);
size_t aml_package_begin(struct aml *a, uint8_t nelems);
/* A buffer of exactly N bytes copied from DATA. */
void aml_buffer(struct aml *a, const void *data, size_t n);
/* Close the object whose *_begin returned MARK. */
void aml_end(struct aml *a, size_t mark);

/* Resource descriptors, appended to a struct aml used as a plain byte buffer. */
void aml_res_memory32_fixed(struct aml *r, bool writable, uint32_t base, uint32_t len);
void aml_res_ext_irq(struct aml *r, uint8_t flags, uint32_t gsi);
void aml_res_io(struct aml *r, uint16_t base, uint8_t len); /* 16-bit decode, fixed */
void aml_res_irq_noflags(struct aml *r, uint8_t irq);       /* ISA: edge, high, exclusive */
/* The End Tag, with the checksum that makes the template's bytes sum to 0. */
void aml_res_end(struct aml *r);

#endif
