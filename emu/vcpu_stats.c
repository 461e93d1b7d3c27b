/*
 * KVM's own per-vCPU counters (KVM_GET_STATS_FD). Most exits never reach vmdbg: KVM
 * handles the LAPIC, HLT, page faults and (on PVM) the emulated kernel code itself, so a
 * count of the exits vmdbg sees stands still for minutes while the guest runs. KVM's
 * "exits" counts every one, and the file can be read at any time without pausing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vm.h"

static const char *const stat_names[VCPU_STAT_NR] = {
	[VCPU_STAT_EXITS] = "exits",
	[VCPU_STAT_HALT_EXITS] = "halt_exits",
	[VCPU_STAT_INSN_EMULATION] = "insn_emulation",
};

void vcpu_stats_open(struct vcpu *v)
{
	struct kvm_stats_header h;
	struct kvm_stats_desc *d;
	size_t dsz;
	char *descs = NULL;
	int fd;

	v->stats_fd = -1;
	fd = ioctl(v->fd, KVM_GET_STATS_FD, NULL);
	if (fd < 0)
		return; /* an older KVM: info cpus then shows the exits vmdbg saw */
	if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
		goto fail;
	dsz = sizeof(*d) + h.name_size;
	descs = calloc(h.num_desc, dsz);
	if (!descs || pread(fd, descs, dsz * h.num_desc, h.desc_offset) != (ssize_t)(dsz * h.num_desc))
		goto fail;
	for (int s = 0; s < VCPU_STAT_NR; s++)
		v->stats_off[s] = 0;
	for (uint32_t i = 0; i < h.num_desc; i++) {
		d = (struct kvm_stats_desc *)(descs + i * dsz);
		for (int s = 0; s < VCPU_STAT_NR; s++)
			if (d->size >= 1 && !strncmp(d->name, stat_names[s], h.name_size))
				v->stats_off[s] = h.data_offset + d->offset;
	}
	free(descs);
	if (!v->stats_off[VCPU_STAT_EXITS]) {
		close(fd);
		return;
	}
	v->stats_fd = fd;
	return;
fail:
	free(descs);
	close(fd);
}

int vm_vcpu_stat(struct vm *vm, int cpu, enum vcpu_stat which, uint64_t *val)
{
	const struct vcpu *v;

	if (cpu < 0 || cpu >= vm->ncpus || which < 0 || which >= VCPU_STAT_NR)
		return -EINVAL;
	v = &vm->vcpus[cpu];
	if (!v->run || v->stats_fd < 0 || !v->stats_off[which])
		return -ENOTSUP;
	if (pread(v->stats_fd, val, sizeof(*val), v->stats_off[which]) != (ssize_t)sizeof(*val))
		return -EIO;
	return 0;
}
