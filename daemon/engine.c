/*
 * engine.c — owns one node's storage as a whole: the data directory, the
 * chunk table, the catalog (volumes and chunk assignments), the index
 * handle, start-up recovery and reindex (engine.h).
 *
 * Invariants:
 * (1) the chunk files are the truth; the index is derived from them. At
 *     open, every chunk is scanned from the offset the index says it has
 *     applied, and records past it are applied (the index was behind); an
 *     index that is ahead of a chunk (points past its valid end), or that
 *     has no marker or one of another layout (format.h INDEX_LAYOUT), is
 *     thrown away and rebuilt from the chunks (a damaged last record it
 *     names is kept: reads of it report the damage); so is one that
 *     RocksDB cannot open for damage, after it is moved aside;
 *     a write group is applied whole or not at all: its records before the
 *     last hold data only (fsops.c (4)), and replay holds them back until a
 *     record of another kind follows; a run of them that ends the chunk is
 *     a group a crash cut short, never acknowledged: it is cut, not applied
 *     (else its blocks would sit past the file's size, to show through a
 *     later extension, and half of an overwrite would stand); a damaged
 *     record skipped by its verified length keeps its location and the file
 *     data it still locates indexed, so reads of it report the damage
 *     (replay_damaged);
 * (2) catalog records are fsync'ed before the call that wrote them returns,
 *     and before any record is written to a chunk they assign;
 * (3) chunk numbers are dense and never reused; the chunk table only grows
 *     and its slots are published with release stores (lock-free reads);
 * (4) the gate is held shared by every file operation and exclusively by
 *     reindex, which swaps the index under every volume.
 * Threads: catalog state under e->lock; volumes under their own locks.
 */
#include "engine.h"

#include "alloc.h"
#include "apply.h"
#include "bytes.h"
#include "cairn_err.h"
#include "chunk.h"
#include "format.h"
#include "log.h"
#include "meta.h"
#include "metakey.h"
#include "node.h"
#include "record.h"
#include "room.h"
#include "volume.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ENGINE_MAX_CHUNKS 65536u
#define REPLAY_BATCH 256
#define STOP_EVERY 1024 /* records between two questions to opts.stop */

struct engine {
    struct node node;
    char *chunk_dir, *index_dir;
    struct meta *meta;
    struct hlc hlc;
    struct room room; /* the data directory's free space, for every volume */
    pthread_mutex_t lock;
    pthread_rwlock_t gate;
    struct chunk *_Atomic *chunks; /* [ENGINE_MAX_CHUNKS], (3) */
    uint32_t *chunk_vol;           /* [ENGINE_MAX_CHUNKS] volume number, 0 = free */
    uint32_t max_no;
    uint64_t catalog_seq;
    int catalog_failed;
    int (*stop)(void *ctx); /* engine_opts.stop, while engine_open runs */
    void *stop_ctx;
    uint64_t stop_tick;
    struct volume **vols;
    uint32_t n_vols;
    _Atomic uint64_t torn_dropped;
    _Atomic uint64_t salvaged; /* damaged records whose data stays indexed */
    /* the highest seq of this node's volume records in chunks no volume
     * holds (a damaged assignment), found by load: every volume's next seq
     * starts above it, so assigning such a chunk later cannot give one
     * dot to two records (load_volume_state) */
    uint64_t unassigned_seq;
    uint64_t unassigned_ino;           /* the same for inode numbers (their counter) */
    uint64_t replayed, replayed_bytes; /* by the last load, for its log line */
    int rebuilding;                    /* the index was thrown away: scans must not cut bytes */
    _Atomic int reindexing;            /* engine_reindex waits for or holds the gate */
    _Atomic int index_lost;            /* the last reindex failed: calls are refused */
    const char *rebuilt;               /* why engine_open rebuilt the index, or "" */
    int new_node;                      /* engine_open made the catalog chunk: nothing to rebuild */
};

struct chunk *engine_chunk_by_no(struct engine *e, uint32_t no)
{
    return no < ENGINE_MAX_CHUNKS ? atomic_load_explicit(&e->chunks[no], memory_order_acquire)
                                  : NULL;
}

int engine_enter(struct engine *e)
{
    pthread_rwlock_rdlock(&e->gate);
    return atomic_load(&e->index_lost) ? CAIRN_EINDEX : 0;
}

const char *engine_index_rebuilt(struct engine *e)
{
    return e->rebuilt;
}

int engine_index_lost(struct engine *e)
{
    return atomic_load(&e->index_lost);
}

void engine_leave(struct engine *e)
{
    pthread_rwlock_unlock(&e->gate);
}

uint32_t engine_node_id(const struct engine *e)
{
    return e->node.id;
}

struct hlc *engine_hlc(struct engine *e)
{
    return &e->hlc;
}

static struct chunk *catalog(struct engine *e)
{
    return engine_chunk_by_no(e, CHUNK_CATALOG_NO);
}

static struct chunk *chunk_by_id(struct engine *e, const uint8_t id[16])
{
    for (uint32_t no = 1; no <= e->max_no; no++) {
        struct chunk *c = engine_chunk_by_no(e, no);
        if (c && memcmp(c->id, id, 16) == 0)
            return c;
    }
    return NULL;
}

static struct volume *volume_by_no(struct engine *e, uint32_t no)
{
    for (uint32_t i = 0; i < e->n_vols; i++)
        if (e->vols[i]->no == no)
            return e->vols[i];
    return NULL;
}

static struct volume *volume_by_name(struct engine *e, const char *name)
{
    for (uint32_t i = 0; i < e->n_vols; i++)
        if (strcmp(e->vols[i]->info.name, name) == 0)
            return e->vols[i];
    return NULL;
}

/* ---- catalog records -> index ---- */

