/*
 * The reference: the man page (build/vmdbg.1) and the README's options table and command
 * reference, printed from options_table, options_exits and the command tables. Their texts
 * are Markdown-lite (`code` in backquotes, nothing else): here they become roff, or
 * Markdown with what Markdown would misread escaped.
 */
#include "reference.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "cmd_priv.h"
#include "options.h"

enum fmt { FMT_MAN, FMT_MD };

#define WRAP 92

/* Text being built into lines of at most WRAP columns (a longer word gets a line of its own). */
struct para {
	FILE *out;
	enum fmt fmt;
	const char *indent; /* before each line after the first (Markdown list items) */
	char line[4096]; /* WRAP columns of words (each at most 9 bytes a column) and one word */
	size_t len, cols;
};

/* A word Markdown would take as a list item, heading or quote at the start of a line. */
static bool md_risky_start(const char *w)
{
	if (strchr("-+*#>=", w[0]))
		return true;
	while (isdigit((unsigned char)*w))
		w++;
	return (*w == '.' || *w == ')') && w[1] == 0;
}

static void para_flush(struct para *p)
{
	if (p->len)
		fprintf(p->out, "%.*s\n", (int)p->len, p->line);
	p->len = p->cols = 0;
}

/* WORD as it appears (COLS: its width when shown) and as written (TEXT, LEN bytes). */
static void para_word(struct para *p, const char *plain, const char *text, size_t len, size_t cols)
{
	bool first_on_line = !p->len;

	if (p->len && p->cols + 1 + cols > WRAP && !(p->fmt == FMT_MD && md_risky_start(plain))) {
		para_flush(p);
		fputs(p->indent, p->out);
		first_on_line = true;
	}
	if (!first_on_line) {
		p->line[p->len++] = ' ';
		p->cols++;
	} else if (p->fmt == FMT_MAN && (text[0] == '.' || text[0] == '\'')) {
		/* A roff line starting with . or ' would be a request. */
		memcpy(p->line + p->len, "\\&", 2);
		p->len += 2;
	}
	memcpy(p->line + p->len, text, len);
	p->len += len;
	p->cols += cols;
}

/*
 * Append the character of S at *I to BUF as FMT writes it, return its length and move *I past
 * it. IN_CODE: inside backquotes; IN_CELL: in a Markdown table cell.
 */
static size_t put_char(enum fmt fmt, const char *s, size_t *i, bool in_code, bool in_cell,
		       char *buf)
{
	unsigned char c = (unsigned char)s[*i];
	bool word_start = *i == 0 || strchr(" (/[\"", s[*i - 1]);

	if (fmt == FMT_MD) {
		bool alnum_around = *i > 0 && isalnum((unsigned char)s[*i - 1]) &&
				    isalnum((unsigned char)s[*i + 1]);

		(*i)++;
		if (c == '|' && in_cell)
			return (size_t)sprintf(buf, "\\|");
		if (in_code)
			return (size_t)sprintf(buf, "%c", c);
		/* Only what Markdown would read as markup: emphasis, escapes, HTML tags. */
		if (c == '*' || (c == '_' && !alnum_around) ||
		    (c == '\\' && ispunct((unsigned char)s[*i])) ||
		    (c == '<' && (isalpha((unsigned char)s[*i]) || strchr("/!?", s[*i]))))
			return (size_t)sprintf(buf, "\\%c", c);
		return (size_t)sprintf(buf, "%c", c);
	}
	if (c >= 0x80) {
		/* UTF-8 to groff's \[uXXXX], which every roff reads whatever the locale. */
		unsigned cp, more = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : 1;

		cp = c & (0x3f >> more);
		(*i)++;
		while (more-- && (s[*i] & 0xc0) == 0x80)
			cp = cp << 6 | (s[(*i)++] & 0x3f);
		return (size_t)sprintf(buf, "\\[u%04X]", cp);
	}
	(*i)++;
	if (c == '\\')
		return (size_t)sprintf(buf, "\\e");
	/* An option's dashes (and any in code) are minus signs in roff, prose hyphens are not. */
	if (c == '-' && (in_code || word_start || s[*i] == '-' || (*i > 1 && s[*i - 2] == '-')))
		return (size_t)sprintf(buf, "\\-");
	return (size_t)sprintf(buf, "%c", c);
}

/*
 * Markdown-lite TEXT into P word by word: `code` becomes bold in roff and stays code in
 * Markdown.
 */
