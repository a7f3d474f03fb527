/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests of /proc parsing and CPython version/name detection (no root needed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "util/common.h"
#include "target/proc.h"
#include "target/python.h"

static void test_maps_line(void **state)
{
	struct proc_map m;

	(void)state;
	assert_int_equal(proc__parse_maps_line("7f1c2a000000-7f1c2a1b4000 r--p 00000000 fe:01 1234567   "
					       "/usr/lib/libpython3.12.so.1.0\n", &m), 0);
	assert_int_equal(m.start, 0x7f1c2a000000ull);
	assert_int_equal(m.end, 0x7f1c2a1b4000ull);
	assert_int_equal(m.pgoff, 0);
	assert_int_equal(m.inode, 1234567);
	assert_string_equal(m.perms, "r--p");
	assert_string_equal(m.path, "/usr/lib/libpython3.12.so.1.0");
	assert_false(m.deleted);
	assert_int_equal(proc__parse_maps_line("559a1000-559a2000 r-xp 00001000 08:01 42 /usr/bin/python3.11 (deleted)", &m), 0);
	assert_true(m.deleted);
	assert_string_equal(m.path, "/usr/bin/python3.11");
	assert_int_equal(proc__parse_maps_line("7ffd1000-7ffd2000 rw-p 00000000 00:00 0 [stack]", &m), 0);
	assert_string_equal(m.path, "[stack]");
	assert_int_equal(proc__parse_maps_line("7ffd1000-7ffd2000 rw-p 00000000 00:00 0", &m), 0);
	assert_string_equal(m.path, "");
	assert_int_equal(proc__parse_maps_line("garbage", &m), -EINVAL);
	assert_int_equal(proc__parse_maps_line("2000-1000 rw-p 0 0:0 0 x", &m), -EINVAL);
}

static void test_status(void **state)
{
	struct proc_status st;

	(void)state;
	assert_int_equal(proc__parse_status("Name:\tpython3.11\nState:\tS (sleeping)\nTgid:\t4242\nPPid:\t1\n"
					    "NSpid:\t4242\t17\nVmSize:\t  100 kB\nVmRSS:\t    2048 kB\n", &st), 0);
	assert_string_equal(st.name, "python3.11");
	assert_int_equal(st.state, 'S');
	assert_int_equal(st.tgid, 4242);
	assert_int_equal(st.ns_pid, 17);
	assert_int_equal(st.ns_depth, 1);
	assert_false(st.kernel_thread);
	assert_int_equal(st.vm_rss, 2048 * 1024);
	/* kernel threads have no VmSize */
	assert_int_equal(proc__parse_status("Name:\tkworker/0:1\nState:\tI (idle)\nTgid:\t12\nNSpid:\t12\n", &st), 0);
	assert_true(st.kernel_thread);
	assert_int_equal(proc__parse_status("nothing useful", &st), -EINVAL);
}

static void test_stat_start_time(void **state)
{
	uint64_t t;

	(void)state;
	/* comm with spaces and ')' must not shift the fields */
	assert_int_equal(proc__parse_stat_start_time("42 (we ird) name)) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 "
						     "987654 1000 100", &t), 0);
	assert_int_equal(t, 987654);
	assert_int_equal(proc__parse_stat_start_time("42 (x) S 1", &t), -EINVAL);
	assert_int_equal(proc__start_time(getpid(), &t), 0);
	assert_true(t > 0);
}

static void test_stat_one_read(void **state)
{
	struct proc_stat st, mine;
	uint64_t rss, u, sy;
	long page = sysconf(_SC_PAGESIZE), hz = sysconf(_SC_CLK_TCK);

	(void)state;
	/* a hostile comm (spaces, ')' and digits) and -1 fields must not shift the fields */
	assert_int_equal(proc__parse_stat("42 (we ird) 7 9) S 17 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 "
					  "987654 123456789 300 18446744073709551615",
					  &st),
			 0);
	assert_int_equal(st.state, 'S');
	assert_int_equal(st.ppid, 17);
	assert_int_equal(st.user_ns, 250 * (1000000000ull / hz));
	assert_int_equal(st.sys_ns, 50 * (1000000000ull / hz));
	assert_int_equal(st.start_ticks, 987654);
	assert_int_equal(st.vsize, 123456789);
	assert_int_equal(st.rss_bytes, 300ull * page);
	/* a zombie: no address space */
	assert_int_equal(proc__parse_stat("43 (z) Z 1 43 43 0 -1 4227084 0 0 0 0 1 1 0 0 20 0 1 0 5 0 0", &st), 0);
	assert_int_equal(st.state, 'Z');
	assert_int_equal(st.vsize, 0);
	/* cut short, or no comm */
	assert_int_equal(proc__parse_stat("42 (x) S 1 42 42 0 -1 4194560 100", &st), -EINVAL);
	assert_int_equal(proc__parse_stat("42 x S 1", &st), -EINVAL);
	assert_int_equal(proc__parse_stat("42 (x)", &st), -EINVAL);
	assert_int_equal(proc__parse_stat("42 (x) S 1 a", &st), -EINVAL);
	/* this process: the same figures as the separate reads */
	assert_int_equal(proc__stat(getpid(), &mine), 0);
	assert_int_equal(mine.ppid, getppid());
	assert_int_equal(proc__start_time(getpid(), &u), 0);
	assert_int_equal(mine.start_ticks, u);
	assert_int_equal(proc__rss_bytes(getpid(), &rss), 0);
	assert_true(mine.rss_bytes > 0 && mine.rss_bytes <= rss + 64 * page && rss <= mine.rss_bytes + 64 * page);
	assert_int_equal(proc__cpu_ns(getpid(), &u, &sy), 0);
	assert_true(mine.user_ns <= u && mine.sys_ns <= sy);
	assert_int_equal(proc__stat(-1, &mine) < 0, 1);
	/* the image fields (26-28) when present; a line cut after field 24 leaves them unknown */
	assert_int_equal(proc__parse_stat("42 (x) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 "
					  "987654 123456789 300 18446744073709551615 4194304 4198400 140737488347136 0",
					  &st),
			 0);
	assert_int_equal(st.start_code, 4194304);
	assert_int_equal(st.end_code, 4198400);
	assert_int_equal(st.start_stack, 140737488347136ull);
	assert_int_equal(proc__parse_stat("42 (x) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 987654 123456789 300",
					  &st),
			 0);
	assert_int_equal(st.start_stack, 0);
	assert_int_equal(st.rss_bytes, 300ull * page);
}

/* A held stat fd reads the process it was opened on, and -ESRCH once that process is reaped
 * (never the next process given the pid). */
static void test_stat_fd(void **state)
{
	struct proc_stat a, b;
	int fd, status;
	pid_t child;

	(void)state;
	fd = proc__open_stat(getpid());
	assert_true(fd >= 0);
	assert_int_equal(proc__stat_fd(fd, &a), 0);
	assert_int_equal(proc__stat(getpid(), &b), 0);
	assert_int_equal(a.start_ticks, b.start_ticks);
	assert_int_equal(a.ppid, b.ppid);
	assert_int_equal(a.start_code, b.start_code);
	assert_int_equal(a.start_stack, b.start_stack);
	assert_true(a.start_stack > 1); /* the test may read its own */
	assert_int_equal(proc__stat_fd(fd, &a), 0); /* reads again from the start */
	close(fd);
	assert_int_equal(proc__open_stat(-1) < 0, 1);

	child = fork();
	assert_true(child >= 0);
	if (!child)
		_exit(0);
	fd = proc__open_stat(child); /* running or a zombie: not reaped before the waitpid */
	assert_true(fd >= 0);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_int_equal(proc__stat_fd(fd, &a), -ESRCH);
	close(fd);
}

static void test_container_ids(void **state)
{
	char id[80];
	const char *hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	char cg[256];

	(void)state;
	snprintf(cg, sizeof(cg), "/system.slice/docker-%s.scope", hex);
	assert_int_equal(proc__container_id_from_cgroup(cg, id, sizeof(id)), 0);
	assert_string_equal(id, hex);
	snprintf(cg, sizeof(cg), "/kubepods/besteffort/pod1234/%s", hex);
	assert_int_equal(proc__container_id_from_cgroup(cg, id, sizeof(id)), 0);
	assert_string_equal(id, hex);
	snprintf(cg, sizeof(cg), "/machine.slice/libpod-%s.scope/container", hex);
	assert_int_equal(proc__container_id_from_cgroup(cg, id, sizeof(id)), 0);
	assert_int_equal(proc__container_id_from_cgroup("/user.slice/user-0.slice/session-1.scope", id, sizeof(id)), -ENOENT);
	assert_string_equal(id, "");
}

static void test_versions_and_names(void **state)
{
	int a, b, c;

	(void)state;
	assert_int_equal(python__parse_version("3.11.2", &a, &b, &c), 0);
	assert_int_equal(a * 10000 + b * 100 + c, 31102);
	assert_int_equal(python__parse_version("3.13.0rc1", &a, &b, &c), 0);
	assert_int_equal(b, 13);
	assert_int_equal(python__parse_version("x", &a, &b, &c), -EINVAL);
	assert_true(python__name_matches("/usr/bin/python3.11"));
	assert_true(python__name_matches("/root/.pyenv/versions/3.12.1/lib/libpython3.12.so.1.0"));
	assert_false(python__name_matches("/usr/bin/perl"));
	assert_string_equal(gc_tier__name(GC_TIER_USDT), "usdt");
	assert_string_equal(gc_tier__name(GC_TIER_POLL), "poll");
}

static void test_parsers(void **state)
{
	double d;
	uint64_t b;
	long l;
	int pids[4];

	(void)state;
	assert_int_equal(parse_duration("90", &d), 0);
	assert_true(d == 90);
	assert_int_equal(parse_duration("15m", &d), 0);
	assert_true(d == 900);
	assert_int_equal(parse_duration("8h", &d), 0);
	assert_true(d == 28800);
	assert_int_equal(parse_duration("8x", &d), -EINVAL);
	assert_int_equal(parse_size("256M", &b), 0);
	assert_int_equal(b, 256ull << 20);
	assert_int_equal(parse_size("-1", &b), -EINVAL);
	assert_int_equal(parse_long("12a", 0, 100, &l), -EINVAL);
	assert_int_equal(parse_long("101", 0, 100, &l), -ERANGE);
	assert_int_equal(parse_pid_list("1,2,3", pids, 4), 3);
	assert_int_equal(parse_pid_list("1,,x", pids, 4), -EINVAL);
	assert_int_equal(parse_pid_list("1,2,3,4,5", pids, 4), -E2BIG);
	{
		/* 1000 pids (a host's idle workers): longer than any fixed copy buffer */
		static int many[PID_LIST_MAX];
		struct strbuf sb;
		int i;

		sb_init(&sb);
		for (i = 0; i < 1000; i++)
			sb_printf(&sb, "%s%d", i ? "," : "", 100000 + i);
		assert_int_equal(parse_pid_list(sb.buf, many, PID_LIST_MAX), 1000);
		assert_int_equal(many[999], 100999);
		sb_free(&sb);
	}
}

/* sb_printf formats into the room left and again only when it did not fit: every length across
 * the capacity boundary gives the same text as one snprintf, and a cut attempt leaves no trace. */
static void test_strbuf_printf_room(void **state)
{
	char want[2048], piece[600];
	struct strbuf sb;
	size_t wlen = 0;
	int i, n;

	(void)state;
	sb_init(&sb);
	for (i = 0; i < 400; i++) {
		n = i % 37 * 13 + i % 5;
		memset(piece, 'a' + i % 26, (size_t)n);
		piece[n] = '\0';
		sb_printf(&sb, "%s|%d|%.3g;", piece, i, i / 7.0);
		n = snprintf(want, sizeof(want), "%s|%d|%.3g;", piece, i, i / 7.0);
		assert_true(sb.len == wlen + (size_t)n);
		assert_memory_equal(sb.buf + wlen, want, (size_t)n);
		assert_int_equal(sb.buf[sb.len], '\0');
		assert_true(sb.len < sb.cap);
		wlen = sb.len;
	}
	assert_int_equal(strlen(sb.buf), sb.len);
	sb_reset(&sb);
	{
		const int64_t v[] = { 0, 7, -7, 10, 99, -100, 1234567890123ll, INT64_MAX, INT64_MIN };
		size_t k;

		for (k = 0; k < sizeof(v) / sizeof(v[0]); k++) {
			sb_reset(&sb);
			sb_put_i64(&sb, v[k]);
			snprintf(want, sizeof(want), "%lld", (long long)v[k]);
			assert_string_equal(sb.buf, want);
		}
	}
	{
		const uint64_t v[] = { 0, 9, 10, 18446744073709551615ull, 9223372036854775808ull };
		size_t k;

		for (k = 0; k < sizeof(v) / sizeof(v[0]); k++) {
			sb_reset(&sb);
			sb_put_u64(&sb, v[k]);
			snprintf(want, sizeof(want), "%llu", (unsigned long long)v[k]);
			assert_string_equal(sb.buf, want);
		}
	}
	sb_free(&sb);
}

static void test_strbuf_json(void **state)
{
	struct strbuf sb;

	(void)state;
	sb_init(&sb);
	sb_json_str(&sb, "a\"b\\c\n\x01\xff");
	assert_string_equal(sb.buf, "\"a\\\"b\\\\c\\n\\u0001\\ufffd\""); /* not UTF-8: U+FFFD (docs/json.md) */
	sb_reset(&sb);
	sb_json_str(&sb, NULL);
	assert_string_equal(sb.buf, "null");
	sb_free(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maps_line),     cmocka_unit_test(test_status),
		cmocka_unit_test(test_stat_start_time), cmocka_unit_test(test_stat_one_read), cmocka_unit_test(test_stat_fd), cmocka_unit_test(test_container_ids),
		cmocka_unit_test(test_versions_and_names), cmocka_unit_test(test_parsers),
		cmocka_unit_test(test_strbuf_json), cmocka_unit_test(test_strbuf_printf_room),
	};
	return cmocka_run_group_tests_name("proc", tests, NULL, NULL);
}
