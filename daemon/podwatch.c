/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Pod watch glue (see podwatch.h): k8s watch callbacks into daemon/pods.c,
 * retention decisions for the sync code, and the reference checks turned into
 * Events on pods.  Event names are deterministic (the loop hashes uid,
 * resourceVersion, dedup and reason; for pods the resourceVersion is left out,
 * since a pod's changes with every status update), so a restarted daemon or
 * another replica posting the same finding gets 409 and nothing new appears.
 */
#include "daemon/podwatch.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/log.h"

#define SETTLE_S     1.0  /* quiet time before a check */
#define SETTLE_MAX_S 10.0 /* a check waits no longer than this under constant change */

struct podwatch {
	struct pods *pods;
	char *node;
	char *selector; /* spec.nodeName=<node> */
	const char *kubelet_dir;
	const char *const *namespaces;
	size_t n_namespaces;
	const struct sync_table *table;
	struct report *report;
	void (*changed)(void *ctx);
	void *changed_ctx;

	unsigned gen;
	bool released;
	bool dirty;
	double first_change, last_change; /* monotonic seconds; 0: not yet known */
};

static double mono_now(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- messages ---- */

const char *podwatch_not_found_message(const char *kubelet_dir, const char *node,
				       const char *const *paths, size_t n, const char *suggestion,
				       char *out, size_t size)
{
	size_t at = 0, i;

	out[0] = '\0';
	if (!n)
		return out;
	report_appendf(out, size, &at,
		       "seccomp profile %s is not on node %s (expected file %s/seccomp/%s)",
		       paths[0], node, kubelet_dir, paths[0]);
	if (suggestion)
		report_appendf(out, size, &at, ": did you mean %s?", suggestion);
	if (n > 1) {
		report_appendf(out, size, &at, "%s also missing:", suggestion ? "" : ";");
		for (i = 1; i < n; i++)
			report_appendf(out, size, &at, "%s %s", i > 1 ? "," : "", paths[i]);
		report_appendf(out, size, &at, ".");
	}
	report_appendf(
		out, size, &at,
		" Containers using a missing profile fail with CreateContainerError; no annotated "
		"ConfigMap provides it (operator/<namespace>/<configmap>/<key>)");
	return out;
}

const char *podwatch_invalid_message(const char *path, bool kept, size_t n_more, char *out,
				     size_t size)
{
	const char *p = path + strlen(PODS_PREFIX);
	const char *slash = strchr(p, '/');
	const char *slash2 = slash ? strchr(slash + 1, '/') : NULL;
	size_t at = 0;

	out[0] = '\0';
	report_appendf(out, size, &at, "seccomp profile %s: the latest version in ", path);
	if (slash && slash2)
		report_appendf(out, size, &at, "configmap %.*s key '%s'", (int)(slash2 - p), p,
			       slash2 + 1);
	else
		report_appendf(out, size, &at, "its configmap");
	report_appendf(out, size, &at,
		       " is invalid (see the configmap's InvalidSeccompProfile event)");
	if (kept)
		report_appendf(out, size, &at,
			       "; this node keeps the last good version, nodes that never "
			       "saw it have no file");
	else
		report_appendf(out, size, &at,
			       "; there is no file: containers using it fail with "
			       "CreateContainerError");
	if (n_more)
		report_appendf(out, size, &at, " (and %zu more invalid profile%s)", n_more,
			       n_more > 1 ? "s" : "");
	return out;
}

const char *podwatch_deprecated_message(const char *path, char *out, size_t size)
{
	size_t at = 0;

	out[0] = '\0';
	report_appendf(
		out, size, &at,
		"this pod selects seccomp profile %s only with the annotations "
		"seccomp.security.alpha.kubernetes.io/pod or "
		"container.seccomp.security.alpha.kubernetes.io/<container>; kubelets from 1.27 on "
		"ignore them and run the containers without it: set securityContext.seccompProfile "
		"{type: Localhost, localhostProfile: %s} instead",
		path, path);
	return out;
}

const char *podwatch_retained_message(const char *path, const char *node, bool on_pod,
				      const char *const *users, size_t n_users, char *out,
				      size_t size)
{
	size_t at = 0, i;

	out[0] = '\0';
	if (on_pod) {
		report_appendf(out, size, &at,
			       "seccomp profile %s stays on node %s although its configmap is "
			       "gone, because "
			       "this pod uses it",
			       path, node);
		if (n_users > 1)
			report_appendf(out, size, &at, " (with %zu other pod%s)", n_users - 1,
				       n_users > 2 ? "s" : "");
	} else {
		report_appendf(out, size, &at,
			       "seccomp profile %s is no longer in this configmap but stays on "
			       "node %s while pods use it:",
			       path, node);
		for (i = 0; i < n_users && i < PODWATCH_MAX_NAMED; i++)
			report_appendf(out, size, &at, "%s %s", i ? "," : "", users[i]);
		if (n_users > PODWATCH_MAX_NAMED)
			report_appendf(out, size, &at, " and %zu more",
				       n_users - PODWATCH_MAX_NAMED);
	}
	report_appendf(out, size, &at, "; it is removed when the last of them is gone");
	return out;
}

/* ---- set-up ---- */

int podwatch_new(const struct podwatch_opts *opts, struct podwatch **out, struct diag *d)
{
	struct pods_opts po = { .node_name = opts->node_name };
	struct podwatch *pw = NULL;
	size_t len;
	int r;

	if (!opts->node_name || !opts->node_name[0])
		return diag_set(d, -EINVAL, "the pod watch needs a node name");
	pw = calloc(1, sizeof(*pw));
	if (!pw)
		return diag_set(d, -ENOMEM, "out of memory");
	r = pods_new(&po, &pw->pods);
	if (r < 0) {
		r = diag_set(d, r, "cannot track the pods of node '%.253s'", opts->node_name);
		goto out;
	}
	len = strlen(opts->node_name) + sizeof("spec.nodeName=");
	pw->node = strdup(opts->node_name);
	pw->selector = malloc(len);
	if (!pw->node || !pw->selector) {
		r = diag_set(d, -ENOMEM, "out of memory");
		goto out;
	}
	(void)snprintf(pw->selector, len, "spec.nodeName=%s", opts->node_name);
	pw->kubelet_dir = opts->kubelet_dir ? opts->kubelet_dir : "/var/lib/kubelet";
	pw->namespaces = opts->namespaces;
	pw->n_namespaces = opts->namespaces ? opts->n_namespaces : 0;
	pw->table = opts->table;
	pw->report = opts->report;
	pw->changed = opts->changed;
	pw->changed_ctx = opts->changed_ctx;
	*out = pw;
	pw = NULL;
	r = 0;
out:
	podwatch_free(pw);
	return r;
}

void podwatch_free(struct podwatch *pw)
{
	if (!pw)
		return;
	pods_free(pw->pods);
	free(pw->node);
	free(pw->selector);
	free(pw);
}

struct k8s_watch_spec podwatch_spec(const struct podwatch *pw, bool list_only)
{
	struct k8s_watch_spec spec = {
		.resource = "pods",
		.kind = K8S_KIND_POD,
		.field_selector = pw->selector,
		.list_only = list_only,
	};

	return spec;
}

const struct pods *podwatch_pods(const struct podwatch *pw)
{
	return pw->pods;
}

size_t podwatch_retained(const struct podwatch *pw)
{
	return pw ? pods_retained(pw->pods) : 0;
}

static void publish(struct podwatch *pw)
{
	if (pw->report && pw->report->metrics)
		metrics_set_profiles(pw->report->metrics, METRICS_RETAINED,
				     pods_retained(pw->pods));
}

static void touched(struct podwatch *pw)
{
	double now = mono_now();

	if (!pw->dirty)
		pw->first_change = now;
	pw->dirty = true;
	pw->last_change = now;
}

void podwatch_touch(struct podwatch *pw)
{
	if (pw)
		touched(pw);
}

bool podwatch_take_released(struct podwatch *pw)
{
	bool r;

	if (!pw)
		return false;
	r = pw->released;
	pw->released = false;
	return r;
}

/* ---- the watch ---- */

static void apply(struct podwatch *pw, enum k8s_event_type type, const struct k8s_object *o)
{
	struct diag d;
	int r;

	diag_clear(&d);
	r = pods_apply(pw->pods, type, o, pw->gen, &d);
	if (r < 0)
		log_kv(LOG_LVL_WARN, "cannot track pod", "namespace", o->ns, "pod", o->name,
		       "error", d.msg, LOG_END);
	else if (r == PODS_RELEASED)
		pw->released = true;
	touched(pw);
}

static void cb_relist_begin(void *ctx)
{
	struct podwatch *pw = ctx;

	pw->gen = pods_next_gen(pw->pods);
}

static void cb_relist_object(void *ctx, const struct k8s_object *o)
{
	apply(ctx, K8S_EV_ADDED, o);
}

static void cb_relist_end(void *ctx)
{
	struct podwatch *pw = ctx;
	char n[24], m[24];

	(void)snprintf(n, sizeof(n), "%zu", pods_vanish(pw->pods, pw->gen, &pw->released));
	(void)snprintf(m, sizeof(m), "%zu", pods_count(pw->pods));
	log_kv(LOG_LVL_DEBUG, "pod relist done", "node", pw->node, "pods_with_profiles", m,
	       "vanished", n, LOG_END);
	touched(pw);
	if (pw->changed)
		pw->changed(pw->changed_ctx);
}

static void cb_event(void *ctx, enum k8s_event_type type, const struct k8s_object *o)
{
	struct podwatch *pw = ctx;

	if (type != K8S_EV_ADDED && type != K8S_EV_MODIFIED && type != K8S_EV_DELETED)
		return;
	apply(pw, type, o);
	if (pw->changed)
		pw->changed(pw->changed_ctx);
}

static void cb_trouble(void *ctx, int err, bool fatal, const struct diag *d)
{
	struct podwatch *pw = ctx;

	log_kv(fatal ? LOG_LVL_ERROR : LOG_LVL_WARN,
	       fatal ? "api unreachable, giving up" : "api trouble, retrying", "resource", "pods",
	       "node", pw->node, "error", d ? d->msg : NULL, "errno",
	       strerror(err < 0 ? -err : err), LOG_END);
}

const struct k8s_watch_ops podwatch_ops = {
	.relist_begin = cb_relist_begin,
	.relist_object = cb_relist_object,
	.relist_end = cb_relist_end,
	.event = cb_event,
	.trouble = cb_trouble,
};

/* ---- retention ---- */

static int profile_path(char *out, size_t size, const char *ns, const char *cm, const char *key)
{
	int n = snprintf(out, size, "%s%s/%s/%s", PODS_PREFIX, ns, cm, key);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

struct users {
	const char *names[PODWATCH_MAX_NAMED];
	char buf[PODWATCH_MAX_NAMED][PODS_NS_MAX + PODS_NAME_MAX + 2];
	const struct pods_pod *pods[PODWATCH_MAX_NAMED];
	size_t n;
};

static int collect_user(void *ctx, const struct pods_pod *pod)
{
	struct users *u = ctx;

	if (u->n < PODWATCH_MAX_NAMED) {
		(void)snprintf(u->buf[u->n], sizeof(u->buf[u->n]), "%s/%s", pod->ns, pod->name);
		u->names[u->n] = u->buf[u->n];
		u->pods[u->n] = pod;
	}
	u->n++;
	return 0;
}

/* Post an Event; 1 when queued (or there is no loop), 0 when the queue is full. */
static int post(struct podwatch *pw, const char *kind, const char *ns, const char *name,
		const char *uid, const char *rv, const char *type, const char *reason,
		const char *dedup, const char *message)
{
	struct k8s_event_post ev = {
		.ns = ns,
		.kind = kind,
		.name = name,
		.uid = uid,
		.resource_version = rv ? rv : "",
		.type = type,
		.reason = reason,
		.message = message,
		.dedup = dedup,
	};
	struct diag d;
	int e;

	if (!pw->report || !pw->report->loop || !uid || !uid[0])
		return 1;
	e = k8s_loop_post_event(pw->report->loop, &ev, &d);
	if (e == -ENOBUFS)
		return 0;
	if (e < 0)
		log_kv(LOG_LVL_WARN, "cannot queue event", "reason", reason, "error", d.msg,
		       LOG_END);
	return 1;
}

bool podwatch_keep(struct podwatch *pw, const struct report_cm *cm, bool cm_exists, const char *key)
{
	char path[PODS_PATH_MAX], msg[REPORT_MSG_MAX], n[24];
	struct users u;
	size_t i;
	int r;

	if (!pw || profile_path(path, sizeof(path), cm->ns, cm->name, key) < 0 ||
	    !pods_in_use(pw->pods, path))
		return false;
	r = pods_retain(pw->pods, path);
	if (r <= 0) {
		if (r < 0)
			log_kv(LOG_LVL_ERROR, "cannot record a retained profile", "path", path,
			       "error", strerror(-r), LOG_END);
		return true;
	}
	publish(pw);
	memset(&u, 0, sizeof(u));
	(void)pods_users(pw->pods, path, collect_user, &u);
	(void)snprintf(n, sizeof(n), "%zu", u.n);
	log_kv(LOG_LVL_INFO, "profile retained: pods on this node use it", "namespace", cm->ns,
	       "configmap", cm->name, "key", key, "path", path, "pods", n, "pod",
	       u.n ? u.names[0] : NULL, "configmap_exists", cm_exists ? "true" : "false", LOG_END);
	if (cm_exists && cm->uid) {
		podwatch_retained_message(path, pw->node, false, u.names, u.n, msg, sizeof(msg));
		(void)post(pw, "ConfigMap", cm->ns, cm->name, cm->uid, cm->rv, "Normal",
			   PODWATCH_RETAINED, key, msg);
		return true;
	}
	podwatch_retained_message(path, pw->node, true, u.names, u.n, msg, sizeof(msg));
	for (i = 0; i < u.n && i < PODWATCH_MAX_NAMED; i++)
		(void)post(pw, "Pod", u.pods[i]->ns, u.pods[i]->name, u.pods[i]->uid, NULL,
			   "Normal", PODWATCH_RETAINED, path, msg);
	return true;
}

bool podwatch_in_use(const struct podwatch *pw, const char *ns, const char *cm, const char *key)
{
	char path[PODS_PATH_MAX];

	return pw && profile_path(path, sizeof(path), ns, cm, key) == 0 &&
	       pods_in_use(pw->pods, path);
}

static void unretain(struct podwatch *pw, const char *ns, const char *cm, const char *key,
		     const char *why)
{
	char path[PODS_PATH_MAX];

	if (!pw || profile_path(path, sizeof(path), ns, cm, key) < 0)
		return;
	if (pods_unretain(pw->pods, path) != 1)
		return;
	publish(pw);
	log_kv(LOG_LVL_INFO, "profile no longer retained", "namespace", ns, "configmap", cm, "key",
	       key, "path", path, "reason", why, LOG_END);
}

void podwatch_removed(struct podwatch *pw, const char *ns, const char *cm, const char *key)
{
	unretain(pw, ns, cm, key, "no pod on this node uses it any more: removed");
}

void podwatch_wanted(struct podwatch *pw, const char *ns, const char *cm, const char *key)
{
	unretain(pw, ns, cm, key, "its configmap provides it again");
}

/* ---- reference checks ---- */

static bool watched(const struct podwatch *pw, const char *ns, size_t len)
{
	size_t i;

	if (!pw->n_namespaces)
		return true;
	for (i = 0; i < pw->n_namespaces; i++)
		if (strlen(pw->namespaces[i]) == len && !memcmp(pw->namespaces[i], ns, len))
			return true;
	return false;
}

/*
 * The record and key of a cleaned operator/<ns>/<cm>/<key> path into @rec and
 * @k; Return: false when the table has no such key.
 */
static bool key_of(const struct podwatch *pw, const char *path, const struct sync_cm **rec,
		   struct sync_key *k)
{
	char ns[PODS_NS_MAX + 1], cm[PODS_NAME_MAX + 1];
	const char *p = path + strlen(PODS_PREFIX), *s1, *s2;
	const struct sync_cm *c;

	*rec = NULL;
	s1 = strchr(p, '/');
	s2 = s1 ? strchr(s1 + 1, '/') : NULL;
	if (!s1 || !s2 || strchr(s2 + 1, '/') || (size_t)(s1 - p) > PODS_NS_MAX ||
	    (size_t)(s2 - s1 - 1) > PODS_NAME_MAX)
		return false;
	memcpy(ns, p, (size_t)(s1 - p));
	ns[s1 - p] = '\0';
	memcpy(cm, s1 + 1, (size_t)(s2 - s1 - 1));
	cm[s2 - s1 - 1] = '\0';
	c = pw->table ? sync_table_find(pw->table, ns, cm) : NULL;
	if (!c)
		return false;
	*rec = c;
	return sync_cm_key(c, s2 + 1, k);
}

static enum pods_lookup lookup(void *ctx, const char *path)
{
	const struct podwatch *pw = ctx;
	const char *p = path + strlen(PODS_PREFIX);
	const struct sync_cm *c;
	struct sync_key k;

	if (!watched(pw, p, strcspn(p, "/")))
		return PODS_PATH_UNKNOWN;
	if (!key_of(pw, path, &c, &k))
		return PODS_PATH_MISSING;
	if (!sync_cm_selected(c) || !k.desired)
		return k.has_file ? PODS_PATH_OK : PODS_PATH_MISSING;
	if (k.refused)
		return PODS_PATH_INVALID;
	if (k.failed)
		return PODS_PATH_UNKNOWN; /* a check or write that failed is retried */
	switch (k.state) {
	case SYNC_VALID:
		return PODS_PATH_OK;
	case SYNC_INVALID:
	case SYNC_STALE:
		return PODS_PATH_INVALID;
	case SYNC_N_STATES:
		break;
	}
	return PODS_PATH_UNKNOWN;
}

static void offer(void *ctx, const char *ns, const char *cm, const char *key)
{
	char cand[PODS_PATH_MAX];

	if (profile_path(cand, sizeof(cand), ns, cm, key) == 0)
		pods_suggest_offer(ctx, cand);
}

/*
 * The closest profile on disk to @wrong, into @s.  The sync table knows every
 * file of the watched namespaces: asking it costs no I/O and no listing.
 */
static const char *suggest(struct podwatch *pw, const char *wrong, struct pods_suggest *s)
{
	pods_suggest_init(s, wrong);
	if (pw->table)
		sync_table_files(pw->table, offer, s);
	return pods_suggest_best(s);
}

static int report_finding(void *ctx, const struct pods_finding *f)
{
	struct podwatch *pw = ctx;
	const struct pods_pod *pod = f->pod;
	char msg[REPORT_MSG_MAX];
	const char *reason, *path;
	struct pods_suggest s;
	const struct sync_cm *c;
	struct sync_key k;
	int r;

	switch (f->reason) {
	case PODS_REASON_MISSING:
		podwatch_not_found_message(pw->kubelet_dir, pw->node, f->paths, f->n_paths,
					   suggest(pw, f->paths[0], &s), msg, sizeof(msg));
		reason = PODWATCH_NOT_FOUND;
		path = f->paths[0];
		break;
	case PODS_REASON_INVALID:
		podwatch_invalid_message(f->paths[0], key_of(pw, f->paths[0], &c, &k) && k.has_file,
					 f->n_paths - 1, msg, sizeof(msg));
		reason = REPORT_INVALID;
		path = f->paths[0];
		break;
	case PODS_REASON_LEGACY:
	default:
		path = pod->n_paths ? pod->paths[0] : "";
		podwatch_deprecated_message(path, msg, sizeof(msg));
		reason = PODWATCH_DEPRECATED;
		break;
	}
	r = post(pw, "Pod", pod->ns, pod->name, pod->uid, NULL, "Warning", reason, "", msg);
	if (r == 0) {
		touched(pw); /* the queue is full: offered again by a later check */
		return 0;
	}
	log_kv(LOG_LVL_WARN, "pod references a problem profile", "namespace", pod->ns, "pod",
	       pod->name, "reason", reason, "path", path, "detail", msg, LOG_END);
	return 1;
}

void podwatch_tick(struct podwatch *pw, double now, bool synced)
{
	int r;

	if (!pw || !synced || !pw->dirty)
		return;
	if (now - pw->last_change < SETTLE_S && now - pw->first_change < SETTLE_MAX_S)
		return;
	pw->dirty = false;
	r = pods_check(pw->pods, lookup, report_finding, pw);
	if (r < 0)
		log_kv(LOG_LVL_ERROR, "cannot check the pods' profiles", "error", strerror(-r),
		       LOG_END);
}
