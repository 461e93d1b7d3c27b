/* The command table without KVM: parser, argument errors, JSON shape, completion. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>

#include <cmocka.h>

#include "cmd_fixture.h"

#define RAM (4u << 20)

static int setup(void **state)
{
	*state = cmd_fixture_new(RAM);
	return 0;
}

static int teardown(void **state)
{
	cmd_fixture_free(*state);
	return 0;
}

static void test_split(void **state)
{
	char buf[256], *argv[16], err[64];
	int n;

	n = cmd_split("  port send 2 \"a b\\n\\x41\" 'c\"d' # comment", buf, sizeof(buf), argv, 16,
		      err, sizeof(err));
	assert_int_equal(n, 5);
	assert_string_equal(argv[0], "port");
	assert_string_equal(argv[3], "a b\nA");
	assert_string_equal(argv[4], "c\"d");
	assert_int_equal(cmd_split("# only a comment", buf, sizeof(buf), argv, 16, err, sizeof(err)), 0);
	assert_int_equal(cmd_split("echo \"open", buf, sizeof(buf), argv, 16, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "unterminated"));
	assert_int_equal(cmd_split("echo \"\\xZZ\"", buf, sizeof(buf), argv, 16, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(cmd_split("a b c d", buf, sizeof(buf), argv, 3, err, sizeof(err)), -EINVAL);
	n = cmd_split("x/4xg $rsp", buf, sizeof(buf), argv, 16, err, sizeof(err));
	assert_int_equal(n, 2);
}

static void test_unknown_and_usage(void **state)
{
	struct cmd_fixture *f = *state;

	EXPECT("frobnicate", CMD_ERR, "unknown command 'frobnicate'");
	EXPECT("vq frob", CMD_ERR, "vq: unknown sub-command 'frob' (list, dump)");
	EXPECT("vq", CMD_ERR, "vq: which one?");
	EXPECT("vq dump", CMD_ERR, "missing arguments (usage: vq dump Q");
	EXPECT("quit now", CMD_ERR, "too many arguments");
	EXPECT("echo \"unterminated", CMD_ERR, "parse error: unterminated");
	assert_int_equal(cmd_fixture_run(f, ""), CMD_OK);
	assert_int_equal(cmd_fixture_run(f, "   # comment"), CMD_OK);
}

static void test_argument_errors(void **state)
{
	struct cmd_fixture *f = *state;

	EXPECT("vq dump 9", CMD_ERR, "vq dump: queue 9 does not exist (device has 8)");
	EXPECT("vq dump x", CMD_ERR, "queue 'x' is not a number");
	EXPECT("vq dump 3 rings", CMD_ERR, "unknown part 'rings'");
	EXPECT("vq list 2", CMD_ERR, "no device '2'");
	EXPECT("port dump 5", CMD_ERR, "port dump: port 5 does not exist (device has 3)");
	EXPECT("port dump 1 sideways", CMD_ERR, "unknown buffer 'sideways'");
	EXPECT("port send 3 hi", CMD_ERR, "port 3 does not exist");
	EXPECT("port send 1 hex:zz", CMD_ERR, "not hex bytes");
	EXPECT("ctl send BOGUS 1", CMD_ERR, "unknown control event 'BOGUS'");
	EXPECT("ctl send PORT_ADD x", CMD_ERR, "ID: 'x' is not a number");
	EXPECT("ctl send PORT_ADD 1 70000", CMD_ERR, "does not fit in 16 bits");
	EXPECT("ctl send PORT_ADD 99999999999 1", CMD_ERR, "does not fit in 32 bits");
	EXPECT("wake 300", CMD_ERR, "wake: '300' is not a byte");
	EXPECT("wake sleepy", CMD_ERR, "is not a byte");
	EXPECT("notify 8", CMD_ERR, "notify: queue 8 does not exist");
	EXPECT("irq sideways", CMD_ERR, "neither vring nor config");
	EXPECT("regs", CMD_ERR, "regs: the VM has no vCPUs running");
	EXPECT("step", CMD_ERR, "no vCPUs");
	EXPECT("pause", CMD_ERR, "no vCPUs");
	EXPECT("x/4q 0x1000", CMD_ERR, "unknown format letter 'q' (count, then x d u o c s i,");
	/* x/8i alone is a format: it lists from the pc, of which there is none here. */
	EXPECT("x/8i", CMD_ERR, "x: the VM has no vCPUs running");
	EXPECT("xp/8i", CMD_ERR, "xp: missing address (usage: xp/FMT ADDR)");
	EXPECT("x/8x", CMD_ERR, "x: missing address (usage: x/FMT ADDR)");
	EXPECT("x/5000i 0x1000", CMD_ERR, "x: count 5000 out of range for instructions (1..4096)");
	EXPECT("xp/0x 0x1000", CMD_ERR, "count 0 out of range");
	EXPECT("xp/4xb 0xfffffffff000", CMD_ERR, "cannot read 0xfffffffff000: not guest RAM");
	EXPECT("xp/4xb no_such_symbol", CMD_ERR, "no symbol 'no_such_symbol' (no symbols loaded");
	EXPECT("writepmem 0x1000 xyz", CMD_ERR, "is not hex bytes");
	EXPECT("writepmem 0xfffffffff000 90", CMD_ERR, "is not guest RAM");
	EXPECT("sym 0x1000", CMD_ERR, "no symbols loaded");
	EXPECT("symbols load /nonexistent/vmlinux", CMD_ERR, "symbols load:");
	EXPECT("wait console '(' 1s", CMD_ERR, "bad regex");
	EXPECT("wait console x 5parsecs", CMD_ERR, "unknown unit");
	EXPECT("wait port 1 ajar", CMD_ERR, "state 'ajar' is not open, closed or ready");
	EXPECT("wait port 4 open", CMD_ERR, "port 4 does not exist");
	EXPECT("wait ctl NOPE", CMD_ERR, "unknown control event 'NOPE'");
	EXPECT("wait status SLEEPY", CMD_ERR, "unknown status bit 'SLEEPY'");
	EXPECT("wait sometime", CMD_ERR, "unknown condition 'sometime'");
	EXPECT("sleep soon", CMD_ERR, "'soon' is not a number");
	EXPECT("get nothing.here", CMD_ERR, "unknown path 'nothing.here'");
	EXPECT("get port.7.guest_open", CMD_ERR, "port '7' does not exist");
	EXPECT("get vq.1.colour", CMD_ERR, "vq field 'colour' unknown");
	EXPECT("get cpu.0.rip", CMD_ERR, "vCPU '0' does not exist");
	EXPECT("assert status ~= 1", CMD_ERR, "operator '~=' is not one of");
	EXPECT("assert status == maybe", CMD_ERR, "'maybe' is not");
	EXPECT("assert port.1.name < x", CMD_ERR, "only == and != apply");
	EXPECT("break-on ctl", CMD_ERR, "which event?");
	EXPECT("break-on status WHATEVER", CMD_ERR, "unknown status bit");
	EXPECT("break-on notify 12", CMD_ERR, "queue 12 does not exist");
	EXPECT("break-on weather", CMD_ERR, "unknown event kind 'weather'");
	EXPECT("break-on delete 42", CMD_ERR, "no break-on 42");
	EXPECT("trace on mmio,bogus", CMD_ERR, "unknown event class 'bogus'");
	EXPECT("trace maybe", CMD_ERR, "neither on nor off");
	EXPECT("source /nonexistent.vmdbg", CMD_ERR, "source: /nonexistent.vmdbg");
	EXPECT("delete 3", CMD_ERR, "no vCPUs");
	EXPECT("json", CMD_ERR, "which command?");
	/* A register is read before its symbol is looked up; an unknown name is one clear error. */
	EXPECT("sym $bogus", CMD_ERR, "sym: unknown register '$bogus' (rax..r15, rip, rflags,");
	EXPECT("sym $rdi", CMD_ERR, "sym: no vCPU to read $rdi from");
	EXPECT("x/1x $nope", CMD_ERR, "x: unknown register '$nope'");
	EXPECT("get cpu.0.bogus", CMD_ERR, "vCPU '0' does not exist");
	EXPECT("get port.1.bogus", CMD_ERR, "port field 'bogus' unknown (guest_open readied ready");
}

