/* Command output: a growable text buffer and a tiny JSON writer over it. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

void cmd_out_init(struct cmd_out *o, bool json)
{
	memset(o, 0, sizeof(*o));
	o->json = json;
}

void cmd_out_reset(struct cmd_out *o)
{
	bool json = o->json;
	char *buf = o->buf;
	size_t cap = o->cap;

	memset(o, 0, sizeof(*o));
	o->json = json;
	o->buf = buf;
	o->cap = cap;
	if (buf)
		buf[0] = 0;
}

void cmd_out_free(struct cmd_out *o)
{
	free(o->buf);
	memset(o, 0, sizeof(*o));
}

static bool grow(struct cmd_out *o, size_t more)
{
	size_t cap = o->cap ? o->cap : 256;
	char *n;

	if (o->len + more + 1 <= o->cap)
		return true;
	while (cap < o->len + more + 1)
		cap *= 2;
	n = realloc(o->buf, cap);
	if (!n)
		return false;
	o->buf = n;
	o->cap = cap;
	return true;
}

void cmd_write(struct cmd_out *o, const char *s, size_t len)
{
	if (!grow(o, len))
		return;
	memcpy(o->buf + o->len, s, len);
	o->len += len;
	o->buf[o->len] = 0;
}

void cmd_printf(struct cmd_out *o, const char *fmt, ...)
{
	size_t room = o->cap > o->len ? o->cap - o->len : 0;
	va_list ap;
	int n;

	/* One pass when the text fits the room left (nearly always); measure only when not. */
	va_start(ap, fmt);
	n = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < room) {
		o->len += (size_t)n;
		return;
	}
	if (!grow(o, (size_t)n)) {
		if (room)
			o->buf[o->len] = 0; /* the truncated first pass is not output */
		return;
	}
	va_start(ap, fmt);
	vsnprintf(o->buf + o->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	o->len += (size_t)n;
}

/* Printable ASCII a JSON string takes as it is: strspn() skips a run of it in one call. */
static const char plain[] = " !#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`"
			    "abcdefghijklmnopqrstuvwxyz{|}~";

/*
 * A JSON string: plain runs are copied whole, not byte by byte (dumps print thousands of
 * keys). CSTR: S[LEN] is the NUL that ends it, so strspn() may find the runs.
 */
static void put_escaped(struct cmd_out *o, const char *s, size_t len, bool cstr)
{
	size_t i = 0;

	cmd_write(o, "\"", 1);
	while (i < len) {
		size_t run = 0;
		unsigned char ch;

		if (cstr)
			run = strspn(s + i, plain);
		else
			while (i + run < len && (unsigned char)s[i + run] >= 0x20 &&
			       (unsigned char)s[i + run] < 0x7f && s[i + run] != '"' && s[i + run] != '\\')
				run++;
		cmd_write(o, s + i, run);
		i += run;
		if (i >= len)
			break;
		ch = (unsigned char)s[i++];
		switch (ch) {
		case '"': cmd_write(o, "\\\"", 2); break;
		case '\\': cmd_write(o, "\\\\", 2); break;
		case '\n': cmd_write(o, "\\n", 2); break;
		case '\r': cmd_write(o, "\\r", 2); break;
		case '\t': cmd_write(o, "\\t", 2); break;
		default: cmd_printf(o, "\\u%04x", ch);
		}
	}
	cmd_write(o, "\"", 1);
}

/* Comma and key before a value. */
static void member(struct cmd_out *o, const char *key)
{
	bool comma = o->depth > 0 && !o->first[o->depth];
	size_t len;

	if (o->depth > 0)
		o->first[o->depth] = false;
	if (!key) {
		if (comma)
			cmd_write(o, ",", 1);
		return;
	}
	len = strlen(key);
	/* The usual key, an identifier: comma, quotes, key and colon in one write. */
	if (strspn(key, plain) == len && grow(o, len + 4)) {
		char *p = o->buf + o->len;

		if (comma)
			*p++ = ',';
		*p++ = '"';
		memcpy(p, key, len);
		p += len;
		*p++ = '"';
		*p++ = ':';
		*p = 0;
		o->len = (size_t)(p - o->buf);
		return;
	}
	if (comma)
		cmd_write(o, ",", 1);
	put_escaped(o, key, len, true);
	cmd_write(o, ":", 1);
}

static void open(struct cmd_out *o, const char *key, char ch)
{
	member(o, key);
	cmd_write(o, &ch, 1);
	if (o->depth < CMD_JSON_DEPTH - 1)
		o->depth++;
	o->first[o->depth] = true;
	o->close[o->depth] = ch == '[' ? ']' : '}';
}

void jw_obj(struct cmd_out *o, const char *key)
{
	open(o, key, '{');
}

void jw_arr(struct cmd_out *o, const char *key)
{
	open(o, key, '[');
}

void jw_end(struct cmd_out *o)
{
	if (o->depth <= 0)
		return;
	cmd_write(o, &o->close[o->depth], 1);
	o->depth--;
}

void jw_strn(struct cmd_out *o, const char *key, const char *val, size_t len)
{
	member(o, key);
	put_escaped(o, val, len, false);
}

void jw_str(struct cmd_out *o, const char *key, const char *val)
{
	if (!val) {
		jw_null(o, key);
		return;
	}
	member(o, key);
	put_escaped(o, val, strlen(val), true);
}

void jw_u64(struct cmd_out *o, const char *key, uint64_t val)
{
	char d[20], *p = d + sizeof(d);

	/* By hand: dumps print thousands of these, and printf is most of their cost. */
	member(o, key);
	do
		*--p = (char)('0' + val % 10);
	while (val /= 10);
	cmd_write(o, p, (size_t)(d + sizeof(d) - p));
}

void jw_i64(struct cmd_out *o, const char *key, int64_t val)
{
	member(o, key);
	cmd_printf(o, "%lld", (long long)val);
}

void jw_dbl(struct cmd_out *o, const char *key, double val)
{
	member(o, key);
	cmd_printf(o, "%.6f", val);
}

void jw_bool(struct cmd_out *o, const char *key, bool val)
{
	member(o, key);
	cmd_printf(o, "%s", val ? "true" : "false");
}

void jw_null(struct cmd_out *o, const char *key)
{
	member(o, key);
	cmd_write(o, "null", 4);
}
