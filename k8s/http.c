/* SPDX-License-Identifier: Apache-2.0 */
#include "k8s/http.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#ifndef SYNCD_VERSION
#define SYNCD_VERSION "0.0.0"
#endif

#define USER_AGENT "seccomp-syncd/" SYNCD_VERSION
#define URL_MAX	   (16 * 1024)
#define SERVER_MAX 2048

struct k8s_http {
	const struct k8s_config *cfg;
	char *base; /* the server URL without a trailing '/' */
	bool tls;
	bool reread; /* a 401 came back: re-read the token before the next request */
	struct k8s_token token;
};

struct k8s_req {
	struct k8s_http *h;
	CURL *easy;
	struct curl_slist *headers;
	char *url;
	char *auth; /* the Authorization header line, wiped on free */
	const char *method;
	const struct k8s_http_body_ops *ops;
	void *ctx;
	int code;
	bool answered;
	unsigned retry_after_s;
	int cb_err;
	struct buf errbody;
	char errbuf[CURL_ERROR_SIZE];
};

static void wipe_free(char *s)
{
	if (!s)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

/*
 * A token goes into an HTTP header: anything but visible ASCII would either
 * break the request or smuggle a header, so such a file is not a token.
 */
static bool token_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

/* Read the token file; NULL when it is unreadable, empty, oversized or not a token. */
static char *token_read(const char *file)
{
	char *data = NULL, *tok = NULL;
	size_t len = 0, start = 0;
	struct stat st;
	int fd;

	fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		goto out;
	data = malloc(K8S_TOKEN_MAX + 1);
	if (!data)
		goto out;
	for (;;) {
		ssize_t n = read(fd, data + len, K8S_TOKEN_MAX + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > K8S_TOKEN_MAX)
			goto out;
	}
	while (len > 0 && strchr(" \t\r\n", data[len - 1]))
		len--;
	while (start < len && strchr(" \t\r\n", data[start]))
		start++;
	if (!token_ok(data + start, len - start))
		goto out;
	tok = strndup(data + start, len - start);
out:
	if (data) {
		explicit_bzero(data, K8S_TOKEN_MAX + 1);
		free(data);
	}
	(void)close(fd);
	return tok;
}

int k8s_token_init(struct k8s_token *t, const char *value, const char *file, uint64_t now_ms)
{
	memset(t, 0, sizeof(*t));
	if (value && value[0]) {
		t->value = strdup(value);
		if (!t->value)
			return -ENOMEM;
	}
	if (file && file[0]) {
		t->file = strdup(file);
		if (!t->file) {
			k8s_token_release(t);
			return -ENOMEM;
		}
		(void)k8s_token_refresh(t, now_ms, true);
	}
	return 0;
}

int k8s_token_refresh(struct k8s_token *t, uint64_t now_ms, bool force)
{
	char *fresh;

	if (!t->file)
		return 0;
	if (!force && t->read_once && now_ms >= t->read_ms &&
	    now_ms - t->read_ms < K8S_TOKEN_REREAD_MS)
		return 0;
	t->read_once = true;
	t->read_ms = now_ms;
	fresh = token_read(t->file);
	if (!fresh)
		return 0;
	if (t->value && strcmp(t->value, fresh) == 0) {
		wipe_free(fresh);
		return 0;
	}
	wipe_free(t->value);
	t->value = fresh;
	return 1;
}

void k8s_token_release(struct k8s_token *t)
{
	wipe_free(t->value);
	t->value = NULL;
	free(t->file);
	t->file = NULL;
	memset(t, 0, sizeof(*t));
}

int k8s_http_new(const struct k8s_config *cfg, uint64_t now_ms, struct k8s_http **out,
		 struct diag *d)
{
	struct k8s_http *h = NULL;
	size_t n, i;
	int r;

	if (!cfg || !cfg->server)
		return diag_set(d, -EINVAL, "no API server configured");
	n = strlen(cfg->server);
	if (n > SERVER_MAX)
		return diag_set(d, -EINVAL, "API server URL is longer than %d bytes", SERVER_MAX);
	for (i = 0; i < n; i++)
		if ((unsigned char)cfg->server[i] <= 0x20 || (unsigned char)cfg->server[i] >= 0x7f)
			return diag_set(d, -EINVAL, "API server URL '%s' has a bad character",
					cfg->server);
	if (strncmp(cfg->server, "https://", 8) != 0 && strncmp(cfg->server, "http://", 7) != 0)
		return diag_set(d, -EINVAL, "API server URL '%s' is not http(s)", cfg->server);
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->cfg = cfg;
	h->tls = strncmp(cfg->server, "https://", 8) == 0;
	while (n > 0 && cfg->server[n - 1] == '/')
		n--;
	h->base = strndup(cfg->server, n);
	if (!h->base) {
		r = -ENOMEM;
		goto out;
	}
	r = k8s_token_init(&h->token, cfg->token, cfg->token_file, now_ms);
	if (r < 0)
		goto out;
	*out = h;
	h = NULL;
out:
	k8s_http_free(h);
	return r;
}

void k8s_http_free(struct k8s_http *h)
{
	if (!h)
		return;
	k8s_token_release(&h->token);
	free(h->base);
	free(h);
}

void k8s_http_unauthorized(struct k8s_http *h)
{
	h->reread = true;
}

struct k8s_token *k8s_http_token(struct k8s_http *h)
{
	return &h->token;
}

unsigned k8s_http_retry_after(const char *value, size_t len)
{
	unsigned long v = 0;
	size_t i = 0;

	while (i < len && (value[i] == ' ' || value[i] == '\t'))
		i++;
	while (len > i && strchr(" \t\r\n", value[len - 1]))
		len--;
	if (i == len)
		return 0;
	for (; i < len; i++) {
		if (value[i] < '0' || value[i] > '9')
			return 0; /* the HTTP-date form is not worth a date parser */
		v = v * 10 + (unsigned long)(value[i] - '0');
		if (v > 86400)
			v = 86400;
	}
	return (unsigned)v;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
	static const char ra[] = "retry-after:";
	struct k8s_req *r = ud;
	size_t len = size * nmemb;

	if (len >= 5 && !memcmp(p, "HTTP/", 5)) {
		/* A new header block (after a 1xx, or the first): "HTTP/1.1 200 OK". */
		const char *sp = memchr(p, ' ', len);
		int code = 0;

		while (sp && (size_t)(sp - p) < len && *sp == ' ')
			sp++;
		while (sp && (size_t)(sp - p) < len && *sp >= '0' && *sp <= '9' && code < 1000)
			code = code * 10 + (*sp++ - '0');
		r->code = code;
		r->retry_after_s = 0;
		return len;
	}
	if (len <= 2 && (len == 0 || p[0] == '\r' || p[0] == '\n')) {
		if (r->code < 200 || r->answered)
			return len;
		r->answered = true;
		if (r->ops && r->ops->start) {
			int e = r->ops->start(r->ctx, r->code);

			if (e < 0) {
				r->cb_err = e;
				return 0;
			}
		}
		return len;
	}
	if (len > sizeof(ra) - 1 && !strncasecmp(p, ra, sizeof(ra) - 1))
		r->retry_after_s = k8s_http_retry_after(p + sizeof(ra) - 1, len - (sizeof(ra) - 1));
	return len;
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
	struct k8s_req *r = ud;
	size_t len = size * nmemb, room;

	if (r->code >= 200 && r->code < 300) {
		if (r->ops && r->ops->data) {
			int e = r->ops->data(r->ctx, p, len);

			if (e < 0) {
				r->cb_err = e;
				return 0;
			}
		}
		return len;
	}
	/* An error body: keep its head, drop the rest (a Status is small). */
	room = K8S_HTTP_ERROR_BODY_MAX - r->errbody.len;
	if (room)
		(void)buf_append(&r->errbody, p, len < room ? len : room);
	return len;
}

static int set_tls(struct k8s_req *r, const struct k8s_config *cfg)
{
	CURL *e = r->easy;
	CURLcode c = CURLE_OK;

	if (cfg->insecure_skip_tls_verify) {
		c |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		c |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	} else {
		c |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
		c |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	}
	if (cfg->ca_file) {
		c |= curl_easy_setopt(e, CURLOPT_CAINFO, cfg->ca_file);
	} else if (cfg->ca_pem) {
		struct curl_blob blob = { .data = cfg->ca_pem,
					  .len = strlen(cfg->ca_pem),
					  .flags = CURL_BLOB_COPY };

		c |= curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
	}
	if (cfg->cert_file) {
		c |= curl_easy_setopt(e, CURLOPT_SSLCERT, cfg->cert_file);
		c |= curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
	} else if (cfg->cert_pem) {
		struct curl_blob blob = { .data = cfg->cert_pem,
					  .len = strlen(cfg->cert_pem),
					  .flags = CURL_BLOB_COPY };

		c |= curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &blob);
		c |= curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
	}
	if (cfg->key_file) {
		c |= curl_easy_setopt(e, CURLOPT_SSLKEY, cfg->key_file);
		c |= curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
	} else if (cfg->key_pem) {
		struct curl_blob blob = { .data = cfg->key_pem,
					  .len = strlen(cfg->key_pem),
					  .flags = CURL_BLOB_COPY };

		c |= curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &blob);
		c |= curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
	}
	return c == CURLE_OK ? 0 : -EINVAL;
}

