/* SPDX-License-Identifier: BSD-2-Clause */
/* `pyleak refs`: who holds an object of a running Python process, from a root down, read from outside. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/census_ft.h"
#include "analysis/refs.h"
#include "cmd/cmds.h"
#include "probes/sites.h" /* pyline__addr2line: line tables (pure functions) */
#include "target/python.h"
#include "util/common.h"
#include "util/escape.h"

static const char refs_usage[] =
	"pyleak refs: the chain of references that keeps objects of a Python process alive\n"
	"\n"
	"USAGE\n"
	"    pyleak refs -p PID (TYPE | 0xADDR) [--depth N] [--max-nodes N] [--max-chains K]\n"
	"                [--format text|json|dot] [--timeout S]\n"
	"\n"
	"For TYPE (named as 'pyleak census' names it: __main__.Session, dict, collections.deque)\n"
	"a few live instances are sampled, the newest first (the young end of the GC lists), the\n"
	"rest spread over the lists; for 0xADDR that object. For each, the shortest chain of\n"
	"references from a root is printed, like objgraph.find_backref_chain:\n"
	"\n"
	"    sys.modules['svc'].__dict__['registry'] → dict['sess-42'] → svc.Session @0x7f…\n"
	"\n"
	"Roots: module globals (sys.modules), frames of live threads (their locals), gc.garbage;\n"
	"a class no module holds is a root as a last resort. The target keeps running: pyleak reads\n"
	"a snapshot (every GC-tracked object and the references it can read: dicts, lists, tuples,\n"
	"sets, deques, instance __dict__ and __slots__, cells, functions, bound and builtin\n"
	"methods, classmethod/staticmethod/property, functools.partial, classes, modules,\n"
	"functools.lru_cache caches, exceptions and tracebacks, asyncio tasks and futures, locals\n"
	"of frames, generators and coroutines), searches it, then reads every link of a chain\n"
	"again: one that no longer holds prints 'chain lost', never a wrong chain. An object held\n"
	"only by a C object whose references pyleak cannot read is reported as such, with the\n"
	"offset of the word that points at it. Objects frozen by gc.freeze() are included.\n"
	"Nothing is written to the target.\n"
	"\n"
	"OPTIONS\n"
	"    -p, --pid PID        the process (host pid)\n"
	"    -d, --depth N        longest chain, in links (default 20)\n"
	"    -n, --max-nodes N    objects in the snapshot (default 20000000)\n"
	"    -k, --max-chains K   instances sampled for TYPE, one chain each (default 3)\n"
	"    -f, --format FMT     text (default), json (docs/json.md, \"refs\"), dot (Graphviz, in the\n"
	"                         spirit of objgraph.show_backrefs: pyleak refs ... -f dot | dot -Tsvg)\n"
	"    -t, --timeout S      wall-clock limit of the snapshot and search (default 60)\n"
	"    -h, --help           this text\n"
	"\n"
	"EXIT STATUS\n"
	"    0 the search ran (each sampled object: a chain, 'held by a C object', 'no chain' or\n"
	"    'chain lost'); 1 no such process, not Python, it exited, no live instance of TYPE, or\n"
	"    0xADDR is not an object; 2 usage.\n"
	"\n"
	"EXAMPLES\n"
	"    sudo pyleak refs -p 4242 __main__.Connection\n"
	"    sudo pyleak refs -p 4242 0x7f3a5c1e2b40 --depth 30\n"
	"    sudo pyleak refs -p 4242 service.Session -f dot | dot -Tsvg > session.svg\n";

enum fmt { FMT_TEXT, FMT_JSON, FMT_DOT };

/* ---------------------------------------------------------------- JSON */

static void json_node(struct strbuf *sb, const struct refs_node *n)
{
	if (n->addr)
		sb_printf(sb, "{\"addr\":\"0x%llx\",\"type\":", (unsigned long long)n->addr);
	else
		sb_puts(sb, "{\"addr\":null,\"type\":");
	esc_json(sb, n->type);
	sb_puts(sb, ",\"name\":");
	esc_json(sb, n->name[0] ? n->name : NULL);
	sb_putc(sb, '}');
}

