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
	if (c->check)
		return CMD_OK; /* any TEXT */
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
	if (c->check)
		return CMD_OK;
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
	regex_t check_re, *re;

	if (take_timeout(c, 1, &ns))
		return CMD_ERR;
	if (c->argc != 1)
		return cmd_error(c, "wait console: one REGEX (quote it if it has blanks)");
	/* A check compiles it too, into a regex of its own. */
	re = c->check ? &check_re : &c->cs->w.re;
	r = regcomp(re, c->argv[0], REG_EXTENDED | REG_NEWLINE);
	if (r) {
		regerror(r, re, err, sizeof(err));
		return cmd_error(c, "wait console: bad regex '%s': %s", c->argv[0], err);
	}
	if (c->check) {
		regfree(re);
		return CMD_OK;
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
	if (c->check)
		return CMD_OK;
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
	if (c->check)
		return CMD_OK;
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
	if (c->check)
		return CMD_OK;
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
	if (c->check)
		return CMD_OK;
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

/*
 * The paths `get` and `assert` take, level by level: one table each for the lookup, the
 * error messages and tab completion (cmd_path_candidates), so every key completes. Aliases
 * share an id.
 */
struct get_key {
	const char *name;
	int id;
};

enum { T_STATUS, T_DEVICE_READY, T_DRIVER_FEATURES, T_DEVICE_FEATURES, T_ISR, T_IRQS, T_CTL_COUNT,
       T_CTL_WAITING, T_CONSOLE_BYTES, T_FRAMES_COUNT, T_PAUSED, T_UPTIME_MS, T_CPUS };
static const struct get_key top_keys[] = {
	{ "status", T_STATUS }, { "device_ready", T_DEVICE_READY },
	{ "driver_features", T_DRIVER_FEATURES }, { "device_features", T_DEVICE_FEATURES },
	{ "isr", T_ISR }, { "irqs", T_IRQS }, { "ctl.count", T_CTL_COUNT },
	{ "ctl.waiting", T_CTL_WAITING }, { "console.bytes", T_CONSOLE_BYTES },
	{ "frames.count", T_FRAMES_COUNT }, { "paused", T_PAUSED }, { "uptime_ms", T_UPTIME_MS },
	{ "cpus", T_CPUS }, { NULL, 0 },
};

enum { P_GUEST_OPEN, P_READIED, P_HOST_OPEN, P_PENDING_RX, P_HOST_TX, P_TX_BYTES, P_RX_BYTES,
       P_TX_CHAINS, P_RX_CHAINS, P_TX_DROPPED, P_KEPT_BYTES, P_RX_BUFFERS, P_NAME };
static const struct get_key port_keys[] = {
	{ "guest_open", P_GUEST_OPEN }, { "readied", P_READIED }, { "ready", P_READIED },
	{ "host_open", P_HOST_OPEN }, { "pending_rx", P_PENDING_RX }, { "host_tx", P_HOST_TX },
	{ "tx_bytes", P_TX_BYTES }, { "rx_bytes", P_RX_BYTES }, { "tx_chains", P_TX_CHAINS },
	{ "rx_chains", P_RX_CHAINS }, { "tx_dropped", P_TX_DROPPED }, { "kept_bytes", P_KEPT_BYTES },
	{ "rx_buffers", P_RX_BUFFERS }, { "name", P_NAME }, { NULL, 0 },
};

enum { V_SIZE, V_READY, V_LAST_AVAIL_IDX, V_USED_IDX, V_AVAIL_IDX, V_GUEST_USED_IDX, V_PENDING,
       V_INUSE, V_NOTIFIES, V_INTERRUPTS, V_ERRORS, V_BROKEN, V_DESC, V_AVAIL, V_USED };
static const struct get_key vq_keys[] = {
	{ "size", V_SIZE }, { "num", V_SIZE }, { "ready", V_READY },
	{ "last_avail_idx", V_LAST_AVAIL_IDX }, { "used_idx", V_USED_IDX },
	{ "avail_idx", V_AVAIL_IDX }, { "shadow_avail_idx", V_AVAIL_IDX },
	{ "guest_used_idx", V_GUEST_USED_IDX }, { "pending", V_PENDING }, { "inuse", V_INUSE },
	{ "notifies", V_NOTIFIES }, { "interrupts", V_INTERRUPTS }, { "errors", V_ERRORS },
	{ "broken", V_BROKEN }, { "desc", V_DESC }, { "avail", V_AVAIL }, { "used", V_USED },
	{ NULL, 0 },
};

/* cpu.N.KEY: the register table (cmd_exec.c) and these. */
static const char *const cpu_extra_keys[] = { "state", NULL };

static int key_id(const struct get_key *k, const char *name)
{
	for (; k->name; k++)
		if (!strcmp(k->name, name))
			return k->id;
	return -1;
}

/* "a b c" of a table's names, for an error message. */
static const char *key_list(const struct get_key *k, char *buf, size_t n)
{
	size_t off = 0;

	buf[0] = 0;
	for (; k->name && off < n; k++)
		off += (size_t)snprintf(buf + off, n - off, "%s%s", off ? " " : "", k->name);
	return buf;
}

void cmd_path_candidates(struct session *s, const char *text, void (*add)(void *, const char *),
			 void *ctx)
{
	const char *dot = strchr(text, '.');
	int dots = 0;
	char cand[64];

	for (const char *p = text; *p; p++)
		dots += *p == '.';
	for (const struct get_key *k = top_keys; k->name; k++)
		add(ctx, k->name);
	if (!dot) {
		add(ctx, "port.");
		add(ctx, "vq.");
		add(ctx, "cpu.");
		return;
	}
	for (int i = 0; i < CONSOLE_NR_PORTS; i++) {
		for (const struct get_key *k = port_keys; dots > 1 && k->name; k++) {
			snprintf(cand, sizeof(cand), "port.%d.%s", i, k->name);
			add(ctx, cand);
		}
		snprintf(cand, sizeof(cand), "port.%d.", i);
		add(ctx, cand);
	}
	for (int i = 0; i < CONSOLE_NR_QUEUES; i++) {
		for (const struct get_key *k = vq_keys; dots > 1 && k->name; k++) {
			snprintf(cand, sizeof(cand), "vq.%d.%s", i, k->name);
			add(ctx, cand);
		}
		snprintf(cand, sizeof(cand), "vq.%d.", i);
		add(ctx, cand);
	}
	for (int i = 0; s && i < s->vm.ncpus; i++) {
		for (int r = 0; dots > 1 && cmd_reg_name(r); r++) {
			snprintf(cand, sizeof(cand), "cpu.%d.%s", i, cmd_reg_name(r));
			add(ctx, cand);
		}
		for (int r = 0; dots > 1 && cpu_extra_keys[r]; r++) {
			snprintf(cand, sizeof(cand), "cpu.%d.%s", i, cpu_extra_keys[r]);
			add(ctx, cand);
		}
		snprintf(cand, sizeof(cand), "cpu.%d.", i);
		add(ctx, cand);
	}
}

static int get_port(struct cmd_ctx *c, const struct console_snapshot *sn, unsigned p, const char *f,
		    bool *is_num, uint64_t *num, char *str, size_t strn)
{
	char list[256];

	switch (key_id(port_keys, f)) {
	case P_GUEST_OPEN: return NUM(sn->port[p].guest_open);
	case P_READIED: return NUM(sn->port[p].readied);
	case P_HOST_OPEN: return NUM(c->s->ports.port[p].host_open);
	case P_PENDING_RX: return NUM(sn->port[p].pending_rx);
	case P_HOST_TX: return NUM(sn->port[p].host_tx);
	case P_TX_BYTES: return NUM(sn->port[p].tx_bytes);
	case P_RX_BYTES: return NUM(sn->port[p].rx_bytes);
	case P_TX_CHAINS: return NUM(sn->port[p].tx_chains);
	case P_RX_CHAINS: return NUM(sn->port[p].rx_chains);
	case P_TX_DROPPED: return NUM(sn->port[p].tx_dropped);
	case P_KEPT_BYTES: return NUM(c->s->ports.port[p].kept_len);
	case P_RX_BUFFERS:
		return NUM(sn->vq[console_rx_queue(p)].rings_readable ? sn->vq[console_rx_queue(p)].pending : 0);
	case P_NAME: return STR(sn->port[p].name);
	}
	return cmd_error(c, "get: port field '%s' unknown (%s)", f, key_list(port_keys, list, sizeof(list)));
}

static int get_vq(struct cmd_ctx *c, const struct vq_snapshot *v, const char *f, bool *is_num,
		  uint64_t *num, char *str, size_t strn)
{
	char list[256];

	switch (key_id(vq_keys, f)) {
	case V_SIZE: return NUM(v->size);
	case V_READY: return NUM(v->ready);
	case V_LAST_AVAIL_IDX: return NUM(v->last_avail_idx);
	case V_USED_IDX: return NUM(v->used_idx);
	case V_AVAIL_IDX: return NUM(v->guest_avail_idx);
	case V_GUEST_USED_IDX: return NUM(v->guest_used_idx);
	case V_PENDING: return NUM(v->pending);
	case V_INUSE: return NUM(v->inuse);
	case V_NOTIFIES: return NUM(v->notifies);
	case V_INTERRUPTS: return NUM(v->interrupts);
	case V_ERRORS: return NUM(v->errors);
	case V_BROKEN: return NUM(v->broken);
	case V_DESC: return NUM(v->desc_gpa);
	case V_AVAIL: return NUM(v->avail_gpa);
	case V_USED: return NUM(v->used_gpa);
	}
	return cmd_error(c, "get: vq field '%s' unknown (%s)", f, key_list(vq_keys, list, sizeof(list)));
}

static int get_top(struct cmd_ctx *c, int id, bool *is_num, uint64_t *num)
{
	struct console_snapshot *sn;
	int r = 0;

	/* A check (c->check) knows the path and its type, not the machine: every value 0. */
	if (c->check)
		return NUM(0);
	switch (id) {
	case T_PAUSED: return NUM(vm_is_paused(&c->s->vm));
	case T_UPTIME_MS: return NUM(vm_uptime_ns(&c->s->vm) / 1000000);
	case T_CONSOLE_BYTES: return NUM(c->s->history_total);
	case T_FRAMES_COUNT: return NUM(c->s->ports.frames.stats.frames);
	case T_CPUS: return NUM(c->s->vm.ncpus);
	}
	sn = malloc(sizeof(*sn));
	if (!sn)
		return cmd_error(c, "get: out of memory");
	console_snapshot(&c->s->console, sn);
	switch (id) {
	case T_STATUS: r = NUM(sn->status); break;
	case T_DEVICE_READY: r = NUM(sn->device_ready); break;
	case T_DRIVER_FEATURES: r = NUM(sn->driver_features); break;
	case T_DEVICE_FEATURES: r = NUM(sn->device_features); break;
	case T_ISR: r = NUM(sn->interrupt_status); break;
	case T_IRQS: r = NUM(sn->irqs_raised); break;
	case T_CTL_COUNT: r = NUM(sn->ctl_log_seq); break;
	case T_CTL_WAITING: r = NUM(sn->ctl_out_len); break;
	}
	free(sn);
	return r;
}

int cmd_get_value(struct cmd_ctx *c, const char *path, bool *is_num, uint64_t *num, char *str,
		  size_t strn)
{
	struct console_snapshot *sn;
	char head[32], *dot;
	const char *rest;
	uint64_t idx;
	int r, id = key_id(top_keys, path);

	if (id >= 0)
		return get_top(c, id, is_num, num);
	snprintf(head, sizeof(head), "%s", path);
	dot = strchr(head, '.');
	if (dot)
		*dot = 0;
	rest = strchr(path, '.') ? strchr(path, '.') + 1 : "";
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
			if (c->check)
				return STR("running");
			*is_num = false;
			return cmd_cpu_state(c, (int)idx, str, strn);
		}
		if (!cmd_reg_known(f + 1))
			return cmd_error(c, "get: unknown register '%s' (%s, state)", f + 1, CMD_REG_LIST);
		if (c->check)
			return NUM(0);
		cmd_pause_brief(c);
		r = cmd_read_reg(c->s, (int)idx, f + 1, num);
		cmd_resume_brief(c);
		if (r)
			return cmd_error(c, "get: cpu %llu %s: %s", (unsigned long long)idx, f + 1,
					 strerror(-r));
		*is_num = true;
		return 0;
	}
	if (strcmp(head, "port") && strcmp(head, "vq")) {
		char list[256];

		return cmd_error(c, "get: unknown path '%s' (%s, port.N.FIELD, vq.N.FIELD, cpu.N.REG)",
				 path, key_list(top_keys, list, sizeof(list)));
	}
	sn = calloc(1, sizeof(*sn));
	if (!sn)
		return cmd_error(c, "get: out of memory");
	/* A check (c->check) walks the same names with every value 0: the path and its type count. */
	if (!c->check)
		console_snapshot(&c->s->console, sn);
	{
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
	if (c->check)
		return CMD_OK;
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
		if (c->check)
			return CMD_OK;
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
		if (c->check)
			return CMD_OK;
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
	if (c->check)
		return script_check_source(c, c->argv[0]);
	return script_source(c, c->argv[0]);
}

