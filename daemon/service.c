/*
 * service.c — owns the mapping from cairn.v1 RPCs to engine calls.
 *
 * Invariants: (1) every byte string from the wire is checked before use: no
 * NUL inside, bounded length, names valid, paths absolute and canonical (no
 * "." or ".." parts: a path can never leave its volume); (2) replies are
 * built from malloc'ed parts only (rpc.h frees them); (3) a request that
 * names a past state can only read.
 * Threads: handlers run on RPC threads concurrently; the engine is thread-safe.
 */
#include "service.h"

#include "alloc.h"
#include "cairn_err.h"
#include "chunk.h"
#include "config.h"
#include "engine.h"
#include "fsops.h"
#include "hlc.h"
#include "log.h"
#include "metakey.h"
#include "methods.h"
#include "metrics.h"

#include "cairn/v1/admin.pb-c.h"
#include "cairn/v1/fs.pb-c.h"
#include "cairn/v1/peer.pb-c.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#ifndef CAIRN_VERSION
#define CAIRN_VERSION "0"
#endif
#define READDIR_DEFAULT 1000u
#define READDIR_MAX 10000u
#define WRITE_UNARY_MAX (4u << 20)
#define XATTR_BUF 65536u

/* ---- argument checks (1) ---- */

/* Copies B into OUT (MAX+1 bytes) as a C string. */
static int arg_str(const ProtobufCBinaryData *b, size_t max, char *out)
{
    if (b->len > max)
        return -ENAMETOOLONG;
    if (b->len && memchr(b->data, '\0', b->len))
        return -EINVAL;
    if (b->len)
        memcpy(out, b->data, b->len);
    out[b->len] = '\0';
    return 0;
}

static int arg_name(const ProtobufCBinaryData *b, char out[256])
{
    int rv = arg_str(b, 255, out);
    return rv ? rv : out[0] ? 0 : -EINVAL;
}

/* An absolute path without "." or ".." parts. */
static int arg_path(const ProtobufCBinaryData *b, char out[PATH_MAX])
{
    int rv = arg_str(b, PATH_MAX - 1, out);
    if (rv != 0)
        return rv;
    if (out[0] != '/')
        return -EINVAL;
    for (const char *p = out; *p;) {
        while (*p == '/')
            p++;
        size_t n = strcspn(p, "/");
        if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return -EINVAL;
        if (n > 255)
            return -ENAMETOOLONG;
        p += n;
    }
    return 0;
}

static int arg_volume(struct service *s, const ProtobufCBinaryData *b, struct volume **v)
{
    char name[256];
    int rv = arg_name(b, name);
    return rv ? rv : engine_volume(s->e, name, v);
}

/* AT (may be NULL) -> asof; a snapshot's vector goes into VV (owned by caller). */
static int arg_at(struct volume *v, const Cairn__V1__At *at, struct asof *out, struct vv *vv)
{
    *out = ASOF_NOW;
    if (!at)
        return 0;
    if (at->snapshot.len && at->time_ms)
        return -EINVAL;
    if (at->snapshot.len) {
        char name[256];
        int rv = arg_name(&at->snapshot, name);
        return rv ? rv : fs_snapshot_get(v, name, vv, out);
    }
    if (at->time_ms < 0 || (uint64_t)at->time_ms > (UINT64_MAX >> 16))
        return -EINVAL;
    if (at->time_ms)
        out->hlc = HLC_END_OF_MS((uint64_t)at->time_ms);
    return 0;
}

/* ---- reply parts (2) ---- */

static Cairn__V1__Attr *pb_attr(uint64_t ino, const struct attr *a)
{
    Cairn__V1__Attr *p = xmalloc(sizeof *p);
    cairn__v1__attr__init(p);
    p->ino = ino;
    p->mode = a->mode;
    p->uid = a->uid;
    p->gid = a->gid;
    p->nlink = a->nlink;
    p->size = a->size;
    p->rdev = a->rdev;
    p->atime_ns = a->atime;
    p->mtime_ns = a->mtime;
    p->ctime_ns = a->ctime;
    p->btime_ns = a->btime;
    p->parent = a->parent;
    return p;
}

static ProtobufCMessage *attr_reply(uint64_t ino, const struct attr *a)
{
    Cairn__V1__AttrReply *r = xmalloc(sizeof *r);
    cairn__v1__attr_reply__init(r);
    r->attr = pb_attr(ino, a);
    return &r->base;
}

/* attr_reply (no attr when A is NULL) plus the parent directory's
 * attributes as they are now (left out if they cannot be read: the client
 * then asks for them). */
static ProtobufCMessage *attr_reply_parent(uint64_t ino, const struct attr *a, struct volume *v,
                                           uint64_t parent)
{
    Cairn__V1__AttrReply *r = xmalloc(sizeof *r);
    cairn__v1__attr_reply__init(r);
    if (a)
        r->attr = pb_attr(ino, a);
    struct attr pa;
    struct asof now = ASOF_NOW;
    if (fs_getattr(v, &now, parent, &pa) == 0)
        r->parent = pb_attr(parent, &pa);
    return &r->base;
}

static ProtobufCMessage *empty_reply(void)
{
    Cairn__V1__Empty *r = xmalloc(sizeof *r);
    cairn__v1__empty__init(r);
    return &r->base;
}

