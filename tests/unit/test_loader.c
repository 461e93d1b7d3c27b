/*
 * loader_load: synthetic bzImages and ELF kernels written to temp files and
 * loaded into fake guest memory; every refusal checked by its message. An
 * archive appended to the initrd (vmdbg's /idle) is read back as Linux would.
 */
#include <elf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "emu/bootparam.h"
#include "emu/cpio.h"
#include "emu/guest_mem.h"
#include "emu/initrd_idle.h"
#include "emu/layout.h"
#include "emu/loader.h"
#include "emu/log.h"
#include "emu/vm.h"
#include "initramfs_walk.h"
#include "scratch.h"

#define MiB (1ULL << 20)
#define RAM_SIZE (64 * MiB)
#define RSDP 0xE0000ULL


struct fixture {
	uint8_t *buf;
	struct guest_mem gm;
	char err[512];
	struct boot_info bi;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->buf = calloc(1, RAM_SIZE);
	if (!f->buf)
		return -1;
	gm_init_buf(&f->gm, f->buf, RAM_SIZE);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	free(f->buf);
	free(f);
	return 0;
}

static uint8_t pattern(size_t i, uint8_t seed)
{
	return (uint8_t)(seed ^ (i * 7) ^ (i >> 8));
}

/* ---- synthetic bzImage ---- */

struct tbz {
	uint16_t version;
	uint8_t setup_sects; /* as written in the file (0 means 4) */
	uint8_t jump;	     /* header end = 0x202 + jump */
	uint16_t xloadflags;
	uint8_t loadflags;
	uint8_t relocatable;
	uint64_t pref_address;
	uint32_t init_size;
	uint32_t kernel_alignment;
	uint32_t cmdline_size;
	uint32_t initrd_addr_max;
	size_t payload;		/* bytes after the setup code, multiple of 16 */
	uint32_t syssize_extra; /* added to syssize: claim more than the file has */
};

static struct tbz tbz_default(void)
{
	return (struct tbz){
		.version = 0x020f,
		.setup_sects = 3,
		.jump = 0x6a, /* header through kernel_info_offset, as 6.x writes it */
		.xloadflags = XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G,
		.loadflags = LOADED_HIGH | KASLR_FLAG | QUIET_FLAG,
		.relocatable = 1,
		.pref_address = 0x1000000,
		.init_size = 4 * MiB,
		.kernel_alignment = 0x200000,
		.cmdline_size = 2047,
		.initrd_addr_max = 0x7fffffff,
		.payload = 64 * 1024,
	};
}

static uint8_t *build_bzimage(const struct tbz *t, size_t *len)
{
	size_t setup = ((size_t)(t->setup_sects ? t->setup_sects : 4) + 1) * 512;
	uint8_t *img = calloc(1, setup + t->payload);
	struct setup_header h;

	assert_non_null(img);
	memset(&h, 0, sizeof(h));
	h.setup_sects = t->setup_sects;
	h.syssize = t->payload / 16 + t->syssize_extra;
	h.vid_mode = 0xffff;
	h.boot_flag = SETUP_BOOT_FLAG;
	h.jump = 0xeb | (uint16_t)t->jump << 8;
	h.header = SETUP_HDR_MAGIC;
	h.version = t->version;
	h.loadflags = t->loadflags;
	h.code32_start = 0x100000;
	h.initrd_addr_max = t->initrd_addr_max;
	h.kernel_alignment = t->kernel_alignment;
	h.relocatable_kernel = t->relocatable;
	h.xloadflags = t->xloadflags;
	h.cmdline_size = t->cmdline_size;
	h.setup_data = 0xdeadbeef; /* a loader must not pass a stale pointer on */
	h.pref_address = t->pref_address;
	h.init_size = t->init_size;
	h.kernel_info_offset = 0x1234;
	memcpy(img + SETUP_HDR_OFFSET, &h, sizeof(h));
	for (size_t i = 0; i < t->payload; i++)
		img[setup + i] = pattern(i, 0x5a);
	*len = setup + t->payload;
	return img;
}

static const char *bzimage_file(const struct tbz *t)
{
	size_t len;
	uint8_t *img = build_bzimage(t, &len);
	const char *path = scratch_file(NULL, img, len);

	free(img);
	return path;
}

/* ---- synthetic ELF ---- */

struct tseg {
	uint64_t vaddr, paddr, filesz, memsz;
	uint8_t seed;
};

struct telf {
	int bits; /* 32 or 64 */
	uint16_t machine;
	uint64_t entry;
	int nseg;
	struct tseg seg[3];
	bool pvh_note;
	uint32_t note_desc_size; /* 4 or 8 (Linux uses 8 in a 64-bit kernel) */
	uint64_t note_entry;
	bool other_note; /* a GNU note before the Xen one */
};

static void put_note(uint8_t *p, size_t *off, const char *name, uint32_t type, const void *desc,
		     uint32_t descsz)
{
	uint32_t namesz = strlen(name) + 1;
	uint32_t hdr[3] = { namesz, descsz, type };

	memcpy(p + *off, hdr, sizeof(hdr));
	*off += sizeof(hdr);
	memcpy(p + *off, name, namesz);
	*off += (namesz + 3) & ~3u;
	memcpy(p + *off, desc, descsz);
	*off += (descsz + 3) & ~3u;
}

