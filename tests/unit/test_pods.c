/* SPDX-License-Identifier: Apache-2.0 */
/*
 * daemon/pods: which pods on this node keep which profile paths in use.  Each
 * case is a script of watch events, relists and retention calls, each step
 * followed by its expected result, the number of tracked pods and which paths
 * are (not) in use; then the reference checks, the ordered walks, the path
 * cleaning the kubelet does, and the "did you mean" distance, all as tables.
 * A random script is also run against a naive model of the rules.
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

#include "daemon/pods.h"

#define NODE	 "node-a"
#define MAX_REFS 128
#define N(a)	 (sizeof(a) / sizeof((a)[0]))

/*
 * A pod: "ns/name", uid, node, phase, deleting, and its references as
 * space-separated "S:path" with S one of p (pod field), c (container), i
 * (init container), e (ephemeral container), P (pod annotation), C
 * (container annotation).
 */
struct pspec {
	const char *id;
	const char *uid;
	const char *node;
	const char *phase;
	bool deleting;
	const char *refs;
};

struct built {
	struct k8s_object o;
	char ns[512], name[512];
	struct k8s_profile_ref refs[MAX_REFS];
	char rbuf[MAX_REFS * 80];
};

static enum k8s_ref_source source_of(char c)
{
	switch (c) {
	case 'p':
		return K8S_REF_POD;
	case 'c':
		return K8S_REF_CONTAINER;
	case 'i':
		return K8S_REF_INIT_CONTAINER;
	case 'e':
		return K8S_REF_EPHEMERAL_CONTAINER;
	case 'P':
		return K8S_REF_POD_ANNOTATION;
	default:
		return K8S_REF_CONTAINER_ANNOTATION;
	}
}

static void build(struct built *b, const struct pspec *s)
{
	const char *slash = strchr(s->id, '/');
	char *p, *save = NULL, *tok;

	assert_non_null(slash);
	memset(b, 0, sizeof(*b));
	assert_true((size_t)(slash - s->id) < sizeof(b->ns));
	memcpy(b->ns, s->id, (size_t)(slash - s->id));
	assert_true(strlen(slash + 1) < sizeof(b->name));
	memcpy(b->name, slash + 1, strlen(slash + 1) + 1);
	b->o.kind = K8S_KIND_POD;
	b->o.ns = b->ns;
	b->o.name = b->name;
	b->o.uid = s->uid ? s->uid : "uid-1";
	b->o.resource_version = "7";
	b->o.node_name = s->node ? s->node : NODE;
	b->o.phase = s->phase ? s->phase : "Running";
	b->o.deleting = s->deleting;
	if (!s->refs)
		return;
	assert_true(strlen(s->refs) < sizeof(b->rbuf));
	memcpy(b->rbuf, s->refs, strlen(s->refs) + 1);
	for (p = b->rbuf; (tok = strtok_r(p, " ", &save)); p = NULL) {
		struct k8s_profile_ref *r = &b->refs[b->o.n_refs++];

		assert_true(b->o.n_refs <= MAX_REFS);
		assert_true(strlen(tok) >= 2 && tok[1] == ':');
		r->source = source_of(tok[0]);
		r->container = r->source == K8S_REF_POD || r->source == K8S_REF_POD_ANNOTATION
				       ? NULL
				       : "app";
		r->path = tok + 2;
	}
	b->o.refs = b->refs;
}

/* ---- scripts ---- */

enum op {
	END = 0,
	ADD,	  /* watch ADDED (also a list item, with the current generation) */
	MOD,	  /* watch MODIFIED */
	DEL,	  /* watch DELETED */
	GEN,	  /* a relist begins */
	VANISH,	  /* the relist ends: want = pods dropped, released expected in @released */
	RETAIN,	  /* pods_retain(path) */
	UNRETAIN, /* pods_unretain(path) */
};

struct step {
	enum op op;
	struct pspec pod;
	const char *path; /* RETAIN, UNRETAIN */
	int want;	  /* return value (VANISH: pods dropped) */
	size_t count;	  /* pods_count() afterwards */
	const char *used; /* space-separated paths that must be in use afterwards */
	const char *unused;
	size_t retained;
	bool released; /* VANISH */
};

struct script {
	const char *name;
	size_t max_pods;
	const char *node; /* NULL: NODE */
	struct step steps[12];
};

#define S10  "0123456789"
#define S50  S10 S10 S10 S10 S10
#define S254 S50 S50 S50 S50 S50 "abcd"

#define A "operator/default/profiles/audit.json"
#define B "operator/default/profiles/block.json"
#define C "operator/team/cm/c.json"

