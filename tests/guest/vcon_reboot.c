/*
 * mode=vcon-reboot (contract: tests/soak/README.md, "Guest contract for port1_reboot.t"): a
 * machine reboot in the middle of a framed stream on console port 1.
 *
 * Boot 1 sends frames 0..A-1 with a notify each, publishes A..A+H-1 without one (as a kernel
 * that reboots leaves them), leaves a marker in RAM and asks for a reboot through the FADT's
 * RESET_REG. The machine keeps its RAM across the reset (a warm reset), so boot 2 finds the
 * marker, knows it is the second boot and sends frames A+H..K-1.
 *
 * Frame i: the 16-byte header of virtio/frame_format.h, then a P-byte payload: u32 LE i, u32
 * LE boot number, pattern bytes 0..P-9 (the same tail T in every frame). On the ring a frame
 * is the header with the payload's first 8 bytes (one 24-byte buffer per chain), then T in
 * at most 32 KiB descriptors: the bytes on the wire are the frame, T is never copied.
 *
 * CRCs: byte-wise CRC-32 is far too slow here for 64 MiB (guest kernel code is emulated), but
 * every frame differs only in 8 bytes, so CRC-32's linearity does the rest (zlib's
 * crc32_combine): crc(X || Y) = Z^len(Y) * crc(X) ^ crc(Y), with Z^n the GF(2) 32x32 matrix
 * that feeds n zero bytes through the raw CRC register. The operators for len(T), P and 16+P
 * are built once and kept as four 256-entry tables each (the matrix applied a byte of the
 * register at a time), so a frame's CRC and its fold into the stream's cost a few lookups.
 */
#include "vcon.h"
#include "io.h"
#include "../../virtio/frame_format.h"

/* acpi.c; declared here until tg.h carries them. */
int tg_acpi_reset_reg(struct tg_gas *reg, uint8_t *value);
void tg_reset(void);
int tg_vcon_reboot_main(void);

#define PAT_PERIOD 65536u
#define DESC_MAX 32768u /* the device's per-descriptor cap, and Linux's per-buffer one */
#define PAYLOAD_MIN 8u
#define PAYLOAD_MAX (PAT_PERIOD + 8) /* the tail is one pattern period at most */
#define HELD_MAX 64u
#define SLOT_SIZE 32u /* header + the payload's first 8 bytes, rounded up */
#define FRAMES_MAX (1u << 20)
#define WAIT_US(s) ((uint64_t)(s) * 1000000)

/* The marker: 63 MiB, above the DMA allocator's 16-60 MiB and inside the 64 MiB minimum. */
#define MARKER_PA 0x3f00000ull
static const char marker_magic[8] = { 'T', 'G', 'R', 'E', 'B', 'O', 'O', 'T' };
struct reboot_marker {
	char magic[8];
	uint32_t boot; /* boots seen so far */
	uint32_t sent; /* A+H: frames boot 1 published */
	/*
	 * Past the contract's 16 bytes: where boot 1's DMA allocations ended. The allocator
	 * relies on RAM never handed out being zero, which boot 1's rings in kept RAM are not:
	 * boot 2 skips past them so that its rings start zeroed.
	 */
	uint64_t dma_end;
};

struct crc_shift {
	uint32_t t[4][256];
};

static struct {
	uint32_t k, at, held, payload, seed, boot;
	uint64_t timeout_us;
	uint8_t *tail;       /* pattern bytes 0..P-9 */
	uint8_t *slots;      /* SLOT_SIZE bytes per descriptor index: a chain's head names its slot */
	uint32_t tail_crc;   /* crc(T) */
	uint32_t tail_descs; /* descriptors T takes */
	struct crc_shift by_tail, by_payload, by_frame;
} rb;

/* GF(2) 32x32 matrices as 32 columns: column n is the image of bit n. */
static uint32_t gf2_times(const uint32_t *mat, uint32_t vec)
{
	uint32_t sum = 0;

	for (; vec; vec &= vec - 1)
		sum ^= mat[__builtin_ctz(vec)];
	return sum;
}

/* dst = a * b (b first); dst may be a or b. */
static void gf2_mul(uint32_t *dst, const uint32_t *a, const uint32_t *b)
{
	uint32_t r[32];

	for (int n = 0; n < 32; n++)
		r[n] = gf2_times(a, b[n]);
	memcpy(dst, r, sizeof(r));
}

