/* The gdb remote stub: sockets, packet dispatch and stop replies (see gdbstub.h). */
#include "gdbstub.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "emu/debug.h"
#include "emu/evloop.h"
#include "emu/log.h"
#include "emu/vm.h"
#include "regs.h"
#include "rsp.h"

#define OUT_CAP (4 * RSP_PACKET_SIZE + 64)
/* Largest memory read per packet: hex doubles it; binary may double through escapes. */
#define MAX_HEX_READ (RSP_PACKET_SIZE / 2 - 16)
#define MAX_BIN_READ (RSP_PACKET_SIZE / 2 - 16)
#define MONITOR_CHUNK 2048
/* Second gdb clients waiting for their refusal (one debugger at a time). */
#define MAX_REFUSED 4
#define REFUSE_WAIT_S 2
#define PEER_MAX 80

struct refused {
	int fd, timer_fd;          /* -1: slot free */
	char peer[PEER_MAX];
};

struct gdbstub {
	struct vm *vm;
	struct evloop *loop;
	int listen_fd, client_fd;
	char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	gdb_monitor_fn monitor;
	void *opaque;
	gdb_attach_fn on_attach;
	void *attach_opaque;
	struct rsp *rsp;
	bool no_ack;
	bool running;          /* gdb waits for a stop reply */
	int g_cpu, c_cpu;      /* Hg / Hc selection (vCPU index) */
	uint8_t *out;          /* encoded bytes not yet written */
	size_t out_len;
	bool out_armed;        /* EPOLLOUT is on: the socket was full */
	uint8_t *last;         /* the last packet, for a NAK */
	size_t last_len;
	char *reply;           /* payload under construction */
	size_t reply_len;
	uint8_t *scratch;      /* memory transfers */
	char client_peer[PEER_MAX];
	struct refused refused[MAX_REFUSED];
};

/* --- output -------------------------------------------------------------------- */

static void client_close(struct gdbstub *g);

static void flush_out(struct gdbstub *g)
{
	while (g->out_len) {
		ssize_t w = write(g->client_fd, g->out, g->out_len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				if (!g->out_armed)
					evloop_mod(g->loop, g->client_fd, EPOLLIN | EPOLLOUT);
				g->out_armed = true;
				return;
			}
			client_close(g);
			return;
		}
		memmove(g->out, g->out + w, g->out_len - (size_t)w);
		g->out_len -= (size_t)w;
	}
	/* Only a change of interest costs a syscall: most packets go out whole. */
	if (g->out_armed)
		evloop_mod(g->loop, g->client_fd, EPOLLIN);
	g->out_armed = false;
}

static void queue_raw(struct gdbstub *g, const uint8_t *p, size_t n)
{
	if (g->client_fd < 0)
		return;
	if (g->out_len + n > OUT_CAP) {
		/* gdb stopped reading: nothing sensible remains but to drop it. */
		log_warn("gdb: the debugger does not read its replies; disconnecting");
		client_close(g);
		return;
	}
	memcpy(g->out + g->out_len, p, n);
	g->out_len += n;
}

static void send_packet(struct gdbstub *g, const void *payload, size_t len)
{
	g->last_len = rsp_encode(payload, len, g->last, 2 * RSP_PACKET_SIZE + 8);
	queue_raw(g, g->last, g->last_len);
	flush_out(g);
}

static void reply(struct gdbstub *g, const char *s)
{
	send_packet(g, s, strlen(s));
}

static void reply_err(struct gdbstub *g, int err)
{
	char buf[8];

	snprintf(buf, sizeof(buf), "E%02x", err < 0 ? (-err) & 0xff : err & 0xff);
	reply(g, buf);
}

static void reply_hex_text(struct gdbstub *g, char prefix, const char *text, size_t len)
{
	char *buf = malloc(2 * len + 2);

	if (!buf)
		return reply_err(g, ENOMEM);
	buf[0] = prefix;
	rsp_tohex((const uint8_t *)text, len, buf + (prefix ? 1 : 0));
	reply(g, prefix ? buf : buf);
	free(buf);
}

/* --- stop replies --------------------------------------------------------------- */

static void append_reg(char *buf, size_t size, int regnum, uint64_t v)
{
	uint8_t le[8];
	char hex[17];
	size_t off = strlen(buf);

	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)(v >> (8 * i));
	rsp_tohex(le, 8, hex);
	snprintf(buf + off, size - off, "%02x:%s;", regnum, hex);
}

static void send_stop(struct gdbstub *g, const struct debug_event *ev)
{
	char buf[256];
	struct kvm_regs regs;
	int cpu = ev->cpu >= 0 && ev->cpu < g->vm->ncpus ? ev->cpu : g->g_cpu;
	int sig = ev->reason == DEBUG_STOP_INTERRUPT ? 2 : 5;
	size_t off;

	off = (size_t)snprintf(buf, sizeof(buf), "T%02xthread:%x;", sig, cpu + 1);
	switch (ev->reason) {
	case DEBUG_STOP_SWBREAK:
		snprintf(buf + off, sizeof(buf) - off, "swbreak:;");
		break;
	case DEBUG_STOP_HWBREAK:
		snprintf(buf + off, sizeof(buf) - off, "hwbreak:;");
		break;
	case DEBUG_STOP_WATCH:
		snprintf(buf + off, sizeof(buf) - off, "watch:%llx;", (unsigned long long)ev->addr);
		break;
	case DEBUG_STOP_AWATCH:
		snprintf(buf + off, sizeof(buf) - off, "awatch:%llx;", (unsigned long long)ev->addr);
		break;
	default:
		break;
	}
	if (vm_get_regs(g->vm, cpu, &regs) == 0) {
		append_reg(buf, sizeof(buf), GDB_REG_RIP, regs.rip);
		append_reg(buf, sizeof(buf), GDB_REG_RSP, regs.rsp);
		append_reg(buf, sizeof(buf), GDB_REG_RBP, regs.rbp);
	}
	g->g_cpu = g->c_cpu = cpu;
	g->running = false;
	reply(g, buf);
}

