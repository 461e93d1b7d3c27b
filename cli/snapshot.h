/*
 * Snapshots of a session: `snapshot save|load|info` (REPL, scripts, gdb
 * monitor), --restore at start-up, and --snapshot-at / --snapshot-at-symbol.
 * The machine saves itself (emu/vm_snap.c) and the console its device state
 * (virtio/console_snap.c); port backends, the gdb stub and breakpoints are the
 * session's and stay attached across a load.
 */
#ifndef VMDBG_SNAPSHOT_H
#define VMDBG_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "emu/vm.h"

struct session;

struct snapshot_result {
	uint64_t ram_bytes, ram_total, file_bytes;
	uint64_t ms;           /* save or restore time */
	int ncpus;
};

/* Pause, write PATH, resume. 0 or -errno with MSG. */
int snapshot_save(struct session *s, const char *path, struct snapshot_result *res, char *msg,
		  size_t n);
/* Check PATH completely, then replace the running machine's state with it. */
int snapshot_load(struct session *s, const char *path, struct snapshot_result *res, char *msg,
		  size_t n);

/* --restore, before vm_create: open the file and fill CFG from it. */
int snapshot_restore_config(struct session *s, struct vm_config *cfg, char *err, size_t errlen);
/* --restore, instead of vm_load: the machine and the console get the saved state. */
int snapshot_restore_machine(struct session *s, char *err, size_t errlen);

/* --snapshot-at / --snapshot-at-symbol, after vm_start. */
int snapshot_at_start(struct session *s, char *err, size_t errlen);
/* Guest console bytes (for --snapshot-at). */
void snapshot_console_output(struct session *s, const uint8_t *buf, size_t len);
void snapshot_free(struct session *s);

#endif