static uint8_t *build_elf(const struct telf *t, size_t *len)
{
	bool b64 = t->bits == 64;
	size_t ehsz = b64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	size_t phsz = b64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	int nph = t->nseg + (t->pvh_note || t->other_note ? 1 : 0);
	size_t note_off = ehsz + nph * phsz, note_len = 0, off, total;
	uint8_t notes[128];
	uint8_t *img;

	if (t->other_note) {
		uint8_t id[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

		put_note(notes, &note_len, "GNU", 3, id, sizeof(id));
	}
	if (t->pvh_note) {
		uint32_t e32 = (uint32_t)t->note_entry;

		put_note(notes, &note_len, "Xen", XEN_ELFNOTE_PHYS32_ENTRY,
			 t->note_desc_size == 4 ? (void *)&e32 : (void *)&t->note_entry,
			 t->note_desc_size);
	}
	total = (note_off + note_len + 15) & ~15ul;
	for (int i = 0; i < t->nseg; i++)
		total += (t->seg[i].filesz + 15) & ~15ul;
	img = calloc(1, total);
	assert_non_null(img);
	memcpy(img + note_off, notes, note_len);

	off = (note_off + note_len + 15) & ~15ul;
	for (int i = 0; i < nph; i++) {
		bool is_note = i == t->nseg;
		const struct tseg *s = &t->seg[i];
		uint32_t type = is_note ? PT_NOTE : PT_LOAD;
		uint64_t foff = is_note ? note_off : off;
		uint64_t fsz = is_note ? note_len : s->filesz;
		uint64_t msz = is_note ? note_len : s->memsz;

		if (b64) {
			Elf64_Phdr ph = { .p_type = type,
					  .p_flags = PF_R | PF_X,
					  .p_offset = foff,
					  .p_vaddr = is_note ? 0 : s->vaddr,
					  .p_paddr = is_note ? 0 : s->paddr,
					  .p_filesz = fsz,
					  .p_memsz = msz,
					  .p_align = is_note ? 4 : 16 };
			memcpy(img + ehsz + i * phsz, &ph, sizeof(ph));
		} else {
			Elf32_Phdr ph = { .p_type = type,
					  .p_flags = PF_R | PF_X,
					  .p_offset = foff,
					  .p_vaddr = is_note ? 0 : s->vaddr,
					  .p_paddr = is_note ? 0 : s->paddr,
					  .p_filesz = fsz,
					  .p_memsz = msz,
					  .p_align = is_note ? 4 : 16 };
			memcpy(img + ehsz + i * phsz, &ph, sizeof(ph));
		}
		if (!is_note) {
			for (uint64_t j = 0; j < s->filesz; j++)
				img[off + j] = pattern(j, s->seed);
			off += (s->filesz + 15) & ~15ul;
		}
	}
	if (b64) {
		Elf64_Ehdr eh = { .e_type = ET_EXEC,
				  .e_machine = t->machine,
				  .e_version = EV_CURRENT,
				  .e_entry = t->entry,
				  .e_phoff = ehsz,
				  .e_ehsize = ehsz,
				  .e_phentsize = phsz,
				  .e_phnum = nph };
		memcpy(eh.e_ident, ELFMAG, SELFMAG);
		eh.e_ident[EI_CLASS] = ELFCLASS64;
		eh.e_ident[EI_DATA] = ELFDATA2LSB;
		eh.e_ident[EI_VERSION] = EV_CURRENT;
		memcpy(img, &eh, sizeof(eh));
	} else {
		Elf32_Ehdr eh = { .e_type = ET_EXEC,
				  .e_machine = t->machine,
				  .e_version = EV_CURRENT,
				  .e_entry = t->entry,
				  .e_phoff = ehsz,
				  .e_ehsize = ehsz,
				  .e_phentsize = phsz,
				  .e_phnum = nph };
		memcpy(eh.e_ident, ELFMAG, SELFMAG);
		eh.e_ident[EI_CLASS] = ELFCLASS32;
		eh.e_ident[EI_DATA] = ELFDATA2LSB;
		eh.e_ident[EI_VERSION] = EV_CURRENT;
		memcpy(img, &eh, sizeof(eh));
	}
	*len = total;
	return img;
}

/* A vmlinux-like kernel: linked at 0xffffffff81000000, loaded at 16 MiB, with a PVH note. */
static struct telf telf_linux(void)
{
	return (struct telf){
		.bits = 64,
		.machine = EM_X86_64,
		.entry = 0x1000000,
		.nseg = 2,
		.seg = {
			{ .vaddr = 0xffffffff81000000, .paddr = 0x1000000, .filesz = 0x3000,
			  .memsz = 0x5000, .seed = 0x11 },
			{ .vaddr = 0xffffffff81200000, .paddr = 0x1200000, .filesz = 0x1800,
			  .memsz = 0x1800, .seed = 0x22 },
		},
		.pvh_note = true,
		.note_desc_size = 8,
		.note_entry = 0x1000100,
		.other_note = true,
	};
}

static const char *elf_file(const struct telf *t)
{
	size_t len;
	uint8_t *img = build_elf(t, &len);
	const char *path = scratch_file(NULL, img, len);

	free(img);
	return path;
}

static int load(struct fixture *f, const char *kernel, const char *initrd, const char *cmdline)
{
	struct boot_args a = {
		.kernel = kernel,
		.initrd = initrd,
		.cmdline = cmdline,
		.rsdp_gpa = RSDP,
	};

	memset(f->err, 0, sizeof(f->err));
	return loader_load(&f->gm, &a, &f->bi, f->err, sizeof(f->err));
}

static void expect_fail(struct fixture *f, int ret, const char *needle)
{
	if (ret >= 0 || !strstr(f->err, needle))
		fail_msg("ret %d, err \"%s\", expected \"%s\"", ret, f->err, needle);
	assert_null(strchr(f->err, '\n'));
}

static const char *initrd_file(size_t len)
{
	uint8_t *d = malloc(len);
	const char *path;

	assert_non_null(d);
	for (size_t i = 0; i < len; i++)
		d[i] = pattern(i, 0x77);
	path = scratch_file(NULL, d, len);
	free(d);
	return path;
}

static void expect_pattern(struct fixture *f, uint64_t gpa, size_t len, uint8_t seed)
{
	const uint8_t *p = gm_ptr(&f->gm, gpa, len);

	assert_non_null(p);
	for (size_t i = 0; i < len; i++)
		if (p[i] != pattern(i, seed))
			fail_msg("byte %zu at 0x%llx: 0x%02x, expected 0x%02x", i,
				 (unsigned long long)(gpa + i), p[i], pattern(i, seed));
}

static void expect_e820(struct fixture *f, const struct boot_e820_entry *table, int n)
{
	struct e820_entry e[8];
	int want = e820_build(&f->gm, e, 8);

	assert_int_equal(n, want);
	for (int i = 0; i < n; i++) {
		assert_int_equal(table[i].addr, e[i].addr);
		assert_int_equal(table[i].size, e[i].size);
		assert_int_equal(table[i].type, e[i].type);
	}
}

static void expect_identity_map(struct fixture *f)
{
	uint64_t pml4[512], pdpt[512], pd[512];

	assert_int_equal(f->bi.page_tables, LAYOUT_PAGE_TABLES);
	assert_int_equal(gm_read(&f->gm, LAYOUT_PAGE_TABLES, pml4, sizeof(pml4)), 0);
	assert_int_equal(pml4[0] & 1, 1);
	for (int i = 1; i < 512; i++)
		assert_int_equal(pml4[i], 0);
	assert_int_equal(gm_read(&f->gm, pml4[0] & ~0xfffULL, pdpt, sizeof(pdpt)), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pdpt[i] & 3, 3);
		assert_int_equal(gm_read(&f->gm, pdpt[i] & ~0xfffULL, pd, sizeof(pd)), 0);
		for (int j = 0; j < 512; j += 37)
			assert_int_equal(pd[j], ((uint64_t)i << 30) + ((uint64_t)j << 21) + 0x83);
		/* The tables must not sit where the kernel or the zero page go. */
		assert_true((pdpt[i] & ~0xfffULL) >= LAYOUT_PAGE_TABLES &&
			    (pdpt[i] & ~0xfffULL) <
				    LAYOUT_PAGE_TABLES + LOADER_PAGE_TABLE_PAGES * 4096);
	}
	assert_int_equal(pdpt[4], 0);
}

