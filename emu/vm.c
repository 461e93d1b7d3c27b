/* The KVM VM: RAM, irqchip, PIT, devices, boot, pause/resume and the end of the run. */
#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cpuid.h"
#include "debug.h"
#include "initrd_idle.h"
#include "kvm_probe.h"
#include "layout.h"
#include "log.h"
#include "profile.h"
#include "vm_reboot.h"

#define KVM_TSS_ADDR 0xfffbd000UL
#define KVM_IDENTITY_MAP_ADDR 0xfffbc000UL
#define CONSOLE_OUT_CAP (1u << 20)

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

uint64_t vm_uptime_ns(const struct vm *vm)
{
	return now_ns() - vm->start_ns;
}

static int kvm_ioctl_retry(int fd, unsigned long req, unsigned long arg)
{
	int r;

	do
		r = ioctl(fd, req, arg);
	while (r < 0 && errno == EINTR);
	return r;
}

/* --- devices on the buses --------------------------------------------- */

static void com_set_irq(void *opaque, int level, int gsi)
{
	struct vm *vm = opaque;
	struct kvm_irq_level irq = { .irq = gsi, .level = level };

	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		log_warn("KVM_IRQ_LINE %d: %s", gsi, strerror(errno));
}

static void com1_set_irq(void *opaque, int level)
{
	com_set_irq(opaque, level, LAYOUT_COM1_IRQ);
}

static void com2_set_irq(void *opaque, int level)
{
	com_set_irq(opaque, level, LAYOUT_COM2_IRQ);
}

static void com1_tx(void *opaque, uint8_t byte)
{
	struct vm *vm = opaque;

	hostbuf_put(&vm->console_out, &byte, 1);
}

static void com2_tx(void *opaque, uint8_t byte)
{
	struct vm *vm = opaque;

	if (vm->com2_fd >= 0 && write(vm->com2_fd, &byte, 1) < 0)
		log_warn("COM2 output: %s", strerror(errno));
}

static const struct uart_host_ops com1_ops = { .tx = com1_tx, .set_irq = com1_set_irq };
static const struct uart_host_ops com2_ops = { .tx = com2_tx, .set_irq = com2_set_irq };

static void pm_event(void *opaque, enum pm_event ev)
{
	struct vm *vm = opaque;

	if (ev == PM_POWEROFF)
		vm_end(vm, VM_END_POWEROFF, "guest powered off (ACPI S5)");
	else if (vm->cfg.reboot)
		vm_reboot_request(vm);
	else
		vm_end(vm, VM_END_POWEROFF, "guest asked for a reboot (ACPI reset register); "
		       "vmdbg ends the run instead (--reboot boots it again)");
}

/* --- creation ----------------------------------------------------------- */

static int set_err(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return ret;
}

/* One KVM memory slot over part of the host mapping. */
static int set_region(struct vm *vm, uint32_t slot, uint64_t gpa, uint64_t size, uint8_t *host)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)host,
	};

	return ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0 ? -errno : 0;
}

static int setup_memory(struct vm *vm, char *err, size_t errlen)
{
	int r = gm_init(&vm->mem, vm->cfg.mem_size);

	if (r)
		return set_err(err, errlen, r, "cannot map %llu bytes of guest RAM: %s",
			       (unsigned long long)vm->cfg.mem_size, strerror(-r));
	r = set_region(vm, 0, 0, vm->mem.low_size, vm->mem.host);
	if (r)
		return set_err(err, errlen, r, "KVM_SET_USER_MEMORY_REGION (low RAM): %s",
			       strerror(-r));
	if (gm_high_size(&vm->mem)) {
		r = set_region(vm, 1, LAYOUT_RAM_HIGH_START, gm_high_size(&vm->mem),
			       vm->mem.host + vm->mem.low_size);
		if (r)
			return set_err(err, errlen, r,
				       "KVM_SET_USER_MEMORY_REGION (RAM above 4 GiB): %s",
				       strerror(-r));
	}
	return 0;
}

/* KVM's paravirtual feature leaf (Documentation/virt/kvm/x86/cpuid.rst). */
#define KVM_CPUID_FEATURES 0x40000001
#define KVM_FEATURE_PV_UNHALT 7
#define KVM_FEATURE_PV_SEND_IPI 11
#define KVM_FEATURE_PV_SCHED_YIELD 13

/*
 * Measured here: on PVM a vCPU that issues KVM_HC_SEND_IPI never comes back
 * (Linux hangs bringing up its second CPU). Without these features the guest
 * sends IPIs through the APIC and waits with plain spinning, which PVM runs.
 */
