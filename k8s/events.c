/* SPDX-License-Identifier: Apache-2.0 */
#include "k8s/events.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/sha256.h"

#define HASH_HEX 16

/* Length of the valid UTF-8 sequence at @s (at most @n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	unsigned c = s[0];
	unsigned long cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past U+10FFFF. */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/*
 * Append @s (at most @max bytes of it, cut on a character boundary, with "..."
 * when cut) as a JSON string.
 */
static int json_str(struct buf *b, const char *s, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, keep = n;
	bool cut = false;
	int r;

	if (n > max) {
		cut = true;
		keep = max > 3 ? max - 3 : 0;
	}
	r = buf_append(b, "\"", 1);
	while (r == 0 && i < keep) {
		size_t len = utf8_len(p + i, n - i);

		if (len == 0) {
			r = buf_append(b, "\\ufffd", 6);
			i++;
			continue;
		}
		if (i + len > keep)
			break;
		if (len > 1) {
			r = buf_append(b, p + i, len);
		} else if (p[i] == '"' || p[i] == '\\') {
			char esc[2] = { '\\', (char)p[i] };

			r = buf_append(b, esc, 2);
		} else if (p[i] == '\n') {
			r = buf_append(b, "\\n", 2);
		} else if (p[i] == '\t') {
			r = buf_append(b, "\\t", 2);
		} else if (p[i] < 0x20 || p[i] == 0x7f) {
			char esc[6] = { '\\', 'u', '0', '0', hex[p[i] >> 4], hex[p[i] & 15] };

			r = buf_append(b, esc, 6);
		} else {
			r = buf_append(b, p + i, 1);
		}
		i += len;
	}
	if (r == 0 && cut)
		r = buf_append(b, "...", 3);
	if (r == 0)
		r = buf_append(b, "\"", 1);
	return r;
}

static int check_field(const char *what, const char *s, size_t max, bool required, struct diag *d)
{
	if (!s || !s[0]) {
		if (required)
			return diag_set(d, -EINVAL, "event has no %s", what);
		return 0;
	}
	if (strlen(s) > max)
		return diag_set(d, -EINVAL, "event %s is longer than %zu bytes", what, max);
	return 0;
}

static int check_event(const struct k8s_event_post *ev, const char *node, struct diag *d)
{
	int r;

	if ((r = check_field("namespace", ev->ns, K8S_EVENT_FIELD_MAX, true, d)) < 0 ||
	    (r = check_field("kind", ev->kind, K8S_EVENT_FIELD_MAX, true, d)) < 0 ||
	    (r = check_field("name", ev->name, K8S_EVENT_FIELD_MAX, true, d)) < 0 ||
	    (r = check_field("uid", ev->uid, K8S_EVENT_FIELD_MAX, true, d)) < 0 ||
	    (r = check_field("resourceVersion", ev->resource_version, K8S_EVENT_FIELD_MAX, false,
			     d)) < 0 ||
	    (r = check_field("type", ev->type, K8S_EVENT_FIELD_MAX, true, d)) < 0 ||
	    (r = check_field("reason", ev->reason, K8S_EVENT_REASON_MAX, true, d)) < 0 ||
	    (r = check_field("dedup", ev->dedup, K8S_EVENT_DEDUP_MAX, false, d)) < 0 ||
	    (r = check_field("node name", node, K8S_EVENT_FIELD_MAX, false, d)) < 0)
		return r;
	return 0;
}

static void hash_field(struct sha256 *s, const char *v)
{
	/* NUL-terminated, so that ("ab","c") and ("a","bc") differ. */
	if (v)
		sha256_update(s, v, strlen(v));
	sha256_update(s, "", 1);
}

int k8s_event_name(const struct k8s_event_post *ev, char out[K8S_EVENT_NAME_MAX + 1],
		   struct diag *d)
{
	uint8_t digest[SHA256_LEN];
	char hex[SHA256_HEX_LEN];
	struct sha256 s;
	size_t n;
	int r;

