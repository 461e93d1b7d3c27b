/*
 * A 16550A UART (FIFOs, THRE/RDA/RLS/MSR interrupts, scratch, divisor
 * latch). Thread-safe: vCPU threads call uart_bus_ops from port-I/O exits
 * while the main thread feeds host input with uart_receive.
 */
#ifndef VMDBG_UART_H
#define VMDBG_UART_H

#include <stddef.h>
#include <stdint.h>

#include "bus.h"

struct uart_host_ops {
	/*
	 * The guest transmitted one byte. Called on the vCPU thread AFTER the
	 * UART lock is released, so it may block (e.g. wait for room in a host
	 * buffer) without stalling uart_receive on the main thread.
	 */
	void (*tx)(void *opaque, uint8_t byte);
	/*
	 * The interrupt line changed level (1 = asserted); called only on a
	 * change, with the UART lock held so levels arrive in order: must not
	 * block or call back into the UART (KVM_IRQ_LINE is fine).
	 */
	void (*set_irq)(void *opaque, int level);
	/*
	 * Optional (may be NULL). After uart_receive refused bytes (or
	 * uart_rx_room returned 0), called once the guest has drained the host
	 * queue to at least half empty, so the caller can retry without
	 * polling. Called with the UART lock held: must not call into the UART;
	 * typically it writes an eventfd.
	 */
	void (*rx_room)(void *opaque);
};

struct uart;

/* NAME is copied (for messages). Returns NULL with errno set on failure. */
struct uart *uart_create(const char *name, const struct uart_host_ops *ops, void *opaque);
void uart_destroy(struct uart *u);

/* Back to the power-on register state; queued host input is kept. */
void uart_reset(struct uart *u);

/*
 * Bus callbacks: register at the port base with length 8.
 * A 2-, 4- or 8-byte access is split into byte accesses at consecutive
 * offsets, low byte first, as an ISA bus (and QEMU) does for an 8-bit
 * device; bytes past the 8 registers read as 0xff and writes to them are
 * dropped. Wider accesses are ignored (reads give all ones). The first odd
 * access is logged once per UART, so a hostile guest cannot flood the log.
 */
extern const struct bus_dev_ops uart_bus_ops;

/*
 * Queue host bytes for the guest to read. Returns how many were accepted:
 * the receive FIFO holds 16 bytes plus a host-side queue of UART_RX_QUEUE
 * so pasted text is not lost; the rest is refused and the caller retries.
 */
#define UART_RX_QUEUE 4096
size_t uart_receive(struct uart *u, const uint8_t *buf, size_t len);

/* Room left for uart_receive. */
size_t uart_rx_room(struct uart *u);

/* The registers and FIFOs, for snapshots (plain data: no pointers). */
struct uart_state {
	uint8_t ier, lcr, mcr, scr, fcr, dll, dlm, lsr_errors, msr;
	uint8_t thr_ipending, irq_level;
	uint8_t rx_fifo[16];
	uint32_t rx_head, rx_count;
	uint8_t queue[UART_RX_QUEUE];
	uint32_t q_head, q_count;
};

void uart_get_state(struct uart *u, struct uart_state *st);
/* 0, or -EINVAL when ST is inconsistent (nothing changed). */
int uart_set_state(struct uart *u, const struct uart_state *st);

#endif
