#include "pm.h"

#include <string.h>

#include "layout.h"
#include "log.h"

/* SLEEP_CONTROL_REG fields (ACPI spec, "Sleep Control and Status Registers"). */
#define PM_SLP_TYP_SHIFT 2
#define PM_SLP_TYP_MASK 7
#define PM_SLP_EN (1u << 5)

enum {
	PM_REG_SLEEP_CONTROL = LAYOUT_PM_SLEEP_CONTROL - LAYOUT_PM_SLEEP_CONTROL,
	PM_REG_SLEEP_STATUS = LAYOUT_PM_SLEEP_STATUS - LAYOUT_PM_SLEEP_CONTROL,
	PM_REG_RESET = LAYOUT_PM_RESET - LAYOUT_PM_SLEEP_CONTROL,
};

_Static_assert(PM_REG_RESET == PM_NR_PORTS - 1, "the PM registers are consecutive ports");

static void pm_fire(struct pm *pm, enum pm_event ev)
{
	if (pm->event)
		pm->event(pm->opaque, ev);
}

static void pm_write_byte(struct pm *pm, uint64_t reg, uint8_t v)
{
	switch (reg) {
	case PM_REG_SLEEP_CONTROL: {
		unsigned typ = (v >> PM_SLP_TYP_SHIFT) & PM_SLP_TYP_MASK;

		if ((v & PM_SLP_EN) && typ == LAYOUT_PM_S5_TYP) {
			pm_fire(pm, PM_POWEROFF);
			return;
		}
		log_debug("pm: SLEEP_CONTROL write 0x%02x (SLP_TYP %u%s) ignored: only S5 is "
			  "supported",
			  v, typ, (v & PM_SLP_EN) ? ", SLP_EN" : "");
		return;
	}
	case PM_REG_SLEEP_STATUS:
		/* WAK_STS is write-1-to-clear and never set: the machine never wakes. */
		log_debug("pm: SLEEP_STATUS write 0x%02x ignored", v);
		return;
	case PM_REG_RESET:
		if (v == LAYOUT_PM_RESET_VALUE) {
			pm_fire(pm, PM_REBOOT);
			return;
		}
		log_debug("pm: RESET write 0x%02x ignored (reset value is 0x%02x)", v,
			  LAYOUT_PM_RESET_VALUE);
		return;
	default:
		log_debug("pm: write 0x%02x at offset %llu ignored", v, (unsigned long long)reg);
		return;
	}
}

static void pm_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
	memset(data, 0, len);
}

/* Each register is one port: a wider access touches the next ones too. */
static void pm_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
	const uint8_t *b = data;

	for (unsigned i = 0; i < len; i++)
		pm_write_byte(opaque, offset + i, b[i]);
}

const struct bus_dev_ops pm_ops = {
	.read = pm_read,
	.write = pm_write,
};
