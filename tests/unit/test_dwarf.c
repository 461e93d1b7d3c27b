/*
 * Source lines from DWARF (emu/srcline.c) and the REPL's use of them: a small program
 * compiled here with the host's gcc -g (an inlined header function, a function inlined
 * everywhere, a path with "..") is looked up address by address against addr2line's
 * answers; then laziness, an ELF without DWARF, a KASLR slide, `sym` and `list`.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/cmd.h"
#include "cli/cmd_priv.h"
#include "cli/options.h"
#include "cli/script.h"
#include "cli/session.h"
#include "emu/srcline.h"
#include "emu/symbols.h"
#include "cmd_fixture.h"
#include "scratch.h"

static const char util_h[] = "/* test_dwarf: an inlined helper in a header. */\n"
			     "extern int counter;\n"
			     "\n"
			     "static inline __attribute__((always_inline)) int bump(int v)\n"
			     "{\n"
			     "\tcounter += v;\n"
			     "\treturn v + 1;\n"
			     "}\n";

/* Line numbers the checks below name: work's at 11, its loop body at 16, twice at 6. */
static const char prog_c[] = "/* test_dwarf's program: lines the test knows. */\n"
			     "#include \"util.h\"\n"
			     "\n"
			     "int counter;\n"
			     "\n"
			     "static int twice(int x)\n"
			     "{\n"
			     "\treturn x * 2;\n"
			     "}\n"
			     "\n"
			     "__attribute__((noipa)) int work(int n)\n"
			     "{\n"
			     "\tint s = 0;\n"
			     "\n"
			     "\tfor (int i = 0; i < n; i++)\n"
			     "\t\ts += bump(i);\n"
			     "\treturn twice(s);\n"
			     "}\n"
			     "\n"
			     "void _start(void)\n"
			     "{\n"
			     "\tcounter = work(3);\n"
			     "\tfor (;;)\n"
			     "\t\t;\n"
			     "}\n";

#define WORK_LINE 11
#define LOOP_LINE 16
#define TWICE_LINE 6
#define PROG_LINES 25

static char prog[PATH_MAX], stripped[PATH_MAX], noaranges[PATH_MAX], map[PATH_MAX], src[PATH_MAX];

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* The program, built once: relative source names (the unit's comp_dir applies), via "..". */
static int build(void **state)
{
	if (scratch_setup(state))
		return -1;
	if (sh("mkdir -p %s/src", scratch_dir))
		return -1;
	scratch_file("src/util.h", util_h, strlen(util_h));
	scratch_file("src/prog.c", prog_c, strlen(prog_c));
	snprintf(prog, sizeof(prog), "%s/prog.elf", scratch_dir);
	snprintf(stripped, sizeof(stripped), "%s/stripped.elf", scratch_dir);
	snprintf(noaranges, sizeof(noaranges), "%s/noaranges.elf", scratch_dir);
	snprintf(map, sizeof(map), "%s/System.map", scratch_dir);
	snprintf(src, sizeof(src), "%s/src/prog.c", scratch_dir);
	if (sh("cd %s && gcc -g -O1 -fno-pie -no-pie -nostdlib -static -fcf-protection=none "
	       "-fno-asynchronous-unwind-tables -o prog.elf src/../src/prog.c",
	       scratch_dir) ||
	    sh("objcopy --strip-debug %s %s", prog, stripped) ||
	    sh("objcopy --remove-section=.debug_aranges %s %s", prog, noaranges) ||
	    sh("nm %s > %s", prog, map))
		return -1;
	return 0;
}

/* One address as addr2line -f -i answers it: the innermost frame first. */
struct a2l {
	uint64_t addr;
	int levels;
	char func[2][128];
	char file[2][PATH_MAX]; /* realpath: addr2line keeps the "..", srcline does not */
	int line[2];
};

/* "/x/y.c:16", "/x/y.c:16 (discriminator 2)", "??:0", "??:?" */
static void a2l_where(const char *s, char *file, size_t n, int *line)
{
	const char *colon = strrchr(s, ':');
	char raw[PATH_MAX];

	*line = 0;
	file[0] = '\0';
	if (!colon || s[0] == '?')
		return;
	snprintf(raw, sizeof(raw), "%.*s", (int)(colon - s), s);
	*line = atoi(colon + 1);
	if (!realpath(raw, file))
		snprintf(file, n, "%s", raw);
}

static size_t addr2line(const char *elf, const uint64_t *addrs, size_t n, struct a2l *out)
{
	const char *in = scratch_path("addrs");
	FILE *f = fopen(in, "w");
	char cmd[PATH_MAX * 2 + 64], line[PATH_MAX + 64];
	size_t got = 0;
	int field = 0;

	assert_non_null(f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "0x%llx\n", (unsigned long long)addrs[i]);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "addr2line -a -f -i -e %s < %s", elf, in);
	f = popen(cmd, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		struct a2l *a = got ? &out[got - 1] : NULL;

		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "0x", 2) && field % 2 == 0) {
			assert_true(got < n);
			a = &out[got++];
			memset(a, 0, sizeof(*a));
			a->addr = strtoull(line, NULL, 16);
			field = 0;
		} else if (a && field % 2 == 0) {
			if (field / 2 < 2)
				snprintf(a->func[field / 2], sizeof(a->func[0]), "%.127s", line);
			field++;
		} else if (a) {
			if (field / 2 < 2) {
				a2l_where(line, a->file[field / 2], sizeof(a->file[0]), &a->line[field / 2]);
				a->levels++;
			}
			field++;
		}
	}
	assert_int_equal(pclose(f), 0);
	return got;
}

