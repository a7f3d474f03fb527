/* SPDX-License-Identifier: BSD-2-Clause */
/* Attaching and tearing down uprobe links quickly: what a duty-cycled probe set needs. */
#ifndef PYLEAK_LINKS_H
#define PYLEAK_LINKS_H

#include <stdint.h>
#include <sys/types.h>

struct bpf_link;

/* enum bpf_attach_type value of Linux 6.6+; libbpf 1.1's headers predate it. */
#define PYLEAK_BPF_TRACE_UPROBE_MULTI 48

/*
 * One uprobe_multi link: prog (loaded with expected_attach_type PYLEAK_BPF_TRACE_UPROBE_MULTI) on
 * cnt file offsets of path, each with its cookie, only in process pid.  Returns the link fd
 * (close it to detach), or -errno: -EINVAL/-EOPNOTSUPP/-ENOSYS mean "kernel without uprobe_multi"
 * to the caller, who falls back to perf-event links.
 */
int links__uprobe_multi(int prog_fd, const char *path, const uint64_t *offsets, const uint64_t *cookies, int cnt,
			pid_t pid);

/* The same with uprobe_multi flags: PYLEAK_UPROBE_MULTI_RETURN makes it a uretprobe link. */
#define PYLEAK_UPROBE_MULTI_RETURN 1 /* BPF_F_UPROBE_MULTI_RETURN, Linux 6.6 */
int links__uprobe_multi_flags(int prog_fd, const char *path, const uint64_t *offsets, const uint64_t *cookies,
			      int cnt, pid_t pid, uint32_t umulti_flags);

/*
 * Tear down nlinks libbpf links and nfds link fds (NULL / negative entries skipped), concurrently,
 * and clear every entry (NULL, -1).
 *
 * Why concurrently: on Linux 6.18 closing a perf-event uprobe link takes ~0.1 s (its teardown
 * waits for RCU grace periods) and its breakpoint keeps trapping in the target until that
 * teardown reaches it: torn down one after another, the last of six allocator probes kept costing
 * an allocation-heavy target for ~0.6 s after pyleak decided to detach (measured with
 * tools/bench/detach_tail.py).  Returns when every link is gone, so callers keep the "no probes
 * left behind" guarantee.
 */
void links__destroy_all(struct bpf_link **links, int nlinks, int *fds, int nfds);

#endif
