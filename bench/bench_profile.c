/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_profile: how long profile_check() takes for a whole profile (both
 * views, cache off), next to the floor it cannot go below: yajl parsing the
 * bytes alone, plus the bare libseccomp calls for the CRI-O view's filter
 * (seccomp_init, seccomp_arch_add for its architectures, one
 * seccomp_rule_add_array per syscall name, seccomp_export_bpf into a memfd).
 * The floor's rule list is extracted once, outside the timing.
 *
 * Usage: bench_profile [DIR [ITERATIONS]]   (DIR defaults to tests/data/profiles)
 * Prints medians in microseconds and the ratio; exits 1 if a profile is not
 * valid (the numbers would mean nothing).
 */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_parse.h>
#include <yajl/yajl_tree.h>

#include "profilestore/profile.h"

struct frule {
	int nr;
	uint32_t action;
	unsigned n_args;
	struct scmp_arg_cmp args[6];
};

struct floor {
	uint32_t def_action;
	uint32_t arches[8];
	size_t n_arches;
	struct frule *r;
	size_t n;
};

static double now_us(void)
{
	struct timespec t;

	(void)clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static char *read_file(const char *dir, const char *name, size_t *len)
{
	char path[4096];
	FILE *f;
	char *buf;
	long n;

	(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rbe");
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		(void)fclose(f);
		return NULL;
	}
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	(void)fclose(f);
	if (buf) {
		buf[n] = '\0';
		*len = (size_t)n;
	}
	return buf;
}

static const char *str_of(yajl_val v)
{
	return YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL;
}

static bool in_strings(yajl_val arr, const char *s)
{
	size_t i;

	if (!YAJL_IS_ARRAY(arr))
		return false;
	for (i = 0; i < YAJL_GET_ARRAY(arr)->len; i++) {
		const char *x = str_of(YAJL_GET_ARRAY(arr)->values[i]);

		if (x && !strcmp(x, s))
			return true;
	}
	return false;
}

static size_t arr_len(yajl_val a)
{
	return YAJL_IS_ARRAY(a) ? YAJL_GET_ARRAY(a)->len : 0;
}

static uint32_t arch_token(const char *scmp)
{
	static const struct {
		const char *s;
		uint32_t t;
	} m[] = { { "SCMP_ARCH_X86_64", SCMP_ARCH_X86_64 },
		  { "SCMP_ARCH_X86", SCMP_ARCH_X86 },
		  { "SCMP_ARCH_X32", SCMP_ARCH_X32 },
		  { "SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64 },
		  { "SCMP_ARCH_ARM", SCMP_ARCH_ARM },
		  { NULL, 0 } };
	size_t i;

	for (i = 0; m[i].s; i++)
		if (!strcmp(m[i].s, scmp))
			return m[i].t;
	return 0;
}

static uint32_t action_of(const char *a, yajl_val errno_ret)
{
	uint32_t e = YAJL_IS_INTEGER(errno_ret) ? (uint32_t)YAJL_GET_INTEGER(errno_ret) : EPERM;

	if (!strcmp(a, "SCMP_ACT_ALLOW"))
		return SCMP_ACT_ALLOW;
	if (!strcmp(a, "SCMP_ACT_ERRNO"))
		return SCMP_ACT_ERRNO(e);
	if (!strcmp(a, "SCMP_ACT_LOG"))
		return SCMP_ACT_LOG;
	return SCMP_ACT_KILL_PROCESS;
}

static enum scmp_compare op_of(const char *o)
{
	static const char *const names[] = { "",
					     "SCMP_CMP_NE",
					     "SCMP_CMP_LT",
					     "SCMP_CMP_LE",
					     "SCMP_CMP_EQ",
					     "SCMP_CMP_GE",
					     "SCMP_CMP_GT",
					     "SCMP_CMP_MASKED_EQ" };
	int i;

	for (i = 1; i < 8; i++)
		if (o && !strcmp(o, names[i]))
			return (enum scmp_compare)i;
	return SCMP_CMP_EQ;
}

/*
 * The CRI-O view's filter for this machine, as a flat list of rule adds: what the
 * floor replays.  Only what the benchmark profiles use (no errno strings, no
 * repeated argument indexes).
 */
static int extract_floor(const char *text, struct floor *fl)
{
	static const char *k_def[] = { "defaultAction", NULL };
	static const char *k_deferr[] = { "defaultErrnoRet", NULL };
	static const char *k_arches[] = { "architectures", NULL };
	static const char *k_map[] = { "archMap", NULL };
	static const char *k_sys[] = { "syscalls", NULL };
	static const char *k_names[] = { "names", NULL };
	static const char *k_action[] = { "action", NULL };
	static const char *k_errno[] = { "errnoRet", NULL };
	static const char *k_args[] = { "args", NULL };
	static const char *k_inc_arch[] = { "includes", "arches", NULL };
	static const char *k_exc_arch[] = { "excludes", "arches", NULL };
	static const char *k_exc_caps[] = { "excludes", "caps", NULL };
	static const char *k_arch[] = { "architecture", NULL };
	static const char *k_sub[] = { "subArchitectures", NULL };
	char err[256];
	yajl_val root = yajl_tree_parse(text, err, sizeof(err)), sys, v;
	size_t i, j, cap = 1024;

	if (!root)
		return -EINVAL;
	memset(fl, 0, sizeof(*fl));
	fl->def_action = action_of(str_of(yajl_tree_get(root, k_def, yajl_t_any)),
				   yajl_tree_get(root, k_deferr, yajl_t_any));
	fl->arches[fl->n_arches++] = SCMP_ARCH_X86_64;
	v = yajl_tree_get(root, k_arches, yajl_t_any);
	for (i = 0; i < arr_len(v); i++)
		fl->arches[fl->n_arches++] = arch_token(str_of(YAJL_GET_ARRAY(v)->values[i]));
	v = yajl_tree_get(root, k_map, yajl_t_any);
	for (i = 0; i < arr_len(v); i++) {
		yajl_val e = YAJL_GET_ARRAY(v)->values[i];
		const char *a = str_of(yajl_tree_get(e, k_arch, yajl_t_any));
		yajl_val subs = yajl_tree_get(e, k_sub, yajl_t_any);

		if (!a || strcmp(a, "SCMP_ARCH_X86_64") != 0)
			continue;
		for (j = 0; j < arr_len(subs); j++)
			fl->arches[fl->n_arches++] =
				arch_token(str_of(YAJL_GET_ARRAY(subs)->values[j]));
	}
	fl->r = calloc(cap, sizeof(*fl->r));
	sys = yajl_tree_get(root, k_sys, yajl_t_any);
	for (i = 0; fl->r && i < arr_len(sys); i++) {
		yajl_val rule = YAJL_GET_ARRAY(sys)->values[i];
		yajl_val names = yajl_tree_get(rule, k_names, yajl_t_any);
		yajl_val args = yajl_tree_get(rule, k_args, yajl_t_any);
		yajl_val inc = yajl_tree_get(rule, k_inc_arch, yajl_t_any);
		uint32_t act = action_of(str_of(yajl_tree_get(rule, k_action, yajl_t_any)),
					 yajl_tree_get(rule, k_errno, yajl_t_any));

		if (in_strings(yajl_tree_get(rule, k_exc_arch, yajl_t_any), "amd64") ||
		    arr_len(yajl_tree_get(rule, k_exc_caps, yajl_t_any)) ||
		    (arr_len(inc) && !in_strings(inc, "amd64")) || act == fl->def_action)
			continue;
		for (j = 0; j < arr_len(names) && fl->n < cap; j++) {
			struct frule *r = &fl->r[fl->n];
			size_t k;
			int nr = seccomp_syscall_resolve_name(
				str_of(YAJL_GET_ARRAY(names)->values[j]));

			if (nr == __NR_SCMP_ERROR)
				continue;
			r->nr = nr;
			r->action = act;
			for (k = 0; k < arr_len(args) && k < 6; k++) {
				static const char *k_i[] = { "index", NULL };
				static const char *k_v[] = { "value", NULL };
				static const char *k_v2[] = { "valueTwo", NULL };
				static const char *k_op[] = { "op", NULL };
				yajl_val a = YAJL_GET_ARRAY(args)->values[k];
				yajl_val v2 = yajl_tree_get(a, k_v2, yajl_t_any);

				r->args[k].arg = (unsigned)YAJL_GET_INTEGER(
					yajl_tree_get(a, k_i, yajl_t_any));
				r->args[k].op = op_of(str_of(yajl_tree_get(a, k_op, yajl_t_any)));
				r->args[k].datum_a = (uint64_t)YAJL_GET_INTEGER(
					yajl_tree_get(a, k_v, yajl_t_any));
				r->args[k].datum_b = v2 ? (uint64_t)YAJL_GET_INTEGER(v2) : 0;
			}
			r->n_args = (unsigned)k;
			fl->n++;
		}
	}
	yajl_tree_free(root);
	return fl->r ? 0 : -ENOMEM;
}

static unsigned run_floor(const struct floor *fl)
{
	scmp_filter_ctx ctx = seccomp_init(fl->def_action);
	unsigned insns = 0;
	size_t i;
	off_t sz;
	int fd;

	for (i = 1; i < fl->n_arches; i++)
		(void)seccomp_arch_add(ctx, fl->arches[i]);
	for (i = 0; i < fl->n; i++)
		(void)seccomp_rule_add_array(ctx, fl->r[i].action, fl->r[i].nr, fl->r[i].n_args,
					     fl->r[i].n_args ? fl->r[i].args : NULL);
	fd = memfd_create("bench", MFD_CLOEXEC);
	if (fd >= 0) {
		(void)seccomp_export_bpf(ctx, fd);
		sz = lseek(fd, 0, SEEK_END);
		insns = sz > 0 ? (unsigned)(sz / 8) : 0;
		(void)close(fd);
	}
	seccomp_release(ctx);
	return insns;
}

static int nop_num(void *ctx, const char *s, size_t l)
{
	(void)ctx;
	(void)s;
	(void)l;
	return 1;
}

static int nop_str(void *ctx, const unsigned char *s, size_t l)
{
	(void)ctx;
	(void)s;
	(void)l;
	return 1;
}

static int nop(void *ctx)
{
	(void)ctx;
	return 1;
}

static int nop_bool(void *ctx, int b)
{
	(void)ctx;
	(void)b;
	return 1;
}

static const yajl_callbacks nop_callbacks = {
	nop, nop_bool, NULL, NULL, nop_num, nop_str, nop, nop_str, nop, nop, nop,
};

static void run_yajl(const char *text, size_t len)
{
	yajl_handle h = yajl_alloc(&nop_callbacks, NULL, NULL);

	(void)yajl_config(h, yajl_dont_validate_strings, 1);
	(void)yajl_parse(h, (const unsigned char *)text, len);
	(void)yajl_complete_parse(h);
	yajl_free(h);
}

int main(int argc, char **argv)
{
	static const char *const files[] = { "docker-default.json",
					     "k8s-tutorial-fine-grained.json" };
	const char *dir = argc > 1 ? argv[1] : "tests/data/profiles";
	size_t iters = argc > 2 ? strtoul(argv[2], NULL, 10) : 200, f, i;
	double *t_full, *t_floor, *t_yajl;
	int rc = 0;

	if (!iters)
		iters = 1;
	t_full = calloc(iters, sizeof(double));
	t_floor = calloc(iters, sizeof(double));
	t_yajl = calloc(iters, sizeof(double));
	if (!t_full || !t_floor || !t_yajl) {
		free(t_full);
		free(t_floor);
		free(t_yajl);
		return 2;
	}
	printf("%-32s %10s %10s %10s %10s %7s %6s %6s\n", "profile", "check_us", "seccomp_us",
	       "yajl_us", "floor_us", "ratio", "insns", "floor");
	for (f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		struct profile_verdict *v = NULL;
		struct floor fl;
		struct diag d;
		size_t len = 0;
		char *text = read_file(dir, files[f], &len);
		unsigned insns = 0, floor_insns = 0;
		double full, sec, yj;

		if (!text || extract_floor(text, &fl) < 0) {
			fprintf(stderr, "bench_profile: cannot read %s/%s\n", dir, files[f]);
			free(text);
			rc = 1;
			continue;
		}
		for (i = 0; i < iters; i++) {
			double t0 = now_us();

			if (profile_check(text, len, NULL, &v, &d) < 0 || !v->valid) {
				fprintf(stderr, "bench_profile: %s is not valid\n", files[f]);
				rc = 1;
				profile_verdict_free(v);
				break;
			}
			t_full[i] = now_us() - t0;
			insns = v->bpf_instructions;
			profile_verdict_free(v);
			t0 = now_us();
			floor_insns = run_floor(&fl);
			t_floor[i] = now_us() - t0;
			t0 = now_us();
			run_yajl(text, len);
			t_yajl[i] = now_us() - t0;
		}
		if (i == iters) {
			full = median(t_full, iters);
			sec = median(t_floor, iters);
			yj = median(t_yajl, iters);
			printf("%-32s %10.1f %10.1f %10.1f %10.1f %7.2f %6u %6u\n", files[f], full,
			       sec, yj, sec + yj, full / (sec + yj), insns, floor_insns);
		}
		free(fl.r);
		free(text);
	}
	printf("iterations %zu; ratio = check_us / (seccomp_us + yajl_us), goal <= 1.25\n", iters);
	free(t_full);
	free(t_floor);
	free(t_yajl);
	return rc;
}
