/* SPDX-License-Identifier: BSD-2-Clause */
/* Shared helpers: messages, exit codes, number parsing, clocks, signals, a growable string buffer. */
#ifndef PYLEAK_COMMON_H
#define PYLEAK_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Exit status: 0 ok, 1 runtime failure, 2 usage (STYLE.md). */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

extern int verbosity; /* 0 quiet, 1 normal, 2 -v debug */

void pr_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pr_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pr_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parsing: 0 or -EINVAL/-ERANGE; never accept trailing junk. */
int parse_long(const char *s, long min, long max, long *out);
int parse_double(const char *s, double min, double max, double *out);
/* "90", "90s", "15m", "8h" -> seconds */
int parse_duration(const char *s, double *seconds);
/* "100M", "2G", "4096" -> bytes */
int parse_size(const char *s, uint64_t *bytes);
/* Most pids one -p takes: what one collector holds (its MAX_ROWS); beyond that, --all. */
#define PID_LIST_MAX 4096
/* "1,2,3" -> pids; returns count or -errno (-E2BIG: more than max) */
int parse_pid_list(const char *s, int *pids, int max);
/* The error for parse_pid_list's result, without echoing a list of thousands of pids. */
void pr_pid_list_error(const char *s, int err);

uint64_t now_mono_ns(void);
double now_wall(void); /* seconds since the epoch */

/* Ctrl-C / SIGTERM set this; long loops check it. SIGPIPE is ignored so writes fail with EPIPE. */
extern volatile sig_atomic_t exiting;
void signals__install(void);
/* Sleep up to ms, returning early when `exiting` is set. */
void sleep_interruptible_ms(long ms);

/* Do we have what attaching and reading other processes needs? Prints a message naming what is missing. */
int privileges__check(bool need_bpf);

/*
 * Least privilege once set up: keep only the capabilities in keep[] (when pyleak runs with more),
 * drop every other one from the effective, permitted, inheritable and bounding sets, clear the
 * ambient set and set no_new_privs. A no-op for a process that already has only what it needs.
 */
#define PRIV_KEEP_LIVE /* watching processes: read them, attach probes, open map_files */ \
	{ 2 /* DAC_READ_SEARCH */, 19 /* SYS_PTRACE */, 38 /* PERFMON */, 39 /* BPF */, \
	  40 /* CHECKPOINT_RESTORE */, 21 /* SYS_ADMIN: uprobe perf events are refused without it on \
	  Linux 6.18 even with CAP_PERFMON (measured: EACCES from perf_event_open) */ }
#define PRIV_KEEP_FILES /* reading traces, writing reports */ { 1 /* DAC_OVERRIDE */, 2 /* DAC_READ_SEARCH */ }
int privileges__restrict(const int *keep, int nkeep);

/* Growable string buffer: one implementation of appending formatted text for all renderers. */
struct strbuf {
	char *buf;
	size_t len, cap;
	bool oom;
};
void sb_init(struct strbuf *sb);
void sb_free(struct strbuf *sb);
void sb_reset(struct strbuf *sb);
void sb_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_vprintf(struct strbuf *sb, const char *fmt, va_list ap);
void sb_putc(struct strbuf *sb, char c);
void sb_puts(struct strbuf *sb, const char *s);
void sb_putn(struct strbuf *sb, const char *s, size_t n); /* n bytes of s (no NUL needed in them) */
void sb_put_i64(struct strbuf *sb, int64_t v); /* decimal, as "%lld" prints it, without printf */
void sb_put_u64(struct strbuf *sb, uint64_t v); /* "%llu" */
/* Quoted JSON string ("null" for NULL): esc_json of util/escape.h, kept under this name for its many callers. */
void sb_json_str(struct strbuf *sb, const char *s);

/* FNV-1a: ids of names and cheap change detection (not for anything a target could collide on
 * to harm: a collision only merges two rows or skips one rewrite). fnv1a_str adds a string's
 * bytes to h (NULL adds nothing); start from FNV1A_INIT. */
#define FNV1A_INIT  1469598103934665603ull
#define FNV1A_PRIME 1099511628211ull
static inline uint64_t fnv1a_str(uint64_t h, const char *s)
{
	for (; s && *s; s++)
		h = (h ^ (unsigned char)*s) * FNV1A_PRIME;
	return h;
}

/* qsort that accepts an empty (possibly NULL) array: qsort(NULL, 0, ...) is undefined behaviour. */
static inline void sort_array(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (base && n > 1)
		qsort(base, n, size, cmp);
}

/* Copy with truncation report: returns -ENAMETOOLONG if it did not fit (dst is still terminated). */
int copy_str(char *dst, size_t dstsz, const char *src);
/* Read a whole small file (e.g. /proc/PID/cmdline) into buf; returns bytes or -errno. */
long read_file(const char *path, char *buf, size_t bufsz);

#endif /* PYLEAK_COMMON_H */
