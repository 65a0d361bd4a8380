/* SPDX-License-Identifier: Apache-2.0 */
/* k8s/events: deterministic names, the Event JSON, escaping, rate limit, the queue. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/diag.h"
#include "k8s/events.h"

static const struct k8s_event_post base = {
	.ns = "team-a",
	.kind = "ConfigMap",
	.name = "profiles",
	.uid = "uid-1",
	.resource_version = "42",
	.type = "Warning",
	.reason = "InvalidSeccompProfile",
	.message = "profile 'key.json' is invalid",
	.dedup = "key.json",
};

static void test_name(void **state)
{
	/* Expected hashes computed independently (Python hashlib). */
	static const struct {
		const char *uid, *rv, *dedup, *reason, *name;
		const char *want;
	} cases[] = {
		{ "uid-1", "42", "key.json", "InvalidSeccompProfile", "profiles",
		  "profiles.d2d49e637ac78069" },
		{ "uid-1", NULL, NULL, "SavedSeccompProfile", "cm", "cm.f81478ba03ac4cb5" },
		{ "uid-1", "", "", "SavedSeccompProfile", "cm", "cm.f81478ba03ac4cb5" },
	};
	char name[K8S_EVENT_NAME_MAX + 1];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct k8s_event_post ev = base;

		ev.uid = cases[i].uid;
		ev.resource_version = cases[i].rv;
		ev.dedup = cases[i].dedup;
		ev.reason = cases[i].reason;
		ev.name = cases[i].name;
		assert_int_equal(k8s_event_name(&ev, name, NULL), 0);
		assert_string_equal(name, cases[i].want);
	}
}

/* Each input of the hash changes the name; the message, type and node do not. */
static void test_name_inputs(void **state)
{
	char ref[K8S_EVENT_NAME_MAX + 1], other[K8S_EVENT_NAME_MAX + 1];
	struct k8s_event_post ev;
	int field;

	(void)state;
	assert_int_equal(k8s_event_name(&base, ref, NULL), 0);
	for (field = 0; field < 7; field++) {
		ev = base;
		switch (field) {
		case 0:
			ev.uid = "uid-2";
			break;
		case 1:
			ev.resource_version = "43";
			break;
		case 2:
			ev.dedup = "other.json";
			break;
		case 3:
			ev.reason = "SavedSeccompProfile";
			break;
		case 4: /* field boundaries are not ambiguous */
			ev.uid = "uid-14";
			ev.resource_version = "2";
			break;
		case 5:
			ev.message = "something else";
			break;
		case 6:
			ev.type = "Normal";
			break;
		}
		assert_int_equal(k8s_event_name(&ev, other, NULL), 0);
		if (field < 5)
			assert_string_not_equal(ref, other);
		else
			assert_string_equal(ref, other);
	}
}

static void test_name_long(void **state)
{
	char obj[254], name[K8S_EVENT_NAME_MAX + 1];
	struct k8s_event_post ev = base;
	struct diag d;

	(void)state;
	memset(obj, 'a', 253);
	obj[253] = '\0';
	ev.name = obj;
	assert_int_equal(k8s_event_name(&ev, name, NULL), 0);
	assert_int_equal(strlen(name), 253);
	assert_int_equal(name[236], '.');
	assert_memory_equal(name, obj, 236);

	/* A cut that would leave "x." or "x-" before the hash backs up further. */
	obj[234] = '.';
	obj[235] = '-';
	assert_int_equal(k8s_event_name(&ev, name, NULL), 0);
	assert_int_equal(strlen(name), 234 + 17);
	assert_int_equal(name[233], 'a');
	assert_int_equal(name[234], '.');

	ev = base;
	ev.uid = NULL;
	assert_int_equal(k8s_event_name(&ev, name, &d), -EINVAL);
	assert_string_equal(d.msg, "event has no uid");
	ev = base;
	ev.name = "";
	assert_int_equal(k8s_event_name(&ev, name, &d), -EINVAL);
	memset(obj, 'a', 253);
	obj[253] = '\0';
	ev = base;
	ev.ns = obj; /* 253 is allowed for the field check, a namespace of 254 is not */
	assert_int_equal(k8s_event_name(&ev, name, NULL), 0);
}

