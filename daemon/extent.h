/*
 * extent.h — file data layout: (inode, block) -> the pieces of records that
 * hold its bytes, versioned; and the read path that assembles them.
 *
 * A block is BLOCK_SIZE bytes of a file. Each write to a block stores a new
 * version of its composition (struct comp: sorted, non-overlapping pieces),
 * so any past state of a block is one seek. Truncations are versioned
 * entries of their own that clip older block versions.
 * Threads: all functions are read-only on the index and thread-safe.
 */
#ifndef CAIRN_EXTENT_H
#define CAIRN_EXTENT_H

#include "fsops.h"
#include "meta.h"
#include "metakey.h"

#include <stddef.h>
#include <stdint.h>

struct chunk;
/* Finds a chunk by number (NULL when unknown). */
typedef struct chunk *(*extent_chunk_fn)(void *ctx, uint32_t no);

/* The composition of block BLK of INO as of AT, already clipped by every
 * later truncation up to AT. An empty comp when the block was never written. */
int extent_block(struct meta *m, uint32_t vol, uint64_t ino, uint64_t blk, const struct asof *at,
                 struct comp *out);
/* The same, at or before the exact stamp FROM (what a record with stamp
 * FROM overlays when it is applied). */
int extent_block_at(struct meta *m, uint32_t vol, uint64_t ino, uint64_t blk, struct stamp from,
                    struct comp *out);
/* Reads [OFF, OFF+LEN) of INO (the caller clamps to the file size) into BUF;
 * holes read as zeros. Every record touched is read whole and verified. */
int extent_read(struct meta *m, uint32_t vol, extent_chunk_fn chunk, void *cctx, uint64_t ino,
                const struct asof *at, uint64_t off, size_t len, uint8_t *buf);

#endif
