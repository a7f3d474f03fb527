/* SPDX-License-Identifier: BSD-2-Clause */
/* Sampled native allocations as the model and every view read them: samples, stacks, verdicts. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/native.h"
#include "util/escape.h"
#include "util/format.h"

void native_report__free(struct native_report *rep)
{
	if (!rep)
		return;
	free(rep->samples);
	free(rep->stacks);
	rep->samples = NULL;
	rep->stacks = NULL;
	rep->nsamples = rep->nstacks = 0;
}

int native_stack__format(const struct native_stack *st, int max_py, char *buf, size_t size)
{
	char frame[SITES_FILE_MAX + SITES_FUNC_MAX + 16];
	size_t len = 0;
	int i, n;

	if (!size)
		return -ENAMETOOLONG;
	buf[0] = '\0';
	n = snprintf(buf, size, "%s", st->caller);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	len = (size_t)n;
	for (i = 0; i < st->ndeeper; i++) {
		n = snprintf(buf + len, size - len, " <- %s", st->deeper[i]);
		if (n < 0 || (size_t)n >= size - len)
			return -ENAMETOOLONG;
		len += (size_t)n;
	}
	for (i = 0; i < st->py.nframes && i < max_py; i++) {
		site_frame__format(&st->py.frames[i], frame, sizeof(frame));
		n = snprintf(buf + len, size - len, " <- %s", frame);
		if (n < 0 || (size_t)n >= size - len)
			return -ENAMETOOLONG;
		len += (size_t)n;
	}
	return 0;
}

/* Frames carry target-controlled names: escaped as every collapsed output is (util/escape.h). */
static void put_frame(struct strbuf *sb, const char *s)
{
	esc_collapsed(sb, s);
}

uint64_t native_stack__weight(const struct native_report *rep, const struct native_stack *st)
{
	const struct native_counters *c = &rep->counters;
	double scale = c->observed_s > 0 ? (c->every ? c->every : 1) * c->elapsed_s / c->observed_s : 0;

	return st->out_blocks ? (uint64_t)((double)st->out_bytes * scale) : 0;
}

/* A frame escaped by esc, or as it is (esc NULL: the trace stores names raw, as for sites). */
static void frame_out(struct strbuf *sb, esc_fn esc, const char *s)
{
	if (esc)
		esc(sb, s);
	else
		sb_puts(sb, s);
}

void native_stack__collapsed_path(const struct native_stack *st, esc_fn esc, struct strbuf *sb)
{
	char frame[SITES_FILE_MAX + SITES_FUNC_MAX + 16];
	int k;

	if (st->py.truncated)
		sb_puts(sb, "[truncated];");
	for (k = st->py.nframes - 1; k >= 0; k--) {
		site_frame__format(&st->py.frames[k], frame, sizeof(frame));
		frame_out(sb, esc, frame);
		sb_putc(sb, ';');
	}
	for (k = st->ndeeper - 1; k >= 0; k--) {
		frame_out(sb, esc, st->deeper[k]);
		sb_putc(sb, ';');
	}
	frame_out(sb, esc, st->caller);
}

int native__format_collapsed(const struct native_report *rep, const char *root, struct strbuf *sb)
{
	int i, lines = 0;

	for (i = 0; i < rep->nstacks; i++) {
		const struct native_stack *st = &rep->stacks[i];
		uint64_t weight = native_stack__weight(rep, st);

		if (!weight)
			continue;
		if (root) {
			put_frame(sb, root);
			sb_putc(sb, ';');
		}
		native_stack__collapsed_path(st, esc_collapsed, sb);
		sb_printf(sb, " %llu\n", (unsigned long long)weight);
		lines++;
	}
	return lines;
}

void native_stack__evidence(const struct native_stack *st, char *buf, size_t size)
{
	char where[1024], rate[32];

	native_stack__format(st, 2, where, sizeof(where));
	fmt_bytes(rate, sizeof(rate), st->growth_bytes_per_min);
	snprintf(buf, size, "%s: +%s/min outstanding, %.0f%% of sampled %s still allocated (%s checked)", where, rate,
		 100 * st->out_ratio, st->mapping ? "mappings" : "blocks",
		 st->mapping ? "/proc/PID/maps" : "chunk headers");
}

