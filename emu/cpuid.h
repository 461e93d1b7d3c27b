/*
 * The CPUID the guest sees: KVM's supported set, each vCPU's APIC id, and
 * the features a user turned off with --cpuid -name,... (names as in
 * /proc/cpuinfo).
 */
#ifndef VMDBG_CPUID_H
#define VMDBG_CPUID_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * Clear every feature named in LIST ("-cx16,-xsave"; the leading '-' is
 * optional). Returns 0, or -EINVAL with ERR naming the unknown feature.
 */
int cpuid_filter(struct kvm_cpuid2 *cpuid, const char *list, char *err, size_t errlen);

/*
 * What a VMM adds to KVM_GET_SUPPORTED_CPUID, leaf by leaf (QEMU does the same): the
 * hypervisor bit, TSC-deadline when KVM_CAP_TSC_DEADLINE_TIMER says the in-kernel LAPIC
 * has it, and no VMX/SVM. Called before a user's --cpuid filter, which may undo it.
 */
void cpuid_complete(struct kvm_cpuid2 *cpuid, bool tsc_deadline);

/* Put APIC id ID (and the vCPU count NCPUS) in leaves 1, 0xB and 0x1F. */
void cpuid_set_apic_id(struct kvm_cpuid2 *cpuid, unsigned id, unsigned ncpus);

/* The entry for FUNCTION/INDEX, or NULL. */
struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *cpuid, unsigned function, unsigned index);

/* Comma-separated list of the feature names cpuid_filter knows. */
const char *cpuid_known_features(void);

#endif
