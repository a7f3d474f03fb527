/* SPDX-License-Identifier: BSD-2-Clause */
/* Number formatting for people (the TUI and text reports); machine output stays raw. */
#include "util/format.h"

#include <math.h>
#include <stdio.h>

const char *fmt_bytes(char *buf, size_t sz, double b)
{
	static const char units[] = "BKMGTP";
	int u = 0;

	while (fabs(b) >= 1024 && u < 5) {
		b /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, sz, "%.0f%c", b, units[u]);
	else
		snprintf(buf, sz, fabs(b) < 10 ? "%.1f%c" : "%.0f%c", b, units[u]);
	return buf;
}

const char *fmt_sbytes(char *buf, size_t sz, double b)
{
	char tmp[16];

	fmt_bytes(tmp, sizeof(tmp), fabs(b));
	snprintf(buf, sz, "%s%s", b < 0 ? "-" : b > 0 ? "+" : "", tmp);
	return buf;
}

const char *fmt_count(char *buf, size_t sz, double n)
{
	double a = fabs(n);

	if (a < 1000)
		snprintf(buf, sz, a == floor(a) ? "%.0f" : "%.1f", n);
	else if (a < 1e6)
		snprintf(buf, sz, "%.1fk", n / 1e3);
	else if (a < 1e9)
		snprintf(buf, sz, "%.1fM", n / 1e6);
	else
		snprintf(buf, sz, "%.1fG", n / 1e9);
	return buf;
}

const char *fmt_us(char *buf, size_t sz, double us)
{
	if (us < 1000)
		snprintf(buf, sz, "%.0fus", us);
	else if (us < 1e6)
		snprintf(buf, sz, us < 1e4 ? "%.2fms" : "%.1fms", us / 1e3);
	else
		snprintf(buf, sz, "%.2fs", us / 1e6);
	return buf;
}
