/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer harness: arbitrary bytes as an interpreter binary through the hand-written ELF reader. */
/*
 * pyleak opens the executables and libpython of processes it does not trust (through
 * /proc/PID/root or map_files, so a container can hand it any file named python*). Every query
 * python.c makes of a binary runs here over the input: headers, sections, both symbol tables
 * (exact names and compiler clones), vaddr->offset and data_at over the PT_LOAD segments, USDT
 * notes and the version-string scan. Built and run by tests/fuzz/run.sh; seeds are real python
 * binaries cut to their first pages and a few synthetic files (tests/fuzz/make_seeds.py).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target/elffile.h"

static const char *const symbols[] = { "_PyRuntime", "Py_Version", "Py_GetVersion", "generations",
				       "collect", "gc_collect_main", "_Py_DebugOffsets", "" };
static const char *const prefixes[] = { "3.", "3.11.", "3.6.", "" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct elf_file *elf = NULL;
	struct elf_sym sym, funcs[4];
	struct elf_section sec;
	struct usdt_note notes[8];
	char version[32], tiny[4];
	uint64_t off;
	const void *p;
	void *copy;
	size_t i;
	int n;

	/* The reader keeps pointers into the buffer: give it one ASan can bound exactly. */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (elf__open_mem(copy, size, &elf) || !elf)
		goto out;
	for (i = 0; i < sizeof(symbols) / sizeof(symbols[0]); i++) {
		if (!elf__find_symbol(elf, symbols[i], &sym)) {
			p = elf__data_at(elf, sym.value, 8);
			if (p)
				(void)*(const volatile uint8_t *)p;
			p = elf__data_at(elf, sym.value, sym.size < 4096 ? sym.size : 4096);
			elf__vaddr_to_offset(elf, sym.value, &off);
		}
		n = elf__find_functions(elf, symbols[i], funcs, 4);
		(void)n;
	}
	elf__find_section(elf, ".PyRuntime", &sec);
	elf__find_section(elf, ".note.stapsdt", &sec);
	elf__find_section(elf, "", &sec);
	elf__first_load_vaddr(elf);
	elf__is_pie_or_shared(elf);
	elf__has_symtab(elf);
	elf__has_debuginfo(elf);
	n = elf__usdt_notes(elf, notes, 8);
	for (i = 0; n > 0 && i < (size_t)n && i < 8; i++) {
		elf__vaddr_to_offset(elf, notes[i].semaphore, &off);
		elf__data_at(elf, notes[i].pc, 1);
	}
	elf__usdt_notes(elf, notes, 0);
	elf__has_usdt(elf, "python", "gc__start");
	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		elf__find_version_string(elf, prefixes[i], version, sizeof(version));
		elf__find_version_string(elf, prefixes[i], tiny, sizeof(tiny));
	}
	/* arbitrary addresses and sizes, including ones that wrap */
	if (size >= 16) {
		uint64_t a, b;

		memcpy(&a, data, 8);
		memcpy(&b, data + 8, 8);
		elf__data_at(elf, a, (size_t)(b & 0xffff));
		elf__data_at(elf, a, (size_t)b);
		elf__vaddr_to_offset(elf, a, &off);
		elf__vaddr_to_offset(elf, (uint64_t)-1, &off);
	}
out:
	elf__close(elf);
	free(copy);
	return 0;
}
