/* SPDX-License-Identifier: Apache-2.0 */
#include "daemon/metrics.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/utf8.h"

#ifndef SYNCD_VERSION
#define SYNCD_VERSION "unknown"
#endif

/*
 * Label values come from the API (a resource name, a reason), so the number of
 * label sets is bounded: past METRICS_MAX_LABEL_SETS - 1 distinct sets, or for
 * a value longer than METRICS_LABEL_MAX, the count goes to one set whose labels
 * are all "other".  That keeps memory and the scrape size fixed.
 */
#define METRICS_MAX_LABEL_SETS 64
#define METRICS_LABEL_MAX      63
#define METRICS_OTHER	       "other"

/* sync_latency_seconds upper bounds, 1 ms .. 10 s; +Inf is implicit. */
static const double latency_bounds[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
					 0.25,	0.5,	1,     2.5,  5,	    10 };
#define N_BOUNDS (sizeof(latency_bounds) / sizeof(latency_bounds[0]))

/*
 * One counter with two labels.  a and b are written once, before the slot is
 * published by the release store of the table's count, and never change, so
 * a reader that loaded the count with acquire may read them without a lock.
 */
struct labelled {
	char a[METRICS_LABEL_MAX + 1];
	char b[METRICS_LABEL_MAX + 1];
	_Atomic uint64_t value;
};

struct label_table {
	struct labelled sets[METRICS_MAX_LABEL_SETS];
	_Atomic size_t n;
	pthread_mutex_t lock; /* serialises writers that add a set; readers never take it */
};

struct metrics {
	_Atomic uint64_t profiles[METRICS_N_STATES];
	_Atomic uint64_t writes;
	_Atomic uint64_t removals;
	_Atomic uint64_t validation_errors;
	_Atomic uint64_t validation_warnings;
	struct label_table api;
	struct label_table restarts;
	/* sync_latency_seconds: per-bucket (not cumulative) counts, the last one is +Inf */
	_Atomic uint64_t latency_buckets[N_BOUNDS + 1];
	_Atomic uint64_t latency_count;
	_Atomic uint64_t latency_sum;	 /* double bits */
	_Atomic uint64_t last_full_sync; /* double bits */
	_Atomic uint64_t last_tick;	 /* double bits */
	atomic_bool ready;
};

static const char *const state_names[METRICS_N_STATES] = {
	[METRICS_VALID] = "valid",
	[METRICS_INVALID] = "invalid",
	[METRICS_STALE] = "stale",
	[METRICS_RETAINED] = "retained",
};

/* A double travels through a uint64 atomic as its bit pattern. */
static uint64_t dbits(double v)
{
	uint64_t u;

	memcpy(&u, &v, sizeof(u));
	return u;
}

static double bitsd(uint64_t u)
{
	double v;

	memcpy(&v, &u, sizeof(v));
	return v;
}

int metrics_new(struct metrics **out)
{
	struct metrics *m = calloc(1, sizeof(*m));
	size_t i;

	if (!m)
		return -ENOMEM;
	/* calloc's zero bytes are valid initial values for every atomic on Linux, but say it */
	for (i = 0; i < METRICS_N_STATES; i++)
		atomic_init(&m->profiles[i], 0);
	atomic_init(&m->api.n, 0);
	atomic_init(&m->restarts.n, 0);
	atomic_init(&m->latency_sum, dbits(0.0));
	atomic_init(&m->last_full_sync, dbits(0.0));
	atomic_init(&m->last_tick, dbits(0.0));
	atomic_init(&m->ready, false);
	if (pthread_mutex_init(&m->api.lock, NULL) != 0) {
		free(m);
		return -ENOMEM;
	}
	if (pthread_mutex_init(&m->restarts.lock, NULL) != 0) {
		pthread_mutex_destroy(&m->api.lock);
		free(m);
		return -ENOMEM;
	}
	*out = m;
	return 0;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->api.lock);
	pthread_mutex_destroy(&m->restarts.lock);
	free(m);
}

