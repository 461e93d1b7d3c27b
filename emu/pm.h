/*
 * The ACPI hardware-reduced power-management registers the FADT points at
 * (SLEEP_CONTROL, SLEEP_STATUS, RESET in port I/O, see layout.h). Writing
 * SLP_TYP=5|SLP_EN powers off, writing the reset value reboots.
 */
#ifndef VMDBG_PM_H
#define VMDBG_PM_H

#include "bus.h"

enum pm_event { PM_POWEROFF, PM_REBOOT };

struct pm {
	void (*event)(void *opaque, enum pm_event ev); /* called on the vCPU thread */
	void *opaque;
};

#define PM_NR_PORTS 3 /* SLEEP_CONTROL, SLEEP_STATUS, RESET */

extern const struct bus_dev_ops pm_ops; /* register at LAYOUT_PM_SLEEP_CONTROL, 3 ports */

#endif
