/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer harness: arbitrary bytes as a trace file through the reader and every report format. */
/*
 * Build and run (bounded):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -std=gnu11 -I.output -Iuserspace -I. -Ibpf \
 *     -DPYLEAK_VERSION='"fuzz"' tests/fuzz/fuzz_trace.c userspace/trace/trace.c userspace/trace/report*.c \
 *     userspace/util/common.c userspace/util/format.c userspace/model/gcstats.c -lsqlite3 -lm -o /tmp/fuzz_trace
 *   /tmp/fuzz_trace -max_total_time=60 -max_len=131072 -close_fd_mask=2 CORPUS_DIR
 * (-close_fd_mask=2 silences the reader's one-line refusals; libFuzzer keeps its own output.)
 * Seeds: real traces (pyleak record) and their truncations; SQLite rejects most random headers,
 * so mutations of real files are what reach the loaders.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trace/report.h"
#include "trace/trace.h"

static char path[64];
static FILE *sink;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int fd;

	(void)argc;
	(void)argv;
	snprintf(path, sizeof(path), "/tmp/pyleak-fuzz-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		abort();
	close(fd);
	sink = fopen("/dev/null", "w");
	if (!sink)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trace *t = NULL;
	FILE *f;
	char side[80];

	/* stale WAL/SHM files of a previous input would be replayed into this one */
	snprintf(side, sizeof(side), "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", path);
	unlink(side);
	f = fopen(path, "w");
	if (!f)
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
	if (trace__load(path, &t) == 0) {
		for (int fmt = REPORT_TEXT; fmt <= REPORT_COLLAPSED; fmt++)
			report__write(t, (enum report_format)fmt, sink);
		trace__free(t);
	}
	return 0;
}
