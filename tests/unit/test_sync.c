/* SPDX-License-Identifier: Apache-2.0 */
/*
 * daemon/sync: the diff after a relist, the reconcile plan against a store
 * listing, and every transition, against a fake disk and a fake validator
 * (content starting with "BAD" is invalid, "FAIL" fails to write).  Each case
 * is a script of relists and watch events followed by the expected disk, the
 * expected profiles{state} counts and how many profiles were compiled and
 * written.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "daemon/sync.h"

#define ANNOT	  "seccomp.security.kubernetes.io/profile"
#define MAX_DISK  32
#define MAX_PAIRS 8

struct disk_file {
	char ns[64], cm[254], key[256], content[64];
	bool other; /* a symlink or the like: listed as STORE_ENTRY_OTHER */
};

struct world {
	struct sync_table *t;
	struct disk_file disk[MAX_DISK];
	size_t n_disk;
	bool synced;
	bool trust_disk;
	const char *scope; /* the watched namespace, NULL: all */
	unsigned gen;
	unsigned checks, writes, removals, refusals, refused_cms;
};

/* An object spec: "ns/name uid rv annotation k=v,k=v [bin:k=v,...]". */
struct obj {
	const char *ns, *name, *uid, *rv, *annot;
	const char *data;   /* "k=v,k=v" */
	const char *binary; /* "k=v" */
};

struct built {
	struct k8s_object o;
	struct k8s_pair ann[1];
	struct k8s_pair data[MAX_PAIRS], bin[MAX_PAIRS];
	char dbuf[512], bbuf[512];
};

static size_t parse_pairs(const char *spec, char *buf, size_t size, struct k8s_pair *pairs)
{
	size_t n = 0;
	char *p, *save = NULL;

	if (!spec || !*spec)
		return 0;
	snprintf(buf, size, "%s", spec);
	for (p = strtok_r(buf, ",", &save); p && n < MAX_PAIRS; p = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(p, '=');

		assert_non_null(eq);
		*eq = '\0';
		pairs[n].key = p;
		pairs[n].value = eq + 1;
		pairs[n].value_len = strlen(eq + 1);
		n++;
	}
	return n;
}

static void build(struct built *b, const struct obj *s)
{
	memset(b, 0, sizeof(*b));
	b->o.kind = K8S_KIND_CONFIGMAP;
	b->o.ns = s->ns;
	b->o.name = s->name;
	b->o.uid = s->uid;
	b->o.resource_version = s->rv;
	if (s->annot) {
		b->ann[0].key = ANNOT;
		b->ann[0].value = s->annot;
		b->ann[0].value_len = strlen(s->annot);
		b->o.annotations = b->ann;
		b->o.n_annotations = 1;
	}
	b->o.data = b->data;
	b->o.n_data = parse_pairs(s->data, b->dbuf, sizeof(b->dbuf), b->data);
	b->o.binary_data = b->bin;
	b->o.n_binary_data = parse_pairs(s->binary, b->bbuf, sizeof(b->bbuf), b->bin);
	b->o.data_skipped = !s->annot || strcmp(s->annot, "true");
}

static struct disk_file *disk_find(struct world *w, const char *ns, const char *cm, const char *key)
{
	size_t i;

	for (i = 0; i < w->n_disk; i++)
		if (!strcmp(w->disk[i].ns, ns) && !strcmp(w->disk[i].cm, cm) &&
		    !strcmp(w->disk[i].key, key))
			return &w->disk[i];
	return NULL;
}

static void disk_put(struct world *w, const char *ns, const char *cm, const char *key,
		     const char *content, size_t len)
{
	struct disk_file *f = disk_find(w, ns, cm, key);

	if (!f) {
		assert_true(w->n_disk < MAX_DISK);
		f = &w->disk[w->n_disk++];
		memset(f, 0, sizeof(*f));
		snprintf(f->ns, sizeof(f->ns), "%s", ns);
		snprintf(f->cm, sizeof(f->cm), "%s", cm);
		snprintf(f->key, sizeof(f->key), "%s", key);
	}
	snprintf(f->content, sizeof(f->content), "%.*s", (int)len, content);
}

static bool disk_del(struct world *w, const char *ns, const char *cm, const char *key)
{
	struct disk_file *f = disk_find(w, ns, cm, key);

	if (!f)
		return false;
	*f = w->disk[--w->n_disk];
	return true;
}

/* The executor, as daemon/cmd_run.c does it, but against the fake disk. */
static void execute(struct world *w, const struct k8s_object *o, struct sync_plan *plan)
{
	size_t i;

	if (plan->kind == SYNC_PLAN_REFUSED)
		w->refused_cms++;
	for (i = 0; i < plan->n_steps; i++) {
		struct sync_step *st = &plan->steps[i];
		struct disk_file *f;

		switch (st->op) {
		case SYNC_OP_NONE:
			break;
		case SYNC_OP_TRUST:
			st->outcome = SYNC_OUT_TRUSTED;
			break;
		case SYNC_OP_CHECK:
			w->checks++;
			if (st->len >= 3 && !memcmp(st->data, "BAD", 3)) {
				if (st->remove_if_invalid && w->synced) {
					(void)disk_del(w, o->ns, o->name, st->key);
					st->outcome = SYNC_OUT_INVALID_REMOVED;
				} else {
					st->outcome = SYNC_OUT_INVALID;
				}
				break;
			}
			if (st->len >= 4 && !memcmp(st->data, "FAIL", 4)) {
				st->outcome = SYNC_OUT_FAILED;
				break;
			}
			f = disk_find(w, o->ns, o->name, st->key);
			if (f && strlen(f->content) == st->len &&
			    !memcmp(f->content, st->data, st->len)) {
				st->outcome = SYNC_OUT_UNCHANGED;
				break;
			}
			disk_put(w, o->ns, o->name, st->key, st->data, st->len);
			w->writes++;
			st->outcome = SYNC_OUT_WRITTEN;
			break;
		case SYNC_OP_REMOVE:
			if (!w->synced) {
				st->outcome = SYNC_OUT_DEFERRED;
				break;
			}
			if (disk_del(w, o->ns, o->name, st->key))
				w->removals++;
			st->outcome = SYNC_OUT_REMOVED;
			break;
		case SYNC_OP_REFUSE:
			w->refusals++;
			st->outcome = SYNC_OUT_REFUSED;
			break;
		}
	}
}

