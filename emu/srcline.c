#include "srcline.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A DWARF file name joined to its comp_dir (resolve). */
struct sl_path {
	const char *raw, *dir; /* libdw's strings: the same pair gives the same path */
	char *full;
};

struct srcline {
	int fd;
	Dwarf *dw;
	int err;       /* the answer to every question once opening failed */
	bool aranges;  /* .debug_aranges maps addresses to units; else the units' own ranges */
	struct sl_path *paths;
	size_t npaths, cap;
};

void srcline_close(struct srcline *sl)
{
	if (!sl)
		return;
	if (sl->dw)
		dwarf_end(sl->dw);
	if (sl->fd >= 0)
		close(sl->fd);
	for (size_t i = 0; i < sl->npaths; i++)
		free(sl->paths[i].full);
	free(sl->paths);
	free(sl);
}

bool srcline_tried(const struct symtab *st)
{
	return st->src != NULL;
}

/* Open the symbols' file on the first question; a failure is remembered, never retried. */
static int sl_get(struct symtab *st, struct srcline **out)
{
	struct srcline *sl = st->src;

	if (!sl) {
		Dwarf_Aranges *ar;
		size_t nar = 0;

		if (!st->path)
			return -ENODATA;
		sl = calloc(1, sizeof(*sl));
		if (!sl)
			return -ENOMEM;
		st->src = sl;
		sl->fd = open(st->path, O_RDONLY | O_CLOEXEC);
		if (sl->fd >= 0)
			sl->dw = dwarf_begin(sl->fd, DWARF_C_READ);
		if (!sl->dw) {
			/* Not an ELF (a System.map), no .debug_info, or gone since the symbols loaded. */
			sl->err = -ENODATA;
		} else {
			sl->aranges = dwarf_getaranges(sl->dw, &ar, &nar) == 0 && nar > 0;
		}
	}
	*out = sl;
	return sl->err;
}