static ProtobufCMessage *admin_empty(void)
{
    Cairn__V1__AdminEmpty *r = xmalloc(sizeof *r);
    cairn__v1__admin_empty__init(r);
    return &r->base;
}

static ProtobufCBinaryData pb_bytes(const void *p, size_t n)
{
    ProtobufCBinaryData b = {n, NULL};
    if (n) {
        b.data = xmalloc(n);
        memcpy(b.data, p, n);
    }
    return b;
}

/* ---- Fs ---- */

#define REQ(type, name) const type *name = (const type *)msg

static int h_lookup(void *app, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    REQ(Cairn__V1__LookupRequest, r);
    struct volume *v;
    char name[256];
    struct asof at;
    struct vv vv;
    vv_init(&vv);
    uint64_t ino;
    struct attr a;
    int rv;
    if ((rv = arg_volume(app, &r->volume, &v)) == 0 && (rv = arg_name(&r->name, name)) == 0 &&
        (rv = arg_at(v, r->at, &at, &vv)) == 0 &&
        (rv = fs_lookup(v, &at, r->parent, name, &ino, &a)) == 0)
        *resp = attr_reply(ino, &a);
    vv_fini(&vv);
    return rv;
}

static int h_resolve(void *app, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    REQ(Cairn__V1__ResolveRequest, r);
    struct volume *v;
    char path[PATH_MAX];
    struct asof at;
    struct vv vv;
    vv_init(&vv);
    uint64_t ino;
    struct attr a;
    int rv;
    if ((rv = arg_volume(app, &r->volume, &v)) == 0 && (rv = arg_path(&r->path, path)) == 0 &&
        (rv = arg_at(v, r->at, &at, &vv)) == 0 && (rv = fs_resolve(v, &at, path, &ino, &a)) == 0)
        *resp = attr_reply(ino, &a);
    vv_fini(&vv);
    return rv;
}

static int h_getattr(void *app, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    REQ(Cairn__V1__GetAttrRequest, r);
    struct volume *v;
    struct asof at;
    struct vv vv;
    vv_init(&vv);
    struct attr a;
    int rv;
    if ((rv = arg_volume(app, &r->volume, &v)) == 0 && (rv = arg_at(v, r->at, &at, &vv)) == 0 &&
        (rv = fs_getattr(v, &at, r->ino, &a)) == 0)
        *resp = attr_reply(r->ino, &a);
    vv_fini(&vv);
    return rv;
}

static int h_setattr(void *app, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    REQ(Cairn__V1__SetAttrRequest, r);
    struct volume *v;
    int rv;
    if ((rv = arg_volume(app, &r->volume, &v)) != 0)
        return rv;
    if (r->mask & ~0x1ffu)
        return -EINVAL;
    struct setattr sa = {r->mask, r->mode,     r->uid,      r->gid,
                         r->size, r->atime_ns, r->mtime_ns, r->ctime_ns};
    struct attr a;
    if ((rv = fs_setattr(v, r->ino, &sa, &a)) == 0)
        *resp = attr_reply(r->ino, &a);
    return rv;
}

static int h_mknod(void *app, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    REQ(Cairn__V1__MknodRequest, r);
    struct volume *v;
    char name[256], target[PATH_MAX];
    int rv;
    if ((rv = arg_volume(app, &r->volume, &v)) != 0 || (rv = arg_name(&r->name, name)) != 0 ||
        (rv = arg_str(&r->symlink_target, PATH_MAX - 1, target)) != 0)
        return rv;
    uint64_t ino;
    struct attr a;
    rv = fs_mknod(v, r->parent, name, r->mode, r->rdev, r->uid, r->gid,
                  r->symlink_target.len ? target : NULL, &ino, &a);
    if (rv == 0)
        *resp = attr_reply_parent(ino, &a, v, r->parent);
    return rv;
}

static int entry_op(void *app, const ProtobufCMessage *msg, ProtobufCMessage **resp,
                    int (*op)(struct volume *, uint64_t, const char *))
{
    REQ(Cairn__V1__EntryRequest, r);
    struct volume *v;
    char name[256];
    int rv;
    if ((rv = arg_volume(app, &r->volume, &v)) == 0 && (rv = arg_name(&r->name, name)) == 0 &&
        (rv = op(v, r->parent, name)) == 0)
        *resp = attr_reply_parent(0, NULL, v, r->parent);
    return rv;
}

static int h_unlink(void *app, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    return entry_op(app, msg, resp, fs_unlink);
}

static int h_rmdir(void *app, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    return entry_op(app, msg, resp, fs_rmdir);
}

static int h_rename(void *app, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    REQ(Cairn__V1__RenameRequest, r);
    struct volume *v;
    char name[256], newname[256];
    int rv;
    if ((rv = arg_volume(app, &r->volume, &v)) == 0 && (rv = arg_name(&r->name, name)) == 0 &&
        (rv = arg_name(&r->new_name, newname)) == 0 &&
        (rv = fs_rename(v, r->parent, name, r->new_parent, newname, r->flags)) == 0)
        *resp = empty_reply();
    return rv;
}

static int h_link(void *app, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    REQ(Cairn__V1__LinkRequest, r);
    struct volume *v;
    char name[256];
    struct attr a;
    int rv;
    if ((rv = arg_volume(app, &r->volume, &v)) == 0 && (rv = arg_name(&r->new_name, name)) == 0 &&
        (rv = fs_link(v, r->ino, r->new_parent, name, &a)) == 0)
        *resp = attr_reply_parent(r->ino, &a, v, r->new_parent);
    return rv;
}

