/*
 * tour.c — a tour of every libcairn call (client/include/cairn.h) against a
 * real cairnd, checking results and the errno values of the failures.
 *
 *   tour ADDR VOLUME      e.g. tour unix:/tmp/n1/cairnd.sock v1
 *
 * The volume needs about 40 MiB of free chunk space and at least two chunks;
 * the node needs one free 64 MiB of disk for the chunk the tour creates for
 * its second volume. Everything the tour makes lives under /tour.PID, so a
 * volume can be toured more than once. Prints one "ok - ..." line per check
 * group; on the first failed check prints "FAIL: tour.c:LINE [group]: ..."
 * with the server's message and exits 1. A few checks that the product is
 * known to fail (DEFECT_RV, defect_at) print "not ok - ..." instead and let
 * the tour go on; it then ends with "not ok - tour complete, ..." and exit 1.
 *
 * Single-threaded; bounded: every loop runs over a fixed count.
 */
#include "cairn.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024u * 1024u)
#define GIB (1024ull * MIB)
#define MANY 2600 /* > 2 pages of the server's default 1000 entries */

static cairn_t *C;
static const char *V;
static const char *group = "start";
static int defects;       /* failed checks of known product defects (defect_at) */
static int group_defects; /* defects when the group began */
static char top[32];      /* "/tour.PID" */
static uint64_t TOP;      /* its inode */
static uint32_t NODE;     /* this node's id */

static void fail_at(int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "FAIL: tour.c:%d [%s]: ", line, group);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    const char *srv = cairn_last_error();
    fprintf(stderr, "%s%s%s\n", srv[0] ? " (server: " : "", srv, srv[0] ? ")" : "");
    exit(1);
}

#define FAIL(...) fail_at(__LINE__, __VA_ARGS__)

/* A check the product is known to fail: reported as "not ok - ...", the tour
 * goes on, and exits 1 at the end. */

static void defect_at(int line, const char *fmt, ...)
{
    va_list ap;
    printf("not ok - tour.c:%d [%s]: ", line, group);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    defects++;
}

#define DEFECT_RV(call, want)                                                                      \
    do {                                                                                           \
        int rv_ = (call), want_ = (want);                                                          \
        if (rv_ != want_)                                                                          \
            defect_at(__LINE__, "%s = %d (%s), want %d (%s)", #call, rv_, cairn_strerror(rv_),     \
                      want_, cairn_strerror(want_));                                               \
    } while (0)
#define EXPECT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond))                                                                               \
            FAIL("%s", #cond);                                                                     \
    } while (0)
#define EXPECT_RV(call, want)                                                                      \
    do {                                                                                           \
        int rv_ = (call), want_ = (want);                                                          \
        if (rv_ != want_)                                                                          \
            FAIL("%s = %d (%s), want %d (%s)", #call, rv_, cairn_strerror(rv_), want_,             \
                 cairn_strerror(want_));                                                           \
    } while (0)
#define OK(call) EXPECT_RV(call, 0)
#define EXPECT_U64(got, want)                                                                      \
    do {                                                                                           \
        uint64_t g_ = (uint64_t)(got), w_ = (uint64_t)(want);                                      \
        if (g_ != w_)                                                                              \
            FAIL("%s = %" PRIu64 " (0%" PRIo64 "), want %" PRIu64 " (0%" PRIo64 ")", #got, g_, g_, \
                 w_, w_);                                                                          \
    } while (0)

static void begin(const char *g)
{
    group = g;
    group_defects = defects;
}

static void pass(void)
{
    if (defects > group_defects)
        printf("not ok - %s (%d failed checks above)\n", group, defects - group_defects);
    else
        printf("ok - %s\n", group);
    fflush(stdout);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Same clock as cairnd (one machine); 1 s of slack for clock steps only. */
static void expect_time_in(int line, const char *what, int64_t t, int64_t lo, int64_t hi)
{
    if (t < lo - 1000000000 || t > hi + 1000000000)
        fail_at(line, "%s = %" PRId64 " not within [%" PRId64 ", %" PRId64 "]", what, t, lo, hi);
}
#define EXPECT_TIME_IN(t, lo, hi) expect_time_in(__LINE__, #t, (t), (lo), (hi))

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        FAIL("out of memory (%zu bytes)", n);
    return p;
}

/* A byte of a file's expected contents at OFF (SEED tells files apart). */
static uint8_t pat(uint64_t off, uint32_t seed)
{
    uint64_t x = (off ^ ((uint64_t)seed << 40)) * 0x9E3779B97F4A7C15ull;
    return (uint8_t)(x >> 56);
}

static void fill(uint8_t *buf, uint64_t off, size_t len, uint32_t seed)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = pat(off + i, seed);
}

/* Index of the first byte of BUF that is not PAT(OFF+i, SEED) (or not zero
 * when ZERO), or LEN. */
static size_t first_bad(const uint8_t *buf, uint64_t off, size_t len, uint32_t seed, int zero)
{
    for (size_t i = 0; i < len; i++)
        if (buf[i] != (zero ? 0 : pat(off + i, seed)))
            return i;
    return len;
}

#define EXPECT_PAT(buf, off, len, seed)                                                            \
    do {                                                                                           \
        size_t b_ = first_bad((buf), (off), (len), (seed), 0);                                     \
        if (b_ != (size_t)(len))                                                                   \
            FAIL("byte at offset %" PRIu64 " is 0x%02x, want 0x%02x", (uint64_t)(off) + b_,        \
                 (buf)[b_], pat((uint64_t)(off) + b_, (seed)));                                    \
    } while (0)
#define EXPECT_ZEROS(buf, off, len)                                                                \
    do {                                                                                           \
        size_t b_ = first_bad((buf), (off), (len), 0, 1);                                          \
        if (b_ != (size_t)(len))                                                                   \
            FAIL("byte at offset %" PRIu64 " is 0x%02x, want 0 (a hole)", (uint64_t)(off) + b_,    \
                 (buf)[b_]);                                                                       \
    } while (0)

static uint64_t mk(uint64_t parent, const char *name, uint32_t mode, cairn_attr_t *out)
{
    cairn_attr_t a;
    int rv = cairn_mknod(C, V, parent, name, mode, 0, 1000, 1000, &a);
    if (rv != 0)
        FAIL("mknod %s 0%o: %s", name, mode, cairn_strerror(rv));
    if (out)
        *out = a;
    return a.ino;
}

static uint64_t file_with(uint64_t parent, const char *name, const void *data, size_t len)
{
    uint64_t ino = mk(parent, name, S_IFREG | 0644, NULL);
    if (len)
        OK(cairn_write(C, V, ino, 0, data, len, NULL));
    return ino;
}

static cairn_attr_t getattr(uint64_t ino)
{
    cairn_attr_t a;
    int rv = cairn_getattr(C, V, ino, NULL, &a);
    if (rv != 0)
        FAIL("getattr %" PRIu64 ": %s", ino, cairn_strerror(rv));
    return a;
}

/* Reads all of [OFF, OFF+LEN) of INO as of AT into a new buffer; *GOT. */
static uint8_t *read_at(uint64_t ino, uint64_t off, size_t len, const cairn_at_t *at, size_t *got)
{
    uint8_t *buf = xmalloc(len);
    memset(buf, 0xA5, len);
    int rv = cairn_read(C, V, ino, off, len, buf, at, got);
    if (rv != 0)
        FAIL("read ino %" PRIu64 " [%" PRIu64 ", +%zu): %s", ino, off, len, cairn_strerror(rv));
    return buf;
}

static void expect_contents(int line, uint64_t ino, const cairn_at_t *at, const char *want)
{
    size_t got, n = strlen(want);
    uint8_t *buf = read_at(ino, 0, n + 100, at, &got);
    if (got != n || memcmp(buf, want, n) != 0)
        fail_at(line, "ino %" PRIu64 " holds '%.*s' (%zu bytes), want '%s'", ino, (int)got,
                (const char *)buf, got, want);
    free(buf);
}
#define EXPECT_CONTENTS(ino, at, want) expect_contents(__LINE__, (ino), (at), (want))

static uint64_t lookup_ino(uint64_t parent, const char *name, const cairn_at_t *at)
{
    cairn_attr_t a;
    int rv = cairn_lookup(C, V, parent, name, at, &a);
    if (rv != 0)
        FAIL("lookup %s: %s", name, cairn_strerror(rv));
    return a.ino;
}

static void expect_same_attr(int line, const cairn_attr_t *a, const cairn_attr_t *b)
{
    if (a->ino != b->ino || a->mode != b->mode || a->uid != b->uid || a->gid != b->gid ||
        a->nlink != b->nlink || a->size != b->size || a->rdev != b->rdev ||
        a->atime_ns != b->atime_ns || a->mtime_ns != b->mtime_ns || a->ctime_ns != b->ctime_ns ||
        a->btime_ns != b->btime_ns || a->parent != b->parent)
        fail_at(line,
                "attributes differ: ino %" PRIu64 "/%" PRIu64
                " mode 0%o/0%o nlink %u/%u size %" PRIu64 "/%" PRIu64 " mtime %" PRId64 "/%" PRId64
                " parent %" PRIu64 "/%" PRIu64,
                a->ino, b->ino, a->mode, b->mode, a->nlink, b->nlink, a->size, b->size, a->mtime_ns,
                b->mtime_ns, a->parent, b->parent);
}
#define EXPECT_SAME_ATTR(a, b) expect_same_attr(__LINE__, (a), (b))

/* ---- administration ---- */

