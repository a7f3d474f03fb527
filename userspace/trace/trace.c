/* SPDX-License-Identifier: BSD-2-Clause */
/* The trace reader: validates a trace file and loads it into memory for report (and replay). */
#include "trace/trace.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/common.h"
#include "trace/record.h"

static const char *const aux_names[TRACE_NAUX] = { "types", "containers", "suspects", "sites", "survivors",
							       "native" };

const char *trace__aux_name(enum trace_aux_kind k)
{
	return (unsigned)k < TRACE_NAUX ? aux_names[k] : "?";
}

static void col_str(sqlite3_stmt *st, int i, char *dst, size_t sz)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	/* Truncation is fine here: names in a trace are for display. */
	copy_str(dst, sz, s ? (const char *)s : "");
}

static char *col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	if (!s)
		return NULL;
	return strndup((const char *)s, 4096);
}

/* Values a real trace can hold stay far below 2^53; clamping there keeps every difference the
 * report takes (last - first) free of overflow on a hostile file. */
#define TRACE_VALUE_MAX (INT64_C(1) << 53)

static int64_t col_i64(sqlite3_stmt *st, int i, int64_t dflt)
{
	int64_t v;

	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return dflt;
	v = sqlite3_column_int64(st, i);
	return v > TRACE_VALUE_MAX ? TRACE_VALUE_MAX : v < -TRACE_VALUE_MAX ? -TRACE_VALUE_MAX : v;
}

static double col_dbl(sqlite3_stmt *st, int i)
{
	double v = sqlite3_column_double(st, i);

	return v == v ? v : 0; /* NaN from a hostile file would poison every sum */
}

static void note_truncated(struct trace *t, const char *table)
{
	size_t n = strlen(t->truncated);

	snprintf(t->truncated + n, sizeof(t->truncated) - n, "%s%s", n ? "," : "", table);
}

struct loader {
	sqlite3 *db;
	struct trace *t;
	const char *path;
};

static int prepare(struct loader *l, const char *sql, sqlite3_stmt **st)
{
	if (sqlite3_prepare_v2(l->db, sql, -1, st, NULL) != SQLITE_OK) {
		pr_err("%s: not a pyleak trace or damaged (%s)", l->path, sqlite3_errmsg(l->db));
		return -EINVAL;
	}
	return 0;
}

/* A step error in the middle of a table means the file is damaged (quick_check is not complete). */
static int step_done(struct loader *l, int rc)
{
	if (rc == SQLITE_DONE || rc == SQLITE_ROW)
		return 0;
	pr_err("%s: damaged trace: %s", l->path, sqlite3_errmsg(l->db));
	return -EIO;
}

static int check_header(const char *path)
{
	unsigned char hdr[100];
	struct stat stb;
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		pr_err("cannot open %s: %s", path, strerror(-err));
		return err;
	}
	if (fstat(fd, &stb) || !S_ISREG(stb.st_mode)) {
		pr_err("%s: not a regular file", path);
		close(fd);
		return -EINVAL;
	}
	n = read(fd, hdr, sizeof(hdr));
	close(fd);
	if (n < 16 || memcmp(hdr, "SQLite format 3", 16)) {
		pr_err("%s: not a pyleak trace (not an SQLite file)", path);
		return -EINVAL;
	}
	if (n < (ssize_t)sizeof(hdr)) {
		pr_err("%s: truncated SQLite file (%zd bytes)", path, n);
		return -EIO;
	}
	return 0;
}

static int quick_check(struct loader *l)
{
	sqlite3_stmt *st;
	const unsigned char *s;
	int rc, err;

	/* quick_check skips the index/table cross-checks of integrity_check: O(N), enough to refuse
	 * a truncated or scribbled file before we trust its row counts. */
	err = prepare(l, "PRAGMA quick_check(1)", &st);
	if (err)
		return -EIO;
	rc = sqlite3_step(st);
	s = rc == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
	if (!s || strcmp((const char *)s, "ok")) {
		char why[256];
		char *c;

		/* quick_check's report is multi-line ("*** in database main ***\nOn tree page..."): one line */
		copy_str(why, sizeof(why), s ? (const char *)s : sqlite3_errmsg(l->db));
		for (c = why; *c; c++)
			if (*c == '\n' || *c == '\r')
				*c = ' ';
		pr_err("%s: damaged or truncated trace: %s", l->path, why);
		err = -EIO;
	}
	sqlite3_finalize(st);
	return err;
}

