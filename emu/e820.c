#include "loader.h"

#include "layout.h"

static int e820_add(struct e820_entry *out, int n, int max, uint64_t addr, uint64_t size,
		    uint32_t type)
{
	if (n >= max || size == 0)
		return n;
	out[n].addr = addr;
	out[n].size = size;
	out[n].type = type;
	return n + 1;
}

int e820_build(const struct guest_mem *gm, struct e820_entry *out, int max)
{
	uint64_t low = gm->low_size;
	uint64_t base_end = low < LAYOUT_EBDA_START ? low : LAYOUT_EBDA_START;
	int n = 0;

	n = e820_add(out, n, max, 0, base_end, E820_RAM);
	/*
	 * The EBDA, the ACPI tables at 0xE0000 and the BIOS area stay reserved
	 * even when RAM backs them, so the kernel never allocates over the tables.
	 */
	n = e820_add(out, n, max, LAYOUT_EBDA_START, LAYOUT_BIOS_END - LAYOUT_EBDA_START,
		     E820_RESERVED);
	if (low > LAYOUT_BIOS_END)
		n = e820_add(out, n, max, LAYOUT_BIOS_END, low - LAYOUT_BIOS_END, E820_RAM);
	n = e820_add(out, n, max, LAYOUT_RAM_HIGH_START, gm_high_size(gm), E820_RAM);
	return n;
}
