/*
 * hang_probe.c — libcairn against a cairnd that stops answering while its
 * connections stay open: the process is stopped (SIGSTOP: a hung or
 * swapped-out daemon) or the network between is cut (a partition). Driven
 * by tests/fault/test_unresponsive.sh and test_partition.sh.
 *
 *   hang_probe ADDR PID VOLUME NAME [CUT HEAL]
 *
 * ADDR is the server (unix:PATH or HOST:PORT), PID cairnd's process, NAME a
 * prefix for the files this run makes in VOLUME's root. With CUT and HEAL
 * (shell commands, each must exit 0) those cut cairnd off and bring it back
 * instead of SIGSTOP and SIGCONT. Steps:
 *  1. with the default-length timeout (CALM_MS): NAME-acked gets SIZE random
 *     bytes (a WriteStream) and is fsynced and read back; NAME-cut is made;
 *  2. SIGSTOP to PID (and wait until the kernel reports it stopped), or CUT; with
 *     the timeout at STOPPED_MS, each of these must fail with -ETIMEDOUT and
 *     return (none may hang): getattr, a SIZE write of NAME-cut (a
 *     WriteStream), the same write lent (cairn_write_lent from a copy of
 *     the bytes that its DONE spoils), a SIZE read of NAME-acked (a
 *     ReadStream), fsync, and mknod of NAME-maybe; the time each took is
 *     printed, not judged;
 *  3. SIGCONT or HEAL (always, also after a failed check), timeout back to
 *     CALM_MS;
 *  4. the same connection works again at its first call; NAME-acked reads
 *     back byte for byte; the lent write's DONE has run exactly once;
 *     NAME-cut holds a prefix of the write that timed out, in
 *     whole pieces (a piece is applied whole or not at all, and in order;
 *     nothing is applied after the server saw the cancel): its size is a
 *     multiple of CAIRN_CALL_MAX up to SIZE and its bytes are the written
 *     ones; NAME-maybe exists or not (a timed-out call may or may
 *     not have been applied: the request may have been in cairnd's socket),
 *     and if it does it is a regular file; NAME-cut written again in full
 *     reads back byte for byte.
 * Prints "ok - ..." per step and "FAIL: ..." per failed check; exit 0 when
 * all passed, 1 when one failed, 2 for a bad command line or setup failure.
 * Every wait is bounded (the timeouts; STOP_WAIT_MS for the process state).
 */
#include "cairn.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define SIZE (3 * (size_t)CAIRN_CALL_MAX) /* a stream of 3 pieces */
#define CALM_MS 30000                     /* calls of a running cairnd */
#define STOPPED_MS 700                    /* calls of a stopped one (a stream: per piece) */
#define STOP_WAIT_MS 10000                /* for the kernel to report the new state */

static int failed;

static void check(int cond, const char *fmt, ...)
{
    if (cond)
        return;
    fputs("FAIL: ", stdout);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fputs("\n", stdout);
    failed = 1;
}

