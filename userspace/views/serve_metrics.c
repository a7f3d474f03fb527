/* SPDX-License-Identifier: BSD-2-Clause */
/* Prometheus exporter, the renderer: the model as text exposition 0.0.4, one family at a time. */
#include "views/serve.h"

#include <string.h>

#include "model/gcstats.h"
#include "util/common.h"
#include "util/escape.h"

#ifndef PYLEAK_VERSION
#define PYLEAK_VERSION "0.0.0"
#endif

/* ---------------------------------------------------------------------------------------------
 * Rendering
 */

/* A metric family: its HELP/TYPE header is written before its first sample, exactly once. */
struct family {
	const char *name, *type, *help;
	bool started;
};

static void family__begin(struct strbuf *sb, struct family *f)
{
	if (f->started)
		return;
	f->started = true;
	sb_printf(sb, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, f->type);
}

void serve__label_value(struct strbuf *sb, const char *s)
{
	/* comm, container ids and type names are whatever bytes the target chose (util/escape.h). */
	esc_prom(sb, s);
}

void serve__process_labels(struct strbuf *sb, const struct proc_row *row)
{
	const struct py_target *t = &row->target;

	sb_printf(sb, "pid=\"%d\",comm=\"", (int)t->pid);
	serve__label_value(sb, t->comm);
	sb_puts(sb, "\",python=\"");
	serve__label_value(sb, t->version);
	sb_printf(sb, "\",gc_source=\"%s\"", gc_tier__name(t->tier));
	/* The family (serve_groups.c): one value per family, so no more series than the pid makes. */
	if (row->group_name[0]) {
		sb_puts(sb, ",group=\"");
		serve__label_value(sb, row->group_name);
		sb_putc(sb, '"');
	}
	/* Only when known: an empty container_id label would be the same as no label anyway. */
	if (t->container_id[0]) {
		sb_puts(sb, ",container_id=\"");
		serve__label_value(sb, t->container_id);
		sb_putc(sb, '"');
	}
}

/* Floats: the shortest of %.15g/%.17g that reads back as the same double ("1.6e-05", not
 * "1.5999999999999999e-05"): le values must be identical from scrape to scrape and readable. */
static void value_f(struct strbuf *sb, double v)
{
	char buf[40];

	if (v != v)
		sb_puts(sb, "NaN");
	else if (v > 1.7976931348623157e308)
		sb_puts(sb, "+Inf");
	else if (v < -1.7976931348623157e308)
		sb_puts(sb, "-Inf");
	else {
		snprintf(buf, sizeof(buf), "%.15g", v);
		if (strtod(buf, NULL) != v)
			snprintf(buf, sizeof(buf), "%.17g", v);
		sb_puts(sb, buf);
	}
}

static void sample_i(struct strbuf *sb, const char *name, const struct proc_row *row, int gen, long long v)
{
	sb_printf(sb, "%s{", name);
	serve__process_labels(sb, row);
	if (gen >= 0)
		sb_printf(sb, ",generation=\"%d\"", gen);
	sb_printf(sb, "} %lld\n", v);
}

static void sample_f(struct strbuf *sb, const char *name, const struct proc_row *row, int gen, double v)
{
	sb_printf(sb, "%s{", name);
	serve__process_labels(sb, row);
	if (gen >= 0)
		sb_printf(sb, ",generation=\"%d\"", gen);
	sb_puts(sb, "} ");
	value_f(sb, v);
	sb_putc(sb, '\n');
}

uint64_t serve__bucket_us(int i)
{
	return (uint64_t)SERVE_PAUSE_BUCKET_MIN_US << i;
}

void serve__pause_buckets(const uint32_t *hist, int nslots, uint64_t cum[SERVE_PAUSE_BUCKETS], uint64_t *count)
{
	uint64_t lo, hi;
	int s, b;

	memset(cum, 0, sizeof(uint64_t) * SERVE_PAUSE_BUCKETS);
	*count = 0;
	for (s = 0; s < nslots; s++) {
		if (!hist[s])
			continue;
		*count += hist[s];
		pause_hist__bounds((uint32_t)s, &lo, &hi);
		/* A slot holds pauses in [lo, hi) µs (integer µs, truncated from ns), so all are < hi:
		 * they belong to every bucket whose bound is >= hi. */
		for (b = 0; b < SERVE_PAUSE_BUCKETS; b++)
			if (hi <= serve__bucket_us(b))
				cum[b] += hist[s];
	}
}