struct chunks {
    int n, in_vol, stop_after;
    uint64_t vol_capacity;
    char last_id[33], vol[256];
    uint32_t last_number;
    const char *find; /* the number of this chunk id goes into found_number */
    uint32_t found_number;
};

static int on_chunk(void *ctx, const cairn_chunk_info_t *ci)
{
    struct chunks *c = ctx;
    c->n++;
    if (strlen(ci->id) != 32 || strspn(ci->id, "0123456789abcdef") != 32)
        FAIL("chunk id '%s'", ci->id);
    if (ci->used > ci->capacity)
        FAIL("chunk %s: used %" PRIu64 " > capacity %" PRIu64, ci->id, ci->used, ci->capacity);
    if (strcmp(ci->volume, c->vol) == 0) {
        c->in_vol++;
        c->vol_capacity += ci->capacity;
    }
    snprintf(c->last_id, sizeof c->last_id, "%s", ci->id);
    c->last_number = ci->number;
    if (c->find && strcmp(c->find, ci->id) == 0)
        c->found_number = ci->number;
    return c->stop_after && c->n == c->stop_after ? 1 : 0;
}

struct volumes {
    int n, found;
    const char *want;
    cairn_volume_info_t vi;
};

static int on_volume(void *ctx, const cairn_volume_info_t *vi)
{
    struct volumes *v = ctx;
    v->n++;
    if (strcmp(vi->name, v->want) == 0) {
        v->found++;
        v->vi = *vi;
    }
    return 0;
}

static void tour_admin(void)
{
    begin("node status, chunk list/create/assign, volume list/create, statfs");
    cairn_node_status_t st;
    OK(cairn_node_status(C, &st));
    EXPECT(st.node_id != 0);
    EXPECT(st.name[0] && st.version[0] && st.data_dir[0] == '/');
    EXPECT(st.chunks >= 2 && st.volumes >= 1);
    EXPECT_U64(st.checksum_errors, 0);
    NODE = st.node_id;

    struct chunks ch = {0};
    snprintf(ch.vol, sizeof ch.vol, "%s", V);
    OK(cairn_chunk_list(C, on_chunk, &ch));
    EXPECT_U64(ch.n, st.chunks);
    EXPECT(ch.in_vol >= 2);

    struct volumes vs = {.want = V};
    OK(cairn_volume_list(C, on_volume, &vs));
    EXPECT_U64(vs.n, st.volumes);
    EXPECT_U64(vs.found, 1);
    EXPECT(strcmp(vs.vi.durability, "local") == 0);
    EXPECT_U64(vs.vi.chunks, ch.in_vol);
    EXPECT_U64(vs.vi.capacity, ch.vol_capacity);
    EXPECT(strlen(vs.vi.id) == 32);
    EXPECT(!vs.vi.read_only);
    EXPECT(vs.vi.used <= vs.vi.capacity);

    cairn_statfs_t sf;
    OK(cairn_statfs(C, V, &sf));
    EXPECT(sf.capacity > 0 && sf.capacity <= vs.vi.capacity);
    EXPECT(sf.used <= sf.capacity);
    EXPECT_U64(sf.name_max, 255);
    EXPECT(sf.block_size > 0);
    EXPECT(sf.files >= 1);

    /* a second volume of this tour, with one new chunk */
    char aux[64];
    snprintf(aux, sizeof aux, "tour-aux-%d", (int)getpid());
    /* replicas=N is refused until replication exists (service.c) */
    EXPECT_RV(cairn_volume_create(C, aux, "replicas=2"), -EOPNOTSUPP);
    OK(cairn_volume_create(C, aux, "local"));
    EXPECT_RV(cairn_volume_create(C, aux, NULL), -EEXIST);
    EXPECT_RV(cairn_volume_create(C, "tour-bad", "sometimes"), -EINVAL);
    struct chunks made = {0};
    OK(cairn_chunk_create(C, 1, 64ull * MIB, on_chunk, &made));
    EXPECT_U64(made.n, 1);
    OK(cairn_chunk_assign(C, made.last_id, aux));
    EXPECT_RV(cairn_chunk_assign(C, made.last_id, aux), -EBUSY);
    EXPECT_RV(cairn_chunk_assign(C, made.last_id, V), -EBUSY);
    EXPECT_RV(cairn_chunk_assign(C, "0123456789abcdef0123456789abcdef", aux), -ENOENT);
    struct chunks after = {.find = made.last_id};
    snprintf(after.vol, sizeof after.vol, "%s", aux);
    OK(cairn_chunk_list(C, on_chunk, &after));
    EXPECT_U64(after.n, ch.n + 1);
    EXPECT(after.found_number != 0);
    if (made.last_number != after.found_number) /* daemon/service.c h_chunk_create */
        defect_at(__LINE__, "cairn_chunk_create reported chunk number %u, chunk list says %u",
                  made.last_number, after.found_number);
    EXPECT_U64(after.in_vol, 1);
    EXPECT_U64(after.vol_capacity, 64ull * MIB);
    struct volumes va = {.want = aux};
    OK(cairn_volume_list(C, on_volume, &va));
    EXPECT_U64(va.found, 1);
    EXPECT(strcmp(va.vi.durability, "local") == 0);
    EXPECT_U64(va.vi.chunks, 1);
    struct chunks stop = {.stop_after = 1};
    OK(cairn_chunk_list(C, on_chunk, &stop)); /* a callback's 1 stops without error */
    EXPECT_U64(stop.n, 1);
    pass();
}

static void tour_errors(void)
{
    begin("error mapping (unknown volume, long names, unreachable server, strerror)");
    cairn_attr_t a;
    cairn_statfs_t sf;
    char n300[301], n256[257], n255[256];
    memset(n300, 'x', 300);
    n300[300] = '\0';
    memset(n256, 'y', 256);
    n256[256] = '\0';
    memset(n255, 'z', 255);
    n255[255] = '\0';
    EXPECT_RV(cairn_getattr(C, "no-such-volume", CAIRN_ROOT_INO, NULL, &a), -ENOENT);
    EXPECT_RV(cairn_statfs(C, "no-such-volume", &sf), -ENOENT);
    EXPECT_RV(cairn_fsync(C, "no-such-volume"), -ENOENT);
    EXPECT_RV(cairn_getattr(C, n300, CAIRN_ROOT_INO, NULL, &a), -ENAMETOOLONG);
    EXPECT_RV(cairn_lookup(C, V, TOP, n300, NULL, &a), -ENAMETOOLONG);
    EXPECT_RV(cairn_mknod(C, V, TOP, n300, S_IFREG | 0644, 0, 0, 0, &a), -ENAMETOOLONG);
    EXPECT_RV(cairn_mknod(C, V, TOP, n256, S_IFREG | 0644, 0, 0, 0, &a), -ENAMETOOLONG);
    EXPECT_RV(cairn_volume_create(C, n300, NULL), -ENAMETOOLONG);
    OK(cairn_mknod(C, V, TOP, n255, S_IFREG | 0644, 0, 0, 0, &a)); /* the longest name */
    OK(cairn_lookup(C, V, TOP, n255, NULL, &a));
    OK(cairn_unlink(C, V, TOP, n255));
    EXPECT_RV(cairn_mknod(C, V, TOP, "", S_IFREG | 0644, 0, 0, 0, &a), -EINVAL);
    EXPECT_RV(cairn_mknod(C, V, TOP, "a/b", S_IFREG | 0644, 0, 0, 0, &a), -EINVAL);
    EXPECT_RV(cairn_mknod(C, V, TOP, ".", S_IFDIR | 0755, 0, 0, 0, &a), -EINVAL);
    EXPECT_RV(cairn_mknod(C, V, TOP, "..", S_IFDIR | 0755, 0, 0, 0, &a), -EINVAL);
    EXPECT_RV(cairn_getattr(C, V, 0x7fffffffffffull, NULL, &a), -ENOENT);
    EXPECT_RV(cairn_mknod(C, V, 0x7fffffffffffull, "x", S_IFREG | 0644, 0, 0, 0, &a), -ENOENT);

    /* an unreachable server: connecting is lazy, the first call reports it */
    cairn_t *dead;
    OK(cairn_connect(&dead, "unix:/nonexistent-dir/cairnd.sock"));
    cairn_node_status_t st;
    EXPECT_RV(cairn_node_status(dead, &st), CAIRN_EUNAVAIL);
    EXPECT(cairn_last_error()[0] != '\0');
    cairn_set_wait_for_ready(dead, 1);
    cairn_set_timeout(dead, 300);
    int rv = cairn_statfs(dead, V, &sf);
    if (rv != -ETIMEDOUT && rv != CAIRN_EUNAVAIL)
        FAIL("waiting for a dead server: %d (%s)", rv, cairn_strerror(rv));
    cairn_disconnect(dead);
    cairn_disconnect(NULL); /* safe */

    int codes[] = {CAIRN_ECHECKSUM, CAIRN_EFORMAT, CAIRN_ETORN,    CAIRN_EFAILED,
                   CAIRN_EINDEX,    CAIRN_EFAULT,  CAIRN_EUNAVAIL, CAIRN_EPROTO};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        EXPECT(cairn_strerror(codes[i]) && strcmp(cairn_strerror(codes[i]), "unknown error"));
        for (size_t j = 0; j < i; j++)
            EXPECT(strcmp(cairn_strerror(codes[i]), cairn_strerror(codes[j])) != 0);
    }
    EXPECT(strcmp(cairn_strerror(-ENOENT), strerror(ENOENT)) == 0);
    EXPECT(strcmp(cairn_strerror(0), "success") == 0);
    EXPECT(strcmp(cairn_strerror(-99999), "unknown error") == 0);
    pass();
}

