#include "session.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "emu/log.h"
#include "emu/vm.h"
#include "panic_watch.h"
#include "term.h"

#define INPUT_CAP 4096

struct session {
	struct vm vm;
	int epfd, sigfd, retry_fd;
	bool stdin_open;
	struct term_escape esc;
	uint8_t input[INPUT_CAP]; /* typed bytes the UART has no room for yet */
	size_t input_len;
	struct panic_watch panic;
	uint64_t panic_at;        /* when "Kernel panic" was seen (ns), 0 if not */
};

enum { EV_STDIN = 1, EV_CONSOLE, EV_VM, EV_SIGNAL, EV_RETRY };

static int ep_add(int epfd, int fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return;
		}
		p += w;
		len -= (size_t)w;
	}
}

static void drain_console(struct session *s)
{
	uint8_t buf[8192];
	size_t n;

	while ((n = hostbuf_take(&s->vm.console_out, buf, sizeof(buf))) > 0) {
		write_all(STDOUT_FILENO, buf, n);
		if (!s->panic_at && panic_watch_feed(&s->panic, buf, n))
			s->panic_at = now_ns();
	}
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
}

static void status_line(struct session *s)
{
	fprintf(stderr, "\r\nvmdbg: up %.1fs, %d vCPU(s), %s\r\n", vm_uptime_ns(&s->vm) / 1e9,
		s->vm.ncpus, vm_is_paused(&s->vm) ? "paused" : "running");
}

static void read_stdin(struct session *s)
{
	uint8_t in[512], out[512];
	ssize_t r;
	size_t off = 0;

	r = read(STDIN_FILENO, in, sizeof(in) < INPUT_CAP - s->input_len ? sizeof(in)
									     : INPUT_CAP - s->input_len);
	if (r <= 0) {
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			return;
		/* End of input (a pipe or /dev/null): the guest keeps running. */
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, STDIN_FILENO, NULL);
		s->stdin_open = false;
		return;
	}
	while (off < (size_t)r) {
		enum term_action action;
		size_t used, n = term_filter(&s->esc, in + off, r - off, out, &action, &used);

		memcpy(s->input + s->input_len, out, n);
		s->input_len += n;
		off += used;
		switch (action) {
		case TERM_QUIT:
			vm_end(&s->vm, VM_END_USER, "quit (C-a x)");
			break;
		case TERM_HELP:
			fputs(term_help_text, stderr);
			break;
		case TERM_SWITCH:
			fputs("\r\nvmdbg: no command prompt in this session (start vmdbg with --repl)\r\n",
			      stderr);
			break;
		case TERM_STATUS:
			status_line(s);
			break;
		case TERM_NONE:
			break;
		}
	}
	if (s->input_len)
		push_input(s);
}

static void handle_signal(struct session *s)
{
	struct signalfd_siginfo si;

	if (read(s->sigfd, &si, sizeof(si)) != sizeof(si))
		return;
	vm_end(&s->vm, VM_END_USER, "terminated by signal %u (%s)", si.ssi_signo,
	       strsignal(si.ssi_signo));
}

static void report_panic(struct session *s)
{
	char regs[4096];

	vm_pause(&s->vm);
	fprintf(stderr, "\r\nvmdbg: the guest kernel panicked\r\n");
	for (int i = 0; i < s->vm.ncpus; i++) {
		vm_format_regs(&s->vm, i, regs, sizeof(regs));
		for (char *line = strtok(regs, "\n"); line; line = strtok(NULL, "\n"))
			fprintf(stderr, "  %s\r\n", line);
	}
	vm_end(&s->vm, VM_END_CRASH, "guest kernel panic");
}

static int setup_loop(struct session *s)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	s->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	s->retry_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->sigfd < 0 || s->retry_fd < 0 || s->epfd < 0)
		return -errno;
	ep_add(s->epfd, s->vm.console_out.event_fd, EV_CONSOLE);
	ep_add(s->epfd, s->vm.event_fd, EV_VM);
	ep_add(s->epfd, s->sigfd, EV_SIGNAL);
	ep_add(s->epfd, s->retry_fd, EV_RETRY);
	s->stdin_open = ep_add(s->epfd, STDIN_FILENO, EV_STDIN) == 0;
	return 0;
}

static void event_loop(struct session *s)
{
	while (!vm_ended(&s->vm)) {
		struct epoll_event evs[8];
		int timeout = s->panic_at ? 200 : -1;
		int n = epoll_wait(s->epfd, evs, 8, timeout);

		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			uint64_t v;

			switch (evs[i].data.u32) {
			case EV_STDIN:
				read_stdin(s);
				break;
			case EV_CONSOLE:
				drain_console(s);
				break;
			case EV_SIGNAL:
				handle_signal(s);
				break;
			case EV_RETRY:
				if (read(s->retry_fd, &v, sizeof(v)) < 0) {
					/* Spurious wake-up. */
				}
				push_input(s);
				break;
			case EV_VM:
				if (read(s->vm.event_fd, &v, sizeof(v)) < 0) {
					/* Already drained. */
				}
				break;
			}
		}
		/* Let the panic message finish printing before the registers. */
		if (s->panic_at && now_ns() - s->panic_at > 200 * 1000000ULL)
			report_panic(s);
	}
}

int session_run(const struct options *o)
{
	struct session *s = calloc(1, sizeof(*s));
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
	};
	char err[512];
	int status;

	if (!s) {
		fprintf(stderr, "vmdbg: out of memory\n");
		return EXIT_USAGE;
	}
	if (vm_create(&s->vm, &cfg, err, sizeof(err)) || vm_boot(&s->vm, err, sizeof(err))) {
		fprintf(stderr, "vmdbg: %s\n", err);
		vm_destroy(&s->vm);
		free(s);
		return EXIT_USAGE;
	}
	if (setup_loop(s)) {
		fprintf(stderr, "vmdbg: cannot set up the event loop: %s\n", strerror(errno));
		vm_destroy(&s->vm);
		free(s);
		return EXIT_USAGE;
	}
	term_raw();
	event_loop(s);
	/* Whatever the guest printed before the end is shown. */
	vm_pause(&s->vm);
	drain_console(s);
	term_restore();
	status = s->vm.end_status == VM_END_NONE ? EXIT_OK : s->vm.end_status;
	fprintf(stderr, "\nvmdbg: %s (exit %d, %.2fs)\n", s->vm.end_reason, status,
		vm_uptime_ns(&s->vm) / 1e9);
	vm_destroy(&s->vm);
	free(s);
	return status;
}
