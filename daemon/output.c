/* SPDX-License-Identifier: Apache-2.0 */
#include "daemon/output.h"

#include <errno.h>
#include <string.h>

#include "daemon/utf8.h"

void output_init(struct output *o, enum output_format format, FILE *out, FILE *err)
{
	o->format = format;
	o->out = out;
	o->err = err;
	o->n_results = 0;
	o->error = 0;
}

int output_json_string(struct buf *b, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;
	int r = buf_append(b, "\"", 1);

	while (r >= 0 && i < len) {
		unsigned char c = p[i];

		if (c == '"' || c == '\\') {
			char esc[2] = { '\\', (char)c };

			r = buf_append(b, esc, 2);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			switch (c) {
			case '\n':
				r = buf_append(b, "\\n", 2);
				break;
			case '\t':
				r = buf_append(b, "\\t", 2);
				break;
			case '\r':
				r = buf_append(b, "\\r", 2);
				break;
			default:
				r = buf_appendf(b, "\\u%04x", c);
				break;
			}
			i++;
		} else {
			n = utf8_seq_len(p + i, len - i);
			if (!n) {
				r = buf_append(b, "\\ufffd", 6);
				i++;
			} else {
				r = buf_append(b, p + i, n);
				i += n;
			}
		}
	}
	if (r >= 0)
		r = buf_append(b, "\"", 1);
	return r;
}

int output_text_string(struct buf *b, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;
	int r = 0;

	while (r >= 0 && i < len) {
		if (p[i] == '\t' || (p[i] >= 0x20 && p[i] != 0x7f)) {
			n = utf8_seq_len(p + i, len - i);
			if (n && (n > 1 || p[i] < 0x80)) {
				/* C1 controls (U+0080..U+009F) act on terminals too. */
				if (n == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0) {
					r = buf_appendf(b, "\\x%02x\\x%02x", p[i], p[i + 1]);
				} else {
					r = buf_append(b, p + i, n);
				}
				i += n;
				continue;
			}
		}
		r = buf_appendf(b, "\\x%02x", p[i]);
		i++;
	}
	return r;
}

static const char *view_name(enum profile_view v)
{
	switch (v) {
	case PROFILE_VIEW_CONTAINERD:
		return "containerd";
	case PROFILE_VIEW_CRIO:
		return "cri-o";
	case PROFILE_VIEW_BOTH:
		break;
	}
	return NULL;
}

static void emit(struct output *o, FILE *f, const struct buf *b)
{
	if (!b->len)
		return;
	if (fwrite(b->data, 1, b->len, f) != b->len && !o->error)
		o->error = errno ? -errno : -EIO;
}

static int json_findings(struct buf *b, const struct output_finding *f, size_t n)
{
	size_t i;
	int r = buf_append(b, "[", 1);

	for (i = 0; r >= 0 && i < n; i++) {
		const char *view = view_name(f[i].view);

		r = buf_append(b, i ? ",{\"path\":" : "{\"path\":", i ? 9 : 8);
		if (r >= 0)
			r = output_json_string(b, f[i].path, strlen(f[i].path));
		if (r >= 0)
			r = buf_append(b, ",\"message\":", 11);
		if (r >= 0)
			r = output_json_string(b, f[i].message, strlen(f[i].message));
		if (r >= 0 && view)
			r = buf_appendf(b, ",\"view\":\"%s\"", view);
		if (r >= 0)
			r = buf_append(b, "}", 1);
	}
	if (r >= 0)
		r = buf_append(b, "]", 1);
	return r;
}

static int json_result(struct buf *b, const struct output_result *res, bool first)
{
	size_t i;
	int r = buf_append(b, first ? "{\"file\":" : ",{\"file\":", first ? 8 : 9);

	if (r >= 0)
		r = output_json_string(b, res->name, strlen(res->name));
	if (r >= 0)
		r = buf_appendf(b, ",\"valid\":%s,\"errors\":", res->valid ? "true" : "false");
	if (r >= 0)
		r = json_findings(b, res->errors, res->n_errors);
	if (r >= 0)
		r = buf_append(b, ",\"warnings\":", 12);
	if (r >= 0)
		r = json_findings(b, res->warnings, res->n_warnings);
	if (r >= 0)
		r = buf_append(b, ",\"architectures\":[", 18);
	for (i = 0; r >= 0 && i < res->n_arches; i++) {
		if (i)
			r = buf_append(b, ",", 1);
		if (r >= 0)
			r = output_json_string(b, res->arches[i], strlen(res->arches[i]));
	}
	if (r >= 0)
		r = buf_appendf(b, "],\"bpf_instructions\":%u}", res->bpf_instructions);
	return r;
}

