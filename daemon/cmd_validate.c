/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `seccomp-syncd validate`: the daemon's verdict on profiles and manifests,
 * before they reach a cluster, so that CI can stop a broken profile at review
 * time instead of at container start.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/diag.h"
#include "daemon/cmd.h"
#include "daemon/manifest.h"
#include "daemon/output.h"
#include "profilestore/profile.h"
#include "profilestore/store.h"

#define STDIN_NAME "<stdin>"

static const char validate_usage[] =
	"usage: seccomp-syncd validate [--arch ARCH] [--format text|json] FILE...\n";

static const char validate_help[] =
	"\n"
	"Check seccomp profiles the way seccomp-syncd checks them on a node: parse them as\n"
	"containerd and CRI-O do, apply every rule, and compile them with libseccomp.\n"
	"\n"
	"FILE is a profile (a JSON object), or Kubernetes manifests in YAML or JSON (what\n"
	"`kubectl apply -f` takes, several documents and List kinds included): every data and\n"
	"binaryData key of each ConfigMap annotated seccomp.security.kubernetes.io/profile: "
	"\"true\"\n"
	"is checked as its own profile, named FILE:<namespace>/<name>:<key>.  `-` reads stdin.\n"
	"\n"
	"options:\n"
	"  --arch ARCH            validate for a node of this architecture: libseccomp names\n"
	"                         (x86_64, aarch64, ppc64le, s390x, ...) or Go names (amd64,\n"
	"                         arm64); default: this machine's\n"
	"  --format text|json     text: one line per finding and a summary per profile (default);\n"
	"                         json: one document {\"results\":[...]}\n"
	"  -h, --help             show this help\n"
	"\n"
	"exit status: 0 every profile is valid (warnings allowed), 1 a profile or manifest is\n"
	"invalid, 2 usage error or an input that could not be read (missing, over the size limit,\n"
	"YAML syntax error).\n";

struct validate_opts {
	const char *arch;
	enum output_format format;
};

static int max_code(int a, int b)
{
	return a > b ? a : b;
}

/* Read all of @path ("-" for stdin) into @b, bounded by @b's maximum. */
static int read_input(const char *path, struct buf *b, struct diag *d)
{
	char chunk[65536];
	int fd = STDIN_FILENO, r = 0;
	ssize_t n;

	if (strcmp(path, "-") != 0) {
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0)
			return diag_set(d, -errno, "cannot open: %s", strerror(errno));
	}
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = diag_set(d, -errno, "cannot read: %s", strerror(errno));
			break;
		}
		if (n == 0)
			break;
		r = buf_append(b, chunk, (size_t)n);
		if (r == -E2BIG) {
			r = diag_set(d, r, "over the size limit of %zu bytes", b->max);
			break;
		}
		if (r < 0) {
			r = diag_set(d, r, "cannot read: %s", strerror(-r));
			break;
		}
	}
	if (fd != STDIN_FILENO)
		(void)close(fd);
	return r;
}

/* A result with one error and nothing checked: the input could not be read. */
static void print_failure(struct output *o, const char *name, const char *message)
{
	struct output_finding f = { .path = "", .message = message, .view = PROFILE_VIEW_BOTH };
	struct output_result res = {
		.name = name,
		.valid = false,
		.errors = &f,
		.n_errors = 1,
		.failed = true,
	};

	output_result(o, &res);
}

/* @extra then the engine's findings, as one array the caller frees. */
static struct output_finding *merge_findings(const struct output_finding *extra, size_t n_extra,
					     const struct profile_finding *pf, size_t n)
{
	struct output_finding *all = calloc(n_extra + n + 1, sizeof(*all));
	size_t i;

	if (!all)
		return NULL;
	for (i = 0; i < n_extra; i++)
		all[i] = extra[i];
	for (i = 0; i < n; i++) {
		all[n_extra + i].path = pf[i].path;
		all[n_extra + i].message = pf[i].message;
		all[n_extra + i].view = pf[i].view;
	}
	return all;
}

/*
 * Check one profile and print its result, with @extra errors found before the
 * engine ran (a key the daemon would refuse).  Return: an exit code.
 */
