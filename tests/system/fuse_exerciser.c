/*
 * fuse_exerciser.c — a seeded random file exerciser: the same random writes,
 * reads, truncates, appends, renames, creates, unlinks and reopens on a few
 * files in a cairn mount and on twin files in a local directory, comparing
 * the bytes after every read.
 *
 *   fuse_exerciser CAIRN_DIR LOCAL_DIR [OPS]      (OPS: default 20000)
 *   CAIRN_SEED=N fuse_exerciser ...               reruns one sequence
 *
 * Prints the seed first. The local directory is the reference: every call's
 * result and errno must match it, every read must return the same bytes.
 * On the first difference it prints "FAIL: op N: ..." with the last 24
 * operations (enough to replay by hand) and exits 1. At the end it compares
 * every name and every file's whole contents through fresh descriptors, and
 * prints one "ok - ..." line per phase. Now and then the cairn side's page
 * cache is dropped (fsync + POSIX_FADV_DONTNEED) so that reads come from
 * cairnd rather than from the kernel.
 *
 * Files stay under 2 MiB, so a run writes a bounded amount (about 200 MB).
 * Single-threaded; every loop is bounded by OPS or a fixed count.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NNAMES 6
#define MAXSIZE (2L << 20)
#define LOGN 24

struct twin {
    int present;
    int fd[2];  /* O_RDWR, per side; -1 when closed */
    int afd[2]; /* O_APPEND, opened on demand */
};

static const char *dir[2];
static struct twin t[NNAMES];
static char *wbuf, *rbuf[2];
static uint64_t rng;
static long op;
static char oplog[LOGN][160];

static uint64_t next(void)
{
    /* splitmix64: small, seedable, good enough for choosing operations */
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static long rnd(long n) /* 0..n-1 */
{
    return n > 0 ? (long)(next() % (uint64_t)n) : 0;
}

static void logop(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(oplog[op % LOGN], sizeof oplog[0], fmt, ap);
    va_end(ap);
}

static void fail(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "FAIL: op %ld: ", op);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nlast operations (oldest first):\n");
    for (long i = op - LOGN + 1; i <= op; i++)
        if (i >= 0)
            fprintf(stderr, "  %6ld %s\n", i, oplog[i % LOGN]);
    exit(1);
}

static void path(char *out, size_t n, int side, int name)
{
    snprintf(out, n, "%s/f%d", dir[side], name);
}

/* Both sides' results of one call must agree (value, or errno). */
static void agree(const char *what, long r0, int e0, long r1, int e1)
{
    if (r0 != r1 || (r0 < 0 && e0 != e1))
        fail("%s: cairn %ld (%s), local %ld (%s)", what, r0, r0 < 0 ? strerror(e0) : "ok", r1,
             r1 < 0 ? strerror(e1) : "ok");
    if (r1 < 0)
        fail("%s failed on both sides: %s", what, strerror(e1));
}

static void close_twin(int i)
{
    for (int s = 0; s < 2; s++) {
        if (t[i].fd[s] >= 0 && close(t[i].fd[s]) != 0)
            fail("close f%d on side %d: %s", i, s, strerror(errno));
        if (t[i].afd[s] >= 0 && close(t[i].afd[s]) != 0)
            fail("close (append) f%d on side %d: %s", i, s, strerror(errno));
        t[i].fd[s] = t[i].afd[s] = -1;
    }
}

static void open_twin(int i, int flags)
{
    long r[2];
    int e[2];
    for (int s = 0; s < 2; s++) {
        char p[4200];
        path(p, sizeof p, s, i);
        errno = 0;
        r[s] = t[i].fd[s] = open(p, O_RDWR | flags, 0644);
        e[s] = errno;
    }
    if ((r[0] < 0) != (r[1] < 0) || (r[0] < 0 && e[0] != e[1]) || r[1] < 0)
        fail("open f%d (flags 0x%x): cairn %ld (%s), local %ld (%s)", i, flags, r[0],
             strerror(e[0]), r[1], strerror(e[1]));
}

static long size_of(int i)
{
    struct stat st;
    if (fstat(t[i].fd[1], &st) != 0)
        fail("fstat local f%d: %s", i, strerror(errno));
    return st.st_size;
}

static void fill(long len)
{
    uint64_t x = next();
    for (long k = 0; k < len; k += 8) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        memcpy(wbuf + k, &x, len - k >= 8 ? 8 : (size_t)(len - k));
    }
}