/* ---- namespace ---- */

static void tour_mknod(void)
{
    begin("mknod (file, dir, fifo, socket, char/block device), lookup, resolve, getattr");
    static const struct {
        const char *name;
        uint32_t mode;
        uint64_t rdev;
    } k[] = {
        {"file", S_IFREG | 0640, 0},    {"dir", S_IFDIR | 0750, 0},     {"fifo", S_IFIFO | 0600, 0},
        {"sock", S_IFSOCK | 0755, 0},   {"chr", S_IFCHR | 0620, 0},     {"blk", S_IFBLK | 0660, 0},
        {"setuid", S_IFREG | 04755, 0}, {"sticky", S_IFDIR | 01777, 0},
    };
    enum { NK = sizeof k / sizeof k[0] };
    char sub[64];
    snprintf(sub, sizeof sub, "%s/kinds", top);
    cairn_attr_t da;
    uint64_t dir = mk(TOP, "kinds", S_IFDIR | 0755, &da);
    EXPECT_U64(da.nlink, 2);
    EXPECT_U64(da.size, 0);
    EXPECT_U64(da.parent, TOP);
    uint64_t inos[NK];
    for (int i = 0; i < NK; i++) {
        uint64_t rdev = S_ISCHR(k[i].mode) ? makedev(1, 3) : S_ISBLK(k[i].mode) ? makedev(8, 1) : 0;
        cairn_attr_t a, b;
        int64_t t0 = now_ns();
        OK(cairn_mknod(C, V, dir, k[i].name, k[i].mode, rdev, 1234, 5678, &a));
        int64_t t1 = now_ns();
        EXPECT_U64(a.mode, k[i].mode);
        EXPECT_U64(a.uid, 1234);
        EXPECT_U64(a.gid, 5678);
        EXPECT_U64(a.rdev, rdev);
        EXPECT_U64(a.size, 0);
        EXPECT_U64(a.nlink, S_ISDIR(k[i].mode) ? 2 : 1);
        EXPECT_U64(a.parent, dir);
        EXPECT(a.ino != 0 && a.ino != CAIRN_ROOT_INO);
        EXPECT_TIME_IN(a.mtime_ns, t0, t1);
        EXPECT(a.atime_ns == a.mtime_ns && a.ctime_ns == a.mtime_ns && a.btime_ns == a.mtime_ns);
        for (int j = 0; j < i; j++)
            EXPECT(inos[j] != a.ino);
        inos[i] = a.ino;
        OK(cairn_lookup(C, V, dir, k[i].name, NULL, &b));
        EXPECT_SAME_ATTR(&a, &b);
        OK(cairn_getattr(C, V, a.ino, NULL, &b));
        EXPECT_SAME_ATTR(&a, &b);
        char path[256];
        snprintf(path, sizeof path, "%s/%s", sub, k[i].name);
        OK(cairn_resolve(C, V, path, NULL, &b));
        EXPECT_SAME_ATTR(&a, &b);
        EXPECT_RV(cairn_mknod(C, V, dir, k[i].name, S_IFREG | 0644, 0, 0, 0, &b), -EEXIST);
    }
    da = getattr(dir);
    EXPECT_U64(da.size, NK);     /* a directory's size counts its entries */
    EXPECT_U64(da.nlink, 2 + 2); /* and nlink its subdirectories */
    cairn_attr_t a;
    OK(cairn_mknod(C, V, dir, "plain", 0644, 0, 0, 0, &a)); /* no type: a regular file */
    EXPECT_U64(a.mode, S_IFREG | 0644);
    EXPECT_RV(cairn_mknod(C, V, dir, "lnk", S_IFLNK | 0777, 0, 0, 0, &a), -EINVAL);
    EXPECT_RV(cairn_mknod(C, V, inos[0], "below-a-file", S_IFREG | 0644, 0, 0, 0, &a), -ENOTDIR);
    OK(cairn_lookup(C, V, dir, ".", NULL, &a));
    EXPECT_U64(a.ino, dir);
    OK(cairn_lookup(C, V, dir, "..", NULL, &a));
    EXPECT_U64(a.ino, TOP);
    EXPECT_RV(cairn_lookup(C, V, dir, "missing", NULL, &a), -ENOENT);
    EXPECT_RV(cairn_lookup(C, V, inos[0], "x", NULL, &a), -ENOTDIR);
    OK(cairn_resolve(C, V, "/", NULL, &a));
    EXPECT_U64(a.ino, CAIRN_ROOT_INO);
    EXPECT(S_ISDIR(a.mode));
    char path[256];
    snprintf(path, sizeof path, "/%s//kinds///file", top + 1);
    OK(cairn_resolve(C, V, path, NULL, &a));
    EXPECT_U64(a.ino, inos[0]);
    snprintf(path, sizeof path, "%s/file/below", sub);
    EXPECT_RV(cairn_resolve(C, V, path, NULL, &a), -ENOTDIR);
    snprintf(path, sizeof path, "%s/missing/below", sub);
    EXPECT_RV(cairn_resolve(C, V, path, NULL, &a), -ENOENT);
    EXPECT_RV(cairn_resolve(C, V, "relative/path", NULL, &a), -EINVAL);
    snprintf(path, sizeof path, "%s/dir/", sub); /* a trailing slash names a directory */
    OK(cairn_resolve(C, V, path, NULL, &a));
    EXPECT_U64(a.ino, inos[1]);
    snprintf(path, sizeof path, "%s/file/", sub); /* POSIX: ENOTDIR (daemon/fsops.c fs_resolve) */
    DEFECT_RV(cairn_resolve(C, V, path, NULL, &a), -ENOTDIR);
    size_t got;
    char b[8];
    EXPECT_RV(cairn_read(C, V, dir, 0, 8, b, NULL, &got), -EISDIR);
    EXPECT_RV(cairn_read(C, V, inos[2], 0, 8, b, NULL, &got), -EINVAL); /* a FIFO */
    EXPECT_RV(cairn_write(C, V, dir, 0, "x", 1, NULL), -EISDIR);
    EXPECT_RV(cairn_write(C, V, inos[4], 0, "x", 1, NULL), -EINVAL); /* a device */
    pass();
}

static void tour_setattr(void)
{
    begin("setattr (mode, uid, gid, size down and up reads zeros, times)");
    cairn_attr_t a, b;
    uint64_t f = mk(TOP, "attrs", S_IFREG | 0644, &a);
    cairn_setattr_t sa;
    memset(&sa, 0, sizeof sa);
    sa.mask = CAIRN_SET_MODE;
    sa.mode = 0600;
    OK(cairn_setattr(C, V, f, &sa, &b));
    EXPECT_U64(b.mode, S_IFREG | 0600); /* the type stays */
    EXPECT(b.ctime_ns >= a.ctime_ns);
    sa.mode = S_IFDIR | 02711; /* type bits in the request are ignored */
    OK(cairn_setattr(C, V, f, &sa, &b));
    EXPECT_U64(b.mode, S_IFREG | 02711);
    sa.mask = CAIRN_SET_UID | CAIRN_SET_GID;
    sa.uid = 4242;
    sa.gid = 4343;
    OK(cairn_setattr(C, V, f, &sa, NULL));
    b = getattr(f);
    EXPECT_U64(b.uid, 4242);
    EXPECT_U64(b.gid, 4343);
    EXPECT_U64(b.mode, S_IFREG | 02711);

    /* size: down, then up again: the cut bytes must not come back */
    enum { LEN = 10000, CUT = 3000, UP = 12000 };
    uint8_t *buf = xmalloc(LEN);
    fill(buf, 0, LEN, 7);
    OK(cairn_write(C, V, f, 0, buf, LEN, &b));
    EXPECT_U64(b.size, LEN);
    free(buf);
    sa.mask = CAIRN_SET_SIZE;
    sa.size = CUT;
    int64_t t0 = now_ns();
    OK(cairn_setattr(C, V, f, &sa, &b));
    EXPECT_U64(b.size, CUT);
    EXPECT_TIME_IN(b.mtime_ns, t0, now_ns());
    size_t got;
    buf = read_at(f, 0, UP + 100, NULL, &got);
    EXPECT_U64(got, CUT);
    EXPECT_PAT(buf, 0, CUT, 7);
    free(buf);
    sa.size = UP;
    OK(cairn_setattr(C, V, f, &sa, &b));
    EXPECT_U64(b.size, UP);
    buf = read_at(f, 0, UP + 100, NULL, &got);
    EXPECT_U64(got, UP);
    EXPECT_PAT(buf, 0, CUT, 7);
    EXPECT_ZEROS(buf + CUT, CUT, UP - CUT);
    free(buf);
    sa.size = 0;
    OK(cairn_setattr(C, V, f, &sa, &b));
    EXPECT_U64(b.size, 0);
    buf = read_at(f, 0, 100, NULL, &got);
    EXPECT_U64(got, 0);
    free(buf);
    sa.size = 5000;
    OK(cairn_setattr(C, V, f, &sa, &b));
    buf = read_at(f, 0, 5000, NULL, &got);
    EXPECT_U64(got, 5000);
    EXPECT_ZEROS(buf, 0, 5000);
    free(buf);

    /* times */
    memset(&sa, 0, sizeof sa);
    sa.mask = CAIRN_SET_ATIME | CAIRN_SET_MTIME;
    sa.atime_ns = 1500000000123456789ll;
    sa.mtime_ns = 1400000000987654321ll;
    OK(cairn_setattr(C, V, f, &sa, &b));
    EXPECT_U64(b.atime_ns, 1500000000123456789ll);
    EXPECT_U64(b.mtime_ns, 1400000000987654321ll);
    b = getattr(f);
    EXPECT_U64(b.atime_ns, 1500000000123456789ll);
    EXPECT_U64(b.mtime_ns, 1400000000987654321ll);
    sa.mask = CAIRN_SET_ATIME_NOW | CAIRN_SET_MTIME_NOW;
    t0 = now_ns();
    OK(cairn_setattr(C, V, f, &sa, &b));
    int64_t t1 = now_ns();
    EXPECT_TIME_IN(b.atime_ns, t0, t1);
    EXPECT_TIME_IN(b.mtime_ns, t0, t1);
    EXPECT_TIME_IN(b.ctime_ns, t0, t1);
    sa.mask = CAIRN_SET_CTIME;
    sa.ctime_ns = 1300000000000000001ll;
    OK(cairn_setattr(C, V, f, &sa, &b));
    EXPECT_U64(b.ctime_ns, 1300000000000000001ll);
    EXPECT_U64(getattr(f).ctime_ns, 1300000000000000001ll);

    /* size of what has no bytes */
    uint64_t d = mk(TOP, "attrs.d", S_IFDIR | 0755, NULL);
    uint64_t p = mk(TOP, "attrs.p", S_IFIFO | 0644, NULL);
    sa.mask = CAIRN_SET_SIZE;
    sa.size = 1;
    EXPECT_RV(cairn_setattr(C, V, d, &sa, &b), -EISDIR);
    EXPECT_RV(cairn_setattr(C, V, p, &sa, &b), -EINVAL);
    sa.mask = CAIRN_SET_MODE;
    sa.mode = 0700;
    OK(cairn_setattr(C, V, d, &sa, &b));
    EXPECT_U64(b.mode, S_IFDIR | 0700);
    EXPECT_RV(cairn_setattr(C, V, 0x7ffffffffffeull, &sa, &b), -ENOENT);
    pass();
}

