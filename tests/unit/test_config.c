/* SPDX-License-Identifier: Apache-2.0 */
/* k8s/config: kubeconfig parsing and merging, and the in-cluster configuration. */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "k8s/config.h"

#define SECRET "s3cr3t-t0ken-value"

/* base64 of "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n" */
#define CA_B64 "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkNBCi0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K"
#define CA_PEM "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n"

struct want {
	const char *server, *ca_file, *ca_pem, *cert_file, *cert_pem, *key_file, *key_pem, *token,
		*token_file, *ns;
	bool insecure;
};

struct parse_case {
	const char *name;
	const char *yaml;
	const char *context;
	int r;
	const char *diag; /* a substring of the message when r < 0 */
	struct want w;
};

#define HEAD "apiVersion: v1\nkind: Config\npreferences: {}\n"

static const struct parse_case parse_cases[] = {
	{ "every file field, relative and absolute paths",
	  HEAD "clusters:\n"
	       "- name: prod\n"
	       "  cluster:\n"
	       "    server: https://api.example.com:6443/\n"
	       "    certificate-authority: certs/ca.crt\n"
	       "    insecure-skip-tls-verify: false\n"
	       "users:\n"
	       "- name: admin\n"
	       "  user:\n"
	       "    client-certificate: admin.crt\n"
	       "    client-key: /etc/keys/admin.key\n"
	       "    token: " SECRET "\n"
	       "contexts:\n"
	       "- name: main\n"
	       "  context:\n"
	       "    cluster: prod\n"
	       "    user: admin\n"
	       "    namespace: team-a\n"
	       "current-context: main\n",
	  NULL,
	  0,
	  NULL,
	  { .server = "https://api.example.com:6443",
	    .ca_file = "/base/certs/ca.crt",
	    .cert_file = "/base/admin.crt",
	    .key_file = "/etc/keys/admin.key",
	    .token = SECRET,
	    .ns = "team-a" } },
	{ "-data forms are decoded and win over files",
	  "clusters:\n- name: c\n  cluster:\n    server: https://10.0.0.1\n"
	  "    certificate-authority: ignored.crt\n"
	  "    certificate-authority-data: " CA_B64 "\n"
	  "users:\n- name: u\n  user:\n    client-certificate-data: " CA_B64 "\n"
	  "    client-key-data: " CA_B64 "\n"
	  "contexts:\n- name: x\n  context: {cluster: c, user: u}\n"
	  "current-context: x\n",
	  NULL,
	  0,
	  NULL,
	  { .server = "https://10.0.0.1",
	    .ca_pem = CA_PEM,
	    .cert_pem = CA_PEM,
	    .key_pem = CA_PEM } },
	{ "insecure-skip-tls-verify, no user, flow style",
	  "{clusters: [{name: c, cluster: {server: 'http://127.0.0.1:8080', "
	  "insecure-skip-tls-verify: true}}], contexts: [{name: x, context: {cluster: c}}], "
	  "current-context: x}",
	  NULL,
	  0,
	  NULL,
	  { .server = "http://127.0.0.1:8080", .insecure = true } },
	{ "an explicit context beats current-context",
	  "clusters:\n- name: a\n  cluster: {server: https://a}\n- name: b\n  cluster: {server: "
	  "https://b}\ncontexts:\n- name: ca\n  context: {cluster: a, namespace: na}\n- name: cb\n"
	  "  context: {cluster: b, namespace: nb}\ncurrent-context: ca\n",
	  "cb",
	  0,
	  NULL,
	  { .server = "https://b", .ns = "nb" } },
	{ "null values are absent",
	  "clusters:\n- name: c\n  cluster:\n    server: https://c\n    certificate-authority: ~\n"
	  "users:\n- name: u\n  user:\n    token: null\ncontexts:\n- name: x\n  context:\n"
	  "    cluster: c\n    user: u\n    namespace:\ncurrent-context: x\n",
	  NULL,
	  0,
	  NULL,
	  { .server = "https://c" } },
	{ "unknown context",
	  "contexts: []\ncurrent-context: nope\n",
	  NULL,
	  -EINVAL,
	  "context 'nope' is not in the kubeconfig",
	  { 0 } },
	{ "no current-context", "clusters: []\n", NULL, -EINVAL, "sets no current-context", { 0 } },
	{ "empty file", "", NULL, -EINVAL, "sets no current-context", { 0 } },
	{ "context names a missing cluster",
	  "contexts:\n- name: x\n  context: {cluster: gone}\ncurrent-context: x\n",
	  NULL,
	  -EINVAL,
	  "cluster 'gone' of context 'x' is not in the kubeconfig",
	  { 0 } },
	{ "context names a missing user",
	  "clusters:\n- name: c\n  cluster: {server: https://c}\ncontexts:\n- name: x\n"
	  "  context: {cluster: c, user: who}\ncurrent-context: x\n",
	  NULL,
	  -EINVAL,
	  "user 'who' of context 'x' is not in the kubeconfig",
	  { 0 } },
	{ "cluster without a server",
	  "clusters:\n- name: c\n  cluster: {}\ncontexts:\n- name: x\n  context: {cluster: c}\n"
	  "current-context: x\n",
	  NULL,
	  -EINVAL,
	  "cluster 'c' has no server",
	  { 0 } },
	{ "server that is not a URL",
	  "clusters:\n- name: c\n  cluster: {server: 'api:6443'}\ncontexts:\n- name: x\n"
	  "  context: {cluster: c}\ncurrent-context: x\n",
	  NULL,
	  -EINVAL,
	  "is not an http(s) URL",
	  { 0 } },
	/* Found by fuzz_kubeconfig: a server of "https://" became "https:" once its
	 * trailing slashes were stripped, and the parse succeeded. */
	{ "server with a scheme and no host",
	  "clusters:\n- name: c\n  cluster: {server: 'https://'}\ncontexts:\n- name: x\n"
	  "  context: {cluster: c}\ncurrent-context: x\n",
	  NULL,
	  -EINVAL,
	  "names no host",
	  { 0 } },
	{ "server with an empty host and a path",
	  "clusters:\n- name: c\n  cluster: {server: 'http:///api'}\ncontexts:\n- name: x\n"
	  "  context: {cluster: c}\ncurrent-context: x\n",
	  NULL,
	  -EINVAL,
	  "names no host",
	  { 0 } },
	{ "CA and insecure together",
	  "clusters:\n- name: c\n  cluster: {server: https://c, certificate-authority: ca, "
	  "insecure-skip-tls-verify: true}\ncontexts:\n- name: x\n  context: {cluster: c}\n"
	  "current-context: x\n",
	  NULL,
	  -EINVAL,
	  "both a certificate authority and insecure-skip-tls-verify",
	  { 0 } },
	{ "insecure that is not a boolean",
	  "clusters:\n- name: c\n  cluster: {server: https://c, insecure-skip-tls-verify: 'true'}\n"
	  "contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n",
	  NULL,
	  -EINVAL,
	  "'insecure-skip-tls-verify' at line 3 is not true or false",
	  { 0 } },
	{ "exec plugin refused",
	  "clusters:\n- name: c\n  cluster: {server: https://c}\nusers:\n- name: eks\n  user:\n"
	  "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n"
	  "      command: aws\ncontexts:\n- name: x\n  context: {cluster: c, user: eks}\n"
	  "current-context: x\n",
	  NULL,
	  -ENOTSUP,
	  "user 'eks' uses an exec credential plugin, which seccomp-syncd does not support: give "
	  "it "
	  "a token, tokenFile or client certificate, or run in-cluster",
	  { 0 } },
	{ "auth-provider refused",
	  "clusters:\n- name: c\n  cluster: {server: https://c}\nusers:\n- name: gke\n  user:\n"
	  "    auth-provider:\n      name: gcp\ncontexts:\n- name: x\n"
	  "  context: {cluster: c, user: gke}\ncurrent-context: x\n",
	  NULL,
	  -ENOTSUP,
	  "user 'gke' uses an auth-provider plugin",
	  { 0 } },
	{ "basic auth refused",
	  "clusters:\n- name: c\n  cluster: {server: https://c}\nusers:\n- name: b\n  user:\n"
	  "    username: admin\n    password: " SECRET "\ncontexts:\n- name: x\n"
	  "  context: {cluster: c, user: b}\ncurrent-context: x\n",
	  NULL,
	  -ENOTSUP,
	  "uses basic authentication",
	  { 0 } },
	{ "certificate without key",
	  "clusters:\n- name: c\n  cluster: {server: https://c}\nusers:\n- name: u\n  user:\n"
	  "    client-certificate: a.crt\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
	  "current-context: x\n",
	  NULL,
	  -EINVAL,
	  "needs both a client certificate and a client key",
	  { 0 } },
	{ "bad base64 data",
	  "clusters:\n- name: c\n  cluster: {server: https://c, certificate-authority-data: "
	  "'a*b'}\n"
	  "contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n",
	  NULL,
	  -EINVAL,
	  "'certificate-authority-data' is not base64-encoded PEM",
	  { 0 } },
	{ "token with a line break",
	  "clusters:\n- name: c\n  cluster: {server: https://c}\nusers:\n- name: u\n  user:\n"
	  "    token: \"" SECRET "\\nX-Injected: 1\"\ncontexts:\n- name: x\n"
	  "  context: {cluster: c, user: u}\ncurrent-context: x\n",
	  NULL,
	  -EINVAL,
	  "the token of user 'u' contains control characters",
	  { 0 } },
	{ "malformed YAML",
	  "clusters:\n- name: c\n  cluster: [server: x\n",
	  NULL,
	  -EINVAL,
	  "is not valid YAML",
	  { 0 } },
	{ "aliases refused",
	  "clusters:\n- name: c\n  cluster: &c {server: https://c}\n- name: d\n  cluster: *c\n"
	  "current-context: x\n",
	  NULL,
	  -EINVAL,
	  "uses a YAML alias at line 5: aliases are not allowed",
	  { 0 } },
	{ "too deep",
	  "a: "
	  "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]"
	  "]"
	  "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
	  NULL,
	  -EINVAL,
	  "nests deeper than 32",
	  { 0 } },
	{ "not a map", "- a\n- b\n", NULL, -EINVAL, "is not a map", { 0 } },
	{ "clusters not a list",
	  "clusters: {a: b}\ncontexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n",
	  NULL,
	  -EINVAL,
	  "'clusters' at line 1 is not a list",
	  { 0 } },
	{ "contexts not a list",
	  "contexts: 7\ncurrent-context: x\n",
	  NULL,
	  -EINVAL,
	  "'contexts' at line 1 is not a list",
	  { 0 } },
	{ "entry that is not a map",
	  "contexts: [x]\ncurrent-context: x\n",
	  NULL,
	  -EINVAL,
	  "entry of 'contexts' at line 1 is not a map",
	  { 0 } },
	{ "server of the wrong type",
	  "clusters:\n- name: c\n  cluster: {server: [a]}\ncontexts:\n- name: x\n"
	  "  context: {cluster: c}\ncurrent-context: x\n",
	  NULL,
	  -EINVAL,
	  "'server' at line 3 is not a string",
	  { 0 } },
	{ "key that is not a string",
	  "? [a]\n: b\n",
	  NULL,
	  -EINVAL,
	  "key that is not a string",
	  { 0 } },
	{ "NUL in a value", "current-context: \"a\\0b\"\n", NULL, -EINVAL, "NUL byte", { 0 } },
};

