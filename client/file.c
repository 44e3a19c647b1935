/*
 * file.c — owns libcairn's file calls (cairn.h): one RPC each, except reads
 * and writes larger than one piece, which stream.
 * Threads: any.
 */
#include "client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#define FREE(m) protobuf_c_message_free_unpacked(&(m)->base, NULL)

static int attr_call(cairn_t *c, enum rpc_method_id m, const void *req, cairn_attr_t *out)
{
    Cairn__V1__AttrReply *rep = NULL;
    int rv = cl_call(c, m, req, &cairn__v1__attr_reply__descriptor, &rep);
    if (rv == 0) {
        if (out)
            cl_attr(out, rep->attr);
        FREE(rep);
    }
    return rv;
}

static int empty_call(cairn_t *c, enum rpc_method_id m, const void *req)
{
    Cairn__V1__Empty *rep = NULL;
    int rv = cl_call(c, m, req, &cairn__v1__empty__descriptor, &rep);
    if (rv == 0)
        FREE(rep);
    return rv;
}

int cairn_lookup(cairn_t *c, const char *vol, uint64_t parent, const char *name,
                 const cairn_at_t *at, cairn_attr_t *out)
{
    Cairn__V1__LookupRequest r = CAIRN__V1__LOOKUP_REQUEST__INIT;
    Cairn__V1__At a;
    r.volume = cl_bytes(vol);
    r.parent = parent;
    r.name = cl_bytes(name);
    r.at = cl_at(&a, at);
    return attr_call(c, M_FS_LOOKUP, &r, out);
}

int cairn_resolve(cairn_t *c, const char *vol, const char *path, const cairn_at_t *at,
                  cairn_attr_t *out)
{
    Cairn__V1__ResolveRequest r = CAIRN__V1__RESOLVE_REQUEST__INIT;
    Cairn__V1__At a;
    r.volume = cl_bytes(vol);
    r.path = cl_bytes(path);
    r.at = cl_at(&a, at);
    return attr_call(c, M_FS_RESOLVE, &r, out);
}

int cairn_getattr(cairn_t *c, const char *vol, uint64_t ino, const cairn_at_t *at,
                  cairn_attr_t *out)
{
    Cairn__V1__GetAttrRequest r = CAIRN__V1__GET_ATTR_REQUEST__INIT;
    Cairn__V1__At a;
    r.volume = cl_bytes(vol);
    r.ino = ino;
    r.at = cl_at(&a, at);
    return attr_call(c, M_FS_GETATTR, &r, out);
}

int cairn_setattr(cairn_t *c, const char *vol, uint64_t ino, const cairn_setattr_t *sa,
                  cairn_attr_t *out)
{
    Cairn__V1__SetAttrRequest r = CAIRN__V1__SET_ATTR_REQUEST__INIT;
    r.volume = cl_bytes(vol);
    r.ino = ino;
    r.mask = sa->mask;
    r.mode = sa->mode;
    r.uid = sa->uid;
    r.gid = sa->gid;
    r.size = sa->size;
    r.atime_ns = sa->atime_ns;
    r.mtime_ns = sa->mtime_ns;
    r.ctime_ns = sa->ctime_ns;
    return attr_call(c, M_FS_SETATTR, &r, out);
}

/* The parent's attributes from this thread's last mknod, symlink or link. */
static __thread cairn_attr_t last_parent;
static __thread int has_last_parent;

int cairn_last_parent(cairn_attr_t *out)
{
    if (has_last_parent)
        *out = last_parent;
    return has_last_parent;
}

/* attr_call for replies that may carry the parent's attributes. */
static int parent_call(cairn_t *c, enum rpc_method_id m, const void *req, cairn_attr_t *out)
{
    Cairn__V1__AttrReply *rep = NULL;
    has_last_parent = 0;
    int rv = cl_call(c, m, req, &cairn__v1__attr_reply__descriptor, &rep);
    if (rv == 0) {
        if (out && rep->attr)
            cl_attr(out, rep->attr);
        if (rep->parent) {
            cl_attr(&last_parent, rep->parent);
            has_last_parent = 1;
        }
        FREE(rep);
    }
    return rv;
}