/*
 * srcline's answer for every address is addr2line's, inlined frames included. Where the
 * DWARF names no function (assembly), addr2line takes the ELF symbol's: srcline says "";
 * with ALL_NAMED every address must have its function.
 */
static void expect_addr2line(struct symtab *st, const uint64_t *addrs, size_t n, bool all_named)
{
	struct a2l *want = calloc(n, sizeof(*want));
	size_t got, checked = 0;

	assert_non_null(want);
	got = addr2line(st->path, addrs, n, want);
	assert_int_equal(got, n);
	for (size_t i = 0; i < n; i++) {
		struct a2l *w = &want[i];
		struct src_loc loc;
		int r = srcline_addr(st, w->addr + (uint64_t)st->slide, &loc);

		if (!w->line[0])
			continue; /* addr2line does not know it either */
		if (r)
			fail_msg("0x%llx: srcline %d, addr2line %s:%d", (unsigned long long)w->addr, r,
				 w->file[0], w->line[0]);
		if (strcmp(loc.file, w->file[0]) || loc.line != w->line[0] ||
		    (loc.func[0] || all_named ? strcmp(loc.func, w->func[0]) != 0 : false))
			fail_msg("0x%llx: srcline %s %s:%d, addr2line %s %s:%d",
				 (unsigned long long)w->addr, loc.func, loc.file, loc.line, w->func[0],
				 w->file[0], w->line[0]);
		if (w->levels > 1) {
			if (!loc.inlined || !loc.call_file || strcmp(loc.call_file, w->file[1]) ||
			    loc.call_line != w->line[1])
				fail_msg("0x%llx: %s inlined at %s:%d, srcline says %s at %s:%d",
					 (unsigned long long)w->addr, w->func[0], w->file[1], w->line[1],
					 loc.inlined ? "inlined" : "not inlined",
					 loc.call_file ? loc.call_file : "?", loc.call_line);
		} else {
			assert_false(loc.inlined);
		}
		checked++;
	}
	assert_true(checked > 0);
	free(want);
}

static void load(struct symtab *st, const char *path)
{
	char err[256];

	symtab_init(st);
	if (symtab_load(st, path, err, sizeof(err)) <= 0)
		fail_msg("symtab_load %s: %s", path, err);
}

/* Every address of the program's functions. */
static size_t code_addrs(struct symtab *st, uint64_t *addrs, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < st->nr; i++) {
		const struct symbol *s = &st->syms[i];

		if (s->type != 'T' && s->type != 't')
			continue;
		for (uint64_t a = s->addr; a < s->addr + s->size && n < max; a++)
			addrs[n++] = a;
	}
	return n;
}

