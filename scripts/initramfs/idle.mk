# /idle, PID 1 on the PVM KVM of PLATFORM.md: scripts/initramfs/idle.S built as a tiny
# static, stripped binary that never makes a system call. The one recipe for it: the top
# Makefile embeds it in vmdbg (emu/initrd_idle_elf.S), tests/fuzz/fuzz.mk does the same,
# and scripts/mkguest.sh puts this file into the project's initramfs.
#   make build/idle

BUILD    ?= build
IDLE_BIN := $(BUILD)/idle
IDLE_CC  ?= gcc

# The objdump check: the point of /idle is that it never enters the kernel on its own.
$(IDLE_BIN): scripts/initramfs/idle.S scripts/initramfs/idle.mk
	@mkdir -p $(dir $@)
	$(IDLE_CC) -nostdlib -static -no-pie -ffreestanding -Wl,--build-id=none \
		-Wl,-z,noexecstack -o $@.tmp $<
	strip $@.tmp
	@if objdump -d $@.tmp | grep -Eqw 'syscall|sysenter|int'; then \
		echo "$@: scripts/initramfs/idle.S contains a system call instruction" >&2; \
		rm -f $@.tmp; exit 1; fi
	mv $@.tmp $@