static void hide_pvm_hypercalls(struct kvm_cpuid2 *cpuid)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(cpuid, KVM_CPUID_FEATURES, 0);

	if (!e)
		return;
	e->eax &= ~((1u << KVM_FEATURE_PV_UNHALT) | (1u << KVM_FEATURE_PV_SEND_IPI) |
		    (1u << KVM_FEATURE_PV_SCHED_YIELD));
	log_info("hiding KVM's PV send-IPI, sched-yield and unhalt hypercalls from the guest: "
		 "on PVM a vCPU issuing them hangs (--no-pvm-workarounds to keep them)");
}

/* CPUID 0x80000007 EDX bit 8: the TSC runs at a constant rate in every state (Intel SDM). */
#define CPUID_APM_FEATURES 0x80000007
#define CPUID_APM_EDX_INVARIANT_TSC 8

/*
 * Measured here: on PVM a guest's TSC is the host's and cannot be moved, so after a
 * snapshot restore it is ahead by however long the file waited. Linux prefers the TSC
 * to kvm-clock when the TSC is invariant, and a restored Linux then saw its clock jump
 * by minutes (RCU stall reports, every timer due at once). Without the bit it keeps
 * kvm-clock, whose value a restore sets (KVM_SET_CLOCK).
 */
static void hide_invariant_tsc(struct kvm_cpuid2 *cpuid)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(cpuid, CPUID_APM_FEATURES, 0);

	if (!e || !(e->edx & (1u << CPUID_APM_EDX_INVARIANT_TSC)))
		return;
	e->edx &= ~(1u << CPUID_APM_EDX_INVARIANT_TSC);
	log_info("hiding the invariant TSC from the guest: on PVM the TSC cannot be restored, so "
		 "Linux keeps kvm-clock and a restored guest's clock does not jump "
		 "(--no-pvm-workarounds to keep it)");
}

static int setup_cpuid(struct vm *vm, char *err, size_t errlen)
{
	int nent = 256;

	for (;;) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));

		if (!c)
			return -ENOMEM;
		c->nent = nent;
		if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			vm->cpuid = c;
			break;
		}
		free(c);
		if (errno != E2BIG)
			return set_err(err, errlen, -errno, "KVM_GET_SUPPORTED_CPUID: %s",
				       strerror(errno));
		nent *= 2;
	}
	cpuid_complete(vm->cpuid,
		       ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0);
	if (vm->cfg.cpuid_filter)
		return cpuid_filter(vm->cpuid, vm->cfg.cpuid_filter, err, errlen);
	return 0;
}

static int setup_devices(struct vm *vm, char *err, size_t errlen)
{
	int r;

	r = hostbuf_init(&vm->console_out, CONSOLE_OUT_CAP);
	if (r)
		return set_err(err, errlen, r, "console buffer: %s", strerror(-r));
	vm->com1 = uart_create("COM1", &com1_ops, vm);
	vm->com2 = uart_create("COM2", &com2_ops, vm);
	if (!vm->com1 || !vm->com2)
		return set_err(err, errlen, -ENOMEM, "cannot create the UARTs");
	vm->com2_fd = -1;
	if (vm->cfg.serial2_path) {
		vm->com2_fd = open(vm->cfg.serial2_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (vm->com2_fd < 0)
			return set_err(err, errlen, -errno, "--serial2 file:%s: %s",
				       vm->cfg.serial2_path, strerror(errno));
	}
	vm->pm.event = pm_event;
	vm->pm.opaque = vm;
	vm->pio.name = "pio";
	vm->mmio.name = "mmio";
	bus_register(&vm->pio, LAYOUT_COM1, 8, &uart_bus_ops, vm->com1, "COM1");
	bus_register(&vm->pio, LAYOUT_COM2, 8, &uart_bus_ops, vm->com2, "COM2");
	bus_register(&vm->pio, LAYOUT_PM_SLEEP_CONTROL, 3, &pm_ops, &vm->pm, "ACPI PM");
	return 0;
}

/*
 * GSI routing as on a PC (and as QEMU sets it): the MADT tells the guest that ISA IRQ0, the
 * PIT, arrives at GSI 2, but KVM's default table sends GSI 0 to IOAPIC pin 0. So GSI 0 goes
 * to PIC pin 0 and IOAPIC pin 2, GSI 2 (the PIC cascade) nowhere, every other GSI below 16
 * to its PIC and IOAPIC pins, 16 to 23 to the IOAPIC alone.
 */
static int setup_irq_routing(struct vm *vm)
{
	enum { ISA_IRQS = 16, IOAPIC_PINS = 24 };
	struct {
		struct kvm_irq_routing hdr;
		struct kvm_irq_routing_entry e[ISA_IRQS + IOAPIC_PINS];
	} r;
	unsigned n = 0;

	memset(&r, 0, sizeof(r));
	for (unsigned gsi = 0; gsi < IOAPIC_PINS; gsi++) {
		if (gsi == 2)
			continue;
		if (gsi < ISA_IRQS)
			r.e[n++] = (struct kvm_irq_routing_entry){
				.gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
				.u.irqchip = { .irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER
								 : KVM_IRQCHIP_PIC_SLAVE,
					       .pin = gsi % 8 } };
		r.e[n++] = (struct kvm_irq_routing_entry){
			.gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = { .irqchip = KVM_IRQCHIP_IOAPIC, .pin = gsi ? gsi : 2 } };
	}
	r.hdr.nr = n;
	return ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, &r) < 0 ? -errno : 0;
}

