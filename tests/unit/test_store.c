/* SPDX-License-Identifier: Apache-2.0 */
/*
 * profilestore/store: the on-disk store, in a temporary directory.
 *
 * System calls are wrapped with the linker (test_store.ldflags): each wrapper
 * records the call while recording is on and fails it when a fault is armed,
 * otherwise it calls the real function.  The store is opened with
 * STORE_NO_OPENAT2 where a test records or injects openat() calls (openat2 is
 * a raw syscall the linker cannot wrap); the symlink tests run both ways.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/diag.h"
#include "common/sha256.h"
#include "profilestore/store.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- linker wrappers ---------------------------------------------------- */

enum target { T_ANY = 0, T_TMP, T_FILE, T_DIR };

struct fault {
	const char *fn;
	enum target target;
	int err;	    /* errno to fail with */
	int times;	    /* matching calls that fail (then the real call runs) */
	size_t short_write; /* write(): at most this many bytes per call, no failure */
};

struct call {
	char fn[16];
	enum target target;
	int fd; /* the fd operated on, or returned by openat */
	int flags;
	char path[NAME_MAX + 1];
};

static struct fault g_fault;
static int g_fault_left;
static int g_rec;
static struct call g_calls[256];
static size_t g_ncalls;

int __real_openat(int dfd, const char *path, int flags, ...);
ssize_t __real_write(int fd, const void *p, size_t n);
int __real_fsync(int fd);
int __real_syncfs(int fd);
int __real_renameat(int od, const char *op, int nd, const char *np);
int __real_mkdirat(int dfd, const char *path, mode_t mode);
int __real_unlinkat(int dfd, const char *path, int flags);

static enum target fd_target(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
		return T_DIR;
	return T_FILE;
}

static void record(const char *fn, enum target t, int fd, int flags, const char *path)
{
	struct call *c;

	if (!g_rec || g_ncalls >= ARRAY_SIZE(g_calls))
		return;
	c = &g_calls[g_ncalls++];
	(void)snprintf(c->fn, sizeof(c->fn), "%s", fn);
	c->target = t;
	c->fd = fd;
	c->flags = flags;
	(void)snprintf(c->path, sizeof(c->path), "%s", path ? path : "");
}

/* Whether this call must fail: returns the errno, or 0 to run the real call. */
static int armed(const char *fn, enum target t)
{
	if (!g_fault.fn || strcmp(g_fault.fn, fn) != 0 || g_fault.short_write)
		return 0;
	if (g_fault.target != T_ANY && g_fault.target != t)
		return 0;
	if (g_fault_left == 0)
		return 0;
	if (g_fault_left > 0)
		g_fault_left--;
	return g_fault.err;
}

static void arm(const struct fault *f)
{
	g_fault = *f;
	g_fault_left = f->times;
}

static void disarm(void)
{
	memset(&g_fault, 0, sizeof(g_fault));
	g_fault_left = 0;
}

static void rec_start(void)
{
	g_ncalls = 0;
	g_rec = 1;
}

static void rec_stop(void)
{
	g_rec = 0;
}

static size_t rec_count(const char *fn)
{
	size_t i, n = 0;

	for (i = 0; i < g_ncalls; i++)
		if (strcmp(g_calls[i].fn, fn) == 0)
			n++;
	return n;
}

int __wrap_openat(int dfd, const char *path, int flags, ...);
int __wrap_openat(int dfd, const char *path, int flags, ...)
{
	enum target t = path[0] == ',' ? T_TMP : (flags & O_DIRECTORY) ? T_DIR : T_FILE;
	mode_t mode = 0;
	int err, fd;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_list ap;

		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	err = armed("openat", t);
	if (err) {
		record("openat", t, -1, flags, path);
		errno = err;
		return -1;
	}
	fd = __real_openat(dfd, path, flags, mode);
	record("openat", t, fd, flags, path);
	return fd;
}

ssize_t __wrap_write(int fd, const void *p, size_t n);
ssize_t __wrap_write(int fd, const void *p, size_t n)
{
	int err = armed("write", T_FILE);

	record("write", T_FILE, fd, 0, NULL);
	if (err) {
		errno = err;
		return -1;
	}
	if (g_fault.fn && strcmp(g_fault.fn, "write") == 0 && g_fault.short_write &&
	    n > g_fault.short_write)
		n = g_fault.short_write;
	return __real_write(fd, p, n);
}

int __wrap_fsync(int fd);
int __wrap_fsync(int fd)
{
	enum target t = fd_target(fd);
	int err = armed("fsync", t);

	record("fsync", t, fd, 0, NULL);
	if (err) {
		errno = err;
		return -1;
	}
	return __real_fsync(fd);
}

int __wrap_syncfs(int fd);
int __wrap_syncfs(int fd)
{
	int err = armed("syncfs", T_ANY);

	record("syncfs", T_DIR, fd, 0, NULL);
	if (err) {
		errno = err;
		return -1;
	}
	return __real_syncfs(fd);
}

int __wrap_renameat(int od, const char *op, int nd, const char *np);
int __wrap_renameat(int od, const char *op, int nd, const char *np)
{
	int err = armed("renameat", op[0] == ',' ? T_TMP : T_FILE);

	record("renameat", T_TMP, od, 0, np);
	if (err) {
		errno = err;
		return -1;
	}
	return __real_renameat(od, op, nd, np);
}

int __wrap_mkdirat(int dfd, const char *path, mode_t mode);
int __wrap_mkdirat(int dfd, const char *path, mode_t mode)
{
	int err = armed("mkdirat", T_ANY);

	record("mkdirat", T_DIR, dfd, 0, path);
	if (err) {
		errno = err;
		return -1;
	}
	return __real_mkdirat(dfd, path, mode);
}

int __wrap_unlinkat(int dfd, const char *path, int flags);
int __wrap_unlinkat(int dfd, const char *path, int flags)
{
	int err = armed("unlinkat", (flags & AT_REMOVEDIR) ? T_DIR : T_FILE);

	record("unlinkat", (flags & AT_REMOVEDIR) ? T_DIR : T_FILE, dfd, flags, path);
	if (err) {
		errno = err;
		return -1;
	}
	return __real_unlinkat(dfd, path, flags);
}

/* ---- fixture and file helpers ------------------------------------------- */

struct fx {
	char root[PATH_MAX];	/* the temp dir */
	char kubelet[PATH_MAX]; /* root/kubelet */
	char op[PATH_MAX];	/* root/kubelet/seccomp/operator */
	char outside[PATH_MAX]; /* root/outside: what symlinks point at */
};

static void pathf(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pathf(char *out, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(out, PATH_MAX, fmt, ap);
	va_end(ap);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path);
	return unlink(path);
}

static void rm_rf(const char *path)
{
	(void)nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int setup(void **state)
{
	const char *tmp = getenv("TMPDIR");
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	(void)snprintf(f->root, sizeof(f->root), "%s/test_store.XXXXXX",
		       tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(f->root)) {
		free(f);
		return -1;
	}
	pathf(f->kubelet, "%s/kubelet", f->root);
	pathf(f->op, "%s/seccomp/operator", f->kubelet);
	pathf(f->outside, "%s/outside", f->root);
	if (mkdir(f->kubelet, 0755) < 0 || mkdir(f->outside, 0755) < 0) {
		rm_rf(f->root);
		free(f);
		return -1;
	}
	disarm();
	rec_stop();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	disarm();
	rec_stop();
	rm_rf(f->root);
	free(f);
	return 0;
}

/* The whole file, or NULL when it cannot be opened; *len gets its length. */
static char *slurp(const char *path, size_t *len)
{
	struct buf b;
	char chunk[8192];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0)
		return NULL;
	buf_init(&b, 0);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		assert_int_equal(buf_append(&b, chunk, (size_t)n), 0);
	(void)close(fd);
	return buf_detach(&b, len);
}

static void put_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

static void assert_file(const char *path, const void *data, size_t len)
{
	size_t got = 0;
	char *p = slurp(path, &got);

	assert_non_null(p);
	assert_int_equal(got, len);
	assert_memory_equal(p, data, len);
	free(p);
}

/* Everything under @path, one line per entry: what a symlink attack must not change. */
static struct buf g_snap;
static size_t g_snap_skip;

