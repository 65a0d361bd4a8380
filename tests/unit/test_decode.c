/* SPDX-License-Identifier: Apache-2.0 */
/*
 * k8s/decode: recorded list and watch streams, each fed whole, split in two at
 * every byte, and byte by byte; every way must give the same callbacks, which
 * are recorded into a canonical text and compared with a reviewed .expected
 * file next to the stream.  Set DECODE_WRITE_EXPECTED=1 to rewrite those
 * files after a deliberate change (then review the diff).
 */
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
#include "k8s/decode.h"
#include "k8s/object.h"

#define STREAMS "tests/data/streams/"

static const char *type_name(enum k8s_event_type t)
{
	switch (t) {
	case K8S_EV_ADDED:
		return "ADDED";
	case K8S_EV_MODIFIED:
		return "MODIFIED";
	case K8S_EV_DELETED:
		return "DELETED";
	case K8S_EV_BOOKMARK:
		return "BOOKMARK";
	default:
		return "?";
	}
}

static const char *source_name(enum k8s_ref_source s)
{
	static const char *names[] = { "pod",	    "container",      "init",
				       "ephemeral", "pod-annotation", "container-annotation" };

	return (size_t)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

static void put_escaped(struct buf *b, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\\')
			assert_int_equal(buf_append(b, "\\\\", 2), 0);
		else if (c >= 0x20 && c < 0x7f)
			assert_int_equal(buf_append(b, &s[i], 1), 0);
		else
			assert_int_equal(buf_appendf(b, "\\x%02x", c), 0);
	}
}

static void put_pairs(struct buf *b, const char *tag, const struct k8s_pair *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		assert_int_equal(buf_appendf(b, "  %s ", tag), 0);
		put_escaped(b, p[i].key, strlen(p[i].key));
		assert_int_equal(buf_appendf(b, " (%zu) ", p[i].value_len), 0);
		put_escaped(b, p[i].value, p[i].value_len);
		assert_int_equal(buf_append(b, "\n", 1), 0);
	}
}

struct rec {
	struct buf out;
	int fail_at; /* make the n-th callback fail with -ECANCELED (0: never) */
	int calls;
};

static int rec_object(void *ctx, enum k8s_event_type type, const struct k8s_object *o)
{
	struct rec *r = ctx;
	struct buf *b = &r->out;
	size_t i;

	assert_int_equal(buf_appendf(b, "%s %s ns=%s name=%s uid=%s rv=%s deleting=%d",
				     type_name(type), o->kind == K8S_KIND_POD ? "pod" : "cm", o->ns,
				     o->name, o->uid, o->resource_version, o->deleting),
			 0);
	if (o->kind == K8S_KIND_CONFIGMAP)
		assert_int_equal(buf_appendf(b, " skipped=%d", o->data_skipped), 0);
	else
		assert_int_equal(buf_appendf(b, " node=%s phase=%s", o->node_name, o->phase), 0);
	assert_int_equal(buf_append(b, "\n", 1), 0);
	put_pairs(b, "ann", o->annotations, o->n_annotations);
	put_pairs(b, "lab", o->labels, o->n_labels);
	put_pairs(b, "data", o->data, o->n_data);
	put_pairs(b, "bin", o->binary_data, o->n_binary_data);
	for (i = 0; i < o->n_refs; i++)
		assert_int_equal(buf_appendf(b, "  ref %s %s %s\n", source_name(o->refs[i].source),
					     o->refs[i].container ? o->refs[i].container : "-",
					     o->refs[i].path),
				 0);
	/* pointers must be usable for exactly what the header promises */
	assert_non_null(o->ns);
	assert_true(o->n_annotations == 0 || o->annotations != NULL);
	if (++r->calls == r->fail_at)
		return -ECANCELED;
	return 0;
}

static int rec_error(void *ctx, const struct k8s_status *st)
{
	struct rec *r = ctx;

	assert_int_equal(buf_appendf(&r->out, "ERROR code=%d reason=%s message=%s cause=%s\n",
				     st->code, st->reason, st->message, st->cause),
			 0);
	if (++r->calls == r->fail_at)
		return -ECANCELED;
	return 0;
}

static const struct k8s_decode_ops rec_ops = { .object = rec_object, .error = rec_error };

struct stream_case {
	const char *file;
	enum k8s_stream stream;
	enum k8s_kind kind;
	size_t max_object;
	const char *require;
	const char *expected;
};

#define REQ "seccomp.security.kubernetes.io/profile"