static void tour_symlink(void)
{
    begin("symlink, readlink");
    const char *target = "../some/where/else";
    cairn_attr_t a;
    int64_t t0 = now_ns();
    OK(cairn_symlink(C, V, TOP, "ln", target, 77, 88, &a));
    EXPECT_U64(a.mode, S_IFLNK | 0777);
    EXPECT_U64(a.size, strlen(target));
    EXPECT_U64(a.uid, 77);
    EXPECT_U64(a.gid, 88);
    EXPECT_U64(a.nlink, 1);
    EXPECT_TIME_IN(a.mtime_ns, t0, now_ns());
    char buf[256];
    memset(buf, 'Q', sizeof buf);
    OK(cairn_readlink(C, V, a.ino, NULL, buf, sizeof buf));
    EXPECT(strcmp(buf, target) == 0);
    memset(buf, 'Q', sizeof buf);
    OK(cairn_readlink(C, V, a.ino, NULL, buf, 5)); /* truncated, NUL-terminated */
    EXPECT(strcmp(buf, "../s") == 0);
    EXPECT_U64(lookup_ino(TOP, "ln", NULL), a.ino);
    char path[256];
    snprintf(path, sizeof path, "%s/ln/x", top); /* resolve follows no symlinks */
    cairn_attr_t b;
    EXPECT_RV(cairn_resolve(C, V, path, NULL, &b), -ENOTDIR);
    EXPECT_RV(cairn_symlink(C, V, TOP, "ln", "other", 0, 0, &b), -EEXIST);
    EXPECT_RV(cairn_symlink(C, V, TOP, "ln-empty", "", 0, 0, &b), -ENOENT);
    uint64_t f = mk(TOP, "not-a-link", S_IFREG | 0644, NULL);
    EXPECT_RV(cairn_readlink(C, V, f, NULL, buf, sizeof buf), -EINVAL);
    char *longt = xmalloc(4097);
    memset(longt, 't', 4096);
    longt[4095] = '\0';
    OK(cairn_symlink(C, V, TOP, "ln-long", longt, 0, 0, &b)); /* PATH_MAX - 1 */
    EXPECT_U64(b.size, 4095);
    char *back = xmalloc(4200);
    OK(cairn_readlink(C, V, b.ino, NULL, back, 4200));
    EXPECT(strcmp(back, longt) == 0);
    longt[4095] = 't';
    longt[4096] = '\0';
    EXPECT_RV(cairn_symlink(C, V, TOP, "ln-toolong", longt, 0, 0, &b), -ENAMETOOLONG);
    free(back);
    free(longt);
    OK(cairn_unlink(C, V, TOP, "ln-long"));
    pass();
}

static void tour_remove(void)
{
    begin("unlink, rmdir (ENOTEMPTY, ENOTDIR, EISDIR, ENOENT)");
    cairn_attr_t a;
    uint64_t d = mk(TOP, "rm.d", S_IFDIR | 0755, NULL);
    uint64_t f = mk(d, "f", S_IFREG | 0644, NULL);
    mk(d, "sub", S_IFDIR | 0755, NULL);
    /* the reply carried the parent as it is after the mkdir */
    cairn_attr_t pa;
    EXPECT(cairn_last_parent(&pa) == 1);
    cairn_attr_t dnow = getattr(d);
    EXPECT_SAME_ATTR(&pa, &dnow);
    EXPECT_U64(pa.nlink, 3);
    cairn_attr_t before = getattr(TOP);
    EXPECT_RV(cairn_rmdir(C, V, TOP, "rm.d"), -ENOTEMPTY);
    EXPECT_RV(cairn_rmdir(C, V, d, "f"), -ENOTDIR);
    EXPECT_RV(cairn_unlink(C, V, d, "sub"), -EISDIR);
    EXPECT_RV(cairn_unlink(C, V, d, "missing"), -ENOENT);
    EXPECT_RV(cairn_rmdir(C, V, d, "missing"), -ENOENT);
    EXPECT_RV(cairn_rmdir(C, V, d, "."), -EINVAL);
    EXPECT_RV(cairn_rmdir(C, V, d, ".."), -ENOTEMPTY);
    EXPECT_RV(cairn_unlink(C, V, f, "x"), -ENOTDIR);
    EXPECT_U64(getattr(d).nlink, 3);
    OK(cairn_unlink(C, V, d, "f"));
    EXPECT_RV(cairn_lookup(C, V, d, "f", NULL, &a), -ENOENT);
    EXPECT_U64(getattr(d).size, 1);
    OK(cairn_rmdir(C, V, d, "sub"));
    a = getattr(d);
    EXPECT_U64(a.size, 0);
    EXPECT_U64(a.nlink, 2);
    EXPECT(cairn_last_parent(&pa) == 1); /* rmdir's reply carried d as it is now */
    EXPECT_SAME_ATTR(&pa, &a);
    OK(cairn_rmdir(C, V, TOP, "rm.d"));
    EXPECT_RV(cairn_lookup(C, V, TOP, "rm.d", NULL, &a), -ENOENT);
    a = getattr(TOP);
    EXPECT_U64(a.nlink, before.nlink - 1);
    EXPECT_U64(a.size, before.size - 1);
    EXPECT_RV(cairn_mknod(C, V, d, "in-removed-dir", S_IFREG | 0644, 0, 0, 0, &a), -ENOENT);
    pass();
}

static void tour_rename(void)
{
    begin("rename (over a file, over an empty dir, NOREPLACE, EXCHANGE, across dirs)");
    cairn_attr_t a;
    uint64_t d = mk(TOP, "mv", S_IFDIR | 0755, NULL);
    uint64_t fa = file_with(d, "a", "AAA", 3);
    uint64_t fb = file_with(d, "b", "BBBB", 4);
    (void)fb;
    OK(cairn_rename(C, V, d, "a", d, "b", 0)); /* over a file */
    EXPECT_RV(cairn_lookup(C, V, d, "a", NULL, &a), -ENOENT);
    EXPECT_U64(lookup_ino(d, "b", NULL), fa);
    EXPECT_CONTENTS(fa, NULL, "AAA");
    EXPECT_U64(getattr(d).size, 1);

    uint64_t d1 = mk(d, "d1", S_IFDIR | 0755, NULL);
    uint64_t child = file_with(d1, "child", "kid", 3);
    mk(d, "d2", S_IFDIR | 0755, NULL);
    EXPECT_U64(getattr(d).nlink, 4);
    OK(cairn_rename(C, V, d, "d1", d, "d2", 0)); /* over an empty dir */
    EXPECT_U64(lookup_ino(d, "d2", NULL), d1);
    EXPECT_U64(lookup_ino(d1, "child", NULL), child);
    EXPECT_RV(cairn_lookup(C, V, d, "d1", NULL, &a), -ENOENT);
    a = getattr(d);
    EXPECT_U64(a.nlink, 3);
    EXPECT_U64(a.size, 2); /* b, d2 */

    mk(d, "empty", S_IFDIR | 0755, NULL);
    EXPECT_RV(cairn_rename(C, V, d, "empty", d, "d2", 0), -ENOTEMPTY);
    EXPECT_RV(cairn_rename(C, V, d, "b", d, "empty", 0), -EISDIR);
    EXPECT_RV(cairn_rename(C, V, d, "empty", d, "b", 0), -ENOTDIR);
    EXPECT_RV(cairn_rename(C, V, d, "missing", d, "x", 0), -ENOENT);
    EXPECT_RV(cairn_rename(C, V, d, "d2", d1, "inside-itself", 0), -EINVAL);

    /* NOREPLACE */
    uint64_t fc = file_with(d, "c", "CC", 2);
    EXPECT_RV(cairn_rename(C, V, d, "c", d, "b", CAIRN_RENAME_NOREPLACE), -EEXIST);
    EXPECT_U64(lookup_ino(d, "c", NULL), fc);
    EXPECT_U64(lookup_ino(d, "b", NULL), fa);
    OK(cairn_rename(C, V, d, "c", d, "c2", CAIRN_RENAME_NOREPLACE));
    EXPECT_U64(lookup_ino(d, "c2", NULL), fc);

    /* EXCHANGE: a file and a directory trade places */
    uint64_t e = lookup_ino(d, "empty", NULL);
    OK(cairn_rename(C, V, d, "c2", d, "empty", CAIRN_RENAME_EXCHANGE));
    EXPECT_U64(lookup_ino(d, "c2", NULL), e);
    EXPECT_U64(lookup_ino(d, "empty", NULL), fc);
    EXPECT_CONTENTS(fc, NULL, "CC");
    EXPECT_RV(cairn_rename(C, V, d, "c2", d, "nothing", CAIRN_RENAME_EXCHANGE), -ENOENT);
    EXPECT_RV(cairn_rename(C, V, d, "c2", d, "b", CAIRN_RENAME_EXCHANGE | CAIRN_RENAME_NOREPLACE),
              -EINVAL);

    /* across directories: nlink of both parents, the moved dir's parent */
    uint64_t other = mk(TOP, "mv.other", S_IFDIR | 0755, NULL);
    uint32_t n1 = getattr(d).nlink, n2 = getattr(other).nlink;
    OK(cairn_rename(C, V, d, "d2", other, "moved", 0));
    EXPECT_U64(getattr(d).nlink, n1 - 1);
    EXPECT_U64(getattr(other).nlink, n2 + 1);
    a = getattr(d1);
    EXPECT_U64(a.parent, other);
    OK(cairn_lookup(C, V, d1, "..", NULL, &a));
    EXPECT_U64(a.ino, other);
    char path[256];
    snprintf(path, sizeof path, "%s/mv.other/moved/child", top);
    OK(cairn_resolve(C, V, path, NULL, &a));
    EXPECT_U64(a.ino, child);
    EXPECT_RV(cairn_rename(C, V, other, "moved", d, "back", CAIRN_RENAME_EXCHANGE), -ENOENT);
    pass();
}

