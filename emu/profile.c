/* The guest profiler's sampler: see profile.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "disasm.h"
#include "pagewalk.h"
#include "profile.h"
#include "vm.h"

_Static_assert(VM_MAX_CPUS <= PROF_MAX_CPUS, "the CPU mask is one 64-bit word");

struct prof_cpu {
	/* The vCPU appends with a trylock (it never waits on a reader); readers copy under it. */
	pthread_mutex_t lock;
	uint64_t *words;
	size_t nwords, cap;
	struct prof_cpu_stats st; /* counters: atomic (sampler thread, vCPU thread, readers) */
	int want;                 /* atomic: the sampler asks, the vCPU takes */
};

struct profile {
	struct vm *vm;
	unsigned hz;
	uint64_t cpumask;
	bool running; /* main thread */
	pthread_t thread;
	pthread_mutex_t lock; /* stopping, and the sampler's timed waits */
	pthread_cond_t cond;
	bool stopping;
	uint64_t start_ns, stop_ns;
	struct prof_cpu cpu[PROF_MAX_CPUS];
};

#define ADD(field, n) __atomic_fetch_add(&(field), (n), __ATOMIC_RELAXED)
#define GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

/* --- the vCPU thread's side ------------------------------------------------------------ */

/*
 * The frame-pointer chain from RBP: each frame's saved rbp and return address. Stacks grow
 * down, so a caller's frame lies above; anything else (unmapped, misaligned, not above, a
 * zero return address) ends the walk: a bad frame costs the sample its root, nothing more.
 */
static unsigned walk_frames(const struct vm *vm, const struct pw_ctx *ctx, uint64_t fp,
			    uint64_t *pcs, unsigned n)
{
	while (n < PROF_MAX_DEPTH) {
		uint64_t fr[2];

		if (!fp || (fp & 7) || pw_read_virt(&vm->mem, ctx, fp, fr, sizeof(fr)) != sizeof(fr) ||
		    !fr[1])
			break;
		pcs[n++] = fr[1];
		if (fr[0] <= fp)
			break;
		fp = fr[0];
	}
	return n;
}

/*
 * How far into a function the sampler looks for a return address on the stack's top: the
 * prologue and small frameless leaves, while a decode stays short on the vCPU thread.
 */
#define LEAF_SCAN_MAX 256

struct virt_src {
	const struct guest_mem *mem;
	const struct pw_ctx *ctx;
};

static uint64_t read_virt(void *opaque, uint64_t addr, void *dst, uint64_t len)
{
	const struct virt_src *v = opaque;

	return pw_read_virt(v->mem, v->ctx, addr, dst, len);
}

/*
 * Past `push %rbp; mov %rsp,%rbp` (after an endbr64 or not) the frame is made and the walk
 * from rbp is right: no decode needed, the common case in frame-pointer code. A `ret` (or
 * anything else) goes to disasm_ra_on_stack.
 */
static bool frame_made(struct virt_src *src, uint64_t func, uint64_t rip)
{
	static const uint8_t prologue[] = { 0x55, 0x48, 0x89, 0xe5 }, endbr64[] = { 0xf3, 0x0f, 0x1e, 0xfa };
	uint8_t code[8], at;

	if (read_virt(src, func, code, sizeof(code)) != sizeof(code) ||
	    read_virt(src, rip, &at, 1) != 1 || at == 0xc3)
		return false;
	if (!memcmp(code, prologue, 4))
		return rip - func >= 4;
	return !memcmp(code, endbr64, 4) && !memcmp(code + 4, prologue, 4) && rip - func >= 8;
}

/* The caller a frame-pointer walk from rbp would skip (disasm.h), for RIP near a function's start. */
static bool leaf_ra(struct vm *vm, struct virt_src *src, const struct kvm_regs *r, uint64_t *ra)
{
	uint64_t off;
	const struct symbol *fn = symtab_lookup_addr(&vm->syms, r->rip, &off);

	if (!fn || off > LEAF_SCAN_MAX || frame_made(src, r->rip - off, r->rip))
		return false;
	return disasm_ra_on_stack(read_virt, src, &vm->syms, r->rip, r->rsp, LEAF_SCAN_MAX, ra);
}

