#include "symbols.h"

#include "srcline.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Symbols as they are read: names are offsets into the pool until it stops moving. */
struct symbuild {
	struct symbol *syms;
	size_t *name_off;
	size_t nr, cap;
	char *pool;
	size_t pool_len, pool_cap;
};

static int sym_fail(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int sym_fail(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

static int sb_add(struct symbuild *b, uint64_t addr, uint64_t size, char type, const char *name,
		  size_t len)
{
	if (b->nr == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1024;
		struct symbol *s = realloc(b->syms, cap * sizeof(*s));

		if (!s)
			return -ENOMEM;
		b->syms = s;
		size_t *o = realloc(b->name_off, cap * sizeof(*o));
		if (!o)
			return -ENOMEM;
		b->name_off = o;
		b->cap = cap;
	}
	if (len + 1 > b->pool_cap - b->pool_len) {
		size_t cap = b->pool_cap ? b->pool_cap : 16384;
		char *p;

		while (len + 1 > cap - b->pool_len)
			cap *= 2;
		p = realloc(b->pool, cap);
		if (!p)
			return -ENOMEM;
		b->pool = p;
		b->pool_cap = cap;
	}
	memcpy(b->pool + b->pool_len, name, len);
	b->pool[b->pool_len + len] = '\0';
	b->syms[b->nr] = (struct symbol){ .addr = addr, .size = size, .type = type };
	b->name_off[b->nr] = b->pool_len;
	b->pool_len += len + 1;
	b->nr++;
	return 0;
}

static void sb_free(struct symbuild *b)
{
	free(b->syms);
	free(b->name_off);
	free(b->pool);
}

/* nm's letter for an ELF symbol: from its binding and the section it lives in. */
static char elf_sym_type(Elf *elf, const GElf_Sym *s)
{
	int bind = GELF_ST_BIND(s->st_info);
	GElf_Shdr sh;
	Elf_Scn *scn;
	char c;

	if (bind == STB_WEAK)
		return GELF_ST_TYPE(s->st_info) == STT_OBJECT ? 'V' : 'W';
	if (s->st_shndx == SHN_ABS)
		c = 'a';
	else if (s->st_shndx == SHN_COMMON)
		c = 'c';
	else if (s->st_shndx >= SHN_LORESERVE || !(scn = elf_getscn(elf, s->st_shndx)) ||
		 !gelf_getshdr(scn, &sh))
		c = '?';
	else if (sh.sh_flags & SHF_EXECINSTR)
		c = 't';
	else if (sh.sh_type == SHT_NOBITS)
		c = 'b';
	else if (sh.sh_flags & SHF_WRITE)
		c = 'd';
	else if (sh.sh_flags & SHF_ALLOC)
		c = 'r';
	else
		c = 'n';
	if (c != '?' && (bind == STB_GLOBAL || bind == STB_GNU_UNIQUE))
		c = toupper((unsigned char)c);
	return c;
}

static int read_elf(struct symbuild *b, int fd, const char *path, char *err, size_t errlen)
{
	Elf_Scn *scn = NULL;
	bool have_symtab = false;
	Elf *elf;
	int ret = 0;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return sym_fail(err, errlen, -ENOSYS, "libelf: %s", elf_errmsg(-1));
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		ret = sym_fail(err, errlen, -ENOEXEC, "symbols '%s': corrupt ELF: %s", path,
			       elf_errmsg(-1));
		goto out;
	}
	while ((scn = elf_nextscn(elf, scn)) != NULL) {
		GElf_Shdr sh;
		Elf_Data *data;
		size_t n;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB)
			continue;
		have_symtab = true;
		data = elf_getdata(scn, NULL);
		size_t entsize = gelf_fsize(elf, ELF_T_SYM, 1, EV_CURRENT);

		if (!data || entsize == 0)
			continue;
		n = data->d_size / entsize;
		for (size_t i = 0; i < n; i++) {
			GElf_Sym s;
			const char *name;
			int type;

			if (!gelf_getsym(data, i, &s))
				break;
			type = GELF_ST_TYPE(s.st_info);
			if (type != STT_FUNC && type != STT_OBJECT && type != STT_NOTYPE)
				continue;
			if (s.st_value == 0 || s.st_shndx == SHN_UNDEF)
				continue;
			name = elf_strptr(elf, sh.sh_link, s.st_name);
			if (!name || !name[0])
				continue;
			ret = sb_add(b, s.st_value, s.st_size, elf_sym_type(elf, &s), name,
				     strlen(name));
			if (ret) {
				sym_fail(err, errlen, ret, "symbols '%s': %s", path,
					 strerror(-ret));
				goto out;
			}
		}
	}
	if (!have_symtab)
		ret = sym_fail(err, errlen, -ENOENT, "symbols '%s': ELF has no .symtab (stripped?)",
			       path);
out:
	elf_end(elf);
	return ret;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* "ffffffff81000000 T _text" (an optional "\t[module]" tail is ignored). */
static bool parse_map_line(const char *p, uint64_t *addr, char *type, const char **name,
			   size_t *len)
{
	uint64_t a = 0;
	int digits = 0, v;

	while ((v = hexval((unsigned char)*p)) >= 0) {
		if (++digits > 16)
			return false;
		a = a << 4 | v;
		p++;
	}
	if (!digits || (*p != ' ' && *p != '\t'))
		return false;
	while (*p == ' ' || *p == '\t')
		p++;
	if (!isalpha((unsigned char)*p) && *p != '?')
		return false;
	*type = *p++;
	if (*p != ' ' && *p != '\t')
		return false;
	while (*p == ' ' || *p == '\t')
		p++;
	*name = p;
	while (*p && !isspace((unsigned char)*p))
		p++;
	*len = p - *name;
	*addr = a;
	return *len > 0;
}

static int read_map(struct symbuild *b, FILE *f, const char *path, char *err, size_t errlen)
{
	char *line = NULL;
	size_t cap = 0, valid = 0;
	int ret = 0;

	while (getline(&line, &cap, f) >= 0) {
		const char *name;
		uint64_t addr;
		size_t len;
		char type;

		if (!parse_map_line(line, &addr, &type, &name, &len))
			continue;
		valid++;
		/* Undefined and zero-valued symbols say nothing about where code is. */
		if (addr == 0 || type == 'U' || type == 'u' || type == 'v' || type == 'w')
			continue;
		ret = sb_add(b, addr, 0, type, name, len);
		if (ret) {
			sym_fail(err, errlen, ret, "symbols '%s': %s", path, strerror(-ret));
			break;
		}
	}
	free(line);
	if (!ret && ferror(f))
		ret = sym_fail(err, errlen, -EIO, "symbols '%s': %s", path, strerror(EIO));
	if (!ret && valid == 0)
		ret = sym_fail(err, errlen, -ENOEXEC, "symbols '%s': not an ELF or System.map",
			       path);
	return ret;
}

/*
 * Lower is better among symbols at one address: global, then code, then
 * sized, then a name without a leading underscore ("startup_64", not "_text").
 */
static int sym_rank(const struct symbol *s)
{
	int r = 0;

	if (!isupper((unsigned char)s->type))
		r += 8;
	if (s->type != 'T' && s->type != 't' && s->type != 'W')
		r += 4;
	if (s->size == 0)
		r += 2;
	if (s->name[0] == '_')
		r += 1;
	return r;
}

static int cmp_addr_name(const void *a, const void *b)
{
	const struct symbol *x = a, *y = b;
	int c;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	c = strcmp(x->name, y->name);
	if (c)
		return c;
	return sym_rank(x) - sym_rank(y);
}

static int cmp_addr_rank(const void *a, const void *b)
{
	const struct symbol *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if (sym_rank(x) != sym_rank(y))
		return sym_rank(x) - sym_rank(y);
	return strcmp(x->name, y->name);
}

static int cmp_by_name(const void *a, const void *b, void *arg)
{
	const struct symbol *syms = arg;
	const struct symbol *x = &syms[*(const size_t *)a], *y = &syms[*(const size_t *)b];
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	if (isupper((unsigned char)x->type) != isupper((unsigned char)y->type))
		return isupper((unsigned char)x->type) ? -1 : 1;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return 0;
}

/* Sort, drop exact duplicates (same name at the same address), index by name. */
static int sb_finish(struct symbuild *b, struct symtab *st)
{
	size_t n = 0;

	for (size_t i = 0; i < b->nr; i++)
		b->syms[i].name = b->pool + b->name_off[i];
	qsort(b->syms, b->nr, sizeof(*b->syms), cmp_addr_name);
	for (size_t i = 0; i < b->nr; i++) {
		if (n && b->syms[n - 1].addr == b->syms[i].addr &&
		    strcmp(b->syms[n - 1].name, b->syms[i].name) == 0)
			continue;
		b->syms[n++] = b->syms[i];
	}
	qsort(b->syms, n, sizeof(*b->syms), cmp_addr_rank);
	st->by_name = malloc((n ? n : 1) * sizeof(*st->by_name));
	if (!st->by_name)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		st->by_name[i] = i;
	qsort_r(st->by_name, n, sizeof(*st->by_name), cmp_by_name, b->syms);
	st->syms = b->syms;
	st->nr = n;
	st->names = b->pool;
	b->syms = NULL;
	b->pool = NULL;
	return 0;
}

void symtab_init(struct symtab *st)
{
	memset(st, 0, sizeof(*st));
}

void symtab_free(struct symtab *st)
{
	free(st->syms);
	free(st->by_name);
	free(st->names);
	free(st->path);
	srcline_close(st->src);
	memset(st, 0, sizeof(*st));
}

int symtab_load(struct symtab *st, const char *path, char *err, size_t errlen)
{
	struct symbuild b = { 0 };
	struct symtab fresh;
	unsigned char magic[4] = { 0 };
	FILE *f;
	int ret;

	symtab_init(&fresh);
	f = fopen(path, "re");
	if (!f)
		return sym_fail(err, errlen, -errno, "symbols '%s': %s", path, strerror(errno));
	if (fread(magic, 1, sizeof(magic), f) == sizeof(magic) &&
	    memcmp(magic, "\177ELF", 4) == 0) {
		ret = read_elf(&b, fileno(f), path, err, errlen);
	} else {
		rewind(f);
		ret = read_map(&b, f, path, err, errlen);
	}
	fclose(f);
	if (!ret) {
		ret = sb_finish(&b, &fresh);
		if (ret)
			sym_fail(err, errlen, ret, "symbols '%s': %s", path, strerror(-ret));
	}
	if (!ret) {
		fresh.path = strdup(path);
		if (!fresh.path)
			ret = sym_fail(err, errlen, -ENOMEM, "symbols '%s': %s", path,
				       strerror(ENOMEM));
	}
	sb_free(&b);
	if (ret) {
		symtab_free(&fresh);
		return ret;
	}
	fresh.slide = st->slide;
	symtab_free(st);
	*st = fresh;
	return (int)(st->nr > INT32_MAX ? INT32_MAX : st->nr);
}

const struct symbol *symtab_lookup_addr(const struct symtab *st, uint64_t addr, uint64_t *offset)
{
	uint64_t link = addr - (uint64_t)st->slide;
	size_t lo = 0, hi = st->nr, first;
	const struct symbol *best = NULL;

	/* hi ends as the count of symbols at or below LINK. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (st->syms[mid].addr <= link)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (hi == 0)
		return NULL;
	uint64_t at = st->syms[hi - 1].addr;
	lo = 0;
	first = hi - 1;
	while (lo < first) {
		size_t mid = lo + (first - lo) / 2;

		if (st->syms[mid].addr < at)
			lo = mid + 1;
		else
			first = mid;
	}
	for (size_t i = first; i < hi; i++) {
		const struct symbol *s = &st->syms[i];

		if (s->size ? link - at < s->size : link - at < SYMTAB_UNSIZED_MAX) {
			best = s;
			break;
		}
	}
	if (best && offset)
		*offset = link - at;
	return best;
}

int symtab_lookup_name(const struct symtab *st, const char *name, uint64_t *addr)
{
	size_t lo = 0, hi = st->nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(st->syms[st->by_name[mid]].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == st->nr || strcmp(st->syms[st->by_name[lo]].name, name) != 0)
		return -ENOENT;
	if (addr)
		*addr = st->syms[st->by_name[lo]].addr + (uint64_t)st->slide;
	return 0;
}

void symtab_format(const struct symtab *st, uint64_t addr, char *buf, size_t size)
{
	uint64_t off = 0;
	const struct symbol *s = symtab_lookup_addr(st, addr, &off);

	if (!s)
		snprintf(buf, size, "0x%" PRIx64, addr);
	else if (off == 0)
		snprintf(buf, size, "%s", s->name);
	else
		snprintf(buf, size, "%s+0x%" PRIx64, s->name, off);
}
