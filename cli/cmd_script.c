/* Script commands: echo, sleep, wait, get, assert, source. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_priv.h"
#include "emu/debug.h"
#include "session.h"
#include "virtio/console.h"

static int cmd_echo(struct cmd_ctx *c)
{
	if (c->json) {
		char buf[2048];
		size_t off = 0;

		buf[0] = 0;
		for (int i = 0; i < c->argc; i++)
			off += (size_t)snprintf(buf + off, off < sizeof(buf) ? sizeof(buf) - off : 0,
						"%s%s", i ? " " : "", c->argv[i]);
		jw_obj(c->out, NULL);
		jw_str(c->out, "text", buf);
		jw_end(c->out);
		return CMD_OK;
	}
	for (int i = 0; i < c->argc; i++)
		OUT("%s%s", i ? " " : "", c->argv[i]);
	OUT("\n");
	return CMD_OK;
}

static int cmd_sleep(struct cmd_ctx *c)
{
	uint64_t ms;

	if (arg_is_timeout(c->argv[0])) {
		uint64_t ns;

		if (arg_timeout(c, c->argv[0], &ns))
			return CMD_ERR;
		ms = ns / 1000000;
	} else if (arg_u64(c, "sleep: MS", c->argv[0], &ms)) {
		return CMD_ERR;
	}
	if (ms > 86400000ULL)
		return cmd_error(c, "sleep: %llu ms is longer than a day", (unsigned long long)ms);
	snprintf(c->cs->w.what, sizeof(c->cs->w.what), "sleep %llu ms", (unsigned long long)ms);
	return cmd_wait_begin(c, WAIT_SLEEP, ms ? ms * 1000000ULL : 1);
}

/* The trailing TIMEOUT of a wait, if the last argument has a unit or is the extra one. */
static int take_timeout(struct cmd_ctx *c, int max_plain, uint64_t *ns)
{
	*ns = CMD_DEFAULT_TIMEOUT_NS;
	if (c->argc > 0 && (arg_is_timeout(c->argv[c->argc - 1]) || c->argc > max_plain)) {
		if (arg_timeout(c, c->argv[c->argc - 1], ns))
			return CMD_ERR;
		c->argc--;
	}
	return 0;
}

static int cmd_wait_console(struct cmd_ctx *c)
{
	uint64_t ns;
	int r;
	char err[128];

	if (take_timeout(c, 1, &ns))
		return CMD_ERR;
	if (c->argc != 1)
		return cmd_error(c, "wait console: one REGEX (quote it if it has blanks)");
	r = regcomp(&c->cs->w.re, c->argv[0], REG_EXTENDED | REG_NEWLINE);
	if (r) {
		regerror(r, &c->cs->w.re, err, sizeof(err));
		return cmd_error(c, "wait console: bad regex '%s': %s", c->argv[0], err);
	}
	c->cs->w.re_ok = true;
	snprintf(c->cs->w.what, sizeof(c->cs->w.what), "console output matching /%s/ (%.1fs)",
		 c->argv[0], ns / 1e9);
	return cmd_wait_begin(c, WAIT_CONSOLE, ns);
}

static int cmd_wait_port(struct cmd_ctx *c)
{
	uint64_t ns;
	unsigned p;

	if (take_timeout(c, 2, &ns))
		return CMD_ERR;
	if (c->argc != 2)
		return cmd_error(c, "wait port: usage: wait port N open|closed|ready [TIMEOUT]");
	if (arg_port(c, c->argv[0], &p))
		return CMD_ERR;
	if (!strcmp(c->argv[1], "open"))
		c->cs->w.port_want = PORT_WANT_OPEN;
	else if (!strcmp(c->argv[1], "closed"))
		c->cs->w.port_want = PORT_WANT_CLOSED;
	else if (!strcmp(c->argv[1], "ready"))
		c->cs->w.port_want = PORT_WANT_READY;
	else
		return cmd_error(c, "wait port: state '%s' is not open, closed or ready", c->argv[1]);
	c->cs->w.port = (int)p;
	snprintf(c->cs->w.what, sizeof(c->cs->w.what), "port %u %s (%.1fs)", p, c->argv[1], ns / 1e9);
	return cmd_wait_begin(c, WAIT_PORT, ns);
}