/* A vCPU stopped (debug's eventfd): answer the continue gdb is waiting on. */
static void on_debug_stop(void *opaque)
{
	struct gdbstub *g = opaque;
	struct debug_event ev;

	if (g->client_fd < 0 || !g->running || !debug_is_stopped(g->vm))
		return;
	debug_wait_stopped(g->vm);
	if (debug_take_event(g->vm, &ev))
		send_stop(g, &ev);
}

static void do_interrupt(struct gdbstub *g)
{
	struct debug_event ev;

	if (!g->running)
		return;
	debug_stop_all(g->vm);
	if (!debug_take_event(g->vm, &ev))
		ev = (struct debug_event){ .reason = DEBUG_STOP_INTERRUPT, .cpu = g->g_cpu, .slot = -1 };
	if (ev.reason == DEBUG_STOP_INTERRUPT)
		ev.cpu = g->g_cpu;
	send_stop(g, &ev);
}

bool gdb_holds_stop(struct gdbstub *g, char *peer, size_t n)
{
	if (!g || g->client_fd < 0 || g->running)
		return false;
	snprintf(peer, n, "%s", g->client_peer);
	return true;
}

void gdb_note_change(struct gdbstub *g, const char *what)
{
	char msg[512];

	if (!g || g->client_fd < 0 || !g->running)
		return;
	snprintf(msg, sizeof(msg), "vmdbg: %s\n", what);
	reply_hex_text(g, 'O', msg, strlen(msg));
}

bool gdb_report_event_stop(struct gdbstub *g, int cpu, const char *what)
{
	char msg[512];
	struct debug_event ev = { .reason = DEBUG_STOP_INTERRUPT, .cpu = cpu, .slot = -1 };

	if (!g || g->client_fd < 0)
		return false;
	debug_stop_all(g->vm);
	debug_clear_events(g->vm);
	if (!g->running)
		return true;
	snprintf(msg, sizeof(msg), "vmdbg: stopped on %s\n", what ? what : "a device event");
	reply_hex_text(g, 'O', msg, strlen(msg));
	ev.reason = DEBUG_STOP_TRAP;
	send_stop(g, &ev);
	return true;
}

static void resume(struct gdbstub *g, const enum debug_action *acts)
{
	int r;

	g->running = true;
	r = debug_resume(g->vm, acts);
	if (r < 0)
		log_warn("gdb: resume: %s", strerror(-r));
}

/* --- packet helpers ---------------------------------------------------------------- */

static bool starts(const char *p, const char *prefix)
{
	return strncmp(p, prefix, strlen(prefix)) == 0;
}

/* Thread id: -1 (all), 0 (any) or N (vCPU N-1). Returns -2 on a bad id. */
static int parse_tid(const char **p)
{
	uint64_t v;

	if (**p == 'p') /* multiprocess form pPID.TID: the process is the machine */
		while (**p && **p != '.')
			(*p)++;
	if (**p == '.')
		(*p)++;
	if ((*p)[0] == '-' && (*p)[1] == '1') {
		*p += 2;
		return -1;
	}
	if (rsp_parse_hex(p, &v) || v > VM_MAX_CPUS)
		return -2;
	return (int)v;
}

static bool tid_valid(struct gdbstub *g, int tid)
{
	return tid >= 1 && tid <= g->vm->ncpus;
}

/* "ADDR,LEN" then END (':' or NUL). */
static int parse_addr_len(const char **p, uint64_t *addr, uint64_t *len)
{
	if (rsp_parse_hex(p, addr) || **p != ',')
		return -1;
	(*p)++;
	return rsp_parse_hex(p, len);
}

/* --- registers ---------------------------------------------------------------------- */

static void handle_g(struct gdbstub *g)
{
	struct gdb_cpu_state st;
	size_t size = gdb_regs_block_size(), off = 0;
	uint8_t *raw = g->scratch;
	char *hex = g->reply;

	if (gdb_regs_load(g->vm, g->g_cpu, &st))
		return reply_err(g, EIO);
	for (int n = 0; n < GDB_NUM_REGS; n++) {
		gdb_reg_get(&st, n, raw + off);
		off += (size_t)gdb_reg_size(n);
	}
	rsp_tohex(raw, size, hex);
	reply(g, hex);
}

