/* SPDX-License-Identifier: BSD-2-Clause */
/* `pyleak heap`: the glibc malloc heap of a process by chunk state and size class, walked from outside. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/mallocheap.h"
#include "analysis/nativeleak.h"
#include "cmd/cmds.h"
#include "probes/native.h"
#include "target/python.h"
#include "util/format.h"
#include "target/proc.h"
#include "target/remote.h"
#include "util/common.h"
#include "util/escape.h"

static const char heap_usage[] =
	"pyleak heap: the native (libc malloc) heap of a process, from outside, with no probe\n"
	"\n"
	"USAGE\n"
	"    pyleak heap -p PID [--json] [--interval SECONDS] [--count N] [--max-read SIZE]\n"
	"    pyleak heap -p PID --native SECONDS [--every N] [--budget PCT] [--json]\n"
	"\n"
	"Walks glibc malloc's chunks in the target's memory: the main arena from the start of\n"
	"[heap], the non-main arenas (64 MiB-aligned heap_info regions), mmapped chunks; chunks that\n"
	"look in use but sit in a thread's tcache or an arena's fastbin are found in those lists and\n"
	"counted as free. Prints in-use bytes and blocks by chunk size class and, with --count > 1,\n"
	"their trend per minute. The target keeps running: headers that change while read are\n"
	"counted as inconsistencies; a walk that cannot finish (exit, exec, corrupt heap, read\n"
	"budget) is marked partial with its reason. jemalloc, tcmalloc, mimalloc and other\n"
	"allocators are detected and named; their heaps are not walked (the figures would be wrong).\n"
	"\n"
	"OPTIONS\n"
	"    -p, --pid PID          the process (host pid)\n"
	"    -j, --json             one JSON object per walk (docs/json.md, \"pyleak heap\")\n"
	"    -i, --interval SECONDS time between walks (default 5)\n"
	"    -c, --count N          walks (default 1)\n"
	"        --max-read SIZE    read budget per walk (default 256M)\n"
	"    -n, --native SECONDS   also sample native allocations for SECONDS: uprobes on malloc,\n"
	"                           calloc, realloc, posix_memalign and free of the libc the process\n"
	"                           maps, 1 call in --every sampled with its native caller (and deeper\n"
	"                           frames where frame pointers allow) and its Python stack; a sample\n"
	"                           counts as outstanding only while the heap walk finds its chunk in\n"
	"                           use with the same size. Walks every --interval. Prints outstanding\n"
	"                           bytes per stack, their growth and 'native' suspects\n"
	"        --format collapsed with --native: collapsed stacks of outstanding native bytes\n"
	"                           (flamegraph.pl, speedscope) instead of the table\n"
	"        --every N          sample 1 in N calls while attached (default 1)\n"
	"        --budget PCT       duty-cycle the probes so that they cost at most PCT% of the\n"
	"                           process's own CPU, measured from its system time (default 2;\n"
	"                           0 = attached throughout, costly)\n"
	"    -h, --help             this text\n"
	"\n"
	"EXAMPLES\n"
	"    sudo pyleak heap -p 4242\n"
	"    sudo pyleak heap -p 4242 --count 12 --interval 10 --json\n"
	"    sudo pyleak heap -p 4242 --native 90\n";

struct heap_first {
	bool set;
	double t;
	uint64_t in_use;
	struct mallocheap_class cls[MH_CLASSES];
};

static void print_text(const struct mallocheap *h, pid_t pid, const struct heap_first *f, double t)
{
	char lib[ESC_TEXT_SIZE(sizeof(h->allocator_lib))];
	double mins = f->set ? (t - f->t) / 60.0 : 0;
	int k;

	/* the library path is the target's: escaped like every name it controls */
	printf("pid %d  allocator %s (%s)\n", (int)pid, mallocheap__allocator_name(h->allocator),
	       esc_text_buf(lib, sizeof(lib), h->allocator_lib));
	if (h->allocator != MH_GLIBC) {
		printf("  not glibc malloc: the heap is not walked (its figures would be wrong)\n");
		return;
	}
	printf("  in use %llu B in %llu blocks (mmapped %llu B in %llu)  free %llu B  top %llu B\n",
	       (unsigned long long)h->in_use_bytes, (unsigned long long)h->in_use_blocks,
	       (unsigned long long)h->mmapped_bytes, (unsigned long long)h->mmapped_blocks,
	       (unsigned long long)h->free_bytes, (unsigned long long)h->top_bytes);
	printf("  look in use but free: tcache %llu B in %llu (%d tcaches), fastbins %llu B in %llu%s\n",
	       (unsigned long long)h->tcache_bytes, (unsigned long long)h->tcache_blocks, h->tcaches,
	       (unsigned long long)h->fastbin_bytes, (unsigned long long)h->fastbin_blocks,
	       h->fastbins_checked ? "" : " (main_arena not found: main fastbins unchecked)");
	printf("  arenas %d heaps %d, %llu B read in %.1f ms, safe-linking %s, inconsistencies %llu%s%s\n",
	       h->arenas, h->heaps, (unsigned long long)h->bytes_read, h->walk_ns / 1e6,
	       h->safe_linking < 0 ? "unseen" : h->safe_linking ? "yes" : "no",
	       (unsigned long long)h->inconsistencies, h->partial ? "  PARTIAL: " : "",
	       h->partial ? h->partial_reason : "");
	printf("  %-14s %14s %10s%s\n", "chunk size", "in use B", "blocks", mins > 0 ? "     B/min" : "");
	for (k = 0; k < MH_CLASSES; k++) {
		if (!h->cls[k].blocks && !(f->set && f->cls[k].blocks))
			continue;
		printf("  %6llu-%-7s %14llu %10llu", 32ull << k, k == MH_CLASSES - 1 ? "" : "", (unsigned long long)h->cls[k].bytes,
		       (unsigned long long)h->cls[k].blocks);
		if (mins > 0)
			printf(" %+10.0f", ((double)h->cls[k].bytes - (double)f->cls[k].bytes) / mins);
		putchar('\n');
	}
}