static int cmd_wait_ctl(struct cmd_ctx *c)
{
	uint64_t ns, id;
	int ev;

	if (take_timeout(c, 2, &ns))
		return CMD_ERR;
	if (c->argc < 1 || c->argc > 2)
		return cmd_error(c, "wait ctl: usage: wait ctl EVENT [ID] [TIMEOUT]");
	if (arg_event(c, c->argv[0], &ev))
		return CMD_ERR;
	c->cs->w.ctl_event = ev;
	c->cs->w.ctl_id = -1;
	if (c->argc == 2) {
		if (arg_u64(c, "wait ctl: ID", c->argv[1], &id))
			return CMD_ERR;
		c->cs->w.ctl_id = (int64_t)id;
	}
	snprintf(c->cs->w.what, sizeof(c->cs->w.what), "the guest to send %s%s%s (%.1fs)",
		 cmd_event_name(ev) ? cmd_event_name(ev) : c->argv[0], c->argc == 2 ? " id=" : "",
		 c->argc == 2 ? c->argv[1] : "", ns / 1e9);
	return cmd_wait_begin(c, WAIT_CTL, ns);
}

static int cmd_wait_stop(struct cmd_ctx *c)
{
	uint64_t ns;

	if (take_timeout(c, 0, &ns))
		return CMD_ERR;
	if (c->argc)
		return cmd_error(c, "wait stop: usage: wait stop [TIMEOUT]");
	snprintf(c->cs->w.what, sizeof(c->cs->w.what), "the VM to stop (%.1fs)", ns / 1e9);
	return cmd_wait_begin(c, WAIT_STOP, ns);
}

static int cmd_wait_status(struct cmd_ctx *c)
{
	uint64_t ns;

	if (take_timeout(c, 1, &ns))
		return CMD_ERR;
	if (c->argc != 1)
		return cmd_error(c, "wait status: usage: wait status BIT [TIMEOUT]");
	if (arg_status_bit(c, c->argv[0], &c->cs->w.status_bit))
		return CMD_ERR;
	snprintf(c->cs->w.what, sizeof(c->cs->w.what), "status bit %s (%.1fs)", c->argv[0], ns / 1e9);
	return cmd_wait_begin(c, WAIT_STATUS, ns);
}

static int cmd_wait(struct cmd_ctx *c)
{
	return cmd_error(c, "wait: unknown condition '%s' (console, port, ctl, stop, status)",
			 c->argv[0]);
}

/* --- get / assert ------------------------------------------------------------------------ */

#define NUM(v) (*is_num = true, *num = (uint64_t)(v), 0)
#define STR(v) (*is_num = false, snprintf(str, strn, "%s", (v)), 0)

static int get_port(struct cmd_ctx *c, const struct console_snapshot *sn, unsigned p, const char *f,
		    bool *is_num, uint64_t *num, char *str, size_t strn)
{
	if (!strcmp(f, "guest_open")) return NUM(sn->port[p].guest_open);
	if (!strcmp(f, "readied") || !strcmp(f, "ready")) return NUM(sn->port[p].readied);
	if (!strcmp(f, "host_open")) return NUM(c->s->ports.port[p].host_open);
	if (!strcmp(f, "pending_rx")) return NUM(sn->port[p].pending_rx);
	if (!strcmp(f, "host_tx")) return NUM(sn->port[p].host_tx);
	if (!strcmp(f, "tx_bytes")) return NUM(sn->port[p].tx_bytes);
	if (!strcmp(f, "rx_bytes")) return NUM(sn->port[p].rx_bytes);
	if (!strcmp(f, "tx_chains")) return NUM(sn->port[p].tx_chains);
	if (!strcmp(f, "rx_chains")) return NUM(sn->port[p].rx_chains);
	if (!strcmp(f, "tx_dropped")) return NUM(sn->port[p].tx_dropped);
	if (!strcmp(f, "kept_bytes")) return NUM(c->s->ports.port[p].kept_len);
	if (!strcmp(f, "rx_buffers"))
		return NUM(sn->vq[console_rx_queue(p)].rings_readable ? sn->vq[console_rx_queue(p)].pending : 0);
	if (!strcmp(f, "name")) return STR(sn->port[p].name);
	return cmd_error(c, "get: port field '%s' unknown (guest_open readied host_open pending_rx "
			    "host_tx tx_bytes rx_bytes tx_chains rx_chains tx_dropped kept_bytes "
			    "rx_buffers name)",
			 f);
}

