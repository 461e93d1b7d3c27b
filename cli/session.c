#include "session.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "emu/log.h"
#include "emu/vm_reboot.h"
#include "cli/cmd.h"
#include "cli/repl.h"
#include "cli/script.h"
#include "cli/snapshot.h"
#include "gdbstub/gdbstub.h"

/* The session whose main thread prints log lines (log_writer), and that thread. */
static struct session *log_session;
static pthread_t main_thread;

static void record_history(struct session *s, const uint8_t *buf, size_t len)
{
	if (len >= SESSION_HISTORY_CAP) {
		buf += len - SESSION_HISTORY_CAP;
		s->history_total += len - SESSION_HISTORY_CAP;
		len = SESSION_HISTORY_CAP;
	}
	if (s->history_len + len > SESSION_HISTORY_CAP) {
		size_t drop = s->history_len + len - SESSION_HISTORY_CAP;

		memmove(s->history, s->history + drop, s->history_len - drop);
		s->history_len -= drop;
	}
	memcpy(s->history + s->history_len, buf, len);
	s->history_len += len;
	s->history_total += len;
}

static bool com1_is_stdio(const struct session *s)
{
	return s->ports.serial.kind == PORT_KIND_STDIO;
}

void session_guest_output(struct session *s, int src, const uint8_t *buf, size_t len)
{
	if (src == TERMOUT_COM1 && !com1_is_stdio(s))
		ports_serial_output(&s->ports, buf, len);
	else if (!s->prompt_focus)
		termout_write(&s->out, src, s->console_fd, buf, len);
	record_history(s, buf, len);
	if (!s->panic_at && panic_watch_feed(&s->panic, buf, len))
		s->panic_at = now_ns();
	if (s->on_console_output)
		s->on_console_output(s, buf, len);
	snapshot_console_output(s, buf, len);
}

void session_print(struct session *s, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (pthread_equal(pthread_self(), main_thread))
		termout_text(&s->out, STDERR_FILENO, line);
	else
		termout_post(&s->out, STDERR_FILENO, line);
}

/* log_writer: every message line through the main thread's termout. */
static void log_to_termout(const char *line)
{
	struct session *s = log_session;

	if (pthread_equal(pthread_self(), main_thread))
		termout_text(&s->out, STDERR_FILENO, line);
	else
		termout_post(&s->out, STDERR_FILENO, line);
}

static void stdio_port_out(void *opaque, int port, const uint8_t *buf, size_t len)
{
	session_guest_output(opaque, TERMOUT_PORT0 + port, buf, len);
}

static bool stdio_room(void *opaque)
{
	struct session *s = opaque;

	return termout_room(&s->out);
}

static void on_console_out(void *opaque, int fd, uint32_t events)
{
	struct session *s = opaque;
	uint8_t buf[PORT_SERIAL_CHUNK];
	static bool draining;
	size_t n;
	bool room;

	/* A backend's room callback from inside this loop: the loop looks at the room itself. */
	if (draining)
		return;
	draining = true;
	while ((room = ports_serial_room(&s->ports)) &&
	       (n = hostbuf_take(&s->vm.console_out, buf, sizeof(buf))) > 0)
		session_guest_output(s, TERMOUT_COM1, buf, n);
	/* A slow COM1 client: the UART's buffer fills and slows the guest until there is room. */
	if (room == s->com1_held) {
		s->com1_held = !room;
		evloop_mod(&s->loop, s->vm.console_out.event_fd, room ? EPOLLIN : 0);
	}
	draining = false;
}

void session_pull_console(struct session *s)
{
	static bool pulling;

	if (pulling)
		return;
	pulling = true;
	on_console_out(s, -1, 0);
	ports_drain_stdio(&s->ports);
	pulling = false;
}

static void pull_console(void *opaque)
{
	session_pull_console(opaque);
}

static bool guest_running(void *opaque)
{
	struct session *s = opaque;

	return !vm_ended(&s->vm) && !vm_is_paused(&s->vm);
}

static void serial_room(void *opaque)
{
	on_console_out(opaque, -1, 0);
}

static size_t serial_input_room(void *opaque)
{
	struct session *s = opaque;

	return SESSION_INPUT_CAP - s->input_len;
}

static void arm_retry(struct session *s, bool on)
{
	struct itimerspec its = { 0 };

	if (on)
		its.it_value.tv_nsec = its.it_interval.tv_nsec = 5 * 1000 * 1000;
	timerfd_settime(s->retry_fd, 0, &its, NULL);
}

