/* SPDX-License-Identifier: BSD-2-Clause */
/* `pyleak serve`: refresh the model every interval and export it for Prometheus to scrape. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmds.h"
#include "collect/collect.h"
#include "util/common.h"
#include "views/serve.h"

static const char serve_usage[] =
	"pyleak serve: Prometheus metrics for every Python process on the host\n"
	"\n"
	"USAGE\n"
	"    pyleak serve [--listen HOST:PORT] [--interval SECONDS] [--top-types N] [--allow-remote]\n"
	"                 [-p PID[,PID...]] [--container ID] [--no-bpf]\n"
	"\n"
	"Serves the Prometheus text exposition format (0.0.4) at http://HOST:PORT/metrics: per process\n"
	"(labels pid, comm, python, gc_source, container_id) the GC counters since the process started\n"
	"(equal to gc.get_stats()), a pause-time histogram per generation, time in GC, gc.garbage length,\n"
	"thresholds and RSS; and the exporter's own figures. The collector refreshes every interval;\n"
	"scrapes are answered from the last refresh by a separate thread, so scrapes never slow it.\n"
	"Metric reference: docs/prometheus.md.\n"
	"\n"
	"OPTIONS\n"
	"    -l, --listen ADDR     address to listen on: HOST:PORT, [IPV6]:PORT, HOST (port 9464);\n"
	"                          default 127.0.0.1:9464; port 0 picks a free port\n"
	"        --allow-remote    allow a non-loopback --listen address (the metrics name your\n"
	"                          processes and command names: keep them on a trusted network)\n"
	"    -d, --interval SECONDS  refresh interval (default 5; 0.1 to 3600)\n"
	"        --top-types N     at most N types per process in per-type families (default 10, 0-1000)\n"
	"    -p, --pid PIDS        only these host pids (comma separated); default: all Python processes\n"
	"        --container ID    only the Python processes of this container (id or its prefix)\n"
	"        --no-bpf          no BPF: exact counters read from memory, no pause times\n"
	"    -h, --help            this text\n"
	"\n"
	"EXAMPLES\n"
	"    sudo pyleak serve\n"
	"    curl -s 127.0.0.1:9464/metrics | grep pyleak_gc_collections_total\n"
	"    sudo pyleak serve --listen 0.0.0.0:9464 --allow-remote --interval 15\n";

enum { OPT_ALLOW_REMOTE = 256, OPT_TOP_TYPES, OPT_CONTAINER, OPT_NO_BPF };

int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "allow-remote", no_argument, NULL, OPT_ALLOW_REMOTE },
		{ "interval", required_argument, NULL, 'd' },
		{ "top-types", required_argument, NULL, OPT_TOP_TYPES },
		{ "pid", required_argument, NULL, 'p' },
		{ "container", required_argument, NULL, OPT_CONTAINER },
		{ "no-bpf", no_argument, NULL, OPT_NO_BPF },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct collector_opts co = { .interval_s = 5.0, .strict_pids = true };
	struct serve_render_opts ro = { .top_types = SERVE_DEFAULT_TOP_TYPES };
	struct serve_stats st = { 0 };
	struct serve_server *srv = NULL;
	struct collector *c = NULL;
	struct serve_addr addr;
	struct snapshot snap;
	struct strbuf back;
	const char *listen_s = "127.0.0.1:9464";
	bool allow_remote = false;
	pid_t pids[PID_LIST_MAX];
	int npids = 0, ch, ret = EXIT_FAIL;
	uint64_t t0;
	double d;
	long n;

	sb_init(&back);
	while ((ch = getopt_long(argc, argv, "l:d:p:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'l': listen_s = optarg; break;
		case OPT_ALLOW_REMOTE: allow_remote = true; break;
		case 'd':
			if (parse_double(optarg, 0.1, 3600, &d)) {
				pr_err("invalid interval '%s': give seconds between 0.1 and 3600", optarg);
				return EXIT_USAGE;
			}
			co.interval_s = d;
			break;
		case OPT_TOP_TYPES:
			if (parse_long(optarg, 0, 1000, &n)) {
				pr_err("invalid --top-types '%s': give a number from 0 to 1000", optarg);
				return EXIT_USAGE;
			}
			ro.top_types = (int)n;
			break;
		case 'p':
			npids = parse_pid_list(optarg, pids, ARRAY_SIZE(pids));
			if (npids < 0) {
				pr_pid_list_error(optarg, npids);
				return EXIT_USAGE;
			}
			break;
		case OPT_CONTAINER: co.container = optarg; break;
		case OPT_NO_BPF: co.no_bpf = true; break;
		case 'h': cmd_usage(stdout, serve_usage); return EXIT_OK;
		default: cmd_usage(stderr, serve_usage); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		pr_err("unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (serve_addr__parse(listen_s, &addr)) {
		pr_err("invalid --listen address '%s': give HOST:PORT or [IPV6]:PORT with a numeric host, "
		       "e.g. 127.0.0.1:9464",
		       listen_s);
		return EXIT_USAGE;
	}
	/* The metrics name every Python process and its command: not for the whole network by default. */
	if (!addr.loopback && !allow_remote) {
		pr_err("refusing to listen on non-loopback address %s: the metrics describe every Python "
		       "process on this host; add --allow-remote to serve them beyond localhost",
		       addr.text);
		return EXIT_USAGE;
	}
	if (privileges__check(!co.no_bpf))
		return EXIT_FAIL;
	if (serve_server__open(&addr, &srv))
		return EXIT_FAIL;
	co.pids = pids;
	co.npids = npids;
	if (collector__new(&co, &c))
		goto cleanup;
	{
		/* Bound and loaded: from here on only watching is needed (docs/security.md). */
		static const int keep[] = PRIV_KEEP_LIVE;

		privileges__restrict(keep, ARRAY_SIZE(keep));
	}

	while (!exiting) {
		char missing[1024];
		double elapsed;

		t0 = now_mono_ns();
		collector__refresh(c, &snap);
		st.refresh_seconds = (double)(now_mono_ns() - t0) / 1e9;
		st.refreshes++;
		st.last_refresh_time = snap.time;
		if (st.refreshes == 1 && npids && collector__missing(c, missing, sizeof(missing))) {
			pr_err("%s", missing);
			if (!snap.nrows)
				goto cleanup;
		}
		sb_reset(&back);
		serve__render(&back, &snap, &st, &ro);
		if (back.oom)
			pr_warn("out of memory rendering the metrics: serving the previous ones");
		else
			serve_server__publish(srv, &back);
		if (st.refreshes == 1) {
			if (serve_server__start(srv))
				goto cleanup;
			if (verbosity >= 1)
				fprintf(stderr, "pyleak: serving http://%s%s%s:%d/metrics every %gs\n",
					addr.ss.ss_family == AF_INET6 ? "[" : "", addr.host,
					addr.ss.ss_family == AF_INET6 ? "]" : "", serve_server__port(srv), co.interval_s);
		}
		/* Keep the cadence at the interval: the refresh itself counts against it. */
		elapsed = (double)(now_mono_ns() - t0) / 1e9;
		if (elapsed < co.interval_s)
			collector__wait(c, (long)((co.interval_s - elapsed) * 1000));
	}
	ret = EXIT_OK;
cleanup:
	/* Server first (no scrape sees a half-freed model), then the collector detaches its probes. */
	serve_server__free(srv);
	collector__free(c);
	sb_free(&back);
	return ret;
}
