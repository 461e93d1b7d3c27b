/*
 * The gdb remote protocol: the packet parser (gdbstub/rsp.c) and the stub's
 * dispatcher (gdbstub/gdbstub.c) against a fake VM.
 *
 * gdbstub.c keeps its dispatcher static, so this file includes it: the stub
 * runs unchanged on a real socket whose read() and write() are wrapped onto an
 * in-memory wire (--wrap=read,write: no syscalls per chunk), fed the input in
 * chunks through its own on_client(), while this file supplies the vm_* and
 * debug_* functions it calls (a VM of 1-4 vCPUs with registers, 128 KiB of mapped virtual memory,
 * breakpoints and stop events). Nothing of emu/vm.c or emu/debug.c is linked.
 *
 * Input: byte 0 = vCPU count and flags, byte 1 = chunk size, the rest is what
 * gdb sends; unless flag 0x40 is set, every "$...#xx" gets its checksum
 * fixed first. After every chunk a running VM stops (a breakpoint, a step...).
 *
 * Invariants: the stub only names vCPUs that exist, never asks for more
 * memory than its scratch buffer, passes valid actions to resume; everything
 * it writes back is well-formed RSP (every packet's checksum right, none over
 * the announced size); a second parser fed the same bytes agrees with
 * rsp_feed's packet lengths; and re-encoding a parsed packet with rsp_encode
 * decodes to the same payload.
 */
#include "gdbstub/gdbstub.c"

#include <linux/kvm.h>

#include "fuzz_common.h"

#define FAKE_MEM 0x10000u
#define LOW_GVA 0x1000ull
#define HIGH_GVA 0xffffffff81000000ull

static struct vm fake_vm;
static struct fake_state {
	struct kvm_regs regs[4];
	struct kvm_sregs sregs[4];
	struct kvm_fpu fpu[4];
	uint64_t msr[4][4];
	uint8_t low[FAKE_MEM], high[FAKE_MEM];
	uint64_t sw[DEBUG_MAX_SW_BPS];
	int nsw;
	struct {
		bool used;
		enum debug_hw_type type;
		uint64_t addr, len;
	} hw[DEBUG_HW_SLOTS];
	bool stopped, ended, have_event;
	struct debug_event ev;
	unsigned stops;
	bool kaslr;
} fv, fv_template;

/* Long-mode vCPUs, recognisable memory. */
static void fake_vm_template(void)
{
	for (int c = 0; c < 4; c++) {
		fv_template.regs[c].rip = HIGH_GVA + 0x100 * c;
		fv_template.regs[c].rsp = LOW_GVA + 0x8000;
		fv_template.sregs[c].cr0 = 0x80050033;
		fv_template.sregs[c].cr4 = 0x20;
		fv_template.sregs[c].efer = 0x500;
		fv_template.sregs[c].cs.l = 1;
	}
	for (unsigned i = 0; i < FAKE_MEM; i++)
		fv_template.low[i] = fv_template.high[i] = (uint8_t)(i * 7);
}

static void check_cpu(int cpu)
{
	FZ_CHECK(cpu >= 0 && cpu < fake_vm.ncpus, "vCPU %d asked of a VM with %d", cpu,
		 fake_vm.ncpus);
}

/* --- the fake VM ------------------------------------------------------------------- */

void vm_end(struct vm *vm, int status, const char *fmt, ...)
{
	fv.ended = true;
}

bool vm_ended(struct vm *vm)
{
	return fv.ended;
}

int vm_get_regs(struct vm *vm, int cpu, struct kvm_regs *regs)
{
	check_cpu(cpu);
	*regs = fv.regs[cpu];
	return 0;
}

int vm_set_regs(struct vm *vm, int cpu, const struct kvm_regs *regs)
{
	check_cpu(cpu);
	fv.regs[cpu] = *regs;
	return 0;
}

int vm_get_sregs(struct vm *vm, int cpu, struct kvm_sregs *sregs)
{
	check_cpu(cpu);
	*sregs = fv.sregs[cpu];
	return 0;
}

int vm_set_sregs(struct vm *vm, int cpu, const struct kvm_sregs *sregs)
{
	check_cpu(cpu);
	fv.sregs[cpu] = *sregs;
	return 0;
}