static const struct stream_case stream_cases[] = {
	{ "list-page.json", K8S_STREAM_LIST, K8S_KIND_CONFIGMAP, 0, NULL, "list-page.all" },
	{ "list-page.json", K8S_STREAM_LIST, K8S_KIND_CONFIGMAP, 0, REQ, "list-page.required" },
	{ "list-empty.json", K8S_STREAM_LIST, K8S_KIND_CONFIGMAP, 0, REQ, "list-empty" },
	{ "watch-events.jsonl", K8S_STREAM_WATCH, K8S_KIND_CONFIGMAP, 0, REQ, "watch-events" },
	{ "watch-error-410.jsonl", K8S_STREAM_WATCH, K8S_KIND_CONFIGMAP, 0, REQ,
	  "watch-error-410" },
	{ "watch-error-504.jsonl", K8S_STREAM_WATCH, K8S_KIND_CONFIGMAP, 0, REQ,
	  "watch-error-504" },
	{ "watch-huge.jsonl", K8S_STREAM_WATCH, K8S_KIND_CONFIGMAP, 4096, REQ, "watch-huge" },
	{ "watch-huge.jsonl", K8S_STREAM_WATCH, K8S_KIND_CONFIGMAP, 0, REQ, "watch-huge.nolimit" },
	{ "watch-malformed.jsonl", K8S_STREAM_WATCH, K8S_KIND_CONFIGMAP, 0, NULL,
	  "watch-malformed" },
	{ "watch-unknown-type.jsonl", K8S_STREAM_WATCH, K8S_KIND_CONFIGMAP, 0, NULL,
	  "watch-unknown-type" },
	{ "watch-binarydata.jsonl", K8S_STREAM_WATCH, K8S_KIND_CONFIGMAP, 0, REQ,
	  "watch-binarydata" },
	{ "watch-binarydata-invalid.jsonl", K8S_STREAM_WATCH, K8S_KIND_CONFIGMAP, 0, NULL,
	  "watch-binarydata-invalid" },
	{ "pod-refs.jsonl", K8S_STREAM_WATCH, K8S_KIND_POD, 0, NULL, "pod-refs" },
	{ "pod-list.json", K8S_STREAM_LIST, K8S_KIND_POD, 0, NULL, "pod-list" },
};

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rbe");
	char *p;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	p = malloc((size_t)n + 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
	p[n] = '\0';
	(void)fclose(f);
	*len = (size_t)n;
	return p;
}

/*
 * Decode @data fed in the pieces that @cuts describes (ascending offsets
 * where a new feed begins) and return the record.  @step > 0 feeds @step bytes
 * at a time instead.
 */
static char *run_stream(const struct stream_case *c, const char *data, size_t len,
			const size_t *cuts, size_t ncuts, size_t step)
{
	struct k8s_decode_opts opts = { .stream = c->stream,
					.kind = c->kind,
					.max_object = c->max_object,
					.require_annotation = c->require };
	struct k8s_decoder *dec = NULL;
	struct rec r = { .fail_at = 0 };
	struct diag d = { "" };
	size_t at = 0, i = 0;
	int fr = 0, er = 0;
	bool finished = false;
	char *s;

	buf_init(&r.out, 0);
	assert_int_equal(k8s_decoder_new(&opts, &rec_ops, &r, &dec, &d), 0);
	while (at < len && fr == 0) {
		size_t end = step ? at + step : (cuts && i < ncuts ? cuts[i++] : len);

		if (end > len)
			end = len;
		fr = k8s_decoder_feed(dec, data + at, end - at, &d);
		at = end;
	}
	if (fr == 0) {
		er = k8s_decoder_finish(dec, &d);
		finished = true;
	}
	if (c->stream == K8S_STREAM_LIST)
		assert_int_equal(buf_appendf(&r.out, "META rv=%s continue=%s\n",
					     k8s_decoder_list_meta(dec)->resource_version,
					     k8s_decoder_list_meta(dec)->continue_token),
				 0);
	assert_int_equal(
		buf_appendf(&r.out, "END feed=%d finish=%s%d\n", fr, finished ? "" : "not-", er),
		0);
	if (fr || er)
		assert_int_equal(buf_appendf(&r.out, "DIAG %s\n", d.msg), 0);
	k8s_decoder_free(dec);
	s = buf_detach(&r.out, NULL);
	assert_non_null(s);
	return s;
}

static void compare_expected(const struct stream_case *c, const char *got)
{
	char path[256];
	char *want;
	size_t n;

	(void)snprintf(path, sizeof(path), STREAMS "%s.expected", c->expected);
	if (getenv("DECODE_WRITE_EXPECTED")) {
		FILE *f = fopen(path, "we");

		assert_non_null(f);
		assert_int_equal(fputs(got, f) >= 0, 1);
		assert_int_equal(fclose(f), 0);
	}
	want = slurp(path, &n);
	if (strcmp(want, got) != 0)
		fprintf(stderr, "%s: got\n%s--- want\n%s", path, got, want);
	assert_string_equal(got, want);
	free(want);
}

static void test_streams_split(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(stream_cases) / sizeof(stream_cases[0]); i++) {
		const struct stream_case *c = &stream_cases[i];
		char path[256];
		size_t len, cut;
		char *data, *whole, *other;

		(void)snprintf(path, sizeof(path), STREAMS "%s", c->file);
		data = slurp(path, &len);
		whole = run_stream(c, data, len, NULL, 0, 0);
		compare_expected(c, whole);
		for (cut = 1; cut < len; cut++) {
			other = run_stream(c, data, len, &cut, 1, 0);
			if (strcmp(other, whole) != 0)
				fprintf(stderr, "%s split at %zu differs\n", c->file, cut);
			assert_string_equal(other, whole);
			free(other);
		}
		other = run_stream(c, data, len, NULL, 0, 1);
		assert_string_equal(other, whole);
		free(other);
		other = run_stream(c, data, len, NULL, 0, 7);
		assert_string_equal(other, whole);
		free(other);
		free(whole);
		free(data);
	}
}

