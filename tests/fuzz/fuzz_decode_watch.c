/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the watch decoder.  Input: one flags byte, two bytes of split point,
 * then the stream.  The stream is decoded twice, whole and split in two, and
 * both runs must report the same callbacks and the same result.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "k8s/decode.h"

#define FUZZ_STREAM K8S_STREAM_WATCH
#include "fuzz_decode.inc"