static void expect_gdt(struct fixture *f)
{
	uint64_t gdt[LOADER_GDT_ENTRIES];

	assert_int_equal(gm_read(&f->gm, LAYOUT_BOOT_GDT, gdt, sizeof(gdt)), 0);
	assert_int_equal(gdt[0], 0);
	/* 64-bit code at __BOOT_CS: L set, D clear, present, code. */
	assert_int_equal((gdt[LOADER_SEL_CODE64 / 8] >> 53) & 3, 1);
	assert_int_equal((gdt[LOADER_SEL_CODE64 / 8] >> 40) & 0x98, 0x98);
	/* 32-bit code: D set, L clear. */
	assert_int_equal((gdt[LOADER_SEL_CODE32 / 8] >> 53) & 3, 2);
	/* Data at __BOOT_DS: present, writable data. */
	assert_int_equal((gdt[LOADER_SEL_DATA / 8] >> 40) & 0x9a, 0x92);
}

/* ---- bzImage ---- */

static void test_bzimage_zero_page(void **state)
{
	struct fixture *f = *state;
	struct tbz t = tbz_default();
	const char *initrd = initrd_file(100000);
	const char *cmdline = "console=ttyS0 earlyprintk=serial";
	struct boot_params bp;
	char cl[64];

	assert_int_equal(load(f, bzimage_file(&t), initrd, cmdline), 0);
	assert_int_equal(f->bi.mode, BOOT_LINUX64);
	assert_false(f->bi.is_elf);
	assert_int_equal(f->bi.kernel_start, t.pref_address);
	assert_int_equal(f->bi.entry, t.pref_address + 0x200);
	assert_int_equal(f->bi.boot_data, LAYOUT_ZERO_PAGE);
	assert_true(f->bi.kernel_end >= t.pref_address + t.init_size);
	expect_pattern(f, t.pref_address, t.payload, 0x5a);

	assert_int_equal(gm_read(&f->gm, LAYOUT_ZERO_PAGE, &bp, sizeof(bp)), 0);
	assert_int_equal(bp.hdr.header, SETUP_HDR_MAGIC);
	assert_int_equal(bp.hdr.version, 0x020f);
	assert_int_equal(bp.hdr.boot_flag, SETUP_BOOT_FLAG);
	assert_int_equal(bp.hdr.kernel_info_offset, 0x1234); /* copied through the header's end */
	assert_int_equal(bp.hdr.type_of_loader, 0xff);
	assert_int_equal(bp.hdr.loadflags, LOADED_HIGH | CAN_USE_HEAP);
	assert_int_not_equal(bp.hdr.heap_end_ptr, 0);
	assert_int_equal(bp.hdr.cmd_line_ptr, LAYOUT_CMDLINE);
	assert_int_equal(bp.ext_cmd_line_ptr, 0);
	assert_int_equal(bp.hdr.setup_data, 0);
	assert_int_equal(bp.hdr.code32_start, t.pref_address);
	assert_int_equal(bp.acpi_rsdp_addr, RSDP);

	assert_int_equal(bp.hdr.ramdisk_image, f->bi.initrd_start);
	assert_int_equal(bp.hdr.ramdisk_size, 100000);
	assert_int_equal(bp.ext_ramdisk_image, 0);
	assert_int_equal(bp.ext_ramdisk_size, 0);
	assert_int_equal(f->bi.initrd_size, 100000);
	assert_int_equal(f->bi.initrd_start % 4096, 0);
	assert_true(f->bi.initrd_start >= f->bi.kernel_end);
	assert_true(f->bi.initrd_start + 100000 <= RAM_SIZE);
	assert_true(f->bi.initrd_start + 100000 > RAM_SIZE - 4096); /* at the top of RAM */
	expect_pattern(f, f->bi.initrd_start, 100000, 0x77);

	expect_e820(f, bp.e820_table, bp.e820_entries);
	assert_int_equal(gm_read(&f->gm, LAYOUT_CMDLINE, cl, strlen(cmdline) + 1), 0);
	assert_string_equal(cl, cmdline);
	expect_identity_map(f);
	expect_gdt(f);
}

static void test_bzimage_short_header_is_not_overcopied(void **state)
{
	struct fixture *f = *state;
	struct tbz t = tbz_default();
	struct boot_params bp;

	t.jump = 0x66; /* a 2.12-era header ends at 0x268 */
	assert_int_equal(load(f, bzimage_file(&t), NULL, ""), 0);
	assert_int_equal(gm_read(&f->gm, LAYOUT_ZERO_PAGE, &bp, sizeof(bp)), 0);
	assert_int_equal(bp.hdr.kernel_info_offset, 0);
	assert_int_equal(bp.hdr.init_size, t.init_size);
	assert_int_equal(bp.hdr.ramdisk_image, 0);
	assert_int_equal(bp.hdr.ramdisk_size, 0);
	assert_int_equal(f->bi.initrd_size, 0);
}

