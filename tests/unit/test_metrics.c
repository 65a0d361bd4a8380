/* SPDX-License-Identifier: Apache-2.0 */
/* daemon/metrics: exposition text, label folding and escaping, concurrent render, promtool. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/buf.h"
#include "daemon/metrics.h"

#ifndef SYNCD_VERSION
#define SYNCD_VERSION "unknown"
#endif

#define PROMTOOL "/usr/bin/promtool"

static const char head_build[] =
	"# HELP seccomp_syncd_build_info Always 1; the version label says which seccomp-syncd is "
	"running.\n"
	"# TYPE seccomp_syncd_build_info gauge\n"
	"seccomp_syncd_build_info{version=\"" SYNCD_VERSION "\"} 1\n"
	"# HELP seccomp_syncd_profiles Profiles by state: valid (on disk and current), invalid "
	"(no file), stale (invalid update, last good file kept), retained (deleted but still used "
	"by a pod on this node).\n"
	"# TYPE seccomp_syncd_profiles gauge\n";

static const char *const help_lines[] = {
	"# HELP seccomp_syncd_profile_writes_total Profile files written to disk.",
	"# TYPE seccomp_syncd_profile_writes_total counter",
	"# HELP seccomp_syncd_profile_removals_total Profile files removed from disk.",
	"# TYPE seccomp_syncd_profile_removals_total counter",
	"# HELP seccomp_syncd_validation_errors_total Validation errors found in profiles (each "
	"one keeps a profile off disk).",
	"# TYPE seccomp_syncd_validation_errors_total counter",
	"# HELP seccomp_syncd_validation_warnings_total Validation warnings found in profiles.",
	"# TYPE seccomp_syncd_validation_warnings_total counter",
	"# HELP seccomp_syncd_api_requests_total Requests to the Kubernetes API by resource and "
	"HTTP status code (0: no response).",
	"# TYPE seccomp_syncd_api_requests_total counter",
	"# HELP seccomp_syncd_watch_restarts_total Watches started again, by resource and reason.",
	"# TYPE seccomp_syncd_watch_restarts_total counter",
	"# HELP seccomp_syncd_sync_latency_seconds Seconds from a watch event's arrival to its "
	"profile file being renamed into place.",
	"# TYPE seccomp_syncd_sync_latency_seconds histogram",
	"# HELP seccomp_syncd_last_full_sync_timestamp_seconds Unix time at which the last full "
	"list was applied to disk.",
	"# TYPE seccomp_syncd_last_full_sync_timestamp_seconds gauge",
};

static char *render(const struct metrics *m)
{
	struct buf b;
	char *s;

	buf_init(&b, 0);
	assert_int_equal(metrics_render(m, &b), 0);
	s = buf_detach(&b, NULL);
	assert_non_null(s);
	return s;
}

/* Compare line by line so that a failure names the first line that differs. */
static void assert_lines(const char *got, const char *want)
{
	unsigned line = 1;

	while (*got || *want) {
		size_t g = strcspn(got, "\n"), w = strcspn(want, "\n");

		if (g != w || memcmp(got, want, g) != 0)
			fail_msg("line %u: got '%.*s' want '%.*s'", line, (int)g, got, (int)w,
				 want);
		got += g + (got[g] == '\n');
		want += w + (want[w] == '\n');
		line++;
	}
}

/* The exposition text: every HELP and TYPE line with the sample lines given for each metric. */
static char *expected(const char *profiles, const char *writes, const char *api,
		      const char *restarts, const char *hist, const char *last)
{
	const char *p = writes;
	struct buf b;
	size_t i;

	/* each counter's sample line follows its own HELP and TYPE */
	buf_init(&b, 0);
	assert_int_equal(buf_appendf(&b, "%s%s", head_build, profiles), 0);
	for (i = 0; i < 8; i += 2) {
		size_t n = strcspn(p, "\n");

		assert_int_equal(buf_appendf(&b, "%s\n%s\n%.*s\n", help_lines[i], help_lines[i + 1],
					     (int)n, p),
				 0);
		p += n + (p[n] == '\n');
	}
	assert_int_equal(buf_appendf(&b, "%s\n%s\n%s", help_lines[8], help_lines[9], api), 0);
	assert_int_equal(buf_appendf(&b, "%s\n%s\n%s", help_lines[10], help_lines[11], restarts),
			 0);
	assert_int_equal(buf_appendf(&b, "%s\n%s\n%s", help_lines[12], help_lines[13], hist), 0);
	assert_int_equal(buf_appendf(&b, "%s\n%s\n%s", help_lines[14], help_lines[15], last), 0);
	return buf_detach(&b, NULL);
}

