/*
 * test_iofault.c — injected I/O failures (daemon/fault.h, io.c) against the
 * write path: io.c (3), volume.c (1) (3) (5), commit.c (3), chunk.c (1),
 * engine.c catalog (2) and recovery (1).
 *
 * A deterministic workload of WL_OPS operations (two mkdirs, then creates,
 * writes, truncations, renames across directories and over files, unlinks,
 * and an fsync every 10th op), driven by a small model of the tree, runs on
 * a fresh data directory with one fault armed:
 *  - "pwrite": for N = 1, 2, ... (every N up to EXHAUSTIVE_N, then stepping so
 *    that about MAX_RUNS runs cover the rest) up to the number of pwrite calls
 *    a clean run makes (counted with fault_hits), the Nth pwrite fails with
 *    -EIO. The operation that hits it (engine setup included) must return a
 *    clean negative error and change nothing; every other call must return
 *    exactly what the model predicts. Then fault_reset, engine_close, reopen;
 *    the tree must equal the model after all successful operations (close
 *    flushes), readdir, lookup and getattr must agree, every file must read
 *    back whole without a checksum error, and a new write must work.
 *  - "pwrite_torn": the same, but the Nth pwrite first writes half of its
 *    bytes (whole records of a group among them) and then fails;
 *  - "fdatasync": for every N up to the clean run's count, the Nth fdatasync
 *    fails. The fs_fsync that hits it returns CAIRN_EFAILED, and so does every
 *    later mutation and fsync until reopen (reads keep working). After
 *    reopen, the tree must equal the model after some prefix of the
 *    successful operations that includes every acknowledged one (those
 *    followed by a successful fs_fsync), and the volume accepts writes again.
 * A fault that hits engine setup (node id, catalog, chunk creation) must make
 * that step fail cleanly; reopening then works and the volume can be set up.
 * Also: a write above 1 MiB (several record groups) whose second group's
 * pwrite fails keeps exactly its first group (a short write), as fsops.h says.
 *
 * Only meaningful with CAIRN_FAULT (tests/run.sh builds with it); otherwise skipped.
 * CAIRN_SEED=N reruns a seed (the workload is a function of it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cairn_err.h"
#include "engine.h"
#include "fault.h"
#include "fsops.h"
#include "log.h"
#include "testutil.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#ifdef CAIRN_FAULT

#define WL_OPS 200
#define NDIRS 3  /* root, d0, d1 */
#define NNAMES 8 /* f0 .. f7 in each */
#define MAXF (WL_OPS + 1)
#define FILE_MAX (256u << 10)
#define EXHAUSTIVE_N 40
#define MAX_RUNS 120

static uint64_t g_seed;

/* ---- the workload's model ---- */

enum wk { W_MKDIR, W_CREATE, W_WRITE, W_TRUNC, W_RENAME, W_UNLINK, W_FSYNC };
static const char *const wk_name[] = {"mkdir",  "create", "write", "truncate",
                                      "rename", "unlink", "fsync"};

/* One successful mutation, enough to replay it on a model. */
struct wop {
    enum wk k;
    int d1, n1, d2, n2;
    uint64_t off, len; /* write: range; truncate: len = new size */
    uint64_t dseed;    /* write: data generator */
    uint64_t ino;      /* create, mkdir: the engine's inode */
};

struct wfile {
    uint64_t ino;
    uint8_t *data; /* FILE_MAX bytes */
    uint64_t size;
};

struct wmodel {
    int dir_ok[NDIRS];
    uint64_t dir_ino[NDIRS];
    int slot[NDIRS][NNAMES]; /* file index or -1 */
    struct wfile f[MAXF];
    int nf;
};

static void wm_init(struct wmodel *m)
{
    memset(m, 0, sizeof *m);
    m->dir_ok[0] = 1;
    m->dir_ino[0] = ROOT_INO;
    for (int d = 0; d < NDIRS; d++)
        for (int n = 0; n < NNAMES; n++)
            m->slot[d][n] = -1;
}

static void wm_fini(struct wmodel *m)
{
    for (int i = 0; i < m->nf; i++)
        free(m->f[i].data);
}

static void gen_data(uint64_t seed, uint8_t *p, size_t n)
{
    uint64_t s = seed | 1;
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(tu_rand(&s) >> 56);
}

static void wm_apply(struct wmodel *m, const struct wop *o)
{
    switch (o->k) {
    case W_MKDIR:
        m->dir_ok[o->d1] = 1;
        m->dir_ino[o->d1] = o->ino;
        break;
    case W_CREATE: {
        struct wfile *f = &m->f[m->nf];
        f->ino = o->ino;
        f->size = 0;
        f->data = calloc(1, FILE_MAX);
        assert_non_null(f->data);
        m->slot[o->d1][o->n1] = m->nf++;
        break;
    }
    case W_WRITE: {
        struct wfile *f = &m->f[m->slot[o->d1][o->n1]];
        gen_data(o->dseed, f->data + o->off, (size_t)o->len);
        if (o->off + o->len > f->size)
            f->size = o->off + o->len;
        break;
    }
    case W_TRUNC: {
        struct wfile *f = &m->f[m->slot[o->d1][o->n1]];
        if (o->len < f->size)
            memset(f->data + o->len, 0, (size_t)(f->size - o->len));
        f->size = o->len;
        break;
    }
    case W_RENAME:
        m->slot[o->d2][o->n2] = m->slot[o->d1][o->n1];
        m->slot[o->d1][o->n1] = -1;
        break;
    case W_UNLINK:
        m->slot[o->d1][o->n1] = -1;
        break;
    case W_FSYNC:
        break;
    }
}

