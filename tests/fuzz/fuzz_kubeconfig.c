/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the kubeconfig reader: the input is one kubeconfig file.  Relative
 * paths resolve under a directory that does not exist, so no file is read
 * unless the input names an absolute one.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "k8s/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct k8s_config *c = NULL;
	struct diag d;
	int r;

	r = k8s_config_parse_buffer(data, size, "/nonexistent/fuzz", NULL, &c, &d);
	if (r == 0) {
		/* a successful parse always names a server */
		if (!c || !c->server || strlen(c->server) < 8)
			__builtin_trap();
		k8s_config_free(c);
	} else if (c || strlen(d.msg) == 0) {
		__builtin_trap();
	}
	r = k8s_config_parse_buffer(data, size, "/nonexistent/fuzz", "other", &c, &d);
	if (r == 0)
		k8s_config_free(c);
	return 0;
}
