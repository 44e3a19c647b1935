/*
 * test_model.c — randomized model test of the engine's file operations
 * (daemon/fsops.c, history.c, extent.c, apply.c, and engine.c recovery).
 *
 * An in-memory reference model of a POSIX-ish tree (directories, regular
 * files with sparse copy-on-write byte contents, symlinks, FIFOs, hard links,
 * xattrs; engine inode numbers are recorded in the model inodes) runs side by
 * side with the engine (volume "m" on two 64 MiB chunks, clock injected).
 * A seeded stream of MODEL_OPS operations mutates both: mknod (files, dirs,
 * symlinks, FIFOs), writes at random offsets and lengths (small ones that
 * fragment a block past fsops.c's compaction threshold, up to ~300 KiB,
 * sparse far offsets, offsets beyond 4 GiB; half of them through fs_writev
 * in up to WRITE_PIECES pieces of random sizes, some empty, as a write
 * stream's data arrives), truncation up and down, chmod,
 * chown, utimens, unlink, rmdir, rename (across directories, over files and
 * empty directories, NOREPLACE, EXCHANGE, and the error cases ENOTEMPTY,
 * EISDIR, ENOTDIR, EEXIST, ENOENT, EINVAL for a directory moved below
 * itself), link, setxattr/removexattr, readlink, fsync. Every return code is
 * checked against the set of errors POSIX/Linux allow for the state the
 * model is in (when several conditions apply, any of their errors is
 * accepted: POSIX leaves the order open). Reads (fs_read of random ranges,
 * getattr, readdir incl. paging with AFTER, lookup incl. "." and "..",
 * readlink, xattrs) are checked against the model all along.
 *
 * History: every SNAP_EVERY ops a snapshot is taken and the model is copied;
 * at random points a time t (the injected clock, 1 ms per op) is saved with
 * a copy. At random points, reads as of a random earlier snapshot (its
 * vector) or time (HLC_END_OF_MS(t)) are compared with the saved copy, and
 * inodes created later must not exist as of that point.
 *
 * Restarts: one mid-run (close, reopen, carry on). At the end the live state
 * and every saved point are compared after: nothing; a restart; deleting
 * index/ (the engine rebuilds it from the chunks); engine_reindex(). After
 * each, a few more mutations check that inode numbers and seqs continue.
 *
 * CAIRN_SEED=N reruns a seed; CAIRN_MODEL_OPS=N changes the op count.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cairn_err.h"
#include "engine.h"
#include "format.h"
#include "fsops.h"
#include "hlc.h"
#include "log.h"
#include "testutil.h"
#include "vclock.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>

#define MODEL_OPS 10000u
#define SNAP_EVERY 500u
#define FULL_EVERY 1000u
#define TIME_SAVES_MAX 16u
#define MBLK 4096u             /* model block size (copy-on-write unit) */
#define IOBUF (1u << 20)       /* largest single read/write */
#define BIG_WRITE (300u << 10) /* largest "big" write */
#define WRITE_PIECES 8         /* most pieces of one fs_writev */
#define GIB (1ull << 30)
#define MAX_FILE (1ull << 62)     /* fsops.c MAX_FILE_SIZE */
#define WHOLE_FILE_MAX (1u << 20) /* files up to this are compared whole */
#define PARTIAL_BUDGET (2u << 20) /* bytes compared per larger file */
#define LIST_MAX 100000u          /* bound on entries in one listing */
#define XATTR_MAX 65536u          /* largest xattr value (Linux XATTR_SIZE_MAX) */
#define ERRNO_SLOTS 140           /* errno histogram size */

/* ---- failure reporting ---------------------------------------------------- */

static char g_where[512]; /* what the test is doing, for failure messages */
static uint64_t g_seed;

static void mfail(const char *file, int line, const char *cond, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fail_msg("%s:%d: check failed: %s\n  during: %s\n  %s\n  (CAIRN_SEED=%llu)", file, line, cond,
             g_where, msg, (unsigned long long)g_seed);
}

#define MCHECK(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            mfail(__FILE__, __LINE__, #cond, __VA_ARGS__);                                         \
    } while (0)

static void *xrealloc_t(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    assert_non_null(q);
    return q;
}

static char *xstrdup_t(const char *s)
{
    char *p = strdup(s);
    assert_non_null(p);
    return p;
}

#define GROW(arr, n, cap)                                                                          \
    do {                                                                                           \
        if ((n) == (cap)) {                                                                        \
            (cap) = (cap) ? 2 * (cap) : 4;                                                         \
            (arr) = xrealloc_t((arr), (size_t)(cap) * sizeof *(arr));                              \
        }                                                                                          \
    } while (0)

/* ---- the reference model -------------------------------------------------- */

struct mblk {
    unsigned refs;
    uint8_t d[MBLK];
};

struct mbref {
    uint64_t no;
    struct mblk *b;
};

struct ment {
    char *name;
    uint32_t ino; /* model inode index */
};

struct mxattr {
    char *name;
    uint8_t *val;
    size_t len;
};

struct mino {
    uint64_t eino; /* the engine's inode number */
    uint32_t mode, uid, gid;
    uint32_t nlink;  /* non-directories: entries naming it (directories: derived) */
    int removed;     /* directories: rmdir'ed or replaced by a rename */
    uint32_t parent; /* directories: model index of the parent */
    uint64_t size;   /* regular files */
    int64_t atime, mtime;
    int atime_known, mtime_known;
    char *target;     /* symlinks */
    struct ment *ent; /* directories: sorted by name (strcmp) */
    uint32_t nent, cent;
    struct mbref *blk; /* regular files: sorted by block number */
    uint32_t nblk, cblk;
    struct mxattr *xa; /* sorted by name */
    uint32_t nxa, cxa;
};

struct model {
    struct mino *in;
    uint32_t n, cap;
};

static uint32_t m_add(struct model *m, uint64_t eino, uint32_t mode, uint32_t uid, uint32_t gid,
                      uint32_t parent)
{
    GROW(m->in, m->n, m->cap);
    struct mino *n = &m->in[m->n];
    memset(n, 0, sizeof *n);
    n->eino = eino;
    n->mode = mode;
    n->uid = uid;
    n->gid = gid;
    n->nlink = S_ISDIR(mode) ? 0 : 1;
    n->parent = parent;
    return m->n++;
}

static int is_dir(const struct model *m, uint32_t i)
{
    return S_ISDIR(m->in[i].mode);
}

static int live_dir(const struct model *m, uint32_t i)
{
    return is_dir(m, i) && !m->in[i].removed;
}

/* 1 and *POS when NAME is in D; 0 and the insertion point otherwise. */
static int m_ent_find(const struct mino *d, const char *name, uint32_t *pos)
{
    uint32_t lo = 0, hi = d->nent;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = strcmp(d->ent[mid].name, name);
        if (c == 0) {
            *pos = mid;
            return 1;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return 0;
}

/* The model inode NAME names in D, or -1. */
static int64_t m_lookup(const struct model *m, uint32_t d, const char *name)
{
    uint32_t pos;
    if (!is_dir(m, d) || !m_ent_find(&m->in[d], name, &pos))
        return -1;
    return m->in[d].ent[pos].ino;
}

static void m_ent_put(struct mino *d, const char *name, uint32_t ino)
{
    uint32_t pos;
    if (m_ent_find(d, name, &pos)) {
        d->ent[pos].ino = ino;
        return;
    }
    GROW(d->ent, d->nent, d->cent);
    memmove(&d->ent[pos + 1], &d->ent[pos], (d->nent - pos) * sizeof *d->ent);
    d->ent[pos].name = xstrdup_t(name);
    d->ent[pos].ino = ino;
    d->nent++;
}

static void m_ent_del(struct mino *d, const char *name)
{
    uint32_t pos;
    assert_true(m_ent_find(d, name, &pos));
    free(d->ent[pos].name);
    memmove(&d->ent[pos], &d->ent[pos + 1], (d->nent - pos - 1) * sizeof *d->ent);
    d->nent--;
}

static uint32_t m_nlink(const struct model *m, uint32_t i)
{
    const struct mino *n = &m->in[i];
    if (!S_ISDIR(n->mode))
        return n->nlink;
    if (n->removed)
        return 0;
    uint32_t k = 2;
    for (uint32_t j = 0; j < n->nent; j++)
        k += is_dir(m, n->ent[j].ino);
    return k;
}

static uint64_t m_size(const struct model *m, uint32_t i)
{
    const struct mino *n = &m->in[i];
    if (S_ISDIR(n->mode))
        return n->nent;
    if (S_ISLNK(n->mode))
        return strlen(n->target);
    return S_ISREG(n->mode) ? n->size : 0;
}

/* 1 when directory D is ANC or lies below it. */
static int m_below(const struct model *m, uint32_t d, uint32_t anc)
{
    for (int depth = 0; depth < 100000; depth++) {
        if (d == anc)
            return 1;
        if (d == 0)
            return 0;
        d = m->in[d].parent;
    }
    fail_msg("model directory tree has a cycle");
    return 0;
}

static void blk_unref(struct mblk *b)
{
    if (b && --b->refs == 0)
        free(b);
}

static int m_blk_find(const struct mino *f, uint64_t no, uint32_t *pos)
{
    uint32_t lo = 0, hi = f->nblk;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (f->blk[mid].no == no) {
            *pos = mid;
            return 1;
        }
        if (f->blk[mid].no < no)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return 0;
}

/* A private (unshared) copy of block NO of F, created zeroed if absent. */
static uint8_t *m_blk_mut(struct mino *f, uint64_t no)
{
    uint32_t pos;
    if (!m_blk_find(f, no, &pos)) {
        GROW(f->blk, f->nblk, f->cblk);
        memmove(&f->blk[pos + 1], &f->blk[pos], (f->nblk - pos) * sizeof *f->blk);
        struct mblk *b = calloc(1, sizeof *b);
        assert_non_null(b);
        b->refs = 1;
        f->blk[pos] = (struct mbref){no, b};
        f->nblk++;
    } else if (f->blk[pos].b->refs > 1) {
        struct mblk *b = malloc(sizeof *b);
        assert_non_null(b);
        memcpy(b->d, f->blk[pos].b->d, MBLK);
        b->refs = 1;
        blk_unref(f->blk[pos].b);
        f->blk[pos].b = b;
    }
    return f->blk[pos].b->d;
}

static void m_write(struct mino *f, uint64_t off, const uint8_t *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        uint64_t o = off + done;
        size_t in = (size_t)(o % MBLK), n = MBLK - in;
        if (n > len - done)
            n = len - done;
        memcpy(m_blk_mut(f, o / MBLK) + in, buf + done, n);
        done += n;
    }
    if (off + len > f->size)
        f->size = off + len;
}

/* [OFF, OFF+LEN) of F, holes as zeros; the caller clamps to the size. */
static void m_read(const struct mino *f, uint64_t off, size_t len, uint8_t *out)
{
    memset(out, 0, len);
    if (len == 0)
        return;
    uint32_t pos;
    m_blk_find(f, off / MBLK, &pos);
    for (; pos < f->nblk && f->blk[pos].no * MBLK < off + len; pos++) {
        uint64_t bs = f->blk[pos].no * MBLK, be = bs + MBLK;
        uint64_t s = bs > off ? bs : off, e = be < off + len ? be : off + len;
        memcpy(out + (s - off), f->blk[pos].b->d + (s - bs), (size_t)(e - s));
    }
}

