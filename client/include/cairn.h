/*
 * cairn.h — libcairn, the C client library of cairn.
 *
 * A cairn_t is a connection to one cairnd (a gRPC channel). Every call is
 * blocking and thread-safe: many threads may share one cairn_t. Results are
 * 0 or a negative error: -errno (e.g. -ENOENT) or a CAIRN_E* code
 * (cairn_err.h); cairn_strerror() names them, and cairn_last_error() gives
 * the server's message for the calling thread's last failed call.
 *
 * Inodes are named by number (root: CAIRN_ROOT_INO) within a volume. Reads
 * take a cairn_at_t: NULL (or zeroed) means now; a snapshot name or a unix
 * time in ms reads that past state.
 */
#ifndef CAIRN_H
#define CAIRN_H

#include "cairn_err.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CAIRN_ROOT_INO 1u
/* Reads and writes up to this many bytes are one call, bound by the
 * connection's timeout (cairn_set_timeout); longer ones stream in pieces of
 * this size and get that timeout once per piece. */
#define CAIRN_CALL_MAX (1u << 20)
/* The largest file size cairnd keeps (bytes): a write or truncate past it
 * fails with -EFBIG. */
#define CAIRN_MAX_FILE_SIZE (1ull << 62)
/* Where cairnctl and cairn-fuse look when no address is given. */
#define CAIRN_DEFAULT_ADDR "unix:/run/cairn/cairnd.sock"

typedef struct cairn cairn_t;

typedef struct cairn_attr {
    uint64_t ino;
    uint32_t mode, uid, gid, nlink;
    uint64_t size, rdev;
    int64_t atime_ns, mtime_ns, ctime_ns, btime_ns;
    uint64_t parent;
} cairn_attr_t;

typedef struct cairn_at {
    const char *snapshot; /* NULL or a snapshot name */
    int64_t time_ms;      /* 0 or a unix time in ms */
} cairn_at_t;

/* Parses the text form of a point in history into *AT: a time ("@SECONDS",
 * "2026-11-24T18:00:00[.mmm][Z]" UTC, or ms since 1970: 12 digits or more;
 * a time to the second means the end of that second), or else a snapshot
 * name (AT->snapshot then points into S). -EINVAL for an empty S or a time
 * that is malformed, out of range or not after 1970. */
int cairn_parse_at(const char *s, cairn_at_t *at);

/* ADDR: "unix:PATH" or "HOST:PORT"; NULL: $CAIRN_SERVER or CAIRN_DEFAULT_ADDR.
 * Connecting is lazy: the first call reports an unreachable server
 * (CAIRN_EUNAVAIL); -ENAMETOOLONG at once for a PATH longer than a unix
 * socket's (107 bytes). */
int cairn_connect(cairn_t **out, const char *addr);
void cairn_disconnect(cairn_t *c);
/* Per-call deadline in ms (0 or less: the default); a read or write longer
 * than CAIRN_CALL_MAX gets it once per CAIRN_CALL_MAX piece, and fails as
 * soon as cairnd makes no progress for that long. A call that outlives it
 * fails with -ETIMEDOUT. */
#define CAIRN_TIMEOUT_MS 60000
void cairn_set_timeout(cairn_t *c, int timeout_ms);
/* 1: a call to an unreachable server waits (up to the deadline) for it to
 * come back instead of failing at once. */
void cairn_set_wait_for_ready(cairn_t *c, int on);
/* The longest poll cairn_set_spin accepts (longer ones are cut to it). */
#define CAIRN_SPIN_MAX_US 100000
/* Microseconds a unary call polls for its answer before its thread sleeps
 * (default 50, 0: never, at most CAIRN_SPIN_MAX_US): a sleep and a wake-up cost more
 * than a quick call itself; a poll yields its CPU to threads waiting for
 * it, and one that finds nothing costs at most its length in CPU. A call
 * polls only when no other call of the process waits for an answer, and
 * never in a process whose CPU affinity (read once) allows one CPU. */
void cairn_set_spin(cairn_t *c, int spin_us);
/* 1: reads of the present through C mark files read (atime), as Linux
 * "relatime" does (the FUSE mount turns it on); default 0. */
void cairn_set_relatime(cairn_t *c, int on);
/* The server's message for this thread's last call: read it right after the
 * call failed ("" when that call succeeded or the failure carried no text). */
