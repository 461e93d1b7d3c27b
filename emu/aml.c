#include "aml.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define AML_NAMESEG_LEN 4

static void aml_fail(struct aml *a, int err)
{
	if (!a->err)
		a->err = err;
}

void aml_init(struct aml *a)
{
	memset(a, 0, sizeof(*a));
}

void aml_free(struct aml *a)
{
	free(a->data);
	memset(a, 0, sizeof(*a));
}

static bool aml_reserve(struct aml *a, size_t n)
{
	size_t cap;
	uint8_t *p;

	if (a->err)
		return false;
	if (n > AML_PKGLENGTH_MAX || a->len > AML_PKGLENGTH_MAX - n) {
		aml_fail(a, -E2BIG);
		return false;
	}
	if (a->len + n <= a->cap)
		return true;
	cap = a->cap ? a->cap : 256;
	while (cap < a->len + n)
		cap *= 2;
	p = realloc(a->data, cap);
	if (!p) {
		aml_fail(a, -ENOMEM);
		return false;
	}
	a->data = p;
	a->cap = cap;
	return true;
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (!aml_reserve(a, n))
		return;
	memcpy(a->data + a->len, p, n);
	a->len += n;
}

void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

void aml_le(struct aml *a, uint64_t v, unsigned n)
{
	uint8_t b[8];

	if (n > sizeof(b)) {
		aml_fail(a, -EINVAL);
		return;
	}
	for (unsigned i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	aml_bytes(a, b, n);
}

unsigned aml_pkglength_encode(uint8_t out[4], uint32_t len)
{
	/*
	 * One byte holds 6 bits. Longer forms put the count of following
	 * bytes in bits 7:6 of the lead byte, the low nibble in bits 3:0
	 * and the rest, 8 bits at a time, in the following bytes.
	 */
	if (len <= 0x3F) {
		out[0] = (uint8_t)len;
		return 1;
	}
	if (len > AML_PKGLENGTH_MAX)
		return 0;
	unsigned n = len <= 0xFFF ? 2 : len <= 0xFFFFF ? 3 : 4;

	out[0] = (uint8_t)(((n - 1) << 6) | (len & 0xF));
	for (unsigned i = 1; i < n; i++)
		out[i] = (uint8_t)(len >> (4 + 8 * (i - 1)));
	return n;
}

void aml_end(struct aml *a, size_t mark)
{
	uint8_t enc[4];
	size_t body;
	unsigned n;

	if (a->err)
		return;
	if (mark > a->len) {
		aml_fail(a, -EINVAL);
		return;
	}
	body = a->len - mark;
	/* The PkgLength counts its own bytes, so its size depends on itself. */
	for (n = 1; n <= 4; n++) {
		static const uint32_t max[] = { 0, 0x3F, 0xFFF, 0xFFFFF, AML_PKGLENGTH_MAX };

		if (body + n <= max[n])
			break;
	}
	if (n > 4 || aml_pkglength_encode(enc, (uint32_t)(body + n)) != n) {
		aml_fail(a, -E2BIG);
		return;
	}
	if (!aml_reserve(a, n))
		return;
	memmove(a->data + mark + n, a->data + mark, body);
	memcpy(a->data + mark, enc, n);
	a->len += n;
}

void aml_integer(struct aml *a, uint64_t v)
{
	if (v == 0) {
		aml_byte(a, AML_ZERO_OP);
	} else if (v == 1) {
		aml_byte(a, AML_ONE_OP);
	} else if (v <= 0xFF) {
		aml_byte(a, AML_BYTE_PREFIX);
		aml_le(a, v, 1);
	} else if (v <= 0xFFFF) {
		aml_byte(a, AML_WORD_PREFIX);
		aml_le(a, v, 2);
	} else if (v <= 0xFFFFFFFF) {
		aml_byte(a, AML_DWORD_PREFIX);
		aml_le(a, v, 4);
	} else {
		aml_byte(a, AML_QWORD_PREFIX);
		aml_le(a, v, 8);
	}
}

void aml_string(struct aml *a, const char *s)
{
	for (const char *c = s; *c; c++) {
		if ((unsigned char)*c > 0x7F) {
			aml_fail(a, -EINVAL);
			return;
		}
	}
	aml_byte(a, AML_STRING_PREFIX);
	aml_bytes(a, s, strlen(s) + 1);
}

uint32_t aml_eisaid(const char *id)
{
	uint32_t v = 0;

	if (strlen(id) != 7)
		return 0;
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z')
			return 0;
		v |= (uint32_t)(id[i] - 0x40) << (26 - 5 * i);
	}
	for (int i = 3; i < 7; i++) {
		char c = id[i];
		uint32_t d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return 0;
		v |= d << (4 * (6 - i));
	}
	/* The compressed id is stored big-endian in a little-endian integer. */
	return __builtin_bswap32(v);
}

