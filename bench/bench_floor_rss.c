/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The memory floor for the daemon benchmark: a process that links the same
 * libraries as seccomp-syncd (the whole library, so libcurl, OpenSSL, yajl,
 * libyaml, libseccomp and libmicrohttpd are loaded) and makes one TLS list
 * request to the same API server through the same client code, then prints its
 * peak RSS.  Whatever the daemon uses above this is the cost of its own state.
 *
 * usage: bench_floor_rss KUBECONFIG NAMESPACE
 * prints: vmhwm_kib=N
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/diag.h"
#include "k8s/config.h"
#include "k8s/loop.h"

static unsigned long objects;

static void relist_begin(void *ctx)
{
	(void)ctx;
}

static void relist_object(void *ctx, const struct k8s_object *o)
{
	(void)ctx;
	(void)o;
	objects++;
}

static void relist_end(void *ctx)
{
	(void)ctx;
}

static void event(void *ctx, enum k8s_event_type type, const struct k8s_object *o)
{
	(void)ctx;
	(void)type;
	(void)o;
}

static void trouble(void *ctx, int err, bool fatal, const struct diag *d)
{
	(void)ctx;
	fprintf(stderr, "bench_floor_rss: %s (%s)%s\n", d ? d->msg : "", strerror(-err),
		fatal ? ", giving up" : "");
}

static long vmhwm_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmHWM:", 6))
			kib = strtol(line + 6, NULL, 10);
	fclose(f);
	return kib;
}

int main(int argc, char **argv)
{
	static const struct k8s_watch_ops ops = { relist_begin, relist_object, relist_end, event,
						  trouble };
	struct k8s_watch_spec spec = { 0 };
	struct k8s_loop_opts lopts = { 0 };
	struct k8s_config *cfg = NULL;
	struct k8s_loop *loop = NULL;
	struct diag d;
	int r, i;

	if (argc != 3) {
		fprintf(stderr, "usage: bench_floor_rss KUBECONFIG NAMESPACE\n");
		return 2;
	}
	r = k8s_config_load(argv[1], NULL, &cfg, &d);
	if (r < 0) {
		fprintf(stderr, "bench_floor_rss: %s\n", d.msg);
		return 1;
	}
	lopts.cfg = cfg;
	r = k8s_loop_new(&lopts, &loop, &d);
	if (r == 0) {
		spec.resource = "configmaps";
		spec.kind = K8S_KIND_CONFIGMAP;
		spec.ns = argv[2];
		spec.list_only = true;
		r = k8s_loop_add_watch(loop, &spec, &ops, NULL, &d);
	}
	for (i = 0; r == 0 && i < 600; i++) {
		r = k8s_loop_run(loop, 100, &d);
		if (r == K8S_LOOP_DONE || k8s_loop_synced(loop)) {
			r = 0;
			break;
		}
	}
	if (r < 0)
		fprintf(stderr, "bench_floor_rss: %s\n", d.msg);
	else
		printf("vmhwm_kib=%ld objects=%lu synced=%d\n", vmhwm_kib(), objects,
		       k8s_loop_synced(loop));
	k8s_loop_free(loop);
	k8s_config_free(cfg);
	return r < 0 ? 1 : 0;
}
