/* RSP framing: checksums, escapes, run-length coding, acks, interrupts, bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gdbstub/rsp.h"

static struct rsp *new_rsp(void)
{
	struct rsp *r = malloc(sizeof(*r));

	assert_non_null(r);
	rsp_init(r);
	return r;
}

/* Feed S; return the last event that was not RSP_NONE. */
static enum rsp_event feed(struct rsp *r, const void *s, size_t n)
{
	enum rsp_event last = RSP_NONE, e;

	for (size_t i = 0; i < n; i++)
		if ((e = rsp_feed(r, ((const uint8_t *)s)[i])) != RSP_NONE)
			last = e;
	return last;
}

static void test_packet_and_checksum(void **state)
{
	struct rsp *r = new_rsp();

	assert_int_equal(feed(r, "$g#67", 5), RSP_PACKET);
	assert_int_equal(r->len, 1);
	assert_string_equal((char *)r->buf, "g");
	assert_int_equal(feed(r, "$g#68", 5), RSP_BAD);
	assert_int_equal(feed(r, "$g#zz", 5), RSP_BAD);
	assert_int_equal(feed(r, "+", 1), RSP_ACK);
	assert_int_equal(feed(r, "-", 1), RSP_NAK);
	assert_int_equal(feed(r, "\x03", 1), RSP_INTERRUPT);
	free(r);
}

static void test_encode_roundtrip(void **state)
{
	struct rsp *r = new_rsp();
	uint8_t payload[1000], out[2 * sizeof(payload) + 8];
	size_t n;

	/* Every byte value, runs of all lengths, and the characters that need escapes. */
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i < 256 ? i : i < 600 ? '0' : i < 700 ? '*' : (i * 7) % 5);
	n = rsp_encode(payload, sizeof(payload), out, sizeof(out));
	assert_true(n > 4);
	assert_int_equal(out[0], '$');
	/* No raw '$' or '#' inside the frame. */
	for (size_t i = 1; i < n - 3; i++)
		assert_true(out[i] != '$' && out[i] != '#');
	assert_int_equal(feed(r, out, n), RSP_PACKET);
	assert_int_equal(r->len, sizeof(payload));
	assert_memory_equal(r->buf, payload, sizeof(payload));
	/* Runs were compressed: 344 zeros take far fewer bytes. */
	assert_true(n < sizeof(payload));
	free(r);
}

static void test_rle_avoids_hash_and_dollar(void **state)
{
	struct rsp *r = new_rsp();
	uint8_t out[64];

	for (size_t run = 1; run <= 20; run++) {
		uint8_t p[20];
		size_t n;

		memset(p, 'a', run);
		n = rsp_encode(p, run, out, sizeof(out));
		for (size_t i = 1; i < n - 3; i++)
			assert_true(out[i] != '#' && out[i] != '$');
		assert_int_equal(feed(r, out, n), RSP_PACKET);
		assert_int_equal(r->len, run);
		assert_memory_equal(r->buf, p, run);
	}
	free(r);
}

static void test_oversized_and_malformed(void **state)
{
	struct rsp *r = new_rsp();
	size_t big = RSP_PACKET_SIZE + 100;
	uint8_t *p = malloc(big), *out = malloc(2 * big + 8);
	size_t n;

	memset(p, 'A', big);
	p[big / 2] = 'B'; /* not one long run */
	n = rsp_encode(p, big, out, 2 * big + 8);
	assert_int_equal(feed(r, out, n), RSP_TOO_LONG);
	/* The next packet is parsed normally. */
	assert_int_equal(feed(r, "$qC#b4", 6), RSP_PACKET);
	assert_string_equal((char *)r->buf, "qC");
	/* A run-length count below 29 is malformed, not a crash. */
	{
		const char bad[] = "$a*\x01";
		uint8_t sum = 0;
		char frame[16];

		for (size_t i = 1; i < 4; i++)
			sum += (uint8_t)bad[i];
		snprintf(frame, sizeof(frame), "%s#%02x", bad, sum);
		assert_int_equal(feed(r, frame, strlen(frame)), RSP_TOO_LONG);
	}
	/* A '$' inside a packet restarts it. */
	assert_int_equal(feed(r, "$gar$qC#b4", 10), RSP_PACKET);
	assert_string_equal((char *)r->buf, "qC");
	free(p);
	free(out);
	free(r);
}

static void test_escape_decoding(void **state)
{
	struct rsp *r = new_rsp();
	/* In X data, "}" then 0x03 is an escaped 0x23 (#). */
	const char body[] = "X0,1:}\x03";
	uint8_t sum = 0;
	char frame[32];

	for (size_t i = 0; i < strlen(body); i++)
		sum += (uint8_t)body[i];
	snprintf(frame, sizeof(frame), "$%s#%02x", body, sum);
	assert_int_equal(feed(r, frame, strlen(frame)), RSP_PACKET);
	assert_int_equal(r->len, 6);
	assert_int_equal(r->buf[5], '#');
	free(r);
}

static void test_hex(void **state)
{
	const char *p = "ffffffff8010ca30,4";
	uint64_t v;
	uint8_t b[4];
	char hex[9];

	assert_int_equal(rsp_parse_hex(&p, &v), 0);
	assert_true(v == 0xffffffff8010ca30ULL);
	assert_int_equal(*p, ',');
	p = "1ffffffffffffffff"; /* 65 bits */
	assert_int_equal(rsp_parse_hex(&p, &v), -1);
	p = ",";
	assert_int_equal(rsp_parse_hex(&p, &v), -1);
	assert_int_equal(rsp_fromhex("deadBEEF", 8, b), 4);
	assert_int_equal(b[0], 0xde);
	assert_int_equal(b[3], 0xef);
	assert_int_equal(rsp_fromhex("abc", 3, b), -1);
	assert_int_equal(rsp_fromhex("zz", 2, b), -1);
	rsp_tohex(b, 4, hex);
	assert_string_equal(hex, "deadbeef");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_packet_and_checksum),
		cmocka_unit_test(test_encode_roundtrip),
		cmocka_unit_test(test_rle_avoids_hash_and_dollar),
		cmocka_unit_test(test_oversized_and_malformed),
		cmocka_unit_test(test_escape_decoding),
		cmocka_unit_test(test_hex),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