static bool aml_nameseg_char(char c, bool first)
{
	return (c >= 'A' && c <= 'Z') || c == '_' || (!first && c >= '0' && c <= '9');
}

void aml_namestring(struct aml *a, const char *path)
{
	char segs[255][AML_NAMESEG_LEN];
	const char *p = path;
	unsigned nseg = 0;

	if (*p == AML_ROOT_CHAR) {
		aml_byte(a, AML_ROOT_CHAR);
		p++;
	} else {
		while (*p == AML_PARENT_PREFIX) {
			aml_byte(a, AML_PARENT_PREFIX);
			p++;
		}
	}
	while (*p) {
		unsigned n = 0;

		if (nseg == 255) {
			aml_fail(a, -EINVAL);
			return;
		}
		memset(segs[nseg], '_', AML_NAMESEG_LEN);
		while (*p && *p != '.') {
			if (n == AML_NAMESEG_LEN || !aml_nameseg_char(*p, n == 0)) {
				aml_fail(a, -EINVAL);
				return;
			}
			segs[nseg][n++] = *p++;
		}
		if (n == 0 || (*p == '.' && !p[1])) {
			aml_fail(a, -EINVAL);
			return;
		}
		if (*p == '.')
			p++;
		nseg++;
	}
	if (nseg == 0) {
		aml_byte(a, 0x00); /* NullName */
	} else if (nseg == 2) {
		aml_byte(a, AML_DUAL_NAME_PREFIX);
	} else if (nseg > 2) {
		aml_byte(a, AML_MULTI_NAME_PREFIX);
		aml_byte(a, (uint8_t)nseg);
	}
	aml_bytes(a, segs, (size_t)nseg * AML_NAMESEG_LEN);
}

void aml_name(struct aml *a, const char *name)
{
	aml_byte(a, AML_NAME_OP);
	aml_namestring(a, name);
}

size_t aml_scope_begin(struct aml *a, const char *path)
{
	size_t mark;

	aml_byte(a, AML_SCOPE_OP);
	mark = a->len;
	aml_namestring(a, path);
	return mark;
}

size_t aml_device_begin(struct aml *a, const char *name)
{
	size_t mark;

	aml_byte(a, AML_EXT_OP_PREFIX);
	aml_byte(a, AML_DEVICE_OP);
	mark = a->len;
	aml_namestring(a, name);
	return mark;
}

size_t aml_package_begin(struct aml *a, uint8_t nelems)
{
	size_t mark;

	aml_byte(a, AML_PACKAGE_OP);
	mark = a->len;
	aml_byte(a, nelems);
	return mark;
}

void aml_buffer(struct aml *a, const void *data, size_t n)
{
	size_t mark;

	aml_byte(a, AML_BUFFER_OP);
	mark = a->len;
	aml_integer(a, n);
	aml_bytes(a, data, n);
	aml_end(a, mark);
}

/* Large resource items: tag byte, 16-bit length of what follows. */
static void aml_res_large(struct aml *r, uint8_t tag, uint16_t len)
{
	aml_byte(r, tag);
	aml_le(r, len, 2);
}

void aml_res_memory32_fixed(struct aml *r, bool writable, uint32_t base, uint32_t len)
{
	aml_res_large(r, 0x86, 9);
	aml_byte(r, writable ? 1 : 0);
	aml_le(r, base, 4);
	aml_le(r, len, 4);
}

void aml_res_ext_irq(struct aml *r, uint8_t flags, uint32_t gsi)
{
	aml_res_large(r, 0x89, 6);
	aml_byte(r, flags);
	aml_byte(r, 1); /* interrupt table length */
	aml_le(r, gsi, 4);
}

void aml_res_io(struct aml *r, uint16_t base, uint8_t len)
{
	aml_byte(r, 0x47); /* small item 0x08, length 7 */
	aml_byte(r, 1);	   /* decodes 16 address bits */
	aml_le(r, base, 2);
	aml_le(r, base, 2);
	aml_byte(r, 1); /* alignment */
	aml_byte(r, len);
}

void aml_res_irq_noflags(struct aml *r, uint8_t irq)
{
	if (irq > 15) {
		aml_fail(r, -EINVAL);
		return;
	}
	aml_byte(r, 0x22); /* small item 0x04, length 2 */
	aml_le(r, 1u << irq, 2);
}

void aml_res_end(struct aml *r)
{
	uint8_t sum = 0x79;

	for (size_t i = 0; !r->err && i < r->len; i++)
		sum += r->data[i];
	aml_byte(r, 0x79); /* small item 0x0F, length 1 */
	aml_byte(r, (uint8_t)-sum);
}
