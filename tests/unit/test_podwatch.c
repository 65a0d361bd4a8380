/* SPDX-License-Identifier: Apache-2.0 */
/*
 * daemon/podwatch: the Event wording (tables of inputs and the phrases each
 * message must and must not contain, bounded by the message size), and the
 * retention decisions driven through the watch callbacks, without a network:
 * the pods arrive through podwatch_ops as the loop would deliver them.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "daemon/log.h"
#include "daemon/metrics.h"
#include "daemon/podwatch.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void has_all(const char *msg, const char *const *want, bool present)
{
	size_t i;

	for (i = 0; i < 6 && want[i]; i++)
		if ((strstr(msg, want[i]) != NULL) != present)
			fail_msg("message '%s' %s '%s'", msg, present ? "lacks" : "has", want[i]);
}

static void test_not_found_message(void **state)
{
	static const struct {
		const char *paths[3];
		size_t n;
		const char *suggestion;
		const char *want[6];
		const char * not [3];
	} cases[] = {
		{ { "operator/shop/profile/audit.json" },
		  1,
		  "operator/shop/profiles/audit.json",
		  { "seccomp profile operator/shop/profile/audit.json is not on node node-1",
		    "/var/lib/kubelet/seccomp/operator/shop/profile/audit.json",
		    "did you mean operator/shop/profiles/audit.json?", "CreateContainerError" },
		  { "also missing" } },
		{ { "operator/x/y/z" },
		  1,
		  NULL,
		  { "operator/x/y/z is not on node node-1", "CreateContainerError" },
		  { "did you mean" } },
		{ { "operator/a/b/c", "operator/d/e/f", "operator/g/h/i" },
		  3,
		  NULL,
		  { "operator/a/b/c is not on node",
		    "; also missing: operator/d/e/f, operator/g/h/i." },
		  { "did you mean" } },
		{ { "operator/a/b/c", "operator/d/e/f" },
		  2,
		  "operator/a/b/d",
		  { "did you mean operator/a/b/d? also missing: operator/d/e/f." },
		  { NULL } },
	};
	char out[REPORT_MSG_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < N(cases); i++) {
		podwatch_not_found_message("/var/lib/kubelet", "node-1", cases[i].paths, cases[i].n,
					   cases[i].suggestion, out, sizeof(out));
		has_all(out, cases[i].want, true);
		has_all(out, cases[i].not, false);
	}
	/* nothing to say */
	podwatch_not_found_message("/k", "n", NULL, 0, NULL, out, sizeof(out));
	assert_string_equal(out, "");
}

static void test_other_messages(void **state)
{
	char out[REPORT_MSG_MAX];
	static const char *const users[] = { "apps/a", "apps/b", "apps/c", "apps/d" };

	(void)state;
	podwatch_invalid_message("operator/shop/broken/bad.json", false, 0, out, sizeof(out));
	has_all(out,
		(const char *const[]){ "operator/shop/broken/bad.json",
				       "configmap shop/broken key 'bad.json' is invalid",
				       "there is no file", NULL },
		true);
	has_all(out, (const char *const[]){ "more invalid", "keeps", NULL }, false);
	podwatch_invalid_message("operator/shop/broken/bad.json", true, 2, out, sizeof(out));
	has_all(out,
		(const char *const[]){ "keeps the last good version",
				       "(and 2 more invalid profiles)", NULL },
		true);
	podwatch_invalid_message("operator/odd", true, 1, out, sizeof(out));
	has_all(out,
		(const char *const[]){ "its configmap is invalid", "1 more invalid profile)",
				       NULL },
		true);

	podwatch_deprecated_message("operator/a/b/c", out, sizeof(out));
	has_all(out,
		(const char *const[]){ "operator/a/b/c", "1.27", "securityContext.seccompProfile",
				       "localhostProfile: operator/a/b/c", NULL },
		true);

	podwatch_retained_message("operator/apps/keys/k1.json", "node-1", false, users, 1, out,
				  sizeof(out));
	has_all(out,
		(const char *const[]){ "operator/apps/keys/k1.json is no longer in this configmap",
				       "node node-1", "use it: apps/a;", "removed when the last",
				       NULL },
		true);
	podwatch_retained_message("operator/apps/keys/k1.json", "node-1", false, users, 5, out,
				  sizeof(out));
	has_all(out, (const char *const[]){ "apps/a, apps/b, apps/c and 2 more", NULL }, true);
	has_all(out, (const char *const[]){ "apps/d", NULL }, false);
	podwatch_retained_message("operator/apps/prof/a.json", "node-1", true, users, 1, out,
				  sizeof(out));
	has_all(out,
		(const char *const[]){ "although its configmap is gone, because this pod uses it",
				       NULL },
		true);
	has_all(out, (const char *const[]){ "other pod", "apps/a", NULL }, false);
	podwatch_retained_message("operator/apps/prof/a.json", "node-1", true, users, 3, out,
				  sizeof(out));
	has_all(out, (const char *const[]){ "(with 2 other pods)", NULL }, true);
}

