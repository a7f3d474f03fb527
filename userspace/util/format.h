/* SPDX-License-Identifier: BSD-2-Clause */
/* Number formatting for people (the TUI and text reports); machine output stays raw. */
#ifndef PYLEAK_FORMAT_H
#define PYLEAK_FORMAT_H

#include <stddef.h>
#include <stdint.h>

/* "512B" "1.5K" "23.4M" "1.2G": binary units, at most 6 characters. */
const char *fmt_bytes(char *buf, size_t sz, double bytes);
/* "+1.5M" style signed bytes. */
const char *fmt_sbytes(char *buf, size_t sz, double bytes);
/* "999" "12.3k" "4.5M": counts. */
const char *fmt_count(char *buf, size_t sz, double n);
/* "850us" "12.3ms" "1.20s": durations given in microseconds. */
const char *fmt_us(char *buf, size_t sz, double us);

#endif /* PYLEAK_FORMAT_H */
