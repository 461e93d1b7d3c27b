#include "aml_decode.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct amld_cursor {
	struct amld_doc *doc;
	const uint8_t *start; /* of the whole AML, for offsets in messages */
};

__attribute__((format(printf, 3, 4))) static int amld_fail(struct amld_cursor *c, const uint8_t *at,
							   const char *fmt, ...)
{
	va_list ap;
	int n;

	if (c->doc->error[0])
		return -EINVAL;
	n = snprintf(c->doc->error, sizeof(c->doc->error), "offset %td: ", at - c->start);
	va_start(ap, fmt);
	vsnprintf(c->doc->error + n, sizeof(c->doc->error) - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int amld_pkglength(const uint8_t *p, size_t avail, uint32_t *value, unsigned *nbytes)
{
	unsigned follow;
	uint32_t v;

	if (avail < 1)
		return -EINVAL;
	follow = p[0] >> 6;
	if (follow == 0) {
		*value = p[0] & 0x3F;
		*nbytes = 1;
		return 0;
	}
	if (avail < 1 + follow || (p[0] & 0x30))
		return -EINVAL;
	v = p[0] & 0x0F;
	for (unsigned i = 0; i < follow; i++)
		v |= (uint32_t)p[1 + i] << (4 + 8 * i);
	*value = v;
	*nbytes = 1 + follow;
	return 0;
}

/* Reads a PkgLength at *P and sets *END to where the object it measures ends. */
static int amld_pkg(struct amld_cursor *c, const uint8_t **p, const uint8_t *limit,
		    const uint8_t **end)
{
	const uint8_t *at = *p;
	uint32_t len;
	unsigned n;

	if (amld_pkglength(at, (size_t)(limit - at), &len, &n))
		return amld_fail(c, at, "malformed PkgLength 0x%02x", at < limit ? at[0] : 0);
	if (len < n || len > (size_t)(limit - at))
		return amld_fail(c, at, "PkgLength %u does not fit (%td bytes left)", len,
				 limit - at);
	*end = at + len;
	*p = at + n;
	return 0;
}

static bool amld_seg_ok(const uint8_t *s)
{
	if (!((s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
		return false;
	for (int i = 1; i < 4; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || s[i] == '_' || (s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

static int amld_path_append(struct amld_cursor *c, const uint8_t *at, char *path,
			    const uint8_t *seg)
{
	size_t n = strlen(path);

	if (n + 6 > AMLD_PATH_MAX)
		return amld_fail(c, at, "name path too long");
	if (n > 1)
		path[n++] = '.';
	memcpy(path + n, seg, 4);
	path[n + 4] = '\0';
	return 0;
}

/* Decode a NameString at *P into an absolute path, relative to SCOPE. */
static int amld_namestring(struct amld_cursor *c, const uint8_t **p, const uint8_t *end,
			   const char *scope, char *out)
{
	const uint8_t *q = *p, *at = *p;
	unsigned nseg;
	int parents = 0;

	if (q < end && *q == '\\') {
		strcpy(out, "\\");
		q++;
	} else {
		snprintf(out, AMLD_PATH_MAX, "%s", scope);
		while (q < end && *q == '^') {
			parents++;
			q++;
		}
		for (; parents > 0; parents--) {
			char *dot = strrchr(out, '.');

			if (dot)
				*dot = '\0';
			else if (strlen(out) > 1)
				out[1] = '\0';
			else
				return amld_fail(c, at, "'^' above the root");
		}
	}
	if (q >= end)
		return amld_fail(c, at, "truncated NameString");
	if (*q == 0x00) {
		nseg = 0;
		q++;
	} else if (*q == 0x2E) {
		nseg = 2;
		q++;
	} else if (*q == 0x2F) {
		if (q + 1 >= end)
			return amld_fail(c, at, "truncated MultiNamePath");
		nseg = q[1];
		q += 2;
	} else {
		nseg = 1;
	}
	if ((size_t)(end - q) < 4 * (size_t)nseg)
		return amld_fail(c, at, "truncated NameString");
	for (unsigned i = 0; i < nseg; i++, q += 4) {
		if (!amld_seg_ok(q))
			return amld_fail(c, q, "bad NameSeg %02x %02x %02x %02x", q[0], q[1], q[2],
					 q[3]);
		if (amld_path_append(c, q, out, q))
			return -EINVAL;
	}
	*p = q;
	return 0;
}

static int amld_new_value(struct amld_cursor *c, const uint8_t *at)
{
	struct amld_doc *d = c->doc;

	if (d->nr_values == AMLD_MAX_VALUES)
		return amld_fail(c, at, "too many values");
	memset(&d->values[d->nr_values], 0, sizeof(d->values[0]));
	return d->nr_values++;
}

static uint64_t amld_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static int amld_data(struct amld_cursor *c, const uint8_t **p, const uint8_t *end, int *out);

static int amld_integer_op(struct amld_cursor *c, const uint8_t **p, const uint8_t *end,
			   uint64_t *v, bool *ok)
{
	static const unsigned width[] = { [0x0A] = 1, [0x0B] = 2, [0x0C] = 4, [0x0E] = 8 };
	const uint8_t *q = *p;
	uint8_t op = *q;

	*ok = true;
	if (op == 0x00 || op == 0x01) {
		*v = op;
		*p = q + 1;
		return 0;
	}
	if (op == 0xFF) {
		*v = ~0ULL;
		*p = q + 1;
		return 0;
	}
	if (op < sizeof(width) / sizeof(width[0]) && width[op]) {
		if ((size_t)(end - q - 1) < width[op])
			return amld_fail(c, q, "truncated integer");
		*v = amld_le(q + 1, width[op]);
		*p = q + 1 + width[op];
		return 0;
	}
	*ok = false;
	return 0;
}

static int amld_data(struct amld_cursor *c, const uint8_t **p, const uint8_t *end, int *out)
{
	struct amld_doc *d = c->doc;
	const uint8_t *q = *p, *obj_end;
	struct amld_value *v;
	uint64_t n;
	bool ok;
	int idx;

	if (q >= end)
		return amld_fail(c, q, "missing data object");
	idx = amld_new_value(c, q);
	if (idx < 0)
		return idx;
	v = &d->values[idx];
	if (amld_integer_op(c, &q, end, &n, &ok))
		return -EINVAL;
	if (ok) {
		v->type = AMLD_INTEGER;
		v->integer = n;
		*p = q;
		*out = idx;
		return 0;
	}
	switch (*q) {
	case 0x0D: { /* String */
		const uint8_t *s = q + 1;

		while (s < end && *s)
			if (*s++ > 0x7F)
				return amld_fail(c, s - 1, "non-ASCII byte in string");
		if (s >= end)
			return amld_fail(c, q, "unterminated string");
		v->type = AMLD_STRING;
		v->string = (const char *)(q + 1);
		*p = s + 1;
		break;
	}
	case 0x11: { /* Buffer */
		q++;
		if (amld_pkg(c, &q, end, &obj_end))
			return -EINVAL;
		if (q >= obj_end || amld_integer_op(c, &q, obj_end, &n, &ok) || !ok)
			return amld_fail(c, q, "BufferSize is not an integer constant");
		v = &d->values[idx];
		v->type = AMLD_BUFFER;
		v->buf = q;
		v->buf_len = (size_t)(obj_end - q);
		v->buf_size = n;
		if (n < v->buf_len)
			return amld_fail(c, q,
					 "BufferSize %llu smaller than its %zu initializer bytes",
					 (unsigned long long)n, v->buf_len);
		*p = obj_end;
		break;
	}
	case 0x12: { /* Package */
		int elems[AMLD_MAX_ELEMS], nr = 0, num;

		q++;
		if (amld_pkg(c, &q, end, &obj_end))
			return -EINVAL;
		if (q >= obj_end)
			return amld_fail(c, q, "package without NumElements");
		num = *q++;
		while (q < obj_end) {
			if (nr == num)
				return amld_fail(c, q, "package holds more than its %d elements",
						 num);
			if (amld_data(c, &q, obj_end, &elems[nr]))
				return -EINVAL;
			nr++;
		}
		if (d->nr_elems + nr > AMLD_MAX_ELEMS)
			return amld_fail(c, q, "too many package elements");
		v = &d->values[idx];
		v->type = AMLD_PACKAGE;
		v->num_elements = num;
		v->nr_elems = nr;
		v->first_elem = d->nr_elems;
		memcpy(&d->elems[d->nr_elems], elems, sizeof(int) * (size_t)nr);
		d->nr_elems += nr;
		*p = obj_end;
		break;
	}
	default:
		return amld_fail(c, q, "unexpected opcode 0x%02x where a data object belongs", *q);
	}
	*out = idx;
	return 0;
}

static int amld_add_node(struct amld_cursor *c, const uint8_t *at, enum amld_kind kind,
			 const char *path, int value)
{
	struct amld_doc *d = c->doc;
	struct amld_node *n;

	if (d->nr_nodes == AMLD_MAX_NODES)
		return amld_fail(c, at, "too many objects");
	if (kind != AMLD_SCOPE && amld_find(d, path))
		return amld_fail(c, at, "%s defined twice", path);
	n = &d->nodes[d->nr_nodes++];
	n->kind = kind;
	snprintf(n->path, sizeof(n->path), "%s", path);
	n->value = value;
	return 0;
}

static int amld_termlist(struct amld_cursor *c, const uint8_t *p, const uint8_t *end,
			 const char *scope)
{
	char path[AMLD_PATH_MAX];

	while (p < end) {
		const uint8_t *at = p, *obj_end;
		int value;

		if (*p == 0x10 || (*p == 0x5B && p + 1 < end && p[1] == 0x82)) {
			enum amld_kind kind = *p == 0x10 ? AMLD_SCOPE : AMLD_DEVICE;

			p += kind == AMLD_SCOPE ? 1 : 2;
			if (amld_pkg(c, &p, end, &obj_end) ||
			    amld_namestring(c, &p, obj_end, scope, path) ||
			    amld_add_node(c, at, kind, path, -1) ||
			    amld_termlist(c, p, obj_end, path))
				return -EINVAL;
			p = obj_end;
		} else if (*p == 0x08) {
			p++;
			if (amld_namestring(c, &p, end, scope, path) ||
			    amld_data(c, &p, end, &value) ||
			    amld_add_node(c, at, AMLD_NAME, path, value))
				return -EINVAL;
		} else {
			return amld_fail(c, at, "unsupported opcode 0x%02x in a term list", *p);
		}
	}
	return 0;
}

int amld_parse(struct amld_doc *doc, const uint8_t *aml, size_t len)
{
	struct amld_cursor c = { doc, aml };

	memset(doc, 0, sizeof(*doc));
	return amld_termlist(&c, aml, aml + len, "\\");
}

const struct amld_node *amld_find(const struct amld_doc *doc, const char *path)
{
	for (int i = 0; i < doc->nr_nodes; i++)
		if (!strcmp(doc->nodes[i].path, path))
			return &doc->nodes[i];
	return NULL;
}

const struct amld_value *amld_value(const struct amld_doc *doc, const char *path)
{
	const struct amld_node *n = amld_find(doc, path);

	if (!n || n->kind != AMLD_NAME)
		return NULL;
	return &doc->values[n->value];
}

const struct amld_value *amld_elem(const struct amld_doc *doc, const struct amld_value *v, int i)
{
	if (!v || v->type != AMLD_PACKAGE || i < 0 || i >= v->nr_elems)
		return NULL;
	return &doc->values[doc->elems[v->first_elem + i]];
}

int amld_count(const struct amld_doc *doc, enum amld_kind kind)
{
	int n = 0;

	for (int i = 0; i < doc->nr_nodes; i++)
		n += doc->nodes[i].kind == kind;
	return n;
}

__attribute__((format(printf, 3, 4))) static int amld_res_fail(char *err, size_t errlen,
							       const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

int amld_resources(const uint8_t *buf, size_t len, struct amld_res *out, int max, char *err,
		   size_t errlen)
{
	size_t off = 0;
	int n = 0;

	while (off < len) {
		const uint8_t *d = buf + off;
		struct amld_res r;
		size_t body;

		memset(&r, 0, sizeof(r));
		if (d[0] & 0x80) { /* large item */
			if (len - off < 3)
				return amld_res_fail(err, errlen, "truncated large item at %zu",
						     off);
			body = (size_t)d[1] | (size_t)d[2] << 8;
			if (body > len - off - 3)
				return amld_res_fail(err, errlen, "large item at %zu overruns",
						     off);
			switch (d[0]) {
			case 0x86:
				if (body != 9)
					return amld_res_fail(err, errlen,
							     "Memory32Fixed length %zu", body);
				r.type = AMLD_RES_MEM32_FIXED;
				r.writable = d[3] & 1;
				r.base = (uint32_t)amld_le(d + 4, 4);
				r.len = (uint32_t)amld_le(d + 8, 4);
				break;
			case 0x89:
				if (body < 6 || body < 2 + 4 * (size_t)d[4] || d[4] == 0)
					return amld_res_fail(err, errlen,
							     "Extended Interrupt length %zu "
							     "for %u interrupts",
							     body, d[4]);
				r.type = AMLD_RES_EXT_IRQ;
				r.flags = d[3];
				r.nr_gsis = d[4];
				r.gsi = (uint32_t)amld_le(d + 5, 4);
				break;
			default:
				return amld_res_fail(err, errlen, "unknown large item 0x%02x",
						     d[0]);
			}
			off += 3 + body;
		} else { /* small item: type in bits 6:3, length in 2:0 */
			uint8_t type = (d[0] >> 3) & 0xF;

			body = d[0] & 7;
			if (body > len - off - 1)
				return amld_res_fail(err, errlen, "small item at %zu overruns",
						     off);
			if (type == 0xF) {
				uint8_t sum = 0;

				if (body != 1)
					return amld_res_fail(err, errlen, "End Tag length %zu",
							     body);
				if (off + 2 != len)
					return amld_res_fail(err, errlen,
							     "%zu bytes after the End Tag",
							     len - off - 2);
				for (size_t i = 0; i < len; i++)
					sum += buf[i];
				if (d[1] != 0 && sum != 0)
					return amld_res_fail(err, errlen,
							     "checksum: bytes sum to 0x%02x", sum);
				return n;
			}
			switch (type) {
			case 0x4:
				if (body != 2 && body != 3)
					return amld_res_fail(err, errlen, "IRQ length %zu", body);
				r.type = AMLD_RES_IRQ;
				r.irq_mask = (uint16_t)amld_le(d + 1, 2);
				r.irq_has_flags = body == 3;
				r.irq_flags = body == 3 ? d[3] : 0;
				break;
			case 0x8:
				if (body != 7)
					return amld_res_fail(err, errlen, "IO length %zu", body);
				r.type = AMLD_RES_IO;
				r.decode16 = d[1] & 1;
				r.io_min = (uint16_t)amld_le(d + 2, 2);
				r.io_max = (uint16_t)amld_le(d + 4, 2);
				r.io_align = d[6];
				r.io_len = d[7];
				break;
			default:
				return amld_res_fail(err, errlen, "unknown small item type 0x%x",
						     type);
			}
			off += 1 + body;
		}
		if (n < max)
			out[n] = r;
		n++;
	}
	return amld_res_fail(err, errlen, "no End Tag");
}
