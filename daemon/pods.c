/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pods on this node and the profile paths they reference (see pods.h).
 * Two chained hash tables: pod records keyed by namespace and name, and path
 * entries keyed by the cleaned path.  A path entry counts the tracked pods
 * that reference it and whether the daemon retains its file; it lives while
 * either is non-zero, so a pod record points at interned path strings and
 * the "is this file in use" question is one hash lookup.
 */
#include "daemon/pods.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct path_ent {
	struct path_ent *next; /* hash chain */
	unsigned users;	       /* tracked pods that reference the path */
	bool retained;
	char path[];
};

struct pod {
	struct pods_pod pub;
	struct pod *next;	/* hash chain */
	unsigned gen;		/* the relist generation that last saw it */
	unsigned reported;	/* bit (1 << enum pods_reason): already reported */
	struct path_ent **ents; /* pub.n_paths, sorted by path */
	const char **paths;	/* pub.paths: the entries' strings */
	char *strings;		/* ns, name, uid, one allocation */
};

struct pods {
	char *node;
	size_t max_pods;
	unsigned gen;
	struct pod **pods;
	size_t n_pod_buckets; /* a power of two */
	size_t n_pods;
	struct path_ent **ents;
	size_t n_ent_buckets; /* a power of two */
	size_t n_ents;
	size_t n_retained;
};

#define INITIAL_BUCKETS 64

static const uint64_t FNV_OFFSET = 1469598103934665603ULL;
static const uint64_t FNV_PRIME = 1099511628211ULL;

static uint64_t fnv(uint64_t h, const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p; p++)
		h = (h ^ *p) * FNV_PRIME;
	return h;
}

static size_t hash_pod(const char *ns, const char *name)
{
	uint64_t h = fnv(FNV_OFFSET, ns);

	h = (h ^ 0) * FNV_PRIME;
	h = fnv(h, name);
	return (size_t)(h ^ (h >> 32));
}

static size_t hash_path(const char *path)
{
	uint64_t h = fnv(FNV_OFFSET, path);

	return (size_t)(h ^ (h >> 32));
}

const char *pods_reason_name(enum pods_reason r)
{
	switch (r) {
	case PODS_REASON_MISSING:
		return "missing";
	case PODS_REASON_INVALID:
		return "invalid";
	case PODS_REASON_LEGACY:
		return "legacy";
	case PODS_N_REASONS:
		break;
	}
	return "unknown";
}

int pods_new(const struct pods_opts *opts, struct pods **out)
{
	struct pods *p = NULL;
	const char *node = opts && opts->node_name ? opts->node_name : "";
	int r = -ENOMEM;

	if (strlen(node) > PODS_NAME_MAX)
		return -E2BIG;
	p = calloc(1, sizeof(*p));
	if (!p)
		goto out;
	p->node = strdup(node);
	p->n_pod_buckets = INITIAL_BUCKETS;
	p->pods = calloc(p->n_pod_buckets, sizeof(struct pod *));
	p->n_ent_buckets = INITIAL_BUCKETS;
	p->ents = calloc(p->n_ent_buckets, sizeof(struct path_ent *));
	if (!p->node || !p->pods || !p->ents)
		goto out;
	p->max_pods = opts && opts->max_pods ? opts->max_pods : PODS_DEFAULT_MAX_PODS;
	*out = p;
	p = NULL;
	r = 0;
out:
	pods_free(p);
	return r;
}

static void pod_free(struct pod *pod)
{
	if (!pod)
		return;
	free(pod->ents);
	free(pod->paths);
	free(pod->strings);
	free(pod);
}

