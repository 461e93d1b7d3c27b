/*
 * mode=vcon-soak (tests/soak/control_soak.t; contract: README.md, "virtio-console modes"):
 * checksummed records both ways on all three console ports while a debugger pauses, steps,
 * breaks, snapshots and rewinds the machine under it.
 *
 * A record is a 16-byte header (u32 LE magic "TGSK", u8 port, u8 dir, u16 LE payload length,
 * u32 LE sequence number, u32 LE CRC-32 of the payload) and its payload; byte i of the payload
 * of record s on port p in direction d is soak_byte(p, d, s, i). The guest writes record 0, 1,
 * ... on each port (dir 0, payload length 8 + (s * 37 + p * 11) % 120) and checks what the
 * host sends (dir 1, any length up to 255): magic, port, CRC, and the sequence numbers 0, 1, ...
 * in order. Everything it counts is in tg_soak, for the host to read with gdb or the REPL.
 *
 * The BSP never halts: it spins bumping tg_counter (a watchpoint target must be written while
 * watch-stepping holds interrupts), calls tg_break_here once per timer tick and prints
 * `tg: alive N` every 100 ticks. The APs take a slow tick and halt.
 */
#include "vcon.h"
#include "io.h"
#include "../../virtio/frame_format.h"

int tg_vcon_soak_main(void);

#define SOAK_MAGIC 0x4b534754u /* "TGSK" little-endian */
#define SOAK_HDR 16u
#define SOAK_PAYLOAD_MAX 255u
#define SOAK_SLOTS 32u /* records in flight per port: well below the ring's 256 */
#define SOAK_SLOT_SIZE 512u
#define SOAK_PORTS 3u
#define ALIVE_EVERY_TICKS 100
#define STATUS_EVERY_ALIVE 10
#define HANDSHAKE_US 10000000

/* What the host reads (gdb `m`, REPL `x`): keep the order, append only. */
struct tg_soak {
	uint64_t magic;                /* SOAK_MAGIC once the ports are open */
	uint64_t alive;                /* `tg: alive N` lines so far */
	uint64_t tx_seq[SOAK_PORTS];   /* records written (the next one's number) */
	uint64_t rx_seq[SOAK_PORTS];   /* records checked good (the next one expected) */
	uint64_t rx_bad[SOAK_PORTS];   /* bad magic/port/dir/length bytes, or a CRC mismatch */
	uint64_t rx_gaps[SOAK_PORTS];  /* a good record with another number than expected */
	uint64_t ctl_in;               /* control messages since the ports were open */
	uint64_t tx_blocked;           /* ticks a port had all its slots in flight */
	uint64_t gap_port, gap_want, gap_got; /* the first gap: what was expected, what came */
};
volatile struct tg_soak tg_soak;

struct soak_rx {
	uint8_t hdr[SOAK_HDR];
	uint32_t hdr_got, left, crc, want_crc;
};

struct soak_tx {
	uint8_t *slot;                 /* SOAK_SLOTS buffers of SOAK_SLOT_SIZE */
	bool busy[SOAK_SLOTS];
};

static struct soak_rx rx[SOAK_PORTS];
static struct soak_tx tx[SOAK_PORTS];

static inline uint8_t soak_byte(uint32_t port, uint32_t dir, uint32_t seq, uint32_t i)
{
	return (uint8_t)(seq * 131 + i * 7 + port * 29 + dir * 71 + (i >> 3) * 3);
}

/* Write the next record on PORT if a slot is free; false when all are in flight. */
static bool tx_one(struct vcon *v, uint32_t port)
{
	struct soak_tx *t = &tx[port];
	struct tg_vq *vq = v->port[port].tx;
	uint32_t seq = (uint32_t)tg_soak.tx_seq[port], n = 8 + (seq * 37 + port * 11) % 120;
	uint32_t k = seq % SOAK_SLOTS;
	uint8_t *b = t->slot + k * SOAK_SLOT_SIZE;

	if (t->busy[k] || !vq->num_free)
		return false;
	for (uint32_t i = 0; i < n; i++)
		b[SOAK_HDR + i] = soak_byte(port, 0, seq, i);
	frame_le32_put(b, SOAK_MAGIC);
	b[4] = (uint8_t)port;
	b[5] = 0;
	b[6] = (uint8_t)n;
	b[7] = (uint8_t)(n >> 8);
	frame_le32_put(b + 8, seq);
	frame_le32_put(b + 12, frame_crc32_update(0, b + SOAK_HDR, n));
	struct tg_seg s = { b, SOAK_HDR + n, false };
	tg_vq_add(vq, &s, 1, b);
	tg_vq_kick(vq);
	t->busy[k] = true;
	tg_soak.tx_seq[port] = seq + 1;
	return true;
}

static void tx_reclaim(struct vcon *v, uint32_t port)
{
	uint8_t *b;

	while ((b = tg_vq_get_used(v->port[port].tx, NULL)))
		tx[port].busy[(uint32_t)(b - tx[port].slot) / SOAK_SLOT_SIZE] = false;
}

