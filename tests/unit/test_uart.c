/*
 * The 16550A as Linux's 8250 driver sees it: autoconfig's probes, the
 * divisor latch, the THRE interrupt rules, receive through FIFO and host
 * queue, loopback, interrupt priorities and hostile accesses.
 */
#include <linux/serial_reg.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "emu/log.h"
#include "emu/uart.h"

#define TX_LOG 64

struct harness {
	struct uart *u;
	uint8_t tx[TX_LOG];
	size_t ntx;
	int level;          /* last level reported through set_irq */
	unsigned irq_calls; /* set_irq calls */
	unsigned irq_rises; /* 0 -> 1 transitions */
	unsigned irq_repeats; /* set_irq called without a change: must stay 0 */
	unsigned room_calls;
	sem_t room;
};

static void h_tx(void *opaque, uint8_t byte)
{
	struct harness *h = opaque;

	if (h->ntx < TX_LOG)
		h->tx[h->ntx] = byte;
	h->ntx++;
}

static void h_set_irq(void *opaque, int level)
{
	struct harness *h = opaque;

	if (level == h->level)
		h->irq_repeats++;
	if (level && !h->level)
		h->irq_rises++;
	h->level = level;
	h->irq_calls++;
}

static void h_rx_room(void *opaque)
{
	struct harness *h = opaque;

	h->room_calls++;
	sem_post(&h->room);
}

static const struct uart_host_ops h_ops = {
	.tx = h_tx,
	.set_irq = h_set_irq,
	.rx_room = h_rx_room,
};

static unsigned warnings;

static void count_log(enum log_level level, const char *msg)
{
	if (level <= LOG_WARN)
		warnings++;
}

static int setup(void **state)
{
	struct harness *h = calloc(1, sizeof(*h));

	assert_non_null(h);
	sem_init(&h->room, 0, 0);
	h->u = uart_create("ttyS-test", &h_ops, h);
	assert_non_null(h->u);
	warnings = 0;
	log_sink = count_log;
	*state = h;
	return 0;
}

static int teardown(void **state)
{
	struct harness *h = *state;

	/* Every test also checks that the line is only reported on a change. */
	assert_int_equal(h->irq_repeats, 0);
	uart_destroy(h->u);
	sem_destroy(&h->room);
	free(h);
	log_sink = NULL;
	return 0;
}

static void out(struct harness *h, unsigned off, uint8_t val)
{
	uart_bus_ops.write(h->u, off, &val, 1);
}

static uint8_t in(struct harness *h, unsigned off)
{
	uint8_t val = 0x5a;

	uart_bus_ops.read(h->u, off, &val, 1);
	return val;
}

static void feed(struct harness *h, const char *s)
{
	size_t len = strlen(s);

	assert_int_equal(uart_receive(h->u, (const uint8_t *)s, len), len);
}

/* --- probing as drivers/tty/serial/8250/8250_port.c autoconfig() does --- */

