/* Internals shared by the command files (cli/cmd*.c, script.c, repl.c). */
#ifndef VMDBG_CMD_PRIV_H
#define VMDBG_CMD_PRIV_H

#include <pthread.h>
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cmd.h"

struct session;
struct console_event;

#define CMD_MAX_ARGS 64
#define CMD_MAX_BREAK_ON 16
#define CMD_MAX_BPS 32
#define CMD_DEFAULT_TIMEOUT_NS (30ULL * 1000000000ULL)

enum cmd_flags {
	CMD_F_VM = 1 << 0,     /* needs vCPUs */
	CMD_F_INJECT = 1 << 1, /* moves the wait marks (see `help wait`) */
	CMD_F_REPEAT = 1 << 2, /* an empty REPL line repeats it */
	/*
	 * fn honours c->check (--check-script, and every --script before the guest starts):
	 * it parses its arguments with the rules it runs by, then returns CMD_OK before it
	 * touches the machine. Every command that takes arguments has it (test_cmd.c).
	 */
	CMD_F_CHECK = 1 << 3,
};

struct script_check;

struct cmd_ctx;

struct cmd_def {
	const char *name;    /* "vq dump" */
	const char *aliases; /* "stop|info registers" */
	const char *syntax;
	const char *summary;
	const char *example;
	const char *details; /* more help lines, or NULL */
	int min_args, max_args;
	/* Completion per argument: "cpu q port event sym status wake path fmt words:a,b,c"; '|' between args */
	const char *complete;
	unsigned flags;
	int (*fn)(struct cmd_ctx *c);
};

struct cmd_ctx {
	struct session *s;
	struct cmd_state *cs;
	struct cmd_out *out;
	bool json;
	int argc;
	char **argv;
	const struct cmd_def *def;
	/* Non-NULL: only check the arguments (see CMD_F_CHECK); S is then a machine-less stand-in. */
	struct script_check *check;
	char err[512];
};

enum wait_kind { WAIT_NONE, WAIT_SLEEP, WAIT_CONSOLE, WAIT_PORT, WAIT_CTL, WAIT_STOP,
		 WAIT_STATUS, WAIT_EXTERNAL };
enum port_state_want { PORT_WANT_OPEN, PORT_WANT_CLOSED, PORT_WANT_READY };

struct cmd_wait {
	enum wait_kind kind;
	uint64_t deadline_ns;
	regex_t re;
	bool re_ok;
	int port;
	enum port_state_want port_want;
	int ctl_event;
	int64_t ctl_id; /* -1: any */
	uint32_t status_bit;
	char what[256];
	cmd_wait_done_fn done;
	void *opaque;
};

enum break_on_kind { BO_CTL, BO_STATUS, BO_NOTIFY, BO_IRQ };

struct break_on {
	bool used;
	int num;
	enum break_on_kind kind;
	int event;   /* BO_CTL */
	int64_t id;  /* BO_CTL: -1 any */
	uint32_t bit;
	int queue;   /* BO_NOTIFY, BO_IRQ (-1 any) */
	uint64_t hits;
};

struct repl_bp {
	bool used;
	int num;
	int kind; /* 0 break, 1 hbreak, 2 watch w, 3 watch rw */
	uint64_t addr, len;
	char desc[96];
};

enum trace_bits { TRACE_MMIO = 1, TRACE_CTL = 2, TRACE_VQ = 4, TRACE_IRQ = 8, TRACE_PIO = 16 };

/* A line `ctl log` shows between control messages: where another timeline began. */
#define CMD_MAX_LOG_MARKS 64
struct log_mark {
	uint64_t after_seq; /* shown after the control message with this seq */
	uint64_t time_ns;   /* CLOCK_MONOTONIC, as the log's entries */
	char what[32];      /* "snapshot loaded" */
	char file[512];
};

/*
 * Where a vCPU stood when a listing (x/i, list) was made: its pc and how often it had left a
 * pause to run (vm_vcpu_unparks). The same again: it has not run since, and a bare x/i or
 * list goes on after that listing.
 */
struct cmd_here {
	bool valid;
	int cpu;
	uint64_t pc, unparks;
};

static inline bool cmd_here_same(const struct cmd_here *a, const struct cmd_here *b)
{
	return a->valid && b->valid && a->cpu == b->cpu && a->pc == b->pc && a->unparks == b->unparks;
}

struct cmd_state {
	struct session *s;
	int cur_cpu;

	struct cmd_wait w;
	int timer_fd, notice_fd;
	uint64_t console_mark; /* history_total offset a `wait console` searches from */
	uint64_t console_scan; /* where the next re-check of the current wait starts */
	uint64_t ctl_mark;     /* ctl log seq a `wait ctl` looks after */
	uint64_t ctl_epoch;    /* ctl log seq of the last `snapshot load`: `handshake` looks after */

