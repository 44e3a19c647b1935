/*
 * bench_util.c — owns the helpers in bench_util.h. No state of its own
 * besides bench_name (set once by main). Threads: any.
 */
#include "bench_util.h"

#include "cairn_err.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *bench_name = "bench";

void must(int rv, const char *fmt, ...)
{
    if (rv == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", bench_name);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, ": %s\n", cairn_strerror(rv));
    va_end(ap);
    exit(1);
}

void must_sys(long ret, const char *what, const char *path)
{
    if (ret < 0)
        must(-errno, "%s %s", what, path);
}

double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

void fill_random(uint8_t *buf, size_t n)
{
    uint64_t s = BENCH_SEED;
    for (size_t i = 0; i + 8 <= n; i += 8) {
        uint64_t x = xorshift(&s);
        memcpy(buf + i, &x, 8);
    }
}

double median3(double a, double b, double c)
{
    if (a > b) {
        double t = a;
        a = b;
        b = t;
    }
    return c < a ? a : c > b ? b : c;
}

char *path_join(const char *dir, const char *name)
{
    char *p = NULL;
    if (asprintf(&p, "%s/%s", dir, name) < 0) {
        fprintf(stderr, "%s: out of memory\n", bench_name);
        exit(1);
    }
    return p;
}

void *alloc_or_die(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "%s: out of memory (%zu bytes)\n", bench_name, n);
        exit(1);
    }
    return p;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(p) ? -errno : 0;
}

void rmrf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0 && errno == ENOENT)
        return;
    int rv = nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    must(rv == -1 ? -errno : rv, "remove %s", path);
}

void mkdir_or_die(const char *path)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        must(-errno, "mkdir %s", path);
}

int plain_create(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    must_sys(fd, "open", path);
    return fd;
}

void plain_pwrite(int fd, const void *buf, size_t n, uint64_t off)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            must(-errno, "pwrite");
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
}

void plain_fill(int fd, uint64_t size, const uint8_t *buf, size_t io)
{
    for (uint64_t done = 0; done < size;) {
        size_t n = size - done < io ? (size_t)(size - done) : io;
        plain_pwrite(fd, buf, n, done);
        done += n;
    }
}

void bench_prefault(const char *dir, uint64_t bytes, const uint8_t *buf, size_t io)
{
    char *path = path_join(dir, "prefault");
    int fd = plain_create(path);
    plain_fill(fd, bytes, buf, io);
    must_sys(close(fd), "close", path);
    must_sys(unlink(path), "unlink", path);
    free(path);
}

double proc_cpu_s(pid_t pid)
{
    clockid_t clk = CLOCK_PROCESS_CPUTIME_ID;
    if (pid && clock_getcpuclockid(pid, &clk) != 0)
        return -1;
    struct timespec t;
    if (clock_gettime(clk, &t) != 0)
        return -1;
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

double proc_status_mib(pid_t pid, const char *field)
{
    char path[64], line[256];
    if (pid)
        snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
    else
        snprintf(path, sizeof path, "/proc/self/status");
    FILE *f = fopen(path, "r");
    if (!f)
        must(-errno, "open %s", path);
    size_t fl = strlen(field);
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, fl) == 0 && line[fl] == ':') {
            kib = strtol(line + fl + 1, NULL, 10);
            break;
        }
    fclose(f);
    if (kib < 0)
        must(-EIO, "no %s in %s", field, path);
    return (double)kib / 1024.0;
}
