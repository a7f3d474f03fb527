/* SPDX-License-Identifier: BSD-2-Clause */
/* /proc parsing: pids, memory maps, command lines, namespaces, cgroups, RSS. */
#ifndef PYLEAK_PROC_H
#define PYLEAK_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define PROC_PATH_MAX 512

struct proc_map {
	uint64_t start, end, pgoff;
	uint64_t inode;
	unsigned dev_major, dev_minor;
	char perms[5];
	char path[PROC_PATH_MAX]; /* as the target's mount namespace names it; "" if anonymous */
	bool deleted;		  /* "(deleted)" was stripped from path */
};

struct proc_status {
	char state;	     /* R S D Z T ... */
	pid_t tgid, ppid;
	pid_t ns_pid;	     /* innermost namespace pid (NSpid's last field) */
	int ns_depth;	     /* number of NSpid fields - 1 */
	bool kernel_thread;  /* no VmSize: kernel threads have no mm */
	uint64_t vm_rss;     /* bytes */
	char name[32];
};

/* Numeric entries of /proc (tgids); *pids is malloc'ed; returns count or -errno. */
int proc__list_pids(pid_t **pids);
/* Parse /proc/PID/maps into a malloc'ed array; returns count or -errno (-ESRCH if gone). */
int proc__read_maps(pid_t pid, struct proc_map **maps);
int proc__parse_maps_line(const char *line, struct proc_map *m); /* 0 or -EINVAL */
int proc__read_status(pid_t pid, struct proc_status *st);
int proc__parse_status(const char *text, struct proc_status *st);
/* NULs become spaces, trailing whitespace trimmed; "[comm]" for an empty cmdline. */
int proc__cmdline(pid_t pid, char *buf, size_t size);
/* The raw comm (any bytes but NUL, at most 15), without the kernel's trailing newline. */
int proc__comm(pid_t pid, char *buf, size_t size);
/* The same for one thread (/proc/PID/task/TID/comm: a name the thread chose). */
int proc__task_comm(pid_t pid, pid_t tid, char *buf, size_t size);
/* Up to max thread ids of the process (/proc/PID/task) into tids; count or -errno. */
int proc__tasks(pid_t pid, pid_t *tids, int max);
/* Start time in clock ticks after boot (field 22 of stat): with the pid it identifies a process. */
int proc__start_time(pid_t pid, uint64_t *ticks);
int proc__parse_stat_start_time(const char *stat, uint64_t *ticks);
/* Numeric field `field` (1-based, as in proc(5): 14 utime, 15 stime, 22 starttime) of a
 * /proc/PID/stat text. */
int proc__parse_stat_field(const char *stat, int field, uint64_t *out);
/* The process's user and system CPU time (all threads), in ns at clock-tick resolution. */
int proc__cpu_ns(pid_t pid, uint64_t *user_ns, uint64_t *sys_ns);
int proc__rss_bytes(pid_t pid, uint64_t *bytes);

/* What a refresh needs of a watched process, from one read of /proc/PID/stat (the kernel formats
 * status, statm and stat separately: with a thousand processes each read shows in pyleak's CPU). */
struct proc_stat {
	char state;		      /* field 3: R S D Z T ... */
	pid_t ppid;		      /* 4 */
	uint64_t user_ns, sys_ns;     /* 14, 15: CPU time of all threads, clock-tick resolution */
	uint64_t start_ticks;	      /* 22 */
	uint64_t vsize;		      /* 23, bytes: 0 once a zombie has no address space */
	uint64_t rss_bytes;	      /* 24 (pages) in bytes: statm's resident */
	/* 26, 27, 28: where the text and the stack of the running image start and where the text
	 * ends; execve() maps a new image (the stack at a new random place), so these change with the
	 * program while pid and start time do not. 0 when not shown (no ptrace access, a zombie). */
	uint64_t start_code, end_code, start_stack;
};
int proc__parse_stat(const char *stat, struct proc_stat *st);
int proc__stat(pid_t pid, struct proc_stat *st);
/*
 * The same from an open /proc/PID/stat (O_RDONLY): one pread, no path walk. Once the process is
 * reaped the fd reads -ESRCH, so a held fd never reads another process that reused the pid.
 */
int proc__stat_fd(int fd, struct proc_stat *st);
int proc__open_stat(pid_t pid); /* the fd, or -errno */
/* True if pid lives in another mount namespace than pyleak (paths need /proc/PID/root). */
bool proc__other_mnt_ns(pid_t pid);
/* Container identity from /proc/PID/cgroup: the cgroup path and, for docker/containerd/podman/
 * kubepods layouts, the 64-hex container id ("" if none). */
int proc__cgroup(pid_t pid, char *path, size_t pathsz, char *id, size_t idsz);
int proc__container_id_from_cgroup(const char *cgroup_path, char *id, size_t idsz);

#endif /* PYLEAK_PROC_H */
