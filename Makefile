# vmdbg: one build for the tool, its test guest, its tests and its benchmarks.
#   make            build build/vmdbg, its man page build/vmdbg.1 and build/test-guest.elf
#   make run        build, fetch and build the Linux guest, boot it with the REPL;
#                   RUN_ARGS="--gdb tcp:1234 --trace ctl" adds vmdbg options to that command line
#   make install    bin/vmdbg and share/man/man1/vmdbg.1 under $(DESTDIR)$(PREFIX) (/usr/local)
#   make readme     rewrite the README's generated options table and command reference
#   make check      install what is missing, build, run every test tier
#   make check-hwkvm  the integration tests inside a nested hardware-style KVM (AMD SVM under QEMU TCG)
#   make bench      side-by-side figures (installs QEMU when missing)
#   make fuzz       libFuzzer targets (clang), FUZZ_SECONDS each (default 60)
#   make fuzz-long  a night's fuzzing: each target to FUZZ_LONG_RUNS executions (10^7) or
#                   FUZZ_LONG_SECONDS (8 h), FUZZ_LONG_JOBS at a time (tests/fuzz/README.md)
#   SANITIZE=1      build with ASan and UBSan (objects kept apart from the plain build)
#   SANITIZE=thread build with ThreadSanitizer (objects kept apart too)

BUILD    := build
SANITIZE ?= 0
# Every core unless the command line says -jN; sub-makes (the test tiers' sanitized builds, the
# fuzz targets) share this make's job slots through the '+' recipes below.
ifeq ($(MAKELEVEL)$(filter -j%,$(MAKEFLAGS)),0)
MAKEFLAGS += -j$(shell nproc)
endif
CC       ?= gcc
V        ?= 0

CPPFLAGS := -I. -D_GNU_SOURCE
CFLAGS   := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter -pthread -MMD -MP
LDFLAGS  := -pthread
LDLIBS   := -ldw -lelf -lreadline -lz -lm -lcapstone

ifeq ($(SANITIZE),1)
OBJ      := $(BUILD)/obj-san
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
else ifeq ($(SANITIZE),thread)
OBJ      := $(BUILD)/obj-tsan
# The fences in virtio/virtqueue.c order guest-memory accesses against the guest's vCPUs,
# which TSan cannot observe anyway: its warning that it ignores fences is not ours to fix.
CFLAGS   += -fsanitize=thread -fno-omit-frame-pointer -Wno-tsan
LDFLAGS  += -fsanitize=thread
else
OBJ      := $(BUILD)/obj
endif

