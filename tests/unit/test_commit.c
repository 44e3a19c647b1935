/*
 * test_commit.c — unit tests for daemon/commit.c (group commit).
 *
 * Most cases drive struct commit with a fake flush function that stands for
 * "sync the chunks and the WAL": it reads the generation counter the writers
 * bump, sleeps a little (so waiters pile up behind it), records what it
 * reported and returns that. Covers commit.c's invariants:
 * (1) at most one flush runs at a time (the fake counts overlaps);
 * (2) durable only grows and never past what a flush reported: a waiter
 *     returns only once its generation is covered by a finished flush, and a
 *     monitor thread samples c->durable under c->lock while waiters run;
 * (3) a failed flush is sticky: the waiters of that flush and every later
 *     commit_wait (any generation, even 0) get its error and the flush
 *     function is never called again.
 * Also: a generation already durable costs no flush; a flush that covers
 * less than a waiter needs is followed by another one; 8 concurrent waiters
 * share flushes (flushes < waits); and through the engine, 8 threads doing
 * fs_write + fs_fsync on one volume need fewer flushes than fsync calls.
 * Worker threads never call cmocka asserts (longjmp is per thread): they
 * count violations that the main thread then checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "attr.h"
#include "commit.h"
#include "engine.h"
#include "fsops.h"
#include "testutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NTHREADS 8

/* ---- the fake flush ---- */

struct fake {
    _Atomic uint64_t written;  /* generations handed out to writers */
    _Atomic uint64_t reported; /* highest *upto a finished flush returned */
    _Atomic int calls;
    _Atomic int in_flush, overlaps; /* (1) */
    int fail_at;                    /* 1-based first failing call; 0 never */
    int err;
    unsigned delay_us;
    uint64_t step; /* 0: cover all written; else at most reported + step */
};

static int fake_flush(void *ctx, uint64_t *upto)
{
    struct fake *f = ctx;
    int n = atomic_fetch_add(&f->calls, 1) + 1;
    if (atomic_fetch_add(&f->in_flush, 1) != 0)
        atomic_fetch_add(&f->overlaps, 1);
    uint64_t w = atomic_load(&f->written); /* read before "syncing" */
    uint64_t r = atomic_load(&f->reported);
    if (f->step && w > r + f->step)
        w = r + f->step;
    if (f->delay_us)
        usleep(f->delay_us);
    atomic_fetch_sub(&f->in_flush, 1);
    /* fails from call fail_at on; a runaway retry loop (commit.c 3 broken)
     * is cut after 100 more calls, so the test fails instead of hanging */
    if (f->fail_at && n >= f->fail_at && n < f->fail_at + 100)
        return f->err;
    /* raise reported to w before commit.c can raise durable to it */
    uint64_t cur = atomic_load(&f->reported);
    while (cur < w && !atomic_compare_exchange_weak(&f->reported, &cur, w))
        ;
    *upto = w;
    return 0;
}

static uint64_t durable_of(struct commit *c)
{
    pthread_mutex_lock(&c->lock);
    uint64_t d = c->durable;
    pthread_mutex_unlock(&c->lock);
    return d;
}

/* ---- single-threaded behaviour ---- */

static void commit_wait_for_a_durable_generation_does_not_flush(void **state)
{
    (void)state;
    struct fake f = {0};
    struct commit c;
    commit_init(&c, fake_flush, &f);

    assert_int_equal(commit_wait(&c, 0), 0); /* nothing written: nothing to do */
    assert_int_equal(atomic_load(&f.calls), 0);

    atomic_store(&f.written, 5);
    assert_int_equal(commit_wait(&c, 5), 0);
    assert_int_equal(atomic_load(&f.calls), 1);
    assert_int_equal(durable_of(&c), 5);

    /* 3 and 5 are covered by that flush */
    assert_int_equal(commit_wait(&c, 3), 0);
    assert_int_equal(commit_wait(&c, 5), 0);
    assert_int_equal(atomic_load(&f.calls), 1);
    assert_int_equal(c.flushes, 1);
    assert_int_equal(c.waits, 4);
    assert_int_equal(commit_error(&c), 0);
    commit_fini(&c);
}

