/*
 * Virtio inspection. Snapshots come from console_snapshot() (taken under the
 * device lock); `vq dump` and `port dump` read under the device lock too, so
 * each is coherent while the guest runs (a vCPU that touches the device waits).
 */
#include <stdlib.h>
#include <string.h>

#include "cmd_priv.h"
#include "session.h"
#include "virtio/console.h"
#include "virtio/frames.h"

static struct console_snapshot *snap_take(struct cmd_ctx *c)
{
	struct console_snapshot *s = malloc(sizeof(*s));

	if (s)
		console_snapshot(&c->s->console, s);
	else
		cmd_error(c, "%s: out of memory", c->def->name);
	return s;
}

static void feature_names(uint64_t f, char *buf, size_t n)
{
	static const struct { int bit; const char *name; } names[] = {
		{ VIRTIO_CONSOLE_F_SIZE, "CONSOLE_F_SIZE" },
		{ VIRTIO_CONSOLE_F_MULTIPORT, "CONSOLE_F_MULTIPORT" },
		{ VIRTIO_CONSOLE_F_EMERG_WRITE, "CONSOLE_F_EMERG_WRITE" },
		{ VIRTIO_F_INDIRECT_DESC, "RING_F_INDIRECT_DESC" },
		{ VIRTIO_F_EVENT_IDX, "RING_F_EVENT_IDX" },
		{ VIRTIO_F_VERSION_1, "F_VERSION_1" },
	};
	size_t off = 0;

	buf[0] = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (f & (1ULL << names[i].bit)) {
			off += (size_t)snprintf(buf + off, off < n ? n - off : 0, "%s%s", off ? "|" : "",
						names[i].name);
			f &= ~(1ULL << names[i].bit);
		}
	if (f)
		snprintf(buf + off, off < n ? n - off : 0, "%sunknown(0x%llx)", off ? "|" : "",
			 (unsigned long long)f);
	if (!buf[0])
		snprintf(buf, n, "none");
}

static int cmd_virtio(struct cmd_ctx *c)
{
	struct console_snapshot *sn = snap_take(c);
	const struct vm_mmio_dev *d = c->s->vm.nr_mmio ? &c->s->vm.mmio_devs[0] : NULL;
	char st[128], df[256], gf[256];

	if (!sn)
		return CMD_ERR;
	cmd_status_str(sn->status, st, sizeof(st));
	feature_names(sn->device_features, df, sizeof(df));
	feature_names(sn->driver_features, gf, sizeof(gf));
	if (c->json) {
		jw_arr(c->out, NULL);
		jw_obj(c->out, NULL);
		jw_str(c->out, "name", "virtio-console");
		jw_u64(c->out, "device_id", VIRTIO_ID_CONSOLE);
		jw_u64(c->out, "base", d ? d->base : 0);
		jw_u64(c->out, "irq", d ? d->gsi : 0);
		jw_u64(c->out, "status", sn->status);
		jw_str(c->out, "status_names", st);
		jw_u64(c->out, "host-features", sn->device_features);
		jw_u64(c->out, "guest-features", sn->driver_features);
		jw_u64(c->out, "isr", sn->interrupt_status);
		jw_bool(c->out, "multiport", sn->multiport);
		jw_bool(c->out, "device_ready", sn->device_ready);
		jw_u64(c->out, "max_nr_ports", CONSOLE_NR_PORTS);
		jw_u64(c->out, "num_vqs", CONSOLE_NR_QUEUES);
		jw_u64(c->out, "irqs_raised", sn->irqs_raised);
		jw_u64(c->out, "resets", sn->resets);
		jw_u64(c->out, "status_rejects", sn->status_rejects);
		jw_end(c->out);
		jw_end(c->out);
	} else {
		OUT("virtio-console (device 0, id %d) at 0x%llx irq %u\n", VIRTIO_ID_CONSOLE,
		    d ? (unsigned long long)d->base : 0ULL, d ? d->gsi : 0);
		OUT("  status:           0x%02x %s\n", sn->status, st);
		OUT("  offered features: 0x%llx %s\n", (unsigned long long)sn->device_features, df);
		OUT("  accepted:         0x%llx %s\n", (unsigned long long)sn->driver_features, gf);
		OUT("  interrupt status: 0x%x, %llu interrupts raised, %llu resets, %llu status writes "
		    "rejected\n",
		    sn->interrupt_status, (unsigned long long)sn->irqs_raised,
		    (unsigned long long)sn->resets, (unsigned long long)sn->status_rejects);
		OUT("  config:           cols 0 rows 0 max_nr_ports %d emerg_wr 0\n", CONSOLE_NR_PORTS);
		OUT("  DEVICE_READY:     %s\n", sn->device_ready ? "seen" : "not yet");
	}
	free(sn);
	return CMD_OK;
}

