/*
 * Snapshot files: the container (every truncation and every flipped byte is
 * refused), each section's round trip (configuration, CPUID, sparse RAM, the
 * UARTs, the virtio transport and its queues, the console's ports and control
 * queue), and the checks that refuse a malformed section before anything is
 * restored. No KVM: the vCPU, irqchip, PIT and clock sections are built by hand.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "emu/snapfile.h"
#include "emu/uart.h"
#include "emu/vm_snap.h"
#include "virtio/console_snap.h"
#include "scratch.h"
#include "vq_harness.h"


static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc(n ? n : 1);
	assert_int_equal(fread(buf, 1, n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* A small file: two field-list sections and a raw one. */
static const char *write_small(void)
{
	struct snap_writer w;
	const char *p = scratch_path("small.snap");
	uint32_t a = 0x11223344;
	uint64_t b = 0x5566778899aabbccULL;

	assert_int_equal(snap_write_begin(&w, p), 0);
	snap_section_begin(&w, "TST1", 0);
	snap_field(&w, 1, &a, sizeof(a));
	snap_field(&w, 2, &b, sizeof(b));
	snap_field(&w, 3, "name", 4);
	snap_section_end(&w);
	snap_section_begin(&w, "TST1", 7);
	snap_field(&w, 1, &b, sizeof(b));
	snap_section_end(&w);
	snap_section_begin(&w, "RAW ", 0);
	snap_put(&w, "0123456789", 10);
	snap_section_end(&w);
	assert_int_equal(snap_write_finish(&w), 0);
	return p;
}

static void test_container_round_trip(void **state)
{
	struct snap_file *f = calloc(1, sizeof(*f));
	char err[256] = "";
	uint32_t a, len;
	uint64_t b;
	const char *p = write_small();

	assert_int_equal(snap_open(f, p, err, sizeof(err)), 0);
	assert_int_equal(f->version, SNAP_VERSION);
	assert_int_equal(f->nsec, 3);
	assert_int_equal(snap_count(f, "TST1"), 2);
	assert_int_equal(snap_get_exact(snap_find(f, "TST1", 0), 1, &a, sizeof(a)), 0);
	assert_int_equal(a, 0x11223344);
	assert_int_equal(snap_get_exact(snap_find(f, "TST1", 0), 2, &b, sizeof(b)), 0);
	assert_true(b == 0x5566778899aabbccULL);
	assert_memory_equal(snap_get(snap_find(f, "TST1", 0), 3, &len), "name", 4);
	assert_int_equal(len, 4);
	/* A field of another size is refused, a missing one is absent. */
	assert_int_equal(snap_get_exact(snap_find(f, "TST1", 0), 2, &a, sizeof(a)), -EINVAL);
	assert_int_equal(snap_get_exact(snap_find(f, "TST1", 0), 9, &a, sizeof(a)), -ENOENT);
	assert_int_equal(snap_get_exact(snap_find(f, "TST1", 7), 1, &b, sizeof(b)), 0);
	assert_null(snap_find(f, "TST1", 1));
	assert_int_equal(snap_find(f, "RAW ", 0)->length, 10);
	assert_memory_equal(snap_find(f, "RAW ", 0)->data, "0123456789", 10);
	snap_close(f);
	free(f);
}

static void test_every_truncation_is_refused(void **state)
{
	struct snap_file *f = calloc(1, sizeof(*f));
	size_t len;
	uint8_t *buf = slurp(write_small(), &len);
	char err[256];

	for (size_t n = 0; n < len; n++) {
		err[0] = 0;
		assert_int_not_equal(snap_parse(f, buf, n, err, sizeof(err)), 0);
		assert_true(strlen(err) > 10);
	}
	assert_int_equal(snap_parse(f, buf, len, err, sizeof(err)), 0);
	/* Cut right after a section: the end marker is what is missing. */
	assert_int_not_equal(snap_parse(f, buf, len - SNAP_SECTION_HEADER_SIZE, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "no end marker"));
	free(buf);
	free(f);
}

static void test_every_flipped_byte_is_refused(void **state)
{
	struct snap_file *f = calloc(1, sizeof(*f));
	size_t len;
	uint8_t *buf = slurp(write_small(), &len);
	char err[256];

	for (size_t i = 0; i < len; i++) {
		buf[i] ^= 0x20;
		err[0] = 0;
		assert_int_not_equal(snap_parse(f, buf, len, err, sizeof(err)), 0);
		assert_true(strlen(err) > 10);
		buf[i] ^= 0x20;
	}
	free(buf);
	free(f);
}

