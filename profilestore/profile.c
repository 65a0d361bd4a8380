/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The profile engine's front: architecture names, the two views put together
 * into one verdict, the Docker-dialect warnings that compare the views, and the
 * verdict cache.  See profile_int.h for how the work is split.
 */
#include "profilestore/profile.h"

#include <errno.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profilestore/profile_int.h"

/*
 * Bumped whenever what is reported changes, so that files already on disk are
 * validated again and cached verdicts are not reused.
 */
#define PROFILE_VALIDATOR_VERSION "profile-1"

const char *profile_validator_version(void)
{
	return PROFILE_VALIDATOR_VERSION;
}

/* runc's architecture set (libseccomp 2.5), with libseccomp-golang's String() names. */
static const struct parch arch_table[] = {
	{ "x86_64", "SCMP_ARCH_X86_64", "amd64", SCMP_ARCH_X86_64 },
	{ "x86", "SCMP_ARCH_X86", "x86", SCMP_ARCH_X86 },
	{ "x32", "SCMP_ARCH_X32", "x32", SCMP_ARCH_X32 },
	{ "arm", "SCMP_ARCH_ARM", "arm", SCMP_ARCH_ARM },
	{ "aarch64", "SCMP_ARCH_AARCH64", "arm64", SCMP_ARCH_AARCH64 },
	{ "mips", "SCMP_ARCH_MIPS", "mips", SCMP_ARCH_MIPS },
	{ "mips64", "SCMP_ARCH_MIPS64", "mips64", SCMP_ARCH_MIPS64 },
	{ "mips64n32", "SCMP_ARCH_MIPS64N32", "mips64n32", SCMP_ARCH_MIPS64N32 },
	{ "mipsel", "SCMP_ARCH_MIPSEL", "mipsel", SCMP_ARCH_MIPSEL },
	{ "mipsel64", "SCMP_ARCH_MIPSEL64", "mipsel64", SCMP_ARCH_MIPSEL64 },
	{ "mipsel64n32", "SCMP_ARCH_MIPSEL64N32", "mipsel64n32", SCMP_ARCH_MIPSEL64N32 },
	{ "ppc", "SCMP_ARCH_PPC", "ppc", SCMP_ARCH_PPC },
	{ "ppc64", "SCMP_ARCH_PPC64", "ppc64", SCMP_ARCH_PPC64 },
	{ "ppc64le", "SCMP_ARCH_PPC64LE", "ppc64le", SCMP_ARCH_PPC64LE },
	{ "s390", "SCMP_ARCH_S390", "s390", SCMP_ARCH_S390 },
	{ "s390x", "SCMP_ARCH_S390X", "s390x", SCMP_ARCH_S390X },
	{ "riscv64", "SCMP_ARCH_RISCV64", "riscv64", SCMP_ARCH_RISCV64 },
	{ NULL, NULL, NULL, 0 },
};

/* Other spellings of node architectures: Go's GOARCH and Debian's. */
static const struct {
	const char *alias, *name;
} arch_aliases[] = {
	{ "amd64", "x86_64" },
	{ "386", "x86" },
	{ "i386", "x86" },
	{ "i686", "x86" },
	{ "arm64", "aarch64" },
	{ "armhf", "arm" },
	{ "armel", "arm" },
	{ "armv7l", "arm" },
	{ "ppc64el", "ppc64le" },
	{ "mips64le", "mipsel64" },
	{ "mips64el", "mipsel64" },
	{ "mipsle", "mipsel" },
	{ NULL, NULL },
};

const struct parch *parch_by_name(const char *name)
{
	size_t i;

	for (i = 0; arch_table[i].name; i++)
		if (!strcmp(arch_table[i].name, name))
			return &arch_table[i];
	return NULL;
}

const struct parch *parch_by_scmp(const struct pstr *s)
{
	size_t i;

	for (i = 0; arch_table[i].name; i++)
		if (s->len == strlen(arch_table[i].scmp) &&
		    !memcmp(s->s, arch_table[i].scmp, s->len))
			return &arch_table[i];
	return NULL;
}

