/* SPDX-License-Identifier: Apache-2.0 */
/* k8s/backoff: client-go's reflector backoff with a fake clock and chosen jitter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "k8s/backoff.h"

/* Successive waits for fixed jitter values, failures 1 ms apart. */
static void test_sequence(void **state)
{
	static const struct {
		uint32_t rnd;
		uint64_t want[9];
	} cases[] = {
		{ 0, { 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000, 30000 } },
		{ 0x80000000u, { 1200, 2400, 4800, 9600, 19200, 38400, 45000, 45000, 45000 } },
		{ 0xffffffffu, { 1599, 3199, 6399, 12799, 25599, 51199, 59999, 59999, 59999 } },
	};
	size_t c, n;

	(void)state;
	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct k8s_backoff b;

		k8s_backoff_init(&b, 0, 0, 0);
		for (n = 0; n < 9; n++)
			assert_int_equal(k8s_backoff_next(&b, 1000 + n, cases[c].rnd),
					 cases[c].want[n]);
	}
}

/* Quiet means more than reset_ms since the previous wait was handed out. */
static void test_reset(void **state)
{
	static const struct {
		uint64_t gap;
		uint64_t want;
	} cases[] = {
		{ 0, 3200 },	  { 1, 3200 },	   { 119999, 3200 },
		{ 120000, 3200 }, { 120001, 800 }, { 3600000, 800 },
	};
	size_t c;

	(void)state;
	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct k8s_backoff b;

		k8s_backoff_init(&b, 0, 0, 0);
		assert_int_equal(k8s_backoff_next(&b, 5000, 0), 800);
		assert_int_equal(k8s_backoff_next(&b, 5000, 0), 1600);
		assert_int_equal(k8s_backoff_next(&b, 5000 + cases[c].gap, 0), cases[c].want);
	}
}

static void test_custom_and_explicit_reset(void **state)
{
	struct k8s_backoff b;

	(void)state;
	k8s_backoff_init(&b, 1000, 4000, 10000);
	assert_int_equal(k8s_backoff_next(&b, 0, 0), 1000);
	assert_int_equal(k8s_backoff_next(&b, 1, 0), 2000);
	assert_int_equal(k8s_backoff_next(&b, 2, 0), 4000);
	assert_int_equal(k8s_backoff_next(&b, 3, 0), 4000);
	k8s_backoff_reset(&b);
	assert_int_equal(k8s_backoff_next(&b, 4, 0), 1000);
	/* An initial value above the cap is clamped to it. */
	k8s_backoff_init(&b, 9000, 5000, 0);
	assert_int_equal(k8s_backoff_next(&b, 0, 0), 5000);
	assert_int_equal(k8s_backoff_next(&b, 0, 0xffffffffu), 9999);
	/* A clock that goes backwards does not reset. */
	k8s_backoff_init(&b, 0, 0, 0);
	assert_int_equal(k8s_backoff_next(&b, 500000, 0), 800);
	assert_int_equal(k8s_backoff_next(&b, 100, 0), 1600);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sequence),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_custom_and_explicit_reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
