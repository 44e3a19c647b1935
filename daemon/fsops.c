/*
 * fsops.c — owns the POSIX semantics of the engine: checks each call against
 * the current state, and turns it into one record group (fsops.h).
 *
 * Invariants:
 * (1) every mutation reads, checks and commits under the volume's writer
 *     lock, so the checks hold for the state the record applies to;
 * (2) a record carries the complete new attributes of every inode it
 *     changes (apply never computes attributes), symlink targets included;
 * (3) a directory's size is its number of live entries and its nlink is
 *     2 + its subdirectories; a file's nlink counts its directory entries;
 * (4) no data record crosses a block boundary; a write commits at most
 *     WRITE_GROUP_BYTES per group, and the group's last record carries the
 *     inode (size, mtime), so a crash never leaves a size that claims bytes
 *     that were not written;
 * (5) a block is rewritten whole (compacted) before its composition would
 *     exceed COMPACT_PIECES pieces, keeping reads of any block bounded;
 * (6) a read sees one state (meta_view_begin): fs_read the size and every
 *     block, fs_lookup and fs_resolve every step of the path, fs_readdir the
 *     listing and its entries' attributes, as they were when it began; never
 *     a mix of a change that committed meanwhile with what it replaced. A
 *     view lives inside one hold of the engine gate (a reindex swaps the
 *     index it reads).
 * Threads: any; see fsops.h.
 */
#include "fsops.h"

#include "alloc.h"
#include "bytes.h"
#include "cairn_err.h"
#include "chunk.h"
#include "engine.h"
#include "extent.h"
#include "format.h"
#include "log.h"
#include "metakey.h"
#include "vlookup.h"
#include "volume.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>

#define WRITE_GROUP_BYTES (1u << 20)
#define WRITE_GROUP_RECS (WRITE_GROUP_BYTES / BLOCK_SIZE + 1)
#define COMPACT_PIECES 32
#define MAX_FILE_SIZE (1ull << 62) /* cairn.h CAIRN_MAX_FILE_SIZE */
#define XATTR_VALUE_MAX 65536u
#define LINKS_MAX 65000u
#define DEPTH_MAX 4096
#define TXN_INODES 6

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int check_name(const char *name)
{
    size_t n = strnlen(name, 256);
    if (n > 255)
        return -ENAMETOOLONG;
    return name_valid(name, n) ? 0 : -EINVAL;
}

static void root_attr(struct attr *a)
{
    memset(a, 0, sizeof *a);
    a->mode = S_IFDIR | 0755;
    a->nlink = 2;
    a->parent = ROOT_INO;
}

/* The inode INO as of AT; *TARGET (if TARGET) is a malloc'ed copy of a
 * symlink's target (NULL otherwise). */
static int load_inode(struct volume *v, const struct asof *at, uint64_t ino, struct attr *a,
                      char **target, uint16_t *tlen)
{
    uint8_t prefix[KEY_MAX];
    size_t plen = mk_inode(prefix, v->no, ino, STAMP_NEWEST) - STAMP_LEN;
    struct meta_iter *it = meta_iter_new(v->meta, CF_INODES, NULL, 0);
    if (target) {
        *target = NULL;
        *tlen = 0;
    }
    int rv = vlookup_asof(it, prefix, plen, at);
    if (rv == -ENOENT && ino == ROOT_INO) {
        root_attr(a);
        rv = 0;
    } else if (rv == 0) {
        size_t vlen;
        const uint8_t *val = meta_iter_value(it, &vlen);
        struct iv_inode iv;
        if ((rv = iv_inode_decode(&iv, val, vlen)) == 0) {
            *a = iv.a;
            if (target && iv.tlen) {
                *target = xstrndup(iv.target, iv.tlen);
                *tlen = iv.tlen;
            }
        } else {
            log_err("fsops", "malformed inode entry %llu in volume %s", (unsigned long long)ino,
                    v->info.name);
        }
    }
    meta_iter_free(it);
    return rv;
}

/* Whether AT is the present (live family) rather than a past view. */
static int asof_now(const struct asof *at)
{
    return at->hlc == UINT64_MAX && !at->vv;
}

static int load_dirent(struct volume *v, const struct asof *at, uint64_t parent, const char *name,
                       uint64_t *child, uint8_t *dtype)
{
    uint8_t prefix[KEY_MAX];
    size_t nlen = strlen(name);
    uint64_t seq;
    if (asof_now(at)) { /* one point lookup (apply.c (5)) */
        char *val;
        size_t vlen;
        int rv = meta_get(v->meta, CF_LIVE, prefix, mk_live(prefix, v->no, parent, name, nlen),
                          &val, &vlen);
        if (rv != 0)
            return rv;
        rv = iv_dirent_decode((const uint8_t *)val, vlen, &seq, child, dtype);
        free(val);
        return rv == 0 && *child == 0 ? CAIRN_EFORMAT : rv; /* never a tombstone */
    }
    size_t plen = mk_dirent(prefix, v->no, parent, name, nlen, STAMP_NEWEST) - STAMP_LEN;
    struct meta_iter *it = meta_iter_new(v->meta, CF_DIRENTS, NULL, 0);
    int rv = vlookup_asof(it, prefix, plen, at);
    if (rv == 0) {
        size_t vlen;
        const uint8_t *val = meta_iter_value(it, &vlen);
        if ((rv = iv_dirent_decode(val, vlen, &seq, child, dtype)) == 0 && *child == 0)
            rv = -ENOENT; /* tombstone */
    }
    meta_iter_free(it);
    return rv;
}

/* ---- a mutation in progress: one record and the inodes it changes ---- */

