/* SPDX-License-Identifier: BSD-2-Clause */
/* Trace round trips: hand-built snapshots and events -> recorder -> file -> reader; report formats parse. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "trace/record.h"
#include "trace/report.h"
#include "trace/trace.h"
#include "util/escape.h"
#include "trace/replay.h"
#include "model/groups.h"

#define T0 1700000000.0

static char dir[256];

static void path_in(char *buf, size_t sz, const char *name)
{
	assert_true(snprintf(buf, sz, "%s/%s", dir, name) < (int)sz);
}

static struct proc_row *make_row(pid_t pid, uint64_t start, const char *comm, enum gc_tier tier)
{
	struct proc_row *row = calloc(1, sizeof(*row));

	assert_non_null(row);
	row->target.pid = pid;
	row->target.ns_pid = pid + 1000;
	row->target.start_time = start;
	snprintf(row->target.comm, sizeof(row->target.comm), "%s", comm);
	snprintf(row->target.cmdline, sizeof(row->target.cmdline), "%s app.py --flag \"quoted\" <x>", comm);
	snprintf(row->target.exe, sizeof(row->target.exe), "/usr/bin/%s", comm);
	snprintf(row->target.version, sizeof(row->target.version), "3.11.2");
	row->target.tier = tier;
	row->gc_valid = true;
	row->enabled = 1;
	row->garbage = 0;
	row->live_objects = -1;
	for (int g = 0; g < 3; g++)
		row->thresholds[g] = g ? 10 : 700;
	return row;
}

static void set_counters(struct proc_row *row, int64_t base)
{
	for (int g = 0; g < 3; g++) {
		row->collections[g] = base / (g * 10 + 1);
		row->collected[g] = base * 7 / (g + 1);
		row->uncollectable[g] = g == 2 ? base / 100 : 0;
		row->counts[g] = base % 7 + g;
		row->pause[g].count = (uint64_t)base + g;
		row->pause[g].sum_us = (uint64_t)base * 100 + g;
		row->pause[g].max_us = 900 + g;
	}
	row->rss = (uint64_t)(10 << 20) + (uint64_t)base * 4096;
	row->gc_ns_total = (uint64_t)base * 1000000;
	row->gc_time_pct = 1.25;
	row->garbage = base / 10;
	row->pause_hist[0][20] = (uint32_t)base;
	row->pause_hist[2][48] = 3;
}

/* A tiny strict JSON checker: the report formats must parse. */
static const char *ws(const char *p)
{
	while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
		p++;
	return p;
}

static const char *jvalue(const char *p, int depth);

static const char *jstring(const char *p)
{
	if (*p++ != '"')
		return NULL;
	while (*p && *p != '"') {
		if ((unsigned char)*p < 0x20)
			return NULL;
		if (*p == '\\') {
			p++;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i])
						return NULL;
				p += 4;
			} else if (!*p || !strchr("\"\\/bfnrt", *p)) {
				return NULL;
			}
		}
		p++;
	}
	return *p == '"' ? p + 1 : NULL;
}

static const char *jnumber(const char *p)
{
	const char *s = p;

	if (*p == '-')
		p++;
	if (*p < '0' || *p > '9')
		return NULL;
	while ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E' || *p == '+' || *p == '-')
		p++;
	return p > s ? p : NULL;
}

static const char *jvalue(const char *p, int depth)
{
	if (depth > 64)
		return NULL;
	p = ws(p);
	if (*p == '{' || *p == '[') {
		char close = *p == '{' ? '}' : ']';
		bool obj = *p == '{';

		p = ws(p + 1);
		if (*p == close)
			return p + 1;
		for (;;) {
			if (obj) {
				p = jstring(ws(p));
				if (!p)
					return NULL;
				p = ws(p);
				if (*p++ != ':')
					return NULL;
			}
			p = jvalue(p, depth + 1);
			if (!p)
				return NULL;
			p = ws(p);
			if (*p == ',') {
				p++;
				continue;
			}
			return *p == close ? p + 1 : NULL;
		}
	}
	if (*p == '"')
		return jstring(p);
	if (!strncmp(p, "true", 4))
		return p + 4;
	if (!strncmp(p, "false", 5))
		return p + 5;
	if (!strncmp(p, "null", 4))
		return p + 4;
	return jnumber(p);
}

static bool json_ok(const char *s)
{
	const char *end = jvalue(s, 0);

	return end && !*ws(end);
}

static char *render(const struct trace *t, enum report_format f)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	assert_non_null(m);
	assert_int_equal(report__write(t, f, m), 0);
	fclose(m);
	return buf;
}