static bool row_shown(const struct proc_row *row)
{
	/* Exited rows are kept one refresh by the collector for views that say "exited"; for
	 * Prometheus a vanished series is the signal, so they are not rendered. */
	return !row->exited;
}

static bool row_gc(const struct proc_row *row)
{
	return row_shown(row) && row->gc_valid;
}

/* The arenas were found (arena table or scan): the pymalloc figures mean something. */
static bool pymalloc_found(const struct memory_row *m)
{
	return !strcmp(m->arena_source, "table") || !strcmp(m->arena_source, "scan");
}

static void render_gc_counter(struct strbuf *sb, const struct snapshot *snap, struct family *f, size_t field_off)
{
	int i, g;

	for (i = 0; i < snap->nrows; i++) {
		const struct proc_row *row = snap->rows[i];
		const int64_t *v;

		if (!row_gc(row))
			continue;
		v = (const int64_t *)((const char *)row + field_off);
		family__begin(sb, f);
		for (g = 0; g < MODEL_NGEN; g++)
			sample_i(sb, f->name, row, g, (long long)v[g]);
	}
}

static void render_pause_histogram(struct strbuf *sb, const struct snapshot *snap)
{
	struct family f = { .name = "pyleak_gc_pause_seconds", .type = "histogram",
			.help = "GC pause duration per generation, since pyleak attached (kernel log2 histogram; "
			    "on the poll tier only +Inf, with an estimated sum)" };
	uint64_t cum[SERVE_PAUSE_BUCKETS], count;
	int i, g, b;

	for (i = 0; i < snap->nrows; i++) {
		const struct proc_row *row = snap->rows[i];

		if (!row_gc(row) || !row->probes_attached)
			continue;
		family__begin(sb, &f);
		for (g = 0; g < MODEL_NGEN; g++) {
			if (row->pauses_estimated) {
				/* No per-pause durations on the poll tier: counts are exact, times sampled. */
				memset(cum, 0, sizeof(cum));
				count = row->pause[g].count;
			} else {
				serve__pause_buckets(row->pause_hist[g], MODEL_HIST_SLOTS, cum, &count);
			}
			for (b = 0; !row->pauses_estimated && b < SERVE_PAUSE_BUCKETS; b++) {
				sb_puts(sb, "pyleak_gc_pause_seconds_bucket{");
				serve__process_labels(sb, row);
				sb_printf(sb, ",generation=\"%d\",le=\"", g);
				value_f(sb, (double)serve__bucket_us(b) / 1e6);
				sb_printf(sb, "\"} %llu\n", (unsigned long long)cum[b]);
			}
			sb_puts(sb, "pyleak_gc_pause_seconds_bucket{");
			serve__process_labels(sb, row);
			sb_printf(sb, ",generation=\"%d\",le=\"+Inf\"} %llu\n", g, (unsigned long long)count);
			sample_f(sb, "pyleak_gc_pause_seconds_sum", row, g, (double)row->pause[g].sum_us / 1e6);
			sample_i(sb, "pyleak_gc_pause_seconds_count", row, g, (long long)count);
		}
	}
}

/* One labelled gauge sample of a process: `name{process labels,label="value"} v`. The label
 * values are this file's constants, never the target's. */
static void labelled_sample(struct strbuf *sb, const char *name, const struct proc_row *row, const char *label,
			    const char *value, double v)
{
	sb_printf(sb, "%s{", name);
	serve__process_labels(sb, row);
	sb_printf(sb, ",%s=\"%s\"} ", label, value);
	value_f(sb, v);
	sb_putc(sb, '\n');
}

static bool row_memory(const struct proc_row *row)
{
	return row_shown(row) && row->memory.valid;
}

/* One series of a memory family: its label value (NULL: the family has no extra label) and
 * where its number is in the memory row. */
struct mem_series {
	const char *value;
	size_t off;
	char kind; /* 'u' uint64_t, 'i' int64_t, 'd' double */
};

enum mem_when { MEM_ALWAYS, MEM_PYMALLOC, MEM_SCAN };

struct mem_family {
	struct family f;
	const char *label;
	enum mem_when when;
	struct mem_series s[6];
};

#define MS(v, field, k) { v, offsetof(struct memory_row, field), k }

static double mem_value(const struct memory_row *m, const struct mem_series *s)
{
	const char *p = (const char *)m + s->off;

	return s->kind == 'u' ? (double)*(const uint64_t *)p
	     : s->kind == 'i' ? (double)*(const int64_t *)p : *(const double *)p;
}

