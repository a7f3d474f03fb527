/* SPDX-License-Identifier: BSD-2-Clause */
/* Read-only ELF64 inspection of interpreter binaries: symbols, sections, segments, USDT notes. */
#ifndef PYLEAK_ELFFILE_H
#define PYLEAK_ELFFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct elf_file;

struct elf_sym {
	uint64_t value; /* st_value: a virtual address in the file's own address space */
	uint64_t size;
	int type;	/* STT_* */
	bool dynamic;	/* found in .dynsym (exported) rather than .symtab */
	char name[64];	/* the symbol's own name (a clone's full name, e.g. "collect.constprop.1") */
};

struct elf_section {
	uint64_t addr, offset, size;
	uint32_t type;
};

#define USDT_STR_MAX 64
struct usdt_note {
	char provider[USDT_STR_MAX];
	char name[USDT_STR_MAX];
	char args[128];
	uint64_t pc, base, semaphore; /* as written in the note (link-time addresses) */
};

/* Opens and maps `path`; -errno (-ENOEXEC for a file that is not a usable ELF64 x86_64 object). */
int elf__open(const char *path, struct elf_file **out);
/* The same from an open file (not closed; the mapping outlives it). */
int elf__open_fd(int fd, struct elf_file **out);
/* Same checks over a caller-owned buffer (unit tests, fuzzing); the buffer must outlive the handle. */
int elf__open_mem(const void *buf, size_t size, struct elf_file **out);
void elf__close(struct elf_file *elf);

/* Exact name; .dynsym first, then .symtab. -ENOENT if absent. */
int elf__find_symbol(const struct elf_file *elf, const char *name, struct elf_sym *out);
/* Every function named `name` or a compiler clone of it ("collect.constprop.1"), from .dynsym and
 * .symtab, de-duplicated by address; returns the count (may exceed max) or -ENOENT. */
int elf__find_functions(const struct elf_file *elf, const char *name, struct elf_sym *out, int max);
int elf__find_section(const struct elf_file *elf, const char *name, struct elf_section *out);

/* Virtual address -> file offset through the PT_LOAD segments; -ENOENT if not file-backed. */
int elf__vaddr_to_offset(const struct elf_file *elf, uint64_t vaddr, uint64_t *offset);
/* File offset -> virtual address (the inverse, for addresses seen in a mapping); -ENOENT. */
int elf__offset_to_vaddr(const struct elf_file *elf, uint64_t offset, uint64_t *vaddr);
/* The function holding vaddr (.symtab first, then .dynsym); -ENOENT if none. */
int elf__symbolize(const struct elf_file *elf, uint64_t vaddr, struct elf_sym *out);
/* Pointer to `size` initialized bytes at `vaddr` inside the mapped file, or NULL (bss, out of range). */
const void *elf__data_at(const struct elf_file *elf, uint64_t vaddr, size_t size);
/* p_vaddr of the first PT_LOAD, page aligned down: runtime address = map start - this + vaddr. */
uint64_t elf__first_load_vaddr(const struct elf_file *elf);
bool elf__is_pie_or_shared(const struct elf_file *elf); /* ET_DYN */

bool elf__has_symtab(const struct elf_file *elf);
bool elf__has_debuginfo(const struct elf_file *elf);

/* Fills up to max notes of .note.stapsdt; returns the number found (may exceed max) or -errno. */
int elf__usdt_notes(const struct elf_file *elf, struct usdt_note *notes, int max);
/* True if a USDT note provider:name exists. */
bool elf__has_usdt(const struct elf_file *elf, const char *provider, const char *name);

/* Scan .rodata for a NUL-terminated string "MAJ.MIN.PATCH..." that starts with `prefix` ("3.11."). */
int elf__find_version_string(const struct elf_file *elf, const char *prefix, char *out, size_t outsz);

#endif /* PYLEAK_ELFFILE_H */
