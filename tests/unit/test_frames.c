/* The port-1 frame decoder: docs/console.md, "The port-1 framed stream". */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "emu/log.h"
#include "virtio/frames.h"

#define SMALL_CAP 4096u

struct rec {
	uint32_t type;
	char tag[5];
	uint32_t length;
	uint32_t crc_announced, crc_computed;
	bool crc_ok, pad_ok, rejected;
	enum frame_reject reject;
	uint32_t pad;
	uint64_t offset, dropped;
	uint32_t payload_crc; /* recomputed here from the bytes the callback saw */
};

struct recs {
	struct rec *v;
	size_t n, alloc;
};

static void record(const struct frame *f, void *opaque)
{
	struct recs *r = opaque;
	struct rec *e;

	if (r->n == r->alloc) {
		r->alloc = r->alloc ? r->alloc * 2 : 16;
		r->v = realloc(r->v, r->alloc * sizeof(*r->v));
		assert_non_null(r->v);
	}
	e = &r->v[r->n++];
	memset(e, 0, sizeof(*e));
	e->type = f->type;
	memcpy(e->tag, f->tag, sizeof(e->tag));
	e->length = f->length;
	e->crc_announced = f->crc_announced;
	e->crc_computed = f->crc_computed;
	e->crc_ok = f->crc_ok;
	e->pad_ok = f->pad_ok;
	e->pad = f->pad;
	e->rejected = f->rejected;
	e->reject = f->reject;
	e->offset = f->offset;
	e->dropped = f->dropped;
	if (f->rejected)
		assert_null(f->payload);
	else
		e->payload_crc = frame_crc32(f->payload, f->length);
}

static void recs_free(struct recs *r)
{
	free(r->v);
	memset(r, 0, sizeof(*r));
}

/* Warnings land here instead of stderr. */
static int warn_count;
static char last_warn[1024];

static void capture_log(enum log_level level, const char *msg)
{
	if (level <= LOG_WARN) {
		warn_count++;
		snprintf(last_warn, sizeof(last_warn), "%s", msg);
	}
}

static int setup(void **state)
{
	log_sink = capture_log;
	log_threshold = LOG_INFO;
	warn_count = 0;
	last_warn[0] = '\0';
	return 0;
}

static int teardown(void **state)
{
	log_sink = NULL;
	return 0;
}

/* Deterministic bytes for payloads and chunk sizes (xorshift64*). */
static uint64_t rng_state;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 8));
}

/* A growable byte stream of encoded frames. */
struct stream {
	uint8_t *b;
	size_t n, alloc;
};

static uint8_t *stream_room(struct stream *s, size_t n)
{
	if (s->n + n > s->alloc) {
		s->alloc = (s->n + n) * 2;
		s->b = realloc(s->b, s->alloc);
		assert_non_null(s->b);
	}
	s->n += n;
	return s->b + s->n - n;
}

static size_t stream_frame(struct stream *s, uint32_t type, const void *payload, uint32_t len)
{
	size_t at = s->n;

	frames_encode(type, payload, len, stream_room(s, FRAME_HDR_SIZE + len));
	return at;
}

/* Set a little-endian header field of the frame that starts at `at`. */
static void poke32(struct stream *s, size_t at, size_t field, uint32_t v)
{
	frame_le32_put(s->b + at + field, v);
}

static uint32_t crc32_bitwise(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
	}
	return ~c;
}

static void test_crc32_vectors(void **state)
{
	const char *fox = "The quick brown fox jumps over the lazy dog";
	uint8_t buf[1000];

	assert_int_equal(frame_crc32("123456789", 9), 0xcbf43926u);
	assert_int_equal(frame_crc32("", 0), 0);
	assert_int_equal(frame_crc32("a", 1), 0xe8b7be43u);
	assert_int_equal(frame_crc32(fox, strlen(fox)), 0x414fa339u);
	/* Continuing a CRC equals one pass over the concatenation. */
	assert_int_equal(frame_crc32_update(frame_crc32_update(0, "1234", 4), "56789", 5),
			 0xcbf43926u);
	rng_state = 7;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rng();
	for (size_t n = 0; n <= sizeof(buf); n += 37)
		assert_int_equal(frame_crc32(buf, n), crc32_bitwise(buf, n));
}

