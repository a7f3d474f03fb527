/* SPDX-License-Identifier: BSD-2-Clause */
/* uprobe_multi links by raw syscall and concurrent link teardown: see links.h for why. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "probes/links.h"

/* The BPF_LINK_CREATE part of union bpf_attr with the uprobe_multi member (include/uapi/linux/
 * bpf.h, Linux 6.6), which the build machine's headers may not have.  The kernel zero-extends a
 * shorter attr, so the size of this struct is enough. */
struct link_create_umulti {
	uint32_t prog_fd;
	uint32_t target_fd;
	uint32_t attach_type;
	uint32_t flags;
	uint64_t path;
	uint64_t offsets;
	uint64_t ref_ctr_offsets;
	uint64_t cookies;
	uint32_t cnt;
	uint32_t umulti_flags;
	uint32_t pid;
};

#define CMD_LINK_CREATE 28 /* enum bpf_cmd BPF_LINK_CREATE */

int links__uprobe_multi(int prog_fd, const char *path, const uint64_t *offsets, const uint64_t *cookies, int cnt,
			pid_t pid)
{
	return links__uprobe_multi_flags(prog_fd, path, offsets, cookies, cnt, pid, 0);
}

int links__uprobe_multi_flags(int prog_fd, const char *path, const uint64_t *offsets, const uint64_t *cookies,
			      int cnt, pid_t pid, uint32_t umulti_flags)
{
	struct link_create_umulti a;
	long fd;

	if (prog_fd < 0 || !path || !offsets || cnt <= 0 || pid <= 0)
		return -EINVAL;
	memset(&a, 0, sizeof(a));
	a.prog_fd = (uint32_t)prog_fd;
	a.attach_type = PYLEAK_BPF_TRACE_UPROBE_MULTI;
	a.path = (uint64_t)(uintptr_t)path;
	a.offsets = (uint64_t)(uintptr_t)offsets;
	a.cookies = (uint64_t)(uintptr_t)cookies;
	a.cnt = (uint32_t)cnt;
	a.pid = (uint32_t)pid;
	a.umulti_flags = umulti_flags;
	fd = syscall(__NR_bpf, CMD_LINK_CREATE, &a, sizeof(a));
	return fd < 0 ? -errno : (int)fd;
}

#define MAX_THREADS 64 /* beyond this, threads take a stride of the work each */

struct stride {
	struct bpf_link **links;
	int *fds;
	int nlinks, n, first, step;
};

static void *destroy_stride(void *arg)
{
	struct stride *s = arg;
	int i;

	for (i = s->first; i < s->n; i += s->step) {
		if (i < s->nlinks) {
			bpf_link__destroy(s->links[i]);
			s->links[i] = NULL;
		} else if (s->fds[i - s->nlinks] >= 0) {
			close(s->fds[i - s->nlinks]);
			s->fds[i - s->nlinks] = -1;
		}
	}
	return NULL;
}

void links__destroy_all(struct bpf_link **links, int nlinks, int *fds, int nfds)
{
	struct stride st[MAX_THREADS];
	pthread_t tid[MAX_THREADS];
	int started[MAX_THREADS];
	int i, live = 0, n = nlinks + nfds, nthreads;

	for (i = 0; i < nlinks; i++)
		live += links[i] != NULL;
	for (i = 0; i < nfds; i++)
		live += fds[i] >= 0;
	nthreads = live < 2 ? 1 : live < MAX_THREADS ? live : MAX_THREADS;
	for (i = 0; i < nthreads; i++) {
		st[i] = (struct stride){ .links = links, .fds = fds, .nlinks = nlinks, .n = n, .first = i,
					 .step = nthreads };
		/* A thread that cannot start (RLIMIT_NPROC, memory) has its stride done inline below. */
		started[i] = nthreads > 1 && !pthread_create(&tid[i], NULL, destroy_stride, &st[i]);
	}
	for (i = 0; i < nthreads; i++) {
		if (started[i])
			pthread_join(tid[i], NULL);
		else
			destroy_stride(&st[i]);
	}
}