static void handle(struct world *w, const struct obj *s, bool deleted)
{
	struct sync_opts opts = { .annotation = ANNOT, .trust_disk = w->trust_disk };
	struct sync_plan plan;
	struct built b;
	struct diag d;

	build(&b, s);
	assert_int_equal(sync_plan_object(w->t, &b.o, deleted, &opts, &plan, &d), 0);
	execute(w, &b.o, &plan);
	assert_int_equal(sync_apply(w->t, &b.o, &plan, w->gen, &d), 0);
	sync_plan_release(&plan);
}

static int remove_cb(void *ctx, const struct sync_removal *r)
{
	struct world *w = ctx;

	assert_non_null(r->reason);
	if (disk_del(w, r->ns, r->cm, r->key))
		w->removals++;
	return 1;
}

static void removals(struct world *w)
{
	if (w->synced)
		assert_true(sync_table_removals(w->t, remove_cb, w) >= 0);
}

static void refresh(struct world *w)
{
	struct store_entry e[MAX_DISK];
	size_t i, n = 0;

	for (i = 0; i < w->n_disk; i++) {
		if (w->scope && strcmp(w->disk[i].ns, w->scope))
			continue;
		memset(&e[n], 0, sizeof(e[n]));
		e[n].type = w->disk[i].other ? STORE_ENTRY_OTHER : STORE_ENTRY_FILE;
		snprintf(e[n].ns, sizeof(e[n].ns), "%s", w->disk[i].ns);
		snprintf(e[n].cm, sizeof(e[n].cm), "%s", w->disk[i].cm);
		snprintf(e[n].key, sizeof(e[n].key), "%s", w->disk[i].key);
		if (!w->disk[i].other)
			sha256(w->disk[i].content, strlen(w->disk[i].content), e[n].digest);
		e[n].size = strlen(w->disk[i].content);
		n++;
	}
	assert_int_equal(sync_table_refresh_disk(w->t, w->scope, e, n), 0);
}

enum act {
	END = 0,
	RELIST, /* relist_begin, every object, relist_end */
	EVENT,	/* ADDED or MODIFIED */
	DELETE, /* DELETED */
	SYNCED, /* every watch has listed: pending removals go */
	PUT, /* a file appears on disk behind the daemon's back: obj ns/name, data "key=content" */
	OTHER,	 /* a symlink appears on disk: obj ns/name, data "key=x" */
	UNLINK,	 /* a file vanishes behind the daemon's back */
	RESTART, /* a new process: empty table, same disk */
	ZERO,	 /* reset the counters */
};

struct stepdef {
	enum act act;
	struct obj o[3];
};

struct tcase {
	const char *name;
	const char *scope;
	bool trust_disk;
	struct stepdef steps[10];
	const char *disk; /* expected: "ns/cm/key=content" sorted, space separated */
	unsigned valid, invalid, stale;
	unsigned checks, writes, removals, refusals; /* since the last ZERO */
	size_t records;
};