static void test_bzimage_pref_address_not_in_ram(void **state)
{
	struct fixture *f = *state;
	struct tbz t = tbz_default();

	t.pref_address = 0x10000000; /* 256 MiB: past this guest's RAM */
	t.setup_sects = 0;	     /* means 4 */
	assert_int_equal(load(f, bzimage_file(&t), NULL, ""), 0);
	assert_int_equal(f->bi.kernel_start, 0x200000);
	assert_int_equal(f->bi.entry, 0x200200);
	expect_pattern(f, 0x200000, t.payload, 0x5a);

	t.kernel_alignment = 0x1000000;
	assert_int_equal(load(f, bzimage_file(&t), NULL, ""), 0);
	assert_int_equal(f->bi.kernel_start, 0x1000000);
}

static void test_bzimage_initrd_addr_max(void **state)
{
	struct fixture *f = *state;
	struct tbz t = tbz_default();

	t.initrd_addr_max = 0x1ffffff;
	assert_int_equal(load(f, bzimage_file(&t), initrd_file(5000), ""), 0);
	assert_true(f->bi.initrd_start + 5000 <= 0x2000000);
	assert_true(f->bi.initrd_start + 5000 > 0x2000000 - 4096);

	/* Below the kernel's end there is no room. */
	t.initrd_addr_max = 0x1000000 + 0x200000;
	expect_fail(f, load(f, bzimage_file(&t), initrd_file(5000), ""), "does not fit below");
}

static void test_bzimage_refusals(void **state)
{
	struct fixture *f = *state;
	struct tbz t;
	size_t len;
	uint8_t *img;

	t = tbz_default();
	t.version = 0x0205;
	expect_fail(f, load(f, bzimage_file(&t), NULL, ""), "boot protocol 2.05 is too old");

	t = tbz_default();
	t.xloadflags = 0;
	expect_fail(f, load(f, bzimage_file(&t), NULL, ""), "XLF_KERNEL_64");

	t = tbz_default();
	t.version = 0x020a; /* has no xloadflags at all */
	expect_fail(f, load(f, bzimage_file(&t), NULL, ""), "no 64-bit entry point");

	t = tbz_default();
	t.syssize_extra = 1;
	expect_fail(f, load(f, bzimage_file(&t), NULL, ""), "truncated");

	t = tbz_default();
	img = build_bzimage(&t, &len);
	img[SETUP_HDR_OFFSET] = 200; /* setup code past the end of the file */
	expect_fail(f, load(f, scratch_file(NULL, img, len), NULL, ""), "truncated");
	/* Cut inside the setup header. */
	expect_fail(f, load(f, scratch_file(NULL, img, 0x210), NULL, ""), "truncated");
	free(img);

	t = tbz_default();
	t.init_size = 80 * MiB;
	expect_fail(f, load(f, bzimage_file(&t), NULL, ""),
		    "needs 80 MiB from 0x200000 (init_size) but RAM is 64 MiB");

	t = tbz_default();
	t.relocatable = 0;
	t.pref_address = 0x8000000;
	expect_fail(f, load(f, bzimage_file(&t), NULL, ""), "not relocatable");

	t = tbz_default();
	t.pref_address = 0x8000000;
	t.kernel_alignment = 0x3000;
	expect_fail(f, load(f, bzimage_file(&t), NULL, ""), "bad kernel_alignment");

	t = tbz_default();
	t.cmdline_size = 10;
	expect_fail(f, load(f, bzimage_file(&t), NULL, "console=ttyS0"),
		    "command line too long (13 bytes; kernel");
	assert_int_equal(load(f, bzimage_file(&t), NULL, "console=tt"), 0);

	t = tbz_default();
	t.jump = 0x20; /* header ends before pref_address/init_size */
	expect_fail(f, load(f, bzimage_file(&t), NULL, ""), "corrupt setup header");
}

/* ---- ELF ---- */

static void test_elf_pvh_start_info(void **state)
{
	struct fixture *f = *state;
	struct telf t = telf_linux();
	const char *initrd = initrd_file(12345);
	struct hvm_start_info si;
	struct hvm_modlist_entry mod;
	struct hvm_memmap_table_entry mm[8];
	struct e820_entry e[8];
	int n;

	memset(f->buf + 0x1000000, 0xaa, 0x300000); /* the bss must come out zeroed */
	assert_int_equal(load(f, elf_file(&t), initrd, "console=hvc0"), 0);
	assert_int_equal(f->bi.mode, BOOT_PVH);
	assert_true(f->bi.is_elf);
	assert_int_equal(f->bi.entry, 0x1000100);
	assert_int_equal(f->bi.boot_data, LAYOUT_PVH_START_INFO);
	assert_int_equal(f->bi.page_tables, 0);
	assert_int_equal(f->bi.kernel_start, 0x1000000);
	assert_int_equal(f->bi.kernel_end, 0x1201800);

	/* Segments at p_paddr, bss zeroed up to p_memsz, nothing written past it. */
	expect_pattern(f, 0x1000000, 0x3000, 0x11);
	for (size_t i = 0x3000; i < 0x5000; i++)
		assert_int_equal(f->buf[0x1000000 + i], 0);
	assert_int_equal(f->buf[0x1005000], 0xaa);
	expect_pattern(f, 0x1200000, 0x1800, 0x22);

	assert_int_equal(gm_read(&f->gm, LAYOUT_PVH_START_INFO, &si, sizeof(si)), 0);
	assert_int_equal(si.magic, XEN_HVM_START_MAGIC_VALUE);
	assert_int_equal(si.version, 1);
	assert_int_equal(si.flags, 0);
	assert_int_equal(si.cmdline_paddr, LAYOUT_CMDLINE);
	assert_int_equal(si.rsdp_paddr, RSDP);
	assert_int_equal(si.nr_modules, 1);
	assert_int_not_equal(si.modlist_paddr, 0);
	assert_int_equal(gm_read(&f->gm, si.modlist_paddr, &mod, sizeof(mod)), 0);
	assert_int_equal(mod.paddr, f->bi.initrd_start);
	assert_int_equal(mod.size, 12345);
	assert_int_equal(f->bi.initrd_start % 4096, 0);
	assert_true(f->bi.initrd_start >= f->bi.kernel_end);
	expect_pattern(f, mod.paddr, 12345, 0x77);

	n = e820_build(&f->gm, e, 8);
	assert_int_equal(si.memmap_paddr, LAYOUT_PVH_MEMMAP);
	assert_int_equal(si.memmap_entries, n);
	assert_int_equal(gm_read(&f->gm, si.memmap_paddr, mm, n * sizeof(mm[0])), 0);
	for (int i = 0; i < n; i++) {
		assert_int_equal(mm[i].addr, e[i].addr);
		assert_int_equal(mm[i].size, e[i].size);
		assert_int_equal(mm[i].type, e[i].type);
		assert_int_equal(mm[i].reserved, 0);
	}
	assert_string_equal((char *)f->buf + LAYOUT_CMDLINE, "console=hvc0");
	expect_gdt(f);
}