/* A single case decoded from a string, fed whole and byte by byte. */
struct inline_case {
	const char *name;
	enum k8s_stream stream;
	enum k8s_kind kind;
	size_t max_object;
	const char *require;
	const char *in;
	const char *want; /* the record */
};

static const struct inline_case inline_cases[] = {
	{ "metadata before data, marked", K8S_STREAM_WATCH, K8S_KIND_CONFIGMAP, 0, REQ,
	  "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"annotations\":{\"" REQ
	  "\":\"true\"}},\"data\":{\"k\":\"v\"}}}\n",
	  "ADDED cm ns= name=a uid= rv= deleting=0 skipped=0\n  ann " REQ " (4) true\n"
	  "  data k (1) v\nEND feed=0 finish=0\n" },
	{ "data before metadata, marked", K8S_STREAM_WATCH, K8S_KIND_CONFIGMAP, 0, REQ,
	  "{\"type\":\"ADDED\",\"object\":{\"data\":{\"k\":\"v\"},\"binaryData\":{\"b\":\"YQ==\"},"
	  "\"metadata\":{\"name\":\"a\",\"annotations\":{\"" REQ "\":\"true\"}}}}\n",
	  "ADDED cm ns= name=a uid= rv= deleting=0 skipped=0\n  ann " REQ " (4) true\n"
	  "  data k (1) v\n  bin b (1) a\nEND feed=0 finish=0\n" },
	{ "metadata before data, unmarked", K8S_STREAM_WATCH, K8S_KIND_CONFIGMAP, 0, REQ,
	  "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"annotations\":{\"" REQ
	  "\":\"yes\"}},\"data\":{\"k\":\"v\"},\"binaryData\":{\"b\":\"YQ==\"}}}\n",
	  "ADDED cm ns= name=a uid= rv= deleting=0 skipped=1\n  ann " REQ " (3) yes\n"
	  "END feed=0 finish=0\n" },
	{ "data before metadata, unmarked", K8S_STREAM_WATCH, K8S_KIND_CONFIGMAP, 0, REQ,
	  "{\"type\":\"ADDED\",\"object\":{\"data\":{\"k\":\"v\"},\"metadata\":{\"name\":\"a\"}}}"
	  "\n",
	  "ADDED cm ns= name=a uid= rv= deleting=0 skipped=1\nEND feed=0 finish=0\n" },
	{ "skipped bodies are still type-checked", K8S_STREAM_WATCH, K8S_KIND_CONFIGMAP, 0, REQ,
	  "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"},\"data\":{\"k\":1}}}\n",
	  "END feed=-74 finish=not-0\nDIAG data value is not a string at byte 63\n" },
	{ "no requirement keeps everything", K8S_STREAM_WATCH, K8S_KIND_CONFIGMAP, 0, NULL,
	  "{\"type\":\"ADDED\",\"object\":{\"data\":{\"k\":\"v\"},\"metadata\":{\"name\":\"a\"}}}"
	  "\n",
	  "ADDED cm ns= name=a uid= rv= deleting=0 skipped=0\n  data k (1) v\nEND feed=0 "
	  "finish=0\n" },
	{ "NUL kept in a data value", K8S_STREAM_WATCH, K8S_KIND_CONFIGMAP, 0, NULL,
	  "{\"type\":\"ADDED\",\"object\":{\"data\":{\"k\":\"a\\u0000b\"}}}",
	  "ADDED cm ns= name= uid= rv= deleting=0 skipped=0\n  data k (3) a\\x00b\n"
	  "END feed=0 finish=0\n" },
	{ "NUL in a name", K8S_STREAM_WATCH, K8S_KIND_CONFIGMAP, 0, NULL,
	  "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\\u0000b\"}}}",
	  "END feed=-74 finish=not-0\nDIAG metadata.name contains a NUL byte at byte 55\n" },
	{ "NUL in a data key", K8S_STREAM_WATCH, K8S_KIND_CONFIGMAP, 0, NULL,
	  "{\"type\":\"ADDED\",\"object\":{\"data\":{\"a\\u0000\":\"x\"}}}",
	  "END feed=-74 finish=not-0\nDIAG data key contains a NUL byte at byte 43\n" },
	{ "NUL in an annotation value", K8S_STREAM_WATCH, K8S_KIND_CONFIGMAP, 0, NULL,
	  "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"annotations\":{\"a\":\"\\u0000\"}}}}",
	  "END feed=-74 finish=not-0\nDIAG annotation value contains a NUL byte at byte 65\n" },
	{ "name of the wrong type", K8S_STREAM_WATCH, K8S_KIND_CONFIGMAP, 0, NULL,
	  "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":5}}}",
	  "END feed=-74 finish=not-0\nDIAG metadata.name is not a string at byte 46\n" },
	{ "data of the wrong type", K8S_STREAM_WATCH, K8S_KIND_CONFIGMAP, 0, NULL,
	  "{\"type\":\"ADDED\",\"object\":{\"data\":[]}}",
	  "END feed=-74 finish=not-0\nDIAG data is not an object at byte 34\n" },
	{ "null fields are absent", K8S_STREAM_WATCH, K8S_KIND_CONFIGMAP, 0, NULL,
	  "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":null,\"annotations\":null,"
	  "\"deletionTimestamp\":null},\"data\":{\"k\":null},\"binaryData\":null}}",
	  "ADDED cm ns= name= uid= rv= deleting=0 skipped=0\n  data k (0) \nEND feed=0 "
	  "finish=0\n" },
	{ "event object not an object", K8S_STREAM_WATCH, K8S_KIND_CONFIGMAP, 0, NULL,
	  "{\"type\":\"ADDED\",\"object\":\"x\"}",
	  "END feed=-74 finish=not-0\nDIAG watch event object is not an object at byte 28\n" },
	{ "event type not a string", K8S_STREAM_WATCH, K8S_KIND_CONFIGMAP, 0, NULL,
	  "{\"type\":1,\"object\":{}}",
	  "END feed=-74 finish=not-0\nDIAG watch event type is not a string at byte 9\n" },
	{ "event without object", K8S_STREAM_WATCH, K8S_KIND_CONFIGMAP, 0, NULL,
	  "{\"type\":\"ADDED\"}",
	  "END feed=-74 finish=not-0\nDIAG watch event without an object at byte 16\n" },
	{ "event without type", K8S_STREAM_WATCH, K8S_KIND_CONFIGMAP, 0, NULL, "{\"object\":{}}",
	  "END feed=-74 finish=not-0\nDIAG watch event without a type at byte 13\n" },
	{ "top-level array in a watch", K8S_STREAM_WATCH, K8S_KIND_CONFIGMAP, 0, NULL, "[]",
	  "END feed=-74 finish=not-0\nDIAG watch event is not a JSON object at byte 1\n" },
	{ "top-level number in a watch, at the end", K8S_STREAM_WATCH, K8S_KIND_CONFIGMAP, 0, NULL,
	  "12", "END feed=0 finish=-74\nDIAG watch event is not a JSON object at byte 2\n" },
	{ "empty watch", K8S_STREAM_WATCH, K8S_KIND_CONFIGMAP, 0, NULL, "",
	  "END feed=0 finish=0\n" },
	{ "watch of blank lines", K8S_STREAM_WATCH, K8S_KIND_CONFIGMAP, 0, NULL, "\n \r\n",
	  "END feed=0 finish=0\n" },
	{ "watch cut inside an event", K8S_STREAM_WATCH, K8S_KIND_CONFIGMAP, 0, NULL,
	  "{\"type\":\"ADDED\",\"object\":{}}\n{\"type\":\"ADD",
	  "ADDED cm ns= name= uid= rv= deleting=0 skipped=0\nEND feed=0 finish=-74\n"
	  "DIAG watch stream ended inside an event at byte 41\n" },
	{ "watch cut inside a keyword", K8S_STREAM_WATCH, K8S_KIND_CONFIGMAP, 0, NULL,
	  "{\"type\":\"ADDED\",\"object\":{}}\ntr",
	  "ADDED cm ns= name= uid= rv= deleting=0 skipped=0\nEND feed=0 finish=-74\n"
	  "DIAG watch stream ended inside an event at byte 31\n" },
	{ "list cut short", K8S_STREAM_LIST, K8S_KIND_CONFIGMAP, 0, NULL,
	  "{\"items\":[{\"metadata\":{\"name\":\"a\"}}",
	  "ADDED cm ns= name=a uid= rv= deleting=0 skipped=0\nMETA rv= continue=\n"
	  "END feed=0 finish=-74\nDIAG list response ended early at byte 35\n" },
	{ "empty list body", K8S_STREAM_LIST, K8S_KIND_CONFIGMAP, 0, NULL, "",
	  "META rv= continue=\nEND feed=0 finish=-74\nDIAG list response ended early at byte 0\n" },
	{ "list with null items", K8S_STREAM_LIST, K8S_KIND_CONFIGMAP, 0, NULL,
	  "{\"metadata\":{\"resourceVersion\":\"5\"},\"items\":null}",
	  "META rv=5 continue=\nEND feed=0 finish=0\n" },
	{ "list items not an array", K8S_STREAM_LIST, K8S_KIND_CONFIGMAP, 0, NULL, "{\"items\":{}}",
	  "META rv= continue=\nEND feed=-74 finish=not-0\nDIAG list items is not an array at byte "
	  "10\n" },
	{ "list item not an object", K8S_STREAM_LIST, K8S_KIND_CONFIGMAP, 0, NULL,
	  "{\"items\":[1]}",
	  "META rv= continue=\nEND feed=-74 finish=not-0\nDIAG list item is not an object at byte "
	  "11\n" },
	{ "list with trailing garbage", K8S_STREAM_LIST, K8S_KIND_CONFIGMAP, 0, NULL,
	  "{\"items\":[]} {}",
	  "META rv= continue=\nEND feed=-74 finish=not-0\n"
	  "DIAG malformed JSON at byte 14: parse error: trailing garbage\n" },
	{ "list resourceVersion not a string", K8S_STREAM_LIST, K8S_KIND_CONFIGMAP, 0, NULL,
	  "{\"metadata\":{\"resourceVersion\":7}}",
	  "META rv= continue=\nEND feed=-74 finish=not-0\n"
	  "DIAG list resourceVersion is not a string at byte 32\n" },
	{ "object exactly at the limit", K8S_STREAM_LIST, K8S_KIND_CONFIGMAP, 30, NULL,
	  "{\"items\":[{\"data\":{\"k\":\"0123456789abc\"}}]}",
	  "ADDED cm ns= name= uid= rv= deleting=0 skipped=0\n  data k (13) 0123456789abc\n"
	  "META rv= continue=\nEND feed=0 finish=0\n" },
	{ "object one byte over the limit", K8S_STREAM_LIST, K8S_KIND_CONFIGMAP, 30, NULL,
	  "{\"items\":[{\"data\":{\"k\":\"0123456789abcd\"}}]}",
	  "META rv= continue=\nEND feed=-7 finish=not-0\n"
	  "DIAG object at byte 10 is 31 bytes, more than the limit of 30\n" },
	{ "list header over the limit", K8S_STREAM_LIST, K8S_KIND_CONFIGMAP, 30, NULL,
	  "{\"kind\":\"ConfigMapList\",\"apiVersion\":\"v1\",\"items\":[]}",
	  "META rv= continue=\nEND feed=-7 finish=not-0\n"
	  "DIAG object at byte 0 is more than the limit of 30 bytes\n" },
	{ "invalid base64 padding", K8S_STREAM_WATCH, K8S_KIND_CONFIGMAP, 0, NULL,
	  "{\"type\":\"ADDED\",\"object\":{\"binaryData\":{\"b\":\"YQ=\"}}}",
	  "END feed=-74 finish=not-0\nDIAG binaryData key 'b' is not valid base64 at byte 49\n" },
	{ "base64 with data after the padding", K8S_STREAM_WATCH, K8S_KIND_CONFIGMAP, 0, NULL,
	  "{\"type\":\"ADDED\",\"object\":{\"binaryData\":{\"b\":\"YQ==YQ==\"}}}",
	  "END feed=-74 finish=not-0\nDIAG binaryData key 'b' is not valid base64 at byte 54\n" },
	{ "base64 with line breaks", K8S_STREAM_WATCH, K8S_KIND_CONFIGMAP, 0, NULL,
	  "{\"type\":\"ADDED\",\"object\":{\"binaryData\":{\"b\":\"YW\\r\\nJj\\n\"}}}",
	  "ADDED cm ns= name= uid= rv= deleting=0 skipped=0\n  bin b (3) abc\nEND feed=0 "
	  "finish=0\n" },
	{ "pod fields in a configmap stream are ignored", K8S_STREAM_WATCH, K8S_KIND_CONFIGMAP, 0,
	  NULL, "{\"type\":\"ADDED\",\"object\":{\"spec\":7,\"status\":[1]}}",
	  "ADDED cm ns= name= uid= rv= deleting=0 skipped=0\nEND feed=0 finish=0\n" },
	{ "pod spec of the wrong type", K8S_STREAM_WATCH, K8S_KIND_POD, 0, NULL,
	  "{\"type\":\"ADDED\",\"object\":{\"spec\":7}}",
	  "END feed=-74 finish=not-0\nDIAG spec is not an object at byte 34\n" },
	{ "pod localhost without a path is not a reference", K8S_STREAM_WATCH, K8S_KIND_POD, 0,
	  NULL,
	  "{\"type\":\"ADDED\",\"object\":{\"spec\":{\"containers\":[{\"name\":\"c\","
	  "\"securityContext\":"
	  "{\"seccompProfile\":{\"type\":\"Localhost\"}}},{\"securityContext\":{\"seccompProfile\":"
	  "{\"type\":\"Localhost\",\"localhostProfile\":\"p.json\"}}}]}}}",
	  "ADDED pod ns= name= uid= rv= deleting=0 node= phase=\n  ref container  p.json\n"
	  "END feed=0 finish=0\n" },
	{ "legacy annotation values that are not localhost", K8S_STREAM_WATCH, K8S_KIND_POD, 0,
	  NULL,
	  "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"annotations\":{"
	  "\"seccomp.security.alpha.kubernetes.io/pod\":\"localhost/\","
	  "\"container.seccomp.security.alpha.kubernetes.io/\":\"localhost/x\","
	  "\"container.seccomp.security.alpha.kubernetes.io/c\":\"unconfined\"}}}}",
	  "ADDED pod ns= name= uid= rv= deleting=0 node= phase=\n"
	  "  ann seccomp.security.alpha.kubernetes.io/pod (10) localhost/\n"
	  "  ann container.seccomp.security.alpha.kubernetes.io/ (11) localhost/x\n"
	  "  ann container.seccomp.security.alpha.kubernetes.io/c (10) unconfined\n"
	  "END feed=0 finish=0\n" },
	{ "bookmark keeps only resourceVersion and annotations", K8S_STREAM_WATCH,
	  K8S_KIND_CONFIGMAP, 0, NULL,
	  "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"name\":\"n\",\"resourceVersion\":"
	  "\"9\","
	  "\"labels\":{\"a\":\"b\"}},\"data\":{\"k\":\"v\"}}}",
	  "BOOKMARK cm ns= name= uid= rv=9 deleting=0 skipped=0\nEND feed=0 finish=0\n" },
	{ "two types in one event", K8S_STREAM_WATCH, K8S_KIND_CONFIGMAP, 0, NULL,
	  "{\"type\":\"ADDED\",\"type\":\"DELETED\",\"object\":{}}",
	  "END feed=-74 finish=not-0\nDIAG watch event with two types at byte 32\n" },
	{ "two metadata in one object", K8S_STREAM_WATCH, K8S_KIND_CONFIGMAP, 0, NULL,
	  "{\"type\":\"ADDED\",\"object\":{\"metadata\":{},\"metadata\":{}}}",
	  "END feed=-74 finish=not-0\nDIAG object with two metadata fields at byte 52\n" },
	{ "unknown fields of every type are skipped", K8S_STREAM_WATCH, K8S_KIND_CONFIGMAP, 0, NULL,
	  "{\"x\":[1,2.5e3,true,false,null,{\"a\":[{}]}],\"type\":\"DELETED\",\"object\":{\"y\":{"
	  "\"z\":"
	  "[[\"s\"]]},\"metadata\":{\"q\":{\"name\":\"no\"},\"name\":\"yes\"}}}",
	  "DELETED cm ns= name=yes uid= rv= deleting=0 skipped=0\nEND feed=0 finish=0\n" },
	{ "invalid UTF-8", K8S_STREAM_WATCH, K8S_KIND_CONFIGMAP, 0, NULL,
	  "{\"type\":\"ADDED\",\"object\":{\"data\":{\"k\":\"\xff\"}}}",
	  "END feed=-74 finish=not-0\n"
	  "DIAG malformed JSON at byte 40: lexical error: invalid bytes in UTF8 string.\n" },
};

