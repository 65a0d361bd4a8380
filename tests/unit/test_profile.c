/* SPDX-License-Identifier: Apache-2.0 */
/*
 * profilestore/profile: every error and warning class of PROFILE-FORMAT.md with
 * a case that triggers it and a near miss that does not, the JSON edge cases Go
 * decides, per-view findings, architecture names, the verdict cache, and a
 * table that pins what is reported for every shared profile in
 * tests/data/profiles for x86_64 and aarch64.
 *
 * Linked with -Wl,--wrap=profile_validator_version so that a test can change the
 * validator version and see cached verdicts go stale.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "profilestore/profile.h"

#ifndef TEST_DATA_DIR
#define TEST_DATA_DIR "tests/data/profiles"
#endif

static const char *fake_version;

const char *__real_profile_validator_version(void);
const char *__wrap_profile_validator_version(void);

const char *__wrap_profile_validator_version(void)
{
	return fake_version ? fake_version : __real_profile_validator_version();
}

static struct profile_verdict *check_arch(const char *json, size_t len, const char *arch)
{
	struct profile_opts o = { arch };
	struct profile_verdict *v = NULL;
	struct diag d = { { 0 } };

	assert_int_equal(profile_check(json, len, &o, &v, &d), 0);
	assert_non_null(v);
	return v;
}

static struct profile_verdict *check_str(const char *json, const char *arch)
{
	return check_arch(json, strlen(json), arch);
}

static const struct profile_finding *find(const struct profile_verdict *v, bool error, int code,
					  const char *path)
{
	const struct profile_finding *f = error ? v->errors : v->warnings;
	size_t n = error ? v->n_errors : v->n_warnings, i;

	for (i = 0; i < n; i++)
		if (f[i].code == code && (!path || !strcmp(f[i].path, path)))
			return &f[i];
	return NULL;
}

static size_t count(const struct profile_verdict *v, bool error, int code)
{
	const struct profile_finding *f = error ? v->errors : v->warnings;
	size_t n = error ? v->n_errors : v->n_warnings, i, c = 0;

	for (i = 0; i < n; i++)
		c += f[i].code == code;
	return c;
}

static void dump(const struct profile_verdict *v)
{
	size_t i;

	for (i = 0; i < v->n_errors; i++)
		print_message("  E%d [%d] %s: %s\n", v->errors[i].code, v->errors[i].view,
			      v->errors[i].path, v->errors[i].message);
	for (i = 0; i < v->n_warnings; i++)
		print_message("  W%d [%d] %s: %s\n", v->warnings[i].code, v->warnings[i].view,
			      v->warnings[i].path, v->warnings[i].message);
}

#define D	 "\"defaultAction\":\"SCMP_ACT_ERRNO\""
#define RA	 "\"action\":\"SCMP_ACT_ALLOW\""
#define ANY_VIEW -1

/*
 * One finding that must (or, for a near miss, must not) be reported.  @view is
 * checked when not ANY_VIEW; @valid is the expected verdict.
 */
struct finding_case { /* NOLINT(clang-analyzer-optin.performance.Padding): a table */
	const char *name;
	const char *json;
	bool error;
	int code;
	const char *path;
	bool present;
	int view;
	bool valid;
};