static const char zero_hist[] = "seccomp_syncd_sync_latency_seconds_bucket{le=\"0.001\"} 0\n"
				"seccomp_syncd_sync_latency_seconds_bucket{le=\"0.0025\"} 0\n"
				"seccomp_syncd_sync_latency_seconds_bucket{le=\"0.005\"} 0\n"
				"seccomp_syncd_sync_latency_seconds_bucket{le=\"0.01\"} 0\n"
				"seccomp_syncd_sync_latency_seconds_bucket{le=\"0.025\"} 0\n"
				"seccomp_syncd_sync_latency_seconds_bucket{le=\"0.05\"} 0\n"
				"seccomp_syncd_sync_latency_seconds_bucket{le=\"0.1\"} 0\n"
				"seccomp_syncd_sync_latency_seconds_bucket{le=\"0.25\"} 0\n"
				"seccomp_syncd_sync_latency_seconds_bucket{le=\"0.5\"} 0\n"
				"seccomp_syncd_sync_latency_seconds_bucket{le=\"1\"} 0\n"
				"seccomp_syncd_sync_latency_seconds_bucket{le=\"2.5\"} 0\n"
				"seccomp_syncd_sync_latency_seconds_bucket{le=\"5\"} 0\n"
				"seccomp_syncd_sync_latency_seconds_bucket{le=\"10\"} 0\n"
				"seccomp_syncd_sync_latency_seconds_bucket{le=\"+Inf\"} 0\n"
				"seccomp_syncd_sync_latency_seconds_sum 0\n"
				"seccomp_syncd_sync_latency_seconds_count 0\n";

static void test_render_empty(void **state)
{
	struct metrics *m = NULL;
	char *got, *want;

	(void)state;
	assert_int_equal(metrics_new(&m), 0);
	got = render(m);
	want = expected("seccomp_syncd_profiles{state=\"valid\"} 0\n"
			"seccomp_syncd_profiles{state=\"invalid\"} 0\n"
			"seccomp_syncd_profiles{state=\"stale\"} 0\n"
			"seccomp_syncd_profiles{state=\"retained\"} 0\n",
			"seccomp_syncd_profile_writes_total 0\n"
			"seccomp_syncd_profile_removals_total 0\n"
			"seccomp_syncd_validation_errors_total 0\n"
			"seccomp_syncd_validation_warnings_total 0\n",
			"", "", zero_hist, "seccomp_syncd_last_full_sync_timestamp_seconds 0\n");
	assert_lines(got, want);
	assert_false(metrics_ready(m));
	assert_true(metrics_last_tick(m) == 0.0);
	free(got);
	free(want);
	metrics_free(m);
}

/* A fixed set of updates and the exact text they render to. */
static void populate(struct metrics *m)
{
	static const double latencies[] = { 0.0005, 0.001, 0.003, 0.2, 1, 12, -1, NAN };
	size_t i;

	metrics_set_profiles(m, METRICS_VALID, 3);
	metrics_set_profiles(m, METRICS_INVALID, 1);
	metrics_set_profiles(m, METRICS_STALE, 2);
	metrics_set_profiles(m, METRICS_RETAINED, 9);
	metrics_set_profiles(m, METRICS_RETAINED, 4);
	metrics_set_profiles(m, METRICS_N_STATES, 77); /* ignored */
	metrics_add_writes(m, 5);
	metrics_add_writes(m, 1);
	metrics_add_removals(m, 2);
	metrics_add_validation_errors(m, 7);
	metrics_add_validation_warnings(m, 1);
	metrics_add_validation_warnings(m, 0);
	for (i = 0; i < 3; i++)
		metrics_api_request(m, "configmaps", 200);
	metrics_api_request(m, "configmaps", 0);
	metrics_api_request(m, "events", 409);
	metrics_api_request(m, "events", 409);
	metrics_api_request(m, "pods", 500);
	metrics_api_request(m, "pods", -3); /* no response */
	metrics_watch_restart(m, "configmaps", "expired");
	metrics_watch_restart(m, "pods", "timeout");
	metrics_watch_restart(m, "configmaps", "expired");
	for (i = 0; i < sizeof(latencies) / sizeof(latencies[0]); i++)
		metrics_observe_sync_latency(m, latencies[i]);
	metrics_set_last_full_sync(m, 1764424282.5);
}

