/*
 * bench_rpc.c — the RPC benchmark: a cairnd reached through libcairn
 * (cairn.h) over its unix socket, against the same engine called in-process
 * (engine.h, fsops.h) on another data directory of the same filesystem, so
 * both sides see the same disk and page cache.
 *
 *   bench_rpc DIR [--cairnd PATH | --socket PATH [--pid PID]] [--size BYTES]
 *                 [--seconds S] [--only WORKLOAD]
 *
 * By default it starts its own cairnd (PATH, default ../daemon/cairnd next
 * to this binary) with a config in DIR/cairnd (data_dir there, the socket
 * there, listen 127.0.0.1:0, metrics_listen none, every other key at its
 * default: [rpc] threads = 2) and stops it (SIGTERM) at the end. With
 * --socket it uses a running cairnd instead, creating volumes named
 * "bench-rpc-<pid>-..." there (left behind: cairn has no volume delete);
 * rpc_rss then needs --pid. WORKLOAD: write (rpc_write, rpc_read,
 * rpc_write_copy and rpc_write_64m), calls (rpc_calls_1, rpc_calls_64) or
 * rss, to run one alone (for perf record).
 *
 * Output: one line per figure, "NAME cairn=X baseline=Y unit=U ratio=R",
 * R = cairn/baseline unless a '#' line says otherwise (higher is better),
 * plus '#' comment lines. Figures:
 *   rpc_write     SIZE bytes: cairn_write_lent in 8 MiB calls (each a
 *                 WriteStream of 1 MiB pieces sent from the caller's buffer)
 *                 + cairn_fsync, vs fs_write in 1 MiB calls + fs_fsync; 3
 *                 timed pairs, each written in 64 MiB turns that alternate
 *                 between the sides (xfer_pair); cairn= and baseline= are
 *                 each side's median, ratio= the median of the pairs'
 *                 ratios; MB/s. When cairnd's pid is known, a '#' line gives
 *                 the CPU time per GiB of cairnd, of this program (the
 *                 client) and of the in-process engine, each over its
 *                 side's turns
 *   rpc_write_copy the same with cairn_write, which copies each piece into
 *                 its message; 3 more pairs, not read back; MB/s
 *   rpc_write_64m the same writes with cairn_write_lent in 64 MiB calls (one
 *                 WriteStream per turn: the stream's own speed, with the
 *                 per-call start and drain 8 times rarer); 3 more pairs
 *                 after rpc_write's (its warm-up serves both), not read
 *                 back; MB/s
 *   rpc_read      the file just written read back in the same turns (the
 *                 same medians): cairn_read in 8 MiB calls (each a
 *                 ReadStream) vs fs_read in 1 MiB calls; the data is in the
 *                 page cache on both sides (caches are not dropped), so this
 *                 is the RPC path, not the disk; MB/s
 *   rpc_calls_1   cairn_getattr round trips per second with 1 caller, vs
 *                 fs_getattr in-process with 1 caller; calls/s
 *   rpc_calls_64  the same with 64 threads sharing one cairn_t (64 calls in
 *                 flight), vs 64 threads calling fs_getattr; calls/s
 *   rpc_rss       cairnd's VmRSS after 100,000 more calls (cairn=) vs before
 *                 them (baseline=); ratio = before/after, 1.00 = no growth
 *
 * Invariants:
 * (1) a benchmark never fails on speed: the exit status is non-zero only when
 *     an operation fails (must()), never because of a figure;
 * (2) every workload runs once untimed first (warm-up; the write warm-up also
 *     checks every byte read back), and right before each timed pair
 *     bench_prefault() puts as many bytes in the page cache as the pair
 *     will write and drops them (the VM's free page reporting, bench_util.h);
 * (3) both sides do the same user-visible work with the same sync points;
 *     each timed write goes to a fresh volume (daemon) or a fresh engine
 *     (in-process); daemon start, volume and chunk creation are untimed;
 * (4) every timed region is measured with CLOCK_MONOTONIC;
 * (5) the daemon this program starts never outlives it: it is stopped at
 *     exit (atexit), and gets SIGTERM from the kernel if we die (PDEATHSIG).
 * Threads: main; the calls workloads start 1 or 64 caller threads that share
 * one cairn_t (libcairn is thread-safe) or one engine (fsops.h is).
 * Errors: must() (bench_util.h).
 */
#include "bench_beng.h"
#include "bench_util.h"
#include "cairn.h"
#include "cairn_size.h"
#include "engine.h"
#include "fsops.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RPC_IO (8 * MIB)  /* bytes per cairn_write / cairn_read call */
#define RPC_IO_LONG SLICE /* bytes per cairn_write in rpc_write_64m: one per turn */
#define ENG_IO MIB        /* bytes per fs_write / fs_read call */
#define RUNS 3            /* timed pairs */
#define SLICE (64 * MIB)  /* bytes per turn of a pair */
#define DEPTH_MANY 64     /* callers in rpc_calls_64 */
#define RSS_CALLS 100000u /* calls between the two RSS readings */
#define RSS_WARM 20000u   /* calls before the first reading */
#define PREFAULT_SLACK (128 * MIB)
#define SMALL_IO 4096u

