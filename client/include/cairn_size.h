/*
 * cairn_size.h — byte sizes as people write them ("8G", "64MiB", "4096"),
 * read the same way by cairnd's configuration, cairnctl and the benchmarks.
 */
#ifndef CAIRN_SIZE_H
#define CAIRN_SIZE_H

#include <stdint.h>

/* Parses a whole number of bytes with an optional K/M/G/T/P suffix (powers
 * of 1024; "KiB", "KB" and "K" mean the same, any case) or "B"; no sign,
 * no space. 0 and *OUT set, or -EINVAL (garbage, or more than 64 bits). */
int cairn_parse_size(const char *s, uint64_t *out);

#endif
