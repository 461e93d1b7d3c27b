#include "panic_watch.h"

static const char pattern[] = "Kernel panic - not syncing";

bool panic_watch_feed(struct panic_watch *w, const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		/* The pattern has no repeated prefix, so a mismatch restarts at 0 or 1. */
		if (buf[i] == (uint8_t)pattern[w->matched])
			w->matched++;
		else
			w->matched = buf[i] == (uint8_t)pattern[0] ? 1 : 0;
		if (w->matched == sizeof(pattern) - 1) {
			w->matched = 0;
			return true;
		}
	}
	return false;
}