static int mknod_call(cairn_t *c, const char *vol, uint64_t parent, const char *name, uint32_t mode,
                      uint64_t rdev, uint32_t uid, uint32_t gid, const char *target,
                      cairn_attr_t *out)
{
    Cairn__V1__MknodRequest r = CAIRN__V1__MKNOD_REQUEST__INIT;
    r.volume = cl_bytes(vol);
    r.parent = parent;
    r.name = cl_bytes(name);
    r.mode = mode;
    r.rdev = rdev;
    r.uid = uid;
    r.gid = gid;
    r.symlink_target = cl_bytes(target);
    return parent_call(c, M_FS_MKNOD, &r, out);
}

int cairn_mknod(cairn_t *c, const char *vol, uint64_t parent, const char *name, uint32_t mode,
                uint64_t rdev, uint32_t uid, uint32_t gid, cairn_attr_t *out)
{
    return mknod_call(c, vol, parent, name, mode, rdev, uid, gid, NULL, out);
}

int cairn_symlink(cairn_t *c, const char *vol, uint64_t parent, const char *name,
                  const char *target, uint32_t uid, uint32_t gid, cairn_attr_t *out)
{
    if (!target || !*target)
        return -ENOENT;
    return mknod_call(c, vol, parent, name, S_IFLNK | 0777, 0, uid, gid, target, out);
}

static int entry_call(cairn_t *c, enum rpc_method_id m, const char *vol, uint64_t parent,
                      const char *name)
{
    Cairn__V1__EntryRequest r = CAIRN__V1__ENTRY_REQUEST__INIT;
    r.volume = cl_bytes(vol);
    r.parent = parent;
    r.name = cl_bytes(name);
    return parent_call(c, m, &r, NULL);
}

int cairn_unlink(cairn_t *c, const char *vol, uint64_t parent, const char *name)
{
    return entry_call(c, M_FS_UNLINK, vol, parent, name);
}

int cairn_rmdir(cairn_t *c, const char *vol, uint64_t parent, const char *name)
{
    return entry_call(c, M_FS_RMDIR, vol, parent, name);
}

int cairn_rename(cairn_t *c, const char *vol, uint64_t parent, const char *name, uint64_t newparent,
                 const char *newname, unsigned flags)
{
    Cairn__V1__RenameRequest r = CAIRN__V1__RENAME_REQUEST__INIT;
    r.volume = cl_bytes(vol);
    r.parent = parent;
    r.name = cl_bytes(name);
    r.new_parent = newparent;
    r.new_name = cl_bytes(newname);
    r.flags = flags;
    return empty_call(c, M_FS_RENAME, &r);
}

int cairn_link(cairn_t *c, const char *vol, uint64_t ino, uint64_t newparent, const char *newname,
               cairn_attr_t *out)
{
    Cairn__V1__LinkRequest r = CAIRN__V1__LINK_REQUEST__INIT;
    r.volume = cl_bytes(vol);
    r.ino = ino;
    r.new_parent = newparent;
    r.new_name = cl_bytes(newname);
    return parent_call(c, M_FS_LINK, &r, out);
}

int cairn_readlink(cairn_t *c, const char *vol, uint64_t ino, const cairn_at_t *at, char *buf,
                   size_t cap)
{
    Cairn__V1__GetAttrRequest r = CAIRN__V1__GET_ATTR_REQUEST__INIT;
    Cairn__V1__At a;
    r.volume = cl_bytes(vol);
    r.ino = ino;
    r.at = cl_at(&a, at);
    Cairn__V1__ReadlinkReply *rep = NULL;
    int rv = cl_call(c, M_FS_READLINK, &r, &cairn__v1__readlink_reply__descriptor, &rep);
    if (rv == 0) {
        if (cap)
            cl_copy(buf, cap, &rep->target);
        FREE(rep);
    }
    return rv;
}