static void m_trunc(struct mino *f, uint64_t size)
{
    if (size < f->size) {
        uint32_t keep;
        m_blk_find(f, (size + MBLK - 1) / MBLK, &keep);
        for (uint32_t i = keep; i < f->nblk; i++)
            blk_unref(f->blk[i].b);
        f->nblk = keep;
        uint32_t pos;
        if (size % MBLK && m_blk_find(f, size / MBLK, &pos)) {
            uint8_t *d = m_blk_mut(f, size / MBLK);
            memset(d + size % MBLK, 0, MBLK - size % MBLK);
        }
    }
    f->size = size;
}

static int m_xa_find(const struct mino *n, const char *name, uint32_t *pos)
{
    for (uint32_t i = 0; i < n->nxa; i++) {
        int c = strcmp(n->xa[i].name, name);
        if (c >= 0) {
            *pos = i;
            return c == 0;
        }
    }
    *pos = n->nxa;
    return 0;
}

static void m_xa_set(struct mino *n, const char *name, const uint8_t *val, size_t len)
{
    uint32_t pos;
    if (!m_xa_find(n, name, &pos)) {
        GROW(n->xa, n->nxa, n->cxa);
        memmove(&n->xa[pos + 1], &n->xa[pos], (n->nxa - pos) * sizeof *n->xa);
        n->xa[pos].name = xstrdup_t(name);
        n->xa[pos].val = NULL;
        n->nxa++;
    }
    free(n->xa[pos].val);
    n->xa[pos].val = xrealloc_t(NULL, len);
    memcpy(n->xa[pos].val, val, len);
    n->xa[pos].len = len;
}

static void m_xa_del(struct mino *n, const char *name)
{
    uint32_t pos;
    assert_true(m_xa_find(n, name, &pos));
    free(n->xa[pos].name);
    free(n->xa[pos].val);
    memmove(&n->xa[pos], &n->xa[pos + 1], (n->nxa - pos - 1) * sizeof *n->xa);
    n->nxa--;
}

static void m_copy(struct model *dst, const struct model *src)
{
    dst->n = dst->cap = src->n;
    dst->in = xrealloc_t(NULL, src->n * sizeof *dst->in);
    for (uint32_t i = 0; i < src->n; i++) {
        const struct mino *s = &src->in[i];
        struct mino *d = &dst->in[i];
        *d = *s;
        d->target = s->target ? xstrdup_t(s->target) : NULL;
        d->cent = d->nent;
        d->ent = xrealloc_t(NULL, d->nent * sizeof *d->ent);
        for (uint32_t j = 0; j < d->nent; j++)
            d->ent[j] = (struct ment){xstrdup_t(s->ent[j].name), s->ent[j].ino};
        d->cblk = d->nblk;
        d->blk = xrealloc_t(NULL, d->nblk * sizeof *d->blk);
        for (uint32_t j = 0; j < d->nblk; j++) {
            d->blk[j] = s->blk[j];
            d->blk[j].b->refs++;
        }
        d->cxa = d->nxa;
        d->xa = xrealloc_t(NULL, d->nxa * sizeof *d->xa);
        for (uint32_t j = 0; j < d->nxa; j++) {
            d->xa[j].name = xstrdup_t(s->xa[j].name);
            d->xa[j].len = s->xa[j].len;
            d->xa[j].val = xrealloc_t(NULL, s->xa[j].len);
            memcpy(d->xa[j].val, s->xa[j].val, s->xa[j].len);
        }
    }
}

static void m_free(struct model *m)
{
    for (uint32_t i = 0; i < m->n; i++) {
        struct mino *n = &m->in[i];
        free(n->target);
        for (uint32_t j = 0; j < n->nent; j++)
            free(n->ent[j].name);
        free(n->ent);
        for (uint32_t j = 0; j < n->nblk; j++)
            blk_unref(n->blk[j].b);
        free(n->blk);
        for (uint32_t j = 0; j < n->nxa; j++) {
            free(n->xa[j].name);
            free(n->xa[j].val);
        }
        free(n->xa);
    }
    free(m->in);
    memset(m, 0, sizeof *m);
}

/* ---- the engine under test ------------------------------------------------ */

struct fx {
    char *dir;
    struct engine *e;
    struct volume *v;
    uint64_t ms; /* the injected physical clock (unix ms) */
};

static uint64_t fx_clock(void *ctx)
{
    return ((struct fx *)ctx)->ms;
}

static void fx_open(struct fx *f)
{
    struct engine_opts o = {.data_dir = f->dir, .clock = fx_clock, .clock_ctx = f};
    int rv = engine_open(&f->e, &o);
    MCHECK(rv == 0, "engine_open: %s", cairn_strerror(rv));
    rv = engine_volume(f->e, "m", &f->v);
    MCHECK(rv == 0, "engine_volume: %s", cairn_strerror(rv));
}

static void fx_close(struct fx *f)
{
    engine_close(f->e);
    f->e = NULL;
    f->v = NULL;
}

/* ---- the run ---------------------------------------------------------------- */

enum op {
    OP_CREATE,
    OP_MKDIR,
    OP_SYMLINK,
    OP_MKFIFO,
    OP_WRITE,
    OP_TRUNC,
    OP_CHMOD,
    OP_CHOWN,
    OP_UTIMENS,
    OP_UNLINK,
    OP_RMDIR,
    OP_RENAME,
    OP_LINK,
    OP_SETXATTR,
    OP_RMXATTR,
    OP_READLINK,
    OP_FSYNC,
    OP_READ,
    OP_GETATTR,
    OP_READDIR,
    OP_LOOKUP,
    OP_GETXATTR,
    OP_COUNT
};

static const struct {
    const char *name;
    unsigned weight;
} op_tab[OP_COUNT] = {
    [OP_CREATE] = {"create", 9},       [OP_MKDIR] = {"mkdir", 5},
    [OP_SYMLINK] = {"symlink", 3},     [OP_MKFIFO] = {"mkfifo", 1},
    [OP_WRITE] = {"write", 22},        [OP_TRUNC] = {"truncate", 6},
    [OP_CHMOD] = {"chmod", 3},         [OP_CHOWN] = {"chown", 2},
    [OP_UTIMENS] = {"utimens", 3},     [OP_UNLINK] = {"unlink", 6},
    [OP_RMDIR] = {"rmdir", 4},         [OP_RENAME] = {"rename", 11},
    [OP_LINK] = {"link", 4},           [OP_SETXATTR] = {"setxattr", 4},
    [OP_RMXATTR] = {"removexattr", 2}, [OP_READLINK] = {"readlink", 2},
    [OP_FSYNC] = {"fsync", 1},         [OP_READ] = {"read", 8},
    [OP_GETATTR] = {"getattr", 4},     [OP_READDIR] = {"readdir", 3},
    [OP_LOOKUP] = {"lookup", 4},       [OP_GETXATTR] = {"getxattr", 2},
};

/* A saved point of history: a snapshot (its name) or a time (ms). */
struct saved {
    int is_snap;
    char name[32];
    uint64_t ms;
    uint64_t op;
    struct model m;
};

struct run {
    struct fx f;
    struct model m;
    uint64_t rng;
    uint64_t op, nops;
    struct saved *sv;
    uint32_t nsv, csv, nsnap, ntime;
    uint32_t hot[4], nhot; /* files that take many tiny writes (compaction) */
    uint8_t *wbuf, *rbuf, *mbuf;
    uint32_t *tmp; /* scratch list of model inodes */
    uint32_t ctmp;
    unsigned long ok[OP_COUNT], err[OP_COUNT];
    unsigned long errno_seen[OP_COUNT][ERRNO_SLOTS]; /* by -rv; the last slot: others */
    unsigned long ren_over_file, ren_over_dir, ren_exchange, ren_cross;
    unsigned long big_writes, far_writes, huge_writes, asof_checks, full_checks, compactions;
    unsigned long pieced_writes; /* through fs_writev */
    uint64_t bytes_written;
};

static uint64_t rnd(struct run *r, uint64_t n)
{
    return n ? tu_rand(&r->rng) % n : 0;
}

static int chance(struct run *r, unsigned pct)
{
    return rnd(r, 100) < pct;
}

static void fill_random(struct run *r, uint8_t *p, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x = tu_rand(&r->rng);
        memcpy(p + i, &x, 8);
    }
    uint64_t x = tu_rand(&r->rng);
    memcpy(p + i, &x, n - i);
}

/* ---- expected outcomes: the set of errors the model allows ---- */

struct exp {
    int n;
    int e[8];
};

static void exp_add(struct exp *x, int err)
{
    for (int i = 0; i < x->n; i++)
        if (x->e[i] == err)
            return;
    assert_true(x->n < 8);
    x->e[x->n++] = err;
}

static const char *errname(int rv)
{
    static char buf[64];
    if (rv == 0)
        return "0";
    if (rv < 0 && rv > CAIRN_ERR_BASE)
        snprintf(buf, sizeof buf, "-%s", strerrorname_np(-rv) ? strerrorname_np(-rv) : "?");
    else
        snprintf(buf, sizeof buf, "%d (%s)", rv, cairn_strerror(rv));
    return buf;
}

/* Checks RV against X; returns 1 when the call succeeded. */
static int check_rv(struct run *r, enum op o, int rv, const struct exp *x)
{
    char want[256] = "";
    size_t k = 0;
    for (int i = 0; i < x->n; i++)
        k += (size_t)snprintf(want + k, sizeof want - k, "%s%s", i ? "|" : "", errname(x->e[i]));
    if (x->n == 0) {
        MCHECK(rv == 0, "returned %s, model expects success", errname(rv));
        r->ok[o]++;
        return 1;
    }
    int in = 0;
    for (int i = 0; i < x->n; i++)
        in |= rv == x->e[i];
    char got[64];
    snprintf(got, sizeof got, "%s", errname(rv));
    MCHECK(in, "returned %s, model expects one of %s", got, want);
    r->err[o]++;
    r->errno_seen[o][-rv > 0 && -rv < ERRNO_SLOTS - 1 ? -rv : ERRNO_SLOTS - 1]++;
    return 0;
}

static int dir_err(const struct model *m, uint32_t d)
{
    if (!is_dir(m, d))
        return -ENOTDIR;
    return m->in[d].removed ? -ENOENT : 0;
}

/* ---- picking targets ---- */

static const char *const names[] = {
    "a",   "b",          "c",         "d",      "e",     "f",     "g", "h",
    "k0",  "k1",         "Readme.md", "z-last", "x.y.z", "UPPER", "-", "\xc3\xa9t\xc3\xa9",
    "a.a", "space name", "0",         "~tilde",
};
#define NNAMES (sizeof names / sizeof names[0])
static char name255[256], name256[257];

static const char *const xnames[] = {"user.a", "user.b", "user.long.attribute.name", "trusted.t",
                                     "security.s"};
#define NXNAMES (sizeof xnames / sizeof xnames[0])

/* Model inodes matching KIND into r->tmp; returns the count. */
enum pick { PK_LIVE_DIR, PK_DEAD_DIR, PK_NONDIR, PK_REG, PK_ANY, PK_LNK, PK_LINKED_NONDIR };

