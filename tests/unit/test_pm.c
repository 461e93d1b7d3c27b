/*
 * The hardware-reduced sleep and reset registers, driven through the port
 * bus as a guest's OUT instructions reach them.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "emu/bus.h"
#include "emu/layout.h"
#include "emu/pm.h"

struct events {
	int poweroff, reboot;
	void *opaque_seen;
};

static void on_event(void *opaque, enum pm_event ev)
{
	struct events *e = opaque;

	e->opaque_seen = opaque;
	if (ev == PM_POWEROFF)
		e->poweroff++;
	else if (ev == PM_REBOOT)
		e->reboot++;
}

struct fixture {
	struct bus bus;
	struct pm pm;
	struct events ev;
};

static int setup(void **state)
{
	static struct fixture f;

	memset(&f, 0, sizeof(f));
	f.bus.name = "pio";
	f.pm.event = on_event;
	f.pm.opaque = &f.ev;
	assert_int_equal(
		bus_register(&f.bus, LAYOUT_PM_SLEEP_CONTROL, PM_NR_PORTS, &pm_ops, &f.pm, "pm"),
		0);
	*state = &f;
	return 0;
}

static void outb(struct fixture *f, uint16_t port, uint8_t v)
{
	assert_true(bus_access(&f->bus, port, &v, 1, true));
}

static void test_ports_cover_the_fadt_registers(void **state)
{
	struct fixture *f = *state;

	assert_non_null(bus_find(&f->bus, LAYOUT_PM_SLEEP_CONTROL));
	assert_non_null(bus_find(&f->bus, LAYOUT_PM_SLEEP_STATUS));
	assert_non_null(bus_find(&f->bus, LAYOUT_PM_RESET));
}

static void test_poweroff_on_s5_with_slp_en(void **state)
{
	struct fixture *f = *state;

	/* What Linux's acpi_hw_extended_sleep writes: SLP_TYP << 2 | SLP_EN. */
	outb(f, LAYOUT_PM_SLEEP_CONTROL, (uint8_t)(LAYOUT_PM_S5_TYP << 2 | 1 << 5));
	assert_int_equal(f->ev.poweroff, 1);
	assert_int_equal(f->ev.reboot, 0);
	assert_ptr_equal(f->ev.opaque_seen, &f->ev);
}

static void test_sleep_control_other_values_ignored(void **state)
{
	struct fixture *f = *state;

	for (unsigned v = 0; v < 256; v++) {
		bool s5 = (v & 0x20) && ((v >> 2) & 7) == LAYOUT_PM_S5_TYP;

		outb(f, LAYOUT_PM_SLEEP_CONTROL, (uint8_t)v);
		assert_int_equal(f->ev.poweroff, s5 ? 1 : 0);
		f->ev.poweroff = 0;
	}
	/* The prepare step without SLP_EN, and other sleep types with it, do nothing. */
	assert_int_equal(f->ev.reboot, 0);
}

static void test_reboot_only_on_reset_value(void **state)
{
	struct fixture *f = *state;

	for (unsigned v = 0; v < 256; v++) {
		outb(f, LAYOUT_PM_RESET, (uint8_t)v);
		assert_int_equal(f->ev.reboot, v == LAYOUT_PM_RESET_VALUE ? 1 : 0);
		f->ev.reboot = 0;
	}
	assert_int_equal(f->ev.poweroff, 0);
}

static void test_sleep_status_writes_ignored(void **state)
{
	struct fixture *f = *state;

	for (unsigned v = 0; v < 256; v++)
		outb(f, LAYOUT_PM_SLEEP_STATUS, (uint8_t)v);
	assert_int_equal(f->ev.poweroff, 0);
	assert_int_equal(f->ev.reboot, 0);
}

static void test_reads_are_zero(void **state)
{
	struct fixture *f = *state;

	for (uint16_t port = LAYOUT_PM_SLEEP_CONTROL; port < LAYOUT_PM_SLEEP_CONTROL + PM_NR_PORTS;
	     port++) {
		uint8_t b = 0xA5;

		assert_true(bus_access(&f->bus, port, &b, 1, false));
		assert_int_equal(b, 0);
	}
	assert_int_equal(f->ev.poweroff + f->ev.reboot, 0);
}

/* A 16-bit OUT covers two ports: each byte reaches its own register. */
static void test_wide_write_reaches_each_register(void **state)
{
	struct fixture *f = *state;
	uint8_t w[2] = { 0x00, LAYOUT_PM_RESET_VALUE };

	assert_true(bus_access(&f->bus, LAYOUT_PM_SLEEP_STATUS, w, 2, true));
	assert_int_equal(f->ev.reboot, 1);
	assert_int_equal(f->ev.poweroff, 0);
}

static void test_no_callback_is_harmless(void **state)
{
	struct fixture *f = *state;

	f->pm.event = NULL;
	outb(f, LAYOUT_PM_SLEEP_CONTROL, (uint8_t)(LAYOUT_PM_S5_TYP << 2 | 1 << 5));
	outb(f, LAYOUT_PM_RESET, LAYOUT_PM_RESET_VALUE);
	assert_int_equal(f->ev.poweroff + f->ev.reboot, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_ports_cover_the_fadt_registers, setup),
		cmocka_unit_test_setup(test_poweroff_on_s5_with_slp_en, setup),
		cmocka_unit_test_setup(test_sleep_control_other_values_ignored, setup),
		cmocka_unit_test_setup(test_reboot_only_on_reset_value, setup),
		cmocka_unit_test_setup(test_sleep_status_writes_ignored, setup),
		cmocka_unit_test_setup(test_reads_are_zero, setup),
		cmocka_unit_test_setup(test_wide_write_reaches_each_register, setup),
		cmocka_unit_test_setup(test_no_callback_is_harmless, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
