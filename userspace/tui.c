/* SPDX-License-Identifier: BSD-2-Clause */
/* The interactive ncurses view of `pyleak top` (placeholder until the full view lands). */
#include "tui.h"
#include "common.h"

#include <errno.h>

int tui__run(struct collector *c, const struct tui_opts *opts)
{
	(void)c;
	(void)opts;
	pr_err("the interactive view is not built yet: use 'pyleak top -b'");
	return -ENOSYS;
}