static void test_elf_pvh_variants(void **state)
{
	struct fixture *f = *state;
	struct telf t = telf_linux();
	struct hvm_start_info si;

	/* A 4-byte note, no other note, no initrd. */
	t.note_desc_size = 4;
	t.note_entry = 0x1200010;
	t.other_note = false;
	assert_int_equal(load(f, elf_file(&t), NULL, ""), 0);
	assert_int_equal(f->bi.mode, BOOT_PVH);
	assert_int_equal(f->bi.entry, 0x1200010);
	assert_int_equal(gm_read(&f->gm, LAYOUT_PVH_START_INFO, &si, sizeof(si)), 0);
	assert_int_equal(si.nr_modules, 0);
	assert_int_equal(si.modlist_paddr, 0);
	assert_int_equal(f->bi.initrd_size, 0);

	/* A 32-bit PVH kernel. */
	t.bits = 32;
	t.machine = EM_386;
	t.seg[0].vaddr = t.seg[0].paddr;
	t.seg[1].vaddr = t.seg[1].paddr;
	t.note_entry = 0x1000020;
	assert_int_equal(load(f, elf_file(&t), NULL, ""), 0);
	assert_int_equal(f->bi.mode, BOOT_PVH);
	assert_int_equal(f->bi.entry, 0x1000020);
	expect_pattern(f, 0x1200000, 0x1800, 0x22);

	/* An entry note pointing outside RAM. */
	t.note_entry = 0x8000000;
	expect_fail(f, load(f, elf_file(&t), NULL, ""), "PVH entry 0x8000000 is not in RAM");

	/* A note with a 2-byte address. */
	t.note_desc_size = 2;
	expect_fail(f, load(f, elf_file(&t), NULL, ""), "PVH entry note has a 2-byte address");
}

static void test_elf64_long_mode_entry(void **state)
{
	struct fixture *f = *state;
	struct telf t = telf_linux();
	struct boot_params bp;

	t.pvh_note = false;
	t.entry = 0xffffffff81000040; /* virtual: translated through its segment */
	assert_int_equal(load(f, elf_file(&t), initrd_file(3000), "root=/dev/x"), 0);
	assert_int_equal(f->bi.mode, BOOT_ELF64);
	assert_int_equal(f->bi.entry, 0x1000040);
	assert_int_equal(f->bi.boot_data, LAYOUT_ZERO_PAGE);
	expect_identity_map(f);
	expect_gdt(f);
	assert_int_equal(gm_read(&f->gm, LAYOUT_ZERO_PAGE, &bp, sizeof(bp)), 0);
	assert_int_equal(bp.hdr.header, SETUP_HDR_MAGIC);
	assert_int_equal(bp.hdr.type_of_loader, 0xff);
	assert_int_equal(bp.hdr.cmd_line_ptr, LAYOUT_CMDLINE);
	assert_int_equal(bp.hdr.ramdisk_image, f->bi.initrd_start);
	assert_int_equal(bp.hdr.ramdisk_size, 3000);
	assert_int_equal(bp.acpi_rsdp_addr, RSDP);
	expect_e820(f, bp.e820_table, bp.e820_entries);

	/* A physical entry is used as it is. */
	t.entry = 0x1200004;
	assert_int_equal(load(f, elf_file(&t), NULL, ""), 0);
	assert_int_equal(f->bi.entry, 0x1200004);

	t.entry = 0x3000000;
	expect_fail(f, load(f, elf_file(&t), NULL, ""),
		    "entry point 0x3000000 is in no loaded segment");
}

static void test_elf_refusals(void **state)
{
	struct fixture *f = *state;
	struct telf t;
	size_t len;
	uint8_t *img;

	t = telf_linux();
	t.bits = 32;
	t.machine = EM_386;
	t.pvh_note = false;
	t.other_note = false;
	t.seg[0].vaddr = t.seg[0].paddr;
	t.seg[1].vaddr = t.seg[1].paddr;
	expect_fail(f, load(f, elf_file(&t), NULL, ""), "32-bit ELF without a PVH entry note");

	t = telf_linux();
	t.seg[1].paddr = 0x4000000 - 0x1000; /* straddles the end of RAM */
	expect_fail(f, load(f, elf_file(&t), NULL, ""),
		    "segment 1 at 0x3fff000-0x4000800 is outside RAM (64 MiB)");

	t = telf_linux();
	t.seg[0].paddr = 0x7000; /* over the zero page */
	expect_fail(f, load(f, elf_file(&t), NULL, ""), "overlaps the boot structures below 1 MiB");
	t.seg[0].paddr = 0xE0000; /* over the ACPI tables */
	expect_fail(f, load(f, elf_file(&t), NULL, ""), "overlaps the boot structures below 1 MiB");
	t.seg[0].paddr = 0xffffffffffffe000ULL; /* wraps around */
	expect_fail(f, load(f, elf_file(&t), NULL, ""), "segment 0");

	t = telf_linux();
	t.seg[0].filesz = 0x6000; /* more file than memory */
	expect_fail(f, load(f, elf_file(&t), NULL, ""), "p_filesz 0x6000 exceeds p_memsz 0x5000");

	t = telf_linux();
	t.machine = EM_AARCH64;
	expect_fail(f, load(f, elf_file(&t), NULL, ""), "not an x86 ELF");

	t = telf_linux();
	img = build_elf(&t, &len);
	expect_fail(f, load(f, scratch_file(NULL, img, len - 0x100), NULL, ""),
		    "truncated: segment 1 needs file bytes");
	expect_fail(f, load(f, scratch_file(NULL, img, 40), NULL, ""), "kernel '");
	expect_fail(f, load(f, scratch_file(NULL, img, 100), NULL, ""), "truncated or corrupt ELF");
	free(img);

	t = telf_linux();
	t.nseg = 0;
	expect_fail(f, load(f, elf_file(&t), NULL, ""), "no loadable segment");
}