static void commit_wait_flushes_again_until_its_generation_is_covered(void **state)
{
    (void)state;
    /* each flush covers one more generation than the last one reported */
    struct fake f = {.step = 1};
    struct commit c;
    commit_init(&c, fake_flush, &f);
    atomic_store(&f.written, 5);

    assert_int_equal(commit_wait(&c, 5), 0);
    assert_int_equal(atomic_load(&f.calls), 5);
    assert_int_equal(atomic_load(&f.reported), 5);
    assert_int_equal(durable_of(&c), 5);
    commit_fini(&c);
}

static void commit_durable_stays_at_what_the_flush_reported(void **state)
{
    (void)state;
    /* the flush covered 2 of the 9 written generations: 2 is durable, and a
     * wait for 3 needs another flush (2) */
    struct fake f = {.step = 2};
    struct commit c;
    commit_init(&c, fake_flush, &f);
    atomic_store(&f.written, 9);
    assert_int_equal(commit_wait(&c, 1), 0);
    assert_int_equal(durable_of(&c), 2);
    assert_int_equal(atomic_load(&f.calls), 1);
    assert_int_equal(commit_wait(&c, 2), 0);
    assert_int_equal(atomic_load(&f.calls), 1);
    assert_int_equal(commit_wait(&c, 3), 0);
    assert_int_equal(atomic_load(&f.calls), 2);
    assert_int_equal(durable_of(&c), 4);
    commit_fini(&c);
}

static void commit_failed_flush_is_sticky_and_never_retried(void **state)
{
    (void)state;
    struct fake f = {.fail_at = 2, .err = -EIO};
    struct commit c;
    commit_init(&c, fake_flush, &f);

    atomic_store(&f.written, 1);
    assert_int_equal(commit_wait(&c, 1), 0);
    atomic_store(&f.written, 2);
    assert_int_equal(commit_wait(&c, 2), -EIO);
    assert_int_equal(commit_error(&c), -EIO);
    assert_int_equal(atomic_load(&f.calls), 2);
    assert_int_equal(durable_of(&c), 1);

    /* (3): every later wait, whatever its generation, gets the error, and
     * the flush function is not called again */
    atomic_store(&f.written, 3);
    assert_int_equal(commit_wait(&c, 3), -EIO);
    assert_int_equal(commit_wait(&c, 2), -EIO);
    assert_int_equal(commit_wait(&c, 1), -EIO);
    assert_int_equal(commit_wait(&c, 0), -EIO);
    assert_int_equal(atomic_load(&f.calls), 2);
    assert_int_equal(c.flushes, 2);
    assert_int_equal(commit_error(&c), -EIO);
    commit_fini(&c);
}

/* ---- concurrent waiters ---- */

struct shared {
    struct commit c;
    struct fake f;
    int iters;
    _Atomic int early;      /* a waiter returned 0 before its gen was reported */
    _Atomic int bad_rv;     /* a waiter returned an unexpected value */
    _Atomic int not_sticky; /* a wait after an error returned something else */
    _Atomic int got_err;    /* threads that saw the error */
    _Atomic int stop;
    _Atomic int monitor_bad; /* c->durable seen above f->reported */
    _Atomic uint64_t monitor_samples;
};

