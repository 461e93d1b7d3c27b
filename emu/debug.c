/* Guest debugging: breakpoints, watchpoints, single-step and all-stop events (see debug.h). */
#include "debug.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "evloop.h"
#include "kvm_probe.h"
#include "log.h"
#include "pagewalk.h"
#include "stepframe.h"
#include "vm.h"

#define DEBUG_MAX_LISTENERS 4
#define DR6_BS (1ULL << 14)
#define DR7_FIXED 0x600ULL /* GE and the reserved bit 10, as QEMU sets them */
#define BP_VECTOR 3
#define DB_VECTOR 1
#define MSR_LSTAR 0xc0000082
#define PAGE_SIZE_4K 4096ULL
#define DEBUG_MAX_SEGS 16

struct debug_sw_bp {
	bool used;
	uint64_t gpa, addr;
	uint8_t orig;
	unsigned refs[DEBUG_OWNER_NR];
};

struct debug_hw_bp {
	bool used;
	enum debug_hw_type type;
	uint64_t addr, len;
	unsigned refs[DEBUG_OWNER_NR];
	/* Watch by stepping (PVM): where the watched bytes are and what they held. */
	bool has_gpa;
	uint64_t gpa;
	uint64_t seen;
};

/* Where the kernel ELF put a virtual range (PT_LOAD with p_vaddr != p_paddr). */
struct debug_seg {
	uint64_t vaddr, paddr, memsz;
};

struct debug {
	struct vm *vm;
	int event_fd;
	/* Read once at init, before the state is published; constant afterwards. */
	struct debug_seg segs[DEBUG_MAX_SEGS];
	int nsegs;
	struct evloop *loop;
	struct {
		debug_stop_fn fn;
		void *opaque;
	} listeners[DEBUG_MAX_LISTENERS];
	bool blockirq;
	/* What KVM reports of guest debugging (kvm_probe.h): probed at the first insertion. */
	bool probed;
	struct kvm_probe probe;
	/*
	 * Where data breakpoints do not fire but single-step works (the probe says so; PVM
	 * emulates guest kernel code and its emulator ignores them), a watchpoint
	 * single-steps every running vCPU and compares the watched bytes after each
	 * instruction.
	 */
	bool watch_by_step;
	bool wstep[VM_MAX_CPUS];
	struct stepframe sframe[VM_MAX_CPUS]; /* apply_all and the vCPU's own exits */
	pthread_mutex_t watch_lock;
	pthread_mutex_t step_lock; /* one stepping vCPU at a time while wstep (debug_serial_begin) */

	/*
	 * Breakpoint tables: changed by the main thread only while every vCPU
	 * is parked (vm_pause around each change), read by vCPU threads while
	 * handling KVM_EXIT_DEBUG.
	 */
	struct debug_sw_bp sw[DEBUG_MAX_SW_BPS];
	struct debug_hw_bp hw[DEBUG_HW_SLOTS];
	uint32_t applied_ctl[VM_MAX_CPUS];
	bool applied_valid[VM_MAX_CPUS];
	uint64_t hw_gen, applied_gen[VM_MAX_CPUS];

	/* Under vm->lock. */
	bool stopped;                 /* holds one vm->pause_depth reference */
	bool interrupt;               /* a stop was asked for (debug_stop_all) */
	bool held[VM_MAX_CPUS];       /* parked even while the VM runs (vCont per thread) */
	bool stepping[VM_MAX_CPUS];
	bool has_pending[VM_MAX_CPUS];
	struct debug_event pending[VM_MAX_CPUS];
	/* The stop a debugger took (debug_take_event*), until the VM runs again: info cpus. */
	bool has_taken[VM_MAX_CPUS];
	struct debug_event taken[VM_MAX_CPUS];
	uint64_t pending_seq[VM_MAX_CPUS];
	uint64_t pending_gpa[VM_MAX_CPUS];
	uint64_t seq;
};

static struct debug *dbg_of(struct vm *vm)
{
	return __atomic_load_n(&vm->debug, __ATOMIC_ACQUIRE);
}

/*
 * PVH enters the kernel with paging off, so its virtual addresses mean nothing
 * until its own page tables are up; yet gdb attached with --gdb-wait wants
 * `break start_kernel` and `x/i` on them. The ELF's PT_LOAD headers say where
 * each virtual range was loaded, which is where the kernel maps it later.
 */
static void load_segments(struct debug *d, const char *path)
{
	Elf *elf = NULL;
	size_t n = 0;
	int fd;

	if (!path || elf_version(EV_CURRENT) == EV_NONE)
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (elf && elf_kind(elf) == ELF_K_ELF && gelf_getclass(elf) == ELFCLASS64 &&
	    elf_getphdrnum(elf, &n) == 0) {
		for (size_t i = 0; i < n && d->nsegs < DEBUG_MAX_SEGS; i++) {
			GElf_Phdr ph;

			if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD ||
			    ph.p_vaddr == ph.p_paddr || !ph.p_memsz)
				continue;
			d->segs[d->nsegs++] = (struct debug_seg){ .vaddr = ph.p_vaddr,
								  .paddr = ph.p_paddr,
								  .memsz = ph.p_memsz };
		}
	}
	elf_end(elf);
	close(fd);
}

int debug_init(struct vm *vm)
{
	struct debug *d;
	int caps;

	if (dbg_of(vm))
		return 0;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->vm = vm;
	load_segments(d, vm->cfg.kernel);
	pthread_mutex_init(&d->watch_lock, NULL);
	pthread_mutex_init(&d->step_lock, NULL);
	d->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (d->event_fd < 0) {
		free(d);
		return -errno;
	}
	/* KVM_CAP_SET_GUEST_DEBUG2 answers the mask of supported control bits. */
	caps = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_GUEST_DEBUG2);
	d->blockirq = caps > 0 && (caps & KVM_GUESTDBG_BLOCKIRQ);
	if (!d->blockirq)
		log_info("KVM cannot block interrupts while single-stepping "
			 "(no KVM_GUESTDBG_BLOCKIRQ): a step may land in an interrupt handler");
	pthread_mutex_lock(&vm->lock);
	__atomic_store_n(&vm->debug, d, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&vm->lock);
	return 0;
}

void debug_free(struct vm *vm)
{
	struct debug *d = dbg_of(vm);

	if (!d)
		return;
	if (d->loop)
		evloop_del(d->loop, d->event_fd);
	close(d->event_fd);
	pthread_mutex_destroy(&d->watch_lock);
	pthread_mutex_destroy(&d->step_lock);
	vm->debug = NULL;
	free(d);
}

