/* SPDX-License-Identifier: BSD-2-Clause */
/* The subcommand table's entry points: one cmd_<name>.c file each (git/bpftool style). */
#ifndef PYLEAK_CMDS_H
#define PYLEAK_CMDS_H

#include <stdio.h>

struct cmd {
	const char *name;
	const char *summary;
	int (*fn)(int argc, char **argv); /* argv[0] is the subcommand name */
};

int cmd_list(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_census(int argc, char **argv);
int cmd_heap(int argc, char **argv);
int cmd_refs(int argc, char **argv);
int cmd_record(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_serve(int argc, char **argv);

/* Print a subcommand's help text (summary, USAGE, options, EXAMPLES) to f. */
void cmd_usage(FILE *f, const char *text);

#endif /* PYLEAK_CMDS_H */