static const struct finding_case finding_cases[] = {
	/* Error 1: not JSON as Go reads it. */
	{ "empty", "", true, 1, "", true, PROFILE_VIEW_BOTH, false },
	{ "only whitespace", " \n\t ", true, 1, "", true, ANY_VIEW, false },
	{ "bom", "\xEF\xBB\xBF{" D "}", true, 1, "", true, ANY_VIEW, false },
	{ "line comment", "{" D "} // no", true, 1, "", true, ANY_VIEW, false },
	{ "block comment", "/* no */ {" D "}", true, 1, "", true, ANY_VIEW, false },
	{ "trailing comma object", "{" D ",}", true, 1, "", true, ANY_VIEW, false },
	{ "trailing comma array", "{" D ",\"architectures\":[\"SCMP_ARCH_X86\",]}", true, 1, "",
	  true, ANY_VIEW, false },
	{ "trailing data", "{" D "} {}", true, 1, "", true, ANY_VIEW, false },
	{ "trailing word", "{" D "} x", true, 1, "", true, ANY_VIEW, false },
	{ "truncated", "{" D, true, 1, "", true, ANY_VIEW, false },
	{ "top-level array", "[]", true, 1, "", true, PROFILE_VIEW_BOTH, false },
	{ "top-level string", "\"x\"", true, 1, "", true, ANY_VIEW, false },
	{ "top-level number", "1", true, 1, "", true, ANY_VIEW, false },
	{ "single quotes", "{'defaultAction':'SCMP_ACT_ERRNO'}", true, 1, "", true, ANY_VIEW,
	  false },
	{ "leading zero", "{" D ",\"defaultErrnoRet\":01}", true, 1, "", true, ANY_VIEW, false },
	{ "near miss: trailing newline", "{" D "}\n\n", true, 1, "", false, ANY_VIEW, true },
	{ "near miss: bad utf-8 in a string", "{" D ",\"x\xff\":1}", true, 1, "", false, ANY_VIEW,
	  true },
	/* Error 2: would run unconfined. */
	{ "empty object", "{}", true, 2, "", true, PROFILE_VIEW_BOTH, false },
	{ "null document", "null", true, 2, "", true, PROFILE_VIEW_BOTH, false },
	{ "empty syscalls", "{\"syscalls\":[]}", true, 2, "", true, ANY_VIEW, false },
	{ "empty defaultAction", "{\"defaultAction\":\"\"}", true, 2, "", true, ANY_VIEW, false },
	{ "null defaultAction", "{\"defaultAction\":null}", true, 2, "", true, ANY_VIEW, false },
	{ "rules without defaultAction", "{\"syscalls\":[{\"names\":[\"read\"]," RA "}]}", true, 2,
	  "defaultAction", true, ANY_VIEW, false },
	{ "near miss: defaultAction only", "{" D "}", true, 2, NULL, false, ANY_VIEW, true },
	/* Error 3: unknown strings. */
	{ "unknown default action", "{\"defaultAction\":\"SCMP_ACT_NOPE\"}", true, 3,
	  "defaultAction", true, ANY_VIEW, false },
	{ "unknown rule action", "{" D ",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"x\"}]}",
	  true, 3, "syscalls[0].action", true, PROFILE_VIEW_BOTH, false },
	{ "unknown action on a rule without names",
	  "{" D ",\"syscalls\":[{\"names\":[],\"action\":\"x\"}]}", true, 3, "syscalls[0].action",
	  true, PROFILE_VIEW_CONTAINERD, false },
	{ "unknown operator",
	  "{" D ",\"syscalls\":[{\"names\":[\"read\"]," RA
	  ",\"args\":[{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_LIKE\"}]}]}",
	  true, 3, "syscalls[0].args[0].op", true, ANY_VIEW, false },
	{ "unknown architecture", "{" D ",\"architectures\":[\"SCMP_ARCH_X86\",\"SCMP_ARCH_Z80\"]}",
	  true, 3, "architectures[1]", true, ANY_VIEW, false },
	{ "native architecture", "{" D ",\"architectures\":[\"SCMP_ARCH_NATIVE\"]}", true, 3,
	  "architectures[0]", true, ANY_VIEW, false },
	{ "loongarch is not in runc's set", "{" D ",\"architectures\":[\"SCMP_ARCH_LOONGARCH64\"]}",
	  true, 3, "architectures[0]", true, ANY_VIEW, false },
	{ "empty syscall name", "{" D ",\"syscalls\":[{\"names\":[\"\"]," RA "}]}", true, 3,
	  "syscalls[0].names[0]", true, ANY_VIEW, false },
	{ "near miss: known architecture", "{" D ",\"architectures\":[\"SCMP_ARCH_X86_64\"]}", true,
	  3, NULL, false, ANY_VIEW, true },
	{ "near miss: unknown arch in another node's archMap entry",
	  "{" D ",\"archMap\":[{\"architecture\":\"SCMP_ARCH_LOONGARCH64\",\"subArchitectures\":"
	  "[\"SCMP_ARCH_Z80\"]}]}",
	  true, 3, NULL, false, ANY_VIEW, true },
	/* Error 4: CRI-O's either-or keys. */
	{ "architectures and archMap",
	  "{" D ",\"architectures\":[\"SCMP_ARCH_X86_64\"],\"archMap\":[{\"architecture\":"
	  "\"SCMP_ARCH_X86_64\"}]}",
	  true, 4, "archMap", true, PROFILE_VIEW_CRIO, false },
	{ "name and names",
	  "{" D ",\"syscalls\":[{\"name\":\"read\",\"names\":[\"write\"]," RA "}]}", true, 4,
	  "syscalls[0].name", true, PROFILE_VIEW_CRIO, false },
	{ "near miss: archMap alone",
	  "{" D ",\"archMap\":[{\"architecture\":\"SCMP_ARCH_X86_64\",\"subArchitectures\":"
	  "[\"SCMP_ARCH_X86\"]}]}",
	  true, 4, NULL, false, ANY_VIEW, true },
	/* Error 5: wrong JSON types, bad unsigned numbers. */
	{ "defaultAction number", "{\"defaultAction\":1}", true, 5, "defaultAction", true,
	  PROFILE_VIEW_BOTH, false },
	{ "names string", "{" D ",\"syscalls\":[{\"names\":\"read\"," RA "}]}", true, 5,
	  "syscalls[0].names", true, ANY_VIEW, false },
	{ "names element number", "{" D ",\"syscalls\":[{\"names\":[1]," RA "}]}", true, 5,
	  "syscalls[0].names[0]", true, ANY_VIEW, false },
	{ "syscalls object", "{" D ",\"syscalls\":{}}", true, 5, "syscalls", true, ANY_VIEW,
	  false },
	{ "syscalls element string", "{" D ",\"syscalls\":[\"read\"]}", true, 5, "syscalls[0]",
	  true, ANY_VIEW, false },
	{ "archMap string (CRI-O only)", "{" D ",\"archMap\":\"x\"}", true, 5, "archMap", true,
	  PROFILE_VIEW_CRIO, false },
	{ "negative errnoRet",
	  "{" D
	  ",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":-1}]}",
	  true, 5, "syscalls[0].errnoRet", true, ANY_VIEW, false },
	{ "fractional index",
	  "{" D ",\"syscalls\":[{\"names\":[\"read\"]," RA
	  ",\"args\":[{\"index\":1.5,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]}]}",
	  true, 5, "syscalls[0].args[0].index", true, ANY_VIEW, false },
	{ "exponent value",
	  "{" D ",\"syscalls\":[{\"names\":[\"read\"]," RA
	  ",\"args\":[{\"index\":0,\"value\":1e2,\"op\":\"SCMP_CMP_EQ\"}]}]}",
	  true, 5, "syscalls[0].args[0].value", true, ANY_VIEW, false },
	{ "value above uint64",
	  "{" D ",\"syscalls\":[{\"names\":[\"read\"]," RA
	  ",\"args\":[{\"index\":0,\"value\":18446744073709551616,\"op\":\"SCMP_CMP_EQ\"}]}]}",
	  true, 5, "syscalls[0].args[0].value", true, ANY_VIEW, false },
	{ "index as string",
	  "{" D ",\"syscalls\":[{\"names\":[\"read\"]," RA
	  ",\"args\":[{\"index\":\"0\",\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]}]}",
	  true, 5, "syscalls[0].args[0].index", true, ANY_VIEW, false },
	{ "bool for flags", "{" D ",\"flags\":true}", true, 5, "flags", true, ANY_VIEW, false },
	{ "errno name CRI-O does not know",
	  "{" D ",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\",\"errno\":"
	  "\"EFOO\"}]}",
	  true, 5, "syscalls[0].errno", true, PROFILE_VIEW_CRIO, false },
	{ "near miss: uint64 max value",
	  "{" D ",\"syscalls\":[{\"names\":[\"read\"]," RA
	  ",\"args\":[{\"index\":0,\"value\":18446744073709551615,\"op\":\"SCMP_CMP_EQ\"}]}]}",
	  true, 5, NULL, false, ANY_VIEW, true },
	{ "near miss: wrong type under an unknown key", "{" D ",\"x\":{\"names\":5}}", true, 5,
	  NULL, false, ANY_VIEW, true },
	/* Error 6: index, errno range, errno where none is taken. */
	{ "index 6",
	  "{" D ",\"syscalls\":[{\"names\":[\"read\"]," RA
	  ",\"args\":[{\"index\":6,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]}]}",
	  true, 6, "syscalls[0].args[0].index", true, ANY_VIEW, false },
	{ "errnoRet 4095",
	  "{" D ",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\","
	  "\"errnoRet\":4095}]}",
	  true, 6, "syscalls[0].errnoRet", true, ANY_VIEW, false },
	{ "defaultErrnoRet 70000 (4464 mod 65536)", "{" D ",\"defaultErrnoRet\":70000}", true, 6,
	  "defaultErrnoRet", true, ANY_VIEW, false },
	{ "errnoRet on allow",
	  "{" D ",\"syscalls\":[{\"names\":[\"read\"]," RA ",\"errnoRet\":1}]}", true, 6,
	  "syscalls[0].errnoRet", true, ANY_VIEW, false },
	{ "defaultErrnoRet on kill", "{\"defaultAction\":\"SCMP_ACT_KILL\",\"defaultErrnoRet\":1}",
	  true, 6, "defaultErrnoRet", true, ANY_VIEW, false },
	{ "near miss: index 5",
	  "{" D ",\"syscalls\":[{\"names\":[\"read\"]," RA
	  ",\"args\":[{\"index\":5,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]}]}",
	  true, 6, NULL, false, ANY_VIEW, true },
	{ "near miss: errnoRet 4094",
	  "{" D ",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\","
	  "\"errnoRet\":4094}]}",
	  true, 6, NULL, false, ANY_VIEW, true },
	{ "near miss: errnoRet 65538 is 2",
	  "{" D ",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\","
	  "\"errnoRet\":65538}]}",
	  true, 6, NULL, false, ANY_VIEW, true },
	{ "near miss: errnoRet on trace",
	  "{" D ",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_TRACE\","
	  "\"errnoRet\":9}]}",
	  true, 6, NULL, false, ANY_VIEW, true },
	/* Error 7: NOTIFY and flags. */
	{ "notify default", "{\"defaultAction\":\"SCMP_ACT_NOTIFY\",\"listenerPath\":\"/run/a\"}",
	  true, 7, "defaultAction", true, ANY_VIEW, false },
	{ "notify without listenerPath",
	  "{" D ",\"syscalls\":[{\"names\":[\"openat\"],\"action\":\"SCMP_ACT_NOTIFY\"}]}", true, 7,
	  "syscalls[0].action", true, ANY_VIEW, false },
	{ "notify on write",
	  "{" D ",\"listenerPath\":\"/run/a\",\"syscalls\":[{\"names\":[\"openat\",\"write\"],"
	  "\"action\":\"SCMP_ACT_NOTIFY\"}]}",
	  true, 7, "syscalls[0].names[1]", true, ANY_VIEW, false },
	{ "unknown flag", "{" D ",\"flags\":[\"SECCOMP_FILTER_FLAG_FAST\"]}", true, 7, "flags[0]",
	  true, ANY_VIEW, false },
	{ "wait killable without notify",
	  "{" D ",\"flags\":[\"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV\"]}", true, 7, "flags[0]",
	  true, ANY_VIEW, false },
	{ "near miss: notify with listenerPath",
	  "{" D ",\"listenerPath\":\"/run/a\",\"syscalls\":[{\"names\":[\"openat\"],"
	  "\"action\":\"SCMP_ACT_NOTIFY\"}]}",
	  true, 7, NULL, false, ANY_VIEW, true },
	{ "near miss: known flag", "{" D ",\"flags\":[\"SECCOMP_FILTER_FLAG_LOG\"]}", true, 7, NULL,
	  false, ANY_VIEW, true },
	/* Error 8: libseccomp refuses. */
	{ "same condition, two actions",
	  "{" D ",\"syscalls\":[{\"names\":[\"read\"]," RA
	  ",\"args\":[{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]},{\"names\":[\"read\"],"
	  "\"action\":\"SCMP_ACT_KILL_PROCESS\",\"args\":[{\"index\":0,\"value\":1,\"op\":"
	  "\"SCMP_CMP_EQ\"}]}]}",
	  true, 8, "syscalls[1].names[0]", true, PROFILE_VIEW_BOTH, false },
	{ "near miss: same condition, same action",
	  "{" D ",\"syscalls\":[{\"names\":[\"read\"]," RA
	  ",\"args\":[{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]},{\"names\":[\"read\"]," RA
	  ",\"args\":[{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]}]}",
	  true, 8, NULL, false, ANY_VIEW, true },
	/* Warning 1: unknown names. */
	{ "unknown syscall",
	  "{" D ",\"syscalls\":[{\"names\":[\"read\",\"no_such_call\"]," RA "}]}", false, 1,
	  "syscalls[0].names[1]", true, PROFILE_VIEW_BOTH, true },
	{ "near miss: pseudo syscall socketcall",
	  "{" D ",\"syscalls\":[{\"names\":[\"socketcall\"]," RA "}]}", false, 1, NULL, false,
	  ANY_VIEW, true },
	{ "near miss: unknown name in a skipped rule",
	  "{" D ",\"syscalls\":[{\"names\":[\"no_such_call\"],\"action\":\"SCMP_ACT_ERRNO\"}]}",
	  false, 1, NULL, false, ANY_VIEW, true },
	/* Warning 2: rules that repeat the default action. */
	{ "rule repeats default",
	  "{" D ",\"syscalls\":[{\"names\":[\"read\"],\"action\":"
	  "\"SCMP_ACT_ERRNO\",\"errnoRet\":1}]}",
	  false, 2, "syscalls[0]", true, ANY_VIEW, true },
	{ "kill is kill_thread",
	  "{\"defaultAction\":\"SCMP_ACT_KILL\",\"syscalls\":[{\"names\":"
	  "[\"read\"],\"action\":\"SCMP_ACT_KILL_THREAD\"}]}",
	  false, 2, "syscalls[0]", true, ANY_VIEW, true },
	{ "near miss: other errno",
	  "{" D ",\"syscalls\":[{\"names\":[\"read\"],\"action\":"
	  "\"SCMP_ACT_ERRNO\",\"errnoRet\":2}]}",
	  false, 2, NULL, false, ANY_VIEW, true },
	/* Warning 3: a syscall decided twice. */
	{ "later unconditional rule ignored",
	  "{" D ",\"syscalls\":[{\"names\":[\"read\"]," RA "},{\"names\":[\"write\",\"read\"],"
	  "\"action\":\"SCMP_ACT_KILL_PROCESS\"}]}",
	  false, 3, "syscalls[1].names[1]", true, PROFILE_VIEW_BOTH, true },
	{ "later conditional rule ignored",
	  "{" D ",\"syscalls\":[{\"names\":[\"read\"]," RA "},{\"names\":[\"read\"],"
	  "\"action\":\"SCMP_ACT_KILL_PROCESS\",\"args\":[{\"index\":0,\"value\":1,\"op\":"
	  "\"SCMP_CMP_EQ\"}]}]}",
	  false, 3, "syscalls[1].names[0]", true, ANY_VIEW, true },
	{ "unconditional replaces conditional",
	  "{" D ",\"syscalls\":[{\"names\":[\"read\"]," RA ",\"args\":[{\"index\":0,\"value\":1,"
	  "\"op\":\"SCMP_CMP_EQ\"}]},{\"names\":[\"read\"],\"action\":\"SCMP_ACT_KILL_PROCESS\"}]}",
	  false, 3, "syscalls[1].names[0]", true, ANY_VIEW, true },
	{ "near miss: same action twice",
	  "{" D ",\"syscalls\":[{\"names\":[\"read\"]," RA "},{\"names\":[\"read\"]," RA "}]}",
	  false, 3, NULL, false, ANY_VIEW, true },
	{ "near miss: conditional then conditional",
	  "{" D ",\"syscalls\":[{\"names\":[\"read\"]," RA ",\"args\":[{\"index\":0,\"value\":1,"
	  "\"op\":\"SCMP_CMP_EQ\"}]},{\"names\":[\"read\"],\"action\":\"SCMP_ACT_KILL_PROCESS\","
	  "\"args\":[{\"index\":0,\"value\":2,\"op\":\"SCMP_CMP_EQ\"}]}]}",
	  false, 3, NULL, false, ANY_VIEW, true },
	/* Warning 4: one argument index twice. */
	{ "index twice",
	  "{" D ",\"syscalls\":[{\"names\":[\"read\"]," RA ",\"args\":[{\"index\":0,\"value\":1,"
	  "\"op\":\"SCMP_CMP_EQ\"},{\"index\":0,\"value\":2,\"op\":\"SCMP_CMP_EQ\"}]}]}",
	  false, 4, "syscalls[0]", true, ANY_VIEW, true },
	{ "near miss: two indexes",
	  "{" D ",\"syscalls\":[{\"names\":[\"read\"]," RA ",\"args\":[{\"index\":0,\"value\":1,"
	  "\"op\":\"SCMP_CMP_EQ\"},{\"index\":1,\"value\":2,\"op\":\"SCMP_CMP_EQ\"}]}]}",
	  false, 4, NULL, false, ANY_VIEW, true },
	/* Warning 5: Docker-dialect keys. */
	{ "name", "{" D ",\"syscalls\":[{\"name\":\"read\"," RA "}]}", false, 5, "syscalls[0].name",
	  true, PROFILE_VIEW_BOTH, true },
	{ "archMap", "{" D ",\"archMap\":[{\"architecture\":\"SCMP_ARCH_X86_64\"}]}", false, 5,
	  "archMap", true, PROFILE_VIEW_BOTH, true },
	{ "includes arches",
	  "{" D ",\"syscalls\":[{\"names\":[\"read\"]," RA
	  ",\"includes\":{\"arches\":[\"amd64\"]}}]}",
	  false, 5, "syscalls[0].includes", true, PROFILE_VIEW_BOTH, true },
	{ "excludes caps",
	  "{" D ",\"syscalls\":[{\"names\":[\"read\"]," RA
	  ",\"excludes\":{\"caps\":[\"CAP_X\"]}}]}",
	  false, 5, "syscalls[0].excludes", true, PROFILE_VIEW_BOTH, true },
	{ "minKernel",
	  "{" D ",\"syscalls\":[{\"names\":[\"read\"]," RA
	  ",\"includes\":{\"minKernel\":\"4.8\"}}]}",
	  false, 5, "syscalls[0].includes.minKernel", true, PROFILE_VIEW_BOTH, true },
	{ "malformed minKernel is only a warning",
	  "{" D ",\"syscalls\":[{\"names\":[\"read\"]," RA ",\"includes\":{\"minKernel\":5}}]}",
	  false, 5, "syscalls[0].includes.minKernel", true, PROFILE_VIEW_BOTH, true },
	{ "errno string",
	  "{" D ",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\",\"errno\":"
	  "\"ENOSYS\"}]}",
	  false, 5, "syscalls[0].errno", true, PROFILE_VIEW_BOTH, true },
	{ "defaultErrno string", "{" D ",\"defaultErrno\":\"ENOSYS\"}", false, 5, "defaultErrno",
	  true, PROFILE_VIEW_BOTH, true },
	{ "near miss: empty includes and a comment",
	  "{" D ",\"syscalls\":[{\"names\":[\"read\"]," RA
	  ",\"comment\":\"c\",\"includes\":{},\"excludes\":{}}]}",
	  false, 5, NULL, false, ANY_VIEW, true },
	/* Warning 6: node architecture left out. */
	{ "architectures without the node's",
	  "{" D ",\"architectures\":[\"SCMP_ARCH_X86\",\"SCMP_ARCH_X32\"]}", false, 6,
	  "architectures", true, PROFILE_VIEW_BOTH, true },
	{ "archMap without the node's",
	  "{" D ",\"archMap\":[{\"architecture\":\"SCMP_ARCH_AARCH64\"}]}", false, 6, "archMap",
	  true, PROFILE_VIEW_CRIO, true },
	{ "near miss: architectures with the node's",
	  "{" D ",\"architectures\":[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\"]}", false, 6, NULL,
	  false, ANY_VIEW, true },
	/* Warning 7: deny-lists. */
	{ "default allow", "{\"defaultAction\":\"SCMP_ACT_ALLOW\"}", false, 7, "defaultAction",
	  true, PROFILE_VIEW_BOTH, true },
	{ "default log", "{\"defaultAction\":\"SCMP_ACT_LOG\"}", false, 7, "defaultAction", true,
	  ANY_VIEW, true },
	{ "near miss: default kill", "{\"defaultAction\":\"SCMP_ACT_KILL_PROCESS\"}", false, 7,
	  NULL, false, ANY_VIEW, true },
	/* Warning 8: keys and flags. */
	{ "unknown key", "{" D ",\"syscals\":[]}", false, 8, "syscals", true, PROFILE_VIEW_BOTH,
	  true },
	{ "odd unknown key", "{" D ",\"a b\":1}", false, 8, "[\"a b\"]", true, ANY_VIEW, true },
	{ "non-canonical case", "{\"DefaultAction\":\"SCMP_ACT_ERRNO\"}", false, 8, "DefaultAction",
	  true, ANY_VIEW, true },
	{ "duplicate key", "{\"defaultAction\":\"SCMP_ACT_NOPE\"," D "}", false, 8, "defaultAction",
	  true, ANY_VIEW, true },
	{ "flags", "{" D ",\"flags\":[\"SECCOMP_FILTER_FLAG_SPEC_ALLOW\"]}", false, 8, "flags[0]",
	  true, ANY_VIEW, true },
	{ "unknown key inside a rule",
	  "{" D ",\"syscalls\":[{\"names\":[\"read\"]," RA ",\"arg\":[]}]}", false, 8,
	  "syscalls[0].arg", true, ANY_VIEW, true },
	{ "near miss: canonical keys", "{" D ",\"syscalls\":[{\"names\":[\"read\"]," RA "}]}",
	  false, 8, NULL, false, ANY_VIEW, true },
	/* Warning 9: NOTIFY needs an agent. */
	{ "notify rule",
	  "{" D ",\"listenerPath\":\"/run/a\",\"syscalls\":[{\"names\":[\"openat\"],"
	  "\"action\":\"SCMP_ACT_NOTIFY\"}]}",
	  false, 9, "syscalls[0]", true, ANY_VIEW, true },
	{ "near miss: no notify", "{" D ",\"listenerPath\":\"/run/a\"}", false, 9, NULL, false,
	  ANY_VIEW, true },
};