static void test_reset_state(void **state)
{
	struct harness *h = *state;

	assert_int_equal(in(h, UART_IIR), UART_IIR_NO_INT);
	assert_int_equal(in(h, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	assert_int_equal(in(h, UART_IER), 0);
	assert_int_equal(in(h, UART_LCR), 0);
	assert_int_equal(in(h, UART_MCR), 0);
	assert_int_equal(in(h, UART_MSR), UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD);
	assert_int_equal(h->irq_calls, 0);
	assert_int_equal(uart_rx_room(h->u), UART_RX_QUEUE);
}

static void test_probe_scratch(void **state)
{
	struct harness *h = *state;

	out(h, UART_SCR, 0x55);
	assert_int_equal(in(h, UART_SCR), 0x55);
	out(h, UART_SCR, 0xaa);
	assert_int_equal(in(h, UART_SCR), 0xaa);
	/* DLAB does not bank the scratch register. */
	out(h, UART_LCR, UART_LCR_DLAB);
	assert_int_equal(in(h, UART_SCR), 0xaa);
}

static void test_probe_ier_readback(void **state)
{
	struct harness *h = *state;

	out(h, UART_IER, 0);
	assert_int_equal(in(h, UART_IER) & 0x0f, 0);
	out(h, UART_IER, 0x0f);
	assert_int_equal(in(h, UART_IER) & 0x0f, 0x0f);
	/* Bits 7:4 do not exist on a 16550A (else Linux takes it for an XScale: UUE). */
	out(h, UART_IER, 0xff);
	assert_int_equal(in(h, UART_IER), 0x0f);
	out(h, UART_IER, 0);
	assert_int_equal(in(h, UART_IER), 0);
}

static void test_probe_loopback_msr(void **state)
{
	struct harness *h = *state;

	out(h, UART_MCR, UART_MCR_LOOP | 0x0a); /* RTS -> CTS, OUT2 -> DCD */
	assert_int_equal(in(h, UART_MSR) & 0xf0, 0x90);
	out(h, UART_MCR, UART_MCR_LOOP | UART_MCR_DTR | UART_MCR_OUT1);
	assert_int_equal(in(h, UART_MSR) & 0xf0, UART_MSR_DSR | UART_MSR_RI);
	out(h, UART_MCR, 0);
	assert_int_equal(in(h, UART_MSR) & 0xf0, UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD);
}

static void test_probe_fifo_detection(void **state)
{
	struct harness *h = *state;

	assert_int_equal(in(h, UART_IIR) >> 6, 0);
	out(h, UART_FCR, UART_FCR_ENABLE_FIFO);
	assert_int_equal(in(h, UART_IIR) >> 6, 3);
	assert_int_equal(in(h, UART_IIR), 0xc0 | UART_IIR_NO_INT);
	out(h, UART_FCR, 0);
	assert_int_equal(in(h, UART_IIR) >> 6, 0);
}

/* autoconfig() then autoconfig_16550a(): every branch must end in "16550A". */
static void test_linux_autoconfig_sequence(void **state)
{
	struct harness *h = *state;
	uint8_t scratch, scratch2, scratch3, save_mcr, save_lcr, status1, status2;

	scratch = in(h, UART_IER);
	out(h, UART_IER, 0);
	scratch2 = in(h, UART_IER) & 0x0f;
	out(h, UART_IER, 0x0f);
	scratch3 = in(h, UART_IER) & 0x0f;
	out(h, UART_IER, scratch);
	assert_int_equal(scratch2, 0);
	assert_int_equal(scratch3, 0x0f);

	save_mcr = in(h, UART_MCR);
	save_lcr = in(h, UART_LCR);
	out(h, UART_MCR, UART_MCR_LOOP | 0x0a);
	status1 = in(h, UART_MSR) & 0xf0;
	out(h, UART_MCR, save_mcr);
	assert_int_equal(status1, 0x90);

	out(h, UART_LCR, 0xbf); /* UART_LCR_CONF_MODE_B; EFR shares offset 2 */
	out(h, 2, 0);
	out(h, UART_LCR, 0);
	out(h, UART_FCR, UART_FCR_ENABLE_FIFO);
	assert_int_equal(in(h, UART_IIR) >> 6, 3);

	/* No EFR behind LCR 0x80 or 0xbf: offset 2 reads IIR, never 0. */
	out(h, UART_LCR, UART_LCR_DLAB);
	assert_int_not_equal(in(h, 2), 0);
	out(h, UART_LCR, 0xbf);
	assert_int_not_equal(in(h, 2), 0);

	/* Not a National SuperIO: "EXCR1" (IIR) does not follow MCR.LOOP. */
	out(h, UART_LCR, 0);
	status1 = in(h, UART_MCR);
	out(h, UART_LCR, 0xe0);
	status2 = in(h, 2);
	assert_false((status2 ^ status1) & UART_MCR_LOOP);
	out(h, UART_LCR, 0);
	out(h, UART_MCR, status1 ^ UART_MCR_LOOP);
	out(h, UART_LCR, 0xe0);
	status2 = in(h, 2);
	out(h, UART_LCR, 0);
	out(h, UART_MCR, status1);
	assert_false((status2 ^ status1) & UART_MCR_LOOP);

	/* Not a TI16750: IIR bit 5 never set, with or without DLAB. */
	out(h, UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR7_64BYTE);
	status1 = in(h, UART_IIR) & 0xe0;
	out(h, UART_FCR, 0);
	out(h, UART_LCR, UART_LCR_DLAB);
	out(h, UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR7_64BYTE);
	status2 = in(h, UART_IIR) & 0xe0;
	out(h, UART_FCR, 0);
	out(h, UART_LCR, 0);
	assert_int_equal(status1, 0xc0);
	assert_int_equal(status2, 0xc0);

	out(h, UART_LCR, save_lcr);
	assert_int_equal(in(h, UART_LCR), save_lcr);
	assert_int_equal(in(h, UART_MCR), save_mcr);
	assert_int_equal(h->ntx, 0);
}

static void test_dlab_divisor_latch(void **state)
{
	struct harness *h = *state;

	out(h, UART_IER, UART_IER_RDI);
	out(h, UART_LCR, UART_LCR_DLAB | 0x03);
	out(h, UART_DLL, 0x01);
	out(h, UART_DLM, 0x02);
	assert_int_equal(in(h, UART_DLL), 0x01);
	assert_int_equal(in(h, UART_DLM), 0x02);
	assert_int_equal(h->ntx, 0); /* a DLL write is not a transmit */
	out(h, UART_LCR, 0x03);
	assert_int_equal(in(h, UART_IER), UART_IER_RDI);
	assert_int_equal(in(h, UART_LCR), 0x03);
	out(h, UART_LCR, UART_LCR_DLAB | 0x03);
	assert_int_equal(in(h, UART_DLL), 0x01);
	assert_int_equal(in(h, UART_DLM), 0x02);
}

/* --- transmit and the THRE interrupt --- */

static void test_tx_calls_host(void **state)
{
	struct harness *h = *state;

	out(h, UART_TX, 'h');
	out(h, UART_TX, 'i');
	assert_int_equal(h->ntx, 2);
	assert_memory_equal(h->tx, "hi", 2);
	assert_int_equal(in(h, UART_LSR) & (UART_LSR_THRE | UART_LSR_TEMT),
			 UART_LSR_THRE | UART_LSR_TEMT);
	assert_int_equal(h->irq_calls, 0); /* ETBEI off: no interrupt */
}

static void test_thre_raised_when_etbei_enabled(void **state)
{
	struct harness *h = *state;

	out(h, UART_FCR, UART_FCR_ENABLE_FIFO);
	out(h, UART_IER, UART_IER_THRI);
	assert_int_equal(h->level, 1);
	assert_int_equal(in(h, UART_IIR), 0xc0 | UART_IIR_THRI);
	/* Reading IIR while THRE is the reported source clears it. */
	assert_int_equal(h->level, 0);
	assert_int_equal(in(h, UART_IIR), 0xc0 | UART_IIR_NO_INT);
}

static void test_thre_rearmed_by_thr_write(void **state)
{
	struct harness *h = *state;

	out(h, UART_IER, UART_IER_THRI);
	in(h, UART_IIR);
	assert_int_equal(h->level, 0);
	out(h, UART_TX, 'a');
	assert_int_equal(h->level, 1);
	assert_int_equal(in(h, UART_IIR), UART_IIR_THRI);

	/* With THRE still pending, a THR write pulses the line: a fresh edge. */
	out(h, UART_TX, 'b');
	assert_int_equal(h->level, 1);
	unsigned rises = h->irq_rises;
	out(h, UART_TX, 'c');
	assert_int_equal(h->irq_rises, rises + 1);
	assert_int_equal(h->level, 1);
	assert_int_equal(h->ntx, 3);
}

/* serial8250_do_startup()'s test for UARTs that do not re-assert THRE. */
static void test_thre_reasserted_on_ier_toggle(void **state)
{
	struct harness *h = *state;
	uint8_t iir1, iir;

	out(h, UART_IER, UART_IER_THRI);
	iir1 = in(h, UART_IIR);
	out(h, UART_IER, 0);
	out(h, UART_IER, UART_IER_THRI);
	iir = in(h, UART_IIR);
	out(h, UART_IER, 0);
	assert_false(iir1 & UART_IIR_NO_INT);
	assert_false(iir & UART_IIR_NO_INT);
	assert_int_equal(h->level, 0);
}

static void test_thre_cleared_by_disabling_etbei(void **state)
{
	struct harness *h = *state;

	out(h, UART_IER, UART_IER_THRI);
	assert_int_equal(h->level, 1);
	out(h, UART_IER, 0);
	assert_int_equal(h->level, 0);
	/* Re-enabling without an IIR read in between raises it again. */
	out(h, UART_IER, UART_IER_THRI);
	assert_int_equal(h->level, 1);
	/* Writing the same IER again is no new rising edge of ETBEI. */
	in(h, UART_IIR);
	out(h, UART_IER, UART_IER_THRI);
	assert_int_equal(h->level, 0);
}

/* --- receive --- */

static void test_rx_data_ready(void **state)
{
	struct harness *h = *state;

	feed(h, "a");
	assert_true(in(h, UART_LSR) & UART_LSR_DR);
	assert_int_equal(in(h, UART_RX), 'a');
	assert_false(in(h, UART_LSR) & UART_LSR_DR);
	assert_int_equal(h->irq_calls, 0);
}

static void test_rx_irq_only_with_erbfi(void **state)
{
	struct harness *h = *state;

	feed(h, "xy");
	assert_int_equal(h->level, 0);
	assert_int_equal(in(h, UART_IIR), UART_IIR_NO_INT);
	out(h, UART_IER, UART_IER_RDI);
	assert_int_equal(h->level, 1);
	assert_int_equal(in(h, UART_IIR), UART_IIR_RDI); /* FIFOs off: no timeout ID */
	assert_int_equal(in(h, UART_RX), 'x');
	assert_int_equal(h->level, 1);
	assert_int_equal(in(h, UART_RX), 'y');
	assert_int_equal(h->level, 0);
	assert_int_equal(in(h, UART_IIR), UART_IIR_NO_INT);
	/* More data while enabled raises the line once. */
	feed(h, "z");
	feed(h, "w");
	assert_int_equal(h->level, 1);
	assert_int_equal(h->irq_rises, 2);
}

static void test_rx_trigger_level_and_timeout(void **state)
{
	struct harness *h = *state;

	out(h, UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_TRIGGER_8);
	out(h, UART_IER, UART_IER_RDI);
	feed(h, "abc");
	assert_int_equal(in(h, UART_IIR), 0xc0 | UART_IIR_RX_TIMEOUT);
	feed(h, "defgh");
	assert_int_equal(in(h, UART_IIR), 0xc0 | UART_IIR_RDI);
	assert_int_equal(in(h, UART_RX), 'a');
	assert_int_equal(in(h, UART_IIR), 0xc0 | UART_IIR_RX_TIMEOUT);
	assert_int_equal(h->level, 1);
}

static void test_rx_fifo_order(void **state)
{
	struct harness *h = *state;
	uint8_t buf[100];

	out(h, UART_FCR, UART_FCR_ENABLE_FIFO);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	assert_int_equal(uart_receive(h->u, buf, sizeof(buf)), sizeof(buf));
	for (size_t i = 0; i < sizeof(buf); i++) {
		assert_true(in(h, UART_LSR) & UART_LSR_DR);
		assert_int_equal(in(h, UART_RX), buf[i]);
	}
	assert_false(in(h, UART_LSR) & UART_LSR_DR);
}

static void test_rx_queue_overflow_refused(void **state)
{
	struct harness *h = *state;
	static uint8_t buf[2 * UART_RX_QUEUE];
	size_t n;

	out(h, UART_FCR, UART_FCR_ENABLE_FIFO);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i ^ (i >> 8));
	n = uart_receive(h->u, buf, sizeof(buf));
	assert_true(n < sizeof(buf));
	assert_int_equal(n, UART_RX_QUEUE + 16); /* the FIFO plus the host queue */
	assert_int_equal(uart_rx_room(h->u), 0);
	assert_int_equal(uart_receive(h->u, buf + n, 1), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(in(h, UART_RX), buf[i]);
	assert_false(in(h, UART_LSR) & UART_LSR_DR);
	assert_int_equal(uart_rx_room(h->u), UART_RX_QUEUE);
	assert_false(in(h, UART_LSR) & UART_LSR_OE); /* refused, never overrun */
}

static void test_rx_room_callback(void **state)
{
	struct harness *h = *state;
	static uint8_t buf[UART_RX_QUEUE + 100];
	size_t n, i = 0;

	memset(buf, 'q', sizeof(buf));
	n = uart_receive(h->u, buf, sizeof(buf));
	assert_true(n < sizeof(buf));
	/* Not after a single byte of room ... */
	in(h, UART_RX);
	assert_int_equal(h->room_calls, 0);
	/* ... but once, when half the queue is free. */
	while (uart_rx_room(h->u) < UART_RX_QUEUE / 2 && i++ < n)
		in(h, UART_RX);
	assert_int_equal(h->room_calls, 1);
	while (in(h, UART_LSR) & UART_LSR_DR)
		in(h, UART_RX);
	assert_int_equal(h->room_calls, 1);
}

static void test_read_empty_rbr(void **state)
{
	struct harness *h = *state;

	out(h, UART_IER, UART_IER_RDI);
	in(h, UART_RX);
	out(h, UART_FCR, UART_FCR_ENABLE_FIFO);
	in(h, UART_RX);
	assert_int_equal(in(h, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	assert_int_equal(in(h, UART_IIR), 0xc0 | UART_IIR_NO_INT);
	assert_int_equal(h->irq_calls, 0);
}

static void test_fifo_disabled_holds_one_byte(void **state)
{
	struct harness *h = *state;

	/* FIFOs off: one byte in RBR, the rest wait in the host queue. */
	feed(h, "12");
	assert_int_equal(uart_rx_room(h->u), UART_RX_QUEUE - 1);
	assert_int_equal(in(h, UART_RX), '1');
	assert_int_equal(uart_rx_room(h->u), UART_RX_QUEUE);
	assert_int_equal(in(h, UART_RX), '2');
	/* Enabling the FIFO resets it (dropping 'a' from RBR), then 16 move in. */
	feed(h, "abcdefghijklmnopqrst");
	assert_int_equal(uart_rx_room(h->u), UART_RX_QUEUE - 19);
	out(h, UART_FCR, UART_FCR_ENABLE_FIFO);
	assert_int_equal(uart_rx_room(h->u), UART_RX_QUEUE - 3);
	assert_int_equal(in(h, UART_RX), 'b');
}

static void test_fcr_clears_rx_fifo(void **state)
{
	struct harness *h = *state;

	out(h, UART_FCR, UART_FCR_ENABLE_FIFO);
	out(h, UART_MCR, UART_MCR_LOOP);
	out(h, UART_TX, 'a');
	out(h, UART_TX, 'b');
	assert_true(in(h, UART_LSR) & UART_LSR_DR);
	out(h, UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_CLEAR_RCVR | UART_FCR_CLEAR_XMIT);
	assert_false(in(h, UART_LSR) & UART_LSR_DR);
	/* Toggling FCR0 resets the FIFO as well. */
	out(h, UART_TX, 'c');
	out(h, UART_FCR, 0);
	assert_false(in(h, UART_LSR) & UART_LSR_DR);
	assert_int_equal(in(h, UART_IIR) >> 6, 0);
}

/* --- loopback --- */

static void test_loopback_echo(void **state)
{
	struct harness *h = *state;

	out(h, UART_FCR, UART_FCR_ENABLE_FIFO);
	out(h, UART_MCR, UART_MCR_LOOP);
	out(h, UART_TX, 'x');
	out(h, UART_TX, 'y');
	assert_int_equal(h->ntx, 0); /* the serial output is held idle in loopback */
	assert_true(in(h, UART_LSR) & UART_LSR_DR);
	assert_int_equal(in(h, UART_RX), 'x');
	assert_int_equal(in(h, UART_RX), 'y');
	assert_false(in(h, UART_LSR) & UART_LSR_DR);
	out(h, UART_MCR, 0);
	out(h, UART_TX, 'z');
	assert_int_equal(h->ntx, 1);
	assert_int_equal(h->tx[0], 'z');
	assert_false(in(h, UART_LSR) & UART_LSR_DR);
}

static void test_loopback_disconnects_host_input(void **state)
{
	struct harness *h = *state;

	out(h, UART_FCR, UART_FCR_ENABLE_FIFO);
	out(h, UART_MCR, UART_MCR_LOOP);
	feed(h, "host");
	assert_false(in(h, UART_LSR) & UART_LSR_DR);
	out(h, UART_TX, '!');
	out(h, UART_MCR, 0);
	assert_int_equal(in(h, UART_RX), '!');
	assert_int_equal(in(h, UART_RX), 'h');
	assert_int_equal(in(h, UART_RX), 'o');
}

static void test_loopback_overrun_and_rls(void **state)
{
	struct harness *h = *state;
	uint8_t lsr;

	out(h, UART_FCR, UART_FCR_ENABLE_FIFO);
	out(h, UART_MCR, UART_MCR_LOOP);
	out(h, UART_IER, UART_IER_RLSI);
	for (int i = 0; i < 17; i++)
		out(h, UART_TX, (uint8_t)('A' + i));
	assert_int_equal(h->level, 1);
	assert_int_equal(in(h, UART_IIR), 0xc0 | UART_IIR_RLSI);
	lsr = in(h, UART_LSR);
	assert_true(lsr & UART_LSR_OE);
	assert_true(lsr & UART_LSR_DR);
	/* Reading LSR clears the error bits and the RLS interrupt. */
	assert_false(in(h, UART_LSR) & UART_LSR_OE);
	assert_int_equal(h->level, 0);
	for (int i = 0; i < 16; i++)
		assert_int_equal(in(h, UART_RX), 'A' + i);
	assert_false(in(h, UART_LSR) & UART_LSR_DR);
}

static void test_msr_deltas_and_interrupt(void **state)
{
	struct harness *h = *state;

	out(h, UART_IER, UART_IER_MSI);
	assert_int_equal(h->level, 0);
	out(h, UART_MCR, UART_MCR_LOOP | UART_MCR_RTS | UART_MCR_OUT1);
	assert_int_equal(h->level, 1);
	assert_int_equal(in(h, UART_IIR), UART_IIR_MSI);
	/* CTS stays, DSR and DCD drop, RI rises (no trailing edge yet). */
	assert_int_equal(in(h, UART_MSR),
			 UART_MSR_CTS | UART_MSR_RI | UART_MSR_DDSR | UART_MSR_DDCD);
	assert_int_equal(h->level, 0);
	assert_int_equal(in(h, UART_MSR), UART_MSR_CTS | UART_MSR_RI);
	out(h, UART_MCR, UART_MCR_LOOP | UART_MCR_RTS);
	assert_int_equal(in(h, UART_MSR), UART_MSR_CTS | UART_MSR_TERI);
}

static void test_interrupt_priorities(void **state)
{
	struct harness *h = *state;

	out(h, UART_FCR, UART_FCR_ENABLE_FIFO);
	out(h, UART_MCR, UART_MCR_LOOP);
	for (int i = 0; i < 17; i++)
		out(h, UART_TX, 'p');
	out(h, UART_IER, 0x0f);
	assert_int_equal(in(h, UART_IIR) & 0x0f, UART_IIR_RLSI);
	in(h, UART_LSR);
	assert_int_equal(in(h, UART_IIR) & 0x0f, UART_IIR_RDI); /* 16 >= trigger 1 */
	while (in(h, UART_LSR) & UART_LSR_DR)
		in(h, UART_RX);
	assert_int_equal(in(h, UART_IIR) & 0x0f, UART_IIR_THRI);
	assert_int_equal(in(h, UART_IIR) & 0x0f, UART_IIR_MSI);
	assert_int_equal(h->level, 1);
	in(h, UART_MSR);
	assert_int_equal(in(h, UART_IIR) & 0x0f, UART_IIR_NO_INT);
	assert_int_equal(h->level, 0);
}

/* THRE is only cleared by an IIR read when it is the source reported. */
static void test_iir_read_keeps_lower_thre(void **state)
{
	struct harness *h = *state;

	out(h, UART_IER, UART_IER_RDI | UART_IER_THRI);
	feed(h, "r");
	assert_int_equal(in(h, UART_IIR), UART_IIR_RDI);
	in(h, UART_RX);
	assert_int_equal(in(h, UART_IIR), UART_IIR_THRI);
	assert_int_equal(in(h, UART_IIR), UART_IIR_NO_INT);
}

/* --- hostile and odd accesses --- */

static void test_wide_access_split_into_bytes(void **state)
{
	struct harness *h = *state;
	uint16_t w = 0x4142;
	uint32_t d = 0;

	uart_bus_ops.write(h->u, UART_TX, &w, 2); /* THR = 0x42, IER = 0x41 & 0x0f */
	assert_int_equal(h->ntx, 1);
	assert_int_equal(h->tx[0], 0x42);
	assert_int_equal(in(h, UART_IER), 0x01);
	out(h, UART_SCR, 0x77);
	uart_bus_ops.read(h->u, UART_MSR, &d, 4); /* MSR, SCR, then past the end */
	assert_int_equal(d & 0xff, UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD);
	assert_int_equal((d >> 8) & 0xff, 0x77);
	assert_int_equal(d >> 16, 0xffff);
	/* A write running past SCR is dropped beyond it. */
	d = 0x11223344;
	uart_bus_ops.write(h->u, UART_SCR, &d, 4);
	assert_int_equal(in(h, UART_SCR), 0x44);
	assert_int_equal(warnings, 1); /* warned once, not per access */
}

static void test_bad_offsets_and_lengths(void **state)
{
	struct harness *h = *state;
	uint8_t big[16];
	uint64_t q = 0;
	uint8_t v = 0x12;

	out(h, UART_SCR, 0x33);
	uart_bus_ops.write(h->u, 8, &v, 1);
	uart_bus_ops.write(h->u, UINT64_MAX, &v, 1);
	uart_bus_ops.write(h->u, UART_TX, big, 0);
	memset(big, 'k', sizeof(big));
	uart_bus_ops.write(h->u, UART_TX, big, sizeof(big));
	assert_int_equal(h->ntx, 0);
	assert_int_equal(in(h, 8), 0xff);
	v = 0;
	uart_bus_ops.read(h->u, UINT64_MAX - 1, &v, 1);
	assert_int_equal(v, 0xff);
	uart_bus_ops.read(h->u, UART_RX, big, sizeof(big));
	for (size_t i = 0; i < sizeof(big); i++)
		assert_int_equal(big[i], 0xff);
	uart_bus_ops.read(h->u, UINT64_MAX - 3, &q, 8);
	assert_true(q == UINT64_MAX);
	assert_int_equal(in(h, UART_SCR), 0x33);
	assert_true(warnings >= 1);
	/* LSR and MSR are read-only. */
	out(h, UART_LSR, 0xff);
	out(h, UART_MSR, 0x0f);
	assert_int_equal(in(h, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	assert_int_equal(in(h, UART_MSR), UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD);
}

static void test_reset_keeps_host_input(void **state)
{
	struct harness *h = *state;

	out(h, UART_FCR, UART_FCR_ENABLE_FIFO);
	out(h, UART_IER, UART_IER_RDI);
	out(h, UART_SCR, 0x99);
	feed(h, "0123456789abcdefXYZ"); /* 16 in the FIFO, 3 queued */
	assert_int_equal(h->level, 1);
	uart_reset(h->u);
	assert_int_equal(in(h, UART_SCR), 0);
	assert_int_equal(in(h, UART_IER), 0);
	assert_int_equal(h->level, 0);
	assert_int_equal(in(h, UART_IIR), UART_IIR_NO_INT);
	/* The chip's FIFO is reset; input not yet received survives. */
	assert_int_equal(in(h, UART_RX), 'X');
	assert_int_equal(in(h, UART_RX), 'Y');
	assert_int_equal(in(h, UART_RX), 'Z');
	assert_false(in(h, UART_LSR) & UART_LSR_DR);
}

static void test_create_without_ops(void **state)
{
	struct uart *u = uart_create(NULL, NULL, NULL);
	uint8_t v = 'x';

	assert_non_null(u);
	uart_bus_ops.write(u, UART_IER, &(uint8_t){ 0x0f }, 1);
	uart_bus_ops.write(u, UART_TX, &v, 1);
	assert_int_equal(uart_receive(u, &v, 1), 1);
	uart_bus_ops.read(u, UART_RX, &v, 1);
	assert_int_equal(v, 'x');
	uart_destroy(u);
	uart_destroy(NULL);
}

/* --- threads: the main thread feeds while a vCPU thread reads --- */

#define STREAM_LEN 20000

static uint8_t stream_byte(size_t i)
{
	return (uint8_t)(i * 31 + (i >> 7));
}

static void *producer(void *arg)
{
	struct harness *h = arg;
	uint8_t buf[STREAM_LEN];
	size_t off = 0;

	for (size_t i = 0; i < STREAM_LEN; i++)
		buf[i] = stream_byte(i);
	while (off < STREAM_LEN) {
		size_t n = uart_receive(h->u, buf + off, STREAM_LEN - off);

		off += n;
		if (off < STREAM_LEN)
			sem_wait(&h->room); /* rx_room fires once per refusal */
	}
	return NULL;
}

static void test_concurrent_receive(void **state)
{
	struct harness *h = *state;
	pthread_t t;
	size_t got = 0;

	out(h, UART_FCR, UART_FCR_ENABLE_FIFO);
	out(h, UART_IER, UART_IER_RDI);
	assert_int_equal(pthread_create(&t, NULL, producer, h), 0);
	while (got < STREAM_LEN) {
		if (!(in(h, UART_LSR) & UART_LSR_DR))
			continue;
		assert_int_equal(in(h, UART_RX), stream_byte(got));
		got++;
	}
	pthread_join(t, NULL);
	assert_false(in(h, UART_LSR) & UART_LSR_DR);
	assert_int_equal(h->level, 0);
}

#define T(test) cmocka_unit_test_setup_teardown(test, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_reset_state),
		T(test_probe_scratch),
		T(test_probe_ier_readback),
		T(test_probe_loopback_msr),
		T(test_probe_fifo_detection),
		T(test_linux_autoconfig_sequence),
		T(test_dlab_divisor_latch),
		T(test_tx_calls_host),
		T(test_thre_raised_when_etbei_enabled),
		T(test_thre_rearmed_by_thr_write),
		T(test_thre_reasserted_on_ier_toggle),
		T(test_thre_cleared_by_disabling_etbei),
		T(test_rx_data_ready),
		T(test_rx_irq_only_with_erbfi),
		T(test_rx_trigger_level_and_timeout),
		T(test_rx_fifo_order),
		T(test_rx_queue_overflow_refused),
		T(test_rx_room_callback),
		T(test_read_empty_rbr),
		T(test_fifo_disabled_holds_one_byte),
		T(test_fcr_clears_rx_fifo),
		T(test_loopback_echo),
		T(test_loopback_disconnects_host_input),
		T(test_loopback_overrun_and_rls),
		T(test_msr_deltas_and_interrupt),
		T(test_interrupt_priorities),
		T(test_iir_read_keeps_lower_thre),
		T(test_wide_access_split_into_bytes),
		T(test_bad_offsets_and_lengths),
		T(test_reset_keeps_host_input),
		cmocka_unit_test(test_create_without_ops),
		T(test_concurrent_receive),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
