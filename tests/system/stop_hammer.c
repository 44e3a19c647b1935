/*
 * stop_hammer.c — many threads make small metadata calls on session streams
 * (rpc/session.c) while cairnd is stopped under them, and afterwards checks
 * what the restarted node holds (tests/fault/test_stop_sessions.sh).
 *
 *   stop_hammer ADDR VOLUME PREFIX THREADS MAX_OPS MAX_SECS OUT
 *   stop_hammer --verify ADDR VOLUME PREFIX THREADS OUT
 *
 * Run: thread T (0..THREADS-1) has its own connection (cairn_t, calls bound
 * to CALL_TIMEOUT_MS) and first makes the directory /PREFIX-T; then, once
 * every directory exists, it creates the empty files PREFIX-T-0,
 * PREFIX-T-1, ... in it, one cairn_mknod each, until a call fails, MAX_OPS
 * calls or MAX_SECS seconds. One more connection, T = THREADS, makes its
 * directory and then stays idle (its session open and unused: a stop must
 * end it, not wait for it) until every thread is done and SIGUSR1 came (the
 * test sends it once cairnd has exited) or MAX_SECS more seconds passed;
 * then it makes its one file PREFIX-THREADS-0. Every result is a line of
 * OUT, flushed at once (a crash leaves a usable file):
 *   ack NAME                   the call returned 0
 *   fail NAME ERRNO TEXT       the thread's first failure (it then stops);
 *                              TEXT: cairn_strerror, the server's message,
 *                              the session attempts, and "; told not
 *                              applied" if an attempt got RPC_SESSION_ENDED
 *                              (see "The window" below)
 *   end T ACKS WINDOWS HOW     the thread is done; HOW: fail or bound
 * and one summary line goes to stdout (with "windows=N", the sum of
 * WINDOWS). Exit 0 when every thread ran, 2 for a bad command line or a
 * failed setup (before any file call), 1 if OUT cannot be written.
 *
 * Verify: reads OUT and lists every /PREFIX-T (0..THREADS): each acknowledged name must
 * be there; no name may be there that was never sent (no PREFIX-T-N past
 * the thread's last attempt, nothing else); no name may be there whose
 * call was told its request was not applied (an attempt got
 * RPC_SESSION_ENDED: server.c (5)), whatever its retries then returned.
 * Other failed calls (e.g. the connection broke) may have been applied:
 * the "ok" line counts those present as failed_present=N. Prints "ok - ..."
 * or "FAIL: ..." lines and exits 0 or 1.
 *
 * The window: libcairn does not tell when a request went out on a session
 * that the stop was ending (server.c (5): dropped unapplied, ABORTED
 * RPC_SESSION_ENDED) and was sent again (session.c (3)); cairnd logs only
 * the requests that reached it, not those gRPC discarded in the socket.
 * So that a test log can show the window was exercised,
 * this program defines two gRPC functions itself, which take precedence
 * over libgrpc's for libcairn (the real ones are found with
 * dlsym(RTLD_NEXT)): grpc_call_start_batch, to count a call's attempts
 * (batches that send a message), and grpc_slice_str_cmp, to see session.c
 * match an attempt's ABORTED details with RPC_SESSION_ENDED, which it does
 * only for an attempt that got no answer on a session the stop ended while
 * it was idle on the server. WINDOWS counts such calls. The wrappers only
 * watch; they change nothing that is sent or returned. Counts depend on
 * timing: the test prints them and asserts nothing on them.
 *
 * Threads: the main thread sets up, starts and joins the workers; each
 * worker owns its connection and counters; OUT is written under out_lock.
 * Every loop is bounded (MAX_OPS, MAX_SECS, or the size of OUT).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_NEXT */
#endif
#include "cairn.h"

#include <dlfcn.h>
#include <errno.h>
#include <grpc/grpc.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define CALL_TIMEOUT_MS 5000 /* no call waits longer than this */
#define MAX_THREADS 64
#define NAME_MAX_LEN 200
#define EXAMPLES 5 /* offending names printed per kind */