static long write_len(long room)
{
    long r = rnd(100), len;
    if (r < 55)
        len = 1 + rnd(512);
    else if (r < 93)
        len = 1 + rnd(64 << 10);
    else
        len = (64 << 10) + rnd(448 << 10);
    return len < room ? len : room;
}

static void cmp_read(const char *what, int i, long off, long n0, long n1)
{
    (void)i;
    if (n0 != n1)
        fail("%s: cairn read %ld bytes, local %ld", what, n0, n1);
    for (long k = 0; k < n1; k++)
        if (rbuf[0][k] != rbuf[1][k])
            fail("%s: byte at offset %ld differs: cairn 0x%02x, local 0x%02x", what, off + k,
                 (unsigned char)rbuf[0][k], (unsigned char)rbuf[1][k]);
}

static int pick_present(void)
{
    int start = (int)rnd(NNAMES);
    for (int k = 0; k < NNAMES; k++)
        if (t[(start + k) % NNAMES].present)
            return (start + k) % NNAMES;
    return -1;
}

static void do_create(int i)
{
    logop("create f%d", i);
    open_twin(i, O_CREAT | O_EXCL);
    t[i].present = 1;
}

static void do_write(int i)
{
    long size = size_of(i);
    long off = rnd(size + (64 << 10) + 1);
    if (off >= MAXSIZE)
        off = rnd(MAXSIZE);
    long len = write_len(MAXSIZE - off);
    if (len <= 0)
        return;
    fill(len);
    logop("pwrite f%d off %ld len %ld (size %ld)", i, off, len, size);
    long r[2];
    int e[2];
    for (int s = 0; s < 2; s++) {
        errno = 0;
        r[s] = pwrite(t[i].fd[s], wbuf, (size_t)len, off);
        e[s] = errno;
    }
    agree("pwrite", r[0], e[0], r[1], e[1]);
}

static void do_append(int i)
{
    long size = size_of(i);
    long len = write_len(MAXSIZE - size);
    if (len <= 0)
        return;
    fill(len);
    logop("append f%d len %ld (size %ld)", i, len, size);
    long r[2];
    int e[2];
    for (int s = 0; s < 2; s++) {
        if (t[i].afd[s] < 0) {
            char p[4200];
            path(p, sizeof p, s, i);
            if ((t[i].afd[s] = open(p, O_WRONLY | O_APPEND)) < 0)
                fail("open O_APPEND f%d side %d: %s", i, s, strerror(errno));
        }
        errno = 0;
        r[s] = write(t[i].afd[s], wbuf, (size_t)len);
        e[s] = errno;
    }
    agree("append", r[0], e[0], r[1], e[1]);
}

static void do_read(int i, int fresh)
{
    long size = size_of(i);
    long off = rnd(size + 4097);
    long len = rnd(100) < 70 ? 1 + rnd(8192) : 1 + rnd(256 << 10);
    logop("%s f%d off %ld len %ld (size %ld)", fresh ? "fresh-fd pread" : "pread", i, off, len,
          size);
    long r[2];
    int e[2];
    for (int s = 0; s < 2; s++) {
        int fd = t[i].fd[s];
        if (fresh) {
            char p[4200];
            path(p, sizeof p, s, i);
            if ((fd = open(p, O_RDONLY)) < 0)
                fail("open O_RDONLY f%d side %d: %s", i, s, strerror(errno));
        }
        errno = 0;
        r[s] = pread(fd, rbuf[s], (size_t)len, off);
        e[s] = errno;
        if (fresh)
            close(fd);
    }
    agree("pread", r[0], e[0], r[1], e[1]);
    cmp_read("pread", i, off, r[0], r[1]);
}

static void do_truncate(int i)
{
    long size = size_of(i), ns;
    long r = rnd(10);
    if (r == 0)
        ns = 0;
    else if (r < 5)
        ns = size > 0 ? rnd(size) : 0; /* down */
    else
        ns = size + rnd(MAXSIZE - size); /* up (or the same) */
    int by_path = rnd(2) == 0;
    logop("%s f%d to %ld (size %ld)", by_path ? "truncate" : "ftruncate", i, ns, size);
    long rv[2];
    int e[2];
    for (int s = 0; s < 2; s++) {
        char p[4200];
        path(p, sizeof p, s, i);
        errno = 0;
        rv[s] = by_path ? truncate(p, ns) : ftruncate(t[i].fd[s], ns);
        e[s] = errno;
    }
    agree("truncate", rv[0], e[0], rv[1], e[1]);
}

