/* SPDX-License-Identifier: Apache-2.0 */
/* daemon/endpoint: listen syntax, /healthz /readyz /metrics, status codes, with a socket client. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/diag.h"
#include "daemon/endpoint.h"
#include "daemon/log.h"
#include "daemon/metrics.h"

#define RESP_MAX (1 << 20)

struct resp {
	int status;
	char *head; /* status line and headers */
	char *body;
	size_t body_len;
};

static void resp_free(struct resp *r)
{
	free(r->head);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

static double mono(void)
{
	struct timespec ts;

	assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int connect_to(int family, int port)
{
	struct sockaddr_storage ss;
	struct timeval tv = { .tv_sec = 5 };
	socklen_t len;
	int fd;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_loopback;
		s6->sin6_port = htons((uint16_t)port);
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		s4->sin_port = htons((uint16_t)port);
		len = sizeof(*s4);
	}
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Send @request as is and read the whole answer (the server closes: Connection: close). */
static void raw_request(int family, int port, const char *request, size_t request_len,
			struct resp *r)
{
	char *data = malloc(RESP_MAX + 1), *sep;
	size_t len = 0, off = 0;
	ssize_t n;
	int fd = connect_to(family, port);

	assert_non_null(data);
	assert_true(fd >= 0);
	while (off < request_len) {
		n = send(fd, request + off, request_len - off, MSG_NOSIGNAL);
		if (n <= 0)
			break; /* the server may close early on a request it refuses */
		off += (size_t)n;
	}
	while ((n = recv(fd, data + len, RESP_MAX - len, 0)) > 0)
		len += (size_t)n;
	close(fd);
	data[len] = '\0';
	memset(r, 0, sizeof(*r));
	sep = strstr(data, "\r\n\r\n");
	/* "HTTP/1.1 200 ..." */
	if (sep && strncmp(data, "HTTP/1.", 7) == 0 && data[8] == ' ')
		r->status = (int)strtol(data + 9, NULL, 10);
	if (!sep || r->status < 100 || r->status > 599) {
		r->status = 0;
		r->head = data;
		r->body = strdup("");
		return;
	}
	r->head = strndup(data, (size_t)(sep - data) + 2);
	r->body_len = len - (size_t)(sep + 4 - data);
	r->body = malloc(r->body_len + 1);
	assert_non_null(r->head);
	assert_non_null(r->body);
	memcpy(r->body, sep + 4, r->body_len);
	r->body[r->body_len] = '\0';
	free(data);
}

static void request(int family, int port, const char *method, const char *path, struct resp *r)
{
	char req[512];
	int n;

	n = snprintf(req, sizeof(req),
		     "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", method,
		     path);
	assert_true(n > 0 && (size_t)n < sizeof(req));
	raw_request(family, port, req, (size_t)n, r);
}

/* The value of header @name (case-insensitive), or NULL. */
static char *header(const struct resp *r, const char *name, char *out, size_t size)
{
	const char *p = r->head;
	size_t n = strlen(name);

	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1, *end;

			while (*v == ' ')
				v++;
			end = strstr(v, "\r\n");
			assert_non_null(end);
			(void)snprintf(out, size, "%.*s", (int)(end - v), v);
			return out;
		}
	}
	return NULL;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

struct fixture {
	struct metrics *m;
	struct endpoint *e;
	int port;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct diag d;

	if (!f || metrics_new(&f->m) < 0)
		return -1;
	if (endpoint_start("127.0.0.1:0", f->m, &f->e, &d) < 0 || !f->e)
		return -1;
	f->port = endpoint_port(f->e);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	endpoint_stop(f->e);
	metrics_free(f->m);
	free(f);
	return 0;
}

static void test_listen_syntax_errors(void **state)
{
	static const char *const bad[] = {
		"9120",		 "abc:1",
		"1.2.3.4:",	 "1.2.3.4:99999",
		"1.2.3.4:65536", "::1:9120",
		"[::1]9120",	 "[::1]",
		"[zz]:1",	 "[127.0.0.1]:1",
		"1.2.3:80",	 "localhost:80",
		":-1",		 ":+1",
		": 80",		 ":80 ",
		":0x50",	 "1.2.3.4:000080",
		"[]:1",		 "on",
	};
	char longspec[300];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct endpoint *e = (struct endpoint *)&i;
		struct diag d;

		diag_clear(&d);
		if (endpoint_start(bad[i], NULL, &e, &d) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
		assert_ptr_equal(e, (struct endpoint *)&i);
		assert_non_null(strstr(d.msg, "listen address"));
	}
	memset(longspec, '1', sizeof(longspec) - 1);
	longspec[sizeof(longspec) - 1] = '\0';
	{
		struct endpoint *e = NULL;
		struct diag d;

		assert_int_equal(endpoint_start(longspec, NULL, &e, &d), -EINVAL);
		assert_null(e);
	}
}

static void test_disabled(void **state)
{
	static const char *const off[] = { "", "off", NULL };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(off) / sizeof(off[0]); i++) {
		struct endpoint *e = (struct endpoint *)&i;
		struct diag d;

		assert_int_equal(endpoint_start(off[i], NULL, &e, &d), 0);
		assert_null(e);
	}
	assert_int_equal(endpoint_port(NULL), 0);
	endpoint_stop(NULL);
}