static void test_inline_cases(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(inline_cases) / sizeof(inline_cases[0]); i++) {
		const struct inline_case *ic = &inline_cases[i];
		struct stream_case c = { .file = ic->name,
					 .stream = ic->stream,
					 .kind = ic->kind,
					 .max_object = ic->max_object,
					 .require = ic->require };
		size_t len = strlen(ic->in), cut;
		char *got;

		got = run_stream(&c, ic->in, len, NULL, 0, 0);
		if (strcmp(got, ic->want) != 0)
			fprintf(stderr, "case '%s'\n", ic->name);
		assert_string_equal(got, ic->want);
		free(got);
		for (cut = 1; cut < len; cut++) {
			got = run_stream(&c, ic->in, len, &cut, 1, 0);
			if (strcmp(got, ic->want) != 0)
				fprintf(stderr, "case '%s' split at %zu\n", ic->name, cut);
			assert_string_equal(got, ic->want);
			free(got);
		}
	}
}

static void test_depth_limit(void **state)
{
	struct k8s_decode_opts opts = { .stream = K8S_STREAM_WATCH };
	struct k8s_decoder *dec = NULL;
	struct rec r = { .fail_at = 0 };
	struct diag d = { "" };
	char in[256];
	size_t n = 0, i;

	(void)state;
	buf_init(&r.out, 0);
	n += (size_t)snprintf(in, sizeof(in), "{\"type\":\"ADDED\",\"x\":");
	for (i = 0; i < 100; i++)
		in[n++] = '[';
	assert_int_equal(k8s_decoder_new(&opts, &rec_ops, &r, &dec, &d), 0);
	assert_int_equal(k8s_decoder_feed(dec, in, n, &d), -EBADMSG);
	assert_string_equal(d.msg, "nesting deeper than 64 at byte 84");
	/* a spent decoder repeats its failure */
	assert_int_equal(k8s_decoder_feed(dec, "{}", 2, &d), -EBADMSG);
	assert_int_equal(k8s_decoder_finish(dec, &d), -EBADMSG);
	k8s_decoder_free(dec);
	buf_release(&r.out);
}

