/*
 * fsops.h — file-system operations on one volume, as records.
 *
 * Every mutation is checked against the current state (POSIX errors), turned
 * into one record group (atomic in the index), appended to the volume's
 * chunk and indexed before it returns. It is durable after fs_fsync.
 * Every read can be asked "as of" a past point (struct asof).
 *
 * Permission checks are the caller's (the FUSE adapter uses the kernel's
 * default_permissions); owners and modes are taken as given.
 * Threads: all calls are thread-safe; mutations of one volume are serialised
 * by its writer lock, reads run in parallel with them.
 * Errors: -errno values as POSIX names them for the call, plus
 * CAIRN_EFAILED (volume read-only after a failed flush), CAIRN_ECHECKSUM
 * (data damaged on disk), -EROFS (a past view is read-only), CAIRN_EINDEX
 * (a reindex failed: the index is incomplete, engine.h).
 */
#ifndef CAIRN_FSOPS_H
#define CAIRN_FSOPS_H

#include "attr.h"
#include "vclock.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct volume;

/* A point in the volume's history. hlc UINT64_MAX and vv NULL: now. A time:
 * hlc = HLC_END_OF_MS(ms). A snapshot: its hlc and vector (fs_snapshot_get). */
struct asof {
    uint64_t hlc;
    const struct vv *vv; /* borrowed; NULL: every record up to hlc */
};
#define ASOF_NOW ((struct asof){UINT64_MAX, NULL})

enum setattr_mask {
    SET_MODE = 1 << 0,
    SET_UID = 1 << 1,
    SET_GID = 1 << 2,
    SET_SIZE = 1 << 3,
    SET_ATIME = 1 << 4,
    SET_MTIME = 1 << 5,
    SET_ATIME_NOW = 1 << 6,
    SET_MTIME_NOW = 1 << 7,
    SET_CTIME = 1 << 8,
    /* Internal (the service accepts bits 0-8 only): atime to now if
     * relatime finds it due, decided under the volume's writer lock; ctime
     * stays as it is. */
    SET_RELATIME = 1 << 9,
};

struct setattr {
    uint32_t mask; /* enum setattr_mask */
    uint32_t mode; /* permission bits only */
    uint32_t uid, gid;
    uint64_t size;
    int64_t atime, mtime, ctime; /* ns */
};

/* One version of an inode, for history listings. */
struct version {
    uint64_t hlc;
    struct dot dot;
    struct attr attr;
};

int fs_getattr(struct volume *v, const struct asof *at, uint64_t ino, struct attr *out);
int fs_lookup(struct volume *v, const struct asof *at, uint64_t parent, const char *name,
              uint64_t *ino, struct attr *out);
/* Creates a regular file, directory, FIFO, socket, device node (MODE carries
 * the S_IF type) or, with TARGET non-NULL, a symlink. OUT_ATTR may be NULL. */
int fs_mknod(struct volume *v, uint64_t parent, const char *name, uint32_t mode, uint64_t rdev,
             uint32_t uid, uint32_t gid, const char *target, uint64_t *ino, struct attr *out);
int fs_setattr(struct volume *v, uint64_t ino, const struct setattr *sa, struct attr *out);
/* Reads up to LEN bytes at OFF (short at end of file, holes read as zeros). */
int fs_read(struct volume *v, const struct asof *at, uint64_t ino, uint64_t off, size_t len,
            void *buf, size_t *got);
/* Marks INO read now, as Linux "relatime" does: atime is updated (one small
 * record) only when it is not newer than mtime or ctime, or is a day old.
 * Readers that want POSIX atime (the FUSE mount) call it after fs_read. */
int fs_read_atime(struct volume *v, uint64_t ino);
/* Writes LEN bytes at OFF (any size). Each 1 MiB group (WRITE_GROUP_BYTES)
 * is atomic; when a later group of a larger write fails, the groups before
 * it stay written (like a short write(2)) and the error is returned. */
int fs_write(struct volume *v, uint64_t ino, uint64_t off, const void *buf, size_t len,
             struct attr *out);
/* fs_write of the bytes IOV[0..IOVCNT) hold, in order. */
int fs_writev(struct volume *v, uint64_t ino, uint64_t off, const struct iovec *iov, int iovcnt,
              struct attr *out);