static void test_state_commands(void **state)
{
	struct cmd_fixture *f = *state;

	/* The device is not set up by any driver: a control message waits for a guest buffer. */
	EXPECT("ctl send PORT_ADD 1", CMD_OK, "queued PORT_ADD id=1 value=1");
	/* Still sent, but the reply says it comes ahead of the handshake. */
	EXPECT("ctl send PORT_ADD 1", CMD_OK,
	       "queued PORT_ADD id=1 value=1 (the driver has not sent DEVICE_READY yet:");
	EXPECT("json ctl send PORT_ADD 1", CMD_OK, "\"before_device_ready\":true");
	EXPECT("get ctl.waiting", CMD_OK, "3");
	EXPECT("assert ctl.waiting == 3", CMD_OK, "");
	EXPECT("assert ctl.waiting == 2", CMD_FAIL, "assert failed: ctl.waiting == 2: ctl.waiting is 3");
	EXPECT("port send 1 hello", CMD_OK, "queued 5 bytes for port 1");
	EXPECT("port send 1 hex:00ff", CMD_OK, "queued 2 bytes");
	EXPECT("assert port.1.pending_rx == 7", CMD_OK, "");
	EXPECT("assert port.1.name == ktstr-bulk", CMD_OK, "");
	EXPECT("port dump 1 rx", CMD_OK, "68 65 6c 6c 6f 00 ff");
	EXPECT("handshake", CMD_OK, "port 1: 7 bytes queued while the guest has it closed");
	EXPECT("break-on ctl PORT_READY 1", CMD_OK, "break-on 1: ctl PORT_READY id=1");
	EXPECT("break-on list", CMD_OK, "1: ctl PORT_READY id=1 (0 hits)");
	EXPECT("break-on delete 1", CMD_OK, "deleted break-on 1\n");
	EXPECT("break-on delete all", CMD_OK, "no break-on points\n");
	EXPECT("break-on notify 3", CMD_OK, "break-on 2: notify q3");
	EXPECT("break-on irq", CMD_OK, "break-on 3: irq");
	EXPECT("break-on delete all", CMD_OK, "deleted 2 break-on points\n");
	EXPECT("break-on list", CMD_OK, "");
	/* Events virtio-console does not define are sent, and named as such. */
	EXPECT("ctl send 99 1", CMD_OK, "queued event 99 (unknown) id=1 value=1 (the driver has not "
	       "sent DEVICE_READY yet");
	EXPECT("ctl send 99 1", CMD_OK, "\n(virtio-console defines events 0..7");
	EXPECT("json ctl send 99 2", CMD_OK, "\"event\":\"event 99 (unknown)\",\"event_number\":99,"
	       "\"known_event\":false");
	EXPECT("ctl log", CMD_OK, "waiting  host->guest event 99 (unknown) id=1 value=1");
	EXPECT("break-on ctl 42", CMD_OK, "break-on 4: ctl event 42 (unknown)");
	EXPECT("break-on list", CMD_OK, "4: ctl event 42 (unknown) (0 hits)");
	EXPECT("break-on delete 4", CMD_OK, "deleted break-on 4\n");
	EXPECT("echo a \"b  c\"", CMD_OK, "a b  c\n");
	EXPECT("xp/2xw 0x1000", CMD_OK, "0x0000000000001000: 0x00000000 0x00000000");
	/* x/i: instructions, gdb's layout; no vCPU marks a pc. */
	EXPECT("writepmem 0x2000 554889e5e800000000c3", CMD_OK, "wrote 10 bytes");
	EXPECT("xp/4i 0x2000", CMD_OK,
	       "   0x0000000000002000:\t55\tpushq  %rbp\n"
	       "   0x0000000000002001:\t48 89 e5\tmovq   %rsp,%rbp\n"
	       "   0x0000000000002004:\te8 00 00 00 00\tcallq  0x2009\n"
	       "   0x0000000000002009:\tc3\tretq\n");
	EXPECT("json xp/1i 0x2004", CMD_OK,
	       "{\"addr\":8196,\"values\":[{\"addr\":8196,\"bytes\":\"e8 00 00 00 00\","
	       "\"text\":\"callq  0x2009\",\"symbol\":\"\",\"target\":8201,\"target_symbol\":\"\","
	       "\"at_pc\":false}],\"next\":8201,\"unreadable\":null}");
	/* The end of RAM cuts the last instruction: the listing says where it stopped. */
	EXPECT("writepmem 0x3ffffc 90904889", CMD_OK, "wrote 4 bytes");
	EXPECT("xp/3i 0x3ffffc", CMD_OK,
	       "   0x00000000003ffffd:\t90\tnop\n(stopped at 0x3ffffe: the instruction runs on into "
	       "0x400000, which is not readable)\n");
	EXPECT("xp/3i 0x3ffffe", CMD_ERR,
	       "xp: the instruction at 0x3ffffe runs on into 0x400000, which is not readable");
	EXPECT("xp/1i 0x400000", CMD_ERR, "xp: cannot read 0x400000: not guest RAM");
	EXPECT("writepmem 0x1000 41424344", CMD_OK, "wrote 4 bytes");
	EXPECT("xp/1s 0x1000", CMD_OK, "\"ABCD\"");
	EXPECT("xp/4c 0x1000", CMD_OK, "'A' 'B' 'C' 'D'");
	EXPECT("xp/1dw 0x1000", CMD_OK, "1145258561");
	assert_int_equal(cmd_fixture_run(f, "quit"), CMD_QUIT);
}