bool debug_has_blockirq(struct vm *vm)
{
	return debug_init(vm) == 0 && dbg_of(vm)->blockirq;
}

const struct kvm_probe *debug_kvm_probe(struct vm *vm)
{
	struct debug *d;

	if (debug_init(vm))
		return NULL;
	d = dbg_of(vm);
	if (!d->probed) {
		if (kvm_probe_run(vm->kvm_fd, &d->probe))
			log_warn("cannot probe what this KVM reports of guest debugging (%s): "
				 "breakpoints are inserted unchecked", d->probe.err_what);
		/* Read by the main thread only (apply_all, debug_hw_insert). */
		d->watch_by_step = d->probe.watch_by_step;
		d->probed = true;
	}
	return &d->probe;
}

static enum kvm_probe_bp probe_bp_of(bool hw, enum debug_hw_type type)
{
	if (!hw)
		return KVM_PROBE_BP_INT3;
	return type == DEBUG_HW_EXEC    ? KVM_PROBE_BP_EXEC
	       : type == DEBUG_HW_WRITE ? KVM_PROBE_BP_WRITE
					: KVM_PROBE_BP_ACCESS;
}

int debug_refusal(struct vm *vm, bool hw, enum debug_hw_type type, char *why, size_t size)
{
	const struct kvm_probe *p = debug_kvm_probe(vm);

	if (size)
		why[0] = 0;
	return p ? kvm_probe_check(p, probe_bp_of(hw, type), why, size) : 0;
}

/* --- stop notification ---------------------------------------------------- */

static void signal_stop(struct debug *d)
{
	uint64_t one = 1;

	if (write(d->event_fd, &one, sizeof(one)) < 0) {
		/* Already readable. */
	}
}

static void on_event_fd(void *opaque, int fd, uint32_t events)
{
	struct debug *d = opaque;
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0) {
		/* Spurious wake-up. */
	}
	for (int i = 0; i < DEBUG_MAX_LISTENERS; i++)
		if (d->listeners[i].fn)
			d->listeners[i].fn(d->listeners[i].opaque);
}

int debug_attach_evloop(struct vm *vm, struct evloop *loop)
{
	struct debug *d;
	int r = debug_init(vm);

	if (r)
		return r;
	d = dbg_of(vm);
	if (d->loop)
		return d->loop == loop ? 0 : -EBUSY;
	r = evloop_add(loop, d->event_fd, EPOLLIN, on_event_fd, d);
	if (!r)
		d->loop = loop;
	return r;
}

int debug_add_listener(struct vm *vm, debug_stop_fn fn, void *opaque)
{
	struct debug *d;
	int r = debug_init(vm);

	if (r)
		return r;
	d = dbg_of(vm);
	for (int i = 0; i < DEBUG_MAX_LISTENERS; i++) {
		if (!d->listeners[i].fn) {
			d->listeners[i].fn = fn;
			d->listeners[i].opaque = opaque;
			return 0;
		}
	}
	return -ENOSPC;
}

void debug_remove_listener(struct vm *vm, debug_stop_fn fn, void *opaque)
{
	struct debug *d = dbg_of(vm);

	for (int i = 0; d && i < DEBUG_MAX_LISTENERS; i++)
		if (d->listeners[i].fn == fn && d->listeners[i].opaque == opaque)
			d->listeners[i].fn = NULL;
}

static int virt_to_phys(struct vm *vm, int cpu, uint64_t gva, uint64_t *gpa);

/* --- applying the state to the vCPUs ---------------------------------------- */

static uint64_t dr7_of(const struct debug *d)
{
	static const uint64_t len_code[9] = { [1] = 0, [2] = 1, [4] = 3, [8] = 2 };
	static const uint64_t rw_code[] = { [DEBUG_HW_EXEC] = 0, [DEBUG_HW_WRITE] = 1,
					    [DEBUG_HW_ACCESS] = 3 };
	uint64_t dr7 = DR7_FIXED;

	for (int i = 0; i < DEBUG_HW_SLOTS; i++) {
		const struct debug_hw_bp *h = &d->hw[i];

		if (!h->used)
			continue;
		dr7 |= 2ULL << (i * 2);
		dr7 |= rw_code[h->type] << (16 + 4 * i);
		dr7 |= len_code[h->len] << (18 + 4 * i);
	}
	return dr7;
}

static bool any_sw(const struct debug *d)
{
	for (int i = 0; i < DEBUG_MAX_SW_BPS; i++)
		if (d->sw[i].used)
			return true;
	return false;
}

static bool any_hw(const struct debug *d)
{
	for (int i = 0; i < DEBUG_HW_SLOTS; i++)
		if (d->hw[i].used)
			return true;
	return false;
}

static uint64_t watched_value(struct debug *d, const struct debug_hw_bp *h)
{
	uint64_t v = 0;

	gm_read(&d->vm->mem, h->gpa, &v, h->len);
	return v;
}

static bool any_step_watch(struct debug *d)
{
	if (!d->watch_by_step)
		return false;
	for (int i = 0; i < DEBUG_HW_SLOTS; i++)
		if (d->hw[i].used && d->hw[i].type != DEBUG_HW_EXEC && d->hw[i].has_gpa)
			return true;
	return false;
}

/* vCPU thread, after one stepped instruction: did a watched value change? */
static int watch_changed(struct debug *d)
{
	int slot = -1;

	pthread_mutex_lock(&d->watch_lock);
	for (int i = 0; i < DEBUG_HW_SLOTS && slot < 0; i++) {
		struct debug_hw_bp *h = &d->hw[i];
		uint64_t v;

		if (!h->used || h->type == DEBUG_HW_EXEC || !h->has_gpa)
			continue;
		v = watched_value(d, h);
		if (v != h->seen) {
			h->seen = v;
			slot = i;
		}
	}
	pthread_mutex_unlock(&d->watch_lock);
	return slot;
}

static void set_debugregs(struct debug *d, struct kvm_guest_debug *g)
{
	for (int s = 0; s < DEBUG_HW_SLOTS; s++)
		g->arch.debugreg[s] = d->hw[s].used ? d->hw[s].addr : 0;
	g->arch.debugreg[7] = any_hw(d) ? dr7_of(d) : 0;
}

