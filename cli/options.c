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

#define MIN_MEM (16ULL << 20)
#define MAX_MEM (1ULL << 40)
#define MAX_CPUS 64

enum {
	OPT_KERNEL = 256, OPT_INITRD, OPT_APPEND, OPT_MEM, OPT_CPUS, OPT_CPUID, OPT_GDB,
	OPT_GDB_WAIT, OPT_SCRIPT, OPT_REPL, OPT_JSON, OPT_PORT, OPT_SERIAL2, OPT_TRACE,
	OPT_VIRTIO_CMDLINE, OPT_NO_PVM, OPT_REBOOT, OPT_VERSION, OPT_RESTORE, OPT_SNAP_AT, OPT_SNAP_AT_SYM,
	OPT_SNAP_FILE, OPT_SNAP_EXIT, OPT_PROBE_KVM, OPT_SERIAL,
};

static const struct option long_opts[] = {
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "append", required_argument, NULL, OPT_APPEND },
	{ "mem", required_argument, NULL, OPT_MEM },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "cpuid", required_argument, NULL, OPT_CPUID },
	{ "gdb", required_argument, NULL, OPT_GDB },
	{ "gdb-wait", no_argument, NULL, OPT_GDB_WAIT },
	{ "script", required_argument, NULL, OPT_SCRIPT },
	{ "repl", no_argument, NULL, OPT_REPL },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "port", required_argument, NULL, OPT_PORT },
	{ "serial", required_argument, NULL, OPT_SERIAL },
	{ "serial2", required_argument, NULL, OPT_SERIAL2 },
	{ "trace", required_argument, NULL, OPT_TRACE },
	{ "virtio-cmdline", no_argument, NULL, OPT_VIRTIO_CMDLINE },
	{ "no-pvm-workarounds", no_argument, NULL, OPT_NO_PVM },
	{ "reboot", no_argument, NULL, OPT_REBOOT },
	{ "restore", required_argument, NULL, OPT_RESTORE },
	{ "snapshot-at", required_argument, NULL, OPT_SNAP_AT },
	{ "snapshot-at-symbol", required_argument, NULL, OPT_SNAP_AT_SYM },
	{ "snapshot-file", required_argument, NULL, OPT_SNAP_FILE },
	{ "snapshot-exit", no_argument, NULL, OPT_SNAP_EXIT },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "probe-kvm", no_argument, NULL, OPT_PROBE_KVM },
	{ 0 },
};

void options_usage(FILE *out)
{
	fputs("usage: vmdbg --kernel FILE [options]\n"
	      "       vmdbg --restore SNAPSHOT [options]\n"
	      "       vmdbg --probe-kvm\n"
	      "  --kernel FILE        ELF kernel (vmlinux, PVH note or 64-bit entry) or bzImage\n"
	      "  --initrd FILE        initial ramdisk\n"
	      "  --append STR         kernel command line (default for Linux: console=ttyS0)\n"
	      "  --mem SIZE           guest RAM, e.g. 512M or 2G (default 256M, min 16M)\n"
	      "  --cpus N             vCPUs, 1 to 64 (default 1)\n"
	      "  --cpuid -F,-G        hide CPUID features from the guest (names as in /proc/cpuinfo)\n"
	      "  --gdb tcp:[HOST:]PORT|unix:PATH   gdb remote stub\n"
	      "  --gdb-wait           hold the vCPUs until gdb attaches\n"
	      "  --script FILE        run REPL commands from FILE\n"
	      "  --repl               interactive command prompt (Ctrl-A C switches)\n"
	      "  --json               JSON output for commands; stdout carries nothing else (the\n"
	      "                       console's stdio output goes to stderr)\n"
	      "  --serial stdio|file:PATH|unix:PATH|null   COM1's backend (default stdio: the\n"
	      "                       terminal; a unix socket keeps output for its next client)\n"
	      "  --port N:stdio|file:PATH|unix:PATH|null   backend of console port N (0-2)\n"
	      "  --serial2 file:PATH  COM2 output to a file\n"
	      "  --trace mmio,ctl,vq,irq[:FILE]   event trace\n"
	      "  --virtio-cmdline     append virtio_mmio.device=... for kernels without ACPI\n"
	      "  --no-pvm-workarounds add neither clearcpuid= (PVM hosts) nor rdinit=/idle and\n"
	      "                       vmdbg's own /idle (KVMs where guest system calls fail)\n"
	      "  --reboot             a guest reboot resets the machine and boots again (RAM kept)\n"
	      "                       instead of ending the run\n"
	      "  --restore FILE       resume the machine saved in snapshot FILE (no --kernel needed)\n"
	      "  --snapshot-at REGEX  save a snapshot when a guest console line first matches\n"
	      "  --snapshot-at-symbol SYM  save a snapshot when a vCPU first reaches kernel symbol SYM\n"
	      "  --snapshot-file FILE where --snapshot-at* saves (default vmdbg.snap)\n"
	      "  --snapshot-exit      end the run (exit 0) once that snapshot is saved\n"
	      "  --probe-kvm          print what this KVM reports of guest debugging (int3, debug\n"
	      "                       registers, single-step: run in a throw-away VM, \"no (why)\")\n"
	      "                       and the KVM_CAP values vmdbg uses, then exit; REPL: info kvm\n"
	      "  -v, --verbose        more messages (twice: debug)\n"
	      "  -h, --help           this text\n"
	      "exit status: 0 guest powered off or session ended, 1 script assertion or wait failed,\n"
	      "             2 bad usage or setup, 3 guest crashed\n",
	      out);
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

static int check_trace(const char *arg, char *err, size_t errlen)
{
	static const char *const kinds[] = { "mmio", "ctl", "vq", "irq", "pio" };
	size_t len = strcspn(arg, ":");
	const char *p = arg;

	if (len == 0)
		return fail(err, errlen, "--trace '%s': name at least one of mmio,ctl,vq,irq,pio", arg);
	while (p < arg + len) {
		size_t w = strcspn(p, ",:");
		bool ok = false;

		for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
			ok |= strlen(kinds[i]) == w && !strncmp(kinds[i], p, w);
		if (!ok)
			return fail(err, errlen, "--trace: unknown event kind '%.*s' (mmio, ctl, vq, irq, pio)",
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
	long n;
	int c;

	memset(o, 0, sizeof(*o));
	o->mem_size = VM_DEFAULT_MEM;
	o->cpus = 1;
	o->pvm_workarounds = true;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":vh", long_opts, NULL)) != -1) {
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
	if (!o->kernel && !o->restore)
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