void metrics_set_profiles(struct metrics *m, enum metrics_state state, uint64_t n)
{
	if ((unsigned)state >= METRICS_N_STATES)
		return;
	atomic_store_explicit(&m->profiles[state], n, memory_order_relaxed);
}

void metrics_add_writes(struct metrics *m, uint64_t n)
{
	atomic_fetch_add_explicit(&m->writes, n, memory_order_relaxed);
}

void metrics_add_removals(struct metrics *m, uint64_t n)
{
	atomic_fetch_add_explicit(&m->removals, n, memory_order_relaxed);
}

void metrics_add_validation_errors(struct metrics *m, uint64_t n)
{
	atomic_fetch_add_explicit(&m->validation_errors, n, memory_order_relaxed);
}

void metrics_add_validation_warnings(struct metrics *m, uint64_t n)
{
	atomic_fetch_add_explicit(&m->validation_warnings, n, memory_order_relaxed);
}

static struct labelled *table_find(struct label_table *t, size_t n, const char *a, const char *b)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(t->sets[i].a, a) == 0 && strcmp(t->sets[i].b, b) == 0)
			return &t->sets[i];
	return NULL;
}

/*
 * The slot for (@a, @b), added if new.  The last slot is kept for the "other"
 * set, so folding always has somewhere to go.  Lookups of existing sets take
 * no lock; adding one does, and publishes it with a release store.
 */
static struct labelled *table_get(struct label_table *t, const char *a, const char *b)
{
	struct labelled *s;
	size_t n;

	if (!a)
		a = "";
	if (!b)
		b = "";
	if (strlen(a) > METRICS_LABEL_MAX || strlen(b) > METRICS_LABEL_MAX)
		a = b = METRICS_OTHER;
	n = atomic_load_explicit(&t->n, memory_order_acquire);
	s = table_find(t, n, a, b);
	if (s)
		return s;

	pthread_mutex_lock(&t->lock);
	n = atomic_load_explicit(&t->n, memory_order_acquire);
	s = table_find(t, n, a, b);
	if (!s && n >= METRICS_MAX_LABEL_SETS - 1) {
		a = b = METRICS_OTHER;
		s = table_find(t, n, a, b);
	}
	if (!s) {
		s = &t->sets[n];
		memcpy(s->a, a, strlen(a) + 1);
		memcpy(s->b, b, strlen(b) + 1);
		atomic_store_explicit(&s->value, 0, memory_order_relaxed);
		atomic_store_explicit(&t->n, n + 1, memory_order_release);
	}
	pthread_mutex_unlock(&t->lock);
	return s;
}

