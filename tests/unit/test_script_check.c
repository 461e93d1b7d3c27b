/*
 * The script check (--check-script, and every --script before the guest starts): each
 * class of mistake is found with FILE:LINE and the command's own message, without KVM.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>

#include <cmocka.h>

#include "cli/cmd_priv.h"
#include "cli/options.h"
#include "cli/script.h"
#include "scratch.h"

static char err[1024];

/* Write TEXT to NAME in the scratch directory; returns its path. */
static const char *write_file(const char *name, const char *text)
{
	return scratch_file(name, text, strlen(text));
}

/* The options of `vmdbg --check-script PATH`. */
static struct options check_opts(const char *path)
{
	struct options o = { 0 };

	o.check_script = path;
	o.cpus = 1;
	return o;
}

static int check(const struct options *o, const char *text)
{
	const char *p = write_file("s.vmdbg", text);
	struct options oo = *o;

	if (oo.check_script)
		oo.check_script = p;
	else
		oo.script = p;
	err[0] = 0;
	return script_check(&oo, p, err, sizeof(err));
}

/* TEXT has a mistake on LINE whose message contains WANT. */
#define MISTAKE(o, text, line, want)                                                         \
	do {                                                                                 \
		char _where[300];                                                            \
		int _r = check(o, text);                                                     \
		snprintf(_where, sizeof(_where), "%s/s.vmdbg:%d: ", scratch_dir, line);              \
		if (_r != -EINVAL || strncmp(err, _where, strlen(_where)) || !strstr(err, want)) \
			fail_msg("'%s': got %d \"%s\", want -EINVAL, \"%s...%s\"", text, _r, err, \
				 _where, want);                                              \
	} while (0)

static void good_script(void **state)
{
	struct options o = check_opts("s.vmdbg");

	assert_int_equal(check(&o, "# a comment\n\n"
				   "wait console 'tg: vcon ready' 30s\n"
				   "wait port 1 open 10s\n"
				   "wait ctl PORT_OPEN 1 500ms\n"
				   "wait status DRIVER_OK 5m\n"
				   "wait stop\n"
				   "json get port.1.guest_open\n"
				   "assert port.2.name == ktstr-stats\n"
				   "assert vq.3.used_idx >= 2\n"
				   "assert cpu.0.rip != 0\n"
				   "ctl send PORT_ADD 5 1\n"
				   "port send 2 hex:0f68\n"
				   "break-on ctl PORT_READY 1\n"
				   "break-on delete all\n"
				   "vq dump 3 chains\n"
				   "x/8xg $rsp\n"
				   "step 3\n"
				   "sleep 500\n"
				   "help vq dump\n"
				   "snapshot load not-yet-written.snap\n"
				   "quit\n"),
			 20);
}

static void unknown_command(void **state)
{
	struct options o = check_opts("s.vmdbg");

	MISTAKE(&o, "echo hi\nasert status == 1\n", 2, "unknown command 'asert'");
	MISTAKE(&o, "vq lst\n", 1, "vq: unknown sub-command 'lst' (list, dump)");
	MISTAKE(&o, "help nosuch\n", 1, "help: no command 'nosuch'");
	MISTAKE(&o, "json\n", 1, "json: which command?");
	MISTAKE(&o, "echo \"open\n", 1, "parse error: unterminated \" quote");
}

static void argument_counts(void **state)
{
	struct options o = check_opts("s.vmdbg");

	MISTAKE(&o, "pause 1 2\n", 1, "pause: too many arguments (usage: pause [CPU|all])");
	MISTAKE(&o, "assert status ==\n", 1, "assert: missing arguments");
	MISTAKE(&o, "wait port 1\n", 1, "wait port: missing arguments");
}

static void bad_arguments(void **state)
{
	struct options o = check_opts("s.vmdbg");

	MISTAKE(&o, "wait console x 30q\n", 1, "timeout '30q' has an unknown unit");
	MISTAKE(&o, "wait port 1 open 2d\n", 1, "timeout '2d' has an unknown unit");
	MISTAKE(&o, "wait port 1 opn\n", 1, "state 'opn' is not open, closed or ready");
	MISTAKE(&o, "wait stop 90000000s\n", 1, "longer than a day");
	MISTAKE(&o, "sleep soon\n", 1, "sleep: MS: 'soon' is not a number");
	MISTAKE(&o, "wait ctl PORT_OPN 1\n", 1, "unknown control event 'PORT_OPN'");
	MISTAKE(&o, "ctl send PORT_ADD 1 70000\n", 1, "does not fit in 16 bits");
	MISTAKE(&o, "wait status DRIVR_OK\n", 1, "unknown status bit 'DRIVR_OK'");
	MISTAKE(&o, "break-on status 3\n", 1, "unknown status bit '3'");
	MISTAKE(&o, "wait conditon\n", 1, "wait: unknown condition 'conditon'");
	MISTAKE(&o, "wait console 'a(' 3s\n", 1, "bad regex 'a('");
	MISTAKE(&o, "vq dump 9\n", 1, "queue 9 does not exist (device has 8)");
	MISTAKE(&o, "port send 3 hi\n", 1, "port 3 does not exist (device has 3)");
	MISTAKE(&o, "port send 1 hex:zz\n", 1, "'zz' is not hex bytes");
	MISTAKE(&o, "wake bogus\n", 1, "wake: 'bogus' is not a byte");
	MISTAKE(&o, "trace on mmio,foo\n", 1, "unknown event class 'foo'");
	MISTAKE(&o, "step 0 0\n", 1, "step: count 0 out of range");
	MISTAKE(&o, "x/4qq 0\n", 1, "unknown format letter 'q'");
	MISTAKE(&o, "x/4xg $rsq\n", 1, "unknown register '$rsq'");
	MISTAKE(&o, "set reg rxx=1\n", 1, "unknown register 'rxx'");
	MISTAKE(&o, "get port.1.guest_opn\n", 1, "port field 'guest_opn' unknown");
	MISTAKE(&o, "get cpu.0.rxx\n", 1, "unknown register 'rxx'");
	MISTAKE(&o, "assert port.1.guest_open == yes\n", 1, "is a number, 'yes' is not");
	MISTAKE(&o, "assert port.1.name < 3\n", 1, "is text: only == and != apply");
	MISTAKE(&o, "assert status =< 1\n", 1, "operator '=<' is not one of");
	MISTAKE(&o, "irq console edge\n", 1, "'edge' is neither vring nor config");
	MISTAKE(&o, "mmio 1\n", 1, "no device '1'");
}