/* Make an absolute path plain: no "//", "/./" or "dir/../" (text only: no symlinks followed). */
static void normalize(char *p)
{
	size_t len = strlen(p), o = 0;
	char *in = strdup(p), *c, *save = NULL;

	if (p[0] != '/' || !in)
		goto out;
	for (c = strtok_r(in, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (!strcmp(c, "."))
			continue;
		if (!strcmp(c, "..")) {
			/* Back to the '/' that starts the last component kept. */
			if (o > 0)
				o--;
			while (o > 0 && p[o] != '/')
				o--;
			continue;
		}
		o += snprintf(p + o, len + 1 - o, "/%s", c);
	}
	if (o == 0)
		p[o++] = '/';
	p[o] = '\0';
out:
	free(in);
}

/* RAW (a DWARF file name) joined to DIR (its unit's comp_dir) when relative, into BUF. */
static bool join(char *buf, size_t n, const char *raw, const char *dir)
{
	int w = raw[0] == '/' || !dir || !dir[0] ? snprintf(buf, n, "%s", raw)
						 : snprintf(buf, n, "%s/%s", dir, raw);

	if (w < 0 || (size_t)w >= n)
		return false;
	normalize(buf);
	return true;
}

/* join's path, kept for the src_loc strings that point at it (a few per answer). */
static const char *resolve(struct srcline *sl, const char *raw, const char *dir)
{
	char buf[PATH_MAX], *full;

	if (!raw)
		return NULL;
	for (size_t i = 0; i < sl->npaths; i++)
		if (sl->paths[i].raw == raw && sl->paths[i].dir == dir)
			return sl->paths[i].full;
	if (sl->npaths == sl->cap) {
		size_t cap = sl->cap ? sl->cap * 2 : 64;
		struct sl_path *p = realloc(sl->paths, cap * sizeof(*p));

		if (!p)
			return NULL;
		sl->paths = p;
		sl->cap = cap;
	}
	if (!join(buf, sizeof(buf), raw, dir) || !(full = strdup(buf)))
		return NULL;
	sl->paths[sl->npaths++] = (struct sl_path){ raw, dir, full };
	return full;
}

static const char *comp_dir(Dwarf_Die *cu)
{
	Dwarf_Attribute a;

	return dwarf_formstring(dwarf_attr(cu, DW_AT_comp_dir, &a));
}

/* The next compilation unit after *OFF (0 to start). */
static bool next_cu(Dwarf *dw, Dwarf_Off *off, Dwarf_Die *cu)
{
	Dwarf_Off next;
	size_t hsize;

	while (dwarf_nextcu(dw, *off, &next, &hsize, NULL, NULL, NULL) == 0) {
		Dwarf_Off at = *off + hsize;

		*off = next;
		if (dwarf_offdie(dw, at, cu))
			return true;
	}
	return false;
}

/* The unit whose code holds link-time address A. */
static int cu_of(struct srcline *sl, Dwarf_Addr a, Dwarf_Die *cu)
{
	Dwarf_Off off = 0;

	if (sl->aranges && dwarf_addrdie(sl->dw, a, cu))
		return 0;
	/* Without .debug_aranges (clang does not write it), or a unit it leaves out: each
	 * unit's own DW_AT_ranges. */
	while (next_cu(sl->dw, &off, cu))
		if (dwarf_haspc(cu, a) > 0)
			return 0;
	return -ENOENT;
}

/* File index IDX of the unit CU, joined to its comp_dir. */
static const char *cu_file(struct srcline *sl, Dwarf_Die *cu, Dwarf_Word idx)
{
	Dwarf_Files *files;
	size_t n;

	if (dwarf_getsrcfiles(cu, &files, &n) || idx >= n)
		return NULL;
	return resolve(sl, dwarf_filesrc(files, idx, NULL, NULL), comp_dir(cu));
}

/* Where DIE is declared: its file (through its own unit's comp_dir) and line. */
static int decl_of(struct srcline *sl, Dwarf_Die *die, struct src_loc *loc)
{
	Dwarf_Die cu;

	if (!dwarf_diecu(die, &cu, NULL, NULL) || dwarf_decl_line(die, &loc->line) ||
	    loc->line <= 0)
		return -ENOENT;
	loc->file = resolve(sl, dwarf_decl_file(die), comp_dir(&cu));
	return loc->file ? 0 : -ENOENT;
}

int srcline_addr(struct symtab *st, uint64_t addr, struct src_loc *loc)
{
	Dwarf_Addr a = addr - (uint64_t)st->slide;
	struct srcline *sl;
	Dwarf_Die cu, *scopes = NULL;
	Dwarf_Line *l;
	int r = sl_get(st, &sl), n;

	*loc = (struct src_loc){ .func = "" };
	if (r)
		return r;
	if (cu_of(sl, a, &cu) || !(l = dwarf_getsrc_die(&cu, a)) || dwarf_lineno(l, &loc->line) ||
	    loc->line <= 0)
		return -ENOENT;
	loc->file = resolve(sl, dwarf_linesrc(l, NULL, NULL), comp_dir(&cu));
	if (!loc->file)
		return -ENOENT;
	/* The innermost function: an inlined body's own name, and where it was inlined. */
	n = dwarf_getscopes(&cu, a, &scopes);
	for (int i = 0; i < n; i++) {
		int tag = dwarf_tag(&scopes[i]);
		const char *name;

		if (tag != DW_TAG_subprogram && tag != DW_TAG_inlined_subroutine)
			continue;
		name = dwarf_diename(&scopes[i]);
		if (name)
			loc->func = name;
		if (tag == DW_TAG_inlined_subroutine) {
			Dwarf_Attribute at;
			Dwarf_Word file, line;

			loc->inlined = true;
			if (dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_file, &at), &file) == 0 &&
			    dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_line, &at), &line) == 0) {
				loc->call_file = cu_file(sl, &cu, file);
				loc->call_line = (int)line;
			}
		}
		break;
	}
	free(scopes);
	return 0;
}

