/* SPDX-License-Identifier: BSD-2-Clause */
/* Leak statistics: robust growth trends over a sliding window, and the verdicts built on them. */
#include "analysis/leak.h"
#include "util/common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double theil_sen_slope(const double *x, const double *y, int n)
{
	/* n <= LEAK_MAX_POINTS, so at most ~28 680 pairwise slopes: fine once per refresh. */
	static double slopes[LEAK_MAX_POINTS * (LEAK_MAX_POINTS - 1) / 2];
	int i, j, m = 0;

	if (n < 2)
		return 0;
	if (n > LEAK_MAX_POINTS)
		n = LEAK_MAX_POINTS;
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (x[j] != x[i])
				slopes[m++] = (y[j] - y[i]) / (x[j] - x[i]);
	if (!m)
		return 0;
	sort_array(slopes, m, sizeof(double), cmp_double);
	return m % 2 ? slopes[m / 2] : (slopes[m / 2 - 1] + slopes[m / 2]) / 2;
}

double mann_kendall_z(const double *y, int n)
{
	double s = 0, var, ties = 0;
	double sorted[LEAK_MAX_POINTS];
	int i, j;

	if (n < 3)
		return 0;
	if (n > LEAK_MAX_POINTS)
		n = LEAK_MAX_POINTS;
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			s += (y[j] > y[i]) - (y[j] < y[i]);
	/* Tie correction: flat stretches (a count that did not move) are common in censuses. */
	memcpy(sorted, y, n * sizeof(double));
	sort_array(sorted, n, sizeof(double), cmp_double);
	for (i = 0; i < n;) {
		j = i;
		while (j < n && sorted[j] == sorted[i])
			j++;
		if (j - i > 1)
			ties += (double)(j - i) * (j - i - 1) * (2.0 * (j - i) + 5);
		i = j;
	}
	var = ((double)n * (n - 1) * (2.0 * n + 5) - ties) / 18.0;
	if (var <= 0)
		return 0;
	if (s > 0)
		return (s - 1) / sqrt(var);
	if (s < 0)
		return (s + 1) / sqrt(var);
	return 0;
}

double normal_sf(double z)
{
	return 0.5 * erfc(z / sqrt(2.0));
}

void trend__compute(const double *t, const double *y, int n, struct trend *out)
{
	int half, i;

	memset(out, 0, sizeof(*out));
	if (n <= 0)
		return;
	if (n > LEAK_MAX_POINTS)
		n = LEAK_MAX_POINTS;
	out->n = n;
	out->first = y[0];
	out->last = y[n - 1];
	out->span_s = t[n - 1] - t[0];
	/* A flat series (an idle process's RSS, an empty gc.garbage) has every slope and the
	 * Mann-Kendall S at 0: what the sorts below would find, without them. */
	for (i = 1; i < n && y[i] == y[0]; i++)
		;
	if (i == n)
		return;
	out->slope_per_min = theil_sen_slope(t, y, n) * 60.0;
	half = n / 2;
	out->late_slope_per_min = n - half >= 2 ? theil_sen_slope(t + half, y + half, n - half) * 60.0 : 0;
	out->mk_z = mann_kendall_z(y, n);
	out->confidence = out->mk_z > 0 ? 1.0 - normal_sf(out->mk_z) : 0.0;
}

void leak__default_policy(struct leak_policy *p)
{
	p->min_span_s = 20.0;
	p->min_confidence = 0.99;
	p->min_slope_per_min = 30.0;
	p->min_rel_growth = 0.02;
	p->min_late_ratio = 0.3;
}

bool leak__is_growing(const struct trend *tr, const struct leak_policy *p, double *confidence)
{
	double base = fabs(tr->first) > 1 ? fabs(tr->first) : 1;

	*confidence = 0;
	if (tr->n < 5 || tr->span_s < p->min_span_s)
		return false;
	if (tr->slope_per_min < p->min_slope_per_min || tr->confidence < p->min_confidence)
		return false;
	/* Steady churn has a near-zero robust slope; warm-up stops growing in the newer half. */
	if ((tr->last - tr->first) / base < p->min_rel_growth)
		return false;
	if (tr->late_slope_per_min < p->min_late_ratio * tr->slope_per_min)
		return false;
	*confidence = tr->confidence;
	return true;
}

void leak_series__add(struct leak_series *s, double t, double v)
{
	int i;

	if (!s->n) {
		s->t0 = t;
	} else if (t - s->t0 > LEAK_REBASE_S) {
		/* the newest point becomes the base; the older ones go negative by as much, with the
		 * precision of their age (a point hours old is still within a tenth of a second) */
		double shift = t - s->t0;

		for (i = 0; i < LEAK_MAX_POINTS; i++)
			s->dt[i] = (float)((double)s->dt[i] - shift);
		s->t0 = t;
	}
	s->dt[s->head] = (float)(t - s->t0);
	s->v[s->head] = (float)v;
	s->head = (s->head + 1) % LEAK_MAX_POINTS;
	if (s->n < LEAK_MAX_POINTS)
		s->n++;
	s->last_seen = t;
	s->adds++;
}

void leak_series__trend(struct leak_series *s, struct trend *tr)
{
	double t[LEAK_MAX_POINTS], v[LEAK_MAX_POINTS];
	int n;

	if (s->memo_key != s->adds + 1) {
		n = leak_series__points(s, t, v);
		trend__compute(t, v, n, &s->memo);
		s->memo_key = s->adds + 1;
	}
	*tr = s->memo;
}

int leak_series__points(const struct leak_series *s, double *t, double *v)
{
	int i, start = (s->head - s->n + LEAK_MAX_POINTS) % LEAK_MAX_POINTS;

	for (i = 0; i < s->n; i++) {
		t[i] = s->t0 + s->dt[(start + i) % LEAK_MAX_POINTS];
		v[i] = s->v[(start + i) % LEAK_MAX_POINTS];
	}
	return s->n;
}
