/*
 * The guest-physical memory map of the machine vmdbg builds. Every fixed
 * address lives here so the loader, the ACPI tables, the e820 map and the
 * buses agree.
 */
#ifndef VMDBG_LAYOUT_H
#define VMDBG_LAYOUT_H

/* RAM starts at 0; whatever does not fit below the 3 GiB hole moves to 4 GiB. */
#define LAYOUT_RAM_HOLE_START 0xC0000000ULL
#define LAYOUT_RAM_HIGH_START 0x100000000ULL

/* Low-memory boot structures (all below the 640 KiB EBDA boundary). */
#define LAYOUT_BOOT_GDT 0x00000500ULL      /* flat GDT used at entry */
#define LAYOUT_PVH_START_INFO 0x00006000ULL /* struct hvm_start_info */
#define LAYOUT_PVH_MEMMAP 0x00006100ULL     /* hvm_memmap_table_entry[] */
#define LAYOUT_ZERO_PAGE 0x00007000ULL      /* struct boot_params (4 KiB) */
#define LAYOUT_PAGE_TABLES 0x00009000ULL    /* PML4 + PDPT + 4 PDs: identity map of 4 GiB */
#define LAYOUT_CMDLINE 0x00020000ULL
#define LAYOUT_CMDLINE_MAX 0x00010000ULL    /* 64 KiB, NUL included */
#define LAYOUT_EBDA_START 0x0009FC00ULL     /* reserved to 1 MiB from here in e820 */

/* ACPI tables: the RSDP first, at the start of the BIOS scan area. */
#define LAYOUT_ACPI_START 0x000E0000ULL
#define LAYOUT_ACPI_END 0x000F0000ULL      /* 64 KiB for every table */
#define LAYOUT_BIOS_END 0x00100000ULL

/* Where a bzImage's protected-mode kernel goes. */
#define LAYOUT_KERNEL_DEFAULT 0x00100000ULL

/* Devices. */
#define LAYOUT_MMIO_START 0xD0000000ULL    /* virtio-mmio windows, one 4 KiB page each */
#define LAYOUT_MMIO_WINDOW 0x1000ULL
#define LAYOUT_IOAPIC 0xFEC00000ULL
#define LAYOUT_LAPIC 0xFEE00000ULL

/* ACPI hardware-reduced power management, in port I/O (FADT's GAS entries). */
#define LAYOUT_PM_SLEEP_CONTROL 0x600      /* write SLP_TYP<<2 | SLP_EN */
#define LAYOUT_PM_SLEEP_STATUS 0x601
#define LAYOUT_PM_RESET 0x602              /* write LAYOUT_PM_RESET_VALUE */
#define LAYOUT_PM_RESET_VALUE 0x42
#define LAYOUT_PM_S5_TYP 5                 /* \_S5 package value */

/* Serial ports and their ISA IRQs (also the GSIs). */
#define LAYOUT_COM1 0x3F8
#define LAYOUT_COM1_IRQ 4
#define LAYOUT_COM2 0x2F8
#define LAYOUT_COM2_IRQ 3

/* The virtio-console's window and GSI. */
#define LAYOUT_CONSOLE_MMIO LAYOUT_MMIO_START
#define LAYOUT_CONSOLE_GSI 5

#endif