static void push_input(struct session *s)
{
	size_t n = uart_receive(s->vm.com1, s->input, s->input_len);

	memmove(s->input, s->input + n, s->input_len - n);
	s->input_len -= n;
	arm_retry(s, s->input_len > 0);
	if (n)
		ports_serial_input_resume(&s->ports);
	if (n && s->stdin_held && s->stdin_open &&
	    !evloop_mod(&s->loop, s->stdin_watch, EPOLLIN))
		s->stdin_held = false;
}

/* COM1 input from its unix socket client (at most serial_input_room bytes). */
static void serial_input(void *opaque, const uint8_t *buf, size_t len)
{
	struct session *s = opaque;

	memcpy(s->input + s->input_len, buf, len);
	s->input_len += len;
	push_input(s);
}

void session_terminal_input(struct session *s, const uint8_t *buf, size_t len)
{
	ports_stdio_input(&s->ports, buf, len);
	if (!com1_is_stdio(s) || !len)
		return;
	if (len > SESSION_INPUT_CAP - s->input_len)
		len = SESSION_INPUT_CAP - s->input_len;
	memcpy(s->input + s->input_len, buf, len);
	s->input_len += len;
	push_input(s);
}

static void on_retry(void *opaque, int fd, uint32_t events)
{
	struct session *s = opaque;
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0) {
		/* Spurious wake-up. */
	}
	push_input(s);
}

