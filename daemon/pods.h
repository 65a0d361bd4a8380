/* SPDX-License-Identifier: Apache-2.0 */
#ifndef SECCOMP_SYNCD_DAEMON_PODS_H
#define SECCOMP_SYNCD_DAEMON_PODS_H

/*
 * The pods on this node that use the daemon's profiles, pure: no files, no
 * network, no clock.  Container runtimes read a Localhost profile every time
 * they create a container, including every restart of a running pod, so a
 * file that a running pod references must outlive its ConfigMap.  This module
 * keeps, per pod that references at least one profile under operator/, only
 * its namespace, name, uid and the cleaned paths it references, and answers:
 *
 *   - pods_in_use(): is operator/<ns>/<cm>/<key> referenced by a pod that is
 *     not over (its removal must wait: "retention");
 *   - pods_users(): which pods reference a path (to post Events on them);
 *   - pods_check(): which pods reference paths that do not exist, or whose
 *     latest version is invalid, or use only the legacy annotations, each
 *     reported once per pod and reason;
 *   - pods_suggest_*(): the closest existing path to a wrong one ("did you
 *     mean ..."), by edit distance over path components;
 *   - pods_vanish(): the diff after a relist of the pod watch.
 *
 * A pod counts from the first time it is seen until its DELETED event, the
 * relist that no longer contains it, or its phase Succeeded or Failed.  A pod
 * with metadata.deletionTimestamp still counts: its containers run (and may
 * restart) until the kubelet has stopped them and the object is gone.
 *
 * Retention itself is bookkeeping here too (pods_retain() and friends), so
 * that the daemon learns from pods_apply() when a retained path has lost its
 * last user and the file may go.
 */

#include <stdbool.h>
#include <stddef.h>

#include "common/diag.h"
#include "k8s/object.h"

/* Limits on what is tracked: everything comes from the API. */
#define PODS_DEFAULT_MAX_PODS 8192 /* pods referencing operator/ profiles on one node */
#define PODS_MAX_PATHS	      64   /* distinct operator/ paths referenced by one pod */
#define PODS_PATH_MAX	      1024 /* bytes of a cleaned path, with its NUL */
#define PODS_NS_MAX	      63
#define PODS_NAME_MAX	      253
#define PODS_UID_MAX	      128

/* The directory under <kubelet-dir>/seccomp that the daemon writes. */
#define PODS_PREFIX "operator/"

/* Positive result of pods_apply(): a retained path lost its last user. */
#define PODS_RELEASED 1

struct pods_opts {
	const char *node_name; /* pods on other nodes are ignored; NULL or "": every pod counts */
	size_t max_pods;       /* 0: PODS_DEFAULT_MAX_PODS */
};

/* A tracked pod, read-only for callers; borrowed until the next change of the set. */
struct pods_pod {
	const char *ns;
	const char *name;
	const char *uid;
	bool deleting; /* metadata.deletionTimestamp is set: still counts, is not checked */
	/*
	 * Every reference under operator/ comes from the legacy annotations, which
	 * kubelets from 1.27 on ignore (the pod then runs without that profile).
	 */
	bool legacy_only;
	const char *const *paths; /* cleaned operator/... paths, distinct, sorted */
	size_t n_paths;
};

struct pods;

/** pods_new() - an empty set; @opts is copied.  Return: 0, -ENOMEM or -E2BIG (node name) */
int pods_new(const struct pods_opts *opts, struct pods **out);

/** pods_free() - free the set; NULL is a no-op */
void pods_free(struct pods *p);

/** pods_count() - the number of pods tracked (pods that reference operator/ paths) */
size_t pods_count(const struct pods *p);

/**
 * pods_clean_path() - @raw as the kubelet resolves it, if it is under operator/
 * @raw: a localhostProfile, relative to <kubelet-dir>/seccomp
 * @out: receives the cleaned path ("operator/ns/cm/key"); written only when 1 is returned
 *
 * The kubelet joins the seccomp directory with the profile path the way Go's
 * filepath.Join does, which drops empty and "." components and resolves
 * "..", so "operator//ns/./cm/key" is the same file as "operator/ns/cm/key".
 * Return: 1 when the cleaned path is below operator/, 0 when it is not (or
 * climbs out of the seccomp directory), -ENAMETOOLONG when it does not fit
 * @size (no file of the daemon's is that long).
 */
int pods_clean_path(const char *raw, char *out, size_t size);

/**
 * pods_next_gen() - a relist of the pod watch begins: a new generation
 *
 * Every object of the relist is applied with it, then pods_vanish() drops the
 * pods the relist did not contain.
 */
unsigned pods_next_gen(struct pods *p);

/**
 * pods_apply() - take in one pod from a list or a watch event
 * @type: K8S_EV_ADDED (also list items), K8S_EV_MODIFIED or K8S_EV_DELETED
 * @gen: the relist generation (for a watch event: the current one)
 *
 * A pod that is deleted, finished (Succeeded, Failed), on another node or
 * that references nothing under operator/ is not tracked (any record of it is
 * dropped).  A new uid under the same name is a new pod.  On an error the
 * previous record of the pod, if any, stays as it was: a pod that cannot be
 * recorded must not make a file in use look unused.
 * Return: 0, PODS_RELEASED when a retained path lost its last user, -EINVAL
 * for an object that is not a pod or an event type without a pod, -E2BIG for
 * over-long names or more than PODS_MAX_PATHS paths, -ENOSPC when max_pods
 * pods are tracked, -ENOMEM.
 */
