/*
 * ACPI tables for a hardware-reduced machine: RSDP, XSDT, FADT, MADT and a
 * DSDT that describes \_S5 and every virtio-mmio window as an LNRO0005
 * device. The tables are what let an unmodified distribution kernel find
 * its CPUs (no MP table) and the virtio-mmio console (no command line).
 */
#ifndef VMDBG_ACPI_H
#define VMDBG_ACPI_H

#include <stdint.h>

#include "guest_mem.h"

struct acpi_mmio_dev {
	uint64_t base;
	uint32_t size;
	uint32_t gsi;
};

#define ACPI_MAX_MMIO_DEVS 8

struct acpi_config {
	int ncpus;           /* one Local APIC entry each, APIC ids 0..ncpus-1 */
	int nr_mmio;
	struct acpi_mmio_dev mmio[ACPI_MAX_MMIO_DEVS];
};

/*
 * Write every table into [LAYOUT_ACPI_START, LAYOUT_ACPI_END), the RSDP
 * first (so the 0xE0000 scan finds it). *RSDP_GPA receives its address.
 * Returns 0 or -errno (-ENOSPC if the tables do not fit).
 */
int acpi_build(const struct guest_mem *gm, const struct acpi_config *cfg, uint64_t *rsdp_gpa);

/*
 * The same into [START, END) (START 16-byte aligned): the region is
 * rewritten whole, so nothing of an earlier build lingers. Guest memory is
 * untouched on failure: -EINVAL for a bad config (ncpus outside 1..254,
 * nr_mmio outside 0..ACPI_MAX_MMIO_DEVS, an empty window or one reaching
 * past 4 GiB), -EFAULT when the region is not RAM, -ENOSPC when the tables
 * do not fit.
 */
int acpi_build_range(const struct guest_mem *gm, const struct acpi_config *cfg, uint64_t start,
		     uint64_t end, uint64_t *rsdp_gpa);

/* The 8-bit sum of LEN bytes (an ACPI table is valid when this is 0). */
uint8_t acpi_checksum(const void *p, uint64_t len);

#endif
