/* SPDX-License-Identifier: BSD-2-Clause */
/* The trace writer: snapshots and GC events into a versioned SQLite file (docs/trace-schema.md). */
#include "trace/record.h"
#include "trace/record_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "util/common.h"
#include "target/python.h"

/* The schema, version TRACE_SCHEMA_VERSION. Every column is documented in docs/trace-schema.md;
 * keep the two in step. Wide per-generation columns (collections0..2) rather than a child table:
 * one row per sample keeps the CSV export and ad-hoc SQL simple. */
static const char schema_sql[] =
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;"
	"CREATE TABLE processes(id INTEGER PRIMARY KEY, pid INTEGER NOT NULL, ns_pid INTEGER,"
	" start_ticks INTEGER NOT NULL, comm TEXT, cmdline TEXT, exe TEXT, python TEXT, gc_source TEXT,"
	" container_id TEXT, first_seen REAL, last_seen REAL, exited INTEGER NOT NULL DEFAULT 0, note TEXT,"
	" UNIQUE(pid, start_ticks));"
	"CREATE TABLE samples(proc INTEGER NOT NULL REFERENCES processes(id), time REAL NOT NULL,"
	" rss INTEGER, gc_valid INTEGER NOT NULL,"
	" collections0 INTEGER, collections1 INTEGER, collections2 INTEGER,"
	" collected0 INTEGER, collected1 INTEGER, collected2 INTEGER,"
	" uncollectable0 INTEGER, uncollectable1 INTEGER, uncollectable2 INTEGER,"
	" garbage INTEGER, enabled INTEGER,"
	" threshold0 INTEGER, threshold1 INTEGER, threshold2 INTEGER,"
	" count0 INTEGER, count1 INTEGER, count2 INTEGER,"
	" gc_time_pct REAL, gc_time_us INTEGER, pauses_estimated INTEGER,"
	" pause_count0 INTEGER, pause_count1 INTEGER, pause_count2 INTEGER,"
	" pause_sum_us0 INTEGER, pause_sum_us1 INTEGER, pause_sum_us2 INTEGER,"
	" pause_max_us0 INTEGER, pause_max_us1 INTEGER, pause_max_us2 INTEGER,"
	" live_objects INTEGER);"
	"CREATE INDEX samples_proc_time ON samples(proc, time);"
	"CREATE TABLE pause_hist(proc INTEGER NOT NULL, generation INTEGER NOT NULL, slot INTEGER NOT NULL,"
	" lo_us INTEGER NOT NULL, hi_us INTEGER, count INTEGER NOT NULL,"
	" PRIMARY KEY(proc, generation, slot)) WITHOUT ROWID;"
	"CREATE TABLE gc_events(proc INTEGER NOT NULL, pid INTEGER NOT NULL, tid INTEGER NOT NULL,"
	" time REAL NOT NULL, mono_ns INTEGER NOT NULL, generation INTEGER NOT NULL, duration_us REAL NOT NULL,"
	" collected INTEGER, uncollectable INTEGER, source TEXT);"
	"CREATE INDEX gc_events_proc_mono ON gc_events(proc, mono_ns);"
	"CREATE TABLE types(proc INTEGER NOT NULL, time REAL NOT NULL, name TEXT NOT NULL, count INTEGER,"
	" bytes INTEGER);"
	"CREATE INDEX types_proc_name_time ON types(proc, name, time);"
	"CREATE TABLE containers(proc INTEGER NOT NULL, time REAL NOT NULL, name TEXT NOT NULL, type_name TEXT,"
	" length INTEGER, bytes INTEGER);"
	"CREATE INDEX containers_proc_name_time ON containers(proc, name, time);"
	"CREATE TABLE suspects(proc INTEGER NOT NULL, time REAL NOT NULL, kind TEXT NOT NULL, name TEXT,"
	" per_min REAL, confidence REAL, evidence TEXT);"
	"CREATE INDEX suspects_proc_time ON suspects(proc, time);"
	"CREATE TABLE sites(proc INTEGER NOT NULL, time REAL NOT NULL, stack TEXT NOT NULL, count INTEGER,"
	" bytes INTEGER);"
	"CREATE INDEX sites_proc ON sites(proc);"
	"CREATE TABLE survivors(proc INTEGER NOT NULL, time REAL NOT NULL, type TEXT, stack TEXT NOT NULL,"
	" sampled INTEGER, survived INTEGER, alive INTEGER);"
	"CREATE INDEX survivors_proc ON survivors(proc);"
	/* Added without a version bump: older readers ignore the table, and trace.c loads files
	 * without it (no memory rows). */
	"CREATE TABLE memory(proc INTEGER NOT NULL, time REAL NOT NULL, rss INTEGER, pymalloc_arenas INTEGER,"
	" malloc_heap INTEGER, anon_other INTEGER, stacks INTEGER, file INTEGER, other INTEGER, shared INTEGER,"
	" tracked_bytes INTEGER, untracked_bytes INTEGER, arena_bytes INTEGER, block_bytes_used INTEGER,"
	" block_bytes_free INTEGER, arena_source TEXT,"
	/* The rest of the Memory tab and the JSON memory object, so a replay shows them as live did
	 * (added later too: trace.c loads files without these columns, the replay then has none). */
	" swap INTEGER, thread_stacks INTEGER, arena_why TEXT, arena_confidence REAL, arenas INTEGER,"
	" blocks_used INTEGER, blocks_free INTEGER, unused_pool_bytes INTEGER, untracked_objects INTEGER,"
	" rss_per_min REAL, arenas_per_min REAL, objects_per_min REAL, malloc_per_min REAL, stacks_per_min REAL,"
	" file_per_min REAL);"
	"CREATE INDEX memory_proc_time ON memory(proc, time);"
	/* Thread names (/proc/PID/task/TID/comm) as first seen, and again when renamed: the target's
	 * bytes, escaped by the views (added later too: files without it load with no threads). */
	"CREATE TABLE threads(proc INTEGER NOT NULL, time REAL NOT NULL, tid INTEGER NOT NULL, name TEXT NOT NULL,"
	" UNIQUE(proc, tid, name));"
	/* Added without a version bump as memory was: sampled native stacks at each verification walk
	 * (record --native); files without the table load with no native rows. */
	"CREATE TABLE native(proc INTEGER NOT NULL, time REAL NOT NULL, stack TEXT NOT NULL, caller TEXT,"
	" sampled INTEGER, outstanding INTEGER, bytes INTEGER, per_min REAL, out_ratio REAL, suspect INTEGER);"
	"CREATE INDEX native_proc_time ON native(proc, time);"
	/* Added without a version bump too: the retention chain, grouping and diagnosis of a
	 * suspects row (same proc, time, name); files without it load with none. */
	"CREATE TABLE suspect_chains(proc INTEGER NOT NULL, time REAL NOT NULL, name TEXT, status TEXT,"
	" chain TEXT, explained_by TEXT, group_why TEXT, diagnosis TEXT);"
	"CREATE INDEX suspect_chains_proc_time ON suspect_chains(proc, time);";

