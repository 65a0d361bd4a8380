/* SPDX-License-Identifier: Apache-2.0 */
#include "daemon/manifest.h"
#include "k8s/decode_base64.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

/*
 * The reader builds one small tree per YAML document from libyaml's events
 * (never the whole stream), looks up the few fields it needs, and frees the tree
 * before the next document.  Aliases stay leaves: nothing is ever expanded.
 */

enum mnode_type {
	MNODE_SCALAR,
	MNODE_SEQUENCE,
	MNODE_MAPPING,
	MNODE_ALIAS,
};

struct mnode {
	enum mnode_type type;
	bool plain;	     /* a plain (unquoted, not block) scalar */
	char *text;	     /* scalar: NUL-terminated copy */
	size_t len;	     /* scalar: bytes in @text */
	struct mnode **kids; /* sequence: items; mapping: key, value, key, value, ... */
	size_t n_kids;
	size_t cap_kids;
	size_t line; /* 1-based */
};

struct reader {
	struct manifest *m;
	size_t cap_entries;
	size_t cap_notes;
	size_t n_nodes; /* in the current document */
	size_t doc;	/* 1-based number of the current document */
};

static void mnode_free(struct mnode *n)
{
	size_t i;

	if (!n)
		return;
	for (i = 0; i < n->n_kids; i++)
		mnode_free(n->kids[i]);
	free(n->kids);
	free(n->text);
	free(n);
}

static void entry_release(struct manifest_entry *e)
{
	free(e->ns);
	free(e->name);
	free(e->key);
	free(e->data);
	free(e->error);
}

void manifest_free(struct manifest *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->n_entries; i++)
		entry_release(&m->entries[i]);
	free(m->entries);
	for (i = 0; i < m->n_notes; i++)
		free(m->notes[i].message);
	free(m->notes);
	free(m);
}

const char *manifest_yaml_version(void)
{
	return yaml_get_version_string();
}

/* Grow an array of @size-byte elements so that it holds at least @need. */
static int grow_array(void **arr, size_t *cap, size_t need, size_t size)
{
	size_t c = *cap ? *cap : 8;
	void *p;

	if (need <= *cap)
		return 0;
	while (c < need) {
		if (c > SIZE_MAX / 2 / size)
			return -ENOMEM;
		c *= 2;
	}
	p = realloc(*arr, c * size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = c;
	return 0;
}

static int note_add(struct reader *rd, enum manifest_note_level level, size_t line, const char *fmt,
		    ...) __attribute__((format(printf, 4, 5)));

static int note_add(struct reader *rd, enum manifest_note_level level, size_t line, const char *fmt,
		    ...)
{
	struct manifest *m = rd->m;
	struct manifest_note *n;
	char msg[DIAG_MAX];
	char *copy;
	va_list ap;
	int r;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	copy = strdup(msg);
	if (!copy)
		return -ENOMEM;
	r = grow_array((void **)&m->notes, &rd->cap_notes, m->n_notes + 1, sizeof(*m->notes));
	if (r < 0) {
		free(copy);
		return r;
	}
	n = &m->notes[m->n_notes++];
	n->level = level;
	n->document = rd->doc;
	n->line = line;
	n->message = copy;
	return 0;
}

/* ---- telling a profile from a manifest, without a parser ---- */

static const unsigned char *skip_ws(const unsigned char *p, const unsigned char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	return p;
}

/* Past the JSON string that starts at @p (on its quote); NULL if it does not end. */
static const unsigned char *skip_string(const unsigned char *p, const unsigned char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\') {
			p++;
			continue;
		}
		if (*p == '"')
			return p + 1;
	}
	return NULL;
}

/* Past the JSON value at @p, counting brackets only; NULL if it does not end. */
static const unsigned char *skip_value(const unsigned char *p, const unsigned char *end)
{
	size_t depth = 0;

	while (p < end) {
		switch (*p) {
		case '"':
			p = skip_string(p, end);
			if (!p)
				return NULL;
			if (!depth)
				return p;
			continue;
		case '{':
		case '[':
			depth++;
			break;
		case '}':
		case ']':
			if (!depth)
				return p; /* the end of the enclosing object */
			if (!--depth)
				return p + 1;
			break;
		case ',':
			if (!depth)
				return p;
			break;
		default:
			break;
		}
		p++;
	}
	return depth ? NULL : p;
}

