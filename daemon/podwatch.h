/* SPDX-License-Identifier: Apache-2.0 */
#ifndef SECCOMP_SYNCD_DAEMON_PODWATCH_H
#define SECCOMP_SYNCD_DAEMON_PODWATCH_H

/*
 * The Pod watch of `seccomp-syncd run` (with --node-name): it feeds the pods
 * on this node into daemon/pods.c and turns what that module answers into
 * what the daemon does and says:
 *
 *   - retention: the sync code asks podwatch_keep() before it removes a
 *     file; a file that a pod on this node still uses stays, with a log line,
 *     the profiles{state="retained"} gauge and a Normal SeccompProfileRetained
 *     Event (on the ConfigMap while it exists, else on the pods).  When the
 *     last such pod is gone, podwatch_take_released() tells the daemon to walk
 *     the pending removals again;
 *   - reference checks: podwatch_tick() offers every pod once to the checks,
 *     and posts one Warning per pod and reason: SeccompProfileNotFound (with
 *     the closest existing path, "did you mean ..."), InvalidSeccompProfile
 *     (pointing at the ConfigMap) and DeprecatedSeccompAnnotation (only the
 *     legacy annotations, which kubelets from 1.27 on ignore).
 *
 * Everything runs on the loop thread.  The message builders are pure so that
 * the wording is tested without a cluster.
 */

#include <stdbool.h>
#include <stddef.h>

#include "common/diag.h"
#include "daemon/pods.h"
#include "daemon/report.h"
#include "daemon/sync.h"
#include "k8s/loop.h"
#include "profilestore/store.h"

#define PODWATCH_RETAINED   "SeccompProfileRetained"
#define PODWATCH_NOT_FOUND  "SeccompProfileNotFound"
#define PODWATCH_DEPRECATED "DeprecatedSeccompAnnotation"

/* Pods named in one Event message, and pods a retention Event is posted on. */
#define PODWATCH_MAX_NAMED 3

struct podwatch_opts {
	const char *node_name;	       /* required: the field selector and the messages */
	const char *kubelet_dir;       /* for the expected file in messages */
	const char *const *namespaces; /* the ConfigMap watch's namespaces; NULL: all */
	size_t n_namespaces;
	const struct sync_table
		*table;	       /* borrowed: what is desired, whether valid, what is on disk */
	struct report *report; /* borrowed: Events and metrics */
	/* Called after each batch of pod callbacks (the daemon's "something changed"). */
	void (*changed)(void *ctx);
	void *changed_ctx;
};

struct podwatch;

/** podwatch_new() - the Pod watch state; @opts is copied, its pointers borrowed. */
int podwatch_new(const struct podwatch_opts *opts, struct podwatch **out, struct diag *d);

/** podwatch_free() - NULL is a no-op */
void podwatch_free(struct podwatch *pw);

/**
 * podwatch_spec() - the watch to add: pods, fieldSelector spec.nodeName=<node>
 * @list_only: run --once
 *
 * The spec borrows a string of @pw.
 */
struct k8s_watch_spec podwatch_spec(const struct podwatch *pw, bool list_only);

/* The callbacks to add the watch with (ctx: the podwatch). */
extern const struct k8s_watch_ops podwatch_ops;

/**
 * podwatch_take_released() - whether a retained file lost its last pod since
 * the last call: the daemon then walks the pending removals again
 */
bool podwatch_take_released(struct podwatch *pw);

/**
 * podwatch_keep() - whether the file of @cm/@key must stay because a pod on this node uses it
 * @cm_exists: the ConfigMap still exists (the Event goes on it, else on the pods)
 *
 * Called before every removal.  The first time a file is kept, retention
 * starts: log line, gauge, Event.  NULL @pw keeps nothing.
 */
bool podwatch_keep(struct podwatch *pw, const struct report_cm *cm, bool cm_exists,
		   const char *key);

/**
 * podwatch_in_use() - whether a pod on this node uses the file of @ns/@cm/@key
 *
 * Asked, without starting a retention, before an invalid update of a new
 * ConfigMap of the same name would drop the file: the file then stays as that
 * ConfigMap's last good version.  NULL @pw: false.
 */
bool podwatch_in_use(const struct podwatch *pw, const char *ns, const char *cm, const char *key);

/**
 * podwatch_removed() - the file of @ns/@cm/@key is gone: any retention of it ends
 * (log line, gauge); the caller reports the removal itself
 */
void podwatch_removed(struct podwatch *pw, const char *ns, const char *cm, const char *key);

/**
 * podwatch_wanted() - @ns/@cm/@key is desired again (written, or kept as the
 * ConfigMap's last good version): any retention of it ends
 */
void podwatch_wanted(struct podwatch *pw, const char *ns, const char *cm, const char *key);

/** podwatch_touch() - ConfigMaps changed: the reference checks run again */
void podwatch_touch(struct podwatch *pw);

/**
 * podwatch_tick() - run the reference checks when something changed
 * @now: monotonic seconds
 * @synced: every watch has listed (before that, a pod may simply be listed
 *          before its ConfigMap)
 *
 * A check waits until nothing has changed for a second (at most ten), so a
 * ConfigMap and a pod applied together are not reported as missing.
 */
void podwatch_tick(struct podwatch *pw, double now, bool synced);

/** podwatch_retained() - how many files are retained */
size_t podwatch_retained(const struct podwatch *pw);

/** podwatch_pods() - the pod set (for tests and the start-up summary) */
const struct pods *podwatch_pods(const struct podwatch *pw);

/**
 * podwatch_not_found_message() - the Warning for paths that are not on this node
 * @paths: the missing paths (operator/...), @n of them
 * @suggestion: the closest existing path to the first one, or NULL
 */
const char *podwatch_not_found_message(const char *kubelet_dir, const char *node,
				       const char *const *paths, size_t n, const char *suggestion,
				       char *out, size_t size);

/**
 * podwatch_invalid_message() - the Warning for a pod whose profile's latest version is invalid
 * @kept: this node keeps an older good version (stale); false: there is no file
 */
const char *podwatch_invalid_message(const char *path, bool kept, size_t n_more, char *out,
				     size_t size);

/** podwatch_deprecated_message() - the Warning for a pod with only the legacy annotations */
const char *podwatch_deprecated_message(const char *path, char *out, size_t size);

/**
 * podwatch_retained_message() - the Normal text when retention starts
 * @users: pods ("ns/name") that use the file, @n_users in all (only the first
 *         PODWATCH_MAX_NAMED are named)
 * @on_pod: the Event goes on one of the pods (the ConfigMap is gone)
 */
const char *podwatch_retained_message(const char *path, const char *node, bool on_pod,
				      const char *const *users, size_t n_users, char *out,
				      size_t size);

#endif