static bool mem_shown(const struct memory_row *m, enum mem_when when)
{
	return when == MEM_ALWAYS || (when == MEM_PYMALLOC && pymalloc_found(m)) ||
	       (when == MEM_SCAN && !strcmp(m->arena_source, "scan"));
}

/*
 * RSS explained (analysis/memory.c, the Memory tab): the disjoint parts of RSS, the pymalloc
 * arenas' own accounting and Python objects' bytes. Every label value is a constant of this
 * file (part, source, state, tracking), so a process adds at most 23 series whatever its heap
 * holds. Absent until the first census that scans the arenas; the pymalloc figures absent
 * while no arena was found (pyleak_pymalloc_found says so).
 */
static void render_memory(struct strbuf *sb, const struct snapshot *snap)
{
	static const char *const sources[] = { "table", "scan", "none" };
	static const struct mem_family fams[] = {
		{ { "pyleak_memory_measured_timestamp_seconds", "gauge",
		    "Wall clock of the measurement the memory families show (a census with an arena scan).", false },
		  NULL, MEM_ALWAYS, { MS(NULL, time, 'd') } },
		{ { "pyleak_memory_bytes", "gauge",
		    "RSS split into disjoint parts (pymalloc_arenas, malloc_heap, anon_other, stacks, file, other; they "
		    "add up to the smaps RSS of the same moment).", false },
		  "part", MEM_ALWAYS,
		  { MS("pymalloc_arenas", arenas, 'u'), MS("malloc_heap", heap, 'u'), MS("anon_other", anon, 'u'),
		    MS("stacks", stacks, 'u'), MS("file", file, 'u'), MS("other", other, 'u') } },
		{ { "pyleak_memory_shared_bytes", "gauge", "Of the RSS, pages shared with other processes (smaps Shared_*).",
		    false },
		  NULL, MEM_ALWAYS, { MS(NULL, shared, 'u') } },
		{ { "pyleak_memory_swap_bytes", "gauge", "Swapped-out anonymous memory of the process (smaps Swap).", false },
		  NULL, MEM_ALWAYS, { MS(NULL, swap, 'u') } },
		{ { "pyleak_pymalloc_scan_confidence", "gauge",
		    "Source scan: share (0-1) of the used pools whose free lists add up.", false },
		  NULL, MEM_SCAN, { MS(NULL, arena_confidence, 'd') } },
		{ { "pyleak_pymalloc_arenas", "gauge",
		    "pymalloc arenas allocated (sys._debugmallocstats(): arenas allocated current).", false },
		  NULL, MEM_PYMALLOC, { MS(NULL, narenas, 'i') } },
		{ { "pyleak_pymalloc_blocks", "gauge",
		    "pymalloc blocks in used pools: state used (allocated) or free (available).", false },
		  "state", MEM_PYMALLOC, { MS("used", blocks_used, 'i'), MS("free", blocks_free, 'i') } },
		{ { "pyleak_pymalloc_block_bytes", "gauge",
		    "Bytes of pymalloc blocks: state used (in allocated blocks), free (available blocks of used pools: "
		    "fragmentation), unused_pools (empty pools), arenas (address space of the arenas).", false },
		  "state", MEM_PYMALLOC,
		  { MS("used", block_bytes_used, 'i'), MS("free", block_bytes_free, 'i'),
		    MS("unused_pools", unused_pool_bytes, 'i'), MS("arenas", arena_bytes, 'i') } },
		{ { "pyleak_python_object_bytes", "gauge",
		    "Shallow bytes of Python objects at the last census with an arena scan: tracking tracked (on the GC "
		    "lists) or untracked (found in the arenas only).", false },
		  "tracking", MEM_ALWAYS, { MS("tracked", tracked_bytes, 'i'), MS("untracked", untracked_bytes, 'i') } },
		{ { "pyleak_python_untracked_objects", "gauge",
		    "Objects in the pymalloc arenas the GC does not track, at the last census with an arena scan.", false },
		  NULL, MEM_ALWAYS, { MS(NULL, untracked_objects, 'i') } },
	};
	struct family f_found = { .name = "pyleak_pymalloc_found", .type = "gauge",
			.help = "1 for how the pymalloc arenas were found: table (the interpreter's arena table, exact), "
			    "scan (anonymous memory scanned, heuristic), none (not found)." };
	int i, k, fi;

	for (fi = 0; fi < (int)ARRAY_SIZE(fams); fi++) {
		const struct mem_family *mf = &fams[fi];
		struct family f = mf->f; /* this scrape's copy: its own "header written" */
		for (i = 0; i < snap->nrows; i++) {
			const struct proc_row *row = snap->rows[i];

			if (!row_memory(row) || !mem_shown(&row->memory, mf->when))
				continue;
			family__begin(sb, &f);
			for (k = 0; k < (int)ARRAY_SIZE(mf->s) && mf->s[k].kind; k++) {
				double v = mem_value(&row->memory, &mf->s[k]);

				if (mf->label)
					labelled_sample(sb, f.name, row, mf->label, mf->s[k].value, v);
				else
					sample_f(sb, f.name, row, -1, v);
			}
		}
	}
	for (i = 0; i < snap->nrows; i++) {
		const struct proc_row *row = snap->rows[i];

		if (!row_memory(row))
			continue;
		family__begin(sb, &f_found);
		for (k = 0; k < (int)ARRAY_SIZE(sources); k++)
			labelled_sample(sb, f_found.name, row, "source", sources[k],
					k == 2 ? !pymalloc_found(&row->memory) : !strcmp(row->memory.arena_source, sources[k]));
	}
}
#undef MS

