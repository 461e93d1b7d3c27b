/* Saving and restoring the machine's state through KVM (format: snapfile.h). */
#include "vm_snap.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "debug.h"
#include "layout.h"
#include "log.h"

#define PAGE 4096ULL
#define MSR_IA32_TSC 0x10
#define MSR_IA32_TSC_ADJUST 0x3b
#define MSR_IA32_TSC_DEADLINE 0x6e0
#define RAM_CHUNK (1ULL << 20) /* bytes copied at a time (breakpoints hidden in the copy) */

/* CONF fields. */
/*
 * New fields are added at the end: a reader skips what it does not know, and reads a file
 * without them (older vmdbg) with a default, so the format version stays 1.
 */
enum { CONF_MEM = 1, CONF_NCPUS, CONF_KERNEL, CONF_INITRD, CONF_CMDLINE, CONF_PVM, CONF_NR_MMIO,
       CONF_VERSION, CONF_INITRD_IDLE, CONF_KERNEL_ID };
/* VCPU fields (vm_snap.h) are restored in the order of restore_vcpu's table, after
 * QEMU's: MSRs after the segment registers, the LAPIC after APIC_BASE, events after
 * the MP state. */
/* IRQC fields: KVM's chip ids + 1. */
enum { IRQC_PIC_MASTER = 1, IRQC_PIC_SLAVE, IRQC_IOAPIC };

#ifndef VMDBG_VERSION
#define VMDBG_VERSION "0.1"
#endif

static int fail(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return ret;
}

static void field_str(struct snap_writer *w, uint32_t key, const char *s)
{
	if (s)
		snap_field(w, key, s, (uint32_t)strlen(s));
}

/* --- MSRs ------------------------------------------------------------------- */

/* Every MSR KVM saves and restores for a VMM (msrs_to_save + emulated_msrs). */
static struct kvm_msr_list *msr_index_list(struct vm *vm)
{
	struct kvm_msr_list probe = { .nmsrs = 0 }, *l;

	if (ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
		return NULL;
	l = calloc(1, sizeof(*l) + probe.nmsrs * sizeof(l->indices[0]));
	if (!l)
		return NULL;
	l->nmsrs = probe.nmsrs;
	if (ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, l) < 0) {
		free(l);
		return NULL;
	}
	return l;
}

/*
 * KVM_GET_MSRS stops at the first MSR it cannot read and returns how many it
 * read; skip that one and go on, so one unsupported MSR costs one entry.
 */
static int get_msrs(int fd, const struct kvm_msr_list *l, struct kvm_msr_entry *out)
{
	struct kvm_msrs *m = calloc(1, sizeof(*m) + l->nmsrs * sizeof(m->entries[0]));
	unsigned next = 0, n = 0;

	if (!m)
		return -ENOMEM;
	while (next < l->nmsrs) {
		int got;

		m->nmsrs = l->nmsrs - next;
		for (unsigned i = 0; i < m->nmsrs; i++)
			m->entries[i] = (struct kvm_msr_entry){ .index = l->indices[next + i] };
		got = ioctl(fd, KVM_GET_MSRS, m);
		if (got < 0) {
			free(m);
			return -errno;
		}
		memcpy(out + n, m->entries, got * sizeof(m->entries[0]));
		n += got;
		next += got + 1; /* entry next+got failed */
	}
	free(m);
	return (int)n;
}

/*
 * Measured on PVM: a guest's TSC is the host's (writes to IA32_TSC do not move it), so a
 * restored TSC or TSC_ADJUST describes another time line; written back they stalled the
 * restored Linux guest's timers for minutes. kvmclock carries the guest's time instead.
 * The TSC deadline is never written with the others: KVM ignores it unless the LAPIC is
 * already in TSC-deadline mode, so it is re-armed after the LAPIC (restore_tsc_deadline).
 */
static bool msr_skipped(const struct vm *vm, uint32_t index)
{
	return index == MSR_IA32_TSC_DEADLINE ||
	       (vm->on_pvm && (index == MSR_IA32_TSC || index == MSR_IA32_TSC_ADJUST));
}

