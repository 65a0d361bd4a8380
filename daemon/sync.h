/* SPDX-License-Identifier: Apache-2.0 */
#ifndef SECCOMP_SYNCD_DAEMON_SYNC_H
#define SECCOMP_SYNCD_DAEMON_SYNC_H

/*
 * The sync logic, pure: no files, no network, no clock.  It keeps, per
 * selected ConfigMap, only metadata (namespace, name, uid, resourceVersion and
 * per key a digest and a state), never profile bodies, and decides what has to
 * happen:
 *
 *   - sync_plan_object() turns one object (from a list or a watch event) into a
 *     plan: per key TRUST (the file on disk already holds these bytes and the
 *     validator has not changed), CHECK (validate, then write), REMOVE or
 *     REFUSE; the caller does the I/O, records each step's outcome and hands
 *     the plan back to sync_apply(), which updates the table.
 *   - sync_table_disk_begin/entry/end() take in a walk of the store at every
 *     relist (sync_table_refresh_disk() does the same from a listing), so a
 *     file that vanished or changed on disk is written again and a file that
 *     nobody wants any more becomes a pending removal (the reconcile).
 *   - sync_table_vanish() is the diff after a relist: every ConfigMap of the
 *     relisted scope that the list did not contain is no longer selected.
 *   - sync_table_removals() walks every pending removal; the caller removes
 *     the file (only once every watch has listed: nothing is removed before)
 *     and says whether it is gone.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/diag.h"
#include "common/sha256.h"
#include "k8s/object.h"
#include "profilestore/store.h"

/* Limits on what one ConfigMap may carry (Kubernetes caps a ConfigMap at 1 MiB). */
#define SYNC_MAX_KEYS 1024
#define SYNC_UID_MAX  128
#define SYNC_RV_MAX   128

enum sync_state {
	SYNC_VALID = 0, /* the file on disk is this key's current content */
	SYNC_INVALID,	/* the current content is invalid (or refused) and there is no file */
	SYNC_STALE,	/* the current content is invalid; an older good file is kept */
	SYNC_N_STATES,
};

/*
 * A ConfigMap's record in the table.  Opaque: the table packs each record into
 * one allocation (sync.c says how), so it is read through sync_cm_*().
 */
struct sync_cm;

/* One key of a record, as sync_cm_key() and sync_cm_key_at() read it out. */
struct sync_key {
	const char *name; /* borrowed from the table until its next change */
	bool desired;	  /* present in the ConfigMap as last seen */
	bool has_file;	  /* a file for it is on disk */
	bool failed;	  /* the last check or write failed: tried again next time */
	bool refused;	  /* the key name fails the store's policy: never written */
	enum sync_state state;
};

struct sync_table;

/** sync_table_new() - an empty table; Return: 0 or -ENOMEM */
int sync_table_new(struct sync_table **out);

/** sync_table_free() - free the table and every record; NULL is a no-op */
void sync_table_free(struct sync_table *t);

/** sync_table_find() - the record of @ns/@name, or NULL; borrowed until the next change */
const struct sync_cm *sync_table_find(const struct sync_table *t, const char *ns, const char *name);

/** sync_cm_selected() - the ConfigMap exists, carries the annotation and passed the name policy */
bool sync_cm_selected(const struct sync_cm *c);

/** sync_cm_n_keys() - how many keys the record holds (desired ones and files pending removal) */
size_t sync_cm_n_keys(const struct sync_cm *c);

/** sync_cm_key_at() - key @i (below sync_cm_n_keys()) into @out */
void sync_cm_key_at(const struct sync_cm *c, size_t i, struct sync_key *out);

/** sync_cm_key() - the key named @name into @out; Return: false when the record has none */
bool sync_cm_key(const struct sync_cm *c, const char *name, struct sync_key *out);

/** sync_table_size() - the number of ConfigMap records (selected or waiting for removal) */
size_t sync_table_size(const struct sync_table *t);

/**
 * sync_table_count() - how many keys are in @state (for the profiles{state} gauge)
 *
 * Kept up to date by every change, so that the metric costs nothing per event.
 */