static int snap_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	uint8_t dg[SHA256_LEN] = { 0 };
	char hex[SHA256_HEX_LEN], link[PATH_MAX] = "";

	(void)flag;
	(void)ftw;
	if (S_ISREG(st->st_mode)) {
		size_t len;
		char *p = slurp(path, &len);

		assert_non_null(p);
		sha256(p, len, dg);
		free(p);
	} else if (S_ISLNK(st->st_mode)) {
		ssize_t n = readlink(path, link, sizeof(link) - 1);

		link[n > 0 ? n : 0] = '\0';
	}
	sha256_hex(dg, hex);
	return buf_appendf(&g_snap, "%s %o %lld %lld.%09ld %s %s\n", path + g_snap_skip,
			   (unsigned)st->st_mode, (long long)st->st_size,
			   (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec, hex, link);
}

static char *snapshot(const char *path)
{
	buf_init(&g_snap, 0);
	g_snap_skip = strlen(path);
	assert_int_equal(nftw(path, snap_one, 16, FTW_PHYS), 0);
	return buf_detach(&g_snap, NULL);
}

/* Names in a directory that start with ',': leftover temp files. */
static size_t count_temps(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (e->d_name[0] == ',')
			n++;
	(void)closedir(d);
	return n;
}

static int temps_in_tree;
static int temp_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	if (path[ftw->base] == ',')
		temps_in_tree++;
	return 0;
}

static int count_temps_tree(const char *root)
{
	temps_in_tree = 0;
	(void)nftw(root, temp_one, 16, FTW_PHYS);
	return temps_in_tree;
}

static int exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static struct store *open_store(struct fx *f, unsigned flags)
{
	struct store *s = NULL;
	struct diag d = { "" };
	int r = store_open(f->kubelet, flags, &s, &d);

	if (r != 0)
		print_error("store_open: %d %s\n", r, d.msg);
	assert_int_equal(r, 0);
	assert_non_null(s);
	return s;
}

/* ---- name policy --------------------------------------------------------- */

static void test_names(void **state)
{
	char k255[256], k256[257], ns64[65], ns63[64], cm254[255], cm253[254];
	const struct {
		const char *ns, *cm, *key;
		int ok;
	} cases[] = {
		{ "default", "profiles", "a.json", 1 },
		{ "kube-system", "my.cm-1", "A_b-c.9", 1 },
		{ "a", "b", "c", 1 },
		{ "0", "0.0", "-", 1 },
		{ "ns", "cm", ".hidden", 1 },
		{ "ns", "cm", "a..b", 1 },
		{ "ns", "cm", "x.", 1 },
		{ "ns", NULL, NULL, 1 },
		{ "ns", "cm", NULL, 1 },
		{ ns63, "cm", "k", 1 },
		{ "ns", cm253, "k", 1 },
		{ "ns", "cm", k255, 1 },
		/* refused */
		{ "", "cm", "k", 0 },
		{ NULL, "cm", "k", 0 },
		{ "ns", "", "k", 0 },
		{ "ns", "cm", "", 0 },
		{ "Default", "cm", "k", 0 },
		{ "NS", "cm", "k", 0 },
		{ "-ns", "cm", "k", 0 },
		{ "ns-", "cm", "k", 0 },
		{ "n.s", "cm", "k", 0 },
		{ "n_s", "cm", "k", 0 },
		{ ns64, "cm", "k", 0 },
		{ ".", "cm", "k", 0 },
		{ "..", "cm", "k", 0 },
		{ ",tmp", "cm", "k", 0 },
		{ ".seccomp-syncd", "cm", "k", 0 },
		{ "ns", "Cm", "k", 0 },
		{ "ns", ".cm", "k", 0 },
		{ "ns", "cm.", "k", 0 },
		{ "ns", "a..b", "k", 0 },
		{ "ns", "-a.b", "k", 0 },
		{ "ns", "a.-b", "k", 0 },
		{ "ns", "c/m", "k", 0 },
		{ "ns", "..", "k", 0 },
		{ "ns", cm254, "k", 0 },
		{ "ns", "cm", ".", 0 },
		{ "ns", "cm", "..", 0 },
		{ "ns", "cm", "..hidden", 0 },
		{ "ns", "cm", "../x", 0 },
		{ "ns", "cm", "a/b", 0 },
		{ "ns", "cm", "/abs", 0 },
		{ "ns", "cm", ",tmp", 0 },
		{ "ns", "cm", "a b", 0 },
		{ "ns", "cm", "a\nb", 0 },
		{ "ns", "cm", "caf\xc3\xa9", 0 },
		{ "ns", "cm", "a\\b", 0 },
		{ "ns", "cm", "a:b", 0 },
		{ "ns", "cm", k256, 0 },
		{ "ns", NULL, "k", 0 },
		{ "n/s", NULL, NULL, 0 },
	};
	size_t i;

	(void)state;
	memset(k255, 'k', 255);
	k255[255] = '\0';
	memset(k256, 'k', 256);
	k256[256] = '\0';
	memset(ns64, 'n', 64);
	ns64[64] = '\0';
	memset(ns63, 'n', 63);
	ns63[63] = '\0';
	/* 253 = 4 labels of 62 + 3 dots + 2; 254 one more. */
	memset(cm253, 'c', 253);
	cm253[62] = cm253[125] = cm253[188] = '.';
	cm253[253] = '\0';
	memset(cm254, 'c', 254);
	cm254[62] = cm254[125] = cm254[188] = '.';
	cm254[254] = '\0';

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct diag d = { "" };
		int r = store_check_name(cases[i].ns, cases[i].cm, cases[i].key, &d);

		if ((r == 0) != cases[i].ok)
			print_error("case %zu: ns=%s cm=%s key=%s -> %d '%s'\n", i,
				    cases[i].ns ? cases[i].ns : "(null)",
				    cases[i].cm ? cases[i].cm : "(null)",
				    cases[i].key ? cases[i].key : "(null)", r, d.msg);
		assert_int_equal(r, cases[i].ok ? 0 : -EINVAL);
		if (!cases[i].ok) {
			size_t j;

			/* A clear message, with no raw control bytes from the name. */
			assert_true(strlen(d.msg) > 10);
			for (j = 0; d.msg[j]; j++)
				assert_true((unsigned char)d.msg[j] >= 0x20);
		}
	}
}

static void test_names_counted(void **state)
{
	static const struct {
		const char *name;
		size_t len;
		enum store_name_kind kind;
		int ok;
	} cases[] = {
		{ "abc", 3, STORE_NAME_KEY, 1 },	 { "abc\0def", 7, STORE_NAME_KEY, 0 },
		{ "\0", 1, STORE_NAME_KEY, 0 },		 { "abc\0", 4, STORE_NAME_KEY, 0 },
		{ "ns\0x", 4, STORE_NAME_NS, 0 },	 { "cm\0.x", 5, STORE_NAME_CM, 0 },
		{ "cm.x", 4, STORE_NAME_CM, 1 },	 { "ns", 0, STORE_NAME_NS, 0 },
		{ "ab", 1, STORE_NAME_KEY, 1 }, /* only @len bytes count */
		{ "ab", 2, (enum store_name_kind)7, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct diag d = { "" };
		int r = store_check_name_len(cases[i].kind, cases[i].name, cases[i].len, &d);

		assert_int_equal(r, cases[i].ok ? 0 : -EINVAL);
		if (!cases[i].ok)
			assert_true(d.msg[0] != '\0');
	}
	/* A NUL in a C string cuts the name: "ab\0../x" is the harmless "ab". */
	{
		struct diag d = { "" };

		assert_int_equal(store_check_name("ns", "cm", "ab\0../x", &d), 0);
		assert_int_equal(store_check_name_len(STORE_NAME_KEY, "ab\0../x", 7, &d), -EINVAL);
		assert_non_null(strstr(d.msg, "NUL"));
	}
	assert_int_equal(store_check_name_len(STORE_NAME_KEY, NULL, 0, NULL), -EINVAL);
}

/* Every operation that takes names refuses a bad one before touching the disk. */
static void test_names_enforced(void **state)
{
	static const struct {
		const char *ns, *cm, *key;
		int level; /* which name is bad: 0 ns, 1 cm, 2 key */
	} bad[] = {
		{ "../x", "cm", "k", 0 }, { "NS", "cm", "k", 0 },	 { "", "cm", "k", 0 },
		{ "a/b", "cm", "k", 0 },  { NULL, "cm", "k", 0 },	 { "..", "cm", "k", 0 },
		{ "ns", "../x", "k", 1 }, { "ns", "", "k", 1 },		 { "ns", "a/b", "k", 1 },
		{ "ns", NULL, "k", 1 },	  { "ns", "..", "k", 1 },	 { "ns", "cm", "../x", 2 },
		{ "ns", "cm", "a/b", 2 }, { "ns", "cm", "..hidden", 2 }, { "ns", "cm", "", 2 },
		{ "ns", "cm", ".", 2 },	  { "ns", "cm", NULL, 2 },
	};
	struct fx *f = *state;
	struct store *s = open_store(f, 0);
	char *before = snapshot(f->root), *after;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		struct diag d = { "" };
		struct store_entry *v = NULL;
		size_t n = 0;

		assert_int_equal(store_write(s, bad[i].ns, bad[i].cm, bad[i].key, "x", 1, &d),
				 -EINVAL);
		assert_true(d.msg[0] != '\0');
		assert_int_equal(store_remove(s, bad[i].ns, bad[i].cm, bad[i].key, &d), -EINVAL);
		if (bad[i].level <= 1)
			assert_int_equal(store_remove_configmap(s, bad[i].ns, bad[i].cm, &d),
					 -EINVAL);
		if (bad[i].level == 0)
			assert_int_equal(store_list(s, bad[i].ns ? bad[i].ns : "", &v, &n, &d),
					 -EINVAL);
		assert_null(v);
	}
	after = snapshot(f->root);
	assert_string_equal(before, after);
	free(before);
	free(after);
	store_close(s);
}