/* Every vCPU's registers, taken while all are paused. */
static void dump_cpus(struct session *s)
{
	char regs[4096], *save;

	vm_pause(&s->vm);
	for (int i = 0; i < s->vm.ncpus; i++) {
		vm_format_regs(&s->vm, i, regs, sizeof(regs));
		for (char *line = strtok_r(regs, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			session_print(s, "  %s", line);
		session_print(s, "  exits=%llu last_exit_reason=%u emulated=%llu",
			      (unsigned long long)s->vm.vcpus[i].exits, s->vm.vcpus[i].last_exit_reason,
			      (unsigned long long)s->vm.vcpus[i].emulated);
	}
	vm_resume(&s->vm);
}

static void dump_console(struct session *s)
{
	struct console_snapshot snap;

	console_snapshot(&s->console, &snap);
	session_print(s, "  virtio-console: status 0x%x, features 0x%llx, device_ready %d, irqs %llu",
		      snap.status, (unsigned long long)snap.driver_features, snap.device_ready,
		      (unsigned long long)snap.irqs_raised);
	for (int i = 0; i < CONSOLE_NR_PORTS; i++)
		session_print(s, "  port %d %s: readied %d open %d, tx %llu bytes, host_tx %zu, "
			      "pending_rx %zu, rx %llu bytes", i, snap.port[i].name,
			      snap.port[i].readied, snap.port[i].guest_open,
			      (unsigned long long)snap.port[i].tx_bytes, snap.port[i].host_tx,
			      snap.port[i].pending_rx, (unsigned long long)snap.port[i].rx_bytes);
	for (int q = 0; q < CONSOLE_NR_QUEUES; q++) {
		const struct vq_snapshot *v = &snap.vq[q];

		session_print(s, "  vq %d: size %u ready %d%s avail %u last_avail %u used %u, "
			      "notifies %llu interrupts %llu popped %llu%s%s", q, v->size, v->ready,
			      v->broken ? " BROKEN" : "", v->guest_avail_idx, v->last_avail_idx,
			      v->used_idx, (unsigned long long)v->notifies,
			      (unsigned long long)v->interrupts, (unsigned long long)v->popped,
			      v->broken ? ": " : "", v->broken ? v->broken_reason : "");
	}
}

static void status_line(struct session *s)
{
	session_print(s, "vmdbg: up %.1fs, %d vCPU(s), %s", vm_uptime_ns(&s->vm) / 1e9, s->vm.ncpus,
		      vm_is_paused(&s->vm) ? "paused" : "running");
}

static void on_stdin(void *opaque, int fd, uint32_t events)
{
	struct session *s = opaque;
	uint8_t in[512], out[512];
	/* Typed bytes for COM1 wait in s->input: read no more than it can take. */
	size_t room = com1_is_stdio(s) ? SESSION_INPUT_CAP - s->input_len : sizeof(in), off = 0;
	ssize_t r;

	if (s->prompt_focus && s->opts.repl) {
		repl_on_stdin(s);
		return;
	}
	/*
	 * COM1 cannot take more yet (piped input outruns the guest): stop reading rather
	 * than drop bytes; a read of 0 bytes would also look like the end of input.
	 */
	if (!room) {
		if (!evloop_mod(&s->loop, s->stdin_watch, 0))
			s->stdin_held = true;
		return;
	}
	r = read(STDIN_FILENO, in, sizeof(in) < room ? sizeof(in) : room);

	if (r <= 0) {
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			return;
		/* End of input (a pipe or /dev/null): the guest keeps running. */
		evloop_del(&s->loop, s->stdin_watch);
		if (s->stdin_watch != STDIN_FILENO)
			close(s->stdin_watch);
		s->stdin_open = false;
		return;
	}
	while (off < (size_t)r) {
		enum term_action action;
		size_t used, n = term_filter(&s->esc, in + off, r - off, out, &action, &used);

		session_terminal_input(s, out, n);
		off += used;
		switch (action) {
		case TERM_QUIT:
			vm_end(&s->vm, VM_END_USER, "quit (C-a x)");
			break;
		case TERM_HELP:
			termout_text(&s->out, STDERR_FILENO, term_help_text);
			break;
		case TERM_SWITCH:
			if (s->opts.repl) {
				/* The rest of this read belongs to the prompt now. */
				repl_toggle(s);
				return;
			}
			session_print(s, "vmdbg: no command prompt in this session (start vmdbg with --repl)");
			break;
		case TERM_STATUS:
			status_line(s);
			break;
		case TERM_NONE:
			break;
		}
	}
}

static void on_signal(void *opaque, int fd, uint32_t events)
{
	struct session *s = opaque;
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGQUIT) {
		/* Like a JVM's thread dump: where is every vCPU, without ending the run. */
		session_print(s, "vmdbg: SIGQUIT: state at %.3fs", vm_uptime_ns(&s->vm) / 1e9);
		dump_cpus(s);
		dump_console(s);
		return;
	}
	/* Asked to end: a stalled reader gets a second, not ten, for what is left. */
	s->out.final_wait_ms = 1000;
	vm_end(&s->vm, VM_END_USER, "terminated by signal %u (%s)", si.ssi_signo,
	       strsignal(si.ssi_signo));
}

/* --reboot: the guest asked for a reset, and every vCPU is parking (vm_reboot_request). */
static void reboot_machine(struct session *s)
{
	char err[256];

	vm_pause(&s->vm);
	/* The devices first, while the rings the guest published are still in RAM as it left them. */
	console_machine_reset(&s->console);
	if (vm_reboot(&s->vm, err, sizeof(err))) {
		session_print(s, "vmdbg: the guest asked for a reboot, which failed: %s", err);
		vm_end(&s->vm, VM_END_CRASH, "reboot failed: %s", err);
	} else {
		snprintf(err, sizeof(err), "guest reboot %u: machine reset, kernel loaded again",
			 s->vm.reboots);
		session_print(s, "vmdbg: %s, RAM kept", err);
		gdb_note_change(s->gdb, err);
		cmd_note_reboot(s);
	}
	vm_resume(&s->vm); /* vm_pause's */
	vm_resume(&s->vm); /* vm_reboot_request's */
}

static void on_vm_event(void *opaque, int fd, uint32_t events)
{
	struct session *s = opaque;
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0) {
		/* Already drained. */
	}
	if (vm_reboot_take(&s->vm) && !vm_ended(&s->vm))
		reboot_machine(s);
}

static void report_panic(struct session *s)
{
	session_print(s, "vmdbg: the guest kernel panicked");
	dump_cpus(s);
	vm_end(&s->vm, VM_END_CRASH, "guest kernel panic");
}

/* Blocked before any thread starts, so every thread inherits it and only signalfd sees them. */
static void block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGQUIT);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void raise_console_irq(void *opaque)
{
	int fd = (int)(intptr_t)opaque;
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) < 0)
		log_warn("virtio-console irqfd: %s", strerror(errno));
}

static void on_console_event(void *opaque, const struct console_event *ev)
{
	struct session *s = opaque;

	if (s->on_device_event)
		s->on_device_event(s, ev);
}

/* --trace KINDS[:FILE] is the REPL's `trace on KINDS [FILE]` from the first instruction. */
static int start_trace(struct session *s, const char *spec, char *err, size_t errlen)
{
	const char *colon = strchr(spec, ':');
	struct cmd_out out;
	char line[1024];
	int r;

	if (colon)
		snprintf(line, sizeof(line), "trace on %.*s \"%s\"", (int)(colon - spec), spec,
			 colon + 1);
	else
		snprintf(line, sizeof(line), "trace on %s", spec);
	cmd_out_init(&out, false);
	r = cmd_exec(s, line, &out);
	if (r != CMD_OK)
		snprintf(err, errlen, "--trace %s: %.*s", spec,
			 (int)strcspn(out.buf ? out.buf : "", "\n"), out.buf ? out.buf : "");
	cmd_out_free(&out);
	return r == CMD_OK ? 0 : -EINVAL;
}

