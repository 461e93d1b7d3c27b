/*
 * A kernel's identity for snapshots: SHA-256 against FIPS 180-4's examples
 * (however the input is split), the GNU build-id note of an ELF (found among
 * other notes, through PT_NOTE or only a section), and the SHA-256 of a file
 * without one, the same digest `sha256sum` prints.
 */
#include <elf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "emu/kernel_id.h"
#include "emu/sha256.h"
#include "scratch.h"

static void sha_hex(const void *data, size_t len, size_t split, char out[65])
{
	struct sha256 s;
	uint8_t d[32];

	sha256_init(&s);
	sha256_update(&s, data, split);
	sha256_update(&s, (const uint8_t *)data + split, len - split);
	sha256_final(&s, d);
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static void test_sha256_known_answers(void **state)
{
	static const char two_blocks[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	char *million = malloc(1000000);
	char h[65];

	sha_hex("", 0, 0, h);
	assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	sha_hex("abc", 3, 1, h);
	assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	/* 56 bytes: the length no longer fits the first block's padding. */
	for (size_t split = 0; split <= sizeof(two_blocks) - 1; split += 7) {
		sha_hex(two_blocks, sizeof(two_blocks) - 1, split, h);
		assert_string_equal(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	}
	memset(million, 'a', 1000000);
	sha_hex(million, 1000000, 4095, h);
	assert_string_equal(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(million);
}

static void put_note(uint8_t *p, size_t *off, const char *name, uint32_t type, const void *desc,
		     uint32_t descsz)
{
	uint32_t namesz = (uint32_t)strlen(name) + 1, hdr[3] = { namesz, descsz, type };

	memcpy(p + *off, hdr, sizeof(hdr));
	*off += sizeof(hdr);
	memcpy(p + *off, name, namesz);
	*off += (namesz + 3) & ~3u;
	memcpy(p + *off, desc, descsz);
	*off += (descsz + 3) & ~3u;
}

/*
 * An ELF64 with one block of notes (a Xen note, then a build id of ID_LEN bytes when
 * ID_LEN > 0), reachable through a PT_NOTE (WITH_PHDR) or only through a SHT_NOTE section.
 */
static size_t build_elf(uint8_t *img, const uint8_t *id, uint32_t id_len, int with_phdr)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
	size_t notes = sizeof(*eh) + sizeof(Elf64_Phdr), len = 0, shoff;
	uint64_t entry = 0x1000000;

	memset(img, 0, 4096);
	put_note(img + notes, &len, "Xen", 18, &entry, 8);
	if (id_len)
		put_note(img + notes, &len, "GNU", NT_GNU_BUILD_ID, id, id_len);
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_ehsize = sizeof(*eh);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	if (with_phdr) {
		Elf64_Phdr *ph = (Elf64_Phdr *)(img + sizeof(*eh));

		eh->e_phoff = sizeof(*eh);
		eh->e_phnum = 1;
		*ph = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = notes, .p_filesz = len,
				    .p_memsz = len, .p_align = 4 };
	}
	/* Sections: the null one and the notes. */
	shoff = (notes + len + 7) & ~7ul;
	eh->e_shoff = shoff;
	eh->e_shentsize = sizeof(Elf64_Shdr);
	eh->e_shnum = 2;
	((Elf64_Shdr *)(img + shoff))[1] = (Elf64_Shdr){ .sh_type = SHT_NOTE, .sh_offset = notes,
							 .sh_size = len, .sh_addralign = 4 };
	return shoff + 2 * sizeof(Elf64_Shdr);
}

static void test_elf_build_id_is_read(void **state)
{
	static const uint8_t id[20] = { 0x38, 0x83, 0x1f, 0xbb, 0x0f, 0x8e, 0xf4, 0x0d, 0x5a, 0x5a,
					0xa5, 0x22, 0x65, 0xe3, 0xde, 0x0d, 0x4c, 0x89, 0x16, 0x0e };
	uint8_t img[4096];
	char kid[KERNEL_ID_MAX], err[256];

	for (int with_phdr = 0; with_phdr < 2; with_phdr++) {
		size_t len = build_elf(img, id, sizeof(id), with_phdr);

		assert_int_equal(kernel_id(scratch_file("vmlinux", img, len), kid, sizeof(kid), err,
					   sizeof(err)), 0);
		assert_string_equal(kid, "build-id 38831fbb0f8ef40d5a5aa52265e3de0d4c89160e");
	}
}

static void test_without_build_id_the_file_is_hashed(void **state)
{
	uint8_t img[4096];
	char kid[KERNEL_ID_MAX], err[256], want[72] = "sha256 ";
	size_t len = build_elf(img, NULL, 0, 1);

	/* An ELF linked without --build-id. */
	sha_hex(img, len, 0, want + 7);
	assert_int_equal(kernel_id(scratch_file("nobuildid", img, len), kid, sizeof(kid), err,
				   sizeof(err)), 0);
	assert_string_equal(kid, want);
	/* Not an ELF at all (a bzImage). */
	assert_int_equal(kernel_id(scratch_file("bzImage", "abc", 3), kid, sizeof(kid), err,
				   sizeof(err)), 0);
	assert_string_equal(kid,
			    "sha256 ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_unreadable_kernel_is_named(void **state)
{
	char kid[KERNEL_ID_MAX] = "x", err[256] = "";
	const char *path = scratch_path("nope");
	assert_int_equal(kernel_id(path, kid, sizeof(kid), err, sizeof(err)), -ENOENT);
	assert_string_equal(kid, "");
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "No such file"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_known_answers),
		cmocka_unit_test(test_elf_build_id_is_read),
		cmocka_unit_test(test_without_build_id_the_file_is_hashed),
		cmocka_unit_test(test_unreadable_kernel_is_named),
	};

	return cmocka_run_group_tests(tests, scratch_setup, scratch_teardown);
}
