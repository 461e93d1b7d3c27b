/*
 * What the profiler's samples say, computed without the machine (pure, unit-tested): the
 * top leaf functions of sample streams (emu/profile.h's word format), their folded stacks
 * ("root;caller;leaf N", the format flamegraph.pl and speedscope read) and a flame graph
 * drawn from those as one self-contained SVG.
 */
#ifndef VMDBG_PROF_H
#define VMDBG_PROF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* One vCPU's samples: PROF_HDR words, each followed by its frames (the leaf first). */
struct prof_stream {
	const uint64_t *words;
	size_t nwords;
};

/*
 * The name of the function at PC into BUF: with CALLER, PC is a return address and the
 * call before it is meant. CPL is the sample's (a nameless user address is not a kernel's).
 */
typedef void (*prof_name_fn)(void *opaque, uint64_t pc, bool caller, unsigned cpl, char *buf,
			     size_t n);

/* A leaf function's share: NAME in mode CPL (0 kernel, 3 user). */
struct prof_row {
	char *name;
	unsigned cpl;
	uint64_t count;
};

struct prof_table {
	struct prof_row *rows; /* most samples first; ties by mode, then name */
	size_t n;
	uint64_t total;        /* samples in all */
};

/* The leaf functions of the samples in NS streams. 0 or -ENOMEM. */
int prof_table_build(const struct prof_stream *s, int ns, prof_name_fn name, void *opaque,
		     struct prof_table *t);
void prof_table_free(struct prof_table *t);

/* One folded line: frames from the root to the leaf joined by ';', and its samples. */
struct prof_fold_line {
	char *stack;
	uint64_t count;
};

struct prof_folded {
	struct prof_fold_line *lines; /* sorted by stack */
	size_t n;
	uint64_t total;
};

/*
 * Fold the samples of NS streams: equal stacks merged. Consecutive frames without a symbol
 * are one frame; ';' and blanks in names become '_' (the format's separators). 0 or -ENOMEM.
 */
int prof_fold(const struct prof_stream *s, int ns, prof_name_fn name, void *opaque,
	      struct prof_folded *f);
void prof_folded_free(struct prof_folded *f);
/* "stack count" lines. 0 or -errno of the write. */
int prof_folded_write(FILE *out, const struct prof_folded *f);

/* A flame graph of F (the root at the bottom, widths by samples) titled TITLE. 0 or -errno. */
int prof_svg_write(FILE *out, const struct prof_folded *f, const char *title);

#endif
