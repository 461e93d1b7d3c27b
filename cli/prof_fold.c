/* The profiler's top functions and folded stacks: see prof.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "emu/profile.h"
#include "prof.h"

#define NAME_MAX_LEN 160

/* Calls FN for each sample of the NS streams; stops at the first nonzero result. */
typedef int (*sample_fn)(void *ctx, const uint64_t *pcs, unsigned depth, unsigned cpl);

static int each_sample(const struct prof_stream *s, int ns, sample_fn fn, void *ctx)
{
	for (int i = 0; i < ns; i++)
		for (size_t w = 0; w < s[i].nwords;) {
			unsigned depth = PROF_HDR_DEPTH(s[i].words[w]);
			int r;

			/* A cut-off record (never written so, but a stream is data) ends the stream. */
			if (depth > s[i].nwords - w - 1)
				break;
			r = fn(ctx, s[i].words + w + 1, depth, PROF_HDR_CPL(s[i].words[w]));
			if (r)
				return r;
			w += depth + 1;
		}
	return 0;
}

/* A growable array of (string, cpl) keys, sorted and counted into runs. */
struct keys {
	struct prof_row *v;
	size_t n, cap;
	prof_name_fn name;
	void *opaque;
};

static int keys_add(struct keys *k, char *str, unsigned cpl)
{
	if (!str)
		return -ENOMEM;
	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 256;
		struct prof_row *v = realloc(k->v, cap * sizeof(*v));

		if (!v) {
			free(str);
			return -ENOMEM;
		}
		k->v = v;
		k->cap = cap;
	}
	k->v[k->n++] = (struct prof_row){ str, cpl, 1 };
	return 0;
}

static int by_key(const void *a, const void *b)
{
	const struct prof_row *x = a, *y = b;

	if (x->cpl != y->cpl)
		return x->cpl < y->cpl ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Sorts K and merges equal keys into one with their counts summed. */
static void keys_merge(struct keys *k)
{
	size_t o = 0;

	if (!k->n)
		return; /* k->v may be NULL: qsort's pointer must not be */
	qsort(k->v, k->n, sizeof(*k->v), by_key);
	for (size_t i = 0; i < k->n; i++) {
		if (o && !by_key(&k->v[o - 1], &k->v[i])) {
			k->v[o - 1].count += k->v[i].count;
			free(k->v[i].name);
		} else {
			k->v[o++] = k->v[i];
		}
	}
	k->n = o;
}

static void keys_free(struct keys *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->v[i].name);
	free(k->v);
	k->v = NULL;
	k->n = k->cap = 0;
}

/* One key per sample from ADD, then merged: *TOTAL is the number of samples. */
static int keys_collect(const struct prof_stream *s, int ns, sample_fn add, struct keys *k,
			uint64_t *total)
{
	int r = each_sample(s, ns, add, k);

	if (r) {
		keys_free(k);
		return r;
	}
	*total = k->n;
	keys_merge(k);
	return 0;
}

/* --- top functions -------------------------------------------------------------------- */

static int add_leaf(void *ctx, const uint64_t *pcs, unsigned depth, unsigned cpl)
{
	struct keys *k = ctx;
	char name[NAME_MAX_LEN] = "[unknown]";

	if (depth)
		k->name(k->opaque, pcs[0], false, cpl, name, sizeof(name));
	return keys_add(k, strdup(name), cpl);
}

static int by_count(const void *a, const void *b)
{
	const struct prof_row *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return by_key(a, b);
}

int prof_table_build(const struct prof_stream *s, int ns, prof_name_fn name, void *opaque,
		     struct prof_table *t)
{
	struct keys k = { .name = name, .opaque = opaque };
	int r;

	memset(t, 0, sizeof(*t));
	r = keys_collect(s, ns, add_leaf, &k, &t->total);
	if (r)
		return r;
	if (k.n)
		qsort(k.v, k.n, sizeof(*k.v), by_count);
	t->rows = k.v;
	t->n = k.n;
	return 0;
}

void prof_table_free(struct prof_table *t)
{
	struct keys k = { .v = t->rows, .n = t->n };

	keys_free(&k);
	memset(t, 0, sizeof(*t));
}

/* --- folded stacks -------------------------------------------------------------------- */

static void sanitize(char *s)
{
	for (; *s; s++)
		if (*s == ';' || *s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
			*s = '_';
}

static int add_stack(void *ctx, const uint64_t *pcs, unsigned depth, unsigned cpl)
{
	struct keys *k = ctx;
	char prev[NAME_MAX_LEN] = "", name[NAME_MAX_LEN];
	size_t cap = (size_t)depth * NAME_MAX_LEN + 16, len = 0;
	char *stack = malloc(cap);

	if (!stack)
		return -ENOMEM;
	stack[0] = 0;
	/* Root first: the last frame walked is the outermost caller. */
	for (unsigned i = depth; i-- > 0;) {
		k->name(k->opaque, pcs[i], i > 0, cpl, name, sizeof(name));
		sanitize(name);
		if (name[0] == '[' && !strcmp(name, prev))
			continue;
		len += (size_t)snprintf(stack + len, cap - len, "%s%s", len ? ";" : "", name);
		strcpy(prev, name);
	}
	if (!depth)
		strcpy(stack, "[unknown]");
	return keys_add(k, stack, 0);
}

int prof_fold(const struct prof_stream *s, int ns, prof_name_fn name, void *opaque,
	      struct prof_folded *f)
{
	struct keys k = { .name = name, .opaque = opaque };
	int r;

	memset(f, 0, sizeof(*f));
	r = keys_collect(s, ns, add_stack, &k, &f->total); /* every key has cpl 0: sorted by stack */
	if (r)
		return r;
	f->lines = calloc(k.n ? k.n : 1, sizeof(*f->lines));
	if (!f->lines) {
		keys_free(&k);
		return -ENOMEM;
	}
	for (size_t i = 0; i < k.n; i++)
		f->lines[i] = (struct prof_fold_line){ k.v[i].name, k.v[i].count };
	f->n = k.n;
	free(k.v);
	return 0;
}

void prof_folded_free(struct prof_folded *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->lines[i].stack);
	free(f->lines);
	memset(f, 0, sizeof(*f));
}

int prof_folded_write(FILE *out, const struct prof_folded *f)
{
	for (size_t i = 0; i < f->n; i++)
		if (fprintf(out, "%s %llu\n", f->lines[i].stack, (unsigned long long)f->lines[i].count) < 0)
			return -errno;
	return fflush(out) ? -errno : 0;
}