static void write_sample_trace(const char *path)
{
	struct recorder_opts o = { .path = path, .command_line = "pyleak record -o x", .interval_s = 1,
				   .start_time = T0, .quiet = true };
	struct recorder *r;
	struct proc_row *a = make_row(100, 5000, "python3.11", GC_TIER_USDT);
	struct proc_row *b = make_row(200, 6000, "python3.12", GC_TIER_UPROBE);
	struct proc_row *rows[2] = { a, b };
	struct snapshot snap = { .time = T0 + 1, .interval_s = 1, .nrows = 2, .rows = rows };
	struct gc_probe_event ev = { .pid = 100, .tid = 100, .generation = 0, .start_ns = 5000000000ull,
				     .duration_ns = 123456, .collected = 42, .uncollectable = 0, .source = 1 };

	assert_int_equal(recorder__open(&o, &r), 0);
	set_counters(a, 100);
	set_counters(b, 50);
	assert_int_equal(recorder__snapshot(r, &snap), 0);
	/* three events of pid 100 (two threads), one of a pid no snapshot named (ignored) */
	recorder__gc_event_at(r, &ev, T0 + 1.5);
	ev.tid = 101;
	ev.generation = 2;
	ev.start_ns += 1000000;
	ev.duration_ns = 9000000;
	ev.uncollectable = 3;
	recorder__gc_event_at(r, &ev, T0 + 1.501);
	ev.tid = 100;
	ev.generation = 1;
	ev.start_ns += 1000000;
	ev.collected = -1;
	ev.uncollectable = -1;
	recorder__gc_event_at(r, &ev, T0 + 1.502);
	ev.pid = 999;
	recorder__gc_event_at(r, &ev, T0 + 1.503);
	assert_int_equal(recorder__type_row(r, 100, T0 + 1, "dict", 1000, 64000), 0);
	assert_int_equal(recorder__type_row(r, 100, T0 + 1, "__main__.Conn", 10, -1), 0);
	assert_int_equal(recorder__container_row(r, 100, T0 + 1, "__main__.evil", "k\x1b[2J", 1, -1), 0);
	assert_int_equal(recorder__site_row(r, 100, T0 + 1, "main;serve;accept_loop", 5, 500), 0);
	assert_int_equal(recorder__site_row(r, 999, T0 + 1, "x", 5, 500), -ENOENT);

	set_counters(a, 160);
	set_counters(b, 55);
	b->exited = true;
	snap.time = T0 + 2;
	assert_int_equal(recorder__snapshot(r, &snap), 0);
	assert_int_equal(recorder__type_row(r, 100, T0 + 2, "dict", 1600, 96000), 0);
	assert_int_equal(recorder__type_row(r, 100, T0 + 2, "__main__.Conn", 70, -1), 0);
	assert_int_equal(recorder__container_row(r, 100, T0 + 2, "__main__.cache", "dict", 500, -1), 0);
	/* evidence and a container's type name are the target's text: a terminal escape in each */
	assert_int_equal(recorder__container_row(r, 100, T0 + 2, "__main__.evil", "k\x1b[2J", 50, -1), 0);
	assert_int_equal(recorder__suspect_row(r, 100, T0 + 2, "type", "__main__.Conn", 3600, 0.9, "+60 in 1s\x1b]0;x\x07"),
			 0);
	assert_int_equal(recorder__site_row(r, 100, T0 + 2, "main;serve;accept_loop", 7, 700), 0);
	assert_int_equal(recorder__site_row(r, 100, T0 + 2, "main;gc_heavy", 2, 10), 0);
	assert_int_equal(recorder__close(r), 0);
	free(a);
	free(b);
}