static int load_meta(struct loader *l)
{
	struct trace_meta *m = &l->t->meta;
	sqlite3_stmt *st;
	bool have_format = false, have_version = false;
	int rc, err, n = 0;

	if (sqlite3_prepare_v2(l->db, "SELECT key, value FROM meta", -1, &st, NULL) != SQLITE_OK) {
		pr_err("%s: not a pyleak trace (no meta table: %s)", l->path, sqlite3_errmsg(l->db));
		return -EINVAL;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n++ < 10000) {
		const char *k = (const char *)sqlite3_column_text(st, 0);
		const char *v = (const char *)sqlite3_column_text(st, 1);

		if (!k || !v)
			continue;
		if (!strcmp(k, "format")) {
			have_format = !strcmp(v, TRACE_FORMAT_NAME);
		} else if (!strcmp(k, "schema_version")) {
			long ver;

			if (parse_long(v, 1, 1000000, &ver) == 0) {
				m->schema_version = (int)ver;
				have_version = true;
			}
		} else if (!strcmp(k, "host")) {
			copy_str(m->host, sizeof(m->host), v);
		} else if (!strcmp(k, "kernel")) {
			copy_str(m->kernel, sizeof(m->kernel), v);
		} else if (!strcmp(k, "pyleak_version")) {
			copy_str(m->pyleak_version, sizeof(m->pyleak_version), v);
		} else if (!strcmp(k, "command_line")) {
			copy_str(m->command_line, sizeof(m->command_line), v);
		} else if (!strcmp(k, "start_time")) {
			m->start_time = col_dbl(st, 1);
		} else if (!strcmp(k, "end_time")) {
			m->end_time = col_dbl(st, 1);
		} else if (!strcmp(k, "interval_s")) {
			m->interval_s = col_dbl(st, 1);
		} else if (!strcmp(k, "max_size")) {
			m->max_size = (uint64_t)col_i64(st, 1, 0);
		} else if (!strcmp(k, "dropped_gc_events")) {
			m->dropped_gc_events = (uint64_t)col_i64(st, 1, 0);
		} else if (!strcmp(k, "ringbuf_dropped_events")) {
			m->ringbuf_dropped_events = (uint64_t)col_i64(st, 1, 0);
		} else if (!strcmp(k, "complete")) {
			m->complete = !strcmp(v, "1");
		} else if (!strcmp(k, "stacks")) {
			m->stacks_quoted = !strcmp(v, "quoted");
		}
	}
	err = step_done(l, rc);
	sqlite3_finalize(st);
	if (err)
		return err;
	if (!have_format || !have_version) {
		pr_err("%s: not a pyleak trace (SQLite without pyleak's meta format/schema_version)", l->path);
		return -EINVAL;
	}
	if (m->schema_version > TRACE_SCHEMA_VERSION) {
		pr_err("%s: trace schema version %d is newer than this pyleak understands (%d): upgrade pyleak",
		       l->path, m->schema_version, TRACE_SCHEMA_VERSION);
		return -EPROTONOSUPPORT;
	}
	return 0;
}