static void para_text(struct para *p, const char *s)
{
	bool in_code = false;
	size_t i = 0;

	while (s[i]) {
		char word[1024], plain[512];
		size_t len = 0, n = 0, cols = 0;

		while (s[i] == ' ' || s[i] == '\n')
			i++;
		if (!s[i])
			break;
		while (s[i] && len + 16 < sizeof(word)) {
			/* A code span is one word (in roff its blanks unbreakable): it stays whole. */
			if ((s[i] == ' ' || s[i] == '\n') && !in_code)
				break;
			if (s[i] == ' ' || s[i] == '\n') {
				len += (size_t)sprintf(word + len, p->fmt == FMT_MAN ? "\\ " : " ");
				cols++;
				i++;
				continue;
			}
			if (s[i] == '`') {
				in_code = !in_code;
				if (n + 1 < sizeof(plain))
					plain[n++] = '`';
				if (p->fmt == FMT_MAN)
					len += (size_t)sprintf(word + len, in_code ? "\\fB" : "\\fR");
				else
					word[len++] = '`';
				cols++;
				i++;
				continue;
			}
			if (n + 1 < sizeof(plain))
				plain[n++] = s[i];
			if (((unsigned char)s[i] & 0xc0) != 0x80)
				cols++;
			len += put_char(p->fmt, s, &i, in_code, false, word + len);
		}
		plain[n] = 0;
		para_word(p, plain, word, len, cols);
	}
}

static void print_text(FILE *out, enum fmt fmt, const char *indent, const char *s)
{
	struct para p = { .out = out, .fmt = fmt, .indent = indent };

	para_text(&p, s);
	para_flush(&p);
}

/* One ASCII character of a syntax line in roff. */
static void put_roff_plain(FILE *out, char c)
{
	if (c == '-')
		fputs("\\-", out);
	else if (c == '\\')
		fputs("\\e", out);
	else
		fputc(c, out);
}

/*
 * A command's syntax or an option in roff: metavariables (FILE, CPU, N) in italics, the
 * words to type in bold, brackets and bars as they are.
 */
static void roff_syntax(FILE *out, const char *s)
{
	while (*s) {
		size_t w = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.,*");
		bool meta = w > 0 && isupper((unsigned char)s[0]);

		for (size_t i = 0; i < w && meta; i++)
			meta = !islower((unsigned char)s[i]);
		if (w) {
			fputs(meta ? "\\fI" : "\\fB", out);
			for (size_t i = 0; i < w; i++)
				put_roff_plain(out, s[i]);
			fputs("\\fR", out);
			s += w;
		} else {
			put_roff_plain(out, *s++);
		}
	}
	fputc('\n', out);
}

/* --- the README's options table -------------------------------------------------------- */

/* Markdown-lite S as one line of a Markdown table cell. */
static void md_cell(FILE *out, const char *s)
{
	bool in_code = false;
	char buf[16];

	for (size_t i = 0; s[i];) {
		if (s[i] == '`') {
			in_code = !in_code;
			fputc(s[i++], out);
			continue;
		}
		fwrite(buf, 1, put_char(FMT_MD, s, &i, in_code, true, buf), out);
	}
}

static void md_options(FILE *out)
{
	fputs("| option | meaning |\n|---|---|\n", out);
	for (size_t i = 0; i < options_count; i++) {
		const struct opt_def *d = &options_table[i];

		if (!d->help)
			continue;
		fputs("| ", out);
		if (d->id < 256)
			fprintf(out, "`-%c%s%s`, ", d->id, d->arg ? " " : "", d->arg ? d->arg : "");
		fprintf(out, "`--%s%s%s` | ", d->name, d->arg ? " " : "", d->arg ? d->arg : "");
		md_cell(out, d->doc);
		fputs(" |\n", out);
	}
}

/* The README's "Exit status" table, from the rows the man page's EXIT STATUS uses. */
static void md_exits(FILE *out)
{
	fputs("| status | meaning |\n|---|---|\n", out);
	for (int i = 0; options_exits[i].status >= 0; i++) {
		fprintf(out, "| %d | ", options_exits[i].status);
		md_cell(out, options_exits[i].doc);
		fputs(" |\n", out);
	}
}

/* --- the command reference -------------------------------------------------------------- */

/* "cont|c|continue" as "`cont`, `c`, `continue`". */
static void aliases_md(const char *aliases, char *buf, size_t n)
{
	size_t off = 0;

	buf[0] = 0;
	while (*aliases && off < n) {
		size_t w = strcspn(aliases, "|");

		off += (size_t)snprintf(buf + off, n - off, "%s`%.*s`", off ? ", " : "", (int)w, aliases);
		aliases += w + (aliases[w] == '|');
	}
}

static const char commands_intro[] =
	"The REPL (`--repl`), scripts (`--script`, and `source` in a script) and gdb's `monitor` "
	"take the same commands. `help` lists them and `help COMMAND` shows one; `json COMMAND`, "
	"or `--json`, prints a command's result as one JSON object.";

