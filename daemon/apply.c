/*
 * apply.c — owns the mapping from a volume record to index entries.
 *
 * Invariants:
 * (1) idempotent by dot: a record whose location is already indexed adds
 *     nothing (re-delivery and replay are harmless);
 * (2) every versioned entry a record writes carries the record's stamp
 *     (hlc, origin) in its key and its seq in its value;
 * (3) a data effect stores the block's full composition as of the record:
 *     the newest older version (clipped by truncations) overlaid with it;
 * (4) a batch never holds two records where the later reads block state
 *     the earlier wrote, or a name the earlier wrote with a newer stamp (the
 *     caller splits batches on apply_conflicts);
 * (5) the live family (metakey.h) holds, for each name of each directory,
 *     its newest dirent version unless that is a tombstone, so a listing of
 *     a directory now costs its live names, not every name it ever had: a
 *     record whose stamp is older than the name's newest indexed version
 *     leaves it alone. Two kinds of record need no look, being newer than
 *     every indexed one: one fresh from the local writer (hlc_now is past
 *     every stamp observed, and the engine observes every stamp it replays
 *     or finds indexed at open: engine.c replay_one, replay_damaged,
 *     load_volume_state), and, in a rebuild, one newer than every record
 *     the rebuild applied so far (apply_ctx floor).
 * Threads: an apply_ctx belongs to one thread.
 */
#include "apply.h"

#include "alloc.h"
#include "cairn_err.h"
#include "extent.h"
#include "log.h"
#include "metakey.h"
#include "vlookup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

void apply_init(struct apply_ctx *a, struct meta *m, struct meta_batch *b, uint32_t vol)
{
    memset(a, 0, sizeof *a);
    a->m = m;
    a->b = b;
    a->vol = vol;
}

void apply_fini(struct apply_ctx *a)
{
    apply_batch_done(a);
    free(a->touched);
    a->touched = NULL;
}

void apply_batch_done(struct apply_ctx *a)
{
    a->n_touched = 0;
    meta_iter_free(a->look); /* it reads the index as it was before the commit */
    a->look = NULL;
}

static void touch(struct apply_ctx *a, uint64_t ino, uint64_t block, const struct stamp *name_stamp)
{
    if (a->n_touched == a->cap_touched) {
        a->cap_touched = a->cap_touched ? a->cap_touched * 2 : 32;
        a->touched = xrealloc(a->touched, a->cap_touched * sizeof *a->touched);
    }
    a->touched[a->n_touched++] = (struct apply_touch){
        ino, block, name_stamp != NULL, name_stamp ? *name_stamp : (struct stamp){0, 0}};
}

/* A dirent effect's name, as apply_touch keeps it (a collision only splits a
 * batch once more). */
static uint64_t name_hash(const struct effect *e)
{
    return XXH3_64bits(e->str, e->str_len);
}

int apply_conflicts(const struct apply_ctx *a, const struct record *r)
{
    for (uint32_t i = 0; i < r->n_eff; i++) {
        const struct effect *e = &r->eff[i];
        if (e->type == EFF_DIRENT) { /* (5) only a newer batch-mate hides from the look */
            uint64_t h = name_hash(e);
            struct stamp s = {r->hlc, r->dot.origin};
            for (uint32_t j = 0; j < a->n_touched; j++) {
                const struct apply_touch *t = &a->touched[j];
                if (t->name && t->ino == e->parent && t->block == h && stamp_cmp(t->s, s) > 0)
                    return 1;
            }
            continue;
        }
        if (e->type != EFF_DATA && e->type != EFF_TRUNC)
            continue;
        uint64_t blk = e->type == EFF_DATA ? e->off >> BLOCK_SHIFT : EXT_TRUNC_BLOCK;
        for (uint32_t j = 0; j < a->n_touched; j++) {
            const struct apply_touch *t = &a->touched[j];
            if (!t->name && t->ino == e->ino &&
                (t->block == blk || t->block == EXT_TRUNC_BLOCK || blk == EXT_TRUNC_BLOCK))
                return 1;
        }
    }
    return 0;
}

