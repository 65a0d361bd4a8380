/* SPDX-License-Identifier: Apache-2.0 */
/*
 * daemon/config: precedence flag > env > file > default for every option,
 * repeatable --namespace, bad values refused with a message naming the
 * source, and the YAML file's shape (unknown or repeated keys, nesting,
 * aliases, several documents, size) refused.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon/config.h"

static char tmpdir[64];

static const char *const all_env[] = {
	"SECCOMP_SYNCD_CONFIG",
	"SECCOMP_SYNCD_KUBECONFIG",
	"SECCOMP_SYNCD_CONTEXT",
	"SECCOMP_SYNCD_KUBELET_DIR",
	"SECCOMP_SYNCD_NODE_NAME",
	"SECCOMP_SYNCD_NAMESPACE",
	"SECCOMP_SYNCD_LABEL_SELECTOR",
	"SECCOMP_SYNCD_ANNOTATION",
	"SECCOMP_SYNCD_LISTEN",
	"SECCOMP_SYNCD_LOG_FORMAT",
	"SECCOMP_SYNCD_LOG_LEVEL",
	"SECCOMP_SYNCD_ARCH",
	"SECCOMP_SYNCD_EVENTS_PER_MINUTE",
	"SECCOMP_SYNCD_ONCE",
	"SECCOMP_SYNCD_NO_SANDBOX",
	"SECCOMP_SYNCD_WAIT_LOCK",
	"NODE_NAME",
};

static void clear_env(void)
{
	size_t i;

	for (i = 0; i < sizeof(all_env) / sizeof(all_env[0]); i++)
		unsetenv(all_env[i]);
}

/* Write @yaml to a file in the temp dir; returns its path (static buffer). */
static const char *write_yaml(const char *yaml)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/config.yaml", tmpdir);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(yaml, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	return path;
}

/* Every field as "name=value", space separated, for comparisons. */
static void dump(const struct run_config *c, char *out, size_t size)
{
	char ns[512] = "";
	size_t i, at = 0;

	for (i = 0; i < c->n_namespaces; i++) {
		int n = snprintf(ns + at, sizeof(ns) - at, "%s%s", i ? "," : "", c->namespaces[i]);

		at += (size_t)n;
	}
	snprintf(out, size,
		 " kubeconfig=%s context=%s kubeletDir=%s nodeName=%s namespace=%s "
		 "labelSelector=%s annotation=%s listen=%s arch=%s logFormat=%d logLevel=%d "
		 "once=%d noSandbox=%d waitLock=%d eventsPerMinute=%u ",
		 c->kubeconfig ? c->kubeconfig : "-", c->context ? c->context : "-",
		 c->kubelet_dir ? c->kubelet_dir : "-", c->node_name ? c->node_name : "-", ns,
		 c->label_selector ? c->label_selector : "-", c->annotation ? c->annotation : "-",
		 c->listen ? c->listen : "-", c->arch ? c->arch : "-", (int)c->log_format,
		 (int)c->log_level, c->once, c->no_sandbox, c->wait_lock, c->events_per_minute);
	if (c->namespaces)
		assert_null(c->namespaces[c->n_namespaces]);
}

static int load(const char *const *args, struct run_config *c, struct diag *d)
{
	char *argv[16];
	int argc = 0;

	argv[argc++] = (char *)"run";
	while (args && args[argc - 1])
		argv[argc] = (char *)args[argc - 1], argc++;
	argv[argc] = NULL;
	diag_clear(d);
	return run_config_load(argc, argv, c, d);
}

/* One option's names, a value for each source and what each shows up as. */
struct prec {
	const char *flag, *env, *yaml, *field;
	const char *def; /* dump text of the default */
	const char *v_file, *v_env, *v_flag;
	const char *s_file, *s_env, *s_flag; /* dump text of each (NULL: same as the value) */
};

