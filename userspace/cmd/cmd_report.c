/* SPDX-License-Identifier: BSD-2-Clause */
/* `pyleak report`: read a trace file (read-only, validated) and render it in one of six formats. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/cmds.h"
#include "util/common.h"
#include "trace/report.h"
#include "trace/trace.h"

static const char report_usage[] =
	"pyleak report: summarise a trace file written by 'pyleak record'\n"
	"\n"
	"USAGE\n"
	"    pyleak report FILE [--format text|json|html|csv|chrome|collapsed] [-o OUT]\n"
	"\n"
	"FORMATS\n"
	"    text       processes, GC totals, pause percentiles, GC time share, RSS trend, growing types\n"
	"               and containers, leak suspects, allocation sites (the default)\n"
	"    json       the same summary as one JSON object\n"
	"    html       one self-contained page (no network) with charts: RSS, live objects, GC pauses,\n"
	"               collections per generation, growth per type\n"
	"    csv        the samples time series, one row per sample per process\n"
	"    chrome     Chrome trace-event JSON: GC pauses as slices per thread, RSS as counters; open\n"
	"               it in https://ui.perfetto.dev or chrome://tracing\n"
	"    collapsed  'frame;frame;frame count' lines of the allocation sites (flamegraph.pl, speedscope);\n"
	"               with --sites survivors: 'TYPE;frame;... ALIVE' of the sampled objects still alive;\n"
	"               with --sites native: 'frame;...;caller BYTES', outstanding native bytes per stack\n"
	"               at the last heap walk (a trace recorded with --native)\n"
	"\n"
	"OPTIONS\n"
	"    -f, --format FMT   output format (default text)\n"
	"    -o, --output OUT   write to OUT (created 0600) instead of stdout\n"
	"    -h, --help         this text\n"
	"\n"
	"A file that is not a pyleak trace, is damaged or truncated, or was written by a newer pyleak\n"
	"is refused with a message and exit status 1.\n"
	"\n"
	"EXAMPLES\n"
	"    pyleak report night.db\n"
	"    pyleak report night.db --format html -o night.html\n"
	"    pyleak report night.db --format chrome -o gc.json   # then load gc.json in Perfetto\n"
	"    pyleak report night.db --format collapsed | flamegraph.pl > sites.svg\n"
	"    pyleak report night.db --format collapsed --sites survivors | flamegraph.pl > leaks.svg\n"
	"    pyleak report native.db --format collapsed --sites native | flamegraph.pl > native.svg\n";

int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "sites", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	enum report_format fmt = REPORT_TEXT;
	const char *out_path = NULL, *path;
	struct trace *t = NULL;
	FILE *out = stdout;
	int ch, err, ret = EXIT_FAIL;
	bool survivors = false, native = false;

	while ((ch = getopt_long(argc, argv, "f:o:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			if (report__parse_format(optarg, &fmt)) {
				pr_err("unknown format '%s': text, json, html, csv, chrome or collapsed", optarg);
				cmd_usage(stderr, report_usage);
				return EXIT_USAGE;
			}
			break;
		case 'o': out_path = optarg; break;
		case 's':
			survivors = native = false;
			if (!strcmp(optarg, "survivors")) {
				survivors = true;
			} else if (!strcmp(optarg, "native")) {
				native = true;
			} else if (strcmp(optarg, "allocations")) {
				pr_err("invalid --sites '%s': give allocations, survivors or native", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h': cmd_usage(stdout, report_usage); return EXIT_OK;
		default: cmd_usage(stderr, report_usage); return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		pr_err("%s", optind >= argc ? "report needs a trace file" : "report takes one trace file");
		cmd_usage(stderr, report_usage);
		return EXIT_USAGE;
	}
	path = argv[optind];
	if ((survivors || native) && fmt != REPORT_COLLAPSED) {
		pr_err("--sites %s goes with --format collapsed (the other formats show them all)",
		       survivors ? "survivors" : "native");
		return EXIT_USAGE;
	}
	if (survivors)
		fmt = REPORT_COLLAPSED_SURVIVORS;
	if (native)
		fmt = REPORT_COLLAPSED_NATIVE;
	{
		/* A report reads one file and writes another: nothing else a root process carries. */
		static const int keep[] = PRIV_KEEP_FILES;

		privileges__restrict(keep, ARRAY_SIZE(keep));
	}
	err = trace__load(path, &t);
	if (err)
		return EXIT_FAIL; /* trace__load said why */
	if (t->meta.dropped_gc_events)
		pr_warn("%s: %llu gc events were dropped while recording (the trace reached --max-size)", path,
			(unsigned long long)t->meta.dropped_gc_events);
	if (t->truncated[0])
		pr_warn("%s: only part of these tables was loaded (caps): %s", path, t->truncated);
	if (out_path) {
		int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		if (fd < 0 || !(out = fdopen(fd, "w"))) {
			pr_err("cannot write %s: %s", out_path, strerror(errno));
			if (fd >= 0)
				close(fd);
			out = NULL;
			goto cleanup;
		}
	}
	err = report__write(t, fmt, out);
	if (err) {
		/* EPIPE (`pyleak report x.db | head`) is a reader that had enough, not a failure. */
		if (errno == EPIPE && !out_path)
			ret = EXIT_OK;
		else
			pr_err("cannot write the report%s%s: %s", out_path ? " to " : "", out_path ? out_path : "",
			       strerror(err == -EIO && errno ? errno : -err));
		goto cleanup;
	}
	ret = EXIT_OK;
cleanup:
	if (out && out != stdout && fclose(out) && ret == EXIT_OK) {
		pr_err("cannot write %s: %s", out_path, strerror(errno));
		ret = EXIT_FAIL;
	}
	trace__free(t);
	return ret;
}
