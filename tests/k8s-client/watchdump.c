/* SPDX-License-Identifier: Apache-2.0 */
/*
 * watchdump: drive k8s/loop.h against an API server and print every callback
 * as one JSON line on stdout, so that tests/integration/test_k8s_client.py can
 * rebuild the client's view of the objects and compare it with the server's.
 *
 *   watchdump --kubeconfig PATH [--context NAME] [--resource configmaps]
 *             [--namespace NS] [--label-selector SEL] [--field-selector SEL]
 *             [--require-annotation KEY] [--once] [--streaming] [--node NAME]
 *             [--events-per-minute N] [--seconds N] [--watch-timeout MIN[:MAX]]
 *
 * Lines on stdin post Events (tab-separated):
 *   event<TAB>ns<TAB>kind<TAB>name<TAB>uid<TAB>rv<TAB>type<TAB>reason<TAB>dedup<TAB>message
 *
 * SIGTERM or SIGINT ends it cleanly (exit 0).  With --once it exits 0 when the
 * list completed, 3 when it failed.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/diag.h"
#include "k8s/config.h"
#include "k8s/loop.h"

static struct k8s_loop *the_loop;
static volatile sig_atomic_t stop;
static struct timespec started;

/* Every line starts with the milliseconds since start and the callback's name. */
static void begin(const char *cb)
{
	struct timespec now;
	long long ms;

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(now.tv_sec - started.tv_sec) * 1000 +
	     (now.tv_nsec - started.tv_nsec) / 1000000;
	printf("{\"t\":%lld,\"cb\":\"%s\"", ms, cb);
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
	if (the_loop)
		k8s_loop_wakeup(the_loop);
}