static bool on_pvm(void)
{
	struct stat st;

	return stat("/sys/module/kvm_pvm", &st) == 0;
}

static void sig_kick(int sig)
{
	/* Only interrupts KVM_RUN; immediate_exit carries the request. */
}

int vm_create(struct vm *vm, const struct vm_config *cfg, char *err, size_t errlen)
{
	struct sigaction sa = { .sa_handler = sig_kick };
	int r;

	memset(vm, 0, sizeof(*vm));
	vm->cfg = *cfg;
	vm->kvm_fd = vm->vm_fd = vm->event_fd = -1;
	vm->com2_fd = -1;
	vm->end_status = VM_END_NONE;
	vm->start_ns = now_ns();
	pthread_mutex_init(&vm->lock, NULL);
	{
		/* vm_wait_parked's bound is on the monotonic clock. */
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&vm->cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	symtab_init(&vm->syms);
	vm->ncpus = cfg->ncpus;
	vm->on_pvm = on_pvm();
	sigaction(SIGUSR1, &sa, NULL);

	vm->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return set_err(err, errlen, -errno, "cannot open /dev/kvm: %s", strerror(errno));
	if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		return set_err(err, errlen, -ENOTSUP, "/dev/kvm: unsupported KVM API version");
	vm->vm_fd = kvm_ioctl_retry(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return set_err(err, errlen, -errno, "KVM_CREATE_VM: %s", strerror(errno));
	vm->run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->run_size <= 0)
		return set_err(err, errlen, -errno, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_ADDR) < 0)
		log_debug("KVM_SET_TSS_ADDR: %s", strerror(errno));
	{
		__u64 idmap = KVM_IDENTITY_MAP_ADDR;

		if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0)
			log_debug("KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return set_err(err, errlen, -errno, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
	r = setup_irq_routing(vm);
	if (r)
		return set_err(err, errlen, r, "KVM_SET_GSI_ROUTING: %s", strerror(-r));
	{
		struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };

		if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
			return set_err(err, errlen, -errno, "KVM_CREATE_PIT2: %s", strerror(errno));
	}
	r = setup_memory(vm, err, errlen);
	if (!r)
		r = setup_cpuid(vm, err, errlen);
	if (!r)
		r = setup_devices(vm, err, errlen);
	return r;
}

int vm_add_mmio_device(struct vm *vm, const struct bus_dev_ops *ops, void *opaque,
		       const char *name, int *irqfd)
{
	struct vm_mmio_dev *d;
	struct kvm_irqfd kirq = { 0 };
	int r;

	if (vm->nr_mmio == ACPI_MAX_MMIO_DEVS)
		return -ENOSPC;
	d = &vm->mmio_devs[vm->nr_mmio];
	d->base = LAYOUT_MMIO_START + vm->nr_mmio * LAYOUT_MMIO_WINDOW;
	d->size = LAYOUT_MMIO_WINDOW;
	d->gsi = LAYOUT_CONSOLE_GSI + vm->nr_mmio;
	d->irqfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (d->irqfd < 0)
		return -errno;
	kirq.fd = d->irqfd;
	kirq.gsi = d->gsi;
	if (ioctl(vm->vm_fd, KVM_IRQFD, &kirq) < 0) {
		r = -errno;
		close(d->irqfd);
		return r;
	}
	r = bus_register(&vm->mmio, d->base, d->size, ops, opaque, name);
	if (r) {
		close(d->irqfd);
		return r;
	}
	*irqfd = d->irqfd;
	return vm->nr_mmio++;
}

