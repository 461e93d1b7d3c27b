/*
 * Tracing and device-event breakpoints. Device events arrive on a vCPU
 * thread with the device lock held: they are only matched, recorded as a
 * notice for the main thread and, for break-on, turned into
 * vm_request_pause() (every vCPU parks once its exit is done).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd_priv.h"
#include "session.h"
#include "virtio/console.h"

static const char *mmio_reg_name(uint64_t off)
{
	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE: return "MagicValue";
	case VIRTIO_MMIO_VERSION: return "Version";
	case VIRTIO_MMIO_DEVICE_ID: return "DeviceID";
	case VIRTIO_MMIO_VENDOR_ID: return "VendorID";
	case VIRTIO_MMIO_DEVICE_FEATURES: return "DeviceFeatures";
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL: return "DeviceFeaturesSel";
	case VIRTIO_MMIO_DRIVER_FEATURES: return "DriverFeatures";
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL: return "DriverFeaturesSel";
	case VIRTIO_MMIO_QUEUE_SEL: return "QueueSel";
	case VIRTIO_MMIO_QUEUE_NUM_MAX: return "QueueNumMax";
	case VIRTIO_MMIO_QUEUE_NUM: return "QueueNum";
	case VIRTIO_MMIO_QUEUE_READY: return "QueueReady";
	case VIRTIO_MMIO_QUEUE_NOTIFY: return "QueueNotify";
	case VIRTIO_MMIO_INTERRUPT_STATUS: return "InterruptStatus";
	case VIRTIO_MMIO_INTERRUPT_ACK: return "InterruptACK";
	case VIRTIO_MMIO_STATUS: return "Status";
	case VIRTIO_MMIO_QUEUE_DESC_LOW: return "QueueDescLow";
	case VIRTIO_MMIO_QUEUE_DESC_HIGH: return "QueueDescHigh";
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW: return "QueueDriverLow";
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH: return "QueueDriverHigh";
	case VIRTIO_MMIO_QUEUE_USED_LOW: return "QueueDeviceLow";
	case VIRTIO_MMIO_QUEUE_USED_HIGH: return "QueueDeviceHigh";
	case VIRTIO_MMIO_CONFIG_GENERATION: return "ConfigGeneration";
	}
	return off >= VIRTIO_MMIO_CONFIG ? "config" : NULL;
}

static bool tracing(struct cmd_state *cs, unsigned bit)
{
	return __atomic_load_n(&cs->trace_mask, __ATOMIC_RELAXED) & bit;
}

static void trace_out(struct cmd_state *cs, const char *line)
{
	double t = (double)vm_uptime_ns(&cs->s->vm) / 1e9;

	pthread_mutex_lock(&cs->trace_lock);
	if (cs->trace_file) {
		fprintf(cs->trace_file, "%.6f %s\n", t, line);
		fflush(cs->trace_file);
		pthread_mutex_unlock(&cs->trace_lock);
		return;
	}
	pthread_mutex_unlock(&cs->trace_lock);
	cmd_notice(cs, "trace %.6f %s", t, line);
}

/* Main thread: replace the trace file (NULL: back to notices), closing the old one. */
static void trace_set_file(struct cmd_state *cs, FILE *f)
{
	FILE *old;

	pthread_mutex_lock(&cs->trace_lock);
	old = cs->trace_file;
	cs->trace_file = f;
	pthread_mutex_unlock(&cs->trace_lock);
	if (old)
		fclose(old);
}

/*
 * " rip=0x... symbol+0x1d" of the vCPU on whose thread the event happens (its exit caused
 * it: an access, a notify and what the device did about it); empty on any other thread.
 */
static void guest_rip(struct cmd_state *cs, char *buf, size_t n)
{
	struct vcpu *v = vcpu_current();
	struct kvm_regs r;
	char sym[160];

	buf[0] = 0;
	if (!v || v->vm != &cs->s->vm || vm_get_regs(v->vm, v->id, &r))
		return;
	symtab_format(&v->vm->syms, r.rip, sym, sizeof(sym));
	snprintf(buf, n, " rip=0x%llx %s", (unsigned long long)r.rip, sym);
}