static void tour_link(void)
{
    begin("link (nlink counts)");
    cairn_attr_t a;
    uint64_t d = mk(TOP, "ln.d", S_IFDIR | 0755, NULL);
    uint64_t f = file_with(TOP, "ln.f", "linked", 6);
    EXPECT_U64(getattr(f).nlink, 1);
    OK(cairn_link(C, V, f, TOP, "ln.f2", &a));
    EXPECT_U64(a.nlink, 2);
    EXPECT_U64(a.ino, f);
    OK(cairn_link(C, V, f, d, "third", &a));
    EXPECT_U64(a.nlink, 3);
    EXPECT_U64(getattr(f).nlink, 3);
    EXPECT_U64(lookup_ino(d, "third", NULL), f);
    EXPECT_CONTENTS(lookup_ino(d, "third", NULL), NULL, "linked");
    EXPECT_RV(cairn_link(C, V, f, d, "third", &a), -EEXIST);
    EXPECT_RV(cairn_link(C, V, d, TOP, "dir-link", &a), -EPERM);
    EXPECT_RV(cairn_link(C, V, f, f, "x", &a), -ENOTDIR);
    OK(cairn_write(C, V, lookup_ino(TOP, "ln.f2", NULL), 0, "LINKED", 6, NULL));
    EXPECT_CONTENTS(f, NULL, "LINKED"); /* one inode, three names */
    OK(cairn_unlink(C, V, TOP, "ln.f"));
    EXPECT_U64(getattr(f).nlink, 2);
    OK(cairn_rename(C, V, d, "third", TOP, "ln.f2", 0)); /* two links to one inode: no-op */
    EXPECT_U64(getattr(f).nlink, 2);
    EXPECT_U64(lookup_ino(d, "third", NULL), f);
    OK(cairn_unlink(C, V, d, "third"));
    EXPECT_U64(getattr(f).nlink, 1);
    EXPECT_CONTENTS(lookup_ino(TOP, "ln.f2", NULL), NULL, "LINKED");
    pass();
}

/* ---- readdir ---- */

struct listing {
    int n, bad, stop_at, stop_rv;
    int attrs_seen;
    char first[256], last[256];
    uint64_t dir;
};

static void many_name(char out[16], int i)
{
    snprintf(out, 16, "e%05d", i);
}

static int on_entry(void *ctx, const char *name, uint64_t ino, uint32_t type,
                    const cairn_attr_t *attr)
{
    struct listing *l = ctx;
    if (l->n == 0)
        snprintf(l->first, sizeof l->first, "%s", name);
    else if (strcmp(l->last, name) >= 0)
        FAIL("readdir: '%s' after '%s' (not in name order, or repeated)", name, l->last);
    snprintf(l->last, sizeof l->last, "%s", name);
    int i = atoi(name + 1);
    uint32_t want = i % 7 == 0 ? S_IFDIR : S_IFREG;
    if (type != want)
        FAIL("readdir: %s has type 0%o, want 0%o", name, type, want);
    if (ino == 0)
        FAIL("readdir: %s has inode 0", name);
    if (attr) {
        l->attrs_seen++;
        if (attr->ino != ino || (attr->mode & S_IFMT) != want || attr->parent != l->dir ||
            attr->uid != 1000 || attr->nlink != (want == S_IFDIR ? 2u : 1u))
            FAIL("readdir: attributes of %s: ino %" PRIu64 " mode 0%o parent %" PRIu64, name,
                 attr->ino, attr->mode, attr->parent);
    }
    l->n++;
    if (l->stop_at && l->n == l->stop_at)
        return l->stop_rv;
    return 0;
}

static void tour_readdir(void)
{
    begin("readdir (2600 entries across pages, with_attrs, after=, stop)");
    uint64_t d = mk(TOP, "many", S_IFDIR | 0755, NULL);
    for (int k = 0; k < MANY; k++) {
        int i = (int)((k * 1031u) % MANY); /* created out of name order */
        char name[16];
        many_name(name, i);
        mk(d, name, i % 7 == 0 ? S_IFDIR | 0755 : S_IFREG | 0644, NULL);
    }
    cairn_attr_t da = getattr(d);
    EXPECT_U64(da.size, MANY);
    EXPECT_U64(da.nlink, 2 + (MANY + 6) / 7);

    struct listing l = {.dir = d};
    OK(cairn_readdir(C, V, d, NULL, NULL, 0, on_entry, &l));
    EXPECT_U64(l.n, MANY);
    EXPECT(strcmp(l.first, "e00000") == 0 && strcmp(l.last, "e02599") == 0);
    EXPECT_U64(l.attrs_seen, 0);

    struct listing la = {.dir = d};
    OK(cairn_readdir(C, V, d, NULL, NULL, 1, on_entry, &la));
    EXPECT_U64(la.n, MANY);
    EXPECT_U64(la.attrs_seen, MANY);

    struct listing lb = {.dir = d};
    OK(cairn_readdir(C, V, d, NULL, "e01234", 0, on_entry, &lb));
    EXPECT_U64(lb.n, MANY - 1235);
    EXPECT(strcmp(lb.first, "e01235") == 0);
    struct listing lc = {.dir = d};
    OK(cairn_readdir(C, V, d, NULL, "e01234~", 1, on_entry, &lc)); /* not an entry */
    EXPECT(strcmp(lc.first, "e01235") == 0);
    EXPECT_U64(lc.n, MANY - 1235);
    struct listing ld = {.dir = d};
    OK(cairn_readdir(C, V, d, NULL, "e02599", 0, on_entry, &ld));
    EXPECT_U64(ld.n, 0);
    struct listing le = {.dir = d};
    OK(cairn_readdir(C, V, d, NULL, "a", 0, on_entry, &le)); /* before every name */
    EXPECT_U64(le.n, MANY);

    struct listing ls1 = {.dir = d, .stop_at = 1500, .stop_rv = 1};
    OK(cairn_readdir(C, V, d, NULL, NULL, 0, on_entry, &ls1)); /* 1: stop, no error */
    EXPECT_U64(ls1.n, 1500);
    EXPECT(strcmp(ls1.last, "e01499") == 0);
    struct listing ls2 = {.dir = d, .stop_at = 1200, .stop_rv = -ECANCELED};
    EXPECT_RV(cairn_readdir(C, V, d, NULL, NULL, 0, on_entry, &ls2), -ECANCELED);
    EXPECT_U64(ls2.n, 1200);

    char name[16];
    many_name(name, 1002);
    OK(cairn_unlink(C, V, d, name));
    many_name(name, 7);
    OK(cairn_rmdir(C, V, d, name));
    struct listing lf = {.dir = d};
    OK(cairn_readdir(C, V, d, NULL, NULL, 0, on_entry, &lf));
    EXPECT_U64(lf.n, MANY - 2);

    struct listing lg = {0};
    uint64_t f = mk(TOP, "not-a-dir", S_IFREG | 0644, NULL);
    EXPECT_RV(cairn_readdir(C, V, f, NULL, NULL, 0, on_entry, &lg), -ENOTDIR);
    EXPECT_RV(cairn_readdir(C, V, 0x7ffffffffffdull, NULL, NULL, 0, on_entry, &lg), -ENOENT);
    pass();
}

/* ---- data ---- */

static uint64_t BIG;    /* the 16 MiB file */
static uint64_t SPARSE; /* 1 MiB at 5 GiB */
#define BIG_LEN (16u * MIB)
#define SPARSE_OFF (5ull * GIB)