void native__format_json(const struct native_report *rep, struct strbuf *sb)
{
	const struct native_counters *c = &rep->counters;
	char line[2048];
	int i, j, n = 0;

	sb_printf(sb,
		  "{\"every\":%u,\"observed_s\":%.3f,\"elapsed_s\":%.3f,\"slices\":%llu,\"overhead_pct\":%.3f,"
		  "\"verified\":\"%s\",\"walk_partial\":%s,\"calls\":%llu,\"frees\":%llu,\"sampled\":%llu,"
		  "\"recorded\":%llu,\"freed_seen\":%llu,\"py_errors\":%llu,\"full\":{\"inflight\":%llu,"
		  "\"live\":%llu,\"stacks\":%llu,\"ring\":%llu,\"samples\":%llu},\"outside_slices\":%llu,"
		  "\"outstanding_samples\":%d",
		  c->every, c->observed_s, c->elapsed_s, (unsigned long long)c->slices, c->overhead_pct,
		  rep->verified == NATIVE_VERIFIED_HEADERS ? "chunk_headers" : "none",
		  rep->walk_partial ? "true" : "false", (unsigned long long)c->calls, (unsigned long long)c->frees,
		  (unsigned long long)c->sampled, (unsigned long long)c->recorded, (unsigned long long)c->freed,
		  (unsigned long long)c->py_errors, (unsigned long long)c->inflight_full,
		  (unsigned long long)c->live_full, (unsigned long long)c->stacks_full,
		  (unsigned long long)c->ring_full, (unsigned long long)c->samples_dropped,
		  (unsigned long long)c->outside_slices, rep->nsamples);
	sb_puts(sb, ",\"suspects\":[");
	for (i = 0; i < rep->nstacks; i++) {
		if (!rep->stacks[i].suspect)
			continue;
		native_stack__evidence(&rep->stacks[i], line, sizeof(line));
		sb_puts(sb, n++ ? ",{\"kind\":\"native\",\"name\":" : "{\"kind\":\"native\",\"name\":");
		sb_json_str(sb, rep->stacks[i].caller);
		sb_puts(sb, ",\"evidence\":");
		sb_json_str(sb, line);
		sb_putc(sb, '}');
	}
	sb_puts(sb, "],\"stacks\":[");
	for (i = 0, n = 0; i < rep->nstacks && n < 50; i++) {
		const struct native_stack *st = &rep->stacks[i];

		if (!st->out_blocks && !st->sampled_blocks)
			continue;
		sb_puts(sb, n++ ? ",{\"caller\":" : "{\"caller\":");
		sb_json_str(sb, st->caller);
		sb_puts(sb, ",\"deeper\":[");
		for (j = 0; j < st->ndeeper; j++) {
			if (j)
				sb_putc(sb, ',');
			sb_json_str(sb, st->deeper[j]);
		}
		sb_puts(sb, "],\"python\":[");
		for (j = 0; j < st->py.nframes; j++) {
			site_frame__format(&st->py.frames[j], line, sizeof(line));
			if (j)
				sb_putc(sb, ',');
			sb_json_str(sb, line);
		}
		sb_printf(sb,
			  "],\"sampled_blocks\":%llu,\"sampled_bytes\":%llu,\"freed_seen\":%llu,\"out_blocks\":%llu,"
			  "\"out_bytes\":%llu,\"gone_blocks\":%llu,\"out_ratio\":%.4f,\"oldest_age_s\":%.3f,"
			  "\"growth_bytes_per_min\":%.1f,\"suspect\":%s,\"verified_by\":\"%s\"}",
			  (unsigned long long)st->sampled_blocks, (unsigned long long)st->sampled_bytes,
			  (unsigned long long)st->freed_seen, (unsigned long long)st->out_blocks,
			  (unsigned long long)st->out_bytes, (unsigned long long)st->gone_blocks, st->out_ratio,
			  st->oldest_age_s, st->growth_bytes_per_min, st->suspect ? "true" : "false",
			  st->mapping ? "maps" : "chunk_headers");
	}
	sb_puts(sb, "]}");
}

