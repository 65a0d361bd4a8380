/* SPDX-License-Identifier: Apache-2.0 */
#ifndef SECCOMP_SYNCD_COMMON_DIAG_H
#define SECCOMP_SYNCD_COMMON_DIAG_H

/*
 * A diagnostic: the human-readable detail of the last error, in a fixed buffer
 * that the caller owns (usually on its stack), so that reporting an error
 * never allocates and there is nothing to free.  Library code returns a
 * negative errno and fills a diag; only daemon/ prints it.
 */

#include <stddef.h>

#define DIAG_MAX 512

struct diag {
	char msg[DIAG_MAX];
};

/**
 * diag_set() - record a message and return @r
 * @d: the diagnostic to fill; may be NULL (the message is then dropped)
 * @r: the result to pass through, normally a negative errno
 * @fmt: printf-style message: lower case, no full stop, subject quoted
 *
 * Lets a failure be reported and returned in one statement:
 * ``return diag_set(d, -EINVAL, "bad key '%s'", key);``
 * The message is truncated to fit.  Return: @r.
 */
int diag_set(struct diag *d, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/**
 * diag_prefix() - put context in front of the message already in @d
 * @d: the diagnostic; may be NULL
 * @r: passed through
 * @fmt: printf-style prefix; ": " is inserted between it and the old message
 *
 * Return: @r.
 */
int diag_prefix(struct diag *d, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/**
 * diag_clear() - empty @d (NULL is allowed)
 */
void diag_clear(struct diag *d);

#endif
