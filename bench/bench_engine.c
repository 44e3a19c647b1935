/*
 * bench_engine.c — the storage engine benchmark: cairn's engine (engine.h,
 * fsops.h) against plain POSIX file calls in the same directory, so both sides
 * see the same filesystem, disk and page cache.
 *
 *   bench_engine DIR [--size BYTES] [--only WORKLOAD]
 *
 * BYTES may end in K, M or G (binary); WORKLOAD is seq_write, rand_write
 * (which also gives write_amp), small_files or rss_growth, to run one alone
 * (for perf record and the like).
 *
 * Output: one line per figure, "NAME cairn=X baseline=Y unit=U ratio=R", with
 * R = cairn/baseline unless a '#' line says otherwise (lower-is-better units
 * print baseline/cairn so that a higher ratio is always better), plus '#'
 * comment lines. Figures:
 *   seq_write    SIZE bytes in 1 MiB fs_write calls + fs_fsync vs pwrite +
 *                fsync; 3 runs in alternating order, medians; MB/s
 *   rand_write   aligned 4 KiB overwrites of a 256 MiB file, a sync every 64
 *                writes (fs_fsync vs fdatasync); writes/s
 *   write_amp    chunk bytes appended / user bytes of that rand_write run
 *   small_files  10,000 files of 4 KiB in 100 directories, one sync at the
 *                end (fs_fsync vs syncfs + fsync of the directories); files/s
 *   rss_growth   VmRSS after writing 2*SIZE bytes vs after SIZE/4 bytes
 *                (256 MiB and 2 GiB at the default SIZE) through one engine
 *
 * Invariants:
 * (1) a benchmark never fails on speed: the exit status is non-zero only when
 *     an operation fails (must()), never because of a figure;
 * (2) every workload runs once untimed first (warm-up), and right before each
 *     timed region prefault() (bench_prefault) puts as many bytes in the page cache as the
 *     region will and drops them: this VM reports free memory back to its
 *     host (free page reporting, ~2 s after it is freed), and a reported page
 *     costs ~10x more on its next first touch (1 GiB into the page cache:
 *     ~0.3 s on reused pages, ~3 s on reported ones). Without it the figures
 *     measure which side happened to get reused pages, not cairn;
 * (3) both sides do the same user-visible work with the same sync points;
 *     cairn's engine, index and chunk setup are outside the timed region;
 * (4) every timed region is measured with CLOCK_MONOTONIC;
 * (5) each workload owns its sub-directory of DIR and removes it when done,
 *     so no run sees the files of another ("drop both files between runs").
 * Threads: one (the engine runs its own RocksDB threads).
 * Errors: a failed call prints what failed and exits 1 at once (must(),
 * bench_util.h).
 */
#include "attr.h"
#include "bench_beng.h"
#include "bench_util.h"
#include "cairn_err.h"
#include "cairn_size.h"
#include "engine.h"
#include "fsops.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define SEQ_IO MIB /* bytes per sequential write call */
#define SEQ_RUNS 3 /* timed seq_write runs per side */
#define RAND_FILE (256 * MIB)
#define RAND_IO 4096u /* bytes per random write, aligned to itself */
#define RAND_WRITES 20000u
#define RAND_WARM 2000u /* untimed random writes before the timed ones */
#define RAND_SYNC 64u   /* writes per sync */
#define SMALL_FILES 10000u
#define SMALL_DIRS 100u
#define SMALL_IO 4096u
#define SMALL_WARM 1000u           /* files in the untimed small_files warm-up */
#define PREFAULT_SLACK (128 * MIB) /* index, metadata, allocator slack */
#define SEED BENCH_SEED

/* ---- helpers ---- */

/* Writes SIZE bytes to INO from OFF in SEQ_IO calls, cycling through BUF. */
static void beng_fill(struct beng *b, uint64_t ino, uint64_t off, uint64_t size, const uint8_t *buf)
{
    for (uint64_t done = 0; done < size;) {
        size_t n = size - done < SEQ_IO ? (size_t)(size - done) : SEQ_IO;
        must(fs_write(b->v, ino, off + done, buf, n, NULL), "fs_write");
        done += n;
    }
}