static int apply_catalog(struct engine *e, struct meta_batch *b, const struct record *r,
                         uint64_t off, uint32_t len)
{
    if (r->kind != REC_KIND_CATALOG)
        return CAIRN_EFORMAT;
    uint8_t key[KEY_MAX], val[512];
    size_t klen = mk_record(key, 0, r->dot.origin, r->dot.seq);
    struct recloc l = {CHUNK_CATALOG_NO, off, len, r->hlc};
    iv_recloc_encode(val, &l);
    meta_batch_put(e->meta, b, CF_RECORDS, key, klen, val, IV_RECLOC_LEN);
    for (uint32_t i = 0; i < r->n_eff; i++) {
        const struct effect *ef = &r->eff[i];
        if (ef->type == EFF_VOLUME) {
            struct volinfo vi;
            memset(&vi, 0, sizeof vi);
            vi.vol_no = ef->vol_no;
            memcpy(vi.id, ef->id, 16);
            vi.durability = ef->durability;
            vi.replicas = ef->replicas;
            memcpy(vi.name, ef->str, ef->str_len);
            klen = mk_volume(key, vi.vol_no);
            iv_volume_encode(val, &vi);
            meta_batch_put(e->meta, b, CF_VOLUMES, key, klen, val, iv_volume_len(&vi));
            klen = mk_volume_name(key, vi.name, ef->str_len);
            val[0] = INDEX_VERSION;
            put_le32(val + 1, vi.vol_no);
            meta_batch_put(e->meta, b, CF_VOLUMES, key, klen, val, 5);
        } else if (ef->type == EFF_ASSIGN) {
            struct chunk *c = chunk_by_id(e, ef->id);
            if (!c) {
                char hex[33];
                chunk_id_hex(ef->id, hex);
                log_err("engine", "catalog assigns chunk %s, which is not in %s", hex,
                        e->chunk_dir);
                continue;
            }
            struct assigninfo a;
            memcpy(a.id, ef->id, 16);
            a.vol_no = ef->vol_no;
            a.ord = r->dot.seq;
            klen = mk_chunk(key, c->no, 'a');
            iv_assign_encode(val, &a);
            meta_batch_put(e->meta, b, CF_CHUNKS, key, klen, val, IV_ASSIGN_LEN);
        } else {
            return CAIRN_EFORMAT;
        }
    }
    return 0;
}

/* Appends one catalog record and makes it durable (2). e->lock held. */
static int catalog_append(struct engine *e, struct record *r)
{
    if (engine_index_lost(e))
        return CAIRN_EINDEX; /* nowhere to apply it */
    if (e->catalog_failed)
        return CAIRN_EFAILED;
    struct chunk *c = catalog(e);
    r->kind = REC_KIND_CATALOG;
    r->dot.origin = e->node.id;
    r->dot.seq = e->catalog_seq + 1;
    r->hlc = hlc_now(&e->hlc);
    size_t len = record_encoded_len(r);
    uint8_t *buf = xmalloc(len);
    record_encode(r, buf);
    uint64_t off;
    int rv = chunk_append(c, buf, len, &off);
    free(buf);
    if (rv == CAIRN_EFAILED)
        e->catalog_failed = 1; /* its bytes stay above the tail: no more appends */
    if (rv != 0)
        return rv;
    struct meta_batch *b = meta_batch_new();
    if ((rv = chunk_sync(c)) == 0 && (rv = apply_catalog(e, b, r, off, (uint32_t)len)) == 0) {
        uint8_t key[8], val[IV_APPLIED_LEN];
        size_t klen = mk_chunk(key, CHUNK_CATALOG_NO, 's');
        iv_applied_encode(val, off + len, off);
        meta_batch_put(e->meta, b, CF_CHUNKS, key, klen, val, sizeof val);
        rv = meta_batch_commit(e->meta, b, 1);
    }
    meta_batch_free(b);
    if (rv != 0) {
        e->catalog_failed = 1;
        log_err("engine", "catalog write failed (%s); catalog read-only until restart",
                cairn_strerror(rv));
        return CAIRN_EFAILED;
    }
    e->catalog_seq++;
    return 0;
}

/* ---- recovery ---- */

/* Records of a write group held back by replay (1), copied: always back to
 * back in the chunk. A group has at most WRITE_GROUP_RECS records (fsops.c),
 * so a run of HELD_MAX is no group of this format: applied. */
#define HELD_MAX 64

struct held {
    uint8_t *bytes; /* the records back to back */
    size_t len, cap;
    uint32_t n;
    uint64_t off[HELD_MAX]; /* chunk offset of each */
    uint32_t rlen[HELD_MAX];
};

struct replay {
    struct engine *e;
    struct volume *v; /* NULL: catalog or unassigned chunk */
    struct meta_batch *b;
    struct apply_ctx apply;
    int n;
    uint64_t applied, last;
    uint64_t ignored; /* records of an unassigned chunk */
    struct held h;
};

static int replay_commit(struct replay *rp, struct chunk *c)
{
    if (rp->n == 0)
        return 0;
    uint8_t key[8], val[IV_APPLIED_LEN];
    size_t klen = mk_chunk(key, c->no, 's');
    iv_applied_encode(val, rp->applied, rp->last);
    meta_batch_put(rp->e->meta, rp->b, CF_CHUNKS, key, klen, val, sizeof val);
    int rv = meta_batch_commit(rp->e->meta, rp->b, 0);
    meta_batch_clear(rp->b);
    apply_batch_done(&rp->apply);
    rp->n = 0;
    return rv;
}

/* Applies record R (LEN bytes at OFF of C) to the index batch. */
static int replay_apply(struct replay *rp, struct chunk *c, uint64_t off, uint32_t len,
                        const struct record *r)
{
    int rv;
    if (c->no == CHUNK_CATALOG_NO) {
        rv = apply_catalog(rp->e, rp->b, r, off, len);
        if (r->dot.seq > rp->e->catalog_seq)
            rp->e->catalog_seq = r->dot.seq;
    } else {
        if (apply_conflicts(&rp->apply, r) && (rv = replay_commit(rp, c)) != 0)
            return rv;
        rv = apply_record(&rp->apply, r, c->no, off, len);
    }
    if (rv == CAIRN_EFORMAT) {
        log_err("engine", "chunk %u: record %u:%llu at %llu does not apply; skipped", c->no,
                r->dot.origin, (unsigned long long)r->dot.seq, (unsigned long long)off);
        rv = 0;
    }
    if (rv != 0)
        return rv;
    rp->applied = off + len;
    rp->last = off;
    rp->e->replayed++;
    rp->e->replayed_bytes += len;
    if (++rp->n >= REPLAY_BATCH)
        rv = replay_commit(rp, c);
    return rv;
}

