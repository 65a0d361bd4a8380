/* SPDX-License-Identifier: Apache-2.0 */
#ifndef SECCOMP_SYNCD_DAEMON_MANIFEST_H
#define SECCOMP_SYNCD_DAEMON_MANIFEST_H

/*
 * Kubernetes manifests for `validate`: a file of YAML or JSON documents (what
 * `kubectl apply -f` takes) in, the profiles it would install out.  Every data
 * and binaryData key of each ConfigMap annotated
 * `seccomp.security.kubernetes.io/profile: "true"` becomes one entry, so that a
 * repository of manifests can be checked before it reaches a cluster.  Pure: no
 * I/O, no logging; libyaml stays behind this door.
 */

#include <stdbool.h>
#include <stddef.h>

#include "common/diag.h"

/* Limits on what one file may hold; going over is -E2BIG (or -ELOOP for depth). */
#define MANIFEST_MAX_BYTES     (8 * 1024 * 1024)
#define MANIFEST_MAX_DOCUMENTS 1000
#define MANIFEST_MAX_DEPTH     64     /* nested mappings and sequences */
#define MANIFEST_MAX_NODES     500000 /* YAML nodes in one document */
#define MANIFEST_MAX_ENTRIES   10000  /* profiles (ConfigMap keys) in one file */

/* The annotation that marks a ConfigMap, and the only value that counts. */
#define MANIFEST_MARKER "seccomp.security.kubernetes.io/profile"

/* One profile: a key of an annotated ConfigMap. */
struct manifest_entry {
	char *ns;    /* metadata.namespace, "default" when absent */
	char *name;  /* metadata.name */
	char *key;   /* the data or binaryData key (the file name on nodes) */
	char *data;  /* the profile bytes (binaryData decoded), NUL-terminated; NULL if @error */
	size_t len;  /* bytes in @data, the NUL not counted */
	bool binary; /* from binaryData */
	size_t document; /* 1-based document of the file it came from */
	size_t line;	 /* 1-based line of the key */
	char *error;	 /* why this key cannot be a profile (bad base64, not a string); or NULL */
};

enum manifest_note_level {
	MANIFEST_NOTE_WARNING = 0,
	MANIFEST_NOTE_ERROR, /* the manifest is wrong (the API server would refuse it) */
};

/* A finding about the manifest itself rather than about one profile. */
struct manifest_note {
	enum manifest_note_level level;
	size_t document; /* 1-based; 0 for the whole file */
	size_t line;	 /* 1-based; 0 when unknown */
	char *message;
};

struct manifest {
	struct manifest_entry *entries;
	size_t n_entries;
	struct manifest_note *notes;
	size_t n_notes;
	size_t n_documents;  /* documents in the stream, empty ones included */
	size_t n_objects;    /* Kubernetes objects seen (List items counted, the List not) */
	size_t n_configmaps; /* annotated ConfigMaps */
};

/**
 * manifest_detect() - whether a file given to `validate` is a manifest
 * @data: the file's bytes
 * @len: their length
 *
 * A plain profile goes to the profile engine byte for byte, so that JSON
 * subtleties (duplicate keys, invalid UTF-8, a BOM) are judged the way runtimes
 * judge them and never by libyaml.  So only what cannot be a profile is a
 * manifest: a JSON object whose top-level keys include both "apiVersion" and
 * "kind", or a text that does not begin like JSON at all (YAML).  Empty input,
 * JSON arrays and scalars, and every other JSON object are profiles (the engine
 * then says why they are wrong).  Return: true for a manifest.
 */
bool manifest_detect(const void *data, size_t len);

/**
 * manifest_parse() - read every document of a manifest file
 * @data: the bytes (need not be NUL-terminated), at most MANIFEST_MAX_BYTES
 * @len: their length
 * @out: on success, a new manifest the caller frees with manifest_free()
 * @d: detail on failure, with the line and column
 *
 * Documents that are not ConfigMaps, and ConfigMaps without the marker, are
 * skipped; a marker whose value is not exactly "true" is a warning note.  YAML
 * aliases are never expanded: one where a profile is read is an error note, so
 * a "billion laughs" costs nothing.  Return: 0 (with @out set even if nothing
 * was found), -EINVAL for a YAML syntax error, -E2BIG or -ELOOP past a limit,
 * -ENOMEM.
 */
int manifest_parse(const void *data, size_t len, struct manifest **out, struct diag *d);

/** manifest_free() - free @m and everything it holds; NULL is a no-op */
void manifest_free(struct manifest *m);

/**
 * manifest_yaml_version() - the libyaml version in use, for `version`
 *
 * Return: a static string.
 */
const char *manifest_yaml_version(void);

#endif