static int get_vq(struct cmd_ctx *c, const struct vq_snapshot *v, const char *f, bool *is_num,
		  uint64_t *num, char *str, size_t strn)
{
	if (!strcmp(f, "size") || !strcmp(f, "num")) return NUM(v->size);
	if (!strcmp(f, "ready")) return NUM(v->ready);
	if (!strcmp(f, "last_avail_idx")) return NUM(v->last_avail_idx);
	if (!strcmp(f, "used_idx")) return NUM(v->used_idx);
	if (!strcmp(f, "avail_idx") || !strcmp(f, "shadow_avail_idx")) return NUM(v->guest_avail_idx);
	if (!strcmp(f, "guest_used_idx")) return NUM(v->guest_used_idx);
	if (!strcmp(f, "pending")) return NUM(v->pending);
	if (!strcmp(f, "inuse")) return NUM(v->inuse);
	if (!strcmp(f, "notifies")) return NUM(v->notifies);
	if (!strcmp(f, "interrupts")) return NUM(v->interrupts);
	if (!strcmp(f, "errors")) return NUM(v->errors);
	if (!strcmp(f, "broken")) return NUM(v->broken);
	if (!strcmp(f, "desc")) return NUM(v->desc_gpa);
	if (!strcmp(f, "avail")) return NUM(v->avail_gpa);
	if (!strcmp(f, "used")) return NUM(v->used_gpa);
	return cmd_error(c, "get: vq field '%s' unknown (size ready last_avail_idx used_idx avail_idx "
			    "guest_used_idx pending inuse notifies interrupts errors broken desc avail used)",
			 f);
}

int cmd_get_value(struct cmd_ctx *c, const char *path, bool *is_num, uint64_t *num, char *str,
		  size_t strn)
{
	struct console_snapshot *sn;
	char head[32], *dot;
	const char *rest;
	uint64_t idx;
	int r;

	snprintf(head, sizeof(head), "%s", path);
	dot = strchr(head, '.');
	if (dot)
		*dot = 0;
	rest = strchr(path, '.') ? strchr(path, '.') + 1 : "";
	if (!strcmp(path, "paused")) return NUM(vm_is_paused(&c->s->vm));
	if (!strcmp(path, "uptime_ms")) return NUM(vm_uptime_ns(&c->s->vm) / 1000000);
	if (!strcmp(path, "console.bytes")) return NUM(c->s->history_total);
	if (!strcmp(path, "frames.count")) return NUM(c->s->ports.frames.stats.frames);
	if (!strcmp(path, "cpus")) return NUM(c->s->vm.ncpus);
	if (!strcmp(head, "cpu")) {
		char *f;

		if (!*rest || !(f = strchr(rest, '.')))
			return cmd_error(c, "get: '%s' needs cpu.N.REG (e.g. cpu.0.rip)", path);
		{
			char n[16];

			snprintf(n, sizeof(n), "%.*s", (int)(f - rest), rest);
			if (!parse_number(n, &idx) || idx >= (uint64_t)c->s->vm.ncpus)
				return cmd_error(c, "get: vCPU '%s' does not exist (the VM has %d)", n,
						 c->s->vm.ncpus);
		}
		if (!strcmp(f + 1, "state")) {
			*is_num = false;
			return cmd_cpu_state(c, (int)idx, str, strn);
		}
		cmd_pause_brief(c);
		r = cmd_read_reg(c->s, (int)idx, f + 1, num);
		cmd_resume_brief(c);
		if (r)
			return cmd_error(c, "get: unknown register '%s'", f + 1);
		*is_num = true;
		return 0;
	}
	sn = malloc(sizeof(*sn));
	if (!sn)
		return cmd_error(c, "get: out of memory");
	console_snapshot(&c->s->console, sn);
	r = CMD_ERR;
	if (!strcmp(path, "status")) r = NUM(sn->status);
	else if (!strcmp(path, "device_ready")) r = NUM(sn->device_ready);
	else if (!strcmp(path, "driver_features")) r = NUM(sn->driver_features);
	else if (!strcmp(path, "device_features")) r = NUM(sn->device_features);
	else if (!strcmp(path, "isr")) r = NUM(sn->interrupt_status);
	else if (!strcmp(path, "irqs")) r = NUM(sn->irqs_raised);
	else if (!strcmp(path, "ctl.count")) r = NUM(sn->ctl_log_seq);
	else if (!strcmp(path, "ctl.waiting")) r = NUM(sn->ctl_out_len);
	else if (!strcmp(head, "port") || !strcmp(head, "vq")) {
		const char *f = strchr(rest, '.');
		char n[16];
		bool port = !strcmp(head, "port");

		if (!f) {
			r = cmd_error(c, "get: '%s' needs %s.N.FIELD", path, head);
		} else {
			snprintf(n, sizeof(n), "%.*s", (int)(f - rest), rest);
			if (!parse_number(n, &idx) || idx >= (port ? CONSOLE_NR_PORTS : CONSOLE_NR_QUEUES))
				r = cmd_error(c, "get: %s '%s' does not exist (device has %d)", head, n,
					      port ? CONSOLE_NR_PORTS : CONSOLE_NR_QUEUES);
			else if (port)
				r = get_port(c, sn, (unsigned)idx, f + 1, is_num, num, str, strn);
			else
				r = get_vq(c, &sn->vq[idx], f + 1, is_num, num, str, strn);
		}
	} else {
		r = cmd_error(c, "get: unknown path '%s' (status, device_ready, driver_features, "
				 "port.N.FIELD, vq.N.FIELD, cpu.N.REG, ctl.count, console.bytes, paused, "
				 "uptime_ms, ...)",
			      path);
	}
	free(sn);
	return r;
}