/* ---- common ---- */

static void test_file_refusals(void **state)
{
	struct fixture *f = *state;
	struct telf t = telf_linux();
	const char *kernel = elf_file(&t);
	char path[160], msg[320];
	char *longline;

	snprintf(path, sizeof(path), "%s", scratch_path("missing"));
	snprintf(msg, sizeof(msg), "kernel '%s': No such file or directory", path);
	expect_fail(f, load(f, path, NULL, ""), msg);
	assert_int_equal(load(f, path, NULL, ""), -ENOENT);
	assert_string_equal(f->err, msg);

	expect_fail(f, load(f, scratch_file(NULL, "", 0), NULL, ""), "empty file");
	expect_fail(f, load(f, scratch_dir, NULL, ""), "Is a directory");
	expect_fail(
		f,
		load(f, scratch_file(NULL, "MZ\x90\0 not a kernel at all, just some bytes", 40), NULL, ""),
		"not an ELF or bzImage kernel (bad magic)");
	assert_int_equal(load(f, scratch_file(NULL, "hi", 2), NULL, ""), -ENOEXEC);

	snprintf(msg, sizeof(msg), "initrd '%s': No such file or directory", path);
	expect_fail(f, load(f, kernel, path, ""), msg);
	expect_fail(f, load(f, kernel, scratch_file(NULL, "", 0), ""), "initrd '");
	expect_fail(f, load(f, kernel, scratch_file(NULL, "", 0), ""), "': empty file");

	/* 50 MiB does not fit above a kernel ending past 18 MiB in 64 MiB. */
	const char *big = initrd_file(50 * MiB);
	snprintf(msg, sizeof(msg), "initrd '%s' (%llu bytes) does not fit below 0x4000000", big,
		 50 * MiB);
	expect_fail(f, load(f, kernel, big, ""), msg);
	expect_fail(f, load(f, kernel, big, ""), "in 64 MiB of RAM");

	longline = malloc(LAYOUT_CMDLINE_MAX + 1);
	assert_non_null(longline);
	memset(longline, 'x', LAYOUT_CMDLINE_MAX);
	longline[LAYOUT_CMDLINE_MAX] = '\0';
	expect_fail(f, load(f, kernel, NULL, longline), "command line too long (65536 bytes");
	longline[LAYOUT_CMDLINE_MAX - 1] = '\0'; /* the longest that fits with its NUL */
	assert_int_equal(load(f, kernel, NULL, longline), 0);
	assert_int_equal(f->buf[LAYOUT_CMDLINE + LAYOUT_CMDLINE_MAX - 1], 0);
	assert_int_equal(f->buf[LAYOUT_CMDLINE + LAYOUT_CMDLINE_MAX - 2], 'x');
	free(longline);
}

static void test_tiny_ram_refused(void **state)
{
	struct fixture *f = *state;
	struct telf t = telf_linux();
	struct guest_mem small;

	gm_init_buf(&small, f->buf, 1 * MiB);
	struct boot_args a = { .kernel = elf_file(&t), .cmdline = "" };
	int ret = loader_load(&small, &a, &f->bi, f->err, sizeof(f->err));

	expect_fail(f, ret, "guest RAM (1 MiB) is too small");
}

/* Hostile files: byte flips and cuts of valid kernels must fail cleanly or load. */
static void test_mutated_kernels_never_crash(void **state)
{
	struct fixture *f = *state;
	struct telf t = telf_linux();
	struct tbz b = tbz_default();
	size_t elf_len, bz_len;
	uint8_t *elf = build_elf(&t, &elf_len);
	uint8_t *bz = build_bzimage(&b, &bz_len);
	uint8_t *work = malloc(elf_len > bz_len ? elf_len : bz_len);
	unsigned seed = 12345;

	assert_non_null(work);
	for (int iter = 0; iter < 400; iter++) {
		bool use_elf = iter & 1;
		const uint8_t *src = use_elf ? elf : bz;
		size_t len = use_elf ? elf_len : bz_len;
		/* Flips land in the headers, where they matter. */
		size_t span = use_elf ? 0x200 : 0x280;
		int flips = 1 + rand_r(&seed) % 8;
		int ret;

		memcpy(work, src, len);
		for (int i = 0; i < flips; i++) {
			size_t at = rand_r(&seed) % span;

			work[at] = rand_r(&seed) & 0xff;
		}
		if (rand_r(&seed) % 4 == 0)
			len = rand_r(&seed) % len + 1;
		ret = load(f, scratch_file(NULL, work, len), NULL, "");
		if (ret < 0) {
			assert_true(strlen(f->err) > 0);
			assert_null(strchr(f->err, '\n'));
		} else {
			assert_int_equal(ret, 0);
		}
	}
	free(work);
	free(elf);
	free(bz);
}

/* ---- an archive appended to the initrd (vmdbg's /idle on PVM) ---- */

/*
 * A user's initramfs as distributions ship them: a gzip'd newc archive with an /init
 * and no /idle, grown until its length is not a multiple of 4.
 */