static int proc_index(const struct trace *t, int64_t id)
{
	int lo = 0, hi = t->nprocs - 1;

	/* procs are loaded ORDER BY id: binary search */
	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;

		if (t->procs[mid].id == id)
			return mid;
		if (t->procs[mid].id < id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

static int load_procs(struct loader *l)
{
	struct trace *t = l->t;
	sqlite3_stmt *st;
	int rc, err;

	err = prepare(l, "SELECT id, pid, ns_pid, start_ticks, comm, cmdline, exe, python, gc_source, container_id,"
			 " first_seen, last_seen, exited, note FROM processes ORDER BY id LIMIT 4097", &st);
	if (err)
		return err;
	t->procs = calloc(TRACE_MAX_PROCS, sizeof(*t->procs));
	if (!t->procs) {
		sqlite3_finalize(st);
		return -ENOMEM;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct trace_proc *p;

		if (t->nprocs == TRACE_MAX_PROCS) {
			note_truncated(t, "processes");
			rc = SQLITE_DONE;
			break;
		}
		p = &t->procs[t->nprocs++];
		p->id = sqlite3_column_int64(st, 0);
		p->pid = (int)col_i64(st, 1, 0);
		p->ns_pid = (int)col_i64(st, 2, 0);
		p->start_ticks = (uint64_t)col_i64(st, 3, 0);
		col_str(st, 4, p->comm, sizeof(p->comm));
		col_str(st, 5, p->cmdline, sizeof(p->cmdline));
		col_str(st, 6, p->exe, sizeof(p->exe));
		col_str(st, 7, p->python, sizeof(p->python));
		col_str(st, 8, p->gc_source, sizeof(p->gc_source));
		col_str(st, 9, p->container_id, sizeof(p->container_id));
		p->first_seen = col_dbl(st, 10);
		p->last_seen = col_dbl(st, 11);
		p->exited = sqlite3_column_int64(st, 12) != 0;
		col_str(st, 13, p->note, sizeof(p->note));
	}
	err = step_done(l, rc);
	sqlite3_finalize(st);
	return err;
}

/* Grow one per-process array by one element (doubling), bounded by the caller's caps. */
static void *grow(void *arr, int n, size_t elem)
{
	if (n && (n < 16 || (n & (n - 1))))
		return arr; /* capacity is 16, then every power of two: room left */
	return realloc(arr, (size_t)(n ? 2 * n : 16) * elem);
}

static int load_samples(struct loader *l)
{
	struct trace *t = l->t;
	sqlite3_stmt *st;
	long total = 0;
	int rc, err, g;

	err = prepare(l, "SELECT proc, time, rss, gc_valid,"
			 " collections0, collections1, collections2, collected0, collected1, collected2,"
			 " uncollectable0, uncollectable1, uncollectable2, garbage, enabled,"
			 " threshold0, threshold1, threshold2, count0, count1, count2,"
			 " gc_time_pct, gc_time_us, pauses_estimated,"
			 " pause_count0, pause_count1, pause_count2, pause_sum_us0, pause_sum_us1, pause_sum_us2,"
			 " pause_max_us0, pause_max_us1, pause_max_us2, live_objects"
			 " FROM samples ORDER BY proc, time", &st);
	if (err)
		return err;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int pi = proc_index(t, sqlite3_column_int64(st, 0)), i = 4;
		struct trace_proc *p;
		struct trace_sample *s, *n;

		if (pi < 0)
			continue;
		if (total++ >= TRACE_MAX_SAMPLES) {
			note_truncated(t, "samples");
			rc = SQLITE_DONE;
			break;
		}
		p = &t->procs[pi];
		n = grow(p->samples, p->nsamples, sizeof(*n));
		if (!n) {
			err = -ENOMEM;
			break;
		}
		p->samples = n;
		s = &p->samples[p->nsamples++];
		memset(s, 0, sizeof(*s));
		s->time = col_dbl(st, 1);
		s->rss = (uint64_t)col_i64(st, 2, 0);
		s->gc_valid = col_i64(st, 3, 0) != 0;
		for (g = 0; g < TRACE_NGEN; g++)
			s->collections[g] = col_i64(st, i++, 0);
		for (g = 0; g < TRACE_NGEN; g++)
			s->collected[g] = col_i64(st, i++, 0);
		for (g = 0; g < TRACE_NGEN; g++)
			s->uncollectable[g] = col_i64(st, i++, 0);
		s->garbage = col_i64(st, i++, -1);
		s->enabled = (int)col_i64(st, i++, -1);
		for (g = 0; g < TRACE_NGEN; g++)
			s->thresholds[g] = col_i64(st, i++, 0);
		for (g = 0; g < TRACE_NGEN; g++)
			s->counts[g] = col_i64(st, i++, 0);
		s->gc_time_pct = col_dbl(st, i++);
		s->gc_time_us = (uint64_t)col_i64(st, i++, 0);
		s->pauses_estimated = col_i64(st, i++, 0) != 0;
		for (g = 0; g < TRACE_NGEN; g++)
			s->pause_count[g] = (uint64_t)col_i64(st, i++, 0);
		for (g = 0; g < TRACE_NGEN; g++)
			s->pause_sum_us[g] = (uint64_t)col_i64(st, i++, 0);
		for (g = 0; g < TRACE_NGEN; g++)
			s->pause_max_us[g] = col_i64(st, i++, -1);
		s->live_objects = col_i64(st, i++, -1);
	}
	if (!err)
		err = step_done(l, rc);
	sqlite3_finalize(st);
	return err;
}

static int load_events(struct loader *l)
{
	struct trace *t = l->t;
	sqlite3_stmt *st;
	long total = 0;
	int rc, err;

	err = prepare(l, "SELECT proc, time, mono_ns, tid, generation, duration_us, collected, uncollectable"
			 " FROM gc_events ORDER BY proc, mono_ns", &st);
	if (err)
		return err;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int pi = proc_index(t, sqlite3_column_int64(st, 0));
		struct trace_proc *p;
		struct trace_event *e, *n;

		if (pi < 0)
			continue;
		if (total++ >= TRACE_MAX_EVENTS) {
			note_truncated(t, "gc_events");
			rc = SQLITE_DONE;
			break;
		}
		p = &t->procs[pi];
		n = grow(p->events, p->nevents, sizeof(*n));
		if (!n) {
			err = -ENOMEM;
			break;
		}
		p->events = n;
		e = &p->events[p->nevents++];
		e->time = col_dbl(st, 1);
		e->mono_ns = (uint64_t)col_i64(st, 2, 0);
		e->tid = (uint32_t)col_i64(st, 3, 0);
		e->generation = (int)col_i64(st, 4, -1);
		if (e->generation < -1 || e->generation >= TRACE_NGEN)
			e->generation = -1;
		e->duration_us = col_dbl(st, 5);
		if (e->duration_us < 0)
			e->duration_us = 0;
		e->collected = col_i64(st, 6, -1);
		e->uncollectable = col_i64(st, 7, -1);
	}
	if (!err)
		err = step_done(l, rc);
	sqlite3_finalize(st);
	return err;
}

