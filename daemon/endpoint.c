/* SPDX-License-Identifier: Apache-2.0 */
#include "daemon/endpoint.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "common/buf.h"
#include "daemon/log.h"

/*
 * The endpoint serves three small documents to the kubelet's probes and to
 * Prometheus, so its resources are fixed and small: a few connections, a short
 * idle timeout, a little memory per connection (which also bounds the request
 * line and headers a client can send), and a cap on the rendered metrics.
 */
#define ENDPOINT_MAX_CONNECTIONS 16
#define ENDPOINT_MAX_PER_IP	 8
#define ENDPOINT_TIMEOUT_SECONDS 10
#define ENDPOINT_CONN_MEMORY	 (16 * 1024)
#define ENDPOINT_BACKLOG	 16
#define ENDPOINT_METRICS_MAX	 (4 * 1024 * 1024)
#define ENDPOINT_LISTEN_MAX	 128

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct endpoint {
	struct MHD_Daemon *mhd;
	struct metrics *m; /* borrowed */
	double started;	   /* CLOCK_MONOTONIC seconds: the health baseline before the first tick */
	int port;
};

static double monotonic_now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return 0;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Parse a port: decimal digits only, 0..65535 (0 lets the kernel choose, for tests). */
static int parse_port(const char *s, in_port_t *out)
{
	unsigned long v = 0;
	const char *p;

	if (!*s || strlen(s) > 5)
		return -EINVAL;
	for (p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v > 65535)
		return -EINVAL;
	*out = htons((in_port_t)v);
	return 0;
}

struct listen_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	bool any; /* ":port": every address, IPv6 and IPv4 on one socket if the kernel has IPv6 */
};

/*
 * ":9120", "127.0.0.1:9120" or "[::1]:9120".  Only numeric addresses: the
 * endpoint starts before anything else and must not depend on DNS.
 */
static int parse_listen(const char *spec, struct listen_addr *a, struct diag *d)
{
	char host[ENDPOINT_LISTEN_MAX];
	const char *port;
	bool bracket = spec[0] == '[';
	size_t hlen;
	in_port_t p;

	memset(a, 0, sizeof(*a));
	if (strlen(spec) >= sizeof(host))
		return diag_set(d, -EINVAL, "listen address '%.32s...' is too long", spec);
	if (bracket) {
		const char *end = strstr(spec, "]:");

		if (!end)
			return diag_set(d, -EINVAL, "listen address '%s': expected '[ipv6]:port'",
					spec);
		hlen = (size_t)(end - spec - 1);
		memcpy(host, spec + 1, hlen);
		port = end + 2;
	} else {
		const char *colon = strrchr(spec, ':');

		if (!colon)
			return diag_set(d, -EINVAL,
					"listen address '%s': expected ':port', 'ipv4:port' or "
					"'[ipv6]:port'",
					spec);
		hlen = (size_t)(colon - spec);
		memcpy(host, spec, hlen);
		if (memchr(host, ':', hlen))
			return diag_set(d, -EINVAL,
					"listen address '%s': put an IPv6 address in brackets",
					spec);
		port = colon + 1;
	}
	host[hlen] = '\0';
	if (parse_port(port, &p) < 0)
		return diag_set(d, -EINVAL, "listen address '%s': bad port '%s'", spec, port);

	if (bracket) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;

		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return diag_set(d, -EINVAL, "listen address '%s': bad IPv6 address '%s'",
					spec, host);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = p;
		a->len = sizeof(*s6);
	} else if (hlen == 0) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_any;
		s6->sin6_port = p;
		a->len = sizeof(*s6);
		a->any = true;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;

		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return diag_set(d, -EINVAL,
					"listen address '%s': '%s' is not an IPv4 address", spec,
					host);
		s4->sin_family = AF_INET;
		s4->sin_port = p;
		a->len = sizeof(*s4);
	}
	return 0;
}

/* An IPv6 "any" socket that also takes IPv4 (v4-mapped), or plain IPv4 without IPv6. */
static int open_listener(const char *spec, struct listen_addr *a, int *out, struct diag *d)
{
	int fd, one = 1, zero = 0, r;

	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 && a->any && (errno == EAFNOSUPPORT || errno == EPROTONOSUPPORT)) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;
		in_port_t p = ((struct sockaddr_in6 *)&a->ss)->sin6_port;

		memset(&a->ss, 0, sizeof(a->ss));
		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_ANY);
		s4->sin_port = p;
		a->len = sizeof(*s4);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	}
	if (fd < 0)
		return diag_set(d, -errno, "cannot listen on '%s': %s", spec, strerror(errno));
	/* a restarted daemon must not wait for its old connections' TIME_WAIT */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (a->ss.ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, a->any ? &zero : &one, sizeof(int)) < 0) ||
	    bind(fd, (struct sockaddr *)&a->ss, a->len) < 0 || listen(fd, ENDPOINT_BACKLOG) < 0) {
		r = diag_set(d, -errno, "cannot listen on '%s': %s", spec, strerror(errno));
		close(fd);
		return r;
	}
	*out = fd;
	return 0;
}