static void test_findings(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(finding_cases) / sizeof(finding_cases[0]); i++) {
		const struct finding_case *c = &finding_cases[i];
		struct profile_verdict *v = check_str(c->json, "x86_64");
		const struct profile_finding *f = find(v, c->error, c->code, c->path);

		if (!!f != c->present || v->valid != c->valid ||
		    (f && c->view != ANY_VIEW && (int)f->view != c->view)) {
			print_message("case '%s': want %s %c%d at '%s' view %d valid %d\n", c->name,
				      c->present ? "" : "no", c->error ? 'E' : 'W', c->code,
				      c->path ? c->path : "*", c->view, c->valid);
			dump(v);
			fail();
		}
		if (f && (f->message[0] >= 'A' && f->message[0] <= 'Z'))
			print_message("case '%s': message '%s'\n", c->name, f->message);
		if (f) {
			/* Messages say what the runtime does: lower case, no full stop. */
			assert_true(f->message[0] < 'A' || f->message[0] > 'Z');
			assert_true(f->message[strlen(f->message) - 1] != '.');
		}
		profile_verdict_free(v);
	}
}

/* A JSON document: @head, then @n items "@pre<i>@post" separated by commas, then @tail. */
static char *repeat_json(const char *head, const char *pre, const char *post, size_t n,
			 const char *tail, size_t *len)
{
	size_t hl = strlen(head), ul = strlen(pre) + strlen(post) + 24, tl = strlen(tail), i, at;
	char *s = malloc(hl + n * ul + tl + 1);

	assert_non_null(s);
	memcpy(s, head, hl);
	at = hl;
	for (i = 0; i < n; i++)
		at += (size_t)snprintf(s + at, ul, "%s%s%zu%s", i ? "," : "", pre, i, post);
	memcpy(s + at, tail, tl + 1);
	*len = at + tl;
	return s;
}