const char *cairn_last_error(void);
/* Optional, process-wide, once at program start: tunes glibc's malloc so
 * the 1 MiB buffers of large reads and writes are reused instead of being
 * mapped and faulted in for every piece (about twice the streaming speed).
 * cairnctl and cairn-fuse call it. 0, or -1 if malloc refused. */
int cairn_tune_malloc(void);

/* ---- files ---- */
int cairn_lookup(cairn_t *c, const char *vol, uint64_t parent, const char *name,
                 const cairn_at_t *at, cairn_attr_t *out);
int cairn_resolve(cairn_t *c, const char *vol, const char *path, const cairn_at_t *at,
                  cairn_attr_t *out);
int cairn_getattr(cairn_t *c, const char *vol, uint64_t ino, const cairn_at_t *at,
                  cairn_attr_t *out);

enum cairn_setattr_bits {
    CAIRN_SET_MODE = 1 << 0,
    CAIRN_SET_UID = 1 << 1,
    CAIRN_SET_GID = 1 << 2,
    CAIRN_SET_SIZE = 1 << 3,
    CAIRN_SET_ATIME = 1 << 4,
    CAIRN_SET_MTIME = 1 << 5,
    CAIRN_SET_ATIME_NOW = 1 << 6,
    CAIRN_SET_MTIME_NOW = 1 << 7,
    CAIRN_SET_CTIME = 1 << 8,
};
typedef struct cairn_setattr {
    uint32_t mask;
    uint32_t mode, uid, gid;
    uint64_t size;
    int64_t atime_ns, mtime_ns, ctime_ns;
} cairn_setattr_t;
int cairn_setattr(cairn_t *c, const char *vol, uint64_t ino, const cairn_setattr_t *sa,
                  cairn_attr_t *out);

/* Creates a file, directory (S_IFDIR), FIFO, socket or device node. */
int cairn_mknod(cairn_t *c, const char *vol, uint64_t parent, const char *name, uint32_t mode,
                uint64_t rdev, uint32_t uid, uint32_t gid, cairn_attr_t *out);
int cairn_symlink(cairn_t *c, const char *vol, uint64_t parent, const char *name,
                  const char *target, uint32_t uid, uint32_t gid, cairn_attr_t *out);
int cairn_unlink(cairn_t *c, const char *vol, uint64_t parent, const char *name);
int cairn_rmdir(cairn_t *c, const char *vol, uint64_t parent, const char *name);
#define CAIRN_RENAME_NOREPLACE 1u
#define CAIRN_RENAME_EXCHANGE 2u
int cairn_rename(cairn_t *c, const char *vol, uint64_t parent, const char *name, uint64_t newparent,
                 const char *newname, unsigned flags);
int cairn_link(cairn_t *c, const char *vol, uint64_t ino, uint64_t newparent, const char *newname,
               cairn_attr_t *out);
/* After a successful cairn_mknod, cairn_symlink, cairn_link, cairn_unlink
 * or cairn_rmdir: 1 and the parent directory's attributes just after the
 * change (the server sends them along), or 0 if it did not. Per thread,
 * like cairn_last_error. */
int cairn_last_parent(cairn_attr_t *out);
/* Copies the target into BUF (NUL-terminated, truncated to CAP). */
int cairn_readlink(cairn_t *c, const char *vol, uint64_t ino, const cairn_at_t *at, char *buf,
                   size_t cap);

/* Called per entry; ATTR is NULL unless requested. Non-zero stops the listing
 * (1 = stop without error, other values are returned). */
typedef int (*cairn_dirent_fn)(void *ctx, const char *name, uint64_t ino, uint32_t type,
                               const cairn_attr_t *attr);
/* Lists DIR after name AFTER (NULL: from the start), in name order. */
int cairn_readdir(cairn_t *c, const char *vol, uint64_t dir, const cairn_at_t *at,
                  const char *after, int with_attrs, cairn_dirent_fn fn, void *ctx);

/* Reads up to LEN bytes at OFF; *GOT is short at end of file. Any length. */
int cairn_read(cairn_t *c, const char *vol, uint64_t ino, uint64_t off, size_t len, void *buf,
               const cairn_at_t *at, size_t *got);
/* Writes LEN bytes at OFF (any length: large writes stream in pieces). */
int cairn_write(cairn_t *c, const char *vol, uint64_t ino, uint64_t off, const void *buf,
                size_t len, cairn_attr_t *out);
