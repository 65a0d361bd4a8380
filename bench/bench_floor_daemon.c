/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The time floor for the daemon benchmark: the same validations and durable
 * writes the daemon does, in a bare loop with no API, no decoding and no
 * bookkeeping.
 *
 * usage: bench_floor_daemon all DIR KUBELET_DIR
 *            validate (profile_check, uncached) and store_write every file of
 *            DIR to operator/bench/cm-<i>/p.json; prints the total wall time
 *        bench_floor_daemon one FILE KUBELET_DIR N
 *            N rounds of validate + durable write of FILE, alternating two
 *            variants (a trailing newline) so that every write changes the file;
 *            prints the median and p99 of one round
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/diag.h"
#include "profilestore/profile.h"
#include "profilestore/store.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 2);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static int check_and_write(struct store *s, const char *cm, const char *data, size_t len)
{
	struct profile_verdict *v = NULL;
	struct diag d;
	int r;

	r = profile_check(data, len, NULL, &v, &d);
	if (r < 0 || !v->valid) {
		fprintf(stderr, "bench_floor_daemon: %s: %s\n", cm, r < 0 ? d.msg : "invalid");
		profile_verdict_free(v);
		return -1;
	}
	profile_verdict_free(v);
	r = store_write(s, "bench", cm, "p.json", data, len, &d);
	if (r < 0) {
		fprintf(stderr, "bench_floor_daemon: %s\n", d.msg);
		return -1;
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_all(struct store *s, const char *dir)
{
	char **names = NULL, path[4096], cm[64];
	size_t n = 0, cap = 0, i;
	struct dirent *e;
	double t0, total = 0;
	DIR *dp = opendir(dir);

	if (!dp)
		return -1;
	while ((e = readdir(dp))) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			names = realloc(names, cap * sizeof(*names));
		}
		names[n++] = strdup(e->d_name);
	}
	closedir(dp);
	qsort(names, n, sizeof(*names), cmp_str);
	for (i = 0; i < n; i++) {
		size_t len;
		char *data;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		data = slurp(path, &len);
		if (!data)
			return -1;
		snprintf(cm, sizeof(cm), "cm-%zu", i);
		t0 = now();
		if (check_and_write(s, cm, data, len) < 0)
			return -1;
		total += now() - t0;
		free(data);
		free(names[i]);
	}
	free(names);
	printf("profiles=%zu seconds=%.3f\n", n, total);
	return 0;
}

static int run_one(struct store *s, const char *file, int rounds)
{
	double *t = calloc((size_t)rounds, sizeof(double));
	size_t len;
	char *data = slurp(file, &len);
	int i;

	if (!data || !t)
		return -1;
	for (i = 0; i < rounds; i++) {
		double t0 = now();
		size_t l = len + (size_t)(i & 1);

		data[len] = '\n';
		if (check_and_write(s, "one", data, l) < 0)
			return -1;
		t[i] = now() - t0;
	}
	qsort(t, (size_t)rounds, sizeof(double), cmp_double);
	printf("rounds=%d p50_ms=%.3f p99_ms=%.3f\n", rounds, t[rounds / 2] * 1e3,
	       t[(rounds * 99) / 100] * 1e3);
	free(t);
	free(data);
	return 0;
}

int main(int argc, char **argv)
{
	struct store *s = NULL;
	struct diag d;
	int r;

	if (argc < 4 || (strcmp(argv[1], "all") && strcmp(argv[1], "one")) ||
	    (!strcmp(argv[1], "one") && argc != 5)) {
		fprintf(stderr,
			"usage: bench_floor_daemon all DIR KUBELET_DIR | one FILE KUBELET_DIR N\n");
		return 2;
	}
	if (store_open(argv[3], 0, &s, &d) < 0) {
		fprintf(stderr, "bench_floor_daemon: %s\n", d.msg);
		return 1;
	}
	if (!strcmp(argv[1], "all"))
		r = run_all(s, argv[2]);
	else
		r = run_one(s, argv[2], atoi(argv[4]) > 0 ? atoi(argv[4]) : 100);
	store_close(s);
	return r < 0 ? 1 : 0;
}