static void record(struct prof_cpu *pc, const uint64_t *pcs, unsigned n, unsigned cpl)
{
	if (pthread_mutex_trylock(&pc->lock)) {
		ADD(pc->st.dropped, 1);
		return;
	}
	if (pc->nwords + n + 1 > pc->cap) {
		size_t cap = pc->cap ? pc->cap * 2 : 4096;
		uint64_t *w = cap <= PROF_MAX_WORDS ? realloc(pc->words, cap * sizeof(*w)) : NULL;

		if (!w) {
			pthread_mutex_unlock(&pc->lock);
			ADD(pc->st.dropped, 1);
			return;
		}
		pc->words = w;
		pc->cap = cap;
	}
	pc->words[pc->nwords++] = PROF_HDR(n, cpl);
	memcpy(pc->words + pc->nwords, pcs, n * sizeof(*pcs));
	pc->nwords += n;
	pthread_mutex_unlock(&pc->lock);
	ADD(pc->st.taken, 1);
}

/* On the vCPU's own thread, between exits: its registers are its to read. */
static void take_sample(struct vcpu *v, struct prof_cpu *pc)
{
	uint64_t t0 = now_ns(), pcs[PROF_MAX_DEPTH];
	struct kvm_regs r;
	struct kvm_sregs sr;
	struct pw_ctx ctx;
	unsigned n;

	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 || ioctl(v->fd, KVM_GET_SREGS, &sr) < 0) {
		ADD(pc->st.dropped, 1);
		return;
	}
	ctx = (struct pw_ctx){ sr.cr0, sr.cr3, sr.cr4, sr.efer };
	pcs[0] = r.rip;
	n = 1;
	if (leaf_ra(v->vm, &(struct virt_src){ &v->vm->mem, &ctx }, &r, &pcs[1]))
		n = 2; /* the caller; rbp is its frame */
	n = walk_frames(v->vm, &ctx, r.rbp, pcs, n);
	record(pc, pcs, n, sr.cs.selector & 3);
	ADD(pc->st.sample_ns, now_ns() - t0);
}

void profile_vcpu_entry(struct vcpu *v)
{
	struct profile *p = __atomic_load_n(&v->vm->prof, __ATOMIC_ACQUIRE);

	if (p && __atomic_exchange_n(&p->cpu[v->id].want, 0, __ATOMIC_SEQ_CST))
		take_sample(v, &p->cpu[v->id]);
}

/* --- the sampler thread ---------------------------------------------------------------- */

static struct timespec ts_of(uint64_t ns)
{
	return (struct timespec){ (time_t)(ns / 1000000000ULL), (long)(ns % 1000000000ULL) };
}

/* Sleep until UNTIL (monotonic); false when asked to stop. */
static bool sleep_until(struct profile *p, uint64_t until)
{
	struct timespec ts = ts_of(until);
	bool go_on;

	pthread_mutex_lock(&p->lock);
	while (!p->stopping && now_ns() < until)
		if (pthread_cond_timedwait(&p->cond, &p->lock, &ts) == ETIMEDOUT)
			break;
	go_on = !p->stopping;
	pthread_mutex_unlock(&p->lock);
	return go_on;
}

/* Ask every profiled vCPU that runs (a parked one is not running guest code) for a sample. */
static uint64_t ask(struct profile *p)
{
	struct vm *vm = p->vm;
	uint64_t asked = 0;

	pthread_mutex_lock(&vm->lock);
	for (int i = 0; i < vm->ncpus; i++)
		if ((p->cpumask >> i & 1) && vm->vcpus[i].thread_started && !vm->vcpus[i].parked)
			asked |= 1ULL << i;
	pthread_mutex_unlock(&vm->lock);
	for (int i = 0; i < vm->ncpus; i++)
		if (asked >> i & 1) {
			ADD(p->cpu[i].st.wanted, 1);
			__atomic_store_n(&p->cpu[i].want, 1, __ATOMIC_SEQ_CST);
		}
	return asked;
}

/*
 * A vCPU that exits often (port I/O, MMIO) answers at its next exit for free; one that has
 * not within a quarter period is kicked, as a pause kicks, so a busy loop is sampled too.
 */
static void kick_late(struct profile *p, uint64_t asked)
{
	for (int i = 0; i < p->vm->ncpus; i++) {
		struct vcpu *v = &p->vm->vcpus[i];

		if ((asked >> i & 1) && __atomic_load_n(&p->cpu[i].want, __ATOMIC_SEQ_CST) &&
		    __atomic_load_n(&v->in_run, __ATOMIC_RELAXED)) {
			ADD(p->cpu[i].st.kicks, 1);
			vcpu_kick(v);
		}
	}
}

static void *sampler(void *arg)
{
	struct profile *p = arg;
	uint64_t period = 1000000000ULL / p->hz, next = now_ns() + period;

	while (sleep_until(p, next)) {
		uint64_t asked = ask(p);

		if (!sleep_until(p, next + period / 4))
			break;
		kick_late(p, asked);
		next += period;
		/* Behind (the host was busy): the ticks missed are not made up in a burst. */
		if (next < now_ns())
			next = now_ns() + period;
	}
	return NULL;
}

