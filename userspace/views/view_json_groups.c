/* SPDX-License-Identifier: BSD-2-Clause */
/* JSON of process families (docs/json.md "groups"): the per-process `group` object and `groups`. */
#include "views/views.h"

#include <stdio.h>

#include "model/groups.h"

static void num(struct strbuf *sb, double v)
{
	if (v != v || v > 1e300 || v < -1e300)
		sb_puts(sb, "null");
	else
		sb_printf(sb, "%.6g", v);
}

void view_json__process_group(struct strbuf *sb, const struct snapshot *snap, const struct proc_row *row)
{
	const struct group_row *g = snapshot__group(snap, row->group_id);

	sb_printf(sb, ",\"ppid\":%d,\"group\":", (int)row->ppid);
	if (!row->group_id) {
		sb_puts(sb, "null");
		return;
	}
	sb_printf(sb, "{\"id\":%d,\"role\":\"%s\"", row->group_id, group_role__name(row->group_role));
	if (g) {
		sb_puts(sb, ",\"name\":");
		sb_json_str(sb, g->name);
		sb_printf(sb, ",\"kind\":\"%s\",\"root_pid\":%d", group_kind__name(g->kind), (int)g->root_pid);
	}
	sb_putc(sb, '}');
}

static void verdict_json(struct strbuf *sb, const struct group_verdict *v)
{
	sb_printf(sb, "{\"kind\":\"%s\",\"name\":", suspect_kind__name(v->kind));
	sb_json_str(sb, v->name);
	sb_printf(sb, ",\"recycled\":%s,\"workers_with\":%d,\"workers\":%d,\"per_min_each\":",
		  v->recycled ? "true" : "false", v->workers_with, v->workers);
	num(sb, v->per_min_each);
	if (v->recycled) {
		sb_puts(sb, ",\"per_life\":");
		num(sb, v->per_life);
		sb_puts(sb, ",\"life_s\":");
		num(sb, v->life_s);
	} else {
		sb_puts(sb, ",\"per_life\":null,\"life_s\":null");
	}
	sb_puts(sb, ",\"confidence\":");
	num(sb, v->confidence);
	sb_puts(sb, ",\"text\":");
	sb_json_str(sb, v->text);
	sb_puts(sb, ",\"evidence\":");
	sb_json_str(sb, v->evidence);
	sb_putc(sb, '}');
}

static void group_json(struct strbuf *sb, const struct snapshot *snap, const struct group_row *g)
{
	int i, gen, n;

	sb_printf(sb, "{\"id\":%d,\"name\":", g->id);
	sb_json_str(sb, g->name);
	sb_printf(sb, ",\"kind\":\"%s\",\"root_pid\":%d,\"root_exited\":%s,\"command\":", group_kind__name(g->kind),
		  (int)g->root_pid, g->root_exited ? "true" : "false");
	sb_json_str(sb, g->command);
	sb_printf(sb, ",\"first_seen\":%.3f,\"members\":[", g->first_seen);
	for (i = n = 0; i < snap->nrows; i++)
		if (snap->rows[i]->group_id == g->id)
			sb_printf(sb, "%s%d", n++ ? "," : "", (int)snap->rows[i]->target.pid);
	sb_printf(sb, "],\"workers\":%d,\"max_workers\":%d,\"recycled\":%d,\"rss_bytes\":%llu,\"rss_max_bytes\":%llu,"
		      "\"rss_bytes_per_min\":",
		  g->workers, g->max_workers, g->recycled, (unsigned long long)g->rss_total,
		  (unsigned long long)g->rss_max);
	num(sb, g->rss_per_min);
	if (g->live_objects >= 0)
		sb_printf(sb, ",\"live_objects\":%lld", (long long)g->live_objects);
	else
		sb_puts(sb, ",\"live_objects\":null");
	sb_puts(sb, ",\"gc\":{\"collections\":[");
	for (gen = 0; gen < MODEL_NGEN; gen++)
		sb_printf(sb, "%s%lld", gen ? "," : "", (long long)g->collections[gen]);
	sb_puts(sb, "],\"per_s\":[");
	for (gen = 0; gen < MODEL_NGEN; gen++) {
		sb_puts(sb, gen ? "," : "");
		num(sb, g->gc_per_s[gen]);
	}
	sb_puts(sb, "],\"per_s_per_worker\":[");
	for (gen = 0; gen < MODEL_NGEN; gen++) {
		sb_puts(sb, gen ? "," : "");
		num(sb, g->gc_per_s_worker[gen]);
	}
	sb_puts(sb, "],\"time_pct_max\":");
	num(sb, g->gc_time_pct_max);
	sb_puts(sb, ",\"pause_us\":[");
	for (gen = 0; gen < MODEL_NGEN; gen++) {
		const struct pause_summary *p = &g->pause[gen];

		sb_printf(sb, "%s{\"count\":%llu,\"sum\":%llu,\"max\":%llu,\"p50\":%llu,\"p99\":%llu}", gen ? "," : "",
			  (unsigned long long)p->count, (unsigned long long)p->sum_us, (unsigned long long)p->max_us,
			  (unsigned long long)p->p50_us, (unsigned long long)p->p99_us);
	}
	sb_puts(sb, "]},\"alloc\":");
	if (g->alloc_valid) {
		sb_puts(sb, "{\"per_s\":");
		num(sb, g->alloc_per_s);
		sb_puts(sb, ",\"bytes_per_s\":");
		num(sb, g->alloc_bytes_per_s);
		sb_putc(sb, '}');
	} else {
		sb_puts(sb, "null");
	}
	sb_puts(sb, ",\"recycling\":{\"retired\":[");
	for (i = 0; i < g->nretired; i++) {
		const struct group_retired *r = &g->retired[i];

		sb_printf(sb, "%s{\"pid\":%d,\"first_seen\":%.3f,\"last_seen\":%.3f,\"rss_first\":%llu,\"rss_last\":%llu,"
			      "\"growth\":[",
			  i ? "," : "", (int)r->pid, r->first_seen, r->last_seen, (unsigned long long)r->rss_first,
			  (unsigned long long)r->rss_last);
		for (int k = 0; k < r->ngrowth; k++) {
			sb_puts(sb, k ? ",{\"name\":" : "{\"name\":");
			sb_json_str(sb, r->growth[k].name);
			sb_printf(sb, ",\"first\":%lld,\"last\":%lld}", (long long)r->growth[k].first,
				  (long long)r->growth[k].last);
		}
		sb_puts(sb, "]}");
	}
	sb_puts(sb, "],\"median_life_s\":");
	num(sb, g->median_life_s);
	sb_puts(sb, ",\"median_rss_growth\":");
	num(sb, g->median_rss_growth);
	sb_puts(sb, "},\"verdicts\":[");
	for (i = 0; i < g->nverdicts; i++) {
		if (i)
			sb_putc(sb, ',');
		verdict_json(sb, &g->verdicts[i]);
	}
	sb_puts(sb, "]}");
}

void view_json__groups(struct strbuf *sb, const struct snapshot *snap)
{
	sb_puts(sb, ",\"groups\":[");
	for (int i = 0; i < snap->ngroups; i++) {
		if (i)
			sb_putc(sb, ',');
		group_json(sb, snap, &snap->groups[i]);
	}
	sb_putc(sb, ']');
}