/* ---- open, lock, sweep --------------------------------------------------- */

static void test_open_creates(void **state)
{
	struct fx *f = *state;
	char p[PATH_MAX];
	struct stat st;
	struct store *s;
	struct diag d = { "" };
	mode_t old = umask(077);

	s = open_store(f, 0);
	(void)umask(old);
	pathf(p, "%s/seccomp", f->kubelet);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_int_equal(lstat(f->op, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_int_equal(store_swept(s), 0);
	store_close(s);
	store_close(NULL);
	assert_int_equal(store_swept(NULL), 0);

	/* Reopening an existing store works, and bad arguments are refused. */
	s = open_store(f, STORE_NO_OPENAT2);
	store_close(s);
	s = NULL;
	assert_int_equal(store_open("", 0, &s, &d), -EINVAL);
	assert_int_equal(store_open(NULL, 0, &s, &d), -EINVAL);
	assert_int_equal(store_open(f->kubelet, 0x80, &s, &d), -EINVAL);
	pathf(p, "%s/missing", f->root);
	assert_int_equal(store_open(p, 0, &s, &d), -ENOENT);
	assert_non_null(strstr(d.msg, "missing"));
	assert_false(exists(p));
	assert_null(s);
}

static void test_open_symlinks(void **state)
{
	struct fx *f = *state;
	char link[PATH_MAX], p[PATH_MAX], real[PATH_MAX];
	struct store *s = NULL;
	struct diag d = { "" };
	char *before, *after;
	int r;

	/* The kubelet directory itself may be a symlink. */
	pathf(link, "%s/kubelet-link", f->root);
	assert_int_equal(symlink(f->kubelet, link), 0);
	assert_int_equal(store_open(link, 0, &s, &d), 0);
	store_close(s);
	s = NULL;

	/* seccomp/ or operator/ as a symlink is refused: nothing below the kubelet dir is followed. */
	pathf(real, "%s/k2", f->root);
	assert_int_equal(mkdir(real, 0755), 0);
	pathf(p, "%s/seccomp", real);
	assert_int_equal(symlink(f->outside, p), 0);
	before = snapshot(f->outside);
	r = store_open(real, 0, &s, &d);
	assert_true(r == -ELOOP || r == -ENOTDIR);
	assert_non_null(strstr(d.msg, "not followed"));
	assert_null(s);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(mkdir(p, 0755), 0);
	pathf(p, "%s/seccomp/operator", real);
	assert_int_equal(symlink(f->outside, p), 0);
	r = store_open(real, STORE_NO_OPENAT2, &s, &d);
	assert_true(r == -ELOOP || r == -ENOTDIR);
	assert_null(s);
	assert_int_equal(unlink(p), 0);
	put_file(p, "not a dir", 0644);
	assert_int_equal(store_open(real, 0, &s, &d), -ENOTDIR);
	after = snapshot(f->outside);
	assert_string_equal(before, after);
	free(before);
	free(after);
}

static void test_lock(void **state)
{
	struct fx *f = *state;
	struct store *s = open_store(f, 0), *s2 = NULL;
	struct diag d = { "" };
	struct timespec t0, t1;
	int pfd[2], status;
	char c;
	pid_t pid;

	/* A second open file description in the same process conflicts too. */
	assert_int_equal(store_open(f->kubelet, 0, &s2, &d), -EWOULDBLOCK);
	assert_non_null(strstr(d.msg, f->op));
	assert_non_null(strstr(d.msg, "lock"));
	assert_null(s2);
	store_close(s);
	s2 = open_store(f, 0);
	store_close(s2);
	s2 = NULL;

	/* Another process holds it: fail at once, or wait for it with STORE_WAIT_LOCK. */
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *cs = NULL;

		if (store_open(f->kubelet, 0, &cs, NULL) != 0)
			_exit(1);
		if (write(pfd[1], "x", 1) != 1)
			_exit(2);
		(void)usleep(300 * 1000);
		store_close(cs);
		_exit(0);
	}
	(void)close(pfd[1]);
	assert_int_equal(read(pfd[0], &c, 1), 1);
	(void)close(pfd[0]);
	assert_int_equal(store_open(f->kubelet, 0, &s2, &d), -EWOULDBLOCK);
	assert_non_null(strstr(d.msg, "another seccomp-syncd"));
	assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &t0), 0);
	assert_int_equal(store_open(f->kubelet, STORE_WAIT_LOCK, &s2, &d), 0);
	assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &t1), 0);
	assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 >= 100);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	store_close(s2);
}

static void test_sweep(void **state)
{
	struct fx *f = *state;
	struct store *s = open_store(f, 0);
	char p[PATH_MAX];
	struct diag d = { "" };

	assert_int_equal(store_write(s, "ns", "cm", "k", "keep", 4, &d), 0);
	store_close(s);
	/* What a writer killed mid-write leaves, at every level. */
	pathf(p, "%s/ns/cm/,k.0badf00d", f->op);
	put_file(p, "partial", 0644);
	pathf(p, "%s/ns/cm/,other.12345678", f->op);
	put_file(p, "", 0600);
	pathf(p, "%s/,.seccomp-syncd.00000001", f->op);
	put_file(p, "v", 0644);
	pathf(p, "%s/ns/,stray", f->op);
	put_file(p, "x", 0644);
	pathf(p, "%s/new", f->op); /* a ConfigMap whose first write died */
	assert_int_equal(mkdir(p, 0755), 0);
	pathf(p, "%s/new/cm", f->op);
	assert_int_equal(mkdir(p, 0755), 0);
	pathf(p, "%s/new/cm/,k.00000000", f->op);
	put_file(p, "half", 0644);
	pathf(p, "%s/ns/cm/,dir", f->op); /* not a file we make: kept */
	assert_int_equal(mkdir(p, 0755), 0);
	pathf(p, "%s/empty", f->op); /* empty, but not emptied by the sweep: kept */
	assert_int_equal(mkdir(p, 0755), 0);

	s = open_store(f, 0);
	assert_int_equal(store_swept(s), 5);
	pathf(p, "%s/ns/cm/k", f->op);
	assert_file(p, "keep", 4);
	pathf(p, "%s/ns/cm", f->op);
	assert_int_equal(count_temps(p), 1);
	pathf(p, "%s/ns/cm/,dir", f->op);
	assert_true(exists(p));
	assert_int_equal(count_temps(f->op), 0);
	pathf(p, "%s/new", f->op);
	assert_false(exists(p));
	pathf(p, "%s/empty", f->op);
	assert_true(exists(p));
	store_close(s);
}

/* ---- write --------------------------------------------------------------- */

