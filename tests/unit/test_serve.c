/* SPDX-License-Identifier: BSD-2-Clause */
/* The Prometheus renderer on hand-built snapshots: names, labels, escaping, histograms, addresses. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "probes/gc.h"
#include "views/serve.h"
#include "model/groups.h"

#define MAX_LINES 4096

struct fixture {
	struct snapshot snap;
	struct proc_row *rows[4];
	struct strbuf out;
	char *lines[MAX_LINES];
	int nlines;
};

static void add_pause(struct proc_row *row, int gen, uint64_t us)
{
	row->pause_hist[gen][pause_hist__slot(us)]++;
	row->pause[gen].count++;
	row->pause[gen].sum_us += us;
}

static struct proc_row *new_row(pid_t pid, const char *comm, const char *version, enum gc_tier tier)
{
	struct proc_row *row = calloc(1, sizeof(*row));

	assert_non_null(row);
	row->target.pid = row->target.ns_pid = pid;
	copy_str(row->target.comm, sizeof(row->target.comm), comm);
	copy_str(row->target.version, sizeof(row->target.version), version);
	row->target.tier = tier;
	row->gc_valid = true;
	row->probes_attached = true;
	row->enabled = 1;
	row->garbage = 0;
	row->thresholds[0] = 700;
	row->thresholds[1] = 10;
	row->thresholds[2] = 10;
	row->rss = 12345678;
	return row;
}

static void render(struct fixture *f)
{
	struct serve_stats st = { .refreshes = 42, .refresh_seconds = 0.0125, .last_refresh_time = 1700000000.5 };
	struct serve_render_opts ro = { .top_types = 10 };
	char *p, *nl;

	sb_init(&f->out);
	serve__render(&f->out, &f->snap, &st, &ro);
	serve__render_scrapes(&f->out, 7);
	assert_false(f->out.oom);
	assert_non_null(f->out.buf);
	/* The exposition is a sequence of complete lines. */
	assert_true(f->out.len > 0 && f->out.buf[f->out.len - 1] == '\n');
	for (p = f->out.buf; *p && f->nlines < MAX_LINES; p = nl + 1) {
		nl = strchr(p, '\n');
		assert_non_null(nl);
		*nl = '\0';
		f->lines[f->nlines++] = p;
	}
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct proc_row *a, *gone, *poll;

	assert_non_null(f);
	/* Every character a label value must escape, an invalid UTF-8 byte, and a valid é. */
	a = new_row(100, "we\"ird\\na\nme\xff\xc3\xa9", "3.11.2", GC_TIER_USDT);
	copy_str(a->target.container_id, sizeof(a->target.container_id), "abc123");
	a->collections[0] = 5;
	a->collections[1] = 3;
	a->collections[2] = 1;
	a->collected[0] = 50;
	a->collected[2] = 7;
	a->uncollectable[2] = 2;
	a->garbage = 2;
	a->gc_ns_total = 1500000000ull; /* 1.5 s */
	add_pause(a, 0, 10);
	add_pause(a, 0, 10);
	add_pause(a, 0, 20);
	add_pause(a, 0, 100);
	add_pause(a, 0, 3000);
	add_pause(a, 0, 10000000); /* 10 s: beyond the last finite bucket (8.39 s) */
	add_pause(a, 2, 16);	   /* exactly a bound: the slot [16,20) goes to le=32 µs */

	gone = new_row(200, "gone", "3.12.1", GC_TIER_UPROBE);
	gone->exited = true;

	poll = new_row(300, "stripped", "3.11.2", GC_TIER_POLL);
	poll->pauses_estimated = true;
	poll->pause[0].count = 7;
	poll->pause[0].sum_us = 3500;
	poll->enabled = 0;

	f->rows[0] = a;
	f->rows[1] = gone;
	f->rows[2] = poll;
	f->snap.rows = f->rows;
	f->snap.nrows = 3;
	f->snap.dropped_events = 3;
	render(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	int i;

	for (i = 0; i < 4; i++)
		free(f->rows[i]);
	sb_free(&f->out);
	free(f);
	return 0;
}

