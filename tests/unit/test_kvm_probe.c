/*
 * The KVM probe's findings as users see them (no KVM needed: the structs are made up):
 * one line per capability, the refusals that name the finding, and the rule that a
 * probe which could not run refuses nothing.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "emu/kvm_probe.h"

#define SHUTDOWN_WHY "the guest took #BP itself: the vCPU triple-faulted (KVM_EXIT_SHUTDOWN)"
#define DR_WHY "DR0 did not fire: the vCPU ran on to a hlt (KVM_EXIT_HLT at 0x1002)"
#define DR1_WHY "DR1 did not fire on a write: the vCPU ran on to a hlt (KVM_EXIT_HLT at 0x1005)"

static struct kvm_probe probe_of(bool sw, bool hw, bool watch, bool step)
{
	struct kvm_probe p = { .api_version = 12 };

	p.cap[KVM_PROBE_SW_BREAKPOINT].works = sw;
	p.cap[KVM_PROBE_HW_BREAKPOINT].works = hw;
	p.cap[KVM_PROBE_WATCHPOINT].works = watch;
	p.cap[KVM_PROBE_SINGLE_STEP].works = step;
	/* As on hardware and nested SVM; PVM's "no" is in test_format_pvm. */
	p.cap[KVM_PROBE_GUEST_SYSCALL].works = true;
	if (!sw)
		snprintf(p.cap[KVM_PROBE_SW_BREAKPOINT].why, sizeof(p.cap[0].why), SHUTDOWN_WHY);
	if (!hw)
		snprintf(p.cap[KVM_PROBE_HW_BREAKPOINT].why, sizeof(p.cap[0].why), DR_WHY);
	if (!watch)
		snprintf(p.cap[KVM_PROBE_WATCHPOINT].why, sizeof(p.cap[0].why), DR1_WHY);
	p.ext[p.n_ext++] = (struct kvm_probe_ext){ "KVM_CAP_SET_GUEST_DEBUG", 1, false };
	p.ext[p.n_ext++] = (struct kvm_probe_ext){ "KVM_CAP_SET_GUEST_DEBUG2", 0x1f0003, true };
	return p;
}

static void test_names(void **state)
{
	assert_string_equal(kvm_probe_cap_name(KVM_PROBE_SW_BREAKPOINT), "sw-breakpoint");
	assert_string_equal(kvm_probe_cap_name(KVM_PROBE_HW_BREAKPOINT), "hw-breakpoint");
	assert_string_equal(kvm_probe_cap_name(KVM_PROBE_WATCHPOINT), "watchpoint");
	assert_string_equal(kvm_probe_cap_name(KVM_PROBE_SINGLE_STEP), "single-step");
	assert_string_equal(kvm_probe_cap_name(KVM_PROBE_GUEST_SYSCALL), "guest-syscall");
	assert_string_equal(kvm_probe_cap_name(KVM_PROBE_NR), "?");
}

/* Nested SVM under QEMU's TCG as measured: int3 and the debug registers never exit. */
static void test_format_nested_svm(void **state)
{
	struct kvm_probe p = probe_of(false, false, false, true);
	char buf[2048];
	size_t n;

	/* Steps work but cost milliseconds under TCG: too slow to stand in for DR1. */
	p.step_ns = 2500000;
	kvm_probe_watch_rule(&p);
	assert_false(p.watch_by_step);
	n = kvm_probe_format(&p, buf, sizeof(buf));
	assert_int_equal(n, strlen(buf));
	assert_string_equal(buf, "sw-breakpoint: no (" SHUTDOWN_WHY ")\n"
				 "hw-breakpoint: no (" DR_WHY ")\n"
				 "watchpoint: no (" DR1_WHY "; a single-step costs 2500 us here, too "
				 "slow to watch by stepping)\n"
				 "single-step: yes (2500 us a step)\n"
				 "guest-syscall: yes\n"
				 "KVM_GET_API_VERSION: 12\n"
				 "KVM_CAP_SET_GUEST_DEBUG: 1\n"
				 "KVM_CAP_SET_GUEST_DEBUG2: 0x1f0003\n");
}

#define SYSCALL_WHY "a syscall at CPL 3 did not reach LSTAR at CPL 0: the vCPU triple-faulted"

/* PVM as measured: the guest's kernel runs, its user space cannot make a system call. */
static void test_format_pvm(void **state)
{
	struct kvm_probe p = probe_of(true, true, true, true);
	char buf[2048];

	p.cap[KVM_PROBE_GUEST_SYSCALL].works = false;
	snprintf(p.cap[KVM_PROBE_GUEST_SYSCALL].why, sizeof(p.cap[0].why), SYSCALL_WHY);
	kvm_probe_format(&p, buf, sizeof(buf));
	assert_non_null(strstr(buf, "single-step: yes\nguest-syscall: no (" SYSCALL_WHY ")\n"));
}

