/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz daemon/pods.c.  Input: newline-separated paths; the first is also the
 * "wrong" path of a suggestion.  Every path becomes a reference of one pod
 * (with the source taken from its position), which is applied, checked and
 * deleted.  Properties: a cleaned reference is in use while the pod is there
 * and not after; the distance is symmetric and zero to itself; a suggestion
 * is one of the candidates; retention outlives the pod.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/pods.h"

#define MAX_LINES 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum pods_lookup lookup_missing(void *ctx, const char *path)
{
	(void)ctx;
	(void)path;
	return PODS_PATH_MISSING;
}

static int report_all(void *ctx, const struct pods_finding *f)
{
	(void)ctx;
	if (f->reason != PODS_REASON_LEGACY && !f->n_paths)
		__builtin_trap();
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char clean[PODS_PATH_MAX];
	struct pods_opts opts = { .node_name = "n" };
	struct k8s_profile_ref refs[MAX_LINES];
	struct k8s_object o = { .kind = K8S_KIND_POD,
				.ns = "ns",
				.name = "p",
				.uid = "u",
				.resource_version = "",
				.node_name = "n",
				.phase = "Running" };
	struct pods_suggest s;
	struct pods *p = NULL;
	char *buf, *lines[MAX_LINES];
	const char *best;
	size_t n = 0, i;
	bool retained = false;

	if (size > 8192)
		return 0;
	buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	lines[n++] = buf;
	for (i = 0; i < size && n < MAX_LINES; i++)
		if (buf[i] == '\n') {
			buf[i] = '\0';
			lines[n++] = buf + i + 1;
		}

	if (pods_path_distance(lines[0], lines[0]) != 0)
		__builtin_trap();
	pods_suggest_init(&s, lines[0]);
	for (i = 1; i < n; i++) {
		if (pods_path_distance(lines[0], lines[i]) !=
		    pods_path_distance(lines[i], lines[0]))
			__builtin_trap();
		pods_suggest_offer(&s, lines[i]);
	}
	best = pods_suggest_best(&s);
	if (best) {
		for (i = 1; i < n && strcmp(best, lines[i]) != 0; i++)
			;
		if (i == n)
			__builtin_trap();
	}

	if (pods_new(&opts, &p) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		refs[i].source = (enum k8s_ref_source)(i % 6);
		refs[i].container = i % 6 == 0 || i % 6 == 4 ? NULL : "c";
		refs[i].path = lines[i];
	}
	o.refs = refs;
	o.n_refs = n;
	if (pods_apply(p, K8S_EV_ADDED, &o, pods_next_gen(p), NULL) >= 0) {
		for (i = 0; i < n; i++)
			if (pods_clean_path(lines[i], clean, sizeof(clean)) == 1 &&
			    !pods_in_use(p, clean))
				__builtin_trap();
		retained = pods_retain(p, lines[0]) == 1;
		(void)pods_check(p, lookup_missing, report_all, NULL);
	}
	(void)pods_apply(p, K8S_EV_DELETED, &o, 0, NULL);
	if (pods_count(p) != 0)
		__builtin_trap();
	for (i = 0; i < n; i++)
		if (pods_in_use(p, lines[i]))
			__builtin_trap();
	if (retained && (!pods_is_retained(p, lines[0]) || pods_unretain(p, lines[0]) != 1))
		__builtin_trap();
	if (pods_retained(p) != 0)
		__builtin_trap();
	pods_free(p);
out:
	free(buf);
	return 0;
}
