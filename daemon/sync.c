/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sync table and the reconcile plan (see sync.h).  A chained hash table of
 * ConfigMap records keyed by namespace and name; each record holds its keys'
 * digests and states.  Nothing here touches a file, the network or a clock.
 */
#include "daemon/sync.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct sync_table {
	struct sync_cm **buckets;
	size_t n_buckets; /* a power of two */
	size_t size;
	unsigned gen;
	uint64_t count[SYNC_N_STATES];
};

/* Why a record's files are pending removal: an index into whys[]. */
enum why {
	WHY_VANISHED = 0, /* also what a plan without a reason records */
	WHY_ORPHAN,
	WHY_KEY,
	WHY_DELETED,
	WHY_UNANNOTATED,
};

static const char *const whys[] = {
	[WHY_VANISHED] = "configmap no longer listed",
	[WHY_ORPHAN] = "no configmap for this file",
	[WHY_KEY] = "key removed from the configmap",
	[WHY_DELETED] = "configmap deleted",
	[WHY_UNANNOTATED] = "annotation removed or not \"true\"",
};

/* A record: the public part, then its namespace and name (which never change). */
struct sync_rec {
	struct sync_cm pub;
	char names[];
};

const char *sync_state_name(enum sync_state s)
{
	switch (s) {
	case SYNC_VALID:
		return "valid";
	case SYNC_INVALID:
		return "invalid";
	case SYNC_STALE:
		return "stale";
	case SYNC_N_STATES:
		break;
	}
	return "unknown";
}

/* FNV-1a over namespace, a NUL, and name. */
static size_t hash_name(const char *ns, const char *name)
{
	uint64_t h = 1469598103934665603ULL;
	const unsigned char *p;

	for (p = (const unsigned char *)ns; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	h = (h ^ 0) * 1099511628211ULL;
	for (p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return (size_t)(h ^ (h >> 32));
}

int sync_table_new(struct sync_table **out)
{
	struct sync_table *t;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->n_buckets = 64;
	t->buckets = calloc(t->n_buckets, sizeof(struct sync_cm *));
	if (!t->buckets) {
		free(t);
		return -ENOMEM;
	}
	*out = t;
	return 0;
}

static void key_release(struct sync_key *k)
{
	free(k->name);
	free(k->file_digest);
	k->name = NULL;
	k->file_digest = NULL;
}

/* The file holds exactly the content last seen (@k->digest). */
static void key_file_is_digest(struct sync_key *k)
{
	free(k->file_digest);
	k->file_digest = NULL;
	k->file_is_digest = true;
}

/*
 * The file holds @digest, which is not @k->digest.  Out of memory, the file's
 * digest is forgotten: the key is then never trusted, only checked again.
 */
static void key_file_other(struct sync_key *k, const uint8_t digest[SHA256_LEN])
{
	k->file_is_digest = false;
	if (!k->file_digest)
		k->file_digest = malloc(SHA256_LEN);
	if (k->file_digest)
		memcpy(k->file_digest, digest, SHA256_LEN);
}

/* Whether the file of @k holds content of @digest. */
static bool key_file_holds(const struct sync_key *k, const uint8_t digest[SHA256_LEN])
{
	if (!k->has_file)
		return false;
	if (k->file_is_digest)
		return !memcmp(k->digest, digest, SHA256_LEN);
	return k->file_digest && !memcmp(k->file_digest, digest, SHA256_LEN);
}

static void cm_free(struct sync_cm *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->n_keys; i++)
		key_release(&c->keys[i]);
	free(c->keys);
	free(c->ids);
	free(c);
}

void sync_table_free(struct sync_table *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->n_buckets; i++) {
		struct sync_cm *c = t->buckets[i], *next;

		for (; c; c = next) {
			next = c->next;
			cm_free(c);
		}
	}
	free(t->buckets);
	free(t);
}

