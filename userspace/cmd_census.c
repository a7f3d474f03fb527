/* SPDX-License-Identifier: BSD-2-Clause */
/* `pyleak census` (placeholder until the feature lands). */
#include "cmds.h"
#include "common.h"

int cmd_census(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	pr_err("'census' is not built yet");
	return EXIT_FAIL;
}
