/*
 * test_jobs.c — unit tests for rpc/jobs.c (the appliers' thread pool).
 *
 * Covers jobs.c's invariants: (1) with one thread, jobs run in the order
 * they were submitted; (2) every job submitted before jobs_stop has run when
 * it returns, including jobs that requeue themselves; (4) a job that
 * requeues itself runs again after the jobs queued meanwhile (turns are
 * shared), and a requeue with nothing else waiting still runs (its own
 * thread comes back for it); with two threads, two jobs that each wait for
 * the other to start both finish (they run at the same time), so a
 * submitted job wakes an idle thread. Waits are bounded (5 s).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "jobs.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#define MAXLOG 64

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int order[MAXLOG], n_order; /* under lock: the ids in the order they ran */
static struct jobs *pool;

struct tjob {
    struct job j;
    int id, turns; /* turns: how many more times it requeues itself */
};

static void logged(struct job *j)
{
    struct tjob *t = (struct tjob *)(void *)j;
    pthread_mutex_lock(&lock);
    if (n_order < MAXLOG)
        order[n_order++] = t->id;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    if (t->turns > 0) {
        t->turns--;
        jobs_requeue(pool, j);
    }
}

/* Waits on cond (lock held) for at most 5 s; 0 when woken. */
static int wait_5s(void)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 5;
    return pthread_cond_timedwait(&cond, &lock, &dl);
}

/* A fresh log and a pool of THREADS threads. */
static void start(int threads)
{
    pthread_mutex_lock(&lock);
    n_order = 0;
    memset(order, 0, sizeof order);
    pthread_mutex_unlock(&lock);
    pool = jobs_start(threads);
    assert_non_null(pool);
}

static void jobs_run_in_order_and_all_before_stop(void **state)
{
    (void)state;
    start(1);
    struct tjob t[20];
    for (int i = 0; i < 20; i++) {
        t[i] = (struct tjob){{NULL, logged}, i, 0};
        jobs_submit(pool, &t[i].j);
    }
    jobs_stop(pool);
    assert_int_equal(n_order, 20);
    for (int i = 0; i < 20; i++)
        assert_int_equal(order[i], i);
}

/* Runs first and holds the only thread until B and C are queued. */
static void hold(struct job *j)
{
    (void)j;
    pthread_mutex_lock(&lock);
    order[n_order++] = 100;
    pthread_cond_broadcast(&cond);
    while (n_order < 1000 && wait_5s() == 0) /* released by the test: n_order += 1000 */
        ;
    n_order -= 1000;
    pthread_mutex_unlock(&lock);
}

static void jobs_a_requeue_goes_behind_what_waits(void **state)
{
    (void)state;
    start(1);
    struct job h = {NULL, hold};
    struct tjob a = {{NULL, logged}, 1, 2}, b = {{NULL, logged}, 2, 0};
    jobs_submit(pool, &h);
    pthread_mutex_lock(&lock);
    while (n_order == 0)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    jobs_submit(pool, &a.j); /* a runs, requeues twice; b waits between */
    jobs_submit(pool, &b.j);
    pthread_mutex_lock(&lock);
    n_order += 1000;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    jobs_stop(pool);
    int want[] = {100, 1, 2, 1, 1};
    assert_int_equal(n_order, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(order[i], want[i]);
}

static void jobs_a_lone_requeue_still_runs(void **state)
{
    (void)state;
    start(2);
    struct tjob a = {{NULL, logged}, 7, 5};
    jobs_submit(pool, &a.j);
    pthread_mutex_lock(&lock); /* all six turns, without jobs_stop's help */
    while (n_order < 6 && wait_5s() == 0)
        ;
    int seen = n_order;
    pthread_mutex_unlock(&lock);
    jobs_stop(pool);
    assert_int_equal(seen, 6);
}

static _Atomic int started;

/* Waits (at most 5 s) until the other pair job has started too. */
static void pair(struct job *j)
{
    (void)j;
    atomic_fetch_add(&started, 1);
    for (int i = 0; i < 5000 && atomic_load(&started) < 2; i++) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    pthread_mutex_lock(&lock);
    order[n_order++] = atomic_load(&started);
    pthread_mutex_unlock(&lock);
}

static void jobs_two_threads_run_two_jobs_at_once(void **state)
{
    (void)state;
    atomic_store(&started, 0);
    start(2);
    struct job a = {NULL, pair}, b = {NULL, pair};
    jobs_submit(pool, &a);
    jobs_submit(pool, &b);
    jobs_stop(pool);
    assert_int_equal(n_order, 2);
    assert_int_equal(order[0], 2); /* each saw the other start */
    assert_int_equal(order[1], 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(jobs_run_in_order_and_all_before_stop),
        cmocka_unit_test(jobs_a_requeue_goes_behind_what_waits),
        cmocka_unit_test(jobs_a_lone_requeue_still_runs),
        cmocka_unit_test(jobs_two_threads_run_two_jobs_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
