#include "frames.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/log.h"

/* Between frames a payload buffer up to this size is kept to spare the allocator. */
#define FRAMES_RETAIN_MAX (64u * 1024)
#define FRAMES_ALLOC_MIN 256u

static const struct {
	uint32_t type;
	const char *what;
} frame_types[] = {
	{ FRAME_TYPE_EXIT, "guest exit code" },
	{ FRAME_TYPE_TEST, "test result" },
	{ FRAME_TYPE_SCDX, "scheduler exit" },
	{ FRAME_TYPE_SRDY, "system ready" },
	{ FRAME_TYPE_SNRQ, "snapshot request" },
	{ FRAME_TYPE_SNRP, "snapshot reply" },
	{ FRAME_TYPE_SOUT, "stdout chunk" },
	{ FRAME_TYPE_SERR, "stderr chunk" },
	{ FRAME_TYPE_LIFE, "lifecycle" },
	{ FRAME_TYPE_DMSG, "dmesg" },
	{ FRAME_TYPE_STIM, "stimulus (scenario step)" },
	{ FRAME_TYPE_STEN, "scenario step end" },
	{ FRAME_TYPE_SCST, "scenario start" },
	{ FRAME_TYPE_SCEN, "scenario end" },
	{ FRAME_TYPE_SCPP, "scenario pause" },
	{ FRAME_TYPE_SCRR, "scenario resume" },
	{ FRAME_TYPE_CRSH, "crash (reserved)" },
	{ FRAME_TYPE_PMET, "payload metrics" },
	{ FRAME_TYPE_RAWO, "raw payload output" },
	{ FRAME_TYPE_PRAW, "coverage profile" },
	{ FRAME_TYPE_WPRF, "wprof trace chunk" },
	{ FRAME_TYPE_KORQ, "kernel-op request" },
	{ FRAME_TYPE_KORP, "kernel-op reply" },
	{ FRAME_TYPE_SCLG, "scheduler log chunk" },
	{ FRAME_TYPE_EXCX, "exec exit code" },
	{ FRAME_TYPE_PROB, "probe output" },
	{ FRAME_TYPE_KADR, "kernel addresses" },
};

uint32_t frame_crc32(const void *buf, size_t len)
{
	return frame_crc32_update(0, buf, len);
}

size_t frames_encode(uint32_t type, const void *payload, uint32_t len, uint8_t *out)
{
	frame_encode_hdr(out, type, payload, len);
	if (len)
		memcpy(out + FRAME_HDR_SIZE, payload, len);
	return FRAME_HDR_SIZE + (size_t)len;
}