static int h_readlink(void *app, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    REQ(Cairn__V1__GetAttrRequest, r);
    struct volume *v;
    struct asof at;
    struct vv vv;
    vv_init(&vv);
    char target[PATH_MAX];
    size_t len;
    int rv;
    if ((rv = arg_volume(app, &r->volume, &v)) == 0 && (rv = arg_at(v, r->at, &at, &vv)) == 0 &&
        (rv = fs_readlink(v, &at, r->ino, target, sizeof target, &len)) == 0) {
        Cairn__V1__ReadlinkReply *rep = xmalloc(sizeof *rep);
        cairn__v1__readlink_reply__init(rep);
        rep->target = pb_bytes(target, len < sizeof target ? len : sizeof target);
        *resp = &rep->base;
    }
    vv_fini(&vv);
    return rv;
}

struct dirlist {
    Cairn__V1__ReadDirReply *rep;
    size_t cap, limit;
};

static int dir_one(void *ctx, const char *name, size_t nlen, uint64_t ino, uint32_t type,
                   const struct attr *a)
{
    struct dirlist *d = ctx;
    if (d->rep->n_entries == d->limit) {
        d->rep->eof = 0;
        return 1;
    }
    if (d->rep->n_entries == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 64;
        d->rep->entries = xrealloc(d->rep->entries, d->cap * sizeof *d->rep->entries);
    }
    Cairn__V1__DirEntry *e = xmalloc(sizeof *e);
    cairn__v1__dir_entry__init(e);
    e->name = pb_bytes(name, nlen);
    e->ino = ino;
    e->type = type;
    if (a)
        e->attr = pb_attr(ino, a);
    d->rep->entries[d->rep->n_entries++] = e;
    return 0;
}

static int h_readdir(void *app, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    REQ(Cairn__V1__ReadDirRequest, r);
    struct volume *v;
    struct asof at;
    struct vv vv;
    vv_init(&vv);
    char after[256];
    int rv;
    if ((rv = arg_volume(app, &r->volume, &v)) != 0 || (rv = arg_at(v, r->at, &at, &vv)) != 0 ||
        (rv = arg_str(&r->after, 255, after)) != 0) {
        vv_fini(&vv);
        return rv;
    }
    Cairn__V1__ReadDirReply *rep = xmalloc(sizeof *rep);
    cairn__v1__read_dir_reply__init(rep);
    rep->eof = 1;
    struct dirlist d = {rep, 0, r->limit ? r->limit : READDIR_DEFAULT};
    if (d.limit > READDIR_MAX)
        d.limit = READDIR_MAX;
    rv = fs_readdir(v, &at, r->dir, r->after.len ? after : NULL, r->after.len, r->with_attrs,
                    dir_one, &d);
    vv_fini(&vv);
    if (rv == 0 && r->relatime && !r->after.len && !at.vv && at.hlc == UINT64_MAX)
        (void)fs_read_atime(v, r->dir); /* best effort: the listing succeeded */
    if (rv != 0) {
        protobuf_c_message_free_unpacked(&rep->base, NULL);
        return rv;
    }
    *resp = &rep->base;
    return 0;
}

static int h_read(void *app, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    REQ(Cairn__V1__ReadRequest, r);
    struct service *s = app;
    struct volume *v;
    struct asof at;
    struct vv vv;
    vv_init(&vv);
    int rv;
    if (r->length > RPC_DATA_PIECE)
        return -E2BIG;
    if ((rv = arg_volume(app, &r->volume, &v)) == 0 && (rv = arg_at(v, r->at, &at, &vv)) == 0) {
        uint8_t *buf = xmalloc(r->length ? r->length : 1);
        size_t got;
        if ((rv = fs_read(v, &at, r->ino, r->offset, r->length, buf, &got)) == 0) {
            Cairn__V1__DataChunk *rep = xmalloc(sizeof *rep);
            cairn__v1__data_chunk__init(rep);
            rep->offset = r->offset;
            rep->data.len = got;
            rep->data.data = got ? buf : NULL;
            if (!got)
                free(buf);
            *resp = &rep->base;
            metrics_bytes_read(s->m, got);
            if (r->relatime && !at.vv && at.hlc == UINT64_MAX)
                (void)fs_read_atime(v, r->ino); /* best effort: the read succeeded */
        } else {
            free(buf);
        }
    }
    vv_fini(&vv);
    return rv;
}

struct rstream {
    struct service *s;
    struct volume *v;
    int relatime;
    uint64_t ino, off, end;
    struct asof at;
    struct vv vv;
};