/* ---- the daemon ---- */

static pid_t daemon_pid; /* the cairnd we started; 0: none (or stopped) */
static pid_t cpu_pid;    /* the cairnd whose CPU time is read; 0: unknown */
static int cpu_lost;     /* a CPU time could not be read: none is printed */
static const char *vol_prefix = "";

/* Stops our cairnd: SIGTERM, up to 30 s, then SIGKILL. Returns its wait
 * status, or -1 when it had to be killed. */
static int daemon_stop(void)
{
    if (daemon_pid <= 0)
        return 0;
    pid_t pid = daemon_pid;
    daemon_pid = 0;
    kill(pid, SIGTERM);
    int st;
    for (int i = 0; i < 600; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            return st;
        usleep(50000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

static void daemon_stop_atexit(void) /* (5) */
{
    daemon_stop();
}

static void print_log(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f))
        fprintf(stderr, "  cairnd: %s", line);
    fclose(f);
}

/* Starts CAIRND on a fresh config under DIR/cairnd; returns its socket path
 * (caller frees) once it answers node status (bounded: 20 s). */
static char *daemon_start(const char *dir, const char *cairnd)
{
    char *ddir = path_join(dir, "cairnd");
    rmrf(ddir);
    mkdir_or_die(ddir);
    char *conf = path_join(ddir, "cairnd.conf");
    char *data = path_join(ddir, "data");
    char *sock = path_join(ddir, "cairnd.sock");
    char *logp = path_join(ddir, "cairnd.log");
    FILE *f = fopen(conf, "w");
    if (!f)
        must(-errno, "create %s", conf);
    fprintf(f,
            "[node]\nname = bench\ndata_dir = %s\nsocket = %s\nlisten = 127.0.0.1:0\n"
            "metrics_listen = none\n[log]\nlevel = warn\n",
            data, sock);
    must_sys(fclose(f) == 0 ? 0 : -1, "write", conf);

    pid_t parent = getpid();
    pid_t pid = fork();
    must_sys(pid, "fork", cairnd);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* (5) */
        if (getppid() != parent)
            _exit(127);
        int fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        execl(cairnd, cairnd, "-c", conf, (char *)NULL);
        fprintf(stderr, "exec %s: %s\n", cairnd, strerror(errno));
        _exit(127);
    }
    daemon_pid = pid;
    atexit(daemon_stop_atexit);

    cairn_t *c;
    char addr[PATH_MAX + 8];
    snprintf(addr, sizeof addr, "unix:%s", sock);
    int rv = -1;
    for (int i = 0; i < 400 && rv != 0; i++) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            daemon_pid = 0;
            print_log(logp);
            must(CAIRN_EUNAVAIL, "cairnd exited at start (status %d)", st);
        }
        if (access(sock, F_OK) == 0) {
            must(cairn_connect(&c, addr), "cairn_connect %s", addr);
            cairn_set_timeout(c, 1000);
            cairn_node_status_t ns;
            rv = cairn_node_status(c, &ns);
            cairn_disconnect(c);
        }
        if (rv != 0)
            usleep(50000);
    }
    if (rv != 0) {
        print_log(logp);
        must(rv, "cairnd did not answer within 20 s");
    }
    free(ddir);
    free(conf);
    free(data);
    free(logp);
    return sock;
}

/* ---- volumes in the daemon ---- */

struct ids {
    char id[8][33];
    unsigned n;
};

static int collect_id(void *ctx, const cairn_chunk_info_t *ci)
{
    struct ids *ids = ctx;
    if (ids->n < 8)
        memcpy(ids->id[ids->n++], ci->id, sizeof ci->id);
    return 0;
}

/* Creates volume PREFIX NAME owning NCHUNKS chunks of CAP bytes; returns its
 * full name (caller frees). */
static char *volume_new(cairn_t *c, const char *name, unsigned nchunks, uint64_t cap)
{
    char *vol = NULL;
    if (asprintf(&vol, "%s%s", vol_prefix, name) < 0)
        must(-ENOMEM, "asprintf");
    must(cairn_volume_create(c, vol, NULL), "cairn_volume_create %s", vol);
    struct ids ids = {.n = 0};
    must(cairn_chunk_create(c, nchunks, cap, collect_id, &ids), "cairn_chunk_create");
    for (unsigned i = 0; i < ids.n; i++)
        must(cairn_chunk_assign(c, ids.id[i], vol), "cairn_chunk_assign %s", ids.id[i]);
    return vol;
}