static struct sync_cm **slot_of(const struct sync_table *t, const char *ns, const char *name)
{
	struct sync_cm **p = &t->buckets[hash_name(ns, name) & (t->n_buckets - 1)];

	for (; *p; p = &(*p)->next)
		if (!strcmp((*p)->ns, ns) && !strcmp((*p)->name, name))
			break;
	return p;
}

const struct sync_cm *sync_table_find(const struct sync_table *t, const char *ns, const char *name)
{
	return *slot_of(t, ns, name);
}

size_t sync_table_size(const struct sync_table *t)
{
	return t->size;
}

uint64_t sync_table_count(const struct sync_table *t, enum sync_state state)
{
	return state < SYNC_N_STATES ? t->count[state] : 0;
}

unsigned sync_table_next_gen(struct sync_table *t)
{
	if (++t->gen == 0)
		t->gen = 1;
	return t->gen;
}

/* Keys count towards profiles{state} while their ConfigMap is selected and has them. */
static void contrib(struct sync_table *t, const struct sync_cm *c, int sign)
{
	size_t i;

	if (!c->selected)
		return;
	for (i = 0; i < c->n_keys; i++) {
		const struct sync_key *k = &c->keys[i];

		if (!k->desired)
			continue;
		if (sign > 0)
			t->count[k->state]++;
		else if (t->count[k->state] > 0)
			t->count[k->state]--;
	}
}

static int grow(struct sync_table *t)
{
	struct sync_cm **nb;
	size_t n = t->n_buckets * 2, i;

	nb = calloc(n, sizeof(struct sync_cm *));
	if (!nb)
		return -ENOMEM;
	for (i = 0; i < t->n_buckets; i++) {
		struct sync_cm *c = t->buckets[i], *next;

		for (; c; c = next) {
			size_t h = hash_name(c->ns, c->name) & (n - 1);

			next = c->next;
			c->next = nb[h];
			nb[h] = c;
		}
	}
	free(t->buckets);
	t->buckets = nb;
	t->n_buckets = n;
	return 0;
}

/* The record of @ns/@name, created (not selected, no keys) when absent. */
static int cm_get(struct sync_table *t, const char *ns, const char *name, struct sync_cm **out)
{
	struct sync_rec *p = NULL;
	struct sync_cm **slot;
	size_t nl, ml;
	int r;

	slot = slot_of(t, ns, name);
	if (*slot) {
		*out = *slot;
		return 0;
	}
	if (t->size >= t->n_buckets) {
		r = grow(t);
		if (r < 0)
			return r;
		slot = slot_of(t, ns, name);
	}
	nl = strlen(ns) + 1;
	ml = strlen(name) + 1;
	p = calloc(1, sizeof(*p) + nl + ml);
	if (!p)
		return -ENOMEM;
	p->pub.ns = memcpy(p->names, ns, nl);
	p->pub.name = memcpy(p->names + nl, name, ml);
	p->pub.why = WHY_ORPHAN;
	*slot = &p->pub;
	t->size++;
	*out = &p->pub;
	return 0;
}

static void cm_unlink(struct sync_table *t, struct sync_cm *c)
{
	struct sync_cm **slot = slot_of(t, c->ns, c->name);

	if (*slot == c) {
		*slot = c->next;
		t->size--;
	}
	cm_free(c);
}

static struct sync_key *key_find(const struct sync_cm *c, const char *name)
{
	size_t i;

	if (!c)
		return NULL;
	for (i = 0; i < c->n_keys; i++)
		if (!strcmp(c->keys[i].name, name))
			return &c->keys[i];
	return NULL;
}

/* Append a key (state invalid, nothing known); the keys array may move. */
static int key_add(struct sync_cm *c, const char *name, struct sync_key **out)
{
	struct sync_key *keys;
	char *dup;

	if (c->n_keys >= SYNC_MAX_KEYS)
		return -E2BIG;
	dup = strdup(name);
	if (!dup)
		return -ENOMEM;
	keys = realloc(c->keys, (c->n_keys + 1) * sizeof(*keys));
	if (!keys) {
		free(dup);
		return -ENOMEM;
	}
	c->keys = keys;
	memset(&keys[c->n_keys], 0, sizeof(keys[0]));
	keys[c->n_keys].name = dup;
	keys[c->n_keys].state = SYNC_INVALID;
	*out = &keys[c->n_keys];
	c->n_keys++;
	return 0;
}