/* Every vCPU must be parked (or not yet running). */
static int apply_all(struct debug *d)
{
	struct vm *vm = d->vm;
	bool sw = any_sw(d), hw = any_hw(d);
	int ret = 0, r;

	for (int s = 0; s < DEBUG_HW_SLOTS; s++) {
		struct debug_hw_bp *h = &d->hw[s];

		if (h->used && h->type != DEBUG_HW_EXEC && !h->has_gpa)
			h->has_gpa = virt_to_phys(vm, 0, h->addr, &h->gpa) == 0 &&
				     gm_is_ram(&vm->mem, h->gpa, h->len);
		if (h->used && h->has_gpa)
			h->seen = watched_value(d, h);
	}

	for (int i = 0; i < vm->ncpus; i++) {
		struct kvm_guest_debug g = { 0 };

		if (!vm->vcpus[i].run)
			continue;
		if (sw)
			g.control |= KVM_GUESTDBG_USE_SW_BP;
		if (hw)
			g.control |= KVM_GUESTDBG_USE_HW_BP;
		if (d->stepping[i])
			g.control |= KVM_GUESTDBG_SINGLESTEP | (d->blockirq ? KVM_GUESTDBG_BLOCKIRQ : 0);
		d->wstep[i] = !d->stepping[i] && !d->held[i] && any_step_watch(d);
		/*
		 * Interrupts are held while a watch is emulated by stepping (QEMU's gdbstub steps
		 * with SSTEP_NOIRQ too): an interrupt a step delivers saves the stepping TF in its
		 * frame, and its handler's IRET after the watch is gone gives the guest a #DB
		 * (stepframe.h). They are delivered once the watch is gone or the VM stops; one
		 * KVM had injected already is taken care of by stepframe_settle.
		 */
		if (d->wstep[i])
			g.control |= KVM_GUESTDBG_SINGLESTEP | (d->blockirq ? KVM_GUESTDBG_BLOCKIRQ : 0);
		/* A step that ended without a debug exit (a kick) may have delivered an event. */
		stepframe_settle(&d->sframe[i], vm, i);
		if (g.control & KVM_GUESTDBG_SINGLESTEP)
			stepframe_arm(&d->sframe[i], vm, i, d->stepping[i]);
		else
			d->sframe[i].armed = false;
		if (g.control)
			g.control |= KVM_GUESTDBG_ENABLE;
		if (d->applied_valid[i] && d->applied_ctl[i] == g.control &&
		    (!hw || d->applied_gen[i] == d->hw_gen))
			continue;
		set_debugregs(d, &g);
		/* A vCPU that did not park (vm_wait_parked) is set when it next stops. */
		if ((r = vm_vcpu_ioctl(vm, i, KVM_SET_GUEST_DEBUG, &g)) < 0) {
			ret = r;
			log_warn("cpu%d: KVM_SET_GUEST_DEBUG: %s", i, strerror(-r));
			d->applied_valid[i] = false;
			continue;
		}
		d->applied_ctl[i] = g.control;
		d->applied_gen[i] = d->hw_gen;
		d->applied_valid[i] = true;
	}
	return ret;
}

/* Change the tables with every vCPU parked, then program the vCPUs. */
static int apply_paused(struct debug *d)
{
	int r;

	vm_pause(d->vm);
	r = apply_all(d);
	vm_resume(d->vm);
	return r;
}

/* --- page walks ------------------------------------------------------------- */

/* CPU's linear RIP (CS base added), as breakpoint addresses and stop events use it. */
static int cpu_pc(struct vm *vm, int cpu, uint64_t *pc)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	int r = vm_get_regs(vm, cpu, &regs);

	if (r || (r = vm_get_sregs(vm, cpu, &sregs)))
		return r;
	*pc = regs.rip + sregs.cs.base;
	return 0;
}

static int cpu_ctx(struct vm *vm, int cpu, struct pw_ctx *ctx)
{
	struct kvm_sregs s;
	int r = vm_get_sregs(vm, cpu, &s);

	if (r)
		return r;
	*ctx = (struct pw_ctx){ .cr0 = s.cr0, .cr3 = s.cr3, .cr4 = s.cr4, .efer = s.efer };
	return 0;
}

/* A guest-virtual address through CTX's paging, or with paging off through the ELF's load map. */
static int translate(struct vm *vm, const struct pw_ctx *ctx, uint64_t gva, uint64_t *gpa)
{
	const struct debug *d = dbg_of(vm);
	struct pw_result res;
	int r;

	for (int i = 0; d && !(ctx->cr0 & PW_CR0_PG) && i < d->nsegs; i++) {
		if (gva - d->segs[i].vaddr < d->segs[i].memsz) {
			*gpa = d->segs[i].paddr + (gva - d->segs[i].vaddr);
			return 0;
		}
	}
	r = pw_translate(&vm->mem, ctx, gva, &res);
	if (r)
		return r;
	*gpa = res.gpa;
	return 0;
}

static int virt_to_phys(struct vm *vm, int cpu, uint64_t gva, uint64_t *gpa)
{
	struct pw_ctx ctx;
	int r = cpu_ctx(vm, cpu, &ctx);

	if (r)
		return r;
	r = translate(vm, &ctx, gva, gpa);
	if (r)
		return r;
	if (!gm_is_ram(&vm->mem, *gpa, 1))
		return -EFAULT;
	return 0;
}

static struct debug_sw_bp *sw_find(struct debug *d, uint64_t gpa)
{
	for (int i = 0; i < DEBUG_MAX_SW_BPS; i++)
		if (d->sw[i].used && d->sw[i].gpa == gpa)
			return &d->sw[i];
	return NULL;
}

static unsigned total_refs(const unsigned *refs)
{
	unsigned n = 0;

	for (int i = 0; i < DEBUG_OWNER_NR; i++)
		n += refs[i];
	return n;
}

/* --- software breakpoints ---------------------------------------------------- */

int debug_sw_insert(struct vm *vm, int cpu, uint64_t addr, enum debug_owner who)
{
	struct debug *d;
	struct debug_sw_bp *bp;
	uint64_t gpa;
	uint8_t *p;
	int r = debug_init(vm);

	if (r)
		return r;
	d = dbg_of(vm);
	if (debug_refusal(vm, false, DEBUG_HW_EXEC, NULL, 0))
		return -EOPNOTSUPP;
	r = virt_to_phys(vm, cpu, addr, &gpa);
	if (r)
		return r == -EIO ? -EFAULT : r;
	vm_pause(vm);
	bp = sw_find(d, gpa);
	if (!bp) {
		for (int i = 0; i < DEBUG_MAX_SW_BPS && !bp; i++)
			if (!d->sw[i].used)
				bp = &d->sw[i];
		if (!bp) {
			vm_resume(vm);
			return -ENOSPC;
		}
		p = gm_ptr(&vm->mem, gpa, 1);
		*bp = (struct debug_sw_bp){ .used = true, .gpa = gpa, .addr = addr, .orig = *p };
		*p = 0xcc;
	}
	bp->refs[who]++;
	r = apply_all(d);
	vm_resume(vm);
	return r;
}

