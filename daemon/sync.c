/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sync table and the reconcile plan (see sync.h).  A chained hash table of
 * ConfigMap records keyed by namespace and name.  Nothing here touches a file,
 * the network or a clock.
 *
 * The table is the one part of the daemon that grows with the cluster, so a
 * record is a single packed allocation (struct sync_cm): a 16-byte header, 40
 * bytes per key (its digest, flags and the offset of its name), the uid (16
 * bytes when it is a UUID, as API servers make it), the strings, and last the
 * file digests that differ from the content's.  A one-key ConfigMap takes 112
 * bytes of heap where five allocations with pointers took 270
 * (bench/results-daemon.md).
 *
 * Flags change in place, and so does dropping a key (the rest of the record
 * moves down), so the walks after a relist never allocate.  Any other change
 * unpacks the record into a working form (struct work) with a plain field for
 * everything, runs the logic on that, and packs the result into a new
 * allocation that takes the old one's place in its chain.
 */
#include "daemon/sync.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

/* Flags of a packed key; struct wkey has a bool for each. */
enum {
	K_DESIRED = 1u << 0,
	K_KNOWN = 1u << 1,
	K_FAILED = 1u << 2,
	K_REFUSED = 1u << 3,
	K_HAS_FILE = 1u << 4,
	K_FILE_IS_DIGEST = 1u << 5,
	K_MARK = 1u << 6,
};

/* A record is at most this big, so that a key's name fits its 23-bit offset. */
#define REC_MAX (1u << 23)

struct pkey {
	uint8_t digest[SHA256_LEN]; /* see struct wkey */
	unsigned name : 23;	    /* offset of its NUL-terminated name in the record */
	unsigned state : 2;	    /* enum sync_state */
	unsigned flags : 7;	    /* K_* */
	uint32_t file_digest;	    /* offset of the file's digest when it differs, else 0 */
};

/* Flags of a record. */
enum {
	R_SELECTED = 1u << 0,
	R_LIMBO = 1u << 1,
	R_UID = 1u << 2,     /* it has a uid ... */
	R_UID_BIN = 1u << 3, /* ... stored as the 16 bytes of a UUID */
	R_RV = 1u << 4,	     /* it has a resourceVersion */
};

#define UUID_BIN  16
#define UUID_TEXT 36

/*
 * After the keys: the uid's 16 bytes (R_UID_BIN), then the strings namespace,
 * name, uid (R_UID without R_UID_BIN), resourceVersion (R_RV), the key names,
 * and the file digests.
 */
struct sync_cm {
	struct sync_cm *next; /* hash chain */
	unsigned gen;	      /* the relist generation that last saw it */
	uint16_t n_keys;
	uint8_t flags; /* R_* */
	uint8_t why;   /* enum why: why its files are pending removal */
	struct pkey keys[];
};

struct sync_table {
	struct sync_cm **buckets;
	size_t n_buckets; /* a power of two */
	size_t size;
	unsigned gen;
	uint64_t count[SYNC_N_STATES];
};

/*
 * The working form of a key.  @digest is of the content last seen in the API;
 * while !@known, of the file on disk.  @file_is_digest: the file holds exactly
 * @digest, the common case; else @has_file_digest says whether @file_digest
 * holds the file's digest (without it the file is not known, so never
 * trusted).  Keeping the file's digest only while it differs is a third of the
 * table at 10,000 ConfigMaps.
 */
struct wkey {
	const char *name; /* borrowed: from the record, the object or the store entry */
	uint8_t digest[SHA256_LEN];
	uint8_t file_digest[SHA256_LEN];
	bool has_file_digest;
	bool desired; /* present in the ConfigMap as last seen */
	bool known;   /* @digest is of the content last seen (else: only disk is known) */
	bool failed;  /* the last check or write failed: try again next time */
	bool refused; /* the key name fails the store's policy: never written */
	bool has_file;
	bool file_is_digest;
	bool mark; /* scratch of sync_apply() and the disk walk */
	uint8_t state;
};

