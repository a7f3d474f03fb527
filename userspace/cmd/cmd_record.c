/* SPDX-License-Identifier: BSD-2-Clause */
/* `pyleak record`: run the collector and write every interval and GC event into a trace file. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmds.h"
#include "collect/collect.h"
#include "util/common.h"
#include "util/escape.h"
#include "target/proc.h"
#include "trace/record.h"

static const char record_usage[] =
	"pyleak record: record GC events and per-process samples into an SQLite trace file\n"
	"\n"
	"USAGE\n"
	"    pyleak record [-p PID[,PID...]]... [--all] -o FILE [--duration D] [--interval S]\n"
	"                  [--max-size SIZE] [--force] [--container ID] [--group FAMILY] [--no-bpf]\n"
	"                  [--native]\n"
	"\n"
	"Every interval, one sample per process (RSS, cumulative collections/collected/uncollectable per\n"
	"generation = gc.get_stats(), gc.garbage length, thresholds, counts, GC time, pause histograms);\n"
	"between samples, every individual collection (generation, pause, collected, uncollectable) seen\n"
	"by the usdt/uprobe tiers. One SQLite transaction per interval in WAL mode: if pyleak or the\n"
	"machine dies, the file is consistent and loses at most the last interval. The schema is in\n"
	"docs/trace-schema.md; read the file with 'pyleak report' or any SQLite client.\n"
	"\n"
	"OPTIONS\n"
	"    -o, --output FILE     the trace to create (mode 0600); an existing file is an error\n"
	"        --force           replace FILE if it exists\n"
	"    -p, --pid PIDS        only these host pids (comma separated, repeatable)\n"
	"    -a, --all             every Python process on the host, as they come and go (default)\n"
	"        --container ID    every Python process of this container (id or its prefix)\n"
	"        --group FAMILY    every process of this family as workers come and go: its name\n"
	"                          (gunicorn:4242), root pid or kind (gunicorn, multiprocessing...)\n"
	"    -d, --duration D      stop after D (90, 90s, 15m, 8h); default: until Ctrl-C\n"
	"    -i, --interval S      seconds between samples (default 1; 0.1 to 3600)\n"
	"        --max-size SIZE   bound on the file (default 256M): at 90% gc events stop being written\n"
	"                          (counted as dropped), at 100% the recording ends\n"
	"        --no-bpf          no BPF: exact counters read from memory, no pauses or events\n"
	"        --native          also sample native allocations as 'top --native' does (libc uprobes\n"
	"                          under a 2% budget, verified by heap walks every 5 s): the native\n"
	"                          stacks with outstanding bytes at each walk, and 'native' suspects\n"
	"    -h, --help            this text\n"
	"\n"
	"EXAMPLES\n"
	"    sudo pyleak record --all -o night.db --duration 8h\n"
	"    sudo pyleak record -p 4242 -o svc.db -i 5 --max-size 1G\n"
	"    sudo pyleak record -p 4242 -o native.db --native --duration 10m\n"
	"    pyleak report night.db --format html -o night.html\n";

/* Per process: the census and the suspect set last written, so each is written once. */
#define RECORD_MAX_SEEN 1024
struct census_seen {
	pid_t pid;
	double census_time;
	double memory_time;
	double native_time; /* the native verification walk last written */
	uint64_t suspects_hash;
};

struct record_ctx {
	struct recorder *rec;
	struct census_seen seen[RECORD_MAX_SEEN];
	int nseen;
};

static void on_gc_event(const struct gc_probe_event *ev, void *ctx)
{
	recorder__gc_event(((struct record_ctx *)ctx)->rec, ev);
}

/* A stack as the trace keeps it: frames outermost first, each quoted (util/escape.h
 * esc_stack_frame: a ';' in a name stays in its frame), joined with ';'. */
static void put_stack(struct strbuf *sb, const struct site_stack *st)
{
	char frame[400];
	int f;

	if (st->truncated)
		sb_puts(sb, "[truncated]");
	for (f = st->nframes - 1; f >= 0; f--) {
		site_frame__format(&st->frames[f], frame, sizeof(frame));
		if (sb->len)
			sb_putc(sb, ';');
		esc_stack_frame(sb, frame);
	}
}

/*
 * Allocation sites of one process into the trace. Counts are cumulative since attach, so each
 * process's stacks are written once: when it exits, or at the end of the recording.
 */
