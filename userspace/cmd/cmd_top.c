/* SPDX-License-Identifier: BSD-2-Clause */
/* `pyleak top`: the live view (ncurses), or batch text / JSON lines with -b. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmds.h"
#include "collect/collect.h"
#include "util/common.h"
#include "trace/replay.h"
#include "trace/trace.h"
#include "views/tui.h"
#include "views/views.h"

static const char top_usage[] =
	"pyleak top: live view of GC and memory for every Python process on the host\n"
	"\n"
	"USAGE\n"
	"    pyleak top [-b] [--json] [-d SECONDS] [-n ITERATIONS] [-p PID[,PID...]] [--container ID]\n"
	"               [--group FAMILY]\n"
	"\n"
	"Per process: collections, collected and uncollectable objects per generation (cumulative since\n"
	"the process started, so they equal gc.get_stats() in the target, and per refresh), pause times\n"
	"per generation (count, sum, max, p50, p99 from histograms kept in the kernel), the share of\n"
	"wall time spent in GC, gc.garbage length, thresholds and counts, RSS and its growth, and the\n"
	"tier that measured it: usdt (the interpreter's gc__start/gc__done probes), uprobe (a probe on\n"
	"the collector function, for builds with .symtab) or poll (stripped builds without probes:\n"
	"counters read from memory, pause times estimated by sampling).\n"
	"\n"
	"OPTIONS\n"
	"    -b, --batch          plain text, one block per refresh (no terminal needed)\n"
	"    -j, --json           with -b: one JSON object per line per refresh (docs/json.md)\n"
	"    -d, --delay SECONDS  refresh interval (default 1; 0.1 to 3600)\n"
	"    -n, --iterations N   quit after N refreshes\n"
	"    -p, --pid PIDS       only these host pids (comma separated); default: all Python processes\n"
	"        --container ID   only the Python processes of this container (id or its prefix)\n"
	"        --group FAMILY   only this process family: its name (gunicorn:4242), its root pid, or a\n"
	"                         kind (gunicorn, uvicorn, uwsgi, celery, multiprocessing, fork)\n"
	"        --no-bpf         no BPF: exact counters read from memory, no pause times\n"
	"        --alloc MODE     allocation rates per type: young (default: sample the young GC list at\n"
	"                         each collection, free), exact (allocator uprobes: exact, costly:\n"
	"                         2-15 us per allocation), off\n"
	"        --alloc-budget PCT  exact probes in short slices, as often as the target's extra CPU\n"
	"                         (measured from its system time) stays under PCT% of its own CPU;\n"
	"                         rates scaled to its unobserved speed and labelled estimated\n"
	"        --sites          sample allocation sites (the default): the Python stack of the thread\n"
	"                         that triggered each young collection, captured in the kernel\n"
	"        --no-sites       do not sample allocation sites\n"
	"        --native         sample native allocations (libc malloc/free uprobes, duty-cycled\n"
	"                         under a 2% budget of each process's own CPU) with their native and\n"
	"                         Python stacks, verified from glibc's chunk headers every 5 s; JSON\n"
	"                         \"native\" per process (docs/json.md). Off by default\n"
	"        --no-native      do not (the default)\n"
	"        --sites survivors  with --format collapsed: the sites of the sampled objects still\n"
	"                         alive (a leaks flame graph, TYPE;frames... ALIVE) instead of all samples\n"
	"        --no-survivors   sample sites but do not follow the sampled objects (survivor\n"
	"                         sampling pairs each sampled stack with the object it allocated and\n"
	"                         lets each census tell which are still alive; on by default)\n"
	"        --format FMT     with -b: text (default), json, or collapsed (the sampled stacks after\n"
	"                         the last refresh, for flamegraph.pl / speedscope / inferno)\n"
	"        --census-budget PCT  share of one core all censuses together may use (default 2;\n"
	"                         0.1 to 50): a family of many workers shares it\n"
	"        --no-census      GC only: no periodic censuses of live objects, no leak verdicts\n"
	"                         (censuses adapt their period to stay under 2% of one core)\n"
	"        --no-untracked   censuses of the GC lists only: no arena scans (untracked objects, the\n"
	"                         RSS breakdown), no containers found from the roots\n"
	"        --chain-interval S  at most one retention-chain search per process every S seconds\n"
	"                         (default 10; within a quarter of the census budget) for the\n"
	"                         confident type suspects\n"
	"        --no-chains      no retention chains of the suspects (nor their grouping by chain)\n"
	"        --no-color       monochrome interactive view\n"
	"        --replay FILE    play a recording (pyleak record) back instead of watching live; needs\n"
	"                         no privilege; with -b it prints every recorded interval at once\n"
	"        --speed X        replay speed: recorded seconds per second (default 1)\n"
	"    -h, --help           this text\n"
	"\n"
	"KEYS (interactive)\n"
	"    arrows PgUp PgDn Home End move, Enter drill in (on a family: fold open/shut; e too),\n"
	"    Esc/Backspace back, F6 or < > sort,\n"
	"    I reverse the sort, / filter, p pause, + - interval, h ? F1 help, q F10 quit;\n"
	"    in a process: Left/Right, Tab or 1-7 switch tabs (GC, Types, Containers, Sites, Suspects,\n"
	"    Native, Memory);\n"
	"    in Sites: v switches between allocations and the survivors of one type, [ ] picks the type\n"
	"\n"
	"EXAMPLES\n"
	"    sudo pyleak top\n"
	"    sudo pyleak top -b -d 5 -n 12 -p 4242\n"
	"    sudo pyleak top -b --json -n 1 | jq '.processes[] | {pid, gc: .gc.collections}'\n"
	"    pyleak top --replay night.db --speed 60\n"
	"    sudo pyleak top -b -p 4242 -d 10 -n 6 --sites --format collapsed | flamegraph.pl > sites.svg\n";

int cmd_top(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "batch", no_argument, NULL, 'b' },	   { "json", no_argument, NULL, 'j' },
		{ "delay", required_argument, NULL, 'd' }, { "iterations", required_argument, NULL, 'n' },
		{ "pid", required_argument, NULL, 'p' },   { "container", required_argument, NULL, 'C' },
		{ "no-bpf", no_argument, NULL, 'B' },	   { "no-color", no_argument, NULL, 'M' },
		{ "no-census", no_argument, NULL, 'N' },   { "alloc", required_argument, NULL, 'A' },
		{ "no-untracked", no_argument, NULL, 'W' },
		{ "alloc-budget", required_argument, NULL, 'G' }, { "replay", required_argument, NULL, 'R' },
		{ "speed", required_argument, NULL, 'S' },   { "sites", optional_argument, NULL, 'T' },
		{ "no-sites", no_argument, NULL, 'U' },     { "format", required_argument, NULL, 'F' },
		{ "group", required_argument, NULL, 'g' },  { "census-budget", required_argument, NULL, 'K' },
		{ "native", no_argument, NULL, 'V' },	    { "no-native", no_argument, NULL, 1002 },
		{ "no-survivors", no_argument, NULL, 1001 }, /* no letter left that reads well */
		{ "no-chains", no_argument, NULL, 1003 },    { "chain-interval", required_argument, NULL, 1004 },
		{ "help", no_argument, NULL, 'h' },	   { NULL, 0, NULL, 0 },
	};
	struct collector_opts co = { .interval_s = 1.0, .strict_pids = true, .alloc = { .mode = ALLOC_MODE_YOUNG },
				     .native_opts = { .budget_pct = NATIVE_BUDGET_DEFAULT } };
	struct collector *c = NULL;
	struct trace *trace = NULL;
	struct replay *replay = NULL;
	struct snapshot_source src;
	const char *replay_path = NULL;
	double speed = 1.0;
	bool collapsed = false, site_survivors = false;
	struct snapshot snap;
	struct strbuf sb;
	pid_t pids[PID_LIST_MAX];
	int npids = 0, ch, err, ret = EXIT_FAIL;
	long iterations = 0, it;
	bool batch = false, json = false, no_color = false;
	struct view_json_cache *jcache = NULL;
	double d;

	sb_init(&sb);
	while ((ch = getopt_long(argc, argv, "bjd:n:p:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'b': batch = true; break;
		case 'j': json = true; break;
		case 'd':
			if (parse_double(optarg, 0.1, 3600, &d)) {
				pr_err("invalid interval '%s': give seconds between 0.1 and 3600", optarg);
				return EXIT_USAGE;
			}
			co.interval_s = d;
			break;
		case 'n':
			if (parse_long(optarg, 1, 1000000000L, &iterations)) {
				pr_err("invalid iteration count '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'p':
			npids = parse_pid_list(optarg, pids, ARRAY_SIZE(pids));
			if (npids < 0) {
				pr_pid_list_error(optarg, npids);
				return EXIT_USAGE;
			}
			break;
		case 'C': co.container = optarg; break;
		case 'g': co.group = optarg; break;
		case 'K':
			if (parse_double(optarg, 0.1, 50, &d)) {
				pr_err("invalid --census-budget '%s': give a percentage of one core between 0.1 and 50", optarg);
				return EXIT_USAGE;
			}
			{
				bool no_untracked = co.analysis.no_untracked; /* --no-untracked may come first */

				analysis__default_opts(&co.analysis);
				co.analysis.no_untracked = no_untracked;
			}
			co.analysis.cpu_budget = d / 100.0;
			break;
		case 1003: co.analysis.no_chains = true; break;
		case 1004:
			if (parse_double(optarg, 0.5, 3600, &d)) {
				pr_err("invalid --chain-interval '%s': give seconds between 0.5 and 3600", optarg);
				return EXIT_USAGE;
			}
			co.analysis.chain_interval_s = d;
			break;
		case 'B': co.no_bpf = true; break;
		case 'N': co.no_analysis = true; break;
		case 'W':
			if (!co.analysis.cpu_budget)
				analysis__default_opts(&co.analysis); /* collect.c fills defaults only when unset */
			co.analysis.no_untracked = true;
			break;
		case 'R': replay_path = optarg; break;
		case 'T':
			co.no_sites = false;
			/* `--sites survivors` / `--sites=survivors`; a bare --sites keeps the old meaning */
			if (!optarg && optind < argc && (!strcmp(argv[optind], "survivors") || !strcmp(argv[optind], "allocations")))
				optarg = argv[optind++];
			if (optarg && !strcmp(optarg, "survivors")) {
				site_survivors = true;
			} else if (optarg && strcmp(optarg, "allocations")) {
				pr_err("invalid --sites '%s': give allocations or survivors", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'U': co.no_sites = true; break;
		case 1001: co.no_survivors = true; break;
		case 'F':
			if (!strcmp(optarg, "collapsed")) {
				collapsed = true;
			} else if (strcmp(optarg, "text") && strcmp(optarg, "json")) {
				pr_err("invalid --format '%s': give text, json or collapsed", optarg);
				return EXIT_USAGE;
			} else if (!strcmp(optarg, "json")) {
				json = true;
			}
			break;
		case 'S':
			if (parse_double(optarg, 0.01, 10000, &speed)) {
				pr_err("invalid --speed '%s': recorded seconds per second, 0.01 to 10000", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'A':
			if (alloc_mode__parse(optarg, &co.alloc.mode)) {
				pr_err("invalid --alloc '%s': give young, exact or off", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'G':
			if (parse_double(optarg, 0.1, 100, &d)) {
				pr_err("invalid --alloc-budget '%s': give a slowdown percentage between 0.1 and 100", optarg);
				return EXIT_USAGE;
			}
			co.alloc.mode = ALLOC_MODE_BUDGET;
			co.alloc.budget_pct = d;
			break;
		case 'V': co.native = true; break;
		case 1002: co.native = false; break;
		case 'M': no_color = true; break;
		case 'h': cmd_usage(stdout, top_usage); return EXIT_OK;
		default: cmd_usage(stderr, top_usage); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		pr_err("unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if ((json || collapsed) && !batch)
		batch = true; /* JSON and collapsed stacks are only ever streams */
	if (site_survivors && co.no_survivors) {
		pr_err("--sites survivors needs survivor sampling (drop --no-survivors)");
		return EXIT_USAGE;
	}
	if (collapsed && co.no_sites) {
		pr_err("--format collapsed needs allocation sites (drop --no-sites)");
		return EXIT_USAGE;
	}
	if (replay_path) {
		/* A recording needs no privilege and touches no process. */
		static const int keep_files[] = PRIV_KEEP_FILES;

		privileges__restrict(keep_files, ARRAY_SIZE(keep_files));
		err = trace__load(replay_path, &trace);
		if (err)
			return EXIT_FAIL; /* trace__load said why */
		err = replay__new(trace, speed, &replay);
		if (err) {
			pr_err("cannot replay '%s': %s", replay_path, err == -ENODATA ? "it recorded no process" : strerror(-err));
			goto cleanup;
		}
		replay__source(&src, replay);
		if (co.interval_s == 1.0)
			co.interval_s = trace->meta.interval_s > 0 ? trace->meta.interval_s / speed : 1.0;
	} else {
		if (privileges__check(!co.no_bpf))
			return EXIT_FAIL;
		co.pids = pids;
		co.npids = npids;
		err = collector__new(&co, &c);
		if (err)
			return EXIT_FAIL;
		{
			static const int keep[] = PRIV_KEEP_LIVE;

			privileges__restrict(keep, ARRAY_SIZE(keep)); /* docs/security.md */
		}
		source__from_collector(&src, c);
	}
	if (!batch && !isatty(STDOUT_FILENO))
		batch = true;
	if (!batch) {
		struct tui_opts to = { .interval_s = co.interval_s, .iterations = iterations, .no_color = no_color,
				       .replay = replay != NULL };

		ret = tui__run(&src, &to) ? EXIT_FAIL : EXIT_OK;
		goto cleanup;
	}
	if (json)
		jcache = view_json_cache__new(); /* NULL (out of memory): every line rendered whole */
	for (it = 0; !exiting; it++) {
		char missing[1024];

		src.next_snapshot(src.ctx, &snap);
		if (it == 0 && c && npids && collector__missing(c, missing, sizeof(missing))) {
			pr_err("%s", missing);
			if (!snap.nrows)
				goto cleanup;
		}
		sb_reset(&sb);
		if (collapsed) {
			/* Counts are cumulative: only the last refresh is printed, as collapsed stacks. */
			bool last = (iterations && it + 1 >= iterations) || src.done(src.ctx) || exiting;
			int k;

			for (k = 0; last && k < snap.nrows; k++) {
				char root[64];

				snprintf(root, sizeof(root), "%s (%d)", snap.rows[k]->target.comm, snap.rows[k]->target.pid);
				if (snap.rows[k]->sites_valid && site_survivors && snap.rows[k]->surv)
					survivors__format_collapsed(snap.rows[k]->surv, &snap.rows[k]->sites,
								    snap.nrows > 1 ? root : NULL, &sb);
				else if (snap.rows[k]->sites_valid && !site_survivors)
					sites__format_collapsed(&snap.rows[k]->sites, snap.nrows > 1 ? root : NULL, &sb);
			}
			if (!last) {
				if (!replay)
					src.wait(src.ctx, (long)(co.interval_s * 1000));
				continue;
			}
		} else if (json)
			view_json__snapshot_cached(&sb, &snap, jcache);
		else
			view_text__snapshot(&sb, &snap);
		if (fputs(sb.buf ? sb.buf : "", stdout) == EOF || fflush(stdout)) {
			/* EPIPE (`pyleak top -b | head`): the reader is gone, which is a normal way to stop. */
			ret = errno == EPIPE ? EXIT_OK : EXIT_FAIL;
			goto cleanup;
		}
		if ((iterations && it + 1 >= iterations) || src.done(src.ctx))
			break;
		/* A batch replay runs as fast as it can print; live refreshes wait for the interval. */
		if (!replay)
			src.wait(src.ctx, (long)(co.interval_s * 1000));
	}
	ret = EXIT_OK;
cleanup:
	collector__free(c);
	replay__free(replay);
	trace__free(trace);
	view_json_cache__free(jcache);
	sb_free(&sb);
	return ret;
}
