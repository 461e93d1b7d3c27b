#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/cpuid.h"
#include "emu/vm.h"
#include "reference.h"

#define MIN_MEM (16ULL << 20)
#define MAX_MEM (1ULL << 40)
#define MAX_CPUS 64

/* The event kinds --trace takes, in the order --help and the man page list them. */
#define TRACE_KINDS "mmio,ctl,vq,irq,pio"

enum {
	OPT_KERNEL = 256, OPT_INITRD, OPT_APPEND, OPT_MEM, OPT_CPUS, OPT_CPUID, OPT_GDB,
	OPT_GDB_WAIT, OPT_SCRIPT, OPT_REPL, OPT_JSON, OPT_PORT, OPT_SERIAL2, OPT_TRACE,
	OPT_VIRTIO_CMDLINE, OPT_NO_PVM, OPT_REBOOT, OPT_VERSION, OPT_RESTORE, OPT_SNAP_AT, OPT_SNAP_AT_SYM,
	OPT_SNAP_FILE, OPT_SNAP_EXIT, OPT_PROBE_KVM, OPT_REFERENCE, OPT_CHECK_SCRIPT, OPT_SERIAL,
	OPT_PROFILE,
};

/*
 * Every option, once: getopt's table, --help, and the reference (the man page's OPTIONS, the
 * README's options table: cli/reference.c) are all made from these rows, so they cannot drift.
 * A new option is an OPT_ value above, a row here and a case in options_parse; then
 * `make readme` puts its DOC into the README.
 *   { NAME, ID (OPT_... or the short letter), ARG (metavariable, NULL for a flag),
 *     HELP (--help's text, "\n" between lines; NULL hides the option),
 *     DOC (the man page and README text, `code` in backquotes) },
 */