static int load_hist(struct loader *l)
{
	struct trace *t = l->t;
	sqlite3_stmt *st;
	long rows = 0;
	int rc, err;

	err = prepare(l, "SELECT proc, generation, slot, count FROM pause_hist", &st);
	if (err)
		return err;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && rows++ < (long)TRACE_MAX_PROCS * TRACE_NGEN * TRACE_HIST_SLOTS) {
		int pi = proc_index(t, sqlite3_column_int64(st, 0));
		int64_t g = sqlite3_column_int64(st, 1), s = sqlite3_column_int64(st, 2), c = sqlite3_column_int64(st, 3);

		if (pi < 0 || g < 0 || g >= TRACE_NGEN || s < 0 || s >= TRACE_HIST_SLOTS || c < 0)
			continue;
		t->procs[pi].hist[g][s] = (uint64_t)c;
	}
	err = step_done(l, rc);
	sqlite3_finalize(st);
	return err;
}

/* A table that files from before it lack: 1 present, 0 absent, or the damage reported (-errno). */
static int optional_table(struct loader *l, const char *name)
{
	sqlite3_stmt *st;
	int rc = prepare(l, "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?1", &st);

	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW;
}

/* The numeric detail columns of the memory table: the column of the SELECT below, the field. */
#define MD(c, field, d) { c, offsetof(struct trace_memory, field), d }
static const struct {
	int col;
	size_t off;
	bool dbl;
} memory_detail[] = {
	MD(16, swap, false),	       MD(19, arena_confidence, true), MD(20, narenas, false),
	MD(21, blocks_used, false),    MD(22, blocks_free, false),     MD(23, unused_pool_bytes, false),
	MD(24, untracked_objects, false), MD(25, rss_per_min, true),  MD(26, arenas_per_min, true),
	MD(27, objects_per_min, true), MD(28, malloc_per_min, true),   MD(29, stacks_per_min, true),
	MD(30, file_per_min, true),
};
#undef MD