static void test_paths(void **state)
{
	static const struct {
		const char *method;
		const char *path;
		int status;
		const char *body; /* NULL: not checked here */
	} cases[] = {
		{ "GET", "/healthz", 200, "ok\n" },
		{ "HEAD", "/healthz", 200, "" },
		{ "GET", "/readyz", 503, "not synced yet\n" },
		{ "GET", "/nope", 404, "not found\n" },
		{ "GET", "/", 404, "not found\n" },
		{ "GET", "/healthz/", 404, "not found\n" },
		{ "GET", "/metrics/x", 404, "not found\n" },
		{ "POST", "/metrics", 405, "method not allowed\n" },
		{ "PUT", "/healthz", 405, "method not allowed\n" },
		{ "DELETE", "/nope", 405, "method not allowed\n" },
		{ "OPTIONS", "/readyz", 405, "method not allowed\n" },
		{ "GET", "/healthz?verbose=1", 200, "ok\n" },
	};
	struct fixture *f = *state;
	size_t i;

	metrics_loop_tick(f->m, mono());
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct resp r;
		char v[128];

		request(AF_INET, f->port, cases[i].method, cases[i].path, &r);
		if (r.status != cases[i].status)
			fail_msg("%s %s: status %d, want %d", cases[i].method, cases[i].path,
				 r.status, cases[i].status);
		if (cases[i].body)
			assert_string_equal(r.body, cases[i].body);
		if (r.status == 405) {
			assert_non_null(header(&r, "Allow", v, sizeof(v)));
			assert_string_equal(v, "GET, HEAD");
		}
		resp_free(&r);
	}
}