static uint64_t appended(struct beng *b)
{
    struct engine_stats st;
    engine_stats(b->e, &st);
    return st.bytes_appended;
}

/* (2) */
static void prefault(const char *dir, uint64_t bytes, const uint8_t *buf)
{
    bench_prefault(dir, bytes, buf, SEQ_IO);
}

/* ---- 1. seq_write ---- */

/* One timed sequential run: MB/s, and the seconds spent in the write calls
 * and in the final sync. */
struct seq_run {
    double mbs, write_s, sync_s;
};

/* SIZE bytes written through the engine and fs_fsync'ed. */
static struct seq_run seq_cairn(const char *dir, uint64_t size, const uint8_t *buf)
{
    char *edir = path_join(dir, "seq-cairn");
    struct beng b;
    beng_open(&b, edir, 2, beng_chunk_cap(size));
    uint64_t ino = beng_mknod(&b, ROOT_INO, "seq", S_IFREG | 0644);
    prefault(dir, size + PREFAULT_SLACK, buf);
    double t0 = now_s();
    beng_fill(&b, ino, 0, size, buf);
    double t1 = now_s();
    must(fs_fsync(b.v), "fs_fsync");
    double t2 = now_s();
    beng_close(&b);
    free(edir);
    return (struct seq_run){(double)size / 1e6 / (t2 - t0), t1 - t0, t2 - t1};
}

/* SIZE bytes pwritten to a plain file and fsync'ed. */
static struct seq_run seq_plain(const char *dir, uint64_t size, const uint8_t *buf)
{
    char *path = path_join(dir, "seq-plain");
    int fd = plain_create(path);
    prefault(dir, size + PREFAULT_SLACK, buf);
    double t0 = now_s();
    plain_fill(fd, size, buf, SEQ_IO);
    double t1 = now_s();
    must_sys(fsync(fd), "fsync", path);
    double t2 = now_s();
    close(fd);
    must_sys(unlink(path), "unlink", path);
    free(path);
    return (struct seq_run){(double)size / 1e6 / (t2 - t0), t1 - t0, t2 - t1};
}

/* The run of R[0..2] with the median MB/s. */
static const struct seq_run *seq_median(const struct seq_run r[3])
{
    double m = median3(r[0].mbs, r[1].mbs, r[2].mbs);
    for (int i = 0; i < 2; i++)
        if (r[i].mbs == m)
            return &r[i];
    return &r[2];
}

static void bench_seq(const char *dir, uint64_t size, const uint8_t *buf)
{
    seq_cairn(dir, size, buf); /* (2) */
    seq_plain(dir, size, buf);
    struct seq_run c[SEQ_RUNS], p[SEQ_RUNS];
    for (int i = 0; i < SEQ_RUNS; i++) {
        if (i % 2 == 0) {
            c[i] = seq_cairn(dir, size, buf);
            p[i] = seq_plain(dir, size, buf);
        } else {
            p[i] = seq_plain(dir, size, buf);
            c[i] = seq_cairn(dir, size, buf);
        }
    }
    const struct seq_run *mc = seq_median(c), *mp = seq_median(p);
    printf("# seq_write: %" PRIu64 " bytes in %" PRIu64 "-byte calls + one sync; runs (MB/s) "
           "cairn %.1f %.1f %.1f, baseline %.1f %.1f %.1f (alternating order); medians; "
           "median runs spent (s) cairn write %.2f + sync %.2f, baseline write %.2f + sync %.2f\n",
           size, SEQ_IO, c[0].mbs, c[1].mbs, c[2].mbs, p[0].mbs, p[1].mbs, p[2].mbs, mc->write_s,
           mc->sync_s, mp->write_s, mp->sync_s);
    printf("seq_write cairn=%.1f baseline=%.1f unit=MB/s ratio=%.2f\n", mc->mbs, mp->mbs,
           mc->mbs / mp->mbs);
    fflush(stdout);
}

/* ---- 2, 3. rand_write and write_amp ---- */