static _Atomic int lent_dones[3]; /* how often each cairn_write_lent's DONE ran */

static void count_done(void *arg)
{
    (*(_Atomic int *)arg)++;
}

static void tour_data(void)
{
    begin("read/write small and large (16 MiB streamed, lent writes; sparse file past 5 GiB)");
    cairn_attr_t a;
    size_t got;
    uint8_t *buf;
    uint64_t f = mk(TOP, "small", S_IFREG | 0644, &a);
    int64_t t0 = now_ns();
    OK(cairn_write(C, V, f, 0, "hello, cairn!", 13, &a));
    EXPECT_U64(a.size, 13);
    EXPECT_TIME_IN(a.mtime_ns, t0, now_ns());
    EXPECT_CONTENTS(f, NULL, "hello, cairn!");
    buf = read_at(f, 13, 10, NULL, &got);
    EXPECT_U64(got, 0); /* at EOF */
    free(buf);
    buf = read_at(f, 1000, 10, NULL, &got);
    EXPECT_U64(got, 0); /* past EOF */
    free(buf);
    buf = read_at(f, 7, 100, NULL, &got);
    EXPECT_U64(got, 6);
    EXPECT(memcmp(buf, "cairn!", 6) == 0);
    free(buf);
    OK(cairn_write(C, V, f, 7, "CAIRN", 5, &a)); /* overwrite in the middle */
    EXPECT_U64(a.size, 13);
    EXPECT_CONTENTS(f, NULL, "hello, CAIRN!");
    OK(cairn_write(C, V, f, 100, "tail", 4, &a)); /* a hole between */
    EXPECT_U64(a.size, 104);
    buf = read_at(f, 0, 200, NULL, &got);
    EXPECT_U64(got, 104);
    EXPECT(memcmp(buf, "hello, CAIRN!", 13) == 0 && memcmp(buf + 100, "tail", 4) == 0);
    EXPECT_ZEROS(buf + 13, 13, 87);
    free(buf);
    EXPECT_RV(cairn_write(C, V, f, 1ull << 62, "x", 1, &a), -EFBIG); /* past the largest size */
    cairn_setattr_t huge = {.mask = CAIRN_SET_SIZE, .size = (1ull << 62) + 1};
    EXPECT_RV(cairn_setattr(C, V, f, &huge, &a), -EFBIG);
    OK(cairn_write(C, V, f, 50, "", 0, &a)); /* zero length: no effect */
    EXPECT_U64(a.size, 104);
    OK(cairn_read(C, V, f, 0, 0, NULL, NULL, &got));
    EXPECT_U64(got, 0);

    /* 16 MiB in one call (a client stream of 1 MiB pieces) */
    uint8_t *big = xmalloc(BIG_LEN);
    fill(big, 0, BIG_LEN, 16);
    BIG = mk(TOP, "big", S_IFREG | 0644, NULL);
    OK(cairn_write(C, V, BIG, 0, big, BIG_LEN, &a));
    EXPECT_U64(a.size, BIG_LEN);
    EXPECT_U64(getattr(BIG).size, BIG_LEN);
    memset(big, 0, BIG_LEN);
    OK(cairn_read(C, V, BIG, 0, BIG_LEN, big, NULL, &got)); /* a server stream */
    EXPECT_U64(got, BIG_LEN);
    EXPECT_PAT(big, 0, BIG_LEN, 16);
    /* unaligned pieces across the 1 MiB boundaries */
    uint64_t off = 0;
    for (int i = 0; i < 64 && off < BIG_LEN; i++) {
        size_t want = (size_t)(MIB + 4099u * (uint32_t)i);
        memset(big, 0, want);
        OK(cairn_read(C, V, BIG, off, want, big, NULL, &got));
        size_t expect = off + want > BIG_LEN ? (size_t)(BIG_LEN - off) : want;
        EXPECT_U64(got, expect);
        EXPECT_PAT(big, off, got, 16);
        off += got;
    }
    EXPECT_U64(off, BIG_LEN);
    /* 3 MiB rewritten at an unaligned offset in the middle */
    enum { OV_OFF = 5 * MIB + 12345, OV_LEN = 3 * MIB + 17 };
    uint8_t *ov = xmalloc(OV_LEN);
    fill(ov, OV_OFF, OV_LEN, 99);
    OK(cairn_write(C, V, BIG, OV_OFF, ov, OV_LEN, &a));
    EXPECT_U64(a.size, BIG_LEN);
    OK(cairn_read(C, V, BIG, 0, BIG_LEN, big, NULL, &got));
    EXPECT_U64(got, BIG_LEN);
    EXPECT_PAT(big, 0, OV_OFF, 16);
    EXPECT_PAT(big + OV_OFF, OV_OFF, OV_LEN, 99);
    EXPECT_PAT(big + OV_OFF + OV_LEN, OV_OFF + OV_LEN, BIG_LEN - OV_OFF - OV_LEN, 16);
    /* put the pattern back for the reindex check at the end, lent (not
     * copied); a lent write that fails and a short one give their bytes
     * back too, each once */
    fill(ov, OV_OFF, OV_LEN, 16);
    OK(cairn_write_lent(C, V, BIG, OV_OFF, ov, OV_LEN, count_done, &lent_dones[0], &a));
    EXPECT_U64(a.size, BIG_LEN);
    OK(cairn_read(C, V, BIG, 0, BIG_LEN, big, NULL, &got));
    EXPECT_U64(got, BIG_LEN);
    EXPECT_PAT(big, 0, BIG_LEN, 16);
    EXPECT_RV(
        cairn_write_lent(C, "no-such-volume", BIG, 0, ov, OV_LEN, count_done, &lent_dones[1], NULL),
        -ENOENT);
    OK(cairn_write_lent(C, V, f, 0, "HELLO", 5, count_done, &lent_dones[2], NULL));
    buf = read_at(f, 0, 13, NULL, &got);
    EXPECT(got == 13 && memcmp(buf, "HELLO, CAIRN!", 13) == 0);
    free(buf);
    for (int i = 0; i < 5000 && lent_dones[0] + lent_dones[1] + lent_dones[2] < 3; i++)
        sleep_ms(1); /* at most 5 s */
    for (int i = 0; i < 3; i++)
        EXPECT_U64(lent_dones[i], 1);
    free(ov);

    /* sparse: 1 MiB at 5 GiB */
    SPARSE = mk(TOP, "sparse", S_IFREG | 0644, NULL);
    fill(big, SPARSE_OFF, MIB, 5);
    OK(cairn_write(C, V, SPARSE, SPARSE_OFF, big, MIB, &a));
    EXPECT_U64(a.size, SPARSE_OFF + MIB);
    EXPECT_U64(getattr(SPARSE).size, SPARSE_OFF + MIB);
    uint64_t holes[] = {0, 4096, GIB + 65536, 4 * GIB - 7, SPARSE_OFF - 65536};
    for (size_t i = 0; i < sizeof holes / sizeof holes[0]; i++) {
        memset(big, 0xA5, 65536);
        OK(cairn_read(C, V, SPARSE, holes[i], 65536, big, NULL, &got));
        EXPECT_U64(got, 65536);
        EXPECT_ZEROS(big, holes[i], 65536);
    }
    memset(big, 0xA5, 2 * MIB);
    OK(cairn_read(C, V, SPARSE, SPARSE_OFF - MIB, 2 * MIB, big, NULL, &got)); /* across */
    EXPECT_U64(got, 2 * MIB);
    EXPECT_ZEROS(big, SPARSE_OFF - MIB, MIB);
    EXPECT_PAT(big + MIB, SPARSE_OFF, MIB, 5);
    OK(cairn_read(C, V, SPARSE, SPARSE_OFF + MIB - 10, 100, big, NULL, &got));
    EXPECT_U64(got, 10);
    EXPECT_PAT(big, SPARSE_OFF + MIB - 10, 10, 5);
    OK(cairn_read(C, V, SPARSE, SPARSE_OFF + MIB, 100, big, NULL, &got));
    EXPECT_U64(got, 0);
    free(big);
    pass();

    begin("fsync, statfs");
    cairn_statfs_t sf;
    OK(cairn_fsync(C, V));
    OK(cairn_statfs(C, V, &sf));
    EXPECT(sf.used >= BIG_LEN + MIB && sf.used <= sf.capacity); /* holes take no space */
    EXPECT(sf.files >= MANY);
    EXPECT_U64(sf.name_max, 255);
    pass();
}

/* ---- extended attributes ---- */

