/* SPDX-License-Identifier: Apache-2.0 */
#ifndef SECCOMP_SYNCD_PROFILESTORE_STORE_H
#define SECCOMP_SYNCD_PROFILESTORE_STORE_H

/*
 * The on-disk store: <kubelet-dir>/seccomp/operator/<namespace>/<configmap>/<key>.
 *
 * Everything is opened relative to a held directory fd of operator/, nothing
 * below it is ever followed, writes are atomic and durable (temp file, fsync,
 * rename, fsync the directory), and names are checked against what Kubernetes
 * allows before they touch the filesystem.  The store offers operations; the
 * daemon decides what to keep.  No logging: errors are a negative errno plus a
 * diag.
 */

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/diag.h"
#include "common/sha256.h"

#define STORE_NS_MAX  63  /* DNS label */
#define STORE_CM_MAX  253 /* DNS subdomain */
#define STORE_KEY_MAX NAME_MAX

/* Positive results: expected outcomes the caller handles. */
#define STORE_UNCHANGED 1 /* store_write(): the file already held exactly these bytes */
#define STORE_ABSENT	2 /* store_remove*(): nothing was there */

/* store_open() flags */
#define STORE_WAIT_LOCK \
	0x1 /* wait for another writer's lock instead of failing with -EWOULDBLOCK */
#define STORE_NO_OPENAT2 \
	0x2 /* open with openat(O_NOFOLLOW) only, never openat2(RESOLVE_BENEATH): tests, odd sandboxes */

/* Largest profile store_write() accepts: the profile limit (1 MiB) plus slack. */
#define STORE_DATA_MAX (1024 * 1024 + 64 * 1024)

/* Most entries store_list() returns before failing with -E2BIG. */
#define STORE_LIST_MAX 65536

/* The state file under operator/; its name starts with '.', which no namespace can. */
#define STORE_STATE_NAME ".seccomp-syncd"

/* Longest validator version store_state_set() records. */
#define STORE_STATE_VALUE_MAX 255

struct store;

/**
 * store_open() - open (creating 0755 directories as needed) <kubelet_dir>/seccomp/operator
 * @kubelet_dir: the kubelet directory; it may itself be a symlink, nothing below operator/ is followed
 * @flags: STORE_WAIT_LOCK or 0
 * @out: the new store, freed with store_close()
 * @d: detail on failure
 *
 * Takes an exclusive flock on operator/ (one writer per node) and sweeps temp
 * files that a crash left behind.  Return: 0, -EWOULDBLOCK when another
 * process holds the lock, or another negative errno.
 */
int store_open(const char *kubelet_dir, unsigned flags, struct store **out, struct diag *d);

/** store_close() - release the lock and the fds; NULL is a no-op */
void store_close(struct store *s);

/**
 * store_swept() - how many leftover temp files store_open() removed
 *
 * A non-zero count means an earlier writer died mid-write; the daemon may log
 * it.  Return: the count.
 */
size_t store_swept(const struct store *s);

/**
 * store_check_name() - the name policy, without touching the disk
 *
 * @ns must be a DNS label, @cm a DNS subdomain, @key match [-._a-zA-Z0-9]+,
 * not "." or "..", no leading "..", at most NAME_MAX bytes.  @cm or @key may be
 * NULL to check a prefix only.  Return: 0 or -EINVAL with the reason in @d.
 */
int store_check_name(const char *ns, const char *cm, const char *key, struct diag *d);

enum store_name_kind {
	STORE_NAME_NS = 0, /* namespace: DNS label */
	STORE_NAME_CM,	   /* ConfigMap: DNS subdomain */
	STORE_NAME_KEY,	   /* data key: [-._a-zA-Z0-9]+ */
};

/**
 * store_check_name_len() - the name policy for one name given with its length
 * @kind: which rule applies
 * @name: @len bytes, not necessarily NUL-terminated
 * @len: its length; a NUL byte inside is refused
 * @d: the reason on failure
 *
 * For callers that hold names as counted buffers (a JSON string may carry
 * "\u0000"): a C string would silently cut such a name at the NUL, this
 * refuses it.  Return: 0 or -EINVAL.
 */