/* ---- the gRPC wrappers (see the opening comment) ---- */

/* rpc/codec.h RPC_SESSION_ENDED (rpc/ headers are private to libcairn). */
#define SESSION_ENDED "cairn: session ended, request not applied"
/* In a "fail" line: an attempt of the call got RPC_SESSION_ENDED. */
#define ENDED_MARK "told not applied"

typedef grpc_call_error (*start_batch_fn)(grpc_call *, const grpc_op *, size_t, void *, void *);
typedef int (*str_cmp_fn)(grpc_slice, const char *);
static start_batch_fn real_start_batch;
static str_cmp_fn real_str_cmp;
static pthread_once_t real_once = PTHREAD_ONCE_INIT;
/* This thread's current call: */
static __thread unsigned sends; /* batches that sent a message (attempts) */
static __thread int ended_idle; /* an attempt's session was ended idle by a stop */

static void *real_find1(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);
    if (!f) {
        fprintf(stderr, "stop_hammer: %s not found: %s\n", name, dlerror());
        abort();
    }
    return f;
}

static void real_find(void)
{
    void *f = real_find1("grpc_call_start_batch");
    memcpy(&real_start_batch, &f, sizeof f);
    f = real_find1("grpc_slice_str_cmp");
    memcpy(&real_str_cmp, &f, sizeof f);
}

grpc_call_error grpc_call_start_batch(grpc_call *call, const grpc_op *ops, size_t nops, void *tag,
                                      void *reserved)
{
    pthread_once(&real_once, real_find);
    for (size_t i = 0; i < nops; i++)
        if (ops[i].op == GRPC_OP_SEND_MESSAGE)
            sends++;
    return real_start_batch(call, ops, nops, tag, reserved);
}

/* session.c compares a session's status details with RPC_SESSION_ENDED only
 * when the status is ABORTED, after an attempt got no answer: a match is a
 * request that went out on a session which the stop ended while it was
 * idle on the server (server.c (5)). */
int grpc_slice_str_cmp(grpc_slice a, const char *b)
{
    pthread_once(&real_once, real_find);
    int r = real_str_cmp(a, b);
    if (r == 0 && strcmp(b, SESSION_ENDED) == 0)
        ended_idle = 1;
    return r;
}

/* ---- run ---- */

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *out;
static int out_err; /* under out_lock */

static void out_line(const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&out_lock);
    va_start(ap, fmt);
    if (vfprintf(out, fmt, ap) < 0 || fflush(out) != 0)
        out_err = 1;
    va_end(ap);
    pthread_mutex_unlock(&out_lock);
}

struct worker {
    pthread_t tid;
    int t;
    cairn_t *c;
    uint64_t dir;
    /* results, read by main after the join */
    long acks, windows;
    int failed, rv;
};

static const char *A_VOL, *A_PREFIX;
static long A_MAX_OPS, A_MAX_SECS;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Creates file number I of W's thread with one cairn_mknod and records the
 * result in OUT; the call's result. */
static int one_call(struct worker *w, long i)
{
    char name[NAME_MAX_LEN];
    snprintf(name, sizeof name, "%s-%d-%ld", A_PREFIX, w->t, i);
    sends = 0;
    ended_idle = 0;
    int rv = cairn_mknod(w->c, A_VOL, w->dir, name, S_IFREG | 0644, 0, 0, 0, NULL);
    w->windows += ended_idle;
    if (rv == 0) {
        out_line("ack %s\n", name);
        w->acks++;
        return 0;
    }
    out_line("fail %s %d %s (server: \"%s\"; %u attempts%s)\n", name, rv, cairn_strerror(rv),
             cairn_last_error(), sends, ended_idle ? "; " ENDED_MARK : "");
    w->failed = 1;
    w->rv = rv;
    return rv;
}

