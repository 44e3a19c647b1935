/*
 * volume.c — owns a volume's writer state and its write path (volume.h).
 *
 * Invariants:
 * (1) local seqs are contiguous: a group gets seq+1..seq+n only if all of it
 *     is appended and indexed; on any failure before the index commit the
 *     seq counter (v->vv) and the chunk tail stay where they were;
 * (2) chunk bytes are appended before the index batch that points at them is
 *     committed, so a reader never finds an index entry without its bytes;
 * (3) if the index commit fails after the append, the volume turns read-only
 *     (v->failed): the chunk now holds records the index lacks, and only the
 *     replay at the next start may assign further seqs;
 * (4) a volume fills its chunks in assignment order and never goes back to a
 *     chunk it left (replay order = fill order);
 * (5) a failed flush makes the volume read-only until restart (commit.c 3);
 * (6) an append that would leave less than a reserve (2% of the file
 *     system, 8 MiB to 1 GiB) free fails with ENOSPC before it starts; the
 *     node's volumes spend one budget (room.h): they share the disk;
 * (7) every record of a group carries the same HLC stamp, so reads as of a
 *     time see a group whole or not at all, as live reads do.
 * Threads: see volume.h.
 */
#include "volume.h"

#include "alloc.h"
#include "cairn_err.h"
#include "chunk.h"
#include "engine.h"
#include "format.h"
#include "log.h"
#include "node.h"
#include "room.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define GROUP_MAX 64

static int flush_cb(void *ctx, uint64_t *upto);

struct volume *volume_new(struct engine *e, struct meta *m, struct hlc *h, struct room *room,
                          uint32_t node, const struct volinfo *info)
{
    struct volume *v = xcalloc(1, sizeof *v);
    v->eng = e;
    v->room = room;
    v->meta = m;
    v->hlc = h;
    v->node = node;
    v->no = info->vol_no;
    v->info = *info;
    pthread_mutex_init(&v->wlock, NULL);
    vv_init(&v->vv);
    v->batch = meta_batch_new();
    apply_init(&v->apply, m, v->batch, v->no);
    v->apply.fresh = 1; /* volume_commit gives every record a new dot */
    commit_init(&v->commit, flush_cb, v);
    return v;
}

void volume_free(struct volume *v)
{
    if (!v)
        return;
    commit_fini(&v->commit);
    apply_fini(&v->apply);
    meta_batch_free(v->batch);
    vv_fini(&v->vv);
    free(v->chunks);
    free(v->wbuf);
    pthread_mutex_destroy(&v->wlock);
    free(v);
}

void volume_add_chunk(struct volume *v, struct chunk *c)
{
    if (v->n_chunks == v->cap_chunks) {
        v->cap_chunks = v->cap_chunks ? v->cap_chunks * 2 : 8;
        v->chunks = xrealloc(v->chunks, v->cap_chunks * sizeof *v->chunks);
    }
    v->chunks[v->n_chunks++] = c;
}

struct chunk *volume_chunk(void *ctx, uint32_t no)
{
    struct volume *v = ctx;
    return engine_chunk_by_no(v->eng, no);
}

int volume_alloc_ino(struct volume *v, uint64_t *ino)
{
    if (v->ino_ctr >= INO_COUNTER_MAX)
        return -ENOSPC;
    v->ino_ctr++;
    *ino = ((uint64_t)v->node << INO_NODE_SHIFT) | v->ino_ctr;
    return 0;
}

/* The node's free space (room.h), less TOTAL for an append to C (6). */
static int disk_room(struct volume *v, struct chunk *c, size_t total)
{
    uint64_t avail = 0, reserve = 0;
    int rv = room_take(v->room, c->fd, total, &avail, &reserve);
    if (rv == -ENOSPC) {
        atomic_fetch_add(&v->enospc, 1);
        log_warn("volume",
                 "volume %s: the disk holding chunk %u is full (%llu bytes free, %llu kept"
                 " for the index)",
                 v->info.name, c->no, (unsigned long long)avail, (unsigned long long)reserve);
    }
    return rv;
}

/* The chunk index that can take TOTAL more bytes, or -ENOSPC (4). */
static int pick_chunk(struct volume *v, size_t total, uint32_t *idx)
{
    for (uint32_t i = v->cur; i < v->n_chunks; i++) {
        if (chunk_free(v->chunks[i]) >= total) {
            *idx = i;
            return 0;
        }
    }
    atomic_fetch_add(&v->enospc, 1);
    log_warn("volume", "volume %s is full: no assigned chunk has %zu bytes free (%u chunks)",
             v->info.name, total, v->n_chunks);
    return -ENOSPC;
}

