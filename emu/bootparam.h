/*
 * Structures the loader hands to a kernel: Linux's zero page (struct
 * boot_params with its setup_header, Documentation/arch/x86/boot.rst and
 * zero-page.rst) and Xen's PVH start of day structure (struct hvm_start_info,
 * xen/include/public/arch-x86/hvm/start_info.h). Field names follow those
 * documents; the offsets are asserted below because the kernel reads them by
 * position.
 */
#ifndef VMDBG_BOOTPARAM_H
#define VMDBG_BOOTPARAM_H

#include <stddef.h>
#include <stdint.h>

/* setup_header.header: "HdrS" little-endian. */
#define SETUP_HDR_MAGIC 0x53726448U
#define SETUP_BOOT_FLAG 0xAA55
/* The setup header starts at this offset of the file and of boot_params. */
#define SETUP_HDR_OFFSET 0x1f1
/* Its end is 0x202 + the byte at 0x201 (the jump's displacement). */
#define SETUP_JUMP_OFFSET 0x201

/* loadflags */
#define LOADED_HIGH (1 << 0)
#define KASLR_FLAG (1 << 1)
#define QUIET_FLAG (1 << 5)
#define KEEP_SEGMENTS (1 << 6)
#define CAN_USE_HEAP (1 << 7)

/* xloadflags (boot protocol 2.12+) */
#define XLF_KERNEL_64 (1 << 0)
#define XLF_CAN_BE_LOADED_ABOVE_4G (1 << 1)
#define XLF_EFI_HANDOVER_32 (1 << 2)
#define XLF_EFI_HANDOVER_64 (1 << 3)
#define XLF_EFI_KEXEC (1 << 4)

/* The 64-bit entry point is this far into the protected-mode kernel. */
#define BZIMAGE_ENTRY64_OFFSET 0x200
/* Protocols before 2.03 leave initrd_addr_max undefined; this is their limit. */
#define INITRD_ADDR_MAX_DEFAULT 0x37ffffffU

struct setup_header {
	uint8_t setup_sects;           /* 0x1f1 */
	uint16_t root_flags;           /* 0x1f2 */
	uint32_t syssize;              /* 0x1f4, in 16-byte paragraphs */
	uint16_t ram_size;             /* 0x1f8 */
	uint16_t vid_mode;             /* 0x1fa */
	uint16_t root_dev;             /* 0x1fc */
	uint16_t boot_flag;            /* 0x1fe */
	uint16_t jump;                 /* 0x200 */
	uint32_t header;               /* 0x202 */
	uint16_t version;              /* 0x206 */
	uint32_t realmode_swtch;       /* 0x208 */
	uint16_t start_sys_seg;        /* 0x20c */
	uint16_t kernel_version;       /* 0x20e */
	uint8_t type_of_loader;        /* 0x210 */
	uint8_t loadflags;             /* 0x211 */
	uint16_t setup_move_size;      /* 0x212 */
	uint32_t code32_start;         /* 0x214 */
	uint32_t ramdisk_image;        /* 0x218 */
	uint32_t ramdisk_size;         /* 0x21c */
	uint32_t bootsect_kludge;      /* 0x220 */
	uint16_t heap_end_ptr;         /* 0x224 */
	uint8_t ext_loader_ver;        /* 0x226 */
	uint8_t ext_loader_type;       /* 0x227 */
	uint32_t cmd_line_ptr;         /* 0x228 */
	uint32_t initrd_addr_max;      /* 0x22c */
	uint32_t kernel_alignment;     /* 0x230 */
	uint8_t relocatable_kernel;    /* 0x234 */
	uint8_t min_alignment;         /* 0x235 */
	uint16_t xloadflags;           /* 0x236 */
	uint32_t cmdline_size;         /* 0x238 */
	uint32_t hardware_subarch;     /* 0x23c */
	uint64_t hardware_subarch_data; /* 0x240 */
	uint32_t payload_offset;       /* 0x248 */
	uint32_t payload_length;       /* 0x24c */
	uint64_t setup_data;           /* 0x250 */
	uint64_t pref_address;         /* 0x258 */
	uint32_t init_size;            /* 0x260 */
	uint32_t handover_offset;      /* 0x264 */
	uint32_t kernel_info_offset;   /* 0x268 */
} __attribute__((packed));

struct boot_e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