struct txn_ino {
    uint64_t ino;
    struct attr a;
    char *target;
    uint16_t tlen;
    int dirty;
};

struct txn {
    struct volume *v;
    struct record rec;
    struct txn_ino ent[TXN_INODES];
    int n;
    int64_t now;
};

static int txn_begin(struct txn *t, struct volume *v)
{
    t->v = v;
    record_init(&t->rec);
    t->n = 0;
    t->now = now_ns();
    int rv = engine_enter(v->eng); /* txn_end leaves, whatever this returns */
    pthread_mutex_lock(&v->wlock);
    return rv ? rv : atomic_load(&v->failed) ? CAIRN_EFAILED : 0;
}

static void txn_end(struct txn *t)
{
    pthread_mutex_unlock(&t->v->wlock);
    engine_leave(t->v->eng);
    for (int i = 0; i < t->n; i++)
        free(t->ent[i].target);
    record_fini(&t->rec);
}

/* The current attributes of INO, loaded once per transaction. */
static int txn_get(struct txn *t, uint64_t ino, struct txn_ino **out)
{
    for (int i = 0; i < t->n; i++)
        if (t->ent[i].ino == ino) {
            *out = &t->ent[i];
            return 0;
        }
    if (t->n == TXN_INODES)
        return -EINVAL; /* programmer error: no operation touches more */
    struct txn_ino *e = &t->ent[t->n];
    int rv = load_inode(t->v, &ASOF_NOW, ino, &e->a, &e->target, &e->tlen);
    if (rv != 0)
        return rv;
    e->ino = ino;
    e->dirty = 0;
    t->n++;
    *out = e;
    return 0;
}

/* A directory that can hold entries now. */
static int txn_dir(struct txn *t, uint64_t ino, struct txn_ino **out)
{
    int rv = txn_get(t, ino, out);
    if (rv != 0)
        return rv;
    if (!S_ISDIR((*out)->a.mode))
        return -ENOTDIR;
    return (*out)->a.nlink == 0 ? -ENOENT : 0;
}

static void txn_touch_dir(struct txn *t, struct txn_ino *d)
{
    d->a.mtime = d->a.ctime = t->now;
    d->dirty = 1;
}

static void txn_dirent(struct txn *t, uint64_t parent, const char *name, uint64_t child,
                       uint32_t mode)
{
    struct effect *e = record_add(&t->rec, EFF_DIRENT);
    e->parent = parent;
    e->str = name;
    e->str_len = (uint16_t)strlen(name);
    e->child = child;
    e->dtype = (uint8_t)((mode & S_IFMT) >> 12);
}

/* (2): every changed inode goes into the record whole. */
static int txn_commit(struct txn *t)
{
    for (int i = 0; i < t->n; i++) {
        struct txn_ino *ti = &t->ent[i];
        if (!ti->dirty)
            continue;
        struct effect *e = record_add(&t->rec, EFF_INODE);
        e->ino = ti->ino;
        e->attr = ti->a;
        e->str = ti->target;
        e->str_len = ti->tlen;
    }
    if (t->rec.n_eff == 0)
        return 0;
    return volume_commit(t->v, &t->rec, 1);
}

/* ---- reads ---- */

/* (6): the engine gate and a view, for a read of one state. 0, or
 * engine_enter's error with nothing held; read_end ends what 0 began. */
static int read_begin(struct volume *v)
{
    int rv = engine_enter(v->eng);
    if (rv != 0) {
        engine_leave(v->eng);
        return rv;
    }
    meta_view_begin(v->meta);
    return 0;
}

static void read_end(struct volume *v)
{
    meta_view_end();
    engine_leave(v->eng);
}

int fs_getattr(struct volume *v, const struct asof *at, uint64_t ino, struct attr *out)
{
    int rv = engine_enter(v->eng);
    if (rv == 0)
        rv = load_inode(v, at, ino, out, NULL, NULL);
    engine_leave(v->eng);
    return rv;
}