static void cpus(void **state)
{
	struct options o = check_opts("s.vmdbg");

	/* --check-script alone: any vCPU a machine can have. */
	assert_int_equal(check(&o, "regs 63\n"), 1);
	MISTAKE(&o, "regs 64\n", 1, "vCPU 64 does not exist (the VM has 64)");
	o.cpus = 2;
	o.cpus_set = true;
	MISTAKE(&o, "regs 1\ncpu 2\n", 2, "vCPU 2 does not exist (the VM has 2)");
	/* The run itself (--script): its --cpus, given or not. */
	o = (struct options){ .cpus = 1 };
	MISTAKE(&o, "get cpu.1.rip\n", 1, "vCPU '1' does not exist (the VM has 1)");
}

static void symbols(void **state)
{
	struct options o = check_opts("s.vmdbg");
	char kernel[256], map[300];

	write_file("System.map", "ffffffff81000000 T startup_64\nffffffff81234560 T virtcons_probe\n");
	write_file("module.map", "ffffffffa0000000 t mod_fn\n");
	snprintf(map, sizeof(map), "symbols load %s/module.map\nbreak mod_fn\n", scratch_dir);
	/* Without a kernel: any name (the run may have it). */
	assert_int_equal(check(&o, "break virtcons_probe\nsym nothing_here\n"), 2);
	/* With one (not ELF: the System.map beside it), names are looked up. */
	snprintf(kernel, sizeof(kernel), "%s", write_file("bzImage", "not an ELF"));
	o.kernel = kernel;
	assert_int_equal(check(&o, "break virtcons_probe\nhbreak startup_64+0x10\n"), 2);
	MISTAKE(&o, "break virtcons_prob\n", 1, "break: no symbol 'virtcons_prob'");
	MISTAKE(&o, "watch no_such 4\n", 1, "watch: no symbol 'no_such'");
	/* `symbols load` replaces them for the lines after it, as it will when it runs. */
	assert_int_equal(check(&o, map), 2);
	MISTAKE(&o, "symbols load /nonexistent/System.map\n", 1, "symbols load:");
}

static void sourced_files(void **state)
{
	struct options o = check_opts("s.vmdbg");
	char text[512], where[300];

	write_file("inner.vmdbg", "echo fine\nwait ctl PORT_OPEN 1 10x\n");
	snprintf(text, sizeof(text), "echo outer\nsource %s/inner.vmdbg\n", scratch_dir);
	assert_int_equal(check(&o, text), -EINVAL);
	/* The mistake is named where it is, in the sourced file. */
	snprintf(where, sizeof(where), "%s/inner.vmdbg:2: wait ctl: timeout '10x'", scratch_dir);
	assert_true(!strncmp(err, where, strlen(where)));
	MISTAKE(&o, "source /nonexistent.vmdbg\n", 1, "source: /nonexistent.vmdbg: No such file");
	/* A file that sources itself stops where the runner would. */
	snprintf(text, sizeof(text), "source %s/s.vmdbg\n", scratch_dir);
	MISTAKE(&o, text, 1, "nested more than 16 deep");
}

static void unreadable(void **state)
{
	struct options o = check_opts("/nonexistent.vmdbg");

	assert_int_equal(script_check(&o, "/nonexistent.vmdbg", err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent.vmdbg: No such file"));
}

/* Every command that takes arguments checks them (a new one cannot be forgotten). */
static void every_command_checks(void **state)
{
	static const struct {
		const struct cmd_def *t;
		const int *n;
	} tables[] = {
		{ cmd_exec_table, &cmd_exec_count },	 { cmd_mem_table, &cmd_mem_count },
		{ cmd_virtio_table, &cmd_virtio_count }, { cmd_inject_table, &cmd_inject_count },
		{ cmd_trace_table, &cmd_trace_count },	 { cmd_script_table, &cmd_script_count },
		{ cmd_snapshot_table, &cmd_snapshot_count },
	};

	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		for (int k = 0; k < *tables[i].n; k++) {
			const struct cmd_def *d = &tables[i].t[k];

			if (d->max_args > 0 && !(d->flags & CMD_F_CHECK))
				fail_msg("command '%s' takes arguments but has no CMD_F_CHECK", d->name);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good_script),	   cmocka_unit_test(unknown_command),
		cmocka_unit_test(argument_counts), cmocka_unit_test(bad_arguments),
		cmocka_unit_test(cpus),		   cmocka_unit_test(symbols),
		cmocka_unit_test(sourced_files),   cmocka_unit_test(unreadable),
		cmocka_unit_test(every_command_checks),
	};

	return cmocka_run_group_tests(tests, scratch_setup, scratch_teardown);
}
