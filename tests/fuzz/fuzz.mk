# libFuzzer targets (see tests/fuzz/README.md). Called by the Makefile's `fuzz` goal:
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS="console rsp"]   build, then fuzz each target
#   make -f tests/fuzz/fuzz.mk fuzz-regress                       replay corpus + regress/ only
#   make -f tests/fuzz/fuzz.mk fuzz-build                         build only
#   make fuzz-long [FUZZ_LONG_RUNS=10000000] [FUZZ_LONG_SECONDS=28800] [FUZZ_LONG_JOBS=1]
#       a night's run: each target until FUZZ_LONG_RUNS executions or FUZZ_LONG_SECONDS,
#       FUZZ_LONG_JOBS targets at a time (one per core)
# vmdbg's sources are compiled here with clang into build/fuzz/ (never build/obj).

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FZ           := build/fuzz
ALL_TARGETS  := console virtqueue rsp repl frames loader
FUZZ_TARGETS ?= $(ALL_TARGETS)
# Targets fuzzed side by side (make check: one per core).
FUZZ_JOBS    ?= 1
FUZZ_LONG_RUNS    ?= 10000000
FUZZ_LONG_SECONDS ?= 28800
FUZZ_LONG_JOBS    ?= 1

FZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FZ_CFLAGS := -std=gnu11 -g -O1 -fno-omit-frame-pointer -Wall -Wextra \
	     -Wno-unused-parameter -Wno-gnu-variable-sized-type-not-at-end -D_GNU_SOURCE -I. $(FZ_SAN)
# The harnesses must be warning-free; vmdbg's own sources are held to that by
# the gcc build, and clang's extra GNU-extension warnings are not errors here.
FZ_WERROR := -Werror
# gm_ptr is wrapped so every pointer into guest RAM is checked (fuzz_common.c).
FZ_LDFLAGS := -fsanitize=fuzzer $(FZ_SAN) -Wl,--wrap=gm_ptr
FZ_LIBS   := -ldw -lelf -lreadline -lz -lm -lcapstone -lpthread

LIB_SRCS := $(filter-out cli/main.c,$(wildcard emu/*.c virtio/*.c gdbstub/*.c cli/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(FZ)/obj/%.o) $(FZ)/obj/emu/initrd_idle_elf.o
COMMON   := $(FZ)/obj/tests/fuzz/fuzz_common.o

.PHONY: fuzz fuzz-long fuzz-build fuzz-regress
fuzz: fuzz-build
	printf '%s\n' $(FUZZ_TARGETS) | xargs -P $(FUZZ_JOBS) -I{} scripts/fuzz.sh run $(FUZZ_SECONDS) {}

# One fuzz.sh per target, so FUZZ_LONG_JOBS of them can share the cores; xargs fails if any did.
fuzz-long: fuzz-build
	printf '%s\n' $(FUZZ_TARGETS) | FUZZ_RUNS=$(FUZZ_LONG_RUNS) \
		xargs -P $(FUZZ_LONG_JOBS) -I{} scripts/fuzz.sh run $(FUZZ_LONG_SECONDS) {}

fuzz-regress: fuzz-build
	scripts/fuzz.sh regress 0 $(FUZZ_TARGETS)

fuzz-build: $(FUZZ_TARGETS:%=$(FZ)/fuzz_%)

# build/idle, which vmdbg carries (emu/initrd_idle_elf.S).
include scripts/initramfs/idle.mk

$(FZ)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FZ)/obj/tests/fuzz/%.o: tests/fuzz/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FZ_CFLAGS) $(FZ_WERROR) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FZ)/obj/emu/initrd_idle_elf.o: emu/initrd_idle_elf.S $(IDLE_BIN)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -D_GNU_SOURCE -I. -DIDLE_BIN='"$(IDLE_BIN)"' -c $< -o $@

# An archive, so a target takes only the members it needs: the rsp target
# defines its own fake VM (vm_*, debug_*) and never pulls emu/vm.o.
$(FZ)/libvmdbg.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

# The repl target fences the file system while a command runs (fuzz_repl.c): its copy of
# the archive calls fz_fopen and fz_open for fopen and open. Only vmdbg's calls: libFuzzer
# must still write the crash file of an input that failed inside a command.
$(FZ)/libvmdbg-fenced.a: $(FZ)/libvmdbg.a
	objcopy --redefine-sym fopen=fz_fopen --redefine-sym open=fz_open $< $@

$(FZ)/fuzz_repl: $(FZ)/obj/tests/fuzz/fuzz_repl.o $(COMMON) $(FZ)/libvmdbg-fenced.a
	$(FUZZ_CC) $(FZ_LDFLAGS) $< $(COMMON) $(FZ)/libvmdbg-fenced.a $(FZ_LIBS) -o $@

# The rsp target's gdb talks to the stub over an in-memory wire (fuzz_rsp.c).
$(FZ)/fuzz_rsp: FZ_EXTRA := -Wl,--wrap=read -Wl,--wrap=write

$(FZ)/fuzz_%: $(FZ)/obj/tests/fuzz/fuzz_%.o $(COMMON) $(FZ)/libvmdbg.a
	$(FUZZ_CC) $(FZ_LDFLAGS) $(FZ_EXTRA) $< $(COMMON) $(FZ)/libvmdbg.a $(FZ_LIBS) -o $@

.SECONDARY:
-include $(shell find $(FZ)/obj -name '*.d' 2>/dev/null)