static void key_drop(struct sync_cm *c, size_t i)
{
	key_release(&c->keys[i]);
	c->n_keys--;
	if (i != c->n_keys) {
		c->keys[i] = c->keys[c->n_keys];
	}
}

/* A key's state follows from what is known about its content and its file. */
static void key_settle(struct sync_key *k)
{
	if (k->state == SYNC_STALE && !k->has_file)
		k->state = SYNC_INVALID;
	else if (k->state == SYNC_INVALID && k->has_file && !k->refused)
		k->state = SYNC_STALE;
}

static bool in_scope(const struct sync_cm *c, const char *ns)
{
	return !ns || !strcmp(c->ns, ns);
}

void sync_table_disk_begin(struct sync_table *t, const char *ns)
{
	size_t b, i;

	for (b = 0; b < t->n_buckets; b++) {
		struct sync_cm *c;

		for (c = t->buckets[b]; c; c = c->next)
			if (in_scope(c, ns))
				for (i = 0; i < c->n_keys; i++)
					c->keys[i].mark = false;
	}
}

int sync_table_disk_entry(struct sync_table *t, const char *ns, const struct store_entry *e)
{
	struct sync_cm *c;
	struct sync_key *k;
	int r;

	if (e->type != STORE_ENTRY_FILE || !e->key[0] || !e->cm[0])
		return 0;
	if (ns && strcmp(e->ns, ns) != 0)
		return 0;
	r = cm_get(t, e->ns, e->cm, &c);
	if (r < 0)
		return r;
	if (!c->uid && !c->selected && c->gen != t->gen)
		c->limbo = true;
	contrib(t, c, -1);
	k = key_find(c, e->key);
	if (!k) {
		r = key_add(c, e->key, &k);
		if (r < 0) {
			contrib(t, c, +1);
			return r == -E2BIG ? 0 : r;
		}
	}
	k->has_file = true;
	if (!k->known)
		memcpy(k->digest, e->digest, SHA256_LEN); /* see struct sync_key */
	if (!memcmp(k->digest, e->digest, SHA256_LEN))
		key_file_is_digest(k);
	else
		key_file_other(k, e->digest);
	k->mark = true;
	key_settle(k);
	contrib(t, c, +1);
	return 0;
}

void sync_table_disk_end(struct sync_table *t, const char *ns)
{
	size_t b, i;

	for (b = 0; b < t->n_buckets; b++) {
		struct sync_cm **p = &t->buckets[b];

		while (*p) {
			struct sync_cm *c = *p;

			if (!in_scope(c, ns)) {
				p = &c->next;
				continue;
			}
			contrib(t, c, -1);
			for (i = c->n_keys; i-- > 0;) {
				struct sync_key *k = &c->keys[i];

				if (!k->mark)
					k->has_file = false;
				key_settle(k);
				if (!k->has_file && (!k->desired || !c->selected))
					key_drop(c, i);
			}
			contrib(t, c, +1);
			if (!c->n_keys && !c->selected) {
				*p = c->next;
				t->size--;
				cm_free(c);
				continue;
			}
			p = &c->next;
		}
	}
}

int sync_table_refresh_disk(struct sync_table *t, const char *ns, const struct store_entry *entries,
			    size_t n)
{
	size_t i;
	int r;

	sync_table_disk_begin(t, ns);
	for (i = 0; i < n; i++) {
		r = sync_table_disk_entry(t, ns, &entries[i]);
		if (r < 0)
			return r;
	}
	sync_table_disk_end(t, ns);
	return 0;
}