/* (5) E's live entry, VAL being the dirent version E adds with stamp S. */
static int put_live(struct apply_ctx *a, const struct effect *e, struct stamp s, const uint8_t *val)
{
    uint8_t key[KEY_MAX];
    if (!a->fresh && !(a->floor_known && stamp_cmp(s, a->floor) > 0)) {
        size_t plen =
            mk_dirent(key, a->vol, e->parent, e->str, e->str_len, STAMP_NEWEST) - STAMP_LEN;
        if (!a->look) /* the committed index, for the rest of the batch */
            a->look = meta_iter_new(a->m, CF_DIRENTS, NULL, 0);
        int rv = vlookup_seek(a->look, key, plen, STAMP_NEWEST, NULL);
        if (rv == 0 && stamp_cmp(vlookup_stamp(a->look), s) > 0)
            return 0;
        /* a malformed newest version (a damaged index) does not keep this one out */
        if (rv != 0 && rv != -ENOENT && rv != CAIRN_EFORMAT)
            return rv;
    }
    size_t klen = mk_live(key, a->vol, e->parent, e->str, e->str_len);
    if (e->child)
        meta_batch_put(a->m, a->b, CF_LIVE, key, klen, val, IV_DIRENT_LEN);
    else
        meta_batch_delete(a->m, a->b, CF_LIVE, key, klen);
    touch(a, e->parent, name_hash(e), &s); /* (4) */
    return 0;
}

static int apply_data(struct apply_ctx *a, const struct record *r, uint32_t idx, struct stamp s,
                      uint32_t chunk_no, uint64_t off, uint32_t len)
{
    const struct effect *e = &r->eff[idx];
    uint64_t blk = e->off >> BLOCK_SHIFT;
    struct comp c;
    comp_init(&c);
    /* a write of the whole block replaces whatever was there: no lookup */
    int rv = e->len == BLOCK_SIZE ? 0 : extent_block_at(a->m, a->vol, e->ino, blk, s, &c);
    if (rv == 0) {
        struct piece p = {
            .boff = (uint32_t)(e->off & (BLOCK_SIZE - 1)),
            .len = e->len,
            .chunk_no = chunk_no,
            .rec_off = off,
            .rec_len = len,
            .data_off = (uint32_t)record_data_offset(r, idx),
        };
        comp_overlay(&c, &p);
        c.seq = r->dot.seq;
        if (c.n > COMP_HARD_MAX) {
            log_err("apply", "record %u:%llu fragments a block beyond %u pieces", r->dot.origin,
                    (unsigned long long)r->dot.seq, COMP_HARD_MAX);
            rv = CAIRN_EFORMAT;
        } else {
            uint8_t key[KEY_MAX];
            size_t klen = mk_extent(key, a->vol, e->ino, blk, s);
            size_t vlen = iv_comp_len(&c);
            uint8_t *val = xmalloc(vlen);
            iv_comp_encode(val, &c);
            meta_batch_put(a->m, a->b, CF_EXTENTS, key, klen, val, vlen);
            free(val);
            touch(a, e->ino, blk, NULL);
        }
    }
    comp_fini(&c);
    return rv;
}

/* The location of R's dot in the batch; 1 when it is indexed already (1). */
static int put_location(struct apply_ctx *a, const struct record *r, uint32_t chunk_no,
                        uint64_t off, uint32_t len)
{
    uint8_t key[KEY_MAX];
    size_t klen = mk_record(key, a->vol, r->dot.origin, r->dot.seq);
    char *old;
    size_t oldlen;
    int rv = a->fresh ? -ENOENT : meta_get(a->m, CF_RECORDS, key, klen, &old, &oldlen);
    if (rv == 0) {
        struct recloc was;
        if (iv_recloc_decode(&was, (const uint8_t *)old, oldlen) == 0 &&
            (was.chunk_no != chunk_no || was.off != off))
            /* two records with one dot: never silently one of them */
            log_err("apply",
                    "record %u:%llu in chunk %u at %llu is not applied: that dot is indexed"
                    " for chunk %u at %llu (a sequence number was given twice)",
                    r->dot.origin, (unsigned long long)r->dot.seq, chunk_no,
                    (unsigned long long)off, was.chunk_no, (unsigned long long)was.off);
        free(old);
        return 1;
    }
    if (rv != -ENOENT)
        return rv;
    uint8_t loc[IV_RECLOC_LEN];
    struct recloc l = {chunk_no, off, len, r->hlc};
    iv_recloc_encode(loc, &l);
    meta_batch_put(a->m, a->b, CF_RECORDS, key, klen, loc, sizeof loc);
    return 0;
}

