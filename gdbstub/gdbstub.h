/*
 * The gdb remote stub (docs/gdbstub.md): one gdb at a time over TCP
 * (127.0.0.1 unless a host is named) or a unix socket, driven by the main
 * thread's event loop. gdb thread N+1 is vCPU N; every stop is all-stop.
 *
 * Call gdb_start after vm_create and before vm_start. With WAIT the debugger
 * takes its stop reference at once (emu/debug.h debug_stop_all), so the vCPU
 * threads vm_start starts park before their first instruction and run only when
 * gdb continues. Without WAIT the VM runs and an attaching gdb stops it.
 * Detach (or the connection closing) removes gdb's breakpoints and lets the VM
 * run on; `kill` ends the run through vm_end.
 */
#ifndef VMDBG_GDBSTUB_H
#define VMDBG_GDBSTUB_H

#include <stdbool.h>
#include <stddef.h>

struct vm;
struct evloop;
struct gdbstub;

typedef void (*gdb_monitor_fn)(void *opaque, const char *cmd, char **out /* malloc'd text, caller frees */);

int gdb_start(struct gdbstub **out, struct vm *vm, struct evloop *loop,
	      const char *spec /* "tcp:[HOST:]PORT" or "unix:PATH" */,
	      bool wait /* --gdb-wait: vCPUs held before their first instruction until gdb attaches */,
	      gdb_monitor_fn monitor, void *opaque, char *err, size_t errlen);
void gdb_stop(struct gdbstub *g);

/*
 * FN(OPAQUE) runs on the main thread each time a gdb attaches, once every vCPU has stopped:
 * the stop is gdb's from then on, so whoever else held the VM (a break-on's pause) lets go.
 */
typedef void (*gdb_attach_fn)(void *opaque);
void gdb_on_attach(struct gdbstub *g, gdb_attach_fn fn, void *opaque);

/*
 * A device-event breakpoint stopped the VM (REPL's break-on): report a stop to
 * an attached gdb with an 'O' console packet naming the event. The stub takes
 * the debugger's stop reference (debug_stop_all), so gdb's continue resumes the
 * VM; a caller that also holds a vm_pause must drop it itself.
 */
/* Returns true when an attached gdb now holds the stop (its continue resumes the VM). */
bool gdb_report_event_stop(struct gdbstub *g, int cpu, const char *what);

/*
 * Whether an attached gdb holds the current stop (it sent no continue or step since its
 * last stop reply): then gdb owns run control, and PEER gets its address for messages.
 */
bool gdb_holds_stop(struct gdbstub *g, char *peer, size_t n);

/*
 * Tell an attached gdb whose guest runs (it waits for a stop reply) that the machine changed
 * under it (a snapshot loaded, a reboot): an 'O' console packet, which gdb prints. Nothing
 * is sent otherwise: between stops gdb expects replies to its own packets only.
 */
void gdb_note_change(struct gdbstub *g, const char *what);

#endif
