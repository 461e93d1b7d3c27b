/*
 * A 16550A UART as Linux's 8250 driver probes and drives it: the IER
 * read-back test, the loopback test (MSR mirrors MCR), FIFO detection via
 * IIR bits 7:6, and the 16550 THRE interrupt rule (re-raised whenever THRE
 * is set and ETBEI is newly enabled or THR is written; cleared by reading
 * IIR while it is the reported source).
 *
 * Transmit is instant: a THR write goes to the host at once and THRE/TEMT
 * stay set. Receive keeps the chip's 16-byte FIFO (1 byte with FIFOs off)
 * plus a host queue that refills it as the guest reads, so host input is
 * never overrun; only loopback can overrun. Data below the trigger level is
 * reported at once as a character timeout (IIR 0x0C) instead of after four
 * character times, which Linux treats exactly like RDA.
 *
 * The interrupt output is not gated by MCR.OUT2, as in QEMU: guests written
 * against QEMU may leave OUT2 clear, and Linux sets it anyway.
 */
#include <errno.h>
#include <linux/serial_reg.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "uart.h"

#define UART_NR_REGS 8
#define UART_FIFO_SIZE 16
#define UART_IIR_FIFO_BITS 0xc0 /* IIR 7:6 = 11: FIFOs enabled (16550A) */
#define UART_IER_MASK 0x0f      /* a 16550A has no IER bits 7:4 */
#define UART_MCR_MASK 0x1f      /* DTR, RTS, OUT1, OUT2, LOOP */
#define UART_LSR_ERRORS (UART_LSR_OE | UART_LSR_PE | UART_LSR_FE | UART_LSR_BI)
#define UART_MSR_DELTAS (UART_MSR_DCTS | UART_MSR_DDSR | UART_MSR_TERI | UART_MSR_DDCD)
/* Lines a host connection presents when not in loopback: a modem that is always ready. */
#define UART_MSR_HOST_LINES (UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD)

struct uart {
	pthread_mutex_t lock;
	char *name;
	struct uart_host_ops ops;
	void *opaque;

	uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
	uint8_t lsr_errors; /* OE/PE/FE/BI until LSR is read; DR, THRE, TEMT are derived */
	uint8_t msr;        /* line states (7:4) and deltas (3:0) */
	bool thr_ipending;  /* THRE interrupt latched, until IIR reports it or THR is written */
	int irq_level;

	/* The chip's receive FIFO (capacity 1 with FIFOs disabled). */
	uint8_t rx_fifo[UART_FIFO_SIZE];
	unsigned rx_head, rx_count;

	/* Host bytes that have not reached the FIFO yet. */
	uint8_t queue[UART_RX_QUEUE];
	size_t q_head, q_count;
	bool want_room; /* a host writer was refused: call ops.rx_room once there is room */

	bool warned_width, warned_offset;
};

static bool fifo_enabled(const struct uart *u)
{
	return u->fcr & UART_FCR_ENABLE_FIFO;
}

static bool loopback(const struct uart *u)
{
	return u->mcr & UART_MCR_LOOP;
}

static unsigned rx_capacity(const struct uart *u)
{
	return fifo_enabled(u) ? UART_FIFO_SIZE : 1;
}

static unsigned rx_trigger(const struct uart *u)
{
	static const unsigned levels[4] = { 1, 4, 8, 14 };

	return levels[UART_FCR_R_TRIG_BITS(u->fcr)];
}

static uint8_t lsr_value(const struct uart *u)
{
	uint8_t lsr = u->lsr_errors | UART_LSR_THRE | UART_LSR_TEMT;

	if (u->rx_count)
		lsr |= UART_LSR_DR;
	return lsr;
}

/* The highest-priority pending source as IIR bits 3:0, or UART_IIR_NO_INT. */
static uint8_t iir_id(const struct uart *u)
{
	if ((u->ier & UART_IER_RLSI) && (u->lsr_errors & UART_LSR_ERRORS))
		return UART_IIR_RLSI;
	if ((u->ier & UART_IER_RDI) && u->rx_count) {
		if (fifo_enabled(u) && u->rx_count < rx_trigger(u))
			return UART_IIR_RX_TIMEOUT;
		return UART_IIR_RDI;
	}
	if ((u->ier & UART_IER_THRI) && u->thr_ipending)
		return UART_IIR_THRI;
	if ((u->ier & UART_IER_MSI) && (u->msr & UART_MSR_DELTAS))
		return UART_IIR_MSI;
	return UART_IIR_NO_INT;
}