const struct parch *parch_by_token(uint32_t token)
{
	size_t i;

	for (i = 0; arch_table[i].name; i++)
		if (arch_table[i].token == token)
			return &arch_table[i];
	return NULL;
}

const char *profile_arch_normalize(const char *name)
{
	const struct parch *a;
	size_t i;

	if (!name)
		return NULL;
	a = parch_by_name(name);
	if (a)
		return a->name;
	for (i = 0; arch_aliases[i].alias; i++)
		if (!strcmp(arch_aliases[i].alias, name))
			return arch_aliases[i].name;
	return NULL;
}

static int node_arch(const struct profile_opts *opts, const struct parch **out, struct diag *d)
{
	const struct parch *a;
	const char *n;

	if (!opts || !opts->arch) {
		a = parch_by_token(seccomp_arch_native());
		if (!a) {
			(void)diag_set(d, -EINVAL,
				       "this machine's architecture is not one runc knows");
			return -EINVAL;
		}
	} else {
		n = profile_arch_normalize(opts->arch);
		a = n ? parch_by_name(n) : NULL;
		if (!a) {
			(void)diag_set(d, -EINVAL, "unknown architecture '%s'", opts->arch);
			return -EINVAL;
		}
	}
	*out = a;
	return 0;
}

int profile_digest(const void *data, size_t len, const struct profile_opts *opts,
		   uint8_t out[SHA256_LEN], struct diag *d)
{
	const struct parch *node;
	int r = node_arch(opts, &node, d);

	if (r < 0)
		return r;
	profile_digest_arch(data ? data : "", data ? len : 0, node->name, out);
	return 0;
}

/* Docker's KernelVersion: "major.minor" (moby refuses anything else). */
static bool min_kernel_ok(const struct pjson *v)
{
	size_t i = 0, dots = 0, digits = 0;

	if (v->type != PJ_STR || !v->str.len)
		return false;
	for (i = 0; i < v->str.len; i++) {
		char c = v->str.s[i];

		if (c == '.') {
			if (!digits || dots)
				return false;
			dots++;
			digits = 0;
		} else if (c >= '0' && c <= '9') {
			digits++;
		} else {
			return false;
		}
	}
	return dots == 1 && digits;
}

static void filter_warnings(struct pfindings *f, const struct pm_filter *fl, const char *key,
			    size_t ri)
{
	char path[96], q[64];

	if (fl->caps.n || fl->arches.n) {
		(void)snprintf(path, sizeof(path), "syscalls[%zu].%s", ri, key);
		pfind_add_view(f, PROFILE_VIEW_BOTH, false, 5, path,
			       "containerd ignores %s and applies this rule on every node and to "
			       "every container; CRI-O applies it only when the %s%s%s match",
			       key, fl->arches.n ? "architectures" : "",
			       fl->arches.n && fl->caps.n ? " and " : "",
			       fl->caps.n ? "capabilities" : "");
	}
	if (fl->has_min_kernel) {
		(void)snprintf(path, sizeof(path), "syscalls[%zu].%s.minKernel", ri, key);
		if (min_kernel_ok(fl->min_kernel))
			pfind_add_view(f, PROFILE_VIEW_BOTH, false, 5, path,
				       "only Docker reads minKernel: containerd and CRI-O apply "
				       "this rule on every kernel");
		else
			pfind_add_view(f, PROFILE_VIEW_BOTH, false, 5, path,
				       "only Docker reads minKernel: containerd and CRI-O apply "
				       "this rule on every kernel (and this value, %s, is not the "
				       "\"major.minor\" string Docker expects)",
				       fl->min_kernel->type == PJ_STR
					       ? pstr_quote(&fl->min_kernel->str, q, sizeof(q))
					       : "not a string");
	}
}

/*
 * Warning class 5: keys that CRI-O honours and containerd ignores, read from the
 * Docker-dialect decode, each saying what containerd does instead.
 */
