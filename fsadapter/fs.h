/*
 * fs.h — cairn-fuse internals: the mount's state, shared by main.c (options,
 * session loop), ops.c (the low-level operations) and dir.c (directory
 * handles).
 *
 * FUSE node ids are cairn inode numbers (root: 1 on both sides), so no table
 * maps them and forget has nothing to do. An operation is one libcairn call
 * (one round trip; a lookup may first list its directory); replies carry
 * attributes so the kernel needs no extra GETATTR. Lookups and GETATTRs may
 * be answered from what earlier answers brought (negcache.c, attrcache.c),
 * within the mount's timeouts. Writes are answered when queued (wbehind.c);
 * every other call waits for the queue first (fs_cairn). Threads: the
 * multi-threaded session loop calls operations concurrently; struct fsctx
 * is read-only after start-up.
 */
#ifndef CAIRN_FS_H
#define CAIRN_FS_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include "cairn.h"

struct fsctx {
    cairn_t *c;
    char *volume;
    cairn_at_t at;         /* a past view (snapshot= or asof=), or now */
    int readonly;          /* 1 for past views: every change is EROFS */
    int writeback;         /* -o writeback_cache: the kernel caches writes */
    unsigned readahead_kb; /* -o readahead_kb: offered at FUSE init */
    double attr_timeout, entry_timeout;
};

/* The connection, for an operation other than WRITE: returns once every
 * write answered before has reached cairnd (wbehind.c (2)). */
cairn_t *fs_cairn(struct fsctx *fs);
/* wbehind.c: the write-behind queue. wb_init before the session, wb_start
 * (the sender; -1 if it cannot run: writes then go through at once) once
 * mounted, wb_stop after the loop (sends what is left). An open file keeps
 * marks, from wb_sample at open: how far it was told of the inode's
 * deferred write errors (wbehind.c (3)). wb_write copies and queues a
 * write (0, or a positive errno: a deferred error newer than its write
 * mark, or ENOMEM); wb_drain waits for every write queued before it;
 * wb_settle drains and returns a deferred error newer than its fsync mark,
 * moving the mark only for an fsync (FSYNC 1) and not for a close. */
struct wb_marks {
    uint64_t synced;  /* errors up to here were reported by an fsync */
    uint64_t written; /* ... or by a write (which the kernel may drop) */
};
void wb_init(struct fsctx *fs);
int wb_start(void);
void wb_stop(void);
void wb_sample(fuse_ino_t ino, struct wb_marks *m);
int wb_write(fuse_ino_t ino, struct wb_marks *m, const char *buf, size_t size, uint64_t off);
void wb_drain(void);
int wb_settle(fuse_ino_t ino, struct wb_marks *m, int fsync);
/* attrcache.c: inode attributes that came with other answers (a parent's
 * with a create, link, unlink or rmdir; every entry's with a listing).
 * Every change calls ac_changed with the inodes it touches (0: none,
 * AC_ALL: any or unknown) when it starts and when cairnd answered; ac_put
 * keeps attributes asked for at BORN only if the generation is still the
 * one read (ac_gen) before its own call; ac_get returns how many seconds
 * of MAX_AGE are left for INO's attributes (0: none). */
#define AC_ALL UINT64_MAX
double ac_now(void);
uint64_t ac_gen(void);
void ac_put(const cairn_attr_t *a, double born, uint64_t gen);
double ac_get(uint64_t ino, double max_age, cairn_attr_t *out);
void ac_changed(uint64_t a, uint64_t b);
/* negcache.c: full name lists of small directories, so that looking up a
 * name that is not there (before every create) needs no round trip. Every
 * change of names calls nc_begin before its call and nc_end after it, with
 * its result, what it did in DIR to NAME and OTHER (the inode made or
 * linked; the new directory for NC_MADE_DIR, the second directory for
 * NC_RENAMED). nc_lookup: NC_ABSENT if NAME is known absent from DIR, for
 * *LEFT more seconds; NC_PRESENT, with its attributes in *ATTR for
 * *ATTR_LEFT seconds if attrcache.c has them (else *ATTR_LEFT is 0);
 * NC_UNKNOWN.
 * nc_missed: cairnd said a name is absent from DIR (the next lookup there
 * lists it, also fetching every entry's attributes into attrcache.c). */
enum nc_change { NC_ADDED, NC_MADE_DIR, NC_REMOVED, NC_RENAMED };
enum nc_known { NC_UNKNOWN, NC_ABSENT, NC_PRESENT };
void nc_begin(void);
void nc_end(int rv, enum nc_change what, uint64_t dir, const char *name, uint64_t other);
enum nc_known nc_lookup(struct fsctx *fs, uint64_t dir, const char *name, cairn_attr_t *attr,
                        double *left, double *attr_left);
void nc_missed(struct fsctx *fs, uint64_t dir);
/* Drops every list (the names of any directory may have changed elsewhere). */
void nc_forget_all(void);
/* The inode DIR's list has for NAME (however old), or 0. */
uint64_t nc_ino(uint64_t dir, const char *name);
/* Moves at the start and at the end of every change of names (any
 * directory): a name-to-inode pair read before it moved may be gone. */
uint64_t nc_gen(void);
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