int apply_record(struct apply_ctx *a, const struct record *r, uint32_t chunk_no, uint64_t off,
                 uint32_t len)
{
    if (r->kind != REC_KIND_VOLUME)
        return CAIRN_EFORMAT;
    int rv = put_location(a, r, chunk_no, off, len);
    if (rv != 0)
        return rv == 1 ? 0 : rv; /* (1) */
    uint8_t key[KEY_MAX];
    size_t klen;
    struct stamp s = {r->hlc, r->dot.origin};
    uint64_t seq = r->dot.seq;
    for (uint32_t i = 0; i < r->n_eff; i++) {
        const struct effect *e = &r->eff[i];
        uint8_t small[IV_DIRENT_LEN + IV_TRUNC_LEN];
        uint8_t *val;
        size_t vlen;
        switch (e->type) {
        case EFF_INODE:
            klen = mk_inode(key, a->vol, e->ino, s);
            vlen = iv_inode_len(e->str_len);
            val = xmalloc(vlen);
            iv_inode_encode(val, seq, &e->attr, e->str, e->str_len);
            meta_batch_put(a->m, a->b, CF_INODES, key, klen, val, vlen);
            free(val);
            break;
        case EFF_DIRENT:
            klen = mk_dirent(key, a->vol, e->parent, e->str, e->str_len, s);
            iv_dirent_encode(small, seq, e->child, e->dtype);
            if ((rv = put_live(a, e, s, small)) != 0)
                return rv;
            meta_batch_put(a->m, a->b, CF_DIRENTS, key, klen, small, IV_DIRENT_LEN);
            break;
        case EFF_DATA:
            if ((rv = apply_data(a, r, i, s, chunk_no, off, len)) != 0)
                return rv;
            break;
        case EFF_TRUNC:
            klen = mk_extent(key, a->vol, e->ino, EXT_TRUNC_BLOCK, s);
            iv_trunc_encode(small, seq, e->size);
            meta_batch_put(a->m, a->b, CF_EXTENTS, key, klen, small, IV_TRUNC_LEN);
            touch(a, e->ino, EXT_TRUNC_BLOCK, NULL);
            break;
        case EFF_XATTR:
            klen = mk_xattr(key, a->vol, e->ino, e->str, e->str_len, s);
            vlen = iv_xattr_len(e->len);
            val = xmalloc(vlen);
            iv_xattr_encode(val, seq, e->data, e->len);
            meta_batch_put(a->m, a->b, CF_XATTRS, key, klen, val, vlen);
            free(val);
            break;
        case EFF_SNAPSHOT: {
            struct snapinfo si;
            si.dot = r->dot;
            si.hlc = r->hlc;
            vv_init(&si.vv);
            vv_copy(&si.vv, &r->ctx);
            vv_raise(&si.vv, r->dot.origin, r->dot.seq);
            klen = mk_snapshot(key, a->vol, e->str, e->str_len);
            vlen = iv_snapshot_len(&si);
            val = xmalloc(vlen);
            iv_snapshot_encode(val, &si);
            meta_batch_put(a->m, a->b, CF_SNAPSHOTS, key, klen, val, vlen);
            free(val);
            vv_fini(&si.vv);
            break;
        }
        default:
            return CAIRN_EFORMAT;
        }
    }
    if (stamp_cmp(s, a->floor) > 0)
        a->floor = s; /* (5) */
    return 0;
}

/* 1 when the committed index holds a version of inode INO, 0 when not. */
static int inode_known(struct apply_ctx *a, uint64_t ino)
{
    uint8_t prefix[KEY_MAX];
    size_t plen = mk_inode(prefix, a->vol, ino, STAMP_NEWEST) - STAMP_LEN;
    struct meta_iter *it = meta_iter_new(a->m, CF_INODES, NULL, 0);
    int rv = vlookup_seek(it, prefix, plen, STAMP_NEWEST, NULL);
    meta_iter_free(it);
    return rv == 0 ? 1 : rv == -ENOENT ? 0 : rv;
}

int apply_damaged(struct apply_ctx *a, const struct record *r, uint32_t chunk_no, uint64_t off,
                  uint32_t len, uint32_t *n_applied)
{
    *n_applied = 0;
    if (r->kind != REC_KIND_VOLUME)
        return CAIRN_EFORMAT;
    int rv = put_location(a, r, chunk_no, off, len);
    if (rv != 0)
        return rv == 1 ? 0 : rv;
    struct stamp s = {r->hlc, r->dot.origin};
    for (uint32_t i = 0; i < r->n_eff; i++) {
        if (r->eff[i].type != EFF_DATA)
            continue;
        /* an inode nobody made: the damage may have hit its number */
        if ((rv = inode_known(a, r->eff[i].ino)) == 0 || rv == CAIRN_EFORMAT)
            continue;
        if (rv < 0)
            return rv;
        /* a piece that cannot be composed (a malformed entry in the way, too
         * many pieces) is left out: its range reads as it did before */
        if ((rv = apply_data(a, r, i, s, chunk_no, off, len)) == CAIRN_EFORMAT)
            continue;
        if (rv != 0)
            return rv;
        (*n_applied)++;
    }
    return 0;
}
