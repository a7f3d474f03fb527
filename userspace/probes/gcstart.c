/* SPDX-License-Identifier: BSD-2-Clause */
/* Attach a BPF program at the start of every collection of an interpreter, once per file. */
#include "probes/gcstart.h"
#include "util/common.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

int gcstart__attach(struct gcstart_set *s, struct bpf_program *usdt_prog, struct bpf_program *uprobe_prog,
		    const char *path, bool usdt, uint64_t off, uint64_t cookie, const char *what)
{
	LIBBPF_OPTS(bpf_uprobe_opts, uo);
	struct bpf_link *link;
	struct stat st;
	int i, err;

	if (stat(path, &st))
		return -errno;
	if (usdt)
		off = 0;
	for (i = 0; i < s->n; i++)
		if (s->att[i].dev == st.st_dev && s->att[i].ino == st.st_ino && s->att[i].off == off)
			return 0;
	if (s->n == GCSTART_MAX_ATTACH)
		return -ENOSPC;
	if (usdt) {
		link = bpf_program__attach_usdt(usdt_prog, -1, path, "python", "gc__start", NULL);
	} else {
		uo.bpf_cookie = cookie;
		link = bpf_program__attach_uprobe_opts(uprobe_prog, -1, path, off, &uo);
	}
	if (!link) {
		err = -errno;
		pr_err("cannot attach the %s probe to %s: %s", what, path, strerror(-err));
		return err;
	}
	s->att[s->n].dev = st.st_dev;
	s->att[s->n].ino = st.st_ino;
	s->att[s->n].off = off;
	s->att[s->n].link = link;
	s->n++;
	return 0;
}

void gcstart__detach_all(struct gcstart_set *s)
{
	int i;

	for (i = 0; i < s->n; i++)
		bpf_link__destroy(s->att[i].link);
	s->n = 0;
}