void metrics_api_request(struct metrics *m, const char *resource, int code)
{
	char c[16];
	size_t i = sizeof(c) - 1;
	unsigned v;

	/* HTTP status codes are 100..599; anything else (0: no response) is written as "0" */
	v = code >= 100 && code <= 999 ? (unsigned)code : 0;
	c[i] = '\0';
	do {
		c[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	atomic_fetch_add_explicit(&table_get(&m->api, resource, c + i)->value, 1,
				  memory_order_relaxed);
}

void metrics_watch_restart(struct metrics *m, const char *resource, const char *reason)
{
	atomic_fetch_add_explicit(&table_get(&m->restarts, resource, reason)->value, 1,
				  memory_order_relaxed);
}

/* One writer (the loop thread) updates the sum; the CAS keeps it right even if there were more. */
static void atomic_add_double(_Atomic uint64_t *p, double v)
{
	uint64_t old = atomic_load_explicit(p, memory_order_relaxed);

	while (!atomic_compare_exchange_weak_explicit(p, &old, dbits(bitsd(old) + v),
						      memory_order_relaxed, memory_order_relaxed))
		;
}

void metrics_observe_sync_latency(struct metrics *m, double seconds)
{
	size_t i;

	if (!(seconds >= 0)) /* negative or NaN: a clock problem, not a latency */
		seconds = 0;
	for (i = 0; i < N_BOUNDS; i++)
		if (seconds <= latency_bounds[i])
			break;
	atomic_fetch_add_explicit(&m->latency_buckets[i], 1, memory_order_relaxed);
	atomic_add_double(&m->latency_sum, seconds);
	atomic_fetch_add_explicit(&m->latency_count, 1, memory_order_relaxed);
}

void metrics_set_last_full_sync(struct metrics *m, double unix_seconds)
{
	atomic_store_explicit(&m->last_full_sync, dbits(unix_seconds), memory_order_relaxed);
}

void metrics_loop_tick(struct metrics *m, double monotonic_seconds)
{
	atomic_store_explicit(&m->last_tick, dbits(monotonic_seconds), memory_order_release);
}

double metrics_last_tick(const struct metrics *m)
{
	/* C11 atomic loads take a non-const pointer; nothing is written */
	return bitsd(atomic_load_explicit((_Atomic uint64_t *)&m->last_tick, memory_order_acquire));
}

void metrics_set_ready(struct metrics *m)
{
	atomic_store_explicit(&m->ready, true, memory_order_release);
}

bool metrics_ready(const struct metrics *m)
{
	return atomic_load_explicit((atomic_bool *)&m->ready, memory_order_acquire);
}

static uint64_t load(const _Atomic uint64_t *p)
{
	return atomic_load_explicit((_Atomic uint64_t *)p, memory_order_relaxed);
}

/* Exposition format label values: backslash, quote and newline escaped; kept valid UTF-8. */
static int append_label_value(struct buf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	int r = 0;

	while (n && r == 0) {
		size_t k;

		if (*p == '\\') {
			r = buf_append(out, "\\\\", 2);
		} else if (*p == '"') {
			r = buf_append(out, "\\\"", 2);
		} else if (*p == '\n') {
			r = buf_append(out, "\\n", 2);
		} else {
			k = utf8_seq_len(p, n);
			if (k == 0) {
				r = buf_append(out, "\xef\xbf\xbd", 3);
			} else {
				r = buf_append(out, p, k);
				p += k;
				n -= k;
				continue;
			}
		}
		p++;
		n--;
	}
	return r;
}

/*
 * The shortest of %.15g/%.16g/%.17g that reads back as the same double, so a
 * timestamp is 1764424282.5 rather than 1764424282.5000000; Prometheus spells
 * the non-finite values NaN, +Inf and -Inf.
 */
static void format_double(char *out, size_t size, double v)
{
	int prec;

	if (isnan(v)) {
		(void)snprintf(out, size, "NaN");
		return;
	}
	if (isinf(v)) {
		(void)snprintf(out, size, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	for (prec = 15; prec < 17; prec++) {
		(void)snprintf(out, size, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			return;
	}
	(void)snprintf(out, size, "%.17g", v);
}

static int append_header(struct buf *out, const char *name, const char *type, const char *help)
{
	return buf_appendf(out, "# HELP seccomp_syncd_%s %s\n# TYPE seccomp_syncd_%s %s\n", name,
			   help, name, type);
}

static int append_counter(struct buf *out, const char *name, const char *help, uint64_t v)
{
	int r = append_header(out, name, "counter", help);

	if (r < 0)
		return r;
	return buf_appendf(out, "seccomp_syncd_%s %llu\n", name, (unsigned long long)v);
}

static int append_labelled(struct buf *out, const char *name, const char *help,
			   const struct label_table *t, const char *la, const char *lb)
{
	size_t i, n;
	int r = append_header(out, name, "counter", help);

	n = atomic_load_explicit((_Atomic size_t *)&t->n, memory_order_acquire);
	for (i = 0; i < n && r == 0; i++) {
		const struct labelled *s = &t->sets[i];

		r = buf_appendf(out, "seccomp_syncd_%s{%s=\"", name, la);
		if (r == 0)
			r = append_label_value(out, s->a);
		if (r == 0)
			r = buf_appendf(out, "\",%s=\"", lb);
		if (r == 0)
			r = append_label_value(out, s->b);
		if (r == 0)
			r = buf_appendf(out, "\"} %llu\n", (unsigned long long)load(&s->value));
	}
	return r;
}

/*
 * The histogram is read bucket by bucket while the writer may be adding, so a
 * scrape can see a count a little ahead of the buckets; the cumulative counts
 * are made from the bucket values read here, and _count is their total, which
 * keeps every scrape self-consistent (le="+Inf" == _count, buckets monotone).
 */
static int append_histogram(struct buf *out, const struct metrics *m)
{
	static const char name[] = "sync_latency_seconds";
	char num[40];
	uint64_t cum = 0;
	size_t i;
	int r = append_header(
		out, name, "histogram",
		"Seconds from a watch event's arrival to its profile file being renamed "
		"into place.");

	for (i = 0; i <= N_BOUNDS && r == 0; i++) {
		cum += load(&m->latency_buckets[i]);
		if (i < N_BOUNDS)
			r = buf_appendf(out, "seccomp_syncd_%s_bucket{le=\"%g\"} %llu\n", name,
					latency_bounds[i], (unsigned long long)cum);
		else
			r = buf_appendf(out, "seccomp_syncd_%s_bucket{le=\"+Inf\"} %llu\n", name,
					(unsigned long long)cum);
	}
	format_double(num, sizeof(num), bitsd(load(&m->latency_sum)));
	if (r == 0)
		r = buf_appendf(out, "seccomp_syncd_%s_sum %s\n", name, num);
	if (r == 0)
		r = buf_appendf(out, "seccomp_syncd_%s_count %llu\n", name,
				(unsigned long long)cum);
	return r;
}

/*
 * Rendering only loads atomics (and the immutable label strings), so the
 * endpoint's thread can call it while the loop thread updates the counters.
 * The text is appended to @out; on failure (-E2BIG past @out's bound,
 * -ENOMEM) @out is left as it was.
 */
int metrics_render(const struct metrics *m, struct buf *out)
{
	size_t i, start = out->len;
	char num[40];
	int r;

	r = append_header(out, "build_info", "gauge",
			  "Always 1; the version label says which seccomp-syncd is running.");
	if (r == 0)
		r = buf_appendf(out, "seccomp_syncd_build_info{version=\"");
	if (r == 0)
		r = append_label_value(out, SYNCD_VERSION);
	if (r == 0)
		r = buf_appendf(out, "\"} 1\n");
	if (r == 0)
		r = append_header(out, "profiles", "gauge",
				  "Profiles by state: valid (on disk and current), invalid (no "
				  "file), stale (invalid update, last good file kept), retained "
				  "(deleted but still used by a pod on this node).");
	for (i = 0; i < METRICS_N_STATES && r == 0; i++)
		r = buf_appendf(out, "seccomp_syncd_profiles{state=\"%s\"} %llu\n", state_names[i],
				(unsigned long long)load(&m->profiles[i]));
	if (r == 0)
		r = append_counter(out, "profile_writes_total", "Profile files written to disk.",
				   load(&m->writes));
	if (r == 0)
		r = append_counter(out, "profile_removals_total",
				   "Profile files removed from disk.", load(&m->removals));
	if (r == 0)
		r = append_counter(out, "validation_errors_total",
				   "Validation errors found in profiles (each one keeps a profile "
				   "off disk).",
				   load(&m->validation_errors));
	if (r == 0)
		r = append_counter(out, "validation_warnings_total",
				   "Validation warnings found in profiles.",
				   load(&m->validation_warnings));
	if (r == 0)
		r = append_labelled(out, "api_requests_total",
				    "Requests to the Kubernetes API by resource and HTTP status "
				    "code (0: no response).",
				    &m->api, "resource", "code");
	if (r == 0)
		r = append_labelled(out, "watch_restarts_total",
				    "Watches started again, by resource and reason.", &m->restarts,
				    "resource", "reason");
	if (r == 0)
		r = append_histogram(out, m);
	if (r == 0)
		r = append_header(out, "last_full_sync_timestamp_seconds", "gauge",
				  "Unix time at which the last full list was applied to disk.");
	format_double(num, sizeof(num), bitsd(load(&m->last_full_sync)));
	if (r == 0)
		r = buf_appendf(out, "seccomp_syncd_last_full_sync_timestamp_seconds %s\n", num);
	if (r < 0) {
		/* nothing half-rendered is left behind */
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
	}
	return r;
}