static void die_setup(const char *what, int rv)
{
    printf("FAIL: setup: %s: %s (%s)\n", what, cairn_strerror(rv), cairn_last_error());
    exit(2);
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* The state letter of PID in /proc (R, S, T, ...), or 0. */
static char proc_state(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the name may hold anything */
    return p && p[1] == ' ' ? p[2] : 0;
}

/* Sends SIG to PID and waits until it is stopped (STOPPED) or not; 0 or -1. */
static int signal_and_wait(pid_t pid, int sig, int stopped)
{
    if (kill(pid, sig) != 0)
        return -1;
    for (double t0 = now_ms(); now_ms() - t0 < STOP_WAIT_MS;) {
        char s = proc_state(pid);
        if (s == 0)
            return -1;
        if ((s == 'T') == stopped)
            return 0;
        usleep(1000);
    }
    return -1;
}

static uint64_t make_file(cairn_t *c, const char *vol, const char *name, const char *suffix)
{
    char full[256];
    snprintf(full, sizeof full, "%s-%s", name, suffix);
    cairn_attr_t a;
    int rv = cairn_mknod(c, vol, CAIRN_ROOT_INO, full, S_IFREG | 0644, 0, 0, 0, &a);
    if (rv != 0)
        die_setup(full, rv);
    return a.ino;
}

/* Reads LEN bytes of INO and compares them with WANT; 0 when equal. */
static int read_equal(cairn_t *c, const char *vol, uint64_t ino, const uint8_t *want, size_t len,
                      uint8_t *scratch, const char *what)
{
    size_t got = 0;
    int rv = cairn_read(c, vol, ino, 0, len, scratch, NULL, &got);
    check(rv == 0, "%s: read: %s (%s)", what, cairn_strerror(rv), cairn_last_error());
    if (rv != 0)
        return -1;
    check(got == len, "%s: read %zu bytes, want %zu", what, got, len);
    int same = got == len && memcmp(scratch, want, len) == 0;
    check(got != len || same, "%s: the bytes read differ", what);
    return same ? 0 : -1;
}

static const char *cut_cmd, *heal_cmd; /* NULL: SIGSTOP and SIGCONT */
static const char *how = "stopped";

/* Cuts cairnd (PID) off, or brings it back (CUT 0); 0 or -1. */
static int cut_off(pid_t pid, int cut)
{
    if (!cut_cmd)
        return signal_and_wait(pid, cut ? SIGSTOP : SIGCONT, cut);
    return system(cut ? cut_cmd : heal_cmd) == 0 ? 0 : -1;
}

/* cairn_write_lent's DONE: counts, and spoils the buffer, so bytes gRPC
 * sent after it would not read as the written ones (step 4). */
static _Atomic int lent_dones;

static void poison_done(void *arg)
{
    memset(arg, 0xEE, SIZE);
    lent_dones++;
}

/* One call while cairnd is cut off: it must end, with -ETIMEDOUT. */
#define STOPPED_CALL(what, call)                                                                   \
    do {                                                                                           \
        double t0_ = now_ms();                                                                     \
        int rv_ = (call);                                                                          \
        double ms_ = now_ms() - t0_;                                                               \
        check(rv_ == -ETIMEDOUT, "%s to a %s cairnd: %s (%s), want -ETIMEDOUT", what, how,         \
              cairn_strerror(rv_), cairn_last_error());                                            \
        if (rv_ == -ETIMEDOUT)                                                                     \
            printf("ok - %s to a %s cairnd: timed out after %.0f ms\n", what, how, ms_);           \
    } while (0)

int main(int argc, char **argv)
{
    if (argc != 5 && argc != 7) {
        fprintf(stderr, "usage: hang_probe ADDR PID VOLUME NAME [CUT HEAL]\n");
        return 2;
    }
    if (argc == 7) {
        cut_cmd = argv[5];
        heal_cmd = argv[6];
        how = "cut-off";
    }
    const char *addr = argv[1], *vol = argv[3], *name = argv[4];
    pid_t pid = (pid_t)atol(argv[2]);
    if (pid <= 0 || proc_state(pid) == 0) {
        fprintf(stderr, "hang_probe: no process %s\n", argv[2]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);      /* a killed run still shows its steps */
    static uint8_t data[SIZE], back[SIZE]; /* written, and read back */
    srand((unsigned)getpid());
    for (size_t i = 0; i < SIZE; i++)
        data[i] = (uint8_t)(rand() >> 7);

    /* 1 */
    cairn_t *c;
    int rv = cairn_connect(&c, addr);
    if (rv != 0)
        die_setup("connect", rv);
    cairn_set_timeout(c, CALM_MS);
    uint64_t acked = make_file(c, vol, name, "acked"), cut = make_file(c, vol, name, "cut");
    if ((rv = cairn_write(c, vol, acked, 0, data, SIZE, NULL)) != 0)
        die_setup("write", rv);
    if ((rv = cairn_fsync(c, vol)) != 0)
        die_setup("fsync", rv);
    if (read_equal(c, vol, acked, data, SIZE, back, "acked before the stop") != 0)
        return 2;
    printf("ok - %s: %zu bytes written, synced and read back\n", addr, SIZE);

    /* 2 */
    if (cut_off(pid, 1) != 0) {
        printf("FAIL: cairnd %ld could not be cut off\n", (long)pid);
        cut_off(pid, 0);
        return 2;
    }
    cairn_set_timeout(c, STOPPED_MS);
    cairn_attr_t a;
    size_t got = 0;
    char maybe[256];
    snprintf(maybe, sizeof maybe, "%s-maybe", name);
    STOPPED_CALL("getattr", cairn_getattr(c, vol, acked, NULL, &a));
    STOPPED_CALL("a 3-piece write", cairn_write(c, vol, cut, 0, data, SIZE, NULL));
    uint8_t *lent = malloc(SIZE);
    if (!lent)
        die_setup("malloc", -ENOMEM);
    memcpy(lent, data, SIZE);
    STOPPED_CALL("a 3-piece lent write",
                 cairn_write_lent(c, vol, cut, 0, lent, SIZE, poison_done, lent, NULL));
    /* its DONE may have run already: over TCP the kernel's buffers hold
     * megabytes (test_orphan checks that stuck bytes stay lent) */
    STOPPED_CALL("a 3-piece read", cairn_read(c, vol, acked, 0, SIZE, back, NULL, &got));
    STOPPED_CALL("fsync", cairn_fsync(c, vol));
    STOPPED_CALL("mknod", cairn_mknod(c, vol, CAIRN_ROOT_INO, maybe, S_IFREG | 0644, 0, 0, 0, &a));

    /* 3 */
    int resumed = cut_off(pid, 0) == 0;
    check(resumed, "cairnd %ld could not be brought back", (long)pid);
    if (!resumed)
        return 1;
    cairn_set_timeout(c, CALM_MS);

    /* 4 */
    rv = cairn_getattr(c, vol, acked, NULL, &a);
    check(rv == 0, "the first call after cairnd came back: %s (%s)", cairn_strerror(rv),
          cairn_last_error());
    check(rv != 0 || a.size == SIZE, "acked: size %llu after the stop, want %zu",
          (unsigned long long)a.size, SIZE);
    if (read_equal(c, vol, acked, data, SIZE, back, "acked after the stop") == 0)
        printf("ok - the same connection serves again at once; acknowledged bytes intact\n");
    for (int i = 0; i < CALM_MS && lent_dones == 0; i++) /* the lent bytes come back */
        usleep(1000);
    check(lent_dones == 1, "the timed-out lent write's DONE ran %d times, want 1", (int)lent_dones);
    if (lent_dones == 1)
        printf("ok - the timed-out lent write gave its buffer back once\n");
    if (lent_dones == 1)
        free(lent); /* else gRPC may still read it: left alone */
    rv = cairn_getattr(c, vol, cut, NULL, &a);
    check(rv == 0, "cut: getattr: %s", cairn_strerror(rv));
    if (rv == 0) {
        size_t n = (size_t)a.size;
        int whole = a.size <= SIZE && n % CAIRN_CALL_MAX == 0;
        check(whole, "cut: the timed-out write left %llu bytes: not whole pieces of it",
              (unsigned long long)a.size);
        if (whole && (n == 0 || read_equal(c, vol, cut, data, n, back, "cut's prefix") == 0))
            printf("ok - the timed-out write left %zu of its %zu pieces, whole and in order\n",
                   n / CAIRN_CALL_MAX, SIZE / CAIRN_CALL_MAX);
    }
    rv = cairn_lookup(c, vol, CAIRN_ROOT_INO, maybe, NULL, &a);
    check(rv == -ENOENT || (rv == 0 && S_ISREG(a.mode)), "maybe: lookup %s, mode %o",
          cairn_strerror(rv), rv == 0 ? a.mode : 0);
    if (rv == 0 || rv == -ENOENT)
        printf("ok - the timed-out mknod was %s\n", rv == 0 ? "applied" : "not applied");
    rv = cairn_write(c, vol, cut, 0, data, SIZE, NULL);
    check(rv == 0, "cut: writing again: %s (%s)", cairn_strerror(rv), cairn_last_error());
    if (rv == 0 && (rv = cairn_fsync(c, vol)) != 0)
        check(0, "fsync after the stop: %s", cairn_strerror(rv));
    if (rv == 0 && read_equal(c, vol, cut, data, SIZE, back, "cut written again") == 0)
        printf("ok - writes and fsync work again\n");
    cairn_disconnect(c);
    return failed;
}
