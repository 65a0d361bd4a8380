/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Client configuration: the in-cluster service account, or kubeconfig files
 * read with libyaml.
 *
 * A kubeconfig is parsed from libyaml's events into a small tree (aliases are
 * refused, depth and size are bounded), then looked up the way client-go does:
 * with several files, the first file that defines a name wins and
 * current-context comes from the first file that sets it; relative paths are
 * relative to the directory of the file the entry came from.
 */
#include "k8s/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "common/buf.h"
#include "k8s/decode_base64.h"

/* Nodes in one kubeconfig: far more than any real one has. */
#define MAX_NODES 100000

enum ytype { Y_SCALAR, Y_MAP, Y_SEQ };

struct ynode {
	enum ytype type;
	char *s; /* scalars: the value, NUL-terminated */
	size_t len;
	bool plain;	     /* an unquoted scalar (so "null" and "true" mean something) */
	struct ynode **kids; /* maps: key, value, key, value, ... */
	size_t n, cap;
	size_t line;
};

static void ynode_free(struct ynode *y)
{
	size_t i;

	if (!y)
		return;
	for (i = 0; i < y->n; i++)
		ynode_free(y->kids[i]);
	free(y->kids);
	free(y->s);
	free(y);
}

static int ynode_add(struct ynode *parent, struct ynode *kid)
{
	if (parent->n == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 8;
		struct ynode **k = realloc(parent->kids, cap * sizeof(struct ynode *));

		if (!k)
			return -ENOMEM;
		parent->kids = k;
		parent->cap = cap;
	}
	parent->kids[parent->n++] = kid;
	return 0;
}

/*
 * One scalar, mapping or sequence start: a new node, attached to its parent
 * (or made the root) before anything else can fail, so the tree owns it.
 */
static int yaml_node(const yaml_event_t *ev, struct ynode **stack, size_t *depth,
		     struct ynode **root, size_t *nodes, const char *name, struct diag *d)
{
	struct ynode *parent = *depth ? stack[*depth - 1] : NULL;
	struct ynode *node;
	size_t line = (size_t)ev->start_mark.line + 1;

	if (++*nodes > MAX_NODES)
		return diag_set(d, -E2BIG, "kubeconfig '%s' has more than %d nodes", name,
				MAX_NODES);
	if (parent && parent->type == Y_MAP && parent->n % 2 == 0 && ev->type != YAML_SCALAR_EVENT)
		return diag_set(d, -EINVAL,
				"kubeconfig '%s' has a key that is not a string at line %zu", name,
				line);
	if (!parent && *root)
		return diag_set(d, -EINVAL, "kubeconfig '%s' is malformed at line %zu", name, line);
	if (ev->type != YAML_SCALAR_EVENT && *depth == K8S_CONFIG_MAX_DEPTH)
		return diag_set(d, -EINVAL, "kubeconfig '%s' nests deeper than %d at line %zu",
				name, K8S_CONFIG_MAX_DEPTH, line);
	node = calloc(1, sizeof(*node));
	if (!node)
		return diag_set(d, -ENOMEM, "out of memory reading kubeconfig '%s'", name);
	node->line = line;
	if (!parent) {
		*root = node;
	} else if (ynode_add(parent, node) < 0) {
		free(node);
		return diag_set(d, -ENOMEM, "out of memory reading kubeconfig '%s'", name);
	}
	if (ev->type != YAML_SCALAR_EVENT) {
		node->type = ev->type == YAML_MAPPING_START_EVENT ? Y_MAP : Y_SEQ;
		stack[(*depth)++] = node;
		return 0;
	}
	node->type = Y_SCALAR;
	node->len = ev->data.scalar.length;
	node->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	node->s = malloc(node->len + 1);
	if (!node->s)
		return diag_set(d, -ENOMEM, "out of memory reading kubeconfig '%s'", name);
	memcpy(node->s, ev->data.scalar.value, node->len);
	node->s[node->len] = '\0';
	if (memchr(node->s, '\0', node->len))
		return diag_set(d, -EINVAL, "kubeconfig '%s' has a NUL byte in a value at line %zu",
				name, line);
	return 0;
}