int volume_commit(struct volume *v, struct record *recs, uint32_t n)
{
    if (atomic_load(&v->failed))
        return CAIRN_EFAILED;
    if (n == 0 || n > GROUP_MAX)
        return -EINVAL;
    uint64_t seq0 = vv_get(&v->vv, v->node);
    /* (7); the records of a group touch distinct keys, so a stamp stays
     * unique per key */
    uint64_t hlc = hlc_now(v->hlc);
    size_t lens[GROUP_MAX], total = 0;
    for (uint32_t i = 0; i < n; i++) {
        struct record *r = &recs[i];
        r->kind = REC_KIND_VOLUME;
        r->dot.origin = v->node;
        r->dot.seq = seq0 + 1 + i;
        r->hlc = hlc;
        vv_copy(&r->ctx, &v->vv);
        vv_raise(&r->ctx, v->node, seq0 + i);
        lens[i] = record_encoded_len(r);
        if (lens[i] > REC_MAX_LEN)
            return -EFBIG;
        total += lens[i];
    }
    uint32_t idx;
    int rv;
    if ((rv = pick_chunk(v, total, &idx)) != 0)
        return rv;
    struct chunk *c = v->chunks[idx];
    if ((rv = disk_room(v, c, total)) != 0)
        return rv;
    if (total > v->wcap) {
        free(v->wbuf);
        v->wcap = total;
        v->wbuf = xmalloc(total);
    }
    uint64_t base = c->tail, at = 0;
    meta_batch_clear(v->batch);
    apply_batch_done(&v->apply);
    for (uint32_t i = 0; i < n; i++) {
        record_encode(&recs[i], v->wbuf + at);
        if ((rv = apply_record(&v->apply, &recs[i], c->no, base + at, (uint32_t)lens[i])) != 0)
            goto out; /* (1) */
        at += lens[i];
    }
    uint8_t key[8], val[IV_APPLIED_LEN];
    size_t klen = mk_chunk(key, c->no, 's');
    iv_applied_encode(val, base + total, base + total - lens[n - 1]);
    meta_batch_put(v->meta, v->batch, CF_CHUNKS, key, klen, val, sizeof val);

    uint64_t off;
    if ((rv = chunk_append(c, v->wbuf, total, &off)) != 0) {
        log_err("volume", "volume %s: append to chunk %u failed: %s", v->info.name, c->no,
                cairn_strerror(rv));
        if (rv == CAIRN_EFAILED) /* its bytes stay above the tail (chunk.h) */
            atomic_store(&v->failed, rv);
        goto out; /* (1) */
    }
    if ((rv = meta_batch_commit(v->meta, v->batch, 0)) != 0) {
        atomic_store(&v->failed, rv); /* (3) */
        log_err("volume", "volume %s: index commit failed after append; read-only until restart",
                v->info.name);
        rv = CAIRN_EFAILED;
        goto out;
    }
    v->cur = idx;
    vv_raise(&v->vv, v->node, seq0 + n);
    atomic_fetch_add(&v->bytes_appended, total);
    atomic_fetch_add(&v->gen, 1);
out:
    meta_batch_clear(v->batch);
    apply_batch_done(&v->apply);
    return rv;
}

static int flush_cb(void *ctx, uint64_t *upto)
{
    struct volume *v = ctx;
    pthread_mutex_lock(&v->wlock);
    uint64_t gen = atomic_load(&v->gen);
    uint32_t from = v->sync_from, to = v->cur, nd = v->n_chunks ? to - from + 1 : 0;
    struct chunk **dirty = xmalloc((nd ? nd : 1) * sizeof *dirty);
    for (uint32_t i = 0; i < nd; i++)
        dirty[i] = v->chunks[from + i];
    pthread_mutex_unlock(&v->wlock);

    int rv = 0;
    for (uint32_t i = 0; i < nd && rv == 0; i++)
        rv = chunk_sync(dirty[i]);
    free(dirty);
    if (rv == 0)
        rv = meta_sync(v->meta);
    if (rv != 0) {
        atomic_store(&v->failed, rv); /* (5) */
        log_err("volume", "volume %s: flush failed (%s); read-only until restart", v->info.name,
                cairn_strerror(rv));
        return rv;
    }
    if (to > from) {
        pthread_mutex_lock(&v->wlock);
        v->sync_from = to; /* only the flush leader writes it (commit.c 1) */
        pthread_mutex_unlock(&v->wlock);
    }
    *upto = gen;
    return 0;
}

int volume_flush(struct volume *v)
{
    if (atomic_load(&v->failed))
        return CAIRN_EFAILED;
    uint64_t gen = atomic_load(&v->gen);
    int rv = commit_wait(&v->commit, gen);
    return rv ? CAIRN_EFAILED : 0;
}