uint64_t sync_table_count(const struct sync_table *t, enum sync_state state);

/**
 * sync_table_next_gen() - start a relist: a new generation number
 *
 * Every object of the relist is applied with it; sync_table_vanish() then
 * finds the records that the relist did not touch.
 */
unsigned sync_table_next_gen(struct sync_table *t);

/**
 * sync_table_refresh_disk() - take in what the store lists for @ns (NULL: everything)
 * @entries: store_list() output; STORE_ENTRY_OTHER entries are ignored (reported by the caller)
 *
 * Records of the scope learn whether their files exist and what they hold; a
 * file that no record knows becomes a record known only from disk (no uid),
 * which a relist that does not contain its ConfigMap then removes.  This is
 * how a restart trusts files already on disk and how the reconcile heals what
 * changed behind the daemon's back.  Return: 0 or -ENOMEM.
 */
int sync_table_refresh_disk(struct sync_table *t, const char *ns, const struct store_entry *entries,
			    size_t n);

/*
 * sync_table_refresh_disk() in three steps, for a caller that walks the store
 * (store_walk()) instead of holding its listing: begin, one call per entry,
 * end.  A failed sync_table_disk_entry() (-ENOMEM) leaves the refresh
 * unfinished; end must not follow it, as with a failed refresh_disk.
 */
void sync_table_disk_begin(struct sync_table *t, const char *ns);
int sync_table_disk_entry(struct sync_table *t, const char *ns, const struct store_entry *e);
void sync_table_disk_end(struct sync_table *t, const char *ns);

typedef void (*sync_file_fn)(void *ctx, const char *ns, const char *cm, const char *key);

/**
 * sync_table_files() - every file the table knows is on disk, in no order
 *
 * What the table learnt from the last store walk of each scope and from every
 * write and removal since, without touching the disk.
 */
void sync_table_files(const struct sync_table *t, sync_file_fn fn, void *ctx);

/**
 * sync_table_vanish() - the diff after a relist of scope @ns (NULL: every namespace)
 * @gen: the generation the relist applied its objects with
 *
 * Records of the scope that the relist did not contain are no longer selected:
 * their files become pending removals.  Return: the number of records affected.
 */
size_t sync_table_vanish(struct sync_table *t, const char *ns, unsigned gen);

/* What one key of a plan asks for. */
enum sync_op {
	SYNC_OP_NONE = 0, /* nothing changed */
	SYNC_OP_TRUST,	  /* the file already holds these bytes, validated when it was written */
	SYNC_OP_CHECK,	  /* validate the content, then write it if valid */
	SYNC_OP_REMOVE,	  /* remove the file */
	SYNC_OP_REFUSE,	  /* the key name fails the store's policy: report, write nothing */
};

/* What the caller did with a step (filled in before sync_apply()). */
enum sync_outcome {
	SYNC_OUT_PENDING = 0,	  /* not done: the table keeps its old idea of the key */
	SYNC_OUT_WRITTEN,	  /* valid and written */
	SYNC_OUT_UNCHANGED,	  /* valid, and the store already held exactly these bytes */
	SYNC_OUT_TRUSTED,	  /* SYNC_OP_TRUST accepted without compiling */
	SYNC_OUT_INVALID,	  /* invalid; any previous file is still there */
	SYNC_OUT_INVALID_REMOVED, /* invalid, and the previous file (another uid's) was removed */
	SYNC_OUT_FAILED,	  /* the check or the write failed: retried next time */
	SYNC_OUT_REMOVED,	  /* the file is gone (or was already absent) */
	SYNC_OUT_DEFERRED,	  /* removal not done yet (not synced): stays pending */
	SYNC_OUT_REFUSED,	  /* refused name, reported */
};

struct sync_step {
	enum sync_op op;
	const char *key;  /* borrowed from the object (or from the table for REMOVE) */
	const void *data; /* CHECK/TRUST: the content, borrowed from the object */
	size_t len;
	uint8_t digest[SHA256_LEN]; /* of @data */
	bool had_file;		    /* a good file for this key is on disk now */
	bool remove_if_invalid; /* that file belongs to another uid: an invalid update drops it */
	bool binary;		/* from binaryData */
	enum sync_outcome outcome;
};

