/* SPDX-License-Identifier: Apache-2.0 */
#include "k8s/object.h"

#include <string.h>

/*
 * Annotations are few (Kubernetes caps their total size at 256 KiB) and looked
 * up rarely, so a linear scan over the decoder's array is the right tool; the
 * first entry wins if the stream repeated a key.
 */
const char *k8s_object_annotation(const struct k8s_object *o, const char *key)
{
	size_t i;

	if (!o || !key)
		return NULL;
	for (i = 0; i < o->n_annotations; i++)
		if (strcmp(o->annotations[i].key, key) == 0)
			return o->annotations[i].value;
	return NULL;
}