static int load_memory(struct loader *l)
{
	struct trace *t = l->t;
	sqlite3_stmt *st;
	long total = 0;
	bool detail;
	int rc, err;

	/* Files written before the table existed load without memory rows. */
	rc = optional_table(l, "memory");
	if (rc <= 0)
		return rc;
	/* The detail columns came later: a file without them loads the parts only (detail false). */
	detail = sqlite3_prepare_v2(l->db, "SELECT swap, file_per_min FROM memory LIMIT 0", -1, &st, NULL) == SQLITE_OK;
	sqlite3_finalize(st);
#define MEMORY_PARTS                                                                                              \
	"SELECT proc, time, rss, pymalloc_arenas, malloc_heap, anon_other, stacks, file, other, shared, tracked_bytes," \
	" untracked_bytes, arena_bytes, block_bytes_used, block_bytes_free, arena_source"
	err = prepare(l, detail ? MEMORY_PARTS ", swap, thread_stacks, arena_why, arena_confidence, arenas, blocks_used,"
				  " blocks_free, unused_pool_bytes, untracked_objects, rss_per_min, arenas_per_min,"
				  " objects_per_min, malloc_per_min, stacks_per_min, file_per_min FROM memory ORDER BY proc, time"
				: MEMORY_PARTS " FROM memory ORDER BY proc, time",
		      &st);
#undef MEMORY_PARTS
	if (err)
		return err;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int pi = proc_index(t, sqlite3_column_int64(st, 0));
		struct trace_proc *p;
		struct trace_memory *m, *n;
		const unsigned char *src;

		if (pi < 0)
			continue;
		if (total++ >= TRACE_MAX_SAMPLES) {
			note_truncated(t, "memory");
			rc = SQLITE_DONE;
			break;
		}
		p = &t->procs[pi];
		n = grow(p->memory, p->nmemory, sizeof(*n));
		if (!n) {
			err = -ENOMEM;
			break;
		}
		p->memory = n;
		m = &p->memory[p->nmemory++];
		memset(m, 0, sizeof(*m));
		m->time = col_dbl(st, 1);
		m->rss = col_i64(st, 2, 0);
		m->arenas = col_i64(st, 3, 0);
		m->heap = col_i64(st, 4, 0);
		m->anon = col_i64(st, 5, 0);
		m->stacks = col_i64(st, 6, 0);
		m->file = col_i64(st, 7, 0);
		m->other = col_i64(st, 8, 0);
		m->shared = col_i64(st, 9, 0);
		m->tracked_bytes = col_i64(st, 10, 0);
		m->untracked_bytes = col_i64(st, 11, 0);
		m->arena_bytes = col_i64(st, 12, 0);
		m->block_bytes_used = col_i64(st, 13, 0);
		m->block_bytes_free = col_i64(st, 14, 0);
		src = sqlite3_column_text(st, 15);
		copy_str(m->arena_source, sizeof(m->arena_source), src ? (const char *)src : "none");
		if (!detail)
			continue;
		m->detail = true;
		m->thread_stacks = (int)MAX(0, MIN(col_i64(st, 17, 0), 1000000)); /* the file's number */
		src = sqlite3_column_text(st, 18);
		copy_str(m->arena_why, sizeof(m->arena_why), src ? (const char *)src : "");
		for (size_t k = 0; k < ARRAY_SIZE(memory_detail); k++) {
			char *f = (char *)m + memory_detail[k].off;

			if (memory_detail[k].dbl)
				*(double *)f = col_dbl(st, memory_detail[k].col);
			else
				*(int64_t *)f = col_i64(st, memory_detail[k].col, 0);
		}
	}
	if (!err)
		err = step_done(l, rc);
	sqlite3_finalize(st);
	return err;
}

