/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One runtime family's reading of a decoded profile, then libseccomp, the way
 * runc does it: the default action and its errno, the architectures (native
 * plus listed, or CRI-O's archMap entry), each rule checked and then added with
 * seccomp_rule_add_array() (skipped when it repeats the default action, names
 * that libseccomp does not know skipped, rules that name one argument index
 * twice split into one rule per condition), never loaded.  The filter is
 * exported into a memfd to count its instructions.  When the two views end up
 * with the same rule set, the filter is built once.
 */
#include "profilestore/profile_int.h"

#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The kernel's BPF_MAXINSNS. */
#define BPF_MAX_INSNS 4096
/*
 * runc (>= 1.0) puts a stub in front of the filter that returns ENOSYS for
 * syscalls newer than the profile knows: per architecture it loads and compares
 * the arch, loads the syscall number and compares it with the largest known
 * one; then it returns ENOSYS or jumps into the filter.  This bounds that stub.
 */
#define ENOSYS_STUB(n_arches) (3u + 4u * (unsigned)(n_arches))
/*
 * Rule entries per view.  Entries that libseccomp would drop (a syscall already
 * decided unconditionally) are not counted, and every other entry adds at least
 * one comparison, so a plan this long cannot fit in BPF_MAX_INSNS; the bound
 * also keeps libseccomp's time (quadratic in rules per syscall) around a second.
 */
#define PLAN_MAX 8192

struct paction {
	const char *name;
	uint32_t act; /* for ERRNO and TRACE, the action without its data */
};

static const struct paction actions[] = {
	{ "SCMP_ACT_KILL", SCMP_ACT_KILL_THREAD },
	{ "SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS },
	{ "SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD },
	{ "SCMP_ACT_TRAP", SCMP_ACT_TRAP },
	{ "SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0) },
	{ "SCMP_ACT_TRACE", SCMP_ACT_TRACE(0) },
	{ "SCMP_ACT_ALLOW", SCMP_ACT_ALLOW },
	{ "SCMP_ACT_LOG", SCMP_ACT_LOG },
	{ "SCMP_ACT_NOTIFY", SCMP_ACT_NOTIFY },
	{ NULL, 0 },
};

struct pop {
	const char *name;
	enum scmp_compare op;
};

static const struct pop ops[] = {
	{ "SCMP_CMP_NE", SCMP_CMP_NE },
	{ "SCMP_CMP_LT", SCMP_CMP_LT },
	{ "SCMP_CMP_LE", SCMP_CMP_LE },
	{ "SCMP_CMP_EQ", SCMP_CMP_EQ },
	{ "SCMP_CMP_GE", SCMP_CMP_GE },
	{ "SCMP_CMP_GT", SCMP_CMP_GT },
	{ "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
	{ NULL, 0 },
};

/* The errno names CRI-O accepts in "errno"/"defaultErrno" (Linux generic numbering). */
struct perrno {
	const char *name;
	unsigned value;
};

static const struct perrno errnos[] = {
	{ "EPERM", EPERM },
	{ "ENOENT", ENOENT },
	{ "ESRCH", ESRCH },
	{ "EINTR", EINTR },
	{ "EIO", EIO },
	{ "ENXIO", ENXIO },
	{ "E2BIG", E2BIG },
	{ "ENOEXEC", ENOEXEC },
	{ "EBADF", EBADF },
	{ "ECHILD", ECHILD },
	{ "EAGAIN", EAGAIN },
	{ "ENOMEM", ENOMEM },
	{ "EACCES", EACCES },
	{ "EFAULT", EFAULT },
	{ "EBUSY", EBUSY },
	{ "EEXIST", EEXIST },
	{ "EXDEV", EXDEV },
	{ "ENODEV", ENODEV },
	{ "ENOTDIR", ENOTDIR },
	{ "EISDIR", EISDIR },
	{ "EINVAL", EINVAL },
	{ "ENFILE", ENFILE },
	{ "EMFILE", EMFILE },
	{ "ENOTTY", ENOTTY },
	{ "EFBIG", EFBIG },
	{ "ENOSPC", ENOSPC },
	{ "ESPIPE", ESPIPE },
	{ "EROFS", EROFS },
	{ "EMLINK", EMLINK },
	{ "EPIPE", EPIPE },
	{ "EDOM", EDOM },
	{ "ERANGE", ERANGE },
	{ "EDEADLK", EDEADLK },
	{ "ENAMETOOLONG", ENAMETOOLONG },
	{ "ENOLCK", ENOLCK },
	{ "ENOSYS", ENOSYS },
	{ "ENOTEMPTY", ENOTEMPTY },
	{ "ELOOP", ELOOP },
	{ "ENOTSUP", ENOTSUP },
	{ "EOPNOTSUPP", EOPNOTSUPP },
	{ "EAFNOSUPPORT", EAFNOSUPPORT },
	{ "ENOTSOCK", ENOTSOCK },
	{ "EPROTONOSUPPORT", EPROTONOSUPPORT },
	{ "ECONNREFUSED", ECONNREFUSED },
	{ "ENODATA", ENODATA },
	{ "ETIMEDOUT", ETIMEDOUT },
	{ NULL, 0 },
};

/*
 * A rule as it goes to seccomp_rule_add_array().  Its conditions are in the
 * plan's @args: most rules have none, and six inline ones made a plan of a
 * docker-default-sized profile 86 KB instead of 12 (bench/results-daemon.md).
 */
struct pentry {
	int nr;
	uint32_t action;
	uint32_t n_args;
	uint32_t args;	     /* index of the first in the plan's @args */
	uint32_t rule, name; /* where it came from, for messages */
};

struct pplan {
	uint32_t def_action;
	uint32_t arches[32];
	size_t n_arches;
	struct pentry *e;
	size_t n;
	struct scmp_arg_cmp *args; /* every entry's conditions, in the entries' order */
	size_t n_args;
};

/* A compiled plan and what came of it, kept so that the other view can reuse it. */
struct pcompiled {
	bool valid;
	struct pplan plan;
	int rc;		/* 0, or the failing libseccomp return */
	size_t fail_at; /* entry that failed */
	unsigned insns; /* exported filter size */
};

struct name_slot {
	const char *s;
	size_t len;
	int nr;
};

struct pcompile_ctx {
	struct parena *a;
	const struct parch *node;
	uint32_t host;
	struct name_slot *names;
	size_t names_cap, names_n;
	struct pcompiled last;
	unsigned api_prev; /* libseccomp's API level before the checks */
};

int pcompile_ctx_new(struct parena *a, const struct parch *node, struct pcompile_ctx **out)
{
	struct pcompile_ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->a = a;
	c->node = node;
	c->host = seccomp_arch_native();
	/*
	 * libseccomp refuses actions (LOG, KILL_PROCESS, NOTIFY) that it finds the
	 * running kernel lacks, and it finds out by calling seccomp(2), which the
	 * daemon's own filter or valgrind may refuse.  A profile is judged for the
	 * nodes' current kernels, not for the kernel or sandbox this runs in, so
	 * the API level is raised to the newest that 2.5 knows while the checks
	 * run.  The level is libseccomp's process-wide state: pcompile_ctx_free()
	 * puts back what it was, so that daemon/sandbox.c still sees the truth.
	 */
	c->api_prev = seccomp_api_get();
	if (c->api_prev < 6)
		(void)seccomp_api_set(6);
	*out = c;
	return 0;
}

void pcompile_ctx_free(struct pcompile_ctx *c)
{
	if (!c)
		return;
	if (c->api_prev < 6)
		(void)seccomp_api_set(c->api_prev);
	free(c->names);
	free(c);
}

static uint64_t fnv1a(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ull;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h;
}

/*
 * The host's number for a syscall name, memoised: both views and repeated names
 * ask once.  libseccomp translates host numbers to every arch of the filter, so
 * this is what the rules are added with even when the node's arch differs.
 */
static int resolve(struct pcompile_ctx *c, const struct pstr *name, int *nr)
{
	size_t i, mask;
	uint64_t h;

	if (c->names_n * 2 >= c->names_cap) {
		size_t cap = c->names_cap ? c->names_cap * 2 : 1024, j;
		struct name_slot *t = calloc(cap, sizeof(*t));

		if (!t)
			return -ENOMEM;
		for (j = 0; j < c->names_cap; j++) {
			const struct name_slot *o = &c->names[j];

			if (!o->s)
				continue;
			for (i = fnv1a(o->s, o->len) & (cap - 1); t[i].s; i = (i + 1) & (cap - 1))
				;
			t[i] = *o;
		}
		free(c->names);
		c->names = t;
		c->names_cap = cap;
	}
	mask = c->names_cap - 1;
	h = fnv1a(name->s, name->len);
	for (i = h & mask; c->names[i].s; i = (i + 1) & mask) {
		if (c->names[i].len == name->len && !memcmp(c->names[i].s, name->s, name->len)) {
			*nr = c->names[i].nr;
			return 0;
		}
	}
	/* Go hands the name to C with C.CString: it ends at the first NUL. */
	*nr = seccomp_syscall_resolve_name(name->s);
	c->names[i].s = name->s;
	c->names[i].len = name->len;
	c->names[i].nr = *nr;
	c->names_n++;
	return 0;
}

static bool pstr_is(const struct pstr *s, const char *lit)
{
	return s->s && s->len == strlen(lit) && !memcmp(s->s, lit, s->len);
}

static const struct paction *find_action(const struct pstr *s)
{
	const struct paction *a;

	for (a = actions; a->name; a++)
		if (pstr_is(s, a->name))
			return a;
	return NULL;
}

static bool takes_errno(uint32_t act)
{
	return act == SCMP_ACT_ERRNO(0) || act == SCMP_ACT_TRACE(0);
}

/* CRI-O's "errno": a decimal number or an E* name. */
static bool parse_errno_str(const struct pstr *s, uint64_t *out)
{
	const struct perrno *e;
	uint64_t x = 0;
	size_t i;

	for (e = errnos; e->name; e++) {
		if (pstr_is(s, e->name)) {
			*out = e->value;
			return true;
		}
	}
	if (!s->len || s->len > 10)
		return false;
	for (i = 0; i < s->len; i++) {
		if (s->s[i] < '0' || s->s[i] > '9')
			return false;
		x = x * 10 + (uint64_t)(s->s[i] - '0');
	}
	*out = x;
	return true;
}

struct conflict_slot {
	int nr;
	bool used, has_uncond, has_cond;
	uint32_t uncond_action, cond_action;
	uint32_t uncond_rule, uncond_name, cond_rule, cond_name;
};

struct vstate {
	struct pcompile_ctx *c;
	enum profile_view view;
	const struct pm_profile *p;
	struct pfindings *f;
	size_t errors_before;
	struct pplan plan;
	size_t plan_cap, args_cap;
	struct conflict_slot *slots;
	size_t slots_cap;
	bool has_notify;
	int err;
};

static size_t count_errors(const struct pfindings *f)
{
	size_t i, n = f->dropped[1];

	for (i = 0; i < f->n; i++)
		n += f->v[i].error;
	return n;
}

static void add_arch(const struct parch *a, struct pview_result *res)
{
	size_t i;

	for (i = 0; i < res->n_arches; i++)
		if (res->arches[i] == a)
			return;
	if (res->n_arches < sizeof(res->arches) / sizeof(res->arches[0]))
		res->arches[res->n_arches++] = a;
}

/* An "SCMP_ARCH_*" string: error class 3 when runc would refuse it. */
static void check_arch(struct vstate *s, const struct pstr *name, const char *path,
		       struct pview_result *res, bool *has_node)
{
	const struct parch *a;
	char q[96];

	if (pstr_is(name, "SCMP_ARCH_NATIVE")) {
		pfind_add(s->f, true, 3, path,
			  "architecture SCMP_ARCH_NATIVE is not one runc accepts: the container "
			  "fails to start");
		return;
	}
	a = parch_by_scmp(name);
	if (!a) {
		pfind_add(s->f, true, 3, path,
			  "unknown architecture '%s': the runtime refuses the profile and the "
			  "container fails to start",
			  pstr_quote(name, q, sizeof(q)));
		return;
	}
	if (a == s->c->node)
		*has_node = true;
	add_arch(a, res);
}

static void check_arches(struct vstate *s, struct pview_result *res)
{
	const struct pm_profile *p = s->p;
	char path[96];
	bool has_node = false;
	size_t i, j;

	res->n_arches = 0;
	add_arch(s->c->node, res);
	for (i = 0; i < p->arches.n; i++) {
		(void)snprintf(path, sizeof(path), "architectures[%zu]", i);
		check_arch(s, &p->arches.v[i], path, res, &has_node);
	}
	if (p->arches.n && !has_node)
		pfind_add(s->f, false, 6, "architectures",
			  "architectures leave out this node's architecture %s (%s): the runtime "
			  "adds the native architecture anyway, so the list is probably meant for "
			  "other nodes",
			  s->c->node->scmp, s->c->node->name);
	if (s->view != PROFILE_VIEW_CRIO || !p->n_archmap)
		return;
	if (p->arches.n) {
		pfind_add(s->f, true, 4, "archMap",
			  "both architectures and archMap are set: CRI-O refuses the profile and "
			  "the container fails to start");
		return;
	}
	for (i = 0; i < p->n_archmap; i++) {
		const struct pm_archmap *m = &p->archmap[i];

		if (!pstr_is(&m->arch, s->c->node->scmp))
			continue;
		for (j = 0; j < m->subs.n; j++) {
			(void)snprintf(path, sizeof(path), "archMap[%zu].subArchitectures[%zu]", i,
				       j);
			check_arch(s, &m->subs.v[j], path, res, &has_node);
		}
		return;
	}
	pfind_add(s->f, false, 6, "archMap",
		  "archMap has no entry for this node's architecture %s: CRI-O compiles the "
		  "filter for the native architecture only",
		  s->c->node->scmp);
}

static void check_flags(struct vstate *s)
{
	static const char *const known[] = { "SECCOMP_FILTER_FLAG_LOG",
					     "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
					     "SECCOMP_FILTER_FLAG_TSYNC", NULL };
	const struct pm_strv *fl = &s->p->flags;
	char path[64], q[96];
	size_t i, k;

	for (i = 0; i < fl->n; i++) {
		const struct pstr *x = &fl->v[i];

		(void)snprintf(path, sizeof(path), "flags[%zu]", i);
		for (k = 0; known[k] && !pstr_is(x, known[k]); k++)
			;
		if (known[k]) {
			pfind_add(s->f, false, 8, path,
				  "flag %s: runc before 1.2 refuses every flag and the container "
				  "fails to start there; runc 1.2+ and crun accept it",
				  known[k]);
		} else if (pstr_is(x, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV")) {
			if (!s->has_notify)
				pfind_add(s->f, true, 7, path,
					  "flag SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV without a "
					  "SCMP_ACT_NOTIFY rule: the runtime refuses the profile");
			else
				pfind_add(s->f, false, 8, path,
					  "flag SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs "
					  "libseccomp "
					  "2.6 on the node and runc 1.2+ or crun; older runtimes "
					  "refuse the profile");
		} else {
			pfind_add(s->f, true, 7, path,
				  "unknown flag '%s': no current runtime accepts it and the "
				  "container fails to start",
				  pstr_quote(x, q, sizeof(q)));
		}
	}
}

/*
 * Room for @need elements of @size in the arena array *@v, which holds @n of
 * its *@cap: a bigger copy when needed (the arena frees nothing before the
 * check ends), doubling from @first.  Return: false, with s->err, out of memory.
 */
static bool plan_room(struct vstate *s, void **v, size_t *cap, size_t n, size_t need, size_t size,
		      size_t first)
{
	size_t c = *cap ? *cap * 2 : first;
	void *p;

	if (need <= *cap)
		return true;
	while (c < need)
		c *= 2;
	p = parena_alloc(s->c->a, c * size);
	if (!p) {
		s->err = -ENOMEM;
		return false;
	}
	if (n)
		memcpy(p, *v, n * size);
	*v = p;
	*cap = c;
	return true;
}

static struct pentry *plan_add(struct vstate *s)
{
	void *e = s->plan.e;

	if (s->plan.n >= PLAN_MAX ||
	    !plan_room(s, &e, &s->plan_cap, s->plan.n, s->plan.n + 1, sizeof(*s->plan.e), 512))
		return NULL;
	s->plan.e = e;
	return &s->plan.e[s->plan.n++];
}

/* Append @n conditions for the entry just added, @e.  Return: false when out of memory. */
static bool plan_add_args(struct vstate *s, struct pentry *e, const struct scmp_arg_cmp *conds,
			  size_t n)
{
	void *a = s->plan.args;

	if (!plan_room(s, &a, &s->args_cap, s->plan.n_args, s->plan.n_args + n,
		       sizeof(*s->plan.args), 64))
		return false;
	s->plan.args = a;
	e->args = (uint32_t)s->plan.n_args;
	e->n_args = (uint32_t)n;
	if (n)
		memcpy(&s->plan.args[s->plan.n_args], conds, n * sizeof(*conds));
	s->plan.n_args += n;
	return true;
}

static const char *action_name(uint32_t act, char *buf, size_t len)
{
	const struct paction *a;
	uint32_t base = act & 0xffff0000u;

	if (base == SCMP_ACT_ERRNO(0) || base == SCMP_ACT_TRACE(0)) {
		(void)snprintf(buf, len, "%s(%u)",
			       base == SCMP_ACT_ERRNO(0) ? "SCMP_ACT_ERRNO" : "SCMP_ACT_TRACE",
			       act & 0xffffu);
		return buf;
	}
	for (a = actions + 1; a->name; a++)
		if (a->act == act)
			return a->name;
	return "SCMP_ACT_KILL";
}

static struct conflict_slot *slot_for(struct vstate *s, int nr)
{
	size_t i, mask;

	if (!s->slots) {
		size_t cap = 1024;

		while (cap < 2 * (s->plan_cap + 1))
			cap *= 2;
		s->slots = calloc(cap, sizeof(*s->slots));
		if (!s->slots) {
			s->err = -ENOMEM;
			return NULL;
		}
		s->slots_cap = cap;
	}
	mask = s->slots_cap - 1;
	for (i = ((uint32_t)nr * 2654435761u) & mask; s->slots[i].used; i = (i + 1) & mask)
		if (s->slots[i].nr == nr)
			return &s->slots[i];
	return &s->slots[i];
}

static int grow_slots(struct vstate *s)
{
	struct conflict_slot *old = s->slots;
	size_t old_cap = s->slots_cap, i, j, mask;

	s->slots_cap = old_cap ? old_cap * 2 : 1024;
	s->slots = calloc(s->slots_cap, sizeof(*s->slots));
	if (!s->slots) {
		s->slots = old;
		s->slots_cap = old_cap;
		return -ENOMEM;
	}
	mask = s->slots_cap - 1;
	for (j = 0; j < old_cap; j++) {
		if (!old[j].used)
			continue;
		for (i = ((uint32_t)old[j].nr * 2654435761u) & mask; s->slots[i].used;
		     i = (i + 1) & mask)
			;
		s->slots[i] = old[j];
	}
	free(old);
	return 0;
}

/* The JSON path of name @name of rule @rule ("name" for CRI-O's single-name rules). */
static const char *place(const struct pm_rule *rules, uint32_t rule, uint32_t name, char *buf,
			 size_t len)
{
	if (rules[rule].names.n)
		(void)snprintf(buf, len, "syscalls[%u].names[%u]", rule, name);
	else
		(void)snprintf(buf, len, "syscalls[%u].name", rule);
	return buf;
}

/*
 * Warning class 3: what libseccomp does with two rules for one syscall.  An
 * unconditional rule decides the syscall: a later rule with another action is
 * dropped, and a later unconditional rule replaces earlier conditional ones.
 * Return: true when @e changes nothing (the syscall was already decided), so it
 * need not be handed to libseccomp at all.
 */
static bool track_conflict(struct vstate *s, const struct pentry *e, size_t *n_used)
{
	const struct pm_rule *rules = s->p->rules;
	struct conflict_slot *sl;
	char path[96], p1[96], a1[48], a2[48], q[96];
	const struct pstr *nm;

	if (*n_used * 2 >= s->slots_cap && s->slots && grow_slots(s) < 0) {
		s->err = -ENOMEM;
		return false;
	}
	sl = slot_for(s, e->nr);
	if (!sl)
		return false;
	if (!sl->used) {
		sl->used = true;
		sl->nr = e->nr;
		(*n_used)++;
	}
	nm = rules[e->rule].names.n ? &rules[e->rule].names.v[e->name] : &rules[e->rule].name;
	if (sl->has_uncond) {
		if (sl->uncond_action != e->action)
			pfind_add(s->f, false, 3,
				  place(rules, e->rule, e->name, path, sizeof(path)),
				  "'%s' was already decided by %s (%s): libseccomp keeps that and "
				  "ignores this %s rule (%s)",
				  pstr_quote(nm, q, sizeof(q)),
				  place(rules, sl->uncond_rule, sl->uncond_name, p1, sizeof(p1)),
				  action_name(sl->uncond_action, a1, sizeof(a1)),
				  e->n_args ? "conditional" : "unconditional",
				  action_name(e->action, a2, sizeof(a2)));
		return true;
	}
	if (e->n_args) {
		if (!sl->has_cond) {
			sl->has_cond = true;
			sl->cond_action = e->action;
			sl->cond_rule = e->rule;
			sl->cond_name = e->name;
		}
		return false;
	}
	if (sl->has_cond && sl->cond_action != e->action)
		pfind_add(s->f, false, 3, place(rules, e->rule, e->name, path, sizeof(path)),
			  "this unconditional rule for '%s' (%s) replaces the earlier "
			  "conditional rule %s (%s), which libseccomp drops",
			  pstr_quote(nm, q, sizeof(q)), action_name(e->action, a1, sizeof(a1)),
			  place(rules, sl->cond_rule, sl->cond_name, p1, sizeof(p1)),
			  action_name(sl->cond_action, a2, sizeof(a2)));
	sl->has_uncond = true;
	sl->uncond_action = e->action;
	sl->uncond_rule = e->rule;
	sl->uncond_name = e->name;
	return false;
}

/* The Docker dialect's includes/excludes, as CRI-O applies them on this node. */
static bool crio_keeps(const struct vstate *s, const struct pm_rule *r)
{
	const char *go = s->c->node->goname;
	size_t i;
	bool in;

	for (i = 0; i < r->excludes.arches.n; i++)
		if (pstr_is(&r->excludes.arches.v[i], go))
			return false;
	/* Capabilities: the container is taken to hold them all. */
	if (r->excludes.caps.n)
		return false;
	if (r->includes.arches.n) {
		for (in = false, i = 0; i < r->includes.arches.n && !in; i++)
			in = pstr_is(&r->includes.arches.v[i], go);
		if (!in)
			return false;
	}
	return true;
}

/* The errno a rule or the default action returns in this view; false if malformed. */
static bool view_errno(struct vstate *s, bool has_ret, uint64_t ret, const struct pstr *str,
		       const char *path, bool *has, uint64_t *out)
{
	char q[96];

	*has = has_ret;
	*out = has_ret ? ret : 0;
	if (s->view == PROFILE_VIEW_CRIO && str->len) {
		if (!parse_errno_str(str, out)) {
			pfind_add(s->f, true, 5, path,
				  "'%s' is neither a decimal number nor an errno name CRI-O knows: "
				  "CRI-O refuses the profile",
				  pstr_quote(str, q, sizeof(q)));
			return false;
		}
		*has = true;
	}
	return true;
}

/* The full libseccomp action for @a with errno data @has/@val; errors are filed. */
static bool make_action(struct vstate *s, const struct paction *a, bool has, uint64_t val,
			const char *path, const char *errno_path, uint32_t *out)
{
	if (has && !takes_errno(a->act)) {
		pfind_add(
			s->f, true, 6, errno_path,
			"an errno value on %s, which takes none: runc ignores it but crun refuses "
			"the profile",
			a->name);
		return false;
	}
	if (!takes_errno(a->act)) {
		*out = a->act;
		return true;
	}
	/* runc converts to int16 and libseccomp keeps the low 16 bits. */
	val = has ? val & 0xffffu : EPERM;
	if (a->act == SCMP_ACT_ERRNO(0) && val >= 4095) {
		pfind_add(s->f, true, 6, has ? errno_path : path,
			  "errno %llu (taken modulo 65536) is 4095 or more: libseccomp refuses it "
			  "and the container fails to start",
			  (unsigned long long)val);
		return false;
	}
	*out = a->act | (uint32_t)val;
	return true;
}

static void check_rule(struct vstate *s, size_t ri, uint32_t def_action, size_t *n_used)
{
	const struct pm_rule *r = &s->p->rules[ri];
	const struct paction *a;
	struct pm_strv one;
	const struct pm_strv *names;
	struct scmp_arg_cmp conds[6];
	unsigned counts[6] = { 0 }, n_conds = 0;
	char path[32], p2[128], q[128];
	size_t i, j, errors = count_errors(s->f);
	bool split = false, has_errno;
	uint64_t errno_v;
	uint32_t act = 0;

	(void)snprintf(path, sizeof(path), "syscalls[%zu]", ri);
	names = &r->names;
	if (s->view == PROFILE_VIEW_CRIO) {
		if (!crio_keeps(s, r))
			return;
		if (r->name.len && r->names.n) {
			(void)snprintf(p2, sizeof(p2), "%s.name", path);
			pfind_add(s->f, true, 4, p2,
				  "both name and names are set: CRI-O refuses the profile and the "
				  "container fails to start");
			return;
		}
		if (r->name.len) {
			one.v = (struct pstr *)&r->name;
			one.n = 1;
			names = &one;
		}
		if (!names->n)
			return; /* CRI-O drops a rule without names */
	}
	(void)snprintf(p2, sizeof(p2), "%s.action", path);
	a = find_action(&r->action);
	if (!a) {
		pfind_add(s->f, true, 3, p2,
			  "unknown action '%s': the runtime refuses the profile and the container "
			  "fails to start",
			  pstr_quote(&r->action, q, sizeof(q)));
		return;
	}
	(void)snprintf(q, sizeof(q), "%s.%s", path,
		       s->view == PROFILE_VIEW_CRIO && r->errno_s.len ? "errno" : "errnoRet");
	if (!view_errno(s, r->has_errno_ret, r->errno_ret, &r->errno_s, q, &has_errno, &errno_v))
		return;
	(void)make_action(s, a, has_errno, errno_v, p2, q, &act);
	for (i = 0; i < r->n_args; i++) {
		const struct pm_arg *g = &r->args[i];
		const struct pop *o;

		for (o = ops; o->name && !pstr_is(&g->op, o->name); o++)
			;
		(void)snprintf(p2, sizeof(p2), "%s.args[%zu].op", path, i);
		if (!o->name)
			pfind_add(s->f, true, 3, p2,
				  "unknown operator '%s': the runtime refuses the profile and the "
				  "container fails to start",
				  pstr_quote(&g->op, q, sizeof(q)));
		(void)snprintf(p2, sizeof(p2), "%s.args[%zu].index", path, i);
		if (g->index > 5) {
			pfind_add(s->f, true, 6, p2,
				  "argument index %llu is above 5: the runtime refuses the profile "
				  "and the container fails to start",
				  (unsigned long long)g->index);
			continue;
		}
		if (++counts[g->index] == 2)
			split = true;
		if (o->name && n_conds < 6) {
			conds[n_conds].arg = (unsigned)g->index;
			conds[n_conds].op = o->op;
			conds[n_conds].datum_a = g->value;
			conds[n_conds].datum_b = o->op == SCMP_CMP_MASKED_EQ ? g->value_two : 0;
			n_conds++;
		}
	}
	if (a->act == SCMP_ACT_NOTIFY) {
		s->has_notify = true;
		(void)snprintf(p2, sizeof(p2), "%s.action", path);
		if (!s->p->listener_path.len)
			pfind_add(s->f, true, 7, p2,
				  "action SCMP_ACT_NOTIFY without listenerPath: the runtime "
				  "refuses the "
				  "profile");
		for (j = 0; j < names->n; j++) {
			if (!pstr_is(&names->v[j], "write"))
				continue;
			(void)snprintf(p2, sizeof(p2), "%s.names[%zu]", path, j);
			pfind_add(s->f, true, 7, p2,
				  "action SCMP_ACT_NOTIFY on write: the runtime refuses it (the "
				  "seccomp "
				  "agent could deadlock)");
		}
	}
	if (count_errors(s->f) != errors)
		return;
	if (a->act == SCMP_ACT_NOTIFY)
		pfind_add(s->f, false, 9, path,
			  "action SCMP_ACT_NOTIFY: the container fails to start unless a seccomp "
			  "agent "
			  "listens at listenerPath on the node");
	if (split)
		pfind_add(
			s->f, false, 4, path,
			"the rule names one argument index twice: the runtime adds each condition "
			"as its own rule, so they are OR'd instead of AND'd");
	if (act == def_action) {
		pfind_add(s->f, false, 2, path,
			  "the rule repeats the default action: the runtime skips it");
		return;
	}
	for (j = 0; j < names->n; j++) {
		const struct pstr *nm = &names->v[j];
		int nr;
		size_t k, n_entries = split ? n_conds : 1;

		if (!nm->s || !nm->s[0]) {
			pfind_add(s->f, true, 3,
				  place(s->p->rules, (uint32_t)ri, (uint32_t)j, p2, sizeof(p2)),
				  "empty syscall name: runc refuses the profile and the container "
				  "fails to start");
			continue;
		}
		s->err = resolve(s->c, nm, &nr);
		if (s->err)
			return;
		if (nr == __NR_SCMP_ERROR) {
			pfind_add(s->f, false, 1,
				  place(s->p->rules, (uint32_t)ri, (uint32_t)j, p2, sizeof(p2)),
				  "syscall '%s' is unknown to libseccomp: the runtime skips it",
				  pstr_quote(nm, q, sizeof(q)));
			continue;
		}
		for (k = 0; k < n_entries; k++) {
			struct pentry *e = plan_add(s);

			if (!e) {
				if (!s->err)
					pfind_add(s->f, true, 8, path,
						  "more than %d rules to add: the filter cannot "
						  "fit in %d instructions and the container fails "
						  "to start",
						  PLAN_MAX, BPF_MAX_INSNS);
				return;
			}
			memset(e, 0, sizeof(*e));
			e->nr = nr;
			e->action = act;
			e->rule = (uint32_t)ri;
			e->name = (uint32_t)j;
			if (!plan_add_args(s, e, split ? &conds[k] : conds, split ? 1 : n_conds))
				return;
			if (track_conflict(s, e, n_used)) {
				s->plan.n--;
				s->plan.n_args -= e->n_args;
			}
			if (s->err)
				return;
		}
	}
}

static bool plan_equal(const struct pplan *x, const struct pplan *y)
{
	size_t i;

	if (x->def_action != y->def_action || x->n_arches != y->n_arches || x->n != y->n ||
	    x->n_args != y->n_args)
		return false;
	if (memcmp(x->arches, y->arches, x->n_arches * sizeof(x->arches[0])) != 0)
		return false;
	for (i = 0; i < x->n; i++) {
		const struct pentry *a = &x->e[i], *b = &y->e[i];

		if (a->nr != b->nr || a->action != b->action || a->n_args != b->n_args ||
		    a->rule != b->rule || a->name != b->name ||
		    (a->n_args && memcmp(&x->args[a->args], &y->args[b->args],
					 a->n_args * sizeof(x->args[0])) != 0))
			return false;
	}
	return true;
}

/* Build the filter for @plan and count its instructions; never load it. */
static int compile(struct pcompile_ctx *c, const struct pplan *plan, struct pcompiled *out)
{
	scmp_filter_ctx ctx = NULL;
	bool host_listed = false;
	struct stat st;
	int fd = -1, r;
	size_t i;

	out->rc = 0;
	out->fail_at = 0;
	out->insns = 0;
	ctx = seccomp_init(plan->def_action);
	if (!ctx) {
		out->rc = -EINVAL;
		r = 0;
		goto out;
	}
	for (i = 0; i < plan->n_arches; i++) {
		if (plan->arches[i] == c->host) {
			host_listed = true;
			continue;
		}
		r = seccomp_arch_add(ctx, plan->arches[i]);
		if (r < 0 && r != -EEXIST) {
			out->rc = r;
			r = 0;
			goto out;
		}
	}
	if (!host_listed) {
		r = seccomp_arch_remove(ctx, c->host);
		if (r < 0) {
			out->rc = r;
			r = 0;
			goto out;
		}
	}
	for (i = 0; i < plan->n; i++) {
		const struct pentry *e = &plan->e[i];

		r = seccomp_rule_add_array(ctx, e->action, e->nr, e->n_args,
					   e->n_args ? &plan->args[e->args] : NULL);
		if (r < 0) {
			out->rc = r;
			out->fail_at = i;
			r = 0;
			goto out;
		}
	}
	fd = memfd_create("seccomp-syncd-bpf", MFD_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	r = seccomp_export_bpf(ctx, fd);
	if (r < 0) {
		out->rc = r;
		r = 0;
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	out->insns = (unsigned)((size_t)st.st_size / 8);
	r = 0;
out:
	if (fd >= 0)
		(void)close(fd);
	seccomp_release(ctx);
	return r;
}

static void report_compile(struct vstate *s, const struct pcompiled *cp, size_t n_arches,
			   struct pview_result *res)
{
	char path[96], q[96];
	unsigned total;

	if (cp->rc) {
		const struct pentry *e = cp->fail_at < cp->plan.n ? &cp->plan.e[cp->fail_at] : NULL;
		const struct pm_rule *r = e ? &s->p->rules[e->rule] : NULL;
		const struct pstr *nm = NULL;

		if (r)
			nm = r->names.n > e->name ? &r->names.v[e->name] : &r->name;
		if (e && r->names.n > e->name)
			(void)snprintf(path, sizeof(path), "syscalls[%u].names[%u]", e->rule,
				       e->name);
		else if (e)
			(void)snprintf(path, sizeof(path), "syscalls[%u].name", e->rule);
		else
			path[0] = '\0';
		if (cp->rc == -EEXIST)
			pfind_add(
				s->f, true, 8, path,
				"libseccomp refuses the rule for '%s': the same condition already "
				"has another action (EEXIST), so the container fails to start",
				nm ? pstr_quote(nm, q, sizeof(q)) : "");
		else
			pfind_add(s->f, true, 8, path,
				  "libseccomp refuses the filter%s%s%s: %s, so the container fails "
				  "to start",
				  nm ? " at '" : "", nm ? pstr_quote(nm, q, sizeof(q)) : "",
				  nm ? "'" : "", strerror(-cp->rc));
		return;
	}
	total = cp->insns + ENOSYS_STUB(n_arches);
	res->bpf_instructions = cp->insns;
	if (total > BPF_MAX_INSNS)
		pfind_add(
			s->f, true, 8, "",
			"the filter compiles to %u BPF instructions (%u with runc's ENOSYS stub), "
			"over the kernel's limit of %d: the container fails to start",
			cp->insns, total, BPF_MAX_INSNS);
}

int pview_check(struct pcompile_ctx *c, enum profile_view view, const struct pm_profile *p,
		struct pfindings *f, struct pview_result *res)
{
	struct vstate s;
	const struct paction *da;
	bool has_errno;
	uint64_t errno_v;
	uint32_t def_action = 0;
	size_t i, n_used = 0;
	const char *errno_path;
	int r;

	memset(&s, 0, sizeof(s));
	memset(res, 0, sizeof(*res));
	s.c = c;
	s.view = view;
	s.p = p;
	s.f = f;
	f->view = view;
	s.errors_before = count_errors(f);
	res->arches[0] = c->node;
	res->n_arches = 1;
	if (s.errors_before)
		return 0; /* the runtime could not decode the profile */
	if (!p->default_action.len) {
		if (!p->n_rules)
			pfind_add(f, true, 2, "",
				  "no defaultAction and no rules: the runtime applies no seccomp "
				  "filter and the container runs unconfined");
		else
			pfind_add(f, true, 2, "defaultAction",
				  "defaultAction is missing: the runtime refuses the profile and "
				  "the container fails to start");
		return 0;
	}
	check_arches(&s, res);
	for (i = 0; i < p->n_rules; i++)
		if (pstr_is(&p->rules[i].action, "SCMP_ACT_NOTIFY"))
			s.has_notify = true;
	check_flags(&s);
	da = find_action(&p->default_action);
	errno_path = view == PROFILE_VIEW_CRIO && p->default_errno_s.len ? "defaultErrno"
									 : "defaultErrnoRet";
	if (!da) {
		char q[96];

		pfind_add(f, true, 3, "defaultAction",
			  "unknown action '%s': the runtime refuses the profile and the container "
			  "fails to start",
			  pstr_quote(&p->default_action, q, sizeof(q)));
	} else if (da->act == SCMP_ACT_NOTIFY) {
		pfind_add(f, true, 7, "defaultAction",
			  "action SCMP_ACT_NOTIFY cannot be the default: the runtime refuses the "
			  "profile");
	} else if (view_errno(&s, p->has_default_errno_ret, p->default_errno_ret,
			      &p->default_errno_s, errno_path, &has_errno, &errno_v) &&
		   make_action(&s, da, has_errno, errno_v, "defaultAction", errno_path,
			       &def_action)) {
		if (def_action == SCMP_ACT_ALLOW || def_action == SCMP_ACT_LOG)
			pfind_add(f, false, 7, "defaultAction",
				  "default action %s: a deny-list, every syscall not listed "
				  "(including new ones) is let through",
				  da->name);
	}
	for (i = 0; i < p->n_rules && !s.err; i++)
		check_rule(&s, i, def_action, &n_used);
	/* Only the rules needed it: gone before libseccomp's peak, the compile. */
	free(s.slots);
	s.slots = NULL;
	r = s.err;
	if (r < 0)
		goto out;
	if (count_errors(f) != s.errors_before)
		goto out;
	s.plan.def_action = def_action;
	for (i = 0; i < res->n_arches; i++)
		s.plan.arches[s.plan.n_arches++] = res->arches[i]->token;
	if (c->last.valid && plan_equal(&c->last.plan, &s.plan)) {
		report_compile(&s, &c->last, res->n_arches, res);
		goto out;
	}
	c->last.valid = false;
	r = compile(c, &s.plan, &c->last);
	if (r < 0)
		goto out;
	c->last.plan = s.plan;
	c->last.valid = true;
	report_compile(&s, &c->last, res->n_arches, res);
out:
	free(s.slots);
	return r;
}