const struct opt_def options_table[] = {
	{ "kernel", OPT_KERNEL, "FILE",
	  "ELF kernel (vmlinux, PVH note or 64-bit entry) or bzImage",
	  "an ELF kernel (a `vmlinux` with the PVH entry note is entered in 32-bit protected mode "
	  "as Xen PVH does; an ELF64 without it at its 64-bit entry) or a bzImage (Linux 64-bit "
	  "boot protocol). Symbols are read from the ELF's `.symtab`" },
	{ "initrd", OPT_INITRD, "FILE",
	  "initial ramdisk",
	  "initial ramdisk, placed at the top of low RAM" },
	{ "append", OPT_APPEND, "STR",
	  "kernel command line (default for Linux: console=ttyS0)",
	  "kernel command line. Default for Linux kernels: `console=ttyS0`" },
	{ "mem", OPT_MEM, "SIZE",
	  "guest RAM, e.g. 512M or 2G (default 256M, min 16M)",
	  "guest RAM, `512M`, `2G`, ... (default 256M, 16M to 1T). RAM above 3 GiB moves past the "
	  "3–4 GiB hole" },
	{ "cpus", OPT_CPUS, "N",
	  "vCPUs, 1 to 64 (default 1)",
	  "vCPUs, 1 to 64 (default 1): a thread and an APIC id each, all in the MADT" },
	{ "cpuid", OPT_CPUID, "-F,-G",
	  "hide CPUID features from the guest (names as in /proc/cpuinfo)",
	  "hide CPUID features from the guest (names as in `/proc/cpuinfo`: `cx16`, `xsave`, "
	  "`smap`, `popcnt`, ...)" },
	{ "gdb", OPT_GDB, "SPEC",
	  "gdb remote stub on tcp:[HOST:]PORT or unix:PATH",
	  "gdb remote stub on `tcp:PORT` (127.0.0.1), `tcp:HOST:PORT` or `unix:PATH`" },
	{ "gdb-wait", OPT_GDB_WAIT, NULL,
	  "hold the vCPUs until gdb attaches",
	  "hold every vCPU before its first instruction until gdb attaches (QEMU's `-S`)" },
	{ "script", OPT_SCRIPT, "FILE",
	  "run REPL commands from FILE (checked whole before the guest starts)",
	  "run commands from FILE against the booting guest; exit 1 at the first failed `assert`, "
	  "`wait` or other command (file:line is printed). The whole file is checked first, as `--check-script` "
	  "does: a mistake exits 2 before the guest runs an instruction" },
	{ "check-script", OPT_CHECK_SCRIPT, "FILE",
	  "only check FILE (commands, arguments, event names, regexes;\n"
	  "symbols with --kernel, vCPU numbers with --cpus), then exit",
	  "only check script FILE, and the files it `source`s: command names, argument counts, and "
	  "every argument its command can judge without the guest (numbers, timeouts, event and "
	  "status names, queue and port numbers, regexes, register names, `get`/`assert` paths and "
	  "value types). vCPU numbers are checked against `--cpus` when given, symbols against "
	  "`--kernel` when given. Exit 0, or 2 with `FILE:LINE: what is wrong`. Needs no KVM" },
	{ "repl", OPT_REPL, NULL,
	  "interactive command prompt (Ctrl-A C switches)",
	  "the command prompt (`C-a c` switches between it and the guest console). With stdin not a "
	  "terminal (a pipe, a file) each line is one command, run in order (a `wait` holds the next "
	  "line back), printed without prompt or echo; the end of input ends the session like "
	  "`quit`" },
	{ "json", OPT_JSON, NULL,
	  "JSON output for commands; stdout carries nothing else (the\n"
	  "console's stdio output goes to stderr)",
	  "commands print JSON, and stdout carries nothing else: the guest console's stdio output "
	  "(COM1, stdio ports), notices (trace lines, break-on stops) and vmdbg's messages go to "
	  "stderr" },
	{ "serial", OPT_SERIAL, "BACKEND",
	  "COM1's backend: stdio (default: the terminal), file:PATH,\n"
	  "unix:PATH (keeps output for its next client) or null",
	  "COM1's backend: `stdio` (default: the terminal, with `C-a` escapes), `file:PATH`, "
	  "`unix:PATH` (a socket that one client at a time reads and types into; while none is "
	  "connected the newest 1 MiB of output waits for the next, so a late client reads from the "
	  "first line and an absent one never holds the guest back; a slow one slows it, as a slow "
	  "terminal does), `null`. Whatever the backend, COM1's output is still watched by `wait "
	  "console`, `--snapshot-at` and the panic watch, and the terminal still takes `C-a` escapes "
	  "and feeds stdio ports" },
	{ "port", OPT_PORT, "N:BACKEND",
	  "backend of console port N (0-2): stdio, file:PATH, unix:PATH\n"
	  "or null",
	  "backend of console port N: `stdio` (default for port 0, hvc0: shares the terminal with "
	  "COM1), `file:PATH`, `unix:PATH` (default for port 2: `$TMPDIR/vmdbg-PID-port2.sock`, "
	  "both ways), `null`. Port 1 is kept in memory by default for `port dump` and `port "
	  "frames`. A slow or absent reader slows the guest instead of losing bytes. When the run "
	  "ends, tx buffers the guest published without a notify are captured and delivered too "
	  "(the final drain)" },
	{ "serial2", OPT_SERIAL2, "file:PATH",
	  "COM2 output to a file",
	  "COM2 (0x2f8, IRQ 3) output to a file" },
	{ "trace", OPT_TRACE, "KINDS[:FILE]",
	  "event trace, KINDS from " TRACE_KINDS,
	  "log mmio, ctl, vq, irq and pio events with timestamps and vCPU (also `trace on` in the "
	  "REPL)" },
	{ "profile", OPT_PROFILE, "FILE",
	  "profile the whole run at 1000 Hz; at its end write folded\n"
	  "stacks to FILE (a flame graph if FILE ends in .svg)",
	  "profile every vCPU from the first instruction to the end of the run at 1000 Hz (the "
	  "REPL's `profile start`), then write the folded stacks to FILE, or a flame graph when FILE "
	  "ends in `.svg` (`profile folded` / `profile svg`); FILE is created at the start, so an "
	  "unwritable one fails there (exit 2). `profile report` shows the run so far" },
	{ "virtio-cmdline", OPT_VIRTIO_CMDLINE, NULL,
	  "append virtio_mmio.device=... for kernels without ACPI",
	  "append `virtio_mmio.device=4K@0xd0000000:5` for kernels that do not read ACPI" },
	{ "no-pvm-workarounds", OPT_NO_PVM, NULL,
	  "add neither clearcpuid= (PVM hosts) nor rdinit=/idle and\n"
	  "vmdbg's own /idle (KVMs where guest system calls fail)",
	  "keep the guest's command line and CPUID as given: no `clearcpuid=` on a PVM host, no "
	  "`rdinit=/idle` (and no appended `/idle`) where guest system calls fail" },
	{ "probe-kvm", OPT_PROBE_KVM, NULL,
	  "print what this KVM reports of guest debugging (int3, debug\n"
	  "registers, single-step: run in a throw-away VM, \"no (why)\")\n"
	  "and the KVM_CAP values vmdbg uses, then exit; REPL: info kvm",
	  "print what this KVM reports of guest debugging and whether guest user space can make "
	  "system calls, one `name: yes|no (what happened)` line each (`sw-breakpoint`, "
	  "`hw-breakpoint`, `watchpoint`, `single-step`, `guest-syscall`), then the KVM_CAP values "
	  "vmdbg uses, and exit 0 (2 without a usable `/dev/kvm`). The same probe runs at the first "
	  "breakpoint; a breakpoint the KVM cannot report is refused with its finding (gdb gets an "
	  "error reply)" },
	{ "reboot", OPT_REBOOT, NULL,
	  "a guest reboot resets the machine and boots again (RAM kept)\n"
	  "instead of ending the run",
	  "a guest reboot (the FADT's reset register, or KVM's reset event) resets the machine and "
	  "boots the same kernel, initrd and command line again, as QEMU's `system_reset` does: RAM "
	  "is kept (only what the loader writes changes), every vCPU, the irqchip, PIT and UARTs "
	  "go back to power-on, the console resets as its driver's Status 0 write would (tx chains "
	  "the guest had published are captured; host buffers, port backends and the gdb connection "
	  "stay), breakpoints are put back over the reloaded kernel, and `handshake` looks at the "
	  "new boot. Also after `--restore` (the snapshot's kernel and initrd are loaded). Without "
	  "it a reboot ends the run (exit 0)" },
	{ "restore", OPT_RESTORE, "FILE",
	  "resume the machine saved in snapshot FILE (no --kernel needed)",
	  "resume the machine saved in snapshot FILE instead of booting (`--kernel` optional: the "
	  "snapshot's kernel, recorded by absolute path and build id, is used when readable; "
	  "`--kernel FILE` names it when it moved, and a kernel with another build id is refused)" },
	{ "snapshot-at", OPT_SNAP_AT, "REGEX",
	  "save a snapshot when a guest console line first matches",
	  "save a snapshot when a guest console line (COM1 or a stdio port, CR dropped) first "
	  "matches the extended REGEX" },
	{ "snapshot-at-symbol", OPT_SNAP_AT_SYM, "SYM",
	  "save a snapshot when a vCPU first reaches kernel symbol SYM",
	  "save a snapshot when a vCPU first reaches kernel symbol SYM (a hardware breakpoint, "
	  "removed after the hit; KASLR kernels need `nokaslr`)" },
	{ "snapshot-file", OPT_SNAP_FILE, "FILE",
	  "where --snapshot-at* saves (default vmdbg.snap)",
	  "where `--snapshot-at*` saves (default `vmdbg.snap`)" },
	{ "snapshot-exit", OPT_SNAP_EXIT, NULL,
	  "end the run (exit 0) once that snapshot is saved",
	  "end the run (exit 0) once that snapshot is saved" },
	{ "verbose", 'v', NULL,
	  "more messages (twice: debug)",
	  "more messages (`-vv`: debug, including every unclaimed port access)" },
	{ "help", 'h', NULL,
	  "this text",
	  "print the options and the exit statuses, then exit 0" },
	{ "version", OPT_VERSION, NULL,
	  "print the version, then exit",
	  "print vmdbg's version and its snapshot format version, then exit 0" },
	/* Hidden: `make` writes build/vmdbg.1 and `make readme` the README's reference with it. */
	{ "reference", OPT_REFERENCE, "FORMAT", NULL,
	  "print the reference: `man` (the man page), `options.md`, `commands.md` or `exits.md` (README)" },
};
const size_t options_count = sizeof(options_table) / sizeof(options_table[0]);