/* Thread names: an optional table (files recorded before it have none). */
static int load_threads(struct loader *l)
{
	struct trace *t = l->t;
	sqlite3_stmt *st;
	long total = 0;
	int rc, err;

	rc = optional_table(l, "threads");
	if (rc <= 0)
		return rc;
	err = prepare(l, "SELECT proc, time, tid, name FROM threads ORDER BY proc, tid, time", &st);
	if (err)
		return err;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int pi = proc_index(t, sqlite3_column_int64(st, 0));
		struct trace_proc *p;
		struct trace_thread *th, *n;
		const unsigned char *name;

		if (pi < 0)
			continue;
		if (total++ >= TRACE_MAX_SAMPLES) {
			note_truncated(t, "threads");
			rc = SQLITE_DONE;
			break;
		}
		p = &t->procs[pi];
		n = grow(p->threads, p->nthreads, sizeof(*n));
		if (!n) {
			err = -ENOMEM;
			break;
		}
		p->threads = n;
		th = &p->threads[p->nthreads++];
		memset(th, 0, sizeof(*th));
		th->time = col_dbl(st, 1);
		th->tid = (int)MAX(0, MIN(col_i64(st, 2, 0), INT32_MAX));
		name = sqlite3_column_text(st, 3);
		copy_str(th->name, sizeof(th->name), name ? (const char *)name : "");
	}
	if (!err)
		err = step_done(l, rc);
	sqlite3_finalize(st);
	return err;
}

static int load_aux(struct loader *l, enum trace_aux_kind k)
{
	static const char *const sql[TRACE_NAUX] = {
		[TRACE_TYPES] = "SELECT proc, time, name, NULL, NULL, count, bytes, 0, 0 FROM types ORDER BY proc, name, time",
		[TRACE_CONTAINERS] = "SELECT proc, time, name, type_name, NULL, length, bytes, 0, 0 FROM containers"
				     " ORDER BY proc, name, time",
		[TRACE_SUSPECTS] = "SELECT proc, time, name, kind, evidence, NULL, NULL, per_min, confidence FROM suspects"
				   " ORDER BY proc, time",
		[TRACE_SITES] = "SELECT proc, time, stack, NULL, NULL, count, bytes, 0, 0 FROM sites ORDER BY proc, stack",
		[TRACE_SURVIVORS] = "SELECT proc, time, stack, type, NULL, alive, sampled, survived, 0 FROM survivors"
				    " ORDER BY proc, type, stack",
		[TRACE_NATIVE] = "SELECT proc, time, stack, caller, NULL, outstanding, bytes, per_min, out_ratio FROM native"
				 " ORDER BY proc, time, bytes DESC",
	};
	struct trace *t = l->t;
	sqlite3_stmt *st;
	int rc, err, cap = 0;

	err = prepare(l, sql[k], &st);
	if (err)
		return err;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int pi = proc_index(t, sqlite3_column_int64(st, 0));
		struct trace_aux *a;

		if (pi < 0)
			continue;
		if (t->naux[k] == TRACE_MAX_AUX_ROWS) {
			note_truncated(t, aux_names[k]);
			rc = SQLITE_DONE;
			break;
		}
		if (t->naux[k] == cap) {
			struct trace_aux *n;

			cap = cap ? cap * 2 : 64;
			n = realloc(t->aux[k], (size_t)cap * sizeof(*n));
			if (!n) {
				err = -ENOMEM;
				break;
			}
			t->aux[k] = n;
		}
		a = &t->aux[k][t->naux[k]++];
		memset(a, 0, sizeof(*a));
		a->proc = pi;
		a->time = col_dbl(st, 1);
		a->name = col_dup(st, 2);
		a->kind = col_dup(st, 3);
		a->text = col_dup(st, 4);
		a->count = col_i64(st, 5, -1);
		a->bytes = col_i64(st, 6, -1);
		a->per_min = col_dbl(st, 7);
		a->confidence = col_dbl(st, 8);
		if (!a->name) {
			a->name = strdup("?");
			if (!a->name) {
				err = -ENOMEM;
				break;
			}
		}
	}
	if (!err)
		err = step_done(l, rc);
	sqlite3_finalize(st);
	return err;
}

/* The suspects' chains, grouping and diagnosis (table suspect_chains, absent in older files):
 * attached to the suspects row of the same process, time and name. */