/*
 * Build the tree of the first document.  libyaml reports syntax errors with a
 * line; we add the limits: no aliases (a "billion laughs" file expands
 * through them), bounded depth and node count, no NUL in scalars.
 */
static int yaml_tree(const void *data, size_t len, const char *name, struct ynode **out,
		     struct diag *d)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	struct ynode *stack[K8S_CONFIG_MAX_DEPTH];
	struct ynode *root = NULL;
	size_t depth = 0, nodes = 0;
	bool done = false;
	int r = 0;

	if (!yaml_parser_initialize(&parser))
		return diag_set(d, -ENOMEM, "cannot initialise the YAML parser");
	yaml_parser_set_input_string(&parser, data, len);
	while (!done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			r = diag_set(d, -EINVAL,
				     "kubeconfig '%s' is not valid YAML: %s at line %zu", name,
				     parser.problem ? parser.problem : "syntax error",
				     (size_t)parser.problem_mark.line + 1);
			goto out;
		}
		switch (ev.type) {
		case YAML_ALIAS_EVENT:
			r = diag_set(d, -EINVAL,
				     "kubeconfig '%s' uses a YAML alias at line %zu: aliases are "
				     "not allowed",
				     name, (size_t)ev.start_mark.line + 1);
			break;
		case YAML_DOCUMENT_END_EVENT:
		case YAML_STREAM_END_EVENT:
			done = true; /* later documents are ignored, as kubectl does */
			break;
		case YAML_SCALAR_EVENT:
		case YAML_MAPPING_START_EVENT:
		case YAML_SEQUENCE_START_EVENT:
			r = yaml_node(&ev, stack, &depth, &root, &nodes, name, d);
			break;
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			if (depth > 0)
				depth--;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
		if (r < 0)
			goto out;
	}
	*out = root;
	root = NULL;
out:
	ynode_free(root);
	yaml_parser_delete(&parser);
	return r;
}

/* ---- tree lookups ---- */

static bool is_null(const struct ynode *y)
{
	return !y || (y->type == Y_SCALAR && y->plain &&
		      (y->len == 0 || strcmp(y->s, "null") == 0 || strcmp(y->s, "Null") == 0 ||
		       strcmp(y->s, "NULL") == 0 || strcmp(y->s, "~") == 0));
}

static const struct ynode *map_get(const struct ynode *map, const char *key)
{
	size_t i;

	if (!map || map->type != Y_MAP)
		return NULL;
	for (i = 0; i + 1 < map->n; i += 2)
		if (strcmp(map->kids[i]->s, key) == 0)
			return map->kids[i + 1];
	return NULL;
}

/* Where a value came from, for messages and relative paths. */
struct src {
	char *path;
	char *dir;
	char *text;
	size_t len;
	struct ynode *root;
};

/* An optional string: *@out stays NULL when absent or null. */
static int get_str(const struct src *f, const struct ynode *map, const char *key, const char **out,
		   struct diag *d)
{
	const struct ynode *v = map_get(map, key);

	*out = NULL;
	if (is_null(v))
		return 0;
	if (v->type != Y_SCALAR)
		return diag_set(d, -EINVAL, "kubeconfig '%s': '%s' at line %zu is not a string",
				f->path, key, v->line);
	*out = v->s;
	return 0;
}

static int get_bool(const struct src *f, const struct ynode *map, const char *key, bool *out,
		    struct diag *d)
{
	static const char *const yes[] = { "true", "True", "TRUE", "yes", "Yes",
					   "YES",  "on",   "On",   "ON" };
	static const char *const no[] = { "false", "False", "FALSE", "no", "No",
					  "NO",	   "off",   "Off",   "OFF" };
	const struct ynode *v = map_get(map, key);
	size_t i;

