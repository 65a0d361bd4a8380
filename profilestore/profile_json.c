/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Profile bytes to a JSON tree, accepting exactly what Go's encoding/json
 * accepts: yajl with comments, trailing garbage, multiple values and partial
 * values off; numbers kept as text (the decoder checks them against the Go
 * field type, so uint64 values above INT64_MAX stay exact); invalid UTF-8
 * replaced by U+FFFD the way Go does it, one replacement per bad byte.
 * yajl's own memory is capped, and so are depth, value count and the arena.
 */
#include "profilestore/profile_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

struct parena_chunk {
	struct parena_chunk *next;
	size_t size, used;
	/* data follows, 8-byte aligned */
	uint64_t data[];
};

#define PARENA_CHUNK (64u * 1024)

void parena_init(struct parena *a)
{
	a->head = NULL;
	a->total = 0;
}

void parena_release(struct parena *a)
{
	struct parena_chunk *c = a->head, *next;

	while (c) {
		next = c->next;
		free(c);
		c = next;
	}
	a->head = NULL;
	a->total = 0;
}

void *parena_alloc(struct parena *a, size_t size)
{
	struct parena_chunk *c = a->head;
	size_t sz, want;
	void *p;

	if (size > PARENA_MAX_BYTES)
		return NULL;
	sz = (size + 7) & ~(size_t)7;
	if (!c || c->size - c->used < sz) {
		want = sz > PARENA_CHUNK ? sz : PARENA_CHUNK;
		if (a->total + want > PARENA_MAX_BYTES)
			return NULL;
		c = malloc(sizeof(*c) + want);
		if (!c)
			return NULL;
		c->size = want;
		c->used = 0;
		c->next = a->head;
		a->head = c;
		a->total += want;
	}
	p = (char *)c->data + c->used;
	c->used += sz;
	memset(p, 0, sz);
	return p;
}

/*
 * yajl's allocations, counted so that one profile cannot make it take more than
 * the cap.  yajl does not check for NULL from its allocator, so passing the cap
 * does not fail the allocation: it stops the parse at the next callback.  A
 * PROFILE_MAX_BYTES input passed in one piece needs far less (the string decode
 * buffer, at most twice the longest string, and the depth stack).
 */
struct yajl_mem {
	size_t used, max;
	bool over; /* the cap was passed: the parse stops at the next callback */
};

#define YMEM_HDR 16

static void *ymalloc(void *ctx, size_t sz)
{
	struct yajl_mem *m = ctx;
	unsigned char *p;

	if (sz > m->max - m->used)
		m->over = true;
	p = malloc(sz + YMEM_HDR);
	if (!p)
		return NULL;
	memcpy(p, &sz, sizeof(sz));
	m->used += sz;
	return p + YMEM_HDR;
}

static void yfree(void *ctx, void *ptr)
{
	struct yajl_mem *m = ctx;
	unsigned char *p = ptr;
	size_t sz;

	if (!p)
		return;
	p -= YMEM_HDR;
	memcpy(&sz, p, sizeof(sz));
	m->used -= sz;
	free(p);
}

static void *yrealloc(void *ctx, void *ptr, size_t sz)
{
	struct yajl_mem *m = ctx;
	unsigned char *p = ptr, *q;
	size_t old;

	if (!p)
		return ymalloc(ctx, sz);
	p -= YMEM_HDR;
	memcpy(&old, p, sizeof(old));
	if (sz > old && sz - old > m->max - m->used)
		m->over = true;
	q = realloc(p, sz + YMEM_HDR);
	if (!q)
		return NULL;
	memcpy(q, &sz, sizeof(sz));
	m->used = m->used - old + sz;
	return q + YMEM_HDR;
}

struct jparse {
	struct yajl_mem mem;
	struct parena *a;
	struct pjson *root;
	struct pjson *stack[PJSON_MAX_DEPTH];
	size_t depth;
	struct pstr key;
	size_t n_values;
	const char *fail; /* why a callback stopped the parse */
	int err;
};

/*
 * Length of the valid UTF-8 sequence at @s (at most @n bytes), or 0 if the
 * first byte does not start one.  The same acceptance as Go's utf8.DecodeRune:
 * no overlong forms, no surrogates, nothing above U+10FFFF.
 */
static size_t utf8_valid_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xBF;
	size_t need, i;

	if (c < 0x80)
		return 1;
	if (c < 0xC2)
		return 0;
	if (c < 0xE0) {
		need = 2;
	} else if (c < 0xF0) {
		need = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c < 0xF5) {
		need = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		return 0;
	}
	if (n < need)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < need; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return need;
}

/* Copy @len bytes into the arena, NUL-terminated, bad UTF-8 bytes replaced by U+FFFD. */
static int copy_str(struct jparse *j, const unsigned char *s, size_t len, struct pstr *out)
{
	size_t i = 0, extra = 0, k, o = 0;
	char *p;

	while (i < len) {
		k = utf8_valid_len(s + i, len - i);
		if (!k) {
			extra += 2; /* one byte becomes three */
			k = 1;
		}
		i += k;
	}
	if (len > PROFILE_MAX_BYTES) {
		j->fail = "string too long";
		return 0;
	}
	p = parena_alloc(j->a, len + extra + 1);
	if (!p) {
		j->err = -ENOMEM;
		return 0;
	}
	if (!extra) {
		memcpy(p, s, len);
		o = len;
	} else {
		for (i = 0; i < len; i += k) {
			k = utf8_valid_len(s + i, len - i);
			if (!k) {
				memcpy(p + o, "\xEF\xBF\xBD", 3);
				o += 3;
				k = 1;
			} else {
				memcpy(p + o, s + i, k);
				o += k;
			}
		}
	}
	p[o] = '\0';
	out->s = p;
	out->len = o;
	return 1;
}

