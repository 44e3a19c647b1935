/*
 * extent.c — owns the file-data read path and block compositions (extent.h).
 *
 * Invariants: (1) a block version is valid only up to the smallest
 * truncation size recorded after it (and visible at the point read), so
 * bytes cut by a truncation never reappear when the file grows again; (2)
 * every byte returned comes from a record whose checksum was verified in
 * this call; (3) bytes no piece covers are zeros.
 * Threads: read-only on the index and chunk files; thread-safe.
 */
#include "extent.h"

#include "alloc.h"
#include "bytes.h"
#include "cairn_err.h"
#include "chunk.h"
#include "format.h"
#include "log.h"
#include "vlookup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Smallest truncation size recorded after stamp ES and at or before FROM
 * (visible under VV); UINT64_MAX when none. */
static int trunc_limit(struct meta_iter *it, uint32_t vol, uint64_t ino, struct stamp es,
                       struct stamp from, const struct vv *vv, uint64_t *limit)
{
    uint8_t prefix[KEY_MAX];
    size_t plen = mk_extent(prefix, vol, ino, EXT_TRUNC_BLOCK, STAMP_NEWEST) - STAMP_LEN;
    *limit = UINT64_MAX;
    int rv = vlookup_seek(it, prefix, plen, from, NULL);
    if (rv == -ENOENT)
        return 0;
    for (; rv == 0 && meta_iter_valid(it); meta_iter_next(it)) {
        size_t klen, vlen;
        const uint8_t *k = meta_iter_key(it, &klen);
        if (klen != plen + STAMP_LEN || memcmp(k, prefix, plen) != 0)
            break;
        if (stamp_cmp(vlookup_stamp(it), es) <= 0)
            break; /* older than the block version: already reflected in it */
        int vis = vlookup_visible(it, vv);
        if (vis < 0)
            return vis;
        if (!vis)
            continue;
        uint64_t seq, size;
        const uint8_t *v = meta_iter_value(it, &vlen);
        if ((rv = iv_trunc_decode(v, vlen, &seq, &size)) != 0)
            return rv;
        if (size < *limit)
            *limit = size;
    }
    return rv ? rv : meta_iter_status(it);
}

static int block_at(struct meta *m, uint32_t vol, uint64_t ino, uint64_t blk, struct stamp from,
                    const struct vv *vv, struct comp *out)
{
    uint8_t prefix[KEY_MAX];
    size_t plen = mk_extent(prefix, vol, ino, blk, STAMP_NEWEST) - STAMP_LEN;
    struct meta_iter *it = meta_iter_new(m, CF_EXTENTS, NULL, 0);
    out->n = 0;
    out->seq = 0;
    int rv = vlookup_seek(it, prefix, plen, from, vv);
    if (rv == -ENOENT) {
        rv = 0;
        goto out;
    }
    if (rv != 0)
        goto out;
    size_t vlen;
    const uint8_t *v = meta_iter_value(it, &vlen);
    struct stamp es = vlookup_stamp(it);
    if ((rv = iv_comp_decode(out, v, vlen)) != 0) {
        log_err("extent", "malformed block entry (volume %u inode %llu block %llu)", vol,
                (unsigned long long)ino, (unsigned long long)blk);
        goto out;
    }
    uint64_t limit;
    if ((rv = trunc_limit(it, vol, ino, es, from, vv, &limit)) != 0)
        goto out;
    if (limit != UINT64_MAX) {
        uint64_t base = blk << BLOCK_SHIFT;
        comp_clip(out, limit > base ? limit - base : 0);
    }
out:
    meta_iter_free(it);
    if (rv != 0)
        out->n = 0;
    return rv;
}

int extent_block(struct meta *m, uint32_t vol, uint64_t ino, uint64_t blk, const struct asof *at,
                 struct comp *out)
{
    struct stamp from = {at->hlc, UINT32_MAX};
    return block_at(m, vol, ino, blk, from, at->vv, out);
}

int extent_block_at(struct meta *m, uint32_t vol, uint64_t ino, uint64_t blk, struct stamp from,
                    struct comp *out)
{
    return block_at(m, vol, ino, blk, from, NULL, out);
}

int extent_read(struct meta *m, uint32_t vol, extent_chunk_fn chunkfn, void *cctx, uint64_t ino,
                const struct asof *at, uint64_t off, size_t len, uint8_t *buf)
{
    memset(buf, 0, len); /* (3) */
    if (len == 0)
        return 0;
    struct comp c;
    comp_init(&c);
    uint8_t *rbuf = NULL;
    size_t rcap = 0;
    int cached = 0; /* rbuf holds the verified record named below */
    uint32_t cached_chunk = 0, cached_len = 0;
    uint64_t cached_off = 0;
    int rv = 0;
    uint64_t end = off + len;
    for (uint64_t blk = off >> BLOCK_SHIFT; blk <= (end - 1) >> BLOCK_SHIFT; blk++) {
        if ((rv = extent_block(m, vol, ino, blk, at, &c)) != 0)
            break;
        uint64_t base = blk << BLOCK_SHIFT;
        for (uint32_t i = 0; i < c.n; i++) {
            const struct piece *p = &c.p[i];
            uint64_t ps = base + p->boff, pe = ps + p->len;
            uint64_t s = ps > off ? ps : off, e = pe < end ? pe : end;
            if (s >= e)
                continue;
            if (!cached || p->chunk_no != cached_chunk || p->rec_off != cached_off ||
                p->rec_len != cached_len) {
                struct chunk *ch = chunkfn(cctx, p->chunk_no);
                if (!ch) {
                    log_err("extent", "index names unknown chunk %u", p->chunk_no);
                    rv = CAIRN_EINDEX;
                    goto out;
                }
                if (p->rec_len > rcap || !rbuf) {
                    rcap = p->rec_len ? p->rec_len : 1;
                    free(rbuf);
                    rbuf = xmalloc(rcap);
                }
                if ((rv = chunk_read_record(ch, p->rec_off, p->rec_len, rbuf)) != 0)
                    goto out; /* (2) */
                cached = 1;
                cached_chunk = p->chunk_no;
                cached_off = p->rec_off;
                cached_len = p->rec_len;
            }
            memcpy(buf + (s - off), rbuf + p->data_off + (s - ps), e - s);
        }
    }
out:
    comp_fini(&c);
    free(rbuf);
    return rv;
}
