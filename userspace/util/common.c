/* SPDX-License-Identifier: BSD-2-Clause */
/* Shared helpers: messages, number parsing, clocks, signals, the string buffer. */
#include "util/common.h"
#include "util/escape.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/prctl.h>

int verbosity = 1;
volatile sig_atomic_t exiting;

/*
 * Messages name processes, types and paths that a target chose: the whole formatted line goes
 * through esc_text, so no argument can put a control byte, a newline or a bidi override on the
 * operator's terminal (issue 24). One fputs per message keeps lines whole between threads.
 */
static void vmsg(const char *prefix, const char *fmt, va_list ap)
{
	struct strbuf raw, line;

	sb_init(&raw);
	sb_init(&line);
	sb_vprintf(&raw, fmt, ap);
	sb_puts(&line, "pyleak: ");
	if (prefix)
		sb_puts(&line, prefix);
	esc_text(&line, raw.buf ? raw.buf : "");
	sb_putc(&line, '\n');
	if (line.buf && !line.oom)
		fputs(line.buf, stderr);
	else
		fputs("pyleak: out of memory formatting a message\n", stderr);
	sb_free(&raw);
	sb_free(&line);
}

void pr_err(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg(NULL, fmt, ap);
	va_end(ap);
}

void pr_warn(const char *fmt, ...)
{
	va_list ap;
	if (verbosity < 1)
		return;
	va_start(ap, fmt);
	vmsg("warning: ", fmt, ap);
	va_end(ap);
}

void pr_debug(const char *fmt, ...)
{
	va_list ap;
	if (verbosity < 2)
		return;
	va_start(ap, fmt);
	vmsg("debug: ", fmt, ap);
	va_end(ap);
}

int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int parse_double(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || isnan(v))
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int parse_duration(const char *s, double *seconds)
{
	char *end;
	double v, mult = 1;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || isnan(v) || v < 0)
		return -EINVAL;
	if (!strcmp(end, "") || !strcmp(end, "s"))
		mult = 1;
	else if (!strcmp(end, "ms"))
		mult = 0.001;
	else if (!strcmp(end, "m"))
		mult = 60;
	else if (!strcmp(end, "h"))
		mult = 3600;
	else if (!strcmp(end, "d"))
		mult = 86400;
	else
		return -EINVAL;
	*seconds = v * mult;
	return 0;
}

int parse_size(const char *s, uint64_t *bytes)
{
	char *end;
	double v, mult = 1;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || isnan(v) || v < 0)
		return -EINVAL;
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': mult = 1024.0; end++; break;
	case 'm': case 'M': mult = 1024.0 * 1024; end++; break;
	case 'g': case 'G': mult = 1024.0 * 1024 * 1024; end++; break;
	default: return -EINVAL;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end)
		return -EINVAL;
	if (v * mult > (double)UINT64_MAX / 2)
		return -ERANGE;
	*bytes = (uint64_t)(v * mult);
	return 0;
}

int parse_pid_list(const char *s, int *pids, int max)
{
	char *tmp = strdup(s), *tok, *save = NULL;
	int n = 0, err = 0;
	long v;

	if (!tmp)
		return -ENOMEM;
	for (tok = strtok_r(tmp, ",", &save); tok && !err; tok = strtok_r(NULL, ",", &save)) {
		if (n >= max)
			err = -E2BIG;
		else if (!(err = parse_long(tok, 1, INT_MAX, &v)))
			pids[n++] = (int)v;
	}
	free(tmp);
	return err ? err : n ? n : -EINVAL;
}

void pr_pid_list_error(const char *s, int err)
{
	if (err == -E2BIG)
		pr_err("too many pids in -p (at most %d; --all watches every Python process)", PID_LIST_MAX);
	else
		pr_err("invalid pid list '%.60s%s'", s, strlen(s) > 60 ? "..." : "");
}

uint64_t now_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

double now_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_signal(int sig)
{
	(void)sig;
	exiting = 1;
}

void signals__install(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: blocking reads/sleeps return EINTR so loops notice `exiting` promptly. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

void sleep_interruptible_ms(long ms)
{
	while (ms > 0 && !exiting) {
		long step = ms > 50 ? 50 : ms;
		struct timespec ts = { .tv_sec = 0, .tv_nsec = step * 1000000L };

		nanosleep(&ts, NULL);
		ms -= step;
	}
}

static bool has_cap(int cap)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return false;
	return data[cap / 32].effective & (1u << (cap % 32));
}

int privileges__check(bool need_bpf)
{
	const char *missing[3];
	int n = 0;

	/* CAP_PERFMON/CAP_BPF exist since Linux 5.8; CAP_SYS_ADMIN implies both. */
	if (!has_cap(CAP_SYS_PTRACE))
		missing[n++] = "CAP_SYS_PTRACE";
	if (need_bpf && !has_cap(CAP_SYS_ADMIN)) {
		if (!has_cap(CAP_BPF))
			missing[n++] = "CAP_BPF";
		if (!has_cap(CAP_PERFMON))
			missing[n++] = "CAP_PERFMON";
	}
	if (!n)
		return 0;
	pr_err("missing privilege %s%s%s%s%s: run as root or grant CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE",
	       missing[0], n > 1 ? ", " : "", n > 1 ? missing[1] : "", n > 2 ? ", " : "",
	       n > 2 ? missing[2] : "");
	return -EPERM;
}

