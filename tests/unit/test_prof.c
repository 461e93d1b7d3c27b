/*
 * The profiler without a machine: top functions (sorting, modes, nameless addresses), folded
 * stacks (merging, root first, separators), the flame-graph SVG, and the `profile` commands'
 * argument checks and errors on a session without KVM.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/prof.h"
#include "cmd_fixture.h"
#include "emu/profile.h"

/* Fake symbols: 0x1000 + 0x100 * i is function i; a return address names the call before it. */
static const char *const fake_names[] = { "main", "caller", "hot;weird name", "warm", "a<b>&\"c\"" };

static void fake_name(void *opaque, uint64_t pc, bool caller, unsigned cpl, char *buf, size_t n)
{
	uint64_t at = caller ? pc - 1 : pc, i = (at - 0x1000) / 0x100;

	(void)opaque;
	if (at >= 0x1000 && i < sizeof(fake_names) / sizeof(fake_names[0]))
		snprintf(buf, n, "%s", fake_names[i]);
	else
		snprintf(buf, n, "%s", cpl == 3 ? "[user]" : "[unknown]");
}

#define F(i) (0x1000 + 0x100 * (i) + 0x10)

/* Appends one sample (frames leaf first) to W. */
static size_t put(uint64_t *w, size_t at, unsigned cpl, unsigned n, const uint64_t *pcs)
{
	w[at++] = PROF_HDR(n, cpl);
	memcpy(w + at, pcs, n * sizeof(*pcs));
	return at + n;
}

struct two_streams {
	uint64_t w0[64], w1[64];
	struct prof_stream s[2];
};

/* cpu 0: 3x main>caller>warm, 1x main>hot; cpu 1: 2x main>hot, 1 user sample off any symbol. */
static void build(struct two_streams *t)
{
	const uint64_t warm[] = { F(3), F(1) + 5, F(0) + 5 }, hot[] = { F(2), F(0) + 5 };
	const uint64_t user[] = { 0x400123, 0x400456, 0x400789 };
	size_t a = 0, b = 0;

	for (int i = 0; i < 3; i++)
		a = put(t->w0, a, 0, 3, warm);
	a = put(t->w0, a, 0, 2, hot);
	b = put(t->w1, b, 0, 2, hot);
	b = put(t->w1, b, 0, 2, hot);
	b = put(t->w1, b, 3, 3, user);
	t->s[0] = (struct prof_stream){ t->w0, a };
	t->s[1] = (struct prof_stream){ t->w1, b };
}

static void test_table(void **state)
{
	struct two_streams t;
	struct prof_table tab;

	build(&t);
	assert_int_equal(prof_table_build(t.s, 2, fake_name, NULL, &tab), 0);
	assert_int_equal(tab.total, 7);
	assert_int_equal(tab.n, 3);
	/* hot and warm tie at 3: the kernel ones by name, then the user row. */
	assert_string_equal(tab.rows[0].name, "hot;weird name");
	assert_int_equal(tab.rows[0].count, 3);
	assert_string_equal(tab.rows[1].name, "warm");
	assert_int_equal(tab.rows[1].count, 3);
	assert_string_equal(tab.rows[2].name, "[user]");
	assert_int_equal(tab.rows[2].cpl, 3);
	assert_int_equal(tab.rows[2].count, 1);
	prof_table_free(&tab);

	/* One stream alone: cpu 0's view. */
	assert_int_equal(prof_table_build(t.s, 1, fake_name, NULL, &tab), 0);
	assert_int_equal(tab.total, 4);
	assert_string_equal(tab.rows[0].name, "warm");
	assert_int_equal(tab.rows[0].count, 3);
	prof_table_free(&tab);
}

static void test_fold(void **state)
{
	struct two_streams t;
	struct prof_folded f;
	char *text = NULL;
	size_t len = 0;
	FILE *out;

	build(&t);
	assert_int_equal(prof_fold(t.s, 2, fake_name, NULL, &f), 0);
	assert_int_equal(f.total, 7);
	out = open_memstream(&text, &len);
	assert_int_equal(prof_folded_write(out, &f), 0);
	fclose(out);
	/* Root first, merged across vCPUs, sorted; ';' and ' ' in a name become '_'; the user
	 * sample's three nameless frames are one. */
	assert_string_equal(text, "[user] 1\n"
				  "main;caller;warm 3\n"
				  "main;hot_weird_name 3\n");
	free(text);
	prof_folded_free(&f);
}