static void test_one_frame(void **state)
{
	struct frame_decoder dec;
	struct recs r = { 0 };
	uint8_t wire[FRAME_HDR_SIZE + 4];
	uint8_t code[4] = { 42, 0, 0, 0 };

	assert_int_equal(frames_init(&dec, 0), 0);
	assert_int_equal(dec.cap, FRAME_MAX_PAYLOAD);
	assert_int_equal(frames_encode(FRAME_TYPE_EXIT, code, 4, wire), sizeof(wire));
	assert_int_equal(frames_feed(&dec, wire, sizeof(wire), record, &r), 1);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.v[0].type, 0x45584954u);
	assert_string_equal(r.v[0].tag, "EXIT");
	assert_int_equal(r.v[0].length, 4);
	assert_true(r.v[0].crc_ok);
	assert_int_equal(r.v[0].crc_computed, frame_crc32(code, 4));
	assert_int_equal(r.v[0].crc_announced, r.v[0].crc_computed);
	assert_true(r.v[0].pad_ok);
	assert_false(r.v[0].rejected);
	assert_int_equal(r.v[0].offset, 0);
	assert_int_equal(r.v[0].payload_crc, frame_crc32(code, 4));
	assert_false(frames_partial(&dec, NULL, NULL, NULL));
	assert_int_equal(frames_stats(&dec)->frames, 1);
	assert_int_equal(frames_stats(&dec)->bytes, sizeof(wire));
	assert_int_equal(warn_count, 0);
	/* An empty feed does nothing. */
	assert_int_equal(frames_feed(&dec, wire, 0, record, &r), 0);
	assert_int_equal(r.n, 1);
	frames_free(&dec);
	recs_free(&r);
}

static void assert_recs_equal(const struct recs *a, const struct recs *b)
{
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n; i++)
		assert_memory_equal(&a->v[i], &b->v[i], sizeof(a->v[i]));
}

static void decode_all(const uint8_t *b, size_t n, uint32_t cap, struct recs *r)
{
	struct frame_decoder dec;

	assert_int_equal(frames_init(&dec, cap), 0);
	assert_true(frames_feed(&dec, b, n, record, r) >= 0);
	frames_free(&dec);
}

/* A small stream: a zero-length frame between two with payloads. */
static void build_small_stream(struct stream *s)
{
	uint8_t p[40];

	fill(p, sizeof(p), 3);
	stream_frame(s, FRAME_TYPE_SOUT, p, 23);
	stream_frame(s, FRAME_TYPE_SRDY, NULL, 0);
	stream_frame(s, FRAME_TYPE_EXIT, p + 23, 4);
}

static void test_split_everywhere(void **state)
{
	struct stream s = { 0 };
	struct recs whole = { 0 };

	build_small_stream(&s);
	decode_all(s.b, s.n, 0, &whole);
	assert_int_equal(whole.n, 3);
	assert_string_equal(whole.v[0].tag, "SOUT");
	assert_int_equal(whole.v[1].length, 0);
	assert_true(whole.v[1].crc_ok);
	assert_int_equal(whole.v[1].offset, FRAME_HDR_SIZE + 23);
	assert_int_equal(whole.v[2].offset, 2 * FRAME_HDR_SIZE + 23);

	/* Byte by byte. */
	{
		struct frame_decoder dec;
		struct recs r = { 0 };

		assert_int_equal(frames_init(&dec, 0), 0);
		for (size_t i = 0; i < s.n; i++)
			assert_true(frames_feed(&dec, s.b + i, 1, record, &r) >= 0);
		assert_recs_equal(&r, &whole);
		assert_false(frames_partial(&dec, NULL, NULL, NULL));
		frames_free(&dec);
		recs_free(&r);
	}
	/* Every two-way split. */
	for (size_t cut = 0; cut <= s.n; cut++) {
		struct frame_decoder dec;
		struct recs r = { 0 };

		assert_int_equal(frames_init(&dec, 0), 0);
		frames_feed(&dec, s.b, cut, record, &r);
		frames_feed(&dec, s.b + cut, s.n - cut, record, &r);
		assert_recs_equal(&r, &whole);
		frames_free(&dec);
		recs_free(&r);
	}
	recs_free(&whole);
	free(s.b);
}