static void test_round_trip(void **state)
{
	char path[300];
	struct trace *t;
	struct stat st;

	(void)state;
	path_in(path, sizeof(path), "rt.db");
	write_sample_trace(path);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	assert_int_equal(trace__load(path, &t), 0);
	assert_int_equal(t->meta.schema_version, TRACE_SCHEMA_VERSION);
	assert_true(t->meta.complete);
	assert_string_equal(t->meta.command_line, "pyleak record -o x");
	assert_true(t->meta.start_time == T0);
	assert_true(t->meta.end_time == T0 + 2);
	assert_int_equal(t->nprocs, 2);

	const struct trace_proc *p = &t->procs[0], *q = &t->procs[1];

	assert_int_equal(p->pid, 100);
	assert_int_equal(p->ns_pid, 1100);
	assert_int_equal(p->start_ticks, 5000);
	assert_string_equal(p->comm, "python3.11");
	assert_string_equal(p->python, "3.11.2");
	assert_string_equal(p->gc_source, "usdt");
	assert_string_equal(p->cmdline, "python3.11 app.py --flag \"quoted\" <x>");
	assert_false(p->exited);
	assert_string_equal(q->gc_source, "uprobe");
	assert_true(q->exited);

	assert_int_equal(p->nsamples, 2);
	for (int g = 0; g < 3; g++) {
		assert_int_equal(p->samples[0].collections[g], 100 / (g * 10 + 1));
		assert_int_equal(p->samples[1].collections[g], 160 / (g * 10 + 1));
		assert_int_equal(p->samples[1].collected[g], 160 * 7 / (g + 1));
		assert_int_equal(p->samples[1].uncollectable[g], g == 2 ? 1 : 0);
		assert_int_equal(p->samples[1].thresholds[g], g ? 10 : 700);
		assert_int_equal(p->samples[1].pause_count[g], 160 + g);
		assert_int_equal(p->samples[1].pause_sum_us[g], 16000 + g);
		assert_int_equal(p->samples[1].pause_max_us[g], 900 + g);
	}
	assert_int_equal(p->samples[1].rss, (10 << 20) + 160 * 4096);
	assert_int_equal(p->samples[1].garbage, 16);
	assert_int_equal(p->samples[1].gc_time_us, 160000);
	assert_int_equal(p->samples[1].live_objects, -1);
	assert_true(p->samples[1].time == T0 + 2);
	assert_int_equal(q->samples[1].collections[0], 55);

	assert_int_equal(p->nevents, 3); /* pid 999 dropped */
	assert_int_equal(q->nevents, 0);
	assert_int_equal(p->events[0].mono_ns, 5000000000ull);
	assert_int_equal(p->events[0].tid, 100);
	assert_int_equal(p->events[0].generation, 0);
	assert_true(p->events[0].duration_us > 123.455 && p->events[0].duration_us < 123.457);
	assert_int_equal(p->events[0].collected, 42);
	assert_true(p->events[0].time == T0 + 1.5);
	assert_int_equal(p->events[1].tid, 101);
	assert_int_equal(p->events[1].generation, 2);
	assert_int_equal(p->events[1].uncollectable, 3);
	assert_int_equal(p->events[2].collected, -1);
	assert_int_equal(p->events[2].uncollectable, -1);

	/* histograms are cumulative: the newest interval's values */
	assert_int_equal(p->hist[0][20], 160);
	assert_int_equal(p->hist[2][48], 3);
	assert_int_equal(q->hist[0][20], 55);

	assert_int_equal(t->naux[TRACE_TYPES], 4);
	assert_int_equal(t->naux[TRACE_CONTAINERS], 3);
	assert_int_equal(t->naux[TRACE_SUSPECTS], 1);
	assert_int_equal(t->naux[TRACE_SITES], 3);
	assert_string_equal(t->aux[TRACE_SUSPECTS][0].kind, "type");
	assert_string_equal(t->aux[TRACE_SUSPECTS][0].text, "+60 in 1s\x1b]0;x\x07");
	trace__free(t);
}

static void test_formats_parse(void **state)
{
	char path[300], *out;
	struct trace *t;

	(void)state;
	path_in(path, sizeof(path), "fmt.db");
	write_sample_trace(path);
	assert_int_equal(trace__load(path, &t), 0);

	out = render(t, REPORT_JSON);
	assert_true(json_ok(out));
	assert_non_null(strstr(out, "\"collections\":[160,14,7]"));
	assert_non_null(strstr(out, "\"name\":\"__main__.Conn\""));
	assert_non_null(strstr(out, "\"delta\":60"));
	assert_non_null(strstr(out, "\"stack\":\"main;serve;accept_loop\",\"count\":12"));
	assert_non_null(strstr(out, "\\u003cx\\u003e")); /* '<' escaped: safe inside HTML */
	free(out);

	out = render(t, REPORT_CHROME);
	assert_true(json_ok(out));
	assert_non_null(strstr(out, "\"ph\":\"X\""));
	assert_non_null(strstr(out, "\"name\":\"gc gen2\""));
	assert_non_null(strstr(out, "\"ph\":\"M\""));
	assert_non_null(strstr(out, "\"ph\":\"C\""));
	free(out);

	out = render(t, REPORT_CSV);
	{
		int lines = 0;

		for (char *c = out; *c; c++)
			lines += *c == '\n';
		assert_int_equal(lines, 1 + 4); /* header + 2 samples x 2 processes */
		assert_int_equal(strncmp(out, "pid,start_ticks,comm,time,rss", 29), 0);
	}
	free(out);

	out = render(t, REPORT_COLLAPSED);
	assert_string_equal(out, "main;gc_heavy 2\nmain;serve;accept_loop 12\n");
	free(out);

	out = render(t, REPORT_TEXT);
	assert_non_null(strstr(out, "gen0: collections 160 (+60 recorded)"));
	assert_non_null(strstr(out, "__main__.Conn"));
	assert_non_null(strstr(out, "+60 in 1s\\x1b]0;x\\x07\n"));
	assert_non_null(strstr(out, "k\\x1b[2J"));
	assert_null(strchr(out, '\x1b'));
	assert_null(strchr(out, '\x07'));
	assert_non_null(strstr(out, "allocation sites:"));
	free(out);

	out = render(t, REPORT_HTML);
	assert_non_null(strstr(out, "<!DOCTYPE html>"));
	assert_null(strstr(out, "src=\"http"));
	{
		/* the embedded data block is valid JSON */
		char *s = strstr(out, "id=\"pyleak-data\">"), *e;

		assert_non_null(s);
		s += strlen("id=\"pyleak-data\">");
		e = strstr(s, "</script>");
		assert_non_null(e);
		*e = '\0';
		assert_true(json_ok(s));
	}
	free(out);
	trace__free(t);
}