static void run_step(struct world *w, const struct stepdef *s)
{
	size_t i;

	switch (s->act) {
	case END:
		break;
	case RELIST:
		w->gen = sync_table_next_gen(w->t);
		refresh(w);
		for (i = 0; i < 3 && s->o[i].ns; i++)
			handle(w, &s->o[i], false);
		(void)sync_table_vanish(w->t, w->scope, w->gen);
		removals(w);
		break;
	case EVENT:
		handle(w, &s->o[0], false);
		removals(w);
		break;
	case DELETE:
		handle(w, &s->o[0], true);
		removals(w);
		break;
	case SYNCED:
		w->synced = true;
		removals(w);
		break;
	case PUT:
	case OTHER: {
		const char *eq = strchr(s->o[0].data, '=');
		char key[64];

		snprintf(key, sizeof(key), "%.*s", (int)(eq - s->o[0].data), s->o[0].data);
		disk_put(w, s->o[0].ns, s->o[0].name, key, eq + 1, strlen(eq + 1));
		disk_find(w, s->o[0].ns, s->o[0].name, key)->other = s->act == OTHER;
		break;
	}
	case UNLINK: {
		const char *eq = strchr(s->o[0].data, '=');
		char key[64];

		snprintf(key, sizeof(key), "%.*s", eq ? (int)(eq - s->o[0].data) : 63,
			 s->o[0].data);
		assert_true(disk_del(w, s->o[0].ns, s->o[0].name, key));
		break;
	}
	case RESTART:
		sync_table_free(w->t);
		assert_int_equal(sync_table_new(&w->t), 0);
		w->synced = false;
		break;
	case ZERO:
		w->checks = w->writes = w->removals = w->refusals = 0;
		break;
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void disk_string(const struct world *w, char *out, size_t size)
{
	char lines[MAX_DISK][400];
	const char *ptrs[MAX_DISK];
	size_t i, at = 0;

	for (i = 0; i < w->n_disk; i++) {
		snprintf(lines[i], sizeof(lines[i]), "%s/%s/%s=%s%s", w->disk[i].ns, w->disk[i].cm,
			 w->disk[i].key, w->disk[i].other ? "@" : "", w->disk[i].content);
		ptrs[i] = lines[i];
	}
	qsort(ptrs, w->n_disk, sizeof(ptrs[0]), cmp_str);
	out[0] = '\0';
	for (i = 0; i < w->n_disk; i++) {
		int n = snprintf(out + at, size - at, "%s%s", i ? " " : "", ptrs[i]);

		assert_true(n > 0 && (size_t)n < size - at);
		at += (size_t)n;
	}
}

#define A(ns, name, uid, rv, data)                    \
	{                                             \
		ns, name, uid, rv, "true", data, NULL \
	}
#define NA(ns, name, uid, rv, annot, data)           \
	{                                            \
		ns, name, uid, rv, annot, data, NULL \
	}
#define B(ns, name, uid, rv, data, bin)              \
	{                                            \
		ns, name, uid, rv, "true", data, bin \
	}
#define F(ns, name, data)                              \
	{                                              \
		ns, name, NULL, NULL, NULL, data, NULL \
	}

static const struct tcase cases[] = {
	{ .name = "create",
	  .steps = { { .act = RELIST },
		     { .act = SYNCED },
		     { EVENT, { A("ns", "cm", "u1", "1", "a.json=A1") } } },
	  .disk = "ns/cm/a.json=A1",
	  .valid = 1,
	  .checks = 1,
	  .writes = 1,
	  .removals = 0,
	  .records = 1 },
	{ .name = "create in the first list",
	  .steps = { { RELIST, { A("ns", "cm", "u1", "1", "a.json=A1,b.json=B1") } },
		     { .act = SYNCED } },
	  .disk = "ns/cm/a.json=A1 ns/cm/b.json=B1",
	  .valid = 2,
	  .checks = 2,
	  .writes = 2,
	  .removals = 0,
	  .records = 1 },
	{ .name = "update",
	  .steps = { { RELIST, { A("ns", "cm", "u1", "1", "a.json=A1") } },
		     { .act = SYNCED },
		     { .act = ZERO },
		     { EVENT, { A("ns", "cm", "u1", "2", "a.json=A2") } } },
	  .disk = "ns/cm/a.json=A2",
	  .valid = 1,
	  .checks = 1,
	  .writes = 1,
	  .records = 1 },
	{ .name = "resourceVersion change with the same content: nothing to do",
	  .steps = { { RELIST, { A("ns", "cm", "u1", "1", "a.json=A1") } },
		     { .act = SYNCED },
		     { .act = ZERO },
		     { EVENT, { A("ns", "cm", "u1", "2", "a.json=A1") } },
		     { RELIST, { A("ns", "cm", "u1", "3", "a.json=A1") } } },
	  .disk = "ns/cm/a.json=A1",
	  .valid = 1,
	  .checks = 0,
	  .writes = 0,
	  .removals = 0,
	  .records = 1 },
	{ .name = "delete",
	  .steps = { { RELIST, { A("ns", "cm", "u1", "1", "a.json=A1,b.json=B1") } },
		     { .act = SYNCED },
		     { DELETE, { A("ns", "cm", "u1", "2", "a.json=A1,b.json=B1") } } },
	  .disk = "",
	  .checks = 2,
	  .writes = 2,
	  .removals = 2,
	  .records = 0 },
	{ .name = "delete of a configmap never selected",
	  .steps = { { .act = RELIST },
		     { .act = SYNCED },
		     { DELETE, { NA("ns", "cm", "u1", "2", NULL, "") } } },
	  .disk = "",
	  .checks = 0,
	  .removals = 0,
	  .records = 0 },
	{ .name = "key removal",
	  .steps = { { RELIST, { A("ns", "cm", "u1", "1", "a.json=A1,b.json=B1") } },
		     { .act = SYNCED },
		     { EVENT, { A("ns", "cm", "u1", "2", "a.json=A1") } } },
	  .disk = "ns/cm/a.json=A1",
	  .valid = 1,
	  .checks = 2,
	  .writes = 2,
	  .removals = 1,
	  .records = 1 },
	{ .name = "annotation removed",
	  .steps = { { RELIST, { A("ns", "cm", "u1", "1", "a.json=A1") } },
		     { .act = SYNCED },
		     { EVENT, { NA("ns", "cm", "u1", "2", NULL, "") } } },
	  .disk = "",
	  .checks = 1,
	  .writes = 1,
	  .removals = 1,
	  .records = 0 },
	{ .name = "annotation changed to True (not exactly true)",
	  .steps = { { RELIST, { A("ns", "cm", "u1", "1", "a.json=A1") } },
		     { .act = SYNCED },
		     { EVENT, { NA("ns", "cm", "u1", "2", "True", "a.json=A1") } } },
	  .disk = "",
	  .checks = 1,
	  .writes = 1,
	  .removals = 1,
	  .records = 0 },
	{ .name = "annotation added later",
	  .steps = { { RELIST, { NA("ns", "cm", "u1", "1", "false", "a.json=A1") } },
		     { .act = SYNCED },
		     { EVENT, { A("ns", "cm", "u1", "2", "a.json=A1") } } },
	  .disk = "ns/cm/a.json=A1",
	  .valid = 1,
	  .checks = 1,
	  .writes = 1,
	  .records = 1 },
	{ .name = "invalid after valid keeps the last good file (stale)",
	  .steps = { { RELIST, { A("ns", "cm", "u1", "1", "a.json=A1") } },
		     { .act = SYNCED },
		     { EVENT, { A("ns", "cm", "u1", "2", "a.json=BAD2") } },
		     { RELIST, { A("ns", "cm", "u1", "2", "a.json=BAD2") } } },
	  .disk = "ns/cm/a.json=A1",
	  .stale = 1,
	  .checks = 2,
	  .writes = 1,
	  .removals = 0,
	  .records = 1 },
	{ .name = "stale, then fixed",
	  .steps = { { RELIST, { A("ns", "cm", "u1", "1", "a.json=A1") } },
		     { .act = SYNCED },
		     { EVENT, { A("ns", "cm", "u1", "2", "a.json=BAD2") } },
		     { EVENT, { A("ns", "cm", "u1", "3", "a.json=A3") } } },
	  .disk = "ns/cm/a.json=A3",
	  .valid = 1,
	  .checks = 3,
	  .writes = 2,
	  .records = 1 },
	{ .name = "stale, then back to the good version: trusted",
	  .trust_disk = true,
	  .steps = { { RELIST, { A("ns", "cm", "u1", "1", "a.json=A1") } },
		     { .act = SYNCED },
		     { EVENT, { A("ns", "cm", "u1", "2", "a.json=BAD2") } },
		     { EVENT, { A("ns", "cm", "u1", "3", "a.json=A1") } } },
	  .disk = "ns/cm/a.json=A1",
	  .valid = 1,
	  .checks = 2,
	  .writes = 1,
	  .records = 1 },
	{ .name = "invalid first: no file",
	  .steps = { { .act = RELIST },
		     { .act = SYNCED },
		     { EVENT, { A("ns", "cm", "u1", "1", "a.json=BAD") } } },
	  .disk = "",
	  .invalid = 1,
	  .checks = 1,
	  .writes = 0,
	  .records = 1 },
	{ .name = "invalid, then deleted",
	  .steps = { { .act = RELIST },
		     { .act = SYNCED },
		     { EVENT, { A("ns", "cm", "u1", "1", "a.json=BAD") } },
		     { DELETE, { A("ns", "cm", "u1", "2", "a.json=BAD") } } },
	  .disk = "",
	  .checks = 1,
	  .removals = 0,
	  .records = 0 },
	{ .name = "stale file removed with its key",
	  .steps = { { RELIST, { A("ns", "cm", "u1", "1", "a.json=A1,b.json=B1") } },
		     { .act = SYNCED },
		     { EVENT, { A("ns", "cm", "u1", "2", "a.json=BAD,b.json=B1") } },
		     { EVENT, { A("ns", "cm", "u1", "3", "b.json=B1") } } },
	  .disk = "ns/cm/b.json=B1",
	  .valid = 1,
	  .checks = 3,
	  .writes = 2,
	  .removals = 1,
	  .records = 1 },
	{ .name = "uid change, invalid content: the other object's file goes",
	  .steps = { { RELIST, { A("ns", "cm", "u1", "1", "a.json=A1,b.json=B1") } },
		     { .act = SYNCED },
		     { EVENT, { A("ns", "cm", "u2", "5", "a.json=BAD,c.json=C1") } } },
	  .disk = "ns/cm/c.json=C1",
	  .valid = 1,
	  .invalid = 1,
	  .checks = 4,
	  .writes = 3,
	  .removals = 1,
	  .records = 1 },
	{ .name = "uid change, same content: checked again, not rewritten",
	  .steps = { { RELIST, { A("ns", "cm", "u1", "1", "a.json=A1") } },
		     { .act = SYNCED },
		     { .act = ZERO },
		     { RELIST, { A("ns", "cm", "u2", "7", "a.json=A1") } } },
	  .disk = "ns/cm/a.json=A1",
	  .valid = 1,
	  .checks = 1,
	  .writes = 0,
	  .removals = 0,
	  .records = 1 },
	{ .name = "relist diff: a configmap missing from the list is removed",
	  .steps = { { RELIST,
		       { A("ns", "one", "u1", "1", "a.json=A1"),
			 A("ns", "two", "u2", "1", "b.json=B1") } },
		     { .act = SYNCED },
		     { RELIST, { A("ns", "one", "u1", "1", "a.json=A1") } } },
	  .disk = "ns/one/a.json=A1",
	  .valid = 1,
	  .checks = 2,
	  .writes = 2,
	  .removals = 1,
	  .records = 1 },
	{ .name = "relist diff: a key missing from the listed object is removed",
	  .steps = { { RELIST, { A("ns", "one", "u1", "1", "a.json=A1,b.json=B1") } },
		     { .act = SYNCED },
		     { RELIST, { A("ns", "one", "u1", "9", "b.json=B1") } } },
	  .disk = "ns/one/b.json=B1",
	  .valid = 1,
	  .checks = 2,
	  .writes = 2,
	  .removals = 1,
	  .records = 1 },
	{ .name = "nothing removed before synced, everything after",
	  .steps = { { PUT, { F("ns", "old", "x.json=X") } },
		     { RELIST, { A("ns", "cm", "u1", "1", "a.json=A1") } },
		     { DELETE, { A("ns", "cm", "u1", "2", "a.json=A1") } },
		     { .act = ZERO } },
	  .disk = "ns/cm/a.json=A1 ns/old/x.json=X",
	  .removals = 0,
	  .records = 2 },
	{ .name = "deferred removals run once synced",
	  .steps = { { PUT, { F("ns", "old", "x.json=X") } },
		     { RELIST, { A("ns", "cm", "u1", "1", "a.json=A1") } },
		     { DELETE, { A("ns", "cm", "u1", "2", "a.json=A1") } },
		     { .act = SYNCED } },
	  .disk = "",
	  .checks = 1,
	  .writes = 1,
	  .removals = 2,
	  .records = 0 },
	{ .name = "namespace restriction: other namespaces untouched",
	  .scope = "mine",
	  .steps = { { PUT, { F("theirs", "cm", "x.json=X") } },
		     { PUT, { F("mine", "old", "y.json=Y") } },
		     { RELIST, { A("mine", "cm", "u1", "1", "a.json=A1") } },
		     { .act = SYNCED } },
	  .disk = "mine/cm/a.json=A1 theirs/cm/x.json=X",
	  .valid = 1,
	  .checks = 1,
	  .writes = 1,
	  .removals = 1,
	  .records = 1 },
	{ .name = "restart with files on disk: trusted, nothing compiled or written",
	  .trust_disk = true,
	  .steps = { { RELIST, { A("ns", "cm", "u1", "1", "a.json=A1,b.json=B1") } },
		     { .act = SYNCED },
		     { .act = RESTART },
		     { .act = ZERO },
		     { RELIST, { A("ns", "cm", "u1", "1", "a.json=A1,b.json=B1") } },
		     { .act = SYNCED } },
	  .disk = "ns/cm/a.json=A1 ns/cm/b.json=B1",
	  .valid = 2,
	  .checks = 0,
	  .writes = 0,
	  .removals = 0,
	  .records = 1 },
	{ .name = "restart after a validator change: checked again, not rewritten",
	  .trust_disk = false,
	  .steps = { { RELIST, { A("ns", "cm", "u1", "1", "a.json=A1") } },
		     { .act = SYNCED },
		     { .act = RESTART },
		     { .act = ZERO },
		     { RELIST, { A("ns", "cm", "u1", "1", "a.json=A1") } },
		     { .act = SYNCED } },
	  .disk = "ns/cm/a.json=A1",
	  .valid = 1,
	  .checks = 1,
	  .writes = 0,
	  .removals = 0,
	  .records = 1 },
	{ .name = "restart: changed while down, deleted while down, invalid while down",
	  .trust_disk = true,
	  .steps = { { RELIST,
		       { A("ns", "a", "u1", "1", "k=A1"), A("ns", "b", "u2", "1", "k=B1"),
			 A("ns", "c", "u3", "1", "k=C1") } },
		     { .act = SYNCED },
		     { .act = RESTART },
		     { .act = ZERO },
		     { RELIST,
		       { A("ns", "a", "u1", "2", "k=A2"), A("ns", "c", "u3", "2", "k=BAD") } },
		     { .act = SYNCED } },
	  .disk = "ns/a/k=A2 ns/c/k=C1",
	  .valid = 1,
	  .stale = 1,
	  .checks = 2,
	  .writes = 1,
	  .removals = 1,
	  .records = 2 },
	{ .name = "restart: annotation removed while down",
	  .trust_disk = true,
	  .steps = { { RELIST, { A("ns", "a", "u1", "1", "k=A1") } },
		     { .act = SYNCED },
		     { .act = RESTART },
		     { .act = ZERO },
		     { RELIST, { NA("ns", "a", "u1", "2", "false", "") } },
		     { .act = SYNCED } },
	  .disk = "",
	  .checks = 0,
	  .removals = 1,
	  .records = 0 },
	{ .name = "reconcile: a file removed behind our back is written again",
	  .steps = { { RELIST, { A("ns", "cm", "u1", "1", "a.json=A1") } },
		     { .act = SYNCED },
		     { UNLINK, { F("ns", "cm", "a.json") } },
		     { .act = ZERO },
		     { RELIST, { A("ns", "cm", "u1", "1", "a.json=A1") } } },
	  .disk = "ns/cm/a.json=A1",
	  .valid = 1,
	  .checks = 1,
	  .writes = 1,
	  .records = 1 },
	{ .name = "reconcile: a file changed behind our back is written again",
	  .trust_disk = true,
	  .steps = { { RELIST, { A("ns", "cm", "u1", "1", "a.json=A1") } },
		     { .act = SYNCED },
		     { PUT, { F("ns", "cm", "a.json=EVIL") } },
		     { .act = ZERO },
		     { RELIST, { A("ns", "cm", "u1", "1", "a.json=A1") } } },
	  .disk = "ns/cm/a.json=A1",
	  .valid = 1,
	  .checks = 1,
	  .writes = 1,
	  .records = 1 },
	{ .name = "reconcile: an unknown file in a selected configmap's directory goes",
	  .steps = { { RELIST, { A("ns", "cm", "u1", "1", "a.json=A1") } },
		     { .act = SYNCED },
		     { PUT, { F("ns", "cm", "extra.json=E") } },
		     { RELIST, { A("ns", "cm", "u1", "1", "a.json=A1") } } },
	  .disk = "ns/cm/a.json=A1",
	  .valid = 1,
	  .checks = 1,
	  .writes = 1,
	  .removals = 1,
	  .records = 1 },
	{ .name = "reconcile: entries that are not files are left alone",
	  .steps = { { OTHER, { F("ns", "cm", "link.json=x") } },
		     { .act = RELIST },
		     { .act = SYNCED } },
	  .disk = "ns/cm/link.json=@x",
	  .removals = 0,
	  .records = 0 },
	{ .name = "stale file vanishes: invalid",
	  .steps = { { RELIST, { A("ns", "cm", "u1", "1", "a.json=A1") } },
		     { .act = SYNCED },
		     { EVENT, { A("ns", "cm", "u1", "2", "a.json=BAD") } },
		     { UNLINK, { F("ns", "cm", "a.json") } },
		     { .act = ZERO },
		     { RELIST, { A("ns", "cm", "u1", "2", "a.json=BAD") } } },
	  .disk = "",
	  .invalid = 1,
	  .checks = 0,
	  .records = 1 },
	{ .name = "hostile namespace and name: refused, nothing written",
	  .steps = { { RELIST,
		       { A("Bad_NS", "cm", "u1", "1", "a.json=A1"),
			 A("ns", "../x", "u2", "1", "a.json=A1") } },
		     { .act = SYNCED } },
	  .disk = "",
	  .checks = 0,
	  .writes = 0,
	  .records = 0 },
	{ .name = "hostile key: refused once, the other keys written",
	  .steps = { { RELIST, { A("ns", "cm", "u1", "1", "..x=A1,good.json=G") } },
		     { .act = SYNCED },
		     { EVENT, { A("ns", "cm", "u1", "2", "..x=A1,good.json=G") } } },
	  .disk = "ns/cm/good.json=G",
	  .valid = 1,
	  .invalid = 1,
	  .checks = 1,
	  .writes = 1,
	  .refusals = 1,
	  .records = 1 },
	{ .name = "binaryData keys, and a key in both data and binaryData",
	  .steps = { { RELIST, { B("ns", "cm", "u1", "1", "a.json=A1", "b.json=B1,a.json=X") } },
		     { .act = SYNCED } },
	  .disk = "ns/cm/a.json=A1 ns/cm/b.json=B1",
	  .valid = 2,
	  .invalid = 0,
	  .checks = 2,
	  .writes = 2,
	  .refusals = 1,
	  .records = 1 },
	{ .name = "a failed write is retried by the next relist",
	  .steps = { { RELIST, { A("ns", "cm", "u1", "1", "a.json=FAIL") } },
		     { .act = SYNCED },
		     { RELIST, { A("ns", "cm", "u1", "1", "a.json=FAIL") } } },
	  .disk = "",
	  .invalid = 1,
	  .checks = 2,
	  .writes = 0,
	  .records = 1 },
	{ .name = "label selector transition: DELETED then ADDED",
	  .steps = { { RELIST, { A("ns", "cm", "u1", "1", "a.json=A1") } },
		     { .act = SYNCED },
		     { DELETE, { A("ns", "cm", "u1", "2", "a.json=A1") } },
		     { EVENT, { A("ns", "cm", "u1", "3", "a.json=A1") } } },
	  .disk = "ns/cm/a.json=A1",
	  .valid = 1,
	  .checks = 2,
	  .writes = 2,
	  .removals = 1,
	  .records = 1 },
};

static void test_transition(void **state)
{
	const struct tcase *c = *state;
	struct world w;
	char disk[2048];
	size_t j;

	memset(&w, 0, sizeof(w));
	w.scope = c->scope;
	w.trust_disk = c->trust_disk;
	assert_int_equal(sync_table_new(&w.t), 0);
	for (j = 0; j < 10 && c->steps[j].act != END; j++)
		run_step(&w, &c->steps[j]);
	disk_string(&w, disk, sizeof(disk));
	assert_string_equal(disk, c->disk);
	assert_int_equal(sync_table_count(w.t, SYNC_VALID), c->valid);
	assert_int_equal(sync_table_count(w.t, SYNC_INVALID), c->invalid);
	assert_int_equal(sync_table_count(w.t, SYNC_STALE), c->stale);
	assert_int_equal(w.checks, c->checks);
	assert_int_equal(w.writes, c->writes);
	assert_int_equal(w.removals, c->removals);
	assert_int_equal(w.refusals, c->refusals);
	assert_int_equal(sync_table_size(w.t), c->records);
	sync_table_free(w.t);
}

static void test_selected(void **state)
{
	static const struct {
		const char *annot;
		bool want;
	} sel[] = {
		{ "true", true }, { "True", false },  { "TRUE", false }, { "", false },
		{ "yes", false }, { "true ", false }, { NULL, false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(sel) / sizeof(sel[0]); i++) {
		struct obj s = { "ns", "cm", "u", "1", sel[i].annot, "", NULL };
		struct built b;

		build(&b, &s);
		assert_int_equal(sync_selected(&b.o, ANNOT), sel[i].want);
		assert_false(sync_selected(&b.o, "other/annotation"));
	}
}

/* The plan for a fresh selected object, step by step (what the executor sees). */
static void test_plan_steps(void **state)
{
	struct obj s = A("ns", "cm", "u1", "1", "a.json=A1,b.json=B1");
	struct sync_opts opts = { .annotation = ANNOT };
	struct sync_table *t;
	struct sync_plan plan;
	struct built b;
	uint8_t dg[SHA256_LEN];
	struct diag d;

	(void)state;
	assert_int_equal(sync_table_new(&t), 0);
	build(&b, &s);
	assert_int_equal(sync_plan_object(t, &b.o, false, &opts, &plan, &d), 0);
	assert_int_equal(plan.kind, SYNC_PLAN_SYNC);
	assert_int_equal(plan.n_steps, 2);
	assert_int_equal(plan.steps[0].op, SYNC_OP_CHECK);
	assert_string_equal(plan.steps[0].key, "a.json");
	assert_int_equal(plan.steps[0].len, 2);
	sha256("A1", 2, dg);
	assert_memory_equal(plan.steps[0].digest, dg, SHA256_LEN);
	assert_false(plan.steps[0].had_file);
	/* Nothing done yet: pending steps are recorded as failed and retried. */
	assert_int_equal(sync_apply(t, &b.o, &plan, 1, &d), 0);
	sync_plan_release(&plan);
	assert_int_equal(sync_table_count(t, SYNC_INVALID), 2);
	assert_int_equal(sync_plan_object(t, &b.o, false, &opts, &plan, &d), 0);
	assert_int_equal(plan.steps[0].op, SYNC_OP_CHECK);
	assert_int_equal(plan.steps[1].op, SYNC_OP_CHECK);
	sync_plan_release(&plan);

	/* Not selected and unknown: ignored. */
	s.annot = NULL;
	s.name = "other";
	build(&b, &s);
	assert_int_equal(sync_plan_object(t, &b.o, false, &opts, &plan, &d), 0);
	assert_int_equal(plan.kind, SYNC_PLAN_IGNORE);
	assert_int_equal(plan.n_steps, 0);
	sync_plan_release(&plan);
	sync_table_free(t);
}

/* An annotated ConfigMap ns/@name (uid "u", resourceVersion "1") with @n data keys. */
static void annotated(struct k8s_object *o, struct k8s_pair *ann, const char *name,
		      struct k8s_pair *data, size_t n)
{
	memset(o, 0, sizeof(*o));
	o->kind = K8S_KIND_CONFIGMAP;
	o->ns = "ns";
	o->name = name;
	o->uid = "u";
	o->resource_version = "1";
	o->annotations = ann;
	o->n_annotations = 1;
	o->data = data;
	o->n_data = n;
}

static void test_refusal_reasons(void **state)
{
	struct sync_opts opts = { .annotation = ANNOT };
	struct sync_table *t;
	struct sync_plan plan;
	struct k8s_object o;
	struct k8s_pair ann = { ANNOT, "true", 4 };
	struct k8s_pair *many;
	struct diag d;
	size_t i;

	(void)state;
	assert_int_equal(sync_table_new(&t), 0);
	many = calloc(SYNC_MAX_KEYS + 1, sizeof(*many));
	assert_non_null(many);
	for (i = 0; i <= SYNC_MAX_KEYS; i++) {
		many[i].key = "k";
		many[i].value = "";
	}
	annotated(&o, &ann, "cm", many, SYNC_MAX_KEYS + 1);
	assert_int_equal(sync_plan_object(t, &o, false, &opts, &plan, &d), 0);
	assert_int_equal(plan.kind, SYNC_PLAN_REFUSED);
	assert_non_null(strstr(plan.refusal.msg, "keys"));
	sync_plan_release(&plan);
	free(many);

	o.data = NULL;
	o.n_data = 0;
	o.ns = "UPPER";
	assert_int_equal(sync_plan_object(t, &o, false, &opts, &plan, &d), 0);
	assert_int_equal(plan.kind, SYNC_PLAN_REFUSED);
	assert_true(plan.refusal.msg[0] != '\0');
	sync_plan_release(&plan);

	/* An over-long uid is refused by apply and leaves nothing behind. */
	{
		char uid[SYNC_UID_MAX + 2];

		memset(uid, 'u', sizeof(uid) - 1);
		uid[sizeof(uid) - 1] = '\0';
		o.ns = "ns";
		o.uid = uid;
		assert_int_equal(sync_plan_object(t, &o, false, &opts, &plan, &d), 0);
		assert_int_equal(sync_apply(t, &o, &plan, 1, &d), -E2BIG);
		sync_plan_release(&plan);
		assert_int_equal(sync_table_size(t), 0);
	}
	sync_table_free(t);
}

/* Many records: the hash table grows and still finds each one; removals empty it. */
static int drop_all(void *ctx, const struct sync_removal *r)
{
	(void)r;
	(*(unsigned *)ctx)++;
	return 1;
}

static void count_file(void *ctx, const char *ns, const char *cm, const char *key)
{
	unsigned *n = ctx;

	assert_string_equal(ns, "ns");
	assert_true(!strncmp(cm, "cm-", 3));
	assert_string_equal(key, "k");
	(*n)++;
}

static void test_many(void **state)
{
	struct sync_opts opts = { .annotation = ANNOT };
	struct sync_table *t;
	unsigned gen, n = 0;
	char name[32];
	size_t i;

	(void)state;
	assert_int_equal(sync_table_new(&t), 0);
	gen = sync_table_next_gen(t);
	for (i = 0; i < 5000; i++) {
		struct obj s = A("ns", name, "u", "1", "k=v");
		struct sync_plan plan;
		struct built b;
		struct diag d;

		snprintf(name, sizeof(name), "cm-%zu", i);
		build(&b, &s);
		assert_int_equal(sync_plan_object(t, &b.o, false, &opts, &plan, &d), 0);
		plan.steps[0].outcome = SYNC_OUT_WRITTEN;
		assert_int_equal(sync_apply(t, &b.o, &plan, gen, &d), 0);
		sync_plan_release(&plan);
	}
	assert_int_equal(sync_table_size(t), 5000);
	assert_int_equal(sync_table_count(t, SYNC_VALID), 5000);
	assert_non_null(sync_table_find(t, "ns", "cm-4321"));
	assert_null(sync_table_find(t, "ns", "cm-5000"));
	sync_table_files(t, count_file, &n);
	assert_int_equal(n, 5000);
	n = 0;
	gen = sync_table_next_gen(t);
	assert_int_equal(sync_table_vanish(t, NULL, gen), 5000);
	assert_int_equal(sync_table_count(t, SYNC_VALID), 0);
	assert_int_equal(sync_table_removals(t, drop_all, &n), 5000);
	assert_int_equal(n, 5000);
	assert_int_equal(sync_table_size(t), 0);
	n = 0;
	sync_table_files(t, count_file, &n);
	assert_int_equal(n, 0);
	sync_table_free(t);
}

static int keep_all(void *ctx, const struct sync_removal *r)
{
	(void)ctx;
	(void)r;
	return 0;
}

static int fail_walk(void *ctx, const struct sync_removal *r)
{
	(void)ctx;
	(void)r;
	return -EIO;
}

static void test_removal_callback_results(void **state)
{
	struct sync_opts opts = { .annotation = ANNOT };
	struct obj s = A("ns", "cm", "u", "1", "k=v");
	struct sync_table *t;
	struct sync_plan plan;
	struct built b;
	struct diag d;
	unsigned gen;

	(void)state;
	assert_int_equal(sync_table_new(&t), 0);
	build(&b, &s);
	assert_int_equal(sync_plan_object(t, &b.o, false, &opts, &plan, &d), 0);
	plan.steps[0].outcome = SYNC_OUT_WRITTEN;
	assert_int_equal(sync_apply(t, &b.o, &plan, sync_table_next_gen(t), &d), 0);
	sync_plan_release(&plan);
	gen = sync_table_next_gen(t);
	assert_int_equal(sync_table_vanish(t, "other", gen), 0);
	assert_int_equal(sync_table_vanish(t, "ns", gen), 1);
	assert_int_equal(sync_table_removals(t, keep_all, NULL), 0);
	assert_int_equal(sync_table_size(t), 1);
	assert_int_equal(sync_table_removals(t, fail_walk, NULL), -EIO);
	assert_int_equal(sync_table_size(t), 1);
	assert_string_equal(sync_state_name(SYNC_STALE), "stale");
	assert_string_equal(sync_state_name(SYNC_VALID), "valid");
	assert_string_equal(sync_state_name(SYNC_INVALID), "invalid");
	sync_table_free(t);
}

/*
 * The packed records (sync.c): a uid and resourceVersion come back exactly as
 * they went in, whether the uid is kept as a UUID's 16 bytes or as text; keys
 * dropped in place leave the others' names and file digests intact; a record
 * too big to pack is refused and leaves the table as it was.
 */
struct seen {
	char keys[16][16];
	char uid[64], rv[16];
	bool null_ids;
	unsigned n;
	bool keep_even; /* keep k0, k2, ... pending */
};

static int record_removal(void *ctx, const struct sync_removal *r)
{
	struct seen *s = ctx;

	assert_true(s->n < 16);
	snprintf(s->keys[s->n++], sizeof(s->keys[0]), "%s", r->key);
	snprintf(s->uid, sizeof(s->uid), "%s", r->uid ? r->uid : "");
	snprintf(s->rv, sizeof(s->rv), "%s", r->rv ? r->rv : "");
	s->null_ids = !r->uid && !r->rv;
	return !(s->keep_even && (r->key[1] - '0') % 2 == 0);
}

/* Apply @b with every CHECK written and every REMOVE deferred. */
static void apply_all(struct sync_table *t, struct built *b, const struct sync_opts *opts,
		      unsigned gen)
{
	struct sync_plan plan;
	struct diag d;
	size_t i;

	assert_int_equal(sync_plan_object(t, &b->o, false, opts, &plan, &d), 0);
	for (i = 0; i < plan.n_steps; i++)
		plan.steps[i].outcome = plan.steps[i].op == SYNC_OP_CHECK    ? SYNC_OUT_WRITTEN
					: plan.steps[i].op == SYNC_OP_REMOVE ? SYNC_OUT_DEFERRED
									     : SYNC_OUT_PENDING;
	assert_int_equal(sync_apply(t, &b->o, &plan, gen, &d), 0);
	sync_plan_release(&plan);
}

static void check_ids_round_trip(const char *uid, const char *rv)
{
	struct sync_opts opts = { .annotation = ANNOT };
	struct obj s = A("ns", "cm", uid, rv, "k0=a,k1=b,k2=c,k3=d,k4=e");
	struct seen seen = { .keep_even = true };
	struct sync_table *t;
	struct sync_key k;
	struct built b;
	unsigned gen;

	assert_int_equal(sync_table_new(&t), 0);
	build(&b, &s);
	apply_all(t, &b, &opts, sync_table_next_gen(t));
	gen = sync_table_next_gen(t);
	assert_int_equal(sync_table_vanish(t, NULL, gen), 1);
	/* k1 and k3 go, in place; k0, k2 and k4 stay pending, their names intact. */
	assert_int_equal(sync_table_removals(t, record_removal, &seen), 2);
	assert_int_equal(seen.n, 5);
	assert_string_equal(seen.uid, uid);
	assert_string_equal(seen.rv, rv ? rv : "");
	assert_int_equal(sync_cm_n_keys(sync_table_find(t, "ns", "cm")), 3);
	assert_true(sync_cm_key(sync_table_find(t, "ns", "cm"), "k0", &k) && k.has_file);
	assert_true(sync_cm_key(sync_table_find(t, "ns", "cm"), "k4", &k) && k.has_file);
	assert_false(sync_cm_key(sync_table_find(t, "ns", "cm"), "k3", &k));
	seen.n = 0;
	seen.keep_even = false;
	assert_int_equal(sync_table_removals(t, record_removal, &seen), 3);
	assert_string_equal(seen.uid, uid);
	assert_int_equal(sync_table_size(t), 0);
	sync_table_free(t);
}

static void test_packed_records(void **state)
{
	struct sync_opts opts = { .annotation = ANNOT, .trust_disk = true };
	struct store_entry e;
	struct sync_table *t;
	struct sync_plan plan;
	struct seen seen = { 0 };
	struct built b;
	struct diag d;
	unsigned gen;

	(void)state;
	check_ids_round_trip("0f8e2c1a-3b4d-4e5f-8a9b-0c1d2e3f4a5b", "123456"); /* 16 bytes */
	check_ids_round_trip("0F8E2C1A-3B4D-4E5F-8A9B-0C1D2E3F4A5B", "7");	/* text */
	check_ids_round_trip("0f8e2c1a-3b4d-4e5f-8a9b-0c1d2e3f4a5", "7");	/* text */
	check_ids_round_trip("not-a-uuid", NULL);

	/* Known only from disk: no uid, no resourceVersion. */
	assert_int_equal(sync_table_new(&t), 0);
	memset(&e, 0, sizeof(e));
	e.type = STORE_ENTRY_FILE;
	strcpy(e.ns, "ns");
	strcpy(e.cm, "gone");
	strcpy(e.key, "k1");
	gen = sync_table_next_gen(t);
	assert_int_equal(sync_table_refresh_disk(t, NULL, &e, 1), 0);
	assert_int_equal(sync_table_vanish(t, NULL, gen), 1); /* its wait for the relist ends */
	assert_int_equal(sync_table_removals(t, record_removal, &seen), 1);
	assert_true(seen.null_ids);
	sync_table_free(t);

	/*
	 * A stale key keeps its file's digest across in-place drops of the keys
	 * before it: going back to the good version is then trusted.
	 */
	assert_int_equal(sync_table_new(&t), 0);
	gen = sync_table_next_gen(t);
	{
		struct obj s1 = A("ns", "cm", "u", "1", "k0=a,k1=good,k2=c");
		struct obj s2 = A("ns", "cm", "u", "2", "k0=a,k1=BAD,k2=c");
		struct obj s3 = A("ns", "cm", "u", "3", "k1=BAD");
		struct obj s4 = A("ns", "cm", "u", "4", "k1=good");
		struct sync_key k;

		build(&b, &s1);
		apply_all(t, &b, &opts, gen);
		build(&b, &s2);
		assert_int_equal(sync_plan_object(t, &b.o, false, &opts, &plan, &d), 0);
		assert_int_equal(plan.n_steps, 3);
		assert_int_equal(plan.steps[1].op, SYNC_OP_CHECK);
		plan.steps[1].outcome = SYNC_OUT_INVALID;
		assert_int_equal(sync_apply(t, &b.o, &plan, gen, &d), 0);
		sync_plan_release(&plan);
		assert_true(sync_cm_key(sync_table_find(t, "ns", "cm"), "k1", &k));
		assert_int_equal(k.state, SYNC_STALE);
		build(&b, &s3);
		apply_all(t, &b, &opts, gen); /* k0 and k2 pending removal */
		seen.n = 0;
		assert_int_equal(sync_table_removals(t, record_removal, &seen), 2);
		assert_int_equal(sync_cm_n_keys(sync_table_find(t, "ns", "cm")), 1);
		build(&b, &s4);
		assert_int_equal(sync_plan_object(t, &b.o, false, &opts, &plan, &d), 0);
		assert_int_equal(plan.n_steps, 1);
		assert_int_equal(plan.steps[0].op, SYNC_OP_TRUST);
		sync_plan_release(&plan);
	}
	sync_table_free(t);

	/* Too big to pack (1,024 keys of 8 KiB names): refused, the table as it was. */
	{
		enum { N = SYNC_MAX_KEYS, LEN = 8192 };
		struct k8s_pair ann = { ANNOT, "true", 4 };
		struct k8s_pair *pairs = calloc(N, sizeof(*pairs));
		char *names = malloc((size_t)N * LEN);
		struct k8s_object o;
		size_t i;

		assert_non_null(pairs);
		assert_non_null(names);
		for (i = 0; i < N; i++) {
			char *nm = names + i * LEN;

			memset(nm, 'k', LEN - 1);
			snprintf(nm, 16, "%05zu", i);
			nm[5] = 'k';
			nm[LEN - 1] = '\0';
			pairs[i].key = nm;
			pairs[i].value = "v";
			pairs[i].value_len = 1;
		}
		annotated(&o, &ann, "huge", pairs, N);
		assert_int_equal(sync_table_new(&t), 0);
		assert_int_equal(sync_plan_object(t, &o, false, &opts, &plan, &d), 0);
		assert_int_equal(plan.n_steps, N);
		assert_int_equal(sync_apply(t, &o, &plan, sync_table_next_gen(t), &d), -E2BIG);
		assert_non_null(strstr(d.msg, "huge"));
		sync_plan_release(&plan);
		assert_int_equal(sync_table_size(t), 0);
		sync_table_free(t);
		free(names);
		free(pairs);
	}
}

int main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_selected),
		cmocka_unit_test(test_plan_steps),
		cmocka_unit_test(test_refusal_reasons),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_removal_callback_results),
		cmocka_unit_test(test_packed_records),
	};
	enum {
		N_CASES = sizeof(cases) / sizeof(cases[0]),
		N_FIXED = sizeof(fixed) / sizeof(fixed[0])
	};
	struct CMUnitTest tests[N_CASES + N_FIXED];
	size_t i;

	/* One test per transition case, named after it. */
	for (i = 0; i < N_CASES; i++) {
		memset(&tests[i], 0, sizeof(tests[i]));
		tests[i].name = cases[i].name;
		tests[i].test_func = test_transition;
		tests[i].initial_state = (void *)&cases[i];
	}
	for (i = 0; i < N_FIXED; i++)
		tests[N_CASES + i] = fixed[i];
	return _cmocka_run_group_tests("sync", tests, N_CASES + N_FIXED, NULL, NULL);
}
