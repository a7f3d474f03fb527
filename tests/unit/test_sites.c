/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests of userspace/probes/sites.c pure logic: line tables of every CPython format (co_lnotab <= 3.9,
 * 3.10 co_linetable, 3.11+ location table) against vectors produced by the interpreters themselves,
 * and the collapsed-stack / frame formatters. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "probes/sites.h"

/*
 * Vectors: the same function (loops, a break, a multi-line expression, a 300-line gap to force
 * multi-entry deltas, a closure cell so 3.11+ has a no-location prefix instruction) compiled by
 * pyenv 3.8.18 ... 3.13.0; the expected line per captured instruction offset comes from CPython's
 * own dis.findlinestarts (<= 3.9), co_lines() (3.10) and co_positions() (3.11+).  The second column
 * is the expected line, the first the offset in the unit the BPF walker captures for that version.
 */
static const uint8_t v38_tab[] = {0x00, 0x01, 0x08, 0x01, 0x0c, 0x01, 0x08, 0x02, 0x08, 0x01, 0x06, 0x01, 0x02, 0x01, 0x02, 0x01, 0x02, 0xfe, 0x04, 0x7f, 0x00, 0x7f, 0x00, 0x31, 0x02, 0x01, 0x06, 0xff, 0x04, 0x02, 0x0c, 0x02};
static const int v38_first = 2;
static const int v38_vec[][2] = {{0, 3}, {2, 3}, {4, 3}, {6, 3}, {8, 4}, {10, 4}, {12, 4}, {14, 4}, {16, 4}, {18, 4}, {20, 5}, {22, 5}, {24, 5}, {26, 5}, {28, 7}, {30, 7}, {32, 7}, {34, 7}, {36, 8}, {38, 8}, {40, 8}, {42, 9}, {44, 10}, {46, 11}, {48, 9}, {50, 9}, {52, 312}, {54, 313}, {56, 313}, {58, 313}, {60, 312}, {62, 312}, {64, 314}, {66, 314}, {68, 314}, {70, 314}, {72, 314}, {74, 314}, {76, 316}, {78, 316}};
static const uint8_t v39_tab[] = {0x00, 0x01, 0x08, 0x01, 0x0c, 0x01, 0x08, 0x02, 0x08, 0x01, 0x06, 0x01, 0x02, 0x01, 0x02, 0x01, 0x02, 0xfe, 0x04, 0x7f, 0x00, 0x7f, 0x00, 0x31, 0x02, 0x01, 0x06, 0xff, 0x04, 0x02, 0x0c, 0x02};
static const int v39_first = 2;
static const int v39_vec[][2] = {{0, 3}, {2, 3}, {4, 3}, {6, 3}, {8, 4}, {10, 4}, {12, 4}, {14, 4}, {16, 4}, {18, 4}, {20, 5}, {22, 5}, {24, 5}, {26, 5}, {28, 7}, {30, 7}, {32, 7}, {34, 7}, {36, 8}, {38, 8}, {40, 8}, {42, 9}, {44, 10}, {46, 11}, {48, 9}, {50, 9}, {52, 312}, {54, 313}, {56, 313}, {58, 313}, {60, 312}, {62, 312}, {64, 314}, {66, 314}, {68, 314}, {70, 314}, {72, 314}, {74, 314}, {76, 316}, {78, 316}};
static const uint8_t v310_tab[] = {0x08, 0x01, 0x0c, 0x01, 0x08, 0x01, 0x08, 0x02, 0x04, 0x01, 0x02, 0xff, 0x02, 0x02, 0x02, 0x01, 0x02, 0x01, 0x04, 0xfe, 0x00, 0x7f, 0x00, 0x7f, 0x02, 0x31, 0x06, 0x01, 0x04, 0xff, 0x0c, 0x02, 0x04, 0x02};
static const int v310_first = 2;
static const int v310_vec[][2] = {{0, 3}, {1, 3}, {2, 3}, {3, 3}, {4, 4}, {5, 4}, {6, 4}, {7, 4}, {8, 4}, {9, 4}, {10, 5}, {11, 5}, {12, 5}, {13, 5}, {14, 7}, {15, 7}, {16, 7}, {17, 7}, {18, 8}, {19, 8}, {20, 7}, {21, 9}, {22, 10}, {23, 11}, {24, 9}, {25, 9}, {26, 312}, {27, 313}, {28, 313}, {29, 313}, {30, 312}, {31, 312}, {32, 314}, {33, 314}, {34, 314}, {35, 314}, {36, 314}, {37, 314}, {38, 316}, {39, 316}};
static const uint8_t v311_tab[] = {0xf8, 0x80, 0x00, 0xd8, 0x08, 0x09, 0x88, 0x41, 0x89, 0x05, 0x80, 0x41, 0xdd, 0x0d, 0x12, 0x90, 0x31, 0x89, 0x58, 0x8c, 0x58, 0xf0, 0x00, 0x04, 0x05, 0x12, 0xf0, 0x00, 0x04, 0x05, 0x12, 0x88, 0x01, 0xd8, 0x08, 0x09, 0x88, 0x51, 0x89, 0x06, 0x88, 0x01, 0xe0, 0x0b, 0x0c, 0x88, 0x72, 0x8a, 0x36, 0x88, 0x36, 0xd8, 0x0c, 0x11, 0x88, 0x45, 0xf0, 0x03, 0x00, 0x0c, 0x12, 0xe0, 0x09, 0x0a, 0xd8, 0x09, 0x0a, 0xd8, 0x09, 0x0a, 0xf0, 0x05, 0x02, 0x09, 0x0c, 0x80, 0x41, 0xf0, 0x5e, 0x09, 0x00, 0x0a, 0x0b, 0xd8, 0x08, 0x09, 0x88, 0x21, 0x8c, 0x04, 0xf1, 0x03, 0x01, 0x0a, 0x0d, 0x80, 0x41, 0xf0, 0x04, 0x01, 0x05, 0x11, 0xf0, 0x00, 0x01, 0x05, 0x11, 0xf0, 0x00, 0x01, 0x05, 0x11, 0xf0, 0x00, 0x01, 0x05, 0x11, 0xf0, 0x00, 0x01, 0x05, 0x11, 0xe0, 0x0b, 0x0c, 0x80, 0x48};
static const int v311_first = 2;
static const int v311_vec[][2] = {{0, -1}, {2, 2}, {4, 3}, {6, 3}, {8, 3}, {10, 3}, {12, 3}, {14, 4}, {16, 4}, {18, 4}, {20, 4}, {22, 4}, {24, 4}, {26, 4}, {28, 4}, {30, 4}, {32, 4}, {34, 4}, {36, 4}, {38, 4}, {40, 4}, {42, 4}, {44, 4}, {46, 4}, {48, 5}, {50, 5}, {52, 5}, {54, 5}, {56, 5}, {58, 7}, {60, 7}, {62, 7}, {64, 7}, {66, 7}, {68, 7}, {70, 8}, {72, 8}, {74, 7}, {76, 9}, {78, 10}, {80, 11}, {82, 9}, {84, 9}, {86, 312}, {88, 313}, {90, 313}, {92, 313}, {94, 313}, {96, 313}, {98, 313}, {100, 313}, {102, 312}, {104, 312}, {106, 312}, {108, 314}, {110, 314}, {112, 314}, {114, 314}, {116, 314}, {118, 316}, {120, 316}};
static const uint8_t v312_tab[] = {0xf8, 0x80, 0x00, 0xd8, 0x08, 0x09, 0x88, 0x41, 0x89, 0x05, 0x80, 0x41, 0xdc, 0x0d, 0x12, 0x90, 0x31, 0x8b, 0x58, 0xf2, 0x00, 0x04, 0x05, 0x12, 0x88, 0x01, 0xd8, 0x08, 0x09, 0x88, 0x51, 0x89, 0x06, 0x88, 0x01, 0xe0, 0x0b, 0x0c, 0x88, 0x72, 0x8b, 0x36, 0xd9, 0x0c, 0x11, 0xf0, 0x09, 0x04, 0x05, 0x12, 0xf0, 0x0a, 0x00, 0x0a, 0x0b, 0xd8, 0x09, 0x0a, 0xd8, 0x09, 0x0a, 0xf0, 0x05, 0x02, 0x09, 0x0c, 0x80, 0x41, 0xf0, 0x5e, 0x09, 0x00, 0x0a, 0x0b, 0xd8, 0x08, 0x09, 0x88, 0x21, 0x89, 0x04, 0xf1, 0x03, 0x01, 0x0a, 0x0d, 0x80, 0x41, 0xf4, 0x04, 0x01, 0x05, 0x11, 0xe0, 0x0b, 0x0c, 0x80, 0x48};
static const int v312_first = 2;
static const int v312_vec[][2] = {{0, -1}, {2, 2}, {4, 3}, {6, 3}, {8, 3}, {10, 3}, {12, 3}, {14, 4}, {16, 4}, {18, 4}, {20, 4}, {22, 4}, {24, 4}, {26, 4}, {28, 4}, {30, 4}, {32, 4}, {34, 4}, {36, 4}, {38, 4}, {40, 4}, {42, 5}, {44, 5}, {46, 5}, {48, 5}, {50, 5}, {52, 7}, {54, 7}, {56, 7}, {58, 7}, {60, 7}, {62, 7}, {64, 8}, {66, 8}, {68, 4}, {70, 9}, {72, 10}, {74, 11}, {76, 9}, {78, 9}, {80, 312}, {82, 313}, {84, 313}, {86, 313}, {88, 313}, {90, 312}, {92, 312}, {94, 312}, {96, 314}, {98, 314}, {100, 314}, {102, 314}, {104, 314}, {106, 316}, {108, 316}};
static const uint8_t v313_tab[] = {0xf8, 0x80, 0x00, 0xd8, 0x08, 0x09, 0x89, 0x05, 0x80, 0x41, 0xdc, 0x0d, 0x12, 0x90, 0x31, 0x8e, 0x58, 0x88, 0x01, 0xd8, 0x08, 0x09, 0x89, 0x06, 0x88, 0x01, 0xe0, 0x0b, 0x0c, 0x88, 0x72, 0x8d, 0x36, 0xd9, 0x0c, 0x11, 0xf1, 0x09, 0x00, 0x0e, 0x16, 0xf0, 0x0a, 0x00, 0x0a, 0x0b, 0xd8, 0x09, 0x0a, 0xd8, 0x09, 0x0a, 0xf0, 0x05, 0x02, 0x09, 0x0c, 0x80, 0x41, 0xf0, 0x5e, 0x09, 0x00, 0x0a, 0x0b, 0xd8, 0x08, 0x09, 0x88, 0x21, 0x89, 0x04, 0xf1, 0x03, 0x01, 0x0a, 0x0d, 0x80, 0x41, 0xf5, 0x04, 0x01, 0x05, 0x11, 0xe0, 0x0b, 0x0c, 0x80, 0x48};
static const int v313_first = 2;
static const int v313_vec[][2] = {{0, -1}, {2, 2}, {4, 3}, {6, 3}, {8, 3}, {10, 3}, {12, 4}, {14, 4}, {16, 4}, {18, 4}, {20, 4}, {22, 4}, {24, 4}, {26, 4}, {28, 4}, {30, 4}, {32, 4}, {34, 4}, {36, 4}, {38, 4}, {40, 5}, {42, 5}, {44, 5}, {46, 5}, {48, 7}, {50, 7}, {52, 7}, {54, 7}, {56, 7}, {58, 7}, {60, 7}, {62, 7}, {64, 8}, {66, 8}, {68, 4}, {70, 4}, {72, 9}, {74, 10}, {76, 11}, {78, 9}, {80, 9}, {82, 312}, {84, 313}, {86, 313}, {88, 313}, {90, 313}, {92, 312}, {94, 312}, {96, 312}, {98, 314}, {100, 314}, {102, 314}, {104, 314}, {106, 314}, {108, 314}, {110, 316}, {112, 316}};