static int rs_start(void *app, const ProtobufCMessage *msg, void **state)
{
    REQ(Cairn__V1__ReadRequest, r);
    struct rstream *st = xcalloc(1, sizeof *st);
    vv_init(&st->vv);
    st->s = app;
    int rv;
    if ((rv = arg_volume(app, &r->volume, &st->v)) != 0 ||
        (rv = arg_at(st->v, r->at, &st->at, &st->vv)) != 0) {
        vv_fini(&st->vv);
        free(st);
        return rv;
    }
    if (st->at.vv) /* points into our own copy */
        st->at.vv = &st->vv;
    st->ino = r->ino;
    st->off = r->offset;
    st->relatime = r->relatime && !st->at.vv && st->at.hlc == UINT64_MAX;
    st->end = r->length && r->length <= UINT64_MAX - r->offset ? r->offset + r->length : UINT64_MAX;
    struct attr a; /* fail at once for a missing inode or a directory */
    if ((rv = fs_getattr(st->v, &st->at, st->ino, &a)) == 0 && !S_ISREG(a.mode))
        rv = S_ISDIR(a.mode) ? -EISDIR : -EINVAL;
    if (rv != 0) {
        vv_fini(&st->vv);
        free(st);
        return rv;
    }
    *state = st;
    return 0;
}

static int rs_next(void *state, ProtobufCMessage **msg)
{
    struct rstream *st = state;
    if (st->off >= st->end)
        return 0;
    size_t n = st->end - st->off < RPC_DATA_PIECE ? (size_t)(st->end - st->off) : RPC_DATA_PIECE;
    uint8_t *buf = xmalloc(n);
    size_t got;
    int rv = fs_read(st->v, &st->at, st->ino, st->off, n, buf, &got);
    if (rv != 0 || got == 0) {
        free(buf);
        return rv;
    }
    Cairn__V1__DataChunk *c = xmalloc(sizeof *c);
    cairn__v1__data_chunk__init(c);
    c->offset = st->off;
    c->data.len = got;
    c->data.data = buf;
    st->off += got;
    metrics_bytes_read(st->s->m, got);
    *msg = &c->base;
    return 1;
}

static void rs_free(void *state)
{
    struct rstream *st = state;
    if (st->relatime)
        (void)fs_read_atime(st->v, st->ino);
    vv_fini(&st->vv);
    free(st);
}

static ProtobufCMessage *write_reply(uint64_t written, uint64_t ino, const struct attr *a)
{
    Cairn__V1__WriteReply *rep = xmalloc(sizeof *rep);
    cairn__v1__write_reply__init(rep);
    rep->written = written;
    rep->attr = pb_attr(ino, a);
    return &rep->base;
}

static int h_write(void *app, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    REQ(Cairn__V1__WriteRequest, r);
    struct service *s = app;
    struct volume *v;
    struct attr a;
    int rv;
    if (r->data.len > WRITE_UNARY_MAX)
        return -E2BIG;
    if ((rv = arg_volume(app, &r->volume, &v)) == 0 &&
        (rv = fs_write(v, r->ino, r->offset, r->data.data, r->data.len, &a)) == 0) {
        if (r->data.len == 0)
            rv = fs_getattr(v, &ASOF_NOW, r->ino, &a);
        if (rv == 0) {
            *resp = write_reply(r->data.len, r->ino, &a);
            metrics_bytes_written(s->m, r->data.len);
        }
    }
    return rv;
}

struct wstream {
    struct service *s;
    struct volume *v;
    uint64_t ino, written;
    struct attr a;
};

static int ws_start(void *app, void **state)
{
    struct wstream *st = xcalloc(1, sizeof *st);
    st->s = app;
    *state = st;
    return 0;
}

static int ws_msg(void *state, const ProtobufCMessage *msg, const struct rpc_segs *segs)
{
    REQ(Cairn__V1__WriteRequest, r);
    struct wstream *st = state;
    int rv;
    if (!st->v) { /* the first message names the file */
        if ((rv = arg_volume(st->s, &r->volume, &st->v)) != 0)
            return rv;
        st->ino = r->ino;
        if ((rv = fs_getattr(st->v, &ASOF_NOW, st->ino, &st->a)) != 0)
            return rv;
    } else { /* later messages may repeat the file, not name another */
        struct volume *v;
        if ((r->ino != st->ino && r->ino != 0) ||
            (r->volume.len && (arg_volume(st->s, &r->volume, &v) != 0 || v != st->v)))
            return -EINVAL;
    }
    struct iovec one = {r->data.data, r->data.len};
    const struct iovec *iov = segs ? segs->iov : &one;
    size_t len = segs ? segs->len : r->data.len;
    if (len > RPC_MAX_MESSAGE)
        return -E2BIG;
    if ((rv = fs_writev(st->v, st->ino, r->offset, iov, segs ? segs->n : 1, &st->a)) != 0)
        return rv;
    st->written += len;
    metrics_bytes_written(st->s->m, len);
    return 0;
}

static int ws_finish(void *state, ProtobufCMessage **resp)
{
    struct wstream *st = state;
    if (!st->v)
        return -EINVAL; /* an empty stream names no file */
    *resp = write_reply(st->written, st->ino, &st->a);
    return 0;
}

static void ws_free(void *state)
{
    free(state);
}

