/* SPDX-License-Identifier: BSD-2-Clause */
/* `pyleak record` (placeholder until the feature lands). */
#include "cmds.h"
#include "common.h"

int cmd_record(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	pr_err("'record' is not built yet");
	return EXIT_FAIL;
}