static void handle_G(struct gdbstub *g, const char *arg, size_t len)
{
	struct gdb_cpu_state st;
	size_t off = 0;
	int r;

	if (len % 2 || len / 2 > gdb_regs_block_size() ||
	    rsp_fromhex(arg, len, g->scratch) < 0)
		return reply_err(g, EINVAL);
	if (gdb_regs_load(g->vm, g->g_cpu, &st))
		return reply_err(g, EIO);
	for (int n = 0; n < GDB_NUM_REGS && off + (size_t)gdb_reg_size(n) <= len / 2; n++) {
		uint8_t cur[16];

		/* Only registers that change are written: gdb sends the whole block. */
		gdb_reg_get(&st, n, cur);
		if (memcmp(cur, g->scratch + off, (size_t)gdb_reg_size(n)))
			gdb_reg_set(&st, n, g->scratch + off);
		off += (size_t)gdb_reg_size(n);
	}
	r = gdb_regs_store(g->vm, g->g_cpu, &st);
	if (r)
		return reply_err(g, r);
	reply(g, "OK");
}

static void handle_p(struct gdbstub *g, const char *arg)
{
	struct gdb_cpu_state st;
	uint64_t n;
	uint8_t raw[16];
	char hex[40];

	if (rsp_parse_hex(&arg, &n) || *arg || n >= GDB_NUM_REGS)
		return reply_err(g, EINVAL);
	if (gdb_regs_load(g->vm, g->g_cpu, &st))
		return reply_err(g, EIO);
	gdb_reg_get(&st, (int)n, raw);
	rsp_tohex(raw, (size_t)gdb_reg_size((int)n), hex);
	reply(g, hex);
}

static void handle_P(struct gdbstub *g, const char *arg)
{
	struct gdb_cpu_state st;
	uint64_t n;
	uint8_t raw[16];
	int r;

	if (rsp_parse_hex(&arg, &n) || *arg != '=' || n >= GDB_NUM_REGS)
		return reply_err(g, EINVAL);
	arg++;
	if (strlen(arg) != 2 * (size_t)gdb_reg_size((int)n) ||
	    rsp_fromhex(arg, strlen(arg), raw) < 0)
		return reply_err(g, EINVAL);
	if (gdb_regs_load(g->vm, g->g_cpu, &st))
		return reply_err(g, EIO);
	gdb_reg_set(&st, (int)n, raw);
	r = gdb_regs_store(g->vm, g->g_cpu, &st);
	if (r)
		return reply_err(g, r);
	reply(g, "OK");
}

/* --- memory ---------------------------------------------------------------------- */

static void handle_m(struct gdbstub *g, const char *arg, bool binary)
{
	uint64_t addr, len, got;

	if (parse_addr_len(&arg, &addr, &len) || *arg)
		return reply_err(g, EINVAL);
	if (len > (binary ? MAX_BIN_READ : MAX_HEX_READ))
		len = binary ? MAX_BIN_READ : MAX_HEX_READ;
	if (len == 0)
		return reply(g, binary ? "b" : "");
	got = debug_read_virt(g->vm, g->g_cpu, addr, g->scratch, len);
	if (got == 0)
		return reply_err(g, EFAULT);
	if (binary) {
		g->reply[0] = 'b';
		memcpy(g->reply + 1, g->scratch, got);
		return send_packet(g, g->reply, got + 1);
	}
	rsp_tohex(g->scratch, got, g->reply);
	reply(g, g->reply);
}

static void handle_M(struct gdbstub *g, const char *arg, size_t plen, bool binary)
{
	const char *start = arg;
	uint64_t addr, len, n;

	if (parse_addr_len(&arg, &addr, &len) || *arg != ':')
		return reply_err(g, EINVAL);
	arg++;
	n = plen - (size_t)(arg - start);
	if (binary) {
		if (n != len)
			return reply_err(g, EINVAL);
		memcpy(g->scratch, arg, n);
	} else if (n != 2 * len || rsp_fromhex(arg, n, g->scratch) < 0) {
		return reply_err(g, EINVAL);
	}
	if (len && debug_write_virt(g->vm, g->g_cpu, addr, g->scratch, len) != len)
		return reply_err(g, EFAULT);
	reply(g, "OK");
}

/* --- breakpoints ---------------------------------------------------------------- */

static void handle_Z(struct gdbstub *g, const char *arg, bool insert)
{
	uint64_t type, addr, kind;
	enum debug_hw_type t;
	int r;

	if (rsp_parse_hex(&arg, &type) || *arg++ != ',' || parse_addr_len(&arg, &addr, &kind) ||
	    (*arg && *arg != ';'))
		return reply_err(g, EINVAL);
	t = type == 1 ? DEBUG_HW_EXEC : type == 2 ? DEBUG_HW_WRITE : DEBUG_HW_ACCESS;
	switch (type) {
	case 0:
		r = insert ? debug_sw_insert(g->vm, g->g_cpu, addr, DEBUG_OWNER_GDB)
			   : debug_sw_remove(g->vm, g->g_cpu, addr, DEBUG_OWNER_GDB);
		break;
	case 1:
	case 2:
	case 4:
		r = insert ? debug_hw_insert(g->vm, t, addr, kind, DEBUG_OWNER_GDB)
			   : debug_hw_remove(g->vm, t, addr, kind, DEBUG_OWNER_GDB);
		break;
	default:
		/* Z3: x86 debug registers cannot watch reads alone. */
		return reply(g, "");
	}
	if (r == -ENOSPC && type != 0) {
		char breaks[1024];

		debug_format_breaks(g->vm, breaks, sizeof(breaks));
		log_info("gdb: all four debug registers are taken:\n%s", breaks);
	}
	if (r == -EOPNOTSUPP) {
		char why[512];

		/* An error, not the empty reply: gdb would then write 0xcc itself with M packets. */
		debug_refusal(g->vm, type != 0, t, why, sizeof(why));
		log_warn("gdb: Z%llu at 0x%llx refused: %s", (unsigned long long)type,
			 (unsigned long long)addr, why);
	}
	if (r)
		return reply_err(g, r);
	reply(g, "OK");
}