/* How vmdbg is started, for --help's usage lines and the man page's SYNOPSIS. */
const char *const options_synopsis[] = {
	"--kernel FILE [OPTIONS]",
	"--restore SNAPSHOT [OPTIONS]",
	"--probe-kvm",
	"--check-script FILE [--kernel FILE] [--cpus N]",
	NULL,
};

/* README "Exit status"; --help prints HELP, the man page's EXIT STATUS prints DOC. */
const struct exit_def options_exits[] = {
	{ EXIT_OK, "guest powered off or session ended",
	  "the guest powered off (ACPI S5) or, without `--reboot`, asked for a reboot, a script "
	  "finished, the session was ended (`C-a x`, `quit`, gdb's `kill`, SIGTERM, SIGINT), or "
	  "`--snapshot-exit` after its snapshot" },
	{ EXIT_SCRIPT_FAILED, "script assertion or wait failed",
	  "a script failed: an `assert` or `wait` (file:line and both sides are printed) or any other command that fails at run time (file:line and its error)" },
	{ EXIT_USAGE, "bad usage or setup, or a script mistake",
	  "bad usage or setup: unknown flag, bad value, missing, empty, truncated or non-kernel "
	  "`--kernel`, an initrd that does not fit, no `/dev/kvm`, a missing, truncated, corrupted "
	  "or wrong-version `--restore` snapshot, a kernel whose build id is not the snapshot's, a mistake in a `--script` or `--check-script` file "
	  "(found before the guest starts: `FILE:LINE: what is wrong`) — always one line naming what "
	  "was wrong" },
	{ EXIT_GUEST_CRASHED, "guest crashed",
	  "the guest crashed: triple fault, an instruction KVM cannot emulate and vmdbg cannot "
	  "complete, a KVM internal error, or a guest `Kernel panic`; the registers are printed. "
	  "Also a `--reboot` that could not load the kernel again" },
	{ -1, NULL, NULL },
};

