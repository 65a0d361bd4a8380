/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `run` configuration: one table of options, each with its flag, environment
 * variable and YAML key, applied in increasing precedence (default, file,
 * environment, flags), every value checked as it is applied so that the
 * message can say where the bad value came from.
 */
#include "daemon/config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "profilestore/profile.h"
#include "profilestore/store.h"

enum opt_kind {
	OPT_STR = 0,
	OPT_BOOL,
	OPT_LIST,
	OPT_UINT,
	OPT_LOG_FORMAT,
	OPT_LOG_LEVEL,
};

/* Where a value came from, in increasing precedence. */
enum src {
	SRC_DEFAULT = 0,
	SRC_FILE,
	SRC_ENV,
	SRC_FLAG,
};

struct opt {
	const char *flag; /* without the leading "--" */
	const char *env;
	const char *yaml; /* NULL: not settable from the file */
	enum opt_kind kind;
	size_t off; /* offset of the field in struct run_config */
	int (*check)(const char *v, struct diag *d);
	const char *arg; /* the value's name in --help, NULL for booleans */
	const char *help;
};

static int check_path(const char *v, struct diag *d)
{
	if (!*v)
		return diag_set(d, -EINVAL, "empty path");
	if (strlen(v) >= PATH_MAX - 512)
		return diag_set(d, -EINVAL, "path too long");
	return 0;
}

static int check_abs_path(const char *v, struct diag *d)
{
	int r = check_path(v, d);

	if (r < 0)
		return r;
	if (v[0] != '/')
		return diag_set(d, -EINVAL, "not an absolute path");
	return 0;
}

