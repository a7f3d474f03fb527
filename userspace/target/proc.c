/* SPDX-License-Identifier: BSD-2-Clause */
/* /proc parsing: pids, memory maps, command lines, namespaces, cgroups, RSS. */
#include "target/proc.h"
#include "util/common.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* /proc can list tens of thousands of tasks; this bounds one scan. */
#define PROC_MAX_PIDS 65536
/* A Python process rarely has more than a few thousand mappings; cap what we read. */
#define PROC_MAX_MAPS 65536

int proc__list_pids(pid_t **pids)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t *arr = NULL, *tmp;
	int n = 0, cap = 0;
	long v;

	if (!d)
		return -errno;
	while ((de = readdir(d)) && n < PROC_MAX_PIDS) {
		if (!isdigit((unsigned char)de->d_name[0]) || parse_long(de->d_name, 1, INT32_MAX, &v))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			tmp = realloc(arr, cap * sizeof(*arr));
			if (!tmp) {
				free(arr);
				closedir(d);
				return -ENOMEM;
			}
			arr = tmp;
		}
		arr[n++] = (pid_t)v;
	}
	closedir(d);
	*pids = arr;
	return n;
}

int proc__parse_maps_line(const char *line, struct proc_map *m)
{
	unsigned long long start, end, pgoff, inode;
	unsigned maj, mnr;
	char perms[8];
	int pos = 0;
	const char *path;
	size_t len;

	memset(m, 0, sizeof(*m));
	if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %n", &start, &end, perms, &pgoff, &maj, &mnr,
		   &inode, &pos) < 7 || !pos)
		return -EINVAL;
	if (end < start || strlen(perms) != 4)
		return -EINVAL;
	m->start = start;
	m->end = end;
	m->pgoff = pgoff;
	m->inode = inode;
	m->dev_major = maj;
	m->dev_minor = mnr;
	memcpy(m->perms, perms, 5);
	path = line + pos;
	while (*path == ' ')
		path++;
	len = strcspn(path, "\n");
	if (len >= sizeof(m->path))
		len = sizeof(m->path) - 1;
	memcpy(m->path, path, len);
	m->path[len] = '\0';
	if (len > 10 && !strcmp(m->path + len - 10, " (deleted)")) {
		m->path[len - 10] = '\0';
		m->deleted = true;
	}
	return 0;
}

int proc__read_maps(pid_t pid, struct proc_map **maps)
{
	char path[64], line[PROC_PATH_MAX + 128];
	struct proc_map *arr = NULL, *tmp;
	int n = 0, cap = 0, err;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	while (fgets(line, sizeof(line), f) && n < PROC_MAX_MAPS) {
		/* A line longer than the buffer: skip its remainder rather than mis-parse it. */
		if (!strchr(line, '\n') && !feof(f)) {
			int c;
			while ((c = fgetc(f)) != EOF && c != '\n')
				;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 128;
			tmp = realloc(arr, cap * sizeof(*arr));
			if (!tmp) {
				err = -ENOMEM;
				goto cleanup;
			}
			arr = tmp;
		}
		if (!proc__parse_maps_line(line, &arr[n]))
			n++;
	}
	if (ferror(f)) {
		err = errno == ESRCH ? -ESRCH : -EIO;
		goto cleanup;
	}
	fclose(f);
	*maps = arr;
	return n;
cleanup:
	fclose(f);
	free(arr);
	return err;
}

int proc__parse_status(const char *text, struct proc_status *st)
{
	const char *line = text;
	bool have_vm = false;

	memset(st, 0, sizeof(*st));
	while (line && *line) {
		const char *nl = strchr(line, '\n');

		if (!strncmp(line, "Name:\t", 6)) {
			size_t len = nl ? (size_t)(nl - line - 6) : strlen(line + 6);
			if (len >= sizeof(st->name))
				len = sizeof(st->name) - 1;
			memcpy(st->name, line + 6, len);
			st->name[len] = '\0';
		} else if (!strncmp(line, "State:", 6)) {
			const char *p = line + 6;
			while (*p == ' ' || *p == '\t')
				p++;
			st->state = *p;
		} else if (!strncmp(line, "Tgid:", 5)) {
			st->tgid = (pid_t)strtol(line + 5, NULL, 10);
		} else if (!strncmp(line, "PPid:", 5)) {
			st->ppid = (pid_t)strtol(line + 5, NULL, 10);
		} else if (!strncmp(line, "NSpid:", 6)) {
			const char *p = line + 6;
			char *end;
			int depth = -1;
			long v = 0;

			for (;;) {
				long x = strtol(p, &end, 10);
				if (end == p || (nl && end > nl))
					break;
				v = x;
				depth++;
				p = end;
			}
			st->ns_pid = (pid_t)v;
			st->ns_depth = depth < 0 ? 0 : depth;
		} else if (!strncmp(line, "VmSize:", 7)) {
			have_vm = true;
		} else if (!strncmp(line, "VmRSS:", 6)) {
			st->vm_rss = strtoull(line + 6, NULL, 10) * 1024;
		}
		line = nl ? nl + 1 : NULL;
	}
	st->kernel_thread = !have_vm && st->state != 'Z';
	return st->tgid ? 0 : -EINVAL;
}

