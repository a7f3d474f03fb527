/* SPDX-License-Identifier: BSD-2-Clause */
/* Batch text (`top -b`), process families: one block per family after the processes. */
#include "views/views.h"

#include <stdio.h>

#include "model/groups.h"
#include "util/escape.h"
#include "util/format.h"

void view_text__groups(struct strbuf *sb, const struct snapshot *snap)
{
	char a[16], b[16], c[16];
	int i, k, n;

	for (i = 0; i < snap->ngroups; i++) {
		const struct group_row *g = &snap->groups[i];
		uint64_t p99 = 0;

		for (k = 0; k < MODEL_NGEN; k++)
			if (g->pause[k].p99_us > p99)
				p99 = g->pause[k].p99_us;
		/* the name is kind:pid; verdicts name the target's types: through esc_text */
		sb_printf(sb, "family %s: %d workers, %d recycled; RSS %s (max %s); gen0 %.1f/s (%.1f/s per worker); "
			      "pause p99 %s; members",
			  g->name, g->workers, g->recycled, fmt_bytes(a, sizeof(a), (double)g->rss_total),
			  fmt_bytes(b, sizeof(b), (double)g->rss_max), g->gc_per_s[0], g->gc_per_s_worker[0],
			  fmt_us(c, sizeof(c), (double)p99));
		for (k = n = 0; k < snap->nrows; k++)
			if (snap->rows[k]->group_id == g->id && n++ < 32)
				sb_printf(sb, " %d", (int)snap->rows[k]->target.pid);
		sb_puts(sb, n > 32 ? " ...\n" : "\n");
		for (k = 0; k < g->nverdicts; k++) {
			sb_printf(sb, "%7s FAMILY ", "");
			esc_text(sb, g->verdicts[k].text);
			sb_puts(sb, " [");
			esc_text(sb, g->verdicts[k].evidence);
			sb_puts(sb, "]\n");
		}
	}
	if (snap->ngroups)
		sb_putc(sb, '\n');
}