/* Long inputs are truncated to the buffer, ending in "...". */
static void test_truncation(void **state)
{
	static char path[PODS_PATH_MAX];
	const char *paths[] = { path, path, path };
	char out[REPORT_MSG_MAX], small[40];

	(void)state;
	memset(path, 'p', sizeof(path) - 1);
	memcpy(path, "operator/", 9);
	podwatch_not_found_message("/var/lib/kubelet", "node-1", paths, 3, path, out, sizeof(out));
	assert_int_equal(strlen(out), sizeof(out) - 1);
	assert_string_equal(out + sizeof(out) - 4, "...");
	podwatch_deprecated_message(path, small, sizeof(small));
	assert_int_equal(strlen(small), sizeof(small) - 1);
	podwatch_retained_message(path, "n", false, paths, 3, small, sizeof(small));
	assert_string_equal(small + sizeof(small) - 4, "...");
	podwatch_invalid_message(path, false, 0, small, sizeof(small));
	assert_string_equal(small + sizeof(small) - 4, "...");
}

/* ---- retention through the watch callbacks ---- */

struct world {
	struct podwatch *pw;
	struct sync_table *table;
	struct metrics *metrics;
	struct report report;
	unsigned changed;
};

static void on_changed(void *ctx)
{
	struct world *w = ctx;

	w->changed++;
}

static void feed(struct world *w, enum k8s_event_type type, const char *name, const char *node,
		 const char *phase, const char *path)
{
	struct k8s_profile_ref ref = { K8S_REF_CONTAINER, "app", path };
	struct k8s_object o = {
		.kind = K8S_KIND_POD,
		.ns = "apps",
		.name = name,
		.uid = name,
		.resource_version = "1",
		.node_name = node,
		.phase = phase,
		.refs = &ref,
		.n_refs = 1,
	};

	podwatch_ops.event(w->pw, type, &o);
}

static double gauge_retained(const struct world *w)
{
	struct buf b;
	const char *at;
	double v = -1;

	buf_init(&b, 0);
	assert_int_equal(metrics_render(w->metrics, &b), 0);
	at = strstr(b.data, "seccomp_syncd_profiles{state=\"retained\"} ");
	if (at)
		v = strtod(at + strlen("seccomp_syncd_profiles{state=\"retained\"} "), NULL);
	buf_release(&b);
	return v;
}