static const struct prec precs[] = {
	{ "kubeconfig", "SECCOMP_SYNCD_KUBECONFIG", "kubeconfig", "kubeconfig", "-", "/f/kc",
	  "/e/kc", "/g/kc", NULL, NULL, NULL },
	{ "context", "SECCOMP_SYNCD_CONTEXT", "context", "context", "-", "cf", "ce", "cg", NULL,
	  NULL, NULL },
	{ "kubelet-dir", "SECCOMP_SYNCD_KUBELET_DIR", "kubeletDir", "kubeletDir",
	  "/var/lib/kubelet", "/file", "/env", "/flag", NULL, NULL, NULL },
	{ "node-name", "SECCOMP_SYNCD_NODE_NAME", "nodeName", "nodeName", "-", "node-f", "node-e",
	  "node-g", NULL, NULL, NULL },
	{ "namespace", "SECCOMP_SYNCD_NAMESPACE", "namespace", "namespace", "", "nsf", "nse1,nse2",
	  "nsg", NULL, NULL, NULL },
	{ "label-selector", "SECCOMP_SYNCD_LABEL_SELECTOR", "labelSelector", "labelSelector", "-",
	  "a=f", "a=e", "a in (g,h)", NULL, NULL, NULL },
	{ "annotation", "SECCOMP_SYNCD_ANNOTATION", "annotation", "annotation",
	  "seccomp.security.kubernetes.io/profile", "f.io/p", "e.io/p", "g.io/p", NULL, NULL,
	  NULL },
	{ "listen", "SECCOMP_SYNCD_LISTEN", "listen", "listen", ":9120", "127.0.0.1:1", "[::1]:2",
	  "off", NULL, NULL, NULL },
	{ "arch", "SECCOMP_SYNCD_ARCH", "arch", "arch", "-", "aarch64", "arm64", "x86_64", NULL,
	  NULL, NULL },
	{ "log-format", "SECCOMP_SYNCD_LOG_FORMAT", "logFormat", "logFormat", "0", "json", "text",
	  "json", "1", "0", "1" },
	{ "log-level", "SECCOMP_SYNCD_LOG_LEVEL", "logLevel", "logLevel", "2", "debug", "warn",
	  "error", "3", "1", "0" },
	{ "events-per-minute", "SECCOMP_SYNCD_EVENTS_PER_MINUTE", "eventsPerMinute",
	  "eventsPerMinute", "60", "5", "6", "7", NULL, NULL, NULL },
	{ "once", "SECCOMP_SYNCD_ONCE", "once", "once", "0", "true", "false", NULL, "1", "0", "1" },
	{ "no-sandbox", "SECCOMP_SYNCD_NO_SANDBOX", "noSandbox", "noSandbox", "0", "yes", "0", NULL,
	  "1", "0", "1" },
	{ "wait-lock", "SECCOMP_SYNCD_WAIT_LOCK", "waitLock", "waitLock", "0", "false", "1",
	  "false", "0", "1", "0" },
};

static void expect_field(const struct run_config *c, const char *field, const char *value)
{
	char buf[2048], want[300];

	dump(c, buf, sizeof(buf));
	snprintf(want, sizeof(want), " %s=%s ", field, value);
	if (!strstr(buf, want))
		fail_msg("want '%s' in '%s'", want, buf);
}

/* default, file, file+env, file+env+flag, and flag alone, for one option. */
static void test_precedence(void **state)
{
	const struct prec *p = *state;
	struct run_config c;
	struct diag d;
	char yaml[256], flagv[128], envlist[64];
	const char *args[4] = { NULL };
	const char *file_shown = p->s_file ? p->s_file : p->v_file;
	const char *env_shown = p->s_env ? p->s_env : p->v_env;
	const char *flag_shown = p->s_flag ? p->s_flag : p->v_flag;

	clear_env();
	assert_int_equal(load(NULL, &c, &d), 0);
	expect_field(&c, p->field, p->def);
	run_config_release(&c);

	snprintf(yaml, sizeof(yaml), "%s: \"%s\"\n", p->yaml, p->v_file);
	setenv("SECCOMP_SYNCD_CONFIG", write_yaml(yaml), 1);
	assert_int_equal(load(NULL, &c, &d), 0);
	expect_field(&c, p->field, file_shown);
	run_config_release(&c);

	setenv(p->env, p->v_env, 1);
	assert_int_equal(load(NULL, &c, &d), 0);
	snprintf(envlist, sizeof(envlist), "%s", env_shown);
	expect_field(&c, p->field, envlist);
	run_config_release(&c);

	if (p->v_flag) {
		snprintf(flagv, sizeof(flagv), "--%s=%s", p->flag, p->v_flag);
	} else {
		snprintf(flagv, sizeof(flagv), "--%s", p->flag);
	}
	args[0] = flagv;
	assert_int_equal(load(args, &c, &d), 0);
	expect_field(&c, p->field, flag_shown);
	run_config_release(&c);

	/* The two-argument form of the flag (booleans take no argument). */
	clear_env();
	if (p->v_flag && strcmp(p->field, "once") && strcmp(p->field, "noSandbox") &&
	    strcmp(p->field, "waitLock")) {
		snprintf(flagv, sizeof(flagv), "--%s", p->flag);
		args[0] = flagv;
		args[1] = p->v_flag;
		assert_int_equal(load(args, &c, &d), 0);
		expect_field(&c, p->field, flag_shown);
		run_config_release(&c);
	}
	clear_env();
}

