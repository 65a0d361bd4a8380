/* SPDX-License-Identifier: Apache-2.0 */
/* daemon/manifest: telling manifests from profiles, and reading ConfigMaps out of them. */
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
#include "daemon/manifest.h"

#define ANN "seccomp.security.kubernetes.io/profile"

static void test_detect(void **state)
{
	static const struct {
		const char *in;
		bool manifest;
	} cases[] = {
		{ "", false },
		{ " \n\t\r\n", false },
		{ "{\"defaultAction\":\"SCMP_ACT_ERRNO\"}", false },
		{ "\xef\xbb\xbf{\"defaultAction\":\"SCMP_ACT_ERRNO\"}", false },
		{ "{}", false },
		{ "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\"}", true },
		{ "\n  {\"kind\" : \"ConfigMap\" ,\n \"apiVersion\" : \"v1\"}", true },
		/* apiVersion nested, not top level */
		{ "{\"kind\":\"x\",\"metadata\":{\"apiVersion\":1}}", false },
		{ "{\"kind\":\"x\",\"a\":[{\"apiVersion\":1}]}", false },
		/* keys after nested values and tricky strings are still found */
		{ "{\"kind\":\"ConfigMap\",\"data\":{\"a\":\"{\\\"x\\\":\\\"}\\\"\"},"
		  "\"apiVersion\":\"v1\"}",
		  true },
		{ "{\"apiVersion\":\"v1\",\"x\":[1,{\"y\":\"}]\"}],\"kind\":\"ConfigMap\"}", true },
		/* a key spelled in a string value does not count */
		{ "{\"a\":\"\\\"apiVersion\\\"\",\"kind\":\"x\"}", false },
		/* only one of the two keys */
		{ "{\"apiVersion\":\"v1\"}", false },
		{ "{\"Kind\":\"ConfigMap\",\"ApiVersion\":\"v1\"}", false },
		/* malformed JSON: what was seen decides */
		{ "{\"apiVersion\": \"v1\", \"kind\"", true },
		{ "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"data\": {", true },
		{ "{bad", false },
		{ "{\"defaultAction\": \"SCMP_ACT_ERRNO\",", false },
		{ "[]", false },
		{ "[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\"}]", false },
		{ "null", false },
		{ "null\n", false },
		{ "true", false },
		{ "false ", false },
		{ "42", false },
		{ "-1", false },
		{ "\"a string\"", false },
		{ "\"apiVersion\": v1\nkind: ConfigMap\n", true },
		{ "apiVersion: v1\nkind: ConfigMap\n", true },
		{ "---\n", true },
		{ "# comment\napiVersion: v1\n", true },
		{ "- a\n", true },
		{ "nullx: 1\n", true },
		{ "kind: ConfigMap\n", true },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool got = manifest_detect(cases[i].in, strlen(cases[i].in));

		if (got != cases[i].manifest)
			fail_msg("case %zu '%s': got %d", i, cases[i].in, got);
	}
}

/* "ns/name:key=data" (or "ns/name:key!error") for every entry, joined by "|". */
static char *entries_string(const struct manifest *m)
{
	struct buf b;
	size_t i;

	buf_init(&b, 0);
	for (i = 0; i < m->n_entries; i++) {
		const struct manifest_entry *e = &m->entries[i];

		assert_int_equal(
			buf_appendf(&b, "%s%s/%s:%s", i ? "|" : "", e->ns, e->name, e->key), 0);
		if (e->error) {
			assert_null(e->data);
			assert_int_equal(buf_appendf(&b, "!%s", e->error), 0);
		} else {
			assert_non_null(e->data);
			assert_int_equal(strlen(e->data), e->len);
			assert_int_equal(buf_appendf(&b, "=%s", e->data), 0);
		}
	}
	return buf_detach(&b, NULL);
}

static size_t count_notes(const struct manifest *m, enum manifest_note_level level)
{
	size_t i, n = 0;

	for (i = 0; i < m->n_notes; i++)
		n += m->notes[i].level == level;
	return n;
}

static bool has_note(const struct manifest *m, const char *substr)
{
	size_t i;

	for (i = 0; i < m->n_notes; i++)
		if (strstr(m->notes[i].message, substr))
			return true;
	return false;
}

#define CM_HEAD(ns, name, ann)                                                           \
	"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " name "\n  namespace: " ns \
	"\n  annotations:\n    " ANN ": " ann "\n"

