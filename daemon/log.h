/* SPDX-License-Identifier: Apache-2.0 */
#ifndef SECCOMP_SYNCD_DAEMON_LOG_H
#define SECCOMP_SYNCD_DAEMON_LOG_H

/*
 * One line per event, logfmt or JSON, on stderr.  Only daemon/ logs.  Never
 * pass a token, an Authorization header or a profile body.
 */

#include <stdbool.h>

enum log_level {
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

enum log_format {
	LOG_FMT_TEXT = 0, /* logfmt: time=... level=info msg="..." key=value ... */
	LOG_FMT_JSON,
};

/** log_setup() - format and minimum level; before it, text at info to stderr */
void log_setup(enum log_format format, enum log_level min);

/** log_parse_level() - "error", "warn", "info", "debug"; -EINVAL otherwise */
int log_parse_level(const char *s, enum log_level *out);

/** log_parse_format() - "text" or "json"; -EINVAL otherwise */
int log_parse_format(const char *s, enum log_format *out);

/** log_enabled() - whether @level would be written */
bool log_enabled(enum log_level level);

/**
 * log_kv() - write one line: @msg then key/value string pairs, ending with NULL
 *
 * ``log_kv(LOG_LVL_INFO, "profile saved", "ns", ns, "configmap", cm, "key", key, NULL);``
 * Values are quoted and escaped as the format needs; a NULL value is skipped.
 * Thread-safe (one write(2) per line).
 */
void log_kv(enum log_level level, const char *msg, ...) __attribute__((sentinel));

/*
 * The end of log_kv()'s list, typed: a bare NULL passed through "..." is a
 * portability warning in cppcheck (varFuncNullUB), as it may be a plain 0.
 * ``log_kv(LOG_LVL_INFO, "profile saved", "ns", ns, LOG_END);``
 */
#define LOG_END ((const char *)NULL)

#endif