/* As cairn_write, without copying BUF: libcairn sends the bytes from where
 * they lie. DONE(ARG) runs exactly once, on any thread (it must not block),
 * when libcairn no longer refers to BUF; until then BUF must stay valid and
 * unchanged. It usually runs before cairn_write_lent returns, whatever the
 * result; after a call given up on (-ETIMEDOUT) while its bytes were still
 * being sent to a server that stopped reading, it runs once that send ends
 * (the server reads again, or the connection breaks), within about 50 ms,
 * also if the program makes no more calls. Writes of up to CAIRN_CALL_MAX
 * bytes are copied as by cairn_write, and DONE runs before the return. */
int cairn_write_lent(cairn_t *c, const char *vol, uint64_t ino, uint64_t off, const void *buf,
                     size_t len, void (*done)(void *arg), void *arg, cairn_attr_t *out);
/* Makes every acknowledged mutation of the volume durable. */
int cairn_fsync(cairn_t *c, const char *vol);

typedef struct cairn_statfs {
    uint64_t capacity, used, files;
    uint32_t name_max, block_size;
} cairn_statfs_t;
int cairn_statfs(cairn_t *c, const char *vol, cairn_statfs_t *out);

int cairn_setxattr(cairn_t *c, const char *vol, uint64_t ino, const char *name, const void *val,
                   size_t len, int flags);
/* *LEN = the value's full size; up to CAP bytes are copied. */
int cairn_getxattr(cairn_t *c, const char *vol, uint64_t ino, const char *name,
                   const cairn_at_t *at, void *buf, size_t cap, size_t *len);
int cairn_listxattr(cairn_t *c, const char *vol, uint64_t ino, const cairn_at_t *at, char *buf,
                    size_t cap, size_t *len);
int cairn_removexattr(cairn_t *c, const char *vol, uint64_t ino, const char *name);

/* ---- history and snapshots ---- */
typedef struct cairn_version {
    uint64_t hlc;
    uint32_t origin;
    uint64_t seq;
    int64_t time_ms;
    cairn_attr_t attr;
} cairn_version_t;
typedef int (*cairn_version_fn)(void *ctx, const cairn_version_t *v);
/* Every version of PATH, newest first. */
int cairn_history(cairn_t *c, const char *vol, const char *path, cairn_version_fn fn, void *ctx);
int cairn_snapshot_create(cairn_t *c, const char *vol, const char *name);
typedef int (*cairn_snapshot_fn)(void *ctx, const char *name, int64_t time_ms, uint64_t hlc);
int cairn_snapshot_list(cairn_t *c, const char *vol, cairn_snapshot_fn fn, void *ctx);

/* ---- administration ---- */
typedef struct cairn_node_status {
    uint32_t node_id;
    char name[256];
    char version[32];
    char data_dir[1024];
    uint64_t uptime_s;
    uint32_t chunks, volumes;
    uint64_t index_bytes, bytes_appended, flushes, checksum_errors;
    int index_lost;           /* a reindex failed part way: file operations are refused until one
                                 succeeds or cairnd restarts */
    uint64_t damaged_located; /* damaged records whose data recovery kept indexed */
    char index_rebuilt[16];   /* why cairnd's start rebuilt the index from the chunks, "" if it
                                 did not: missing, layout, inconsistent or damaged */
} cairn_node_status_t;
int cairn_node_status(cairn_t *c, cairn_node_status_t *out);
int cairn_node_reindex(cairn_t *c);

typedef struct cairn_chunk_info {
    char id[33];
    uint32_t number;
    uint64_t capacity, used;
    char volume[256];
} cairn_chunk_info_t;
typedef int (*cairn_chunk_fn)(void *ctx, const cairn_chunk_info_t *ci);
/* Creates COUNT chunks of SIZE bytes (0: the node's default) and reports each. */
int cairn_chunk_create(cairn_t *c, unsigned count, uint64_t size, cairn_chunk_fn fn, void *ctx);
int cairn_chunk_list(cairn_t *c, cairn_chunk_fn fn, void *ctx);
int cairn_chunk_assign(cairn_t *c, const char *chunk_id, const char *vol);

typedef struct cairn_volume_info {
    char name[256];
    char id[33];
    char durability[32];
    uint32_t chunks;
    uint64_t capacity, used;
    int read_only;
} cairn_volume_info_t;
typedef int (*cairn_volume_fn)(void *ctx, const cairn_volume_info_t *vi);
/* DURABILITY: NULL or "local" or "replicas=N". */
int cairn_volume_create(cairn_t *c, const char *name, const char *durability);
int cairn_volume_list(cairn_t *c, cairn_volume_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif
#endif
