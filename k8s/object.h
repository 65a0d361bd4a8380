/* SPDX-License-Identifier: Apache-2.0 */
#ifndef SECCOMP_SYNCD_K8S_OBJECT_H
#define SECCOMP_SYNCD_K8S_OBJECT_H

/*
 * One decoded Kubernetes object, as the streaming decoders hand it to a
 * callback.  Every pointer is borrowed from the decoder and valid only during
 * the callback: whoever needs something later copies it (the daemon keeps only
 * metadata and digests, never bodies).  Strings are NUL-terminated; data
 * values also carry a length because binaryData may hold NUL bytes.  A string
 * field the object did not have is "" (never NULL); only
 * k8s_profile_ref.container is NULL, for pod-level references.  Names, keys
 * and annotation values never contain NUL bytes: the decoder refuses them.
 */

#include <stdbool.h>
#include <stddef.h>

enum k8s_kind {
	K8S_KIND_CONFIGMAP = 0,
	K8S_KIND_POD,
};

enum k8s_event_type {
	K8S_EV_ADDED = 1,
	K8S_EV_MODIFIED,
	K8S_EV_DELETED,
	K8S_EV_BOOKMARK,
	K8S_EV_ERROR,
};

struct k8s_pair {
	const char *key;
	const char *value;
	size_t value_len;
};

/* Where a pod references a Localhost seccomp profile. */
enum k8s_ref_source {
	K8S_REF_POD = 0,   /* spec.securityContext.seccompProfile */
	K8S_REF_CONTAINER, /* spec.containers[].securityContext.seccompProfile */
	K8S_REF_INIT_CONTAINER,
	K8S_REF_EPHEMERAL_CONTAINER,
	K8S_REF_POD_ANNOTATION, /* seccomp.security.alpha.kubernetes.io/pod: localhost/<path> */
	K8S_REF_CONTAINER_ANNOTATION, /* container.seccomp.security.alpha.kubernetes.io/<name> */
};

struct k8s_profile_ref {
	enum k8s_ref_source source;
	const char *container; /* NULL for pod-level references */
	const char *path;      /* localhostProfile, relative to <kubelet-dir>/seccomp */
};

struct k8s_object {
	enum k8s_kind kind;
	const char *ns; /* "" when absent */
	const char *name;
	const char *uid;
	const char *resource_version;
	bool deleting; /* metadata.deletionTimestamp is set */
	const struct k8s_pair *annotations;
	size_t n_annotations;
	const struct k8s_pair *labels;
	size_t n_labels;

	/* ConfigMap */
	bool data_skipped; /* bodies dropped: the object lacks the required annotation */
	const struct k8s_pair *data;
	size_t n_data;
	const struct k8s_pair *binary_data; /* already base64-decoded */
	size_t n_binary_data;

	/* Pod */
	const char *node_name; /* spec.nodeName, "" when unset */
	const char *phase;     /* status.phase, "" when unset */
	const struct k8s_profile_ref
		*refs; /* Localhost references, fields and legacy annotations */
	size_t n_refs;
};

/** k8s_object_annotation() - the value of annotation @key, or NULL */
const char *k8s_object_annotation(const struct k8s_object *o, const char *key);

#endif