/* Applies the held records, in order (1). */
static int release_held(struct replay *rp, struct chunk *c)
{
    struct held *h = &rp->h;
    struct record r;
    record_init(&r);
    int rv = 0;
    size_t at = 0;
    for (uint32_t i = 0; i < h->n && rv == 0; i++) {
        if ((rv = record_decode(&r, h->bytes + at, h->rlen[i])) == 0)
            rv = replay_apply(rp, c, h->off[i], h->rlen[i], &r);
        at += h->rlen[i];
    }
    record_fini(&r);
    h->n = 0;
    h->len = 0;
    return rv;
}

/* A record that holds data only: a write group's record before its last. */
static int data_only(const struct record *r)
{
    for (uint32_t i = 0; i < r->n_eff; i++)
        if (r->eff[i].type != EFF_DATA)
            return 0;
    return r->n_eff > 0;
}

/* A damaged record (R NULL in replay_one) of volume chunk C whose header
 * verified (so its dot, stamp and extent are the writer's): its location and
 * its file data, if its structure still locates it, are indexed so that
 * reads of that data report the damage (1), and the replay moves past it
 * like past any applied record (else the next open, starting before it,
 * could take it for a torn tail and cut what the index points at). */
static int replay_damaged(struct replay *rp, struct chunk *c, uint64_t off, const uint8_t *buf,
                          uint32_t len)
{
    struct record r;
    record_init(&r);
    int rv = 0;
    if (c->no == CHUNK_CATALOG_NO || !rp->v || record_salvage_data(&r, buf, len) != 0)
        goto out; /* nothing to locate: the chunk scan reports the bytes */
    /* held records before it are applied first (their group's last record
     * may be this one), as for any gap */
    if ((rv = release_held(rp, c)) != 0)
        goto out;
    hlc_observe(&rp->e->hlc, r.hlc);
    uint32_t n = 0;
    if ((rv = replay_commit(rp, c)) != 0) /* the inodes it names may be in the batch */
        goto out;
    if ((rv = apply_damaged(&rp->apply, &r, c->no, off, len, &n)) != 0) {
        /* the batch holds this record's entries only: every put of the
         * replay counts in rp->n, and replay_commit just emptied it */
        meta_batch_clear(rp->b);
        apply_batch_done(&rp->apply);
        goto out;
    }
    if (n > 0) {
        log_err("engine",
                "chunk %u: record %u:%llu at %llu is damaged: its file data (%u pieces) stays"
                " indexed, so reads of it fail with a checksum error instead of reading as a"
                " hole",
                c->no, r.dot.origin, (unsigned long long)r.dot.seq, (unsigned long long)off, n);
        rp->e->salvaged++;
    }
    rp->applied = off + len;
    rp->last = off;
    if (++rp->n >= REPLAY_BATCH)
        rv = replay_commit(rp, c);
out:
    record_fini(&r);
    return rv == CAIRN_EFORMAT ? 0 : rv;
}

static int replay_one(void *ctx, struct chunk *c, uint64_t off, const uint8_t *buf, uint32_t len,
                      const struct record *r)
{
    struct replay *rp = ctx;
    int rv;
    if (!r)
        return replay_damaged(rp, c, off, buf, len);
    if (rp->e->rebuilding && rp->e->stop && ++rp->e->stop_tick % STOP_EVERY == 0 &&
        rp->e->stop(rp->e->stop_ctx))
        return -ECANCELED; /* the marker is not written: the next open rebuilds */
    hlc_observe(&rp->e->hlc, r->hlc);
    if (c->no != CHUNK_CATALOG_NO && !rp->v) { /* reported by recover_chunk */
        struct engine *e = rp->e;
        if (r->kind == REC_KIND_VOLUME && r->dot.origin == e->node.id) {
            if (r->dot.seq > e->unassigned_seq)
                e->unassigned_seq = r->dot.seq;
            for (uint32_t i = 0; i < r->n_eff; i++)
                if (r->eff[i].type == EFF_INODE && r->eff[i].ino >> INO_NODE_SHIFT == e->node.id &&
                    (r->eff[i].ino & INO_COUNTER_MAX) > e->unassigned_ino)
                    e->unassigned_ino = r->eff[i].ino & INO_COUNTER_MAX;
        }
        rp->ignored++;
        return 0;
    }
    struct held *h = &rp->h;
    if (c->no != CHUNK_CATALOG_NO && data_only(r)) { /* (1) held back */
        /* a group is appended in one piece: held records that this one
         * does not follow directly (the scan skipped damage between, which
         * may be their group's last record) are another group's: applied */
        int gap = h->n > 0 && h->off[h->n - 1] + h->rlen[h->n - 1] != off;
        if ((gap || h->n == HELD_MAX) && (rv = release_held(rp, c)) != 0)
            return rv;
        if (h->len + len > h->cap) {
            h->cap = (h->len + len) * 2;
            h->bytes = xrealloc(h->bytes, h->cap);
        }
        memcpy(h->bytes + h->len, buf, len);
        h->len += len;
        h->off[h->n] = off;
        h->rlen[h->n++] = len;
        return 0;
    }
    if ((rv = release_held(rp, c)) != 0)
        return rv;
    return replay_apply(rp, c, off, len, r);
}

/* After a scan of C: held records that end the chunk are a write group a
 * crash cut short (1): cut. Held records followed by bytes the scan kept
 * (damage that may be their group's last record) are applied. */
static int settle_held(struct replay *rp, struct chunk *c)
{
    struct held *h = &rp->h;
    if (h->n == 0)
        return 0;
    uint64_t start = h->off[0], end = h->off[h->n - 1] + h->rlen[h->n - 1];
    if (end != c->tail)
        return release_held(rp, c);
    log_warn("engine",
             "chunk %u: dropping %llu bytes at offset %llu: %u records of a write whose last"
             " record never reached the disk (it was never acknowledged)",
             c->no, (unsigned long long)(end - start), (unsigned long long)start, h->n);
    h->n = 0;
    h->len = 0;
    rp->e->torn_dropped += end - start;
    return chunk_cut(c, start);
}