/* OP <- Z^len: LEN zero bytes through the reflected CRC-32 register (x^(8*len) mod P(x)). */
static void gf2_zeros_op(uint32_t *op, uint64_t len)
{
	uint32_t base[32];

	/* One zero bit: crc = (crc >> 1) ^ (crc & 1 ? poly : 0). */
	base[0] = 0xedb88320u;
	for (int n = 1; n < 32; n++)
		base[n] = 1u << (n - 1);
	for (int i = 0; i < 3; i++) /* one bit -> two -> four -> one byte */
		gf2_mul(base, base, base);
	for (int n = 0; n < 32; n++)
		op[n] = 1u << n;
	while (len) {
		if (len & 1)
			gf2_mul(op, base, op);
		len >>= 1;
		if (len)
			gf2_mul(base, base, base);
	}
}

static void shift_make(struct crc_shift *s, uint64_t len)
{
	uint32_t op[32];

	gf2_zeros_op(op, len);
	for (int k = 0; k < 4; k++) {
		s->t[k][0] = 0;
		for (uint32_t b = 1; b < 256; b++) {
			uint32_t low = b & -b;
			s->t[k][b] = s->t[k][b ^ low] ^ op[8 * k + __builtin_ctz(low)];
		}
	}
}

static uint32_t shift_apply(const struct crc_shift *s, uint32_t crc)
{
	return s->t[0][crc & 0xff] ^ s->t[1][(crc >> 8) & 0xff] ^ s->t[2][(crc >> 16) & 0xff] ^
	       s->t[3][crc >> 24];
}

/* zlib's crc32_combine: the CRC of X || Y from crc(X), crc(Y) and len(Y). */
static uint32_t crc_combine(uint32_t crc1, uint32_t crc2, uint64_t len2)
{
	uint32_t op[32];

	gf2_zeros_op(op, len2);
	return gf2_times(op, crc1) ^ crc2;
}

static uint32_t boot_of(uint32_t i)
{
	return i < rb.at + rb.held ? 1 : 2;
}

/* Frame I's header and the payload's first 8 bytes into W (24 bytes); returns the frame's CRC. */
static uint32_t frame_build(uint8_t *w, uint32_t i)
{
	struct frame_hdr h = {
		.type = i + 1 == rb.k ? FRAME_TYPE_EXIT : FRAME_TYPE_TEST,
		.length = rb.payload,
		.pad = 0,
	};

	frame_le32_put(w + 16, i);
	frame_le32_put(w + 20, boot_of(i));
	h.crc32 = shift_apply(&rb.by_tail, frame_crc32_update(0, w + 16, 8)) ^ rb.tail_crc;
	frame_hdr_put(w, &h);
	return shift_apply(&rb.by_payload, frame_crc32_update(0, w, 16)) ^ h.crc32;
}

/* CRC-32 of frames [from, to) as the host should have them. */
static uint32_t frames_crc(uint32_t from, uint32_t to)
{
	uint8_t w[24];
	uint32_t crc = 0;

	for (uint32_t i = from; i < to; i++)
		crc = shift_apply(&rb.by_frame, crc) ^ frame_build(w, i);
	return crc;
}

static uint64_t frames_bytes(uint32_t n)
{
	return (uint64_t)n * (FRAME_HDR_SIZE + rb.payload);
}

static int add_frame(struct tg_vq *vq, uint32_t i)
{
	struct tg_seg s[1 + (PAYLOAD_MAX - 8 + DESC_MAX - 1) / DESC_MAX];
	uint8_t *w = rb.slots + (uint64_t)vq->free_head * SLOT_SIZE;
	uint32_t n = 1, left = rb.payload - 8;

	frame_build(w, i);
	s[0] = (struct tg_seg){ w, 24, false };
	for (uint8_t *p = rb.tail; left; n++) {
		uint32_t len = left < DESC_MAX ? left : DESC_MAX;
		s[n] = (struct tg_seg){ p, len, false };
		p += len;
		left -= len;
	}
	return tg_vq_add(vq, s, n, w);
}