static int cmd_mmio(struct cmd_ctx *c)
{
	static const struct { uint32_t off; const char *name; } regs[] = {
		{ VIRTIO_MMIO_MAGIC_VALUE, "MagicValue" },	{ VIRTIO_MMIO_VERSION, "Version" },
		{ VIRTIO_MMIO_DEVICE_ID, "DeviceID" },		{ VIRTIO_MMIO_VENDOR_ID, "VendorID" },
		{ VIRTIO_MMIO_DEVICE_FEATURES, "DeviceFeatures" },
		{ VIRTIO_MMIO_DEVICE_FEATURES_SEL, "DeviceFeaturesSel" },
		{ VIRTIO_MMIO_DRIVER_FEATURES_SEL, "DriverFeaturesSel" },
		{ VIRTIO_MMIO_QUEUE_SEL, "QueueSel" },		{ VIRTIO_MMIO_QUEUE_NUM_MAX, "QueueNumMax" },
		{ VIRTIO_MMIO_QUEUE_READY, "QueueReady" },
		{ VIRTIO_MMIO_INTERRUPT_STATUS, "InterruptStatus" },
		{ VIRTIO_MMIO_STATUS, "Status" },
		{ VIRTIO_MMIO_CONFIG_GENERATION, "ConfigGeneration" },
	};
	struct virtio_mmio *t = &c->s->console.mmio;
	uint32_t v;

	if (arg_dev(c, c->argc ? c->argv[0] : NULL))
		return CMD_ERR;
	if (c->check)
		return CMD_OK;
	if (c->json)
		jw_obj(c->out, NULL);
	for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
		/* These reads have no side effects (InterruptStatus is cleared by InterruptACK only). */
		virtio_mmio_read(t, regs[i].off, &v, 4);
		if (c->json)
			jw_u64(c->out, regs[i].name, v);
		else
			OUT("  0x%03x %-18s 0x%08x\n", regs[i].off, regs[i].name, v);
	}
	virtio_mmio_lock(t);
	if (c->json) {
		jw_u64(c->out, "DriverFeatures", t->driver_features);
		jw_u64(c->out, "ignored_writes", t->ignored_writes);
		jw_u64(c->out, "last_rejected_status", t->last_rejected_status);
	} else {
		OUT("  %-24s 0x%016llx (both halves)\n", "DriverFeatures",
		    (unsigned long long)t->driver_features);
		OUT("  %-24s %llu\n", "ignored writes", (unsigned long long)t->ignored_writes);
	}
	virtio_mmio_unlock(t);
	if (c->json)
		jw_end(c->out);
	return CMD_OK;
}

static const char *const queue_names[CONSOLE_NR_QUEUES] = {
	"port0 rx", "port0 tx", "control rx (c_ivq)", "control tx (c_ovq)",
	"port1 rx", "port1 tx", "port2 rx",	      "port2 tx",
};

static void vq_json(struct cmd_out *o, int q, const struct vq_snapshot *v)
{
	jw_obj(o, NULL);
	jw_i64(o, "queue_index", q);
	jw_str(o, "name", queue_names[q]);
	jw_u64(o, "num", v->size);
	jw_u64(o, "num_max", v->num_max);
	jw_bool(o, "ready", v->ready);
	jw_u64(o, "desc", v->desc_gpa);
	jw_u64(o, "avail", v->avail_gpa);
	jw_u64(o, "used", v->used_gpa);
	if (v->rings_readable) {
		jw_u64(o, "shadow_avail_idx", v->guest_avail_idx);
		jw_u64(o, "guest_used_idx", v->guest_used_idx);
	} else {
		jw_null(o, "shadow_avail_idx");
		jw_null(o, "guest_used_idx");
	}
	jw_u64(o, "last_avail_idx", v->last_avail_idx);
	jw_u64(o, "used_idx", v->used_idx);
	jw_u64(o, "pending", v->pending);
	jw_u64(o, "inuse", v->inuse);
	jw_u64(o, "notifies", v->notifies);
	jw_u64(o, "interrupts", v->interrupts);
	jw_u64(o, "errors", v->errors);
	jw_bool(o, "broken", v->broken);
	jw_str(o, "broken_reason", v->broken ? v->broken_reason : "");
	jw_end(o);
}

static int cmd_vq_list(struct cmd_ctx *c)
{
	struct console_snapshot *sn;

	if (arg_dev(c, c->argc ? c->argv[0] : NULL))
		return CMD_ERR;
	if (c->check)
		return CMD_OK;
	if (!(sn = snap_take(c)))
		return CMD_ERR;
	if (c->json)
		jw_arr(c->out, NULL);
	else
		OUT("  q name               size rdy desc         avail        used         avail_idx "
		    "last_avail used_idx inuse pend notif  irqs\n");
	for (int q = 0; q < CONSOLE_NR_QUEUES; q++) {
		const struct vq_snapshot *v = &sn->vq[q];

		if (c->json) {
			vq_json(c->out, q, v);
			continue;
		}
		OUT("  %d %-18s %4u %-3s 0x%010llx 0x%010llx 0x%010llx ", q, queue_names[q], v->size,
		    v->ready ? "yes" : "no", (unsigned long long)v->desc_gpa,
		    (unsigned long long)v->avail_gpa, (unsigned long long)v->used_gpa);
		if (v->rings_readable)
			OUT("%9u ", v->guest_avail_idx);
		else
			OUT("%9s ", "-");
		OUT("%10u %8u %5u %4u %5llu %5llu%s%s\n", v->last_avail_idx, v->used_idx, v->inuse,
		    v->pending, (unsigned long long)v->notifies, (unsigned long long)v->interrupts,
		    v->broken ? "  BROKEN: " : "", v->broken ? v->broken_reason : "");
	}
	if (c->json)
		jw_end(c->out);
	free(sn);
	return CMD_OK;
}

static void flag_names(uint16_t f, char *buf, size_t n)
{
	snprintf(buf, n, "%s%s%s%s", f & VRING_DESC_F_NEXT ? "NEXT " : "",
		 f & VRING_DESC_F_WRITE ? "WRITE " : "", f & VRING_DESC_F_INDIRECT ? "INDIRECT " : "",
		 f & ~7u ? "?" : "");
	if (!buf[0])
		snprintf(buf, n, "-");
	else if (buf[strlen(buf) - 1] == ' ')
		buf[strlen(buf) - 1] = 0;
}

struct vdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