static void docker_key_warnings(const struct pm_profile *p, struct pfindings *f)
{
	char path[96], q[64];
	size_t i;

	if (p->n_archmap)
		pfind_add_view(
			f, PROFILE_VIEW_BOTH, false, 5, "archMap",
			"containerd ignores archMap and compiles for the node's architecture "
			"plus architectures only; CRI-O adds the archMap entry for the "
			"node's architecture and its subArchitectures");
	if (p->default_errno_s.len)
		pfind_add_view(f, PROFILE_VIEW_BOTH, false, 5, "defaultErrno",
			       "containerd ignores defaultErrno and returns %s %llu; CRI-O "
			       "returns '%s'",
			       p->has_default_errno_ret ? "defaultErrnoRet" : "EPERM",
			       p->has_default_errno_ret ? (unsigned long long)p->default_errno_ret
							: (unsigned long long)EPERM,
			       pstr_quote(&p->default_errno_s, q, sizeof(q)));
	for (i = 0; i < p->n_rules; i++) {
		const struct pm_rule *r = &p->rules[i];

		if (r->name.len) {
			(void)snprintf(path, sizeof(path), "syscalls[%zu].name", i);
			pfind_add_view(f, PROFILE_VIEW_BOTH, false, 5, path,
				       "containerd ignores name, so this rule adds nothing for "
				       "'%s' there; CRI-O applies it",
				       pstr_quote(&r->name, q, sizeof(q)));
		}
		if (r->errno_s.len) {
			(void)snprintf(path, sizeof(path), "syscalls[%zu].errno", i);
			pfind_add_view(f, PROFILE_VIEW_BOTH, false, 5, path,
				       "containerd ignores errno and returns %s %llu; CRI-O "
				       "returns '%s'",
				       r->has_errno_ret ? "errnoRet" : "EPERM",
				       r->has_errno_ret ? (unsigned long long)r->errno_ret
							: (unsigned long long)EPERM,
				       pstr_quote(&r->errno_s, q, sizeof(q)));
		}
		filter_warnings(f, &r->includes, "includes", i);
		filter_warnings(f, &r->excludes, "excludes", i);
	}
}

static bool same_finding(const struct pfind *a, const struct pfind *b)
{
	return a->error == b->error && a->code == b->code && !strcmp(a->path, b->path) &&
	       !strcmp(a->msg, b->msg);
}

/* Move one collected finding into the verdict's array (ownership of the strings moves). */
static void take(struct profile_verdict *v, struct pfind *x, enum profile_view view)
{
	struct profile_finding *out =
		x->error ? &v->errors[v->n_errors++] : &v->warnings[v->n_warnings++];

	out->path = x->path;
	out->message = x->msg;
	out->view = view;
	out->code = x->code;
	x->path = NULL;
	x->msg = NULL;
}

static int add_summary(struct profile_verdict *v, bool error, size_t n)
{
	struct profile_finding *out = error ? &v->errors[v->n_errors] : &v->warnings[v->n_warnings];
	char msg[128];

	(void)snprintf(msg, sizeof(msg), "%zu more %s not listed", n,
		       error ? "errors" : "warnings");
	out->path = strdup("");
	out->message = strdup(msg);
	out->view = PROFILE_VIEW_BOTH;
	out->code = 0;
	if (error)
		v->n_errors++;
	else
		v->n_warnings++;
	return out->path && out->message ? 0 : -ENOMEM;
}

/*
 * Put both views' findings into @v: a finding both views filed alike is one
 * finding for both; the rest keep their view.
 */
