/* SPDX-License-Identifier: Apache-2.0 */
#ifndef SECCOMP_SYNCD_COMMON_SHA256_H
#define SECCOMP_SYNCD_COMMON_SHA256_H

/*
 * SHA-256 (FIPS 180-4), used for content digests: the verdict cache key, the
 * store's "is this file already what we want" check, and the per-key digests
 * the daemon keeps instead of profile bodies.  Written here so that the
 * project does not link a crypto library for one hash.
 */

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN     32
#define SHA256_HEX_LEN (2 * SHA256_LEN + 1)

struct sha256 {
	uint32_t h[8];
	uint64_t nbytes;
	uint8_t block[64];
	size_t used;
};

/** sha256_init() - start a new digest in caller-owned @s */
void sha256_init(struct sha256 *s);

/** sha256_update() - hash @len bytes at @data (@data may be NULL when @len is 0) */
void sha256_update(struct sha256 *s, const void *data, size_t len);

/** sha256_final() - finish and write the 32-byte digest to @out; @s must be re-inited to reuse */
void sha256_final(struct sha256 *s, uint8_t out[SHA256_LEN]);

/** sha256() - one-shot digest of @len bytes at @data */
void sha256(const void *data, size_t len, uint8_t out[SHA256_LEN]);

/** sha256_hex() - write @digest as 64 lower-case hex digits and a NUL into @out */
void sha256_hex(const uint8_t digest[SHA256_LEN], char out[SHA256_HEX_LEN]);

#endif