/* dwarf_getfuncs's search for a function by name, at a pc or anywhere. */
struct func_match {
	const char *name;
	size_t len;     /* "foo.isra.0" is "foo" to the DWARF */
	bool by_pc;     /* only a function whose code holds PC */
	bool any_name;  /* by_pc: whatever its name (a second symbol at the same code) */
	Dwarf_Addr pc;
	Dwarf_Die die;  /* the best match: with an address when one has it */
	int found;      /* 0 none, 1 only declared (inlined everywhere), 2 with an address */
};

static int func_cb(Dwarf_Die *die, void *arg)
{
	struct func_match *m = arg;
	const char *n = dwarf_diename(die);
	Dwarf_Addr pc;
	int line;

	if (!m->any_name && (!n || strncmp(n, m->name, m->len) || n[m->len]))
		return DWARF_CB_OK;
	if (m->by_pc) {
		if (dwarf_haspc(die, m->pc) <= 0)
			return DWARF_CB_OK;
		m->die = *die;
		m->found = 2;
		return DWARF_CB_ABORT;
	}
	if (dwarf_decl_line(die, &line))
		return DWARF_CB_OK;
	if (dwarf_entrypc(die, &pc) == 0) {
		m->die = *die;
		m->found = 2;
		return DWARF_CB_ABORT;
	}
	if (!m->found) {
		m->die = *die;
		m->found = 1;
	}
	return DWARF_CB_OK;
}

int srcline_func(struct symtab *st, const char *name, struct src_loc *loc, uint64_t *addr)
{
	struct func_match m = { .name = name, .len = strcspn(name, ".") };
	struct srcline *sl;
	uint64_t at = 0;
	Dwarf_Addr pc;
	Dwarf_Die cu;
	int r = sl_get(st, &sl);

	*loc = (struct src_loc){ .func = "" };
	if (addr)
		*addr = 0;
	if (r)
		return r;
	if (symtab_lookup_name(st, name, &at) == 0) {
		/* The symbol's code: its unit's function there, by name, else any function there. */
		m.by_pc = true;
		m.pc = at - (uint64_t)st->slide;
		if (cu_of(sl, m.pc, &cu) == 0) {
			dwarf_getfuncs(&cu, func_cb, &m, 0);
			if (!m.found) {
				m.any_name = true;
				dwarf_getfuncs(&cu, func_cb, &m, 0);
			}
		}
		if (!m.found || decl_of(sl, &m.die, loc)) {
			/* An assembly function: the line its code starts at. */
			r = srcline_addr(st, at, loc);
			if (r)
				return r;
		}
		loc->func = m.found ? dwarf_diename(&m.die) : NULL;
		if (!loc->func)
			loc->func = name;
		if (addr)
			*addr = at;
		return 0;
	}
	for (Dwarf_Off off = 0; m.found < 2 && next_cu(sl->dw, &off, &cu);)
		dwarf_getfuncs(&cu, func_cb, &m, 0);
	if (!m.found || decl_of(sl, &m.die, loc))
		return -ENOENT;
	loc->func = dwarf_diename(&m.die);
	if (addr && m.found == 2 && dwarf_entrypc(&m.die, &pc) == 0)
		*addr = pc + (uint64_t)st->slide;
	return 0;
}

/* FULL is the file the user named: the same path, or it ends in "/" + NAME. */
static bool file_matches(const char *full, const char *name)
{
	size_t fl = strlen(full), nl = strlen(name);

	if (name[0] == '/')
		return strcmp(full, name) == 0;
	return fl > nl && full[fl - nl - 1] == '/' && strcmp(full + fl - nl, name) == 0;
}