enum sync_plan_kind {
	SYNC_PLAN_IGNORE = 0, /* not selected and nothing known: nothing to do */
	SYNC_PLAN_SYNC,	      /* selected: the steps write, trust, refuse or remove keys */
	SYNC_PLAN_REMOVE,     /* deleted or no longer selected: the steps remove every file */
	SYNC_PLAN_REFUSED,    /* namespace or name fails the store's policy: nothing is written */
};

struct sync_plan {
	enum sync_plan_kind kind;
	const char *reason;	 /* SYNC_PLAN_REMOVE: why ("configmap deleted", ...) */
	uint8_t why;		 /* private: @reason as sync.c records it (0: "no longer listed") */
	bool uid_changed;	 /* a record existed under another uid */
	struct sync_step *steps; /* owned; freed by sync_plan_release() */
	size_t n_steps;
	struct diag refusal; /* SYNC_PLAN_REFUSED: which name and why */
};

struct sync_opts {
	const char *annotation; /* the marker annotation; must be exactly "true" */
	bool trust_disk;	/* the validator version recorded on disk is the current one */
};

/**
 * sync_selected() - whether @o carries the marker annotation with the exact value "true"
 *
 * Anything else ("True", "yes", "") is not selected, as in the 2020 operator.
 */
bool sync_selected(const struct k8s_object *o, const char *annotation);

/**
 * sync_plan_object() - what to do about one ConfigMap
 * @deleted: a DELETED watch event (the object is the last state)
 * @plan: caller-owned; filled in (release with sync_plan_release())
 *
 * The plan borrows key names and contents from @o, so it must be applied
 * before @o goes.  Return: 0, -ENOMEM, or -E2BIG for more than SYNC_MAX_KEYS keys.
 */
int sync_plan_object(const struct sync_table *t, const struct k8s_object *o, bool deleted,
		     const struct sync_opts *opts, struct sync_plan *plan, struct diag *d);

/**
 * sync_apply() - record what became of @plan's steps
 * @gen: the relist generation (for a watch event: the current one)
 *
 * Updates the record of @o: uid, resourceVersion, the keys and their states.
 * A CHECK or TRUST step left SYNC_OUT_PENDING counts as failed and is tried
 * again by the next relist; a REFUSE step is recorded as refused whatever its
 * outcome, so that an unchanged refused key is not reported again.  Return: 0, -ENOMEM, or -E2BIG for an over-long uid or
 * resourceVersion (the record is then left as it was).
 */
int sync_apply(struct sync_table *t, const struct k8s_object *o, const struct sync_plan *plan,
	       unsigned gen, struct diag *d);

/** sync_plan_release() - free the steps; the plan may be reused */
void sync_plan_release(struct sync_plan *plan);

/*
 * One pending removal, as sync_table_removals() hands it to its callback:
 * the record's uid and resourceVersion (NULL when it is known only from disk)
 * let the caller post an Event on the ConfigMap.  Every string is valid only
 * during the call.
 */
struct sync_removal {
	const char *ns;
	const char *cm;
	const char *key;
	const char *uid;
	const char *rv;
	const char *reason;
};

/*
 * Return 1 when the file is gone (or was absent), 0 to keep it pending, or a
 * negative errno to stop the walk.
 */
typedef int (*sync_remove_fn)(void *ctx, const struct sync_removal *r);

/**
 * sync_table_removals() - offer every pending removal to @fn
 *
 * Pending are the files of records that are no longer selected and the files
 * of keys that their ConfigMap no longer has.  Keys @fn reports gone leave the
 * table, and so do records left with nothing.  Return: the number removed, or
 * @fn's negative errno.
 */
int sync_table_removals(struct sync_table *t, sync_remove_fn fn, void *ctx);

/** sync_state_name() - "valid", "invalid" or "stale" */
const char *sync_state_name(enum sync_state s);

#endif