static struct pjson *add_value(struct jparse *j, enum pjson_type type)
{
	struct pjson *v, *parent;

	if (j->mem.over) {
		j->fail = "the parser needs more memory than its limit";
		return NULL;
	}
	if (++j->n_values > PJSON_MAX_VALUES) {
		j->fail = "more JSON values than the limit of 100000";
		return NULL;
	}
	v = parena_alloc(j->a, sizeof(*v));
	if (!v) {
		j->err = -ENOMEM;
		return NULL;
	}
	v->type = type;
	if (!j->depth) {
		j->root = v;
		return v;
	}
	parent = j->stack[j->depth - 1];
	if (parent->type == PJ_OBJ) {
		v->key = j->key;
		j->key.s = NULL;
		j->key.len = 0;
	}
	if (parent->last)
		parent->last->next = v;
	else
		parent->child = v;
	parent->last = v;
	parent->n++;
	return v;
}

static int cb_null(void *ctx)
{
	return add_value(ctx, PJ_NULL) != NULL;
}

static int cb_bool(void *ctx, int b)
{
	struct pjson *v = add_value(ctx, PJ_BOOL);

	if (!v)
		return 0;
	v->b = b != 0;
	return 1;
}

static int cb_number(void *ctx, const char *s, size_t len)
{
	struct pjson *v = add_value(ctx, PJ_NUM);

	if (!v)
		return 0;
	return copy_str(ctx, (const unsigned char *)s, len, &v->str);
}

static int cb_string(void *ctx, const unsigned char *s, size_t len)
{
	struct pjson *v = add_value(ctx, PJ_STR);

	if (!v)
		return 0;
	return copy_str(ctx, s, len, &v->str);
}

static int cb_key(void *ctx, const unsigned char *s, size_t len)
{
	struct jparse *j = ctx;

	return copy_str(j, s, len, &j->key);
}

static int push(struct jparse *j, enum pjson_type type)
{
	struct pjson *v;

	if (j->depth >= PJSON_MAX_DEPTH) {
		j->fail = "nested deeper than 64 levels";
		return 0;
	}
	v = add_value(j, type);
	if (!v)
		return 0;
	j->stack[j->depth++] = v;
	return 1;
}

static int cb_start_map(void *ctx)
{
	return push(ctx, PJ_OBJ);
}

static int cb_start_array(void *ctx)
{
	return push(ctx, PJ_ARR);
}

static int cb_end(void *ctx)
{
	struct jparse *j = ctx;

	j->depth--;
	return 1;
}

static const yajl_callbacks callbacks = {
	.yajl_null = cb_null,
	.yajl_boolean = cb_bool,
	.yajl_number = cb_number,
	.yajl_string = cb_string,
	.yajl_start_map = cb_start_map,
	.yajl_map_key = cb_key,
	.yajl_end_map = cb_end,
	.yajl_start_array = cb_start_array,
	.yajl_end_array = cb_end,
};

static bool only_space(const unsigned char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r')
			return false;
	return true;
}

/* yajl's message without its trailing newline and context lines. */
static void yajl_message(yajl_handle h, const unsigned char *data, size_t len, char *msg,
			 size_t msg_len)
{
	unsigned char *e = yajl_get_error(h, 0, data, len);
	size_t at = yajl_get_bytes_consumed(h);
	const char *s = e ? (const char *)e : "parse error";
	size_t n = strcspn(s, "\n");

	if (!strncmp(s, "parse error: ", 13)) {
		s += 13;
		n -= 13;
	}
	(void)snprintf(msg, msg_len,
		       "not JSON as the runtime's Go decoder reads it (%.*s at byte %zu)", (int)n,
		       s, at);
	if (e)
		yajl_free_error(h, e);
}

int pjson_parse(struct parena *a, const void *data, size_t len, struct pjson **root, char *msg,
		size_t msg_len)
{
	const unsigned char *p = data;
	yajl_alloc_funcs afs;
	struct jparse j;
	yajl_handle h = NULL;
	yajl_status st;
	int r;

	if (len > PROFILE_MAX_BYTES) {
		(void)snprintf(msg, msg_len, "profile is %zu bytes, over the limit of %d", len,
			       PROFILE_MAX_BYTES);
		return 1;
	}
	if (len >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) {
		(void)snprintf(
			msg, msg_len,
			"starts with a byte order mark, which the runtime's Go decoder refuses");
		return 1;
	}
	if (!len || only_space(p, len)) {
		(void)snprintf(msg, msg_len, "empty document: the runtime's Go decoder refuses it");
		return 1;
	}
	memset(&j, 0, sizeof(j));
	j.a = a;
	j.mem.max = PJSON_YAJL_MAX_MEM;
	afs.malloc = ymalloc;
	afs.realloc = yrealloc;
	afs.free = yfree;
	afs.ctx = &j.mem;
	h = yajl_alloc(&callbacks, &afs, &j);
	if (!h)
		return -ENOMEM;
	(void)yajl_config(h, yajl_dont_validate_strings, 1);
	st = yajl_parse(h, p, len);
	if (st == yajl_status_ok)
		st = yajl_complete_parse(h);
	if (j.err) {
		r = j.err;
		goto out;
	}
	if (st == yajl_status_client_canceled) {
		(void)snprintf(msg, msg_len, "profile refused: %s",
			       j.fail ? j.fail : "limit reached");
		r = 1;
		goto out;
	}
	if (st != yajl_status_ok) {
		yajl_message(h, p, len, msg, msg_len);
		r = 1;
		goto out;
	}
	*root = j.root;
	r = 0;
out:
	yajl_free(h);
	return r;
}
