/* SPDX-License-Identifier: BSD-2-Clause */
/* Process families: grouping from (pid, ppid, exe, cmdline, start) tuples, figures, verdicts, recycling. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/groups.h"

#define PY "/usr/bin/python3.11"
#define SPAWN "/usr/bin/python3.11 -c from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=5, pipe_handle=7) --multiprocessing-fork"
#define TRACKER "/usr/bin/python3.11 -c from multiprocessing.resource_tracker import main;main(4)"
#define FORKSERVER "/usr/bin/python3.11 -c from multiprocessing.forkserver import main; main(7, 8, ['__main__'], **{})"

static void test_gunicorn_forks(void **state)
{
	const struct group_input in[] = {
		{ 100, 1, 10, PY, PY " /usr/bin/gunicorn -w 2 app:app" },
		{ 101, 100, 11, PY, PY " /usr/bin/gunicorn -w 2 app:app" },
		{ 102, 100, 11, PY, PY " /usr/bin/gunicorn -w 2 app:app" },
		{ 200, 1, 10, PY, PY " other.py" }, /* unrelated */
	};
	int root[4];
	enum group_role role[4];

	(void)state;
	assert_int_equal(groups__assign(in, 4, root, role), 1);
	assert_int_equal(root[0], 0);
	assert_int_equal(root[1], 0);
	assert_int_equal(root[2], 0);
	assert_int_equal(root[3], -1);
	assert_int_equal(role[0], GROUP_ROLE_MASTER);
	assert_int_equal(role[1], GROUP_ROLE_WORKER);
	assert_int_equal(role[3], GROUP_ROLE_NONE);
	assert_int_equal(groups__kind(PY, in[0].cmdline, false), GROUP_KIND_GUNICORN);
	/* setproctitle's titles differ between master and worker but name the same server */
	assert_int_equal(groups__kind(PY, "gunicorn: master [app:app]", false), GROUP_KIND_GUNICORN);
	assert_int_equal(groups__kind(PY, PY " -m uvicorn --workers 2 app:app", false), GROUP_KIND_UVICORN);
	assert_int_equal(groups__kind("/usr/bin/uwsgi-core", "uwsgi --ini x.ini", false), GROUP_KIND_UWSGI);
	assert_int_equal(groups__kind(PY, PY " /usr/bin/celery -A proj worker", false), GROUP_KIND_CELERY);
	assert_int_equal(groups__kind(PY, PY " pool.py", true), GROUP_KIND_MULTIPROCESSING);
	assert_int_equal(groups__kind(PY, PY " pool.py", false), GROUP_KIND_FORK);
	/* "gunicornish.py" is not gunicorn */
	assert_int_equal(groups__kind(PY, PY " gunicornish.py", false), GROUP_KIND_FORK);
}

static void test_retitled_workers(void **state)
{
	const struct group_input in[] = {
		{ 100, 1, 10, PY, "gunicorn: master [app:app]" },
		{ 101, 100, 11, PY, "gunicorn: worker [app:app]" },
	};
	int root[2];
	enum group_role role[2];

	(void)state;
	assert_int_equal(groups__assign(in, 2, root, role), 1);
	assert_int_equal(root[1], 0);
}

static void test_multiprocessing_spawn_and_helpers(void **state)
{
	const struct group_input in[] = {
		{ 300, 50, 10, PY, PY " pool.py" },
		{ 301, 300, 11, PY, TRACKER },
		{ 302, 300, 11, PY, SPAWN },
		{ 303, 300, 11, PY, SPAWN },
		{ 304, 300, 11, PY, FORKSERVER },
		{ 305, 304, 12, PY, FORKSERVER }, /* a fork of the forkserver: a worker */
		{ 50, 1, 5, PY, PY " -m pytest" }, /* the parent runs another program */
	};
	int root[7];
	enum group_role role[7];
	bool helper;

	(void)state;
	assert_true(groups__is_mp_child(SPAWN, &helper));
	assert_false(helper);
	assert_true(groups__is_mp_child(TRACKER, &helper));
	assert_true(helper);
	assert_false(groups__is_mp_child(PY " -c print(1)", &helper));
	assert_int_equal(groups__assign(in, 7, root, role), 1);
	for (int i = 0; i < 6; i++)
		assert_int_equal(root[i], 0);
	assert_int_equal(root[6], -1);
	assert_int_equal(role[1], GROUP_ROLE_HELPER);
	assert_int_equal(role[2], GROUP_ROLE_WORKER);
	assert_int_equal(role[4], GROUP_ROLE_HELPER);
	assert_int_equal(role[5], GROUP_ROLE_WORKER);
}