/* open(O_TRUNC) and write new contents, as `cmd > file` does */
static void do_rewrite(int i)
{
    long len = write_len(MAXSIZE);
    fill(len);
    logop("open O_TRUNC f%d, write %ld, close", i, len);
    long r[2];
    int e[2];
    for (int s = 0; s < 2; s++) {
        char p[4200];
        path(p, sizeof p, s, i);
        int fd = open(p, O_WRONLY | O_TRUNC);
        if (fd < 0)
            fail("open O_TRUNC f%d side %d: %s", i, s, strerror(errno));
        errno = 0;
        r[s] = write(fd, wbuf, (size_t)len);
        e[s] = errno;
        if (close(fd) != 0)
            fail("close after O_TRUNC write f%d side %d: %s", i, s, strerror(errno));
    }
    agree("write after O_TRUNC", r[0], e[0], r[1], e[1]);
}

static void do_rename(int i, int j)
{
    logop("rename f%d -> f%d%s", i, j, t[j].present ? " (replacing)" : "");
    long r[2];
    int e[2];
    for (int s = 0; s < 2; s++) {
        char a[4200], b[4200];
        path(a, sizeof a, s, i);
        path(b, sizeof b, s, j);
        errno = 0;
        r[s] = rename(a, b);
        e[s] = errno;
    }
    agree("rename", r[0], e[0], r[1], e[1]);
    if (t[j].present)
        close_twin(j);
    t[j] = t[i]; /* the descriptors follow the inode */
    t[i].present = 0;
    for (int s = 0; s < 2; s++)
        t[i].fd[s] = t[i].afd[s] = -1;
}

static void do_unlink(int i)
{
    logop("unlink f%d", i);
    long r[2];
    int e[2];
    for (int s = 0; s < 2; s++) {
        char p[4200];
        path(p, sizeof p, s, i);
        errno = 0;
        r[s] = unlink(p);
        e[s] = errno;
    }
    agree("unlink", r[0], e[0], r[1], e[1]);
    close_twin(i);
    t[i].present = 0;
}

static void do_sync(int i, int drop)
{
    int data = rnd(2) == 0;
    logop("%s f%d%s", data ? "fdatasync" : "fsync", i, drop ? " + drop the page cache" : "");
    long r[2];
    int e[2];
    for (int s = 0; s < 2; s++) {
        errno = 0;
        r[s] = data ? fdatasync(t[i].fd[s]) : fsync(t[i].fd[s]);
        e[s] = errno;
    }
    agree("fsync", r[0], e[0], r[1], e[1]);
    if (drop && posix_fadvise(t[i].fd[0], 0, 0, POSIX_FADV_DONTNEED) != 0)
        fail("posix_fadvise DONTNEED f%d", i);
}

static void do_stat(int i)
{
    logop("stat f%d (fstat and by path)", i);
    for (int by_path = 0; by_path < 2; by_path++) {
        struct stat st[2];
        for (int s = 0; s < 2; s++) {
            char p[4200];
            path(p, sizeof p, s, i);
            if ((by_path ? stat(p, &st[s]) : fstat(t[i].fd[s], &st[s])) != 0)
                fail("%s f%d side %d: %s", by_path ? "stat" : "fstat", i, s, strerror(errno));
        }
        if (st[0].st_size != st[1].st_size)
            fail("%s f%d: size cairn %ld, local %ld", by_path ? "stat" : "fstat", i,
                 (long)st[0].st_size, (long)st[1].st_size);
        if (st[0].st_nlink != 1)
            fail("%s f%d: nlink %lu on cairn", by_path ? "stat" : "fstat", i,
                 (unsigned long)st[0].st_nlink);
    }
}

/* Every name present on one side is present on the other with the same
 * bytes, read through fresh descriptors. Returns the bytes compared. */
