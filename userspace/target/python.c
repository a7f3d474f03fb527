/* SPDX-License-Identifier: BSD-2-Clause */
/* CPython targets: recognise an interpreter, its version, layout and probe tier; read its GC state. */
#include "target/python.h"
#include "util/common.h"
#include "target/elffile.h"

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
	unsigned char dbg[768]; /* _Py_DebugOffsets as built into the file (3.13+) */
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
		/* 3.13+: _Py_DebugOffsets is the first member of _PyRuntimeState, initialised at build
		 * time, so the file itself carries it (cookie "xdebugpy"). */
		d = elf__data_at(elf, sym.value, sizeof(f->dbg));
		if (d && !memcmp(d, "xdebugpy", 8)) {
			memcpy(f->dbg, d, sizeof(f->dbg));
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

/* Positions inside _Py_DebugOffsets for the versions whose struct we know (reference §3). */
struct dbg_pos {
	int minor;
	int interpreters_head, interp_threads_head, interp_gc, interp_modules, interp_sysdict;
	int ts_prev, ts_next, ts_interp, ts_frame, ts_thread_id, ts_native_id;
	int fr_previous, fr_code, fr_instr, fr_localsplus, fr_owner;
	int co_filename, co_name, co_qualname, co_linetable, co_firstlineno, co_adaptive;
	int ob_type, tp_name, tp_flags, list_item, tuple_item, dict_keys, dict_values;
	int uni_state, uni_length, uni_ascii_size, gc_size, gc_collecting;
};
static const struct dbg_pos dbg_positions[] = {
	{ 13, 40, 72, 80, 88, 96, 160, 168, 176, 184, 192, 200, 232, 240, 248, 256, 264,
	  280, 288, 296, 304, 312, 344, 360, 376, 392, 432, 408, 456, 464, 544, 552, 560, 568, 576 },
	{ 14, 40, 72, 88, 96, 104, 184, 192, 200, 208, 216, 224, 256, 264, 272, 280, 288,
	  320, 328, 336, 344, 352, 384, 408, 424, 440, 480, 456, 536, 544, 624, 632, 640, 648, 656 },
};

static uint64_t dbg_u64(const struct bin_facts *f, int pos)
{
	uint64_t v;

	memcpy(&v, f->dbg + pos, 8);
	return v;
}

/*
 * 3.13+: the interpreter tells us its own offsets. Take them over the generated table and refuse
 * when the parts only the table knows (the GC internals) do not fit the size it reports.
 */
static int apply_debug_offsets(struct py_target *t, const struct bin_facts *f)
{
	const struct dbg_pos *p = NULL;
	struct py_layout *l = &t->layout_rt;
	size_t i;
	uint64_t gc_size;

	for (i = 0; i < ARRAY_SIZE(dbg_positions); i++)
		if (dbg_positions[i].minor == t->minor)
			p = &dbg_positions[i];
	if (!p) {
		snprintf(t->why, sizeof(t->why), "CPython %s: _Py_DebugOffsets layout of 3.%d unknown to this pyleak",
			 t->version, t->minor);
		return -ENOTSUP;
	}
	gc_size = dbg_u64(f, p->gc_size);
	if ((int64_t)gc_size != l->gc_size) {
		/* 3.14.0–3.14.4 (incremental GC, 240 B) vs 3.14.5+ (264 B): a different GC state. */
		snprintf(t->why, sizeof(t->why),
			 "CPython %s: GC state is %" PRIu64 " bytes, pyleak's 3.%d table expects %d (unknown GC layout)",
			 t->version, gc_size, t->minor, l->gc_size);
		return -ENOTSUP;
	}
#define TAKE(field, pos) l->field = (int32_t)dbg_u64(f, p->pos)
	TAKE(runtime_interpreters_head, interpreters_head);
	TAKE(interp_threads_head, interp_threads_head);
	TAKE(interp_gc, interp_gc);
	TAKE(interp_modules, interp_modules);
	TAKE(interp_sysdict, interp_sysdict);
	TAKE(tstate_prev, ts_prev);
	TAKE(tstate_next, ts_next);
	TAKE(tstate_interp, ts_interp);
	TAKE(tstate_frame, ts_frame);
	TAKE(tstate_thread_id, ts_thread_id);
	TAKE(tstate_native_thread_id, ts_native_id);
	TAKE(frame_previous, fr_previous);
	TAKE(frame_code, fr_code);
	TAKE(frame_lasti, fr_instr);
	TAKE(frame_localsplus, fr_localsplus);
	TAKE(frame_owner, fr_owner);
	TAKE(code_filename, co_filename);
	TAKE(code_name, co_name);
	TAKE(code_qualname, co_qualname);
	TAKE(code_linetable, co_linetable);
	TAKE(code_firstlineno, co_firstlineno);
	TAKE(code_code_adaptive, co_adaptive);
	TAKE(object_type, ob_type);
	TAKE(type_name, tp_name);
	TAKE(type_flags, tp_flags);
	TAKE(list_item, list_item);
	TAKE(tuple_item, tuple_item);
	TAKE(dict_keys, dict_keys);
	TAKE(dict_values, dict_values);
	TAKE(unicode_state, uni_state);
	TAKE(unicode_length, uni_length);
	TAKE(unicode_ascii_size, uni_ascii_size);
	TAKE(gc_collecting, gc_collecting);
#undef TAKE
	return 0;
}

/*
 * Two tables can share a minor version: 3.14.0–3.14.4 (incremental GC, 240-byte GC state) and
 * 3.14.5+ (generational again, 264 bytes). _Py_DebugOffsets.gc.size tells them apart.
 */
static const struct py_layout *layout_for_gc_size(const struct py_target *t, const struct bin_facts *f,
						  const struct py_layout *fallback)
{
	const struct py_layout *const *l;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(dbg_positions); i++) {
		if (dbg_positions[i].minor != t->minor)
			continue;
		for (l = py_layouts; *l; l++)
			if ((*l)->major == t->major && (*l)->minor == t->minor &&
			    (*l)->gc_size == (int32_t)dbg_u64(f, dbg_positions[i].gc_size))
				return *l;
	}
	return fallback;
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
	if (proc__start_time(pid, &t->start_time))
		return -ESRCH;
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
	if (t->free_threaded) {
		snprintf(t->why, sizeof(t->why), "CPython %s is a free-threaded build: not supported yet", t->version);
		goto cleanup;
	}
	table = layout__find(t->major, t->minor);
	if (table && t->debug_offsets)
		table = layout_for_gc_size(t, f, table);
	if (!table) {
		snprintf(t->why, sizeof(t->why), "CPython %s: no layout for 3.%d in this pyleak (refusing to guess)",
			 t->version, t->minor);
		goto cleanup;
	}
	t->layout_rt = *table;
	if (t->debug_offsets && apply_debug_offsets(t, f))
		goto cleanup;
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
	t->gc_generations_addr = gc + l->gc_generations;
	t->gc_stats_addr = gc + l->gc_generation_stats;
	t->gc_collecting_addr = gc + l->gc_collecting;
	t->gc_enabled_addr = gc + l->gc_enabled;
	t->gc_garbage_addr = gc + l->gc_garbage;
	return 0;
}