static void fix_header_crc(uint8_t *buf)
{
	uint32_t crc = snap_crc32(0, buf, 28);

	memcpy(buf + 28, &crc, 4);
}

static void test_wrong_magic_and_version_are_named(void **state)
{
	struct snap_file *f = calloc(1, sizeof(*f));
	size_t len;
	uint8_t *buf = slurp(write_small(), &len);
	uint32_t v = SNAP_VERSION + 1;
	char err[256];

	memcpy(buf + 8, &v, 4);
	fix_header_crc(buf);
	assert_int_equal(snap_parse(f, buf, len, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "version 2"));
	memcpy(buf, "ELF\177abcd", 8);
	assert_int_equal(snap_parse(f, buf, len, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a vmdbg snapshot"));
	free(buf);
	free(f);
}

static void test_stray_bytes_and_duplicates_are_refused(void **state)
{
	struct snap_file *f = calloc(1, sizeof(*f));
	struct snap_writer w;
	size_t len;
	uint8_t *buf = slurp(write_small(), &len), *more = malloc(len + 3);
	char err[256];

	memcpy(more, buf, len);
	memcpy(more + len, "xyz", 3);
	assert_int_equal(snap_parse(f, more, len + 3, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "stray bytes"));
	free(buf);
	free(more);

	assert_int_equal(snap_write_begin(&w, scratch_path("dup.snap")), 0);
	for (int i = 0; i < 2; i++) {
		snap_section_begin(&w, "TST1", 3);
		snap_section_end(&w);
	}
	assert_int_equal(snap_write_finish(&w), 0);
	assert_int_equal(snap_open(f, scratch_path("dup.snap"), err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "appears twice"));
	free(f);
}

static void test_file_appears_only_when_complete(void **state)
{
	struct snap_writer w;
	struct stat st;
	const char *p = scratch_path("atomic.snap");

	unlink(p);
	assert_int_equal(snap_write_begin(&w, p), 0);
	snap_section_begin(&w, "TST1", 0);
	snap_put(&w, "abc", 3);
	snap_section_end(&w);
	assert_int_not_equal(stat(p, &st), 0);
	snap_write_abort(&w);
	assert_int_not_equal(stat(p, &st), 0);

	assert_int_equal(snap_write_begin(&w, p), 0);
	assert_int_equal(snap_write_finish(&w), 0);
	assert_int_equal(stat(p, &st), 0);
	/* Writing into a directory that does not exist fails up front. */
	assert_int_not_equal(snap_write_begin(&w, "/nonexistent-dir/x.snap"), 0);
}

static void test_unreadable_and_empty_files_are_named(void **state)
{
	struct snap_file *f = calloc(1, sizeof(*f));
	char err[256];
	FILE *e = fopen(scratch_path("empty.snap"), "w");

	fclose(e);
	assert_int_not_equal(snap_open(f, scratch_path("missing.snap"), err, sizeof(err)), 0);
	assert_non_null(strstr(err, "cannot open"));
	assert_int_not_equal(snap_open(f, scratch_path("empty.snap"), err, sizeof(err)), 0);
	assert_non_null(strstr(err, "empty"));
	assert_int_not_equal(snap_open(f, scratch_dir, err, sizeof(err)), 0);
	free(f);
}

/* --- the machine's sections over fake guest memory ------------------------------ */

#define FAKE_MEM (8ULL << 20)

struct fake_vm {
	struct vm vm;
	uint8_t *ram;
};

static struct fake_vm *fake_vm_new(int ncpus)
{
	struct fake_vm *f = calloc(1, sizeof(*f));

	f->ram = calloc(1, FAKE_MEM);
	gm_init_buf(&f->vm.mem, f->ram, FAKE_MEM);
	f->vm.ncpus = ncpus;
	f->vm.nr_mmio = 1;
	f->vm.vm_fd = f->vm.kvm_fd = -1;
	f->vm.cfg.kernel = "/boot/vmlinux-test";
	f->vm.cfg.pvm_workarounds = true;
	f->vm.cmdline = strdup("console=ttyS0 rdinit=/idle");
	f->vm.initrd_idle = true;
	f->vm.cpuid = calloc(1, sizeof(*f->vm.cpuid) + 2 * sizeof(f->vm.cpuid->entries[0]));
	f->vm.cpuid->nent = 2;
	f->vm.cpuid->entries[0].function = 0;
	f->vm.cpuid->entries[0].eax = 0xd;
	f->vm.cpuid->entries[1].function = 1;
	f->vm.cpuid->entries[1].ecx = 0x80000000;
	f->vm.com1 = uart_create("COM1", &(struct uart_host_ops){ 0 }, NULL);
	f->vm.com2 = uart_create("COM2", &(struct uart_host_ops){ 0 }, NULL);
	return f;
}

static void fake_vm_free(struct fake_vm *f)
{
	uart_destroy(f->vm.com1);
	uart_destroy(f->vm.com2);
	free(f->vm.cmdline);
	free(f->vm.kernel_path);
	free(f->vm.cpuid);
	free(f->ram);
	free(f);
}

static void put_zeroed(struct snap_writer *w, uint32_t key, size_t len)
{
	void *z = calloc(1, len);

	snap_field(w, key, z, (uint32_t)len);
	free(z);
}

enum omit { OMIT_NONE, OMIT_CPUID, OMIT_VCPU1, OMIT_LAPIC, OMIT_IRQC, OMIT_PIT, OMIT_CLOCK,
	    OMIT_UART1, OMIT_RAM, OMIT_NR };

/*
 * A whole machine snapshot without KVM: configuration, CPUID and RAM as vmdbg
 * writes them, the KVM structures zeroed (their bytes are KVM's ABI).
 */
static const char *write_machine(struct fake_vm *f, enum omit omit, struct vm_snap_stats *st)
{
	struct snap_writer w;
	const char *p = scratch_path("machine.snap");
	uint8_t *buf = malloc(1 << 20);

	memset(st, 0, sizeof(*st));
	assert_int_equal(snap_write_begin(&w, p), 0);
	vm_snap_save_config(&f->vm, &w);
	if (omit == OMIT_CPUID) {
		/* Rewritten below with a bad length. */
	}
	for (int i = 0; i < f->vm.ncpus; i++) {
		if (omit == OMIT_VCPU1 && i == 1)
			continue;
		snap_section_begin(&w, SNAP_VCPU, (uint32_t)i);
		put_zeroed(&w, VM_SNAP_VCPU_REGS, sizeof(struct kvm_regs));
		put_zeroed(&w, VM_SNAP_VCPU_SREGS, sizeof(struct kvm_sregs));
		put_zeroed(&w, VM_SNAP_VCPU_MP_STATE, sizeof(struct kvm_mp_state));
		if (omit != OMIT_LAPIC)
			put_zeroed(&w, VM_SNAP_VCPU_LAPIC, sizeof(struct kvm_lapic_state));
		put_zeroed(&w, VM_SNAP_VCPU_EVENTS, sizeof(struct kvm_vcpu_events));
		put_zeroed(&w, VM_SNAP_VCPU_DEBUGREGS, sizeof(struct kvm_debugregs));
		snap_section_end(&w);
	}
	if (omit != OMIT_IRQC) {
		snap_section_begin(&w, SNAP_IRQCHIP, 0);
		for (int i = 0; i < 3; i++)
			put_zeroed(&w, 1 + i, sizeof(struct kvm_irqchip));
		snap_section_end(&w);
	}
	if (omit != OMIT_PIT) {
		snap_section_begin(&w, SNAP_PIT, 0);
		put_zeroed(&w, VM_SNAP_ONE_FIELD, sizeof(struct kvm_pit_state2));
		snap_section_end(&w);
	}
	if (omit != OMIT_CLOCK) {
		snap_section_begin(&w, SNAP_CLOCK, 0);
		put_zeroed(&w, VM_SNAP_ONE_FIELD, sizeof(struct kvm_clock_data));
		snap_section_end(&w);
	}
	for (int i = 0; i < 2; i++) {
		struct uart_state us;

		if (omit == OMIT_UART1 && i == 1)
			continue;
		uart_get_state(i ? f->vm.com2 : f->vm.com1, &us);
		snap_section_begin(&w, SNAP_UART, (uint32_t)i);
		snap_field(&w, VM_SNAP_ONE_FIELD, &us, sizeof(us));
		snap_section_end(&w);
	}
	if (omit != OMIT_RAM)
		vm_snap_save_ram(&f->vm, &w, st, buf);
	assert_int_equal(snap_write_finish(&w), 0);
	free(buf);
	return p;
}

static void test_config_and_cpuid_round_trip(void **state)
{
	struct fake_vm *f = fake_vm_new(2);
	struct snap_file *sf = calloc(1, sizeof(*sf));
	struct vm_snap_config cfg;
	struct vm_snap_stats st;
	const void *c;
	struct kvm_cpuid2 cpuid_head;
	struct kvm_cpuid_entry2 entry1;
	uint32_t len;
	char err[256];

	assert_int_equal(snap_open(sf, write_machine(f, OMIT_NONE, &st), err, sizeof(err)), 0);
	assert_int_equal(vm_snap_read_config(sf, &cfg, err, sizeof(err)), 0);
	assert_true(cfg.mem_size == FAKE_MEM);
	assert_int_equal(cfg.ncpus, 2);
	assert_int_equal(cfg.nr_mmio, 1);
	assert_string_equal(cfg.kernel, "/boot/vmlinux-test");
	assert_string_equal(cfg.cmdline, "console=ttyS0 rdinit=/idle");
	assert_true(cfg.pvm_workarounds);
	assert_true(cfg.initrd_idle); /* a reboot after --restore appends /idle again */
	/* Fields in the file need not be aligned: copied out, as vm_snap.c reads them. */
	c = snap_get(snap_find(sf, SNAP_CPUID, 0), VM_SNAP_ONE_FIELD, &len);
	assert_non_null(c);
	memcpy(&cpuid_head, c, sizeof(cpuid_head));
	memcpy(&entry1, (const char *)c + sizeof(cpuid_head) + sizeof(entry1), sizeof(entry1));
	assert_int_equal(cpuid_head.nent, 2);
	assert_int_equal(entry1.ecx, 0x80000000);
	assert_int_equal(vm_snap_check(&f->vm, sf, err, sizeof(err)), 0);
	snap_close(sf);
	free(sf);
	fake_vm_free(f);
}

/*
 * The kernel is recorded by its absolute path and id; a session refuses a snapshot of
 * another kernel, naming both ids, and takes one whose file or session has no id.
 */
static void test_kernel_path_and_id(void **state)
{
	struct fake_vm *f = fake_vm_new(1), *g = fake_vm_new(1);
	struct snap_file *sf = calloc(1, sizeof(*sf));
	struct vm_snap_config cfg;
	struct vm_snap_stats st;
	char err[512] = "";

	f->vm.kernel_path = strdup("/work/build/vmlinux");
	strcpy(f->vm.kernel_id, "build-id 0123abcd");
	assert_int_equal(snap_open(sf, write_machine(f, OMIT_NONE, &st), err, sizeof(err)), 0);
	assert_int_equal(vm_snap_read_config(sf, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.kernel, "/work/build/vmlinux"); /* not cfg.kernel as given */
	assert_string_equal(cfg.kernel_id, "build-id 0123abcd");
	assert_int_equal(vm_snap_check(&f->vm, sf, err, sizeof(err)), 0);
	g->vm.kernel_path = strdup("/elsewhere/vmlinux");
	strcpy(g->vm.kernel_id, "build-id 4567ef01");
	assert_int_equal(vm_snap_check(&g->vm, sf, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "another kernel"));
	assert_non_null(strstr(err, "/work/build/vmlinux (build-id 0123abcd)"));
	assert_non_null(strstr(err, "/elsewhere/vmlinux has build-id 4567ef01"));
	g->vm.kernel_id[0] = 0; /* restored from an older snapshot: nothing to compare */
	assert_int_equal(vm_snap_check(&g->vm, sf, err, sizeof(err)), 0);
	snap_close(sf);
	/* An older vmdbg's file has no id: read as "", loaded into any session. */
	f->vm.kernel_id[0] = 0;
	strcpy(g->vm.kernel_id, "build-id 4567ef01");
	assert_int_equal(snap_open(sf, write_machine(f, OMIT_NONE, &st), err, sizeof(err)), 0);
	assert_int_equal(vm_snap_read_config(sf, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.kernel_id, "");
	assert_int_equal(vm_snap_check(&g->vm, sf, err, sizeof(err)), 0);
	snap_close(sf);
	free(sf);
	fake_vm_free(f);
	fake_vm_free(g);
}

static void test_ram_is_sparse_and_round_trips(void **state)
{
	struct fake_vm *f = fake_vm_new(1), *g = fake_vm_new(1);
	struct snap_file *sf = calloc(1, sizeof(*sf));
	struct vm_snap_stats st;
	char err[256];

	/* Three written areas: one page, five pages at the end, a lone byte. */
	memset(f->ram + 0x3000, 0xa5, 4096);
	for (int i = 0; i < 5; i++)
		memset(f->ram + FAKE_MEM - 5 * 4096 + i * 4096, i + 1, 4096);
	f->ram[0x100000 + 17] = 0x42;
	assert_int_equal(snap_open(sf, write_machine(f, OMIT_NONE, &st), err, sizeof(err)), 0);
	assert_true(st.ram_bytes == 7 * 4096);
	assert_true(st.ram_total == FAKE_MEM);
	memset(g->ram, 0x77, FAKE_MEM); /* restoring must zero what the file does not have */
	assert_int_equal(vm_snap_check_ram(&g->vm, snap_find(sf, SNAP_RAM, 0), err, sizeof(err)), 0);
	vm_snap_restore_ram(&g->vm, snap_find(sf, SNAP_RAM, 0));
	assert_memory_equal(f->ram, g->ram, FAKE_MEM);
	snap_close(sf);
	free(sf);
	fake_vm_free(f);
	fake_vm_free(g);
}

static void check_bad_ram(struct fake_vm *f, const uint64_t *runs, int nruns, const char *why)
{
	struct snap_writer w;
	struct snap_file *sf = calloc(1, sizeof(*sf));
	uint8_t page[4096] = { 1 };
	char err[256] = "";

	assert_int_equal(snap_write_begin(&w, scratch_path("badram.snap")), 0);
	snap_section_begin(&w, SNAP_RAM, 0);
	for (int i = 0; i < nruns; i++) {
		snap_put(&w, &runs[2 * i], 16);
		for (uint64_t n = 0; n < runs[2 * i + 1] && n < 4 * 4096; n += 4096)
			snap_put(&w, page, sizeof(page));
	}
	snap_section_end(&w);
	assert_int_equal(snap_write_finish(&w), 0);
	assert_int_equal(snap_open(sf, scratch_path("badram.snap"), err, sizeof(err)), 0);
	assert_int_equal(vm_snap_check_ram(&f->vm, snap_find(sf, SNAP_RAM, 0), err, sizeof(err)),
			 -EINVAL);
	if (!strstr(err, "RAM"))
		fail_msg("%s: message '%s' does not name the RAM", why, err);
	snap_close(sf);
	free(sf);
}

static void test_bad_ram_runs_are_refused(void **state)
{
	struct fake_vm *f = fake_vm_new(1);
	const uint64_t unaligned[] = { 0x1001, 4096 };
	const uint64_t past_end[] = { FAKE_MEM - 4096, 2 * 4096 };
	const uint64_t overlapping[] = { 0x4000, 2 * 4096, 0x5000, 4096 };
	const uint64_t longer_than_data[] = { 0x4000, 64 * 4096 };
	const uint64_t empty_run[] = { 0x4000, 0 };

	check_bad_ram(f, unaligned, 1, "unaligned");
	check_bad_ram(f, past_end, 1, "past the end of RAM");
	check_bad_ram(f, overlapping, 2, "overlapping");
	check_bad_ram(f, longer_than_data, 1, "longer than its data");
	check_bad_ram(f, empty_run, 1, "empty");
	fake_vm_free(f);
}

static void test_each_missing_section_is_named(void **state)
{
	static const char *const names[OMIT_NR] = {
		[OMIT_CPUID] = NULL, [OMIT_VCPU1] = "vCPU 1", [OMIT_LAPIC] = "vCPU 0",
		[OMIT_IRQC] = "irqchip", [OMIT_PIT] = "PIT", [OMIT_CLOCK] = "clock",
		[OMIT_UART1] = "COM2", [OMIT_RAM] = "RAM",
	};
	struct fake_vm *f = fake_vm_new(2);
	struct vm_snap_stats st;
	char err[256];

	for (int o = OMIT_VCPU1; o < OMIT_NR; o++) {
		struct snap_file *sf = calloc(1, sizeof(*sf));

		assert_int_equal(snap_open(sf, write_machine(f, o, &st), err, sizeof(err)), 0);
		err[0] = 0;
		assert_int_equal(vm_snap_check(&f->vm, sf, err, sizeof(err)), -EINVAL);
		if (!strstr(err, names[o]))
			fail_msg("omitting %s: message '%s'", names[o], err);
		snap_close(sf);
		free(sf);
	}
	fake_vm_free(f);
}

static void test_another_machine_is_refused(void **state)
{
	struct fake_vm *f = fake_vm_new(2), *g = fake_vm_new(1);
	struct snap_file *sf = calloc(1, sizeof(*sf));
	struct vm_snap_stats st;
	char err[256];

	assert_int_equal(snap_open(sf, write_machine(f, OMIT_NONE, &st), err, sizeof(err)), 0);
	assert_int_equal(vm_snap_check(&g->vm, sf, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "another machine"));
	snap_close(sf);
	free(sf);
	fake_vm_free(f);
	fake_vm_free(g);
}

static void test_uart_state_round_trips(void **state)
{
	struct uart *a = uart_create("A", &(struct uart_host_ops){ 0 }, NULL);
	struct uart *b = uart_create("B", &(struct uart_host_ops){ 0 }, NULL);
	struct uart_state sa, sb;
	uint8_t v;

	v = 0x83; /* DLAB */
	uart_bus_ops.write(a, 3, &v, 1);
	v = 0x0c;
	uart_bus_ops.write(a, 0, &v, 1);
	v = 0x03;
	uart_bus_ops.write(a, 3, &v, 1);
	v = 0x07; /* FIFO on */
	uart_bus_ops.write(a, 2, &v, 1);
	v = 0x5a;
	uart_bus_ops.write(a, 7, &v, 1);
	assert_int_equal(uart_receive(a, (const uint8_t *)"hello", 5), 5);
	uart_get_state(a, &sa);
	assert_int_equal(uart_set_state(b, &sa), 0);
	uart_get_state(b, &sb);
	assert_memory_equal(&sa, &sb, sizeof(sa));
	/* The restored UART hands out the same bytes and registers. */
	uart_bus_ops.read(b, 7, &v, 1);
	assert_int_equal(v, 0x5a);
	for (int i = 0; i < 5; i++) {
		uart_bus_ops.read(b, 0, &v, 1);
		assert_int_equal(v, "hello"[i]);
	}
	sa.rx_count = 17;
	assert_int_equal(uart_set_state(b, &sa), -EINVAL);
	uart_destroy(a);
	uart_destroy(b);
}

/* --- the console ----------------------------------------------------------------- */

static void test_console_round_trip_continues(void **state)
{
	struct vqh *h = vqh_new(), *g = vqh_new();
	struct snap_writer w;
	struct snap_file *sf = calloc(1, sizeof(*sf));
	struct console_snapshot a, b;
	char err[256], out[64];

	vqh_handshake(h);
	vqh_guest_write(h, 1, "published", 9);
	assert_int_equal(console_port_send(h->con, 2, "to-guest", 8), 0);
	assert_int_equal(console_ctl_send(h->con, 1, 6, 1, NULL), 0);
	assert_int_equal(snap_write_begin(&w, scratch_path("con.snap")), 0);
	console_snap_save(h->con, &w, 0);
	assert_int_equal(snap_write_finish(&w), 0);
	assert_int_equal(snap_open(sf, scratch_path("con.snap"), err, sizeof(err)), 0);

	memcpy(g->ram, h->ram, VQH_MEM_SIZE);
	memcpy(g->q, h->q, sizeof(g->q));
	g->data_next = h->data_next;
	assert_int_equal(console_snap_check(g->con, sf, 0, err, sizeof(err)), 0);
	assert_int_equal(console_snap_restore(g->con, sf, 0), 0);
	console_snapshot(h->con, &a);
	console_snapshot(g->con, &b);
	assert_int_equal(a.status, b.status);
	assert_true(a.driver_features == b.driver_features);
	assert_int_equal(a.device_ready, b.device_ready);
	for (int q = 0; q < CONSOLE_NR_QUEUES; q++) {
		assert_int_equal(a.vq[q].last_avail_idx, b.vq[q].last_avail_idx);
		assert_int_equal(a.vq[q].used_idx, b.vq[q].used_idx);
		assert_true(a.vq[q].desc_gpa == b.vq[q].desc_gpa);
		assert_true(a.vq[q].notifies == b.vq[q].notifies);
	}
	for (int i = 0; i < CONSOLE_NR_PORTS; i++) {
		assert_int_equal(a.port[i].guest_open, b.port[i].guest_open);
		assert_int_equal(a.port[i].readied, b.port[i].readied);
		assert_int_equal(a.port[i].pending_rx, b.port[i].pending_rx);
		assert_int_equal(a.port[i].host_tx, b.port[i].host_tx);
	}
	assert_int_equal(a.ctl_out_len, b.ctl_out_len);
	/* The host reads what was published before the save, and the guest goes on. */
	assert_int_equal(vqh_drain(g, 1, out, sizeof(out)), 9);
	assert_memory_equal(out, "published", 9);
	assert_int_equal(g->wakes[CONSOLE_WAKE_GROUP_CONSOLE] > 0, 1);
	vqh_guest_write(g, 1, "after", 5);
	assert_int_equal(vqh_used_idx(g, console_tx_queue(1)), vqh_used_idx(h, console_tx_queue(1)) + 1);
	assert_int_equal(vqh_drain(g, 1, out, sizeof(out)), 5);
	assert_memory_equal(out, "after", 5);
	snap_close(sf);
	free(sf);
	vqh_free(h);
	vqh_free(g);
}

static void test_console_check_refuses_bad_state(void **state)
{
	struct vqh *h = vqh_new();
	struct snap_writer w;
	struct snap_file *sf = calloc(1, sizeof(*sf));
	uint32_t four = 4;
	char err[256];

	/* No console sections at all. */
	assert_int_equal(snap_write_begin(&w, scratch_path("nocon.snap")), 0);
	assert_int_equal(snap_write_finish(&w), 0);
	assert_int_equal(snap_open(sf, scratch_path("nocon.snap"), err, sizeof(err)), 0);
	assert_int_equal(console_snap_check(h->con, sf, 0, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no console state"));
	snap_close(sf);

	/* A device with 4 queues is not this console. */
	assert_int_equal(snap_write_begin(&w, scratch_path("badcon.snap")), 0);
	snap_section_begin(&w, SNAP_VIRTIO, 0);
	put_zeroed(&w, 1, 64);
	snap_field(&w, 2, &four, sizeof(four));
	snap_section_end(&w);
	snap_section_begin(&w, SNAP_CONSOLE, 0);
	snap_section_end(&w);
	assert_int_equal(snap_write_finish(&w), 0);
	assert_int_equal(snap_open(sf, scratch_path("badcon.snap"), err, sizeof(err)), 0);
	assert_int_equal(console_snap_check(h->con, sf, 0, err, sizeof(err)), -EINVAL);
	snap_close(sf);
	free(sf);
	vqh_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_container_round_trip),
		cmocka_unit_test(test_every_truncation_is_refused),
		cmocka_unit_test(test_every_flipped_byte_is_refused),
		cmocka_unit_test(test_wrong_magic_and_version_are_named),
		cmocka_unit_test(test_stray_bytes_and_duplicates_are_refused),
		cmocka_unit_test(test_file_appears_only_when_complete),
		cmocka_unit_test(test_unreadable_and_empty_files_are_named),
		cmocka_unit_test(test_config_and_cpuid_round_trip),
		cmocka_unit_test(test_kernel_path_and_id),
		cmocka_unit_test(test_ram_is_sparse_and_round_trips),
		cmocka_unit_test(test_bad_ram_runs_are_refused),
		cmocka_unit_test(test_each_missing_section_is_named),
		cmocka_unit_test(test_another_machine_is_refused),
		cmocka_unit_test(test_uart_state_round_trips),
		cmocka_unit_test(test_console_round_trip_continues),
		cmocka_unit_test(test_console_check_refuses_bad_state),
	};

	return cmocka_run_group_tests(tests, scratch_setup, scratch_teardown);
}