/* "--kernel FILE", "-v, --verbose": how --help and the reference name an option. */
void options_flag(const struct opt_def *d, char *buf, size_t n)
{
	char s[8] = "";

	if (d->id < 256)
		snprintf(s, sizeof(s), "-%c, ", d->id);
	snprintf(buf, n, "%s--%s%s%s", s, d->name, d->arg ? " " : "", d->arg ? d->arg : "");
}

void options_usage(FILE *out)
{
	for (int i = 0; options_synopsis[i]; i++)
		fprintf(out, "%s vmdbg %s\n", i ? "      " : "usage:", options_synopsis[i]);
	for (size_t i = 0; i < options_count; i++) {
		const struct opt_def *d = &options_table[i];
		char flag[64];

		if (!d->help)
			continue;
		options_flag(d, flag, sizeof(flag));
		fprintf(out, "  %-20s%s", flag, strlen(flag) <= 20 ? " " : "  ");
		/* HELP's further lines start under its first. */
		for (const char *p = d->help; *p; p++) {
			fputc(*p, out);
			if (*p == '\n')
				fprintf(out, "%23s", "");
		}
		fputc('\n', out);
	}
	for (int i = 0; options_exits[i].status >= 0; i++)
		fprintf(out, "%s%d %s\n", i ? "             " : "exit status: ", options_exits[i].status,
			options_exits[i].help);
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	default: break;
	}
	if (shift && (*end == 'i' || *end == 'I'))
		end++;
	if (shift && (*end == 'b' || *end == 'B'))
		end++;
	if (*end)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

