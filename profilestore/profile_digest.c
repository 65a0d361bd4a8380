/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The verdict cache key.  In a file of its own so that it reaches
 * profile_validator_version() through the linker, which lets the unit test
 * substitute another version (-Wl,--wrap) and see every cached verdict miss.
 */
#include "profilestore/profile_int.h"

#include <seccomp.h>
#include <stdio.h>

void profile_digest_arch(const void *data, size_t len, const char *arch, uint8_t out[SHA256_LEN])
{
	const struct scmp_version *v = seccomp_version();
	struct sha256 s;
	char head[192];
	int n;

	/* libseccomp's version decides which syscall names are known, so it is part of it. */
	n = snprintf(head, sizeof(head), "seccomp-syncd verdict\n%s\n%u.%u.%u\n%s\n",
		     profile_validator_version(), v ? v->major : 0, v ? v->minor : 0,
		     v ? v->micro : 0, arch);
	if (n < 0 || (size_t)n >= sizeof(head))
		n = 0;
	sha256_init(&s);
	sha256_update(&s, head, (size_t)n);
	sha256_update(&s, data, len);
	sha256_final(&s, out);
}