static uint64_t rpc_mknod(cairn_t *c, const char *vol, const char *name)
{
    cairn_attr_t a;
    must(cairn_mknod(c, vol, CAIRN_ROOT_INO, name, S_IFREG | 0644, 0, 0, 0, &a), "cairn_mknod %s",
         name);
    return a.ino;
}

/* ---- 1. rpc_write and rpc_read ---- */

struct xfer {
    double w_mbs, r_mbs, write_s, sync_s;
    double cpu_self, cpu_daemon; /* CPU s over this side's writes and sync */
};

/* Checks that BUF (N bytes read at OFF) holds the pattern written: byte X
 * of the file is PAT[X % RPC_IO]. */
static void check_read(const uint8_t *buf, size_t n, uint64_t off, const uint8_t *pat,
                       const char *who)
{
    for (size_t i = 0; i < n;) {
        size_t p = (size_t)((off + i) % RPC_IO), k = RPC_IO - p < n - i ? RPC_IO - p : n - i;
        if (memcmp(buf + i, pat + p, k) != 0)
            must(CAIRN_ECHECKSUM, "%s: bytes read back at %" PRIu64 " differ", who, off + i);
        i += k;
    }
}

/* One side of a timed pair: a file of a fresh volume reached through
 * libcairn (c != NULL), or of a fresh in-process engine. */
struct side {
    cairn_t *c;
    size_t io; /* bytes per cairn_write (the cairn side) */
    int lent;  /* cairn_write_lent instead of cairn_write */
    char *vol;
    struct beng b;
    uint64_t ino;
    struct xfer x;
};

static void side_open(struct side *sd, cairn_t *c, const char *dir, const char *name, uint64_t size)
{
    memset(sd, 0, sizeof *sd);
    sd->c = c;
    if (c) {
        sd->vol = volume_new(c, name, 2, beng_chunk_cap(size));
        sd->ino = rpc_mknod(c, sd->vol, "big");
    } else {
        char *edir = path_join(dir, name);
        beng_open(&sd->b, edir, 2, beng_chunk_cap(size));
        free(edir);
        sd->ino = beng_mknod(&sd->b, CAIRN_ROOT_INO, "big", S_IFREG | 0644);
    }
}

static void side_close(struct side *sd)
{
    if (sd->c)
        free(sd->vol);
    else
        beng_close(&sd->b);
}

/* The CPU times (s) of this process and of cairnd (when known) now. */
static void cpu_read(double *self, double *daemon)
{
    *self = proc_cpu_s(0);
    *daemon = cpu_pid ? proc_cpu_s(cpu_pid) : 0;
    if (*self < 0 || *daemon < 0)
        cpu_lost = 1;
}

/* Adds the CPU used since cpu_read gave SELF0 and DAEMON0 to SD's tally:
 * this process's to cpu_self (for the engine side, the engine's own
 * threads; for the cairn side, libcairn's, and any engine background work
 * still running from the turn before), cairnd's to cpu_daemon. */
static void cpu_add(struct side *sd, double self0, double daemon0)
{
    double self, daemon;
    cpu_read(&self, &daemon);
    sd->x.cpu_self += self - self0;
    if (sd->c)
        sd->x.cpu_daemon += daemon - daemon0;
}

/* cairn_write_lent calls made, and their DONEs that ran: PAT is freed only
 * when they are equal (lend_wait). */
static _Atomic uint64_t lends, lends_done;

static void lend_done(void *arg)
{
    (void)arg;
    lends_done++;
}

/* Waits (up to 10 s) until every lent PAT was given back; fails the run
 * if a DONE is missing or ran twice. */
static void lend_wait(void)
{
    for (int i = 0; i < 10000 && lends_done < lends; i++)
        usleep(1000);
    if (lends_done != lends)
        must(-EIO, "cairn_write_lent: %" PRIu64 " calls, %" PRIu64 " done", (uint64_t)lends,
             (uint64_t)lends_done);
}

/* Writes [OFF, END) of the file: cairn_write (or cairn_write_lent) in
 * SD->io calls or fs_write in ENG_IO calls; seconds taken, and the CPU used
 * added to SD's tally. Byte X of the file is PAT[X % RPC_IO] (PAT holds
 * RPC_IO_LONG bytes: its RPC_IO random bytes over and over). */
static double side_write(struct side *sd, uint64_t off, uint64_t end, const uint8_t *pat)
{
    double c0, d0;
    cpu_read(&c0, &d0);
    double t0 = now_s();
    size_t io = sd->c ? sd->io : ENG_IO;
    for (; off < end; off += io) {
        size_t n = end - off < io ? (size_t)(end - off) : io;
        if (sd->c && sd->lent) {
            lends++;
            must(cairn_write_lent(sd->c, sd->vol, sd->ino, off, pat + off % RPC_IO_LONG, n,
                                  lend_done, NULL, NULL),
                 "cairn_write_lent at %" PRIu64, off);
        } else if (sd->c) {
            must(cairn_write(sd->c, sd->vol, sd->ino, off, pat + off % RPC_IO_LONG, n, NULL),
                 "cairn_write at %" PRIu64, off);
        } else
            must(fs_write(sd->b.v, sd->ino, off, pat + off % RPC_IO_LONG, n, NULL),
                 "fs_write at %" PRIu64, off);
    }
    double t = now_s() - t0;
    cpu_add(sd, c0, d0);
    return t;
}