void pods_free(struct pods *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; p->pods && i < p->n_pod_buckets; i++) {
		struct pod *pod = p->pods[i], *next;

		for (; pod; pod = next) {
			next = pod->next;
			pod_free(pod);
		}
	}
	for (i = 0; p->ents && i < p->n_ent_buckets; i++) {
		struct path_ent *e = p->ents[i], *next;

		for (; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(p->pods);
	free(p->ents);
	free(p->node);
	free(p);
}

size_t pods_count(const struct pods *p)
{
	return p->n_pods;
}

unsigned pods_next_gen(struct pods *p)
{
	return ++p->gen;
}

/* ---- paths ---- */

int pods_clean_path(const char *raw, char *out, size_t size)
{
	char tmp[PODS_PATH_MAX];
	size_t len = 0, plen = strlen(PODS_PREFIX);
	const char *s = raw;

	while (*s) {
		size_t n = strcspn(s, "/");

		if (n == 0 || (n == 1 && s[0] == '.')) {
			/* an empty or "." component */
		} else if (n == 2 && s[0] == '.' && s[1] == '.') {
			if (len == 0)
				return 0; /* climbs out of the seccomp directory */
			while (len > 0 && tmp[len - 1] != '/')
				len--;
			if (len > 0)
				len--; /* the slash before the dropped component */
		} else {
			if (len + (len > 0) + n >= sizeof(tmp))
				return -ENAMETOOLONG;
			if (len > 0)
				tmp[len++] = '/';
			memcpy(tmp + len, s, n);
			len += n;
		}
		s += n;
		if (*s == '/')
			s++;
	}
	tmp[len] = '\0';
	/* Below operator/: the prefix and at least one more component. */
	if (len <= plen || memcmp(tmp, PODS_PREFIX, plen) != 0)
		return 0;
	if (len >= size)
		return -ENAMETOOLONG;
	memcpy(out, tmp, len + 1);
	return 1;
}

static struct path_ent **ent_slot(const struct pods *p, const char *path)
{
	struct path_ent **e = &p->ents[hash_path(path) & (p->n_ent_buckets - 1)];

	for (; *e; e = &(*e)->next)
		if (!strcmp((*e)->path, path))
			break;
	return e;
}

static struct path_ent *ent_find(const struct pods *p, const char *path)
{
	return *ent_slot(p, path);
}

/* Double the buckets once there are more entries than buckets; failure just keeps chains longer. */
static void ent_grow(struct pods *p)
{
	size_t n = p->n_ent_buckets * 2, i;
	struct path_ent **b;

	if (p->n_ents < p->n_ent_buckets || n < p->n_ent_buckets)
		return;
	b = calloc(n, sizeof(struct path_ent *));
	if (!b)
		return;
	for (i = 0; i < p->n_ent_buckets; i++) {
		struct path_ent *e = p->ents[i], *next;

		for (; e; e = next) {
			size_t h = hash_path(e->path) & (n - 1);

			next = e->next;
			e->next = b[h];
			b[h] = e;
		}
	}
	free(p->ents);
	p->ents = b;
	p->n_ent_buckets = n;
}

/* The entry of @path (cleaned), created with no users if it is new. */
static struct path_ent *ent_get(struct pods *p, const char *path)
{
	struct path_ent **slot = ent_slot(p, path), *e = *slot;
	size_t len = strlen(path);

	if (e)
		return e;
	e = calloc(1, sizeof(*e) + len + 1);
	if (!e)
		return NULL;
	memcpy(e->path, path, len + 1);
	*slot = e;
	p->n_ents++;
	ent_grow(p);
	return e;
}

/* Forget @e if nothing holds it any more. */
static void ent_maybe_free(struct pods *p, struct path_ent *e)
{
	struct path_ent **slot;

	if (e->users || e->retained)
		return;
	slot = ent_slot(p, e->path);
	if (*slot != e)
		return;
	*slot = e->next;
	p->n_ents--;
	free(e);
}

/* One user fewer; true when a retained path lost its last user. */
static bool ent_put(struct pods *p, struct path_ent *e)
{
	bool released;

	e->users--;
	released = e->users == 0 && e->retained;
	ent_maybe_free(p, e);
	return released;
}

/* The entry of an uncleaned @path, or NULL (also for paths not below operator/). */
static struct path_ent *ent_lookup(const struct pods *p, const char *path)
{
	char clean[PODS_PATH_MAX];

	if (pods_clean_path(path, clean, sizeof(clean)) != 1)
		return NULL;
	return ent_find(p, clean);
}

bool pods_in_use(const struct pods *p, const char *path)
{
	const struct path_ent *e = ent_lookup(p, path);

	return e && e->users > 0;
}

bool pods_profile_in_use(const struct pods *p, const char *ns, const char *cm, const char *key)
{
	char path[PODS_PATH_MAX];
	size_t a = strlen(ns), b = strlen(cm), c = strlen(key);
	size_t plen = strlen(PODS_PREFIX);

	if (plen + a + b + c + 3 > sizeof(path))
		return false;
	memcpy(path, PODS_PREFIX, plen);
	memcpy(path + plen, ns, a);
	path[plen + a] = '/';
	memcpy(path + plen + a + 1, cm, b);
	path[plen + a + 1 + b] = '/';
	memcpy(path + plen + a + b + 2, key, c + 1);
	return pods_in_use(p, path);
}

int pods_retain(struct pods *p, const char *path)
{
	char clean[PODS_PATH_MAX];
	struct path_ent *e;
	int r;

	r = pods_clean_path(path, clean, sizeof(clean));
	if (r < 0)
		return r;
	if (r == 0)
		return -EINVAL;
	e = ent_get(p, clean);
	if (!e)
		return -ENOMEM;
	if (e->retained)
		return 0;
	e->retained = true;
	p->n_retained++;
	return 1;
}

int pods_unretain(struct pods *p, const char *path)
{
	struct path_ent *e = ent_lookup(p, path);

	if (!e || !e->retained)
		return 0;
	e->retained = false;
	p->n_retained--;
	ent_maybe_free(p, e);
	return 1;
}

bool pods_is_retained(const struct pods *p, const char *path)
{
	const struct path_ent *e = ent_lookup(p, path);

	return e && e->retained;
}

size_t pods_retained(const struct pods *p)
{
	return p->n_retained;
}

/* ---- pods ---- */

static struct pod **pod_slot(const struct pods *p, const char *ns, const char *name)
{
	struct pod **s = &p->pods[hash_pod(ns, name) & (p->n_pod_buckets - 1)];

	for (; *s; s = &(*s)->next)
		if (!strcmp((*s)->pub.ns, ns) && !strcmp((*s)->pub.name, name))
			break;
	return s;
}

static void pod_grow(struct pods *p)
{
	size_t n = p->n_pod_buckets * 2, i;
	struct pod **b;

	if (p->n_pods < p->n_pod_buckets || n < p->n_pod_buckets)
		return;
	b = calloc(n, sizeof(struct pod *));
	if (!b)
		return;
	for (i = 0; i < p->n_pod_buckets; i++) {
		struct pod *pod = p->pods[i], *next;

		for (; pod; pod = next) {
			size_t h = hash_pod(pod->pub.ns, pod->pub.name) & (n - 1);

			next = pod->next;
			pod->next = b[h];
			b[h] = pod;
		}
	}
	free(p->pods);
	p->pods = b;
	p->n_pod_buckets = n;
}

/* Unlink the record at @slot and free it; true when a retained path lost its last user. */
static bool pod_drop(struct pods *p, struct pod **slot)
{
	struct pod *pod = *slot;
	bool released = false;
	size_t i;

	*slot = pod->next;
	p->n_pods--;
	for (i = 0; i < pod->pub.n_paths; i++)
		released |= ent_put(p, pod->ents[i]);
	pod_free(pod);
	return released;
}

static bool is_field_ref(enum k8s_ref_source s)
{
	return s == K8S_REF_POD || s == K8S_REF_CONTAINER || s == K8S_REF_INIT_CONTAINER ||
	       s == K8S_REF_EPHEMERAL_CONTAINER;
}

/* Whether @o is a pod that runs, or may still run, on this node. */
static bool pod_counts(const struct pods *p, enum k8s_event_type type, const struct k8s_object *o)
{
	if (type == K8S_EV_DELETED)
		return false;
	if (!strcmp(o->phase, "Succeeded") || !strcmp(o->phase, "Failed"))
		return false;
	if (p->node[0] && strcmp(o->node_name, p->node) != 0)
		return false;
	return true;
}

static int cmp_ent(const void *a, const void *b)
{
	const struct path_ent *x = *(const struct path_ent *const *)a;
	const struct path_ent *y = *(const struct path_ent *const *)b;

	return strcmp(x->path, y->path);
}

/*
 * Intern @o's distinct paths below operator/ into @ents (PODS_MAX_PATHS
 * slots).  New entries have no users yet: on failure the caller gives them
 * back with ent_maybe_free().
 */
static int collect_paths(struct pods *p, const struct k8s_object *o, struct path_ent **ents,
			 size_t *n_out, bool *legacy_only, struct diag *d)
{
	char clean[PODS_PATH_MAX];
	bool field = false;
	size_t i, j, n = 0;

	for (i = 0; i < o->n_refs; i++) {
		const struct k8s_profile_ref *ref = &o->refs[i];
		struct path_ent *e;

		/* Too long for any file of ours: not a reference to one. */
		if (pods_clean_path(ref->path, clean, sizeof(clean)) != 1)
			continue;
		if (is_field_ref(ref->source))
			field = true;
		e = ent_get(p, clean);
		if (!e) {
			*n_out = n;
			return diag_set(d, -ENOMEM, "out of memory for pod '%s/%s'", o->ns,
					o->name);
		}
		for (j = 0; j < n && ents[j] != e; j++)
			;
		if (j < n)
			continue;
		if (n == PODS_MAX_PATHS) {
			ent_maybe_free(p, e);
			*n_out = n;
			return diag_set(d, -E2BIG,
					"pod '%s/%s' references more than %d seccomp profiles",
					o->ns, o->name, PODS_MAX_PATHS);
		}
		ents[n++] = e;
	}
	*n_out = n;
	*legacy_only = n > 0 && !field;
	return 0;
}

/* A new record for @o, holding @ents (n of them); the users are not counted yet. */
static struct pod *pod_build(const struct k8s_object *o, struct path_ent *const *ents, size_t n,
			     bool legacy_only)
{
	size_t a = strlen(o->ns) + 1, b = strlen(o->name) + 1, c = strlen(o->uid) + 1, i;
	struct pod *pod;

	pod = calloc(1, sizeof(*pod));
	if (!pod)
		return NULL;
	pod->strings = malloc(a + b + c);
	pod->ents = calloc(n, sizeof(struct path_ent *));
	pod->paths = calloc(n, sizeof(*pod->paths));
	if (!pod->strings || !pod->ents || !pod->paths) {
		pod_free(pod);
		return NULL;
	}
	memcpy(pod->strings, o->ns, a);
	memcpy(pod->strings + a, o->name, b);
	memcpy(pod->strings + a + b, o->uid, c);
	memcpy(pod->ents, ents, n * sizeof(struct path_ent *));
	qsort(pod->ents, n, sizeof(struct path_ent *), cmp_ent);
	for (i = 0; i < n; i++)
		pod->paths[i] = pod->ents[i]->path;
	pod->pub.ns = pod->strings;
	pod->pub.name = pod->strings + a;
	pod->pub.uid = pod->strings + a + b;
	pod->pub.deleting = o->deleting;
	pod->pub.legacy_only = legacy_only;
	pod->pub.paths = pod->paths;
	pod->pub.n_paths = n;
	return pod;
}

int pods_apply(struct pods *p, enum k8s_event_type type, const struct k8s_object *o, unsigned gen,
	       struct diag *d)
{
	struct path_ent *ents[PODS_MAX_PATHS];
	struct pod **slot, *old, *pod = NULL;
	bool legacy_only = false, released = false;
	size_t n = 0, i;
	int r;

	if (o->kind != K8S_KIND_POD)
		return diag_set(d, -EINVAL, "object '%s/%s' is not a pod", o->ns, o->name);
	if (type != K8S_EV_ADDED && type != K8S_EV_MODIFIED && type != K8S_EV_DELETED)
		return diag_set(d, -EINVAL, "pod event %d carries no pod", (int)type);
	slot = pod_slot(p, o->ns, o->name);
	old = *slot;
	if (!pod_counts(p, type, o)) {
		r = old && pod_drop(p, slot) ? PODS_RELEASED : 0;
		return r;
	}
	if (strlen(o->ns) > PODS_NS_MAX || strlen(o->name) > PODS_NAME_MAX ||
	    strlen(o->uid) > PODS_UID_MAX)
		return diag_set(d, -E2BIG, "pod '%.63s/%.253s' has an over-long name or uid", o->ns,
				o->name);
	r = collect_paths(p, o, ents, &n, &legacy_only, d);
	if (r < 0)
		goto out;
	if (n == 0) {
		/* Nothing of ours: not tracked. */
		r = old && pod_drop(p, slot) ? PODS_RELEASED : 0;
		goto out;
	}
	if (!old && p->n_pods >= p->max_pods) {
		r = diag_set(d, -ENOSPC, "more than %zu pods with seccomp profiles on this node",
			     p->max_pods);
		goto out;
	}
	pod = pod_build(o, ents, n, legacy_only);
	if (!pod) {
		r = diag_set(d, -ENOMEM, "out of memory for pod '%s/%s'", o->ns, o->name);
		goto out;
	}
	pod->gen = gen;
	for (i = 0; i < n; i++)
		pod->ents[i]->users++;
	if (old) {
		/* Same pod (same uid): what was reported stays reported. */
		if (!strcmp(old->pub.uid, o->uid))
			pod->reported = old->reported;
		pod->next = old->next;
		*slot = pod;
		for (i = 0; i < old->pub.n_paths; i++)
			released |= ent_put(p, old->ents[i]);
		pod_free(old);
	} else {
		pod->next = NULL;
		*slot = pod;
		p->n_pods++;
		pod_grow(p);
	}
	pod = NULL;
	r = released ? PODS_RELEASED : 0;
out:
	/* Entries interned for a pod that was not recorded. */
	for (i = 0; i < n; i++)
		ent_maybe_free(p, ents[i]);
	pod_free(pod);
	return r;
}

size_t pods_vanish(struct pods *p, unsigned gen, bool *released)
{
	size_t i, dropped = 0;

	for (i = 0; i < p->n_pod_buckets; i++) {
		struct pod **slot = &p->pods[i];

		while (*slot) {
			if ((*slot)->gen == gen) {
				slot = &(*slot)->next;
				continue;
			}
			if (pod_drop(p, slot) && released)
				*released = true;
			dropped++;
		}
	}
	return dropped;
}

/* ---- ordered walks ---- */

static int cmp_pod(const void *a, const void *b)
{
	const struct pod *x = *(const struct pod *const *)a;
	const struct pod *y = *(const struct pod *const *)b;
	int c = strcmp(x->pub.ns, y->pub.ns);

	return c ? c : strcmp(x->pub.name, y->pub.name);
}

/*
 * The pods for which @want is true (every pod when NULL), sorted by namespace
 * and name, in a new array.  NULL with *n == 0 when there are none; NULL with
 * *n != 0 when out of memory.
 */
static struct pod **pods_sorted(const struct pods *p, const struct path_ent *want, size_t *n)
{
	struct pod **v;
	size_t i, k = 0, j;

	*n = p->n_pods;
	if (!p->n_pods)
		return NULL;
	v = calloc(p->n_pods, sizeof(struct pod *));
	if (!v)
		return NULL;
	for (i = 0; i < p->n_pod_buckets; i++) {
		struct pod *pod;

		for (pod = p->pods[i]; pod; pod = pod->next) {
			if (want) {
				for (j = 0; j < pod->pub.n_paths && pod->ents[j] != want; j++)
					;
				if (j == pod->pub.n_paths)
					continue;
			}
			v[k++] = pod;
		}
	}
	qsort(v, k, sizeof(struct pod *), cmp_pod);
	*n = k;
	return v;
}

size_t pods_users(const struct pods *p, const char *path, pods_pod_fn fn, void *ctx)
{
	const struct path_ent *e = ent_lookup(p, path);
	struct pod **v;
	size_t n, i, calls = 0;

	if (!e || !e->users)
		return 0;
	v = pods_sorted(p, e, &n);
	if (!v) {
		/* Out of memory: the same pods, in hash order. */
		for (i = 0; i < p->n_pod_buckets; i++) {
			const struct pod *pod;

			for (pod = p->pods[i]; pod; pod = pod->next) {
				size_t j;

				for (j = 0; j < pod->pub.n_paths && pod->ents[j] != e; j++)
					;
				if (j == pod->pub.n_paths)
					continue;
				calls++;
				if (fn(ctx, &pod->pub))
					return calls;
			}
		}
		return calls;
	}
	for (i = 0; i < n; i++) {
		calls++;
		if (fn(ctx, &v[i]->pub))
			break;
	}
	free(v);
	return calls;
}

/* Offer one finding unless it was reported; 1 when it was reported now. */
static int offer(struct pod *pod, enum pods_reason reason, const char *const *paths, size_t n,
		 pods_report_fn report, void *ctx)
{
	struct pods_finding f = {
		.pod = &pod->pub, .reason = reason, .paths = paths, .n_paths = n
	};
	int r;

	r = report(ctx, &f);
	if (r < 0)
		return r;
	if (r > 0) {
		pod->reported |= 1u << reason;
		return 1;
	}
	return 0;
}

static int check_pod(struct pod *pod, pods_lookup_fn lookup, pods_report_fn report, void *ctx)
{
	const char *missing[PODS_MAX_PATHS], *invalid[PODS_MAX_PATHS];
	unsigned need = ~pod->reported & ((1u << PODS_N_REASONS) - 1);
	size_t n_missing = 0, n_invalid = 0, i;
	int r, count = 0;

	if (pod->pub.deleting || !need)
		return 0;
	if (need & ((1u << PODS_REASON_MISSING) | (1u << PODS_REASON_INVALID))) {
		for (i = 0; i < pod->pub.n_paths; i++) {
			switch (lookup(ctx, pod->paths[i])) {
			case PODS_PATH_MISSING:
				missing[n_missing++] = pod->paths[i];
				break;
			case PODS_PATH_INVALID:
				invalid[n_invalid++] = pod->paths[i];
				break;
			case PODS_PATH_OK:
			case PODS_PATH_UNKNOWN:
				break;
			}
		}
	}
	if (n_missing && (need & (1u << PODS_REASON_MISSING))) {
		r = offer(pod, PODS_REASON_MISSING, missing, n_missing, report, ctx);
		if (r < 0)
			return r;
		count += r;
	}
	if (n_invalid && (need & (1u << PODS_REASON_INVALID))) {
		r = offer(pod, PODS_REASON_INVALID, invalid, n_invalid, report, ctx);
		if (r < 0)
			return r;
		count += r;
	}
	if (pod->pub.legacy_only && (need & (1u << PODS_REASON_LEGACY))) {
		r = offer(pod, PODS_REASON_LEGACY, NULL, 0, report, ctx);
		if (r < 0)
			return r;
		count += r;
	}
	return count;
}

int pods_check(struct pods *p, pods_lookup_fn lookup, pods_report_fn report, void *ctx)
{
	struct pod **v;
	size_t n, i;
	int r = 0, total = 0;

	v = pods_sorted(p, NULL, &n);
	if (!v)
		return n ? -ENOMEM : 0;
	for (i = 0; i < n; i++) {
		r = check_pod(v[i], lookup, report, ctx);
		if (r < 0)
			goto out;
		total += r;
	}
	r = total;
out:
	free(v);
	return r;
}

/* ---- "did you mean" ---- */

struct comp {
	const char *s;
	size_t n;
};

#define MAX_COMPS (PODS_PATH_MAX / 2 + 1)

/* Split @path (at most PODS_PATH_MAX - 1 bytes are looked at) into non-empty components. */
static size_t split(const char *path, struct comp *c)
{
	size_t len = strnlen(path, PODS_PATH_MAX - 1), i = 0, k = 0;

	while (i < len && k < MAX_COMPS) {
		size_t start = i;

		while (i < len && path[i] != '/')
			i++;
		if (i > start) {
			c[k].s = path + start;
			c[k].n = i - start;
			k++;
		}
		i++;
	}
	return k;
}

static unsigned min3(unsigned a, unsigned b, unsigned c)
{
	unsigned m = a < b ? a : b;

	return m < c ? m : c;
}

/* Optimal string alignment distance between two components (each < PODS_PATH_MAX bytes). */
static unsigned osa(const struct comp *a, const struct comp *b)
{
	unsigned rows[3][PODS_PATH_MAX];
	unsigned *pp = rows[0], *prev = rows[1], *cur = rows[2], *t;
	size_t i, j;

	for (j = 0; j <= b->n; j++)
		prev[j] = (unsigned)j;
	for (i = 1; i <= a->n; i++) {
		cur[0] = (unsigned)i;
		for (j = 1; j <= b->n; j++) {
			unsigned cost = a->s[i - 1] != b->s[j - 1];

			cur[j] = min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
			if (i > 1 && j > 1 && a->s[i - 1] == b->s[j - 2] &&
			    a->s[i - 2] == b->s[j - 1] && pp[j - 2] + 1 < cur[j])
				cur[j] = pp[j - 2] + 1;
		}
		t = pp;
		pp = prev;
		prev = cur;
		cur = t;
	}
	return prev[b->n];
}

unsigned pods_path_distance(const char *a, const char *b)
{
	struct comp ca[MAX_COMPS], cb[MAX_COMPS];
	unsigned prev[MAX_COMPS + 1], cur[MAX_COMPS + 1];
	size_t na = split(a, ca), nb = split(b, cb), i, j;

	prev[0] = 0;
	for (j = 1; j <= nb; j++)
		prev[j] = prev[j - 1] + (unsigned)cb[j - 1].n + 1;
	for (i = 1; i <= na; i++) {
		cur[0] = prev[0] + (unsigned)ca[i - 1].n + 1;
		for (j = 1; j <= nb; j++)
			cur[j] = min3(prev[j] + (unsigned)ca[i - 1].n + 1,
				      cur[j - 1] + (unsigned)cb[j - 1].n + 1,
				      prev[j - 1] + osa(&ca[i - 1], &cb[j - 1]));
		memcpy(prev, cur, (nb + 1) * sizeof(*prev));
	}
	return prev[nb];
}

void pods_suggest_init(struct pods_suggest *s, const char *wrong)
{
	size_t len = strnlen(wrong, sizeof(s->wrong) - 1), plen = strlen(PODS_PREFIX);
	size_t tail = len;

	memset(s, 0, sizeof(*s));
	memcpy(s->wrong, wrong, len);
	s->wrong[len] = '\0';
	if (len > plen && !memcmp(wrong, PODS_PREFIX, plen))
		tail = len - plen;
	s->limit = tail / 3 ? (unsigned)(tail / 3) : 1;
}

void pods_suggest_offer(struct pods_suggest *s, const char *candidate)
{
	size_t len = strnlen(candidate, sizeof(s->best));
	unsigned dist;

	if (len >= sizeof(s->best))
		return;
	dist = pods_path_distance(s->wrong, candidate);
	if (dist == 0 || dist > s->limit)
		return;
	if (s->found &&
	    (dist > s->best_dist || (dist == s->best_dist && strcmp(candidate, s->best) >= 0)))
		return;
	s->found = true;
	s->best_dist = dist;
	memcpy(s->best, candidate, len + 1);
}

const char *pods_suggest_best(const struct pods_suggest *s)
{
	return s->found ? s->best : NULL;
}