static int parse_int(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* stdio, null, file:PATH or unix:PATH into P; false when SPEC is none of them. */
static bool parse_backend(const char *spec, struct port_opt *p)
{
	if (!strcmp(spec, "stdio")) {
		p->kind = PORT_STDIO;
	} else if (!strcmp(spec, "null")) {
		p->kind = PORT_NULL;
	} else if (!strncmp(spec, "file:", 5) && spec[5]) {
		p->kind = PORT_FILE;
		p->path = spec + 5;
	} else if (!strncmp(spec, "unix:", 5) && spec[5]) {
		p->kind = PORT_UNIX;
		p->path = spec + 5;
	} else {
		return false;
	}
	return true;
}

static int parse_port(const char *arg, struct options *o, char *err, size_t errlen)
{
	const char *spec = strchr(arg, ':');
	long n;
	char num[8];
	struct port_opt *p;

	if (!spec || spec == arg || (size_t)(spec - arg) >= sizeof(num))
		return fail(err, errlen, "--port '%s': expected N:stdio|file:PATH|unix:PATH|null", arg);
	memcpy(num, arg, spec - arg);
	num[spec - arg] = 0;
	if (parse_int(num, 0, OPT_MAX_PORTS - 1, &n))
		return fail(err, errlen, "--port '%s': port must be 0, 1 or 2", arg);
	p = &o->ports[n];
	if (!parse_backend(spec + 1, p))
		return fail(err, errlen, "--port '%s': backend must be stdio, file:PATH, unix:PATH or null",
			    arg);
	return 0;
}

static int check_gdb(const char *arg, char *err, size_t errlen)
{
	const char *port;
	long n;

	if (!strncmp(arg, "unix:", 5) && arg[5])
		return 0;
	if (strncmp(arg, "tcp:", 4))
		return fail(err, errlen, "--gdb '%s': expected tcp:[HOST:]PORT or unix:PATH", arg);
	port = strrchr(arg + 4, ':');
	port = port ? port + 1 : arg + 4;
	if (parse_int(port, 0, 65535, &n))
		return fail(err, errlen, "--gdb '%s': port must be a number from 0 to 65535", arg);
	return 0;
}

/* Is the LEN bytes at WORD one of the comma-separated words of LIST? */
static bool in_list(const char *list, const char *word, size_t len)
{
	for (const char *p = list; *p;) {
		size_t w = strcspn(p, ",");

		if (w == len && !strncmp(p, word, len))
			return true;
		p += w + (p[w] == ',');
	}
	return false;
}

static int check_trace(const char *arg, char *err, size_t errlen)
{
	size_t len = strcspn(arg, ":");
	const char *p = arg;

	if (len == 0)
		return fail(err, errlen, "--trace '%s': name at least one of " TRACE_KINDS, arg);
	while (p < arg + len) {
		size_t w = strcspn(p, ",:");

		if (!in_list(TRACE_KINDS, p, w))
			return fail(err, errlen, "--trace: unknown event kind '%.*s' (" TRACE_KINDS ")",
				    (int)w, p);
		p += w;
		if (*p == ',')
			p++;
	}
	if (arg[len] == ':' && !arg[len + 1])
		return fail(err, errlen, "--trace '%s': empty file name after ':'", arg);
	return 0;
}

int options_parse(int argc, char **argv, struct options *o, char *err, size_t errlen)
{
	struct option long_opts[sizeof(options_table) / sizeof(options_table[0]) + 1] = { 0 };
	char short_opts[2 * (sizeof(options_table) / sizeof(options_table[0])) + 2] = ":";
	long n;
	int c;

	/* getopt's tables from options_table: ':' first reports a missing value apart. */
	for (size_t i = 0; i < options_count; i++) {
		const struct opt_def *d = &options_table[i];

		long_opts[i] = (struct option){ d->name, d->arg ? required_argument : no_argument, NULL,
						d->id };
		if (d->id < 256) {
			size_t k = strlen(short_opts);

			short_opts[k++] = (char)d->id;
			if (d->arg)
				short_opts[k++] = ':';
			short_opts[k] = 0;
		}
	}
	memset(o, 0, sizeof(*o));
	o->mem_size = VM_DEFAULT_MEM;
	o->cpus = 1;
	o->pvm_workarounds = true;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, short_opts, long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_KERNEL: o->kernel = optarg; break;
		case OPT_INITRD: o->initrd = optarg; break;
		case OPT_APPEND: o->append = optarg; break;
		case OPT_MEM:
			o->mem_set = true;
			if (parse_size(optarg, &o->mem_size))
				return fail(err, errlen, "--mem '%s': expected a size such as 256M or 2G", optarg);
			if (o->mem_size < MIN_MEM || o->mem_size > MAX_MEM)
				return fail(err, errlen, "--mem '%s': must be between 16M and 1T", optarg);
			if (o->mem_size & 0xfff)
				return fail(err, errlen, "--mem '%s': must be a multiple of 4K", optarg);
			break;
		case OPT_CPUS:
			o->cpus_set = true;
			if (parse_int(optarg, 1, MAX_CPUS, &n))
				return fail(err, errlen, "--cpus '%s': must be a whole number from 1 to %d",
					    optarg, MAX_CPUS);
			o->cpus = (int)n;
			break;
		case OPT_CPUID: o->cpuid = optarg; break;
		case OPT_GDB:
			if (check_gdb(optarg, err, errlen))
				return -EINVAL;
			o->gdb = optarg;
			break;
		case OPT_GDB_WAIT: o->gdb_wait = true; break;
		case OPT_SCRIPT: o->script = optarg; break;
		case OPT_CHECK_SCRIPT: o->check_script = optarg; break;
		case OPT_REPL: o->repl = true; break;
		case OPT_JSON: o->json = true; break;
		case OPT_PORT:
			if (parse_port(optarg, o, err, errlen))
				return -EINVAL;
			break;
		case OPT_SERIAL:
			if (!parse_backend(optarg, &o->serial))
				return fail(err, errlen, "--serial '%s': expected stdio, file:PATH, unix:PATH or null",
					    optarg);
			break;
		case OPT_SERIAL2:
			if (strncmp(optarg, "file:", 5) || !optarg[5])
				return fail(err, errlen, "--serial2 '%s': expected file:PATH", optarg);
			o->serial2 = optarg + 5;
			break;
		case OPT_TRACE:
			if (check_trace(optarg, err, errlen))
				return -EINVAL;
			o->trace = optarg;
			break;
		case OPT_PROFILE:
			if (!*optarg)
				return fail(err, errlen, "--profile: empty file name");
			o->profile = optarg;
			break;
		case OPT_VIRTIO_CMDLINE: o->virtio_cmdline = true; break;
		case OPT_NO_PVM: o->pvm_workarounds = false; break;
		case OPT_REBOOT: o->reboot = true; break;
		case OPT_RESTORE: o->restore = optarg; break;
		case OPT_SNAP_AT: o->snapshot_at = optarg; break;
		case OPT_SNAP_AT_SYM: o->snapshot_at_symbol = optarg; break;
		case OPT_SNAP_FILE: o->snapshot_file = optarg; break;
		case OPT_SNAP_EXIT: o->snapshot_exit = true; break;
		case 'v': o->verbose++; break;
		case 'h': o->help = true; return 0;
		case OPT_VERSION: o->version = true; return 0;
		case OPT_PROBE_KVM: o->probe_kvm = true; return 0;
		case OPT_REFERENCE:
			if (!in_list(REFERENCE_FORMATS, optarg, strlen(optarg)))
				return fail(err, errlen, "--reference '%s': expected one of " REFERENCE_FORMATS,
					    optarg);
			o->reference = optarg;
			return 0;
		case ':':
			return fail(err, errlen, "option '%s' needs a value", argv[optind - 1]);
		default:
			return fail(err, errlen, "unknown option '%s' (see --help)", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return fail(err, errlen, "unexpected argument '%s' (see --help)", argv[optind]);
	if (o->restore && (o->initrd || o->append || o->mem_set || o->cpus_set || o->cpuid))
		return fail(err, errlen, "--restore: --initrd, --append, --mem, --cpus and --cpuid come "
			    "from the snapshot and cannot be given with it");
	if (!o->kernel && !o->restore && !o->check_script)
		return fail(err, errlen, "no kernel: use --kernel FILE or --restore SNAPSHOT (see --help)");
	if (o->snapshot_at) {
		regex_t re;
		int rc = regcomp(&re, o->snapshot_at, REG_EXTENDED | REG_NOSUB);

		if (rc) {
			char why[128];

			regerror(rc, &re, why, sizeof(why));
			return fail(err, errlen, "--snapshot-at '%s': %s", o->snapshot_at, why);
		}
		regfree(&re);
	}
	if (o->snapshot_at_symbol && !*o->snapshot_at_symbol)
		return fail(err, errlen, "--snapshot-at-symbol: empty symbol name");
	if ((o->snapshot_file || o->snapshot_exit) && !o->snapshot_at && !o->snapshot_at_symbol)
		return fail(err, errlen, "--snapshot-file and --snapshot-exit need --snapshot-at or "
			    "--snapshot-at-symbol");
	if (!o->snapshot_file)
		o->snapshot_file = "vmdbg.snap";
	if (o->gdb_wait && !o->gdb)
		return fail(err, errlen, "--gdb-wait needs --gdb");
	if (o->cpuid && cpuid_filter(NULL, o->cpuid, err, errlen))
		return -EINVAL;
	return 0;
}