int cairn_readdir(cairn_t *c, const char *vol, uint64_t dir, const cairn_at_t *at,
                  const char *after, int with_attrs, cairn_dirent_fn fn, void *ctx)
{
    char last[256];
    ProtobufCBinaryData start = cl_bytes(after);
    cl_copy(last, sizeof last, &start);
    for (int page = 0;; page++) {
        Cairn__V1__ReadDirRequest r = CAIRN__V1__READ_DIR_REQUEST__INIT;
        Cairn__V1__At a;
        r.volume = cl_bytes(vol);
        r.dir = dir;
        r.after = cl_bytes(last);
        r.with_attrs = with_attrs;
        r.at = cl_at(&a, at);
        r.relatime = c->relatime && !r.at && page == 0 && !after;
        Cairn__V1__ReadDirReply *rep = NULL;
        int rv = cl_call(c, M_FS_READDIR, &r, &cairn__v1__read_dir_reply__descriptor, &rep);
        if (rv != 0)
            return rv;
        int stop = 0;
        for (size_t i = 0; i < rep->n_entries && !stop; i++) {
            Cairn__V1__DirEntry *e = rep->entries[i];
            char name[256];
            cl_copy(name, sizeof name, &e->name);
            cairn_attr_t attr;
            if (e->attr)
                cl_attr(&attr, e->attr);
            stop = fn(ctx, name, e->ino, e->type, e->attr ? &attr : NULL);
            snprintf(last, sizeof last, "%s", name);
        }
        int eof = rep->eof || rep->n_entries == 0;
        FREE(rep);
        if (stop)
            return stop == 1 ? 0 : stop;
        if (eof)
            return 0;
    }
}

struct rctx {
    uint8_t *buf;
    uint64_t off;
    size_t len, got;
};

_Static_assert(CAIRN_CALL_MAX == RPC_DATA_PIECE, "cairn.h and rpc.h disagree on the piece size");

/* How many pieces a stream of LEN bytes carries (its deadline counts them). */
static size_t pieces_of(size_t len)
{
    return (len + RPC_DATA_PIECE - 1) / RPC_DATA_PIECE;
}

static int read_piece(void *ctx, const ProtobufCMessage *m, const struct rpc_segs *segs)
{
    struct rctx *r = ctx;
    const Cairn__V1__DataChunk *d = (const Cairn__V1__DataChunk *)m;
    size_t len = segs ? segs->len : d->data.len;
    if (d->offset < r->off || d->offset - r->off > r->len || len > r->len - (d->offset - r->off))
        return CAIRN_EPROTO; /* the server sent bytes we did not ask for */
    uint8_t *to = r->buf + (d->offset - r->off);
    if (segs) { /* the data where it was received: one copy, into the caller's buffer */
        for (int i = 0; i < segs->n; i++) {
            memcpy(to, segs->iov[i].iov_base, segs->iov[i].iov_len);
            to += segs->iov[i].iov_len;
        }
    } else if (len) { /* an empty piece (end of file) has no data pointer */
        memcpy(to, d->data.data, len);
    }
    size_t end = (size_t)(d->offset - r->off) + len;
    if (end > r->got)
        r->got = end;
    return 0;
}

int cairn_read(cairn_t *c, const char *vol, uint64_t ino, uint64_t off, size_t len, void *buf,
               const cairn_at_t *at, size_t *got)
{
    Cairn__V1__ReadRequest r = CAIRN__V1__READ_REQUEST__INIT;
    Cairn__V1__At a;
    r.volume = cl_bytes(vol);
    r.ino = ino;
    r.offset = off;
    r.length = len;
    r.at = cl_at(&a, at);
    r.relatime = c->relatime && !r.at;
    *got = 0;
    if (len == 0)
        return 0;
    struct rctx rc = {buf, off, len, 0};
    int rv;
    if (len <= RPC_DATA_PIECE) {
        Cairn__V1__DataChunk *rep = NULL;
        rv = cl_call(c, M_FS_READ, &r, &cairn__v1__data_chunk__descriptor, &rep);
        if (rv == 0) {
            rv = read_piece(&rc, &rep->base, NULL);
            FREE(rep);
        }
    } else {
        rv = rpc_server_stream(c->ch, M_FS_READSTREAM, pieces_of(len), &r.base,
                               &cairn__v1__data_chunk__descriptor, read_piece, &rc);
    }
    if (rv == 0)
        *got = rc.got;
    return rv;
}

struct wctx {
    Cairn__V1__WriteRequest req;
    const uint8_t *buf;
    uint64_t off;
    size_t len, done;
};

static int write_piece(void *ctx, const ProtobufCMessage **m)
{
    struct wctx *w = ctx;
    if (w->done == w->len)
        return 0;
    size_t n = w->len - w->done < RPC_DATA_PIECE ? w->len - w->done : RPC_DATA_PIECE;
    w->req.offset = w->off + w->done;
    w->req.data.data = (uint8_t *)(uintptr_t)(w->buf + w->done);
    w->req.data.len = n;
    w->done += n;
    *m = &w->req.base;
    return 1;
}