static void test_render_known(void **state)
{
	struct metrics *m = NULL;
	char *got, *want;

	(void)state;
	assert_int_equal(metrics_new(&m), 0);
	populate(m);
	got = render(m);
	want = expected(
		"seccomp_syncd_profiles{state=\"valid\"} 3\n"
		"seccomp_syncd_profiles{state=\"invalid\"} 1\n"
		"seccomp_syncd_profiles{state=\"stale\"} 2\n"
		"seccomp_syncd_profiles{state=\"retained\"} 4\n",
		"seccomp_syncd_profile_writes_total 6\n"
		"seccomp_syncd_profile_removals_total 2\n"
		"seccomp_syncd_validation_errors_total 7\n"
		"seccomp_syncd_validation_warnings_total 1\n",
		"seccomp_syncd_api_requests_total{resource=\"configmaps\",code=\"200\"} 3\n"
		"seccomp_syncd_api_requests_total{resource=\"configmaps\",code=\"0\"} 1\n"
		"seccomp_syncd_api_requests_total{resource=\"events\",code=\"409\"} 2\n"
		"seccomp_syncd_api_requests_total{resource=\"pods\",code=\"500\"} 1\n"
		"seccomp_syncd_api_requests_total{resource=\"pods\",code=\"0\"} 1\n",
		"seccomp_syncd_watch_restarts_total{resource=\"configmaps\",reason="
		"\"expired\"} 2\n"
		"seccomp_syncd_watch_restarts_total{resource=\"pods\",reason=\"timeout\"} 1\n",
		/* 0.0005, 0.001, -1 and NaN (as 0) fall in the first bucket */
		"seccomp_syncd_sync_latency_seconds_bucket{le=\"0.001\"} 4\n"
		"seccomp_syncd_sync_latency_seconds_bucket{le=\"0.0025\"} 4\n"
		"seccomp_syncd_sync_latency_seconds_bucket{le=\"0.005\"} 5\n"
		"seccomp_syncd_sync_latency_seconds_bucket{le=\"0.01\"} 5\n"
		"seccomp_syncd_sync_latency_seconds_bucket{le=\"0.025\"} 5\n"
		"seccomp_syncd_sync_latency_seconds_bucket{le=\"0.05\"} 5\n"
		"seccomp_syncd_sync_latency_seconds_bucket{le=\"0.1\"} 5\n"
		"seccomp_syncd_sync_latency_seconds_bucket{le=\"0.25\"} 6\n"
		"seccomp_syncd_sync_latency_seconds_bucket{le=\"0.5\"} 6\n"
		"seccomp_syncd_sync_latency_seconds_bucket{le=\"1\"} 7\n"
		"seccomp_syncd_sync_latency_seconds_bucket{le=\"2.5\"} 7\n"
		"seccomp_syncd_sync_latency_seconds_bucket{le=\"5\"} 7\n"
		"seccomp_syncd_sync_latency_seconds_bucket{le=\"10\"} 7\n"
		"seccomp_syncd_sync_latency_seconds_bucket{le=\"+Inf\"} 8\n"
		"seccomp_syncd_sync_latency_seconds_sum 13.2045\n"
		"seccomp_syncd_sync_latency_seconds_count 8\n",
		"seccomp_syncd_last_full_sync_timestamp_seconds 1764424282.5\n");
	assert_lines(got, want);
	free(got);
	free(want);
	metrics_free(m);
}

static void test_render_appends_and_bounds(void **state)
{
	struct metrics *m = NULL;
	struct buf b;
	size_t full;

	(void)state;
	assert_int_equal(metrics_new(&m), 0);
	populate(m);
	buf_init(&b, 0);
	assert_int_equal(metrics_render(m, &b), 0);
	full = b.len;
	buf_release(&b);

	/* appended after what the buffer held */
	buf_init(&b, 0);
	assert_int_equal(buf_append(&b, "x\n", 2), 0);
	assert_int_equal(metrics_render(m, &b), 0);
	assert_int_equal(b.len, full + 2);
	assert_memory_equal(b.data, "x\n# HELP ", 9);
	buf_release(&b);

	/* a bound too small at any point: -E2BIG and the buffer as it was */
	{
		size_t bounds[] = { 2, 3, 100, full / 2, full + 1 };
		size_t i;

		for (i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
			buf_init(&b, bounds[i]);
			assert_int_equal(buf_append(&b, "x\n", 2), 0);
			assert_int_equal(metrics_render(m, &b), -E2BIG);
			assert_int_equal(b.len, 2);
			assert_string_equal(b.data, "x\n");
			buf_release(&b);
		}
		buf_init(&b, full + 2);
		assert_int_equal(buf_append(&b, "x\n", 2), 0);
		assert_int_equal(metrics_render(m, &b), 0);
		buf_release(&b);
	}
	metrics_free(m);
}

