/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `seccomp-syncd run`: the node daemon.
 *
 * Start-up goes in OpenBSD order: parse the configuration (a bad flag exits 2
 * before anything is touched), load the API credentials, take the store's
 * lock, start the HTTP endpoint, then confine the process (no_new_privs, no
 * capabilities, our own seccomp allow-list) and only then talk to the API.
 *
 * The loop thread does all the work: the list+watch callbacks feed objects to
 * the pure sync logic (daemon/sync.c), which says what to validate, write and
 * remove; this file does that I/O through the profile cache and the store and
 * hands each outcome to daemon/report.c.  Nothing is removed before every
 * watch has delivered its first complete list.
 *
 * With --node-name a second list+watch on the same loop follows the pods of
 * this node (daemon/podwatch.c): every removal first asks podwatch_keep(), so
 * a file that a running pod uses is retained until its last pod is gone, and
 * after each loop slice podwatch_tick() checks what the pods reference.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/cmd.h"
#include "daemon/config.h"
#include "daemon/endpoint.h"
#include "daemon/log.h"
#include "daemon/metrics.h"
#include "daemon/podwatch.h"
#include "daemon/report.h"
#include "daemon/sandbox.h"
#include "daemon/sync.h"
#include "k8s/config.h"
#include "k8s/loop.h"
#include "profilestore/profile.h"
#include "profilestore/store.h"

#ifndef SYNCD_VERSION
#define SYNCD_VERSION "unknown"
#endif

/*
 * Verdicts kept in memory.  A relist trusts files already on disk by digest, so
 * the cache only saves work for content seen in several ConfigMaps and for
 * invalid profiles seen again.  Bounded by bytes as well as by count: a
 * docker-default-sized verdict with its findings is about 6 KiB, a clean one a
 * few hundred bytes, and every KiB here is peak RSS (bench/results-daemon.md).
 */
#define PROFILE_CACHE_SIZE  1024
#define PROFILE_CACHE_BYTES (128 * 1024)
#define LOOP_SLICE_MS	    1000

struct run;

/* One list+watch: all namespaces, or one of --namespace. */
struct watch_ctx {
	struct run *run;
	const char *ns; /* NULL: every namespace */
	unsigned gen;	/* generation of its current (or last) relist */
};

struct run {
	struct run_config cfg;
	struct k8s_config *kcfg;
	struct store *store;
	struct metrics *metrics;
	struct endpoint *endpoint;
	struct profile_cache *cache;
	struct sync_table *table;
	struct k8s_loop *loop;
	struct report report;
	struct profile_opts popts;
	struct sync_opts sopts;
	struct watch_ctx *watches;
	size_t n_watches;
	struct podwatch *podwatch; /* pods on this node; NULL without --node-name */
	char recorded_version[128];

	bool synced;		/* every watch has listed once: removals may happen */
	bool reconcile_pending; /* a relist ended: walk the pending removals */
	bool ready;
	/* Counters for the start-up summary and --once's exit code. */
	unsigned long n_checked, n_trusted, n_written, n_invalid, n_failed, n_removed;
	int api_error; /* a list_only watch gave up (--once) */
};

static volatile sig_atomic_t stop_requested;
static struct k8s_loop *volatile signal_loop;

static void on_signal(int sig)
{
	struct k8s_loop *l = signal_loop;

	(void)sig;
	stop_requested = 1;
	if (l)
		k8s_loop_wakeup(l);
}