/* The working form of a record; its strings are borrowed until work_store(). */
struct work {
	const struct sync_cm *rec; /* the packed record it came from, or NULL */
	const char *ns, *name;
	const char *uid; /* NULL: known only from files on disk */
	const char *rv;
	char uid_buf[UUID_TEXT + 1];
	struct wkey *keys;
	size_t n_keys, cap;
	unsigned gen;
	bool selected, limbo;
	uint8_t why;
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

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* A UUID in its canonical lower-case text, which uuid_text() gives back exactly. */
static bool uuid_parse(const char *s, uint8_t out[UUID_BIN])
{
	size_t i, j = 0;

	if (strlen(s) != UUID_TEXT)
		return false;
	for (i = 0; i < UUID_TEXT; i++) {
		int v;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
			continue;
		}
		v = hexval(s[i]);
		if (v < 0)
			return false;
		if (j % 2)
			out[j / 2] = (uint8_t)(out[j / 2] | v);
		else
			out[j / 2] = (uint8_t)(v << 4);
		j++;
	}
	return true;
}

static void uuid_text(const uint8_t in[UUID_BIN], char out[UUID_TEXT + 1])
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	for (i = 0; i < UUID_BIN; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[in[i] >> 4];
		out[o++] = hex[in[i] & 15];
	}
	out[o] = '\0';
}

/* Reading a packed record. */

static const char *rec_ns(const struct sync_cm *c)
{
	return (const char *)&c->keys[c->n_keys] + (c->flags & R_UID_BIN ? UUID_BIN : 0);
}

static const char *after(const char *s)
{
	return s + strlen(s) + 1;
}

static const char *rec_name(const struct sync_cm *c)
{
	return after(rec_ns(c));
}

/* The uid, made into text in @buf when it is kept as a UUID; NULL when none. */
static const char *rec_uid(const struct sync_cm *c, char buf[UUID_TEXT + 1])
{
	if (c->flags & R_UID_BIN) {
		uuid_text((const uint8_t *)&c->keys[c->n_keys], buf);
		return buf;
	}
	return c->flags & R_UID ? after(rec_name(c)) : NULL;
}

static const char *rec_rv(const struct sync_cm *c)
{
	const char *s = after(rec_name(c));

	if (!(c->flags & R_RV))
		return NULL;
	return (c->flags & R_UID) && !(c->flags & R_UID_BIN) ? after(s) : s;
}

static const char *key_name(const struct sync_cm *c, size_t i)
{
	return (const char *)c + c->keys[i].name;
}

static bool kf(const struct pkey *k, unsigned flag)
{
	return (k->flags & flag) != 0;
}

static void kset(struct pkey *k, unsigned flag, bool on)
{
	k->flags = on ? k->flags | flag : k->flags & ~flag;
}

/* The bytes of @c in use: up to the last key name or file digest. */
static size_t rec_size(const struct sync_cm *c)
{
	const char *base = (const char *)c, *s = after(rec_name(c));
	size_t end, i;

	if ((c->flags & R_UID) && !(c->flags & R_UID_BIN))
		s = after(s);
	if (c->flags & R_RV)
		s = after(s);
	end = (size_t)(s - base);
	for (i = 0; i < c->n_keys; i++) {
		const struct pkey *k = &c->keys[i];
		size_t e = k->name + strlen(base + k->name) + 1;

		if (e > end)
			end = e;
		if (k->file_digest && k->file_digest + SHA256_LEN > end)
			end = k->file_digest + SHA256_LEN;
	}
	return end;
}

/*
 * Drop key @i in place: the last key takes its slot (as in the working form)
 * and everything after the keys moves down by one entry.  Its name and file
 * digest stay behind unused until the record is next packed.
 */