static void json_edge(struct strbuf *sb, const struct refs_link *lk)
{
	sb_puts(sb, "{\"kind\":");
	esc_json(sb, refs_edge__name(lk->edge));
	switch (lk->edge) {
	case REFS_EDGE_ITEM:
		sb_puts(sb, ",\"key\":");
		if (lk->key_is_int)
			sb_printf(sb, "%lld", (long long)lk->key_int);
		else
			esc_json(sb, lk->key_is_str ? lk->key : NULL);
		sb_puts(sb, ",\"key_type\":");
		esc_json(sb, lk->key_is_str ? "str" : lk->key_is_int ? "int" : lk->key);
		break;
	case REFS_EDGE_INDEX: sb_printf(sb, ",\"index\":%lld", (long long)lk->index); break;
	case REFS_EDGE_OPAQUE: sb_printf(sb, ",\"offset\":%lld", (long long)lk->index); break;
	case REFS_EDGE_ATTR:
	case REFS_EDGE_FIELD:
	case REFS_EDGE_LOCAL:
		sb_puts(sb, ",\"name\":");
		esc_json(sb, lk->key);
		break;
	default: break;
	}
	sb_putc(sb, '}');
}

static void json_chain(struct strbuf *sb, const struct refs_chain *c)
{
	struct strbuf text;
	int i;

	sb_puts(sb, "{\"target\":");
	json_node(sb, &c->target);
	sb_puts(sb, ",\"status\":");
	esc_json(sb, refs_status__name(c->status));
	sb_puts(sb, ",\"why\":");
	esc_json(sb, c->why[0] ? c->why : NULL);
	sb_puts(sb, ",\"root\":{\"kind\":");
	esc_json(sb, refs_root__name(c->root));
	if (c->root == REFS_ROOT_MODULE) {
		sb_puts(sb, ",\"module\":");
		esc_json(sb, c->module);
	} else if (c->root == REFS_ROOT_THREAD) {
		sb_puts(sb, ",\"thread\":");
		esc_json(sb, c->thread[0] ? c->thread : NULL);
		sb_printf(sb, ",\"thread_id\":%llu,\"function\":", (unsigned long long)c->thread_id);
		esc_json(sb, c->function);
		sb_puts(sb, ",\"file\":");
		esc_json(sb, c->file);
		sb_printf(sb, ",\"line\":%d", c->line);
	} else if ((c->root == REFS_ROOT_CLASS || c->root == REFS_ROOT_OPAQUE) && c->nlinks) {
		sb_puts(sb, ",\"object\":");
		json_node(sb, &c->links[0].from);
	}
	sb_puts(sb, "},\"links\":[");
	for (i = 0; i < c->nlinks; i++) {
		sb_puts(sb, i ? ",{\"from\":" : "{\"from\":");
		json_node(sb, &c->links[i].from);
		sb_puts(sb, ",\"edge\":");
		json_edge(sb, &c->links[i]);
		sb_putc(sb, '}');
	}
	sb_puts(sb, "],\"text\":");
	sb_init(&text);
	refs__chain_text(c, &text);
	esc_json(sb, text.oom ? NULL : text.buf);
	sb_free(&text);
	sb_putc(sb, '}');
}