	*out = false;
	if (is_null(v))
		return 0;
	if (v->type == Y_SCALAR && v->plain) {
		for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
			if (strcmp(v->s, yes[i]) == 0) {
				*out = true;
				return 0;
			}
			if (strcmp(v->s, no[i]) == 0)
				return 0;
		}
	}
	return diag_set(d, -EINVAL, "kubeconfig '%s': '%s' at line %zu is not true or false",
			f->path, key, v->line);
}

/*
 * Find the entry called @name in section @section ("clusters", ...) across
 * the files in order: the first file that defines it wins.  *@body is the
 * entry's @inner map ("cluster", ...), which may be NULL when empty.
 */
static int find_named(const struct src *files, size_t n, const char *section, const char *inner,
		      const char *name, const struct ynode **body, const struct src **from,
		      struct diag *d)
{
	size_t i, j;

	*body = NULL;
	*from = files;
	for (i = 0; i < n; i++) {
		const struct ynode *list = map_get(files[i].root, section);

		if (is_null(list))
			continue;
		if (list->type != Y_SEQ)
			return diag_set(d, -EINVAL,
					"kubeconfig '%s': '%s' at line %zu is not a list",
					files[i].path, section, list->line);
		for (j = 0; j < list->n; j++) {
			const struct ynode *item = list->kids[j], *b;
			const char *nm;
			int r;

			if (item->type != Y_MAP)
				return diag_set(
					d, -EINVAL,
					"kubeconfig '%s': entry of '%s' at line %zu is not a map",
					files[i].path, section, item->line);
			r = get_str(&files[i], item, "name", &nm, d);
			if (r < 0)
				return r;
			if (!nm || strcmp(nm, name) != 0)
				continue;
			b = map_get(item, inner);
			if (!is_null(b) && b->type != Y_MAP)
				return diag_set(
					d, -EINVAL,
					"kubeconfig '%s': '%s' of '%s' at line %zu is not a map",
					files[i].path, inner, name, b->line);
			*body = is_null(b) ? NULL : b;
			*from = &files[i];
			return 0;
		}
	}
	return -ENOENT;
}

/* ---- files ---- */

/* Read a whole regular file of at most @max bytes (NUL-terminated). */
static int read_bounded(const char *path, size_t max, char **out, size_t *len, struct diag *d)
{
	struct buf b;
	struct stat st;
	char chunk[8192];
	int fd, r = 0;

	buf_init(&b, max);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return diag_set(d, -errno, "cannot open '%s': %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		r = diag_set(d, -errno, "cannot stat '%s': %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = diag_set(d, -EINVAL, "'%s' is not a regular file", path);
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = diag_set(d, -errno, "cannot read '%s': %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		r = buf_append(&b, chunk, (size_t)n);
		if (r < 0) {
			r = diag_set(d, r, "'%s' is larger than %zu bytes", path, max);
			goto out;
		}
	}
	*out = buf_detach(&b, len);
	if (!*out)
		r = diag_set(d, -ENOMEM, "out of memory reading '%s'", path);
out:
	buf_release(&b);
	(void)close(fd);
	return r;
}

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/*
 * Read a bearer token file: surrounding white space is dropped (as client-go
 * does); an empty token or one with control characters inside is refused,
 * since it would break or inject into the Authorization header.  The token
 * itself never goes into a message.
 */
static int read_token(const char *path, char **out, struct diag *d)
{
	char *text = NULL;
	size_t len = 0, start = 0, i;
	int r;

	r = read_bounded(path, K8S_CONFIG_MAX_TOKEN, &text, &len, d);
	if (r < 0)
		return diag_prefix(d, r, "cannot read the token");
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' ' ||
			   text[len - 1] == '\t'))
		text[--len] = '\0';
	while (start < len && (text[start] == ' ' || text[start] == '\t' || text[start] == '\n' ||
			       text[start] == '\r'))
		start++;
	if (start == len) {
		r = diag_set(d, -EINVAL, "token file '%s' is empty", path);
		goto out;
	}
	for (i = start; i < len; i++) {
		if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f) {
			r = diag_set(d, -EINVAL, "token file '%s' contains control characters",
				     path);
			goto out;
		}
	}
	if (start)
		memmove(text, text + start, len - start + 1);
	*out = text;
	text = NULL;