static int cmd_get(struct cmd_ctx *c)
{
	bool is_num;
	uint64_t v;
	char s[256];

	if (cmd_get_value(c, c->argv[0], &is_num, &v, s, sizeof(s)))
		return CMD_ERR;
	if (c->json) {
		jw_obj(c->out, NULL);
		jw_str(c->out, "path", c->argv[0]);
		if (is_num)
			jw_u64(c->out, "value", v);
		else
			jw_str(c->out, "value", s);
		jw_end(c->out);
	} else if (is_num) {
		OUT("%llu%s", (unsigned long long)v, v > 9 ? "" : "");
		if (v > 9)
			OUT(" (0x%llx)", (unsigned long long)v);
		OUT("\n");
	} else {
		OUT("%s\n", s);
	}
	return CMD_OK;
}

static int cmd_assert(struct cmd_ctx *c)
{
	static const char *const ops[] = { "==", "!=", "<", "<=", ">", ">=" };
	bool is_num, ok = false;
	uint64_t v, want;
	char s[256];
	int op = -1;

	for (int i = 0; i < 6; i++)
		if (!strcmp(c->argv[1], ops[i]))
			op = i;
	if (op < 0)
		return cmd_error(c, "assert: operator '%s' is not one of == != < <= > >=", c->argv[1]);
	if (cmd_get_value(c, c->argv[0], &is_num, &v, s, sizeof(s)))
		return CMD_ERR;
	if (is_num) {
		if (!strcmp(c->argv[2], "true"))
			want = 1;
		else if (!strcmp(c->argv[2], "false"))
			want = 0;
		else if (!parse_number(c->argv[2], &want))
			return cmd_error(c, "assert: %s is a number, '%s' is not", c->argv[0], c->argv[2]);
		switch (op) {
		case 0: ok = v == want; break;
		case 1: ok = v != want; break;
		case 2: ok = v < want; break;
		case 3: ok = v <= want; break;
		case 4: ok = v > want; break;
		case 5: ok = v >= want; break;
		}
		if (!ok) {
			cmd_error(c, "assert failed: %s %s %s: %s is %llu (0x%llx)", c->argv[0], ops[op],
				  c->argv[2], c->argv[0], (unsigned long long)v, (unsigned long long)v);
			return CMD_FAIL;
		}
	} else {
		if (op > 1)
			return cmd_error(c, "assert: %s is text: only == and != apply", c->argv[0]);
		ok = (strcmp(s, c->argv[2]) == 0) == (op == 0);
		if (!ok) {
			cmd_error(c, "assert failed: %s %s \"%s\": %s is \"%s\"", c->argv[0], ops[op],
				  c->argv[2], c->argv[0], s);
			return CMD_FAIL;
		}
	}
	if (c->json) {
		jw_obj(c->out, NULL);
		jw_bool(c->out, "ok", true);
		jw_end(c->out);
	}
	return CMD_OK;
}

