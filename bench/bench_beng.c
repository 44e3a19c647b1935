/*
 * bench_beng.c — owns the benchmarks' in-process engine (bench_beng.h).
 * Invariant: a beng's data directory exists exactly between beng_open and
 * beng_close.
 */
#include "bench_beng.h"

#include "bench_util.h"
#include "engine.h"
#include "fsops.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define VOLUME "bench"

void beng_open(struct beng *b, const char *dir, uint32_t nchunks, uint64_t cap)
{
    rmrf(dir);
    b->dir = strdup(dir);
    if (!b->dir)
        must(-ENOMEM, "strdup");
    struct engine_opts o = {.data_dir = dir};
    must(engine_open(&b->e, &o), "engine_open %s", dir);
    must(engine_volume_create(b->e, VOLUME, DURABILITY_LOCAL, 1), "engine_volume_create");
    for (uint32_t i = 0; i < nchunks; i++) {
        uint8_t id[16];
        must(engine_chunk_create(b->e, cap, id), "engine_chunk_create %" PRIu64, cap);
        must(engine_chunk_assign(b->e, id, VOLUME), "engine_chunk_assign");
    }
    must(engine_volume(b->e, VOLUME, &b->v), "engine_volume");
}

void beng_close(struct beng *b)
{
    engine_close(b->e);
    rmrf(b->dir);
    free(b->dir);
    memset(b, 0, sizeof *b);
}

uint64_t beng_mknod(struct beng *b, uint64_t parent, const char *name, uint32_t mode)
{
    uint64_t ino;
    must(fs_mknod(b->v, parent, name, mode, 0, 0, 0, NULL, &ino, NULL), "fs_mknod %s", name);
    return ino;
}

uint64_t beng_chunk_cap(uint64_t data)
{
    uint64_t c = data + data / 16 + 64 * MIB;
    return c < ENGINE_MIN_CHUNK ? ENGINE_MIN_CHUNK : c;
}