static const struct script scripts[] = {
	{ "running pod, then DELETED",
	  0,
	  NULL,
	  { { ADD, { "default/web", .refs = "p:" A }, NULL, 0, 1, A, B, 0, false },
	    { DEL, { "default/web", .refs = "p:" A }, NULL, 0, 0, NULL, A, 0, false } } },
	{ "deletionTimestamp still counts until DELETED",
	  0,
	  NULL,
	  { { ADD, { "default/web", .refs = "c:" A }, NULL, 0, 1, A, NULL, 0, false },
	    { MOD,
	      { "default/web", .deleting = true, .refs = "c:" A },
	      NULL,
	      0,
	      1,
	      A,
	      NULL,
	      0,
	      false },
	    { DEL,
	      { "default/web", .deleting = true, .refs = "c:" A },
	      NULL,
	      0,
	      0,
	      NULL,
	      A,
	      0,
	      false } } },
	{ "Succeeded ends it",
	  0,
	  NULL,
	  { { ADD,
	      { "default/job", .phase = "Pending", .refs = "i:" A },
	      NULL,
	      0,
	      1,
	      A,
	      NULL,
	      0,
	      false },
	    { MOD, { "default/job", .refs = "i:" A }, NULL, 0, 1, A, NULL, 0, false },
	    { MOD,
	      { "default/job", .phase = "Succeeded", .refs = "i:" A },
	      NULL,
	      0,
	      0,
	      NULL,
	      A,
	      0,
	      false },
	    /* a late MODIFIED of a finished pod does not bring it back */
	    { MOD,
	      { "default/job", .phase = "Succeeded", .deleting = true, .refs = "i:" A },
	      NULL,
	      0,
	      0,
	      NULL,
	      A,
	      0,
	      false },
	    { DEL,
	      { "default/job", .phase = "Succeeded", .refs = "i:" A },
	      NULL,
	      0,
	      0,
	      NULL,
	      A,
	      0,
	      false } } },
	{ "Failed ends it; Unknown does not",
	  0,
	  NULL,
	  { { ADD,
	      { "default/a", .phase = "Unknown", .refs = "e:" A },
	      NULL,
	      0,
	      1,
	      A,
	      NULL,
	      0,
	      false },
	    { ADD, { "default/b", .phase = "Failed", .refs = "e:" B }, NULL, 0, 1, A, B, 0, false },
	    { MOD,
	      { "default/a", .phase = "Failed", .refs = "e:" A },
	      NULL,
	      0,
	      0,
	      NULL,
	      A,
	      0,
	      false } } },
	{ "pods on other nodes and unscheduled pods never count",
	  0,
	  NULL,
	  { { ADD,
	      { "default/x", .node = "node-b", .refs = "p:" A },
	      NULL,
	      0,
	      0,
	      NULL,
	      A,
	      0,
	      false },
	    { ADD, { "default/y", .node = "", .refs = "p:" A }, NULL, 0, 0, NULL, A, 0, false },
	    { ADD, { "default/z", .refs = "p:" A }, NULL, 0, 1, A, NULL, 0, false },
	    /* the same name reported on another node (cannot happen, but is not ours) */
	    { MOD,
	      { "default/z", .node = "node-b", .refs = "p:" A },
	      NULL,
	      0,
	      0,
	      NULL,
	      A,
	      0,
	      false } } },
	{ "without a node name every pod counts",
	  0,
	  "",
	  { { ADD,
	      { "default/x", .node = "node-b", .refs = "p:" A },
	      NULL,
	      0,
	      1,
	      A,
	      NULL,
	      0,
	      false },
	    { ADD,
	      { "default/y", .node = "", .refs = "p:" B },
	      NULL,
	      0,
	      2,
	      A " " B,
	      NULL,
	      0,
	      false } } },
	{ "pods without operator/ references are not tracked",
	  0,
	  NULL,
	  { { ADD, { .id = "default/plain" }, NULL, 0, 0, NULL, A, 0, false },
	    { ADD,
	      { "default/other", .refs = "p:profiles/audit.json c:operator c:operatorx/a/b/c" },
	      NULL,
	      0,
	      0,
	      NULL,
	      "profiles/audit.json",
	      0,
	      false },
	    /* climbing out of the seccomp directory is not ours either */
	    { ADD,
	      { "default/up", .refs = "p:../operator/default/profiles/audit.json" },
	      NULL,
	      0,
	      0,
	      NULL,
	      A,
	      0,
	      false } } },
	{ "paths are cleaned as the kubelet joins them",
	  0,
	  NULL,
	  { { ADD,
	      { "default/w", .refs = "p:operator//default/./profiles/audit.json" },
	      NULL,
	      0,
	      1,
	      A " /" A " operator/default/x/../profiles/audit.json",
	      NULL,
	      0,
	      false },
	    { ADD,
	      { "default/v", .refs = "p:/operator/team/cm/../cm/c.json/" },
	      NULL,
	      0,
	      2,
	      C,
	      NULL,
	      0,
	      false } } },
	{ "two pods share a path",
	  0,
	  NULL,
	  { { ADD, { "default/a", .refs = "p:" A " c:" B }, NULL, 0, 1, A " " B, NULL, 0, false },
	    { ADD,
	      { "team/b", .refs = "c:" A " c:" A " i:" A },
	      NULL,
	      0,
	      2,
	      A " " B,
	      NULL,
	      0,
	      false },
	    { DEL, { .id = "default/a" }, NULL, 0, 1, A, B, 0, false },
	    { DEL, { .id = "team/b" }, NULL, 0, 0, NULL, A " " B, 0, false } } },
	{ "retention: released when the last user goes",
	  0,
	  NULL,
	  { { ADD, { "default/a", .refs = "p:" A }, NULL, 0, 1, A, NULL, 0, false },
	    { ADD, { "default/b", .refs = "p:" A }, NULL, 0, 2, A, NULL, 0, false },
	    { RETAIN, { .id = NULL }, A, 1, 2, A, NULL, 1, false },
	    { RETAIN,
	      { .id = NULL },
	      "operator/default//profiles/audit.json",
	      0,
	      2,
	      A,
	      NULL,
	      1,
	      false },
	    { DEL, { .id = "default/a" }, NULL, 0, 1, A, NULL, 1, false },
	    { MOD,
	      { "default/b", .phase = "Succeeded", .refs = "p:" A },
	      NULL,
	      PODS_RELEASED,
	      0,
	      NULL,
	      A,
	      1,
	      false },
	    { UNRETAIN, { .id = NULL }, A, 1, 0, NULL, A, 0, false },
	    { UNRETAIN, { .id = NULL }, A, 0, 0, NULL, A, 0, false } } },
	{ "retention of a path nobody uses; a path retained but wanted again",
	  0,
	  NULL,
	  { { RETAIN, { .id = NULL }, B, 1, 0, NULL, B, 1, false },
	    { RETAIN, { .id = NULL }, "profiles/x", -EINVAL, 0, NULL, NULL, 1, false },
	    { ADD, { "default/a", .refs = "p:" B }, NULL, 0, 1, B, NULL, 1, false },
	    { UNRETAIN, { .id = NULL }, B, 1, 1, B, NULL, 0, false },
	    /* not retained any more: its last user going releases nothing */
	    { DEL, { .id = "default/a" }, NULL, 0, 0, NULL, B, 0, false } } },
	{ "a changed annotation moves the reference",
	  0,
	  NULL,
	  { { ADD, { "default/a", .refs = "P:" A }, NULL, 0, 1, A, B, 0, false },
	    { RETAIN, { .id = NULL }, A, 1, 1, A, NULL, 1, false },
	    { MOD, { "default/a", .refs = "P:" B }, NULL, PODS_RELEASED, 1, B, A, 1, false },
	    /* no reference left under operator/: the record goes */
	    { MOD, { "default/a", .refs = "P:x/y" }, NULL, 0, 0, NULL, A " " B, 1, false } } },
	{ "a new uid under the same name replaces the pod",
	  0,
	  NULL,
	  { { ADD, { "default/a", .uid = "u1", .refs = "p:" A }, NULL, 0, 1, A, NULL, 0, false },
	    { ADD, { "default/a", .uid = "u2", .refs = "p:" B }, NULL, 0, 1, B, A, 0, false } } },
	{ "relist: pods the list did not contain vanish",
	  0,
	  NULL,
	  { { ADD, { "default/a", .refs = "p:" A }, NULL, 0, 1, A, NULL, 0, false },
	    { ADD, { "default/b", .refs = "p:" B }, NULL, 0, 2, B, NULL, 0, false },
	    { ADD, { "team/c", .refs = "p:" C }, NULL, 0, 3, C, NULL, 0, false },
	    { RETAIN, { .id = NULL }, B, 1, 3, B, NULL, 1, false },
	    { .op = GEN },
	    { ADD, { "default/a", .refs = "p:" A }, NULL, 0, 3, A, NULL, 1, false },
	    /* until the relist ends, the others still count */
	    { VANISH, { .id = NULL }, NULL, 2, 1, A, B " " C, 1, true },
	    { .op = GEN },
	    { VANISH, { .id = NULL }, NULL, 1, 0, NULL, A, 1, false } } },
	{ "limits: distinct paths per pod, pods per node, names",
	  2,
	  NULL,
	  { { ADD, { "default/a", .refs = "p:" A }, NULL, 0, 1, A, NULL, 0, false },
	    { ADD, { "default/b", .refs = "p:" B }, NULL, 0, 2, A " " B, NULL, 0, false },
	    { ADD, { "default/c", .refs = "p:" C }, NULL, -ENOSPC, 2, A " " B, C, 0, false },
	    /* an update of a tracked pod is not a new pod */
	    { MOD,
	      { "default/b", .refs = "p:" B " c:" C },
	      NULL,
	      0,
	      2,
	      A " " B " " C,
	      NULL,
	      0,
	      false },
	    { DEL, { .id = "default/b" }, NULL, 0, 1, A, B " " C, 0, false },
	    { ADD, { "default/c", .refs = "p:" C }, NULL, 0, 2, A " " C, NULL, 0, false },
	    { ADD, { .id = "default/" S254, .refs = "p:" B }, NULL, -E2BIG, 2, A, B, 0, false },
	    { ADD,
	      { "0123456789012345678901234567890123456789012345678901234567890123/p",
		.refs = "p:" B },
	      NULL,
	      -E2BIG,
	      2,
	      A,
	      B,
	      0,
	      false } } },
};