/* Device lock held: nothing here calls back into the device. */
static void dump_chain(struct cmd_ctx *c, const struct guest_mem *gm, const struct vdesc *d,
		       unsigned size, uint16_t head)
{
	uint8_t seen[VQ_MAX_SIZE] = { 0 };
	unsigned i = head, n = 0;

	for (;;) {
		char fl[40];

		if (i >= size) {
			if (c->json)
				jw_str(c->out, NULL, "broken: next index out of range");
			else
				OUT("      !! next %u is past the table (size %u)\n", i, size);
			return;
		}
		if (seen[i]) {
			if (c->json)
				jw_str(c->out, NULL, "loop");
			else
				OUT("      !! loop: descriptor %u already in this chain\n", i);
			return;
		}
		seen[i] = 1;
		flag_names(d[i].flags, fl, sizeof(fl));
		if (c->json) {
			jw_obj(c->out, NULL);
			jw_u64(c->out, "index", i);
			jw_u64(c->out, "addr", d[i].addr);
			jw_u64(c->out, "len", d[i].len);
			jw_str(c->out, "flags", fl);
			jw_bool(c->out, "in_ram", gm_is_ram(gm, d[i].addr, d[i].len));
			jw_end(c->out);
		} else {
			const uint8_t *p = gm_ptr(gm, d[i].addr, d[i].len);
			size_t show = d[i].len < 64 ? d[i].len : 64;

			OUT("      [%u] addr 0x%llx len %u %s%s\n", i, (unsigned long long)d[i].addr,
			    d[i].len, fl, p || !d[i].len ? "" : "  !! not in RAM");
			if (p && show)
				cmd_hexdump(c->out, "          ", 0, p, show);
			if (p && d[i].len > show)
				OUT("          ... %u more bytes\n", d[i].len - (unsigned)show);
		}
		if (!(d[i].flags & VRING_DESC_F_NEXT) || ++n >= size)
			return;
		i = d[i].next;
	}
}

/* The summary lists this many outstanding chains, one line each. */
#define SUMMARY_CHAINS 16

/* One line for the chain at HEAD: descriptors, bytes, which way, where it starts. */
static void chain_line(struct cmd_ctx *c, const struct vdesc *d, unsigned size, unsigned slot,
		       uint16_t head)
{
	unsigned i = head, n = 0, wr = 0;
	uint64_t bytes = 0;
	const char *bad = "";

	while (!*bad) {
		if (i >= size) {
			bad = "  !! next index out of range";
			break;
		}
		bytes += d[i].len;
		wr += !!(d[i].flags & VRING_DESC_F_WRITE);
		if (++n > size)
			bad = "  !! loop";
		if (!(d[i].flags & VRING_DESC_F_NEXT))
			break;
		i = d[i].next;
	}
	OUT("    avail[%u] -> head %u: %u desc, %llu bytes %s, first at 0x%llx%s\n", slot, head, n,
	    (unsigned long long)bytes, wr == n ? "device-writable" : wr ? "mixed" : "device-readable",
	    head < size ? (unsigned long long)d[head].addr : 0ULL, bad);
}