const struct cmd_def cmd_script_table[] = {
	{ "source", NULL, "source FILE", "run commands from a file (`#` starts a comment)",
	  "source scripts/examples/handshake.vmdbg", NULL, 1, 1, NULL, CMD_F_CHECK, cmd_source },
	{ "echo", NULL, "echo TEXT", "print TEXT", "echo \"port 1 is open\"", NULL, 0, CMD_MAX_ARGS,
	  NULL, CMD_F_CHECK, cmd_echo },
	{ "sleep", NULL, "sleep MS", "wait MS milliseconds (the guest keeps running)", "sleep 500",
	  NULL, 1, 1, NULL, CMD_F_CHECK, cmd_sleep },
	{ "wait console", NULL, "wait console REGEX [TIMEOUT]",
	  "until the guest console (COM1 or hvc0) prints a match (POSIX extended regex)",
	  "wait console 'tg: vcon ready' 30s",
	  "    A wait sees what happened after the previous wait of its kind matched, or after the\n"
	  "    last injection (ctl send, wake, port send, irq, notify), whichever is later; the first\n"
	  "    one sees everything since boot. Default TIMEOUT 30s; a timeout fails the script.",
	  1, 2, NULL, CMD_F_CHECK, cmd_wait_console },
	{ "wait port", NULL, "wait port N open|closed|ready [TIMEOUT]",
	  "until the guest has port N open (PORT_OPEN 1), closed, or readied (PORT_READY 1)",
	  "wait port 1 open 10s", NULL, 2, 3, "port|words:open,closed,ready", CMD_F_CHECK, cmd_wait_port },
	{ "wait ctl", NULL, "wait ctl EVENT [ID] [TIMEOUT]",
	  "until the guest sends that control message (see `help wait console` for the window)",
	  "wait ctl PORT_OPEN 1 10s", NULL, 1, 3, "event", CMD_F_CHECK, cmd_wait_ctl },
	{ "wait stop", NULL, "wait stop [TIMEOUT]",
	  "until the VM is stopped (break-on, a breakpoint, pause)", "wait stop 60s", NULL, 0, 1, NULL,
	  CMD_F_CHECK, cmd_wait_stop },
	{ "wait status", NULL, "wait status BIT [TIMEOUT]", "until the device status has BIT set",
	  "wait status DRIVER_OK 60s", NULL, 1, 2, "status", CMD_F_CHECK, cmd_wait_status },
	{ "wait", NULL, "wait console|port|ctl|stop|status ...", "wait for a condition (see each form)",
	  "wait ctl PORT_READY 1", NULL, 1, CMD_MAX_ARGS, "words:console,port,ctl,stop,status", CMD_F_CHECK,
	  cmd_wait },
	{ "get", NULL, "get PATH", "print one value: port.1.guest_open, vq.5.used_idx, status, cpu.0.rip, ...",
	  "get port.1.guest_open",
	  "    Paths: status device_ready driver_features device_features isr irqs ctl.count\n"
	  "    ctl.waiting console.bytes frames.count paused uptime_ms cpus, port.N.{guest_open readied\n"
	  "    host_open pending_rx host_tx tx_bytes rx_bytes tx_chains rx_chains tx_dropped\n"
	  "    kept_bytes rx_buffers name}, vq.N.{size ready last_avail_idx used_idx avail_idx\n"
	  "    guest_used_idx pending inuse notifies interrupts errors broken desc avail used},\n"
	  "    cpu.N.{rax..r15 rip rflags cr0 cr2 cr3 cr4 cr8 efer pc sp state} (state in `info\n"
	  "    cpus` words: running, halted, wait-for-sipi, at breakpoint N, ...). Tab completes\n"
	  "    each level from these same tables.",
	  1, 1, "path", CMD_F_CHECK, cmd_get },
	{ "assert", NULL, "assert PATH OP VALUE",
	  "OP one of == != < <= > >=; a failure prints both sides and fails the script",
	  "assert port.1.guest_open == 1", NULL, 3, 3, "path|words:==,!=,<,<=,>,>=", CMD_F_CHECK, cmd_assert },
};
const int cmd_script_count = sizeof(cmd_script_table) / sizeof(cmd_script_table[0]);