/* --- the kernel command line --------------------------------------------- */

/* A Linux kernel: a bzImage, or an ELF whose bytes carry the version banner. */
static bool kernel_is_linux(const char *path)
{
	struct stat st;
	bool is_linux = false;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	void *p;

	if (fd < 0)
		return false;
	if (fstat(fd, &st) == 0 && st.st_size > 0x210) {
		p = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p != MAP_FAILED) {
			is_linux = !memcmp((char *)p + 0x202, "HdrS", 4) ||
				memmem(p, st.st_size, "Linux version ", 14) != NULL;
			munmap(p, st.st_size);
		}
	}
	close(fd);
	return is_linux;
}

static bool cmdline_has(const char *cmdline, const char *key)
{
	size_t len = strlen(key);

	for (const char *p = cmdline; (p = strstr(p, key)); p += len)
		if (p == cmdline || p[-1] == ' ')
			return true;
	return false;
}

static void cmdline_add(char **cmdline, const char *word, const char *why)
{
	char *n;

	if (asprintf(&n, "%s%s%s", *cmdline, **cmdline ? " " : "", word) < 0)
		return;
	free(*cmdline);
	*cmdline = n;
	if (why)
		log_info("adding '%s' to the kernel command line: %s", word, why);
}

/* PVM runs guest kernels but not their user space (PLATFORM.md): found by running a syscall. */
static bool guest_syscall_fails(struct vm *vm)
{
	struct kvm_probe_finding f;

	if (vm->guest_syscall == VM_SYSCALL_UNPROBED) {
		if (kvm_probe_one(vm->kvm_fd, KVM_PROBE_GUEST_SYSCALL, &f)) {
			log_warn("cannot probe guest system calls (%s): assuming they work", f.why);
			f.works = true;
		}
		vm->guest_syscall = f.works ? VM_SYSCALL_WORKS : VM_SYSCALL_FAILS;
		snprintf(vm->guest_syscall_why, sizeof(vm->guest_syscall_why), "%s", f.why);
	}
	return vm->guest_syscall == VM_SYSCALL_FAILS;
}

static char *build_cmdline(struct vm *vm)
{
	char *cmdline = strdup(vm->cfg.append ? vm->cfg.append : "");
	bool is_linux = kernel_is_linux(vm->cfg.kernel);

	if (!cmdline)
		return NULL;
	if (is_linux && !vm->cfg.append)
		cmdline_add(&cmdline, "console=ttyS0", NULL);
	if (vm->cfg.virtio_cmdline) {
		for (int i = 0; i < vm->nr_mmio; i++) {
			char word[96];

			snprintf(word, sizeof(word), "virtio_mmio.device=4K@0x%llx:%u",
				 (unsigned long long)vm->mmio_devs[i].base, vm->mmio_devs[i].gsi);
			cmdline_add(&cmdline, word, NULL);
		}
	}
	if (is_linux && vm->on_pvm && vm->cfg.pvm_workarounds && !cmdline_has(cmdline, "clearcpuid="))
		cmdline_add(&cmdline, "clearcpuid=cx16,xsave,smap,popcnt,ssse3",
			    "this KVM is PVM, whose instruction emulator lacks cmpxchg16b, "
			    "xrstor, clac, popcnt and SSE register moves (Debian's kernel "
			    "uses SSSE3 for BLAKE2s) (--no-pvm-workarounds to keep them)");
	if (is_linux && vm->cfg.pvm_workarounds && vm->cfg.initrd && !cmdline_has(cmdline, "rdinit=") &&
	    !cmdline_has(cmdline, "init=") && !cmdline_has(cmdline, "vmdbg.run=") &&
	    guest_syscall_fails(vm)) {
		char why[512];

		vm->initrd_idle = true;
		snprintf(why, sizeof(why),
			 "guest user space cannot make system calls on this KVM (probed: %s), so "
			 "PID 1 is vmdbg's own /idle, a pause loop appended to the initrd as a second "
			 "cpio archive, and the kernel stays up for the REPL and gdb "
			 "(--no-pvm-workarounds leaves both out)",
			 vm->guest_syscall_why);
		cmdline_add(&cmdline, "rdinit=/idle", why);
	}
	return cmdline;
}

/* --- boot ---------------------------------------------------------------- */

/*
 * Symbols name the instruction a crash report points at: the kernel ELF's
 * .symtab, or, for a stripped vmlinux (Debian's, cut out of its bzImage), the
 * System.map next to it.
 */