/* The model after the first K logged mutations. */
static void wm_replay(struct wmodel *m, const struct wop *log, int k)
{
    wm_init(m);
    for (int i = 0; i < k; i++)
        wm_apply(m, &log[i]);
}

static void slot_name(int d, int n, char *out)
{
    (void)d;
    snprintf(out, 8, "f%d", n);
}

/* ---- one run ---- */

struct wrun {
    char *dir;
    struct engine *e;
    struct volume *v;
    struct wmodel m;
    struct wop log[WL_OPS + 8];
    int nlog;
    int acked;         /* mutations covered by the last successful fs_fsync */
    int failed;        /* the volume reported CAIRN_EFAILED */
    int fault_op;      /* workload op that absorbed the fault, -1: none */
    int setup_failed;  /* a setup step absorbed the fault */
    const char *point; /* armed fault point, NULL: clean run */
    unsigned long nth;
    unsigned long mutations_refused;
    uint8_t *buf;
};

static int absorbed(struct wrun *r, unsigned long before)
{
    if (!r->point)
        return 0;
    unsigned long after = fault_hits(r->point);
    return before < r->nth && after >= r->nth;
}

static unsigned long hits(struct wrun *r)
{
    return r->point ? fault_hits(r->point) : 0;
}

/* A call's result when the fault may have hit it: a clean negative error. */
static void check_clean_error(struct wrun *r, int rv, const char *what)
{
    if (rv >= 0 || rv < CAIRN_ERR_LAST)
        fail_msg("%s hit the %s fault #%lu and returned %d (%s), want a negative error", what,
                 r->point, r->nth, rv, cairn_strerror(rv));
}

static int setup(struct wrun *r)
{
    struct engine_opts o = {.data_dir = r->dir};
    unsigned long h = hits(r);
    int rv = engine_open(&r->e, &o);
    if (rv != 0 || absorbed(r, h)) {
        if (!absorbed(r, h))
            fail_msg("engine_open failed without a fault: %s", cairn_strerror(rv));
        check_clean_error(r, rv, "engine_open");
        r->e = NULL;
        return rv;
    }
    const char *step = "engine_volume_create";
    h = hits(r);
    rv = engine_volume_create(r->e, "m", DURABILITY_LOCAL, 0);
    uint8_t id[16];
    if (rv == 0) {
        step = "engine_chunk_create";
        h = hits(r);
        rv = engine_chunk_create(r->e, 16u << 20, id);
    }
    if (rv == 0) {
        step = "engine_chunk_assign";
        h = hits(r);
        rv = engine_chunk_assign(r->e, id, "m");
    }
    if (rv != 0 || absorbed(r, h)) {
        if (!absorbed(r, h))
            fail_msg("%s failed without a fault: %s", step, cairn_strerror(rv));
        check_clean_error(r, rv, step);
        return rv;
    }
    assert_int_equal(engine_volume(r->e, "m", &r->v), 0);
    return 0;
}

/* Picks a random (dir, name) slot of the model: files ones (WANT_FILE) or free ones. */
static int pick_slot(struct wrun *r, uint64_t *rng, int want_file, int *d, int *n)
{
    int cand[NDIRS * NNAMES][2], k = 0;
    for (int i = 0; i < NDIRS; i++)
        for (int j = 0; j < NNAMES; j++)
            if (r->m.dir_ok[i] && (r->m.slot[i][j] >= 0) == want_file)
                cand[k][0] = i, cand[k][1] = j, k++;
    if (k == 0)
        return 0;
    int c = (int)(tu_rand(rng) % (uint64_t)k);
    *d = cand[c][0];
    *n = cand[c][1];
    return 1;
}