static void test_many_frames_one_feed(void **state)
{
	static const uint32_t types[] = { FRAME_TYPE_SOUT, FRAME_TYPE_SERR, FRAME_TYPE_DMSG,
					  FRAME_TYPE_LIFE, FRAME_TYPE_STIM };
	struct stream s = { 0 };
	struct recs r = { 0 };
	uint8_t p[200];
	size_t at[50];

	for (uint32_t i = 0; i < 50; i++) {
		fill(p, sizeof(p), i);
		at[i] = stream_frame(&s, types[i % 5], p, (i * 17) % 200);
	}
	decode_all(s.b, s.n, 0, &r);
	assert_int_equal(r.n, 50);
	for (uint32_t i = 0; i < 50; i++) {
		fill(p, sizeof(p), i);
		assert_int_equal(r.v[i].type, types[i % 5]);
		assert_int_equal(r.v[i].length, (i * 17) % 200);
		assert_int_equal(r.v[i].offset, at[i]);
		assert_int_equal(r.v[i].payload_crc, frame_crc32(p, (i * 17) % 200));
		assert_true(r.v[i].crc_ok);
	}
	recs_free(&r);
	free(s.b);
}

static void test_crc_mismatch_continues(void **state)
{
	struct stream s = { 0 };
	struct recs r = { 0 };
	uint8_t p[64];
	size_t bad;

	fill(p, sizeof(p), 9);
	bad = stream_frame(&s, FRAME_TYPE_SCDX, p, 4);
	stream_frame(&s, FRAME_TYPE_EXIT, p + 4, 4);
	s.b[bad + FRAME_HDR_SIZE] ^= 0x01; /* corrupt the payload, not the header */
	decode_all(s.b, s.n, 0, &r);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.v[0].tag, "SCDX");
	assert_false(r.v[0].crc_ok);
	assert_false(r.v[0].rejected);
	assert_int_not_equal(r.v[0].crc_computed, r.v[0].crc_announced);
	assert_int_equal(r.v[0].crc_announced, frame_crc32(p, 4));
	assert_string_equal(r.v[1].tag, "EXIT");
	assert_true(r.v[1].crc_ok);
	assert_int_equal(warn_count, 1);
	assert_non_null(strstr(last_warn, "crc32"));
	recs_free(&r);
	free(s.b);
}

static void test_pad_warning(void **state)
{
	struct stream s = { 0 };
	struct recs r = { 0 };
	struct frame_decoder dec;
	uint8_t p[8];
	size_t at;

	fill(p, sizeof(p), 1);
	at = stream_frame(&s, FRAME_TYPE_TEST, p, 8);
	poke32(&s, at, 12, 0xdeadbeef);
	stream_frame(&s, FRAME_TYPE_EXIT, p, 4);
	assert_int_equal(frames_init(&dec, 0), 0);
	frames_feed(&dec, s.b, s.n, record, &r);
	assert_int_equal(r.n, 2);
	assert_false(r.v[0].pad_ok);
	assert_int_equal(r.v[0].pad, 0xdeadbeef);
	assert_true(r.v[0].crc_ok); /* the CRC covers the payload only */
	assert_true(r.v[1].pad_ok);
	assert_int_equal(frames_stats(&dec)->pad_warnings, 1);
	assert_int_equal(warn_count, 1);
	assert_non_null(strstr(last_warn, "pad"));
	frames_free(&dec);
	recs_free(&r);
	free(s.b);
}