static bool all_in_use(const struct pods *p, const char *list, bool want)
{
	char buf[1024], *s, *save = NULL, *tok;

	if (!list)
		return true;
	assert_true(strlen(list) < sizeof(buf));
	memcpy(buf, list, strlen(list) + 1);
	for (s = buf; (tok = strtok_r(s, " ", &save)); s = NULL) {
		if (pods_in_use(p, tok) != want) {
			print_error("path '%s' in use: want %d\n", tok, want);
			return false;
		}
	}
	return true;
}

static void run_script(const struct script *sc)
{
	struct pods_opts opts = { .node_name = sc->node ? sc->node : NODE,
				  .max_pods = sc->max_pods };
	struct pods *p = NULL;
	unsigned gen;
	size_t i;

	assert_int_equal(pods_new(&opts, &p), 0);
	gen = pods_next_gen(p);
	for (i = 0; i < N(sc->steps) && sc->steps[i].op != END; i++) {
		const struct step *st = &sc->steps[i];
		struct built b;
		struct diag d;
		bool released = false;
		int r = 0;

		diag_clear(&d);
		switch (st->op) {
		case ADD:
		case MOD:
		case DEL:
			build(&b, &st->pod);
			r = pods_apply(p,
				       st->op == ADD   ? K8S_EV_ADDED
				       : st->op == MOD ? K8S_EV_MODIFIED
						       : K8S_EV_DELETED,
				       &b.o, gen, &d);
			if (r < 0)
				assert_true(d.msg[0] != '\0');
			break;
		case GEN:
			gen = pods_next_gen(p);
			continue;
		case VANISH:
			r = (int)pods_vanish(p, gen, &released);
			assert_int_equal(released, st->released);
			break;
		case RETAIN:
			r = pods_retain(p, st->path);
			break;
		case UNRETAIN:
			r = pods_unretain(p, st->path);
			break;
		case END:
			break;
		}
		if (r != st->want)
			print_error("%s: step %zu: %d, want %d (%s)\n", sc->name, i, r, st->want,
				    d.msg);
		assert_int_equal(r, st->want);
		assert_int_equal(pods_count(p), st->count);
		assert_int_equal(pods_retained(p), st->retained);
		if (!all_in_use(p, st->used, true) || !all_in_use(p, st->unused, false))
			fail_msg("%s: step %zu", sc->name, i);
	}
	pods_free(p);
}