static int add_header(struct curl_slist **list, const char *line)
{
	struct curl_slist *n = curl_slist_append(*list, line);

	if (!n)
		return -ENOMEM;
	*list = n;
	return 0;
}

int k8s_req_new(struct k8s_http *h, const struct k8s_req_opts *o, uint64_t now_ms,
		struct k8s_req **out, struct diag *d)
{
	struct k8s_req *r = NULL;
	bool post = o->method && strcmp(o->method, "POST") == 0;
	CURLcode c = CURLE_OK;
	struct buf url;
	int ret;

	buf_init(&url, URL_MAX);
	if (!o->path || o->path[0] != '/')
		return diag_set(d, -EINVAL, "request path '%s' is not absolute",
				o->path ? o->path : "");
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->h = h;
	r->method = post ? "POST" : "GET";
	r->ops = o->ops;
	r->ctx = o->ctx;
	buf_init(&r->errbody, K8S_HTTP_ERROR_BODY_MAX);
	ret = buf_appendf(&url, "%s%s", h->base, o->path);
	if (ret < 0) {
		ret = diag_set(d, ret == -E2BIG ? -EINVAL : ret,
			       "request URL for '%.64s' is too long", o->path);
		goto out;
	}
	r->url = buf_detach(&url, NULL);
	r->easy = curl_easy_init();
	if (!r->url || !r->easy) {
		ret = -ENOMEM;
		goto out;
	}