LIB_SRC  := $(filter-out cli/main.c,$(wildcard emu/*.c virtio/*.c gdbstub/*.c cli/*.c))
# emu/initrd_idle_elf.S carries build/idle (scripts/initramfs/idle.mk) into vmdbg.
LIB_OBJ  := $(LIB_SRC:%.c=$(OBJ)/%.o) $(OBJ)/emu/initrd_idle_elf.o
LIB      := $(OBJ)/libvmdbg.a
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(OBJ)/unit/%)
UNIT_LIB := $(filter-out tests/unit/test_%.c,$(wildcard tests/unit/*.c))

DEPS_STAMP := $(BUILD)/.deps-ok
# Relink build/vmdbg whenever the flavour (plain or sanitized) changes.
FLAVOUR    := $(BUILD)/.flavour-$(SANITIZE)

.PHONY: all run check check-unit check-guest check-linux check-hwkvm bench fuzz fuzz-long fuzz-regress guest deps clean install readme
all: $(BUILD)/vmdbg $(BUILD)/vmdbg.1 $(BUILD)/test-guest.elf

include scripts/initramfs/idle.mk

deps: $(DEPS_STAMP)
$(DEPS_STAMP): scripts/deps.sh
	@mkdir -p $(BUILD)
	scripts/deps.sh build
	@touch $@

$(FLAVOUR): | $(DEPS_STAMP)
	@mkdir -p $(BUILD)
	@rm -f $(BUILD)/.flavour-*
	@touch $@

$(OBJ)/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(OBJ)/emu/initrd_idle_elf.o: emu/initrd_idle_elf.S $(IDLE_BIN) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -DIDLE_BIN='"$(IDLE_BIN)"' -c -o $@ $<

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/vmdbg: $(OBJ)/cli/main.o $(LIB) $(FLAVOUR)
	$(CC) $(LDFLAGS) -o $@ $(OBJ)/cli/main.o $(LIB) $(LDLIBS)

# The man page is printed by vmdbg from its own tables (cli/reference.c): never committed.
$(BUILD)/vmdbg.1: $(BUILD)/vmdbg
	$(BUILD)/vmdbg --reference man >$@.tmp && mv $@.tmp $@

# The README's options table and command reference, from the same tables.
readme: $(BUILD)/vmdbg
	scripts/readme-ref.sh $(BUILD)/vmdbg README.md

$(OBJ)/unit/%: tests/unit/%.c $(UNIT_LIB) $(LIB) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/unit $(CFLAGS) $(LDFLAGS) -o $@ $< $(UNIT_LIB) $(LIB) $(LDLIBS) -lcmocka

include tests/guest/guest.mk

# --- the Linux guests (kernel from Debian's source, Debian's stock kernel, initramfs)
guest: $(DEPS_STAMP) $(IDLE_BIN)
	scripts/mkguest.sh

run: all guest
	$(BUILD)/vmdbg --kernel $(BUILD)/guest/vmlinux --initrd $(BUILD)/guest/initramfs.cpio --cpus 2 --repl $(RUN_ARGS)

# --- tests: unit (cmocka), test guest (prove), Linux (prove), each tier timed
check: all $(UNIT_BIN)
	+@SANITIZE=$(SANITIZE) scripts/run-tests.sh $(OBJ)/unit

check-unit: $(UNIT_BIN)
	+@scripts/run-tests.sh --only unit $(OBJ)/unit

check-guest: all
	+@scripts/run-tests.sh --only guest $(OBJ)/unit

check-linux: all
	+@scripts/run-tests.sh --only linux $(OBJ)/unit

# The guest and Linux tiers again inside a nested hardware-style KVM (scripts/hwkvm.sh).
check-hwkvm: all
	+@scripts/run-tests.sh --only hwkvm $(OBJ)/unit

bench: all
	scripts/bench.sh

# libFuzzer targets (clang): FUZZ_SECONDS per target (default 60), FUZZ_TARGETS to choose.
fuzz:
	@scripts/deps.sh fuzz
	$(MAKE) -f tests/fuzz/fuzz.mk fuzz

fuzz-long:
	@scripts/deps.sh fuzz
	$(MAKE) -f tests/fuzz/fuzz.mk fuzz-long

fuzz-regress:
	@scripts/deps.sh fuzz
	$(MAKE) -f tests/fuzz/fuzz.mk fuzz-regress

install: $(BUILD)/vmdbg $(BUILD)/vmdbg.1
	install -D -m 755 $(BUILD)/vmdbg $(DESTDIR)$(PREFIX)/bin/vmdbg
	install -D -m 644 $(BUILD)/vmdbg.1 $(DESTDIR)$(PREFIX)/share/man/man1/vmdbg.1

PREFIX ?= /usr/local

clean:
	rm -rf $(BUILD)/obj $(BUILD)/obj-san $(BUILD)/obj-tsan $(BUILD)/asan $(BUILD)/thread $(BUILD)/vmdbg $(BUILD)/vmdbg.1 $(BUILD)/test-guest* $(BUILD)/.flavour-* $(BUILD)/tg \
		$(IDLE_BIN)

-include $(shell find $(BUILD)/obj $(BUILD)/obj-san $(BUILD)/obj-tsan $(BUILD)/tg -type f -name '*.d' 2>/dev/null)
