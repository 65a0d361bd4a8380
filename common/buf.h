/* SPDX-License-Identifier: Apache-2.0 */
#ifndef SECCOMP_SYNCD_COMMON_BUF_H
#define SECCOMP_SYNCD_COMMON_BUF_H

/*
 * A growable byte buffer with a hard upper bound, for everything that comes
 * from the network or disk: going over the bound is an error (-E2BIG), never
 * an unbounded allocation.  The data is always NUL-terminated (the NUL is not
 * counted in len) so that text can be used in place.
 */

#include <stddef.h>

struct buf {
	char *data; /* owned; NULL until the first append */
	size_t len;
	size_t cap;
	size_t max; /* largest len allowed; 0 means no bound (only for our own output) */
};

/** buf_init() - an empty buffer that may hold at most @max bytes (0: unbounded) */
void buf_init(struct buf *b, size_t max);

/** buf_release() - free the storage; @b is empty (and reusable) afterwards */
void buf_release(struct buf *b);

/** buf_reset() - forget the contents but keep the storage */
void buf_reset(struct buf *b);

/** buf_append() - append @len bytes; -E2BIG past the bound, -ENOMEM; 0 on success */
int buf_append(struct buf *b, const void *data, size_t len);

/** buf_appendf() - append printf-style text; same returns as buf_append() */
int buf_appendf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/**
 * buf_detach() - hand the storage to the caller (who frees it) and empty @b.
 * Returns the NUL-terminated data (an allocated empty string if @b was empty),
 * or NULL when out of memory.
 */
char *buf_detach(struct buf *b, size_t *len);

#endif
