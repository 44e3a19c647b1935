/*
 * ops.c — owns the mapping from FUSE low-level requests to libcairn calls;
 * the operation table (fs_ops) is at the bottom, as in libfuse's
 * example/passthrough_ll.c.
 *
 * Invariants: (1) each request is answered exactly once; (2) a request that
 * changes anything is refused with EROFS on a past view before any call;
 * (3) entry and attribute replies carry the attributes the server returned
 * with the change, so the kernel needs no GETATTR after it; (4) cairn error
 * codes become errno values here and only here.
 * Threads: any session thread; no shared mutable state.
 */
#include "fs.h"

#include <errno.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#define XATTR_MAX 65536

cairn_t *fs_cairn(struct fsctx *fs)
{
    wb_drain();
    return fs->c;
}

int fs_errno(int rv)
{
    if (rv >= 0)
        return 0;
    if (rv == -ETIMEDOUT) /* the daemon stayed away longer than timeout= */
        return EIO;
    if (rv > CAIRN_ERR_BASE)
        return -rv;
    switch (rv) {
    case CAIRN_EUNAVAIL: /* the daemon is away (after waiting for it) */
    case CAIRN_ECHECKSUM:
    case CAIRN_EFORMAT:
    case CAIRN_ETORN:
    case CAIRN_EINDEX:
    case CAIRN_EFAILED:
    case CAIRN_EPROTO:
    case CAIRN_ENEWER:
    default:
        return EIO;
    }
}

/* NS since the epoch as a timespec: tv_nsec in [0, 1e9) before 1970 too. */
static struct timespec ts_of_ns(int64_t ns)
{
    int64_t sec = ns / 1000000000, rem = ns % 1000000000;
    if (rem < 0)
        sec--, rem += 1000000000;
    return (struct timespec){.tv_sec = (time_t)sec, .tv_nsec = (long)rem};
}

/* TS in ns since the epoch, clamped to what 64 bits of ns hold (years 1677
 * to 2262), as a file system clamps a time past its range. */