static void *waiter_main(void *arg)
{
    struct shared *s = arg;
    for (int i = 0; i < s->iters; i++) {
        uint64_t gen = atomic_fetch_add(&s->f.written, 1) + 1; /* "write" */
        int rv = commit_wait(&s->c, gen);
        if (rv == 0) {
            if (atomic_load(&s->f.reported) < gen) /* (2) */
                atomic_fetch_add(&s->early, 1);
            continue;
        }
        if (rv != s->f.err || !s->f.fail_at) {
            atomic_fetch_add(&s->bad_rv, 1);
            break;
        }
        atomic_fetch_add(&s->got_err, 1);
        /* (3) sticky for this thread's later waits, old and new gens */
        uint64_t later = atomic_fetch_add(&s->f.written, 1) + 1;
        if (commit_wait(&s->c, later) != rv || commit_wait(&s->c, gen) != rv ||
            commit_wait(&s->c, 0) != rv)
            atomic_fetch_add(&s->not_sticky, 1);
        break;
    }
    return NULL;
}

static void *monitor_main(void *arg)
{
    struct shared *s = arg;
    while (!atomic_load(&s->stop)) {
        pthread_mutex_lock(&s->c.lock);
        uint64_t d = s->c.durable;
        pthread_mutex_unlock(&s->c.lock);
        if (d > atomic_load(&s->f.reported)) /* reported only grows */
            atomic_fetch_add(&s->monitor_bad, 1);
        atomic_fetch_add(&s->monitor_samples, 1);
        usleep(50);
    }
    return NULL;
}

static void run_waiters(struct shared *s)
{
    pthread_t t[NTHREADS], mon;
    commit_init(&s->c, fake_flush, &s->f);
    assert_int_equal(pthread_create(&mon, NULL, monitor_main, s), 0);
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, waiter_main, s), 0);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    atomic_store(&s->stop, 1);
    pthread_join(mon, NULL);
}

static void commit_concurrent_waiters_share_flushes(void **state)
{
    (void)state;
    struct shared *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->iters = 200;
    s->f.delay_us = 300;
    run_waiters(s);

    uint64_t waits = (uint64_t)NTHREADS * (uint64_t)s->iters;
    int calls = atomic_load(&s->f.calls);
    printf("# %d waiters x %d waits: %d flushes, %llu monitor samples\n", NTHREADS, s->iters, calls,
           (unsigned long long)atomic_load(&s->monitor_samples));
    assert_int_equal(atomic_load(&s->bad_rv), 0);
    assert_int_equal(atomic_load(&s->early), 0);
    assert_int_equal(atomic_load(&s->monitor_bad), 0);
    assert_int_equal(atomic_load(&s->f.overlaps), 0); /* (1) */
    assert_int_equal(s->c.waits, waits);
    assert_int_equal(s->c.flushes, (uint64_t)calls);
    assert_true((uint64_t)calls < waits); /* the point of group commit */
    assert_true(calls > 0);
    /* every generation handed out was waited for, so all are durable, and
     * durable is exactly the highest report */
    assert_int_equal(s->c.durable, atomic_load(&s->f.reported));
    assert_int_equal(s->c.durable, atomic_load(&s->f.written));
    assert_int_equal(commit_error(&s->c), 0);
    commit_fini(&s->c);
    free(s);
}

static void commit_failed_flush_is_sticky_for_concurrent_waiters(void **state)
{
    (void)state;
    struct shared *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->iters = 1000; /* far more than it takes to reach the failing flush */
    s->f.delay_us = 200;
    s->f.fail_at = 4;
    s->f.err = -EIO;
    run_waiters(s);

    assert_int_equal(atomic_load(&s->bad_rv), 0);
    assert_int_equal(atomic_load(&s->early), 0);
    assert_int_equal(atomic_load(&s->not_sticky), 0);
    assert_int_equal(atomic_load(&s->monitor_bad), 0);
    assert_int_equal(atomic_load(&s->f.overlaps), 0);
    assert_int_equal(atomic_load(&s->got_err), NTHREADS); /* everyone saw it */
    assert_int_equal(atomic_load(&s->f.calls), 4);        /* never retried */
    assert_int_equal(commit_error(&s->c), -EIO);
    assert_int_equal(commit_wait(&s->c, 0), -EIO);
    assert_int_equal(atomic_load(&s->f.calls), 4);
    commit_fini(&s->c);
    free(s);
}

