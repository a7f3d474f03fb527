/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests of util/pidmap: against a plain array under random puts and deletes (the
 * backward-shift deletion is the part that can silently lose an entry). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "util/pidmap.h"

#define MAXPID 5000

static void test_empty(void **state)
{
	struct pidmap m = {0};
	int x;

	(void)state;
	assert_null(pidmap__get(&m, 1));
	pidmap__del(&m, 1, NULL);
	assert_int_equal(pidmap__put(&m, 0, &x), -22);
	assert_int_equal(pidmap__put(&m, -5, &x), -22);
	assert_null(pidmap__get(&m, 0));
	pidmap__fini(&m);
}

static void test_matches_reference(void **state)
{
	static void *ref[MAXPID + 1];
	static int vals[MAXPID + 1];
	struct pidmap m = {0};
	unsigned seed = 12345;
	size_t n = 0;
	int op, pid, i;

	(void)state;
	for (op = 0; op < 400000; op++) {
		seed = seed * 1103515245u + 12345u;
		/* dense runs (as pids are) and scattered ones */
		pid = 1 + (int)((seed >> 8) % (op < 200000 ? 1200 : MAXPID));
		switch ((seed >> 4) % 5) {
		case 0:
		case 1:
			assert_int_equal(pidmap__put(&m, pid, &vals[pid]), 0);
			n += !ref[pid];
			ref[pid] = &vals[pid];
			break;
		case 2:
			/* deleting with another value than the one held keeps the entry */
			pidmap__del(&m, pid, &vals[pid % MAXPID + 1]);
			break;
		default:
			pidmap__del(&m, pid, (seed >> 20) & 1 ? ref[pid] : NULL);
			n -= !!ref[pid];
			ref[pid] = NULL;
			break;
		}
		if (op % 997 == 0)
			for (i = 1; i <= MAXPID; i++)
				assert_ptr_equal(pidmap__get(&m, i), ref[i]);
		assert_int_equal(m.n, n);
	}
	for (i = 1; i <= MAXPID; i++)
		assert_ptr_equal(pidmap__get(&m, i), ref[i]);
	pidmap__clear(&m);
	for (i = 1; i <= MAXPID; i++)
		assert_null(pidmap__get(&m, i));
	assert_int_equal(m.n, 0);
	pidmap__fini(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_matches_reference),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
