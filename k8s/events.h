/* SPDX-License-Identifier: Apache-2.0 */
#ifndef SECCOMP_SYNCD_K8S_EVENTS_H
#define SECCOMP_SYNCD_K8S_EVENTS_H

/*
 * Kubernetes Events about ConfigMaps and Pods, without storms: the Event's
 * name is derived from what it says (so that every node posts the same name
 * and the first create wins, the others getting 409), a token bucket bounds
 * the rate, and a bounded queue bounds the memory.  Pure: the loop
 * (k8s/loop.c) sends what k8s_event_queue_next() hands out and reports how it
 * went with k8s_event_queue_retry() or k8s_event_item_free().
 */

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/buf.h"
#include "common/diag.h"
#include "k8s/backoff.h"
#include "k8s/loop.h"

#define K8S_EVENT_NAME_MAX	253  /* a DNS subdomain */
#define K8S_EVENT_MESSAGE_MAX	1024 /* bytes of message kept; longer ones end in "..." */
#define K8S_EVENT_FIELD_MAX	253  /* namespace, name, kind, uid, resourceVersion, node */
#define K8S_EVENT_REASON_MAX	128
#define K8S_EVENT_DEDUP_MAX	1024
#define K8S_EVENT_QUEUE_DEFAULT 256
#define K8S_EVENT_BURST		10
#define K8S_EVENT_ATTEMPTS	4 /* sends of one Event at most (the first and 3 retries) */
#define K8S_EVENT_COMPONENT	"seccomp-syncd"

/**
 * k8s_event_name() - the Event's deterministic name
 *
 * "<object name>.<16 hex digits of SHA-256(uid, resourceVersion, dedup, reason)>",
 * the object name shortened when needed so that the whole stays a valid DNS
 * subdomain of at most 253 bytes.
 *
 * Return: 0, or -EINVAL when a required field is missing or too long.
 */
int k8s_event_name(const struct k8s_event_post *ev, char out[K8S_EVENT_NAME_MAX + 1],
		   struct diag *d);

/**
 * k8s_event_json() - the core/v1 Event body to POST
 * @node: the reporting node (source.host, reportingInstance), or NULL
 * @now: wall-clock time for firstTimestamp and lastTimestamp
 * @out: appended to
 *
 * Strings are JSON-escaped; invalid UTF-8 becomes U+FFFD; the message is cut
 * at K8S_EVENT_MESSAGE_MAX bytes on a character boundary.
 *
 * Return: 0, -EINVAL for a missing or oversized field, -ENOMEM.
 */
int k8s_event_json(const struct k8s_event_post *ev, const char *node, time_t now, struct buf *out,
		   struct diag *d);

/* A token bucket in integer milliseconds of credit. */
struct k8s_ratelimit {
	uint64_t interval_ms; /* one token per interval */
	uint64_t max_credit_ms;
	uint64_t credit_ms;
	uint64_t last_ms;
};

/** k8s_ratelimit_init() - @per_minute tokens a minute (0: 60), @burst at once (0: 1); full */
void k8s_ratelimit_init(struct k8s_ratelimit *rl, unsigned per_minute, unsigned burst,
			uint64_t now_ms);

/**
 * k8s_ratelimit_take() - take a token at @now_ms
 * Return: 0 when taken, else the milliseconds until one is available.
 */
uint64_t k8s_ratelimit_take(struct k8s_ratelimit *rl, uint64_t now_ms);

/*
 * One queued Event; owned by the queue, or by the loop while it is being sent.
 * A queued Event keeps its fields, not its body: a full queue of 256 bodies was
 * 0.1 MiB more for their JSON alone (bench/results-daemon.md).
 */
struct k8s_event_item {
	const char *ns;
	const char *name;   /* the Event's name */
	const char *reason; /* for the event_posted observer */
	char *body;	    /* JSON, built by k8s_event_queue_next(); NULL out of memory */
	size_t body_len;
	unsigned attempts; /* sends so far */
	uint64_t not_before_ms;
	struct k8s_backoff backoff;
	/* Private: what the body is built from; every string is in @strings. */
	struct k8s_event_post ev;
	const char *node;
	time_t when;
	char *strings;
};

struct k8s_event_queue {
	struct k8s_event_item **items; /* a ring of cap entries */
	size_t cap;
	size_t head;
	size_t count;
	struct k8s_ratelimit rl;
};

/** k8s_event_queue_init() - an empty queue of at most @cap Events (0: the default) */
int k8s_event_queue_init(struct k8s_event_queue *q, size_t cap, unsigned per_minute,
			 uint64_t now_ms);

/** k8s_event_queue_release() - free every queued Event */
void k8s_event_queue_release(struct k8s_event_queue *q);

/**
 * k8s_event_queue_push() - check an Event, name it and queue it
 * @now: wall-clock time stamped on the Event
 * @now_ms: monotonic time
 *
 * Return: 0, -ENOBUFS when the queue is full (the Event is dropped), -EINVAL
 * for an Event that cannot be built, -ENOMEM.
 */
int k8s_event_queue_push(struct k8s_event_queue *q, const struct k8s_event_post *ev,
			 const char *node, time_t now, uint64_t now_ms, struct diag *d);

/**
 * k8s_event_queue_next() - the Event to send now, if any
 * @wait_ms: set, when NULL is returned and Events are queued, to how long to wait
 *
 * The first queued Event is handed out once its retry time has come and the
 * rate limit allows, with its body built; the caller then owns it.  Out of
 * memory the body is NULL: the caller counts that as a send without an answer.
 * Return: the Event, or NULL.
 */
struct k8s_event_item *k8s_event_queue_next(struct k8s_event_queue *q, uint64_t now_ms,
					    uint64_t *wait_ms);

/* What to do with an Event after a send. */
enum k8s_event_outcome {
	K8S_EVENT_DONE = 0, /* created, or already created by another node (409) */
	K8S_EVENT_RETRY,    /* 429, 5xx, 401 (token rotated), no answer: try again later */
	K8S_EVENT_DROP,	    /* refused for good (400, 403, 404, 422, ...) */
};

/** k8s_event_outcome() - classify @http_code (0 when there was no answer) */
enum k8s_event_outcome k8s_event_outcome(int http_code);

/**
 * k8s_event_queue_retry() - put a sent Event back at the head of the queue,
 * after a backoff (at least @retry_after_s)
 *
 * Return: 0, or -ETIMEDOUT when it has had all its attempts (then it is freed).
 */
int k8s_event_queue_retry(struct k8s_event_queue *q, struct k8s_event_item *it, uint64_t now_ms,
			  unsigned retry_after_s, uint32_t rnd);

/** k8s_event_item_free() - NULL is a no-op */
void k8s_event_item_free(struct k8s_event_item *it);

#endif
