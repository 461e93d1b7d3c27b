/*
 * Source lines in the REPL: the ` at FILE:LINE` that sym, bt, info cpus and breakpoint
 * notices add, and `list`. The DWARF comes from the file the kernel's symbols came from
 * (emu/srcline.h), opened by the first of these that asks.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd_priv.h"
#include "emu/srcline.h"
#include "session.h"

#define LIST_LINES 10

void cmd_src_lookup(struct session *s, uint64_t pc, bool return_address, struct src_loc *l)
{
	/* A call's return address may start the next line: the call is the byte before. */
	if (srcline_addr(&s->vm.syms, return_address ? pc - 1 : pc, l))
		l->file = NULL;
}

void cmd_src_text(const struct src_loc *l, char *buf, size_t n)
{
	size_t o;

	buf[0] = '\0';
	if (!l->file)
		return;
	o = snprintf(buf, n, " at %s:%d", srcline_short_path(l->file), l->line);
	if (o < n && l->inlined && l->func[0]) {
		o += snprintf(buf + o, n - o, " (%s inlined", l->func);
		if (o < n && l->call_file)
			o += snprintf(buf + o, n - o, " at %s:%d", srcline_short_path(l->call_file),
				      l->call_line);
		if (o < n)
			snprintf(buf + o, n - o, ")");
	}
}

void cmd_src_json(struct cmd_ctx *c, const struct src_loc *l)
{
	jw_str(c->out, "file", l->file ? srcline_short_path(l->file) : "");
	jw_str(c->out, "fullname", l->file ? l->file : "");
	jw_i64(c->out, "line", l->file ? l->line : 0);
	jw_str(c->out, "function", l->file ? l->func : "");
	jw_bool(c->out, "inlined", l->file && l->inlined);
}

/* The reason there is no line, in words: for the edge's one-line errors. */
static int no_line(struct cmd_ctx *c, int r, const char *what)
{
	const char *file = c->s->vm.syms.path;

	if (r == -ENODATA && !file)
		return cmd_error(c, "list: no line information: no symbols loaded (`symbols load FILE`)");
	if (r == -ENODATA)
		return cmd_error(c, "list: no line information: %s has no DWARF (built without -g?)",
				 srcline_short_path(file));
	if (r == -ENOMEM)
		return cmd_error(c, "list: out of memory");
	return cmd_error(c, "list: no line information for %s in %s", what,
			 srcline_short_path(file));
}

/* FILE:LINE: LINE a number after the last ':'. */
static bool file_line_arg(const char *arg, char *file, size_t n, int *line)
{
	const char *colon = strrchr(arg, ':');
	char *end;
	long v;

	if (!colon || colon == arg || !isdigit((unsigned char)colon[1]))
		return false;
	v = strtol(colon + 1, &end, 10);
	if (*end || v <= 0 || v > 10000000 || (size_t)(colon - arg) >= n)
		return false;
	snprintf(file, n, "%.*s", (int)(colon - arg), arg);
	*line = (int)v;
	return true;
}

/* Where the current vCPU stands (H->valid false without one). */
static void current_here(struct cmd_ctx *c, struct cmd_here *h)
{
	struct vm *vm = &c->s->vm;
	struct kvm_regs r;

	*h = (struct cmd_here){ .cpu = c->cs->cur_cpu };
	if (h->cpu >= vm->ncpus)
		return;
	cmd_pause_brief(c);
	h->valid = vm_get_regs(vm, h->cpu, &r) == 0;
	h->pc = r.rip;
	h->unparks = vm_vcpu_unparks(vm, h->cpu);
	cmd_resume_brief(c);
}

/* A listing: LIST_LINES lines of FILE from FIRST, the pc's line marked. */
struct listing {
	char *file;       /* absolute, as the DWARF names it (a copy: the listing outlives it) */
	int first;
	int line;         /* the line asked for (the error names it) */
	int pc_line;      /* 0: the pc is not in FILE */
	struct src_text text;
};

static int list_check(struct cmd_ctx *c)
{
	char file[1024];
	int line;

	if (!c->argc || file_line_arg(c->argv[0], file, sizeof(file), &line))
		return CMD_OK;
	/* A name may be one only the DWARF knows (inlined everywhere): a check reads no DWARF. */
	if (c->argv[0][0] == '$' || strchr(c->argv[0], '+') || isdigit((unsigned char)c->argv[0][0])) {
		uint64_t addr;

		return arg_addr(c, c->argv[0], &addr) ? CMD_ERR : CMD_OK;
	}
	if (!isalpha((unsigned char)c->argv[0][0]) && c->argv[0][0] != '_' && c->argv[0][0] != '.')
		return cmd_error(c, "list: '%s' is not a symbol, an address or FILE:LINE", c->argv[0]);
	return CMD_OK;
}