static void print_json(struct strbuf *sb, const struct py_target *t, const char *type, uint64_t addr,
		       const struct refs_result *res)
{
	const struct refs_stats *s = &res->st;
	int i;

	sb_printf(sb, "{\"time\":%.3f,\"pid\":%d,\"python\":", now_wall(), (int)t->pid);
	esc_json(sb, t->version);
	sb_puts(sb, ",\"query\":{\"type\":");
	esc_json(sb, type);
	if (type)
		sb_puts(sb, ",\"addr\":null}");
	else
		sb_printf(sb, ",\"addr\":\"0x%llx\"}", (unsigned long long)addr);
	sb_printf(sb,
		  ",\"instances\":%lld,\"frozen\":%lld,\"sampled\":%d,\"snapshot\":{\"objects\":%lld,"
		  "\"permanent\":%lld,\"references\":%lld,"
		  "\"opaque_objects\":%lld,\"changed_objects\":%lld,\"frames\":%lld,\"modules\":%lld,"
		  "\"snapshot_ms\":%.3f,\"search_ms\":%.3f,\"reads\":%lld,\"bytes_read\":%lld,\"truncated\":%s,"
		  "\"timed_out\":%s,\"census_partial\":%s,\"unreadable_kinds\":",
		  (long long)s->instances, (long long)s->frozen, res->nchains, (long long)s->objects,
		  (long long)s->permanent, (long long)s->references,
		  (long long)s->opaque_objects, (long long)s->changed_objects, (long long)s->frames,
		  (long long)s->modules, s->snapshot_ms, s->search_ms, (long long)s->reads, (long long)s->bytes_read,
		  s->truncated ? "true" : "false", s->timed_out ? "true" : "false", s->census_partial ? "true" : "false");
	esc_json(sb, s->unreadable_kinds[0] ? s->unreadable_kinds : NULL);
	sb_puts(sb, "},\"chains\":[");
	for (i = 0; i < res->nchains; i++) {
		if (i)
			sb_putc(sb, ',');
		json_chain(sb, &res->chains[i]);
	}
	sb_puts(sb, "]}\n");
}

/* ---------------------------------------------------------------- DOT */

/* DOT label text: util/escape's esc_dot (esc_text's visible escapes, then \\ and \" for DOT). */
static void dot_str(struct strbuf *sb, const char *s)
{
	esc_dot(sb, s);
}

static void dot_node_label(struct strbuf *sb, const struct refs_node *n)
{
	sb_puts(sb, "\"");
	dot_str(sb, n->name[0] && !n->c_object ? "class" : n->type);
	if (n->name[0]) {
		sb_puts(sb, "\\n");
		dot_str(sb, n->name);
	}
	if (n->addr)
		sb_printf(sb, "\\n0x%llx", (unsigned long long)n->addr);
	sb_puts(sb, "\"");
}

static void dot_edge_label(struct strbuf *sb, const struct refs_link *lk)
{
	char num[32];

	sb_puts(sb, "\"");
	switch (lk->edge) {
	case REFS_EDGE_ITEM:
		if (lk->key_is_str) {
			sb_puts(sb, "['");
			dot_str(sb, lk->key);
			sb_puts(sb, "']");
		} else if (lk->key_is_int) {
			snprintf(num, sizeof(num), "[%lld]", (long long)lk->key_int);
			sb_puts(sb, num);
		} else {
			sb_puts(sb, "[…]");
		}
		break;
	case REFS_EDGE_KEY: sb_puts(sb, "(key)"); break;
	case REFS_EDGE_INDEX: sb_printf(sb, "[%lld]", (long long)lk->index); break;
	case REFS_EDGE_ELEMENT: sb_puts(sb, "(member)"); break;
	case REFS_EDGE_CELL: sb_puts(sb, "cell_contents"); break;
	case REFS_EDGE_OPAQUE: sb_printf(sb, "+0x%llx (opaque)", (unsigned long long)lk->index); break;
	case REFS_EDGE_LOCAL: sb_puts(sb, "local "); /* fall through */
	default: dot_str(sb, lk->key); break;
	}
	sb_puts(sb, "\"");
}

/* Node id: its address; 3.11+ frame roots (no object) get one per chain. */
static void dot_id(struct strbuf *sb, const struct refs_node *n, int chain)
{
	if (n->addr)
		sb_printf(sb, "o%llx", (unsigned long long)n->addr);
	else
		sb_printf(sb, "frame%d", chain);
}