static void test_refuse_overwrite(void **state)
{
	char path[300];
	struct recorder_opts o = { .command_line = "x", .interval_s = 1, .quiet = true };
	struct recorder *r;

	(void)state;
	path_in(path, sizeof(path), "ow.db");
	o.path = path;
	assert_int_equal(recorder__open(&o, &r), 0);
	assert_int_equal(recorder__close(r), 0);
	assert_int_equal(recorder__open(&o, &r), -EEXIST);
	o.force = true;
	assert_int_equal(recorder__open(&o, &r), 0);
	assert_int_equal(recorder__close(r), 0);
}

static void test_empty_trace(void **state)
{
	char path[300], *out;
	struct recorder_opts o = { .command_line = "x", .interval_s = 1, .quiet = true };
	struct recorder *r;
	struct trace *t;

	(void)state;
	path_in(path, sizeof(path), "empty.db");
	o.path = path;
	assert_int_equal(recorder__open(&o, &r), 0);
	assert_int_equal(recorder__close(r), 0);
	assert_int_equal(trace__load(path, &t), 0);
	assert_int_equal(t->nprocs, 0);
	for (int f = REPORT_TEXT; f <= REPORT_COLLAPSED; f++) {
		out = render(t, (enum report_format)f);
		if (f == REPORT_JSON || f == REPORT_CHROME)
			assert_true(json_ok(out));
		free(out);
	}
	trace__free(t);
}

/* A trace's events are the collections its samples count: one that ended before the process's
 * first sample with GC state is in that sample's counters, so its event is not written, and a
 * process whose GC state is not yet known has no baseline to count from. */
static void test_events_after_baseline(void **state)
{
	char path[300];
	struct recorder_opts o = { .command_line = "x", .interval_s = 1, .quiet = true };
	struct recorder *r;
	struct proc_row *a = make_row(100, 5000, "python3.11", GC_TIER_USDT);
	struct proc_row *b = make_row(200, 6000, "python3.12", GC_TIER_USDT);
	struct proc_row *rows[2] = { a, b };
	struct snapshot snap = { .time = T0, .interval_s = 1, .nrows = 2, .rows = rows };
	struct gc_probe_event ev = { .pid = 100, .tid = 100, .generation = 0, .duration_ns = 1000, .source = 1 };
	uint64_t nsamples, nevents;
	struct trace *t;

	(void)state;
	path_in(path, sizeof(path), "baseline.db");
	o.path = path;
	assert_int_equal(recorder__open(&o, &r), 0);
	a->gc_read_ns = 5000000000ull;
	b->gc_valid = false; /* interpreter still starting */
	assert_int_equal(recorder__snapshot(r, &snap), 0);
	ev.start_ns = a->gc_read_ns - 500; /* ended 500 ns after the reading: counted by the events */
	recorder__gc_event_at(r, &ev, T0 + 0.1);
	ev.start_ns = a->gc_read_ns - 1000; /* ended at the reading: in the sample */
	recorder__gc_event_at(r, &ev, T0 + 0.1);
	ev.start_ns = a->gc_read_ns - 5000;
	recorder__gc_event_at(r, &ev, T0 + 0.1);
	ev.pid = 200; /* no baseline yet */
	ev.start_ns = a->gc_read_ns + 5000;
	recorder__gc_event_at(r, &ev, T0 + 0.1);
	recorder__counts(r, &nsamples, &nevents);
	assert_int_equal(nevents, 1);
	/* read inside a collection: not a baseline (that collection's start may predate the probes) */
	b->gc_valid = true;
	b->gc_collecting = true;
	set_counters(b, 50);
	b->gc_read_ns = a->gc_read_ns + 10000;
	snap.time += 1;
	assert_int_equal(recorder__snapshot(r, &snap), 0);
	ev.start_ns = b->gc_read_ns + 1;
	recorder__gc_event_at(r, &ev, T0 + 1.1);
	recorder__counts(r, &nsamples, &nevents);
	assert_int_equal(nevents, 1);
	b->gc_collecting = false;
	set_counters(b, 60);
	b->gc_read_ns += 1000000;
	snap.time += 1;
	assert_int_equal(recorder__snapshot(r, &snap), 0);
	ev.start_ns = b->gc_read_ns + 1; /* after b's baseline */
	recorder__gc_event_at(r, &ev, T0 + 2.1);
	recorder__counts(r, &nsamples, &nevents);
	assert_int_equal(nevents, 2);
	assert_int_equal(recorder__close(r), 0);
	assert_int_equal(trace__load(path, &t), 0);
	assert_int_equal(t->nprocs, 2);
	assert_int_equal(t->procs[1].pid, 200);
	assert_int_equal(t->procs[1].nsamples, 3);
	assert_false(t->procs[1].samples[0].gc_valid);
	assert_false(t->procs[1].samples[1].gc_valid); /* the one read inside a collection */
	assert_true(t->procs[1].samples[2].gc_valid);
	assert_int_equal(t->procs[1].samples[2].collections[0], 60);
	assert_int_equal(t->procs[1].nevents, 1);
	trace__free(t);
	free(a);
	free(b);
}

