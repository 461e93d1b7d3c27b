/* Symbol tables from an ELF .symtab (libelf) or a System.map, with a KASLR slide. */
#ifndef VMDBG_SYMBOLS_H
#define VMDBG_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>

struct symbol {
	uint64_t addr;  /* link-time address (without the slide) */
	uint64_t size;  /* 0 when unknown (System.map) */
	char type;      /* 'T', 't', 'D', ... as nm prints it */
	char *name;
};

struct srcline;

struct symtab {
	struct symbol *syms; /* sorted by addr */
	size_t nr;
	int64_t slide;       /* added to every address on lookup */
	char *path;
	size_t *by_name;     /* indices into syms, sorted by name (globals first among equals) */
	char *names;         /* one allocation holding every symbol's name */
	struct srcline *src; /* PATH's DWARF (emu/srcline.h): NULL until a source line is asked */
};

/* A symbol of unknown size covers at most this much past its address. */
#define SYMTAB_UNSIZED_MAX 0x100000ULL

void symtab_init(struct symtab *st);
void symtab_free(struct symtab *st);

/*
 * Load symbols from PATH: an ELF file with .symtab, or a System.map text file
 * (malformed lines are skipped). Replaces what was loaded before, only on
 * success; the slide is kept. Returns the number of symbols or -errno; on
 * error ERR gets a one-line reason.
 */
int symtab_load(struct symtab *st, const char *path, char *err, size_t errlen);

/*
 * The function or object containing ADDR (runtime address): the symbol with
 * the greatest address <= ADDR, within its size when known. NULL if none.
 * Among symbols at one address a global, function, sized one without a
 * leading underscore wins. A sized symbol covers exactly [addr, addr + size):
 * an address in the padding after a function is not blamed on it. A symbol of
 * unknown size (System.map, assembly labels) covers up to the next symbol,
 * and at most SYMTAB_UNSIZED_MAX, so a wild address past the last symbol
 * prints as a number rather than as "_end+0x3e000000".
 */
const struct symbol *symtab_lookup_addr(const struct symtab *st, uint64_t addr, uint64_t *offset);

/* Runtime address of NAME (a global one first when several share it); 0 or -ENOENT. */
int symtab_lookup_name(const struct symtab *st, const char *name, uint64_t *addr);

/* "name+0x1f", "name" at offset 0, or "0xffffffff81000000" when no symbol covers ADDR. */
void symtab_format(const struct symtab *st, uint64_t addr, char *buf, size_t size);

#endif
