/*
 * The port-1 frame decoder fed one input in different chunkings.
 *
 * Input: byte 0 picks the cap (the default 16 MiB, or a small one so the
 * oversize and residual rules fire), bytes 1..8 seed the chunk sizes, the
 * rest is the stream. The stream is decoded three times: in one feed, in
 * chunks of the seeded sizes, and byte by byte.
 *
 * Invariants: every delivered frame's payload is the stream's own bytes at
 * its offset and its CRC is recomputed right; stats count every callback;
 * buffered host memory stays within cap + 16 (and within 64 KiB + 16 between
 * frames); and as long as no frame was rejected (the only rules that depend
 * on feed boundaries), the three decodings yield the same frames and stats.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "virtio/frames.h"

#define MAX_FRAMES 4096

struct rec {
	uint64_t offset, dropped;
	uint32_t type, length, crc_announced, crc_computed, pad;
	bool crc_ok, pad_ok, rejected;
	enum frame_reject reject;
};

struct run {
	const uint8_t *stream;
	size_t stream_len;
	uint32_t cap;
	struct rec rec[MAX_FRAMES];
	size_t n;
	bool any_reject;
};

static void on_frame(const struct frame *f, void *opaque)
{
	struct run *r = opaque;
	struct rec *x;

	FZ_CHECK(f->rejected == (f->reject != FRAME_REJECT_NONE), "rejected %d, reject %d",
		 f->rejected, f->reject);
	if (f->rejected) {
		r->any_reject = true;
		FZ_CHECK(f->payload == NULL, "rejected frame with a payload");
		FZ_CHECK(f->reject != FRAME_REJECT_OVERSIZE || f->length > r->cap,
			 "oversize reject of length %u, cap %u", f->length, r->cap);
	} else {
		FZ_CHECK(f->length <= r->cap, "frame of %u bytes past cap %u", f->length, r->cap);
		FZ_CHECK(f->payload || f->length == 0, "frame without its payload");
		FZ_CHECK(f->crc_computed == frame_crc32(f->payload, f->length), "crc_computed wrong");
		FZ_CHECK(f->crc_ok == (f->crc_computed == f->crc_announced), "crc_ok wrong");
		FZ_CHECK(f->pad_ok == (f->pad == 0), "pad_ok wrong");
		/* Before any reject nothing was dropped, so the frame is the stream's bytes. */
		if (!r->any_reject) {
			FZ_CHECK(f->offset + FRAME_HDR_SIZE + f->length <= r->stream_len,
				 "frame at %llu+%u past the stream", (unsigned long long)f->offset,
				 f->length);
			FZ_CHECK(!memcmp(f->payload, r->stream + f->offset + FRAME_HDR_SIZE, f->length),
				 "payload differs from the stream at %llu", (unsigned long long)f->offset);
			FZ_CHECK(frame_le32_get(r->stream + f->offset + 4) == f->length, "length field");
		}
	}
	if (r->n == MAX_FRAMES)
		return;
	x = &r->rec[r->n++];
	memset(x, 0, sizeof(*x)); /* padding too: records are compared with memcmp */
	x->offset = f->offset;
	x->dropped = f->dropped;
	x->type = f->type;
	x->length = f->length;
	x->crc_announced = f->crc_announced;
	x->crc_computed = f->rejected ? 0 : f->crc_computed;
	x->pad = f->pad;
	x->crc_ok = f->crc_ok;
	x->pad_ok = f->pad_ok;
	x->rejected = f->rejected;
	x->reject = f->reject;
}

static void check_bounds(const struct frame_decoder *d, uint32_t cap)
{
	size_t b = frames_buffered_bytes(d);

	FZ_CHECK(b <= (size_t)cap + FRAME_HDR_SIZE, "%zu bytes buffered, cap %u", b, cap);
	if (!frames_partial(d, NULL, NULL, NULL))
		FZ_CHECK(b <= 64 * 1024 + FRAME_HDR_SIZE, "%zu bytes kept between frames", b);
}

/* Decode the stream in pieces: CHUNK(i) gives the size of piece i (0: all). */
static void decode(struct run *r, const uint8_t *seed, int mode)
{
	struct frame_decoder d;
	size_t pos = 0, i = 0;
	uint64_t cbs = 0;
	const struct frame_stats *st;
	char line[160];

	FZ_CHECK(frames_init(&d, r->cap) == 0, "frames_init(%u)", r->cap);
	r->n = 0;
	r->any_reject = false;
	while (pos < r->stream_len) {
		size_t len = r->stream_len - pos;
		int got;

		if (mode == 1) {
			uint8_t k = seed[i % 8];

			i++;
			len = 1 + k % 64 + (k & 0x80 ? 1000 : 0);
		}
		else if (mode == 2)
			len = 1;
		if (len > r->stream_len - pos)
			len = r->stream_len - pos;
		got = frames_feed(&d, r->stream + pos, len, on_frame, r);
		FZ_CHECK(got >= 0, "frames_feed returned %d", got);
		cbs += (uint64_t)got;
		pos += len;
		check_bounds(&d, r->cap);
		frames_partial_describe(&d, line, sizeof(line));
	}
	st = frames_stats(&d);
	FZ_CHECK(st->bytes == r->stream_len, "stats.bytes %llu of %zu",
		 (unsigned long long)st->bytes, r->stream_len);
	FZ_CHECK(st->frames + st->oversize + st->residual == cbs, "stats count %llu callbacks of %llu",
		 (unsigned long long)(st->frames + st->oversize + st->residual),
		 (unsigned long long)cbs);
	/* The reference also warns on the pad of an oversize (complete) frame. */
	FZ_CHECK(st->crc_errors <= st->frames && st->pad_warnings <= st->frames + st->oversize,
		 "stats: %llu crc errors, %llu pad warnings, %llu frames",
		 (unsigned long long)st->crc_errors, (unsigned long long)st->pad_warnings,
		 (unsigned long long)st->frames);
	FZ_CHECK(st->dropped_bytes <= st->bytes, "dropped more than fed");
	frames_reset(&d);
	FZ_CHECK(!frames_partial(&d, NULL, NULL, NULL), "partial tail after reset");
	frames_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run a, b, c;
	static const uint32_t caps[] = { 0, 16, 17, 64, 300, 4096 };
	uint8_t seed[8] = { 0 };
	uint32_t cap;

	if (size < 1)
		return 0;
	fz_quiet_logs();
	cap = caps[data[0] % 6];
	memcpy(seed, data + 1, size - 1 < 8 ? size - 1 : 8);
	data += size < 9 ? size : 9;
	size -= size < 9 ? size : 9;
	a.stream = b.stream = c.stream = data;
	a.stream_len = b.stream_len = c.stream_len = size;
	a.cap = b.cap = c.cap = cap ? cap : FRAME_MAX_PAYLOAD;
	decode(&a, seed, 0);
	decode(&b, seed, 1);
	decode(&c, seed, 2);
	if (!a.any_reject && !b.any_reject && !c.any_reject) {
		FZ_CHECK(a.n == b.n && a.n == c.n, "%zu / %zu / %zu frames by chunking", a.n, b.n, c.n);
		FZ_CHECK(!memcmp(a.rec, b.rec, a.n * sizeof(a.rec[0])) &&
				 !memcmp(a.rec, c.rec, a.n * sizeof(a.rec[0])),
			 "frames differ by chunking");
	}
	return 0;
}
