/*
 * What the virtio-console modes do (README.md, "virtio-console modes"):
 * vcon (handshake, data both ways with checksums), vcon-wake (wake bytes on
 * port 0), vcon-stay (stay up, log control messages), vcon-bench
 * (throughput), and the misbehaviours chosen by bad=.
 *
 * Data streams: byte i of a stream is pattern(seed)[i % 65536] with
 * pattern[j] = (j * 7 + (j >> 8) * 13 + seed) & 0xff, so a test can rebuild
 * it; checksums are IEEE CRC-32 (zlib.crc32), computed by the guest only up
 * to crc_max bytes (CPU time is dear where guest code is emulated).
 */
#include "vcon.h"
#include "io.h"
#include "../../virtio/frame_format.h"

#define PAT_PERIOD 65536u
#define CHUNK_MAX 32768u /* Linux's per-buffer cap, and the device's per-descriptor cap */
#define WAIT_US(s) ((uint64_t)(s) * 1000000)

static uint8_t *pattern; /* PAT_PERIOD + CHUNK_MAX bytes: any window of CHUNK_MAX is contiguous */
static uint32_t seed;
static uint64_t crc_max;

static void make_pattern(void)
{
	pattern = tg_dma_alloc(PAT_PERIOD + CHUNK_MAX, 4096);
	for (uint32_t j = 0; j < PAT_PERIOD + CHUNK_MAX; j++) {
		uint32_t k = j % PAT_PERIOD;
		pattern[j] = (uint8_t)(k * 7 + (k >> 8) * 13 + seed);
	}
}

/* CRC-32 of the first LEN bytes of the stream, or 0 with *skipped when LEN > crc_max. */
static uint32_t stream_crc(uint64_t len, bool *skipped)
{
	uint32_t crc = 0;
	*skipped = len > crc_max;
	if (*skipped)
		return 0;
	for (uint64_t off = 0; off < len;) {
		uint64_t n = len - off < PAT_PERIOD ? len - off : PAT_PERIOD;
		crc = frame_crc32_update(crc, pattern, n);
		off += n;
	}
	return crc;
}

static void print_crc_line2(const char *prefix, const char *what, unsigned port, uint64_t bytes,
			    uint32_t crc, bool skipped)
{
	if (skipped)
		tg_printf("tg: vcon %sport %u %s bytes=%lu crc=none\n", prefix, port, what, bytes);
	else
		tg_printf("tg: vcon %sport %u %s bytes=%lu crc=0x%08x\n", prefix, port, what, bytes,
			  crc);
}

static void print_crc_line(const char *what, unsigned port, uint64_t bytes, uint32_t crc,
			   bool skipped)
{
	print_crc_line2("", what, port, bytes, crc, skipped);
}

/*
 * The stream on PORT: LEN bytes in chains of CHUNK, up to INFLIGHT in the ring; kick after
 * each chain (Linux) or once per batch. Counts what the guest did.
 */
struct tx_stats {
	uint64_t chains, kicks_before, suppressed_before, irqs_before, t0, t1;
};

static int stream_tx(struct vcon *v, unsigned port, uint64_t len, uint32_t chunk, bool batch,
		     struct tx_stats *st)
{
	struct vcon_port *p = &v->port[port];
	struct tg_vq *vq = p->tx;
	uint64_t off = 0, last = tg_now_us();

	if (!p->added || !vq) {
		tg_printf("tg: vcon port %u not there\n", port);
		return -1;
	}
	if (chunk == 0 || chunk > CHUNK_MAX)
		chunk = CHUNK_MAX;
	st->kicks_before = vq->notifies;
	st->suppressed_before = vq->notify_suppressed;
	st->irqs_before = v->dev.irqs;
	st->t0 = rdtsc();
	while (off < len || vq->num_free != vq->num) {
		bool progress = vcon_reclaim_tx(v, port) > 0;
		bool added = false;
		while (off < len && vq->num_free) {
			uint32_t n = len - off < chunk ? (uint32_t)(len - off) : chunk;
			struct tg_seg s = { pattern + off % PAT_PERIOD, n, false };
			tg_vq_add(vq, &s, 1, s.addr);
			off += n;
			st->chains++;
			added = true;
			if (!batch)
				tg_vq_kick(vq);
		}
		/*
		 * A device may take only part of what one notify offers (vmdbg: 256 KiB a call),
		 * so a batching writer kicks again while chains it published are still pending.
		 */
		if (batch && (added || (progress && vq->num_free != vq->num)))
			tg_vq_kick(vq);
		if (added || progress) {
			last = tg_now_us();
			continue;
		}
		vcon_poll_ctl(v);
		if (tg_now_us() - last > WAIT_US(60)) {
			tg_printf("tg: vcon port %u tx stuck at %lu of %lu bytes\n", port, off, len);
			return -1;
		}
		vcon_idle(v);
	}
	st->t1 = rdtsc();
	p->tx_bytes += len;
	return 0;
}

