/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer harness: arbitrary bytes as /proc text (maps lines, status, stat, cgroup paths). */
/*
 * A process controls part of what /proc shows about it: its comm (in status and between the
 * parentheses of stat, where it may contain ") " and newlines), the paths of its mappings
 * (file names with spaces, newlines or " (deleted)"), its cgroup path inside a container. Each
 * parser runs on the input as a NUL-terminated string; the maps parser also line by line.
 * Built and run by tests/fuzz/run.sh with seeds from this machine's /proc.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target/proc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proc_status *st;
	struct proc_stat *pst;
	struct proc_map *m;
	char id[65], small_id[8];
	uint64_t ticks;
	char *text, *line, *save = NULL;

	text = malloc(size + 1);
	st = malloc(sizeof(*st));
	m = malloc(sizeof(*m));
	pst = malloc(sizeof(*pst));
	if (!text || !st || !m || !pst)
		goto out;
	memcpy(text, data, size);
	text[size] = '\0';

	proc__parse_status(text, st);
	proc__parse_stat_start_time(text, &ticks);
	proc__parse_stat(text, pst);
	proc__container_id_from_cgroup(text, id, sizeof(id));
	proc__container_id_from_cgroup(text, small_id, sizeof(small_id));
	proc__parse_maps_line(text, m);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		proc__parse_maps_line(line, m);
		proc__container_id_from_cgroup(line, id, sizeof(id));
	}
out:
	free(text);
	free(st);
	free(m);
	free(pst);
	return 0;
}