static void print_json(const struct mallocheap *h, pid_t pid, const struct heap_first *f, double t)
{
	struct strbuf sb;
	double mins = f->set ? (t - f->t) / 60.0 : 0;
	int k, n = 0;

	sb_init(&sb);
	sb_printf(&sb, "{\"time\":%.3f,\"pid\":%d,\"allocator\":\"%s\",\"allocator_lib\":", t, (int)pid,
		  mallocheap__allocator_name(h->allocator));
	sb_json_str(&sb, h->allocator_lib);
	sb_printf(&sb, ",\"walked\":%s", h->allocator == MH_GLIBC ? "true" : "false");
	if (h->allocator == MH_GLIBC) {
		sb_printf(&sb,
			  ",\"partial\":%s,\"partial_reason\":", h->partial ? "true" : "false");
		sb_json_str(&sb, h->partial ? h->partial_reason : NULL);
		sb_printf(&sb,
			  ",\"in_use_bytes\":%llu,\"in_use_blocks\":%llu,\"mmapped_bytes\":%llu,"
			  "\"mmapped_blocks\":%llu,\"free_bytes\":%llu,\"free_blocks\":%llu,\"top_bytes\":%llu,"
			  "\"tcache_bytes\":%llu,\"tcache_blocks\":%llu,\"tcaches\":%d,\"fastbin_bytes\":%llu,"
			  "\"fastbin_blocks\":%llu,\"fastbins_checked\":%s,\"arenas\":%d,\"heaps\":%d,"
			  "\"main_arena\":\"0x%llx\",\"safe_linking\":%s,\"inconsistencies\":%llu,"
			  "\"bytes_read\":%llu,\"walk_ms\":%.3f",
			  (unsigned long long)h->in_use_bytes, (unsigned long long)h->in_use_blocks,
			  (unsigned long long)h->mmapped_bytes, (unsigned long long)h->mmapped_blocks,
			  (unsigned long long)h->free_bytes, (unsigned long long)h->free_blocks,
			  (unsigned long long)h->top_bytes, (unsigned long long)h->tcache_bytes,
			  (unsigned long long)h->tcache_blocks, h->tcaches, (unsigned long long)h->fastbin_bytes,
			  (unsigned long long)h->fastbin_blocks, h->fastbins_checked ? "true" : "false", h->arenas,
			  h->heaps, (unsigned long long)h->main_arena,
			  h->safe_linking < 0 ? "null" : h->safe_linking ? "true" : "false",
			  (unsigned long long)h->inconsistencies, (unsigned long long)h->bytes_read,
			  h->walk_ns / 1e6);
		if (mins > 0)
			sb_printf(&sb, ",\"trend_seconds\":%.3f,\"in_use_bytes_per_min\":%.1f", t - f->t,
				  ((double)h->in_use_bytes - (double)f->in_use) / mins);
		sb_puts(&sb, ",\"classes\":[");
		for (k = 0; k < MH_CLASSES; k++) {
			if (!h->cls[k].blocks && !(f->set && f->cls[k].blocks))
				continue;
			sb_printf(&sb, "%s{\"min_size\":%llu,\"max_size\":", n++ ? "," : "", 32ull << k);
			if (k == MH_CLASSES - 1)
				sb_puts(&sb, "null");
			else
				sb_printf(&sb, "%llu", (64ull << k) - 1);
			sb_printf(&sb, ",\"bytes\":%llu,\"blocks\":%llu", (unsigned long long)h->cls[k].bytes,
				  (unsigned long long)h->cls[k].blocks);
			if (mins > 0)
				sb_printf(&sb, ",\"bytes_per_min\":%.1f",
					  ((double)h->cls[k].bytes - (double)f->cls[k].bytes) / mins);
			sb_putc(&sb, '}');
		}
		sb_putc(&sb, ']');
	}
	sb_puts(&sb, "}\n");
	if (!sb.oom)
		fputs(sb.buf, stdout);
	fflush(stdout);
	sb_free(&sb);
}