/* One received byte into PORT's record parser. */
static void rx_byte(uint32_t port, uint8_t c)
{
	struct soak_rx *r = &rx[port];

	if (r->hdr_got < SOAK_HDR) {
		r->hdr[r->hdr_got++] = c;
		if (r->hdr_got < SOAK_HDR)
			return;
		uint32_t len = r->hdr[6] | (uint32_t)r->hdr[7] << 8;
		if (frame_le32_get(r->hdr) != SOAK_MAGIC || r->hdr[4] != port || r->hdr[5] != 1 ||
		    len > SOAK_PAYLOAD_MAX) {
			/* Not a header: count it, and look for one a byte further on. */
			tg_soak.rx_bad[port]++;
			memmove(r->hdr, r->hdr + 1, SOAK_HDR - 1);
			r->hdr_got = SOAK_HDR - 1;
			return;
		}
		r->left = len;
		r->crc = ~0u;
		r->want_crc = frame_le32_get(r->hdr + 12);
		if (len)
			return;
	} else {
		r->crc = frame_crc32_table[(r->crc ^ c) & 0xff] ^ (r->crc >> 8);
		if (--r->left)
			return;
	}
	uint32_t seq = frame_le32_get(r->hdr + 8);
	r->hdr_got = 0;
	if (~r->crc != r->want_crc) {
		tg_soak.rx_bad[port]++;
		return;
	}
	if (seq != (uint32_t)tg_soak.rx_seq[port] && !tg_soak.rx_gaps[0] && !tg_soak.rx_gaps[1] &&
	    !tg_soak.rx_gaps[2]) {
		tg_soak.gap_port = port;
		tg_soak.gap_want = tg_soak.rx_seq[port];
		tg_soak.gap_got = seq;
	}
	if (seq != (uint32_t)tg_soak.rx_seq[port])
		tg_soak.rx_gaps[port]++;
	tg_soak.rx_seq[port] = (uint64_t)seq + 1;
}

static void rx_poll(struct vcon *v, uint32_t port)
{
	const uint8_t *p;
	uint32_t n;

	while ((n = vcon_rx_peek(v, port, &p))) {
		for (uint32_t i = 0; i < n; i++)
			rx_byte(port, p[i]);
		vcon_rx_done(v, port, n, true);
	}
}

int tg_vcon_soak_main(void)
{
	struct vcon *v = &tg_vcon;
	struct tg_cpu *c = &tg_cpus[0];
	uint64_t every = tg_arg_num("tx_every", 10), last_tick = c->ticks, next_alive = ALIVE_EVERY_TICKS;
	uint64_t ctl0;

	if (!every)
		every = 1;
	tg_timer_start((uint32_t)tg_arg_num("hz", 1000), 0);
	irq_enable();
	if (vcon_probe(v, true) < 0 || vcon_handshake(v, SOAK_PORTS, HANDSHAKE_US) < (int)SOAK_PORTS) {
		tg_printf("tg: vcon soak needs ports 0-2\n");
		tg_halt_forever();
	}
	vcon_open_port(v, 1, true);
	vcon_open_port(v, 2, true);
	for (uint32_t p = 0; p < SOAK_PORTS; p++)
		tx[p].slot = tg_dma_alloc(SOAK_SLOTS * SOAK_SLOT_SIZE, 64);
	ctl0 = v->ctl_in_count;
	tg_soak.magic = SOAK_MAGIC;
	tg_printf("tg: vcon soak running tx_every=%lu ms\n", every);
	for (;;) {
		tg_counter++;
		vcon_poll_ctl(v);
		tg_soak.ctl_in = v->ctl_in_count - ctl0;
		for (uint32_t p = 0; p < SOAK_PORTS; p++) {
			tx_reclaim(v, p);
			rx_poll(v, p);
		}
		uint64_t t = c->ticks;
		if (t == last_tick) {
			cpu_relax();
			continue;
		}
		last_tick = t;
		tg_break_here(t);
		if (t % every == 0)
			for (uint32_t p = 0; p < SOAK_PORTS; p++)
				if (!tx_one(v, p))
					tg_soak.tx_blocked++;
		if (t >= next_alive) {
			next_alive = t + ALIVE_EVERY_TICKS;
			tg_printf("tg: alive %lu\n", ++tg_soak.alive);
			if (tg_soak.alive % STATUS_EVERY_ALIVE == 0)
				tg_printf("tg: soak tx=%lu,%lu,%lu rx=%lu,%lu,%lu bad=%lu gaps=%lu ctl=%lu\n",
					  tg_soak.tx_seq[0], tg_soak.tx_seq[1], tg_soak.tx_seq[2],
					  tg_soak.rx_seq[0], tg_soak.rx_seq[1], tg_soak.rx_seq[2],
					  tg_soak.rx_bad[0] + tg_soak.rx_bad[1] + tg_soak.rx_bad[2],
					  tg_soak.rx_gaps[0] + tg_soak.rx_gaps[1] + tg_soak.rx_gaps[2],
					  tg_soak.ctl_in);
		}
	}
}