int debug_get_fpu(struct vm *vm, int cpu, struct kvm_fpu *fpu)
{
	check_cpu(cpu);
	*fpu = fv.fpu[cpu];
	return 0;
}

int debug_set_fpu(struct vm *vm, int cpu, const struct kvm_fpu *fpu)
{
	check_cpu(cpu);
	fv.fpu[cpu] = *fpu;
	return 0;
}

static int msr_slot(uint32_t index)
{
	switch (index) {
	case 0xc0000100: return 0; /* FS_BASE */
	case 0xc0000101: return 1; /* GS_BASE */
	case 0xc0000102: return 2; /* KERNEL_GS_BASE */
	case 0xc0000080: return 3; /* EFER */
	}
	return -1;
}

int debug_get_msr(struct vm *vm, int cpu, uint32_t index, uint64_t *val)
{
	check_cpu(cpu);
	if (msr_slot(index) < 0)
		return -EINVAL;
	*val = fv.msr[cpu][msr_slot(index)];
	return 0;
}

int debug_set_msr(struct vm *vm, int cpu, uint32_t index, uint64_t val)
{
	check_cpu(cpu);
	if (msr_slot(index) < 0)
		return -EINVAL;
	fv.msr[cpu][msr_slot(index)] = val;
	return 0;
}

/* Odd vCPUs are halted (the stub's thread list says so). */
int vm_get_mp_state(struct vm *vm, int cpu, uint32_t *mp_state)
{
	check_cpu(cpu);
	*mp_state = cpu & 1 ? KVM_MP_STATE_HALTED : KVM_MP_STATE_RUNNABLE;
	return 0;
}

/* The mapped byte at GVA, or NULL. */
static uint8_t *fake_byte(uint64_t gva)
{
	if (gva >= LOW_GVA && gva - LOW_GVA < FAKE_MEM)
		return &fv.low[gva - LOW_GVA];
	if (gva >= HIGH_GVA && gva - HIGH_GVA < FAKE_MEM)
		return &fv.high[gva - HIGH_GVA];
	return NULL;
}

static uint64_t fake_copy(int cpu, uint64_t gva, uint8_t *dst, const uint8_t *src, uint64_t len)
{
	uint64_t done;

	check_cpu(cpu);
	FZ_CHECK(len <= RSP_PACKET_SIZE + 8, "memory access of %llu bytes", (unsigned long long)len);
	for (done = 0; done < len; done++) {
		uint8_t *b = fake_byte(gva + done);

		if (!b)
			break;
		if (dst)
			dst[done] = *b;
		else
			*b = src[done];
	}
	return done;
}

uint64_t debug_read_virt(struct vm *vm, int cpu, uint64_t gva, void *dst, uint64_t len)
{
	return fake_copy(cpu, gva, dst, NULL, len);
}

uint64_t debug_write_virt(struct vm *vm, int cpu, uint64_t gva, const void *src, uint64_t len)
{
	return fake_copy(cpu, gva, NULL, src, len);
}

int debug_attach_evloop(struct vm *vm, struct evloop *loop)
{
	return 0;
}

int debug_add_listener(struct vm *vm, debug_stop_fn fn, void *opaque)
{
	return 0;
}

void debug_remove_listener(struct vm *vm, debug_stop_fn fn, void *opaque)
{
}

int debug_sw_insert(struct vm *vm, int cpu, uint64_t addr, enum debug_owner who)
{
	check_cpu(cpu);
	FZ_CHECK(who == DEBUG_OWNER_GDB, "gdb inserted for owner %d", who);
	if (!fake_byte(addr))
		return -EFAULT;
	for (int i = 0; i < fv.nsw; i++)
		if (fv.sw[i] == addr)
			return 0;
	if (fv.nsw == DEBUG_MAX_SW_BPS)
		return -ENOSPC;
	fv.sw[fv.nsw++] = addr;
	return 0;
}

int debug_sw_remove(struct vm *vm, int cpu, uint64_t addr, enum debug_owner who)
{
	check_cpu(cpu);
	for (int i = 0; i < fv.nsw; i++)
		if (fv.sw[i] == addr) {
			fv.sw[i] = fv.sw[--fv.nsw];
			return 0;
		}
	return -ENOENT;
}