int store_check_name_len(enum store_name_kind kind, const char *name, size_t len, struct diag *d);

/*
 * Odd entries, the ones store_list() reports as STORE_ENTRY_OTHER, are never
 * followed: store_write() replaces a symlink, FIFO or socket at <key> as a name
 * (the rename swaps the directory entry, nothing is written through it) and
 * fails with -EISDIR on a directory there; a symlink or another non-directory
 * at <ns> or <cm> makes store_write() and store_remove() fail with -ELOOP or
 * -ENOTDIR, and store_remove_configmap() removes such a <cm> entry itself.
 * When the directory fsync after a rename fails, the error is returned with the
 * new file in place, and the next store_write() or store_state_set() runs
 * syncfs() before anything else.  The store is not thread-safe: one loop owns it.
 */

/**
 * store_write() - atomically replace operator/<ns>/<cm>/<key> with @data (mode 0644)
 *
 * Return: 0 when written, STORE_UNCHANGED when the file already held exactly
 * these bytes (nothing is written, no fsync, mtime unchanged), or a negative
 * errno; on failure the previous file is byte-identical and no temp file stays.
 */
int store_write(struct store *s, const char *ns, const char *cm, const char *key, const void *data,
		size_t len, struct diag *d);

/**
 * store_remove() - remove one profile and prune directories left empty
 * Return: 0, STORE_ABSENT, or a negative errno.
 */
int store_remove(struct store *s, const char *ns, const char *cm, const char *key, struct diag *d);

/**
 * store_remove_configmap() - remove every file of one ConfigMap and its directory
 * Return: 0, STORE_ABSENT, or a negative errno.
 */
int store_remove_configmap(struct store *s, const char *ns, const char *cm, struct diag *d);

enum store_entry_type {
	STORE_ENTRY_FILE = 0, /* a regular file: a profile */
	STORE_ENTRY_OTHER, /* a symlink, socket, fifo, device, or a name the policy refuses: reported, never followed */
};

struct store_entry {
	enum store_entry_type type;
	char ns[STORE_NS_MAX + 1];
	char cm[STORE_CM_MAX + 1];
	char key[STORE_KEY_MAX + 1]; /* "" for an odd entry at namespace or configmap level */
	uint8_t digest[SHA256_LEN];  /* of the file's bytes; zero for STORE_ENTRY_OTHER */
	size_t size;
};

/**
 * store_list() - what is on disk under operator/ (or only operator/<ns>/ when @ns is set)
 * @out: a new array the caller frees with free()
 * @n: its length
 *
 * Return: 0 or a negative errno.
 */
int store_list(struct store *s, const char *ns, struct store_entry **out, size_t *n,
	       struct diag *d);

/*
 * store_walk() callback: @e is valid only during the call; a negative return
 * (with @d set) stops the walk and is what store_walk() returns.
 */
typedef int (*store_walk_fn)(void *ctx, const struct store_entry *e, struct diag *d);

/**
 * store_walk() - store_list() without the array: each entry, in directory order, to @fn
 *
 * What the daemon uses at every relist: the listing of 10,000 files would be
 * a 6 MiB array.  Return: 0, @fn's negative return, or another negative errno.
 */
int store_walk(struct store *s, const char *ns, store_walk_fn fn, void *ctx, struct diag *d);

/**
 * store_state_get() - the validator version recorded in operator/.seccomp-syncd
 * @buf: receives it ("" when there is no state file)
 * Return: 0 or a negative errno.
 */
int store_state_get(struct store *s, char *buf, size_t size, struct diag *d);

/** store_state_set() - record @validator_version, atomically; Return: 0 or a negative errno */
int store_state_set(struct store *s, const char *validator_version, struct diag *d);

#endif
