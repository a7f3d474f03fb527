/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests of the ELF reader: synthetic objects (notes, strings, sections) and the test binary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "target/elffile.h"

/* A minimal ELF64 with .shstrtab, .note.stapsdt (two probes) and .rodata built in memory. */
struct synth {
	unsigned char buf[4096];
	size_t size;
};

static size_t put(struct synth *s, size_t off, const void *p, size_t n)
{
	memcpy(s->buf + off, p, n);
	return off + n;
}

static size_t note(struct synth *s, size_t off, const char *prov, const char *name, const char *args, uint64_t pc)
{
	Elf64_Nhdr nh = { .n_namesz = 8, .n_type = 3 };
	unsigned char desc[256];
	size_t d = 24;
	uint64_t base = 0x1000, sem = 0x2000;

	memcpy(desc, &pc, 8);
	memcpy(desc + 8, &base, 8);
	memcpy(desc + 16, &sem, 8);
	memcpy(desc + d, prov, strlen(prov) + 1);
	d += strlen(prov) + 1;
	memcpy(desc + d, name, strlen(name) + 1);
	d += strlen(name) + 1;
	memcpy(desc + d, args, strlen(args) + 1);
	d += strlen(args) + 1;
	nh.n_descsz = (uint32_t)d;
	off = put(s, off, &nh, sizeof(nh));
	off = put(s, off, "stapsdt", 8);
	off = put(s, off, desc, d);
	return (off + 3) & ~(size_t)3;
}

static void build(struct synth *s, const char *rodata, size_t rodata_len)
{
	static const char shstr[] = "\0.shstrtab\0.note.stapsdt\0.rodata\0";
	Elf64_Ehdr eh;
	Elf64_Shdr sh[4];
	size_t off = sizeof(eh), notes_off, notes_end, ro_off, shstr_off;

	memset(s, 0, sizeof(*s));
	memset(&eh, 0, sizeof(eh));
	memset(sh, 0, sizeof(sh));
	shstr_off = off;
	off = put(s, off, shstr, sizeof(shstr));
	off = (off + 7) & ~(size_t)7;
	notes_off = off;
	off = note(s, off, "python", "gc__start", "-4@112(%rsp)", 0x400);
	off = note(s, off, "python", "gc__done", "-8@%r12", 0x500);
	notes_end = off;
	ro_off = off;
	off = put(s, off, rodata, rodata_len);
	off = (off + 7) & ~(size_t)7;

	sh[1].sh_name = 1;
	sh[1].sh_type = SHT_STRTAB;
	sh[1].sh_offset = shstr_off;
	sh[1].sh_size = sizeof(shstr);
	sh[2].sh_name = 11;
	sh[2].sh_type = SHT_NOTE;
	sh[2].sh_offset = notes_off;
	sh[2].sh_size = notes_end - notes_off;
	sh[3].sh_name = 25;
	sh[3].sh_type = SHT_PROGBITS;
	sh[3].sh_offset = ro_off;
	sh[3].sh_size = rodata_len;
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_machine = EM_X86_64;
	eh.e_type = ET_DYN;
	eh.e_shoff = off;
	eh.e_shentsize = sizeof(Elf64_Shdr);
	eh.e_shnum = 4;
	eh.e_shstrndx = 1;
	off = put(s, off, sh, sizeof(sh));
	put(s, 0, &eh, sizeof(eh));
	s->size = off;
}

static void test_usdt_notes(void **state)
{
	static const char ro[] = "abc\0/root/.pyenv/versions/3.8.18\0";
	struct usdt_note notes[4];
	struct elf_file *elf;
	struct synth s;

	(void)state;
	build(&s, ro, sizeof(ro));
	assert_int_equal(elf__open_mem(s.buf, s.size, &elf), 0);
	assert_int_equal(elf__usdt_notes(elf, notes, 4), 2);
	assert_string_equal(notes[0].provider, "python");
	assert_string_equal(notes[0].name, "gc__start");
	assert_string_equal(notes[0].args, "-4@112(%rsp)");
	assert_int_equal(notes[1].pc, 0x500);
	assert_int_equal(notes[1].semaphore, 0x2000);
	assert_true(elf__has_usdt(elf, "python", "gc__done"));
	assert_false(elf__has_usdt(elf, "python", "line"));
	assert_false(elf__has_symtab(elf));
	elf__close(elf);
}

static void test_version_string_tail_merged(void **state)
{
	/* The linker merged PY_VERSION into the tail of a path: only a suffix match finds it. */
	static const char ro[] = "x\0/root/.pyenv/versions/3.8.18\0lib\0";
	static const char ro2[] = "3.10.13\0/opt/3.10.99\0";
	struct elf_file *elf;
	struct synth s;
	char v[32];

	(void)state;
	build(&s, ro, sizeof(ro));
	assert_int_equal(elf__open_mem(s.buf, s.size, &elf), 0);
	assert_int_equal(elf__find_version_string(elf, "3.8.", v, sizeof(v)), 0);
	assert_string_equal(v, "3.8.18");
	assert_int_equal(elf__find_version_string(elf, "3.9.", v, sizeof(v)), -ENOENT);
	elf__close(elf);
	/* A string of its own (after a NUL) wins over a path suffix. */
	build(&s, ro2, sizeof(ro2));
	assert_int_equal(elf__open_mem(s.buf, s.size, &elf), 0);
	assert_int_equal(elf__find_version_string(elf, "3.10.", v, sizeof(v)), 0);
	assert_string_equal(v, "3.10.13");
	elf__close(elf);
}

static void test_rejects_garbage(void **state)
{
	unsigned char junk[256];
	struct elf_file *elf;
	struct synth s;
	size_t cut;

	(void)state;
	memset(junk, 0x41, sizeof(junk));
	assert_int_equal(elf__open_mem(junk, sizeof(junk), &elf), -ENOEXEC);
	assert_int_equal(elf__open_mem(junk, 10, &elf), -ENOEXEC);
	/* Truncations of a valid object never read out of bounds (ASan build checks this). */
	build(&s, "3.1.1", 6);
	for (cut = 0; cut < s.size; cut += 7) {
		if (elf__open_mem(s.buf, cut, &elf) == 0) {
			struct usdt_note n[2];
			char v[16];

			elf__usdt_notes(elf, n, 2);
			elf__find_version_string(elf, "3.", v, sizeof(v));
			elf__close(elf);
		}
	}
}

static void test_symbols_of_self(void **state)
{
	struct elf_sym syms[4];
	struct elf_file *elf;
	uint64_t off;

	(void)state;
	assert_int_equal(elf__open("/proc/self/exe", &elf), 0);
	assert_true(elf__has_symtab(elf));
	assert_true(elf__find_functions(elf, "main", syms, 4) >= 1);
	assert_string_equal(syms[0].name, "main");
	assert_int_equal(elf__vaddr_to_offset(elf, syms[0].value, &off), 0);
	assert_int_equal(elf__find_functions(elf, "no_such_function_xyz", syms, 4), -ENOENT);
	assert_int_equal(elf__open("/nonexistent/file", &elf), -ENOENT);
	elf__close(elf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usdt_notes),
		cmocka_unit_test(test_version_string_tail_merged),
		cmocka_unit_test(test_rejects_garbage),
		cmocka_unit_test(test_symbols_of_self),
	};
	return cmocka_run_group_tests_name("elf", tests, NULL, NULL);
}