static int h_fsync(void *app, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    REQ(Cairn__V1__VolumeRequest, r);
    struct service *s = app;
    struct volume *v;
    int rv;
    if ((rv = arg_volume(app, &r->volume, &v)) != 0)
        return rv;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rv = fs_fsync(v);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    metrics_fsync(s->m, (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    if (rv == 0)
        *resp = empty_reply();
    return rv;
}

static int h_statfs(void *app, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    REQ(Cairn__V1__VolumeRequest, r);
    struct volume *v;
    struct fs_statfs st;
    int rv;
    if ((rv = arg_volume(app, &r->volume, &v)) == 0 && (rv = fs_statfs(v, &st)) == 0) {
        Cairn__V1__StatFsReply *rep = xmalloc(sizeof *rep);
        cairn__v1__stat_fs_reply__init(rep);
        rep->capacity = st.capacity;
        rep->used = st.used;
        rep->files = st.files;
        rep->name_max = st.name_max;
        rep->block_size = 4096;
        *resp = &rep->base;
    }
    return rv;
}

static int xattr_args(void *app, const Cairn__V1__XattrRequest *r, struct volume **v,
                      char name[256])
{
    int rv = arg_volume(app, &r->volume, v);
    return rv ? rv : arg_name(&r->name, name);
}

static int h_setxattr(void *app, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    REQ(Cairn__V1__XattrRequest, r);
    struct volume *v;
    char name[256];
    int rv;
    if ((rv = xattr_args(app, r, &v, name)) == 0 &&
        (rv = fs_setxattr(v, r->ino, name, r->value.data, r->value.len, r->flags)) == 0)
        *resp = empty_reply();
    return rv;
}

static int h_removexattr(void *app, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    REQ(Cairn__V1__XattrRequest, r);
    struct volume *v;
    char name[256];
    int rv;
    if ((rv = xattr_args(app, r, &v, name)) == 0 && (rv = fs_removexattr(v, r->ino, name)) == 0)
        *resp = empty_reply();
    return rv;
}

static ProtobufCMessage *xattr_reply(uint8_t *buf, size_t len)
{
    Cairn__V1__XattrReply *rep = xmalloc(sizeof *rep);
    cairn__v1__xattr_reply__init(rep);
    rep->value.len = len;
    rep->value.data = len ? buf : NULL;
    if (!len)
        free(buf);
    return &rep->base;
}

static int h_getxattr(void *app, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    REQ(Cairn__V1__XattrRequest, r);
    struct volume *v;
    char name[256];
    struct asof at;
    struct vv vv;
    vv_init(&vv);
    int rv;
    if ((rv = xattr_args(app, r, &v, name)) == 0 && (rv = arg_at(v, r->at, &at, &vv)) == 0) {
        uint8_t *buf = xmalloc(XATTR_BUF);
        size_t len;
        if ((rv = fs_getxattr(v, &at, r->ino, name, buf, XATTR_BUF, &len)) == 0)
            *resp = xattr_reply(buf, len);
        else
            free(buf);
    }
    vv_fini(&vv);
    return rv;
}

static int h_listxattr(void *app, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    REQ(Cairn__V1__XattrRequest, r);
    struct volume *v;
    struct asof at;
    struct vv vv;
    vv_init(&vv);
    int rv;
    if ((rv = arg_volume(app, &r->volume, &v)) == 0 && (rv = arg_at(v, r->at, &at, &vv)) == 0) {
        /* Size, then fill; again if the list grew in between (a bounded
         * number of times: ERANGE then says it keeps growing). */
        for (int tries = 0; tries < 8; tries++) {
            size_t len;
            if ((rv = fs_listxattr(v, &at, r->ino, NULL, 0, &len)) != 0)
                break;
            uint8_t *buf = xmalloc(len ? len : 1);
            size_t cap = len;
            if ((rv = fs_listxattr(v, &at, r->ino, (char *)buf, cap, &len)) == 0) {
                *resp = xattr_reply(buf, len);
                break;
            }
            free(buf);
            if (rv != -ERANGE)
                break;
        }
    }
    vv_fini(&vv);
    return rv;
}

/* The most versions (snapshots) one History (SnapshotList) reply holds
 * when the client pages. */
#define HISTORY_PAGE 4096u

struct versions {
    Cairn__V1__HistoryReply *rep;
    size_t cap;
    uint64_t ino;
    size_t limit; /* 0: all */
    size_t bytes; /* of the reply so far, for limit 0 */
};

/* Adds ITEM's share to *BYTES, the packed size of a reply of every version
 * (snapshot): -EMSGSIZE once it would not fit one message, so that a limit 0
 * asking for a history longer than any client can receive is refused before
 * it costs the daemon more memory than the message could hold. */
static int reply_room(size_t *bytes, const ProtobufCMessage *item)
{
    size_t n = protobuf_c_message_get_packed_size(item);
    *bytes += n + 2; /* its tag (1 byte) and length (varint) */
    for (; n >= 128; n >>= 7)
        (*bytes)++;
    return *bytes > RPC_MAX_MESSAGE ? -EMSGSIZE : 0;
}

static int version_one(void *ctx, const struct version *ver)
{
    struct versions *h = ctx;
    if (h->limit && h->rep->n_versions == h->limit) {
        h->rep->more = 1; /* one more exists: the page is full */
        return 1;
    }
    if (h->rep->n_versions == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 16;
        h->rep->versions = xrealloc(h->rep->versions, h->cap * sizeof *h->rep->versions);
    }
    Cairn__V1__Version *p = xmalloc(sizeof *p);
    cairn__v1__version__init(p);
    p->hlc = ver->hlc;
    p->origin = ver->dot.origin;
    p->seq = ver->dot.seq;
    p->time_ms = (int64_t)HLC_MS(ver->hlc);
    p->attr = pb_attr(h->ino, &ver->attr);
    h->rep->versions[h->rep->n_versions++] = p;
    return h->limit ? 0 : reply_room(&h->bytes, &p->base);
}

static int h_history(void *app, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    REQ(Cairn__V1__HistoryRequest, r);
    struct volume *v;
    char path[PATH_MAX];
    uint64_t ino = r->ino;
    struct attr a;
    int rv;
    if ((rv = arg_volume(app, &r->volume, &v)) != 0)
        return rv;
    if (r->path.len && ((rv = arg_path(&r->path, path)) != 0 ||
                        (rv = fs_resolve(v, &ASOF_NOW, path, &ino, &a)) != 0))
        return rv;
    Cairn__V1__HistoryReply *rep = xmalloc(sizeof *rep);
    cairn__v1__history_reply__init(rep);
    struct versions h = {rep, 0, ino, r->limit < HISTORY_PAGE ? r->limit : HISTORY_PAGE, 0};
    struct stamp after = {r->after_hlc, r->after_origin};
    if ((rv = fs_history(v, ino, r->after_hlc ? &after : NULL, version_one, &h)) != 0) {
        protobuf_c_message_free_unpacked(&rep->base, NULL);
        return rv;
    }
    *resp = &rep->base;
    return 0;
}

static int h_snapshot_create(void *app, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    REQ(Cairn__V1__SnapshotRequest, r);
    struct volume *v;
    char name[256];
    int rv;
    if ((rv = arg_volume(app, &r->volume, &v)) == 0 && (rv = arg_name(&r->name, name)) == 0 &&
        (rv = fs_snapshot_create(v, name)) == 0)
        *resp = empty_reply();
    return rv;
}

struct snaps {
    Cairn__V1__SnapshotListReply *rep;
    size_t cap;
    size_t limit; /* 0: all */
    size_t bytes; /* of the reply so far, for limit 0 */
};

static int snap_one(void *ctx, const char *name, uint64_t hlc, const struct vv *vv)
{
    (void)vv;
    struct snaps *s = ctx;
    if (s->limit && s->rep->n_snapshots == s->limit) {
        s->rep->more = 1; /* one more exists: the page is full */
        return 1;
    }
    if (s->rep->n_snapshots == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->rep->snapshots = xrealloc(s->rep->snapshots, s->cap * sizeof *s->rep->snapshots);
    }
    Cairn__V1__Snapshot *p = xmalloc(sizeof *p);
    cairn__v1__snapshot__init(p);
    p->name = pb_bytes(name, strlen(name));
    p->hlc = hlc;
    p->time_ms = (int64_t)HLC_MS(hlc);
    s->rep->snapshots[s->rep->n_snapshots++] = p;
    return s->limit ? 0 : reply_room(&s->bytes, &p->base);
}

static int h_snapshot_list(void *app, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    REQ(Cairn__V1__SnapshotListRequest, r);
    struct volume *v;
    char after[256];
    int rv;
    if ((rv = arg_volume(app, &r->volume, &v)) != 0 ||
        (r->after.len && (rv = arg_name(&r->after, after)) != 0))
        return rv;
    Cairn__V1__SnapshotListReply *rep = xmalloc(sizeof *rep);
    cairn__v1__snapshot_list_reply__init(rep);
    struct snaps s = {rep, 0, r->limit < HISTORY_PAGE ? r->limit : HISTORY_PAGE, 0};
    if ((rv = fs_snapshot_list(v, r->after.len ? after : NULL, snap_one, &s)) != 0) {
        protobuf_c_message_free_unpacked(&rep->base, NULL);
        return rv;
    }
    *resp = &rep->base;
    return 0;
}

/* ---- Admin ---- */

static int h_node_status(void *app, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    (void)msg;
    struct service *s = app;
    Cairn__V1__NodeStatusReply *rep = xmalloc(sizeof *rep);
    cairn__v1__node_status_reply__init(rep);
    rep->node_id = engine_node_id(s->e);
    rep->name = pb_bytes(s->cfg->name, strlen(s->cfg->name));
    rep->version = xstrdup(CAIRN_VERSION);
    rep->data_dir = xstrdup(s->cfg->data_dir);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    rep->uptime_s = (uint64_t)(now.tv_sec - s->started.tv_sec);
    struct chunk_info *ci;
    struct volume_info *vi;
    size_t n;
    if (engine_chunk_list(s->e, &ci, &n) == 0) {
        rep->chunks = (uint32_t)n;
        free(ci);
    }
    if (engine_volume_list(s->e, &vi, &n) == 0) {
        rep->volumes = (uint32_t)n;
        free(vi);
    }
    rep->index_bytes = engine_index_bytes(s->e);
    struct engine_stats st;
    engine_stats(s->e, &st);
    rep->bytes_appended = st.bytes_appended;
    rep->flushes = st.flushes;
    rep->checksum_errors = st.checksum_errors;
    rep->index_lost = engine_index_lost(s->e) != 0;
    rep->damaged_located = st.damaged_located;
    rep->index_rebuilt = xstrdup(engine_index_rebuilt(s->e));
    *resp = &rep->base;
    return 0;
}

static int h_node_reindex(void *app, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    (void)msg;
    struct service *s = app;
    int rv = engine_reindex(s->e);
    if (rv == 0)
        *resp = admin_empty();
    return rv;
}

static Cairn__V1__ChunkInfo *pb_chunk(const struct chunk_info *c)
{
    Cairn__V1__ChunkInfo *p = xmalloc(sizeof *p);
    cairn__v1__chunk_info__init(p);
    char hex[33];
    chunk_id_hex(c->id, hex);
    p->id = xstrdup(hex);
    p->number = c->no;
    p->capacity = c->capacity;
    p->used = c->used;
    p->volume = pb_bytes(c->volume, strlen(c->volume));
    return p;
}

static int h_chunk_create(void *app, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    REQ(Cairn__V1__ChunkCreateRequest, r);
    struct service *s = app;
    uint32_t count = r->count ? r->count : 1;
    uint64_t size = r->size ? r->size : s->cfg->chunk_size;
    if (count > 1024)
        return -EINVAL;
    Cairn__V1__ChunkListReply *rep = xmalloc(sizeof *rep);
    cairn__v1__chunk_list_reply__init(rep);
    rep->chunks = xcalloc(count, sizeof *rep->chunks);
    int rv = 0;
    for (uint32_t i = 0; i < count && rv == 0; i++) {
        uint8_t id[16];
        if ((rv = engine_chunk_create(s->e, size, id)) != 0)
            break;
        struct chunk_info *ci;
        size_t n;
        if ((rv = engine_chunk_list(s->e, &ci, &n)) != 0)
            break;
        for (size_t k = n; k-- > 0;) /* the new chunk has the highest number */
            if (memcmp(ci[k].id, id, 16) == 0) {
                rep->chunks[rep->n_chunks++] = pb_chunk(&ci[k]);
                break;
            }
        free(ci);
    }
    if (rv != 0) { /* the caller hears the error; the log, what was made */
        if (rep->n_chunks)
            log_warn("service", "chunk create: %zu of %u chunks made, then: %s", rep->n_chunks,
                     count, cairn_strerror(rv));
        protobuf_c_message_free_unpacked(&rep->base, NULL);
        return rv;
    }
    *resp = &rep->base;
    return 0;
}

static int h_chunk_list(void *app, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    (void)msg;
    struct service *s = app;
    struct chunk_info *ci;
    size_t n;
    int rv = engine_chunk_list(s->e, &ci, &n);
    if (rv != 0)
        return rv;
    Cairn__V1__ChunkListReply *rep = xmalloc(sizeof *rep);
    cairn__v1__chunk_list_reply__init(rep);
    rep->chunks = xcalloc(n ? n : 1, sizeof *rep->chunks);
    for (size_t i = 0; i < n; i++)
        rep->chunks[rep->n_chunks++] = pb_chunk(&ci[i]);
    free(ci);
    *resp = &rep->base;
    return 0;
}

static int h_chunk_assign(void *app, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    REQ(Cairn__V1__ChunkAssignRequest, r);
    struct service *s = app;
    char hex[64], vol[256];
    uint8_t id[16];
    int rv;
    if ((rv = arg_str(&r->chunk, 63, hex)) != 0 || (rv = arg_name(&r->volume, vol)) != 0)
        return rv;
    if (chunk_id_parse(hex, id) != 0)
        return -EINVAL;
    if ((rv = engine_chunk_assign(s->e, id, vol)) == 0)
        *resp = admin_empty();
    return rv;
}

static int h_volume_create(void *app, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    REQ(Cairn__V1__VolumeCreateRequest, r);
    struct service *s = app;
    char name[256], dur[64];
    int rv;
    if ((rv = arg_name(&r->name, name)) != 0 || (rv = arg_str(&r->durability, 63, dur)) != 0)
        return rv;
    enum durability d = DURABILITY_LOCAL;
    unsigned replicas = 0;
    if (dur[0] && strcmp(dur, "local") != 0) {
        char extra;
        if (sscanf(dur, "replicas=%u%c", &replicas, &extra) != 1 || replicas < 1 || replicas > 16)
            return -EINVAL;
        d = DURABILITY_REPLICAS;
    }
    /* No replication exists yet: a volume that promised N copies would
     * acknowledge every fsync with one. Refused until peers can keep it. */
    if (d == DURABILITY_REPLICAS)
        return -EOPNOTSUPP;
    if ((rv = engine_volume_create(s->e, name, d, (uint8_t)replicas)) == 0)
        *resp = admin_empty();
    return rv;
}

static int h_volume_list(void *app, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    (void)msg;
    struct service *s = app;
    struct volume_info *vi;
    size_t n;
    int rv = engine_volume_list(s->e, &vi, &n);
    if (rv != 0)
        return rv;
    Cairn__V1__VolumeListReply *rep = xmalloc(sizeof *rep);
    cairn__v1__volume_list_reply__init(rep);
    rep->volumes = xcalloc(n ? n : 1, sizeof *rep->volumes);
    for (size_t i = 0; i < n; i++) {
        Cairn__V1__VolumeInfo *p = xmalloc(sizeof *p);
        cairn__v1__volume_info__init(p);
        char hex[33], dur[32];
        chunk_id_hex(vi[i].id, hex);
        if (vi[i].durability == DURABILITY_REPLICAS)
            snprintf(dur, sizeof dur, "replicas=%u", vi[i].replicas);
        else
            snprintf(dur, sizeof dur, "local");
        p->name = pb_bytes(vi[i].name, strlen(vi[i].name));
        p->id = xstrdup(hex);
        p->durability = pb_bytes(dur, strlen(dur));
        p->chunks = vi[i].chunks;
        p->capacity = vi[i].capacity;
        p->used = vi[i].used;
        p->read_only = vi[i].failed;
        rep->volumes[rep->n_volumes++] = p;
    }
    free(vi);
    *resp = &rep->base;
    return 0;
}

/* ---- Peer ---- */

static int h_ping(void *app, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    (void)msg;
    struct service *s = app;
    Cairn__V1__PingReply *rep = xmalloc(sizeof *rep);
    cairn__v1__ping_reply__init(rep);
    rep->node_id = engine_node_id(s->e);
    rep->hlc = hlc_now(engine_hlc(s->e));
    *resp = &rep->base;
    return 0;
}

#define UNARY(id, desc, fn)                                                                        \
    [id] = {NULL, RPC_UNARY, &desc, fn, NULL, NULL, NULL, NULL, NULL, NULL, 0}
/* A handler that may wait for the disk: it reads file data (perhaps not
 * cached), syncs (Fsync; catalog changes: chunk create and assign, volume
 * create), or scans (rpc.h slow). A unary Write is at most one piece into
 * the page cache: not slow. */
#define UNARY_SLOW(id, desc, fn)                                                                   \
    [id] = {NULL, RPC_UNARY, &desc, fn, NULL, NULL, NULL, NULL, NULL, NULL, 1}

const struct rpc_method service_methods[M_COUNT] = {
    UNARY(M_FS_LOOKUP, cairn__v1__lookup_request__descriptor, h_lookup),
    UNARY(M_FS_RESOLVE, cairn__v1__resolve_request__descriptor, h_resolve),
    UNARY(M_FS_GETATTR, cairn__v1__get_attr_request__descriptor, h_getattr),
    UNARY(M_FS_SETATTR, cairn__v1__set_attr_request__descriptor, h_setattr),
    UNARY(M_FS_MKNOD, cairn__v1__mknod_request__descriptor, h_mknod),
    UNARY(M_FS_UNLINK, cairn__v1__entry_request__descriptor, h_unlink),
    UNARY(M_FS_RMDIR, cairn__v1__entry_request__descriptor, h_rmdir),
    UNARY(M_FS_RENAME, cairn__v1__rename_request__descriptor, h_rename),
    UNARY(M_FS_LINK, cairn__v1__link_request__descriptor, h_link),
    UNARY(M_FS_READLINK, cairn__v1__get_attr_request__descriptor, h_readlink),
    UNARY(M_FS_READDIR, cairn__v1__read_dir_request__descriptor, h_readdir),
    UNARY_SLOW(M_FS_READ, cairn__v1__read_request__descriptor, h_read),
    [M_FS_READSTREAM] = {NULL, RPC_SERVER_STREAM, &cairn__v1__read_request__descriptor, NULL,
                         rs_start, rs_next, NULL, NULL, NULL, rs_free, 1},
    UNARY(M_FS_WRITE, cairn__v1__write_request__descriptor, h_write),
    [M_FS_WRITESTREAM] = {NULL, RPC_CLIENT_STREAM, &cairn__v1__write_request__descriptor, NULL,
                          NULL, NULL, ws_start, ws_msg, ws_finish, ws_free, 1},
    UNARY_SLOW(M_FS_FSYNC, cairn__v1__volume_request__descriptor, h_fsync),
    UNARY(M_FS_STATFS, cairn__v1__volume_request__descriptor, h_statfs),
    UNARY(M_FS_SETXATTR, cairn__v1__xattr_request__descriptor, h_setxattr),
    UNARY(M_FS_GETXATTR, cairn__v1__xattr_request__descriptor, h_getxattr),
    UNARY(M_FS_LISTXATTR, cairn__v1__xattr_request__descriptor, h_listxattr),
    UNARY(M_FS_REMOVEXATTR, cairn__v1__xattr_request__descriptor, h_removexattr),
    UNARY_SLOW(M_FS_HISTORY, cairn__v1__history_request__descriptor, h_history),
    UNARY(M_FS_SNAPSHOTCREATE, cairn__v1__snapshot_request__descriptor, h_snapshot_create),
    UNARY(M_FS_SNAPSHOTLIST, cairn__v1__snapshot_list_request__descriptor, h_snapshot_list),
    UNARY(M_ADMIN_NODESTATUS, cairn__v1__admin_empty__descriptor, h_node_status),
    UNARY_SLOW(M_ADMIN_NODEREINDEX, cairn__v1__admin_empty__descriptor, h_node_reindex),
    UNARY_SLOW(M_ADMIN_CHUNKCREATE, cairn__v1__chunk_create_request__descriptor, h_chunk_create),
    UNARY(M_ADMIN_CHUNKLIST, cairn__v1__admin_empty__descriptor, h_chunk_list),
    UNARY_SLOW(M_ADMIN_CHUNKASSIGN, cairn__v1__chunk_assign_request__descriptor, h_chunk_assign),
    UNARY_SLOW(M_ADMIN_VOLUMECREATE, cairn__v1__volume_create_request__descriptor, h_volume_create),
    UNARY(M_ADMIN_VOLUMELIST, cairn__v1__admin_empty__descriptor, h_volume_list),
    UNARY(M_PEER_PING, cairn__v1__ping_request__descriptor, h_ping),
};