static int is_dots(const char *name)
{
    return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

/* fs_lookup inside the engine gate and a view, of a NAME that is valid
 * (check_name) or a dot entry. */
static int lookup_in(struct volume *v, const struct asof *at, uint64_t parent, const char *name,
                     uint64_t *ino, struct attr *out)
{
    int dots = is_dots(name);
    struct attr pa;
    int rv = load_inode(v, at, parent, &pa, NULL, NULL);
    if (rv == 0 && !S_ISDIR(pa.mode))
        rv = -ENOTDIR;
    if (rv != 0)
        return rv;
    uint8_t dtype;
    if (dots)
        *ino = name[1] ? pa.parent : parent;
    else if ((rv = load_dirent(v, at, parent, name, ino, &dtype)) != 0)
        return rv;
    return load_inode(v, at, *ino, out, NULL, NULL);
}

int fs_lookup(struct volume *v, const struct asof *at, uint64_t parent, const char *name,
              uint64_t *ino, struct attr *out)
{
    int rv = is_dots(name) ? 0 : check_name(name); /* before the gate, as before */
    if (rv != 0)
        return rv;
    if ((rv = read_begin(v)) == 0) {
        rv = lookup_in(v, at, parent, name, ino, out);
        read_end(v);
    }
    return rv;
}

/* Linux "relatime": a read of the present updates atime when atime is not
 * newer than mtime or ctime, or is a day old; so a read after a change is
 * seen (mail readers, tmp cleaners) without a record per read. */
static int relatime_due(const struct attr *a)
{
    return a->atime <= a->mtime || a->atime <= a->ctime ||
           now_ns() - a->atime > 24LL * 3600 * 1000000000;
}

int fs_read(struct volume *v, const struct asof *at, uint64_t ino, uint64_t off, size_t len,
            void *buf, size_t *got)
{
    struct attr a;
    *got = 0;
    int rv = read_begin(v); /* one state: the size and every block */
    if (rv != 0)
        return rv;
    rv = load_inode(v, at, ino, &a, NULL, NULL);
    if (rv == 0 && S_ISDIR(a.mode))
        rv = -EISDIR;
    else if (rv == 0 && !S_ISREG(a.mode))
        rv = -EINVAL;
    if (rv == 0 && off < a.size) {
        size_t n = a.size - off < len ? (size_t)(a.size - off) : len;
        rv = extent_read(v->meta, v->no, volume_chunk, v, ino, at, off, n, buf);
        if (rv == 0)
            *got = n;
    }
    read_end(v);
    return rv;
}

int fs_read_atime(struct volume *v, uint64_t ino)
{
    struct attr a;
    int rv = fs_getattr(v, &ASOF_NOW, ino, &a);
    if (rv != 0 || !relatime_due(&a))
        return rv;
    /* checked again under the writer lock, against the inode as it is then:
     * a change that came meanwhile keeps its ctime */
    struct setattr sa = {.mask = SET_RELATIME};
    return fs_setattr(v, ino, &sa, NULL);
}

int fs_readlink(struct volume *v, const struct asof *at, uint64_t ino, char *buf, size_t cap,
                size_t *len)
{
    struct attr a;
    char *target;
    uint16_t tlen;
    int rv = engine_enter(v->eng);
    if (rv == 0)
        rv = load_inode(v, at, ino, &a, &target, &tlen);
    engine_leave(v->eng);
    if (rv != 0)
        return rv;
    if (S_ISLNK(a.mode)) {
        memcpy(buf, target, tlen < cap ? tlen : cap);
        *len = tlen;
    } else {
        rv = -EINVAL;
    }
    free(target);
    return rv;
}

/* One listed entry: NAME's dirent value VAL. 0 to go on, 1 to stop, or an
 * error (fs_dirent_fn's stop values). */
static int list_entry(struct volume *v, const struct asof *at, const char *name, size_t nlen,
                      const uint8_t *val, size_t vlen, int with_attrs, fs_dirent_fn fn, void *ctx)
{
    uint64_t seq, child;
    uint8_t dtype;
    int rv = iv_dirent_decode(val, vlen, &seq, &child, &dtype);
    if (rv != 0 || !child)
        return rv;
    struct attr ca; /* best effort: an entry whose inode cannot be read has none */
    int has = with_attrs && load_inode(v, at, child, &ca, NULL, NULL) == 0;
    return fn(ctx, name, nlen, child, (uint32_t)dtype << 12, has ? &ca : NULL);
}

/* Writes to KEY where a listing of PREFIX (12 bytes) starts: at PREFIX, or
 * past AFTER (NULL: from the start), at AFTER followed by PAST, the byte
 * that puts it past AFTER's own key (live: 00) or every version of it (01,
 * metakey.c (2)). Returns its length. */
static size_t listing_start(uint8_t *key, const uint8_t *prefix, const char *after,
                            size_t after_len, uint8_t past)
{
    memcpy(key, prefix, 12);
    if (!after)
        return 12;
    memcpy(key + 12, after, after_len);
    key[12 + after_len] = past;
    return 12 + after_len + 1;
}

/* The listing now: the live family holds exactly the names the directory
 * has (apply.c (5)), so this costs them, not its history. */
static int list_live(struct volume *v, const struct asof *at, const uint8_t *prefix,
                     const char *after, size_t after_len, int with_attrs, fs_dirent_fn fn,
                     void *ctx)
{
    uint8_t upper[12], key[12 + 256];
    size_t ulen = mk_prefix_end(upper, prefix, 12);
    size_t klen = listing_start(key, prefix, after, after_len, 0);
    struct meta_iter *it = meta_iter_new(v->meta, CF_LIVE, upper, ulen);
    int rv = 0;
    for (meta_iter_seek(it, key, klen); rv == 0 && meta_iter_valid(it); meta_iter_next(it)) {
        size_t kl, vlen;
        const uint8_t *k = meta_iter_key(it, &kl);
        const uint8_t *val = meta_iter_value(it, &vlen);
        const char *name;
        size_t nlen;
        if ((rv = mk_live_name(k, kl, &name, &nlen)) == 0)
            rv = list_entry(v, at, name, nlen, val, vlen, with_attrs, fn, ctx);
    }
    if (rv == 0)
        rv = meta_iter_status(it);
    meta_iter_free(it);
    return rv;
}

/* The listing as of a past point: every name the directory ever had, each
 * as it was then. */
static int list_asof(struct volume *v, const struct asof *at, const uint8_t *prefix,
                     const char *after, size_t after_len, int with_attrs, fs_dirent_fn fn,
                     void *ctx)
{
    uint8_t upper[12], key[KEY_MAX + STAMP_LEN], vprefix[KEY_MAX];
    size_t ulen = mk_prefix_end(upper, prefix, 12);
    struct meta_iter *it = meta_iter_new(v->meta, CF_DIRENTS, upper, ulen);
    struct meta_iter *vit = meta_iter_new(v->meta, CF_DIRENTS, upper, ulen);
    size_t klen = listing_start(key, prefix, after, after_len, 1);
    int rv = 0;
    meta_iter_seek(it, key, klen);
    while (rv == 0 && meta_iter_valid(it)) {
        size_t kl;
        const uint8_t *k = meta_iter_key(it, &kl);
        const char *name;
        size_t nlen;
        if ((rv = mk_name(k, kl, &name, &nlen)) != 0)
            break;
        size_t plen = 12 + nlen + 1;
        memcpy(vprefix, k, plen);
        rv = vlookup_asof(vit, vprefix, plen, at);
        if (rv == 0) {
            size_t vlen;
            const uint8_t *val = meta_iter_value(vit, &vlen);
            rv =
                list_entry(v, at, (const char *)vprefix + 12, nlen, val, vlen, with_attrs, fn, ctx);
        } else if (rv == -ENOENT) {
            rv = 0;
        }
        if (rv != 0)
            break;
        /* next name: past every version of this one */
        memcpy(key, vprefix, plen);
        key[plen - 1] = 1;
        meta_iter_seek(it, key, plen);
    }
    if (rv == 0)
        rv = meta_iter_status(it);
    meta_iter_free(vit);
    meta_iter_free(it);
    return rv;
}

int fs_readdir(struct volume *v, const struct asof *at, uint64_t dir, const char *after,
               size_t after_len, int with_attrs, fs_dirent_fn fn, void *ctx)
{
    struct attr da;
    if (after && after_len > 255)
        return -EINVAL;
    int rv = read_begin(v);
    if (rv != 0)
        return rv;
    rv = load_inode(v, at, dir, &da, NULL, NULL);
    if (rv == 0 && !S_ISDIR(da.mode))
        rv = -ENOTDIR;
    if (rv == 0) {
        uint8_t prefix[12];
        put_be32(prefix, v->no);
        put_be64(prefix + 4, dir);
        rv = asof_now(at) ? list_live(v, at, prefix, after, after_len, with_attrs, fn, ctx)
                          : list_asof(v, at, prefix, after, after_len, with_attrs, fn, ctx);
        if (rv == 1)
            rv = 0; /* stopped by FN */
    }
    read_end(v);
    return rv;
}

int fs_statfs(struct volume *v, struct fs_statfs *out)
{
    memset(out, 0, sizeof *out);
    int rv = engine_enter(v->eng);
    pthread_mutex_lock(&v->wlock);
    for (uint32_t i = 0; rv == 0 && i < v->n_chunks; i++) {
        out->capacity += v->chunks[i]->capacity - CHUNK_HDR_LEN;
        out->used += v->chunks[i]->tail - CHUNK_HDR_LEN;
    }
    out->files = v->ino_ctr + 1;
    pthread_mutex_unlock(&v->wlock);
    engine_leave(v->eng);
    out->name_max = 255;
    return rv;
}

int fs_fsync(struct volume *v)
{
    int rv = engine_enter(v->eng);
    if (rv == 0)
        rv = volume_flush(v);
    engine_leave(v->eng);
    return rv;
}

/* ---- namespace mutations ---- */

int fs_mknod(struct volume *v, uint64_t parent, const char *name, uint32_t mode, uint64_t rdev,
             uint32_t uid, uint32_t gid, const char *target, uint64_t *ino, struct attr *out)
{
    int rv = check_name(name);
    if (rv != 0)
        return rv;
    if (mode & ~(uint32_t)(S_IFMT | 07777)) /* bits no file has: kept in history forever */
        return -EINVAL;
    size_t tlen = 0;
    if (target) {
        tlen = strnlen(target, PATH_MAX);
        if (tlen == 0)
            return -ENOENT;
        if (tlen >= PATH_MAX)
            return -ENAMETOOLONG;
        mode = S_IFLNK | 0777;
    }
    switch (mode & S_IFMT) {
    case S_IFREG:
    case S_IFDIR:
    case S_IFIFO:
    case S_IFSOCK:
    case S_IFCHR:
    case S_IFBLK:
    case S_IFLNK:
        break;
    case 0:
        mode |= S_IFREG;
        break;
    default:
        return -EINVAL;
    }
    if (S_ISLNK(mode) && !target)
        return -EINVAL;
    struct txn t;
    struct txn_ino *p, *c;
    uint64_t child, existing;
    uint8_t dtype;
    if ((rv = txn_begin(&t, v)) != 0 || (rv = txn_dir(&t, parent, &p)) != 0)
        goto out;
    rv = load_dirent(v, &ASOF_NOW, parent, name, &existing, &dtype);
    if (rv != -ENOENT) {
        rv = rv ? rv : -EEXIST;
        goto out;
    }
    if ((rv = volume_alloc_ino(v, &child)) != 0)
        goto out;
    c = &t.ent[t.n++];
    memset(c, 0, sizeof *c);
    c->ino = child;
    c->dirty = 1;
    c->a.mode = mode;
    c->a.uid = uid;
    c->a.gid = gid;
    if (p->a.mode & S_ISGID) { /* BSD group semantics in setgid directories */
        c->a.gid = p->a.gid;
        if (S_ISDIR(mode))
            c->a.mode |= S_ISGID;
    }
    c->a.rdev = (S_ISCHR(mode) || S_ISBLK(mode)) ? rdev : 0;
    c->a.nlink = S_ISDIR(mode) ? 2 : 1;
    c->a.size = tlen;
    c->a.parent = parent;
    c->a.atime = c->a.mtime = c->a.ctime = c->a.btime = t.now;
    if (target) {
        c->target = xstrndup(target, tlen);
        c->tlen = (uint16_t)tlen;
    }
    txn_dirent(&t, parent, name, child, mode);
    p->a.size++;
    if (S_ISDIR(mode))
        p->a.nlink++;
    txn_touch_dir(&t, p);
    if ((rv = txn_commit(&t)) == 0) {
        *ino = child;
        if (out)
            *out = c->a;
    }
out:
    txn_end(&t);
    return rv;
}

int fs_unlink(struct volume *v, uint64_t parent, const char *name)
{
    int rv = check_name(name);
    if (rv != 0)
        return rv;
    struct txn t;
    struct txn_ino *p, *c;
    uint64_t child;
    uint8_t dtype;
    if ((rv = txn_begin(&t, v)) != 0 || (rv = txn_dir(&t, parent, &p)) != 0 ||
        (rv = load_dirent(v, &ASOF_NOW, parent, name, &child, &dtype)) != 0 ||
        (rv = txn_get(&t, child, &c)) != 0)
        goto out;
    if (S_ISDIR(c->a.mode)) {
        rv = -EISDIR;
        goto out;
    }
    txn_dirent(&t, parent, name, 0, 0);
    c->a.nlink--;
    c->a.ctime = t.now;
    c->dirty = 1;
    p->a.size--;
    txn_touch_dir(&t, p);
    rv = txn_commit(&t);
out:
    txn_end(&t);
    return rv;
}

int fs_rmdir(struct volume *v, uint64_t parent, const char *name)
{
    if (strcmp(name, ".") == 0)
        return -EINVAL;
    if (strcmp(name, "..") == 0)
        return -ENOTEMPTY;
    int rv = check_name(name);
    if (rv != 0)
        return rv;
    struct txn t;
    struct txn_ino *p, *c;
    uint64_t child;
    uint8_t dtype;
    if ((rv = txn_begin(&t, v)) != 0 || (rv = txn_dir(&t, parent, &p)) != 0 ||
        (rv = load_dirent(v, &ASOF_NOW, parent, name, &child, &dtype)) != 0 ||
        (rv = txn_get(&t, child, &c)) != 0)
        goto out;
    if (!S_ISDIR(c->a.mode)) {
        rv = -ENOTDIR;
        goto out;
    }
    if (c->a.size > 0) {
        rv = -ENOTEMPTY;
        goto out;
    }
    txn_dirent(&t, parent, name, 0, 0);
    c->a.nlink = 0;
    c->a.ctime = t.now;
    c->dirty = 1;
    p->a.size--;
    p->a.nlink--;
    txn_touch_dir(&t, p);
    rv = txn_commit(&t);
out:
    txn_end(&t);
    return rv;
}

/* -EINVAL when directory DIR is ANC or lies below it. */
static int check_not_below(struct txn *t, uint64_t dir, uint64_t anc)
{
    uint64_t cur = dir;
    for (int depth = 0; depth < DEPTH_MAX; depth++) {
        if (cur == anc)
            return -EINVAL;
        if (cur == ROOT_INO)
            return 0;
        struct attr a;
        int rv = load_inode(t->v, &ASOF_NOW, cur, &a, NULL, NULL);
        if (rv != 0)
            return rv;
        cur = a.parent;
    }
    return -ELOOP;
}

int fs_rename(struct volume *v, uint64_t parent, const char *name, uint64_t newparent,
              const char *newname, unsigned flags)
{
    int rv;
    if ((rv = check_name(name)) != 0 || (rv = check_name(newname)) != 0)
        return rv;
    if ((flags & ~(FS_RENAME_NOREPLACE | FS_RENAME_EXCHANGE)) ||
        flags == (FS_RENAME_NOREPLACE | FS_RENAME_EXCHANGE))
        return -EINVAL;
    int exchange = flags & FS_RENAME_EXCHANGE;
    struct txn t;
    struct txn_ino *p1, *p2, *s, *d = NULL;
    uint64_t src, dst = 0;
    uint8_t dtype;
    if ((rv = txn_begin(&t, v)) != 0 || (rv = txn_dir(&t, parent, &p1)) != 0 ||
        (rv = txn_dir(&t, newparent, &p2)) != 0 ||
        (rv = load_dirent(v, &ASOF_NOW, parent, name, &src, &dtype)) != 0 ||
        (rv = txn_get(&t, src, &s)) != 0)
        goto out;
    rv = load_dirent(v, &ASOF_NOW, newparent, newname, &dst, &dtype);
    if (rv == -ENOENT)
        dst = 0, rv = 0;
    if (rv != 0)
        goto out;
    if (dst && (flags & FS_RENAME_NOREPLACE)) {
        rv = -EEXIST; /* even onto itself, as renameat2 does */
        goto out;
    }
    if (parent == newparent && strcmp(name, newname) == 0)
        goto out; /* same entry: nothing to do */
    if (!dst && exchange) {
        rv = -ENOENT;
        goto out;
    }
    if (dst == src && !exchange)
        goto out; /* two links to one inode: POSIX says do nothing */
    if (S_ISDIR(s->a.mode) && parent != newparent &&
        (rv = check_not_below(&t, newparent, src)) != 0)
        goto out;
    if (dst && (rv = txn_get(&t, dst, &d)) != 0)
        goto out;
    if (exchange) {
        if (S_ISDIR(d->a.mode) && parent != newparent &&
            (rv = check_not_below(&t, parent, dst)) != 0)
            goto out;
        txn_dirent(&t, parent, name, dst, d->a.mode);
        txn_dirent(&t, newparent, newname, src, s->a.mode);
        if (parent != newparent) {
            if (S_ISDIR(s->a.mode)) {
                s->a.parent = newparent;
                p1->a.nlink--;
                p2->a.nlink++;
            }
            if (S_ISDIR(d->a.mode)) {
                d->a.parent = parent;
                p2->a.nlink--;
                p1->a.nlink++;
            }
        }
        d->a.ctime = t.now;
        d->dirty = 1;
    } else {
        if (d) {
            if (S_ISDIR(s->a.mode) && !S_ISDIR(d->a.mode)) {
                rv = -ENOTDIR;
                goto out;
            }
            if (!S_ISDIR(s->a.mode) && S_ISDIR(d->a.mode)) {
                rv = -EISDIR;
                goto out;
            }
            if (S_ISDIR(d->a.mode) && d->a.size > 0) {
                rv = -ENOTEMPTY;
                goto out;
            }
            if (S_ISDIR(d->a.mode)) {
                d->a.nlink = 0;
                p2->a.nlink--;
            } else {
                d->a.nlink--;
            }
            d->a.ctime = t.now;
            d->dirty = 1;
            p2->a.size--; /* the entry is re-added below */
        }
        txn_dirent(&t, parent, name, 0, 0);
        txn_dirent(&t, newparent, newname, src, s->a.mode);
        p1->a.size--;
        p2->a.size++;
        if (S_ISDIR(s->a.mode) && parent != newparent) {
            s->a.parent = newparent;
            p1->a.nlink--;
            p2->a.nlink++;
        }
    }
    s->a.ctime = t.now;
    s->dirty = 1;
    txn_touch_dir(&t, p1);
    txn_touch_dir(&t, p2);
    rv = txn_commit(&t);
out:
    txn_end(&t);
    return rv;
}

int fs_link(struct volume *v, uint64_t ino, uint64_t newparent, const char *newname,
            struct attr *out)
{
    int rv = check_name(newname);
    if (rv != 0)
        return rv;
    struct txn t;
    struct txn_ino *p, *c;
    uint64_t existing;
    uint8_t dtype;
    if ((rv = txn_begin(&t, v)) != 0 || (rv = txn_get(&t, ino, &c)) != 0 ||
        (rv = txn_dir(&t, newparent, &p)) != 0)
        goto out;
    if (S_ISDIR(c->a.mode)) {
        rv = -EPERM;
        goto out;
    }
    if (c->a.nlink == 0) {
        rv = -ENOENT;
        goto out;
    }
    if (c->a.nlink >= LINKS_MAX) {
        rv = -EMLINK;
        goto out;
    }
    rv = load_dirent(v, &ASOF_NOW, newparent, newname, &existing, &dtype);
    if (rv != -ENOENT) {
        rv = rv ? rv : -EEXIST;
        goto out;
    }
    txn_dirent(&t, newparent, newname, ino, c->a.mode);
    c->a.nlink++;
    c->a.ctime = t.now;
    c->dirty = 1;
    p->a.size++;
    txn_touch_dir(&t, p);
    if ((rv = txn_commit(&t)) == 0 && out)
        *out = c->a;
out:
    txn_end(&t);
    return rv;
}

/* ---- attributes and data ---- */

int fs_setattr(struct volume *v, uint64_t ino, const struct setattr *sa, struct attr *out)
{
    struct txn t;
    struct txn_ino *c;
    int rv;
    if ((rv = txn_begin(&t, v)) != 0 || (rv = txn_get(&t, ino, &c)) != 0)
        goto out;
    struct attr *a = &c->a;
    if ((sa->mask & SET_RELATIME) && !relatime_due(a)) { /* moved meanwhile */
        if (out)
            *out = *a;
        goto out;
    }
    if (sa->mask & SET_SIZE) {
        if (S_ISDIR(a->mode)) {
            rv = -EISDIR;
            goto out;
        }
        if (!S_ISREG(a->mode)) {
            rv = -EINVAL;
            goto out;
        }
        if (sa->size > MAX_FILE_SIZE) {
            rv = -EFBIG;
            goto out;
        }
        if (sa->size < a->size) {
            struct effect *e = record_add(&t.rec, EFF_TRUNC);
            e->ino = ino;
            e->size = sa->size;
        }
        a->size = sa->size;
        a->mtime = t.now;
    }
    if (sa->mask & SET_MODE)
        a->mode = (a->mode & S_IFMT) | (sa->mode & 07777);
    if (sa->mask & SET_UID)
        a->uid = sa->uid;
    if (sa->mask & SET_GID)
        a->gid = sa->gid;
    if (sa->mask & SET_ATIME)
        a->atime = sa->atime;
    if (sa->mask & SET_ATIME_NOW)
        a->atime = t.now;
    if (sa->mask & SET_MTIME)
        a->mtime = sa->mtime;
    if (sa->mask & SET_MTIME_NOW)
        a->mtime = t.now;
    if (sa->mask & SET_RELATIME)
        a->atime = t.now; /* and the ctime of the loaded inode stays */
    else
        a->ctime = (sa->mask & SET_CTIME) ? sa->ctime : t.now;
    c->dirty = 1;
    if ((rv = txn_commit(&t)) == 0 && out)
        *out = *a;
out:
    txn_end(&t);
    return rv;
}

/* A data effect for [OFF, OFF+N) of INO (inside one block) from SRC. When the
 * block is fragmented (5) the effect rewrites the block's whole live range
 * and *OWNED receives the buffer that holds it. */
static int add_data(struct volume *v, struct record *r, uint64_t ino, uint64_t size, uint64_t off,
                    uint32_t n, struct gather src, uint8_t **owned)
{
    *owned = NULL;
    uint64_t blk = off >> BLOCK_SHIFT, base = blk << BLOCK_SHIFT;
    if (n < BLOCK_SIZE) {
        struct comp c;
        comp_init(&c);
        int rv = extent_block(v->meta, v->no, ino, blk, &ASOF_NOW, &c);
        int fragmented = c.n >= COMPACT_PIECES;
        comp_fini(&c);
        if (rv != 0)
            return rv;
        if (fragmented) {
            uint64_t end = base + BLOCK_SIZE, live = size > off + n ? size : off + n;
            if (live < end)
                end = live;
            uint8_t *buf = xmalloc(BLOCK_SIZE);
            uint64_t have = size > base ? (size < end ? size : end) - base : 0;
            if ((rv = extent_read(v->meta, v->no, volume_chunk, v, ino, &ASOF_NOW, base,
                                  (size_t)have, buf)) != 0) {
                free(buf);
                return rv;
            }
            memset(buf + have, 0, (size_t)(end - base - have));
            gather_copy(buf + (off - base), src, n);
            *owned = buf;
            n = (uint32_t)(end - base);
            off = base;
        }
    }
    struct effect *e = record_add(r, EFF_DATA);
    e->ino = ino;
    e->off = off;
    e->len = n;
    if (*owned)
        e->data = *owned;
    else
        e->src = src;
    return 0;
}

int fs_write(struct volume *v, uint64_t ino, uint64_t off, const void *buf, size_t len,
             struct attr *out)
{
    struct iovec one = {(void *)(uintptr_t)buf, len};
    return fs_writev(v, ino, off, &one, 1, out);
}

int fs_writev(struct volume *v, uint64_t ino, uint64_t off, const struct iovec *iov, int iovcnt,
              struct attr *out)
{
    size_t len = 0;
    for (int i = 0; i < iovcnt; i++)
        len += iov[i].iov_len;
    if (off > MAX_FILE_SIZE || len > MAX_FILE_SIZE - off)
        return -EFBIG;
    if (len == 0) /* POSIX: a zero-length write has no other results */
        return out ? fs_getattr(v, &ASOF_NOW, ino, out) : 0;
    struct record recs[WRITE_GROUP_RECS];
    uint8_t *owned[WRITE_GROUP_RECS];
    for (uint32_t i = 0; i < WRITE_GROUP_RECS; i++)
        record_init(&recs[i]);
    struct attr a;
    int rv = engine_enter(v->eng);
    pthread_mutex_lock(&v->wlock);
    if (rv != 0 || (rv = load_inode(v, &ASOF_NOW, ino, &a, NULL, NULL)) != 0)
        goto out;
    if (S_ISDIR(a.mode)) {
        rv = -EISDIR;
        goto out;
    }
    if (!S_ISREG(a.mode)) {
        rv = -EINVAL;
        goto out;
    }
    struct gather src = {iov, 0};
    size_t done = 0;
    while (done < len) {
        uint32_t n = 0;
        size_t group = 0;
        int64_t now = now_ns();
        memset(owned, 0, sizeof owned);
        while (done + group < len && group < WRITE_GROUP_BYTES) {
            uint64_t o = off + done + group;
            uint64_t room = BLOCK_SIZE - (o & (BLOCK_SIZE - 1));
            size_t piece = len - done - group;
            if (piece > room)
                piece = (size_t)room;
            if (piece > WRITE_GROUP_BYTES - group)
                piece = WRITE_GROUP_BYTES - group;
            record_reset(&recs[n]);
            if ((rv = add_data(v, &recs[n], ino, a.size, o, (uint32_t)piece, src, &owned[n])) != 0)
                goto group_out;
            src = gather_skip(src, piece);
            n++;
            group += piece;
        }
        uint64_t end = off + done + group;
        if (end > a.size)
            a.size = end;
        a.mtime = a.ctime = now;
        struct effect *e = record_add(&recs[n - 1], EFF_INODE); /* (4) */
        e->ino = ino;
        e->attr = a;
        rv = volume_commit(v, recs, n);
    group_out:
        for (uint32_t i = 0; i < WRITE_GROUP_RECS; i++)
            free(owned[i]);
        if (rv != 0)
            goto out;
        done += group;
    }
    if (out)
        *out = a;
out:
    pthread_mutex_unlock(&v->wlock);
    engine_leave(v->eng);
    for (uint32_t i = 0; i < WRITE_GROUP_RECS; i++)
        record_fini(&recs[i]);
    return rv;
}

/* ---- extended attributes ---- */

static size_t xattr_prefix(struct volume *v, uint8_t *k, uint64_t ino, const char *name)
{
    return mk_xattr(k, v->no, ino, name, strlen(name), STAMP_NEWEST) - STAMP_LEN;
}

static int load_xattr(struct volume *v, const struct asof *at, uint64_t ino, const char *name,
                      void *buf, size_t cap, size_t *len)
{
    uint8_t prefix[KEY_MAX];
    size_t plen = xattr_prefix(v, prefix, ino, name);
    struct meta_iter *it = meta_iter_new(v->meta, CF_XATTRS, NULL, 0);
    int rv = vlookup_asof(it, prefix, plen, at);
    if (rv == 0) {
        size_t vlen;
        const uint8_t *val = meta_iter_value(it, &vlen), *data;
        uint64_t seq;
        uint32_t n;
        if ((rv = iv_xattr_decode(val, vlen, &seq, &data, &n)) == 0) {
            if (n == XATTR_REMOVED) {
                rv = -ENODATA;
            } else {
                *len = n;
                if (buf && cap)
                    memcpy(buf, data, n < cap ? n : cap);
            }
        }
    } else if (rv == -ENOENT) {
        rv = -ENODATA;
    }
    meta_iter_free(it);
    return rv;
}

static int check_xattr_name(const char *name)
{
    size_t n = strnlen(name, 256);
    if (n == 0)
        return -EINVAL;
    return n > 255 ? -ERANGE : 0;
}

static int set_xattr(struct volume *v, uint64_t ino, const char *name, const void *val,
                     uint32_t len, int flags)
{
    int rv = check_xattr_name(name);
    if (rv != 0)
        return rv;
    if (len != XATTR_REMOVED && len > XATTR_VALUE_MAX)
        return -E2BIG;
    struct txn t;
    struct txn_ino *c;
    size_t cur;
    if ((rv = txn_begin(&t, v)) != 0 || (rv = txn_get(&t, ino, &c)) != 0)
        goto out;
    rv = load_xattr(v, &ASOF_NOW, ino, name, NULL, 0, &cur);
    if (rv != 0 && rv != -ENODATA)
        goto out;
    if ((rv == 0 && (flags & XATTR_CREATE))) {
        rv = -EEXIST;
        goto out;
    }
    if (rv == -ENODATA && ((flags & XATTR_REPLACE) || len == XATTR_REMOVED))
        goto out;
    struct effect *e = record_add(&t.rec, EFF_XATTR);
    e->ino = ino;
    e->str = name;
    e->str_len = (uint16_t)strlen(name);
    e->data = val;
    e->len = len;
    c->a.ctime = t.now;
    c->dirty = 1;
    rv = txn_commit(&t);
out:
    txn_end(&t);
    return rv;
}

int fs_setxattr(struct volume *v, uint64_t ino, const char *name, const void *val, size_t len,
                int flags)
{
    if (len > XATTR_VALUE_MAX)
        return -E2BIG;
    return set_xattr(v, ino, name, val, (uint32_t)len, flags);
}

int fs_removexattr(struct volume *v, uint64_t ino, const char *name)
{
    return set_xattr(v, ino, name, NULL, XATTR_REMOVED, 0);
}

int fs_getxattr(struct volume *v, const struct asof *at, uint64_t ino, const char *name, void *buf,
                size_t cap, size_t *len)
{
    int rv = check_xattr_name(name);
    if (rv != 0)
        return rv;
    struct attr a;
    if ((rv = engine_enter(v->eng)) == 0 && (rv = load_inode(v, at, ino, &a, NULL, NULL)) == 0)
        rv = load_xattr(v, at, ino, name, buf, cap, len);
    engine_leave(v->eng);
    return rv;
}

int fs_listxattr(struct volume *v, const struct asof *at, uint64_t ino, char *buf, size_t cap,
                 size_t *len)
{
    struct attr a;
    *len = 0;
    int rv = engine_enter(v->eng);
    if (rv == 0)
        rv = load_inode(v, at, ino, &a, NULL, NULL);
    if (rv != 0) {
        engine_leave(v->eng);
        return rv;
    }
    uint8_t prefix[12], upper[12], key[KEY_MAX];
    put_be32(prefix, v->no);
    put_be64(prefix + 4, ino);
    size_t ulen = mk_prefix_end(upper, prefix, 12);
    struct meta_iter *it = meta_iter_new(v->meta, CF_XATTRS, upper, ulen);
    struct meta_iter *vit = meta_iter_new(v->meta, CF_XATTRS, upper, ulen);
    meta_iter_seek(it, prefix, 12);
    while (rv == 0 && meta_iter_valid(it)) {
        size_t kl;
        const uint8_t *k = meta_iter_key(it, &kl);
        const char *name;
        size_t nlen;
        if ((rv = mk_name(k, kl, &name, &nlen)) != 0)
            break;
        size_t plen = 12 + nlen + 1;
        memcpy(key, k, plen);
        int r = vlookup_asof(vit, key, plen, at);
        if (r == 0) {
            size_t vlen;
            const uint8_t *val = meta_iter_value(vit, &vlen), *data;
            uint64_t seq;
            uint32_t n;
            if ((rv = iv_xattr_decode(val, vlen, &seq, &data, &n)) == 0 && n != XATTR_REMOVED) {
                if (buf && *len + nlen + 1 <= cap) {
                    memcpy(buf + *len, key + 12, nlen);
                    buf[*len + nlen] = '\0';
                }
                *len += nlen + 1;
            }
        } else if (r != -ENOENT) {
            rv = r;
        }
        key[plen - 1] = 1;
        meta_iter_seek(it, key, plen);
    }
    if (rv == 0)
        rv = meta_iter_status(it);
    meta_iter_free(vit);
    meta_iter_free(it);
    engine_leave(v->eng);
    if (rv == 0 && buf && *len > cap) /* also with CAP 0: nothing was copied */
        rv = -ERANGE;
    return rv;
}

int fs_resolve(struct volume *v, const struct asof *at, const char *path, uint64_t *ino,
               struct attr *out)
{
    if (path[0] != '/')
        return -EINVAL;
    if (strnlen(path, PATH_MAX) >= PATH_MAX)
        return -ENAMETOOLONG;
    uint64_t cur = ROOT_INO;
    int rv = read_begin(v);
    if (rv != 0)
        return rv;
    rv = load_inode(v, at, cur, out, NULL, NULL);
    const char *p = path;
    char name[256];
    while (rv == 0) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        size_t n = strcspn(p, "/");
        if (n > 255) {
            rv = -ENAMETOOLONG;
            break;
        }
        memcpy(name, p, n);
        name[n] = '\0'; /* no '/', not empty, at most 255 bytes: valid */
        p += n;
        rv = lookup_in(v, at, cur, name, &cur, out); /* ENOTDIR if CUR is none */
    }
    read_end(v);
    /* POSIX: a trailing slash names a directory */
    if (rv == 0 && p > path && p[-1] == '/' && !S_ISDIR(out->mode))
        rv = -ENOTDIR;
    if (rv == 0)
        *ino = cur;
    return rv;
}