static const struct parse_case {
	const char *name;
	const char *in;
	int ret;
	const char *entries; /* entries_string() */
	size_t documents, objects, configmaps, warnings, errors;
	const char *note; /* a substring of some note, or NULL */
} parse_cases[] = {
	{ "one ConfigMap, two keys",
	  CM_HEAD("ns1", "cm1",
		  "\"true\"") "data:\n  a.json: |\n    {\"defaultAction\": \"SCMP_ACT_LOG\"}\n"
			      "  b.json: '{}'\n",
	  0, "ns1/cm1:a.json={\"defaultAction\": \"SCMP_ACT_LOG\"}\n|ns1/cm1:b.json={}", 1, 1, 1, 0,
	  0, NULL },
	{ "single-quoted annotation", CM_HEAD("ns1", "cm1", "'true'") "data:\n  a.json: x\n", 0,
	  "ns1/cm1:a.json=x", 1, 1, 1, 0, 0, NULL },
	{ "multi-document stream",
	  "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n"
	  "---\n" CM_HEAD("n2", "c2",
			  "\"true\"") "data:\n  k: v\n"
				      "---\n" CM_HEAD("n3", "c3",
						      "\"false\"") "data:\n  k: v\n"
								   "---\n"
								   "---\n# only a comment\n",
	  0, "n2/c2:k=v", 5, 3, 1, 0, 0, NULL },
	{ "document start marker and end marker",
	  "--- \napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, annotations: {" ANN
	  ": \"true\"}}\ndata: {k: v}\n...\n",
	  0, "default/x:k=v", 1, 1, 1, 0, 0, NULL },
	{ "JSON manifest",
	  "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"j\","
	  "\"namespace\":"
	  "\"jn\",\"annotations\":{\"" ANN
	  "\":\"true\"}},\"data\":{\"p.json\":\"{\\\"defaultAction\\\":"
	  "\\\"SCMP_ACT_ERRNO\\\"}\\n\"}}",
	  0, "jn/j:p.json={\"defaultAction\":\"SCMP_ACT_ERRNO\"}\n", 1, 1, 1, 0, 0, NULL },
	{ "JSON manifest with tabs and no spaces",
	  "{\n\t\"apiVersion\":\"v1\",\n\t\"kind\":\"ConfigMap\",\n\t\"metadata\":{\"name\":\"j\","
	  "\"annotations\":{\"" ANN "\":\"true\"}},\n\t\"data\":{\"k\":\"v\"}\n}\n",
	  0, "default/j:k=v", 1, 1, 1, 0, 0, NULL },
	{ "List kind",
	  "apiVersion: v1\nkind: List\nitems:\n"
	  "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n    annotations:\n     "
	  " " ANN ": \"true\"\n  data:\n    k1: v1\n"
	  "- apiVersion: v1\n  kind: Secret\n  metadata:\n    name: s\n    annotations:\n      " ANN
	  ": \"true\"\n  data:\n    k2: djI=\n"
	  "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: b\n    namespace: nb\n"
	  "    annotations:\n      " ANN ": \"true\"\n  data:\n    k3: v3\n",
	  0, "default/a:k1=v1|nb/b:k3=v3", 1, 3, 2, 0, 0, NULL },
	{ "ConfigMapList items without kind",
	  "{\"kind\":\"ConfigMapList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
	  "\"1\"},"
	  "\"items\":[{\"metadata\":{\"name\":\"i\",\"namespace\":\"n\",\"annotations\":{\"" ANN
	  "\":\"true\"}},\"data\":{\"k\":\"v\"}},{\"metadata\":{\"name\":\"o\"},\"data\":{\"x\":"
	  "\"y\"}}]}",
	  0, "n/i:k=v", 1, 2, 1, 0, 0, NULL },
	{ "List with empty items", "apiVersion: v1\nkind: List\nitems: []\n", 0, "", 1, 0, 0, 0, 0,
	  NULL },
	{ "List items not a list", "apiVersion: v1\nkind: List\nitems: {a: b}\n", 0, "", 1, 0, 0, 0,
	  1, "not a list" },
	{ "binaryData base64",
	  CM_HEAD("ns", "b", "\"true\"") "binaryData:\n  p.json: "
					 "eyJkZWZhdWx0QWN0aW9uIjoiU0NNUF9BQ1RfTE9HIn0=\n"
					 "  one: YQ==\n  two: YWI=\n  empty: \"\"\n",
	  0, "ns/b:p.json={\"defaultAction\":\"SCMP_ACT_LOG\"}|ns/b:one=a|ns/b:two=ab|ns/b:empty=",
	  1, 1, 1, 0, 0, NULL },
	{ "binaryData base64 across lines",
	  CM_HEAD("ns", "b", "\"true\"") "binaryData:\n  k: |\n    YWJj\n    ZGVm\n", 0,
	  "ns/b:k=abcdef", 1, 1, 1, 0, 0, NULL },
	{ "binaryData bad base64",
	  CM_HEAD("ns", "b",
		  "\"true\"") "binaryData:\n  a: 'YQ=x'\n  b: 'Y'\n  c: 'Y==='\n  d: 'YQ'\n"
			      "  e: 'YQ== '\n  f: 'a*bc'\n  g: YWI=YWI=\n",
	  0,
	  "ns/b:a!binaryData value is not valid base64|ns/b:b!binaryData value is not valid base64|"
	  "ns/b:c!binaryData value is not valid base64|ns/b:d!binaryData value is not valid base64|"
	  "ns/b:e!binaryData value is not valid base64|ns/b:f!binaryData value is not valid base64|"
	  "ns/b:g!binaryData value is not valid base64",
	  1, 1, 1, 0, 0, NULL },
	{ "data and binaryData together",
	  CM_HEAD("ns", "b", "\"true\"") "data:\n  a: x\nbinaryData:\n  b: eQ==\n", 0,
	  "ns/b:a=x|ns/b:b=y", 1, 1, 1, 0, 0, NULL },
	{ "missing namespace is default",
	  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: m\n  annotations:\n    " ANN
	  ": \"true\"\ndata:\n  k: v\n",
	  0, "default/m:k=v", 1, 1, 1, 0, 0, NULL },
	{ "empty namespace is default",
	  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: m\n  namespace: \"\"\n  "
	  "annotations:\n    " ANN ": \"true\"\ndata:\n  k: v\n",
	  0, "default/m:k=v", 1, 1, 1, 0, 0, NULL },
	{ "annotation false", CM_HEAD("ns", "c", "\"false\"") "data:\n  k: v\n", 0, "", 1, 1, 0, 0,
	  0, NULL },
	{ "annotation True", CM_HEAD("ns", "c", "\"True\"") "data:\n  k: v\n", 0, "", 1, 1, 0, 1, 0,
	  "is 'True', not exactly \"true\"" },
	{ "annotation TRUE plain", CM_HEAD("ns", "c", "TRUE") "data:\n  k: v\n", 0, "", 1, 1, 0, 1,
	  0, "is 'TRUE'" },
	{ "annotation yes", CM_HEAD("ns", "c", "\"yes\"") "data:\n  k: v\n", 0, "", 1, 1, 0, 1, 0,
	  "is 'yes'" },
	{ "annotation empty", CM_HEAD("ns", "c", "\"\"") "data:\n  k: v\n", 0, "", 1, 1, 0, 1, 0,
	  "is ''" },
	{ "annotation a mapping", CM_HEAD("ns", "c", "{a: b}") "data:\n  k: v\n", 0, "", 1, 1, 0, 0,
	  1, "is a mapping, not the string" },
	{ "annotation plain boolean true counts but is an error",
	  CM_HEAD("ns", "c", "true") "data:\n  k: v\n", 0, "ns/c:k=v", 1, 1, 1, 0, 1,
	  "YAML boolean" },
	{ "annotation absent",
	  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  annotations:\n    other: "
	  "\"true\"\n"
	  "data:\n  k: v\n",
	  0, "", 1, 1, 0, 0, 0, NULL },
	{ "no annotations at all",
	  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  k: v\n", 0, "", 1, 1, 0,
	  0, 0, NULL },
	{ "annotation on the wrong level",
	  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  " ANN
	  ": \"true\"\ndata:\n  k: v\n",
	  0, "", 1, 1, 0, 0, 0, NULL },
	{ "non-ConfigMap kinds skipped",
	  "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  annotations:\n    " ANN
	  ": \"true\"\ndata:\n  k: dg==\n---\n"
	  "apiVersion: example.com/v1\nkind: ConfigMapish\nmetadata:\n  name: s\n  annotations:\n  "
	  "  " ANN ": \"true\"\ndata:\n  k: v\n",
	  0, "", 2, 2, 0, 0, 0, NULL },
	{ "ConfigMap of another apiVersion",
	  "apiVersion: v2\nkind: ConfigMap\nmetadata:\n  name: c\n  annotations:\n    " ANN
	  ": \"true\"\ndata:\n  k: v\n",
	  0, "", 1, 1, 0, 1, 0, "apiVersion 'v2'" },
	{ "not a Kubernetes object", "defaultAction: SCMP_ACT_ERRNO\n", 0, "", 1, 0, 0, 1, 0,
	  "no apiVersion and kind" },
	{ "a document that is a scalar", "hello\n---\n- a\n", 0, "", 2, 0, 0, 2, 0,
	  "not a Kubernetes object" },
	{ "no name",
	  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: c-\n  annotations:\n    " ANN
	  ": \"true\"\ndata:\n  k: v\n",
	  0, "", 1, 1, 0, 0, 1, "no metadata.name" },
	{ "annotated without data", CM_HEAD("ns", "c", "\"true\""), 0, "", 1, 1, 1, 1, 0,
	  "has no data or binaryData keys" },
	{ "annotated with empty data", CM_HEAD("ns", "c", "\"true\"") "data: {}\n", 0, "", 1, 1, 1,
	  1, 0, "has no data or binaryData keys" },
	{ "data not a mapping", CM_HEAD("ns", "c", "\"true\"") "data: [a, b]\n", 0, "", 1, 1, 1, 1,
	  1, "data of ConfigMap 'ns/c' is a list" },
	{ "data value a mapping (unquoted JSON)",
	  CM_HEAD("ns", "c",
		  "\"true\"") "data:\n  p.json: {\"defaultAction\": \"SCMP_ACT_LOG\"}\n  "
			      "q: [1]\n",
	  0,
	  "ns/c:p.json!the value is a mapping, not a string: write the profile as a block scalar "
	  "('p.json: |')|ns/c:q!the value is a list, not a string: write the profile as a block "
	  "scalar ('q: |')",
	  1, 1, 1, 0, 0, NULL },
	{ "data value null is empty",
	  CM_HEAD("ns", "c", "\"true\"") "data:\n  a:\n  b: ~\n  c: 5\n", 0,
	  "ns/c:a=|ns/c:b=|ns/c:c=5", 1, 1, 1, 0, 0, NULL },
	{ "key in data and binaryData",
	  CM_HEAD("ns", "c", "\"true\"") "data:\n  k: v\n  z: v\nbinaryData:\n  k: dg==\n", 0,
	  "ns/c:k=v|ns/c:z=v|ns/c:k=v", 1, 1, 1, 0, 1, "key 'k' appears twice" },
	{ "duplicate data key", CM_HEAD("ns", "c", "\"true\"") "data:\n  k: a\n  k: b\n  k: c\n", 0,
	  "ns/c:k=a|ns/c:k=b|ns/c:k=c", 1, 1, 1, 0, 1, "key 'k' appears twice" },
	{ "duplicate top-level key",
	  CM_HEAD("ns", "c", "\"true\"") "data:\n  a: x\ndata:\n  b: y\n", 0, "ns/c:b=y", 1, 1, 1,
	  0, 1, "duplicate key 'data'" },
	{ "non-scalar key in data", CM_HEAD("ns", "c", "\"true\"") "data:\n  ? [a]\n  : v\n", 0, "",
	  1, 1, 1, 1, 1, "has a key that is a list" },
	{ "alias as a data value", CM_HEAD("ns", "c", "\"true\"") "data:\n  a: &p '{}'\n  b: *p\n",
	  0, "ns/c:a={}|ns/c:b!the value is a YAML alias, which validate does not expand", 1, 1, 1,
	  0, 0, NULL },
	{ "alias as metadata",
	  "x: &m {name: c, annotations: {" ANN ": \"true\"}}\n---\n"
	  "apiVersion: v1\nkind: ConfigMap\nmetadata: *m\ndata: {k: v}\n",
	  0, "", 2, 1, 0, 2, 0, "does not expand" },
	{ "billion laughs is never expanded",
	  "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
	  "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
	  "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
	  "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
	  "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\ni: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
	  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: l, annotations: {" ANN ": \"true\"}}\n"
	  "data: {k: *i}\n",
	  0, "default/l:k!the value is a YAML alias, which validate does not expand", 1, 1, 1, 0, 0,
	  NULL },
	{ "malformed YAML", "apiVersion: v1\nkind: ConfigMap\n  bad: indent\n", -EINVAL, NULL, 0, 0,
	  0, 0, 0, NULL },
	{ "unterminated flow", "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"data\": {",
	  -EINVAL, NULL, 0, 0, 0, 0, 0, NULL },
	{ "unknown alias is a syntax error only when used by a loader", "a: *nope\n", 0, "", 1, 0,
	  0, 1, 0, NULL },
	{ "invalid UTF-8", "apiVersion: v1\nkind: \xff\n", -EINVAL, NULL, 0, 0, 0, 0, 0, NULL },
	{ "tab indentation", "apiVersion: v1\n\tkind: ConfigMap\n", -EINVAL, NULL, 0, 0, 0, 0, 0,
	  NULL },
	{ "empty stream", "", 0, "", 0, 0, 0, 0, 0, NULL },
	{ "comments only", "# nothing\n", 0, "", 0, 0, 0, 0, 0, NULL },
};

static void test_parse_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct manifest *m = NULL;
		struct diag d = { "" };
		char *got;
		int r;

		r = manifest_parse(c->in, strlen(c->in), &m, &d);
		if (r != c->ret)
			fail_msg("case '%s': returned %d (%s), want %d", c->name, r, d.msg, c->ret);
		if (r < 0) {
			assert_null(m);
			assert_true(d.msg[0] != '\0');
			continue;
		}
		got = entries_string(m);
		if (strcmp(got, c->entries))
			fail_msg("case '%s': entries\n  got  '%s'\n  want '%s'", c->name, got,
				 c->entries);
		free(got);
		if (m->n_documents != c->documents || m->n_objects != c->objects ||
		    m->n_configmaps != c->configmaps)
			fail_msg("case '%s': documents %zu objects %zu configmaps %zu", c->name,
				 m->n_documents, m->n_objects, m->n_configmaps);
		if (count_notes(m, MANIFEST_NOTE_WARNING) != c->warnings ||
		    count_notes(m, MANIFEST_NOTE_ERROR) != c->errors)
			fail_msg("case '%s': %zu warnings %zu errors (first: %s)", c->name,
				 count_notes(m, MANIFEST_NOTE_WARNING),
				 count_notes(m, MANIFEST_NOTE_ERROR),
				 m->n_notes ? m->notes[0].message : "-");
		if (c->note && !has_note(m, c->note))
			fail_msg("case '%s': no note with '%s' (first: %s)", c->name, c->note,
				 m->n_notes ? m->notes[0].message : "-");
		manifest_free(m);
	}
}