static uint32_t collect(struct run *r, enum pick kind)
{
    if (r->ctmp < r->m.n) {
        r->ctmp = r->m.n * 2;
        r->tmp = xrealloc_t(r->tmp, r->ctmp * sizeof *r->tmp);
    }
    uint32_t k = 0;
    for (uint32_t i = 0; i < r->m.n; i++) {
        const struct mino *n = &r->m.in[i];
        int take = 0;
        switch (kind) {
        case PK_LIVE_DIR:
            take = S_ISDIR(n->mode) && !n->removed;
            break;
        case PK_DEAD_DIR:
            take = S_ISDIR(n->mode) && n->removed;
            break;
        case PK_NONDIR:
            take = !S_ISDIR(n->mode);
            break;
        case PK_REG:
            take = S_ISREG(n->mode);
            break;
        case PK_ANY:
            take = 1;
            break;
        case PK_LNK:
            take = S_ISLNK(n->mode);
            break;
        case PK_LINKED_NONDIR:
            take = !S_ISDIR(n->mode) && n->nlink > 0;
            break;
        }
        if (take)
            r->tmp[k++] = i;
    }
    return k;
}

/* A random inode of KIND, or FALLBACK when there is none. */
static uint32_t pick(struct run *r, enum pick kind, uint32_t fallback)
{
    uint32_t k = collect(r, kind);
    return k ? r->tmp[rnd(r, k)] : fallback;
}

/* Mostly a live directory; sometimes a file (ENOTDIR) or a removed one (ENOENT). */
static uint32_t pick_parent(struct run *r)
{
    uint64_t x = rnd(r, 100);
    if (x < 3)
        return pick(r, PK_NONDIR, 0);
    if (x < 5)
        return pick(r, PK_DEAD_DIR, 0);
    return pick(r, PK_LIVE_DIR, 0);
}

/* A live directory inside the subtree of D (D included). */
static uint32_t pick_below(struct run *r, uint32_t d)
{
    uint32_t k = collect(r, PK_LIVE_DIR), n = 0;
    for (uint32_t i = 0; i < k; i++)
        if (m_below(&r->m, r->tmp[i], d))
            r->tmp[n++] = r->tmp[i];
    return n ? r->tmp[rnd(r, n)] : d;
}

static const char *pick_name(struct run *r, uint32_t d, unsigned existing_pct)
{
    const struct mino *n = &r->m.in[d];
    if (S_ISDIR(n->mode) && n->nent && chance(r, existing_pct))
        return n->ent[rnd(r, n->nent)].name;
    uint64_t x = rnd(r, 200);
    if (x == 0)
        return name256;
    if (x == 1)
        return name255;
    return names[rnd(r, NNAMES)];
}

/* ---- comparing engine state with a model -------------------------------- */

static void cmp_attr(const struct model *m, uint32_t i, const struct attr *a, const char *what)
{
    const struct mino *n = &m->in[i];
    unsigned long long e = (unsigned long long)n->eino;
    MCHECK(a->mode == n->mode, "%s ino %llx: mode 0%o, model 0%o", what, e, a->mode, n->mode);
    MCHECK(a->uid == n->uid, "%s ino %llx: uid %u, model %u", what, e, a->uid, n->uid);
    MCHECK(a->gid == n->gid, "%s ino %llx: gid %u, model %u", what, e, a->gid, n->gid);
    MCHECK(a->nlink == m_nlink(m, i), "%s ino %llx: nlink %u, model %u", what, e, a->nlink,
           m_nlink(m, i));
    MCHECK(a->size == m_size(m, i), "%s ino %llx: size %llu, model %llu", what, e,
           (unsigned long long)a->size, (unsigned long long)m_size(m, i));
    MCHECK(a->rdev == 0, "%s ino %llx: rdev %llu", what, e, (unsigned long long)a->rdev);
    if (S_ISDIR(n->mode))
        MCHECK(a->parent == m->in[n->parent].eino, "%s ino %llx: parent %llx, model %llx", what, e,
               (unsigned long long)a->parent, (unsigned long long)m->in[n->parent].eino);
    if (n->atime_known)
        MCHECK(a->atime == n->atime, "%s ino %llx: atime %lld, model %lld", what, e,
               (long long)a->atime, (long long)n->atime);
    if (n->mtime_known)
        MCHECK(a->mtime == n->mtime, "%s ino %llx: mtime %lld, model %lld", what, e,
               (long long)a->mtime, (long long)n->mtime);
}

static void cmp_range(struct run *r, const struct asof *at, const struct model *m, uint32_t i,
                      uint64_t off, size_t len)
{
    const struct mino *n = &m->in[i];
    size_t got = (size_t)-1;
    int rv = fs_read(r->f.v, at, n->eino, off, len, r->rbuf, &got);
    MCHECK(rv == 0, "fs_read ino %llx [%llu,+%zu): %s", (unsigned long long)n->eino,
           (unsigned long long)off, len, errname(rv));
    size_t want = off >= n->size ? 0 : (n->size - off < len ? (size_t)(n->size - off) : len);
    MCHECK(got == want, "fs_read ino %llx [%llu,+%zu) of size %llu: got %zu bytes, want %zu",
           (unsigned long long)n->eino, (unsigned long long)off, len, (unsigned long long)n->size,
           got, want);
    m_read(n, off, want, r->mbuf);
    if (memcmp(r->rbuf, r->mbuf, want) != 0) {
        size_t k = 0;
        while (r->rbuf[k] == r->mbuf[k])
            k++;
        MCHECK(0, "fs_read ino %llx [%llu,+%zu): byte at file offset %llu is %02x, model %02x",
               (unsigned long long)n->eino, (unsigned long long)off, len,
               (unsigned long long)(off + k), r->rbuf[k], r->mbuf[k]);
    }
}

static void cmp_span(struct run *r, const struct asof *at, const struct model *m, uint32_t i,
                     uint64_t off, uint64_t len)
{
    while (len > 0) {
        size_t n = len < IOBUF ? (size_t)len : IOBUF;
        n = 1 + (size_t)rnd(r, n); /* random piece sizes */
        cmp_range(r, at, m, i, off, n);
        off += n;
        len -= n;
    }
}

/* File data: whole for small files; otherwise the written regions (within
 * BUDGET bytes, from a random start), random ranges, the tail and past EOF. */
static void cmp_data(struct run *r, const struct asof *at, const struct model *m, uint32_t i,
                     uint64_t budget)
{
    const struct mino *n = &m->in[i];
    if (n->size <= WHOLE_FILE_MAX) {
        cmp_span(r, at, m, i, 0, n->size);
    } else if (n->nblk) {
        uint64_t spent = 0;
        uint32_t start = (uint32_t)rnd(r, n->nblk);
        for (int pass = 0; pass < 2; pass++) { /* runs from START to the end, then the rest */
            uint32_t j = pass ? 0 : start, stop = pass ? start : n->nblk;
            while (j < stop && spent < budget) {
                uint32_t e = j;
                while (e + 1 < stop && n->blk[e + 1].no == n->blk[e].no + 1 && e + 1 - j < 64)
                    e++;
                uint64_t s = n->blk[j].no * MBLK, len = (n->blk[e].no + 1) * MBLK - s;
                s = s >= 100 ? s - 100 : 0; /* and the bytes around the run */
                len += 200;
                cmp_span(r, at, m, i, s, len);
                spent += len;
                j = e + 1;
            }
        }
    }
    for (int k = 0; k < 3; k++)
        cmp_range(r, at, m, i, rnd(r, n->size + 1), 1 + (size_t)rnd(r, 65536));
    cmp_range(r, at, m, i, n->size > 10 ? n->size - 10 : 0, 20);
    cmp_range(r, at, m, i, n->size + 5, 100);
}

struct listing {
    char **name;
    uint64_t *ino;
    uint32_t *type;
    size_t n, cap, stop_after;
};

static int list_cb(void *ctx, const char *name, size_t nlen, uint64_t ino, uint32_t type,
                   const struct attr *a)
{
    (void)a;
    struct listing *l = ctx;
    if (l->n >= LIST_MAX)
        return -E2BIG;
    GROW(l->name, l->n, l->cap);
    l->ino = xrealloc_t(l->ino, l->cap * sizeof *l->ino);
    l->type = xrealloc_t(l->type, l->cap * sizeof *l->type);
    l->name[l->n] = strndup(name, nlen);
    assert_non_null(l->name[l->n]);
    l->ino[l->n] = ino;
    l->type[l->n] = type;
    l->n++;
    return l->stop_after && l->n >= l->stop_after ? 1 : 0;
}

static void list_free(struct listing *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->name[i]);
    free(l->name);
    free(l->ino);
    free(l->type);
    memset(l, 0, sizeof *l);
}

/* Entries of directory D after FIRST (model order) against listing L. */
static void cmp_listing(const struct model *m, uint32_t d, const struct listing *l, uint32_t first,
                        const char *what)
{
    const struct mino *n = &m->in[d];
    MCHECK(l->n == n->nent - first, "%s dir %llx: %zu entries, model %u", what,
           (unsigned long long)n->eino, l->n, n->nent - first);
    for (size_t k = 0; k < l->n; k++) {
        const struct ment *me = &n->ent[first + k];
        const struct mino *c = &m->in[me->ino];
        MCHECK(strcmp(l->name[k], me->name) == 0, "%s dir %llx entry %zu: '%s', model '%s'", what,
               (unsigned long long)n->eino, k, l->name[k], me->name);
        MCHECK(l->ino[k] == c->eino, "%s dir %llx '%s': ino %llx, model %llx", what,
               (unsigned long long)n->eino, me->name, (unsigned long long)l->ino[k],
               (unsigned long long)c->eino);
        MCHECK(l->type[k] == (c->mode & S_IFMT), "%s dir %llx '%s': type 0%o, model 0%o", what,
               (unsigned long long)n->eino, me->name, l->type[k], c->mode & S_IFMT);
    }
}

static void cmp_dir(struct run *r, const struct asof *at, const struct model *m, uint32_t d,
                    int deep)
{
    const struct mino *n = &m->in[d];
    struct listing l = {0};
    int rv = fs_readdir(r->f.v, at, n->eino, NULL, 0, 0, list_cb, &l);
    MCHECK(rv == 0, "fs_readdir %llx: %s", (unsigned long long)n->eino, errname(rv));
    cmp_listing(m, d, &l, 0, "readdir");
    list_free(&l);
    if (!deep)
        return;
    /* paging: resume after the last name seen, a few entries at a time */
    if (n->nent && chance(r, 30)) {
        uint32_t first = (uint32_t)rnd(r, n->nent);
        l.stop_after = 1 + rnd(r, 4);
        const char *after = n->ent[first].name;
        rv = fs_readdir(r->f.v, at, n->eino, after, strlen(after), 0, list_cb, &l);
        MCHECK(rv == 0, "fs_readdir %llx after '%s': %s", (unsigned long long)n->eino, after,
               errname(rv));
        size_t want = n->nent - first - 1 < l.stop_after ? n->nent - first - 1 : l.stop_after;
        MCHECK(l.n == want, "fs_readdir after '%s' stopping at %zu: %zu entries, want %zu", after,
               l.stop_after, l.n, want);
        for (size_t k = 0; k < l.n; k++)
            MCHECK(strcmp(l.name[k], n->ent[first + 1 + k].name) == 0,
                   "fs_readdir after '%s': entry %zu '%s', model '%s'", after, k, l.name[k],
                   n->ent[first + 1 + k].name);
        list_free(&l);
    }
    /* every entry by name */
    for (uint32_t k = 0; k < n->nent; k++) {
        uint64_t ino = 0;
        struct attr a;
        rv = fs_lookup(r->f.v, at, n->eino, n->ent[k].name, &ino, &a);
        MCHECK(rv == 0, "fs_lookup %llx '%s': %s", (unsigned long long)n->eino, n->ent[k].name,
               errname(rv));
        MCHECK(ino == m->in[n->ent[k].ino].eino, "fs_lookup '%s': ino %llx, model %llx",
               n->ent[k].name, (unsigned long long)ino,
               (unsigned long long)m->in[n->ent[k].ino].eino);
        cmp_attr(m, n->ent[k].ino, &a, "fs_lookup");
    }
    if (!n->removed) {
        uint64_t ino = 0;
        struct attr a;
        rv = fs_lookup(r->f.v, at, n->eino, "..", &ino, &a);
        MCHECK(rv == 0 && ino == m->in[n->parent].eino, "fs_lookup '..' of %llx: %s ino %llx",
               (unsigned long long)n->eino, errname(rv), (unsigned long long)ino);
        rv = fs_lookup(r->f.v, at, n->eino, ".", &ino, &a);
        MCHECK(rv == 0 && ino == n->eino, "fs_lookup '.' of %llx: %s ino %llx",
               (unsigned long long)n->eino, errname(rv), (unsigned long long)ino);
        cmp_attr(m, d, &a, "fs_lookup '.'");
    }
}

