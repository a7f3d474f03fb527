/* SPDX-License-Identifier: BSD-2-Clause */
/* The interactive ncurses view of `pyleak top`: renders snapshots, never reads targets itself. */
#ifndef PYLEAK_TUI_H
#define PYLEAK_TUI_H

#include "model/source.h"

struct tui_opts {
	double interval_s;
	long iterations; /* quit after this many refreshes (0 = until 'q'): headless tests */
	bool no_color;
	bool replay; /* the header says so; '+'/'-' change the playback speed */
};

/* Runs until 'q', Ctrl-C/SIGTERM or `iterations`; restores the terminal. 0 or -errno.
 * The source is the live collector or a replayed trace (source.h). */
int tui__run(const struct snapshot_source *src, const struct tui_opts *opts);

#endif /* PYLEAK_TUI_H */