out:
	if (text) {
		explicit_bzero(text, len);
		free(text);
	}
	return r;
}

/* @path made absolute against @dir (a kubeconfig's directory). */
static int resolve(const char *dir, const char *path, char **out, struct diag *d)
{
	struct buf b;

	buf_init(&b, 0);
	if (path[0] == '/' || !dir || !dir[0])
		*out = strdup(path);
	else if (buf_appendf(&b, "%s/%s", dir, path) == 0)
		*out = buf_detach(&b, NULL);
	else
		*out = NULL;
	buf_release(&b);
	if (!*out)
		return diag_set(d, -ENOMEM, "out of memory resolving '%s'", path);
	return 0;
}

/* A *-data value: base64 of PEM text, decoded into a NUL-terminated string. */
static int decode_data(const struct src *f, const char *key, const char *b64, char **out,
		       struct diag *d)
{
	size_t len = strlen(b64), n = 0;
	char *p = malloc(K8S_BASE64_DECODED_MAX(len) + 1);

	if (!p)
		return diag_set(d, -ENOMEM, "out of memory decoding '%s'", key);
	if (k8s_base64_decode(b64, len, p, &n) < 0 || n == 0 || memchr(p, '\0', n)) {
		free(p);
		return diag_set(d, -EINVAL, "kubeconfig '%s': '%s' is not base64-encoded PEM",
				f->path, key);
	}
	p[n] = '\0';
	*out = p;
	return 0;
}

static void config_free_fields(struct k8s_config *c)
{
	free(c->server);
	free(c->ca_file);
	free(c->ca_pem);
	free(c->cert_file);
	free(c->cert_pem);
	free(c->key_file);
	wipe_free(c->key_pem);
	wipe_free(c->token);
	free(c->token_file);
	free(c->namespace);
}

void k8s_config_free(struct k8s_config *c)
{
	if (!c)
		return;
	config_free_fields(c);
	free(c);
}

/* A file path or inline data for one of CA, certificate, key. */
static int file_or_data(const struct src *f, const struct ynode *m, const char *key,
			const char *data_key, char **file, char **pem, struct diag *d)
{
	const char *path, *data;
	int r;

	r = get_str(f, m, key, &path, d);
	if (r < 0)
		return r;
	r = get_str(f, m, data_key, &data, d);
	if (r < 0)
		return r;
	/* client-go: inline data takes precedence over the file */
	if (data && data[0])
		return decode_data(f, data_key, data, pem, d);
	if (path && path[0])
		return resolve(f->dir, path, file, d);
	return 0;
}

static int check_server(const char *file, const char *server, struct diag *d)
{
	size_t i, host;

	if (strncmp(server, "https://", 8) == 0)
		host = 8;
	else if (strncmp(server, "http://", 7) == 0)
		host = 7;
	else
		return diag_set(d, -EINVAL, "kubeconfig '%s': server '%s' is not an http(s) URL",
				file, server);
	/* "https://" alone (or "https:///x") names no host: trailing '/' stripping would leave "https:". */
	if (server[host] == '\0' || server[host] == '/')
		return diag_set(d, -EINVAL, "kubeconfig '%s': server '%s' names no host", file,
				server);
	for (i = 0; server[i]; i++)
		if ((unsigned char)server[i] <= 0x20 || server[i] == 0x7f)
			return diag_set(d, -EINVAL,
					"kubeconfig '%s': server URL contains white space or "
					"control characters",
					file);
	return 0;
}