static int merge(struct profile_verdict *v, struct pfindings *fc, struct pfindings *fr)
{
	size_t n_err = 2, n_warn = 2, i, j;
	bool *used = NULL;
	int r = -ENOMEM;

	for (i = 0; i < fc->n; i++)
		fc->v[i].error ? n_err++ : n_warn++;
	for (i = 0; i < fr->n; i++)
		fr->v[i].error ? n_err++ : n_warn++;
	v->errors = calloc(n_err, sizeof(*v->errors));
	v->warnings = calloc(n_warn, sizeof(*v->warnings));
	used = calloc(fr->n + 1, sizeof(*used));
	if (!v->errors || !v->warnings || !used)
		goto out;
	for (i = 0; i < fc->n; i++) {
		struct pfind *x = &fc->v[i];
		enum profile_view view = x->view;

		for (j = 0; view == PROFILE_VIEW_CONTAINERD && j < fr->n; j++) {
			if (!used[j] && fr->v[j].view == PROFILE_VIEW_CRIO &&
			    same_finding(x, &fr->v[j])) {
				used[j] = true;
				view = PROFILE_VIEW_BOTH;
				break;
			}
		}
		take(v, x, view);
	}
	for (j = 0; j < fr->n; j++)
		if (!used[j])
			take(v, &fr->v[j], fr->v[j].view);
	r = 0;
	if (fc->dropped[1] + fr->dropped[1])
		r = add_summary(v, true, fc->dropped[1] + fr->dropped[1]);
	if (!r && fc->dropped[0] + fr->dropped[0])
		r = add_summary(v, false, fc->dropped[0] + fr->dropped[0]);
out:
	free(used);
	return r;
}

static int set_arches(struct profile_verdict *v, const struct pview_result *a,
		      const struct pview_result *b)
{
	const struct parch *all[64];
	size_t n = 0, i, k;

	for (i = 0; i < a->n_arches + b->n_arches; i++) {
		const struct parch *x = i < a->n_arches ? a->arches[i] : b->arches[i - a->n_arches];

		for (k = 0; k < n && all[k] != x; k++)
			;
		if (k == n)
			all[n++] = x;
	}
	v->arches = calloc(n ? n : 1, sizeof(*v->arches));
	if (!v->arches)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		v->arches[i] = strdup(all[i]->name);
		if (!v->arches[i])
			return -ENOMEM;
		v->n_arches++;
	}
	return 0;
}

/* A verdict still in pieces, as check() builds it. */
static void loose_free(struct profile_verdict *v)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < v->n_errors; i++) {
		free(v->errors[i].path);
		free(v->errors[i].message);
	}
	for (i = 0; i < v->n_warnings; i++) {
		free(v->warnings[i].path);
		free(v->warnings[i].message);
	}
	for (i = 0; i < v->n_arches; i++)
		free(v->arches[i]);
	free(v->errors);
	free(v->warnings);
	free(v->arches);
	free(v);
}

/* Length of a finding's string with its NUL; a missing one packs as "". */
static size_t str_size(const char *s)
{
	return (s ? strlen(s) : 0) + 1;
}

static char *pack_str(char **at, const char *s)
{
	size_t n = str_size(s);
	char *out = *at;

	memcpy(out, s ? s : "", n);
	*at += n;
	return out;
}

static void pack_findings(struct profile_finding *dst, const struct profile_finding *src, size_t n,
			  char **at)
{
	size_t i;

	for (i = 0; i < n; i++) {
		dst[i] = src[i];
		dst[i].path = pack_str(at, src[i].path);
		dst[i].message = pack_str(at, src[i].message);
	}
}

/*
 * Copy @v into one allocation: the struct, then the arrays, then the strings.
 * A docker-default-sized verdict is some 80 strings; the daemon keeps verdicts
 * in its cache, and many small long-lived chunks scattered through the heap
 * slow libseccomp's next compiles by a fifth (bench/results-daemon.md), where
 * one block per verdict costs nothing measurable.
 */
static size_t packed_size(const struct profile_verdict *v)
{
	size_t size = sizeof(*v), i;

	size += (v->n_errors + v->n_warnings) * sizeof(struct profile_finding);
	size += v->n_arches * sizeof(char *);
	for (i = 0; i < v->n_errors; i++)
		size += str_size(v->errors[i].path) + str_size(v->errors[i].message);
	for (i = 0; i < v->n_warnings; i++)
		size += str_size(v->warnings[i].path) + str_size(v->warnings[i].message);
	for (i = 0; i < v->n_arches; i++)
		size += str_size(v->arches[i]);
	return size;
}