static void record_sites(struct record_ctx *ctx, const struct proc_row *row, double time)
{
	struct strbuf sb;
	int i;

	if (!row->sites_valid)
		return;
	sb_init(&sb);
	for (i = 0; i < row->sites.nstacks; i++) {
		const struct site_stack *st = &row->sites.stacks[i];

		sb_reset(&sb);
		put_stack(&sb, st);
		if (sb.buf && recorder__site_row(ctx->rec, row->target.pid, time, sb.buf, (int64_t)st->count, -1))
			break;
	}
	sb_free(&sb);
}

/* Survivor samples per (type, stack), written with the sites (their counts are cumulative too). */
static void record_survivors(struct record_ctx *ctx, const struct proc_row *row, double time)
{
	const struct survivors *sv = row->surv;
	struct strbuf sb;
	int i;

	if (!sv)
		return;
	sb_init(&sb);
	for (i = 0; i < sv->naggs; i++) {
		const struct surv_agg *g = &sv->aggs[i];
		const struct site_stack *st = sites_report__find(&row->sites, g->stack_id);

		sb_reset(&sb);
		if (!st) {
			sb_printf(&sb, "[stack %016llx]", (unsigned long long)g->stack_id);
		} else {
			put_stack(&sb, st);
		}
		if (sb.buf && recorder__survivor_row(ctx->rec, row->target.pid, time, g->type_name[0] ? g->type_name : NULL,
						     sb.buf, (int64_t)g->sampled, (int64_t)g->survived, (int64_t)g->alive))
			break;
	}
	sb_free(&sb);
}

static void on_exit_row(const struct proc_row *row, void *ctx)
{
	record_sites(ctx, row, now_wall());
	record_survivors(ctx, row, now_wall());
	recorder__process_exit(((struct record_ctx *)ctx)->rec, row);
}

/* Events are consumed only while the collector waits; take what the ring buffer still holds
 * (after Ctrl-C `exiting` is set and collector__wait would return at once). */
static void drain_events(struct collector *c)
{
	sig_atomic_t was = exiting;

	exiting = 0;
	collector__wait(c, 1);
	exiting = exiting || was;
}

static void command_line(struct strbuf *sb, int argc, char **argv)
{
	int i;

	sb_puts(sb, "pyleak");
	for (i = 0; i < argc; i++) {
		sb_putc(sb, ' ');
		if (strpbrk(argv[i], " \t'\"\\$") || !*argv[i])
			sb_json_str(sb, argv[i]);
		else
			sb_puts(sb, argv[i]);
	}
}

static struct census_seen *seen_for(struct record_ctx *ctx, pid_t pid)
{
	int i, victim = 0;

	for (i = 0; i < ctx->nseen; i++)
		if (ctx->seen[i].pid == pid)
			return &ctx->seen[i];
	if (ctx->nseen < RECORD_MAX_SEEN) {
		victim = ctx->nseen++;
	} else {
		for (i = 1; i < ctx->nseen; i++) /* pids come and go: reuse the oldest census */
			if (ctx->seen[i].census_time < ctx->seen[victim].census_time)
				victim = i;
	}
	memset(&ctx->seen[victim], 0, sizeof(ctx->seen[victim]));
	ctx->seen[victim].pid = pid;
	return &ctx->seen[victim];
}

/* FNV-1a over the suspects' kinds and names: a changed verdict set is written again. */
static uint64_t suspects_hash(const struct proc_row *row)
{
	uint64_t h = FNV1A_INIT;
	int i;

	for (i = 0; i < row->nsuspects; i++)
		h = fnv1a_str((h ^ (uint64_t)row->suspects[i].kind) * FNV1A_PRIME, row->suspects[i].name);
	return h ^ (uint64_t)row->nsuspects;
}

/* Threads looked at per process and interval: the recorder keeps 256 names per process anyway. */
#define RECORD_THREADS_MAX 64

/* The threads' names (their comm, bytes the target chose) into the trace; unchanged ones the
 * recorder ignores. A process or thread gone meanwhile is no error. */
static void record_threads(struct record_ctx *ctx, const struct snapshot *snap)
{
	pid_t tids[RECORD_THREADS_MAX];
	char name[32];
	int i, k, n;

	for (i = 0; i < snap->nrows; i++) {
		const struct proc_row *row = snap->rows[i];

		if (row->exited)
			continue;
		n = proc__tasks(row->target.pid, tids, RECORD_THREADS_MAX);
		for (k = 0; k < n; k++)
			if (!proc__task_comm(row->target.pid, tids[k], name, sizeof(name)) &&
			    recorder__thread_row(ctx->rec, row->target.pid, snap->time, tids[k], name) == -ENOSPC)
				return;
	}
}

/*
 * Census results into the trace: the types, containers and suspects of every census (once per
 * census, not per interval: the census period is seconds to a minute), and the suspects again
 * whenever the set changes between censuses (gc.garbage and RSS verdicts move every refresh).
 * Written into the interval that recorder__snapshot() just opened, committed with the next one.
 */