static uint8_t *user_initramfs(size_t *len)
{
	char script[256];
	uint8_t cpio[1024], *gz = NULL;

	for (int extra = 0; extra < 64; extra++) {
		size_t pos = 0;
		z_stream zs;

		snprintf(script, sizeof(script), "#!/bin/sh\n# %.*s\nexec /bin/sh\n", extra,
			 "padding padding padding padding padding padding padding padding");
		assert_int_equal(cpio_newc_put(cpio, sizeof(cpio), &pos, "init", 0100755, 1, script,
					       strlen(script)),
				 0);
		assert_int_equal(cpio_newc_put_trailer(cpio, sizeof(cpio), &pos), 0);
		memset(&zs, 0, sizeof(zs));
		assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8,
					      Z_DEFAULT_STRATEGY),
				 Z_OK);
		free(gz);
		gz = malloc(deflateBound(&zs, pos));
		assert_non_null(gz);
		zs.next_in = cpio;
		zs.avail_in = (uInt)pos;
		zs.next_out = gz;
		zs.avail_out = (uInt)deflateBound(&zs, pos);
		assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
		*len = zs.total_out;
		deflateEnd(&zs);
		if (*len % 4 == 3)
			return gz;
	}
	fail_msg("no gzip'd archive of length 3 mod 4");
	return NULL;
}

static int load_appended(struct fixture *f, const char *kernel, const char *initrd,
			 const uint8_t *append, size_t append_len)
{
	struct boot_args a = {
		.kernel = kernel,
		.initrd = initrd,
		.cmdline = "rdinit=/idle",
		.rsdp_gpa = RSDP,
		.initrd_append = append,
		.initrd_append_size = append_len,
	};

	memset(f->err, 0, sizeof(f->err));
	return loader_load(&f->gm, &a, &f->bi, f->err, sizeof(f->err));
}

/* The alignment matters: right after the gzip'd bytes Linux would refuse the archive. */
static void expect_refused_unaligned(const uint8_t *user, size_t user_len, const uint8_t *idle,
				     size_t idle_len)
{
	uint8_t *cat = malloc(user_len + idle_len);
	struct irw_result r;
	char why[160];

	assert_non_null(cat);
	memcpy(cat, user, user_len);
	memcpy(cat + user_len, idle, idle_len);
	assert_int_equal(irw_walk(cat, user_len + idle_len, &r, why, sizeof(why)), -1);
	irw_free(&r);
	free(cat);
}

static void test_initrd_with_idle_appended(void **state)
{
	struct fixture *f = *state;
	struct telf t = telf_linux();
	struct tbz b = tbz_default();
	size_t user_len, idle_len, at;
	uint8_t *user = user_initramfs(&user_len), *idle;
	const char *initrd = scratch_file(NULL, user, user_len);
	char why[160] = "";

	assert_int_equal(initrd_idle_archive(&idle, &idle_len), 0);
	at = (user_len + 3) & ~(size_t)3;
	for (int pvh = 0; pvh < 2; pvh++) {
		const char *kernel = pvh ? elf_file(&t) : bzimage_file(&b);
		const struct irw_entry *e;
		struct irw_result r;
		uint32_t told;
		const uint8_t *p;

		/* RAM as a reboot leaves it: the padding must be written, not assumed. */
		memset(f->buf + 32 * MiB, 0xff, 32 * MiB);
		assert_int_equal(load_appended(f, kernel, initrd, idle, idle_len), 0);
		if (pvh) {
			struct hvm_start_info si;
			struct hvm_modlist_entry mod;

			assert_int_equal(gm_read(&f->gm, LAYOUT_PVH_START_INFO, &si, sizeof(si)), 0);
			assert_int_equal(gm_read(&f->gm, si.modlist_paddr, &mod, sizeof(mod)), 0);
			assert_int_equal(mod.paddr, f->bi.initrd_start);
			told = (uint32_t)mod.size;
		} else {
			struct boot_params bp;

			assert_int_equal(gm_read(&f->gm, LAYOUT_ZERO_PAGE, &bp, sizeof(bp)), 0);
			assert_int_equal(bp.hdr.ramdisk_image, f->bi.initrd_start);
			told = bp.hdr.ramdisk_size;
		}
		/* One range: the user's bytes, zeros to a 4-byte boundary, the archive. */
		assert_int_equal(f->bi.initrd_size, at + idle_len);
		assert_int_equal(told, at + idle_len);
		assert_int_equal(f->bi.initrd_start % 4096, 0);
		assert_true(f->bi.initrd_start >= f->bi.kernel_end);
		assert_true(f->bi.initrd_start + f->bi.initrd_size <= RAM_SIZE);
		p = gm_ptr(&f->gm, f->bi.initrd_start, f->bi.initrd_size);
		assert_non_null(p);
		assert_memory_equal(p, user, user_len);
		for (size_t i = user_len; i < at; i++)
			assert_int_equal(p[i], 0);
		assert_memory_equal(p + at, idle, idle_len);

		/* Linux finds the user's /init in the gzip'd part and /idle after it. */
		if (irw_walk(p, f->bi.initrd_size, &r, why, sizeof(why)))
			fail_msg("%s initrd: not an initramfs Linux would unpack: %s",
				 pvh ? "PVH" : "bzImage", why);
		assert_int_equal(r.gzip_parts, 1);
		e = irw_find(&r, "init");
		assert_non_null(e);
		assert_int_equal(e->part, 1);
		e = irw_find(&r, "idle");
		assert_non_null(e);
		assert_int_equal(e->part, 0);
		assert_int_equal(e->offset, at);
		assert_int_equal(e->mode, 0100755);
		assert_int_equal(e->filesize, initrd_idle_elf_size());
		assert_memory_equal(e->data, initrd_idle_elf, initrd_idle_elf_size());
		assert_string_equal(r.e[r.n - 1].name, "TRAILER!!!");
		irw_free(&r);
	}
	expect_refused_unaligned(user, user_len, idle, idle_len);
	free(idle);
	free(user);
}

