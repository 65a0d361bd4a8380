/* SPDX-License-Identifier: Apache-2.0 */
/* daemon/log: logfmt and JSON lines, escaping, truncation, level filter, one write per line. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon/log.h"

#define TS_LEN	24 /* 2026-11-29T13:44:42.123Z */
#define CAP_MAX (1 << 20)

/* stderr goes into a pipe between capture_begin() and capture_end(). */
struct capture {
	int saved;
	int rd;
};

static void capture_begin(struct capture *c)
{
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	c->saved = dup(STDERR_FILENO);
	assert_true(c->saved >= 0);
	assert_int_equal(dup2(p[1], STDERR_FILENO), STDERR_FILENO);
	close(p[1]);
	c->rd = p[0];
}

static void capture_restore(struct capture *c)
{
	assert_int_equal(dup2(c->saved, STDERR_FILENO), STDERR_FILENO);
	close(c->saved);
}

/* Everything written since capture_begin(), NUL-terminated; the caller frees it. */
static char *capture_end(struct capture *c, size_t *len_out)
{
	char *out = malloc(CAP_MAX + 1);
	size_t len = 0;
	ssize_t n;

	assert_non_null(out);
	capture_restore(c);
	while ((n = read(c->rd, out + len, CAP_MAX - len)) > 0)
		len += (size_t)n;
	assert_true(n == 0);
	close(c->rd);
	out[len] = '\0';
	if (len_out)
		*len_out = len;
	return out;
}

static void check_timestamp(const char *ts)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
	struct tm tm;
	struct timespec now;
	time_t when;
	size_t i;

	for (i = 0; i < TS_LEN; i++) {
		if (shape[i] == 'd')
			assert_true(ts[i] >= '0' && ts[i] <= '9');
		else
			assert_int_equal(ts[i], shape[i]);
	}
	memset(&tm, 0, sizeof(tm));
	assert_non_null(strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm));
	when = timegm(&tm);
	/* time(2) may run a tick behind CLOCK_REALTIME: compare with the clock the log reads */
	assert_int_equal(clock_gettime(CLOCK_REALTIME, &now), 0);
	assert_true(when <= now.tv_sec && now.tv_sec - when <= 2);
}

/* Log one event and return the line with its timestamp checked and cut out. */
static char *one_line(enum log_format fmt, enum log_level lvl, const char *msg, const char *key,
		      const char *value)
{
	struct capture c;
	char *out, *rest;
	size_t len;
	const char *prefix = fmt == LOG_FMT_JSON ? "{\"time\":\"" : "time=";
	size_t plen = strlen(prefix);

	log_setup(fmt, LOG_LVL_DEBUG);
	capture_begin(&c);
	log_kv(lvl, msg, key, value, LOG_END);
	out = capture_end(&c, &len);
	assert_true(len > plen + TS_LEN);
	assert_memory_equal(out, prefix, plen);
	check_timestamp(out + plen);
	/* exactly one line */
	assert_ptr_equal(strchr(out, '\n'), out + len - 1);
	rest = strdup(out + plen + TS_LEN);
	assert_non_null(rest);
	free(out);
	return rest;
}

static void test_text_line(void **state)
{
	struct capture c;
	char *out;
	size_t len;

	(void)state;
	log_setup(LOG_FMT_TEXT, LOG_LVL_INFO);
	capture_begin(&c);
	log_kv(LOG_LVL_INFO, "profile saved", "ns", "x", "configmap", "y", "skipped",
	       (const char *)NULL, "key", "z", LOG_END);
	out = capture_end(&c, &len);
	assert_memory_equal(out, "time=", 5);
	check_timestamp(out + 5);
	assert_string_equal(out + 5 + TS_LEN,
			    " level=info msg=\"profile saved\" ns=x configmap=y key=z\n");
	free(out);
}

static void test_json_line(void **state)
{
	struct capture c;
	char *out;
	size_t len;

	(void)state;
	log_setup(LOG_FMT_JSON, LOG_LVL_INFO);
	capture_begin(&c);
	log_kv(LOG_LVL_WARN, "profile saved", "ns", "x", "skipped", (const char *)NULL, "configmap",
	       "y", LOG_END);
	out = capture_end(&c, &len);
	assert_memory_equal(out, "{\"time\":\"", 9);
	check_timestamp(out + 9);
	assert_string_equal(out + 9 + TS_LEN,
			    "\",\"level\":\"warn\",\"msg\":\"profile saved\",\"ns\":\"x\","
			    "\"configmap\":\"y\"}\n");
	free(out);
}