/*
 * stream_tx with a pre-built descriptor table (bench key kick=reuse or kick=reuse-batch), as a driver with a ring of
 * pre-mapped buffers has: descriptor i always names the pattern window that stream chains
 * k = i (mod num) carry, so a chain costs one avail entry and its kick, and reclaiming one
 * costs reading its used entry. Needs num * chunk to be a multiple of the pattern period;
 * returns 1 when it cannot apply (the caller uses stream_tx). The data on the wire is the
 * same stream, chain for chain. The ring is left as tg_vq_add expects it.
 */
/* Not inlined: its loop keeps the ring state in registers, not in tg_vcon_main's stack frame. */
static __attribute__((noinline)) int stream_tx_reuse(struct vcon *v, unsigned port, uint64_t len,
						     uint32_t chunk, bool batch, struct tx_stats *st)
{
	struct vcon_port *p = &v->port[port];
	struct tg_vq *vq = p->tx;
	uint64_t last = tg_now_us();
	uint16_t num;

	if (chunk == 0 || chunk > CHUNK_MAX)
		chunk = CHUNK_MAX;
	if (!p->added || !vq || vq->num_free != vq->num || (vq->num & (vq->num - 1)) ||
	    ((uint64_t)vq->num * chunk) % PAT_PERIOD) {
		tg_printf("tg: vcon bench kick=reuse does not apply (ring busy, or queue size * chunk "
			  "not a multiple of %u): plain writes\n", PAT_PERIOD);
		return 1;
	}
	num = vq->num;
	for (uint16_t i = 0; i < num; i++) {
		vq->desc[i] = (struct vring_desc){ (uint64_t)(pattern + ((uint64_t)i * chunk) % PAT_PERIOD),
						    chunk, 0, 0 };
		vq->chain_len[i] = 0;
	}
	st->kicks_before = vq->notifies;
	st->suppressed_before = vq->notify_suppressed;
	st->irqs_before = v->dev.irqs;
	st->t0 = rdtsc();
	/* Ring state in locals: every memory access is an emulated instruction on this KVM. */
	volatile struct vring_avail *av = vq->avail;
	volatile struct vring_used *used = vq->used;
	uint16_t *busy = vq->chain_len, mask = (uint16_t)(num - 1);
	uint16_t last_used = vq->last_used_idx, avail = vq->avail_idx;
	uint64_t k = 0, done = 0, chains = (len + chunk - 1) / chunk, notifies = 0, suppressed = 0;
	uint32_t last_len = (uint32_t)(len - (chains - 1) * chunk);
	while (done < chains) {
		uint16_t uidx = __atomic_load_n(&used->idx, __ATOMIC_ACQUIRE);
		bool progress = uidx != last_used, added = false;
		for (; last_used != uidx; last_used++, done++) {
			uint32_t id = used->ring[last_used & mask].id;
			if (id >= num || !busy[id]) {
				tg_printf("tg: virtio queue %u: device used bad head %u\n", vq->index, id);
				return -1;
			}
			busy[id] = 0;
		}
		while (k < chains && !busy[k & mask]) {
			uint16_t i = (uint16_t)(k & mask);
			if (k + 1 == chains) /* the last chain may be short */
				vq->desc[i].len = last_len;
			busy[i] = 1;
			av->ring[avail & mask] = i;
			avail++;
			k++;
			added = true;
			if (batch)
				continue;
			/* tg_vq_kick: publish, full fence, notify unless the device said not to. */
			__atomic_store_n(&av->idx, avail, __ATOMIC_RELEASE);
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			if (used->flags & VRING_USED_F_NO_NOTIFY) {
				suppressed++;
			} else {
				notifies++;
				tg_vdev_write(vq->dev, VIRTIO_MMIO_QUEUE_NOTIFY, vq->index);
			}
		}
		if (batch && (added || (progress && done < k))) {
			vq->avail_idx = avail;
			tg_vq_kick(vq);
		}
		if (added || progress) {
			last = tg_now_us();
			continue;
		}
		vcon_poll_ctl(v);
		if (tg_now_us() - last > WAIT_US(60)) {
			tg_printf("tg: vcon port %u tx stuck at %lu of %lu bytes\n", port,
				  k * chunk, len);
			return -1;
		}
		vcon_idle(v);
	}
	vq->last_used_idx = last_used;
	vq->avail_idx = avail;
	vq->used_seen += done;
	vq->notifies += notifies;
	vq->notify_suppressed += suppressed;
	st->t1 = rdtsc();
	st->chains = chains;
	/* Back to tg_vq_add's free list: every descriptor free, linked in order. */
	for (uint16_t i = 0; i < num; i++)
		vq->desc[i] = (struct vring_desc){ 0, 0, 0, (uint16_t)(i + 1 < num ? i + 1 : 0) };
	vq->free_head = 0;
	vq->num_free = num;
	p->tx_bytes += len;
	return 0;
}