/* Syncs SD's volume; seconds taken, and the CPU used added to SD's tally. */
static double side_sync(struct side *sd)
{
    double c0, d0;
    cpu_read(&c0, &d0);
    double t0 = now_s();
    if (sd->c)
        must(cairn_fsync(sd->c, sd->vol), "cairn_fsync");
    else
        must(fs_fsync(sd->b.v), "fs_fsync");
    double t = now_s() - t0;
    cpu_add(sd, c0, d0);
    return t;
}

/* Reads [OFF, END) back the same way; CHECK: compare every byte. */
static double side_read(struct side *sd, uint64_t off, uint64_t end, const uint8_t *pat,
                        uint8_t *rbuf, int check)
{
    double t0 = now_s();
    size_t io = sd->c ? RPC_IO : ENG_IO;
    struct asof now = ASOF_NOW;
    for (; off < end; off += io) {
        size_t n = end - off < io ? (size_t)(end - off) : io, got;
        if (sd->c)
            must(cairn_read(sd->c, sd->vol, sd->ino, off, n, rbuf, NULL, &got),
                 "cairn_read at %" PRIu64, off);
        else
            must(fs_read(sd->b.v, &now, sd->ino, off, n, rbuf, &got), "fs_read at %" PRIu64, off);
        if (got != n)
            must(-EIO, "read at %" PRIu64 ": %zu of %zu bytes", off, got, n);
        if (check)
            check_read(rbuf, n, off, pat, sd->c ? "cairn_read" : "fs_read");
    }
    return now_s() - t0;
}

/* One timed pair (3): SIZE bytes written to a new file through libcairn and
 * through a fresh in-process engine, in turns of SLICE bytes that alternate
 * between the two (cairn first in even turns), each turn timed on its own;
 * then each side's sync; then the reads in the same turns. Both sides so
 * meet the same state of the machine (the cost of fresh page-cache pages
 * on this kind of VM swings 2-4x from one second to the next), and the
 * ratio compares the paths, not the moments. IO: bytes per cairn_write;
 * LENT: cairn_write_lent; RBUF NULL: no reads; CHECK: compare every byte
 * read (untimed warm-up only). */
static void xfer_pair(cairn_t *c, const char *dir, const char *volname, uint64_t size, size_t io,
                      int lent, const uint8_t *pat, uint8_t *rbuf, int check, struct xfer *r,
                      struct xfer *e)
{
    struct side sd[2];
    side_open(&sd[0], c, dir, volname, size);
    side_open(&sd[1], NULL, dir, "engine", size);
    sd[0].io = io;
    sd[0].lent = lent;
    bench_prefault(dir, 2 * size + PREFAULT_SLACK, pat, RPC_IO); /* (2) */
    for (uint64_t off = 0, turn = 0; off < size; off += SLICE, turn++) {
        uint64_t end = size - off < SLICE ? size : off + SLICE;
        for (int k = 0; k < 2; k++) {
            struct side *now = &sd[(turn + (uint64_t)k) % 2];
            now->x.write_s += side_write(now, off, end, pat);
        }
    }
    for (int k = 0; k < 2; k++)
        sd[k].x.sync_s = side_sync(&sd[k]);
    double read_s[2] = {0, 0};
    for (uint64_t off = 0, turn = 0; rbuf && off < size; off += SLICE, turn++) {
        uint64_t end = size - off < SLICE ? size : off + SLICE;
        for (int k = 0; k < 2; k++) {
            int i = (int)((turn + (uint64_t)k) % 2);
            read_s[i] += side_read(&sd[i], off, end, pat, rbuf, check);
        }
    }
    for (int k = 0; k < 2; k++) {
        struct xfer *res = &sd[k].x;
        res->w_mbs = size / 1e6 / (res->write_s + res->sync_s);
        res->r_mbs = rbuf ? size / 1e6 / read_s[k] : 0;
    }
    *r = sd[0].x;
    *e = sd[1].x;
    side_close(&sd[0]);
    side_close(&sd[1]);
}

/* RUNS more pairs of IO-byte calls (LENT: cairn_write_lent), not read
 * back, printed as NAME, described by WHAT. */