static void test_scripts(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < N(scripts); i++)
		run_script(&scripts[i]);
}

/* More distinct paths than a pod may hold: refused, the old record stays; duplicates are free. */
static void test_path_limit(void **state)
{
	static char refs[MAX_REFS * 40];
	struct pods_opts opts = { .node_name = NODE };
	struct pspec s = { "default/big", .refs = refs };
	struct pods *p = NULL;
	struct built *b = calloc(1, sizeof(*b));
	struct diag d;
	size_t i, len = 0;

	(void)state;
	assert_non_null(b);
	assert_int_equal(pods_new(&opts, &p), 0);
	/* 100 references to one path */
	for (i = 0; i < 100; i++)
		len += (size_t)snprintf(refs + len, sizeof(refs) - len, "c:%s ", A);
	build(b, &s);
	assert_int_equal(pods_apply(p, K8S_EV_ADDED, &b->o, 0, &d), 0);
	assert_true(pods_in_use(p, A));
	/* exactly PODS_MAX_PATHS distinct ones */
	len = 0;
	for (i = 0; i < PODS_MAX_PATHS; i++)
		len += (size_t)snprintf(refs + len, sizeof(refs) - len, "c:operator/n/c/k%zu ", i);
	build(b, &s);
	assert_int_equal(pods_apply(p, K8S_EV_MODIFIED, &b->o, 0, &d), 0);
	assert_false(pods_in_use(p, A));
	assert_true(pods_in_use(p, "operator/n/c/k63"));
	/* one more: refused, the previous record is kept */
	len = 0;
	for (i = 0; i <= PODS_MAX_PATHS; i++)
		len += (size_t)snprintf(refs + len, sizeof(refs) - len, "c:operator/n/c/x%zu ", i);
	build(b, &s);
	assert_int_equal(pods_apply(p, K8S_EV_MODIFIED, &b->o, 0, &d), -E2BIG);
	assert_non_null(strstr(d.msg, "default/big"));
	assert_true(pods_in_use(p, "operator/n/c/k0"));
	assert_false(pods_in_use(p, "operator/n/c/x0"));
	assert_int_equal(pods_count(p), 1);
	pods_free(p);
	free(b);
}

/* Objects that are not pods, events without a pod. */
static void test_bad_input(void **state)
{
	struct pods_opts opts = { 0 };
	struct pspec s = { "default/a", .refs = "p:" A };
	struct pods *p = NULL;
	struct built b;
	struct diag d;
	static const enum k8s_event_type types[] = { K8S_EV_BOOKMARK, K8S_EV_ERROR, 0, 99 };
	size_t i;

	(void)state;
	assert_int_equal(pods_new(&opts, &p), 0);
	build(&b, &s);
	for (i = 0; i < N(types); i++)
		assert_int_equal(pods_apply(p, types[i], &b.o, 0, &d), -EINVAL);
	b.o.kind = K8S_KIND_CONFIGMAP;
	assert_int_equal(pods_apply(p, K8S_EV_ADDED, &b.o, 0, &d), -EINVAL);
	assert_int_equal(pods_count(p), 0);
	pods_free(p);
	pods_free(NULL);
	{
		char node[PODS_NAME_MAX + 2];

		memset(node, 'n', sizeof(node) - 1);
		node[sizeof(node) - 1] = '\0';
		opts.node_name = node;
		p = NULL;
		assert_int_equal(pods_new(&opts, &p), -E2BIG);
		assert_null(p);
	}
}

/* ---- pods_clean_path ---- */