/* Brings the index up to date with chunk C (1). */
static int recover_chunk(struct engine *e, struct chunk *c, struct volume *v)
{
    uint64_t applied = CHUNK_HDR_LEN, last = 0;
    uint8_t key[8];
    size_t klen = mk_chunk(key, c->no, 's');
    char *val;
    size_t vlen;
    int rv = meta_get(e->meta, CF_CHUNKS, key, klen, &val, &vlen);
    if (rv == 0) {
        rv = iv_applied_decode((const uint8_t *)val, vlen, &applied, &last);
        free(val);
        if (rv != 0 || applied < CHUNK_HDR_LEN)
            return CAIRN_EINDEX;
    } else if (rv != -ENOENT) {
        return rv;
    }
    if (applied > c->tail) {
        log_warn("engine", "chunk %u: index is ahead of the chunk (%llu > %llu bytes)", c->no,
                 (unsigned long long)applied, (unsigned long long)c->tail);
        return CAIRN_EINDEX;
    }
    if (last && (last >= applied || applied - last > REC_MAX_LEN))
        return CAIRN_EINDEX;
    /* A last indexed record that does not verify is damage (reads of it
     * report it), not a reason to drop it: the index knew it. */
    struct replay rp = {.e = e, .v = v, .applied = applied, .last = last};
    rp.b = meta_batch_new();
    apply_init(&rp.apply, e->meta, rp.b, v ? v->no : 0);
    if (v) {
        rp.apply.floor_known = v->replay_floor_known;
        rp.apply.floor = v->replay_floor;
    }
    uint64_t dropped = 0;
    rv = chunk_scan(c, applied, replay_one, &rp, !e->rebuilding, &dropped);
    e->torn_dropped += dropped;
    if (rp.ignored)
        log_warn("engine",
                 "chunk %u is not assigned to a volume but holds %llu records: ignored until"
                 " `chunk assign` gives it back to its volume (and a restart applies them)",
                 c->no, (unsigned long long)rp.ignored);
    if (rv == 0)
        rv = settle_held(&rp, c);
    if (rv == 0 && e->rebuilding && (v || c->no == CHUNK_CATALOG_NO) && rp.applied < c->tail) {
        /* damaged bytes the scan kept at the end (it cannot tell them from
         * a write that never finished, chunk.c): taken as applied, so that
         * a later start, which cuts an unapplied torn tail, keeps them too.
         * Not for an unassigned chunk: its records wait for an assignment */
        rp.applied = c->tail;
        rp.last = 0; /* no verified record ends there */
        rp.n++;      /* the applied offset goes out with the batch */
    }
    if (rv == 0)
        rv = replay_commit(&rp, c);
    if (v)
        v->replay_floor = rp.apply.floor;
    free(rp.h.bytes);
    apply_fini(&rp.apply);
    meta_batch_free(rp.b);
    return rv;
}

struct assignment {
    uint64_t ord;
    uint32_t no, vol;
};

static int cmp_assignment(const void *a, const void *b)
{
    const struct assignment *x = a, *y = b;
    return x->ord < y->ord ? -1 : x->ord > y->ord;
}

/* Volumes, in-memory, from the index: creates missing struct volumes and
 * resets the state of existing ones. */
static int load_volumes(struct engine *e)
{
    uint8_t prefix[1] = {'v'}, upper[1] = {'w'};
    struct meta_iter *it = meta_iter_new(e->meta, CF_VOLUMES, upper, 1);
    int rv = 0;
    for (meta_iter_seek(it, prefix, 1); meta_iter_valid(it); meta_iter_next(it)) {
        size_t klen, vlen;
        const uint8_t *k = meta_iter_key(it, &klen);
        const uint8_t *val = meta_iter_value(it, &vlen);
        struct volinfo vi;
        if (klen != 5 || (rv = iv_volume_decode(&vi, val, vlen)) != 0) {
            rv = CAIRN_EINDEX;
            break;
        }
        vi.vol_no = get_be32(k + 1);
        struct volume *v = volume_by_no(e, vi.vol_no);
        if (!v) {
            v = volume_new(e, e->meta, &e->hlc, &e->room, e->node.id, &vi);
            e->vols = xrealloc(e->vols, (e->n_vols + 1) * sizeof *e->vols);
            e->vols[e->n_vols++] = v;
        }
        v->meta = e->meta;
        v->apply.m = e->meta;
        v->n_chunks = v->cur = v->sync_from = 0;
        v->ino_ctr = 0;
        vv_clear(&v->vv);
        v->replay_floor = (struct stamp){0, 0};
        v->replay_floor_known = e->rebuilding; /* the index started empty */
    }
    if (rv == 0)
        rv = meta_iter_status(it);
    meta_iter_free(it);
    return rv;
}

static int load_assignments(struct engine *e)
{
    struct meta_iter *it = meta_iter_new(e->meta, CF_CHUNKS, NULL, 0);
    struct assignment *as = NULL;
    size_t n = 0;
    int rv = 0;
    memset(e->chunk_vol, 0, ENGINE_MAX_CHUNKS * sizeof *e->chunk_vol);
    for (meta_iter_seek_first(it); meta_iter_valid(it); meta_iter_next(it)) {
        size_t klen, vlen;
        const uint8_t *k = meta_iter_key(it, &klen);
        if (klen != 5 || k[4] != 'a')
            continue;
        struct assigninfo ai;
        const uint8_t *val = meta_iter_value(it, &vlen);
        if ((rv = iv_assign_decode(&ai, val, vlen)) != 0)
            break;
        as = xrealloc(as, (n + 1) * sizeof *as);
        as[n++] = (struct assignment){ai.ord, get_be32(k), ai.vol_no};
    }
    if (rv == 0)
        rv = meta_iter_status(it);
    meta_iter_free(it);
    if (n)
        qsort(as, n, sizeof *as, cmp_assignment);
    for (size_t i = 0; rv == 0 && i < n; i++) {
        struct chunk *c = engine_chunk_by_no(e, as[i].no);
        struct volume *v = volume_by_no(e, as[i].vol);
        if (!c || !v) {
            log_err("engine", "assignment of chunk %u to volume %u names a missing %s", as[i].no,
                    as[i].vol, c ? "volume" : "chunk");
            continue;
        }
        e->chunk_vol[as[i].no] = as[i].vol;
        volume_add_chunk(v, c);
    }
    free(as);
    return rv;
}