static int record_census(struct record_ctx *ctx, const struct snapshot *snap)
{
	int i, k, err = 0;

	for (i = 0; i < snap->nrows && !err; i++) {
		const struct proc_row *row = snap->rows[i];
		struct census_seen *cs;
		bool census, suspects;
		uint64_t h;

		if (row->exited)
			continue;
		cs = seen_for(ctx, row->target.pid);
		census = row->census_time > 0 && row->census_time != cs->census_time;
		h = suspects_hash(row);
		suspects = census || h != cs->suspects_hash;
		for (k = 0; census && k < row->ntypes && !err; k++)
			err = recorder__type_row(ctx->rec, row->target.pid, row->census_time, row->types[k].name,
						 row->types[k].count, row->types[k].bytes);
		for (k = 0; census && k < row->ncontainers && !err; k++)
			err = recorder__container_row(ctx->rec, row->target.pid, row->census_time, row->containers[k].name,
						      row->containers[k].type, row->containers[k].len, -1);
		for (k = 0; suspects && k < row->nsuspects && !err; k++) {
			err = recorder__suspect_row(ctx->rec, row->target.pid, snap->time,
						    suspect_kind__name(row->suspects[k].kind), row->suspects[k].name,
						    row->suspects[k].per_min, row->suspects[k].confidence,
						    row->suspects[k].evidence);
			if (!err && (row->suspects[k].chain_status != SUSPECT_CHAIN_NONE || row->suspects[k].explained_by[0] ||
				     row->suspects[k].diagnosis[0]))
				err = recorder__suspect_chain_row(ctx->rec, row->target.pid, snap->time, row->suspects[k].name,
								  suspect_chain__name(row->suspects[k].chain_status),
								  row->suspects[k].chain, row->suspects[k].explained_by,
								  row->suspects[k].group_why, row->suspects[k].diagnosis);
		}
		if (!err && row->memory.valid && row->memory.time != cs->memory_time) {
			err = recorder__memory_row(ctx->rec, row->target.pid, &row->memory);
			if (!err)
				cs->memory_time = row->memory.time;
		}
		if (!err && row->native_valid && row->native_walk_time != cs->native_time) {
			err = recorder__native_rows(ctx->rec, row->target.pid, snap->time, &row->native);
			if (!err)
				cs->native_time = row->native_walk_time;
		}
		if (!err) {
			if (census)
				cs->census_time = row->census_time;
			cs->suspects_hash = h;
		}
	}
	/* A pid the recorder has not registered yet (it raced with the snapshot) is not an error. */
	return err == -ENOENT ? 0 : err;
}