static void test_limits(void **state)
{
	struct profile_verdict *v;
	size_t len, i;
	char *s;

	(void)state;
	/* Over 1 MiB: refused, even though it is valid JSON. */
	s = malloc(PROFILE_MAX_BYTES + 64);
	assert_non_null(s);
	len = (size_t)snprintf(s, 64, "{" D ",\"x\":\"");
	memset(s + len, 'a', PROFILE_MAX_BYTES);
	len += PROFILE_MAX_BYTES;
	memcpy(s + len, "\"}", 3);
	len += 2;
	v = check_arch(s, len, "x86_64");
	assert_non_null(find(v, true, 1, ""));
	profile_verdict_free(v);
	/* Just under: accepted. */
	len = (size_t)snprintf(s, 64, "{" D ",\"x\":\"");
	memset(s + len, 'a', PROFILE_MAX_BYTES - len - 2);
	memcpy(s + PROFILE_MAX_BYTES - 2, "\"}", 3);
	v = check_arch(s, PROFILE_MAX_BYTES, "x86_64");
	assert_true(v->valid);
	profile_verdict_free(v);
	/* Nested deeper than the limit (under an unknown key): refused, not a crash. */
	len = (size_t)snprintf(s, 64, "{" D ",\"x\":");
	for (i = 0; i < 100; i++)
		s[len++] = '[';
	for (i = 0; i < 100; i++)
		s[len++] = ']';
	s[len++] = '}';
	v = check_arch(s, len, "x86_64");
	assert_non_null(find(v, true, 1, ""));
	profile_verdict_free(v);
	/* 60 levels are fine. */
	len = (size_t)snprintf(s, 64, "{" D ",\"x\":");
	for (i = 0; i < 60; i++)
		s[len++] = '[';
	for (i = 0; i < 60; i++)
		s[len++] = ']';
	s[len++] = '}';
	v = check_arch(s, len, "x86_64");
	assert_true(v->valid);
	profile_verdict_free(v);
	free(s);
	/* More values than the limit. */
	s = repeat_json("{" D ",\"x\":[", "", "", 100001, "]}", &len);
	v = check_arch(s, len, "x86_64");
	assert_non_null(find(v, true, 1, ""));
	profile_verdict_free(v);
	free(s);
}