static bool row_censused(const struct proc_row *row)
{
	return row_shown(row) && row->census_time > 0;
}

static bool type_is_suspect(const struct proc_row *row, const char *name)
{
	for (int i = 0; i < row->nsuspects; i++)
		if (row->suspects[i].kind == SUSPECT_TYPE && !strcmp(row->suspects[i].name, name))
			return true;
	return false;
}

/*
 * Which type rows of a process get series: the top_types largest (the model keeps them by
 * count), plus the suspect types among the rest (at most MODEL_MAX_SUSPECTS more). So the label
 * set per process is bounded by top_types + 16 whatever the heap holds.
 */
static bool type_exported(const struct proc_row *row, int i, int top)
{
	return i < top || type_is_suspect(row, row->types[i].name);
}

static void type_sample(struct strbuf *sb, const char *name, const struct proc_row *row, const char *type, double v)
{
	sb_printf(sb, "%s{", name);
	serve__process_labels(sb, row);
	sb_puts(sb, ",type=\"");
	serve__label_value(sb, type);
	sb_puts(sb, "\"} ");
	value_f(sb, v);
	sb_putc(sb, '\n');
}

void serve_render_types(struct strbuf *sb, const struct snapshot *snap, const struct serve_render_opts *opts)
{
	struct family f_live = { .name = "pyleak_live_objects", .type = "gauge",
			.help = "GC-tracked objects counted by the last census of the process." };
	struct family f_cnt = { .name = "pyleak_type_live_objects", .type = "gauge",
			.help = "Live GC-tracked objects of a type at the last census (the top types per process "
			    "by count, and every leak-suspect type)." };
	struct family f_bytes = { .name = "pyleak_type_live_bytes", .type = "gauge",
			.help = "Shallow bytes of the live objects of a type at the last census." };
	struct family f_rate = { .name = "pyleak_type_growth_per_minute", .type = "gauge",
			.help = "Change of a type's live count per minute (Theil-Sen slope over the census window)." };
	int top = opts && opts->top_types > 0 ? opts->top_types : 0;
	int i, k;

	for (i = 0; i < snap->nrows; i++) {
		const struct proc_row *row = snap->rows[i];

		if (!row_censused(row) || row->live_objects < 0)
			continue;
		family__begin(sb, &f_live);
		sample_i(sb, f_live.name, row, -1, (long long)row->live_objects);
	}
	for (i = 0; i < snap->nrows; i++) {
		const struct proc_row *row = snap->rows[i];

		for (k = 0; row_censused(row) && k < row->ntypes; k++) {
			if (!type_exported(row, k, top))
				continue;
			family__begin(sb, &f_cnt);
			type_sample(sb, f_cnt.name, row, row->types[k].name, (double)row->types[k].count);
		}
	}
	for (i = 0; i < snap->nrows; i++) {
		const struct proc_row *row = snap->rows[i];

		for (k = 0; row_censused(row) && k < row->ntypes; k++) {
			if (!type_exported(row, k, top))
				continue;
			family__begin(sb, &f_bytes);
			type_sample(sb, f_bytes.name, row, row->types[k].name, (double)row->types[k].bytes);
		}
	}
	for (i = 0; i < snap->nrows; i++) {
		const struct proc_row *row = snap->rows[i];

		for (k = 0; row_censused(row) && k < row->ntypes; k++) {
			if (!type_exported(row, k, top))
				continue;
			family__begin(sb, &f_rate);
			type_sample(sb, f_rate.name, row, row->types[k].name, row->types[k].per_min);
		}
	}
}