static uint64_t rand_off(uint64_t *s)
{
    return (xorshift(s) % (RAND_FILE / RAND_IO)) * RAND_IO;
}

/* Data for the Ith random write: a 4 KiB slice of BUF (SEQ_IO bytes). */
static const uint8_t *rand_data(const uint8_t *buf, uint32_t i)
{
    return buf + (size_t)(i % (SEQ_IO / RAND_IO)) * RAND_IO;
}

static void rand_cairn_run(struct beng *b, uint64_t ino, uint64_t *s, uint32_t n,
                           const uint8_t *buf)
{
    for (uint32_t i = 0; i < n; i++) {
        must(fs_write(b->v, ino, rand_off(s), rand_data(buf, i), RAND_IO, NULL), "fs_write");
        if ((i + 1) % RAND_SYNC == 0 || i + 1 == n)
            must(fs_fsync(b->v), "fs_fsync");
    }
}

static void rand_plain_run(int fd, uint64_t *s, uint32_t n, const uint8_t *buf)
{
    for (uint32_t i = 0; i < n; i++) {
        plain_pwrite(fd, rand_data(buf, i), RAND_IO, rand_off(s));
        if ((i + 1) % RAND_SYNC == 0 || i + 1 == n)
            must_sys(fdatasync(fd), "fdatasync", "rand-plain");
    }
}

static void bench_rand(const char *dir, const uint8_t *buf)
{
    /* cairn: a 256 MiB file written and synced untimed, then the warm-up. */
    char *edir = path_join(dir, "rand-cairn");
    struct beng b;
    beng_open(&b, edir, 2, GIB);
    uint64_t ino = beng_mknod(&b, ROOT_INO, "rand", S_IFREG | 0644);
    beng_fill(&b, ino, 0, RAND_FILE, buf);
    must(fs_fsync(b.v), "fs_fsync");
    uint64_t s = SEED;
    rand_cairn_run(&b, ino, &s, RAND_WARM, buf); /* (2) */
    uint64_t a0 = appended(&b);
    prefault(dir, RAND_FILE + PREFAULT_SLACK, buf);
    double t0 = now_s();
    rand_cairn_run(&b, ino, &s, RAND_WRITES, buf);
    double tc = now_s() - t0;
    uint64_t app = appended(&b) - a0;
    beng_close(&b);
    free(edir);

    /* baseline: the same file size, offsets and sync points on a plain file. */
    char *path = path_join(dir, "rand-plain");
    int fd = plain_create(path);
    plain_fill(fd, RAND_FILE, buf, SEQ_IO);
    must_sys(fsync(fd), "fsync", path);
    s = SEED;
    rand_plain_run(fd, &s, RAND_WARM, buf); /* (2) */
    prefault(dir, RAND_FILE + PREFAULT_SLACK, buf);
    t0 = now_s();
    rand_plain_run(fd, &s, RAND_WRITES, buf);
    double tp = now_s() - t0;
    close(fd);
    must_sys(unlink(path), "unlink", path);
    free(path);

    double wc = RAND_WRITES / tc, wp = RAND_WRITES / tp;
    printf("# rand_write: %u aligned %u-byte overwrites at random offsets of a %" PRIu64
           " MiB file, a sync every %u writes (fs_fsync vs fdatasync), after %u untimed\n",
           RAND_WRITES, RAND_IO, RAND_FILE / MIB, RAND_SYNC, RAND_WARM);
    printf("rand_write cairn=%.0f baseline=%.0f unit=writes/s ratio=%.2f\n", wc, wp, wc / wp);
    double user = (double)RAND_WRITES * RAND_IO, amp = (double)app / user;
    printf("# write_amp: chunk bytes appended (engine_stats bytes_appended delta, %" PRIu64
           ") / user bytes (%.0f) over the timed rand_write run; the raw file is 1.00; "
           "lower is better, so ratio = baseline/cairn (higher better)\n",
           app, user);
    printf("write_amp cairn=%.2f baseline=1.00 unit=x ratio=%.2f\n", amp, 1.0 / amp);
    fflush(stdout);
}