/* Frames [from, to) on port 1, a notify each; returns once the device has used them all. */
static int send_frames(struct vcon *v, uint32_t from, uint32_t to)
{
	struct tg_vq *vq = v->port[1].tx;
	uint64_t last = tg_now_us();

	for (uint32_t i = from; i < to || vq->num_free != vq->num;) {
		if (vcon_reclaim_tx(v, 1) > 0) {
			last = tg_now_us();
			continue;
		}
		if (i < to && vq->num_free >= 1 + rb.tail_descs) {
			add_frame(vq, i++);
			tg_vq_kick(vq);
			last = tg_now_us();
			continue;
		}
		vcon_poll_ctl(v);
		if (tg_now_us() - last > rb.timeout_us) {
			tg_printf("tg: vcon reboot: port 1 tx stuck at frame %u of %u\n", i, to);
			return -1;
		}
		vcon_idle(v);
	}
	return 0;
}

static TG_NORETURN void finish(const char *why)
{
	if (why)
		tg_printf("tg: vcon reboot: %s\n", why);
	tg_printf("tg: done\n");
	tg_poweroff();
}

static void read_plan(void)
{
	rb.k = (uint32_t)tg_arg_num("frames", 2048);
	if (rb.k == 0 || rb.k > FRAMES_MAX)
		rb.k = 2048;
	rb.at = (uint32_t)tg_arg_num("reboot_at", rb.k / 2);
	if (rb.at > rb.k)
		rb.at = rb.k;
	rb.held = (uint32_t)tg_arg_num("held", 8);
	if (rb.held > HELD_MAX)
		rb.held = HELD_MAX;
	if (rb.held > rb.k - rb.at)
		rb.held = rb.k - rb.at;
	rb.payload = (uint32_t)tg_arg_num("payload", 32752);
	if (rb.payload < PAYLOAD_MIN || rb.payload > PAYLOAD_MAX) {
		tg_printf("tg: vcon reboot: payload %u not in %u..%u, using 32752\n", rb.payload,
			  PAYLOAD_MIN, PAYLOAD_MAX);
		rb.payload = 32752;
	}
	rb.seed = (uint32_t)tg_arg_num("seed", 1);
	rb.timeout_us = WAIT_US(tg_arg_num("timeout", 60));
	rb.tail_descs = (rb.payload - 8 + DESC_MAX - 1) / DESC_MAX;
}

/* What this boot is, from the marker: 1 or 2 (the marker then says so), or 3 and more. */
static uint32_t read_marker(uint64_t *dma_end)
{
	volatile struct reboot_marker *m = (volatile struct reboot_marker *)MARKER_PA;
	char magic[8];

	for (int i = 0; i < 8; i++)
		magic[i] = m->magic[i];
	*dma_end = 0;
	if (memcmp(magic, marker_magic, 8))
		return 1;
	if (m->boot != 1) {
		m->boot = m->boot + 1;
		return m->boot < 3 ? 3 : m->boot;
	}
	if (m->sent != rb.at + rb.held) {
		tg_printf("tg: vcon reboot: marker says boot 1 sent %u frames, the plan %u\n",
			  m->sent, rb.at + rb.held);
		m->boot = 3;
		return 3;
	}
	*dma_end = m->dma_end;
	m->boot = 2;
	return 2;
}

