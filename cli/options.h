/* The command line (DESIGN.md "Command line"): parsed and checked before any KVM work. */
#ifndef VMDBG_OPTIONS_H
#define VMDBG_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OPT_MAX_PORTS 3

enum port_opt_kind { PORT_DEFAULT, PORT_STDIO, PORT_FILE, PORT_UNIX, PORT_NULL };

struct port_opt {
	enum port_opt_kind kind;
	const char *path;
};

struct options {
	const char *kernel, *initrd, *append;
	uint64_t mem_size;
	int cpus;
	const char *cpuid;
	const char *gdb;      /* tcp:[HOST:]PORT or unix:PATH */
	bool gdb_wait;
	const char *script;
	const char *check_script; /* --check-script: check this script, run nothing */
	bool repl, json;
	struct port_opt ports[OPT_MAX_PORTS];
	struct port_opt serial; /* COM1 (--serial); PORT_DEFAULT: stdio */
	const char *serial2;  /* path (from file:PATH) */
	const char *trace;    /* mmio,ctl,vq,irq,pio[:FILE] */
	const char *profile;  /* --profile FILE: folded stacks (.svg: a flame graph) of the whole run */
	bool virtio_cmdline;
	bool pvm_workarounds;
	bool reboot;          /* --reboot: a guest reboot resets the machine instead of ending the run */
	bool mem_set, cpus_set;       /* given on the command line (not with --restore) */
	const char *restore;          /* snapshot to resume instead of booting */
	const char *snapshot_at;      /* regex on the guest console */
	const char *snapshot_at_symbol;
	const char *snapshot_file;    /* where --snapshot-at* saves */
	bool snapshot_exit;
	int verbose;
	bool help, version;
	bool probe_kvm;       /* --probe-kvm: print what KVM reports of guest debugging, exit */
	const char *reference; /* --reference FORMAT: print the reference (cli/reference.h), exit */
};

/* Exit statuses (README "Exit status"). */
enum {
	EXIT_OK = 0,
	EXIT_SCRIPT_FAILED = 1,
	EXIT_USAGE = 2,
	EXIT_GUEST_CRASHED = 3,
};

/*
 * Parse ARGV into OPTS. Returns 0, or -EINVAL with ERR holding one line that
 * names the flag and what is wrong with it. Files are not opened here.
 */
int options_parse(int argc, char **argv, struct options *opts, char *err, size_t errlen);

/* "256M", "1G", "1048576" (bytes when no suffix, K/M/G/T powers of 1024). */
int parse_size(const char *s, uint64_t *out);

/* One option (cli/options.c's options_table): ID is an OPT_ value or the short letter. */
struct opt_def {
	const char *name; /* without the -- */
	int id;
	const char *arg;  /* metavariable; NULL: the option takes no value */
	const char *help; /* --help's text, "\n" between lines; NULL: hidden */
	const char *doc;  /* the man page's and the README's text; `code` in backquotes */
};
extern const struct opt_def options_table[];
extern const size_t options_count;
/* "--kernel FILE [options]", ...: how vmdbg is started; NULL-terminated. */
extern const char *const options_synopsis[];

/* One exit status: --help prints HELP, the man page DOC; the last has STATUS -1. */
struct exit_def {
	int status;
	const char *help, *doc;
};
extern const struct exit_def options_exits[];

/* "--kernel FILE", "-v, --verbose": the option as --help and the reference name it. */
void options_flag(const struct opt_def *d, char *buf, size_t n);

#include <stdio.h>
void options_usage(FILE *out);

#endif