static void test_unrelated_not_grouped(void **state)
{
	const struct group_input in[] = {
		/* same program, siblings of a shell: not a family (no Python parent) */
		{ 400, 10, 10, PY, PY " job.py" },
		{ 401, 10, 10, PY, PY " job.py" },
		/* a child that runs another program, or another interpreter */
		{ 500, 1, 10, PY, PY " main.py" },
		{ 501, 500, 11, PY, PY " helper.py" },
		{ 502, 500, 11, "/usr/bin/python3.12", PY " main.py" },
		/* a pid reused after the parent died: started before its "parent" */
		{ 600, 1, 50, PY, PY " a.py" },
		{ 601, 600, 40, PY, PY " a.py" },
	};
	int root[7];
	enum group_role role[7];

	(void)state;
	assert_int_equal(groups__assign(in, 7, root, role), 0);
	for (int i = 0; i < 7; i++) {
		assert_int_equal(root[i], -1);
		assert_int_equal(role[i], GROUP_ROLE_NONE);
	}
}

static void test_deep_chain_bounded(void **state)
{
	struct group_input in[100];
	int root[100];
	enum group_role role[100];

	(void)state;
	for (int i = 0; i < 100; i++)
		in[i] = (struct group_input){ 1000 + i, i ? 1000 + i - 1 : 1, (uint64_t)i, PY, PY " forky.py" };
	assert_true(groups__assign(in, 100, root, role) >= 1);
	assert_int_equal(root[5], 0);
	assert_int_equal(role[0], GROUP_ROLE_MASTER);
}

/* ---- the stateful part: rows as the collector hands them over ---- */

struct fam {
	struct snapshot snap;
	struct proc_row *rows[64];
	struct proc_row *all[64]; /* every row made (groups__select drops some from rows) */
	int nall;
	struct groups *gs;
};

static struct proc_row *row_new(struct fam *f, pid_t pid, pid_t ppid, const char *cmd, uint64_t rss)
{
	struct proc_row *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	r->target.pid = pid;
	r->ppid = ppid;
	r->target.start_time = (uint64_t)pid;
	snprintf(r->target.exe, sizeof(r->target.exe), "%s", PY);
	snprintf(r->target.cmdline, sizeof(r->target.cmdline), "%s", cmd);
	r->gc_valid = true;
	r->rss = rss;
	r->live_objects = -1;
	r->first_seen = f->snap.time;
	f->rows[f->snap.nrows++] = r;
	f->all[f->nall++] = r;
	return r;
}

static void drop_row(struct fam *f, struct proc_row *r)
{
	for (int i = 0; i < f->snap.nrows; i++)
		if (f->rows[i] == r) {
			f->rows[i] = f->rows[--f->snap.nrows];
			for (int k = 0; k < f->nall; k++)
				if (f->all[k] == r)
					f->all[k] = f->all[--f->nall];
			free(r);
			return;
		}
}

static void add_suspect(struct proc_row *r, const char *name, double per_min)
{
	struct suspect *s = &r->suspects[r->nsuspects++];

	s->kind = SUSPECT_TYPE;
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->per_min = per_min;
	s->confidence = 0.99;
}

static void set_types(struct proc_row *r, double t, const char *name, int64_t count)
{
	r->census_time = t;
	r->ntypes = 2;
	snprintf(r->types[0].name, sizeof(r->types[0].name), "dict");
	r->types[0].count = 5000;
	snprintf(r->types[1].name, sizeof(r->types[1].name), "%s", name);
	r->types[1].count = count;
}

static int fam_setup(void **state)
{
	struct fam *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->snap.time = 1000;
	f->snap.rows = f->rows;
	f->gs = groups__new();
	assert_non_null(f->gs);
	*state = f;
	return 0;
}

static int fam_teardown(void **state)
{
	struct fam *f = *state;

	for (int i = 0; i < f->nall; i++)
		free(f->all[i]);
	groups__free(f->gs);
	free(f);
	return 0;
}

#define GUNI PY " /usr/bin/gunicorn -w 4 app:app"