static void suspect_sample(struct strbuf *sb, const char *name, const struct proc_row *row, const struct suspect *s,
			   double v)
{
	sb_printf(sb, "%s{", name);
	serve__process_labels(sb, row);
	sb_printf(sb, ",kind=\"%s\",name=\"", suspect_kind__name(s->kind));
	serve__label_value(sb, s->name);
	sb_puts(sb, "\"} ");
	value_f(sb, v);
	sb_putc(sb, '\n');
}

/*
 * Leak verdicts: a count per process (0 once the process is watched, so `> 0` alerts work and
 * recover), and one flag series per suspect with its growth. At most MODEL_MAX_SUSPECTS per
 * process; names are type names, holder names or "gc.garbage"/"rss".
 */
void serve_render_suspects(struct strbuf *sb, const struct snapshot *snap, const struct serve_render_opts *opts)
{
	struct family f_n = { .name = "pyleak_leak_suspects", .type = "gauge",
			.help = "Leak suspects of the process now (types, containers, gc.garbage, RSS)." };
	struct family f_flag = { .name = "pyleak_leak_suspect", .type = "gauge",
			.help = "1 for each current leak suspect: kind (type, container, garbage, rss) and name." };
	struct family f_rate = { .name = "pyleak_leak_suspect_growth_per_minute", .type = "gauge",
			.help = "Growth of a leak suspect per minute: objects, items, or bytes for kind rss." };
	struct family f_conf = { .name = "pyleak_leak_suspect_confidence", .type = "gauge",
			.help = "Mann-Kendall confidence (0-1) of a leak suspect's growth." };
	int i, k;

	(void)opts;
	for (i = 0; i < snap->nrows; i++) {
		const struct proc_row *row = snap->rows[i];

		if (!row_gc(row))
			continue;
		family__begin(sb, &f_n);
		sample_i(sb, f_n.name, row, -1, row->nsuspects);
	}
	for (i = 0; i < snap->nrows; i++)
		for (k = 0; row_gc(snap->rows[i]) && k < snap->rows[i]->nsuspects; k++) {
			family__begin(sb, &f_flag);
			suspect_sample(sb, f_flag.name, snap->rows[i], &snap->rows[i]->suspects[k], 1);
		}
	for (i = 0; i < snap->nrows; i++)
		for (k = 0; row_gc(snap->rows[i]) && k < snap->rows[i]->nsuspects; k++) {
			family__begin(sb, &f_rate);
			suspect_sample(sb, f_rate.name, snap->rows[i], &snap->rows[i]->suspects[k],
				       snap->rows[i]->suspects[k].per_min);
		}
	for (i = 0; i < snap->nrows; i++)
		for (k = 0; row_gc(snap->rows[i]) && k < snap->rows[i]->nsuspects; k++) {
			family__begin(sb, &f_conf);
			suspect_sample(sb, f_conf.name, snap->rows[i], &snap->rows[i]->suspects[k],
				       snap->rows[i]->suspects[k].confidence);
		}
}

void serve__render_scrapes(struct strbuf *sb, uint64_t scrapes)
{
	sb_printf(sb,
		  "# HELP pyleak_scrapes_total Scrapes of /metrics answered, this one included.\n"
		  "# TYPE pyleak_scrapes_total counter\n"
		  "pyleak_scrapes_total %llu\n",
		  (unsigned long long)scrapes);
}

