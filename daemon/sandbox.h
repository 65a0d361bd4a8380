/* SPDX-License-Identifier: Apache-2.0 */
#ifndef SECCOMP_SYNCD_DAEMON_SANDBOX_H
#define SECCOMP_SYNCD_DAEMON_SANDBOX_H

/*
 * The daemon confines itself after start-up, in OpenBSD order: everything it
 * needs is open, then no_new_privs, then every capability dropped, then its
 * own libseccomp allow-list with default action ERRNO(EPERM), so a syscall the
 * list missed is an error the daemon reports, not a crash.
 */

#include <stdbool.h>

#include "common/diag.h"

struct sandbox_opts {
	bool drop_caps; /* drop every capability from all sets (uid 0 keeps file access to root-owned dirs) */
	bool seccomp;  /* install the allow-list */
	bool extended; /* sanitizer or valgrind build: allow what their runtimes need */
};

/**
 * sandbox_enter() - no_new_privs, drop capabilities, install the filter (as @opts says)
 * Return: 0 or a negative errno.
 */
int sandbox_enter(const struct sandbox_opts *opts, struct diag *d);

/**
 * sandbox_runtime_extended() - whether this process needs the extended list
 *
 * True in an AddressSanitizer/UBSan build and under valgrind, whose runtimes
 * make syscalls the daemon itself never does; use it for
 * &sandbox_opts.extended unless a flag says otherwise.
 */
bool sandbox_runtime_extended(void);

#endif