static int check_profile(struct output *o, const struct validate_opts *opts, const char *name,
			 const char *data, size_t len, const struct output_finding *extra,
			 size_t n_extra)
{
	struct profile_opts popts = { .arch = opts->arch };
	struct profile_verdict *v = NULL;
	struct output_finding *errors = NULL, *warnings = NULL;
	struct output_result res = { .name = name, .compiled = true };
	struct diag d = { "" };
	int r, code;

	r = profile_check(data, len, &popts, &v, &d);
	if (r < 0) {
		print_failure(o, name, d.msg[0] ? d.msg : strerror(-r));
		return EXIT_USAGE;
	}
	errors = merge_findings(extra, n_extra, v->errors, v->n_errors);
	warnings = merge_findings(NULL, 0, v->warnings, v->n_warnings);
	if (!errors || !warnings) {
		print_failure(o, name, "out of memory");
		code = EXIT_USAGE;
		goto out;
	}
	res.valid = v->valid && !n_extra;
	res.errors = errors;
	res.n_errors = n_extra + v->n_errors;
	res.warnings = warnings;
	res.n_warnings = v->n_warnings;
	res.arches = v->arches;
	res.n_arches = v->n_arches;
	res.bpf_instructions = v->bpf_instructions;
	output_result(o, &res);
	code = res.valid ? EXIT_OK : EXIT_INVALID;
out:
	free(warnings);
	free(errors);
	profile_verdict_free(v);
	return code;
}

static int check_entry(struct output *o, const struct validate_opts *opts, const char *file,
		       const struct manifest_entry *e)
{
	struct output_finding extra = { .path = "", .view = PROFILE_VIEW_BOTH };
	char msg[DIAG_MAX + 64];
	struct diag d = { "" };
	struct buf name;
	int code;

	buf_init(&name, 0);
	if (buf_appendf(&name, "%s:%s/%s:%s", file, e->ns, e->name, e->key) < 0) {
		print_failure(o, file, "out of memory");
		code = EXIT_USAGE;
		goto out;
	}
	if (e->error) {
		struct output_result res = { .name = name.data, .errors = &extra, .n_errors = 1 };

		(void)snprintf(msg, sizeof(msg), "line %zu: %s", e->line, e->error);
		extra.message = msg;
		output_result(o, &res);
		code = EXIT_INVALID;
		goto out;
	}
	if (store_check_name(e->ns, e->name, e->key, &d) < 0) {
		(void)snprintf(msg, sizeof(msg), "line %zu: %s: the daemon would not write it",
			       e->line, d.msg);
		extra.message = msg;
		code = check_profile(o, opts, name.data, e->data, e->len, &extra, 1);
		goto out;
	}
	code = check_profile(o, opts, name.data, e->data, e->len, NULL, 0);
out:
	buf_release(&name);
	return code;
}

/* The file-level result of a manifest: its notes, and what it held. */
static int print_notes(struct output *o, const char *file, const struct manifest *m)
{
	struct output_finding *errors, *warnings;
	struct output_result res = { .name = file };
	char **msgs;
	char summary[128];
	size_t i, ne = 0, nw = 0;
	int code = EXIT_OK;

	errors = calloc(m->n_notes + 1, sizeof(*errors));
	warnings = calloc(m->n_notes + 1, sizeof(*warnings));
	msgs = calloc(m->n_notes + 1, sizeof(*msgs));
	if (!errors || !warnings || !msgs) {
		print_failure(o, file, "out of memory");
		code = EXIT_USAGE;
		goto out;
	}
	for (i = 0; i < m->n_notes; i++) {
		const struct manifest_note *n = &m->notes[i];
		struct output_finding *f =
			n->level == MANIFEST_NOTE_ERROR ? &errors[ne++] : &warnings[nw++];

		if (n->line && asprintf(&msgs[i], "line %zu: %s", n->line, n->message) < 0)
			msgs[i] = NULL;
		else if (!n->line &&
			 asprintf(&msgs[i], "document %zu: %s", n->document, n->message) < 0)
			msgs[i] = NULL;
		f->path = "";
		f->message = msgs[i] ? msgs[i] : n->message;
		f->view = PROFILE_VIEW_BOTH;
	}
	if (!m->n_configmaps) {
		warnings[nw].path = "";
		warnings[nw].message = "no ConfigMap annotated " MANIFEST_MARKER ": \"true\"";
		warnings[nw].view = PROFILE_VIEW_BOTH;
		nw++;
	}
	(void)snprintf(summary, sizeof(summary), "%zu %s in %zu annotated %s", m->n_entries,
		       m->n_entries == 1 ? "profile" : "profiles", m->n_configmaps,
		       m->n_configmaps == 1 ? "ConfigMap" : "ConfigMaps");
	res.valid = ne == 0;
	res.errors = errors;
	res.n_errors = ne;
	res.warnings = warnings;
	res.n_warnings = nw;
	res.summary = summary;
	output_result(o, &res);
	code = res.valid ? EXIT_OK : EXIT_INVALID;
out:
	for (i = 0; msgs && i < m->n_notes; i++)
		free(msgs[i]);
	free(msgs);
	free(warnings);
	free(errors);
	return code;
}