static void rec_drop_key(struct sync_cm *c, size_t i)
{
	size_t size = rec_size(c), last = c->n_keys - 1u, tail, j;
	char *base = (char *)c;

	if (i != last)
		c->keys[i] = c->keys[last];
	tail = (size_t)((char *)&c->keys[last + 1] - base);
	memmove(&c->keys[last], base + tail, size - tail);
	memset(base + size - sizeof(struct pkey), 0, sizeof(struct pkey)); /* no stale copy */
	c->n_keys--;
	for (j = 0; j < c->n_keys; j++) {
		c->keys[j].name -= sizeof(struct pkey);
		if (c->keys[j].file_digest)
			c->keys[j].file_digest -= (uint32_t)sizeof(struct pkey);
	}
}

/* A key's state follows from what is known about its content and its file. */
static uint8_t settled(uint8_t state, bool has_file, bool refused)
{
	if (state == SYNC_STALE && !has_file)
		return SYNC_INVALID;
	if (state == SYNC_INVALID && has_file && !refused)
		return SYNC_STALE;
	return state;
}

static void key_unpack(const struct sync_cm *c, size_t i, struct wkey *k)
{
	const struct pkey *p = &c->keys[i];

	memset(k, 0, sizeof(*k));
	k->name = key_name(c, i);
	memcpy(k->digest, p->digest, SHA256_LEN);
	if (p->file_digest) {
		memcpy(k->file_digest, (const uint8_t *)c + p->file_digest, SHA256_LEN);
		k->has_file_digest = true;
	}
	k->desired = kf(p, K_DESIRED);
	k->known = kf(p, K_KNOWN);
	k->failed = kf(p, K_FAILED);
	k->refused = kf(p, K_REFUSED);
	k->has_file = kf(p, K_HAS_FILE);
	k->file_is_digest = kf(p, K_FILE_IS_DIGEST);
	k->mark = kf(p, K_MARK);
	k->state = p->state;
}

static char *put(char *at, const char *s)
{
	size_t n = strlen(s) + 1;

	memcpy(at, s, n);
	return at + n;
}

/* @w as one new allocation; Return: 0, -ENOMEM, or -E2BIG past REC_MAX. */
static int pack(const struct work *w, struct sync_cm **out)
{
	uint8_t uuid[UUID_BIN];
	bool bin = w->uid && uuid_parse(w->uid, uuid);
	size_t size, i;
	struct sync_cm *c;
	char *at;

	size = sizeof(*c) + w->n_keys * sizeof(struct pkey) + (bin ? UUID_BIN : 0);
	size += strlen(w->ns) + strlen(w->name) + 2;
	if (w->uid && !bin)
		size += strlen(w->uid) + 1;
	if (w->rv)
		size += strlen(w->rv) + 1;
	for (i = 0; i < w->n_keys; i++)
		size += strlen(w->keys[i].name) + 1 + (w->keys[i].has_file_digest ? SHA256_LEN : 0);
	if (size >= REC_MAX || w->n_keys > SYNC_MAX_KEYS)
		return -E2BIG;
	c = malloc(size);
	if (!c)
		return -ENOMEM;
	c->next = NULL;
	c->gen = w->gen;
	c->n_keys = (uint16_t)w->n_keys;
	c->flags = (uint8_t)((w->selected ? R_SELECTED : 0) | (w->limbo ? R_LIMBO : 0) |
			     (w->uid ? R_UID : 0) | (bin ? R_UID_BIN : 0) | (w->rv ? R_RV : 0));
	c->why = w->why;
	at = (char *)&c->keys[w->n_keys];
	if (bin) {
		memcpy(at, uuid, UUID_BIN);
		at += UUID_BIN;
	}
	at = put(at, w->ns);
	at = put(at, w->name);
	if (w->uid && !bin)
		at = put(at, w->uid);
	if (w->rv)
		at = put(at, w->rv);
	for (i = 0; i < w->n_keys; i++) {
		const struct wkey *k = &w->keys[i];
		struct pkey *p = &c->keys[i];

		memcpy(p->digest, k->digest, SHA256_LEN);
		p->name = (unsigned)(at - (char *)c) & (REC_MAX - 1u);
		p->state = k->state & 3u;
		p->flags = (k->desired ? K_DESIRED : 0) | (k->known ? K_KNOWN : 0) |
			   (k->failed ? K_FAILED : 0) | (k->refused ? K_REFUSED : 0) |
			   (k->has_file ? K_HAS_FILE : 0) |
			   (k->file_is_digest ? K_FILE_IS_DIGEST : 0) | (k->mark ? K_MARK : 0);
		p->file_digest = 0;
		at = put(at, k->name);
	}
	for (i = 0; i < w->n_keys; i++) {
		if (!w->keys[i].has_file_digest)
			continue;
		c->keys[i].file_digest = (uint32_t)(at - (char *)c);
		memcpy(at, w->keys[i].file_digest, SHA256_LEN);
		at += SHA256_LEN;
	}
	*out = c;
	return 0;
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

void sync_table_free(struct sync_table *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->n_buckets; i++) {
		struct sync_cm *c = t->buckets[i], *next;

		for (; c; c = next) {
			next = c->next;
			free(c);
		}
	}
	free(t->buckets);
	free(t);
}

