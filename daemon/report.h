/* SPDX-License-Identifier: Apache-2.0 */
#ifndef SECCOMP_SYNCD_DAEMON_REPORT_H
#define SECCOMP_SYNCD_DAEMON_REPORT_H

/*
 * Sync outcomes turned into what people and machines see: one log line each,
 * the metrics, and a Kubernetes Event on the ConfigMap with the reasons of
 * DESIGN.md's table (Warning InvalidSeccompProfile, Normal SavedSeccompProfile,
 * Normal RemovedSeccompProfile), so that `kubectl describe configmap` says
 * what happened on the node and why.  The message builders are pure so that
 * the wording is tested without a cluster.
 */

#include <stdbool.h>
#include <stddef.h>

#include "common/diag.h"
#include "daemon/metrics.h"
#include "daemon/sync.h"
#include "k8s/loop.h"
#include "profilestore/profile.h"

#define REPORT_MSG_MAX 1024 /* bytes of one Event message */

#define REPORT_INVALID "InvalidSeccompProfile"
#define REPORT_SAVED   "SavedSeccompProfile"
#define REPORT_REMOVED "RemovedSeccompProfile"

/**
 * report_appendf() - append printf-style text at @out + *@at, within @size
 *
 * Event messages have a bound, not a format: text past it is cut and the
 * message ends with "...".  *@at advances (at most to @size - 1).
 */
void report_appendf(char *out, size_t size, size_t *at, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Where reports go; every member may be NULL (then that channel is skipped). */
struct report {
	struct k8s_loop *loop; /* Events */
	struct metrics *metrics;
	unsigned events_dropped; /* Event queue full */
};

/* The ConfigMap a report is about; @uid NULL means known only from disk (no Event). */
struct report_cm {
	const char *ns;
	const char *name;
	const char *uid;
	const char *rv;
};

/**
 * report_invalid_message() - the Warning text for an invalid profile
 * @kept: an older good file stays on this node (state stale)
 *
 * Names the key, the JSON path and what the runtime would do (the first error,
 * with a count of the rest), then what happens on the node.  Return: @out.
 */
const char *report_invalid_message(const struct report_cm *cm, const char *key,
				   const struct profile_verdict *v, bool kept, char *out,
				   size_t size);

/** report_saved_message() - the Normal text for a written profile, with its warnings */
const char *report_saved_message(const struct report_cm *cm, const char *key,
				 const struct profile_verdict *v, char *out, size_t size);

/**
 * report_saved() - a valid profile went through the store
 * @written: the file changed (an Event is posted only then; an unchanged file is a debug line)
 * @v: its verdict (for the warnings); may be NULL for a profile trusted from disk
 */
void report_saved(struct report *r, const struct report_cm *cm, const char *key,
		  const struct profile_verdict *v, bool written);

/**
 * report_invalid() - an invalid profile: Warning Event, log line, validation_errors_total
 * @kept: the previous good file is kept (stale); false: there is no file
 */
void report_invalid(struct report *r, const struct report_cm *cm, const char *key,
		    const struct profile_verdict *v, bool kept);

/**
 * report_refused() - a namespace, name or key the store's name policy refuses
 * @key: NULL when the whole ConfigMap is refused
 * @why: the policy's reason
 */
void report_refused(struct report *r, const struct report_cm *cm, const char *key, const char *why);

/** report_removed() - a file was removed: Normal Event (when the uid is known), log line, metric */
void report_removed(struct report *r, const struct report_cm *cm, const char *key,
		    const char *reason);

/** report_failed() - a check, write or removal that failed (logged; retried later) */
void report_failed(struct report *r, const struct report_cm *cm, const char *key, const char *what,
		   const struct diag *d);

/** report_profiles() - publish profiles{state} from the table's counts */
void report_profiles(struct report *r, const struct sync_table *t);

#endif