/* One walk of pid's heap into h; 0, or -errno with a message printed. */
static int heap_walk_once(pid_t pid, uint64_t max_read, struct mallocheap *h)
{
	struct mallocheap_input *in = NULL;
	struct proc_map *maps = NULL;
	struct remote r;
	char exe[64];
	int n, err;

	n = proc__read_maps(pid, &maps);
	if (n < 0) {
		pr_err("cannot read the maps of pid %d: %s", (int)pid, strerror(-n));
		return n;
	}
	in = malloc(sizeof(*in));
	if (!in) {
		free(maps);
		return -ENOMEM;
	}
	mallocheap__input_from_maps(maps, n, in);
	snprintf(exe, sizeof(exe), "/proc/%d/exe", (int)pid);
	mallocheap__check_executable(in, exe);
	in->max_bytes = max_read;
	remote__init_pid(&r, pid);
	err = mallocheap__walk(&r, in, h);
	if (err == -ENOTSUP)
		err = 0; /* reported as such: another allocator */
	else if (err)
		pr_err("cannot walk the heap of pid %d: %s", (int)pid, strerror(-err));
	free(in);
	free(maps);
	return err;
}

#define NATIVE_SHOW 20 /* stacks printed */

static void native_print_text(const struct native_report *rep)
{
	const struct native_counters *c = &rep->counters;
	char line[2048], b1[32], esc[ESC_TEXT_SIZE(2048)];
	int i, shown = 0;

	printf("native sampling: 1 in %u calls, probes attached %.1f s of %.1f s (%llu slices, cost %.2f%% of its CPU)\n",
	       c->every, c->observed_s, c->elapsed_s, (unsigned long long)c->slices, c->overhead_pct);
	printf("  calls %llu, sampled %llu, recorded %llu, frees of samples seen %llu, python stack errors %llu\n",
	       (unsigned long long)c->calls, (unsigned long long)c->sampled, (unsigned long long)c->recorded,
	       (unsigned long long)c->freed, (unsigned long long)c->py_errors);
	printf("  maps full: inflight %llu, live %llu, stacks %llu, ring %llu, samples dropped %llu%s\n",
	       (unsigned long long)c->inflight_full, (unsigned long long)c->live_full,
	       (unsigned long long)c->stacks_full, (unsigned long long)c->ring_full,
	       (unsigned long long)c->samples_dropped,
	       rep->verified == NATIVE_VERIFIED_HEADERS ? "" : "  (not verified: no glibc heap walk)");
	for (i = 0; i < rep->nstacks; i++)
		if (rep->stacks[i].suspect) {
			native_stack__evidence(&rep->stacks[i], line, sizeof(line));
			printf("  SUSPECT native: %s\n", esc_text_buf(esc, sizeof(esc), line));
		}
	printf("  %12s %8s %6s %8s  %s\n", "growth/min", "out", "out%", "age s", "stack");
	for (i = 0; i < rep->nstacks && shown < NATIVE_SHOW; i++) {
		const struct native_stack *st = &rep->stacks[i];

		if (!st->out_blocks)
			continue;
		native_stack__format(st, 4, line, sizeof(line));
		fmt_bytes(b1, sizeof(b1), st->growth_bytes_per_min);
		printf("  %12s %8llu %5.0f%% %8.1f  %s\n", b1, (unsigned long long)st->out_blocks, 100 * st->out_ratio,
		       st->oldest_age_s, esc_text_buf(esc, sizeof(esc), line));
		shown++;
	}
}

