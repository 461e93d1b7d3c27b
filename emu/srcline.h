/*
 * Source lines from the DWARF of the ELF the symbols came from (elfutils libdw): address ->
 * file:line and function, function or file:line -> address, and the text of a source file's
 * lines. The DWARF is opened on the first question, never when the symbols load: a kernel's
 * DWARF is ten times its code and start-up must not wait for it. The symbol table's slide
 * applies: DWARF addresses are link-time ones, guest addresses are link + slide.
 *
 * Named srcline, not dwarf: libdw owns the dwarf_ prefix and <dwarf.h>.
 */
#ifndef VMDBG_SRCLINE_H
#define VMDBG_SRCLINE_H

#include <stdbool.h>
#include <stdint.h>

#include "symbols.h"

/*
 * Where an address is in the source. The strings belong to the symbol table's DWARF handle:
 * valid until its symbols are loaded again or freed.
 */
struct src_loc {
	const char *file;      /* absolute (DWARF's name joined to its CU's comp_dir) */
	int line;              /* 1-based */
	const char *func;      /* the innermost function (an inlined one's own name); "" unknown */
	bool inlined;          /* FUNC was inlined here, at CALL_FILE:CALL_LINE of its caller */
	const char *call_file; /* NULL unless inlined (or the call site is unknown) */
	int call_line;
};

/*
 * Answers of every lookup: 0; -ENODATA when the symbols' file has no DWARF (not an ELF,
 * built without -g, no symbols loaded): the file is opened once, later questions get the same
 * answer at once; -ENOENT when the DWARF does not cover the address or name; -ENOMEM.
 */

/* The source line of runtime address ADDR. */
int srcline_addr(struct symtab *st, uint64_t addr, struct src_loc *loc);

/*
 * Function NAME: where its definition is (LOC's line is its declaration's, the line with
 * its name) and its runtime address (0 when it was inlined everywhere). A name in the
 * symbol table is the function at that symbol's address; a name only the DWARF knows (a
 * static function inlined into its callers) is looked up in every compilation unit.
 */
int srcline_func(struct symtab *st, const char *name, struct src_loc *loc, uint64_t *addr);

/*
 * FILE as the DWARF names it: an absolute path, or the tail of one at a '/' ("main.c",
 * "guest/main.c"). LOC->file gets the full path of the first match; LOC->line is LINE.
 * With ADDR, every compilation unit is searched for the lowest address of LINE's code (the
 * next line with code when LINE has none; LOC->line says which): 0 when none follows.
 */
int srcline_file_line(struct symtab *st, const char *file, int line, struct src_loc *loc,
		      uint64_t *addr);

/* Whether the DWARF has been opened, or tried (for tests of the laziness). */
bool srcline_tried(const struct symtab *st);

/* The DWARF handle of a symbol table (symtab_free calls it). */
struct srcline;
void srcline_close(struct srcline *sl);

/* PATH relative to the current directory when it is under it, else PATH itself. */
const char *srcline_short_path(const char *path);

/* Lines FIRST.. of a source file, at most SRC_TEXT_MAX. */
#define SRC_TEXT_MAX 64
struct src_text {
	int first;                /* line number of text[0] */
	int n;                    /* lines read: fewer than asked at the end of the file */
	int total;                /* lines in the file */
	char *text[SRC_TEXT_MAX]; /* without their line ends */
};

/* Read COUNT lines from FIRST (1-based). 0, or -errno of opening or reading PATH. */
int srcline_read(const char *path, int first, int count, struct src_text *t);
void src_text_free(struct src_text *t);

#endif