/* Read LEN bytes from PORT (CRC-32 when LEN <= crc_max); 0, or -1 on timeout. */
static int stream_rx(struct vcon *v, unsigned port, uint64_t len, uint64_t timeout_us,
		     uint32_t *crc, uint64_t *got, bool batch_kick)
{
	uint64_t last = tg_now_us();
	bool do_crc = len <= crc_max;

	*crc = 0;
	*got = 0;
	while (*got < len) {
		const uint8_t *ptr;
		uint32_t n = vcon_rx_peek(v, port, &ptr);
		if (n) {
			if (n > len - *got)
				n = (uint32_t)(len - *got);
			if (do_crc)
				*crc = frame_crc32_update(*crc, ptr, n);
			*got += n;
			vcon_rx_done(v, port, n, !batch_kick);
			last = tg_now_us();
			continue;
		}
		if (batch_kick)
			tg_vq_kick(v->port[port].rx);
		vcon_poll_ctl(v);
		if (tg_now_us() - last > timeout_us) {
			tg_printf("tg: vcon port %u rx timeout after %lu of %lu bytes\n", port, *got,
				  len);
			return -1;
		}
		vcon_idle(v);
	}
	if (batch_kick)
		tg_vq_kick(v->port[port].rx);
	return 0;
}

/* K frames on port 1 from the stream: TEST frames, the last one EXIT; header and payload as two descriptors. */
static void send_frames(struct vcon *v, unsigned port, uint32_t k)
{
	struct vcon_port *p = &v->port[port];
	uint8_t *hdrs = tg_dma_alloc(16ull * k, 16);
	uint32_t crc = 0;
	uint64_t total = 0, off = 0;

	if (!hdrs || !p->tx)
		return;
	for (uint32_t i = 0; i < k; i++) {
		uint32_t len = (100 + i * 517) % 5000;
		const uint8_t *payload = pattern + off % PAT_PERIOD;
		uint32_t type = i + 1 == k ? FRAME_TYPE_EXIT : FRAME_TYPE_TEST;
		frame_encode_hdr(hdrs + 16 * i, type, payload, len);
		struct tg_seg s[2] = { { hdrs + 16 * i, 16, false }, { (void *)payload, len, false } };
		while (p->tx->num_free < 2) {
			if (!vcon_reclaim_tx(v, port))
				vcon_idle(v);
		}
		tg_vq_add(p->tx, s, len ? 2 : 1, hdrs + 16 * i);
		tg_vq_kick(p->tx);
		crc = frame_crc32_update(crc, hdrs + 16 * i, 16);
		crc = frame_crc32_update(crc, payload, len);
		total += 16 + len;
		off += len;
	}
	while (p->tx->num_free != p->tx->num)
		if (!vcon_reclaim_tx(v, port))
			vcon_idle(v);
	tg_printf("tg: vcon port %u frames=%u bytes=%lu crc=0x%08x\n", port, k, total, crc);
}

static const char *wake_name(uint8_t b)
{
	switch (b) {
	case 0xd1: return "dump";
	case 0xd3: return "shutdown";
	case 0xbf: return "bpf-write-done";
	case 0xac: return "accessor-ready";
	default: return "other";
	}
}

static int setup(struct vcon *v)
{
	bool irq = tg_arg_num("irq", 1) != 0;
	tg_timer_start((uint32_t)tg_arg_num("hz", 1000), 0); /* the fallback wake-up while idle */
	irq_enable();
	if (vcon_probe(v, irq) < 0)
		return -1;
	uint32_t want = (uint32_t)tg_arg_num("ports", v->nports);
	vcon_handshake(v, want, WAIT_US(10));
	return 0;
}