static int64_t ns_of_ts(struct timespec ts)
{
    /* INT64_MAX is hi s + 854775807 ns; INT64_MIN is lo s + 145224192 ns */
    const int64_t hi = INT64_MAX / 1000000000, hi_ns = INT64_MAX % 1000000000;
    const int64_t lo = INT64_MIN / 1000000000 - 1, lo_ns = 1000000000 + INT64_MIN % 1000000000;
    if (ts.tv_sec > hi || (ts.tv_sec == hi && ts.tv_nsec > hi_ns))
        return INT64_MAX;
    if (ts.tv_sec < lo || (ts.tv_sec == lo && ts.tv_nsec < lo_ns))
        return INT64_MIN;
    if (ts.tv_sec == lo) /* lo s alone is past INT64_MIN */
        return INT64_MIN + (ts.tv_nsec - lo_ns);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void fs_stat(struct stat *st, const cairn_attr_t *a)
{
    memset(st, 0, sizeof *st);
    st->st_ino = a->ino;
    st->st_mode = a->mode;
    st->st_nlink = a->nlink;
    st->st_uid = a->uid;
    st->st_gid = a->gid;
    st->st_rdev = a->rdev;
    st->st_size = (off_t)a->size;
    st->st_blksize = 65536;
    st->st_blocks = (blkcnt_t)((a->size + 511) / 512);
    st->st_atim = ts_of_ns(a->atime_ns);
    st->st_mtim = ts_of_ns(a->mtime_ns);
    st->st_ctim = ts_of_ns(a->ctime_ns);
}

#define FS(req) ((struct fsctx *)fuse_req_userdata(req))

/* An open file (fi->fh, from open or create until release): how far it was
 * told of its inode's deferred write errors (wbehind.c (3)), and whether it
 * was opened for writing (only then does its close report them). */
struct ofile {
    struct wb_marks marks;
    int writer;
};

#define OFILE(fi) ((struct ofile *)(uintptr_t)(fi)->fh)

static struct ofile *ofile_new(int flags)
{
    struct ofile *of = calloc(1, sizeof *of);
    if (of)
        of->writer = (flags & O_ACCMODE) != O_RDONLY;
    return of;
}

/* Hands OF to the kernel in FI with the answer to an open; freed if the
 * request was interrupted meanwhile (no release follows then). */
static void reply_open(fuse_req_t req, fuse_ino_t ino, struct ofile *of, struct fuse_file_info *fi,
                       const struct fuse_entry_param *e)
{
    wb_sample(ino, &of->marks);
    fi->fh = (uint64_t)(uintptr_t)of;
    if ((e ? fuse_reply_create(req, e, fi) : fuse_reply_open(req, fi)) != 0)
        free(of);
}

/* (2) */
/* Every operation that changes the volume starts with this: EROFS on a
 * past view, and the attribute cache drops the inodes A and B that it
 * touches (attrcache.c (2)). */
#define READ_ONLY_GUARD(req, a, b)                                                                 \
    do {                                                                                           \
        if (FS(req)->readonly) {                                                                   \
            fuse_reply_err(req, EROFS);                                                            \
            return;                                                                                \
        }                                                                                          \
        ac_changed(a, b);                                                                          \
    } while (0)

/* A create, link, unlink or rmdir (after nc_begin) was answered RV by
 * cairnd: the name list of DIR learns WHAT happened to NAME (INO: the inode
 * made or linked); DIR and INO leave the attribute cache, as every change
 * drops what it touched once answered (attrcache.c (2)), and the parent's
 * new attributes that came with the reply go in, for the GETATTR the kernel
 * sends next. Before the reply, so they are there. */
static void names_end(int rv, enum nc_change what, uint64_t dir, const char *name, uint64_t ino)
{
    nc_end(rv, what, dir, name, ino);
    ac_changed(dir, ino);
    cairn_attr_t pa;
    if (rv == 0 && cairn_last_parent(&pa))
        ac_put(&pa, ac_now(), ac_gen());
}

/* The answer to a change of A and B that returns no entry: the attribute
 * cache drops them again now that cairnd has answered (attrcache.c (2)). */
static void reply_change(fuse_req_t req, int rv, uint64_t a, uint64_t b)
{
    ac_changed(a, b);
    fuse_reply_err(req, fs_errno(rv));
}

/* An entry the kernel keeps for ENTRY_S and whose attributes for ATTR_S. */
static void entry_param(struct fuse_entry_param *e, const cairn_attr_t *a, double entry_s,
                        double attr_s)
{
    memset(e, 0, sizeof *e);
    e->ino = a->ino;
    e->attr_timeout = attr_s;
    e->entry_timeout = entry_s;
    fs_stat(&e->attr, a);
}

static void reply_entry_for(fuse_req_t req, const cairn_attr_t *a, double entry_s, double attr_s)
{
    struct fuse_entry_param e;
    entry_param(&e, a, entry_s, attr_s);
    fuse_reply_entry(req, &e);
}

static void reply_entry(fuse_req_t req, int rv, const cairn_attr_t *a)
{
    if (rv != 0)
        fuse_reply_err(req, fs_errno(rv));
    else
        reply_entry_for(req, a, FS(req)->entry_timeout, FS(req)->attr_timeout);
}

static void reply_attr_for(fuse_req_t req, int rv, const cairn_attr_t *a, double attr_s)
{
    if (rv != 0) {
        fuse_reply_err(req, fs_errno(rv));
        return;
    }
    struct stat st;
    fs_stat(&st, a);
    fuse_reply_attr(req, &st, attr_s);
}

static void reply_attr(fuse_req_t req, int rv, const cairn_attr_t *a)
{
    reply_attr_for(req, rv, a, FS(req)->attr_timeout);
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
    const struct fsctx *fs = userdata;
    conn->max_write = 1u << 20; /* one 1 MiB piece per write request */
    /* The kernel takes the smaller of this and the mount's sysfs setting,
     * which main.c raised from 128 KiB to the same value. */
    conn->max_readahead = fs->readahead_kb ? fs->readahead_kb * 1024u : 1u << 20;
    conn->time_gran = 1;
    if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
        conn->want |= FUSE_CAP_PARALLEL_DIROPS;
    if (conn->capable & FUSE_CAP_READDIRPLUS)
        conn->want |= FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO;
    /* No writeback cache by default: with it the kernel owns mtime and sends
     * a SETATTR at every close and eviction (a round trip per small file);
     * -o writeback_cache turns it on for workloads of many tiny writes. */
    if (fs->writeback && (conn->capable & FUSE_CAP_WRITEBACK_CACHE))
        conn->want |= FUSE_CAP_WRITEBACK_CACHE;
    if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
        conn->want |= FUSE_CAP_CACHE_SYMLINKS;
    if (conn->capable & FUSE_CAP_SPLICE_WRITE)
        conn->want |= FUSE_CAP_SPLICE_WRITE;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct fsctx *fs = FS(req);
    cairn_attr_t a;
    double left = fs->entry_timeout, attr_left;
    enum nc_known known = nc_lookup(fs, parent, name, &a, &left, &attr_left);
    if (known == NC_PRESENT && attr_left > 0) {
        /* attrcache.c (1), negcache.c (1): no longer than either is good */
        reply_entry_for(req, &a, left, attr_left);
        return;
    }
    int rv = known == NC_ABSENT ? -ENOENT
                                : cairn_lookup(fs_cairn(fs), fs->volume, parent, name, &fs->at, &a);
    if (rv == -ENOENT) { /* a negative entry the kernel may cache */
        if (known == NC_UNKNOWN)
            nc_missed(fs, parent);
        if (known != NC_ABSENT)
            left = fs->entry_timeout;
        struct fuse_entry_param e;
        memset(&e, 0, sizeof e);
        e.entry_timeout = left; /* negcache.c (1): no longer than the list is good */
        fuse_reply_entry(req, &e);
        return;
    }
    reply_entry(req, rv, &a);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
    (void)ino;
    (void)nlookup;
    fuse_reply_none(req); /* node ids are cairn inode numbers: nothing to free */
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)fi;
    struct fsctx *fs = FS(req);
    cairn_attr_t a;
    double left;
    if (!fs->readonly && (left = ac_get(ino, fs->attr_timeout, &a)) > 0) {
        reply_attr_for(req, 0, &a, left); /* attrcache.c (1) */
        return;
    }
    int rv = cairn_getattr(fs_cairn(fs), fs->volume, ino, &fs->at, &a);
    reply_attr(req, rv, &a);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                       struct fuse_file_info *fi)
{
    (void)fi;
    READ_ONLY_GUARD(req, ino, 0);
    struct fsctx *fs = FS(req);
    cairn_setattr_t sa;
    memset(&sa, 0, sizeof sa);
    if (to_set & FUSE_SET_ATTR_MODE)
        sa.mask |= CAIRN_SET_MODE, sa.mode = attr->st_mode;
    if (to_set & FUSE_SET_ATTR_UID)
        sa.mask |= CAIRN_SET_UID, sa.uid = attr->st_uid;
    if (to_set & FUSE_SET_ATTR_GID)
        sa.mask |= CAIRN_SET_GID, sa.gid = attr->st_gid;
    if (to_set & FUSE_SET_ATTR_SIZE)
        sa.mask |= CAIRN_SET_SIZE, sa.size = (uint64_t)attr->st_size;
    if (to_set & FUSE_SET_ATTR_ATIME_NOW)
        sa.mask |= CAIRN_SET_ATIME_NOW;
    else if (to_set & FUSE_SET_ATTR_ATIME)
        sa.mask |= CAIRN_SET_ATIME, sa.atime_ns = ns_of_ts(attr->st_atim);
    if (to_set & FUSE_SET_ATTR_MTIME_NOW)
        sa.mask |= CAIRN_SET_MTIME_NOW;
    else if (to_set & FUSE_SET_ATTR_MTIME)
        sa.mask |= CAIRN_SET_MTIME, sa.mtime_ns = ns_of_ts(attr->st_mtim);
    if (to_set & FUSE_SET_ATTR_CTIME)
        sa.mask |= CAIRN_SET_CTIME, sa.ctime_ns = ns_of_ts(attr->st_ctim);
    cairn_attr_t a;
    int rv = cairn_setattr(fs_cairn(fs), fs->volume, ino, &sa, &a);
    ac_changed(ino, 0);
    reply_attr(req, rv, &a);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
    struct fsctx *fs = FS(req);
    char buf[4096];
    int rv = cairn_readlink(fs_cairn(fs), fs->volume, ino, &fs->at, buf, sizeof buf);
    if (rv != 0)
        fuse_reply_err(req, fs_errno(rv));
    else
        fuse_reply_readlink(req, buf);
}

