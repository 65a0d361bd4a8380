/* SPDX-License-Identifier: Apache-2.0 */
#include "k8s/reflector.h"

#include <errno.h>
#include <string.h>

enum pending {
	PEND_RELIST = 0, /* list again (or a streaming list) */
	PEND_WATCH,	 /* watch again from the last resourceVersion */
};

/* Copy @s into @dst of @size bytes; false (and @dst untouched) when it does not fit. */
static bool copy_str(char *dst, size_t size, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n >= size)
		return false;
	if (n)
		memcpy(dst, s, n);
	dst[n] = '\0';
	return true;
}

static void action_clear(struct k8s_action *act)
{
	memset(act, 0, sizeof(*act));
}

static unsigned watch_timeout(struct k8s_reflector *r)
{
	uint64_t span = r->opts.watch_max_s - r->opts.watch_min_s + 1;

	return r->opts.watch_min_s + (unsigned)((span * r->opts.random(r->opts.random_ctx)) >> 32);
}

static void start_watch(struct k8s_reflector *r, uint64_t now_ms, bool streaming,
			struct k8s_action *act)
{
	(void)now_ms;
	r->phase = K8S_PHASE_WATCH;
	r->watch_streaming = streaming;
	r->initial_done = false;
	r->watch_opened = false;
	r->watch_opened_ms = 0;
	r->watch_events = 0;
	act->kind = K8S_ACT_WATCH;
	act->timeout_s = watch_timeout(r);
	act->streaming = streaming;
	act->relist_begin = streaming;
	/*
	 * A streaming list starts from the last version the cache can vouch for,
	 * or, with none, from a consistent read (no resourceVersion at all).
	 */
	if (streaming)
		act->rv = r->rv[0] && !r->rv_unavailable ? r->rv : NULL;
	else
		act->rv = r->rv[0] ? r->rv : NULL;
}

/*
 * A new list from its first page.  The first list is served from the watch
 * cache ("0") and paged; later ones ask for at least the version already seen
 * (a cache read, unpaged, because a limit would make it an exact read that can
 * expire); after Expired or TooLarge only a consistent read ("") is safe.
 */
static void start_relist(struct k8s_reflector *r, uint64_t now_ms, struct k8s_action *act)
{
	if (r->streaming && !r->no_stream_once && !r->opts.list_only) {
		start_watch(r, now_ms, true, act);
		return;
	}
	r->phase = K8S_PHASE_LIST;
	r->cont[0] = '\0';
	r->list_unpaged_retry = false;
	if (r->rv_unavailable) {
		r->list_rv[0] = '\0';
		r->list_rv_set = false;
		r->list_paged = true;
	} else if (!r->rv[0]) {
		(void)copy_str(r->list_rv, sizeof(r->list_rv), "0");
		r->list_rv_set = true;
		r->list_paged = true;
	} else {
		memcpy(r->list_rv, r->rv, sizeof(r->list_rv));
		r->list_rv_set = true;
		r->list_paged = false;
	}
	act->kind = K8S_ACT_LIST;
	act->rv = r->list_rv_set ? r->list_rv : NULL;
	act->limit = r->list_paged ? K8S_LIST_PAGE_SIZE : 0;
	act->continue_token = NULL;
	act->relist_begin = true;
}

static void start_wait(struct k8s_reflector *r, uint64_t now_ms, enum pending what,
		       unsigned retry_after_s, const char *restart, struct k8s_action *act)
{
	uint64_t wait = k8s_backoff_next(&r->backoff, now_ms, r->opts.random(r->opts.random_ctx));

	if (retry_after_s > K8S_RETRY_AFTER_MAX_S)
		retry_after_s = K8S_RETRY_AFTER_MAX_S;
	if ((uint64_t)retry_after_s * 1000 > wait)
		wait = (uint64_t)retry_after_s * 1000;
	r->phase = K8S_PHASE_WAIT;
	r->pending_list = what == PEND_RELIST;
	r->wait_until_ms = now_ms + wait;
	act->kind = K8S_ACT_WAIT;
	act->until_ms = r->wait_until_ms;
	act->restart = restart;
}

static void finish(struct k8s_reflector *r, bool failed, struct k8s_action *act)
{
	r->phase = K8S_PHASE_DONE;
	act->kind = K8S_ACT_DONE;
	act->failed = failed;
}