static void sw_drop(struct debug *d, struct debug_sw_bp *bp)
{
	uint8_t *p = gm_ptr(&d->vm->mem, bp->gpa, 1);

	/* The guest may have rewritten the page (module unload, text patching). */
	if (p && *p == 0xcc)
		*p = bp->orig;
	bp->used = false;
}

int debug_sw_remove(struct vm *vm, int cpu, uint64_t addr, enum debug_owner who)
{
	struct debug *d = dbg_of(vm);
	struct debug_sw_bp *bp = NULL;
	uint64_t gpa;
	int r;

	if (!d)
		return -ENOENT;
	if (virt_to_phys(vm, cpu, addr, &gpa) == 0)
		bp = sw_find(d, gpa);
	/* The mapping may be gone: fall back to the address it was inserted at. */
	for (int i = 0; i < DEBUG_MAX_SW_BPS && !bp; i++)
		if (d->sw[i].used && d->sw[i].addr == addr && d->sw[i].refs[who])
			bp = &d->sw[i];
	if (!bp || !bp->refs[who])
		return -ENOENT;
	vm_pause(vm);
	if (--bp->refs[who] == 0 && total_refs(bp->refs) == 0)
		sw_drop(d, bp);
	r = apply_all(d);
	vm_resume(vm);
	return r;
}

/* --- hardware breakpoints and watchpoints ------------------------------------- */

static bool hw_len_ok(enum debug_hw_type type, uint64_t addr, uint64_t len)
{
	if (type == DEBUG_HW_EXEC)
		return len <= 1 || len == 0; /* gdb sends the breakpoint kind (1) */
	if (len != 1 && len != 2 && len != 4 && len != 8)
		return false;
	return (addr & (len - 1)) == 0;
}

int debug_hw_insert(struct vm *vm, enum debug_hw_type type, uint64_t addr, uint64_t len,
		    enum debug_owner who)
{
	struct debug *d;
	struct debug_hw_bp *h = NULL;
	int r = debug_init(vm);

	if (r)
		return r;
	d = dbg_of(vm);
	if (type == DEBUG_HW_EXEC)
		len = 1;
	if (!hw_len_ok(type, addr, len))
		return -EINVAL;
	/* One that would never fire (or, by stepping, never see reads) is worse than none. */
	if (debug_refusal(vm, true, type, NULL, 0))
		return -EOPNOTSUPP;
	for (int i = 0; i < DEBUG_HW_SLOTS; i++)
		if (d->hw[i].used && d->hw[i].type == type && d->hw[i].addr == addr &&
		    d->hw[i].len == len)
			h = &d->hw[i];
	if (!h) {
		for (int i = 0; i < DEBUG_HW_SLOTS && !h; i++)
			if (!d->hw[i].used)
				h = &d->hw[i];
		if (!h)
			return -ENOSPC;
		vm_pause(vm);
		*h = (struct debug_hw_bp){ .used = true, .type = type, .addr = addr, .len = len };
		h->refs[who]++;
		d->hw_gen++;
		r = apply_all(d);
		vm_resume(vm);
		return r;
	}
	h->refs[who]++;
	return 0;
}

int debug_hw_remove(struct vm *vm, enum debug_hw_type type, uint64_t addr, uint64_t len,
		    enum debug_owner who)
{
	struct debug *d = dbg_of(vm);

	if (!d)
		return -ENOENT;
	if (type == DEBUG_HW_EXEC)
		len = 1;
	for (int i = 0; i < DEBUG_HW_SLOTS; i++) {
		struct debug_hw_bp *h = &d->hw[i];

		if (!h->used || h->type != type || h->addr != addr || h->len != len ||
		    !h->refs[who])
			continue;
		if (--h->refs[who] || total_refs(h->refs))
			return 0;
		vm_pause(vm);
		h->used = false;
		d->hw_gen++;
		i = apply_all(d);
		vm_resume(vm);
		return i;
	}
	return -ENOENT;
}

void debug_remove_all(struct vm *vm, enum debug_owner who)
{
	struct debug *d = dbg_of(vm);

	if (!d)
		return;
	vm_pause(vm);
	for (int i = 0; i < DEBUG_MAX_SW_BPS; i++) {
		struct debug_sw_bp *bp = &d->sw[i];

		if (!bp->used || !bp->refs[who])
			continue;
		bp->refs[who] = 0;
		if (!total_refs(bp->refs))
			sw_drop(d, bp);
	}
	for (int i = 0; i < DEBUG_HW_SLOTS; i++) {
		struct debug_hw_bp *h = &d->hw[i];

		if (!h->used || !h->refs[who])
			continue;
		h->refs[who] = 0;
		if (!total_refs(h->refs)) {
			h->used = false;
			d->hw_gen++;
		}
	}
	apply_all(d);
	vm_resume(vm);
}

int debug_list(struct vm *vm, struct debug_bp_info *out, int max)
{
	struct debug *d = dbg_of(vm);
	int n = 0;

	if (!d)
		return 0;
	for (int i = 0; i < DEBUG_HW_SLOTS; i++) {
		const struct debug_hw_bp *h = &d->hw[i];

		if (!h->used)
			continue;
		if (n < max) {
			out[n] = (struct debug_bp_info){ .hw = true, .type = h->type, .slot = i,
							 .addr = h->addr, .len = h->len };
			memcpy(out[n].refs, h->refs, sizeof(h->refs));
		}
		n++;
	}
	for (int i = 0; i < DEBUG_MAX_SW_BPS; i++) {
		const struct debug_sw_bp *bp = &d->sw[i];

		if (!bp->used)
			continue;
		if (n < max) {
			out[n] = (struct debug_bp_info){ .addr = bp->addr, .gpa = bp->gpa,
							 .len = 1, .slot = -1 };
			memcpy(out[n].refs, bp->refs, sizeof(bp->refs));
		}
		n++;
	}
	return n;
}