/* --max-size: gc_events stop first (counted), samples go on, the report says what was dropped. */
static void test_max_size_drops_events(void **state)
{
	char path[300], *out;
	struct recorder_opts o = { .command_line = "x", .interval_s = 1, .quiet = true, .max_size = 256 << 10 };
	struct recorder *r;
	struct proc_row *a = make_row(100, 5000, "python3.11", GC_TIER_USDT);
	struct proc_row *rows[1] = { a };
	struct snapshot snap = { .time = T0, .interval_s = 1, .nrows = 1, .rows = rows };
	struct gc_probe_event ev = { .pid = 100, .tid = 100, .generation = 0, .duration_ns = 1000, .source = 1 };
	uint64_t nsamples, nevents, written;
	struct trace *t;
	int i, intervals = 0;

	(void)state;
	path_in(path, sizeof(path), "max.db");
	o.path = path;
	assert_int_equal(recorder__open(&o, &r), 0);
	set_counters(a, 1);
	assert_int_equal(recorder__snapshot(r, &snap), 0);
	for (i = 0; i < 40000 && !recorder__dropped_events(r); i++) {
		ev.start_ns = (uint64_t)i * 1000;
		recorder__gc_event_at(r, &ev, T0 + i * 1e-3);
		if (i % 500 == 499) {
			snap.time += 1;
			assert_int_equal(recorder__snapshot(r, &snap), 0);
			intervals++;
		}
	}
	assert_true(recorder__dropped_events(r) > 0);
	recorder__counts(r, &nsamples, &nevents);
	written = nevents;
	for (i = 0; i < 100; i++)
		recorder__gc_event_at(r, &ev, T0 + 100);
	snap.time += 1;
	assert_int_equal(recorder__snapshot(r, &snap), 0); /* samples still written */
	recorder__counts(r, &nsamples, &nevents);
	assert_int_equal(nevents, written);
	assert_int_equal(nsamples, intervals + 2);
	assert_int_equal(recorder__close(r), 0);

	assert_int_equal(trace__load(path, &t), 0);
	assert_true(t->meta.dropped_gc_events >= 101);
	assert_int_equal(t->procs[0].nevents, (int)written);
	assert_int_equal(t->procs[0].nsamples, intervals + 2);
	out = render(t, REPORT_TEXT);
	assert_non_null(strstr(out, "gc events not written because the trace reached its size limit"));
	free(out);
	trace__free(t);
	free(a);
}

static void sql(const char *path, const char *stmt)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, stmt, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void collapsed_is(const char *path, bool quoted, const char *want)
{
	struct trace *t;
	char *out;

	assert_int_equal(trace__load(path, &t), 0);
	assert_int_equal(t->meta.stacks_quoted, quoted);
	assert_int_equal(t->procs[0].nthreads, 2);
	assert_string_equal(t->procs[0].threads[0].name, "w\x1b]0;x\x07");
	/* the thread names, escaped for each report */
	{
		static const struct {
			enum report_format f;
			const char *has;
		} want[] = {
			{ REPORT_TEXT, "  threads: 101 w\\x1b]0;x\\x07, 102 \"<b>\n" },
			{ REPORT_JSON, "\"threads\":[{\"tid\":101,\"name\":\"w\\u001b]0;x\\u0007\"},{\"tid\":102," },
			{ REPORT_CHROME, "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":100,\"tid\":102,"
					 "\"args\":{\"name\":\"\\\"\\u003cb\\u003e\"}}" },
		};

		for (size_t k = 0; k < ARRAY_SIZE(want); k++) {
			out = render(t, want[k].f);
			assert_true(want[k].f == REPORT_TEXT || json_ok(out));
			assert_non_null(strstr(out, want[k].has));
			free(out);
		}
	}
	out = render(t, REPORT_COLLAPSED);
	assert_string_equal(out, want);
	free(out);
	trace__free(t);
}

/* A ';' (and '\\', newlines, spaces) inside a frame's name stays in its frame through the trace:
 * the recorder quotes it, the collapsed report escapes the frame, every line is "frames count";
 * a file without the "stacks" meta key (older recorders) splits at every ';' as before. */
