/* SPDX-License-Identifier: Apache-2.0 */
#ifndef SECCOMP_SYNCD_K8S_BACKOFF_H
#define SECCOMP_SYNCD_K8S_BACKOFF_H

/*
 * Exponential backoff with jitter, as client-go's reflector uses it
 * (wait.Backoff{Duration: 800ms, Factor: 2, Jitter: 1, Cap: 30s} reset after
 * two quiet minutes).  Pure: the caller passes the time and the randomness, so
 * tests can drive it with a fake clock.
 *
 * Each failure yields a wait in [d, 2d) where d starts at @initial_ms and
 * doubles after every failure up to @cap_ms (the cap applies to d, before the
 * jitter, exactly like client-go, so the longest wait is just under 2 * cap).
 * When more than @reset_ms have passed since the previous wait was handed
 * out, d starts over at @initial_ms.
 */

#include <stdint.h>

#define K8S_BACKOFF_INITIAL_MS 800
#define K8S_BACKOFF_CAP_MS     30000
#define K8S_BACKOFF_RESET_MS   120000

struct k8s_backoff {
	uint64_t initial_ms;
	uint64_t cap_ms;
	uint64_t reset_ms;
	uint64_t next_ms; /* d for the next failure */
	uint64_t last_ms; /* when the previous wait was handed out */
	int used;	  /* a wait has been handed out since init */
};

/**
 * k8s_backoff_init() - a fresh backoff; zero arguments take the reflector's
 * defaults (800 ms, 30 s, 2 min) so that every user agrees on them.
 */
void k8s_backoff_init(struct k8s_backoff *b, uint64_t initial_ms, uint64_t cap_ms,
		      uint64_t reset_ms);

/**
 * k8s_backoff_next() - the wait before the next attempt after a failure
 * @now_ms: a monotonic time
 * @rnd: a uniformly random 32-bit value (the jitter)
 *
 * Return: the wait in milliseconds, in [d, 2d) for the current d (at least 1).
 */
uint64_t k8s_backoff_next(struct k8s_backoff *b, uint64_t now_ms, uint32_t rnd);

/** k8s_backoff_reset() - forget past failures (the next wait is the shortest) */
void k8s_backoff_reset(struct k8s_backoff *b);

#endif