static void write_pairs(cairn_t *c, const char *dir, uint64_t size, size_t io, int lent,
                        const uint8_t *pat, const char *name, const char *what)
{
    struct xfer r[RUNS], e[RUNS];
    double wq[RUNS];
    for (int i = 0; i < RUNS; i++) {
        char vn[32];
        snprintf(vn, sizeof vn, "%s%d", name, i);
        xfer_pair(c, dir, vn, size, io, lent, pat, NULL, 0, &r[i], &e[i]);
        wq[i] = r[i].w_mbs / e[i].w_mbs;
    }
    printf("# %s: as rpc_write, with %s in %zu-byte calls; runs (MB/s) cairn %.1f %.1f %.1f, "
           "baseline %.1f %.1f %.1f; ratio pair by pair %.2f %.2f %.2f; medians\n",
           name, what, io, r[0].w_mbs, r[1].w_mbs, r[2].w_mbs, e[0].w_mbs, e[1].w_mbs, e[2].w_mbs,
           wq[0], wq[1], wq[2]);
    printf("%s cairn=%.1f baseline=%.1f unit=MB/s ratio=%.2f\n", name,
           median3(r[0].w_mbs, r[1].w_mbs, r[2].w_mbs), median3(e[0].w_mbs, e[1].w_mbs, e[2].w_mbs),
           median3(wq[0], wq[1], wq[2]));
    fflush(stdout);
}

static void bench_xfer(cairn_t *c, const char *dir, uint64_t size, const uint8_t *pat)
{
    uint8_t *rbuf = alloc_or_die(RPC_IO);
    struct xfer r[RUNS], e[RUNS];
    xfer_pair(c, dir, "warm", size, RPC_IO, 1, pat, rbuf, 1, &r[0], &e[0]); /* (2) */
    for (int i = 0; i < RUNS; i++) {
        char vn[16];
        snprintf(vn, sizeof vn, "w%d", i);
        xfer_pair(c, dir, vn, size, RPC_IO, 1, pat, rbuf, 0, &r[i], &e[i]);
    }
    free(rbuf);
    double rw = median3(r[0].w_mbs, r[1].w_mbs, r[2].w_mbs);
    double ew = median3(e[0].w_mbs, e[1].w_mbs, e[2].w_mbs);
    double rr = median3(r[0].r_mbs, r[1].r_mbs, r[2].r_mbs);
    double er = median3(e[0].r_mbs, e[1].r_mbs, e[2].r_mbs);
    /* a pair's sides met the same machine: the ratio is the pairs' median,
     * not a quotient of medians that may come from different pairs */
    double wq[RUNS], rq[RUNS];
    for (int i = 0; i < RUNS; i++) {
        wq[i] = r[i].w_mbs / e[i].w_mbs;
        rq[i] = r[i].r_mbs / e[i].r_mbs;
    }
    printf("# rpc_write: %" PRIu64 " bytes, cairn_write_lent in %" PRIu64
           "-byte calls (WriteStream, 1 MiB pieces) + cairn_fsync over the unix socket vs "
           "fs_write in %" PRIu64 "-byte calls + fs_fsync in-process; runs (MB/s) cairn "
           "%.1f %.1f %.1f, baseline %.1f %.1f %.1f (pairs in %" PRIu64 "-byte turns); medians\n",
           size, RPC_IO, ENG_IO, r[0].w_mbs, r[1].w_mbs, r[2].w_mbs, e[0].w_mbs, e[1].w_mbs,
           e[2].w_mbs, (uint64_t)SLICE);
    printf("# rpc_write: write/sync split (s) cairn %.2f+%.2f %.2f+%.2f %.2f+%.2f, baseline "
           "%.2f+%.2f %.2f+%.2f %.2f+%.2f\n",
           r[0].write_s, r[0].sync_s, r[1].write_s, r[1].sync_s, r[2].write_s, r[2].sync_s,
           e[0].write_s, e[0].sync_s, e[1].write_s, e[1].sync_s, e[2].write_s, e[2].sync_s);
    printf("# rpc_write: ratio pair by pair %.2f %.2f %.2f; ratio= is their median, cairn= and "
           "baseline= the medians of each side\n",
           wq[0], wq[1], wq[2]);
    double gib = size / (double)(1u << 30);
    if (cpu_pid && !cpu_lost)
        printf("# rpc_write: CPU s per GiB written over each side's turns (medians): cairnd %.2f + "
               "client %.2f, "
               "in-process engine %.2f, on %ld CPUs\n",
               median3(r[0].cpu_daemon, r[1].cpu_daemon, r[2].cpu_daemon) / gib,
               median3(r[0].cpu_self, r[1].cpu_self, r[2].cpu_self) / gib,
               median3(e[0].cpu_self, e[1].cpu_self, e[2].cpu_self) / gib,
               sysconf(_SC_NPROCESSORS_ONLN));
    printf("rpc_write cairn=%.1f baseline=%.1f unit=MB/s ratio=%.2f\n", rw, ew,
           median3(wq[0], wq[1], wq[2]));
    printf("# rpc_read: the file just written, read back in the same turns: cairn_read in %" PRIu64
           "-byte calls (ReadStream) vs fs_read in %" PRIu64
           "-byte calls; caches NOT dropped (the chunk bytes are in the page cache on both "
           "sides: this is the RPC path, not the disk); runs (MB/s) cairn %.1f %.1f %.1f, "
           "baseline %.1f %.1f %.1f; ratio pair by pair %.2f %.2f %.2f; medians\n",
           RPC_IO, ENG_IO, r[0].r_mbs, r[1].r_mbs, r[2].r_mbs, e[0].r_mbs, e[1].r_mbs, e[2].r_mbs,
           rq[0], rq[1], rq[2]);
    printf("rpc_read cairn=%.1f baseline=%.1f unit=MB/s ratio=%.2f\n", rr, er,
           median3(rq[0], rq[1], rq[2]));
    fflush(stdout);

    write_pairs(c, dir, size, RPC_IO, 0, pat, "rpc_write_copy", "cairn_write (copying)");
    write_pairs(c, dir, size, RPC_IO_LONG, 1, pat, "rpc_write_64m",
                "cairn_write_lent (one WriteStream per turn)");
    lend_wait();
}

