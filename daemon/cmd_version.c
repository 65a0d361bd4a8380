/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `seccomp-syncd version`: what a bug report needs.  The validator version
 * matters as much as the binary's: it decides whether profiles already on a
 * node are checked again after an upgrade.
 */
#include <stdio.h>
#include <string.h>

#include "daemon/cmd.h"
#include "daemon/manifest.h"
#include "profilestore/profile.h"

static const char version_usage[] =
	"usage: seccomp-syncd version\n"
	"\n"
	"Print the versions of the program, of its profile validator and of\n"
	"libyaml.  Same as `seccomp-syncd --version`.\n";

int cmd_version(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(version_usage, stdout);
		return EXIT_OK;
	}
	if (argc > 1) {
		fprintf(stderr, "seccomp-syncd version: unexpected argument '%s'\n%s", argv[1],
			version_usage);
		return EXIT_USAGE;
	}
	printf("seccomp-syncd %s\n", SYNCD_VERSION);
	printf("validator %s\n", profile_validator_version());
	printf("libyaml %s\n", manifest_yaml_version());
	return EXIT_OK;
}
