/* Command-line parsing: every flag, and every bad input as one clear line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/options.h"

static struct options opts;
static char err[512];

static int parse(const char *first, ...)
{
	char *argv[64] = { "vmdbg" };
	int argc = 1;
	va_list ap;

	va_start(ap, first);
	for (const char *a = first; a; a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	va_end(ap);
	err[0] = 0;
	return options_parse(argc, argv, &opts, err, sizeof(err));
}

static void defaults(void **state)
{
	assert_int_equal(parse("--kernel", "k", NULL), 0);
	assert_string_equal(opts.kernel, "k");
	assert_int_equal(opts.mem_size, 256ULL << 20);
	assert_int_equal(opts.cpus, 1);
	assert_true(opts.pvm_workarounds);
	assert_false(opts.reboot); /* DESIGN.md: a reboot ends the run unless asked */
	assert_null(opts.initrd);
	assert_null(opts.gdb);
	assert_int_equal(opts.serial.kind, PORT_DEFAULT); /* COM1 on the terminal */
}

static void every_flag(void **state)
{
	assert_int_equal(parse("--kernel", "k", "--initrd", "i", "--append", "a b", "--mem", "2G",
			       "--cpus", "8", "--cpuid", "-cx16,-xsave", "--gdb", "tcp:1234",
			       "--gdb-wait", "--script", "s", "--repl", "--json", "--port",
			       "1:file:/tmp/p1", "--port", "2:unix:/tmp/p2", "--port", "0:null",
			       "--serial", "unix:/tmp/com1", "--serial2", "file:/tmp/com2", "--trace",
			       "mmio,ctl:/tmp/t", "--profile", "/tmp/boot.svg",
			       "--virtio-cmdline", "--no-pvm-workarounds", "--reboot", "-v", NULL),
			 0);
	assert_string_equal(opts.initrd, "i");
	assert_string_equal(opts.append, "a b");
	assert_int_equal(opts.mem_size, 2ULL << 30);
	assert_int_equal(opts.cpus, 8);
	assert_string_equal(opts.cpuid, "-cx16,-xsave");
	assert_string_equal(opts.gdb, "tcp:1234");
	assert_true(opts.gdb_wait && opts.repl && opts.json && opts.virtio_cmdline);
	assert_false(opts.pvm_workarounds);
	assert_true(opts.reboot);
	assert_int_equal(opts.ports[1].kind, PORT_FILE);
	assert_string_equal(opts.ports[1].path, "/tmp/p1");
	assert_int_equal(opts.ports[2].kind, PORT_UNIX);
	assert_int_equal(opts.ports[0].kind, PORT_NULL);
	assert_int_equal(opts.serial.kind, PORT_UNIX);
	assert_string_equal(opts.serial.path, "/tmp/com1");
	assert_string_equal(opts.serial2, "/tmp/com2");
	assert_string_equal(opts.trace, "mmio,ctl:/tmp/t");
	assert_string_equal(opts.profile, "/tmp/boot.svg");
	assert_int_equal(opts.verbose, 1);
}