static long compare_all(void)
{
    long total = 0;
    for (int i = 0; i < NNAMES; i++) {
        int fd[2];
        for (int s = 0; s < 2; s++) {
            char p[4200];
            path(p, sizeof p, s, i);
            fd[s] = open(p, O_RDONLY);
            if (fd[s] < 0 && errno != ENOENT)
                fail("final compare: open f%d side %d: %s", i, s, strerror(errno));
        }
        if ((fd[0] < 0) != (fd[1] < 0) || (fd[1] >= 0) != t[i].present)
            fail("final compare: f%d exists on cairn %d, local %d, expected %d", i, fd[0] >= 0,
                 fd[1] >= 0, t[i].present);
        if (fd[1] < 0)
            continue;
        for (long off = 0, k = 0; k < (MAXSIZE >> 16) + 2; k++) {
            ssize_t n0 = pread(fd[0], rbuf[0], 1 << 16, off);
            ssize_t n1 = pread(fd[1], rbuf[1], 1 << 16, off);
            if (n0 < 0 || n1 < 0)
                fail("final compare: read f%d: %s", i, strerror(errno));
            cmp_read("final compare", i, off, n0, n1);
            if (n1 == 0)
                break;
            off += n1;
            total += n1;
        }
        close(fd[0]);
        close(fd[1]);
    }
    return total;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: [CAIRN_SEED=N] fuse_exerciser CAIRN_DIR LOCAL_DIR [OPS]\n");
        return 2;
    }
    dir[0] = argv[1];
    dir[1] = argv[2];
    long ops = argc == 4 ? atol(argv[3]) : 20000;
    const char *env = getenv("CAIRN_SEED");
    uint64_t seed;
    if (env && *env) {
        seed = strtoull(env, NULL, 10);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = ((uint64_t)ts.tv_sec * 1000003u) ^ (uint64_t)ts.tv_nsec ^ (uint64_t)getpid();
        seed %= 1000000000000ull;
    }
    rng = seed;
    printf("# seed %llu (rerun with CAIRN_SEED=%llu)\n", (unsigned long long)seed,
           (unsigned long long)seed);
    fflush(stdout);
    wbuf = malloc(MAXSIZE);
    rbuf[0] = malloc(MAXSIZE);
    rbuf[1] = malloc(MAXSIZE);
    if (!wbuf || !rbuf[0] || !rbuf[1])
        return 1;
    for (int i = 0; i < NNAMES; i++)
        t[i].fd[0] = t[i].fd[1] = t[i].afd[0] = t[i].afd[1] = -1;

    long reads = 0, counts[12] = {0};
    for (op = 0; op < ops; op++) {
        int i = pick_present(), present = 0;
        for (int k = 0; k < NNAMES; k++)
            present += t[k].present;
        long r = rnd(1000);
        /* creates keep about half the names in use */
        if (i < 0 || (r < (present < NNAMES / 2 ? 200 : 15) && !t[r % NNAMES].present)) {
            int j = i < 0 ? (int)rnd(NNAMES) : (int)(r % NNAMES);
            if (!t[j].present) {
                do_create(j);
                counts[0]++;
                continue;
            }
        }
        if (r < 300) {
            do_write(i), counts[1]++;
        } else if (r < 560) {
            do_read(i, 0), counts[2]++, reads++;
        } else if (r < 610) {
            do_read(i, 1), counts[2]++, reads++;
        } else if (r < 690) {
            do_truncate(i), counts[3]++;
        } else if (r < 770) {
            do_append(i), counts[4]++;
        } else if (r < 800) {
            do_rewrite(i), counts[5]++;
        } else if (r < 840) {
            int j = (i + 1 + (int)rnd(NNAMES - 1)) % NNAMES;
            do_rename(i, j), counts[6]++;
        } else if (r < 855) {
            do_unlink(i), counts[7]++;
        } else if (r < 895) {
            logop("close and reopen f%d", i);
            close_twin(i);
            open_twin(i, 0);
            counts[8]++;
        } else if (r < 925) {
            do_sync(i, 0), counts[9]++;
        } else if (r < 955) {
            do_sync(i, 1), counts[10]++;
        } else {
            do_stat(i), counts[11]++;
        }
    }
    printf("ok - %ld random operations, all results agree and all %ld reads returned the local "
           "bytes (%ld creates, %ld writes, %ld reads, %ld truncates, %ld appends, %ld O_TRUNC "
           "rewrites, %ld renames, %ld unlinks, %ld reopens, %ld fsyncs, %ld cache drops, %ld "
           "stats)\n",
           ops, reads, counts[0], counts[1], counts[2], counts[3], counts[4], counts[5], counts[6],
           counts[7], counts[8], counts[9], counts[10], counts[11]);
    for (int i = 0; i < NNAMES; i++)
        if (t[i].present) {
            do_sync(i, 1);
            close_twin(i);
        }
    long total = compare_all();
    int n = 0;
    for (int i = 0; i < NNAMES; i++)
        n += t[i].present;
    printf("ok - final compare: %d files, %ld bytes, identical through fresh descriptors\n", n,
           total);
    free(wbuf);
    free(rbuf[0]);
    free(rbuf[1]);
    return 0;
}