int pods_apply(struct pods *p, enum k8s_event_type type, const struct k8s_object *o, unsigned gen,
	       struct diag *d);

/**
 * pods_vanish() - the diff after a relist: drop the pods it did not contain
 * @gen: the generation the relist applied its objects with
 * @released: set to true when a retained path lost its last user (else unchanged)
 *
 * Return: the number of pods dropped.
 */
size_t pods_vanish(struct pods *p, unsigned gen, bool *released);

/**
 * pods_in_use() - whether a tracked pod references @path
 * @path: a path relative to the seccomp directory, cleaned or not
 */
bool pods_in_use(const struct pods *p, const char *path);

/** pods_profile_in_use() - pods_in_use() of operator/@ns/@cm/@key */
bool pods_profile_in_use(const struct pods *p, const char *ns, const char *cm, const char *key);

/* Return 0 to go on, anything else to stop the walk. */
typedef int (*pods_pod_fn)(void *ctx, const struct pods_pod *pod);

/**
 * pods_users() - call @fn for every tracked pod that references @path
 *
 * In namespace and name order, so that what the daemon reports does not
 * depend on hash order.  Return: the number of pods @fn was called for.
 */
size_t pods_users(const struct pods *p, const char *path, pods_pod_fn fn, void *ctx);

/**
 * pods_retain() - @path stays on disk because pods use it
 *
 * Return: 1 when the retention starts now (log it, post the Event), 0 when it
 * was already retained, -EINVAL for a path not below operator/,
 * -ENAMETOOLONG or -ENOMEM.
 */
int pods_retain(struct pods *p, const char *path);

/**
 * pods_unretain() - @path is no longer retained (its file was removed, or it
 * is wanted again).  Return: 1 when it was retained, 0 otherwise.
 */
int pods_unretain(struct pods *p, const char *path);

/** pods_is_retained() - whether pods_retain() holds @path */
bool pods_is_retained(const struct pods *p, const char *path);

/** pods_retained() - how many paths are retained (the profiles{state="retained"} gauge) */
size_t pods_retained(const struct pods *p);

/* What the daemon knows about a referenced path, for pods_check(). */
enum pods_lookup {
	PODS_PATH_OK = 0,  /* on disk or about to be written */
	PODS_PATH_MISSING, /* neither: the runtime will fail to create the container */
	PODS_PATH_INVALID, /* its ConfigMap's latest version of it is invalid */
	PODS_PATH_UNKNOWN, /* not the daemon's to judge (e.g. a namespace it does not watch) */
};

/* Why a pod is reported; each at most once per pod. */
enum pods_reason {
	PODS_REASON_MISSING = 0,
	PODS_REASON_INVALID,
	PODS_REASON_LEGACY,
	PODS_N_REASONS,
};

struct pods_finding {
	const struct pods_pod *pod;
	enum pods_reason reason;
	const char *const *paths; /* the paths concerned; none for PODS_REASON_LEGACY */
	size_t n_paths;
};

typedef enum pods_lookup (*pods_lookup_fn)(void *ctx, const char *path);

/*
 * Return 1 when the finding was reported (it is not offered again for this
 * pod), 0 to be offered it again by the next check (e.g. the Event queue was
 * full), or a negative errno to stop the walk.
 */
typedef int (*pods_report_fn)(void *ctx, const struct pods_finding *f);

/**
 * pods_check() - offer every new finding about the tracked pods to @report
 * @lookup: what the daemon knows about a path
 *
 * Pods being deleted are skipped.  A pod's findings are offered in the order
 * of enum pods_reason, pods in namespace and name order.  The daemon calls
 * this once every watch has listed, so that a pod listed before its
 * ConfigMap is not reported.  Return: the number of findings reported, or
 * @report's negative errno.
 */
int pods_check(struct pods *p, pods_lookup_fn lookup, pods_report_fn report, void *ctx);

/**
 * pods_path_distance() - how far apart two paths are
 *
 * Levenshtein distance over the '/'-separated components, where replacing a
 * component costs the optimal-string-alignment distance between the two
 * (so a swapped pair of letters costs 1) and inserting or deleting one costs
 * its length plus its slash.  A typo in the ConfigMap's name costs the typo,
 * not the length of what follows it.
 */
unsigned pods_path_distance(const char *a, const char *b);

/* The closest candidate to a wrong path; caller-owned, nothing to free. */
struct pods_suggest {
	char wrong[PODS_PATH_MAX];
	unsigned limit; /* distances above this are not suggested */
	bool found;
	unsigned best_dist;
	char best[PODS_PATH_MAX];
};

/**
 * pods_suggest_init() - start looking for the path @wrong was meant to be
 *
 * A candidate is suggested when at most a third of the characters after
 * operator/ differ; ties go to the candidate that sorts first, so that the
 * message (and the Event) does not depend on the order of the offers.
 */
void pods_suggest_init(struct pods_suggest *s, const char *wrong);

/** pods_suggest_offer() - consider @candidate (an existing or about-to-be-written path) */
void pods_suggest_offer(struct pods_suggest *s, const char *candidate);

/** pods_suggest_best() - the best candidate so far, or NULL when none is close enough */
const char *pods_suggest_best(const struct pods_suggest *s);

/** pods_reason_name() - "missing", "invalid" or "legacy" (for logs) */
const char *pods_reason_name(enum pods_reason r);

#endif