size_t debug_format_breaks(struct vm *vm, char *buf, size_t size)
{
	static const char *const type_name[] = { "hbreak", "watch", "awatch" };
	struct debug_bp_info info[DEBUG_HW_SLOTS + DEBUG_MAX_SW_BPS];
	int n = debug_list(vm, info, DEBUG_HW_SLOTS + DEBUG_MAX_SW_BPS);
	size_t off = 0;
	bool slot_used[DEBUG_HW_SLOTS] = { false };

#define OUT(...) (off += snprintf(buf + off, off < size ? size - off : 0, __VA_ARGS__))
	if (size)
		buf[0] = 0;
	for (int i = 0; i < n; i++) {
		char sym[160];

		symtab_format(&vm->syms, info[i].addr, sym, sizeof(sym));
		if (info[i].hw) {
			slot_used[info[i].slot] = true;
			OUT("DR%d  %-6s 0x%016llx len %llu <%s> held by gdb:%u repl:%u\n",
			    info[i].slot, type_name[info[i].type], (unsigned long long)info[i].addr,
			    (unsigned long long)info[i].len, sym, info[i].refs[DEBUG_OWNER_GDB],
			    info[i].refs[DEBUG_OWNER_REPL]);
		} else {
			OUT("int3 break  0x%016llx gpa 0x%llx <%s> held by gdb:%u repl:%u\n",
			    (unsigned long long)info[i].addr, (unsigned long long)info[i].gpa, sym,
			    info[i].refs[DEBUG_OWNER_GDB], info[i].refs[DEBUG_OWNER_REPL]);
		}
	}
	for (int s = 0; s < DEBUG_HW_SLOTS; s++)
		if (!slot_used[s])
			OUT("DR%d  free\n", s);
#undef OUT
	return off < size ? off : size ? size - 1 : 0;
}

/* --- stops ------------------------------------------------------------------ */

void debug_wait_stopped(struct vm *vm)
{
	vm_wait_parked(vm);
}

static void kick_others(struct vm *vm, int self)
{
	for (int i = 0; i < vm->ncpus; i++)
		if (i != self && vm->vcpus[i].run)
			vcpu_kick(&vm->vcpus[i]);
}

int debug_stop_all(struct vm *vm)
{
	struct debug *d;
	int r = debug_init(vm);

	if (r)
		return r;
	d = dbg_of(vm);
	pthread_mutex_lock(&vm->lock);
	if (!d->stopped) {
		d->stopped = true;
		d->interrupt = true;
		vm->pause_depth++;
	}
	pthread_mutex_unlock(&vm->lock);
	kick_others(vm, -1);
	debug_wait_stopped(vm);
	return 0;
}

bool debug_is_stopped(struct vm *vm)
{
	struct debug *d = dbg_of(vm);
	bool s;

	if (!d)
		return false;
	pthread_mutex_lock(&vm->lock);
	s = d->stopped;
	pthread_mutex_unlock(&vm->lock);
	return s;
}

/* vCPU thread: remember EV and stop the whole VM. */
static void record_stop(struct debug *d, struct vcpu *v, const struct debug_event *ev,
			uint64_t gpa)
{
	struct vm *vm = d->vm;

	pthread_mutex_lock(&vm->lock);
	if (!d->has_pending[v->id]) {
		d->pending[v->id] = *ev;
		d->pending_gpa[v->id] = gpa;
		d->pending_seq[v->id] = ++d->seq;
		d->has_pending[v->id] = true;
	}
	if (!d->stopped) {
		d->stopped = true;
		vm->pause_depth++;
	}
	pthread_mutex_unlock(&vm->lock);
	kick_others(vm, v->id);
	signal_stop(d);
}