static void tour_xattr(void)
{
    begin("xattrs (set/get/list/remove, XATTR_CREATE/REPLACE, ENODATA, ERANGE)");
    uint64_t f = mk(TOP, "xa", S_IFREG | 0644, NULL);
    char buf[512];
    size_t len = 12345;
    EXPECT_RV(cairn_listxattr(C, V, f, NULL, buf, sizeof buf, &len), 0);
    EXPECT_U64(len, 0);
    EXPECT_RV(cairn_getxattr(C, V, f, "user.a", NULL, buf, sizeof buf, &len), -ENODATA);
    OK(cairn_setxattr(C, V, f, "user.a", "one", 3, 0));
    OK(cairn_getxattr(C, V, f, "user.a", NULL, buf, sizeof buf, &len));
    EXPECT_U64(len, 3);
    EXPECT(memcmp(buf, "one", 3) == 0);
    len = 0;
    OK(cairn_getxattr(C, V, f, "user.a", NULL, NULL, 0, &len)); /* size only */
    EXPECT_U64(len, 3);
    EXPECT_RV(cairn_getxattr(C, V, f, "user.a", NULL, buf, 2, &len), -ERANGE);
    EXPECT_U64(len, 3);
    EXPECT_RV(cairn_setxattr(C, V, f, "user.a", "two", 3, XATTR_CREATE), -EEXIST);
    EXPECT_RV(cairn_setxattr(C, V, f, "user.b", "two", 3, XATTR_REPLACE), -ENODATA);
    EXPECT_RV(cairn_getxattr(C, V, f, "user.b", NULL, buf, sizeof buf, &len), -ENODATA);
    OK(cairn_setxattr(C, V, f, "user.a", "uno!", 4, XATTR_REPLACE));
    OK(cairn_setxattr(C, V, f, "user.b", "", 0, XATTR_CREATE)); /* empty value */
    OK(cairn_setxattr(C, V, f, "trusted.c", "\0\1\2", 3, 0));
    OK(cairn_getxattr(C, V, f, "user.a", NULL, buf, sizeof buf, &len));
    EXPECT(len == 4 && memcmp(buf, "uno!", 4) == 0);
    OK(cairn_getxattr(C, V, f, "user.b", NULL, buf, sizeof buf, &len));
    EXPECT_U64(len, 0);
    OK(cairn_getxattr(C, V, f, "trusted.c", NULL, buf, sizeof buf, &len));
    EXPECT(len == 3 && memcmp(buf, "\0\1\2", 3) == 0);
    static const char names[] = "trusted.c\0user.a\0user.b"; /* name order */
    memset(buf, 'Q', sizeof buf);
    OK(cairn_listxattr(C, V, f, NULL, buf, sizeof buf, &len));
    EXPECT_U64(len, sizeof names);
    EXPECT(memcmp(buf, names, sizeof names) == 0);
    OK(cairn_listxattr(C, V, f, NULL, NULL, 0, &len));
    EXPECT_U64(len, sizeof names);
    EXPECT_RV(cairn_listxattr(C, V, f, NULL, buf, 5, &len), -ERANGE);
    OK(cairn_removexattr(C, V, f, "user.a"));
    EXPECT_RV(cairn_getxattr(C, V, f, "user.a", NULL, buf, sizeof buf, &len), -ENODATA);
    EXPECT_RV(cairn_removexattr(C, V, f, "user.a"), -ENODATA);
    EXPECT_RV(cairn_removexattr(C, V, f, "user.never"), -ENODATA);
    OK(cairn_listxattr(C, V, f, NULL, buf, sizeof buf, &len));
    EXPECT(len == sizeof "trusted.c\0user.b" && memcmp(buf, "trusted.c\0user.b", len) == 0);
    /* the largest value; one byte more is too big */
    uint8_t *big = xmalloc(65537);
    fill(big, 0, 65537, 3);
    OK(cairn_setxattr(C, V, f, "user.big", big, 65536, 0));
    uint8_t *back = xmalloc(65536);
    OK(cairn_getxattr(C, V, f, "user.big", NULL, back, 65536, &len));
    EXPECT_U64(len, 65536);
    EXPECT_PAT(back, 0, 65536, 3);
    EXPECT_RV(cairn_setxattr(C, V, f, "user.big", big, 65537, 0), -E2BIG);
    free(back);
    free(big);
    EXPECT_RV(cairn_setxattr(C, V, f, "", "x", 1, 0), -EINVAL);
    uint64_t d = mk(TOP, "xa.d", S_IFDIR | 0755, NULL); /* directories carry them too */
    OK(cairn_setxattr(C, V, d, "user.dir", "yes", 3, 0));
    OK(cairn_getxattr(C, V, d, "user.dir", NULL, buf, sizeof buf, &len));
    EXPECT(len == 3 && memcmp(buf, "yes", 3) == 0);
    EXPECT_RV(cairn_setxattr(C, V, 0x7ffffffffffcull, "user.a", "x", 1, 0), -ENOENT);
    EXPECT_RV(cairn_getxattr(C, V, 0x7ffffffffffcull, "user.a", NULL, buf, 8, &len), -ENOENT);
    pass();
}

/* ---- history and snapshots ---- */

struct versions {
    int n, stop_at;
    cairn_version_t v[16];
};

static int on_version(void *ctx, const cairn_version_t *v)
{
    struct versions *vs = ctx;
    if (vs->n < 16)
        vs->v[vs->n] = *v;
    vs->n++;
    return vs->stop_at && vs->n == vs->stop_at ? 1 : 0;
}

struct snaps {
    int n;
    char names[8][64];
    int64_t time_ms[8];
    uint64_t hlc[8];
};

static int on_snap(void *ctx, const char *name, int64_t time_ms, uint64_t hlc)
{
    struct snaps *s = ctx;
    if (s->n < 8) {
        snprintf(s->names[s->n], sizeof s->names[0], "%s", name);
        s->time_ms[s->n] = time_ms;
        s->hlc[s->n] = hlc;
    }
    s->n++;
    return 0;
}

/* A long history, checked as it arrives: sizes N-1 ... 0 newest first (the
 * file grew by one byte per write), each version older than the last. */
struct chain {
    int n, bad, stop_at;
    uint64_t size, hlc, ino;
};

static int on_chain(void *ctx, const cairn_version_t *v)
{
    struct chain *ch = ctx;
    if ((ch->n > 0 && v->hlc >= ch->hlc) || v->attr.size != ch->size || v->attr.ino != ch->ino) {
        if (ch->bad++ == 0)
            fprintf(stderr, "# version %d: size %llu hlc %llu after hlc %llu, want size %llu\n",
                    ch->n, (unsigned long long)v->attr.size, (unsigned long long)v->hlc,
                    (unsigned long long)ch->hlc, (unsigned long long)ch->size);
    }
    ch->hlc = v->hlc;
    ch->size = v->attr.size - (v->attr.size > 0);
    ch->n++;
    return ch->stop_at && ch->n == ch->stop_at ? 1 : 0;
}

/* Snapshots named "zz-PREFIX-NNNNN", checked as they arrive: in name order,
 * each number once, from 0 up. */
struct snap_run {
    const char *prefix;
    int n, bad;
    char last[256];
};

static int on_snap_run(void *ctx, const char *name, int64_t time_ms, uint64_t hlc)
{
    struct snap_run *r = ctx;
    char want[96];
    (void)time_ms, (void)hlc;
    if (strncmp(name, "zz-", 3) != 0 || strncmp(name + 3, r->prefix, strlen(r->prefix)) != 0)
        return 0; /* another run's */
    snprintf(want, sizeof want, "zz-%s-%05d", r->prefix, r->n);
    if (strcmp(name, want) != 0 || strcmp(name, r->last) <= 0) {
        if (r->bad++ == 0)
            fprintf(stderr, "# snapshot %d is '%s', want '%s'\n", r->n, name, want);
    }
    snprintf(r->last, sizeof r->last, "%s", name);
    r->n++;
    return 0;
}

static char SNAP[64];
static uint64_t SNAP_F; /* "/tour.PID/hist": "two2" at SNAP, "xy" now */