int proc__read_status(pid_t pid, struct proc_status *st)
{
	char path[64], buf[4096];
	long n;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	n = read_file(path, buf, sizeof(buf));
	if (n < 0)
		return n == -ENOENT ? -ESRCH : (int)n;
	return proc__parse_status(buf, st);
}

int proc__comm(pid_t pid, char *buf, size_t size)
{
	return proc__task_comm(pid, pid, buf, size); /* the thread group leader's is the process's */
}

int proc__task_comm(pid_t pid, pid_t tid, char *buf, size_t size)
{
	char path[96];
	long n;

	/* /proc/PID/task/TID/comm is the raw name plus one '\n'; status's "Name:" escapes '\n' and
	 * '\\' its own way, which would make the name shown differ from the name the thread set. */
	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", pid, tid);
	n = read_file(path, buf, size);
	if (n < 0)
		return n == -ENOENT ? -ESRCH : (int)n;
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	return 0;
}

int proc__tasks(pid_t pid, pid_t *tids, int max)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? -ESRCH : -errno;
	while (n < max && (de = readdir(d))) {
		char *end;
		long v = strtol(de->d_name, &end, 10);

		if (de->d_name[0] >= '1' && de->d_name[0] <= '9' && !*end && v > 0 && v <= INT32_MAX)
			tids[n++] = (pid_t)v;
	}
	closedir(d);
	return n;
}

int proc__cmdline(pid_t pid, char *buf, size_t size)
{
	char path[64];
	long n, i;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	n = read_file(path, buf, size);
	if (n < 0)
		return n == -ENOENT ? -ESRCH : (int)n;
	/* Arguments are separated by spaces; the rest stays the target's bytes (newlines and tabs
	 * included): every output escapes them visibly (util/escape.h). */
	for (i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	while (n > 0 && buf[n - 1] == ' ')
		buf[--n] = '\0';
	if (n == 0) {
		struct proc_status st;

		if (!proc__read_status(pid, &st))
			snprintf(buf, size, "[%s]", st.name);
	}
	return 0;
}

int proc__parse_stat_field(const char *stat, int want, uint64_t *out)
{
	/* comm may contain spaces and parentheses: fields start after the last ')'. */
	const char *p = strrchr(stat, ')');
	int field = 2;

	if (!p || want < 3)
		return -EINVAL;
	p++;
	while (*p && field < want) {
		if (*p == ' ') {
			field++;
			while (*p == ' ')
				p++;
			continue;
		}
		p++;
	}
	if (field != want || !isdigit((unsigned char)*p))
		return -EINVAL;
	*out = strtoull(p, NULL, 10);
	return 0;
}

int proc__parse_stat_start_time(const char *stat, uint64_t *ticks)
{
	return proc__parse_stat_field(stat, 22, ticks);
}

static int read_stat(pid_t pid, char *buf, size_t size)
{
	char path[64];
	long n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	n = read_file(path, buf, size);
	if (n < 0)
		return n == -ENOENT ? -ESRCH : (int)n;
	return 0;
}

int proc__start_time(pid_t pid, uint64_t *ticks)
{
	char buf[1024];
	int err = read_stat(pid, buf, sizeof(buf));

	return err ? err : proc__parse_stat_start_time(buf, ticks);
}

static uint64_t tick_ns(void)
{
	static long hz;

	if (!hz)
		hz = sysconf(_SC_CLK_TCK);
	return 1000000000ull / (uint64_t)(hz > 0 ? hz : 100);
}


int proc__parse_stat(const char *stat, struct proc_stat *st)
{
	/* comm may contain spaces and parentheses: fields start after the last ')'. */
	const char *p = strrchr(stat, ')');
	uint64_t v[29] = { 0 };
	int field = 3;

	memset(st, 0, sizeof(*st));
	if (!p || p[1] != ' ' || !p[2])
		return -EINVAL;
	p += 2;
	st->state = *p;
	while (field < 28) {
		p = strchr(p, ' ');
		if (!p && field >= 24)
			break; /* the image fields are optional: 0, unknown */
		if (!p)
			return -EINVAL;
		p++;
		field++;
		if (!isdigit((unsigned char)*p) && !(*p == '-' && isdigit((unsigned char)p[1])))
			return -EINVAL;
		v[field] = *p == '-' ? 0 : strtoull(p, NULL, 10); /* tty/pgrp fields may be -1 */
	}
	st->ppid = (pid_t)v[4];
	st->user_ns = v[14] * tick_ns();
	st->sys_ns = v[15] * tick_ns();
	st->start_ticks = v[22];
	st->vsize = v[23];
	st->rss_bytes = v[24] * (uint64_t)sysconf(_SC_PAGESIZE);
	st->start_code = v[26];
	st->end_code = v[27];
	st->start_stack = v[28];
	return 0;
}

int proc__stat(pid_t pid, struct proc_stat *st)
{
	char buf[1024];
	int err = read_stat(pid, buf, sizeof(buf));

	return err ? err : proc__parse_stat(buf, st);
}

int proc__open_stat(pid_t pid)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? (errno == ENOENT ? -ESRCH : -errno) : fd;
}

