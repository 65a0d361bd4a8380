/* SPDX-License-Identifier: Apache-2.0 */
#ifndef SECCOMP_SYNCD_K8S_HTTP_H
#define SECCOMP_SYNCD_K8S_HTTP_H

/*
 * The HTTP side of the API client, over libcurl (this header does not expose
 * curl types: curl.h stays in k8s/http.c and k8s/loop.c).  A struct k8s_http
 * holds what every request shares: the server, TLS material, the bearer token
 * and its rotation.  A struct k8s_req is one request on a curl easy handle
 * that the loop adds to its multi handle; the body of a 2xx answer streams to
 * the caller's callbacks (into a decoder) as it arrives, never buffered whole;
 * the body of an error answer is kept, up to K8S_HTTP_ERROR_BODY_MAX bytes,
 * and parsed as a Status when the request ends.
 *
 * The token never appears in a diag, a log line or an error message.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/diag.h"
#include "k8s/config.h"
#include "k8s/decode.h"

#define K8S_HTTP_ERROR_BODY_MAX	   (64 * 1024)
#define K8S_HTTP_CONNECT_TIMEOUT_S 10
#define K8S_HTTP_LIST_TIMEOUT_S	   300 /* one list page (or an unpaged list) */
#define K8S_HTTP_POST_TIMEOUT_S	   30
#define K8S_HTTP_WATCH_SLACK_S	   30 /* a watch's deadline is timeoutSeconds + this */
#define K8S_HTTP_STALL_S	   60 /* a list or post that receives nothing this long fails */
#define K8S_TOKEN_MAX		   (16 * 1024)
#define K8S_TOKEN_REREAD_MS	   60000

/*
 * A bearer token, static or read from a file that the kubelet rotates.
 * Caller-owned; k8s_token_release() wipes and frees it.
 */
struct k8s_token {
	char *value; /* the token in use, or NULL */
	char *file;  /* where it comes from, or NULL for a static token */
	uint64_t read_ms;
	bool read_once;
};

/**
 * k8s_token_init() - start with @value (may be NULL) and, if @file is set,
 * read it now (a failed read keeps @value).  Return: 0 or -ENOMEM.
 */
int k8s_token_init(struct k8s_token *t, const char *value, const char *file, uint64_t now_ms);

/**
 * k8s_token_refresh() - re-read the token file if K8S_TOKEN_REREAD_MS have
 * passed since the last read, or at once when @force (after a 401)
 *
 * Bound service-account tokens expire and the kubelet rewrites the file well
 * before; an empty, unreadable or oversized file keeps the old token, so that
 * a rotation caught half-way never leaves the client with no token.
 *
 * Return: 1 if the token changed, 0 if not.
 */
int k8s_token_refresh(struct k8s_token *t, uint64_t now_ms, bool force);

/** k8s_token_release() - wipe and free */
void k8s_token_release(struct k8s_token *t);

struct k8s_http;

/**
 * k8s_http_new() - a client for @cfg (borrowed for the client's lifetime)
 * @now_ms: monotonic time, for the token's re-read schedule
 *
 * Return: 0, -EINVAL for an unusable server URL, -ENOMEM.
 */
int k8s_http_new(const struct k8s_config *cfg, uint64_t now_ms, struct k8s_http **out,
		 struct diag *d);

/** k8s_http_free() - NULL is a no-op */
void k8s_http_free(struct k8s_http *h);

/** k8s_http_unauthorized() - a 401 came back: re-read the token file before the next request */
void k8s_http_unauthorized(struct k8s_http *h);

/** k8s_http_token() - the client's token state (for tests and the loop) */
struct k8s_token *k8s_http_token(struct k8s_http *h);

/* Where a response goes.  Both run inside curl's callbacks, on the loop thread. */
struct k8s_http_body_ops {
	/* The final status line and headers are in.  Return < 0 to abort. */
	int (*start)(void *ctx, int http_code);
	/* Bytes of a 2xx body, as they come.  Return < 0 to abort. */
	int (*data)(void *ctx, const void *p, size_t n);
};

struct k8s_req_opts {
	const char *method; /* "GET" or "POST" */
	const char *path;   /* path and query, beginning with '/' */
	const char *body;   /* POST: JSON, borrowed until k8s_req_free() */
	size_t body_len;
	long timeout_s; /* the whole request's deadline */
	bool stream;	/* a watch: idle periods are normal, no stall detection */
	const struct k8s_http_body_ops *ops;
	void *ctx;
};

struct k8s_req;

/**
 * k8s_req_new() - prepare a request (the token is refreshed if due)
 * @now_ms: monotonic time
 *
 * Return: 0, -ENOMEM, -EINVAL for a path that is not one.
 */
int k8s_req_new(struct k8s_http *h, const struct k8s_req_opts *o, uint64_t now_ms,
		struct k8s_req **out, struct diag *d);

/** k8s_req_handle() - the request's CURL easy handle, for curl_multi_add_handle() */
void *k8s_req_handle(struct k8s_req *r);

/* How a request ended. */
struct k8s_http_result {
	int http_code; /* 0 when no status line arrived */
	bool answered; /* the final headers arrived (start() was called) */
	int err;       /* 0, or the negative errno of a transport failure or an abort */
	bool aborted;  /* err came from a callback returning < 0 */
	unsigned retry_after_s;
	struct k8s_status status; /* non-2xx: the Status in the body, or just the code */
};

/**
 * k8s_req_finish() - interpret curl's result for the request
 * @curl_code: the CURLcode from curl_multi_info_read()
 *
 * Transport errors become errnos: -ECONNREFUSED, -ETIMEDOUT, -EHOSTUNREACH,
 * -ECONNRESET, -EPROTO (TLS), -EIO; @d says what happened (never the token).
 */
void k8s_req_finish(struct k8s_req *r, int curl_code, struct k8s_http_result *res, struct diag *d);

/** k8s_req_free() - the easy handle must be out of any multi handle; NULL is a no-op */
void k8s_req_free(struct k8s_req *r);

/**
 * k8s_http_code_errno() - the errno a failed HTTP status stands for: -EACCES
 * for 401 and 403, -ENOENT 404, -ESTALE 410, -EBUSY 429, -ETIMEDOUT 504,
 * -EIO other 5xx, -EINVAL other 4xx.
 */
int k8s_http_code_errno(int http_code);

/**
 * k8s_http_query_add() - append "&key=value" (or "?key=value" when @b holds no
 * '?' yet), percent-encoding @value.  Return: 0 or a buf error.
 */
int k8s_http_query_add(struct buf *b, const char *key, const char *value);

/** k8s_http_retry_after() - the seconds form of a Retry-After value; 0 if absent or a date */
unsigned k8s_http_retry_after(const char *value, size_t len);

#endif