static void json_string(const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	putchar('"');
	for (; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

static const char *type_name(enum k8s_event_type t)
{
	switch (t) {
	case K8S_EV_ADDED:
		return "ADDED";
	case K8S_EV_MODIFIED:
		return "MODIFIED";
	case K8S_EV_DELETED:
		return "DELETED";
	case K8S_EV_BOOKMARK:
		return "BOOKMARK";
	case K8S_EV_ERROR:
		return "ERROR";
	}
	return "?";
}

static void print_object(const char *cb, const char *type, const struct k8s_object *o)
{
	begin(cb);
	if (type)
		printf(",\"type\":\"%s\"", type);
	printf(",\"ns\":");
	json_string(o->ns);
	printf(",\"name\":");
	json_string(o->name);
	printf(",\"uid\":");
	json_string(o->uid);
	printf(",\"rv\":");
	json_string(o->resource_version);
	printf(",\"keys\":%zu,\"skipped\":%s}\n", o->n_data + o->n_binary_data,
	       o->data_skipped ? "true" : "false");
	(void)fflush(stdout);
}

static void cb_relist_begin(void *ctx)
{
	(void)ctx;
	begin("relist_begin");
	printf("}\n");
	(void)fflush(stdout);
}

static void cb_relist_object(void *ctx, const struct k8s_object *o)
{
	(void)ctx;
	print_object("object", NULL, o);
}

static void cb_relist_end(void *ctx)
{
	(void)ctx;
	begin("relist_end");
	printf("}\n");
	(void)fflush(stdout);
}

static void cb_event(void *ctx, enum k8s_event_type type, const struct k8s_object *o)
{
	(void)ctx;
	print_object("event", type_name(type), o);
}

static int fatal_seen;

static void cb_trouble(void *ctx, int err, bool fatal, const struct diag *d)
{
	(void)ctx;
	if (fatal)
		fatal_seen = 1;
	begin("trouble");
	printf(",\"err\":%d,\"fatal\":%s,\"msg\":", err, fatal ? "true" : "false");
	json_string(d ? d->msg : "");
	printf("}\n");
	(void)fflush(stdout);
}

static void obs_request(void *ctx, const char *resource, int code)
{
	(void)ctx;
	begin("request");
	printf(",\"resource\":");
	json_string(resource);
	printf(",\"code\":%d}\n", code);
	(void)fflush(stdout);
}

static void obs_restart(void *ctx, const char *resource, const char *reason)
{
	(void)ctx;
	begin("restart");
	printf(",\"resource\":");
	json_string(resource);
	printf(",\"reason\":");
	json_string(reason);
	printf("}\n");
	(void)fflush(stdout);
}

static void obs_event_posted(void *ctx, const char *reason, int code)
{
	(void)ctx;
	begin("event_posted");
	printf(",\"reason\":");
	json_string(reason);
	printf(",\"code\":%d}\n", code);
	(void)fflush(stdout);
}

/* "event\tns\tkind\tname\tuid\trv\ttype\treason\tdedup\tmessage" */
static void command(struct k8s_loop *l, char *line)
{
	char *f[10];
	struct k8s_event_post ev = { 0 };
	struct diag d;
	size_t n = 0;
	char *p = line;
	int r;

	while (n < 10) {
		f[n++] = p;
		p = strchr(p, '\t');
		if (!p)
			break;
		*p++ = '\0';
	}
	if (n != 10 || strcmp(f[0], "event") != 0) {
		begin("bad_command");
		printf("}\n");
		(void)fflush(stdout);
		return;
	}
	ev.ns = f[1];
	ev.kind = f[2];
	ev.name = f[3];
	ev.uid = f[4];
	ev.resource_version = f[5];
	ev.type = f[6];
	ev.reason = f[7];
	ev.dedup = f[8];
	ev.message = f[9];
	diag_clear(&d);
	r = k8s_loop_post_event(l, &ev, &d);
	begin("queued");
	printf(",\"result\":%d,\"msg\":", r);
	json_string(d.msg);
	printf("}\n");
	(void)fflush(stdout);
}

/* Read what stdin has (never blocking) and run each complete line. */
static void read_commands(struct k8s_loop *l, char *buf, size_t cap, size_t *len, bool *open)
{
	struct pollfd pfd = { .fd = 0, .events = POLLIN };
	ssize_t n;
	char *nl;

	if (!*open || poll(&pfd, 1, 0) <= 0)
		return;
	n = read(0, buf + *len, cap - 1 - *len);
	if (n <= 0) {
		*open = false;
		return;
	}
	*len += (size_t)n;
	buf[*len] = '\0';
	while ((nl = strchr(buf, '\n'))) {
		*nl = '\0';
		command(l, buf);
		memmove(buf, nl + 1, *len - (size_t)(nl + 1 - buf) + 1);
		*len -= (size_t)(nl + 1 - buf);
	}
	if (*len == cap - 1)
		*len = 0; /* a line longer than the buffer: dropped */
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "kubeconfig", required_argument, NULL, 'k' },
		{ "context", required_argument, NULL, 'c' },
		{ "resource", required_argument, NULL, 'r' },
		{ "namespace", required_argument, NULL, 'n' },
		{ "label-selector", required_argument, NULL, 'l' },
		{ "field-selector", required_argument, NULL, 'f' },
		{ "require-annotation", required_argument, NULL, 'a' },
		{ "once", no_argument, NULL, 'o' },
		{ "streaming", no_argument, NULL, 's' },
		{ "node", required_argument, NULL, 'N' },
		{ "events-per-minute", required_argument, NULL, 'e' },
		{ "seconds", required_argument, NULL, 't' },
		{ "watch-timeout", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct k8s_watch_ops ops = {
		.relist_begin = cb_relist_begin,
		.relist_object = cb_relist_object,
		.relist_end = cb_relist_end,
		.event = cb_event,
		.trouble = cb_trouble,
	};
	static const struct k8s_loop_observer obs = {
		.request = obs_request,
		.watch_restart = obs_restart,
		.event_posted = obs_event_posted,
	};
	const char *kubeconfig = NULL, *context = NULL, *node = NULL;
	struct k8s_watch_spec spec = { .resource = "configmaps", .kind = K8S_KIND_CONFIGMAP };
	struct k8s_loop_opts lo = { 0 };
	struct k8s_config *cfg = NULL;
	struct k8s_loop *l = NULL;
	struct sigaction sa;
	char cmd[8192];
	size_t cmd_len = 0;
	bool stdin_open = true, synced = false;
	unsigned long seconds = 0, wt_min = 0, wt_max = 0;
	time_t start = time(NULL);
	struct diag d;
	int c, r, rc = 1;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'k':
			kubeconfig = optarg;
			break;
		case 'c':
			context = optarg;
			break;
		case 'r':
			spec.resource = optarg;
			spec.kind = strcmp(optarg, "pods") == 0 ? K8S_KIND_POD : K8S_KIND_CONFIGMAP;
			break;
		case 'n':
			spec.ns = optarg;
			break;
		case 'l':
			spec.label_selector = optarg;
			break;
		case 'f':
			spec.field_selector = optarg;
			break;
		case 'a':
			spec.require_annotation = optarg;
			break;
		case 'o':
			spec.list_only = true;
			break;
		case 's':
			spec.streaming_list = true;
			break;
		case 'N':
			node = optarg;
			break;
		case 'e':
			lo.events_per_minute = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 't':
			seconds = strtoul(optarg, NULL, 10);
			break;
		case 'w': {
			char *end;

			wt_min = strtoul(optarg, &end, 10);
			wt_max = *end == ':' ? strtoul(end + 1, NULL, 10) : wt_min;
			break;
		}
		default:
			fprintf(stderr, "usage: see the comment at the top of watchdump.c\n");
			return 2;
		}
	}

	(void)clock_gettime(CLOCK_MONOTONIC, &started);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)signal(SIGPIPE, SIG_IGN);

	diag_clear(&d);
	r = k8s_config_load(kubeconfig, context, &cfg, &d);
	if (r < 0) {
		fprintf(stderr, "watchdump: %s\n", d.msg);
		rc = 2;
		goto out;
	}
	lo.cfg = cfg;
	lo.node_name = node;
	lo.observer = &obs;
	r = k8s_loop_new(&lo, &l, &d);
	if (r == 0 && wt_min) {
		r = k8s_loop_set_watch_timeout(l, (unsigned)wt_min, (unsigned)wt_max);
		if (r < 0)
			(void)diag_set(&d, r, "bad --watch-timeout");
	}
	if (r == 0)
		r = k8s_loop_add_watch(l, &spec, &ops, NULL, &d);
	if (r < 0) {
		fprintf(stderr, "watchdump: %s\n", d.msg);
		rc = 2;
		goto out;
	}
	the_loop = l;
	while (!stop) {
		r = k8s_loop_run(l, 100, &d);
		if (r < 0) {
			fprintf(stderr, "watchdump: %s\n", d.msg);
			goto out;
		}
		if (!synced && k8s_loop_synced(l)) {
			synced = true;
			begin("synced");
			printf("}\n");
			(void)fflush(stdout);
		}
		if (r == K8S_LOOP_DONE) {
			begin("done");
			printf("}\n");
			(void)fflush(stdout);
			rc = fatal_seen ? 3 : 0;
			goto out;
		}
		read_commands(l, cmd, sizeof(cmd), &cmd_len, &stdin_open);
		if (seconds && (unsigned long)(time(NULL) - start) >= seconds)
			break;
	}
	rc = 0;
out:
	the_loop = NULL;
	k8s_loop_free(l);
	k8s_config_free(cfg);
	return rc;
}