static void print_dot(struct strbuf *sb, const struct py_target *t, const struct refs_result *res)
{
	char *seen[4096];
	struct strbuf line;
	int i, k, e, nseen = 0;

	sb_init(&line);

	sb_printf(sb, "digraph refs {\n  graph [label=\"pyleak refs, pid %d, python ", (int)t->pid);
	dot_str(sb, t->version);
	sb_puts(sb, "\", labelloc=t, rankdir=TB];\n  node [shape=box, style=filled, fillcolor=\"#f0f0f0\", "
		    "fontname=Helvetica];\n  edge [fontname=Helvetica, fontsize=10];\n");
	/* Objects shared by several chains are declared more than once: DOT merges them. */
	for (i = 0; i < res->nchains; i++) {
		const struct refs_chain *c = &res->chains[i];
		struct strbuf text;

		sb_puts(sb, "  ");
		dot_id(sb, &c->target, i);
		sb_puts(sb, " [label=");
		dot_node_label(sb, &c->target);
		sb_printf(sb, ", fillcolor=\"%s\"];\n", c->status == REFS_FOUND ? "#ffcc88" : "#ff8888");
		if (c->status == REFS_LOST || c->status == REFS_NOT_FOUND) {
			sb_printf(sb, "  note%d [shape=note, fillcolor=white, label=\"", i);
			sb_init(&text);
			refs__chain_text(c, &text);
			dot_str(sb, text.oom ? "?" : text.buf);
			sb_free(&text);
			sb_puts(sb, "\"];\n  ");
			sb_printf(sb, "note%d -> ", i);
			dot_id(sb, &c->target, i);
			sb_puts(sb, " [style=dotted];\n");
			continue;
		}
		for (k = 0; k < c->nlinks; k++) {
			const struct refs_link *lk = &c->links[k];
			const struct refs_node *to = k + 1 < c->nlinks ? &c->links[k + 1].from : &c->target;

			sb_puts(sb, "  ");
			dot_id(sb, &lk->from, i);
			sb_puts(sb, " [label=");
			if (k == 0 && c->root != REFS_ROOT_OPAQUE && c->root != REFS_ROOT_CLASS) {
				sb_putc(sb, '"');
				if (c->root == REFS_ROOT_MODULE) {
					sb_puts(sb, "sys.modules['");
					dot_str(sb, c->module);
					sb_puts(sb, "'].__dict__");
				} else if (c->root == REFS_ROOT_GARBAGE) {
					sb_puts(sb, "gc.garbage");
				} else {
					sb_puts(sb, "thread '");
					dot_str(sb, c->thread[0] ? c->thread : "?");
					sb_puts(sb, "'\\nframe ");
					dot_str(sb, c->function);
					sb_puts(sb, "\\n");
					dot_str(sb, c->file);
					sb_printf(sb, ":%d", c->line);
				}
				sb_puts(sb, "\", shape=ellipse, fillcolor=\"#88ccff\"");
			} else {
				dot_node_label(sb, &lk->from);
				if (k == 0)
					sb_printf(sb, ", fillcolor=\"%s\"", c->root == REFS_ROOT_OPAQUE ? "#dddddd" : "#88ccff");
			}
			sb_puts(sb, "];\n");
			/* chains of one type share their upper links: each edge is drawn once */
			sb_reset(&line);
			sb_puts(&line, "  ");
			dot_id(&line, &lk->from, i);
			sb_puts(&line, " -> ");
			dot_id(&line, to, i);
			sb_puts(&line, " [label=");
			dot_edge_label(&line, lk);
			if (lk->edge == REFS_EDGE_OPAQUE)
				sb_puts(&line, ", style=dashed");
			sb_puts(&line, "];\n");
			for (e = 0; e < nseen && !line.oom; e++)
				if (!strcmp(seen[e], line.buf))
					break;
			if (line.oom || e < nseen)
				continue;
			sb_puts(sb, line.buf);
			if (nseen < (int)ARRAY_SIZE(seen) && (seen[nseen] = strdup(line.buf)))
				nseen++;
		}
	}
	sb_puts(sb, "}\n");
	for (e = 0; e < nseen; e++)
		free(seen[e]);
	sb_free(&line);
}

/* ---------------------------------------------------------------- text */