static void test_ready(void **state)
{
	struct fixture *f = *state;
	struct resp r;

	request(AF_INET, f->port, "GET", "/readyz", &r);
	assert_int_equal(r.status, 503);
	resp_free(&r);
	metrics_set_ready(f->m);
	request(AF_INET, f->port, "GET", "/readyz", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ok\n");
	resp_free(&r);
	/* readiness stays through everything else, including a stalled loop */
	metrics_loop_tick(f->m, mono() - 3600);
	request(AF_INET, f->port, "GET", "/readyz", &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
}

static void test_health(void **state)
{
	static const struct {
		double age; /* seconds since the last tick */
		int status;
	} cases[] = {
		{ 0, 200 }, { 29, 200 }, { 31, 503 }, { 3600, 503 }, { 1, 200 },
	};
	struct fixture *f = *state;
	struct resp r;
	size_t i;

	/* never ticked, endpoint just started: healthy until the same delay has passed */
	request(AF_INET, f->port, "GET", "/healthz", &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double now = mono();

		if (now - cases[i].age <= 0)
			continue; /* a machine up for less than that: no such tick exists */
		metrics_loop_tick(f->m, now - cases[i].age);
		request(AF_INET, f->port, "GET", "/healthz", &r);
		if (r.status != cases[i].status)
			fail_msg("tick %.0f s ago: status %d, want %d", cases[i].age, r.status,
				 cases[i].status);
		assert_string_equal(r.body, r.status == 200 ? "ok\n" : "event loop stalled\n");
		resp_free(&r);
	}
}

static void test_metrics_page(void **state)
{
	struct fixture *f = *state;
	struct resp r, h;
	char v[128], *endp;

	metrics_add_writes(f->m, 42);
	metrics_api_request(f->m, "configmaps", 200);
	request(AF_INET, f->port, "GET", "/metrics", &r);
	assert_int_equal(r.status, 200);
	assert_non_null(header(&r, "Content-Type", v, sizeof(v)));
	assert_string_equal(v, "text/plain; version=0.0.4; charset=utf-8");
	assert_memory_equal(r.body, "# HELP seccomp_syncd_build_info ", 32);
	assert_non_null(strstr(r.body, "\nseccomp_syncd_profile_writes_total 42\n"));
	assert_non_null(strstr(r.body, "\nseccomp_syncd_api_requests_total{resource=\"configmaps\","
				       "code=\"200\"} 1\n"));
	assert_non_null(header(&r, "Content-Length", v, sizeof(v)));
	assert_int_equal(strtoul(v, &endp, 10), r.body_len);

	/* HEAD: same headers, no body */
	request(AF_INET, f->port, "HEAD", "/metrics", &h);
	assert_int_equal(h.status, 200);
	assert_int_equal(h.body_len, 0);
	assert_non_null(header(&h, "Content-Length", v, sizeof(v)));
	assert_int_equal(strtoul(v, &endp, 10), r.body_len);
	resp_free(&h);
	resp_free(&r);
}

/* A request bigger than the per-connection memory is refused, never served. */
static void test_oversized_request(void **state)
{
	struct fixture *f = *state;
	size_t big = 64 * 1024, n;
	char *req = malloc(big + 256);
	struct resp r;

	assert_non_null(req);
	n = (size_t)snprintf(req, 256, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ");
	memset(req + n, 'a', big);
	n += big;
	memcpy(req + n, "\r\nConnection: close\r\n\r\n", 24);
	n += 23;
	raw_request(AF_INET, f->port, req, n, &r);
	assert_true(r.status == 0 || r.status >= 400);
	resp_free(&r);
	free(req);

	/* and the endpoint still answers afterwards */
	request(AF_INET, f->port, "GET", "/readyz", &r);
	assert_true(r.status == 200 || r.status == 503);
	resp_free(&r);
}

static void test_address_in_use(void **state)
{
	struct fixture *f = *state;
	struct endpoint *e = NULL;
	struct diag d;
	char spec[32];

	(void)snprintf(spec, sizeof(spec), "127.0.0.1:%d", f->port);
	assert_int_equal(endpoint_start(spec, f->m, &e, &d), -EADDRINUSE);
	assert_null(e);
	assert_non_null(strstr(d.msg, spec));
}

static bool have_ipv6(void)
{
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	bool ok;

	if (fd < 0)
		return false;
	ok = bind(fd, (struct sockaddr *)&s6, sizeof(s6)) == 0;
	close(fd);
	return ok;
}

/* ":0" takes IPv4 and IPv6 on one socket; "[::1]:0" only IPv6. */
static void test_families(void **state)
{
	static const struct {
		const char *spec;
		bool v4, v6;
	} cases[] = {
		{ ":0", true, true },
		{ "[::1]:0", false, true },
		{ "127.0.0.1:0", true, false },
		{ "0.0.0.0:0", true, false },
	};
	struct metrics *m = NULL;
	bool v6 = have_ipv6();
	size_t i;

	(void)state;
	assert_int_equal(metrics_new(&m), 0);
	metrics_loop_tick(m, mono());
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct endpoint *e = NULL;
		struct diag d;
		struct resp r;
		int port, fd;

		if (!v6 && cases[i].spec[0] == '[')
			continue;
		if (endpoint_start(cases[i].spec, m, &e, &d) < 0)
			fail_msg("'%s': %s", cases[i].spec, d.msg);
		port = endpoint_port(e);
		assert_true(port > 0 && port < 65536);
		if (cases[i].v4) {
			request(AF_INET, port, "GET", "/healthz", &r);
			assert_int_equal(r.status, 200);
			resp_free(&r);
		} else {
			fd = connect_to(AF_INET, port);
			assert_int_equal(fd, -1);
		}
		if (v6 && cases[i].v6) {
			request(AF_INET6, port, "GET", "/healthz", &r);
			assert_int_equal(r.status, 200);
			resp_free(&r);
		}
		endpoint_stop(e);
	}
	metrics_free(m);
}

/* Start and stop leave no file descriptor behind, the socket included. */
static void test_no_fd_leak(void **state)
{
	struct metrics *m = NULL;
	int before, i;

	(void)state;
	assert_int_equal(metrics_new(&m), 0);
	before = count_fds();
	for (i = 0; i < 5; i++) {
		struct endpoint *e = NULL;
		struct diag d;
		struct resp r;

		assert_int_equal(endpoint_start("127.0.0.1:0", m, &e, &d), 0);
		request(AF_INET, endpoint_port(e), "GET", "/metrics", &r);
		assert_int_equal(r.status, 200);
		resp_free(&r);
		endpoint_stop(e);
	}
	assert_int_equal(count_fds(), before);
	metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listen_syntax_errors),
		cmocka_unit_test(test_disabled),
		cmocka_unit_test_setup_teardown(test_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ready, setup, teardown),
		cmocka_unit_test_setup_teardown(test_health, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics_page, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_address_in_use, setup, teardown),
		cmocka_unit_test(test_families),
		cmocka_unit_test(test_no_fd_leak),
	};

	/* libmicrohttpd's complaints (the oversized request) go to our log: keep them quiet */
	log_setup(LOG_FMT_TEXT, LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