static int set_msr_batch(int fd, const struct kvm_msr_entry *e, unsigned n, int cpu)
{
	struct kvm_msrs *m = calloc(1, sizeof(*m) + (n ? n : 1) * sizeof(m->entries[0]));
	unsigned next = 0;

	if (!m)
		return -ENOMEM;
	while (next < n) {
		int put;

		m->nmsrs = n - next;
		memcpy(m->entries, e + next, m->nmsrs * sizeof(e[0]));
		put = ioctl(fd, KVM_SET_MSRS, m);
		if (put < 0) {
			free(m);
			return -errno;
		}
		if ((unsigned)put < m->nmsrs)
			log_debug("cpu%d: KVM_SET_MSRS refused MSR 0x%x", cpu, e[next + put].index);
		next += put + 1;
	}
	free(m);
	return 0;
}

static int set_msrs(const struct vm *vm, int fd, const struct kvm_msr_entry *in, unsigned nin,
		    int cpu)
{
	struct kvm_msr_entry e[nin ? nin : 1];
	unsigned n = 0;

	for (unsigned i = 0; i < nin; i++)
		if (!msr_skipped(vm, in[i].index))
			e[n++] = in[i];
	return set_msr_batch(fd, e, n, cpu);
}

static bool msr_find(const struct kvm_msr_entry *in, unsigned n, uint32_t index, uint64_t *val)
{
	for (unsigned i = 0; i < n; i++)
		if (in[i].index == index) {
			*val = in[i].data;
			return true;
		}
	return false;
}

/*
 * A vCPU idling in HLT sleeps until its LAPIC timer fires: left unarmed, a halted vCPU of
 * a restored Linux guest never ran its pending timers again and the handshake stalled.
 * The deadline is re-armed as far ahead of the vCPU's TSC now as it was of the TSC
 * saved with it (the same value where the TSC itself was restored; on PVM, where it was
 * not, the same remaining time on the host's time line). One already due fires at once.
 */
static int restore_tsc_deadline(int fd, const struct kvm_msr_entry *in, unsigned n, int cpu)
{
	uint64_t deadline, saved_tsc;
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} m = { .hdr.nmsrs = 1, .e.index = MSR_IA32_TSC };

	if (!msr_find(in, n, MSR_IA32_TSC_DEADLINE, &deadline) || !deadline ||
	    !msr_find(in, n, MSR_IA32_TSC, &saved_tsc))
		return 0;
	if (ioctl(fd, KVM_GET_MSRS, &m) != 1)
		return -EIO;
	m.e = (struct kvm_msr_entry){ .index = MSR_IA32_TSC_DEADLINE,
				      .data = m.e.data + (deadline > saved_tsc ? deadline - saved_tsc : 0) };
	if (!m.e.data)
		m.e.data = 1;
	return set_msr_batch(fd, &m.e, 1, cpu);
}

/* --- saving ------------------------------------------------------------------- */

static size_t xsave_size(struct vm *vm)
{
	int n = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);

	return n > (int)sizeof(struct kvm_xsave) ? (size_t)n : sizeof(struct kvm_xsave);
}

static int save_vcpu(struct vm *vm, int cpu, struct snap_writer *w,
		     const struct kvm_msr_list *ml, struct kvm_msr_entry *msrs, uint64_t *nmsrs)
{
	int fd = vm->vcpus[cpu].fd;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xcrs xcrs;
	struct kvm_mp_state mp;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events ev;
	struct kvm_debugregs dr;
	size_t xs = xsave_size(vm);
	void *xsave = calloc(1, xs);
	int n;

	/* Its state is only whole, and its ioctls only bounded, while it is parked. */
	if (!vm_vcpu_stopped(vm, cpu)) {
		free(xsave);
		return -EBUSY;
	}

	if (!xsave)
		return -ENOMEM;
	if (ioctl(fd, KVM_GET_REGS, &regs) < 0 || ioctl(fd, KVM_GET_SREGS, &sregs) < 0 ||
	    ioctl(fd, KVM_GET_MP_STATE, &mp) < 0 || ioctl(fd, KVM_GET_LAPIC, &lapic) < 0 ||
	    ioctl(fd, KVM_GET_VCPU_EVENTS, &ev) < 0 || ioctl(fd, KVM_GET_DEBUGREGS, &dr) < 0) {
		n = -errno;
		free(xsave);
		return n;
	}
	snap_section_begin(w, SNAP_VCPU, (uint32_t)cpu);
	snap_field(w, VM_SNAP_VCPU_REGS, &regs, sizeof(regs));
	if (ioctl(fd, xs > sizeof(struct kvm_xsave) ? KVM_GET_XSAVE2 : KVM_GET_XSAVE, xsave) == 0) {
		snap_field(w, VM_SNAP_VCPU_XSAVE, xsave, (uint32_t)xs);
	} else {
		struct kvm_fpu fpu;

		if (ioctl(fd, KVM_GET_FPU, &fpu) == 0)
			snap_field(w, VM_SNAP_VCPU_FPU, &fpu, sizeof(fpu));
	}
	if (ioctl(fd, KVM_GET_XCRS, &xcrs) == 0)
		snap_field(w, VM_SNAP_VCPU_XCRS, &xcrs, sizeof(xcrs));
	snap_field(w, VM_SNAP_VCPU_SREGS, &sregs, sizeof(sregs));
	n = ml ? get_msrs(fd, ml, msrs) : 0;
	if (n > 0) {
		snap_field(w, VM_SNAP_VCPU_MSRS, msrs, n * sizeof(msrs[0]));
		*nmsrs = (uint64_t)n;
	}
	snap_field(w, VM_SNAP_VCPU_MP_STATE, &mp, sizeof(mp));
	snap_field(w, VM_SNAP_VCPU_LAPIC, &lapic, sizeof(lapic));
	snap_field(w, VM_SNAP_VCPU_EVENTS, &ev, sizeof(ev));
	snap_field(w, VM_SNAP_VCPU_DEBUGREGS, &dr, sizeof(dr));
	snap_section_end(w);
	free(xsave);
	return 0;
}

