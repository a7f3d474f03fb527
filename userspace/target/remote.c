/* SPDX-License-Identifier: BSD-2-Clause */
/* Read-only access to another process's memory (process_vm_readv), with a pluggable backend. */
#include "target/remote.h"
#include "util/common.h"

#include <errno.h>
#include <string.h>
#include <sys/uio.h>

static int pid_read(struct remote *r, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { .iov_base = buf, .iov_len = len };
	struct iovec rem = { .iov_base = (void *)(uintptr_t)addr, .iov_len = len };
	ssize_t n;

	n = process_vm_readv(r->pid, &local, 1, &rem, 1, 0);
	if (n == (ssize_t)len)
		return 0;
	if (n < 0)
		return errno == ESRCH ? -ESRCH : errno == EPERM ? -EPERM : -EFAULT;
	return -EFAULT;
}

void remote__init_pid(struct remote *r, pid_t pid)
{
	memset(r, 0, sizeof(*r));
	r->pid = pid;
	r->read = pid_read;
}

static int mem_read(struct remote *r, uint64_t addr, void *buf, size_t len)
{
	struct remote_mem *m = r->ctx;

	if (addr < m->base || addr - m->base > m->size || len > m->size - (addr - m->base))
		return -EFAULT;
	memcpy(buf, (const char *)m->buf + (addr - m->base), len);
	return 0;
}

void remote__init_mem(struct remote *r, struct remote_mem *mem)
{
	memset(r, 0, sizeof(*r));
	r->read = mem_read;
	r->ctx = mem;
}

int remote__read(struct remote *r, uint64_t addr, void *buf, size_t len)
{
	int err;

	r->reads++;
	r->bytes += len;
	err = r->read(r, addr, buf, len);
	if (err)
		r->faults++;
	return err;
}

int remote__read_prefix(struct remote *r, uint64_t addr, void *buf, size_t len, size_t min)
{
	uint64_t boundary = (addr | 4095) + 1;
	size_t part;
	int err;

	err = remote__read(r, addr, buf, len);
	if (!err || addr + len <= boundary || boundary - addr < min)
		return err;
	part = boundary - addr;
	err = remote__read(r, addr, buf, part);
	if (!err)
		memset((unsigned char *)buf + part, 0, len - part);
	return err;
}

int remote__readv(struct remote *r, struct remote_iov *iov, int n)
{
	struct iovec local[1024], rem[1024];
	size_t total = 0;
	ssize_t got;
	int i, err = 0;

	if (r->read != pid_read || n > 1024) {
		for (i = 0; i < n; i++) {
			int e = remote__read(r, iov[i].addr, iov[i].buf, iov[i].len);
			if (e && !err)
				err = e;
		}
		return err;
	}
	for (i = 0; i < n; i++) {
		local[i].iov_base = iov[i].buf;
		local[i].iov_len = iov[i].len;
		rem[i].iov_base = (void *)(uintptr_t)iov[i].addr;
		rem[i].iov_len = iov[i].len;
		total += iov[i].len;
	}
	r->reads++;
	r->bytes += total;
	got = process_vm_readv(r->pid, local, n, rem, n, 0);
	if (got == (ssize_t)total)
		return 0;
	/* A partial batch stops at the first bad piece: redo piecewise so the good ones still count. */
	if (got < 0 && errno == ESRCH) {
		r->faults++;
		return -ESRCH;
	}
	for (i = 0; i < n; i++) {
		int e = remote__read(r, iov[i].addr, iov[i].buf, iov[i].len);
		if (e && !err)
			err = e;
	}
	return err;
}

int remote__read_u64(struct remote *r, uint64_t addr, uint64_t *v)
{
	return remote__read(r, addr, v, sizeof(*v));
}

int remote__read_i64(struct remote *r, uint64_t addr, int64_t *v)
{
	return remote__read(r, addr, v, sizeof(*v));
}

int remote__read_i32(struct remote *r, uint64_t addr, int32_t *v)
{
	return remote__read(r, addr, v, sizeof(*v));
}

int remote__read_cstr(struct remote *r, uint64_t addr, char *buf, size_t size)
{
	size_t off = 0, chunk;
	int err;

	if (!size)
		return -EINVAL;
	/* Read in small chunks that do not cross a page, so a string at the end of a mapping works. */
	while (off < size - 1) {
		uint64_t a = addr + off;
		chunk = 4096 - (a & 4095);
		if (chunk > 64)
			chunk = 64;
		if (chunk > size - 1 - off)
			chunk = size - 1 - off;
		err = remote__read(r, a, buf + off, chunk);
		if (err) {
			buf[off] = '\0';
			return err;
		}
		if (memchr(buf + off, '\0', chunk))
			return 0;
		off += chunk;
	}
	buf[size - 1] = '\0';
	return -ENAMETOOLONG;
}