static void cmp_xattrs(struct run *r, const struct asof *at, const struct model *m, uint32_t i)
{
    const struct mino *n = &m->in[i];
    char list[1024];
    size_t len = 0, want = 0;
    int rv = fs_listxattr(r->f.v, at, n->eino, list, sizeof list, &len);
    MCHECK(rv == 0, "fs_listxattr %llx: %s", (unsigned long long)n->eino, errname(rv));
    for (uint32_t k = 0; k < n->nxa; k++)
        want += strlen(n->xa[k].name) + 1;
    MCHECK(len == want, "fs_listxattr %llx: %zu bytes, model %zu", (unsigned long long)n->eino, len,
           want);
    size_t p = 0;
    for (uint32_t k = 0; k < n->nxa; k++) {
        MCHECK(strcmp(list + p, n->xa[k].name) == 0, "fs_listxattr %llx: '%s', model '%s'",
               (unsigned long long)n->eino, list + p, n->xa[k].name);
        p += strlen(n->xa[k].name) + 1;
        static uint8_t val[XATTR_MAX];
        size_t vlen = 0;
        rv = fs_getxattr(r->f.v, at, n->eino, n->xa[k].name, val, sizeof val, &vlen);
        MCHECK(rv == 0 && vlen == n->xa[k].len && memcmp(val, n->xa[k].val, vlen) == 0,
               "fs_getxattr %llx '%s': %s, %zu bytes, model %zu", (unsigned long long)n->eino,
               n->xa[k].name, errname(rv), vlen, n->xa[k].len);
    }
}

/* Inode I of M as of AT. DEEP adds data, lookups and xattrs. */
static void cmp_inode(struct run *r, const struct asof *at, const struct model *m, uint32_t i,
                      int deep, uint64_t budget)
{
    const struct mino *n = &m->in[i];
    struct attr a;
    int rv = fs_getattr(r->f.v, at, n->eino, &a);
    MCHECK(rv == 0, "fs_getattr %llx: %s", (unsigned long long)n->eino, errname(rv));
    cmp_attr(m, i, &a, "fs_getattr");
    if (S_ISDIR(n->mode)) {
        cmp_dir(r, at, m, i, deep);
    } else if (S_ISLNK(n->mode)) {
        char buf[4200];
        size_t len = 0;
        rv = fs_readlink(r->f.v, at, n->eino, buf, sizeof buf, &len);
        MCHECK(rv == 0 && len == strlen(n->target) && memcmp(buf, n->target, len) == 0,
               "fs_readlink %llx: %s, %zu bytes, model '%s'", (unsigned long long)n->eino,
               errname(rv), len, n->target);
    } else if (S_ISREG(n->mode) && deep) {
        cmp_data(r, at, m, i, budget);
    }
    if (deep)
        cmp_xattrs(r, at, m, i);
}

/* Every inode of M as of AT. */
static void cmp_all(struct run *r, const struct asof *at, const struct model *m, uint64_t budget)
{
    for (uint32_t i = 0; i < m->n; i++)
        cmp_inode(r, at, m, i, 1, budget);
    r->full_checks++;
}

/* Fills AT for saved point S (VV is initialised by the caller). */
static void point_asof(struct run *r, const struct saved *s, struct vv *vv, struct asof *at)
{
    if (s->is_snap) {
        int rv = fs_snapshot_get(r->f.v, s->name, vv, at);
        MCHECK(rv == 0, "fs_snapshot_get '%s': %s", s->name, errname(rv));
        MCHECK(at->vv == vv, "fs_snapshot_get '%s' must point AT at SNAP", s->name);
    } else {
        *at = (struct asof){HLC_END_OF_MS(s->ms), NULL};
    }
}

/* Reads as of saved point S equal its model; ALL: every inode, else a sample. */
static void cmp_point(struct run *r, const struct saved *s, int all)
{
    struct vv vv;
    struct asof at;
    vv_init(&vv);
    point_asof(r, s, &vv, &at);
    char was[sizeof g_where];
    snprintf(was, sizeof was, "%s", g_where);
    snprintf(g_where, sizeof g_where, "%.300s; as of %s %s (op %llu)", was,
             s->is_snap ? "snapshot" : "time", s->is_snap ? s->name : "",
             (unsigned long long)s->op);
    if (all) {
        cmp_all(r, &at, &s->m, PARTIAL_BUDGET);
    } else {
        cmp_inode(r, &at, &s->m, 0, 1, PARTIAL_BUDGET);
        for (int k = 0; k < 30 && s->m.n > 1; k++)
            cmp_inode(r, &at, &s->m, 1 + (uint32_t)rnd(r, s->m.n - 1), 1, 256u << 10);
    }
    /* inodes born later did not exist then */
    for (int k = 0; k < 5 && r->m.n > s->m.n; k++) {
        uint32_t i = s->m.n + (uint32_t)rnd(r, r->m.n - s->m.n);
        struct attr a;
        int rv = fs_getattr(r->f.v, &at, r->m.in[i].eino, &a);
        MCHECK(rv == -ENOENT, "fs_getattr of inode %llx (born after the point): %s",
               (unsigned long long)r->m.in[i].eino, errname(rv));
    }
    snprintf(g_where, sizeof g_where, "%s", was);
    vv_fini(&vv);
    r->asof_checks++;
}

static void save_point(struct run *r, int is_snap, const char *name)
{
    GROW(r->sv, r->nsv, r->csv);
    struct saved *s = &r->sv[r->nsv++];
    memset(s, 0, sizeof *s);
    s->is_snap = is_snap;
    if (name)
        snprintf(s->name, sizeof s->name, "%s", name);
    s->ms = r->f.ms;
    s->op = r->op;
    m_copy(&s->m, &r->m);
}

static int snap_list_cb(void *ctx, const char *name, uint64_t hlc, const struct vv *vv)
{
    (void)hlc;
    (void)vv;
    struct listing *l = ctx;
    return list_cb(l, name, strlen(name), 0, 0, NULL);
}

/* The live state, every saved point, and the snapshot list. */
static void cmp_everything(struct run *r, const char *phase)
{
    snprintf(g_where, sizeof g_where, "%s: live state", phase);
    cmp_all(r, &ASOF_NOW, &r->m, UINT64_MAX);
    for (uint32_t k = 0; k < r->nsv; k++) {
        snprintf(g_where, sizeof g_where, "%s", phase);
        cmp_point(r, &r->sv[k], 1);
    }
    struct listing l = {0};
    int rv = fs_snapshot_list(r->f.v, NULL, snap_list_cb, &l);
    MCHECK(rv == 0, "fs_snapshot_list: %s", errname(rv));
    MCHECK(l.n == r->nsnap, "fs_snapshot_list: %zu snapshots, taken %u", l.n, r->nsnap);
    for (size_t k = 0; k < l.n; k++) {
        int found = 0;
        for (uint32_t j = 0; j < r->nsv; j++)
            found |= r->sv[j].is_snap && strcmp(r->sv[j].name, l.name[k]) == 0;
        MCHECK(found, "fs_snapshot_list names '%s', which was never taken", l.name[k]);
        MCHECK(k == 0 || strcmp(l.name[k - 1], l.name[k]) < 0, "fs_snapshot_list out of order");
    }
    list_free(&l);
}

/* ---- operations ----------------------------------------------------------- */

static void where(struct run *r, const char *fmt, ...)
{
    int n = snprintf(g_where, sizeof g_where, "op %llu ", (unsigned long long)r->op);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_where + n, sizeof g_where - (size_t)n, fmt, ap);
    va_end(ap);
}

static void check_new_ino(struct run *r, uint64_t ino)
{
    MCHECK(ino != 0 && ino != ROOT_INO, "new inode number %llx", (unsigned long long)ino);
    for (uint32_t i = 0; i < r->m.n; i++)
        MCHECK(r->m.in[i].eino != ino, "new inode number %llx is already in use",
               (unsigned long long)ino);
}

static void op_mknod(struct run *r, enum op o)
{
    uint32_t p = pick_parent(r);
    const char *name = pick_name(r, p, 25);
    uint32_t mode = 0, uid = (uint32_t)rnd(r, 4) * 1000, gid = (uint32_t)rnd(r, 4) * 100;
    char target[300];
    const char *tp = NULL;
    switch (o) {
    case OP_CREATE:
        mode = S_IFREG | (uint32_t)rnd(r, 01000);
        break;
    case OP_MKDIR:
        mode = S_IFDIR | (uint32_t)(chance(r, 10) ? rnd(r, 010000) : 0755);
        break;
    case OP_SYMLINK: {
        size_t tl = chance(r, 3) ? 0 : 1 + (size_t)rnd(r, 250);
        for (size_t k = 0; k < tl; k++)
            target[k] = "abc/.-xyz"[rnd(r, 9)];
        target[tl] = '\0';
        tp = target;
        mode = S_IFLNK | 0777;
        break;
    }
    default:
        mode = S_IFIFO | 0640;
        break;
    }
    where(r, "%s parent %llx '%s' mode 0%o target '%s'", op_tab[o].name,
          (unsigned long long)r->m.in[p].eino, name, mode, tp ? tp : "");
    struct exp x = {0};
    int pe = dir_err(&r->m, p);
    if (strlen(name) > 255)
        exp_add(&x, -ENAMETOOLONG);
    if (tp && !*tp)
        exp_add(&x, -ENOENT);
    if (pe)
        exp_add(&x, pe);
    else if (m_lookup(&r->m, p, name) >= 0)
        exp_add(&x, -EEXIST);
    uint64_t ino = 0;
    struct attr a;
    int rv = fs_mknod(r->f.v, r->m.in[p].eino, name, mode, 0, uid, gid, tp, &ino, &a);
    if (!check_rv(r, o, rv, &x))
        return;
    check_new_ino(r, ino);
    if (r->m.in[p].mode & S_ISGID) { /* new inodes take a setgid directory's group */
        gid = r->m.in[p].gid;
        if (S_ISDIR(mode))
            mode |= S_ISGID;
    }
    uint32_t i = m_add(&r->m, ino, mode, uid, gid, p);
    if (tp)
        r->m.in[i].target = xstrdup_t(tp);
    m_ent_put(&r->m.in[p], name, i);
    r->m.in[p].mtime_known = 0;
    cmp_attr(&r->m, i, &a, "fs_mknod out");
    if (S_ISREG(mode) && r->nhot < 4)
        r->hot[r->nhot++] = i;
}

