/*
 * A run of the machine, served by the main thread: the VM, the console device
 * and its port backends, the terminal (guest console or command prompt), the
 * record of guest console output, signals, and the end of the run.
 * The command table (REPL, scripts, gdb monitor) works on this struct.
 */
#ifndef VMDBG_SESSION_H
#define VMDBG_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "emu/evloop.h"
#include "emu/vm.h"
#include "options.h"
#include "panic_watch.h"
#include "ports.h"
#include "term.h"
#include "termout.h"
#include "virtio/console.h"

#define SESSION_INPUT_CAP 4096
#define SESSION_HISTORY_CAP (1u << 20) /* bytes of guest console output kept for `wait console` */

struct session {
	struct options opts;
	struct vm vm;
	struct console console;
	struct ports ports;
	struct evloop loop;
	int sigfd, retry_fd;
	/* stdout and stderr, whole lines (guest console, messages); console_fd takes the console's. */
	struct termout out;
	int console_fd;  /* stdout, or stderr with --json (stdout is JSON's) */
	bool com1_held;  /* COM1's backend is full: the UART's host buffer is not drained */

	/* The terminal: typed bytes go to the guest unless the prompt has the focus. */
	bool stdin_open;
	bool stdin_held; /* not read while COM1's input is full (push_input reads it again) */
	int stdin_watch; /* what the loop watches for stdin: itself, or an eventfd for a file */
	bool prompt_focus;
	struct term_escape esc;
	uint8_t input[SESSION_INPUT_CAP]; /* typed bytes COM1 has no room for yet */
	size_t input_len;

	/* Guest console output (COM1 and stdio ports), newest SESSION_HISTORY_CAP bytes. */
	char *history;
	size_t history_len;
	uint64_t history_total; /* bytes ever seen: an offset survives trimming */

	struct panic_watch panic;
	uint64_t panic_at;
	int exit_status; /* -1: from the VM's end; else forced (a failed script: 1) */

	/* Hooks for the command layers (REPL, scripts, gdb), NULL when unused. */
	void (*on_console_output)(struct session *s, const uint8_t *buf, size_t len);
	void (*on_device_event)(struct session *s, const struct console_event *ev);
	void *repl;
	void *gdb;
	void *snap; /* struct snap_state (snapshot.c) */
};

/* Build the VM from OPTS, boot it and serve it until it ends. Returns the exit status. */
int session_run(const struct options *opts);

/* Guest console bytes of SRC (TERMOUT_COM1, TERMOUT_PORT0 + N): to the terminal or COM1's
 * backend, and into the record. */
void session_guest_output(struct session *s, int src, const uint8_t *buf, size_t len);

/* Bring in the console bytes the guest has produced so far (before a message that follows them). */
void session_pull_console(struct session *s);

/* Bytes typed for the guest (not an escape): the stdio ports, and COM1 when it is stdio. */
void session_terminal_input(struct session *s, const uint8_t *buf, size_t len);

/* Print one line of vmdbg's own output without garbling the guest's or the prompt. */
void session_print(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