/* ---- 4. small_files ---- */

/* Seconds to create, under a new directory TOP of the root, NDIRS directories
 * and NFILES files of SMALL_IO bytes spread over them, then fs_fsync. DIR is
 * the workload's directory (for prefault). */
static double small_cairn(struct beng *b, const char *dir, const char *top, uint32_t ndirs,
                          uint32_t nfiles, const uint8_t *buf)
{
    uint64_t *dirs = alloc_or_die(ndirs * sizeof *dirs);
    char name[32];
    prefault(dir, (uint64_t)nfiles * SMALL_IO * 2 + PREFAULT_SLACK, buf);
    double t0 = now_s();
    uint64_t t = beng_mknod(b, ROOT_INO, top, S_IFDIR | 0755);
    for (uint32_t d = 0; d < ndirs; d++) {
        snprintf(name, sizeof name, "d%03u", d);
        dirs[d] = beng_mknod(b, t, name, S_IFDIR | 0755);
    }
    for (uint32_t i = 0; i < nfiles; i++) {
        snprintf(name, sizeof name, "f%05u", i);
        uint64_t ino = beng_mknod(b, dirs[i % ndirs], name, S_IFREG | 0644);
        must(fs_write(b->v, ino, 0, rand_data(buf, i), SMALL_IO, NULL), "fs_write %s", name);
    }
    must(fs_fsync(b->v), "fs_fsync");
    double sec = now_s() - t0;
    free(dirs);
    return sec;
}

/* The same with real files under DIR/TOP: open + write + close each, then
 * syncfs and an fsync of every directory. */