static void io_trace(void *opaque, int cpu, bool is_mmio, uint64_t addr, const void *data,
		     unsigned len, bool is_write)
{
	struct cmd_state *cs = opaque;
	uint64_t v = 0;
	char line[448], rip[200];
	const struct vm *vm = &cs->s->vm;

	if (!tracing(cs, is_mmio ? TRACE_MMIO : TRACE_PIO))
		return;
	memcpy(&v, data, len < 8 ? len : 8);
	if (is_mmio) {
		const char *reg = NULL;

		for (int i = 0; i < vm->nr_mmio; i++)
			if (addr >= vm->mmio_devs[i].base && addr < vm->mmio_devs[i].base + vm->mmio_devs[i].size)
				reg = mmio_reg_name(addr - vm->mmio_devs[i].base);
		if (reg && !strcmp(reg, "Status") && is_write) {
			char st[96];

			cmd_status_str((uint32_t)v, st, sizeof(st));
			snprintf(line, sizeof(line), "cpu%d mmio write 0x%" PRIx64 " Status = 0x%" PRIx64 " (%s)",
				 cpu, addr, v, st);
		} else {
			snprintf(line, sizeof(line), "cpu%d mmio %s 0x%" PRIx64 " %s %s 0x%" PRIx64 " (%u)",
				 cpu, is_write ? "write" : "read", addr, reg ? reg : "", is_write ? "=" : "->",
				 v, len);
		}
	} else {
		snprintf(line, sizeof(line), "cpu%d pio %s 0x%" PRIx64 " %s 0x%" PRIx64 " (%u)", cpu,
			 is_write ? "out" : "in", addr, is_write ? "=" : "->", v, len);
	}
	guest_rip(cs, rip, sizeof(rip));
	snprintf(line + strlen(line), sizeof(line) - strlen(line), "%s", rip);
	trace_out(cs, line);
}

bool cmd_break_on_match(struct cmd_state *cs, const struct console_event *ev, char *why, size_t n)
{
	bool hit = false;

	pthread_mutex_lock(&cs->lock);
	for (int i = 0; i < CMD_MAX_BREAK_ON && !hit; i++) {
		struct break_on *b = &cs->bo[i];

		if (!b->used)
			continue;
		switch (b->kind) {
		case BO_CTL:
			hit = (ev->kind == CONSOLE_EV_CTL_FROM_GUEST || ev->kind == CONSOLE_EV_CTL_TO_GUEST) &&
			      ev->event == b->event && (b->id < 0 || ev->id == (uint32_t)b->id);
			break;
		case BO_STATUS:
			hit = ev->kind == CONSOLE_EV_STATUS && (ev->new_status & b->bit) &&
			      !(ev->old_status & b->bit);
			break;
		case BO_NOTIFY:
			hit = ev->kind == CONSOLE_EV_NOTIFY && ev->queue == b->queue;
			break;
		case BO_IRQ:
			hit = ev->kind == CONSOLE_EV_IRQ;
			break;
		}
		if (hit) {
			b->hits++;
			snprintf(why, n, "break-on %d", b->num);
		}
	}
	pthread_mutex_unlock(&cs->lock);
	return hit;
}

static void describe_event(const struct console_event *ev, char *buf, size_t n)
{
	char label[32], st[96];
	const char *name = cmd_event_label(ev->event, label, sizeof(label));

	switch (ev->kind) {
	case CONSOLE_EV_CTL_FROM_GUEST:
	case CONSOLE_EV_CTL_TO_GUEST:
		snprintf(buf, n, "ctl %s %s id=%u value=%u%s%s",
			 ev->kind == CONSOLE_EV_CTL_FROM_GUEST ? "guest->host" : "host->guest",
			 name, ev->id, ev->value, ev->note && *ev->note ? " " : "",
			 ev->note ? ev->note : "");
		break;
	case CONSOLE_EV_STATUS:
		cmd_status_str(ev->new_status, st, sizeof(st));
		snprintf(buf, n, "status 0x%x -> 0x%x (%s)", ev->old_status, ev->new_status, st);
		break;
	case CONSOLE_EV_NOTIFY: snprintf(buf, n, "notify q%d", ev->queue); break;
	case CONSOLE_EV_IRQ: snprintf(buf, n, "irq q%d", ev->queue); break;
	case CONSOLE_EV_VQ_BROKEN:
		snprintf(buf, n, "vq %d broken: %s", ev->queue, ev->note ? ev->note : "");
		break;
	}
}