void sync_table_files(const struct sync_table *t, sync_file_fn fn, void *ctx)
{
	size_t b, i;

	for (b = 0; b < t->n_buckets; b++) {
		const struct sync_cm *c;

		for (c = t->buckets[b]; c; c = c->next)
			for (i = 0; i < c->n_keys; i++)
				if (c->keys[i].has_file)
					fn(ctx, c->ns, c->name, c->keys[i].name);
	}
}

size_t sync_table_vanish(struct sync_table *t, const char *ns, unsigned gen)
{
	size_t b, n = 0;

	for (b = 0; b < t->n_buckets; b++) {
		struct sync_cm *c;

		for (c = t->buckets[b]; c; c = c->next) {
			if (!in_scope(c, ns) || c->gen == gen)
				continue;
			if (!c->selected && !c->limbo)
				continue;
			contrib(t, c, -1);
			if (c->selected)
				c->why = WHY_VANISHED;
			c->selected = false;
			c->limbo = false;
			n++;
		}
	}
	return n;
}

bool sync_selected(const struct k8s_object *o, const char *annotation)
{
	size_t i;

	for (i = 0; i < o->n_annotations; i++)
		if (!strcmp(o->annotations[i].key, annotation))
			return o->annotations[i].value && !strcmp(o->annotations[i].value, "true");
	return false;
}

static int step_add(struct sync_plan *plan, size_t *cap, struct sync_step **out)
{
	if (plan->n_steps == *cap) {
		size_t n = *cap ? *cap * 2 : 8;
		struct sync_step *s = realloc(plan->steps, n * sizeof(*s));

		if (!s)
			return -ENOMEM;
		plan->steps = s;
		*cap = n;
	}
	*out = &plan->steps[plan->n_steps++];
	memset(*out, 0, sizeof(**out));
	return 0;
}

static bool plan_has_key(const struct sync_plan *plan, const char *key)
{
	size_t i;

	for (i = 0; i < plan->n_steps; i++)
		if (plan->steps[i].op != SYNC_OP_REMOVE && !strcmp(plan->steps[i].key, key))
			return true;
	return false;
}

/* The decision for one key of a selected ConfigMap (see sync.h for the cases). */
static void decide(const struct sync_cm *rec, const struct sync_key *rk, bool uid_changed,
		   const struct sync_opts *opts, struct sync_step *st)
{
	bool file_is_it;

	st->had_file = rk && rk->has_file;
	file_is_it = rk && key_file_holds(rk, st->digest);
	(void)rec;
	if (!rk) {
		st->op = SYNC_OP_CHECK;
	} else if (uid_changed) {
		st->op = file_is_it && opts->trust_disk ? SYNC_OP_TRUST : SYNC_OP_CHECK;
		st->remove_if_invalid = st->had_file;
	} else if (rk->failed || !rk->desired) {
		st->op = file_is_it && opts->trust_disk ? SYNC_OP_TRUST : SYNC_OP_CHECK;
	} else if (rk->known && !memcmp(rk->digest, st->digest, SHA256_LEN)) {
		if (rk->state == SYNC_VALID)
			st->op = file_is_it ? SYNC_OP_NONE : SYNC_OP_CHECK;
		else
			st->op = SYNC_OP_NONE;
	} else {
		st->op = file_is_it && opts->trust_disk ? SYNC_OP_TRUST : SYNC_OP_CHECK;
	}
}

static int plan_key(const struct sync_cm *rec, const struct k8s_object *o, const struct k8s_pair *p,
		    bool binary, bool uid_changed, const struct sync_opts *opts,
		    struct sync_plan *plan, size_t *cap)
{
	struct sync_step *st;
	bool dup;
	int r;

