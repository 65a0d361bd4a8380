/* SPDX-License-Identifier: Apache-2.0 */
#ifndef SECCOMP_SYNCD_K8S_DECODE_H
#define SECCOMP_SYNCD_K8S_DECODE_H

/*
 * Streaming decoders (yajl callbacks) for list responses and watch streams.
 * Bytes arrive in arbitrary pieces; one object at a time is materialised,
 * handed to a callback, and forgotten, so memory is bounded by the largest
 * object, never by the length of the stream.  Pure: no I/O, no clock.
 */

#include <stddef.h>

#include "common/diag.h"
#include "k8s/object.h"

/* Nesting deeper than this (objects and arrays) is malformed input. */
#define K8S_DECODE_MAX_DEPTH 64
/* max_object when the caller gives 0. */
#define K8S_DECODE_DEFAULT_MAX_OBJECT ((size_t)4 << 20)
/* Entries in one annotations, labels, data or binaryData map. */
#define K8S_DECODE_MAX_PAIRS 65536

enum k8s_stream {
	K8S_STREAM_LIST = 0, /* {"kind":"ConfigMapList","metadata":{...},"items":[...]} */
	K8S_STREAM_WATCH,    /* {"type":"ADDED","object":{...}}\n ... */
};

/* An API Status (watch ERROR events, error bodies). */
struct k8s_status {
	int code;	 /* 0 when absent */
	char reason[64]; /* "Expired", "Gone", "Timeout", ... */
	char message[256];
	char cause[64]; /* first details.causes[].reason, e.g. "ResourceVersionTooLarge" */
};

struct k8s_list_meta {
	char resource_version[128];
	char continue_token[4096];
};

struct k8s_decode_ops {
	/*
	 * One object.  List items arrive as K8S_EV_ADDED.  A BOOKMARK carries only
	 * resource_version and annotations (k8s.io/initial-events-end).  Return 0,
	 * or a negative errno to stop decoding (feed returns it).
	 */
	int (*object)(void *ctx, enum k8s_event_type type, const struct k8s_object *o);
	/* A watch ERROR event's Status; the server closes the stream after it. */
	int (*error)(void *ctx, const struct k8s_status *st);
};

struct k8s_decode_opts {
	enum k8s_stream stream;
	enum k8s_kind kind;
	size_t max_object; /* bytes of one object as it appears in the stream; 0: 4 MiB */
	/*
	 * If set, a ConfigMap whose annotation @require_annotation is not exactly
	 * "true" is delivered with data_skipped and no bodies (metadata only).
	 */
	const char *require_annotation;
};

struct k8s_decoder;

/** k8s_decoder_new() - a decoder; @ops and @ctx are borrowed for its lifetime */
int k8s_decoder_new(const struct k8s_decode_opts *opts, const struct k8s_decode_ops *ops, void *ctx,
		    struct k8s_decoder **out, struct diag *d);

/**
 * k8s_decoder_feed() - decode the next @len bytes
 *
 * Return: 0, a callback's negative errno, -EBADMSG for malformed JSON or an
 * unknown event type, -E2BIG for an object over the limit.  After an error the
 * decoder is spent: the caller drops the stream and reconnects.
 */
int k8s_decoder_feed(struct k8s_decoder *dec, const void *data, size_t len, struct diag *d);

/** k8s_decoder_finish() - end of stream; -EBADMSG if it ended inside a value */
int k8s_decoder_finish(struct k8s_decoder *dec, struct diag *d);

/** k8s_decoder_list_meta() - a list's metadata (valid once it has been seen) */
const struct k8s_list_meta *k8s_decoder_list_meta(const struct k8s_decoder *dec);

/* What a decoder has allocated (its arena, vectors and yajl's own buffers). */
struct k8s_decode_mem {
	size_t current; /* bytes allocated now */
	size_t peak;	/* the most ever allocated at once */
	size_t allocs;	/* allocation calls (malloc and realloc) so far */
};

/**
 * k8s_decoder_mem() - the decoder's allocation counters
 *
 * Every allocation the decoder makes, including yajl's (through
 * yajl_alloc_funcs), is counted, so tests and the benchmark can show that the
 * peak depends on the largest object and not on the length of the stream.
 */
void k8s_decoder_mem(const struct k8s_decoder *dec, struct k8s_decode_mem *m);

/** k8s_decoder_free() - NULL is a no-op */
void k8s_decoder_free(struct k8s_decoder *dec);

/**
 * k8s_status_parse() - read a Status from an error body
 *
 * Bodies need not be JSON (429 is plain text): then @st has only @code set
 * from @http_code.  Return: 0 (always fills @st).
 */
int k8s_status_parse(const void *body, size_t len, int http_code, struct k8s_status *st);

#endif
