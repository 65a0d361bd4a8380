/* SPDX-License-Identifier: Apache-2.0 */
/*
 * daemon/sync under arbitrary sequences of relists, watch events, disk changes
 * and step outcomes.  Besides memory safety (ASan/UBSan), it checks the
 * bookkeeping: profiles{state} counts always equal a recount over the
 * records, and once every ConfigMap has vanished and every removal succeeded
 * the table is empty and every count is zero.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/sync.h"

#define ANNOT "seccomp.security.kubernetes.io/profile"

static const char *const nss[] = { "a", "b", "Bad_NS" };
static const char *const names[] = { "x", "y", "../z", "w" };
/* Text uids, and UUIDs that sync.c keeps as 16 bytes. */
static const char *const uids[] = { "u1", "u2", "0f8e2c1a-3b4d-4e5f-8a9b-0c1d2e3f4a5b",
				    "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d" };
static const char *const keys[] = { "k1.json", "k2.json", "..bad", "k3" };
static const char *const bodies[] = { "A", "B", "BAD", "C" };

struct input {
	const uint8_t *p;
	size_t n;
};

static unsigned take(struct input *in)
{
	unsigned v;

	if (!in->n)
		return 0;
	v = *in->p;
	in->p++;
	in->n--;
	return v;
}

struct disk {
	struct store_entry e[64];
	size_t n;
};

static void disk_put(struct disk *dk, const char *ns, const char *cm, const char *key,
		     const char *body)
{
	size_t i;

	for (i = 0; i < dk->n; i++)
		if (!strcmp(dk->e[i].ns, ns) && !strcmp(dk->e[i].cm, cm) &&
		    !strcmp(dk->e[i].key, key))
			break;
	if (i == dk->n) {
		if (dk->n == 64)
			return;
		memset(&dk->e[i], 0, sizeof(dk->e[i]));
		snprintf(dk->e[i].ns, sizeof(dk->e[i].ns), "%s", ns);
		snprintf(dk->e[i].cm, sizeof(dk->e[i].cm), "%s", cm);
		snprintf(dk->e[i].key, sizeof(dk->e[i].key), "%s", key);
		dk->n++;
	}
	sha256(body, strlen(body), dk->e[i].digest);
}

static void disk_del(struct disk *dk, const char *ns, const char *cm, const char *key)
{
	size_t i;

	for (i = 0; i < dk->n; i++)
		if (!strcmp(dk->e[i].ns, ns) && !strcmp(dk->e[i].cm, cm) &&
		    !strcmp(dk->e[i].key, key)) {
			dk->e[i] = dk->e[--dk->n];
			return;
		}
}

static int remove_ok(void *ctx, const struct sync_removal *r)
{
	disk_del(ctx, r->ns, r->cm, r->key);
	return 1;
}

static int remove_maybe(void *ctx, const struct sync_removal *r)
{
	struct disk *dk = ctx;

	if (r->key[0] == 'k' && r->key[1] == '2')
		return 0;
	disk_del(dk, r->ns, r->cm, r->key);
	return 1;
}