	/* Set by vCPU threads (device events), taken by the main thread. */
	pthread_mutex_t lock;
	char *notices;
	size_t notices_len;
	int bo_pending_refs;      /* vm_request_pause references taken by break-on */
	struct break_on bo[CMD_MAX_BREAK_ON];
	int bo_next;
	int bo_refs; /* main thread: references now held */

	/* vCPU threads trace while the main thread turns classes on and off (atomic) and
	 * swaps the file (under trace_lock, which trace_out holds while it writes). */
	unsigned trace_mask;
	pthread_mutex_t trace_lock;
	FILE *trace_file;
	struct log_mark marks[CMD_MAX_LOG_MARKS]; /* the newest, a ring */
	unsigned nmarks;                          /* ever added */

	struct repl_bp bps[CMD_MAX_BPS];
	int bp_next;
	bool debug_listening;

	/* Empty-line repeat */
	char repeat[128];
	uint64_t x_next;
	char x_fmt[24];
	bool x_phys;
	/* Where the vCPU stood at the last x/i: an x/i without an address goes on at x_next
	 * while it still stands there. A pause, resume, step or breakpoint stop clears it: after
	 * a stop x/i starts at the pc. */
	struct cmd_here x_here;
	/* Where the vCPU stood at the last `list`: a bare `list` goes on at list_next of
	 * list_file while it still stands there (or there is no vCPU); else around the pc. */
	struct cmd_here list_here;
	int list_next;
	char *list_file;

	void *script; /* struct script_runner (script.c) */
	void *repl;   /* struct repl_state (repl.c) */
	bool in_monitor;
};