static double mono_now(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_now(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct report_cm cm_of(const struct k8s_object *o)
{
	struct report_cm cm = { o->ns, o->name, o->uid, o->resource_version };

	return cm;
}

/* CHECK: validate through the cache, then write; the outcome goes into @st. */
static void do_check(struct run *run, const struct k8s_object *o, struct sync_step *st, double t0)
{
	const struct report_cm cm = cm_of(o);
	const struct profile_verdict *v = NULL;
	struct diag d;
	bool hit;
	int r;

	run->n_checked++;
	r = profile_cache_check(run->cache, st->data, st->len, &run->popts, &v, &hit, &d);
	if (r < 0) {
		st->outcome = SYNC_OUT_FAILED;
		run->n_failed++;
		report_failed(&run->report, &cm, st->key, "cannot check profile", &d);
		return;
	}
	if (!v->valid) {
		bool kept = st->had_file;

		run->n_invalid++;
		st->outcome = SYNC_OUT_INVALID;
		if (st->remove_if_invalid && run->synced &&
		    podwatch_in_use(run->podwatch, o->ns, o->name, st->key)) {
			/* A pod here uses the old file: it stays, as this ConfigMap's last good. */
			log_kv(LOG_LVL_INFO, "invalid update not applied: a pod here uses the file",
			       "namespace", o->ns, "configmap", o->name, "key", st->key, LOG_END);
			podwatch_wanted(run->podwatch, o->ns, o->name, st->key);
		} else if (st->remove_if_invalid && run->synced) {
			r = store_remove(run->store, o->ns, o->name, st->key, &d);
			if (r < 0) {
				report_failed(&run->report, &cm, st->key, "cannot remove profile",
					      &d);
			} else {
				st->outcome = SYNC_OUT_INVALID_REMOVED;
				kept = false;
				podwatch_removed(run->podwatch, o->ns, o->name, st->key);
				if (r == 0)
					report_removed(&run->report, &cm, st->key,
						       "the configmap was replaced (new uid) and "
						       "its profile is invalid");
			}
		}
		report_invalid(&run->report, &cm, st->key, v, kept);
		return;
	}
	r = store_write(run->store, o->ns, o->name, st->key, st->data, st->len, &d);
	if (r < 0) {
		st->outcome = SYNC_OUT_FAILED;
		run->n_failed++;
		report_failed(&run->report, &cm, st->key, "cannot write profile", &d);
		return;
	}
	podwatch_wanted(run->podwatch, o->ns, o->name, st->key);
	if (r == STORE_UNCHANGED) {
		st->outcome = SYNC_OUT_UNCHANGED;
		report_saved(&run->report, &cm, st->key, v, false);
		return;
	}
	st->outcome = SYNC_OUT_WRITTEN;
	run->n_written++;
	if (t0 > 0 && run->metrics)
		metrics_observe_sync_latency(run->metrics, mono_now() - t0);
	report_saved(&run->report, &cm, st->key, v, true);
}

static void do_remove(struct run *run, const struct k8s_object *o, bool deleted,
		      const struct sync_plan *plan, struct sync_step *st)
{
	const struct report_cm cm = cm_of(o);
	struct diag d;
	int r;

	if (!run->synced || podwatch_keep(run->podwatch, &cm, !deleted, st->key)) {
		/* Not yet (a watch has not listed), or retained: stays pending. */
		st->outcome = SYNC_OUT_DEFERRED;
		return;
	}
	r = store_remove(run->store, o->ns, o->name, st->key, &d);
	if (r < 0) {
		st->outcome = SYNC_OUT_FAILED;
		run->n_failed++;
		report_failed(&run->report, &cm, st->key, "cannot remove profile", &d);
		return;
	}
	st->outcome = SYNC_OUT_REMOVED;
	podwatch_removed(run->podwatch, o->ns, o->name, st->key);
	if (r == 0) {
		run->n_removed++;
		report_removed(&run->report, &cm, st->key,
			       plan->kind == SYNC_PLAN_REMOVE && plan->reason
				       ? plan->reason
				       : "key removed from the configmap");
	}
}

/* One object from a list or a watch event: plan, do, record. */
static void handle_object(struct run *run, const struct k8s_object *o, bool deleted, unsigned gen,
			  double t0)
{
	const struct report_cm cm = cm_of(o);
	struct sync_plan plan;
	struct diag d;
	size_t i;

	if (stop_requested || o->kind != K8S_KIND_CONFIGMAP)
		return;
	if (sync_plan_object(run->table, o, deleted, &run->sopts, &plan, &d) < 0) {
		log_kv(LOG_LVL_ERROR, "cannot plan configmap", "namespace", o->ns, "configmap",
		       o->name, "error", d.msg, (char *)NULL);
		return;
	}
	if (plan.kind == SYNC_PLAN_REFUSED) {
		run->n_invalid++;
		report_refused(&run->report, &cm, NULL, plan.refusal.msg);
	}
	for (i = 0; i < plan.n_steps; i++) {
		struct sync_step *st = &plan.steps[i];
		struct diag why;

		switch (st->op) {
		case SYNC_OP_NONE:
			break;
		case SYNC_OP_TRUST:
			run->n_trusted++;
			st->outcome = SYNC_OUT_TRUSTED;
			podwatch_wanted(run->podwatch, o->ns, o->name, st->key);
			log_kv(LOG_LVL_DEBUG, "profile already on disk", "namespace", o->ns,
			       "configmap", o->name, "key", st->key, (char *)NULL);
			break;
		case SYNC_OP_CHECK:
			do_check(run, o, st, t0);
			break;
		case SYNC_OP_REMOVE:
			do_remove(run, o, deleted, &plan, st);
			break;
		case SYNC_OP_REFUSE:
			run->n_invalid++;
			st->outcome = SYNC_OUT_REFUSED;
			if (store_check_name(o->ns, o->name, st->key, &why) == 0)
				diag_set(&why, -EINVAL,
					 "the key appears twice (data and binaryData)");
			report_refused(&run->report, &cm, st->key, why.msg);
			break;
		}
	}
	/*
	 * A list page can hold hundreds of profiles to compile inside one
	 * k8s_loop_run(): tick here too, so that /healthz does not call a
	 * daemon busy with its first sync dead.
	 */
	if (plan.n_steps)
		metrics_loop_tick(run->metrics, mono_now());
	if (sync_apply(run->table, o, &plan, gen, &d) < 0)
		log_kv(LOG_LVL_ERROR, "cannot record configmap", "namespace", o->ns, "configmap",
		       o->name, "error", d.msg, (char *)NULL);
	sync_plan_release(&plan);
	report_profiles(&run->report, run->table);
	podwatch_touch(run->podwatch);
}

static int remove_pending(void *ctx, const struct sync_removal *rm)
{
	struct run *run = ctx;
	struct report_cm cm = { rm->ns, rm->cm, rm->uid, rm->rv };
	const struct sync_cm *rec = sync_table_find(run->table, rm->ns, rm->cm);
	struct diag d;
	int r;

	if (stop_requested)
		return 0;
	if (podwatch_keep(run->podwatch, &cm, rec && sync_cm_selected(rec), rm->key))
		return 0; /* retained: a pod on this node uses it */
	r = store_remove(run->store, rm->ns, rm->cm, rm->key, &d);
	if (r < 0) {
		run->n_failed++;
		report_failed(&run->report, &cm, rm->key, "cannot remove profile", &d);
		return 0;
	}
	podwatch_removed(run->podwatch, rm->ns, rm->cm, rm->key);
	if (r == 0) {
		run->n_removed++;
		report_removed(&run->report, &cm, rm->key, rm->reason);
	}
	return 1;
}

/*
 * After every callback batch: once every watch has listed, walk the pending
 * removals (the reconcile), and the first time, declare readiness and record
 * the validator version that the files on disk were checked with.
 */
static void after_change(struct run *run)
{
	struct diag d;
	char n0[24], n1[24], n2[24], n3[24], n4[24];

	if (!run->synced && k8s_loop_synced(run->loop)) {
		run->synced = true;
		run->reconcile_pending = true;
	}
	if (podwatch_take_released(run->podwatch))
		run->reconcile_pending = true; /* a retained file lost its last pod */
	if (!run->synced || !run->reconcile_pending || stop_requested)
		return;
	run->reconcile_pending = false;
	(void)sync_table_removals(run->table, remove_pending, run);
	report_profiles(&run->report, run->table);
	if (run->metrics)
		metrics_set_last_full_sync(run->metrics, wall_now());
	if (run->ready)
		return;
	run->ready = true;
	if (strcmp(run->recorded_version, profile_validator_version()) != 0) {
		if (store_state_set(run->store, profile_validator_version(), &d) < 0)
			log_kv(LOG_LVL_ERROR, "cannot record the validator version", "error", d.msg,
			       (char *)NULL);
	}
	if (run->metrics)
		metrics_set_ready(run->metrics);
	snprintf(n0, sizeof(n0), "%zu", sync_table_size(run->table));
	snprintf(n1, sizeof(n1), "%lu", run->n_checked);
	snprintf(n2, sizeof(n2), "%lu", run->n_trusted);
	snprintf(n3, sizeof(n3), "%lu", run->n_written);
	snprintf(n4, sizeof(n4), "%lu", run->n_removed);
	log_kv(LOG_LVL_INFO, "first sync done", "configmaps", n0, "checked", n1, "trusted", n2,
	       "written", n3, "removed", n4, (char *)NULL);
}

/* One entry of the store walk at a relist: into the sync table. */
static int disk_entry(void *ctx, const struct store_entry *e, struct diag *d)
{
	struct watch_ctx *w = ctx;
	int r;

	if (e->type == STORE_ENTRY_OTHER)
		log_kv(LOG_LVL_WARN, "not a regular file, left alone", "namespace", e->ns,
		       "configmap", e->cm, "key", e->key, (char *)NULL);
	r = sync_table_disk_entry(w->run->table, w->ns, e);
	if (r < 0)
		return diag_set(d, r, "out of memory reading the profiles on disk");
	return 0;
}

static void cb_relist_begin(void *ctx)
{
	struct watch_ctx *w = ctx;
	struct run *run = w->run;
	struct diag d;

	w->gen = sync_table_next_gen(run->table);
	/* Walked, not listed: at 10,000 files a listing would be a 6 MiB array. */
	sync_table_disk_begin(run->table, w->ns);
	if (store_walk(run->store, w->ns, disk_entry, w, &d) < 0) {
		log_kv(LOG_LVL_ERROR, "cannot list the profiles on disk", "error", d.msg,
		       (char *)NULL);
		return;
	}
	sync_table_disk_end(run->table, w->ns);
}

static void cb_relist_object(void *ctx, const struct k8s_object *o)
{
	struct watch_ctx *w = ctx;

	handle_object(w->run, o, false, w->gen, 0);
}

static void cb_relist_end(void *ctx)
{
	struct watch_ctx *w = ctx;
	struct run *run = w->run;
	char n[24];

	if (stop_requested)
		return;
	snprintf(n, sizeof(n), "%zu", sync_table_vanish(run->table, w->ns, w->gen));
	log_kv(LOG_LVL_DEBUG, "relist done", "namespace", w->ns, "vanished", n, (char *)NULL);
	run->reconcile_pending = true;
	after_change(run);
}

static void cb_event(void *ctx, enum k8s_event_type type, const struct k8s_object *o)
{
	struct watch_ctx *w = ctx;
	double t0 = mono_now();

	if (type != K8S_EV_ADDED && type != K8S_EV_MODIFIED && type != K8S_EV_DELETED)
		return;
	handle_object(w->run, o, type == K8S_EV_DELETED, w->gen, t0);
	after_change(w->run);
}

static void cb_trouble(void *ctx, int err, bool fatal, const struct diag *d)
{
	struct watch_ctx *w = ctx;

	log_kv(fatal ? LOG_LVL_ERROR : LOG_LVL_WARN,
	       fatal ? "api unreachable, giving up" : "api trouble, retrying", "namespace", w->ns,
	       "error", d ? d->msg : NULL, "errno", strerror(-err), (char *)NULL);
	if (fatal)
		w->run->api_error = err ? err : -EIO;
}

static const struct k8s_watch_ops watch_ops = {
	.relist_begin = cb_relist_begin,
	.relist_object = cb_relist_object,
	.relist_end = cb_relist_end,
	.event = cb_event,
	.trouble = cb_trouble,
};

static void obs_request(void *ctx, const char *resource, int code)
{
	struct run *run = ctx;

	metrics_api_request(run->metrics, resource, code);
}

static void obs_restart(void *ctx, const char *resource, const char *reason)
{
	struct run *run = ctx;

	metrics_watch_restart(run->metrics, resource, reason);
	log_kv(LOG_LVL_DEBUG, "watch restarted", "resource", resource, "reason", reason,
	       (char *)NULL);
}

static void obs_event(void *ctx, const char *reason, int code)
{
	char c[16];

	(void)ctx;
	snprintf(c, sizeof(c), "%d", code);
	log_kv(code >= 200 && code < 300 ? LOG_LVL_DEBUG : LOG_LVL_INFO, "event posted", "reason",
	       reason, "code", c, (char *)NULL);
}

/* The pod watch changed the pods on this node. */
static void pods_changed(void *ctx)
{
	after_change(ctx);
}

/*
 * With --node-name, the second list+watch: the pods on this node, for
 * retention and reference checks.  Without it, the feature is off.
 */
static int start_pods(struct run *run, struct diag *d)
{
	struct podwatch_opts po = {
		.node_name = run->cfg.node_name,
		.kubelet_dir = run->cfg.kubelet_dir,
		.namespaces = (const char *const *)run->cfg.namespaces,
		.n_namespaces = run->cfg.n_namespaces,
		.table = run->table,
		.report = &run->report,
		.changed = pods_changed,
		.changed_ctx = run,
	};
	struct k8s_watch_spec spec;
	int r;

	if (!run->cfg.node_name || !run->cfg.node_name[0]) {
		log_kv(LOG_LVL_INFO,
		       "pods on this node: off (no --node-name): files of deleted configmaps are "
		       "removed even while pods use them, and pod references are not checked",
		       LOG_END);
		return 0;
	}
	r = podwatch_new(&po, &run->podwatch, d);
	if (r < 0)
		return r;
	spec = podwatch_spec(run->podwatch, run->cfg.once);
	r = k8s_loop_add_watch(run->loop, &spec, &podwatch_ops, run->podwatch, d);
	if (r < 0)
		return r;
	log_kv(LOG_LVL_INFO, "pods on this node: on", "field_selector", spec.field_selector,
	       LOG_END);
	return 0;
}

static const struct k8s_loop_observer observer = {
	.request = obs_request,
	.watch_restart = obs_restart,
	.event_posted = obs_event,
};

/*
 * Sanitizer and valgrind runtimes need more system calls than the daemon
 * itself; the environment variable forces the extended list for runtimes that
 * sandbox_runtime_extended() cannot detect.
 */
static bool sandbox_extended(void)
{
	const char *v = getenv("SECCOMP_SYNCD_SANDBOX_EXTENDED");

	return sandbox_runtime_extended() || (v && !strcmp(v, "1"));
}

static int install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
		return -errno;
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) < 0)
		return -errno;
	return 0;
}

