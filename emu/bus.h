/*
 * The port-I/O and MMIO buses: an exit's address is routed to the device
 * that registered the range holding it. Devices see offsets from their base.
 */
#ifndef VMDBG_BUS_H
#define VMDBG_BUS_H

#include <stdbool.h>
#include <stdint.h>

struct bus_dev_ops {
	/* LEN is 1, 2, 4 or 8; DATA is little-endian guest bytes. */
	void (*read)(void *opaque, uint64_t offset, void *data, unsigned len);
	void (*write)(void *opaque, uint64_t offset, const void *data, unsigned len);
};

#define BUS_MAX_RANGES 32

struct bus_range {
	uint64_t base, len;
	const struct bus_dev_ops *ops;
	void *opaque;
	const char *name;
};

struct bus {
	const char *name; /* "pio" or "mmio", for messages */
	struct bus_range ranges[BUS_MAX_RANGES];
	int nr;
};

/* 0, -EEXIST when the range overlaps another, -ENOSPC when the bus is full. */
int bus_register(struct bus *bus, uint64_t base, uint64_t len, const struct bus_dev_ops *ops,
		 void *opaque, const char *name);

/* The range that holds ADDR, or NULL. */
const struct bus_range *bus_find(const struct bus *bus, uint64_t addr);

/*
 * Route one access. Returns false when no device owns ADDR: reads of an
 * unowned address return all ones, as on a real bus, and writes are dropped.
 */
bool bus_access(const struct bus *bus, uint64_t addr, void *data, unsigned len, bool is_write);

#endif