/* The value of the one sample line that starts with prefix (name and labels up to the value). */
static const char *sample(struct fixture *f, const char *prefix)
{
	const char *found = NULL;
	size_t n = strlen(prefix);
	int i;

	for (i = 0; i < f->nlines; i++) {
		if (!strncmp(f->lines[i], prefix, n) && f->lines[i][n] == ' ') {
			assert_null(found); /* no duplicate series */
			found = f->lines[i] + n + 1;
		}
	}
	return found;
}

static int count_containing(struct fixture *f, const char *needle)
{
	int i, n = 0;

	for (i = 0; i < f->nlines; i++)
		n += strstr(f->lines[i], needle) != NULL;
	return n;
}

static void metric_name(const char *line, char *name, size_t sz)
{
	size_t n = strcspn(line, "{ ");

	assert_true(n < sz);
	memcpy(name, line, n);
	name[n] = '\0';
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

static void test_help_type_once_per_family(void **state)
{
	struct fixture *f = *state;
	char family[128] = "", type[32] = "", name[128], seen[64][128];
	int nseen = 0, i, j;

	for (i = 0; i < f->nlines; i++) {
		const char *l = f->lines[i];

		if (!strncmp(l, "# HELP ", 7)) {
			metric_name(l + 7, family, sizeof(family));
			for (j = 0; j < nseen; j++)
				assert_string_not_equal(seen[j], family);
			assert_true(nseen < 64);
			strcpy(seen[nseen++], family);
			/* TYPE follows its HELP directly */
			assert_true(i + 1 < f->nlines);
			assert_true(!strncmp(f->lines[i + 1], "# TYPE ", 7));
			metric_name(f->lines[i + 1] + 7, name, sizeof(name));
			assert_string_equal(name, family);
			assert_int_equal(sscanf(f->lines[i + 1] + 7 + strlen(name), " %31s", type), 1);
			/* Prometheus naming: counters end in _total, nothing else does */
			assert_int_equal(!strcmp(type, "counter"), ends_with(family, "_total"));
			assert_true(!strncmp(family, "pyleak_", 7));
			i++;
			continue;
		}
		assert_true(l[0] != '#');
		assert_true(family[0]);
		/* every sample belongs to the family whose header came last (families are contiguous) */
		metric_name(l, name, sizeof(name));
		if (!strcmp(type, "histogram")) {
			size_t fl = strlen(family);

			assert_true(!strncmp(name, family, fl));
			assert_true(!strcmp(name + fl, "_bucket") || !strcmp(name + fl, "_sum") ||
				    !strcmp(name + fl, "_count"));
		} else {
			assert_string_equal(name, family);
		}
	}
	/* the families the brief asks for are all there */
	{
		static const char *const want[] = {
			"pyleak_build_info", "pyleak_processes", "pyleak_collector_refreshes_total",
			"pyleak_collector_refresh_seconds", "pyleak_dropped_events_total", "pyleak_scrapes_total",
			"pyleak_process_resident_memory_bytes", "pyleak_gc_collections_total",
			"pyleak_gc_collected_total", "pyleak_gc_uncollectable_total", "pyleak_gc_garbage_objects",
			"pyleak_gc_enabled", "pyleak_gc_threshold", "pyleak_gc_pause_seconds",
			"pyleak_gc_time_seconds_total", "pyleak_gc_pauses_estimated",
		};
		for (i = 0; i < (int)ARRAY_SIZE(want); i++) {
			bool found = false;

			for (j = 0; j < nseen; j++)
				found |= !strcmp(seen[j], want[i]);
			if (!found)
				fail_msg("family %s missing", want[i]);
		}
	}
}

/* comm "we\"ird\\na<LF>me<FF>é": esc_prom shows esc_text's visible escapes, then quotes them */
#define A_LABELS "pid=\"100\",comm=\"we\\\"ird\\\\\\\\na\\\\nme\\\\xff\xc3\xa9\",python=\"3.11.2\",gc_source=\"usdt\",container_id=\"abc123\""
#define P_LABELS "pid=\"300\",comm=\"stripped\",python=\"3.11.2\",gc_source=\"poll\""

static void test_labels_and_values(void **state)
{
	struct fixture *f = *state;

	assert_string_equal(sample(f, "pyleak_gc_collections_total{" A_LABELS ",generation=\"0\"}"), "5");
	assert_string_equal(sample(f, "pyleak_gc_collections_total{" A_LABELS ",generation=\"1\"}"), "3");
	assert_string_equal(sample(f, "pyleak_gc_collections_total{" A_LABELS ",generation=\"2\"}"), "1");
	assert_string_equal(sample(f, "pyleak_gc_collected_total{" A_LABELS ",generation=\"2\"}"), "7");
	assert_string_equal(sample(f, "pyleak_gc_uncollectable_total{" A_LABELS ",generation=\"2\"}"), "2");
	assert_string_equal(sample(f, "pyleak_gc_garbage_objects{" A_LABELS "}"), "2");
	assert_string_equal(sample(f, "pyleak_gc_enabled{" A_LABELS "}"), "1");
	assert_string_equal(sample(f, "pyleak_gc_enabled{" P_LABELS "}"), "0");
	assert_string_equal(sample(f, "pyleak_gc_threshold{" A_LABELS ",generation=\"0\"}"), "700");
	assert_string_equal(sample(f, "pyleak_gc_time_seconds_total{" A_LABELS "}"), "1.5");
	assert_string_equal(sample(f, "pyleak_gc_pauses_estimated{" A_LABELS "}"), "0");
	assert_string_equal(sample(f, "pyleak_gc_pauses_estimated{" P_LABELS "}"), "1");
	assert_string_equal(sample(f, "pyleak_process_resident_memory_bytes{" A_LABELS "}"), "12345678");
	/* self metrics */
	assert_string_equal(sample(f, "pyleak_processes"), "2");
	assert_string_equal(sample(f, "pyleak_collector_refreshes_total"), "42");
	assert_string_equal(sample(f, "pyleak_collector_refresh_seconds"), "0.0125");
	assert_string_equal(sample(f, "pyleak_dropped_events_total"), "3");
	assert_string_equal(sample(f, "pyleak_scrapes_total"), "7");
	assert_non_null(sample(f, "pyleak_build_info{version=\"" PYLEAK_VERSION "\"}"));
	/* container_id only when known: on every series of pid 100, on none of pid 300 */
	for (int i = 0; i < f->nlines; i++) {
		if (strstr(f->lines[i], "pid=\"100\""))
			assert_non_null(strstr(f->lines[i], ",container_id=\"abc123\""));
		if (strstr(f->lines[i], "pid=\"300\""))
			assert_null(strstr(f->lines[i], "container_id"));
	}
	assert_true(count_containing(f, "pid=\"300\"") > 10);
	/* an exited process is simply not rendered any more */
	assert_int_equal(count_containing(f, "pid=\"200\""), 0);
}

static void histogram(struct fixture *f, const char *labels, uint64_t *cum, char les[][32], int *n, uint64_t *count,
		      double *sum)
{
	char prefix[512];
	size_t pl;
	int i;

	snprintf(prefix, sizeof(prefix), "pyleak_gc_pause_seconds_bucket{%s,le=\"", labels);
	pl = strlen(prefix);
	*n = 0;
	for (i = 0; i < f->nlines; i++) {
		const char *l = f->lines[i], *q;

		if (strncmp(l, prefix, pl))
			continue;
		q = strchr(l + pl, '"');
		assert_non_null(q);
		assert_true(q - (l + pl) < 32);
		memcpy(les[*n], l + pl, (size_t)(q - (l + pl)));
		les[*n][q - (l + pl)] = '\0';
		assert_true(!strncmp(q, "\"} ", 3));
		cum[*n] = strtoull(q + 3, NULL, 10);
		(*n)++;
	}
	snprintf(prefix, sizeof(prefix), "pyleak_gc_pause_seconds_count{%s}", labels);
	*count = strtoull(sample(f, prefix), NULL, 10);
	snprintf(prefix, sizeof(prefix), "pyleak_gc_pause_seconds_sum{%s}", labels);
	*sum = strtod(sample(f, prefix), NULL);
}

static void test_histogram_buckets(void **state)
{
	struct fixture *f = *state;
	uint64_t cum[64], count;
	char les[64][32];
	double sum, prev_le = 0;
	int n, i;

	histogram(f, A_LABELS ",generation=\"0\"", cum, les, &n, &count, &sum);
	assert_int_equal(n, SERVE_PAUSE_BUCKETS + 1);
	for (i = 0; i < n - 1; i++) {
		double le = strtod(les[i], NULL);

		assert_true(le > prev_le); /* increasing bounds */
		assert_true(i == 0 || cum[i] >= cum[i - 1]); /* cumulative */
		prev_le = le;
	}
	assert_string_equal(les[0], "1.6e-05");
	assert_string_equal(les[n - 2], "8.388608");
	assert_string_equal(les[n - 1], "+Inf");
	assert_int_equal(cum[n - 1], count);
	assert_int_equal(count, 6);
	assert_int_equal(cum[0], 2);  /* 10 µs ×2 <= 16 µs */
	assert_int_equal(cum[1], 3);  /* + 20 µs <= 32 µs */
	assert_int_equal(cum[2], 3);  /* nothing in (32, 64] */
	assert_int_equal(cum[3], 4);  /* + 100 µs <= 128 µs */
	assert_int_equal(cum[7], 4);  /* <= 2048 µs */
	assert_int_equal(cum[8], 5);  /* + 3000 µs <= 4096 µs */
	assert_int_equal(cum[n - 2], 5); /* 10 s is only in +Inf */
	assert_true(sum > 10.00314 - 1e-9 && sum < 10.00314 + 1e-9);

	/* a pause of exactly a bound's µs: truncated to whole µs its true length may exceed it */
	histogram(f, A_LABELS ",generation=\"2\"", cum, les, &n, &count, &sum);
	assert_int_equal(cum[0], 0);
	assert_int_equal(cum[1], 1);
	assert_int_equal(count, 1);

	/* poll tier: no durations per pause, so only +Inf (= the exact count) and the estimated sum */
	histogram(f, P_LABELS ",generation=\"0\"", cum, les, &n, &count, &sum);
	assert_int_equal(n, 1);
	assert_string_equal(les[0], "+Inf");
	assert_int_equal(cum[0], 7);
	assert_int_equal(count, 7);
	assert_true(sum > 0.0035 - 1e-12 && sum < 0.0035 + 1e-12);
}

static void test_pause_buckets_every_slot(void **state)
{
	uint32_t hist[GC_PROBES_HIST_SLOTS];
	uint64_t cum[SERVE_PAUSE_BUCKETS], count, lo, hi;
	int s, b;

	(void)state;
	/* One pause in each slot in turn: it lands in exactly the buckets whose bound is >= its
	 * slot's upper end, i.e. never in a bucket that its true value might exceed. */
	for (s = 0; s < GC_PROBES_HIST_SLOTS; s++) {
		memset(hist, 0, sizeof(hist));
		hist[s] = 1;
		serve__pause_buckets(hist, GC_PROBES_HIST_SLOTS, cum, &count);
		assert_int_equal(count, 1);
		pause_hist__bounds((uint32_t)s, &lo, &hi);
		for (b = 0; b < SERVE_PAUSE_BUCKETS; b++) {
			assert_int_equal(cum[b], hi <= serve__bucket_us(b) ? 1 : 0);
			/* ... and the power-of-two bounds split no slot: the slot is wholly on one side */
			assert_true(lo >= serve__bucket_us(b) || hi <= serve__bucket_us(b));
		}
	}
}

static void test_label_escaping(void **state)
{
	struct strbuf sb;

	(void)state;
	sb_init(&sb);
	serve__label_value(&sb, "a\\b\"c\nd");
	assert_string_equal(sb.buf, "a\\\\\\\\b\\\"c\\\\nd"); /* esc_text "a\\\\b\"c\\nd", quoted */
	sb_reset(&sb);
	serve__label_value(&sb, "x\xff\xc3(\xe2\x82\xac\xed\xa0\x80y"); /* bad, truncated, €, surrogate */
	assert_string_equal(sb.buf, "x\\\\xff\\\\xc3(\xe2\x82\xac\\\\xed\\\\xa0\\\\x80y");
	sb_reset(&sb);
	serve__label_value(&sb, NULL);
	assert_true(sb.buf == NULL || sb.buf[0] == '\0');
	sb_free(&sb);
}

static void test_empty_snapshot(void **state)
{
	struct fixture f;

	(void)state;
	memset(&f, 0, sizeof(f));
	render(&f);
	assert_string_equal(sample(&f, "pyleak_processes"), "0");
	assert_int_equal(count_containing(&f, "pyleak_gc_"), 0); /* no empty families */
	sb_free(&f.out);
}

/* Census families: the top types by count plus suspect types (bounded labels); suspect flags. */
static void test_types_and_suspects(void **state)
{
	struct fixture f;
	struct proc_row *row, *quiet;
	char want[256];
	int i;

	(void)state;
	memset(&f, 0, sizeof(f));
	row = new_row(500, "svc", "3.12.1", GC_TIER_UPROBE);
	row->census_time = 1700000000;
	row->live_objects = 123456;
	for (i = 0; i < 15; i++) {
		struct type_row *t = &row->types[row->ntypes++];

		snprintf(t->name, sizeof(t->name), "mod.T%02d", i);
		t->count = 1000 - i;
		t->bytes = 64 * t->count;
		t->per_min = i == 13 ? 3000.5 : 0;
	}
	row->suspects[0] = (struct suspect){ .kind = SUSPECT_TYPE, .per_min = 3000.5, .confidence = 0.9999 };
	copy_str(row->suspects[0].name, sizeof(row->suspects[0].name), "mod.T13");
	row->suspects[1] = (struct suspect){ .kind = SUSPECT_CONTAINER, .per_min = 50, .confidence = 0.99 };
	copy_str(row->suspects[1].name, sizeof(row->suspects[1].name), "__main__.we\"ird");
	row->nsuspects = 2;
	quiet = new_row(600, "quiet", "3.11.2", GC_TIER_USDT); /* watched, no census yet */
	quiet->live_objects = -1;
	f.rows[0] = row;
	f.rows[1] = quiet;
	f.snap.rows = f.rows;
	f.snap.nrows = 2;
	render(&f);

#define L500 "pid=\"500\",comm=\"svc\",python=\"3.12.1\",gc_source=\"uprobe\""
#define L600 "pid=\"600\",comm=\"quiet\",python=\"3.11.2\",gc_source=\"usdt\""
	assert_string_equal(sample(&f, "pyleak_live_objects{" L500 "}"), "123456");
	assert_null(sample(&f, "pyleak_live_objects{" L600 "}"));
	/* top_types = 10 by count, and T13 because it is a suspect: 11 series per family */
	assert_int_equal(count_containing(&f, "pyleak_type_live_objects{"), 11);
	assert_int_equal(count_containing(&f, "pyleak_type_live_bytes{"), 11);
	assert_int_equal(count_containing(&f, "pyleak_type_growth_per_minute{"), 11);
	assert_string_equal(sample(&f, "pyleak_type_live_objects{" L500 ",type=\"mod.T00\"}"), "1000");
	assert_string_equal(sample(&f, "pyleak_type_live_bytes{" L500 ",type=\"mod.T09\"}"), "63424");
	assert_null(sample(&f, "pyleak_type_live_objects{" L500 ",type=\"mod.T10\"}"));
	assert_string_equal(sample(&f, "pyleak_type_live_objects{" L500 ",type=\"mod.T13\"}"), "987");
	assert_string_equal(sample(&f, "pyleak_type_growth_per_minute{" L500 ",type=\"mod.T13\"}"), "3000.5");
	/* suspects: a count per watched process (0 included), flags with escaped names */
	assert_string_equal(sample(&f, "pyleak_leak_suspects{" L500 "}"), "2");
	assert_string_equal(sample(&f, "pyleak_leak_suspects{" L600 "}"), "0");
	assert_string_equal(sample(&f, "pyleak_leak_suspect{" L500 ",kind=\"type\",name=\"mod.T13\"}"), "1");
	snprintf(want, sizeof(want), "pyleak_leak_suspect{" L500 ",kind=\"container\",name=\"__main__.we\\\"ird\"}");
	assert_string_equal(sample(&f, want), "1");
	assert_string_equal(
		sample(&f, "pyleak_leak_suspect_growth_per_minute{" L500 ",kind=\"container\",name=\"__main__.we\\\"ird\"}"),
		"50");
	assert_string_equal(sample(&f, "pyleak_leak_suspect_confidence{" L500 ",kind=\"type\",name=\"mod.T13\"}"),
			    "0.9999");
	/* each family once, HELP and TYPE before its samples */
	assert_int_equal(count_containing(&f, "# TYPE pyleak_leak_suspect gauge"), 1);
	assert_int_equal(count_containing(&f, "# TYPE pyleak_type_live_objects gauge"), 1);
	free(row);
	free(quiet);
	sb_free(&f.out);
#undef L500
#undef L600
}

/* The memory families: one series per constant label value, absent without a measurement, the
 * pymalloc ones absent while no arena was found. */
static void test_memory(void **state)
{
	struct fixture f;
	struct proc_row *row, *none, *quiet;

	(void)state;
	memset(&f, 0, sizeof(f));
	row = new_row(700, "mem", "3.11.2", GC_TIER_USDT);
	row->memory = (struct memory_row){ .valid = true, .time = 1700000001.25, .rss = 60, .arenas = 10, .heap = 20,
					   .anon = 15, .stacks = 5, .file = 8, .other = 2, .shared = 3, .swap = 1,
					   .arena_confidence = 0.995, .narenas = 4, .arena_bytes = 4 << 20,
					   .blocks_used = 1000, .blocks_free = 50, .block_bytes_used = 32000,
					   .block_bytes_free = 1600, .unused_pool_bytes = 16384, .tracked_bytes = 9000,
					   .untracked_bytes = 7000, .untracked_objects = 123 };
	copy_str(row->memory.arena_source, sizeof(row->memory.arena_source), "scan");
	none = new_row(701, "none", "3.11.2", GC_TIER_USDT);
	none->memory = (struct memory_row){ .valid = true, .rss = 5, .anon = 5 };
	copy_str(none->memory.arena_source, sizeof(none->memory.arena_source), "none");
	quiet = new_row(702, "quiet", "3.11.2", GC_TIER_USDT); /* no arena census yet */
	memcpy(f.rows, (struct proc_row *[]){ row, none, quiet }, 3 * sizeof(f.rows[0]));
	f.snap = (struct snapshot){ .rows = f.rows, .nrows = 3 };
	render(&f);
#define L700 "pid=\"700\",comm=\"mem\",python=\"3.11.2\",gc_source=\"usdt\""
#define L701 "pid=\"701\",comm=\"none\",python=\"3.11.2\",gc_source=\"usdt\""
	assert_string_equal(sample(&f, "pyleak_memory_bytes{" L700 ",part=\"pymalloc_arenas\"}"), "10");
	assert_string_equal(sample(&f, "pyleak_memory_bytes{" L700 ",part=\"malloc_heap\"}"), "20");
	assert_string_equal(sample(&f, "pyleak_memory_bytes{" L700 ",part=\"anon_other\"}"), "15");
	assert_string_equal(sample(&f, "pyleak_memory_bytes{" L700 ",part=\"stacks\"}"), "5");
	assert_string_equal(sample(&f, "pyleak_memory_bytes{" L700 ",part=\"file\"}"), "8");
	assert_string_equal(sample(&f, "pyleak_memory_bytes{" L700 ",part=\"other\"}"), "2");
	assert_string_equal(sample(&f, "pyleak_memory_shared_bytes{" L700 "}"), "3");
	assert_string_equal(sample(&f, "pyleak_memory_swap_bytes{" L700 "}"), "1");
	assert_string_equal(sample(&f, "pyleak_memory_measured_timestamp_seconds{" L700 "}"), "1700000001.25");
	assert_string_equal(sample(&f, "pyleak_pymalloc_found{" L700 ",source=\"scan\"}"), "1");
	assert_string_equal(sample(&f, "pyleak_pymalloc_found{" L700 ",source=\"table\"}"), "0");
	assert_string_equal(sample(&f, "pyleak_pymalloc_found{" L700 ",source=\"none\"}"), "0");
	assert_string_equal(sample(&f, "pyleak_pymalloc_scan_confidence{" L700 "}"), "0.995");
	assert_string_equal(sample(&f, "pyleak_pymalloc_arenas{" L700 "}"), "4");
	assert_string_equal(sample(&f, "pyleak_pymalloc_blocks{" L700 ",state=\"used\"}"), "1000");
	assert_string_equal(sample(&f, "pyleak_pymalloc_blocks{" L700 ",state=\"free\"}"), "50");
	assert_string_equal(sample(&f, "pyleak_pymalloc_block_bytes{" L700 ",state=\"used\"}"), "32000");
	assert_string_equal(sample(&f, "pyleak_pymalloc_block_bytes{" L700 ",state=\"free\"}"), "1600");
	assert_string_equal(sample(&f, "pyleak_pymalloc_block_bytes{" L700 ",state=\"unused_pools\"}"), "16384");
	assert_string_equal(sample(&f, "pyleak_pymalloc_block_bytes{" L700 ",state=\"arenas\"}"), "4194304");
	assert_string_equal(sample(&f, "pyleak_python_object_bytes{" L700 ",tracking=\"tracked\"}"), "9000");
	assert_string_equal(sample(&f, "pyleak_python_object_bytes{" L700 ",tracking=\"untracked\"}"), "7000");
	assert_string_equal(sample(&f, "pyleak_python_untracked_objects{" L700 "}"), "123");
	/* no arenas found: RSS parts and the "none" flag, no pymalloc figures */
	assert_string_equal(sample(&f, "pyleak_memory_bytes{" L701 ",part=\"anon_other\"}"), "5");
	assert_string_equal(sample(&f, "pyleak_pymalloc_found{" L701 ",source=\"none\"}"), "1");
	assert_null(sample(&f, "pyleak_pymalloc_arenas{" L701 "}"));
	assert_null(sample(&f, "pyleak_pymalloc_scan_confidence{" L701 "}"));
	/* no measurement: nothing at all */
	for (int i = 0; i < f.nlines; i++)
		if (strstr(f.lines[i], "pid=\"702\""))
			assert_true(strncmp(f.lines[i], "pyleak_memory", 13) && strncmp(f.lines[i], "pyleak_pymalloc", 15) &&
				    strncmp(f.lines[i], "pyleak_python", 13));
	/* bounded: 23 memory series for the scanned process, whatever its heap */
	assert_int_equal(count_containing(&f, L700 ",part=") + count_containing(&f, L700 ",source=") +
				 count_containing(&f, L700 ",state=") + count_containing(&f, L700 ",tracking="),
			 6 + 3 + 6 + 2);
	free(row);
	free(none);
	free(quiet);
	sb_free(&f.out);
#undef L700
#undef L701
}

static void test_listen_addresses(void **state)
{
	struct serve_addr a;

	(void)state;
	assert_int_equal(serve_addr__parse("127.0.0.1:9464", &a), 0);
	assert_true(a.loopback);
	assert_string_equal(a.text, "127.0.0.1:9464");
	assert_int_equal(serve_addr__parse("127.1.2.3:1", &a), 0);
	assert_true(a.loopback);
	assert_int_equal(serve_addr__parse("localhost:8080", &a), 0);
	assert_true(a.loopback);
	assert_string_equal(a.text, "127.0.0.1:8080");
	assert_int_equal(serve_addr__parse("[::1]:9464", &a), 0);
	assert_true(a.loopback);
	assert_int_equal(a.ss.ss_family, AF_INET6);
	assert_string_equal(a.text, "[::1]:9464");
	assert_int_equal(serve_addr__parse("[::ffff:127.0.0.1]:9", &a), 0);
	assert_true(a.loopback);
	assert_int_equal(serve_addr__parse("127.0.0.1", &a), 0);
	assert_string_equal(a.text, "127.0.0.1:9464");
	assert_int_equal(serve_addr__parse("[::1]", &a), 0);
	assert_string_equal(a.text, "[::1]:9464");
	assert_int_equal(serve_addr__parse("127.0.0.1:0", &a), 0);

	assert_int_equal(serve_addr__parse("0.0.0.0:9464", &a), 0);
	assert_false(a.loopback);
	assert_int_equal(serve_addr__parse("10.1.2.3:9464", &a), 0);
	assert_false(a.loopback);
	assert_int_equal(serve_addr__parse("[::]:9464", &a), 0);
	assert_false(a.loopback);
	assert_int_equal(serve_addr__parse("[2001:db8::1]:80", &a), 0);
	assert_false(a.loopback);

	assert_int_equal(serve_addr__parse(":9464", &a), -EINVAL);
	assert_int_equal(serve_addr__parse("", &a), -EINVAL);
	assert_int_equal(serve_addr__parse("::1:9464", &a), -EINVAL);
	assert_int_equal(serve_addr__parse("[::1:9464", &a), -EINVAL);
	assert_int_equal(serve_addr__parse("[::1]x", &a), -EINVAL);
	assert_int_equal(serve_addr__parse("127.0.0.1:65536", &a), -EINVAL);
	assert_int_equal(serve_addr__parse("127.0.0.1:http", &a), -EINVAL);
	assert_int_equal(serve_addr__parse("127.0.0.1:", &a), -EINVAL);
	assert_int_equal(serve_addr__parse("example.com:80", &a), -EINVAL); /* no resolver */
}

/* Process families: the group label on members' series; per-family series without a pid, the
 * same count for 3 workers or 30; the pause histogram summed over members; HELP/TYPE once. */
static void test_groups(void **state)
{
	struct fixture f;
	struct groups *gs = groups__new();
	int i, nworkers, before = 0;

	(void)state;
	assert_non_null(gs);
	for (nworkers = 3; nworkers <= 30; nworkers += 27) {
		struct proc_row *rows[32];
		int n = 0, k, group_series = 0;

		memset(&f, 0, sizeof(f));
		f.snap.rows = rows;
		for (i = 0; i <= nworkers; i++) {
			struct proc_row *r = new_row(700 + i, "gunicorn", "3.11.2", GC_TIER_USDT);

			copy_str(r->target.exe, sizeof(r->target.exe), "/usr/bin/python3.11");
			copy_str(r->target.cmdline, sizeof(r->target.cmdline), "/usr/bin/python3.11 /usr/bin/gunicorn app:app");
			r->target.start_time = 1000 + (uint64_t)i;
			r->ppid = i ? 700 : 1;
			add_pause(r, 0, 100);
			rows[n++] = r;
		}
		f.snap.nrows = n;
		f.snap.time = 1700000000 + nworkers;
		groups__update(gs, &f.snap);
		assert_int_equal(f.snap.ngroups, 1);
		render(&f);
		assert_true(count_containing(&f, "pyleak_process_resident_memory_bytes{pid=\"701\",comm=\"gunicorn\","
						 "python=\"3.11.2\",gc_source=\"usdt\",group=\"gunicorn:700\"}") == 1);
		assert_string_equal(sample(&f, "pyleak_group_workers{group=\"gunicorn:700\",kind=\"gunicorn\"}"),
				    nworkers == 3 ? "3" : "30");
		for (k = 0; k < f.nlines; k++) {
			if (!strncmp(f.lines[k], "pyleak_group_", 13)) {
				group_series++;
				assert_null(strstr(f.lines[k], "pid="));
			}
		}
		assert_int_equal(count_containing(&f, "# TYPE pyleak_group_gc_pause_seconds histogram"), 1);
		{
			char want[160];

			snprintf(want, sizeof(want), "%d", nworkers + 1);
			assert_string_equal(sample(&f, "pyleak_group_gc_pause_seconds_count{group=\"gunicorn:700\","
						       "kind=\"gunicorn\",generation=\"0\"}"), want);
		}
		if (before)
			assert_int_equal(group_series, before); /* bounded: not by the number of workers */
		before = group_series;
		sb_free(&f.out);
		for (i = 0; i < n; i++)
			free(rows[i]);
	}
	groups__free(gs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_help_type_once_per_family, setup, teardown),
		cmocka_unit_test_setup_teardown(test_labels_and_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_histogram_buckets, setup, teardown),
		cmocka_unit_test(test_pause_buckets_every_slot),
		cmocka_unit_test(test_label_escaping),
		cmocka_unit_test(test_empty_snapshot),
		cmocka_unit_test(test_types_and_suspects),
		cmocka_unit_test(test_memory),
		cmocka_unit_test(test_listen_addresses),
		cmocka_unit_test(test_groups),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