/* Runs the workload; every result is checked against the model. */
static void workload(struct wrun *r)
{
    uint64_t rng = g_seed;
    char n1[8], n2[8];
    for (int i = 0; i < WL_OPS; i++) {
        struct wop o;
        memset(&o, 0, sizeof o);
        uint64_t x = tu_rand(&rng) % 100;
        if (i < 2) {
            o.k = W_MKDIR;
            o.d1 = 1 + i;
        } else if (i % 10 == 9) {
            o.k = W_FSYNC;
        } else if (x < 25) {
            o.k = W_CREATE;
        } else if (x < 65) {
            o.k = W_WRITE;
        } else if (x < 75) {
            o.k = W_TRUNC;
        } else if (x < 90) {
            o.k = W_RENAME;
        } else {
            o.k = W_UNLINK;
        }
        if (o.k == W_MKDIR && r->m.dir_ok[o.d1])
            o.k = W_CREATE;
        if ((o.k == W_WRITE || o.k == W_TRUNC || o.k == W_RENAME || o.k == W_UNLINK) &&
            !pick_slot(r, &rng, 1, &o.d1, &o.n1))
            o.k = W_CREATE;
        if (o.k == W_CREATE && !pick_slot(r, &rng, 0, &o.d1, &o.n1))
            o.k = W_FSYNC;
        if (o.k == W_RENAME) { /* any other slot: a free one, or a file to replace */
            int tries = 0;
            do {
                o.d2 = (int)(tu_rand(&rng) % NDIRS);
                o.n2 = (int)(tu_rand(&rng) % NNAMES);
            } while ((!r->m.dir_ok[o.d2] || (o.d2 == o.d1 && o.n2 == o.n1)) && ++tries < 100);
            if (tries == 100)
                o.k = W_FSYNC;
        }
        struct wfile *f = o.k == W_WRITE || o.k == W_TRUNC ? &r->m.f[r->m.slot[o.d1][o.n1]] : NULL;
        if (o.k == W_WRITE) {
            o.off = tu_rand(&rng) % (f->size + 1);
            uint64_t most = tu_rand(&rng) % 10 == 0 ? 100000 : 20000;
            o.len = 1 + tu_rand(&rng) % most;
            if (o.off + o.len > FILE_MAX)
                o.len = FILE_MAX - o.off;
            if (o.len == 0)
                o.off = 0, o.len = 1;
            o.dseed = tu_rand(&rng);
        } else if (o.k == W_TRUNC) {
            o.len = tu_rand(&rng) % (f->size + 10000);
            if (o.len > FILE_MAX)
                o.len = FILE_MAX;
        }
        slot_name(o.d1, o.n1, n1);
        slot_name(o.d2, o.n2, n2);

        unsigned long h = hits(r);
        int rv = 0;
        switch (o.k) {
        case W_MKDIR:
            rv = fs_mknod(r->v, ROOT_INO, o.d1 == 1 ? "d0" : "d1", S_IFDIR | 0755, 0, 0, 0, NULL,
                          &o.ino, NULL);
            break;
        case W_CREATE:
            rv =
                fs_mknod(r->v, r->m.dir_ino[o.d1], n1, S_IFREG | 0644, 0, 0, 0, NULL, &o.ino, NULL);
            break;
        case W_WRITE:
            gen_data(o.dseed, r->buf, (size_t)o.len);
            rv = fs_write(r->v, f->ino, o.off, r->buf, (size_t)o.len, NULL);
            break;
        case W_TRUNC: {
            struct setattr sa = {.mask = SET_SIZE, .size = o.len};
            rv = fs_setattr(r->v, f->ino, &sa, NULL);
            break;
        }
        case W_RENAME:
            rv = fs_rename(r->v, r->m.dir_ino[o.d1], n1, r->m.dir_ino[o.d2], n2, 0);
            break;
        case W_UNLINK:
            rv = fs_unlink(r->v, r->m.dir_ino[o.d1], n1);
            break;
        case W_FSYNC:
            rv = fs_fsync(r->v);
            break;
        }
        int hit = absorbed(r, h);
        if (hit) {
            r->fault_op = i;
            check_clean_error(r, rv, wk_name[o.k]);
            if (r->point && strcmp(r->point, "fdatasync") == 0) {
                if (rv != CAIRN_EFAILED)
                    fail_msg("op %d %s hit the failed fdatasync and returned %s, want "
                             "CAIRN_EFAILED",
                             i, wk_name[o.k], cairn_strerror(rv));
                r->failed = 1;
            }
        } else if (r->failed) {
            if (rv != CAIRN_EFAILED)
                fail_msg("op %d %s after a failed fdatasync returned %s, want CAIRN_EFAILED", i,
                         wk_name[o.k], cairn_strerror(rv));
            r->mutations_refused += o.k != W_FSYNC;
            struct attr a; /* reads keep working */
            assert_int_equal(fs_getattr(r->v, &ASOF_NOW, ROOT_INO, &a), 0);
        } else if (rv != 0) {
            fail_msg("op %d %s %s -> %s returned %s without a fault (%s #%lu armed)", i,
                     wk_name[o.k], n1, n2, cairn_strerror(rv), r->point ? r->point : "none",
                     r->nth);
        }
        if (rv != 0)
            continue;
        if (o.k == W_FSYNC) {
            r->acked = r->nlog;
            continue;
        }
        r->log[r->nlog++] = o;
        wm_apply(&r->m, &o);
    }
}

/* ---- comparing the reopened engine with a model ---- */

struct lent {
    char name[16];
    uint64_t ino;
    uint32_t type;
};

struct lst {
    struct lent e[NDIRS * NNAMES + 4];
    int n;
};

