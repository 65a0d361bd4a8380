/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store's name policy is the last gate between API data and a path on the
 * host.  Input: three names separated by '\n' (namespace, ConfigMap, key), NUL
 * bytes allowed.  Whatever store_check_name_len() accepts must also be
 * accepted by store_check_name() and must be a single, non-dot path component
 * of the allowed alphabet.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "profilestore/store.h"

static void check_component(const char *name, size_t len)
{
	size_t i;

	if (len == 0 || len > STORE_KEY_MAX)
		abort();
	if ((len == 1 && name[0] == '.') || (len >= 2 && name[0] == '.' && name[1] == '.'))
		abort();
	for (i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.' || c == '_'))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum store_name_kind kinds[3] = { STORE_NAME_NS, STORE_NAME_CM,
						       STORE_NAME_KEY };
	char *names[3] = { NULL, NULL, NULL };
	size_t lens[3] = { 0, 0, 0 };
	int ok[3];
	size_t start = 0, i, part = 0;
	struct diag d;

	for (i = 0; i <= size && part < 3; i++) {
		if (i == size || data[i] == '\n') {
			lens[part] = i - start;
			names[part] = malloc(lens[part] + 1);
			if (!names[part])
				goto out;
			memcpy(names[part], data + start, lens[part]);
			names[part][lens[part]] = '\0';
			part++;
			start = i + 1;
		}
	}
	for (i = 0; i < part; i++) {
		ok[i] = store_check_name_len(kinds[i], names[i], lens[i], &d) == 0;
		if (ok[i])
			check_component(names[i], lens[i]);
	}
	if (part == 3 && ok[0] && ok[1] && ok[2] &&
	    store_check_name(names[0], names[1], names[2], &d) != 0)
		abort();
out:
	for (i = 0; i < 3; i++)
		free(names[i]);
	return 0;
}
