/* SPDX-License-Identifier: Apache-2.0 */
#include "daemon/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/utf8.h"

/*
 * A line is built on the stack and written with one write(2): no lock, no
 * shared buffer, and a line no longer than PIPE_BUF (4096 on Linux) reaches a
 * pipe (a container runtime's log collector) in one piece even when several
 * threads log at once.
 */
#define LOG_LINE_MAX 4096
/* Kept free at the end of every line for the truncation marker and the newline. */
#define LOG_TAIL 32

static atomic_int log_format_cur = LOG_FMT_TEXT;
static atomic_int log_min_level = LOG_LVL_INFO;

static const char *const level_names[] = {
	[LOG_LVL_ERROR] = "error",
	[LOG_LVL_WARN] = "warn",
	[LOG_LVL_INFO] = "info",
	[LOG_LVL_DEBUG] = "debug",
};

struct line {
	char buf[LOG_LINE_MAX];
	size_t len;
	size_t mark; /* where the field being written began */
	bool json;
	bool full;     /* something did not fit: everything after it is dropped */
	bool in_value; /* past the key of the current field */
	bool quoted;   /* the current value has an opening quote to close */
};

void log_setup(enum log_format format, enum log_level min)
{
	if (format != LOG_FMT_JSON)
		format = LOG_FMT_TEXT;
	if ((unsigned)min > LOG_LVL_DEBUG)
		min = LOG_LVL_DEBUG;
	atomic_store(&log_format_cur, (int)format);
	atomic_store(&log_min_level, (int)min);
}