static void test_bpf_limit(void **state)
{
	static const char head[] = "{" D ",\"syscalls\":[";
	static const char pre[] = "{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\","
				  "\"args\":[{\"index\":0,\"value\":";
	static const char post[] = ",\"op\":\"SCMP_CMP_EQ\"}]}";
	struct profile_verdict *v;
	size_t len;
	char *s;

	(void)state;
	s = repeat_json(head, pre, post, 4100, "]}", &len);
	v = check_arch(s, len, "x86_64");
	assert_false(v->valid);
	assert_non_null(find(v, true, 8, ""));
	profile_verdict_free(v);
	free(s);
	/* Past the rule limit: refused before libseccomp is asked. */
	s = repeat_json(head, pre, post, 8200, "]}", &len);
	v = check_arch(s, len, "x86_64");
	assert_false(v->valid);
	assert_non_null(find(v, true, 8, "syscalls[8192]"));
	profile_verdict_free(v);
	free(s);
	s = repeat_json(head, pre, post, 200, "]}", &len);
	v = check_arch(s, len, "x86_64");
	assert_true(v->valid);
	assert_true(v->bpf_instructions > 200 && v->bpf_instructions < 4096);
	profile_verdict_free(v);
	free(s);
}

/* What Go's decoder does that a naive reader would not. */
static void test_go_semantics(void **state)
{
	struct profile_verdict *v;

	(void)state;
	/* The last duplicate wins. */
	v = check_str("{\"defaultAction\":\"SCMP_ACT_NOPE\",\"defaultAction\":\"SCMP_ACT_ERRNO\"}",
		      NULL);
	assert_true(v->valid);
	profile_verdict_free(v);
	v = check_str("{" D ",\"defaultAction\":\"SCMP_ACT_NOPE\"}", NULL);
	assert_false(v->valid);
	assert_non_null(find(v, true, 3, "defaultAction"));
	profile_verdict_free(v);
	/* Keys fold case, and the long s and the Kelvin sign fold to ASCII. */
	v = check_str("{\"DEFAULTACTION\":\"SCMP_ACT_ALLOW\",\"\xC5\xBFyscalls\":[{\"names\":"
		      "[\"no_such_call\"],\"action\":\"SCMP_ACT_ERRNO\"}]}",
		      NULL);
	assert_true(v->valid);
	assert_non_null(find(v, false, 7, "defaultAction"));
	assert_non_null(find(v, false, 1, "syscalls[0].names[0]"));
	assert_int_equal(count(v, false, 8), 2);
	profile_verdict_free(v);
	v = check_str("{" D ",\"syscalls\":[{\"names\":[\"read\"]," RA
		      ",\"includes\":{\"min\xE2\x84\xAA"
		      "ernel\":\"4.8\"}}]}",
		      NULL);
	assert_non_null(find(v, false, 5, "syscalls[0].includes.minKernel"));
	profile_verdict_free(v);
	/* null leaves a string alone and resets a pointer. */
	v = check_str("{" D ",\"defaultAction\":null}", NULL);
	assert_true(v->valid);
	profile_verdict_free(v);
	v = check_str("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"defaultErrnoRet\":1,"
		      "\"defaultErrnoRet\":null}",
		      NULL);
	assert_true(v->valid);
	profile_verdict_free(v);
	/* An array decoded again reuses the elements: the action survives. */
	v = check_str("{" D ",\"syscalls\":[{\"names\":[\"read\"]," RA
		      "}],\"syscalls\":[{\"names\":"
		      "[\"write\"]}]}",
		      NULL);
	assert_true(v->valid);
	assert_null(find(v, true, 3, NULL));
	profile_verdict_free(v);
	/* An object decoded again merges. */
	v = check_str("{" D ",\"syscalls\":[{\"names\":[\"read\"]," RA ",\"includes\":{\"arches\":"
		      "[\"arm64\"]},\"includes\":{\"caps\":[\"CAP_X\"]}}]}",
		      NULL);
	assert_non_null(find(v, false, 5, "syscalls[0].includes"));
	assert_true(strstr(find(v, false, 5, "syscalls[0].includes")->message, "architectures") !=
		    NULL);
	profile_verdict_free(v);
	/* Invalid UTF-8 is replaced, not refused; a NUL ends the name libseccomp sees. */
	v = check_str("{" D ",\"syscalls\":[{\"names\":[\"re\xff"
		      "ad\"]," RA "}]}",
		      NULL);
	assert_true(v->valid);
	assert_non_null(find(v, false, 1, "syscalls[0].names[0]"));
	assert_non_null(strstr(find(v, false, 1, NULL)->message, "re\\xef\\xbf\\xbdad"));
	profile_verdict_free(v);
	v = check_str("{" D ",\"syscalls\":[{\"names\":[\"read\\u0000x\"]," RA "}]}", NULL);
	assert_true(v->valid);
	assert_int_equal(v->n_warnings, 0);
	profile_verdict_free(v);
}