static bool key_is(const unsigned char *k, size_t n, const char *want)
{
	return n == strlen(want) && !memcmp(k, want, n);
}

/*
 * Whether the JSON object at @p has top-level keys "apiVersion" and "kind".
 * Malformed JSON ends the scan: what was seen so far decides, so a broken
 * profile reaches the engine and a broken JSON manifest reaches libyaml.
 */
static bool json_is_object_manifest(const unsigned char *p, const unsigned char *end)
{
	bool api = false, kind = false;
	const unsigned char *k;

	p++;
	for (;;) {
		p = skip_ws(p, end);
		if (p >= end || *p != '"')
			break;
		k = p + 1;
		p = skip_string(p, end);
		if (!p)
			break;
		if (key_is(k, (size_t)(p - 1 - k), "apiVersion"))
			api = true;
		else if (key_is(k, (size_t)(p - 1 - k), "kind"))
			kind = true;
		p = skip_ws(p, end);
		if (p >= end || *p != ':')
			break;
		p = skip_value(skip_ws(p + 1, end), end);
		if (!p)
			break;
		p = skip_ws(p, end);
		if (p >= end || *p != ',')
			break;
		p++;
	}
	return api && kind;
}

static bool rest_is(const unsigned char *p, const unsigned char *end, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(end - p) < n || memcmp(p, word, n) != 0)
		return false;
	return skip_ws(p + n, end) == end;
}