static int cmd_vq_dump(struct cmd_ctx *c)
{
	unsigned q;
	const char *part = "summary";
	struct virtio_mmio *t = &c->s->console.mmio;
	const struct guest_mem *gm = c->s->console.gm;
	struct virtqueue *vq;
	struct vdesc *d;
	unsigned size;
	uint16_t aflags = 0, aidx = 0, uflags = 0, uidx = 0, used_event = 0, avail_event = 0;
	bool ok_desc, ok_avail, ok_used, all, want_desc, want_avail, want_used, want_chains;
	bool summary, full;
	unsigned shown, skipped;

	if (arg_queue(c, c->argv[0], &q))
		return CMD_ERR;
	if (c->argc >= 2)
		part = c->argv[1];
	if (strcmp(part, "desc") && strcmp(part, "avail") && strcmp(part, "used") &&
	    strcmp(part, "chains") && strcmp(part, "all") && strcmp(part, "summary"))
		return cmd_error(c, "vq dump: unknown part '%s' (summary, desc, avail, used, chains or all)",
				 part);
	if (arg_dev(c, c->argc >= 3 ? c->argv[2] : NULL))
		return CMD_ERR;
	if (c->check)
		return CMD_OK;
	/* JSON is for programs: complete, every slot, whatever the text would leave out. */
	if (c->json && !strcmp(part, "summary"))
		part = "all";
	summary = !strcmp(part, "summary");
	all = !strcmp(part, "all");
	/* Text shows the slots the guest wrote; `all` (and JSON) every slot of the queue. */
	full = all || c->json;
	want_desc = all || !strcmp(part, "desc");
	want_avail = all || summary || !strcmp(part, "avail");
	want_used = all || summary || !strcmp(part, "used");
	want_chains = all || summary || !strcmp(part, "chains");
	d = calloc(VQ_MAX_SIZE, sizeof(*d));
	if (!d)
		return cmd_error(c, "vq dump: out of memory");

	virtio_mmio_lock(t);
	vq = &t->vqs[q];
	size = vq->size ? vq->size : 1;
	ok_desc = gm_is_ram(gm, vq->desc_gpa, 16ULL * size);
	for (unsigned i = 0; ok_desc && i < size; i++) {
		uint8_t raw[16];

		gm_read(gm, vq->desc_gpa + 16ULL * i, raw, 16);
		memcpy(&d[i].addr, raw, 8);
		memcpy(&d[i].len, raw + 8, 4);
		memcpy(&d[i].flags, raw + 12, 2);
		memcpy(&d[i].next, raw + 14, 2);
	}
	ok_avail = gm_read(gm, vq->avail_gpa, &aflags, 2) == 0 &&
		   gm_read(gm, vq->avail_gpa + 2, &aidx, 2) == 0;
	gm_read(gm, vq->avail_gpa + 4 + 2ULL * size, &used_event, 2);
	ok_used = gm_read(gm, vq->used_gpa, &uflags, 2) == 0 &&
		  gm_read(gm, vq->used_gpa + 2, &uidx, 2) == 0;
	gm_read(gm, vq->used_gpa + 4 + 8ULL * size, &avail_event, 2);

	if (c->json) {
		jw_obj(c->out, NULL);
		jw_i64(c->out, "queue_index", q);
		jw_str(c->out, "name", queue_names[q]);
		jw_u64(c->out, "num", vq->size);
		jw_bool(c->out, "ready", vq->ready);
		jw_u64(c->out, "last_avail_idx", vq->last_avail_idx);
		jw_u64(c->out, "used_idx", vq->used_idx);
		jw_u64(c->out, "inuse", vq->inuse);
	} else {
		OUT("vq %u (%s): size %u %s, desc 0x%llx avail 0x%llx used 0x%llx\n", q, queue_names[q],
		    vq->size, vq->ready ? "ready" : "NOT ready", (unsigned long long)vq->desc_gpa,
		    (unsigned long long)vq->avail_gpa, (unsigned long long)vq->used_gpa);
		OUT("  device: last_avail_idx %u used_idx %u inuse %u%s%s\n", vq->last_avail_idx,
		    vq->used_idx, vq->inuse, vq->broken ? "  BROKEN: " : "",
		    vq->broken ? vq->broken_reason : "");
		OUT("  (read under the device lock: a coherent snapshot while the guest runs)\n");
	}
	if (want_desc) {
		if (c->json)
			jw_arr(c->out, "desc");
		else if (!ok_desc)
			OUT("  descriptor table: !! 0x%llx+%u is not in RAM\n",
			    (unsigned long long)vq->desc_gpa, 16 * size);
		else
			OUT("  descriptor table:\n");
		skipped = 0;
		for (unsigned i = 0; ok_desc && i < size; i++) {
			char fl[40];

			/* A free descriptor keeps its free-list link in next: empty is no buffer. */
			if (!full && !d[i].addr && !d[i].len) {
				skipped++;
				continue;
			}
			flag_names(d[i].flags, fl, sizeof(fl));
			if (c->json) {
				jw_obj(c->out, NULL);
				jw_u64(c->out, "index", i);
				jw_u64(c->out, "addr", d[i].addr);
				jw_u64(c->out, "len", d[i].len);
				jw_u64(c->out, "flags", d[i].flags);
				jw_str(c->out, "flag_names", fl);
				jw_u64(c->out, "next", d[i].next);
				jw_end(c->out);
			} else {
				OUT("    %3u addr 0x%012llx len %6u flags %-14s next %u%s%s\n", i,
				    (unsigned long long)d[i].addr, d[i].len, fl, d[i].next,
				    (d[i].flags & VRING_DESC_F_NEXT) && d[i].next >= size ? "  !! next out of range" : "",
				    d[i].len && !gm_is_ram(gm, d[i].addr, d[i].len) ? "  !! not in RAM" : "");
			}
		}
		if (c->json)
			jw_end(c->out);
		else if (skipped)
			OUT("    (%u empty descriptors (addr 0, len 0) not shown: `vq dump %u all` shows every slot)\n",
			    skipped, q);
	}
	if (want_avail) {
		if (c->json) {
			jw_obj(c->out, "avail");
			jw_u64(c->out, "flags", aflags);
			jw_u64(c->out, "idx", aidx);
			jw_u64(c->out, "used_event", used_event);
			jw_arr(c->out, "ring");
		} else if (!ok_avail) {
			OUT("  avail ring: !! 0x%llx is not in RAM\n", (unsigned long long)vq->avail_gpa);
		} else {
			OUT("  avail ring: flags 0x%x%s idx %u used_event %u\n", aflags,
			    aflags & VRING_AVAIL_F_NO_INTERRUPT ? " (NO_INTERRUPT)" : "", aidx, used_event);
		}
		/* Slots at and past idx were never written until the ring wraps. */
		shown = summary ? 0 : full || aidx >= size ? size : aidx;
		for (unsigned i = 0; ok_avail && i < shown; i++) {
			uint16_t e = 0;

			gm_read(gm, vq->avail_gpa + 4 + 2ULL * i, &e, 2);
			if (c->json)
				jw_u64(c->out, NULL, e);
			else
				OUT("%s%4u%s", i % 16 == 0 ? "    " : " ", e, i % 16 == 15 || i == shown - 1 ? "\n" : "");
		}
		if (!c->json && ok_avail && !summary && shown < size)
			OUT("    (slots %u..%u not written yet: `vq dump %u all` shows every slot)\n", shown,
			    size - 1, q);
		if (c->json) {
			jw_end(c->out);
			jw_end(c->out);
		}
	}
	if (want_used) {
		if (c->json) {
			jw_obj(c->out, "used");
			jw_u64(c->out, "flags", uflags);
			jw_u64(c->out, "idx", uidx);
			jw_u64(c->out, "avail_event", avail_event);
			jw_arr(c->out, "ring");
		} else if (!ok_used) {
			OUT("  used ring: !! 0x%llx is not in RAM\n", (unsigned long long)vq->used_gpa);
		} else {
			OUT("  used ring: flags 0x%x idx %u avail_event %u\n", uflags, uidx, avail_event);
		}
		shown = summary ? 0 : full || uidx >= size ? size : uidx;
		for (unsigned i = 0; ok_used && i < shown; i++) {
			uint32_t e[2] = { 0, 0 };

			gm_read(gm, vq->used_gpa + 4 + 8ULL * i, e, 8);
			if (c->json) {
				jw_obj(c->out, NULL);
				jw_u64(c->out, "id", e[0]);
				jw_u64(c->out, "len", e[1]);
				jw_end(c->out);
			} else {
				OUT("%s%3u:%-5u%s", i % 8 == 0 ? "    " : " ", e[0], e[1],
				    i % 8 == 7 || i == shown - 1 ? "\n" : "");
			}
		}
		if (!c->json && ok_used && !summary && shown < size)
			OUT("    (slots %u..%u not written yet: `vq dump %u all` shows every slot)\n", shown,
			    size - 1, q);
		if (c->json) {
			jw_end(c->out);
			jw_end(c->out);
		}
	}
	if (want_chains) {
		uint16_t pend = (uint16_t)(aidx - vq->last_avail_idx);

		if (c->json)
			jw_arr(c->out, "chains");
		else
			OUT("  outstanding chains (avail idx %u - last_avail_idx %u = %u)%s\n", aidx,
			    vq->last_avail_idx, pend, pend ? ":" : "");
		if (ok_avail && ok_desc && pend > size && !c->json)
			OUT("    !! avail idx is %u ahead: more than the queue size\n", pend);
		for (unsigned k = 0; ok_avail && ok_desc && k < pend && k < size; k++) {
			uint16_t head = 0;
			unsigned slot = (vq->last_avail_idx + k) % size;

			gm_read(gm, vq->avail_gpa + 4 + 2ULL * slot, &head, 2);
			if (summary) {
				if (k < SUMMARY_CHAINS)
					chain_line(c, d, size, slot, head);
				else if (k == SUMMARY_CHAINS)
					OUT("    ... %u more (`vq dump %u chains` walks each with its bytes)\n",
					    (pend < size ? pend : size) - k, q);
				continue;
			}
			if (c->json) {
				jw_obj(c->out, NULL);
				jw_u64(c->out, "avail_slot", slot);
				jw_u64(c->out, "head", head);
				jw_arr(c->out, "descs");
			} else {
				OUT("    avail[%u] -> head %u\n", slot, head);
			}
			dump_chain(c, gm, d, size, head);
			if (c->json) {
				jw_end(c->out);
				jw_end(c->out);
			}
		}
		if (c->json)
			jw_end(c->out);
		else if (summary)
			OUT("  taken by the device, not yet returned: %u chain(s)\n"
			    "  (`vq dump %u all` for the descriptor table and every ring slot)\n",
			    vq->inuse, q);
	}
	virtio_mmio_unlock(t);
	if (c->json)
		jw_end(c->out);
	free(d);
	return CMD_OK;
}

