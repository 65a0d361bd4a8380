/* SPDX-License-Identifier: Apache-2.0 */
#ifndef SECCOMP_SYNCD_DAEMON_OUTPUT_H
#define SECCOMP_SYNCD_DAEMON_OUTPUT_H

/*
 * The findings printer of `validate`: text for people (one line per finding,
 * then a summary line per result) or one JSON document for programs.  Every
 * string is escaped on the way out, since file names, keys and messages may
 * quote bytes that came from the input.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "common/buf.h"
#include "profilestore/profile.h"

enum output_format {
	OUTPUT_TEXT = 0,
	OUTPUT_JSON,
};

struct output_finding {
	const char *path; /* "" for the whole input */
	const char *message;
	enum profile_view view; /* PROFILE_VIEW_BOTH unless the views differ */
};

/* One result: a profile, or a file that holds no profile (a manifest, a read error). */
struct output_result {
	const char *name; /* FILE or FILE:<namespace>/<name>:<key> */
	bool valid;
	const struct output_finding *errors;
	size_t n_errors;
	const struct output_finding *warnings;
	size_t n_warnings;
	char *const *arches; /* compiled for; NULL when nothing was compiled */
	size_t n_arches;
	unsigned bpf_instructions;
	bool compiled; /* a profile went through the engine: the summary gives BPF and arches */
	bool failed;   /* could not be checked (I/O, limits): text goes to stderr, no summary */
	const char *summary; /* text summary when valid and not compiled, e.g. "3 profiles" */
};

struct output {
	enum output_format format;
	FILE *out; /* results */
	FILE *err; /* text mode: results that could not be checked */
	size_t n_results;
	int error; /* the first write error, as a negative errno */
};

/** output_init() - start a printer; nothing is written yet */
void output_init(struct output *o, enum output_format format, FILE *out, FILE *err);

/** output_begin() - write what comes before the first result (JSON: the opening) */
void output_begin(struct output *o);

/** output_result() - write one result */
void output_result(struct output *o, const struct output_result *res);

/**
 * output_end() - finish the document and flush
 *
 * Return: 0, or the first write error (negative errno) so that a full disk or a
 * closed pipe is not mistaken for a clean run.
 */
int output_end(struct output *o);

/**
 * output_json_string() - append @s as a quoted JSON string
 * @b: the buffer
 * @s: the bytes, not necessarily UTF-8
 * @len: their length
 *
 * Quotes, backslashes and control characters are escaped; every byte that does
 * not begin a well-formed UTF-8 sequence becomes \ufffd, so the output is
 * always valid JSON and valid UTF-8.  Return: 0 or a buf_append() error.
 */
int output_json_string(struct buf *b, const char *s, size_t len);

/**
 * output_text_string() - append @s for a terminal
 *
 * Control characters (but not tab) and bytes that are not UTF-8 are written as
 * \xNN, so that input cannot move the cursor or change colours.  Return: 0 or
 * a buf_append() error.
 */
int output_text_string(struct buf *b, const char *s, size_t len);

#endif
