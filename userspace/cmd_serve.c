/* SPDX-License-Identifier: BSD-2-Clause */
/* `pyleak serve` (placeholder until the feature lands). */
#include "cmds.h"
#include "common.h"

int cmd_serve(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	pr_err("'serve' is not built yet");
	return EXIT_FAIL;
}