	dup = plan_has_key(plan, p->key);
	r = step_add(plan, cap, &st);
	if (r < 0)
		return r;
	st->key = p->key;
	st->data = p->value;
	st->len = p->value_len;
	st->binary = binary;
	sha256(p->value, p->value_len, st->digest);
	if (dup || store_check_name(o->ns, o->name, p->key, NULL) < 0) {
		const struct sync_key *rk = dup ? NULL : key_find(rec, p->key);

		st->op = rk && rk->refused && rk->known && !uid_changed &&
					 !memcmp(rk->digest, st->digest, SHA256_LEN)
				 ? SYNC_OP_NONE
				 : SYNC_OP_REFUSE;
		if (dup)
			st->op = SYNC_OP_REFUSE;
		return 0;
	}
	decide(rec, key_find(rec, p->key), uid_changed, opts, st);
	return 0;
}

int sync_plan_object(const struct sync_table *t, const struct k8s_object *o, bool deleted,
		     const struct sync_opts *opts, struct sync_plan *plan, struct diag *d)
{
	const struct sync_cm *rec;
	size_t cap = 0, i;
	int r;

	memset(plan, 0, sizeof(*plan));
	rec = sync_table_find(t, o->ns, o->name);
	if (deleted || !sync_selected(o, opts->annotation)) {
		if (!rec)
			return 0;
		plan->kind = SYNC_PLAN_REMOVE;
		plan->why = deleted ? WHY_DELETED : WHY_UNANNOTATED;
		plan->reason = whys[plan->why];
		for (i = 0; i < rec->n_keys; i++) {
			struct sync_step *st;

			if (!rec->keys[i].has_file)
				continue;
			r = step_add(plan, &cap, &st);
			if (r < 0)
				goto fail;
			st->op = SYNC_OP_REMOVE;
			st->key = rec->keys[i].name;
			st->had_file = true;
		}
		return 0;
	}
	if (store_check_name(o->ns, o->name, NULL, &plan->refusal) < 0) {
		plan->kind = SYNC_PLAN_REFUSED;
		return 0;
	}
	if (o->n_data + o->n_binary_data > SYNC_MAX_KEYS) {
		plan->kind = SYNC_PLAN_REFUSED;
		diag_set(&plan->refusal, -E2BIG, "configmap '%s/%s' has %zu keys, more than %d",
			 o->ns, o->name, o->n_data + o->n_binary_data, SYNC_MAX_KEYS);
		return 0;
	}
	plan->kind = SYNC_PLAN_SYNC;
	plan->uid_changed = rec && rec->uid && o->uid && strcmp(rec->uid, o->uid) != 0;
	for (i = 0; i < o->n_data; i++) {
		r = plan_key(rec, o, &o->data[i], false, plan->uid_changed, opts, plan, &cap);
		if (r < 0)
			goto fail;
	}
	for (i = 0; i < o->n_binary_data; i++) {
		r = plan_key(rec, o, &o->binary_data[i], true, plan->uid_changed, opts, plan, &cap);
		if (r < 0)
			goto fail;
	}
	for (i = 0; rec && i < rec->n_keys; i++) {
		struct sync_step *st;

		if (!rec->keys[i].has_file || plan_has_key(plan, rec->keys[i].name))
			continue;
		r = step_add(plan, &cap, &st);
		if (r < 0)
			goto fail;
		st->op = SYNC_OP_REMOVE;
		st->key = rec->keys[i].name;
		st->had_file = true;
	}
	return 0;
fail:
	sync_plan_release(plan);
	return diag_set(d, r, "cannot plan configmap '%s/%s': %s", o->ns, o->name, strerror(-r));
}

void sync_plan_release(struct sync_plan *plan)
{
	free(plan->steps);
	plan->steps = NULL;
	plan->n_steps = 0;
}

