/* Injection: ctl send, wake, port send, irq, notify. Each works while the VM runs or is paused. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_priv.h"
#include "session.h"
#include "virtio/console.h"

static int cmd_ctl_send(struct cmd_ctx *c)
{
	int event;
	uint64_t id, value = 1;
	const char *name = c->argc >= 4 ? c->argv[3] : NULL;
	bool before_ready;
	char buf[32];
	const char *label;
	int r;

	if (arg_event(c, c->argv[0], &event) || arg_u64(c, "ctl send: ID", c->argv[1], &id))
		return CMD_ERR;
	if (id > 0xffffffffULL)
		return cmd_error(c, "ctl send: id %llu does not fit in 32 bits", (unsigned long long)id);
	if (c->argc >= 3 && arg_u64(c, "ctl send: VALUE", c->argv[2], &value))
		return CMD_ERR;
	if (value > 0xffff)
		return cmd_error(c, "ctl send: value %llu does not fit in 16 bits",
				 (unsigned long long)value);
	if (c->check)
		return CMD_OK;
	cmd_marks_now(c->cs);
	r = console_ctl_inject(&c->s->console, (uint32_t)id, (uint16_t)event, (uint16_t)value, name,
			       &before_ready);
	if (r == -ENAMETOOLONG)
		return cmd_error(c, "ctl send: name is longer than %d bytes", CONSOLE_CTL_NAME_MAX);
	if (r == -ENOSPC)
		return cmd_error(c, "ctl send: %d messages already wait for guest buffers",
				 CONSOLE_CTL_OUT_MAX);
	if (r)
		return cmd_error(c, "ctl send: %s", strerror(-r));
	label = cmd_event_label(event, buf, sizeof(buf));
	if (c->json) {
		jw_obj(c->out, NULL);
		jw_str(c->out, "event", label);
		jw_i64(c->out, "event_number", event);
		jw_bool(c->out, "known_event", cmd_event_name(event) != NULL);
		jw_u64(c->out, "id", id);
		jw_u64(c->out, "value", value);
		jw_bool(c->out, "before_device_ready", before_ready);
		jw_end(c->out);
	} else {
		OUT("queued %s id=%llu value=%llu%s%s%s%s\n", label, (unsigned long long)id,
		    (unsigned long long)value, name ? " name=\"" : "", name ? name : "", name ? "\"" : "",
		    before_ready ? " (the driver has not sent DEVICE_READY yet: it gets this ahead of "
				   "the handshake; `wait ctl DEVICE_READY` first to inject after it)"
				 : "");
		/* A driver's handling of an event it does not know is worth seeing: allowed. */
		if (!cmd_event_name(event))
			OUT("(virtio-console defines events 0..7; the guest's driver should ignore this one)\n");
	}
	return CMD_OK;
}

static int cmd_wake(struct cmd_ctx *c)
{
	static const struct { const char *name; uint8_t b; } names[] = {
		{ "dump", CONSOLE_WAKE_DUMP },
		{ "shutdown", CONSOLE_WAKE_SHUTDOWN },
		{ "bpf-done", CONSOLE_WAKE_BPF_WRITE_DONE },
		{ "accessor-ready", CONSOLE_WAKE_ACCESSOR_READY },
	};
	uint64_t b = 256;
	int r;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(c->argv[0], names[i].name))
			b = names[i].b;
	if (b == 256 && (!parse_number(c->argv[0], &b) || b > 0xff))
		return cmd_error(c, "wake: '%s' is not a byte (0..255) or dump, shutdown, bpf-done, "
				    "accessor-ready",
				 c->argv[0]);
	if (c->check)
		return CMD_OK;
	cmd_marks_now(c->cs);
	r = console_wake(&c->s->console, (uint8_t)b);
	if (r)
		return cmd_error(c, "wake: %s", strerror(-r));
	if (c->json) {
		jw_obj(c->out, NULL);
		jw_u64(c->out, "byte", b);
		jw_end(c->out);
	} else {
		const char *n = console_wake_name((uint8_t)b);

		OUT("wake byte 0x%02llx%s%s%s queued on port 0\n", (unsigned long long)b, n ? " (" : "",
		    n ? n : "", n ? ")" : "");
	}
	return CMD_OK;
}

static int cmd_port_send(struct cmd_ctx *c)
{
	unsigned p;
	uint8_t *buf;
	size_t n = 0, cap = 0;
	int r;

	if (arg_port(c, c->argv[0], &p))
		return CMD_ERR;
	for (int i = 1; i < c->argc; i++)
		cap += strlen(c->argv[i]) + 1;
	buf = malloc(cap + 1);
	if (!buf)
		return cmd_error(c, "port send: out of memory");
	if (c->argc == 2 && !strncmp(c->argv[1], "hex:", 4)) {
		if (cmd_parse_hex(c->argv[1] + 4, buf, cap, &n)) {
			free(buf);
			return cmd_error(c, "port send: '%s' is not hex bytes", c->argv[1] + 4);
		}
	} else {
		/* Words are joined by one space; quote to keep other blanks. */
		for (int i = 1; i < c->argc; i++) {
			size_t l = strlen(c->argv[i]);

			if (i > 1)
				buf[n++] = ' ';
			memcpy(buf + n, c->argv[i], l);
			n += l;
		}
	}
	if (c->check) {
		free(buf);
		return CMD_OK;
	}
	cmd_marks_now(c->cs);
	r = console_port_send(&c->s->console, p, buf, n);
	free(buf);
	if (r)
		return cmd_error(c, "port send: port %u: %s", p, strerror(-r));
	if (c->json) {
		jw_obj(c->out, NULL);
		jw_i64(c->out, "id", p);
		jw_u64(c->out, "bytes", n);
		jw_end(c->out);
	} else {
		OUT("queued %zu bytes for port %u\n", n, p);
	}
	return CMD_OK;
}