static void op_write(struct run *r)
{
    uint64_t x = rnd(r, 100);
    uint32_t i;
    if (x < 4)
        i = pick(r, PK_LIVE_DIR, 0);
    else if (x < 7)
        i = pick(r, PK_NONDIR, 0);
    else if (x < 40 && r->nhot)
        i = r->hot[rnd(r, r->nhot)];
    else
        i = pick(r, PK_REG, 0);
    struct mino *n = &r->m.in[i];
    uint64_t off;
    size_t len;
    x = rnd(r, 1000);
    int hot = 0, kind = 0;
    for (uint32_t k = 0; k < r->nhot; k++)
        hot |= r->hot[k] == i;
    if ((r->op % 1000 == 777 && S_ISREG(n->mode)) || x < 8) { /* beyond 4 GiB */
        off = 5 * GIB + rnd(r, GIB);
        len = 1 + (size_t)rnd(r, 100000);
        kind = 3;
    } else if (x < 10) {
        off = MAX_FILE - 10;
        len = 100;       /* EFBIG */
    } else if (x < 11) { /* ending exactly at the largest file size */
        len = 1 + (size_t)rnd(r, 1000);
        off = MAX_FILE - len;
    } else if (hot && x < 600) { /* tiny writes into the first blocks: compaction */
        off = rnd(r, 140000);
        len = 1 + (size_t)rnd(r, 200);
    } else if (x < 100) { /* sparse: far past the end */
        off = n->size + rnd(r, 16u << 20);
        len = 1 + (size_t)rnd(r, 8192);
        kind = 2;
    } else if (x < 420) {
        off = rnd(r, n->size + 1);
        len = (64u << 10) + (size_t)rnd(r, BIG_WRITE - (64u << 10));
        kind = 1;
    } else if (x < 480) {
        off = rnd(r, n->size + 65536);
        len = 4096 + (size_t)rnd(r, 60000);
    } else if (x < 540) {
        off = n->size;
        len = 1 + (size_t)rnd(r, 10000);
    } else {
        off = rnd(r, n->size + 4096);
        len = 1 + (size_t)rnd(r, 4096);
    }
    fill_random(r, r->wbuf, len);
    where(r, "write ino %llx [%llu,+%zu)", (unsigned long long)n->eino, (unsigned long long)off,
          len);
    struct exp e = {0};
    if (off + len > MAX_FILE)
        exp_add(&e, -EFBIG);
    if (S_ISDIR(n->mode))
        exp_add(&e, -EISDIR);
    else if (!S_ISREG(n->mode))
        exp_add(&e, -EINVAL);
    struct attr a;
    struct engine_stats s0, s1;
    engine_stats(r->f.e, &s0);
    int rv;
    if (chance(r, 50)) { /* as received over RPC: in pieces of any size, some empty */
        struct iovec iov[WRITE_PIECES];
        int k = 0;
        for (size_t at = 0; at < len || k == 0; k++) {
            size_t piece = len - at; /* the last takes the rest */
            if (k < WRITE_PIECES - 1)
                piece = chance(r, 30) ? (size_t)rnd(r, piece < 3 ? piece + 1 : 3)
                                      : (size_t)rnd(r, piece + 1);
            iov[k] = (struct iovec){r->wbuf + at, piece};
            at += piece;
        }
        r->pieced_writes++;
        rv = fs_writev(r->f.v, n->eino, off, iov, k, &a);
    } else {
        rv = fs_write(r->f.v, n->eino, off, r->wbuf, len, &a);
    }
    if (!check_rv(r, OP_WRITE, rv, &e))
        return;
    engine_stats(r->f.e, &s1);
    if (len <= 200 && s1.bytes_appended - s0.bytes_appended > 4096)
        r->compactions++; /* a tiny write that rewrote its block (fsops.c 5) */
    m_write(n, off, r->wbuf, len);
    n->mtime_known = 0;
    r->bytes_written += len;
    r->big_writes += kind == 1;
    r->far_writes += kind == 2;
    r->huge_writes += kind == 3;
    cmp_attr(&r->m, i, &a, "fs_write out");
    if (chance(r, 30)) /* read back around what was written */
        cmp_range(r, &ASOF_NOW, &r->m, i, off >= 50 ? off - 50 : 0,
                  len + 100 < IOBUF ? len + 100 : IOBUF);
}

static void op_trunc(struct run *r)
{
    uint32_t i = chance(r, 88) ? pick(r, PK_REG, 0) : pick(r, PK_ANY, 0);
    struct mino *n = &r->m.in[i];
    uint64_t x = rnd(r, 100), size;
    if (x < 40)
        size = rnd(r, n->size + 1);
    else if (x < 65)
        size = n->size + rnd(r, 256u << 10);
    else if (x < 75)
        size = 0;
    else if (x < 80)
        size = 5 * GIB + rnd(r, GIB);
    else if (x < 85)
        size = n->size;
    else if (x < 88)
        size = MAX_FILE + 1 + rnd(r, 1000);
    else
        size = rnd(r, 70000);
    where(r, "truncate ino %llx to %llu (size %llu)", (unsigned long long)n->eino,
          (unsigned long long)size, (unsigned long long)n->size);
    struct exp e = {0};
    if (S_ISDIR(n->mode)) {
        exp_add(&e, -EISDIR);
    } else if (!S_ISREG(n->mode)) {
        exp_add(&e, -EINVAL);
    } else if (size > MAX_FILE) {
        exp_add(&e, -EFBIG);
        exp_add(&e, -EINVAL);
    }
    struct setattr sa = {.mask = SET_SIZE, .size = size};
    struct attr a;
    int rv = fs_setattr(r->f.v, n->eino, &sa, &a);
    if (!check_rv(r, OP_TRUNC, rv, &e))
        return;
    m_trunc(n, size);
    n->mtime_known = 0;
    cmp_attr(&r->m, i, &a, "fs_setattr size out");
    if (chance(r, 30) && size > 0) /* the bytes around the new end */
        cmp_range(r, &ASOF_NOW, &r->m, i, size > 5000 ? size - 5000 : 0, 10000);
}

static void op_setattr(struct run *r, enum op o)
{
    uint32_t i = pick(r, PK_ANY, 0);
    struct mino *n = &r->m.in[i];
    if (o == OP_CHMOD && S_ISLNK(n->mode))
        o = OP_CHOWN; /* symlink modes are not changed (lchmod) */
    struct setattr sa;
    memset(&sa, 0, sizeof sa);
    if (o == OP_CHMOD) {
        sa.mask = SET_MODE;
        sa.mode = (uint32_t)rnd(r, 010000);
    } else if (o == OP_CHOWN) {
        if (chance(r, 70))
            sa.mask |= SET_UID, sa.uid = (uint32_t)rnd(r, 70000);
        if (chance(r, 70) || !sa.mask)
            sa.mask |= SET_GID, sa.gid = (uint32_t)rnd(r, 70000);
    } else {
        uint64_t x = rnd(r, 4);
        if (x & 1)
            sa.mask |= chance(r, 80) ? SET_ATIME : SET_ATIME_NOW;
        if (x & 2 || !sa.mask)
            sa.mask |= chance(r, 80) ? SET_MTIME : SET_MTIME_NOW;
        sa.atime = (int64_t)(tu_rand(&r->rng) >> 2) - (int64_t)(1ll << 60);
        sa.mtime = (int64_t)rnd(r, 4000000000ull) * 1000000000ll + (int64_t)rnd(r, 1000000000);
    }
    where(r, "%s ino %llx mask 0x%x mode 0%o uid %u gid %u", op_tab[o].name,
          (unsigned long long)n->eino, sa.mask, sa.mode, sa.uid, sa.gid);
    struct exp e = {0};
    struct attr a;
    int rv = fs_setattr(r->f.v, n->eino, &sa, &a);
    if (!check_rv(r, o, rv, &e))
        return;
    if (sa.mask & SET_MODE)
        n->mode = (n->mode & S_IFMT) | sa.mode;
    if (sa.mask & SET_UID)
        n->uid = sa.uid;
    if (sa.mask & SET_GID)
        n->gid = sa.gid;
    if (sa.mask & (SET_ATIME | SET_ATIME_NOW)) {
        n->atime = sa.atime;
        n->atime_known = !!(sa.mask & SET_ATIME);
    }
    if (sa.mask & (SET_MTIME | SET_MTIME_NOW)) {
        n->mtime = sa.mtime;
        n->mtime_known = !!(sa.mask & SET_MTIME);
    }
    cmp_attr(&r->m, i, &a, "fs_setattr out");
}

/* The parent and name of a random empty directory; 0 when there is none. */
static int pick_empty_dir(struct run *r, uint32_t *p, const char **name)
{
    uint32_t k = collect(r, PK_LIVE_DIR), n = 0;
    for (uint32_t i = 0; i < k; i++)
        if (r->tmp[i] != 0 && r->m.in[r->tmp[i]].nent == 0)
            r->tmp[n++] = r->tmp[i];
    if (n == 0)
        return 0;
    uint32_t c = r->tmp[rnd(r, n)];
    const struct mino *d = &r->m.in[r->m.in[c].parent];
    for (uint32_t j = 0; j < d->nent; j++)
        if (d->ent[j].ino == c) {
            *p = r->m.in[c].parent;
            *name = d->ent[j].name;
            return 1;
        }
    fail_msg("model: directory %u is not in its parent", c);
    return 0;
}

static void op_unlink(struct run *r, enum op o)
{
    uint32_t p = pick_parent(r);
    const char *name = pick_name(r, p, 85);
    if (o == OP_RMDIR && chance(r, 50))
        pick_empty_dir(r, &p, &name);
    char nm[260]; /* a copy: m_ent_del frees the model's */
    snprintf(nm, sizeof nm, "%s", name);
    name = nm;
    where(r, "%s parent %llx '%s'", op_tab[o].name, (unsigned long long)r->m.in[p].eino, name);
    struct exp e = {0};
    int pe = dir_err(&r->m, p);
    int64_t c = m_lookup(&r->m, p, name);
    if (strlen(name) > 255)
        exp_add(&e, -ENAMETOOLONG);
    if (pe) {
        exp_add(&e, pe);
    } else if (c < 0) {
        exp_add(&e, -ENOENT);
    } else if (o == OP_UNLINK && is_dir(&r->m, (uint32_t)c)) {
        exp_add(&e, -EISDIR); /* Linux; POSIX says EPERM */
        exp_add(&e, -EPERM);
    } else if (o == OP_RMDIR && !is_dir(&r->m, (uint32_t)c)) {
        exp_add(&e, -ENOTDIR);
    } else if (o == OP_RMDIR && r->m.in[c].nent) {
        exp_add(&e, -ENOTEMPTY);
        exp_add(&e, -EEXIST);
    }
    int rv = o == OP_UNLINK ? fs_unlink(r->f.v, r->m.in[p].eino, name)
                            : fs_rmdir(r->f.v, r->m.in[p].eino, name);
    if (!check_rv(r, o, rv, &e))
        return;
    m_ent_del(&r->m.in[p], name);
    r->m.in[p].mtime_known = 0;
    if (o == OP_RMDIR)
        r->m.in[c].removed = 1;
    else
        r->m.in[c].nlink--;
    struct attr a;
    rv = fs_getattr(r->f.v, &ASOF_NOW, r->m.in[c].eino, &a);
    MCHECK(rv == 0, "fs_getattr of the removed inode: %s", errname(rv));
    cmp_attr(&r->m, (uint32_t)c, &a, "after remove");
}