static void sizes(void **state)
{
	uint64_t v;

	assert_int_equal(parse_size("256M", &v), 0);
	assert_int_equal(v, 256ULL << 20);
	assert_int_equal(parse_size("1g", &v), 0);
	assert_int_equal(v, 1ULL << 30);
	assert_int_equal(parse_size("512MiB", &v), 0);
	assert_int_equal(v, 512ULL << 20);
	assert_int_equal(parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_not_equal(parse_size("", &v), 0);
	assert_int_not_equal(parse_size("-1M", &v), 0);
	assert_int_not_equal(parse_size("12Q", &v), 0);
	assert_int_not_equal(parse_size("M", &v), 0);
	assert_int_not_equal(parse_size("99999999999999999999", &v), 0);
	assert_int_not_equal(parse_size("17179869184T", &v), 0);
}

/* Each bad input is refused with a message that names the flag and the value. */
static void expect_error(const char *needle)
{
	assert_non_null(strstr(err, needle));
	assert_null(strchr(err, '\n'));
}

static void bad_mem(void **state)
{
	assert_int_not_equal(parse("--kernel", "k", "--mem", "lots", NULL), 0);
	expect_error("--mem 'lots'");
	assert_int_not_equal(parse("--kernel", "k", "--mem", "1M", NULL), 0);
	expect_error("between 16M");
	assert_int_not_equal(parse("--kernel", "k", "--mem", "2T", NULL), 0);
	expect_error("between 16M");
	assert_int_not_equal(parse("--kernel", "k", "--mem", "16777217", NULL), 0);
	expect_error("multiple of 4K");
}

static void bad_cpus(void **state)
{
	const char *bad[] = { "0", "-1", "65", "two", "", "1.5", "3x" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_not_equal(parse("--kernel", "k", "--cpus", bad[i], NULL), 0);
		expect_error("--cpus");
	}
	assert_int_equal(parse("--kernel", "k", "--cpus", "64", NULL), 0);
}

static void bad_flags(void **state)
{
	assert_int_not_equal(parse("--kernel", "k", "--frobnicate", NULL), 0);
	expect_error("unknown option '--frobnicate'");
	assert_int_not_equal(parse("--kernel", NULL), 0);
	expect_error("needs a value");
	assert_int_not_equal(parse("--cpus", "2", NULL), 0);
	expect_error("no kernel");
	assert_int_not_equal(parse("--kernel", "k", "stray", NULL), 0);
	expect_error("unexpected argument 'stray'");
	assert_int_not_equal(parse("--kernel", "k", "--gdb-wait", NULL), 0);
	expect_error("--gdb-wait needs --gdb");
}

static void bad_specs(void **state)
{
	assert_int_not_equal(parse("--kernel", "k", "--gdb", "1234", NULL), 0);
	expect_error("--gdb '1234'");
	assert_int_not_equal(parse("--kernel", "k", "--gdb", "tcp:99999", NULL), 0);
	expect_error("port must be");
	assert_int_equal(parse("--kernel", "k", "--gdb", "tcp:0.0.0.0:1234", NULL), 0);
	assert_int_equal(parse("--kernel", "k", "--gdb", "unix:/tmp/g", NULL), 0);
	assert_int_not_equal(parse("--kernel", "k", "--port", "3:stdio", NULL), 0);
	expect_error("port must be 0, 1 or 2");
	assert_int_not_equal(parse("--kernel", "k", "--port", "1:tcp:9", NULL), 0);
	expect_error("backend must be");
	assert_int_not_equal(parse("--kernel", "k", "--port", "1", NULL), 0);
	expect_error("expected N:");
	assert_int_not_equal(parse("--kernel", "k", "--serial2", "/tmp/x", NULL), 0);
	expect_error("expected file:PATH");
	/* --serial takes the backends --port does, and names itself when wrong. */
	assert_int_equal(parse("--kernel", "k", "--serial", "file:/tmp/c", NULL), 0);
	assert_int_equal(opts.serial.kind, PORT_FILE);
	assert_string_equal(opts.serial.path, "/tmp/c");
	assert_int_equal(parse("--kernel", "k", "--serial", "null", NULL), 0);
	assert_int_equal(opts.serial.kind, PORT_NULL);
	assert_int_equal(parse("--kernel", "k", "--serial", "stdio", NULL), 0);
	assert_int_equal(opts.serial.kind, PORT_STDIO);
	assert_int_not_equal(parse("--kernel", "k", "--serial", "tcp:9", NULL), 0);
	expect_error("--serial 'tcp:9': expected stdio, file:PATH, unix:PATH or null");
	assert_int_not_equal(parse("--kernel", "k", "--serial", "unix:", NULL), 0);
	expect_error("--serial 'unix:'");
	assert_int_not_equal(parse("--kernel", "k", "--trace", "mmio,bogus", NULL), 0);
	expect_error("unknown event kind 'bogus'");
	assert_int_not_equal(parse("--kernel", "k", "--profile", "", NULL), 0);
	expect_error("--profile: empty file name");
	assert_int_not_equal(parse("--kernel", "k", "--cpuid", "-nosuch", NULL), 0);
	expect_error("unknown feature 'nosuch'");
	assert_int_not_equal(parse("--kernel", "k", "--cpuid", "+cx16", NULL), 0);
	expect_error("can only be removed");
}

static void help_and_version(void **state)
{
	assert_int_equal(parse("--help", NULL), 0);
	assert_true(opts.help);
	assert_int_equal(parse("--version", NULL), 0);
	assert_true(opts.version);
	/* Needs no kernel: it runs its own throw-away VM. */
	assert_int_equal(parse("--probe-kvm", NULL), 0);
	assert_true(opts.probe_kvm);
	assert_false(opts.help || opts.version);
}

/* --help as a string. */
static char *usage_text(void)
{
	static char buf[16384];
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	options_usage(f);
	fclose(f);
	return buf;
}

/* --help, getopt and the reference share options_table: each row is shown and parsed. */
static void one_table(void **state)
{
	char *help = usage_text();

	for (size_t i = 0; i < options_count; i++) {
		const struct opt_def *d = &options_table[i];
		char flag[64], line[80];

		options_flag(d, flag, sizeof(flag));
		snprintf(line, sizeof(line), "\n  %s ", flag);
		if (d->help)
			assert_non_null(strstr(help, line));
		else
			assert_null(strstr(help, flag)); /* hidden */
		/* getopt knows it: whatever is wrong with the value, the option is not unknown. */
		snprintf(flag, sizeof(flag), "--%s", d->name);
		parse("--kernel", "k", flag, d->arg ? "1" : NULL, NULL);
		assert_null(strstr(err, "unknown option"));
		assert_null(strstr(err, "needs a value"));
	}
}

/* --help's --trace line names every kind --trace takes (pio was missing), and each works. */
static void trace_kinds_in_help(void **state)
{
	char *help = usage_text(), *line = strstr(help, "--trace "), *kinds;
	size_t n = 0;

	assert_non_null(line);
	*strchr(line, '\n') = 0;
	assert_non_null(strstr(line, "pio"));
	kinds = strstr(line, "mmio,");
	assert_non_null(kinds);
	for (char *k = strtok(kinds, ", "); k; k = strtok(NULL, ", "), n++)
		assert_int_equal(parse("--kernel", "k", "--trace", k, NULL), 0);
	assert_int_equal(n, 5);
}

/* --reference FORMAT needs no kernel; an unknown FORMAT is one clear line. */
static void reference_option(void **state)
{
	assert_int_equal(parse("--reference", "man", NULL), 0);
	assert_string_equal(opts.reference, "man");
	assert_int_equal(parse("--reference=commands.md", NULL), 0);
	assert_string_equal(opts.reference, "commands.md");
	assert_int_not_equal(parse("--reference", "pdf", NULL), 0);
	expect_error("--reference 'pdf': expected one of man,options.md,commands.md,exits.md");
	assert_int_equal(parse("-h", NULL), 0);
	assert_true(opts.help);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults),   cmocka_unit_test(every_flag),
		cmocka_unit_test(sizes),      cmocka_unit_test(bad_mem),
		cmocka_unit_test(bad_cpus),   cmocka_unit_test(bad_flags),
		cmocka_unit_test(bad_specs),  cmocka_unit_test(help_and_version),
		cmocka_unit_test(one_table),  cmocka_unit_test(trace_kinds_in_help),
		cmocka_unit_test(reference_option),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