static void finish(struct vcon *v)
{
	tg_printf("tg: vcon stats notifies=%lu irqs=%lu ctl_in=%lu ctl_out=%lu\n",
		  ({
			  uint64_t n = 0;
			  for (unsigned q = 0; q < VCON_NQ; q++)
				  n += v->vq[q].notifies;
			  n;
		  }),
		  v->dev.irqs, v->ctl_in_count, v->ctl_out_count);
	uint64_t linger = WAIT_US(tg_arg_num("linger", 0)), t0 = tg_now_us();
	if (linger)
		tg_printf("tg: vcon linger %lu s\n", linger / 1000000);
	while (tg_now_us() - t0 < linger) {
		vcon_poll_ctl(v);
		vcon_idle(v);
	}
	tg_printf("tg: done\n");
	tg_poweroff();
}

static void run_vcon(struct vcon *v)
{
	uint64_t bytes = tg_arg_num("bytes", 65536);
	uint64_t expect = tg_arg_num("expect", 0);
	uint32_t frames = (uint32_t)tg_arg_num("frames", 0);
	uint64_t timeout = WAIT_US(tg_arg_num("timeout", 30));
	struct tx_stats st;
	bool skipped;
	uint32_t crc;
	uint64_t got;

	for (unsigned i = 1; i < v->nports && i < 3; i++)
		if (v->port[i].added)
			vcon_open_port(v, i, true);

	static const char line[] = "vcon: hello on port 0\r\n";
	char *l = tg_dma_alloc(sizeof(line), 16);
	memcpy(l, line, sizeof(line));
	if (vcon_write(v, 0, l, sizeof(line) - 1, CHUNK_MAX) == 0)
		tg_printf("tg: vcon port 0 tx line ok\n");

	if (v->nports > 1 && v->port[1].added) {
		if (frames) {
			send_frames(v, 1, frames);
		} else {
			memset(&st, 0, sizeof(st));
			if (stream_tx(v, 1, bytes, CHUNK_MAX, false, &st) == 0) {
				crc = stream_crc(bytes, &skipped);
				print_crc_line("tx", 1, bytes, crc, skipped);
			}
		}
	}
	if (v->nports > 2 && v->port[2].added) {
		if (expect) {
			tg_printf("tg: vcon port 2 rx waiting for %lu bytes\n", expect);
			if (stream_rx(v, 2, expect, timeout, &crc, &got, false) == 0)
				print_crc_line("rx", 2, got, crc, expect > crc_max);
		}
		memset(&st, 0, sizeof(st));
		if (stream_tx(v, 2, bytes, CHUNK_MAX, false, &st) == 0) {
			crc = stream_crc(bytes, &skipped);
			print_crc_line("tx", 2, bytes, crc, skipped);
		}
	}
	finish(v);
}

static void run_wake(struct vcon *v)
{
	uint64_t count = tg_arg_num("count", 4), seen = 0;
	uint64_t timeout = WAIT_US(tg_arg_num("timeout", 30)), t0 = tg_now_us();

	tg_printf("tg: vcon wake ready count=%lu\n", count);
	while (seen < count && tg_now_us() - t0 < timeout) {
		const uint8_t *p;
		uint32_t n = vcon_rx_peek(v, 0, &p);
		for (uint32_t i = 0; i < n && seen < count; i++, seen++)
			tg_printf("tg: vcon wake 0x%02x %s\n", p[i], wake_name(p[i]));
		if (n) {
			vcon_rx_done(v, 0, n, true);
			continue;
		}
		vcon_poll_ctl(v);
		vcon_idle(v);
	}
	tg_printf("tg: vcon wake done count=%lu%s\n", seen, seen < count ? " (timed out)" : "");
	finish(v);
}

static void run_stay(struct vcon *v)
{
	tg_printf("tg: vcon stay\n");
	for (;;) {
		bool any = vcon_poll_ctl(v) > 0;
		for (unsigned id = 0; id < v->nports; id++) {
			const uint8_t *p;
			uint32_t n = vcon_rx_peek(v, id, &p);
			if (!n)
				continue;
			char text[65];
			uint32_t k = n < 64 ? n : 64;
			for (uint32_t i = 0; i < k; i++)
				text[i] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '.';
			text[k] = '\0';
			tg_printf("tg: vcon port %u rx %u bytes \"%s\"\n", id, n, text);
			vcon_rx_done(v, id, n, true);
			any = true;
		}
		if (!any)
			vcon_idle(v);
	}
}

