/* SPDX-License-Identifier: Apache-2.0 */
/* common/: diag, buf, sha256. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/diag.h"
#include "common/sha256.h"

static void test_sha256_vectors(void **state)
{
	/* FIPS 180-4 examples plus lengths around the 55/56/64-byte padding edges. */
	static const struct {
		const char *in;
		size_t repeat;
		const char *hex;
	} cases[] = {
		{ "", 1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abc", 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1,
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
		{ "a", 1000000,
		  "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0" },
		{ "a", 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318" },
		{ "a", 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a" },
		{ "a", 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb" },
	};
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sha256 s;
		uint8_t out[SHA256_LEN];
		char hex[SHA256_HEX_LEN];

		sha256_init(&s);
		for (j = 0; j < cases[i].repeat; j++)
			sha256_update(&s, cases[i].in, strlen(cases[i].in));
		sha256_final(&s, out);
		sha256_hex(out, hex);
		assert_string_equal(hex, cases[i].hex);
	}
}

static void test_sha256_split(void **state)
{
	static const char text[] = "The quick brown fox jumps over the lazy dog, twice: the quick "
				   "brown fox jumps over the lazy dog";
	uint8_t whole[SHA256_LEN], part[SHA256_LEN];
	size_t cut;

	(void)state;
	sha256(text, sizeof(text) - 1, whole);
	for (cut = 0; cut < sizeof(text); cut++) {
		struct sha256 s;

		sha256_init(&s);
		sha256_update(&s, text, cut);
		sha256_update(&s, text + cut, sizeof(text) - 1 - cut);
		sha256_final(&s, part);
		assert_memory_equal(whole, part, SHA256_LEN);
	}
}

static void test_buf_limit(void **state)
{
	struct buf b;
	char *p;
	size_t len;

	(void)state;
	buf_init(&b, 8);
	assert_int_equal(buf_append(&b, "1234", 4), 0);
	assert_int_equal(buf_appendf(&b, "%d", 5678), 0);
	assert_string_equal(b.data, "12345678");
	assert_int_equal(buf_append(&b, "9", 1), -E2BIG);
	assert_int_equal(buf_appendf(&b, "x"), -E2BIG);
	assert_int_equal(b.len, 8);
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	assert_int_equal(buf_append(&b, "ab", 2), 0);
	p = buf_detach(&b, &len);
	assert_string_equal(p, "ab");
	assert_int_equal(len, 2);
	assert_null(b.data);
	free(p);
	p = buf_detach(&b, &len);
	assert_string_equal(p, "");
	free(p);
	buf_release(&b);
}

static void test_diag(void **state)
{
	struct diag d;

	(void)state;
	assert_int_equal(diag_set(&d, -ENOENT, "cannot open '%s'", "x"), -ENOENT);
	assert_string_equal(d.msg, "cannot open 'x'");
	assert_int_equal(diag_prefix(&d, -ENOENT, "profile '%s'", "ns/cm/key"), -ENOENT);
	assert_string_equal(d.msg, "profile 'ns/cm/key': cannot open 'x'");
	assert_int_equal(diag_set(NULL, -EIO, "dropped"), -EIO);
	diag_clear(&d);
	assert_string_equal(d.msg, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_vectors),
		cmocka_unit_test(test_sha256_split),
		cmocka_unit_test(test_buf_limit),
		cmocka_unit_test(test_diag),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