/* The sample line for @prefix in @text, or NULL. */
static const char *find_line(const char *text, const char *prefix)
{
	const char *p = text;
	size_t n = strlen(prefix);

	while (p && *p) {
		if (strncmp(p, prefix, n) == 0)
			return p;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

static unsigned long long sample(const char *text, const char *prefix)
{
	const char *l = find_line(text, prefix);

	if (!l) {
		fail_msg("no line '%s'", prefix);
		return 0; /* not reached: fail_msg() does not return */
	}
	return strtoull(l + strlen(prefix), NULL, 10);
}

static size_t count_lines(const char *text, const char *prefix)
{
	size_t n = 0;
	const char *p = text;

	while ((p = find_line(p, prefix)) != NULL) {
		n++;
		p++;
	}
	return n;
}

static void test_label_folding(void **state)
{
	struct metrics *m = NULL;
	char long_value[100];
	char *got;
	int i;

	(void)state;
	assert_int_equal(metrics_new(&m), 0);
	/* 63 distinct sets fit; the 64th slot is "other" and takes everything after */
	for (i = 0; i < 100; i++) {
		char res[16];

		(void)snprintf(res, sizeof(res), "r%03d", i);
		metrics_api_request(m, res, 200);
		metrics_api_request(m, res, 200);
	}
	metrics_api_request(m, "r000", 200); /* an existing set still counts as itself */
	memset(long_value, 'x', sizeof(long_value) - 1);
	long_value[sizeof(long_value) - 1] = '\0';
	metrics_watch_restart(m, "configmaps", long_value); /* too long: other */
	metrics_watch_restart(m, NULL, NULL);
	metrics_watch_restart(m, "configmaps", "expired");

	got = render(m);
	assert_int_equal(count_lines(got, "seccomp_syncd_api_requests_total{"), 64);
	assert_int_equal(sample(got, "seccomp_syncd_api_requests_total{resource=\"r000\",code="
				     "\"200\"} "),
			 3);
	assert_int_equal(sample(got, "seccomp_syncd_api_requests_total{resource=\"r062\",code="
				     "\"200\"} "),
			 2);
	assert_null(find_line(got, "seccomp_syncd_api_requests_total{resource=\"r063\""));
	assert_int_equal(sample(got, "seccomp_syncd_api_requests_total{resource=\"other\",code="
				     "\"other\"} "),
			 (100 - 63) * 2);
	assert_int_equal(count_lines(got, "seccomp_syncd_watch_restarts_total{"), 3);
	assert_int_equal(sample(got, "seccomp_syncd_watch_restarts_total{resource=\"other\","
				     "reason=\"other\"} "),
			 1);
	assert_int_equal(sample(got, "seccomp_syncd_watch_restarts_total{resource=\"\","
				     "reason=\"\"} "),
			 1);
	free(got);
	metrics_free(m);
}

static void test_label_escaping(void **state)
{
	static const struct {
		const char *in;
		const char *out;
	} cases[] = {
		{ "a\"b", "a\\\"b" },
		{ "back\\slash", "back\\\\slash" },
		{ "two\nlines", "two\\nlines" },
		{ "tab\tkept", "tab\tkept" },
		{ "caf\xc3\xa9", "caf\xc3\xa9" },
		{ "bad\xff", "bad\xef\xbf\xbd" },
		{ "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct metrics *m = NULL;
		char want[200];
		char *got;

		assert_int_equal(metrics_new(&m), 0);
		metrics_watch_restart(m, cases[i].in, "r");
		got = render(m);
		(void)snprintf(want, sizeof(want),
			       "seccomp_syncd_watch_restarts_total{resource=\"%s\",reason=\"r\"} 1",
			       cases[i].out);
		if (!find_line(got, want))
			fail_msg("case %zu: no line '%s'", i, want);
		free(got);
		metrics_free(m);
	}
}

static void test_ready_and_tick(void **state)
{
	struct metrics *m = NULL;

	(void)state;
	assert_int_equal(metrics_new(&m), 0);
	assert_false(metrics_ready(m));
	metrics_set_ready(m);
	assert_true(metrics_ready(m));
	metrics_set_ready(m);
	assert_true(metrics_ready(m));
	metrics_loop_tick(m, 12345.25);
	assert_true(metrics_last_tick(m) == 12345.25);
	metrics_loop_tick(m, 12346.5);
	assert_true(metrics_last_tick(m) == 12346.5);
	metrics_free(m);
	metrics_free(NULL);
}

#define WRITER_ROUNDS 20000

struct race {
	struct metrics *m;
	atomic_bool done;
	unsigned renders;
};

static void *race_writer(void *arg)
{
	struct race *r = arg;
	int i;

	for (i = 0; i < WRITER_ROUNDS; i++) {
		char res[16];

		(void)snprintf(res, sizeof(res), "res%d", i % 80);
		metrics_api_request(r->m, res, 200 + i % 3);
		metrics_watch_restart(r->m, res, i % 2 ? "expired" : "error");
		metrics_add_writes(r->m, 1);
		metrics_set_profiles(r->m, METRICS_VALID, (uint64_t)i);
		metrics_observe_sync_latency(r->m, (double)(i % 1000) / 100.0);
		metrics_loop_tick(r->m, (double)i);
		metrics_set_last_full_sync(r->m, 1.7e9 + i);
	}
	atomic_store(&r->done, true);
	return NULL;
}

/* Every scrape is self-consistent even while the writer runs. */
static void check_scrape(const char *text, unsigned long long *last_writes)
{
	unsigned long long writes, prev = 0, inf, count;
	const char *p = text;

	writes = sample(text, "seccomp_syncd_profile_writes_total ");
	assert_true(writes >= *last_writes);
	*last_writes = writes;
	while ((p = find_line(p, "seccomp_syncd_sync_latency_seconds_bucket{")) != NULL) {
		unsigned long long v = strtoull(strchr(p, '}') + 2, NULL, 10);

		assert_true(v >= prev);
		prev = v;
		p++;
	}
	inf = sample(text, "seccomp_syncd_sync_latency_seconds_bucket{le=\"+Inf\"} ");
	count = sample(text, "seccomp_syncd_sync_latency_seconds_count ");
	assert_int_equal(inf, count);
	assert_true(count_lines(text, "seccomp_syncd_api_requests_total{") <= 64);
}

static void *race_reader(void *arg)
{
	struct race *r = arg;
	unsigned long long last = 0;

	while (!atomic_load(&r->done)) {
		char *text = render(r->m);

		check_scrape(text, &last);
		free(text);
		r->renders++;
	}
	return NULL;
}

static void test_concurrent_render(void **state)
{
	struct race r = { 0 };
	pthread_t w, rd;
	unsigned long long total = 0;
	char *text;
	const char *p;

	(void)state;
	assert_int_equal(metrics_new(&r.m), 0);
	atomic_init(&r.done, false);
	assert_int_equal(pthread_create(&rd, NULL, race_reader, &r), 0);
	assert_int_equal(pthread_create(&w, NULL, race_writer, &r), 0);
	pthread_join(w, NULL);
	pthread_join(rd, NULL);
	assert_true(r.renders > 0);

	text = render(r.m);
	assert_int_equal(sample(text, "seccomp_syncd_profile_writes_total "), WRITER_ROUNDS);
	assert_int_equal(sample(text, "seccomp_syncd_sync_latency_seconds_count "), WRITER_ROUNDS);
	/* nothing lost in folding: the labelled counters add up to every call */
	for (p = text; (p = find_line(p, "seccomp_syncd_api_requests_total{")) != NULL; p++)
		total += strtoull(strchr(p, '}') + 2, NULL, 10);
	assert_int_equal(total, WRITER_ROUNDS);
	assert_int_equal(count_lines(text, "seccomp_syncd_api_requests_total{"), 64);
	free(text);
	metrics_free(r.m);
}

/* promtool, the reference parser and linter, accepts what we render. */
static void test_promtool(void **state)
{
	struct metrics *m = NULL;
	char *text;
	int p[2], status;
	pid_t pid;
	size_t len, off = 0;

	(void)state;
	if (access(PROMTOOL, X_OK) != 0)
		fail_msg("%s missing: install the Debian package prometheus (scripts/install-deps)",
			 PROMTOOL);
	assert_int_equal(metrics_new(&m), 0);
	populate(m);
	metrics_watch_restart(m, "odd \"resource\"\\", "new\nline");
	text = render(m);
	len = strlen(text);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char *const argv[] = { "promtool", "check", "metrics", NULL };

		if (dup2(p[0], STDIN_FILENO) < 0)
			_exit(126);
		execv(PROMTOOL, argv);
		_exit(127);
	}
	close(p[0]);
	while (off < len) {
		ssize_t n = write(p[1], text + off, len - off);

		assert_true(n > 0);
		off += (size_t)n;
	}
	close(p[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	free(text);
	metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_empty),
		cmocka_unit_test(test_render_known),
		cmocka_unit_test(test_render_appends_and_bounds),
		cmocka_unit_test(test_label_folding),
		cmocka_unit_test(test_label_escaping),
		cmocka_unit_test(test_ready_and_tick),
		cmocka_unit_test(test_concurrent_render),
		cmocka_unit_test(test_promtool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
