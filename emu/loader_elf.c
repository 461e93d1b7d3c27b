/* ELF kernels through libelf: PT_LOAD segments at their physical addresses. */
#include "loader.h"

#include <errno.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <string.h>

#include "bootparam.h"
#include "layout.h"

/* Where the loader's own structures live: a segment there would be overwritten. */
static bool overlaps_boot_structures(uint64_t start, uint64_t end)
{
	return start < LAYOUT_CMDLINE + LAYOUT_CMDLINE_MAX ||
	       (start < LAYOUT_BIOS_END && end > LAYOUT_EBDA_START);
}

/* Scan one block of notes for Xen's PHYS32_ENTRY. Returns 1 found, 0 not, <0 bad note. */
static int scan_notes(struct loader_ctx *c, Elf_Data *data, uint64_t *entry)
{
	size_t off = 0, next, name_off, desc_off;
	GElf_Nhdr nh;

	if (!data || !data->d_buf)
		return 0;
	while (off < data->d_size &&
	       (next = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
		const uint8_t *d = data->d_buf;

		if (nh.n_type == XEN_ELFNOTE_PHYS32_ENTRY && nh.n_namesz == 4 &&
		    memcmp(d + name_off, "Xen", 4) == 0) {
			/* Linux emits the address with _ASM_PTR: 8 bytes in a 64-bit kernel. */
			if (nh.n_descsz == 4) {
				uint32_t v;

				memcpy(&v, d + desc_off, 4);
				*entry = v;
			} else if (nh.n_descsz == 8) {
				memcpy(entry, d + desc_off, 8);
			} else {
				return loader_fail(
					c, -ENOEXEC,
					"kernel '%s': PVH entry note has a %u-byte address",
					c->args->kernel, (unsigned)nh.n_descsz);
			}
			return 1;
		}
		off = next;
	}
	return 0;
}

static int find_pvh_entry(struct loader_ctx *c, Elf *elf, size_t phnum, uint64_t *entry)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	GElf_Phdr ph;
	int ret;

	for (size_t i = 0; i < phnum; i++) {
		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_NOTE || ph.p_filesz == 0)
			continue;
		if (ph.p_offset > c->kernel_size || ph.p_filesz > c->kernel_size - ph.p_offset)
			continue;
		ret = scan_notes(c,
				 elf_getdata_rawchunk(elf, ph.p_offset, ph.p_filesz,
						      ph.p_align == 8 ? ELF_T_NHDR8 : ELF_T_NHDR),
				 entry);
		if (ret)
			return ret;
	}
	/* Some linkers drop PT_NOTE; the sections may still be there. */
	while ((scn = elf_nextscn(elf, scn)) != NULL) {
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		if (sh.sh_offset > c->kernel_size || sh.sh_size > c->kernel_size - sh.sh_offset)
			continue;
		ret = scan_notes(c, elf_getdata(scn, NULL), entry);
		if (ret)
			return ret;
	}
	return 0;
}

