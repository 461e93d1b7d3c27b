/*
 * Kernel loading (emu/loader*.c) of fuzzed files into 4 MiB of fenced guest
 * RAM: ELF kernels through libelf (PVH note or 64-bit entry) and bzImages
 * through the 64-bit boot protocol, whichever the bytes look like.
 *
 * Input: byte 0 = flags (bit 0: an initrd, bit 1: a long command line), the
 * rest is the kernel file, written to a memfd that loader_load opens by its
 * /proc/self/fd path.
 *
 * Invariants: no pointer outside RAM (fuzz_common.c); 0 or a negative errno;
 * a failure has a one-line reason; a success describes a kernel, entry point,
 * boot data, initrd and page tables that all lie inside RAM.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "emu/loader.h"
#include "fuzz_common.h"

#define RAM_SIZE (4u << 20)

static int kernel_fd = -1, initrd_fd = -1;

static int put(int fd, const uint8_t *p, size_t n)
{
	if (ftruncate(fd, 0) || lseek(fd, 0, SEEK_SET))
		return -1;
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct guest_mem gm;
	static char cmdline[4096], kpath[64], ipath[64];
	static const uint8_t initrd[3000] = { 0x1f, 0x8b };
	struct boot_args args = { 0 };
	struct boot_info bi;
	char err[512] = "";
	int r;

	if (size < 1)
		return 0;
	fz_quiet_logs();
	if (kernel_fd < 0) {
		kernel_fd = memfd_create("fuzz-kernel", 0);
		initrd_fd = memfd_create("fuzz-initrd", 0);
		FZ_CHECK(kernel_fd >= 0 && initrd_fd >= 0, "memfd_create");
		FZ_CHECK(put(initrd_fd, initrd, sizeof(initrd)) == 0, "initrd memfd");
		snprintf(kpath, sizeof(kpath), "/proc/self/fd/%d", kernel_fd);
		snprintf(ipath, sizeof(ipath), "/proc/self/fd/%d", initrd_fd);
		memset(cmdline, 'a', sizeof(cmdline) - 1);
	}
	fz_ram_init_sparse(&gm, RAM_SIZE);
	FZ_CHECK(put(kernel_fd, data + 1, size - 1) == 0, "kernel memfd");
	args.kernel = kpath;
	args.initrd = data[0] & 1 ? ipath : NULL;
	args.cmdline = data[0] & 2 ? cmdline : "console=ttyS0 earlyprintk=serial";
	args.rsdp_gpa = data[0] & 4 ? 0xe0000 : 0;
	memset(&bi, 0, sizeof(bi));

	r = loader_load(&gm, &args, &bi, err, sizeof(err));
	FZ_CHECK(r <= 0 && r > -4096, "loader_load returned %d", r);
	if (r) {
		FZ_CHECK(err[0] && !strchr(err, '\n'), "failure %d without a one-line reason: '%s'", r,
			 err);
		return 0;
	}
	FZ_CHECK(bi.mode == BOOT_PVH || bi.mode == BOOT_LINUX64 || bi.mode == BOOT_ELF64, "mode %d",
		 bi.mode);
	FZ_CHECK(bi.kernel_start <= bi.kernel_end && gm_is_ram(&gm, bi.kernel_start,
								bi.kernel_end - bi.kernel_start),
		 "kernel at %#llx-%#llx is not RAM", (unsigned long long)bi.kernel_start,
		 (unsigned long long)bi.kernel_end);
	FZ_CHECK(gm_is_ram(&gm, bi.boot_data, 1), "boot data at %#llx is not RAM",
		 (unsigned long long)bi.boot_data);
	FZ_CHECK(!bi.page_tables || gm_is_ram(&gm, bi.page_tables, LOADER_PAGE_TABLE_PAGES * 4096ull),
		 "page tables at %#llx are not RAM", (unsigned long long)bi.page_tables);
	FZ_CHECK(!args.initrd || (bi.initrd_size == sizeof(initrd) &&
				  gm_is_ram(&gm, bi.initrd_start, bi.initrd_size)),
		 "initrd at %#llx+%llu", (unsigned long long)bi.initrd_start,
		 (unsigned long long)bi.initrd_size);
	return 0;
}
