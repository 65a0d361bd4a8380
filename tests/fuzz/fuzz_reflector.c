/* SPDX-License-Identifier: Apache-2.0 */
/*
 * k8s/reflector: random sequences of results, events and clock steps.  Checks
 * the invariants every action must keep: continue pages carry no
 * resourceVersion, waits are bounded, watch timeouts in range, list_only never
 * watches and stays done, streaming only when asked for.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "k8s/reflector.h"

struct input {
	const uint8_t *p;
	size_t n;
};

static uint8_t take(struct input *in)
{
	uint8_t b;

	if (!in->n)
		return 0;
	b = *in->p++;
	in->n--;
	return b;
}

static uint32_t fuzz_random(void *ctx)
{
	struct input *in = ctx;

	return (uint32_t)take(in) << 24 | (uint32_t)take(in) << 8 | take(in);
}

static void check(const struct k8s_reflector_opts *o, const struct k8s_action *a, uint64_t now,
		  int *done)
{
	switch (a->kind) {
	case K8S_ACT_LIST:
		if (*done)
			abort();
		if (a->continue_token &&
		    (a->rv || a->limit != K8S_LIST_PAGE_SIZE || a->relist_begin))
			abort();
		if (a->streaming)
			abort();
		break;
	case K8S_ACT_WATCH:
		if (*done || o->list_only || a->continue_token || a->limit)
			abort();
		if (a->timeout_s < K8S_WATCH_MIN_S || a->timeout_s > K8S_WATCH_MAX_S)
			abort();
		if (a->streaming != a->relist_begin || (a->streaming && !o->streaming_list))
			abort();
		break;
	case K8S_ACT_WAIT:
		if (*done || a->until_ms <= now)
			abort();
		if (a->until_ms - now > (uint64_t)K8S_RETRY_AFTER_MAX_S * 1000 &&
		    a->until_ms - now >= 2 * K8S_BACKOFF_CAP_MS)
			abort();
		break;
	case K8S_ACT_DONE:
		if (!o->list_only)
			abort();
		*done = 1;
		break;
	default:
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const rvs[] = { "", "1", "0", "99", "123456" };
	static const char *const reasons[] = { NULL, "Expired", "Gone", "Timeout" };
	struct input in = { data, size };
	struct k8s_reflector_opts o = { 0 };
	struct k8s_reflector r;
	struct k8s_action act;
	uint64_t now = 0;
	int done = 0, steps = 0;
	uint8_t flags = take(&in);

	o.list_only = flags & 1;
	o.streaming_list = flags & 2;
	o.random = fuzz_random;
	o.random_ctx = &in;
	k8s_reflector_init(&r, &o);
	k8s_reflector_start(&r, now, &act);
	check(&o, &act, now, &done);
	while (in.n && steps++ < 1000) {
		uint8_t op = take(&in);
		struct k8s_result res = { 0 };

		now += (uint64_t)take(&in) * 97;
		switch (op % 5) {
		case 0:
			k8s_reflector_resume(&r, now, &act);
			check(&o, &act, now, &done);
			break;
		case 1:
			k8s_reflector_watch_opened(&r, now);
			break;
		case 2:
			(void)k8s_reflector_watch_event(&r,
							(enum k8s_event_type)(1 + take(&in) % 4),
							rvs[take(&in) % 5], take(&in) & 1);
			break;
		default:
			res.kind = (enum k8s_result_kind)(take(&in) % 6);
			res.code = 400 + take(&in) % 120;
			res.reason = reasons[take(&in) % 4];
			res.cause = take(&in) & 1 ? "ResourceVersionTooLarge" : NULL;
			res.err = -(int)(take(&in) % 120);
			res.retry_after_s = take(&in) * 5u;
			res.resource_version = rvs[take(&in) % 5];
			res.continue_token = take(&in) & 1 ? "c" : NULL;
			k8s_reflector_result(&r, now, &res, &act);
			check(&o, &act, now, &done);
			break;
		}
	}
	return 0;
}