static int fill_cluster(const struct src *f, const struct ynode *m, const char *name,
			struct k8s_config *c, struct diag *d)
{
	const char *server;
	size_t len;
	int r;

	r = get_str(f, m, "server", &server, d);
	if (r < 0)
		return r;
	if (!server || !server[0])
		return diag_set(d, -EINVAL, "kubeconfig '%s': cluster '%s' has no server", f->path,
				name);
	r = check_server(f->path, server, d);
	if (r < 0)
		return r;
	c->server = strdup(server);
	if (!c->server)
		return -ENOMEM;
	len = strlen(c->server);
	while (len > 0 && c->server[len - 1] == '/')
		c->server[--len] = '\0';
	r = get_bool(f, m, "insecure-skip-tls-verify", &c->insecure_skip_tls_verify, d);
	if (r < 0)
		return r;
	r = file_or_data(f, m, "certificate-authority", "certificate-authority-data", &c->ca_file,
			 &c->ca_pem, d);
	if (r < 0)
		return r;
	if (c->insecure_skip_tls_verify && (c->ca_file || c->ca_pem))
		return diag_set(d, -EINVAL,
				"kubeconfig '%s': cluster '%s' sets both a certificate authority "
				"and insecure-skip-tls-verify",
				f->path, name);
	return 0;
}

static int fill_user(const struct src *f, const struct ynode *m, const char *name,
		     struct k8s_config *c, struct diag *d)
{
	const char *token, *token_file, *user;
	int r;

	if (!is_null(map_get(m, "exec")))
		return diag_set(d, -ENOTSUP,
				"kubeconfig '%s': user '%s' uses an exec credential plugin, which "
				"seccomp-syncd does not support: give it a token, tokenFile or "
				"client certificate, or run in-cluster",
				f->path, name);
	if (!is_null(map_get(m, "auth-provider")))
		return diag_set(d, -ENOTSUP,
				"kubeconfig '%s': user '%s' uses an auth-provider plugin, which "
				"seccomp-syncd does not support: give it a token, tokenFile or "
				"client certificate, or run in-cluster",
				f->path, name);
	r = get_str(f, m, "username", &user, d);
	if (r < 0)
		return r;
	if (user || !is_null(map_get(m, "password")))
		return diag_set(d, -ENOTSUP,
				"kubeconfig '%s': user '%s' uses basic authentication, which "
				"seccomp-syncd does not support: give it a token, tokenFile or "
				"client certificate, or run in-cluster",
				f->path, name);
	r = file_or_data(f, m, "client-certificate", "client-certificate-data", &c->cert_file,
			 &c->cert_pem, d);
	if (r < 0)
		return r;
	r = file_or_data(f, m, "client-key", "client-key-data", &c->key_file, &c->key_pem, d);
	if (r < 0)
		return r;
	if (!(c->cert_file || c->cert_pem) != !(c->key_file || c->key_pem))
		return diag_set(d, -EINVAL,
				"kubeconfig '%s': user '%s' needs both a client certificate and a "
				"client key",
				f->path, name);
	r = get_str(f, m, "token", &token, d);
	if (r < 0)
		return r;
	r = get_str(f, m, "tokenFile", &token_file, d);
	if (r < 0)
		return r;
	if (token_file && token_file[0]) {
		/* the file is re-read later; read it now to fail early */
		r = resolve(f->dir, token_file, &c->token_file, d);
		if (r < 0)
			return r;
		return read_token(c->token_file, &c->token, d);
	}
	if (token && token[0]) {
		size_t i;

		for (i = 0; token[i]; i++)
			if ((unsigned char)token[i] < 0x20 || token[i] == 0x7f)
				return diag_set(d, -EINVAL,
						"kubeconfig '%s': the token of user '%s' contains "
						"control characters",
						f->path, name);
		c->token = strdup(token);
		if (!c->token)
			return -ENOMEM;
	}
	return 0;
}