static int load_segments(struct loader_ctx *c, Elf *elf, size_t phnum)
{
	const char *path = c->args->kernel;
	uint64_t lo = UINT64_MAX, hi = 0;
	char ram[32];
	GElf_Phdr ph;

	for (size_t i = 0; i < phnum; i++) {
		uint8_t *dst;
		uint64_t end;

		if (!gelf_getphdr(elf, i, &ph))
			return loader_fail(
				c, -ENOEXEC,
				"kernel '%s': truncated or corrupt ELF: program header %zu: %s",
				path, i, elf_errmsg(-1));
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		if (ph.p_filesz > ph.p_memsz)
			return loader_fail(c, -ENOEXEC,
					   "kernel '%s': segment %zu: p_filesz 0x%" PRIx64
					   " exceeds p_memsz 0x%" PRIx64,
					   path, i, (uint64_t)ph.p_filesz, (uint64_t)ph.p_memsz);
		if (ph.p_offset > c->kernel_size || ph.p_filesz > c->kernel_size - ph.p_offset)
			return loader_fail(
				c, -ENOEXEC,
				"kernel '%s': truncated: segment %zu needs file bytes 0x%" PRIx64
				"-0x%" PRIx64 " but the file has %zu bytes",
				path, i, (uint64_t)ph.p_offset, (uint64_t)ph.p_offset + ph.p_filesz,
				c->kernel_size);
		end = ph.p_paddr + ph.p_memsz;
		if (end < ph.p_paddr)
			end = UINT64_MAX;
		if (overlaps_boot_structures(ph.p_paddr, end))
			return loader_fail(c, -ENOEXEC,
					   "kernel '%s': segment %zu at 0x%" PRIx64 "-0x%" PRIx64
					   " overlaps the boot structures below 1 MiB",
					   path, i, (uint64_t)ph.p_paddr, end);
		dst = gm_ptr(c->gm, ph.p_paddr, ph.p_memsz);
		if (!dst)
			return loader_fail(c, -ENOMEM,
					   "kernel '%s': segment %zu at 0x%" PRIx64 "-0x%" PRIx64
					   " is outside RAM (%s)",
					   path, i, (uint64_t)ph.p_paddr, end,
					   loader_fmt_size(c->gm->size, ram, sizeof(ram)));
		memcpy(dst, c->kernel + ph.p_offset, ph.p_filesz);
		memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
		if (ph.p_paddr < lo)
			lo = ph.p_paddr;
		if (end > hi)
			hi = end;
	}
	if (hi == 0)
		return loader_fail(c, -ENOEXEC, "kernel '%s': ELF has no loadable segment", path);
	c->out->kernel_start = lo;
	c->out->kernel_end = hi;
	return 0;
}

/* The ELF64 entry as a physical address: Linux links it virtual, loads it physical. */
static int entry_to_phys(struct loader_ctx *c, Elf *elf, size_t phnum, uint64_t entry,
			 uint64_t *phys)
{
	GElf_Phdr ph;

	for (size_t i = 0; i < phnum; i++) {
		if (gelf_getphdr(elf, i, &ph) && ph.p_type == PT_LOAD && entry >= ph.p_paddr &&
		    entry - ph.p_paddr < ph.p_memsz) {
			*phys = entry;
			return 0;
		}
	}
	for (size_t i = 0; i < phnum; i++) {
		if (gelf_getphdr(elf, i, &ph) && ph.p_type == PT_LOAD && entry >= ph.p_vaddr &&
		    entry - ph.p_vaddr < ph.p_memsz) {
			*phys = ph.p_paddr + (entry - ph.p_vaddr);
			return 0;
		}
	}
	return loader_fail(c, -ENOEXEC,
			   "kernel '%s': entry point 0x%" PRIx64 " is in no loaded segment",
			   c->args->kernel, entry);
}