static bool page_is_zero(const uint8_t *p)
{
	const uint64_t *q = (const uint64_t *)p;

	for (unsigned i = 0; i < PAGE / 8; i += 4)
		if (q[i] | q[i + 1] | q[i + 2] | q[i + 3])
			return false;
	return true;
}

/* Guest physical address of offset OFF in the host mapping (RAM above the hole moves up). */
static uint64_t ram_gpa(const struct vm *vm, uint64_t off)
{
	return off < vm->mem.low_size ? off : LAYOUT_RAM_HIGH_START + (off - vm->mem.low_size);
}

static void put_run(struct vm *vm, struct snap_writer *w, uint64_t off, uint64_t len, uint8_t *buf)
{
	uint64_t h[2] = { off, len };

	snap_put(w, h, sizeof(h));
	for (uint64_t done = 0; done < len; done += RAM_CHUNK) {
		uint64_t n = len - done < RAM_CHUNK ? len - done : RAM_CHUNK;

		/* Breakpoints' int3 bytes are the debugger's, not the guest's. */
		memcpy(buf, vm->mem.host + off + done, n);
		debug_hide_sw(vm, ram_gpa(vm, off + done), buf, n);
		snap_put(w, buf, n);
	}
}

void vm_snap_save_ram(struct vm *vm, struct snap_writer *w, struct vm_snap_stats *st, uint8_t *buf)
{
	uint64_t size = vm->mem.size, run = 0, start = 0;

	snap_section_begin(w, SNAP_RAM, 0);
	for (uint64_t off = 0; off < size; off += PAGE) {
		/* A run never crosses the hole, so each maps to one contiguous GPA range. */
		bool boundary = off == vm->mem.low_size;

		if (run && (boundary || page_is_zero(vm->mem.host + off))) {
			put_run(vm, w, start, run, buf);
			st->ram_bytes += run;
			run = 0;
		}
		if (!page_is_zero(vm->mem.host + off)) {
			if (!run)
				start = off;
			run += PAGE;
		}
	}
	if (run) {
		put_run(vm, w, start, run, buf);
		st->ram_bytes += run;
	}
	snap_section_end(w);
	st->ram_total = size;
}

void vm_snap_save_config(struct vm *vm, struct snap_writer *w)
{
	uint64_t mem = vm->mem.size;
	uint32_t ncpus = (uint32_t)vm->ncpus, nr_mmio = (uint32_t)vm->nr_mmio;
	uint8_t pvm = vm->cfg.pvm_workarounds, initrd_idle = vm->initrd_idle;

	snap_section_begin(w, SNAP_CONF, 0);
	snap_field(w, CONF_MEM, &mem, sizeof(mem));
	snap_field(w, CONF_NCPUS, &ncpus, sizeof(ncpus));
	field_str(w, CONF_KERNEL, vm->kernel_path ? vm->kernel_path : vm->cfg.kernel);
	field_str(w, CONF_INITRD, vm->initrd_path ? vm->initrd_path : vm->cfg.initrd);
	field_str(w, CONF_CMDLINE, vm->cmdline);
	snap_field(w, CONF_PVM, &pvm, sizeof(pvm));
	snap_field(w, CONF_NR_MMIO, &nr_mmio, sizeof(nr_mmio));
	field_str(w, CONF_VERSION, VMDBG_VERSION);
	snap_field(w, CONF_INITRD_IDLE, &initrd_idle, sizeof(initrd_idle));
	field_str(w, CONF_KERNEL_ID, vm->kernel_id[0] ? vm->kernel_id : NULL);
	snap_section_end(w);

	snap_section_begin(w, SNAP_CPUID, 0);
	snap_field(w, VM_SNAP_ONE_FIELD, vm->cpuid,
		   (uint32_t)(sizeof(*vm->cpuid) + vm->cpuid->nent * sizeof(vm->cpuid->entries[0])));
	snap_section_end(w);
}