static void end_line(const struct worker *w)
{
    out_line("end %d %ld %ld %s\n", w->t, w->acks, w->windows, w->failed ? "fail" : "bound");
}

static void *work(void *arg)
{
    struct worker *w = arg;
    double t0 = now_s();
    for (long i = 0; i < A_MAX_OPS && now_s() - t0 < (double)A_MAX_SECS; i++)
        if (one_call(w, i) != 0)
            break;
    end_line(w);
    return NULL;
}

static int parse_long(const char *s, long lo, long hi, long *v)
{
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (errno || end == s || *end || x < lo || x > hi)
        return -1;
    *v = x;
    return 0;
}

static int run(const char *addr, long threads)
{
    static struct worker ws[MAX_THREADS];
    int rv = 0;
    long n = 0;
    for (; n <= threads; n++) { /* ws[threads]: the idle connection */
        struct worker *w = &ws[n];
        char dname[NAME_MAX_LEN];
        cairn_attr_t a;
        w->t = (int)n;
        snprintf(dname, sizeof dname, "%s-%ld", A_PREFIX, n);
        if ((rv = cairn_connect(&w->c, addr)) != 0) {
            fprintf(stderr, "stop_hammer: connect %s: %s\n", addr, cairn_strerror(rv));
            goto out;
        }
        cairn_set_timeout(w->c, CALL_TIMEOUT_MS);
        if ((rv = cairn_mknod(w->c, A_VOL, CAIRN_ROOT_INO, dname, S_IFDIR | 0755, 0, 0, 0, &a)) !=
            0) {
            fprintf(stderr, "stop_hammer: setup: mkdir %s:/%s: %s (%s)\n", A_VOL, dname,
                    cairn_strerror(rv), cairn_last_error());
            n++; /* its connection is open */
            goto out;
        }
        w->dir = a.ino;
    }
    for (long i = 0; i < threads; i++)
        if (pthread_create(&ws[i].tid, NULL, work, &ws[i]) != 0) {
            fprintf(stderr, "stop_hammer: cannot start thread %ld\n", i);
            abort(); /* threads already started use OUT: no tidy way back */
        }
    long acks = 0, windows = 0, failed = 0, unavail = 0;
    for (long i = 0; i < threads; i++)
        pthread_join(ws[i].tid, NULL);
    struct worker *idle = &ws[threads]; /* its session sat idle all along */
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    struct timespec hold = {(time_t)A_MAX_SECS, 0};
    sigtimedwait(&usr1, NULL, &hold); /* blocked since main(): pending or awaited */
    one_call(idle, 0);
    end_line(idle);
    for (long i = 0; i <= threads; i++) {
        acks += ws[i].acks;
        windows += ws[i].windows;
        failed += ws[i].failed;
        unavail += ws[i].failed && ws[i].rv == CAIRN_EUNAVAIL;
    }
    printf("stop_hammer: %ld threads and 1 idle connection: %ld acknowledged, %ld failed (%ld "
           "service unavailable, %ld other), %ld ended by the bounds; windows=%ld (calls whose "
           "request met a session the stop ended idle)\n",
           threads, acks, failed, unavail, failed - unavail, threads + 1 - failed, windows);
out:
    for (long i = 0; i < n; i++)
        cairn_disconnect(ws[i].c);
    return rv;
}

/* ---- verify ---- */

enum sent { NOT_SENT, ACKED, FAILED, FAILED_ENDED };

struct tstate {
    unsigned char *st; /* enum sent per file number; SEEN is or-ed in */
    long n;            /* numbers 0..n-1 were sent */
    long cap;
};
#define SEEN 0x80

static struct tstate ts_[MAX_THREADS];
static long V_THREADS;
static long bad_never, bad_ended, bad_missing, failed_present;