static bool file_is_elf(const char *path)
{
	char magic[4] = { 0 };
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool elf = fd >= 0 && read(fd, magic, 4) == 4 && !memcmp(magic, "\177ELF", 4);

	if (fd >= 0)
		close(fd);
	return elf;
}

void vm_load_symbols(struct vm *vm)
{
	char serr[256], *map = NULL;
	const char *slash;

	if (!vm->cfg.kernel)
		return;
	slash = strrchr(vm->cfg.kernel, '/');

	if (file_is_elf(vm->cfg.kernel) && symtab_load(&vm->syms, vm->cfg.kernel, serr, sizeof(serr)) > 0)
		return;
	if (asprintf(&map, "%.*sSystem.map", slash ? (int)(slash - vm->cfg.kernel + 1) : 0,
		     vm->cfg.kernel) < 0)
		return;
	if (access(map, R_OK) == 0 && symtab_load(&vm->syms, map, serr, sizeof(serr)) > 0)
		log_info("symbols from %s", map);
	free(map);
}

int vm_load_images(struct vm *vm, char *err, size_t errlen)
{
	struct acpi_config acpi = { .ncpus = vm->ncpus };
	struct boot_args args = { 0 };
	uint8_t *idle = NULL;
	uint64_t rsdp = 0;
	int r;

	for (int i = 0; i < vm->nr_mmio; i++) {
		acpi.mmio[i].base = vm->mmio_devs[i].base;
		acpi.mmio[i].size = vm->mmio_devs[i].size;
		acpi.mmio[i].gsi = vm->mmio_devs[i].gsi;
	}
	acpi.nr_mmio = vm->nr_mmio;
	r = acpi_build(&vm->mem, &acpi, &rsdp);
	if (r)
		return set_err(err, errlen, r, "cannot build the ACPI tables: %s", strerror(-r));

	args.kernel = vm->cfg.kernel;
	args.initrd = vm->cfg.initrd;
	args.cmdline = vm->cmdline;
	args.rsdp_gpa = rsdp;
	/* A reboot loads the initrd again, and /idle with it. */
	if (vm->initrd_idle && vm->cfg.initrd) {
		r = initrd_idle_archive(&idle, &args.initrd_append_size);
		if (r)
			return set_err(err, errlen, r, "out of memory");
		args.initrd_append = idle;
	}
	r = loader_load(&vm->mem, &args, &vm->boot, err, errlen);
	free(idle);
	return r;
}

int vm_load(struct vm *vm, char *err, size_t errlen)
{
	int r;

	vm->cmdline = build_cmdline(vm);
	if (!vm->cmdline)
		return set_err(err, errlen, -ENOMEM, "out of memory");
	r = vm_load_images(vm, err, errlen);
	if (r)
		return r;
	vm_load_symbols(vm);
	vm_note_kernel(vm, NULL);
	log_debug("kernel command line: %s", vm->cmdline);
	return 0;
}

/* realpath, or PATH as given when it cannot be resolved (a missing file). */
static char *abs_path(const char *path)
{
	char *p = realpath(path, NULL);

	return p ? p : strdup(path);
}

void vm_note_kernel(struct vm *vm, const char *saved_path)
{
	char err[256];

	free(vm->kernel_path);
	free(vm->initrd_path);
	vm->kernel_path = vm->cfg.kernel ? abs_path(vm->cfg.kernel)
			  : saved_path && saved_path[0] ? strdup(saved_path) : NULL;
	vm->initrd_path = vm->cfg.initrd ? abs_path(vm->cfg.initrd) : NULL;
	if (vm->cfg.kernel && !vm->kernel_id[0] &&
	    kernel_id(vm->cfg.kernel, vm->kernel_id, sizeof(vm->kernel_id), err, sizeof(err)))
		log_debug("%s", err);
}

int vm_create_vcpus(struct vm *vm, bool restoring, char *err, size_t errlen)
{
	int r;

	/* A restored machine gets the CPUID table it was saved with, already filtered. */
	if (!restoring && vm->on_pvm && vm->cfg.pvm_workarounds) {
		hide_pvm_hypercalls(vm->cpuid);
		hide_invariant_tsc(vm->cpuid);
	}
	for (int i = 0; i < vm->ncpus; i++) {
		r = vcpu_init(vm, i);
		if (r)
			return set_err(err, errlen, r, "cannot create vCPU %d: %s", i, strerror(-r));
	}
	/* Before any vCPU is given boot or restored state: that is what a reset goes back to. */
	return vm->cfg.reboot ? vm_reboot_prepare(vm, err, errlen) : 0;
}