static int save_machine(struct vm *vm, struct snap_writer *w)
{
	struct kvm_irqchip chip[3];
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock = { 0 };

	for (int i = 0; i < 3; i++) {
		chip[i] = (struct kvm_irqchip){ .chip_id = (uint32_t)i };
		if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &chip[i]) < 0)
			return -errno;
	}
	if (ioctl(vm->vm_fd, KVM_GET_PIT2, &pit) < 0 || ioctl(vm->vm_fd, KVM_GET_CLOCK, &clock) < 0)
		return -errno;
	snap_section_begin(w, SNAP_IRQCHIP, 0);
	for (int i = 0; i < 3; i++)
		snap_field(w, IRQC_PIC_MASTER + i, &chip[i], sizeof(chip[i]));
	snap_section_end(w);
	snap_section_begin(w, SNAP_PIT, 0);
	snap_field(w, VM_SNAP_ONE_FIELD, &pit, sizeof(pit));
	snap_section_end(w);
	snap_section_begin(w, SNAP_CLOCK, 0);
	snap_field(w, VM_SNAP_ONE_FIELD, &clock, sizeof(clock));
	snap_section_end(w);
	for (int i = 0; i < 2; i++) {
		struct uart_state us;

		uart_get_state(i ? vm->com2 : vm->com1, &us);
		snap_section_begin(w, SNAP_UART, (uint32_t)i);
		snap_field(w, VM_SNAP_ONE_FIELD, &us, sizeof(us));
		snap_section_end(w);
	}
	return 0;
}