/* ---- 2. rpc_calls_1, rpc_calls_64 ---- */

/* One getattr target: through libcairn (c != NULL) or in-process. */
struct target {
    cairn_t *c;
    const char *vol;
    struct volume *v;
    uint64_t ino;
};

static void getattr_once(const struct target *t)
{
    if (t->c) {
        cairn_attr_t a;
        must(cairn_getattr(t->c, t->vol, t->ino, NULL, &a), "cairn_getattr");
    } else {
        struct asof now = ASOF_NOW;
        struct attr a;
        must(fs_getattr(t->v, &now, t->ino, &a), "fs_getattr");
    }
}

struct caller {
    const struct target *t;
    pthread_barrier_t *go;
    atomic_int *stop;
    uint64_t calls;
};

static void *caller_main(void *arg)
{
    struct caller *k = arg;
    pthread_barrier_wait(k->go);
    uint64_t n = 0;
    while (!atomic_load_explicit(k->stop, memory_order_relaxed)) {
        getattr_once(k->t);
        n++;
    }
    k->calls = n;
    return NULL;
}

/* getattr calls per second on T from NTHREADS threads over SECONDS. */
static double calls_rate(const struct target *t, int nthreads, double seconds)
{
    pthread_t th[DEPTH_MANY];
    struct caller k[DEPTH_MANY];
    pthread_barrier_t go;
    atomic_int stop = 0;
    pthread_barrier_init(&go, NULL, (unsigned)nthreads + 1);
    for (int i = 0; i < nthreads; i++) {
        k[i] = (struct caller){t, &go, &stop, 0};
        int rv = pthread_create(&th[i], NULL, caller_main, &k[i]);
        must(-rv, "pthread_create");
    }
    pthread_barrier_wait(&go);
    double t0 = now_s();
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    atomic_store(&stop, 1);
    uint64_t total = 0;
    for (int i = 0; i < nthreads; i++) {
        pthread_join(th[i], NULL);
        total += k[i].calls;
    }
    double t1 = now_s();
    pthread_barrier_destroy(&go);
    return (double)total / (t1 - t0);
}

static void calls_depth(const struct target *rt, const struct target *et, int depth, double seconds)
{
    calls_rate(rt, depth, seconds / 4); /* (2) */
    calls_rate(et, depth, seconds / 4);
    double r[RUNS], e[RUNS];
    for (int i = 0; i < RUNS; i++) {
        if (i % 2 == 0) {
            r[i] = calls_rate(rt, depth, seconds);
            e[i] = calls_rate(et, depth, seconds);
        } else {
            e[i] = calls_rate(et, depth, seconds);
            r[i] = calls_rate(rt, depth, seconds);
        }
    }
    double mr = median3(r[0], r[1], r[2]), me = median3(e[0], e[1], e[2]);
    printf("# rpc_calls_%d: getattr of one file, %d caller thread%s%s for %.1f s per run; "
           "runs (calls/s) cairn_getattr over the unix socket %.0f %.0f %.0f, fs_getattr "
           "in-process %.0f %.0f %.0f (alternating order); medians\n",
           depth, depth, depth > 1 ? "s" : "", depth > 1 ? " sharing one cairn_t" : "", seconds,
           r[0], r[1], r[2], e[0], e[1], e[2]);
    printf("# rpc_calls_%d: absolute: cairn %.0f calls/s (%.1f us per call per caller), "
           "in-process %.0f calls/s (%.2f us per call per caller)\n",
           depth, mr, 1e6 * depth / mr, me, 1e6 * depth / me);
    printf("rpc_calls_%d cairn=%.0f baseline=%.0f unit=calls/s ratio=%.4f\n", depth, mr, me,
           mr / me);
    fflush(stdout);
}

