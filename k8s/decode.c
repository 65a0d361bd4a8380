/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Streaming decoders for list responses and watch streams.
 *
 * yajl calls us back token by token.  A stack of frames says where in the
 * document we are (the list, an item, its metadata, a pod's containers, ...);
 * values we do not need are skipped without being copied.  The strings we keep
 * go into one arena per object, addressed by offsets so that the arena can grow
 * with realloc; when the object is complete the offsets become pointers, the
 * callback runs, and the arena is reset (its storage is kept, so a stream of
 * similar objects allocates nothing after the first few).
 *
 * Limits: the bytes of one object (and of anything between objects) are
 * counted precisely from yajl's consumed-byte offset, and input is handed to
 * yajl in slices that can never carry a unit more than one byte past the limit,
 * so yajl's own buffers (a token that spans feeds, an unescaped string) stay
 * bounded too.  Every allocation, yajl's included, goes through counting
 * wrappers.
 */
#include "k8s/decode.h"
#include "k8s/decode_base64.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#define NOSTR ((size_t)-1)

/* What a frame on the stack is. */
enum frame_type {
	F_SKIP = 0,  /* a value we do not need, and everything in it */
	F_LIST_ROOT, /* {"kind":"ConfigMapList","metadata":...,"items":[...]} */
	F_LIST_META,
	F_ITEMS,
	F_EVENT, /* {"type":...,"object":...} */
	F_OBJ,	 /* a ConfigMap, a Pod, or a Status */
	F_META,
	F_ANNOTATIONS,
	F_LABELS,
	F_DATA,
	F_BINDATA,
	F_SPEC,
	F_PODSC, /* spec.securityContext */
	F_CSC,	 /* a container's securityContext */
	F_SECCOMP,
	F_CONTAINERS,
	F_CONTAINER,
	F_STATUS, /* a pod's status */
	F_DETAILS,
	F_CAUSES,
	F_CAUSE,
};

/* The keys we look at; K_NONE is any other key (its value is skipped). */
enum key {
	K_NONE = 0,
	K_PAIR, /* a key of annotations, labels, data or binaryData */
	K_METADATA,
	K_ITEMS,
	K_RV,
	K_CONTINUE,
	K_TYPE,
	K_OBJECT,
	K_DATA,
	K_BINDATA,
	K_SPEC,
	K_STATUS,
	K_CODE,
	K_REASON,
	K_MESSAGE,
	K_DETAILS,
	K_NAMESPACE,
	K_NAME,
	K_UID,
	K_DELETION,
	K_ANNOTATIONS,
	K_LABELS,
	K_NODENAME,
	K_SECCTX,
	K_CONTAINERS,
	K_INITCONTAINERS,
	K_EPHEMERAL,
	K_SECCOMP,
	K_LOCALHOST,
	K_PHASE,
	K_CAUSES,
};

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_MAP, J_ARR };

/* The decoder's internal mode: the two public streams plus a lone Status. */
enum mode { M_LIST, M_WATCH, M_STATUS };

struct frame {
	uint8_t type;
	uint8_t key; /* the key whose value comes next (maps) */
	uint8_t src; /* enum k8s_ref_source of containers and seccompProfile frames */
	uint32_t n;  /* elements seen (arrays) */
};

struct poff {
	size_t key, val, len;
};

struct roff {
	enum k8s_ref_source source;
	size_t container, path;
};

struct pvec {
	struct poff *v;
	size_t n, cap;
};

struct rvec {
	struct roff *v;
	size_t n, cap;
};

/* The object being decoded, as offsets into the arena. */
struct build {
	size_t ns, name, uid, rv, node_name, phase;
	bool deleting;
	bool meta_seen;
	bool skip_bodies; /* metadata seen and the required annotation is missing */
	struct pvec ann, lab, data, bin;
	struct rvec refs;
	size_t pending_key;
	/* the seccompProfile being read, and the container it belongs to */
	bool sc_localhost;
	size_t sc_path;
	bool c_localhost;
	size_t c_name, c_path;
};

struct k8s_decoder {
	enum mode mode;
	enum k8s_kind kind;
	size_t max_object;
	const char *require;
	size_t require_len;
	const struct k8s_decode_ops *ops;
	void *ctx;

	yajl_handle yh;
	struct frame stack[K8S_DECODE_MAX_DEPTH];
	size_t depth;

	size_t consumed;   /* stream bytes handed to yajl and accepted */
	size_t base;	   /* stream offset of the slice yajl is parsing */
	size_t unit_start; /* where the current object (or gap between objects) began */
	size_t n_values;   /* top-level values (watch) started */
	bool seen_nonws;
	bool list_done;

	/* the event being decoded */
	enum k8s_event_type ev_type;
	bool ev_object;
	struct k8s_status st;

	struct k8s_list_meta list_meta;

	char *arena;
	size_t alen, acap, amax;
	struct build b;

	/* dispatch-time arrays, kept between objects */
	struct k8s_pair *out_pairs;
	size_t out_pairs_cap;
	struct k8s_profile_ref *out_refs;
	size_t out_refs_cap;

	/* input held back so that no string is cut between two yajl feeds */
	bool q_in;  /* the input ends inside a string */
	bool q_esc; /* ... right after a backslash */
	unsigned char *carry;
	size_t carry_len, carry_cap;

	int err; /* set by a callback that stopped the parse, or once spent */
	struct diag diag;

	struct k8s_decode_mem mem;
	size_t mem_cap;
	bool mem_over;
};

/* ---- counting allocator (also handed to yajl) ---- */

union memhdr {
	size_t size;
	max_align_t align;
};

static void mem_account(struct k8s_decoder *dec, size_t old, size_t new)
{
	dec->mem.current = dec->mem.current - old + new;
	if (dec->mem.current > dec->mem.peak)
		dec->mem.peak = dec->mem.current;
	if (dec->mem.current > dec->mem_cap)
		dec->mem_over = true;
}

static void *mem_malloc(void *ctx, size_t size)
{
	struct k8s_decoder *dec = ctx;
	union memhdr *h;

	if (size > SIZE_MAX - sizeof(*h))
		return NULL;
	h = malloc(sizeof(*h) + size);
	if (!h)
		return NULL;
	h->size = size;
	dec->mem.allocs++;
	mem_account(dec, 0, size);
	return h + 1;
}

static void mem_free(void *ctx, void *p)
{
	union memhdr *h;

	if (!p)
		return;
	h = (union memhdr *)p - 1;
	mem_account(ctx, h->size, 0);
	free(h);
}