/* A snapshot load leaves a marker in `ctl log`, text and JSON; the newest 64 are kept. */
static void test_snapshot_marker_in_ctl_log(void **state)
{
	struct cmd_fixture *f = *state;
	char name[32];

	cmd_note_snapshot_loaded(f->s, "probe.snap");
	EXPECT("ctl log", CMD_OK, "control messages (time since start, s):\n"
				  "  --- snapshot loaded probe.snap ---\n");
	EXPECT("json ctl log", CMD_OK,
	       "{\"marker\":\"snapshot loaded\",\"file\":\"probe.snap\",\"time\":");
	for (int i = 0; i < 70; i++) {
		snprintf(name, sizeof(name), "s%d.snap", i);
		cmd_note_snapshot_loaded(f->s, name);
	}
	EXPECT("ctl log", CMD_OK, "--- snapshot loaded s69.snap ---");
	EXPECT("ctl log", CMD_OK, "--- snapshot loaded s6.snap ---");
	cmd_fixture_run(f, "ctl log");
	assert_null(strstr(f->out.buf, "probe.snap"));
	assert_null(strstr(f->out.buf, "s5.snap"));
}

static void test_json(void **state)
{
	struct cmd_fixture *f = *state;

	EXPECT("json port list", CMD_OK, "{\"return\":[{\"id\":0,\"name\":\"ktstr-console\"");
	assert_non_null(strstr(f->out.buf, "\"guest_open\":false"));
	assert_non_null(strstr(f->out.buf, "\"pending_rx\":0"));
	EXPECT("json vq list", CMD_OK, "\"queue_index\":7");
	assert_non_null(strstr(f->out.buf, "\"last_avail_idx\":0"));
	assert_non_null(strstr(f->out.buf, "\"used_idx\":0"));
	assert_non_null(strstr(f->out.buf, "\"inuse\":0"));
	assert_non_null(strstr(f->out.buf, "\"shadow_avail_idx\""));
	EXPECT("json vq dump 9", CMD_ERR,
	       "{\"error\":{\"class\":\"GenericError\",\"desc\":\"vq dump: queue 9 does not exist "
	       "(device has 8)\"}}");
	EXPECT("json echo \"quote\\\" and\\ttab\"", CMD_OK,
	       "{\"return\":{\"text\":\"quote\\\" and\\ttab\"}}");
	/* A line that does not parse still answers in JSON when it starts with `json` (fuzzing). */
	EXPECT("json vq list b\\x41\" 'c'", CMD_ERR,
	       "{\"error\":{\"class\":\"GenericError\",\"desc\":\"parse error: unterminated \\\" quote\"}}");
	EXPECT("json get status", CMD_OK, "{\"return\":{\"path\":\"status\",\"value\":0}}");
	EXPECT("json help wake", CMD_OK, "\"syntax\":\"wake BYTE|dump|shutdown|bpf-done|accessor-ready\"");
	EXPECT("json virtio", CMD_OK, "\"host-features\":4294967298");
	EXPECT("json handshake", CMD_OK, "\"violations\":[]");
	/* Balanced brackets in a large document. */
	EXPECT("json vq dump 2", CMD_OK, "\"desc\":[");
	{
		int depth = 0;
		bool in_str = false;

		for (const char *p = f->out.buf; *p; p++) {
			if (in_str) {
				if (*p == '\\')
					p++;
				else if (*p == '"')
					in_str = false;
			} else if (*p == '"') {
				in_str = true;
			} else if (*p == '{' || *p == '[') {
				depth++;
			} else if (*p == '}' || *p == ']') {
				depth--;
				assert_true(depth >= 0);
			}
		}
		assert_int_equal(depth, 0);
	}
}