static void update_irq(struct uart *u)
{
	int level = iir_id(u) != UART_IIR_NO_INT;

	if (level == u->irq_level)
		return;
	u->irq_level = level;
	if (u->ops.set_irq)
		u->ops.set_irq(u->opaque, level);
}

static void rx_fifo_push(struct uart *u, uint8_t byte)
{
	u->rx_fifo[(u->rx_head + u->rx_count) % UART_FIFO_SIZE] = byte;
	u->rx_count++;
}

static void rx_fifo_clear(struct uart *u)
{
	u->rx_head = 0;
	u->rx_count = 0;
}

/* Host input reaches the receiver only while the serial input is connected (not in loopback). */
static void rx_refill(struct uart *u)
{
	if (loopback(u))
		return;
	while (u->rx_count < rx_capacity(u) && u->q_count) {
		rx_fifo_push(u, u->queue[u->q_head]);
		u->q_head = (u->q_head + 1) % UART_RX_QUEUE;
		u->q_count--;
	}
	if (u->want_room && UART_RX_QUEUE - u->q_count >= UART_RX_QUEUE / 2) {
		u->want_room = false;
		if (u->ops.rx_room)
			u->ops.rx_room(u->opaque);
	}
}

/* A transmitted byte looped back into the receiver; a full FIFO overruns as on the chip. */
static void rx_loopback(struct uart *u, uint8_t byte)
{
	if (u->rx_count < rx_capacity(u)) {
		rx_fifo_push(u, byte);
		return;
	}
	u->lsr_errors |= UART_LSR_OE;
	if (!fifo_enabled(u)) /* a 16450-style RBR is overwritten; a FIFO keeps its bytes */
		u->rx_fifo[u->rx_head] = byte;
}

static uint8_t rbr_read(struct uart *u)
{
	uint8_t byte;

	if (!u->rx_count)
		return 0;
	byte = u->rx_fifo[u->rx_head];
	u->rx_head = (u->rx_head + 1) % UART_FIFO_SIZE;
	u->rx_count--;
	rx_refill(u);
	return byte;
}

/* Recompute the modem input lines; deltas latch until MSR is read. */
static void msr_update_lines(struct uart *u)
{
	uint8_t lines = UART_MSR_HOST_LINES, changed;

	if (loopback(u)) {
		lines = 0;
		if (u->mcr & UART_MCR_RTS)
			lines |= UART_MSR_CTS;
		if (u->mcr & UART_MCR_DTR)
			lines |= UART_MSR_DSR;
		if (u->mcr & UART_MCR_OUT1)
			lines |= UART_MSR_RI;
		if (u->mcr & UART_MCR_OUT2)
			lines |= UART_MSR_DCD;
	}
	changed = (u->msr ^ lines) & 0xf0;
	if (changed & UART_MSR_CTS)
		u->msr |= UART_MSR_DCTS;
	if (changed & UART_MSR_DSR)
		u->msr |= UART_MSR_DDSR;
	if ((changed & UART_MSR_RI) && !(lines & UART_MSR_RI))
		u->msr |= UART_MSR_TERI;
	if (changed & UART_MSR_DCD)
		u->msr |= UART_MSR_DDCD;
	u->msr = (u->msr & UART_MSR_DELTAS) | lines;
}

static void fcr_write(struct uart *u, uint8_t val)
{
	bool was_enabled = fifo_enabled(u);

	if (!(val & UART_FCR_ENABLE_FIFO)) {
		/* With FCR0 clear the other bits are not programmed; the toggle still resets. */
		u->fcr &= ~UART_FCR_ENABLE_FIFO;
		if (was_enabled)
			rx_fifo_clear(u);
		rx_refill(u);
		return;
	}
	if (!was_enabled || (val & UART_FCR_CLEAR_RCVR))
		rx_fifo_clear(u);
	/* The transmit FIFO is always empty: transmit is instant. */
	u->fcr = val & (UART_FCR_ENABLE_FIFO | UART_FCR_DMA_SELECT | UART_FCR_TRIGGER_MASK);
	rx_refill(u);
}

static uint8_t reg_read(struct uart *u, unsigned off)
{
	uint8_t val;

	switch (off) {
	case UART_RX:
		if (u->lcr & UART_LCR_DLAB)
			return u->dll;
		return rbr_read(u);
	case UART_IER:
		if (u->lcr & UART_LCR_DLAB)
			return u->dlm;
		return u->ier;
	case UART_IIR:
		val = iir_id(u);
		if (val == UART_IIR_THRI)
			u->thr_ipending = false;
		return val | (fifo_enabled(u) ? UART_IIR_FIFO_BITS : 0);
	case UART_LCR:
		return u->lcr;
	case UART_MCR:
		return u->mcr;
	case UART_LSR:
		val = lsr_value(u);
		u->lsr_errors = 0;
		return val;
	case UART_MSR:
		val = u->msr;
		u->msr &= ~UART_MSR_DELTAS;
		return val;
	case UART_SCR:
		return u->scr;
	}
	return 0xff;
}

