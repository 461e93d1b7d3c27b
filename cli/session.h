/* A run of the machine: the main thread's event loop (terminal, console output, signals). */
#ifndef VMDBG_SESSION_H
#define VMDBG_SESSION_H

#include "options.h"

/* Build the VM from OPTS, boot it and serve it until it ends. Returns the exit status. */
int session_run(const struct options *opts);

#endif
