/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The manifest reader on arbitrary bytes: manifest_detect() and manifest_parse()
 * must never crash, leak or read past @size, and what they return must hold
 * together (every entry has either data of the stated length or an error).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manifest *m = NULL;
	struct diag d = { "" };
	size_t i;
	int r;

	(void)manifest_detect(data, size);
	r = manifest_parse(data, size, &m, &d);
	if (r < 0) {
		if (m || !d.msg[0])
			abort();
		return 0;
	}
	if (m->n_configmaps > m->n_objects || m->n_documents > MANIFEST_MAX_DOCUMENTS ||
	    m->n_entries > MANIFEST_MAX_ENTRIES)
		abort();
	for (i = 0; i < m->n_entries; i++) {
		const struct manifest_entry *e = &m->entries[i];

		if (!e->ns || !e->name || !e->key || !e->name[0] || !e->ns[0])
			abort();
		if (e->error ? e->data != NULL : (!e->data || e->data[e->len] != '\0'))
			abort();
		if (e->document < 1 || e->document > m->n_documents)
			abort();
	}
	for (i = 0; i < m->n_notes; i++)
		if (!m->notes[i].message || m->notes[i].level > MANIFEST_NOTE_ERROR)
			abort();
	manifest_free(m);
	return 0;
}
