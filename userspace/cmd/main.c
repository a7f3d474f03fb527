/* SPDX-License-Identifier: BSD-2-Clause */
/* pyleak's entry point: global options and the subcommand table. */
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "cmd/cmds.h"
#include "util/common.h"

static const struct cmd commands[] = {
	{ "list", "list every CPython process on the host with its version, build facts and probe tier", cmd_list },
	{ "top", "live view of GC rates, pauses and memory per process (-b: text or JSON lines)", cmd_top },
	{ "census", "count live objects per type in a process from outside, like objgraph", cmd_census },
	{ "heap", "the native (libc malloc) heap of a process by chunk state and size class, from outside", cmd_heap },
	{ "refs", "the chain of references from a root that keeps objects alive (objgraph backrefs)", cmd_refs },
	{ "record", "record GC events, samples, types and suspects into an SQLite trace file", cmd_record },
	{ "report", "report on a trace file: text, json, html, csv, chrome (Perfetto), collapsed", cmd_report },
	{ "serve", "export per-process metrics for Prometheus at /metrics", cmd_serve },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "pyleak %s: where the memory of running Python processes goes, seen from outside\n\n"
		   "USAGE\n    pyleak [-v|-q] <command> [options]\n    pyleak help [command]\n"
		   "    pyleak --version\n\nCOMMANDS\n", PYLEAK_VERSION);
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "    %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nRun 'pyleak <command> --help' for a command's options and examples.\n"
		   "Needs root, or CAP_BPF + CAP_PERFMON + CAP_SYS_PTRACE.\n");
}

void cmd_usage(FILE *f, const char *text)
{
	fputs(text, f);
}

static const struct cmd *find_cmd(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	const struct cmd *cmd;
	int i = 1;

	/*
	 * Censuses allocate and free large buffers (a 1 MiB arena copy, the arena list, the holder
	 * walk's tables) once per process per census. glibc raises its mmap threshold to the size of
	 * the largest mmapped block freed, so after the first census these come from the heap, which
	 * fragments and never shrinks: measured 66 MiB instead of 22 MiB RSS watching 20 idle
	 * processes. A fixed threshold keeps them mmapped. It is 32 KiB, not the default's starting
	 * 128 KiB: each watched process holds 30-128 KiB blocks (its row, 70 KiB; its analysis state,
	 * holder-name cache and root list; its survivor queue) that calloc() on the heap zeroes, so
	 * all resident, and that stay on the heap after the process is gone. Mmapped, only the pages
	 * written are resident and free() unmaps them: under a churn of 20 processes/s, RSS 38-52 MiB
	 * and rising became a flat 27-29 MiB (the same run side by side).
	 */
	mallopt(M_MMAP_THRESHOLD, 32 * 1024);

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-V")) {
			printf("pyleak %s\n", PYLEAK_VERSION);
			return EXIT_OK;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return EXIT_OK;
		} else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
			verbosity = 2;
		} else if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet")) {
			verbosity = 0;
		} else {
			pr_err("unknown option '%s'", argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[i], "help")) {
		if (i + 1 >= argc) {
			usage(stdout);
			return EXIT_OK;
		}
		cmd = find_cmd(argv[i + 1]);
		if (!cmd) {
			pr_err("unknown command '%s'", argv[i + 1]);
			usage(stderr);
			return EXIT_USAGE;
		}
		{
			char *hargv[] = { argv[i + 1], "--help", NULL };
			return cmd->fn(2, hargv);
		}
	}
	cmd = find_cmd(argv[i]);
	if (!cmd) {
		pr_err("unknown command '%s'", argv[i]);
		usage(stderr);
		return EXIT_USAGE;
	}
	signals__install();
	{
		/* Watching 1000 processes holds one /proc stat fd and several probe fds each: the
		 * usual soft limit (1024) would run out long before the hard one. */
		struct rlimit rl;

		if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	optind = 0; /* each subcommand runs its own getopt_long over its own argv */
	return cmd->fn(argc - i, argv + i);
}
