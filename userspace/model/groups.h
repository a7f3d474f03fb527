/* SPDX-License-Identifier: BSD-2-Clause */
/* Process families: which processes form one service, the family's figures, history and verdicts. */
#ifndef PYLEAK_GROUPS_H
#define PYLEAK_GROUPS_H

/*
 * A family is a Python process (the root: a gunicorn/uvicorn/uwsgi/celery master, a script that
 * made a multiprocessing pool) and its descendants that run the same interpreter and the same
 * program: forks (same command line) or multiprocessing children (`-c from multiprocessing.spawn
 * import ...`, the forkserver, the resource tracker).  A child that execs another program is its
 * own process, not a worker.  Everything here is pure: the collector feeds rows, views read the
 * group rows; tests/unit/test_groups.c drives it with hand-built tuples.
 *
 * Lives in model/ (not analysis/) so that a recorded trace can be grouped the same way.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "model/model.h"

#define GROUP_NAME_MAX MODEL_GROUP_NAME_MAX
#define GROUPS_MAX 128		 /* families tracked at once; the processes of more are left ungrouped */
#define GROUP_RETIRED_MAX 32	 /* retired workers remembered per family, newest kept */
#define GROUP_MAX_VERDICTS 8
#define GROUP_GROWTH_TYPES 6	 /* per retired worker: the types that grew most over its life */
#define GROUP_EVIDENCE_WORKERS 8 /* workers named in a verdict's evidence */

enum group_kind {
	GROUP_KIND_FORK = 0,	    /* a Python parent and forks of it running the same program */
	GROUP_KIND_MULTIPROCESSING, /* children started by multiprocessing's spawn or forkserver */
	GROUP_KIND_GUNICORN,
	GROUP_KIND_UVICORN,
	GROUP_KIND_UWSGI,
	GROUP_KIND_CELERY,
	GROUP_KIND__COUNT
};
const char *group_kind__name(enum group_kind k);

enum group_role {
	GROUP_ROLE_NONE = 0, /* not in a family */
	GROUP_ROLE_MASTER,   /* the family's root */
	GROUP_ROLE_WORKER,
	GROUP_ROLE_HELPER, /* multiprocessing's resource tracker and forkserver: members, not workers */
};
const char *group_role__name(enum group_role r);

/* ---- The pure grouping: one tuple per process ---- */

struct group_input {
	pid_t pid, ppid;
	uint64_t start_time; /* clock ticks after boot: children start after their parent */
	const char *exe;     /* the interpreter (or uwsgi) binary */
	const char *cmdline; /* NULs as spaces */
};

/*
 * For each process, the index of its family's root in `in` (-1: in no family) and its role.
 * A root is only a root if it has at least one worker or helper.  O(n * depth), depth capped.
 * Returns the number of families.
 */
int groups__assign(const struct group_input *in, int n, int *root, enum group_role *role);
/* What a root's command line runs: gunicorn, uvicorn ... ; `mp` says whether any member was
 * started by multiprocessing (else: fork). */
enum group_kind groups__kind(const char *exe, const char *root_cmdline, bool mp);
/* Is this a multiprocessing child command line (spawn_main), and is it a helper? */
bool groups__is_mp_child(const char *cmdline, bool *helper);

/* ---- A family's view, rebuilt every refresh ---- */

/* One worker that exited while its family lived on (recycled, crashed or scaled down). */
struct group_retired {
	pid_t pid;
	double first_seen, last_seen; /* as pyleak saw it: its life within the watch */
	uint64_t rss_first, rss_last;
	int ngrowth;
	struct {
		char name[MODEL_NAME_MAX];
		int64_t first, last; /* live objects at its first and last census */
	} growth[GROUP_GROWTH_TYPES];
};

struct group_verdict {
	enum suspect_kind kind;
	char name[MODEL_NAME_MAX];
	bool recycled;	     /* seen across worker lives (history), not inside one worker */
	int workers_with;    /* "4/4 workers": live workers with this suspect ... */
	int workers;	     /* ... out of (recycled: retired workers looked at) */
	double per_min_each; /* median rate per worker; recycled: median growth per minute of life */
	double per_life;     /* recycled: median growth over one worker's life (objects or bytes) */
	double life_s;	     /* recycled: median observed life of a worker */
	double confidence;
	char text[256];	     /* "4/4 workers: app.Session +300/min each" */
	char evidence[512];  /* each worker's share: "pid 12 +310/min, pid 13 +290/min, ..." */
};

struct group_row {
	int id; /* stable while the family lives; never reused within one pyleak run */
	char name[GROUP_NAME_MAX]; /* "gunicorn:4242" (kind:root pid): the selector and Prometheus label */
	enum group_kind kind;
	pid_t root_pid;
	uint64_t root_start;
	bool root_exited;
	char command[512]; /* the root's command line, for the header row */
	double first_seen;

	int members;  /* rows of the snapshot in this family (root and helpers included) */
	int workers;  /* live workers now */
	int recycled; /* workers that exited since pyleak first saw the family */
	int max_workers;

	/* Figures over live members */
	double gc_per_s[MODEL_NGEN];	    /* summed */
	double gc_per_s_worker[MODEL_NGEN]; /* mean per worker */
	double gc_time_pct_max;
	int64_t collections[MODEL_NGEN];    /* summed cumulative counters of live members */
	uint64_t rss_total, rss_max;
	double rss_per_min; /* summed */
	int64_t live_objects; /* summed, -1 if no member was censused */
	bool alloc_valid;
	double alloc_per_s, alloc_bytes_per_s; /* summed over members with rates */
	/* Pauses over all members, retired ones included: the histograms summed */
	struct pause_summary pause[MODEL_NGEN];
	uint64_t pause_hist[MODEL_NGEN][MODEL_HIST_SLOTS];

	int nverdicts;
	struct group_verdict verdicts[GROUP_MAX_VERDICTS]; /* by workers affected, then rate */

	/* Worker generations: the newest retired workers (oldest first) */
	int nretired;
	struct group_retired retired[GROUP_RETIRED_MAX];
	double median_life_s;	      /* of the retired ones, 0 if none */
	double median_rss_growth;     /* bytes each retired worker grew over its observed life */
};

struct groups;

/* The families' state across refreshes (history of retired workers, stable ids). */
struct groups *groups__new(void);
void groups__free(struct groups *gs);
/*
 * Group snap->rows (which need ppid, start_time, exe, cmdline filled), set each row's group_id
 * and group_role, recompute every family's figures and verdicts, and point snap->groups at them
 * (owned by gs until the next update).  Exited rows are retired into their family's history.
 */
void groups__update(struct groups *gs, struct snapshot *snap);
/* The family with this id in snap, or NULL. */
const struct group_row *snapshot__group(const struct snapshot *snap, int id);
/* Does a family match a --group selector: its name ("gunicorn:4242"), root pid, or kind? */
bool group_row__matches(const struct group_row *g, const char *selector);
/* Keep only the rows of families matching selector (the rows array is rearranged in place). */
void groups__select(struct snapshot *snap, const char *selector);

#endif /* PYLEAK_GROUPS_H */
