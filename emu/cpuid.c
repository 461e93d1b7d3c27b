#include "cpuid.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

enum cpuid_reg { EAX, EBX, ECX, EDX };

struct cpuid_feature {
	const char *name;
	unsigned function, index;
	enum cpuid_reg reg;
	unsigned bit;
};

/* Bits from the SDM's CPUID tables; names as Linux's /proc/cpuinfo prints them. */
static const struct cpuid_feature features[] = {
	{ "sse3", 1, 0, ECX, 0 },        { "pclmulqdq", 1, 0, ECX, 1 },
	{ "monitor", 1, 0, ECX, 3 },     { "vmx", 1, 0, ECX, 5 },
	{ "ssse3", 1, 0, ECX, 9 },       { "fma", 1, 0, ECX, 12 },
	{ "cx16", 1, 0, ECX, 13 },       { "pcid", 1, 0, ECX, 17 },
	{ "sse4_1", 1, 0, ECX, 19 },     { "sse4_2", 1, 0, ECX, 20 },
	{ "x2apic", 1, 0, ECX, 21 },     { "movbe", 1, 0, ECX, 22 },
	{ "popcnt", 1, 0, ECX, 23 },     { "tsc_deadline_timer", 1, 0, ECX, 24 },
	{ "aes", 1, 0, ECX, 25 },        { "xsave", 1, 0, ECX, 26 },
	{ "avx", 1, 0, ECX, 28 },        { "f16c", 1, 0, ECX, 29 },
	{ "rdrand", 1, 0, ECX, 30 },     { "hypervisor", 1, 0, ECX, 31 },
	{ "mce", 1, 0, EDX, 7 },         { "cx8", 1, 0, EDX, 8 },
	{ "mtrr", 1, 0, EDX, 12 },       { "pge", 1, 0, EDX, 13 },
	{ "mca", 1, 0, EDX, 14 },        { "pat", 1, 0, EDX, 16 },
	{ "pse36", 1, 0, EDX, 17 },      { "clflush", 1, 0, EDX, 19 },
	{ "fxsr", 1, 0, EDX, 24 },       { "sse", 1, 0, EDX, 25 },
	{ "sse2", 1, 0, EDX, 26 },       { "fsgsbase", 7, 0, EBX, 0 },
	{ "bmi1", 7, 0, EBX, 3 },        { "hle", 7, 0, EBX, 4 },
	{ "avx2", 7, 0, EBX, 5 },        { "smep", 7, 0, EBX, 7 },
	{ "bmi2", 7, 0, EBX, 8 },        { "erms", 7, 0, EBX, 9 },
	{ "invpcid", 7, 0, EBX, 10 },    { "rtm", 7, 0, EBX, 11 },
	{ "avx512f", 7, 0, EBX, 16 },    { "rdseed", 7, 0, EBX, 18 },
	{ "adx", 7, 0, EBX, 19 },        { "smap", 7, 0, EBX, 20 },
	{ "clflushopt", 7, 0, EBX, 23 }, { "clwb", 7, 0, EBX, 24 },
	{ "sha_ni", 7, 0, EBX, 29 },     { "umip", 7, 0, ECX, 2 },
	{ "pku", 7, 0, ECX, 3 },         { "la57", 7, 0, ECX, 16 },
	{ "rdpid", 7, 0, ECX, 22 },      { "md_clear", 7, 0, EDX, 10 },
	{ "xsaveopt", 0xd, 1, EAX, 0 },  { "xsavec", 0xd, 1, EAX, 1 },
	{ "xgetbv1", 0xd, 1, EAX, 2 },   { "xsaves", 0xd, 1, EAX, 3 },
	{ "lahf_lm", 0x80000001, 0, ECX, 0 }, { "abm", 0x80000001, 0, ECX, 5 },
	{ "syscall", 0x80000001, 0, EDX, 11 }, { "nx", 0x80000001, 0, EDX, 20 },
	{ "pdpe1gb", 0x80000001, 0, EDX, 26 }, { "rdtscp", 0x80000001, 0, EDX, 27 },
};

struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *cpuid, unsigned function, unsigned index)
{
	for (unsigned i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		if (e->function != function)
			continue;
		if ((e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) && e->index != index)
			continue;
		return e;
	}
	return NULL;
}