static void write_marker(void)
{
	volatile struct reboot_marker *m = (volatile struct reboot_marker *)MARKER_PA;
	uint8_t *end = tg_dma_alloc(1, 1);

	m->boot = 1;
	m->sent = rb.at + rb.held;
	m->dma_end = end ? (uint64_t)end + 1 : 0;
	barrier();
	for (int i = 0; i < 8; i++)
		m->magic[i] = marker_magic[i];
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* Boot 2: hand out DMA memory only above what boot 1 used (see struct reboot_marker). */
static int skip_dma(uint64_t end)
{
	uint8_t *p = tg_dma_alloc(1, 1);

	if (!p)
		return -1;
	if ((uint64_t)p + 1 < end && !tg_dma_alloc(end - ((uint64_t)p + 1), 1))
		return -1;
	return 0;
}

static int setup(struct vcon *v)
{
	bool irq = tg_arg_num("irq", 1) != 0;

	tg_timer_start((uint32_t)tg_arg_num("hz", 1000), 0); /* the fallback wake-up while idle */
	irq_enable();
	if (vcon_probe(v, irq) < 0)
		return -1;
	vcon_handshake(v, (uint32_t)tg_arg_num("ports", v->nports), WAIT_US(10));
	if (v->nports < 2 || !v->port[1].added || !v->port[1].tx)
		return -1;
	vcon_open_port(v, 1, true);
	return 0;
}

static TG_NORETURN void reboot(void)
{
	struct tg_gas reg;
	uint8_t value;

	if (tg_acpi_reset_reg(&reg, &value) == 0)
		tg_printf("tg: vcon reboot: reset via RESET_REG %s 0x%lx value=0x%x\n",
			  reg.space_id == 1 ? "io" : "mem", reg.address, value);
	else
		tg_printf("tg: vcon reboot: no RESET_REG, reset via port 0xcf9, then port 0x64\n");
	tg_timer_stop();
	tg_reset();
	tg_printf("tg: vcon reboot did not happen\n");
	tg_poweroff();
}

int tg_vcon_reboot_main(void)
{
	struct vcon *v = &tg_vcon;
	uint64_t dma_end;

	read_plan();
	rb.boot = read_marker(&dma_end);
	if (rb.boot > 2) {
		tg_printf("tg: vcon reboot: unexpected boot %u\n", rb.boot);
		tg_poweroff();
	}
	tg_printf("tg: vcon reboot plan frames=%u reboot_at=%u held=%u payload=%u boot=%u\n", rb.k,
		  rb.at, rb.held, rb.payload, rb.boot);
	if (rb.boot == 2 && (!dma_end || skip_dma(dma_end) < 0))
		finish("boot 1's DMA memory cannot be skipped");

	rb.tail = tg_dma_alloc(rb.payload - 8 ? rb.payload - 8 : 1, 64);
	rb.slots = tg_dma_alloc((uint64_t)TG_VQ_MAX * SLOT_SIZE, 64);
	if (!rb.tail || !rb.slots)
		finish("out of DMA memory");
	for (uint32_t j = 0; j < rb.payload - 8; j++)
		rb.tail[j] = (uint8_t)(j * 7 + (j >> 8) * 13 + rb.seed);
	rb.tail_crc = frame_crc32_update(0, rb.tail, rb.payload - 8);
	shift_make(&rb.by_tail, rb.payload - 8);
	shift_make(&rb.by_payload, rb.payload);
	shift_make(&rb.by_frame, FRAME_HDR_SIZE + rb.payload);

	if (setup(v) < 0)
		finish("port 1 not there");
	struct tg_vq *vq = v->port[1].tx;
	uint32_t sent = rb.at + rb.held;
	uint32_t crc1 = frames_crc(0, sent);

	if (rb.boot == 2) {
		if (send_frames(v, sent, rb.k) < 0)
			finish(NULL);
		uint32_t crc2 = frames_crc(sent, rb.k);
		tg_printf("tg: vcon reboot: boot 2 sent frames=%u bytes=%lu crc=0x%08x\n",
			  rb.k - sent, frames_bytes(rb.k - sent), crc2);
		tg_printf("tg: vcon port 1 reboot frames=%u bytes=%lu crc=0x%08x\n", rb.k,
			  frames_bytes(rb.k), crc_combine(crc1, crc2, frames_bytes(rb.k - sent)));
		finish(NULL);
	}

	if (rb.held * (1 + rb.tail_descs) > vq->num) {
		tg_printf("tg: vcon reboot: %u held frames do not fit port 1's ring of %u\n", rb.held,
			  vq->num);
		finish(NULL);
	}
	if (send_frames(v, 0, rb.at) < 0)
		finish(NULL);
	for (uint32_t i = rb.at; i < sent; i++) {
		add_frame(vq, i);
		tg_vq_publish(vq);
	}
	tg_printf("tg: vcon reboot: frames %u..%u published on port 1 tx without notify\n", rb.at,
		  sent);
	tg_printf("tg: vcon reboot: boot 1 sent frames=%u bytes=%lu crc=0x%08x\n", sent,
		  frames_bytes(sent), crc1);
	write_marker();
	reboot();
}