static void test_truncated_stream(void **state)
{
	const uint64_t pcs[] = { F(3), F(0) + 5 };
	uint64_t w[8];
	size_t n = put(w, 0, 0, 2, pcs);
	struct prof_stream s;
	struct prof_table tab;

	w[n++] = PROF_HDR(40, 0); /* says 40 frames, has 1 */
	w[n++] = F(3);
	s = (struct prof_stream){ w, n };
	assert_int_equal(prof_table_build(&s, 1, fake_name, NULL, &tab), 0);
	assert_int_equal(tab.total, 1);
	prof_table_free(&tab);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void test_svg(void **state)
{
	struct prof_fold_line lines[] = {
		{ "main;caller;warm", 3 }, { "main;hot", 6 }, { "main;a<b>&\"c\"", 1 },
	};
	struct prof_folded f = { lines, 3, 10 };
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	assert_int_equal(prof_svg_write(out, &f, "title <x>"), 0);
	fclose(out);
	assert_true(!strncmp(text, "<?xml", 5));
	assert_non_null(strstr(text, "<svg "));
	assert_non_null(strstr(text, "</svg>\n"));
	assert_non_null(strstr(text, "title &lt;x&gt; (10 samples)"));
	/* all, main, caller, warm, hot, the odd one: six frames, each a group with a title. */
	assert_int_equal(count(text, "<g>"), 6);
	assert_int_equal(count(text, "</g>"), 6);
	assert_non_null(strstr(text, "<title>all (10 samples, 100.00%)</title>"));
	assert_non_null(strstr(text, "<title>hot (6 samples, 60.00%)</title>"));
	assert_non_null(strstr(text, "a&lt;b&gt;&amp;&quot;c&quot;"));
	assert_null(strstr(text, "a<b"));
	free(text);
}

static void test_svg_empty(void **state)
{
	struct prof_folded f = { 0 };
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	assert_int_equal(prof_svg_write(out, &f, "empty"), 0);
	fclose(out);
	assert_int_equal(count(text, "<g>"), 0);
	assert_non_null(strstr(text, "</svg>"));
	free(text);
}

static int setup(void **state)
{
	*state = cmd_fixture_new(1 << 20);
	return 0;
}

static int teardown(void **state)
{
	struct cmd_fixture *f = *state;

	profile_free(&f->s->vm);
	cmd_fixture_free(f);
	return 0;
}

static void test_commands(void **state)
{
	struct cmd_fixture *f = *state;

	EXPECT("profile report", CMD_ERR, "the VM has no vCPUs running");
	f->s->vm.ncpus = 2; /* vCPUs that never run: the sampler finds none to ask */
	EXPECT("profile start 0", CMD_ERR, "profile start: HZ '0' is not a rate from 1 to 10000");
	EXPECT("profile start 10001", CMD_ERR, "is not a rate from 1 to 10000");
	EXPECT("profile start fast", CMD_ERR, "HZ 'fast' is not a rate");
	EXPECT("profile start 100 2", CMD_ERR, "vCPU 2 does not exist (the VM has 2)");
	EXPECT("profile start 100 all x", CMD_ERR, "");
	EXPECT("profile stop", CMD_ERR, "profile stop: no profile is running");
	EXPECT("profile report", CMD_ERR, "profile report: no profile taken yet");
	EXPECT("profile folded /tmp/x", CMD_ERR, "profile folded: no profile taken yet");
	EXPECT("profile report 0", CMD_ERR, "N '0' is not a count from 1 to 1000");
	EXPECT("profile start 100 1", CMD_OK, "profiling vCPU 1 at 100 Hz");
	EXPECT("profile start", CMD_ERR, "a profile is already running");
	EXPECT("profile report", CMD_OK, "all vCPUs: 0 samples");
	EXPECT("profile stop", CMD_OK, "profile stopped: 0 samples");
	EXPECT("profile report", CMD_OK, "profile: 100 Hz on 1 vCPU, ran");
	EXPECT("json profile report", CMD_OK, "{\"return\":{\"hz\":100,\"running\":false,");
	EXPECT("profile folded /nonexistent-dir/p.folded", CMD_ERR,
	       "profile folded: cannot write '/nonexistent-dir/p.folded': No such file or directory");
	EXPECT("profile start all", CMD_OK, "profiling every vCPU at 1000 Hz");
	EXPECT("profile stop", CMD_OK, "profile stopped");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_fold),
		cmocka_unit_test(test_truncated_stream),
		cmocka_unit_test(test_svg),
		cmocka_unit_test(test_svg_empty),
		cmocka_unit_test_setup_teardown(test_commands, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