static void native_print_json(const struct mallocheap *h, pid_t pid, const struct native_report *rep)
{
	struct strbuf sb;

	sb_init(&sb);
	sb_printf(&sb, "{\"time\":%.3f,\"pid\":%d,\"allocator\":\"%s\",\"heap_in_use_bytes\":%llu,\"native\":",
		  now_wall(), (int)pid, mallocheap__allocator_name(h->allocator), (unsigned long long)h->in_use_bytes);
	native__format_json(rep, &sb);
	sb_puts(&sb, "}\n");
	if (!sb.oom)
		fputs(sb.buf, stdout);
	fflush(stdout);
	sb_free(&sb);
}

/* Sample for `seconds`, walking the heap every interval to verify; print the last verification. */
static int heap_native(pid_t pid, double seconds, double interval, unsigned every, double budget, uint64_t max_read,
		       bool json, bool collapsed)
{
	struct native_probes_opts o = { .every = every, .budget_pct = budget };
	struct native_probes *np = NULL;
	struct native_report rep = { 0 };
	struct mallocheap h = { 0 };
	struct py_target t;
	struct remote r;
	uint64_t start, next_walk;
	int err, tries, ms;
	bool done = false, walked = false;

	memset(&t, 0, sizeof(t));
	err = python__inspect(pid, &t);
	if (err) {
		pr_err("pid %d: not a python process pyleak can read: %s", (int)pid, strerror(-err));
		return err;
	}
	remote__init_pid(&r, pid);
	for (tries = 0; (err = python__resolve_gc(&t, &r)) == -EAGAIN && tries < 20 && !exiting; tries++)
		sleep_interruptible_ms(50);
	if (err)
		pr_warn("pid %d: no interpreter state (%s): native stacks without Python frames", (int)pid,
			strerror(-err));
	err = native_probes__open(&np, &o);
	if (err)
		return err;
	err = native_probes__add(np, &t);
	if (err) {
		pr_err("pid %d: cannot sample native allocations: %s", (int)pid,
		       err == -ENOTSUP ? "no glibc malloc (another allocator or no libc)" : strerror(-err));
		goto cleanup;
	}
	start = now_mono_ns();
	next_walk = start + (uint64_t)(interval * 1e9);
	while (!done) {
		uint64_t now;

		ms = native_probes__tick(np);
		now = now_mono_ns();
		done = exiting || now - start >= (uint64_t)(seconds * 1e9);
		/* a final walk at the end, but not after Ctrl-C once one is printed: the walk stops at
		 * `exiting` and would replace the last full verdict with a partial one */
		if (now >= next_walk || (done && !(exiting && walked))) {
			walked = true;
			native_report__free(&rep);
			mallocheap__free(&h);
			err = heap_walk_once(pid, max_read, &h);
			if (err)
				goto cleanup;
			err = native_probes__read(np, pid, &rep);
			if (err)
				goto cleanup;
			nativeleak__verify(&rep, h.allocator == MH_GLIBC ? &h : NULL, now_mono_ns());
			if (h.allocator == MH_GLIBC)
				native_probes__keep(np, pid, &rep);
			next_walk = now + (uint64_t)(interval * 1e9);
			if (json)
				native_print_json(&h, pid, &rep);
			if (!python__alive(&t)) {
				pr_err("pid %d exited", (int)pid);
				err = -ESRCH;
				goto cleanup;
			}
		}
		if (!done)
			sleep_interruptible_ms(ms < 1 ? 1 : ms > 50 ? 50 : ms);
	}
	if (collapsed) {
		struct strbuf sb;
		char root[64];

		sb_init(&sb);
		snprintf(root, sizeof(root), "pid %d", (int)pid);
		native__format_collapsed(&rep, root, &sb);
		if (!sb.oom && sb.buf)
			fputs(sb.buf, stdout);
		sb_free(&sb);
	} else if (!json) {
		print_text(&h, pid, &(struct heap_first){ 0 }, now_wall());
		native_print_text(&rep);
	}
	fflush(stdout);
cleanup:
	native_probes__destroy(np); /* every probe detached before we return */
	native_report__free(&rep);
	mallocheap__free(&h);
	return err;
}

