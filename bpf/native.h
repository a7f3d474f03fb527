/* SPDX-License-Identifier: BSD-2-Clause */
/* ABI between bpf/native.bpf.c and userspace/probes/native.c: sampled libc allocations with stacks. */
#ifndef PYLEAK_NATIVE_H
#define PYLEAK_NATIVE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/*
 * Map sizes (preallocated: uprobes run in atomic context).
 *   native_inflight 4096 x 112 B: sampled calls between entry and return, per thread
 *   native_live     65536 x 24 B: sampled blocks not seen freed (the free probe looks here)
 *   native_pystacks 8192 x 1 KiB ≈ 8.5 MiB: Python stacks of sampled calls, per (pid, id)
 *   native_events   4 MiB ring buffer of struct native_event (~120 B): ~35000 events
 * A full map or ring bumps a NATIVE_CNT_* counter, shown to the user.
 */
#define NATIVE_MAX_PIDS	    1024
#define NATIVE_MAX_INFLIGHT 4096
#define NATIVE_MAX_LIVE	    65536
#define NATIVE_MAX_STACKS   8192
#define NATIVE_RINGBUF	    (4u << 20)
#define NATIVE_FRAMES	    8 /* deeper native frames (frame pointers), besides the caller */

/* Attach cookie of the libc probes. */
enum native_fn {
	NATIVE_FN_MALLOC = 1,
	NATIVE_FN_CALLOC,
	NATIVE_FN_REALLOC,
	NATIVE_FN_MEMALIGN, /* posix_memalign(void **memptr, size_t align, size_t size) */
	NATIVE_FN_FREE,
	NATIVE_FN_MMAP,	  /* mmap(addr, len, prot, flags, fd, off): anonymous mappings only */
	NATIVE_FN_MUNMAP, /* munmap(addr, len): a sampled mapping's start is freed */
	NATIVE_FN_MAX,
};
#define NATIVE_MAP_ANONYMOUS 0x20 /* <sys/mman.h> MAP_ANONYMOUS on x86-64 */

/* Value of `native_targets`, key = tgid. */
struct native_target {
	__u32 every; /* sample every Nth call of the pid (>= 1) */
	__u32 flags; /* NATIVE_T_PYSTACK: capture the Python stack (a pystack_cfg is registered) */
};
#define NATIVE_T_PYSTACK 1

/* Value of `native_pids`, key = tgid; cumulative since registration. */
struct native_pid_stats {
	__u64 calls;	      /* allocation calls seen (probes attached) */
	__u64 frees;	      /* free/realloc(old) calls seen */
	__u64 sampled;	      /* calls picked for a sample */
	__u64 recorded;	      /* samples whose return was seen with a non-NULL block */
	__u64 freed;	      /* sampled blocks seen freed */
	__u64 py_errors;      /* Python stack not captured (no thread state, read error) */
	__u64 inflight_full;
	__u64 live_full;
	__u64 stacks_full;
	__u64 ring_full;
};

/* Ring-buffer records start with a type tag (retsnoop). */
enum native_ev_type { NATIVE_EV_ALLOC = 1, NATIVE_EV_FREE = 2 };

struct native_event {
	__u32 type;    /* NATIVE_EV_* */
	__u32 pid;
	__u64 addr;    /* the block (malloc's return value) */
	__u64 size;    /* requested bytes (calloc: n * size) */
	__u64 ns;      /* bpf_ktime_get_ns() at entry */
	__u64 caller;  /* return address at the probed function's entry: the immediate native caller */
	__u64 py_stack_id; /* key in native_pystacks; 0 = none */
	__u32 fn;      /* NATIVE_FN_* */
	__u32 nnative; /* valid entries of native[] */
	__u64 native[NATIVE_FRAMES]; /* frame-pointer return addresses beyond the caller */
};

/* Value of `native_inflight`, key = pid_tgid (one sampled call per thread at a time). */
struct native_inflight {
	struct native_event ev;
	__u64 memptr; /* posix_memalign's first argument */
};

struct native_live_key {
	__u32 pid;
	__u32 pad;
	__u64 addr;
};

/* Indices of the per-CPU `native_counters` array. */
enum native_counter {
	NATIVE_CNT_HITS = 0, /* probe hits of every pid (entries + returns), for the budget */
	NATIVE_CNT_PID_FULL,
	NATIVE_CNT_MAX,
};

#endif /* PYLEAK_NATIVE_H */
