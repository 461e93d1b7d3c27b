/*
 * The split-virtqueue walker alone over fuzzed ring memory. The input starts
 * with the queue's geometry, then fills part of RAM, then is a sequence of
 * operations (pop/push/gather/scatter, ready, reset, raw ring edits).
 *
 * Invariants: no pointer outside RAM (fuzz_common.c); a pop walks at most
 * size descriptors (gm_ptr lookups bounded); a popped chain has 1..size
 * segments and a head < size; gather/scatter never report more bytes than
 * asked or than the chain holds; a broken queue stays broken until reset.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "virtio/virtqueue.h"

#define RAM_SIZE (1u << 20)

/* Addresses mostly near the start of RAM, sometimes anywhere. */
static uint64_t pick_gpa(struct fz_in *in)
{
	uint8_t k = fz_u8(in);

	if (k < 200)
		return (uint64_t)fz_u16(in) & ~1ull; /* aligned enough for every ring */
	if (k < 250)
		return fz_u32(in) % (RAM_SIZE + 0x2000);
	return fz_u64(in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct guest_mem gm;
	static struct vq_chain ch;
	static uint8_t buf[64 * 1024];
	struct fz_in in = { data, size };
	struct virtqueue vq;
	size_t n;
	const uint8_t *p;

	fz_quiet_logs();
	fz_ram_init_sparse(&gm, RAM_SIZE);
	vq_init(&vq, &gm, (uint16_t)(1u << (fz_u8(&in) % 9)), "fuzz");
	vq_set_size(&vq, fz_u16(&in));
	vq.desc_gpa = pick_gpa(&in);
	vq.avail_gpa = pick_gpa(&in);
	vq.used_gpa = pick_gpa(&in);
	/* The first part of the input is the low RAM the rings usually live in. */
	p = fz_bytes(&in, fz_u16(&in), &n);
	memcpy(gm.host, p, n);
	vq_set_ready(&vq, true);

	while (fz_left(&in)) {
		uint8_t op = fz_u8(&in);
		int r;

		fz_gm_calls = 0;
		switch (op % 12) {
		case 0:
		case 1: { /* pop, and usually return it */
			bool was_broken = vq.broken;

			r = vq_pop(&vq, &ch);
			FZ_CHECK(r == 0 || r == 1 || r == -EIO, "vq_pop returned %d", r);
			FZ_CHECK(fz_gm_calls <= 2u * vq.size + 16, "pop made %llu RAM lookups (size %u)",
				 (unsigned long long)fz_gm_calls, vq.size);
			FZ_CHECK(!was_broken || r == -EIO, "a broken queue popped (%d)", r);
			FZ_CHECK(r != -EIO || vq.broken, "-EIO without marking the queue broken");
			if (r == 1) {
				FZ_CHECK(ch.n >= 1 && ch.n <= vq.size, "chain of %u segments, size %u",
					 ch.n, vq.size);
				FZ_CHECK(ch.head < vq.size, "head %u, size %u", ch.head, vq.size);
				if (op % 12 == 0)
					vq_push(&vq, ch.head, fz_u32(&in));
			}
			break;
		}
		case 2: { /* gather from the last chain */
			size_t max = fz_u16(&in) % sizeof(buf);
			uint32_t per = fz_u16(&in);
			bool faulted = false;

			n = vq_chain_gather(&vq, &ch, buf, max, per, &faulted);
			FZ_CHECK(n <= max && n <= vq_chain_readable(&ch), "gathered %zu of max %zu", n,
				 max);
			break;
		}
		case 3: { /* scatter into the last chain */
			size_t len = fz_u16(&in) % sizeof(buf), written = 12345678;

			memset(buf, 0xa5, len);
			r = vq_chain_scatter(&vq, &ch, buf, len, &written);
			FZ_CHECK(r == 0 || r == -EFAULT, "scatter returned %d", r);
			FZ_CHECK(written <= len && written <= vq_chain_writable(&ch),
				 "scattered %zu of %zu", written, len);
			break;
		}
		case 4:
			r = vq_push(&vq, fz_u16(&in), fz_u32(&in));
			FZ_CHECK(r == 0 || r == -EIO, "vq_push returned %d", r);
			break;
		case 5:
			vq_set_ready(&vq, fz_u8(&in) & 1);
			break;
		case 6:
			vq_reset(&vq);
			FZ_CHECK(!vq.broken && !vq.ready, "reset left the queue broken or ready");
			vq.desc_gpa = pick_gpa(&in);
			vq.avail_gpa = pick_gpa(&in);
			vq.used_gpa = pick_gpa(&in);
			break;
		case 7: {
			uint16_t old = vq.size;
			uint32_t num = fz_u16(&in);

			r = vq_set_size(&vq, num);
			FZ_CHECK(r == 0 ? vq.size == num : (r == -EINVAL && vq.size == old),
				 "set_size(%u) = %d, size %u", num, r, vq.size);
			break;
		}
		case 8: { /* the driver writes a descriptor */
			uint16_t i = fz_u16(&in) % (vq.size ? vq.size : 1);
			uint64_t addr = pick_gpa(&in);
			uint32_t len = fz_u8(&in) < 200 ? fz_u16(&in) : fz_u32(&in);
			uint16_t flags = fz_u8(&in) & 7, next = fz_u16(&in) % (vq.size + 1u);
			uint8_t d[16];

			memcpy(d, &addr, 8);
			memcpy(d + 8, &len, 4);
			memcpy(d + 12, &flags, 2);
			memcpy(d + 14, &next, 2);
			gm_write(&gm, vq.desc_gpa + 16ull * i, d, 16);
			break;
		}
		case 9: { /* the driver publishes a head */
			uint16_t idx = 0, head = fz_u16(&in) % (vq.size + 1u);

			if (!gm_read(&gm, vq.avail_gpa + 2, &idx, 2)) {
				gm_write(&gm, vq.avail_gpa + 4 + 2ull * (idx % (vq.size ? vq.size : 1)),
					 &head, 2);
				idx++;
				gm_write(&gm, vq.avail_gpa + 2, &idx, 2);
			}
			break;
		}
		case 10: { /* raw RAM write */
			uint32_t off = fz_u32(&in) % RAM_SIZE;

			p = fz_bytes(&in, fz_u8(&in), &n);
			gm_write(&gm, off, p, n);
			break;
		}
		case 11: {
			struct vq_snapshot snap;

			vq_should_signal(&vq);
			vq_snapshot(&vq, &snap);
			FZ_CHECK(snap.size == vq.size && snap.broken == vq.broken, "snapshot disagrees");
			break;
		}
		}
		FZ_CHECK(vq.size >= 1 && vq.size <= vq.num_max && !(vq.size & (vq.size - 1)),
			 "queue size %u (max %u)", vq.size, vq.num_max);
	}
	return 0;
}