static void test_clean_path(void **state)
{
	static const struct {
		const char *raw;
		int want;
		const char *out;
	} cases[] = {
		{ "operator/ns/cm/key", 1, "operator/ns/cm/key" },
		{ "operator//ns///cm/key/", 1, "operator/ns/cm/key" },
		{ "./operator/./ns/cm/./key", 1, "operator/ns/cm/key" },
		{ "/operator/ns/cm/key", 1, "operator/ns/cm/key" },
		{ "operator/ns/x/../cm/key", 1, "operator/ns/cm/key" },
		{ "x/../operator/ns/cm/key", 1, "operator/ns/cm/key" },
		{ "operator/a", 1, "operator/a" },
		{ "operator/ns/cm/..key", 1, "operator/ns/cm/..key" },
		{ "operator/...", 1, "operator/..." },
		{ "operator", 0, NULL },
		{ "operator/", 0, NULL },
		{ "operator/..", 0, NULL },
		{ "operator/ns/../..", 0, NULL },
		{ "operators/ns/cm/key", 0, NULL },
		{ "Operator/ns/cm/key", 0, NULL },
		{ "profiles/audit.json", 0, NULL },
		{ "../operator/ns/cm/key", 0, NULL },
		{ "operator/../../operator/ns/cm/key", 0, NULL },
		{ "", 0, NULL },
		{ "/", 0, NULL },
		{ ".", 0, NULL },
	};
	char out[PODS_PATH_MAX], big[PODS_PATH_MAX + 16];
	size_t i;

	(void)state;
	for (i = 0; i < N(cases); i++) {
		int r;

		memcpy(out, "untouched", sizeof("untouched"));
		r = pods_clean_path(cases[i].raw, out, sizeof(out));
		if (r != cases[i].want)
			fail_msg("'%s': %d, want %d", cases[i].raw, r, cases[i].want);
		assert_string_equal(out, cases[i].out ? cases[i].out : "untouched");
	}
	/* too long for the buffer the caller gives, or for any path of ours */
	assert_int_equal(pods_clean_path("operator/ns/cm/key", out, 18), -ENAMETOOLONG);
	assert_string_equal(out, "untouched");
	assert_int_equal(pods_clean_path("operator/ns/cm/key", out, 19), 1);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "operator/", 9);
	assert_int_equal(pods_clean_path(big, out, sizeof(out)), -ENAMETOOLONG);
	/* ... unless ".." brings it back before the limit */
	big[PODS_PATH_MAX - 10] = '/';
	memcpy(big + PODS_PATH_MAX - 9, "..", 3);
	assert_int_equal(pods_clean_path(big, out, sizeof(out)), 0);
}

/* ---- pods_users ---- */

struct users_ctx {
	char seen[256];
	size_t stop_after;
	size_t calls;
};

static int collect_user(void *ctx, const struct pods_pod *pod)
{
	struct users_ctx *u = ctx;
	size_t len = strlen(u->seen);

	(void)snprintf(u->seen + len, sizeof(u->seen) - len, "%s%s/%s", len ? " " : "", pod->ns,
		       pod->name);
	return ++u->calls == u->stop_after;
}

static void test_users(void **state)
{
	static const struct pspec pods[] = {
		{ "team/z", .refs = "p:" A },	  { "default/b", .refs = "c:" A " c:" B },
		{ "default/a", .refs = "c:" B },  { "alpha/q", .refs = "P:" A },
		{ "default/aa", .refs = "e:" A }, { "default/x", .node = "other", .refs = "p:" A },
	};
	static const struct {
		const char *path;
		size_t stop_after;
		size_t want_calls;
		const char *want;
	} cases[] = {
		{ A, 0, 4, "alpha/q default/aa default/b team/z" },
		{ "operator/default//profiles/audit.json", 0, 4,
		  "alpha/q default/aa default/b team/z" },
		{ A, 2, 2, "alpha/q default/aa" },
		{ B, 0, 2, "default/a default/b" },
		{ C, 0, 0, "" },
		{ "profiles/x", 0, 0, "" },
	};
	struct pods_opts opts = { .node_name = NODE };
	struct pods *p = NULL;
	size_t i;

	(void)state;
	assert_int_equal(pods_new(&opts, &p), 0);
	for (i = 0; i < N(pods); i++) {
		struct built b;

		build(&b, &pods[i]);
		assert_int_equal(pods_apply(p, K8S_EV_ADDED, &b.o, 0, NULL), 0);
	}
	for (i = 0; i < N(cases); i++) {
		struct users_ctx u = { .stop_after = cases[i].stop_after };

		assert_int_equal(pods_users(p, cases[i].path, collect_user, &u),
				 cases[i].want_calls);
		assert_string_equal(u.seen, cases[i].want);
	}
	assert_true(pods_profile_in_use(p, "default", "profiles", "audit.json"));
	assert_false(pods_profile_in_use(p, "default", "profiles", "other.json"));
	assert_false(pods_profile_in_use(p, "team", "cm", "c.json"));
	pods_free(p);
}

/* ---- pods_check ---- */

/* The daemon's view of paths: "path=status" where status is ok, missing, invalid, unknown. */
struct check_ctx {
	const char *lookups;
	char log[1024];
	int accept; /* what report() returns */
	unsigned lookup_calls;
};

static enum pods_lookup lookup(void *ctx, const char *path)
{
	struct check_ctx *c = ctx;
	const char *at = c->lookups ? strstr(c->lookups, path) : NULL;
	size_t len = strlen(path);

	c->lookup_calls++;
	/* missing unless listed */
	for (; at; at = strstr(at + 1, path)) {
		if (at[len] != '=' || (at != c->lookups && at[-1] != ' '))
			continue;
		at += len + 1;
		if (!strncmp(at, "ok", 2))
			return PODS_PATH_OK;
		if (!strncmp(at, "invalid", 7))
			return PODS_PATH_INVALID;
		if (!strncmp(at, "unknown", 7))
			return PODS_PATH_UNKNOWN;
		return PODS_PATH_MISSING;
	}
	return PODS_PATH_MISSING;
}