	r = check_event(ev, NULL, d);
	if (r < 0)
		return r;
	sha256_init(&s);
	hash_field(&s, ev->uid);
	hash_field(&s, ev->resource_version);
	hash_field(&s, ev->dedup);
	hash_field(&s, ev->reason);
	sha256_final(&s, digest);
	sha256_hex(digest, hex);

	n = strlen(ev->name);
	if (n > K8S_EVENT_NAME_MAX - 1 - HASH_HEX)
		n = K8S_EVENT_NAME_MAX - 1 - HASH_HEX;
	/* A shortened name must not end in '.' or '-' ("a..b" is no subdomain). */
	while (n > 0 && (ev->name[n - 1] == '.' || ev->name[n - 1] == '-'))
		n--;
	if (n == 0)
		return diag_set(d, -EINVAL, "event object name '%s' is unusable", ev->name);
	memcpy(out, ev->name, n);
	out[n] = '.';
	memcpy(out + n + 1, hex, HASH_HEX);
	out[n + 1 + HASH_HEX] = '\0';
	return 0;
}

static int json_field(struct buf *b, const char *sep_key, const char *v, size_t max)
{
	int r = buf_appendf(b, "%s", sep_key);

	return r < 0 ? r : json_str(b, v, max);
}

int k8s_event_json(const struct k8s_event_post *ev, const char *node, time_t now, struct buf *out,
		   struct diag *d)
{
	char name[K8S_EVENT_NAME_MAX + 1] = { 0 }, stamp[32];
	struct tm tm;
	struct buf b;
	int r;

	buf_init(&b, 0);
	r = k8s_event_name(ev, name, d);
	if (r < 0)
		goto out;
	r = check_event(ev, node, d);
	if (r < 0)
		goto out;
	if (!gmtime_r(&now, &tm) ||
	    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		r = diag_set(d, -EINVAL, "cannot format the event time");
		goto out;
	}
	if ((r = json_field(&b, "{\"apiVersion\":\"v1\",\"kind\":\"Event\",\"metadata\":{\"name\":",
			    name, K8S_EVENT_NAME_MAX)) < 0 ||
	    (r = json_field(&b, ",\"namespace\":", ev->ns, K8S_EVENT_FIELD_MAX)) < 0 ||
	    (r = json_field(&b, "},\"involvedObject\":{\"apiVersion\":\"v1\",\"kind\":", ev->kind,
			    K8S_EVENT_FIELD_MAX)) < 0 ||
	    (r = json_field(&b, ",\"namespace\":", ev->ns, K8S_EVENT_FIELD_MAX)) < 0 ||
	    (r = json_field(&b, ",\"name\":", ev->name, K8S_EVENT_FIELD_MAX)) < 0 ||
	    (r = json_field(&b, ",\"uid\":", ev->uid, K8S_EVENT_FIELD_MAX)) < 0)
		goto out;
	if (ev->resource_version && ev->resource_version[0] &&
	    (r = json_field(&b, ",\"resourceVersion\":", ev->resource_version,
			    K8S_EVENT_FIELD_MAX)) < 0)
		goto out;
	if ((r = json_field(&b, "},\"reason\":", ev->reason, K8S_EVENT_REASON_MAX)) < 0 ||
	    (r = json_field(&b, ",\"message\":", ev->message ? ev->message : "",
			    K8S_EVENT_MESSAGE_MAX)) < 0 ||
	    (r = json_field(&b, ",\"type\":", ev->type, K8S_EVENT_FIELD_MAX)) < 0 ||
	    (r = buf_appendf(&b, ",\"source\":{\"component\":\"%s\"", K8S_EVENT_COMPONENT)) < 0)
		goto out;
	if (node && node[0] && (r = json_field(&b, ",\"host\":", node, K8S_EVENT_FIELD_MAX)) < 0)
		goto out;
	if ((r = buf_appendf(&b,
			     "},\"firstTimestamp\":\"%s\",\"lastTimestamp\":\"%s\",\"count\":1,"
			     "\"reportingComponent\":\"%s\"",
			     stamp, stamp, K8S_EVENT_COMPONENT)) < 0)
		goto out;
	if (node && node[0] &&
	    (r = json_field(&b, ",\"reportingInstance\":", node, K8S_EVENT_FIELD_MAX)) < 0)
		goto out;
	if ((r = buf_append(&b, "}", 1)) < 0)
		goto out;
	r = buf_append(out, b.data, b.len);
out:
	if (r == -ENOMEM || r == -E2BIG)
		(void)diag_set(d, r, "cannot build the event for '%s/%s'", ev->ns ? ev->ns : "",
			       ev->name ? ev->name : "");
	buf_release(&b);
	return r;
}

