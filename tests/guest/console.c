/*
 * COM1 (a 16550 at 0x3f8) with polled output, and a small printf. Output
 * waits for THRE before each byte; a missing UART reads 0xff, which has THRE
 * set, so output never hangs.
 */
#include "tg.h"
#include "io.h"

#define COM1 0x3f8
#define UART_RBR 0 /* DLAB=0, read */
#define UART_THR 0 /* DLAB=0, write */
#define UART_DLL 0 /* DLAB=1 */
#define UART_IER 1
#define UART_DLM 1 /* DLAB=1 */
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_LCR_DLAB 0x80
#define UART_LCR_8N1 0x03
#define UART_MCR_DTR 0x01
#define UART_MCR_RTS 0x02
#define UART_MCR_OUT2 0x08 /* gates the UART's interrupt line on PCs */
#define UART_LSR_DR 0x01
#define UART_LSR_THRE 0x20
#define UART_IER_RDI 0x01

static struct tg_spinlock console_lock;
static volatile int console_owner = -1; /* CPU index holding console_lock */

void tg_console_init(void)
{
	outb(COM1 + UART_IER, 0);
	outb(COM1 + UART_LCR, UART_LCR_DLAB);
	outb(COM1 + UART_DLL, 1); /* 115200 baud */
	outb(COM1 + UART_DLM, 0);
	outb(COM1 + UART_LCR, UART_LCR_8N1);
	outb(COM1 + UART_FCR, 0x07); /* FIFOs on and cleared, RX trigger at 1 byte */
	outb(COM1 + UART_MCR, UART_MCR_DTR | UART_MCR_RTS | UART_MCR_OUT2);
}

void tg_console_enable_rx_irq(void)
{
	outb(COM1 + UART_IER, UART_IER_RDI);
}

static void uart_put(char c)
{
	for (int i = 0; i < 1000000 && !(inb(COM1 + UART_LSR) & UART_LSR_THRE); i++)
		cpu_relax();
	outb(COM1 + UART_THR, (uint8_t)c);
}

void tg_console_write(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			uart_put('\r');
		uart_put(s[i]);
	}
}

int tg_console_getc(void)
{
	uint8_t lsr = inb(COM1 + UART_LSR);
	if (lsr == 0xff || !(lsr & UART_LSR_DR))
		return -1;
	return inb(COM1 + UART_RBR);
}

/* --- formatting ------------------------------------------------------------------------- */

struct out {
	char *buf;
	size_t size, len; /* len counts every byte, even those that did not fit */
};

static void out_c(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void out_num(struct out *o, uint64_t v, unsigned base, bool neg, int width, bool zero,
		    bool left)
{
	char tmp[24];
	int n = 0;

	do {
		unsigned d = v % base;
		tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v);
	int total = n + (neg ? 1 : 0);
	if (neg && zero)
		out_c(o, '-');
	if (!left)
		for (; total < width; total++)
			out_c(o, zero ? '0' : ' ');
	if (neg && !zero)
		out_c(o, '-');
	while (n)
		out_c(o, tmp[--n]);
	if (left)
		for (; total < width; total++)
			out_c(o, ' ');
}

int tg_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = { buf, size, 0 };

	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			out_c(&o, *fmt);
			continue;
		}
		bool zero = false, left = false;
		int width = 0, lng = 0;
		fmt++;
		for (;; fmt++) {
			if (*fmt == '0')
				zero = true;
			else if (*fmt == '-')
				left = true;
			else
				break;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l') {
			lng++;
			fmt++;
		}
		if (*fmt == 'z') {
			lng = 1;
			fmt++;
		}
		switch (*fmt) {
		case 'd': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			uint64_t mag = v < 0 ? -(uint64_t)v : (uint64_t)v;
			out_num(&o, mag, 10, v < 0, width, zero, left);
			break;
		}
		case 'u':
		case 'x': {
			uint64_t v = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned int);
			out_num(&o, v, *fmt == 'u' ? 10 : 16, false, width, zero, left);
			break;
		}
		case 'p':
			out_c(&o, '0');
			out_c(&o, 'x');
			out_num(&o, (uint64_t)va_arg(ap, void *), 16, false, width, zero, left);
			break;
		case 'c':
			out_c(&o, (char)va_arg(ap, int));
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			int n = (int)strlen(s);
			if (!left)
				for (int i = n; i < width; i++)
					out_c(&o, ' ');
			while (*s)
				out_c(&o, *s++);
			if (left)
				for (int i = n; i < width; i++)
					out_c(&o, ' ');
			break;
		}
		case '%':
			out_c(&o, '%');
			break;
		case '\0':
			fmt--;
			break;
		default:
			out_c(&o, '%');
			out_c(&o, *fmt);
			break;
		}
	}
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return (int)o.len;
}

int tg_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = tg_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

static void vprint(const char *fmt, va_list ap)
{
	char buf[512];
	int n = tg_vsnprintf(buf, sizeof(buf), fmt, ap);
	if (n >= (int)sizeof(buf))
		n = sizeof(buf) - 1;
	tg_console_write(buf, (size_t)n);
}

static int my_index(void)
{
	/* %gs is not set before the BSP's tg_cpu_init; an exception that early is the BSP's. */
	return tg_percpu_ready ? this_cpu()->index : 0;
}

void tg_printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	tg_spin_lock(&console_lock);
	console_owner = my_index();
	vprint(fmt, ap);
	console_owner = -1;
	tg_spin_unlock(&console_lock);
	va_end(ap);
}

void tg_printf_urgent(const char *fmt, ...)
{
	va_list ap;
	int me = my_index();
	bool locked = false;

	va_start(ap, fmt);
	uint64_t flags = irq_save();
	/* The lock may be held by this very CPU (a fault inside tg_printf) or by a dead one. */
	for (long i = 0; i < 10000000 && console_owner != me; i++) {
		if (!__atomic_exchange_n(&console_lock.locked, 1, __ATOMIC_ACQUIRE)) {
			locked = true;
			break;
		}
		cpu_relax();
	}
	vprint(fmt, ap);
	if (locked)
		__atomic_store_n(&console_lock.locked, 0, __ATOMIC_RELEASE);
	irq_restore(flags);
	va_end(ap);
}