static int cmd_port_list(struct cmd_ctx *c)
{
	struct console_snapshot *sn = snap_take(c);

	if (!sn)
		return CMD_ERR;
	if (c->json)
		jw_arr(c->out, NULL);
	else
		OUT("  id name           console readied guest_open host_open rx_bufs pending_rx host_tx "
		    "tx_bytes rx_bytes backend\n");
	for (int p = 0; p < CONSOLE_NR_PORTS; p++) {
		char be[160];
		const struct vq_snapshot *rx = &sn->vq[console_rx_queue(p)];
		unsigned rxbufs = rx->rings_readable ? rx->pending : 0;

		ports_describe(&c->s->ports, p, be, sizeof(be));
		if (c->json) {
			jw_obj(c->out, NULL);
			jw_i64(c->out, "id", p);
			jw_str(c->out, "name", sn->port[p].name);
			jw_bool(c->out, "console", p == 0);
			jw_bool(c->out, "readied", sn->port[p].readied);
			jw_bool(c->out, "guest_open", sn->port[p].guest_open);
			jw_bool(c->out, "host_open", c->s->ports.port[p].host_open);
			jw_u64(c->out, "rx_buffers", rxbufs);
			jw_u64(c->out, "pending_rx", sn->port[p].pending_rx);
			jw_u64(c->out, "host_tx", sn->port[p].host_tx);
			jw_u64(c->out, "tx_bytes", sn->port[p].tx_bytes);
			jw_u64(c->out, "tx_chains", sn->port[p].tx_chains);
			jw_u64(c->out, "tx_dropped", sn->port[p].tx_dropped);
			jw_u64(c->out, "rx_bytes", sn->port[p].rx_bytes);
			jw_u64(c->out, "rx_chains", sn->port[p].rx_chains);
			jw_u64(c->out, "rx_torn", sn->port[p].rx_torn);
			jw_bool(c->out, "tx_throttled", sn->port[p].tx_throttled);
			jw_str(c->out, "backend", be);
			jw_end(c->out);
		} else {
			OUT("  %2d %-14s %-7s %-7s %-10s %-9s %7u %10zu %7zu %8llu %8llu %s\n", p,
			    sn->port[p].name, p == 0 ? "yes" : "no", sn->port[p].readied ? "yes" : "no",
			    sn->port[p].guest_open ? "yes" : "no",
			    c->s->ports.port[p].host_open ? "yes" : "no", rxbufs, sn->port[p].pending_rx,
			    sn->port[p].host_tx, (unsigned long long)sn->port[p].tx_bytes,
			    (unsigned long long)sn->port[p].rx_bytes, be);
		}
	}
	if (c->json)
		jw_end(c->out);
	free(sn);
	return CMD_OK;
}

static int cmd_port_dump(struct cmd_ctx *c)
{
	unsigned p;
	const char *which = c->argc > 1 ? c->argv[1] : "both";
	struct console *con = &c->s->console;
	uint8_t *rx = NULL, *tx = NULL;
	size_t rxn = 0, txn = 0;
	const struct port_backend *be;

	if (arg_port(c, c->argv[0], &p))
		return CMD_ERR;
	if (strcmp(which, "rx") && strcmp(which, "tx") && strcmp(which, "both"))
		return cmd_error(c, "port dump: unknown buffer '%s' (rx or tx)", which);
	if (c->check)
		return CMD_OK;
	virtio_mmio_lock(&con->mmio);
	rxn = con->port[p].pending_rx.len;
	txn = con->port[p].host_tx.len;
	rx = malloc(rxn + 1);
	tx = malloc(txn + 1);
	if (rx && rxn)
		memcpy(rx, cbuf_data(&con->port[p].pending_rx), rxn);
	if (tx && txn)
		memcpy(tx, cbuf_data(&con->port[p].host_tx), txn);
	virtio_mmio_unlock(&con->mmio);
	be = &c->s->ports.port[p];
	if (c->json) {
		jw_obj(c->out, NULL);
		jw_i64(c->out, "id", p);
		if (strcmp(which, "tx") && rx)
			jw_strn(c->out, "pending_rx", (char *)rx, rxn);
		if (strcmp(which, "rx") && tx) {
			jw_strn(c->out, "host_tx", (char *)tx, txn);
			if (be->kept)
				jw_u64(c->out, "kept_bytes", be->kept_len);
		}
		jw_end(c->out);
	} else {
		if (strcmp(which, "tx")) {
			OUT("port %u pending rx (host -> guest, not yet in a guest buffer): %zu bytes\n", p,
			    rxn);
			if (rx)
				cmd_hexdump(c->out, "  ", 0, rx, rxn > 4096 ? 4096 : rxn);
		}
		if (strcmp(which, "rx")) {
			OUT("port %u host tx (guest -> host, not yet drained): %zu bytes\n", p, txn);
			if (tx)
				cmd_hexdump(c->out, "  ", 0, tx, txn > 4096 ? 4096 : txn);
			if (be->kept && be->kept_len) {
				size_t show = be->kept_len > 1024 ? 1024 : be->kept_len;

				OUT("port %u kept stream (drained): %zu bytes, last %zu:\n", p, be->kept_len,
				    show);
				cmd_hexdump(c->out, "  ", be->kept_len - show, be->kept + be->kept_len - show,
					    show);
			}
		}
	}
	free(rx);
	free(tx);
	return CMD_OK;
}

