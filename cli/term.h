/*
 * The terminal shared by the guest console and vmdbg, as QEMU's
 * `-serial mon:stdio`: raw mode while the guest owns it, restored on every
 * way out, and Ctrl-A escapes (X quit, H help, C switch, Ctrl-A itself).
 */
#ifndef VMDBG_TERM_H
#define VMDBG_TERM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TERM_ESCAPE 0x01 /* Ctrl-A */

enum term_action { TERM_NONE, TERM_QUIT, TERM_HELP, TERM_SWITCH, TERM_STATUS };

struct term_escape {
	bool pending; /* the previous byte was Ctrl-A */
};

/*
 * Filter IN (LEN bytes typed) into OUT (bytes for the guest, at most LEN)
 * and the first escape action met; *CONSUMED says how far the input was
 * read (the rest follows a Ctrl-A command and is left for the next call).
 */
size_t term_filter(struct term_escape *esc, const uint8_t *in, size_t len, uint8_t *out,
		   enum term_action *action, size_t *consumed);

/* Raw mode on stdin when it is a terminal; term_restore is safe to call often. */
void term_raw(void);
void term_restore(void);
bool term_is_raw(void);

extern const char term_help_text[];

#endif