static void test_json(void **state)
{
	static const char want[] =
		"{\"apiVersion\":\"v1\",\"kind\":\"Event\",\"metadata\":{\"name\":"
		"\"profiles.d2d49e637ac78069\",\"namespace\":\"team-a\"},"
		"\"involvedObject\":{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
		"\"namespace\":\"team-a\",\"name\":\"profiles\",\"uid\":\"uid-1\","
		"\"resourceVersion\":\"42\"},\"reason\":\"InvalidSeccompProfile\","
		"\"message\":\"profile 'key.json' is invalid\",\"type\":\"Warning\","
		"\"source\":{\"component\":\"seccomp-syncd\",\"host\":\"node-1\"},"
		"\"firstTimestamp\":\"2023-11-14T22:13:20Z\","
		"\"lastTimestamp\":\"2023-11-14T22:13:20Z\",\"count\":1,"
		"\"reportingComponent\":\"seccomp-syncd\",\"reportingInstance\":\"node-1\"}";
	static const char want_nonode[] =
		"{\"apiVersion\":\"v1\",\"kind\":\"Event\",\"metadata\":{\"name\":"
		"\"profiles.d2d49e637ac78069\",\"namespace\":\"team-a\"},"
		"\"involvedObject\":{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
		"\"namespace\":\"team-a\",\"name\":\"profiles\",\"uid\":\"uid-1\","
		"\"resourceVersion\":\"42\"},\"reason\":\"InvalidSeccompProfile\","
		"\"message\":\"\",\"type\":\"Warning\","
		"\"source\":{\"component\":\"seccomp-syncd\"},"
		"\"firstTimestamp\":\"2023-11-14T22:13:20Z\","
		"\"lastTimestamp\":\"2023-11-14T22:13:20Z\",\"count\":1,"
		"\"reportingComponent\":\"seccomp-syncd\"}";
	struct k8s_event_post ev = base;
	struct buf b;

	(void)state;
	buf_init(&b, 0);
	assert_int_equal(k8s_event_json(&base, "node-1", 1700000000, &b, NULL), 0);
	assert_string_equal(b.data, want);
	buf_reset(&b);
	ev.message = NULL;
	assert_int_equal(k8s_event_json(&ev, NULL, 1700000000, &b, NULL), 0);
	assert_string_equal(b.data, want_nonode);
	buf_reset(&b);
	ev.type = NULL;
	assert_int_equal(k8s_event_json(&ev, NULL, 1700000000, &b, NULL), -EINVAL);
	assert_int_equal(b.len, 0);
	buf_release(&b);
}

/* Returns the JSON value of "message" in an Event body (without quotes). */
static char *message_of(const char *body)
{
	const char *p = strstr(body, "\"message\":\""), *e;

	assert_non_null(p);
	p += strlen("\"message\":\"");
	e = strstr(p, "\",\"type\":");
	assert_non_null(e);
	return strndup(p, (size_t)(e - p));
}

static void test_escaping(void **state)
{
	static const struct {
		const char *in;
		const char *want;
	} cases[] = {
		{ "plain", "plain" },
		{ "a \"quoted\" \\ path", "a \\\"quoted\\\" \\\\ path" },
		{ "line\nnext\ttab\r", "line\\nnext\\ttab\\u000d" },
		{ "\x01\x1f\x7f", "\\u0001\\u001f\\u007f" },
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
		  "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80" },
		{ "bad \xff byte", "bad \\ufffd byte" },
		{ "cut \xc3", "cut \\ufffd" },
		{ "overlong \xc0\xaf", "overlong \\ufffd\\ufffd" },
		{ "surrogate \xed\xa0\x80", "surrogate \\ufffd\\ufffd\\ufffd" },
		{ "</script>", "</script>" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct k8s_event_post ev = base;
		struct buf b;
		char *m;

		buf_init(&b, 0);
		ev.message = cases[i].in;
		assert_int_equal(k8s_event_json(&ev, "node\"1", 0, &b, NULL), 0);
		m = message_of(b.data);
		assert_string_equal(m, cases[i].want);
		assert_non_null(strstr(b.data, "\"host\":\"node\\\"1\""));
		free(m);
		buf_release(&b);
	}
}

