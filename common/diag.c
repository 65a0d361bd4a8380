/* SPDX-License-Identifier: Apache-2.0 */
#include "common/diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int diag_set(struct diag *d, int r, const char *fmt, ...)
{
	va_list ap;

	if (!d)
		return r;
	va_start(ap, fmt);
	(void)vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
	va_end(ap);
	return r;
}

int diag_prefix(struct diag *d, int r, const char *fmt, ...)
{
	char old[DIAG_MAX];
	int n;
	va_list ap;

	if (!d)
		return r;
	memcpy(old, d->msg, sizeof(old));
	old[sizeof(old) - 1] = '\0';
	va_start(ap, fmt);
	n = vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(d->msg) || !old[0])
		return r;
	/* Truncation is intended: the newest context matters most. */
	{
		size_t at = (size_t)n, room = sizeof(d->msg) - at - 1, len = strlen(old);

		if (room < 2)
			return r;
		memcpy(d->msg + at, ": ", 2);
		at += 2;
		room -= 2;
		if (len > room)
			len = room;
		memcpy(d->msg + at, old, len);
		d->msg[at + len] = '\0';
	}
	return r;
}

void diag_clear(struct diag *d)
{
	if (d)
		d->msg[0] = '\0';
}
