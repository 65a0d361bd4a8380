/* SPDX-License-Identifier: Apache-2.0 */
#ifndef SECCOMP_SYNCD_K8S_REFLECTOR_H
#define SECCOMP_SYNCD_K8S_REFLECTOR_H

/*
 * The list+watch state machine of one watch, with client-go's reflector
 * semantics (docs/K8S-API.md).  Pure: it is told what happened to the request
 * it asked for, and the current monotonic time, and answers with the next
 * action (list a page, watch, wait, done).  The loop (k8s/loop.c) does the
 * I/O; tests drive it with a fake clock and scripted results.
 *
 *   - The first list is at resourceVersion "0", paged (limit=500); continue
 *     pages carry no resourceVersion.  An expired continue token (410) turns
 *     into one unpaged list at the same resourceVersion.
 *   - Later relists are at the last seen resourceVersion, unpaged; after a
 *     list failed with Expired (410) or ResourceVersionTooLarge (504), at ""
 *     (a consistent read), paged.
 *   - Watches request bookmarks and a timeoutSeconds random in [300, 600].
 *     A clean end re-watches at once from the last resourceVersion.  A watch
 *     that ends cleanly in under a second with no event, a 410 (as HTTP or as
 *     an ERROR event), a decode error or any other error backs off and then
 *     relists.  429 and "connection refused" back off and re-watch without a
 *     relist.  Retry-After lengthens a wait, never shortens it.
 *   - Optionally, the list is a streaming watch (sendInitialEvents) that ends
 *     its initial events with a BOOKMARK annotated k8s.io/initial-events-end;
 *     422, 400 or 403 to it falls back to list+watch for good; any other
 *     failure falls back to one ordinary list for that round.
 *   - A list_only reflector lists once (every page) and is done; any failure
 *     ends it with failed set.
 *
 * Resource versions are opaque: compared for equality, never parsed.
 */

#include <stdbool.h>
#include <stdint.h>

#include "k8s/backoff.h"
#include "k8s/object.h"

#define K8S_LIST_PAGE_SIZE    500
#define K8S_RV_MAX	      128 /* bytes of a resourceVersion, NUL included */
#define K8S_CONTINUE_MAX      4096
#define K8S_WATCH_MIN_S	      300
#define K8S_WATCH_MAX_S	      600
#define K8S_SHORT_WATCH_MS    1000
#define K8S_RETRY_AFTER_MAX_S 600 /* a longer Retry-After is honoured only this far */

enum k8s_action_kind {
	K8S_ACT_LIST = 1, /* GET the list (one page) */
	K8S_ACT_WATCH,	  /* GET ?watch=true */
	K8S_ACT_WAIT,	  /* do nothing until until_ms, then k8s_reflector_resume() */
	K8S_ACT_DONE,	  /* list_only: finished (see failed) */
};

/*
 * What to do next.  Pointers are borrowed from the reflector and valid until
 * the next call on it.
 */
struct k8s_action {
	enum k8s_action_kind kind;
	/* LIST, WATCH: resourceVersion to send, or NULL to leave it out. */
	const char *rv;
	/* LIST: limit to send, 0 for an unpaged list. */
	unsigned limit;
	/* LIST: the continue token of the next page, or NULL for a first page. */
	const char *continue_token;
	/* LIST, streaming WATCH: a new list starts; report relist_begin when it answers 200. */
	bool relist_begin;
	/* WATCH: timeoutSeconds. */
	unsigned timeout_s;
	/* WATCH: a streaming list (sendInitialEvents=true, resourceVersionMatch=NotOlderThan). */
	bool streaming;
	/* WAIT: when to resume (same clock as the now_ms arguments). */
	uint64_t until_ms;
	/* The list that was being read is complete: report relist_end before acting. */
	bool relist_end;
	/*
	 * Why the list or watch is being restarted ("timeout", "closed", "short",
	 * "expired", "throttled", "refused", "decode", "error", "fallback"), for
	 * the watch_restarts metric; NULL when this is no restart.
	 */
	const char *restart;
	/* DONE: a list_only reflector gave up after a failure. */
	bool failed;
};

/* How the last LIST or WATCH ended. */
enum k8s_result_kind {
	K8S_RES_OK = 0,	     /* a list page was read, or a watch stream ended cleanly */
	K8S_RES_HTTP,	     /* the server answered a non-2xx status */
	K8S_RES_WATCH_ERROR, /* the watch stream sent an ERROR event (a Status) */
	K8S_RES_TRANSPORT,   /* no answer at all: err says why (-ECONNREFUSED, -ETIMEDOUT, ...) */
	K8S_RES_BROKEN,	     /* an answered (2xx) stream broke off: reset, truncated, deadline */
	K8S_RES_DECODE,	     /* malformed or oversized body */
};

