/* SPDX-License-Identifier: Apache-2.0 */
#ifndef SECCOMP_SYNCD_K8S_CONFIG_H
#define SECCOMP_SYNCD_K8S_CONFIG_H

/*
 * How to reach the API server: in-cluster (service account) or a kubeconfig
 * (libyaml).  Exec and auth-provider plugins are refused with a clear error.
 */

#include <stdbool.h>

#include "common/diag.h"

#define K8S_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* Limits on what is read from disk. */
#define K8S_CONFIG_MAX_FILE  ((size_t)1 << 20)	/* one kubeconfig file */
#define K8S_CONFIG_MAX_TOKEN ((size_t)64 << 10) /* a token file */
#define K8S_CONFIG_MAX_DEPTH 32			/* YAML nesting */
#define K8S_CONFIG_MAX_FILES 16			/* paths in a KUBECONFIG list */

struct k8s_config {
	char *server;  /* "https://host:port", IPv6 hosts in brackets */
	char *ca_file; /* at most one of ca_file and ca_pem */
	char *ca_pem;
	char *cert_file; /* client certificate: file or PEM */
	char *cert_pem;
	char *key_file;
	char *key_pem;
	char *token;	  /* a static token, or the last good read of token_file */
	char *token_file; /* re-read about every minute and after a 401 */
	bool insecure_skip_tls_verify;
	char *namespace; /* the context's or the pod's namespace, or NULL */
};

/**
 * k8s_config_load() - the configuration the daemon uses
 * @kubeconfig: a kubeconfig path (or several joined with ':'); NULL means in-cluster when
 *              KUBERNETES_SERVICE_HOST is set, else $KUBECONFIG, else ~/.kube/config
 * @context: a context name, or NULL for current-context
 * @out: a new config, freed with k8s_config_free()
 *
 * Return: 0 or a negative errno: -EINVAL for a malformed kubeconfig (or one that
 * names a missing context, cluster or user), -ENOTSUP for exec and auth-provider
 * users and basic authentication, -ENOENT when no kubeconfig file exists, -E2BIG
 * for a file over K8S_CONFIG_MAX_FILE.  The token never appears in @d.
 */
int k8s_config_load(const char *kubeconfig, const char *context, struct k8s_config **out,
		    struct diag *d);

/**
 * k8s_config_in_cluster() - service-account configuration from @sa_dir (K8S_SA_DIR in
 * production) and KUBERNETES_SERVICE_HOST/PORT.  Return: 0 or a negative errno.
 */
int k8s_config_in_cluster(const char *sa_dir, struct k8s_config **out, struct diag *d);

/**
 * k8s_config_parse_buffer() - the configuration from one kubeconfig held in memory
 * @data: the YAML text, @len bytes (at most K8S_CONFIG_MAX_FILE)
 * @dir: the directory relative file paths in it are resolved against
 * @context: a context name, or NULL for current-context
 * @out: a new config, freed with k8s_config_free()
 *
 * What k8s_config_load() does for each file, without opening the kubeconfig
 * itself (a tokenFile it names is still read), so that the parser can be
 * fuzzed and tested from strings.  Return: as k8s_config_load().
 */
int k8s_config_parse_buffer(const void *data, size_t len, const char *dir, const char *context,
			    struct k8s_config **out, struct diag *d);

/** k8s_config_free() - NULL is a no-op; the token is wiped before it is freed */
void k8s_config_free(struct k8s_config *c);

#endif