struct frames_print {
	struct cmd_ctx *c;
	unsigned n;
};

static void frame_cb_print(const struct frame *f, void *opaque)
{
	struct frames_print *fp = opaque;
	struct cmd_ctx *c = fp->c;

	fp->n++;
	if (c->json) {
		jw_obj(c->out, NULL);
		jw_u64(c->out, "offset", f->offset);
		jw_str(c->out, "tag", f->tag);
		jw_u64(c->out, "type", f->type);
		jw_u64(c->out, "length", f->length);
		jw_bool(c->out, "crc_ok", f->crc_ok);
		jw_bool(c->out, "pad_ok", f->pad_ok);
		jw_bool(c->out, "rejected", f->rejected);
		jw_end(c->out);
	} else if (fp->n <= 200) {
		OUT("  @%-8llu %-4s len %-8u crc %s%s%s\n", (unsigned long long)f->offset, f->tag,
		    f->length, f->crc_ok ? "ok" : "BAD", f->pad_ok ? "" : " pad!=0",
		    f->rejected ? " REJECTED" : "");
	}
}

static int cmd_port_frames(struct cmd_ctx *c)
{
	unsigned p = 1;
	const struct port_backend *be;
	struct frame_decoder dec;
	struct frames_print fp = { c, 0 };
	char tail[160];

	if (c->argc && arg_port(c, c->argv[0], &p))
		return CMD_ERR;
	if (c->check)
		return CMD_OK; /* whether the port's stream is kept is the backend's, set at start */
	be = &c->s->ports.port[p];
	if (!be->kept)
		return cmd_error(c, "port frames: port %u's stream is not kept (its backend is not "
				    "'keep'; port 1 keeps by default)",
				 p);
	if (frames_init(&dec, 0))
		return cmd_error(c, "port frames: decoder: out of memory");
	if (c->json) {
		jw_obj(c->out, NULL);
		jw_i64(c->out, "port", p);
		jw_arr(c->out, "frames");
	} else {
		OUT("port %u: %zu bytes kept\n", p, be->kept_len);
	}
	frames_feed(&dec, be->kept, be->kept_len, frame_cb_print, &fp);
	frames_partial_describe(&dec, tail, sizeof(tail));
	if (c->json) {
		jw_end(c->out);
		jw_u64(c->out, "count", fp.n);
		jw_str(c->out, "partial", tail);
		jw_u64(c->out, "crc_errors", frames_stats(&dec)->crc_errors);
		jw_end(c->out);
	} else {
		if (fp.n > 200)
			OUT("  ... %u frames in all\n", fp.n);
		OUT("  %u frames, %llu CRC errors; %s\n", fp.n,
		    (unsigned long long)frames_stats(&dec)->crc_errors, tail);
	}
	frames_free(&dec);
	return CMD_OK;
}

static void ctl_line(struct cmd_ctx *c, const struct console_ctl_log_entry *e, uint64_t t0)
{
	char evbuf[32];
	const char *ev = cmd_event_label(e->event, evbuf, sizeof(evbuf));
	if (c->json) {
		jw_obj(c->out, NULL);
		jw_u64(c->out, "seq", e->seq);
		jw_dbl(c->out, "time", (double)(e->time_ns - t0) / 1e9);
		jw_str(c->out, "dir", e->dir == CONSOLE_CTL_FROM_GUEST ? "guest->host" : "host->guest");
		jw_str(c->out, "event", ev);
		jw_u64(c->out, "id", e->id);
		jw_u64(c->out, "value", e->value);
		jw_str(c->out, "name", e->name);
		jw_u64(c->out, "len", e->len);
		jw_str(c->out, "note", e->note ? e->note : "");
		jw_end(c->out);
		return;
	}
	OUT("  #%-4llu %10.6f %s %s id=%u value=%u", (unsigned long long)e->seq,
	    (double)(e->time_ns - t0) / 1e9, e->dir == CONSOLE_CTL_FROM_GUEST ? "guest->host" : "host->guest",
	    ev, e->id, e->value);
	if (e->name[0])
		OUT(" name=\"%s\"", e->name);
	if (e->dir == CONSOLE_CTL_TO_GUEST)
		OUT(" (consumed by the guest)");
	if (e->note && e->note[0])
		OUT(" [%s]", e->note);
	OUT("\n");
}

static void mark_line(struct cmd_ctx *c, const struct log_mark *m, uint64_t t0)
{
	if (c->json) {
		jw_obj(c->out, NULL);
		jw_str(c->out, "marker", m->what);
		jw_str(c->out, "file", m->file);
		jw_dbl(c->out, "time", (double)(m->time_ns - t0) / 1e9);
		jw_u64(c->out, "after_seq", m->after_seq);
		jw_end(c->out);
		return;
	}
	OUT("  --- %s %s ---\n", m->what, m->file);
}