/* The node of MODE for mknod, mkdir and create (after READ_ONLY_GUARD),
 * owned by the caller's uid and gid. */
static int mknod_for(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev,
                     cairn_attr_t *a)
{
    struct fsctx *fs = FS(req);
    const struct fuse_ctx *ctx = fuse_req_ctx(req);
    nc_begin();
    int rv = cairn_mknod(fs_cairn(fs), fs->volume, parent, name, mode, rdev, ctx->uid, ctx->gid, a);
    names_end(rv, S_ISDIR(mode) ? NC_MADE_DIR : NC_ADDED, parent, name, rv == 0 ? a->ino : 0);
    return rv;
}

static void make_node(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
    READ_ONLY_GUARD(req, parent, 0);
    cairn_attr_t a;
    int rv = mknod_for(req, parent, name, mode, rdev, &a);
    reply_entry(req, rv, &a);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
    make_node(req, parent, name, mode, rdev);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
    make_node(req, parent, name, S_IFDIR | (mode & 07777), 0);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
    READ_ONLY_GUARD(req, parent, 0);
    struct fsctx *fs = FS(req);
    const struct fuse_ctx *ctx = fuse_req_ctx(req);
    cairn_attr_t a;
    nc_begin();
    int rv = cairn_symlink(fs_cairn(fs), fs->volume, parent, name, link, ctx->uid, ctx->gid, &a);
    names_end(rv, NC_ADDED, parent, name, rv == 0 ? a.ino : 0);
    reply_entry(req, rv, &a);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    uint64_t target = nc_ino(parent, name); /* its link count changes */
    if (target == 0)
        target = AC_ALL;
    READ_ONLY_GUARD(req, parent, target);
    struct fsctx *fs = FS(req);
    nc_begin();
    int rv = cairn_unlink(fs_cairn(fs), fs->volume, parent, name);
    names_end(rv, NC_REMOVED, parent, name, 0);
    ac_changed(target, 0);
    fuse_reply_err(req, fs_errno(rv));
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    READ_ONLY_GUARD(req, AC_ALL, 0); /* the removed directory's number is not known here */
    struct fsctx *fs = FS(req);
    nc_begin();
    int rv = cairn_rmdir(fs_cairn(fs), fs->volume, parent, name);
    names_end(rv, NC_REMOVED, parent, name, 0);
    fuse_reply_err(req, fs_errno(rv));
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                      const char *newname, unsigned int flags)
{
    READ_ONLY_GUARD(req, AC_ALL, 0); /* a moved directory changes too */
    struct fsctx *fs = FS(req);
    unsigned cf = 0;
    if (flags & RENAME_NOREPLACE)
        cf |= CAIRN_RENAME_NOREPLACE;
    if (flags & RENAME_EXCHANGE)
        cf |= CAIRN_RENAME_EXCHANGE;
    if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE)) {
        fuse_reply_err(req, EINVAL); /* RENAME_WHITEOUT is for overlay file systems */
        return;
    }
    nc_begin();
    int rv = cairn_rename(fs_cairn(fs), fs->volume, parent, name, newparent, newname, cf);
    nc_end(rv, NC_RENAMED, parent, name, newparent);
    reply_change(req, rv, AC_ALL, 0);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
    READ_ONLY_GUARD(req, newparent, ino);
    struct fsctx *fs = FS(req);
    cairn_attr_t a;
    nc_begin();
    int rv = cairn_link(fs_cairn(fs), fs->volume, ino, newparent, newname, &a);
    names_end(rv, NC_ADDED, newparent, newname, rv == 0 ? a.ino : 0);
    reply_entry(req, rv, &a);
}