void k8s_reflector_init(struct k8s_reflector *r, const struct k8s_reflector_opts *opts)
{
	memset(r, 0, sizeof(*r));
	r->opts = *opts;
	if (!r->opts.watch_min_s)
		r->opts.watch_min_s = K8S_WATCH_MIN_S;
	if (!r->opts.watch_max_s)
		r->opts.watch_max_s = K8S_WATCH_MAX_S;
	if (r->opts.watch_max_s < r->opts.watch_min_s)
		r->opts.watch_max_s = r->opts.watch_min_s;
	r->streaming = opts->streaming_list && !opts->list_only;
	k8s_backoff_init(&r->backoff, 0, 0, 0);
}

void k8s_reflector_start(struct k8s_reflector *r, uint64_t now_ms, struct k8s_action *act)
{
	action_clear(act);
	start_relist(r, now_ms, act);
}

void k8s_reflector_resume(struct k8s_reflector *r, uint64_t now_ms, struct k8s_action *act)
{
	action_clear(act);
	if (r->phase == K8S_PHASE_DONE) {
		finish(r, false, act);
		return;
	}
	if (r->phase != K8S_PHASE_WAIT) {
		/* Nothing was deferred: a misuse, answered with a fresh list. */
		start_relist(r, now_ms, act);
		return;
	}
	if (now_ms < r->wait_until_ms) {
		act->kind = K8S_ACT_WAIT;
		act->until_ms = r->wait_until_ms;
		return;
	}
	if (r->pending_list)
		start_relist(r, now_ms, act);
	else
		start_watch(r, now_ms, false, act);
}

void k8s_reflector_watch_opened(struct k8s_reflector *r, uint64_t now_ms)
{
	if (r->phase != K8S_PHASE_WATCH)
		return;
	r->watch_opened = true;
	r->watch_opened_ms = now_ms;
}

bool k8s_reflector_in_initial(const struct k8s_reflector *r)
{
	return r->phase == K8S_PHASE_WATCH && r->watch_streaming && !r->initial_done;
}

int k8s_reflector_watch_event(struct k8s_reflector *r, enum k8s_event_type type, const char *rv,
			      bool initial_end)
{
	if (r->phase != K8S_PHASE_WATCH)
		return 0;
	r->watch_events++;
	if (k8s_reflector_in_initial(r)) {
		if (type != K8S_EV_BOOKMARK || !initial_end)
			return 0;
		if (rv && rv[0] && !copy_str(r->rv, sizeof(r->rv), rv))
			return -E2BIG;
		r->initial_done = true;
		r->synced = true;
		r->rv_unavailable = false;
		r->no_stream_once = false;
		return K8S_REFLECTOR_INITIAL_END;
	}
	if (rv && rv[0] && !copy_str(r->rv, sizeof(r->rv), rv))
		return -E2BIG;
	return 0;
}

static bool is_http(const struct k8s_result *res, int code)
{
	return res->kind == K8S_RES_HTTP && res->code == code;
}

static bool is_too_large(const struct k8s_result *res)
{
	return is_http(res, 504) && res->cause &&
	       strcmp(res->cause, "ResourceVersionTooLarge") == 0;
}

static const char *failure_reason(const struct k8s_result *res)
{
	switch (res->kind) {
	case K8S_RES_HTTP:
	case K8S_RES_WATCH_ERROR:
		if (res->code == 410)
			return "expired";
		if (res->code == 429)
			return "throttled";
		return "error";
	case K8S_RES_TRANSPORT:
		return res->err == -ECONNREFUSED ? "refused" : "error";
	case K8S_RES_DECODE:
		return "decode";
	case K8S_RES_OK:
	case K8S_RES_BROKEN:
		break;
	}
	return "error";
}

static void list_result(struct k8s_reflector *r, uint64_t now_ms, const struct k8s_result *res,
			struct k8s_action *act)
{
	if (res->kind == K8S_RES_OK) {
		if (res->continue_token && res->continue_token[0]) {
			if (!copy_str(r->cont, sizeof(r->cont), res->continue_token)) {
				struct k8s_result bad = { .kind = K8S_RES_DECODE };

				list_result(r, now_ms, &bad, act);
				return;
			}
			/* The token pins the version; sending both is a 400. */
			act->kind = K8S_ACT_LIST;
			act->rv = NULL;
			act->limit = K8S_LIST_PAGE_SIZE;
			act->continue_token = r->cont;
			return;
		}
		if (!copy_str(r->rv, sizeof(r->rv), res->resource_version)) {
			struct k8s_result bad = { .kind = K8S_RES_DECODE };

			list_result(r, now_ms, &bad, act);
			return;
		}
		r->synced = true;
		r->rv_unavailable = false;
		r->no_stream_once = false;
		act->relist_end = true;
		if (r->opts.list_only)
			finish(r, false, act);
		else
			start_watch(r, now_ms, false, act);
		return;
	}

