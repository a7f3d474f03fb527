/* SPDX-License-Identifier: BSD-2-Clause */
/* `pyleak census`: objgraph's show_most_common_types / show_growth for a process, read from outside. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/census.h"
#include "cmd/cmds.h"
#include "util/common.h"
#include "util/escape.h"
#include "target/python.h"
#include "target/features.h"


static const char census_usage[] =
	"pyleak census: count the objects of a Python process by type, from outside\n"
	"\n"
	"USAGE\n"
	"    pyleak census -p PID [--top N] [--json] [--growth SECONDS] [--all-objects] [--pause]\n"
	"\n"
	"Walks the garbage collector's three generation lists in the target's memory (what\n"
	"gc.get_objects() and objgraph.typestats() see) and prints, per type, the number of objects\n"
	"and their shallow size (GC head + tp_basicsize + tp_itemsize * length, like sys.getsizeof\n"
	"without __sizeof__ overrides). Nothing is loaded into the target and, by default, it keeps\n"
	"running: the lists are read while they change, so links that do not point back are counted\n"
	"as inconsistencies, the generation is read again (up to 3 times), and the result is a close\n"
	"estimate on a busy process and exact on an idle one.\n"
	"\n"
	"OPTIONS\n"
	"    -p, --pid PID         the process (host pid)\n"
	"    -n, --top N           rows to print (default 20; 0 = all; with --json: all unless given)\n"
	"    -j, --json            one JSON object (docs/json.md): time, pid, python, total_objects,\n"
	"                          total_bytes, walk_ms, inconsistencies, types, containers, growth\n"
	"    -g, --growth SECONDS  two censuses SECONDS apart; print the types whose count grew, by\n"
	"                          growth (objgraph.show_growth)\n"
	"    -a, --all-objects     also count objects the GC does not track (str, int, float, bytes,\n"
	"                          untracked dicts and tuples) by scanning pymalloc's arenas. Their\n"
	"                          counts are estimates (a block is matched to a type by its ob_type);\n"
	"                          objects over 512 bytes not tracked by the GC live in libc malloc and\n"
	"                          are not counted. The arenas come from the interpreter's arena table\n"
	"                          (3.12+, or .symtab on 3.6-3.11); on stripped builds from a scan of\n"
	"                          anonymous memory for self-consistent pool headers (\"source\":\n"
	"                          \"scan\", with the share of pools whose free lists add up).\n"
	"        --arena-source table|scan\n"
	"                          only the arena table, or only the scan (to compare them)\n"
	"        --pause           stop the target (SIGSTOP) during the walk for an exact census, and\n"
	"                          continue it (SIGCONT) on every exit path, Ctrl-C included. Cost: the\n"
	"                          target is frozen for the walk time (about 0.1 s per million\n"
	"                          objects). Risk: if pyleak is killed with SIGKILL meanwhile, the\n"
	"                          target stays stopped until someone sends it SIGCONT; a parent\n"
	"                          waiting on the target with WUNTRACED sees it stop.\n"
	"        --max-nodes N     stop after N list nodes (default 50000000); the census is marked\n"
	"                          truncated\n"
	"        --budget SECONDS  stop after this long (default 30); the census is marked timed out\n"
	"    -h, --help            this text\n"
	"\n"
	"EXAMPLES\n"
	"    sudo pyleak census -p 4242\n"
	"    sudo pyleak census -p 4242 --growth 60\n"
	"    sudo pyleak census -p 4242 --all-objects --top 30\n"
	"    sudo pyleak census -p 4242 --json | jq '.types[:5]'\n";

struct census_cli {
	pid_t pid;
	long top;
	bool top_given, json;
	double growth;
	struct census_opts o;
};

static void human_bytes(char *buf, size_t sz, int64_t b)
{
	if (b >= 10ll << 30)
		snprintf(buf, sz, "%.1f GiB", b / (double)(1ll << 30));
	else if (b >= 10ll << 20)
		snprintf(buf, sz, "%.1f MiB", b / (double)(1 << 20));
	else if (b >= 10ll << 10)
		snprintf(buf, sz, "%.1f KiB", b / 1024.0);
	else
		snprintf(buf, sz, "%lld B", (long long)b);
}

static void json_stats(struct strbuf *sb, const struct census_stats *s)
{
	sb_printf(sb,
		  "\"inconsistencies\":{\"broken_links\":%lld,\"unreadable\":%lld,\"bad_pointers\":%lld,"
		  "\"unknown_types\":%lld,\"repairs\":%lld,\"retries\":%lld,\"partial_generations\":%lld,\"collections_during_walk\":%lld,\"truncated\":%s,\"timed_out\":%s,\"interrupted\":%s},"
		  "\"nodes\":%lld,\"reads\":%lld,\"bytes_read\":%lld,\"paused\":%s",
		  (long long)s->broken_links, (long long)s->unreadable, (long long)s->bad_pointers,
		  (long long)s->unknown_types, (long long)s->repairs, (long long)s->retries,
		  (long long)s->partial_generations,
		  (long long)s->collections_during_walk, s->truncated ? "true" : "false",
		  s->timed_out ? "true" : "false", s->interrupted ? "true" : "false", (long long)s->nodes,
		  (long long)s->reads, (long long)s->bytes_read, s->paused ? "true" : "false");
	if (s->mimalloc)
		sb_printf(sb, ",\"mimalloc\":{\"threads\":%lld,\"pages\":%lld,\"abandoned_segments\":%lld,"
			      "\"abandoned_pages\":%lld}",
			  (long long)s->mi_threads, (long long)s->mi_pages, (long long)s->mi_abandoned_segments,
			  (long long)s->mi_abandoned_pages);
	else
		sb_puts(sb, ",\"mimalloc\":null");
}

/* The allocator's accounting, with the names sys._debugmallocstats() prints. */
static void json_pymalloc(struct strbuf *sb, const struct census_stats *s)
{
	const struct arenas_stats *a = &s->pymalloc;
	int i;

	/* inside "all_objects": drop its closing brace, append, close again */
	if (sb->len && sb->buf[sb->len - 1] == '}')
		sb->len--;
	sb_printf(sb, ",\"pymalloc\":{\"source\":\"%s\",\"certainty\":\"%s\",\"confidence\":%.4f,"
		      "\"arenas\":%lld,\"pools_used\":%lld,\"pools_unused\":%lld,\"blocks_used\":%lld,"
		      "\"blocks_avail\":%lld,\"bytes_used\":%lld,\"bytes_avail\":%lld,\"resident_bytes\":%lld,"
		      "\"pools_checked\":%lld,\"pools_consistent\":%lld,\"duplicate_index\":%lld,\"classes\":[",
		  arena_source__name(a->source), a->source == ARENA_SOURCE_TABLE ? "exact" : a->source == ARENA_SOURCE_SCAN ? "heuristic" : "none",
		  arenas__confidence(a), (long long)a->arenas, (long long)a->pools_used, (long long)a->pools_unused,
		  (long long)a->blocks_used, (long long)a->blocks_avail, (long long)a->bytes_used,
		  (long long)a->bytes_avail, (long long)a->resident_bytes, (long long)a->pools_checked,
		  (long long)a->pools_consistent, (long long)a->duplicate_index);
	for (i = 0; i < a->nclasses && i < ARENAS_MAX_CLASSES; i++)
		sb_printf(sb, "%s[%lld,%lld,%lld]", i ? "," : "", (long long)a->cls[i].pools,
			  (long long)a->cls[i].blocks_used, (long long)a->cls[i].blocks_avail);
	sb_puts(sb, "]}}");
}

