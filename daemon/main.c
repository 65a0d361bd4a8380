/* SPDX-License-Identifier: Apache-2.0 */
/* Placeholder entry point until the CLI lands (issue 2). */
#include <stdio.h>

int main(void)
{
	puts("seccomp-syncd " SYNCD_VERSION);
	return 0;
}