/* --- resume ---------------------------------------------------------------------- */

static void set_pc(struct gdbstub *g, int cpu, const char *arg)
{
	uint64_t addr;
	struct kvm_regs regs;

	if (*arg && rsp_parse_hex(&arg, &addr) == 0 && vm_get_regs(g->vm, cpu, &regs) == 0) {
		regs.rip = addr;
		vm_set_regs(g->vm, cpu, &regs);
	}
}

static void handle_cont(struct gdbstub *g, char cmd, const char *arg)
{
	enum debug_action acts[VM_MAX_CPUS];
	uint64_t sig;

	if (cmd == 'C' || cmd == 'S') {
		if (rsp_parse_hex(&arg, &sig))
			return reply_err(g, EINVAL);
		if (*arg == ';')
			arg++;
	}
	set_pc(g, g->c_cpu, arg);
	for (int i = 0; i < g->vm->ncpus; i++)
		acts[i] = DEBUG_ACT_CONT;
	if (cmd == 's' || cmd == 'S') {
		/* A legacy step moves only the selected vCPU. */
		for (int i = 0; i < g->vm->ncpus; i++)
			acts[i] = DEBUG_ACT_STOP;
		acts[g->c_cpu] = DEBUG_ACT_STEP;
	}
	resume(g, acts);
}

static void handle_vcont(struct gdbstub *g, const char *p)
{
	enum debug_action acts[VM_MAX_CPUS];
	bool set[VM_MAX_CPUS] = { false }, any_run = false;

	while (*p == ';') {
		enum debug_action a;
		char c = *++p;
		int tid = -1;
		uint64_t sig;

		p++;
		if (c == 'c' || c == 'C')
			a = DEBUG_ACT_CONT;
		else if (c == 's' || c == 'S')
			a = DEBUG_ACT_STEP;
		else if (c == 't')
			a = DEBUG_ACT_STOP;
		else
			return reply_err(g, EINVAL);
		if ((c == 'C' || c == 'S') && rsp_parse_hex(&p, &sig))
			return reply_err(g, EINVAL);
		if (*p == ':') {
			p++;
			tid = parse_tid(&p);
			if (tid == -2 || (tid > 0 && !tid_valid(g, tid)))
				return reply_err(g, EINVAL);
		}
		if (*p && *p != ';')
			return reply_err(g, EINVAL);
		/* The leftmost action that names a thread wins. */
		for (int i = 0; i < g->vm->ncpus; i++) {
			if (set[i] || (tid > 0 && tid != i + 1))
				continue;
			acts[i] = a;
			set[i] = true;
		}
	}
	if (*p)
		return reply_err(g, EINVAL);
	for (int i = 0; i < g->vm->ncpus; i++) {
		if (!set[i])
			acts[i] = DEBUG_ACT_STOP;
		if (acts[i] != DEBUG_ACT_STOP)
			any_run = true;
	}
	if (!any_run) {
		struct debug_event ev = { .reason = DEBUG_STOP_INTERRUPT, .cpu = g->g_cpu, .slot = -1 };

		return send_stop(g, &ev);
	}
	resume(g, acts);
}

/* --- queries ---------------------------------------------------------------------- */

static void reply_xfer(struct gdbstub *g, const char *doc, const char *arg)
{
	uint64_t off, len;
	size_t total = strlen(doc);

	if (parse_addr_len(&arg, &off, &len) || *arg)
		return reply_err(g, EINVAL);
	if (len > RSP_PACKET_SIZE / 2)
		len = RSP_PACKET_SIZE / 2;
	if (off >= total)
		return reply(g, "l");
	if (len > total - off)
		len = total - off;
	g->reply[0] = off + len >= total ? 'l' : 'm';
	memcpy(g->reply + 1, doc + off, len);
	send_packet(g, g->reply, len + 1);
}

static void memory_map(char *buf, size_t size)
{
	/*
	 * m/M take virtual addresses, so gdb must not fence them by physical
	 * RAM: both canonical halves (5-level wide) are "ram"; the second
	 * region runs to the top of the address space.
	 */
	snprintf(buf, size,
		 "<?xml version=\"1.0\"?>"
		 "<!DOCTYPE memory-map PUBLIC \"+//IDN gnu.org//DTD GDB Memory Map V1.0//EN\" "
		 "\"http://sourceware.org/gdb/gdb-memory-map.dtd\">"
		 "<memory-map>"
		 "<memory type=\"ram\" start=\"0x0\" length=\"0x100000000000000\"/>"
		 "<memory type=\"ram\" start=\"0xff00000000000000\" length=\"0x100000000000000\"/>"
		 "</memory-map>");
}