static void test_help(void **state)
{
	struct cmd_fixture *f = *state;
	const struct cmd_def *tabs[] = { cmd_exec_table, cmd_mem_table, cmd_virtio_table,
					 cmd_inject_table, cmd_trace_table, cmd_script_table };
	const int *counts[] = { &cmd_exec_count, &cmd_mem_count, &cmd_virtio_count,
				&cmd_inject_count, &cmd_trace_count, &cmd_script_count };

	EXPECT("help", CMD_OK, "vq dump Q");
	for (int t = 0; t < 6; t++) {
		for (int i = 0; i < *counts[t]; i++) {
			char line[128];
			const struct cmd_def *d = &tabs[t][i];

			snprintf(line, sizeof(line), "help %s", d->name);
			EXPECT(line, CMD_OK, d->syntax);
			assert_non_null(strstr(f->out.buf, "example: "));
			assert_true(strlen(d->example) > 0);
		}
	}
	EXPECT("help nosuch", CMD_ERR, "help: no command 'nosuch'");
	{
		/* Words longer than the name buffer are cut off, not written past it (UBSan). */
		char line[512];

		snprintf(line, sizeof(line), "help %0200d %0100d c d", 0, 0);
		EXPECT(line, CMD_ERR, "help: no command '000");
	}
	EXPECT("help vq", CMD_OK, "vq list [DEV]");
	EXPECT("help stop", CMD_OK, "pause [CPU|all]");
}