int debug_hw_insert(struct vm *vm, enum debug_hw_type type, uint64_t addr, uint64_t len,
		    enum debug_owner who)
{
	FZ_CHECK(type == DEBUG_HW_EXEC || type == DEBUG_HW_WRITE || type == DEBUG_HW_ACCESS,
		 "hw type %d", type);
	if (len != 1 && len != 2 && len != 4 && len != 8)
		return -EINVAL;
	for (int i = 0; i < DEBUG_HW_SLOTS; i++)
		if (!fv.hw[i].used) {
			fv.hw[i].used = true;
			fv.hw[i].type = type;
			fv.hw[i].addr = addr;
			fv.hw[i].len = len;
			return 0;
		}
	return -ENOSPC;
}

int debug_hw_remove(struct vm *vm, enum debug_hw_type type, uint64_t addr, uint64_t len,
		    enum debug_owner who)
{
	for (int i = 0; i < DEBUG_HW_SLOTS; i++)
		if (fv.hw[i].used && fv.hw[i].type == type && fv.hw[i].addr == addr) {
			fv.hw[i].used = false;
			return 0;
		}
	return -ENOENT;
}

void debug_remove_all(struct vm *vm, enum debug_owner who)
{
	fv.nsw = 0;
	memset(fv.hw, 0, sizeof(fv.hw));
}

size_t debug_format_breaks(struct vm *vm, char *buf, size_t size)
{
	size_t n = 0;

	if (size)
		buf[0] = '\0';
	for (int i = 0; i < fv.nsw && n < size; i++)
		n += (size_t)snprintf(buf + n, size - n, "sw %#llx\n", (unsigned long long)fv.sw[i]);
	return n < size ? n : size ? size - 1 : 0;
}

int debug_stop_all(struct vm *vm)
{
	if (!fv.stopped) {
		fv.stopped = true;
		fv.have_event = true;
		fv.ev = (struct debug_event){ .reason = DEBUG_STOP_INTERRUPT, .cpu = 0, .slot = -1 };
	}
	return 0;
}

bool debug_is_stopped(struct vm *vm)
{
	return fv.stopped;
}

void debug_wait_stopped(struct vm *vm)
{
}

bool debug_take_event(struct vm *vm, struct debug_event *ev)
{
	if (!fv.have_event)
		return false;
	*ev = fv.ev;
	fv.have_event = false;
	return true;
}

int debug_resume(struct vm *vm, const enum debug_action *acts)
{
	if (acts)
		for (int i = 0; i < fake_vm.ncpus; i++)
			FZ_CHECK(acts[i] == DEBUG_ACT_STOP || acts[i] == DEBUG_ACT_CONT ||
					 acts[i] == DEBUG_ACT_STEP,
				 "action %d for vCPU %d", acts[i], i);
	fv.stopped = false;
	return 0;
}

void debug_clear_events(struct vm *vm)
{
	fv.have_event = false;
}

int debug_kaslr_slide(struct vm *vm, int64_t *slide)
{
	if (!fv.kaslr)
		return -ENOENT;
	*slide = 0x1e00000;
	return 0;
}

/* --- the harness ---------------------------------------------------------------------- */

static void monitor(void *opaque, const char *cmd, char **out)
{
	size_t n = strlen(cmd), reps = n && cmd[0] == 'x' ? 3000 : 1;
	char *s = malloc(n * reps + 2);

	if (!s) {
		*out = NULL;
		return;
	}
	for (size_t i = 0; i < reps; i++)
		memcpy(s + i * n, cmd, n);
	s[n * reps] = '\n';
	s[n * reps + 1] = '\0';
	*out = s;
}

static struct gdbstub *stub;
static struct evloop loop;
static int gdb_fd = -1;
static struct rsp check, shadow, again;
static uint8_t *enc;

/*
 * The wire, in memory: the stub's read() and write() on its client socket are wrapped
 * (--wrap=read,write), so feeding it a chunk costs no syscalls (it was ten per chunk, and
 * most chunks are a byte). The socket stays real, for close() and the event loop; other
 * fds go to the real calls. A full wire answers EAGAIN, as the socket did.
 */
