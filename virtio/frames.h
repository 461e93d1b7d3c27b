/*
 * Streaming decoder for the port-1 framed stream (docs/console.md, "The port-1 framed stream";
 * wire layout in virtio/frame_format.h).
 *
 * Bytes drained from port 1 are fed in whatever pieces they arrive in; every complete frame
 * is handed to a callback, a partial frame is kept for the next feed. The rules follow the
 * reference host assembler (ktstr's bulk.rs HostAssembler):
 *
 * - CRC mismatch: the frame is delivered with crc_ok = false and decoding continues.
 * - pad != 0: the frame is delivered with pad_ok = false (and a warning) once it is complete.
 * - Size cap (16 MiB by default): `length > cap` is rejected, `length == cap` is accepted. The
 *   check fires only once the frame is *complete*, i.e. once the header and all `length`
 *   announced payload bytes have been fed, so a header that drains ahead of its payload is
 *   never mistaken for a bad one. The rejected frame is reported (rejected = true,
 *   reject = FRAME_REJECT_OVERSIZE, payload NULL) and, because an untrustworthy length means
 *   the stream has lost sync, everything else fed in that same call after it is discarded
 *   too (the reference clears its whole buffer); decoding resumes with the next feed, whose
 *   first byte is read as a new header.
 * - Residual cap: if, at the end of a feed, the partial tail (header plus payload bytes so far)
 *   is larger than 2 x cap, it cannot be a legitimate frame: it is dropped and reported
 *   (reject = FRAME_REJECT_RESIDUAL) and the next byte fed is read as a new header. Only an
 *   over-cap length can get there. So an over-cap frame is rejected on completion if its
 *   bytes complete within a feed before the tail passes 2 x cap (always when
 *   16 + length <= 2 x cap), else by this rule: a header announcing 0xFFFFFFFF is dropped
 *   once more than 2 x cap bytes of it are pending. Either way sync is lost and the bytes
 *   after it are garbage until the guest's writer lines up again, as in the reference.
 * - Memory: nothing is allocated from an announced length. Payload bytes of a frame within
 *   the cap are stored in a buffer that grows with bytes received only (a growth step
 *   allocates at most max(2 x bytes received, 256) and never more than the announced
 *   length); payload bytes of an over-cap frame are only counted, never stored. So a decoder
 *   holds at most cap + 16 bytes, and keeps a buffer of at most 64 KiB between frames.
 *
 * A decoder is not thread-safe (the console device calls it under its lock), and the
 * callback must not feed the same decoder.
 */
#ifndef VMDBG_FRAMES_H
#define VMDBG_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame_format.h"

enum frame_reject {
	FRAME_REJECT_NONE,
	FRAME_REJECT_OVERSIZE, /* complete frame with length > cap; rest of that feed dropped */
	FRAME_REJECT_RESIDUAL, /* partial tail grew past 2 x cap; dropped unfinished */
};

struct frame {
	uint32_t type;
	char tag[5]; /* ASCII as the spec reads it, e.g. "EXIT"; unprintable bytes as '.' */
	uint32_t length;
	uint32_t crc_announced, crc_computed; /* crc_computed is 0 for a rejected frame */
	bool crc_ok;
	uint32_t pad;
	bool pad_ok;
	bool rejected;
	enum frame_reject reject;
	/* `length` bytes, valid during the callback only; NULL if rejected */
	const uint8_t *payload;
	uint64_t offset;  /* stream offset of the header's first byte */
	uint64_t dropped; /* rejected: bytes discarded, this frame's own included */
};

typedef void (*frame_cb)(const struct frame *f, void *opaque);

struct frame_stats {
	uint64_t bytes;	    /* bytes fed */
	uint64_t frames;    /* frames delivered whole (crc_ok or not) */
	uint64_t crc_errors;
	uint64_t pad_warnings;
	uint64_t oversize;  /* FRAME_REJECT_OVERSIZE */
	uint64_t residual;  /* FRAME_REJECT_RESIDUAL */
	uint64_t dropped_bytes;
};

struct frame_decoder {
	uint32_t cap;
	uint8_t hdr_bytes[FRAME_HDR_SIZE];
	size_t hdr_have;
	struct frame_hdr hdr; /* valid once hdr_have == FRAME_HDR_SIZE */
	uint8_t *payload;     /* stored payload of a partial frame within the cap */
	size_t payload_alloc;
	uint64_t payload_have; /* payload bytes received (stored or only counted) */
	uint64_t frame_offset; /* stream offset of the partial frame's header */
	uint64_t pos;	       /* stream offset of the next byte fed */
	struct frame_stats stats;
};

/* cap 0 means FRAME_MAX_PAYLOAD; a cap below FRAME_HDR_SIZE is -EINVAL. */
int frames_init(struct frame_decoder *dec, uint32_t cap);
void frames_free(struct frame_decoder *dec);
/* Forget any partial frame (stream offsets and statistics are kept). */
void frames_reset(struct frame_decoder *dec);

/*
 * Append `len` bytes and call `cb` for every frame completed or rejected by them, in stream
 * order. Returns the number of callbacks made, or -ENOMEM (the partial frame is then dropped
 * as if rejected, and the rest of this feed with it).
 */
int frames_feed(struct frame_decoder *dec, const void *buf, size_t len, frame_cb cb, void *opaque);

/*
 * Describe the partial tail. Returns false when there is none. Otherwise *hdr_known says
 * whether the 16 header bytes are in; if so *have / *want are payload bytes received /
 * announced, if not they are header bytes received / 16. Any pointer may be NULL.
 */
bool frames_partial(const struct frame_decoder *dec, bool *hdr_known, uint64_t *have,
		    uint64_t *want);
/* Type of the partial frame when its header is known, else 0. */
uint32_t frames_partial_type(const struct frame_decoder *dec);
/* One line for `port frames`: "partial tail: EXIT 100 of 4096 bytes", "no partial tail"... */
void frames_partial_describe(const struct frame_decoder *dec, char *buf, size_t size);

/* Host memory held for the partial frame: header bytes plus the payload buffer's capacity. */
size_t frames_buffered_bytes(const struct frame_decoder *dec);
const struct frame_stats *frames_stats(const struct frame_decoder *dec);

/* "EXIT" for 0x45584954; unprintable bytes become '.'. */
void frame_tag(uint32_t type, char tag[5]);
/* The type whose tag is the four characters `tag` ("EXIT"); -EINVAL unless exactly four. */
int frame_type_from_tag(const char *tag, uint32_t *type);
/* What a known tag means ("EXIT": "guest exit code"), or NULL for an unknown type. */
const char *frame_type_describe(uint32_t type);

/* Standard IEEE CRC-32 of `len` bytes (crc32("123456789") == 0xCBF43926). */
uint32_t frame_crc32(const void *buf, size_t len);

/*
 * Encode one frame (header then payload) into `out`, which must hold FRAME_HDR_SIZE + len
 * bytes. Returns the number of bytes written.
 */
size_t frames_encode(uint32_t type, const void *payload, uint32_t len, uint8_t *out);

#endif