int privileges__restrict(const int *keep, int nkeep)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2];
	uint32_t want[2] = { 0, 0 };
	char buf[16];
	long last = 40;
	int i, cap;

	for (i = 0; i < nkeep; i++)
		if (keep[i] >= 0 && keep[i] < 64)
			want[keep[i] / 32] |= 1u << (keep[i] % 32);
	if (read_file("/proc/sys/kernel/cap_last_cap", buf, sizeof(buf)) > 0)
		parse_long(strtok(buf, "\n"), 0, 63, &last);
	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	/* The bounding set can only shrink while CAP_SETPCAP is still ours: drop it first. */
	for (cap = 0; cap <= last; cap++)
		if (!(want[cap / 32] & (1u << (cap % 32))))
			prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	for (i = 0; i < 2; i++) {
		data[i].permitted &= want[i];
		data[i].effective &= want[i];
		data[i].inheritable = 0;
	}
	if (syscall(SYS_capset, &hdr, data)) {
		int err = -errno;

		pr_warn("cannot drop unneeded capabilities: %s", strerror(-err));
		return err;
	}
	return 0;
}

void sb_init(struct strbuf *sb)
{
	memset(sb, 0, sizeof(*sb));
}

void sb_free(struct strbuf *sb)
{
	free(sb->buf);
	sb_init(sb);
}

void sb_reset(struct strbuf *sb)
{
	sb->len = 0;
	if (sb->buf)
		sb->buf[0] = '\0';
}

static bool sb_grow(struct strbuf *sb, size_t need)
{
	size_t cap;
	char *p;

	if (sb->oom)
		return false;
	if (sb->len + need + 1 <= sb->cap)
		return true;
	cap = sb->cap ? sb->cap : 256;
	while (cap < sb->len + need + 1)
		cap *= 2;
	p = realloc(sb->buf, cap);
	if (!p) {
		sb->oom = true;
		return false;
	}
	sb->buf = p;
	sb->cap = cap;
	return true;
}

void sb_vprintf(struct strbuf *sb, const char *fmt, va_list ap)
{
	size_t room = !sb->oom && sb->cap > sb->len ? sb->cap - sb->len : 0;
	va_list ap2;
	int n;

	/* Format straight into the room left, and only again when it did not fit: measuring first
	 * formatted everything twice (a 1000-process JSON line is 8 MB of numbers). */
	va_copy(ap2, ap);
	n = vsnprintf(room ? sb->buf + sb->len : NULL, room, fmt, ap2);
	va_end(ap2);
	if (n >= 0 && (size_t)n < room) {
		sb->len += (size_t)n;
		return;
	}
	if (n < 0 || !sb_grow(sb, (size_t)n)) {
		if (room)
			sb->buf[sb->len] = '\0'; /* a cut attempt stays past the end */
		return;
	}
	vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, ap);
	sb->len += (size_t)n;
}

void sb_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sb_vprintf(sb, fmt, ap);
	va_end(ap);
}

void sb_putc(struct strbuf *sb, char c)
{
	if (!sb_grow(sb, 1))
		return;
	sb->buf[sb->len++] = c;
	sb->buf[sb->len] = '\0';
}

void sb_puts(struct strbuf *sb, const char *s)
{
	sb_putn(sb, s, strlen(s));
}

void sb_put_i64(struct strbuf *sb, int64_t v)
{
	if (v < 0)
		sb_putc(sb, '-');
	sb_put_u64(sb, v < 0 ? 0 - (uint64_t)v : (uint64_t)v); /* INT64_MIN too */
}

void sb_put_u64(struct strbuf *sb, uint64_t u)
{
	char d[24], *p = d + sizeof(d);

	do
		*--p = (char)('0' + u % 10);
	while (u /= 10);
	sb_putn(sb, p, (size_t)(d + sizeof(d) - p));
}

void sb_putn(struct strbuf *sb, const char *s, size_t n)
{
	if (!sb_grow(sb, n))
		return;
	memcpy(sb->buf + sb->len, s, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

int copy_str(char *dst, size_t dstsz, const char *src)
{
	size_t n;

	if (!dstsz)
		return -ENAMETOOLONG;
	n = strlen(src);
	if (n >= dstsz) {
		memcpy(dst, src, dstsz - 1);
		dst[dstsz - 1] = '\0';
		return -ENAMETOOLONG;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

long read_file(const char *path, char *buf, size_t bufsz)
{
	long total = 0;
	ssize_t n;
	int fd;

	if (!bufsz)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while ((size_t)total < bufsz - 1) {
		n = read(fd, buf + total, bufsz - 1 - total);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			total = -errno;
			break;
		}
		if (n == 0)
			break;
		total += n;
	}
	close(fd);
	if (total >= 0)
		buf[total] = '\0';
	return total;
}