int vm_start(struct vm *vm, char *err, size_t errlen)
{
	int r;

	if (!vm->vcpus[0].run) {
		r = vm_create_vcpus(vm, false, err, errlen);
		if (r)
			return r;
		r = vcpu_setup_boot(&vm->vcpus[0], &vm->boot);
		if (r)
			return set_err(err, errlen, r, "cannot set the boot vCPU's registers: %s",
				       strerror(-r));
	}
	for (int i = 0; i < vm->ncpus; i++) {
		r = pthread_create(&vm->vcpus[i].thread, NULL, vcpu_thread, &vm->vcpus[i]);
		if (r)
			return set_err(err, errlen, -r, "cannot start vCPU thread %d: %s", i,
				       strerror(r));
		vm->vcpus[i].thread_started = true;
	}
	return 0;
}

/* --- pause, resume, end -------------------------------------------------- */

void vcpu_kick(struct vcpu *vcpu)
{
	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (vcpu->thread_started)
		pthread_kill(vcpu->thread, SIGUSR1);
}

/* The first vCPU that has not parked (the caller's own thread counts as parked), or -1. */
static int first_running(struct vm *vm)
{
	struct vcpu *self = vcpu_current();

	for (int i = 0; i < vm->ncpus; i++)
		if (vm->vcpus[i].thread_started && !vm->vcpus[i].parked && &vm->vcpus[i] != self)
			return i;
	return -1;
}