struct k8s_result {
	enum k8s_result_kind kind;
	int code;		/* HTTP: the status; WATCH_ERROR: Status.code */
	const char *reason;	/* Status.reason ("Expired", "Gone", "Timeout"), or NULL */
	const char *cause;	/* Status.details.causes[0].reason, or NULL */
	int err;		/* TRANSPORT: negative errno */
	unsigned retry_after_s; /* the Retry-After header (seconds form), 0 if none */
	/* OK after a LIST: the page's metadata. */
	const char *resource_version;
	const char *continue_token;
};

struct k8s_reflector_opts {
	bool list_only;
	bool streaming_list;
	/* timeoutSeconds range of watches; 0 means K8S_WATCH_MIN_S and K8S_WATCH_MAX_S. */
	unsigned watch_min_s;
	unsigned watch_max_s;
	/* Uniform 32-bit random numbers (jitter, watch timeouts); never NULL. */
	uint32_t (*random)(void *ctx);
	void *random_ctx;
};

enum k8s_reflector_phase {
	K8S_PHASE_IDLE = 0,
	K8S_PHASE_LIST,
	K8S_PHASE_WATCH,
	K8S_PHASE_WAIT,
	K8S_PHASE_DONE,
};

/* Caller-owned (usually inside the watch); no resources, nothing to release. */
struct k8s_reflector {
	struct k8s_reflector_opts opts;
	struct k8s_backoff backoff;
	enum k8s_reflector_phase phase;
	bool synced;	     /* a list has completed once */
	bool rv_unavailable; /* next list at "" */
	bool streaming;	     /* streaming lists are still to be tried */
	bool no_stream_once; /* the next relist is an ordinary list (streaming failed) */
	char rv[K8S_RV_MAX]; /* last seen resourceVersion, "" before the first list */

	/* The list in progress. */
	char list_rv[K8S_RV_MAX];
	bool list_rv_set;
	bool list_paged;
	bool list_unpaged_retry; /* this is the unpaged retry after an expired continue */
	char cont[K8S_CONTINUE_MAX];

	/* The watch in progress. */
	bool watch_streaming;
	bool initial_done; /* streaming: the initial-events-end bookmark came */
	bool watch_opened;
	uint64_t watch_opened_ms;
	unsigned long watch_events;

	/* WAIT: what comes after it. */
	bool pending_list; /* else a watch */
	uint64_t wait_until_ms;
};

/* k8s_reflector_watch_event() result: the streaming list's initial events are complete. */
#define K8S_REFLECTOR_INITIAL_END 1

/** k8s_reflector_init() - a reflector that has not started; @opts is copied */
void k8s_reflector_init(struct k8s_reflector *r, const struct k8s_reflector_opts *opts);

/** k8s_reflector_start() - the first action (a list, or a streaming watch) */
void k8s_reflector_start(struct k8s_reflector *r, uint64_t now_ms, struct k8s_action *act);

/**
 * k8s_reflector_resume() - after a WAIT: the deferred action, or the same WAIT
 * again when called before its time (so a spurious wake-up is harmless).
 */
void k8s_reflector_resume(struct k8s_reflector *r, uint64_t now_ms, struct k8s_action *act);

/**
 * k8s_reflector_watch_opened() - the watch answered 200: the moment from which
 * a "very short watch" is measured
 */
void k8s_reflector_watch_opened(struct k8s_reflector *r, uint64_t now_ms);

/**
 * k8s_reflector_in_initial() - whether watch events are still a streaming
 * list's initial objects (to be reported as relist objects, not events)
 */
bool k8s_reflector_in_initial(const struct k8s_reflector *r);

/**
 * k8s_reflector_watch_event() - an event arrived on the watch
 * @type: K8S_EV_ADDED ... K8S_EV_BOOKMARK
 * @rv: the object's resourceVersion (may be NULL or "")
 * @initial_end: a BOOKMARK annotated k8s.io/initial-events-end: "true"
 *
 * Remembers the resourceVersion so that the next watch resumes after it.
 * Initial objects of a streaming list come in no order, so only the closing
 * bookmark moves the resourceVersion during them.
 *
 * Return: 0, K8S_REFLECTOR_INITIAL_END (report relist_end now), or -E2BIG for
 * a resourceVersion too long to keep (treat the stream as undecodable).
 */
int k8s_reflector_watch_event(struct k8s_reflector *r, enum k8s_event_type type, const char *rv,
			      bool initial_end);

/**
 * k8s_reflector_result() - the LIST or WATCH the reflector asked for has ended
 * @res: how it ended; strings are read during the call only
 * @act: the next action
 */
void k8s_reflector_result(struct k8s_reflector *r, uint64_t now_ms, const struct k8s_result *res,
			  struct k8s_action *act);

/** k8s_reflector_rv() - the last seen resourceVersion ("" before the first list) */
const char *k8s_reflector_rv(const struct k8s_reflector *r);

#endif