static int report(void *ctx, const struct pods_finding *f)
{
	struct check_ctx *c = ctx;
	size_t len = strlen(c->log), i;

	len += (size_t)snprintf(c->log + len, sizeof(c->log) - len, "%s%s/%s:%s", len ? ";" : "",
				f->pod->ns, f->pod->name, pods_reason_name(f->reason));
	for (i = 0; i < f->n_paths; i++)
		len += (size_t)snprintf(c->log + len, sizeof(c->log) - len, "%s%s", i ? "," : "=",
					f->paths[i]);
	return c->accept;
}

static void test_check(void **state)
{
	static const struct {
		const char *name;
		struct pspec pods[4];
		const char *lookups;
		int accept;
		int want;
		const char *want_log;
		const char *again_lookups; /* a second check, after the world changed */
		const char *want_again;
	} cases[] = {
		{ "all fine",
		  { { "default/a", .refs = "p:" A " c:" B } },
		  A "=ok " B "=ok",
		  1,
		  0,
		  "",
		  NULL,
		  "" },
		{ "a typo'd path, reported once",
		  { { "default/a", .refs = "p:operator/default/profile/audit.json c:" B } },
		  B "=ok",
		  1,
		  1,
		  "default/a:missing=operator/default/profile/audit.json",
		  B "=ok",
		  "" },
		{ "missing and invalid, in reason order; pods in name order",
		  { { "team/z", .refs = "c:" C },
		    { "default/b", .refs = "c:" A " c:" B " c:" C },
		    { "default/a", .refs = "p:" B } },
		  A "=invalid " B "=ok",
		  1,
		  3,
		  "default/b:missing=" C ";default/b:invalid=" A ";team/z:missing=" C,
		  A "=invalid",
		  /* missing already reported for default/b; default/a is new to missing */
		  "default/a:missing=" B },
		{ "unknown paths are not judged",
		  { { "other/a", .refs = "p:operator/other/cm/k" } },
		  "operator/other/cm/k=unknown",
		  1,
		  0,
		  "",
		  NULL,
		  "" },
		{ "pods being deleted are not checked",
		  { { "default/a", .deleting = true, .refs = "p:operator/x/y/z" } },
		  NULL,
		  1,
		  0,
		  "",
		  NULL,
		  "" },
		{ "only legacy annotations",
		  { { "default/old", .refs = "P:" A " C:" B },
		    { "default/both", .refs = "P:" A " c:" A },
		    { "default/elsewhere", .refs = "p:profiles/x.json C:" A } },
		  A "=ok " B "=ok",
		  1,
		  2,
		  "default/elsewhere:legacy;default/old:legacy",
		  NULL,
		  "" },
		{ "legacy and missing",
		  { { "default/old", .refs = "P:operator/default/nope/x" } },
		  NULL,
		  1,
		  2,
		  "default/old:missing=operator/default/nope/x;default/old:legacy",
		  NULL,
		  "" },
		{ "not reported (queue full): offered again",
		  { { "default/a", .refs = "p:" C } },
		  NULL,
		  0,
		  0,
		  "default/a:missing=" C,
		  NULL,
		  "default/a:missing=" C },
		{ "stop the walk",
		  { { "default/a", .refs = "p:" C }, { "default/b", .refs = "p:" C } },
		  NULL,
		  -EIO,
		  -EIO,
		  "default/a:missing=" C,
		  NULL,
		  "default/a:missing=" C },
	};
	size_t i, j;

	(void)state;
	for (i = 0; i < N(cases); i++) {
		struct pods_opts opts = { .node_name = NODE };
		struct check_ctx c = { .lookups = cases[i].lookups, .accept = cases[i].accept };
		struct pods *p = NULL;
		int r;

		assert_int_equal(pods_new(&opts, &p), 0);
		for (j = 0; j < N(cases[i].pods) && cases[i].pods[j].id; j++) {
			struct built b;

			build(&b, &cases[i].pods[j]);
			assert_true(pods_apply(p, K8S_EV_ADDED, &b.o, 0, NULL) >= 0);
		}
		r = pods_check(p, lookup, report, &c);
		if (r != cases[i].want || strcmp(c.log, cases[i].want_log) != 0)
			fail_msg("%s: %d '%s', want %d '%s'", cases[i].name, r, c.log,
				 cases[i].want, cases[i].want_log);
		c.log[0] = '\0';
		if (cases[i].again_lookups)
			c.lookups = cases[i].again_lookups;
		(void)pods_check(p, lookup, report, &c);
		if (strcmp(c.log, cases[i].want_again) != 0)
			fail_msg("%s (again): '%s', want '%s'", cases[i].name, c.log,
				 cases[i].want_again);
		pods_free(p);
	}
}