static void test_namespaces(void **state)
{
	static const char *const rep[] = { "--namespace", "a", "--namespace=b",
					   "--namespace", "a", NULL };
	struct run_config c;
	struct diag d;

	(void)state;
	clear_env();
	assert_int_equal(load(rep, &c, &d), 0);
	expect_field(&c, "namespace", "a,b");
	assert_int_equal(c.n_namespaces, 2);
	run_config_release(&c);

	/* A flag replaces the environment's whole list, the environment the file's. */
	setenv("SECCOMP_SYNCD_NAMESPACE", "x,y,z", 1);
	setenv("SECCOMP_SYNCD_CONFIG", write_yaml("namespace:\n  - p\n  - q\n"), 1);
	assert_int_equal(load(NULL, &c, &d), 0);
	expect_field(&c, "namespace", "x,y,z");
	run_config_release(&c);
	unsetenv("SECCOMP_SYNCD_NAMESPACE");
	assert_int_equal(load(NULL, &c, &d), 0);
	expect_field(&c, "namespace", "p,q");
	run_config_release(&c);
	assert_int_equal(load(rep, &c, &d), 0);
	expect_field(&c, "namespace", "a,b");
	run_config_release(&c);

	/* An empty variable is unset. */
	clear_env();
	setenv("SECCOMP_SYNCD_NAMESPACE", "", 1);
	setenv("SECCOMP_SYNCD_KUBELET_DIR", "", 1);
	setenv("SECCOMP_SYNCD_CONFIG", "", 1);
	assert_int_equal(load(NULL, &c, &d), 0);
	expect_field(&c, "namespace", "");
	expect_field(&c, "kubeletDir", "/var/lib/kubelet");
	run_config_release(&c);

	/* NODE_NAME is read below SECCOMP_SYNCD_NODE_NAME. */
	clear_env();
	setenv("NODE_NAME", "n1", 1);
	assert_int_equal(load(NULL, &c, &d), 0);
	expect_field(&c, "nodeName", "n1");
	run_config_release(&c);
	setenv("SECCOMP_SYNCD_NODE_NAME", "n2", 1);
	assert_int_equal(load(NULL, &c, &d), 0);
	expect_field(&c, "nodeName", "n2");
	run_config_release(&c);
	clear_env();

	/* An empty file, a null value and a file of comments set nothing. */
	setenv("SECCOMP_SYNCD_CONFIG", write_yaml(""), 1);
	assert_int_equal(load(NULL, &c, &d), 0);
	expect_field(&c, "kubeletDir", "/var/lib/kubelet");
	run_config_release(&c);
	setenv("SECCOMP_SYNCD_CONFIG", write_yaml("# nothing\nkubeletDir: ~\nlabelSelector:\n"), 1);
	assert_int_equal(load(NULL, &c, &d), 0);
	expect_field(&c, "kubeletDir", "/var/lib/kubelet");
	expect_field(&c, "labelSelector", "-");
	run_config_release(&c);
	clear_env();
}

struct bad {
	const char *args[4];
	const char *env, *env_value;
	const char *yaml;
	const char *want; /* in the message */
};

