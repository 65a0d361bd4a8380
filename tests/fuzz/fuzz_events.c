/* SPDX-License-Identifier: Apache-2.0 */
/*
 * k8s/events: arbitrary bytes as the message, name, uid, dedup and node.  The
 * Event body must stay one JSON object of valid UTF-8 without raw control
 * characters, with a bounded message, and the name must stay a bounded
 * subdomain-shaped "<name>.<16 hex>".
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "k8s/events.h"

/* Returns the next NUL-free field (up to a 0 byte) as a new string. */
static char *field(const uint8_t **p, size_t *n)
{
	const uint8_t *end = memchr(*p, 0, *n);
	size_t len = end ? (size_t)(end - *p) : *n;
	char *s = strndup((const char *)*p, len);

	*p += len + (end ? 1 : 0);
	*n -= len + (end ? 1 : 0);
	return s;
}

static void check_utf8_json(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		size_t len = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4, k;

		if (c < 0x20 || (c >= 0x80 && c < 0xc2) || c > 0xf4 || i + len > n)
			abort();
		for (k = 1; k < len; k++)
			if (((unsigned char)s[i + k] & 0xc0) != 0x80)
				abort();
		i += len;
	}
	if (n < 2 || s[0] != '{' || s[n - 1] != '}')
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[K8S_EVENT_NAME_MAX + 1];
	struct k8s_event_post ev = { 0 };
	char *f[5];
	struct buf b;
	size_t i, len;

	for (i = 0; i < 5; i++)
		f[i] = field(&data, &size);
	ev.ns = "default";
	ev.kind = "ConfigMap";
	ev.name = f[0];
	ev.uid = f[1];
	ev.resource_version = "1";
	ev.type = "Warning";
	ev.reason = "InvalidSeccompProfile";
	ev.dedup = f[2];
	ev.message = f[3];
	buf_init(&b, 0);
	if (k8s_event_json(&ev, f[4], 0, &b, NULL) == 0) {
		check_utf8_json(b.data, b.len);
		if (k8s_event_name(&ev, name, NULL) != 0)
			abort();
		len = strlen(name);
		if (len > K8S_EVENT_NAME_MAX || len < 18 || name[len - 17] != '.' ||
		    strspn(name + len - 16, "0123456789abcdef") != 16)
			abort();
		/* Message bytes as sent are at most the bound (escapes aside). */
		if (strlen(f[3]) <= K8S_EVENT_MESSAGE_MAX && strstr(b.data, "...\",\"type\""))
			if (strlen(f[3]) < 3 || strcmp(f[3] + strlen(f[3]) - 3, "...") != 0)
				abort();
	}
	buf_release(&b);
	for (i = 0; i < 5; i++)
		free(f[i]);
	return 0;
}