static int bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* libmicrohttpd's own complaints (connection limit reached, ...) go to our log. */
__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];
	size_t n;

	(void)cls;
	if (!log_enabled(LOG_LVL_WARN))
		return;
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	log_kv(LOG_LVL_WARN, "http endpoint", "detail", msg, LOG_END);
}

/* Queue a response whose body is a string constant; Content-Type text/plain. */
static enum MHD_Result reply_static(struct MHD_Connection *c, unsigned status, const char *body,
				    bool allow_header)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				    "text/plain; charset=utf-8") != MHD_YES ||
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES ||
	    (allow_header &&
	     MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") != MHD_YES)) {
		MHD_destroy_response(resp);
		return MHD_NO;
	}
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result reply_metrics(struct MHD_Connection *c, const struct metrics *m)
{
	struct MHD_Response *resp = NULL;
	struct buf b;
	enum MHD_Result ret = MHD_NO;
	char *data = NULL;
	size_t len;

	buf_init(&b, ENDPOINT_METRICS_MAX);
	if (metrics_render(m, &b) < 0) {
		buf_release(&b);
		return reply_static(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot render metrics\n",
				    false);
	}
	data = buf_detach(&b, &len);
	if (!data)
		goto out;
	resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	if (!resp)
		goto out;
	data = NULL; /* the response owns it now */
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, METRICS_CONTENT_TYPE) !=
	    MHD_YES)
		goto out;
	ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
out:
	if (resp)
		MHD_destroy_response(resp);
	free(data);
	return ret;
}

/*
 * Healthy while the event loop keeps ticking.  Before its first tick the
 * endpoint's own start time is the baseline, so a daemon stuck in start-up
 * also turns unhealthy after the same delay.
 */
static bool loop_alive(const struct endpoint *e)
{
	double last = metrics_last_tick(e->m);

	if (last <= 0)
		last = e->started;
	return monotonic_now() - last <= ENDPOINT_STALE_SECONDS;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	const struct endpoint *e = cls;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)con_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply_static(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n", true);
	if (strcmp(url, "/healthz") == 0) {
		if (loop_alive(e))
			return reply_static(c, MHD_HTTP_OK, "ok\n", false);
		return reply_static(c, MHD_HTTP_SERVICE_UNAVAILABLE, "event loop stalled\n", false);
	}
	if (strcmp(url, "/readyz") == 0) {
		if (metrics_ready(e->m))
			return reply_static(c, MHD_HTTP_OK, "ok\n", false);
		return reply_static(c, MHD_HTTP_SERVICE_UNAVAILABLE, "not synced yet\n", false);
	}
	if (strcmp(url, "/metrics") == 0)
		return reply_metrics(c, e->m);
	return reply_static(c, MHD_HTTP_NOT_FOUND, "not found\n", false);
}

/*
 * We bind the socket ourselves, so that a busy port is reported as
 * -EADDRINUSE with the address, and hand libmicrohttpd a duplicate: it closes
 * the socket it was given in endpoint_stop(), but not on every path where
 * MHD_start_daemon() fails, so on failure we shut our copy down, which stops
 * the listening whichever copy is left, and close it.
 */
int endpoint_start(const char *listen, struct metrics *m, struct endpoint **out, struct diag *d)
{
	struct listen_addr a;
	struct endpoint *e = NULL;
	int fd = -1, mhd_fd = -1, r;

	if (!listen || !*listen || strcmp(listen, "off") == 0) {
		*out = NULL;
		return 0;
	}
	r = parse_listen(listen, &a, d);
	if (r < 0)
		goto out;
	r = open_listener(listen, &a, &fd, d);
	if (r < 0)
		goto out;
	e = calloc(1, sizeof(*e));
	if (!e) {
		r = diag_set(d, -ENOMEM, "cannot start the http endpoint: out of memory");
		goto out;
	}
	e->m = m;
	e->started = monotonic_now();
	e->port = bound_port(fd);
	if (e->port < 0) {
		r = diag_set(d, e->port, "cannot listen on '%s': %s", listen, strerror(-e->port));
		goto out;
	}
	mhd_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (mhd_fd < 0) {
		r = diag_set(d, -errno, "cannot listen on '%s': %s", listen, strerror(errno));
		goto out;
	}
	e->mhd = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC | MHD_USE_ERROR_LOG, 0,
		NULL, NULL, handle, e, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_LISTEN_SOCKET, mhd_fd, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)ENDPOINT_MAX_CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
		(unsigned)ENDPOINT_MAX_PER_IP, MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)ENDPOINT_TIMEOUT_SECONDS, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		(size_t)ENDPOINT_CONN_MEMORY, MHD_OPTION_END);
	if (!e->mhd) {
		(void)shutdown(fd, SHUT_RDWR);
		r = diag_set(d, -EIO, "cannot start the http endpoint on '%s'", listen);
		goto out;
	}
	*out = e;
	e = NULL;
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	free(e);
	return r;
}

int endpoint_port(const struct endpoint *e)
{
	return e ? e->port : 0;
}

void endpoint_stop(struct endpoint *e)
{
	if (!e)
		return;
	MHD_stop_daemon(e->mhd);
	free(e);
}