/* Derives a volume's vector, inode counter and open chunk from the index,
 * and moves the clock past every stamp it holds. */
static int load_volume_state(struct engine *e, struct volume *v)
{
    uint8_t prefix[4], upper[4], key[KEY_MAX];
    put_be32(prefix, v->no);
    size_t ulen = mk_prefix_end(upper, prefix, 4);
    struct meta_iter *it = meta_iter_new(e->meta, CF_RECORDS, upper, ulen);
    int rv = 0;
    /* one seek per origin: the last record of each */
    uint32_t origin = 0;
    for (;;) {
        size_t klen = mk_record(key, v->no, origin, UINT64_MAX);
        meta_iter_seek_for_prev(it, key, klen);
        if (!meta_iter_valid(it))
            goto next_origin;
        size_t kl, vlen;
        const uint8_t *k = meta_iter_key(it, &kl);
        if (kl != 16 || memcmp(k, prefix, 4) != 0 || get_be32(k + 4) != origin)
            goto next_origin;
        struct recloc l;
        const uint8_t *val = meta_iter_value(it, &vlen);
        if ((rv = iv_recloc_decode(&l, val, vlen)) != 0)
            break;
        vv_raise(&v->vv, origin, get_be64(k + 8));
        hlc_observe(&e->hlc, l.hlc);
    next_origin:
        if (origin == UINT32_MAX)
            break;
        /* jump to the next origin present */
        klen = mk_record(key, v->no, origin + 1, 0);
        meta_iter_seek(it, key, klen);
        if (!meta_iter_valid(it))
            break;
        k = meta_iter_key(it, &kl);
        if (kl != 16 || memcmp(k, prefix, 4) != 0)
            break;
        origin = get_be32(k + 4);
    }
    if (rv == 0)
        rv = meta_iter_status(it);
    meta_iter_free(it);
    if (rv != 0)
        return rv;

    it = meta_iter_new(e->meta, CF_INODES, NULL, 0);
    uint64_t maxino = ((uint64_t)v->node << INO_NODE_SHIFT) | INO_COUNTER_MAX;
    size_t klen = mk_inode(key, v->no, maxino, (struct stamp){0, 0});
    meta_iter_seek_for_prev(it, key, klen);
    if (meta_iter_valid(it)) {
        size_t kl;
        const uint8_t *k = meta_iter_key(it, &kl);
        uint64_t ino = kl == 12 + STAMP_LEN ? get_be64(k + 4) : 0;
        if (memcmp(k, prefix, 4) == 0 && ino >> INO_NODE_SHIFT == v->node)
            v->ino_ctr = ino & INO_COUNTER_MAX;
    }
    rv = meta_iter_status(it);
    meta_iter_free(it);
    /* engine.unassigned_seq: past what a chunk no volume holds used */
    if (e->unassigned_seq > vv_get(&v->vv, e->node.id))
        vv_raise(&v->vv, e->node.id, e->unassigned_seq);
    if (e->unassigned_ino > v->ino_ctr)
        v->ino_ctr = e->unassigned_ino;
    for (uint32_t i = 0; i < v->n_chunks; i++)
        if (v->chunks[i]->tail > CHUNK_HDR_LEN)
            v->cur = i;
    v->sync_from = v->cur;
    return rv;
}

/* Recovers everything (1). CAIRN_EINDEX: the index must be rebuilt. */
static int load(struct engine *e)
{
    int rv;
    e->replayed = e->replayed_bytes = 0;
    e->unassigned_seq = e->unassigned_ino = 0;
    if ((rv = recover_chunk(e, catalog(e), NULL)) != 0)
        return rv;
    if ((rv = load_volumes(e)) != 0 || (rv = load_assignments(e)) != 0)
        return rv;
    for (uint32_t i = 0; i < e->n_vols; i++) {
        struct volume *v = e->vols[i];
        for (uint32_t j = 0; j < v->n_chunks; j++)
            if ((rv = recover_chunk(e, v->chunks[j], v)) != 0)
                return rv;
    }
    for (uint32_t no = 1; no <= e->max_no; no++) {
        struct chunk *c = engine_chunk_by_no(e, no);
        if (c && !e->chunk_vol[no] && (rv = recover_chunk(e, c, NULL)) != 0)
            return rv;
    }
    for (uint32_t i = 0; i < e->n_vols; i++)
        if ((rv = load_volume_state(e, e->vols[i])) != 0)
            return rv;
    /* catalog seq: the last catalog record in the index */
    uint8_t key[16];
    size_t klen = mk_record(key, 0, e->node.id, UINT64_MAX);
    struct meta_iter *it = meta_iter_new(e->meta, CF_RECORDS, NULL, 0);
    meta_iter_seek_for_prev(it, key, klen);
    if (meta_iter_valid(it)) {
        size_t kl;
        const uint8_t *k = meta_iter_key(it, &kl);
        if (kl == 16 && get_be32(k) == 0 && get_be32(k + 4) == e->node.id &&
            get_be64(k + 8) > e->catalog_seq)
            e->catalog_seq = get_be64(k + 8);
    }
    rv = meta_iter_status(it); /* a read error must not pass for "no record" */
    meta_iter_free(it);
    if (rv != 0)
        return rv;
    if (e->replayed)
        log_info("engine", "recovery: applied %llu records (%llu bytes) the index lacked",
                 (unsigned long long)e->replayed, (unsigned long long)e->replayed_bytes);
    /* The chunks' bytes before the index that now points at them: after a
     * crash some may still be only in the page cache, and later syncs of a
     * volume start at its current chunk (sync_from). */
    for (uint32_t no = 0; no <= e->max_no; no++) {
        struct chunk *c = engine_chunk_by_no(e, no);
        if (c && (rv = chunk_sync(c)) != 0)
            return rv;
    }
    return meta_sync(e->meta);
}

static int put_marker(struct engine *e)
{
    uint8_t val[INDEX_MARKER_LEN];
    val[0] = INDEX_LAYOUT;
    put_le32(val + 1, e->node.id);
    struct meta_batch *b = meta_batch_new();
    meta_batch_put(e->meta, b, CF_DEFAULT, INDEX_MARKER_KEY, sizeof INDEX_MARKER_KEY - 1, val,
                   sizeof val);
    int rv = meta_batch_commit(e->meta, b, 1);
    meta_batch_free(b);
    return rv;
}