int log_parse_level(const char *s, enum log_level *out)
{
	size_t i;

	if (!s)
		return -EINVAL;
	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

int log_parse_format(const char *s, enum log_format *out)
{
	if (!s)
		return -EINVAL;
	if (strcmp(s, "text") == 0) {
		*out = LOG_FMT_TEXT;
		return 0;
	}
	if (strcmp(s, "json") == 0) {
		*out = LOG_FMT_JSON;
		return 0;
	}
	return -EINVAL;
}

bool log_enabled(enum log_level level)
{
	return (int)level <= atomic_load(&log_min_level);
}

/*
 * Append @n bytes as one unit: either all of it fits in front of the reserved
 * tail or none of it is written and the line is marked full, so an escape
 * sequence or a UTF-8 character is never cut in half.
 */
static void put(struct line *l, const char *s, size_t n)
{
	if (l->full)
		return;
	if (n > LOG_LINE_MAX - LOG_TAIL - l->len) {
		l->full = true;
		return;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void put_str(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

/* Used only for the end of the line, which always fits in the reserved tail. */
static void put_tail(struct line *l, const char *s)
{
	size_t n = strlen(s);

	if (n > LOG_LINE_MAX - l->len)
		n = LOG_LINE_MAX - l->len;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

/*
 * The escapes both formats share (JSON's, which Go's logfmt readers also
 * accept): quote, backslash, the usual control characters by name, other
 * control bytes as \u00XX, and a byte that is not well-formed UTF-8 as the
 * replacement character, so the output is always valid UTF-8.
 */
static void put_escaped(struct line *l, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);

	while (n && !l->full) {
		unsigned char c = *p;
		char esc[6];
		size_t k;

		switch (c) {
		case '"':
			put(l, "\\\"", 2);
			break;
		case '\\':
			put(l, "\\\\", 2);
			break;
		case '\n':
			put(l, "\\n", 2);
			break;
		case '\r':
			put(l, "\\r", 2);
			break;
		case '\t':
			put(l, "\\t", 2);
			break;
		default:
			if (c < 0x20 || c == 0x7f) {
				memcpy(esc, "\\u00", 4);
				esc[4] = hex[c >> 4];
				esc[5] = hex[c & 0xf];
				put(l, esc, 6);
				break;
			}
			k = utf8_seq_len(p, n);
			if (k == 0) {
				put(l, "\\ufffd", 6);
				break;
			}
			put(l, (const char *)p, k);
			p += k;
			n -= k;
			continue;
		}
		p++;
		n--;
	}
}

/* logfmt leaves a value bare only when a reader cannot misread it. */
static bool text_needs_quotes(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);

	if (n == 0)
		return true;
	while (n) {
		size_t k;

		if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f)
			return true;
		k = utf8_seq_len(p, n);
		if (k == 0)
			return true;
		p += k;
		n -= k;
	}
	return false;
}

/* Keys come from our own code; still, a logfmt key must not contain a separator. */
static void put_text_key(struct line *l, const char *key)
{
	char k[64];
	size_t i;

	for (i = 0; i < sizeof(k) - 1 && key[i]; i++) {
		char c = key[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';

		k[i] = ok ? c : '_';
	}
	if (i == 0)
		k[i++] = '_';
	put(l, k, i);
}

static void put_field(struct line *l, const char *key, const char *value)
{
	if (l->full)
		return;
	l->mark = l->len;
	l->in_value = false;
	l->quoted = false;
	if (l->json) {
		put(l, ",\"", 2);
		put_escaped(l, key);
		put(l, "\":\"", 3);
		l->in_value = !l->full;
		l->quoted = !l->full;
		put_escaped(l, value);
		put(l, "\"", 1);
	} else {
		if (l->len)
			put(l, " ", 1);
		put_text_key(l, key);
		put(l, "=", 1);
		l->in_value = !l->full;
		if (text_needs_quotes(value)) {
			put(l, "\"", 1);
			l->quoted = !l->full;
			put_escaped(l, value);
			put(l, "\"", 1);
		} else {
			put_escaped(l, value);
		}
	}
	if (!l->full) {
		l->in_value = false;
		l->quoted = false;
	}
}

/*
 * Close what the cut left open, so a truncated line still parses, and say it
 * was cut: a half-written key is dropped, a half-written value is kept.
 */
static void finish(struct line *l)
{
	if (l->full) {
		if (!l->in_value)
			l->len = l->mark;
		else if (l->quoted)
			put_tail(l, "\"");
		put_tail(l, l->json ? ",\"truncated\":true" : " truncated=true");
	}
	if (l->json)
		put_tail(l, "}");
	put_tail(l, "\n");
}

/* RFC 3339 in UTC with milliseconds: 2026-11-29T13:44:42.123Z. */
static void format_time(char *out, size_t size)
{
	struct timespec ts;
	struct tm tm;

	if (clock_gettime(CLOCK_REALTIME, &ts) < 0 || !gmtime_r(&ts.tv_sec, &tm)) {
		(void)snprintf(out, size, "1970-01-01T00:00:00.000Z");
		return;
	}
	(void)snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		       tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		       (int)(ts.tv_nsec / 1000000));
}

static void write_all(const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(STDERR_FILENO, s, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		s += w;
		n -= (size_t)w;
	}
}

void log_kv(enum log_level level, const char *msg, ...)
{
	struct line l;
	char ts[64];
	va_list ap;
	const char *key;
	int saved_errno = errno;

	if (!log_enabled(level))
		return;
	if ((unsigned)level > LOG_LVL_DEBUG)
		level = LOG_LVL_DEBUG;
	l.len = 0;
	l.mark = 0;
	l.full = false;
	l.in_value = false;
	l.quoted = false;
	l.json = atomic_load(&log_format_cur) == LOG_FMT_JSON;

	format_time(ts, sizeof(ts));
	if (l.json) {
		put_str(&l, "{\"time\":\"");
		put_str(&l, ts);
		put_str(&l, "\",\"level\":\"");
		put_str(&l, level_names[level]);
		put_str(&l, "\"");
	} else {
		put_str(&l, "time=");
		put_str(&l, ts);
		put_str(&l, " level=");
		put_str(&l, level_names[level]);
	}
	put_field(&l, "msg", msg ? msg : "");

	va_start(ap, msg);
	while ((key = va_arg(ap, const char *)) != NULL) {
		const char *value = va_arg(ap, const char *);

		if (value)
			put_field(&l, key, value);
	}
	va_end(ap);

	finish(&l);
	write_all(l.buf, l.len);
	errno = saved_errno;
}