static void test_stack_frames_quoted(void **state)
{
	char path[300];
	struct recorder_opts o = { .command_line = "x", .interval_s = 1, .start_time = T0, .quiet = true };
	struct recorder *r;
	struct proc_row *a = make_row(100, 5000, "python3.11", GC_TIER_USDT);
	struct proc_row *rows[1] = { a };
	struct snapshot snap = { .time = T0 + 1, .interval_s = 1, .nrows = 1, .rows = rows };
	struct strbuf sb;

	(void)state;
	path_in(path, sizeof(path), "frames.db");
	o.path = path;
	sb_init(&sb);
	esc_stack_frame(&sb, "main.py:1 <module>");
	sb_putc(&sb, ';');
	esc_stack_frame(&sb, "/t/a;b.py:2 f;g h\\i\nj");
	assert_string_equal(sb.buf, "main.py:1 <module>;/t/a\\;b.py:2 f\\;g h\\\\i\nj");
	assert_int_equal(recorder__open(&o, &r), 0);
	set_counters(a, 10);
	assert_int_equal(recorder__snapshot(r, &snap), 0);
	assert_int_equal(recorder__site_row(r, 100, T0 + 1, sb.buf, 5, -1), 0);
	assert_int_equal(recorder__survivor_row(r, 100, T0 + 1, "T;U", sb.buf, 4, 3, 2), 0);
	/* thread names: an unchanged one writes nothing, a rename a row; the views escape them */
	assert_int_equal(recorder__thread_row(r, 100, T0 + 1, 101, "w\x1b]0;x\x07"), 0);
	assert_int_equal(recorder__thread_row(r, 100, T0 + 1, 101, "w\x1b]0;x\x07"), 0);
	assert_int_equal(recorder__thread_row(r, 100, T0 + 1, 102, "\"<b>"), 0);
	assert_int_equal(recorder__thread_row(r, 999, T0 + 1, 1, "x"), -ENOENT);
	assert_int_equal(recorder__close(r), 0);
	sb_free(&sb);
	collapsed_is(path, true, "main.py:1 <module>;/t/a\\x3bb.py:2 f\\x3bg h\\\\i\\nj 5\n");
	/* the same rows from a recorder that did not quote: split at every ';', each piece escaped */
	sql(path, "DELETE FROM meta WHERE key='stacks'");
	collapsed_is(path, false, "main.py:1 <module>;/t/a\\\\;b.py:2 f\\\\;g h\\\\\\\\i\\nj 5\n");
	free(a);
}

/* A shared recording with absurd times: replay must not convert an out-of-range span to int
 * (undefined behaviour, found by fuzz_trace_rows) and caps its steps. */
static void test_replay_hostile_times(void **state)
{
	static const char *const ends[] = { "1e300", "inf", "-1e300", "nan" };
	char path[300];

	(void)state;
	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
		struct trace *t = NULL;
		struct replay *r = NULL;
		char stmt[200];

		path_in(path, sizeof(path), "hostile-times.db");
		unlink(path);
		write_sample_trace(path);
		snprintf(stmt, sizeof(stmt), "UPDATE meta SET value='%s' WHERE key='end_time';"
			 "UPDATE meta SET value='1e-300' WHERE key='interval_s'", ends[i]);
		sql(path, stmt);
		assert_int_equal(trace__load(path, &t), 0);
		assert_int_equal(replay__new(t, 1, &r), 0);
		assert_true(replay__steps(r) >= 1 && replay__steps(r) <= 10000000);
		replay__free(r);
		trace__free(t);
	}
}

/* The last snapshot of a replay of path: its row of pid (NULL if none). The replay stays open. */
static const struct proc_row *replay_last(const char *path, pid_t pid, struct trace **t, struct replay **r,
					  const struct proc_row **first)
{
	struct snapshot_source src;
	struct snapshot snap;
	const struct proc_row *row = NULL;
	int i, k;

	assert_int_equal(trace__load(path, t), 0);
	assert_int_equal(replay__new(*t, 1e9, r), 0);
	replay__source(&src, *r);
	*first = NULL;
	for (i = 0; i < replay__steps(*r); i++) {
		assert_int_equal(src.next_snapshot(src.ctx, &snap), 0);
		for (k = 0; k < snap.nrows; k++)
			if (snap.rows[k]->target.pid == pid) {
				row = snap.rows[k];
				if (!*first) {
					*first = row;
					assert_false(row->sites_valid); /* not known before they were written */
					assert_null(row->surv);
				}
			}
	}
	return row;
}

/* top --replay rebuilds the recorded sites and survivor samples as the live row held them:
 * frames leaf first with file, line and function (a ';' inside a name, an unknown line, a
 * truncated stack), counts summed, the (type, stack) rows with their figures; a hostile file
 * with a million rows of one process is bounded. */
