/* SPDX-License-Identifier: BSD-2-Clause */
/* Read-only access to another process's memory (process_vm_readv), with a pluggable backend. */
#ifndef PYLEAK_REMOTE_H
#define PYLEAK_REMOTE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Every read of target memory goes through one of these. The backend is process_vm_readv for a
 * live pid; unit tests and fuzzers substitute a buffer so that parsers of remote memory can be
 * fed arbitrary bytes. pyleak never writes to the target: there is no write function.
 */
struct remote {
	pid_t pid;
	/* Returns 0 when all len bytes were read, -EFAULT on a short/unmapped read, -ESRCH if gone. */
	int (*read)(struct remote *r, uint64_t addr, void *buf, size_t len);
	void *ctx;
	uint64_t reads, bytes, faults; /* counters for the "inconsistencies" report */
};

struct remote_iov {
	uint64_t addr;
	void *buf;
	size_t len;
};

void remote__init_pid(struct remote *r, pid_t pid);
/* Memory backend: [base, base+size) of the fake address space maps to buf. */
struct remote_mem {
	uint64_t base;
	const void *buf;
	size_t size;
};
void remote__init_mem(struct remote *r, struct remote_mem *mem);

int remote__read(struct remote *r, uint64_t addr, void *buf, size_t len);
/*
 * A fixed-size copy of an object's start (its header, to read a length or a type): len bytes, or,
 * when they run off the end of a mapping, the bytes up to the page boundary where it ends (at
 * least min) with the rest zeroed. A small object that is the last block of an arena is whole;
 * only the bytes after it, which are not part of it, are unmapped.
 */
int remote__read_prefix(struct remote *r, uint64_t addr, void *buf, size_t len, size_t min);
/* Batched: one process_vm_readv for up to 1024 pieces; 0 only if every piece was read whole. */
int remote__readv(struct remote *r, struct remote_iov *iov, int n);
int remote__read_u64(struct remote *r, uint64_t addr, uint64_t *v);
int remote__read_i64(struct remote *r, uint64_t addr, int64_t *v);
int remote__read_i32(struct remote *r, uint64_t addr, int32_t *v);
/* NUL-terminated string of at most size-1 bytes; -ENAMETOOLONG if no NUL within it. */
int remote__read_cstr(struct remote *r, uint64_t addr, char *buf, size_t size);

/* A plausible user-space pointer on x86_64 (canonical lower half, aligned to align). */
static inline int remote__valid_ptr(uint64_t p, unsigned align)
{
	return p >= 0x1000 && p < 0x00007ffffffff000ull && (p & (align - 1)) == 0;
}

#endif /* PYLEAK_REMOTE_H */
