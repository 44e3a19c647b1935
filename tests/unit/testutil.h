/*
 * testutil.h — helpers shared by the unit tests: temporary directories under
 * $CAIRN_TEST_TMP (or /tmp), removed after the test, and a seeded PRNG whose
 * seed is printed (CAIRN_SEED=N reruns a failure).
 */
#ifndef CAIRN_TESTUTIL_H
#define CAIRN_TESTUTIL_H

#include <stdint.h>

/* A fresh empty directory; malloc'ed path. */
char *tu_tmpdir(const char *tag);
/* rm -rf PATH. */
void tu_rmrf(const char *path);
/* Seed from CAIRN_SEED or the clock, printed once. */
uint64_t tu_seed(const char *test);
/* xorshift64*: deterministic for a given seed. */
uint64_t tu_rand(uint64_t *state);

#endif
