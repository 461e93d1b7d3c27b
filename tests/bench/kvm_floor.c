/*
 * The floor for an exit round trip: the smallest KVM program that can take
 * port-I/O or MMIO exits (no irqchip, no devices, a 5-byte guest loop).
 * `make bench` runs it next to vmdbg so vmdbg's exit cost reads as a ratio.
 * usage: kvm_floor pio|mmio N   -> prints "ns_per_exit=X"
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MEM (16u << 20)

static void die(const char *what)
{
	perror(what);
	exit(2);
}

int main(int argc, char **argv)
{
	/* mov dx,0x500; loop: out dx,al; dec rcx; jnz loop; hlt */
	static const uint8_t pio_code[] = { 0x66, 0xba, 0x00, 0x05, 0xee, 0x48, 0xff, 0xc9, 0x75, 0xfa, 0xf4 };
	/* nop x4; loop: mov [rbx],al; dec rcx; jnz loop; hlt */
	static const uint8_t mmio_code[] = { 0x90, 0x90, 0x90, 0x90, 0x88, 0x03, 0x48, 0xff, 0xc9, 0x75, 0xf9, 0xf4 };
	int kvm, vm, cpu, mmio;
	long n;
	uint8_t *mem;
	uint64_t *pml4, *pdpt, *pd;
	struct kvm_run *run;
	struct kvm_sregs s;
	struct kvm_regs r = { 0 };
	struct timespec t0, t1;
	uint64_t exits = 0;

	if (argc != 3 || (strcmp(argv[1], "pio") && strcmp(argv[1], "mmio")) || (n = atol(argv[2])) <= 0) {
		fprintf(stderr, "usage: kvm_floor pio|mmio N\n");
		return 2;
	}
	mmio = !strcmp(argv[1], "mmio");
	kvm = open("/dev/kvm", O_RDWR);
	if (kvm < 0)
		die("/dev/kvm");
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		die("KVM_CREATE_VM");
	ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000UL);
	mem = mmap(NULL, MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct kvm_userspace_memory_region region = { .memory_size = MEM, .userspace_addr = (uintptr_t)mem };
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		die("KVM_SET_USER_MEMORY_REGION");
	/* Identity map of 4 GiB with 2 MiB pages: PML4 0x2000, PDPT 0x3000, PDs 0x4000.. */
	pml4 = (uint64_t *)(mem + 0x2000);
	pdpt = (uint64_t *)(mem + 0x3000);
	pd = (uint64_t *)(mem + 0x4000);
	pml4[0] = 0x3000 | 3;
	for (int i = 0; i < 4; i++)
		pdpt[i] = (0x4000 + i * 0x1000) | 3;
	for (int i = 0; i < 2048; i++)
		pd[i] = ((uint64_t)i << 21) | 0x83;
	memcpy(mem + 0x1000, mmio ? mmio_code : pio_code, mmio ? sizeof(mmio_code) : sizeof(pio_code));

	cpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (cpu < 0)
		die("KVM_CREATE_VCPU");
	run = mmap(NULL, ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0), PROT_READ | PROT_WRITE, MAP_SHARED, cpu, 0);
	{
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 256 * sizeof(c->entries[0]));
		c->nent = 256;
		if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, c) == 0)
			ioctl(cpu, KVM_SET_CPUID2, c);
		free(c);
	}
	ioctl(cpu, KVM_GET_SREGS, &s);
	struct kvm_segment code = { .limit = 0xffffffff, .selector = 0x8, .type = 0xb, .present = 1, .s = 1, .l = 1, .g = 1 };
	struct kvm_segment data = { .limit = 0xffffffff, .selector = 0x10, .type = 0x3, .present = 1, .s = 1, .db = 1, .g = 1 };
	s.cs = code;
	s.ds = s.es = s.fs = s.gs = s.ss = data;
	s.cr3 = 0x2000;
	s.cr4 = 0x20;
	s.cr0 = 0x80000011;
	s.efer = 0x500;
	if (ioctl(cpu, KVM_SET_SREGS, &s) < 0)
		die("KVM_SET_SREGS");
	r.rflags = 2;
	r.rip = 0x1000;
	r.rcx = n;
	r.rbx = 0xd0000000;
	if (ioctl(cpu, KVM_SET_REGS, &r) < 0)
		die("KVM_SET_REGS");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (ioctl(cpu, KVM_RUN, 0) < 0)
			die("KVM_RUN");
		if (run->exit_reason == KVM_EXIT_IO || run->exit_reason == KVM_EXIT_MMIO) {
			exits++;
			continue;
		}
		if (run->exit_reason == KVM_EXIT_HLT)
			break;
		fprintf(stderr, "kvm_floor: unexpected exit %u\n", run->exit_reason);
		return 3;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ns = (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec);
	printf("exits=%llu ns_per_exit=%.0f\n", (unsigned long long)exits, ns / (double)exits);
	return exits == (uint64_t)n ? 0 : 3;
}