/* O_TRUNC of an open (atomic O_TRUNC: the kernel sends no SETATTR for it):
 * INO to size 0, *OUT (may be NULL) its attributes after; a cairn result. */
static int open_truncate(struct fsctx *fs, fuse_ino_t ino, cairn_attr_t *out)
{
    cairn_setattr_t sa = {CAIRN_SET_SIZE, 0, 0, 0, 0, 0, 0, 0};
    ac_changed(ino, 0);
    int rv = cairn_setattr(fs_cairn(fs), fs->volume, ino, &sa, out);
    ac_changed(ino, 0);
    return rv;
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct fsctx *fs = FS(req);
    if (fs->readonly && ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))) {
        fuse_reply_err(req, EROFS);
        return;
    }
    if (fi->flags & O_TRUNC) {
        int rv = open_truncate(fs, ino, NULL);
        if (rv != 0) {
            fuse_reply_err(req, fs_errno(rv));
            return;
        }
    }
    struct ofile *of = ofile_new(fi->flags);
    if (!of) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    fi->keep_cache = FS(req)->readonly; /* a past view never changes */
    reply_open(req, ino, of, fi, NULL);
}

/* 1 if the caller of REQ is in group GID (its own or a supplementary one). */
static int in_group(fuse_req_t req, uint32_t gid)
{
    if (fuse_req_ctx(req)->gid == gid)
        return 1;
    gid_t groups[256];
    int n = fuse_req_getgroups(req, 256, groups);
    for (int i = 0; i < n && i < 256; i++)
        if (groups[i] == gid)
            return 1;
    return 0;
}