/* An initrd that fits alone but not with the archive says so. */
static void test_initrd_append_does_not_fit(void **state)
{
	struct fixture *f = *state;
	struct telf t = telf_linux();
	const char *kernel = elf_file(&t);
	uint8_t extra[64] = { '0' };
	/* The kernel ends at 0x1201800: the initrd may start at 0x1202000. */
	const char *initrd = initrd_file(RAM_SIZE - 0x1202000);

	assert_int_equal(load_appended(f, kernel, initrd, NULL, 0), 0);
	assert_int_equal(f->bi.initrd_start, 0x1202000);
	expect_fail(f, load_appended(f, kernel, initrd, extra, sizeof(extra)),
		    "(48226304 bytes, 48226368 with the appended archive) does not fit below 0x4000000");
}

static char last_info[1024];

static void capture_info(enum log_level level, const char *msg)
{
	if (level == LOG_INFO && strstr(msg, "rdinit"))
		snprintf(last_info, sizeof(last_info), "%s", msg);
}

/* The vmlinux-like ELF with the version banner vmdbg recognises Linux by. */
static const char *linux_elf_file(void)
{
	static const char banner[] = "Linux version 6.1.0-test (vmdbg) #1";
	struct telf t = telf_linux();
	size_t len;
	uint8_t *img = build_elf(&t, &len), *with;
	const char *path;

	with = realloc(img, len + sizeof(banner));
	assert_non_null(with);
	memcpy(with + len, banner, sizeof(banner));
	path = scratch_file(NULL, with, len + sizeof(banner));
	free(with);
	return path;
}

/* The initrd range vmdbg told the kernel about ends with /idle's archive, or not. */
static void expect_idle_appended(struct vm *vm, size_t user_len, bool appended)
{
	size_t at = (user_len + 3) & ~(size_t)3, idle_len;
	const uint8_t *p;
	uint8_t *idle;

	assert_int_equal(initrd_idle_archive(&idle, &idle_len), 0);
	if (!appended) {
		assert_int_equal(vm->boot.initrd_size, user_len);
	} else {
		assert_int_equal(vm->boot.initrd_size, at + idle_len);
		p = gm_ptr(&vm->mem, vm->boot.initrd_start, vm->boot.initrd_size);
		assert_non_null(p);
		assert_memory_equal(p + at, idle, idle_len);
	}
	free(idle);
}

/*
 * vm_load on PVM adds rdinit=/idle, says why, and appends /idle; a reboot (which loads
 * the images again with vm_load_images) appends it again. Elsewhere, or with the user's
 * own rdinit=, the initrd is the user's alone.
 */
static void test_vm_load_appends_idle_with_rdinit(void **state)
{
	struct fixture *f = *state;
	size_t user_len;
	uint8_t *user = user_initramfs(&user_len);
	const char *kernel = linux_elf_file(), *initrd = scratch_file(NULL, user, user_len);
	char err[256];
	struct {
		bool on_pvm, workarounds;
		const char *append;
		bool idle;
	} cases[] = {
		{ true, true, NULL, true },
		{ true, true, "console=ttyS0", true },
		{ false, true, NULL, false },
		{ true, false, NULL, false },
		{ true, true, "console=ttyS0 rdinit=/init", false },
		{ true, true, "init=/sbin/init", false },
	};

	log_sink = capture_info;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vm *vm = calloc(1, sizeof(*vm));

		assert_non_null(vm);
		last_info[0] = '\0';
		memset(f->buf, 0, RAM_SIZE);
		gm_init_buf(&vm->mem, f->buf, RAM_SIZE);
		vm->ncpus = 1;
		vm->on_pvm = cases[i].on_pvm;
		/* What the guest-syscall probe finds on PVM, without a KVM here. */
		vm->guest_syscall = cases[i].on_pvm ? VM_SYSCALL_FAILS : VM_SYSCALL_WORKS;
		snprintf(vm->guest_syscall_why, sizeof(vm->guest_syscall_why), "test");
		vm->cfg.kernel = kernel;
		vm->cfg.initrd = initrd;
		vm->cfg.append = cases[i].append;
		vm->cfg.pvm_workarounds = cases[i].workarounds;
		if (vm_load(vm, err, sizeof(err)))
			fail_msg("case %zu: vm_load: %s", i, err);
		assert_int_equal(vm->initrd_idle, cases[i].idle);
		expect_idle_appended(vm, user_len, cases[i].idle);
		if (cases[i].idle) {
			assert_non_null(strstr(vm->cmdline, " rdinit=/idle"));
			assert_non_null(strstr(last_info, "adding 'rdinit=/idle'"));
			assert_non_null(strstr(last_info, "appended to the initrd as a second cpio "
							  "archive"));
			/* What vm_reboot does after the guest's RAM has been used. */
			memset(f->buf + 32 * MiB, 0xff, 32 * MiB);
			assert_int_equal(vm_load_images(vm, err, sizeof(err)), 0);
			expect_idle_appended(vm, user_len, true);
			assert_int_equal(
				((const uint8_t *)gm_ptr(&vm->mem, vm->boot.initrd_start,
							 vm->boot.initrd_size))[user_len],
				0);
		} else {
			assert_null(strstr(vm->cmdline, "rdinit=/idle"));
			assert_int_equal(last_info[0], '\0');
		}
		symtab_free(&vm->syms);
		free(vm->cmdline);
		free(vm->kernel_path);
		free(vm->initrd_path);
		free(vm);
	}
	log_sink = NULL;
	free(user);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bzimage_zero_page, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bzimage_short_header_is_not_overcopied, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bzimage_pref_address_not_in_ram, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bzimage_initrd_addr_max, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bzimage_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_elf_pvh_start_info, setup, teardown),
		cmocka_unit_test_setup_teardown(test_elf_pvh_variants, setup, teardown),
		cmocka_unit_test_setup_teardown(test_elf64_long_mode_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_elf_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tiny_ram_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mutated_kernels_never_crash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_initrd_with_idle_appended, setup, teardown),
		cmocka_unit_test_setup_teardown(test_initrd_append_does_not_fit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vm_load_appends_idle_with_rdinit, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, scratch_setup, scratch_teardown);
}