/* Where to list, from the argument (or the pc, or the last listing): L's file, first, line. */
static int list_where(struct cmd_ctx *c, bool have_pc, uint64_t pc, bool go_on, struct listing *l)
{
	struct symtab *st = &c->s->vm.syms;
	const char *arg = c->argc ? c->argv[0] : NULL;
	struct src_loc loc;
	char file[1024], what[160];
	uint64_t addr;
	int line, r;

	if (!arg && go_on) {
		l->file = strdup(c->cs->list_file);
		l->first = l->line = c->cs->list_next;
		return l->file ? CMD_OK : cmd_error(c, "list: out of memory");
	}
	if (!arg) {
		if (!have_pc)
			return cmd_error(c, "list: no vCPU pc to list around "
					    "(give SYMBOL, ADDR or FILE:LINE)");
		addr = pc;
		symtab_format(st, addr, what, sizeof(what));
		r = srcline_addr(st, addr, &loc);
	} else if (file_line_arg(arg, file, sizeof(file), &line)) {
		r = srcline_file_line(st, file, line, &loc, NULL);
		if (r == -ENOENT || r == -ENODATA) {
			/* Not a file the DWARF names: one on disk is listed all the same. */
			if (access(file, R_OK) == 0)
				loc = (struct src_loc){ .file = file, .line = line, .func = "" };
			else if (r == -ENODATA)
				return no_line(c, r, arg);
			else
				return cmd_error(c, "list: no source file '%s' in the DWARF of %s", file,
						 srcline_short_path(st->path));
			r = 0;
		}
		snprintf(what, sizeof(what), "%s", arg);
	} else if (arg[0] != '$' && !strchr(arg, '+') && !parse_number(arg, &addr)) {
		/* A function: around the line with its name. */
		r = srcline_func(st, arg, &loc, &addr);
		if (r == -ENOENT && symtab_lookup_name(st, arg, &addr))
			return cmd_error(c, "list: no function '%s' in the symbols or the DWARF", arg);
		snprintf(what, sizeof(what), "%s", arg);
	} else {
		if (arg_addr(c, arg, &addr))
			return CMD_ERR;
		symtab_format(st, addr, what, sizeof(what));
		r = srcline_addr(st, addr, &loc);
	}
	if (r)
		return no_line(c, r, what);
	l->file = strdup(loc.file);
	l->line = loc.line;
	l->first = loc.line > LIST_LINES / 2 ? loc.line - LIST_LINES / 2 : 1;
	return l->file ? CMD_OK : cmd_error(c, "list: out of memory");
}

static void list_print(struct cmd_ctx *c, const struct listing *l)
{
	const struct src_text *t = &l->text;
	int last = t->first + t->n - 1;

	if (c->json) {
		jw_obj(c->out, NULL);
		jw_str(c->out, "file", srcline_short_path(l->file));
		jw_str(c->out, "fullname", l->file);
		jw_i64(c->out, "first", t->first);
		jw_i64(c->out, "last", last);
		jw_i64(c->out, "lines_in_file", t->total);
		jw_i64(c->out, "pc_line", l->pc_line);
		jw_arr(c->out, "lines");
		for (int i = 0; i < t->n; i++) {
			jw_obj(c->out, NULL);
			jw_i64(c->out, "line", t->first + i);
			jw_str(c->out, "text", t->text[i]);
			jw_bool(c->out, "at_pc", t->first + i == l->pc_line);
			jw_end(c->out);
		}
		jw_end(c->out);
		jw_end(c->out);
		return;
	}
	OUT("%s:%d-%d\n", srcline_short_path(l->file), t->first, last);
	for (int i = 0; i < t->n; i++)
		OUT("%s%d\t%s\n", t->first + i == l->pc_line ? "=> " : "   ", t->first + i, t->text[i]);
}

int cmd_list(struct cmd_ctx *c)
{
	struct cmd_state *cs = c->cs;
	struct listing l = { 0 };
	struct cmd_here here;
	struct src_loc at;
	bool go_on;
	int r;

	if (c->check)
		return list_check(c);
	current_here(c, &here);
	go_on = cs->list_file && (!here.valid || cmd_here_same(&cs->list_here, &here));
	if (list_where(c, here.valid, here.pc, go_on, &l))
		return CMD_ERR;
	r = srcline_read(l.file, l.first, LIST_LINES, &l.text);
	if (r == -ENOENT)
		cmd_error(c, "list: source file %s not found (line %d)", srcline_short_path(l.file),
			  l.line);
	else if (r)
		cmd_error(c, "list: cannot read %s: %s", srcline_short_path(l.file), strerror(-r));
	else if (l.text.n == 0)
		cmd_error(c, "list: line %d is past the end of %s (%d lines)", l.first,
			  srcline_short_path(l.file), l.text.total);
	if (r || l.text.n == 0) {
		free(l.file);
		return CMD_ERR;
	}
	if (here.valid) {
		cmd_src_lookup(c->s, here.pc, false, &at);
		if (at.file && strcmp(at.file, l.file) == 0)
			l.pc_line = at.line;
	}
	list_print(c, &l);
	free(cs->list_file);
	cs->list_file = l.file;
	cs->list_next = l.first + l.text.n;
	cs->list_here = here;
	src_text_free(&l.text);
	return CMD_OK;
}
