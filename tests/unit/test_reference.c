/* The reference (man page, README parts) printed from the option and command tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>

#include <cmocka.h>

#include "cli/cmd_priv.h"
#include "cli/options.h"
#include "cli/reference.h"

static char text[256 << 10];

/* Options --help shows (the others are hidden). */
static size_t visible_options(void)
{
	size_t n = 0;

	for (size_t i = 0; i < options_count; i++)
		n += options_table[i].help != NULL;
	return n;
}

static const char *print(const char *format)
{
	FILE *f = fmemopen(text, sizeof(text), "w");

	assert_int_equal(reference_print(format, "9.9", f), 0);
	assert_int_equal(fclose(f), 0);
	assert_true(strlen(text) < sizeof(text) - 1); /* not cut short */
	return text;
}

/* Each line of TEXT that starts with PREFIX and holds WANT. */
static bool has_line(const char *prefix, const char *want)
{
	for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		const char *end = strchr(l, '\n');
		char line[4096];

		snprintf(line, sizeof(line), "%.*s", end ? (int)(end - l) : (int)strlen(l), l);
		if (!strncmp(line, prefix, strlen(prefix)) && strstr(line, want))
			return true;
	}
	return false;
}

static void man_options_and_exits(void **state)
{
	print("man");
	assert_true(has_line(".TH VMDBG 1", "vmdbg 9.9"));
	for (size_t i = 0; i < options_count; i++) {
		const struct opt_def *d = &options_table[i];
		char want[128] = "\\fB\\-\\-";
		size_t k = strlen(want);

		for (const char *p = d->name; *p && k + 3 < sizeof(want); p++) {
			if (*p == '-')
				want[k++] = '\\';
			want[k++] = *p;
		}
		want[k] = 0;
		/* every visible option is a tag; the hidden one is nowhere */
		assert_int_equal(has_line("\\fB", want), d->help != NULL);
	}
	for (int i = 0; options_exits[i].status >= 0; i++) {
		char tag[16];

		snprintf(tag, sizeof(tag), ".B %d", options_exits[i].status);
		assert_true(has_line(tag, ""));
	}
	assert_non_null(strstr(text, "\n.SH EXIT STATUS\n"));
}

/* roff escapes: no raw UTF-8 (groff without preconv would warn), no stray requests. */
static void man_escapes(void **state)
{
	print("man");
	for (const char *p = text; *p; p++)
		assert_true((unsigned char)*p < 0x80);
	assert_non_null(strstr(text, "3\\[u2013]4")); /* --mem's "3–4 GiB" */
	assert_non_null(strstr(text, "\\fB/dev/kvm\\fR"));    /* `code` in bold */
	assert_non_null(strstr(text, "\\fBstep\\ 0\\ 10\\fR")); /* one unbreakable word */
	/* a line of text never starts with . or ' unless it is a request or a comment */
	for (const char *l = text; *l; l = strchr(l, '\n') + 1) {
		if (*l == '.' || *l == '\'')
			assert_true(!strncmp(l, ".\\\"", 3) || !strncmp(l, ".br\n", 4) ||
				    (l[1] >= 'A' && l[1] <= 'Z'));
		if (!strchr(l, '\n'))
			break;
	}
}

/* Every command of every group, with its syntax, in both formats; `help` last. */
static void commands_both_formats(void **state)
{
	const char *title;
	const struct cmd_def *defs;
	int n;
	size_t g, total = 0;

	for (g = 0; cmd_group(g, &title, &defs, &n); g++) {
		char want[512];

		print("commands.md");
		snprintf(want, sizeof(want), "\n### %s\n", title);
		assert_non_null(strstr(text, want));
		for (int i = 0; i < n; i++) {
			snprintf(want, sizeof(want), "\n- `%s`: ", defs[i].syntax);
			assert_non_null(strstr(text, want));
		}
		print("man");
		snprintf(want, sizeof(want), "\n.SS %s\n", title);
		assert_non_null(strstr(text, want));
		total += (size_t)n;
	}
	assert_string_equal(defs[0].name, "help");
	assert_true(total > 50);
	print("man");
	n = 0;
	for (const char *p = text; (p = strstr(p, "\n.TP\n")); p++)
		n++;
	assert_int_equal(n, (int)(total + visible_options()) + 4); /* commands, options, exits */
}

/* Markdown: a | in a table cell (even in code) is escaped, the rest is left readable. */
static void markdown_escapes(void **state)
{
	size_t rows = 0;

	print("options.md");
	assert_non_null(strstr(text, "`name: yes\\|no (what happened)`"));
	assert_non_null(strstr(text, "| `-v`, `--verbose` | "));
	for (const char *p = text; (p = strstr(p, "\n| `")); p++)
		rows++;
	assert_int_equal(rows, visible_options());
	print("commands.md");
	assert_non_null(strstr(text, "(\"\\n\", \"\\x01\")")); /* a backslash before a letter stays */
	assert_non_null(strstr(text, "OP one of == != < <= > >="));
	print("exits.md");
	for (int i = 0; options_exits[i].status >= 0; i++) {
		char row[16];

		snprintf(row, sizeof(row), "\n| %d | ", options_exits[i].status & 0xff);
		assert_non_null(strstr(text, row));
	}
}

static void unknown_format(void **state)
{
	assert_int_equal(reference_print("pdf", "9.9", stdout), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(man_options_and_exits), cmocka_unit_test(man_escapes),
		cmocka_unit_test(commands_both_formats), cmocka_unit_test(markdown_escapes),
		cmocka_unit_test(unknown_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