static void bench_calls(cairn_t *c, const char *dir, double seconds, const uint8_t *pat)
{
    char *vol = volume_new(c, "calls", 1, 64 * MIB);
    uint64_t ino = rpc_mknod(c, vol, "f");
    must(cairn_write(c, vol, ino, 0, pat, SMALL_IO, NULL), "cairn_write");
    char *edir = path_join(dir, "engine-calls");
    struct beng b;
    beng_open(&b, edir, 1, 64 * MIB);
    uint64_t eino = beng_mknod(&b, CAIRN_ROOT_INO, "f", S_IFREG | 0644);
    must(fs_write(b.v, eino, 0, pat, SMALL_IO, NULL), "fs_write");
    struct target rt = {c, vol, NULL, ino}, et = {NULL, NULL, b.v, eino};
    calls_depth(&rt, &et, 1, seconds);
    calls_depth(&rt, &et, DEPTH_MANY, seconds);
    beng_close(&b);
    free(edir);
    free(vol);
}

/* ---- 3. rpc_rss ---- */

struct mix {
    cairn_t *c;
    const char *vol;
    uint64_t ino;
    atomic_uint *next; /* the next call number to make */
    unsigned end;
};

/* Call I of the mix: getattr, lookup, 4 KiB read, lookup of a missing name
 * (an error status, so the error path is exercised too). */
static void mix_call(const struct mix *m, unsigned i, uint8_t *buf)
{
    cairn_attr_t a;
    size_t got;
    int rv;
    switch (i % 4) {
    case 0:
        must(cairn_getattr(m->c, m->vol, m->ino, NULL, &a), "cairn_getattr");
        break;
    case 1:
        must(cairn_lookup(m->c, m->vol, CAIRN_ROOT_INO, "f", NULL, &a), "cairn_lookup");
        break;
    case 2:
        must(cairn_read(m->c, m->vol, m->ino, 0, SMALL_IO, buf, NULL, &got), "cairn_read");
        break;
    default:
        rv = cairn_lookup(m->c, m->vol, CAIRN_ROOT_INO, "missing", NULL, &a);
        must(rv == -ENOENT ? 0 : rv == 0 ? -EEXIST : rv, "cairn_lookup of a missing name");
        break;
    }
}

static void *mix_main(void *arg)
{
    struct mix *m = arg;
    uint8_t buf[SMALL_IO];
    unsigned i;
    while ((i = atomic_fetch_add(m->next, 1)) < m->end)
        mix_call(m, i, buf);
    return NULL;
}

/* Makes calls FROM..END-1 of the mix from DEPTH_MANY threads. */
static void mix_run(struct mix *proto, unsigned from, unsigned end)
{
    pthread_t th[DEPTH_MANY];
    struct mix m[DEPTH_MANY];
    atomic_uint next = from;
    for (int i = 0; i < DEPTH_MANY; i++) {
        m[i] = *proto;
        m[i].next = &next;
        m[i].end = end;
        must(-pthread_create(&th[i], NULL, mix_main, &m[i]), "pthread_create");
    }
    for (int i = 0; i < DEPTH_MANY; i++)
        pthread_join(th[i], NULL);
}

static void bench_rss(cairn_t *c, pid_t pid, const uint8_t *pat)
{
    if (pid <= 0) {
        printf("# rpc_rss: skipped (the daemon's pid is unknown: give --pid with --socket)\n");
        return;
    }
    char *vol = volume_new(c, "rss", 1, 64 * MIB);
    uint64_t ino = rpc_mknod(c, vol, "f");
    must(cairn_write(c, vol, ino, 0, pat, SMALL_IO, NULL), "cairn_write");
    struct mix m = {c, vol, ino, NULL, 0};
    mix_run(&m, 0, RSS_WARM); /* (2) */
    double before = proc_status_mib(pid, "VmRSS"), anon0 = proc_status_mib(pid, "RssAnon");
    double t0 = now_s();
    mix_run(&m, RSS_WARM, RSS_WARM + RSS_CALLS / 2);
    double mid = proc_status_mib(pid, "VmRSS");
    mix_run(&m, RSS_WARM + RSS_CALLS / 2, RSS_WARM + RSS_CALLS);
    double sec = now_s() - t0;
    double after = proc_status_mib(pid, "VmRSS"), anon1 = proc_status_mib(pid, "RssAnon");
    printf("# rpc_rss: cairnd (pid %ld) VmRSS after %u warm-up calls %.1f MiB, after %u more "
           "%.1f MiB, after %u more %.1f MiB (RssAnon %.1f -> %.1f MiB); calls from %d threads "
           "sharing one cairn_t, cycling getattr, lookup, 4 KiB read, lookup of a missing name "
           "(ENOENT); %.0f calls/s; lower is better, so ratio = before/after (1.00 = no "
           "growth)\n",
           (long)pid, RSS_WARM, before, RSS_CALLS / 2, mid, RSS_CALLS / 2, after, anon0, anon1,
           DEPTH_MANY, RSS_CALLS / sec);
    printf("rpc_rss cairn=%.1f baseline=%.1f unit=MiB ratio=%.2f\n", after, before, before / after);
    fflush(stdout);
    free(vol);
}