static const struct bad bads[] = {
	{ { "--bogus" }, NULL, NULL, NULL, "unknown flag '--bogus'" },
	{ { "stray" }, NULL, NULL, NULL, "unexpected argument 'stray'" },
	{ { "-x" }, NULL, NULL, NULL, "unexpected argument '-x'" },
	{ { "--kubelet-dir" }, NULL, NULL, NULL, "'--kubelet-dir' needs a value" },
	{ { "--kubelet-dir", "relative" }, NULL, NULL, NULL, "not an absolute path" },
	{ { "--kubelet-dir=" }, NULL, NULL, NULL, "empty path" },
	{ { "--namespace", "Bad_NS" }, NULL, NULL, NULL, "for --namespace" },
	{ { "--node-name", "-node" }, NULL, NULL, NULL, "not a DNS subdomain" },
	{ { "--annotation", "a/b/c" }, NULL, NULL, NULL, "annotation" },
	{ { "--annotation", "UPPER.io/x" }, NULL, NULL, NULL, "bad annotation prefix" },
	{ { "--listen", "9120" }, NULL, NULL, NULL, "expected [HOST]:PORT" },
	{ { "--listen", ":99999" }, NULL, NULL, NULL, "0-65535" },
	{ { "--listen", "::1:80" }, NULL, NULL, NULL, "brackets" },
	{ { "--listen", "[zz]:80" }, NULL, NULL, NULL, "bad IPv6" },
	{ { "--log-format", "xml" }, NULL, NULL, NULL, "expected text or json" },
	{ { "--log-level", "loud" }, NULL, NULL, NULL, "expected error, warn, info or debug" },
	{ { "--arch", "vax" }, NULL, NULL, NULL, "unknown architecture" },
	{ { "--events-per-minute", "0" }, NULL, NULL, NULL, "1 to 10000" },
	{ { "--events-per-minute", "12x" }, NULL, NULL, NULL, "1 to 10000" },
	{ { "--once=maybe" }, NULL, NULL, NULL, "expected true or false" },
	{ { "--once", "false" }, NULL, NULL, NULL, "unexpected argument 'false'" },
	{ { "--label-selector", "a=\001" }, NULL, NULL, NULL, "control" },
	{ { NULL },
	  "SECCOMP_SYNCD_LOG_LEVEL",
	  "chatty",
	  NULL,
	  "environment variable SECCOMP_SYNCD_LOG_LEVEL" },
	{ { NULL }, "SECCOMP_SYNCD_NAMESPACE", "a,,b", NULL, "empty or over-long namespace" },
	{ { NULL }, "SECCOMP_SYNCD_ONCE", "2", NULL, "SECCOMP_SYNCD_ONCE" },
	{ { NULL },
	  "SECCOMP_SYNCD_CONFIG",
	  "/nonexistent/x.yaml",
	  NULL,
	  "cannot open config file" },
	{ { NULL }, NULL, NULL, "kubeletDir: /x\nkubeletdir: /y\n", "unknown key 'kubeletdir'" },
	{ { NULL }, NULL, NULL, "kubelet-dir: /x\n", "unknown key 'kubelet-dir'" },
	{ { NULL }, NULL, NULL, "listen: :1\nlisten: :2\n", "key 'listen' repeated" },
	{ { NULL }, NULL, NULL, "kubeletDir:\n  a: b\n", "not a mapping" },
	{ { NULL }, NULL, NULL, "kubeletDir: [a, b]\n", "not a list" },
	{ { NULL }, NULL, NULL, "- a\n- b\n", "not a mapping of keys" },
	{ { NULL }, NULL, NULL, "just text\n", "not a mapping of keys" },
	{ { NULL }, NULL, NULL, "a: &x /y\nkubeletDir: *x\n", "unknown key 'a'" },
	{ { NULL }, NULL, NULL, "kubeletDir: &x /y\nkubeconfig: *x\n", "aliases" },
	{ { NULL }, NULL, NULL, "kubeletDir: /a\n---\nkubeletDir: /b\n", "several documents" },
	{ { NULL }, NULL, NULL, "kubeletDir: [\n", "line" },
	{ { NULL }, NULL, NULL, "logLevel: verbose\n", "config file key 'logLevel'" },
	{ { NULL }, NULL, NULL, "namespace: [ok, Not_OK]\n", "config file key 'namespace'" },
	{ { NULL }, NULL, NULL, "once: perhaps\n", "expected true or false" },
	{ { "--config", "/nonexistent.yaml" }, NULL, NULL, NULL, "cannot open config file" },
};

static void test_bad(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		const struct bad *b = &bads[i];
		struct run_config c;
		struct diag d;
		int r;

		clear_env();
		if (b->env)
			setenv(b->env, b->env_value, 1);
		if (b->yaml)
			setenv("SECCOMP_SYNCD_CONFIG", write_yaml(b->yaml), 1);
		r = load(b->args[0] ? b->args : NULL, &c, &d);
		if (r >= 0 || !strstr(d.msg, b->want))
			fail_msg("case %zu: r=%d msg '%s', want '%s'", i, r, d.msg, b->want);
		/* Nothing is handed out on failure. */
		assert_null(c.kubelet_dir);
		assert_null(c.namespaces);
	}
	clear_env();
}

