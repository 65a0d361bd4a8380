/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The JSON tree to the Go structs, as encoding/json fills them: containerd
 * decodes into runtime-spec's LinuxSeccomp (the OCI dialect), CRI-O into
 * containers/common's Seccomp (the Docker dialect).  Go's rules, which decide
 * what a runtime really sees:
 *  - a key matches a field exactly, else case-insensitively (Unicode simple
 *    folding: the Kelvin sign folds to k, the long s to s);
 *  - a later duplicate overwrites; an object decodes into the existing struct
 *    (fields it does not name keep their values); an array reuses the
 *    elements the slice already had;
 *  - null sets a slice or pointer to nil and leaves anything else alone;
 *  - unknown keys are skipped; a wrong JSON type is an error, and so is a
 *    negative, fractional, exponent or too large number for an unsigned field.
 * Findings here are error classes 1 and 5 and warning class 8.
 */
#include "profilestore/profile_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pfindings_release(struct pfindings *f)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		free(f->v[i].path);
		free(f->v[i].msg);
	}
	free(f->v);
	f->v = NULL;
	f->n = f->cap = 0;
}

static void pfind_addv(struct pfindings *f, enum profile_view view, bool error, int code,
		       const char *path, const char *fmt, va_list ap)
	__attribute__((format(printf, 6, 0)));

static void pfind_addv(struct pfindings *f, enum profile_view view, bool error, int code,
		       const char *path, const char *fmt, va_list ap)
{
	struct pfind *x;
	size_t i, same = 0;
	char msg[1024];

	for (i = 0; i < f->n; i++)
		same += f->v[i].error == error;
	if (same >= PFIND_MAX) {
		f->dropped[error]++;
		return;
	}
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 16;

		x = realloc(f->v, cap * sizeof(*x));
		if (!x) {
			f->oom = -ENOMEM;
			return;
		}
		f->v = x;
		f->cap = cap;
	}
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	x = &f->v[f->n];
	x->error = error;
	x->code = code;
	x->view = view;
	x->path = strdup(path);
	x->msg = strdup(msg);
	if (!x->path || !x->msg) {
		free(x->path);
		free(x->msg);
		f->oom = -ENOMEM;
		return;
	}
	f->n++;
}

void pfind_add(struct pfindings *f, bool error, int code, const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pfind_addv(f, f->view, error, code, path, fmt, ap);
	va_end(ap);
}

void pfind_add_view(struct pfindings *f, enum profile_view view, bool error, int code,
		    const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pfind_addv(f, view, error, code, path, fmt, ap);
	va_end(ap);
}

