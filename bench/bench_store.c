/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_store: what a durable store_write() costs next to the floor, the bare
 * loop every atomic replacement has to pay (open a temp file, write, fsync,
 * rename, fsync the directory), measured in the same run, in the same
 * directory, with the same profile; and what an unchanged rewrite costs (time
 * per call and the system calls it makes, traced with strace when present).
 *
 * Usage: bench_store [-d PARENT_DIR] [-p PROFILE] [-r ROUNDS] [-n WRITES] [-u REWRITES]
 * The defaults (/var/tmp, tests/data/profiles/docker-default.json, 7 rounds of
 * 200 writes each side, 20000 rewrites) run in well under two minutes on a disk where an
 * fsync takes a few milliseconds.  PARENT_DIR must not be tmpfs: there fsync
 * is free and the comparison means nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <linux/magic.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/diag.h"
#include "profilestore/store.h"

#define NS	   "bench"
#define CM	   "cm"
#define KEY	   "docker-default.json"
#define MAX_ROUNDS 50
#define CHUNKS	   10 /* floor and store alternate this many times per round */

extern char **environ;

static double now(void)
{
	struct timespec t;

	(void)clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
	double s[MAX_ROUNDS];

	memcpy(s, v, (size_t)n * sizeof(*v));
	qsort(s, (size_t)n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static char *slurp(const char *path, size_t *len)
{
	struct stat st;
	char *p = NULL;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size > STORE_DATA_MAX)
		goto fail;
	p = malloc((size_t)st.st_size);
	if (!p)
		goto fail;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, p + got, (size_t)st.st_size - got);

		if (n <= 0)
			goto fail;
		got += (size_t)n;
	}
	(void)close(fd);
	*len = got;
	return p;
fail:
	free(p);
	if (fd >= 0)
		(void)close(fd);
	return NULL;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The floor: the least a durable atomic replacement can do, with no checks at all. */
static int floor_round(int dfd, const char *a, const char *b, size_t len, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		int fd = openat(dfd, ",floor.tmp", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

		if (fd < 0 || write_all(fd, i % 2 ? b : a, len) < 0 || fsync(fd) < 0 ||
		    close(fd) < 0 || renameat(dfd, ",floor.tmp", dfd, "floor.json") < 0 ||
		    fsync(dfd) < 0) {
			perror("floor");
			return -1;
		}
	}
	return 0;
}

static int store_round(struct store *s, const char *a, const char *b, size_t len, int n)
{
	struct diag d = { "" };
	int i;

	for (i = 0; i < n; i++) {
		/* The file holds @a before the round and again after it (@n is even). */
		if (store_write(s, NS, CM, KEY, i % 2 ? a : b, len, &d) != 0) {
			fprintf(stderr, "store_write: %s\n", d.msg);
			return -1;
		}
	}
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* --one-unchanged: one unchanged rewrite between two markers that strace shows. */
static int one_unchanged(const char *kubelet, const char *profile)
{
	struct store *s = NULL;
	struct diag d = { "" };
	size_t len;
	char *a = slurp(profile, &len);
	int r;

	if (!a || store_open(kubelet, 0, &s, &d) < 0)
		return 1;
	(void)store_write(s, NS, CM, KEY, a, len, &d);
	if (write(-1, "BEGIN", 5) != -1)
		return 1;
	r = store_write(s, NS, CM, KEY, a, len, &d);
	if (write(-1, "END", 3) != -1)
		return 1;
	store_close(s);
	free(a);
	return r == STORE_UNCHANGED ? 0 : 1;
}

/*
 * The system calls of one unchanged rewrite, as strace sees them: returns their
 * number (-1 without strace) and sets *@writes to how many of them write,
 * sync or rename.
 */
static int trace_unchanged(const char *kubelet, const char *profile, const char *root, int *writes)
{
	char self[PATH_MAX], trace[PATH_MAX], line[1024];
	char *argv[] = {
		"strace",	 "-qq",		  "-o", trace, "--", self, "--one-unchanged",
		(char *)kubelet, (char *)profile, NULL
	};
	int status, in = 0, count = 0;
	ssize_t n;
	pid_t pid;
	FILE *f;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -1;
	self[n] = '\0';
	n = snprintf(trace, sizeof(trace), "%s/strace.out", root);
	if (n < 0 || (size_t)n >= sizeof(trace))
		return -1;
	if (posix_spawnp(&pid, "strace", NULL, NULL, argv, environ) != 0)
		return -1;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	f = fopen(trace, "re");
	if (!f)
		return -1;
	printf("syscalls of one unchanged rewrite (strace):\n");
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, "\"BEGIN\"")) {
			in = 1;
			continue;
		}
		if (strstr(line, "\"END\""))
			break;
		if (in) {
			printf("    %s", line);
			count++;
			if (!strncmp(line, "write", 5) || strstr(line, "sync") ||
			    !strncmp(line, "rename", 6) || !strncmp(line, "mkdir", 5) ||
			    !strncmp(line, "unlink", 6) || strstr(line, "O_CREAT"))
				(*writes)++;
		}
	}
	(void)fclose(f);
	return count;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_store [-d PARENT_DIR] [-p PROFILE] [-r ROUNDS] [-n WRITES] "
			"[-u REWRITES]\n");
}