/* Resolve @context (or current-context) across @files into @c. */
static int config_from(const struct src *files, size_t n, const char *context, struct k8s_config *c,
		       struct diag *d)
{
	const struct ynode *ctx = NULL, *body = NULL;
	const struct src *from = NULL, *cfrom = NULL;
	const char *cluster = NULL, *user = NULL, *ns = NULL, *cur;
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		if (!is_null(files[i].root) && files[i].root->type != Y_MAP)
			return diag_set(d, -EINVAL, "kubeconfig '%s' is not a map", files[i].path);
		if (!context) {
			r = get_str(&files[i], files[i].root, "current-context", &cur, d);
			if (r < 0)
				return r;
			if (cur && cur[0])
				context = cur;
		}
	}
	if (!context)
		return diag_set(d, -EINVAL,
				"kubeconfig '%s' sets no current-context and none was given",
				n ? files[0].path : "");
	r = find_named(files, n, "contexts", "context", context, &ctx, &cfrom, d);
	if (r == -ENOENT)
		return diag_set(d, -EINVAL, "context '%s' is not in the kubeconfig", context);
	if (r < 0)
		return r;
	r = get_str(cfrom, ctx, "cluster", &cluster, d);
	if (r == 0)
		r = get_str(cfrom, ctx, "user", &user, d);
	if (r == 0)
		r = get_str(cfrom, ctx, "namespace", &ns, d);
	if (r < 0)
		return r;
	if (!cluster || !cluster[0])
		return diag_set(d, -EINVAL, "context '%s' names no cluster", context);
	r = find_named(files, n, "clusters", "cluster", cluster, &body, &from, d);
	if (r == -ENOENT)
		return diag_set(d, -EINVAL, "cluster '%s' of context '%s' is not in the kubeconfig",
				cluster, context);
	if (r < 0)
		return r;
	r = fill_cluster(from, body, cluster, c, d);
	if (r < 0)
		return r;
	if (user && user[0]) {
		r = find_named(files, n, "users", "user", user, &body, &from, d);
		if (r == -ENOENT)
			return diag_set(d, -EINVAL,
					"user '%s' of context '%s' is not in the kubeconfig", user,
					context);
		if (r < 0)
			return r;
		r = fill_user(from, body, user, c, d);
		if (r < 0)
			return r;
	}
	if (ns && ns[0]) {
		c->namespace = strdup(ns);
		if (!c->namespace)
			return -ENOMEM;
	}
	return 0;
}

static void src_release(struct src *f)
{
	free(f->path);
	free(f->dir);
	free(f->text);
	ynode_free(f->root);
	memset(f, 0, sizeof(*f));
}

static int config_build(struct src *files, size_t n, const char *context, struct k8s_config **out,
			struct diag *d)
{
	struct k8s_config *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return diag_set(d, -ENOMEM, "out of memory");
	r = config_from(files, n, context, c, d);
	if (r == -ENOMEM)
		r = diag_set(d, r, "out of memory reading the kubeconfig");
	if (r < 0) {
		k8s_config_free(c);
		return r;
	}
	*out = c;
	return 0;
}

int k8s_config_parse_buffer(const void *data, size_t len, const char *dir, const char *context,
			    struct k8s_config **out, struct diag *d)
{
	struct src f = { 0 };
	struct ynode *root = NULL;
	int r;

	if (len > K8S_CONFIG_MAX_FILE)
		return diag_set(d, -E2BIG, "kubeconfig is larger than %zu bytes",
				K8S_CONFIG_MAX_FILE);
	f.path = strdup("<buffer>");
	if (!f.path)
		return diag_set(d, -ENOMEM, "out of memory");
	f.dir = strdup(dir ? dir : "");
	if (!f.dir) {
		r = diag_set(d, -ENOMEM, "out of memory");
		goto out;
	}
	/* through a local: the tree is the only thing yaml_tree() may write */
	r = yaml_tree(data, len, f.path, &root, d);
	if (r < 0)
		goto out;
	f.root = root;
	r = config_build(&f, 1, context, out, d);
out:
	src_release(&f);
	return r;
}