void serve__render(struct strbuf *sb, const struct snapshot *snap, const struct serve_stats *st,
		   const struct serve_render_opts *opts)
{
	struct family f_rss = { .name = "pyleak_process_resident_memory_bytes", .type = "gauge",
			.help = "Resident set size of the Python process." };
	struct family f_coll = { .name = "pyleak_gc_collections_total", .type = "counter",
			.help = "Collections per generation since the process started (gc.get_stats())." };
	struct family f_cted = { .name = "pyleak_gc_collected_total", .type = "counter",
			.help = "Objects collected per generation since the process started (gc.get_stats())." };
	struct family f_unc = { .name = "pyleak_gc_uncollectable_total", .type = "counter",
			.help = "Uncollectable objects per generation since the process started (gc.get_stats())." };
	struct family f_garb = { .name = "pyleak_gc_garbage_objects", .type = "gauge",
			.help = "Length of gc.garbage." };
	struct family f_en = { .name = "pyleak_gc_enabled", .type = "gauge",
			.help = "1 when automatic collection is enabled (gc.isenabled())." };
	struct family f_thr = { .name = "pyleak_gc_threshold", .type = "gauge",
			.help = "Collection thresholds per generation (gc.get_threshold())." };
	struct family f_time = { .name = "pyleak_gc_time_seconds_total", .type = "counter",
			.help = "Time spent in GC since pyleak attached (estimated on the poll tier)." };
	struct family f_est = { .name = "pyleak_gc_pauses_estimated", .type = "gauge",
			.help = "1 when pause times are estimated by sampling (poll tier: no GC probes in this build)." };
	int i, nshown = 0;

	for (i = 0; i < snap->nrows; i++)
		nshown += row_shown(snap->rows[i]);

	sb_printf(sb,
		  "# HELP pyleak_build_info pyleak build; the value is always 1.\n"
		  "# TYPE pyleak_build_info gauge\n"
		  "pyleak_build_info{version=\"%s\"} 1\n"
		  "# HELP pyleak_processes Python processes observed.\n"
		  "# TYPE pyleak_processes gauge\n"
		  "pyleak_processes %d\n"
		  "# HELP pyleak_collector_refreshes_total Collector refreshes since pyleak started.\n"
		  "# TYPE pyleak_collector_refreshes_total counter\n"
		  "pyleak_collector_refreshes_total %llu\n"
		  "# HELP pyleak_collector_refresh_seconds Duration of the last collector refresh.\n"
		  "# TYPE pyleak_collector_refresh_seconds gauge\n"
		  "pyleak_collector_refresh_seconds ",
		  PYLEAK_VERSION, nshown, (unsigned long long)st->refreshes);
	value_f(sb, st->refresh_seconds);
	sb_puts(sb, "\n# HELP pyleak_collector_last_refresh_timestamp_seconds Wall clock of the last collector refresh.\n"
		    "# TYPE pyleak_collector_last_refresh_timestamp_seconds gauge\n"
		    "pyleak_collector_last_refresh_timestamp_seconds ");
	sb_printf(sb, "%.3f\n", st->last_refresh_time);
	sb_printf(sb,
		  "# HELP pyleak_dropped_events_total GC events lost because the kernel ring buffer was full.\n"
		  "# TYPE pyleak_dropped_events_total counter\n"
		  "pyleak_dropped_events_total %llu\n",
		  (unsigned long long)snap->dropped_events);

	for (i = 0; i < snap->nrows; i++) {
		const struct proc_row *row = snap->rows[i];

		if (!row_shown(row))
			continue;
		family__begin(sb, &f_rss);
		sample_i(sb, f_rss.name, row, -1, (long long)row->rss);
	}
	render_gc_counter(sb, snap, &f_coll, offsetof(struct proc_row, collections));
	render_gc_counter(sb, snap, &f_cted, offsetof(struct proc_row, collected));
	render_gc_counter(sb, snap, &f_unc, offsetof(struct proc_row, uncollectable));
	for (i = 0; i < snap->nrows; i++) {
		const struct proc_row *row = snap->rows[i];

		if (!row_gc(row) || row->garbage < 0)
			continue;
		family__begin(sb, &f_garb);
		sample_i(sb, f_garb.name, row, -1, (long long)row->garbage);
	}
	for (i = 0; i < snap->nrows; i++) {
		const struct proc_row *row = snap->rows[i];

		if (!row_gc(row))
			continue;
		family__begin(sb, &f_en);
		sample_i(sb, f_en.name, row, -1, row->enabled ? 1 : 0);
	}
	render_gc_counter(sb, snap, &f_thr, offsetof(struct proc_row, thresholds));
	render_pause_histogram(sb, snap);
	for (i = 0; i < snap->nrows; i++) {
		const struct proc_row *row = snap->rows[i];

		if (!row_gc(row) || !row->probes_attached)
			continue;
		family__begin(sb, &f_time);
		sample_f(sb, f_time.name, row, -1, (double)row->gc_ns_total / 1e9);
	}
	for (i = 0; i < snap->nrows; i++) {
		const struct proc_row *row = snap->rows[i];

		if (!row_gc(row))
			continue;
		family__begin(sb, &f_est);
		sample_i(sb, f_est.name, row, -1, row->pauses_estimated ? 1 : 0);
	}
	render_memory(sb, snap);
	serve_render_types(sb, snap, opts);
	serve_render_suspects(sb, snap, opts);
	serve_render_groups(sb, snap);
}