static void test_over_cap_rejected_once_complete(void **state)
{
	struct stream s = { 0 };
	struct stream good = { 0 };
	struct recs r = { 0 };
	struct frame_decoder dec;
	uint8_t *big = calloc(1, SMALL_CAP + 1);
	uint8_t p[4] = { 1, 2, 3, 4 };
	size_t cut;

	assert_non_null(big);
	stream_frame(&s, FRAME_TYPE_WPRF, big, SMALL_CAP + 1);
	stream_frame(&s, FRAME_TYPE_EXIT, p, 4); /* trails the bad frame in the same feed */
	stream_frame(&good, FRAME_TYPE_SCDX, p, 4);

	/* All in one feed: rejected, and the trailing frame goes with it (resync). */
	assert_int_equal(frames_init(&dec, SMALL_CAP), 0);
	assert_int_equal(frames_feed(&dec, s.b, s.n, record, &r), 1);
	assert_int_equal(r.n, 1);
	assert_true(r.v[0].rejected);
	assert_int_equal(r.v[0].reject, FRAME_REJECT_OVERSIZE);
	assert_int_equal(r.v[0].length, SMALL_CAP + 1);
	assert_string_equal(r.v[0].tag, "WPRF");
	assert_int_equal(r.v[0].dropped, s.n);
	assert_false(frames_partial(&dec, NULL, NULL, NULL));
	/* The next feed starts on a fresh header and decodes. */
	assert_int_equal(frames_feed(&dec, good.b, good.n, record, &r), 1);
	assert_string_equal(r.v[1].tag, "SCDX");
	assert_true(r.v[1].crc_ok);
	assert_int_equal(r.v[1].offset, s.n);
	assert_int_equal(frames_stats(&dec)->oversize, 1);
	assert_int_equal(frames_stats(&dec)->dropped_bytes, s.n);
	assert_non_null(strstr(last_warn, "cap"));
	frames_free(&dec);
	recs_free(&r);

	/* Header first: not rejected until the last payload byte arrives. */
	cut = FRAME_HDR_SIZE + SMALL_CAP; /* one payload byte short */
	assert_int_equal(frames_init(&dec, SMALL_CAP), 0);
	assert_int_equal(frames_feed(&dec, s.b, FRAME_HDR_SIZE, record, &r), 0);
	assert_int_equal(frames_feed(&dec, s.b + FRAME_HDR_SIZE, cut - FRAME_HDR_SIZE, record, &r),
			 0);
	assert_int_equal(r.n, 0);
	assert_true(frames_partial(&dec, NULL, NULL, NULL));
	/* Over-cap payload bytes are counted, not stored. */
	assert_true(frames_buffered_bytes(&dec) <= FRAME_HDR_SIZE);
	assert_int_equal(frames_feed(&dec, s.b + cut, s.n - cut, record, &r), 1);
	assert_true(r.v[0].rejected);
	assert_int_equal(r.v[0].offset, 0);
	assert_int_equal(r.v[0].dropped, s.n);
	assert_int_equal(frames_feed(&dec, good.b, good.n, record, &r), 1);
	assert_true(r.v[1].crc_ok);
	assert_false(r.v[1].rejected);
	frames_free(&dec);
	recs_free(&r);
	free(big);
	free(s.b);
	free(good.b);
}

static void test_at_cap_accepted(void **state)
{
	struct stream s = { 0 };
	struct recs r = { 0 };
	struct frame_decoder dec;
	uint8_t *big = malloc(SMALL_CAP);

	assert_non_null(big);
	fill(big, SMALL_CAP, 5);
	stream_frame(&s, FRAME_TYPE_WPRF, big, SMALL_CAP);
	stream_frame(&s, FRAME_TYPE_EXIT, big, 4);
	assert_int_equal(frames_init(&dec, SMALL_CAP), 0);
	/* Odd chunks so the payload is stored across feeds. */
	for (size_t i = 0; i < s.n; i += 333)
		frames_feed(&dec, s.b + i, s.n - i < 333 ? s.n - i : 333, record, &r);
	assert_int_equal(r.n, 2);
	assert_false(r.v[0].rejected);
	assert_int_equal(r.v[0].length, SMALL_CAP);
	assert_true(r.v[0].crc_ok);
	assert_int_equal(r.v[0].payload_crc, frame_crc32(big, SMALL_CAP));
	assert_true(r.v[1].crc_ok);
	assert_int_equal(frames_stats(&dec)->oversize, 0);
	frames_free(&dec);
	recs_free(&r);
	free(big);
	free(s.b);
}