/* Everything up to the loop; Return: 0 or the exit code to leave with. */
static int start(struct run *run)
{
	struct k8s_loop_opts lopts = { 0 };
	struct sandbox_opts sb = { 0 };
	struct diag d;
	size_t i;
	int r;

	r = k8s_config_load(run->cfg.kubeconfig, run->cfg.context, &run->kcfg, &d);
	if (r < 0) {
		log_kv(LOG_LVL_ERROR, "cannot load the API configuration", "error", d.msg,
		       (char *)NULL);
		return EXIT_USAGE;
	}
	if (metrics_new(&run->metrics) < 0 || sync_table_new(&run->table) < 0 ||
	    profile_cache_new(PROFILE_CACHE_SIZE, PROFILE_CACHE_THREAD, &run->cache) < 0) {
		log_kv(LOG_LVL_ERROR, "out of memory", (char *)NULL);
		return EXIT_USAGE;
	}
	profile_cache_limit_bytes(run->cache, PROFILE_CACHE_BYTES);
	r = store_open(run->cfg.kubelet_dir, run->cfg.wait_lock ? STORE_WAIT_LOCK : 0, &run->store,
		       &d);
	if (r == -EWOULDBLOCK) {
		log_kv(LOG_LVL_ERROR,
		       "another seccomp-syncd holds the lock on the profile directory; stop it or "
		       "pass --wait-lock",
		       "kubelet_dir", run->cfg.kubelet_dir, (char *)NULL);
		return EXIT_USAGE;
	}
	if (r < 0) {
		log_kv(LOG_LVL_ERROR, "cannot open the profile store", "error", d.msg,
		       (char *)NULL);
		return EXIT_USAGE;
	}
	r = store_state_get(run->store, run->recorded_version, sizeof(run->recorded_version), &d);
	if (r < 0) {
		log_kv(LOG_LVL_WARN, "cannot read the state file; revalidating everything", "error",
		       d.msg, (char *)NULL);
		run->recorded_version[0] = '\0';
	}
	run->sopts.annotation = run->cfg.annotation;
	run->sopts.trust_disk = !strcmp(run->recorded_version, profile_validator_version());
	run->popts.arch = run->cfg.arch;
	run->report.metrics = run->metrics;

	if (!run->cfg.once) {
		r = endpoint_start(run->cfg.listen, run->metrics, &run->endpoint, &d);
		if (r < 0) {
			log_kv(LOG_LVL_ERROR, "cannot start the HTTP endpoint", "listen",
			       run->cfg.listen, "error", d.msg, (char *)NULL);
			return EXIT_USAGE;
		}
	}

	lopts.cfg = run->kcfg;
	lopts.node_name = run->cfg.node_name;
	lopts.observer = &observer;
	lopts.observer_ctx = run;
	lopts.events_per_minute = run->cfg.events_per_minute;
	r = k8s_loop_new(&lopts, &run->loop, &d);
	if (r < 0) {
		log_kv(LOG_LVL_ERROR, "cannot start the API client", "error", d.msg, (char *)NULL);
		return EXIT_USAGE;
	}
	run->report.loop = run->loop;
	run->n_watches = run->cfg.n_namespaces ? run->cfg.n_namespaces : 1;
	run->watches = calloc(run->n_watches, sizeof(*run->watches));
	if (!run->watches) {
		log_kv(LOG_LVL_ERROR, "out of memory", (char *)NULL);
		return EXIT_USAGE;
	}
	for (i = 0; i < run->n_watches; i++) {
		struct k8s_watch_spec spec = {
			.resource = "configmaps",
			.kind = K8S_KIND_CONFIGMAP,
			.ns = run->cfg.n_namespaces ? run->cfg.namespaces[i] : NULL,
			.label_selector = run->cfg.label_selector,
			.require_annotation = run->cfg.annotation,
			.list_only = run->cfg.once,
		};

		run->watches[i].run = run;
		run->watches[i].ns = spec.ns;
		r = k8s_loop_add_watch(run->loop, &spec, &watch_ops, &run->watches[i], &d);
		if (r < 0) {
			log_kv(LOG_LVL_ERROR, "cannot start the configmap watch", "error", d.msg,
			       (char *)NULL);
			return EXIT_USAGE;
		}
	}
	r = start_pods(run, &d);
	if (r < 0) {
		log_kv(LOG_LVL_ERROR, "cannot start the pod watch", "error", d.msg, LOG_END);
		return EXIT_USAGE;
	}

	signal_loop = run->loop;
	r = install_signals();
	if (r < 0) {
		log_kv(LOG_LVL_ERROR, "cannot install signal handlers", "error", strerror(-r),
		       (char *)NULL);
		return EXIT_USAGE;
	}
	sb.drop_caps = true;
	sb.seccomp = !run->cfg.no_sandbox;
	sb.extended = sandbox_extended();
	r = sandbox_enter(&sb, &d);
	if (r < 0) {
		log_kv(LOG_LVL_ERROR, "cannot confine the daemon", "error", d.msg, (char *)NULL);
		return EXIT_USAGE;
	}
	return 0;
}