static void event(struct sync_table *t, struct disk *dk, struct input *in, bool deleted,
		  unsigned gen, bool synced)
{
	struct sync_opts opts = { .annotation = ANNOT, .trust_disk = take(in) & 1 };
	struct k8s_pair ann = { ANNOT, "true", 4 }, data[4];
	struct sync_plan plan;
	struct k8s_object o;
	unsigned mask, i;
	size_t n = 0;
	struct diag d;

	memset(&o, 0, sizeof(o));
	o.ns = nss[take(in) % 3];
	o.name = names[take(in) % 4];
	o.uid = uids[take(in) % 4];
	o.resource_version = "1";
	if (take(in) % 4) {
		o.annotations = &ann;
		o.n_annotations = 1;
	}
	mask = take(in);
	for (i = 0; i < 4; i++) {
		if (!(mask & (1u << i)))
			continue;
		data[n].key = keys[i];
		data[n].value = bodies[(mask >> 4) % 4];
		data[n].value_len = strlen(data[n].value);
		n++;
	}
	o.data = data;
	o.n_data = n;
	if (sync_plan_object(t, &o, deleted, &opts, &plan, &d) < 0)
		abort();
	for (i = 0; i < plan.n_steps; i++) {
		struct sync_step *st = &plan.steps[i];
		unsigned c = take(in);

		switch (st->op) {
		case SYNC_OP_NONE:
			break;
		case SYNC_OP_TRUST:
			st->outcome = SYNC_OUT_TRUSTED;
			break;
		case SYNC_OP_CHECK:
			if (c % 7 == 0)
				break; /* left pending */
			if (!strcmp(st->data, "BAD")) {
				st->outcome = SYNC_OUT_INVALID;
				if (st->remove_if_invalid && synced) {
					disk_del(dk, o.ns, o.name, st->key);
					st->outcome = SYNC_OUT_INVALID_REMOVED;
				}
			} else if (c % 5 == 0) {
				st->outcome = SYNC_OUT_FAILED;
			} else {
				disk_put(dk, o.ns, o.name, st->key, st->data);
				st->outcome = SYNC_OUT_WRITTEN;
			}
			break;
		case SYNC_OP_REMOVE:
			if (!synced || c % 5 == 0) {
				st->outcome = SYNC_OUT_DEFERRED;
			} else {
				disk_del(dk, o.ns, o.name, st->key);
				st->outcome = SYNC_OUT_REMOVED;
			}
			break;
		case SYNC_OP_REFUSE:
			st->outcome = SYNC_OUT_REFUSED;
			break;
		}
	}
	(void)sync_apply(t, &o, &plan, gen, &d);
	sync_plan_release(&plan);
}

static void recount(const struct sync_table *t)
{
	uint64_t n[SYNC_N_STATES] = { 0 };
	size_t a, b, i;

	/* The records that any of the names can reach: every record there is. */
	for (a = 0; a < 3; a++)
		for (b = 0; b < 4; b++) {
			const struct sync_cm *c = sync_table_find(t, nss[a], names[b]);

			if (!c || !sync_cm_selected(c))
				continue;
			for (i = 0; i < sync_cm_n_keys(c); i++) {
				struct sync_key k;

				sync_cm_key_at(c, i, &k);
				if (k.desired)
					n[k.state]++;
			}
		}
	for (i = 0; i < SYNC_N_STATES; i++)
		if (n[i] != sync_table_count(t, i))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct sync_table *t = NULL;
	struct disk dk;
	unsigned gen = 0;
	bool synced = false;

	memset(&dk, 0, sizeof(dk));
	if (sync_table_new(&t) < 0)
		return 0;
	while (in.n) {
		switch (take(&in) % 7) {
		case 0:
			event(t, &dk, &in, false, gen, synced);
			break;
		case 1:
			event(t, &dk, &in, true, gen, synced);
			break;
		case 2:
			gen = sync_table_next_gen(t);
			(void)sync_table_refresh_disk(t, NULL, dk.e, dk.n);
			break;
		case 3:
			(void)sync_table_vanish(t, take(&in) & 1 ? "a" : NULL, gen);
			break;
		case 4:
			synced = true;
			(void)sync_table_removals(t, take(&in) & 1 ? remove_ok : remove_maybe, &dk);
			break;
		case 5:
			disk_put(&dk, nss[take(&in) % 2], names[take(&in) % 2], keys[take(&in) % 2],
				 bodies[take(&in) % 4]);
			break;
		case 6:
			if (dk.n)
				dk.e[take(&in) % dk.n] = dk.e[dk.n - 1], dk.n--;
			break;
		}
		recount(t);
	}
	/* Everything vanishes; every removal succeeds: nothing may be left. */
	(void)sync_table_vanish(t, NULL, sync_table_next_gen(t));
	(void)sync_table_removals(t, remove_ok, &dk);
	if (sync_table_size(t) != 0 || sync_table_count(t, SYNC_VALID) ||
	    sync_table_count(t, SYNC_INVALID) || sync_table_count(t, SYNC_STALE))
		abort();
	sync_table_free(t);
	return 0;
}
