/*
 * `profile start|stop|report|folded|svg`: the guest profiler's commands. The sampler is
 * emu/profile.c; what its samples say (top functions, folded stacks, the flame graph) is
 * cli/prof_*.c. Each command computes a struct, then prints it as text or JSON.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cmd_priv.h"
#include "emu/profile.h"
#include "prof.h"
#include "session.h"

#define REPORT_DEFAULT_TOP 10
#define REPORT_MAX_TOP 1000

/* Frames are named by the kernel's symbols; a nameless address by the mode it ran in. */
static void name_pc(void *opaque, uint64_t pc, bool caller, unsigned cpl, char *buf, size_t n)
{
	const struct symtab *st = opaque;
	uint64_t off;
	const struct symbol *s = symtab_lookup_addr(st, caller ? pc - 1 : pc, &off);

	snprintf(buf, n, "%s", s ? s->name : cpl == 3 ? "[user]" : "[unknown]");
}

static const char *mode_name(unsigned cpl)
{
	return cpl == 0 ? "kernel" : cpl == 3 ? "user" : cpl == 1 ? "cpl1" : "cpl2";
}

static int no_profile(struct cmd_ctx *c)
{
	return cmd_error(c, "%s: no profile taken yet (profile start [HZ] [CPU|all])", c->def->name);
}

/* --- start, stop ------------------------------------------------------------------------ */

static int cmd_profile_start(struct cmd_ctx *c)
{
	uint64_t hz = PROF_DEFAULT_HZ, mask = ~0ULL;
	const char *hz_arg = NULL, *cpu_arg = NULL;
	int cpu = -1, r;

	/* One word is HZ, unless it is `all`; two are HZ and CPU|all. */
	if (c->argc == 2) {
		hz_arg = c->argv[0];
		cpu_arg = c->argv[1];
	} else if (c->argc == 1 && strcmp(c->argv[0], "all")) {
		hz_arg = c->argv[0];
	}

	if (hz_arg && (!parse_number(hz_arg, &hz) || hz == 0 || hz > PROF_MAX_HZ))
		return cmd_error(c, "profile start: HZ '%s' is not a rate from 1 to %d", hz_arg,
				 PROF_MAX_HZ);
	if (cpu_arg && strcmp(cpu_arg, "all")) {
		if (arg_cpu(c, cpu_arg, &cpu))
			return CMD_ERR;
		mask = 1ULL << cpu;
	}
	if (c->check)
		return CMD_OK;
	r = profile_start(&c->s->vm, (unsigned)hz, mask);
	if (r == -EALREADY)
		return cmd_error(c, "profile start: a profile is already running (profile stop first)");
	if (r)
		return cmd_error(c, "profile start: %s", strerror(-r));
	if (c->json) {
		jw_obj(c->out, NULL);
		jw_u64(c->out, "hz", hz);
		if (mask != ~0ULL)
			jw_i64(c->out, "cpu", cpu);
		jw_end(c->out);
	} else if (mask == ~0ULL) {
		OUT("profiling every vCPU at %" PRIu64 " Hz\n", hz);
	} else {
		OUT("profiling vCPU %d at %" PRIu64 " Hz\n", cpu, hz);
	}
	return CMD_OK;
}

static int cmd_profile_stop(struct cmd_ctx *c)
{
	struct prof_data d;
	uint64_t taken = 0;

	if (profile_stop(&c->s->vm))
		return cmd_error(c, "profile stop: no profile is running");
	if (profile_copy(&c->s->vm, &d) == 0) {
		for (int i = 0; i < d.ncpus; i++)
			taken += d.cpu[i].st.taken;
		profile_data_free(&d);
	}
	if (c->json) {
		jw_obj(c->out, NULL);
		jw_u64(c->out, "samples", taken);
		jw_end(c->out);
	} else
		OUT("profile stopped: %" PRIu64 " samples (profile report, profile folded FILE, "
		    "profile svg FILE)\n", taken);
	return CMD_OK;
}

/* --- report ------------------------------------------------------------------------------ */

struct report {
	struct prof_data d;
	struct prof_cpu_stats sum;  /* of every profiled vCPU */
	int nprofiled;
	struct prof_table total;
	struct prof_table cpu[PROF_MAX_CPUS];
	size_t top;
};

static void report_free(struct report *rp)
{
	prof_table_free(&rp->total);
	for (int i = 0; i < PROF_MAX_CPUS; i++)
		prof_table_free(&rp->cpu[i]);
	profile_data_free(&rp->d);
}