/* Thread and number of NAME ("PREFIX-T-N"); -1 if it is not such a name. */
static int name_parse(const char *name, long *t, long *num)
{
    size_t pl = strlen(A_PREFIX);
    if (strncmp(name, A_PREFIX, pl) != 0 || name[pl] != '-')
        return -1;
    char tail;
    if (sscanf(name + pl, "-%ld-%ld%c", t, num, &tail) != 2 || *t < 0 || *t >= V_THREADS ||
        *num < 0)
        return -1;
    char canon[NAME_MAX_LEN];
    snprintf(canon, sizeof canon, "%s-%ld-%ld", A_PREFIX, *t, *num);
    return strcmp(canon, name) == 0 ? 0 : -1;
}

static int ts_mark(long t, long num, enum sent s)
{
    struct tstate *x = &ts_[t];
    if (num >= x->cap) {
        long cap = x->cap ? x->cap : 1024;
        while (cap <= num)
            cap *= 2;
        unsigned char *p = realloc(x->st, (size_t)cap);
        if (!p)
            return -ENOMEM;
        memset(p + x->cap, NOT_SENT, (size_t)(cap - x->cap));
        x->st = p;
        x->cap = cap;
    }
    if (x->st[num] != NOT_SENT)
        return -EEXIST; /* the same name twice in OUT */
    x->st[num] = (unsigned char)s;
    if (num + 1 > x->n)
        x->n = num + 1;
    return 0;
}

static int read_results(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "FAIL: cannot read %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[1024];
    int rv = 0;
    while (rv == 0 && fgets(line, sizeof line, f)) {
        char kind[8], name[NAME_MAX_LEN];
        long t, num;
        if (strncmp(line, "end ", 4) == 0)
            continue;
        if (sscanf(line, "%7s %199s", kind, name) != 2 || name_parse(name, &t, &num) != 0 ||
            (strcmp(kind, "ack") != 0 && strcmp(kind, "fail") != 0)) {
            fprintf(stderr, "FAIL: %s: unexpected line: %s", path, line);
            rv = -1;
        } else if (ts_mark(t, num,
                           kind[0] == 'a'                  ? ACKED
                           : strstr(line, "; " ENDED_MARK) ? FAILED_ENDED
                                                           : FAILED) != 0) {
            fprintf(stderr, "FAIL: %s: %s twice (or out of memory)\n", path, name);
            rv = -1;
        }
    }
    fclose(f);
    return rv;
}

struct lsctx {
    long t, entries;
};

static int on_entry(void *ctx, const char *name, uint64_t ino, uint32_t type,
                    const cairn_attr_t *attr)
{
    struct lsctx *l = ctx;
    long t, num;
    (void)ino;
    (void)type;
    (void)attr;
    l->entries++;
    if (name_parse(name, &t, &num) != 0 || t != l->t || num >= ts_[t].n ||
        (ts_[t].st[num] & ~SEEN) == NOT_SENT) {
        if (bad_never++ < EXAMPLES)
            printf("# /%s-%ld/%s: never sent\n", A_PREFIX, l->t, name);
        return 0;
    }
    if ((ts_[t].st[num] & ~SEEN) == FAILED_ENDED && bad_ended++ < EXAMPLES)
        printf("# /%s-%ld/%s: present, but the stop said its request was not applied\n", A_PREFIX,
               l->t, name);
    if ((ts_[t].st[num] & ~SEEN) == FAILED && failed_present++ < EXAMPLES)
        printf("# /%s-%ld/%s: present, although its call failed (the answer was lost)\n", A_PREFIX,
               l->t, name);
    ts_[t].st[num] |= SEEN;
    return 0;
}