/* Output helpers. */
int cmd_error(struct cmd_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define OUT(...) cmd_printf(c->out, __VA_ARGS__)

/* Argument parsing helpers: 0 or CMD_ERR with c->err set (naming WHAT). */
int arg_u64(struct cmd_ctx *c, const char *what, const char *s, uint64_t *v);
int arg_cpu(struct cmd_ctx *c, const char *s, int *cpu);
int arg_queue(struct cmd_ctx *c, const char *s, unsigned *q);
int arg_port(struct cmd_ctx *c, const char *s, unsigned *port);
int arg_event(struct cmd_ctx *c, const char *s, int *event);
int arg_status_bit(struct cmd_ctx *c, const char *s, uint32_t *bit);
int arg_timeout(struct cmd_ctx *c, const char *s, uint64_t *ns);
bool arg_is_timeout(const char *s); /* has a unit suffix (500ms, 30s, 5m) */
int arg_dev(struct cmd_ctx *c, const char *s); /* DEV: "console", "0", "virtio-console" */
/* ADDR: number, symbol[+off], $reg (of the current CPU). */
int arg_addr(struct cmd_ctx *c, const char *s, uint64_t *addr);
bool parse_number(const char *s, uint64_t *v);

/* The VM paused around a few register reads (nests with any other pause). */
void cmd_pause_brief(struct cmd_ctx *c);
void cmd_resume_brief(struct cmd_ctx *c);
int cmd_check_vm(struct cmd_ctx *c);

/* Emit text for the user outside a command (notices, trace, break-on, echo of scripts). */
void cmd_emit(struct session *s, const char *text);
/* Queue a line from any thread; printed by the main thread. */
void cmd_notice(struct cmd_state *cs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same for a break-on stop: the line and the vm_request_pause reference together. */
void cmd_notice_break_on(struct cmd_state *cs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A debugger stop's event becomes its `Breakpoint N, ...` notice now (cmd_exec.c). */
void cmd_take_debug_stop(struct cmd_state *cs);
void cmd_flush_notices(struct cmd_state *cs);

/* Waits (cmd.c). */
int cmd_wait_begin(struct cmd_ctx *c, enum wait_kind kind, uint64_t timeout_ns);
void cmd_wait_check(struct cmd_state *cs);
void cmd_wait_finish(struct cmd_state *cs, int result, const char *msg);
void cmd_marks_now(struct cmd_state *cs); /* injections: waits look at what follows */

/* Device events (cmd_trace.c): vCPU thread, device lock held. */
void cmd_trace_device_event(struct cmd_state *cs, const struct console_event *ev);
void cmd_trace_free(struct cmd_state *cs);
/* Main thread: a marker line in `ctl log` (after the newest message) and in the trace. */
void cmd_log_mark(struct cmd_state *cs, const char *what, const char *file);
bool cmd_break_on_match(struct cmd_state *cs, const struct console_event *ev, char *why, size_t n);

/* Names */
const char *cmd_event_name(int event);
/* The event's name, or "event 99 (unknown)" for a number virtio-console does not define. */
const char *cmd_event_label(int event, char *buf, size_t n);
extern const char *const cmd_event_names[8];
extern const char *const cmd_status_names[8];
extern const uint32_t cmd_status_bits[8];
void cmd_status_str(uint32_t status, char *buf, size_t n);
void cmd_hexdump(struct cmd_out *o, const char *indent, uint64_t base, const uint8_t *p, size_t n);
int cmd_parse_hex(const char *s, uint8_t *out, size_t max, size_t *len);

/* Values for `get` / `assert`: a number or a string. 0 or CMD_ERR. */
int cmd_get_value(struct cmd_ctx *c, const char *path, bool *is_num, uint64_t *num, char *str,
		  size_t strn);

/* The command tables of each file. */
extern const struct cmd_def cmd_exec_table[], cmd_mem_table[], cmd_virtio_table[],
	cmd_inject_table[], cmd_trace_table[], cmd_script_table[], cmd_snapshot_table[],
	cmd_profile_table[];
extern const int cmd_exec_count, cmd_mem_count, cmd_virtio_count, cmd_inject_count,
	cmd_trace_count, cmd_script_count, cmd_snapshot_count, cmd_profile_count;

/*
 * Group I of the command table in `help`'s order (each file's table, then `help` itself):
 * its title, commands and their count; false past the last. For the reference.
 */
bool cmd_group(size_t i, const char **title, const struct cmd_def **defs, int *n);
/* What `help` says after the list: the meaning of CPU, DEV and TIMEOUT. */
extern const char cmd_help_notes[];

/* script.c: push a file onto the session's runner (source); CMD_WAIT or CMD_ERR. */
int script_source(struct cmd_ctx *c, const char *path);

/* repl.c */
void repl_print(struct session *s, const char *text);
bool repl_active(struct session *s);
void repl_guest_output(struct session *s, const char *text);
void repl_script_done(struct session *s);

/*
 * Guest memory for x, xp and bt (a disasm_read_fn, OPAQUE a struct cmd_mem_src): by virtual
 * address through CPU's page tables, the debugger's int3s read back as the guest's own
 * bytes, or with PHYS by physical address. The VM paused by the caller. Returns the length
 * of the readable prefix.
 */
struct cmd_mem_src {
	struct session *s;
	int cpu;
	bool phys;
};
uint64_t cmd_mem_read(void *opaque, uint64_t addr, void *dst, uint64_t len);

/*
 * Source lines (cmd_src.c): the line of PC in the kernel's DWARF (a return address: the line
 * of the call before it), or L->file NULL when there is none. Never while the VM is held
 * paused for it: the first lookup opens the DWARF.
 */
struct src_loc;
void cmd_src_lookup(struct session *s, uint64_t pc, bool return_address, struct src_loc *l);
/* " at FILE:LINE", with "(FUNC inlined at FILE:LINE)" in an inlined body; "" without a line. */
void cmd_src_text(const struct src_loc *l, char *buf, size_t n);
/* The same as JSON fields: file (as the text shows it), fullname, line, function, inlined. */
void cmd_src_json(struct cmd_ctx *c, const struct src_loc *l);
int cmd_list(struct cmd_ctx *c);

/* Register by name (rax, rip, cr3, ...) of CPU; the VM paused by the caller. 0 or -errno. */
int cmd_read_reg(struct session *s, int cpu, const char *name, uint64_t *val);
/*
 * Check one command line without running it (CMD_F_CHECK): S stands in for the machine
 * (vm.ncpus, vm.syms), CS is the check's own state. 0, or -EINVAL with ERR set.
 */
int cmd_check_line(struct session *s, struct cmd_state *cs, struct script_check *k,
		   const char *line, char *err, size_t errlen);
/* script.c: `source FILE` under a check: check FILE's lines too. CMD_OK or CMD_ERR. */
int script_check_source(struct cmd_ctx *c, const char *path);
/* The register table (cmd_exec.c): I-th name (NULL past the end), and whether NAME is one. */
const char *cmd_reg_name(int i);
bool cmd_reg_known(const char *name);
/* Tab completion of a `get`/`assert` PATH from the tables the lookup uses (cmd_script.c). */
void cmd_path_candidates(struct session *s, const char *text, void (*add)(void *, const char *),
			 void *ctx);
#define CMD_REG_LIST "rax..r15, rip, rflags, cr0, cr2, cr3, cr4, cr8, efer, pc, sp"
/* info cpus, and one vCPU's state in its words for `get cpu.N.state` (cmd_cpus.c). */
int cmd_info_cpus(struct cmd_ctx *c);
int cmd_cpu_state(struct cmd_ctx *c, int cpu, char *buf, size_t n);

/* debug stop listener (cmd_exec.c) */
void cmd_debug_listen(struct cmd_state *cs);
int cmd_resume_all(struct cmd_ctx *c, bool quiet);

#endif