static void *mem_realloc(void *ctx, void *p, size_t size)
{
	struct k8s_decoder *dec = ctx;
	union memhdr *h, *n;
	size_t old;

	if (!p)
		return mem_malloc(ctx, size);
	if (size > SIZE_MAX - sizeof(*h))
		return NULL;
	h = (union memhdr *)p - 1;
	old = h->size;
	n = realloc(h, sizeof(*n) + size);
	if (!n)
		return NULL;
	n->size = size;
	dec->mem.allocs++;
	mem_account(dec, old, size);
	return n + 1;
}

/* Grow a vector of @elsize-byte elements to hold @want elements. */
static int vec_reserve(struct k8s_decoder *dec, void **v, size_t *cap, size_t want, size_t elsize)
{
	size_t ncap;
	void *p;

	if (want <= *cap)
		return 0;
	ncap = *cap ? *cap : 16;
	while (ncap < want)
		ncap *= 2;
	if (ncap > SIZE_MAX / elsize)
		return -ENOMEM;
	p = mem_realloc(dec, *v, ncap * elsize);
	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = ncap;
	return 0;
}

/* ---- helpers ---- */

/* The stream offset just past the token yajl is reporting. */
static size_t pos(const struct k8s_decoder *dec)
{
	return dec->base + yajl_get_bytes_consumed(dec->yh);
}