static void thread_extra(struct gdbstub *g, int cpu, char *buf, size_t size)
{
	struct kvm_sregs s = { 0 };
	const char *mode = "?";
	uint32_t mp;
	bool have_mp = vm_get_mp_state(g->vm, cpu, &mp) == 0;

	/* An AP the guest has not started sits at the reset vector: its mode says nothing. */
	if (have_mp && (mp == KVM_MP_STATE_UNINITIALIZED || mp == KVM_MP_STATE_INIT_RECEIVED)) {
		snprintf(buf, size, "vCPU %d %s, wait-for-sipi (not started by the guest)", cpu,
			 g->running ? "running" : "stopped");
		return;
	}
	if (vm_get_sregs(g->vm, cpu, &s) == 0) {
		if (!(s.cr0 & 1))
			mode = "real mode";
		else if ((s.efer & (1 << 10)) && s.cs.l)
			mode = "64-bit";
		else if ((s.efer & (1 << 10)))
			mode = "compat";
		else
			mode = s.cs.db ? "32-bit" : "16-bit";
	}
	snprintf(buf, size, "vCPU %d %s, %s, CPL %u%s", cpu, g->running ? "running" : "stopped",
		 mode, s.cs.dpl, have_mp && mp == KVM_MP_STATE_HALTED ? ", halted" : "");
}

static void builtin_monitor(struct gdbstub *g, const char *cmd, char **out)
{
	int64_t slide;
	int r;

	if (!strcmp(cmd, "kaslr")) {
		r = debug_kaslr_slide(g->vm, &slide);
		if (r)
			r = asprintf(out, "kaslr: slide unknown: %s\n",
				     r == -ENOENT   ? "no entry_SYSCALL_64 symbol"
				     : r == -EAGAIN ? "MSR_LSTAR is not set yet (the kernel is early in boot)"
						    : strerror(-r));
		else
			r = asprintf(out, "kaslr: slide %s0x%llx\n", slide < 0 ? "-" : "",
				     (unsigned long long)(slide < 0 ? -slide : slide));
	} else if (!strcmp(cmd, "info breaks") || !strcmp(cmd, "breaks")) {
		*out = malloc(8192);
		if (*out)
			debug_format_breaks(g->vm, *out, 8192);
		return;
	} else {
		r = asprintf(out, "unknown monitor command '%s' (this session has only 'kaslr' and "
				  "'info breaks')\n", cmd);
	}
	if (r < 0)
		*out = NULL;
}

static void handle_rcmd(struct gdbstub *g, const char *hex)
{
	size_t n = strlen(hex);
	char *cmd = malloc(n / 2 + 1), *out = NULL;

	if (!cmd)
		return reply_err(g, ENOMEM);
	if (rsp_fromhex(hex, n, (uint8_t *)cmd) < 0) {
		free(cmd);
		return reply_err(g, EINVAL);
	}
	cmd[n / 2] = 0;
	/* The REPL has no `kaslr`: the stub answers it itself (docs/gdbstub.md, "monitor"). */
	if (g->monitor && strcmp(cmd, "kaslr"))
		g->monitor(g->opaque, cmd, &out);
	else
		builtin_monitor(g, cmd, &out);
	if (out) {
		size_t len = strlen(out);

		for (size_t off = 0; off < len && g->client_fd >= 0; off += MONITOR_CHUNK)
			reply_hex_text(g, 'O', out + off, len - off < MONITOR_CHUNK ? len - off
										   : MONITOR_CHUNK);
	}
	free(out);
	free(cmd);
	reply(g, "OK");
}

static void handle_q(struct gdbstub *g, const char *p)
{
	char buf[512];

	if (starts(p, "qSupported")) {
		snprintf(buf, sizeof(buf),
			 "PacketSize=%x;qXfer:features:read+;qXfer:memory-map:read+;"
			 "QStartNoAckMode+;swbreak+;hwbreak+;vContSupported+;multiprocess-",
			 RSP_PACKET_SIZE);
		reply(g, buf);
	} else if (starts(p, "qXfer:features:read:target.xml:")) {
		reply_xfer(g, gdb_target_xml(), p + strlen("qXfer:features:read:target.xml:"));
	} else if (starts(p, "qXfer:features:read:")) {
		reply_err(g, ENOENT);
	} else if (starts(p, "qXfer:memory-map:read::")) {
		memory_map(buf, sizeof(buf));
		reply_xfer(g, buf, p + strlen("qXfer:memory-map:read::"));
	} else if (!strcmp(p, "qfThreadInfo")) {
		size_t off = 1;

		g->reply[0] = 'm';
		for (int i = 0; i < g->vm->ncpus; i++)
			off += (size_t)sprintf(g->reply + off, "%s%x", i ? "," : "", i + 1);
		reply(g, g->reply);
	} else if (!strcmp(p, "qsThreadInfo")) {
		reply(g, "l");
	} else if (starts(p, "qThreadExtraInfo,")) {
		const char *t = p + strlen("qThreadExtraInfo,");
		int tid = parse_tid(&t);

		if (*t || !tid_valid(g, tid))
			return reply_err(g, EINVAL);
		thread_extra(g, tid - 1, buf, sizeof(buf));
		reply_hex_text(g, 0, buf, strlen(buf));
	} else if (!strcmp(p, "qC")) {
		snprintf(buf, sizeof(buf), "QC%x", g->g_cpu + 1);
		reply(g, buf);
	} else if (starts(p, "qAttached")) {
		reply(g, "1");
	} else if (!strcmp(p, "qOffsets")) {
		int64_t slide = g->vm->syms.slide;

		if (debug_kaslr_slide(g->vm, &slide))
			slide = g->vm->syms.slide;
		snprintf(buf, sizeof(buf), "Text=%llx;Data=%llx;Bss=%llx", (unsigned long long)slide,
			 (unsigned long long)slide, (unsigned long long)slide);
		reply(g, buf);
	} else if (starts(p, "qRcmd,")) {
		handle_rcmd(g, p + strlen("qRcmd,"));
	} else {
		reply(g, "");
	}
}

