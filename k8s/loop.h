/* SPDX-License-Identifier: Apache-2.0 */
#ifndef SECCOMP_SYNCD_K8S_LOOP_H
#define SECCOMP_SYNCD_K8S_LOOP_H

/*
 * The event loop the daemon drives: one curl multi handle carrying every
 * list+watch (ConfigMaps, and Pods on this node) and the Event writer, on one
 * thread.  For each watch it reports, through callbacks:
 *
 *     relist_begin, relist_object..., relist_end, then event... (ADDED/MODIFIED/DELETED)
 *
 * and starts over with relist_begin whenever it has to list again.  k8s/ keeps
 * no per-object state: after relist_end the daemon diffs its own set to find
 * what vanished.  Retries, backoff, resource versions and token rotation are
 * handled here, with client-go's reflector semantics (docs/K8S-API.md).
 */

#include <stdbool.h>

#include "common/diag.h"
#include "k8s/config.h"
#include "k8s/object.h"

/* Positive results of k8s_loop_run(). */
#define K8S_LOOP_DONE 1 /* every watch is list_only and finished, and no Event is pending */

struct k8s_watch_ops {
	void (*relist_begin)(void *ctx);
	/* An object of the list; borrowed for the call. */
	void (*relist_object)(void *ctx, const struct k8s_object *o);
	/* The whole list has been delivered (every page). */
	void (*relist_end)(void *ctx);
	/* A watch event after the list: K8S_EV_ADDED, _MODIFIED or _DELETED. */
	void (*event)(void *ctx, enum k8s_event_type type, const struct k8s_object *o);
	/*
	 * Something went wrong and the loop will retry (or, for a list_only watch,
	 * has given up: @fatal).  @err is a negative errno (-EACCES for 401/403,
	 * -ECONNREFUSED, -ETIMEDOUT, -EBADMSG, ...) and @d says what happened.
	 * For logging and exit codes only; the loop recovers by itself.
	 */
	void (*trouble)(void *ctx, int err, bool fatal, const struct diag *d);
};

struct k8s_watch_spec {
	const char *resource; /* "configmaps" or "pods" (also the metrics label) */
	enum k8s_kind kind;
	const char *ns;			/* NULL: all namespaces */
	const char *label_selector;	/* NULL: none */
	const char *field_selector;	/* NULL: none */
	const char *require_annotation; /* ConfigMaps without it = "true" come without bodies */
	bool list_only;			/* list once, then stop (run --once) */
	bool streaming_list;		/* try sendInitialEvents, fall back to list+watch on 422 */
};

/* Counters for metrics, reported as they happen (called on the loop thread). */
struct k8s_loop_observer {
	void (*request)(void *ctx, const char *resource, int http_code); /* 0: no response */
	void (*watch_restart)(void *ctx, const char *resource, const char *reason);
	void (*event_posted)(void *ctx, const char *reason, int http_code);
};

struct k8s_loop_opts {
	const struct k8s_config *cfg;		  /* borrowed for the loop's lifetime */
	const char *node_name;			  /* Events' source.host; may be NULL */
	const struct k8s_loop_observer *observer; /* may be NULL */
	void *observer_ctx;
	unsigned events_per_minute; /* client-side Event rate limit; 0: 60 */
};

struct k8s_loop;
struct k8s_watch;

/** k8s_loop_new() - a loop; nothing is sent until k8s_loop_run(). Return: 0 or -errno. */
int k8s_loop_new(const struct k8s_loop_opts *opts, struct k8s_loop **out, struct diag *d);

/** k8s_loop_free() - abort every transfer and free; NULL is a no-op */
void k8s_loop_free(struct k8s_loop *l);

/**
 * k8s_loop_add_watch() - start a list+watch; @spec strings are copied, @ops and
 * @ctx are borrowed until the loop is freed.  Return: 0 or a negative errno.
 */
int k8s_loop_add_watch(struct k8s_loop *l, const struct k8s_watch_spec *spec,
		       const struct k8s_watch_ops *ops, void *ctx, struct diag *d);

/**
 * k8s_loop_set_watch_timeout() - the range timeoutSeconds is drawn from for
 * watches added after this call (default [300, 600], client-go's).  Tests use
 * a short range to see many clean watch ends; @max_s < @min_s is -EINVAL.
 */
int k8s_loop_set_watch_timeout(struct k8s_loop *l, unsigned min_s, unsigned max_s);

/** k8s_loop_synced() - every watch has delivered its first complete list */
bool k8s_loop_synced(const struct k8s_loop *l);

/* A core/v1 Event about an object. */
struct k8s_event_post {
	const char *ns;
	const char *kind; /* "ConfigMap" or "Pod" */
	const char *name;
	const char *uid; /* required: kubectl describe matches on it */
	const char *resource_version;
	const char *type;   /* "Normal" or "Warning" */
	const char *reason; /* e.g. "InvalidSeccompProfile" */
	const char *message;
	/*
	 * What makes this event distinct (e.g. the data key).  The Event's name is
	 * <name>.<hash of uid, resource_version, dedup, reason>, so every node posts
	 * the same name and the first create wins (409 AlreadyExists = done).
	 */
	const char *dedup;
};

/**
 * k8s_loop_post_event() - queue an Event (strings are copied); sent from the
 * loop behind a client-side rate limit.  Return: 0, -ENOBUFS when the queue is
 * full (the event is dropped), or a negative errno.
 */
int k8s_loop_post_event(struct k8s_loop *l, const struct k8s_event_post *ev, struct diag *d);

/**
 * k8s_loop_run() - run the loop for at most @timeout_ms
 *
 * Returns early when k8s_loop_wakeup() is called.  curl_multi_poll() retries
 * after EINTR, so a signal alone does not end the wait: a handler that wants
 * the loop back calls k8s_loop_wakeup().
 * Return: 0, K8S_LOOP_DONE, or a negative errno for a failure of the loop itself.
 */
int k8s_loop_run(struct k8s_loop *l, int timeout_ms, struct diag *d);

/** k8s_loop_wakeup() - make k8s_loop_run() return soon; async-signal-safe */
void k8s_loop_wakeup(struct k8s_loop *l);

#endif