/*
 * Load one kubeconfig file into @f (left empty on failure); -ENOENT (with a
 * message) if it does not exist.
 */
static int src_load(const char *path, struct src *f, struct diag *d)
{
	struct ynode *root = NULL;
	const char *slash;
	char *text = NULL;
	size_t len = 0;
	int r;

	f->path = strdup(path);
	slash = strrchr(path, '/');
	if (!slash)
		f->dir = strdup(".");
	else if (slash == path)
		f->dir = strdup("/");
	else
		f->dir = strndup(path, (size_t)(slash - path));
	if (!f->path || !f->dir) {
		r = diag_set(d, -ENOMEM, "out of memory");
		goto out;
	}
	r = read_bounded(path, K8S_CONFIG_MAX_FILE, &text, &len, d);
	if (r < 0) {
		r = diag_prefix(d, r, "cannot read kubeconfig");
		goto out;
	}
	f->text = text;
	f->len = len;
	r = yaml_tree(text, len, f->path, &root, d);
	f->root = root;
out:
	if (r < 0)
		src_release(f);
	return r;
}

static int load_files(const char *list, const char *context, struct k8s_config **out,
		      struct diag *d)
{
	struct src files[K8S_CONFIG_MAX_FILES];
	char *copy = strdup(list), *p, *next;
	size_t n = 0, i, entries = 0;
	int r = 0;

	memset(files, 0, sizeof(files));
	if (!copy)
		return diag_set(d, -ENOMEM, "out of memory");
	for (p = copy; p; p = next) {
		next = strchr(p, ':');
		if (next)
			*next++ = '\0';
		if (p[0])
			entries++;
	}
	for (p = copy, i = 0; i < entries; p += strlen(p) + 1) {
		if (!p[0])
			continue;
		i++;
		if (n == K8S_CONFIG_MAX_FILES) {
			r = diag_set(d, -E2BIG, "more than %d kubeconfig files",
				     K8S_CONFIG_MAX_FILES);
			goto out;
		}
		r = src_load(p, &files[n], d);
		/* as kubectl: missing files in a list are skipped, a single path must exist */
		if (r == -ENOENT && entries > 1)
			continue;
		if (r < 0)
			goto out;
		n++;
	}
	if (n == 0) {
		r = diag_set(d, -ENOENT, "none of the kubeconfig files '%s' exists", list);
		goto out;
	}
	r = config_build(files, n, context, out, d);
out:
	for (i = 0; i < n; i++)
		src_release(&files[i]);
	free(copy);
	return r;
}

int k8s_config_load(const char *kubeconfig, const char *context, struct k8s_config **out,
		    struct diag *d)
{
	struct buf b;
	const char *env;
	char *path;
	int r;

	if (kubeconfig && kubeconfig[0])
		return load_files(kubeconfig, context, out, d);
	env = getenv("KUBERNETES_SERVICE_HOST");
	if (env && env[0])
		return k8s_config_in_cluster(K8S_SA_DIR, out, d);
	env = getenv("KUBECONFIG");
	if (env && env[0])
		return load_files(env, context, out, d);
	env = getenv("HOME");
	if (!env || !env[0])
		return diag_set(
			d, -ENOENT,
			"no kubeconfig: not in a cluster, KUBECONFIG is unset and so is HOME");
	buf_init(&b, 0);
	if (buf_appendf(&b, "%s/.kube/config", env) < 0) {
		buf_release(&b);
		return diag_set(d, -ENOMEM, "out of memory");
	}
	path = buf_detach(&b, NULL);
	if (!path)
		return diag_set(d, -ENOMEM, "out of memory");
	r = load_files(path, context, out, d);
	free(path);
	return r;
}