/* Record @uid and @rv (either may be NULL) in one allocation: they change together. */
static int set_ids(struct sync_cm *c, const char *uid, const char *rv)
{
	size_t ul, rl;
	char *block = NULL;

	if ((uid ? c->uid && !strcmp(c->uid, uid) : !c->uid) &&
	    (rv ? c->rv && !strcmp(c->rv, rv) : !c->rv))
		return 0;
	ul = uid ? strlen(uid) : 0;
	rl = rv ? strlen(rv) : 0;
	if (ul > SYNC_UID_MAX || rl > SYNC_RV_MAX)
		return -E2BIG;
	if (uid || rv) {
		block = malloc(ul + rl + 2);
		if (!block)
			return -ENOMEM;
		memcpy(block, uid ? uid : "", ul + 1);
		memcpy(block + ul + 1, rv ? rv : "", rl + 1);
	}
	free(c->ids);
	c->ids = block;
	c->uid = uid ? block : NULL;
	c->rv = rv ? block + ul + 1 : NULL;
	return 0;
}

/* @k's content is now @digest; the file keeps what it held. */
static void key_see(struct sync_key *k, const uint8_t digest[SHA256_LEN])
{
	if (memcmp(k->digest, digest, SHA256_LEN) != 0) {
		if (k->has_file && k->file_is_digest)
			key_file_other(k, k->digest);
		memcpy(k->digest, digest, SHA256_LEN);
		if (k->has_file && k->file_digest && !memcmp(k->file_digest, digest, SHA256_LEN))
			key_file_is_digest(k);
	}
	k->known = true;
}

/* Record one step's outcome in key @k (of a selected ConfigMap). */
static void apply_step(struct sync_key *k, const struct sync_step *st)
{
	switch (st->outcome) {
	case SYNC_OUT_WRITTEN:
	case SYNC_OUT_UNCHANGED:
	case SYNC_OUT_TRUSTED:
		k->state = SYNC_VALID;
		k->has_file = true;
		memcpy(k->digest, st->digest, SHA256_LEN);
		key_file_is_digest(k);
		k->known = true;
		k->failed = false;
		break;
	case SYNC_OUT_INVALID_REMOVED:
	case SYNC_OUT_INVALID:
		if (st->outcome == SYNC_OUT_INVALID_REMOVED)
			k->has_file = false;
		key_see(k, st->digest);
		k->failed = false;
		k->state = k->has_file ? SYNC_STALE : SYNC_INVALID;
		break;
	case SYNC_OUT_FAILED:
	case SYNC_OUT_PENDING:
		key_see(k, st->digest);
		k->failed = true;
		k->state = k->has_file ? SYNC_STALE : SYNC_INVALID;
		break;
	case SYNC_OUT_REFUSED:
		key_see(k, st->digest);
		k->refused = true;
		k->state = k->has_file ? SYNC_STALE : SYNC_INVALID;
		break;
	case SYNC_OUT_REMOVED:
	case SYNC_OUT_DEFERRED:
		break;
	}
}

static int apply_remove(struct sync_table *t, struct sync_cm *c, const struct sync_plan *plan)
{
	size_t i, j;

	contrib(t, c, -1);
	c->selected = false;
	c->limbo = false;
	c->why = plan->why;
	for (i = 0; i < c->n_keys; i++)
		c->keys[i].desired = false;
	for (j = 0; j < plan->n_steps; j++) {
		const struct sync_step *st = &plan->steps[j];
		struct sync_key *k;

		if (st->op != SYNC_OP_REMOVE || st->outcome != SYNC_OUT_REMOVED)
			continue;
		k = key_find(c, st->key);
		if (k)
			k->has_file = false;
	}
	for (i = c->n_keys; i-- > 0;)
		if (!c->keys[i].has_file)
			key_drop(c, i);
	if (!c->n_keys)
		cm_unlink(t, c);
	return 0;
}