static int cmd_source(struct cmd_ctx *c)
{
	return script_source(c, c->argv[0]);
}

const struct cmd_def cmd_script_table[] = {
	{ "source", NULL, "source FILE", "run commands from a file (`#` starts a comment)",
	  "source scripts/examples/handshake.vmdbg", NULL, 1, 1, NULL, 0, cmd_source },
	{ "echo", NULL, "echo TEXT", "print TEXT", "echo \"port 1 is open\"", NULL, 0, CMD_MAX_ARGS,
	  NULL, 0, cmd_echo },
	{ "sleep", NULL, "sleep MS", "wait MS milliseconds (the guest keeps running)", "sleep 500",
	  NULL, 1, 1, NULL, 0, cmd_sleep },
	{ "wait console", NULL, "wait console REGEX [TIMEOUT]",
	  "until the guest console (COM1 or hvc0) prints a match (POSIX extended regex)",
	  "wait console 'tg: vcon ready' 30s",
	  "    A wait sees what happened after the previous wait of its kind matched, or after the\n"
	  "    last injection (ctl send, wake, port send, irq, notify), whichever is later; the first\n"
	  "    one sees everything since boot. Default TIMEOUT 30s; a timeout fails the script.",
	  1, 2, NULL, 0, cmd_wait_console },
	{ "wait port", NULL, "wait port N open|closed|ready [TIMEOUT]",
	  "until the guest has port N open (PORT_OPEN 1), closed, or readied (PORT_READY 1)",
	  "wait port 1 open 10s", NULL, 2, 3, "port|words:open,closed,ready", 0, cmd_wait_port },
	{ "wait ctl", NULL, "wait ctl EVENT [ID] [TIMEOUT]",
	  "until the guest sends that control message (see `help wait console` for the window)",
	  "wait ctl PORT_OPEN 1 10s", NULL, 1, 3, "event", 0, cmd_wait_ctl },
	{ "wait stop", NULL, "wait stop [TIMEOUT]",
	  "until the VM is stopped (break-on, a breakpoint, pause)", "wait stop 60s", NULL, 0, 1, NULL,
	  0, cmd_wait_stop },
	{ "wait status", NULL, "wait status BIT [TIMEOUT]", "until the device status has BIT set",
	  "wait status DRIVER_OK 60s", NULL, 1, 2, "status", 0, cmd_wait_status },
	{ "wait", NULL, "wait console|port|ctl|stop|status ...", "wait for a condition (see each form)",
	  "wait ctl PORT_READY 1", NULL, 1, CMD_MAX_ARGS, "words:console,port,ctl,stop,status", 0,
	  cmd_wait },
	{ "get", NULL, "get PATH", "print one value: port.1.guest_open, vq.5.used_idx, status, cpu.0.rip, ...",
	  "get port.1.guest_open",
	  "    Paths: status device_ready driver_features device_features isr irqs ctl.count\n"
	  "    ctl.waiting console.bytes frames.count paused uptime_ms cpus, port.N.{guest_open readied\n"
	  "    host_open pending_rx host_tx tx_bytes rx_bytes tx_chains rx_chains tx_dropped\n"
	  "    kept_bytes rx_buffers name}, vq.N.{size ready last_avail_idx used_idx avail_idx\n"
	  "    guest_used_idx pending inuse notifies interrupts errors broken desc avail used},\n"
	  "    cpu.N.{rax..r15 rip rflags cr0 cr2 cr3 cr4 efer state}.",
	  1, 1, "path", 0, cmd_get },
	{ "assert", NULL, "assert PATH OP VALUE",
	  "OP one of == != < <= > >=; a failure prints both sides and fails the script",
	  "assert port.1.guest_open == 1", NULL, 3, 3, "path|words:==,!=,<,<=,>,>=", 0, cmd_assert },
};
const int cmd_script_count = sizeof(cmd_script_table) / sizeof(cmd_script_table[0]);
