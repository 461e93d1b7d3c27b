/*
 * The guest profiler's sampler. A host thread asks each profiled vCPU for a sample HZ times a
 * second; the vCPU takes it on its own thread at its next exit, or, when no exit comes within
 * a quarter period, after a kick (immediate_exit and a signal, as a pause does). No other
 * thread issues an ioctl on a running vCPU. A sample is the vCPU's rip, its CPL and the return
 * addresses of its frame-pointer chain, read through the page-table walk: raw addresses, named
 * later by the command layer (cli/prof.h).
 */
#ifndef VMDBG_PROFILE_H
#define VMDBG_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;
struct vcpu;

#define PROF_DEFAULT_HZ 1000
#define PROF_MAX_HZ 10000
/* vCPUs a profile covers: the CPU mask is one 64-bit word (VM_MAX_CPUS). */
#define PROF_MAX_CPUS 64
/* Frames per sample, the leaf included: a deeper stack is cut (its root frames lost). */
#define PROF_MAX_DEPTH 48
/* Per vCPU: past this many words (header + frames) samples are dropped, and counted. */
#define PROF_MAX_WORDS (8u << 20)

/* A sample in the word stream: a header word, then DEPTH addresses, the leaf first. */
#define PROF_HDR(depth, cpl) ((uint64_t)(depth) | (uint64_t)(cpl) << 16)
#define PROF_HDR_DEPTH(w) ((unsigned)((w) & 0xffff))
#define PROF_HDR_CPL(w) ((unsigned)(((w) >> 16) & 3))

/* What one vCPU's sampling did. */
struct prof_cpu_stats {
	bool profiled;
	uint64_t wanted;    /* samples asked for (a parked vCPU is not asked) */
	uint64_t taken;     /* samples recorded */
	uint64_t kicks;     /* asks that needed a kick: no exit came within a quarter period */
	uint64_t dropped;   /* taken but not kept: the buffer full, or a reader held it */
	uint64_t sample_ns; /* time the vCPU thread spent taking samples */
};

/* A copy of what the profiler holds, for the command layer. */
struct prof_data {
	unsigned hz;
	bool running;
	int ncpus;
	uint64_t run_ns; /* wall time from start to stop (or now) */
	struct {
		struct prof_cpu_stats st;
		uint64_t *words; /* malloc'd sample stream */
		size_t nwords;
	} cpu[PROF_MAX_CPUS];
};

/*
 * Start sampling the vCPUs in CPUMASK at HZ (1..PROF_MAX_HZ), dropping an earlier profile's
 * samples. 0, -EALREADY (running), -EINVAL, -ENOMEM or a pthread error.
 */
int profile_start(struct vm *vm, unsigned hz, uint64_t cpumask);
/* Stop sampling; the samples stay for profile_copy. 0 or -ENOENT (not running). */
int profile_stop(struct vm *vm);
/* Copy the samples and statistics into OUT (free with profile_data_free). -ENOENT: none ever. */
int profile_copy(struct vm *vm, struct prof_data *out);
void profile_data_free(struct prof_data *d);
/* Stop and free everything (vm_destroy). */
void profile_free(struct vm *vm);

/* The vCPU thread, before each KVM_RUN: take a sample if one is wanted. */
void profile_vcpu_entry(struct vcpu *v);

#endif