static void print_json(struct strbuf *sb, const struct census_cli *cli, const struct py_target *t,
		       const struct census *c, const struct census_growth *g, long ng)
{
	const struct census_stats *s = census__stats(c);
	size_t i, n = census__ntypes(c);

	if (cli->top_given && cli->top > 0 && (size_t)cli->top < n)
		n = cli->top;
	sb_printf(sb, "{\"time\":%.3f,\"pid\":%d,\"python\":", census__time(c), (int)t->pid);
	sb_json_str(sb, t->version);
	sb_printf(sb, ",\"total_objects\":%lld,\"total_bytes\":%lld,\"walk_ms\":%.3f,",
		  (long long)census__total_objects(c), (long long)census__total_bytes(c), s->walk_ms);
	json_stats(sb, s);
	if (cli->o.all_objects) {
		sb_printf(sb, ",\"all_objects\":{\"scanned\":%s,\"estimated\":true,\"why\":",
			  s->arenas_scanned ? "true" : "false");
		sb_json_str(sb, s->arenas_scanned ? NULL : s->arenas_why);
		sb_printf(sb, ",\"arena_ms\":%.3f,\"arenas\":%lld,\"pools\":%lld,\"blocks\":%lld,"
			      "\"blocks_matched\":%lld,\"blocks_unmatched\":%lld,"
			      "\"not_counted\":\"untracked objects larger than 512 bytes (libc malloc)\"}",
			  s->arena_ms, (long long)s->arenas, (long long)s->pools, (long long)s->blocks,
			  (long long)s->blocks_matched, (long long)s->blocks_unmatched);
		json_pymalloc(sb, s);
	}
	sb_puts(sb, ",\"types\":[");
	for (i = 0; i < n; i++) {
		const struct census_type *ty = census__type(c, i);

		sb_puts(sb, i ? ",{\"name\":" : "{\"name\":");
		sb_json_str(sb, ty->name);
		sb_printf(sb, ",\"count\":%lld,\"bytes\":%lld", (long long)ty->count, (long long)ty->bytes);
		if (cli->o.all_objects)
			sb_printf(sb, ",\"untracked\":%lld", (long long)ty->untracked);
		sb_putc(sb, '}');
	}
	sb_puts(sb, "],\"containers\":[");
	for (i = 0; i < census__ncontainers(c); i++) {
		const struct census_container *k = census__container(c, i);

		sb_printf(sb, "%s{\"addr\":\"0x%llx\",\"type\":", i ? "," : "", (unsigned long long)k->addr);
		sb_json_str(sb, k->type_name);
		sb_printf(sb, ",\"len\":%lld}", (long long)k->len);
	}
	sb_putc(sb, ']');
	if (g) {
		sb_printf(sb, ",\"growth_seconds\":%.3f,\"growth\":[", cli->growth);
		for (i = 0; i < (size_t)ng; i++) {
			sb_puts(sb, i ? ",{\"name\":" : "{\"name\":");
			sb_json_str(sb, g[i].name);
			sb_printf(sb, ",\"count\":%lld,\"delta\":%lld}", (long long)g[i].count, (long long)g[i].delta);
		}
		sb_putc(sb, ']');
	}
	sb_puts(sb, "}\n");
}

