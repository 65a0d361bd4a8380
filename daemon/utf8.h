/* SPDX-License-Identifier: Apache-2.0 */
#ifndef SECCOMP_SYNCD_DAEMON_UTF8_H
#define SECCOMP_SYNCD_DAEMON_UTF8_H

/*
 * UTF-8 validation for the daemon's text outputs (log lines, metric label
 * values): both must stay valid UTF-8 whatever bytes the API sent us, so each
 * writer replaces a byte that does not start a well-formed sequence.
 */

#include <stddef.h>

/**
 * utf8_seq_len() - length of the well-formed UTF-8 sequence at @s
 * @s: the bytes
 * @n: how many bytes are available (at least 1)
 *
 * Follows RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF.
 * Return: 1..4, or 0 when the byte at @s does not begin a well-formed sequence
 * (the caller then replaces that one byte and moves on).
 */
static inline size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len, i;
	unsigned char lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

#endif