int main(int argc, char **argv)
{
	const char *parent = "/var/tmp", *profile = "tests/data/profiles/docker-default.json";
	double t_floor[MAX_ROUNDS], t_store[MAX_ROUNDS], ratio[MAX_ROUNDS], t_same[MAX_ROUNDS];
	char root[PATH_MAX] = "", kubelet[PATH_MAX], cmdir[PATH_MAX];
	int rounds = 7, writes = 200, rewrites = 20000, opt, i, dfd = -1, rc = 1, nsys, nwrites = 0;
	struct store *s = NULL;
	struct diag d = { "" };
	struct statfs sfs;
	char *a = NULL, *b = NULL;
	size_t len = 0;

	if (argc == 4 && strcmp(argv[1], "--one-unchanged") == 0)
		return one_unchanged(argv[2], argv[3]);
	while ((opt = getopt(argc, argv, "d:p:r:n:u:h")) != -1) {
		switch (opt) {
		case 'd':
			parent = optarg;
			break;
		case 'p':
			profile = optarg;
			break;
		case 'r':
			rounds = (int)strtol(optarg, NULL, 10);
			break;
		case 'n':
			writes = (int)strtol(optarg, NULL, 10);
			break;
		case 'u':
			rewrites = (int)strtol(optarg, NULL, 10);
			break;
		default:
			usage();
			return 2;
		}
	}
	writes = (writes + 2 * CHUNKS - 1) / (2 * CHUNKS) * (2 * CHUNKS);
	if (rounds < 1 || rounds > MAX_ROUNDS || writes < 2 || rewrites < 1) {
		usage();
		return 2;
	}
	a = slurp(profile, &len);
	if (!a) {
		fprintf(stderr,
			"bench_store: cannot read profile '%s' (run from the repository "
			"root or pass -p)\n",
			profile);
		return 2;
	}
	/* The second content differs in one byte in the middle: same size, so the store's
	 * compare reads the whole file before it finds the difference. */
	b = malloc(len);
	if (!b)
		goto out;
	memcpy(b, a, len);
	b[len / 2] ^= 0x01;

	(void)snprintf(root, sizeof(root), "%s/bench_store.XXXXXX", parent);
	if (!mkdtemp(root)) {
		perror(root);
		goto out;
	}
	if (statfs(root, &sfs) == 0 && sfs.f_type == TMPFS_MAGIC)
		fprintf(stderr, "bench_store: warning: %s is tmpfs, fsync costs nothing there\n",
			root);
	i = snprintf(kubelet, sizeof(kubelet), "%s/kubelet", root);
	if (i < 0 || (size_t)i >= sizeof(kubelet) || mkdir(kubelet, 0755) < 0 ||
	    store_open(kubelet, 0, &s, &d) < 0) {
		fprintf(stderr, "bench_store: cannot open the store: %s\n", d.msg);
		goto out;
	}
	if (store_write(s, NS, CM, KEY, a, len, &d) < 0) {
		fprintf(stderr, "bench_store: %s\n", d.msg);
		goto out;
	}
	i = snprintf(cmdir, sizeof(cmdir), "%s/seccomp/operator/" NS "/" CM, kubelet);
	dfd = i > 0 && (size_t)i < sizeof(cmdir) ? open(cmdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
						 : -1;
	if (dfd < 0) {
		perror(cmdir);
		goto out;
	}

	printf("bench_store: %zu-byte profile (%s), %d rounds of %d durable writes, in %s "
	       "(filesystem magic 0x%lx)\n",
	       len, profile, rounds, writes, root, (unsigned long)sfs.f_type);
	/* Warm-up, not counted: the first allocations of blocks and inodes. */
	if (floor_round(dfd, a, b, len, 20) < 0 || store_round(s, a, b, len, 20) < 0)
		goto out;
	printf("%-6s %14s %14s %8s %18s\n", "round", "floor files/s", "store files/s", "ratio",
	       "unchanged us/call");
	for (i = 0; i < rounds; i++) {
		double t0, t1, t2, t3, tf, ts;
		int j, c;

		/* Floor and store alternate in chunks, so that a slow spell of the disk
		 * (shared VMs have them) hits both sides alike. */
		tf = ts = 0;
		for (c = 0; c < CHUNKS; c++) {
			t0 = now();
			if (floor_round(dfd, a, b, len, writes / CHUNKS) < 0)
				goto out;
			t1 = now();
			if (store_round(s, a, b, len, writes / CHUNKS) < 0)
				goto out;
			t2 = now();
			tf += t1 - t0;
			ts += t2 - t1;
		}
		for (j = 0; j < rewrites; j++)
			if (store_write(s, NS, CM, KEY, a, len, &d) != STORE_UNCHANGED) {
				fprintf(stderr, "bench_store: rewrite was not unchanged: %s\n",
					d.msg);
				goto out;
			}
		t3 = now();
		t_floor[i] = tf / writes;
		t_store[i] = ts / writes;
		ratio[i] = t_store[i] / t_floor[i];
		t_same[i] = (t3 - t2) / rewrites;
		printf("%-6d %14.1f %14.1f %8.3f %18.2f\n", i + 1, 1 / t_floor[i], 1 / t_store[i],
		       ratio[i], t_same[i] * 1e6);
	}
	printf("median %14.1f %14.1f %8.3f %18.2f\n", 1 / median(t_floor, rounds),
	       1 / median(t_store, rounds), median(ratio, rounds), median(t_same, rounds) * 1e6);
	printf("goal: store within 1.2x of the floor: %s (median ratio %.3f)\n",
	       median(ratio, rounds) <= 1.2 ? "met" : "NOT met", median(ratio, rounds));

	store_close(s);
	s = NULL;
	nsys = trace_unchanged(kubelet, profile, root, &nwrites);
	if (nsys < 0)
		printf("syscalls of one unchanged rewrite: strace not available or failed\n");
	else
		printf("unchanged rewrite: %d syscalls, %d of them write, sync, create, rename or "
		       "unlink (goal 0): %s\n",
		       nsys, nwrites, nwrites == 0 ? "met" : "NOT met");
	rc = 0;
out:
	if (dfd >= 0)
		(void)close(dfd);
	store_close(s);
	if (root[0] && strstr(root, "bench_store."))
		(void)nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(a);
	free(b);
	return rc;
}