static struct profile_verdict *pack(const struct profile_verdict *v)
{
	struct profile_verdict *p;
	size_t i;
	char *at;

	p = malloc(packed_size(v));
	if (!p)
		return NULL;
	*p = *v;
	p->errors = (struct profile_finding *)(p + 1);
	p->warnings = p->errors + v->n_errors;
	p->arches = (char **)(p->warnings + v->n_warnings);
	at = (char *)(p->arches + v->n_arches);
	pack_findings(p->errors, v->errors, v->n_errors, &at);
	pack_findings(p->warnings, v->warnings, v->n_warnings, &at);
	for (i = 0; i < v->n_arches; i++)
		p->arches[i] = pack_str(&at, v->arches[i]);
	return p;
}

void profile_verdict_free(struct profile_verdict *v)
{
	free(v);
}

static int check(const void *data, size_t len, const struct parch *node, struct profile_verdict *v,
		 struct diag *d)
{
	struct pfindings fc = { 0 }, fr = { 0 };
	struct pview_result rc = { 0 }, rr = { 0 };
	struct pcompile_ctx *cc = NULL;
	struct pm_profile mc, mr;
	struct parena a;
	struct pjson *root = NULL;
	char msg[256];
	int r;

	parena_init(&a);
	memset(&mc, 0, sizeof(mc));
	memset(&mr, 0, sizeof(mr));
	fc.view = PROFILE_VIEW_CONTAINERD;
	fr.view = PROFILE_VIEW_CRIO;
	rc.arches[0] = rr.arches[0] = node;
	rc.n_arches = rr.n_arches = 1;
	r = pjson_parse(&a, data, len, &root, msg, sizeof(msg));
	if (r < 0)
		goto out;
	if (r > 0) {
		pfind_add_view(&fc, PROFILE_VIEW_BOTH, true, 1, "", "%s", msg);
		goto merge;
	}
	r = pm_decode(&a, root, PDIALECT_OCI, &mc, &fc);
	if (!r)
		r = pm_decode(&a, root, PDIALECT_DOCKER, &mr, &fr);
	if (r < 0)
		goto out;
	r = pcompile_ctx_new(&a, node, &cc);
	if (r < 0)
		goto out;
	r = pview_check(cc, PROFILE_VIEW_CONTAINERD, &mc, &fc, &rc);
	if (!r)
		r = pview_check(cc, PROFILE_VIEW_CRIO, &mr, &fr, &rr);
	if (r < 0)
		goto out;
	/* Only for a profile both runtimes could read: then the differences matter. */
	if (!mr.is_null && root->type == PJ_OBJ)
		docker_key_warnings(&mr, &fr);
merge:
	if (fc.oom || fr.oom) {
		r = -ENOMEM;
		goto out;
	}
	r = merge(v, &fc, &fr);
	if (!r)
		r = set_arches(v, &rc, &rr);
	if (r < 0)
		goto out;
	v->bpf_instructions = rc.bpf_instructions > rr.bpf_instructions ? rc.bpf_instructions
									: rr.bpf_instructions;
	v->valid = v->n_errors == 0;
out:
	if (r < 0)
		(void)diag_set(d, r, "cannot check profile: %s", strerror(-r));
	pcompile_ctx_free(cc);
	pfindings_release(&fc);
	pfindings_release(&fr);
	parena_release(&a);
	return r;
}

int profile_check(const void *data, size_t len, const struct profile_opts *opts,
		  struct profile_verdict **out, struct diag *d)
{
	struct profile_verdict *v = NULL;
	const struct parch *node;
	int r;

	if (!data && len)
		return diag_set(d, -EINVAL, "no profile data");
	r = node_arch(opts, &node, d);
	if (r < 0)
		return r;
	v = calloc(1, sizeof(*v));
	if (!v)
		return diag_set(d, -ENOMEM, "cannot check profile: %s", strerror(ENOMEM));
	profile_digest_arch(data, len, node->name, v->digest);
	r = check(data ? data : "", len, node, v, d);
	if (r == 0) {
		*out = pack(v);
		if (!*out)
			r = diag_set(d, -ENOMEM, "cannot check profile: %s", strerror(ENOMEM));
	}
	loose_free(v);
	return r;
}