static struct timespec park_deadline(void)
{
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += VM_PARK_TIMEOUT_MS / 1000;
	until.tv_nsec += (VM_PARK_TIMEOUT_MS % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	return until;
}

static int wait_parked_locked(struct vm *vm)
{
	struct timespec until = park_deadline();
	int cpu;

	while ((cpu = first_running(vm)) >= 0 && !vm->ending)
		if (pthread_cond_timedwait(&vm->cond, &vm->lock, &until) == ETIMEDOUT) {
			cpu = first_running(vm);
			break;
		}
	if (cpu < 0 || vm->ending)
		return 0;
	/* A vCPU blocked outside KVM_RUN (a device write to a stalled terminal, ...) cannot
	 * park; whoever waits goes on, and vCPU ioctls on it are refused (vm_vcpu_ioctl). */
	log_warn("vCPU %d did not stop within %d ms (it is %s): going on without it", cpu,
		 VM_PARK_TIMEOUT_MS,
		 __atomic_load_n(&vm->vcpus[cpu].in_run, __ATOMIC_RELAXED)
			 ? "in KVM_RUN"
			 : "handling an exit, e.g. a device waiting for its backend");
	return -ETIMEDOUT;
}

int vm_wait_parked(struct vm *vm)
{
	int r;

	pthread_mutex_lock(&vm->lock);
	r = wait_parked_locked(vm);
	pthread_mutex_unlock(&vm->lock);
	return r;
}

int vm_pause(struct vm *vm)
{
	vm_request_pause(vm);
	return vm_wait_parked(vm);
}

void vm_set_io_trace(struct vm *vm, vm_io_trace_fn fn, void *opaque)
{
	/* The opaque pointer is published before the hook that reads it. */
	if (fn)
		__atomic_store_n(&vm->io_trace_opaque, opaque, __ATOMIC_RELAXED);
	__atomic_store_n(&vm->io_trace, fn, __ATOMIC_RELEASE);
}

void vm_io_trace(struct vcpu *v, bool is_mmio, uint64_t addr, const void *data, unsigned len,
		 bool is_write)
{
	vm_io_trace_fn fn = __atomic_load_n(&v->vm->io_trace, __ATOMIC_ACQUIRE);

	if (fn)
		fn(__atomic_load_n(&v->vm->io_trace_opaque, __ATOMIC_RELAXED), v->id, is_mmio, addr,
		   data, len, is_write);
}

void vm_request_pause(struct vm *vm)
{
	uint64_t one = 1;

	pthread_mutex_lock(&vm->lock);
	vm->pause_depth++;
	pthread_mutex_unlock(&vm->lock);
	for (int i = 0; i < vm->ncpus; i++)
		if (vm->vcpus[i].run)
			vcpu_kick(&vm->vcpus[i]);
	if (write(vm->event_fd, &one, sizeof(one)) < 0) {
		/* Already readable. */
	}
}

int vm_resume(struct vm *vm)
{
	int r = 0;

	pthread_mutex_lock(&vm->lock);
	if (vm->pause_depth == 0)
		r = -EALREADY;
	else if (--vm->pause_depth == 0)
		pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	return r;
}

uint64_t vm_vcpu_unparks(struct vm *vm, int cpu)
{
	uint64_t n;

	pthread_mutex_lock(&vm->lock);
	n = vm->vcpus[cpu].unparks;
	pthread_mutex_unlock(&vm->lock);
	return n;
}

bool vm_is_paused(struct vm *vm)
{
	bool p;

	pthread_mutex_lock(&vm->lock);
	p = vm->pause_depth > 0;
	pthread_mutex_unlock(&vm->lock);
	return p;
}

void vm_end(struct vm *vm, int status, const char *fmt, ...)
{
	uint64_t one = 1;
	va_list ap;

	pthread_mutex_lock(&vm->lock);
	if (vm->end_status == VM_END_NONE) {
		vm->end_status = status;
		va_start(ap, fmt);
		vsnprintf(vm->end_reason, sizeof(vm->end_reason), fmt, ap);
		va_end(ap);
	}
	vm->ending = true;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	if (write(vm->event_fd, &one, sizeof(one)) < 0) {
		/* The fd is already readable. */
	}
}

bool vm_ended(struct vm *vm)
{
	bool e;

	pthread_mutex_lock(&vm->lock);
	e = vm->ending;
	pthread_mutex_unlock(&vm->lock);
	return e;
}

void vm_destroy(struct vm *vm)
{
	vm_end(vm, VM_END_USER, "session ended");
	profile_stop(vm); /* its thread kicks vCPUs: gone before they are */
	hostbuf_close(&vm->console_out);
	for (int i = 0; i < vm->ncpus; i++)
		if (vm->vcpus[i].run)
			vcpu_kick(&vm->vcpus[i]);
	for (int i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (v->thread_started)
			pthread_join(v->thread, NULL);
		if (v->run)
			munmap(v->run, vm->run_size);
		if (v->run && v->stats_fd >= 0)
			close(v->stats_fd);
		if (v->fd > 0)
			close(v->fd);
	}
	for (int i = 0; i < vm->nr_mmio; i++)
		close(vm->mmio_devs[i].irqfd);
	if (vm->com1)
		uart_destroy(vm->com1);
	if (vm->com2)
		uart_destroy(vm->com2);
	if (vm->com2_fd >= 0)
		close(vm->com2_fd);
	debug_free(vm); /* debug.c: breakpoints and the stop eventfd */
	profile_free(vm);
	vm_reboot_free(vm);
	hostbuf_free(&vm->console_out);
	symtab_free(&vm->syms);
	free(vm->cpuid);
	free(vm->cmdline);
	free(vm->kernel_path);
	free(vm->initrd_path);
	gm_free(&vm->mem);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	if (vm->event_fd >= 0)
		close(vm->event_fd);
	vm->vm_fd = vm->kvm_fd = vm->event_fd = -1;
}

/* --- registers -------------------------------------------------------------- */

bool vm_vcpu_stopped(struct vm *vm, int cpu)
{
	struct vcpu *v = &vm->vcpus[cpu];
	bool stopped;

	if (v == vcpu_current())
		return true;
	pthread_mutex_lock(&vm->lock);
	/* Asked to stop, it is on its way (leaving KVM_RUN, finishing an exit): wait, bounded. */
	if (v->thread_started && !v->parked && vm->pause_depth > 0 && !vm->ending) {
		struct timespec until = park_deadline();

		while (!v->parked && vm->pause_depth > 0 && !vm->ending)
			if (pthread_cond_timedwait(&vm->cond, &vm->lock, &until) == ETIMEDOUT)
				break;
	}
	stopped = !v->thread_started || v->parked;
	pthread_mutex_unlock(&vm->lock);
	return stopped;
}

int vm_vcpu_ioctl(struct vm *vm, int cpu, unsigned long req, void *arg)
{
	int r;

	if (cpu < 0 || cpu >= vm->ncpus || !vm->vcpus[cpu].run)
		return -ENOENT;
	/* On a vCPU in KVM_RUN the ioctl would wait until it leaves: forever for a busy guest.
	 * Only the main thread resumes a parked vCPU, so "parked" holds for its ioctl. */
	if (!vm_vcpu_stopped(vm, cpu))
		return -EBUSY;
	r = ioctl(vm->vcpus[cpu].fd, req, arg);
	return r < 0 ? -errno : r;
}

int vm_get_regs(struct vm *vm, int cpu, struct kvm_regs *regs)
{
	return vm_vcpu_ioctl(vm, cpu, KVM_GET_REGS, regs);
}

int vm_set_regs(struct vm *vm, int cpu, const struct kvm_regs *regs)
{
	return vm_vcpu_ioctl(vm, cpu, KVM_SET_REGS, (void *)regs);
}

int vm_get_sregs(struct vm *vm, int cpu, struct kvm_sregs *sregs)
{
	return vm_vcpu_ioctl(vm, cpu, KVM_GET_SREGS, sregs);
}

int vm_set_sregs(struct vm *vm, int cpu, const struct kvm_sregs *sregs)
{
	return vm_vcpu_ioctl(vm, cpu, KVM_SET_SREGS, (void *)sregs);
}

int vm_get_mp_state(struct vm *vm, int cpu, uint32_t *mp_state)
{
	struct kvm_mp_state mp;
	int r = vm_vcpu_ioctl(vm, cpu, KVM_GET_MP_STATE, &mp);

	if (!r)
		*mp_state = mp.mp_state;
	return r;
}

static int fmt_seg(char *buf, size_t size, const char *name, const struct kvm_segment *s)
{
	return snprintf(buf, size, "%-3s=%04x %016llx %08x %s type=%x dpl=%u%s%s%s\n", name,
			s->selector, (unsigned long long)s->base, s->limit,
			s->present ? "P" : "-", s->type, s->dpl, s->l ? " L" : "",
			s->db ? " DB" : "", s->g ? " G" : "");
}

void vm_format_regs(struct vm *vm, int cpu, char *buf, size_t size)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	char sym[160];
	size_t off = 0;

#define OUT(...) (off += snprintf(buf + off, off < size ? size - off : 0, __VA_ARGS__))
	if (vm_get_regs(vm, cpu, &r) || vm_get_sregs(vm, cpu, &s)) {
		snprintf(buf, size, "vCPU %d: registers unavailable\n", cpu);
		return;
	}
	symtab_format(&vm->syms, r.rip, sym, sizeof(sym));
	OUT("vCPU %d\n", cpu);
	OUT("RAX=%016llx RBX=%016llx RCX=%016llx RDX=%016llx\n", r.rax, r.rbx, r.rcx, r.rdx);
	OUT("RSI=%016llx RDI=%016llx RBP=%016llx RSP=%016llx\n", r.rsi, r.rdi, r.rbp, r.rsp);
	OUT("R8 =%016llx R9 =%016llx R10=%016llx R11=%016llx\n", r.r8, r.r9, r.r10, r.r11);
	OUT("R12=%016llx R13=%016llx R14=%016llx R15=%016llx\n", r.r12, r.r13, r.r14, r.r15);
	OUT("RIP=%016llx <%s> RFL=%08llx [%c%c%c%c%c%c%c] CPL=%u\n", r.rip, sym, r.rflags,
	    r.rflags & (1 << 11) ? 'O' : '-', r.rflags & (1 << 10) ? 'D' : '-',
	    r.rflags & (1 << 9) ? 'I' : '-', r.rflags & (1 << 7) ? 'S' : '-',
	    r.rflags & (1 << 6) ? 'Z' : '-', r.rflags & (1 << 2) ? 'P' : '-',
	    r.rflags & 1 ? 'C' : '-', s.cs.dpl);
	off += fmt_seg(buf + off, off < size ? size - off : 0, "ES", &s.es);
	off += fmt_seg(buf + off, off < size ? size - off : 0, "CS", &s.cs);
	off += fmt_seg(buf + off, off < size ? size - off : 0, "SS", &s.ss);
	off += fmt_seg(buf + off, off < size ? size - off : 0, "DS", &s.ds);
	off += fmt_seg(buf + off, off < size ? size - off : 0, "FS", &s.fs);
	off += fmt_seg(buf + off, off < size ? size - off : 0, "GS", &s.gs);
	off += fmt_seg(buf + off, off < size ? size - off : 0, "TR", &s.tr);
	OUT("GDT=     %016llx %08x\n", s.gdt.base, s.gdt.limit);
	OUT("IDT=     %016llx %08x\n", s.idt.base, s.idt.limit);
	OUT("CR0=%08llx CR2=%016llx CR3=%016llx CR4=%08llx CR8=%llx\n", s.cr0, s.cr2, s.cr3,
	    s.cr4, s.cr8);
	OUT("EFER=%016llx APIC_BASE=%016llx\n", s.efer, s.apic_base);
#undef OUT
}