static void print_text(struct strbuf *sb, const struct py_target *t, const char *type, uint64_t addr,
		       const struct refs_result *res)
{
	const struct refs_stats *s = &res->st;
	int i;

	sb_printf(sb, "pid %d, python %s: ", (int)t->pid, t->version);
	if (type) {
		sb_printf(sb, "%lld live instance%s of ", (long long)s->instances, s->instances == 1 ? "" : "s");
		esc_text(sb, type); /* the type as typed */
		if (s->frozen)
			sb_printf(sb, " (%lld frozen by gc.freeze())", (long long)s->frozen);
		sb_printf(sb, ", %d sampled", res->nchains);
	} else {
		sb_printf(sb, "object 0x%llx", (unsigned long long)addr);
	}
	sb_printf(sb, "; snapshot of %lld objects and %lld references in %.0f ms (%lld changed while read, %lld "
		      "C objects read only as opaque)%s%s\n\n",
		  (long long)s->objects, (long long)s->references, s->snapshot_ms + s->search_ms,
		  (long long)s->changed_objects, (long long)s->opaque_objects,
		  s->truncated ? "; TRUNCATED at --max-nodes" : "", s->timed_out ? "; TIMED OUT" : "");
	for (i = 0; i < res->nchains; i++) {
		refs__chain_text(&res->chains[i], sb);
		sb_putc(sb, '\n');
	}
	if (s->unreadable_kinds[0])
		sb_printf(sb, "\nwarning: pyleak's layout table for python %s has no offsets for: %s; such objects "
			      "are only scanned as opaque, so chains through them are missing\n",
			  t->version, s->unreadable_kinds);
	if (s->truncated || s->timed_out || s->census_partial)
		sb_puts(sb, "\nwarning: the snapshot is partial: a chain may be missing (never a wrong one); raise "
			    "--max-nodes / --timeout\n");
}

/* ---------------------------------------------------------------- command */