#define E820_MAX_ENTRIES_ZEROPAGE 128

struct boot_params {
	uint8_t screen_info[0x40];     /* 0x000 */
	uint8_t apm_bios_info[0x14];   /* 0x040 */
	uint8_t _pad2[4];              /* 0x054 */
	uint64_t tboot_addr;           /* 0x058 */
	uint8_t ist_info[0x10];        /* 0x060 */
	uint64_t acpi_rsdp_addr;       /* 0x070 */
	uint8_t _pad3[8];              /* 0x078 */
	uint8_t hd0_info[16];          /* 0x080 */
	uint8_t hd1_info[16];          /* 0x090 */
	uint8_t sys_desc_table[0x10];  /* 0x0a0 */
	uint8_t olpc_ofw_header[0x10]; /* 0x0b0 */
	uint32_t ext_ramdisk_image;    /* 0x0c0 */
	uint32_t ext_ramdisk_size;     /* 0x0c4 */
	uint32_t ext_cmd_line_ptr;     /* 0x0c8 */
	uint8_t _pad4[112];            /* 0x0cc */
	uint32_t cc_blob_address;      /* 0x13c */
	uint8_t edid_info[0x80];       /* 0x140 */
	uint8_t efi_info[0x20];        /* 0x1c0 */
	uint32_t alt_mem_k;            /* 0x1e0 */
	uint32_t scratch;              /* 0x1e4 */
	uint8_t e820_entries;          /* 0x1e8 */
	uint8_t eddbuf_entries;        /* 0x1e9 */
	uint8_t edd_mbr_sig_buf_entries; /* 0x1ea */
	uint8_t kbd_status;            /* 0x1eb */
	uint8_t secure_boot;           /* 0x1ec */
	uint8_t _pad5[2];              /* 0x1ed */
	uint8_t sentinel;              /* 0x1ef */
	uint8_t _pad6[1];              /* 0x1f0 */
	struct setup_header hdr;       /* 0x1f1 */
	uint8_t _pad7[0x290 - SETUP_HDR_OFFSET - sizeof(struct setup_header)];
	uint32_t edd_mbr_sig_buffer[16]; /* 0x290 */
	struct boot_e820_entry e820_table[E820_MAX_ENTRIES_ZEROPAGE]; /* 0x2d0 */
	uint8_t _pad8[48];             /* 0xcd0 */
	uint8_t eddbuf[6 * 82];        /* 0xd00 */
	uint8_t _pad9[276];            /* 0xeec */
} __attribute__((packed));

_Static_assert(sizeof(struct setup_header) == 0x26c - SETUP_HDR_OFFSET, "setup_header size");
_Static_assert(offsetof(struct boot_params, acpi_rsdp_addr) == 0x070, "acpi_rsdp_addr");
_Static_assert(offsetof(struct boot_params, ext_ramdisk_image) == 0x0c0, "ext_ramdisk_image");
_Static_assert(offsetof(struct boot_params, ext_cmd_line_ptr) == 0x0c8, "ext_cmd_line_ptr");
_Static_assert(offsetof(struct boot_params, e820_entries) == 0x1e8, "e820_entries");
_Static_assert(offsetof(struct boot_params, hdr) == SETUP_HDR_OFFSET, "hdr");
_Static_assert(offsetof(struct boot_params, hdr.header) == 0x202, "hdr.header");
_Static_assert(offsetof(struct boot_params, hdr.cmd_line_ptr) == 0x228, "cmd_line_ptr");
_Static_assert(offsetof(struct boot_params, hdr.pref_address) == 0x258, "pref_address");
_Static_assert(offsetof(struct boot_params, e820_table) == 0x2d0, "e820_table");
_Static_assert(sizeof(struct boot_params) == 4096, "boot_params is one page");

/* PVH: the start of day structure, in EBX at the 32-bit entry. */
#define XEN_HVM_START_MAGIC_VALUE 0x336ec578U
#define XEN_ELFNOTE_PHYS32_ENTRY 18

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;        /* 1: memmap_paddr/memmap_entries are valid */
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;           /* the e820 types */
	uint32_t reserved;
};

_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info");
_Static_assert(offsetof(struct hvm_start_info, memmap_paddr) == 40, "memmap_paddr");
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "hvm_modlist_entry");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "hvm_memmap_table_entry");

#endif