static void op_rename(struct run *r)
{
    uint32_t p1 = pick_parent(r);
    const char *n1 = pick_name(r, p1, 90);
    int64_t s = m_lookup(&r->m, p1, n1);
    uint32_t p2;
    if (s >= 0 && live_dir(&r->m, (uint32_t)s) && chance(r, 10))
        p2 = pick_below(r, (uint32_t)s); /* into itself: EINVAL */
    else if (chance(r, 30))
        p2 = p1;
    else
        p2 = pick_parent(r);
    const char *n2 = pick_name(r, p2, 50);
    if (s >= 0 && is_dir(&r->m, (uint32_t)s) && chance(r, 15))
        pick_empty_dir(r, &p2, &n2); /* over an empty directory */
    unsigned flags = 0;
    uint64_t x = rnd(r, 100);
    if (x < 15)
        flags = FS_RENAME_NOREPLACE;
    else if (x < 28)
        flags = FS_RENAME_EXCHANGE;
    else if (x < 30)
        flags = FS_RENAME_NOREPLACE | FS_RENAME_EXCHANGE;
    where(r, "rename %llx '%s' -> %llx '%s' flags %u", (unsigned long long)r->m.in[p1].eino, n1,
          (unsigned long long)r->m.in[p2].eino, n2, flags);
    struct exp e = {0};
    int pe1 = dir_err(&r->m, p1), pe2 = dir_err(&r->m, p2);
    int64_t d = m_lookup(&r->m, p2, n2);
    int same = p1 == p2 && strcmp(n1, n2) == 0;
    int exch = flags == FS_RENAME_EXCHANGE;
    if (strlen(n1) > 255 || strlen(n2) > 255)
        exp_add(&e, -ENAMETOOLONG);
    if (flags == (FS_RENAME_NOREPLACE | FS_RENAME_EXCHANGE))
        exp_add(&e, -EINVAL);
    if (pe1 || pe2) {
        if (pe1)
            exp_add(&e, pe1);
        if (pe2)
            exp_add(&e, pe2);
    } else if (s < 0) {
        exp_add(&e, -ENOENT);
    } else {
        int sdir = is_dir(&r->m, (uint32_t)s), ddir = d >= 0 && is_dir(&r->m, (uint32_t)d);
        if (flags == FS_RENAME_NOREPLACE && d >= 0)
            exp_add(&e, -EEXIST); /* Linux: even for the very same entry */
        if (exch && d < 0)
            exp_add(&e, -ENOENT);
        if (!same && d != s) {
            if (sdir && m_below(&r->m, p2, (uint32_t)s))
                exp_add(&e, -EINVAL); /* a directory below itself */
            if (exch && ddir && m_below(&r->m, p1, (uint32_t)d))
                exp_add(&e, -EINVAL);
            if (!exch && ddir && m_below(&r->m, p1, (uint32_t)d))
                exp_add(&e, -ENOTEMPTY); /* the target is an ancestor of the source */
            if (!exch && d >= 0) {
                if (sdir && !ddir)
                    exp_add(&e, -ENOTDIR);
                if (!sdir && ddir)
                    exp_add(&e, -EISDIR);
                if (ddir && r->m.in[d].nent) {
                    exp_add(&e, -ENOTEMPTY);
                    exp_add(&e, -EEXIST);
                }
            }
        }
    }
    int rv = fs_rename(r->f.v, r->m.in[p1].eino, n1, r->m.in[p2].eino, n2, flags);
    if (!check_rv(r, OP_RENAME, rv, &e))
        return;
    struct model *m = &r->m;
    if (same || d == s)
        return; /* POSIX: nothing to do */
    m->in[p1].mtime_known = m->in[p2].mtime_known = 0;
    r->ren_cross += p1 != p2;
    r->ren_exchange += exch;
    r->ren_over_dir += !exch && d >= 0 && is_dir(m, (uint32_t)d);
    r->ren_over_file += !exch && d >= 0 && !is_dir(m, (uint32_t)d);
    if (exch) {
        m_ent_put(&m->in[p1], n1, (uint32_t)d);
        m_ent_put(&m->in[p2], n2, (uint32_t)s);
        if (is_dir(m, (uint32_t)d))
            m->in[d].parent = p1;
    } else {
        if (d >= 0) {
            if (is_dir(m, (uint32_t)d))
                m->in[d].removed = 1;
            else
                m->in[d].nlink--;
        }
        m_ent_del(&m->in[p1], n1);
        m_ent_put(&m->in[p2], n2, (uint32_t)s);
    }
    if (is_dir(m, (uint32_t)s))
        m->in[s].parent = p2;
    uint64_t ino = 0;
    struct attr a;
    rv = fs_lookup(r->f.v, &ASOF_NOW, m->in[p2].eino, n2, &ino, &a);
    MCHECK(rv == 0 && ino == m->in[s].eino, "lookup of the new name: %s ino %llx", errname(rv),
           (unsigned long long)ino);
    cmp_attr(m, (uint32_t)s, &a, "renamed");
    if (d >= 0) {
        rv = fs_getattr(r->f.v, &ASOF_NOW, m->in[d].eino, &a);
        MCHECK(rv == 0, "fs_getattr of the replaced inode: %s", errname(rv));
        cmp_attr(m, (uint32_t)d, &a, "replaced");
    }
}

static void op_link(struct run *r)
{
    uint64_t x = rnd(r, 100);
    uint32_t i = x < 8    ? pick(r, PK_ANY, 0)
                 : x < 20 ? pick(r, PK_NONDIR, 0)
                          : pick(r, PK_LINKED_NONDIR, 0);
    uint32_t p = pick_parent(r);
    const char *name = pick_name(r, p, 20);
    struct mino *n = &r->m.in[i];
    where(r, "link ino %llx -> %llx '%s'", (unsigned long long)n->eino,
          (unsigned long long)r->m.in[p].eino, name);
    struct exp e = {0};
    int pe = dir_err(&r->m, p);
    if (strlen(name) > 255)
        exp_add(&e, -ENAMETOOLONG);
    if (pe) {
        exp_add(&e, pe);
    } else {
        if (S_ISDIR(n->mode))
            exp_add(&e, -EPERM);
        else if (n->nlink == 0)
            exp_add(&e, -ENOENT);
        if (m_lookup(&r->m, p, name) >= 0)
            exp_add(&e, -EEXIST);
    }
    struct attr a;
    int rv = fs_link(r->f.v, n->eino, r->m.in[p].eino, name, &a);
    if (!check_rv(r, OP_LINK, rv, &e))
        return;
    n->nlink++;
    m_ent_put(&r->m.in[p], name, i);
    r->m.in[p].mtime_known = 0;
    cmp_attr(&r->m, i, &a, "fs_link out");
}

/* An inode that has xattrs, and one of their names (or any inode and name). */
static uint32_t pick_xattr(struct run *r, const char **name)
{
    uint32_t k = collect(r, PK_ANY), n = 0;
    for (uint32_t i = 0; i < k; i++)
        if (r->m.in[r->tmp[i]].nxa)
            r->tmp[n++] = r->tmp[i];
    *name = xnames[rnd(r, NXNAMES)];
    if (n == 0 || chance(r, 30))
        return pick(r, PK_ANY, 0);
    uint32_t i = r->tmp[rnd(r, n)];
    *name = r->m.in[i].xa[rnd(r, r->m.in[i].nxa)].name;
    return i;
}

static void op_xattr(struct run *r, enum op o)
{
    const char *xn = xnames[rnd(r, NXNAMES)];
    uint32_t i = o == OP_RMXATTR || chance(r, 50) ? pick_xattr(r, &xn) : pick(r, PK_ANY, 0);
    char name[64]; /* a copy: m_xa_del frees the model's */
    snprintf(name, sizeof name, "%s", xn);
    struct mino *n = &r->m.in[i];
    static uint8_t val[XATTR_MAX + 1];
    uint64_t lx = rnd(r, 1000);
    size_t len = lx < 50 ? 0 : (size_t)rnd(r, lx < 150 ? 2048 : 64);
    if (lx < 3)
        len = XATTR_MAX + lx % 2; /* the largest value, and one byte more: E2BIG */
    fill_random(r, val, len);
    int flags = 0;
    uint64_t x = rnd(r, 10);
    if (x == 0)
        flags = XATTR_CREATE;
    else if (x == 1)
        flags = XATTR_REPLACE;
    uint32_t pos;
    int have = m_xa_find(n, name, &pos);
    where(r, "%s ino %llx '%s' len %zu flags %d", op_tab[o].name, (unsigned long long)n->eino, name,
          len, flags);
    struct exp e = {0};
    int rv;
    if (o == OP_SETXATTR) {
        if (len > XATTR_MAX)
            exp_add(&e, -E2BIG);
        else if (flags == XATTR_CREATE && have)
            exp_add(&e, -EEXIST);
        if (flags == XATTR_REPLACE && !have)
            exp_add(&e, -ENODATA);
        rv = fs_setxattr(r->f.v, n->eino, name, val, len, flags);
    } else {
        if (!have)
            exp_add(&e, -ENODATA);
        rv = fs_removexattr(r->f.v, n->eino, name);
    }
    if (!check_rv(r, o, rv, &e))
        return;
    if (o == OP_SETXATTR)
        m_xa_set(n, name, val, len);
    else
        m_xa_del(n, name);
    cmp_xattrs(r, &ASOF_NOW, &r->m, i);
}

static void op_readlink(struct run *r)
{
    uint32_t i = chance(r, 75) ? pick(r, PK_LNK, 0) : pick(r, PK_ANY, 0);
    struct mino *n = &r->m.in[i];
    where(r, "readlink ino %llx", (unsigned long long)n->eino);
    struct exp e = {0};
    if (!S_ISLNK(n->mode))
        exp_add(&e, -EINVAL);
    char buf[300];
    size_t cap = chance(r, 20) ? (size_t)rnd(r, 8) : sizeof buf, len = 0;
    int rv = fs_readlink(r->f.v, &ASOF_NOW, n->eino, buf, cap, &len);
    if (!check_rv(r, OP_READLINK, rv, &e))
        return;
    size_t tl = strlen(n->target), k = tl < cap ? tl : cap;
    MCHECK(len == tl && memcmp(buf, n->target, k) == 0, "readlink: %zu bytes, model '%s'", len,
           n->target);
}