struct centry {
	struct profile_verdict *v;
	size_t size;		    /* bytes of the verdict, counted against max_bytes */
	struct centry *prev, *next; /* LRU list, most recent first */
	struct centry *hnext;	    /* hash chain */
};

/*
 * The compile thread (PROFILE_CACHE_THREAD).  libseccomp builds its rule
 * database from thousands of small nodes and walks them again and again, so
 * how fast a compile runs depends on where malloc put those nodes.  In the
 * daemon, whose long-lived state grows through the heap while it compiles, the
 * same compiles took 20-40 % more CPU than in a bare loop; with a thread of its
 * own the compile gets its own glibc arena, which holds nothing but compile
 * temporaries and is left as the last compile found it (bench/README.md).  The
 * caller waits for the result: this is about memory layout, not parallelism.
 */
struct cworker {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	bool has_job, has_result, quit;
	/* The job, then its result; both guarded by @mu. */
	const void *data;
	size_t len;
	const struct profile_opts *opts;
	struct profile_verdict *v;
	struct diag d;
	int r;
};

struct profile_cache {
	size_t max, n, n_buckets;
	size_t max_bytes, bytes; /* 0: no byte limit */
	struct centry **buckets;
	struct centry *head, *tail;
	struct cworker *worker; /* NULL: compile on the caller's thread */
};

static void *cworker_main(void *arg)
{
	struct cworker *w = arg;

	(void)pthread_mutex_lock(&w->mu);
	for (;;) {
		struct profile_verdict *v = NULL;
		struct diag d;
		int r;

		while (!w->has_job && !w->quit)
			(void)pthread_cond_wait(&w->cv, &w->mu);
		if (w->quit)
			break;
		(void)pthread_mutex_unlock(&w->mu);
		r = profile_check(w->data, w->len, w->opts, &v, &d);
		(void)pthread_mutex_lock(&w->mu);
		w->v = v;
		w->r = r;
		w->d = d;
		w->has_job = false;
		w->has_result = true;
		(void)pthread_cond_broadcast(&w->cv);
	}
	(void)pthread_mutex_unlock(&w->mu);
	return NULL;
}

static int cworker_start(struct cworker **out)
{
	struct cworker *w = calloc(1, sizeof(*w));
	sigset_t all, old;
	int r;

	if (!w)
		return -ENOMEM;
	(void)pthread_mutex_init(&w->mu, NULL);
	(void)pthread_cond_init(&w->cv, NULL);
	/* Signals go to the caller's thread: the new thread starts with all blocked. */
	(void)sigfillset(&all);
	(void)pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&w->thread, NULL, cworker_main, w);
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r) {
		(void)pthread_cond_destroy(&w->cv);
		(void)pthread_mutex_destroy(&w->mu);
		free(w);
		return -r;
	}
	*out = w;
	return 0;
}

static void cworker_stop(struct cworker *w)
{
	if (!w)
		return;
	(void)pthread_mutex_lock(&w->mu);
	w->quit = true;
	(void)pthread_cond_broadcast(&w->cv);
	(void)pthread_mutex_unlock(&w->mu);
	(void)pthread_join(w->thread, NULL);
	(void)pthread_cond_destroy(&w->cv);
	(void)pthread_mutex_destroy(&w->mu);
	free(w);
}

/* profile_check() on the compile thread; the caller blocks until it is done. */
static int cworker_check(struct cworker *w, const void *data, size_t len,
			 const struct profile_opts *opts, struct profile_verdict **out,
			 struct diag *d)
{
	int r;

	(void)pthread_mutex_lock(&w->mu);
	w->data = data;
	w->len = len;
	w->opts = opts;
	w->has_result = false;
	w->has_job = true;
	(void)pthread_cond_broadcast(&w->cv);
	while (!w->has_result)
		(void)pthread_cond_wait(&w->cv, &w->mu);
	r = w->r;
	if (r < 0 && d)
		*d = w->d;
	else
		*out = w->v;
	w->v = NULL;
	(void)pthread_mutex_unlock(&w->mu);
	return r;
}