/* cairn_write's work; with LEND the pieces are lent (rpc_lend). */
static int write_common(cairn_t *c, const char *vol, uint64_t ino, uint64_t off, const void *buf,
                        size_t len, struct rpc_lend *lend, cairn_attr_t *out)
{
    struct wctx w = {CAIRN__V1__WRITE_REQUEST__INIT, buf, off, len, 0};
    w.req.volume = cl_bytes(vol);
    w.req.ino = ino;
    Cairn__V1__WriteReply *rep = NULL;
    int rv;
    if (len <= RPC_DATA_PIECE) {
        w.req.offset = off;
        w.req.data.data = (uint8_t *)(uintptr_t)buf;
        w.req.data.len = len;
        rv = cl_call(c, M_FS_WRITE, &w.req, &cairn__v1__write_reply__descriptor, &rep);
    } else {
        rv = rpc_client_stream(c->ch, M_FS_WRITESTREAM, pieces_of(len), write_piece, &w, lend,
                               &cairn__v1__write_reply__descriptor, (ProtobufCMessage **)&rep);
    }
    if (rv == 0) {
        if (out)
            cl_attr(out, rep->attr);
        FREE(rep);
    }
    return rv;
}

int cairn_write(cairn_t *c, const char *vol, uint64_t ino, uint64_t off, const void *buf,
                size_t len, cairn_attr_t *out)
{
    return write_common(c, vol, ino, off, buf, len, NULL, out);
}

int cairn_write_lent(cairn_t *c, const char *vol, uint64_t ino, uint64_t off, const void *buf,
                     size_t len, void (*done)(void *arg), void *arg, cairn_attr_t *out)
{
    struct rpc_lend *lend =
        len > RPC_DATA_PIECE ? rpc_lend_new(4 /* WriteRequest.data */, done, arg) : NULL;
    int rv = write_common(c, vol, ino, off, buf, len, lend, out); /* no memory: copied */
    if (lend)
        rpc_lend_end(lend);
    else
        done(arg);
    return rv;
}

int cairn_fsync(cairn_t *c, const char *vol)
{
    Cairn__V1__VolumeRequest r = CAIRN__V1__VOLUME_REQUEST__INIT;
    r.volume = cl_bytes(vol);
    return empty_call(c, M_FS_FSYNC, &r);
}

int cairn_statfs(cairn_t *c, const char *vol, cairn_statfs_t *out)
{
    Cairn__V1__VolumeRequest r = CAIRN__V1__VOLUME_REQUEST__INIT;
    r.volume = cl_bytes(vol);
    Cairn__V1__StatFsReply *rep = NULL;
    int rv = cl_call(c, M_FS_STATFS, &r, &cairn__v1__stat_fs_reply__descriptor, &rep);
    if (rv == 0) {
        out->capacity = rep->capacity;
        out->used = rep->used;
        out->files = rep->files;
        out->name_max = rep->name_max;
        out->block_size = rep->block_size;
        FREE(rep);
    }
    return rv;
}

static void xattr_req(Cairn__V1__XattrRequest *r, const char *vol, uint64_t ino, const char *name)
{
    cairn__v1__xattr_request__init(r);
    r->volume = cl_bytes(vol);
    r->ino = ino;
    r->name = cl_bytes(name);
}

int cairn_setxattr(cairn_t *c, const char *vol, uint64_t ino, const char *name, const void *val,
                   size_t len, int flags)
{
    Cairn__V1__XattrRequest r;
    xattr_req(&r, vol, ino, name);
    r.value.data = (uint8_t *)(uintptr_t)val;
    r.value.len = len;
    r.flags = flags;
    return empty_call(c, M_FS_SETXATTR, &r);
}

int cairn_removexattr(cairn_t *c, const char *vol, uint64_t ino, const char *name)
{
    Cairn__V1__XattrRequest r;
    xattr_req(&r, vol, ino, name);
    return empty_call(c, M_FS_REMOVEXATTR, &r);
}

