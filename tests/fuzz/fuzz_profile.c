/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The profile engine on arbitrary bytes: profile_check() must never crash, leak
 * or read past @size, and its verdict must hold together (valid exactly when
 * there are no errors, every finding has a path and a lower-case message with
 * a class, the node's architecture comes first).  The first byte picks the
 * node architecture, so foreign-arch compiles are fuzzed too.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "profilestore/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_findings(const struct profile_finding *f, size_t n, int max_code)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (!f[i].path || !f[i].message || !f[i].message[0])
			abort();
		if (f[i].code < 0 || f[i].code > max_code)
			abort();
		if (f[i].message[0] >= 'A' && f[i].message[0] <= 'Z')
			abort();
		if (f[i].view != PROFILE_VIEW_BOTH && f[i].view != PROFILE_VIEW_CONTAINERD &&
		    f[i].view != PROFILE_VIEW_CRIO)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const arches[] = { "x86_64", "aarch64", "arm", "s390x" };
	struct profile_opts o = { "x86_64" };
	struct profile_verdict *v = NULL;
	struct diag d = { "" };
	int r;

	if (size) {
		o.arch = arches[data[0] % 4];
		data++;
		size--;
	}
	r = profile_check(data, size, &o, &v, &d);
	if (r < 0) {
		if (v || !d.msg[0])
			abort();
		return 0;
	}
	if (v->valid != (v->n_errors == 0) || !v->n_arches ||
	    strcmp(v->arches[0], profile_arch_normalize(o.arch)) != 0)
		abort();
	check_findings(v->errors, v->n_errors, 8);
	check_findings(v->warnings, v->n_warnings, 9);
	if (v->valid && !v->bpf_instructions)
		abort();
	profile_verdict_free(v);
	return 0;
}