static void op_read(struct run *r)
{
    uint32_t i = chance(r, 90) ? pick(r, PK_REG, 0) : pick(r, PK_ANY, 0);
    struct mino *n = &r->m.in[i];
    uint64_t off;
    uint64_t x = rnd(r, 10);
    if (x < 6 || n->nblk == 0)
        off = rnd(r, n->size + 100);
    else /* near written data of a sparse file */
        off = n->blk[rnd(r, n->nblk)].no * MBLK + rnd(r, 2 * MBLK) - MBLK;
    if (off > MAX_FILE)
        off = 0;
    size_t len = chance(r, 10) ? (size_t)rnd(r, IOBUF + 1) : (size_t)rnd(r, 20000);
    where(r, "read ino %llx [%llu,+%zu)", (unsigned long long)n->eino, (unsigned long long)off,
          len);
    if (!S_ISREG(n->mode)) {
        size_t got;
        int rv = fs_read(r->f.v, &ASOF_NOW, n->eino, off, len, r->rbuf, &got);
        struct exp e = {0};
        exp_add(&e, S_ISDIR(n->mode) ? -EISDIR : -EINVAL);
        check_rv(r, OP_READ, rv, &e);
        return;
    }
    cmp_range(r, &ASOF_NOW, &r->m, i, off, len);
    r->ok[OP_READ]++;
}

static void op_lookup(struct run *r)
{
    uint32_t p = pick_parent(r);
    const char *name = pick_name(r, p, 60);
    if (live_dir(&r->m, p) && chance(r, 5))
        name = chance(r, 50) ? "." : "..";
    where(r, "lookup %llx '%s'", (unsigned long long)r->m.in[p].eino, name);
    struct exp e = {0};
    int64_t c = -1;
    if (strlen(name) > 255)
        exp_add(&e, -ENAMETOOLONG);
    if (!is_dir(&r->m, p)) {
        exp_add(&e, -ENOTDIR);
    } else if (strcmp(name, ".") == 0) {
        c = p;
    } else if (strcmp(name, "..") == 0) {
        c = r->m.in[p].parent;
    } else {
        c = m_lookup(&r->m, p, name);
        if (c < 0)
            exp_add(&e, -ENOENT);
    }
    uint64_t ino = 0;
    struct attr a;
    int rv = fs_lookup(r->f.v, &ASOF_NOW, r->m.in[p].eino, name, &ino, &a);
    if (!check_rv(r, OP_LOOKUP, rv, &e))
        return;
    MCHECK(ino == r->m.in[c].eino, "lookup: ino %llx, model %llx", (unsigned long long)ino,
           (unsigned long long)r->m.in[c].eino);
    cmp_attr(&r->m, (uint32_t)c, &a, "fs_lookup");
}

static void op_getxattr(struct run *r)
{
    const char *name;
    uint32_t i = pick_xattr(r, &name);
    struct mino *n = &r->m.in[i];
    where(r, "getxattr ino %llx '%s'", (unsigned long long)n->eino, name);
    uint32_t pos;
    struct exp e = {0};
    int have = m_xa_find(n, name, &pos);
    if (!have)
        exp_add(&e, -ENODATA);
    static uint8_t val[XATTR_MAX];
    size_t len = 0, cap = chance(r, 20) ? (size_t)rnd(r, 10) : sizeof val;
    int rv = fs_getxattr(r->f.v, &ASOF_NOW, n->eino, name, cap ? val : NULL, cap, &len);
    if (!check_rv(r, OP_GETXATTR, rv, &e))
        return;
    size_t k = len < cap ? len : cap;
    MCHECK(len == n->xa[pos].len && memcmp(val, n->xa[pos].val, k) == 0,
           "getxattr: %zu bytes, model %zu", len, n->xa[pos].len);
}

static void do_op(struct run *r)
{
    unsigned total = 0;
    for (int k = 0; k < OP_COUNT; k++)
        total += op_tab[k].weight;
    unsigned x = (unsigned)rnd(r, total);
    enum op o = 0;
    while (x >= op_tab[o].weight)
        x -= op_tab[o++].weight;
    switch (o) {
    case OP_CREATE:
    case OP_MKDIR:
    case OP_SYMLINK:
    case OP_MKFIFO:
        op_mknod(r, o);
        break;
    case OP_WRITE:
        op_write(r);
        break;
    case OP_TRUNC:
        op_trunc(r);
        break;
    case OP_CHMOD:
    case OP_CHOWN:
    case OP_UTIMENS:
        op_setattr(r, o);
        break;
    case OP_UNLINK:
    case OP_RMDIR:
        op_unlink(r, o);
        break;
    case OP_RENAME:
        op_rename(r);
        break;
    case OP_LINK:
        op_link(r);
        break;
    case OP_SETXATTR:
    case OP_RMXATTR:
        op_xattr(r, o);
        break;
    case OP_READLINK:
        op_readlink(r);
        break;
    case OP_FSYNC: {
        where(r, "fsync");
        struct exp e = {0};
        check_rv(r, OP_FSYNC, fs_fsync(r->f.v), &e);
        break;
    }
    case OP_READ:
        op_read(r);
        break;
    case OP_GETATTR: {
        uint32_t i = pick(r, PK_ANY, 0);
        where(r, "getattr ino %llx", (unsigned long long)r->m.in[i].eino);
        cmp_inode(r, &ASOF_NOW, &r->m, i, 0, 0);
        r->ok[OP_GETATTR]++;
        break;
    }
    case OP_READDIR: {
        uint32_t d = chance(r, 90) ? pick(r, PK_LIVE_DIR, 0) : pick(r, PK_DEAD_DIR, 0);
        where(r, "readdir %llx", (unsigned long long)r->m.in[d].eino);
        cmp_dir(r, &ASOF_NOW, &r->m, d, 1);
        r->ok[OP_READDIR]++;
        break;
    }
    case OP_LOOKUP:
        op_lookup(r);
        break;
    case OP_GETXATTR:
        op_getxattr(r);
        break;
    case OP_COUNT:
        break;
    }
}

static void take_snapshot(struct run *r)
{
    char name[32];
    snprintf(name, sizeof name, "snap-%03u", r->nsnap);
    where(r, "snapshot %s", name);
    int rv = fs_snapshot_create(r->f.v, name);
    MCHECK(rv == 0, "fs_snapshot_create: %s", errname(rv));
    r->nsnap++;
    save_point(r, 1, name);
    rv = fs_snapshot_create(r->f.v, name);
    MCHECK(rv == -EEXIST, "fs_snapshot_create of a taken name: %s", errname(rv));
}

/* Mutations after a restart or rebuild: new inode numbers must not collide
 * and the new state must read back (the writer state was reloaded). */