/* Opens the index; one that RocksDB finds damaged is moved aside, to
 * INDEX.damaged-SECONDS (the time; kept for whoever wants to look, never
 * deleted here), and a new one opened, which the caller then rebuilds from
 * the chunks (1). */
static int open_index(struct engine *e)
{
    int rv = meta_open(&e->meta, e->index_dir);
    if (rv != -EUCLEAN)
        return rv;
    long long now = (long long)time(NULL);
    for (int i = 0; i < 100; i++) {
        char *aside = i ? xasprintf("%s.damaged-%lld-%d", e->index_dir, now, i)
                        : xasprintf("%s.damaged-%lld", e->index_dir, now);
        rv = rename(e->index_dir, aside) == 0 ? 0 : -errno;
        if (rv == 0) {
            e->rebuilt = "damaged";
            log_warn("engine",
                     "the index in %s is damaged: moved it to %s; rebuilding it from"
                     " the chunks",
                     e->index_dir, aside);
        } else if (rv != -EEXIST && rv != -ENOTEMPTY)
            log_err("engine", "the index in %s is damaged, and moving it to %s failed: %s",
                    e->index_dir, aside, strerror(-rv));
        free(aside);
        if (rv != -EEXIST && rv != -ENOTEMPTY)
            break;
    }
    return rv ? rv : meta_open(&e->meta, e->index_dir);
}

/* Throws the index away and loads everything from the chunks. */
static int rebuild(struct engine *e)
{
    log_info("engine", "rebuilding the index of %s from its chunks", e->node.dir);
    meta_close(e->meta);
    e->meta = NULL;
    int rv;
    if ((rv = meta_destroy(e->index_dir)) == 0)
        rv = meta_open(&e->meta, e->index_dir);
    /* No volume keeps the index just closed, whatever fails from here on
     * (load_volumes then resets each one's state). */
    for (uint32_t i = 0; i < e->n_vols; i++)
        e->vols[i]->meta = e->vols[i]->apply.m = e->meta;
    if (rv != 0)
        return rv;
    e->catalog_seq = 0;
    e->rebuilding = 1;
    rv = load(e);
    e->rebuilding = 0;
    if (rv == -ECANCELED)
        log_warn("engine",
                 "index rebuild stopped on request after %llu records: the next start"
                 " rebuilds it",
                 (unsigned long long)e->replayed);
    if (rv != 0)
        return rv == CAIRN_EINDEX ? CAIRN_EFORMAT : rv;
    return put_marker(e);
}

static int open_chunks(struct engine *e)
{
    DIR *d = opendir(e->chunk_dir);
    if (!d)
        return -errno;
    int rv = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        uint8_t id[16];
        size_t nl = strlen(de->d_name);
        if (nl == 32 + strlen(CHUNK_NEW_SUFFIX) &&
            strcmp(de->d_name + 32, CHUNK_NEW_SUFFIX) == 0) { /* chunk.h: a creation cut short */
            char *path = xasprintf("%s/%s", e->chunk_dir, de->d_name);
            log_warn("engine", "removing %s: a chunk whose creation did not finish", path);
            if (unlink(path) != 0)
                log_warn("engine", "cannot remove %s: %s", path, strerror(errno));
            free(path);
            continue;
        }
        if (de->d_name[0] == '.' || chunk_id_parse(de->d_name, id) != 0) {
            if (de->d_name[0] != '.')
                log_warn("engine", "ignoring %s/%s: not a chunk file name", e->chunk_dir,
                         de->d_name);
            continue;
        }
        char *path = xasprintf("%s/%s", e->chunk_dir, de->d_name);
        struct chunk *c;
        rv = chunk_open(&c, path);
        free(path);
        if (rv != 0)
            break;
        static const uint8_t zero[16];
        int is_catalog = memcmp(c->id, zero, 16) == 0;
        if (c->no >= ENGINE_MAX_CHUNKS || memcmp(c->id, id, 16) != 0 ||
            is_catalog != (c->no == CHUNK_CATALOG_NO) || engine_chunk_by_no(e, c->no)) {
            log_err("engine", "chunk file %s does not match its header (number %u)", de->d_name,
                    c->no);
            chunk_close(c);
            rv = CAIRN_EFORMAT;
            break;
        }
        atomic_store_explicit(&e->chunks[c->no], c, memory_order_release);
        if (c->no > e->max_no)
            e->max_no = c->no;
    }
    closedir(d);
    if (rv != 0)
        return rv;
    if (!catalog(e)) {
        if (e->max_no > 0) {
            log_err("engine", "%s holds chunks but no catalog chunk", e->chunk_dir);
            return CAIRN_EFORMAT;
        }
        static const uint8_t zero[16];
        struct chunk *c;
        if ((rv = chunk_create(&c, e->chunk_dir, zero, CHUNK_CATALOG_NO, e->node.id, UINT64_MAX)) !=
            0)
            return rv;
        atomic_store_explicit(&e->chunks[CHUNK_CATALOG_NO], c, memory_order_release);
        e->new_node = 1;
    }
    return 0;
}

int engine_close(struct engine *e)
{
    if (!e)
        return 0;
    /* a volume or catalog that failed a flush before (read-only until a
     * restart) makes the close fail too: not everything reached the disk */
    int rv = e->catalog_failed ? CAIRN_EFAILED : 0, r;
    for (uint32_t i = 0; i < e->n_vols; i++) {
        if (e->meta && atomic_load(&e->vols[i]->failed) && rv == 0)
            rv = CAIRN_EFAILED;
        else if (e->meta && (r = volume_flush(e->vols[i])) != 0 && rv == 0)
            rv = r;
        volume_free(e->vols[i]);
    }
    free(e->vols);
    if (e->meta && (r = meta_sync(e->meta)) != 0 && rv == 0)
        rv = r;
    meta_close(e->meta);
    if (e->chunks)
        for (uint32_t no = 0; no <= e->max_no; no++)
            chunk_close(engine_chunk_by_no(e, no));
    free((void *)e->chunks);
    free(e->chunk_vol);
    hlc_fini(&e->hlc);
    room_fini(&e->room);
    pthread_rwlock_destroy(&e->gate);
    pthread_mutex_destroy(&e->lock);
    node_close(&e->node);
    free(e->chunk_dir);
    free(e->index_dir);
    free(e);
    return rv;
}