/* ---- main ---- */

static void usage(void)
{
    fprintf(stderr, "usage: bench_rpc DIR [--cairnd PATH | --socket PATH [--pid PID]] "
                    "[--size BYTES] [--seconds S] [--only WORKLOAD]\n"
                    "  BYTES >= 8M, default 1G; S: seconds per timed calls run (default 2); "
                    "WORKLOAD: write calls rss\n");
    exit(2);
}

/* ../daemon/cairnd next to this program's own binary. */
static char *default_cairnd(void)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n < 0)
        must(-errno, "readlink /proc/self/exe");
    self[n] = '\0';
    char *p = NULL;
    if (asprintf(&p, "%s/../daemon/cairnd", dirname(self)) < 0)
        must(-ENOMEM, "asprintf");
    return p;
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *only = NULL, *socket = NULL;
    char *cairnd = NULL;
    pid_t pid = 0;
    uint64_t size = GIB;
    double seconds = 2.0;
    bench_name = "bench_rpc";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--size") == 0 && i + 1 < argc) {
            if (cairn_parse_size(argv[++i], &size) != 0 || size < RPC_IO)
                usage();
        } else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            seconds = atof(argv[++i]);
            if (!(seconds >= 0.1 && seconds <= 600))
                usage();
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            only = argv[++i];
            if (strcmp(only, "write") && strcmp(only, "calls") && strcmp(only, "rss"))
                usage();
        } else if (strcmp(argv[i], "--cairnd") == 0 && i + 1 < argc) {
            free(cairnd);
            cairnd = strdup(argv[++i]);
        } else if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc) {
            socket = argv[++i];
        } else if (strcmp(argv[i], "--pid") == 0 && i + 1 < argc) {
            pid = (pid_t)atol(argv[++i]);
        } else if (argv[i][0] != '-' && !dir) {
            dir = argv[i];
        } else {
            usage();
        }
    }
    if (!dir || (socket && cairnd))
        usage();
    log_set_level(LOG_WARN);
    mkdir_or_die(dir);
    size = size / RPC_IO * RPC_IO;

    char *sock, *vp = NULL;
    if (socket) {
        sock = strdup(socket);
        if (asprintf(&vp, "bench-rpc-%ld-", (long)getpid()) < 0)
            must(-ENOMEM, "asprintf");
        vol_prefix = vp;
    } else {
        if (!cairnd)
            cairnd = default_cairnd();
        sock = daemon_start(dir, cairnd);
        pid = daemon_pid;
    }
    cpu_pid = pid;
    char addr[PATH_MAX + 8];
    snprintf(addr, sizeof addr, "unix:%s", sock);
    /* As cairnctl and cairn-fuse do (and any program that streams may) */
    int tuned = cairn_tune_malloc(); /* refused under sanitizers: slower, still correct */
    cairn_t *c;
    must(cairn_connect(&c, addr), "cairn_connect %s", addr);

    double t0 = now_s();
    char date[64];
    time_t wall = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&wall));
    struct utsname u;
    uname(&u);
    printf("# bench_rpc: dir=%s size=%" PRIu64 " date=%s kernel=%s cairnd=%s%s (pid %ld%s)\n", dir,
           size, date, u.release, socket ? "running at " : "started, ", sock, (long)pid,
           socket ? "" : "; config keys at their defaults, [rpc] threads = 2");
    printf("# client: cairn_tune_malloc() %s, as cairnctl and cairn-fuse do\n",
           tuned == 0 ? "called" : "refused by this malloc");
    fflush(stdout);

    uint8_t *pat = alloc_or_die(RPC_IO_LONG);
    fill_random(pat, RPC_IO);
    for (size_t at = RPC_IO; at < RPC_IO_LONG; at += RPC_IO) /* byte X is pat[X % RPC_IO] */
        memcpy(pat + at, pat, RPC_IO);
    if (!only || strcmp(only, "write") == 0)
        bench_xfer(c, dir, size, pat);
    if (!only || strcmp(only, "calls") == 0)
        bench_calls(c, dir, seconds, pat);
    if (!only || strcmp(only, "rss") == 0)
        bench_rss(c, pid, pat);

    cairn_disconnect(c);
    if (!socket) {
        int st = daemon_stop();
        if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            must(-ECHILD, "cairnd did not exit cleanly on SIGTERM (wait status %d)", st);
    }
    printf("# total run time: %.1f s\n", now_s() - t0);
    free(pat);
    free(sock);
    free(vp);
    free(cairnd);
    return 0;
}