/* Whether the caller of REQ may open the file A with FLAGS: the check the
 * kernel makes for an open of an existing file, which it skips when it
 * asked for a create (default_permissions). 0 or EACCES. */
static int may_open(fuse_req_t req, const cairn_attr_t *a, int flags)
{
    if (fuse_req_ctx(req)->uid == 0)
        return 0;
    unsigned want = 0, acc = (unsigned)flags & O_ACCMODE;
    if (acc != O_WRONLY)
        want |= 4;
    if (acc != O_RDONLY || (flags & O_TRUNC))
        want |= 2;
    unsigned bits = a->mode & 7;
    if (fuse_req_ctx(req)->uid == a->uid)
        bits = (a->mode >> 6) & 7;
    else if (in_group(req, a->gid))
        bits = (a->mode >> 3) & 7;
    return (bits & want) == want ? 0 : EACCES;
}

/* The kernel asked for a create because it believed NAME absent, but it
 * exists (made through another mount or node meanwhile): without O_EXCL,
 * POSIX opens the existing file. 1 when REQ was answered (OF is then the
 * kernel's or freed). A name that is not a regular file (a FIFO, a symlink
 * to follow, a device), or that is gone again, is answered ESTALE: the
 * kernel then looks the name up afresh (once) and opens or creates what it
 * finds, as if it had known it (never EEXIST without O_EXCL, nor ENOENT for
 * a create). Every name list is dropped first (negcache.c), so that retry's
 * lookups ask cairnd, wherever a symlink leads. */
