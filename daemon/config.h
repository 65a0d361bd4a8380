/* SPDX-License-Identifier: Apache-2.0 */
#ifndef SECCOMP_SYNCD_DAEMON_CONFIG_H
#define SECCOMP_SYNCD_DAEMON_CONFIG_H

/*
 * The configuration of `seccomp-syncd run`: flags, environment variables and an
 * optional YAML file (libyaml), with precedence flag > env > file > default.
 * Every option has all three names, following DESIGN.md's pattern:
 * --kubelet-dir, SECCOMP_SYNCD_KUBELET_DIR, kubeletDir.  Every value is
 * checked here, so that a bad flag or file is reported (exit 2) before the
 * daemon touches anything.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "common/diag.h"
#include "daemon/log.h"

#define RUN_CONFIG_FILE_MAX	  (64 * 1024) /* bytes of the YAML file */
#define RUN_CONFIG_MAX_NS	  64	      /* --namespace values */
#define RUN_CONFIG_SELECTOR_MAX	  1024
#define RUN_CONFIG_DEFAULT_DIR	  "/var/lib/kubelet"
#define RUN_CONFIG_DEFAULT_ANNOT  "seccomp.security.kubernetes.io/profile"
#define RUN_CONFIG_DEFAULT_LISTEN ":9120"

/* Positive result of run_config_load(): --help was given, print run_config_usage(). */
#define RUN_CONFIG_HELP 1

struct run_config {
	char *config_file; /* --config: where the YAML came from, or NULL */
	char *kubeconfig;  /* NULL: in-cluster, else $KUBECONFIG, else ~/.kube/config */
	char *context;	   /* kubeconfig context, NULL: current-context */
	char *kubelet_dir; /* never NULL */
	char *node_name;   /* NULL when neither flag, env, NODE_NAME nor file sets it */
	char **namespaces; /* NULL-terminated when n_namespaces > 0; none: every namespace */
	size_t n_namespaces;
	char *label_selector; /* NULL: none */
	char *annotation;     /* never NULL */
	char *listen;	      /* never NULL; "" or "off" disables the endpoint */
	char *arch;	      /* NULL: this machine's */
	enum log_format log_format;
	enum log_level log_level;
	bool once;
	bool no_sandbox;
	bool wait_lock;
	unsigned events_per_minute;
};

/**
 * run_config_load() - build the configuration from @argv, the environment and the file
 * @argc: argument count, argv[0] being the subcommand name ("run")
 * @argv: the arguments
 * @cfg: caller-owned; filled in on success (release with run_config_release())
 * @d: what is wrong, naming the flag, variable or YAML key and the bad value
 *
 * Return: 0, RUN_CONFIG_HELP when --help was asked for (@cfg is then empty),
 * or -EINVAL (-ENOENT, -EIO... for an unreadable config file) with the reason in @d.
 */
int run_config_load(int argc, char **argv, struct run_config *cfg, struct diag *d);

/** run_config_release() - free what run_config_load() allocated; @cfg is zeroed */
void run_config_release(struct run_config *cfg);

/** run_config_usage() - the --help text: every flag with its env variable and YAML key */
void run_config_usage(FILE *f);

#endif