static int xattr_value(cairn_t *c, enum rpc_method_id m, Cairn__V1__XattrRequest *r,
                       const cairn_at_t *at, void *buf, size_t cap, size_t *len)
{
    Cairn__V1__At a;
    r->at = cl_at(&a, at);
    Cairn__V1__XattrReply *rep = NULL;
    int rv = cl_call(c, m, r, &cairn__v1__xattr_reply__descriptor, &rep);
    if (rv == 0) {
        *len = rep->value.len;
        if (cap && rep->value.len)
            memcpy(buf, rep->value.data, rep->value.len < cap ? rep->value.len : cap);
        if (cap && rep->value.len > cap)
            rv = -ERANGE;
        FREE(rep);
    }
    return rv;
}

int cairn_getxattr(cairn_t *c, const char *vol, uint64_t ino, const char *name,
                   const cairn_at_t *at, void *buf, size_t cap, size_t *len)
{
    Cairn__V1__XattrRequest r;
    xattr_req(&r, vol, ino, name);
    return xattr_value(c, M_FS_GETXATTR, &r, at, buf, cap, len);
}

int cairn_listxattr(cairn_t *c, const char *vol, uint64_t ino, const cairn_at_t *at, char *buf,
                    size_t cap, size_t *len)
{
    Cairn__V1__XattrRequest r;
    xattr_req(&r, vol, ino, NULL);
    return xattr_value(c, M_FS_LISTXATTR, &r, at, buf, cap, len);
}

int cairn_history(cairn_t *c, const char *vol, const char *path, cairn_version_fn fn, void *ctx)
{
    /* in pages, each after the last version of the one before; the path is
     * resolved once: later pages name the inode the first one found */
    Cairn__V1__HistoryRequest r = CAIRN__V1__HISTORY_REQUEST__INIT;
    r.volume = cl_bytes(vol);
    r.path = cl_bytes(path);
    r.limit = UINT32_MAX; /* as many as the server puts in a page */
    int rv, more;
    do {
        Cairn__V1__HistoryReply *rep = NULL;
        if ((rv = cl_call(c, M_FS_HISTORY, &r, &cairn__v1__history_reply__descriptor, &rep)) != 0)
            return rv;
        more = rep->more && rep->n_versions > 0;
        for (size_t i = 0; i < rep->n_versions && rv == 0; i++) {
            const Cairn__V1__Version *p = rep->versions[i];
            cairn_version_t v = {p->hlc, p->origin, p->seq, p->time_ms, {0}};
            cl_attr(&v.attr, p->attr);
            rv = fn(ctx, &v);
            r.after_hlc = p->hlc;
            r.after_origin = p->origin;
            r.ino = v.attr.ino;
        }
        r.path = cl_bytes(NULL);
        FREE(rep);
    } while (rv == 0 && more);
    return rv == 1 ? 0 : rv;
}

int cairn_snapshot_create(cairn_t *c, const char *vol, const char *name)
{
    Cairn__V1__SnapshotRequest r = CAIRN__V1__SNAPSHOT_REQUEST__INIT;
    r.volume = cl_bytes(vol);
    r.name = cl_bytes(name);
    return empty_call(c, M_FS_SNAPSHOTCREATE, &r);
}

int cairn_snapshot_list(cairn_t *c, const char *vol, cairn_snapshot_fn fn, void *ctx)
{
    /* in pages, each after the last name of the one before */
    Cairn__V1__SnapshotListRequest r = CAIRN__V1__SNAPSHOT_LIST_REQUEST__INIT;
    r.volume = cl_bytes(vol);
    r.limit = UINT32_MAX; /* as many as the server puts in a page */
    char name[256];
    int rv, more;
    do {
        Cairn__V1__SnapshotListReply *rep = NULL;
        if ((rv = cl_call(c, M_FS_SNAPSHOTLIST, &r, &cairn__v1__snapshot_list_reply__descriptor,
                          &rep)) != 0)
            return rv;
        more = rep->more && rep->n_snapshots > 0;
        for (size_t i = 0; i < rep->n_snapshots && rv == 0; i++) {
            cl_copy(name, sizeof name, &rep->snapshots[i]->name);
            rv = fn(ctx, name, rep->snapshots[i]->time_ms, rep->snapshots[i]->hlc);
        }
        if (more)
            r.after = cl_bytes(name); /* the last name; NAME outlives the reply */
        FREE(rep);
    } while (rv == 0 && more);
    return rv == 1 ? 0 : rv;
}