int cmd_record(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },   { "force", no_argument, NULL, 'F' },
		{ "pid", required_argument, NULL, 'p' },      { "all", no_argument, NULL, 'a' },
		{ "container", required_argument, NULL, 'C' }, { "duration", required_argument, NULL, 'd' },
		{ "interval", required_argument, NULL, 'i' }, { "max-size", required_argument, NULL, 'S' },
		{ "no-bpf", no_argument, NULL, 'B' },	      { "help", no_argument, NULL, 'h' },
		{ "group", required_argument, NULL, 'g' },    { "native", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct collector_opts co = { .interval_s = 1.0, .strict_pids = true,
				     .native_opts = { .budget_pct = NATIVE_BUDGET_DEFAULT } };
	struct recorder_opts ro = { 0 };
	struct record_ctx ctx = { 0 };
	struct collector *c = NULL;
	struct snapshot snap;
	struct strbuf cmd;
	pid_t pids[PID_LIST_MAX];
	int npids = 0, n, ch, err, ret = EXIT_FAIL;
	bool all = false, recorded_any = false;
	double duration = 0, start, next;
	uint64_t nsamples, nevents;

	sb_init(&cmd);
	command_line(&cmd, argc, argv);
	while ((ch = getopt_long(argc, argv, "o:p:ad:i:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'o': ro.path = optarg; break;
		case 'F': ro.force = true; break;
		case 'p':
			n = parse_pid_list(optarg, pids + npids, (int)ARRAY_SIZE(pids) - npids);
			if (n < 0) {
				pr_pid_list_error(optarg, n);
				goto usage;
			}
			npids += n;
			break;
		case 'a': all = true; break;
		case 'C': co.container = optarg; break;
		case 'g': co.group = optarg; break;
		case 'd':
			if (parse_duration(optarg, &duration) || duration <= 0) {
				pr_err("invalid duration '%s': give e.g. 90, 15m or 8h", optarg);
				goto usage;
			}
			break;
		case 'i':
			if (parse_double(optarg, 0.1, 3600, &co.interval_s)) {
				pr_err("invalid interval '%s': give seconds between 0.1 and 3600", optarg);
				goto usage;
			}
			break;
		case 'S':
			if (parse_size(optarg, &ro.max_size) || ro.max_size < (1u << 20)) {
				pr_err("invalid --max-size '%s': give a size of at least 1M (e.g. 256M, 2G)", optarg);
				goto usage;
			}
			break;
		case 'B': co.no_bpf = true; break;
		case 'V': co.native = true; break;
		case 'h': cmd_usage(stdout, record_usage); ret = EXIT_OK; goto cleanup;
		default: goto usage;
		}
	}
	if (optind < argc) {
		pr_err("unexpected argument '%s'", argv[optind]);
		goto usage;
	}
	if (!ro.path) {
		pr_err("record needs an output file: -o FILE");
		goto usage;
	}
	if (all && (npids || co.container || co.group)) {
		pr_err("--all cannot be combined with -p, --container or --group");
		goto usage;
	}
	if (privileges__check(!co.no_bpf))
		goto cleanup;

	ro.command_line = cmd.buf;
	ro.interval_s = co.interval_s;
	err = recorder__open(&ro, &ctx.rec);
	if (err)
		goto cleanup;
	co.pids = pids;
	co.npids = npids;
	co.on_gc_event = on_gc_event;
	co.on_exit = on_exit_row;
	co.ctx = &ctx;
	err = collector__new(&co, &c);
	if (err)
		goto cleanup;
	{
		/* The trace file is open; from here on only watching is needed (docs/security.md). */
		static const int keep[] = PRIV_KEEP_LIVE;

		privileges__restrict(keep, ARRAY_SIZE(keep));
	}

	start = now_wall();
	next = start;
	for (n = 0; !exiting; n++) {
		collector__refresh(c, &snap);
		if (n == 0 && npids) {
			char missing[1024];

			if (collector__missing(c, missing, sizeof(missing)))
				pr_err("%s", missing);
			if (!snap.nrows) {
				pr_err("none of the given pids can be recorded");
				goto cleanup;
			}
		}
		if (n == 0)
			fprintf(stderr, "pyleak: recording %d process%s into %s every %gs%s\n", snap.nrows,
				snap.nrows == 1 ? "" : "es", ro.path, co.interval_s,
				duration > 0 ? "" : " (Ctrl-C to stop)");
		err = recorder__snapshot(ctx.rec, &snap);
		if (err == -ENOSPC)
			break;
		err = err ?: record_census(&ctx, &snap);
		err = err ?: recorder__groups(ctx.rec, &snap);
		if (err)
			goto cleanup;
		record_threads(&ctx, &snap);
		recorded_any = true;
		if (duration > 0 && now_wall() - start >= duration - 1e-3)
			break;
		next += co.interval_s;
		if (duration > 0 && next > start + duration)
			next = start + duration;
		if (next < now_wall())
			next = now_wall(); /* a slow refresh: do not try to catch up in a burst */
		collector__wait(c, (long)ceil((next - now_wall()) * 1000));
	}
	/* The last interval: events still in the ring buffer, then a final sample at the end time. */
	if (recorded_any && err != -ENOSPC) {
		drain_events(c);
		collector__refresh(c, &snap);
		err = recorder__snapshot(ctx.rec, &snap);
		if (err && err != -ENOSPC)
			goto cleanup;
		if (!err && (record_census(&ctx, &snap) || recorder__groups(ctx.rec, &snap)))
			goto cleanup;
		for (int k = 0; !err && k < snap.nrows; k++)
			if (!snap.rows[k]->exited) {
				record_sites(&ctx, snap.rows[k], snap.time);
				record_survivors(&ctx, snap.rows[k], snap.time);
			}
		drain_events(c);
	}
	ret = EXIT_OK;
cleanup:
	recorder__counts(ctx.rec, &nsamples, &nevents);
	if (ctx.rec) {
		uint64_t dropped = recorder__dropped_events(ctx.rec);

		if (recorder__close(ctx.rec))
			ret = EXIT_FAIL;
		else if (ret == EXIT_OK)
			fprintf(stderr, "pyleak: wrote %llu samples and %llu gc events to %s%s\n",
				(unsigned long long)nsamples, (unsigned long long)nevents, ro.path,
				dropped ? " (some gc events dropped: --max-size)" : "");
	}
	collector__free(c);
	sb_free(&cmd);
	return ret;
usage:
	cmd_usage(stderr, record_usage);
	sb_free(&cmd);
	return EXIT_USAGE;
}