static void test_family_figures_and_verdict(void **state)
{
	struct fam *f = *state;
	struct proc_row *w[4];
	const struct group_row *g;

	row_new(f, 100, 1, GUNI, 30 << 20);
	for (int i = 0; i < 4; i++) {
		w[i] = row_new(f, 101 + i, 100, GUNI, (uint64_t)(40 + i) << 20);
		w[i]->gc_per_s[0] = 2.0;
		w[i]->pause[0].count = 10;
		w[i]->pause[0].sum_us = 1000;
		w[i]->pause[0].max_us = 200 + i;
		w[i]->pause_hist[0][5] = 10;
		add_suspect(w[i], "app.Session", 280 + 10 * i);
	}
	row_new(f, 200, 1, PY " unrelated.py", 10 << 20);
	groups__update(f->gs, &f->snap);

	assert_int_equal(f->snap.ngroups, 1);
	g = &f->snap.groups[0];
	assert_string_equal(g->name, "gunicorn:100");
	assert_int_equal(g->kind, GROUP_KIND_GUNICORN);
	assert_int_equal(g->members, 5);
	assert_int_equal(g->workers, 4);
	assert_int_equal(g->recycled, 0);
	assert_int_equal(g->rss_total, (uint64_t)(30 + 40 + 41 + 42 + 43) << 20);
	assert_int_equal(g->rss_max, (uint64_t)43 << 20);
	assert_true(g->gc_per_s[0] > 7.99 && g->gc_per_s[0] < 8.01);
	assert_true(g->gc_per_s_worker[0] > 1.99 && g->gc_per_s_worker[0] < 2.01);
	assert_int_equal(g->pause[0].count, 40);
	assert_int_equal(g->pause[0].max_us, 203);
	assert_int_equal(g->pause[0].sum_us, 4000);
	assert_int_equal(g->nverdicts, 1);
	assert_string_equal(g->verdicts[0].name, "app.Session");
	assert_int_equal(g->verdicts[0].workers_with, 4);
	assert_string_equal(g->verdicts[0].text, "4/4 workers: app.Session +295/min each");
	assert_non_null(strstr(g->verdicts[0].evidence, "pid 101 +280/min"));
	assert_non_null(strstr(g->verdicts[0].evidence, "pid 104 +310/min"));
	assert_int_equal(f->rows[5]->group_id, 0);
	assert_int_equal(w[2]->group_id, g->id);
	assert_int_equal(w[2]->group_role, GROUP_ROLE_WORKER);

	/* selection by name, root pid and kind; others dropped */
	assert_true(group_row__matches(g, "gunicorn:100"));
	assert_true(group_row__matches(g, "100"));
	assert_true(group_row__matches(g, "gunicorn"));
	assert_false(group_row__matches(g, "uwsgi"));
	groups__select(&f->snap, "gunicorn");
	assert_int_equal(f->snap.nrows, 5);
	assert_int_equal(f->snap.ngroups, 1);
}

static void test_one_worker_suspect_is_no_family_verdict(void **state)
{
	struct fam *f = *state;
	struct proc_row *w[4];

	row_new(f, 100, 1, GUNI, 30 << 20);
	for (int i = 0; i < 4; i++)
		w[i] = row_new(f, 101 + i, 100, GUNI, 40 << 20);
	add_suspect(w[0], "app.Session", 300);
	groups__update(f->gs, &f->snap);
	assert_int_equal(f->snap.ngroups, 1);
	assert_int_equal(f->snap.groups[0].nverdicts, 0);
}

/* Workers that each live 30 s, grow 300 objects and 2 MB, and are replaced: one verdict. */
static void test_recycled_leak(void **state)
{
	struct fam *f = *state;
	struct proc_row *w;
	const struct group_row *g;
	pid_t next = 101;
	int gen;

	row_new(f, 100, 1, GUNI, 30 << 20);
	for (gen = 0; gen < 4; gen++) {
		double born = f->snap.time;

		w = row_new(f, next++, 100, GUNI, 40 << 20);
		w->first_seen = born;
		for (int s = 0; s <= 30; s += 5) {
			f->snap.time = born + s;
			w->last_update = f->snap.time;
			set_types(w, f->snap.time, "app.Session", 10 + 10 * s);
			w->rss = (uint64_t)(40 << 20) + (uint64_t)s * 70000;
			groups__update(f->gs, &f->snap);
			/* a worker life looks fine on its own: no per-process suspect */
			assert_int_equal(f->snap.groups[0].workers, 1);
		}
		w->exited = true;
		f->snap.time += 1;
		groups__update(f->gs, &f->snap);
		drop_row(f, w);
		f->snap.time += 1;
	}
	groups__update(f->gs, &f->snap);
	g = &f->snap.groups[0];
	assert_int_equal(g->recycled, 4);
	assert_int_equal(g->nretired, 4);
	assert_int_equal(g->workers, 0);
	assert_true(g->median_life_s >= 29 && g->median_life_s <= 31);
	assert_true(g->nverdicts >= 2);
	{
		const struct group_verdict *rss = NULL, *type = NULL;

		for (int i = 0; i < g->nverdicts; i++) {
			if (g->verdicts[i].kind == SUSPECT_RSS)
				rss = &g->verdicts[i];
			if (g->verdicts[i].kind == SUSPECT_TYPE)
				type = &g->verdicts[i];
		}
		assert_non_null(rss);
		assert_non_null(type);
		assert_true(rss->recycled);
		
		assert_non_null(strstr(rss->text, "each worker grows 2.0 MB over its 30-second life: a leak hidden by recycling"));
		assert_string_equal(type->name, "app.Session");
		assert_true(type->per_life > 299 && type->per_life < 301);
		assert_int_equal(type->workers_with, 4);
		assert_non_null(strstr(type->text, "hidden by recycling"));
		assert_non_null(strstr(type->evidence, "pid 101 +300 in 30 s"));
	}
}