static int lst_cb(void *ctx, const char *name, size_t nlen, uint64_t ino, uint32_t type,
                  const struct attr *a)
{
    (void)a;
    struct lst *l = ctx;
    if (l->n >= (int)(sizeof l->e / sizeof l->e[0]) || nlen >= sizeof l->e[0].name)
        return -E2BIG;
    memcpy(l->e[l->n].name, name, nlen);
    l->e[l->n].name[nlen] = '\0';
    l->e[l->n].ino = ino;
    l->e[l->n].type = type;
    l->n++;
    return 0;
}

static int cmp_lent(const void *a, const void *b)
{
    return strcmp(((const struct lent *)a)->name, ((const struct lent *)b)->name);
}

static int attr_eq(const struct attr *a, const struct attr *b)
{
    return a->mode == b->mode && a->uid == b->uid && a->gid == b->gid && a->nlink == b->nlink &&
           a->size == b->size && a->rdev == b->rdev && a->parent == b->parent &&
           a->atime == b->atime && a->mtime == b->mtime && a->ctime == b->ctime &&
           a->btime == b->btime && a->flags == b->flags;
}

/* 1 when the engine's tree equals M; otherwise 0 and WHY. Damage (a read
 * that fails) is never acceptable and fails the test at once. */
static int tree_matches(struct wrun *r, const struct wmodel *m, char *why, size_t cap)
{
    for (int d = 0; d < NDIRS; d++) {
        if (d > 0) {
            uint64_t ino;
            struct attr a;
            int rv = fs_lookup(r->v, &ASOF_NOW, ROOT_INO, d == 1 ? "d0" : "d1", &ino, &a);
            if (!m->dir_ok[d]) {
                if (rv != -ENOENT) {
                    snprintf(why, cap, "d%d exists (%s), model has none", d - 1,
                             cairn_strerror(rv));
                    return 0;
                }
                continue;
            }
            if (rv != 0 || ino != m->dir_ino[d]) {
                snprintf(why, cap, "d%d: %s ino %llx, model %llx", d - 1, cairn_strerror(rv),
                         (unsigned long long)ino, (unsigned long long)m->dir_ino[d]);
                return 0;
            }
        }
        struct lst want = {0}, got = {0};
        if (d == 0)
            for (int k = 1; k < NDIRS; k++)
                if (m->dir_ok[k]) {
                    snprintf(want.e[want.n].name, 16, "d%d", k - 1);
                    want.e[want.n].ino = m->dir_ino[k];
                    want.e[want.n++].type = S_IFDIR;
                }
        for (int n = 0; n < NNAMES; n++)
            if (m->slot[d][n] >= 0) {
                slot_name(d, n, want.e[want.n].name);
                want.e[want.n].ino = m->f[m->slot[d][n]].ino;
                want.e[want.n++].type = S_IFREG;
            }
        qsort(want.e, (size_t)want.n, sizeof want.e[0], cmp_lent);
        int rv = fs_readdir(r->v, &ASOF_NOW, m->dir_ino[d], NULL, 0, 0, lst_cb, &got);
        if (rv != 0)
            fail_msg("fs_readdir of directory %d: %s", d, cairn_strerror(rv));
        if (got.n != want.n) {
            snprintf(why, cap, "directory %d: %d entries, model %d", d, got.n, want.n);
            return 0;
        }
        for (int k = 0; k < got.n; k++) {
            if (strcmp(got.e[k].name, want.e[k].name) != 0 || got.e[k].ino != want.e[k].ino ||
                got.e[k].type != want.e[k].type) {
                snprintf(why, cap, "directory %d entry %d: '%s' %llx, model '%s' %llx", d, k,
                         got.e[k].name, (unsigned long long)got.e[k].ino, want.e[k].name,
                         (unsigned long long)want.e[k].ino);
                return 0;
            }
            /* readdir, lookup and getattr agree */
            uint64_t ino;
            struct attr a, b;
            if ((rv = fs_lookup(r->v, &ASOF_NOW, m->dir_ino[d], got.e[k].name, &ino, &a)) != 0 ||
                ino != got.e[k].ino)
                fail_msg("readdir lists '%s' (%llx) but lookup gives %s %llx", got.e[k].name,
                         (unsigned long long)got.e[k].ino, cairn_strerror(rv),
                         (unsigned long long)ino);
            if ((rv = fs_getattr(r->v, &ASOF_NOW, ino, &b)) != 0 || !attr_eq(&a, &b))
                fail_msg("lookup and getattr of %llx disagree (%s)", (unsigned long long)ino,
                         cairn_strerror(rv));
            if ((a.mode & S_IFMT) != got.e[k].type)
                fail_msg("'%s': readdir type 0%o, getattr mode 0%o", got.e[k].name, got.e[k].type,
                         a.mode);
            if (!S_ISREG(a.mode))
                continue;
            /* the entry matched the model's by name: "f<slot>" */
            const struct wfile *f = &m->f[m->slot[d][atoi(got.e[k].name + 1)]];
            if (a.size != f->size) {
                snprintf(why, cap, "'%s' in directory %d: size %llu, model %llu", got.e[k].name, d,
                         (unsigned long long)a.size, (unsigned long long)f->size);
                return 0;
            }
            size_t n = 0;
            rv = fs_read(r->v, &ASOF_NOW, ino, 0, FILE_MAX, r->buf, &n);
            if (rv != 0)
                fail_msg("reading '%s' (%llx): %s", got.e[k].name, (unsigned long long)ino,
                         cairn_strerror(rv));
            if (n != f->size || memcmp(r->buf, f->data, n) != 0) {
                snprintf(why, cap, "'%s' in directory %d: contents differ", got.e[k].name, d);
                return 0;
            }
        }
    }
    return 1;
}