static int load_suspect_chains(struct loader *l)
{
	struct trace *t = l->t;
	struct trace_aux *rows = t->aux[TRACE_SUSPECTS];
	int n = t->naux[TRACE_SUSPECTS], hint = 0, rc, err = 0, k;
	sqlite3_stmt *st;
	bool present;

	if (sqlite3_prepare_v2(l->db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name='suspect_chains'", -1,
			       &st, NULL) != SQLITE_OK)
		return prepare(l, "SELECT 1 FROM suspect_chains", &st);
	present = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	if (!present || !n)
		return 0;
	err = prepare(l, "SELECT proc, time, name, status, chain, explained_by, group_why, diagnosis FROM suspect_chains"
			 " ORDER BY proc, time", &st);
	if (err)
		return err;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int pi = proc_index(t, sqlite3_column_int64(st, 0));
		double time = col_dbl(st, 1);
		const unsigned char *name = sqlite3_column_text(st, 2);
		struct trace_aux *a = NULL;

		if (pi < 0 || !name)
			continue;
		/* Both tables are in (proc, time) order: the match is at or after the last one. */
		for (k = 0; k < n && !a; k++) {
			struct trace_aux *c = &rows[(hint + k) % n];

			if (c->proc == pi && c->time == time && !strcmp(c->name, (const char *)name) && !c->chain_status)
				a = c, hint = (hint + k) % n;
		}
		if (!a)
			continue;
		a->chain_status = col_dup(st, 3);
		a->chain = col_dup(st, 4);
		a->explained_by = col_dup(st, 5);
		a->group_why = col_dup(st, 6);
		a->diagnosis = col_dup(st, 7);
		if (!a->chain_status) {
			a->chain_status = strdup("none");
			if (!a->chain_status) {
				err = -ENOMEM;
				break;
			}
		}
	}
	if (!err)
		err = step_done(l, rc);
	sqlite3_finalize(st);
	return err;
}

int trace__load(const char *path, struct trace **out)
{
	struct loader l = { .path = path };
	struct trace *t;
	int err, k;

	*out = NULL;
	err = check_header(path);
	if (err)
		return err;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	copy_str(t->path, sizeof(t->path), path);
	l.t = t;
	if (sqlite3_open_v2(path, &l.db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		pr_err("cannot open %s: %s", path, l.db ? sqlite3_errmsg(l.db) : "out of memory");
		err = -EIO;
		goto cleanup;
	}
	/* A hostile file must not make SQLite run triggers or views with side effects on us, nor
	 * take unbounded memory. */
	sqlite3_db_config(l.db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(l.db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	sqlite3_limit(l.db, SQLITE_LIMIT_LENGTH, 16 << 20);
	sqlite3_busy_timeout(l.db, 2000);
	err = quick_check(&l);
	err = err ?: load_meta(&l);
	err = err ?: load_procs(&l);
	err = err ?: load_samples(&l);
	err = err ?: load_events(&l);
	err = err ?: load_hist(&l);
	err = err ?: load_memory(&l);
	err = err ?: load_threads(&l);
	for (k = 0; k < TRACE_NAUX && !err; k++) {
		/* survivors: schema 2; a version-1 trace has no such table and loads without it */
		if (k == TRACE_SURVIVORS && t->meta.schema_version < 2)
			continue;
		/* native: added without a version bump; files written before it load without it */
		if (k == TRACE_NATIVE && (err = optional_table(&l, "native")) <= 0)
			continue;
		err = load_aux(&l, (enum trace_aux_kind)k);
	}
	err = err ?: load_suspect_chains(&l); /* onto the suspects rows */
	err = err ?: trace__load_groups(l.db, t);
	if (err == -ENOMEM)
		pr_err("%s: out of memory loading the trace", path);
cleanup:
	sqlite3_close(l.db);
	if (err) {
		trace__free(t);
		return err;
	}
	*out = t;
	return 0;
}

void trace__free(struct trace *t)
{
	int i, k;

	if (!t)
		return;
	trace__free_groups(t);
	for (i = 0; i < t->nprocs; i++) {
		free(t->procs[i].samples);
		free(t->procs[i].events);
		free(t->procs[i].memory);
		free(t->procs[i].threads);
	}
	free(t->procs);
	for (k = 0; k < TRACE_NAUX; k++) {
		for (i = 0; i < t->naux[k]; i++) {
			free(t->aux[k][i].name);
			free(t->aux[k][i].kind);
			free(t->aux[k][i].text);
			free(t->aux[k][i].chain_status);
			free(t->aux[k][i].chain);
			free(t->aux[k][i].explained_by);
			free(t->aux[k][i].group_why);
			free(t->aux[k][i].diagnosis);
		}
		free(t->aux[k]);
	}
	free(t);
}