static void test_retention(void **state)
{
	static const char *const namespaces[] = { "apps" };
	struct world w = { 0 };
	struct podwatch_opts opts = { .node_name = "node-1",
				      .kubelet_dir = "/k",
				      .namespaces = namespaces,
				      .n_namespaces = 1,
				      .changed = on_changed,
				      .changed_ctx = &w };
	struct report_cm cm = { "apps", "prof", "cm-uid", "5" };
	struct k8s_watch_spec spec;
	struct diag d;

	(void)state;
	log_setup(LOG_FMT_TEXT, LOG_LVL_ERROR);
	assert_int_equal(sync_table_new(&w.table), 0);
	assert_int_equal(metrics_new(&w.metrics), 0);
	w.report.metrics = w.metrics;
	opts.table = w.table;
	opts.report = &w.report;
	assert_int_equal(podwatch_new(&opts, &w.pw, &d), 0);
	spec = podwatch_spec(w.pw, false);
	assert_string_equal(spec.resource, "pods");
	assert_string_equal(spec.field_selector, "spec.nodeName=node-1");
	assert_int_equal(spec.kind, K8S_KIND_POD);
	assert_false(spec.list_only);
	assert_true(podwatch_spec(w.pw, true).list_only);

	/* the first list: web on this node, other on node-2 */
	podwatch_ops.relist_begin(w.pw);
	{
		struct k8s_profile_ref ref = { K8S_REF_POD, NULL, "operator/apps/prof/a.json" };
		struct k8s_object o = { .kind = K8S_KIND_POD,
					.ns = "apps",
					.name = "web",
					.uid = "u-web",
					.resource_version = "1",
					.node_name = "node-1",
					.phase = "Running",
					.refs = &ref,
					.n_refs = 1 };

		podwatch_ops.relist_object(w.pw, &o);
		o.name = "other";
		o.node_name = "node-2";
		ref.path = "operator/apps/prof/b.json";
		podwatch_ops.relist_object(w.pw, &o);
	}
	podwatch_ops.relist_end(w.pw);
	assert_int_equal(w.changed, 1);
	assert_int_equal(pods_count(podwatch_pods(w.pw)), 1);

	/* b.json: nobody here uses it; a.json: web does */
	assert_false(podwatch_keep(w.pw, &cm, false, "b.json"));
	assert_false(podwatch_in_use(w.pw, "apps", "prof", "b.json"));
	assert_true(podwatch_in_use(w.pw, "apps", "prof", "a.json"));
	assert_int_equal(podwatch_retained(w.pw), 0);
	assert_true(podwatch_keep(w.pw, &cm, false, "a.json"));
	assert_true(podwatch_keep(w.pw, &cm, false, "a.json"));
	assert_int_equal(podwatch_retained(w.pw), 1);
	assert_true(gauge_retained(&w) == 1.0);
	assert_false(podwatch_take_released(w.pw));

	/* a second user, then both go */
	feed(&w, K8S_EV_ADDED, "job", "node-1", "Pending", "operator/apps//prof/a.json");
	feed(&w, K8S_EV_DELETED, "web", "node-1", "Running", "operator/apps/prof/a.json");
	assert_false(podwatch_take_released(w.pw));
	feed(&w, K8S_EV_MODIFIED, "job", "node-1", "Failed", "operator/apps/prof/a.json");
	assert_int_equal(w.changed, 4);
	assert_true(podwatch_take_released(w.pw));
	assert_false(podwatch_take_released(w.pw));
	assert_false(podwatch_keep(w.pw, &cm, false, "a.json"));
	podwatch_removed(w.pw, "apps", "prof", "a.json");
	assert_int_equal(podwatch_retained(w.pw), 0);
	assert_true(gauge_retained(&w) == 0.0);

	/* retained, then desired again */
	feed(&w, K8S_EV_ADDED, "web2", "node-1", "Running", "operator/apps/prof/c.json");
	assert_true(podwatch_keep(w.pw, &cm, true, "c.json"));
	assert_int_equal(podwatch_retained(w.pw), 1);
	podwatch_wanted(w.pw, "apps", "prof", "c.json");
	assert_int_equal(podwatch_retained(w.pw), 0);
	podwatch_wanted(w.pw, "apps", "prof", "c.json");
	podwatch_removed(w.pw, "apps", "prof", "c.json");

	/* a relist without web2: it vanishes */
	podwatch_ops.relist_begin(w.pw);
	podwatch_ops.relist_end(w.pw);
	assert_int_equal(pods_count(podwatch_pods(w.pw)), 0);
	/* checks with nothing to report, synced or not */
	podwatch_touch(w.pw);
	podwatch_tick(w.pw, 1e9, false);
	podwatch_tick(w.pw, 1e9, true);

	/* NULL is a no-op everywhere */
	assert_false(podwatch_keep(NULL, &cm, true, "a.json"));
	assert_false(podwatch_take_released(NULL));
	assert_false(podwatch_in_use(NULL, "apps", "prof", "a.json"));
	assert_int_equal(podwatch_retained(NULL), 0);
	podwatch_removed(NULL, "a", "b", "c");
	podwatch_touch(NULL);
	podwatch_tick(NULL, 0, true);
	podwatch_free(NULL);

	podwatch_free(w.pw);
	metrics_free(w.metrics);
	sync_table_free(w.table);

	/* a node name is required */
	opts.node_name = "";
	w.pw = NULL;
	assert_int_equal(podwatch_new(&opts, &w.pw, &d), -EINVAL);
	assert_null(w.pw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_not_found_message),
		cmocka_unit_test(test_other_messages),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_retention),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