	(void)k8s_token_refresh(&h->token, now_ms, h->reread);
	h->reread = false;
	ret = add_header(&r->headers, "Accept: application/json");
	if (ret == 0 && post)
		ret = add_header(&r->headers, "Content-Type: application/json");
	if (ret == 0)
		ret = add_header(&r->headers, "Expect:");
	/* Credentials only over TLS, like kubectl. */
	if (ret == 0 && h->tls && h->token.value) {
		size_t n = strlen("Authorization: Bearer ") + strlen(h->token.value) + 1;

		r->auth = malloc(n);
		if (!r->auth) {
			ret = -ENOMEM;
			goto out;
		}
		(void)snprintf(r->auth, n, "Authorization: Bearer %s", h->token.value);
		ret = add_header(&r->headers, r->auth);
	}
	if (ret < 0)
		goto out;

	c |= curl_easy_setopt(r->easy, CURLOPT_URL, r->url);
	c |= curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	c |= curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
	c |= curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
	c |= curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->errbuf);
	c |= curl_easy_setopt(r->easy, CURLOPT_USERAGENT, USER_AGENT);
	c |= curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
	c |= curl_easy_setopt(r->easy, CURLOPT_ACCEPT_ENCODING, "gzip");
	c |= curl_easy_setopt(r->easy, CURLOPT_HEADERFUNCTION, on_header);
	c |= curl_easy_setopt(r->easy, CURLOPT_HEADERDATA, r);
	c |= curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_data);
	c |= curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
	c |= curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT, (long)K8S_HTTP_CONNECT_TIMEOUT_S);
	c |= curl_easy_setopt(r->easy, CURLOPT_TIMEOUT, o->timeout_s > 0 ? o->timeout_s : 60L);
	c |= curl_easy_setopt(r->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	c |= curl_easy_setopt(r->easy, CURLOPT_TCP_KEEPIDLE, 30L);
	c |= curl_easy_setopt(r->easy, CURLOPT_TCP_KEEPINTVL, 10L);
	c |= curl_easy_setopt(r->easy, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
	if (!o->stream) {
		c |= curl_easy_setopt(r->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
		c |= curl_easy_setopt(r->easy, CURLOPT_LOW_SPEED_TIME, (long)K8S_HTTP_STALL_S);
	}
	if (post) {
		c |= curl_easy_setopt(r->easy, CURLOPT_POST, 1L);
		c |= curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, o->body ? o->body : "");
		c |= curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE,
				      (curl_off_t)(o->body ? o->body_len : 0));
	}
	if (c != CURLE_OK) {
		ret = diag_set(d, -EINVAL, "cannot set up a request to '%s'", r->url);
		goto out;
	}
	ret = set_tls(r, h->cfg);
	if (ret < 0) {
		ret = diag_set(d, ret, "cannot set up TLS for '%s'", r->url);
		goto out;
	}
	*out = r;
	r = NULL;
out:
	buf_release(&url);
	k8s_req_free(r);
	return ret;
}