static void reopen(struct wrun *r)
{
    engine_close(r->e);
    r->e = NULL;
    r->v = NULL;
    struct engine_opts o = {.data_dir = r->dir};
    int rv = engine_open(&r->e, &o);
    if (rv != 0)
        fail_msg("reopen after %s fault #%lu: %s", r->point ? r->point : "no", r->nth,
                 cairn_strerror(rv));
}

/* After a fault in setup: reopen, finish the setup without faults, and the
 * volume must take writes that survive a restart. */
static void recover_setup(struct wrun *r)
{
    reopen(r);
    if (engine_volume(r->e, "m", &r->v) != 0)
        assert_int_equal(engine_volume_create(r->e, "m", DURABILITY_LOCAL, 0), 0);
    assert_int_equal(engine_volume(r->e, "m", &r->v), 0);
    struct volume_info vi;
    assert_int_equal(engine_volume_info(r->e, r->v, &vi), 0);
    if (vi.chunks == 0) {
        uint8_t id[16];
        assert_int_equal(engine_chunk_create(r->e, 16u << 20, id), 0);
        assert_int_equal(engine_chunk_assign(r->e, id, "m"), 0);
    }
    struct lst l = {0};
    assert_int_equal(fs_readdir(r->v, &ASOF_NOW, ROOT_INO, NULL, 0, 0, lst_cb, &l), 0);
    assert_int_equal(l.n, 0);
}