static void check_str(const char *what, const char *got, const char *want)
{
	if (!want) {
		if (got)
			fprintf(stderr, "%s: unexpected '%s'\n", what, got);
		assert_null(got);
		return;
	}
	if (!got)
		fprintf(stderr, "%s: missing, want '%s'\n", what, want);
	assert_non_null(got);
	assert_string_equal(got, want);
}

static void check_config(const struct k8s_config *c, const struct want *w)
{
	check_str("server", c->server, w->server);
	check_str("ca_file", c->ca_file, w->ca_file);
	check_str("ca_pem", c->ca_pem, w->ca_pem);
	check_str("cert_file", c->cert_file, w->cert_file);
	check_str("cert_pem", c->cert_pem, w->cert_pem);
	check_str("key_file", c->key_file, w->key_file);
	check_str("key_pem", c->key_pem, w->key_pem);
	check_str("token", c->token, w->token);
	check_str("token_file", c->token_file, w->token_file);
	check_str("namespace", c->namespace, w->ns);
	assert_int_equal(c->insecure_skip_tls_verify, w->insecure);
}

static void test_parse_cases(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *pc = &parse_cases[i];
		struct k8s_config *c = NULL;
		struct diag d = { "" };
		int r;

		r = k8s_config_parse_buffer(pc->yaml, strlen(pc->yaml), "/base", pc->context, &c,
					    &d);
		if (r != pc->r || (pc->diag && !strstr(d.msg, pc->diag)))
			fprintf(stderr, "case '%s': r=%d diag '%s'\n", pc->name, r, d.msg);
		assert_int_equal(r, pc->r);
		assert_null(strstr(d.msg, SECRET));
		if (r < 0) {
			assert_null(c);
			assert_non_null(strstr(d.msg, pc->diag));
			continue;
		}
		assert_non_null(c);
		check_config(c, &pc->w);
		k8s_config_free(c);
	}
}