/*
 * --once: after the sync, Events still queued behind the client-side rate
 * limit get this long to go out.  The files are what matters; a run that
 * saved thousands of profiles must not wait an hour for their Events.
 */
#define ONCE_EVENT_GRACE_S 10.0

static int loop(struct run *run)
{
	double once_deadline = 0;
	struct diag d;
	int r;

	while (!stop_requested) {
		r = k8s_loop_run(run->loop, LOOP_SLICE_MS, &d);
		metrics_loop_tick(run->metrics, mono_now());
		after_change(run);
		podwatch_tick(run->podwatch, mono_now(), run->synced);
		if (r < 0) {
			log_kv(LOG_LVL_ERROR, "event loop failed", "error", d.msg, (char *)NULL);
			return run->cfg.once ? EXIT_API : EXIT_USAGE;
		}
		if (r == K8S_LOOP_DONE)
			break;
		if (run->cfg.once && run->api_error)
			break;
		if (run->cfg.once && run->ready) {
			if (once_deadline == 0) {
				once_deadline = mono_now() + ONCE_EVENT_GRACE_S;
			} else if (mono_now() >= once_deadline) {
				log_kv(LOG_LVL_WARN, "events still queued at exit, not sent",
				       (char *)NULL);
				break;
			}
		}
	}
	if (stop_requested)
		log_kv(LOG_LVL_INFO, "stopping on signal", (char *)NULL);
	if (!run->cfg.once)
		return EXIT_OK;
	if (run->api_error || !run->synced)
		return EXIT_API;
	return run->n_invalid || run->n_failed ? EXIT_INVALID : EXIT_OK;
}