void k8s_ratelimit_init(struct k8s_ratelimit *rl, unsigned per_minute, unsigned burst,
			uint64_t now_ms)
{
	if (per_minute == 0)
		per_minute = 60;
	if (burst == 0)
		burst = 1;
	rl->interval_ms = 60000 / per_minute;
	if (rl->interval_ms == 0)
		rl->interval_ms = 1;
	rl->max_credit_ms = rl->interval_ms * burst;
	rl->credit_ms = rl->max_credit_ms;
	rl->last_ms = now_ms;
}

uint64_t k8s_ratelimit_take(struct k8s_ratelimit *rl, uint64_t now_ms)
{
	if (now_ms > rl->last_ms) {
		uint64_t gained = now_ms - rl->last_ms;

		rl->credit_ms = gained >= rl->max_credit_ms - rl->credit_ms
					? rl->max_credit_ms
					: rl->credit_ms + gained;
		rl->last_ms = now_ms;
	}
	if (rl->credit_ms >= rl->interval_ms) {
		rl->credit_ms -= rl->interval_ms;
		return 0;
	}
	return rl->interval_ms - rl->credit_ms;
}

void k8s_event_item_free(struct k8s_event_item *it)
{
	if (!it)
		return;
	free(it->strings);
	free(it->body);
	free(it);
}

/* Copy the @n strings of @src (NULL stays NULL) into one allocation that @dst point into. */
static char *pack_strings(const char *const *src, const char **dst, size_t n)
{
	size_t size = 1, i;
	char *block, *at;

	for (i = 0; i < n; i++)
		if (src[i])
			size += strlen(src[i]) + 1;
	block = malloc(size);
	if (!block)
		return NULL;
	at = block;
	for (i = 0; i < n; i++) {
		size_t len;

		dst[i] = NULL;
		if (!src[i])
			continue;
		len = strlen(src[i]) + 1;
		dst[i] = memcpy(at, src[i], len);
		at += len;
	}
	return block;
}

int k8s_event_queue_init(struct k8s_event_queue *q, size_t cap, unsigned per_minute,
			 uint64_t now_ms)
{
	memset(q, 0, sizeof(*q));
	q->cap = cap ? cap : K8S_EVENT_QUEUE_DEFAULT;
	q->items = calloc(q->cap, sizeof(struct k8s_event_item *));
	if (!q->items)
		return -ENOMEM;
	k8s_ratelimit_init(&q->rl, per_minute, K8S_EVENT_BURST, now_ms);
	return 0;
}

void k8s_event_queue_release(struct k8s_event_queue *q)
{
	while (q->count) {
		k8s_event_item_free(q->items[q->head]);
		q->head = (q->head + 1) % q->cap;
		q->count--;
	}
	free(q->items);
	q->items = NULL;
	q->cap = 0;
	q->head = 0;
}

