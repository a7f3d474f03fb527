/* SPDX-License-Identifier: BSD-2-Clause */
/* Read-only ELF64 inspection of interpreter binaries: symbols, sections, segments, USDT notes. */
#include "target/elffile.h"
#include "util/common.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Parsed by hand rather than with libelf so that every access is bounds-checked against the
 * mapping: binaries come from arbitrary (possibly hostile) containers, and the parser is fuzzed.
 */
struct elf_file {
	const uint8_t *data;
	size_t size;
	bool mapped;
	const Elf64_Ehdr *eh;
	const Elf64_Shdr *sh; /* NULL if the section table is absent or out of range */
	const Elf64_Phdr *ph;
	const char *shstr;
	size_t shstr_size;
};

static bool in_range(const struct elf_file *elf, uint64_t off, uint64_t len)
{
	return off <= elf->size && len <= elf->size - off;
}

static int elf_parse(struct elf_file *elf)
{
	const Elf64_Ehdr *eh;

	if (elf->size < sizeof(Elf64_Ehdr))
		return -ENOEXEC;
	eh = (const Elf64_Ehdr *)elf->data;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_ident[EI_DATA] != ELFDATA2LSB || eh->e_machine != EM_X86_64)
		return -ENOEXEC;
	elf->eh = eh;
	/* Real linkers align the tables; an unaligned one is hostile and would be misaligned access. */
	if (eh->e_phnum && eh->e_phentsize == sizeof(Elf64_Phdr) && !(eh->e_phoff & 7) &&
	    in_range(elf, eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr)))
		elf->ph = (const Elf64_Phdr *)(elf->data + eh->e_phoff);
	if (eh->e_shnum && eh->e_shentsize == sizeof(Elf64_Shdr) && !(eh->e_shoff & 7) &&
	    in_range(elf, eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr))) {
		elf->sh = (const Elf64_Shdr *)(elf->data + eh->e_shoff);
		if (eh->e_shstrndx < eh->e_shnum) {
			const Elf64_Shdr *s = &elf->sh[eh->e_shstrndx];

			if (s->sh_type != SHT_NOBITS && in_range(elf, s->sh_offset, s->sh_size)) {
				elf->shstr = (const char *)elf->data + s->sh_offset;
				elf->shstr_size = s->sh_size;
			}
		}
	}
	if (!elf->ph && !elf->sh)
		return -ENOEXEC;
	return 0;
}

int elf__open_mem(const void *buf, size_t size, struct elf_file **out)
{
	struct elf_file *elf = calloc(1, sizeof(*elf));
	int err;

	if (!elf)
		return -ENOMEM;
	elf->data = buf;
	elf->size = size;
	err = elf_parse(elf);
	if (err) {
		free(elf);
		return err;
	}
	*out = elf;
	return 0;
}

int elf__open_fd(int fd, struct elf_file **out)
{
	struct elf_file *elf;
	struct stat st;
	void *map;
	int err;

	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof(Elf64_Ehdr))
		return -ENOEXEC;
	map = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		return -errno;
	err = elf__open_mem(map, st.st_size, &elf);
	if (err) {
		munmap(map, st.st_size);
		return err;
	}
	elf->mapped = true;
	*out = elf;
	return 0;
}

int elf__open(const char *path, struct elf_file **out)
{
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = elf__open_fd(fd, out);
	close(fd);
	return err;
}

void elf__close(struct elf_file *elf)
{
	if (!elf)
		return;
	if (elf->mapped)
		munmap((void *)elf->data, elf->size);
	free(elf);
}

static const char *sec_name(const struct elf_file *elf, const Elf64_Shdr *s)
{
	if (!elf->shstr || s->sh_name >= elf->shstr_size)
		return "";
	/* The table must be NUL-terminated within itself. */
	if (!memchr(elf->shstr + s->sh_name, '\0', elf->shstr_size - s->sh_name))
		return "";
	return elf->shstr + s->sh_name;
}

static const Elf64_Shdr *find_sec(const struct elf_file *elf, const char *name)
{
	int i;

	if (!elf->sh)
		return NULL;
	for (i = 0; i < elf->eh->e_shnum; i++)
		if (!strcmp(sec_name(elf, &elf->sh[i]), name))
			return &elf->sh[i];
	return NULL;
}