enum {
	ST_EVENT,
	ST_SAMPLE,
	ST_PROC_INSERT,
	ST_PROC_UPDATE,
	ST_PROC_EXIT,
	ST_HIST,
	ST_META,
	ST_TYPE,
	ST_CONTAINER,
	ST_SUSPECT,
	ST_SITE,
	ST_SURVIVOR,
	ST_MEMORY,
	ST_THREAD,
	ST_NATIVE,
	ST_SUSPECT_CHAIN,
	ST_COUNT,
};

static const char *const stmt_sql[ST_COUNT] = {
	[ST_EVENT] = "INSERT INTO gc_events VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
	[ST_SAMPLE] = "INSERT INTO samples VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,"
		      "?20,?21,?22,?23,?24,?25,?26,?27,?28,?29,?30,?31,?32,?33,?34)",
	[ST_PROC_INSERT] = "INSERT INTO processes(pid,ns_pid,start_ticks,comm,cmdline,exe,python,gc_source,"
			   "container_id,first_seen,last_seen,exited,note) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?10,0,?11)",
	[ST_PROC_UPDATE] = "UPDATE processes SET last_seen=?2, python=?3, gc_source=?4, note=?5, exited=?6,"
			   " exe=?7, cmdline=?8, container_id=?9 WHERE id=?1",
	[ST_PROC_EXIT] = "UPDATE processes SET exited=1, last_seen=?2 WHERE id=?1",
	[ST_HIST] = "INSERT OR REPLACE INTO pause_hist VALUES(?1,?2,?3,?4,?5,?6)",
	[ST_META] = "INSERT OR REPLACE INTO meta VALUES(?1,?2)",
	[ST_TYPE] = "INSERT INTO types VALUES(?1,?2,?3,?4,?5)",
	[ST_CONTAINER] = "INSERT INTO containers VALUES(?1,?2,?3,?4,?5,?6)",
	[ST_SUSPECT] = "INSERT INTO suspects VALUES(?1,?2,?3,?4,?5,?6,?7)",
	[ST_SITE] = "INSERT INTO sites VALUES(?1,?2,?3,?4,?5)",
	[ST_SURVIVOR] = "INSERT INTO survivors VALUES(?1,?2,?3,?4,?5,?6,?7)",
	[ST_MEMORY] = "INSERT INTO memory VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,"
		       "?17,?18,?19,?20,?21,?22,?23,?24,?25,?26,?27,?28,?29,?30,?31)",
	[ST_THREAD] = "INSERT OR IGNORE INTO threads VALUES(?1,?2,?3,?4)",
	[ST_NATIVE] = "INSERT INTO native VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
	[ST_SUSPECT_CHAIN] = "INSERT INTO suspect_chains VALUES(?1,?2,?3,?4,?5,?6,?7,?8)",
};

struct rec_proc {
	pid_t pid;
	uint64_t start_ticks;
	int64_t id;
	bool exited;
	int nthreads; /* thread rows written (REC_MAX_THREADS at most) */
	/* The probes' clock at the GC reading of its baseline: the first sample with GC state read
	 * outside a collection (0: none yet; samples before it are written without GC state).
	 * Collections that ended before that reading are in its counts, so their events are not
	 * written, and none was half done (one running then may have begun before the probes were
	 * attached and would end without an event): the trace's events are exactly the collections
	 * its GC counters count from the baseline on. */
	uint64_t events_from_ns;
};