bool manifest_detect(const void *data, size_t len)
{
	const unsigned char *p = data, *end = p + len;

	if (len >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
		p += 3;
	p = skip_ws(p, end);
	if (p == end)
		return false;
	switch (*p) {
	case '{':
		return json_is_object_manifest(p, end);
	case '[':
		return false;
	case '"':
		/* A lone JSON string is a (wrong) profile; `"apiVersion": v1` is YAML. */
		p = skip_string(p, end);
		return p && skip_ws(p, end) != end;
	case '-':
		return !(p + 1 < end && p[1] >= '0' && p[1] <= '9');
	default:
		if (*p >= '0' && *p <= '9')
			return false;
		return !rest_is(p, end, "true") && !rest_is(p, end, "false") &&
		       !rest_is(p, end, "null");
	}
}

/* ---- lookups in a document tree ---- */

static bool is_null(const struct mnode *n)
{
	if (!n)
		return true;
	if (n->type != MNODE_SCALAR || !n->plain)
		return false;
	return !n->len || !strcmp(n->text, "~") || !strcmp(n->text, "null") ||
	       !strcmp(n->text, "Null") || !strcmp(n->text, "NULL");
}

static const char *scalar(const struct mnode *n)
{
	return n && n->type == MNODE_SCALAR && !is_null(n) ? n->text : NULL;
}

/*
 * The value of @key in mapping @map (NULL when absent or @map is not a mapping).
 * A repeated key is an error note: kubectl refuses it.
 */
static int lookup(struct reader *rd, const struct mnode *map, const char *key,
		  const struct mnode **out)
{
	const struct mnode *found = NULL;
	size_t i;

	*out = NULL;
	if (!map || map->type != MNODE_MAPPING)
		return 0;
	for (i = 0; i + 1 < map->n_kids; i += 2) {
		const struct mnode *k = map->kids[i];

		if (k->type != MNODE_SCALAR || strcmp(k->text, key) != 0)
			continue;
		if (found) {
			int r = note_add(rd, MANIFEST_NOTE_ERROR, k->line,
					 "duplicate key '%s' (the API server refuses it)", key);

			if (r < 0)
				return r;
		}
		found = map->kids[i + 1];
	}
	*out = found;
	return 0;
}

static const char *type_name(const struct mnode *n)
{
	switch (n->type) {
	case MNODE_SCALAR:
		return "a string";
	case MNODE_SEQUENCE:
		return "a list";
	case MNODE_MAPPING:
		return "a mapping";
	case MNODE_ALIAS:
		return "a YAML alias";
	}
	return "a node";
}

/* ---- ConfigMaps to entries ---- */

/*
 * binaryData is []byte in Go: standard base64 with padding, decoded by the
 * same function the API decoders use, so validate accepts what the daemon does.
 */
static int b64_decode(const char *s, size_t n, char **out, size_t *out_len)
{
	char *dst;
	size_t o;
	int r;

	dst = malloc(K8S_BASE64_DECODED_MAX(n) + 1);
	if (!dst)
		return -ENOMEM;
	r = k8s_base64_decode(s, n, dst, &o);
	if (r < 0) {
		free(dst);
		return r;
	}
	dst[o] = '\0';
	*out = dst;
	*out_len = o;
	return 0;
}

static int entry_error(struct manifest_entry *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int entry_error(struct manifest_entry *e, const char *fmt, ...)
{
	char msg[DIAG_MAX];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	e->error = strdup(msg);
	return e->error ? 0 : -ENOMEM;
}

static int entry_add(struct reader *rd, const char *ns, const char *name, const struct mnode *key,
		     const struct mnode *val, bool binary)
{
	struct manifest *m = rd->m;
	struct manifest_entry e = { 0 };
	int r;

	if (m->n_entries >= MANIFEST_MAX_ENTRIES)
		return -E2BIG;
	e.binary = binary;
	e.document = rd->doc;
	e.line = key->line;
	e.ns = strdup(ns);
	e.name = strdup(name);
	e.key = strdup(key->text);
	if (!e.ns || !e.name || !e.key) {
		r = -ENOMEM;
		goto out;
	}
	if (val && val->type == MNODE_ALIAS) {
		r = entry_error(&e, "the value is a YAML alias, which validate does not expand");
	} else if (val && val->type != MNODE_SCALAR) {
		r = entry_error(
			&e,
			"the value is %s, not a string: write the profile as a block scalar "
			"('%.253s: |')",
			type_name(val), key->text);
	} else if (is_null(val)) {
		e.data = strdup("");
		r = e.data ? 0 : -ENOMEM;
	} else if (binary) {
		r = b64_decode(val->text, val->len, &e.data, &e.len);
		if (r == -EINVAL)
			r = entry_error(&e, "binaryData value is not valid base64");
	} else {
		e.data = malloc(val->len + 1);
		r = e.data ? 0 : -ENOMEM;
		if (e.data) {
			memcpy(e.data, val->text, val->len + 1);
			e.len = val->len;
		}
	}
	if (r < 0)
		goto out;
	r = grow_array((void **)&m->entries, &rd->cap_entries, m->n_entries + 1,
		       sizeof(*m->entries));
	if (r < 0)
		goto out;
	m->entries[m->n_entries++] = e;
	return 0;
out:
	entry_release(&e);
	return r;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The API server refuses a ConfigMap whose data and binaryData share a key. */
static int check_duplicate_keys(struct reader *rd, size_t first, const char *ns, const char *name)
{
	struct manifest *m = rd->m;
	size_t n = m->n_entries - first, i;
	const char **keys;
	int r = 0;

	if (n < 2)
		return 0;
	keys = calloc(n, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		keys[i] = m->entries[first + i].key;
	qsort(keys, n, sizeof(*keys), cmp_str);
	for (i = 1; i < n && r >= 0; i++)
		if (!strcmp(keys[i - 1], keys[i]) && (i < 2 || strcmp(keys[i - 2], keys[i]) != 0))
			r = note_add(rd, MANIFEST_NOTE_ERROR, 0,
				     "key '%.253s' appears twice in ConfigMap '%.63s/%.253s' (the "
				     "API server refuses it)",
				     keys[i], ns, name);
	free(keys);
	return r;
}

static int add_keys(struct reader *rd, const struct mnode *map, const char *field, const char *ns,
		    const char *name)
{
	size_t i;
	int r;

	if (is_null(map))
		return 0;
	if (map->type != MNODE_MAPPING)
		return note_add(rd, MANIFEST_NOTE_ERROR, map->line,
				"%s of ConfigMap '%.63s/%.253s' is %s, not a mapping", field, ns,
				name, type_name(map));
	for (i = 0; i + 1 < map->n_kids; i += 2) {
		const struct mnode *k = map->kids[i];

		if (k->type != MNODE_SCALAR) {
			r = note_add(rd, MANIFEST_NOTE_ERROR, k->line,
				     "%s of ConfigMap '%.63s/%.253s' has a key that is %s", field,
				     ns, name, type_name(k));
		} else {
			r = entry_add(rd, ns, name, k, map->kids[i + 1],
				      !strcmp(field, "binaryData"));
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static int handle_configmap(struct reader *rd, const struct mnode *obj)
{
	const struct mnode *meta, *ann, *marker, *data, *bin, *n;
	const char *name, *ns, *value;
	size_t first;
	int r;

	r = lookup(rd, obj, "metadata", &meta);
	if (r < 0)
		return r;
	r = lookup(rd, meta, "annotations", &ann);
	if (r < 0)
		return r;
	if ((meta && meta->type == MNODE_ALIAS) || (ann && ann->type == MNODE_ALIAS))
		return note_add(
			rd, MANIFEST_NOTE_WARNING, obj->line,
			"ConfigMap metadata uses a YAML alias, which validate does not expand: "
			"skipped");
	r = lookup(rd, ann, MANIFEST_MARKER, &marker);
	if (r < 0 || !marker)
		return r;
	r = lookup(rd, meta, "name", &n);
	if (r < 0)
		return r;
	name = scalar(n);
	r = lookup(rd, meta, "namespace", &n);
	if (r < 0)
		return r;
	ns = scalar(n);
	if (!ns || !*ns)
		ns = "default";

	value = marker->type == MNODE_SCALAR ? marker->text : NULL;
	if (!value)
		return note_add(
			rd, MANIFEST_NOTE_ERROR, marker->line,
			"annotation %s of ConfigMap '%.63s/%.253s' is %s, not the string \"true\"",
			MANIFEST_MARKER, ns, name ? name : "", type_name(marker));
	if (strcmp(value, "true") != 0) {
		if (!strcmp(value, "false"))
			return 0;
		return note_add(rd, MANIFEST_NOTE_WARNING, marker->line,
				"annotation %s of ConfigMap '%.63s/%.253s' is '%.64s', not exactly "
				"\"true\": "
				"the ConfigMap is not a profile source and is skipped",
				MANIFEST_MARKER, ns, name ? name : "", value);
	}
	if (marker->plain) {
		r = note_add(rd, MANIFEST_NOTE_ERROR, marker->line,
			     "annotation %s is the YAML boolean true, which the API server refuses "
			     "(annotations are strings): quote it as \"true\"",
			     MANIFEST_MARKER);
		if (r < 0)
			return r;
	}
	if (!name || !*name)
		return note_add(rd, MANIFEST_NOTE_ERROR, marker->line,
				"annotated ConfigMap has no metadata.name: skipped");

	rd->m->n_configmaps++;
	first = rd->m->n_entries;
	r = lookup(rd, obj, "data", &data);
	if (r >= 0)
		r = lookup(rd, obj, "binaryData", &bin);
	if (r >= 0)
		r = add_keys(rd, data, "data", ns, name);
	if (r >= 0)
		r = add_keys(rd, bin, "binaryData", ns, name);
	if (r >= 0)
		r = check_duplicate_keys(rd, first, ns, name);
	if (r >= 0 && rd->m->n_entries == first)
		r = note_add(rd, MANIFEST_NOTE_WARNING, marker->line,
			     "annotated ConfigMap '%.63s/%.253s' has no data or binaryData keys",
			     ns, name);
	return r;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

/*
 * One Kubernetes object: a ConfigMap, a List of objects (kubectl's `kind: List`,
 * or the API's ConfigMapList whose items carry no kind), or anything else,
 * which is skipped.  @implied_kind is the kind of items that carry none.
 */
static int handle_object(struct reader *rd, const struct mnode *obj, const char *implied_kind)
{
	const struct mnode *n;
	const char *api, *kind;
	size_t i;
	int r;

	if (is_null(obj))
		return 0;
	if (obj->type != MNODE_MAPPING)
		return note_add(rd, MANIFEST_NOTE_WARNING, obj->line,
				"%s, not a Kubernetes object: skipped", type_name(obj));
	r = lookup(rd, obj, "apiVersion", &n);
	if (r < 0)
		return r;
	api = scalar(n);
	r = lookup(rd, obj, "kind", &n);
	if (r < 0)
		return r;
	kind = scalar(n);
	if (!kind && !api && implied_kind) {
		kind = implied_kind;
		api = "v1";
	}
	if (!api || !kind)
		return note_add(rd, MANIFEST_NOTE_WARNING, obj->line,
				"not a Kubernetes object (no apiVersion and kind): skipped");
	if (ends_with(kind, "List")) {
		r = lookup(rd, obj, "items", &n);
		if (r < 0 || is_null(n))
			return r;
		if (n->type != MNODE_SEQUENCE)
			return note_add(rd, MANIFEST_NOTE_ERROR, n->line,
					"items of %.64s is %s, not a list", kind, type_name(n));
		for (i = 0; i < n->n_kids; i++) {
			r = handle_object(rd, n->kids[i],
					  !strcmp(kind, "ConfigMapList") ? "ConfigMap" : NULL);
			if (r < 0)
				return r;
		}
		return 0;
	}
	rd->m->n_objects++;
	if (strcmp(kind, "ConfigMap") != 0)
		return 0;
	if (strcmp(api, "v1") != 0)
		return note_add(rd, MANIFEST_NOTE_WARNING, obj->line,
				"ConfigMap with apiVersion '%.64s' (not v1): skipped", api);
	return handle_configmap(rd, obj);
}

/* ---- the event loop ---- */

static int yaml_error(const yaml_parser_t *p, struct diag *d)
{
	if (p->error == YAML_MEMORY_ERROR)
		return diag_set(d, -ENOMEM, "out of memory reading YAML");
	if (p->error == YAML_READER_ERROR)
		return diag_set(d, -EINVAL, "cannot read YAML at byte %zu: %s", p->problem_offset,
				p->problem ? p->problem : "unknown error");
	if (p->context)
		return diag_set(d, -EINVAL, "YAML syntax error at line %zu column %zu: %s %s",
				p->problem_mark.line + 1, p->problem_mark.column + 1, p->context,
				p->problem ? p->problem : "");
	return diag_set(d, -EINVAL, "YAML syntax error at line %zu column %zu: %s",
			p->problem_mark.line + 1, p->problem_mark.column + 1,
			p->problem ? p->problem : "unknown error");
}

static struct mnode *mnode_new(enum mnode_type type, const yaml_event_t *ev)
{
	struct mnode *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->type = type;
	n->line = ev->start_mark.line + 1;
	if (type == MNODE_SCALAR) {
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		n->len = ev->data.scalar.length;
		n->text = malloc(n->len + 1);
		if (!n->text) {
			free(n);
			return NULL;
		}
		memcpy(n->text, ev->data.scalar.value, n->len);
		n->text[n->len] = '\0';
	}
	return n;
}

struct tree {
	struct mnode *root;
	struct mnode *stack[MANIFEST_MAX_DEPTH];
	size_t depth;
};

/* Hang @n under the open collection (or make it the root); takes @n. */
static int tree_attach(struct tree *t, struct mnode *n)
{
	struct mnode *parent;
	int r;

	if (!t->depth) {
		mnode_free(t->root);
		t->root = n;
		return 0;
	}
	parent = t->stack[t->depth - 1];
	/* The array holds pointers to nodes: sizeof of a pointer is meant. */
	r = grow_array((void **)&parent->kids, &parent->cap_kids, parent->n_kids + 1,
		       sizeof(*parent->kids)); /* NOLINT(bugprone-sizeof-expression) */
	if (r < 0) {
		mnode_free(n);
		return r;
	}
	parent->kids[parent->n_kids++] = n;
	return 0;
}

static int on_event(struct reader *rd, struct tree *t, const yaml_event_t *ev, struct diag *d)
{
	struct mnode *n;
	enum mnode_type type;
	int r;

	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (rd->m->n_documents >= MANIFEST_MAX_DOCUMENTS)
			return diag_set(d, -E2BIG, "more than %d documents",
					MANIFEST_MAX_DOCUMENTS);
		rd->doc = ++rd->m->n_documents;
		rd->n_nodes = 0;
		return 0;
	case YAML_DOCUMENT_END_EVENT:
		r = handle_object(rd, t->root, NULL);
		mnode_free(t->root);
		t->root = NULL;
		t->depth = 0;
		if (r == -E2BIG)
			return diag_set(d, r, "more than %d profiles in one file (document %zu)",
					MANIFEST_MAX_ENTRIES, rd->doc);
		if (r < 0)
			return diag_set(d, r, "out of memory in document %zu", rd->doc);
		return 0;
	case YAML_SCALAR_EVENT:
		type = MNODE_SCALAR;
		break;
	case YAML_ALIAS_EVENT:
		type = MNODE_ALIAS;
		break;
	case YAML_SEQUENCE_START_EVENT:
		type = MNODE_SEQUENCE;
		break;
	case YAML_MAPPING_START_EVENT:
		type = MNODE_MAPPING;
		break;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		if (t->depth)
			t->depth--;
		return 0;
	default:
		return 0;
	}
	if (++rd->n_nodes > MANIFEST_MAX_NODES)
		return diag_set(d, -E2BIG, "document %zu has more than %d YAML nodes", rd->doc,
				MANIFEST_MAX_NODES);
	if ((type == MNODE_SEQUENCE || type == MNODE_MAPPING) && t->depth >= MANIFEST_MAX_DEPTH)
		return diag_set(d, -ELOOP, "YAML nested more than %d levels deep at line %zu",
				MANIFEST_MAX_DEPTH, (size_t)ev->start_mark.line + 1);
	n = mnode_new(type, ev);
	if (!n)
		return diag_set(d, -ENOMEM, "out of memory reading YAML");
	r = tree_attach(t, n);
	if (r < 0)
		return diag_set(d, r, "out of memory reading YAML");
	if (type == MNODE_SEQUENCE || type == MNODE_MAPPING)
		t->stack[t->depth++] = n;
	return 0;
}

int manifest_parse(const void *data, size_t len, struct manifest **out, struct diag *d)
{
	struct reader rd = { 0 };
	struct tree t = { 0 };
	yaml_parser_t parser;
	yaml_event_t ev;
	bool parser_ready = false, done = false;
	int r;

	if (len > MANIFEST_MAX_BYTES)
		return diag_set(d, -E2BIG, "manifest of %zu bytes is over the limit of %d bytes",
				len, MANIFEST_MAX_BYTES);
	rd.m = calloc(1, sizeof(*rd.m));
	if (!rd.m)
		return diag_set(d, -ENOMEM, "out of memory");
	if (!yaml_parser_initialize(&parser)) {
		r = diag_set(d, -ENOMEM, "out of memory");
		goto out;
	}
	parser_ready = true;
	yaml_parser_set_input_string(&parser, data, len);
	while (!done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			r = yaml_error(&parser, d);
			goto out;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		r = on_event(&rd, &t, &ev, d);
		yaml_event_delete(&ev);
		if (r < 0)
			goto out;
	}
	*out = rd.m;
	rd.m = NULL;
	r = 0;
out:
	mnode_free(t.root);
	if (parser_ready)
		yaml_parser_delete(&parser);
	manifest_free(rd.m);
	return r;
}