static void test_format_all_yes_and_truncation(void **state)
{
	struct kvm_probe p = probe_of(true, true, true, true);
	char buf[2048], small[16];
	size_t n;

	kvm_probe_format(&p, buf, sizeof(buf));
	assert_non_null(strstr(buf, "sw-breakpoint: yes\nhw-breakpoint: yes\nwatchpoint: yes\n"
				    "single-step: yes\n"));
	n = kvm_probe_format(&p, small, sizeof(small));
	assert_int_equal(n, sizeof(small) - 1);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_memory_equal(small, buf, n);
}

#define CANNOT "kvm: cannot probe: KVM_CREATE_VM: Too many open files\nKVM_GET_API_VERSION: 12\n"

static void test_format_cannot_probe(void **state)
{
	struct kvm_probe p = probe_of(false, false, false, false);
	char buf[512];

	p.err = -EMFILE;
	snprintf(p.err_what, sizeof(p.err_what), "KVM_CREATE_VM: Too many open files");
	kvm_probe_format(&p, buf, sizeof(buf));
	assert_int_equal(strncmp(buf, CANNOT, strlen(CANNOT)), 0);
	assert_null(strstr(buf, "sw-breakpoint"));
}

static void test_check_refusals_name_the_finding(void **state)
{
	struct kvm_probe p = probe_of(false, false, false, false);
	char why[512];

	assert_int_equal(kvm_probe_check(&p, KVM_PROBE_BP_INT3, why, sizeof(why)), -EOPNOTSUPP);
	assert_string_equal(why, "this KVM does not report int3 to vmdbg (probed: " SHUTDOWN_WHY
				 "); a software breakpoint would crash the guest");
	assert_int_equal(kvm_probe_check(&p, KVM_PROBE_BP_EXEC, why, sizeof(why)), -EOPNOTSUPP);
	assert_string_equal(why, "this KVM does not report debug-register breakpoints to vmdbg "
				 "(probed: " DR_WHY "); a hardware breakpoint would never fire");
	assert_int_equal(kvm_probe_check(&p, KVM_PROBE_BP_WRITE, why, sizeof(why)), -EOPNOTSUPP);
	assert_non_null(strstr(why, "(probed: " DR1_WHY ")"));
	assert_int_equal(kvm_probe_check(&p, KVM_PROBE_BP_ACCESS, why, sizeof(why)), -EOPNOTSUPP);
	assert_non_null(strstr(why, "a watchpoint would never fire"));
	/* A caller that only wants the verdict passes no buffer. */
	assert_int_equal(kvm_probe_check(&p, KVM_PROBE_BP_INT3, NULL, 0), -EOPNOTSUPP);
}

static void test_check_by_step_refuses_reads_only(void **state)
{
	struct kvm_probe p = probe_of(true, true, false, true);
	char why[512];

	/* PVM: DR1 never fires, a step costs ~10 us: stepping stands in for it. */
	p.step_ns = 11000;
	kvm_probe_watch_rule(&p);
	assert_true(p.watch_by_step && p.cap[KVM_PROBE_WATCHPOINT].works);
	assert_int_equal(kvm_probe_check(&p, KVM_PROBE_BP_INT3, why, sizeof(why)), 0);
	assert_int_equal(kvm_probe_check(&p, KVM_PROBE_BP_EXEC, why, sizeof(why)), 0);
	assert_int_equal(kvm_probe_check(&p, KVM_PROBE_BP_WRITE, why, sizeof(why)), 0);
	assert_int_equal(kvm_probe_check(&p, KVM_PROBE_BP_ACCESS, why, sizeof(why)), -EOPNOTSUPP);
	assert_string_equal(why, "this KVM does not report data breakpoints to vmdbg (probed: " DR1_WHY
				 "); vmdbg watches writes by single-stepping, which cannot see reads");
}

static void test_check_all_yes_and_unprobed(void **state)
{
	struct kvm_probe p = probe_of(true, true, true, true);
	struct kvm_probe none = probe_of(false, false, false, false);
	char why[64];

	for (int bp = KVM_PROBE_BP_INT3; bp <= KVM_PROBE_BP_ACCESS; bp++)
		assert_int_equal(kvm_probe_check(&p, bp, why, sizeof(why)), 0);
	/* Nothing could be probed: vmdbg inserts as before rather than refuse everything. */
	none.err = -ENOMEM;
	for (int bp = KVM_PROBE_BP_INT3; bp <= KVM_PROBE_BP_ACCESS; bp++)
		assert_int_equal(kvm_probe_check(&none, bp, why, sizeof(why)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_format_nested_svm),
		cmocka_unit_test(test_format_pvm),
		cmocka_unit_test(test_format_all_yes_and_truncation),
		cmocka_unit_test(test_format_cannot_probe),
		cmocka_unit_test(test_check_refusals_name_the_finding),
		cmocka_unit_test(test_check_by_step_refuses_reads_only),
		cmocka_unit_test(test_check_all_yes_and_unprobed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