static void test_write_basic(void **state)
{
	struct fx *f = *state;
	struct store *s;
	char p[PATH_MAX], k255[256];
	struct stat st, st2;
	struct diag d = { "" };
	mode_t old;
	char *big;

	old = umask(077);
	s = open_store(f, 0);
	assert_int_equal(store_write(s, "default", "profiles", "a.json", "{\"a\":1}", 7, &d), 0);
	(void)umask(old);
	pathf(p, "%s/default/profiles/a.json", f->op);
	assert_file(p, "{\"a\":1}", 7);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0644);
	pathf(p, "%s/default", f->op);
	assert_int_equal(lstat(p, &st2), 0);
	assert_int_equal(st2.st_mode & 07777, 0755);
	pathf(p, "%s/default/profiles", f->op);
	assert_int_equal(lstat(p, &st2), 0);
	assert_int_equal(st2.st_mode & 07777, 0755);
	assert_int_equal(count_temps(p), 0);

	/* Same bytes: nothing happens, not even a new inode. */
	assert_int_equal(store_write(s, "default", "profiles", "a.json", "{\"a\":1}", 7, &d),
			 STORE_UNCHANGED);
	pathf(p, "%s/default/profiles/a.json", f->op);
	assert_int_equal(lstat(p, &st2), 0);
	assert_int_equal(st2.st_ino, st.st_ino);
	assert_int_equal(st2.st_mtim.tv_sec, st.st_mtim.tv_sec);
	assert_int_equal(st2.st_mtim.tv_nsec, st.st_mtim.tv_nsec);

	/* New bytes, a prefix, a longer version, empty. */
	assert_int_equal(store_write(s, "default", "profiles", "a.json", "{\"a\":2}", 7, &d), 0);
	assert_file(p, "{\"a\":2}", 7);
	assert_int_equal(store_write(s, "default", "profiles", "a.json", "{\"a\"", 4, &d), 0);
	assert_file(p, "{\"a\"", 4);
	assert_int_equal(store_write(s, "default", "profiles", "a.json", "{\"a\":22}", 8, &d), 0);
	assert_file(p, "{\"a\":22}", 8);
	assert_int_equal(store_write(s, "default", "profiles", "a.json", NULL, 0, &d), 0);
	assert_file(p, "", 0);
	assert_int_equal(store_write(s, "default", "profiles", "a.json", "", 0, &d),
			 STORE_UNCHANGED);

	/* The right bytes with the wrong mode are rewritten to 0644. */
	assert_int_equal(chmod(p, 0600), 0);
	assert_int_equal(store_write(s, "default", "profiles", "a.json", "", 0, &d), 0);
	assert_int_equal(lstat(p, &st2), 0);
	assert_int_equal(st2.st_mode & 07777, 0644);

	/* A 255-byte key: the temp name is cut to fit NAME_MAX. */
	memset(k255, 'k', 255);
	k255[255] = '\0';
	assert_int_equal(store_write(s, "default", "profiles", k255, "x", 1, &d), 0);
	pathf(p, "%s/default/profiles/%s", f->op, k255);
	assert_file(p, "x", 1);

	/* The size bound, and bad arguments. */
	big = calloc(1, STORE_DATA_MAX + 1);
	assert_non_null(big);
	memset(big, ' ', STORE_DATA_MAX + 1);
	assert_int_equal(store_write(s, "default", "profiles", "big", big, STORE_DATA_MAX + 1, &d),
			 -EFBIG);
	assert_non_null(strstr(d.msg, "operator/default/profiles/big"));
	pathf(p, "%s/default/profiles/big", f->op);
	assert_false(exists(p));
	assert_int_equal(store_write(s, "default", "profiles", "big", big, STORE_DATA_MAX, &d), 0);
	assert_file(p, big, STORE_DATA_MAX);
	free(big);
	assert_int_equal(store_write(s, "default", "profiles", "x", NULL, 3, &d), -EINVAL);
	assert_int_equal(store_write(NULL, "default", "profiles", "x", "x", 1, &d), -EINVAL);

	/* A directory squatting the key: an error, the directory stays. */
	pathf(p, "%s/default/profiles/dir", f->op);
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(store_write(s, "default", "profiles", "dir", "x", 1, &d), -EISDIR);
	assert_true(exists(p));
	pathf(p, "%s/default/profiles", f->op);
	assert_int_equal(count_temps(p), 0);
	store_close(s);
}

/* A file the runtime's open would block on, or a squatter of any kind, is replaced as a name. */
static void test_write_over_fifo(void **state)
{
	struct fx *f = *state;
	struct store *s = open_store(f, 0);
	char p[PATH_MAX];
	struct diag d = { "" };
	struct stat st;

	assert_int_equal(store_write(s, "ns", "cm", "other", "o", 1, &d), 0);
	pathf(p, "%s/ns/cm/fifo", f->op);
	assert_int_equal(mkfifo(p, 0644), 0);
	assert_int_equal(store_write(s, "ns", "cm", "fifo", "data", 4, &d), 0);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_file(p, "data", 4);
	store_close(s);
}

/* The durability order, seen through the wrapped calls. */
static void test_write_order(void **state)
{
	struct fx *f = *state;
	struct store *s = open_store(f, STORE_NO_OPENAT2);
	struct diag d = { "" };
	size_t i, first = 0;
	int tmpfd;

	/* First write: directories are made and their parents synced. */
	rec_start();
	assert_int_equal(store_write(s, "ns", "cm", "k", "one", 3, &d), 0);
	rec_stop();
	assert_int_equal(rec_count("mkdirat"), 2);
	for (i = 0; i < g_ncalls; i++) {
		if (strcmp(g_calls[i].fn, "mkdirat") != 0)
			continue;
		/* mkdirat, then (after the open of the new dir) fsync of the parent it is in */
		assert_true(i + 2 < g_ncalls);
		assert_string_equal(g_calls[i + 1].fn, "openat");
		assert_string_equal(g_calls[i + 2].fn, "fsync");
		assert_int_equal(g_calls[i + 2].fd, g_calls[i].fd);
	}

	/* A changed rewrite: exactly open temp, write, fsync(temp), rename, fsync(dir). */
	rec_start();
	assert_int_equal(store_write(s, "ns", "cm", "k", "two!", 4, &d), 0);
	rec_stop();
	for (i = 0; i < g_ncalls; i++)
		if (strcmp(g_calls[i].fn, "openat") == 0 && (g_calls[i].flags & O_CREAT))
			break;
	first = i;
	assert_true(first < g_ncalls);
	for (i = 0; i < first; i++) {
		assert_string_equal(g_calls[i].fn, "openat");
		assert_false(g_calls[i].flags & (O_WRONLY | O_RDWR | O_CREAT));
	}
	assert_int_equal(g_ncalls - first, 5);
	tmpfd = g_calls[first].fd;
	assert_int_equal(g_calls[first].target, T_TMP);
	assert_true(g_calls[first].flags & O_EXCL);
	assert_true(g_calls[first].flags & O_NOFOLLOW);
	assert_true(g_calls[first].flags & O_CLOEXEC);
	assert_string_equal(g_calls[first + 1].fn, "write");
	assert_int_equal(g_calls[first + 1].fd, tmpfd);
	assert_string_equal(g_calls[first + 2].fn, "fsync");
	assert_int_equal(g_calls[first + 2].fd, tmpfd);
	assert_int_equal(g_calls[first + 2].target, T_FILE);
	assert_string_equal(g_calls[first + 3].fn, "renameat");
	assert_string_equal(g_calls[first + 3].path, "k");
	assert_string_equal(g_calls[first + 4].fn, "fsync");
	assert_int_equal(g_calls[first + 4].target, T_DIR);

	/* An unchanged rewrite: reads only. */
	rec_start();
	assert_int_equal(store_write(s, "ns", "cm", "k", "two!", 4, &d), STORE_UNCHANGED);
	rec_stop();
	assert_int_equal(rec_count("write"), 0);
	assert_int_equal(rec_count("fsync"), 0);
	assert_int_equal(rec_count("renameat"), 0);
	assert_int_equal(rec_count("mkdirat"), 0);
	assert_int_equal(rec_count("unlinkat"), 0);
	assert_int_equal(rec_count("syncfs"), 0);
	for (i = 0; i < g_ncalls; i++) {
		assert_string_equal(g_calls[i].fn, "openat");
		assert_false(g_calls[i].flags & (O_WRONLY | O_RDWR | O_CREAT));
	}
	store_close(s);
}