	if (is_http(res, 410) && r->cont[0] && !r->list_unpaged_retry) {
		/*
		 * The continue token outlived the server's history: the pages read
		 * so far cannot be completed, so read the whole list in one go at
		 * the version the first page asked for (client-go's pager).
		 */
		r->cont[0] = '\0';
		r->list_unpaged_retry = true;
		r->list_paged = false;
		act->kind = K8S_ACT_LIST;
		act->rv = r->list_rv_set ? r->list_rv : NULL;
		act->limit = 0;
		act->continue_token = NULL;
		act->relist_begin = true;
		return;
	}
	if (r->opts.list_only) {
		finish(r, true, act);
		return;
	}
	if (is_http(res, 410) || is_too_large(res))
		r->rv_unavailable = true;
	start_wait(r, now_ms, PEND_RELIST, res->retry_after_s, failure_reason(res), act);
}

static void streaming_result(struct k8s_reflector *r, uint64_t now_ms, const struct k8s_result *res,
			     struct k8s_action *act)
{
	if (res->kind == K8S_RES_HTTP &&
	    (res->code == 422 || res->code == 400 || res->code == 403)) {
		/* The server does not do streaming lists (WatchList gate off). */
		r->streaming = false;
		start_relist(r, now_ms, act);
		act->restart = "fallback";
		return;
	}
	if ((res->kind == K8S_RES_HTTP && res->code == 429) ||
	    (res->kind == K8S_RES_TRANSPORT && res->err == -ECONNREFUSED)) {
		start_wait(r, now_ms, PEND_RELIST, res->retry_after_s, failure_reason(res), act);
		return;
	}
	/*
	 * Making progress beats insisting: the next attempt is an ordinary list,
	 * and the streaming list is tried again at the relist after it.
	 */
	r->no_stream_once = true;
	if (res->kind == K8S_RES_HTTP && res->code == 410)
		r->rv_unavailable = true;
	if (res->kind == K8S_RES_OK || res->kind == K8S_RES_BROKEN)
		start_wait(r, now_ms, PEND_RELIST, 0, "short", act);
	else
		start_wait(r, now_ms, PEND_RELIST, res->retry_after_s, failure_reason(res), act);
}

static void watch_result(struct k8s_reflector *r, uint64_t now_ms, const struct k8s_result *res,
			 struct k8s_action *act)
{
	if (k8s_reflector_in_initial(r)) {
		streaming_result(r, now_ms, res, act);
		return;
	}
	switch (res->kind) {
	case K8S_RES_OK:
	case K8S_RES_BROKEN:
		/*
		 * A server that closes every watch at once would otherwise be
		 * hammered in a tight loop: treat that as a failure.  A dropped
		 * stream is otherwise like a clean end (client-go's probable EOF).
		 */
		if (r->watch_events == 0 &&
		    (!r->watch_opened || now_ms - r->watch_opened_ms < K8S_SHORT_WATCH_MS)) {
			start_wait(r, now_ms, PEND_RELIST, 0, "short", act);
			return;
		}
		start_watch(r, now_ms, false, act);
		act->restart = res->kind == K8S_RES_OK ? "timeout" : "closed";
		return;
	case K8S_RES_HTTP:
	case K8S_RES_WATCH_ERROR:
		if (res->code == 429) {
			start_wait(r, now_ms, PEND_WATCH, res->retry_after_s, "throttled", act);
			return;
		}
		break;
	case K8S_RES_TRANSPORT:
		if (res->err == -ECONNREFUSED) {
			start_wait(r, now_ms, PEND_WATCH, 0, "refused", act);
			return;
		}
		break;
	case K8S_RES_DECODE:
		break;
	}
	/* 410 keeps the last version: a list "not older than" it cannot expire. */
	start_wait(r, now_ms, PEND_RELIST, res->retry_after_s, failure_reason(res), act);
}

void k8s_reflector_result(struct k8s_reflector *r, uint64_t now_ms, const struct k8s_result *res,
			  struct k8s_action *act)
{
	action_clear(act);
	switch (r->phase) {
	case K8S_PHASE_LIST:
		list_result(r, now_ms, res, act);
		return;
	case K8S_PHASE_WATCH:
		watch_result(r, now_ms, res, act);
		return;
	case K8S_PHASE_DONE:
		finish(r, false, act);
		return;
	case K8S_PHASE_IDLE:
	case K8S_PHASE_WAIT:
		break;
	}
	/* No request was outstanding: nothing to learn, keep to the plan. */
	if (r->phase == K8S_PHASE_WAIT) {
		k8s_reflector_resume(r, now_ms, act);
		return;
	}
	start_relist(r, now_ms, act);
}

const char *k8s_reflector_rv(const struct k8s_reflector *r)
{
	return r->rv;
}