static void print_text(struct strbuf *sb, const struct census_cli *cli, const struct py_target *t,
		       const struct census *c, const struct census_growth *g, long ng)
{
	const struct census_stats *s = census__stats(c);
	size_t i, n = census__ntypes(c), shown;
	char hb[32], ver[ESC_TEXT_SIZE(sizeof(t->version))];
	/* Type names are the target's bytes: escaped (util/escape.h), and not cut at the column
	 * width, so the operator sees the whole name even when it pushes the columns right. */
	char name[ESC_TEXT_SIZE(PYOBJ_NAME_MAX)];

	human_bytes(hb, sizeof(hb), census__total_bytes(c));
	sb_printf(sb, "pid %d, python %s: %lld objects, %s shallow%s; walk %.1f ms, %lld reads%s\n", (int)t->pid,
		  esc_text_buf(ver, sizeof(ver), t->version), (long long)census__total_objects(c), hb,
		  cli->o.all_objects ? (s->arenas_scanned ? " (tracked + untracked, estimated)" : " (tracked only)") :
				       " (GC-tracked)",
		  s->walk_ms + s->arena_ms, (long long)s->reads, s->paused ? ", target paused" : "");
	if (cli->o.all_objects && !s->arenas_scanned)
		sb_printf(sb, "all-objects: not available: %s\n", esc_text_buf(name, sizeof(name), s->arenas_why));
	if (cli->o.all_objects && s->arenas_scanned)
		sb_printf(sb, "pymalloc: %lld arenas (%s: %s, %.1f%% of %lld pools self-consistent), %lld blocks in use, "
			      "%lld available\n",
			  (long long)s->pymalloc.arenas, arena_source__name(s->pymalloc.source),
			  s->pymalloc.source == ARENA_SOURCE_TABLE ? "the interpreter's arena table, exact" :
								     "found by scanning anonymous memory, heuristic",
			  100 * arenas__confidence(&s->pymalloc), (long long)s->pymalloc.pools_checked,
			  (long long)s->pymalloc.blocks_used, (long long)s->pymalloc.blocks_avail);
	if (g) {
		shown = cli->top > 0 && (size_t)cli->top < (size_t)ng ? (size_t)cli->top : (size_t)ng;
		sb_printf(sb, "\ngrowth over %.1f s:\n%-50s %12s %10s\n", cli->growth, "TYPE", "COUNT", "DELTA");
		for (i = 0; i < shown; i++)
			sb_printf(sb, "%-50s %12lld %+10lld\n", esc_text_buf(name, sizeof(name), g[i].name),
				  (long long)g[i].count,
				  (long long)g[i].delta);
		if (!ng)
			sb_puts(sb, "(no type grew)\n");
	} else {
		shown = cli->top > 0 && (size_t)cli->top < n ? (size_t)cli->top : n;
		sb_printf(sb, "\n%-50s %12s %14s%s\n", "TYPE", "COUNT", "BYTES", cli->o.all_objects ? "    UNTRACKED" : "");
		for (i = 0; i < shown; i++) {
			const struct census_type *ty = census__type(c, i);

			sb_printf(sb, "%-50s %12lld %14lld", esc_text_buf(name, sizeof(name), ty->name),
				  (long long)ty->count, (long long)ty->bytes);
			if (cli->o.all_objects)
				sb_printf(sb, " %12lld", (long long)ty->untracked);
			sb_putc(sb, '\n');
		}
		if (shown < n)
			sb_printf(sb, "(%zu more types)\n", n - shown);
	}
	if (!s->broken_links && !s->unreadable && !s->bad_pointers && !s->unknown_types && !s->truncated &&
	    !s->timed_out && !s->interrupted)
		sb_puts(sb, "\ninconsistencies: none\n");
	else
		sb_printf(sb,
			  "\ninconsistencies: %lld broken links, %lld unreadable, %lld bad pointers, %lld unknown "
			  "types, %lld repaired, %lld retries%s%s%s\n",
			  (long long)s->broken_links, (long long)s->unreadable, (long long)s->bad_pointers,
			  (long long)s->unknown_types, (long long)s->repairs, (long long)s->retries,
			  s->truncated ? ", truncated" : "",
			  s->timed_out ? ", timed out" : "", s->interrupted ? ", interrupted" : "");
	if (s->partial_generations)
		sb_printf(sb, "warning: %lld generation(s) changed faster than they could be read and are counted "
			      "partially; --pause gives an exact census\n", (long long)s->partial_generations);
}

