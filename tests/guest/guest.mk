# The freestanding test guest: build/test-guest.elf, a PVH-bootable ELF.
# Included by the top Makefile; also usable alone:
#   make -f tests/guest/guest.mk BUILD=build build/test-guest.elf
# It has its own compiler flags: nothing of the host build's CFLAGS applies.

BUILD   ?= build
TG_DIR  := tests/guest
TG_OUT  := $(BUILD)/tg
TG_CC   ?= gcc

TG_CFLAGS := -std=gnu11 -ffreestanding -nostdlib -fno-pic -fno-pie -mcmodel=kernel \
	-mno-red-zone -mno-sse -mno-sse2 -mno-mmx -mno-80387 -mgeneral-regs-only \
	-fno-stack-protector -fno-asynchronous-unwind-tables -fno-unwind-tables \
	-fno-omit-frame-pointer -fno-tree-loop-distribute-patterns -fcf-protection=none \
	-O2 -g -Wall -Wextra -Werror -Wno-unused-parameter -MMD -MP
TG_ASFLAGS := -D__ASSEMBLY__ -g -MMD -MP
TG_LDFLAGS := -nostdlib -static -no-pie -Wl,-T,$(TG_DIR)/linker.ld -Wl,--build-id=sha1 \
	-Wl,-z,max-page-size=0x1000 -Wl,-z,noexecstack

TG_C_SRC := $(wildcard $(TG_DIR)/*.c)
TG_S_SRC := $(wildcard $(TG_DIR)/*.S)
TG_OBJS  := $(TG_S_SRC:$(TG_DIR)/%.S=$(TG_OUT)/%.o) $(TG_C_SRC:$(TG_DIR)/%.c=$(TG_OUT)/%.o)

$(BUILD)/test-guest.elf: $(TG_OBJS) $(TG_DIR)/linker.ld $(TG_DIR)/guest.mk
	$(TG_CC) $(TG_LDFLAGS) -o $@ $(TG_OBJS)

$(TG_OUT)/%.o: $(TG_DIR)/%.c $(TG_DIR)/guest.mk
	@mkdir -p $(dir $@)
	$(TG_CC) $(TG_CFLAGS) -c -o $@ $<

$(TG_OUT)/%.o: $(TG_DIR)/%.S $(TG_DIR)/guest.mk
	@mkdir -p $(dir $@)
	$(TG_CC) $(TG_ASFLAGS) -c -o $@ $<

-include $(TG_OBJS:.o=.d)
