/* SPDX-License-Identifier: BSD-2-Clause */
/* Test-only driver of userspace/probes/sites.c until `pyleak top -b --sites` is wired: samples one pid
 * for a while and prints its allocation sites as JSON (default) or collapsed stacks.
 *
 *   sites_probe PID SECONDS [--collapsed] [--all-generations] [--fault-code-type]
 *
 * Built by tests/integration/test_sites.py with cc against .output/libpyleak.a.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/common.h"
#include "target/python.h"
#include "target/remote.h"
#include "probes/sites.h"

static void print_json(const struct py_target *t, const struct sites_report *rep)
{
	const struct sites_counters *c = &rep->counters;
	struct strbuf sb;
	char name[SITES_FILE_MAX + SITES_FUNC_MAX + 16];
	int i, k;

	sb_init(&sb);
	sb_printf(&sb, "{\"pid\":%d,\"version\":", (int)rep->pid);
	sb_json_str(&sb, t->version);
	sb_printf(&sb, ",\"tier\":\"%s\",\"counters\":{\"triggers\":%llu,\"samples\":%llu,"
		       "\"captured\":%llu,\"truncated\":%llu,\"empty\":%llu,\"walk_errors\":%llu,"
		       "\"err_no_tstate\":%llu,\"err_read\":%llu,\"err_loop\":%llu,\"err_not_code\":%llu,"
		       "\"err_too_many\":%llu,\"tstate_fallback\":%llu,\"stacks_full\":%llu,"
		       "\"counts_full\":%llu,\"walk_ns\":%llu,\"frames\":%llu},\"total\":%llu,\"stacks\":[",
		  gc_tier__name(t->tier), (unsigned long long)c->triggers, (unsigned long long)c->samples,
		  (unsigned long long)c->captured, (unsigned long long)c->truncated,
		  (unsigned long long)c->empty, (unsigned long long)c->walk_errors,
		  (unsigned long long)c->err_no_tstate, (unsigned long long)c->err_read,
		  (unsigned long long)c->err_loop, (unsigned long long)c->err_not_code,
		  (unsigned long long)c->err_too_many, (unsigned long long)c->tstate_fallback,
		  (unsigned long long)c->stacks_full, (unsigned long long)c->counts_full,
		  (unsigned long long)c->walk_ns, (unsigned long long)c->frames, (unsigned long long)rep->total);
	for (i = 0; i < rep->nstacks; i++) {
		const struct site_stack *st = &rep->stacks[i];

		sb_printf(&sb, "%s{\"count\":%llu,\"truncated\":%s,\"frames\":[", i ? "," : "",
			  (unsigned long long)st->count, st->truncated ? "true" : "false");
		for (k = 0; k < st->nframes; k++) {
			const struct site_frame *f = &st->frames[k];

			site_frame__format(f, name, sizeof(name));
			sb_printf(&sb, "%s{\"file\":", k ? "," : "");
			sb_json_str(&sb, f->code ? f->code->file : NULL);
			sb_puts(&sb, ",\"function\":");
			sb_json_str(&sb, f->code ? f->code->func : NULL);
			sb_printf(&sb, ",\"line\":%d,\"insn\":%d,\"name\":", f->line, f->insn);
			sb_json_str(&sb, name);
			sb_putc(&sb, '}');
		}
		sb_puts(&sb, "]}");
	}
	sb_puts(&sb, "]}\n");
	fputs(sb.buf ? sb.buf : "", stdout);
	sb_free(&sb);
}

int main(int argc, char **argv)
{
	struct sites_opts opts = {0};
	struct sites_report rep;
	struct py_target t;
	struct remote r;
	struct sites *s = NULL;
	enum sites_fault fault = SITES_FAULT_NONE;
	bool collapsed = false;
	double secs;
	pid_t pid;
	int i, err;

	if (argc < 3) {
		fprintf(stderr, "usage: sites_probe PID SECONDS [--collapsed] [--all-generations] [--fault-code-type]\n");
		return 2;
	}
	pid = atoi(argv[1]);
	secs = atof(argv[2]);
	for (i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--collapsed"))
			collapsed = true;
		else if (!strcmp(argv[i], "--all-generations"))
			opts.all_generations = true;
		else if (!strcmp(argv[i], "--fault-code-type"))
			fault = SITES_FAULT_CODE_TYPE;
	}
	err = python__inspect(pid, &t);
	if (err || !t.supported) {
		fprintf(stderr, "pyleak: cannot inspect pid %d: %s\n", (int)pid, err ? strerror(-err) : t.why);
		return 1;
	}
	remote__init_pid(&r, pid);
	for (i = 0; i < 50 && (err = python__resolve_gc(&t, &r)) == -EAGAIN; i++)
		usleep(100000);
	if (err) {
		fprintf(stderr, "pyleak: cannot resolve gc state of %d: %s\n", (int)pid, strerror(-err));
		return 1;
	}
	err = sites__open(&s, &opts);
	if (err)
		return 1;
	err = sites__add_target(s, &t);
	if (err) {
		fprintf(stderr, "pyleak: cannot sample sites of pid %d: %s\n", (int)pid, strerror(-err));
		sites__destroy(s);
		return 1;
	}
	if (fault != SITES_FAULT_NONE && sites__inject_fault(s, pid, fault)) {
		fprintf(stderr, "pyleak: cannot inject fault for pid %d\n", (int)pid);
		sites__destroy(s);
		return 1;
	}
	usleep((useconds_t)(secs * 1e6));
	err = sites__read(s, pid, &rep);
	if (err) {
		fprintf(stderr, "pyleak: cannot read sites of pid %d: %s\n", (int)pid, strerror(-err));
		sites__destroy(s);
		return 1;
	}
	if (collapsed) {
		struct strbuf sb;

		sb_init(&sb);
		sites__format_collapsed(&rep, NULL, &sb);
		fputs(sb.buf ? sb.buf : "", stdout);
		sb_free(&sb);
	} else {
		print_json(&t, &rep);
	}
	sites_report__free(&rep);
	sites__destroy(s);
	return 0;
}
