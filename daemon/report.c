/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sync outcomes as log lines, metrics and Kubernetes Events (see report.h).
 * Event names are made deterministic by the loop from (uid, resourceVersion,
 * dedup, reason); the dedup here is the data key, so every node posts the
 * same name for the same finding and the first one wins.
 */
#include "daemon/report.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "daemon/log.h"

void report_appendf(char *out, size_t size, size_t *at, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*at >= size - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(out + *at, size - *at, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	*at += (size_t)n;
	if (*at >= size - 1) {
		*at = size - 1;
		if (size > 4)
			memcpy(out + size - 4, "...", 4);
	}
}

static const char *view_name(enum profile_view v)
{
	switch (v) {
	case PROFILE_VIEW_CONTAINERD:
		return " (containerd nodes)";
	case PROFILE_VIEW_CRIO:
		return " (CRI-O nodes)";
	case PROFILE_VIEW_BOTH:
		break;
	}
	return "";
}

static void add_finding(char *out, size_t size, size_t *at, const struct profile_finding *f)
{
	report_appendf(out, size, at, "%s%s: %s", f->path && *f->path ? f->path : "(document)",
		       view_name(f->view), f->message ? f->message : "");
}

const char *report_invalid_message(const struct report_cm *cm, const char *key,
				   const struct profile_verdict *v, bool kept, char *out,
				   size_t size)
{
	size_t at = 0;

	out[0] = '\0';
	report_appendf(out, size, &at, "invalid seccomp profile in key '%s': ", key);
	if (v && v->n_errors) {
		add_finding(out, size, &at, &v->errors[0]);
		if (v->n_errors > 1)
			report_appendf(out, size, &at, " (and %zu more error%s)", v->n_errors - 1,
				       v->n_errors > 2 ? "s" : "");
	} else {
		report_appendf(out, size, &at, "refused");
	}
	if (kept)
		report_appendf(out, size, &at,
			       "; the last good version of operator/%s/%s/%s is kept on this node, "
			       "but nodes "
			       "that never saw it have no file and pods using it fail with "
			       "CreateContainerError",
			       cm->ns, cm->name, key);
	else
		report_appendf(out, size, &at,
			       "; no file is written: pods using operator/%s/%s/%s fail with "
			       "CreateContainerError",
			       cm->ns, cm->name, key);
	return out;
}

const char *report_saved_message(const struct report_cm *cm, const char *key,
				 const struct profile_verdict *v, char *out, size_t size)
{
	size_t at = 0, i;

	out[0] = '\0';
	report_appendf(out, size, &at, "saved seccomp profile operator/%s/%s/%s", cm->ns, cm->name,
		       key);
	if (v && v->n_arches)
		report_appendf(out, size, &at, " (validated for %s%s)", v->arches[0],
			       v->n_arches > 1 ? " and more" : "");
	if (v && v->n_warnings) {
		report_appendf(out, size, &at, "; %zu warning%s: ", v->n_warnings,
			       v->n_warnings > 1 ? "s" : "");
		for (i = 0; i < v->n_warnings && i < 3; i++) {
			if (i)
				report_appendf(out, size, &at, "; ");
			add_finding(out, size, &at, &v->warnings[i]);
		}
		if (v->n_warnings > 3)
			report_appendf(out, size, &at, "; and %zu more", v->n_warnings - 3);
	}
	return out;
}

static void post(struct report *r, const struct report_cm *cm, const char *type, const char *reason,
		 const char *dedup, const char *message)
{
	struct k8s_event_post ev = {
		.ns = cm->ns,
		.kind = "ConfigMap",
		.name = cm->name,
		.uid = cm->uid,
		.resource_version = cm->rv,
		.type = type,
		.reason = reason,
		.message = message,
		.dedup = dedup,
	};
	struct diag d;
	int e;

	if (!r->loop || !cm->uid)
		return;
	e = k8s_loop_post_event(r->loop, &ev, &d);
	if (e == -ENOBUFS) {
		/* Counted, and said once per burst rather than once per dropped Event. */
		if (r->events_dropped++ == 0)
			log_kv(LOG_LVL_WARN, "event queue full, events dropped", "reason", reason,
			       (char *)NULL);
	} else if (e < 0) {
		log_kv(LOG_LVL_WARN, "cannot queue event", "reason", reason, "error", d.msg,
		       (char *)NULL);
	} else {
		r->events_dropped = 0;
	}
}

void report_saved(struct report *r, const struct report_cm *cm, const char *key,
		  const struct profile_verdict *v, bool written)
{
	char msg[REPORT_MSG_MAX], nw[24];

	snprintf(nw, sizeof(nw), "%zu", v ? v->n_warnings : 0);
	if (!written) {
		log_kv(LOG_LVL_DEBUG, "profile unchanged", "namespace", cm->ns, "configmap",
		       cm->name, "key", key, (char *)NULL);
		return;
	}
	if (r->metrics)
		metrics_add_writes(r->metrics, 1);
	if (r->metrics && v && v->n_warnings)
		metrics_add_validation_warnings(r->metrics, v->n_warnings);
	report_saved_message(cm, key, v, msg, sizeof(msg));
	log_kv(v && v->n_warnings ? LOG_LVL_WARN : LOG_LVL_INFO, "profile saved", "namespace",
	       cm->ns, "configmap", cm->name, "key", key, "warnings", nw,
	       v && v->n_warnings ? "detail" : NULL, v && v->n_warnings ? msg : NULL, (char *)NULL);
	post(r, cm, "Normal", REPORT_SAVED, key, msg);
}

void report_invalid(struct report *r, const struct report_cm *cm, const char *key,
		    const struct profile_verdict *v, bool kept)
{
	char msg[REPORT_MSG_MAX], ne[24];

	snprintf(ne, sizeof(ne), "%zu", v ? v->n_errors : 0);
	if (r->metrics && v)
		metrics_add_validation_errors(r->metrics, v->n_errors ? v->n_errors : 1);
	if (r->metrics && v && v->n_warnings)
		metrics_add_validation_warnings(r->metrics, v->n_warnings);
	report_invalid_message(cm, key, v, kept, msg, sizeof(msg));
	log_kv(LOG_LVL_WARN, "profile invalid", "namespace", cm->ns, "configmap", cm->name, "key",
	       key, "errors", ne, "state", kept ? "stale" : "invalid", "detail", msg, (char *)NULL);
	post(r, cm, "Warning", REPORT_INVALID, key, msg);
}

void report_refused(struct report *r, const struct report_cm *cm, const char *key, const char *why)
{
	char msg[REPORT_MSG_MAX];
	size_t at = 0;

	msg[0] = '\0';
	if (key)
		report_appendf(msg, sizeof(msg), &at,
			       "refused key '%.253s': %s; nothing written for it", key, why);
	else
		report_appendf(msg, sizeof(msg), &at, "refused configmap: %s; nothing written",
			       why);
	log_kv(LOG_LVL_WARN, "name refused", "namespace", cm->ns, "configmap", cm->name, "key", key,
	       "detail", msg, (char *)NULL);
	if (r->metrics)
		metrics_add_validation_errors(r->metrics, 1);
	post(r, cm, "Warning", REPORT_INVALID, key ? key : "", msg);
}

void report_removed(struct report *r, const struct report_cm *cm, const char *key,
		    const char *reason)
{
	char msg[REPORT_MSG_MAX];
	size_t at = 0;

	if (r->metrics)
		metrics_add_removals(r->metrics, 1);
	msg[0] = '\0';
	report_appendf(msg, sizeof(msg), &at, "removed seccomp profile operator/%s/%s/%s: %s",
		       cm->ns, cm->name, key, reason);
	log_kv(LOG_LVL_INFO, "profile removed", "namespace", cm->ns, "configmap", cm->name, "key",
	       key, "reason", reason, (char *)NULL);
	post(r, cm, "Normal", REPORT_REMOVED, key, msg);
}

void report_failed(struct report *r, const struct report_cm *cm, const char *key, const char *what,
		   const struct diag *d)
{
	(void)r;
	log_kv(LOG_LVL_ERROR, what, "namespace", cm->ns, "configmap", cm->name, "key", key, "error",
	       d ? d->msg : NULL, (char *)NULL);
}

void report_profiles(struct report *r, const struct sync_table *t)
{
	if (!r->metrics)
		return;
	metrics_set_profiles(r->metrics, METRICS_VALID, sync_table_count(t, SYNC_VALID));
	metrics_set_profiles(r->metrics, METRICS_INVALID, sync_table_count(t, SYNC_INVALID));
	metrics_set_profiles(r->metrics, METRICS_STALE, sync_table_count(t, SYNC_STALE));
}
