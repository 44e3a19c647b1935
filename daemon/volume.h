/*
 * volume.h — one volume on this node: its writer state and write path
 * (module interface for fsops.c, history.c and engine.c).
 *
 * Write path (volume_commit): the caller, holding v->wlock, hands over a
 * group of records with their effects filled in; the volume gives each the
 * next seq, an HLC stamp and its causal context, encodes them into one
 * buffer, indexes them into one batch, appends the buffer to the open chunk
 * and commits the batch. Durability comes later from volume_flush (fs_fsync).
 *
 * Threads: fields marked (w) are guarded by wlock; (i) are immutable after
 * open; gen and failed are atomics.
 */
#ifndef CAIRN_VOLUME_H
#define CAIRN_VOLUME_H

#include "apply.h"
#include "commit.h"
#include "hlc.h"
#include "meta.h"
#include "metakey.h"
#include "record.h"
#include "vclock.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct chunk;
struct engine;
struct room;

struct volume {
    struct engine *eng;  /* (i) */
    struct meta *meta;   /* (i) */
    struct hlc *hlc;     /* (i) node-wide clock */
    struct room *room;   /* (i) the node's free disk space (room.h) */
    uint32_t node;       /* (i) this node's id: origin of local records */
    uint32_t no;         /* (i) */
    struct volinfo info; /* (i) */

    pthread_mutex_t wlock;
    struct vv vv;                  /* (w) records this node holds, per origin */
    uint64_t ino_ctr;              /* (w) last inode counter used by this node */
    struct chunk **chunks;         /* (w) assigned chunks in fill order */
    uint32_t n_chunks, cap_chunks; /* (w) */
    uint32_t cur;                  /* (w) index of the open chunk */
    uint32_t sync_from;            /* (w) oldest chunk index that may hold unsynced bytes */
    struct meta_batch *batch;      /* (w) */
    struct apply_ctx apply;        /* (w) */
    /* during a rebuild (engine.c load): the newest stamp its replay applied
     * to this volume so far, carried from chunk to chunk (apply.c (5)) */
    struct stamp replay_floor;
    int replay_floor_known;
    uint8_t *wbuf; /* (w) encode buffer */
    size_t wcap;   /* (w) */

    _Atomic uint64_t gen; /* mutations committed to the index so far */
    _Atomic int failed;   /* 0, or the error that made the volume read-only */
    _Atomic uint64_t bytes_appended;
    _Atomic uint64_t enospc;
    struct commit commit;
};

struct volume *volume_new(struct engine *e, struct meta *m, struct hlc *h, struct room *room,
                          uint32_t node, const struct volinfo *info);
void volume_free(struct volume *v);
/* Adds a chunk at the end of the fill order (engine lock held). */
void volume_add_chunk(struct volume *v, struct chunk *c);

/* Commits N records (wlock held). Fills dot, hlc and context of each.
 * -ENOSPC when no assigned chunk has room (nothing written), CAIRN_EFAILED
 * when the volume is read-only, or an I/O error (nothing acknowledged). */
int volume_commit(struct volume *v, struct record *recs, uint32_t n);
/* Makes every committed mutation durable (group commit). */
int volume_flush(struct volume *v);
/* A new inode number of this node (wlock held); -ENOSPC when exhausted. */
int volume_alloc_ino(struct volume *v, uint64_t *ino);
/* Chunk lookup for the read path (extent_chunk_fn). */
struct chunk *volume_chunk(void *v, uint32_t no);

#endif
