/* SPDX-License-Identifier: Apache-2.0 */
#include "k8s/loop.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "common/buf.h"
#include "k8s/decode.h"
#include "k8s/events.h"
#include "k8s/http.h"
#include "k8s/reflector.h"

#define PATH_MAX_LEN   (16 * 1024)
#define INITIAL_END_AN "k8s.io/initial-events-end"

struct k8s_watch {
	struct k8s_loop *loop;
	struct k8s_watch *next;
	char *resource;
	char *ns;
	char *label_selector;
	char *field_selector;
	char *require_annotation;
	enum k8s_kind kind;
	bool list_only;
	const struct k8s_watch_ops *ops;
	void *ctx;

	struct k8s_reflector refl;
	bool started;
	bool waiting;
	uint64_t until_ms;
	bool done;
	bool synced;

	/* The request in flight. */
	struct k8s_req *req;
	struct k8s_decoder *dec;
	bool is_list;
	bool relist_begin; /* report relist_begin when it answers 2xx */
	bool counted;	   /* the observer has seen its status */
	int cb_err;	   /* a decoder or callback failure, negative errno */
	struct diag cb_diag;
	bool got_error;
	struct k8s_status error_status;
};

struct k8s_loop {
	const struct k8s_config *cfg;
	char *node_name;
	const struct k8s_loop_observer *obs;
	void *obs_ctx;
	CURLM *multi;
	struct k8s_http *http;
	struct k8s_watch *watches;
	struct k8s_event_queue events;
	struct k8s_event_item *ev_item; /* being sent */
	struct k8s_req *ev_req;
	bool ev_counted;
	int wake[2];
	uint64_t rng;
	unsigned watch_min_s, watch_max_s;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* xorshift64*: jitter needs spread, not secrecy. */
static uint32_t loop_random(void *ctx)
{
	struct k8s_loop *l = ctx;

	l->rng ^= l->rng >> 12;
	l->rng ^= l->rng << 25;
	l->rng ^= l->rng >> 27;
	return (uint32_t)((l->rng * 2685821657736338717ULL) >> 32);
}

static void observe_request(struct k8s_loop *l, const char *resource, int code)
{
	if (l->obs && l->obs->request)
		l->obs->request(l->obs_ctx, resource, code);
}

/* A DNS label (namespaces) or a plural resource name: nothing to escape in a path. */
static bool path_word(const char *s, size_t max)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

static void watch_free(struct k8s_watch *w)
{
	if (!w)
		return;
	if (w->req) {
		(void)curl_multi_remove_handle(w->loop->multi, k8s_req_handle(w->req));
		k8s_req_free(w->req);
	}
	k8s_decoder_free(w->dec);
	free(w->resource);
	free(w->ns);
	free(w->label_selector);
	free(w->field_selector);
	free(w->require_annotation);
	free(w);
}

int k8s_loop_new(const struct k8s_loop_opts *opts, struct k8s_loop **out, struct diag *d)
{
	struct k8s_loop *l = NULL;
	uint64_t seed = 0;
	int r;

	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->wake[0] = l->wake[1] = -1;
	l->cfg = opts->cfg;
	l->obs = opts->observer;
	l->obs_ctx = opts->observer_ctx;
	r = k8s_event_queue_init(&l->events, 0, opts->events_per_minute, mono_ms());
	if (r < 0)
		goto out;
	if (opts->node_name && opts->node_name[0]) {
		l->node_name = strdup(opts->node_name);
		if (!l->node_name) {
			r = -ENOMEM;
			goto out;
		}
	}
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
		seed = mono_ms() ^ ((uint64_t)getpid() << 32);
	l->rng = seed ? seed : 0x9e3779b97f4a7c15ULL;
	if (pipe2(l->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		r = diag_set(d, -errno, "cannot create the loop's wake-up pipe: %s",
			     strerror(errno));
		goto out;
	}
	r = k8s_http_new(opts->cfg, mono_ms(), &l->http, d);
	if (r < 0)
		goto out;
	l->multi = curl_multi_init();
	if (!l->multi) {
		r = diag_set(d, -ENOMEM, "cannot create a curl multi handle");
		goto out;
	}
	*out = l;
	l = NULL;
out:
	k8s_loop_free(l);
	return r;
}

void k8s_loop_free(struct k8s_loop *l)
{
	struct k8s_watch *w;

	if (!l)
		return;
	while ((w = l->watches)) {
		l->watches = w->next;
		watch_free(w);
	}
	if (l->ev_req) {
		(void)curl_multi_remove_handle(l->multi, k8s_req_handle(l->ev_req));
		k8s_req_free(l->ev_req);
	}
	k8s_event_item_free(l->ev_item);
	k8s_event_queue_release(&l->events);
	if (l->multi)
		(void)curl_multi_cleanup(l->multi);
	k8s_http_free(l->http);
	if (l->wake[0] >= 0)
		(void)close(l->wake[0]);
	if (l->wake[1] >= 0)
		(void)close(l->wake[1]);
	free(l->node_name);
	free(l);
}

static int dup_opt(char **dst, const char *s)
{
	if (!s)
		return 0;
	*dst = strdup(s);
	return *dst ? 0 : -ENOMEM;
}

int k8s_loop_add_watch(struct k8s_loop *l, const struct k8s_watch_spec *spec,
		       const struct k8s_watch_ops *ops, void *ctx, struct diag *d)
{
	struct k8s_reflector_opts ro = { 0 };
	struct k8s_watch *w = NULL, **tail;
	int r;

	if (!spec->resource || !path_word(spec->resource, 63))
		return diag_set(d, -EINVAL, "bad resource '%s'",
				spec->resource ? spec->resource : "");
	if (spec->ns && !path_word(spec->ns, 63))
		return diag_set(d, -EINVAL, "bad namespace '%s'", spec->ns);
	if ((spec->label_selector && strlen(spec->label_selector) > 4096) ||
	    (spec->field_selector && strlen(spec->field_selector) > 4096))
		return diag_set(d, -EINVAL, "selector for '%s' is longer than 4096 bytes",
				spec->resource);
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->loop = l;
	w->kind = spec->kind;
	w->list_only = spec->list_only;
	w->ops = ops;
	w->ctx = ctx;
	if ((r = dup_opt(&w->resource, spec->resource)) < 0 ||
	    (r = dup_opt(&w->ns, spec->ns)) < 0 ||
	    (r = dup_opt(&w->label_selector, spec->label_selector)) < 0 ||
	    (r = dup_opt(&w->field_selector, spec->field_selector)) < 0 ||
	    (r = dup_opt(&w->require_annotation, spec->require_annotation)) < 0)
		goto out;
	ro.list_only = spec->list_only;
	ro.streaming_list = spec->streaming_list;
	ro.watch_min_s = l->watch_min_s;
	ro.watch_max_s = l->watch_max_s;
	ro.random = loop_random;
	ro.random_ctx = l;
	k8s_reflector_init(&w->refl, &ro);
	for (tail = &l->watches; *tail; tail = &(*tail)->next)
		;
	*tail = w;
	w = NULL;
out:
	watch_free(w);
	return r;
}

int k8s_loop_set_watch_timeout(struct k8s_loop *l, unsigned min_s, unsigned max_s)
{
	if (min_s == 0 || max_s < min_s || max_s > 24 * 3600)
		return -EINVAL;
	l->watch_min_s = min_s;
	l->watch_max_s = max_s;
	return 0;
}

bool k8s_loop_synced(const struct k8s_loop *l)
{
	const struct k8s_watch *w;

	for (w = l->watches; w; w = w->next)
		if (!w->synced)
			return false;
	return true;
}

int k8s_loop_post_event(struct k8s_loop *l, const struct k8s_event_post *ev, struct diag *d)
{
	if (!ev->ns || !path_word(ev->ns, 63))
		return diag_set(d, -EINVAL, "bad event namespace '%s'", ev->ns ? ev->ns : "");
	return k8s_event_queue_push(&l->events, ev, l->node_name, time(NULL), mono_ms(), d);
}

void k8s_loop_wakeup(struct k8s_loop *l)
{
	int saved = errno;

	/* A full pipe already means "wake up". */
	if (write(l->wake[1], "w", 1) < 0) {
		/* nothing to do: the byte only makes poll return */
	}
	errno = saved;
}

/* ---- decoding: objects go to the watch's callbacks as they complete ---- */

static int on_object(void *ctx, enum k8s_event_type type, const struct k8s_object *o)
{
	struct k8s_watch *w = ctx;
	const char *end;
	bool initial;
	int r;

	if (w->is_list) {
		w->ops->relist_object(w->ctx, o);
		return 0;
	}
	initial = k8s_reflector_in_initial(&w->refl);
	end = type == K8S_EV_BOOKMARK ? k8s_object_annotation(o, INITIAL_END_AN) : NULL;
	r = k8s_reflector_watch_event(&w->refl, type, o->resource_version,
				      end && strcmp(end, "true") == 0);
	if (r < 0)
		return diag_set(&w->cb_diag, r, "resourceVersion of '%s/%s' is too long", o->ns,
				o->name);
	if (initial) {
		if (type == K8S_EV_ADDED || type == K8S_EV_MODIFIED)
			w->ops->relist_object(w->ctx, o);
		if (r == K8S_REFLECTOR_INITIAL_END) {
			w->ops->relist_end(w->ctx);
			w->synced = true;
		}
		return 0;
	}
	if (type == K8S_EV_ADDED || type == K8S_EV_MODIFIED || type == K8S_EV_DELETED)
		w->ops->event(w->ctx, type, o);
	return 0;
}

static int on_status(void *ctx, const struct k8s_status *st)
{
	struct k8s_watch *w = ctx;

	w->got_error = true;
	w->error_status = *st;
	/* The server closes the stream after an ERROR: stop reading now. */
	return -ECANCELED;
}

static const struct k8s_decode_ops decode_ops = {
	.object = on_object,
	.error = on_status,
};

static int body_start(void *ctx, int code)
{
	struct k8s_watch *w = ctx;

	w->counted = true;
	observe_request(w->loop, w->resource, code);
	if (code < 200 || code >= 300)
		return 0;
	if (!w->is_list)
		k8s_reflector_watch_opened(&w->refl, mono_ms());
	if (w->relist_begin) {
		w->relist_begin = false;
		w->ops->relist_begin(w->ctx);
	}
	return 0;
}

static int body_data(void *ctx, const void *p, size_t n)
{
	struct k8s_watch *w = ctx;
	int r;

	r = k8s_decoder_feed(w->dec, p, n, &w->cb_diag);
	if (r < 0 && !w->cb_err)
		w->cb_err = r;
	return r;
}

static const struct k8s_http_body_ops body_ops = {
	.start = body_start,
	.data = body_data,
};

/* ---- requests ---- */

static int watch_path(struct k8s_watch *w, struct buf *b)
{
	int r;

	if (w->ns)
		r = buf_appendf(b, "/api/v1/namespaces/%s/%s", w->ns, w->resource);
	else
		r = buf_appendf(b, "/api/v1/%s", w->resource);
	if (r == 0 && w->label_selector && w->label_selector[0])
		r = k8s_http_query_add(b, "labelSelector", w->label_selector);
	if (r == 0 && w->field_selector && w->field_selector[0])
		r = k8s_http_query_add(b, "fieldSelector", w->field_selector);
	return r;
}

static int start_request(struct k8s_watch *w, const struct k8s_action *act, uint64_t now,
			 struct diag *d)
{
	struct k8s_decode_opts dopts = { 0 };
	struct k8s_req_opts ro = { 0 };
	char num[32];
	struct buf path;
	CURLMcode mc;
	int r;

	buf_init(&path, PATH_MAX_LEN);
	w->is_list = act->kind == K8S_ACT_LIST;
	w->relist_begin = act->relist_begin;
	w->counted = false;
	w->cb_err = 0;
	w->got_error = false;
	diag_clear(&w->cb_diag);
	r = watch_path(w, &path);
	if (w->is_list) {
		if (r == 0 && act->limit) {
			(void)snprintf(num, sizeof(num), "%u", act->limit);
			r = k8s_http_query_add(&path, "limit", num);
		}
		if (r == 0 && act->continue_token)
			r = k8s_http_query_add(&path, "continue", act->continue_token);
	} else {
		(void)snprintf(num, sizeof(num), "%u", act->timeout_s);
		if (r == 0)
			r = k8s_http_query_add(&path, "watch", "true");
		if (r == 0)
			r = k8s_http_query_add(&path, "allowWatchBookmarks", "true");
		if (r == 0)
			r = k8s_http_query_add(&path, "timeoutSeconds", num);
		if (r == 0 && act->streaming)
			r = k8s_http_query_add(&path, "sendInitialEvents", "true");
		if (r == 0 && act->streaming)
			r = k8s_http_query_add(&path, "resourceVersionMatch", "NotOlderThan");
	}
	if (r == 0 && act->rv)
		r = k8s_http_query_add(&path, "resourceVersion", act->rv);
	if (r < 0) {
		r = diag_set(d, r, "request for '%s' is too long", w->resource);
		goto out;
	}
	dopts.stream = w->is_list ? K8S_STREAM_LIST : K8S_STREAM_WATCH;
	dopts.kind = w->kind;
	dopts.require_annotation = w->require_annotation;
	r = k8s_decoder_new(&dopts, &decode_ops, w, &w->dec, d);
	if (r < 0)
		goto out;
	ro.method = "GET";
	ro.path = path.data;
	ro.stream = !w->is_list;
	ro.timeout_s = w->is_list ? K8S_HTTP_LIST_TIMEOUT_S
				  : (long)act->timeout_s + K8S_HTTP_WATCH_SLACK_S;
	ro.ops = &body_ops;
	ro.ctx = w;
	r = k8s_req_new(w->loop->http, &ro, now, &w->req, d);
	if (r < 0)
		goto out;
	mc = curl_multi_add_handle(w->loop->multi, k8s_req_handle(w->req));
	if (mc != CURLM_OK) {
		r = diag_set(d, -ENOMEM, "cannot start a request: %s", curl_multi_strerror(mc));
		goto out;
	}
out:
	if (r < 0) {
		k8s_req_free(w->req);
		w->req = NULL;
		k8s_decoder_free(w->dec);
		w->dec = NULL;
	}
	buf_release(&path);
	return r;
}

static void trouble(struct k8s_watch *w, int err, bool fatal, const struct diag *d)
{
	if (w->ops->trouble)
		w->ops->trouble(w->ctx, err, fatal, d);
}

/*
 * Carry out the reflector's action.  A request that cannot even be built
 * (out of memory, a URL over the limit) counts as a failed attempt, so that
 * the reflector's backoff applies to it like to any other failure.
 */
static void apply(struct k8s_watch *w, struct k8s_action *act, uint64_t now)
{
	struct k8s_loop *l = w->loop;
	struct k8s_result res = { 0 };
	struct diag d;
	int r;

	for (;;) {
		if (act->relist_end) {
			w->ops->relist_end(w->ctx);
			w->synced = true;
		}
		if (act->restart && l->obs && l->obs->watch_restart)
			l->obs->watch_restart(l->obs_ctx, w->resource, act->restart);
		switch (act->kind) {
		case K8S_ACT_LIST:
		case K8S_ACT_WATCH:
			diag_clear(&d);
			r = start_request(w, act, now, &d);
			if (r == 0)
				return;
			res.kind = K8S_RES_TRANSPORT;
			res.err = r;
			k8s_reflector_result(&w->refl, now, &res, act);
			trouble(w, r, act->kind == K8S_ACT_DONE && act->failed, &d);
			continue;
		case K8S_ACT_WAIT:
			w->waiting = true;
			w->until_ms = act->until_ms;
			return;
		case K8S_ACT_DONE:
			w->done = true;
			return;
		}
		return;
	}
}

static void fill_status(struct k8s_result *res, const struct k8s_status *st)
{
	res->reason = st->reason[0] ? st->reason : NULL;
	res->cause = st->cause[0] ? st->cause : NULL;
}

static void watch_complete(struct k8s_watch *w, CURLcode code, uint64_t now)
{
	struct k8s_loop *l = w->loop;
	const char *what = w->is_list ? "list" : "watch";
	struct k8s_http_result hr;
	struct k8s_result res = { 0 };
	struct k8s_action act;
	struct diag d;
	int err = 0, r;

	diag_clear(&d);
	(void)curl_multi_remove_handle(l->multi, k8s_req_handle(w->req));
	k8s_req_finish(w->req, (int)code, &hr, &d);
	if (!w->counted)
		observe_request(l, w->resource, hr.answered ? hr.http_code : 0);
	if (hr.http_code == 401)
		k8s_http_unauthorized(l->http);

	if (w->got_error) {
		res.kind = K8S_RES_WATCH_ERROR;
		res.code = w->error_status.code ? w->error_status.code : 500;
		fill_status(&res, &w->error_status);
		err = k8s_http_code_errno(res.code);
		(void)diag_set(&d, err, "watch of '%s' ended with an error: %d %s: %s", w->resource,
			       res.code, w->error_status.reason, w->error_status.message);
	} else if (hr.answered && (hr.http_code < 200 || hr.http_code >= 300)) {
		res.kind = K8S_RES_HTTP;
		res.code = hr.http_code;
		res.retry_after_s = hr.retry_after_s;
		fill_status(&res, &hr.status);
		err = k8s_http_code_errno(hr.http_code);
		(void)diag_set(&d, err, "%s of '%s' failed: HTTP %d%s%s%s%s", what, w->resource,
			       hr.http_code, hr.status.reason[0] ? " " : "", hr.status.reason,
			       hr.status.message[0] ? ": " : "", hr.status.message);
	} else if (w->cb_err) {
		res.kind = K8S_RES_DECODE;
		err = w->cb_err;
		d = w->cb_diag;
		(void)diag_prefix(&d, err, "cannot decode the %s of '%s'", what, w->resource);
	} else if (hr.err) {
		res.kind = hr.answered ? K8S_RES_BROKEN : K8S_RES_TRANSPORT;
		res.err = hr.err;
		err = hr.err;
		(void)diag_prefix(&d, err, "%s of '%s'", what, w->resource);
	} else if ((r = k8s_decoder_finish(w->dec, &d)) < 0) {
		/* A watch cut inside an event is a dropped connection; a cut list is unusable. */
		res.kind = w->is_list ? K8S_RES_DECODE : K8S_RES_BROKEN;
		res.err = r;
		err = r;
		(void)diag_prefix(&d, err, "%s of '%s' ended early", what, w->resource);
	} else {
		res.kind = K8S_RES_OK;
		if (w->is_list) {
			const struct k8s_list_meta *m = k8s_decoder_list_meta(w->dec);

			res.resource_version = m->resource_version;
			res.continue_token = m->continue_token;
		}
	}
	/* The result borrows from the decoder: free it only afterwards. */
	k8s_reflector_result(&w->refl, now, &res, &act);
	k8s_req_free(w->req);
	w->req = NULL;
	k8s_decoder_free(w->dec);
	w->dec = NULL;
	if (err)
		trouble(w, err, act.kind == K8S_ACT_DONE && act.failed, &d);
	apply(w, &act, now);
}

/* ---- the Event writer: one POST at a time, behind the queue's rate limit ---- */

static const struct k8s_http_body_ops event_body_ops = { 0 };

static void event_finish(struct k8s_loop *l, struct k8s_event_item *it, int http_code,
			 unsigned retry_after_s, uint64_t now)
{
	if (l->obs && l->obs->event_posted)
		l->obs->event_posted(l->obs_ctx, it->reason, http_code);
	if (http_code == 401)
		k8s_http_unauthorized(l->http);
	if (k8s_event_outcome(http_code) == K8S_EVENT_RETRY)
		(void)k8s_event_queue_retry(&l->events, it, now, retry_after_s, loop_random(l));
	else
		k8s_event_item_free(it);
}

static void event_kick(struct k8s_loop *l, uint64_t now, uint64_t *next)
{
	struct k8s_req_opts ro = { 0 };
	struct k8s_event_item *it;
	uint64_t wait = 0;
	struct buf path;
	int r;

	if (l->ev_req)
		return;
	it = k8s_event_queue_next(&l->events, now, &wait);
	if (!it) {
		if (l->events.count && now + wait < *next)
			*next = now + wait;
		return;
	}
	buf_init(&path, PATH_MAX_LEN);
	r = it->body ? buf_appendf(&path, "/api/v1/namespaces/%s/events", it->ns) : -ENOMEM;
	ro.method = "POST";
	ro.path = path.data;
	ro.body = it->body;
	ro.body_len = it->body_len;
	ro.timeout_s = K8S_HTTP_POST_TIMEOUT_S;
	ro.ops = &event_body_ops;
	if (r == 0)
		r = k8s_req_new(l->http, &ro, now, &l->ev_req, NULL);
	if (r == 0 && curl_multi_add_handle(l->multi, k8s_req_handle(l->ev_req)) != CURLM_OK)
		r = -ENOMEM;
	buf_release(&path);
	if (r < 0) {
		k8s_req_free(l->ev_req);
		l->ev_req = NULL;
		event_finish(l, it, 0, 0, now);
		return;
	}
	l->ev_item = it;
}

static void event_complete(struct k8s_loop *l, CURLcode code, uint64_t now)
{
	struct k8s_event_item *it = l->ev_item;
	struct k8s_http_result hr;

	(void)curl_multi_remove_handle(l->multi, k8s_req_handle(l->ev_req));
	k8s_req_finish(l->ev_req, (int)code, &hr, NULL);
	k8s_req_free(l->ev_req);
	l->ev_req = NULL;
	l->ev_item = NULL;
	event_finish(l, it, hr.answered ? hr.http_code : 0, hr.retry_after_s, now);
}

/* ---- the loop ---- */

static void kick(struct k8s_loop *l, uint64_t now, uint64_t *next)
{
	struct k8s_action act;
	struct k8s_watch *w;

	for (w = l->watches; w; w = w->next) {
		if (w->done || w->req)
			continue;
		if (!w->started) {
			w->started = true;
			k8s_reflector_start(&w->refl, now, &act);
			apply(w, &act, now);
		} else if (w->waiting && now >= w->until_ms) {
			w->waiting = false;
			k8s_reflector_resume(&w->refl, now, &act);
			apply(w, &act, now);
		}
		if (w->waiting && w->until_ms < *next)
			*next = w->until_ms;
	}
	event_kick(l, now, next);
}

static void dispatch(struct k8s_loop *l, CURL *easy, CURLcode code)
{
	struct k8s_watch *w;

	for (w = l->watches; w; w = w->next) {
		if (w->req && k8s_req_handle(w->req) == easy) {
			watch_complete(w, code, mono_ms());
			return;
		}
	}
	if (l->ev_req && k8s_req_handle(l->ev_req) == easy)
		event_complete(l, code, mono_ms());
}

static bool loop_done(const struct k8s_loop *l)
{
	const struct k8s_watch *w;

	for (w = l->watches; w; w = w->next)
		if (!w->list_only || !w->done)
			return false;
	return !l->ev_req && !l->events.count;
}

static bool drain_wakeups(struct k8s_loop *l)
{
	char junk[64];
	bool woken = false;

	while (read(l->wake[0], junk, sizeof(junk)) > 0)
		woken = true;
	return woken;
}

/*
 * curl_multi_poll() swallows EINTR (it counts as a timeout), so a signal alone
 * does not end the wait: a signal handler calls k8s_loop_wakeup(), whose byte
 * on our own pipe (polled as an extra fd) does.  Our own pipe rather than
 * curl_multi_wakeup() because write(2) is async-signal-safe by definition.
 */
int k8s_loop_run(struct k8s_loop *l, int timeout_ms, struct diag *d)
{
	uint64_t deadline = mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);

	for (;;) {
		struct curl_waitfd wfd = { .fd = l->wake[0], .events = CURL_WAIT_POLLIN };
		uint64_t now = mono_ms(), next = deadline;
		bool progress = false;
		int running, left, numfds;
		CURLMcode mc;
		CURLMsg *msg;

		kick(l, now, &next);
		mc = curl_multi_perform(l->multi, &running);
		if (mc != CURLM_OK)
			return diag_set(d, -EIO, "curl: %s", curl_multi_strerror(mc));
		while ((msg = curl_multi_info_read(l->multi, &left))) {
			CURL *easy = msg->easy_handle;
			CURLcode code = msg->data.result;

			if (msg->msg != CURLMSG_DONE)
				continue;
			dispatch(l, easy, code);
			progress = true;
		}
		if (loop_done(l))
			return K8S_LOOP_DONE;
		now = mono_ms();
		if (now >= deadline)
			return 0;
		if (progress)
			continue;
		if (next < now)
			next = now;
		if (next > deadline)
			next = deadline;
		mc = curl_multi_poll(l->multi, &wfd, 1, (int)(next - now), &numfds);
		if (mc != CURLM_OK)
			return diag_set(d, -EIO, "curl: %s", curl_multi_strerror(mc));
		if ((wfd.revents & CURL_WAIT_POLLIN) && drain_wakeups(l))
			return 0;
	}
}
