#include "scratch.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

char scratch_dir[64];

int scratch_setup(void **state)
{
	snprintf(scratch_dir, sizeof(scratch_dir), "/tmp/vmdbg-unit-XXXXXX");
	return mkdtemp(scratch_dir) ? 0 : -1;
}

int scratch_teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", scratch_dir);
	return system(cmd) == 0 ? 0 : -1;
}

const char *scratch_path(const char *name)
{
	/* A test holds a few paths at once (a file and its copy): a ring of buffers. */
	static char paths[64][256];
	static unsigned next;
	char *p = paths[next++ % 64];

	snprintf(p, sizeof(paths[0]), "%s/%s", scratch_dir, name);
	return p;
}

const char *scratch_file(const char *name, const void *data, size_t len)
{
	static unsigned seq;
	char numbered[32];
	const char *path;
	FILE *fp;

	if (!name) {
		snprintf(numbered, sizeof(numbered), "f%u", seq++);
		name = numbered;
	}
	path = scratch_path(name);
	fp = fopen(path, "wb");
	assert_non_null(fp);
	if (len)
		assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
	return path;
}