int proc__stat_fd(int fd, struct proc_stat *st)
{
	char buf[1024];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	if (n == 0)
		return -ESRCH;
	buf[n] = '\0';
	return proc__parse_stat(buf, st);
}

int proc__cpu_ns(pid_t pid, uint64_t *user_ns, uint64_t *sys_ns)
{
	struct proc_stat st;
	int err = proc__stat(pid, &st);

	if (err)
		return err;
	*user_ns = st.user_ns;
	*sys_ns = st.sys_ns;
	return 0;
}

int proc__rss_bytes(pid_t pid, uint64_t *bytes)
{
	char path[64], buf[256];
	unsigned long long size, resident;
	long n;

	snprintf(path, sizeof(path), "/proc/%d/statm", pid);
	n = read_file(path, buf, sizeof(buf));
	if (n < 0)
		return n == -ENOENT ? -ESRCH : (int)n;
	if (sscanf(buf, "%llu %llu", &size, &resident) != 2)
		return -EINVAL;
	/* A zombie has no address space left: all zeros. Saying 0 B would make a process that
	 * just exited look like it freed everything (a huge negative RSS slope). */
	if (size == 0)
		return -ESRCH;
	*bytes = resident * (uint64_t)sysconf(_SC_PAGESIZE);
	return 0;
}

bool proc__other_mnt_ns(pid_t pid)
{
	struct stat self, other;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", pid);
	if (stat("/proc/self/ns/mnt", &self) || stat(path, &other))
		return false;
	return self.st_ino != other.st_ino || self.st_dev != other.st_dev;
}

static bool is_hex64(const char *p)
{
	int i;

	for (i = 0; i < 64; i++)
		if (!isxdigit((unsigned char)p[i]))
			return false;
	return !isxdigit((unsigned char)p[64]);
}

int proc__container_id_from_cgroup(const char *cg, char *id, size_t idsz)
{
	const char *p;

	if (idsz)
		id[0] = '\0';
	/* docker-<id>.scope, cri-containerd-<id>.scope, libpod-<id>.scope, /docker/<id>, kubepods/.../<id> */
	for (p = cg; *p; p++) {
		if ((p == cg || p[-1] == '/' || p[-1] == '-') && strlen(p) >= 64 && is_hex64(p)) {
			if (idsz <= 64)
				return -ENAMETOOLONG;
			memcpy(id, p, 64);
			id[64] = '\0';
			return 0;
		}
	}
	return -ENOENT;
}

int proc__cgroup(pid_t pid, char *path, size_t pathsz, char *id, size_t idsz)
{
	char file[64], buf[4096], *line, *save = NULL;
	long n;

	if (pathsz)
		path[0] = '\0';
	if (idsz)
		id[0] = '\0';
	snprintf(file, sizeof(file), "/proc/%d/cgroup", pid);
	n = read_file(file, buf, sizeof(buf));
	if (n < 0)
		return n == -ENOENT ? -ESRCH : (int)n;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		/* "0::/path" on cgroup v2; on v1 prefer the first hierarchy that names a container. */
		char *cg = strchr(line, ':');
		if (!cg || !(cg = strchr(cg + 1, ':')))
			continue;
		cg++;
		if (!path[0] || !strncmp(line, "0::", 3))
			copy_str(path, pathsz, cg);
		if (!proc__container_id_from_cgroup(cg, id, idsz)) {
			copy_str(path, pathsz, cg);
			break;
		}
	}
	return 0;
}