static const Elf64_Shdr *find_sec_type(const struct elf_file *elf, uint32_t type)
{
	int i;

	if (!elf->sh)
		return NULL;
	for (i = 0; i < elf->eh->e_shnum; i++)
		if (elf->sh[i].sh_type == type)
			return &elf->sh[i];
	return NULL;
}

int elf__find_section(const struct elf_file *elf, const char *name, struct elf_section *out)
{
	const Elf64_Shdr *s = find_sec(elf, name);

	if (!s)
		return -ENOENT;
	out->addr = s->sh_addr;
	out->offset = s->sh_offset;
	out->size = s->sh_size;
	out->type = s->sh_type;
	return 0;
}

/* Visit one symbol table; exact names always match, "name.suffix" clones only if allow_clone. */
static int scan_symtab(const struct elf_file *elf, uint32_t type, const char *name, bool allow_clone,
		       struct elf_sym *out, int max, int count)
{
	const Elf64_Shdr *s = find_sec_type(elf, type), *strs;
	const Elf64_Sym *syms;
	const char *strtab;
	size_t n, i, namelen = strlen(name);

	if (!s || s->sh_entsize != sizeof(Elf64_Sym) || s->sh_link >= elf->eh->e_shnum || (s->sh_offset & 7))
		return count;
	strs = &elf->sh[s->sh_link];
	if (!in_range(elf, s->sh_offset, s->sh_size) || !in_range(elf, strs->sh_offset, strs->sh_size))
		return count;
	syms = (const Elf64_Sym *)(elf->data + s->sh_offset);
	strtab = (const char *)elf->data + strs->sh_offset;
	n = s->sh_size / sizeof(Elf64_Sym);
	for (i = 0; i < n; i++) {
		const Elf64_Sym *sym = &syms[i];
		const char *nm;
		int k;
		bool dup = false;

		if (sym->st_name >= strs->sh_size || sym->st_shndx == SHN_UNDEF)
			continue;
		nm = strtab + sym->st_name;
		if (strs->sh_size - sym->st_name <= namelen || strncmp(nm, name, namelen))
			continue;
		if (nm[namelen] != '\0' && !(allow_clone && nm[namelen] == '.'))
			continue;
		for (k = 0; k < count && k < max; k++)
			dup |= out[k].value == sym->st_value;
		if (dup)
			continue;
		if (count < max) {
			out[count].value = sym->st_value;
			out[count].size = sym->st_size;
			out[count].type = ELF64_ST_TYPE(sym->st_info);
			out[count].dynamic = type == SHT_DYNSYM;
			copy_str(out[count].name, sizeof(out[count].name), nm);
		}
		count++;
		if (!allow_clone)
			return count;
	}
	return count;
}

int elf__find_symbol(const struct elf_file *elf, const char *name, struct elf_sym *out)
{
	if (scan_symtab(elf, SHT_DYNSYM, name, false, out, 1, 0))
		return 0;
	return scan_symtab(elf, SHT_SYMTAB, name, false, out, 1, 0) ? 0 : -ENOENT;
}

int elf__find_functions(const struct elf_file *elf, const char *name, struct elf_sym *out, int max)
{
	struct elf_sym all[16];
	int n, i, count = 0;

	n = scan_symtab(elf, SHT_DYNSYM, name, true, all, ARRAY_SIZE(all), 0);
	n = scan_symtab(elf, SHT_SYMTAB, name, true, all, ARRAY_SIZE(all), n);
	for (i = 0; i < n && i < (int)ARRAY_SIZE(all); i++) {
		if (all[i].type != STT_FUNC)
			continue;
		if (count < max)
			out[count] = all[i];
		count++;
	}
	return count ? count : -ENOENT;
}

int elf__vaddr_to_offset(const struct elf_file *elf, uint64_t vaddr, uint64_t *offset)
{
	int i;

	if (!elf->ph)
		return -ENOENT;
	for (i = 0; i < elf->eh->e_phnum; i++) {
		const Elf64_Phdr *p = &elf->ph[i];

		if (p->p_type != PT_LOAD)
			continue;
		if (vaddr >= p->p_vaddr && vaddr - p->p_vaddr < p->p_filesz) {
			*offset = p->p_offset + (vaddr - p->p_vaddr);
			return 0;
		}
	}
	return -ENOENT;
}

