#include "loader.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bootparam.h"
#include "layout.h"
#include "log.h"

#define PAGE_SIZE 4096ULL
#define PTE_P (1ULL << 0)
#define PTE_RW (1ULL << 1)
#define PTE_PS (1ULL << 7)

int loader_fail(struct loader_ctx *c, int ret, const char *fmt, ...)
{
	va_list ap;

	if (c->err && c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err, c->errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

const char *loader_fmt_size(uint64_t bytes, char *buf, size_t len)
{
	if (bytes && bytes % (1ULL << 30) == 0)
		snprintf(buf, len, "%" PRIu64 " GiB", bytes >> 30);
	else if (bytes && bytes % (1ULL << 20) == 0)
		snprintf(buf, len, "%" PRIu64 " MiB", bytes >> 20);
	else if (bytes && bytes % 1024 == 0)
		snprintf(buf, len, "%" PRIu64 " KiB", bytes >> 10);
	else
		snprintf(buf, len, "%" PRIu64 " bytes", bytes);
	return buf;
}

/* Map a whole file privately (writable: libelf's elf_memory wants a char *). */
static int map_file(struct loader_ctx *c, const char *what, const char *path, const uint8_t **data,
		    size_t *size)
{
	struct stat st;
	void *p;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		return loader_fail(c, ret, "%s '%s': %s", what, path, strerror(-ret));
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		close(fd);
		return loader_fail(c, ret, "%s '%s': %s", what, path, strerror(-ret));
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return loader_fail(c, -EISDIR, "%s '%s': %s", what, path, strerror(EISDIR));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return loader_fail(c, -EINVAL, "%s '%s': not a regular file", what, path);
	}
	if (st.st_size == 0) {
		close(fd);
		return loader_fail(c, -EINVAL, "%s '%s': empty file", what, path);
	}
	p = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	ret = -errno;
	close(fd);
	if (p == MAP_FAILED)
		return loader_fail(c, ret, "%s '%s': %s", what, path, strerror(-ret));
	*data = p;
	*size = st.st_size;
	return 0;
}

static int write_gdt(struct loader_ctx *c)
{
	const uint64_t gdt[LOADER_GDT_ENTRIES] = {
		[0] = 0,
		[LOADER_SEL_CODE32 / 8] = LOADER_GDT_CODE32,
		[LOADER_SEL_CODE64 / 8] = LOADER_GDT_CODE64,
		[LOADER_SEL_DATA / 8] = LOADER_GDT_DATA,
	};

	return gm_write(c->gm, LAYOUT_BOOT_GDT, gdt, sizeof(gdt));
}

/* Identity map of [0, 4 GiB) with 2 MiB pages: what the 64-bit entries expect. */
static int write_page_tables(struct loader_ctx *c)
{
	uint64_t pml4 = LAYOUT_PAGE_TABLES, pdpt = pml4 + PAGE_SIZE, pd = pdpt + PAGE_SIZE;
	uint64_t table[512];
	int ret;

	memset(table, 0, sizeof(table));
	table[0] = pdpt | PTE_P | PTE_RW;
	ret = gm_write(c->gm, pml4, table, sizeof(table));
	if (ret)
		return ret;
	memset(table, 0, sizeof(table));
	for (int i = 0; i < 4; i++)
		table[i] = (pd + i * PAGE_SIZE) | PTE_P | PTE_RW;
	ret = gm_write(c->gm, pdpt, table, sizeof(table));
	if (ret)
		return ret;
	for (int i = 0; i < 4; i++) {
		for (int j = 0; j < 512; j++)
			table[j] =
				((uint64_t)i << 30 | (uint64_t)j << 21) | PTE_P | PTE_RW | PTE_PS;
		ret = gm_write(c->gm, pd + i * PAGE_SIZE, table, sizeof(table));
		if (ret)
			return ret;
	}
	c->out->page_tables = pml4;
	return 0;
}

/*
 * Top of low RAM below the kernel's limit, page aligned, above the kernel: the initrd
 * file, then (from a 4-byte boundary, as Linux's unpacker wants the next cpio header)
 * the bytes of args->initrd_append, as one range.
 */
static int place_initrd(struct loader_ctx *c)
{
	const struct guest_mem *gm = c->gm;
	const struct boot_args *a = c->args;
	uint64_t limit = c->initrd_limit, floor, addr, size = c->initrd_size;
	uint64_t append_at = (c->initrd_size + 3) & ~3ULL;
	char ram[32], total[64] = "";
	static const uint8_t zeros[3];

	if (a->initrd_append && a->initrd_append_size) {
		size = append_at + a->initrd_append_size;
		snprintf(total, sizeof(total), ", %" PRIu64 " with the appended archive", size);
	}
	if (limit > LAYOUT_RAM_HOLE_START)
		limit = LAYOUT_RAM_HOLE_START;
	if (limit > gm->low_size)
		limit = gm->low_size;
	floor = (c->out->kernel_end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	if (floor < LAYOUT_BIOS_END)
		floor = LAYOUT_BIOS_END;
	if (size > limit || ((limit - size) & ~(PAGE_SIZE - 1)) < floor)
		return loader_fail(c, -ENOSPC,
				   "initrd '%s' (%zu bytes%s) does not fit below 0x%" PRIx64
				   " above the kernel (which ends at 0x%" PRIx64 ") in %s of RAM",
				   a->initrd, c->initrd_size, total, limit, c->out->kernel_end,
				   loader_fmt_size(gm->size, ram, sizeof(ram)));
	addr = (limit - size) & ~(PAGE_SIZE - 1);
	/* The padding is written too: after a reboot RAM still holds the last boot's bytes. */
	if (gm_write(gm, addr, c->initrd, c->initrd_size) ||
	    (size > c->initrd_size &&
	     (gm_write(gm, addr + c->initrd_size, zeros, append_at - c->initrd_size) ||
	      gm_write(gm, addr + append_at, a->initrd_append, a->initrd_append_size))))
		return loader_fail(c, -EFAULT, "initrd '%s': cannot write at 0x%" PRIx64,
				   a->initrd, addr);
	c->out->initrd_start = addr;
	c->out->initrd_size = size;
	return 0;
}

static int load_kernel(struct loader_ctx *c)
{
	const uint8_t *k = c->kernel;
	uint32_t magic;
	int ret;

	if (c->kernel_size >= 4 && memcmp(k, "\177ELF", 4) == 0)
		ret = loader_elf_load(c);
	else if (c->kernel_size >= 0x206 &&
		 (memcpy(&magic, k + 0x202, 4), magic == SETUP_HDR_MAGIC))
		ret = loader_bzimage_load(c);
	else
		ret = loader_fail(c, -ENOEXEC,
				  "kernel '%s': not an ELF or bzImage kernel (bad magic)",
				  c->args->kernel);
	return ret;
}

static int load(struct loader_ctx *c, const char *cmdline, size_t cmdline_len)
{
	const struct guest_mem *gm = c->gm;
	char ram[32];
	int ret;

	if (gm->low_size < LOADER_MIN_RAM)
		return loader_fail(
			c, -ENOMEM,
			"guest RAM (%s) is too small to boot a kernel (need at least %s)",
			loader_fmt_size(gm->size, ram, sizeof(ram)), "2 MiB");
	c->e820_nr = e820_build(gm, c->e820, LOADER_E820_MAX);
	c->cmdline_max = LAYOUT_CMDLINE_MAX - 1;
	c->initrd_limit = LAYOUT_RAM_HOLE_START;
	ret = load_kernel(c);
	if (ret)
		return ret;
	if (cmdline_len > c->cmdline_max)
		return loader_fail(c, -E2BIG,
				   "command line too long (%zu bytes; kernel '%s' accepts at most %"
				   PRIu64 ")",
				   cmdline_len, c->args->kernel, c->cmdline_max);
	if (c->initrd) {
		ret = place_initrd(c);
		if (ret)
			return ret;
	}
	if (c->out->mode == BOOT_PVH) {
		ret = loader_elf_write_start_info(c);
	} else {
		ret = loader_write_zero_page(c, c->setup, c->setup_len);
		if (!ret)
			ret = write_page_tables(c);
	}
	if (!ret)
		ret = write_gdt(c);
	if (!ret)
		ret = gm_write(gm, LAYOUT_CMDLINE, cmdline, cmdline_len + 1);
	if (ret)
		return loader_fail(c, ret,
				   "kernel '%s': cannot write the boot structures below 1 MiB",
				   c->args->kernel);
	return 0;
}

int loader_load(const struct guest_mem *gm, const struct boot_args *args, struct boot_info *out,
		char *err, size_t errlen)
{
	struct loader_ctx c = {
		.gm = gm,
		.args = args,
		.out = out,
		.err = err,
		.errlen = errlen,
	};
	const char *cmdline;
	size_t cmdline_len;
	int ret;

	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = '\0';
	if (!args || !args->kernel)
		return loader_fail(&c, -EINVAL, "no kernel given");
	cmdline = args->cmdline ? args->cmdline : "";
	cmdline_len = strlen(cmdline);
	if (cmdline_len > LAYOUT_CMDLINE_MAX - 1)
		return loader_fail(&c, -E2BIG, "command line too long (%zu bytes, at most %llu)",
				   cmdline_len, LAYOUT_CMDLINE_MAX - 1);

	ret = map_file(&c, "kernel", args->kernel, &c.kernel, &c.kernel_size);
	if (ret)
		return ret;
	if (args->initrd)
		ret = map_file(&c, "initrd", args->initrd, &c.initrd, &c.initrd_size);
	if (!ret)
		ret = load(&c, cmdline, cmdline_len);
	if (c.initrd)
		munmap((void *)c.initrd, c.initrd_size);
	munmap((void *)c.kernel, c.kernel_size);
	if (ret) {
		memset(out, 0, sizeof(*out));
		return ret;
	}
	log_debug("kernel '%s': %s, entry 0x%" PRIx64 ", 0x%" PRIx64 "-0x%" PRIx64, args->kernel,
		  out->mode == BOOT_PVH	      ? "PVH"
		  : out->mode == BOOT_LINUX64 ? "bzImage"
					      : "ELF64",
		  out->entry, out->kernel_start, out->kernel_end);
	return 0;
}