static void test_lines_match_addr2line(void **state)
{
	struct symtab st;
	uint64_t addrs[4096];
	struct src_loc loc;
	size_t n;

	load(&st, prog);
	n = code_addrs(&st, addrs, 4096);
	assert_true(n > 10);
	expect_addr2line(&st, addrs, n, true);
	/* The loop's inlined bump: util.h's lines, called from prog.c's loop line. */
	bool inlined = false;

	for (size_t i = 0; i < n; i++) {
		if (srcline_addr(&st, addrs[i], &loc) == 0 && loc.inlined && !strcmp(loc.func, "bump")) {
			assert_non_null(strstr(loc.file, "/src/util.h"));
			assert_int_equal(loc.call_line, LOOP_LINE);
			assert_string_equal(loc.call_file, src);
			inlined = true;
		}
	}
	assert_true(inlined);
	/* Outside every unit: no line. */
	assert_int_equal(srcline_addr(&st, 0x10, &loc), -ENOENT);
	symtab_free(&st);
	/* Without .debug_aranges (as clang builds): the units' own ranges say the same. */
	load(&st, noaranges);
	expect_addr2line(&st, addrs, n, true);
	assert_int_equal(srcline_addr(&st, 0x10, &loc), -ENOENT);
	symtab_free(&st);
}

/* The test guest, when the build has made it: every function's first bytes. */
static void test_test_guest(void **state)
{
	const char *tg = getenv("TEST_GUEST") ? getenv("TEST_GUEST") : "build/test-guest.elf";
	struct symtab st;
	uint64_t addrs[3000];
	size_t n = 0;

	if (access(tg, R_OK)) {
		skip();
		return;
	}
	load(&st, tg);
	for (size_t i = 0; i < st.nr && n + 3 <= 3000; i++) {
		const struct symbol *s = &st.syms[i];

		if (s->type != 'T' && s->type != 't')
			continue;
		addrs[n++] = s->addr;
		if (s->size > 2) {
			addrs[n++] = s->addr + 1;
			addrs[n++] = s->addr + s->size / 2;
		}
	}
	expect_addr2line(&st, addrs, n, false);
	symtab_free(&st);
}

static void test_functions_and_files(void **state)
{
	struct symtab st;
	struct src_loc loc, at;
	uint64_t addr, work;

	load(&st, prog);
	assert_int_equal(symtab_lookup_name(&st, "work", &work), 0);
	/* A function in the symbols: the line with its name, at the symbol's address. */
	assert_int_equal(srcline_func(&st, "work", &loc, &addr), 0);
	assert_int_equal(addr, work);
	assert_string_equal(loc.file, src);
	assert_int_equal(loc.line, WORK_LINE);
	assert_string_equal(loc.func, "work");
	/* One only the DWARF knows: twice was inlined into work, no symbol, no address. */
	assert_int_equal(symtab_lookup_name(&st, "twice", NULL), -ENOENT);
	assert_int_equal(srcline_func(&st, "twice", &loc, &addr), 0);
	assert_int_equal(loc.line, TWICE_LINE);
	assert_string_equal(loc.file, src);
	assert_int_equal(addr, 0);
	assert_int_equal(srcline_func(&st, "nosuch", &loc, &addr), -ENOENT);

	/* FILE:LINE by the file's tail, at a '/' only; the line's code is in work. */
	assert_int_equal(srcline_file_line(&st, "prog.c", LOOP_LINE, &loc, &addr), 0);
	assert_string_equal(loc.file, src);
	assert_int_equal(loc.line, LOOP_LINE);
	assert_true(addr >= work && addr < work + 0x100);
	assert_int_equal(srcline_addr(&st, addr, &at), 0);
	assert_int_equal(at.line == LOOP_LINE || (at.inlined && at.call_line == LOOP_LINE), 1);
	assert_int_equal(srcline_file_line(&st, "src/prog.c", 1, &loc, NULL), 0);
	assert_string_equal(loc.file, src);
	assert_int_equal(srcline_file_line(&st, src, 1, &loc, NULL), 0);
	assert_int_equal(srcline_file_line(&st, "util.h", 6, &loc, &addr), 0);
	assert_non_null(strstr(loc.file, "/src/util.h"));
	assert_true(addr != 0);
	/* A comment line has no code: the next line that has. */
	assert_int_equal(srcline_file_line(&st, "prog.c", 10, &loc, &addr), 0);
	assert_true(loc.line > 10 && addr >= work);
	assert_int_equal(srcline_file_line(&st, "rog.c", 1, &loc, NULL), -ENOENT);
	assert_int_equal(srcline_file_line(&st, "nosuch.c", 1, &loc, NULL), -ENOENT);
	symtab_free(&st);
}

