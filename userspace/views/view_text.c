/* SPDX-License-Identifier: BSD-2-Clause */
/* Plain-text renderer of the model for `top -b`: one block per refresh. */
#include "util/escape.h"
#include "util/format.h"
#include "views/views.h"
#include "target/features.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

void view_text__snapshot(struct strbuf *sb, const struct snapshot *snap)
{
	char tbuf[32], a[16], b[16], c[16], d[16];
	time_t tt = (time_t)snap->time;
	struct tm tm;
	int i, g;

	localtime_r(&tt, &tm);
	strftime(tbuf, sizeof(tbuf), "%Y-%m-%d %H:%M:%S", &tm);
	sb_printf(sb, "pyleak top - %s  host %s  %d python processes  interval %.1fs  dropped %llu  cpu %.1f%%\n",
		  tbuf, snap->host /* our own hostname */, snap->nrows, snap->interval_s, (unsigned long long)snap->dropped_events,
		  snap->self_cpu_pct);
	sb_printf(sb, "%7s %-16s %-7s %-6s %7s %8s %17s %6s %9s %9s %7s\n", "PID", "COMMAND", "PY", "SOURCE", "RSS",
		  "dRSS/min", "GC/s g0/g1/g2", "GC%", "MAXPAUSE", "P99PAUSE", "GARBAGE");
	for (i = 0; i < snap->nrows; i++) {
		const struct proc_row *r = snap->rows[i];
		uint64_t maxp = 0, p99 = 0;
		char rates[32];
		/* Every name below is the target's bytes: through esc_text (util/escape.h). The COMMAND
		 * column keeps 16 bytes, cut at a whole escape. */
		char comm[17], ver[ESC_TEXT_SIZE(sizeof(r->target.version))], name[ESC_TEXT_SIZE(MODEL_NAME_MAX)];
		char note[ESC_TEXT_SIZE(sizeof(r->note))];

		for (g = 0; g < MODEL_NGEN; g++) {
			if (r->pause[g].max_us > maxp)
				maxp = r->pause[g].max_us;
			if (r->pause[g].p99_us > p99)
				p99 = r->pause[g].p99_us;
		}
		snprintf(rates, sizeof(rates), "%.1f/%.1f/%.2f", r->gc_per_s[0], r->gc_per_s[1], r->gc_per_s[2]);
		sb_printf(sb, "%7d %-16.16s %-7s %-6s %7s %8s %17s %5.1f%s %9s %9s %7lld%s\n", r->target.pid,
			  esc_text_buf(comm, sizeof(comm), r->target.comm), esc_text_buf(ver, sizeof(ver), r->target.version),
			  gc_tier__name(r->target.tier), fmt_bytes(a, sizeof(a), r->rss),
			  fmt_sbytes(b, sizeof(b), r->rss_per_min), rates, r->gc_time_pct,
			  r->pauses_estimated ? "~" : " ", r->pauses_estimated ? "est." : fmt_us(c, sizeof(c), maxp),
			  r->pauses_estimated ? "est." : fmt_us(d, sizeof(d), p99), (long long)r->garbage,
			  r->exited ? "  (exited)" : "");
		if (!r->gc_valid && r->note[0])
			sb_printf(sb, "%7s %s\n", "", esc_text_buf(note, sizeof(note), r->note));
		else if (r->gc_valid)
			sb_printf(sb, "%7s collections/collected/uncollectable: gen0 %lld/%lld/%lld gen1 %lld/%lld/%lld "
				      "gen2 %lld/%lld/%lld  thresholds %lld/%lld/%lld counts %lld/%lld/%lld%s%s\n",
				  "", (long long)r->collections[0], (long long)r->collected[0], (long long)r->uncollectable[0],
				  (long long)r->collections[1], (long long)r->collected[1], (long long)r->uncollectable[1],
				  (long long)r->collections[2], (long long)r->collected[2], (long long)r->uncollectable[2],
				  (long long)r->thresholds[0], (long long)r->thresholds[1], (long long)r->thresholds[2],
				  (long long)r->counts[0], (long long)r->counts[1], (long long)r->counts[2],
				  r->enabled ? "" : " (gc disabled)", r->pauses_estimated ? " (pause times estimated: poll tier)" : "");
		{
			struct py_features f;
			int k;

			/* what pyleak cannot do on this process, one line per feature */
			py_features__describe(&r->target, &f);
			for (k = 0; k < PYF_COUNT; k++)
				if (!f.ok[k])
					sb_printf(sb, "%7s %s %s\n", "", py_feature__name(k), f.text[k]);
		}
		if (r->alloc_valid) {
			int k;

			if (r->alloc.incomplete)
				sb_printf(sb, "%7s alloc (%s): incomplete: LTO-inlined allocation sites not probed;", "",
					  r->alloc.source);
			else
				sb_printf(sb, "%7s alloc (%s%s): %.0f/s;", "", r->alloc.source,
					  r->alloc.estimated ? ", estimated" : "", r->alloc.per_s);
			for (k = 0; k < r->alloc.ntypes && k < 5; k++)
				sb_printf(sb, " %s %+.0f/s", esc_text_buf(name, sizeof(name), r->alloc.types[k].name),
					  r->alloc.types[k].net_per_s);
			sb_putc(sb, '\n');
		}
		if (r->sites_valid && r->sites.nstacks) {
			char frame[400], shown[ESC_TEXT_SIZE(400)];

			site_frame__format(&r->sites.stacks[0].frames[0], frame, sizeof(frame));
			sb_printf(sb, "%7s top allocation site: %s (%.0f%% of %llu samples%s)\n", "",
				  esc_text_buf(shown, sizeof(shown), frame),
				  100.0 * r->sites.stacks[0].count / (r->sites.total ? r->sites.total : 1),
				  (unsigned long long)r->sites.total, r->sites.counters.walk_errors ? ", some walks failed" : "");
		}
		if (r->surv && r->surv->sampled && r->surv->from_trace) {
			sb_printf(sb, "%7s survivor samples: %llu alive of %llu sampled (%llu survived a census; as recorded)\n",
				  "", (unsigned long long)r->surv->alive, (unsigned long long)r->surv->sampled,
				  (unsigned long long)r->surv->survived);
		} else if (r->surv && r->surv->sampled) {
			const struct sites_counters *sc = &r->sites.counters;
			uint64_t lost = sc->surv_slots_full + sc->surv_ring_full + sc->surv_queue_full + r->surv->store_full +
					r->surv->agg_full;

			sb_printf(sb, "%7s survivor samples: %llu alive of %llu sampled (%llu died, %llu with their address "
				      "reused; stacks at the %s)",
				  "", (unsigned long long)r->surv->alive, (unsigned long long)r->surv->sampled,
				  (unsigned long long)r->surv->died, (unsigned long long)r->surv->reused,
				  surv_pairing__site_is(r->surv->mode));
			if (lost)
				sb_printf(sb, "; %llu lost to full maps (slots %llu, ring %llu, queue %llu, store %llu, "
					      "table %llu)",
					  (unsigned long long)lost, (unsigned long long)sc->surv_slots_full,
					  (unsigned long long)sc->surv_ring_full, (unsigned long long)sc->surv_queue_full,
					  (unsigned long long)r->surv->store_full, (unsigned long long)r->surv->agg_full);
			sb_putc(sb, '\n');
		}
		if (r->census_time > 0) {
			int k;

			sb_printf(sb, "%7s live objects %lld (census %.0f ms, every %.0f s); top types:", "",
				  (long long)r->live_objects, r->census_ms, r->census_period);
			for (k = 0; k < r->ntypes && k < 5; k++)
				sb_printf(sb, " %s %lld%s", esc_text_buf(name, sizeof(name), r->types[k].name),
					  (long long)r->types[k].count,
					  r->types[k].per_min >= 1 ? "+" : "");
			sb_putc(sb, '\n');
		}
		if (r->memory.valid) {
			const struct memory_row *m = &r->memory;
			char e[16], f[16], h[16], i[16], why[ESC_TEXT_SIZE(sizeof(m->arena_why))];

			fmt_bytes(a, sizeof(a), (double)m->arenas);
			fmt_bytes(b, sizeof(b), (double)m->heap);
			fmt_bytes(c, sizeof(c), (double)m->anon);
			fmt_bytes(d, sizeof(d), (double)m->stacks);
			fmt_bytes(e, sizeof(e), (double)m->file);
			fmt_bytes(f, sizeof(f), (double)m->block_bytes_used);
			fmt_bytes(h, sizeof(h), (double)m->arena_bytes);
			fmt_bytes(i, sizeof(i), (double)m->untracked_bytes);
			/* arena_why can name the target's binary: its bytes, escaped */
			sb_printf(sb, "%7s memory: pymalloc arenas %s (%s in use of %s, %s), malloc heap %s, other anon %s, "
				      "stacks %s, files %s; untracked objects %s\n",
				  "", a, f, h,
				  strcmp(m->arena_source, "none") ? m->arena_source : esc_text_buf(why, sizeof(why), m->arena_why),
				  b, c, d, e, i);
		}
		for (g = 0; g < r->nsuspects && g < 3; g++) {
			char evidence[ESC_TEXT_SIZE(sizeof(r->suspects[g].evidence))];
			bool untracked_type = r->suspects[g].untracked && r->suspects[g].kind == SUSPECT_TYPE;

			sb_printf(sb, "%7s SUSPECT %s %s%s %+.0f/min (confidence %.3f): %s\n", "",
				  suspect_kind__name(r->suspects[g].kind), esc_text_buf(name, sizeof(name), r->suspects[g].name),
				  untracked_type ? " (untracked)" : r->suspects[g].untracked ? " (untracked container)" : "",
				  r->suspects[g].per_min, r->suspects[g].confidence,
				  esc_text_buf(evidence, sizeof(evidence), r->suspects[g].evidence));
			/* chain, diagnosis: esc_text output already (analysis/chains.c) */
			if (r->suspects[g].explained_by[0])
				sb_printf(sb, "%9s part of the %s leak: %s\n", "",
					  esc_text_buf(name, sizeof(name), r->suspects[g].explained_by), r->suspects[g].group_why);
			if (r->suspects[g].chain_status != SUSPECT_CHAIN_NONE)
				sb_printf(sb, "%9s chain (%s): %s\n", "", suspect_chain__name(r->suspects[g].chain_status),
					  r->suspects[g].chain);
			if (r->suspects[g].diagnosis[0])
				sb_printf(sb, "%9s diagnosis: %s\n", "", r->suspects[g].diagnosis);
		}
	}
	sb_putc(sb, '\n');
	view_text__groups(sb, snap);
}