static void test_callback_stops(void **state)
{
	static const char in[] = "{\"type\":\"ADDED\",\"object\":{}}\n"
				 "{\"type\":\"ADDED\",\"object\":{}}\n"
				 "{\"type\":\"ERROR\",\"object\":{\"code\":410}}\n";
	struct k8s_decode_opts opts = { .stream = K8S_STREAM_WATCH };
	struct diag d = { "" };
	int at;

	(void)state;
	for (at = 1; at <= 3; at++) {
		struct k8s_decoder *dec = NULL;
		struct rec r = { .fail_at = at };

		buf_init(&r.out, 0);
		assert_int_equal(k8s_decoder_new(&opts, &rec_ops, &r, &dec, &d), 0);
		assert_int_equal(k8s_decoder_feed(dec, in, sizeof(in) - 1, &d), -ECANCELED);
		assert_int_equal(r.calls, at);
		assert_non_null(strstr(d.msg, "handler stopped decoding"));
		k8s_decoder_free(dec);
		buf_release(&r.out);
	}
}

/* Ops may be NULL: the decoder still checks the stream. */
static void test_no_ops(void **state)
{
	static const char in[] = "{\"type\":\"ERROR\",\"object\":{\"code\":410}}\n"
				 "{\"type\":\"ADDED\",\"object\":{}}\n";
	struct k8s_decode_opts opts = { .stream = K8S_STREAM_WATCH, .kind = K8S_KIND_POD };
	struct k8s_decoder *dec = NULL;
	struct diag d = { "" };

	(void)state;
	assert_int_equal(k8s_decoder_new(&opts, NULL, NULL, &dec, &d), 0);
	assert_int_equal(k8s_decoder_feed(dec, in, sizeof(in) - 1, &d), 0);
	assert_int_equal(k8s_decoder_finish(dec, &d), 0);
	k8s_decoder_free(dec);
	k8s_decoder_free(NULL);
}