void *k8s_req_handle(struct k8s_req *r)
{
	return r->easy;
}

static int curl_errno(CURLcode c)
{
	switch (c) {
	case CURLE_OK:
		return 0;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_BAD_CONTENT_ENCODING:
		return -ECONNRESET;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_USE_SSL_FAILED:
		return -EPROTO;
	default:
		return -EIO;
	}
}

/* The URL without its query, for messages (the query can be long; it holds no secret). */
static int path_len(const char *url)
{
	const char *q = strchr(url, '?');
	size_t n = q ? (size_t)(q - url) : strlen(url);

	return n > 200 ? 200 : (int)n;
}

void k8s_req_finish(struct k8s_req *r, int curl_code, struct k8s_http_result *res, struct diag *d)
{
	memset(res, 0, sizeof(*res));
	res->http_code = r->code;
	res->answered = r->answered;
	res->retry_after_s = r->retry_after_s;
	if (r->cb_err) {
		res->err = r->cb_err;
		res->aborted = true;
	} else if (curl_code != CURLE_OK) {
		res->err = curl_errno((CURLcode)curl_code);
		(void)diag_set(d, res->err, "%s %.*s: %s", r->method, path_len(r->url), r->url,
			       r->errbuf[0] ? r->errbuf : curl_easy_strerror((CURLcode)curl_code));
	}
	if (r->code && (r->code < 200 || r->code >= 300))
		(void)k8s_status_parse(r->errbody.data, r->errbody.len, r->code, &res->status);
}

void k8s_req_free(struct k8s_req *r)
{
	if (!r)
		return;
	if (r->easy)
		curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	wipe_free(r->auth);
	free(r->url);
	buf_release(&r->errbody);
	free(r);
}

int k8s_http_code_errno(int http_code)
{
	if (http_code == 401 || http_code == 403)
		return -EACCES;
	if (http_code == 404)
		return -ENOENT;
	if (http_code == 410)
		return -ESTALE;
	if (http_code == 429)
		return -EBUSY;
	if (http_code == 504)
		return -ETIMEDOUT;
	if (http_code >= 500)
		return -EIO;
	return -EINVAL;
}

int k8s_http_query_add(struct buf *b, const char *key, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *v = (const unsigned char *)value;
	bool first = !b->data || !memchr(b->data, '?', b->len);
	int r;

	r = buf_appendf(b, "%c%s=", first ? '?' : '&', key);
	for (; r == 0 && *v; v++) {
		if ((*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') ||
		    (*v >= '0' && *v <= '9') || *v == '-' || *v == '.' || *v == '_' || *v == '~') {
			r = buf_append(b, v, 1);
		} else {
			char pct[3] = { '%', hex[*v >> 4], hex[*v & 15] };

			r = buf_append(b, pct, 3);
		}
	}
	return r;
}
