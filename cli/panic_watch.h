/*
 * Watches the guest console for "Kernel panic - not syncing", across chunk
 * boundaries, so a panicking guest ends the run with exit 3 and its
 * registers instead of spinning silently.
 */
#ifndef VMDBG_PANIC_WATCH_H
#define VMDBG_PANIC_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct panic_watch {
	size_t matched; /* bytes of the pattern matched so far */
};

/* True once the whole pattern has gone by. */
bool panic_watch_feed(struct panic_watch *w, const uint8_t *buf, size_t len);

#endif