int k8s_event_queue_push(struct k8s_event_queue *q, const struct k8s_event_post *ev,
			 const char *node, time_t now, uint64_t now_ms, struct diag *d)
{
	char name[K8S_EVENT_NAME_MAX + 1] = { 0 };
	struct k8s_event_item *it = NULL;
	const char *src[11], *dst[11];
	int r;

	if (q->count >= q->cap) {
		r = diag_set(d, -ENOBUFS, "event queue is full, dropped %s event for '%s/%s'",
			     ev->reason ? ev->reason : "", ev->ns ? ev->ns : "",
			     ev->name ? ev->name : "");
		goto out;
	}
	/* Naming checks the Event's own fields; the node is the one left. */
	r = k8s_event_name(ev, name, d);
	if (r == 0)
		r = check_field("node name", node, K8S_EVENT_FIELD_MAX, false, d);
	if (r < 0)
		goto out;
	it = calloc(1, sizeof(*it));
	if (!it) {
		r = diag_set(d, -ENOMEM, "cannot queue the event for '%s/%s'", ev->ns, ev->name);
		goto out;
	}
	src[0] = name;
	src[1] = ev->ns;
	src[2] = ev->kind;
	src[3] = ev->name;
	src[4] = ev->uid;
	src[5] = ev->resource_version;
	src[6] = ev->type;
	src[7] = ev->reason;
	src[8] = ev->message;
	src[9] = ev->dedup;
	src[10] = node;
	it->strings = pack_strings(src, dst, 11);
	if (!it->strings) {
		r = diag_set(d, -ENOMEM, "cannot queue the event for '%s/%s'", ev->ns, ev->name);
		goto out;
	}
	it->name = dst[0];
	it->ev.ns = it->ns = dst[1];
	it->ev.kind = dst[2];
	it->ev.name = dst[3];
	it->ev.uid = dst[4];
	it->ev.resource_version = dst[5];
	it->ev.type = dst[6];
	it->ev.reason = it->reason = dst[7];
	it->ev.message = dst[8];
	it->ev.dedup = dst[9];
	it->node = dst[10];
	it->when = now;
	it->not_before_ms = now_ms;
	/* Retries start at a second: events are not worth a tight loop. */
	k8s_backoff_init(&it->backoff, 1000, 30000, 0);
	q->items[(q->head + q->count) % q->cap] = it;
	q->count++;
	it = NULL;
out:
	k8s_event_item_free(it);
	return r;
}

struct k8s_event_item *k8s_event_queue_next(struct k8s_event_queue *q, uint64_t now_ms,
					    uint64_t *wait_ms)
{
	struct k8s_event_item *it;
	uint64_t wait;

	if (!q->count)
		return NULL;
	it = q->items[q->head];
	if (it->not_before_ms > now_ms) {
		*wait_ms = it->not_before_ms - now_ms;
		return NULL;
	}
	wait = k8s_ratelimit_take(&q->rl, now_ms);
	if (wait) {
		*wait_ms = wait;
		return NULL;
	}
	q->items[q->head] = NULL;
	q->head = (q->head + 1) % q->cap;
	q->count--;
	it->attempts++;
	if (!it->body) {
		struct buf body;
		struct diag d;

		/* Checked when queued: only memory can fail here. */
		buf_init(&body, 0);
		if (k8s_event_json(&it->ev, it->node, it->when, &body, &d) == 0)
			it->body = buf_detach(&body, &it->body_len);
		buf_release(&body);
	}
	return it;
}

enum k8s_event_outcome k8s_event_outcome(int http_code)
{
	if ((http_code >= 200 && http_code < 300) || http_code == 409)
		return K8S_EVENT_DONE;
	if (http_code == 0 || http_code == 401 || http_code == 408 || http_code == 429 ||
	    http_code >= 500)
		return K8S_EVENT_RETRY;
	return K8S_EVENT_DROP;
}

int k8s_event_queue_retry(struct k8s_event_queue *q, struct k8s_event_item *it, uint64_t now_ms,
			  unsigned retry_after_s, uint32_t rnd)
{
	uint64_t wait;

	if (it->attempts >= K8S_EVENT_ATTEMPTS || q->count >= q->cap) {
		k8s_event_item_free(it);
		return -ETIMEDOUT;
	}
	wait = k8s_backoff_next(&it->backoff, now_ms, rnd);
	if (retry_after_s > 600)
		retry_after_s = 600;
	if ((uint64_t)retry_after_s * 1000 > wait)
		wait = (uint64_t)retry_after_s * 1000;
	it->not_before_ms = now_ms + wait;
	q->head = (q->head + q->cap - 1) % q->cap;
	q->items[q->head] = it;
	q->count++;
	return 0;
}