/* Members that vanish without an exit row (no longer Python, filtered out) are forgotten after
 * a while, so a long-lived family keeps tracking the workers it starts later: 3000 such members,
 * then one that lives and exits is retired with its growth. */
static void test_vanished_members_forgotten(void **state)
{
	struct fam *f = *state;
	struct proc_row *w;
	const struct group_row *g;
	pid_t next = 101;

	row_new(f, 100, 1, GUNI, 30 << 20);
	for (int i = 0; i < 3000; i++) {
		w = row_new(f, next++, 100, GUNI, 40 << 20);
		groups__update(f->gs, &f->snap);
		drop_row(f, w); /* gone, no exited row */
		f->snap.time += 1;
	}
	w = row_new(f, next++, 100, GUNI, 40 << 20);
	w->first_seen = f->snap.time;
	for (int s = 0; s <= 30; s += 5) {
		w->last_update = f->snap.time;
		set_types(w, f->snap.time, "app.Session", 10 + 10 * s);
		groups__update(f->gs, &f->snap);
		f->snap.time += 5;
	}
	w->exited = true;
	groups__update(f->gs, &f->snap);
	g = &f->snap.groups[0];
	assert_int_equal(g->nretired, 1);
	assert_true(g->retired[0].last_seen - g->retired[0].first_seen >= 30);
	assert_int_equal(g->retired[0].pid, next - 1);
}

/* Recycled workers that do not grow: nothing. */
static void test_recycled_flat_is_quiet(void **state)
{
	struct fam *f = *state;
	struct proc_row *w;
	pid_t next = 101;

	row_new(f, 100, 1, GUNI, 30 << 20);
	for (int gen = 0; gen < 4; gen++) {
		double born = f->snap.time;

		w = row_new(f, next++, 100, GUNI, 40 << 20);
		for (int s = 0; s <= 30; s += 5) {
			f->snap.time = born + s;
			w->last_update = f->snap.time;
			set_types(w, f->snap.time, "app.Session", 10 + (s % 10));
			groups__update(f->gs, &f->snap);
		}
		w->exited = true;
		f->snap.time += 1;
		groups__update(f->gs, &f->snap);
		drop_row(f, w);
	}
	groups__update(f->gs, &f->snap);
	assert_int_equal(f->snap.groups[0].recycled, 4);
	assert_int_equal(f->snap.groups[0].nverdicts, 0);
}

/* Ids are stable across refreshes; a family whose root exited ends. */
static void test_ids_stable_family_ends(void **state)
{
	struct fam *f = *state;
	struct proc_row *m;
	int id;

	m = row_new(f, 100, 1, GUNI, 1);
	row_new(f, 101, 100, GUNI, 1);
	groups__update(f->gs, &f->snap);
	id = f->snap.groups[0].id;
	f->snap.time += 1;
	groups__update(f->gs, &f->snap);
	assert_int_equal(f->snap.groups[0].id, id);
	drop_row(f, m);
	f->snap.time += 1;
	groups__update(f->gs, &f->snap);
	assert_int_equal(f->snap.ngroups, 0);
	assert_int_equal(f->rows[0]->group_id, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gunicorn_forks),
		cmocka_unit_test(test_retitled_workers),
		cmocka_unit_test(test_multiprocessing_spawn_and_helpers),
		cmocka_unit_test(test_unrelated_not_grouped),
		cmocka_unit_test(test_deep_chain_bounded),
		cmocka_unit_test_setup_teardown(test_family_figures_and_verdict, fam_setup, fam_teardown),
		cmocka_unit_test_setup_teardown(test_one_worker_suspect_is_no_family_verdict, fam_setup, fam_teardown),
		cmocka_unit_test_setup_teardown(test_recycled_leak, fam_setup, fam_teardown),
		cmocka_unit_test_setup_teardown(test_vanished_members_forgotten, fam_setup, fam_teardown),
		cmocka_unit_test_setup_teardown(test_recycled_flat_is_quiet, fam_setup, fam_teardown),
		cmocka_unit_test_setup_teardown(test_ids_stable_family_ends, fam_setup, fam_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