/* Reports stay with the pod across updates, and start over for a new uid. */
static void test_check_uid(void **state)
{
	struct pods_opts opts = { .node_name = NODE };
	struct check_ctx c = { .lookups = A "=invalid", .accept = 1 };
	struct pspec s = { "default/a", .uid = "u1", .refs = "p:" C " c:" A };
	struct pods *p = NULL;
	struct built b;

	(void)state;
	assert_int_equal(pods_new(&opts, &p), 0);
	build(&b, &s);
	assert_int_equal(pods_apply(p, K8S_EV_ADDED, &b.o, 0, NULL), 0);
	assert_int_equal(pods_check(p, lookup, report, &c), 2);
	assert_int_equal(pods_apply(p, K8S_EV_MODIFIED, &b.o, 0, NULL), 0);
	assert_int_equal(pods_check(p, lookup, report, &c), 0);
	s.uid = "u2";
	build(&b, &s);
	assert_int_equal(pods_apply(p, K8S_EV_MODIFIED, &b.o, 0, NULL), 0);
	assert_int_equal(pods_check(p, lookup, report, &c), 2);
	/* everything reported: no lookups at all */
	c.lookup_calls = 0;
	assert_int_equal(pods_check(p, lookup, report, &c), 0);
	assert_int_equal(c.lookup_calls, 0);
	pods_free(p);
	/* an empty set */
	assert_int_equal(pods_new(&opts, &p), 0);
	assert_int_equal(pods_check(p, lookup, report, &c), 0);
	pods_free(p);
}

/* ---- did you mean ---- */