/* Nothing of the DWARF is read until a line is asked; a reload starts over. */
static void test_lazy(void **state)
{
	struct symtab st;
	struct src_loc loc;
	char buf[128];
	uint64_t work;

	load(&st, prog);
	assert_false(srcline_tried(&st));
	assert_int_equal(symtab_lookup_name(&st, "work", &work), 0);
	symtab_format(&st, work + 1, buf, sizeof(buf));
	assert_string_equal(buf, "work+0x1");
	assert_false(srcline_tried(&st));
	assert_int_equal(srcline_addr(&st, work, &loc), 0);
	assert_true(srcline_tried(&st));
	/* Symbols loaded again: their DWARF is a question for later again. */
	assert_true(symtab_load(&st, prog, buf, sizeof(buf)) > 0);
	assert_false(srcline_tried(&st));
	assert_int_equal(srcline_addr(&st, work, &loc), 0);
	assert_true(symtab_load(&st, map, buf, sizeof(buf)) > 0);
	assert_false(srcline_tried(&st));
	symtab_free(&st);
}

/* No DWARF: "no line information" (-ENODATA), every time, from one try. */
static void test_no_debug_info(void **state)
{
	struct symtab st;
	struct src_loc loc;
	uint64_t work, addr;

	load(&st, stripped);
	assert_int_equal(symtab_lookup_name(&st, "work", &work), 0);
	assert_int_equal(srcline_addr(&st, work, &loc), -ENODATA);
	assert_null(loc.file);
	assert_true(srcline_tried(&st));
	assert_int_equal(srcline_addr(&st, work, &loc), -ENODATA);
	assert_int_equal(srcline_func(&st, "work", &loc, &addr), -ENODATA);
	assert_int_equal(srcline_file_line(&st, "prog.c", 1, &loc, &addr), -ENODATA);
	symtab_free(&st);
	/* A System.map is no ELF at all. */
	load(&st, map);
	assert_int_equal(srcline_addr(&st, work, &loc), -ENODATA);
	symtab_free(&st);
	/* No symbols: no file to read. */
	symtab_init(&st);
	assert_int_equal(srcline_addr(&st, work, &loc), -ENODATA);
	symtab_free(&st);
}

/* DWARF addresses are link-time ones: the guest's are those plus the slide. */
static void test_slide(void **state)
{
	const int64_t slide = 0x3a000000;
	struct symtab st;
	struct src_loc plain, slid;
	uint64_t work, addr;
	uint64_t addrs[4096];
	size_t n;

	load(&st, prog);
	assert_int_equal(symtab_lookup_name(&st, "work", &work), 0);
	assert_int_equal(srcline_addr(&st, work + 4, &plain), 0);
	st.slide = slide;
	assert_int_equal(srcline_addr(&st, work + 4 + slide, &slid), 0);
	assert_string_equal(slid.file, plain.file);
	assert_int_equal(slid.line, plain.line);
	assert_int_equal(srcline_addr(&st, work + 4, &slid), -ENOENT);
	assert_int_equal(srcline_func(&st, "work", &slid, &addr), 0);
	assert_int_equal(addr, work + slide);
	assert_int_equal(srcline_file_line(&st, "prog.c", LOOP_LINE, &slid, &addr), 0);
	assert_true(addr >= work + slide && addr < work + slide + 0x100);
	/* expect_addr2line asks addr2line the link-time address and srcline the slid one. */
	st.slide = 0;
	n = code_addrs(&st, addrs, 4096);
	st.slide = slide;
	expect_addr2line(&st, addrs, n, true);
	symtab_free(&st);
}