const char *pstr_quote(const struct pstr *s, char *out, size_t out_len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	for (i = 0; s->s && i < s->len; i++) {
		unsigned char c = (unsigned char)s->s[i];

		if (o + 8 >= out_len) {
			if (out_len >= 4) {
				o = o > out_len - 4 ? out_len - 4 : o;
				memcpy(out + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') {
			out[o++] = (char)c;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (out_len)
		out[o < out_len ? o : out_len - 1] = '\0';
	return out;
}

enum ftype {
	F_STR,
	F_UINT,
	F_PUINT, /* *uint: null resets it */
	F_STRV,
	F_RULES,
	F_ARGS,
	F_ARCHMAP,
	F_FILTER,
	F_MINKERNEL, /* Docker's KernelVersion: only moby reads it, so it is never an error here */
};

struct field {
	const char *name;
	enum ftype type;
	unsigned dialects;
	size_t off, has_off;
};

#define BOTH_D (PDIALECT_OCI | PDIALECT_DOCKER)

static const struct field top_fields[] = {
	{ "defaultAction", F_STR, BOTH_D, offsetof(struct pm_profile, default_action), 0 },
	{ "defaultErrnoRet", F_PUINT, BOTH_D, offsetof(struct pm_profile, default_errno_ret),
	  offsetof(struct pm_profile, has_default_errno_ret) },
	{ "defaultErrno", F_STR, PDIALECT_DOCKER, offsetof(struct pm_profile, default_errno_s), 0 },
	{ "architectures", F_STRV, BOTH_D, offsetof(struct pm_profile, arches), 0 },
	{ "archMap", F_ARCHMAP, PDIALECT_DOCKER, 0, 0 },
	{ "syscalls", F_RULES, BOTH_D, 0, 0 },
	{ "flags", F_STRV, BOTH_D, offsetof(struct pm_profile, flags), 0 },
	{ "listenerPath", F_STR, BOTH_D, offsetof(struct pm_profile, listener_path), 0 },
	{ "listenerMetadata", F_STR, BOTH_D, offsetof(struct pm_profile, listener_metadata), 0 },
	{ NULL, F_STR, 0, 0, 0 },
};

static const struct field rule_fields[] = {
	{ "names", F_STRV, BOTH_D, offsetof(struct pm_rule, names), 0 },
	{ "name", F_STR, PDIALECT_DOCKER, offsetof(struct pm_rule, name), 0 },
	{ "action", F_STR, BOTH_D, offsetof(struct pm_rule, action), 0 },
	{ "errnoRet", F_PUINT, BOTH_D, offsetof(struct pm_rule, errno_ret),
	  offsetof(struct pm_rule, has_errno_ret) },
	{ "errno", F_STR, PDIALECT_DOCKER, offsetof(struct pm_rule, errno_s), 0 },
	{ "args", F_ARGS, BOTH_D, 0, 0 },
	{ "comment", F_STR, PDIALECT_DOCKER, offsetof(struct pm_rule, comment), 0 },
	{ "includes", F_FILTER, PDIALECT_DOCKER, offsetof(struct pm_rule, includes), 0 },
	{ "excludes", F_FILTER, PDIALECT_DOCKER, offsetof(struct pm_rule, excludes), 0 },
	{ NULL, F_STR, 0, 0, 0 },
};

static const struct field arg_fields[] = {
	{ "index", F_UINT, BOTH_D, offsetof(struct pm_arg, index), 0 },
	{ "value", F_UINT, BOTH_D, offsetof(struct pm_arg, value), 0 },
	{ "valueTwo", F_UINT, BOTH_D, offsetof(struct pm_arg, value_two), 0 },
	{ "op", F_STR, BOTH_D, offsetof(struct pm_arg, op), 0 },
	{ NULL, F_STR, 0, 0, 0 },
};

static const struct field filter_fields[] = {
	{ "caps", F_STRV, PDIALECT_DOCKER, offsetof(struct pm_filter, caps), 0 },
	{ "arches", F_STRV, PDIALECT_DOCKER, offsetof(struct pm_filter, arches), 0 },
	{ "minKernel", F_MINKERNEL, PDIALECT_DOCKER, offsetof(struct pm_filter, min_kernel),
	  offsetof(struct pm_filter, has_min_kernel) },
	{ NULL, F_STR, 0, 0, 0 },
};

static const struct field archmap_fields[] = {
	{ "architecture", F_STR, PDIALECT_DOCKER, offsetof(struct pm_archmap, arch), 0 },
	{ "subArchitectures", F_STRV, PDIALECT_DOCKER, offsetof(struct pm_archmap, subs), 0 },
	{ NULL, F_STR, 0, 0, 0 },
};

struct dec {
	struct parena *a;
	enum pdialect dialect;
	struct pfindings *f;
	struct pm_profile *p;
	int err;
};

#define PATH_MAX_LEN 384

static bool is_ident(const struct pstr *s);

static char ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/*
 * How @key matches the field @name: 1 exactly, 2 under Go's case folding, 0 not.
 * Keys are valid UTF-8 (the parser replaced bad bytes), and only two non-ASCII
 * runes fold to ASCII letters: U+212A KELVIN SIGN (k) and U+017F LATIN SMALL
 * LETTER LONG S (s).
 */
static int key_match(const struct pstr *key, const char *name)
{
	const unsigned char *k = (const unsigned char *)key->s;
	size_t nl = strlen(name), i = 0, j = 0;

	if (key->len == nl && !memcmp(key->s, name, nl))
		return 1;
	while (i < key->len && j < nl) {
		char want = ascii_lower(name[j]);

		if (k[i] < 0x80) {
			if (ascii_lower((char)k[i]) != want)
				return 0;
			i++;
		} else if (key->len - i >= 3 && k[i] == 0xE2 && k[i + 1] == 0x84 &&
			   k[i + 2] == 0xAA) {
			if (want != 'k')
				return 0;
			i += 3;
		} else if (key->len - i >= 2 && k[i] == 0xC5 && k[i + 1] == 0xBF) {
			if (want != 's')
				return 0;
			i += 2;
		} else {
			return 0;
		}
		j++;
	}
	return i == key->len && j == nl ? 2 : 0;
}

static bool is_ident(const struct pstr *s)
{
	size_t i;

	if (!s->len)
		return false;
	for (i = 0; i < s->len; i++) {
		char c = s->s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		      (i && c >= '0' && c <= '9')))
			return false;
	}
	return true;
}

/*
 * A JSON path as a chain of segments on the stack, rendered only when a finding
 * is filed: most values never need theirs.
 */
enum seg_kind {
	SEG_ROOT,
	SEG_FIELD, /* a known field, by its canonical name */
	SEG_KEY,   /* a member as written */
	SEG_INDEX,
};

struct pseg {
	const struct pseg *up;
	enum seg_kind kind;
	const char *name;
	const struct pstr *key;
	size_t index;
};

static size_t render_at(const struct pseg *s, char *out, size_t len)
{
	size_t at;
	char q[160];
	int n = 0;

	if (!s || s->kind == SEG_ROOT)
		return 0;
	at = render_at(s->up, out, len);
	if (at >= len - 1)
		return at;
	switch (s->kind) {
	case SEG_FIELD:
		n = snprintf(out + at, len - at, "%s%s", at ? "." : "", s->name);
		break;
	case SEG_KEY:
		if (is_ident(s->key))
			n = snprintf(out + at, len - at, "%s%s", at ? "." : "",
				     pstr_quote(s->key, q, sizeof(q)));
		else
			n = snprintf(out + at, len - at, "[\"%s\"]",
				     pstr_quote(s->key, q, sizeof(q)));
		break;
	case SEG_INDEX:
		n = snprintf(out + at, len - at, "[%zu]", s->index);
		break;
	case SEG_ROOT:
		break;
	}
	if (n < 0)
		return at;
	return at + (size_t)n < len ? at + (size_t)n : len - 1;
}

static const char *render(const struct pseg *s, char *out, size_t len)
{
	out[0] = '\0';
	(void)render_at(s, out, len);
	return out;
}

static const char *type_name(enum pjson_type t)
{
	switch (t) {
	case PJ_NULL:
		return "null";
	case PJ_BOOL:
		return "a boolean";
	case PJ_NUM:
		return "a number";
	case PJ_STR:
		return "a string";
	case PJ_ARR:
		return "an array";
	case PJ_OBJ:
		return "an object";
	}
	return "a value";
}

static void type_error(struct dec *d, const struct pseg *path, const char *want,
		       const struct pjson *v)
{
	char pb[PATH_MAX_LEN];

	pfind_add(d->f, true, 5, render(path, pb, sizeof(pb)),
		  "must be %s, not %s: the runtime cannot decode the profile and the container "
		  "fails to start",
		  want, type_name(v->type));
}

static void decode_str(struct dec *d, const struct pjson *v, struct pstr *dst,
		       const struct pseg *path)
{
	if (v->type == PJ_NULL)
		return;
	if (v->type != PJ_STR) {
		type_error(d, path, "a string", v);
		return;
	}
	*dst = v->str;
}

/* Go's strconv.ParseUint(text, 10, 64): digits only, no sign, no fraction, no exponent. */
static bool parse_u64(const struct pstr *s, uint64_t *out)
{
	uint64_t x = 0;
	size_t i;

	if (!s->len)
		return false;
	for (i = 0; i < s->len; i++) {
		unsigned dgt;

		if (s->s[i] < '0' || s->s[i] > '9')
			return false;
		dgt = (unsigned)(s->s[i] - '0');
		if (x > (UINT64_MAX - dgt) / 10)
			return false;
		x = x * 10 + dgt;
	}
	*out = x;
	return true;
}

static void decode_uint(struct dec *d, const struct pjson *v, uint64_t *dst, bool *has,
			const struct pseg *path)
{
	uint64_t x;
	char q[64], pb[PATH_MAX_LEN];

	if (v->type == PJ_NULL) {
		if (has)
			*has = false;
		return;
	}
	if (v->type != PJ_NUM) {
		type_error(d, path, "an unsigned number", v);
		return;
	}
	if (!parse_u64(&v->str, &x)) {
		pfind_add(d->f, true, 5, render(path, pb, sizeof(pb)),
			  "%s is not an unsigned 64-bit integer (negative, fractional or too "
			  "large): the runtime cannot decode the profile and the container fails "
			  "to start",
			  pstr_quote(&v->str, q, sizeof(q)));
		return;
	}
	*dst = x;
	if (has)
		*has = true;
}

/*
 * Room for @n elements of @size, keeping the first @old (Go reuses the slice's
 * elements when an array is decoded into it again).
 */
static void *grow_elems(struct dec *d, void *old, size_t old_n, size_t n, size_t size)
{
	void *p;

	if (!n)
		return NULL;
	p = parena_alloc(d->a, n * size);
	if (!p) {
		d->err = -ENOMEM;
		return NULL;
	}
	if (old)
		memcpy(p, old, (old_n < n ? old_n : n) * size);
	return p;
}

static void decode_strv(struct dec *d, const struct pjson *v, struct pm_strv *dst,
			const struct pseg *path)
{
	const struct pjson *e;
	struct pstr *nv;
	struct pseg seg = { path, SEG_INDEX, NULL, NULL, 0 };
	size_t i = 0;

	if (v->type == PJ_NULL) {
		dst->v = NULL;
		dst->n = 0;
		return;
	}
	if (v->type != PJ_ARR) {
		type_error(d, path, "an array of strings", v);
		return;
	}
	nv = grow_elems(d, dst->v, dst->n, v->n, sizeof(*nv));
	if (d->err)
		return;
	for (e = v->child; e; e = e->next, i++) {
		seg.index = i;
		decode_str(d, e, &nv[i], &seg);
	}
	dst->v = nv;
	dst->n = v->n;
}

static void decode_object(struct dec *d, const struct pjson *v, const struct field *fields,
			  void *base, const struct pseg *path);

static void decode_min_kernel(const struct pjson *v, const struct pjson **dst, bool *has)
{
	if (v->type == PJ_NULL) {
		*has = false;
		return;
	}
	*dst = v;
	*has = true;
}

/* An array of structs: @elems/@n updated in place, each element decoded as an object. */
static void decode_struct_array(struct dec *d, const struct pjson *v, void **elems, size_t *n,
				size_t size, const struct field *fields, const struct pseg *path,
				const char *want)
{
	const struct pjson *e;
	struct pseg seg = { path, SEG_INDEX, NULL, NULL, 0 };
	char *nv;
	size_t i = 0;

	if (v->type == PJ_NULL) {
		*elems = NULL;
		*n = 0;
		return;
	}
	if (v->type != PJ_ARR) {
		type_error(d, path, want, v);
		return;
	}
	nv = grow_elems(d, *elems, *n, v->n, size);
	if (d->err)
		return;
	for (e = v->child; e && !d->err; e = e->next, i++) {
		seg.index = i;
		if (e->type == PJ_NULL)
			continue;
		if (e->type != PJ_OBJ) {
			type_error(d, &seg, "an object", e);
			continue;
		}
		decode_object(d, e, fields, nv + i * size, &seg);
	}
	*elems = nv;
	*n = v->n;
}

static void decode_field(struct dec *d, const struct field *fl, const struct pjson *v, void *base,
			 const struct pseg *path)
{
	char *b = base;

	switch (fl->type) {
	case F_STR:
		decode_str(d, v, (struct pstr *)(b + fl->off), path);
		break;
	case F_UINT:
		decode_uint(d, v, (uint64_t *)(b + fl->off), NULL, path);
		break;
	case F_PUINT:
		decode_uint(d, v, (uint64_t *)(b + fl->off), (bool *)(b + fl->has_off), path);
		break;
	case F_STRV:
		decode_strv(d, v, (struct pm_strv *)(b + fl->off), path);
		break;
	case F_RULES: {
		struct pm_profile *p = base;

		decode_struct_array(d, v, (void **)&p->rules, &p->n_rules, sizeof(struct pm_rule),
				    rule_fields, path, "an array of rules");
		break;
	}
	case F_ARGS: {
		struct pm_rule *r = base;

		decode_struct_array(d, v, (void **)&r->args, &r->n_args, sizeof(struct pm_arg),
				    arg_fields, path, "an array of argument conditions");
		break;
	}
	case F_ARCHMAP: {
		struct pm_profile *p = base;

		decode_struct_array(d, v, (void **)&p->archmap, &p->n_archmap,
				    sizeof(struct pm_archmap), archmap_fields, path,
				    "an array of architecture entries");
		break;
	}
	case F_FILTER:
		if (v->type == PJ_NULL)
			break;
		if (v->type != PJ_OBJ) {
			type_error(d, path, "an object", v);
			break;
		}
		decode_object(d, v, filter_fields, b + fl->off, path);
		break;
	case F_MINKERNEL:
		decode_min_kernel(v, (const struct pjson **)(b + fl->off),
				  (bool *)(b + fl->has_off));
		break;
	}
}

static void decode_object(struct dec *d, const struct pjson *v, const struct field *fields,
			  void *base, const struct pseg *path)
{
	const struct pjson *m;
	unsigned seen = 0;
	char pb[PATH_MAX_LEN], q[160];

	for (m = v->child; m && !d->err; m = m->next) {
		const struct field *fl, *hit = NULL;
		struct pseg kseg = { path, SEG_KEY, NULL, &m->key, 0 };
		struct pseg fseg = { path, SEG_FIELD, NULL, NULL, 0 };
		int how = 0;

		for (fl = fields; fl->name; fl++) {
			if (m->key.len == strlen(fl->name) &&
			    !memcmp(m->key.s, fl->name, m->key.len)) {
				hit = fl;
				how = 1;
				break;
			}
		}
		for (fl = fields; !hit && fl->name; fl++) {
			if (key_match(&m->key, fl->name)) {
				hit = fl;
				how = 2;
			}
		}
		if (!hit) {
			pfind_add(d->f, false, 8, render(&kseg, pb, sizeof(pb)),
				  "unknown key '%s' is ignored by the runtime (a typo?)",
				  pstr_quote(&m->key, q, sizeof(q)));
			continue;
		}
		/* Keys of the other dialect: the runtime skips them; warning class 5 covers them. */
		if (!(hit->dialects & d->dialect))
			continue;
		if (how == 2)
			pfind_add(
				d->f, false, 8, render(&kseg, pb, sizeof(pb)),
				"key '%s' is read as '%s' (the runtime matches keys regardless of "
				"case)",
				pstr_quote(&m->key, q, sizeof(q)), hit->name);
		if (seen & (1u << (hit - fields)))
			pfind_add(d->f, false, 8, render(&kseg, pb, sizeof(pb)),
				  "duplicate key '%s': the runtime keeps the last one", hit->name);
		seen |= 1u << (hit - fields);
		fseg.name = hit->name;
		decode_field(d, hit, m, base, &fseg);
	}
}

int pm_decode(struct parena *a, const struct pjson *root, enum pdialect dialect,
	      struct pm_profile *p, struct pfindings *f)
{
	struct dec d = { a, dialect, f, p, 0 };
	struct pseg root_seg = { NULL, SEG_ROOT, NULL, NULL, 0 };

	memset(p, 0, sizeof(*p));
	if (root->type == PJ_NULL) {
		p->is_null = true;
		return 0;
	}
	if (root->type != PJ_OBJ) {
		pfind_add(f, true, 1, "",
			  "the document is %s, not an object: the runtime cannot decode it and the "
			  "container fails to start",
			  type_name(root->type));
		return 0;
	}
	decode_object(&d, root, top_fields, p, &root_seg);
	return d.err;
}