static void tour_history(void)
{
    begin("history (newest first)");
    uint64_t f = mk(TOP, "hist", S_IFREG | 0644, NULL);
    OK(cairn_write(C, V, f, 0, "one", 3, NULL));
    OK(cairn_write(C, V, f, 0, "two2", 4, NULL));
    char path[256];
    snprintf(path, sizeof path, "%s/hist", top);
    struct versions vs = {0};
    OK(cairn_history(C, V, path, on_version, &vs));
    EXPECT_U64(vs.n, 3);
    EXPECT_U64(vs.v[0].attr.size, 4);
    EXPECT_U64(vs.v[1].attr.size, 3);
    EXPECT_U64(vs.v[2].attr.size, 0);
    for (int i = 0; i < 3; i++) {
        EXPECT_U64(vs.v[i].origin, NODE);
        EXPECT_U64(vs.v[i].attr.ino, f);
        EXPECT(vs.v[i].time_ms > 0);
        if (i > 0) {
            EXPECT(vs.v[i].seq < vs.v[i - 1].seq);
            EXPECT(vs.v[i].hlc < vs.v[i - 1].hlc);
            EXPECT(vs.v[i].time_ms <= vs.v[i - 1].time_ms);
        }
    }
    struct versions one = {.stop_at = 1};
    OK(cairn_history(C, V, path, on_version, &one));
    EXPECT_U64(one.n, 1);
    snprintf(path, sizeof path, "%s/never-existed", top);
    EXPECT_RV(cairn_history(C, V, path, on_version, &vs), -ENOENT);
    pass();

    /* longer than a page (4096 versions, daemon/service.c): every version
     * once, in order, across the pages; a stop inside the second page */
    begin("history of 9,000 writes: paged, every version once, newest first");
    enum { LONG = 9000 };
    uint64_t g = mk(TOP, "long-history", S_IFREG | 0644, NULL);
    for (int i = 0; i < LONG; i++)
        OK(cairn_write(C, V, g, (uint64_t)i, "x", 1, NULL));
    snprintf(path, sizeof path, "%s/long-history", top);
    struct chain ch = {.size = LONG, .ino = g};
    OK(cairn_history(C, V, path, on_chain, &ch));
    EXPECT_U64(ch.n, LONG + 1); /* the writes and the create */
    EXPECT_U64(ch.bad, 0);
    struct chain part = {.size = LONG, .ino = g, .stop_at = 5000};
    OK(cairn_history(C, V, path, on_chain, &part));
    EXPECT_U64(part.n, 5000);
    EXPECT_U64(part.bad, 0);
    pass();

    begin("snapshot create/list, reads as of a snapshot and a time (cairn_at_t)");
    /* state A, captured by a snapshot */
    uint64_t sd = mk(TOP, "snapdir", S_IFDIR | 0755, NULL);
    uint64_t kept = file_with(sd, "kept", "kept-A", 6);
    uint64_t gone = file_with(sd, "gone", "gone-A", 6);
    cairn_attr_t la;
    OK(cairn_symlink(C, V, sd, "link", "target-A", 0, 0, &la));
    OK(cairn_setxattr(C, V, kept, "user.v", "A", 1, 0));
    snprintf(SNAP, sizeof SNAP, "tour-%d", (int)getpid());
    int64_t s0 = now_ns() / 1000000;
    OK(cairn_snapshot_create(C, V, SNAP));
    int64_t s1 = now_ns() / 1000000;
    EXPECT_RV(cairn_snapshot_create(C, V, SNAP), -EEXIST);
    EXPECT_RV(cairn_snapshot_create(C, "no-such-volume", "s"), -ENOENT);
    SNAP_F = f;
    sleep_ms(20);
    int64_t mark = now_ns() / 1000000; /* between A and B */
    sleep_ms(20);
    /* state B */
    OK(cairn_write(C, V, kept, 0, "kept-B-longer", 13, NULL));
    OK(cairn_setxattr(C, V, kept, "user.v", "B", 1, 0));
    OK(cairn_setxattr(C, V, kept, "user.new", "N", 1, 0));
    OK(cairn_unlink(C, V, sd, "gone"));
    OK(cairn_unlink(C, V, sd, "link"));
    file_with(sd, "added", "added-B", 7);
    cairn_setattr_t sa = {.mask = CAIRN_SET_SIZE, .size = 2};
    OK(cairn_write(C, V, f, 0, "xy", 2, NULL));
    OK(cairn_setattr(C, V, f, &sa, NULL));

    struct snaps ss = {0};
    OK(cairn_snapshot_list(C, V, on_snap, &ss));
    int found = -1;
    for (int i = 0; i < ss.n && i < 8; i++)
        if (strcmp(ss.names[i], SNAP) == 0)
            found = i;
    EXPECT(found >= 0);
    EXPECT(ss.time_ms[found] >= s0 - 1000 && ss.time_ms[found] <= s1 + 1000);
    EXPECT(ss.hlc[found] != 0);
    EXPECT_RV(cairn_snapshot_list(C, "no-such-volume", on_snap, &ss), -ENOENT);
    /* more than a page (4096, daemon/service.c): each once, in name order,
     * across the pages; named to sort after SNAP, which stays in the first 8 */
    enum { NSNAPS = 4200 };
    int64_t t0 = now_ns();
    for (int i = 0; i < NSNAPS; i++) {
        char name[96];
        snprintf(name, sizeof name, "zz-%s-%05d", SNAP, i);
        OK(cairn_snapshot_create(C, V, name));
    }
    struct snap_run run = {.prefix = SNAP};
    OK(cairn_snapshot_list(C, V, on_snap_run, &run));
    EXPECT_U64(run.n, NSNAPS);
    EXPECT_U64(run.bad, 0);
    printf("# %d snapshots made in %.1f s, listed in pages\n", NSNAPS,
           (double)(now_ns() - t0) / 1e9);

    cairn_at_t atS = {SNAP, 0}, atT = {NULL, mark}, now0 = {NULL, 0};
    const cairn_at_t *ats[] = {&atS, &atT};
    for (int w = 0; w < 2; w++) {
        const cairn_at_t *at = ats[w];
        char buf[64];
        size_t len;
        EXPECT_CONTENTS(kept, at, "kept-A");
        EXPECT_CONTENTS(gone, at, "gone-A");
        EXPECT_CONTENTS(f, at, "two2");
        cairn_attr_t a;
        OK(cairn_getattr(C, V, kept, at, &a));
        EXPECT_U64(a.size, 6);
        OK(cairn_lookup(C, V, sd, "gone", at, &a));
        EXPECT_U64(a.ino, gone);
        EXPECT_RV(cairn_lookup(C, V, sd, "added", at, &a), -ENOENT);
        char gpath[256];
        snprintf(gpath, sizeof gpath, "%s/snapdir/gone", top);
        OK(cairn_resolve(C, V, gpath, at, &a));
        EXPECT_U64(a.ino, gone);
        OK(cairn_readlink(C, V, la.ino, at, buf, sizeof buf));
        EXPECT(strcmp(buf, "target-A") == 0);
        OK(cairn_getxattr(C, V, kept, "user.v", at, buf, sizeof buf, &len));
        EXPECT(len == 1 && buf[0] == 'A');
        EXPECT_RV(cairn_getxattr(C, V, kept, "user.new", at, buf, sizeof buf, &len), -ENODATA);
        OK(cairn_listxattr(C, V, kept, at, buf, sizeof buf, &len));
        EXPECT(len == sizeof "user.v" && strcmp(buf, "user.v") == 0);
        OK(cairn_getattr(C, V, sd, at, &a));
        EXPECT_U64(a.size, 3); /* kept, gone, link */
    }
    /* now (a zeroed cairn_at_t is now) */
    EXPECT_CONTENTS(kept, &now0, "kept-B-longer");
    EXPECT_CONTENTS(f, NULL, "xy");
    cairn_attr_t a;
    EXPECT_RV(cairn_lookup(C, V, sd, "gone", &now0, &a), -ENOENT);
    EXPECT_U64(getattr(sd).size, 2);
    cairn_at_t bad = {"no-such-snapshot", 0}, both = {SNAP, mark}, long_ago = {NULL, 1000};
    EXPECT_RV(cairn_getattr(C, V, kept, &bad, &a), -ENOENT);
    EXPECT_RV(cairn_getattr(C, V, kept, &both, &a), -EINVAL);
    EXPECT_RV(cairn_lookup(C, V, CAIRN_ROOT_INO, top + 1, &long_ago, &a), -ENOENT);
    pass();
}

/* Names of a directory as of AT, joined by ','. */
struct names {
    char s[256];
};

static int on_name(void *ctx, const char *name, uint64_t ino, uint32_t type,
                   const cairn_attr_t *attr)
{
    (void)ino;
    (void)type;
    (void)attr;
    struct names *n = ctx;
    size_t l = strlen(n->s);
    snprintf(n->s + l, sizeof n->s - l, "%s%s", l ? "," : "", name);
    return 0;
}

static void tour_readdir_at(void)
{
    begin("readdir as of a snapshot and a time");
    uint64_t sd = lookup_ino(TOP, "snapdir", NULL);
    cairn_at_t atS = {SNAP, 0};
    struct names n1 = {{0}}, n2 = {{0}};
    OK(cairn_readdir(C, V, sd, &atS, NULL, 1, on_name, &n1));
    EXPECT(strcmp(n1.s, "gone,kept,link") == 0);
    OK(cairn_readdir(C, V, sd, NULL, NULL, 0, on_name, &n2));
    EXPECT(strcmp(n2.s, "added,kept") == 0);
    struct names n3 = {{0}};
    OK(cairn_readdir(C, V, sd, &atS, "gone", 0, on_name, &n3));
    EXPECT(strcmp(n3.s, "kept,link") == 0);
    pass();
}

static void tour_reindex(void)
{
    begin("node reindex, then everything reads back the same");
    OK(cairn_node_reindex(C));
    size_t got;
    uint8_t *big = xmalloc(BIG_LEN);
    OK(cairn_read(C, V, BIG, 0, BIG_LEN, big, NULL, &got));
    EXPECT_U64(got, BIG_LEN);
    EXPECT_PAT(big, 0, BIG_LEN, 16);
    OK(cairn_read(C, V, SPARSE, SPARSE_OFF - 4096, 8192, big, NULL, &got));
    EXPECT_U64(got, 8192);
    EXPECT_ZEROS(big, SPARSE_OFF - 4096, 4096);
    EXPECT_PAT(big + 4096, SPARSE_OFF, 4096, 5);
    free(big);
    uint64_t d = lookup_ino(TOP, "many", NULL);
    struct listing l = {.dir = d};
    OK(cairn_readdir(C, V, d, NULL, NULL, 1, on_entry, &l));
    EXPECT_U64(l.n, MANY - 2);
    cairn_at_t atS = {SNAP, 0};
    EXPECT_CONTENTS(SNAP_F, &atS, "two2");
    EXPECT_CONTENTS(SNAP_F, NULL, "xy");
    char path[256];
    snprintf(path, sizeof path, "%s/hist", top);
    struct versions vs = {0};
    OK(cairn_history(C, V, path, on_version, &vs));
    EXPECT(vs.n >= 5);
    cairn_node_status_t st;
    OK(cairn_node_status(C, &st));
    EXPECT_U64(st.checksum_errors, 0);
    pass();
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: tour ADDR VOLUME\n");
        return 2;
    }
    V = argv[2];
    OK(cairn_connect(&C, argv[1]));
    cairn_set_timeout(C, 120000);
    snprintf(top, sizeof top, "/tour.%d", (int)getpid());
    begin("setup");
    TOP = mk(CAIRN_ROOT_INO, top + 1, S_IFDIR | 0755, NULL);

    tour_admin();
    tour_errors();
    tour_mknod();
    tour_setattr();
    tour_symlink();
    tour_remove();
    tour_rename();
    tour_link();
    tour_readdir();
    tour_data();
    tour_xattr();
    tour_history();
    tour_readdir_at();
    tour_reindex();

    cairn_disconnect(C);
    if (defects) {
        printf("not ok - tour complete, %d check(s) failed (not ok lines above)\n", defects);
        return 1;
    }
    printf("ok - tour complete\n");
    return 0;
}