static void streams_of(const struct prof_data *d, struct prof_stream *s)
{
	for (int i = 0; i < d->ncpus; i++)
		s[i] = (struct prof_stream){ d->cpu[i].words, d->cpu[i].nwords };
}

static int report_build(struct cmd_ctx *c, struct report *rp)
{
	struct prof_stream s[PROF_MAX_CPUS];
	int r = profile_copy(&c->s->vm, &rp->d);

	if (r)
		return r;
	streams_of(&rp->d, s);
	r = prof_table_build(s, rp->d.ncpus, name_pc, &c->s->vm.syms, &rp->total);
	for (int i = 0; i < rp->d.ncpus && !r; i++) {
		const struct prof_cpu_stats *st = &rp->d.cpu[i].st;

		if (!st->profiled)
			continue;
		rp->nprofiled++;
		rp->sum.wanted += st->wanted;
		rp->sum.taken += st->taken;
		rp->sum.kicks += st->kicks;
		rp->sum.dropped += st->dropped;
		rp->sum.sample_ns += st->sample_ns;
		r = prof_table_build(&s[i], 1, name_pc, &c->s->vm.syms, &rp->cpu[i]);
	}
	return r;
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

static uint64_t vcpu_ns(const struct report *rp)
{
	return rp->d.run_ns * (uint64_t)rp->nprofiled;
}

static void table_text(struct cmd_ctx *c, const char *what, const struct prof_table *t, size_t top)
{
	uint64_t rest = t->total;

	OUT("%s: %" PRIu64 " samples\n", what, t->total);
	if (!t->n)
		return;
	OUT("       %%  samples  mode    function\n");
	for (size_t i = 0; i < t->n && i < top; i++) {
		OUT("  %6.2f %8" PRIu64 "  %-6s  %s\n", pct(t->rows[i].count, t->total), t->rows[i].count,
		    mode_name(t->rows[i].cpl), t->rows[i].name);
		rest -= t->rows[i].count;
	}
	if (t->n > top)
		OUT("  %6.2f %8" PRIu64 "  (%zu more functions)\n", pct(rest, t->total), rest, t->n - top);
}

static void report_text(struct cmd_ctx *c, const struct report *rp)
{
	const struct prof_cpu_stats *s = &rp->sum;

	OUT("profile: %u Hz on %d vCPU%s, %s %.2f s: %" PRIu64 " samples of %" PRIu64
	    " wanted (%.1f%%), %" PRIu64 " needed a kick, %" PRIu64 " dropped\n",
	    rp->d.hz, rp->nprofiled, rp->nprofiled == 1 ? "" : "s",
	    rp->d.running ? "running for" : "ran", rp->d.run_ns / 1e9, s->taken, s->wanted,
	    pct(s->taken, s->wanted), s->kicks, s->dropped);
	OUT("overhead: sampling took %.2f ms of %.2f s vCPU time (%.3f%%)\n", s->sample_ns / 1e6,
	    vcpu_ns(rp) / 1e9, pct(s->sample_ns, vcpu_ns(rp)));
	table_text(c, "all vCPUs", &rp->total, rp->top);
	for (int i = 0; i < rp->d.ncpus; i++) {
		char what[32];

		if (!rp->d.cpu[i].st.profiled)
			continue;
		snprintf(what, sizeof(what), "vCPU %d", i);
		table_text(c, what, &rp->cpu[i], rp->top);
	}
}

static void table_json(struct cmd_ctx *c, const struct prof_table *t, size_t top)
{
	jw_u64(c->out, "samples", t->total);
	jw_arr(c->out, "functions");
	for (size_t i = 0; i < t->n && i < top; i++) {
		jw_obj(c->out, NULL);
		jw_str(c->out, "function", t->rows[i].name);
		jw_str(c->out, "mode", mode_name(t->rows[i].cpl));
		jw_u64(c->out, "samples", t->rows[i].count);
		jw_dbl(c->out, "percent", pct(t->rows[i].count, t->total));
		jw_end(c->out);
	}
	jw_end(c->out);
}

static void stats_json(struct cmd_ctx *c, const struct prof_cpu_stats *s)
{
	jw_u64(c->out, "wanted", s->wanted);
	jw_u64(c->out, "taken", s->taken);
	jw_u64(c->out, "kicks", s->kicks);
	jw_u64(c->out, "dropped", s->dropped);
	jw_u64(c->out, "sample_ns", s->sample_ns);
}

static void report_json(struct cmd_ctx *c, const struct report *rp)
{
	jw_obj(c->out, NULL);
	jw_u64(c->out, "hz", rp->d.hz);
	jw_bool(c->out, "running", rp->d.running);
	jw_u64(c->out, "run_ns", rp->d.run_ns);
	stats_json(c, &rp->sum);
	jw_obj(c->out, "overhead");
	jw_u64(c->out, "sample_ns", rp->sum.sample_ns);
	jw_u64(c->out, "vcpu_ns", vcpu_ns(rp));
	jw_dbl(c->out, "percent", pct(rp->sum.sample_ns, vcpu_ns(rp)));
	jw_end(c->out);
	jw_obj(c->out, "total");
	table_json(c, &rp->total, rp->top);
	jw_end(c->out);
	jw_arr(c->out, "cpus");
	for (int i = 0; i < rp->d.ncpus; i++) {
		if (!rp->d.cpu[i].st.profiled)
			continue;
		jw_obj(c->out, NULL);
		jw_i64(c->out, "cpu", i);
		stats_json(c, &rp->d.cpu[i].st);
		table_json(c, &rp->cpu[i], rp->top);
		jw_end(c->out);
	}
	jw_end(c->out);
	jw_end(c->out);
}

static int cmd_profile_report(struct cmd_ctx *c)
{
	struct report *rp;
	uint64_t top = REPORT_DEFAULT_TOP;
	int r;

	if (c->argc && (!parse_number(c->argv[0], &top) || top == 0 || top > REPORT_MAX_TOP))
		return cmd_error(c, "profile report: N '%s' is not a count from 1 to %d", c->argv[0],
				 REPORT_MAX_TOP);
	if (c->check)
		return CMD_OK;
	rp = calloc(1, sizeof(*rp));
	if (!rp)
		return cmd_error(c, "profile report: out of memory");
	rp->top = top;
	r = report_build(c, rp);
	if (r == -ENOENT)
		r = no_profile(c);
	else if (r)
		r = cmd_error(c, "profile report: %s", strerror(-r));
	else if (c->json)
		report_json(c, rp);
	else
		report_text(c, rp);
	report_free(rp);
	free(rp);
	return r ? CMD_ERR : CMD_OK;
}

/* --- folded stacks and the flame graph ------------------------------------------------------ */

static int write_profile(struct cmd_ctx *c, bool svg)
{
	const char *path = c->argv[0];
	struct prof_stream s[PROF_MAX_CPUS];
	struct prof_folded f;
	struct prof_data d;
	FILE *out;
	int r;

	if (c->check)
		return CMD_OK;
	r = profile_copy(&c->s->vm, &d);
	if (r == -ENOENT)
		return no_profile(c);
	if (r)
		return cmd_error(c, "%s: %s", c->def->name, strerror(-r));
	streams_of(&d, s);
	r = prof_fold(s, d.ncpus, name_pc, &c->s->vm.syms, &f);
	profile_data_free(&d);
	if (r)
		return cmd_error(c, "%s: %s", c->def->name, strerror(-r));
	out = fopen(path, "w");
	if (!out) {
		r = -errno;
	} else {
		r = svg ? prof_svg_write(out, &f, "vmdbg guest profile") : prof_folded_write(out, &f);
		if (fclose(out) && !r)
			r = -errno;
	}
	if (r) {
		prof_folded_free(&f);
		return cmd_error(c, "%s: cannot write '%s': %s", c->def->name, path, strerror(-r));
	}
	if (c->json) {
		jw_obj(c->out, NULL);
		jw_str(c->out, "file", path);
		jw_u64(c->out, "stacks", f.n);
		jw_u64(c->out, "samples", f.total);
		jw_end(c->out);
	} else {
		OUT("%s: %zu stacks of %" PRIu64 " samples written to %s\n", svg ? "flame graph" : "folded",
		    f.n, f.total, path);
	}
	prof_folded_free(&f);
	return CMD_OK;
}

static int cmd_profile_folded(struct cmd_ctx *c)
{
	return write_profile(c, false);
}

static int cmd_profile_svg(struct cmd_ctx *c)
{
	return write_profile(c, true);
}

const struct cmd_def cmd_profile_table[] = {
	{ "profile start", NULL, "profile start [HZ] [CPU|all]",
	  "sample where the guest runs, HZ times a second (default 1000, at most 10000) on CPU or every vCPU",
	  "profile start 1000 all",
	  "    Each sample is the vCPU's rip, its mode (kernel: CPL 0, user: CPL 3) and the\n"
	  "    return addresses of its frame-pointer chain (at most 48 frames; a bad frame ends\n"
	  "    the walk; in a prologue or a small frameless leaf the caller comes from the\n"
	  "    stack's top, as for `bt`). A vCPU is sampled at its next exit, or kicked out of the guest when no\n"
	  "    exit comes within a quarter period; a paused vCPU is not sampled. A new start\n"
	  "    drops the last profile's samples. `--profile FILE` profiles a whole run.",
	  0, 2, "words:all", CMD_F_VM | CMD_F_CHECK, cmd_profile_start },
	{ "profile stop", NULL, "profile stop", "stop sampling; the samples stay for report, folded and svg",
	  "profile stop", NULL, 0, 0, NULL, CMD_F_VM, cmd_profile_stop },
	{ "profile report", NULL, "profile report [N]",
	  "the N functions (default 10) with most samples, in all and per vCPU, with the sampler's overhead",
	  "profile report 20",
	  "    A function is the one the vCPU was in (the leaf); kernel and user mode are\n"
	  "    counted apart. An address no symbol covers counts as [unknown] in kernel mode\n"
	  "    and [user] in user mode. The header says how many samples were taken of those\n"
	  "    wanted, how many needed a kick, and the time the vCPU threads spent sampling\n"
	  "    against the profiled vCPU time. Works while the profile runs too.",
	  0, 1, NULL, CMD_F_VM | CMD_F_CHECK, cmd_profile_report },
	{ "profile folded", NULL, "profile folded FILE",
	  "write the samples as folded stacks (`root;caller;leaf COUNT` lines) to FILE",
	  "profile folded boot.folded",
	  "    The format flamegraph.pl, inferno and speedscope read. Frames are function\n"
	  "    names, the outermost caller first; nameless frames in a row are one.",
	  1, 1, "path", CMD_F_VM | CMD_F_CHECK, cmd_profile_folded },
	{ "profile svg", NULL, "profile svg FILE",
	  "write a flame graph of the samples to FILE: one SVG, no other file or tool needed",
	  "profile svg boot.svg", NULL, 1, 1, "path", CMD_F_VM | CMD_F_CHECK, cmd_profile_svg },
};
const int cmd_profile_count = sizeof(cmd_profile_table) / sizeof(cmd_profile_table[0]);

/* --- --profile FILE: the whole run ---------------------------------------------------------- */

/* Runs LINE + " \"PATH\"" (PATH quoted for cmd_split); the output's first line into MSG. */
static int run_with_path(struct session *s, const char *line, const char *path, char *msg,
			 size_t n)
{
	char buf[4200];
	size_t o = (size_t)snprintf(buf, sizeof(buf), "%s \"", line);
	struct cmd_out out;
	int r;

	for (const char *p = path; *p && o < sizeof(buf) - 3; p++) {
		if (*p == '"' || *p == '\\')
			buf[o++] = '\\';
		buf[o++] = *p;
	}
	snprintf(buf + o, sizeof(buf) - o, "\"");
	cmd_out_init(&out, false);
	r = cmd_exec(s, buf, &out);
	snprintf(msg, n, "%.*s", (int)strcspn(out.buf ? out.buf : "", "\n"), out.buf ? out.buf : "");
	cmd_out_free(&out);
	return r == CMD_OK ? 0 : -EINVAL;
}

int cmd_profile_run_check(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "w");

	/* Made before the guest starts: a run of minutes must not learn at its end that FILE
	 * cannot be written. */
	if (!f)
		return snprintf(err, errlen, "--profile %s: cannot write it: %s", path, strerror(errno)),
		       -EINVAL;
	fclose(f);
	return 0;
}

int cmd_profile_run_start(struct session *s, const char *path, char *err, size_t errlen)
{
	struct cmd_out out;
	int r;

	cmd_out_init(&out, false);
	r = cmd_exec(s, "profile start", &out);
	if (r != CMD_OK)
		snprintf(err, errlen, "--profile %s: %.*s", path,
			 (int)strcspn(out.buf ? out.buf : "", "\n"), out.buf ? out.buf : "");
	cmd_out_free(&out);
	return r == CMD_OK ? 0 : -EINVAL;
}

int cmd_profile_run_end(struct session *s, const char *path, char *msg, size_t n)
{
	size_t len = strlen(path);
	bool svg = len >= 4 && !strcasecmp(path + len - 4, ".svg");
	struct cmd_out out;

	cmd_out_init(&out, false);
	cmd_exec(s, "profile stop", &out); /* a `profile stop` typed earlier leaves nothing to stop */
	cmd_out_free(&out);
	return run_with_path(s, svg ? "profile svg" : "profile folded", path, msg, n);
}