/* Returns true when VAL was transmitted to the host (the caller sends it unlocked). */
static bool reg_write(struct uart *u, unsigned off, uint8_t val)
{
	uint8_t old;

	switch (off) {
	case UART_TX:
		if (u->lcr & UART_LCR_DLAB) {
			u->dll = val;
			return false;
		}
		/*
		 * Writing THR clears the THRE interrupt; the byte leaves at once
		 * and THRE raises it again. Report both edges so an edge-triggered
		 * PIC/IOAPIC pin sees a new interrupt, as with QEMU's 16550.
		 */
		u->thr_ipending = false;
		update_irq(u);
		u->thr_ipending = true;
		if (loopback(u)) {
			rx_loopback(u, val);
			return false;
		}
		return true;
	case UART_IER:
		if (u->lcr & UART_LCR_DLAB) {
			u->dlm = val;
			return false;
		}
		old = u->ier;
		u->ier = val & UART_IER_MASK;
		/* THRE is resampled when ETBEI rises (Linux's startup THRE test relies on it). */
		if ((old ^ u->ier) & UART_IER_THRI)
			u->thr_ipending = u->ier & UART_IER_THRI; /* THRE is always set */
		return false;
	case UART_FCR:
		fcr_write(u, val);
		return false;
	case UART_LCR:
		u->lcr = val;
		return false;
	case UART_MCR:
		old = u->mcr;
		u->mcr = val & UART_MCR_MASK;
		msr_update_lines(u);
		if ((old & UART_MCR_LOOP) && !loopback(u))
			rx_refill(u);
		return false;
	case UART_SCR:
		u->scr = val;
		return false;
	}
	/* LSR and MSR writes are factory-test only on the chip: ignored. */
	return false;
}

static void warn_access(struct uart *u, uint64_t offset, unsigned len)
{
	if (offset >= UART_NR_REGS && !u->warned_offset) {
		u->warned_offset = true;
		log_warn("uart %s: access at offset %#llx past its %d registers ignored", u->name,
			 (unsigned long long)offset, UART_NR_REGS);
	}
	if (len != 1 && !u->warned_width) {
		u->warned_width = true;
		if (len > 8)
			log_warn("uart %s: %u-byte access at offset %#llx ignored", u->name, len,
				 (unsigned long long)offset);
		else
			log_warn("uart %s: %u-byte access at offset %#llx split into byte accesses",
				 u->name, len, (unsigned long long)offset);
	}
}

/* Accesses wider than any CPU port access (8 bytes) are ignored whole. */
static unsigned bytes_handled(unsigned len)
{
	return len <= 8 ? len : 0;
}

static void uart_bus_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
	struct uart *u = opaque;
	uint8_t *out = data;

	if (!len)
		return;
	memset(out, 0xff, len);
	pthread_mutex_lock(&u->lock);
	warn_access(u, offset, len);
	for (unsigned i = 0; i < bytes_handled(len); i++)
		if (offset < UART_NR_REGS - i)
			out[i] = reg_read(u, offset + i);
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

static void uart_bus_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
	struct uart *u = opaque;
	const uint8_t *in = data;
	uint8_t tx[8];
	unsigned ntx = 0;

	if (!len)
		return;
	pthread_mutex_lock(&u->lock);
	warn_access(u, offset, len);
	for (unsigned i = 0; i < bytes_handled(len); i++) {
		if (offset < UART_NR_REGS - i && reg_write(u, offset + i, in[i]))
			tx[ntx++] = in[i];
		update_irq(u);
	}
	pthread_mutex_unlock(&u->lock);
	/*
	 * Outside the lock so a backend that waits for room cannot deadlock the
	 * main thread in uart_receive. Order is kept: the vCPU does not return
	 * to the guest until these calls finish.
	 */
	if (u->ops.tx)
		for (unsigned i = 0; i < ntx; i++)
			u->ops.tx(u->opaque, tx[i]);
}

const struct bus_dev_ops uart_bus_ops = {
	.read = uart_bus_read,
	.write = uart_bus_write,
};