static int setup(struct session *s, char *err, size_t errlen)
{
	const struct options *o = &s->opts;
	struct vm_config cfg = {
		.kernel = o->kernel,
		.initrd = o->initrd,
		.append = o->append,
		.mem_size = o->mem_size,
		.ncpus = o->cpus,
		.cpuid_filter = o->cpuid,
		.virtio_cmdline = o->virtio_cmdline,
		.serial2_path = o->serial2,
		.pvm_workarounds = o->pvm_workarounds,
		.reboot = o->reboot,
	};
	sigset_t set;
	int irqfd, r;

	block_signals(&set);
	if (o->profile && (r = cmd_profile_run_check(o->profile, err, errlen)))
		return r;
	if (o->restore && (r = snapshot_restore_config(s, &cfg, err, errlen)))
		return r;
	r = vm_create(&s->vm, &cfg, err, errlen);
	if (r)
		return r;
	r = evloop_init(&s->loop);
	if (!r)
		r = termout_init(&s->out, &s->loop, pull_console, guest_running, s);
	if (!r) {
		/* From here every message line goes out whole, between guest lines. */
		main_thread = pthread_self();
		log_session = s;
		log_writer = log_to_termout;
	}
	if (!r)
		r = console_init(&s->console, &s->vm.mem);
	if (r)
		return snprintf(err, errlen, "cannot set up the console: %s", strerror(-r)), r;
	r = vm_add_mmio_device(&s->vm, &virtio_mmio_bus_ops, &s->console.mmio, "virtio-console",
			       &irqfd);
	if (r < 0)
		return snprintf(err, errlen, "cannot attach the console: %s", strerror(-r)), r;
	console_set_irq(&s->console, raise_console_irq, (void *)(intptr_t)irqfd);
	/* The kernel and initrd (or the snapshot) are checked before anything else is announced. */
	r = o->restore ? snapshot_restore_machine(s, err, errlen) : vm_load(&s->vm, err, errlen);
	if (r)
		return r;
	s->console.on_event = on_console_event;
	s->console.event_opaque = s;
	s->ports.stdio_out = stdio_port_out;
	s->ports.stdio_room = stdio_room;
	s->ports.stdio_opaque = s;
	s->ports.serial_room = serial_room;
	s->ports.serial_input_room = serial_input_room;
	s->ports.serial_input = serial_input;
	r = ports_serial_init(&s->ports, &s->loop, &o->serial, err, errlen);
	if (!r)
		r = ports_init(&s->ports, &s->console, &s->loop, o->ports, err, errlen);
	if (r) {
		if (!err[0])
			snprintf(err, errlen, "cannot set up the console ports: %s", strerror(-r));
		return r;
	}
	/* A restored console may hold guest output the host has not read yet. */
	if (o->restore) {
		ports_host_wake(&s->ports, CONSOLE_WAKE_GROUP_CONSOLE);
		ports_host_wake(&s->ports, CONSOLE_WAKE_GROUP_STATS);
	}
	s->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	s->retry_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (s->sigfd < 0 || s->retry_fd < 0)
		return snprintf(err, errlen, "cannot set up the event loop: %s", strerror(errno)), -errno;
	s->out.stop_fd = s->sigfd; /* a signal ends the wait for a stalled reader at the end */
	evloop_add(&s->loop, s->vm.console_out.event_fd, EPOLLIN, on_console_out, s);
	evloop_add(&s->loop, s->vm.event_fd, EPOLLIN, on_vm_event, s);
	evloop_add(&s->loop, s->sigfd, EPOLLIN, on_signal, s);
	evloop_add(&s->loop, s->retry_fd, EPOLLIN, on_retry, s);
	s->stdin_watch = STDIN_FILENO;
	r = evloop_add(&s->loop, STDIN_FILENO, EPOLLIN, on_stdin, s);
	s->stdin_open = r == 0;
	/*
	 * epoll refuses a regular file (`< input.txt`), which never blocks: an eventfd left
	 * readable stands for it until its end (the REPL reads such a file its own way).
	 */
	if (r == -EPERM && !o->repl) {
		uint64_t one = 1;

		s->stdin_watch = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		s->stdin_open = s->stdin_watch >= 0 && write(s->stdin_watch, &one, sizeof(one)) > 0 &&
				evloop_add(&s->loop, s->stdin_watch, EPOLLIN, on_stdin, s) == 0;
	}
	cmd_session_init(s);
	if (o->trace && (r = start_trace(s, o->trace, err, errlen)))
		return r;
	/* The control log and the trace begin at the snapshot: they say so, as a load does. */
	if (o->restore)
		cmd_note_snapshot_loaded(s, o->restore);
	if (o->gdb) {
		struct gdbstub *g;

		/* Before the vCPUs exist, so --gdb-wait holds them before their first instruction. */
		r = gdb_start(&g, &s->vm, &s->loop, o->gdb, o->gdb_wait, cmd_monitor, s, err, errlen);
		if (r)
			return r;
		s->gdb = g;
		gdb_on_attach(g, cmd_gdb_attached, s);
	}
	if (o->script && (r = script_start(s, o->script, err, errlen)))
		return r;
	if (o->repl && (r = repl_start(s)))
		return snprintf(err, errlen, "cannot start the prompt: %s", strerror(-r)), r;
	r = vm_start(&s->vm, err, errlen);
	/* After vm_start: the sampler reads the vCPU threads it made. */
	if (!r && o->profile)
		r = cmd_profile_run_start(s, o->profile, err, errlen);
	return r ? r : snapshot_at_start(s, err, errlen);
}