/* Feed one frame of `length` pattern bytes in 64 KiB pieces without building it whole. */
static void stream_big(struct frame_decoder *dec, uint32_t length, struct recs *r)
{
	static uint8_t chunk[64 * 1024];
	uint8_t hdr[FRAME_HDR_SIZE];
	struct frame_hdr h = { .type = FRAME_TYPE_WPRF, .length = length };
	uint32_t crc = 0;

	fill(chunk, sizeof(chunk), 11);
	for (uint32_t done = 0; done < length; done += sizeof(chunk)) {
		uint32_t n = length - done < sizeof(chunk) ? length - done : sizeof(chunk);

		crc = frame_crc32_update(crc, chunk, n);
	}
	h.crc32 = crc;
	frame_hdr_put(hdr, &h);
	assert_int_equal(frames_feed(dec, hdr, sizeof(hdr), record, r), 0);
	for (uint32_t done = 0; done < length; done += sizeof(chunk)) {
		uint32_t n = length - done < sizeof(chunk) ? length - done : sizeof(chunk);

		frames_feed(dec, chunk, n, record, r);
	}
}

static void test_default_cap_16mib(void **state)
{
	struct recs r = { 0 };
	struct frame_decoder dec;

	assert_int_equal(frames_init(&dec, 0), 0);
	stream_big(&dec, FRAME_MAX_PAYLOAD, &r);
	assert_int_equal(r.n, 1);
	assert_false(r.v[0].rejected);
	assert_true(r.v[0].crc_ok);
	assert_int_equal(r.v[0].length, 16u << 20);
	/* A completed frame this size is not kept around. */
	assert_true(frames_buffered_bytes(&dec) <= 64 * 1024);
	stream_big(&dec, FRAME_MAX_PAYLOAD + 1, &r);
	assert_int_equal(r.n, 2);
	assert_true(r.v[1].rejected);
	assert_int_equal(r.v[1].reject, FRAME_REJECT_OVERSIZE);
	assert_int_equal(r.v[1].offset, FRAME_HDR_SIZE + (16u << 20));
	frames_free(&dec);
	recs_free(&r);
}

static void test_partial_tail(void **state)
{
	struct stream s = { 0 };
	struct recs r = { 0 };
	struct frame_decoder dec;
	uint8_t *p = calloc(1, 4096);
	bool known;
	uint64_t have, want;
	char line[128];

	assert_non_null(p);
	stream_frame(&s, FRAME_TYPE_EXIT, p, 4096);
	assert_int_equal(frames_init(&dec, SMALL_CAP), 0);
	frames_partial_describe(&dec, line, sizeof(line));
	assert_string_equal(line, "no partial tail");

	frames_feed(&dec, s.b, 5, record, &r);
	assert_true(frames_partial(&dec, &known, &have, &want));
	assert_false(known);
	assert_int_equal(have, 5);
	assert_int_equal(want, FRAME_HDR_SIZE);
	assert_int_equal(frames_partial_type(&dec), 0);
	frames_partial_describe(&dec, line, sizeof(line));
	assert_string_equal(line, "partial tail: header 5 of 16 bytes");

	frames_feed(&dec, s.b + 5, FRAME_HDR_SIZE + 100 - 5, record, &r);
	assert_true(frames_partial(&dec, &known, &have, &want));
	assert_true(known);
	assert_int_equal(have, 100);
	assert_int_equal(want, 4096);
	assert_int_equal(frames_partial_type(&dec), FRAME_TYPE_EXIT);
	frames_partial_describe(&dec, line, sizeof(line));
	assert_string_equal(line, "partial tail: EXIT 100 of 4096 bytes");

	frames_feed(&dec, s.b + FRAME_HDR_SIZE + 100, s.n - FRAME_HDR_SIZE - 100, record, &r);
	assert_int_equal(r.n, 1);
	assert_false(frames_partial(&dec, &known, &have, &want));

	/* An over-cap tail says so. */
	free(s.b);
	memset(&s, 0, sizeof(s));
	stream_frame(&s, FRAME_TYPE_DMSG, p, 4096);
	poke32(&s, 0, 4, 5000);
	frames_feed(&dec, s.b, FRAME_HDR_SIZE + 7, record, &r);
	frames_partial_describe(&dec, line, sizeof(line));
	assert_string_equal(line, "partial tail: DMSG 7 of 5000 bytes (over the cap)");
	frames_reset(&dec);
	assert_false(frames_partial(&dec, NULL, NULL, NULL));
	frames_free(&dec);
	recs_free(&r);
	free(p);
	free(s.b);
}

