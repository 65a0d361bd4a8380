/* SPDX-License-Identifier: Apache-2.0 */
#ifndef SECCOMP_SYNCD_PROFILESTORE_PROFILE_INT_H
#define SECCOMP_SYNCD_PROFILESTORE_PROFILE_INT_H

/*
 * Internals of the profile engine, shared by profile.c (the verdict and the
 * cache), profile_json.c (bytes to a JSON tree the way Go reads them),
 * profile_decode.c (the tree to the OCI and Docker models, as encoding/json
 * fills Go structs) and profile_compile.c (the runtime checks and libseccomp).
 * Not for use outside profilestore/.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profilestore/profile.h"

/* Limits on what one profile may make us allocate (error class 1 beyond them). */
#define PJSON_MAX_DEPTH	   64
#define PJSON_MAX_VALUES   100000
#define PARENA_MAX_BYTES   (32u * 1024 * 1024)
#define PJSON_YAJL_MAX_MEM (8u * 1024 * 1024)
/* Findings kept per view; more are summarised in one last finding. */
#define PFIND_MAX 500

/*
 * A bump allocator: everything decoded from one profile lives here and goes
 * in one parena_release().  Bounded by PARENA_MAX_BYTES.
 */
struct parena_chunk;
struct parena {
	struct parena_chunk *head;
	size_t total;
};

void parena_init(struct parena *a);
void parena_release(struct parena *a);
/* Zeroed, 8-byte aligned memory, or NULL when out of memory or over the bound. */
void *parena_alloc(struct parena *a, size_t size);

/* A string with its length; also NUL-terminated (it may hold NULs, as Go strings may). */
struct pstr {
	const char *s;
	size_t len;
};

enum pjson_type {
	PJ_NULL,
	PJ_BOOL,
	PJ_NUM, /* str holds the number's text */
	PJ_STR,
	PJ_ARR,
	PJ_OBJ,
};

struct pjson {
	enum pjson_type type;
	bool b;
	struct pstr key; /* member name (valid UTF-8) when inside an object */
	struct pstr str;
	struct pjson *child, *last, *next;
	size_t n;
};

/**
 * pjson_parse() - parse @data into a tree in @a, as Go's encoding/json accepts it
 * @msg: on a syntax error, what is wrong (error class 1)
 *
 * Invalid UTF-8 in strings is replaced by U+FFFD, as Go does.  Return: 0 with
 * *@root set, 1 when the text is not acceptable JSON (@msg says why), -ENOMEM.
 */
int pjson_parse(struct parena *a, const void *data, size_t len, struct pjson **root, char *msg,
		size_t msg_len);

/* One finding while it is collected; class is the number in docs/PROFILE-FORMAT.md. */
struct pfind {
	bool error;
	int code;
	enum profile_view view;
	char *path;
	char *msg;
};

struct pfindings {
	struct pfind *v;
	size_t n, cap;
	size_t dropped[2];	/* over PFIND_MAX: [0] warnings, [1] errors */
	enum profile_view view; /* the view new findings are filed under */
	int oom;
};

void pfindings_release(struct pfindings *f);
/* Add a finding (the path is built by the caller); failures are remembered in f->oom. */
void pfind_add(struct pfindings *f, bool error, int code, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* Same, with an explicit view (for statements about both runtimes at once). */
void pfind_add_view(struct pfindings *f, enum profile_view view, bool error, int code,
		    const char *path, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Quote @s for a message: printable ASCII kept, the rest escaped; result in @out. */
const char *pstr_quote(const struct pstr *s, char *out, size_t out_len);

/* The Go structs both runtimes decode into (the union of the OCI and Docker fields). */
struct pm_strv {
	struct pstr *v;
	size_t n;
};

struct pm_arg {
	uint64_t index, value, value_two;
	struct pstr op;
};

struct pm_filter {
	struct pm_strv caps, arches;
	bool has_min_kernel;
	const struct pjson *min_kernel; /* kept as written: only Docker reads it */
};

struct pm_rule {
	struct pm_strv names;
	struct pstr name, action, comment, errno_s;
	bool has_errno_ret;
	uint64_t errno_ret;
	struct pm_arg *args;
	size_t n_args;
	struct pm_filter includes, excludes;
};

struct pm_archmap {
	struct pstr arch;
	struct pm_strv subs;
};

struct pm_profile {
	struct pstr default_action, default_errno_s, listener_path, listener_metadata;
	bool has_default_errno_ret;
	uint64_t default_errno_ret;
	struct pm_strv arches, flags;
	struct pm_archmap *archmap;
	size_t n_archmap;
	struct pm_rule *rules;
	size_t n_rules;
	bool is_null; /* the document is JSON null: nothing decoded */
};

enum pdialect {
	PDIALECT_OCI = 1,    /* containerd: runtime-spec LinuxSeccomp */
	PDIALECT_DOCKER = 2, /* CRI-O: containers/common Seccomp */
};

/**
 * pm_decode() - fill @p from @root the way encoding/json fills the Go struct
 *
 * Unknown, duplicate and non-canonical keys and wrong types are filed in @f.
 * Return: 0, or -ENOMEM.
 */
int pm_decode(struct parena *a, const struct pjson *root, enum pdialect dialect,
	      struct pm_profile *p, struct pfindings *f);

/*
 * profile_digest_arch() - SHA-256 of (validator version, libseccomp version,
 * node architecture @arch as libseccomp names it, the profile bytes)
 */
void profile_digest_arch(const void *data, size_t len, const char *arch, uint8_t out[SHA256_LEN]);

/* Node architecture facts, one row per architecture runc knows. */
struct parch {
	const char *name;   /* libseccomp's name: "x86_64" */
	const char *scmp;   /* profile spelling: "SCMP_ARCH_X86_64" */
	const char *goname; /* libseccomp-golang's String(): "amd64" */
	uint32_t token;	    /* SCMP_ARCH_* */
};

const struct parch *parch_by_name(const char *name);
const struct parch *parch_by_scmp(const struct pstr *s);
const struct parch *parch_by_token(uint32_t token);

/*
 * The result of one view: filed findings, the architectures compiled for and the
 * filter size.  Compiling is shared between views when their rule sets agree.
 */
struct pview_result {
	const struct parch *arches[32];
	size_t n_arches;
	unsigned bpf_instructions;
};

struct pcompile_ctx;

/** pcompile_ctx_new() - state shared by both views of one profile (syscall lookups, filters) */
int pcompile_ctx_new(struct parena *a, const struct parch *node, struct pcompile_ctx **out);
void pcompile_ctx_free(struct pcompile_ctx *c);

/**
 * pview_check() - apply one runtime family's reading of @p: checks, then libseccomp
 * @view: PROFILE_VIEW_CONTAINERD (@p decoded as OCI) or PROFILE_VIEW_CRIO (Docker)
 *
 * Return: 0 (findings in @f, sizes in @res), or -ENOMEM.
 */
int pview_check(struct pcompile_ctx *c, enum profile_view view, const struct pm_profile *p,
		struct pfindings *f, struct pview_result *res);

#endif