static int save_state(struct vm *vm, struct snap_writer *w, struct vm_snap_stats *st, bool ram,
		      char *err, size_t errlen)
{
	struct kvm_msr_list *ml = msr_index_list(vm);
	struct kvm_msr_entry *msrs = ml ? calloc(ml->nmsrs, sizeof(*msrs)) : NULL;
	uint8_t *buf = malloc(RAM_CHUNK);
	int r = 0;

	memset(st, 0, sizeof(*st));
	if (!buf || (ml && !msrs)) {
		r = fail(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	vm_snap_save_config(vm, w);
	for (int i = 0; i < vm->ncpus && !r; i++)
		if ((r = save_vcpu(vm, i, w, ml, msrs, &st->msrs)))
			fail(err, errlen, r, "cannot read vCPU %d's state: %s", i, strerror(-r));
	if (!r && (r = save_machine(vm, w)))
		fail(err, errlen, r, "cannot read the irqchip, PIT or clock: %s", strerror(-r));
	if (!r && ram)
		vm_snap_save_ram(vm, w, st, buf);
	if (!r && w->err)
		r = fail(err, errlen, w->err, "cannot write the snapshot: %s", strerror(-w->err));
out:
	free(buf);
	free(msrs);
	free(ml);
	return r;
}

int vm_snap_save(struct vm *vm, struct snap_writer *w, struct vm_snap_stats *st, char *err,
		 size_t errlen)
{
	return save_state(vm, w, st, true, err, errlen);
}

int vm_snap_save_power_on(struct vm *vm, struct snap_writer *w, char *err, size_t errlen)
{
	struct vm_snap_stats st;

	return save_state(vm, w, &st, false, err, errlen);
}

/* --- checking -------------------------------------------------------------------- */

static void get_str(const struct snap_section *s, uint32_t key, char *dst, size_t size)
{
	uint32_t len;
	const char *p = snap_get(s, key, &len);

	dst[0] = 0;
	if (p)
		snprintf(dst, size, "%.*s", (int)len, p);
}

int vm_snap_read_config(const struct snap_file *f, struct vm_snap_config *cfg, char *err,
			size_t errlen)
{
	const struct snap_section *s = snap_find(f, SNAP_CONF, 0);
	uint8_t pvm = 1, initrd_idle = 0;

	memset(cfg, 0, sizeof(*cfg));
	if (!s || !snap_fields_ok(s))
		return fail(err, errlen, -EINVAL, "the snapshot has no machine configuration");
	if (snap_get_exact(s, CONF_MEM, &cfg->mem_size, sizeof(cfg->mem_size)) ||
	    snap_get_exact(s, CONF_NCPUS, &cfg->ncpus, sizeof(cfg->ncpus)) ||
	    snap_get_exact(s, CONF_NR_MMIO, &cfg->nr_mmio, sizeof(cfg->nr_mmio)))
		return fail(err, errlen, -EINVAL, "the snapshot's configuration lacks memory size, "
			    "vCPU count or device count");
	if (cfg->mem_size < (1ULL << 20) || cfg->mem_size > (1ULL << 40) || cfg->mem_size % PAGE)
		return fail(err, errlen, -EINVAL, "the snapshot's memory size %llu is not valid",
			    (unsigned long long)cfg->mem_size);
	if (cfg->ncpus < 1 || cfg->ncpus > VM_MAX_CPUS)
		return fail(err, errlen, -EINVAL, "the snapshot's vCPU count %u is not valid",
			    cfg->ncpus);
	if (cfg->nr_mmio > ACPI_MAX_MMIO_DEVS)
		return fail(err, errlen, -EINVAL, "the snapshot's device count %u is not valid",
			    cfg->nr_mmio);
	snap_get_exact(s, CONF_PVM, &pvm, sizeof(pvm));
	cfg->pvm_workarounds = pvm;
	/* Older snapshots lack it: a reboot after restoring one loads the initrd alone. */
	snap_get_exact(s, CONF_INITRD_IDLE, &initrd_idle, sizeof(initrd_idle));
	cfg->initrd_idle = initrd_idle;
	get_str(s, CONF_KERNEL, cfg->kernel, sizeof(cfg->kernel));
	get_str(s, CONF_INITRD, cfg->initrd, sizeof(cfg->initrd));
	get_str(s, CONF_CMDLINE, cfg->cmdline, sizeof(cfg->cmdline));
	get_str(s, CONF_VERSION, cfg->version, sizeof(cfg->version));
	/* Older snapshots lack it: their kernel is not checked. */
	get_str(s, CONF_KERNEL_ID, cfg->kernel_id, sizeof(cfg->kernel_id));
	return 0;
}

/* Field KEY of S must be LEN bytes (MIN_ONLY: at least LEN). */
static bool has_field(const struct snap_section *s, uint32_t key, uint32_t len, bool min_only)
{
	uint32_t have;

	if (!snap_get(s, key, &have))
		return false;
	return min_only ? have >= len : have == len;
}

int vm_snap_check_ram(struct vm *vm, const struct snap_section *s, char *err, size_t errlen)
{
	uint64_t off = 0, prev_end = 0;

	while (off < s->length) {
		uint64_t h[2];

		if (s->length - off < sizeof(h))
			return fail(err, errlen, -EINVAL, "the snapshot's RAM section is cut in a run header");
		memcpy(h, s->data + off, sizeof(h));
		off += sizeof(h);
		if (h[0] % PAGE || h[1] % PAGE || h[1] == 0 || h[0] < prev_end ||
		    h[0] > vm->mem.size || h[1] > vm->mem.size - h[0] || h[1] > s->length - off ||
		    (h[0] < vm->mem.low_size && h[0] + h[1] > vm->mem.low_size))
			return fail(err, errlen, -EINVAL,
				    "the snapshot's RAM section has a bad run (offset 0x%llx, %llu bytes)",
				    (unsigned long long)h[0], (unsigned long long)h[1]);
		prev_end = h[0] + h[1];
		off += h[1];
	}
	return 0;
}

int vm_snap_check(struct vm *vm, const struct snap_file *f, char *err, size_t errlen)
{
	struct vm_snap_config cfg;
	const struct snap_section *s;
	uint32_t len;
	const void *cpuid;
	struct kvm_cpuid2 head;
	int r = vm_snap_read_config(f, &cfg, err, errlen);

	if (r)
		return r;
	if (cfg.mem_size != vm->mem.size || (int)cfg.ncpus != vm->ncpus ||
	    (int)cfg.nr_mmio != vm->nr_mmio)
		return fail(err, errlen, -EINVAL,
			    "the snapshot is of another machine (%llu MiB, %u vCPUs, %u devices; this "
			    "one has %llu MiB, %d vCPUs, %d devices)",
			    (unsigned long long)(cfg.mem_size >> 20), cfg.ncpus, cfg.nr_mmio,
			    (unsigned long long)(vm->mem.size >> 20), vm->ncpus, vm->nr_mmio);
	/* Another kernel's RAM under this session's symbols (and --reboot) would mislead. */
	if (vm->kernel_id[0] && cfg.kernel_id[0] && strcmp(vm->kernel_id, cfg.kernel_id))
		return fail(err, errlen, -EINVAL,
			    "the snapshot was saved with another kernel: %s (%s); this session's "
			    "kernel %s has %s", cfg.kernel[0] ? cfg.kernel : "?", cfg.kernel_id,
			    vm->kernel_path ? vm->kernel_path : "?", vm->kernel_id);
	s = snap_find(f, SNAP_CPUID, 0);
	cpuid = s ? snap_get(s, VM_SNAP_ONE_FIELD, &len) : NULL;
	if (cpuid && len >= sizeof(head))
		memcpy(&head, cpuid, sizeof(head)); /* fields sit at any offset in the file */
	if (!cpuid || len < sizeof(head) || head.nent > 4096 ||
	    len != sizeof(head) + head.nent * sizeof(head.entries[0]))
		return fail(err, errlen, -EINVAL, "the snapshot's CPUID table is missing or malformed");
	for (int i = 0; i < vm->ncpus; i++) {
		s = snap_find(f, SNAP_VCPU, (uint32_t)i);
		if (!s || !snap_fields_ok(s) ||
		    !has_field(s, VM_SNAP_VCPU_REGS, sizeof(struct kvm_regs), false) ||
		    !has_field(s, VM_SNAP_VCPU_SREGS, sizeof(struct kvm_sregs), false) ||
		    !has_field(s, VM_SNAP_VCPU_MP_STATE, sizeof(struct kvm_mp_state), false) ||
		    !has_field(s, VM_SNAP_VCPU_LAPIC, sizeof(struct kvm_lapic_state), false) ||
		    !has_field(s, VM_SNAP_VCPU_EVENTS, sizeof(struct kvm_vcpu_events), false) ||
		    !has_field(s, VM_SNAP_VCPU_DEBUGREGS, sizeof(struct kvm_debugregs), false))
			return fail(err, errlen, -EINVAL,
				    "the snapshot's state of vCPU %d is missing or malformed", i);
		if (snap_get(s, VM_SNAP_VCPU_XSAVE, &len) && len != xsave_size(vm))
			return fail(err, errlen, -EINVAL,
				    "the snapshot's XSAVE area of vCPU %d is %u bytes, this KVM uses %zu",
				    i, len, xsave_size(vm));
		if (snap_get(s, VM_SNAP_VCPU_MSRS, &len) && len % sizeof(struct kvm_msr_entry))
			return fail(err, errlen, -EINVAL, "the snapshot's MSRs of vCPU %d are malformed", i);
	}
	s = snap_find(f, SNAP_IRQCHIP, 0);
	for (int i = 0; i < 3; i++)
		if (!s || !has_field(s, IRQC_PIC_MASTER + i, sizeof(struct kvm_irqchip), false))
			return fail(err, errlen, -EINVAL, "the snapshot's irqchip state is missing or malformed");
	if (!has_field(snap_find(f, SNAP_PIT, 0), VM_SNAP_ONE_FIELD, sizeof(struct kvm_pit_state2), false) ||
	    !has_field(snap_find(f, SNAP_CLOCK, 0), VM_SNAP_ONE_FIELD, sizeof(struct kvm_clock_data), false))
		return fail(err, errlen, -EINVAL, "the snapshot's PIT or clock state is missing or malformed");
	for (int i = 0; i < 2; i++) {
		struct uart_state u;
		const struct uart_state *us = &u;

		s = snap_find(f, SNAP_UART, (uint32_t)i);
		if (!s || snap_get_exact(s, VM_SNAP_ONE_FIELD, &u, sizeof(u)) || us->rx_head >= 16 ||
		    us->rx_count > 16 || us->q_head >= UART_RX_QUEUE || us->q_count > UART_RX_QUEUE ||
		    us->irq_level > 1)
			return fail(err, errlen, -EINVAL, "the snapshot's COM%d state is missing or malformed",
				    i + 1);
	}
	s = snap_find(f, SNAP_RAM, 0);
	if (!s)
		return fail(err, errlen, -EINVAL, "the snapshot has no RAM section");
	return vm_snap_check_ram(vm, s, err, errlen);
}

/* --- restoring -------------------------------------------------------------------- */

void vm_snap_restore_ram(struct vm *vm, const struct snap_section *s)
{
	uint64_t off = 0;

	/* Every page not in the file is zero: drop them all, then copy the runs. */
	if (vm->mem.owned)
		madvise(vm->mem.host, vm->mem.size, MADV_DONTNEED);
	else
		memset(vm->mem.host, 0, vm->mem.size);
	while (off < s->length) {
		uint64_t h[2];

		memcpy(h, s->data + off, sizeof(h));
		off += sizeof(h);
		memcpy(vm->mem.host + h[0], s->data + off, h[1]);
		off += h[1];
	}
}

static int vcpu_set(int fd, unsigned long req, const struct snap_section *s, uint32_t key)
{
	uint32_t len;
	const void *p = snap_get(s, key, &len);

	if (!p)
		return 0;
	/* KVM does not write through these pointers; the copy keeps the mapping read-only. */
	{
		void *copy = malloc(len);
		int r;

		if (!copy)
			return -ENOMEM;
		memcpy(copy, p, len);
		if (key == VM_SNAP_VCPU_EVENTS) {
			struct kvm_vcpu_events *ev = copy;

			ev->flags |= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR;
		}
		r = ioctl(fd, req, copy) < 0 ? -errno : 0;
		free(copy);
		return r;
	}
}

static int restore_vcpu_with(struct vm *vm, int cpu, const struct snap_section *s,
			     const struct kvm_msr_entry *msrs, unsigned nmsrs, const char **what)
{
	int fd = vm->vcpus[cpu].fd, r;
	static const struct {
		uint32_t key;
		unsigned long req;
		const char *name;
	} order[] = {
		{ VM_SNAP_VCPU_REGS, KVM_SET_REGS, "registers" },
		{ VM_SNAP_VCPU_XSAVE, KVM_SET_XSAVE, "XSAVE area" },
		{ VM_SNAP_VCPU_FPU, KVM_SET_FPU, "FPU" },
		{ VM_SNAP_VCPU_XCRS, KVM_SET_XCRS, "XCRs" },
		{ VM_SNAP_VCPU_SREGS, KVM_SET_SREGS, "segment and control registers" },
		{ VM_SNAP_VCPU_MSRS, 0, "MSRs" },
		{ VM_SNAP_VCPU_MP_STATE, KVM_SET_MP_STATE, "MP state" },
		{ VM_SNAP_VCPU_LAPIC, KVM_SET_LAPIC, "LAPIC" },
		{ VM_SNAP_VCPU_EVENTS, KVM_SET_VCPU_EVENTS, "pending events" },
		{ VM_SNAP_VCPU_DEBUGREGS, KVM_SET_DEBUGREGS, "debug registers" },
	};

	if (!vm_vcpu_stopped(vm, cpu))
		return -EBUSY;

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		*what = order[i].name;
		if (order[i].key == VM_SNAP_VCPU_MSRS) {
			r = msrs ? set_msrs(vm, fd, msrs, nmsrs, cpu) : 0;
		} else {
			r = vcpu_set(fd, order[i].req, s, order[i].key);
		}
		if (r)
			return r;
	}
	*what = "TSC deadline";
	return msrs ? restore_tsc_deadline(fd, msrs, nmsrs, cpu) : 0;
}

static int restore_vcpu(struct vm *vm, int cpu, const struct snap_section *s, const char **what)
{
	uint32_t len;
	const void *field = snap_get(s, VM_SNAP_VCPU_MSRS, &len);
	unsigned n = field ? len / sizeof(struct kvm_msr_entry) : 0;
	/* Fields sit at any offset in the file: the entries are read from an aligned copy. */
	struct kvm_msr_entry *msrs = n ? malloc(n * sizeof(*msrs)) : NULL;
	int r;

	if (n && !msrs)
		return -ENOMEM;
	if (n)
		memcpy(msrs, field, n * sizeof(*msrs));
	r = restore_vcpu_with(vm, cpu, s, msrs, n, what);
	free(msrs);
	return r;
}

/* CLOCK: false for a reboot, where the guest's time goes on. */
static int restore_machine(struct vm *vm, const struct snap_file *f, bool with_clock,
			   const char **what)
{
	const struct snap_section *s = snap_find(f, SNAP_IRQCHIP, 0);
	struct kvm_irqchip chip;
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;

	*what = "irqchip";
	for (int i = 0; i < 3; i++) {
		snap_get_exact(s, IRQC_PIC_MASTER + i, &chip, sizeof(chip));
		if (chip.chip_id != (uint32_t)i || ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &chip) < 0)
			return chip.chip_id != (uint32_t)i ? -EINVAL : -errno;
	}
	*what = "PIT";
	snap_get_exact(snap_find(f, SNAP_PIT, 0), VM_SNAP_ONE_FIELD, &pit, sizeof(pit));
	if (ioctl(vm->vm_fd, KVM_SET_PIT2, &pit) < 0)
		return -errno;
	*what = "kvmclock";
	if (!with_clock)
		goto uarts;
	snap_get_exact(snap_find(f, SNAP_CLOCK, 0), VM_SNAP_ONE_FIELD, &clock, sizeof(clock));
	/* Only the value: the host-time fields describe the saving host's clock. */
	clock = (struct kvm_clock_data){ .clock = clock.clock };
	if (ioctl(vm->vm_fd, KVM_SET_CLOCK, &clock) < 0)
		return -errno;
uarts:
	*what = "UARTs";
	for (int i = 0; i < 2; i++) {
		struct uart_state us;

		snap_get_exact(snap_find(f, SNAP_UART, (uint32_t)i), VM_SNAP_ONE_FIELD, &us, sizeof(us));
		if (uart_set_state(i ? vm->com2 : vm->com1, &us))
			return -EINVAL;
	}
	return 0;
}