/* A DNS subdomain (RFC 1123): node names and annotation prefixes. */
static int check_subdomain(const char *v, struct diag *d)
{
	size_t n = strlen(v), i, label = 0;

	if (!n || n > 253)
		return diag_set(d, -EINVAL, "not a DNS subdomain (1-253 characters)");
	for (i = 0; i < n; i++) {
		char c = v[i];

		if (c == '.') {
			if (!label || v[i - 1] == '-')
				return diag_set(d, -EINVAL, "not a DNS subdomain");
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return diag_set(
				d, -EINVAL,
				"not a DNS subdomain (lower case letters, digits, '-', '.')");
		if (c == '-' && !label)
			return diag_set(d, -EINVAL, "not a DNS subdomain");
		if (++label > 63)
			return diag_set(d, -EINVAL,
					"not a DNS subdomain (label over 63 characters)");
	}
	if (v[n - 1] == '-' || v[n - 1] == '.')
		return diag_set(d, -EINVAL, "not a DNS subdomain");
	return 0;
}

static int check_namespace(const char *v, struct diag *d)
{
	struct diag why;

	if (store_check_name(v, NULL, NULL, &why) < 0)
		return diag_set(d, -EINVAL, "not a namespace name (a DNS label): %s", why.msg);
	return 0;
}

/* A qualified annotation key: [prefix/]name, name [A-Za-z0-9][-A-Za-z0-9_.]* up to 63. */
static int check_annotation(const char *v, struct diag *d)
{
	const char *slash = strchr(v, '/'), *name = slash ? slash + 1 : v;
	size_t n = strlen(name), i;

	if (slash) {
		char prefix[254];
		size_t plen = (size_t)(slash - v);

		if (!plen || plen >= sizeof(prefix))
			return diag_set(d, -EINVAL, "bad annotation prefix");
		memcpy(prefix, v, plen);
		prefix[plen] = '\0';
		if (check_subdomain(prefix, d) < 0)
			return diag_prefix(d, -EINVAL, "bad annotation prefix");
	}
	if (!n || n > 63)
		return diag_set(d, -EINVAL, "annotation name must be 1-63 characters");
	for (i = 0; i < n; i++) {
		char c = name[i];
		bool alnum =
			(c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

		if (!alnum && ((i == 0 || i == n - 1) || (c != '-' && c != '_' && c != '.')))
			return diag_set(d, -EINVAL,
					"not an annotation key ([prefix/]name, name of letters, "
					"digits, '-', '_', '.')");
	}
	return 0;
}

static int check_selector(const char *v, struct diag *d)
{
	size_t i, n = strlen(v);

	if (n > RUN_CONFIG_SELECTOR_MAX)
		return diag_set(d, -EINVAL, "label selector over %d characters",
				RUN_CONFIG_SELECTOR_MAX);
	for (i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7e)
			return diag_set(d, -EINVAL,
					"label selector holds a control or non-ASCII byte");
	return 0;
}

static int check_port(const char *p, struct diag *d)
{
	unsigned long port;
	char *end;

	if (!*p || strspn(p, "0123456789") != strlen(p))
		return diag_set(d, -EINVAL, "port must be a number");
	errno = 0;
	port = strtoul(p, &end, 10);
	if (errno || *end || port > 65535)
		return diag_set(d, -EINVAL, "port must be 0-65535");
	return 0;
}

/* "", "off", ":PORT", "HOST:PORT", "[V6]:PORT". */
static int check_listen(const char *v, struct diag *d)
{
	const char *colon;

	if (!*v || !strcmp(v, "off"))
		return 0;
	if (strlen(v) > 300)
		return diag_set(d, -EINVAL, "address too long");
	if (v[0] == '[') {
		const char *close = strchr(v, ']');

		if (!close || close == v + 1 || close[1] != ':')
			return diag_set(d, -EINVAL, "expected [ADDRESS]:PORT");
		if (strspn(v + 1, "0123456789abcdefABCDEF:.") != (size_t)(close - v - 1))
			return diag_set(d, -EINVAL, "bad IPv6 address");
		return check_port(close + 2, d);
	}
	colon = strrchr(v, ':');
	if (!colon)
		return diag_set(d, -EINVAL, "expected [HOST]:PORT, e.g. :9120 or 127.0.0.1:9120");
	if (memchr(v, ':', (size_t)(colon - v)))
		return diag_set(d, -EINVAL, "IPv6 addresses go in brackets: [::1]:9120");
	if (strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") !=
	    (size_t)(colon - v))
		return diag_set(d, -EINVAL, "bad host");
	return check_port(colon + 1, d);
}

static int check_arch(const char *v, struct diag *d)
{
	if (!profile_arch_normalize(v))
		return diag_set(d, -EINVAL,
				"unknown architecture (x86_64, amd64, aarch64, arm64, ppc64le, "
				"s390x, ...)");
	return 0;
}

static int check_context(const char *v, struct diag *d)
{
	if (!*v || strlen(v) > 253)
		return diag_set(d, -EINVAL, "context name must be 1-253 characters");
	return 0;
}

#define OFF(f) offsetof(struct run_config, f)

static const struct opt opts[] = {
	{ "config", "SECCOMP_SYNCD_CONFIG", NULL, OPT_STR, OFF(config_file), check_path, "FILE",
	  "YAML file with any of the keys below" },
	{ "kubeconfig", "SECCOMP_SYNCD_KUBECONFIG", "kubeconfig", OPT_STR, OFF(kubeconfig),
	  check_path, "FILE",
	  "kubeconfig (default: in-cluster service account, else $KUBECONFIG)" },
	{ "context", "SECCOMP_SYNCD_CONTEXT", "context", OPT_STR, OFF(context), check_context,
	  "NAME", "kubeconfig context (default: current-context)" },
	{ "kubelet-dir", "SECCOMP_SYNCD_KUBELET_DIR", "kubeletDir", OPT_STR, OFF(kubelet_dir),
	  check_abs_path, "DIR",
	  "kubelet directory; profiles go to DIR/seccomp/operator (default " RUN_CONFIG_DEFAULT_DIR
	  ")" },
	{ "node-name", "SECCOMP_SYNCD_NODE_NAME", "nodeName", OPT_STR, OFF(node_name),
	  check_subdomain, "NAME", "this node's name: Events, its pods (default $NODE_NAME)" },
	{ "namespace", "SECCOMP_SYNCD_NAMESPACE", "namespace", OPT_LIST, OFF(namespaces),
	  check_namespace, "NS",
	  "watch only this namespace; repeatable (env: comma-separated; YAML: a list); default "
	  "all" },
	{ "label-selector", "SECCOMP_SYNCD_LABEL_SELECTOR", "labelSelector", OPT_STR,
	  OFF(label_selector), check_selector, "SELECTOR",
	  "only ConfigMaps with these labels (sent to the API server)" },
	{ "annotation", "SECCOMP_SYNCD_ANNOTATION", "annotation", OPT_STR, OFF(annotation),
	  check_annotation, "KEY",
	  "marker annotation, value exactly \"true\" (default " RUN_CONFIG_DEFAULT_ANNOT ")" },
	{ "listen", "SECCOMP_SYNCD_LISTEN", "listen", OPT_STR, OFF(listen), check_listen, "ADDR",
	  "/healthz, /readyz, /metrics address, \"off\" for none "
	  "(default " RUN_CONFIG_DEFAULT_LISTEN "; not started with --once)" },
	{ "log-format", "SECCOMP_SYNCD_LOG_FORMAT", "logFormat", OPT_LOG_FORMAT, OFF(log_format),
	  NULL, "text|json", "log line format (default text)" },
	{ "log-level", "SECCOMP_SYNCD_LOG_LEVEL", "logLevel", OPT_LOG_LEVEL, OFF(log_level), NULL,
	  "LEVEL", "error, warn, info or debug (default info)" },
	{ "arch", "SECCOMP_SYNCD_ARCH", "arch", OPT_STR, OFF(arch), check_arch, "ARCH",
	  "validate for this architecture (default: this machine's)" },
	{ "events-per-minute", "SECCOMP_SYNCD_EVENTS_PER_MINUTE", "eventsPerMinute", OPT_UINT,
	  OFF(events_per_minute), NULL, "N",
	  "Kubernetes Events posted per minute at most (default 60)" },
	{ "once", "SECCOMP_SYNCD_ONCE", "once", OPT_BOOL, OFF(once), NULL, NULL,
	  "list, sync, exit: 0 ok, 1 invalid profile or failed write, 3 API unreachable" },
	{ "no-sandbox", "SECCOMP_SYNCD_NO_SANDBOX", "noSandbox", OPT_BOOL, OFF(no_sandbox), NULL,
	  NULL, "do not install the daemon's own seccomp filter" },
	{ "wait-lock", "SECCOMP_SYNCD_WAIT_LOCK", "waitLock", OPT_BOOL, OFF(wait_lock), NULL, NULL,
	  "wait for another instance's lock instead of exiting" },
};

#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

static const struct opt *opt_by_flag(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < N_OPTS; i++)
		if (strlen(opts[i].flag) == len && !memcmp(opts[i].flag, name, len))
			return &opts[i];
	return NULL;
}

static const struct opt *opt_by_yaml(const char *key)
{
	size_t i;

	for (i = 0; i < N_OPTS; i++)
		if (opts[i].yaml && !strcmp(opts[i].yaml, key))
			return &opts[i];
	return NULL;
}

static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "true", "1", "yes", "on" };
	static const char *const no[] = { "false", "0", "no", "off" };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcasecmp(v, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(v, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* The configuration being built, with the source of every field. */
struct builder {
	struct run_config *cfg;
	enum src src[N_OPTS];
};

static void source_name(const struct opt *o, enum src s, char *buf, size_t size)
{
	switch (s) {
	case SRC_FLAG:
		snprintf(buf, size, "--%s", o->flag);
		break;
	case SRC_ENV:
		snprintf(buf, size, "environment variable %s", o->env);
		break;
	case SRC_FILE:
		snprintf(buf, size, "config file key '%s'", o->yaml ? o->yaml : o->flag);
		break;
	case SRC_DEFAULT:
		snprintf(buf, size, "the default of --%s", o->flag);
		break;
	}
}

static int list_add(struct run_config *cfg, const char *v)
{
	char **list;
	size_t i;

	for (i = 0; i < cfg->n_namespaces; i++)
		if (!strcmp(cfg->namespaces[i], v))
			return 0;
	if (cfg->n_namespaces >= RUN_CONFIG_MAX_NS)
		return -E2BIG;
	list = realloc(cfg->namespaces, (cfg->n_namespaces + 2) * sizeof(*list));
	if (!list)
		return -ENOMEM;
	cfg->namespaces = list;
	list[cfg->n_namespaces] = strdup(v);
	if (!list[cfg->n_namespaces])
		return -ENOMEM;
	list[++cfg->n_namespaces] = NULL;
	return 0;
}

static void list_clear(struct run_config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->n_namespaces; i++)
		free(cfg->namespaces[i]);
	free(cfg->namespaces);
	cfg->namespaces = NULL;
	cfg->n_namespaces = 0;
}

/*
 * Set option @o to @v from source @s.  A source of lower precedence than the
 * one that already set the option is ignored; a list is replaced by the first
 * value of a higher source and extended by the next ones of the same source.
 */
static int apply(struct builder *b, const struct opt *o, const char *v, enum src s, struct diag *d)
{
	char *field = (char *)b->cfg + o->off;
	size_t idx = (size_t)(o - opts);
	char where[128];
	struct diag why;
	int r = 0;

	if (s < b->src[idx])
		return 0;
	source_name(o, s, where, sizeof(where));
	diag_clear(&why);
	switch (o->kind) {
	case OPT_STR: {
		char **str = (char **)(void *)field, *dup;

		if (o->check)
			r = o->check(v, &why);
		if (r < 0)
			break;
		dup = strdup(v);
		if (!dup)
			return diag_set(d, -ENOMEM, "out of memory");
		free(*str);
		*str = dup;
		break;
	}
	case OPT_BOOL:
		r = parse_bool(v, (bool *)(void *)field);
		if (r < 0)
			diag_set(&why, r, "expected true or false");
		break;
	case OPT_UINT: {
		unsigned long n;
		char *end;

		errno = 0;
		n = strtoul(v, &end, 10);
		if (!*v || *end || errno || strspn(v, "0123456789") != strlen(v) || n < 1 ||
		    n > 10000) {
			r = diag_set(&why, -EINVAL, "expected a number from 1 to 10000");
			break;
		}
		*(unsigned *)(void *)field = (unsigned)n;
		break;
	}
	case OPT_LOG_FORMAT:
		r = log_parse_format(v, (enum log_format *)(void *)field);
		if (r < 0)
			diag_set(&why, r, "expected text or json");
		break;
	case OPT_LOG_LEVEL:
		r = log_parse_level(v, (enum log_level *)(void *)field);
		if (r < 0)
			diag_set(&why, r, "expected error, warn, info or debug");
		break;
	case OPT_LIST:
		if (s > b->src[idx])
			list_clear(b->cfg);
		r = check_namespace(v, &why);
		if (r < 0)
			break;
		r = list_add(b->cfg, v);
		if (r == -E2BIG)
			diag_set(&why, r, "more than %d namespaces", RUN_CONFIG_MAX_NS);
		else if (r < 0)
			return diag_set(d, r, "out of memory");
		break;
	}
	if (r < 0)
		return diag_set(d, -EINVAL, "bad value '%.100s' for %s: %s", v, where, why.msg);
	b->src[idx] = s;
	return 0;
}

/* An environment list is comma-separated; empty items are an error. */
static int apply_env_list(struct builder *b, const struct opt *o, const char *v, struct diag *d)
{
	const char *p = v;
	int r;

	if (!*v)
		return diag_set(d, -EINVAL, "bad value '' for environment variable %s: empty list",
				o->env);
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		char item[STORE_NS_MAX + 2];

		if (!n || n > STORE_NS_MAX)
			return diag_set(d, -EINVAL,
					"bad value '%.100s' for environment variable %s: empty or "
					"over-long namespace in the list",
					v, o->env);
		memcpy(item, p, n);
		item[n] = '\0';
		r = apply(b, o, item, SRC_ENV, d);
		if (r < 0)
			return r;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

static int read_file(const char *path, char **out, size_t *len, struct diag *d)
{
	char *data = NULL;
	struct stat st;
	size_t got = 0;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return diag_set(d, -errno, "cannot open config file '%s': %s", path,
				strerror(errno));
	if (fstat(fd, &st) < 0) {
		r = diag_set(d, -errno, "cannot stat config file '%s': %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = diag_set(d, -EINVAL, "config file '%s' is not a regular file", path);
		goto out;
	}
	if (st.st_size > RUN_CONFIG_FILE_MAX) {
		r = diag_set(d, -EFBIG, "config file '%s' is over %d bytes", path,
			     RUN_CONFIG_FILE_MAX);
		goto out;
	}
	data = malloc(RUN_CONFIG_FILE_MAX + 1);
	if (!data) {
		r = diag_set(d, -ENOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, data + got, RUN_CONFIG_FILE_MAX + 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = diag_set(d, -errno, "cannot read config file '%s': %s", path,
				     strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > RUN_CONFIG_FILE_MAX) {
			r = diag_set(d, -EFBIG, "config file '%s' is over %d bytes", path,
				     RUN_CONFIG_FILE_MAX);
			goto out;
		}
	}
	data[got] = '\0';
	*out = data;
	*len = got;
	data = NULL;
	r = 0;
out:
	free(data);
	close(fd);
	return r;
}

/* A plain "~", "null" or empty scalar means "not set". */
static bool yaml_null(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;

	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

/*
 * The file is one mapping of option keys to scalars (a sequence of scalars for
 * namespace).  Anything else (unknown or repeated keys, nested mappings,
 * aliases, several documents) is refused rather than guessed at.
 */
static int load_yaml(struct builder *b, const char *path, struct diag *d)
{
	enum { TOP, KEY, VALUE, SEQ, DONE } where = TOP;
	const struct opt *cur = NULL;
	bool seen[N_OPTS] = { false };
	yaml_parser_t parser;
	yaml_event_t ev;
	char *data = NULL;
	size_t len = 0;
	int r, docs = 0;
	bool done = false;

	r = read_file(path, &data, &len, d);
	if (r < 0)
		return r;
	if (!yaml_parser_initialize(&parser)) {
		free(data);
		return diag_set(d, -ENOMEM, "out of memory");
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	r = 0;
	while (!done && r == 0) {
		if (!yaml_parser_parse(&parser, &ev)) {
			r = diag_set(d, -EINVAL, "config file '%s': line %zu: %s", path,
				     parser.problem_mark.line + 1,
				     parser.problem ? parser.problem : "malformed YAML");
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_START_EVENT:
		case YAML_DOCUMENT_END_EVENT:
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1)
				r = diag_set(d, -EINVAL, "config file '%s' holds several documents",
					     path);
			break;
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_MAPPING_START_EVENT:
			if (where != TOP)
				r = diag_set(
					d, -EINVAL,
					"config file '%s': line %zu: '%s' takes a plain value, "
					"not a mapping",
					path, ev.start_mark.line + 1, cur ? cur->yaml : "?");
			else
				where = KEY;
			break;
		case YAML_MAPPING_END_EVENT:
			where = DONE;
			break;
		case YAML_SEQUENCE_START_EVENT:
			if (where == VALUE && cur->kind == OPT_LIST)
				where = SEQ;
			else if (where == TOP)
				r = diag_set(d, -EINVAL,
					     "config file '%s' is not a mapping of keys", path);
			else
				r = diag_set(d, -EINVAL,
					     "config file '%s': line %zu: %s takes a single value, "
					     "not a list",
					     path, ev.start_mark.line + 1,
					     cur ? cur->yaml : "the document");
			break;
		case YAML_SEQUENCE_END_EVENT:
			where = KEY;
			break;
		case YAML_ALIAS_EVENT:
			r = diag_set(d, -EINVAL,
				     "config file '%s': line %zu: aliases are not supported", path,
				     ev.start_mark.line + 1);
			break;
		case YAML_SCALAR_EVENT: {
			const char *v = (const char *)ev.data.scalar.value;

			if (where == TOP) {
				if (!yaml_null(&ev))
					r = diag_set(d, -EINVAL,
						     "config file '%s' is not a mapping of keys",
						     path);
			} else if (where == KEY) {
				cur = opt_by_yaml(v);
				if (!cur) {
					r = diag_set(
						d, -EINVAL,
						"config file '%s': line %zu: unknown key '%.64s'",
						path, ev.start_mark.line + 1, v);
				} else if (seen[cur - opts]) {
					r = diag_set(
						d, -EINVAL,
						"config file '%s': line %zu: key '%s' repeated",
						path, ev.start_mark.line + 1, v);
				} else {
					seen[cur - opts] = true;
					where = VALUE;
				}
			} else if (where == VALUE) {
				if (!yaml_null(&ev))
					r = apply(b, cur, v, SRC_FILE, d);
				where = KEY;
			} else if (where == SEQ) {
				r = apply(b, cur, v, SRC_FILE, d);
			}
			break;
		}
		case YAML_NO_EVENT:
			done = true;
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	free(data);
	return r;
}

static int set_default(struct builder *b, const char *flag, const char *v, struct diag *d)
{
	return apply(b, opt_by_flag(flag, strlen(flag)), v, SRC_DEFAULT, d);
}

int run_config_load(int argc, char **argv, struct run_config *cfg, struct diag *d)
{
	struct run_config c = { 0 };
	struct builder b = { .cfg = &c };
	const char *config_file = NULL;
	size_t i;
	int r, a;

	memset(cfg, 0, sizeof(*cfg));
	c.log_format = LOG_FMT_TEXT;
	c.log_level = LOG_LVL_INFO;
	c.events_per_minute = 60;
	r = set_default(&b, "kubelet-dir", RUN_CONFIG_DEFAULT_DIR, d);
	if (r == 0)
		r = set_default(&b, "annotation", RUN_CONFIG_DEFAULT_ANNOT, d);
	if (r == 0)
		r = set_default(&b, "listen", RUN_CONFIG_DEFAULT_LISTEN, d);
	if (r < 0)
		goto out;

	/* First pass over the flags: syntax, --help and --config (the file comes first). */
	for (a = 1; a < argc; a++) {
		const char *arg = argv[a], *eq;
		const struct opt *o;

		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			r = RUN_CONFIG_HELP;
			goto out;
		}
		if (strncmp(arg, "--", 2) != 0 || !arg[2]) {
			r = diag_set(d, -EINVAL, "unexpected argument '%.100s'", arg);
			goto out;
		}
		eq = strchr(arg + 2, '=');
		o = opt_by_flag(arg + 2, eq ? (size_t)(eq - arg - 2) : strlen(arg + 2));
		if (!o) {
			r = diag_set(d, -EINVAL, "unknown flag '%.100s'", arg);
			goto out;
		}
		if (o->kind != OPT_BOOL && !eq) {
			if (a + 1 >= argc) {
				r = diag_set(d, -EINVAL, "flag '--%s' needs a value", o->flag);
				goto out;
			}
			a++;
		}
		if (!strcmp(o->flag, "config"))
			config_file = eq ? eq + 1 : argv[a];
	}
	if (!config_file) {
		config_file = getenv("SECCOMP_SYNCD_CONFIG");
		if (config_file && !*config_file)
			config_file = NULL;
	}
	if (config_file) {
		const struct opt *o = opt_by_flag("config", 6);

		r = apply(&b, o, config_file, SRC_FLAG, d);
		if (r == 0)
			r = load_yaml(&b, config_file, d);
		if (r < 0)
			goto out;
	}

	/* The environment; NODE_NAME (the downward API's usual name) below our own variable. */
	{
		const char *v = getenv("NODE_NAME");

		if (v && *v) {
			r = apply(&b, opt_by_flag("node-name", 9), v, SRC_ENV, d);
			if (r < 0)
				goto out;
		}
	}
	for (i = 0; i < N_OPTS; i++) {
		const char *v = getenv(opts[i].env);

		/* An empty variable is unset, as a manifest's `value: ""` means. */
		if (!v || !*v || !strcmp(opts[i].flag, "config"))
			continue;
		if (opts[i].kind == OPT_LIST)
			r = apply_env_list(&b, &opts[i], v, d);
		else
			r = apply(&b, &opts[i], v, SRC_ENV, d);
		if (r < 0)
			goto out;
	}

	/* The flags. */
	for (a = 1; a < argc; a++) {
		const char *arg = argv[a], *eq = strchr(arg + 2, '='), *v;
		const struct opt *o =
			opt_by_flag(arg + 2, eq ? (size_t)(eq - arg - 2) : strlen(arg + 2));

		if (eq)
			v = eq + 1;
		else if (o->kind == OPT_BOOL)
			v = "true";
		else
			v = argv[++a];
		if (!strcmp(o->flag, "config"))
			continue;
		r = apply(&b, o, v, SRC_FLAG, d);
		if (r < 0)
			goto out;
	}
	*cfg = c;
	memset(&c, 0, sizeof(c));
	r = 0;
out:
	run_config_release(&c);
	return r;
}

void run_config_release(struct run_config *cfg)
{
	list_clear(cfg);
	free(cfg->config_file);
	free(cfg->kubeconfig);
	free(cfg->context);
	free(cfg->kubelet_dir);
	free(cfg->node_name);
	free(cfg->label_selector);
	free(cfg->annotation);
	free(cfg->listen);
	free(cfg->arch);
	memset(cfg, 0, sizeof(*cfg));
}

void run_config_usage(FILE *f)
{
	size_t i;

	fputs("usage: seccomp-syncd run [FLAGS]\n\n"
	      "Sync the seccomp profiles of annotated ConfigMaps to\n"
	      "<kubelet-dir>/seccomp/operator/<namespace>/<configmap>/<key>.\n"
	      "Each flag also has an environment variable and a key in the --config file;\n"
	      "precedence: flag > environment > file > default.\n\n",
	      f);
	for (i = 0; i < N_OPTS; i++) {
		const struct opt *o = &opts[i];
		char left[64];

		snprintf(left, sizeof(left), "--%s%s%s", o->flag, o->arg ? " " : "",
			 o->arg ? o->arg : "");
		fprintf(f, "  %-28s %s\n", left, o->help);
		fprintf(f, "  %-28s env %s%s%s%s\n", "", o->env,
			!strcmp(o->flag, "node-name") ? " (or NODE_NAME)" : "",
			o->yaml ? ", YAML key " : "", o->yaml ? o->yaml : "");
	}
	fputs("  --help                       this text\n", f);
}
