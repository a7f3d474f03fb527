/* SPDX-License-Identifier: BSD-2-Clause */
/* Standalone driver of userspace/probes/alloc.c for tests and benchmarks until the collector carries it:
 * watches pids and prints one JSON line per pid per interval with the `alloc` object.
 *
 * Build: make .output/libpyleak.a && cc -O2 -Iuserspace -Ibpf -I.output tools/bench/alloc_driver.c \
 *          .output/libpyleak.a -lbpf -lelf -lz -lm -o .output/alloc_driver
 * Run:   alloc_driver [--mode young|exact|budget] [--budget PCT] [--interval S] [--count N]
 *          [--young-max N] [--signal] PID...
 *   --signal: send SIGUSR1 to each pid right after its baseline and after each read (truth files).
 * stdout: {"pid", "t", "alloc": {...}} per read; a {"baseline": pid, "t"} line after the first.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "probes/alloc.h"
#include "util/common.h"
#include "probes/gc.h"
#include "target/python.h"
#include "target/remote.h"

#define MAXP 64

static volatile sig_atomic_t stop;
static void on_sig(int s) { (void)s; stop = 1; }

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void num(double v)
{
	if (v < 0)
		printf("null");
	else
		printf("%.3f", v);
}

static void print_report(pid_t pid, const struct alloc_report *r)
{
	int i;

	printf("{\"pid\": %d, \"t\": %.6f, \"alloc\": {\"source\": \"%s\", \"estimated\": %s, \"window_s\": %.4f, "
	       "\"observed_s\": %.4f, \"duty\": %.4f, \"overhead_pct\": %.4f, \"per_s\": %.3f, \"free_per_s\": ",
	       pid, mono(), r->source, r->estimated ? "true" : "false", r->window_s, r->observed_s, r->duty,
	       r->overhead_pct, r->per_s);
	num(r->free_per_s);
	printf(", \"bytes_per_s\": %.1f, \"collections\": %llu, \"samples\": %llu, \"walk_errors\": %llu, "
	       "\"walk_truncated\": %llu, \"completeness\": ",
	       r->bytes_per_s, (unsigned long long)r->collections, (unsigned long long)r->samples,
	       (unsigned long long)r->walk_errors, (unsigned long long)r->walk_truncated);
	if (r->completeness < 0)
		printf("null");
	else
		printf("%.4f", r->completeness);
	printf(", \"incomplete\": %s, \"check_windows\": %llu, \"type_errors\": %llu, \"ntypes_total\": %d, "
	       "\"types\": [",
	       r->incomplete ? "true" : "false", (unsigned long long)r->check_windows,
	       (unsigned long long)r->type_errors, r->ntypes_total);
	for (i = 0; i < r->ntypes; i++) {
		printf("%s{\"name\": ", i ? ", " : "");
		json_str(r->types[i].name);
		printf(", \"alloc_per_s\": ");
		num(r->types[i].alloc_per_s);
		printf(", \"free_per_s\": ");
		num(r->types[i].free_per_s);
		printf(", \"net_per_s\": %.3f, \"bytes_per_s\": %.1f}", r->types[i].net_per_s, r->types[i].bytes_per_s);
	}
	printf("]}}\n");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "mode", required_argument, 0, 'm' },	   { "budget", required_argument, 0, 'b' },
		{ "interval", required_argument, 0, 'i' }, { "count", required_argument, 0, 'c' },
		{ "young-max", required_argument, 0, 'y' }, { "signal", no_argument, 0, 's' },
		{ 0, 0, 0, 0 },
	};
	struct alloc_probes_opts ao = { .mode = ALLOC_MODE_YOUNG };
	static struct py_target t[MAXP];
	struct alloc_probes *ap = NULL;
	double interval = 1.0, next;
	int c, i, g, n = 0, count = -1, err, rc = 1, sig = 0, done = 0;

	while ((c = getopt_long(argc, argv, "m:b:i:c:y:s", lo, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (!strcmp(optarg, "budget"))
				ao.mode = ALLOC_MODE_BUDGET;
			else if (alloc_mode__parse(optarg, &ao.mode))
				return 2;
			break;
		case 'b': ao.budget_pct = atof(optarg); ao.mode = ALLOC_MODE_BUDGET; break;
		case 'i': interval = atof(optarg); break;
		case 'c': count = atoi(optarg); break;
		case 'y': ao.young_max = (unsigned)atoi(optarg); break;
		case 's': sig = 1; break;
		default: return 2;
		}
	}
	signal(SIGINT, on_sig);
	signal(SIGTERM, on_sig);
	if (optind >= argc) {
		fprintf(stderr, "usage: alloc_driver [--mode young|exact|budget] [--budget PCT] PID...\n");
		return 2;
	}
	err = alloc_probes__open(&ap, &ao);
	if (err)
		return 1;
	for (i = optind; i < argc && n < MAXP; i++, n++) {
		struct py_target *pt = &t[n];
		struct remote r;
		int tries = 0;

		err = python__inspect(atoi(argv[i]), pt);
		if (err || !pt->supported) {
			fprintf(stderr, "alloc_driver: pid %s: %s\n", argv[i], err ? strerror(-err) : pt->why);
			goto out;
		}
		remote__init_pid(&r, pt->pid);
		while ((err = python__resolve_gc(pt, &r)) == -EAGAIN && tries++ < 100)
			usleep(50000);
		if (err) {
			fprintf(stderr, "alloc_driver: pid %d: gc state: %s\n", pt->pid, strerror(-err));
			goto out;
		}
		if (pt->tier == GC_TIER_USDT) {
			err = alloc_probes__attach_usdt(ap, pt->runtime_path);
		} else if (pt->tier == GC_TIER_UPROBE) {
			for (g = 0; g < pt->ncollectors; g++) {
				int spec = gc_collector_gen_spec(pt->minor, pt->collector_syms[g]);

				if (spec >= 0 && (err = alloc_probes__attach_collector(ap, pt->runtime_path,
										     pt->collector_offsets[g], spec)))
					break;
			}
		}
		if (err)
			goto out;
		err = alloc_probes__set_target(ap, pt);
		if (err)
			goto out;
	}
	/* baseline */
	for (i = 0; i < n; i++) {
		struct alloc_report r;

		alloc_probes__tick(ap);
		alloc_probes__read(ap, t[i].pid, -1, &r);
		printf("{\"baseline\": %d, \"t\": %.6f}\n", t[i].pid, mono());
		if (sig)
			kill(t[i].pid, SIGUSR1);
	}
	fflush(stdout);
	next = mono() + interval;
	while (!stop && (count < 0 || done < count)) {
		double now = mono();
		int ms = alloc_probes__tick(ap);

		if (now >= next) {
			for (i = 0; i < n; i++) {
				struct alloc_report r;

				err = alloc_probes__read(ap, t[i].pid, -1, &r);
				if (!err) {
					print_report(t[i].pid, &r);
					if (sig)
						kill(t[i].pid, SIGUSR1);
				}
			}
			done++;
			next += interval;
			continue;
		}
		if (ms > 100 || ms <= 0)
			ms = 100;
		if (ms > (next - now) * 1000 + 1)
			ms = (int)((next - now) * 1000) + 1;
		usleep(ms * 1000);
	}
	rc = 0;
out:
	alloc_probes__destroy(ap);
	return rc;
}