static void check_table(int minor, const uint8_t *tab, size_t len, int first, const int (*vec)[2], size_t n)
{
	size_t i;

	assert_true(n > 20);
	for (i = 0; i < n; i++) {
		int got = pyline__addr2line(minor, tab, len, first, vec[i][0]);

		if (got != vec[i][1])
			print_error("3.%d offset %d: expected line %d, got %d\n", minor, vec[i][0], vec[i][1], got);
		assert_int_equal(got, vec[i][1]);
	}
}

#define CHECK(minor, v) check_table(minor, v##_tab, sizeof(v##_tab), v##_first, v##_vec, sizeof(v##_vec) / sizeof(v##_vec[0]))

static void test_lnotab_38(void **state) { (void)state; CHECK(8, v38); }
static void test_lnotab_39(void **state) { (void)state; CHECK(9, v39); }
static void test_linetable_310(void **state) { (void)state; CHECK(10, v310); }
static void test_loctable_311(void **state) { (void)state; CHECK(11, v311); }
static void test_loctable_312(void **state) { (void)state; CHECK(12, v312); }
static void test_loctable_313(void **state) { (void)state; CHECK(13, v313); }

static void test_line_edge_cases(void **state)
{
	static const uint8_t bad[] = {0x01, 0x02}; /* no entry-start bit */
	static const uint8_t none310[] = {0x04, 0x80}; /* 2 instructions without a line */

	(void)state;
	/* 3.10 f_lasti = -1 (frame not started): co_firstlineno, like PyFrame_GetLineNumber. */
	assert_int_equal(pyline__addr2line(10, v310_tab, sizeof(v310_tab), 7, -1), 7);
	/* Past the end and corrupt tables: no line rather than a guess. */
	assert_int_equal(pyline__addr2line(12, v312_tab, sizeof(v312_tab), v312_first, 1 << 20), -1);
	assert_int_equal(pyline__loctable(bad, sizeof(bad), 1, 0), -1);
	assert_int_equal(pyline__linetable310(none310, sizeof(none310), 5, 2), -1);
	assert_int_equal(pyline__addr2line(11, NULL, 0, 1, 0), -1);
	/* Truncated varint in a long-form entry. */
	{
		static const uint8_t trunc[] = {0xf0, 0x41};

		assert_int_equal(pyline__loctable(trunc, sizeof(trunc), 1, 0), -1);
	}
}