static int run_one(const struct py_target *t, struct remote *r, const struct census_opts *o, struct census **c)
{
	struct py_features f;
	int err;

	py_features__describe(t, &f);
	if (!f.ok[PYF_CENSUS]) {
		pr_err("pid %d: census %s", (int)t->pid, f.text[PYF_CENSUS]);
		return -ENOTSUP;
	}
	err = census__run(t, r, o, c);

	if (err == -ESRCH)
		pr_err("pid %d: process went away", (int)t->pid);
	else if (err == -EINTR)
		pr_err("census interrupted");
	else if (err)
		pr_err("pid %d: census failed: %s", (int)t->pid, strerror(-err));
	return err;
}

int cmd_census(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' },     { "top", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },	     { "growth", required_argument, NULL, 'g' },
		{ "all-objects", no_argument, NULL, 'a' },   { "pause", no_argument, NULL, 'P' },
		{ "arena-source", required_argument, NULL, 'A' },
		{ "max-nodes", required_argument, NULL, 'M' }, { "budget", required_argument, NULL, 'B' },
		{ "help", no_argument, NULL, 'h' },	     { NULL, 0, NULL, 0 },
	};
	struct census_cli cli = { .top = 20 };
	struct census *a = NULL, *b = NULL;
	struct census_growth *g = NULL;
	struct py_target *t = NULL;
	struct remote r;
	struct strbuf sb;
	long v, ng = 0;
	int c, err, tries, ret = EXIT_FAIL;

	while ((c = getopt_long(argc, argv, "p:n:jg:ah", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_long(optarg, 1, 1 << 30, &v)) {
				pr_err("invalid pid '%s'", optarg);
				return EXIT_USAGE;
			}
			cli.pid = v;
			break;
		case 'n':
			if (parse_long(optarg, 0, 1 << 30, &cli.top)) {
				pr_err("invalid --top '%s'", optarg);
				return EXIT_USAGE;
			}
			cli.top_given = true;
			break;
		case 'j': cli.json = true; break;
		case 'g':
			if (parse_duration(optarg, &cli.growth) || cli.growth <= 0) {
				pr_err("invalid --growth '%s': give seconds, e.g. 30 or 5m", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'a': cli.o.all_objects = true; break;
		case 'P': cli.o.pause = true; break;
		case 'A':
			if (!strcmp(optarg, "table"))
				cli.o.arena_source = ARENA_SOURCE_TABLE;
			else if (!strcmp(optarg, "scan"))
				cli.o.arena_source = ARENA_SOURCE_SCAN;
			else {
				fprintf(stderr, "pyleak: --arena-source must be table or scan, not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'M':
			if (parse_long(optarg, 1, 1l << 40, &cli.o.max_nodes)) {
				pr_err("invalid --max-nodes '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'B':
			if (parse_duration(optarg, &cli.o.budget_s) || cli.o.budget_s <= 0) {
				pr_err("invalid --budget '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h': cmd_usage(stdout, census_usage); return EXIT_OK;
		default: cmd_usage(stderr, census_usage); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		pr_err("unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (!cli.pid) {
		pr_err("census needs a process: -p PID (see 'pyleak list')");
		return EXIT_USAGE;
	}
	if (cli.json && !cli.top_given)
		cli.top = 0;
	if (privileges__check(false))
		return EXIT_FAIL;
	sb_init(&sb);
	t = malloc(sizeof(*t));
	if (!t) {
		pr_err("out of memory");
		goto cleanup;
	}
	err = python__inspect(cli.pid, t);
	if (err) {
		if (err == -ESRCH)
			pr_err("pid %d: no such process", (int)cli.pid);
		else if (err == -ENOENT)
			pr_err("pid %d: %s", (int)cli.pid, t->why[0] ? t->why : "not a CPython process");
		else
			pr_err("pid %d: cannot inspect: %s", (int)cli.pid, strerror(-err));
		goto cleanup;
	}
	if (!t->supported) {
		pr_err("pid %d: python %s cannot be observed: %s", (int)cli.pid, t->version, t->why);
		goto cleanup;
	}
	remote__init_pid(&r, cli.pid);
	/* Right after exec the interpreter may not be initialised yet: give it a moment. */
	for (tries = 0; (err = python__resolve_gc(t, &r)) == -EAGAIN && tries < 20 && !exiting; tries++)
		sleep_interruptible_ms(50);
	if (err) {
		pr_err("pid %d: cannot find the GC state: %s", (int)cli.pid, strerror(-err));
		goto cleanup;
	}
	cli.o.types = pyobj_types__new(t->layout);
	if (!cli.o.types) {
		pr_err("out of memory");
		goto cleanup;
	}
	if (run_one(t, &r, &cli.o, &a))
		goto cleanup;
	if (cli.growth > 0) {
		sleep_interruptible_ms((long)(cli.growth * 1000));
		if (exiting) {
			pr_err("interrupted before the second census");
			goto cleanup;
		}
		if (run_one(t, &r, &cli.o, &b))
			goto cleanup;
		ng = census__diff(a, b, &g);
		if (ng < 0) {
			pr_err("out of memory");
			goto cleanup;
		}
	}
	if (cli.json)
		print_json(&sb, &cli, t, b ? b : a, b ? g : NULL, ng);
	else
		print_text(&sb, &cli, t, b ? b : a, b ? g : NULL, ng);
	if (sb.oom) {
		pr_err("out of memory");
		goto cleanup;
	}
	fputs(sb.buf, stdout);
	ret = fflush(stdout) ? EXIT_FAIL : EXIT_OK;
cleanup:
	free(g);
	census__free(a);
	census__free(b);
	pyobj_types__free(cli.o.types);
	sb_free(&sb);
	free(t);
	return ret;
}
