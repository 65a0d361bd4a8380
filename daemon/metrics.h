/* SPDX-License-Identifier: Apache-2.0 */
#ifndef SECCOMP_SYNCD_DAEMON_METRICS_H
#define SECCOMP_SYNCD_DAEMON_METRICS_H

/*
 * The daemon's counters, written by the loop thread and read by the HTTP
 * endpoint's thread: every value is published atomically, so the endpoint
 * never touches the sync state.  Names and labels are DESIGN.md's table
 * (prefix seccomp_syncd_).
 */

#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"

enum metrics_state {
	METRICS_VALID = 0,
	METRICS_INVALID,
	METRICS_STALE,
	METRICS_RETAINED,
	METRICS_N_STATES,
};

struct metrics;

/** metrics_new() - all zero; Return: 0 or -ENOMEM */
int metrics_new(struct metrics **out);
/** metrics_free() - NULL is a no-op */
void metrics_free(struct metrics *m);

void metrics_set_profiles(struct metrics *m, enum metrics_state state, uint64_t n);
void metrics_add_writes(struct metrics *m, uint64_t n);
void metrics_add_removals(struct metrics *m, uint64_t n);
void metrics_add_validation_errors(struct metrics *m, uint64_t n);
void metrics_add_validation_warnings(struct metrics *m, uint64_t n);
/** metrics_api_request() - api_requests_total{resource,code}; @code 0 means no response */
void metrics_api_request(struct metrics *m, const char *resource, int code);
/** metrics_watch_restart() - watch_restarts_total{resource,reason} */
void metrics_watch_restart(struct metrics *m, const char *resource, const char *reason);
/** metrics_observe_sync_latency() - sync_latency_seconds: watch event received to file renamed */
void metrics_observe_sync_latency(struct metrics *m, double seconds);
/** metrics_set_last_full_sync() - last_full_sync_timestamp_seconds (Unix time) */
void metrics_set_last_full_sync(struct metrics *m, double unix_seconds);

/* Health: the loop calls metrics_loop_tick() every iteration; /healthz fails after 30 s without. */
void metrics_loop_tick(struct metrics *m, double monotonic_seconds);
double metrics_last_tick(const struct metrics *m);
/* Readiness: set once the first full list is on disk; stays set through API outages. */
void metrics_set_ready(struct metrics *m);
bool metrics_ready(const struct metrics *m);

/** metrics_render() - Prometheus text exposition format 0.0.4; Return: 0 or a negative errno */
int metrics_render(const struct metrics *m, struct buf *out);

#endif
