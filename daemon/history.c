/*
 * history.c — owns snapshots (named version vectors) and per-inode version
 * listings (fsops.h).
 *
 * Invariants: (1) taking a snapshot is one small record: O(1) in the size of
 * the volume; (2) a snapshot's vector is the writer's context plus the
 * snapshot record's own dot, so it covers exactly what the node had applied
 * when it was taken; (3) snapshot names are unique per volume.
 * Threads: any; mutations under the volume writer lock.
 */
#include "alloc.h"
#include "bytes.h"
#include "cairn_err.h"
#include "engine.h"
#include "fsops.h"
#include "log.h"
#include "metakey.h"
#include "record.h"
#include "volume.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int snapshot_load(struct volume *v, const char *name, struct snapinfo *si)
{
    uint8_t key[KEY_MAX];
    size_t klen = mk_snapshot(key, v->no, name, strlen(name));
    char *val;
    size_t vlen;
    int rv = meta_get(v->meta, CF_SNAPSHOTS, key, klen, &val, &vlen);
    if (rv != 0)
        return rv;
    rv = iv_snapshot_decode(si, (const uint8_t *)val, vlen);
    free(val);
    return rv;
}

int fs_snapshot_create(struct volume *v, const char *name)
{
    size_t n = strnlen(name, 256);
    if (n > 255)
        return -ENAMETOOLONG;
    if (!name_valid(name, n))
        return -EINVAL;
    struct record r;
    record_init(&r);
    struct snapinfo si;
    vv_init(&si.vv);
    int rv = engine_enter(v->eng);
    pthread_mutex_lock(&v->wlock);
    if (rv == 0)
        rv = snapshot_load(v, name, &si);
    if (rv == 0) {
        rv = -EEXIST; /* (3) */
    } else if (rv == -ENOENT) {
        struct effect *e = record_add(&r, EFF_SNAPSHOT);
        e->str = name;
        e->str_len = (uint16_t)n;
        rv = volume_commit(v, &r, 1);
    }
    pthread_mutex_unlock(&v->wlock);
    engine_leave(v->eng);
    vv_fini(&si.vv);
    record_fini(&r);
    return rv;
}

int fs_snapshot_get(struct volume *v, const char *name, struct vv *snap, struct asof *at)
{
    struct snapinfo si;
    vv_init(&si.vv);
    int rv = engine_enter(v->eng);
    if (rv == 0)
        rv = snapshot_load(v, name, &si);
    engine_leave(v->eng);
    if (rv == 0) {
        vv_copy(snap, &si.vv);
        at->hlc = si.hlc;
        at->vv = snap;
    }
    vv_fini(&si.vv);
    return rv;
}

int fs_snapshot_list(struct volume *v, const char *after, fs_snapshot_fn fn, void *ctx)
{
    uint8_t prefix[4], upper[4], from[4 + 255];
    put_be32(prefix, v->no);
    size_t ulen = mk_prefix_end(upper, prefix, 4);
    size_t alen = after ? strlen(after) : 0;
    if (alen > 255)
        return -ENAMETOOLONG;
    memcpy(from, prefix, 4);
    memcpy(from + 4, after ? after : "", alen);
    int rv = engine_enter(v->eng);
    if (rv != 0) {
        engine_leave(v->eng);
        return rv;
    }
    struct meta_iter *it = meta_iter_new(v->meta, CF_SNAPSHOTS, upper, ulen);
    struct snapinfo si;
    vv_init(&si.vv);
    char name[256];
    if (after)
        meta_iter_seek_past(it, from, 4 + alen); /* names after AFTER */
    else
        meta_iter_seek(it, prefix, 4);
    for (; rv == 0 && meta_iter_valid(it); meta_iter_next(it)) {
        size_t klen, vlen;
        const uint8_t *k = meta_iter_key(it, &klen);
        const uint8_t *val = meta_iter_value(it, &vlen);
        if (klen <= 4 || klen - 4 > 255 || (rv = iv_snapshot_decode(&si, val, vlen)) != 0) {
            rv = rv ? rv : CAIRN_EFORMAT;
            break;
        }
        memcpy(name, k + 4, klen - 4);
        name[klen - 4] = '\0';
        int stop = fn(ctx, name, si.hlc, &si.vv);
        if (stop)
            rv = stop == 1 ? 0 : stop;
        if (stop)
            break;
    }
    if (rv == 0)
        rv = meta_iter_status(it);
    vv_fini(&si.vv);
    meta_iter_free(it);
    engine_leave(v->eng);
    return rv;
}

int fs_history(struct volume *v, uint64_t ino, const struct stamp *after, fs_version_fn fn,
               void *ctx)
{
    uint8_t prefix[KEY_MAX], upper[KEY_MAX], from[KEY_MAX];
    size_t plen = mk_inode(prefix, v->no, ino, STAMP_NEWEST) - STAMP_LEN;
    size_t ulen = mk_prefix_end(upper, prefix, plen);
    size_t flen = after ? mk_inode(from, v->no, ino, *after) : plen;
    int rv = engine_enter(v->eng);
    if (rv != 0) {
        engine_leave(v->eng);
        return rv;
    }
    struct meta_iter *it = meta_iter_new(v->meta, CF_INODES, upper, ulen);
    int any = after != NULL; /* a page past the oldest is empty, not ENOENT */
    if (after)               /* newest first: versions older than AFTER */
        meta_iter_seek_past(it, from, flen);
    else
        meta_iter_seek(it, prefix, plen);
    for (; rv == 0 && meta_iter_valid(it); meta_iter_next(it)) {
        size_t klen, vlen;
        const uint8_t *k = meta_iter_key(it, &klen);
        const uint8_t *val = meta_iter_value(it, &vlen);
        struct iv_inode iv;
        struct stamp s;
        if (klen != plen + STAMP_LEN || (rv = mk_stamp(k, klen, &s)) != 0 ||
            (rv = iv_inode_decode(&iv, val, vlen)) != 0) {
            rv = rv ? rv : CAIRN_EFORMAT;
            break;
        }
        struct version ver = {s.hlc, {s.origin, iv.seq}, iv.a};
        any = 1;
        int stop = fn(ctx, &ver);
        if (stop) {
            rv = stop == 1 ? 0 : stop;
            break;
        }
    }
    if (rv == 0)
        rv = meta_iter_status(it);
    meta_iter_free(it);
    engine_leave(v->eng);
    return rv == 0 && !any ? -ENOENT : rv;
}