int sync_apply(struct sync_table *t, const struct k8s_object *o, const struct sync_plan *plan,
	       unsigned gen, struct diag *d)
{
	struct sync_cm *c;
	size_t i, j;
	int r;

	if (plan->kind == SYNC_PLAN_IGNORE || plan->kind == SYNC_PLAN_REFUSED)
		return 0;
	if ((o->uid && strlen(o->uid) > SYNC_UID_MAX) ||
	    (o->resource_version && strlen(o->resource_version) > SYNC_RV_MAX))
		return diag_set(d, -E2BIG, "configmap '%s/%s': uid or resourceVersion too long",
				o->ns, o->name);
	if (plan->kind == SYNC_PLAN_REMOVE) {
		c = *slot_of(t, o->ns, o->name);
		if (!c)
			return 0;
		r = set_ids(c, o->uid, o->resource_version);
		if (r < 0)
			return diag_set(d, r, "cannot record configmap '%s/%s'", o->ns, o->name);
		return apply_remove(t, c, plan);
	}

	r = cm_get(t, o->ns, o->name, &c);
	if (r < 0)
		return diag_set(d, r, "cannot record configmap '%s/%s'", o->ns, o->name);
	contrib(t, c, -1);
	r = set_ids(c, o->uid, o->resource_version);
	if (r < 0) {
		contrib(t, c, +1);
		return diag_set(d, r, "cannot record configmap '%s/%s'", o->ns, o->name);
	}
	c->selected = true;
	c->gen = gen;
	c->limbo = false;
	c->why = WHY_KEY;
	for (i = 0; i < c->n_keys; i++) {
		c->keys[i].mark = false;
		if (plan->uid_changed) {
			c->keys[i].known = false;
			c->keys[i].refused = false;
		}
	}
	r = 0;
	for (j = 0; j < plan->n_steps; j++) {
		const struct sync_step *st = &plan->steps[j];
		struct sync_key *k = key_find(c, st->key);

		if (st->op == SYNC_OP_REMOVE) {
			if (k) {
				k->mark = true;
				k->desired = false;
				if (st->outcome == SYNC_OUT_REMOVED)
					k->has_file = false;
			}
			continue;
		}
		if (st->op == SYNC_OP_REFUSE && k && k->mark)
			continue; /* a duplicate of a key this plan already handled */
		if (!k) {
			int e = key_add(c, st->key, &k);

			if (e < 0) {
				r = e;
				continue;
			}
		}
		k->mark = true;
		k->desired = true;
		if (st->op == SYNC_OP_REFUSE) {
			struct sync_step refused = *st;

			refused.outcome = SYNC_OUT_REFUSED;
			apply_step(k, &refused);
		} else if (st->op != SYNC_OP_NONE) {
			apply_step(k, st);
		}
	}
	for (i = c->n_keys; i-- > 0;) {
		if (!c->keys[i].mark)
			c->keys[i].desired = false;
		if (!c->keys[i].desired && !c->keys[i].has_file)
			key_drop(c, i);
	}
	contrib(t, c, +1);
	if (r < 0)
		return diag_set(d, r, "cannot record the keys of configmap '%s/%s'", o->ns,
				o->name);
	return 0;
}

int sync_table_removals(struct sync_table *t, sync_remove_fn fn, void *ctx)
{
	size_t b, i;
	int n = 0, r;

	for (b = 0; b < t->n_buckets; b++) {
		struct sync_cm **p = &t->buckets[b];

		while (*p) {
			struct sync_cm *c = *p;

			if (c->limbo) {
				p = &c->next;
				continue;
			}
			contrib(t, c, -1);
			for (i = c->n_keys; i-- > 0;) {
				struct sync_key *k = &c->keys[i];
				struct sync_removal rm;

				if (c->selected && k->desired)
					continue;
				if (k->has_file) {
					rm.ns = c->ns;
					rm.cm = c->name;
					rm.key = k->name;
					rm.uid = c->uid;
					rm.rv = c->rv;
					rm.reason = whys[c->selected ? WHY_KEY : c->why];
					r = fn(ctx, &rm);
					if (r < 0) {
						contrib(t, c, +1);
						return r;
					}
					if (r == 0)
						continue;
					n++;
				}
				key_drop(c, i);
			}
			contrib(t, c, +1);
			if (!c->n_keys && !c->selected) {
				*p = c->next;
				t->size--;
				cm_free(c);
				continue;
			}
			p = &c->next;
		}
	}
	return n;
}
