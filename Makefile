# SPDX-License-Identifier: BSD-2-Clause
# pyleak build: BPF objects -> skeletons -> userspace binary; unit and integration tests.
#
#   make            build .output/pyleak
#   make test       unit tests (cmocka) + integration tests (root, BPF)
#   make demo       install deps if missing, build, run the leaky demo service under `pyleak top`
#   make bench      overhead and speed figures (tools/bench/)
#   make deps       apt-get install whatever is missing
#   make install PREFIX=/usr/local DESTDIR=
#   V=1 for full commands, SANITIZE=1 for ASan+UBSan

OUTPUT   ?= .output
PREFIX   ?= /usr/local
DESTDIR  ?=
CLANG    ?= clang
BPFTOOL  ?= bpftool
CC       ?= cc
PYTHON   ?= /usr/bin/python3
VERSION  := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

ARCH := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

CFLAGS   ?= -O2 -g
CFLAGS   += -Wall -Wextra -Werror -std=gnu11 -D_GNU_SOURCE -fno-strict-aliasing
# Userspace includes name their folder ("target/python.h", "bpf/gc.h" for the BPF ABI); -Ibpf is
# for the ABI headers' own includes, $(OUTPUT) for the generated skeletons.
CPPFLAGS += -I$(OUTPUT) -Iuserspace -I. -Ibpf -DPYLEAK_VERSION='"$(VERSION)"'
LDLIBS   += -lbpf -lelf -lz -lncursesw -ltinfo -lsqlite3 -lm -lpthread

ifeq ($(SANITIZE),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
OUTPUT  := .output-san
endif

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror -Ibpf -I$(OUTPUT) \
              -I/usr/include/$(shell $(CC) -dumpmachine)

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.bpf.o,$(BPF_SRCS))
BPF_SKELS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))

# One folder per subsystem (README "Layout"); objects mirror it under $(OUTPUT)/userspace/.
USER_DIRS := $(sort $(dir $(wildcard userspace/*/*.c)))
USER_SRCS := $(wildcard userspace/*/*.c)
LIB_SRCS  := $(filter-out userspace/cmd/main.c,$(USER_SRCS))
LIB_OBJS  := $(patsubst %.c,$(OUTPUT)/%.o,$(LIB_SRCS))
MAIN_OBJ  := $(OUTPUT)/userspace/cmd/main.o
LIB       := $(OUTPUT)/libpyleak.a
BIN       := $(OUTPUT)/pyleak

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(UNIT_SRCS))

.DELETE_ON_ERROR:
# Skeletons and BPF objects are products, not intermediates: never delete them after a build.
.SECONDARY: $(BPF_OBJS) $(BPF_SKELS)
.PHONY: all clean test unit integration demo bench deps install fuzz soak check-deps san-bin check-layers interp

all: $(BIN)

$(OUTPUT) $(OUTPUT)/tests $(addprefix $(OUTPUT)/,$(USER_DIRS)):
	$(Q)mkdir -p $@

# BPF: clang -> .bpf.o (CO-RE against the checked-in bpf/vmlinux.h) -> bpftool skeleton.
$(OUTPUT)/%.bpf.o: bpf/%.bpf.c | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MMD -MP -MF $(@:.o=.d) -MT $@ -c $< -o $@.tmp
	$(Q)$(BPFTOOL) gen object $@ $@.tmp && rm -f $@.tmp

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

# Userspace objects wait for every skeleton (any of them may include one).
$(OUTPUT)/userspace/%.o: userspace/%.c $(BPF_SKELS) | $(addprefix $(OUTPUT)/,$(USER_DIRS))
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(CPPFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BIN): $(MAIN_OBJ) $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(OUTPUT)/tests/%: tests/unit/%.c $(LIB) | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(CPPFLAGS) -MMD -MP $< $(LIB) $(LDFLAGS) $(LDLIBS) -lcmocka -o $@

unit: $(UNIT_BINS)
	@fail=0; for t in $(UNIT_BINS); do \
		echo "== $$t"; $$t || fail=1; \
	done; exit $$fail

# Integration tests need root and BPF; PYLEAK_REQUIRE_BPF=1 turns any skip into a failure.
# SANITIZE=1 runs the interactive view headless under ASan+UBSan (the whole suite would be slow
# and timing-bound under ASan); the plain run also checks the sanitizer build's TUI.
ifeq ($(SANITIZE),1)
INTEGRATION_SELECT := tests/integration/test_tui.py tests/integration/test_reliability.py::test_tui_headless_under_asan
else
INTEGRATION_SELECT := tests/integration
endif
SAN_BIN := .output-san/pyleak

integration: $(BIN) san-bin
	PYLEAK=$(abspath $(BIN)) PYLEAK_SAN=$(abspath $(SAN_BIN)) \
		$(PYTHON) -m pytest -ra --durations=25 -p no:cacheprovider $(INTEGRATION_SELECT) $(PYTEST_ARGS)

san-bin:
	@$(MAKE) --no-print-directory SANITIZE=1 $(SAN_BIN)

test: check-deps interp $(BIN) $(UNIT_BINS)
	$(MAKE) --no-print-directory check-layers
	$(MAKE) --no-print-directory unit
	$(MAKE) --no-print-directory integration

# The subsystem folders' dependency direction (tools/check_layers.py: which folder may include which).
check-layers:
	$(PYTHON) tools/check_layers.py

check-deps:
	@tools/deps.sh --check || tools/deps.sh

# The extra interpreters of the test matrix (Debian sid 3.14/3.15, free-threaded 3.13), cached
# outside the clone in /var/cache/pyleak/interp: about 7 min on a fresh machine, 0.1 s after.
# PYLEAK_INTERP=skip leaves the matrix to what the machine has (the tests then say what is missing).
interp:
	@if [ "$${PYLEAK_INTERP:-}" = skip ]; then echo "interp: skipped (PYLEAK_INTERP=skip)"; \
	elif [ "$$(id -u)" -ne 0 ]; then \
		echo "interp: not root: $$(tools/interp/fetch.sh --list | wc -l) of 3 extra interpreters ready (sudo make interp fetches them)"; \
	else tools/interp/fetch.sh all; fi

deps:
	tools/deps.sh

demo: check-deps $(BIN)
	tools/demo.sh $(BIN)

bench: check-deps $(BIN)
	$(PYTHON) tools/bench/bench.py --pyleak $(BIN) $(BENCH_ARGS)

# libFuzzer harnesses (trace reader, remote-memory parsers, ELF, /proc), bounded in time.
FUZZ_SECONDS ?= 60
fuzz:
	tests/fuzz/run.sh $(FUZZ_SECONDS)

# Churn soak: short-lived Python processes under top and record --all for SOAK_SECONDS.
SOAK_SECONDS ?= 3600
soak: $(BIN)
	PYLEAK=$(abspath $(BIN)) tools/soak.sh $(SOAK_SECONDS)

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/pyleak
	install -m 0644 docs/pyleak.8 $(DESTDIR)$(PREFIX)/share/man/man8/pyleak.8

clean:
	rm -rf .output .output-san

-include $(wildcard $(OUTPUT)/*.d $(OUTPUT)/userspace/*/*.d $(OUTPUT)/tests/*.d)