static void test_replay_sites(void **state)
{
	char path[300];
	struct recorder_opts o = { .command_line = "x", .interval_s = 1, .start_time = T0, .quiet = true };
	struct recorder *r;
	struct proc_row *a = make_row(100, 5000, "python3.11", GC_TIER_USDT);
	struct proc_row *rows[1] = { a };
	struct snapshot snap = { .time = T0 + 1, .interval_s = 1, .nrows = 1, .rows = rows };
	const struct proc_row *row, *first;
	struct trace *t;
	struct replay *rp;
	struct strbuf leak, churn;
	const struct site_stack *st;

	(void)state;
	path_in(path, sizeof(path), "replay-sites.db");
	o.path = path;
	sb_init(&leak);
	sb_init(&churn);
	esc_stack_frame(&leak, "svc.py:3 <module>");
	sb_putc(&leak, ';');
	esc_stack_frame(&leak, "/a;b/svc.py:41 Handler.handle");
	sb_puts(&churn, "[truncated];");
	esc_stack_frame(&churn, "lib.py:? parse");
	assert_int_equal(recorder__open(&o, &r), 0);
	set_counters(a, 10);
	assert_int_equal(recorder__snapshot(r, &snap), 0);
	snap.time = T0 + 3;
	assert_int_equal(recorder__snapshot(r, &snap), 0);
	assert_int_equal(recorder__site_row(r, 100, T0 + 2, leak.buf, 5, -1), 0);
	assert_int_equal(recorder__site_row(r, 100, T0 + 2, churn.buf, 25, -1), 0);
	assert_int_equal(recorder__site_row(r, 100, T0 + 2, leak.buf, 2, -1), 0);
	assert_int_equal(recorder__survivor_row(r, 100, T0 + 2, "svc.Session", leak.buf, 6, 5, 4), 0);
	assert_int_equal(recorder__survivor_row(r, 100, T0 + 2, "svc.Session", churn.buf, 30, 1, 0), 0);
	assert_int_equal(recorder__close(r), 0);
	sb_free(&leak);
	sb_free(&churn);

	row = replay_last(path, 100, &t, &rp, &first);
	assert_non_null(row);
	assert_non_null(first); /* a step before the rows were written showed none */
	assert_true(row->sites_valid);
	assert_int_equal(row->sites.nstacks, 2);
	assert_int_equal(row->sites.total, 32);
	st = &row->sites.stacks[0]; /* by count: the churn */
	assert_int_equal(st->count, 25);
	assert_true(st->truncated);
	assert_int_equal(st->nframes, 1);
	assert_string_equal(st->frames[0].code->file, "lib.py");
	assert_string_equal(st->frames[0].code->func, "parse");
	assert_int_equal(st->frames[0].line, -1);
	st = &row->sites.stacks[1];
	assert_int_equal(st->count, 7); /* two writes of one stack, summed */
	assert_false(st->truncated);
	assert_int_equal(st->nframes, 2);
	assert_string_equal(st->frames[0].code->file, "/a;b/svc.py"); /* leaf first */
	assert_int_equal(st->frames[0].line, 41);
	assert_string_equal(st->frames[0].code->func, "Handler.handle");
	assert_string_equal(st->frames[1].code->func, "<module>");
	assert_non_null(row->surv);
	assert_true(row->surv->from_trace);
	assert_int_equal(row->surv->naggs, 2);
	assert_int_equal(row->surv->sampled, 36);
	assert_int_equal(row->surv->survived, 6);
	assert_int_equal(row->surv->alive, 4);
	{
		struct surv_type_total tot;

		survivors__type_total(row->surv, row->surv->aggs[0].type, &tot);
		assert_int_equal(tot.alive, 4);
		assert_int_equal(row->surv->aggs[tot.top].stack_id, row->sites.stacks[1].stack_id);
		assert_string_equal(row->surv->aggs[tot.top].type_name, "svc.Session");
	}
	replay__free(rp);
	trace__free(t);

	/* a million distinct stacks for one process: bounded, and quick */
	sql(path, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000)"
		  " INSERT INTO sites SELECT 1, 1700000002, 'f' || i || '.py:1 g', 1, NULL FROM n");
	row = replay_last(path, 100, &t, &rp, &first);
	assert_non_null(row);
	assert_true(row->sites.nstacks <= 8192 && row->sites.nstacks >= 2);
	replay__free(rp);
	trace__free(t);
	free(a);
}

static void test_refuse_foreign(void **state)
{
	char path[300], cmd[700];
	struct trace *t = NULL;
	FILE *f;
	struct stat st;

	(void)state;
	/* not SQLite */
	path_in(path, sizeof(path), "foreign.txt");
	f = fopen(path, "w");
	fputs("hello, this is not a database at all\n", f);
	fclose(f);
	assert_int_equal(trace__load(path, &t), -EINVAL);
	assert_null(t);
	/* empty */
	path_in(path, sizeof(path), "empty.bin");
	fclose(fopen(path, "w"));
	assert_int_equal(trace__load(path, &t), -EINVAL);
	/* missing */
	path_in(path, sizeof(path), "missing.db");
	assert_int_equal(trace__load(path, &t), -ENOENT);
	/* SQLite without our meta */
	path_in(path, sizeof(path), "other.db");
	sql(path, "CREATE TABLE x(a); INSERT INTO x VALUES(1);");
	assert_int_equal(trace__load(path, &t), -EINVAL);
	/* a meta table of someone else */
	path_in(path, sizeof(path), "othermeta.db");
	sql(path, "CREATE TABLE meta(key TEXT, value TEXT); INSERT INTO meta VALUES('schema_version','1');");
	assert_int_equal(trace__load(path, &t), -EINVAL);
	/* a newer schema */
	path_in(path, sizeof(path), "newer.db");
	write_sample_trace(path);
	sql(path, "UPDATE meta SET value='99' WHERE key='schema_version'");
	assert_int_equal(trace__load(path, &t), -EPROTONOSUPPORT);
	/* truncated to half */
	path_in(path, sizeof(path), "trunc.db");
	write_sample_trace(path);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(truncate(path, st.st_size / 2), 0);
	assert_true(trace__load(path, &t) < 0);
	assert_null(t);
	(void)cmd;
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/pyleak-test-trace-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];
	(void)state;
	/* the test's own temp dir; no shell in the product, a test may clean up with rm */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Process families: membership, samples and verdicts written and read back, reported in every
 * format; a trace from before families (no groups tables) loads with none. */
