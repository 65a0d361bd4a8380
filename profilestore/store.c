/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The on-disk profile store: <kubelet-dir>/seccomp/operator/<ns>/<cm>/<key>.
 *
 * The store holds one directory fd, of operator/, and reaches everything else
 * one validated path component at a time relative to it, with O_NOFOLLOW (and
 * openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS) where the kernel has it), so a
 * symlink planted anywhere below operator/ is never followed: it is reported
 * by store_list() and replaced or removed as a name, never written through.
 *
 * A profile is replaced the way a database saves: a temp file in the target
 * directory, written and fsync'd, renamed over the old name, then the
 * directory fsync'd, so that after a crash the name holds the old or the new
 * bytes, never a mix.  Content that is already on disk is not rewritten, which
 * makes a restart or a relist cheap.  The store is single-threaded: the
 * daemon's one work loop owns it.
 */
#include "profilestore/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Buffer for comparing and hashing files: a typical profile fits in one read. */
#define IOBUF_SIZE (64 * 1024)
/* How a name from the API or the disk appears in a message, escaped. */
#define SHOW_MAX 100
/* "operator/<ns>/<cm>/<key>" for messages. */
#define WHAT_MAX (sizeof("operator///") + STORE_NS_MAX + STORE_CM_MAX + STORE_KEY_MAX)
/* ',' + key prefix + '.' + 8 hex digits must fit in NAME_MAX. */
#define TEMP_KEEP (NAME_MAX - 10)
/* Attempts at a fresh temp name before giving up on EEXIST. */
#define TEMP_TRIES 16
/* The state file is a few short lines. */
#define STATE_FILE_MAX 4096
#define STATE_KEY      "validator="
#define STATE_HEADER   "# seccomp-syncd state; deleting it makes the daemon revalidate every file\n"

struct store {
	int dirfd;	 /* operator/, O_DIRECTORY; its open file description holds the flock */
	int use_openat2; /* 1: openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS), 0: openat(O_NOFOLLOW) */
	int unsynced;	 /* a directory fsync failed after a rename: sync the filesystem first */
	uint64_t rnd;	 /* temp name generator */
	size_t swept;	 /* temp files removed by store_open() */
	char *path;	 /* "<kubelet-dir>/seccomp/operator", for messages */
	unsigned char *iobuf; /* IOBUF_SIZE bytes */
};

/* A walk in progress: each entry is built in @e and handed to @fn. */
struct walker {
	store_walk_fn fn;
	void *ctx;
	size_t n; /* entries handed out so far */
	struct store_entry e;
};

/* What store_list() collects. */
struct entry_list {
	struct store_entry *v;
	size_t n;
	size_t cap;
};

/*
 * A name that failed the policy may hold anything a hostile API server sent:
 * show it with non-printable bytes escaped and cut to a sane length, so that a
 * message never carries control characters into a log.
 */
static const char *show(char out[SHOW_MAX], const char *name, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (o + 8 >= SHOW_MAX) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
			out[o++] = (char)c;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 0xf];
		}
	}
	out[o] = '\0';
	return out;
}

static int is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* RFC 1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?; the caller bounds the length. */
static int dns_label_ok(const char *p, size_t len)
{
	size_t i;

	if (len == 0 || !is_lower_alnum(p[0]) || !is_lower_alnum(p[len - 1]))
		return 0;
	for (i = 1; i + 1 < len; i++)
		if (!is_lower_alnum(p[i]) && p[i] != '-')
			return 0;
	return 1;
}

/* Kubernetes' IsDNS1123Subdomain: dot-separated labels, 253 bytes in all. */
static int dns_subdomain_ok(const char *p, size_t len)
{
	size_t start = 0, i;

	if (len == 0 || len > STORE_CM_MAX)
		return 0;
	for (i = 0; i <= len; i++) {
		if (i < len && p[i] != '.')
			continue;
		if (!dns_label_ok(p + start, i - start))
			return 0;
		start = i + 1;
	}
	return 1;
}

/* Kubernetes' IsConfigMapKey, with the file system's NAME_MAX as the length bound. */
static int key_ok(const char *p, size_t len)
{
	size_t i;

	if (len == 0 || len > STORE_KEY_MAX)
		return 0;
	if ((len == 1 && p[0] == '.') || (len >= 2 && p[0] == '.' && p[1] == '.'))
		return 0;
	for (i = 0; i < len; i++) {
		char c = p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.' || c == '_'))
			return 0;
	}
	return 1;
}

int store_check_name_len(enum store_name_kind kind, const char *name, size_t len, struct diag *d)
{
	static const char *const what[] = { "namespace", "configmap name", "key" };
	char buf[SHOW_MAX];

	if ((unsigned)kind > STORE_NAME_KEY)
		return diag_set(d, -EINVAL, "unknown name kind %u", (unsigned)kind);
	if (!name)
		return diag_set(d, -EINVAL, "missing %s", what[kind]);
	if (len == 0)
		return diag_set(d, -EINVAL, "invalid %s '': must not be empty", what[kind]);
	if (memchr(name, '\0', len))
		return diag_set(d, -EINVAL, "invalid %s '%s': contains a NUL byte", what[kind],
				show(buf, name, len));
	switch (kind) {
	case STORE_NAME_NS:
		if (len > STORE_NS_MAX || !dns_label_ok(name, len))
			return diag_set(
				d, -EINVAL,
				"invalid namespace '%s': must be a DNS label (lower-case "
				"letters, digits and '-', starting and ending with a letter "
				"or digit, at most %d bytes)",
				show(buf, name, len), STORE_NS_MAX);
		break;
	case STORE_NAME_CM:
		if (!dns_subdomain_ok(name, len))
			return diag_set(d, -EINVAL,
					"invalid configmap name '%s': must be a DNS subdomain "
					"(dot-separated DNS labels, at most %d bytes)",
					show(buf, name, len), STORE_CM_MAX);
		break;
	case STORE_NAME_KEY:
		if (!key_ok(name, len))
			return diag_set(d, -EINVAL,
					"invalid key '%s': must match [-._a-zA-Z0-9]+, not be '.' "
					"or '..' nor start with '..', at most %d bytes",
					show(buf, name, len), STORE_KEY_MAX);
		break;
	}
	return 0;
}

