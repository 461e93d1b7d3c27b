/* The snapshot container (format in snapfile.h): checksummed sections, written atomically. */
#include "snapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

uint32_t snap_crc32(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	/* zlib's crc32 takes a uInt length. */
	while (len) {
		uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;

		crc = (uint32_t)crc32(crc, p, n);
		p += n;
		len -= n;
	}
	return crc;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4); /* x86-64 only: little-endian */
}

static void put_le64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static uint32_t get_le32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* --- writing ------------------------------------------------------------- */

static void w_fail(struct snap_writer *w, int err)
{
	if (!w->err)
		w->err = err;
}

static void w_pwrite(struct snap_writer *w, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (!w->err && len) {
		ssize_t n = pwrite(w->fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno != EINTR)
				w_fail(w, -errno);
			continue;
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
}

int snap_write_begin(struct snap_writer *w, const char *path)
{
	uint8_t hdr[SNAP_HEADER_SIZE] = { 0 };

	memset(w, 0, sizeof(*w));
	w->fd = -1;
	w->path = strdup(path);
	if (!w->path || asprintf(&w->tmp_path, "%s.tmp.%d", path, (int)getpid()) < 0) {
		free(w->path);
		w->path = NULL;
		w->tmp_path = NULL;
		return -ENOMEM;
	}
	w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		int r = -errno;

		free(w->path);
		free(w->tmp_path);
		w->path = w->tmp_path = NULL;
		return r;
	}
	memcpy(hdr, SNAP_MAGIC, 8);
	put_le32(hdr + 8, SNAP_VERSION);
	put_le32(hdr + 12, SNAP_HEADER_SIZE);
	put_le64(hdr + 16, (uint64_t)time(NULL));
	put_le32(hdr + 24, 0);
	put_le32(hdr + 28, snap_crc32(0, hdr, 28));
	w_pwrite(w, hdr, sizeof(hdr), 0);
	w->bytes = SNAP_HEADER_SIZE;
	return w->err;
}

void snap_section_begin(struct snap_writer *w, const char *tag, uint32_t index)
{
	if (w->in_section)
		w_fail(w, -EINVAL);
	w->in_section = true;
	memcpy(w->sec_tag, tag, 4);
	w->sec_index = index;
	w->sec_start = w->bytes;
	w->sec_len = 0;
	w->sec_crc = 0;
	w->bytes += SNAP_SECTION_HEADER_SIZE; /* the header is written at the end */
}

void snap_put(struct snap_writer *w, const void *buf, size_t len)
{
	if (!w->in_section) {
		w_fail(w, -EINVAL);
		return;
	}
	w_pwrite(w, buf, len, w->bytes);
	w->sec_crc = snap_crc32(w->sec_crc, buf, len);
	w->sec_len += len;
	w->bytes += len;
}

void snap_field(struct snap_writer *w, uint32_t key, const void *buf, uint32_t len)
{
	uint8_t h[8];

	put_le32(h, key);
	put_le32(h + 4, len);
	snap_put(w, h, sizeof(h));
	snap_put(w, buf, len);
}

void snap_section_end(struct snap_writer *w)
{
	uint8_t h[SNAP_SECTION_HEADER_SIZE];

	if (!w->in_section) {
		w_fail(w, -EINVAL);
		return;
	}
	memcpy(h, w->sec_tag, 4);
	put_le32(h + 4, w->sec_index);
	put_le64(h + 8, w->sec_len);
	put_le32(h + 16, w->sec_crc);
	put_le32(h + 20, snap_crc32(0, h, 20));
	w_pwrite(w, h, sizeof(h), w->sec_start);
	w->in_section = false;
}

void snap_write_abort(struct snap_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmp_path)
		unlink(w->tmp_path);
	free(w->path);
	free(w->tmp_path);
	w->fd = -1;
	w->path = w->tmp_path = NULL;
}

int snap_write_finish(struct snap_writer *w)
{
	int r;

	snap_section_begin(w, SNAP_END, 0);
	snap_section_end(w);
	if (!w->err && fsync(w->fd) < 0)
		w_fail(w, -errno);
	if (!w->err && close(w->fd) < 0)
		w_fail(w, -errno);
	else if (w->err)
		close(w->fd);
	w->fd = -1;
	if (!w->err && rename(w->tmp_path, w->path) < 0)
		w_fail(w, -errno);
	r = w->err;
	snap_write_abort(w); /* frees; the temporary is gone after a rename */
	return r;
}

/* --- reading ------------------------------------------------------------- */

static int bad(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return ret;
}

