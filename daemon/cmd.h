/* SPDX-License-Identifier: Apache-2.0 */
#ifndef SECCOMP_SYNCD_DAEMON_CMD_H
#define SECCOMP_SYNCD_DAEMON_CMD_H

/*
 * Subcommands.  Each takes the arguments after its name (argv[0] is the
 * subcommand) and returns the process exit code (DESIGN.md): only main.c exits.
 */

#define EXIT_OK 0
#define EXIT_INVALID \
	1 /* validate: a profile is invalid; run --once: invalid profile or failed write */
#define EXIT_USAGE 2 /* usage, configuration, or I/O error reading input */
#define EXIT_API   3 /* run --once: API unreachable or unauthorised */

int cmd_validate(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_version(int argc, char **argv);

#endif