/* An int3 that is not ours: deliver #BP to the guest as if KVM had not intercepted it. */
static void reinject_bp(struct vcpu *v, uint64_t pc)
{
	struct kvm_regs regs;
	struct kvm_vcpu_events ev;
	uint8_t insn[2] = { 0 };

	if (ioctl(v->fd, KVM_GET_REGS, &regs) < 0)
		return;
	if (regs.rip == pc) {
		debug_read_virt(v->vm, v->id, pc, insn, sizeof(insn));
		if (insn[0] == 0xcc)
			regs.rip += 1;
		else if (insn[0] == 0xcd && insn[1] == 0x03)
			regs.rip += 2;
		else
			return; /* the int3 went away meanwhile: run the instruction again */
		if (ioctl(v->fd, KVM_SET_REGS, &regs) < 0)
			return;
	}
	if (ioctl(v->fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return;
	ev.exception.injected = 1;
	ev.exception.nr = BP_VECTOR;
	ev.exception.has_error_code = 0;
	ev.exception.error_code = 0;
	if (ioctl(v->fd, KVM_SET_VCPU_EVENTS, &ev) < 0)
		log_warn("cpu%d: cannot re-inject the guest's own int3: %s", v->id, strerror(errno));
}

/* vCPU thread: whether V's current run is a debugger's step (set by the resuming thread). */
static bool cpu_stepping(struct debug *d, struct vcpu *v)
{
	bool stepping;

	pthread_mutex_lock(&v->vm->lock);
	stepping = d->stepping[v->id];
	pthread_mutex_unlock(&v->vm->lock);
	return stepping;
}

bool debug_handle_exit(struct vcpu *v)
{
	struct debug *d = dbg_of(v->vm);
	struct kvm_debug_exit_arch *a = &v->run->debug.arch;
	struct debug_event ev = { .cpu = v->id, .slot = -1, .pc = a->pc };
	uint64_t gpa = 0;
	bool stepping;

	if (!d) {
		log_warn("cpu%d: debug exit without a debugger (exception %u)", v->id, a->exception);
		return true;
	}
	stepframe_settle(&d->sframe[v->id], v->vm, v->id);
	stepping = cpu_stepping(d, v);

	if (a->exception == BP_VECTOR) {
		struct debug_sw_bp *bp = NULL;

		if (virt_to_phys(v->vm, v->id, a->pc, &gpa) == 0)
			bp = sw_find(d, gpa);
		if (!bp) {
			reinject_bp(v, a->pc);
			v->last_exit_what = "the guest's own int3, delivered to it";
			debug_insn_completed(v);
			return true;
		}
		ev.reason = DEBUG_STOP_SWBREAK;
		ev.addr = bp->addr;
	} else if (a->exception == DB_VECTOR) {
		ev.reason = DEBUG_STOP_TRAP;
		for (int i = 0; i < DEBUG_HW_SLOTS; i++) {
			if (!(a->dr6 & (1ULL << i)) || !d->hw[i].used)
				continue;
			ev.slot = i;
			ev.addr = d->hw[i].addr;
			ev.reason = d->hw[i].type == DEBUG_HW_EXEC    ? DEBUG_STOP_HWBREAK
				    : d->hw[i].type == DEBUG_HW_WRITE ? DEBUG_STOP_WATCH
								      : DEBUG_STOP_AWATCH;
			break;
		}
		if (ev.reason == DEBUG_STOP_TRAP && d->wstep[v->id] && !stepping) {
			int slot = watch_changed(d);

			if (slot < 0) {
				v->last_exit_what = "step (watching by single-step)";
				return true; /* nothing written: keep stepping */
			}
			ev.slot = slot;
			ev.addr = d->hw[slot].addr;
			ev.reason = d->hw[slot].type == DEBUG_HW_WRITE ? DEBUG_STOP_WATCH
								       : DEBUG_STOP_AWATCH;
		}
		/* DR6.BS, or a plain #DB of a stepping vCPU (in case the host leaves BS clear). */
		if (ev.reason == DEBUG_STOP_TRAP && stepping)
			ev.reason = DEBUG_STOP_STEP;
	} else {
		ev.reason = DEBUG_STOP_TRAP;
	}
	v->last_exit_what = debug_stop_name(ev.reason);
	record_stop(d, v, &ev, gpa);
	return true;
}

void debug_insn_completed(struct vcpu *v)
{
	struct debug *d = dbg_of(v->vm);
	struct kvm_guest_debug g = { 0 };
	uint64_t pc;

	if (!d)
		return;
	if (cpu_stepping(d, v)) {
		if (cpu_pc(v->vm, v->id, &pc) == 0)
			record_stop(d, v,
				    &(struct debug_event){ .reason = DEBUG_STOP_STEP, .cpu = v->id,
							   .slot = -1, .pc = pc },
				    0);
		return;
	}
	if (!d->wstep[v->id] || !d->applied_valid[v->id])
		return;
	/* The same control again: KVM arms the step at the new RIP and sets TF. */
	g.control = d->applied_ctl[v->id];
	set_debugregs(d, &g);
	if (ioctl(v->fd, KVM_SET_GUEST_DEBUG, &g) < 0)
		log_warn("cpu%d: cannot re-arm the watch's stepping: %s", v->id, strerror(errno));
}

bool debug_handle_int3(struct vcpu *v)
{
	struct debug *d = dbg_of(v->vm);
	struct debug_sw_bp *bp;
	uint64_t gpa, pc;

	if (!d || cpu_pc(v->vm, v->id, &pc))
		return false;
	if (virt_to_phys(v->vm, v->id, pc, &gpa) || !(bp = sw_find(d, gpa)))
		return false;
	record_stop(d, v, &(struct debug_event){ .reason = DEBUG_STOP_SWBREAK, .cpu = v->id,
						 .slot = -1, .addr = bp->addr, .pc = pc },
		    gpa);
	return true;
}

bool debug_serial_begin(struct vcpu *v)
{
	struct debug *d = dbg_of(v->vm);

	/* wstep changes only while every vCPU is parked (apply_all). */
	if (!d || !d->wstep[v->id])
		return false;
	pthread_mutex_lock(&d->step_lock);
	return true;
}

void debug_serial_end(struct vcpu *v, bool held)
{
	if (held)
		pthread_mutex_unlock(&dbg_of(v->vm)->step_lock);
}

bool debug_vcpu_held(struct vcpu *v)
{
	struct debug *d = dbg_of(v->vm);

	return d && d->held[v->id];
}

/* Main thread, VM stopped: is the event still true of the guest? */
static bool event_valid(struct debug *d, const struct debug_event *ev, uint64_t gpa)
{
	struct kvm_regs regs;
	const struct debug_hw_bp *h = ev->slot >= 0 ? &d->hw[ev->slot] : NULL;

	switch (ev->reason) {
	case DEBUG_STOP_SWBREAK:
		if (!sw_find(d, gpa))
			return false;
		break;
	case DEBUG_STOP_HWBREAK:
		if (!h->used || h->type != DEBUG_HW_EXEC || h->addr != ev->addr)
			return false;
		break;
	case DEBUG_STOP_WATCH:
	case DEBUG_STOP_AWATCH:
		/* The write has happened: report it while the watchpoint exists. */
		return h->used && h->addr == ev->addr;
	case DEBUG_STOP_STEP:
		return d->stepping[ev->cpu];
	default:
		return false;
	}
	/* gdb may have moved the PC of that vCPU meanwhile. */
	return vm_get_regs(d->vm, ev->cpu, &regs) == 0 && regs.rip == ev->pc;
}

bool debug_take_event(struct vm *vm, struct debug_event *out)
{
	struct debug *d = dbg_of(vm);
	bool found = false;

	if (!d)
		return false;
	for (;;) {
		int best = -1;

		pthread_mutex_lock(&vm->lock);
		for (int i = 0; i < vm->ncpus; i++)
			if (d->has_pending[i] &&
			    (best < 0 || d->pending_seq[i] < d->pending_seq[best]))
				best = i;
		if (best >= 0)
			d->has_pending[best] = false;
		pthread_mutex_unlock(&vm->lock);
		if (best < 0)
			break;
		if (event_valid(d, &d->pending[best], d->pending_gpa[best])) {
			*out = d->pending[best];
			found = true;
			pthread_mutex_lock(&vm->lock);
			d->taken[best] = *out;
			d->has_taken[best] = true;
			pthread_mutex_unlock(&vm->lock);
			break;
		}
	}
	pthread_mutex_lock(&vm->lock);
	if (!found && d->interrupt) {
		*out = (struct debug_event){ .reason = DEBUG_STOP_INTERRUPT, .cpu = 0, .slot = -1 };
		found = true;
	}
	d->interrupt = false;
	pthread_mutex_unlock(&vm->lock);
	return found;
}

bool debug_take_event_at(struct vm *vm, uint64_t addr, struct debug_event *out)
{
	struct debug *d = dbg_of(vm);
	bool found = false;

	if (!d)
		return false;
	pthread_mutex_lock(&vm->lock);
	for (int i = 0; i < vm->ncpus && !found; i++)
		if (d->has_pending[i] && d->pending[i].reason == DEBUG_STOP_HWBREAK &&
		    d->pending[i].addr == addr) {
			d->has_pending[i] = false;
			*out = d->pending[i];
			d->taken[i] = *out;
			d->has_taken[i] = true;
			found = true;
		}
	pthread_mutex_unlock(&vm->lock);
	return found;
}

void debug_clear_events(struct vm *vm)
{
	struct debug *d = dbg_of(vm);

	if (!d)
		return;
	pthread_mutex_lock(&vm->lock);
	memset(d->has_pending, 0, sizeof(d->has_pending));
	memset(d->has_taken, 0, sizeof(d->has_taken));
	memset(d->stepping, 0, sizeof(d->stepping));
	d->interrupt = false;
	pthread_mutex_unlock(&vm->lock);
}

bool debug_cpu_stop(struct vm *vm, int cpu, struct debug_event *ev)
{
	struct debug *d = dbg_of(vm);
	bool found = false;

	if (!d || cpu < 0 || cpu >= vm->ncpus)
		return false;
	pthread_mutex_lock(&vm->lock);
	if (d->stopped && d->has_pending[cpu]) {
		*ev = d->pending[cpu];
		found = true;
	} else if (d->stopped && d->has_taken[cpu]) {
		*ev = d->taken[cpu];
		found = true;
	}
	pthread_mutex_unlock(&vm->lock);
	return found;
}

const char *debug_stop_name(enum debug_stop_reason r)
{
	switch (r) {
	case DEBUG_STOP_SWBREAK: return "breakpoint";
	case DEBUG_STOP_HWBREAK: return "hardware breakpoint";
	case DEBUG_STOP_WATCH:
	case DEBUG_STOP_AWATCH: return "watchpoint";
	case DEBUG_STOP_STEP: return "step";
	case DEBUG_STOP_INTERRUPT: return "stop request";
	case DEBUG_STOP_TRAP: return "debug exception";
	default: return "debug";
	}
}

#define STEP_OVER_WAIT_MS 2000

/* Main thread: CPU runs alone (every other vCPU held) until it stops again, bounded. */
static void run_one_stopped(struct debug *d, int cpu)
{
	struct vm *vm = d->vm;
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += STEP_OVER_WAIT_MS / 1000;
	pthread_mutex_lock(&vm->lock);
	d->stopped = false;
	if (vm->pause_depth > 0)
		vm->pause_depth--;
	pthread_cond_broadcast(&vm->cond);
	while (!(d->stopped && vm->vcpus[cpu].parked) && !vm->ending)
		if (pthread_cond_timedwait(&vm->cond, &vm->lock, &until) == ETIMEDOUT)
			break;
	if (!d->stopped) {
		/* The instruction did not finish (a halt with nothing to wake it): stop it here. */
		d->stopped = true;
		vm->pause_depth++;
	}
	pthread_mutex_unlock(&vm->lock);
	vcpu_kick(&vm->vcpus[cpu]);
	debug_wait_stopped(vm);
}

/*
 * A vCPU stopped on one of our int3s would trap on it again at once. gdb removes its
 * breakpoints before it continues (debug_resume); the REPL leaves that to vmdbg
 * (debug_resume_over_sw): the vCPU executes the guest's own instruction alone, with the
 * original byte back and every other vCPU held, then the int3 returns. True if a vCPU asked to
 * STEP was stepped that way (its step is done: the caller reports it).
 */
static bool step_over_sw(struct debug *d, const enum debug_action *acts)
{
	struct vm *vm = d->vm;
	bool stepped = false;

	for (int i = 0; i < vm->ncpus; i++) {
		enum debug_action a = acts ? acts[i] : DEBUG_ACT_CONT;
		struct debug_sw_bp *bp;
		uint64_t gpa, pc;
		uint8_t *p;

		if (a == DEBUG_ACT_STOP || !vm->vcpus[i].run || cpu_pc(vm, i, &pc) ||
		    virt_to_phys(vm, i, pc, &gpa) || !(bp = sw_find(d, gpa)) ||
		    !(p = gm_ptr(&vm->mem, gpa, 1)) || *p != 0xcc)
			continue;
		*p = bp->orig;
		pthread_mutex_lock(&vm->lock);
		for (int j = 0; j < vm->ncpus; j++) {
			d->held[j] = j != i;
			d->stepping[j] = j == i;
		}
		pthread_mutex_unlock(&vm->lock);
		apply_all(d);
		run_one_stopped(d, i);
		*p = 0xcc;
		pthread_mutex_lock(&vm->lock);
		/* Our own step is no news, unless the user asked for exactly that step. */
		if (d->has_pending[i] && d->pending[i].reason == DEBUG_STOP_STEP && a != DEBUG_ACT_STEP)
			d->has_pending[i] = false;
		/* The asked-for step is done (its event no longer valid once stepping ends): info cpus. */
		if (d->has_pending[i] && d->pending[i].reason == DEBUG_STOP_STEP) {
			d->taken[i] = d->pending[i];
			d->has_taken[i] = true;
		}
		memset(d->held, 0, sizeof(d->held));
		memset(d->stepping, 0, sizeof(d->stepping));
		d->interrupt = false;
		pthread_mutex_unlock(&vm->lock);
		stepped |= a == DEBUG_ACT_STEP;
	}
	return stepped;
}

static int resume(struct vm *vm, const enum debug_action *acts, bool over_sw);

int debug_resume(struct vm *vm, const enum debug_action *acts)
{
	return resume(vm, acts, false);
}

int debug_resume_over_sw(struct vm *vm, const enum debug_action *acts)
{
	return resume(vm, acts, true);
}

static int resume(struct vm *vm, const enum debug_action *acts, bool over_sw)
{
	struct debug *d;
	bool keep = false;
	int r = debug_init(vm);

	if (r)
		return r;
	d = dbg_of(vm);
	/* Events that are still true are reported before anything runs again. */
	for (int i = 0; i < vm->ncpus; i++) {
		if (!d->has_pending[i])
			continue;
		if (d->pending[i].reason == DEBUG_STOP_STEP || d->pending[i].reason == DEBUG_STOP_TRAP ||
		    !event_valid(d, &d->pending[i], d->pending_gpa[i])) {
			pthread_mutex_lock(&vm->lock);
			d->has_pending[i] = false;
			pthread_mutex_unlock(&vm->lock);
			continue;
		}
		keep = true;
	}
	pthread_mutex_lock(&vm->lock);
	if (keep && d->stopped) {
		memset(d->stepping, 0, sizeof(d->stepping));
		pthread_mutex_unlock(&vm->lock);
		signal_stop(d);
		return 1;
	}
	pthread_mutex_unlock(&vm->lock);
	if (over_sw && d->stopped && any_sw(d) && step_over_sw(d, acts)) {
		signal_stop(d); /* the asked-for step happened while stepping over the int3 */
		return 1;
	}
	pthread_mutex_lock(&vm->lock);
	for (int i = 0; i < vm->ncpus; i++) {
		enum debug_action a = acts ? acts[i] : DEBUG_ACT_CONT;

		d->stepping[i] = a == DEBUG_ACT_STEP;
		d->held[i] = a == DEBUG_ACT_STOP;
	}
	pthread_mutex_unlock(&vm->lock);
	/* Every vCPU is parked while the debugger holds the VM. */
	r = d->stopped ? apply_all(d) : apply_paused(d);
	pthread_mutex_lock(&vm->lock);
	memset(d->has_taken, 0, sizeof(d->has_taken));
	if (d->stopped) {
		d->stopped = false;
		d->interrupt = false;
		if (vm->pause_depth > 0 && --vm->pause_depth == 0)
			pthread_cond_broadcast(&vm->cond);
	}
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	return r;
}

/* --- memory ------------------------------------------------------------------- */

static void hide_bps(struct debug *d, uint64_t gpa, uint8_t *buf, uint64_t n)
{
	for (int i = 0; d && i < DEBUG_MAX_SW_BPS; i++)
		if (d->sw[i].used && d->sw[i].gpa >= gpa && d->sw[i].gpa < gpa + n)
			buf[d->sw[i].gpa - gpa] = d->sw[i].orig;
}

void debug_hide_sw(struct vm *vm, uint64_t gpa, uint8_t *buf, uint64_t n)
{
	hide_bps(dbg_of(vm), gpa, buf, n);
}

void debug_reinsert_sw(struct vm *vm)
{
	struct debug *d = dbg_of(vm);

	for (int i = 0; d && i < DEBUG_MAX_SW_BPS; i++) {
		struct debug_sw_bp *bp = &d->sw[i];
		uint8_t *p = bp->used ? gm_ptr(&vm->mem, bp->gpa, 1) : NULL;

		/* Where nothing rewrote the page the int3 is still there: keep the saved byte. */
		if (p && *p != 0xcc)
			bp->orig = *p;
		if (p)
			*p = 0xcc;
	}
	if (d && apply_all(d))
		log_warn("cannot re-arm the breakpoints after a restore");
}

uint64_t debug_read_virt(struct vm *vm, int cpu, uint64_t gva, void *dst, uint64_t len)
{
	struct debug *d = dbg_of(vm);
	struct pw_ctx ctx;
	uint64_t done = 0;

	if (cpu_ctx(vm, cpu, &ctx))
		return 0;
	while (done < len) {
		uint64_t va = gva + done, gpa;
		uint64_t n = PAGE_SIZE_4K - (va & (PAGE_SIZE_4K - 1));

		if (n > len - done)
			n = len - done;
		if (translate(vm, &ctx, va, &gpa) || gm_read(&vm->mem, gpa, (uint8_t *)dst + done, n))
			break;
		hide_bps(d, gpa, (uint8_t *)dst + done, n);
		done += n;
	}
	return done;
}

uint64_t debug_write_virt(struct vm *vm, int cpu, uint64_t gva, const void *src, uint64_t len)
{
	struct debug *d = dbg_of(vm);
	struct pw_ctx ctx;
	uint64_t done = 0;

	if (cpu_ctx(vm, cpu, &ctx))
		return 0;
	while (done < len) {
		uint64_t va = gva + done, gpa;
		uint64_t n = PAGE_SIZE_4K - (va & (PAGE_SIZE_4K - 1));
		uint8_t *p;

		if (n > len - done)
			n = len - done;
		if (translate(vm, &ctx, va, &gpa))
			break;
		p = gm_ptr(&vm->mem, gpa, n);
		if (!p)
			break;
		memcpy(p, (const uint8_t *)src + done, n);
		/* A write over an inserted int3 changes the byte restored on removal. */
		for (int i = 0; d && i < DEBUG_MAX_SW_BPS; i++) {
			struct debug_sw_bp *bp = &d->sw[i];

			if (bp->used && bp->gpa >= gpa && bp->gpa < gpa + n) {
				bp->orig = p[bp->gpa - gpa];
				p[bp->gpa - gpa] = 0xcc;
			}
		}
		done += n;
	}
	return done;
}

/* --- vCPU state --------------------------------------------------------------- */

int debug_get_fpu(struct vm *vm, int cpu, struct kvm_fpu *fpu)
{
	return vm_vcpu_ioctl(vm, cpu, KVM_GET_FPU, fpu);
}

int debug_set_fpu(struct vm *vm, int cpu, const struct kvm_fpu *fpu)
{
	return vm_vcpu_ioctl(vm, cpu, KVM_SET_FPU, (void *)fpu);
}

int debug_get_msr(struct vm *vm, int cpu, uint32_t index, uint64_t *val)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[1];
	} msrs = { .hdr.nmsrs = 1, .e[0] = { .index = index } };
	int r;

	r = vm_vcpu_ioctl(vm, cpu, KVM_GET_MSRS, &msrs);
	if (r != 1)
		return r < 0 ? r : -EIO;
	*val = msrs.e[0].data;
	return 0;
}