void cmd_trace_device_event(struct cmd_state *cs, const struct console_event *ev)
{
	char what[320], why[64], line[560], rip[200];
	unsigned bit = ev->kind == CONSOLE_EV_CTL_FROM_GUEST || ev->kind == CONSOLE_EV_CTL_TO_GUEST
			       ? TRACE_CTL
		       : ev->kind == CONSOLE_EV_IRQ ? TRACE_IRQ
		       : ev->kind == CONSOLE_EV_STATUS ? TRACE_MMIO
						       : TRACE_VQ;

	describe_event(ev, what, sizeof(what));
	if (tracing(cs, bit)) {
		struct vcpu *v = vcpu_current();

		guest_rip(cs, rip, sizeof(rip));
		if (v && rip[0])
			snprintf(line, sizeof(line), "%s cpu%d%s", what, v->id, rip);
		else
			snprintf(line, sizeof(line), "%s", what);
		trace_out(cs, line);
	}
	if (cmd_break_on_match(cs, ev, why, sizeof(why))) {
		vm_request_pause(&cs->s->vm);
		cmd_notice_break_on(cs, "%s: %s: all vCPUs stopped (`resume` continues)", why, what);
	} else {
		uint64_t one = 1;

		/* Waits for ctl/port/status re-check on the main thread. */
		if (cs->notice_fd >= 0 && write(cs->notice_fd, &one, sizeof(one)) < 0) {
			/* Already readable. */
		}
	}
}

void cmd_log_mark(struct cmd_state *cs, const char *what, const char *file)
{
	struct log_mark *m = &cs->marks[cs->nmarks++ % CMD_MAX_LOG_MARKS];
	char line[600];

	memset(m, 0, sizeof(*m));
	m->after_seq = console_ctl_log_newest(&cs->s->console);
	m->time_ns = now_ns();
	snprintf(m->what, sizeof(m->what), "%s", what);
	snprintf(m->file, sizeof(m->file), "%s", file);
	/* Every trace class: what follows the line is another timeline. */
	if (cs->trace_mask) {
		snprintf(line, sizeof(line), "--- %s %s ---", m->what, m->file);
		trace_out(cs, line);
	}
}

void cmd_trace_free(struct cmd_state *cs)
{
	if (cs->s->vm.io_trace == io_trace)
		vm_set_io_trace(&cs->s->vm, NULL, NULL);
	trace_set_file(cs, NULL);
}