static void run_bench(struct vcon *v)
{
	uint64_t bytes = tg_arg_num("bytes", 64ull << 20);
	unsigned port = (unsigned)tg_arg_num("port", 1);
	const char *dir = tg_arg_str("dir", "tx");
	uint32_t chunk = (uint32_t)tg_arg_num("chunk", CHUNK_MAX);
	uint64_t kicks0, supp0, irqs0 = v->dev.irqs, t0, t1;

	if (port >= v->nports || !v->port[port].added) {
		tg_printf("tg: vcon bench port %u not there\n", port);
		finish(v);
	}
	if (port)
		vcon_open_port(v, port, true);
	if (!strcmp(dir, "rx")) {
		struct tg_vq *vq = v->port[port].rx;
		uint32_t crc;
		uint64_t got;
		kicks0 = vq->notifies;
		supp0 = vq->notify_suppressed;
		tg_printf("tg: vcon bench rx ready port=%u bytes=%lu\n", port, bytes);
		/* The clock starts with the first byte: the host may connect late. */
		const uint8_t *dummy;
		while (!vcon_rx_peek(v, port, &dummy))
			vcon_idle(v);
		t0 = rdtsc();
		int r = stream_rx(v, port, bytes, WAIT_US(60), &crc, &got, true);
		t1 = rdtsc();
		if (r < 0)
			finish(v);
		kicks0 = vq->notifies - kicks0;
		supp0 = vq->notify_suppressed - supp0;
	} else {
		struct tx_stats st;
		memset(&st, 0, sizeof(st));
		/*
		 * kick=each|batch, and reuse|reuse-batch for the same with a pre-built
		 * descriptor table (the guest's command line takes known keys only).
		 */
		const char *kick = tg_arg_str("kick", "each");
		bool batch = !strcmp(kick, "batch") || !strcmp(kick, "reuse-batch");
		int r = 1;
		if (!strncmp(kick, "reuse", 5))
			r = stream_tx_reuse(v, port, bytes, chunk, batch, &st);
		if (r > 0)
			r = stream_tx(v, port, bytes, chunk, batch, &st);
		if (r < 0)
			finish(v);
		t0 = st.t0;
		t1 = st.t1;
		kicks0 = v->port[port].tx->notifies - st.kicks_before;
		supp0 = v->port[port].tx->notify_suppressed - st.suppressed_before;
	}
	uint64_t irqs = v->dev.irqs - irqs0;
	uint64_t us = (t1 - t0) * 1000 / (tg_tsc_khz ? tg_tsc_khz : 1000000);
	uint64_t mib = bytes >> 20 ? bytes >> 20 : 1;
	uint64_t mbps10 = us ? bytes * 10 / us : 0; /* bytes/us = MB/s */
	/* notifies: QueueNotify writes; suppressed: kicks the device's NO_NOTIFY spared. */
	tg_printf("tg: vcon bench %s port=%u bytes=%lu cycles=%lu us=%lu MBps=%lu.%lu "
		  "notifies=%lu irqs=%lu notifies_per_mib=%lu irqs_per_mib=%lu suppressed=%lu\n",
		  dir, port, bytes, t1 - t0, us, mbps10 / 10, mbps10 % 10, kicks0, irqs,
		  kicks0 / mib, irqs / mib, supp0);
	finish(v);
}

/* A normal transfer on PORT after a misbehaviour, to show the device still works. */
static void alive_check(struct vcon *v, unsigned port)
{
	struct tx_stats st;
	bool skipped;
	uint64_t n = 4096;

	memset(&st, 0, sizeof(st));
	if (stream_tx(v, port, n, CHUNK_MAX, false, &st) == 0) {
		uint32_t crc = stream_crc(n, &skipped);
		print_crc_line2("alive ", "tx", port, n, crc, skipped);
	}
}

static void publish_raw(struct tg_vq *vq, uint16_t head)
{
	vq->avail->ring[vq->avail_idx % vq->num] = head;
	vq->avail_idx++;
	tg_vq_publish(vq);
	tg_vq_notify(vq);
}

static void bad_loop(struct vcon *v)
{
	struct tg_vq *vq = v->port[1].tx;
	uint8_t *b = pattern;
	/* Two free descriptors naming each other: a chain that never ends. */
	uint16_t a = vq->free_head, c = vq->desc[a].next;
	vq->desc[a] = (struct vring_desc){ (uint64_t)b, 64, VRING_DESC_F_NEXT, c };
	vq->desc[c] = (struct vring_desc){ (uint64_t)b, 64, VRING_DESC_F_NEXT, a };
	tg_printf("tg: vcon bad loop: port 1 tx descriptors %u->%u->%u\n", a, c, a);
	publish_raw(vq, a);
	tg_udelay(100000);
	tg_printf("tg: vcon bad loop: used idx=%u (port 1 tx is now expected dead)\n",
		  vq->used->idx);
	alive_check(v, 2);
}

