/* SPDX-License-Identifier: BSD-2-Clause */
/* Model arithmetic shared by every view: history ring, rates, pause summaries. */
#include "model/model.h"

#include <string.h>

const char *suspect_kind__name(enum suspect_kind k)
{
	switch (k) {
	case SUSPECT_TYPE: return "type";
	case SUSPECT_CONTAINER: return "container";
	case SUSPECT_GARBAGE: return "garbage";
	case SUSPECT_RSS: return "rss";
	case SUSPECT_NATIVE: return "native";
	}
	return "unknown";
}

const char *suspect_chain__name(enum suspect_chain c)
{
	switch (c) {
	case SUSPECT_CHAIN_NONE: return "none";
	case SUSPECT_CHAIN_FOUND: return "found";
	case SUSPECT_CHAIN_OPAQUE: return "opaque";
	case SUSPECT_CHAIN_LOST: return "lost";
	case SUSPECT_CHAIN_NOT_FOUND: return "not_found";
	}
	return "unknown";
}

const struct proc_sample *proc_row__sample(const struct proc_row *row, int age)
{
	int idx;

	if (age < 0 || age >= row->nhistory)
		return NULL;
	idx = (row->history_head - 1 - age + MODEL_HISTORY * 2) % MODEL_HISTORY;
	return &row->history[idx];
}

void proc_row__push_sample(struct proc_row *row, const struct proc_sample *s)
{
	const struct proc_sample *newest = proc_row__sample(row, 0);

	row->rss_same = newest && newest->rss == s->rss ? row->rss_same + 1 : 1;
	row->history[row->history_head] = *s;
	row->history_head = (row->history_head + 1) % MODEL_HISTORY;
	if (row->nhistory < MODEL_HISTORY)
		row->nhistory++;
}

double proc_row__rss_slope_per_min(const struct proc_row *row, double window_s)
{
	const struct proc_sample *newest = proc_row__sample(row, 0), *s;
	double sx = 0, sy = 0, sxx = 0, sxy = 0, n = 0, x, y, den;
	int i;

	if (!newest || row->nhistory < 2)
		return 0;
	/* Flat over the whole window (an idle process, the common case on a big host): 0 without
	 * the sums, which were 60 samples a process a refresh. */
	s = proc_row__sample(row, row->rss_same);
	if (row->rss_same > 0 && (!s || newest->time - s->time > window_s))
		return 0;
	for (i = 0; i < row->nhistory; i++) {
		s = proc_row__sample(row, i);
		if (newest->time - s->time > window_s)
			break;
		x = s->time - newest->time;
		y = (double)s->rss;
		sx += x;
		sy += y;
		sxx += x * x;
		sxy += x * y;
		n++;
	}
	if (n < 2)
		return 0;
	den = n * sxx - sx * sx;
	if (den <= 0)
		return 0;
	return (n * sxy - sx * sy) / den * 60.0;
}

uint64_t model__next_rows_seq(void)
{
	static uint64_t seq;

	return ++seq;
}

void pause_summary__from_hist(struct pause_summary *ps, const uint32_t *hist, int nslots, uint64_t count,
			      uint64_t sum_ns, uint64_t max_ns)
{
	uint64_t v;

	memset(ps, 0, sizeof(*ps));
	ps->count = count;
	ps->sum_us = sum_ns / 1000;
	ps->max_us = max_ns / 1000;
	if (!count)
		return;
	if (!pause_hist__percentile(hist, nslots, 0.5, &v))
		ps->p50_us = v;
	if (!pause_hist__percentile(hist, nslots, 0.99, &v))
		ps->p99_us = v;
	/* Interpolation inside a bucket can overshoot the exact maximum. */
	if (ps->p50_us > ps->max_us)
		ps->p50_us = ps->max_us;
	if (ps->p99_us > ps->max_us)
		ps->p99_us = ps->max_us;
}