static void test_message_bound(void **state)
{
	static const struct {
		size_t len;	  /* bytes of 'x' */
		const char *tail; /* appended */
		size_t want_len;
		const char *want_end;
	} cases[] = {
		{ 1024, "", 1024, "xxx" },
		{ 1025, "", 1024, "x..." },
		{ 5000, "", 1024, "x..." },
		/* a 2-byte character straddling the cut is dropped whole */
		{ 1020, "\xc3\xa9\xc3\xa9\xc3\xa9", 1023, "x..." },
		{ 1019, "\xc3\xa9\xc3\xa9\xc3\xa9", 1024, "\xc3\xa9..." },
		{ 1020, "\xc3\xa9\xc3\xa9", 1024, "\xc3\xa9\xc3\xa9" },
		{ 1020, "\xc3\xa9", 1022, "x\xc3\xa9" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct k8s_event_post ev = base;
		size_t tl = strlen(cases[i].tail), wl = strlen(cases[i].want_end);
		char *msg = malloc(cases[i].len + tl + 1), *m;
		struct buf b;

		assert_non_null(msg);
		memset(msg, 'x', cases[i].len);
		memcpy(msg + cases[i].len, cases[i].tail, tl + 1);
		buf_init(&b, 0);
		ev.message = msg;
		assert_int_equal(k8s_event_json(&ev, NULL, 0, &b, NULL), 0);
		m = message_of(b.data);
		assert_int_equal(strlen(m), cases[i].want_len);
		assert_memory_equal(m + strlen(m) - wl, cases[i].want_end, wl);
		free(m);
		free(msg);
		buf_release(&b);
	}
}

static void test_ratelimit(void **state)
{
	struct k8s_ratelimit rl;
	int i;

	(void)state;
	k8s_ratelimit_init(&rl, 60, 10, 1000);
	for (i = 0; i < 10; i++)
		assert_int_equal(k8s_ratelimit_take(&rl, 1000), 0);
	assert_int_equal(k8s_ratelimit_take(&rl, 1000), 1000);
	assert_int_equal(k8s_ratelimit_take(&rl, 1400), 600);
	assert_int_equal(k8s_ratelimit_take(&rl, 2000), 0);
	assert_int_equal(k8s_ratelimit_take(&rl, 2000), 1000);
	/* A long pause refills the bucket to the burst, no more. */
	for (i = 0; i < 10; i++)
		assert_int_equal(k8s_ratelimit_take(&rl, 1000000), 0);
	assert_true(k8s_ratelimit_take(&rl, 1000000) > 0);
	/* Defaults: 60 a minute, burst 1. */
	k8s_ratelimit_init(&rl, 0, 0, 0);
	assert_int_equal(k8s_ratelimit_take(&rl, 0), 0);
	assert_int_equal(k8s_ratelimit_take(&rl, 0), 1000);
	k8s_ratelimit_init(&rl, 6, 1, 0);
	assert_int_equal(k8s_ratelimit_take(&rl, 0), 0);
	assert_int_equal(k8s_ratelimit_take(&rl, 0), 10000);
	/* A huge rate still spaces by at least a millisecond. */
	k8s_ratelimit_init(&rl, 1000000, 1, 0);
	assert_int_equal(k8s_ratelimit_take(&rl, 0), 0);
	assert_int_equal(k8s_ratelimit_take(&rl, 0), 1);
}

static void test_queue(void **state)
{
	struct k8s_event_queue q;
	struct k8s_event_item *it, *held[3];
	struct k8s_event_post ev = base;
	uint64_t wait = 0;
	struct diag d;
	int i;

	(void)state;
	assert_int_equal(k8s_event_queue_init(&q, 3, 60, 0), 0);
	assert_null(k8s_event_queue_next(&q, 0, &wait));
	for (i = 0; i < 3; i++) {
		char dedup[16];

		(void)snprintf(dedup, sizeof(dedup), "k%d", i);
		ev.dedup = dedup;
		/* Stamped when queued (time 1000), sent later. */
		assert_int_equal(k8s_event_queue_push(&q, &ev, "n", 1000, 0, NULL), 0);
		assert_null(q.items[i]->body); /* built when handed out, not before */
	}
	assert_int_equal(k8s_event_queue_push(&q, &base, "n", 0, 0, &d), -ENOBUFS);
	assert_non_null(strstr(d.msg, "queue is full"));
	assert_int_equal(q.count, 3);

	/* FIFO, one attempt counted per hand-out. */
	for (i = 0; i < 3; i++) {
		held[i] = k8s_event_queue_next(&q, 0, &wait);
		assert_non_null(held[i]);
		assert_int_equal(held[i]->attempts, 1);
		assert_string_equal(held[i]->ns, "team-a");
		assert_string_equal(held[i]->reason, "InvalidSeccompProfile");
		assert_int_equal(strlen(held[i]->body), held[i]->body_len);
	}
	{
		char want[K8S_EVENT_NAME_MAX + 1];
		struct buf body;

		ev = base;
		ev.dedup = "k0";
		assert_int_equal(k8s_event_name(&ev, want, NULL), 0);
		assert_string_equal(held[0]->name, want);
		assert_non_null(strstr(held[0]->body, want));
		/* The body is the one the Event's own fields and queueing time make. */
		buf_init(&body, 0);
		assert_int_equal(k8s_event_json(&ev, "n", 1000, &body, NULL), 0);
		assert_int_equal(held[0]->body_len, body.len);
		assert_memory_equal(held[0]->body, body.data, body.len);
		buf_release(&body);
	}
	assert_string_not_equal(held[0]->name, held[1]->name);
	assert_null(k8s_event_queue_next(&q, 0, &wait));

	/* A retry goes back to the head after its backoff (Retry-After if longer). */
	assert_int_equal(k8s_event_queue_retry(&q, held[2], 0, 0, 0), 0);
	assert_int_equal(k8s_event_queue_retry(&q, held[1], 0, 5, 0), 0);
	k8s_event_item_free(held[0]);
	assert_null(k8s_event_queue_next(&q, 4999, &wait));
	assert_int_equal(wait, 1);
	it = k8s_event_queue_next(&q, 5000, &wait);
	assert_ptr_equal(it, held[1]);
	assert_int_equal(it->attempts, 2);
	/* Attempts are bounded: the fourth failure frees it. */
	assert_int_equal(k8s_event_queue_retry(&q, it, 5000, 0, 0), 0);
	it = k8s_event_queue_next(&q, 7000, &wait);
	assert_ptr_equal(it, held[1]);
	assert_int_equal(k8s_event_queue_retry(&q, it, 7000, 0, 0), 0);
	it = k8s_event_queue_next(&q, 20000, &wait);
	assert_ptr_equal(it, held[1]);
	assert_int_equal(it->attempts, 4);
	assert_int_equal(k8s_event_queue_retry(&q, it, 20000, 0, 0), -ETIMEDOUT);
	it = k8s_event_queue_next(&q, 20000, &wait);
	assert_ptr_equal(it, held[2]);
	k8s_event_item_free(it);
	assert_int_equal(q.count, 0);
	k8s_event_queue_release(&q);
}

/* The rate limit applies to hand-outs: a burst of 10, then one a second at 60/min. */
static void test_queue_rate(void **state)
{
	struct k8s_event_queue q;
	struct k8s_event_post ev = base;
	uint64_t wait = 0, now = 0;
	int i, sent = 0;

	(void)state;
	assert_int_equal(k8s_event_queue_init(&q, 0, 60, 0), 0);
	assert_int_equal(q.cap, K8S_EVENT_QUEUE_DEFAULT);
	for (i = 0; i < 30; i++) {
		char dedup[16];

		(void)snprintf(dedup, sizeof(dedup), "k%d", i);
		ev.dedup = dedup;
		assert_int_equal(k8s_event_queue_push(&q, &ev, NULL, 0, 0, NULL), 0);
	}
	for (i = 0; i < 10; i++) {
		struct k8s_event_item *it = k8s_event_queue_next(&q, now, &wait);

		assert_non_null(it);
		k8s_event_item_free(it);
		sent++;
	}
	assert_null(k8s_event_queue_next(&q, now, &wait));
	assert_int_equal(wait, 1000);
	/* Over the next 10 s exactly 10 more go out. */
	for (now = 1; now <= 10000; now++) {
		struct k8s_event_item *it = k8s_event_queue_next(&q, now, &wait);

		if (it) {
			k8s_event_item_free(it);
			sent++;
		}
	}
	assert_int_equal(sent, 20);
	k8s_event_queue_release(&q);
}

static void test_outcome(void **state)
{
	static const struct {
		int code;
		enum k8s_event_outcome want;
	} cases[] = {
		{ 200, K8S_EVENT_DONE },  { 201, K8S_EVENT_DONE },  { 409, K8S_EVENT_DONE },
		{ 0, K8S_EVENT_RETRY },	  { 401, K8S_EVENT_RETRY }, { 429, K8S_EVENT_RETRY },
		{ 500, K8S_EVENT_RETRY }, { 503, K8S_EVENT_RETRY }, { 504, K8S_EVENT_RETRY },
		{ 400, K8S_EVENT_DROP },  { 403, K8S_EVENT_DROP },  { 404, K8S_EVENT_DROP },
		{ 422, K8S_EVENT_DROP },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(k8s_event_outcome(cases[i].code), cases[i].want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name),	   cmocka_unit_test(test_name_inputs),
		cmocka_unit_test(test_name_long),  cmocka_unit_test(test_json),
		cmocka_unit_test(test_escaping),   cmocka_unit_test(test_message_bound),
		cmocka_unit_test(test_ratelimit),  cmocka_unit_test(test_queue),
		cmocka_unit_test(test_queue_rate), cmocka_unit_test(test_outcome),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