/* Each injected failure: an error, the previous file intact, no temp file, no new directory. */
static void test_write_faults(void **state)
{
	static const struct {
		struct fault f;
		int new_cm; /* write into a new ConfigMap (tests mkdirat) */
		int want;   /* 0: retried and written; <0: this error */
	} cases[] = {
		{ { "write", T_FILE, EIO, 1, 0 }, 0, -EIO },
		{ { "write", T_FILE, ENOSPC, 1, 0 }, 0, -ENOSPC },
		{ { "write", T_FILE, EDQUOT, 1, 0 }, 0, -EDQUOT },
		{ { "write", T_FILE, EINTR, 3, 0 }, 0, 0 },
		{ { "write", T_FILE, 0, 0, 1000 }, 0, 0 }, /* short writes */
		{ { "write", T_FILE, 0, 0, 1 }, 0, 0 },
		{ { "fsync", T_FILE, EIO, 1, 0 }, 0, -EIO },
		{ { "fsync", T_FILE, ENOSPC, 1, 0 }, 0, -ENOSPC },
		{ { "fsync", T_FILE, EDQUOT, 1, 0 }, 0, -EDQUOT },
		{ { "fsync", T_FILE, EINTR, 1, 0 }, 0, 0 },
		{ { "openat", T_TMP, ENOSPC, 1, 0 }, 0, -ENOSPC },
		{ { "openat", T_TMP, EDQUOT, 1, 0 }, 0, -EDQUOT },
		{ { "openat", T_TMP, EIO, 1, 0 }, 0, -EIO },
		{ { "openat", T_TMP, EACCES, 1, 0 }, 0, -EACCES },
		{ { "openat", T_TMP, EROFS, 1, 0 }, 0, -EROFS },
		{ { "openat", T_TMP, EINTR, 2, 0 }, 0, 0 },
		{ { "openat", T_TMP, EEXIST, 3, 0 }, 0, 0 }, /* a fresh name is tried */
		{ { "openat", T_TMP, EEXIST, -1, 0 }, 0, -EEXIST },
		{ { "openat", T_DIR, EIO, 1, 0 }, 0, -EIO },
		{ { "renameat", T_TMP, EIO, 1, 0 }, 0, -EIO },
		{ { "renameat", T_TMP, ENOSPC, 1, 0 }, 0, -ENOSPC },
		{ { "renameat", T_TMP, EDQUOT, 1, 0 }, 0, -EDQUOT },
		{ { "mkdirat", T_ANY, ENOSPC, 1, 0 }, 1, -ENOSPC },
		{ { "mkdirat", T_ANY, EDQUOT, 1, 0 }, 1, -EDQUOT },
		{ { "mkdirat", T_ANY, EIO, 1, 0 }, 1, -EIO },
		{ { "fsync", T_DIR, EIO, 1, 0 }, 1, -EIO },	   /* the parent after mkdirat */
		{ { "write", T_FILE, ENOSPC, 1, 0 }, 1, -ENOSPC }, /* new dirs are rolled back */
	};
	struct fx *f = *state;
	char p[PATH_MAX], dir[PATH_MAX], *newdata;
	size_t i, newlen = 20000;

	newdata = malloc(newlen);
	assert_non_null(newdata);
	for (i = 0; i < newlen; i++)
		newdata[i] = (char)('a' + i % 26);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct store *s = open_store(f, STORE_NO_OPENAT2);
		struct diag d = { "" };
		const char *ns = cases[i].new_cm ? "fresh" : "ns";
		int r;

		assert_int_equal(store_write(s, "ns", "cm", "k", "previous", 8, &d), 0);
		arm(&cases[i].f);
		r = store_write(s, ns, "cm", "k", newdata, newlen, &d);
		disarm();
		if (r != cases[i].want)
			print_error("case %zu (%s %d): %d '%s'\n", i, cases[i].f.fn, cases[i].f.err,
				    r, d.msg);
		assert_int_equal(r, cases[i].want);
		pathf(p, "%s/%s/cm/k", f->op, ns);
		pathf(dir, "%s/%s/cm", f->op, ns);
		if (r == 0) {
			assert_file(p, newdata, newlen);
		} else {
			assert_true(strlen(d.msg) > 0);
			assert_non_null(strstr(d.msg, "operator/"));
			if (cases[i].new_cm) {
				pathf(dir, "%s/fresh", f->op);
				assert_false(exists(dir));
			} else {
				assert_file(p, "previous", 8);
				assert_int_equal(count_temps(dir), 0);
			}
		}
		pathf(p, "%s/ns/cm/k", f->op);
		if (cases[i].new_cm)
			assert_file(p, "previous", 8);
		assert_int_equal(count_temps_tree(f->op), 0);
		assert_int_equal(store_remove_configmap(s, "ns", "cm", &d), 0);
		(void)store_remove_configmap(s, "fresh", "cm", &d);
		store_close(s);
	}
	free(newdata);
}

/*
 * The directory fsync after the rename fails: the new file is in place (there
 * is no undoing a rename) but the error is returned, and the next write syncs
 * the file system before it trusts what it reads.
 */
static void test_write_dir_sync_fails(void **state)
{
	static const struct fault dirsync = { "fsync", T_DIR, EIO, 1, 0 };
	static const struct fault fsfail = { "syncfs", T_ANY, EIO, 1, 0 };
	struct fx *f = *state;
	struct store *s = open_store(f, STORE_NO_OPENAT2);
	struct diag d = { "" };
	char p[PATH_MAX];

	assert_int_equal(store_write(s, "ns", "cm", "k", "old", 3, &d), 0);
	arm(&dirsync);
	assert_int_equal(store_write(s, "ns", "cm", "k", "new", 3, &d), -EIO);
	disarm();
	assert_non_null(strstr(d.msg, "cannot sync its directory"));
	pathf(p, "%s/ns/cm/k", f->op);
	assert_file(p, "new", 3);
	pathf(p, "%s/ns/cm", f->op);
	assert_int_equal(count_temps(p), 0);

	arm(&fsfail);
	assert_int_equal(store_write(s, "ns", "cm", "k", "new", 3, &d), -EIO);
	disarm();
	rec_start();
	assert_int_equal(store_write(s, "ns", "cm", "k", "new", 3, &d), STORE_UNCHANGED);
	rec_stop();
	assert_int_equal(rec_count("syncfs"), 1);
	rec_start();
	assert_int_equal(store_write(s, "ns", "cm", "k", "new", 3, &d), STORE_UNCHANGED);
	rec_stop();
	assert_int_equal(rec_count("syncfs"), 0);
	store_close(s);
}

/* ---- remove ------------------------------------------------------------- */

static void test_remove(void **state)
{
	struct fx *f = *state;
	struct store *s = open_store(f, STORE_NO_OPENAT2);
	struct diag d = { "" };
	char p[PATH_MAX];
	size_t i;

	assert_int_equal(store_write(s, "a", "cm1", "k1", "1", 1, &d), 0);
	assert_int_equal(store_write(s, "a", "cm1", "k2", "2", 1, &d), 0);
	assert_int_equal(store_write(s, "a", "cm2", "k1", "3", 1, &d), 0);
	assert_int_equal(store_write(s, "b", "cm", "k", "4", 1, &d), 0);

	rec_start();
	assert_int_equal(store_remove(s, "a", "cm1", "k1", &d), 0);
	rec_stop();
	/* unlink, then fsync of that directory; the ConfigMap still has a file: no prune */
	for (i = 0; i < g_ncalls && strcmp(g_calls[i].fn, "unlinkat") != 0; i++)
		;
	assert_true(i + 1 < g_ncalls);
	assert_int_equal(g_calls[i].flags, 0);
	assert_string_equal(g_calls[i + 1].fn, "fsync");
	assert_int_equal(g_calls[i + 1].fd, g_calls[i].fd);
	pathf(p, "%s/a/cm1/k1", f->op);
	assert_false(exists(p));
	pathf(p, "%s/a/cm1/k2", f->op);
	assert_true(exists(p));

	assert_int_equal(store_remove(s, "a", "cm1", "k1", &d), STORE_ABSENT);
	assert_int_equal(store_remove(s, "zz", "cm1", "k1", &d), STORE_ABSENT);
	assert_int_equal(store_remove(s, "a", "zz", "k1", &d), STORE_ABSENT);

	/* The last file of a ConfigMap: its directory goes; the namespace has another. */
	assert_int_equal(store_remove(s, "a", "cm1", "k2", &d), 0);
	pathf(p, "%s/a/cm1", f->op);
	assert_false(exists(p));
	pathf(p, "%s/a", f->op);
	assert_true(exists(p));
	/* The last of the namespace: it goes too, operator/ stays. */
	rec_start();
	assert_int_equal(store_remove(s, "a", "cm2", "k1", &d), 0);
	rec_stop();
	assert_false(exists(p));
	assert_true(exists(f->op));
	assert_int_equal(rec_count("fsync"), 3); /* cm dir, ns dir, operator/ */

	/* A leftover empty ConfigMap directory is pruned by a remove that finds nothing. */
	pathf(p, "%s/b/empty", f->op);
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(store_remove(s, "b", "empty", "k", &d), STORE_ABSENT);
	assert_false(exists(p));
	pathf(p, "%s/b/cm/k", f->op);
	assert_true(exists(p));

	/* A directory at the key is not removed by store_remove(). */
	pathf(p, "%s/b/cm/sub", f->op);
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(store_remove(s, "b", "cm", "sub", &d), -EISDIR);
	assert_non_null(strstr(d.msg, "operator/b/cm/sub"));
	assert_true(exists(p));
	assert_int_equal(rmdir(p), 0);

	/* An injected unlink failure is reported, the file stays. */
	{
		static const struct fault uf = { "unlinkat", T_FILE, EIO, 1, 0 };

		arm(&uf);
		assert_int_equal(store_remove(s, "b", "cm", "k", &d), -EIO);
		disarm();
		pathf(p, "%s/b/cm/k", f->op);
		assert_true(exists(p));
	}
	assert_int_equal(store_remove(NULL, "b", "cm", "k", &d), -EINVAL);
	store_close(s);
}

