/* SPDX-License-Identifier: Apache-2.0 */
#include "k8s/decode_base64.h"

#include <errno.h>

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static int is_break(unsigned char c)
{
	return c == '\r' || c == '\n';
}

int k8s_base64_decode(const void *in, size_t len, void *out, size_t *outlen)
{
	const unsigned char *s = in;
	unsigned char *o = out;
	unsigned int acc = 0;
	size_t i, n = 0, q = 0;

	for (i = 0; i < len; i++) {
		int v;

		if (is_break(s[i]))
			continue;
		if (s[i] == '=')
			break;
		v = b64val(s[i]);
		if (v < 0)
			return -EINVAL;
		acc = acc << 6 | (unsigned int)v;
		if (++q == 4) {
			o[n++] = (unsigned char)(acc >> 16);
			o[n++] = (unsigned char)(acc >> 8);
			o[n++] = (unsigned char)acc;
			q = 0;
			acc = 0;
		}
	}
	if (i < len) {
		/* padding: "xx==" or "xxx=", then only line breaks */
		size_t pad = 0;

		if (q < 2)
			return -EINVAL;
		for (; i < len; i++) {
			if (is_break(s[i]))
				continue;
			if (s[i] != '=')
				return -EINVAL;
			pad++;
		}
		if (pad != 4 - q)
			return -EINVAL;
		if (q == 2) {
			o[n++] = (unsigned char)(acc >> 4);
		} else {
			o[n++] = (unsigned char)(acc >> 10);
			o[n++] = (unsigned char)(acc >> 2);
		}
		q = 0;
	}
	if (q != 0)
		return -EINVAL;
	*outlen = n;
	return 0;
}