static int cmd_ctl_log(struct cmd_ctx *c)
{
	struct cmd_state *cs = c->cs;
	unsigned mi = cs->nmarks > CMD_MAX_LOG_MARKS ? cs->nmarks - CMD_MAX_LOG_MARKS : 0;
#define MARK(i) (&cs->marks[(i) % CMD_MAX_LOG_MARKS])
	struct console_ctl_log_entry *e = malloc(sizeof(*e) * CONSOLE_CTL_LOG_SIZE);
	struct console_snapshot *sn = snap_take(c);
	size_t n;
	uint64_t t0 = c->s->vm.start_ns;

	if (!e || !sn) {
		free(e);
		free(sn);
		return cmd_error(c, "ctl log: out of memory");
	}
	n = console_ctl_log_read(&c->s->console, 0, e, CONSOLE_CTL_LOG_SIZE);
	if (!t0 && n)
		t0 = e[0].time_ns;
	if (c->json) {
		jw_obj(c->out, NULL);
		jw_arr(c->out, "messages");
	} else {
		OUT("control messages (time since start, s):\n");
	}
	/* Markers in sequence: each after the message that was newest when it was set. */
	while (n && mi < cs->nmarks && MARK(mi)->after_seq + 1 < e[0].seq)
		mi++; /* older than the oldest message kept */
	for (size_t i = 0; i < n; i++) {
		for (; mi < cs->nmarks && MARK(mi)->after_seq < e[i].seq; mi++)
			mark_line(c, MARK(mi), t0);
		ctl_line(c, &e[i], t0);
	}
	for (; mi < cs->nmarks; mi++)
		mark_line(c, MARK(mi), t0);
#undef MARK
	if (c->json) {
		jw_end(c->out);
		jw_arr(c->out, "waiting");
	}
	for (unsigned i = 0; i < sn->ctl_out_len && i < 8; i++) {
		const struct console_ctl_msg *m = &sn->ctl_out[i];
		char evbuf[32];
		const char *ev = cmd_event_label(m->event, evbuf, sizeof(evbuf));

		if (c->json) {
			jw_obj(c->out, NULL);
			jw_str(c->out, "event", ev);
			jw_u64(c->out, "id", m->id);
			jw_u64(c->out, "value", m->value);
			jw_end(c->out);
		} else {
			OUT("  waiting  host->guest %s id=%u value=%u (no guest buffer yet)\n",
			    ev, m->id, m->value);
		}
	}
	if (c->json) {
		jw_end(c->out);
		jw_end(c->out);
	} else if (!n && !sn->ctl_out_len) {
		OUT("  (none yet)\n");
	}
	free(e);
	free(sn);
	return CMD_OK;
}

/* Per-port handshake progress, built from the control log. */
struct hs_port {
	bool added, ready_sent, ready_ok, console_sent, name_sent, open_sent, guest_open;
};

static int cmd_handshake(struct cmd_ctx *c)
{
	struct console_ctl_log_entry *e;
	struct console_snapshot *sn;
	struct hs_port hp[CONSOLE_NR_PORTS] = { 0 };
	bool device_ready = false;
	char viol[32][200];
	int nv = 0;
	size_t n;

	if (arg_dev(c, c->argc ? c->argv[0] : NULL))
		return CMD_ERR;
	if (c->check)
		return CMD_OK;
	e = malloc(sizeof(*e) * CONSOLE_CTL_LOG_SIZE);
	sn = snap_take(c);
	if (!e || !sn) {
		free(e);
		free(sn);
		return cmd_error(c, "handshake: out of memory");
	}
	/* A loaded snapshot starts a new timeline: the log before it is another history. */
	n = console_ctl_log_read(&c->s->console, c->cs->ctl_epoch, e, CONSOLE_CTL_LOG_SIZE);
#define VIOL(...) do { if (nv < 32) snprintf(viol[nv++], sizeof(viol[0]), __VA_ARGS__); } while (0)
	for (size_t i = 0; i < n; i++) {
		char evbuf[32];
		const char *ev = cmd_event_label(e[i].event, evbuf, sizeof(evbuf));
		bool from = e[i].dir == CONSOLE_CTL_FROM_GUEST;
		uint32_t id = e[i].id;

		if (e[i].event == VIRTIO_CONSOLE_DEVICE_READY && from) {
			device_ready = e[i].value == 1;
			continue;
		}
		if (!device_ready)
			VIOL("#%llu %s %s id=%u before DEVICE_READY", (unsigned long long)e[i].seq,
			     from ? "guest->host" : "host->guest", ev, id);
		if (id >= CONSOLE_NR_PORTS) {
			VIOL("#%llu %s %s id=%u: id out of range (max_nr_ports %d)",
			     (unsigned long long)e[i].seq, from ? "guest->host" : "host->guest",
			     ev, id, CONSOLE_NR_PORTS);
			continue;
		}
		if (from) {
			if (e[i].event == VIRTIO_CONSOLE_PORT_READY) {
				hp[id].ready_sent = true;
				hp[id].ready_ok = e[i].value == 1;
			} else if (e[i].event == VIRTIO_CONSOLE_PORT_OPEN) {
				hp[id].guest_open = e[i].value;
			}
		} else {
			switch (e[i].event) {
			case VIRTIO_CONSOLE_PORT_ADD: hp[id].added = true; break;
			case VIRTIO_CONSOLE_CONSOLE_PORT:
			case VIRTIO_CONSOLE_PORT_NAME:
				if (!hp[id].ready_sent)
					VIOL("#%llu %s for port %u before its PORT_READY",
					     (unsigned long long)e[i].seq, ev, id);
				if (e[i].event == VIRTIO_CONSOLE_CONSOLE_PORT)
					hp[id].console_sent = true;
				else
					hp[id].name_sent = true;
				break;
			case VIRTIO_CONSOLE_PORT_OPEN: hp[id].open_sent = true; break;
			}
		}
	}
	for (int p = 0; p < CONSOLE_NR_PORTS; p++)
		if (p && sn->port[p].pending_rx && !sn->port[p].guest_open)
			VIOL("port %d: %zu bytes queued while the guest has it closed (Linux discards data "
			     "for a closed port)",
			     p, sn->port[p].pending_rx);
	if (sn->vq[CONSOLE_Q_CTRL_TX].rings_readable && sn->vq[CONSOLE_Q_CTRL_TX].pending &&
	    sn->vq[CONSOLE_Q_CTRL_TX].notifies)
		VIOL("control tx (q3): %u chain(s) notified but not answered",
		     sn->vq[CONSOLE_Q_CTRL_TX].pending);
#undef VIOL
	if (c->json) {
		jw_obj(c->out, NULL);
		jw_u64(c->out, "status", sn->status);
		jw_bool(c->out, "driver_ok", sn->status & VIRTIO_CONFIG_S_DRIVER_OK);
		jw_bool(c->out, "device_ready", sn->device_ready);
		jw_arr(c->out, "ports");
		for (int p = 0; p < CONSOLE_NR_PORTS; p++) {
			jw_obj(c->out, NULL);
			jw_i64(c->out, "id", p);
			jw_bool(c->out, "port_add_sent", hp[p].added);
			jw_bool(c->out, "ready", sn->port[p].readied);
			jw_bool(c->out, "console_port_sent", hp[p].console_sent);
			jw_bool(c->out, "name_sent", hp[p].name_sent);
			jw_bool(c->out, "host_open_sent", hp[p].open_sent);
			jw_bool(c->out, "guest_open", sn->port[p].guest_open);
			jw_end(c->out);
		}
		jw_end(c->out);
		jw_arr(c->out, "violations");
		for (int i = 0; i < nv; i++)
			jw_str(c->out, NULL, viol[i]);
		jw_end(c->out);
		jw_end(c->out);
	} else {
		char st[96];
		int ready = 0;

		cmd_status_str(sn->status, st, sizeof(st));
		OUT("status %s; DEVICE_READY %s\n", st, sn->device_ready ? "seen" : "not seen");
		OUT("  port PORT_ADD PORT_READY CONSOLE_PORT PORT_NAME host PORT_OPEN guest open\n");
		for (int p = 0; p < CONSOLE_NR_PORTS; p++) {
			OUT("  %4d %-8s %-10s %-12s %-9s %-14s %s\n", p, hp[p].added ? "sent" : "-",
			    sn->port[p].readied ? "ready" : hp[p].ready_sent ? "FAILED(0)" : "-",
			    hp[p].console_sent ? "sent" : "-", hp[p].name_sent ? "sent" : "-",
			    hp[p].open_sent ? "sent" : "-", sn->port[p].guest_open ? "yes" : "no");
			ready += sn->port[p].readied;
		}
		OUT("%d of %d ports ready\n", ready, CONSOLE_NR_PORTS);
		if (!nv)
			OUT("no violations\n");
		for (int i = 0; i < nv; i++)
			OUT("VIOLATION: %s\n", viol[i]);
	}
	free(e);
	free(sn);
	return CMD_OK;
}