static int cmd_trace(struct cmd_ctx *c)
{
	bool on;
	unsigned mask = 0;
	const char *list = c->argc > 1 ? c->argv[1] : "mmio,ctl,vq,irq";
	char tmp[128], *save, *w;

	if (!strcmp(c->argv[0], "on"))
		on = true;
	else if (!strcmp(c->argv[0], "off"))
		on = false;
	else
		return cmd_error(c, "trace: '%s' is neither on nor off", c->argv[0]);
	snprintf(tmp, sizeof(tmp), "%s", list);
	for (w = strtok_r(tmp, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		if (!strcmp(w, "mmio")) mask |= TRACE_MMIO;
		else if (!strcmp(w, "ctl")) mask |= TRACE_CTL;
		else if (!strcmp(w, "vq")) mask |= TRACE_VQ;
		else if (!strcmp(w, "irq")) mask |= TRACE_IRQ;
		else if (!strcmp(w, "pio")) mask |= TRACE_PIO;
		else if (!strcmp(w, "all")) mask |= 31;
		else
			return cmd_error(c, "trace: unknown event class '%s' (mmio, ctl, vq, irq, pio)", w);
	}
	if (c->check)
		return CMD_OK; /* FILE is opened (made) when it runs */
	if (on && c->argc > 2) {
		FILE *f = fopen(c->argv[2], "a");

		if (!f)
			return cmd_error(c, "trace: cannot open %s: %s", c->argv[2], strerror(errno));
		trace_set_file(c->cs, f);
	}
	/* Only the main thread writes the mask: the atomic store is for the vCPU readers. */
	__atomic_store_n(&c->cs->trace_mask, on ? c->cs->trace_mask | mask : c->cs->trace_mask & ~mask,
			 __ATOMIC_RELAXED);
	if (c->cs->trace_mask & (TRACE_MMIO | TRACE_PIO))
		vm_set_io_trace(&c->s->vm, io_trace, c->cs);
	else if (c->s->vm.io_trace == io_trace)
		vm_set_io_trace(&c->s->vm, NULL, NULL);
	if (!c->cs->trace_mask)
		trace_set_file(c->cs, NULL);
	if (c->json) {
		jw_obj(c->out, NULL);
		jw_u64(c->out, "mask", c->cs->trace_mask);
		jw_end(c->out);
	} else {
		unsigned m = c->cs->trace_mask;

		OUT("tracing:%s%s%s%s%s%s%s%s\n", m & TRACE_MMIO ? " mmio" : "", m & TRACE_CTL ? " ctl" : "",
		    m & TRACE_VQ ? " vq" : "", m & TRACE_IRQ ? " irq" : "", m & TRACE_PIO ? " pio" : "",
		    m ? "" : " off", c->cs->trace_file && m ? " to " : "",
		    c->cs->trace_file && m && c->argc > 2 ? c->argv[2] : "");
	}
	return CMD_OK;
}

static int cmd_break_on(struct cmd_ctx *c)
{
	struct break_on b = { .used = true, .id = -1, .queue = -1 };
	const char *k = c->argv[0];
	char desc[128], label[32];

	if (!strcmp(k, "ctl")) {
		uint64_t id;

		b.kind = BO_CTL;
		if (c->argc < 2)
			return cmd_error(c, "break-on ctl: which event? (break-on ctl EVENT [ID])");
		if (arg_event(c, c->argv[1], &b.event))
			return CMD_ERR;
		if (c->argc > 2) {
			if (arg_u64(c, "break-on ctl: ID", c->argv[2], &id))
				return CMD_ERR;
			b.id = (int64_t)id;
		}
		if (c->argc > 3)
			return cmd_error(c, "break-on ctl: too many arguments (break-on ctl EVENT [ID])");
		snprintf(desc, sizeof(desc), "ctl %s%s%s", cmd_event_label(b.event, label, sizeof(label)),
			 c->argc > 2 ? " id=" : "", c->argc > 2 ? c->argv[2] : "");
	} else if (!strcmp(k, "status")) {
		b.kind = BO_STATUS;
		if (c->argc != 2)
			return cmd_error(c, "break-on status: one BIT (e.g. break-on status DRIVER_OK)");
		if (arg_status_bit(c, c->argv[1], &b.bit))
			return CMD_ERR;
		snprintf(desc, sizeof(desc), "status %s", c->argv[1]);
	} else if (!strcmp(k, "notify")) {
		unsigned q;

		b.kind = BO_NOTIFY;
		if (c->argc != 2)
			return cmd_error(c, "break-on notify: one queue (break-on notify Q)");
		if (arg_queue(c, c->argv[1], &q))
			return CMD_ERR;
		b.queue = (int)q;
		snprintf(desc, sizeof(desc), "notify q%u", q);
	} else if (!strcmp(k, "irq")) {
		b.kind = BO_IRQ;
		if (c->argc != 1)
			return cmd_error(c, "break-on irq: takes no argument");
		snprintf(desc, sizeof(desc), "irq");
	} else {
		return cmd_error(c, "break-on: unknown event kind '%s' (ctl, status, notify, irq)", k);
	}
	if (c->check)
		return CMD_OK;
	pthread_mutex_lock(&c->cs->lock);
	for (int i = 0; i < CMD_MAX_BREAK_ON; i++)
		if (!c->cs->bo[i].used) {
			b.num = c->cs->bo_next++;
			c->cs->bo[i] = b;
			break;
		}
	pthread_mutex_unlock(&c->cs->lock);
	if (!b.num)
		return cmd_error(c, "break-on: all %d slots are in use (break-on delete N)",
				 CMD_MAX_BREAK_ON);
	if (c->json) {
		jw_obj(c->out, NULL);
		jw_i64(c->out, "number", b.num);
		jw_str(c->out, "condition", desc);
		jw_end(c->out);
	} else {
		OUT("break-on %d: %s (stops every vCPU)\n", b.num, desc);
	}
	return CMD_OK;
}

static int cmd_break_on_list(struct cmd_ctx *c)
{
	static const char *const kinds[] = { "ctl", "status", "notify", "irq" };
	char label[32];

	if (c->json)
		jw_arr(c->out, NULL);
	pthread_mutex_lock(&c->cs->lock);
	for (int i = 0; i < CMD_MAX_BREAK_ON; i++) {
		struct break_on *b = &c->cs->bo[i];

		if (!b->used)
			continue;
		if (c->json) {
			jw_obj(c->out, NULL);
			jw_i64(c->out, "number", b->num);
			jw_str(c->out, "kind", kinds[b->kind]);
			if (b->kind == BO_CTL) {
				jw_str(c->out, "event", cmd_event_label(b->event, label, sizeof(label)));
				jw_i64(c->out, "id", b->id);
			}
			jw_u64(c->out, "hits", b->hits);
			jw_end(c->out);
		} else {
			OUT("%d: %s", b->num, kinds[b->kind]);
			if (b->kind == BO_CTL) {
				OUT(" %s", cmd_event_label(b->event, label, sizeof(label)));
				if (b->id >= 0)
					OUT(" id=%lld", (long long)b->id);
			} else if (b->kind == BO_STATUS) {
				OUT(" 0x%x", b->bit);
			} else if (b->kind == BO_NOTIFY) {
				OUT(" q%d", b->queue);
			}
			OUT(" (%llu hits)\n", (unsigned long long)b->hits);
		}
	}
	pthread_mutex_unlock(&c->cs->lock);
	if (c->json)
		jw_end(c->out);
	return CMD_OK;
}

static int cmd_break_on_delete(struct cmd_ctx *c)
{
	uint64_t n = 0;
	int deleted = 0;
	bool all = !strcmp(c->argv[0], "all");

	if (!all && arg_u64(c, "break-on delete: N", c->argv[0], &n))
		return CMD_ERR;
	if (c->check)
		return CMD_OK;
	pthread_mutex_lock(&c->cs->lock);
	for (int i = 0; i < CMD_MAX_BREAK_ON; i++)
		if (c->cs->bo[i].used && (all || (uint64_t)c->cs->bo[i].num == n)) {
			c->cs->bo[i].used = false;
			deleted++;
		}
	pthread_mutex_unlock(&c->cs->lock);
	if (!all && !deleted)
		return cmd_error(c, "break-on delete: no break-on %llu (see `break-on list`)",
				 (unsigned long long)n);
	if (c->json) {
		jw_obj(c->out, NULL);
		jw_i64(c->out, "deleted", deleted);
		jw_end(c->out);
	} else if (!all) {
		OUT("deleted break-on %llu\n", (unsigned long long)n);
	} else if (deleted) {
		OUT("deleted %d break-on point%s\n", deleted, deleted == 1 ? "" : "s");
	} else {
		OUT("no break-on points\n");
	}
	return CMD_OK;
}

const struct cmd_def cmd_trace_table[] = {
	{ "trace", NULL, "trace on|off [mmio,ctl,vq,irq,pio] [FILE]",
	  "log each event with a timestamp and vCPU, registers decoded (default classes: "
	  "mmio,ctl,vq,irq)",
	  "trace on ctl,mmio /tmp/trace.log",
	  "    Without FILE the lines are printed. An event a vCPU caused (its port or MMIO\n"
	  "    access, a notify and what the device did about it) ends with that vCPU and its\n"
	  "    guest RIP and symbol: `cpu0 rip=0xffffffff81234567 vp_notify+0x1d`.", 1, 3,
	  "words:on,off|words:mmio,ctl,vq,irq,pio,all", CMD_F_CHECK, cmd_trace },
	{ "break-on list", NULL, "break-on list", "the device-event breakpoints and their hits",
	  "break-on list", NULL, 0, 0, NULL, 0, cmd_break_on_list },
	{ "break-on delete", NULL, "break-on delete N|all", "remove a device-event breakpoint",
	  "break-on delete 1", NULL, 1, 1, NULL, CMD_F_CHECK, cmd_break_on_delete },
	{ "break-on", NULL, "break-on ctl EVENT [ID] | status BIT | notify Q | irq",
	  "pause every vCPU when the device sees that event, and report it",
	  "break-on ctl PORT_READY 1",
	  "    ctl matches messages both ways; status a bit being set; notify a guest kick of Q;\n"
	  "    irq any used-buffer interrupt. The VM stays stopped until `resume`.",
	  1, 3, "words:ctl,status,notify,irq,list,delete|event status q", CMD_F_CHECK, cmd_break_on },
};
const int cmd_trace_count = sizeof(cmd_trace_table) / sizeof(cmd_trace_table[0]);