/* A new file written after recovery survives another restart. */
static void check_writable(struct wrun *r)
{
    uint64_t ino;
    int rv = fs_mknod(r->v, ROOT_INO, "after", S_IFREG | 0600, 0, 0, 0, NULL, &ino, NULL);
    if (rv != 0)
        fail_msg("creating a file after recovery from %s fault #%lu: %s", r->point, r->nth,
                 cairn_strerror(rv));
    assert_int_equal(fs_write(r->v, ino, 0, "hello", 5, NULL), 0);
    assert_int_equal(fs_fsync(r->v), 0);
    reopen(r);
    assert_int_equal(engine_volume(r->e, "m", &r->v), 0);
    uint64_t got_ino;
    struct attr a;
    assert_int_equal(fs_lookup(r->v, &ASOF_NOW, ROOT_INO, "after", &got_ino, &a), 0);
    assert_int_equal(got_ino, ino);
    char buf[8];
    size_t n;
    assert_int_equal(fs_read(r->v, &ASOF_NOW, ino, 0, sizeof buf, buf, &n), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(buf, "hello", 5);
}

struct outcome {
    unsigned long hits; /* of the armed point (clean run: the count) */
    int fault_op, setup_failed, matched, of, acked;
};

/* One run with POINT's NTH hit failing (POINT NULL: clean, counting COUNT_POINT). */
static struct outcome run_once(const char *point, unsigned long nth, const char *count_point)
{
    struct wrun *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->buf = malloc(FILE_MAX);
    assert_non_null(r->buf);
    r->dir = tu_tmpdir("iofault");
    r->point = point ? point : count_point;
    r->nth = point ? nth : ULONG_MAX;
    r->fault_op = -1;
    wm_init(&r->m);
    struct outcome out = {0};
    fault_reset();
    fault_arm(r->point, r->nth, -EIO, 0); /* ULONG_MAX: only counts */

    if (setup(r) != 0) {
        r->setup_failed = 1;
        out.hits = fault_hits(r->point);
        fault_reset();
        recover_setup(r);
    } else {
        workload(r);
        out.hits = fault_hits(r->point);
        fault_reset();
        reopen(r);
        assert_int_equal(engine_volume(r->e, "m", &r->v), 0);
        /* the newest state that matches; at least every acknowledged op */
        char why[512] = "", first_why[512] = "";
        int k;
        for (k = r->nlog; k >= r->acked; k--) {
            struct wmodel m;
            wm_replay(&m, r->log, k);
            int ok = tree_matches(r, &m, why, sizeof why);
            wm_fini(&m);
            if (ok)
                break;
            if (!first_why[0])
                snprintf(first_why, sizeof first_why, "%s", why);
        }
        if (k < r->acked)
            fail_msg("after %s fault #%lu (op %d): the tree matches no state between the last "
                     "acknowledged one (%d ops) and the last (%d ops); against the last: %s",
                     point ? point : "no", nth, r->fault_op, r->acked, r->nlog, first_why);
        /* close flushes: without a failed flush, nothing successful is lost */
        if (!r->failed && k != r->nlog)
            fail_msg("after %s fault #%lu (op %d): only %d of %d successful ops survived a "
                     "clean close: %s",
                     point ? point : "no", nth, r->fault_op, k, r->nlog, first_why);
        out.matched = k;
        out.of = r->nlog;
        out.acked = r->acked;
        struct engine_stats s;
        engine_stats(r->e, &s);
        assert_int_equal(s.checksum_errors, 0);
    }
    check_writable(r);
    out.fault_op = r->fault_op;
    out.setup_failed = r->setup_failed;
    engine_close(r->e);
    tu_rmrf(r->dir);
    free(r->dir);
    wm_fini(&r->m);
    free(r->buf);
    free(r);
    return out;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void quiet(void)
{
    /* every injected fault is logged as an error; those are expected here */
    log_set_level(getenv("CAIRN_TEST_VERBOSE") ? LOG_DEBUG : (enum log_level)(LOG_ERR - 1));
}

static void sweep(const char *point, int exhaustive)
{
    quiet();
    g_seed = tu_seed(point);
    double t0 = now_s();
    struct outcome clean = run_once(NULL, 0, point);
    assert_int_equal(clean.matched, clean.of);
    unsigned long total = clean.hits;
    printf("# %s: a clean run makes %lu calls (%d ops logged, %d acknowledged)\n", point, total,
           clean.of, clean.acked);
    assert_true(total > 0);
    unsigned long step = 1;
    if (!exhaustive && total > EXHAUSTIVE_N)
        step = (total - EXHAUSTIVE_N + MAX_RUNS - EXHAUSTIVE_N - 1) / (MAX_RUNS - EXHAUSTIVE_N);
    if (step == 0)
        step = 1;
    unsigned runs = 0, in_setup = 0, in_ops = 0, in_close = 0, partial = 0;
    for (unsigned long n = 1; n <= total; n += n < EXHAUSTIVE_N ? 1 : step) {
        struct outcome o = run_once(point, n, NULL);
        if (o.hits < n)
            fail_msg("%s #%lu was never reached (%lu hits): the workload is not deterministic",
                     point, n, o.hits);
        runs++;
        in_setup += o.setup_failed;
        in_ops += !o.setup_failed && o.fault_op >= 0;
        in_close += !o.setup_failed && o.fault_op < 0;
        partial += !o.setup_failed && o.matched < o.of;
    }
    fflush(stderr);
    printf("# %s: %u runs (N = 1..%lu, step %lu after %d) in %.1fs: fault hit setup %u, "
           "an op %u, close %u; %u runs recovered fewer than all successful ops\n",
           point, runs, total, step, EXHAUSTIVE_N, now_s() - t0, in_setup, in_ops, in_close,
           partial);
    fflush(stdout);
}

static void pwrite_faults_lose_nothing_acknowledged(void **state)
{
    (void)state;
    sweep("pwrite", 0);
}

/* The same with short writes: the Nth pwrite writes half its bytes, then
 * fails (ENOSPC or EIO after a partial write). Whole records of a failed
 * append must not come back at reopen (chunk.c cuts them). */
static void torn_pwrite_faults_lose_nothing_acknowledged(void **state)
{
    (void)state;
    sweep("pwrite_torn", 0);
}

static void fdatasync_fault_fails_the_volume_until_reopen(void **state)
{
    (void)state;
    sweep("fdatasync", 1);
}

/* An engine on DIR with one volume "m" on a 16 MiB chunk that holds one
 * empty file NAME (*INO); returns the volume. */
static struct volume *one_file(const char *dir, const char *name, struct engine **e, uint64_t *ino)
{
    struct engine_opts o = {.data_dir = dir};
    struct volume *v;
    uint8_t id[16];
    assert_int_equal(engine_open(e, &o), 0);
    assert_int_equal(engine_volume_create(*e, "m", DURABILITY_LOCAL, 0), 0);
    assert_int_equal(engine_chunk_create(*e, 16u << 20, id), 0);
    assert_int_equal(engine_chunk_assign(*e, id, "m"), 0);
    assert_int_equal(engine_volume(*e, "m", &v), 0);
    assert_int_equal(fs_mknod(v, ROOT_INO, name, S_IFREG | 0644, 0, 0, 0, NULL, ino, NULL), 0);
    return v;
}

/* fsops.h: each 1 MiB group of a write is atomic; when a later group fails,
 * the groups before it stay written (a short write) and the error is
 * returned. Never a partial group, never a size beyond what was written. */
static void failed_large_write_keeps_whole_groups_only(void **state)
{
    (void)state;
    quiet();
    char *dir = tu_tmpdir("iofault-big");
    struct engine *e;
    uint64_t ino;
    struct volume *v = one_file(dir, "big", &e, &ino);
    size_t len = 3u << 20;
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    gen_data(42, buf, len);
    fault_reset();
    fault_arm("pwrite", 2, -EIO, 0); /* the write's second group */
    int rv = fs_write(v, ino, 0, buf, len, NULL);
    unsigned long h = fault_hits("pwrite");
    fault_reset();
    assert_true(h >= 2);
    assert_int_equal(rv, -EIO);
    struct attr a;
    assert_int_equal(fs_getattr(v, &ASOF_NOW, ino, &a), 0);
    printf("# a %zu-byte write failed in its second group (%s); the file now has %llu bytes\n", len,
           cairn_strerror(rv), (unsigned long long)a.size);
    assert_int_equal(a.size, 1u << 20); /* exactly the first group */
    uint8_t *back = malloc(1u << 20);
    size_t got = 0;
    assert_non_null(back);
    assert_int_equal(fs_read(v, &ASOF_NOW, ino, 0, 1u << 20, back, &got), 0);
    assert_int_equal(got, 1u << 20);
    assert_memory_equal(back, buf, 1u << 20);
    free(back);
    engine_close(e);
    tu_rmrf(dir);
    free(dir);
    free(buf);
}

/* A close whose final flush fails says so (cairnd then exits 1 and logs it);
 * a clean close returns 0; nothing acknowledged is lost either way. */
static void engine_close_reports_a_failed_final_flush(void **state)
{
    (void)state;
    quiet();
    for (int failing = 0; failing < 2; failing++) {
        char *dir = tu_tmpdir("iofault-close");
        struct engine *e;
        uint64_t ino;
        struct volume *v = one_file(dir, "f", &e, &ino);
        assert_int_equal(fs_write(v, ino, 0, "not synced", 10, NULL), 0); /* no fsync */
        fault_reset();
        if (failing)
            fault_arm("fdatasync", 1, -EIO, 1);
        int rv = engine_close(e);
        fault_reset();
        printf("# close with %s: %s\n", failing ? "fdatasync failing" : "no fault",
               cairn_strerror(rv));
        if (failing)
            assert_true(rv != 0);
        else
            assert_int_equal(rv, 0);
        tu_rmrf(dir);
        free(dir);
    }
}

/* After a failed flush of a volume, or of the catalog (a chunk assignment),
 * a reindex is refused before it touches anything (its syncs would succeed
 * on the failed bytes and take them for durable) and the close fails too
 * (cairnd then exits 1, not "stopped cleanly"); the next open recovers and
 * writes work again. */
static void failed_flush_refuses_reindex_and_fails_the_close(void **state)
{
    (void)state;
    quiet();
    for (int catalog = 0; catalog < 2; catalog++) {
        char *dir = tu_tmpdir("iofault-failed");
        struct engine *e;
        uint64_t ino;
        struct volume *v = one_file(dir, "f", &e, &ino);
        assert_int_equal(fs_fsync(v), 0);
        uint8_t id[16];
        if (catalog)
            assert_int_equal(engine_chunk_create(e, 16u << 20, id), 0);
        fault_reset();
        fault_arm("fdatasync", 1, -EIO, 0); /* once: a retry would succeed */
        if (catalog) {
            assert_int_equal(engine_chunk_assign(e, id, "m"), CAIRN_EFAILED);
        } else {
            assert_int_equal(fs_write(v, ino, 0, "lost?", 5, NULL), 0);
            assert_int_equal(fs_fsync(v), CAIRN_EFAILED);
        }
        fault_reset();
        assert_int_equal(engine_reindex(e), CAIRN_EFAILED);
        assert_int_equal(engine_index_lost(e), 0); /* refused, not half done */
        assert_int_equal(engine_close(e), CAIRN_EFAILED);
        struct engine_opts o = {.data_dir = dir};
        assert_int_equal(engine_open(&e, &o), 0);
        assert_int_equal(engine_volume(e, "m", &v), 0);
        assert_int_equal(fs_write(v, ino, 0, "again", 5, NULL), 0);
        assert_int_equal(fs_fsync(v), 0);
        assert_int_equal(engine_close(e), 0);
        tu_rmrf(dir);
        free(dir);
    }
}

/* A reindex that fails part way (a chunk read fails) leaves an incomplete
 * index: every file operation then fails with CAIRN_EINDEX instead of
 * answering from a part of the index (a file not found, a write applied to
 * half an index), until a reindex succeeds; the next open rebuilds. */
static int no_version(void *ctx, const struct version *ver)
{
    (void)ctx, (void)ver;
    return 0;
}

static int no_snapshot(void *ctx, const char *name, uint64_t hlc, const struct vv *vv)
{
    (void)ctx, (void)name, (void)hlc, (void)vv;
    return 0;
}

static void reindex_failing_at(unsigned long nth)
{
    char *dir = tu_tmpdir("iofault-reindex");
    struct engine *e;
    uint64_t ino, other;
    struct volume *v = one_file(dir, "f", &e, &ino);
    static char data[3u << 20]; /* more than one read of the rebuild's scan */
    memset(data, 'r', sizeof data);
    assert_int_equal(fs_write(v, ino, 0, data, sizeof data, NULL), 0);
    assert_int_equal(fs_mknod(v, ROOT_INO, "g", S_IFREG | 0644, 0, 0, 0, NULL, &other, NULL), 0);
    assert_int_equal(fs_fsync(v), 0);

    fault_reset();
    fault_arm("pread", nth, -EIO, 1);
    int rv = engine_reindex(e);
    fault_reset();
    printf("# reindex with chunk reads failing from read %lu on: %s\n", nth, cairn_strerror(rv));
    assert_true(rv != 0);
    assert_int_equal(engine_index_lost(e), 1);
    struct attr a;
    uint64_t got;
    size_t n;
    char buf[16];
    assert_int_equal(fs_getattr(v, &ASOF_NOW, ino, &a), CAIRN_EINDEX);
    assert_int_equal(fs_lookup(v, &ASOF_NOW, ROOT_INO, "g", &got, &a), CAIRN_EINDEX);
    assert_int_equal(fs_read(v, &ASOF_NOW, ino, 0, sizeof buf, buf, &n), CAIRN_EINDEX);
    assert_int_equal(fs_write(v, ino, 0, "x", 1, NULL), CAIRN_EINDEX);
    assert_int_equal(fs_mknod(v, ROOT_INO, "h", S_IFREG | 0644, 0, 0, 0, NULL, &got, NULL),
                     CAIRN_EINDEX);
    assert_int_equal(engine_volume_create(e, "later", DURABILITY_LOCAL, 0), CAIRN_EINDEX);
    struct lst l = {0};
    assert_int_equal(fs_readdir(v, &ASOF_NOW, ROOT_INO, NULL, 0, 1, lst_cb, &l), CAIRN_EINDEX);
    assert_int_equal(l.n, 0);
    assert_int_equal(fs_resolve(v, &ASOF_NOW, "/g", &got, &a), CAIRN_EINDEX);
    assert_int_equal(fs_history(v, ino, NULL, no_version, NULL), CAIRN_EINDEX);
    assert_int_equal(fs_snapshot_create(v, "s"), CAIRN_EINDEX);
    assert_int_equal(fs_snapshot_list(v, NULL, no_snapshot, NULL), CAIRN_EINDEX);
    assert_int_equal(fs_getxattr(v, &ASOF_NOW, ino, "user.x", buf, sizeof buf, &n), CAIRN_EINDEX);
    assert_int_equal(fs_setxattr(v, ino, "user.x", "1", 1, 0), CAIRN_EINDEX);
    assert_int_equal(fs_fsync(v), CAIRN_EINDEX);
    struct fs_statfs sf;
    assert_int_equal(fs_statfs(v, &sf), CAIRN_EINDEX);
    uint8_t id[16];
    assert_int_equal(engine_chunk_create(e, 16u << 20, id), 0); /* a file, not the index */
    assert_int_equal(engine_chunk_assign(e, id, "m"), CAIRN_EINDEX);

    assert_int_equal(engine_reindex(e), 0); /* reads work again */
    assert_int_equal(engine_index_lost(e), 0);
    assert_int_equal(fs_getattr(v, &ASOF_NOW, ino, &a), 0);
    assert_int_equal(a.size, sizeof data);
    assert_int_equal(fs_lookup(v, &ASOF_NOW, ROOT_INO, "g", &got, &a), 0);
    assert_int_equal(got, other);
    assert_int_equal(fs_read(v, &ASOF_NOW, ino, sizeof data - sizeof buf, sizeof buf, buf, &n), 0);
    assert_int_equal(n, sizeof buf);
    assert_memory_equal(buf, data, sizeof buf);

    fault_arm("pread", nth, -EIO, 1); /* fails again; then the node restarts */
    assert_true(engine_reindex(e) != 0);
    fault_reset();
    assert_int_equal(engine_close(e), 0);
    struct engine_opts o = {.data_dir = dir};
    assert_int_equal(engine_open(&e, &o), 0); /* no marker: rebuilt */
    assert_int_equal(engine_volume(e, "m", &v), 0);
    assert_int_equal(fs_getattr(v, &ASOF_NOW, ino, &a), 0);
    assert_int_equal(a.size, sizeof data);
    assert_int_equal(fs_lookup(v, &ASOF_NOW, ROOT_INO, "g", &got, &a), 0);
    engine_close(e);
    tu_rmrf(dir);
    free(dir);
}

static void failed_reindex_refuses_calls_until_a_reindex_succeeds(void **state)
{
    (void)state;
    quiet();
    reindex_failing_at(1); /* in the catalog, before the volumes are reloaded */
    reindex_failing_at(2); /* in the volume's chunk */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pwrite_faults_lose_nothing_acknowledged),
        cmocka_unit_test(engine_close_reports_a_failed_final_flush),
        cmocka_unit_test(failed_flush_refuses_reindex_and_fails_the_close),
        cmocka_unit_test(torn_pwrite_faults_lose_nothing_acknowledged),
        cmocka_unit_test(fdatasync_fault_fails_the_volume_until_reopen),
        cmocka_unit_test(failed_large_write_keeps_whole_groups_only),
        cmocka_unit_test(failed_reindex_refuses_calls_until_a_reindex_succeeds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#else /* !CAIRN_FAULT */

static void iofault_needs_cairn_fault(void **state)
{
    (void)state;
    printf("# test_iofault: built without CAIRN_FAULT; skipped\n");
    skip();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(iofault_needs_cairn_fault),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#endif