/* A short, printable rendering of untrusted text for a diag. */
static const char *shown(char *out, size_t cap, const char *s, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len && n + 4 < cap; i++) {
		unsigned char c = (unsigned char)s[i];

		out[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	if (i < len) {
		out[n++] = '.';
		out[n++] = '.';
		out[n++] = '.';
	}
	out[n] = '\0';
	return out;
}

static int bad(struct k8s_decoder *dec, const char *what)
{
	return diag_set(&dec->diag, -EBADMSG, "%s at byte %zu", what, pos(dec));
}

static const char *arena_str(const struct k8s_decoder *dec, size_t off)
{
	return off == NOSTR ? "" : dec->arena + off;
}

static int arena_reserve(struct k8s_decoder *dec, size_t extra)
{
	size_t need, ncap;
	char *p;

	if (extra > dec->amax || dec->alen > dec->amax - extra)
		return diag_set(&dec->diag, -E2BIG, "object at byte %zu holds more than %zu bytes",
				dec->unit_start, dec->amax);
	need = dec->alen + extra;
	if (need <= dec->acap)
		return 0;
	ncap = dec->acap ? dec->acap : 4096;
	while (ncap < need)
		ncap *= 2;
	p = mem_realloc(dec, dec->arena, ncap);
	if (!p)
		return diag_set(&dec->diag, -ENOMEM, "out of memory decoding object at byte %zu",
				dec->unit_start);
	dec->arena = p;
	dec->acap = ncap;
	return 0;
}

/* Copy @len bytes and a NUL into the arena; *@off is where they start. */
static int arena_put(struct k8s_decoder *dec, const void *s, size_t len, size_t *off)
{
	int r = arena_reserve(dec, len + 1);

	if (r < 0)
		return r;
	*off = dec->alen;
	if (len)
		memcpy(dec->arena + dec->alen, s, len);
	dec->arena[dec->alen + len] = '\0';
	dec->alen += len + 1;
	return 0;
}

/* A string that names something (not a data value): no NUL bytes allowed. */
static int put_name(struct k8s_decoder *dec, const char *s, size_t len, size_t *off,
		    const char *what)
{
	char msg[96];

	if (memchr(s, '\0', len)) {
		(void)diag_set(&dec->diag, 0, "%s contains a NUL byte", what);
		memcpy(msg, dec->diag.msg, sizeof(msg) - 1);
		msg[sizeof(msg) - 1] = '\0';
		return bad(dec, msg);
	}
	return arena_put(dec, s, len, off);
}

static void build_reset(struct k8s_decoder *dec)
{
	struct build *b = &dec->b;

	dec->alen = 0;
	b->ns = b->name = b->uid = b->rv = b->node_name = b->phase = NOSTR;
	b->deleting = false;
	b->meta_seen = false;
	b->skip_bodies = false;
	b->ann.n = b->lab.n = b->data.n = b->bin.n = 0;
	b->refs.n = 0;
	b->pending_key = NOSTR;
	b->sc_localhost = false;
	b->sc_path = NOSTR;
	b->c_localhost = false;
	b->c_name = b->c_path = NOSTR;
	memset(&dec->st, 0, sizeof(dec->st));
}

static int pair_add(struct k8s_decoder *dec, struct pvec *pv, size_t key, size_t val, size_t len)
{
	if (pv->n >= K8S_DECODE_MAX_PAIRS)
		return diag_set(&dec->diag, -E2BIG, "more than %d entries in a map at byte %zu",
				K8S_DECODE_MAX_PAIRS, pos(dec));
	if (vec_reserve(dec, (void **)&pv->v, &pv->cap, pv->n + 1, sizeof(*pv->v)) < 0)
		return diag_set(&dec->diag, -ENOMEM, "out of memory at byte %zu", pos(dec));
	pv->v[pv->n].key = key;
	pv->v[pv->n].val = val;
	pv->v[pv->n].len = len;
	pv->n++;
	return 0;
}

static int ref_add(struct k8s_decoder *dec, enum k8s_ref_source src, size_t container, size_t path)
{
	struct rvec *rv = &dec->b.refs;

	if (vec_reserve(dec, (void **)&rv->v, &rv->cap, rv->n + 1, sizeof(*rv->v)) < 0)
		return diag_set(&dec->diag, -ENOMEM, "out of memory at byte %zu", pos(dec));
	rv->v[rv->n].source = src;
	rv->v[rv->n].container = container;
	rv->v[rv->n].path = path;
	rv->n++;
	return 0;
}

/* The required annotation is present with the exact value "true". */
static bool annotated(const struct k8s_decoder *dec)
{
	size_t i;

	for (i = 0; i < dec->b.ann.n; i++) {
		const struct poff *p = &dec->b.ann.v[i];

		if (strcmp(arena_str(dec, p->key), dec->require) == 0)
			return p->len == 4 && memcmp(dec->arena + p->val, "true", 4) == 0;
	}
	return false;
}

static bool want_bodies(const struct k8s_decoder *dec)
{
	return dec->kind == K8S_KIND_CONFIGMAP && !dec->b.skip_bodies;
}

/* ---- keys ---- */

static bool key_is(const char *k, size_t len, const char *name)
{
	return strlen(name) == len && memcmp(k, name, len) == 0;
}

static enum key key_lookup(const struct frame *f, const char *k, size_t len)
{
	switch (f->type) {
	case F_LIST_ROOT:
		if (key_is(k, len, "items"))
			return K_ITEMS;
		if (key_is(k, len, "metadata"))
			return K_METADATA;
		break;
	case F_LIST_META:
		if (key_is(k, len, "resourceVersion"))
			return K_RV;
		if (key_is(k, len, "continue"))
			return K_CONTINUE;
		break;
	case F_EVENT:
		if (key_is(k, len, "type"))
			return K_TYPE;
		if (key_is(k, len, "object"))
			return K_OBJECT;
		break;
	case F_OBJ:
		if (key_is(k, len, "metadata"))
			return K_METADATA;
		if (key_is(k, len, "data"))
			return K_DATA;
		if (key_is(k, len, "binaryData"))
			return K_BINDATA;
		if (key_is(k, len, "spec"))
			return K_SPEC;
		if (key_is(k, len, "status"))
			return K_STATUS;
		if (key_is(k, len, "code"))
			return K_CODE;
		if (key_is(k, len, "reason"))
			return K_REASON;
		if (key_is(k, len, "message"))
			return K_MESSAGE;
		if (key_is(k, len, "details"))
			return K_DETAILS;
		break;
	case F_META:
		if (key_is(k, len, "name"))
			return K_NAME;
		if (key_is(k, len, "namespace"))
			return K_NAMESPACE;
		if (key_is(k, len, "uid"))
			return K_UID;
		if (key_is(k, len, "resourceVersion"))
			return K_RV;
		if (key_is(k, len, "deletionTimestamp"))
			return K_DELETION;
		if (key_is(k, len, "annotations"))
			return K_ANNOTATIONS;
		if (key_is(k, len, "labels"))
			return K_LABELS;
		break;
	case F_SPEC:
		if (key_is(k, len, "nodeName"))
			return K_NODENAME;
		if (key_is(k, len, "securityContext"))
			return K_SECCTX;
		if (key_is(k, len, "containers"))
			return K_CONTAINERS;
		if (key_is(k, len, "initContainers"))
			return K_INITCONTAINERS;
		if (key_is(k, len, "ephemeralContainers"))
			return K_EPHEMERAL;
		break;
	case F_PODSC:
	case F_CSC:
		if (key_is(k, len, "seccompProfile"))
			return K_SECCOMP;
		break;
	case F_SECCOMP:
		if (key_is(k, len, "type"))
			return K_TYPE;
		if (key_is(k, len, "localhostProfile"))
			return K_LOCALHOST;
		break;
	case F_CONTAINER:
		if (key_is(k, len, "name"))
			return K_NAME;
		if (key_is(k, len, "securityContext"))
			return K_SECCTX;
		break;
	case F_STATUS:
		if (key_is(k, len, "phase"))
			return K_PHASE;
		break;
	case F_DETAILS:
		if (key_is(k, len, "causes"))
			return K_CAUSES;
		break;
	case F_CAUSE:
		if (key_is(k, len, "reason"))
			return K_REASON;
		break;
	default:
		break;
	}
	return K_NONE;
}

/* ---- values ---- */

static int push(struct k8s_decoder *dec, enum frame_type type, uint8_t src)
{
	struct frame *f;

	if (dec->depth >= K8S_DECODE_MAX_DEPTH)
		return diag_set(&dec->diag, -EBADMSG, "nesting deeper than %d at byte %zu",
				K8S_DECODE_MAX_DEPTH, pos(dec));
	f = &dec->stack[dec->depth++];
	f->type = (uint8_t)type;
	f->key = K_NONE;
	f->src = src;
	f->n = 0;
	return 0;
}

/* A value we do not need: remember to skip it if it is a container. */
static int skip(struct k8s_decoder *dec, enum jtype t)
{
	if (t == J_MAP || t == J_ARR)
		return push(dec, F_SKIP, 0);
	return 0;
}

static void fixed_copy(char *dst, size_t cap, const char *s, size_t len)
{
	size_t n = strnlen(s, len);

	if (n >= cap)
		n = cap - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

static int list_meta_value(struct k8s_decoder *dec, enum key k, enum jtype t, const char *s,
			   size_t len)
{
	char *dst;
	size_t cap;

	if (k == K_RV) {
		dst = dec->list_meta.resource_version;
		cap = sizeof(dec->list_meta.resource_version);
	} else if (k == K_CONTINUE) {
		dst = dec->list_meta.continue_token;
		cap = sizeof(dec->list_meta.continue_token);
	} else {
		return skip(dec, t);
	}
	if (t == J_NULL) {
		dst[0] = '\0';
		return 0;
	}
	if (t != J_STR)
		return bad(dec, k == K_RV ? "list resourceVersion is not a string"
					  : "list continue token is not a string");
	if (memchr(s, '\0', len))
		return bad(dec, "list metadata contains a NUL byte");
	if (len >= cap)
		return diag_set(&dec->diag, -E2BIG,
				"list metadata value longer than %zu bytes at byte %zu", cap - 1,
				pos(dec));
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 0;
}

static int event_type(struct k8s_decoder *dec, enum jtype t, const char *s, size_t len)
{
	static const struct {
		const char *name;
		enum k8s_event_type type;
	} types[] = {
		{ "ADDED", K8S_EV_ADDED },     { "MODIFIED", K8S_EV_MODIFIED },
		{ "DELETED", K8S_EV_DELETED }, { "BOOKMARK", K8S_EV_BOOKMARK },
		{ "ERROR", K8S_EV_ERROR },
	};
	char show[48];
	size_t i;

	if (t != J_STR)
		return bad(dec, "watch event type is not a string");
	if (dec->ev_type)
		return bad(dec, "watch event with two types");
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (key_is(s, len, types[i].name)) {
			dec->ev_type = types[i].type;
			return 0;
		}
	}
	return diag_set(&dec->diag, -EBADMSG, "unknown watch event type '%s' at byte %zu",
			shown(show, sizeof(show), s, len), pos(dec));
}

/* An optional string field: null means absent, any other non-string is malformed. */
static int name_field(struct k8s_decoder *dec, enum jtype t, const char *s, size_t len, size_t *off,
		      const char *what)
{
	char msg[96];

	if (t == J_NULL)
		return 0;
	if (t != J_STR) {
		(void)diag_set(&dec->diag, 0, "%s is not a string", what);
		memcpy(msg, dec->diag.msg, sizeof(msg) - 1);
		msg[sizeof(msg) - 1] = '\0';
		return bad(dec, msg);
	}
	return put_name(dec, s, len, off, what);
}

/* An optional object or array field: null means absent. */
static int nested(struct k8s_decoder *dec, enum jtype t, enum jtype want, enum frame_type type,
		  uint8_t src, const char *what)
{
	char msg[96];

	if (t == J_NULL)
		return 0;
	if (t != want) {
		(void)diag_set(&dec->diag, 0, "%s is not %s", what,
			       want == J_MAP ? "an object" : "an array");
		memcpy(msg, dec->diag.msg, sizeof(msg) - 1);
		msg[sizeof(msg) - 1] = '\0';
		return bad(dec, msg);
	}
	return push(dec, type, src);
}

static int obj_value(struct k8s_decoder *dec, enum key k, enum jtype t, const char *s, size_t len)
{
	char num[24];

	switch (k) {
	case K_METADATA:
		if (dec->b.meta_seen)
			return bad(dec, "object with two metadata fields");
		return nested(dec, t, J_MAP, F_META, 0, "metadata");
	case K_DATA:
		if (dec->kind != K8S_KIND_CONFIGMAP)
			break;
		return nested(dec, t, J_MAP, F_DATA, 0, "data");
	case K_BINDATA:
		if (dec->kind != K8S_KIND_CONFIGMAP)
			break;
		return nested(dec, t, J_MAP, F_BINDATA, 0, "binaryData");
	case K_SPEC:
		if (dec->kind != K8S_KIND_POD)
			break;
		return nested(dec, t, J_MAP, F_SPEC, 0, "spec");
	case K_STATUS:
		/* a pod's status object; a Status's "status" is a string we ignore */
		if (dec->kind != K8S_KIND_POD || t != J_MAP)
			break;
		return push(dec, F_STATUS, 0);
	case K_CODE:
		if (t == J_NUM && len < sizeof(num)) {
			char *end;
			long v;

			memcpy(num, s, len);
			num[len] = '\0';
			errno = 0;
			v = strtol(num, &end, 10);
			if (!errno && *end == '\0' && v >= 0 && v < 1000)
				dec->st.code = (int)v;
		}
		break;
	case K_REASON:
		if (t == J_STR)
			fixed_copy(dec->st.reason, sizeof(dec->st.reason), s, len);
		break;
	case K_MESSAGE:
		if (t == J_STR)
			fixed_copy(dec->st.message, sizeof(dec->st.message), s, len);
		break;
	case K_DETAILS:
		if (t == J_MAP)
			return push(dec, F_DETAILS, 0);
		break;
	default:
		break;
	}
	return skip(dec, t);
}

static int meta_value(struct k8s_decoder *dec, enum key k, enum jtype t, const char *s, size_t len)
{
	struct build *b = &dec->b;

	switch (k) {
	case K_NAMESPACE:
		return name_field(dec, t, s, len, &b->ns, "metadata.namespace");
	case K_NAME:
		return name_field(dec, t, s, len, &b->name, "metadata.name");
	case K_UID:
		return name_field(dec, t, s, len, &b->uid, "metadata.uid");
	case K_RV:
		return name_field(dec, t, s, len, &b->rv, "metadata.resourceVersion");
	case K_DELETION:
		if (t == J_NULL)
			return 0;
		if (t != J_STR)
			return bad(dec, "metadata.deletionTimestamp is not a string");
		b->deleting = true;
		return 0;
	case K_ANNOTATIONS:
		return nested(dec, t, J_MAP, F_ANNOTATIONS, 0, "metadata.annotations");
	case K_LABELS:
		return nested(dec, t, J_MAP, F_LABELS, 0, "metadata.labels");
	default:
		return skip(dec, t);
	}
}

/* A value in annotations, labels, data or binaryData. */
static int pair_value(struct k8s_decoder *dec, enum frame_type ft, enum jtype t, const char *s,
		      size_t len)
{
	struct build *b = &dec->b;
	size_t key = b->pending_key, off = 0, n = 0;
	int r;

	b->pending_key = NOSTR;
	if (t == J_NULL) {
		s = "";
		len = 0;
	} else if (t != J_STR) {
		return bad(dec, ft == F_ANNOTATIONS ? "annotation value is not a string"
				: ft == F_LABELS    ? "label value is not a string"
				: ft == F_DATA	    ? "data value is not a string"
						    : "binaryData value is not a string");
	}
	if (key == NOSTR) /* a body we decided not to keep */
		return 0;
	switch (ft) {
	case F_ANNOTATIONS:
		r = put_name(dec, s, len, &off, "annotation value");
		return r < 0 ? r : pair_add(dec, &b->ann, key, off, len);
	case F_LABELS:
		r = put_name(dec, s, len, &off, "label value");
		return r < 0 ? r : pair_add(dec, &b->lab, key, off, len);
	case F_DATA:
		r = arena_put(dec, s, len, &off);
		return r < 0 ? r : pair_add(dec, &b->data, key, off, len);
	default:
		r = arena_reserve(dec, K8S_BASE64_DECODED_MAX(len) + 1);
		if (r < 0)
			return r;
		off = dec->alen;
		if (k8s_base64_decode(s, len, dec->arena + off, &n) < 0) {
			char show[48];

			return diag_set(&dec->diag, -EBADMSG,
					"binaryData key '%s' is not valid base64 at byte %zu",
					shown(show, sizeof(show), arena_str(dec, key),
					      strlen(arena_str(dec, key))),
					pos(dec));
		}
		dec->arena[off + n] = '\0';
		dec->alen += n + 1;
		return pair_add(dec, &b->bin, key, off, n);
	}
}

static int spec_value(struct k8s_decoder *dec, enum key k, enum jtype t, const char *s, size_t len)
{
	switch (k) {
	case K_NODENAME:
		return name_field(dec, t, s, len, &dec->b.node_name, "spec.nodeName");
	case K_SECCTX:
		return nested(dec, t, J_MAP, F_PODSC, 0, "spec.securityContext");
	case K_CONTAINERS:
		return nested(dec, t, J_ARR, F_CONTAINERS, K8S_REF_CONTAINER, "spec.containers");
	case K_INITCONTAINERS:
		return nested(dec, t, J_ARR, F_CONTAINERS, K8S_REF_INIT_CONTAINER,
			      "spec.initContainers");
	case K_EPHEMERAL:
		return nested(dec, t, J_ARR, F_CONTAINERS, K8S_REF_EPHEMERAL_CONTAINER,
			      "spec.ephemeralContainers");
	default:
		return skip(dec, t);
	}
}

static int seccomp_value(struct k8s_decoder *dec, enum key k, enum jtype t, const char *s,
			 size_t len)
{
	if (k == K_TYPE) {
		if (t == J_NULL)
			return 0;
		if (t != J_STR)
			return bad(dec, "seccompProfile.type is not a string");
		dec->b.sc_localhost = key_is(s, len, "Localhost");
		return 0;
	}
	if (k == K_LOCALHOST)
		return name_field(dec, t, s, len, &dec->b.sc_path,
				  "seccompProfile.localhostProfile");
	return skip(dec, t);
}

/* The first value of a stream (or of each event in a watch). */
static int root_value(struct k8s_decoder *dec, enum jtype t)
{
	switch (dec->mode) {
	case M_LIST:
		if (t != J_MAP)
			return bad(dec, "list response is not a JSON object");
		return push(dec, F_LIST_ROOT, 0);
	case M_WATCH:
		if (t != J_MAP)
			return bad(dec, "watch event is not a JSON object");
		dec->n_values++;
		dec->unit_start = pos(dec) - 1;
		dec->ev_type = 0;
		dec->ev_object = false;
		build_reset(dec);
		return push(dec, F_EVENT, 0);
	default:
		if (t != J_MAP)
			return bad(dec, "status is not a JSON object");
		build_reset(dec);
		return push(dec, F_OBJ, 0);
	}
}

static int on_value(struct k8s_decoder *dec, enum jtype t, const char *s, size_t len)
{
	struct frame *f;
	enum key k;

	if (dec->depth == 0)
		return root_value(dec, t);
	f = &dec->stack[dec->depth - 1];
	k = f->key;
	f->key = K_NONE;
	switch (f->type) {
	case F_SKIP:
		return skip(dec, t);
	case F_LIST_ROOT:
		if (k == K_METADATA)
			return nested(dec, t, J_MAP, F_LIST_META, 0, "list metadata");
		if (k == K_ITEMS)
			return nested(dec, t, J_ARR, F_ITEMS, 0, "list items");
		return skip(dec, t);
	case F_LIST_META:
		return list_meta_value(dec, k, t, s, len);
	case F_ITEMS:
		if (t != J_MAP)
			return bad(dec, "list item is not an object");
		dec->unit_start = pos(dec) - 1;
		build_reset(dec);
		return push(dec, F_OBJ, 0);
	case F_EVENT:
		if (k == K_TYPE)
			return event_type(dec, t, s, len);
		if (k == K_OBJECT) {
			if (t != J_MAP)
				return bad(dec, "watch event object is not an object");
			if (dec->ev_object)
				return bad(dec, "watch event with two objects");
			dec->ev_object = true;
			return push(dec, F_OBJ, 0);
		}
		return skip(dec, t);
	case F_OBJ:
		return obj_value(dec, k, t, s, len);
	case F_META:
		return meta_value(dec, k, t, s, len);
	case F_ANNOTATIONS:
	case F_LABELS:
	case F_DATA:
	case F_BINDATA:
		return pair_value(dec, f->type, t, s, len);
	case F_SPEC:
		return spec_value(dec, k, t, s, len);
	case F_PODSC:
	case F_CSC:
		if (k != K_SECCOMP)
			return skip(dec, t);
		dec->b.sc_localhost = false;
		dec->b.sc_path = NOSTR;
		return nested(dec, t, J_MAP, F_SECCOMP, f->type == F_PODSC ? K8S_REF_POD : f->src,
			      "securityContext.seccompProfile");
	case F_SECCOMP:
		return seccomp_value(dec, k, t, s, len);
	case F_CONTAINERS:
		if (t != J_MAP)
			return bad(dec, "container is not an object");
		dec->b.c_localhost = false;
		dec->b.c_name = dec->b.c_path = NOSTR;
		return push(dec, F_CONTAINER, f->src);
	case F_CONTAINER:
		if (k == K_NAME)
			return name_field(dec, t, s, len, &dec->b.c_name, "container name");
		if (k == K_SECCTX)
			return nested(dec, t, J_MAP, F_CSC, f->src, "container securityContext");
		return skip(dec, t);
	case F_STATUS:
		if (k == K_PHASE)
			return name_field(dec, t, s, len, &dec->b.phase, "status.phase");
		return skip(dec, t);
	case F_DETAILS:
		if (k == K_CAUSES && t == J_ARR)
			return push(dec, F_CAUSES, 0);
		return skip(dec, t);
	case F_CAUSES:
		if (f->n++ == 0 && t == J_MAP)
			return push(dec, F_CAUSE, 0);
		return skip(dec, t);
	case F_CAUSE:
		if (k == K_REASON && t == J_STR)
			fixed_copy(dec->st.cause, sizeof(dec->st.cause), s, len);
		else
			return skip(dec, t);
		return 0;
	default:
		return skip(dec, t);
	}
}

static int on_key(struct k8s_decoder *dec, const char *k, size_t len)
{
	struct frame *f = &dec->stack[dec->depth - 1];
	struct build *b = &dec->b;

	switch (f->type) {
	case F_SKIP:
		return 0;
	case F_ANNOTATIONS:
		return put_name(dec, k, len, &b->pending_key, "annotation key");
	case F_LABELS:
		return put_name(dec, k, len, &b->pending_key, "label key");
	case F_DATA:
	case F_BINDATA:
		if (!want_bodies(dec)) {
			/* still refuse what could never be a file name */
			if (memchr(k, '\0', len))
				return bad(dec, "data key contains a NUL byte");
			b->pending_key = NOSTR;
			return 0;
		}
		return put_name(dec, k, len, &b->pending_key, "data key");
	default:
		f->key = (uint8_t)key_lookup(f, k, len);
		return 0;
	}
}

/* ---- completed objects ---- */

static int out_reserve(struct k8s_decoder *dec, size_t pairs, size_t refs)
{
	if (vec_reserve(dec, (void **)&dec->out_pairs, &dec->out_pairs_cap, pairs,
			sizeof(*dec->out_pairs)) < 0 ||
	    vec_reserve(dec, (void **)&dec->out_refs, &dec->out_refs_cap, refs,
			sizeof(*dec->out_refs)) < 0)
		return diag_set(&dec->diag, -ENOMEM, "out of memory at byte %zu", pos(dec));
	return 0;
}

static const struct k8s_pair *fill_pairs(const struct k8s_decoder *dec, const struct pvec *pv,
					 struct k8s_pair *out)
{
	size_t i;

	for (i = 0; i < pv->n; i++) {
		out[i].key = arena_str(dec, pv->v[i].key);
		out[i].value = arena_str(dec, pv->v[i].val);
		out[i].value_len = pv->v[i].len;
	}
	return pv->n ? out : NULL;
}

#define POD_ANNOTATION	     "seccomp.security.alpha.kubernetes.io/pod"
#define CONTAINER_ANNOTATION "container.seccomp.security.alpha.kubernetes.io/"

/* The legacy annotations: values "localhost/<path>" are references. */
static int annotation_refs(struct k8s_decoder *dec)
{
	size_t i, n = dec->b.ann.n, plen = strlen(CONTAINER_ANNOTATION);
	int r;

	for (i = 0; i < n; i++) {
		const struct poff *p = &dec->b.ann.v[i];
		const char *key = arena_str(dec, p->key), *val = arena_str(dec, p->val);

		if (p->len <= 10 || memcmp(val, "localhost/", 10) != 0)
			continue;
		if (strcmp(key, POD_ANNOTATION) == 0)
			r = ref_add(dec, K8S_REF_POD_ANNOTATION, NOSTR, p->val + 10);
		else if (strncmp(key, CONTAINER_ANNOTATION, plen) == 0 && key[plen])
			r = ref_add(dec, K8S_REF_CONTAINER_ANNOTATION, p->key + plen, p->val + 10);
		else
			continue;
		if (r < 0)
			return r;
	}
	return 0;
}

/* Hand the completed object to the callback as @type, then forget it. */
static int deliver(struct k8s_decoder *dec, enum k8s_event_type type)
{
	struct build *b = &dec->b;
	struct k8s_object o;
	struct k8s_pair *pp;
	size_t i;
	int r;

	memset(&o, 0, sizeof(o));
	o.kind = dec->kind;
	o.ns = o.name = o.uid = o.node_name = o.phase = "";
	o.resource_version = arena_str(dec, b->rv);
	if (type == K8S_EV_BOOKMARK) {
		b->lab.n = b->data.n = b->bin.n = b->refs.n = 0;
	} else {
		o.ns = arena_str(dec, b->ns);
		o.name = arena_str(dec, b->name);
		o.uid = arena_str(dec, b->uid);
		o.deleting = b->deleting;
		if (dec->kind == K8S_KIND_CONFIGMAP && dec->require && !annotated(dec)) {
			o.data_skipped = true;
			b->data.n = b->bin.n = 0;
		}
		if (dec->kind == K8S_KIND_POD) {
			o.node_name = arena_str(dec, b->node_name);
			o.phase = arena_str(dec, b->phase);
			r = annotation_refs(dec);
			if (r < 0)
				return r;
		}
	}
	r = out_reserve(dec, b->ann.n + b->lab.n + b->data.n + b->bin.n, b->refs.n);
	if (r < 0)
		return r;
	pp = dec->out_pairs;
	o.annotations = fill_pairs(dec, &b->ann, pp);
	o.n_annotations = b->ann.n;
	pp += b->ann.n;
	o.labels = fill_pairs(dec, &b->lab, pp);
	o.n_labels = b->lab.n;
	pp += b->lab.n;
	o.data = fill_pairs(dec, &b->data, pp);
	o.n_data = b->data.n;
	pp += b->data.n;
	o.binary_data = fill_pairs(dec, &b->bin, pp);
	o.n_binary_data = b->bin.n;
	for (i = 0; i < b->refs.n; i++) {
		dec->out_refs[i].source = b->refs.v[i].source;
		dec->out_refs[i].container = b->refs.v[i].container == NOSTR
						     ? NULL
						     : arena_str(dec, b->refs.v[i].container);
		dec->out_refs[i].path = arena_str(dec, b->refs.v[i].path);
	}
	o.refs = b->refs.n ? dec->out_refs : NULL;
	o.n_refs = b->refs.n;

	r = dec->ops && dec->ops->object ? dec->ops->object(dec->ctx, type, &o) : 0;
	build_reset(dec);
	if (r < 0)
		return diag_set(&dec->diag, r, "object handler stopped decoding at byte %zu: %s",
				pos(dec), strerror(-r));
	return 0;
}

/* The end of one object or event: check its size, start counting the gap. */
static int unit_end(struct k8s_decoder *dec)
{
	size_t at = pos(dec);

	if (at - dec->unit_start > dec->max_object)
		return diag_set(&dec->diag, -E2BIG,
				"object at byte %zu is %zu bytes, more than the limit of %zu",
				dec->unit_start, at - dec->unit_start, dec->max_object);
	dec->unit_start = at;
	return 0;
}

static int event_end(struct k8s_decoder *dec)
{
	int r = unit_end(dec);

	if (r < 0)
		return r;
	if (!dec->ev_type)
		return bad(dec, "watch event without a type");
	if (!dec->ev_object)
		return bad(dec, "watch event without an object");
	if (dec->ev_type == K8S_EV_ERROR) {
		r = dec->ops && dec->ops->error ? dec->ops->error(dec->ctx, &dec->st) : 0;
		build_reset(dec);
		if (r < 0)
			return diag_set(&dec->diag, r,
					"error handler stopped decoding at byte %zu: %s", pos(dec),
					strerror(-r));
		return 0;
	}
	return deliver(dec, dec->ev_type);
}

static int on_close(struct k8s_decoder *dec)
{
	struct frame f = dec->stack[--dec->depth];
	const struct frame *parent = dec->depth ? &dec->stack[dec->depth - 1] : NULL;
	struct build *b = &dec->b;
	int r;

	switch (f.type) {
	case F_EVENT:
		return event_end(dec);
	case F_LIST_ROOT:
		dec->list_done = true;
		return 0;
	case F_OBJ:
		if (parent && parent->type == F_ITEMS) {
			r = unit_end(dec);
			return r < 0 ? r : deliver(dec, K8S_EV_ADDED);
		}
		if (!parent) /* a lone Status */
			dec->list_done = true;
		return 0;
	case F_META:
		b->meta_seen = true;
		if (dec->kind == K8S_KIND_CONFIGMAP && dec->require && !annotated(dec))
			b->skip_bodies = true;
		return 0;
	case F_SECCOMP:
		if (f.src == K8S_REF_POD) {
			if (b->sc_localhost && b->sc_path != NOSTR)
				return ref_add(dec, K8S_REF_POD, NOSTR, b->sc_path);
			return 0;
		}
		b->c_localhost = b->sc_localhost;
		b->c_path = b->sc_path;
		return 0;
	case F_CONTAINER:
		if (b->c_localhost && b->c_path != NOSTR) {
			if (b->c_name == NOSTR) {
				r = arena_put(dec, "", 0, &b->c_name);
				if (r < 0)
					return r;
			}
			return ref_add(dec, (enum k8s_ref_source)f.src, b->c_name, b->c_path);
		}
		return 0;
	default:
		return 0;
	}
}

/* ---- yajl callbacks: 1 to go on, 0 to stop (the reason is in dec->err) ---- */

static int cb_result(struct k8s_decoder *dec, int r)
{
	if (r < 0) {
		dec->err = r;
		return 0;
	}
	return 1;
}

static int cb_null(void *ctx)
{
	return cb_result(ctx, on_value(ctx, J_NULL, NULL, 0));
}

static int cb_boolean(void *ctx, int v)
{
	(void)v;
	return cb_result(ctx, on_value(ctx, J_BOOL, NULL, 0));
}

static int cb_number(void *ctx, const char *s, size_t len)
{
	return cb_result(ctx, on_value(ctx, J_NUM, s, len));
}

static int cb_string(void *ctx, const unsigned char *s, size_t len)
{
	return cb_result(ctx, on_value(ctx, J_STR, (const char *)s, len));
}

static int cb_start_map(void *ctx)
{
	return cb_result(ctx, on_value(ctx, J_MAP, NULL, 0));
}

static int cb_map_key(void *ctx, const unsigned char *k, size_t len)
{
	return cb_result(ctx, on_key(ctx, (const char *)k, len));
}

static int cb_end(void *ctx)
{
	return cb_result(ctx, on_close(ctx));
}

static int cb_start_array(void *ctx)
{
	return cb_result(ctx, on_value(ctx, J_ARR, NULL, 0));
}

static const yajl_callbacks callbacks = {
	.yajl_null = cb_null,
	.yajl_boolean = cb_boolean,
	.yajl_number = cb_number,
	.yajl_string = cb_string,
	.yajl_start_map = cb_start_map,
	.yajl_map_key = cb_map_key,
	.yajl_end_map = cb_end,
	.yajl_start_array = cb_start_array,
	.yajl_end_array = cb_end,
};

/* ---- public ---- */

static int decoder_new(enum mode mode, const struct k8s_decode_opts *opts,
		       const struct k8s_decode_ops *ops, void *ctx, struct k8s_decoder **out,
		       struct diag *d)
{
	struct k8s_decoder *dec;
	yajl_alloc_funcs af;

	dec = calloc(1, sizeof(*dec));
	if (!dec)
		return diag_set(d, -ENOMEM, "cannot allocate a decoder");
	dec->mode = mode;
	dec->kind = opts->kind;
	dec->max_object = opts->max_object ? opts->max_object : K8S_DECODE_DEFAULT_MAX_OBJECT;
	dec->require = opts->require_annotation;
	dec->require_len = dec->require ? strlen(dec->require) : 0;
	dec->ops = ops;
	dec->ctx = ctx;
	/* strings are never longer than the object, plus one NUL each */
	dec->amax = dec->max_object * 2 + 4096;
	/* a ceiling well above what the slicing allows, as a second line of defence */
	dec->mem_cap = dec->max_object > (SIZE_MAX - ((size_t)1 << 20)) / 24
			       ? SIZE_MAX
			       : dec->max_object * 24 + ((size_t)1 << 20);
	build_reset(dec);
	af.malloc = mem_malloc;
	af.realloc = mem_realloc;
	af.free = mem_free;
	af.ctx = dec;
	dec->yh = yajl_alloc(&callbacks, &af, dec);
	if (!dec->yh) {
		free(dec);
		return diag_set(d, -ENOMEM, "cannot allocate a JSON parser");
	}
	if (mode == M_WATCH)
		(void)yajl_config(dec->yh, yajl_allow_multiple_values, 1);
	*out = dec;
	return 0;
}

int k8s_decoder_new(const struct k8s_decode_opts *opts, const struct k8s_decode_ops *ops, void *ctx,
		    struct k8s_decoder **out, struct diag *d)
{
	if (!opts || !out)
		return diag_set(d, -EINVAL, "decoder needs options and an output");
	if (opts->stream != K8S_STREAM_LIST && opts->stream != K8S_STREAM_WATCH)
		return diag_set(d, -EINVAL, "unknown stream type %d", (int)opts->stream);
	if (opts->kind != K8S_KIND_CONFIGMAP && opts->kind != K8S_KIND_POD)
		return diag_set(d, -EINVAL, "unknown object kind %d", (int)opts->kind);
	return decoder_new(opts->stream == K8S_STREAM_LIST ? M_LIST : M_WATCH, opts, ops, ctx, out,
			   d);
}

/* Remember the first failure: after it the decoder only repeats it. */
static int spend(struct k8s_decoder *dec, int r, struct diag *d)
{
	dec->err = r;
	if (d)
		*d = dec->diag;
	return r;
}

static int parse_error(struct k8s_decoder *dec, const unsigned char *p, size_t n)
{
	unsigned char *msg = yajl_get_error(dec->yh, 0, p, n);
	size_t at = pos(dec), len;

	/* yajl ends its messages with a line break */
	for (len = msg ? strlen((const char *)msg) : 0; len && isspace(msg[len - 1]); len--)
		msg[len - 1] = '\0';
	(void)diag_set(&dec->diag, -EBADMSG, "malformed JSON at byte %zu: %s", at,
		       msg ? (const char *)msg : "parse error");
	if (msg)
		yajl_free_error(dec->yh, msg);
	return -EBADMSG;
}

/* Hand @len bytes to yajl, in slices that keep every unit within its limit. */
static int parse(struct k8s_decoder *dec, const unsigned char *p, size_t len, struct diag *d)
{
	while (len > 0) {
		size_t used = dec->consumed - dec->unit_start, n = len, i;
		yajl_status st;

		/* never let the current unit run more than one byte past the limit */
		if (n > dec->max_object + 1 - used)
			n = dec->max_object + 1 - used;
		if (!dec->seen_nonws) {
			for (i = 0; i < n && !dec->seen_nonws; i++)
				dec->seen_nonws =
					p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n';
		}
		dec->base = dec->consumed;
		st = yajl_parse(dec->yh, p, n);
		if (dec->err)
			return spend(dec, dec->err, d);
		if (st != yajl_status_ok)
			return spend(dec, parse_error(dec, p, n), d);
		dec->consumed += n;
		if (dec->consumed - dec->unit_start > dec->max_object)
			return spend(
				dec,
				diag_set(&dec->diag, -E2BIG,
					 "object at byte %zu is more than the limit of %zu bytes",
					 dec->unit_start, dec->max_object),
				d);
		if (dec->mem_over)
			return spend(
				dec,
				diag_set(
					&dec->diag, -E2BIG,
					"decoding the object at byte %zu needs more than %zu bytes",
					dec->unit_start, dec->mem_cap),
				d);
		p += n;
		len -= n;
	}
	return 0;
}

/*
 * Inside a string: the offset just past its closing quote, or @len if it is
 * still open at the end (then dec->q_esc says whether a backslash is pending).
 */
static size_t skip_string(struct k8s_decoder *dec, const unsigned char *p, size_t len)
{
	size_t i = 0;

	if (dec->q_esc) {
		if (len == 0)
			return 0;
		dec->q_esc = false;
		i = 1;
	}
	while (i < len) {
		unsigned char c = p[i++];

		if (c == '\\') {
			if (i == len) {
				dec->q_esc = true;
				return len;
			}
			i++;
		} else if (c == '"') {
			dec->q_in = false;
			return i;
		}
	}
	return len;
}

/* Outside strings: the offset of the quote of a string still open at the end, or @len. */
static size_t open_string(struct k8s_decoder *dec, const unsigned char *p, size_t len)
{
	size_t i = 0;

	while (i < len) {
		const unsigned char *q = memchr(p + i, '"', len - i);
		size_t at;

		if (!q)
			break;
		at = (size_t)(q - p);
		dec->q_in = true;
		dec->q_esc = false;
		i = at + 1 + skip_string(dec, q + 1, len - at - 1);
		if (dec->q_in)
			return at;
	}
	return len;
}

static int carry_append(struct k8s_decoder *dec, const unsigned char *p, size_t len, struct diag *d)
{
	if (vec_reserve(dec, (void **)&dec->carry, &dec->carry_cap, dec->carry_len + len, 1) < 0)
		return spend(dec, diag_set(&dec->diag, -ENOMEM, "out of memory buffering input"),
			     d);
	memcpy(dec->carry + dec->carry_len, p, len);
	dec->carry_len += len;
	return 0;
}

static int carry_flush(struct k8s_decoder *dec, struct diag *d)
{
	size_t n = dec->carry_len;

	dec->carry_len = 0;
	return parse(dec, dec->carry, n, d);
}

/*
 * yajl keeps a token that is cut by the end of a feed and lexes it again from
 * its start on every later feed, so a long string arriving in small pieces
 * costs time quadratic in its length.  So we never cut a string: a scan for
 * quotes (much cheaper than yajl) finds a string still open at the end of a
 * feed, and its bytes wait in dec->carry until it closes.  A carried string
 * longer than the object limit is handed on, where the limit rejects it.
 */
int k8s_decoder_feed(struct k8s_decoder *dec, const void *data, size_t len, struct diag *d)
{
	const unsigned char *p = data;
	size_t k;
	int r;

	if (dec->err) {
		if (d)
			*d = dec->diag;
		return dec->err;
	}
	if (dec->q_in) {
		k = skip_string(dec, p, len);
		if (dec->carry_len + k <= dec->max_object + 1) {
			if (dec->q_in)
				return carry_append(dec, p, len, d);
			r = carry_append(dec, p, k, d);
			if (r == 0)
				r = carry_flush(dec, d);
		} else {
			/* over the limit: no more copies, let parse() reject it */
			r = dec->carry_len ? carry_flush(dec, d) : 0;
			if (r == 0)
				r = parse(dec, p, k, d);
		}
		if (r < 0 || dec->q_in)
			return r;
		p += k;
		len -= k;
	}
	k = open_string(dec, p, len);
	r = parse(dec, p, k, d);
	if (r < 0 || k == len)
		return r;
	if (len - k > dec->max_object + 1)
		return parse(dec, p + k, len - k, d);
	return carry_append(dec, p + k, len - k, d);
}

int k8s_decoder_finish(struct k8s_decoder *dec, struct diag *d)
{
	yajl_status st;

	if (dec->err) {
		if (d)
			*d = dec->diag;
		return dec->err;
	}
	if (dec->carry_len && carry_flush(dec, d) < 0)
		return dec->err;
	dec->base = dec->consumed;
	if (dec->mode == M_WATCH) {
		/* a watch that ends before its first event is a clean, empty stream */
		if (dec->n_values == 0 && !dec->seen_nonws)
			return 0;
		st = yajl_complete_parse(dec->yh);
		if (dec->err)
			return spend(dec, dec->err, d);
		if (st != yajl_status_ok || dec->depth)
			return spend(dec,
				     diag_set(&dec->diag, -EBADMSG,
					      "watch stream ended inside an event at byte %zu",
					      dec->consumed),
				     d);
		return 0;
	}
	if (!dec->list_done)
		return spend(dec,
			     diag_set(&dec->diag, -EBADMSG, "%s ended early at byte %zu",
				      dec->mode == M_LIST ? "list response" : "status",
				      dec->consumed),
			     d);
	return 0;
}

const struct k8s_list_meta *k8s_decoder_list_meta(const struct k8s_decoder *dec)
{
	return &dec->list_meta;
}

void k8s_decoder_mem(const struct k8s_decoder *dec, struct k8s_decode_mem *m)
{
	*m = dec->mem;
}

void k8s_decoder_free(struct k8s_decoder *dec)
{
	if (!dec)
		return;
	yajl_free(dec->yh);
	mem_free(dec, dec->arena);
	mem_free(dec, dec->b.ann.v);
	mem_free(dec, dec->b.lab.v);
	mem_free(dec, dec->b.data.v);
	mem_free(dec, dec->b.bin.v);
	mem_free(dec, dec->b.refs.v);
	mem_free(dec, dec->out_pairs);
	mem_free(dec, dec->out_refs);
	mem_free(dec, dec->carry);
	free(dec);
}

/* Status bodies larger than this are not worth parsing: the code is enough. */
#define STATUS_MAX ((size_t)1 << 20)

int k8s_status_parse(const void *body, size_t len, int http_code, struct k8s_status *st)
{
	struct k8s_decode_opts opts = { .stream = K8S_STREAM_LIST, .max_object = STATUS_MAX };
	struct k8s_decoder *dec = NULL;
	const unsigned char *p = body;
	size_t i = 0;

	memset(st, 0, sizeof(*st));
	st->code = http_code;
	while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
		i++;
	/* plain text (429 from API priority and fairness, proxies) is not an error */
	if (!body || i == len || p[i] != '{' || len > STATUS_MAX)
		return 0;
	if (decoder_new(M_STATUS, &opts, NULL, NULL, &dec, NULL) < 0 || !dec)
		return 0;
	if (k8s_decoder_feed(dec, body, len, NULL) == 0 && k8s_decoder_finish(dec, NULL) == 0) {
		int code = dec->st.code ? dec->st.code : http_code;

		*st = dec->st;
		st->code = code;
	}
	k8s_decoder_free(dec);
	return 0;
}