int engine_open(struct engine **out, const struct engine_opts *o)
{
    struct engine *e = xcalloc(1, sizeof *e);
    pthread_mutex_init(&e->lock, NULL);
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&e->gate, &ra);
    pthread_rwlockattr_destroy(&ra);
    hlc_init(&e->hlc, o->clock, o->clock_ctx);
    room_init(&e->room);
    e->chunks = xcalloc(ENGINE_MAX_CHUNKS, sizeof *e->chunks);
    e->chunk_vol = xcalloc(ENGINE_MAX_CHUNKS, sizeof *e->chunk_vol);
    int rv;
    e->stop = o->stop;
    e->stop_ctx = o->stop_ctx;
    e->rebuilt = "";
    if ((rv = node_open(&e->node, o->data_dir)) != 0)
        goto out;
    e->chunk_dir = xasprintf("%s/chunks", o->data_dir);
    e->index_dir = xasprintf("%s/index", o->data_dir);
    if ((rv = node_mkdirs(e->chunk_dir)) != 0 || (rv = open_chunks(e)) != 0 ||
        (rv = open_index(e)) != 0)
        goto out;
    char *val;
    size_t vlen;
    rv = meta_get(e->meta, CF_DEFAULT, INDEX_MARKER_KEY, sizeof INDEX_MARKER_KEY - 1, &val, &vlen);
    if (rv == 0) {
        uint32_t id = vlen == INDEX_MARKER_LEN ? get_le32((uint8_t *)val + 1) : 0;
        unsigned layout = vlen == INDEX_MARKER_LEN ? (uint8_t)val[0] : 0;
        free(val);
        if (id != e->node.id) {
            log_err("engine", "index in %s belongs to node %u, not %u", e->index_dir, id,
                    e->node.id);
            rv = CAIRN_EFORMAT;
            goto out;
        }
        if (layout != INDEX_LAYOUT) { /* format.h: derived, so rebuilt */
            log_info("engine", "index layout %u, this release keeps layout %u", layout,
                     INDEX_LAYOUT);
            e->rebuilt = "layout";
            rv = rebuild(e);
        } else if ((rv = load(e)) == CAIRN_EINDEX) {
            e->rebuilt = "inconsistent";
            rv = rebuild(e);
        }
    } else if (rv == -ENOENT) {
        if (!*e->rebuilt && !e->new_node)
            e->rebuilt = "missing";
        rv = rebuild(e);
    }
    e->stop = NULL; /* only engine_open's rebuild is stopped (nothing is served yet) */
    if (rv != 0)
        goto out;
    log_info("engine", "node %u open: %u chunks, %u volumes", e->node.id, e->max_no, e->n_vols);
    *out = e;
    return 0;
out:
    if (rv != -ECANCELED)
        log_err("engine", "cannot open %s: %s", o->data_dir, cairn_strerror(rv));
    engine_close(e);
    return rv;
}

int engine_reindexing(struct engine *e)
{
    return atomic_load(&e->reindexing);
}

int engine_reindex(struct engine *e)
{
    atomic_store(&e->reindexing, 1);
    pthread_rwlock_wrlock(&e->gate);
    pthread_mutex_lock(&e->lock);
    /* a failed catalog write is not retried by the rebuild's syncs (2) */
    int rv = e->catalog_failed ? CAIRN_EFAILED : 0;
    for (uint32_t i = 0; i < e->n_vols && rv == 0; i++)
        rv = volume_flush(e->vols[i]);
    if (rv == 0) {
        /* from here on the old index is gone: until a rebuild ends, the
         * volumes would read a part of it */
        rv = rebuild(e);
        atomic_store(&e->index_lost, rv != 0);
    }
    pthread_mutex_unlock(&e->lock);
    pthread_rwlock_unlock(&e->gate);
    atomic_store(&e->reindexing, 0);
    if (rv != 0 && engine_index_lost(e))
        log_err("engine",
                "reindex failed: %s; the index is incomplete, so every file operation fails"
                " until a reindex succeeds or cairnd restarts (its start rebuilds the index)",
                cairn_strerror(rv));
    else if (rv != 0)
        log_err("engine", "reindex failed before it began: %s", cairn_strerror(rv));
    return rv;
}

void engine_stats(struct engine *e, struct engine_stats *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&e->lock);
    for (uint32_t i = 0; i < e->n_vols; i++) {
        struct volume *v = e->vols[i];
        pthread_mutex_lock(&v->commit.lock);
        out->flushes += v->commit.flushes;
        out->fsync_calls += v->commit.waits;
        pthread_mutex_unlock(&v->commit.lock);
        out->bytes_appended += atomic_load(&v->bytes_appended);
    }
    pthread_mutex_unlock(&e->lock);
    out->checksum_errors = chunk_read_errors();
    out->torn_bytes_dropped = atomic_load(&e->torn_dropped);
    out->damaged_located = atomic_load(&e->salvaged);
}

uint64_t engine_index_bytes(struct engine *e)
{
    uint64_t n = engine_enter(e) == 0 ? meta_disk_bytes(e->meta) : 0;
    engine_leave(e);
    return n;
}

/* ---- chunks and volumes ---- */

int engine_chunk_create(struct engine *e, uint64_t capacity, uint8_t id_out[16])
{
    if (capacity < ENGINE_MIN_CHUNK || capacity > ENGINE_MAX_CHUNK)
        return -EINVAL;
    pthread_mutex_lock(&e->lock);
    int rv = 0;
    uint32_t no = e->max_no + 1;
    if (no >= ENGINE_MAX_CHUNKS) {
        rv = -ENOSPC;
        goto out;
    }
    uint8_t id[16];
    do
        randombytes_buf(id, sizeof id);
    while (chunk_by_id(e, id) || (id[0] | id[1] | id[2] | id[3]) == 0);
    struct chunk *c;
    if ((rv = chunk_create(&c, e->chunk_dir, id, no, e->node.id, capacity)) != 0)
        goto out;
    atomic_store_explicit(&e->chunks[no], c, memory_order_release);
    e->max_no = no;
    memcpy(id_out, id, 16);
out:
    pthread_mutex_unlock(&e->lock);
    return rv;
}