static void test_monitor(void **state)
{
	struct cmd_fixture *f = *state;
	char *out = NULL;

	cmd_monitor(f->s, "wait console foo 1s", &out);
	assert_non_null(strstr(out, "cannot wait from gdb's monitor"));
	free(out);
	assert_false(cmd_wait_pending(f->s));
	cmd_monitor(f->s, "get port.0.readied", &out);
	assert_string_equal(out, "0\n");
	free(out);
	/* gdb's `monitor xp/2i ADDR` is the same x/i. */
	assert_int_equal(gm_write(&f->s->vm.mem, 0x3000, "\x90\xc3", 2), 0);
	cmd_monitor(f->s, "xp/2i 0x3000", &out);
	assert_string_equal(out, "   0x0000000000003000:\t90\tnop\n   0x0000000000003001:\tc3\tretq\n");
	free(out);
}

static bool has(char **c, int n, const char *want)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(c[i], want))
			return true;
	return false;
}

static void test_complete(void **state)
{
	struct cmd_fixture *f = *state;
	char *c[64];
	int n;

	n = cmd_complete(f->s, "", "han", c, 64);
	assert_true(has(c, n, "handshake"));
	for (int i = 0; i < n; i++)
		free(c[i]);
	n = cmd_complete(f->s, "vq ", "", c, 64);
	assert_true(has(c, n, "list") && has(c, n, "dump"));
	for (int i = 0; i < n; i++)
		free(c[i]);
	n = cmd_complete(f->s, "ctl send ", "PORT_R", c, 64);
	assert_int_equal(n, 2);
	assert_true(has(c, n, "PORT_READY") && has(c, n, "PORT_REMOVE"));
	for (int i = 0; i < n; i++)
		free(c[i]);
	n = cmd_complete(f->s, "vq dump ", "", c, 64);
	assert_int_equal(n, 8);
	for (int i = 0; i < n; i++)
		free(c[i]);
	n = cmd_complete(f->s, "vq dump 3 ", "ch", c, 64);
	assert_int_equal(n, 1);
	assert_string_equal(c[0], "chains");
	free(c[0]);
	n = cmd_complete(f->s, "wake ", "s", c, 64);
	assert_int_equal(n, 1);
	assert_string_equal(c[0], "shutdown");
	free(c[0]);
	n = cmd_complete(f->s, "break-on ctl ", "PORT_O", c, 64);
	assert_int_equal(n, 1);
	free(c[0]);
	/* A path completes level by level from the tables `get` looks keys up in. */
	n = cmd_complete(f->s, "get ", "po", c, 64);
	assert_int_equal(n, 1);
	assert_string_equal(c[0], "port.");
	free(c[0]);
	n = cmd_complete(f->s, "get ", "port.", c, 64);
	assert_int_equal(n, 3);
	assert_true(has(c, n, "port.0.") && has(c, n, "port.2."));
	for (int i = 0; i < n; i++)
		free(c[i]);
	n = cmd_complete(f->s, "assert ", "ctl.", c, 64);
	assert_int_equal(n, 2);
	assert_true(has(c, n, "ctl.count") && has(c, n, "ctl.waiting"));
	for (int i = 0; i < n; i++)
		free(c[i]);
	n = cmd_complete(f->s, "set reg ", "rfl", c, 64);
	assert_int_equal(n, 1);
	assert_string_equal(c[0], "rflags=");
	free(c[0]);
	/* Every key offered is one `get` takes, and the old list's gaps are filled. */
	{
		static const char *const heads[] = { "port.1.", "vq.3." };

		for (size_t h = 0; h < 2; h++) {
			n = cmd_complete(f->s, "get ", heads[h], c, 64);
			assert_true(n >= 14);
			for (int i = 0; i < n; i++) {
				char line[96];

				if (strcmp(c[i], heads[h])) {
					snprintf(line, sizeof(line), "get %s", c[i]);
					EXPECT(line, CMD_OK, "\n");
				}
				free(c[i]);
			}
		}
		n = cmd_complete(f->s, "get ", "port.1.rx_bu", c, 64);
		assert_int_equal(n, 1);
		assert_string_equal(c[0], "port.1.rx_buffers");
		free(c[0]);
		n = cmd_complete(f->s, "get ", "port.1.", c, 64);
		assert_true(has(c, n, "port.1.rx_buffers") && has(c, n, "port.1.kept_bytes") &&
			    has(c, n, "port.1.tx_dropped") && has(c, n, "port.1.name"));
		for (int i = 0; i < n; i++)
			free(c[i]);
	}
}