static void bad_oob(struct vcon *v)
{
	struct tg_vq *vq = v->port[1].tx;
	struct tg_seg s1 = { (void *)0x7ff000000000ull, 4096, false };
	struct tg_seg s2 = { pattern, 0xfffff000u, false }; /* runs far past RAM */
	struct tg_seg s3 = { (void *)(0x100000000ull - 2048), 4096, false }; /* into the MMIO hole */

	tg_printf("tg: vcon bad oob: port 1 tx addr=0x7ff000000000 len=4096, addr=%p len=0xfffff000, "
		  "addr=0xfffff800 len=4096\n", (void *)pattern);
	tg_vq_add(vq, &s1, 1, &s1);
	tg_vq_add(vq, &s2, 1, &s2);
	tg_vq_add(vq, &s3, 1, &s3);
	tg_vq_kick(vq);
	uint64_t t0 = tg_now_us();
	int used = 0;
	while (used < 3 && tg_now_us() - t0 < 2000000) {
		if (tg_vq_get_used(vq, NULL))
			used++;
		else
			vcon_idle(v);
	}
	tg_printf("tg: vcon bad oob: %d of 3 chains returned\n", used);
	alive_check(v, 2);
}

static void bad_wild_idx(struct vcon *v)
{
	struct tg_vq *vq = v->port[1].tx;
	uint16_t idx = (uint16_t)(vq->avail_idx + 1000);
	tg_printf("tg: vcon bad wild-idx: port 1 tx avail idx %u -> %u\n", vq->avail_idx, idx);
	__atomic_store_n(&vq->avail->idx, idx, __ATOMIC_RELEASE);
	tg_vq_notify(vq);
	tg_udelay(100000);
	alive_check(v, 2);
}

/*
 * Port 2's rx ring, posted at PORT_ADD, is turned into zero-length chains before the port is
 * opened; once the host's bytes are pending the device returns them empty (no interrupt: the
 * guest's timer finds them) and the guest posts them empty again, COUNT rounds of the whole
 * ring. Then the real buffers go back and every host byte must still arrive.
 */
static void bad_zero_flood(struct vcon *v)
{
	struct tg_vq *vq = v->port[2].rx;
	uint64_t expect = tg_arg_num("expect", 4096);
	uint64_t rounds = tg_arg_num("count", 4);
	uint64_t returned = 0, nonzero = 0, t0;

	for (unsigned i = 0; i < vq->num; i++)
		vq->desc[i].len = 0;
	vcon_open_port(v, 1, true);
	vcon_open_port(v, 2, true);
	tg_printf("tg: vcon zero-flood: port 2 rx %u chains of length 0, waiting for host data\n",
		  vq->num);
	t0 = tg_now_us();
	while (returned < rounds * vq->num && tg_now_us() - t0 < WAIT_US(30)) {
		uint32_t len;
		void *tok;
		bool any = false;
		while ((tok = tg_vq_get_used(vq, &len))) {
			bool last_round = returned + vq->num >= rounds * vq->num;
			struct tg_seg s = { tok, last_round ? VCON_RXBUF : 0, true };
			tg_vq_add(vq, &s, 1, tok);
			returned++;
			nonzero += len != 0;
			any = true;
		}
		if (any)
			tg_vq_kick(vq);
		else
			vcon_idle(v);
	}
	tg_printf("tg: vcon zero-flood returned=%lu chains nonzero=%lu\n", returned, nonzero);
	/* Chains still posted empty get their length back in place (the device has not taken them). */
	for (unsigned i = 0; i < vq->num; i++)
		if (vq->desc[i].len == 0)
			vq->desc[i].len = VCON_RXBUF;
	tg_vq_kick(vq);
	uint32_t crc;
	uint64_t got;
	if (stream_rx(v, 2, expect, WAIT_US(30), &crc, &got, false) == 0)
		print_crc_line("rx", 2, got, crc, expect > crc_max);
	alive_check(v, 1);
}

static void bad_ctl(struct vcon *v)
{
	static const struct {
		uint32_t id;
		uint16_t ev, val;
	} msgs[] = {
		{ 7, VIRTIO_CONSOLE_PORT_READY, 1 },
		{ 0xfffffffe, VIRTIO_CONSOLE_PORT_OPEN, 1 },
		{ 1, 0x99, 5 },
		{ 0, VIRTIO_CONSOLE_DEVICE_READY, 1 },
		{ 1, VIRTIO_CONSOLE_PORT_READY, 1 },
		{ 2, VIRTIO_CONSOLE_PORT_READY, 7 },
		{ 3, VIRTIO_CONSOLE_PORT_NAME, 1 },
	};
	tg_printf("tg: vcon bad-ctl: %u control messages with bad ids, repeats and unknown events\n",
		  (unsigned)TG_ARRAY_SIZE(msgs));
	for (size_t i = 0; i < TG_ARRAY_SIZE(msgs); i++)
		vcon_send_ctl(v, msgs[i].id, msgs[i].ev, msgs[i].val);
	vcon_poll_ctl(v);
	alive_check(v, 1);
	alive_check(v, 2);
}