static int open_existing(fuse_req_t req, fuse_ino_t parent, const char *name, struct ofile *of,
                         struct fuse_file_info *fi)
{
    struct fsctx *fs = FS(req);
    cairn_attr_t a;
    int rv = cairn_lookup(fs_cairn(fs), fs->volume, parent, name, &fs->at, &a);
    if (rv == 0 && S_ISDIR(a.mode))
        rv = -EISDIR;
    int err = rv == -ENOENT || (rv == 0 && !S_ISREG(a.mode)) ? ESTALE
              : rv                                           ? fs_errno(rv)
                                                             : may_open(req, &a, fi->flags);
    if (err == ESTALE)
        nc_forget_all();
    if (!err && (fi->flags & O_TRUNC))
        err = fs_errno(open_truncate(fs, a.ino, &a));
    if (err) {
        free(of);
        fuse_reply_err(req, err);
        return 1;
    }
    struct fuse_entry_param e;
    entry_param(&e, &a, fs->entry_timeout, fs->attr_timeout);
    reply_open(req, a.ino, of, fi, &e);
    return 1;
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                      struct fuse_file_info *fi)
{
    READ_ONLY_GUARD(req, parent, 0);
    struct ofile *of = ofile_new(fi->flags);
    if (!of) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    cairn_attr_t a;
    int rv = mknod_for(req, parent, name, S_IFREG | (mode & 07777), 0, &a);
    if (rv == -EEXIST && !(fi->flags & O_EXCL) && open_existing(req, parent, name, of, fi))
        return;
    if (rv != 0) {
        free(of);
        fuse_reply_err(req, fs_errno(rv));
        return;
    }
    struct fuse_entry_param e;
    entry_param(&e, &a, FS(req)->entry_timeout, FS(req)->attr_timeout);
    reply_open(req, a.ino, of, fi, &e);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    (void)fi;
    struct fsctx *fs = FS(req);
    char *buf = malloc(size ? size : 1);
    if (!buf) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    size_t got = 0;
    int rv = cairn_read(fs_cairn(fs), fs->volume, ino, (uint64_t)off, size, buf, &fs->at, &got);
    if (!fs->readonly)
        ac_changed(ino, 0); /* a read may move the atime (relatime) */
    if (rv != 0)
        fuse_reply_err(req, fs_errno(rv));
    else
        fuse_reply_buf(req, buf, got);
    free(buf);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi)
{
    if (FS(req)->readonly) { /* no READ_ONLY_GUARD: a write changes no directory */
        fuse_reply_err(req, EROFS);
        return;
    }
    /* past the largest file cairnd keeps: fail now, not at a later write
     * (write-behind); a write that crosses it is cut short there, as POSIX
     * says of a write past the file size limit */
    if (off < 0 || (uint64_t)off >= CAIRN_MAX_FILE_SIZE) {
        fuse_reply_err(req, EFBIG);
        return;
    }
    if (size > CAIRN_MAX_FILE_SIZE - (uint64_t)off) {
        if (FS(req)->writeback) { /* the kernel's write-back ignores a short count */
            fuse_reply_err(req, EFBIG);
            return;
        }
        size = (size_t)(CAIRN_MAX_FILE_SIZE - (uint64_t)off);
    }
    int err = wb_write(ino, &OFILE(fi)->marks, buf, size, (uint64_t)off);
    if (err)
        fuse_reply_err(req, err);
    else
        fuse_reply_write(req, size);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct ofile *of = OFILE(fi); /* close(2) of a writer reports late write errors */
    fuse_reply_err(req, of->writer ? wb_settle(ino, &of->marks, 0) : 0);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)ino;
    free(OFILE(fi));
    fuse_reply_err(req, 0);
}

/* fsync and fsyncdir: ERR is what the queued writes left (0 for a
 * directory), then cairnd syncs the volume. */
static void sync_after(fuse_req_t req, int err)
{
    struct fsctx *fs = FS(req);
    if (fs->readonly || err) {
        fuse_reply_err(req, err);
        return;
    }
    fuse_reply_err(req, fs_errno(cairn_fsync(fs->c, fs->volume)));
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
    (void)datasync;
    sync_after(req, wb_settle(ino, &OFILE(fi)->marks, 1));
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
    (void)ino;
    struct fsctx *fs = FS(req);
    cairn_statfs_t s;
    int rv = cairn_statfs(fs_cairn(fs), fs->volume, &s);
    if (rv != 0) {
        fuse_reply_err(req, fs_errno(rv));
        return;
    }
    struct statvfs st;
    memset(&st, 0, sizeof st);
    st.f_bsize = st.f_frsize = 4096;
    st.f_blocks = s.capacity / 4096;
    st.f_bfree = st.f_bavail = s.capacity > s.used ? (s.capacity - s.used) / 4096 : 0;
    st.f_files = s.files + st.f_bfree; /* inodes are not a fixed resource */
    st.f_ffree = st.f_favail = st.f_bfree;
    st.f_namemax = s.name_max;
    fuse_reply_statfs(req, &st);
}

