/*
 * vlookup.c — owns the versioned-lookup walk (vlookup.h).
 *
 * Invariant: (1) a walk never leaves its object's prefix; (2) a walk visits
 * at most the versions between FROM and the visible one; every value visited
 * is length-checked before its seq is read.
 * Threads: callers own their iterators.
 */
#include "vlookup.h"

#include "bytes.h"
#include "cairn_err.h"
#include "format.h"

#include <errno.h>
#include <string.h>

int stamp_cmp(struct stamp a, struct stamp b)
{
    if (a.hlc != b.hlc)
        return a.hlc < b.hlc ? -1 : 1;
    if (a.origin != b.origin)
        return a.origin < b.origin ? -1 : 1;
    return 0;
}

struct stamp vlookup_stamp(struct meta_iter *it)
{
    size_t klen;
    const uint8_t *k = meta_iter_key(it, &klen);
    struct stamp s = {0, 0};
    (void)mk_stamp(k, klen, &s);
    return s;
}

int vlookup_visible(struct meta_iter *it, const struct vv *vv)
{
    size_t vlen;
    const uint8_t *v = meta_iter_value(it, &vlen);
    if (vlen < 9 || v[0] == 0 || v[0] > INDEX_VERSION)
        return CAIRN_EFORMAT;
    if (!vv)
        return 1;
    struct dot d = {vlookup_stamp(it).origin, get_le64(v + 1)};
    return vv_contains(vv, d);
}

int vlookup_seek(struct meta_iter *it, const uint8_t *prefix, size_t plen, struct stamp from,
                 const struct vv *vv)
{
    uint8_t key[KEY_MAX + STAMP_LEN];
    if (plen > KEY_MAX)
        return -ENAMETOOLONG;
    memcpy(key, prefix, plen);
    put_be64(key + plen, ~from.hlc);
    put_be32(key + plen + 8, ~from.origin);
    meta_iter_seek(it, key, plen + STAMP_LEN);
    for (; meta_iter_valid(it); meta_iter_next(it)) {
        size_t klen;
        const uint8_t *k = meta_iter_key(it, &klen);
        if (klen != plen + STAMP_LEN || memcmp(k, prefix, plen) != 0)
            return -ENOENT; /* (1) */
        int vis = vlookup_visible(it, vv);
        if (vis < 0)
            return vis;
        if (vis)
            return 0;
    }
    int rv = meta_iter_status(it);
    return rv ? rv : -ENOENT;
}

int vlookup_asof(struct meta_iter *it, const uint8_t *prefix, size_t plen, const struct asof *at)
{
    struct stamp from = {at->hlc, UINT32_MAX};
    return vlookup_seek(it, prefix, plen, from, at->vv);
}