/* --- dispatch -------------------------------------------------------------------- */

static void detach(struct gdbstub *g)
{
	debug_remove_all(g->vm, DEBUG_OWNER_GDB);
	debug_clear_events(g->vm);
	g->running = false;
	if (debug_is_stopped(g->vm))
		debug_resume(g->vm, NULL);
}

static void handle_packet(struct gdbstub *g, const char *p, size_t len)
{
	char cmd = p[0];

	if (g->running && len) {
		/* All-stop: nothing but 0x03 is valid while the VM runs. */
		return reply_err(g, EBUSY);
	}
	switch (cmd) {
	case '?': {
		struct debug_event ev = { .reason = DEBUG_STOP_TRAP, .cpu = g->g_cpu, .slot = -1 };

		return send_stop(g, &ev);
	}
	case 'g':
		return len == 1 ? handle_g(g) : reply_err(g, EINVAL);
	case 'G':
		return handle_G(g, p + 1, len - 1);
	case 'p':
		return handle_p(g, p + 1);
	case 'P':
		return handle_P(g, p + 1);
	case 'm':
		return handle_m(g, p + 1, false);
	case 'x':
		return handle_m(g, p + 1, true);
	case 'M':
		return handle_M(g, p + 1, len - 1, false);
	case 'X':
		return handle_M(g, p + 1, len - 1, true);
	case 'c':
	case 'C':
	case 's':
	case 'S':
		return handle_cont(g, cmd, p + 1);
	case 'Z':
	case 'z':
		return handle_Z(g, p + 1, cmd == 'Z');
	case 'H': {
		const char *t = p + 2;
		int tid;

		if (len < 3 || (p[1] != 'g' && p[1] != 'c'))
			return reply_err(g, EINVAL);
		tid = parse_tid(&t);
		if (*t || tid == -2 || (tid > 0 && !tid_valid(g, tid)))
			return reply_err(g, EINVAL);
		if (tid > 0) {
			if (p[1] == 'g')
				g->g_cpu = tid - 1;
			else
				g->c_cpu = tid - 1;
		}
		return reply(g, "OK");
	}
	case 'T': {
		const char *t = p + 1;
		int tid = parse_tid(&t);

		return reply(g, !*t && tid_valid(g, tid) ? "OK" : "E01");
	}
	case 'q':
		return handle_q(g, p);
	case 'Q':
		if (!strcmp(p, "QStartNoAckMode")) {
			reply(g, "OK");
			g->no_ack = true;
			return;
		}
		return reply(g, "");
	case 'v':
		if (!strcmp(p, "vCont?"))
			return reply(g, "vCont;c;C;s;S;t");
		if (starts(p, "vCont;"))
			return handle_vcont(g, p + 5);
		if (starts(p, "vKill")) {
			reply(g, "OK");
			vm_end(g->vm, VM_END_USER, "killed by gdb");
			return;
		}
		return reply(g, "");
	case 'D':
		detach(g);
		reply(g, "OK");
		return;
	case 'k':
		vm_end(g->vm, VM_END_USER, "killed by gdb");
		client_close(g);
		return;
	default:
		return reply(g, "");
	}
}

/* --- connections ------------------------------------------------------------------ */

static void client_close(struct gdbstub *g)
{
	int fd = g->client_fd;

	if (fd < 0)
		return;
	g->client_fd = -1;
	evloop_del(g->loop, fd);
	close(fd);
	g->out_len = 0;
	if (!vm_ended(g->vm))
		detach(g);
	log_info("gdb: debugger detached; the VM runs on");
}

