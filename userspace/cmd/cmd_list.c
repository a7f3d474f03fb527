/* SPDX-License-Identifier: BSD-2-Clause */
/* `pyleak list`: every CPython process on the host, its interpreter facts and GC probe tier. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmds.h"
#include "util/common.h"
#include "util/escape.h"
#include "target/python.h"
#include "target/features.h"

static const char list_usage[] =
	"pyleak list: list every CPython process on the host\n"
	"\n"
	"USAGE\n"
	"    pyleak list [--json] [-p PID[,PID...]] [--all]\n"
	"\n"
	"One row per CPython process: host pid (and the pid inside its namespace when it runs in a\n"
	"container), interpreter version, the GC observation tier pyleak will use (usdt: the\n"
	"interpreter's own gc__start/gc__done probes; uprobe: a probe on the collector function named\n"
	"in .symtab; poll: counters read from memory, pauses estimated), build facts and the command.\n"
	"\n"
	"OPTIONS\n"
	"    -p, --pid PIDS   only these host pids (comma separated)\n"
	"    -j, --json       one JSON object: {\"time\", \"processes\": [...]} (docs/json.md)\n"
	"    -a, --all        also show Python processes pyleak cannot observe, with the reason\n"
	"                     (they are always in --json, with \"supported\": false and \"why\")\n"
	"    -h, --help       this text\n"
	"\n"
	"EXAMPLES\n"
	"    sudo pyleak list\n"
	"    sudo pyleak list --json | jq '.processes[] | {pid, python, gc_source}'\n"
	"    sudo pyleak list -p 4242\n";

static void flags_str(const struct py_target *t, char *buf, size_t sz)
{
	snprintf(buf, sz, "%s%s%s%s%s%s", t->shared ? "shared" : "static", t->has_usdt ? ",usdt" : "",
		 t->has_symtab ? ",symtab" : ",stripped", t->debug_offsets ? ",dbgoff" : "",
		 t->free_threaded ? ",ft" : "", t->day_one ? ",dayone" : "");
}

static void print_json(struct strbuf *sb, const struct py_target *t)
{
	sb_printf(sb, "{\"pid\":%d,\"ns_pid\":%d,\"comm\":", t->pid, t->ns_pid);
	sb_json_str(sb, t->comm);
	sb_puts(sb, ",\"cmdline\":");
	sb_json_str(sb, t->cmdline);
	sb_puts(sb, ",\"exe\":");
	sb_json_str(sb, t->exe);
	sb_puts(sb, ",\"libpython\":");
	sb_json_str(sb, t->libpython[0] ? t->libpython : NULL);
	sb_puts(sb, ",\"runtime_path\":");
	sb_json_str(sb, t->runtime_path);
	sb_puts(sb, ",\"python\":");
	sb_json_str(sb, t->version);
	sb_printf(sb, ",\"usdt\":%s,\"symtab\":%s,\"debuginfo\":%s,\"shared\":%s,\"free_threaded\":%s,"
		      "\"debug_offsets\":%s,\"gc_source\":\"%s\",\"supported\":%s,\"why\":",
		  t->has_usdt ? "true" : "false", t->has_symtab ? "true" : "false",
		  t->has_debuginfo ? "true" : "false", t->shared ? "true" : "false",
		  t->free_threaded ? "true" : "false", t->debug_offsets ? "true" : "false",
		  gc_tier__name(t->tier), t->supported ? "true" : "false");
	sb_json_str(sb, t->supported ? NULL : t->why);
	if (t->supported) {
		struct py_features f;

		/* per feature what pyleak can do here and what is missing (DESIGN.md: day one) */
		py_features__describe(t, &f);
		sb_puts(sb, ",\"features\":{");
		for (int i = 0; i < PYF_COUNT; i++) {
			sb_printf(sb, "%s\"%s\":", i ? "," : "", py_feature__name(i));
			sb_json_str(sb, f.text[i]);
		}
		sb_putc(sb, '}');
	} else {
		sb_puts(sb, ",\"features\":null");
	}
	sb_printf(sb, ",\"day_one\":%s", t->day_one ? "true" : "false");
	sb_printf(sb, ",\"in_container\":%s,\"container_id\":", t->in_container ? "true" : "false");
	sb_json_str(sb, t->container_id[0] ? t->container_id : NULL);
	sb_puts(sb, ",\"cgroup\":");
	sb_json_str(sb, t->cgroup);
	sb_putc(sb, '}');
}

int cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' }, { "json", no_argument, NULL, 'j' },
		{ "all", no_argument, NULL, 'a' },	 { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct py_target *t = NULL;
	struct strbuf sb;
	pid_t *pids = NULL;
	int sel[PID_LIST_MAX], nsel = 0, n, i, c, shown = 0, err = 0, ret = EXIT_FAIL;
	bool json = false, all = false;

	sb_init(&sb);
	while ((c = getopt_long(argc, argv, "p:jah", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			nsel = parse_pid_list(optarg, sel, ARRAY_SIZE(sel));
			if (nsel < 0) {
				pr_pid_list_error(optarg, nsel);
				return EXIT_USAGE;
			}
			break;
		case 'j': json = true; break;
		case 'a': all = true; break;
		case 'h': cmd_usage(stdout, list_usage); return EXIT_OK;
		default: cmd_usage(stderr, list_usage); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		pr_err("unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (privileges__check(false))
		return EXIT_FAIL;
	t = malloc(sizeof(*t));
	if (!t) {
		pr_err("out of memory");
		return EXIT_FAIL;
	}
	if (nsel) {
		n = nsel;
		pids = malloc(n * sizeof(*pids));
		if (!pids)
			goto cleanup;
		for (i = 0; i < n; i++)
			pids[i] = sel[i];
	} else {
		n = proc__list_pids(&pids);
		if (n < 0) {
			pr_err("cannot read /proc: %s", strerror(-n));
			goto cleanup;
		}
	}
	if (json)
		sb_printf(&sb, "{\"time\":%.3f,\"processes\":[", now_wall());
	else
		sb_printf(&sb, "%7s %7s %-8s %-6s %-28s %s\n", "PID", "NSPID", "PYTHON", "TIER", "BUILD", "COMMAND");
	for (i = 0; i < n; i++) {
		if (pids[i] == getpid())
			continue;
		err = python__inspect(pids[i], t);
		if (err) {
			/* Explicit pids deserve a reason; a scan skips non-Python and vanished ones quietly. */
			if (nsel) {
				if (err == -ESRCH)
					pr_err("pid %d: no such process", pids[i]);
				else if (err == -ENOENT)
					pr_err("pid %d: %s", pids[i], t->why[0] ? t->why : "not a CPython process");
				else
					pr_err("pid %d: cannot inspect: %s", pids[i], strerror(-err));
				ret = EXIT_FAIL;
				goto cleanup;
			}
			continue;
		}
		if (json) {
			if (shown)
				sb_putc(&sb, ',');
			print_json(&sb, t);
		} else if (t->supported || all || nsel) {
			/* version, command line and the refusal name the target's bytes (util/escape.h) */
			char flags[80], ns[16] = "-", ver[ESC_TEXT_SIZE(sizeof(t->version))];
			char cmd[201] /* the column shows 200 bytes, cut at a whole escape */, why[ESC_TEXT_SIZE(sizeof(t->why))];

			flags_str(t, flags, sizeof(flags));
			if (t->ns_pid != t->pid)
				snprintf(ns, sizeof(ns), "%d", t->ns_pid);
			sb_printf(&sb, "%7d %7s %-8s %-6s %-28s %s\n", t->pid, ns,
				  esc_text_buf(ver, sizeof(ver), t->version), t->supported ? gc_tier__name(t->tier) : "-",
				  flags, esc_text_buf(cmd, sizeof(cmd), t->cmdline));
			if (!t->supported) {
				sb_printf(&sb, "%7s %7s not observable: %s\n", "", "", esc_text_buf(why, sizeof(why), t->why));
			} else {
				struct py_features f;

				/* one line per feature pyleak cannot do on this process */
				py_features__describe(t, &f);
				for (int i = 0; i < PYF_COUNT; i++)
					if (!f.ok[i])
						sb_printf(&sb, "%7s %7s %s %s\n", "", "", py_feature__name(i), f.text[i]);
				if (t->degraded)
					sb_printf(&sb, "%7s %7s CPython %s%s: running on _Py_DebugOffsets alone\n", "", "",
						  ver, t->day_one ? " is newer than pyleak's tables" : " has no table here");
			}
		}
		shown++;
	}
	if (json)
		sb_puts(&sb, "]}\n");
	fputs(sb.buf, stdout);
	ret = fflush(stdout) ? EXIT_FAIL : EXIT_OK;
cleanup:
	sb_free(&sb);
	free(pids);
	free(t);
	return ret;
}