static void test_entry_location(void **state)
{
	static const char in[] = "apiVersion: v1\nkind: Pod\n---\n" CM_HEAD(
		"n", "c", "\"true\"") "data:\n  a: x\n  b: y\n---\n" CM_HEAD("n", "d", "\"True\"");
	struct manifest *m = NULL;

	(void)state;
	assert_int_equal(manifest_parse(in, strlen(in), &m, NULL), 0);
	assert_int_equal(m->n_entries, 2);
	assert_int_equal(m->entries[0].document, 2);
	assert_int_equal(m->entries[0].line, 12);
	assert_int_equal(m->entries[1].line, 13);
	assert_false(m->entries[0].binary);
	assert_int_equal(m->n_notes, 1);
	assert_int_equal(m->notes[0].document, 3);
	assert_int_equal(m->notes[0].line, 21);
	manifest_free(m);
}

static void test_syntax_error_location(void **state)
{
	static const char in[] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [a\n";
	struct manifest *m = NULL;
	struct diag d = { "" };

	(void)state;
	assert_int_equal(manifest_parse(in, strlen(in), &m, &d), -EINVAL);
	assert_null(m);
	assert_non_null(strstr(d.msg, "line 5"));
}

/* Build @count copies of @unit between @head and @tail. */
static char *repeat(const char *head, const char *unit, size_t count, const char *tail, size_t *len)
{
	struct buf b;
	size_t i;

	buf_init(&b, 0);
	assert_int_equal(buf_append(&b, head, strlen(head)), 0);
	for (i = 0; i < count; i++)
		assert_int_equal(buf_append(&b, unit, strlen(unit)), 0);
	assert_int_equal(buf_append(&b, tail, strlen(tail)), 0);
	return buf_detach(&b, len);
}

static void test_limits(void **state)
{
	static const struct {
		const char *head, *unit;
		size_t count;
		const char *tail;
		int ret;
		const char *msg;
	} cases[] = {
		{ "", "---\n", MANIFEST_MAX_DOCUMENTS, "", 0, NULL },
		{ "", "---\n", MANIFEST_MAX_DOCUMENTS + 1, "", -E2BIG, "documents" },
		{ "", "{\"apiVersion\":\"v1\"}\n---\n", MANIFEST_MAX_DOCUMENTS + 1, "", -E2BIG,
		  "documents" },
		{ "", "[", MANIFEST_MAX_DEPTH, "]", -EINVAL, NULL }, /* unbalanced: syntax */
		{ "a: ", "[", MANIFEST_MAX_DEPTH - 1, "", -EINVAL, NULL },
		{ "", "- ", MANIFEST_MAX_DEPTH, "x\n", 0, NULL },
		{ "", "- ", MANIFEST_MAX_DEPTH + 1, "x\n", -ELOOP, "nested" },
		{ "", "[", 100000, "", -ELOOP, "nested" },
		{ "", "{a: ", 100000, "", -ELOOP, "nested" },
		{ "[", "1,", MANIFEST_MAX_NODES - 2, "1]", 0, NULL },
		{ "[", "1,", MANIFEST_MAX_NODES - 1, "1]", -E2BIG, "nodes" },
		{ CM_HEAD("n", "c", "\"true\"") "data:\n", "  k%06zu: v\n", MANIFEST_MAX_ENTRIES,
		  "", 0, NULL },
		{ CM_HEAD("n", "c", "\"true\"") "data:\n", "  k%06zu: v\n",
		  MANIFEST_MAX_ENTRIES + 1, "", -E2BIG, "profiles" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct manifest *m = NULL;
		struct diag d = { "" };
		char *in;
		size_t len;
		int r;

		if (strstr(cases[i].unit, "%06zu")) {
			struct buf b;
			size_t j;

			buf_init(&b, 0);
			assert_int_equal(buf_append(&b, cases[i].head, strlen(cases[i].head)), 0);
			for (j = 0; j < cases[i].count; j++)
				assert_int_equal(buf_appendf(&b, "  k%06zu: v\n", j), 0);
			in = buf_detach(&b, &len);
		} else {
			in = repeat(cases[i].head, cases[i].unit, cases[i].count, cases[i].tail,
				    &len);
		}
		r = manifest_parse(in, len, &m, &d);
		if (r != cases[i].ret)
			fail_msg("limit case %zu: returned %d (%s), want %d", i, r, d.msg,
				 cases[i].ret);
		if (cases[i].msg && !strstr(d.msg, cases[i].msg))
			fail_msg("limit case %zu: message '%s' lacks '%s'", i, d.msg, cases[i].msg);
		if (r == 0 && cases[i].count == MANIFEST_MAX_ENTRIES)
			assert_int_equal(m->n_entries, MANIFEST_MAX_ENTRIES);
		manifest_free(m);
		free(in);
	}
}

static void test_size_limit(void **state)
{
	size_t len = MANIFEST_MAX_BYTES + 1;
	char *in = malloc(len);
	struct manifest *m = NULL;
	struct diag d = { "" };

	(void)state;
	assert_non_null(in);
	memset(in, '#', len);
	assert_int_equal(manifest_parse(in, len, &m, &d), -E2BIG);
	assert_null(m);
	assert_non_null(strstr(d.msg, "limit"));
	/* Exactly at the limit is read (a comment: nothing in it). */
	in[len - 2] = '\n';
	assert_int_equal(manifest_parse(in, len - 1, &m, &d), 0);
	assert_int_equal(m->n_documents, 0);
	manifest_free(m);
	free(in);
}

static void test_not_nul_terminated(void **state)
{
	/* The reader must stop at @len: the bytes after it would make a second document. */
	static const char in[] = CM_HEAD("n", "c", "\"true\"") "data:\n  k: v\n---\nkind: X\n";
	const char *cut = strstr(in, "---");
	struct manifest *m = NULL;

	(void)state;
	assert_int_equal(manifest_parse(in, (size_t)(cut - in), &m, NULL), 0);
	assert_int_equal(m->n_documents, 1);
	assert_int_equal(m->n_entries, 1);
	manifest_free(m);
	manifest_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_detect),
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_entry_location),
		cmocka_unit_test(test_syntax_error_location),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_not_nul_terminated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