/* The views: what CRI-O and containerd each compile. */
static void test_views(void **state)
{
	struct profile_verdict *v;
	const struct profile_finding *f;

	(void)state;
	/* includes.arches: CRI-O on amd64 keeps the rule, on arm64 drops it. */
	v = check_str(
		"{" D ",\"syscalls\":[{\"names\":[\"read\"]," RA "},{\"names\":[\"read\"],"
		"\"action\":\"SCMP_ACT_KILL_PROCESS\",\"includes\":{\"arches\":[\"amd64\"]}}]}",
		"x86_64");
	f = find(v, false, 3, "syscalls[1].names[0]");
	assert_non_null(f);
	assert_int_equal(f->view, PROFILE_VIEW_BOTH);
	profile_verdict_free(v);
	v = check_str(
		"{" D ",\"syscalls\":[{\"names\":[\"read\"]," RA "},{\"names\":[\"read\"],"
		"\"action\":\"SCMP_ACT_KILL_PROCESS\",\"includes\":{\"arches\":[\"amd64\"]}}]}",
		"arm64");
	f = find(v, false, 3, "syscalls[1].names[0]");
	assert_non_null(f);
	assert_int_equal(f->view, PROFILE_VIEW_CONTAINERD);
	profile_verdict_free(v);
	/* excludes.caps: CRI-O takes the container to hold every capability. */
	v = check_str("{" D ",\"syscalls\":[{\"names\":[\"read\"]," RA "},{\"names\":[\"read\"],"
		      "\"action\":\"SCMP_ACT_KILL_PROCESS\",\"excludes\":{\"caps\":[\"CAP_X\"]}}]}",
		      "x86_64");
	assert_int_equal(find(v, false, 3, NULL)->view, PROFILE_VIEW_CONTAINERD);
	profile_verdict_free(v);
	/* name: only CRI-O sees the rule. */
	v = check_str("{" D ",\"syscalls\":[{\"name\":\"no_such_call\"," RA "}]}", "x86_64");
	f = find(v, false, 1, "syscalls[0].name");
	assert_non_null(f);
	assert_int_equal(f->view, PROFILE_VIEW_CRIO);
	profile_verdict_free(v);
	/* CRI-O's errno string wins over errnoRet. */
	v = check_str("{" D ",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\","
		      "\"errnoRet\":1,\"errno\":\"ENOSYS\"}]}",
		      "x86_64");
	f = find(v, false, 2, "syscalls[0]");
	assert_non_null(f);
	assert_int_equal(f->view, PROFILE_VIEW_CONTAINERD);
	profile_verdict_free(v);
	v = check_str("{" D ",\"defaultErrno\":\"EPERM\",\"syscalls\":[{\"names\":[\"read\"],"
		      "\"action\":\"SCMP_ACT_ERRNO\",\"errno\":\"1\"}]}",
		      "x86_64");
	assert_int_equal(find(v, false, 2, "syscalls[0]")->view, PROFILE_VIEW_BOTH);
	profile_verdict_free(v);
	/* archMap: CRI-O compiles the node's entry and its sub-architectures. */
	v = check_str("{" D ",\"archMap\":[{\"architecture\":\"SCMP_ARCH_AARCH64\","
		      "\"subArchitectures\":[\"SCMP_ARCH_ARM\"]},{\"architecture\":"
		      "\"SCMP_ARCH_X86_64\",\"subArchitectures\":[\"SCMP_ARCH_X86\"]}]}",
		      "arm64");
	assert_int_equal(v->n_arches, 2);
	assert_string_equal(v->arches[0], "aarch64");
	assert_string_equal(v->arches[1], "arm");
	profile_verdict_free(v);
	/* An unknown sub-architecture in the node's own entry is an error (CRI-O only). */
	v = check_str("{" D ",\"archMap\":[{\"architecture\":\"SCMP_ARCH_X86_64\","
		      "\"subArchitectures\":[\"SCMP_ARCH_Z80\"]}]}",
		      "x86_64");
	f = find(v, true, 3, "archMap[0].subArchitectures[0]");
	assert_non_null(f);
	assert_int_equal(f->view, PROFILE_VIEW_CRIO);
	profile_verdict_free(v);
}

static void test_arch_normalize(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "x86_64", "x86_64" },	    { "amd64", "x86_64" }, { "aarch64", "aarch64" },
		{ "arm64", "aarch64" },	    { "i386", "x86" },	   { "386", "x86" },
		{ "arm", "arm" },	    { "armhf", "arm" },	   { "ppc64le", "ppc64le" },
		{ "ppc64el", "ppc64le" },   { "s390x", "s390x" },  { "riscv64", "riscv64" },
		{ "mips64le", "mipsel64" }, { "x32", "x32" },	   { "sparc", NULL },
		{ "AMD64", NULL },	    { "", NULL },	   { "loongarch64", NULL },
	};
	struct profile_opts o = { "sparc" };
	struct profile_verdict *v = NULL;
	struct diag d = { { 0 } };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *r = profile_arch_normalize(cases[i].in);

		if (!cases[i].out)
			assert_null(r);
		else
			assert_string_equal(r, cases[i].out);
	}
	assert_null(profile_arch_normalize(NULL));
	assert_int_equal(profile_check("{}", 2, &o, &v, &d), -EINVAL);
	assert_null(v);
	assert_non_null(strstr(d.msg, "sparc"));
	/* The node's architecture comes first; Go names work like libseccomp's. */
	v = check_str("{" D ",\"architectures\":[\"SCMP_ARCH_X86\",\"SCMP_ARCH_AARCH64\"]}",
		      "arm64");
	assert_int_equal(v->n_arches, 2);
	assert_string_equal(v->arches[0], "aarch64");
	assert_string_equal(v->arches[1], "x86");
	profile_verdict_free(v);
	v = check_str("{" D "}", "s390x");
	assert_int_equal(v->n_arches, 1);
	assert_string_equal(v->arches[0], "s390x");
	profile_verdict_free(v);
}

static char *read_data(const char *name, size_t *len);

/* profile_cache_check() of string @s, which must succeed; Return: whether it was a hit. */
static bool cached(struct profile_cache *c, const char *s, const struct profile_opts *o,
		   const struct profile_verdict **v)
{
	struct diag d;
	bool hit = false;

	assert_int_equal(profile_cache_check(c, s, strlen(s), o, v, &hit, &d), 0);
	return hit;
}

