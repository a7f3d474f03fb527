/* SPDX-License-Identifier: BSD-2-Clause */
/* What the trace writer's files share: record.c owns the file, record_groups.c writes families. */
#ifndef PYLEAK_RECORD_INTERNAL_H
#define PYLEAK_RECORD_INTERNAL_H

#include <sqlite3.h>
#include <stdint.h>
#include <sys/types.h>

struct recorder;

/* record_groups.c: the families' tables (docs/trace-schema.md), created with the others. */
extern const char recorder__groups_schema[];

/* record.c: the database, and a process's row id opening the interval's transaction. */
sqlite3 *recorder__db(struct recorder *r);
int recorder__proc_id(struct recorder *r, pid_t pid, int64_t *id);

#endif /* PYLEAK_RECORD_INTERNAL_H */