static void test_read_and_paths(void **state)
{
	struct src_text t;
	char cwd[PATH_MAX], p[PATH_MAX + 16];

	assert_int_equal(srcline_read(src, WORK_LINE, 3, &t), 0);
	assert_int_equal(t.first, WORK_LINE);
	assert_int_equal(t.n, 3);
	assert_int_equal(t.total, PROG_LINES);
	assert_string_equal(t.text[0], "__attribute__((noipa)) int work(int n)");
	assert_string_equal(t.text[2], "\tint s = 0;");
	src_text_free(&t);
	/* The end of the file cuts the listing short. */
	assert_int_equal(srcline_read(src, PROG_LINES - 1, 10, &t), 0);
	assert_int_equal(t.n, 2);
	src_text_free(&t);
	assert_int_equal(srcline_read(src, PROG_LINES + 1, 10, &t), 0);
	assert_int_equal(t.n, 0);
	assert_int_equal(t.total, PROG_LINES);
	assert_int_equal(srcline_read(scratch_path("nosuch.c"), 1, 10, &t), -ENOENT);

	/* Printed relative to the current directory when under it. */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(scratch_dir), 0);
	assert_string_equal(srcline_short_path(src), "src/prog.c");
	assert_string_equal(srcline_short_path("/usr/include/stdio.h"), "/usr/include/stdio.h");
	snprintf(p, sizeof(p), "%s-other/x.c", scratch_dir);
	assert_string_equal(srcline_short_path(p), p);
	assert_int_equal(chdir(cwd), 0);
}

/* --- the REPL ------------------------------------------------------------------------- */

#define RAM (1u << 20)

/* The directory the test started in: paths print relative to the one the sources are under. */
static char start_cwd[PATH_MAX];

static int setup(void **state)
{
	*state = cmd_fixture_new(RAM);
	assert_non_null(getcwd(start_cwd, sizeof(start_cwd)));
	assert_int_equal(chdir(scratch_dir), 0);
	return 0;
}

static int teardown(void **state)
{
	assert_int_equal(chdir(start_cwd), 0);
	cmd_fixture_free(*state);
	return 0;
}