static void after_reload(struct run *r, const char *phase)
{
    for (int k = 0; k < 40; k++) {
        r->f.ms++;
        r->op++;
        if (k % 3 == 0)
            op_mknod(r, OP_CREATE);
        else if (k % 3 == 1)
            op_write(r);
        else
            op_rename(r);
    }
    snprintf(g_where, sizeof g_where, "%s: after more mutations", phase);
    cmp_all(r, &ASOF_NOW, &r->m, UINT64_MAX);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void model_random_operations_match_the_engine(void **state)
{
    (void)state;
    log_set_level(LOG_WARN);
    struct run *r = calloc(1, sizeof *r);
    assert_non_null(r);
    g_seed = tu_seed("test_model");
    r->rng = g_seed;
    r->nops = MODEL_OPS;
    const char *ops = getenv("CAIRN_MODEL_OPS");
    if (ops && *ops)
        r->nops = strtoull(ops, NULL, 0);
    memset(name255, 'L', 255);
    memset(name256, 'N', 256);
    r->wbuf = malloc(IOBUF);
    r->rbuf = malloc(IOBUF);
    r->mbuf = malloc(IOBUF);
    assert_true(r->wbuf && r->rbuf && r->mbuf);
    double t0 = now_s();

    r->f.dir = tu_tmpdir("model");
    r->f.ms = 1700000000000ull;
    struct engine_opts o = {.data_dir = r->f.dir, .clock = fx_clock, .clock_ctx = &r->f};
    snprintf(g_where, sizeof g_where, "setup");
    assert_int_equal(engine_open(&r->f.e, &o), 0);
    assert_int_equal(engine_volume_create(r->f.e, "m", DURABILITY_LOCAL, 0), 0);
    for (int k = 0; k < 2; k++) {
        uint8_t id[16];
        assert_int_equal(engine_chunk_create(r->f.e, 64u << 20, id), 0);
        assert_int_equal(engine_chunk_assign(r->f.e, id, "m"), 0);
    }
    assert_int_equal(engine_volume(r->f.e, "m", &r->f.v), 0);
    m_add(&r->m, ROOT_INO, S_IFDIR | 0755, 0, 0, 0);
    cmp_all(r, &ASOF_NOW, &r->m, UINT64_MAX);
    save_point(r, 0, NULL); /* before the first op: an empty root */
    r->ntime++;

    for (r->op = 1; r->op <= r->nops; r->op++) {
        r->f.ms++; /* every op in its own millisecond */
        do_op(r);
        if (r->op % SNAP_EVERY == 0)
            take_snapshot(r);
        else if (r->ntime < TIME_SAVES_MAX && rnd(r, r->nops / TIME_SAVES_MAX / 2 + 1) == 0) {
            save_point(r, 0, NULL);
            r->ntime++;
        }
        if (r->nsv && rnd(r, 150) == 0) {
            snprintf(g_where, sizeof g_where, "op %llu: random as-of check",
                     (unsigned long long)r->op);
            cmp_point(r, &r->sv[rnd(r, r->nsv)], 0);
        }
        if (r->op % FULL_EVERY == 0) {
            snprintf(g_where, sizeof g_where, "op %llu: full compare", (unsigned long long)r->op);
            cmp_all(r, &ASOF_NOW, &r->m, UINT64_MAX);
        }
        if (r->op == r->nops / 2) { /* restart mid-run and carry on */
            fx_close(&r->f);
            fx_open(&r->f);
            snprintf(g_where, sizeof g_where, "op %llu: after a mid-run restart",
                     (unsigned long long)r->op);
            cmp_all(r, &ASOF_NOW, &r->m, UINT64_MAX);
        }
    }
    double t_ops = now_s() - t0;

    cmp_everything(r, "end of run");
    double t_end = now_s() - t0;

    fx_close(&r->f);
    fx_open(&r->f);
    cmp_everything(r, "after restart");
    after_reload(r, "after restart");
    double t_restart = now_s() - t0;

    fx_close(&r->f);
    char *index = NULL;
    assert_true(asprintf(&index, "%s/index", r->f.dir) > 0);
    tu_rmrf(index);
    struct stat st;
    assert_int_not_equal(stat(index, &st), 0);
    free(index);
    fx_open(&r->f);
    cmp_everything(r, "after rebuilding a deleted index");
    after_reload(r, "after rebuild");
    double t_rebuild = now_s() - t0;

    snprintf(g_where, sizeof g_where, "engine_reindex");
    int rv = engine_reindex(r->f.e);
    MCHECK(rv == 0, "engine_reindex: %s", errname(rv));
    cmp_everything(r, "after engine_reindex");
    after_reload(r, "after reindex");
    double t_reindex = now_s() - t0;

    struct volume_info vi;
    engine_volume_info(r->f.e, r->f.v, &vi);
    struct chunk_info *ci;
    size_t nci;
    assert_int_equal(engine_chunk_list(r->f.e, &ci, &nci), 0);
    unsigned used_chunks = 0;
    for (size_t k = 0; k < nci; k++)
        used_chunks += ci[k].used > 128;
    free(ci);
    struct engine_stats es;
    engine_stats(r->f.e, &es);
    MCHECK(es.checksum_errors == 0, "%llu checksum errors", (unsigned long long)es.checksum_errors);

    printf("# test_model: %llu ops in %.1fs; compares done at %.1fs, restart %.1fs, rebuild "
           "%.1fs, reindex %.1fs\n",
           (unsigned long long)r->nops, t_ops, t_end, t_restart, t_rebuild, t_reindex);
    printf("# %u inodes, %u snapshots, %u time points, %lu full compares, %lu as-of checks, "
           "%lu block compactions\n",
           r->m.n, r->nsnap, r->ntime, r->full_checks, r->asof_checks, r->compactions);
    printf("# %llu bytes written (%lu big, %lu sparse, %lu beyond 4 GiB, %lu in pieces); volume "
           "uses %llu bytes in %u of %u chunks\n",
           (unsigned long long)r->bytes_written, r->big_writes, r->far_writes, r->huge_writes,
           r->pieced_writes, (unsigned long long)vi.used, used_chunks, vi.chunks);
    printf("# %-12s %7s %7s  errors seen\n", "op", "ok", "error");
    for (int k = 0; k < OP_COUNT; k++) {
        char errs[512] = "";
        size_t w = 0;
        for (int j = 1; j < ERRNO_SLOTS && w < sizeof errs - 40; j++)
            if (r->errno_seen[k][j])
                w += (size_t)snprintf(errs + w, sizeof errs - w, " %s:%lu",
                                      j < ERRNO_SLOTS - 1 ? strerrorname_np(j) : "other",
                                      r->errno_seen[k][j]);
        printf("# %-12s %7lu %7lu %s\n", op_tab[k].name, r->ok[k], r->err[k], errs);
    }
    printf("# renames: %lu over files, %lu over empty dirs, %lu exchanges, %lu across dirs\n",
           r->ren_over_file, r->ren_over_dir, r->ren_exchange, r->ren_cross);
    fflush(stdout);
    MCHECK(r->huge_writes > 0, "no write beyond 4 GiB was made");
    MCHECK(r->nops < 5000 || r->pieced_writes > 0, "no write came in pieces");
    MCHECK(r->nops < 5000 || r->compactions > 0, "no tiny write compacted its block");

    fx_close(&r->f);
    tu_rmrf(r->f.dir);
    free(r->f.dir);
    for (uint32_t k = 0; k < r->nsv; k++)
        m_free(&r->sv[k].m);
    free(r->sv);
    m_free(&r->m);
    free(r->tmp);
    free(r->wbuf);
    free(r->rbuf);
    free(r->mbuf);
    free(r);
}

/* An engine opened with O, with one volume "v" on a 256 MiB chunk that
 * holds one empty file "f" (*INO); returns the volume. */
static struct volume *one_file(const struct engine_opts *o, struct engine **e, uint64_t *ino)
{
    struct volume *v;
    uint8_t id[16];
    assert_int_equal(engine_open(e, o), 0);
    assert_int_equal(engine_volume_create(*e, "v", DURABILITY_LOCAL, 0), 0);
    assert_int_equal(engine_chunk_create(*e, 256u << 20, id), 0);
    assert_int_equal(engine_chunk_assign(*e, id, "v"), 0);
    assert_int_equal(engine_volume(*e, "v", &v), 0);
    assert_int_equal(fs_mknod(v, ROOT_INO, "f", S_IFREG | 0644, 0, 0, 0, NULL, ino, NULL), 0);
    return v;
}

/* A write of one group (16 whole blocks, fsops.c (4)) over another, with a
 * physical clock that moves 1 ms at every reading: a read as of any
 * millisecond around it shows all of the old bytes or all of the new ones,
 * never some of each (volume.c (7)). */
static uint64_t tick_clock(void *ctx)
{
    return ++*(uint64_t *)ctx;
}

static void write_group_reads_as_one_instant_as_of_any_time(void **state)
{
    (void)state;
    uint64_t ms = 1700000000000ull;
    char *dir = tu_tmpdir("model-group");
    struct engine_opts o = {.data_dir = dir, .clock = tick_clock, .clock_ctx = &ms};
    struct engine *e;
    uint64_t ino;
    struct volume *v = one_file(&o, &e, &ino);
    enum { LEN = 16 * BLOCK_SIZE };
    uint8_t *a = malloc(LEN), *b = malloc(LEN), *got = malloc(LEN);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(got);
    memset(a, 'A', LEN);
    memset(b, 'B', LEN);
    uint64_t t0 = ms;
    assert_int_equal(fs_write(v, ino, 0, a, LEN, NULL), 0);
    uint64_t t1 = ms;
    assert_int_equal(fs_write(v, ino, 0, b, LEN, NULL), 0);
    uint64_t t2 = ms;
    int mixed = 0, olds = 0, news = 0;
    for (uint64_t t = t1; t <= t2 + 1; t++) {
        size_t n = 0;
        struct asof at = {HLC_END_OF_MS(t), NULL};
        assert_int_equal(fs_read(v, &at, ino, 0, LEN, got, &n), 0);
        assert_int_equal(n, LEN);
        if (memcmp(got, a, LEN) == 0)
            olds++;
        else if (memcmp(got, b, LEN) == 0)
            news++;
        else if (mixed++ == 0)
            print_message("# as of ms %llu (+%llu): some old and some new bytes\n",
                          (unsigned long long)t, (unsigned long long)(t - t1));
    }
    print_message(
        "# write 1 ms %llu..%llu, write 2 ms %llu..%llu: %d reads old, %d new, %d mixed\n",
        (unsigned long long)t0, (unsigned long long)t1, (unsigned long long)t1,
        (unsigned long long)t2, olds, news, mixed);
    assert_int_equal(mixed, 0);
    assert_true(olds > 0 && news > 0);
    free(a);
    free(b);
    free(got);
    engine_close(e);
    tu_rmrf(dir);
    free(dir);
}

/* Reads racing with a writer that turns the file from X (3 blocks of 'x')
 * into Y (5000 bytes of 'y') and back, by truncate to 0 and a write: every
 * read sees one state, empty, X or Y, never the size of one with the bytes
 * of another (fsops.c (6)). Bounded: WRITER_ROUNDS rounds of the writer. */
enum { WRITER_ROUNDS = 400, X_LEN = 3 * BLOCK_SIZE, Y_LEN = 5000 };

struct race {
    struct volume *v;
    uint64_t ino;
    _Atomic int done;
};

static void *race_writer(void *arg)
{
    struct race *r = arg;
    uint8_t *x = malloc(X_LEN), *y = malloc(Y_LEN);
    memset(x, 'x', X_LEN);
    memset(y, 'y', Y_LEN);
    struct setattr zero = {.mask = SET_SIZE, .size = 0};
    for (int i = 0; i < WRITER_ROUNDS; i++) {
        int even = i % 2 == 0;
        if (fs_setattr(r->v, r->ino, &zero, NULL) != 0 ||
            fs_write(r->v, r->ino, 0, even ? y : x, even ? Y_LEN : X_LEN, NULL) != 0)
            break;
    }
    r->done = 1;
    free(x);
    free(y);
    return NULL;
}

static int all_bytes(const uint8_t *p, size_t n, uint8_t c)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != c)
            return 0;
    return 1;
}

static void read_sees_one_state_of_the_file(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("model-race");
    struct engine_opts o = {.data_dir = dir};
    struct engine *e;
    struct race r = {0};
    r.v = one_file(&o, &e, &r.ino);
    uint8_t *buf = malloc(X_LEN);
    assert_non_null(buf);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, race_writer, &r), 0);
    long reads = 0, mixed = 0;
    while (!r.done && reads < 2000000) {
        size_t n = 0;
        assert_int_equal(fs_read(r.v, &ASOF_NOW, r.ino, 0, X_LEN, buf, &n), 0);
        reads++;
        if (!(n == 0 || (n == Y_LEN && all_bytes(buf, n, 'y')) ||
              (n == X_LEN && all_bytes(buf, n, 'x'))) &&
            mixed++ == 0)
            print_message("# a read of %zu bytes: '%c' at 0, '%c' at %zu\n", n, buf[0], buf[n - 1],
                          n - 1);
    }
    pthread_join(t, NULL);
    print_message("# %ld reads during %d writer rounds: %ld saw a mix\n", reads, WRITER_ROUNDS,
                  mixed);
    assert_int_equal(mixed, 0);
    free(buf);
    engine_close(e);
    tu_rmrf(dir);
    free(dir);
}

/* Listings racing with a writer that moves the file's second name back and
 * forth (link "g", unlink "f", link "f", unlink "g"): every listing with
 * attributes shows the file with as many links as it lists names for it
 * (fsops.c (6)); a listing read apart from its attributes shows 2 names
 * with nlink 1, or 1 with nlink 2. Bounded: WRITER_ROUNDS rounds. */
struct links {
    struct volume *v;
    uint64_t ino;
    _Atomic int done;
    int rounds; /* done by the writer */
};

static void *links_writer(void *arg)
{
    struct links *l = arg;
    const char *from = "f", *to = "g";
    for (int i = 0; i < WRITER_ROUNDS; i++) {
        if (fs_link(l->v, l->ino, ROOT_INO, to, NULL) != 0 || fs_unlink(l->v, ROOT_INO, from) != 0)
            break;
        l->rounds++;
        const char *t = from;
        from = to;
        to = t;
    }
    l->done = 1;
    return NULL;
}

struct seen {
    uint64_t ino;
    unsigned names, nlink, with_attr;
};

static int seen_cb(void *ctx, const char *name, size_t nlen, uint64_t ino, uint32_t type,
                   const struct attr *a)
{
    (void)name, (void)nlen, (void)type;
    struct seen *s = ctx;
    if (ino != s->ino)
        return 0;
    s->names++;
    if (a) {
        s->nlink = a->nlink;
        s->with_attr++;
    }
    return 0;
}

static void listing_sees_one_state_of_the_directory(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("model-links");
    struct engine_opts o = {.data_dir = dir};
    struct engine *e;
    struct links l = {0};
    l.v = one_file(&o, &e, &l.ino);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, links_writer, &l), 0);
    long lists = 0, mixed = 0;
    while (!l.done && lists < 2000000) {
        struct seen s = {l.ino, 0, 0, 0};
        assert_int_equal(fs_readdir(l.v, &ASOF_NOW, ROOT_INO, NULL, 0, 1, seen_cb, &s), 0);
        lists++;
        assert_int_equal(s.with_attr, s.names); /* the file's inode is always readable */
        if ((s.names < 1 || s.names > 2 || s.nlink != s.names) && mixed++ == 0)
            print_message("# a listing with %u names for the file, nlink %u\n", s.names, s.nlink);
    }
    pthread_join(t, NULL);
    print_message("# %ld listings during %d writer rounds: %ld saw a mix\n", lists, l.rounds,
                  mixed);
    assert_int_equal(l.rounds, WRITER_ROUNDS);
    assert_true(lists > 0);
    assert_int_equal(mixed, 0);
    engine_close(e);
    tu_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(model_random_operations_match_the_engine),
        cmocka_unit_test(write_group_reads_as_one_instant_as_of_any_time),
        cmocka_unit_test(read_sees_one_state_of_the_file),
        cmocka_unit_test(listing_sees_one_state_of_the_directory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
