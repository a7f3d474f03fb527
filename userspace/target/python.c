/* SPDX-License-Identifier: BSD-2-Clause */
/* CPython targets: recognise an interpreter, its version, layout and probe tier; read its GC state. */
#include "target/python.h"
#include "util/common.h"
#include "target/elffile.h"
#include "target/debug_offsets.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

const char *gc_tier__name(enum gc_tier tier)
{
	switch (tier) {
	case GC_TIER_USDT: return "usdt";
	case GC_TIER_UPROBE: return "uprobe";
	case GC_TIER_POLL: return "poll";
	default: return "none";
	}
}

int python__parse_version(const char *s, int *major, int *minor, int *micro)
{
	int a, b, c = 0, n = 0;

	if (sscanf(s, "%d.%d.%d%n", &a, &b, &c, &n) < 2)
		return -EINVAL;
	if (a < 2 || a > 9 || b < 0 || b > 99 || c < 0 || c > 999)
		return -EINVAL;
	*major = a;
	*minor = b;
	*micro = c;
	return 0;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

bool python__name_matches(const char *path)
{
	const char *b = base_name(path);

	return !strncmp(b, "python", 6) || !strncmp(b, "libpython", 9);
}

/* "libpython3.12.so.1.0" / "python3.12" / "python3.13t" -> "3.12." prefix and FT hint. */
static bool minor_from_name(const char *path, char *prefix, size_t sz, bool *ft)
{
	const char *b = base_name(path), *p;
	int maj, mnr, n = 0;

	p = strstr(b, "python");
	if (!p || sscanf(p + 6, "%d.%d%n", &maj, &mnr, &n) != 2)
		return false;
	snprintf(prefix, sz, "%d.%d.", maj, mnr);
	*ft = p[6 + n] == 't';
	return true;
}

/*
 * Facts about one interpreter binary, read once per (device, inode, mtime): a host has few
 * distinct interpreters and many processes, and ELF parsing is the expensive part of a scan.
 */
struct bin_facts {
	dev_t dev;
	ino_t ino;
	time_t mtime;
	bool is_python;
	bool has_runtime;
	uint64_t runtime_vaddr;
	uint64_t first_load_vaddr;
	char version[32];
	bool debug_offsets, free_threaded;
	uint64_t debug_version_hex;
	bool has_usdt, has_symtab, has_debuginfo;
	int ncollectors;
	uint64_t collector_offsets[PY_MAX_COLLECTORS];
	char collector_syms[PY_MAX_COLLECTORS][64];
	char collector_sym[64];
	/* 3.6: the GC state is module statics, found through .symtab */
	uint64_t v36_generations, v36_stats, v36_collecting, v36_enabled, v36_garbage;
	uint64_t runtime_size;	/* st_size of _PyRuntime */
	unsigned char dbg[DBGOFF_MAX]; /* _Py_DebugOffsets as built into the file (3.13+) */
	size_t dbg_len;
};

#define BIN_CACHE_MAX 64
static struct bin_facts *bin_cache[BIN_CACHE_MAX];
static int bin_cache_next;

void python__cache_clear(void)
{
	int i;

	for (i = 0; i < BIN_CACHE_MAX; i++) {
		free(bin_cache[i]);
		bin_cache[i] = NULL;
	}
	bin_cache_next = 0;
}

static void read_collectors(struct elf_file *elf, struct bin_facts *f)
{
	/* The collector is `collect` in 3.6–3.9 and `gc_collect_main` in 3.10–3.13; GCC clones it
	 * (3.8.18 has collect.constprop.0 and .1), so every clone gets a probe. */
	static const char *const names[] = { "gc_collect_main", "collect" };
	struct elf_sym syms[PY_MAX_COLLECTORS];
	size_t k;
	int n, i;

	for (k = 0; k < ARRAY_SIZE(names); k++) {
		n = elf__find_functions(elf, names[k], syms, PY_MAX_COLLECTORS);
		if (n <= 0)
			continue;
		for (i = 0; i < n && i < PY_MAX_COLLECTORS; i++) {
			uint64_t off;

			if (syms[i].dynamic || elf__vaddr_to_offset(elf, syms[i].value, &off))
				continue; /* an exported `collect` would be someone else's */
			copy_str(f->collector_syms[f->ncollectors], sizeof(f->collector_syms[0]), syms[i].name);
			f->collector_offsets[f->ncollectors++] = off;
		}
		if (f->ncollectors) {
			copy_str(f->collector_sym, sizeof(f->collector_sym), names[k]);
			return;
		}
	}
}

static int bin_facts_load(int fd, const char *path, const struct stat *st, struct bin_facts *f)
{
	struct elf_file *elf;
	struct elf_sym sym;
	char prefix[16] = "3.";
	bool ft_name = false;
	int err;

	memset(f, 0, sizeof(*f));
	f->dev = st->st_dev;
	f->ino = st->st_ino;
	f->mtime = st->st_mtime;
	err = elf__open_fd(fd, &elf);
	if (err)
		return err;
	/* Py_Initialize is exported by every CPython; _PyRuntime by 3.7+. */
	if (elf__find_symbol(elf, "Py_Initialize", &sym) || !sym.dynamic) {
		elf__close(elf);
		return 0;
	}
	f->is_python = true;
	f->first_load_vaddr = elf__first_load_vaddr(elf);
	f->has_symtab = elf__has_symtab(elf);
	f->has_debuginfo = elf__has_debuginfo(elf);
	f->has_usdt = elf__has_usdt(elf, "python", "gc__start") && elf__has_usdt(elf, "python", "gc__done");
	if (!elf__find_symbol(elf, "_PyRuntime", &sym)) {
		const unsigned char *d;

		f->has_runtime = true;
		f->runtime_vaddr = sym.value;
		f->runtime_size = sym.size;
		/* 3.13+: _Py_DebugOffsets is the first member of _PyRuntimeState, initialised at build
		 * time, so the file itself carries it (cookie "xdebugpy"). */
		f->dbg_len = sym.size && sym.size < sizeof(f->dbg) ? sym.size : sizeof(f->dbg);
		d = elf__data_at(elf, sym.value, f->dbg_len);
		if (d && !memcmp(d, "xdebugpy", 8)) {
			memcpy(f->dbg, d, f->dbg_len);
			f->debug_offsets = true;
			memcpy(&f->debug_version_hex, d + 8, 8);
			f->free_threaded = d[16] != 0;
		}
	}
	if (f->debug_offsets) {
		uint64_t v = f->debug_version_hex;
		snprintf(f->version, sizeof(f->version), "%d.%d.%d", (int)(v >> 24) & 0xff,
			 (int)(v >> 16) & 0xff, (int)(v >> 8) & 0xff);
	} else if (!elf__find_symbol(elf, "Py_Version", &sym)) {
		/* 3.11+: const unsigned long Py_Version = PY_VERSION_HEX */
		const uint64_t *pv = elf__data_at(elf, sym.value, 8);
		if (pv)
			snprintf(f->version, sizeof(f->version), "%d.%d.%d", (int)(*pv >> 24) & 0xff,
				 (int)(*pv >> 16) & 0xff, (int)(*pv >> 8) & 0xff);
	}
	if (!f->version[0]) {
		minor_from_name(path, prefix, sizeof(prefix), &ft_name);
		if (elf__find_version_string(elf, prefix, f->version, sizeof(f->version)))
			elf__find_version_string(elf, "3.", f->version, sizeof(f->version));
	}
	read_collectors(elf, f);
	if (!f->has_runtime) {
		/* 3.6 keeps the GC state in gcmodule.c statics; only .symtab names them. */
		if (!elf__find_symbol(elf, "generations", &sym))
			f->v36_generations = sym.value;
		if (!elf__find_symbol(elf, "generation_stats", &sym))
			f->v36_stats = sym.value;
		if (!elf__find_symbol(elf, "collecting", &sym))
			f->v36_collecting = sym.value;
		if (!elf__find_symbol(elf, "enabled", &sym))
			f->v36_enabled = sym.value;
		if (!elf__find_symbol(elf, "garbage", &sym))
			f->v36_garbage = sym.value;
	}
	elf__close(elf);
	return 0;
}

static int bin_facts_get(int fd, const char *path, const struct bin_facts **out)
{
	struct bin_facts *f;
	struct stat st;
	int i, err;

	if (fstat(fd, &st))
		return -errno;
	for (i = 0; i < BIN_CACHE_MAX; i++) {
		f = bin_cache[i];
		if (f && f->dev == st.st_dev && f->ino == st.st_ino && f->mtime == st.st_mtime) {
			*out = f;
			return 0;
		}
	}
	f = malloc(sizeof(*f));
	if (!f)
		return -ENOMEM;
	err = bin_facts_load(fd, path, &st, f);
	if (err) {
		free(f);
		return err;
	}
	free(bin_cache[bin_cache_next]);
	bin_cache[bin_cache_next] = f;
	bin_cache_next = (bin_cache_next + 1) % BIN_CACHE_MAX;
	*out = f;
	return 0;
}

/*
 * Open a file the target maps, as the file it maps: a process controls the names in its mount
 * namespace (a container's /usr/lib/libpython3.11.so can be a symlink to /etc/shadow, and can be
 * swapped between two looks), so the name is only a hint and the inode decides. The path in
 * /proc/PID/maps is printed relative to *our* root when the file is reachable from it and
 * relative to the mount's own namespace otherwise, so try, in order, the path itself (same mount
 * namespace), the path resolved inside /proc/PID/root with openat2(RESOLVE_IN_ROOT) (Linux 5.6:
 * absolute symlinks and ".." stay inside the container's root, magic links are refused), and
 * /proc/PID/map_files/START-END (always the mapped file, whatever its name). A candidate counts
 * only if the opened file (fstat of the fd, not a second lookup of the name) has the mapping's
 * device and inode. Returns the open fd (the ELF reader maps it) and in out the host path that
 * names it (for the probes, which attach by path): for a container, its map_files link when
 * that is open to us.
 */
static int open_in_root(pid_t pid, const char *path)
{
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	char root[64];
	int dirfd, fd;

	snprintf(root, sizeof(root), "/proc/%d/root", pid);
	dirfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -1;
	fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	close(dirfd);
	return fd;
}

static int host_open(pid_t pid, const struct proc_map *m, bool other_ns, char *out, size_t sz)
{
	struct stat st;
	int k, fd;

	for (k = 0; k < 3; k++) {
		if (k == 0 && (other_ns || m->deleted))
			continue;
		if (k == 1 && (!other_ns || m->deleted))
			continue;
		if (k == 0) {
			snprintf(out, sz, "%s", m->path);
			fd = open(out, O_RDONLY | O_CLOEXEC);
		} else if (k == 1) {
			snprintf(out, sz, "/proc/%d/root%s", pid, m->path);
			fd = open_in_root(pid, m->path);
		} else {
			snprintf(out, sz, "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, pid, m->start, m->end);
			fd = open(out, O_RDONLY | O_CLOEXEC);
		}
		if (fd < 0)
			continue;
		if (!fstat(fd, &st) && S_ISREG(st.st_mode) && st.st_ino == m->inode &&
		    major(st.st_dev) == m->dev_major && minor(st.st_dev) == m->dev_minor) {
			/*
			 * The probes and later readers open `out` again by name, and under /proc/PID/root
			 * the kernel would follow the container's symlinks anew (absolute ones from our
			 * root). /proc/PID/map_files/START-END names the mapped file itself: use it when
			 * we may (CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE, kept by the live commands).
			 */
			if (k == 1) {
				char alt[96];
				struct stat ast;

				snprintf(alt, sizeof(alt), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, pid, m->start,
					 m->end);
				if (!stat(alt, &ast) && ast.st_ino == st.st_ino && ast.st_dev == st.st_dev)
					snprintf(out, sz, "%s", alt);
			}
			return fd;
		}
		close(fd);
	}
	return -ENOENT;
}

/*
 * Two tables can share a minor version: 3.14.0–3.14.4 (incremental GC, 240-byte GC state) and
 * 3.14.5+ (generational again, 264 bytes). _Py_DebugOffsets.gc.size tells them apart; the
 * free-threaded build has its own table (layout.h: free_threaded).
 */
const struct py_layout *python__select_layout(int major, int minor, bool free_threaded, int64_t gc_size)
{
	const struct py_layout *const *l;
	const struct py_layout *first = NULL;

	for (l = py_layouts; *l; l++) {
		if ((*l)->major != major || (*l)->minor != minor || ((*l)->free_threaded == 1) != free_threaded)
			continue;
		if (gc_size < 0 || (*l)->gc_size == gc_size)
			return *l;
		if (!first)
			first = *l;
	}
	/* A GC state of a size no table has: the caller refuses (unknown GC layout). */
	return gc_size < 0 ? first : NULL;
}

/* The newest table pyleak has (day one: the fields the debug offsets do not give are unknown). */
static const struct py_layout *newest_layout(void)
{
	const struct py_layout *const *l, *best = NULL;

	for (l = py_layouts; *l; l++)
		if ((*l)->free_threaded != 1 && (!best || (*l)->minor > best->minor))
			best = *l;
	return best;
}

/*
 * Day one (DESIGN.md "Versions on day one"): a minor newer than every table, with valid debug
 * offsets. Only what _Py_DebugOffsets states is known: every other field is LAYOUT_NONE, so
 * each feature that needs one is off and says so (python__features). The few constants below
 * have held for every CPython 3.8+ GIL build and are what the debug offsets presuppose.
 */
static void day_one_layout(struct py_target *t, const struct dbgoff *d)
{
	struct py_layout *l = &t->layout_rt;
	const struct py_layout *newest = newest_layout();

	memset(l, 0xff, sizeof(*l)); /* every int32_t field LAYOUT_NONE (-1) */
	l->major = t->major;
	l->minor = newest ? newest->minor : t->minor; /* the behaviour (line tables, ...) of the newest known */
	l->built_from = "_Py_DebugOffsets only (day one)";
	l->free_threaded = LAYOUT_NONE;
	l->object_refcnt = 0;
	l->varobject_size = (int32_t)d->ob_size;
	/* PyInterpreterState list: without interpreters.main, the head (the newest interpreter) is
	 * the main one in a process that never made a subinterpreter. */
	l->runtime_interpreters_main = (int32_t)d->interpreters_head;
	dbgoff__apply(d, l);
	l->gc_generation_stats = LAYOUT_NONE; /* the record layout behind it is not described */
	if (newest) {
		/* the str representation and the line table format are not in the debug offsets but
		 * are needed to print any name at all; take the newest known ones */
		l->unicode_compact_size = newest->unicode_compact_size;
	}
}

/* Pick the mapped file that holds the runtime: libpython if mapped, else the executable. */
static int find_runtime_file(pid_t pid, struct proc_map *maps, int n, bool other_ns, struct py_target *t,
			     const struct bin_facts **facts, const struct proc_map **map)
{
	char exe_link[64], exe[PROC_PATH_MAX];
	const struct bin_facts *f = NULL;
	ssize_t len;
	int i, pass, err;

	snprintf(exe_link, sizeof(exe_link), "/proc/%d/exe", pid);
	len = readlink(exe_link, exe, sizeof(exe) - 1);
	if (len < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	exe[len] = '\0';
	if (len > 10 && !strcmp(exe + len - 10, " (deleted)"))
		exe[len - 10] = '\0';
	copy_str(t->exe, sizeof(t->exe), exe);

	/* Pass 0: libpython*; pass 1: the executable (any name: interpreters get renamed). */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < n; i++) {
			const struct proc_map *m = &maps[i];
			char path[PROC_PATH_MAX + 64];

			if (m->pgoff != 0 || m->path[0] != '/' || !m->inode)
				continue;
			if (pass == 0 && strncmp(base_name(m->path), "libpython", 9))
				continue;
			if (pass == 1 && strcmp(m->path, exe))
				continue;
			int fd = host_open(pid, m, other_ns, path, sizeof(path));

			if (fd < 0)
				continue;
			err = bin_facts_get(fd, path, &f);
			close(fd);
			if (err || !f->is_python)
				continue;
			if (pass == 0)
				copy_str(t->libpython, sizeof(t->libpython), m->path);
			copy_str(t->runtime_path, sizeof(t->runtime_path), path);
			*facts = f;
			*map = m;
			return 0;
		}
	}
	return -ENOENT;
}

int python__inspect(pid_t pid, struct py_target *t)
{
	const struct bin_facts *f = NULL;
	const struct proc_map *rmap = NULL;
	const struct py_layout *table;
	struct proc_status st;
	struct proc_map *maps = NULL;
	bool ft_name = false;
	char prefix[16];
	int n, err;

	memset(t, 0, sizeof(*t));
	t->pid = pid;
	err = proc__read_status(pid, &st);
	if (err)
		return err;
	/* Say why in t->why: "not a CPython process" alone leaves the user guessing. */
	if (st.kernel_thread) {
		copy_str(t->why, sizeof(t->why), "a kernel thread, not a CPython process");
		return -ENOENT;
	}
	if (st.state == 'Z' || st.state == 'X') {
		copy_str(t->why, sizeof(t->why), "a zombie (it exited and its parent has not reaped it)");
		return -ENOENT;
	}
	t->ns_pid = st.ns_pid ? st.ns_pid : pid;
	if (proc__comm(pid, t->comm, sizeof(t->comm)))
		copy_str(t->comm, sizeof(t->comm), st.name);
	{
		struct proc_stat ps;

		if (proc__stat(pid, &ps))
			return -ESRCH;
		t->start_time = ps.start_ticks;
		t->image[0] = ps.start_code;
		t->image[1] = ps.end_code;
		t->image[2] = ps.start_stack;
	}
	n = proc__read_maps(pid, &maps);
	if (n < 0)
		return n;
	t->in_container = proc__other_mnt_ns(pid);
	err = find_runtime_file(pid, maps, n, t->in_container, t, &f, &rmap);
	if (err)
		goto cleanup;
	proc__cmdline(pid, t->cmdline, sizeof(t->cmdline));
	proc__cgroup(pid, t->cgroup, sizeof(t->cgroup), t->container_id, sizeof(t->container_id));

	t->shared = t->libpython[0] != '\0';
	t->has_usdt = f->has_usdt;
	t->has_symtab = f->has_symtab;
	t->has_debuginfo = f->has_debuginfo;
	t->debug_offsets = f->debug_offsets;
	t->free_threaded = f->free_threaded;
	if (minor_from_name(t->runtime_path, prefix, sizeof(prefix), &ft_name) && ft_name)
		t->free_threaded = true;
	copy_str(t->version, sizeof(t->version), f->version[0] ? f->version : "unknown");
	t->load_bias = rmap->start - f->first_load_vaddr;
	t->runtime_addr = f->has_runtime ? f->runtime_vaddr + t->load_bias : 0;
	t->ncollectors = f->ncollectors;
	memcpy(t->collector_offsets, f->collector_offsets, sizeof(t->collector_offsets));
	memcpy(t->collector_syms, f->collector_syms, sizeof(t->collector_syms));
	copy_str(t->collector_sym, sizeof(t->collector_sym), f->collector_sym);
	if (f->has_usdt)
		t->tier = GC_TIER_USDT;
	else if (f->ncollectors)
		t->tier = GC_TIER_UPROBE;
	else
		t->tier = GC_TIER_POLL;

	if (python__parse_version(t->version, &t->major, &t->minor, &t->micro)) {
		snprintf(t->why, sizeof(t->why), "cannot tell the CPython version of %.100s", t->runtime_path);
		goto cleanup;
	}
	if (t->debug_offsets) {
		struct dbgoff d;

		/* Cookie, version, the struct's own sizes and anchors (debug_offsets.c): a binary
		 * whose debug offsets do not check out is refused, whatever its version. */
		err = dbgoff__decode(f->dbg, f->dbg_len, f->runtime_size, &d, t->why, sizeof(t->why));
		if (err) {
			err = 0;
			goto cleanup;
		}
		table = python__select_layout(t->major, t->minor, t->free_threaded, d.gc_size);
		if (!table && layout__find(t->major, t->minor)) {
			/* 3.14.0–3.14.4 vs 3.14.5+ and any other GC state of an unknown size */
			snprintf(t->why, sizeof(t->why),
				 "CPython %s: GC state is %" PRId64 " bytes, no 3.%d%s table of pyleak has that (unknown GC layout)",
				 t->version, d.gc_size, t->minor, t->free_threaded ? "t" : "");
			goto cleanup;
		}
		if (table) {
			t->layout_rt = *table;
			dbgoff__apply(&d, &t->layout_rt);
		} else {
			/* A minor newer than the tables (day one), or a build kind pyleak has no table
			 * for (e.g. 3.14t): run on what the debug offsets give, say what is missing. */
			day_one_layout(t, &d);
			t->day_one = d.newer;
			t->degraded = true;
		}
	} else {
		table = python__select_layout(t->major, t->minor, t->free_threaded, -1);
		if (!table) {
			snprintf(t->why, sizeof(t->why),
				 "CPython %s: no layout for 3.%d in this pyleak and no _Py_DebugOffsets (refusing to guess)",
				 t->version, t->minor);
			goto cleanup;
		}
		t->layout_rt = *table;
	}
	if (!f->has_runtime && !(f->v36_stats && f->v36_generations)) {
		snprintf(t->why, sizeof(t->why), "CPython %s without _PyRuntime and without .symtab: GC state not reachable",
			 t->version);
		goto cleanup;
	}
	t->layout = &t->layout_rt;
	t->supported = true;
	if (!f->has_runtime) {
		t->gc_generations_addr = f->v36_generations + t->load_bias;
		t->gc_stats_addr = f->v36_stats + t->load_bias;
		t->gc_collecting_addr = f->v36_collecting ? f->v36_collecting + t->load_bias : 0;
		t->gc_enabled_addr = f->v36_enabled ? f->v36_enabled + t->load_bias : 0;
		t->gc_garbage_addr = f->v36_garbage ? f->v36_garbage + t->load_bias : 0;
	}
cleanup:
	free(maps);
	return err;
}

int python__resolve_gc(struct py_target *t, struct remote *r)
{
	const struct py_layout *l = t->layout;
	uint64_t interp = 0, gc;
	int err;

	if (!t->supported || !l)
		return -ENOTSUP;
	if (!t->runtime_addr) /* 3.6: statics, resolved by python__inspect */
		return t->gc_stats_addr ? 0 : -ENOTSUP;
	if (l->runtime_interpreters_main != LAYOUT_NONE) {
		err = remote__read_u64(r, t->runtime_addr + l->runtime_interpreters_main, &interp);
		if (err)
			return err;
	}
	if (l->runtime_gc != LAYOUT_NONE) {
		gc = t->runtime_addr + l->runtime_gc;
	} else {
		/* Before Py_Initialize finishes, interpreters.main is NULL: not ready yet, try later. */
		if (!remote__valid_ptr(interp, 8) || l->interp_gc == LAYOUT_NONE)
			return -EAGAIN;
		gc = interp + l->interp_gc;
	}
	t->interp_addr = interp;
	t->gc_addr = gc;
	/* A field the layout lacks (day one) stays 0: nothing reads it. */
	t->gc_generations_addr = l->gc_generations != LAYOUT_NONE ? gc + l->gc_generations : 0;
	t->gc_stats_addr = l->gc_generation_stats != LAYOUT_NONE ? gc + l->gc_generation_stats : 0;
	t->gc_collecting_addr = l->gc_collecting != LAYOUT_NONE ? gc + l->gc_collecting : 0;
	t->gc_enabled_addr = l->gc_enabled != LAYOUT_NONE ? gc + l->gc_enabled : 0;
	t->gc_garbage_addr = l->gc_garbage != LAYOUT_NONE ? gc + l->gc_garbage : 0;
	return 0;
}

static bool stats_rings(const struct py_layout *l)
{
	return l->gc_stats_ring_young != LAYOUT_NONE && l->gc_stats_ring_old0 != LAYOUT_NONE &&
	       l->gc_stats_ring_old1 != LAYOUT_NONE && l->gc_stats_index_young != LAYOUT_NONE &&
	       l->gc_stats_index_old0 != LAYOUT_NONE && l->gc_stats_index_old1 != LAYOUT_NONE &&
	       l->gc_stats_ring_len_young > 0 && l->gc_stats_ring_len_old > 0 && l->gc_stats_size >= 40;
}

void python__gc_rings(const struct py_target *t, bool *rings, uint16_t ring_off[3], uint16_t index_off[3],
		      uint16_t ring_len[3], uint16_t *rec_size, uint16_t *rec_collections)
{
	const struct py_layout *l = t->layout;

	*rings = l && t->gc_stats_addr && stats_rings(l);
	if (!*rings)
		return;
	ring_off[0] = (uint16_t)l->gc_stats_ring_young;
	ring_off[1] = (uint16_t)l->gc_stats_ring_old0;
	ring_off[2] = (uint16_t)l->gc_stats_ring_old1;
	index_off[0] = (uint16_t)l->gc_stats_index_young;
	index_off[1] = (uint16_t)l->gc_stats_index_old0;
	index_off[2] = (uint16_t)l->gc_stats_index_old1;
	ring_len[0] = (uint16_t)l->gc_stats_ring_len_young;
	ring_len[1] = ring_len[2] = (uint16_t)l->gc_stats_ring_len_old;
	*rec_size = (uint16_t)l->gc_stats_size;
	*rec_collections = (uint16_t)l->gc_stats_collections;
}

/* A wrong table shows up as nonsense here: refuse rather than print it. */
static int stats_check(int64_t out[3][3])
{
	int i;

	for (i = 0; i < 3; i++)
		if (out[i][0] < 0 || out[i][1] < 0 || out[i][2] < 0 || out[i][0] > (1ll << 53))
			return -EPROTO;
	return 0;
}

/* Before 3.15: generation_stats[3] of {collections, collected, uncollectable}, in the GC state,
 * read with the generations in one batch (python__read_gc). */
#define FIXED_STATS_LEN (3 * 24)
static bool fixed_stats(const struct py_layout *l)
{
	return !stats_rings(l) && l->gc_stats_size == 24 && l->gc_stats_collections >= 0 && l->gc_stats_collected >= 0 &&
	       l->gc_stats_uncollectable >= 0 && l->gc_stats_collections < 24 && l->gc_stats_collected < 24 &&
	       l->gc_stats_uncollectable < 24;
}

static int fixed_stats_decode(const struct py_layout *l, const unsigned char *stats, int64_t out[3][3])
{
	int i;

	for (i = 0; i < 3; i++) {
		int64_t v[3];

		memcpy(v, stats + i * 24, 24);
		out[i][0] = v[l->gc_stats_collections / 8];
		out[i][1] = v[l->gc_stats_collected / 8];
		out[i][2] = v[l->gc_stats_uncollectable / 8];
	}
	return stats_check(out);
}

/* The largest stats block pyleak reads at once (3.15.2: 1120 bytes of rings). */
#define GC_STATS_BLOCK_MAX 4096

int python__read_gen_stats(const struct py_target *t, struct remote *r, int64_t out[3][3], double duration_s[3])
{
	const struct py_layout *l = t->layout;
	int i, err;

	for (i = 0; duration_s && i < 3; i++)
		duration_s[i] = -1;
	if (!t->gc_stats_addr || !l || l->gc_stats_size <= 0 || l->gc_stats_collections == LAYOUT_NONE)
		return -ENOTSUP;
	if (stats_rings(l)) {
		/* 3.15: generation_stats -> {young ring, old[0] ring, old[1] ring}, newest at index */
		static const int nrings = 3;
		int32_t ring[3] = { l->gc_stats_ring_young, l->gc_stats_ring_old0, l->gc_stats_ring_old1 };
		int32_t index[3] = { l->gc_stats_index_young, l->gc_stats_index_old0, l->gc_stats_index_old1 };
		int32_t len[3] = { l->gc_stats_ring_len_young, l->gc_stats_ring_len_old, l->gc_stats_ring_len_old };
		unsigned char block[GC_STATS_BLOCK_MAX];
		uint64_t addr = 0;
		int64_t need = 0;

		for (i = 0; i < nrings; i++) {
			if (index[i] + 1 > need)
				need = index[i] + 1;
			if (ring[i] + (int64_t)len[i] * l->gc_stats_size > need)
				need = ring[i] + (int64_t)len[i] * l->gc_stats_size;
		}
		if (need > GC_STATS_BLOCK_MAX || l->gc_stats_collections + 24 > l->gc_stats_size)
			return -ENOTSUP;
		err = remote__read_u64(r, t->gc_stats_addr, &addr);
		if (err)
			return err;
		if (!remote__valid_ptr(addr, 8))
			return -EAGAIN; /* not allocated yet (interpreter starting) */
		err = remote__read(r, addr, block, (size_t)need);
		if (err)
			return err;
		for (i = 0; i < nrings; i++) {
			int8_t k = (int8_t)block[index[i]];
			const unsigned char *rec;

			if (k < 0 || k >= len[i])
				return -EPROTO;
			rec = block + ring[i] + (int64_t)k * l->gc_stats_size;
			memcpy(out[i], rec + l->gc_stats_collections, 24);
			if (duration_s && l->gc_stats_duration != LAYOUT_NONE &&
			    l->gc_stats_duration + 8 <= l->gc_stats_size)
				memcpy(&duration_s[i], rec + l->gc_stats_duration, 8);
		}
	} else {
		unsigned char stats[FIXED_STATS_LEN];

		if (!fixed_stats(l))
			return -ENOTSUP;
		err = remote__read(r, t->gc_stats_addr, stats, sizeof(stats));
		if (err)
			return err;
		return fixed_stats_decode(l, stats, out);
	}
	return stats_check(out);
}

int python__read_gc(const struct py_target *t, struct remote *r, struct py_gc_state *gc)
{
	const struct py_layout *l = t->layout;
	unsigned char gens[3 * 64];
	int64_t stats[3][3];
	uint64_t garbage = 0;
	int64_t size;
	int i, err;

	memset(gc, 0, sizeof(*gc));
	gc->garbage_len = -1;
	if (!t->gc_stats_addr || !l)
		return -ENOTSUP;
	if (l->gc_generation_size <= 0 || l->gc_generation_size > 64 || l->gc_generations == LAYOUT_NONE)
		return -ENOTSUP;
	{
		/* One process_vm_readv for all of it where the stats sit at a fixed place (before 3.15):
		 * this runs every refresh for every process, and a host has hundreds of them. */
		unsigned char fixed[FIXED_STATS_LEN];
		bool flags = t->gc_collecting_addr && t->gc_enabled_addr && t->gc_garbage_addr;
		bool batch_stats = flags && fixed_stats(l);
		struct remote_iov iov[] = {
			{ t->gc_generations_addr, gens, 3 * (size_t)l->gc_generation_size },
			{ t->gc_enabled_addr, &gc->enabled, 4 },
			{ t->gc_collecting_addr, &gc->collecting, 4 },
			{ t->gc_garbage_addr, &garbage, 8 },
			{ t->gc_stats_addr, fixed, sizeof(fixed) },
		};
		int niov = !flags ? 1 : batch_stats ? 5 : 4;

		err = remote__readv(r, iov, niov);
		if (err)
			return err;
		if (batch_stats) {
			for (i = 0; i < 3; i++)
				gc->duration_s[i] = -1; /* 3.15's alone: python__read_gen_stats */
			err = fixed_stats_decode(l, fixed, stats);
		} else {
			err = python__read_gen_stats(t, r, stats, gc->duration_s);
		}
		if (err)
			return err;
	}
	for (i = 0; i < 3; i++) {
		int32_t th, cnt;

		memcpy(&th, gens + i * l->gc_generation_size + l->gc_gen_threshold, 4);
		memcpy(&cnt, gens + i * l->gc_generation_size + l->gc_gen_count, 4);
		gc->threshold[i] = th;
		gc->count[i] = cnt;
		gc->collections[i] = stats[i][0];
		gc->collected[i] = stats[i][1];
		gc->uncollectable[i] = stats[i][2];
		if (th < 0)
			return -EPROTO;
	}
	if (gc->enabled != 0 && gc->enabled != 1)
		return -EPROTO;
	if (remote__valid_ptr(garbage, 8) && !remote__read_i64(r, garbage + l->varobject_size, &size) &&
	    size >= 0 && size < (1ll << 40))
		gc->garbage_len = size;
	return 0;
}

bool python__alive(const struct py_target *t)
{
	struct proc_stat st;

	return !proc__stat(t->pid, &st) && python__alive_with(t, &st);
}

bool python__alive_with(const struct py_target *t, const struct proc_stat *st)
{
	char link[64], exe[PROC_PATH_MAX];
	ssize_t len;

	if (st->start_ticks != t->start_time)
		return false;
	/* The same image as when inspected: the exe link cannot have changed (a path walk and a
	 * readlink per process and refresh saved, 5% of pyleak's CPU over 1000 idle targets). */
	if (t->image[2] > 1 /* the kernel shows 1 to a reader without ptrace access */ &&
	    st->start_code == t->image[0] && st->end_code == t->image[1] &&
	    st->start_stack == t->image[2])
		return true;
	/* execve() keeps the pid and the start time: a new executable is a new program. A zombie
	 * (exited, not yet reaped) keeps them too, but has no exe link any more. */
	snprintf(link, sizeof(link), "/proc/%d/exe", t->pid);
	len = readlink(link, exe, sizeof(exe) - 1);
	if (len < 0)
		return errno != ENOENT && errno != ESRCH;
	exe[len] = '\0';
	if (len > 10 && !strcmp(exe + len - 10, " (deleted)"))
		exe[len - 10] = '\0';
	return !strcmp(exe, t->exe);
}
