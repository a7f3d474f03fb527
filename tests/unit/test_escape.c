/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests of util/escape: every output format's escaping of target-controlled bytes. */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "util/escape.h"

/* A name with everything issue 24 lists: ESC sequences, BEL, CR, newline, invalid UTF-8, U+202E,
 * HTML, quotes, a CSV formula and Prometheus exposition syntax. */
#define HOSTILE "\x1b]0;pwned\x07\x1b[2J\r=cmd|'/C calc'!A0\n\xff\xc3(\xe2\x80\xae<img src=x onerror=\"alert(1)\">" \
		"} 1\n# TYPE x counter\\"

static char out[4096];

static const char *run(esc_fn fn, const char *s)
{
	struct strbuf sb;

	sb_init(&sb);
	fn(&sb, s);
	assert_false(sb.oom);
	snprintf(out, sizeof(out), "%s", sb.buf ? sb.buf : "");
	sb_free(&sb);
	return out;
}

static void assert_no_controls(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	int n;

	for (; *p; p += n) {
		n = utf8_decode(p, &cp);
		assert_int_not_equal(n, 0);   /* valid UTF-8 */
		assert_true(cp >= 0x20 && cp != 0x7f);
		assert_false(esc_is_invisible(cp));
	}
}

static void test_text(void **state)
{
	(void)state;
	assert_string_equal(run(esc_text, "plain name_1.x"), "plain name_1.x");
	assert_string_equal(run(esc_text, "a\\b"), "a\\\\b");
	assert_string_equal(run(esc_text, "\x1b[31m\x07\r\n\t\x7f\x01"), "\\x1b[31m\\x07\\r\\n\\t\\x7f\\x01");
	/* valid UTF-8 passes, C1 and bidi controls are shown as code points */
	assert_string_equal(run(esc_text, "caf\xc3\xa9 \xe2\x9c\x93"), "caf\xc3\xa9 \xe2\x9c\x93");
	assert_string_equal(run(esc_text, "\xc2\x9b" "31m"), "\\u009b31m");
	assert_string_equal(run(esc_text, "a\xe2\x80\xae" "b\xe2\x81\xa6" "c\xe2\x80\xa8"), "a\\u202eb\\u2066c\\u2028");
	assert_string_equal(run(esc_text, "\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad\xe2\x81\xa9\xe2\x80\x8f\xd8\x9c"),
			    "\\u202a\\u202b\\u202c\\u202d\\u2069\\u200f\\u061c");
	/* not UTF-8: a lone C1 byte, a truncated sequence, an overlong ESC, a surrogate, > U+10FFFF */
	assert_string_equal(run(esc_text, "\x9b" "1m"), "\\x9b1m");
	assert_string_equal(run(esc_text, "\xc3("), "\\xc3(");
	assert_string_equal(run(esc_text, "\xc0\x9b"), "\\xc0\\x9b");
	assert_string_equal(run(esc_text, "\xed\xa0\x80"), "\\xed\\xa0\\x80");
	assert_string_equal(run(esc_text, "\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");
	assert_string_equal(run(esc_text, "\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80"); /* 4-byte UTF-8 stays */
	assert_string_equal(run(esc_text, ""), "");
	assert_string_equal(run(esc_text, NULL), "");
	assert_no_controls(run(esc_text, HOSTILE));
}

static void test_text_round_trip(void **state)
{
	static const char *const inputs[] = {
		HOSTILE, "\\x1b is not ESC", "\\\\u202e", "\xc2\x9b\x9b\xe2\x80\xae\xe2\x80", "\\", "\\x", "a\\u00",
		"\xef\xbf\xbd\xff", "\x7f\x1f\x01",
	};
	char dec[1024];

	(void)state;
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		long n = esc_text_decode(run(esc_text, inputs[i]), dec, sizeof(dec));

		assert_int_equal(n, (long)strlen(inputs[i]));
		assert_memory_equal(dec, inputs[i], (size_t)n);
	}
	/* two different inputs never give the same text: the escape of a backslash is itself escaped */
	char first[16];

	snprintf(first, sizeof(first), "%s", run(esc_text, "\x1b"));
	assert_string_not_equal(first, run(esc_text, "\\x1b"));
	assert_int_equal(esc_text_decode("\\q", dec, sizeof(dec)), -EINVAL);
	assert_int_equal(esc_text_decode("\\x0", dec, sizeof(dec)), -EINVAL);
	assert_int_equal(esc_text_decode("\\x00", dec, sizeof(dec)), -EINVAL);
	assert_int_equal(esc_text_decode("\\ud800", dec, sizeof(dec)), -EINVAL);
	assert_int_equal(esc_text_decode("abcdef", dec, 3), -EINVAL);
}

static void test_json(void **state)
{
	(void)state;
	assert_string_equal(run(esc_json, NULL), "null");
	assert_string_equal(run(esc_json, "a\"b\\c\n\r\t\x01\x1b\x7f"), "\"a\\\"b\\\\c\\n\\r\\t\\u0001\\u001b\\u007f\"");
	/* pure ASCII out: code points, not bytes; above the BMP as a surrogate pair */
	assert_string_equal(run(esc_json, "caf\xc3\xa9\xe2\x80\xae\xf0\x9f\x98\x80"), "\"caf\\u00e9\\u202e\\ud83d\\ude00\"");
	/* not UTF-8: one U+FFFD per byte (docs/json.md) */
	assert_string_equal(run(esc_json, "\xff\xc3(\x9b"), "\"\\ufffd\\ufffd(\\ufffd\"");
	/* safe inside an HTML <script> */
	assert_string_equal(run(esc_json, "</script>&"), "\"\\u003c/script\\u003e\\u0026\"");
	assert_non_null(strstr(run(esc_json, HOSTILE), "\\u001b]0;pwned\\u0007"));
}

static void test_csv(void **state)
{
	(void)state;
	assert_string_equal(run(esc_csv, "plain"), "\"plain\"");
	assert_string_equal(run(esc_csv, "say \"hi\""), "\"say \"\"hi\"\"\"");
	assert_string_equal(run(esc_csv, "=1+2"), "\"'=1+2\"");
	assert_string_equal(run(esc_csv, "+1"), "\"'+1\"");
	assert_string_equal(run(esc_csv, "-1"), "\"'-1\"");
	assert_string_equal(run(esc_csv, "@SUM(A1)"), "\"'@SUM(A1)\"");
	/* TAB and CR are escaped visibly, so a cell never starts with them */
	assert_string_equal(run(esc_csv, "\t=1"), "\"\\t=1\"");
	assert_string_equal(run(esc_csv, "\r=1"), "\"\\r=1\"");
	assert_string_equal(run(esc_csv, "a,b\nc"), "\"a,b\\nc\"");
	assert_string_equal(run(esc_csv, NULL), "\"\"");
	assert_no_controls(run(esc_csv, HOSTILE));
}

static void test_html(void **state)
{
	(void)state;
	assert_string_equal(run(esc_html, "<img src=x onerror=\"a('b')\">&"),
			    "&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;&amp;");
	assert_string_equal(run(esc_html, "\x1b\xe2\x80\xae"), "\\x1b\\u202e");
	assert_null(strchr(run(esc_html, HOSTILE), '<'));
	assert_no_controls(run(esc_html, HOSTILE));
}

static void test_prom_and_dot(void **state)
{
	(void)state;
	/* the label shows esc_text's visible form; the exposition quotes its backslashes */
	assert_string_equal(run(esc_prom, "a\"b\\c\nd\x1b"), "a\\\"b\\\\\\\\c\\\\nd\\\\x1b");
	assert_string_equal(run(esc_prom, "caf\xc3\xa9"), "caf\xc3\xa9");
	assert_null(strchr(run(esc_prom, HOSTILE), '\n'));
	assert_no_controls(run(esc_prom, HOSTILE));
	assert_string_equal(run(esc_dot, "a\"b\\c\n"), "a\\\"b\\\\\\\\c\\\\n");
	assert_no_controls(run(esc_dot, HOSTILE));
}

static void test_collapsed(void **state)
{
	(void)state;
	assert_string_equal(run(esc_collapsed, "f.py:3 g;h\nx"), "f.py:3 g\\x3bh\\nx");
	assert_null(strchr(run(esc_collapsed, HOSTILE), ';'));
}

/* Stacks in a trace: only ';' and '\\' quoted, the original bytes back frame by frame. */
static void test_stack_frames(void **state)
{
	static const char *const frames[] = { "a.py:1 f;g", "b\\c;;", "", "\x1b]0;x\x07 \xff", "plain" };
	char out[64], small[4];
	struct strbuf sb;
	const char *p;
	size_t i;

	(void)state;
	sb_init(&sb);
	for (i = 0; i < ARRAY_SIZE(frames); i++) {
		if (i)
			sb_putc(&sb, ';');
		esc_stack_frame(&sb, frames[i]);
	}
	assert_string_equal(sb.buf, "a.py:1 f\\;g;b\\\\c\\;\\;;;\x1b]0\\;x\x07 \xff;plain");
	p = sb.buf;
	for (i = 0; i < ARRAY_SIZE(frames); i++) {
		assert_true(esc_stack_next(&p, out, sizeof(out)));
		assert_string_equal(out, frames[i]);
	}
	assert_false(esc_stack_next(&p, out, sizeof(out)));
	/* a frame longer than the buffer is cut, the next one still found */
	p = "abcdef;gh";
	assert_true(esc_stack_next(&p, small, sizeof(small)));
	assert_string_equal(small, "abc");
	assert_true(esc_stack_next(&p, small, sizeof(small)));
	assert_string_equal(small, "gh");
	/* a lone trailing backslash (a damaged file) is kept */
	p = "x\\";
	assert_true(esc_stack_next(&p, out, sizeof(out)));
	assert_string_equal(out, "x\\");
	assert_false(esc_stack_next(&p, out, sizeof(out)));
	p = NULL;
	assert_false(esc_stack_next(&p, out, sizeof(out)));
	sb_free(&sb);
}

static void test_buf(void **state)
{
	char small[8], big[ESC_TEXT_SIZE(64)];

	(void)state;
	/* cut at a whole escape: "ab\x1b" does not fit in 7 bytes + NUL after "ab" ... */
	assert_string_equal(esc_text_buf(small, sizeof(small), "ab\x1b\x1b"), "ab\\x1b");
	assert_string_equal(esc_text_buf(small, sizeof(small), "abcde\x1b"), "abcde");
	/* ... and never inside a UTF-8 character */
	assert_string_equal(esc_text_buf(small, 6, "abc\xe2\x9c\x93"), "abc");
	assert_string_equal(esc_buf(small, sizeof(small), esc_html, "a<b"), "a&lt;b");
	assert_string_equal(esc_text_buf(small, 1, "abc"), "");
	/* ESC_TEXT_SIZE holds the worst case */
	char worst[65];

	memset(worst, 0xff, 64);
	worst[64] = '\0';
	assert_int_equal(strlen(esc_text_buf(big, sizeof(big), worst)), 256);
}

static void test_fputs(void **state)
{
	char buf[64] = "";
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	(void)state;
	assert_non_null(f);
	esc_fputs(f, esc_text, "x\x1by");
	fclose(f);
	assert_string_equal(buf, "x\\x1by");
}

/* Messages quote names the target chose: pr_err/pr_warn escape the whole line. */
static void test_messages(void **state)
{
	char path[] = "/tmp/pyleak-test-escape-XXXXXX", buf[256];
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	FILE *f;
	size_t n;

	(void)state;
	assert_true(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	pr_err("pid %d: %s", 42, "\x1b]0;pwned\x07\n\xe2\x80\xae");
	pr_warn("%s", "\r\xff");
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	f = fdopen(fd, "r");
	assert_non_null(f);
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	unlink(path);
	assert_string_equal(buf, "pyleak: pid 42: \\x1b]0;pwned\\x07\\n\\u202e\n"
				 "pyleak: warning: \\r\\xff\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text), cmocka_unit_test(test_text_round_trip), cmocka_unit_test(test_json),
		cmocka_unit_test(test_csv),  cmocka_unit_test(test_html),	      cmocka_unit_test(test_prom_and_dot),
		cmocka_unit_test(test_collapsed), cmocka_unit_test(test_buf),	      cmocka_unit_test(test_fputs),
		cmocka_unit_test(test_messages), cmocka_unit_test(test_stack_frames),
	};
	return cmocka_run_group_tests_name("escape", tests, NULL, NULL);
}
