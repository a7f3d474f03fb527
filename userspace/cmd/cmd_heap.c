/* SPDX-License-Identifier: BSD-2-Clause */
/* `pyleak heap`: the glibc malloc heap of a process by chunk state and size class, walked from outside. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/mallocheap.h"
#include "cmd/cmds.h"
#include "target/proc.h"
#include "target/remote.h"
#include "util/common.h"

static const char heap_usage[] =
	"pyleak heap: the native (libc malloc) heap of a process, from outside, with no probe\n"
	"\n"
	"USAGE\n"
	"    pyleak heap -p PID [--json] [--interval SECONDS] [--count N] [--max-read SIZE]\n"
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
	"    -h, --help             this text\n"
	"\n"
	"EXAMPLES\n"
	"    sudo pyleak heap -p 4242\n"
	"    sudo pyleak heap -p 4242 --count 12 --interval 10 --json\n";

struct heap_first {
	bool set;
	double t;
	uint64_t in_use;
	struct mallocheap_class cls[MH_CLASSES];
};

static void print_text(const struct mallocheap *h, pid_t pid, const struct heap_first *f, double t)
{
	double mins = f->set ? (t - f->t) / 60.0 : 0;
	int k;

	printf("pid %d  allocator %s (%s)\n", (int)pid, mallocheap__allocator_name(h->allocator), h->allocator_lib);
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

int cmd_heap(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' },     { "json", no_argument, NULL, 'j' },
		{ "interval", required_argument, NULL, 'i' }, { "count", required_argument, NULL, 'c' },
		{ "max-read", required_argument, NULL, 'M' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct heap_first first = { 0 };
	struct mallocheap h = { 0 };
	uint64_t max_read = 0;
	double interval = 5, t;
	long pid = 0, count = 1, i;
	bool json = false;
	int c, err = 0;

	while ((c = getopt_long(argc, argv, "p:ji:c:h", opts, NULL)) != -1) {
		switch (c) {
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
	if (privileges__check(false))
		return EXIT_FAIL;
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