int snap_parse(struct snap_file *f, const uint8_t *buf, size_t size, char *err, size_t errlen)
{
	uint64_t off = SNAP_HEADER_SIZE;
	bool ended = false;

	f->map = (uint8_t *)buf;
	f->size = size;
	f->nsec = 0;
	if (size < SNAP_HEADER_SIZE || memcmp(buf, SNAP_MAGIC, 8))
		return bad(err, errlen, -EINVAL, "not a vmdbg snapshot (no VMDBGSNP header)");
	if (get_le32(buf + 28) != snap_crc32(0, buf, 28))
		return bad(err, errlen, -EINVAL, "corrupted snapshot header (checksum mismatch)");
	f->version = get_le32(buf + 8);
	if (f->version != SNAP_VERSION)
		return bad(err, errlen, -EINVAL,
			   "snapshot format version %u, this vmdbg reads version %u", f->version,
			   SNAP_VERSION);
	if (get_le32(buf + 12) != SNAP_HEADER_SIZE)
		return bad(err, errlen, -EINVAL, "snapshot header size %u, expected %u",
			   get_le32(buf + 12), SNAP_HEADER_SIZE);
	f->created = get_le64(buf + 16);
	while (off < size && !ended) {
		const uint8_t *h = buf + off;
		struct snap_section *s;
		uint64_t len;

		if (size - off < SNAP_SECTION_HEADER_SIZE)
			return bad(err, errlen, -EINVAL,
				   "truncated snapshot: a section header is cut at byte %llu",
				   (unsigned long long)off);
		if (get_le32(h + 20) != snap_crc32(0, h, 20))
			return bad(err, errlen, -EINVAL,
				   "corrupted snapshot: section header at byte %llu fails its checksum",
				   (unsigned long long)off);
		len = get_le64(h + 8);
		if (len > size - off - SNAP_SECTION_HEADER_SIZE)
			return bad(err, errlen, -EINVAL,
				   "truncated snapshot: section '%.4s' %u needs %llu bytes, the file "
				   "has %llu", h, get_le32(h + 4), (unsigned long long)len,
				   (unsigned long long)(size - off - SNAP_SECTION_HEADER_SIZE));
		if (get_le32(h + 16) != snap_crc32(0, h + SNAP_SECTION_HEADER_SIZE, len))
			return bad(err, errlen, -EINVAL,
				   "corrupted snapshot: section '%.4s' %u fails its checksum", h,
				   get_le32(h + 4));
		if (!memcmp(h, SNAP_END, 4)) {
			ended = true;
		} else {
			if (f->nsec == SNAP_MAX_SECTIONS)
				return bad(err, errlen, -EINVAL,
					   "snapshot has more than %d sections", SNAP_MAX_SECTIONS);
			s = &f->sec[f->nsec++];
			memcpy(s->tag, h, 4);
			s->tag[4] = 0;
			s->index = get_le32(h + 4);
			s->length = len;
			s->data = h + SNAP_SECTION_HEADER_SIZE;
		}
		off += SNAP_SECTION_HEADER_SIZE + len;
	}
	if (!ended)
		return bad(err, errlen, -EINVAL, "truncated snapshot: no end marker");
	if (off != size)
		return bad(err, errlen, -EINVAL, "%llu stray bytes after the snapshot's end marker",
			   (unsigned long long)(size - off));
	for (unsigned i = 0; i < f->nsec; i++)
		for (unsigned j = 0; j < i; j++)
			if (!memcmp(f->sec[i].tag, f->sec[j].tag, 4) &&
			    f->sec[i].index == f->sec[j].index)
				return bad(err, errlen, -EINVAL,
					   "corrupted snapshot: section '%s' %u appears twice",
					   f->sec[i].tag, f->sec[i].index);
	return 0;
}

int snap_open(struct snap_file *f, const char *path, char *err, size_t errlen)
{
	struct stat st;
	void *p;
	int fd, r;

	memset(f, 0, sizeof(*f));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return bad(err, errlen, -errno, "cannot open snapshot %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return bad(err, errlen, -EINVAL, "snapshot %s is not a regular file", path);
	}
	if (st.st_size == 0) {
		close(fd);
		return bad(err, errlen, -EINVAL, "snapshot %s is empty", path);
	}
	p = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return bad(err, errlen, -errno, "cannot map snapshot %s: %s", path, strerror(errno));
	r = snap_parse(f, p, st.st_size, err, errlen);
	f->mapped = true;
	if (r) {
		char why[256];

		snprintf(why, sizeof(why), "%s", err);
		bad(err, errlen, r, "%s: %s", path, why);
		snap_close(f);
	}
	return r;
}

void snap_close(struct snap_file *f)
{
	if (f->mapped && f->map)
		munmap(f->map, f->size);
	f->map = NULL;
	f->mapped = false;
	f->nsec = 0;
}

const struct snap_section *snap_find(const struct snap_file *f, const char *tag, uint32_t index)
{
	for (unsigned i = 0; i < f->nsec; i++)
		if (!memcmp(f->sec[i].tag, tag, 4) && f->sec[i].index == index)
			return &f->sec[i];
	return NULL;
}

unsigned snap_count(const struct snap_file *f, const char *tag)
{
	unsigned n = 0;

	for (unsigned i = 0; i < f->nsec; i++)
		n += !memcmp(f->sec[i].tag, tag, 4);
	return n;
}

bool snap_fields_ok(const struct snap_section *s)
{
	uint64_t off = 0;

	while (off < s->length) {
		if (s->length - off < 8)
			return false;
		if (get_le32(s->data + off + 4) > s->length - off - 8)
			return false;
		off += 8 + get_le32(s->data + off + 4);
	}
	return true;
}

const void *snap_get(const struct snap_section *s, uint32_t key, uint32_t *len)
{
	uint64_t off = 0;

	if (!s)
		return NULL;
	while (off + 8 <= s->length) {
		uint32_t k = get_le32(s->data + off), l = get_le32(s->data + off + 4);

		if (l > s->length - off - 8)
			return NULL;
		if (k == key) {
			*len = l;
			return s->data + off + 8;
		}
		off += 8 + l;
	}
	return NULL;
}

int snap_get_exact(const struct snap_section *s, uint32_t key, void *dst, uint32_t len)
{
	uint32_t have;
	const void *p = snap_get(s, key, &have);

	if (!p)
		return -ENOENT;
	if (have != len)
		return -EINVAL;
	memcpy(dst, p, len);
	return 0;
}