static int text_findings(struct buf *b, const char *name, const char *level,
			 const struct output_finding *f, size_t n)
{
	size_t i;
	int r = 0;

	for (i = 0; r >= 0 && i < n; i++) {
		const char *view = view_name(f[i].view);

		r = output_text_string(b, name, strlen(name));
		if (r >= 0)
			r = buf_appendf(b, ": %s: ", level);
		if (r >= 0 && f[i].path[0]) {
			r = output_text_string(b, f[i].path, strlen(f[i].path));
			if (r >= 0 && view)
				r = buf_appendf(b, " [%s]", view);
			if (r >= 0)
				r = buf_append(b, ": ", 2);
		} else if (r >= 0 && view) {
			r = buf_appendf(b, "[%s] ", view);
		}
		if (r >= 0)
			r = output_text_string(b, f[i].message, strlen(f[i].message));
		if (r >= 0)
			r = buf_append(b, "\n", 1);
	}
	return r;
}

static const char *plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

static int text_summary(struct buf *b, const struct output_result *res)
{
	size_t i;
	int r = output_text_string(b, res->name, strlen(res->name));

	if (r < 0)
		return r;
	if (!res->valid) {
		r = buf_appendf(b, ": invalid (%zu %s", res->n_errors,
				plural(res->n_errors, "error", "errors"));
		if (r >= 0 && res->n_warnings)
			r = buf_appendf(b, ", %zu %s", res->n_warnings,
					plural(res->n_warnings, "warning", "warnings"));
		return r < 0 ? r : buf_append(b, ")\n", 2);
	}
	if (!res->compiled) {
		r = buf_appendf(b, ": %s (%zu %s)\n", res->summary ? res->summary : "valid",
				res->n_warnings, plural(res->n_warnings, "warning", "warnings"));
		return r;
	}
	r = buf_appendf(b, ": valid (%zu %s, %u BPF %s", res->n_warnings,
			plural(res->n_warnings, "warning", "warnings"), res->bpf_instructions,
			plural(res->bpf_instructions, "instruction", "instructions"));
	for (i = 0; r >= 0 && i < res->n_arches; i++) {
		r = buf_append(b, i ? " " : ", ", i ? 1 : 2);
		if (r >= 0)
			r = output_text_string(b, res->arches[i], strlen(res->arches[i]));
	}
	return r < 0 ? r : buf_append(b, ")\n", 2);
}

void output_begin(struct output *o)
{
	if (o->format == OUTPUT_JSON && fputs("{\"results\":[", o->out) == EOF && !o->error)
		o->error = -EIO;
}

void output_result(struct output *o, const struct output_result *res)
{
	struct buf b;
	int r;

	buf_init(&b, 0);
	if (o->format == OUTPUT_JSON) {
		r = json_result(&b, res, o->n_results == 0);
	} else {
		r = text_findings(&b, res->name, "error", res->errors, res->n_errors);
		if (r >= 0)
			r = text_findings(&b, res->name, "warning", res->warnings, res->n_warnings);
		if (r >= 0 && !res->failed)
			r = text_summary(&b, res);
	}
	if (r < 0) {
		if (!o->error)
			o->error = r;
	} else {
		emit(o, o->format == OUTPUT_TEXT && res->failed ? o->err : o->out, &b);
	}
	o->n_results++;
	buf_release(&b);
}

int output_end(struct output *o)
{
	if (o->format == OUTPUT_JSON && fputs("]}\n", o->out) == EOF && !o->error)
		o->error = -EIO;
	if (fflush(o->out) == EOF && !o->error)
		o->error = errno ? -errno : -EIO;
	if (o->err && fflush(o->err) == EOF && !o->error)
		o->error = errno ? -errno : -EIO;
	return o->error;
}