/* The host part of the in-cluster URL: a name, an IPv4 or an IPv6 address. */
static int host_ok(const char *h)
{
	size_t i;

	for (i = 0; h[i]; i++) {
		unsigned char c = (unsigned char)h[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == ':' || c == '%' || c == '[' || c == ']'))
			return 0;
	}
	return i > 0 && i < 256;
}

int k8s_config_in_cluster(const char *sa_dir, struct k8s_config **out, struct diag *d)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	const char *podns = getenv("POD_NAMESPACE");
	struct k8s_config *c = NULL;
	char *ns = NULL;
	struct buf b;
	unsigned long pnum;
	size_t nslen = 0;
	char *end;
	int r;

	buf_init(&b, 0);
	if (!host || !host[0] || !port || !port[0]) {
		r = diag_set(d, -EINVAL,
			     "in-cluster configuration needs KUBERNETES_SERVICE_HOST and "
			     "KUBERNETES_SERVICE_PORT");
		goto out;
	}
	if (!host_ok(host)) {
		r = diag_set(d, -EINVAL,
			     "KUBERNETES_SERVICE_HOST '%.64s' is not a host name or address", host);
		goto out;
	}
	errno = 0;
	pnum = strtoul(port, &end, 10);
	if (errno || *end || port[0] == '-' || port[0] == '+' || pnum == 0 || pnum > 65535) {
		r = diag_set(d, -EINVAL, "KUBERNETES_SERVICE_PORT '%.16s' is not a port number",
			     port);
		goto out;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		r = diag_set(d, -ENOMEM, "out of memory");
		goto out;
	}
	/* IPv6 addresses go in brackets, unless the environment already has them */
	if (strchr(host, ':') && host[0] != '[')
		r = buf_appendf(&b, "https://[%s]:%lu", host, pnum);
	else
		r = buf_appendf(&b, "https://%s:%lu", host, pnum);
	if (r < 0 || !(c->server = buf_detach(&b, NULL))) {
		r = diag_set(d, -ENOMEM, "out of memory");
		goto out;
	}
	if (buf_appendf(&b, "%s/token", sa_dir) < 0 || !(c->token_file = buf_detach(&b, NULL)) ||
	    buf_appendf(&b, "%s/ca.crt", sa_dir) < 0 || !(c->ca_file = buf_detach(&b, NULL))) {
		r = diag_set(d, -ENOMEM, "out of memory");
		goto out;
	}
	r = read_token(c->token_file, &c->token, d);
	if (r < 0)
		goto out;
	if (access(c->ca_file, R_OK) < 0) {
		r = diag_set(d, -errno, "cannot read the service account CA '%s': %s", c->ca_file,
			     strerror(errno));
		goto out;
	}
	if (buf_appendf(&b, "%s/namespace", sa_dir) < 0) {
		r = diag_set(d, -ENOMEM, "out of memory");
		goto out;
	}
	if (read_bounded(b.data, 256, &ns, &nslen, NULL) == 0) {
		while (nslen > 0 && (ns[nslen - 1] == '\n' || ns[nslen - 1] == ' ' ||
				     ns[nslen - 1] == '\r' || ns[nslen - 1] == '\t'))
			ns[--nslen] = '\0';
		if (nslen > 0 && !memchr(ns, '\0', nslen)) {
			c->namespace = ns;
			ns = NULL;
		}
	}
	if (!c->namespace && podns && podns[0]) {
		c->namespace = strdup(podns);
		if (!c->namespace) {
			r = diag_set(d, -ENOMEM, "out of memory");
			goto out;
		}
	}
	*out = c;
	c = NULL;
	r = 0;
out:
	free(ns);
	buf_release(&b);
	k8s_config_free(c);
	return r;
}