static void test_no_alloc_from_announced_length(void **state)
{
	struct recs r = { 0 };
	struct frame_decoder dec;
	uint8_t buf[FRAME_HDR_SIZE + 10];
	struct frame_hdr h = { .type = FRAME_TYPE_PRAW, .length = 0xffffffffu };

	memset(buf, 0xab, sizeof(buf));
	frame_hdr_put(buf, &h);
	assert_int_equal(frames_init(&dec, 0), 0);
	assert_int_equal(frames_feed(&dec, buf, sizeof(buf), record, &r), 0);
	assert_true(frames_partial(&dec, NULL, NULL, NULL));
	assert_true(frames_buffered_bytes(&dec) <= 64);
	frames_free(&dec);

	/* Within the cap the payload is stored, but only as much as has arrived. */
	h.length = FRAME_MAX_PAYLOAD;
	frame_hdr_put(buf, &h);
	assert_int_equal(frames_init(&dec, 0), 0);
	assert_int_equal(frames_feed(&dec, buf, sizeof(buf), record, &r), 0);
	assert_true(frames_buffered_bytes(&dec) <= 512);
	for (int i = 0; i < 100; i++)
		frames_feed(&dec, buf, 10, record, &r);
	assert_true(frames_buffered_bytes(&dec) <= FRAME_HDR_SIZE + 2 * 1010);
	assert_int_equal(r.n, 0);
	frames_free(&dec);

	/* Nor more than was announced, even for a small frame. */
	h.length = 20;
	frame_hdr_put(buf, &h);
	assert_int_equal(frames_init(&dec, 0), 0);
	assert_int_equal(frames_feed(&dec, buf, FRAME_HDR_SIZE + 1, record, &r), 0);
	assert_true(frames_buffered_bytes(&dec) <= FRAME_HDR_SIZE + 20);
	assert_int_equal(frames_feed(&dec, buf, 19, record, &r), 1);
	assert_false(r.v[0].crc_ok); /* crc32 field was left 0 */
	frames_free(&dec);
	recs_free(&r);
}

static void test_residual_cap(void **state)
{
	struct recs r = { 0 };
	struct stream good = { 0 };
	struct frame_decoder dec;
	uint8_t hdr[FRAME_HDR_SIZE];
	uint8_t *junk = calloc(1, 2 * SMALL_CAP);
	struct frame_hdr h = { .type = FRAME_TYPE_PRAW, .length = 0xffffffffu };
	uint8_t p[4] = { 9, 9, 9, 9 };

	assert_non_null(junk);
	frame_hdr_put(hdr, &h);
	stream_frame(&good, FRAME_TYPE_EXIT, p, 4);
	assert_int_equal(frames_init(&dec, SMALL_CAP), 0);
	frames_feed(&dec, hdr, sizeof(hdr), record, &r);
	/* Exactly 2 x cap pending is kept... */
	assert_int_equal(frames_feed(&dec, junk, 2 * SMALL_CAP - FRAME_HDR_SIZE, record, &r), 0);
	assert_true(frames_partial(&dec, NULL, NULL, NULL));
	/* ...one byte more is dropped, and what follows decodes from a fresh header. */
	assert_int_equal(frames_feed(&dec, junk, 1, record, &r), 1);
	assert_true(r.v[0].rejected);
	assert_int_equal(r.v[0].reject, FRAME_REJECT_RESIDUAL);
	assert_int_equal(r.v[0].dropped, 2 * SMALL_CAP + 1);
	assert_false(frames_partial(&dec, NULL, NULL, NULL));
	assert_int_equal(frames_feed(&dec, good.b, good.n, record, &r), 1);
	assert_true(r.v[1].crc_ok);
	assert_int_equal(r.v[1].offset, 2 * SMALL_CAP + 1);
	assert_int_equal(frames_stats(&dec)->residual, 1);
	frames_free(&dec);
	recs_free(&r);
	free(good.b);
	free(junk);
}