void frame_tag(uint32_t type, char tag[5])
{
	for (int i = 0; i < 4; i++) {
		unsigned char c = (unsigned char)(type >> (24 - 8 * i));

		tag[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '.';
	}
	tag[4] = '\0';
}

int frame_type_from_tag(const char *tag, uint32_t *type)
{
	if (!tag || strlen(tag) != 4)
		return -EINVAL;
	*type = FRAME_TYPE(tag[0], tag[1], tag[2], tag[3]);
	return 0;
}

const char *frame_type_describe(uint32_t type)
{
	for (size_t i = 0; i < sizeof(frame_types) / sizeof(frame_types[0]); i++)
		if (frame_types[i].type == type)
			return frame_types[i].what;
	return NULL;
}

int frames_init(struct frame_decoder *dec, uint32_t cap)
{
	if (cap == 0)
		cap = FRAME_MAX_PAYLOAD;
	/* Below one header the residual cap could cut a partial header, which has no length. */
	if (cap < FRAME_HDR_SIZE)
		return -EINVAL;
	memset(dec, 0, sizeof(*dec));
	dec->cap = cap;
	return 0;
}

static void release_payload(struct frame_decoder *dec)
{
	free(dec->payload);
	dec->payload = NULL;
	dec->payload_alloc = 0;
}

void frames_free(struct frame_decoder *dec)
{
	release_payload(dec);
	dec->hdr_have = 0;
	dec->payload_have = 0;
}

static void end_partial(struct frame_decoder *dec)
{
	dec->hdr_have = 0;
	dec->payload_have = 0;
	if (dec->payload_alloc > FRAMES_RETAIN_MAX)
		release_payload(dec);
}

void frames_reset(struct frame_decoder *dec)
{
	end_partial(dec);
}

/* Grows with bytes received only: at most doubling, never past the announced length. */
static int payload_reserve(struct frame_decoder *dec, size_t need)
{
	size_t alloc;
	uint8_t *p;

	if (need <= dec->payload_alloc)
		return 0;
	alloc = dec->payload_alloc * 2;
	if (alloc < FRAMES_ALLOC_MIN)
		alloc = FRAMES_ALLOC_MIN;
	if (alloc < need)
		alloc = need;
	if (alloc > dec->hdr.length)
		alloc = dec->hdr.length;
	p = realloc(dec->payload, alloc);
	if (!p)
		return -ENOMEM;
	dec->payload = p;
	dec->payload_alloc = alloc;
	return 0;
}

static void frame_from_hdr(struct frame *f, const struct frame_hdr *h, uint64_t offset)
{
	memset(f, 0, sizeof(*f));
	f->type = h->type;
	frame_tag(h->type, f->tag);
	f->length = h->length;
	f->crc_announced = h->crc32;
	f->pad = h->pad;
	f->pad_ok = h->pad == 0;
	f->offset = offset;
}

/* The first occurrence is a warning; a flood from a broken guest goes to debug. */
static enum log_level first_warn(uint64_t count)
{
	return count == 1 ? LOG_WARN : LOG_DEBUG;
}

static void check_pad(struct frame_decoder *dec, const struct frame *f)
{
	if (f->pad_ok)
		return;
	dec->stats.pad_warnings++;
	log_msg(first_warn(dec->stats.pad_warnings),
		"port 1 frame %s at offset %llu: pad is 0x%08x, not 0 (covert channel?)", f->tag,
		(unsigned long long)f->offset, f->pad);
}

static void deliver(struct frame_decoder *dec, const struct frame_hdr *h, const uint8_t *payload,
		    uint64_t offset, frame_cb cb, void *opaque)
{
	static const uint8_t empty[1];
	struct frame f;

	frame_from_hdr(&f, h, offset);
	f.payload = h->length ? payload : empty;
	f.crc_computed = frame_crc32(f.payload, h->length);
	f.crc_ok = f.crc_computed == f.crc_announced;
	check_pad(dec, &f);
	dec->stats.frames++;
	if (!f.crc_ok) {
		dec->stats.crc_errors++;
		log_msg(first_warn(dec->stats.crc_errors),
			"port 1 frame %s at offset %llu (%u bytes): crc32 0x%08x announced, "
			"0x%08x computed",
			f.tag, (unsigned long long)offset, f.length, f.crc_announced,
			f.crc_computed);
	}
	if (cb)
		cb(&f, opaque);
}

static void reject(struct frame_decoder *dec, enum frame_reject why, uint64_t dropped,
		   frame_cb cb, void *opaque)
{
	struct frame f;

	frame_from_hdr(&f, &dec->hdr, dec->frame_offset);
	f.rejected = true;
	f.reject = why;
	f.dropped = dropped;
	dec->stats.dropped_bytes += dropped;
	if (why == FRAME_REJECT_OVERSIZE) {
		/* The reference warns on pad once a frame is complete, rejected or not. */
		check_pad(dec, &f);
		dec->stats.oversize++;
		log_warn("port 1 frame %s at offset %llu: length %u exceeds the %u-byte cap; "
			 "dropped %llu bytes to resync",
			 f.tag, (unsigned long long)f.offset, f.length, dec->cap,
			 (unsigned long long)dropped);
	} else {
		dec->stats.residual++;
		log_warn("port 1 frame %s at offset %llu: length %u, %llu bytes pending exceed "
			 "twice the %u-byte cap; dropped to resync",
			 f.tag, (unsigned long long)f.offset, f.length, (unsigned long long)dropped,
			 dec->cap);
	}
	end_partial(dec);
	if (cb)
		cb(&f, opaque);
}

int frames_feed(struct frame_decoder *dec, const void *buf, size_t len, frame_cb cb,
		void *opaque)
{
	const uint8_t *p = buf;
	int calls = 0;

	dec->stats.bytes += len;
	while (len) {
		if (dec->hdr_have == 0 && len >= FRAME_HDR_SIZE) {
			/* Nothing buffered: decode straight from the caller's bytes. */
			struct frame_hdr h;

			frame_hdr_get(&h, p);
			dec->frame_offset = dec->pos;
			if (len - FRAME_HDR_SIZE >= h.length) {
				if (h.length > dec->cap) {
					dec->hdr = h;
					dec->pos += len;
					reject(dec, FRAME_REJECT_OVERSIZE, len, cb, opaque);
					return calls + 1;
				}
				deliver(dec, &h, p + FRAME_HDR_SIZE, dec->pos, cb, opaque);
				calls++;
				p += FRAME_HDR_SIZE + h.length;
				len -= FRAME_HDR_SIZE + h.length;
				dec->pos += FRAME_HDR_SIZE + h.length;
				continue;
			}
			memcpy(dec->hdr_bytes, p, FRAME_HDR_SIZE);
			dec->hdr = h;
			dec->hdr_have = FRAME_HDR_SIZE;
			p += FRAME_HDR_SIZE;
			len -= FRAME_HDR_SIZE;
			dec->pos += FRAME_HDR_SIZE;
		} else if (dec->hdr_have < FRAME_HDR_SIZE) {
			size_t take = FRAME_HDR_SIZE - dec->hdr_have;

			if (take > len)
				take = len;
			if (dec->hdr_have == 0)
				dec->frame_offset = dec->pos;
			memcpy(dec->hdr_bytes + dec->hdr_have, p, take);
			dec->hdr_have += take;
			p += take;
			len -= take;
			dec->pos += take;
			if (dec->hdr_have < FRAME_HDR_SIZE)
				break;
			frame_hdr_get(&dec->hdr, dec->hdr_bytes);
		}

		uint64_t need = dec->hdr.length - dec->payload_have;
		size_t take = need < len ? (size_t)need : len;

		/* An over-cap payload is only counted: it will be rejected, never read. */
		if (take && dec->hdr.length <= dec->cap) {
			if (payload_reserve(dec, dec->payload_have + take) < 0) {
				uint64_t lost = FRAME_HDR_SIZE + dec->payload_have + len;

				log_err("port 1 frame at offset %llu: out of memory for %u bytes; "
					"dropped %llu bytes",
					(unsigned long long)dec->frame_offset, dec->hdr.length,
					(unsigned long long)lost);
				dec->stats.dropped_bytes += lost;
				dec->pos += len;
				end_partial(dec);
				return -ENOMEM;
			}
			memcpy(dec->payload + dec->payload_have, p, take);
		}
		dec->payload_have += take;
		p += take;
		len -= take;
		dec->pos += take;
		if (dec->payload_have < dec->hdr.length)
			break;
		if (dec->hdr.length > dec->cap) {
			/* Sync is lost: the rest of this feed goes too, as in the reference. */
			uint64_t dropped = FRAME_HDR_SIZE + (uint64_t)dec->hdr.length + len;

			dec->pos += len;
			reject(dec, FRAME_REJECT_OVERSIZE, dropped, cb, opaque);
			return calls + 1;
		}
		deliver(dec, &dec->hdr, dec->payload, dec->frame_offset, cb, opaque);
		calls++;
		end_partial(dec);
	}
	if (dec->hdr_have + dec->payload_have > 2 * (uint64_t)dec->cap) {
		reject(dec, FRAME_REJECT_RESIDUAL, dec->hdr_have + dec->payload_have, cb, opaque);
		calls++;
	}
	return calls;
}

bool frames_partial(const struct frame_decoder *dec, bool *hdr_known, uint64_t *have,
		    uint64_t *want)
{
	bool known = dec->hdr_have == FRAME_HDR_SIZE;

	if (hdr_known)
		*hdr_known = known;
	if (have)
		*have = known ? dec->payload_have : dec->hdr_have;
	if (want)
		*want = known ? dec->hdr.length : FRAME_HDR_SIZE;
	return dec->hdr_have != 0;
}

uint32_t frames_partial_type(const struct frame_decoder *dec)
{
	return dec->hdr_have == FRAME_HDR_SIZE ? dec->hdr.type : 0;
}

void frames_partial_describe(const struct frame_decoder *dec, char *buf, size_t size)
{
	bool known;
	uint64_t have, want;
	char tag[5];

	if (!frames_partial(dec, &known, &have, &want)) {
		snprintf(buf, size, "no partial tail");
		return;
	}
	if (!known) {
		snprintf(buf, size, "partial tail: header %llu of %llu bytes",
			 (unsigned long long)have, (unsigned long long)want);
		return;
	}
	frame_tag(dec->hdr.type, tag);
	snprintf(buf, size, "partial tail: %s %llu of %llu bytes%s", tag, (unsigned long long)have,
		 (unsigned long long)want, dec->hdr.length > dec->cap ? " (over the cap)" : "");
}

size_t frames_buffered_bytes(const struct frame_decoder *dec)
{
	return dec->hdr_have + dec->payload_alloc;
}

const struct frame_stats *frames_stats(const struct frame_decoder *dec)
{
	return &dec->stats;
}