static int set_cpuid(struct vm *vm, const struct snap_file *f)
{
	uint32_t len;
	const void *p = snap_get(snap_find(f, SNAP_CPUID, 0), VM_SNAP_ONE_FIELD, &len);
	struct kvm_cpuid2 *c = malloc(len);

	if (!c)
		return -ENOMEM;
	memcpy(c, p, len);
	free(vm->cpuid);
	vm->cpuid = c;
	return 0;
}

static int restore_cpus_and_machine(struct vm *vm, const struct snap_file *f, bool with_clock,
				    char *err, size_t errlen)
{
	const char *what = "";
	int r;

	for (int i = 0; i < vm->ncpus; i++) {
		r = restore_vcpu(vm, i, snap_find(f, SNAP_VCPU, (uint32_t)i), &what);
		if (r)
			return fail(err, errlen, r, "cannot restore vCPU %d's %s: %s", i, what,
				    strerror(-r));
	}
	r = restore_machine(vm, f, with_clock, &what);
	if (r)
		return fail(err, errlen, r, "cannot restore the %s: %s", what, strerror(-r));
	return 0;
}

int vm_snap_restore_power_on(struct vm *vm, const struct snap_file *f, char *err, size_t errlen)
{
	return restore_cpus_and_machine(vm, f, false, err, errlen);
}

