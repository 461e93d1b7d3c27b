#include "initramfs_walk.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static int fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return -1;
}

static bool hex8(const uint8_t *p, uint32_t *v)
{
	*v = 0;
	for (int i = 0; i < 8; i++) {
		int c = p[i], d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else
			return false;
		*v = *v << 4 | (uint32_t)d;
	}
	return true;
}

/*
 * Entries from BUF + *POS (*POS counts like Linux's this_header) until the end or a byte
 * that starts neither an entry ('0') nor padding (0). Returns 0 or -1.
 */
static int walk_entries(const uint8_t *buf, size_t len, size_t *pos, int part,
			struct irw_result *out, char *why, size_t whylen)
{
	while (*pos < len) {
		size_t at = *pos, data_at, next;
		uint32_t f[13];
		struct irw_entry *e;

		if (buf[at] == 0) {
			(*pos)++;
			continue;
		}
		if (buf[at] != '0')
			return 0;
		if (at & 3)
			return fail(why, whylen, "part %d: broken padding: header at %zu", part, at);
		if (len - at < 110)
			return fail(why, whylen, "part %d: truncated header at %zu", part, at);
		if (memcmp(buf + at, "070701", 6))
			return fail(why, whylen, "part %d: no cpio magic at %zu", part, at);
		for (int i = 0; i < 13; i++)
			if (!hex8(buf + at + 6 + 8 * i, &f[i]))
				return fail(why, whylen, "part %d: bad hex field %d at %zu", part, i,
					    at);
		/* ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check */
		if (f[11] == 0 || f[11] > len - at - 110)
			return fail(why, whylen, "part %d: bad namesize %u at %zu", part, f[11], at);
		if (buf[at + 110 + f[11] - 1] != 0)
			return fail(why, whylen, "part %d: name without NUL at %zu", part, at);
		data_at = at + ((110 + f[11] + 3) & ~(size_t)3);
		if (data_at > len || f[6] > len - data_at)
			return fail(why, whylen, "part %d: entry at %zu runs past the end", part, at);
		next = (data_at + f[6] + 3) & ~(size_t)3;
		/* Linux takes that at the very end of an uncompressed initrd; nothing here makes it. */
		if (next > len)
			return fail(why, whylen, "part %d: padding of the entry at %zu is cut short",
				    part, at);
		if (out->n == IRW_MAX_ENTRIES)
			return fail(why, whylen, "more than %d entries", IRW_MAX_ENTRIES);
		e = &out->e[out->n++];
		memset(e, 0, sizeof(*e));
		snprintf(e->name, sizeof(e->name), "%s", (const char *)buf + at + 110);
		e->ino = f[0], e->mode = f[1], e->uid = f[2], e->gid = f[3], e->nlink = f[4];
		e->mtime = f[5], e->filesize = f[6], e->namesize = f[11], e->check = f[12];
		e->data = buf + data_at;
		e->offset = at;
		e->part = part;
		*pos = next;
	}
	return 0;
}

static int inflate_part(const uint8_t *buf, size_t len, uint8_t **outp, size_t *outlen,
			size_t *consumed)
{
	z_stream zs;
	size_t cap = 1 << 16;
	uint8_t *o = malloc(cap);
	int r;

	memset(&zs, 0, sizeof(zs));
	if (!o || inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
		free(o);
		return -1;
	}
	zs.next_in = (Bytef *)buf;
	zs.avail_in = (uInt)len;
	do {
		if (zs.total_out == cap) {
			uint8_t *n = realloc(o, cap * 2);

			if (!n) {
				r = Z_MEM_ERROR;
				break;
			}
			o = n;
			cap *= 2;
		}
		zs.next_out = o + zs.total_out;
		zs.avail_out = (uInt)(cap - zs.total_out);
		r = inflate(&zs, Z_NO_FLUSH);
	} while (r == Z_OK);
	*outlen = zs.total_out;
	*consumed = zs.total_in;
	inflateEnd(&zs);
	if (r != Z_STREAM_END) {
		free(o);
		return -1;
	}
	*outp = o;
	return 0;
}

int irw_walk(const uint8_t *initrd, size_t len, struct irw_result *out, char *why, size_t whylen)
{
	size_t pos = 0;

	memset(out, 0, sizeof(*out));
	while (pos < len) {
		size_t in_len, in_pos = 0, consumed;
		uint8_t *in;

		if (walk_entries(initrd, len, &pos, 0, out, why, whylen))
			return -1;
		if (pos >= len)
			break;
		if (len - pos < 2 || initrd[pos] != 0x1f || initrd[pos + 1] != 0x8b)
			return fail(why, whylen, "invalid magic at start of compressed archive (%zu)",
				    pos);
		if (out->gzip_parts == IRW_MAX_PARTS)
			return fail(why, whylen, "more than %d gzip'd parts", IRW_MAX_PARTS);
		if (inflate_part(initrd + pos, len - pos, &in, &in_len, &consumed))
			return fail(why, whylen, "decompressor failed at %zu", pos);
		out->inflated[out->gzip_parts++] = in;
		if (walk_entries(in, in_len, &in_pos, out->gzip_parts, out, why, whylen))
			return -1;
		if (in_pos != in_len)
			return fail(why, whylen, "junk within compressed archive at %zu", pos);
		pos += consumed;
	}
	return 0;
}

void irw_free(struct irw_result *r)
{
	for (int i = 0; i < r->gzip_parts; i++)
		free(r->inflated[i]);
	r->gzip_parts = 0;
}

const struct irw_entry *irw_find(const struct irw_result *r, const char *name)
{
	for (int i = r->n - 1; i >= 0; i--)
		if (!strcmp(r->e[i].name, name))
			return &r->e[i];
	return NULL;
}
