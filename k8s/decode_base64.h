/* SPDX-License-Identifier: Apache-2.0 */
#ifndef SECCOMP_SYNCD_K8S_DECODE_BASE64_H
#define SECCOMP_SYNCD_K8S_DECODE_BASE64_H

/*
 * Base64 as Kubernetes writes []byte fields (ConfigMap binaryData, the
 * kubeconfig's *-data keys): the standard alphabet with padding.
 */

#include <stddef.h>

/* The most bytes k8s_base64_decode() can write for @len input bytes. */
#define K8S_BASE64_DECODED_MAX(len) ((len) / 4 * 3 + 3)

/**
 * k8s_base64_decode() - decode standard, padded base64
 * @in: the text (need not be NUL-terminated)
 * @len: its length
 * @out: room for K8S_BASE64_DECODED_MAX(@len) bytes; may alias nothing in @in
 * @outlen: the number of bytes written, on success
 *
 * Decodes the way Go's encoding/base64.StdEncoding does for JSON []byte
 * fields, so that we accept exactly what the API server and kubectl accept:
 * CR and LF are ignored, any other byte outside the alphabet, missing padding,
 * or data after the padding is an error.
 *
 * Return: 0, or -EINVAL for invalid input.
 */
int k8s_base64_decode(const void *in, size_t len, void *out, size_t *outlen);

#endif
