/* A scratch directory for one unit-test binary, and files written into it. */
#ifndef VMDBG_TEST_SCRATCH_H
#define VMDBG_TEST_SCRATCH_H

#include <stddef.h>

extern char scratch_dir[64];

/* cmocka group setup and teardown: a fresh directory under /tmp, removed with its files. */
int scratch_setup(void **state);
int scratch_teardown(void **state);
/* The path of NAME in the directory (not created); valid for the next 64 calls of either. */
const char *scratch_path(const char *name);
/* Write LEN bytes of DATA to NAME (NULL: a fresh numbered name); returns its path. */
const char *scratch_file(const char *name, const void *data, size_t len);

#endif