static void test_new_invalid(void **state)
{
	struct k8s_decode_opts opts = { .stream = 7 };
	struct k8s_decoder *dec = NULL;
	struct diag d = { "" };

	(void)state;
	assert_int_equal(k8s_decoder_new(&opts, NULL, NULL, &dec, &d), -EINVAL);
	assert_null(dec);
	opts.stream = K8S_STREAM_LIST;
	opts.kind = 9;
	assert_int_equal(k8s_decoder_new(&opts, NULL, NULL, &dec, &d), -EINVAL);
	assert_null(dec);
	assert_int_equal(k8s_decoder_new(NULL, NULL, NULL, &dec, &d), -EINVAL);
}

static void test_status_parse(void **state)
{
	static const struct {
		const char *body;
		int http;
		int code;
		const char *reason, *message, *cause;
	} cases[] = {
		{ "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
		  "\"Failure\","
		  "\"message\":\"The provided continue parameter is too "
		  "old\",\"reason\":\"Expired\","
		  "\"code\":410}",
		  410, 410, "Expired", "The provided continue parameter is too old", "" },
		{ "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"Too large resource "
		  "version\",\"reason\":\"Timeout\",\"details\":{\"causes\":[{\"reason\":"
		  "\"ResourceVersionTooLarge\"},{\"reason\":\"X\"}],\"retryAfterSeconds\":1},"
		  "\"code\":504}",
		  504, 504, "Timeout", "Too large resource version", "ResourceVersionTooLarge" },
		{ "Too many requests, please try again later.\n", 429, 429, "", "", "" },
		{ "", 503, 503, "", "", "" },
		{ "{\"kind\":\"Status\",\"reason\":\"Forbidden\"", 403, 403, "", "", "" },
		{ "  {\"reason\":\"NotFound\"}", 404, 404, "NotFound", "", "" },
		{ "{\"reason\":7,\"message\":[\"x\"],\"code\":\"410\",\"details\":\"d\"}", 500, 500,
		  "", "", "" },
		{ "{\"reason\":\"" /* truncated to the field, never overflowing it */
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "\"}",
		  400, 400, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "",
		  "" },
		{ "[1,2]", 500, 500, "", "", "" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct k8s_status st;

		memset(&st, 0x55, sizeof(st));
		assert_int_equal(
			k8s_status_parse(cases[i].body, strlen(cases[i].body), cases[i].http, &st),
			0);
		assert_int_equal(st.code, cases[i].code);
		assert_string_equal(st.reason, cases[i].reason);
		assert_string_equal(st.message, cases[i].message);
		assert_string_equal(st.cause, cases[i].cause);
	}
}

static void test_object_annotation(void **state)
{
	static const struct k8s_pair ann[] = {
		{ "a", "1", 1 },
		{ "b", "2", 1 },
		{ "a", "3", 1 },
	};
	struct k8s_object o = { .annotations = ann, .n_annotations = 3 };

	(void)state;
	assert_string_equal(k8s_object_annotation(&o, "a"), "1");
	assert_string_equal(k8s_object_annotation(&o, "b"), "2");
	assert_null(k8s_object_annotation(&o, "c"));
	assert_null(k8s_object_annotation(NULL, "a"));
	o.n_annotations = 0;
	assert_null(k8s_object_annotation(&o, "a"));
}

static int count_object(void *ctx, enum k8s_event_type type, const struct k8s_object *o)
{
	size_t *n = ctx;

	(void)type;
	assert_true(o->n_data == 1 || o->data_skipped);
	(*n)++;
	return 0;
}

/*
 * A long watch stream of objects of a few sizes: once every size has been
 * seen, the decoder neither allocates again nor grows its peak, however long
 * the stream runs.
 */
static void test_memory_bounded(void **state)
{
	static const struct k8s_decode_ops ops = { .object = count_object };
	struct k8s_decode_opts opts = { .stream = K8S_STREAM_WATCH, .require_annotation = REQ };
	struct k8s_decoder *dec = NULL;
	struct k8s_decode_mem warm = { 0 }, end = { 0 };
	struct diag d = { "" };
	struct buf ev;
	char body[2048];
	size_t i, n = 0, off;

	(void)state;
	memset(body, 'x', sizeof(body));
	buf_init(&ev, 0);
	assert_int_equal(k8s_decoder_new(&opts, &ops, &n, &dec, &d), 0);
	for (i = 0; i < 10000; i++) {
		int size = 100 + (int)(i % 10) * 190;

		buf_reset(&ev);
		assert_int_equal(
			buf_appendf(&ev,
				    "{\"type\":\"%s\",\"object\":{\"metadata\":{\"name\":"
				    "\"cm-%zu\",\"namespace\":\"ns\",\"resourceVersion\":\"%zu\","
				    "\"annotations\":{\"" REQ "\":\"%s\"}},\"data\":{\"k\":"
				    "\"%.*s\"}}}\n",
				    i % 3 ? "MODIFIED" : "ADDED", i, i, i % 7 ? "true" : "false",
				    size, body),
			0);
		/* uneven pieces so that tokens straddle feeds */
		for (off = 0; off < ev.len; off += 333) {
			size_t len = ev.len - off < 333 ? ev.len - off : 333;

			assert_int_equal(k8s_decoder_feed(dec, ev.data + off, len, &d), 0);
		}
		if (i == 99)
			k8s_decoder_mem(dec, &warm);
	}
	assert_int_equal(k8s_decoder_finish(dec, &d), 0);
	k8s_decoder_mem(dec, &end);
	assert_int_equal(n, 10000);
	assert_true(warm.peak > 0);
	assert_int_equal(end.peak, warm.peak);
	assert_int_equal(end.allocs, warm.allocs);
	/* bounded by a small multiple of the largest object, not by the stream */
	assert_true(end.peak < 64 * 1024);
	k8s_decoder_free(dec);
	buf_release(&ev);
}

/* One feed of a whole stream is sliced internally: a huge object still fails early. */
static void test_huge_single_feed(void **state)
{
	struct k8s_decode_opts opts = { .stream = K8S_STREAM_WATCH, .max_object = 1024 };
	struct k8s_decoder *dec = NULL;
	struct k8s_decode_mem m;
	struct diag d = { "" };
	size_t len = 4 << 20;
	char *in = malloc(len);

	(void)state;
	assert_non_null(in);
	memcpy(in, "{\"type\":\"ADDED\",\"object\":{\"data\":{\"k\":\"", 39);
	memset(in + 39, 'y', len - 39);
	assert_int_equal(k8s_decoder_new(&opts, NULL, NULL, &dec, &d), 0);
	assert_int_equal(k8s_decoder_feed(dec, in, len, &d), -E2BIG);
	assert_string_equal(d.msg, "object at byte 0 is more than the limit of 1024 bytes");
	k8s_decoder_mem(dec, &m);
	assert_true(m.peak < 16 * 1024);
	k8s_decoder_free(dec);
	free(in);
}

static int check_long(void *ctx, enum k8s_event_type type, const struct k8s_object *o)
{
	size_t *want = ctx, i;

	(void)type;
	assert_int_equal(o->n_data, 1);
	assert_int_equal(o->data[0].value_len, *want);
	for (i = 0; i < *want; i++)
		if (o->data[0].value[i] != (i % 3 ? 'q' : '"'))
			fail_msg("byte %zu of the long value is wrong", i);
	*want = 0;
	return 0;
}

/*
 * A 2 MiB value with escapes, fed in 4 KiB pieces: decoded exactly, and the
 * carry keeps yajl from lexing the growing string again on every feed (which
 * would make this take seconds instead of milliseconds).
 */
static void test_long_string_pieces(void **state)
{
	static const struct k8s_decode_ops ops = { .object = check_long };
	struct k8s_decode_opts opts = { .stream = K8S_STREAM_WATCH };
	struct k8s_decoder *dec = NULL;
	struct diag d = { "" };
	size_t n = 2 << 20, want = n, off;
	struct buf in;

	(void)state;
	buf_init(&in, 0);
	assert_int_equal(buf_appendf(&in, "{\"type\":\"ADDED\",\"object\":{\"data\":{\"k\":\""), 0);
	for (off = 0; off < n; off++)
		assert_int_equal(buf_append(&in, off % 3 ? "q" : "\\\"", off % 3 ? 1 : 2), 0);
	assert_int_equal(buf_appendf(&in, "\"}}}\n"), 0);
	assert_int_equal(k8s_decoder_new(&opts, &ops, &want, &dec, &d), 0);
	for (off = 0; off < in.len; off += 4096)
		assert_int_equal(k8s_decoder_feed(dec, in.data + off,
						  in.len - off < 4096 ? in.len - off : 4096, &d),
				 0);
	assert_int_equal(k8s_decoder_finish(dec, &d), 0);
	assert_int_equal(want, 0);
	k8s_decoder_free(dec);
	buf_release(&in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_streams_split),
		cmocka_unit_test(test_inline_cases),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_callback_stops),
		cmocka_unit_test(test_no_ops),
		cmocka_unit_test(test_new_invalid),
		cmocka_unit_test(test_status_parse),
		cmocka_unit_test(test_object_annotation),
		cmocka_unit_test(test_memory_bounded),
		cmocka_unit_test(test_huge_single_feed),
		cmocka_unit_test(test_long_string_pieces),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