/* --- control --------------------------------------------------------------------------- */

static struct profile *profile_of(struct vm *vm)
{
	struct profile *p = vm->prof;

	if (p)
		return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->vm = vm;
	pthread_mutex_init(&p->lock, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&p->cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	for (int i = 0; i < PROF_MAX_CPUS; i++)
		pthread_mutex_init(&p->cpu[i].lock, NULL);
	__atomic_store_n(&vm->prof, p, __ATOMIC_RELEASE);
	return p;
}

int profile_start(struct vm *vm, unsigned hz, uint64_t cpumask)
{
	struct profile *p;
	int r;

	if (hz == 0 || hz > PROF_MAX_HZ || vm->ncpus <= 0)
		return -EINVAL;
	if (vm->ncpus < 64)
		cpumask &= (1ULL << vm->ncpus) - 1;
	if (!cpumask)
		return -EINVAL;
	p = profile_of(vm);
	if (!p)
		return -ENOMEM;
	if (p->running)
		return -EALREADY;
	for (int i = 0; i < PROF_MAX_CPUS; i++) {
		struct prof_cpu *pc = &p->cpu[i];

		pthread_mutex_lock(&pc->lock);
		free(pc->words);
		pc->words = NULL;
		pc->nwords = pc->cap = 0;
		memset(&pc->st, 0, sizeof(pc->st));
		pc->st.profiled = cpumask >> i & 1;
		__atomic_store_n(&pc->want, 0, __ATOMIC_SEQ_CST);
		pthread_mutex_unlock(&pc->lock);
	}
	p->hz = hz;
	p->cpumask = cpumask;
	p->stopping = false;
	p->start_ns = now_ns();
	r = pthread_create(&p->thread, NULL, sampler, p);
	if (r)
		return -r;
	p->running = true;
	return 0;
}

int profile_stop(struct vm *vm)
{
	struct profile *p = vm->prof;

	if (!p || !p->running)
		return -ENOENT;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	p->running = false;
	p->stop_ns = now_ns();
	/* An ask not yet answered is not taken after the stop. */
	for (int i = 0; i < PROF_MAX_CPUS; i++)
		__atomic_store_n(&p->cpu[i].want, 0, __ATOMIC_SEQ_CST);
	return 0;
}

int profile_copy(struct vm *vm, struct prof_data *out)
{
	struct profile *p = vm->prof;

	memset(out, 0, sizeof(*out));
	if (!p || !p->start_ns)
		return -ENOENT;
	out->hz = p->hz;
	out->running = p->running;
	out->ncpus = vm->ncpus;
	out->run_ns = (p->running ? now_ns() : p->stop_ns) - p->start_ns;
	for (int i = 0; i < vm->ncpus && i < PROF_MAX_CPUS; i++) {
		struct prof_cpu *pc = &p->cpu[i];

		pthread_mutex_lock(&pc->lock);
		out->cpu[i].st = (struct prof_cpu_stats){
			.profiled = pc->st.profiled, .wanted = GET(pc->st.wanted),
			.taken = GET(pc->st.taken),  .kicks = GET(pc->st.kicks),
			.dropped = GET(pc->st.dropped), .sample_ns = GET(pc->st.sample_ns),
		};
		if (pc->nwords) {
			out->cpu[i].words = malloc(pc->nwords * sizeof(uint64_t));
			if (!out->cpu[i].words) {
				pthread_mutex_unlock(&pc->lock);
				profile_data_free(out);
				return -ENOMEM;
			}
			memcpy(out->cpu[i].words, pc->words, pc->nwords * sizeof(uint64_t));
			out->cpu[i].nwords = pc->nwords;
		}
		pthread_mutex_unlock(&pc->lock);
	}
	return 0;
}

void profile_data_free(struct prof_data *d)
{
	for (int i = 0; i < PROF_MAX_CPUS; i++) {
		free(d->cpu[i].words);
		d->cpu[i].words = NULL;
		d->cpu[i].nwords = 0;
	}
}

void profile_free(struct vm *vm)
{
	struct profile *p = vm->prof;

	if (!p)
		return;
	profile_stop(vm);
	vm->prof = NULL;
	for (int i = 0; i < PROF_MAX_CPUS; i++) {
		free(p->cpu[i].words);
		pthread_mutex_destroy(&p->cpu[i].lock);
	}
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p);
}
