/*
 * The reference, printed from the tables it documents (options_table, options_exits, the
 * command tables) so that --help, `help`, the man page and the README cannot drift apart.
 */
#ifndef VMDBG_REFERENCE_H
#define VMDBG_REFERENCE_H

#include <stdio.h>

/* What --reference takes: the man page (build/vmdbg.1), the README's options table and
 * its command reference (`make readme`). */
#define REFERENCE_FORMATS "man,options.md,commands.md,exits.md"

/* Print FORMAT (one of REFERENCE_FORMATS) of vmdbg VERSION to OUT; 0, or -EINVAL. */
int reference_print(const char *format, const char *version, FILE *out);

#endif