int profile_cache_new(size_t max, unsigned flags, struct profile_cache **out)
{
	struct profile_cache *c;
	size_t nb = 16;
	int r;

	if (!max || max > (1u << 20) || (flags & ~PROFILE_CACHE_THREAD))
		return -EINVAL;
	while (nb < max * 2)
		nb *= 2;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->buckets = calloc(nb, sizeof(struct centry *));
	if (!c->buckets) {
		free(c);
		return -ENOMEM;
	}
	if (flags & PROFILE_CACHE_THREAD) {
		r = cworker_start(&c->worker);
		if (r < 0) {
			free(c->buckets);
			free(c);
			return r;
		}
	}
	c->max = max;
	c->n_buckets = nb;
	*out = c;
	return 0;
}

void profile_cache_free(struct profile_cache *c)
{
	struct centry *e, *next;

	if (!c)
		return;
	cworker_stop(c->worker);
	for (e = c->head; e; e = next) {
		next = e->next;
		profile_verdict_free(e->v);
		free(e);
	}
	free(c->buckets);
	free(c);
}

static size_t bucket_of(const struct profile_cache *c, const uint8_t digest[SHA256_LEN])
{
	size_t h;

	memcpy(&h, digest, sizeof(h));
	return h & (c->n_buckets - 1);
}

static void lru_unlink(struct profile_cache *c, struct centry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push(struct profile_cache *c, struct centry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (!c->tail)
		c->tail = e;
}

static void evict_oldest(struct profile_cache *c)
{
	struct centry *e = c->tail, **pp;

	lru_unlink(c, e);
	for (pp = &c->buckets[bucket_of(c, e->v->digest)]; *pp != e; pp = &(*pp)->hnext)
		;
	*pp = e->hnext;
	c->bytes -= e->size;
	profile_verdict_free(e->v);
	free(e);
	c->n--;
}

void profile_cache_limit_bytes(struct profile_cache *c, size_t max_bytes)
{
	c->max_bytes = max_bytes;
	while (c->n > 1 && c->max_bytes && c->bytes > c->max_bytes)
		evict_oldest(c);
}

int profile_cache_check(struct profile_cache *c, const void *data, size_t len,
			const struct profile_opts *opts, const struct profile_verdict **out,
			bool *hit, struct diag *d)
{
	struct profile_verdict *v = NULL;
	const struct parch *node;
	uint8_t digest[SHA256_LEN];
	struct centry *e;
	size_t b;
	int r;

	r = node_arch(opts, &node, d);
	if (r < 0)
		return r;
	profile_digest_arch(data ? data : "", data ? len : 0, node->name, digest);
	b = bucket_of(c, digest);
	for (e = c->buckets[b]; e; e = e->hnext) {
		if (!memcmp(e->v->digest, digest, SHA256_LEN)) {
			lru_unlink(c, e);
			lru_push(c, e);
			*out = e->v;
			if (hit)
				*hit = true;
			return 0;
		}
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return diag_set(d, -ENOMEM, "cannot check profile: %s", strerror(ENOMEM));
	if (c->worker)
		r = cworker_check(c->worker, data, len, opts, &v, d);
	else
		r = profile_check(data, len, opts, &v, d);
	if (r >= 0 && !v) {
		(void)diag_set(d, -EIO, "cannot check profile: no verdict");
		r = -EIO;
	}
	if (r < 0) {
		free(e);
		return r;
	}
	e->size = packed_size(v);
	while (c->n && (c->n == c->max || (c->max_bytes && c->bytes + e->size > c->max_bytes)))
		evict_oldest(c);
	c->bytes += e->size;
	e->v = v;
	e->hnext = c->buckets[b];
	c->buckets[b] = e;
	lru_push(c, e);
	c->n++;
	*out = v;
	if (hit)
		*hit = false;
	return 0;
}
