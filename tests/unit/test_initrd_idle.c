/*
 * vmdbg's /idle and the newc archive that carries it after a user's initrd (emu/cpio.c,
 * emu/initrd_idle.c), read back the way Linux unpacks an initramfs (initramfs_walk.c).
 * How the loader places it after an initrd, and when vmdbg does, is in test_loader.c.
 */
#include <elf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "emu/cpio.h"
#include "emu/initrd_idle.h"
#include "initramfs_walk.h"

static void walk_ok(const uint8_t *buf, size_t len, struct irw_result *r)
{
	char why[160] = "";

	if (irw_walk(buf, len, r, why, sizeof(why)))
		fail_msg("not an initramfs Linux would unpack: %s", why);
}

static void test_archive_holds_idle_and_the_trailer(void **state)
{
	struct irw_result r;
	uint8_t *a;
	size_t len;

	assert_int_equal(initrd_idle_archive(&a, &len), 0);
	assert_int_equal(len % 4, 0);
	walk_ok(a, len, &r);
	assert_int_equal(r.gzip_parts, 0);
	assert_int_equal(r.n, 2);

	assert_string_equal(r.e[0].name, "idle");
	assert_int_equal(r.e[0].offset, 0);
	assert_int_equal(r.e[0].mode, 0100755);
	assert_int_equal(r.e[0].uid, 0);
	assert_int_equal(r.e[0].gid, 0);
	assert_int_equal(r.e[0].nlink, 1);
	assert_int_equal(r.e[0].mtime, 0);
	assert_int_equal(r.e[0].check, 0);
	assert_int_equal(r.e[0].namesize, 5);
	assert_int_equal(r.e[0].filesize, initrd_idle_elf_size());
	assert_memory_equal(r.e[0].data, initrd_idle_elf, initrd_idle_elf_size());

	assert_string_equal(r.e[1].name, "TRAILER!!!");
	assert_int_equal(r.e[1].filesize, 0);
	assert_int_equal(r.e[1].offset + cpio_newc_entry_len("TRAILER!!!", 0), len);
	irw_free(&r);
	free(a);
}

/* What idle.S says it is: a static x86-64 executable whose code never enters the kernel. */
static void test_idle_is_a_pause_loop(void **state)
{
	const uint8_t *elf = initrd_idle_elf;
	size_t size = initrd_idle_elf_size();
	Elf64_Ehdr eh;
	bool entry_found = false;

	assert_true(size >= sizeof(eh) && size < 64 * 1024);
	memcpy(&eh, elf, sizeof(eh));
	assert_memory_equal(eh.e_ident, ELFMAG, SELFMAG);
	assert_int_equal(eh.e_ident[EI_CLASS], ELFCLASS64);
	assert_int_equal(eh.e_type, ET_EXEC);
	assert_int_equal(eh.e_machine, EM_X86_64);
	assert_true(eh.e_phoff + (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) <= size);
	for (int i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		const uint8_t *code;

		memcpy(&ph, elf + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		assert_int_not_equal(ph.p_type, PT_INTERP);
		assert_int_not_equal(ph.p_type, PT_DYNAMIC);
		if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X))
			continue;
		assert_true(ph.p_offset + ph.p_filesz <= size);
		code = elf + ph.p_offset;
		for (uint64_t j = 0; j + 1 < ph.p_filesz; j++)
			if (code[j] == 0x0f && (code[j + 1] == 0x05 || code[j + 1] == 0x34))
				fail_msg("syscall or sysenter bytes at offset %llu of /idle's code",
					 (unsigned long long)j);
		if (eh.e_entry >= ph.p_vaddr && eh.e_entry + 4 <= ph.p_vaddr + ph.p_filesz) {
			const uint8_t *at = code + (eh.e_entry - ph.p_vaddr);

			entry_found = true;
			/* pause; jmp back to it */
			assert_int_equal(at[0], 0xf3);
			assert_int_equal(at[1], 0x90);
			assert_int_equal(at[2], 0xeb);
			assert_int_equal(at[3], 0xfc);
		}
	}
	assert_true(entry_found);
}

/* Every name and data length pads header+name and data to 4 bytes; the reader agrees. */
static void test_entries_are_padded(void **state)
{
	static const char *names[] = { "a", "ab", "abc", "abcd", "dir/abcde", "x/y/zzzzzz" };
	const uint8_t data[7] = { 1, 2, 3, 4, 5, 6, 7 };
	uint8_t buf[2048];
	struct irw_result r;
	size_t pos = 0;

	for (int i = 0; i < 6; i++) {
		size_t before = pos;

		assert_int_equal(cpio_newc_put(buf, sizeof(buf), &pos, names[i], 0100644,
					       (uint32_t)i + 1, data, (size_t)i + 1),
				 0);
		assert_int_equal(pos % 4, 0);
		assert_int_equal(pos - before, cpio_newc_entry_len(names[i], (size_t)i + 1));
	}
	assert_int_equal(cpio_newc_put_trailer(buf, sizeof(buf), &pos), 0);
	walk_ok(buf, pos, &r);
	assert_int_equal(r.n, 7);
	for (int i = 0; i < 6; i++) {
		assert_string_equal(r.e[i].name, names[i]);
		assert_int_equal(r.e[i].ino, i + 1);
		assert_int_equal(r.e[i].mode, 0100644);
		assert_int_equal(r.e[i].filesize, i + 1);
		assert_memory_equal(r.e[i].data, data, (size_t)i + 1);
	}
	assert_string_equal(r.e[6].name, "TRAILER!!!");
	irw_free(&r);
}

static void test_no_room_writes_nothing(void **state)
{
	uint8_t buf[256];
	size_t need = cpio_newc_entry_len("idle", 100), pos = 4;

	assert_true(need + 4 > 200);
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(cpio_newc_put(buf, 200, &pos, "idle", 0100755, 1, buf, 100), -ENOSPC);
	assert_int_equal(pos, 4);
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0xee);
	pos = 300; /* past the buffer */
	assert_int_equal(cpio_newc_put_trailer(buf, 200, &pos), -ENOSPC);
	assert_int_equal(pos, 300);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_archive_holds_idle_and_the_trailer),
		cmocka_unit_test(test_idle_is_a_pause_loop),
		cmocka_unit_test(test_entries_are_padded),
		cmocka_unit_test(test_no_room_writes_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
