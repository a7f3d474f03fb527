/* SPDX-License-Identifier: BSD-2-Clause */
/* A tiny binary that looks like an interpreter to pyleak's ELF reader: the fuzz_elf seed. */
/*
 * It has what python.c looks for: exported _PyRuntime and Py_Version, a version string in
 * .rodata, a local function named like a collector clone, and python:gc__start / gc__done
 * USDT notes with semaphores (written by hand in the layout of <sys/sdt.h>, which this machine
 * does not ship). tests/fuzz/run.sh builds it and puts it, stripped and unstripped, in the corpus.
 */
__attribute__((used, visibility("default"))) char _PyRuntime[256] = "xdebugpy";
__attribute__((used, visibility("default"))) const unsigned long Py_Version = 0x030b07f0;
__attribute__((used)) static const char version[] = "3.11.7 (main, Jan  1 2024, 00:00:00) [GCC]";
__attribute__((used, section(".probes"))) unsigned short python_gc__start_semaphore, python_gc__done_semaphore;

__attribute__((noinline, used)) static int collect_constprop_1(int gen) __asm__("collect.constprop.1");
static int collect_constprop_1(int gen)
{
	__asm__ __volatile__("990: nop\n"
			     ".pushsection .note.stapsdt,\"?\",\"note\"\n"
			     ".balign 4\n.4byte 992f-991f, 994f-993f, 3\n"
			     "991: .asciz \"stapsdt\"\n992: .balign 4\n"
			     "993: .8byte 990b\n.8byte _.stapsdt.base\n.8byte python_gc__start_semaphore\n"
			     ".asciz \"python\"\n.asciz \"gc__start\"\n.asciz \"-4@%0\"\n994: .balign 4\n"
			     ".popsection\n"
			     "995: nop\n"
			     ".pushsection .note.stapsdt,\"?\",\"note\"\n"
			     ".balign 4\n.4byte 997f-996f, 999f-998f, 3\n"
			     "996: .asciz \"stapsdt\"\n997: .balign 4\n"
			     "998: .8byte 995b\n.8byte _.stapsdt.base\n.8byte python_gc__done_semaphore\n"
			     ".asciz \"python\"\n.asciz \"gc__done\"\n.asciz \"-8@%%rax\"\n999: .balign 4\n"
			     ".popsection\n"
			     ".ifndef _.stapsdt.base\n"
			     ".pushsection .stapsdt.base,\"aG\",\"progbits\",.stapsdt.base,comdat\n"
			     ".weak _.stapsdt.base\n.hidden _.stapsdt.base\n_.stapsdt.base: .space 1\n"
			     ".size _.stapsdt.base, 1\n.popsection\n.endif\n"
			     :
			     : "r"(gen));
	return gen + python_gc__start_semaphore + version[0];
}

int main(int argc, char **argv)
{
	(void)argv;
	return collect_constprop_1(argc) + _PyRuntime[0] + (int)Py_Version;
}