int fs_unlink(struct volume *v, uint64_t parent, const char *name);
int fs_rmdir(struct volume *v, uint64_t parent, const char *name);
#define FS_RENAME_NOREPLACE 1u
#define FS_RENAME_EXCHANGE 2u
int fs_rename(struct volume *v, uint64_t parent, const char *name, uint64_t newparent,
              const char *newname, unsigned flags);
int fs_link(struct volume *v, uint64_t ino, uint64_t newparent, const char *newname,
            struct attr *out);
/* Copies the target (not NUL-terminated) into BUF (CAP bytes), *LEN = full length. */
int fs_readlink(struct volume *v, const struct asof *at, uint64_t ino, char *buf, size_t cap,
                size_t *len);

/* Called per entry in name order; return non-zero to stop (that value is
 * then returned by fs_readdir unless it is 1, which means "stop, no error").
 * A is the entry's attributes when fs_readdir was asked for them and could
 * read them, else NULL. FN runs inside the engine gate and the listing's
 * view: it must not call fs_* (a reindex waiting for the gate would make
 * that second hold wait for ever). */
typedef int (*fs_dirent_fn)(void *ctx, const char *name, size_t nlen, uint64_t ino,
                            uint32_t type /* S_IF* */, const struct attr *a);
/* Lists DIR's entries whose names sort after AFTER (NULL: from the start),
 * with their attributes if WITH_ATTRS; the listing and the attributes are
 * of one state of the index. */
int fs_readdir(struct volume *v, const struct asof *at, uint64_t dir, const char *after,
               size_t after_len, int with_attrs, fs_dirent_fn fn, void *ctx);

struct fs_statfs {
    uint64_t capacity, used; /* bytes */
    uint64_t files;          /* inodes allocated by this node */
    uint32_t name_max;
};
int fs_statfs(struct volume *v, struct fs_statfs *out);
/* Makes every mutation of the volume acknowledged before the call durable
 * (group commit: concurrent callers share one flush). */
int fs_fsync(struct volume *v);

/* Extended attributes. fs_getxattr copies up to CAP bytes, *LEN = full size;
 * -ENODATA when absent. fs_setxattr FLAGS: XATTR_CREATE / XATTR_REPLACE. */
int fs_setxattr(struct volume *v, uint64_t ino, const char *name, const void *val, size_t len,
                int flags);
int fs_getxattr(struct volume *v, const struct asof *at, uint64_t ino, const char *name, void *buf,
                size_t cap, size_t *len);
int fs_removexattr(struct volume *v, uint64_t ino, const char *name);
/* Names as NUL-separated list (like listxattr(2)); *LEN = full size. */
int fs_listxattr(struct volume *v, const struct asof *at, uint64_t ino, char *buf, size_t cap,
                 size_t *len);

/* Snapshots: a named version vector, O(1) to take. -EEXIST for a taken name. */
int fs_snapshot_create(struct volume *v, const char *name);
/* Fills AT for reading as of snapshot NAME; AT->vv points into SNAP, which
 * the caller owns (vv_init before, vv_fini after). */
int fs_snapshot_get(struct volume *v, const char *name, struct vv *snap, struct asof *at);
typedef int (*fs_snapshot_fn)(void *ctx, const char *name, uint64_t hlc, const struct vv *vv);
/* Snapshots in name order; with AFTER, those named after it. FN returns 1
 * to stop. */
int fs_snapshot_list(struct volume *v, const char *after, fs_snapshot_fn fn, void *ctx);

/* Every version of INO, newest first; with AFTER, those older than the
 * version stamped AFTER (a page after one that ended there). FN returns 1
 * to stop. -ENOENT: INO never existed (without AFTER). */
typedef int (*fs_version_fn)(void *ctx, const struct version *ver);
struct stamp; /* metakey.h */
int fs_history(struct volume *v, uint64_t ino, const struct stamp *after, fs_version_fn fn,
               void *ctx);

/* Resolves an absolute PATH ("/a/b") as of AT, following no symlinks. */
int fs_resolve(struct volume *v, const struct asof *at, const char *path, uint64_t *ino,
               struct attr *out);

#endif