static int done_result = -1;

static void done(struct session *s, void *o, int r, const char *m)
{
	done_result = r;
}

static void test_wait_console(void **state)
{
	struct cmd_fixture *f = *state;
	const char *text = "tg: booting\ntg: vcon ready\n";

	assert_int_equal(cmd_fixture_run(f, "wait console 'vcon (ready|up)' 10s"), CMD_WAIT);
	cmd_wait_set_done(f->s, done, NULL);
	assert_int_equal(done_result, -1);
	memcpy(f->s->history, text, strlen(text));
	f->s->history_len = f->s->history_total = strlen(text);
	cmd_wait_check(cmd_state_of(f->s));
	assert_int_equal(done_result, CMD_OK);
	assert_false(cmd_wait_pending(f->s));
	/* The next wait only sees what comes after the match. */
	done_result = -1;
	assert_int_equal(cmd_fixture_run(f, "wait console 'vcon ready' 1ms"), CMD_WAIT);
	cmd_wait_set_done(f->s, done, NULL);
	assert_int_equal(done_result, -1);
	usleep(5000);
	cmd_wait_check(cmd_state_of(f->s));
	assert_int_equal(done_result, CMD_FAIL);
}

/* The JSON writer: escapes in C strings and counted ones (NUL inside), numbers, growth. */
static void test_json_writer(void **state)
{
	struct cmd_out o;
	char big[600];

	(void)state;
	cmd_out_init(&o, true);
	jw_obj(&o, NULL);
	jw_str(&o, "a\"b", "q\"\\\n\r\t\x01\x7f\xc3 ok");
	jw_strn(&o, "n", "x\0y\"z", 5);
	jw_u64(&o, "zero", 0);
	jw_u64(&o, "max", UINT64_MAX);
	jw_u64(&o, "k\n", 1);
	jw_str(&o, "", "");
	jw_end(&o);
	assert_string_equal(o.buf, "{\"a\\\"b\":\"q\\\"\\\\\\n\\r\\t\\u0001\\u007f\\u00c3 ok\","
				   "\"n\":\"x\\u0000y\\\"z\",\"zero\":0,"
				   "\"max\":18446744073709551615,\"k\\n\":1,\"\":\"\"}");
	assert_int_equal(o.len, strlen(o.buf));
	cmd_out_free(&o);

	/* printf output that exactly fills the room left, then more than all of it. */
	cmd_out_init(&o, false);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	cmd_printf(&o, "%.250s", big);
	cmd_printf(&o, "%.5s", big);
	assert_int_equal(o.len, 255);
	cmd_printf(&o, "%s|%d", big, 7);
	assert_int_equal(o.len, 255 + 599 + 2);
	assert_int_equal(o.buf[o.len], 0);
	assert_memory_equal(o.buf + 255 + 599, "|7", 3);
	cmd_out_free(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test_setup_teardown(test_unknown_and_usage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_argument_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_commands, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_marker_in_ctl_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json, setup, teardown),
		cmocka_unit_test(test_json_writer),
		cmocka_unit_test_setup_teardown(test_help, setup, teardown),
		cmocka_unit_test_setup_teardown(test_monitor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_complete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_console, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
