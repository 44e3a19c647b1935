/*
 * engine.h — the storage engine of one node: its data directory, chunks,
 * volumes and index, opened and recovered as one unit. The daemon, the tests
 * and the benchmarks all go through this header and fsops.h.
 *
 * Data directory layout:
 *   node.id        node identity (node.c)
 *   LOCK           held (flock) while the engine is open
 *   chunks/<id>    chunk files (chunk.c); chunks/000..0 is the catalog
 *   index/         RocksDB (meta.c), derived from the chunks
 *
 * Threads: every call is thread-safe. Catalog calls (chunks, volumes) are
 * serialised by the engine lock; file operations run concurrently (fsops.h).
 * Blocking: every call may block on disk.
 */
#ifndef CAIRN_ENGINE_H
#define CAIRN_ENGINE_H

#include "hlc.h"

#include <stddef.h>
#include <stdint.h>

struct engine;
struct volume;

enum durability { DURABILITY_LOCAL = 0, DURABILITY_REPLICAS = 1 };

struct engine_opts {
    const char *data_dir;
    hlc_clock_fn clock; /* NULL: real time; tests inject their own */
    void *clock_ctx;
    /* NULL, or asked every STOP_EVERY records while engine_open rebuilds
     * the index: non-zero stops the rebuild, and engine_open returns
     * -ECANCELED (the index stays unfinished, so the next open rebuilds). */
    int (*stop)(void *ctx);
    void *stop_ctx;
};

struct chunk_info {
    uint8_t id[16];
    uint32_t no;
    uint64_t capacity, used; /* bytes, header included */
    char volume[256];        /* "" when not assigned */
};

struct volume_info {
    char name[256];
    uint8_t id[16];
    uint32_t no;
    uint8_t durability, replicas;
    uint32_t chunks;
    uint64_t capacity, used; /* summed over its chunks */
    int failed;              /* read-only after a failed flush */
};

struct engine_stats {
    uint64_t flushes;        /* group-commit flushes done */
    uint64_t fsync_calls;    /* fsync requests served */
    uint64_t bytes_appended; /* record bytes appended to volume chunks */
    uint64_t checksum_errors;
    uint64_t torn_bytes_dropped;
    uint64_t damaged_located; /* damaged records whose data recovery kept indexed */
};

/* Opens DATA_DIR (creating it and a node identity on first use), recovers
 * every chunk (drops torn tails, replays records the index lacks; rebuilds
 * an index that is lost, ahead of the chunks or of another layout) and opens
 * every volume. A data directory locked by another process: -EBUSY. */
int engine_open(struct engine **out, const struct engine_opts *o);
/* Flushes and closes; pending writes that were never fsync'ed are flushed.
 * Everything is released either way; the first error of a flush or of the
 * index sync is returned, CAIRN_EFAILED when a volume or the catalog had
 * failed a flush before (not everything reached the disk; the next open
 * recovers from the chunk logs). */
int engine_close(struct engine *e);

/* Throws the index away and rebuilds it from the chunk files alone;
 * CAIRN_EFAILED, before anything is touched, when a volume or the catalog
 * failed a flush (a rebuild would sync their failed bytes again and take
 * them for durable: a restart recovers them instead). When it
 * fails the index is incomplete: every file operation then fails with
 * CAIRN_EINDEX (engine_enter) until a reindex succeeds or the node restarts
 * (which rebuilds the index, as its marker was not written). */
int engine_reindex(struct engine *e);
/* 1 while a reindex waits for or holds the engine (it blocks every call
 * that enters it, for as long as the rebuild takes). */
int engine_reindexing(struct engine *e);

uint32_t engine_node_id(const struct engine *e);
struct hlc *engine_hlc(struct engine *e);
void engine_stats(struct engine *e, struct engine_stats *out);
/* Approximate bytes used by the index on disk. */
uint64_t engine_index_bytes(struct engine *e);

/* Creates a chunk of CAPACITY bytes (>= ENGINE_MIN_CHUNK) with a new id. */
#define ENGINE_MIN_CHUNK (4u << 20)
#define ENGINE_MAX_CHUNK (1ull << 50) /* 1 PiB */
int engine_chunk_create(struct engine *e, uint64_t capacity, uint8_t id_out[16]);
/* *OUT is malloc'ed (free it), *N its length; ordered by chunk number. */
int engine_chunk_list(struct engine *e, struct chunk_info **out, size_t *n);
/* Gives a free chunk to VOLUME. -ENOENT: no such chunk or volume;
 * -EBUSY: already assigned. Durable on return. */
int engine_chunk_assign(struct engine *e, const uint8_t id[16], const char *volume);

/* Creates a volume (empty, with a root directory once it has a chunk).
 * -EEXIST, -EINVAL for a bad name (1..255 bytes of [A-Za-z0-9._-]).
 * Durable on return. */
int engine_volume_create(struct engine *e, const char *name, enum durability d, uint8_t replicas);
/* *OUT is malloc'ed (free it). */
int engine_volume_list(struct engine *e, struct volume_info **out, size_t *n);
/* The open volume NAME (borrowed: valid until engine_close). -ENOENT. */
int engine_volume(struct engine *e, const char *name, struct volume **out);
int engine_volume_info(struct engine *e, struct volume *v, struct volume_info *out);

/* ---- for modules inside the engine (volume.c, fsops.c) ---- */
struct chunk;
/* The chunk with number NO, or NULL. Lock-free; thread-safe. */
struct chunk *engine_chunk_by_no(struct engine *e, uint32_t no);
/* Shared while a file operation runs; exclusive during reindex (which swaps
 * the index under every volume). engine_enter always takes the gate (every
 * engine_enter is paired with an engine_leave) and returns 0, or
 * CAIRN_EINDEX when a reindex failed and left the index incomplete: the
 * caller must then not read or change the volume. */
__attribute__((warn_unused_result)) int engine_enter(struct engine *e);
void engine_leave(struct engine *e);
/* 1 when a reindex failed (until one succeeds, or the next start). */
int engine_index_lost(struct engine *e);
/* Why engine_open rebuilt the index from the chunks, one of
 * ENGINE_REBUILT_WHY (static strings), or "" when it did not. */
#define ENGINE_REBUILT_WHY "missing", "layout", "inconsistent", "damaged"
const char *engine_index_rebuilt(struct engine *e);

#endif