#define WIRE_CAP (1u << 20) /* the socket buffers the harness asked for */

static struct {
	const uint8_t *in; /* gdb's bytes the stub has not read */
	size_t in_len;
	uint8_t *out; /* the stub's bytes gdb has not read */
	size_t out_len;
} wire;

ssize_t __real_read(int fd, void *buf, size_t n);
ssize_t __wrap_read(int fd, void *buf, size_t n);
ssize_t __real_write(int fd, const void *buf, size_t n);
ssize_t __wrap_write(int fd, const void *buf, size_t n);

static bool wired(int fd)
{
	return stub && fd >= 0 && fd == stub->client_fd;
}

ssize_t __wrap_read(int fd, void *buf, size_t n)
{
	if (!wired(fd))
		return __real_read(fd, buf, n);
	if (!wire.in_len) {
		errno = EAGAIN;
		return -1;
	}
	n = n < wire.in_len ? n : wire.in_len;
	memcpy(buf, wire.in, n);
	wire.in += n;
	wire.in_len -= n;
	return (ssize_t)n;
}

ssize_t __wrap_write(int fd, const void *buf, size_t n)
{
	if (!wired(fd))
		return __real_write(fd, buf, n);
	if (wire.out_len == WIRE_CAP) {
		errno = EAGAIN;
		return -1;
	}
	n = n < WIRE_CAP - wire.out_len ? n : WIRE_CAP - wire.out_len;
	memcpy(wire.out + wire.out_len, buf, n);
	wire.out_len += n;
	return (ssize_t)n;
}

/* Fresh connection, as on_listen() makes one. */
static void attach(void)
{
	int sv[2];

	FZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0,
		 "socketpair");
	if (gdb_fd >= 0)
		close(gdb_fd);
	gdb_fd = sv[1];
	stub->client_fd = sv[0];
	stub->no_ack = false;
	stub->running = false;
	stub->out_armed = false;
	stub->out_len = stub->last_len = 0;
	stub->g_cpu = stub->c_cpu = 0;
	rsp_init(stub->rsp);
	debug_stop_all(stub->vm);
	debug_clear_events(stub->vm);
	rsp_init(&check);
	wire.in_len = wire.out_len = 0;
}

/* Read what the stub wrote; every packet in it must be well formed. */
static void drain_replies(void)
{
	for (int round = 0; round < 64; round++) {
		for (size_t i = 0; i < wire.out_len; i++) {
			enum rsp_event e = rsp_feed(&check, wire.out[i]);

			FZ_CHECK(e != RSP_BAD && e != RSP_TOO_LONG,
				 "the stub sent a malformed packet (event %d)", e);
		}
		wire.out_len = 0;
		if (stub->client_fd < 0 || !stub->out_len)
			return;
		on_client(stub, stub->client_fd, EPOLLOUT); /* the socket drained: write the rest */
	}
	FZ_CHECK(!stub->out_len, "stub output stuck at %zu bytes", stub->out_len);
}

/* The parser alone: what rsp_feed makes of the bytes, and a round trip of each packet. */
static void parse_alone(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		enum rsp_event e = rsp_feed(&shadow, p[i]);
		size_t m;

		FZ_CHECK(shadow.len <= RSP_PACKET_SIZE, "rsp holds %zu bytes", shadow.len);
		if (e != RSP_PACKET)
			continue;
		FZ_CHECK(shadow.buf[shadow.len] == '\0', "packet not NUL-terminated");
		m = rsp_encode(shadow.buf, shadow.len, enc, 2 * RSP_PACKET_SIZE + 8);
		FZ_CHECK(m <= 2 * shadow.len + 4, "encoded %zu bytes to %zu", shadow.len, m);
		rsp_init(&again);
		e = RSP_NONE;
		for (size_t k = 0; k < m; k++) {
			enum rsp_event x = rsp_feed(&again, enc[k]);

			if (x != RSP_NONE) {
				FZ_CHECK(k == m - 1, "re-encoded packet ends early (event %d)", x);
				e = x;
			}
		}
		FZ_CHECK(e == RSP_PACKET && again.len == shadow.len &&
				 !memcmp(again.buf, shadow.buf, shadow.len),
			 "round trip of a %zu-byte packet gives event %d, %zu bytes", shadow.len, e,
			 again.len);
	}
}