static void test_remove_configmap(void **state)
{
	struct fx *f = *state;
	struct store *s = open_store(f, STORE_NO_OPENAT2);
	struct diag d = { "" };
	char p[PATH_MAX];

	assert_int_equal(store_write(s, "a", "cm", "k1", "1", 1, &d), 0);
	assert_int_equal(store_write(s, "a", "cm", "k2", "2", 1, &d), 0);
	assert_int_equal(store_write(s, "a", "keep", "k", "3", 1, &d), 0);
	pathf(p, "%s/a/cm/,k1.00000000", f->op);
	put_file(p, "t", 0644);
	pathf(p, "%s/a/cm/emptydir", f->op);
	assert_int_equal(mkdir(p, 0755), 0);
	pathf(p, "%s/a/cm/link", f->op);
	assert_int_equal(symlink(f->outside, p), 0);

	assert_int_equal(store_remove_configmap(s, "a", "cm", &d), 0);
	pathf(p, "%s/a/cm", f->op);
	assert_false(exists(p));
	pathf(p, "%s/a/keep/k", f->op);
	assert_true(exists(p));
	assert_true(exists(f->outside));
	assert_int_equal(store_remove_configmap(s, "a", "cm", &d), STORE_ABSENT);
	assert_int_equal(store_remove_configmap(s, "zz", "cm", &d), STORE_ABSENT);

	/* The last ConfigMap of a namespace: the namespace directory goes too. */
	assert_int_equal(store_remove_configmap(s, "a", "keep", &d), 0);
	pathf(p, "%s/a", f->op);
	assert_false(exists(p));

	/* A non-empty directory inside is not recursed into: an error, nothing else lost. */
	assert_int_equal(store_write(s, "b", "cm", "k", "1", 1, &d), 0);
	pathf(p, "%s/b/cm/sub", f->op);
	assert_int_equal(mkdir(p, 0755), 0);
	pathf(p, "%s/b/cm/sub/file", f->op);
	put_file(p, "x", 0644);
	assert_int_equal(store_remove_configmap(s, "b", "cm", &d), -ENOTEMPTY);
	assert_non_null(strstr(d.msg, "operator/b/cm"));
	assert_true(exists(p));
	assert_int_equal(store_remove_configmap(NULL, "b", "cm", &d), -EINVAL);
	store_close(s);
}

/* ---- list ---------------------------------------------------------------- */

static const struct store_entry *find(const struct store_entry *v, size_t n, const char *ns,
				      const char *cm, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(v[i].ns, ns) && !strcmp(v[i].cm, cm) && !strcmp(v[i].key, key))
			return &v[i];
	return NULL;
}

/* store_walk() callback: count entries, check each against a store_list() array. */
struct walk_check {
	const struct store_entry *v;
	size_t n, seen, stop_at;
};

static int walk_cb(void *ctx, const struct store_entry *e, struct diag *d)
{
	struct walk_check *w = ctx;
	const struct store_entry *x = find(w->v, w->n, e->ns, e->cm, e->key);

	assert_non_null(x);
	assert_int_equal(x->type, e->type);
	assert_int_equal(x->size, e->size);
	assert_memory_equal(x->digest, e->digest, SHA256_LEN);
	if (++w->seen == w->stop_at)
		return diag_set(d, -ECANCELED, "stop after %zu", w->seen);
	return 0;
}

static void test_list(void **state)
{
	struct fx *f = *state;
	struct store *s = open_store(f, 0);
	struct store_entry *v = NULL;
	const struct store_entry *e;
	struct diag d = { "" };
	uint8_t dg[SHA256_LEN], zero[SHA256_LEN] = { 0 };
	char p[PATH_MAX];
	size_t n = 0, i;

	assert_int_equal(store_list(s, NULL, &v, &n, &d), 0);
	assert_int_equal(n, 0);
	free(v);

	assert_int_equal(store_write(s, "b", "cm", "k", "bbb", 3, &d), 0);
	assert_int_equal(store_write(s, "a", "cm.x", "z.json", "zz", 2, &d), 0);
	assert_int_equal(store_write(s, "a", "cm.x", "a.json", "aa", 2, &d), 0);
	assert_int_equal(store_state_set(s, "v1", &d), 0);
	/* Odd things at every level. */
	pathf(p, "%s/Upper", f->op);
	assert_int_equal(mkdir(p, 0755), 0);
	pathf(p, "%s/file-at-ns", f->op);
	put_file(p, "x", 0644);
	pathf(p, "%s/.hidden", f->op);
	assert_int_equal(mkdir(p, 0755), 0);
	pathf(p, "%s/a/Bad_cm", f->op);
	assert_int_equal(mkdir(p, 0755), 0);
	pathf(p, "%s/a/file-at-cm", f->op);
	put_file(p, "x", 0644);
	pathf(p, "%s/a/cm.x/sub", f->op);
	assert_int_equal(mkdir(p, 0755), 0);
	pathf(p, "%s/a/cm.x/bad name", f->op);
	put_file(p, "x", 0644);
	pathf(p, "%s/a/cm.x/fifo", f->op);
	assert_int_equal(mkfifo(p, 0644), 0);
	pathf(p, "%s/a/cm.x/link", f->op);
	assert_int_equal(symlink("z.json", p), 0);
	pathf(p, "%s/a/empty", f->op); /* an empty ConfigMap dir: nothing to report */
	assert_int_equal(mkdir(p, 0755), 0);

	assert_int_equal(store_list(s, NULL, &v, &n, &d), 0);
	assert_int_equal(n, 11);
	for (i = 1; i < n; i++) {
		int c = strcmp(v[i - 1].ns, v[i].ns);

		if (!c)
			c = strcmp(v[i - 1].cm, v[i].cm);
		if (!c)
			c = strcmp(v[i - 1].key, v[i].key);
		assert_true(c < 0);
	}
	e = find(v, n, "a", "cm.x", "a.json");
	assert_non_null(e);
	assert_int_equal(e->type, STORE_ENTRY_FILE);
	assert_int_equal(e->size, 2);
	sha256("aa", 2, dg);
	assert_memory_equal(e->digest, dg, SHA256_LEN);
	e = find(v, n, "b", "cm", "k");
	assert_non_null(e);
	assert_int_equal(e->type, STORE_ENTRY_FILE);
	sha256("bbb", 3, dg);
	assert_memory_equal(e->digest, dg, SHA256_LEN);
	assert_non_null(find(v, n, "a", "cm.x", "z.json"));
	{
		static const char *const other[][3] = {
			{ "Upper", "", "" },	 { "file-at-ns", "", "" },
			{ "a", "Bad_cm", "" },	 { "a", "file-at-cm", "" },
			{ "a", "cm.x", "sub" },	 { "a", "cm.x", "bad name" },
			{ "a", "cm.x", "fifo" }, { "a", "cm.x", "link" },
		};

		for (i = 0; i < ARRAY_SIZE(other); i++) {
			e = find(v, n, other[i][0], other[i][1], other[i][2]);
			assert_non_null(e);
			assert_int_equal(e->type, STORE_ENTRY_OTHER);
			assert_memory_equal(e->digest, zero, SHA256_LEN);
		}
	}
	/* The walk hands out exactly the listed entries; a callback error stops it. */
	{
		struct walk_check w = { v, n, 0, 0 };

		assert_int_equal(store_walk(s, NULL, walk_cb, &w, &d), 0);
		assert_int_equal(w.seen, n);
		w.seen = 0;
		assert_int_equal(store_walk(s, "a", walk_cb, &w, &d), 0);
		assert_int_equal(w.seen, 8);
		w.seen = 0;
		w.stop_at = 3;
		assert_int_equal(store_walk(s, NULL, walk_cb, &w, &d), -ECANCELED);
		assert_int_equal(w.seen, 3);
		assert_string_equal(d.msg, "stop after 3");
		assert_int_equal(store_walk(s, NULL, NULL, &w, &d), -EINVAL);
		assert_int_equal(store_walk(NULL, NULL, walk_cb, &w, &d), -EINVAL);
		assert_int_equal(store_walk(s, "Upper", walk_cb, &w, &d), -EINVAL);
	}
	free(v);
	v = NULL;

	/* One namespace only; an absent one is empty. */
	assert_int_equal(store_list(s, "b", &v, &n, &d), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].key, "k");
	free(v);
	v = NULL;
	assert_int_equal(store_list(s, "nope", &v, &n, &d), 0);
	assert_int_equal(n, 0);
	free(v);
	v = NULL;
	assert_int_equal(store_list(s, "Upper", &v, &n, &d), -EINVAL);
	assert_int_equal(store_list(NULL, NULL, &v, &n, &d), -EINVAL);

	/* A file larger than any profile is listed with a zero digest, which matches nothing. */
	{
		char *big = calloc(1, STORE_DATA_MAX + 10);

		assert_non_null(big);
		int fd;

		pathf(p, "%s/b/cm/huge", f->op);
		fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, big, STORE_DATA_MAX + 10), STORE_DATA_MAX + 10);
		(void)close(fd);
		free(big);
		assert_int_equal(store_list(s, "b", &v, &n, &d), 0);
		e = find(v, n, "b", "cm", "huge");
		assert_non_null(e);
		assert_int_equal(e->type, STORE_ENTRY_FILE);
		assert_int_equal(e->size, STORE_DATA_MAX + 10);
		assert_memory_equal(e->digest, zero, SHA256_LEN);
		free(v);
	}
	store_close(s);
}