int debug_set_msr(struct vm *vm, int cpu, uint32_t index, uint64_t val)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[1];
	} msrs = { .hdr.nmsrs = 1, .e[0] = { .index = index, .data = val } };
	int r;

	r = vm_vcpu_ioctl(vm, cpu, KVM_SET_MSRS, &msrs);
	if (r != 1)
		return r < 0 ? r : -EIO;
	return 0;
}

/* --- KASLR ------------------------------------------------------------------- */

int debug_kaslr_slide(struct vm *vm, int64_t *slide)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[1];
	} msrs = { .hdr.nmsrs = 1, .e[0] = { .index = MSR_LSTAR } };
	uint64_t sym;
	int r;

	if (symtab_lookup_name(&vm->syms, "entry_SYSCALL_64", &sym))
		return -ENOENT;
	sym -= (uint64_t)vm->syms.slide; /* the link-time address */
	if (!vm->vcpus[0].run)
		return -ENODEV;
	vm_pause(vm);
	r = vm_vcpu_ioctl(vm, 0, KVM_GET_MSRS, &msrs);
	vm_resume(vm);
	if (r != 1)
		return r < 0 ? r : -EIO;
	/* Zero until the kernel has set up its system-call entry. */
	if (msrs.e[0].data == 0)
		return -EAGAIN;
	*slide = (int64_t)(msrs.e[0].data - sym);
	return 0;
}
