/* SPDX-License-Identifier: Apache-2.0 */
#ifndef SECCOMP_SYNCD_DAEMON_ENDPOINT_H
#define SECCOMP_SYNCD_DAEMON_ENDPOINT_H

/*
 * /healthz, /readyz and /metrics over HTTP (libmicrohttpd, its own thread).
 * It reads only the atomically published counters in struct metrics.
 */

#include "common/diag.h"
#include "daemon/metrics.h"

struct endpoint;

/*
 * /healthz answers 503 once the loop's last metrics_loop_tick() is older than
 * this; the tick is CLOCK_MONOTONIC seconds.  Before the first tick the
 * endpoint's start is the baseline, so a start-up that hangs also shows.
 */
#define ENDPOINT_STALE_SECONDS 30.0

/**
 * endpoint_start() - listen on @listen (":9120", "127.0.0.1:9120", "[::1]:9120"; "" or "off": no endpoint)
 * @m: borrowed until endpoint_stop()
 * Return: 0 (with *@out NULL when disabled) or a negative errno (-EADDRINUSE, -EINVAL).
 */
int endpoint_start(const char *listen, struct metrics *m, struct endpoint **out, struct diag *d);

/** endpoint_port() - the TCP port actually bound (useful with port 0) */
int endpoint_port(const struct endpoint *e);

/** endpoint_stop() - stop the thread and close the socket; NULL is a no-op */
void endpoint_stop(struct endpoint *e);

#endif