static struct site_code code_main = {.addr = 1, .file = "/srv/app.py", .func = "<module>", .ok = true};
static struct site_code code_run = {.addr = 2, .file = "/srv/app.py", .func = "Server.run", .ok = true};
static struct site_code code_odd = {.addr = 3, .file = "/srv/we;ird\nname.py", .func = "f", .ok = true};

static void test_collapsed(void **state)
{
	struct site_stack stacks[3];
	struct sites_report rep = {.pid = 42, .nstacks = 3, .stacks = stacks};
	struct strbuf sb;
	int lines;

	(void)state;
	memset(stacks, 0, sizeof(stacks));
	stacks[0].count = 7;
	stacks[0].nframes = 2;
	stacks[0].frames[0] = (struct site_frame){.code = &code_run, .line = 41}; /* leaf */
	stacks[0].frames[1] = (struct site_frame){.code = &code_main, .line = 3};
	stacks[1].count = 2;
	stacks[1].truncated = true;
	stacks[1].nframes = 1;
	stacks[1].frames[0] = (struct site_frame){.code = &code_odd, .line = -1};
	stacks[2].count = 0; /* nothing sampled: no line */
	stacks[2].nframes = 1;
	stacks[2].frames[0] = (struct site_frame){.code = &code_main, .line = 1};

	sb_init(&sb);
	lines = sites__format_collapsed(&rep, NULL, &sb);
	assert_int_equal(lines, 2);
	assert_string_equal(sb.buf, "/srv/app.py:3 <module>;/srv/app.py:41 Server.run 7\n"
				    "[truncated];/srv/we\\x3bird\\nname.py:? f 2\n");
	sb_reset(&sb);
	lines = sites__format_collapsed(&rep, "python3.11 (42)", &sb);
	assert_int_equal(lines, 2);
	assert_string_equal(sb.buf, "python3.11 (42);/srv/app.py:3 <module>;/srv/app.py:41 Server.run 7\n"
				    "python3.11 (42);[truncated];/srv/we\\x3bird\\nname.py:? f 2\n");
	sb_free(&sb);
}

static void test_frame_format(void **state)
{
	struct site_frame f = {.code = &code_run, .line = 41};
	struct site_frame unknown = {.code = NULL, .line = -1};
	char buf[64], tiny[8];

	(void)state;
	assert_int_equal(site_frame__format(&f, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/srv/app.py:41 Server.run");
	assert_int_equal(site_frame__format(&unknown, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "?:? ?");
	assert_int_equal(site_frame__format(&f, tiny, sizeof(tiny)), -ENAMETOOLONG);
	assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lnotab_38),	cmocka_unit_test(test_lnotab_39),
		cmocka_unit_test(test_linetable_310),	cmocka_unit_test(test_loctable_311),
		cmocka_unit_test(test_loctable_312),	cmocka_unit_test(test_loctable_313),
		cmocka_unit_test(test_line_edge_cases), cmocka_unit_test(test_collapsed),
		cmocka_unit_test(test_frame_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
