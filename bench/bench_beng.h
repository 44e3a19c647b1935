/*
 * bench_beng.h — one in-process engine with one volume ("bench") in its own
 * data directory: the in-process side of bench_engine and bench_rpc.
 * Errors: must() (bench_util.h). Threads: one owner; the volume may be used
 * from many threads (fsops.h is thread-safe).
 */
#ifndef CAIRN_BENCH_BENG_H
#define CAIRN_BENCH_BENG_H

#include <stdint.h>

struct beng {
    char *dir;
    struct engine *e;
    struct volume *v;
};

/* Opens a fresh engine in DIR (removed first) with volume "bench" owning
 * NCHUNKS chunks of CAP bytes each. */
void beng_open(struct beng *b, const char *dir, uint32_t nchunks, uint64_t cap);
/* Closes the engine and removes its data directory. */
void beng_close(struct beng *b);
/* Creates NAME (MODE) in directory PARENT; its inode number. */
uint64_t beng_mknod(struct beng *b, uint64_t parent, const char *name, uint32_t mode);
/* Bytes a chunk needs to hold DATA bytes of file data written in big calls,
 * with room for record headers and the index-driven inode effects. */
uint64_t beng_chunk_cap(uint64_t data);

#endif