static struct sync_cm **slot_of(const struct sync_table *t, const char *ns, const char *name)
{
	struct sync_cm **p = &t->buckets[hash_name(ns, name) & (t->n_buckets - 1)];

	for (; *p; p = &(*p)->next) {
		const char *cns = rec_ns(*p);

		if (!strcmp(cns, ns) && !strcmp(after(cns), name))
			break;
	}
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

bool sync_cm_selected(const struct sync_cm *c)
{
	return (c->flags & R_SELECTED) != 0;
}

size_t sync_cm_n_keys(const struct sync_cm *c)
{
	return c->n_keys;
}

void sync_cm_key_at(const struct sync_cm *c, size_t i, struct sync_key *out)
{
	const struct pkey *k = &c->keys[i];

	out->name = key_name(c, i);
	out->desired = kf(k, K_DESIRED);
	out->has_file = kf(k, K_HAS_FILE);
	out->failed = kf(k, K_FAILED);
	out->refused = kf(k, K_REFUSED);
	out->state = (enum sync_state)k->state;
}

/* The index of the key named @name in @c, or -1. */
static long rec_key_find(const struct sync_cm *c, const char *name)
{
	size_t i;

	for (i = 0; c && i < c->n_keys; i++)
		if (!strcmp(key_name(c, i), name))
			return (long)i;
	return -1;
}

bool sync_cm_key(const struct sync_cm *c, const char *name, struct sync_key *out)
{
	long i = rec_key_find(c, name);

	if (i < 0)
		return false;
	sync_cm_key_at(c, (size_t)i, out);
	return true;
}

/* Keys count towards profiles{state} while their ConfigMap is selected and has them. */
static void contrib(struct sync_table *t, const struct sync_cm *c, int sign)
{
	size_t i;

	if (!sync_cm_selected(c))
		return;
	for (i = 0; i < c->n_keys; i++) {
		const struct pkey *k = &c->keys[i];

		if (!kf(k, K_DESIRED))
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
			size_t h = hash_name(rec_ns(c), rec_name(c)) & (n - 1);

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

/* Unlink and free the record at *@slot. */
static void rec_unlink(struct sync_table *t, struct sync_cm **slot)
{
	struct sync_cm *c = *slot;

	contrib(t, c, -1);
	*slot = c->next;
	t->size--;
	free(c);
}

/*
 * The working form of @c (NULL: a new record for @ns/@name, not selected, no
 * keys).  Return: 0 or -ENOMEM.
 */
static int work_load(struct work *w, const struct sync_cm *c, const char *ns, const char *name)
{
	size_t i;

	memset(w, 0, sizeof(*w));
	w->ns = ns;
	w->name = name;
	w->why = WHY_ORPHAN;
	if (!c)
		return 0;
	if (c->n_keys) {
		w->keys = malloc(c->n_keys * sizeof(*w->keys));
		if (!w->keys)
			return -ENOMEM;
	}
	for (i = 0; i < c->n_keys; i++)
		key_unpack(c, i, &w->keys[i]);
	w->n_keys = w->cap = c->n_keys;
	w->rec = c;
	w->ns = rec_ns(c);
	w->name = rec_name(c);
	w->uid = rec_uid(c, w->uid_buf);
	w->rv = rec_rv(c);
	w->gen = c->gen;
	w->selected = sync_cm_selected(c);
	w->limbo = (c->flags & R_LIMBO) != 0;
	w->why = c->why;
	return 0;
}

static void work_release(struct work *w)
{
	free(w->keys);
	w->keys = NULL;
	w->n_keys = w->cap = 0;
}

/*
 * Put @w in the table in place of the record it came from, and release it (its
 * borrowed strings may have been that record's).  A record left with nothing,
 * no keys and not selected, leaves the table.  Return: 0, or -ENOMEM or -E2BIG
 * with the table as it was.
 */
static int work_store(struct sync_table *t, struct work *w)
{
	struct sync_cm *c = NULL, *old, **slot;
	int r = 0;

	slot = slot_of(t, w->ns, w->name);
	old = *slot; /* w->rec, or NULL: then @slot ends the chain */
	if (!w->selected && !w->n_keys) {
		if (old)
			rec_unlink(t, slot);
		goto out;
	}
	r = pack(w, &c);
	if (r < 0)
		goto out;
	if (old) {
		contrib(t, old, -1);
		c->next = old->next;
		free(old);
	} else {
		if (t->size >= t->n_buckets) {
			r = grow(t);
			if (r < 0) {
				free(c);
				goto out;
			}
			slot = slot_of(t, w->ns, w->name);
		}
		t->size++;
	}
	*slot = c;
	contrib(t, c, +1);
out:
	work_release(w);
	return r;
}

/* The working form's logic. */

static struct wkey *key_find(const struct work *w, const char *name)
{
	size_t i;

	for (i = 0; i < w->n_keys; i++)
		if (!strcmp(w->keys[i].name, name))
			return &w->keys[i];
	return NULL;
}

/* Append a key (state invalid, nothing known); the keys array may move. */
static int key_add(struct work *w, const char *name, struct wkey **out)
{
	struct wkey *k;

	if (w->n_keys >= SYNC_MAX_KEYS)
		return -E2BIG;
	if (w->n_keys == w->cap) {
		size_t n = w->cap ? w->cap * 2 : 4;

		k = realloc(w->keys, n * sizeof(*k));
		if (!k)
			return -ENOMEM;
		w->keys = k;
		w->cap = n;
	}
	k = &w->keys[w->n_keys++];
	memset(k, 0, sizeof(*k));
	k->name = name;
	k->state = SYNC_INVALID;
	*out = k;
	return 0;
}

static void key_drop(struct work *w, size_t i)
{
	w->n_keys--;
	if (i != w->n_keys)
		w->keys[i] = w->keys[w->n_keys];
}

/* The file holds exactly the content last seen (@k->digest). */
static void key_file_is_digest(struct wkey *k)
{
	k->has_file_digest = false;
	k->file_is_digest = true;
}

/* The file holds @digest, which is not @k->digest. */
static void key_file_other(struct wkey *k, const uint8_t digest[SHA256_LEN])
{
	k->file_is_digest = false;
	k->has_file_digest = true;
	memcpy(k->file_digest, digest, SHA256_LEN);
}

/* Whether the file of @k holds content of @digest. */
static bool key_file_holds(const struct wkey *k, const uint8_t digest[SHA256_LEN])
{
	if (!k->has_file)
		return false;
	if (k->file_is_digest)
		return !memcmp(k->digest, digest, SHA256_LEN);
	return k->has_file_digest && !memcmp(k->file_digest, digest, SHA256_LEN);
}

/* The walks over the table. */

static bool in_scope(const struct sync_cm *c, const char *ns)
{
	return !ns || !strcmp(rec_ns(c), ns);
}

void sync_table_disk_begin(struct sync_table *t, const char *ns)
{
	size_t b, i;

	for (b = 0; b < t->n_buckets; b++) {
		struct sync_cm *c;

		for (c = t->buckets[b]; c; c = c->next)
			if (in_scope(c, ns))
				for (i = 0; i < c->n_keys; i++)
					kset(&c->keys[i], K_MARK, false);
	}
}

int sync_table_disk_entry(struct sync_table *t, const char *ns, const struct store_entry *e)
{
	struct work w;
	struct wkey *k;
	int r;

	if (e->type != STORE_ENTRY_FILE || !e->key[0] || !e->cm[0])
		return 0;
	if (ns && strcmp(e->ns, ns) != 0)
		return 0;
	r = work_load(&w, *slot_of(t, e->ns, e->cm), e->ns, e->cm);
	if (r < 0)
		return r;
	if (!w.uid && !w.selected && w.gen != t->gen)
		w.limbo = true;
	k = key_find(&w, e->key);
	if (!k) {
		r = key_add(&w, e->key, &k);
		if (r < 0) {
			work_release(&w);
			return r == -E2BIG ? 0 : r;
		}
	}
	k->has_file = true;
	if (!k->known)
		memcpy(k->digest, e->digest, SHA256_LEN); /* see struct wkey */
	if (!memcmp(k->digest, e->digest, SHA256_LEN))
		key_file_is_digest(k);
	else
		key_file_other(k, e->digest);
	k->mark = true;
	k->state = settled(k->state, k->has_file, k->refused);
	r = work_store(t, &w);
	return r == -E2BIG ? 0 : r;
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
				struct pkey *k = &c->keys[i];

				if (!kf(k, K_MARK))
					kset(k, K_HAS_FILE, false);
				k->state = settled(k->state, kf(k, K_HAS_FILE), kf(k, K_REFUSED));
				if (!kf(k, K_HAS_FILE) &&
				    (!kf(k, K_DESIRED) || !sync_cm_selected(c)))
					rec_drop_key(c, i);
			}
			contrib(t, c, +1);
			if (!c->n_keys && !sync_cm_selected(c)) {
				rec_unlink(t, p);
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
				if (kf(&c->keys[i], K_HAS_FILE))
					fn(ctx, rec_ns(c), rec_name(c), key_name(c, i));
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
			if (!(c->flags & (R_SELECTED | R_LIMBO)))
				continue;
			contrib(t, c, -1);
			if (sync_cm_selected(c))
				c->why = WHY_VANISHED;
			c->flags &= (uint8_t) ~(R_SELECTED | R_LIMBO);
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
static void decide(const struct wkey *rk, bool uid_changed, const struct sync_opts *opts,
		   struct sync_step *st)
{
	bool file_is_it;

	st->had_file = rk && rk->has_file;
	file_is_it = rk && key_file_holds(rk, st->digest);
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

static int plan_key(const struct work *rec, const struct k8s_object *o, const struct k8s_pair *p,
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
		const struct wkey *rk = dup ? NULL : key_find(rec, p->key);

		st->op = rk && rk->refused && rk->known && !uid_changed &&
					 !memcmp(rk->digest, st->digest, SHA256_LEN)
				 ? SYNC_OP_NONE
				 : SYNC_OP_REFUSE;
		if (dup)
			st->op = SYNC_OP_REFUSE;
		return 0;
	}
	decide(key_find(rec, p->key), uid_changed, opts, st);
	return 0;
}

int sync_plan_object(const struct sync_table *t, const struct k8s_object *o, bool deleted,
		     const struct sync_opts *opts, struct sync_plan *plan, struct diag *d)
{
	struct work rec;
	size_t cap = 0, i;
	int r;

	memset(plan, 0, sizeof(*plan));
	r = work_load(&rec, sync_table_find(t, o->ns, o->name), o->ns, o->name);
	if (r < 0)
		goto fail;
	if (deleted || !sync_selected(o, opts->annotation)) {
		if (!rec.rec)
			goto out;
		plan->kind = SYNC_PLAN_REMOVE;
		plan->why = deleted ? WHY_DELETED : WHY_UNANNOTATED;
		plan->reason = whys[plan->why];
		for (i = 0; i < rec.n_keys; i++) {
			struct sync_step *st;

			if (!rec.keys[i].has_file)
				continue;
			r = step_add(plan, &cap, &st);
			if (r < 0)
				goto fail;
			st->op = SYNC_OP_REMOVE;
			st->key = rec.keys[i].name;
			st->had_file = true;
		}
		goto out;
	}
	if (store_check_name(o->ns, o->name, NULL, &plan->refusal) < 0) {
		plan->kind = SYNC_PLAN_REFUSED;
		goto out;
	}
	if (o->n_data + o->n_binary_data > SYNC_MAX_KEYS) {
		plan->kind = SYNC_PLAN_REFUSED;
		diag_set(&plan->refusal, -E2BIG, "configmap '%s/%s' has %zu keys, more than %d",
			 o->ns, o->name, o->n_data + o->n_binary_data, SYNC_MAX_KEYS);
		goto out;
	}
	plan->kind = SYNC_PLAN_SYNC;
	plan->uid_changed = rec.uid && o->uid && strcmp(rec.uid, o->uid) != 0;
	for (i = 0; i < o->n_data; i++) {
		r = plan_key(&rec, o, &o->data[i], false, plan->uid_changed, opts, plan, &cap);
		if (r < 0)
			goto fail;
	}
	for (i = 0; i < o->n_binary_data; i++) {
		r = plan_key(&rec, o, &o->binary_data[i], true, plan->uid_changed, opts, plan,
			     &cap);
		if (r < 0)
			goto fail;
	}
	for (i = 0; i < rec.n_keys; i++) {
		struct sync_step *st;

		if (!rec.keys[i].has_file || plan_has_key(plan, rec.keys[i].name))
			continue;
		r = step_add(plan, &cap, &st);
		if (r < 0)
			goto fail;
		st->op = SYNC_OP_REMOVE;
		st->key = rec.keys[i].name;
		st->had_file = true;
	}
out:
	work_release(&rec);
	return 0;
fail:
	work_release(&rec);
	sync_plan_release(plan);
	return diag_set(d, r, "cannot plan configmap '%s/%s': %s", o->ns, o->name, strerror(-r));
}

void sync_plan_release(struct sync_plan *plan)
{
	free(plan->steps);
	plan->steps = NULL;
	plan->n_steps = 0;
}

/* @k's content is now @digest; the file keeps what it held. */
static void key_see(struct wkey *k, const uint8_t digest[SHA256_LEN])
{
	if (memcmp(k->digest, digest, SHA256_LEN) != 0) {
		if (k->has_file && k->file_is_digest)
			key_file_other(k, k->digest);
		memcpy(k->digest, digest, SHA256_LEN);
		if (k->has_file && k->has_file_digest &&
		    !memcmp(k->file_digest, digest, SHA256_LEN))
			key_file_is_digest(k);
	}
	k->known = true;
}

/* Record one step's outcome in key @k (of a selected ConfigMap). */
static void apply_step(struct wkey *k, const struct sync_step *st)
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

static void apply_remove(struct work *w, const struct sync_plan *plan)
{
	size_t i, j;

	w->selected = false;
	w->limbo = false;
	w->why = plan->why;
	for (i = 0; i < w->n_keys; i++)
		w->keys[i].desired = false;
	for (j = 0; j < plan->n_steps; j++) {
		const struct sync_step *st = &plan->steps[j];
		struct wkey *k;

		if (st->op != SYNC_OP_REMOVE || st->outcome != SYNC_OUT_REMOVED)
			continue;
		k = key_find(w, st->key);
		if (k)
			k->has_file = false;
	}
	for (i = w->n_keys; i-- > 0;)
		if (!w->keys[i].has_file)
			key_drop(w, i);
}

static int apply_sync(struct work *w, const struct sync_plan *plan, unsigned gen)
{
	size_t i, j;
	int r = 0;

	w->selected = true;
	w->gen = gen;
	w->limbo = false;
	w->why = WHY_KEY;
	for (i = 0; i < w->n_keys; i++) {
		w->keys[i].mark = false;
		if (plan->uid_changed) {
			w->keys[i].known = false;
			w->keys[i].refused = false;
		}
	}
	for (j = 0; j < plan->n_steps; j++) {
		const struct sync_step *st = &plan->steps[j];
		struct wkey *k = key_find(w, st->key);

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
			int e = key_add(w, st->key, &k);

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
	for (i = w->n_keys; i-- > 0;) {
		if (!w->keys[i].mark)
			w->keys[i].desired = false;
		if (!w->keys[i].desired && !w->keys[i].has_file)
			key_drop(w, i);
	}
	return r;
}

int sync_apply(struct sync_table *t, const struct k8s_object *o, const struct sync_plan *plan,
	       unsigned gen, struct diag *d)
{
	const struct sync_cm *c;
	struct work w;
	int r, e = 0;

	if (plan->kind == SYNC_PLAN_IGNORE || plan->kind == SYNC_PLAN_REFUSED)
		return 0;
	if ((o->uid && strlen(o->uid) > SYNC_UID_MAX) ||
	    (o->resource_version && strlen(o->resource_version) > SYNC_RV_MAX))
		return diag_set(d, -E2BIG, "configmap '%s/%s': uid or resourceVersion too long",
				o->ns, o->name);
	c = sync_table_find(t, o->ns, o->name);
	if (!c && plan->kind == SYNC_PLAN_REMOVE)
		return 0;
	r = work_load(&w, c, o->ns, o->name);
	if (r < 0)
		return diag_set(d, r, "cannot record configmap '%s/%s'", o->ns, o->name);
	w.uid = o->uid;
	w.rv = o->resource_version;
	if (plan->kind == SYNC_PLAN_REMOVE)
		apply_remove(&w, plan);
	else
		e = apply_sync(&w, plan, gen);
	r = work_store(t, &w);
	if (r < 0)
		return diag_set(d, r, "cannot record configmap '%s/%s'", o->ns, o->name);
	if (e < 0)
		return diag_set(d, e, "cannot record the keys of configmap '%s/%s'", o->ns,
				o->name);
	return 0;
}

int sync_table_removals(struct sync_table *t, sync_remove_fn fn, void *ctx)
{
	char uid[UUID_TEXT + 1];
	size_t b, i;
	int n = 0, r;

	for (b = 0; b < t->n_buckets; b++) {
		struct sync_cm **p = &t->buckets[b];

		while (*p) {
			struct sync_cm *c = *p;

			if (c->flags & R_LIMBO) {
				p = &c->next;
				continue;
			}
			contrib(t, c, -1);
			for (i = c->n_keys; i-- > 0;) {
				struct sync_removal rm;

				if (sync_cm_selected(c) && kf(&c->keys[i], K_DESIRED))
					continue;
				if (kf(&c->keys[i], K_HAS_FILE)) {
					rm.ns = rec_ns(c);
					rm.cm = rec_name(c);
					rm.key = key_name(c, i);
					rm.uid = rec_uid(c, uid);
					rm.rv = rec_rv(c);
					rm.reason = whys[sync_cm_selected(c) ? WHY_KEY : c->why];
					r = fn(ctx, &rm);
					if (r < 0) {
						contrib(t, c, +1);
						return r;
					}
					if (r == 0)
						continue;
					n++;
				}
				rec_drop_key(c, i);
			}
			contrib(t, c, +1);
			if (!c->n_keys && !sync_cm_selected(c)) {
				rec_unlink(t, p);
				continue;
			}
			p = &c->next;
		}
	}
	return n;
}