int engine_chunk_list(struct engine *e, struct chunk_info **out, size_t *n)
{
    pthread_mutex_lock(&e->lock);
    struct chunk_info *ci = xcalloc(e->max_no + 1, sizeof *ci);
    size_t k = 0;
    for (uint32_t no = 1; no <= e->max_no; no++) {
        struct chunk *c = engine_chunk_by_no(e, no);
        if (!c)
            continue;
        memcpy(ci[k].id, c->id, 16);
        ci[k].no = no;
        ci[k].capacity = c->capacity;
        ci[k].used = c->tail;
        struct volume *v = e->chunk_vol[no] ? volume_by_no(e, e->chunk_vol[no]) : NULL;
        if (v)
            snprintf(ci[k].volume, sizeof ci[k].volume, "%s", v->info.name);
        k++;
    }
    pthread_mutex_unlock(&e->lock);
    *out = ci;
    *n = k;
    return 0;
}

int engine_chunk_assign(struct engine *e, const uint8_t id[16], const char *volume)
{
    pthread_mutex_lock(&e->lock);
    int rv;
    struct chunk *c = chunk_by_id(e, id);
    struct volume *v = volume_by_name(e, volume);
    if (!c || !v) {
        rv = -ENOENT;
        goto out;
    }
    if (e->chunk_vol[c->no]) {
        rv = -EBUSY;
        goto out;
    }
    struct record r;
    record_init(&r);
    struct effect *ef = record_add(&r, EFF_ASSIGN);
    memcpy(ef->id, id, 16);
    ef->vol_no = v->no;
    rv = catalog_append(e, &r);
    record_fini(&r);
    if (rv != 0)
        goto out;
    e->chunk_vol[c->no] = v->no;
    if (c->tail > CHUNK_HDR_LEN) {
        /* Records from before (an assignment a rebuild found damaged):
         * the next start replays them from the chunk's start. Until then
         * the volume does not write there: an append would index the chunk
         * as applied past them, and the start would skip them. */
        log_warn("engine",
                 "chunk %u holds %llu bytes of records: volume %s gets them, and writes to the"
                 " chunk, at the next start",
                 c->no, (unsigned long long)(c->tail - CHUNK_HDR_LEN), v->info.name);
    } else {
        pthread_mutex_lock(&v->wlock);
        volume_add_chunk(v, c);
        pthread_mutex_unlock(&v->wlock);
    }
out:
    pthread_mutex_unlock(&e->lock);
    return rv;
}

static int volume_name_ok(const char *name)
{
    size_t n = strnlen(name, 256);
    if (n == 0 || n > 255 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
            return 0;
    return 1;
}

int engine_volume_create(struct engine *e, const char *name, enum durability d, uint8_t replicas)
{
    if (!volume_name_ok(name) || (d != DURABILITY_LOCAL && d != DURABILITY_REPLICAS))
        return -EINVAL;
    pthread_mutex_lock(&e->lock);
    int rv = 0;
    if (volume_by_name(e, name)) {
        rv = -EEXIST;
        goto out;
    }
    struct volinfo vi;
    memset(&vi, 0, sizeof vi);
    for (uint32_t i = 0; i < e->n_vols; i++)
        if (e->vols[i]->no > vi.vol_no)
            vi.vol_no = e->vols[i]->no;
    vi.vol_no++;
    randombytes_buf(vi.id, sizeof vi.id);
    vi.durability = (uint8_t)d;
    vi.replicas = d == DURABILITY_REPLICAS ? replicas : 0;
    snprintf(vi.name, sizeof vi.name, "%s", name);
    struct record r;
    record_init(&r);
    struct effect *ef = record_add(&r, EFF_VOLUME);
    ef->vol_no = vi.vol_no;
    memcpy(ef->id, vi.id, 16);
    ef->durability = vi.durability;
    ef->replicas = vi.replicas;
    ef->str = vi.name;
    ef->str_len = (uint16_t)strlen(vi.name);
    rv = catalog_append(e, &r);
    record_fini(&r);
    if (rv != 0)
        goto out;
    struct volume *v = volume_new(e, e->meta, &e->hlc, &e->room, e->node.id, &vi);
    e->vols = xrealloc(e->vols, (e->n_vols + 1) * sizeof *e->vols);
    e->vols[e->n_vols++] = v;
out:
    pthread_mutex_unlock(&e->lock);
    return rv;
}

static void fill_info(struct volume *v, struct volume_info *vi)
{
    memset(vi, 0, sizeof *vi);
    snprintf(vi->name, sizeof vi->name, "%s", v->info.name);
    memcpy(vi->id, v->info.id, 16);
    vi->no = v->no;
    vi->durability = v->info.durability;
    vi->replicas = v->info.replicas;
    pthread_mutex_lock(&v->wlock);
    vi->chunks = v->n_chunks;
    for (uint32_t i = 0; i < v->n_chunks; i++) {
        vi->capacity += v->chunks[i]->capacity;
        vi->used += v->chunks[i]->tail;
    }
    pthread_mutex_unlock(&v->wlock);
    vi->failed = atomic_load(&v->failed) != 0;
}

int engine_volume_list(struct engine *e, struct volume_info **out, size_t *n)
{
    pthread_mutex_lock(&e->lock);
    struct volume_info *vi = xcalloc(e->n_vols ? e->n_vols : 1, sizeof *vi);
    for (uint32_t i = 0; i < e->n_vols; i++)
        fill_info(e->vols[i], &vi[i]);
    *n = e->n_vols;
    pthread_mutex_unlock(&e->lock);
    *out = vi;
    return 0;
}

int engine_volume(struct engine *e, const char *name, struct volume **out)
{
    pthread_mutex_lock(&e->lock);
    struct volume *v = volume_by_name(e, name);
    pthread_mutex_unlock(&e->lock);
    if (!v)
        return -ENOENT;
    *out = v;
    return 0;
}

int engine_volume_info(struct engine *e, struct volume *v, struct volume_info *out)
{
    (void)e;
    fill_info(v, out);
    return 0;
}