/* ---- symlink attacks ------------------------------------------------------ */

static void symlink_attack(struct fx *f, unsigned flags)
{
	struct store *s = open_store(f, flags);
	struct store_entry *v = NULL;
	struct diag d = { "" };
	char p[PATH_MAX], q[PATH_MAX], *before, *after;
	struct stat st;
	size_t n = 0;
	int r;

	/* A target worth protecting, shaped like the store so that a followed link would fit. */
	pathf(p, "%s/cm", f->outside);
	assert_int_equal(mkdir(p, 0755), 0);
	pathf(p, "%s/cm/k", f->outside);
	put_file(p, "outside profile", 0644);
	pathf(p, "%s/victim", f->outside);
	put_file(p, "secret", 0600);
	before = snapshot(f->outside);

	/* operator/<ns> -> outside */
	pathf(p, "%s/evil", f->op);
	assert_int_equal(symlink(f->outside, p), 0);
	r = store_write(s, "evil", "cm", "k", "pwned", 5, &d);
	assert_true(r == -ELOOP || r == -ENOTDIR);
	assert_non_null(strstr(d.msg, "not followed"));
	r = store_write(s, "evil", "new", "k", "pwned", 5, &d);
	assert_true(r == -ELOOP || r == -ENOTDIR);
	r = store_remove(s, "evil", "cm", "k", &d);
	assert_true(r == -ELOOP || r == -ENOTDIR);
	r = store_remove_configmap(s, "evil", "cm", &d);
	assert_true(r == -ELOOP || r == -ENOTDIR);
	assert_int_equal(store_list(s, NULL, &v, &n, &d), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].ns, "evil");
	assert_int_equal(v[0].type, STORE_ENTRY_OTHER);
	free(v);
	v = NULL;
	assert_int_equal(store_list(s, "evil", &v, &n, &d), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].type, STORE_ENTRY_OTHER);
	free(v);
	v = NULL;
	assert_int_equal(unlink(p), 0);

	/* operator/<ns>/<cm> -> outside */
	assert_int_equal(store_write(s, "ns", "real", "k", "ok", 2, &d), 0);
	pathf(p, "%s/ns/cm", f->op);
	assert_int_equal(symlink(f->outside, p), 0);
	r = store_write(s, "ns", "cm", "k", "pwned", 5, &d);
	assert_true(r == -ELOOP || r == -ENOTDIR);
	r = store_write(s, "ns", "cm", "victim", "pwned", 5, &d);
	assert_true(r == -ELOOP || r == -ENOTDIR);
	r = store_remove(s, "ns", "cm", "k", &d);
	assert_true(r == -ELOOP || r == -ENOTDIR);
	assert_int_equal(store_list(s, NULL, &v, &n, &d), 0);
	assert_int_equal(n, 2);
	assert_non_null(find(v, n, "ns", "cm", ""));
	assert_int_equal(find(v, n, "ns", "cm", "")->type, STORE_ENTRY_OTHER);
	free(v);
	v = NULL;
	/* Removing the ConfigMap removes the link itself, not what it points at. */
	assert_int_equal(store_remove_configmap(s, "ns", "cm", &d), 0);
	assert_false(exists(p));

	/* operator/<ns>/<cm>/<key> -> outside/victim */
	pathf(p, "%s/ns/real/k", f->op);
	assert_int_equal(unlink(p), 0);
	pathf(q, "%s/victim", f->outside);
	assert_int_equal(symlink(q, p), 0);
	assert_int_equal(store_list(s, "ns", &v, &n, &d), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].type, STORE_ENTRY_OTHER);
	assert_string_equal(v[0].key, "k");
	free(v);
	v = NULL;
	/* Writing replaces the link with a file; it never writes through it. */
	assert_int_equal(store_write(s, "ns", "real", "k", "secret", 6, &d), 0);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_file(p, "secret", 6);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(symlink(q, p), 0);
	assert_int_equal(store_remove(s, "ns", "real", "k", &d), 0);
	assert_false(exists(p));
	assert_true(exists(q));

	/* The state file as a link. */
	pathf(p, "%s/%s", f->op, STORE_STATE_NAME);
	assert_int_equal(symlink(q, p), 0);
	{
		char buf[64];

		r = store_state_get(s, buf, sizeof(buf), &d);
		assert_true(r == -ELOOP || r == -EINVAL);
	}
	assert_int_equal(store_state_set(s, "v9", &d), 0);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISREG(st.st_mode));

	after = snapshot(f->outside);
	assert_string_equal(before, after);
	free(before);
	free(after);
	store_close(s);
}

static void test_symlink_attacks(void **state)
{
	symlink_attack(*state, 0);
}

static void test_symlink_attacks_no_openat2(void **state)
{
	symlink_attack(*state, STORE_NO_OPENAT2);
}

/*
 * openat2 filtered with ENOSYS (an old kernel, or a sandbox) or EPERM (a
 * sandbox whose default action does not know it): the store falls back to
 * openat(O_NOFOLLOW), both when the probe at open sees it and when it appears
 * later.  Raw BPF in a child, so that nothing else is affected.
 */
