/*
 * bench_fsio.c — the timed steps of the file-system benchmark (bench_fs.sh),
 * as plain POSIX calls on any directory: a local one, a FUSE passthrough
 * mount or a cairn mount. Each step times itself and prints one line:
 * "RATE UNIT [key=value...]"; the script takes medians and ratios.
 *
 *   bench_fsio [-p DIR -P BYTES] STEP ARGS...
 *     seqwrite FILE SIZE       create, SIZE bytes in 1 MiB writes, fsync; MB/s
 *     seqread FILE             read to the end in 1 MiB reads; MB/s
 *     fill FILE SIZE           untimed: create, write, fsync (for randwrite)
 *     randwrite FILE N SYNC SEED
 *                              N aligned 4 KiB pwrites at random offsets of
 *                              the existing FILE, fdatasync every SYNC
 *                              writes and after the last; writes/s
 *     create DIR NDIRS NFILES  mkdir DIR and DIR/dNNN, then NFILES files of
 *                              4 KiB spread over them (open O_CREAT|O_EXCL,
 *                              write, close); files/s, directories included
 *     stat DIR NDIRS NFILES    lstat every file by path; stats/s
 *     readdir DIR NDIRS NFILES list DIR and every DIR/dNNN; entries/s
 *     delete DIR NDIRS NFILES  unlink every file, rmdir every directory and
 *                              DIR; files/s
 *
 * Invariants:
 * (1) the exit status is non-zero only when an operation fails (a wrong size
 *     or entry count read back is a failure too), never because of speed;
 * (2) with -p/-P, bench_prefault(DIR, BYTES) runs right before the timed
 *     region (the VM's free page reporting, bench_util.h);
 * (3) only the step itself is timed (CLOCK_MONOTONIC): process start,
 *     buffer set-up and the prefault are not.
 * Threads: one. Errors: must() (bench_util.h).
 */
#include "bench_util.h"
#include "cairn_size.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEQ_IO MIB
#define SMALL_IO 4096u

static const char *pf_dir;
static uint64_t pf_bytes;
static uint8_t *buf; /* SEQ_IO pseudo-random bytes */

static void prefault(void) /* (2) */
{
    if (pf_dir && pf_bytes)
        bench_prefault(pf_dir, pf_bytes, buf, SEQ_IO);
}

static uint64_t arg_size(const char *s)
{
    uint64_t v;
    if (cairn_parse_size(s, &v) != 0) {
        fprintf(stderr, "bench_fsio: bad size %s\n", s);
        exit(2);
    }
    return v;
}

static void seqwrite(const char *path, uint64_t size)
{
    prefault();
    double t0 = now_s();
    int fd = plain_create(path);
    plain_fill(fd, size, buf, SEQ_IO);
    double t1 = now_s();
    must_sys(fsync(fd), "fsync", path);
    must_sys(close(fd), "close", path);
    double t2 = now_s();
    printf("%.1f MB/s write_s=%.2f sync_s=%.2f\n", size / 1e6 / (t2 - t0), t1 - t0, t2 - t1);
}

static void seqread(const char *path)
{
    uint8_t *rbuf = alloc_or_die(SEQ_IO);
    prefault();
    double t0 = now_s();
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    must_sys(fd, "open", path);
    uint64_t total = 0;
    for (;;) {
        ssize_t n = read(fd, rbuf, SEQ_IO);
        if (n < 0 && errno == EINTR)
            continue;
        must_sys(n, "read", path);
        if (n == 0)
            break;
        total += (uint64_t)n;
    }
    close(fd);
    double t1 = now_s();
    struct stat st;
    must_sys(stat(path, &st), "stat", path);
    if ((uint64_t)st.st_size != total)
        must(-EIO, "read %s: %" PRIu64 " bytes of %lld", path, total, (long long)st.st_size);
    printf("%.1f MB/s bytes=%" PRIu64 "\n", total / 1e6 / (t1 - t0), total);
    free(rbuf);
}

static void fill(const char *path, uint64_t size)
{
    int fd = plain_create(path);
    plain_fill(fd, size, buf, SEQ_IO);
    must_sys(fsync(fd), "fsync", path);
    must_sys(close(fd), "close", path);
    printf("0 filled bytes=%" PRIu64 "\n", size);
}

static void randwrite(const char *path, uint32_t n, uint32_t sync_every, uint64_t seed)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    must_sys(fd, "open", path);
    struct stat st;
    must_sys(fstat(fd, &st), "fstat", path);
    uint64_t blocks = (uint64_t)st.st_size / SMALL_IO;
    if (blocks == 0)
        must(-EINVAL, "randwrite %s: empty file", path);
    uint64_t s = seed | 1;
    prefault();
    double t0 = now_s();
    for (uint32_t i = 0; i < n; i++) {
        uint64_t off = (xorshift(&s) % blocks) * SMALL_IO;
        plain_pwrite(fd, buf + (size_t)(i % (SEQ_IO / SMALL_IO)) * SMALL_IO, SMALL_IO, off);
        if ((i + 1) % sync_every == 0 || i + 1 == n)
            must_sys(fdatasync(fd), "fdatasync", path);
    }
    double t1 = now_s();
    must_sys(close(fd), "close", path);
    printf("%.0f writes/s\n", n / (t1 - t0));
}

static void dir_name(char *out, size_t cap, const char *top, uint32_t d)
{
    snprintf(out, cap, "%s/d%03u", top, d);
}

