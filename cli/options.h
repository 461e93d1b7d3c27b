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
	bool repl, json;
	struct port_opt ports[OPT_MAX_PORTS];
	struct port_opt serial; /* COM1 (--serial); PORT_DEFAULT: stdio */
	const char *serial2;  /* path (from file:PATH) */
	const char *trace;    /* mmio,ctl,vq,irq[:FILE] */
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

#include <stdio.h>
void options_usage(FILE *out);

#endif