const void *elf__data_at(const struct elf_file *elf, uint64_t vaddr, size_t size)
{
	uint64_t off;
	int i;

	if (!elf->ph)
		return NULL;
	for (i = 0; i < elf->eh->e_phnum; i++) {
		const Elf64_Phdr *p = &elf->ph[i];

		if (p->p_type != PT_LOAD || vaddr < p->p_vaddr)
			continue;
		if (vaddr - p->p_vaddr > p->p_filesz || size > p->p_filesz - (vaddr - p->p_vaddr))
			continue;
		off = p->p_offset + (vaddr - p->p_vaddr);
		return in_range(elf, off, size) ? elf->data + off : NULL;
	}
	return NULL;
}

uint64_t elf__first_load_vaddr(const struct elf_file *elf)
{
	int i;

	if (!elf->ph)
		return 0;
	for (i = 0; i < elf->eh->e_phnum; i++)
		if (elf->ph[i].p_type == PT_LOAD)
			return elf->ph[i].p_vaddr & ~0xfffull;
	return 0;
}

bool elf__is_pie_or_shared(const struct elf_file *elf)
{
	return elf->eh->e_type == ET_DYN;
}

bool elf__has_symtab(const struct elf_file *elf)
{
	return find_sec_type(elf, SHT_SYMTAB) != NULL;
}

bool elf__has_debuginfo(const struct elf_file *elf)
{
	const Elf64_Shdr *s = find_sec(elf, ".debug_info");

	return s && s->sh_type != SHT_NOBITS && s->sh_size > 0;
}

/* Copy a NUL-terminated string from [p, end) into dst; returns bytes consumed incl. NUL or -1. */
static long take_str(const char *p, const char *end, char *dst, size_t dstsz)
{
	const char *z = memchr(p, '\0', end - p);

	if (!z)
		return -1;
	copy_str(dst, dstsz, p);
	return z - p + 1;
}

int elf__usdt_notes(const struct elf_file *elf, struct usdt_note *notes, int max)
{
	const Elf64_Shdr *s = find_sec(elf, ".note.stapsdt");
	const uint8_t *p, *end;
	int count = 0;

	if (!s || s->sh_type != SHT_NOTE)
		return 0;
	if (!in_range(elf, s->sh_offset, s->sh_size) || (s->sh_offset & 3))
		return -ENOEXEC;
	p = elf->data + s->sh_offset;
	end = p + s->sh_size;
	while (end - p >= (long)sizeof(Elf64_Nhdr)) {
		const Elf64_Nhdr *nh = (const Elf64_Nhdr *)p;
		uint64_t namesz = (nh->n_namesz + 3) & ~3ull, descsz = (nh->n_descsz + 3) & ~3ull;
		const uint8_t *desc = p + sizeof(*nh) + namesz;

		if (namesz > (uint64_t)(end - p) || descsz > (uint64_t)(end - p) ||
		    sizeof(*nh) + namesz + descsz > (uint64_t)(end - p))
			return -ENOEXEC;
		/* stapsdt v3 note: pc, base, semaphore (8 bytes each), then provider, name, args strings. */
		if (nh->n_type == 3 && nh->n_namesz == 8 && !memcmp(p + sizeof(*nh), "stapsdt", 8) &&
		    nh->n_descsz >= 24) {
			const char *str = (const char *)desc + 24, *send = (const char *)desc + nh->n_descsz;
			struct usdt_note n;
			long k;

			memset(&n, 0, sizeof(n));
			memcpy(&n.pc, desc, 8);
			memcpy(&n.base, desc + 8, 8);
			memcpy(&n.semaphore, desc + 16, 8);
			if ((k = take_str(str, send, n.provider, sizeof(n.provider))) < 0)
				return -ENOEXEC;
			str += k;
			if ((k = take_str(str, send, n.name, sizeof(n.name))) < 0)
				return -ENOEXEC;
			str += k;
			if (take_str(str, send, n.args, sizeof(n.args)) < 0)
				return -ENOEXEC;
			if (count < max)
				notes[count] = n;
			count++;
		}
		p = desc + descsz;
	}
	return count;
}

bool elf__has_usdt(const struct elf_file *elf, const char *provider, const char *name)
{
	struct usdt_note notes[64];
	int n = elf__usdt_notes(elf, notes, ARRAY_SIZE(notes)), i;

	for (i = 0; i < n && i < (int)ARRAY_SIZE(notes); i++)
		if (!strcmp(notes[i].provider, provider) && !strcmp(notes[i].name, name))
			return true;
	return false;
}

