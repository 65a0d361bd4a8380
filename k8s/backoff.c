/* SPDX-License-Identifier: Apache-2.0 */
#include "k8s/backoff.h"

void k8s_backoff_init(struct k8s_backoff *b, uint64_t initial_ms, uint64_t cap_ms,
		      uint64_t reset_ms)
{
	b->initial_ms = initial_ms ? initial_ms : K8S_BACKOFF_INITIAL_MS;
	b->cap_ms = cap_ms ? cap_ms : K8S_BACKOFF_CAP_MS;
	/* Keeps d * 2^32 (the jitter product) far from overflow. */
	if (b->cap_ms > UINT32_MAX)
		b->cap_ms = UINT32_MAX;
	if (b->initial_ms > b->cap_ms)
		b->initial_ms = b->cap_ms;
	b->reset_ms = reset_ms ? reset_ms : K8S_BACKOFF_RESET_MS;
	b->next_ms = b->initial_ms;
	b->last_ms = 0;
	b->used = 0;
}

void k8s_backoff_reset(struct k8s_backoff *b)
{
	b->next_ms = b->initial_ms;
	b->used = 0;
}

uint64_t k8s_backoff_next(struct k8s_backoff *b, uint64_t now_ms, uint32_t rnd)
{
	uint64_t d, jitter;

	/*
	 * "Quiet" is measured from the previous wait, not from the last success:
	 * a client that fails every few minutes is not hammering the server and
	 * deserves the short wait again, like client-go's backoff manager.
	 */
	if (b->used && now_ms >= b->last_ms && now_ms - b->last_ms > b->reset_ms)
		b->next_ms = b->initial_ms;
	b->used = 1;
	b->last_ms = now_ms;
	d = b->next_ms;
	b->next_ms = d > b->cap_ms / 2 ? b->cap_ms : d * 2;
	jitter = (d * (uint64_t)rnd) >> 32;
	return d + jitter;
}
