/* SPDX-License-Identifier: BSD-2-Clause */
/* /proc/PID/smaps and /proc/PID/pagemap: where a process's resident pages are, per mapping. */
#include "target/smaps.h"
#include "target/proc.h"
#include "util/common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PAGE 4096ull
/* pthread guard pages are one page by default (pthread_attr_setguardsize can raise it); the
 * ---p tail of a glibc malloc heap (HEAP_MAX_SIZE reservation, 64 MiB) is usually far larger. */
#define MAX_GUARD (1ull << 20)
/* No mapping has more than 2^50 kB resident; a bigger number is a parse of garbage. */
#define MAX_KB (1ull << 50)

const char *smaps_kind__name(enum smaps_kind k)
{
	static const char *const names[SMAPS_NKINDS] = { "anon", "heap", "stack", "thread_stack", "file", "other" };

	return (unsigned)k < SMAPS_NKINDS ? names[k] : "?";
}

static bool is_header(const char *p, const char *end)
{
	const char *q = p;

	while (q < end && ((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f')))
		q++;
	return q > p && q < end && *q == '-';
}

static enum smaps_kind classify(const struct proc_map *m, const struct smaps_vma *prev)
{
	if (!m->path[0]) {
		if (!strcmp(m->perms, "---p"))
			return SMAPS_OTHER;
		/* glibc allocate_stack: one mmap, its lowest guardsize bytes mprotect'ed PROT_NONE. */
		if (prev && prev->end == m->start && !prev->named && !strcmp(prev->perms, "---p") &&
		    prev->end - prev->start <= MAX_GUARD && m->perms[0] == 'r' && m->perms[1] == 'w')
			return SMAPS_THREAD_STACK;
		return SMAPS_ANON;
	}
	if (!strcmp(m->path, "[heap]"))
		return SMAPS_HEAP;
	if (!strcmp(m->path, "[stack]"))
		return SMAPS_STACK;
	if (!strncmp(m->path, "[anon:", 6) || !strncmp(m->path, "[anon_shmem:", 12))
		return m->path[5] == ':' ? SMAPS_ANON : SMAPS_FILE;
	if (m->path[0] == '[')
		return SMAPS_OTHER;
	return SMAPS_FILE; /* files, memfd:, /dev/zero (deleted) and SysV shm are all shared-capable */
}

static void add_totals(struct smaps_totals *tot, const struct smaps_vma *v)
{
	tot->rss += v->rss;
	tot->pss += v->pss;
	tot->shared += v->shared;
	tot->anonymous += v->anonymous;
	tot->swap += v->swap;
	tot->kind_rss[v->kind] += v->rss;
	if (v->kind == SMAPS_THREAD_STACK)
		tot->thread_stacks++;
	tot->nvmas++;
}

/* "Name:   123 kB" -> bytes; false when the line is not such a field. */
static bool field_kb(const char *line, size_t len, const char *name, uint64_t *bytes)
{
	size_t n = strlen(name), i;
	uint64_t v = 0;

	if (len <= n || memcmp(line, name, n) || line[n] != ':')
		return false;
	for (i = n + 1; i < len && line[i] == ' '; i++)
		;
	if (i >= len || line[i] < '0' || line[i] > '9')
		return false;
	for (; i < len && line[i] >= '0' && line[i] <= '9'; i++) {
		v = v * 10 + (uint64_t)(line[i] - '0');
		if (v > MAX_KB)
			return false;
	}
	*bytes = v * 1024;
	return true;
}

int smaps__parse(const char *text, size_t len, struct smaps_vma *vmas, int max, struct smaps_totals *tot)
{
	const char *p = text, *end = text + len;
	struct smaps_vma cur, prev;
	bool have = false, have_prev = false;
	int n = 0;
	uint64_t v;

	memset(tot, 0, sizeof(*tot));
	memset(&prev, 0, sizeof(prev));
	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (is_header(p, p + ll)) {
			char line[PROC_PATH_MAX + 128];
			struct proc_map m;

			if (ll >= sizeof(line))
				return -EINVAL;
			memcpy(line, p, ll);
			line[ll] = 0;
			if (proc__parse_maps_line(line, &m))
				return -EINVAL;
			if (have) {
				if (vmas && n < max)
					vmas[n] = cur;
				add_totals(tot, &cur);
				n++;
				prev = cur;
				have_prev = true;
			}
			memset(&cur, 0, sizeof(cur));
			cur.start = m.start;
			cur.end = m.end;
			memcpy(cur.perms, m.perms, sizeof(cur.perms));
			cur.named = m.path[0] != 0;
			cur.kind = classify(&m, have_prev ? &prev : NULL);
			have = true;
		} else if (have) {
			if (field_kb(p, ll, "Rss", &v))
				cur.rss = v;
			else if (field_kb(p, ll, "Pss", &v))
				cur.pss = v;
			else if (field_kb(p, ll, "Shared_Clean", &v) || field_kb(p, ll, "Shared_Dirty", &v))
				cur.shared += v;
			else if (field_kb(p, ll, "Private_Clean", &v) || field_kb(p, ll, "Private_Dirty", &v))
				cur.private_ += v;
			else if (field_kb(p, ll, "Anonymous", &v))
				cur.anonymous = v;
			else if (field_kb(p, ll, "Swap", &v))
				cur.swap = v;
		} else if (ll) {
			return -EINVAL; /* text before the first mapping: not smaps */
		}
		p = nl ? nl + 1 : end;
	}
	if (have) {
		if (vmas && n < max)
			vmas[n] = cur;
		add_totals(tot, &cur);
		n++;
	}
	return n;
}

static char *slurp(const char *path, size_t cap, size_t *len)
{
	size_t size = 1 << 16, used = 0;
	char *buf = malloc(size), *nb;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t k;

	if (fd < 0 || !buf) {
		int e = fd < 0 ? errno : ENOMEM;

		if (fd >= 0)
			close(fd);
		free(buf);
		errno = e;
		return NULL;
	}
	for (;;) {
		if (used == size) {
			if (size >= cap)
				break; /* bounded: the tail is dropped, totals cover what was read */
			size *= 2;
			nb = realloc(buf, size);
			if (!nb) {
				free(buf);
				close(fd);
				errno = ENOMEM;
				return NULL;
			}
			buf = nb;
		}
		k = read(fd, buf + used, size - used);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			int e = errno;

			free(buf);
			close(fd);
			errno = e;
			return NULL;
		}
		if (k == 0)
			break;
		used += k;
	}
	close(fd);
	*len = used;
	return buf;
}

int smaps__read(pid_t pid, struct smaps_vma **vmas, struct smaps_totals *tot)
{
	char path[64];
	size_t len = 0;
	char *text;
	int n, err;

	*vmas = NULL;
	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	text = slurp(path, SMAPS_MAX_TEXT, &len);
	if (!text)
		return errno == ENOENT ? -ESRCH : -errno;
	n = smaps__parse(text, len, NULL, 0, tot);
	if (n < 0) {
		free(text);
		return n;
	}
	if (n > SMAPS_MAX_VMAS)
		n = SMAPS_MAX_VMAS;
	*vmas = calloc(n ? n : 1, sizeof(**vmas));
	if (!*vmas) {
		free(text);
		return -ENOMEM;
	}
	err = smaps__parse(text, len, *vmas, n, tot);
	free(text);
	if (err < 0) {
		free(*vmas);
		*vmas = NULL;
		return err;
	}
	return err < n ? err : n;
}

int pagemap__present(pid_t pid, uint64_t start, size_t npages, unsigned char *present)
{
	char path[64];
	uint64_t ent[512];
	size_t done = 0, i;
	int fd, err = 0;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	while (done < npages) {
		size_t want = MIN(npages - done, ARRAY_SIZE(ent));
		ssize_t k = pread(fd, ent, want * 8, (off_t)((start / PAGE + done) * 8));

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0 || k % 8) {
			err = k < 0 ? -errno : -EIO;
			break;
		}
		/* bit 63: present in RAM (bit 62 would be swapped: not resident, not counted). */
		for (i = 0; i < (size_t)k / 8; i++)
			present[done + i] = (ent[i] >> 63) & 1;
		done += k / 8;
	}
	close(fd);
	return err;
}

int64_t pagemap__resident(pid_t pid, uint64_t start, uint64_t end)
{
	unsigned char present[512];
	uint64_t p, total = 0;
	size_t i, n;
	int err;

	if (end < start || (start & (PAGE - 1)))
		return -EINVAL;
	for (p = start; p < end; p += n * PAGE) {
		n = MIN((end - p + PAGE - 1) / PAGE, sizeof(present));
		err = pagemap__present(pid, p, n, present);
		if (err)
			return err;
		for (i = 0; i < n; i++)
			total += present[i] ? PAGE : 0;
	}
	return (int64_t)total;
}