static __u32 *entry_reg(struct kvm_cpuid_entry2 *e, enum cpuid_reg reg)
{
	switch (reg) {
	case EAX:
		return &e->eax;
	case EBX:
		return &e->ebx;
	case ECX:
		return &e->ecx;
	default:
		return &e->edx;
	}
}

static const struct cpuid_feature *feature_by_name(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++)
		if (strlen(features[i].name) == len && !strncmp(features[i].name, name, len))
			return &features[i];
	return NULL;
}

int cpuid_filter(struct kvm_cpuid2 *cpuid, const char *list, char *err, size_t errlen)
{
	const char *p = list;

	while (p && *p) {
		size_t token = strcspn(p, ","), len = token;
		const char *name = p;
		const struct cpuid_feature *f;

		if (*name == '-') {
			name++;
			len--;
		} else if (*name == '+') {
			snprintf(err, errlen, "--cpuid: '%.*s': features can only be removed (-name)",
				 (int)len, p);
			return -EINVAL;
		}
		if (len == 0) {
			snprintf(err, errlen, "--cpuid: empty feature name in '%s'", list);
			return -EINVAL;
		}
		f = feature_by_name(name, len);
		if (!f) {
			snprintf(err, errlen, "--cpuid: unknown feature '%.*s' (known: %s)", (int)len,
				 name, cpuid_known_features());
			return -EINVAL;
		}
		if (cpuid) {
			struct kvm_cpuid_entry2 *e = cpuid_find(cpuid, f->function, f->index);

			if (e)
				*entry_reg(e, f->reg) &= ~(1u << f->bit);
			/* XSAVE off means OSXSAVE and every XSAVE-based feature must go too. */
			if (e && f->function == 1 && f->reg == ECX && f->bit == 26)
				e->ecx &= ~((1u << 27) | (1u << 28) | (1u << 12) | (1u << 29));
		}
		p += token;
		if (*p == ',')
			p++;
	}
	return 0;
}

/* Bits named in the SDM (leaf 1 ECX) and AMD's APM (leaf 0x80000001 ECX). */
#define CPUID_1_ECX_VMX (1u << 5)
#define CPUID_1_ECX_TSC_DEADLINE (1u << 24)
#define CPUID_1_ECX_HYPERVISOR (1u << 31)
#define CPUID_80000001_ECX_SVM (1u << 2)

void cpuid_complete(struct kvm_cpuid2 *cpuid, bool tsc_deadline)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(cpuid, 1, 0);

	if (e) {
		/*
		 * KVM leaves these to the VMM. Without the hypervisor bit Linux believes it
		 * runs on bare metal, never reads KVM's leaves at 0x40000000 (no kvm-clock),
		 * calibrates its TSC against the PIT and hangs in calibrate_delay.
		 */
		e->ecx |= CPUID_1_ECX_HYPERVISOR;
		/* The in-kernel LAPIC emulates the TSC-deadline timer when KVM says so. */
		if (tsc_deadline)
			e->ecx |= CPUID_1_ECX_TSC_DEADLINE;
		/* No nested virtualization: snapshots do not carry nested state. */
		e->ecx &= ~CPUID_1_ECX_VMX;
	}
	e = cpuid_find(cpuid, 0x80000001, 0);
	if (e)
		e->ecx &= ~CPUID_80000001_ECX_SVM;
}

void cpuid_set_apic_id(struct kvm_cpuid2 *cpuid, unsigned id, unsigned ncpus)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(cpuid, 1, 0);

	if (e) {
		/* EBX[31:24] initial APIC id, EBX[23:16] logical processors per package. */
		e->ebx = (e->ebx & 0x0000ffff) | (id << 24) | ((ncpus & 0xff) << 16);
		if (ncpus > 1)
			e->edx |= 1u << 28; /* HTT: the count field is valid */
	}
	for (unsigned i = 0; i < cpuid->nent; i++) {
		e = &cpuid->entries[i];
		if (e->function == 0xb || e->function == 0x1f)
			e->edx = id; /* x2APIC id of this logical processor */
	}
}

const char *cpuid_known_features(void)
{
	static char list[1024];

	if (!list[0]) {
		size_t off = 0;

		for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++)
			off += snprintf(list + off, sizeof(list) - off, "%s%s", i ? "," : "",
					features[i].name);
	}
	return list;
}