static double small_plain(const char *dir, const char *top, uint32_t ndirs, uint32_t nfiles,
                          const uint8_t *buf)
{
    char *t = path_join(dir, top);
    char **dirs = alloc_or_die(ndirs * sizeof *dirs);
    char name[32];
    rmrf(t);
    prefault(dir, (uint64_t)nfiles * SMALL_IO * 2 + PREFAULT_SLACK, buf);
    double t0 = now_s();
    must_sys(mkdir(t, 0755), "mkdir", t);
    for (uint32_t d = 0; d < ndirs; d++) {
        snprintf(name, sizeof name, "d%03u", d);
        dirs[d] = path_join(t, name);
        must_sys(mkdir(dirs[d], 0755), "mkdir", dirs[d]);
    }
    for (uint32_t i = 0; i < nfiles; i++) {
        snprintf(name, sizeof name, "f%05u", i);
        char *p = path_join(dirs[i % ndirs], name);
        int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        must_sys(fd, "open", p);
        plain_pwrite(fd, rand_data(buf, i), SMALL_IO, 0);
        must_sys(close(fd), "close", p);
        free(p);
    }
    int tfd = open(t, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    must_sys(tfd, "open", t);
    must_sys(syncfs(tfd), "syncfs", t);
    for (uint32_t d = 0; d < ndirs; d++) {
        int fd = open(dirs[d], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        must_sys(fd, "open", dirs[d]);
        must_sys(fsync(fd), "fsync", dirs[d]);
        close(fd);
    }
    must_sys(fsync(tfd), "fsync", t);
    close(tfd);
    double sec = now_s() - t0;
    for (uint32_t d = 0; d < ndirs; d++)
        free(dirs[d]);
    free(dirs);
    rmrf(t);
    free(t);
    return sec;
}

static void bench_small(const char *dir, const uint8_t *buf)
{
    char *edir = path_join(dir, "small-cairn");
    struct beng b;
    beng_open(&b, edir, 1, GIB);
    small_cairn(&b, dir, "warm", SMALL_DIRS / 10, SMALL_WARM, buf); /* (2) */
    double tc = small_cairn(&b, dir, "run", SMALL_DIRS, SMALL_FILES, buf);
    beng_close(&b);
    free(edir);

    char *pdir = path_join(dir, "small-plain");
    mkdir_or_die(pdir);
    small_plain(pdir, "warm", SMALL_DIRS / 10, SMALL_WARM, buf); /* (2) */
    double tp = small_plain(pdir, "run", SMALL_DIRS, SMALL_FILES, buf);
    rmrf(pdir);
    free(pdir);

    double fc = SMALL_FILES / tc, fp = SMALL_FILES / tp;
    printf("# small_files: %u files of %u bytes in %u directories (fs_mknod + fs_write, one "
           "fs_fsync vs open/write/close, syncfs + directory fsyncs), directory creation "
           "included\n",
           SMALL_FILES, SMALL_IO, SMALL_DIRS);
    printf("small_files cairn=%.0f baseline=%.0f unit=files/s ratio=%.2f\n", fc, fp, fc / fp);
    fflush(stdout);
}

/* ---- 5. rss_growth ---- */

static void bench_rss(const char *dir, uint64_t size, const uint8_t *buf)
{
    uint64_t big = 2 * size, small = big / 8;
    char *edir = path_join(dir, "rss-cairn");
    struct beng b;
    beng_open(&b, edir, 2, beng_chunk_cap(big / 2));
    uint64_t ino = beng_mknod(&b, ROOT_INO, "rss", S_IFREG | 0644);
    /* (2): the first SMALL bytes are the warm-up; RSS is compared after it. */
    beng_fill(&b, ino, 0, small, buf);
    must(fs_fsync(b.v), "fs_fsync");
    double r_small = proc_status_mib(0, "VmRSS");
    beng_fill(&b, ino, small, big - small, buf);
    must(fs_fsync(b.v), "fs_fsync");
    double r_big = proc_status_mib(0, "VmRSS");
    beng_close(&b);
    free(edir);
    printf("# rss_growth: VmRSS of this process after writing %" PRIu64 " MiB (cairn=) vs after "
           "the first %" PRIu64 " MiB (baseline=) through one engine in 1 MiB fs_write calls; "
           "lower is better, ratio = baseline/cairn, 1.00 = no growth with data written; growth "
           "before the index's first memtable flush is RocksDB memtables filling (bounded by "
           "meta.c's memtable and cache budgets)\n",
           big / MIB, small / MIB);
    printf("rss_growth cairn=%.1f baseline=%.1f unit=MiB ratio=%.2f\n", r_big, r_small,
           r_small / r_big);
    fflush(stdout);
}

/* ---- main ---- */

static void usage(void)
{
    fprintf(stderr, "usage: bench_engine DIR [--size BYTES] [--only WORKLOAD]\n"
                    "  BYTES >= 1M, default 1G; WORKLOAD: seq_write rand_write small_files "
                    "rss_growth\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    const char *only = NULL;
    uint64_t size = GIB;
    bench_name = "bench_engine";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--size") == 0 && i + 1 < argc) {
            if (cairn_parse_size(argv[++i], &size) != 0 || size < MIB)
                usage();
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            only = argv[++i];
            if (strcmp(only, "seq_write") && strcmp(only, "rand_write") &&
                strcmp(only, "small_files") && strcmp(only, "rss_growth"))
                usage();
        } else if (argv[i][0] != '-' && !dir) {
            dir = argv[i];
        } else {
            usage();
        }
    }
    if (!dir)
        usage();
    log_set_level(LOG_WARN);
    mkdir_or_die(dir);

    double t0 = now_s();
    char date[64];
    time_t wall = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&wall));
    struct utsname u;
    uname(&u);
    printf("# bench_engine: dir=%s size=%" PRIu64 " date=%s kernel=%s\n", dir, size, date,
           u.release);
    fflush(stdout);

    uint8_t *buf = alloc_or_die(SEQ_IO);
    fill_random(buf, SEQ_IO);

    if (!only || strcmp(only, "seq_write") == 0)
        bench_seq(dir, size, buf);
    if (!only || strcmp(only, "rand_write") == 0)
        bench_rand(dir, buf);
    if (!only || strcmp(only, "small_files") == 0)
        bench_small(dir, buf);
    if (!only || strcmp(only, "rss_growth") == 0)
        bench_rss(dir, size, buf);

    printf("# total run time: %.1f s\n", now_s() - t0);
    free(buf);
    return 0;
}