static void cache_run(unsigned flags)
{
	static const char a[] = "{" D "}", b[] = "{\"defaultAction\":\"SCMP_ACT_KILL\"}",
			  c[] = "{\"defaultAction\":\"SCMP_ACT_LOG\"}";
	struct profile_opts x86 = { "x86_64" }, arm = { "arm64" };
	const struct profile_verdict *v, *va;
	struct profile_cache *cache = NULL;
	uint8_t dx[SHA256_LEN], da[SHA256_LEN], dv[SHA256_LEN];
	struct diag d;
	bool hit = true;

	assert_int_equal(profile_cache_new(0, flags, &cache), -EINVAL);
	assert_int_equal(profile_cache_new(2, flags | 0x80, &cache), -EINVAL);
	assert_int_equal(profile_cache_new(2, flags, &cache), 0);
	assert_false(cached(cache, a, &x86, &va));
	assert_true(cached(cache, a, &x86, &v));
	assert_ptr_equal(v, va);
	/* The architecture is part of the key. */
	assert_false(cached(cache, a, &arm, &v));
	assert_string_equal(v->arches[0], "aarch64");
	assert_int_equal(profile_digest(a, strlen(a), &x86, dx, &d), 0);
	assert_int_equal(profile_digest(a, strlen(a), &arm, da, &d), 0);
	assert_memory_not_equal(dx, da, SHA256_LEN);
	assert_memory_equal(v->digest, da, SHA256_LEN);
	/* Least recently used goes: a(x86) was used before a(arm), so b evicts it. */
	assert_true(cached(cache, a, &arm, &v));
	assert_false(cached(cache, b, &x86, &v));
	assert_true(cached(cache, a, &arm, &v));
	assert_false(cached(cache, a, &x86, &v));
	/* Now b was least recent. */
	assert_false(cached(cache, c, &x86, &v));
	assert_false(cached(cache, b, &x86, &v));
	/* A new validator version misses every cached verdict. */
	assert_true(cached(cache, b, &x86, &v));
	memcpy(dv, v->digest, SHA256_LEN);
	fake_version = "profile-test";
	assert_false(cached(cache, b, &x86, &v));
	assert_memory_not_equal(dv, v->digest, SHA256_LEN);
	fake_version = NULL;
	assert_false(cached(cache, b, &arm, &v));
	assert_false(cached(cache, b, &x86, &v));
	assert_memory_equal(dv, v->digest, SHA256_LEN);
	assert_int_equal(profile_cache_check(cache, "{", 1, &x86, &v, &hit, &d), 0);
	assert_false(v->valid);
	assert_int_equal(
		profile_cache_check(cache, a, 2, &(struct profile_opts){ "vax" }, &v, &hit, &d),
		-EINVAL);
	profile_cache_free(cache);
	profile_cache_free(NULL);
	profile_verdict_free(NULL);

	/* A byte limit evicts by size; the newest verdict stays even when it alone is over. */
	assert_int_equal(profile_cache_new(8, flags, &cache), 0);
	assert_false(cached(cache, a, &x86, &v));
	assert_false(cached(cache, b, &x86, &v));
	profile_cache_limit_bytes(cache, 1);
	assert_true(cached(cache, b, &x86, &v));
	assert_false(cached(cache, a, &x86, &v));
	assert_true(cached(cache, a, &x86, &v));
	assert_false(cached(cache, b, &x86, &v));
	profile_cache_limit_bytes(cache, 0);
	assert_false(cached(cache, a, &x86, &v));
	assert_true(cached(cache, b, &x86, &v));
	profile_cache_free(cache);
}

static void test_cache(void **state)
{
	(void)state;
	cache_run(0);
}

/* The compile thread changes where a compile runs, never its verdict. */
static void test_cache_thread(void **state)
{
	const struct profile_verdict *cv;
	struct profile_verdict *v = NULL;
	struct profile_cache *cache = NULL;
	struct diag d;
	size_t len, i;
	char *data;
	bool hit;

	(void)state;
	cache_run(PROFILE_CACHE_THREAD);
	data = read_data("docker-default.json", &len);
	assert_int_equal(profile_check(data, len, NULL, &v, &d), 0);
	assert_int_equal(profile_cache_new(4, PROFILE_CACHE_THREAD, &cache), 0);
	assert_int_equal(profile_cache_check(cache, data, len, NULL, &cv, &hit, &d), 0);
	assert_false(hit);
	assert_int_equal(cv->valid, v->valid);
	assert_int_equal(cv->bpf_instructions, v->bpf_instructions);
	assert_memory_equal(cv->digest, v->digest, SHA256_LEN);
	assert_int_equal(cv->n_errors, v->n_errors);
	assert_int_equal(cv->n_warnings, v->n_warnings);
	assert_true(v->n_warnings > 10);
	for (i = 0; i < v->n_warnings; i++) {
		assert_string_equal(cv->warnings[i].path, v->warnings[i].path);
		assert_string_equal(cv->warnings[i].message, v->warnings[i].message);
		assert_int_equal(cv->warnings[i].code, v->warnings[i].code);
		assert_int_equal(cv->warnings[i].view, v->warnings[i].view);
	}
	assert_int_equal(cv->n_arches, v->n_arches);
	for (i = 0; i < v->n_arches; i++)
		assert_string_equal(cv->arches[i], v->arches[i]);
	/* An error from the compile thread comes back with its message. */
	assert_int_equal(profile_cache_check(cache, data, len, &(struct profile_opts){ "vax" }, &cv,
					     &hit, &d),
			 -EINVAL);
	assert_non_null(strstr(d.msg, "vax"));
	profile_cache_free(cache);
	profile_verdict_free(v);
	free(data);
}