int cmd_refs(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' },	{ "depth", required_argument, NULL, 'd' },
		{ "max-nodes", required_argument, NULL, 'n' }, { "max-chains", required_argument, NULL, 'k' },
		{ "format", required_argument, NULL, 'f' },	{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },		{ NULL, 0, NULL, 0 },
	};
	struct refs_opts o = { .addr2line = pyline__addr2line };
	struct refs_result *res = NULL;
	struct py_target *t = NULL;
	const char *what = NULL, *type = NULL;
	enum fmt fmt = FMT_TEXT;
	uint64_t addr = 0;
	struct remote r;
	struct strbuf sb;
	pid_t pid = 0;
	long v;
	int c, err, tries, ret = EXIT_FAIL;

	while ((c = getopt_long(argc, argv, "p:d:n:k:f:t:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_long(optarg, 1, 1 << 30, &v)) {
				pr_err("refs: invalid pid '%s'", optarg);
				return EXIT_USAGE;
			}
			pid = v;
			break;
		case 'd':
			if (parse_long(optarg, 1, 500, &v)) {
				pr_err("refs: invalid --depth '%s': give 1 to 500 links", optarg);
				return EXIT_USAGE;
			}
			o.max_depth = v;
			break;
		case 'n':
			if (parse_long(optarg, 1, 1l << 30, &o.max_nodes)) {
				pr_err("refs: invalid --max-nodes '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'k':
			if (parse_long(optarg, 1, 256, &v)) {
				pr_err("refs: invalid --max-chains '%s': give 1 to 256", optarg);
				return EXIT_USAGE;
			}
			o.max_chains = v;
			break;
		case 'f':
			if (!strcmp(optarg, "text")) {
				fmt = FMT_TEXT;
			} else if (!strcmp(optarg, "json")) {
				fmt = FMT_JSON;
			} else if (!strcmp(optarg, "dot")) {
				fmt = FMT_DOT;
			} else {
				pr_err("refs: unknown --format '%s': text, json or dot", optarg);
				return EXIT_USAGE;
			}
			break;
		case 't':
			if (parse_duration(optarg, &o.timeout_s) || o.timeout_s <= 0) {
				pr_err("refs: invalid --timeout '%s': give seconds, e.g. 30 or 2m", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h': cmd_usage(stdout, refs_usage); return EXIT_OK;
		default: cmd_usage(stderr, refs_usage); return EXIT_USAGE;
		}
	}
	if (optind < argc)
		what = argv[optind++];
	if (optind < argc) {
		pr_err("refs: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (!pid) {
		pr_err("refs: needs a process: -p PID (see 'pyleak list')");
		return EXIT_USAGE;
	}
	if (!what || !what[0]) {
		pr_err("refs: needs a type name (e.g. __main__.Session) or an object address (0x...)");
		return EXIT_USAGE;
	}
	if (what[0] == '0' && (what[1] == 'x' || what[1] == 'X')) {
		char *end;

		errno = 0;
		addr = strtoull(what + 2, &end, 16);
		if (errno || *end || end == what + 2 || !addr) {
			pr_err("refs: invalid address '%s'", what);
			return EXIT_USAGE;
		}
	} else {
		type = what;
	}
	if (privileges__check(false))
		return EXIT_FAIL;
	sb_init(&sb);
	t = malloc(sizeof(*t));
	if (!t) {
		pr_err("refs: out of memory");
		goto cleanup;
	}
	err = python__inspect(pid, t);
	if (err) {
		if (err == -ESRCH)
			pr_err("refs: pid %d: no such process", (int)pid);
		else if (err == -ENOENT)
			pr_err("refs: pid %d: %s", (int)pid, t->why[0] ? t->why : "not a CPython process");
		else
			pr_err("refs: pid %d: cannot inspect: %s", (int)pid, strerror(-err));
		goto cleanup;
	}
	if (!t->supported) {
		pr_err("refs: pid %d: python %s cannot be observed: %s", (int)pid, t->version, t->why);
		goto cleanup;
	}
	remote__init_pid(&r, pid);
	for (tries = 0; (err = python__resolve_gc(t, &r)) == -EAGAIN && tries < 20 && !exiting; tries++)
		sleep_interruptible_ms(50);
	if (err) {
		pr_err("refs: pid %d: cannot find the GC state: %s", (int)pid, strerror(-err));
		goto cleanup;
	}
	if (t->free_threaded && !census_ft__supported(t)) {
		/* the snapshot starts from the objects the census finds: in the mimalloc heaps here */
		pr_err("refs: pid %d: python %s is a free-threaded build whose mimalloc heap layout this pyleak "
		       "does not know: retention chains are not supported there", (int)pid, t->version);
		goto cleanup;
	}
	o.types = pyobj_types__new(t->layout);
	if (!o.types) {
		pr_err("refs: out of memory");
		goto cleanup;
	}
	err = refs__run(t, &r, &o, type, addr, &res);
	if (err) {
		if (err == -ENOENT)
			pr_err("refs: pid %d: no live GC-tracked instance of type '%s' (names as 'pyleak census -p %d' "
			       "prints them)", (int)pid, type, (int)pid);
		else if (err == -E2BIG)
			pr_err("refs: pid %d: no instance of type '%s' among the objects read before --max-nodes or "
			       "--timeout cut the walk: raise them", (int)pid, type);
		else if (err == -EINVAL)
			pr_err("refs: pid %d: 0x%llx is not a live Python object", (int)pid, (unsigned long long)addr);
		else if (err == -ESRCH)
			pr_err("refs: pid %d: the process exited while pyleak was reading it", (int)pid);
		else if (err == -EINTR)
			pr_err("refs: interrupted");
		else
			pr_err("refs: pid %d: %s", (int)pid, strerror(-err));
		goto cleanup;
	}
	if (fmt == FMT_JSON)
		print_json(&sb, t, type, addr, res);
	else if (fmt == FMT_DOT)
		print_dot(&sb, t, res);
	else
		print_text(&sb, t, type, addr, res);
	if (sb.oom) {
		pr_err("refs: out of memory");
		goto cleanup;
	}
	fputs(sb.buf, stdout);
	ret = fflush(stdout) ? EXIT_FAIL : EXIT_OK;
cleanup:
	refs__free(res);
	pyobj_types__free(o.types);
	sb_free(&sb);
	free(t);
	return ret;
}