static void status_try(struct tg_vdev *d, uint32_t val, const char *why)
{
	uint32_t before = tg_vdev_status(d);
	tg_vdev_write(d, VIRTIO_MMIO_STATUS, val);
	tg_printf("tg: vcon bad-status: %s: 0x%x -> wrote 0x%x, read 0x%x\n", why, before, val,
		  tg_vdev_status(d));
}

static void bad_status(struct vcon *v)
{
	struct tg_vdev *d = &v->dev;
	tg_vdev_write(d, VIRTIO_MMIO_STATUS, 0);
	status_try(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, "two bits at once");
	status_try(d, VIRTIO_STATUS_ACKNOWLEDGE, "ACK");
	status_try(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, "DRIVER");
	status_try(d, 0x7, "DRIVER_OK before FEATURES_OK");
	status_try(d, 0x3 | 0x10, "reserved bit 0x10");
	status_try(d, 0x1, "clearing DRIVER");
	status_try(d, 0x3, "same value again");
	tg_printf("tg: vcon bad-status: now a proper probe\n");
	if (vcon_probe(v, d->irq_on) < 0)
		finish(v);
	vcon_handshake(v, v->nports, WAIT_US(10));
	vcon_open_port(v, 1, true);
	vcon_open_port(v, 2, true);
	alive_check(v, 1);
	alive_check(v, 2);
}

/*
 * vcon-reset: a reboot in the middle of a frame stream on port 1. Every frame's payload starts
 * with its sequence number (u32, little-endian). Frames [reset_at, reset_at + held) are
 * published into the tx ring without a notify, as a kernel that reboots leaves them; then
 * the driver resets the device (Status <- 0), probes it again from scratch as the next
 * kernel would, and sends the rest. The spec's reset rule has the device capture the held
 * chains, so the host must see every sequence number once, in order.
 */
struct seq_frame {
	uint8_t *wire; /* header, then payload */
	uint32_t len;  /* payload bytes */
};

static struct seq_frame *make_seq_frames(uint32_t k)
{
	struct seq_frame *f = tg_dma_alloc(sizeof(*f) * k, 16);

	if (!f)
		return NULL;
	for (uint32_t i = 0; i < k; i++) {
		uint32_t len = 4 + (i * 397) % 1500;
		uint8_t *w = tg_dma_alloc(16 + len, 16);
		if (!w)
			return NULL;
		frame_le32_put(w + 16, i);
		memcpy(w + 20, pattern + (i * 131) % PAT_PERIOD, len - 4);
		frame_encode_hdr(w, i + 1 == k ? FRAME_TYPE_EXIT : FRAME_TYPE_TEST, w + 16, len);
		f[i].wire = w;
		f[i].len = len;
	}
	return f;
}

static int add_seq_frame(struct tg_vq *vq, const struct seq_frame *f)
{
	struct tg_seg s[2] = { { f->wire, 16, false }, { f->wire + 16, f->len, false } };
	return tg_vq_add(vq, s, 2, f->wire);
}

/* Frames [from, to) on port 1, a kick after each; returns once the device has used them all. */
static int send_seq_frames(struct vcon *v, const struct seq_frame *f, uint32_t from, uint32_t to)
{
	struct tg_vq *vq = v->port[1].tx;
	uint64_t last = tg_now_us();

	for (uint32_t i = from; i < to || vq->num_free != vq->num;) {
		if (vcon_reclaim_tx(v, 1) > 0) {
			last = tg_now_us();
			continue;
		}
		if (i < to && vq->num_free >= 2) {
			add_seq_frame(vq, &f[i++]);
			tg_vq_kick(vq);
			last = tg_now_us();
			continue;
		}
		vcon_poll_ctl(v);
		if (tg_now_us() - last > WAIT_US(30)) {
			tg_printf("tg: vcon reset: port 1 tx stuck at frame %u of %u\n", i, to);
			return -1;
		}
		vcon_idle(v);
	}
	return 0;
}

