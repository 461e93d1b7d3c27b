/* bzImage through the Linux 64-bit boot protocol (Documentation/arch/x86/boot.rst). */
#include "loader.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "bootparam.h"
#include "layout.h"

#define SECTOR 512
/* Offsets of the setup header fields a 2.12+ header must reach. */
#define SETUP_HDR_MIN_END 0x264 /* through init_size */

static bool is_pow2(uint64_t v)
{
	return v && (v & (v - 1)) == 0;
}

static bool fits(const struct guest_mem *gm, uint64_t addr, uint64_t size)
{
	return addr >= LAYOUT_KERNEL_DEFAULT && addr < gm->low_size && size <= gm->low_size - addr;
}

int loader_bzimage_load(struct loader_ctx *c)
{
	const char *path = c->args->kernel;
	const size_t size = c->kernel_size;
	const size_t full_hdr_end = SETUP_HDR_OFFSET + sizeof(struct setup_header);
	struct setup_header h;
	size_t hdr_end, setup_size;
	uint64_t load_len, need, align, load;
	char ram[32], needs[32];

	hdr_end = size > SETUP_JUMP_OFFSET ? 0x202 + (size_t)c->kernel[SETUP_JUMP_OFFSET] : 0;
	if (hdr_end > full_hdr_end)
		hdr_end = full_hdr_end;
	if (hdr_end > size)
		hdr_end = size;
	memset(&h, 0, sizeof(h));
	if (hdr_end > SETUP_HDR_OFFSET)
		memcpy(&h, c->kernel + SETUP_HDR_OFFSET, hdr_end - SETUP_HDR_OFFSET);
	/* The version sits right after the magic, which the caller found. */
	if (size < 0x208)
		return loader_fail(c, -ENOEXEC, "kernel '%s': truncated bzImage (%zu bytes)", path,
				   size);
	memcpy(&h.version, c->kernel + 0x206, sizeof(h.version));
	if (size < 0x202 + (size_t)c->kernel[SETUP_JUMP_OFFSET])
		return loader_fail(c, -ENOEXEC,
				   "kernel '%s': truncated: the setup header ends at 0x%zx, the "
				   "file has %zu bytes",
				   path, 0x202 + (size_t)c->kernel[SETUP_JUMP_OFFSET], size);
	if (h.version < 0x206)
		return loader_fail(
			c, -ENOEXEC,
			"kernel '%s': boot protocol %u.%02u is too old (need 2.06 or later)", path,
			h.version >> 8, h.version & 0xff);
	if (h.version >= 0x20c && hdr_end < SETUP_HDR_MIN_END)
		return loader_fail(c, -ENOEXEC,
				   "kernel '%s': corrupt setup header (ends at 0x%zx, protocol "
				   "%u.%02u needs 0x%x)",
				   path, hdr_end, h.version >> 8, h.version & 0xff,
				   SETUP_HDR_MIN_END);
	if (h.version < 0x20c || !(h.xloadflags & XLF_KERNEL_64))
		return loader_fail(
			c, -ENOEXEC,
			"kernel '%s': bzImage has no 64-bit entry point (boot protocol %u.%02u, "
			"XLF_KERNEL_64 not in xloadflags)",
			path, h.version >> 8, h.version & 0xff);

	setup_size = ((size_t)(h.setup_sects ? h.setup_sects : 4) + 1) * SECTOR;
	if (setup_size >= size)
		return loader_fail(c, -ENOEXEC,
				   "kernel '%s': truncated: %zu bytes of setup code but the file "
				   "has %zu bytes",
				   path, setup_size, size);
	load_len = size - setup_size;
	if (h.syssize) {
		if ((uint64_t)h.syssize * 16 > load_len)
			return loader_fail(
				c, -ENOEXEC,
				"kernel '%s': truncated: the setup header says %" PRIu64
				" bytes of kernel after the setup code, the file has %" PRIu64,
				path, (uint64_t)h.syssize * 16, load_len);
		/* Whatever follows (a signature, say) is not the kernel's. */
		load_len = (uint64_t)h.syssize * 16;
	}
	need = h.init_size > load_len ? h.init_size : load_len;

	/* The decompressor works in place: it needs init_size bytes from where it is loaded. */
	align = h.kernel_alignment;
	if (fits(c->gm, h.pref_address, need)) {
		load = h.pref_address;
	} else if (!h.relocatable_kernel) {
		return loader_fail(c, -ENOMEM,
				   "kernel '%s' is not relocatable and needs %s at 0x%" PRIx64
				   " (init_size), but RAM is %s",
				   path, loader_fmt_size(need, needs, sizeof(needs)),
				   (uint64_t)h.pref_address,
				   loader_fmt_size(c->gm->size, ram, sizeof(ram)));
	} else {
		if (!is_pow2(align) || align > LAYOUT_RAM_HOLE_START)
			return loader_fail(c, -ENOEXEC,
					   "kernel '%s': bad kernel_alignment 0x%" PRIx64, path,
					   align);
		load = (LAYOUT_KERNEL_DEFAULT + align - 1) & ~(align - 1);
		if (!fits(c->gm, load, need))
			return loader_fail(c, -ENOMEM,
					   "kernel '%s' needs %s from 0x%" PRIx64
					   " (init_size) but RAM is %s",
					   path, loader_fmt_size(need, needs, sizeof(needs)), load,
					   loader_fmt_size(c->gm->size, ram, sizeof(ram)));
	}
	if (gm_write(c->gm, load, c->kernel + setup_size, load_len))
		return loader_fail(c, -EFAULT, "kernel '%s': cannot write at 0x%" PRIx64, path,
				   load);

	c->out->mode = BOOT_LINUX64;
	c->out->entry = load + BZIMAGE_ENTRY64_OFFSET;
	c->out->boot_data = LAYOUT_ZERO_PAGE;
	c->out->kernel_start = load;
	c->out->kernel_end = load + need;
	c->initrd_limit =
		(uint64_t)(h.initrd_addr_max ? h.initrd_addr_max : INITRD_ADDR_MAX_DEFAULT) + 1;
	c->cmdline_max = h.cmdline_size;
	c->setup = c->kernel + SETUP_HDR_OFFSET;
	c->setup_len = hdr_end - SETUP_HDR_OFFSET;
	return 0;
}

