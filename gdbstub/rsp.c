/* RSP framing (see rsp.h). */
#include "rsp.h"

#include <string.h>

enum { ST_IDLE, ST_DATA, ST_ESCAPE, ST_RLE, ST_CSUM1, ST_CSUM2 };

void rsp_init(struct rsp *r)
{
	r->len = 0;
	r->state = ST_IDLE;
	r->sum = r->rx_sum = 0;
	r->overflow = false;
	r->buf[0] = 0;
}

int rsp_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void put(struct rsp *r, uint8_t c)
{
	if (r->len < RSP_PACKET_SIZE)
		r->buf[r->len++] = c;
	else
		r->overflow = true;
}

enum rsp_event rsp_feed(struct rsp *r, uint8_t c)
{
	int v;

	switch (r->state) {
	case ST_IDLE:
		if (c == '$') {
			r->len = 0;
			r->sum = 0;
			r->overflow = false;
			r->state = ST_DATA;
			return RSP_NONE;
		}
		if (c == 0x03)
			return RSP_INTERRUPT;
		if (c == '+')
			return RSP_ACK;
		if (c == '-')
			return RSP_NAK;
		return RSP_NONE; /* noise between packets */
	case ST_DATA:
		if (c == '#') {
			r->state = ST_CSUM1;
			return RSP_NONE;
		}
		if (c == '$') {
			/* A new packet start inside one: gdb gave up on the old one. */
			r->len = 0;
			r->sum = 0;
			r->overflow = false;
			return RSP_NONE;
		}
		r->sum += c;
		if (c == '}')
			r->state = ST_ESCAPE;
		else if (c == '*' && r->len > 0)
			r->state = ST_RLE;
		else
			put(r, c);
		return RSP_NONE;
	case ST_ESCAPE:
		r->sum += c;
		put(r, c ^ 0x20);
		r->state = ST_DATA;
		return RSP_NONE;
	case ST_RLE:
		r->sum += c;
		r->state = ST_DATA;
		/* Repeat count N - 29 (the protocol keeps it printable). */
		if (c >= 29 && !r->overflow) {
			uint8_t prev = r->buf[r->len - 1];

			for (int n = c - 29; n > 0; n--)
				put(r, prev);
		} else {
			r->overflow = true; /* malformed: answered like an oversized packet */
		}
		return RSP_NONE;
	case ST_CSUM1:
		v = rsp_hexval(c);
		r->rx_sum = (uint8_t)((v < 0 ? 0 : v) << 4);
		r->state = v < 0 ? ST_IDLE : ST_CSUM2;
		return v < 0 ? RSP_BAD : RSP_NONE;
	case ST_CSUM2:
		v = rsp_hexval(c);
		r->state = ST_IDLE;
		if (v < 0 || (uint8_t)(r->rx_sum | v) != r->sum)
			return RSP_BAD;
		r->buf[r->len] = 0;
		return r->overflow ? RSP_TOO_LONG : RSP_PACKET;
	}
	r->state = ST_IDLE;
	return RSP_NONE;
}

static bool needs_escape(uint8_t c)
{
	return c == '$' || c == '#' || c == '}' || c == '*';
}

size_t rsp_encode(const uint8_t *payload, size_t len, uint8_t *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, i = 0;
	uint8_t sum = 0;

#define EMIT(ch)                          \
	do {                              \
		uint8_t ch_ = (ch);       \
		if (o < cap)              \
			out[o++] = ch_;   \
		sum += ch_;               \
	} while (0)
	if (cap < 4)
		return 0;
	out[o++] = '$';
	while (i < len) {
		uint8_t c = payload[i];
		size_t run = 1;

		if (needs_escape(c)) {
			EMIT('}');
			EMIT(c ^ 0x20);
			i++;
			continue;
		}
		while (i + run < len && payload[i + run] == c && run < 98)
			run++;
		/* c then '*' and 29 + repeats; counts giving '#', '$' (or '+', '-') are avoided. */
		if (run > 3) {
			size_t rep = run - 1;

			while (rep + 29 == '#' || rep + 29 == '$' || rep + 29 == '+' || rep + 29 == '-')
				rep--;
			EMIT(c);
			EMIT('*');
			EMIT((uint8_t)(rep + 29));
			i += rep + 1;
			continue;
		}
		EMIT(c);
		i++;
	}
#undef EMIT
	if (o + 3 > cap)
		return 0;
	out[o++] = '#';
	out[o++] = hex[sum >> 4];
	out[o++] = hex[sum & 15];
	return o;
}

void rsp_tohex(const uint8_t *src, size_t len, char *dst)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		dst[2 * i] = hex[src[i] >> 4];
		dst[2 * i + 1] = hex[src[i] & 15];
	}
	dst[2 * len] = 0;
}

int rsp_fromhex(const char *src, size_t nchars, uint8_t *dst)
{
	if (nchars % 2)
		return -1;
	for (size_t i = 0; i < nchars / 2; i++) {
		int hi = rsp_hexval((unsigned char)src[2 * i]), lo = rsp_hexval((unsigned char)src[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		dst[i] = (uint8_t)(hi << 4 | lo);
	}
	return (int)(nchars / 2);
}

int rsp_parse_hex(const char **p, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	int n = 0, d;

	while ((d = rsp_hexval((unsigned char)*s)) >= 0) {
		if (v >> 60)
			return -1;
		v = v << 4 | (uint64_t)d;
		s++;
		n++;
	}
	if (!n)
		return -1;
	*p = s;
	*out = v;
	return 0;
}