static void run_reset(struct vcon *v)
{
	uint32_t k = (uint32_t)tg_arg_num("frames", 32);
	uint32_t at, held, crc = 0;
	uint64_t total = 0;
	bool irq = v->dev.irq_on;

	if (k == 0 || k > 4096)
		k = 32;
	at = (uint32_t)tg_arg_num("reset_at", k / 2);
	if (at > k)
		at = k;
	held = (uint32_t)tg_arg_num("held", 8);
	if (held > k - at)
		held = k - at;
	if (held > 64) /* two descriptors each: half the ring, and far below the 256 KiB drain cap */
		held = 64;
	if (v->nports < 2 || !v->port[1].added) {
		tg_printf("tg: vcon reset: port 1 not there\n");
		finish(v);
	}
	struct seq_frame *f = make_seq_frames(k);
	if (!f) {
		tg_printf("tg: vcon reset: out of DMA memory for %u frames\n", k);
		finish(v);
	}
	for (uint32_t i = 0; i < k; i++) {
		crc = frame_crc32_update(crc, f[i].wire, 16 + f[i].len);
		total += 16 + f[i].len;
	}
	tg_printf("tg: vcon reset plan frames=%u reset_at=%u held=%u\n", k, at, held);

	vcon_open_port(v, 1, true);
	if (send_seq_frames(v, f, 0, at) < 0)
		finish(v);

	struct tg_vq *vq = v->port[1].tx;
	for (uint32_t i = at; i < at + held; i++) {
		add_seq_frame(vq, &f[i]);
		tg_vq_publish(vq);
	}
	tg_printf("tg: vcon reset: frames %u..%u published on port 1 tx without notify\n", at,
		  at + held);
	/* Let any interrupt from the frames sent so far land, so the count below is the reset's own. */
	tg_udelay(20000);
	uint64_t irqs0 = v->dev.irqs;
	uint16_t used0 = vq->used->idx;
	tg_vdev_write(&v->dev, VIRTIO_MMIO_STATUS, 0);
	uint32_t st = tg_vdev_status(&v->dev);
	tg_udelay(20000);
	tg_printf("tg: vcon reset status=0x%x port 1 tx held=%u returned=%u irqs=%lu\n", st, held,
		  (uint16_t)(vq->used->idx - used0), v->dev.irqs - irqs0);

	/* The next kernel knows nothing of this one: a fresh probe, fresh rings. */
	if (vcon_probe(v, irq) < 0) {
		tg_printf("tg: vcon reset: probe after reset failed\n");
		finish(v);
	}
	vcon_handshake(v, (uint32_t)tg_arg_num("ports", v->nports), WAIT_US(10));
	if (v->nports < 2 || !v->port[1].added) {
		tg_printf("tg: vcon reset: port 1 gone after reset\n");
		finish(v);
	}
	tg_printf("tg: vcon reset: probed again\n");
	vcon_open_port(v, 1, true);
	if (send_seq_frames(v, f, at + held, k) < 0)
		finish(v);
	tg_printf("tg: vcon port 1 reset frames=%u bytes=%lu crc=0x%08x\n", k, total, crc);
	finish(v);
}

int tg_vcon_main(const char *mode)
{
	struct vcon *v = &tg_vcon;
	const char *bad = tg_arg_str("bad", NULL);

	seed = (uint32_t)tg_arg_num("seed", 1);
	crc_max = tg_arg_num("crc_max", 256 * 1024);
	make_pattern();
	if (setup(v) < 0) {
		tg_printf("tg: vcon probe failed\n");
		finish(v);
	}
	if (!strcmp(mode, "vcon-stay"))
		run_stay(v);
	if (!strcmp(mode, "vcon-wake"))
		run_wake(v);
	if (!strcmp(mode, "vcon-bench"))
		run_bench(v);
	if (!strcmp(mode, "vcon-reset"))
		run_reset(v);
	if (bad) {
		if (v->nports < 3 || !v->port[1].added || !v->port[2].added) {
			tg_printf("tg: vcon bad=%s needs ports 1 and 2\n", bad);
			finish(v);
		}
		if (strcmp(bad, "zero-flood")) {
			vcon_open_port(v, 1, true);
			vcon_open_port(v, 2, true);
		}
		if (!strcmp(bad, "loop"))
			bad_loop(v);
		else if (!strcmp(bad, "oob"))
			bad_oob(v);
		else if (!strcmp(bad, "wild-idx"))
			bad_wild_idx(v);
		else if (!strcmp(bad, "zero-flood"))
			bad_zero_flood(v);
		else if (!strcmp(bad, "bad-ctl"))
			bad_ctl(v);
		else if (!strcmp(bad, "bad-status"))
			bad_status(v);
		else
			tg_printf("tg: vcon unknown bad=%s\n", bad);
		tg_printf("tg: vcon bad=%s survived\n", bad);
		finish(v);
	}
	run_vcon(v);
	return 0;
}