#if defined(__x86_64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#ifdef TEST_AUDIT_ARCH
static int deny_openat2(int err)
{
	struct sock_filter insns[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TEST_AUDIT_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (unsigned)err),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { (unsigned short)ARRAY_SIZE(insns), insns };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

static int fallback_child(struct fx *f, int filter_first, int err)
{
	struct store *s = NULL;
	struct store_entry *v = NULL;
	char p[PATH_MAX];
	size_t n = 0;
	int r, rc = 0;

	if (filter_first && deny_openat2(err) < 0)
		return 10;
	if (store_open(f->kubelet, 0, &s, NULL) != 0)
		return 11;
	if (!filter_first && deny_openat2(err) < 0)
		rc = 12;
	else if (store_write(s, "ns", "cm", "k", "fallback", 8, NULL) != 0)
		rc = 13;
	else if (store_write(s, "ns", "cm", "k", "fallback", 8, NULL) != STORE_UNCHANGED)
		rc = 14;
	else if ((r = store_write(s, "link", "cm", "k", "x", 1, NULL)) != -ELOOP && r != -ENOTDIR)
		rc = 15;
	else if (store_list(s, NULL, &v, &n, NULL) != 0 || n != 2)
		rc = 16;
	free(v);
	pathf(p, "%s/cm/k", f->outside);
	if (exists(p))
		rc = 17;
	store_close(s);
	return rc;
}

static void test_openat2_fallback(void **state)
{
	struct fx *f = *state;
	char p[PATH_MAX];
	static const struct {
		int filter_first, err;
	} cases[] = { { 0, ENOSYS }, { 1, ENOSYS }, { 0, EPERM }, { 1, EPERM } };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct store *s = open_store(f, 0);
		struct diag d = { "" };
		int status;
		pid_t pid;

		(void)store_remove_configmap(s, "ns", "cm", &d);
		store_close(s);
		pathf(p, "%s/link", f->op);
		(void)unlink(p);
		assert_int_equal(symlink(f->outside, p), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			_exit(fallback_child(f, cases[i].filter_first, cases[i].err));
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
		pathf(p, "%s/ns/cm/k", f->op);
		assert_file(p, "fallback", 8);
	}
}
#else
static void test_openat2_fallback(void **state)
{
	(void)state;
	skip();
}
#endif

/* ---- state file ------------------------------------------------------------ */

static void test_state(void **state)
{
	struct fx *f = *state;
	struct store *s = open_store(f, STORE_NO_OPENAT2);
	struct diag d = { "" };
	char buf[64], small[3], p[PATH_MAX], long_v[STORE_STATE_VALUE_MAX + 2];
	struct stat st;

	assert_int_equal(store_state_get(s, buf, sizeof(buf), &d), 0);
	assert_string_equal(buf, "");
	assert_int_equal(store_state_set(s, "1.0.0 libseccomp 2.5.4", &d), 0);
	assert_int_equal(store_state_get(s, buf, sizeof(buf), &d), 0);
	assert_string_equal(buf, "1.0.0 libseccomp 2.5.4");
	pathf(p, "%s/%s", f->op, STORE_STATE_NAME);
	assert_int_equal(lstat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(count_temps(f->op), 0);

	/* Same version again: no rewrite. */
	rec_start();
	assert_int_equal(store_state_set(s, "1.0.0 libseccomp 2.5.4", &d), 0);
	rec_stop();
	assert_int_equal(rec_count("renameat"), 0);
	assert_int_equal(store_state_set(s, "2", &d), 0);
	assert_int_equal(store_state_get(s, buf, sizeof(buf), &d), 0);
	assert_string_equal(buf, "2");

	assert_int_equal(store_state_set(s, "too long", &d), 0);
	assert_int_equal(store_state_get(s, small, sizeof(small), &d), -ERANGE);
	assert_int_equal(store_state_get(s, small, 0, &d), -EINVAL);
	assert_int_equal(store_state_set(s, "", &d), -EINVAL);
	assert_int_equal(store_state_set(s, "a\nvalidator=b", &d), -EINVAL);
	assert_int_equal(store_state_set(s, NULL, &d), -EINVAL);
	memset(long_v, 'v', sizeof(long_v) - 1);
	long_v[sizeof(long_v) - 1] = '\0';
	assert_int_equal(store_state_set(s, long_v, &d), -EINVAL);
	long_v[STORE_STATE_VALUE_MAX] = '\0';
	assert_int_equal(store_state_set(s, long_v, &d), 0);

	/* A state file without our line reads as "unknown"; an oversized one is an error. */
	put_file(p, "something else\n", 0644);
	assert_int_equal(store_state_get(s, buf, sizeof(buf), &d), 0);
	assert_string_equal(buf, "");
	{
		char big[5000];

		memset(big, '#', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		put_file(p, big, 0644);
		assert_int_equal(store_state_get(s, buf, sizeof(buf), &d), -EFBIG);
	}
	assert_int_equal(unlink(p), 0);
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(store_state_get(s, buf, sizeof(buf), &d), -EINVAL);
	assert_int_equal(rmdir(p), 0);
	store_close(s);
}

/* ---- processes: crash, concurrent reader --------------------------------- */

#define NVERSIONS 4
static const size_t version_len[NVERSIONS] = { 700, 13470, 70001, 100000 };

static char *make_version(size_t v)
{
	char *p = malloc(version_len[v]);
	size_t i;

	assert_non_null(p);
	for (i = 0; i < version_len[v]; i++)
		p[i] = (char)('A' + (v * 7 + i) % 53);
	return p;
}

static int is_version(char *const *versions, const char *p, size_t len)
{
	size_t v;

	for (v = 0; v < NVERSIONS; v++)
		if (len == version_len[v] && memcmp(p, versions[v], len) == 0)
			return 1;
	return 0;
}

static const char *const crash_keys[] = { "a.json", "b.json", "c.json" };

static void test_crash(void **state)
{
	struct fx *f = *state;
	char *versions[NVERSIONS];
	struct timespec t0, t1;
	size_t v, swept = 0;
	unsigned seed = (unsigned)getpid();
	int round, seen[ARRAY_SIZE(crash_keys)] = { 0 }, k;

	for (v = 0; v < NVERSIONS; v++)
		versions[v] = make_version(v);
	assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &t0), 0);
	for (round = 0; round < 200; round++) {
		struct store *s;
		struct store_entry *list = NULL;
		size_t n = 0, i;
		struct diag d = { "" };
		int status;
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0) {
			struct store *cs = NULL;
			unsigned long it;

			if (store_open(f->kubelet, STORE_WAIT_LOCK, &cs, NULL) != 0)
				_exit(1);
			for (it = (unsigned long)round;; it++) {
				const char *key = crash_keys[it % ARRAY_SIZE(crash_keys)];
				const char *cm = (it / 3) % 2 ? "cm" : "cm2";

				v = (it / 2) % NVERSIONS;
				if (store_write(cs, "ns", cm, key, versions[v], version_len[v],
						NULL) < 0)
					_exit(2);
				if (it % 11 == 0)
					(void)store_remove_configmap(cs, "ns", "cm2", NULL);
			}
		}
		(void)usleep((useconds_t)(rand_r(&seed) % 4000));
		assert_int_equal(kill(pid, SIGKILL), 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

		s = open_store(f, 0);
		swept += store_swept(s);
		assert_int_equal(count_temps_tree(f->op), 0);
		assert_int_equal(store_list(s, NULL, &list, &n, &d), 0);
		for (i = 0; i < n; i++) {
			char p[PATH_MAX], *data;
			size_t len = 0;

			assert_int_equal(list[i].type, STORE_ENTRY_FILE);
			pathf(p, "%s/%s/%s/%s", f->op, list[i].ns, list[i].cm, list[i].key);
			data = slurp(p, &len);
			assert_non_null(data);
			if (!is_version(versions, data, len))
				fail_msg("round %d: '%s' holds %zu bytes that are no complete "
					 "version",
					 round, p, len);
			free(data);
		}
		free(list);
		store_close(s);
		/* operator/ns/cm is never removed: once a profile is there, it stays there. */
		for (k = 0; k < (int)ARRAY_SIZE(crash_keys); k++) {
			char p[PATH_MAX];

			pathf(p, "%s/ns/cm/%s", f->op, crash_keys[k]);
			if (exists(p))
				seen[k] = 1;
			else if (seen[k])
				fail_msg("round %d: '%s' vanished", round, p);
		}
	}
	assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &t1), 0);
	print_message("crash: 200 kills in %.2f s, %zu temp files swept\n",
		      (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
		      swept);
	for (v = 0; v < NVERSIONS; v++)
		free(versions[v]);
}

/* The reader child: 0 when every read for 0.7 s was one complete version. */
static int poll_reader(char *const *versions, const char *path)
{
	struct timespec a, b;
	long reads = 0;

	(void)clock_gettime(CLOCK_MONOTONIC, &a);
	do {
		size_t len = 0;
		char *data = slurp(path, &len);
		int ok;

		if (!data)
			return 3;
		ok = is_version(versions, data, len);
		free(data);
		if (!ok)
			return 4;
		reads++;
		(void)clock_gettime(CLOCK_MONOTONIC, &b);
	} while ((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < 700);
	return reads > 10 ? 0 : 5;
}

/* A reader polling the file while a writer replaces it sees only complete versions. */
static void test_reader(void **state)
{
	struct fx *f = *state;
	struct store *s = open_store(f, 0);
	char *versions[NVERSIONS], p[PATH_MAX];
	struct diag d = { "" };
	struct timespec t0, t1;
	int status, writes = 0;
	size_t v;
	pid_t pid;

	for (v = 0; v < NVERSIONS; v++)
		versions[v] = make_version(v);
	assert_int_equal(store_write(s, "ns", "cm", "k", versions[0], version_len[0], &d), 0);
	pathf(p, "%s/ns/cm/k", f->op);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int rc = poll_reader(versions, p);

		/* Release what the child inherited, so that valgrind sees no leak in it. */
		for (v = 0; v < NVERSIONS; v++)
			free(versions[v]);
		store_close(s);
		_exit(rc);
	}
	assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &t0), 0);
	do {
		v = (size_t)(writes++ % NVERSIONS);
		assert_true(store_write(s, "ns", "cm", "k", versions[v], version_len[v], &d) >= 0);
		assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &t1), 0);
	} while ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 800);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_true(writes > 10);
	for (v = 0; v < NVERSIONS; v++)
		free(versions[v]);
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_names_counted),
		cmocka_unit_test_setup_teardown(test_names_enforced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_creates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_symlinks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_basic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_over_fifo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_faults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_dir_sync_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_configmap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink_attacks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink_attacks_no_openat2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_openat2_fallback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