/* Thread rows per process: a target that spawns or renames threads forever cannot grow the file. */
#define REC_MAX_THREADS 256

/* Past this many known processes (a host with short-lived Python processes over hours), the
 * oldest exited entries are dropped from the lookup table (their rows stay in the file). */
#define REC_MAX_PROCS 65536

struct recorder {
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT];
	char path[4096];
	uint64_t max_size;
	bool quiet;
	bool in_txn;
	bool events_full;	/* stopped writing gc_events (size) */
	uint64_t dropped_events;
	uint64_t foreign_events; /* events of pids no snapshot named */
	uint64_t events, samples;
	uint64_t events_since_check;
	double wall_minus_mono; /* wall seconds - monotonic seconds, refreshed each interval */
	struct rec_proc *procs;
	int nprocs, cap;
};

static int sql_err(struct recorder *r, const char *what)
{
	int code = sqlite3_errcode(r->db);

	pr_err("trace %s: %s: %s", r->path, what, sqlite3_errmsg(r->db));
	return code == SQLITE_FULL ? -ENOSPC : code == SQLITE_READONLY || code == SQLITE_PERM ? -EACCES : -EIO;
}

static int exec(struct recorder *r, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(r->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		pr_err("trace %s: %s: %s", r->path, sql, msg ? msg : "error");
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

static int step_reset(struct recorder *r, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st), err = 0;

	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		err = sql_err(r, what);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return err;
}

static int meta_set(struct recorder *r, const char *key, const char *value)
{
	sqlite3_stmt *st = r->st[ST_META];

	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_TRANSIENT);
	return step_reset(r, st, "writing meta");
}