/*
 * Fix every "$...#xx" checksum in place, so the dispatcher sees packets the
 * fuzzer could not otherwise get past the checksum.
 */
static void fix_checksums(uint8_t *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		uint8_t sum = 0;
		size_t k;

		if (p[i] != '$')
			continue;
		for (k = i + 1; k < n && p[k] != '#' && p[k] != '$'; k++)
			sum += p[k];
		if (k + 2 < n && p[k] == '#') {
			p[k + 1] = (uint8_t)hex[sum >> 4];
			p[k + 2] = (uint8_t)hex[sum & 15];
		}
		i = k - 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t fixed[1 << 20];
	size_t chunk, off;

	if (size < 2)
		return 0;
	fz_quiet_logs();
	if (!stub) {
		FZ_CHECK(evloop_init(&loop) == 0, "evloop_init");
		stub = calloc(1, sizeof(*stub));
		stub->vm = &fake_vm;
		stub->loop = &loop;
		stub->listen_fd = stub->client_fd = -1;
		stub->monitor = monitor;
		stub->rsp = malloc(sizeof(*stub->rsp));
		stub->out = malloc(OUT_CAP);
		stub->last = malloc(2 * RSP_PACKET_SIZE + 8);
		stub->reply = malloc(2 * RSP_PACKET_SIZE + 8);
		stub->scratch = malloc(RSP_PACKET_SIZE + 8);
		enc = malloc(2 * RSP_PACKET_SIZE + 8);
		wire.out = malloc(WIRE_CAP);
		fake_vm_template();
	}
	fv = fv_template; /* a struct copy: no per-byte loop for the fuzzer to instrument */
	fake_vm.ncpus = 1 + data[0] % 4;
	fv.kaslr = data[0] & 0x10;
	stub->monitor = data[0] & 0x20 ? NULL : monitor;
	chunk = 1 + (size_t)data[1] * 64;
	if (!(data[0] & 0x40) && size - 2 <= sizeof(fixed)) {
		memcpy(fixed, data + 2, size - 2);
		fix_checksums(fixed, size - 2);
		data = fixed;
	} else {
		data += 2;
	}
	size -= 2;
	attach();
	rsp_init(&shadow);
	parse_alone(data, size);

	for (off = 0; off < size; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;

		if (stub->client_fd < 0)
			attach(); /* gdb reconnects after `k` or a dropped connection */
		wire.in = data + off;
		wire.in_len = n;
		on_client(stub, stub->client_fd, EPOLLIN);
		FZ_CHECK(!wire.in_len || stub->client_fd < 0, "the stub left %zu bytes unread",
			 wire.in_len);
		if (stub->client_fd >= 0)
			drain_replies();
		if (stub->client_fd >= 0 && !fv.stopped) {
			/* The VM ran: it stops again, the way a breakpoint or a step ends. */
			static const enum debug_stop_reason why[] = {
				DEBUG_STOP_SWBREAK, DEBUG_STOP_HWBREAK, DEBUG_STOP_WATCH,
				DEBUG_STOP_AWATCH,  DEBUG_STOP_STEP,    DEBUG_STOP_TRAP,
			};

			fv.stopped = true;
			fv.have_event = true;
			fv.ev = (struct debug_event){ .reason = why[fv.stops % 6],
						      .cpu = (int)(fv.stops % 5) - 1 + (fv.stops % 7 == 0) * 9,
						      .slot = (int)(fv.stops % 5) - 1,
						      .addr = HIGH_GVA + fv.stops,
						      .pc = HIGH_GVA + 2 * fv.stops };
			fv.stops++;
			on_debug_stop(stub);
			if (stub->client_fd >= 0)
				drain_replies();
		}
	}
	if (stub->client_fd >= 0) {
		close(stub->client_fd);
		stub->client_fd = -1;
	}
	return 0;
}