static int load_elf(struct loader_ctx *c, Elf *elf)
{
	const char *path = c->args->kernel;
	uint64_t pvh_entry = 0, entry = 0;
	GElf_Ehdr eh;
	size_t phnum;
	int class, ret;
	bool pvh;

	if (elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh))
		return loader_fail(c, -ENOEXEC, "kernel '%s': truncated or corrupt ELF header: %s",
				   path, elf_errmsg(-1));
	class = gelf_getclass(elf);
	if (eh.e_ident[EI_DATA] != ELFDATA2LSB)
		return loader_fail(c, -ENOEXEC, "kernel '%s': not a little-endian ELF", path);
	if ((class == ELFCLASS64 && eh.e_machine != EM_X86_64) ||
	    (class == ELFCLASS32 && eh.e_machine != EM_386) ||
	    (class != ELFCLASS32 && class != ELFCLASS64))
		return loader_fail(c, -ENOEXEC,
				   "kernel '%s': not an x86 ELF (class %d, e_machine %u)", path,
				   class, (unsigned)eh.e_machine);
	if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)
		return loader_fail(c, -ENOEXEC, "kernel '%s': not an executable ELF (e_type %u)",
				   path, (unsigned)eh.e_type);
	if (elf_getphdrnum(elf, &phnum) != 0)
		return loader_fail(c, -ENOEXEC, "kernel '%s': truncated or corrupt ELF: %s", path,
				   elf_errmsg(-1));
	if (phnum == 0 && eh.e_phnum == 0)
		return loader_fail(c, -ENOEXEC, "kernel '%s': ELF has no program headers", path);
	if (phnum == 0 || eh.e_phoff > c->kernel_size ||
	    (uint64_t)phnum * eh.e_phentsize > c->kernel_size - eh.e_phoff)
		return loader_fail(
			c, -ENOEXEC,
			"kernel '%s': truncated or corrupt ELF: program headers at 0x%" PRIx64
			" run past the end of the file (%zu bytes)",
			path, (uint64_t)eh.e_phoff, c->kernel_size);

	ret = find_pvh_entry(c, elf, phnum, &pvh_entry);
	if (ret < 0)
		return ret;
	pvh = ret == 1;
	if (!pvh && class == ELFCLASS32)
		return loader_fail(c, -ENOEXEC,
				   "kernel '%s': 32-bit ELF without a PVH entry note (Xen "
				   "XEN_ELFNOTE_PHYS32_ENTRY): no way to enter it",
				   path);
	ret = load_segments(c, elf, phnum);
	if (ret)
		return ret;

	c->out->is_elf = true;
	c->initrd_limit = LAYOUT_RAM_HOLE_START;
	if (pvh) {
		if (pvh_entry >= LAYOUT_RAM_HOLE_START || !gm_is_ram(c->gm, pvh_entry, 1))
			return loader_fail(c, -ENOEXEC,
					   "kernel '%s': PVH entry 0x%" PRIx64 " is not in RAM",
					   path, pvh_entry);
		c->out->mode = BOOT_PVH;
		c->out->entry = pvh_entry;
		c->out->boot_data = LAYOUT_PVH_START_INFO;
		return 0;
	}
	ret = entry_to_phys(c, elf, phnum, eh.e_entry, &entry);
	if (ret)
		return ret;
	/* Entered with paging on through the identity map, which covers 4 GiB only. */
	if (entry >= LAYOUT_RAM_HIGH_START)
		return loader_fail(c, -ENOEXEC, "kernel '%s': entry 0x%" PRIx64 " is above 4 GiB",
				   path, entry);
	c->out->mode = BOOT_ELF64;
	c->out->entry = entry;
	c->out->boot_data = LAYOUT_ZERO_PAGE;
	return 0;
}

int loader_elf_load(struct loader_ctx *c)
{
	Elf *elf;
	int ret;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return loader_fail(c, -ENOSYS, "libelf: %s", elf_errmsg(-1));
	elf = elf_memory((char *)c->kernel, c->kernel_size);
	if (!elf)
		return loader_fail(c, -ENOEXEC, "kernel '%s': corrupt ELF: %s", c->args->kernel,
				   elf_errmsg(-1));
	ret = load_elf(c, elf);
	elf_end(elf);
	return ret;
}

int loader_elf_write_start_info(struct loader_ctx *c)
{
	struct hvm_start_info si = {
		.magic = XEN_HVM_START_MAGIC_VALUE,
		.version = 1,
		.cmdline_paddr = LAYOUT_CMDLINE,
		.rsdp_paddr = c->args->rsdp_gpa,
		.memmap_paddr = LAYOUT_PVH_MEMMAP,
		.memmap_entries = c->e820_nr,
	};
	int ret;

	_Static_assert(LAYOUT_PVH_MEMMAP +
				       LOADER_E820_MAX * sizeof(struct hvm_memmap_table_entry) <=
			       LAYOUT_ZERO_PAGE,
		       "PVH memmap overruns the zero page");
	_Static_assert(LOADER_PVH_MODLIST + sizeof(struct hvm_modlist_entry) <= LAYOUT_PVH_MEMMAP,
		       "PVH module list overruns the memmap");
	if (c->out->initrd_size) {
		struct hvm_modlist_entry mod = {
			.paddr = c->out->initrd_start,
			.size = c->out->initrd_size,
		};

		ret = gm_write(c->gm, LOADER_PVH_MODLIST, &mod, sizeof(mod));
		if (ret)
			return ret;
		si.nr_modules = 1;
		si.modlist_paddr = LOADER_PVH_MODLIST;
	}
	for (int i = 0; i < c->e820_nr; i++) {
		struct hvm_memmap_table_entry e = {
			.addr = c->e820[i].addr,
			.size = c->e820[i].size,
			.type = c->e820[i].type,
		};

		ret = gm_write(c->gm, LAYOUT_PVH_MEMMAP + i * sizeof(e), &e, sizeof(e));
		if (ret)
			return ret;
	}
	return gm_write(c->gm, LAYOUT_PVH_START_INFO, &si, sizeof(si));
}