static void test_repl(void **state)
{
	struct cmd_fixture *f = *state;
	char line[PATH_MAX + 64], want[256];
	struct src_loc loc;
	uint64_t work;

	EXPECT("list", CMD_ERR, "list: no vCPU pc to list around (give SYMBOL, ADDR or FILE:LINE)");
	EXPECT("list work", CMD_ERR, "list: no line information: no symbols loaded");
	snprintf(line, sizeof(line), "symbols load %s", prog);
	EXPECT(line, CMD_OK, "symbols from");
	assert_false(srcline_tried(&f->s->vm.syms));
	assert_int_equal(symtab_lookup_name(&f->s->vm.syms, "work", &work), 0);
	assert_int_equal(srcline_addr(&f->s->vm.syms, work, &loc), 0);

	/* sym: the line of the address, relative to the current directory. */
	snprintf(want, sizeof(want), " at src/prog.c:%d\n", loc.line);
	EXPECT("sym work", CMD_OK, want);
	EXPECT("json sym work", CMD_OK, "\"file\":\"src/prog.c\",\"fullname\":\"");
	snprintf(want, sizeof(want), "\"line\":%d,\"function\":\"work\",\"inlined\":false", loc.line);
	EXPECT("json sym work", CMD_OK, want);

	/* list SYMBOL: ten lines around the one naming it; list goes on; then past the end. */
	snprintf(want, sizeof(want), "src/prog.c:%d-%d\n", WORK_LINE - 5, WORK_LINE + 4);
	EXPECT("list work", CMD_OK, want);
	EXPECT("list work", CMD_OK, "   11\t__attribute__((noipa)) int work(int n)\n");
	assert_null(strstr(f->out.buf, "=>")); /* no vCPU: no pc to mark */
	EXPECT("list", CMD_OK, "src/prog.c:16-25\n   16\t\t\ts += bump(i);\n");
	EXPECT("list", CMD_ERR, "list: line 26 is past the end of src/prog.c (25 lines)");
	EXPECT("list twice", CMD_OK, "   6\tstatic int twice(int x)\n");
	EXPECT("list prog.c:3", CMD_OK, "src/prog.c:1-10\n   1\t/* test_dwarf's program");
	EXPECT("list util.h:6", CMD_OK, "src/util.h:1-8\n");
	snprintf(line, sizeof(line), "list 0x%llx", (unsigned long long)work);
	snprintf(want, sizeof(want), "src/prog.c:%d-", loc.line - 5);
	EXPECT(line, CMD_OK, want);
	EXPECT("json list work", CMD_OK, "{\"return\":{\"file\":\"src/prog.c\",\"fullname\":\"");
	EXPECT("json list work", CMD_OK,
	       "{\"line\":11,\"text\":\"__attribute__((noipa)) int work(int n)\",\"at_pc\":false}");
	EXPECT("list nosuch", CMD_ERR, "list: no function 'nosuch' in the symbols or the DWARF");
	EXPECT("list nosuch.c:3", CMD_ERR, "list: no source file 'nosuch.c' in the DWARF of prog.elf");
	EXPECT("list 0x10", CMD_ERR, "list: no line information for 0x10 in prog.elf");
	EXPECT("help list", CMD_OK, "list [SYMBOL|ADDR|FILE:LINE]");

	/* The sources gone (a kernel's tree not on this machine): one line saying so. */
	assert_int_equal(rename("src/prog.c", "src/prog.c.away"), 0);
	snprintf(want, sizeof(want), "list: source file src/prog.c not found (line %d)\n", WORK_LINE);
	EXPECT("list work", CMD_ERR, want);
	assert_int_equal(rename("src/prog.c.away", "src/prog.c"), 0);

	/* An ELF without DWARF: sym has no line, list says why. */
	snprintf(line, sizeof(line), "symbols load %s", stripped);
	EXPECT(line, CMD_OK, "symbols from");
	EXPECT("sym work", CMD_OK, "work (T, size");
	assert_null(strstr(f->out.buf, " at "));
	EXPECT("list work", CMD_ERR,
	       "list: no line information: stripped.elf has no DWARF (built without -g?)\n");
	EXPECT("json sym work", CMD_OK, "\"file\":\"\",\"fullname\":\"\",\"line\":0");
	/* A file on disk is listed all the same. */
	EXPECT("list src/prog.c:11", CMD_OK, "src/prog.c:6-15\n");
	EXPECT("list src/prog.c:11", CMD_OK, "   11\t__attribute__((noipa)) int work(int n)\n");
}

/* A script's check (before the guest starts) takes list's forms and reads no DWARF. */
static void test_script_check(void **state)
{
	static const char good[] = "list\nlist work\nlist twice\nlist prog.c:3\nlist $rip\n"
				   "list work+0x4\nlist 0x401000\n";
	struct options o = { .cpus = 1, .kernel = prog };
	char err[600] = "";
	const char *p = scratch_file("good.vmdbg", good, strlen(good));

	o.check_script = p;
	assert_int_equal(script_check(&o, p, err, sizeof(err)), 7);
	p = scratch_file("bad.vmdbg", "list $nosuch\n", 13);
	o.check_script = p;
	assert_int_equal(script_check(&o, p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "list: unknown register '$nosuch'"));
	p = scratch_file("bad2.vmdbg", "list -3\n", 8);
	o.check_script = p;
	assert_int_equal(script_check(&o, p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "list: '-3' is not a symbol, an address or FILE:LINE"));
	p = scratch_file("bad3.vmdbg", "list a b\n", 9);
	o.check_script = p;
	assert_int_equal(script_check(&o, p, err, sizeof(err)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines_match_addr2line),
		cmocka_unit_test(test_test_guest),
		cmocka_unit_test(test_functions_and_files),
		cmocka_unit_test(test_lazy),
		cmocka_unit_test(test_no_debug_info),
		cmocka_unit_test(test_slide),
		cmocka_unit_test(test_read_and_paths),
		cmocka_unit_test_setup_teardown(test_repl, setup, teardown),
		cmocka_unit_test(test_script_check),
	};

	return cmocka_run_group_tests(tests, build, scratch_teardown);
}