static bool is_version_string(const char *s, size_t len)
{
	size_t i, dots = 0;

	if (len < 5 || len > 16)
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (c == '.')
			dots++;
		else if (!((c >= '0' && c <= '9') || c == 'a' || c == 'b' || c == 'r' || c == 'c' || c == '+'))
			return false;
	}
	return dots == 2;
}

int elf__find_version_string(const struct elf_file *elf, const char *prefix, char *out, size_t outsz)
{
	const Elf64_Shdr *s = find_sec(elf, ".rodata");
	const char *base, *p, *end, *fallback = NULL;
	size_t plen = strlen(prefix);

	if (!s || s->sh_type == SHT_NOBITS || !in_range(elf, s->sh_offset, s->sh_size) || !plen)
		return -ENOENT;
	base = (const char *)elf->data + s->sh_offset;
	end = base + s->sh_size;
	/*
	 * PY_VERSION ("3.8.18") is a literal of its own, but the linker merges string tails, so it
	 * may only exist as the end of "/root/.pyenv/versions/3.8.18". Accept a NUL-terminated
	 * version string that starts after a NUL (best) or after a '/', ' ' or '-'.
	 */
	for (p = base; p < end && (p = memmem(p, end - p, prefix, plen)); p++) {
		const char *z = memchr(p, '\0', end - p);
		char before = p == base ? '\0' : p[-1];

		if (!z || !is_version_string(p, z - p))
			continue;
		if (before == '\0')
			return copy_str(out, outsz, p);
		if (!fallback && (before == '/' || before == ' ' || before == '-'))
			fallback = p;
	}
	return fallback ? copy_str(out, outsz, fallback) : -ENOENT;
}

int elf__offset_to_vaddr(const struct elf_file *elf, uint64_t offset, uint64_t *vaddr)
{
	int i;

	if (!elf->ph)
		return -ENOENT;
	for (i = 0; i < elf->eh->e_phnum; i++) {
		const Elf64_Phdr *p = &elf->ph[i];

		if (p->p_type != PT_LOAD)
			continue;
		if (offset >= p->p_offset && offset - p->p_offset < p->p_filesz) {
			*vaddr = p->p_vaddr + (offset - p->p_offset);
			return 0;
		}
	}
	return -ENOENT;
}

/* The function symbol whose [value, value + size) holds vaddr, from .symtab then .dynsym (a size-0
 * symbol counts when it is the nearest below vaddr and nothing sized holds it). */
static bool symbolize_in(const struct elf_file *elf, uint32_t type, uint64_t vaddr, struct elf_sym *out)
{
	const Elf64_Shdr *s = find_sec_type(elf, type), *strs;
	const Elf64_Sym *syms, *best = NULL;
	const char *strtab;
	size_t n, i;

	if (!s || s->sh_entsize != sizeof(Elf64_Sym) || s->sh_link >= elf->eh->e_shnum || (s->sh_offset & 7))
		return false;
	strs = &elf->sh[s->sh_link];
	if (!in_range(elf, s->sh_offset, s->sh_size) || !in_range(elf, strs->sh_offset, strs->sh_size))
		return false;
	syms = (const Elf64_Sym *)(elf->data + s->sh_offset);
	strtab = (const char *)elf->data + strs->sh_offset;
	n = s->sh_size / sizeof(Elf64_Sym);
	for (i = 0; i < n; i++) {
		const Elf64_Sym *sym = &syms[i];

		if (ELF64_ST_TYPE(sym->st_info) != STT_FUNC || sym->st_shndx == SHN_UNDEF ||
		    sym->st_name >= strs->sh_size || sym->st_value > vaddr)
			continue;
		if (sym->st_size && vaddr - sym->st_value < sym->st_size) {
			best = sym;
			break;
		}
	}
	if (!best)
		return false;
	out->value = best->st_value;
	out->size = best->st_size;
	out->type = STT_FUNC;
	out->dynamic = type == SHT_DYNSYM;
	copy_str(out->name, sizeof(out->name), strtab + best->st_name);
	return true;
}

int elf__symbolize(const struct elf_file *elf, uint64_t vaddr, struct elf_sym *out)
{
	if (symbolize_in(elf, SHT_SYMTAB, vaddr, out) || symbolize_in(elf, SHT_DYNSYM, vaddr, out))
		return 0;
	return -ENOENT;
}