/* security.* attributes (capabilities, LSM labels) are not stored: the
 * kernel asks for security.capability before every write, and answering
 * locally saves a round trip per write. */
static int is_security(const char *name)
{
    return strncmp(name, "security.", 9) == 0;
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
                        size_t size, int flags)
{
    READ_ONLY_GUARD(req, ino, 0);
    if (strncmp(name, "user.", 5) != 0) { /* README: user.* only (no trusted.*, no ACLs) */
        fuse_reply_err(req, EOPNOTSUPP);
        return;
    }
    struct fsctx *fs = FS(req);
    reply_change(req, cairn_setxattr(fs_cairn(fs), fs->volume, ino, name, value, size, flags), ino,
                 0);
}

static void reply_xattr_value(fuse_req_t req, int rv, const char *buf, size_t len, size_t size)
{
    if (rv == -ENODATA || (rv == -ENOENT && buf == NULL)) {
        fuse_reply_err(req, ENODATA);
    } else if (rv != 0 && rv != -ERANGE) {
        fuse_reply_err(req, fs_errno(rv));
    } else if (size == 0) {
        fuse_reply_xattr(req, len);
    } else if (len > size) {
        fuse_reply_err(req, ERANGE);
    } else {
        fuse_reply_buf(req, buf, len);
    }
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
    struct fsctx *fs = FS(req);
    if (is_security(name)) {
        fuse_reply_err(req, ENODATA);
        return;
    }
    char *buf = malloc(XATTR_MAX);
    if (!buf) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    size_t len = 0;
    int rv = cairn_getxattr(fs_cairn(fs), fs->volume, ino, name, &fs->at, buf, XATTR_MAX, &len);
    reply_xattr_value(req, rv, buf, len, size);
    free(buf);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
    struct fsctx *fs = FS(req);
    size_t len = 0;
    if (size == 0) { /* the caller asks how big a buffer it needs */
        int rv = cairn_listxattr(fs_cairn(fs), fs->volume, ino, &fs->at, NULL, 0, &len);
        reply_xattr_value(req, rv, NULL, len, 0);
        return;
    }
    /* One call into a buffer of the caller's size: a list that grows
     * between two calls must not be answered from a smaller buffer. */
    char *buf = malloc(size);
    if (!buf) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    int rv = cairn_listxattr(fs_cairn(fs), fs->volume, ino, &fs->at, buf, size, &len);
    reply_xattr_value(req, rv, buf, len, size);
    free(buf);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
    READ_ONLY_GUARD(req, ino, 0);
    struct fsctx *fs = FS(req);
    reply_change(req, cairn_removexattr(fs_cairn(fs), fs->volume, ino, name), ino, 0);
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
    (void)ino;
    (void)datasync;
    (void)fi;   /* a directory handle (dir.c) */
    wb_drain(); /* the names' files may have queued writes */
    sync_after(req, 0);
}

const struct fuse_lowlevel_ops fs_ops = {
    .init = op_init,
    .lookup = op_lookup,
    .forget = op_forget,
    .getattr = op_getattr,
    .setattr = op_setattr,
    .readlink = op_readlink,
    .mknod = op_mknod,
    .mkdir = op_mkdir,
    .symlink = op_symlink,
    .unlink = op_unlink,
    .rmdir = op_rmdir,
    .rename = op_rename,
    .link = op_link,
    .open = op_open,
    .create = op_create,
    .read = op_read,
    .write = op_write,
    .flush = op_flush,
    .release = op_release,
    .fsync = op_fsync,
    .opendir = fs_opendir,
    .readdir = fs_readdir,
    .readdirplus = fs_readdirplus,
    .releasedir = fs_releasedir,
    .fsyncdir = op_fsyncdir,
    .statfs = op_statfs,
    .setxattr = op_setxattr,
    .getxattr = op_getxattr,
    .listxattr = op_listxattr,
    .removexattr = op_removexattr,
};