static int cmd_irq(struct cmd_ctx *c)
{
	struct virtio_mmio *t = &c->s->console.mmio;
	const char *kind = "vring";
	int i = 0;

	if (c->argc == 2) {
		if (arg_dev(c, c->argv[0]))
			return CMD_ERR;
		i = 1;
	}
	if (c->argc > i) {
		if (!strcmp(c->argv[i], "vring") || !strcmp(c->argv[i], "config"))
			kind = c->argv[i];
		else if (c->argc == 1 && !arg_dev(c, c->argv[0]))
			kind = "vring";
		else
			return cmd_error(c, "irq: '%s' is neither vring nor config", c->argv[i]);
	}
	c->err[0] = 0;
	if (c->check)
		return CMD_OK;
	cmd_marks_now(c->cs);
	virtio_mmio_lock(t);
	/* InterruptACK is taken without the lock (virtio/mmio.c): set the bit atomically. */
	__atomic_or_fetch(&t->interrupt_status,
			  !strcmp(kind, "config") ? VIRTIO_MMIO_INT_CONFIG : VIRTIO_MMIO_INT_VRING,
			  __ATOMIC_SEQ_CST);
	t->irqs_raised++;
	if (t->raise_irq)
		t->raise_irq(t->irq_opaque);
	virtio_mmio_unlock(t);
	if (c->json) {
		jw_obj(c->out, NULL);
		jw_str(c->out, "kind", kind);
		jw_end(c->out);
	} else {
		OUT("raised the %s interrupt (InterruptStatus bit %s)\n", kind,
		    !strcmp(kind, "config") ? "1" : "0");
	}
	return CMD_OK;
}

static int cmd_notify(struct cmd_ctx *c)
{
	unsigned q;
	int r;

	if (arg_queue(c, c->argv[0], &q) || arg_dev(c, c->argc > 1 ? c->argv[1] : NULL))
		return CMD_ERR;
	if (c->check)
		return CMD_OK;
	cmd_marks_now(c->cs);
	r = console_notify(&c->s->console, q);
	if (r)
		return cmd_error(c, "notify: queue %u: %s", q, strerror(-r));
	if (!c->json)
		OUT("processed queue %u as if the guest had kicked it\n", q);
	return CMD_OK;
}

const struct cmd_def cmd_inject_table[] = {
	{ "ctl send", NULL, "ctl send EVENT ID [VALUE] [NAME]",
	  "queue a control message to the guest (any event and id, bad ones included)",
	  "ctl send PORT_ADD 1 1",
	  "    VALUE defaults to 1. NAME is appended with its NUL as PORT_NAME does.\n"
	  "    Events: DEVICE_READY PORT_ADD PORT_REMOVE PORT_READY CONSOLE_PORT RESIZE PORT_OPEN\n"
	  "    PORT_NAME, or a number 0..65535: numbers virtio-console does not define are sent\n"
	  "    as they are (named `event N (unknown)`), to see what the driver does with them.\n"
	  "    Sent before the driver's DEVICE_READY, a message reaches the driver ahead of its\n"
	  "    handshake (the reply says so): `wait ctl DEVICE_READY` or `wait ctl PORT_OPEN 0`\n"
	  "    first to inject into a running handshake.",
	  2, 4, "event", CMD_F_INJECT | CMD_F_CHECK, cmd_ctl_send },
	{ "wake", NULL, "wake BYTE|dump|shutdown|bpf-done|accessor-ready",
	  "one wake byte into port 0's input", "wake dump",
	  "    0xD1 dump (SysRq-D), 0xD3 shutdown, 0xBF bpf-write-done, 0xAC accessor-ready, or any\n"
	  "    byte. If a wake byte seems to do nothing, suspect the guest agent's /dev/hvc0 in\n"
	  "    canonical mode: a lone byte without a newline never becomes readable there; the\n"
	  "    agent must read hvc0 in raw mode. `port list` shows whether the byte was delivered.",
	  1, 1,
	  "words:dump,shutdown,bpf-done,accessor-ready", CMD_F_INJECT | CMD_F_CHECK, cmd_wake },
	{ "port send", NULL, "port send N TEXT|hex:BYTES", "queue host -> guest bytes on port N",
	  "port send 2 \"hello\\n\"",
	  "    TEXT takes the quoting of the command line (\"\\n\", \"\\x01\"); words are joined by one\n"
	  "    space. Bytes wait until the guest has the port open and buffers posted.",
	  2, CMD_MAX_ARGS, "port", CMD_F_INJECT | CMD_F_CHECK, cmd_port_send },
	{ "irq", NULL, "irq [DEV] [vring|config]", "raise the device's interrupt by hand",
	  "irq config", NULL, 0, 2, "words:vring,config", CMD_F_INJECT | CMD_F_CHECK, cmd_irq },
	{ "notify", NULL, "notify Q [DEV]", "process queue Q as if the guest had kicked it",
	  "notify 3", NULL, 1, 2, "q", CMD_F_INJECT | CMD_F_CHECK, cmd_notify },
};
const int cmd_inject_count = sizeof(cmd_inject_table) / sizeof(cmd_inject_table[0]);