int vm_snap_restore(struct vm *vm, const struct snap_file *f, char *err, size_t errlen)
{
	int r;

	vm_snap_restore_ram(vm, snap_find(f, SNAP_RAM, 0));
	r = restore_cpus_and_machine(vm, f, true, err, errlen);
	if (r)
		return r;
	/* Breakpoints survive a load: put the int3 bytes back over the new RAM. */
	debug_reinsert_sw(vm);
	return 0;
}

int vm_restore_load(struct vm *vm, const struct snap_file *f, char *err, size_t errlen)
{
	struct vm_snap_config cfg;
	int r = vm_snap_check(vm, f, err, errlen);

	if (r)
		return r;
	vm_snap_read_config(f, &cfg, err, errlen);
	free(vm->cmdline);
	vm->cmdline = strdup(cfg.cmdline);
	if (!vm->cmdline)
		return fail(err, errlen, -ENOMEM, "out of memory");
	vm->initrd_idle = cfg.initrd_idle;
	/* The caller checked cfg.kernel against the id (cli/snapshot.c); an older file has none. */
	snprintf(vm->kernel_id, sizeof(vm->kernel_id), "%s", cfg.kernel_id);
	vm_note_kernel(vm, cfg.kernel);
	if (vm->cfg.kernel)
		vm_load_symbols(vm);
	r = set_cpuid(vm, f);
	if (r)
		return fail(err, errlen, r, "out of memory");
	r = vm_create_vcpus(vm, true, err, errlen);
	if (r)
		return r;
	return vm_snap_restore(vm, f, err, errlen);
}