int session_run(const struct options *o)
{
	struct session *s = calloc(1, sizeof(*s));
	char err[512] = "";
	int status;

	if (!s || !(s->history = malloc(SESSION_HISTORY_CAP))) {
		fprintf(stderr, "vmdbg: out of memory\n");
		free(s);
		return EXIT_USAGE;
	}
	s->opts = *o;
	s->console_fd = o->json ? STDERR_FILENO : STDOUT_FILENO;
	s->exit_status = -1;
	s->sigfd = s->retry_fd = -1;
	s->loop.epfd = -1;
	if (setup(s, err, sizeof(err))) {
		s->out.pull = NULL; /* the machine may be half built: only what was posted */
		termout_flush(&s->out);
		log_writer = NULL;
		fprintf(stderr, "vmdbg: %s\n", err);
		status = EXIT_USAGE;
		goto out;
	}
	term_raw();
	while (!vm_ended(&s->vm)) {
		evloop_run_once(&s->loop, s->panic_at ? 200 : -1);
		/* Let the panic message finish printing before the registers. */
		if (s->panic_at && now_ns() - s->panic_at > 200 * 1000000ULL)
			report_panic(s);
	}
	/* Whatever the guest printed before the end is shown. */
	vm_pause(&s->vm);
	on_console_out(s, -1, 0);
	if (s->opts.profile) {
		/* A profile that cannot be written fails the run, unless the guest crashed. */
		if (cmd_profile_run_end(s, s->opts.profile, err, sizeof(err)) && s->exit_status <= 0 &&
		    s->vm.end_status != VM_END_CRASH)
			s->exit_status = EXIT_USAGE;
		session_print(s, "vmdbg: %s", err);
	}
	/*
	 * The final drain: tx chains the guest published but never notified (a rebooting or
	 * powering-off kernel leaves its last frames so) are captured, as a device reset does,
	 * and reach the port backends with everything else.
	 */
	console_machine_reset(&s->console);
	ports_flush(&s->ports, 10000);
	termout_flush(&s->out);
	log_writer = NULL; /* the vCPU threads are parked: no guest line left to wait for */
	if (s->opts.repl)
		repl_stop(s);
	term_restore();
	status = s->exit_status >= 0 ? s->exit_status
	       : s->vm.end_status == VM_END_NONE ? EXIT_OK
					       : s->vm.end_status;
	/* Through termout: a stderr nobody reads must not hold the exit. */
	snprintf(err, sizeof(err), "\nvmdbg: %s (exit %d, %.2fs)\n", s->vm.end_reason, status,
		 vm_uptime_ns(&s->vm) / 1e9);
	termout_text(&s->out, STDERR_FILENO, err);
	termout_flush(&s->out);
out:
	if (s->gdb)
		gdb_stop(s->gdb);
	script_free(s);
	snapshot_free(s);
	cmd_session_free(s);
	vm_destroy(&s->vm);
	ports_free(&s->ports);
	console_free(&s->console);
	evloop_free(&s->loop);
	if (s->sigfd >= 0)
		close(s->sigfd);
	if (s->retry_fd >= 0)
		close(s->retry_fd);
	log_writer = NULL;
	log_session = NULL;
	termout_free(&s->out);
	free(s->history);
	free(s);
	return status;
}