static char *read_data(const char *name, size_t *len)
{
	char path[512];
	FILE *f;
	char *buf;
	long n;

	(void)snprintf(path, sizeof(path), "%s/%s", TEST_DATA_DIR, name);
	f = fopen(path, "rbe");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	assert_int_equal(fseek(f, 0, SEEK_SET), 0);
	buf = malloc((size_t)n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	(void)fclose(f);
	*len = (size_t)n;
	return buf;
}

/*
 * Every shared profile: valid on x86_64 and aarch64, with exactly these warnings
 * (count per class 1..9) and these compiled architectures.
 */
struct shared_case {
	const char *file, *arch;
	unsigned warnings[10];
	const char *arches;
};

static const struct shared_case shared_cases[] = {
	{ "containers-common-default.json",
	  "x86_64",
	  { 0, 0, 0, 24, 0, 48, 0, 0, 0, 0 },
	  "x86_64 x86 x32" },
	{ "containers-common-default.json",
	  "aarch64",
	  { 0, 0, 0, 24, 0, 48, 0, 0, 0, 0 },
	  "aarch64 arm" },
	{ "docker-default.json", "x86_64", { 0, 12, 0, 1, 0, 26, 0, 0, 0, 0 }, "x86_64 x86 x32" },
	{ "docker-default.json", "aarch64", { 0, 12, 0, 1, 0, 26, 0, 0, 0, 0 }, "aarch64 arm" },
	{ "k8s-tutorial-audit.json", "x86_64", { 0, 0, 0, 0, 0, 0, 0, 1, 0, 0 }, "x86_64" },
	{ "k8s-tutorial-audit.json", "aarch64", { 0, 0, 0, 0, 0, 0, 0, 1, 0, 0 }, "aarch64" },
	{ "k8s-tutorial-fine-grained.json", "x86_64", { 0 }, "x86_64 x86 x32 aarch64" },
	{ "k8s-tutorial-fine-grained.json", "aarch64", { 0 }, "aarch64 x86_64 x86 x32" },
	{ "k8s-tutorial-violation.json", "x86_64", { 0 }, "x86_64" },
	{ "k8s-tutorial-violation.json", "aarch64", { 0 }, "aarch64" },
	{ "seccomp-operator-v0.1-allow.json",
	  "x86_64",
	  { 0, 0, 0, 0, 0, 0, 0, 1, 0, 0 },
	  "x86_64" },
	{ "seccomp-operator-v0.1-allow.json",
	  "aarch64",
	  { 0, 0, 0, 0, 0, 0, 0, 1, 0, 0 },
	  "aarch64" },
	{ "seccomp-operator-v0.1-block.json", "x86_64", { 0 }, "x86_64" },
	{ "seccomp-operator-v0.1-block.json", "aarch64", { 0 }, "aarch64" },
	{ "seccomp-operator-v0.1-complain.json",
	  "x86_64",
	  { 0, 0, 0, 0, 0, 0, 0, 1, 0, 0 },
	  "x86_64" },
	{ "seccomp-operator-v0.1-complain.json",
	  "aarch64",
	  { 0, 0, 0, 0, 0, 0, 0, 1, 0, 0 },
	  "aarch64" },
	{ "seccomp-operator-v0.1-nginx-1.19.1.json", "x86_64", { 0 }, "x86_64 x86 x32" },
	{ "seccomp-operator-v0.1-nginx-1.19.1.json",
	  "aarch64",
	  { 0, 0, 0, 0, 0, 0, 1, 0, 0, 0 },
	  "aarch64 x86_64 x86 x32" },
	{ "seccomp-operator-v0.1-self.json", "x86_64", { 0 }, "x86_64 x86 x32" },
	{ "seccomp-operator-v0.1-self.json",
	  "aarch64",
	  { 0, 0, 0, 0, 0, 0, 1, 0, 0, 0 },
	  "aarch64 x86_64 x86 x32" },
};

static void test_shared_profiles(void **state)
{
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof(shared_cases) / sizeof(shared_cases[0]); i++) {
		const struct shared_case *c = &shared_cases[i];
		size_t len, total = 0;
		char *data = read_data(c->file, &len), arches[128] = "";
		struct profile_verdict *v = check_arch(data, len, c->arch);
		bool ok = v->valid && v->n_errors == 0 && v->bpf_instructions > 0;

		for (k = 1; k < 10; k++) {
			ok = ok && count(v, false, (int)k) == c->warnings[k];
			total += c->warnings[k];
		}
		ok = ok && v->n_warnings == total;
		for (k = 0; k < v->n_arches; k++)
			(void)snprintf(arches + strlen(arches), sizeof(arches) - strlen(arches),
				       "%s%s", k ? " " : "", v->arches[k]);
		ok = ok && !strcmp(arches, c->arches);
		if (!ok) {
			print_message("%s on %s: valid %d arches '%s'\n", c->file, c->arch,
				      v->valid, arches);
			for (k = 1; k < 10; k++)
				print_message("  W%zu: %zu (want %u)\n", k, count(v, false, (int)k),
					      c->warnings[k]);
			dump(v);
			fail();
		}
		profile_verdict_free(v);
		free(data);
	}
}

/* docker-default.json: the 12 names libseccomp 2.5.4 does not know, and the Docker keys. */
static void test_docker_default(void **state)
{
	static const char *const unknown[] = {
		"syscalls[0].names[117]", /* getxattrat */
		"syscalls[0].names[143]", /* listmount */
		"syscalls[0].names[145]", /* listxattrat */
		"syscalls[0].names[178]", /* mseal */
		"syscalls[0].names[228]", /* removexattrat */
		"syscalls[0].names[233]", /* riscv_hwprobe */
		"syscalls[0].names[299]", /* setxattrat */
		"syscalls[0].names[317]", /* statmount */
		"syscalls[0].names[349]", /* uretprobe */
		"syscalls[17].names[9]",  /* lsm_get_self_attr */
		"syscalls[17].names[10]", /* lsm_list_modules */
		"syscalls[17].names[11]", /* lsm_set_self_attr */
	};
	static const char *const names[] = {
		"getxattrat",	 "listmount",	      "listxattrat",	  "mseal",
		"removexattrat", "riscv_hwprobe",     "setxattrat",	  "statmount",
		"uretprobe",	 "lsm_get_self_attr", "lsm_list_modules", "lsm_set_self_attr"
	};
	static const char *const docker_keys[] = {
		"archMap",
		"syscalls[1].includes.minKernel",
		"syscalls[10].includes",
		"syscalls[11].includes",
		"syscalls[12].includes",
		"syscalls[13].includes",
		"syscalls[14].includes",
		"syscalls[15].includes",
		"syscalls[16].includes",
		"syscalls[17].includes",
		"syscalls[18].excludes",
		"syscalls[19].includes",
		"syscalls[19].excludes",
		"syscalls[20].excludes",
		"syscalls[21].includes",
		"syscalls[22].includes",
		"syscalls[23].includes",
		"syscalls[24].includes",
		"syscalls[25].includes",
		"syscalls[26].includes",
		"syscalls[27].includes",
		"syscalls[28].includes",
		"syscalls[29].includes",
		"syscalls[30].includes",
		"syscalls[31].includes",
		"syscalls[32].includes",
	};
	const char *arches[] = { "x86_64", "aarch64" };
	size_t len, i, a;
	char *data = read_data("docker-default.json", &len);

	(void)state;
	for (a = 0; a < 2; a++) {
		struct profile_verdict *v = check_arch(data, len, arches[a]);
		const struct profile_finding *f;

		assert_int_equal(count(v, false, 1), 12);
		for (i = 0; i < 12; i++) {
			f = find(v, false, 1, unknown[i]);
			assert_non_null(f);
			assert_non_null(strstr(f->message, names[i]));
			assert_int_equal(f->view, PROFILE_VIEW_BOTH);
		}
		assert_int_equal(count(v, false, 5), sizeof(docker_keys) / sizeof(docker_keys[0]));
		for (i = 0; i < sizeof(docker_keys) / sizeof(docker_keys[0]); i++)
			assert_non_null(find(v, false, 5, docker_keys[i]));
		/* containerd applies clone3's CAP_SYS_ADMIN rules unconditionally: the first wins. */
		f = find(v, false, 3, "syscalls[20].names[0]");
		assert_non_null(f);
		assert_int_equal(f->view, PROFILE_VIEW_CONTAINERD);
		assert_non_null(strstr(f->message, "clone3"));
		profile_verdict_free(v);
	}
	free(data);
}

/* Every prefix of a real profile is refused cleanly (never a crash, never valid). */
static void test_prefixes(void **state)
{
	size_t len, cut;
	char *data = read_data("k8s-tutorial-fine-grained.json", &len);

	(void)state;
	for (cut = 0; cut < len; cut += 7) {
		struct profile_verdict *v = check_arch(data, cut, "x86_64");

		assert_false(v->valid);
		assert_non_null(find(v, true, 1, ""));
		profile_verdict_free(v);
	}
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_findings),	cmocka_unit_test(test_limits),
		cmocka_unit_test(test_bpf_limit),	cmocka_unit_test(test_go_semantics),
		cmocka_unit_test(test_views),		cmocka_unit_test(test_arch_normalize),
		cmocka_unit_test(test_cache),		cmocka_unit_test(test_cache_thread),
		cmocka_unit_test(test_shared_profiles), cmocka_unit_test(test_docker_default),
		cmocka_unit_test(test_prefixes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
