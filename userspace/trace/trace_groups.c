/* SPDX-License-Identifier: BSD-2-Clause */
/* The trace reader, process families: the groups tables into trace->groups (bounded, untrusted). */
#include "trace/trace.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "util/common.h"

static void col_str(sqlite3_stmt *st, int i, char *buf, size_t sz)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	copy_str(buf, sz, s ? (const char *)s : "");
}

static int proc_of(const struct trace *t, int64_t id)
{
	for (int i = 0; i < t->nprocs; i++)
		if (t->procs[i].id == id)
			return i;
	return -1;
}

static struct trace_group *group_of(struct trace *t, int64_t id)
{
	for (int i = 0; i < t->ngroups; i++)
		if (t->groups[i].id == id)
			return &t->groups[i];
	return NULL;
}

static bool has_table(sqlite3 *db, const char *name)
{
	sqlite3_stmt *st;
	bool yes;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", -1, &st, NULL) !=
	    SQLITE_OK)
		return false;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	yes = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return yes;
}

/* Grow *arr (of elem bytes) to hold n+1; 0 or -ENOMEM. */
static int grow(void **arr, int n, size_t elem)
{
	void *p;

	if (n && (n < 8 || (n & (n - 1)))) /* capacities: 8, then powers of two */
		return 0;
	p = realloc(*arr, (size_t)(n ? n * 2 : 8) * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	return 0;
}

static int load(sqlite3 *db, struct trace *t)
{
	sqlite3_stmt *st = NULL;
	int rc, err = 0, rows = 0;

	if (sqlite3_prepare_v2(db, "SELECT id, name, kind, root_pid, command, first_seen, last_seen FROM groups ORDER BY id",
			       -1, &st, NULL) != SQLITE_OK)
		return -EINVAL;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && t->ngroups < TRACE_MAX_GROUPS) {
		struct trace_group *g;

		if ((err = grow((void **)&t->groups, t->ngroups, sizeof(*t->groups))))
			break;
		g = &t->groups[t->ngroups++];
		memset(g, 0, sizeof(*g));
		g->id = sqlite3_column_int64(st, 0);
		col_str(st, 1, g->name, sizeof(g->name));
		col_str(st, 2, g->kind, sizeof(g->kind));
		g->root_pid = sqlite3_column_int(st, 3);
		col_str(st, 4, g->command, sizeof(g->command));
		g->first_seen = sqlite3_column_double(st, 5);
		g->last_seen = sqlite3_column_double(st, 6);
	}
	sqlite3_finalize(st);
	if (err)
		return err;

	if (sqlite3_prepare_v2(db, "SELECT grp, proc, role, ppid FROM group_members ORDER BY grp, proc", -1, &st, NULL) !=
	    SQLITE_OK)
		return -EINVAL;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && rows++ < TRACE_MAX_GROUP_ROWS) {
		struct trace_group *g = group_of(t, sqlite3_column_int64(st, 0));
		int pi = proc_of(t, sqlite3_column_int64(st, 1));

		if (!g || pi < 0)
			continue;
		if ((err = grow((void **)&g->members, g->nmembers, sizeof(*g->members))) ||
		    (err = grow((void **)&g->roles, g->nmembers, sizeof(*g->roles))) ||
		    (err = grow((void **)&g->ppids, g->nmembers, sizeof(*g->ppids))))
			break;
		g->ppids[g->nmembers] = sqlite3_column_int(st, 3);
		g->members[g->nmembers] = pi;
		col_str(st, 2, g->roles[g->nmembers], sizeof(g->roles[0]));
		g->nmembers++;
	}
	sqlite3_finalize(st);
	if (err)
		return err;

	rows = 0;
	if (sqlite3_prepare_v2(db, "SELECT * FROM group_samples ORDER BY grp, time", -1, &st, NULL) != SQLITE_OK)
		return -EINVAL;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && rows++ < TRACE_MAX_GROUP_ROWS) {
		struct trace_group *g = group_of(t, sqlite3_column_int64(st, 0));
		struct trace_group_sample *s;

		if (!g)
			continue;
		if ((err = grow((void **)&g->samples, g->nsamples, sizeof(*g->samples))))
			break;
		s = &g->samples[g->nsamples++];
		s->time = sqlite3_column_double(st, 1);
		s->workers = sqlite3_column_int(st, 2);
		s->recycled = sqlite3_column_int(st, 3);
		s->rss = (uint64_t)sqlite3_column_int64(st, 4);
		s->rss_max = (uint64_t)sqlite3_column_int64(st, 5);
		for (int k = 0; k < TRACE_NGEN; k++)
			s->gc_per_s[k] = sqlite3_column_double(st, 6 + k);
		s->pause_count = (uint64_t)sqlite3_column_int64(st, 9);
		s->pause_p99_us = sqlite3_column_int64(st, 10);
		s->pause_max_us = sqlite3_column_int64(st, 11);
		s->median_life_s = sqlite3_column_double(st, 12);
		s->median_rss_growth = sqlite3_column_double(st, 13);
	}
	sqlite3_finalize(st);
	if (err)
		return err;

	rows = 0;
	if (sqlite3_prepare_v2(db, "SELECT * FROM group_verdicts ORDER BY grp, time", -1, &st, NULL) != SQLITE_OK)
		return -EINVAL;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && rows++ < TRACE_MAX_GROUP_ROWS) {
		struct trace_group *g = group_of(t, sqlite3_column_int64(st, 0));
		struct trace_group_verdict *v;

		if (!g)
			continue;
		if ((err = grow((void **)&g->verdicts, g->nverdicts, sizeof(*g->verdicts))))
			break;
		v = &g->verdicts[g->nverdicts++];
		v->time = sqlite3_column_double(st, 1);
		col_str(st, 2, v->kind, sizeof(v->kind));
		col_str(st, 3, v->name, sizeof(v->name));
		v->recycled = sqlite3_column_int(st, 4) != 0;
		v->workers_with = sqlite3_column_int(st, 5);
		v->workers = sqlite3_column_int(st, 6);
		v->per_min_each = sqlite3_column_double(st, 7);
		v->per_life = sqlite3_column_double(st, 8);
		v->life_s = sqlite3_column_double(st, 9);
		col_str(st, 10, v->text, sizeof(v->text));
		col_str(st, 11, v->evidence, sizeof(v->evidence));
	}
	sqlite3_finalize(st);
	return err;
}

int trace__load_groups(struct sqlite3 *db, struct trace *t)
{
	int err;

	if (!has_table(db, "groups") || !has_table(db, "group_members") || !has_table(db, "group_samples") ||
	    !has_table(db, "group_verdicts"))
		return 0; /* a trace from before process families */
	err = load(db, t);
	if (err == -EINVAL) {
		pr_err("%s: damaged process family tables (%s): families left out", t->path, sqlite3_errmsg(db));
		trace__free_groups(t);
		return 0;
	}
	return err;
}

void trace__free_groups(struct trace *t)
{
	for (int i = 0; i < t->ngroups; i++) {
		free(t->groups[i].members);
		free(t->groups[i].roles);
		free(t->groups[i].ppids);
		free(t->groups[i].samples);
		free(t->groups[i].verdicts);
	}
	free(t->groups);
	t->groups = NULL;
	t->ngroups = 0;
}