int srcline_file_line(struct symtab *st, const char *file, int line, struct src_loc *loc,
		      uint64_t *addr)
{
	struct srcline *sl;
	char want[PATH_MAX] = "", buf[PATH_MAX];
	const char *want_raw = NULL, *want_dir = NULL;
	Dwarf_Addr best = 0;
	int best_line = 0;
	Dwarf_Die cu;
	int r = sl_get(st, &sl);

	*loc = (struct src_loc){ .func = "" };
	if (addr)
		*addr = 0;
	if (r)
		return r;
	while (file[0] == '.' && file[1] == '/')
		file += 2;
	for (Dwarf_Off off = 0; next_cu(sl->dw, &off, &cu);) {
		const char *dir = comp_dir(&cu), *raw[8];
		Dwarf_Files *files;
		Dwarf_Lines *lines;
		size_t nf, nl, nraw = 0;

		if (dwarf_getsrcfiles(&cu, &files, &nf))
			continue;
		/* This unit's names for the file (the first match fixes which file it is). */
		for (size_t i = 0; i < nf && nraw < 8; i++) {
			const char *name = dwarf_filesrc(files, i, NULL, NULL);

			if (!name || !join(buf, sizeof(buf), name, dir) ||
			    !(want[0] ? strcmp(buf, want) == 0 : file_matches(buf, file)))
				continue;
			if (!want[0]) {
				snprintf(want, sizeof(want), "%s", buf);
				want_raw = name;
				want_dir = dir;
			}
			raw[nraw++] = name;
		}
		if (!addr && want[0])
			break;
		if (!nraw || dwarf_getsrclines(&cu, &lines, &nl))
			continue;
		/* LINE's lowest address, else the nearest line after it with code. */
		for (size_t i = 0; i < nl; i++) {
			Dwarf_Line *l = dwarf_onesrcline(lines, i);
			const char *name;
			Dwarf_Addr a;
			bool stmt = false, end = false, mine = false;
			int no;

			if (!l || dwarf_lineno(l, &no) || no < line || dwarf_lineaddr(l, &a) ||
			    dwarf_linebeginstatement(l, &stmt) || !stmt ||
			    dwarf_lineendsequence(l, &end) || end ||
			    !(name = dwarf_linesrc(l, NULL, NULL)))
				continue;
			for (size_t k = 0; k < nraw && !mine; k++)
				mine = strcmp(name, raw[k]) == 0;
			if (mine && (!best_line || no < best_line || (no == best_line && a < best))) {
				best_line = no;
				best = a;
			}
		}
	}
	if (!want[0])
		return -ENOENT;
	loc->file = resolve(sl, want_raw, want_dir);
	if (!loc->file)
		return -ENOMEM;
	loc->line = line;
	if (addr && best_line) {
		loc->line = best_line;
		*addr = best + (uint64_t)st->slide;
	}
	return 0;
}

const char *srcline_short_path(const char *path)
{
	char cwd[PATH_MAX];
	size_t n;

	if (!path || path[0] != '/' || !getcwd(cwd, sizeof(cwd)))
		return path;
	n = strlen(cwd);
	if (n == 1)
		return path[1] ? path + 1 : path;
	if (strncmp(path, cwd, n) == 0 && path[n] == '/' && path[n + 1])
		return path + n + 1;
	return path;
}

int srcline_read(const char *path, int first, int count, struct src_text *t)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int no = 0, r = 0;
	FILE *f = fopen(path, "re");

	*t = (struct src_text){ .first = first };
	if (!f)
		return -errno;
	if (count > SRC_TEXT_MAX)
		count = SRC_TEXT_MAX;
	while ((len = getline(&line, &cap, f)) >= 0) {
		no++;
		if (no < first || no >= first + count)
			continue;
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		t->text[t->n] = strdup(line);
		if (!t->text[t->n]) {
			r = -ENOMEM;
			break;
		}
		t->n++;
	}
	if (!r && ferror(f))
		r = errno ? -errno : -EIO;
	t->total = no;
	free(line);
	fclose(f);
	if (r)
		src_text_free(t);
	return r;
}

void src_text_free(struct src_text *t)
{
	for (int i = 0; i < t->n; i++)
		free(t->text[i]);
	t->n = 0;
}
