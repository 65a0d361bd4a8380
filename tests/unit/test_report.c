/* SPDX-License-Identifier: Apache-2.0 */
/*
 * daemon/report: the wording of Event messages (what `kubectl describe
 * configmap` shows), their bound, and the metrics each outcome moves.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/buf.h"
#include "daemon/log.h"
#include "daemon/report.h"

static const struct report_cm cm = { "seccomp-operator", "demo-profile", "uid-1", "42" };

static struct profile_finding err1 = {
	.path = (char *)"syscalls[3].action",
	.message = (char *)"unknown action 'SCMP_ACT_BOGUS': runc refuses to start the container",
	.view = PROFILE_VIEW_BOTH,
};
static struct profile_finding errs[3];
static struct profile_finding warn1 = {
	.path = (char *)"defaultAction",
	.message = (char *)"SCMP_ACT_LOG lets every syscall through",
	.view = PROFILE_VIEW_CRIO,
};

static void test_invalid_message(void **state)
{
	static const struct {
		size_t n_errors;
		bool kept;
		const char *want[4];
	} cases[] = {
		{ 1,
		  false,
		  { "key 'audit.json'", "syscalls[3].action: unknown action", "no file is written",
		    "operator/seccomp-operator/demo-profile/audit.json" } },
		{ 1,
		  true,
		  { "last good version", "kept on this node", "never saw it have no file",
		    "CreateContainerError" } },
		{ 3, false, { "(and 2 more errors)", "syscalls[3].action", NULL } },
		{ 2, false, { "(and 1 more error)", NULL } },
		{ 0, false, { "refused", "no file is written", NULL } },
	};
	char out[REPORT_MSG_MAX];
	size_t i, j;

	(void)state;
	errs[0] = err1;
	errs[1] = err1;
	errs[2] = err1;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct profile_verdict v;

		memset(&v, 0, sizeof(v));
		v.errors = errs;
		v.n_errors = cases[i].n_errors;
		report_invalid_message(&cm, "audit.json", &v, cases[i].kept, out, sizeof(out));
		for (j = 0; j < 4 && cases[i].want[j]; j++)
			if (!strstr(out, cases[i].want[j]))
				fail_msg("case %zu: '%s' not in '%s'", i, cases[i].want[j], out);
		if (cases[i].kept)
			assert_null(strstr(out, "no file is written"));
	}
}

static void test_saved_message(void **state)
{
	char *arches[] = { (char *)"x86_64", (char *)"x86" };
	struct profile_finding w[5];
	struct profile_verdict v;
	char out[REPORT_MSG_MAX];
	size_t i;

	(void)state;
	memset(&v, 0, sizeof(v));
	report_saved_message(&cm, "audit.json", &v, out, sizeof(out));
	assert_string_equal(out, "saved seccomp profile operator/seccomp-operator/demo-profile/"
				 "audit.json");
	v.arches = arches;
	v.n_arches = 2;
	for (i = 0; i < 5; i++)
		w[i] = warn1;
	v.warnings = w;
	v.n_warnings = 5;
	report_saved_message(&cm, "audit.json", &v, out, sizeof(out));
	assert_non_null(strstr(out, "(validated for x86_64 and more)"));
	assert_non_null(strstr(out, "5 warnings: defaultAction (CRI-O nodes): SCMP_ACT_LOG"));
	assert_non_null(strstr(out, "and 2 more"));
	v.n_warnings = 1;
	report_saved_message(&cm, "audit.json", &v, out, sizeof(out));
	assert_non_null(strstr(out, "1 warning: "));
}

/* Long findings are cut to the bound, never past it, and say so. */
static void test_bound(void **state)
{
	struct profile_finding big;
	struct profile_verdict v;
	char *msg = malloc(5000);
	char out[REPORT_MSG_MAX], small[40];

	(void)state;
	assert_non_null(msg);
	memset(msg, 'x', 4999);
	msg[4999] = '\0';
	big.path = (char *)"";
	big.message = msg;
	big.view = PROFILE_VIEW_CONTAINERD;
	memset(&v, 0, sizeof(v));
	v.errors = &big;
	v.n_errors = 1;
	report_invalid_message(&cm, "k", &v, false, out, sizeof(out));
	assert_int_equal(strlen(out), sizeof(out) - 1);
	assert_string_equal(out + sizeof(out) - 4, "...");
	assert_non_null(strstr(out, "(document) (containerd nodes): xxx"));
	report_invalid_message(&cm, "k", &v, true, small, sizeof(small));
	assert_int_equal(strlen(small), sizeof(small) - 1);
	free(msg);
}

static uint64_t metric(const struct metrics *m, const char *name)
{
	struct buf b;
	const char *p;
	uint64_t v = UINT64_MAX;
	size_t n = strlen(name);

	buf_init(&b, 0);
	assert_int_equal(metrics_render(m, &b), 0);
	for (p = b.data; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (!strncmp(p, name, n) && p[n] == ' ') {
			v = strtoull(p + n + 1, NULL, 10);
			break;
		}
	}
	buf_release(&b);
	return v;
}

/* Each outcome moves its metric; Events need a loop (none here) and are skipped. */
static void test_metrics(void **state)
{
	struct report r = { 0 };
	struct profile_verdict v;
	struct profile_finding w[2] = { warn1, warn1 };
	struct diag d;

	(void)state;
	log_setup(LOG_FMT_TEXT, LOG_LVL_ERROR);
	assert_int_equal(metrics_new(&r.metrics), 0);
	memset(&v, 0, sizeof(v));
	v.warnings = w;
	v.n_warnings = 2;
	report_saved(&r, &cm, "a.json", &v, true);
	report_saved(&r, &cm, "a.json", &v, false); /* unchanged: no write, no warnings again */
	assert_int_equal(metric(r.metrics, "seccomp_syncd_profile_writes_total"), 1);
	assert_int_equal(metric(r.metrics, "seccomp_syncd_validation_warnings_total"), 2);
	v.errors = errs;
	v.n_errors = 3;
	v.n_warnings = 0;
	report_invalid(&r, &cm, "b.json", &v, true);
	report_refused(&r, &cm, "../x", "bad key");
	assert_int_equal(metric(r.metrics, "seccomp_syncd_validation_errors_total"), 4);
	report_removed(&r, &cm, "a.json", "configmap deleted");
	assert_int_equal(metric(r.metrics, "seccomp_syncd_profile_removals_total"), 1);
	diag_set(&d, -EIO, "disk on fire");
	report_failed(&r, &cm, "a.json", "cannot write profile", &d);
	metrics_free(r.metrics);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invalid_message),
		cmocka_unit_test(test_saved_message),
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_metrics),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