static int check_manifest(struct output *o, const struct validate_opts *opts, const char *file,
			  const char *data, size_t len)
{
	struct manifest *m = NULL;
	struct diag d = { "" };
	size_t i;
	int r, code = EXIT_OK;

	r = manifest_parse(data, len, &m, &d);
	if (r < 0) {
		print_failure(o, file, d.msg[0] ? d.msg : strerror(-r));
		return EXIT_USAGE;
	}
	for (i = 0; i < m->n_entries; i++)
		code = max_code(code, check_entry(o, opts, file, &m->entries[i]));
	if (m->n_notes || !m->n_entries)
		code = max_code(code, print_notes(o, file, m));
	manifest_free(m);
	return code;
}

static int check_file(struct output *o, const struct validate_opts *opts, const char *path)
{
	const char *name = strcmp(path, "-") ? path : STDIN_NAME;
	struct diag d = { "" };
	struct buf b;
	char msg[DIAG_MAX];
	int code;

	buf_init(&b, MANIFEST_MAX_BYTES);
	if (read_input(path, &b, &d) < 0) {
		print_failure(o, name, d.msg);
		code = EXIT_USAGE;
	} else if (manifest_detect(b.data ? b.data : "", b.len)) {
		code = check_manifest(o, opts, name, b.data, b.len);
	} else if (b.len > PROFILE_MAX_BYTES) {
		(void)snprintf(msg, sizeof(msg),
			       "profile of %zu bytes is over the size limit of %d bytes", b.len,
			       PROFILE_MAX_BYTES);
		print_failure(o, name, msg);
		code = EXIT_USAGE;
	} else {
		code = check_profile(o, opts, name, b.data ? b.data : "", b.len, NULL, 0);
	}
	buf_release(&b);
	return code;
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("seccomp-syncd validate: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fputs(validate_usage, stderr);
	return EXIT_USAGE;
}

/* The value of option @opt at argv[*i], given as "--opt=VALUE" or "--opt VALUE". */
static const char *option_value(int argc, char **argv, int *i, const char *opt)
{
	size_t n = strlen(opt);
	const char *a = argv[*i];

	if (strncmp(a, opt, n) != 0)
		return NULL;
	if (a[n] == '=')
		return a + n + 1;
	if (a[n] || *i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

int cmd_validate(int argc, char **argv)
{
	struct validate_opts opts = { .arch = NULL, .format = OUTPUT_TEXT };
	struct output o;
	const char *format = NULL, *v;
	char **files;
	int i, n = 0, code = EXIT_OK, r;
	bool options = true;

	files = calloc((size_t)(argc > 0 ? argc : 1), sizeof(*files));
	if (!files) {
		fputs("seccomp-syncd validate: out of memory\n", stderr);
		return EXIT_USAGE;
	}
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!options || !strcmp(a, "-") || a[0] != '-') {
			files[n++] = argv[i];
		} else if (!strcmp(a, "--")) {
			options = false;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(validate_usage, stdout);
			fputs(validate_help, stdout);
			goto out;
		} else if (!strncmp(a, "--arch", 6) && (a[6] == '=' || !a[6])) {
			v = option_value(argc, argv, &i, "--arch");
			if (!v) {
				code = usage_error("option '%s' needs a value", a);
				goto out;
			}
			opts.arch = v;
		} else if (!strncmp(a, "--format", 8) && (a[8] == '=' || !a[8])) {
			format = option_value(argc, argv, &i, "--format");
			if (!format) {
				code = usage_error("option '%s' needs a value", a);
				goto out;
			}
		} else {
			code = usage_error("unknown option '%s'", a);
			goto out;
		}
	}
	if (format && !strcmp(format, "json")) {
		opts.format = OUTPUT_JSON;
	} else if (format && strcmp(format, "text") != 0) {
		code = usage_error("unknown format '%s' (text or json)", format);
		goto out;
	}
	if (opts.arch && !profile_arch_normalize(opts.arch)) {
		code = usage_error("unknown architecture '%s' (x86_64, aarch64, amd64, arm64, ...)",
				   opts.arch);
		goto out;
	}
	if (!n) {
		code = usage_error("no FILE given");
		goto out;
	}

	output_init(&o, opts.format, stdout, stderr);
	output_begin(&o);
	for (i = 0; i < n; i++)
		code = max_code(code, check_file(&o, &opts, files[i]));
	r = output_end(&o);
	if (r < 0) {
		fprintf(stderr, "seccomp-syncd validate: cannot write the results: %s\n",
			strerror(-r));
		code = EXIT_USAGE;
	}
out:
	free(files);
	return code;
}