static void reset_locked(struct uart *u)
{
	u->ier = 0;
	u->lcr = 0;
	u->mcr = 0;
	u->scr = 0;
	u->fcr = 0;
	u->dll = 12; /* 9600 baud from the 1.8432 MHz clock; firmware-like, unused */
	u->dlm = 0;
	u->lsr_errors = 0;
	u->msr = UART_MSR_HOST_LINES;
	u->thr_ipending = false;
	rx_fifo_clear(u);
	rx_refill(u);
	update_irq(u);
}

void uart_get_state(struct uart *u, struct uart_state *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&u->lock);
	st->ier = u->ier;
	st->lcr = u->lcr;
	st->mcr = u->mcr;
	st->scr = u->scr;
	st->fcr = u->fcr;
	st->dll = u->dll;
	st->dlm = u->dlm;
	st->lsr_errors = u->lsr_errors;
	st->msr = u->msr;
	st->thr_ipending = u->thr_ipending;
	st->irq_level = (uint8_t)u->irq_level;
	memcpy(st->rx_fifo, u->rx_fifo, sizeof(st->rx_fifo));
	st->rx_head = u->rx_head;
	st->rx_count = u->rx_count;
	memcpy(st->queue, u->queue, sizeof(st->queue));
	st->q_head = (uint32_t)u->q_head;
	st->q_count = (uint32_t)u->q_count;
	pthread_mutex_unlock(&u->lock);
}

int uart_set_state(struct uart *u, const struct uart_state *st)
{
	_Static_assert(sizeof(st->rx_fifo) == UART_FIFO_SIZE, "FIFO size");
	if (st->rx_head >= UART_FIFO_SIZE || st->rx_count > UART_FIFO_SIZE ||
	    st->q_head >= UART_RX_QUEUE || st->q_count > UART_RX_QUEUE || st->irq_level > 1)
		return -EINVAL;
	pthread_mutex_lock(&u->lock);
	u->ier = st->ier;
	u->lcr = st->lcr;
	u->mcr = st->mcr;
	u->scr = st->scr;
	u->fcr = st->fcr;
	u->dll = st->dll;
	u->dlm = st->dlm;
	u->lsr_errors = st->lsr_errors;
	u->msr = st->msr;
	u->thr_ipending = st->thr_ipending;
	memcpy(u->rx_fifo, st->rx_fifo, sizeof(u->rx_fifo));
	u->rx_head = st->rx_head;
	u->rx_count = st->rx_count;
	memcpy(u->queue, st->queue, sizeof(u->queue));
	u->q_head = st->q_head;
	u->q_count = st->q_count;
	/* The interrupt line's level lives in the restored irqchip: only the record follows it. */
	u->irq_level = st->irq_level;
	pthread_mutex_unlock(&u->lock);
	return 0;
}

void uart_reset(struct uart *u)
{
	pthread_mutex_lock(&u->lock);
	reset_locked(u);
	pthread_mutex_unlock(&u->lock);
}

struct uart *uart_create(const char *name, const struct uart_host_ops *ops, void *opaque)
{
	struct uart *u = calloc(1, sizeof(*u));
	int err;

	if (!u)
		return NULL;
	u->name = strdup(name ? name : "uart");
	if (!u->name) {
		free(u);
		errno = ENOMEM;
		return NULL;
	}
	err = pthread_mutex_init(&u->lock, NULL);
	if (err) {
		free(u->name);
		free(u);
		errno = err;
		return NULL;
	}
	if (ops)
		u->ops = *ops;
	u->opaque = opaque;
	reset_locked(u);
	return u;
}

void uart_destroy(struct uart *u)
{
	if (!u)
		return;
	pthread_mutex_destroy(&u->lock);
	free(u->name);
	free(u);
}

size_t uart_receive(struct uart *u, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	pthread_mutex_lock(&u->lock);
	/* Refill between chunks so free FIFO space counts too (16 + UART_RX_QUEUE in all). */
	while (n < len && u->q_count < UART_RX_QUEUE) {
		size_t chunk = UART_RX_QUEUE - u->q_count;

		if (chunk > len - n)
			chunk = len - n;
		for (size_t i = 0; i < chunk; i++)
			u->queue[(u->q_head + u->q_count + i) % UART_RX_QUEUE] = buf[n + i];
		u->q_count += chunk;
		n += chunk;
		rx_refill(u);
	}
	if (n < len)
		u->want_room = true;
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return n;
}

size_t uart_rx_room(struct uart *u)
{
	size_t room;

	pthread_mutex_lock(&u->lock);
	room = UART_RX_QUEUE - u->q_count;
	if (!room)
		u->want_room = true;
	pthread_mutex_unlock(&u->lock);
	return room;
}