static void test_too_large(void **state)
{
	size_t len = K8S_CONFIG_MAX_FILE + 1;
	char *big = malloc(len);
	struct k8s_config *c = NULL;
	struct diag d = { "" };

	(void)state;
	assert_non_null(big);
	memset(big, '#', len);
	assert_int_equal(k8s_config_parse_buffer(big, len, "/", NULL, &c, &d), -E2BIG);
	assert_null(c);
	free(big);
}

/* ---- files on disk ---- */

static char tmpdir[64];

static void write_file(const char *rel, const char *text)
{
	char path[256];
	FILE *f;

	(void)snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	f = fopen(path, "we");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static void make_dir(const char *rel)
{
	char path[256];

	(void)snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	assert_int_equal(mkdir(path, 0700), 0);
}

static const char *in_tmp(char *buf, size_t cap, const char *rel)
{
	(void)snprintf(buf, cap, "%s/%s", tmpdir, rel);
	return buf;
}

static int setup_tmp(void **state)
{
	(void)state;
	(void)snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_config.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown_tmp(void **state)
{
	(void)state;
	return nftw(tmpdir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void test_token_file(void **state)
{
	static const char yaml[] = "clusters:\n- name: c\n  cluster: {server: https://c}\n"
				   "users:\n- name: u\n  user: {token: static, tokenFile: tok}\n"
				   "contexts:\n- name: x\n  context: {cluster: c, user: u}\n"
				   "current-context: x\n";
	struct k8s_config *c = NULL;
	struct diag d = { "" };
	char want[256];

	(void)state;
	make_dir("tf");
	write_file("tf/tok", "  " SECRET "\n\n");
	(void)snprintf(want, sizeof(want), "%s/tf", tmpdir);
	assert_int_equal(k8s_config_parse_buffer(yaml, sizeof(yaml) - 1, want, NULL, &c, &d), 0);
	assert_string_equal(c->token, SECRET);
	(void)snprintf(want, sizeof(want), "%s/tf/tok", tmpdir);
	assert_string_equal(c->token_file, want);
	k8s_config_free(c);
	c = NULL;

	/* an unreadable token file fails early, without the token in the message */
	(void)snprintf(want, sizeof(want), "%s/nowhere", tmpdir);
	assert_int_equal(k8s_config_parse_buffer(yaml, sizeof(yaml) - 1, want, NULL, &c, &d),
			 -ENOENT);
	assert_null(c);
	assert_non_null(strstr(d.msg, "cannot read the token"));

	write_file("tf/tok", " \n");
	(void)snprintf(want, sizeof(want), "%s/tf", tmpdir);
	assert_int_equal(k8s_config_parse_buffer(yaml, sizeof(yaml) - 1, want, NULL, &c, &d),
			 -EINVAL);
	assert_non_null(strstr(d.msg, "is empty"));
	write_file("tf/tok", SECRET "\x01rest\n");
	assert_int_equal(k8s_config_parse_buffer(yaml, sizeof(yaml) - 1, want, NULL, &c, &d),
			 -EINVAL);
	assert_non_null(strstr(d.msg, "control characters"));
	assert_null(strstr(d.msg, SECRET));
}

/*
 * Two files: the first defines cluster "shared" and no current-context; the
 * second redefines "shared" (ignored), sets current-context and holds the user,
 * whose relative paths resolve against the second file's directory.
 */
static void test_merge(void **state)
{
	struct k8s_config *c = NULL;
	struct diag d = { "" };
	char list[1024], a[200], b[200], missing[200], want[256];

	(void)state;
	make_dir("one");
	make_dir("two");
	write_file("one/config",
		   "clusters:\n- name: shared\n  cluster:\n    server: https://first\n"
		   "    certificate-authority: ca-one.crt\n"
		   "contexts:\n- name: main\n  context: {cluster: shared, user: me, "
		   "namespace: first-ns}\n");
	write_file("two/config",
		   "clusters:\n- name: shared\n  cluster: {server: https://second}\n"
		   "users:\n- name: me\n  user: {client-certificate: me.crt, client-key: "
		   "me.key}\n"
		   "contexts:\n- name: main\n  context: {cluster: other}\n"
		   "current-context: main\n");
	(void)snprintf(list, sizeof(list), "%s:%s::%s", in_tmp(missing, sizeof(missing), "no/such"),
		       in_tmp(a, sizeof(a), "one/config"), in_tmp(b, sizeof(b), "two/config"));
	assert_int_equal(k8s_config_load(list, NULL, &c, &d), 0);
	assert_string_equal(c->server, "https://first");
	assert_string_equal(c->ca_file, in_tmp(want, sizeof(want), "one/ca-one.crt"));
	assert_string_equal(c->cert_file, in_tmp(want, sizeof(want), "two/me.crt"));
	assert_string_equal(c->key_file, in_tmp(want, sizeof(want), "two/me.key"));
	assert_string_equal(c->namespace, "first-ns");
	k8s_config_free(c);
	c = NULL;

	/* the same through $KUBECONFIG */
	assert_int_equal(unsetenv("KUBERNETES_SERVICE_HOST"), 0);
	assert_int_equal(setenv("KUBECONFIG", list, 1), 0);
	assert_int_equal(k8s_config_load(NULL, NULL, &c, &d), 0);
	assert_string_equal(c->server, "https://first");
	k8s_config_free(c);
	c = NULL;
	assert_int_equal(unsetenv("KUBECONFIG"), 0);

	/* a single path must exist; a list of only missing files fails too */
	assert_int_equal(k8s_config_load(missing, NULL, &c, &d), -ENOENT);
	assert_non_null(strstr(d.msg, "cannot read kubeconfig"));
	(void)snprintf(list, sizeof(list), "%s:%s", missing, missing);
	assert_int_equal(k8s_config_load(list, NULL, &c, &d), -ENOENT);
	assert_non_null(strstr(d.msg, "none of the kubeconfig files"));
	assert_null(c);
}

static void test_home_default(void **state)
{
	const char *old = getenv("HOME");
	char *saved = old ? strdup(old) : NULL;
	struct k8s_config *c = NULL;
	struct diag d = { "" };

	(void)state;
	make_dir("home");
	make_dir("home/.kube");
	write_file("home/.kube/config", "clusters:\n- name: c\n  cluster: {server: https://home}\n"
					"contexts:\n- name: x\n  context: {cluster: c}\n"
					"current-context: x\n");
	assert_int_equal(unsetenv("KUBERNETES_SERVICE_HOST"), 0);
	assert_int_equal(unsetenv("KUBECONFIG"), 0);
	assert_int_equal(setenv("HOME", in_tmp((char[256]){ 0 }, 256, "home"), 1), 0);
	assert_int_equal(k8s_config_load(NULL, NULL, &c, &d), 0);
	assert_string_equal(c->server, "https://home");
	k8s_config_free(c);
	c = NULL;
	assert_int_equal(unsetenv("HOME"), 0);
	assert_int_equal(k8s_config_load(NULL, NULL, &c, &d), -ENOENT);
	if (saved)
		assert_int_equal(setenv("HOME", saved, 1), 0);
	free(saved);
}

static void test_file_limits(void **state)
{
	struct k8s_config *c = NULL;
	struct diag d = { "" };
	char path[256];
	FILE *f;
	size_t i;

	(void)state;
	in_tmp(path, sizeof(path), "big");
	f = fopen(path, "we");
	assert_non_null(f);
	for (i = 0; i <= K8S_CONFIG_MAX_FILE; i += 32)
		assert_true(fputs("# padding padding padding paddi\n", f) >= 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(k8s_config_load(path, NULL, &c, &d), -E2BIG);
	assert_non_null(strstr(d.msg, "larger than"));
	/* a directory is not a kubeconfig */
	assert_int_equal(k8s_config_load(tmpdir, NULL, &c, &d), -EINVAL);
	assert_null(c);
}

struct cluster_case {
	const char *name;
	const char *host, *port, *podns;
	const char *token;   /* NULL: no token file */
	const char *ns_file; /* NULL: no namespace file */
	bool ca;
	int r;
	const char *server; /* or a diag substring when r < 0 */
	const char *ns;
};

static const struct cluster_case cluster_cases[] = {
	{ "IPv4", "10.96.0.1", "443", NULL, SECRET "\n", "kube-system\n", true, 0,
	  "https://10.96.0.1:443", "kube-system" },
	{ "IPv6 gets brackets", "fd00:10:96::1", "443", NULL, SECRET, NULL, true, 0,
	  "https://[fd00:10:96::1]:443", NULL },
	{ "IPv6 already in brackets", "[fd00::1]", "6443", "from-env", SECRET, NULL, true, 0,
	  "https://[fd00::1]:6443", "from-env" },
	{ "namespace file beats POD_NAMESPACE", "kubernetes.default.svc", "443", "from-env", SECRET,
	  "from-file", true, 0, "https://kubernetes.default.svc:443", "from-file" },
	{ "host missing", NULL, "443", NULL, SECRET, NULL, true, -EINVAL,
	  "needs KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT", NULL },
	{ "port missing", "10.0.0.1", NULL, NULL, SECRET, NULL, true, -EINVAL,
	  "needs KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT", NULL },
	{ "port not a number", "10.0.0.1", "https", NULL, SECRET, NULL, true, -EINVAL,
	  "is not a port number", NULL },
	{ "port out of range", "10.0.0.1", "70000", NULL, SECRET, NULL, true, -EINVAL,
	  "is not a port number", NULL },
	{ "host with a path", "evil.example/x?", "443", NULL, SECRET, NULL, true, -EINVAL,
	  "is not a host name or address", NULL },
	{ "token missing", "10.0.0.1", "443", NULL, NULL, NULL, true, -ENOENT,
	  "cannot read the token", NULL },
	{ "token empty", "10.0.0.1", "443", NULL, "\n", NULL, true, -EINVAL, "is empty", NULL },
	{ "CA missing", "10.0.0.1", "443", NULL, SECRET, NULL, false, -ENOENT,
	  "cannot read the service account CA", NULL },
};

static void set_or_unset(const char *name, const char *value)
{
	if (value)
		assert_int_equal(setenv(name, value, 1), 0);
	else
		assert_int_equal(unsetenv(name), 0);
}

static void test_in_cluster(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cluster_cases) / sizeof(cluster_cases[0]); i++) {
		const struct cluster_case *cc = &cluster_cases[i];
		struct k8s_config *c = NULL;
		struct diag d = { "" };
		char dir[200], rel[32], path[256];
		int r;

		(void)snprintf(rel, sizeof(rel), "sa%zu", i);
		make_dir(rel);
		in_tmp(dir, sizeof(dir), rel);
		if (cc->token) {
			(void)snprintf(path, sizeof(path), "%s/token", rel);
			write_file(path, cc->token);
		}
		if (cc->ns_file) {
			(void)snprintf(path, sizeof(path), "%s/namespace", rel);
			write_file(path, cc->ns_file);
		}
		if (cc->ca) {
			(void)snprintf(path, sizeof(path), "%s/ca.crt", rel);
			write_file(path, CA_PEM);
		}
		set_or_unset("KUBERNETES_SERVICE_HOST", cc->host);
		set_or_unset("KUBERNETES_SERVICE_PORT", cc->port);
		set_or_unset("POD_NAMESPACE", cc->podns);
		r = k8s_config_in_cluster(dir, &c, &d);
		if (r != cc->r)
			fprintf(stderr, "case '%s': r=%d diag '%s'\n", cc->name, r, d.msg);
		assert_int_equal(r, cc->r);
		assert_null(strstr(d.msg, SECRET));
		if (r < 0) {
			assert_null(c);
			assert_non_null(strstr(d.msg, cc->server));
			continue;
		}
		assert_string_equal(c->server, cc->server);
		assert_string_equal(c->token, SECRET);
		(void)snprintf(path, sizeof(path), "%s/token", dir);
		assert_string_equal(c->token_file, path);
		(void)snprintf(path, sizeof(path), "%s/ca.crt", dir);
		assert_string_equal(c->ca_file, path);
		assert_null(c->ca_pem);
		check_str("namespace", c->namespace, cc->ns);
		k8s_config_free(c);
	}
	assert_int_equal(unsetenv("KUBERNETES_SERVICE_HOST"), 0);
	assert_int_equal(unsetenv("KUBERNETES_SERVICE_PORT"), 0);
	assert_int_equal(unsetenv("POD_NAMESPACE"), 0);
	k8s_config_free(NULL);
}

/* With KUBERNETES_SERVICE_HOST set and no path, load() means in-cluster. */
static void test_load_prefers_in_cluster(void **state)
{
	struct k8s_config *c = NULL;
	struct diag d = { "" };
	int r;

	(void)state;
	if (access(K8S_SA_DIR "/token", F_OK) == 0)
		skip(); /* really running in a pod */
	assert_int_equal(setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1), 0);
	assert_int_equal(setenv("KUBERNETES_SERVICE_PORT", "443", 1), 0);
	assert_int_equal(setenv("KUBECONFIG", "/nonexistent", 1), 0);
	r = k8s_config_load(NULL, NULL, &c, &d);
	assert_int_equal(r, -ENOENT);
	assert_non_null(strstr(d.msg, K8S_SA_DIR "/token"));
	assert_int_equal(unsetenv("KUBERNETES_SERVICE_HOST"), 0);
	assert_int_equal(unsetenv("KUBERNETES_SERVICE_PORT"), 0);
	assert_int_equal(unsetenv("KUBECONFIG"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_cases),  cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_token_file),   cmocka_unit_test(test_merge),
		cmocka_unit_test(test_home_default), cmocka_unit_test(test_file_limits),
		cmocka_unit_test(test_in_cluster),   cmocka_unit_test(test_load_prefers_in_cluster),
	};

	return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