static void run_release(struct run *run)
{
	signal_loop = NULL;
	k8s_loop_free(run->loop);
	podwatch_free(run->podwatch);
	endpoint_stop(run->endpoint);
	store_close(run->store);
	profile_cache_free(run->cache);
	sync_table_free(run->table);
	metrics_free(run->metrics);
	k8s_config_free(run->kcfg);
	free(run->watches);
	run_config_release(&run->cfg);
}

int cmd_run(int argc, char **argv)
{
	struct run run;
	struct diag d;
	char nns[24];
	int r;

	memset(&run, 0, sizeof(run));
	stop_requested = 0;
	r = run_config_load(argc, argv, &run.cfg, &d);
	if (r == RUN_CONFIG_HELP) {
		run_config_usage(stdout);
		return EXIT_OK;
	}
	if (r < 0) {
		fprintf(stderr, "seccomp-syncd run: %s\n(see seccomp-syncd run --help)\n", d.msg);
		return EXIT_USAGE;
	}
	log_setup(run.cfg.log_format, run.cfg.log_level);
	snprintf(nns, sizeof(nns), "%zu", run.cfg.n_namespaces);
	log_kv(LOG_LVL_INFO, "starting", "version", SYNCD_VERSION, "node", run.cfg.node_name,
	       "kubelet_dir", run.cfg.kubelet_dir, "namespaces", run.cfg.n_namespaces ? nns : "all",
	       "label_selector", run.cfg.label_selector, "once", run.cfg.once ? "true" : "false",
	       "sandbox", run.cfg.no_sandbox ? "off" : "on", (char *)NULL);
	r = start(&run);
	if (r == 0)
		r = loop(&run);
	log_kv(LOG_LVL_INFO, "exiting", "code",
	       r == EXIT_OK	   ? "0"
	       : r == EXIT_INVALID ? "1"
	       : r == EXIT_USAGE   ? "2"
				   : "3",
	       (char *)NULL);
	run_release(&run);
	return r;
}
