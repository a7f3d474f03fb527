/* SPDX-License-Identifier: BSD-2-Clause */
/* `pyleak report` (placeholder until the feature lands). */
#include "cmds.h"
#include "common.h"

int cmd_report(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	pr_err("'report' is not built yet");
	return EXIT_FAIL;
}
