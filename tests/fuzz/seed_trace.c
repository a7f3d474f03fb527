/* SPDX-License-Identifier: BSD-2-Clause */
/* Seed traces for fuzz_trace and fuzz_trace_rows: valid files written by pyleak's own recorder. */
/*
 *   seed_trace DIR      writes DIR/basic.db, DIR/hostile.db, DIR/edge.db, DIR/empty.db
 *
 * No root, no BPF, no Python: synthetic snapshots through recorder__open/snapshot/..._row/close
 * (so the schema is exactly the one pyleak writes and reads), at a fixed start time, then
 * rewritten with 512-byte pages and no WAL so every file is small enough for -max_len and the
 * mutations land in table pages rather than in free space. Deterministic apart from the host
 * and kernel meta rows.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/record.h"

#define T0 1700000000.0

/* every name below carries what issue 24 lists: ESC, BEL, CR, newline, invalid UTF-8, U+202E,
 * HTML, quotes, a CSV formula and Prometheus syntax */
#define HOSTILE "\x1b]0;pwned\x07\x1b[2J\r\n\xff\xc3(\xe2\x80\xae<img src=x onerror=\"document.title='pwned'\">" \
		"=HYPERLINK(\"x\")} 1\n# TYPE x counter;frame"

static struct proc_row *make_row(pid_t pid, uint64_t start, const char *comm, enum gc_tier tier)
{
	struct proc_row *row = calloc(1, sizeof(*row));

	if (!row)
		exit(1);
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
	row->live_objects = -1;
	for (int g = 0; g < MODEL_NGEN; g++)
		row->thresholds[g] = g ? 10 : 700;
	return row;
}

static void set_counters(struct proc_row *row, int64_t base)
{
	for (int g = 0; g < MODEL_NGEN; g++) {
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
	row->live_objects = base * 100;
	row->pause_hist[0][20] = (uint32_t)base;
	row->pause_hist[1][30] = (uint32_t)base / 2;
	row->pause_hist[2][48] = 3;
}

static int check(int err, const char *what)
{
	if (err) {
		fprintf(stderr, "seed_trace: %s: %s\n", what, strerror(err < 0 ? -err : err));
		exit(1);
	}
	return 0;
}

/* Small pages, rollback journal, vacuumed: a compact single file. */
static void compact(const char *path)
{
	sqlite3 *db;

	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA journal_mode=DELETE; PRAGMA page_size=512; VACUUM;", NULL, NULL, NULL) != SQLITE_OK) {
		fprintf(stderr, "seed_trace: %s: %s\n", path, sqlite3_errmsg(db));
		exit(1);
	}
	sqlite3_close(db);
}

static void write_trace(const char *dir, const char *name, int kind)
{
	char path[4096];
	struct recorder_opts o = { .path = path, .force = true, .command_line = "pyleak record --all -o seed.db",
				   .interval_s = 1, .start_time = T0, .quiet = true };
	struct recorder *r;
	struct proc_row *a = make_row(100, 5000, kind == 1 ? HOSTILE : "python3.11", GC_TIER_USDT);
	struct proc_row *b = make_row(200, 6000, "python3.12", kind == 2 ? GC_TIER_POLL : GC_TIER_UPROBE);
	struct proc_row *rows[2] = { a, b };
	struct snapshot snap = { .time = T0 + 1, .interval_s = 1, .nrows = 2, .rows = rows };
	struct gc_probe_event ev = { .pid = 100, .tid = 100, .generation = 0, .start_ns = 5000000000ull,
				     .duration_ns = 123456, .collected = 42, .uncollectable = 0, .source = 1 };
	const char *tname = kind == 1 ? HOSTILE ".Conn" : "__main__.Conn";
	const char *stack = kind == 1 ? "<module>;" HOSTILE ".py:3 " HOSTILE ";f" : "app.py:1 <module>;app.py:9 serve;app.py:41 accept_loop";
	int step;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (kind == 1) {
		snprintf(a->target.cmdline, sizeof(a->target.cmdline), "python3 %s --x", HOSTILE);
		snprintf(a->target.exe, sizeof(a->target.exe), "/tmp/%s", HOSTILE);
		snprintf(a->note, sizeof(a->note), "note %s", HOSTILE);
		snprintf(a->target.container_id, sizeof(a->target.container_id), "%s", HOSTILE);
	}
	check(recorder__open(&o, &r), "open");
	if (kind == 3) { /* empty: meta only */
		check(recorder__close(r), "close");
		compact(path);
		free(a);
		free(b);
		return;
	}
	for (step = 1; step <= 4; step++) {
		set_counters(a, 100 * step);
		set_counters(b, 50 + step);
		if (kind == 2) {
			b->gc_valid = step != 2;
			b->pauses_estimated = true;
			b->garbage = -1;
			snprintf(b->note, sizeof(b->note), "gc state unreadable at step %d", step);
			b->exited = step == 4;
			a->enabled = step & 1;
		}
		snap.time = T0 + step;
		check(recorder__snapshot(r, &snap), "snapshot");
		for (int e = 0; e < 3; e++) {
			ev.tid = 100 + e;
			ev.generation = (step + e) % 3;
			ev.start_ns += 1000000;
			ev.duration_ns = 100000ull * (e + 1) * step;
			ev.collected = e == 2 ? -1 : 40 + e;
			ev.uncollectable = e == 2 ? -1 : e;
			recorder__gc_event_at(r, &ev, T0 + step + 0.1 * e);
		}
		check(recorder__type_row(r, 100, T0 + step, "dict", 1000 * step, 64000 * step), "type");
		check(recorder__type_row(r, 100, T0 + step, tname, 10 * step * step, -1), "type");
		if (!b->exited)
			check(recorder__type_row(r, 200, T0 + step, "list", 500, 4000), "type");
		check(recorder__container_row(r, 100, T0 + step, kind == 1 ? HOSTILE : "__main__.cache", "dict",
					      500 * step, -1), "container");
		check(recorder__suspect_row(r, 100, T0 + step, "type", tname, 3600, 0.9,
					    kind == 1 ? HOSTILE : "+60 in 1s"), "suspect");
		check(recorder__suspect_row(r, 100, T0 + step, "container", kind == 1 ? HOSTILE : "__main__.cache", 600,
					    0.7, "grows"), "suspect");
		check(recorder__site_row(r, 100, T0 + step, stack, 5 * step, 500), "site");
		if (!b->exited)
			check(recorder__site_row(r, 200, T0 + step, "[truncated];b.py:2 g", 1, -1), "site");
	}
	if (kind != 2)
		recorder__process_exit(r, b);
	check(recorder__close(r), "close");
	compact(path);
	free(a);
	free(b);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: seed_trace DIR\n");
		return 2;
	}
	verbosity = 0;
	write_trace(argv[1], "basic.db", 0);
	write_trace(argv[1], "hostile.db", 1);
	write_trace(argv[1], "edge.db", 2);
	write_trace(argv[1], "empty.db", 3);
	return 0;
}
