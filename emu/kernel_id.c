/* A kernel file's identity: its GNU build id, else its SHA-256 (kernel_id.h). */
#include "kernel_id.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sha256.h"

#ifndef NT_GNU_BUILD_ID
#define NT_GNU_BUILD_ID 3
#endif
#define BUILD_ID_MAX ((KERNEL_ID_MAX - sizeof("build-id ")) / 2)

static void hex(char *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

/* The first GNU build-id note in DATA: true with ID filled. */
static bool scan_notes(Elf_Data *data, char *id, size_t idlen)
{
	size_t off = 0, next, name_off, desc_off;
	GElf_Nhdr nh;

	if (!data || !data->d_buf)
		return false;
	while (off < data->d_size &&
	       (next = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
		const uint8_t *d = data->d_buf;

		if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
		    !memcmp(d + name_off, "GNU", 4) && nh.n_descsz &&
		    nh.n_descsz <= BUILD_ID_MAX && idlen >= sizeof("build-id ") + 2 * nh.n_descsz) {
			strcpy(id, "build-id ");
			hex(id + strlen(id), d + desc_off, nh.n_descsz);
			return true;
		}
		off = next;
	}
	return false;
}

/* Program headers first (what a loader sees), then sections (a stripped PT_NOTE). */
static bool elf_build_id(int fd, char *id, size_t idlen)
{
	Elf *elf;
	Elf_Scn *scn = NULL;
	GElf_Phdr ph;
	GElf_Shdr sh;
	size_t phnum = 0;
	bool found = false;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return false;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf)
		return false;
	if (elf_kind(elf) != ELF_K_ELF || elf_getphdrnum(elf, &phnum))
		phnum = 0;
	for (size_t i = 0; i < phnum && !found; i++) {
		Elf_Type type;

		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_NOTE || !ph.p_filesz)
			continue;
		type = ph.p_align == 8 ? ELF_T_NHDR8 : ELF_T_NHDR;
		found = scan_notes(elf_getdata_rawchunk(elf, ph.p_offset, ph.p_filesz, type), id,
				   idlen);
	}
	while (elf_kind(elf) == ELF_K_ELF && !found && (scn = elf_nextscn(elf, scn)) != NULL)
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_NOTE)
			found = scan_notes(elf_getdata(scn, NULL), id, idlen);
	elf_end(elf);
	return found;
}

static int file_sha256(int fd, char *id, size_t idlen)
{
	struct sha256 s;
	uint8_t buf[65536], digest[32];
	ssize_t n;

	if (idlen < sizeof("sha256 ") + 64)
		return -ENOSPC;
	sha256_init(&s);
	if (lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		sha256_update(&s, buf, (size_t)n);
	}
	sha256_final(&s, digest);
	strcpy(id, "sha256 ");
	hex(id + strlen(id), digest, sizeof(digest));
	return 0;
}

int kernel_id(const char *path, char *id, size_t idlen, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

	id[0] = 0;
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot read kernel %s: %s", path, strerror(errno));
		return r;
	}
	if (!elf_build_id(fd, id, idlen)) {
		r = file_sha256(fd, id, idlen);
		if (r)
			snprintf(err, errlen, "cannot read kernel %s: %s", path, strerror(-r));
	}
	close(fd);
	return r;
}