static void on_client(void *opaque, int fd, uint32_t events)
{
	struct gdbstub *g = opaque;
	uint8_t buf[65536];
	ssize_t n;

	if (events & EPOLLOUT)
		flush_out(g);
	if (g->client_fd < 0 || !(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	n = read(fd, buf, sizeof(buf));
	if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
		client_close(g);
		return;
	}
	for (ssize_t i = 0; i < n && g->client_fd == fd; i++) {
		switch (rsp_feed(g->rsp, buf[i])) {
		case RSP_PACKET:
			if (!g->no_ack)
				queue_raw(g, (const uint8_t *)"+", 1);
			handle_packet(g, (const char *)g->rsp->buf, g->rsp->len);
			break;
		case RSP_TOO_LONG:
			if (!g->no_ack)
				queue_raw(g, (const uint8_t *)"+", 1);
			reply_err(g, E2BIG);
			break;
		case RSP_BAD:
			if (!g->no_ack)
				queue_raw(g, (const uint8_t *)"-", 1);
			break;
		case RSP_NAK:
			if (g->last_len)
				queue_raw(g, g->last, g->last_len);
			break;
		case RSP_INTERRUPT:
			do_interrupt(g);
			break;
		default:
			break;
		}
	}
	if (g->client_fd == fd)
		flush_out(g);
}

static void peer_name(const struct sockaddr_storage *sa, char *buf, size_t n)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(buf, n, "%s:%u", host, ntohs(in->sin_port));
	} else if (sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(buf, n, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else {
		snprintf(buf, n, "a unix-socket peer");
	}
}

static void refused_close(struct gdbstub *g, struct refused *r)
{
	if (r->fd < 0)
		return;
	evloop_del(g->loop, r->fd);
	evloop_del(g->loop, r->timer_fd);
	close(r->fd);
	close(r->timer_fd);
	r->fd = r->timer_fd = -1;
}

/*
 * gdb shows the text of an `E.` reply to its first packet ("Remote failure reply: E.vmdbg:
 * ..."), so a second gdb learns why it was turned away instead of reading a reset. ACK: a
 * packet of the client's was read (it waits for the '+').
 */
static void refuse_now(struct gdbstub *g, struct refused *r, bool ack)
{
	char msg[256], pkt[300];
	unsigned sum = 0;
	int n;

	snprintf(msg, sizeof(msg), "E.vmdbg: a gdb client is attached already (from %s); one at a time",
		 g->client_fd >= 0 ? g->client_peer : "a debugger");
	for (const char *p = msg; *p; p++)
		sum += (unsigned char)*p;
	n = snprintf(pkt, sizeof(pkt), "%s$%s#%02x", ack ? "+" : "", msg, sum & 0xff);
	if (write(r->fd, pkt, (size_t)n) < 0) {
		/* It went away first. */
	}
	refused_close(g, r);
}

static struct refused *refused_of(struct gdbstub *g, int fd)
{
	for (int i = 0; i < MAX_REFUSED; i++)
		if (g->refused[i].fd >= 0 && (g->refused[i].fd == fd || g->refused[i].timer_fd == fd))
			return &g->refused[i];
	return NULL;
}

static void on_refused(void *opaque, int fd, uint32_t events)
{
	struct gdbstub *g = opaque;
	struct refused *r = refused_of(g, fd);
	char buf[4096];
	ssize_t n;

	if (!r)
		return;
	n = read(fd, buf, sizeof(buf));
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		refused_close(g, r);
		return;
	}
	/* Everything it sent is read: closing now sends a FIN, not a reset that loses the reply. */
	if (n > 0 && memchr(buf, '#', (size_t)n))
		refuse_now(g, r, true);
}

/* A client that sends nothing gets the refusal after REFUSE_WAIT_S. */
static void on_refused_timer(void *opaque, int fd, uint32_t events)
{
	struct gdbstub *g = opaque;
	struct refused *r = refused_of(g, fd);

	if (r)
		refuse_now(g, r, false);
}

static void refuse(struct gdbstub *g, int c, const char *peer)
{
	struct itimerspec its = { .it_value = { .tv_sec = REFUSE_WAIT_S } };
	struct refused *r = NULL;

	if (vm_ended(g->vm)) {
		close(c);
		return;
	}
	log_warn("gdb: refused a second gdb client from %s: one is attached already (from %s)", peer,
		 g->client_peer);
	for (int i = 0; i < MAX_REFUSED && !r; i++)
		if (g->refused[i].fd < 0)
			r = &g->refused[i];
	if (!r)
		r = &g->refused[0];
	refused_close(g, r);
	r->fd = c;
	r->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	snprintf(r->peer, sizeof(r->peer), "%s", peer);
	if (r->timer_fd < 0 || timerfd_settime(r->timer_fd, 0, &its, NULL) ||
	    evloop_add(g->loop, c, EPOLLIN, on_refused, g)) {
		if (r->timer_fd >= 0)
			close(r->timer_fd);
		r->timer_fd = -1;
		close(c);
		r->fd = -1;
		return;
	}
	if (evloop_add(g->loop, r->timer_fd, EPOLLIN, on_refused_timer, g))
		refuse_now(g, r, false);
}

static void on_listen(void *opaque, int fd, uint32_t events)
{
	struct gdbstub *g = opaque;
	struct sockaddr_storage sa = { 0 };
	socklen_t salen = sizeof(sa);
	int c = accept4(fd, (struct sockaddr *)&sa, &salen, SOCK_NONBLOCK | SOCK_CLOEXEC), one = 1;
	char peer[PEER_MAX];

	if (c < 0)
		return;
	peer_name(&sa, peer, sizeof(peer));
	if (g->client_fd >= 0 || vm_ended(g->vm)) {
		refuse(g, c, peer);
		return;
	}
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (evloop_add(g->loop, c, EPOLLIN, on_client, g)) {
		close(c);
		return;
	}
	g->client_fd = c;
	snprintf(g->client_peer, sizeof(g->client_peer), "%s", peer);
	g->no_ack = false;
	g->running = false;
	g->out_armed = false;
	g->out_len = g->last_len = 0;
	g->g_cpu = g->c_cpu = 0;
	rsp_init(g->rsp);
	/* An attaching gdb expects a stopped target. */
	debug_stop_all(g->vm);
	debug_clear_events(g->vm);
	if (g->on_attach)
		g->on_attach(g->attach_opaque);
	log_info("gdb: debugger attached from %s; every vCPU is stopped", peer);
}

