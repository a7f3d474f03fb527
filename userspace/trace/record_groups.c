/* SPDX-License-Identifier: BSD-2-Clause */
/* The trace writer, process families: who belongs to which family, its figures and verdicts. */
#include "trace/record.h"
#include "trace/record_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "model/groups.h"
#include "util/common.h"

const char recorder__groups_schema[] =
	"CREATE TABLE groups(id INTEGER PRIMARY KEY, name TEXT NOT NULL, kind TEXT, root_pid INTEGER,"
	" command TEXT, first_seen REAL, last_seen REAL, verdict_hash INTEGER);"
	"CREATE TABLE group_members(grp INTEGER NOT NULL, proc INTEGER NOT NULL, role TEXT, ppid INTEGER,"
	" PRIMARY KEY(grp, proc)) WITHOUT ROWID;"
	"CREATE TABLE group_samples(grp INTEGER NOT NULL, time REAL NOT NULL, workers INTEGER, recycled INTEGER,"
	" rss INTEGER, rss_max INTEGER, gc_per_s0 REAL, gc_per_s1 REAL, gc_per_s2 REAL,"
	" pause_count INTEGER, pause_p99_us INTEGER, pause_max_us INTEGER, median_life_s REAL,"
	" median_rss_growth REAL);"
	"CREATE INDEX group_samples_grp_time ON group_samples(grp, time);"
	"CREATE TABLE group_verdicts(grp INTEGER NOT NULL, time REAL NOT NULL, kind TEXT, name TEXT,"
	" recycled INTEGER, workers_with INTEGER, workers INTEGER, per_min_each REAL, per_life REAL,"
	" life_s REAL, text TEXT, evidence TEXT);";

static int run(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
	if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK) {
		pr_err("cannot write process families to the trace: %s", sqlite3_errmsg(db));
		return -EIO;
	}
	return 0;
}

static int done(sqlite3 *db, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_finalize(st);
	if (rc == SQLITE_DONE || rc == SQLITE_ROW)
		return 0;
	pr_err("cannot write process families to the trace: %s", sqlite3_errmsg(db));
	return rc == SQLITE_FULL ? -ENOSPC : -EIO;
}

static uint64_t verdict_hash(const struct group_row *g)
{
	uint64_t h = FNV1A_INIT;

	for (int i = 0; i < g->nverdicts; i++)
		h = fnv1a_str(h, g->verdicts[i].text);
	return (h ^ (uint64_t)g->nverdicts) & INT64_MAX;
}

static int write_group(struct recorder *r, const struct snapshot *snap, const struct group_row *g)
{
	sqlite3 *db = recorder__db(r);
	sqlite3_stmt *st;
	uint64_t p99 = 0, max = 0, count = 0, h;
	int64_t id, old_hash = -1;
	int i, err;

	err = run(db, "INSERT INTO groups(id, name, kind, root_pid, command, first_seen, last_seen) VALUES(?,?,?,?,?,?,?)"
		      " ON CONFLICT(id) DO UPDATE SET last_seen = excluded.last_seen, kind = excluded.kind, name = excluded.name",
		  &st);
	if (err)
		return err;
	sqlite3_bind_int(st, 1, g->id);
	sqlite3_bind_text(st, 2, g->name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, group_kind__name(g->kind), -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, g->root_pid);
	sqlite3_bind_text(st, 5, g->command, -1, SQLITE_TRANSIENT);
	sqlite3_bind_double(st, 6, g->first_seen);
	sqlite3_bind_double(st, 7, snap->time);
	err = done(db, st);
	for (i = 0; i < snap->nrows && !err; i++) {
		const struct proc_row *row = snap->rows[i];

		if (row->group_id != g->id || recorder__proc_id(r, row->target.pid, &id))
			continue;
		err = run(db, "INSERT OR IGNORE INTO group_members(grp, proc, role, ppid) VALUES(?,?,?,?)", &st);
		if (err)
			break;
		sqlite3_bind_int(st, 1, g->id);
		sqlite3_bind_int64(st, 2, id);
		sqlite3_bind_text(st, 3, group_role__name((enum group_role)row->group_role), -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 4, row->ppid);
		err = done(db, st);
	}
	if (err)
		return err;
	for (i = 0; i < MODEL_NGEN; i++) {
		p99 = MAX(p99, g->pause[i].p99_us);
		max = MAX(max, g->pause[i].max_us);
		count += g->pause[i].count;
	}
	err = run(db, "INSERT INTO group_samples VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)", &st);
	if (err)
		return err;
	sqlite3_bind_int(st, 1, g->id);
	sqlite3_bind_double(st, 2, snap->time);
	sqlite3_bind_int(st, 3, g->workers);
	sqlite3_bind_int(st, 4, g->recycled);
	sqlite3_bind_int64(st, 5, (int64_t)g->rss_total);
	sqlite3_bind_int64(st, 6, (int64_t)g->rss_max);
	for (i = 0; i < MODEL_NGEN; i++)
		sqlite3_bind_double(st, 7 + i, g->gc_per_s[i]);
	sqlite3_bind_int64(st, 10, (int64_t)count);
	sqlite3_bind_int64(st, 11, (int64_t)p99);
	sqlite3_bind_int64(st, 12, (int64_t)max);
	sqlite3_bind_double(st, 13, g->median_life_s);
	sqlite3_bind_double(st, 14, g->median_rss_growth);
	err = done(db, st);
	if (err)
		return err;

	/* Verdicts when the set changes, like the processes' suspects. */
	h = verdict_hash(g);
	err = run(db, "SELECT verdict_hash FROM groups WHERE id = ?", &st);
	if (err)
		return err;
	sqlite3_bind_int(st, 1, g->id);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		old_hash = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (old_hash == (int64_t)h)
		return 0;
	for (i = 0; i < g->nverdicts && !err; i++) {
		const struct group_verdict *v = &g->verdicts[i];

		err = run(db, "INSERT INTO group_verdicts VALUES(?,?,?,?,?,?,?,?,?,?,?,?)", &st);
		if (err)
			break;
		sqlite3_bind_int(st, 1, g->id);
		sqlite3_bind_double(st, 2, snap->time);
		sqlite3_bind_text(st, 3, suspect_kind__name(v->kind), -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, v->name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(st, 5, v->recycled);
		sqlite3_bind_int(st, 6, v->workers_with);
		sqlite3_bind_int(st, 7, v->workers);
		sqlite3_bind_double(st, 8, v->per_min_each);
		sqlite3_bind_double(st, 9, v->per_life);
		sqlite3_bind_double(st, 10, v->life_s);
		sqlite3_bind_text(st, 11, v->text, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 12, v->evidence, -1, SQLITE_TRANSIENT);
		err = done(db, st);
	}
	if (err)
		return err;
	err = run(db, "UPDATE groups SET verdict_hash = ? WHERE id = ?", &st);
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, (int64_t)h);
	sqlite3_bind_int(st, 2, g->id);
	return done(db, st);
}

int recorder__groups(struct recorder *r, const struct snapshot *snap)
{
	int64_t id;
	int i, err = 0;

	if (!r || !snap->ngroups)
		return 0;
	/* the interval's transaction: opened by recorder__snapshot, or by the first member's lookup */
	for (i = 0; i < snap->nrows; i++)
		if (!recorder__proc_id(r, snap->rows[i]->target.pid, &id))
			break;
	if (i == snap->nrows)
		return 0; /* none of the members is in the trace yet */
	for (i = 0; i < snap->ngroups && !err; i++)
		err = write_group(r, snap, &snap->groups[i]);
	return err;
}
