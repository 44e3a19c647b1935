/*
 * fs.h — cairn-fuse internals: the mount's state, shared by main.c (options,
 * session loop), ops.c (the low-level operations) and dir.c (directory
 * handles).
 *
 * FUSE node ids are cairn inode numbers (root: 1 on both sides), so no table
 * maps them and forget has nothing to do. Every operation is one libcairn
 * call (one round trip); replies carry attributes so the kernel needs no
 * extra GETATTR. Threads: the multi-threaded session loop calls operations
 * concurrently; struct fsctx is read-only after start-up.
 */
#ifndef CAIRN_FS_H
#define CAIRN_FS_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include "cairn.h"

struct fsctx {
    cairn_t *c;
    char *volume;
    cairn_at_t at; /* a past view (snapshot= or asof=), or now */
    int readonly;  /* 1 for past views: every change is EROFS */
    double attr_timeout, entry_timeout;
};

/* A libcairn result as a positive errno for fuse_reply_err. */
int fs_errno(int rv);
/* struct stat from a cairn attribute. */
void fs_stat(struct stat *st, const cairn_attr_t *a);
/* The directory operations of dir.c, put into the table by ops.c. */
void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi);
void fs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
extern const struct fuse_lowlevel_ops fs_ops;

#endif