int store_check_name(const char *ns, const char *cm, const char *key, struct diag *d)
{
	int r;

	/* strnlen one past each limit: a longer name is refused without reading it all. */
	r = store_check_name_len(STORE_NAME_NS, ns, ns ? strnlen(ns, STORE_NS_MAX + 1) : 0, d);
	if (r < 0)
		return r;
	if (cm) {
		r = store_check_name_len(STORE_NAME_CM, cm, strnlen(cm, STORE_CM_MAX + 1), d);
		if (r < 0)
			return r;
	} else if (key) {
		return diag_set(d, -EINVAL, "key '%s' given without a configmap name",
				key_ok(key, strnlen(key, STORE_KEY_MAX + 1)) ? key : "?");
	}
	if (key) {
		r = store_check_name_len(STORE_NAME_KEY, key, strnlen(key, STORE_KEY_MAX + 1), d);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * Open one name below @dfd, never following a symlink: O_NOFOLLOW always, and
 * openat2 with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS as a second fence while the
 * kernel has it.  ENOSYS (an old kernel, or a filter that says so) switches to
 * openat for good; so does EPERM when openat then succeeds, because that is a
 * seccomp filter whose default action does not know openat2, not the file.
 * openat with O_NOFOLLOW is as safe for the single policy-checked names we
 * open.  EINTR, which a FIFO or a network file system can return, is retried.
 * Return: an fd or -errno.
 */
static int open_at(struct store *s, int dfd, const char *name, int flags, mode_t mode)
{
	int fd;

	flags |= O_CLOEXEC | O_NOFOLLOW | O_NOCTTY;
	for (;;) {
		int err = 0;

		if (s->use_openat2) {
			struct open_how how;

			memset(&how, 0, sizeof(how));
			how.flags = (uint64_t)(unsigned)flags;
			how.mode = (flags & O_CREAT) ? mode : 0;
			how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
			fd = (int)syscall(SYS_openat2, dfd, name, &how, sizeof(how));
			if (fd >= 0)
				return fd;
			err = errno;
			if (err != ENOSYS && err != EPERM)
				goto failed;
		}
		fd = openat(dfd, name, flags, mode);
		if (fd >= 0 || err == ENOSYS)
			s->use_openat2 = 0;
		if (fd >= 0)
			return fd;
		err = errno;
	failed:
		if (err != EINTR)
			return -err;
	}
}

/* Whether openat2() with the resolve flags we use works here (kernel 5.6+, not filtered). */
static int openat2_works(int dfd)
{
	struct open_how how;
	long fd;

	memset(&how, 0, sizeof(how));
	how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
	fd = syscall(SYS_openat2, dfd, ".", &how, sizeof(how));
	if (fd < 0)
		return 0;
	(void)close((int)fd);
	return 1;
}

static int fsync_retry(int fd)
{
	while (fsync(fd) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

static int write_full(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* splitmix64: temp names only need to differ, O_EXCL catches the rest. */
static uint32_t next_random(struct store *s)
{
	uint64_t z = (s->rnd += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return (uint32_t)(z ^ (z >> 31));
}

static void temp_name(struct store *s, const char *name, char out[NAME_MAX + 1])
{
	size_t keep = strlen(name);

	if (keep > TEMP_KEEP)
		keep = TEMP_KEEP;
	(void)snprintf(out, NAME_MAX + 1, ",%.*s.%08x", (int)keep, name, next_random(s));
}

/*
 * Whether @name below @dfd is a regular 0644 file holding exactly @data.  Any
 * doubt (absent, another type or mode, a read error) answers "no", and the
 * caller rewrites the file, which is always safe.  O_NONBLOCK keeps a FIFO
 * planted at the name from blocking the daemon.
 */
static int same_content(struct store *s, int dfd, const char *name, const void *data, size_t len)
{
	struct stat st;
	size_t off = 0;
	int same = 0;
	int fd;

	fd = open_at(s, dfd, name, O_RDONLY | O_NONBLOCK, 0);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 07777) != 0644 ||
	    st.st_size < 0 || (uint64_t)st.st_size != (uint64_t)len)
		goto out;
	while (off < len) {
		size_t want = len - off < IOBUF_SIZE ? len - off : IOBUF_SIZE;
		ssize_t n = read(fd, s->iobuf, want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || memcmp(s->iobuf, (const char *)data + off, (size_t)n) != 0)
			goto out;
		off += (size_t)n;
	}
	same = 1;
out:
	(void)close(fd);
	return same;
}

/*
 * Atomically and durably make @name below @dfd hold @data (mode 0644): temp
 * file, write, fsync, rename, fsync the directory, in that order, so that a
 * crash at any point leaves the old or the new bytes under @name.  @what names
 * the file in messages.  Return: 0, STORE_UNCHANGED, or -errno with the temp
 * file removed and @name untouched (except after the final directory fsync
 * fails: the new file is then in place but possibly not durable, and the next
 * call syncs the file system before anything else).
 */
static int replace_at(struct store *s, int dfd, const char *name, const void *data, size_t len,
		      const char *what, struct diag *d)
{
	char tmp[NAME_MAX + 1];
	int fd = -1, have_tmp = 0, tries, r;

	if (s->unsynced) {
		if (syncfs(dfd) < 0)
			return diag_set(d, -errno, "cannot sync the store's file system: %s",
					strerror(errno));
		s->unsynced = 0;
	}
	if (same_content(s, dfd, name, data, len))
		return STORE_UNCHANGED;
	for (tries = 0;; tries++) {
		temp_name(s, name, tmp);
		fd = open_at(s, dfd, tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd != -EEXIST || tries + 1 >= TEMP_TRIES)
			break;
	}
	if (fd < 0) {
		r = diag_set(d, fd, "cannot create a temp file for '%s': %s", what, strerror(-fd));
		fd = -1;
		goto out;
	}
	have_tmp = 1;
	/* The umask must not decide who can read a profile: the runtime reads it as root,
	 * but tools and the compatibility contract expect 0644. */
	if (fchmod(fd, 0644) < 0) {
		r = diag_set(d, -errno, "cannot set the mode of '%s': %s", what, strerror(errno));
		goto out;
	}
	r = write_full(fd, data, len);
	if (r < 0) {
		diag_set(d, r, "cannot write '%s': %s", what, strerror(-r));
		goto out;
	}
	r = fsync_retry(fd);
	if (r < 0) {
		diag_set(d, r, "cannot sync '%s': %s", what, strerror(-r));
		goto out;
	}
	r = close(fd);
	fd = -1;
	/* Linux always releases the fd; EINTR from close() says nothing about the data. */
	if (r < 0 && errno != EINTR) {
		r = diag_set(d, -errno, "cannot close '%s': %s", what, strerror(errno));
		goto out;
	}
	if (renameat(dfd, tmp, dfd, name) < 0) {
		r = diag_set(d, -errno, "cannot rename a temp file over '%s': %s", what,
			     strerror(errno));
		goto out;
	}
	have_tmp = 0;
	r = fsync_retry(dfd);
	if (r < 0) {
		s->unsynced = 1;
		diag_set(d, r, "replaced '%s' but cannot sync its directory: %s", what,
			 strerror(-r));
		goto out;
	}
	r = 0;
out:
	if (fd >= 0)
		(void)close(fd);
	if (have_tmp)
		(void)unlinkat(dfd, tmp, 0);
	return r;
}

/*
 * Open the directory @name below @parent, creating it (0755, whatever the
 * umask, then fsync'ing @parent so that the new entry survives a crash) when
 * @create is set.  A symlink or another kind of file at @name is refused, not
 * followed.  *@created tells whether this call made it.  Return: an fd or
 * -errno (-ENOENT, silently, when it is absent and @create is clear).
 */
static int dir_open(struct store *s, int parent, const char *name, int create, int *created,
		    const char *what, struct diag *d)
{
	int fd, made = 0, r;

	fd = open_at(s, parent, name, O_RDONLY | O_DIRECTORY, 0);
	if (fd == -ENOENT && create) {
		if (mkdirat(parent, name, 0755) == 0)
			made = 1;
		else if (errno != EEXIST)
			return diag_set(d, -errno, "cannot create directory '%s': %s", what,
					strerror(errno));
		fd = open_at(s, parent, name, O_RDONLY | O_DIRECTORY, 0);
		if (fd >= 0 && made) {
			r = fchmod(fd, 0755) < 0 ? -errno : fsync_retry(parent);
			if (r < 0) {
				(void)close(fd);
				(void)unlinkat(parent, name, AT_REMOVEDIR);
				return diag_set(d, r, "cannot set up directory '%s': %s", what,
						strerror(-r));
			}
		}
	}
	if (fd == -ENOENT && !create)
		return fd;
	if (fd == -ELOOP || fd == -ENOTDIR || fd == -EXDEV)
		return diag_set(d, fd,
				"refusing '%s': not a directory (a symlink or another kind of "
				"file), not followed",
				what);
	if (fd < 0)
		return diag_set(d, fd, "cannot open directory '%s': %s", what, strerror(-fd));
	if (created)
		*created = made;
	return fd;
}

/* A new DIR stream of its own (a dup would share the position with @dfd). */
static DIR *dir_stream(struct store *s, int dfd, int *err)
{
	DIR *dir;
	int fd = open_at(s, dfd, ".", O_RDONLY | O_DIRECTORY, 0);

	if (fd < 0) {
		*err = fd;
		return NULL;
	}
	dir = fdopendir(fd);
	if (!dir) {
		*err = -errno;
		(void)close(fd);
	}
	return dir;
}

static int is_dot(const char *name)
{
	return name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2]));
}

/* The entry's file type without following it: d_type, or lstat when the fs does not fill it. */
static int entry_type(int dfd, const struct dirent *e)
{
	struct stat st;

	switch (e->d_type) {
	case DT_REG:
		return S_IFREG;
	case DT_DIR:
		return S_IFDIR;
	case DT_UNKNOWN:
		if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return 0;
		return (int)(st.st_mode & S_IFMT);
	default:
		return S_IFLNK; /* anything else is "other" to us */
	}
}

/*
 * Remove the temp files (names starting with ',', which no policy name can)
 * that a writer killed mid-write left in @dfd and, @depth levels down, in its
 * real subdirectories; prune subdirectories that the sweep emptied.  A
 * subdirectory that cannot be opened (another owner's mode) is skipped, not
 * fatal: it cannot hold our temp files.  Return: 0 or -errno.
 */
static int sweep_dir(struct store *s, int dfd, int depth, struct diag *d)
{
	struct dirent *e;
	DIR *dir;
	int changed = 0, r = 0;

	dir = dir_stream(s, dfd, &r);
	if (!dir)
		return diag_set(d, r, "cannot read a directory under '%s': %s", s->path,
				strerror(-r));
	for (;;) {
		size_t before;
		int sub;

		errno = 0;
		e = readdir(dir);
		if (!e) {
			if (errno)
				r = diag_set(d, -errno, "cannot read a directory under '%s': %s",
					     s->path, strerror(errno));
			break;
		}
		if (e->d_name[0] == ',') {
			if (unlinkat(dirfd(dir), e->d_name, 0) == 0) {
				s->swept++;
				changed = 1;
			} else if (errno != EISDIR && errno != ENOENT) {
				r = diag_set(d, -errno,
					     "cannot remove temp file '%s' under '%s': %s",
					     e->d_name, s->path, strerror(errno));
				break;
			}
			continue;
		}
		if (depth == 0 || e->d_name[0] == '.' || entry_type(dirfd(dir), e) != S_IFDIR)
			continue;
		sub = open_at(s, dirfd(dir), e->d_name, O_RDONLY | O_DIRECTORY, 0);
		if (sub < 0)
			continue;
		before = s->swept;
		r = sweep_dir(s, sub, depth - 1, d);
		(void)close(sub);
		if (r < 0)
			break;
		if (s->swept > before && unlinkat(dirfd(dir), e->d_name, AT_REMOVEDIR) == 0)
			changed = 1;
	}
	if (r == 0 && changed) {
		r = fsync_retry(dirfd(dir));
		if (r < 0)
			diag_set(d, r, "cannot sync a directory under '%s': %s", s->path,
				 strerror(-r));
	}
	(void)closedir(dir);
	return r;
}

int store_open(const char *kubelet_dir, unsigned flags, struct store **out, struct diag *d)
{
	static const char sub[] = "/seccomp/operator";
	struct store *s = NULL;
	char what[PATH_MAX];
	int kfd = -1, sfd = -1, r;
	size_t n;

	if (!kubelet_dir || !kubelet_dir[0])
		return diag_set(d, -EINVAL, "the kubelet directory is not set");
	if (flags & ~(unsigned)(STORE_WAIT_LOCK | STORE_NO_OPENAT2))
		return diag_set(d, -EINVAL, "unknown store flags 0x%x", flags);
	n = strnlen(kubelet_dir, PATH_MAX);
	if (n + sizeof(sub) > PATH_MAX)
		return diag_set(d, -ENAMETOOLONG, "kubelet directory path is too long");

	s = calloc(1, sizeof(*s));
	if (!s)
		return diag_set(d, -ENOMEM, "out of memory");
	s->dirfd = -1;
	s->iobuf = malloc(IOBUF_SIZE);
	s->path = malloc(n + sizeof(sub));
	if (!s->iobuf || !s->path) {
		r = diag_set(d, -ENOMEM, "out of memory");
		goto out;
	}
	(void)snprintf(s->path, n + sizeof(sub), "%s%s", kubelet_dir, sub);
	if (getrandom(&s->rnd, sizeof(s->rnd), GRND_NONBLOCK) != (ssize_t)sizeof(s->rnd))
		s->rnd = (uint64_t)getpid() ^ ((uint64_t)time(NULL) << 20);

	/* The kubelet directory comes from our own configuration and may be a symlink. */
	kfd = open(kubelet_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (kfd < 0) {
		r = diag_set(d, -errno, "cannot open the kubelet directory '%s': %s", kubelet_dir,
			     strerror(errno));
		goto out;
	}
	s->use_openat2 = !(flags & STORE_NO_OPENAT2) && openat2_works(kfd);
	(void)snprintf(what, sizeof(what), "%s/seccomp", kubelet_dir);
	sfd = dir_open(s, kfd, "seccomp", 1, NULL, what, d);
	if (sfd < 0) {
		r = sfd;
		goto out;
	}
	s->dirfd = dir_open(s, sfd, "operator", 1, NULL, s->path, d);
	if (s->dirfd < 0) {
		r = s->dirfd;
		goto out;
	}
	while (flock(s->dirfd, LOCK_EX | ((flags & STORE_WAIT_LOCK) ? 0 : LOCK_NB)) < 0) {
		if (errno == EINTR && !(flags & STORE_WAIT_LOCK))
			continue;
		if (errno == EWOULDBLOCK)
			r = diag_set(d, -EWOULDBLOCK,
				     "another seccomp-syncd holds the lock on '%s' (one writer "
				     "per node)",
				     s->path);
		else
			r = diag_set(d, -errno, "cannot lock '%s': %s", s->path, strerror(errno));
		goto out;
	}
	r = sweep_dir(s, s->dirfd, 2, d);
	if (r < 0)
		goto out;
	*out = s;
	s = NULL;
	r = 0;
out:
	if (sfd >= 0)
		(void)close(sfd);
	if (kfd >= 0)
		(void)close(kfd);
	store_close(s);
	return r;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->dirfd >= 0)
		(void)close(s->dirfd);
	free(s->iobuf);
	free(s->path);
	free(s);
}

size_t store_swept(const struct store *s)
{
	return s ? s->swept : 0;
}

int store_write(struct store *s, const char *ns, const char *cm, const char *key, const void *data,
		size_t len, struct diag *d)
{
	char what[WHAT_MAX];
	int nsfd = -1, cmfd = -1, made_ns = 0, made_cm = 0, r;

	if (!s || (!data && len))
		return diag_set(d, -EINVAL, "store_write: bad arguments");
	/* A missing name is refused as an empty one, with the policy's message. */
	cm = cm ? cm : "";
	key = key ? key : "";
	r = store_check_name(ns, cm, key, d);
	if (r < 0)
		return r;
	(void)snprintf(what, sizeof(what), "operator/%s/%s/%s", ns, cm, key);
	if (len > STORE_DATA_MAX)
		return diag_set(d, -EFBIG, "refusing '%s': %zu bytes, more than the limit of %d",
				what, len, STORE_DATA_MAX);

	nsfd = dir_open(s, s->dirfd, ns, 1, &made_ns, what, d);
	if (nsfd < 0) {
		r = nsfd;
		goto out;
	}
	cmfd = dir_open(s, nsfd, cm, 1, &made_cm, what, d);
	if (cmfd < 0) {
		r = cmfd;
		goto out;
	}
	r = replace_at(s, cmfd, key, data, len, what, d);
out:
	if (cmfd >= 0)
		(void)close(cmfd);
	/* Do not leave directories behind that only this failed call created. */
	if (r < 0 && made_cm)
		(void)unlinkat(nsfd, cm, AT_REMOVEDIR);
	if (nsfd >= 0)
		(void)close(nsfd);
	if (r < 0 && made_ns)
		(void)unlinkat(s->dirfd, ns, AT_REMOVEDIR);
	return r;
}

/*
 * Remove @name below @parent if it is an empty directory, and sync @parent if
 * so.  Pruning is housekeeping: a directory that is not empty (or already
 * gone) is simply kept.  Return: 1 when removed, 0 when kept, or -errno when
 * the sync failed.
 */
static int prune_at(int parent, const char *name, const char *what, struct diag *d)
{
	int r;

	if (unlinkat(parent, name, AT_REMOVEDIR) < 0)
		return 0;
	r = fsync_retry(parent);
	if (r < 0)
		return diag_set(d, r, "cannot sync the directory of '%s': %s", what, strerror(-r));
	return 1;
}

/* Open operator/<ns> for removal: Return an fd, -ENOENT (absent), or -errno in @d. */
static int open_ns(struct store *s, const char *ns, struct diag *d)
{
	char what[WHAT_MAX];

	(void)snprintf(what, sizeof(what), "operator/%s", ns);
	return dir_open(s, s->dirfd, ns, 0, NULL, what, d);
}

int store_remove(struct store *s, const char *ns, const char *cm, const char *key, struct diag *d)
{
	char what[WHAT_MAX];
	int nsfd = -1, cmfd = -1, r, p;

	if (!s)
		return diag_set(d, -EINVAL, "store_remove: no store");
	/* A missing name is refused as an empty one, with the policy's message. */
	cm = cm ? cm : "";
	key = key ? key : "";
	r = store_check_name(ns, cm, key, d);
	if (r < 0)
		return r;
	(void)snprintf(what, sizeof(what), "operator/%s/%s/%s", ns, cm, key);
	nsfd = open_ns(s, ns, d);
	if (nsfd == -ENOENT) {
		r = STORE_ABSENT;
		goto out;
	}
	if (nsfd < 0) {
		r = nsfd;
		goto out;
	}
	cmfd = dir_open(s, nsfd, cm, 0, NULL, what, d);
	if (cmfd == -ENOENT) {
		r = STORE_ABSENT;
		goto prune_ns;
	}
	if (cmfd < 0) {
		r = cmfd;
		goto out;
	}
	if (unlinkat(cmfd, key, 0) < 0) {
		if (errno != ENOENT) {
			r = diag_set(d, -errno, "cannot remove '%s': %s", what, strerror(errno));
			goto out;
		}
		r = STORE_ABSENT;
	} else {
		r = fsync_retry(cmfd);
		if (r < 0) {
			diag_set(d, r, "removed '%s' but cannot sync its directory: %s", what,
				 strerror(-r));
			goto out;
		}
	}
	p = prune_at(nsfd, cm, what, d);
	if (p < 0)
		r = p;
	if (p <= 0)
		goto out;
prune_ns:
	p = prune_at(s->dirfd, ns, what, d);
	if (p < 0)
		r = p;
out:
	if (cmfd >= 0)
		(void)close(cmfd);
	if (nsfd >= 0)
		(void)close(nsfd);
	return r;
}

/*
 * Unlink every entry of the ConfigMap directory @cmfd: profiles, temp files,
 * and odd entries (a symlink is removed as a name, never followed).  An empty
 * directory inside is removed too; a non-empty one is not ours to recurse into.
 * Return: the number removed, or -errno.
 */
static int empty_cm_dir(struct store *s, int cmfd, const char *what, struct diag *d)
{
	struct dirent *e;
	DIR *dir;
	int removed = 0, r = 0;

	dir = dir_stream(s, cmfd, &r);
	if (!dir)
		return diag_set(d, r, "cannot read '%s': %s", what, strerror(-r));
	for (;;) {
		errno = 0;
		e = readdir(dir);
		if (!e) {
			if (errno)
				r = diag_set(d, -errno, "cannot read '%s': %s", what,
					     strerror(errno));
			break;
		}
		if (is_dot(e->d_name))
			continue;
		if (unlinkat(dirfd(dir), e->d_name, 0) == 0 ||
		    (errno == EISDIR && unlinkat(dirfd(dir), e->d_name, AT_REMOVEDIR) == 0)) {
			removed++;
			continue;
		}
		if (errno == ENOENT)
			continue;
		r = diag_set(d, -errno, "cannot remove '%s/%s': %s", what, e->d_name,
			     strerror(errno));
		break;
	}
	(void)closedir(dir);
	return r < 0 ? r : removed;
}

int store_remove_configmap(struct store *s, const char *ns, const char *cm, struct diag *d)
{
	char what[WHAT_MAX];
	int nsfd = -1, cmfd = -1, r, p;

	if (!s)
		return diag_set(d, -EINVAL, "store_remove_configmap: no store");
	cm = cm ? cm : "";
	r = store_check_name(ns, cm, NULL, d);
	if (r < 0)
		return r;
	(void)snprintf(what, sizeof(what), "operator/%s/%s", ns, cm);
	nsfd = open_ns(s, ns, d);
	if (nsfd == -ENOENT) {
		r = STORE_ABSENT;
		goto out;
	}
	if (nsfd < 0) {
		r = nsfd;
		goto out;
	}
	cmfd = dir_open(s, nsfd, cm, 0, NULL, what, d);
	if (cmfd == -ENOENT) {
		r = STORE_ABSENT;
		goto prune_ns;
	}
	if (cmfd == -ELOOP || cmfd == -ENOTDIR || cmfd == -EXDEV) {
		/* Something else squats the ConfigMap's name: remove the name itself. */
		diag_clear(d);
		cmfd = -1;
		if (unlinkat(nsfd, cm, 0) < 0) {
			r = diag_set(d, -errno, "cannot remove '%s': %s", what, strerror(errno));
			goto out;
		}
	} else if (cmfd < 0) {
		r = cmfd;
		goto out;
	} else {
		r = empty_cm_dir(s, cmfd, what, d);
		if (r < 0)
			goto out;
		if (r > 0) {
			r = fsync_retry(cmfd);
			if (r < 0) {
				diag_set(d, r, "cannot sync '%s': %s", what, strerror(-r));
				goto out;
			}
		}
		if (unlinkat(nsfd, cm, AT_REMOVEDIR) < 0) {
			r = diag_set(d, -errno, "cannot remove directory '%s': %s", what,
				     strerror(errno));
			goto out;
		}
	}
	r = fsync_retry(nsfd);
	if (r < 0) {
		diag_set(d, r, "removed '%s' but cannot sync its directory: %s", what,
			 strerror(-r));
		goto out;
	}
prune_ns:
	p = prune_at(s->dirfd, ns, what, d);
	if (p < 0)
		r = p;
out:
	if (cmfd >= 0)
		(void)close(cmfd);
	if (nsfd >= 0)
		(void)close(nsfd);
	return r;
}

static void copy_name(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Start the next entry of the walk in w->e. */
static struct store_entry *entry_start(struct walker *w, enum store_entry_type type, const char *ns,
				       const char *cm, const char *key)
{
	struct store_entry *e = &w->e;

	memset(e, 0, sizeof(*e));
	e->type = type;
	copy_name(e->ns, sizeof(e->ns), ns);
	copy_name(e->cm, sizeof(e->cm), cm);
	copy_name(e->key, sizeof(e->key), key);
	return e;
}

/* Hand w->e to the caller; at most STORE_LIST_MAX entries are, whatever the disk holds. */
static int entry_emit(struct walker *w, struct diag *d)
{
	if (w->n >= STORE_LIST_MAX)
		return diag_set(d, -E2BIG, "more than %d entries in the store", STORE_LIST_MAX);
	w->n++;
	return w->fn(w->ctx, &w->e, d);
}

static int entry_other(struct walker *w, const char *ns, const char *cm, const char *key,
		       struct diag *d)
{
	(void)entry_start(w, STORE_ENTRY_OTHER, ns, cm, key);
	return entry_emit(w, d);
}

/*
 * Digest the regular file @name below @dfd into @e.  A file that turns out not
 * to be regular (swapped since readdir) becomes OTHER; one larger than any
 * profile we write keeps a zero digest, which matches no content, so the
 * daemon replaces it.  Return: 0 or -errno.
 */
static int digest_file(struct store *s, int dfd, const char *name, struct store_entry *e,
		       const char *what, struct diag *d)
{
	struct sha256 h;
	struct stat st;
	size_t total = 0;
	int fd, r = 0;

	fd = open_at(s, dfd, name, O_RDONLY | O_NONBLOCK, 0);
	if (fd == -ELOOP || fd == -ENXIO || fd == -ENOENT || fd == -EXDEV) {
		e->type = STORE_ENTRY_OTHER;
		return 0;
	}
	if (fd < 0)
		return diag_set(d, fd, "cannot open '%s/%s': %s", what, name, strerror(-fd));
	if (fstat(fd, &st) < 0) {
		r = diag_set(d, -errno, "cannot stat '%s/%s': %s", what, name, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		e->type = STORE_ENTRY_OTHER;
		goto out;
	}
	e->size = (size_t)st.st_size;
	if (st.st_size > STORE_DATA_MAX)
		goto out;
	sha256_init(&h);
	for (;;) {
		ssize_t n = read(fd, s->iobuf, IOBUF_SIZE);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = diag_set(d, -errno, "cannot read '%s/%s': %s", what, name,
				     strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		total += (size_t)n;
		if (total > STORE_DATA_MAX) {
			e->size = total;
			goto out;
		}
		sha256_update(&h, s->iobuf, (size_t)n);
	}
	e->size = total;
	sha256_final(&h, e->digest);
out:
	(void)close(fd);
	return r;
}

static int list_cm(struct store *s, struct walker *w, int cmfd, const char *ns, const char *cm,
		   struct diag *d)
{
	char what[WHAT_MAX];
	struct dirent *e;
	DIR *dir;
	int r = 0;

	(void)snprintf(what, sizeof(what), "operator/%s/%s", ns, cm);
	dir = dir_stream(s, cmfd, &r);
	if (!dir)
		return diag_set(d, r, "cannot read '%s': %s", what, strerror(-r));
	for (;;) {
		const char *name;

		errno = 0;
		e = readdir(dir);
		if (!e) {
			if (errno)
				r = diag_set(d, -errno, "cannot read '%s': %s", what,
					     strerror(errno));
			break;
		}
		name = e->d_name;
		if (is_dot(name) || name[0] == ',')
			continue;
		if (!key_ok(name, strlen(name)) || entry_type(dirfd(dir), e) != S_IFREG) {
			r = entry_other(w, ns, cm, name, d);
		} else {
			r = digest_file(s, dirfd(dir), name,
					entry_start(w, STORE_ENTRY_FILE, ns, cm, name), what, d);
			if (r == 0)
				r = entry_emit(w, d);
		}
		if (r < 0)
			break;
	}
	(void)closedir(dir);
	return r;
}

/* Open the subdirectory @name of @dfd, or -1 when it is not a directory we may enter. */
static int list_subdir(struct store *s, int dfd, const char *name, const char *what, struct diag *d)
{
	int fd = open_at(s, dfd, name, O_RDONLY | O_DIRECTORY, 0);

	if (fd == -ELOOP || fd == -ENOTDIR || fd == -EXDEV)
		return -1;
	if (fd == -ENOENT)
		return -2;
	if (fd < 0)
		return diag_set(d, fd, "cannot open '%s/%s': %s", what, name, strerror(-fd));
	return fd;
}

static int list_ns(struct store *s, struct walker *w, int nsfd, const char *ns, struct diag *d)
{
	char what[WHAT_MAX];
	struct dirent *e;
	DIR *dir;
	int r = 0;

	(void)snprintf(what, sizeof(what), "operator/%s", ns);
	dir = dir_stream(s, nsfd, &r);
	if (!dir)
		return diag_set(d, r, "cannot read '%s': %s", what, strerror(-r));
	for (;;) {
		const char *name;
		int fd;

		errno = 0;
		e = readdir(dir);
		if (!e) {
			if (errno)
				r = diag_set(d, -errno, "cannot read '%s': %s", what,
					     strerror(errno));
			break;
		}
		name = e->d_name;
		if (is_dot(name) || name[0] == ',')
			continue;
		if (!dns_subdomain_ok(name, strlen(name)) || entry_type(dirfd(dir), e) != S_IFDIR) {
			r = entry_other(w, ns, name, "", d);
		} else {
			fd = list_subdir(s, dirfd(dir), name, what, d);
			if (fd == -1)
				r = entry_other(w, ns, name, "", d);
			else if (fd < -2)
				r = fd;
			else if (fd >= 0) {
				r = list_cm(s, w, fd, ns, name, d);
				(void)close(fd);
			}
		}
		if (r < 0)
			break;
	}
	(void)closedir(dir);
	return r;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct store_entry *x = a, *y = b;
	int c = strcmp(x->ns, y->ns);

	if (c == 0)
		c = strcmp(x->cm, y->cm);
	if (c == 0)
		c = strcmp(x->key, y->key);
	return c;
}

/* One namespace directory, or an OTHER entry when its name is taken by something else. */
static int list_one_ns(struct store *s, struct walker *w, int dfd, const char *ns, struct diag *d)
{
	int fd, r;

	fd = list_subdir(s, dfd, ns, "operator", d);
	if (fd == -1)
		return entry_other(w, ns, "", "", d);
	if (fd == -2)
		return 0;
	if (fd < 0)
		return fd;
	r = list_ns(s, w, fd, ns, d);
	(void)close(fd);
	return r;
}

int store_walk(struct store *s, const char *ns, store_walk_fn fn, void *ctx, struct diag *d)
{
	struct walker w = { fn, ctx, 0, { 0 } };
	struct dirent *e;
	DIR *dir = NULL;
	int r = 0;

	if (!s || !fn)
		return diag_set(d, -EINVAL, "store_walk: bad arguments");
	if (ns) {
		r = store_check_name(ns, NULL, NULL, d);
		if (r < 0)
			return r;
		return list_one_ns(s, &w, s->dirfd, ns, d);
	}
	dir = dir_stream(s, s->dirfd, &r);
	if (!dir)
		return diag_set(d, r, "cannot read '%s': %s", s->path, strerror(-r));
	for (;;) {
		const char *name;

		errno = 0;
		e = readdir(dir);
		if (!e) {
			if (errno)
				r = diag_set(d, -errno, "cannot read '%s': %s", s->path,
					     strerror(errno));
			break;
		}
		name = e->d_name;
		/* The state file, hidden files and our temp files are not profiles. */
		if (name[0] == '.' || name[0] == ',')
			continue;
		if (strnlen(name, STORE_NS_MAX + 1) > STORE_NS_MAX ||
		    !dns_label_ok(name, strlen(name)) || entry_type(dirfd(dir), e) != S_IFDIR)
			r = entry_other(&w, name, "", "", d);
		else
			r = list_one_ns(s, &w, dirfd(dir), name, d);
		if (r < 0)
			break;
	}
	(void)closedir(dir);
	return r;
}

static int collect(void *ctx, const struct store_entry *e, struct diag *d)
{
	struct entry_list *l = ctx;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct store_entry *v;

		if (cap > STORE_LIST_MAX)
			cap = STORE_LIST_MAX;
		v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return diag_set(d, -ENOMEM, "out of memory");
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *e;
	return 0;
}

int store_list(struct store *s, const char *ns, struct store_entry **out, size_t *n, struct diag *d)
{
	struct entry_list l = { NULL, 0, 0 };
	int r;

	if (!s || !out || !n)
		return diag_set(d, -EINVAL, "store_list: bad arguments");
	r = store_walk(s, ns, collect, &l, d);
	if (r < 0) {
		free(l.v);
		return r;
	}
	if (l.n > 1)
		qsort(l.v, l.n, sizeof(*l.v), entry_cmp);
	*out = l.v;
	*n = l.n;
	return 0;
}

int store_state_get(struct store *s, char *buf, size_t size, struct diag *d)
{
	char text[STATE_FILE_MAX + 1];
	const char *line, *end;
	struct stat st;
	size_t len = 0;
	int fd = -1, r = 0;

	if (!s || !buf || size == 0)
		return diag_set(d, -EINVAL, "store_state_get: bad arguments");
	fd = open_at(s, s->dirfd, STORE_STATE_NAME, O_RDONLY | O_NONBLOCK, 0);
	if (fd == -ENOENT) {
		buf[0] = '\0';
		return 0;
	}
	if (fd < 0)
		return diag_set(d, fd, "cannot open the state file '%s/%s': %s", s->path,
				STORE_STATE_NAME, strerror(-fd));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		r = diag_set(d, -EINVAL, "the state file '%s/%s' is not a regular file", s->path,
			     STORE_STATE_NAME);
		goto out;
	}
	while (len < sizeof(text)) {
		ssize_t n = read(fd, text + len, sizeof(text) - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = diag_set(d, -errno, "cannot read the state file '%s/%s': %s", s->path,
				     STORE_STATE_NAME, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > STATE_FILE_MAX) {
		r = diag_set(d, -EFBIG, "the state file '%s/%s' is larger than %d bytes", s->path,
			     STORE_STATE_NAME, STATE_FILE_MAX);
		goto out;
	}
	buf[0] = '\0';
	for (line = text; line < text + len; line = end + 1) {
		size_t vlen;

		end = memchr(line, '\n', (size_t)(text + len - line));
		if (!end)
			end = text + len;
		if ((size_t)(end - line) < sizeof(STATE_KEY) - 1 ||
		    memcmp(line, STATE_KEY, sizeof(STATE_KEY) - 1) != 0)
			continue;
		vlen = (size_t)(end - line) - (sizeof(STATE_KEY) - 1);
		if (vlen >= size) {
			r = diag_set(d, -ERANGE,
				     "the validator version in '%s/%s' is longer than %zu bytes",
				     s->path, STORE_STATE_NAME, size - 1);
			goto out;
		}
		memcpy(buf, line + sizeof(STATE_KEY) - 1, vlen);
		buf[vlen] = '\0';
	}
out:
	(void)close(fd);
	return r;
}

int store_state_set(struct store *s, const char *validator_version, struct diag *d)
{
	char text[STATE_FILE_MAX], what[PATH_MAX];
	size_t len, i;
	int n, r;

	if (!s || !validator_version)
		return diag_set(d, -EINVAL, "store_state_set: bad arguments");
	len = strnlen(validator_version, STORE_STATE_VALUE_MAX + 1);
	if (len == 0 || len > STORE_STATE_VALUE_MAX)
		return diag_set(d, -EINVAL, "validator version must be 1 to %d bytes",
				STORE_STATE_VALUE_MAX);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)validator_version[i];

		if (c < 0x20 || c >= 0x7f)
			return diag_set(d, -EINVAL,
					"validator version holds a non-printable byte 0x%02x", c);
	}
	n = snprintf(text, sizeof(text), "%s%s%s\n", STATE_HEADER, STATE_KEY, validator_version);
	if (n < 0 || (size_t)n >= sizeof(text))
		return diag_set(d, -EINVAL, "validator version is too long");
	(void)snprintf(what, sizeof(what), "%s/%s", s->path, STORE_STATE_NAME);
	r = replace_at(s, s->dirfd, STORE_STATE_NAME, text, (size_t)n, what, d);
	return r < 0 ? r : 0;
}
