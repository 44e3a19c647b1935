/*
 * bench_util.h — what every benchmark program in bench/ shares: failing
 * loudly (must), clocks, a seeded generator, paths, plain file I/O, medians,
 * /proc readings and the page-cache pre-touch (bench_prefault).
 *
 * Threads: must() and the file helpers may be called from any thread;
 * bench_name is set once by main before any other call.
 * Errors: a benchmark never fails on speed; a failed operation prints what
 * failed and exits 1 at once (must()). That is the simpler thing for
 * one-shot programs, instead of the project's unwind-through-"out:"
 * convention, since nothing outlives the process.
 */
#ifndef CAIRN_BENCH_UTIL_H
#define CAIRN_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MIB (UINT64_C(1) << 20)
#define GIB (UINT64_C(1) << 30)
#define BENCH_SEED 0x9e3779b97f4a7c15ull

/* The program's name, prefixed to every error line. */
extern const char *bench_name;

/* Exits 1 when RV (0 or a negative cairn error / -errno) is an error, naming
 * the failed operation. */
void must(int rv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* must() for system calls that return -1 and set errno. */
void must_sys(long ret, const char *what, const char *path);

/* CLOCK_MONOTONIC seconds (every timed region uses it). */
double now_s(void);
uint64_t xorshift(uint64_t *s);
/* Fills BUF (N a multiple of 8) with pseudo-random bytes from BENCH_SEED. */
void fill_random(uint8_t *buf, size_t n);
double median3(double a, double b, double c);

/* Returned strings and blocks are the caller's to free; out of memory exits. */
char *path_join(const char *dir, const char *name);
void *alloc_or_die(size_t n);

/* rm -rf PATH; a missing PATH is fine. */
void rmrf(const char *path);
/* mkdir PATH; an existing PATH is fine. */
void mkdir_or_die(const char *path);

/* open(O_WRONLY|O_CREAT|O_TRUNC), pwrite until done (EINTR retried). */
int plain_create(const char *path);
void plain_pwrite(int fd, const void *buf, size_t n, uint64_t off);
/* Writes SIZE bytes from offset 0 in IO-byte calls, cycling through BUF. */
void plain_fill(int fd, uint64_t size, const uint8_t *buf, size_t io);

/* The page-cache pre-touch. This VM reports free memory back to its host
 * (free page reporting, ~2 s after it is freed), and a reported page costs
 * ~10x more on its next first touch (1 GiB into the page cache: ~0.3 s on
 * reused pages, ~3 s on reported ones). Right before a timed region, this
 * writes BYTES to a scratch file in DIR (in IO-byte calls from BUF) and
 * unlinks it unsynced (no disk I/O), so the page-cache allocations that
 * follow reuse pages the host still backs. (Touching anonymous memory
 * instead does not help: those pages come back zeroed through a different
 * path and are reported again.) Without it the figures measure which side
 * happened to get reused pages. */
void bench_prefault(const char *dir, uint64_t bytes, const uint8_t *buf, size_t io);

/* A /proc/PID/status field in kB ("VmRSS", "RssAnon"...) as MiB; PID 0 is
 * this process. */
double proc_status_mib(pid_t pid, const char *field);

/* CPU time (s) that process PID (0: this one) has used so far, all its
 * threads included (its CPU-time clock), or -1 when it cannot be read. */
double proc_cpu_s(pid_t pid);

#endif