static void test_escaping(void **state)
{
	static const struct {
		const char *value;
		const char *text; /* the value as logfmt writes it */
		const char *json; /* the value inside JSON's quotes */
	} cases[] = {
		{ "plain", "plain", "plain" },
		{ "", "\"\"", "" },
		{ "a b", "\"a b\"", "a b" },
		{ "say \"hi\"", "\"say \\\"hi\\\"\"", "say \\\"hi\\\"" },
		{ "a=b", "\"a=b\"", "a=b" },
		{ "back\\slash", "\"back\\\\slash\"", "back\\\\slash" },
		{ "l1\nl2\tt\r", "\"l1\\nl2\\tt\\r\"", "l1\\nl2\\tt\\r" },
		{ "\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"", "\\u0001\\u001f\\u007f" },
		{ "caf\xc3\xa9", "caf\xc3\xa9", "caf\xc3\xa9" },
		{ "\xe6\x97\xa5\xe6\x9c\xac", "\xe6\x97\xa5\xe6\x9c\xac",
		  "\xe6\x97\xa5\xe6\x9c\xac" },
		{ "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80" },
		{ "a\xff", "\"a\\ufffd\"", "a\\ufffd" },
		{ "\xc3", "\"\\ufffd\"", "\\ufffd" },
		{ "\xc3(", "\"\\ufffd(\"", "\\ufffd(" },
		{ "\xc0\xaf", "\"\\ufffd\\ufffd\"", "\\ufffd\\ufffd" },
		{ "\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\"", "\\ufffd\\ufffd\\ufffd" },
		{ "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"", "\\ufffd\\ufffd\\ufffd" },
		{ "\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"",
		  "\\ufffd\\ufffd\\ufffd\\ufffd" },
		{ "/path/to:x,y", "/path/to:x,y", "/path/to:x,y" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char want[512];
		char *got;

		got = one_line(LOG_FMT_TEXT, LOG_LVL_INFO, "m", "k", cases[i].value);
		(void)snprintf(want, sizeof(want), " level=info msg=m k=%s\n", cases[i].text);
		if (strcmp(got, want) != 0)
			fail_msg("text case %zu: got '%s' want '%s'", i, got, want);
		free(got);

		got = one_line(LOG_FMT_JSON, LOG_LVL_INFO, "m", "k", cases[i].value);
		(void)snprintf(want, sizeof(want),
			       "\",\"level\":\"info\",\"msg\":\"m\",\"k\":\"%s\"}\n",
			       cases[i].json);
		if (strcmp(got, want) != 0)
			fail_msg("json case %zu: got '%s' want '%s'", i, got, want);
		free(got);
	}
}

static void test_message_and_key_escaping(void **state)
{
	char *got;

	(void)state;
	got = one_line(LOG_FMT_TEXT, LOG_LVL_ERROR, "cannot write 'a b'", "bad key=", "v");
	assert_string_equal(got, " level=error msg=\"cannot write 'a b'\" bad_key_=v\n");
	free(got);
	got = one_line(LOG_FMT_JSON, LOG_LVL_DEBUG, "two\nlines", "q\"k", "v");
	assert_string_equal(got,
			    "\",\"level\":\"debug\",\"msg\":\"two\\nlines\",\"q\\\"k\":\"v\"}\n");
	free(got);
	got = one_line(LOG_FMT_TEXT, LOG_LVL_INFO, NULL, "k", "v");
	assert_string_equal(got, " level=info msg=\"\" k=v\n");
	free(got);
}

/* Every \u in @s is followed by four hex digits and every quote but the escaped ones balances. */
static void check_escapes_whole(const char *s)
{
	for (; *s; s++) {
		if (*s != '\\')
			continue;
		s++;
		assert_non_null(strchr("\"\\nrtu", *s));
		if (*s == 'u') {
			int i;

			for (i = 1; i <= 4; i++)
				assert_non_null(strchr("0123456789abcdef", s[i]));
			s += 4;
		}
	}
}

static void test_truncation(void **state)
{
	static const struct {
		enum log_format fmt;
		char fill;	  /* byte the long value is made of */
		const char *tail; /* how the line must end */
	} cases[] = {
		{ LOG_FMT_TEXT, 'a', " truncated=true\n" },
		{ LOG_FMT_TEXT, ' ', "\" truncated=true\n" },
		{ LOG_FMT_TEXT, '\x01', "\" truncated=true\n" },
		{ LOG_FMT_JSON, 'a', "\",\"truncated\":true}\n" },
		{ LOG_FMT_JSON, '\x01', "\",\"truncated\":true}\n" },
		{ LOG_FMT_JSON, '"', "\",\"truncated\":true}\n" },
	};
	size_t i, sizes[] = { 4000, 4050, 4096, 10000 };
	char *big = malloc(10001);

	(void)state;
	assert_non_null(big);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t j;

		for (j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
			struct capture c;
			char *out;
			size_t len, tl = strlen(cases[i].tail);

			memset(big, cases[i].fill, sizes[j]);
			big[sizes[j]] = '\0';
			log_setup(cases[i].fmt, LOG_LVL_INFO);
			capture_begin(&c);
			log_kv(LOG_LVL_INFO, "long", "first", "1", "big", big, "after", "x",
			       LOG_END);
			out = capture_end(&c, &len);
			assert_true(len <= 4096);
			assert_true(len > 3000);
			assert_ptr_equal(strchr(out, '\n'), out + len - 1);
			if (len < tl || strcmp(out + len - tl, cases[i].tail) != 0)
				fail_msg("case %zu/%zu: bad end '%s'", i, sizes[j],
					 out + (len > 40 ? len - 40 : 0));
			assert_non_null(strstr(out, cases[i].fmt == LOG_FMT_JSON ? "\"first\":\"1\""
										 : "first=1"));
			assert_null(strstr(out, "after"));
			check_escapes_whole(out);
			free(out);
		}
	}
	free(big);
}

static void test_truncation_in_key(void **state)
{
	static const enum log_format fmts[] = { LOG_FMT_TEXT, LOG_FMT_JSON };
	char *key = malloc(6001);
	char *filler = malloc(3901);
	size_t i;

	(void)state;
	assert_non_null(key);
	assert_non_null(filler);
	memset(key, 'k', 6000);
	key[6000] = '\0';
	memset(filler, 'f', 3900);
	filler[3900] = '\0';
	for (i = 0; i < 2; i++) {
		struct capture c;
		char *out;
		size_t len;

		log_setup(fmts[i], LOG_LVL_INFO);
		capture_begin(&c);
		/* JSON keeps the long key and cuts it: the field is dropped whole */
		log_kv(LOG_LVL_INFO, "m", "a", "1", "fill", filler, key, "v", LOG_END);
		out = capture_end(&c, &len);
		assert_true(len <= 4096);
		if (fmts[i] == LOG_FMT_JSON) {
			static const char end[] = "fff\",\"truncated\":true}\n";

			assert_string_equal(out + len - strlen(end), end);
			assert_null(strstr(out, "kkk"));
		} else {
			/* logfmt keys are limited to 63 bytes, so the field fits */
			assert_non_null(strstr(out, " kkk"));
			assert_null(strstr(out, "truncated"));
		}
		free(out);
	}
	free(key);
	free(filler);
}

static void test_level_filter(void **state)
{
	static const struct {
		enum log_level min;
		enum log_level lvl;
		bool written;
	} cases[] = {
		{ LOG_LVL_ERROR, LOG_LVL_ERROR, true }, { LOG_LVL_ERROR, LOG_LVL_WARN, false },
		{ LOG_LVL_WARN, LOG_LVL_WARN, true },	{ LOG_LVL_WARN, LOG_LVL_INFO, false },
		{ LOG_LVL_INFO, LOG_LVL_WARN, true },	{ LOG_LVL_INFO, LOG_LVL_DEBUG, false },
		{ LOG_LVL_DEBUG, LOG_LVL_DEBUG, true }, { LOG_LVL_DEBUG, LOG_LVL_ERROR, true },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct capture c;
		char *out;
		size_t len;

		log_setup(LOG_FMT_TEXT, cases[i].min);
		assert_int_equal(log_enabled(cases[i].lvl), cases[i].written);
		capture_begin(&c);
		log_kv(cases[i].lvl, "event", "i", "x", LOG_END);
		out = capture_end(&c, &len);
		if (cases[i].written)
			assert_non_null(strstr(out, " msg=event i=x\n"));
		else
			assert_int_equal(len, 0);
		free(out);
	}
	log_setup(LOG_FMT_TEXT, LOG_LVL_INFO);
}

static void test_parse(void **state)
{
	static const struct {
		const char *s;
		int r;
		enum log_level lvl;
	} levels[] = {
		{ "error", 0, LOG_LVL_ERROR },
		{ "warn", 0, LOG_LVL_WARN },
		{ "info", 0, LOG_LVL_INFO },
		{ "debug", 0, LOG_LVL_DEBUG },
		{ "INFO", -EINVAL, 0 },
		{ "warning", -EINVAL, 0 },
		{ "", -EINVAL, 0 },
		{ NULL, -EINVAL, 0 },
	};
	static const struct {
		const char *s;
		int r;
		enum log_format fmt;
	} fmts[] = {
		{ "text", 0, LOG_FMT_TEXT }, { "json", 0, LOG_FMT_JSON }, { "logfmt", -EINVAL, 0 },
		{ "JSON", -EINVAL, 0 },	     { "", -EINVAL, 0 },	  { NULL, -EINVAL, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		enum log_level l = (enum log_level)99;

		assert_int_equal(log_parse_level(levels[i].s, &l), levels[i].r);
		if (levels[i].r == 0)
			assert_int_equal(l, levels[i].lvl);
		else
			assert_int_equal(l, 99);
	}
	for (i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		enum log_format f = (enum log_format)99;

		assert_int_equal(log_parse_format(fmts[i].s, &f), fmts[i].r);
		if (fmts[i].r == 0)
			assert_int_equal(f, fmts[i].fmt);
		else
			assert_int_equal(f, 99);
	}
}

static void test_errno_kept(void **state)
{
	struct capture c;
	char *out;

	(void)state;
	log_setup(LOG_FMT_TEXT, LOG_LVL_INFO);
	capture_begin(&c);
	errno = ENOSPC;
	log_kv(LOG_LVL_INFO, "m", LOG_END);
	assert_int_equal(errno, ENOSPC);
	out = capture_end(&c, NULL);
	free(out);
}

#define N_THREADS 4
#define N_LINES	  500

static void *writer(void *arg)
{
	char id[8], pad[300];
	int i;

	(void)snprintf(id, sizeof(id), "%d", (int)(intptr_t)arg);
	memset(pad, 'a' + (int)(intptr_t)arg, sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	for (i = 0; i < N_LINES; i++)
		log_kv(LOG_LVL_INFO, "concurrent line", "thread", id, "pad", pad, LOG_END);
	return NULL;
}

struct reader {
	int fd;
	char *data;
	size_t len;
};

static void *reader(void *arg)
{
	struct reader *r = arg;
	ssize_t n;

	while ((n = read(r->fd, r->data + r->len, CAP_MAX - r->len)) > 0)
		r->len += (size_t)n;
	return NULL;
}

/* Lines from several threads never interleave: each arrives whole. */
static void test_concurrent_lines(void **state)
{
	pthread_t w[N_THREADS], rt;
	struct capture c;
	struct reader r = { 0 };
	int counts[N_THREADS] = { 0 };
	char *line, *save = NULL;
	int i;

	(void)state;
	log_setup(LOG_FMT_JSON, LOG_LVL_INFO);
	r.data = malloc(CAP_MAX + 1);
	assert_non_null(r.data);
	capture_begin(&c);
	r.fd = c.rd;
	assert_int_equal(pthread_create(&rt, NULL, reader, &r), 0);
	for (i = 0; i < N_THREADS; i++)
		assert_int_equal(pthread_create(&w[i], NULL, writer, (void *)(intptr_t)i), 0);
	for (i = 0; i < N_THREADS; i++)
		pthread_join(w[i], NULL);
	capture_restore(&c);
	pthread_join(rt, NULL);
	close(c.rd);
	r.data[r.len] = '\0';

	for (line = strtok_r(r.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		static const char mid[] =
			"\",\"level\":\"info\",\"msg\":\"concurrent line\",\"thread\":\"";
		char want[400], *end;
		long t;

		assert_memory_equal(line + 9 + TS_LEN, mid, sizeof(mid) - 1);
		t = strtol(line + 9 + TS_LEN + sizeof(mid) - 1, &end, 10);
		assert_int_equal(*end, '"');
		assert_true(t >= 0 && t < N_THREADS);
		memset(want, 'a' + t, 299);
		want[299] = '\0';
		assert_non_null(strstr(line, want));
		assert_string_equal(line + strlen(line) - 2, "\"}");
		counts[t]++;
	}
	for (i = 0; i < N_THREADS; i++)
		assert_int_equal(counts[i], N_LINES);
	free(r.data);
	log_setup(LOG_FMT_TEXT, LOG_LVL_INFO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_line),
		cmocka_unit_test(test_json_line),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_message_and_key_escaping),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_truncation_in_key),
		cmocka_unit_test(test_level_filter),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_errno_kept),
		cmocka_unit_test(test_concurrent_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
