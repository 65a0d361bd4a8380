/* SPDX-License-Identifier: Apache-2.0 */
#ifndef SECCOMP_SYNCD_PROFILESTORE_PROFILE_H
#define SECCOMP_SYNCD_PROFILESTORE_PROFILE_H

/*
 * The profile engine: bytes of a seccomp profile in, a verdict out.
 *
 * It reads the profile the way both families of nodes do (the containerd view,
 * the plain OCI subset; the CRI-O view, the Docker dialect), checks every rule
 * of docs/PROFILE-FORMAT.md, and compiles each view with libseccomp for the
 * node's architecture and each listed architecture, as runc would, without
 * loading anything.  No files, no globals, no logging: the caller owns the
 * verdict and decides what to do with it.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/diag.h"
#include "common/sha256.h"

/* Largest profile accepted, in bytes (error class 1). */
#define PROFILE_MAX_BYTES (1024 * 1024)

/* Which node family a finding concerns. */
enum profile_view {
	PROFILE_VIEW_BOTH = 0,
	PROFILE_VIEW_CONTAINERD,
	PROFILE_VIEW_CRIO,
};

struct profile_finding {
	char *path;    /* JSON path such as "syscalls[3].args[0].op", "" for the whole document */
	char *message; /* what is wrong and what the runtime would do */
	enum profile_view view;
	/*
	 * The class in docs/PROFILE-FORMAT.md: errors 1-8, warnings 1-9; 0 for the
	 * summary that stands for findings left out past the per-view limit.
	 */
	int code;
};

struct profile_verdict {
	bool valid; /* no errors */
	struct profile_finding *errors;
	size_t n_errors;
	struct profile_finding *warnings;
	size_t n_warnings;
	char **arches; /* libseccomp names compiled for, native first */
	size_t n_arches;
	unsigned bpf_instructions; /* largest filter of any view and architecture */
	uint8_t digest
		[SHA256_LEN]; /* cache key: SHA-256 of (content, architectures, validator version) */
};

struct profile_opts {
	const char *arch; /* node architecture: libseccomp or Go name; NULL = this machine's */
};

/**
 * profile_validator_version() - the version of the rules applied
 *
 * Part of every verdict's digest and of the store's state file: when it changes,
 * files already on disk are validated again.  Return: a static string.
 */
const char *profile_validator_version(void);

/**
 * profile_arch_normalize() - map an architecture name to libseccomp's
 * @name: "x86_64", "amd64", "aarch64", "arm64", "ppc64le", "s390x", ...
 *
 * Return: a static libseccomp name ("x86_64", "aarch64", ...) or NULL if unknown.
 */
const char *profile_arch_normalize(const char *name);

/**
 * profile_check() - parse, validate and compile one profile
 * @data: the profile bytes (need not be NUL-terminated)
 * @len: their length
 * @opts: options; NULL means defaults
 * @out: on success, a new verdict the caller frees with profile_verdict_free()
 * @d: detail when the check itself could not run
 *
 * An invalid profile is a success with @out->valid false.  Return: 0, or a
 * negative errno when the check could not be done (-ENOMEM, -EINVAL for an
 * unknown @opts->arch, ...).
 */
int profile_check(const void *data, size_t len, const struct profile_opts *opts,
		  struct profile_verdict **out, struct diag *d);

/**
 * profile_digest() - the digest profile_check() would put in its verdict
 * @data: the profile bytes
 * @len: their length
 * @opts: options (the node architecture); NULL means defaults
 * @out: the digest
 * @d: detail on failure
 *
 * Lets a caller recognise content it has already validated without checking it
 * again.  Return: 0, or -EINVAL for an unknown @opts->arch.
 */
int profile_digest(const void *data, size_t len, const struct profile_opts *opts,
		   uint8_t out[SHA256_LEN], struct diag *d);

/** profile_verdict_free() - free a verdict; NULL is a no-op */
void profile_verdict_free(struct profile_verdict *v);

/*
 * Verdicts cached by digest, so that every node of a 5,000-node cluster does not
 * compile the same profile twice, and the daemon does not recompile on relist.
 */
struct profile_cache;

/* profile_cache_new() flag: compile on a thread of the cache's own (see profile.c for why). */
#define PROFILE_CACHE_THREAD 1u

/**
 * profile_cache_new() - a cache holding at most @max verdicts (least recently used goes)
 * @flags: 0 or PROFILE_CACHE_THREAD; with it, profile_cache_check() hands each
 *         compile to the cache's own thread and waits for it
 *
 * Return: 0, -EINVAL for a bad @max or @flags, -ENOMEM, or the negative errno
 * of a failed pthread_create().
 */
int profile_cache_new(size_t max, unsigned flags, struct profile_cache **out);

/** profile_cache_free() - free the cache and every verdict in it; NULL is a no-op */
void profile_cache_free(struct profile_cache *c);

/**
 * profile_cache_limit_bytes() - also keep the cached verdicts under @max_bytes (0: no limit)
 *
 * Verdicts differ in size by a hundredfold (a clean profile against one with
 * forty findings), so a count alone bounds memory badly.  The newest verdict
 * always stays, whatever its size.
 */
void profile_cache_limit_bytes(struct profile_cache *c, size_t max_bytes);

/**
 * profile_cache_check() - profile_check() through the cache
 *
 * On success *@out points into the cache (borrowed: valid until the next call
 * on @c); @hit says whether it was cached.  Same returns as profile_check().
 */
int profile_cache_check(struct profile_cache *c, const void *data, size_t len,
			const struct profile_opts *opts, const struct profile_verdict **out,
			bool *hit, struct diag *d);

#endif