static void test_distance(void **state)
{
	static const struct {
		const char *a, *b;
		unsigned want;
	} cases[] = {
		{ A, A, 0 },
		{ "operator/default/profile/audit.json", A, 1 },
		{ "operator/defualt/profiles/audit.json", A, 1 }, /* transposition */
		{ "operator/default/profiles/audit", A, 5 },
		{ "operator/default/audit.json", A, 9 }, /* "profiles/" inserted */
		{ "operator/default/profiles/audit.json/x", A, 2 },
		{ "operator//default/profiles/audit.json", A, 0 }, /* empty components */
		{ "operator/a/b/c", "operator/x/y/z", 3 },
		{ "", "operator", 9 },
		{ "operator", "", 9 },
		{ "", "", 0 },
		{ "ab", "ba", 1 },
		{ "abc", "ca", 3 }, /* OSA, not full Damerau */
		{ "kitten/x", "sitting/x", 3 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < N(cases); i++) {
		unsigned d1 = pods_path_distance(cases[i].a, cases[i].b);
		unsigned d2 = pods_path_distance(cases[i].b, cases[i].a);

		if (d1 != cases[i].want || d2 != cases[i].want)
			fail_msg("'%s' '%s': %u %u, want %u", cases[i].a, cases[i].b, d1, d2,
				 cases[i].want);
	}
}

static void test_suggest(void **state)
{
	static const struct {
		const char *wrong;
		const char *candidates[6];
		const char *want;
	} cases[] = {
		{ "operator/default/profile/audit.json", { B, A, C }, A },
		{ "operator/default/profiles/block.jsn", { A, B, C }, B },
		{ "operator/defualt/profiles/audit.json", { C, A }, A },
		{ "operator/default/profiles/audit", { A, B }, A },
		/* ties go to the first in sort order, whatever the order of the offers */
		{ "operator/default/profiles/x.json",
		  { "operator/default/profiles/b.json", "operator/default/profiles/a.json" },
		  "operator/default/profiles/a.json" },
		{ "operator/default/profiles/x.json",
		  { "operator/default/profiles/a.json", "operator/default/profiles/b.json" },
		  "operator/default/profiles/a.json" },
		/* nothing close: no suggestion */
		{ "operator/x/y/z", { A, B, C, "operator/a/b/c" }, NULL },
		{ "operator/team/other/thing.json", { A, B }, NULL },
		/* the path itself is not a suggestion */
		{ A, { A }, NULL },
		{ "operator/a/b/c", { "operator/a/b/d" }, "operator/a/b/d" },
		{ "operator/a", { "operator/b" }, "operator/b" },
		{ "operator/a", { "operator/bc" }, NULL },
		{ A, { NULL }, NULL },
	};
	char huge[PODS_PATH_MAX + 8];
	size_t i, j;

	(void)state;
	for (i = 0; i < N(cases); i++) {
		struct pods_suggest s;
		const char *best;

		pods_suggest_init(&s, cases[i].wrong);
		for (j = 0; j < N(cases[i].candidates) && cases[i].candidates[j]; j++)
			pods_suggest_offer(&s, cases[i].candidates[j]);
		best = pods_suggest_best(&s);
		if (cases[i].want ? !best || strcmp(best, cases[i].want) != 0 : best != NULL)
			fail_msg("'%s': '%s', want '%s'", cases[i].wrong, best ? best : "(none)",
				 cases[i].want ? cases[i].want : "(none)");
	}
	/* over-long input is bounded, never overflows */
	{
		struct pods_suggest s;

		memset(huge, 'a', sizeof(huge) - 1);
		huge[sizeof(huge) - 1] = '\0';
		memcpy(huge, "operator/", 9);
		pods_suggest_init(&s, huge);
		pods_suggest_offer(&s, huge);
		pods_suggest_offer(&s, A);
		assert_null(pods_suggest_best(&s));
		huge[500] = 'b';
		huge[PODS_PATH_MAX - 1] = '\0';
		pods_suggest_init(&s, A);
		pods_suggest_offer(&s, huge); /* far away */
		assert_null(pods_suggest_best(&s));
		/* many components */
		for (j = 0; j + 1 < PODS_PATH_MAX - 1; j += 2)
			huge[j] = 'x', huge[j + 1] = '/';
		assert_true(pods_path_distance(huge, huge) == 0);
		assert_true(pods_path_distance(huge, A) > 100);
	}
	assert_string_equal(pods_reason_name(PODS_N_REASONS), "unknown");
}

/* ---- a random script against a naive model ---- */

#define M_PODS	8
#define M_PATHS 6

struct model {
	bool present[M_PODS];
	bool paths[M_PODS][M_PATHS];
	bool retained[M_PATHS];
};

static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static bool model_used(const struct model *m, size_t path)
{
	size_t i;

	for (i = 0; i < M_PODS; i++)
		if (m->present[i] && m->paths[i][path])
			return true;
	return false;
}

static void test_random_model(void **state)
{
	struct pods_opts opts = { .node_name = NODE };
	struct model m = { 0 };
	struct pods *p = NULL;
	uint32_t seed = 12345;
	unsigned gen;
	int iter;

	(void)state;
	assert_int_equal(pods_new(&opts, &p), 0);
	gen = pods_next_gen(p);
	for (iter = 0; iter < 20000; iter++) {
		size_t pod = rnd(&seed) % M_PODS, k, n_ret = 0;
		uint32_t what = rnd(&seed) % 10, mask = rnd(&seed);
		char id[16], refs[M_PATHS * 40] = "", path[64];
		bool was_used[M_PATHS], released = false, want_released = false;
		struct pspec s;
		struct built b;
		int r = 0;

		for (k = 0; k < M_PATHS; k++)
			was_used[k] = model_used(&m, k);
		(void)snprintf(id, sizeof(id), "ns%zu/p%zu", pod % 3, pod);
		for (k = 0; k < M_PATHS; k++)
			if (mask & (1u << k)) {
				size_t len = strlen(refs);

				(void)snprintf(refs + len, sizeof(refs) - len,
					       "%c:operator/n/c/k%zu ", "pciePC"[(mask >> 8) % 6],
					       k);
			}
		memset(&s, 0, sizeof(s));
		s.id = id;
		s.refs = refs;
		if (what < 4) { /* ADDED/MODIFIED, running, pending or on another node */
			s.phase = what == 0 ? "Pending" : "Running";
			s.node = what == 3 ? "elsewhere" : NODE;
			s.deleting = (mask >> 12) & 1;
			build(&b, &s);
			r = pods_apply(p, what ? K8S_EV_MODIFIED : K8S_EV_ADDED, &b.o, gen, NULL);
			m.present[pod] = what != 3 && (mask & ((1u << M_PATHS) - 1));
			for (k = 0; k < M_PATHS; k++)
				m.paths[pod][k] = m.present[pod] && (mask & (1u << k));
		} else if (what < 6) { /* finished or deleted */
			s.phase = what == 4 ? "Succeeded" : "Running";
			build(&b, &s);
			r = pods_apply(p, what == 4 ? K8S_EV_MODIFIED : K8S_EV_DELETED, &b.o, gen,
				       NULL);
			m.present[pod] = false;
		} else if (what == 6) { /* retain or unretain */
			k = mask % M_PATHS;
			(void)snprintf(path, sizeof(path), "operator/n/c/k%zu", k);
			r = (mask >> 8) & 1 ? pods_retain(p, path) : pods_unretain(p, path);
			assert_int_equal(r, (mask >> 8) & 1 ? !m.retained[k] : m.retained[k]);
			m.retained[k] = (mask >> 8) & 1;
			r = 0;
		} else if (what == 7) { /* a relist that keeps the pods in @mask */
			gen = pods_next_gen(p);
			for (k = 0; k < M_PODS; k++) {
				size_t j;

				if (!m.present[k] || !(mask & (1u << k)))
					continue;
				(void)snprintf(id, sizeof(id), "ns%zu/p%zu", k % 3, k);
				refs[0] = '\0';
				for (j = 0; j < M_PATHS; j++)
					if (m.paths[k][j]) {
						size_t len = strlen(refs);

						(void)snprintf(refs + len, sizeof(refs) - len,
							       "c:operator/n/c/k%zu ", j);
					}
				build(&b, &s);
				assert_int_equal(pods_apply(p, K8S_EV_ADDED, &b.o, gen, NULL), 0);
			}
			for (k = 0; k < M_PODS; k++)
				if (!(mask & (1u << k)))
					m.present[k] = false;
			(void)pods_vanish(p, gen, &released);
			r = released ? PODS_RELEASED : 0;
		} else {
			continue;
		}
		for (k = 0; k < M_PATHS; k++) {
			(void)snprintf(path, sizeof(path), "operator/n/c/k%zu", k);
			assert_int_equal(pods_in_use(p, path), model_used(&m, k));
			assert_int_equal(pods_is_retained(p, path), m.retained[k]);
			if (m.retained[k] && was_used[k] && !model_used(&m, k) && what != 6)
				want_released = true;
			n_ret += m.retained[k];
		}
		assert_int_equal(r, want_released ? PODS_RELEASED : 0);
		assert_int_equal(pods_retained(p), n_ret);
		n_ret = 0;
		for (k = 0; k < M_PODS; k++)
			n_ret += m.present[k];
		assert_int_equal(pods_count(p), n_ret);
	}
	pods_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scripts),	  cmocka_unit_test(test_path_limit),
		cmocka_unit_test(test_bad_input), cmocka_unit_test(test_clean_path),
		cmocka_unit_test(test_users),	  cmocka_unit_test(test_check),
		cmocka_unit_test(test_check_uid), cmocka_unit_test(test_distance),
		cmocka_unit_test(test_suggest),	  cmocka_unit_test(test_random_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
