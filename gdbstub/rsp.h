/*
 * gdb remote serial protocol framing: the receive state machine ($...#cs,
 * acks, the 0x03 interrupt byte, '}' escapes and '*' run-length decoding),
 * the reply encoder (escaping and run-length encoding) and hex helpers. No I/O.
 */
#ifndef VMDBG_RSP_H
#define VMDBG_RSP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest packet payload we accept and announce (qSupported PacketSize, hex 20000). */
#define RSP_PACKET_SIZE 0x20000

enum rsp_event {
	RSP_NONE,       /* byte consumed, nothing complete yet */
	RSP_PACKET,     /* a packet with a good checksum: payload in r->buf, r->len */
	RSP_BAD,        /* a packet with a bad checksum (NAK it) */
	RSP_TOO_LONG,   /* a packet longer than RSP_PACKET_SIZE (answered with an error) */
	RSP_INTERRUPT,  /* 0x03 outside a packet */
	RSP_ACK,
	RSP_NAK,
};

struct rsp {
	uint8_t buf[RSP_PACKET_SIZE + 1]; /* decoded payload, NUL-terminated */
	size_t len;
	int state;
	uint8_t sum, rx_sum;
	bool overflow;
};

void rsp_init(struct rsp *r);
enum rsp_event rsp_feed(struct rsp *r, uint8_t c);

/*
 * Frame PAYLOAD as $...#cs into OUT (capacity CAP; 2 * len + 4 always fits),
 * escaping '$', '#', '}' and '*' and run-length encoding runs. Returns the length.
 */
size_t rsp_encode(const uint8_t *payload, size_t len, uint8_t *out, size_t cap);

/* Hex helpers: return the number of characters/bytes produced, or -1 on a bad digit. */
int rsp_hexval(int c);
void rsp_tohex(const uint8_t *src, size_t len, char *dst); /* writes 2*len chars + NUL */
int rsp_fromhex(const char *src, size_t nchars, uint8_t *dst);

/*
 * Parse a hex number at *P (at least one digit, no overflow past 64 bits);
 * advances *P. Returns 0 or -1.
 */
int rsp_parse_hex(const char **p, uint64_t *out);

#endif