static void test_file_limits(void **state)
{
	struct run_config c;
	struct diag d;
	char *big;
	const char *args[3] = { "--config", NULL, NULL };

	(void)state;
	clear_env();
	big = malloc(RUN_CONFIG_FILE_MAX + 10);
	assert_non_null(big);
	memset(big, '#', RUN_CONFIG_FILE_MAX + 8);
	big[RUN_CONFIG_FILE_MAX + 8] = '\n';
	big[RUN_CONFIG_FILE_MAX + 9] = '\0';
	args[1] = write_yaml(big);
	free(big);
	assert_int_equal(load(args, &c, &d), -EFBIG);
	assert_non_null(strstr(d.msg, "over"));
	args[1] = tmpdir;
	assert_true(load(args, &c, &d) < 0);
	assert_non_null(strstr(d.msg, "not a regular file"));

	/* More namespaces than allowed. */
	{
		char list[RUN_CONFIG_MAX_NS * 8] = "";
		size_t i, at = 0;

		for (i = 0; i <= RUN_CONFIG_MAX_NS; i++)
			at += (size_t)snprintf(list + at, sizeof(list) - at, "%sn%zu", i ? "," : "",
					       i);
		setenv("SECCOMP_SYNCD_NAMESPACE", list, 1);
		assert_int_equal(load(NULL, &c, &d), -EINVAL);
		assert_non_null(strstr(d.msg, "more than"));
	}
	clear_env();
}

/* --config beats SECCOMP_SYNCD_CONFIG: the flag's file is read, the variable's is not. */
static void test_config_path(void **state)
{
	char other[128], flag[160];
	const char *args[2] = { flag, NULL };
	struct run_config c;
	struct diag d;
	FILE *f;

	(void)state;
	clear_env();
	snprintf(other, sizeof(other), "%s/other.yaml", tmpdir);
	f = fopen(other, "w");
	assert_non_null(f);
	fputs("kubeletDir: /from-flag-file\n", f);
	assert_int_equal(fclose(f), 0);
	setenv("SECCOMP_SYNCD_CONFIG", write_yaml("kubeletDir: /from-env-file\n"), 1);
	assert_int_equal(load(NULL, &c, &d), 0);
	expect_field(&c, "kubeletDir", "/from-env-file");
	run_config_release(&c);
	snprintf(flag, sizeof(flag), "--config=%s", other);
	assert_int_equal(load(args, &c, &d), 0);
	expect_field(&c, "kubeletDir", "/from-flag-file");
	assert_string_equal(c.config_file, other);
	run_config_release(&c);
	assert_int_equal(unlink(other), 0);
	clear_env();
}

static void test_help(void **state)
{
	static const char *const help[] = { "--kubelet-dir", "/x", "--help", NULL };
	struct run_config c;
	struct diag d;
	char *text = NULL;
	size_t len = 0, i;
	FILE *f;

	(void)state;
	clear_env();
	assert_int_equal(load(help, &c, &d), RUN_CONFIG_HELP);
	assert_null(c.kubelet_dir);
	f = open_memstream(&text, &len);
	assert_non_null(f);
	run_config_usage(f);
	assert_int_equal(fclose(f), 0);
	for (i = 0; i < sizeof(precs) / sizeof(precs[0]); i++) {
		char flag[64];

		snprintf(flag, sizeof(flag), "--%s", precs[i].flag);
		assert_non_null(strstr(text, flag));
		assert_non_null(strstr(text, precs[i].env));
		assert_non_null(strstr(text, precs[i].yaml));
	}
	assert_non_null(strstr(text, "--config"));
	assert_non_null(strstr(text, "NODE_NAME"));
	free(text);
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_daemon_config.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char path[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/config.yaml", tmpdir);
	(void)unlink(path);
	return rmdir(tmpdir);
}

int main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_namespaces),  cmocka_unit_test(test_bad),
		cmocka_unit_test(test_file_limits), cmocka_unit_test(test_config_path),
		cmocka_unit_test(test_help),
	};
	enum {
		N_PREC = sizeof(precs) / sizeof(precs[0]),
		N_FIXED = sizeof(fixed) / sizeof(fixed[0])
	};
	struct CMUnitTest tests[N_PREC + N_FIXED];
	static char names[N_PREC][64];
	size_t i;

	for (i = 0; i < N_PREC; i++) {
		memset(&tests[i], 0, sizeof(tests[i]));
		snprintf(names[i], sizeof(names[i]), "precedence --%s", precs[i].flag);
		tests[i].name = names[i];
		tests[i].test_func = test_precedence;
		tests[i].initial_state = (void *)&precs[i];
	}
	for (i = 0; i < N_FIXED; i++)
		tests[N_PREC + i] = fixed[i];
	return _cmocka_run_group_tests("daemon_config", tests, N_PREC + N_FIXED, setup, teardown);
}
