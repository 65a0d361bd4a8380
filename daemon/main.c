/* SPDX-License-Identifier: Apache-2.0 */
/*
 * seccomp-syncd: the one place that exits.  Every subcommand returns its exit
 * code (daemon/cmd.h); main() only dispatches and makes sure that what was
 * printed really reached stdout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/cmd.h"

static const char main_usage[] =
	"usage: seccomp-syncd [--version] [--help] COMMAND [ARGS...]\n"
	"\n"
	"Keep the seccomp profiles of ConfigMaps annotated\n"
	"seccomp.security.kubernetes.io/profile: \"true\" on every node, validated.\n"
	"\n"
	"commands:\n"
	"  run              sync the profiles to this node (what the DaemonSet runs)\n"
	"  validate         check profiles and manifests before they reach a cluster\n"
	"  version          print the versions of the program and of its validator\n"
	"  help [COMMAND]   show this help, or a command's\n"
	"\n"
	"Run `seccomp-syncd COMMAND --help` for the options of a command.\n";

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
};

static const struct command commands[] = {
	{ "run", cmd_run },
	{ "validate", cmd_validate },
	{ "version", cmd_version },
};

static const struct command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

/* A full disk or a closed pipe must not look like success. */
static int finish(int code)
{
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fputs("seccomp-syncd: cannot write to standard output\n", stderr);
		return code > EXIT_USAGE ? code : EXIT_USAGE;
	}
	return code;
}

static int unknown_command(const char *name)
{
	fprintf(stderr, "seccomp-syncd: unknown command '%s'\n\n%s", name, main_usage);
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	const struct command *c;
	char *help_argv[3] = { NULL, NULL, NULL };
	char help_opt[] = "--help";
	char version_name[] = "version";

	if (argc < 2) {
		fputs(main_usage, stderr);
		exit(EXIT_USAGE);
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(main_usage, stdout);
		exit(finish(EXIT_OK));
	}
	if (!strcmp(argv[1], "--version")) {
		help_argv[0] = version_name;
		exit(finish(cmd_version(1, help_argv)));
	}
	if (!strcmp(argv[1], "help")) {
		if (argc < 3) {
			fputs(main_usage, stdout);
			exit(finish(EXIT_OK));
		}
		c = find_command(argv[2]);
		if (!c)
			exit(unknown_command(argv[2]));
		help_argv[0] = argv[2];
		help_argv[1] = help_opt;
		exit(finish(c->fn(2, help_argv)));
	}
	c = find_command(argv[1]);
	if (!c)
		exit(unknown_command(argv[1]));
	exit(finish(c->fn(argc - 1, argv + 1)));
}