int python__read_gc(const struct py_target *t, struct remote *r, struct py_gc_state *gc)
{
	const struct py_layout *l = t->layout;
	unsigned char gens[3 * 64], stats[3 * 32];
	uint64_t garbage = 0;
	int64_t size;
	int i, err;

	memset(gc, 0, sizeof(*gc));
	gc->garbage_len = -1;
	if (!t->gc_stats_addr || !l)
		return -ENOTSUP;
	if (l->gc_generation_size <= 0 || l->gc_generation_size > 64 || l->gc_stats_size != 24)
		return -ENOTSUP;
	{
		struct remote_iov iov[] = {
			{ t->gc_generations_addr, gens, 3 * (size_t)l->gc_generation_size },
			{ t->gc_stats_addr, stats, 3 * (size_t)l->gc_stats_size },
			{ t->gc_enabled_addr, &gc->enabled, 4 },
			{ t->gc_collecting_addr, &gc->collecting, 4 },
			{ t->gc_garbage_addr, &garbage, 8 },
		};
		int niov = ARRAY_SIZE(iov);

		if (!t->gc_collecting_addr || !t->gc_enabled_addr || !t->gc_garbage_addr)
			niov = 2;
		err = remote__readv(r, iov, niov);
		if (err)
			return err;
	}
	for (i = 0; i < 3; i++) {
		int32_t th, cnt;
		int64_t v[3];

		memcpy(&th, gens + i * l->gc_generation_size + l->gc_gen_threshold, 4);
		memcpy(&cnt, gens + i * l->gc_generation_size + l->gc_gen_count, 4);
		memcpy(v, stats + i * l->gc_stats_size, 24);
		gc->threshold[i] = th;
		gc->count[i] = cnt;
		gc->collections[i] = v[l->gc_stats_collections / 8];
		gc->collected[i] = v[l->gc_stats_collected / 8];
		gc->uncollectable[i] = v[l->gc_stats_uncollectable / 8];
		/* A wrong table shows up as nonsense here: refuse rather than print it. */
		if (gc->collections[i] < 0 || gc->collected[i] < 0 || gc->uncollectable[i] < 0 || th < 0)
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
	char link[64], exe[PROC_PATH_MAX];
	uint64_t st;
	ssize_t len;

	if (proc__start_time(t->pid, &st) || st != t->start_time)
		return false;
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