static void file_name(char *out, size_t cap, const char *top, uint32_t ndirs, uint32_t i)
{
    snprintf(out, cap, "%s/d%03u/f%05u", top, i % ndirs, i);
}

static void create(const char *top, uint32_t ndirs, uint32_t nfiles)
{
    char p[4096];
    prefault();
    double t0 = now_s();
    must_sys(mkdir(top, 0755), "mkdir", top);
    for (uint32_t d = 0; d < ndirs; d++) {
        dir_name(p, sizeof p, top, d);
        must_sys(mkdir(p, 0755), "mkdir", p);
    }
    for (uint32_t i = 0; i < nfiles; i++) {
        file_name(p, sizeof p, top, ndirs, i);
        int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        must_sys(fd, "open", p);
        plain_pwrite(fd, buf + (size_t)(i % (SEQ_IO / SMALL_IO)) * SMALL_IO, SMALL_IO, 0);
        must_sys(close(fd), "close", p);
    }
    double t1 = now_s();
    printf("%.0f files/s\n", nfiles / (t1 - t0));
}

static void stat_all(const char *top, uint32_t ndirs, uint32_t nfiles)
{
    char p[4096];
    struct stat st;
    prefault();
    double t0 = now_s();
    for (uint32_t i = 0; i < nfiles; i++) {
        file_name(p, sizeof p, top, ndirs, i);
        must_sys(lstat(p, &st), "lstat", p);
        if (st.st_size != SMALL_IO)
            must(-EIO, "lstat %s: size %lld", p, (long long)st.st_size);
    }
    double t1 = now_s();
    printf("%.0f stats/s\n", nfiles / (t1 - t0));
}

/* Entries of PATH other than "." and "..". */
static uint64_t list_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        must(-errno, "opendir %s", path);
    uint64_t n = 0;
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
        errno = 0;
    }
    if (errno)
        must(-errno, "readdir %s", path);
    closedir(d);
    return n;
}

static void readdir_all(const char *top, uint32_t ndirs, uint32_t nfiles)
{
    char p[4096];
    prefault();
    double t0 = now_s();
    uint64_t n = list_dir(top);
    for (uint32_t d = 0; d < ndirs; d++) {
        dir_name(p, sizeof p, top, d);
        n += list_dir(p);
    }
    double t1 = now_s();
    if (n != (uint64_t)ndirs + nfiles)
        must(-EIO, "readdir %s: %" PRIu64 " entries, expected %u", top, n, ndirs + nfiles);
    printf("%.0f entries/s entries=%" PRIu64 "\n", n / (t1 - t0), n);
}

static void delete_all(const char *top, uint32_t ndirs, uint32_t nfiles)
{
    char p[4096];
    prefault();
    double t0 = now_s();
    for (uint32_t i = 0; i < nfiles; i++) {
        file_name(p, sizeof p, top, ndirs, i);
        must_sys(unlink(p), "unlink", p);
    }
    for (uint32_t d = 0; d < ndirs; d++) {
        dir_name(p, sizeof p, top, d);
        must_sys(rmdir(p), "rmdir", p);
    }
    must_sys(rmdir(top), "rmdir", top);
    double t1 = now_s();
    printf("%.0f files/s\n", nfiles / (t1 - t0));
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_fsio [-p DIR -P BYTES] STEP ARGS...\n"
                    "  seqwrite FILE SIZE | seqread FILE | fill FILE SIZE |\n"
                    "  randwrite FILE N SYNC SEED | create|stat|readdir|delete DIR NDIRS "
                    "NFILES\n");
    exit(2);
}

static uint32_t arg_u32(const char *s)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || end == s || v == 0 || v > UINT32_MAX)
        usage();
    return (uint32_t)v;
}

int main(int argc, char **argv)
{
    bench_name = "bench_fsio";
    int i = 1;
    for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
        if (strcmp(argv[i], "-p") == 0)
            pf_dir = argv[i + 1];
        else if (strcmp(argv[i], "-P") == 0)
            pf_bytes = arg_size(argv[i + 1]);
        else
            usage();
    }
    if (i >= argc)
        usage();
    const char *step = argv[i];
    char **a = argv + i + 1;
    int na = argc - i - 1;
    buf = alloc_or_die(SEQ_IO);
    fill_random(buf, SEQ_IO);
    if (strcmp(step, "seqwrite") == 0 && na == 2)
        seqwrite(a[0], arg_size(a[1]));
    else if (strcmp(step, "seqread") == 0 && na == 1)
        seqread(a[0]);
    else if (strcmp(step, "fill") == 0 && na == 2)
        fill(a[0], arg_size(a[1]));
    else if (strcmp(step, "randwrite") == 0 && na == 4)
        randwrite(a[0], arg_u32(a[1]), arg_u32(a[2]), strtoull(a[3], NULL, 10));
    else if (strcmp(step, "create") == 0 && na == 3)
        create(a[0], arg_u32(a[1]), arg_u32(a[2]));
    else if (strcmp(step, "stat") == 0 && na == 3)
        stat_all(a[0], arg_u32(a[1]), arg_u32(a[2]));
    else if (strcmp(step, "readdir") == 0 && na == 3)
        readdir_all(a[0], arg_u32(a[1]), arg_u32(a[2]));
    else if (strcmp(step, "delete") == 0 && na == 3)
        delete_all(a[0], arg_u32(a[1]), arg_u32(a[2]));
    else
        usage();
    free(buf);
    return 0;
}
