/* SPDX-License-Identifier: Apache-2.0 */
/*
 * k8s/http: the token's rotation rules (re-read about every minute and at once
 * after a 401; a bad read keeps the old token), query encoding, Retry-After,
 * status-to-errno mapping and server URL checks.  The network side is covered
 * by tests/integration/test_k8s_client.py.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/buf.h"
#include "k8s/config.h"
#include "k8s/http.h"

struct tmp {
	char dir[64];
	char file[96];
};

static void tmp_setup(struct tmp *t)
{
	memset(t, 0, sizeof(*t));
	(void)snprintf(t->dir, sizeof(t->dir), "/tmp/test_http.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	(void)snprintf(t->file, sizeof(t->file), "%s/token", t->dir);
}

static void tmp_cleanup(struct tmp *t)
{
	(void)unlink(t->file);
	assert_int_equal(rmdir(t->dir), 0);
}

/* Replace the file's content (len bytes of s), or remove it when s is NULL. */
static void put(const struct tmp *t, const char *s, size_t len)
{
	int fd;

	if (!s) {
		(void)unlink(t->file);
		return;
	}
	fd = open(t->file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, s, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

static void puts_file(const struct tmp *t, const char *s)
{
	put(t, s, s ? strlen(s) : 0);
}

static void test_token_rotation(void **state)
{
	/*
	 * Each step rewrites the file (or not), then refreshes at a time; the
	 * expected token afterwards and the refresh's return.
	 */
	static const struct {
		const char *file; /* new content; NULL: remove; "=": leave alone */
		uint64_t at;
		int force;
		int want_ret;
		const char *want;
	} steps[] = {
		{ "=", 0, 0, 0, "first" },	     /* read at init */
		{ "second\n", 1000, 0, 0, "first" }, /* not due yet */
		{ "=", 59999, 0, 0, "first" },
		{ "=", 60000, 0, 1, "second" },		/* a minute later: re-read, trimmed */
		{ "third", 60001, 1, 1, "third" },	/* after a 401: at once */
		{ "", 130000, 0, 0, "third" },		/* empty: keep the old one */
		{ "  \n\t ", 200000, 1, 0, "third" },	/* only whitespace */
		{ NULL, 260000, 1, 0, "third" },	/* unreadable */
		{ "two words", 270000, 1, 0, "third" }, /* not a token */
		{ "ctl\x01x", 280000, 1, 0, "third" },
		{ "fourth", 290000, 1, 1, "fourth" },
		{ "fourth", 400000, 0, 0, "fourth" }, /* unchanged content */
		{ "\r\n fifth \r\n", 460001, 0, 1, "fifth" },
	};
	struct k8s_token tok;
	struct tmp t = { { 0 }, { 0 } };
	size_t i;

	(void)state;
	tmp_setup(&t);
	puts_file(&t, "first");
	assert_int_equal(k8s_token_init(&tok, "static", t.file, 0), 0);
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		if (!steps[i].file || strcmp(steps[i].file, "="))
			puts_file(&t, steps[i].file);
		if (i > 0)
			assert_int_equal(k8s_token_refresh(&tok, steps[i].at, steps[i].force),
					 steps[i].want_ret);
		assert_string_equal(tok.value, steps[i].want);
	}
	k8s_token_release(&tok);
	assert_null(tok.value);
	tmp_cleanup(&t);
}

static void test_token_limits(void **state)
{
	struct k8s_token tok;
	struct tmp t = { { 0 }, { 0 } };
	char *big;

	(void)state;
	tmp_setup(&t);
	/* An unreadable file at start keeps the static token; none at all is NULL. */
	assert_int_equal(k8s_token_init(&tok, "static", t.file, 0), 0);
	assert_string_equal(tok.value, "static");
	k8s_token_release(&tok);
	assert_int_equal(k8s_token_init(&tok, NULL, t.file, 0), 0);
	assert_null(tok.value);

	big = malloc(K8S_TOKEN_MAX + 2);
	assert_non_null(big);
	memset(big, 'a', K8S_TOKEN_MAX + 1);
	put(&t, big, K8S_TOKEN_MAX + 1);
	assert_int_equal(k8s_token_refresh(&tok, 1, true), 0);
	assert_null(tok.value);
	put(&t, big, K8S_TOKEN_MAX);
	assert_int_equal(k8s_token_refresh(&tok, 2, true), 1);
	assert_int_equal(strlen(tok.value), K8S_TOKEN_MAX);
	free(big);
	k8s_token_release(&tok);

	/* A static token without a file never changes. */
	assert_int_equal(k8s_token_init(&tok, "static", NULL, 0), 0);
	assert_int_equal(k8s_token_refresh(&tok, 10000000, true), 0);
	assert_string_equal(tok.value, "static");
	k8s_token_release(&tok);
	tmp_cleanup(&t);
}

/*
 * The client's seam: every request refreshes the token when due, and a 401
 * makes the next request re-read it at once.
 */
static void test_client_token_after_401(void **state)
{
	static const struct k8s_req_opts get = { .method = "GET", .path = "/api/v1/configmaps" };
	struct k8s_config cfg = { 0 };
	struct k8s_http *h = NULL;
	struct k8s_req *r = NULL;
	struct tmp t = { { 0 }, { 0 } };
	struct diag d;

	(void)state;
	tmp_setup(&t);
	puts_file(&t, "old");
	cfg.server = "https://127.0.0.1:6443/";
	cfg.token_file = t.file;
	assert_int_equal(k8s_http_new(&cfg, 0, &h, &d), 0);
	assert_string_equal(k8s_http_token(h)->value, "old");

	puts_file(&t, "new");
	assert_int_equal(k8s_req_new(h, &get, 1000, &r, &d), 0);
	k8s_req_free(r);
	assert_string_equal(k8s_http_token(h)->value, "old");

	k8s_http_unauthorized(h);
	assert_int_equal(k8s_req_new(h, &get, 2000, &r, &d), 0);
	k8s_req_free(r);
	assert_string_equal(k8s_http_token(h)->value, "new");

	/* The forced read is once per 401, then the minute schedule applies again. */
	puts_file(&t, "newer");
	assert_int_equal(k8s_req_new(h, &get, 3000, &r, &d), 0);
	k8s_req_free(r);
	assert_string_equal(k8s_http_token(h)->value, "new");
	assert_int_equal(k8s_req_new(h, &get, 62000, &r, &d), 0);
	k8s_req_free(r);
	assert_string_equal(k8s_http_token(h)->value, "newer");

	/* A 401 while the file is being rewritten (empty) keeps the working token. */
	puts_file(&t, "");
	k8s_http_unauthorized(h);
	assert_int_equal(k8s_req_new(h, &get, 63000, &r, &d), 0);
	k8s_req_free(r);
	assert_string_equal(k8s_http_token(h)->value, "newer");

	/* A relative path is refused, and the token is not in the message. */
	{
		static const struct k8s_req_opts bad = { .method = "GET", .path = "api/v1" };

		assert_int_equal(k8s_req_new(h, &bad, 64000, &r, &d), -EINVAL);
		assert_null(strstr(d.msg, "newer"));
	}
	k8s_http_free(h);
	tmp_cleanup(&t);
}

static void test_server_url(void **state)
{
	static const struct {
		const char *server;
		int want;
	} cases[] = {
		{ "https://10.0.0.1:6443", 0 },
		{ "https://[fd00::1]:6443/", 0 },
		{ "http://127.0.0.1:8080", 0 },
		{ "ftp://host", -EINVAL },
		{ "10.0.0.1:6443", -EINVAL },
		{ "https://host/a b", -EINVAL },
		{ "https://host/\r\nX-Evil: 1", -EINVAL },
		{ NULL, -EINVAL },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct k8s_config cfg = { .server = (char *)cases[i].server };
		struct k8s_http *h = NULL;
		struct diag d;

		assert_int_equal(k8s_http_new(&cfg, 0, &h, &d), cases[i].want);
		k8s_http_free(h);
	}
}

static void test_query(void **state)
{
	static const struct {
		const char *start, *key, *value, *want;
	} cases[] = {
		{ "/api/v1/configmaps", "limit", "500", "/api/v1/configmaps?limit=500" },
		{ "/p?watch=true", "resourceVersion", "123", "/p?watch=true&resourceVersion=123" },
		{ "/p", "labelSelector", "app in (a,b),!x",
		  "/p?labelSelector=app%20in%20%28a%2Cb%29%2C%21x" },
		{ "/p", "fieldSelector", "spec.nodeName=node-1",
		  "/p?fieldSelector=spec.nodeName%3Dnode-1" },
		{ "/p", "continue", "eyJ2Ijoi+/=", "/p?continue=eyJ2Ijoi%2B%2F%3D" },
		{ "/p", "k", "a&b=c#d?e%", "/p?k=a%26b%3Dc%23d%3Fe%25" },
		{ "/p", "k", "\xc3\xa9~_-.", "/p?k=%C3%A9~_-." },
		{ "/p", "k", "", "/p?k=" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b;

		buf_init(&b, 0);
		assert_int_equal(buf_appendf(&b, "%s", cases[i].start), 0);
		assert_int_equal(k8s_http_query_add(&b, cases[i].key, cases[i].value), 0);
		assert_string_equal(b.data, cases[i].want);
		buf_release(&b);
	}
	{
		struct buf b;

		buf_init(&b, 16);
		assert_int_equal(buf_appendf(&b, "/p"), 0);
		assert_int_equal(k8s_http_query_add(&b, "k", "0123456789abcdef"), -E2BIG);
		buf_release(&b);
	}
}

static void test_retry_after(void **state)
{
	static const struct {
		const char *v;
		unsigned want;
	} cases[] = {
		{ " 5\r\n", 5 },
		{ "0", 0 },
		{ "120", 120 },
		{ "\t7 ", 7 },
		{ "Wed, 21 Oct 2015 07:28:00 GMT\r\n", 0 },
		{ "-1", 0 },
		{ "1.5", 0 },
		{ "", 0 },
		{ "99999999999999999999", 86400 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(k8s_http_retry_after(cases[i].v, strlen(cases[i].v)),
				 cases[i].want);
}

static void test_code_errno(void **state)
{
	static const struct {
		int code, want;
	} cases[] = {
		{ 400, -EINVAL }, { 401, -EACCES },    { 403, -EACCES }, { 404, -ENOENT },
		{ 410, -ESTALE }, { 422, -EINVAL },    { 429, -EBUSY },	 { 500, -EIO },
		{ 503, -EIO },	  { 504, -ETIMEDOUT },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(k8s_http_code_errno(cases[i].code), cases[i].want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_rotation),
		cmocka_unit_test(test_token_limits),
		cmocka_unit_test(test_client_token_after_401),
		cmocka_unit_test(test_server_url),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_code_errno),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