static void test_tags(void **state)
{
	static const char *const listed[] = { "EXIT", "TEST", "SCDX", "SRDY", "SNRQ", "SNRP",
					      "SOUT", "SERR", "LIFE", "DMSG", "STIM", "SCST",
					      "SCEN" };
	uint8_t wire[FRAME_HDR_SIZE];
	uint32_t type;
	char tag[5];

	frames_encode(FRAME_TYPE_EXIT, NULL, 0, wire);
	assert_memory_equal(wire, "TIXE", 4);
	assert_int_equal(frame_le32_get(wire), 0x45584954u);
	assert_int_equal(FRAME_TYPE_EXIT, 0x45584954u);
	frame_tag(0x45584954u, tag);
	assert_string_equal(tag, "EXIT");
	assert_int_equal(frame_type_from_tag("EXIT", &type), 0);
	assert_int_equal(type, 0x45584954u);
	assert_int_equal(frame_type_from_tag("EXI", &type), -EINVAL);
	assert_int_equal(frame_type_from_tag("EXITS", &type), -EINVAL);
	frame_tag(0x41000a7fu, tag);
	assert_string_equal(tag, "A...");

	assert_string_equal(frame_type_describe(FRAME_TYPE_SCDX), "scheduler exit");
	assert_string_equal(frame_type_describe(FRAME_TYPE_SRDY), "system ready");
	assert_null(frame_type_describe(FRAME_TYPE('Z', 'Z', 'Z', 'Z')));
	for (size_t i = 0; i < sizeof(listed) / sizeof(listed[0]); i++) {
		assert_int_equal(frame_type_from_tag(listed[i], &type), 0);
		assert_non_null(frame_type_describe(type));
		frame_tag(type, tag);
		assert_string_equal(tag, listed[i]);
	}
}

static void test_init_rejects_tiny_cap(void **state)
{
	struct frame_decoder dec;

	assert_int_equal(frames_init(&dec, FRAME_HDR_SIZE - 1), -EINVAL);
	assert_int_equal(frames_init(&dec, FRAME_HDR_SIZE), 0);
	frames_free(&dec);
}

static void test_random_chunking(void **state)
{
	struct stream s = { 0 };
	struct recs whole = { 0 };
	uint8_t p[600];
	size_t crc_bad = 0, pad_bad = 0;

	rng_state = 0x5eed;
	for (int i = 0; i < 1000; i++) {
		uint32_t len = (uint32_t)(rng() % 600);
		uint32_t type = FRAME_TYPE('A' + rng() % 26, 'A' + rng() % 26, 'A', 'Z');
		size_t at;

		fill(p, len, (uint32_t)i);
		at = stream_frame(&s, type, p, len);
		if (rng() % 50 == 0) {
			poke32(&s, at, 8, 0x12345678);
			crc_bad++;
		}
		if (rng() % 70 == 0) {
			poke32(&s, at, 12, 1);
			pad_bad++;
		}
	}
	decode_all(s.b, s.n, 0, &whole);
	assert_int_equal(whole.n, 1000);
	{
		size_t bad = 0, pads = 0;

		for (size_t i = 0; i < whole.n; i++) {
			bad += !whole.v[i].crc_ok;
			pads += !whole.v[i].pad_ok;
		}
		assert_int_equal(bad, crc_bad);
		assert_int_equal(pads, pad_bad);
	}
	for (int round = 0; round < 4; round++) {
		struct frame_decoder dec;
		struct recs r = { 0 };
		size_t max = round == 0 ? 3 : round == 1 ? 40 : round == 2 ? 700 : 5000;

		assert_int_equal(frames_init(&dec, 0), 0);
		for (size_t i = 0; i < s.n;) {
			size_t n = rng() % (max + 1); /* empty feeds included */

			if (n > s.n - i)
				n = s.n - i;
			assert_true(frames_feed(&dec, s.b + i, n, record, &r) >= 0);
			i += n;
		}
		assert_recs_equal(&r, &whole);
		assert_false(frames_partial(&dec, NULL, NULL, NULL));
		assert_int_equal(frames_stats(&dec)->bytes, s.n);
		frames_free(&dec);
		recs_free(&r);
	}
	recs_free(&whole);
	free(s.b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_crc32_vectors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_frame, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_everywhere, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_frames_one_feed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crc_mismatch_continues, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pad_warning, setup, teardown),
		cmocka_unit_test_setup_teardown(test_over_cap_rejected_once_complete, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_at_cap_accepted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default_cap_16mib, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_alloc_from_announced_length, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_residual_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_rejects_tiny_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_chunking, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