const struct cmd_def cmd_virtio_table[] = {
	{ "virtio", "info virtio", "virtio",
	  "each device: base, IRQ, status bits, offered/accepted features by name, ISR, config",
	  "virtio", NULL, 0, 0, NULL, 0, cmd_virtio },
	{ "mmio", NULL, "mmio [DEV]", "the transport's registers as the guest reads them", "mmio",
	  NULL, 0, 1, NULL, CMD_F_CHECK, cmd_mmio },
	{ "vq list", NULL, "vq list [DEV]",
	  "per queue: size, ready, ring addresses, guest avail idx, last_avail_idx, used_idx, inuse, "
	  "notifies, interrupts",
	  "vq list", NULL, 0, 1, NULL, CMD_F_CHECK, cmd_vq_list },
	{ "vq dump", NULL, "vq dump Q [summary|desc|avail|used|chains|all] [DEV]",
	  "what is in flight on queue Q (default), or its descriptor table, rings, chains, or all",
	  "vq dump 3 used",
	  "    summary (default): the indices, both rings' flags and idx, the chains the guest\n"
	  "    published that the device has not taken (one line each, the first 16; `chains`\n"
	  "    walks every one with its bytes), and how many the device holds. desc, avail and\n"
	  "    used show what the guest wrote (descriptors not addr 0 len 0; ring slots below idx\n"
	  "    until the ring wraps); all shows everything, every slot. JSON is always complete:\n"
	  "    every slot of the parts asked for, all parts by default. Read under the device\n"
	  "    lock: coherent while the guest runs. Broken links, loops and addresses outside RAM\n"
	  "    are flagged with !!.",
	  1, 3, "q|words:summary,desc,avail,used,chains,all", CMD_F_CHECK, cmd_vq_dump },
	{ "port list", "info ports", "port list",
	  "per port: name, console, readied, guest/host open, rx buffers, pending rx, host tx, counters",
	  "port list", NULL, 0, 0, NULL, 0, cmd_port_list },
	{ "port dump", NULL, "port dump N [rx|tx]",
	  "hex+ASCII of the pending rx buffer and the host tx buffer (and a kept stream's tail)",
	  "port dump 0 rx", "    Taken under the device lock.", 1, 2, "port|words:rx,tx", CMD_F_CHECK,
	  cmd_port_dump },
	{ "port frames", NULL, "port frames [N]",
	  "decode port 1's framed stream: tag, length, CRC ok/bad, partial tail", "port frames 1",
	  NULL, 0, 1, "port", CMD_F_CHECK, cmd_port_frames },
	{ "ctl log", NULL, "ctl log",
	  "every control message both ways with a timestamp, decoded; host messages when consumed",
	  "ctl log", NULL, 0, 0, NULL, 0, cmd_ctl_log },
	{ "handshake", NULL, "handshake [DEV]",
	  "where each port stands in the handshake, and any violation seen", "handshake",
	  "    Violations: a message before DEVICE_READY, an out-of-range id, CONSOLE_PORT or\n"
	  "    PORT_NAME before PORT_READY, data queued to a closed port, an unanswered c_ovq notify.",
	  0, 1, NULL, CMD_F_CHECK, cmd_handshake },
};
const int cmd_virtio_count = sizeof(cmd_virtio_table) / sizeof(cmd_virtio_table[0]);