static int verify(const char *addr, const char *path)
{
    cairn_t *c = NULL;
    int rv;
    long acked = 0, failed = 0, ended = 0;
    if (read_results(path) != 0)
        return 1;
    if ((rv = cairn_connect(&c, addr)) != 0) {
        fprintf(stderr, "FAIL: connect %s: %s\n", addr, cairn_strerror(rv));
        return 1;
    }
    cairn_set_timeout(c, 60000);
    for (long t = 0; t < V_THREADS && rv == 0; t++) {
        char dname[NAME_MAX_LEN];
        cairn_attr_t a;
        snprintf(dname, sizeof dname, "%s-%ld", A_PREFIX, t);
        if ((rv = cairn_lookup(c, A_VOL, CAIRN_ROOT_INO, dname, NULL, &a)) != 0) {
            fprintf(stderr, "FAIL: lookup %s:/%s: %s (%s)\n", A_VOL, dname, cairn_strerror(rv),
                    cairn_last_error());
            break;
        }
        struct lsctx l = {t, 0};
        if ((rv = cairn_readdir(c, A_VOL, a.ino, NULL, NULL, 0, on_entry, &l)) != 0) {
            fprintf(stderr, "FAIL: readdir %s:/%s: %s (%s)\n", A_VOL, dname, cairn_strerror(rv),
                    cairn_last_error());
            break;
        }
        for (long i = 0; i < ts_[t].n; i++) {
            int s = ts_[t].st[i];
            acked += (s & ~SEEN) == ACKED;
            failed += (s & ~SEEN) == FAILED;
            ended += (s & ~SEEN) == FAILED_ENDED;
            if (s == ACKED && bad_missing++ < EXAMPLES)
                printf("# /%s/%s-%ld-%ld: acknowledged, missing\n", dname, A_PREFIX, t, i);
        }
    }
    cairn_disconnect(c);
    for (long t = 0; t < V_THREADS; t++)
        free(ts_[t].st);
    if (rv != 0)
        return 1;
    if (bad_missing)
        printf("FAIL: %ld acknowledged names are missing\n", bad_missing);
    if (bad_never)
        printf("FAIL: %ld names are present that were never sent\n", bad_never);
    if (bad_ended)
        printf("FAIL: %ld names are present whose request the stop reported as not applied "
               "(RPC_SESSION_ENDED)\n",
               bad_ended);
    if (bad_missing || bad_never || bad_ended)
        return 1;
    printf("ok - %ld acknowledged names present, none never sent; %ld failed calls told \"not "
           "applied\", all absent; %ld other failed calls, failed_present=%ld\n",
           acked, ended, failed, failed_present);
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: stop_hammer ADDR VOLUME PREFIX THREADS MAX_OPS MAX_SECS OUT\n"
                    "       stop_hammer --verify ADDR VOLUME PREFIX THREADS OUT\n");
    exit(2);
}

int main(int argc, char **argv)
{
    long threads;
    if (argc == 7 && strcmp(argv[1], "--verify") == 0) {
        A_VOL = argv[3];
        A_PREFIX = argv[4];
        if (parse_long(argv[5], 1, MAX_THREADS - 1, &threads) != 0 || strlen(A_PREFIX) > 64)
            usage();
        V_THREADS = threads + 1; /* and the idle connection's */
        return verify(argv[2], argv[6]);
    }
    if (argc != 8)
        usage();
    A_VOL = argv[2];
    A_PREFIX = argv[3];
    if (parse_long(argv[4], 1, MAX_THREADS - 1, &threads) != 0 ||
        parse_long(argv[5], 1, 100000000, &A_MAX_OPS) != 0 ||
        parse_long(argv[6], 1, 3600, &A_MAX_SECS) != 0 || strlen(A_PREFIX) > 64)
        usage();
    sigset_t usr1; /* for the idle connection (run), in every thread */
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, NULL);
    if (!(out = fopen(argv[7], "w"))) {
        fprintf(stderr, "stop_hammer: cannot write %s: %s\n", argv[7], strerror(errno));
        return 1;
    }
    int rv = run(argv[1], threads);
    if (fclose(out) != 0)
        out_err = 1;
    if (rv != 0)
        return 2;
    if (out_err) {
        fprintf(stderr, "stop_hammer: writing %s failed\n", argv[7]);
        return 1;
    }
    return 0;
}