static void commands(FILE *out, enum fmt fmt)
{
	const char *title;
	const struct cmd_def *defs;
	int n;

	print_text(out, fmt, "", commands_intro);
	fputs(fmt == FMT_MAN ? ".PP\n" : "\n", out);
	print_text(out, fmt, "", cmd_help_notes);
	for (size_t g = 0; cmd_group(g, &title, &defs, &n); g++) {
		if (fmt == FMT_MAN)
			fprintf(out, ".SS %s\n", title);
		else
			fprintf(out, "\n### %s\n\n", title);
		for (const struct cmd_def *d = defs; d < defs + n; d++) {
			size_t sl = strlen(d->summary);
			char text[4096], al[256];
			int off = 0;

			/* Markdown: a list item that starts with the syntax. */
			if (fmt == FMT_MD)
				off = snprintf(text, sizeof(text), "- `%s`: ", d->syntax);
			aliases_md(d->aliases ? d->aliases : "", al, sizeof(al));
			off += snprintf(text + off, sizeof(text) - (size_t)off, "%s%s", d->summary,
					sl && strchr(".!?", d->summary[sl - 1]) ? "" : ".");
			if (al[0])
				off += snprintf(text + off, sizeof(text) - (size_t)off, " Also %s.", al);
			if (d->details)
				off += snprintf(text + off, sizeof(text) - (size_t)off, " %s", d->details);
			if (fmt == FMT_MD) {
				snprintf(text + off, sizeof(text) - (size_t)off, " Example: `%s`", d->example);
				print_text(out, fmt, "  ", text);
				continue;
			}
			/* roff: the syntax is the tag, the example a line of its own. */
			fputs(".TP\n", out);
			roff_syntax(out, d->syntax);
			print_text(out, fmt, "", text);
			snprintf(text, sizeof(text), "Example: `%s`", d->example);
			fputs(".br\n", out);
			print_text(out, fmt, "", text);
		}
	}
}

/* --- the man page ------------------------------------------------------------------------ */

static const char description[] =
	"vmdbg boots an x86-64 Linux kernel on a small KVM machine (16550 serial ports, "
	"hardware-reduced ACPI, an in-kernel irqchip and PIT, and a three-port multiport "
	"virtio-console on virtio-mmio) to debug what a guest driver and a virtio device say to "
	"each other. It gives three ways in, all backed by one command set (COMMANDS below): an "
	"interactive REPL that pauses and steps vCPUs, dumps registers, memory, virtqueue rings "
	"and port buffers, and injects control messages, port data and wake bytes; a gdb remote "
	"stub, with the REPL's commands through `monitor`; and scripts of the same commands with "
	"`wait` and `assert`.";

static void man_page(FILE *out, const char *version)
{
	fprintf(out, ".\\\" Generated by `vmdbg --reference man` from cli/options.c and the command\n"
		     ".\\\" tables (cli/cmd*.c): edit those, not this file.\n"
		     ".TH VMDBG 1 \"\" \"vmdbg %s\" \"User Commands\"\n",
		version);
	fputs(".SH NAME\nvmdbg \\- a KVM virtual machine monitor for debugging virtio drivers\n"
	      ".SH SYNOPSIS\n",
	      out);
	for (int i = 0; options_synopsis[i]; i++) {
		fputs(i ? ".br\n" : "", out);
		fputs("\\fBvmdbg\\fR ", out);
		roff_syntax(out, options_synopsis[i]);
	}
	fputs(".SH DESCRIPTION\n", out);
	print_text(out, FMT_MAN, "", description);
	fputs(".SH OPTIONS\n", out);
	for (size_t i = 0; i < options_count; i++) {
		const struct opt_def *d = &options_table[i];
		char flag[64];

		if (!d->help)
			continue;
		options_flag(d, flag, sizeof(flag));
		fputs(".TP\n", out);
		roff_syntax(out, flag);
		print_text(out, FMT_MAN, "", d->doc);
	}
	fputs(".SH COMMANDS\n", out);
	commands(out, FMT_MAN);
	fputs(".SH EXIT STATUS\n", out);
	for (int i = 0; options_exits[i].status >= 0; i++) {
		fprintf(out, ".TP\n.B %d\n", options_exits[i].status);
		print_text(out, FMT_MAN, "", options_exits[i].doc);
	}
	fputs(".SH SEE ALSO\n.BR gdb (1),\n.BR qemu\\-system\\-x86_64 (1)\n", out);
}

int reference_print(const char *format, const char *version, FILE *out)
{
	if (!strcmp(format, "man"))
		man_page(out, version);
	else if (!strcmp(format, "options.md"))
		md_options(out);
	else if (!strcmp(format, "commands.md"))
		commands(out, FMT_MD);
	else if (!strcmp(format, "exits.md"))
		md_exits(out);
	else
		return -EINVAL;
	return 0;
}