void gdb_on_attach(struct gdbstub *g, gdb_attach_fn fn, void *opaque)
{
	g->on_attach = fn;
	g->attach_opaque = opaque;
}

static int listen_on(struct gdbstub *g, const char *spec, char *err, size_t errlen)
{
	int fd, one = 1;

	if (starts(spec, "unix:")) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		const char *path = spec + 5;
		struct stat st;

		if (!*path || strlen(path) >= sizeof(sa.sun_path)) {
			snprintf(err, errlen, "--gdb %s: the socket path is empty or too long", spec);
			return -EINVAL;
		}
		strcpy(sa.sun_path, path);
		/* A stale socket from an earlier run; never a regular file. */
		if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
			unlink(path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 1)) {
			int e = errno;

			snprintf(err, errlen, "--gdb %s: %s", spec, strerror(e));
			if (fd >= 0)
				close(fd);
			return -e;
		}
		strcpy(g->unix_path, path);
	} else if (starts(spec, "tcp:")) {
		char host[256] = "127.0.0.1";
		const char *port = spec + 4, *colon = strrchr(port, ':');
		struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
					  .ai_flags = AI_NUMERICSERV }, *ai;
		char *end;
		long pn;
		int r;

		if (colon) {
			size_t hl = (size_t)(colon - port);

			if (hl >= sizeof(host)) {
				snprintf(err, errlen, "--gdb %s: host name too long", spec);
				return -EINVAL;
			}
			if (hl) {
				memcpy(host, port, hl);
				host[hl] = 0;
			}
			port = colon + 1;
		}
		pn = strtol(port, &end, 10);
		if (!*port || *end || pn < 0 || pn > 65535) {
			snprintf(err, errlen, "--gdb %s: '%s' is not a port number", spec, port);
			return -EINVAL;
		}
		r = getaddrinfo(host, port, &hints, &ai);
		if (r) {
			snprintf(err, errlen, "--gdb %s: %s", spec, gai_strerror(r));
			return -EINVAL;
		}
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd >= 0)
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 1)) {
			int e = errno;

			snprintf(err, errlen, "--gdb %s: %s", spec, strerror(e));
			if (fd >= 0)
				close(fd);
			freeaddrinfo(ai);
			return -e;
		}
		freeaddrinfo(ai);
	} else {
		snprintf(err, errlen, "--gdb %s: expected tcp:[HOST:]PORT or unix:PATH", spec);
		return -EINVAL;
	}
	g->listen_fd = fd;
	return 0;
}

int gdb_start(struct gdbstub **out, struct vm *vm, struct evloop *loop, const char *spec,
	      bool wait, gdb_monitor_fn monitor, void *opaque, char *err, size_t errlen)
{
	struct gdbstub *g = calloc(1, sizeof(*g));
	int r;

	if (!g)
		return -ENOMEM;
	g->vm = vm;
	g->loop = loop;
	g->listen_fd = g->client_fd = -1;
	for (int i = 0; i < MAX_REFUSED; i++)
		g->refused[i].fd = g->refused[i].timer_fd = -1;
	g->monitor = monitor;
	g->opaque = opaque;
	g->rsp = malloc(sizeof(*g->rsp));
	g->out = malloc(OUT_CAP);
	g->last = malloc(2 * RSP_PACKET_SIZE + 8);
	g->reply = malloc(2 * RSP_PACKET_SIZE + 8);
	g->scratch = malloc(RSP_PACKET_SIZE + 8);
	if (!g->rsp || !g->out || !g->last || !g->reply || !g->scratch) {
		snprintf(err, errlen, "gdb stub: out of memory");
		gdb_stop(g);
		return -ENOMEM;
	}
	rsp_init(g->rsp);
	r = listen_on(g, spec, err, errlen);
	if (!r)
		r = debug_attach_evloop(vm, loop);
	if (!r)
		r = debug_add_listener(vm, on_debug_stop, g);
	if (!r)
		r = evloop_add(loop, g->listen_fd, EPOLLIN, on_listen, g);
	if (r) {
		if (!*err)
			snprintf(err, errlen, "gdb stub: %s", strerror(-r));
		gdb_stop(g);
		return r;
	}
	if (wait)
		debug_stop_all(vm);
	log_info("gdb: listening on %s%s", spec, wait ? "; the vCPUs wait for gdb to attach" : "");
	*out = g;
	return 0;
}

void gdb_stop(struct gdbstub *g)
{
	if (!g)
		return;
	for (int i = 0; i < MAX_REFUSED; i++)
		refused_close(g, &g->refused[i]);
	if (g->client_fd >= 0) {
		evloop_del(g->loop, g->client_fd);
		close(g->client_fd);
		g->client_fd = -1;
	}
	if (g->listen_fd >= 0) {
		evloop_del(g->loop, g->listen_fd);
		close(g->listen_fd);
	}
	if (g->unix_path[0])
		unlink(g->unix_path);
	debug_remove_listener(g->vm, on_debug_stop, g);
	free(g->rsp);
	free(g->out);
	free(g->last);
	free(g->reply);
	free(g->scratch);
	free(g);
}