static void test_groups_round_trip(void **state)
{
	char path[300], *out;
	struct recorder_opts o = { .command_line = "pyleak record --group gunicorn", .interval_s = 1,
				   .start_time = T0, .quiet = true };
	struct recorder *r;
	struct trace *t;
	struct groups *gs = groups__new();
	struct proc_row *rows[3];
	struct snapshot snap = { .time = T0 + 1, .interval_s = 1, .nrows = 3, .rows = rows };
	sqlite3 *db;

	(void)state;
	assert_non_null(gs);
	path_in(path, sizeof(path), "groups.db");
	o.path = path;
	for (int i = 0; i < 3; i++) {
		rows[i] = make_row(300 + i, 7000 + (uint64_t)i, "python3.11", GC_TIER_USDT);
		snprintf(rows[i]->target.cmdline, sizeof(rows[i]->target.cmdline), "/usr/bin/python3.11 /usr/bin/gunicorn app:app");
		rows[i]->ppid = i ? 300 : 1;
		rows[i]->rss = (uint64_t)(10 + i) << 20;
		if (i) {
			rows[i]->nsuspects = 1;
			rows[i]->suspects[0].kind = SUSPECT_TYPE;
			snprintf(rows[i]->suspects[0].name, sizeof(rows[i]->suspects[0].name), "app.Session");
			rows[i]->suspects[0].per_min = 300;
			rows[i]->suspects[0].confidence = 0.99;
		}
	}
	assert_int_equal(recorder__open(&o, &r), 0);
	for (int k = 0; k < 3; k++) {
		snap.time = T0 + 1 + k;
		groups__update(gs, &snap);
		assert_int_equal(snap.ngroups, 1);
		assert_int_equal(recorder__snapshot(r, &snap), 0);
		assert_int_equal(recorder__groups(r, &snap), 0);
	}
	assert_int_equal(recorder__close(r), 0);

	assert_int_equal(trace__load(path, &t), 0);
	assert_int_equal(t->ngroups, 1);
	assert_string_equal(t->groups[0].name, "gunicorn:300");
	assert_string_equal(t->groups[0].kind, "gunicorn");
	assert_int_equal(t->groups[0].root_pid, 300);
	assert_int_equal(t->groups[0].nmembers, 3);
	assert_int_equal(t->groups[0].nsamples, 3);
	assert_int_equal(t->groups[0].samples[2].workers, 2);
	assert_int_equal(t->groups[0].samples[2].rss, (uint64_t)33 << 20);
	assert_int_equal(t->groups[0].nverdicts, 1); /* written once: the set did not change */
	assert_string_equal(t->groups[0].verdicts[0].text, "2/2 workers: app.Session +300/min each");
	out = render(t, REPORT_TEXT);
	assert_non_null(strstr(out, "family gunicorn:300 (gunicorn), root pid 300"));
	assert_non_null(strstr(out, "2/2 workers: app.Session +300/min each"));
	assert_non_null(strstr(out, "members: 300 (master) 301 302"));
	free(out);
	out = render(t, REPORT_JSON);
	assert_true(json_ok(out));
	assert_non_null(strstr(out, "\"groups\":[{\"name\":\"gunicorn:300\""));
	free(out);
	out = render(t, REPORT_HTML);
	assert_non_null(strstr(out, "process family"));
	free(out);
	trace__free(t);

	/* the same file without the families' tables: an older trace */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP TABLE group_verdicts; DROP TABLE group_samples;", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(trace__load(path, &t), 0);
	assert_int_equal(t->ngroups, 0);
	assert_int_equal(t->nprocs, 3);
	trace__free(t);
	for (int i = 0; i < 3; i++)
		free(rows[i]);
	groups__free(gs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),     cmocka_unit_test(test_formats_parse),
		cmocka_unit_test(test_refuse_overwrite), cmocka_unit_test(test_empty_trace),
		cmocka_unit_test(test_groups_round_trip),
		cmocka_unit_test(test_refuse_foreign), cmocka_unit_test(test_replay_hostile_times), cmocka_unit_test(test_max_size_drops_events),
		cmocka_unit_test(test_events_after_baseline),
		cmocka_unit_test(test_stack_frames_quoted),
		cmocka_unit_test(test_replay_sites),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