static int meta_setf(struct recorder *r, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int meta_setf(struct recorder *r, const char *key, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -ENAMETOOLONG;
	return meta_set(r, key, buf);
}

static void text_or_null(sqlite3_stmt *st, int i, const char *s)
{
	if (s && *s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static int begin(struct recorder *r)
{
	int err;

	if (r->in_txn)
		return 0;
	err = exec(r, "BEGIN");
	if (!err)
		r->in_txn = true;
	return err;
}

static int commit(struct recorder *r)
{
	int err;

	if (!r->in_txn)
		return 0;
	err = exec(r, "COMMIT");
	r->in_txn = false;
	return err;
}

static uint64_t db_bytes(struct recorder *r)
{
	sqlite3_stmt *st;
	int64_t pages = 0, page_size = 4096;

	/* page_count includes the pages still in the WAL: the size the file reaches at checkpoint. */
	if (sqlite3_prepare_v2(r->db, "PRAGMA page_count", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			pages = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	if (sqlite3_prepare_v2(r->db, "PRAGMA page_size", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			page_size = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	return (uint64_t)pages * (uint64_t)page_size;
}

static void check_events_budget(struct recorder *r)
{
	if (r->events_full)
		return;
	if ((double)db_bytes(r) >= TRACE_EVENTS_SHARE * (double)r->max_size) {
		r->events_full = true;
		if (!r->quiet)
			pr_warn("trace %s reached %.0f%% of --max-size %llu bytes: no more gc_events are written "
				"(samples go on; the report shows how many events were dropped)",
				r->path, TRACE_EVENTS_SHARE * 100, (unsigned long long)r->max_size);
	}
}

/* Create the file ourselves so its mode is 0600 from the first byte (traces name processes and
 * command lines) and an existing file is never clobbered by accident. */
static int create_file(const char *path, bool force)
{
	char side[4096 + 8];
	int fd;

	if (force) {
		static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
		size_t i;

		for (i = 0; i < ARRAY_SIZE(sfx); i++) {
			if (snprintf(side, sizeof(side), "%s%s", path, sfx[i]) >= (int)sizeof(side))
				return -ENAMETOOLONG;
			if (unlink(side) && errno != ENOENT) {
				int err = -errno;

				pr_err("cannot replace %s: %s", side, strerror(-err));
				return err;
			}
		}
	}
	fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0) {
		int err = -errno;

		if (err == -EEXIST)
			pr_err("%s exists: choose another file or pass --force to replace it", path);
		else
			pr_err("cannot create %s: %s", path, strerror(-err));
		return err;
	}
	/* A umask cannot widen 0600; fchmod anyway in case the file system applied a default ACL. */
	if (fchmod(fd, 0600)) {
		int err = -errno;

		close(fd);
		return err;
	}
	close(fd);
	return 0;
}

static int write_header_meta(struct recorder *r, const struct recorder_opts *opts)
{
	struct utsname u;
	char host[256] = "";
	int err = 0;

	if (uname(&u))
		memset(&u, 0, sizeof(u));
	gethostname(host, sizeof(host) - 1);
	err = err ?: meta_set(r, "format", TRACE_FORMAT_NAME);
	err = err ?: meta_setf(r, "schema_version", "%d", TRACE_SCHEMA_VERSION);
	err = err ?: meta_set(r, "host", host);
	err = err ?: meta_setf(r, "kernel", "%s %s %s %s", u.sysname, u.release, u.version, u.machine);
	err = err ?: meta_set(r, "pyleak_version", PYLEAK_VERSION);
	err = err ?: meta_set(r, "command_line", opts->command_line ? opts->command_line : "");
	err = err ?: meta_setf(r, "start_time", "%.6f", opts->start_time > 0 ? opts->start_time : now_wall());
	err = err ?: meta_setf(r, "interval_s", "%.6g", opts->interval_s);
	err = err ?: meta_setf(r, "max_size", "%llu", (unsigned long long)r->max_size);
	err = err ?: meta_set(r, "pause_hist", "cumulative");
	err = err ?: meta_set(r, "complete", "0");
	/* A ';' in a frame's name is quoted (util/escape.h esc_stack_frame); files without the key
	 * joined raw names, and their readers split at every ';'. */
	err = err ?: meta_set(r, "stacks", "quoted");
	err = err ?: meta_set(r, "dropped_gc_events", "0");
	return err;
}

int recorder__open(const struct recorder_opts *opts, struct recorder **out)
{
	struct recorder *r;
	bool created = false;
	int err, i;

	*out = NULL;
	if (!opts->path || !*opts->path)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->quiet = opts->quiet;
	r->max_size = opts->max_size ? opts->max_size : TRACE_DEFAULT_MAX_SIZE;
	if (copy_str(r->path, sizeof(r->path), opts->path)) {
		err = -ENAMETOOLONG;
		pr_err("trace path too long: %s", opts->path);
		goto cleanup;
	}
	err = create_file(opts->path, opts->force);
	if (err)
		goto cleanup;
	created = true;
	if (sqlite3_open_v2(opts->path, &r->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL) != SQLITE_OK) {
		err = -EIO;
		pr_err("cannot open %s as SQLite: %s", opts->path, r->db ? sqlite3_errmsg(r->db) : "out of memory");
		goto cleanup;
	}
	/* A reader of the live trace (report, a test polling it, sqlite3 on the command line) may
	 * hold a shared lock while we switch to WAL or, later, checkpoint: wait for it a while
	 * instead of failing the recording on its first SQLITE_BUSY. */
	sqlite3_busy_timeout(r->db, 5000);
	/* WAL + NORMAL: a commit is one append to the WAL; a kill -9 of pyleak (or of the machine's
	 * OOM victim) loses at most the open interval, and the file stays consistent. */
	err = exec(r, "PRAGMA journal_mode=WAL");
	err = err ?: exec(r, "PRAGMA synchronous=NORMAL");
	err = err ?: exec(r, "BEGIN");
	err = err ?: exec(r, schema_sql);
	err = err ?: exec(r, recorder__groups_schema);
	if (err)
		goto cleanup;
	r->in_txn = true;
	for (i = 0; i < ST_COUNT; i++) {
		if (sqlite3_prepare_v3(r->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &r->st[i], NULL) != SQLITE_OK) {
			err = sql_err(r, stmt_sql[i]);
			goto cleanup;
		}
	}
	err = write_header_meta(r, opts);
	err = err ?: commit(r);
	err = err ?: begin(r);
	if (err)
		goto cleanup;
	r->wall_minus_mono = now_wall() - now_mono_ns() / 1e9;
	*out = r;
	return 0;
cleanup:
	recorder__close(r);
	if (created)
		unlink(opts->path); /* half a schema is worse than no file */
	return err;
}

static struct rec_proc *find_proc(struct recorder *r, pid_t pid)
{
	int i;

	/* Newest first: a reused pid resolves to its latest process. */
	for (i = r->nprocs - 1; i >= 0; i--)
		if (r->procs[i].pid == pid && !r->procs[i].exited)
			return &r->procs[i];
	return NULL;
}

static struct rec_proc *find_proc_exact(struct recorder *r, pid_t pid, uint64_t start_ticks)
{
	int i;

	for (i = r->nprocs - 1; i >= 0; i--)
		if (r->procs[i].pid == pid && r->procs[i].start_ticks == start_ticks)
			return &r->procs[i];
	return NULL;
}

static struct rec_proc *add_proc(struct recorder *r, const struct proc_row *row, double now, int *err)
{
	const struct py_target *t = &row->target;
	sqlite3_stmt *st = r->st[ST_PROC_INSERT];
	struct rec_proc *p;

	if (r->nprocs == REC_MAX_PROCS) {
		int i, j;

		for (i = j = 0; i < r->nprocs; i++)
			if (!r->procs[i].exited)
				r->procs[j++] = r->procs[i];
		r->nprocs = j;
		if (j == REC_MAX_PROCS) {
			*err = -ENOSPC;
			return NULL;
		}
	}
	if (r->nprocs == r->cap) {
		int cap = r->cap ? r->cap * 2 : 16;
		struct rec_proc *n = realloc(r->procs, cap * sizeof(*n));

		if (!n) {
			*err = -ENOMEM;
			return NULL;
		}
		r->procs = n;
		r->cap = cap;
	}
	sqlite3_bind_int64(st, 1, t->pid);
	sqlite3_bind_int64(st, 2, t->ns_pid);
	sqlite3_bind_int64(st, 3, (int64_t)t->start_time);
	text_or_null(st, 4, t->comm);
	text_or_null(st, 5, t->cmdline);
	text_or_null(st, 6, t->exe);
	text_or_null(st, 7, t->version);
	sqlite3_bind_text(st, 8, gc_tier__name(t->tier), -1, SQLITE_STATIC);
	text_or_null(st, 9, t->container_id);
	sqlite3_bind_double(st, 10, now);
	text_or_null(st, 11, row->note);
	*err = step_reset(r, st, "adding a process");
	if (*err)
		return NULL;
	p = &r->procs[r->nprocs++];
	memset(p, 0, sizeof(*p));
	p->pid = t->pid;
	p->start_ticks = t->start_time;
	p->id = sqlite3_last_insert_rowid(r->db);
	p->exited = false;
	return p;
}

static void bind_i64_or_null(sqlite3_stmt *st, int i, bool valid, int64_t v)
{
	if (valid)
		sqlite3_bind_int64(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

static int write_sample(struct recorder *r, const struct rec_proc *p, const struct proc_row *row, double now)
{
	sqlite3_stmt *st = r->st[ST_SAMPLE];
	bool v = row->gc_valid && p->events_from_ns; /* from the baseline on (rec_proc) */
	int g, i = 1;

	sqlite3_bind_int64(st, i++, p->id);
	sqlite3_bind_double(st, i++, now);
	sqlite3_bind_int64(st, i++, (int64_t)row->rss);
	sqlite3_bind_int(st, i++, v);
	for (g = 0; g < MODEL_NGEN; g++)
		bind_i64_or_null(st, i++, v, row->collections[g]);
	for (g = 0; g < MODEL_NGEN; g++)
		bind_i64_or_null(st, i++, v, row->collected[g]);
	for (g = 0; g < MODEL_NGEN; g++)
		bind_i64_or_null(st, i++, v, row->uncollectable[g]);
	bind_i64_or_null(st, i++, v && row->garbage >= 0, row->garbage);
	bind_i64_or_null(st, i++, v, row->enabled);
	for (g = 0; g < MODEL_NGEN; g++)
		bind_i64_or_null(st, i++, v, row->thresholds[g]);
	for (g = 0; g < MODEL_NGEN; g++)
		bind_i64_or_null(st, i++, v, row->counts[g]);
	sqlite3_bind_double(st, i++, isfinite(row->gc_time_pct) ? row->gc_time_pct : 0);
	sqlite3_bind_int64(st, i++, (int64_t)(row->gc_ns_total / 1000));
	sqlite3_bind_int(st, i++, row->pauses_estimated);
	for (g = 0; g < MODEL_NGEN; g++)
		sqlite3_bind_int64(st, i++, (int64_t)row->pause[g].count);
	for (g = 0; g < MODEL_NGEN; g++)
		sqlite3_bind_int64(st, i++, (int64_t)row->pause[g].sum_us);
	for (g = 0; g < MODEL_NGEN; g++)
		bind_i64_or_null(st, i++, !row->pauses_estimated, (int64_t)row->pause[g].max_us);
	bind_i64_or_null(st, i++, row->live_objects >= 0, row->live_objects);
	return step_reset(r, st, "writing a sample");
}

static int write_hist(struct recorder *r, const struct rec_proc *p, const struct proc_row *row)
{
	sqlite3_stmt *st = r->st[ST_HIST];
	int g, s, err;

	/* Cumulative since attach, so the newest interval's values replace the older ones: the
	 * file holds one histogram per process whatever the length of the recording. */
	for (g = 0; g < MODEL_NGEN; g++) {
		for (s = 0; s < MODEL_HIST_SLOTS; s++) {
			uint64_t lo, hi;

			if (!row->pause_hist[g][s])
				continue;
			pause_hist__bounds((uint32_t)s, &lo, &hi);
			sqlite3_bind_int64(st, 1, p->id);
			sqlite3_bind_int(st, 2, g);
			sqlite3_bind_int(st, 3, s);
			sqlite3_bind_int64(st, 4, (int64_t)lo);
			bind_i64_or_null(st, 5, hi != UINT64_MAX, (int64_t)hi);
			sqlite3_bind_int64(st, 6, row->pause_hist[g][s]);
			err = step_reset(r, st, "writing a pause histogram");
			if (err)
				return err;
		}
	}
	return 0;
}

static int update_proc(struct recorder *r, const struct rec_proc *p, const struct proc_row *row, double now)
{
	const struct py_target *t = &row->target;
	sqlite3_stmt *st = r->st[ST_PROC_UPDATE];

	sqlite3_bind_int64(st, 1, p->id);
	sqlite3_bind_double(st, 2, now);
	text_or_null(st, 3, t->version);
	sqlite3_bind_text(st, 4, gc_tier__name(t->tier), -1, SQLITE_STATIC);
	text_or_null(st, 5, row->note);
	sqlite3_bind_int(st, 6, row->exited);
	text_or_null(st, 7, t->exe);
	text_or_null(st, 8, t->cmdline);
	text_or_null(st, 9, t->container_id);
	return step_reset(r, st, "updating a process");
}

int recorder__snapshot(struct recorder *r, const struct snapshot *snap)
{
	double now = snap->time > 0 ? snap->time : now_wall();
	uint64_t size;
	int i, err = 0;

	err = begin(r);
	if (err)
		return err;
	for (i = 0; i < snap->nrows && !err; i++) {
		const struct proc_row *row = snap->rows[i];
		struct rec_proc *p = find_proc_exact(r, row->target.pid, row->target.start_time);

		if (!p)
			p = add_proc(r, row, now, &err);
		if (!p)
			break;
		if (row->exited)
			p->exited = true;
		err = update_proc(r, p, row, now);
		if (!p->events_from_ns && row->gc_valid && !row->gc_collecting)
			p->events_from_ns = row->gc_read_ns ? row->gc_read_ns : 1;
		err = err ?: write_sample(r, p, row, now);
		err = err ?: write_hist(r, p, row);
		r->samples++;
	}
	err = err ?: meta_setf(r, "end_time", "%.6f", now);
	err = err ?: meta_setf(r, "dropped_gc_events", "%llu", (unsigned long long)r->dropped_events);
	err = err ?: meta_setf(r, "ringbuf_dropped_events", "%llu", (unsigned long long)snap->dropped_events);
	err = err ?: meta_setf(r, "foreign_gc_events", "%llu", (unsigned long long)r->foreign_events);
	err = err ?: commit(r);
	if (err)
		return err;
	r->wall_minus_mono = now_wall() - now_mono_ns() / 1e9;
	check_events_budget(r);
	size = db_bytes(r);
	err = begin(r);
	if (err)
		return err;
	if (size >= r->max_size) {
		if (!r->quiet)
			pr_warn("trace %s reached --max-size (%llu bytes): recording stops here", r->path,
				(unsigned long long)r->max_size);
		return -ENOSPC;
	}
	return 0;
}

void recorder__gc_event_at(struct recorder *r, const struct gc_probe_event *ev, double wall_time)
{
	sqlite3_stmt *st = r->st[ST_EVENT];
	const struct rec_proc *p = find_proc(r, (pid_t)ev->pid);
	const char *src;

	if (!p) {
		r->foreign_events++;
		return;
	}
	if (!p->events_from_ns || ev->start_ns + ev->duration_ns <= p->events_from_ns)
		return; /* before its baseline sample: counted there (rec_proc) */
	if (r->events_full) {
		r->dropped_events++;
		return;
	}
	/* A storm of events inside one interval must not blow the budget before the next check. */
	if (++r->events_since_check >= 4096) {
		r->events_since_check = 0;
		check_events_budget(r);
		if (r->events_full) {
			r->dropped_events++;
			return;
		}
	}
	if (begin(r))
		return;
	src = ev->source & 1 ? "usdt" : ev->source & 2 ? "uprobe" : ev->source & 4 ? "poll" : NULL;
	sqlite3_bind_int64(st, 1, p->id);
	sqlite3_bind_int64(st, 2, ev->pid);
	sqlite3_bind_int64(st, 3, ev->tid);
	sqlite3_bind_double(st, 4, wall_time);
	sqlite3_bind_int64(st, 5, (int64_t)ev->start_ns);
	sqlite3_bind_int(st, 6, ev->generation);
	sqlite3_bind_double(st, 7, ev->duration_ns / 1000.0);
	bind_i64_or_null(st, 8, ev->collected >= 0, ev->collected);
	bind_i64_or_null(st, 9, ev->uncollectable >= 0, ev->uncollectable);
	text_or_null(st, 10, src);
	if (!step_reset(r, st, "writing a gc event"))
		r->events++;
}

void recorder__gc_event(struct recorder *r, const struct gc_probe_event *ev)
{
	recorder__gc_event_at(r, ev, r->wall_minus_mono + ev->start_ns / 1e9);
}

void recorder__process_exit(struct recorder *r, const struct proc_row *row)
{
	struct rec_proc *p = find_proc_exact(r, row->target.pid, row->target.start_time);
	sqlite3_stmt *st = r->st[ST_PROC_EXIT];

	if (!p || begin(r))
		return;
	p->exited = true;
	sqlite3_bind_int64(st, 1, p->id);
	sqlite3_bind_double(st, 2, now_wall());
	step_reset(r, st, "marking an exited process");
}

uint64_t recorder__dropped_events(const struct recorder *r)
{
	return r ? r->dropped_events : 0;
}

void recorder__counts(const struct recorder *r, uint64_t *samples, uint64_t *events)
{
	*samples = r ? r->samples : 0;
	*events = r ? r->events : 0;
}

static int hook_proc(struct recorder *r, pid_t pid, int64_t *id)
{
	const struct rec_proc *p = find_proc(r, pid);

	if (!p)
		return -ENOENT;
	*id = p->id;
	return begin(r);
}

/* For record_groups.c: the open interval's database and a process's row id (-ENOENT unknown). */
sqlite3 *recorder__db(struct recorder *r)
{
	return r->db;
}

int recorder__proc_id(struct recorder *r, pid_t pid, int64_t *id)
{
	return hook_proc(r, pid, id);
}

/* A row of an auxiliary table (types, containers, suspects, sites): its statement with the
 * process and time bound, or NULL with *err set. */
static sqlite3_stmt *aux_row(struct recorder *r, int which, pid_t pid, double time, int *err)
{
	sqlite3_stmt *st = r->st[which];
	int64_t id;

	*err = hook_proc(r, pid, &id);
	if (*err)
		return NULL;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_double(st, 2, time);
	return st;
}

int recorder__type_row(struct recorder *r, pid_t pid, double time, const char *name, int64_t count, int64_t bytes)
{
	int err;
	sqlite3_stmt *st = aux_row(r, ST_TYPE, pid, time, &err);

	if (!st)
		return err;
	sqlite3_bind_text(st, 3, name ? name : "?", -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, count);
	bind_i64_or_null(st, 5, bytes >= 0, bytes);
	return step_reset(r, st, "writing a type row");
}

int recorder__container_row(struct recorder *r, pid_t pid, double time, const char *name, const char *type_name,
			    int64_t length, int64_t bytes)
{
	int err;
	sqlite3_stmt *st = aux_row(r, ST_CONTAINER, pid, time, &err);

	if (!st)
		return err;
	sqlite3_bind_text(st, 3, name ? name : "?", -1, SQLITE_TRANSIENT);
	text_or_null(st, 4, type_name);
	sqlite3_bind_int64(st, 5, length);
	bind_i64_or_null(st, 6, bytes >= 0, bytes);
	return step_reset(r, st, "writing a container row");
}

int recorder__suspect_row(struct recorder *r, pid_t pid, double time, const char *kind, const char *name,
			  double per_min, double confidence, const char *evidence)
{
	int err;
	sqlite3_stmt *st = aux_row(r, ST_SUSPECT, pid, time, &err);

	if (!st)
		return err;
	sqlite3_bind_text(st, 3, kind ? kind : "?", -1, SQLITE_TRANSIENT);
	text_or_null(st, 4, name);
	sqlite3_bind_double(st, 5, isfinite(per_min) ? per_min : 0);
	sqlite3_bind_double(st, 6, isfinite(confidence) ? confidence : 0);
	text_or_null(st, 7, evidence);
	return step_reset(r, st, "writing a suspect row");
}

int recorder__suspect_chain_row(struct recorder *r, pid_t pid, double time, const char *name, const char *status,
				const char *chain, const char *explained_by, const char *group_why, const char *diagnosis)
{
	int err;
	sqlite3_stmt *st = aux_row(r, ST_SUSPECT_CHAIN, pid, time, &err);

	if (!st)
		return err;
	text_or_null(st, 3, name);
	text_or_null(st, 4, status);
	text_or_null(st, 5, chain && *chain ? chain : NULL);
	text_or_null(st, 6, explained_by && *explained_by ? explained_by : NULL);
	text_or_null(st, 7, group_why && *group_why ? group_why : NULL);
	text_or_null(st, 8, diagnosis && *diagnosis ? diagnosis : NULL);
	return step_reset(r, st, "writing a suspect chain row");
}

int recorder__site_row(struct recorder *r, pid_t pid, double time, const char *stack, int64_t count, int64_t bytes)
{
	int err;
	sqlite3_stmt *st = aux_row(r, ST_SITE, pid, time, &err);

	if (!st)
		return err;
	sqlite3_bind_text(st, 3, stack ? stack : "?", -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, count);
	bind_i64_or_null(st, 5, bytes >= 0, bytes);
	return step_reset(r, st, "writing a site row");
}

int recorder__survivor_row(struct recorder *r, pid_t pid, double time, const char *type, const char *stack,
			   int64_t sampled, int64_t survived, int64_t alive)
{
	int err;
	sqlite3_stmt *st = aux_row(r, ST_SURVIVOR, pid, time, &err);

	if (!st)
		return err;
	text_or_null(st, 3, type);
	sqlite3_bind_text(st, 4, stack ? stack : "?", -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, sampled);
	sqlite3_bind_int64(st, 6, survived);
	sqlite3_bind_int64(st, 7, alive);
	return step_reset(r, st, "writing a survivor row");
}

int recorder__memory_row(struct recorder *r, pid_t pid, const struct memory_row *m)
{
	int err;
	sqlite3_stmt *st = aux_row(r, ST_MEMORY, pid, m->time, &err);

	if (!st)
		return err;
	sqlite3_bind_int64(st, 3, (int64_t)m->rss);
	sqlite3_bind_int64(st, 4, (int64_t)m->arenas);
	sqlite3_bind_int64(st, 5, (int64_t)m->heap);
	sqlite3_bind_int64(st, 6, (int64_t)m->anon);
	sqlite3_bind_int64(st, 7, (int64_t)m->stacks);
	sqlite3_bind_int64(st, 8, (int64_t)m->file);
	sqlite3_bind_int64(st, 9, (int64_t)m->other);
	sqlite3_bind_int64(st, 10, (int64_t)m->shared);
	sqlite3_bind_int64(st, 11, m->tracked_bytes);
	sqlite3_bind_int64(st, 12, m->untracked_bytes);
	sqlite3_bind_int64(st, 13, m->arena_bytes);
	sqlite3_bind_int64(st, 14, m->block_bytes_used);
	sqlite3_bind_int64(st, 15, m->block_bytes_free);
	text_or_null(st, 16, m->arena_source);
	sqlite3_bind_int64(st, 17, (int64_t)m->swap);
	sqlite3_bind_int64(st, 18, m->thread_stacks);
	text_or_null(st, 19, m->arena_why[0] ? m->arena_why : NULL);
	sqlite3_bind_double(st, 20, m->arena_confidence);
	sqlite3_bind_int64(st, 21, m->narenas);
	sqlite3_bind_int64(st, 22, m->blocks_used);
	sqlite3_bind_int64(st, 23, m->blocks_free);
	sqlite3_bind_int64(st, 24, m->unused_pool_bytes);
	sqlite3_bind_int64(st, 25, m->untracked_objects);
	sqlite3_bind_double(st, 26, m->rss_per_min);
	sqlite3_bind_double(st, 27, m->arenas_per_min);
	sqlite3_bind_double(st, 28, m->objects_per_min);
	sqlite3_bind_double(st, 29, m->malloc_per_min);
	sqlite3_bind_double(st, 30, m->stacks_per_min);
	sqlite3_bind_double(st, 31, m->file_per_min);
	return step_reset(r, st, "writing a memory row");
}

int recorder__thread_row(struct recorder *r, pid_t pid, double time, pid_t tid, const char *name)
{
	struct rec_proc *p = find_proc(r, pid);
	sqlite3_stmt *st;
	int err;

	if (!p)
		return -ENOENT;
	if (p->nthreads >= REC_MAX_THREADS)
		return 0;
	st = aux_row(r, ST_THREAD, pid, time, &err);
	if (!st)
		return err;
	sqlite3_bind_int64(st, 3, tid);
	sqlite3_bind_text(st, 4, name ? name : "", -1, SQLITE_TRANSIENT);
	err = step_reset(r, st, "writing a thread row");
	if (!err && sqlite3_changes(r->db) > 0)
		p->nthreads++;
	return err;
}

int recorder__native_rows(struct recorder *r, pid_t pid, double time, const struct native_report *rep)
{
	struct strbuf sb;
	int i, n = 0, err = 0;

	sb_init(&sb);
	for (i = 0; i < rep->nstacks && n < RECORD_NATIVE_MAX_STACKS && !err; i++) {
		const struct native_stack *st = &rep->stacks[i];
		uint64_t weight = native_stack__weight(rep, st);
		sqlite3_stmt *q;

		if (!weight && !st->suspect)
			continue;
		q = aux_row(r, ST_NATIVE, pid, time, &err);
		if (!q)
			break;
		sb_reset(&sb);
		native_stack__collapsed_path(st, NULL, &sb);
		sqlite3_bind_text(q, 3, sb.buf ? sb.buf : "?", -1, SQLITE_TRANSIENT);
		text_or_null(q, 4, st->caller);
		sqlite3_bind_int64(q, 5, (int64_t)st->sampled_blocks);
		sqlite3_bind_int64(q, 6, (int64_t)st->out_blocks);
		sqlite3_bind_int64(q, 7, weight > INT64_MAX ? INT64_MAX : (int64_t)weight);
		sqlite3_bind_double(q, 8, isfinite(st->growth_bytes_per_min) ? st->growth_bytes_per_min : 0);
		sqlite3_bind_double(q, 9, isfinite(st->out_ratio) ? st->out_ratio : 0);
		sqlite3_bind_int(q, 10, st->suspect);
		err = step_reset(r, q, "writing a native row");
		n++;
	}
	sb_free(&sb);
	return err;
}

int recorder__close(struct recorder *r)
{
	int err = 0, i;

	if (!r)
		return 0;
	if (r->db && r->st[ST_META]) {
		err = begin(r);
		err = err ?: meta_setf(r, "dropped_gc_events", "%llu", (unsigned long long)r->dropped_events);
		err = err ?: meta_setf(r, "foreign_gc_events", "%llu", (unsigned long long)r->foreign_events);
		err = err ?: meta_set(r, "complete", "1");
		err = err ?: commit(r);
	} else if (r->db && r->in_txn) {
		exec(r, "ROLLBACK");
	}
	for (i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(r->st[i]);
	if (r->db) {
		/* Fold the WAL back and leave one self-contained file for copying around. */
		if (!err) {
			sqlite3_exec(r->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
			sqlite3_exec(r->db, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL);
		}
		if (sqlite3_close(r->db) != SQLITE_OK && !err)
			err = -EIO;
	}
	if (!r->quiet && r->dropped_events)
		pr_warn("trace %s: %llu gc events were not written (--max-size)", r->path,
			(unsigned long long)r->dropped_events);
	free(r->procs);
	free(r);
	return err;
}
