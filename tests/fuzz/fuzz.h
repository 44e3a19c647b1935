/*
 * fuzz.h — the one entry point every fuzz target defines (libFuzzer's
 * contract), called by libFuzzer or by fuzz_driver.c's main().
 * A target must not keep state between calls that changes its behaviour,
 * must free what it allocates, and reports a violated property by abort().
 */
#ifndef CAIRN_FUZZ_H
#define CAIRN_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Runs one input; always returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