int cmd_heap(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' },     { "json", no_argument, NULL, 'j' },
		{ "interval", required_argument, NULL, 'i' }, { "count", required_argument, NULL, 'c' },
		{ "max-read", required_argument, NULL, 'M' }, { "help", no_argument, NULL, 'h' },
		{ "native", required_argument, NULL, 'n' },   { "every", required_argument, NULL, 'E' },
		{ "budget", required_argument, NULL, 'B' },   { "format", required_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	struct heap_first first = { 0 };
	struct mallocheap h = { 0 };
	uint64_t max_read = 0;
	double interval = 5, t, native = 0, budget = NATIVE_BUDGET_DEFAULT;
	long pid = 0, count = 1, i, every = NATIVE_EVERY_DEFAULT;
	bool json = false, collapsed = false;
	int c, err = 0;

	while ((c = getopt_long(argc, argv, "p:ji:c:hn:", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (parse_duration(optarg, &native) || native <= 0) {
				pr_err("invalid native sampling duration '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'E':
			if (parse_long(optarg, 1, 1 << 20, &every)) {
				pr_err("invalid --every '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'F':
			if (strcmp(optarg, "collapsed") && strcmp(optarg, "text")) {
				pr_err("unknown --format '%s' (text or collapsed)", optarg);
				return EXIT_USAGE;
			}
			collapsed = !strcmp(optarg, "collapsed");
			break;
		case 'B':
			if (parse_double(optarg, 0, 100, &budget)) {
				pr_err("invalid --budget '%s' (percent, 0-100)", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'p':
			if (parse_long(optarg, 1, 1l << 22, &pid)) {
				pr_err("invalid pid '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'j':
			json = true;
			break;
		case 'i':
			if (parse_duration(optarg, &interval) || interval <= 0) {
				pr_err("invalid interval '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'c':
			if (parse_long(optarg, 1, 1000000, &count)) {
				pr_err("invalid count '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'M':
			if (parse_size(optarg, &max_read) || max_read < 4096) {
				pr_err("invalid read budget '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			cmd_usage(stdout, heap_usage);
			return EXIT_OK;
		default:
			cmd_usage(stderr, heap_usage);
			return EXIT_USAGE;
		}
	}
	if (!pid || optind < argc) {
		pr_err("heap needs -p PID and no other arguments");
		cmd_usage(stderr, heap_usage);
		return EXIT_USAGE;
	}
	if (privileges__check(native > 0))
		return EXIT_FAIL;
	if (native > 0)
		return heap_native((pid_t)pid, native, interval, (unsigned)every, budget, max_read, json, collapsed) ? EXIT_FAIL
													    : EXIT_OK;
	for (i = 0; i < count && !exiting; i++) {
		if (i)
			sleep_interruptible_ms((long)(interval * 1000));
		if (exiting)
			break;
		t = now_wall();
		err = heap_walk_once((pid_t)pid, max_read, &h);
		if (err)
			break;
		if (json)
			print_json(&h, (pid_t)pid, &first, t);
		else
			print_text(&h, (pid_t)pid, &first, t);
		if (!first.set && h.allocator == MH_GLIBC) {
			first.set = true;
			first.t = t;
			first.in_use = h.in_use_bytes;
			memcpy(first.cls, h.cls, sizeof(first.cls));
		}
		mallocheap__free(&h);
	}
	mallocheap__free(&h);
	return err ? EXIT_FAIL : EXIT_OK;
}