int loader_write_zero_page(struct loader_ctx *c, const uint8_t *setup, size_t setup_len)
{
	const struct boot_info *out = c->out;
	struct boot_params bp;
	struct setup_header *h = &bp.hdr;

	memset(&bp, 0, sizeof(bp));
	if (setup) {
		if (setup_len > sizeof(*h))
			setup_len = sizeof(*h);
		memcpy(h, setup, setup_len);
		h->code32_start = out->kernel_start;
	} else {
		/* An ELF64 kernel has no header of its own: describe what a 2.15 kernel would see.
		 */
		h->boot_flag = SETUP_BOOT_FLAG;
		h->header = SETUP_HDR_MAGIC;
		h->version = 0x020f;
		h->initrd_addr_max = LAYOUT_RAM_HOLE_START - 1;
		h->cmdline_size = LAYOUT_CMDLINE_MAX - 1;
		h->xloadflags = XLF_KERNEL_64;
	}
	h->type_of_loader = 0xff;
	/* KASLR_FLAG is the decompressor's to set; QUIET and KEEP_SEGMENTS are not ours to ask. */
	h->loadflags = (h->loadflags & ~(KASLR_FLAG | QUIET_FLAG | KEEP_SEGMENTS)) | LOADED_HIGH |
		       CAN_USE_HEAP;
	h->heap_end_ptr = 0xfe00;
	h->cmd_line_ptr = (uint32_t)LAYOUT_CMDLINE;
	bp.ext_cmd_line_ptr = (uint32_t)(LAYOUT_CMDLINE >> 32);
	h->ramdisk_image = (uint32_t)out->initrd_start;
	h->ramdisk_size = (uint32_t)out->initrd_size;
	bp.ext_ramdisk_image = (uint32_t)(out->initrd_start >> 32);
	bp.ext_ramdisk_size = (uint32_t)(out->initrd_size >> 32);
	h->setup_data = 0;
	h->hardware_subarch = 0;
	bp.acpi_rsdp_addr = c->args->rsdp_gpa;
	for (int i = 0; i < c->e820_nr && i < E820_MAX_ENTRIES_ZEROPAGE; i++) {
		bp.e820_table[i].addr = c->e820[i].addr;
		bp.e820_table[i].size = c->e820[i].size;
		bp.e820_table[i].type = c->e820[i].type;
		bp.e820_entries = i + 1;
	}
	return gm_write(c->gm, LAYOUT_ZERO_PAGE, &bp, sizeof(bp));
}