/* ---- through the engine ---- */

#define ENG_ITERS 40
#define ENG_BYTES 4096

struct eng_thread {
    struct volume *v;
    uint64_t ino;
    int idx;
    int rv; /* first failure, 0 if none */
};

static void fill(uint8_t *buf, int idx, int iter)
{
    for (size_t i = 0; i < ENG_BYTES; i++)
        buf[i] = (uint8_t)(idx * 31 + iter * 7 + (int)i);
}

static void *eng_main(void *arg)
{
    struct eng_thread *t = arg;
    uint8_t buf[ENG_BYTES];
    for (int i = 0; i < ENG_ITERS && t->rv == 0; i++) {
        fill(buf, t->idx, i);
        t->rv = fs_write(t->v, t->ino, (uint64_t)i * ENG_BYTES, buf, sizeof buf, NULL);
        if (t->rv == 0)
            t->rv = fs_fsync(t->v);
    }
    return NULL;
}

static void engine_concurrent_fsyncs_share_flushes(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("test_commit");
    struct engine_opts o = {.data_dir = dir};
    struct engine *e;
    struct volume *v;
    uint8_t id[16];
    assert_int_equal(engine_open(&e, &o), 0);
    assert_int_equal(engine_volume_create(e, "g", DURABILITY_LOCAL, 0), 0);
    assert_int_equal(engine_chunk_create(e, 16u << 20, id), 0);
    assert_int_equal(engine_chunk_assign(e, id, "g"), 0);
    assert_int_equal(engine_volume(e, "g", &v), 0);

    struct eng_thread t[NTHREADS];
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        char name[16];
        snprintf(name, sizeof name, "f%d", i);
        t[i] = (struct eng_thread){v, 0, i, 0};
        assert_int_equal(
            fs_mknod(v, ROOT_INO, name, S_IFREG | 0644, 0, 0, 0, NULL, &t[i].ino, NULL), 0);
    }
    struct engine_stats before, after;
    engine_stats(e, &before);
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, eng_main, &t[i]), 0);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    engine_stats(e, &after);
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(t[i].rv, 0);

    uint64_t flushes = after.flushes - before.flushes;
    uint64_t fsyncs = after.fsync_calls - before.fsync_calls;
    printf("# engine: %llu fsync calls, %llu flushes\n", (unsigned long long)fsyncs,
           (unsigned long long)flushes);
    assert_int_equal(fsyncs, NTHREADS * ENG_ITERS);
    assert_true(flushes > 0);
    assert_true(flushes < fsyncs);

    /* every write is there, and survives a reopen (it was fsync'ed) */
    engine_close(e);
    assert_int_equal(engine_open(&e, &o), 0);
    assert_int_equal(engine_volume(e, "g", &v), 0);
    uint8_t want[ENG_BYTES], got[ENG_BYTES];
    for (int i = 0; i < NTHREADS; i++)
        for (int k = 0; k < ENG_ITERS; k++) {
            size_t n = 0;
            fill(want, i, k);
            assert_int_equal(
                fs_read(v, &ASOF_NOW, t[i].ino, (uint64_t)k * ENG_BYTES, ENG_BYTES, got, &n), 0);
            assert_int_equal(n, ENG_BYTES);
            assert_memory_equal(got, want, ENG_BYTES);
        }
    engine_close(e);
    tu_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(commit_wait_for_a_durable_generation_does_not_flush),
        cmocka_unit_test(commit_wait_flushes_again_until_its_generation_is_covered),
        cmocka_unit_test(commit_durable_stays_at_what_the_flush_reported),
        cmocka_unit_test(commit_failed_flush_is_sticky_and_never_retried),
        cmocka_unit_test(commit_concurrent_waiters_share_flushes),
        cmocka_unit_test(commit_failed_flush_is_sticky_for_concurrent_waiters),
        cmocka_unit_test(engine_concurrent_fsyncs_share_flushes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
