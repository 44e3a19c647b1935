/*
 * test_poll.c — unit tests for rpc/poll.c: the wait that spins before it
 * blocks.
 *
 * Covers poll.c's invariants:
 *  (1) the event a wait returns is the one the blocking wait would return:
 *      a call's completion that arrives while the waiter spins, and one that
 *      arrives after a short spin gave up, both come back with their tag;
 *      a deadline shorter than the spin is a timeout at the deadline (a
 *      spin of 10 s against a deadline of 20 ms returns long before 10 s);
 *  (2) a wait spins only when no other thread of its group waits: with one waiter
 *      blocked (no spin) first, three more that may spin never do; four
 *      waiters that may all spin are never seen spinning more than one at
 *      a time, and one of them does spin (on a machine of 2 CPUs or more);
 *  (3) a process limited to one CPU never spins (checked where the test
 *      runs on one: poll_can_spin() must then be 0).
 * The events come from real calls to a unix socket nobody listens on: each
 * fails (UNAVAILABLE, or its deadline) and its status batch completes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "poll.h"
#include "testutil.h"

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct poll_group group; /* the tests' own (poll_clients is libcairn's) */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static gpr_timespec in_ms(int ms)
{
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(ms, GPR_TIMESPAN));
}

/* Starts a call to a socket nobody listens on, whose status batch will
 * complete on CQ with TAG; returns the call (unref it after its event). */
static grpc_call *doomed_call(grpc_channel *ch, grpc_completion_queue *cq, void *tag,
                              grpc_metadata_array *trail, grpc_status_code *status,
                              grpc_slice *details)
{
    grpc_call *call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
                                               grpc_slice_from_static_string("/cairn.test.T/X"),
                                               NULL, in_ms(200), NULL);
    assert_non_null(call);
    grpc_op ops[2];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[1].data.recv_status_on_client.trailing_metadata = trail;
    ops[1].data.recv_status_on_client.status = status;
    ops[1].data.recv_status_on_client.status_details = details;
    assert_int_equal(grpc_call_start_batch(call, ops, 2, tag, NULL), GRPC_CALL_OK);
    return call;
}

static grpc_channel *channel_to_nobody(char **dir)
{
    *dir = tu_tmpdir("poll");
    char addr[600];
    snprintf(addr, sizeof addr, "unix:%s/nobody.sock", *dir);
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    grpc_channel *ch = grpc_channel_create(addr, creds, NULL);
    grpc_channel_credentials_release(creds);
    assert_non_null(ch);
    return ch;
}

static void drain_and_destroy(grpc_completion_queue *cq)
{
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
}

/* (1) the call's event comes back, whether it arrives while spinning (a
 * spin of 5 s) or after the spin (5 us) gave up, or with no spin at all. */
static void test_event_comes_back_with_its_tag(void **state)
{
    (void)state;
    char *dir;
    grpc_channel *ch = channel_to_nobody(&dir);
    static const int spins[] = {5000000, 5, 0};
    for (size_t i = 0; i < sizeof spins / sizeof spins[0]; i++) {
        grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
        grpc_metadata_array trail;
        grpc_metadata_array_init(&trail);
        grpc_status_code status = GRPC_STATUS_OK;
        grpc_slice details = grpc_empty_slice();
        int tag;
        grpc_call *call = doomed_call(ch, cq, &tag, &trail, &status, &details);
        grpc_event ev = poll_next(&group, cq, in_ms(10000), spins[i]);
        assert_int_equal(ev.type, GRPC_OP_COMPLETE);
        assert_ptr_equal(ev.tag, &tag);
        assert_int_not_equal(status, GRPC_STATUS_OK); /* nobody answered */
        assert_int_equal(group.spinning, 0);          /* given back */
        assert_int_equal(group.waiting, 0);
        grpc_call_unref(call);
        grpc_slice_unref(details);
        grpc_metadata_array_destroy(&trail);
        drain_and_destroy(cq);
    }
    grpc_channel_destroy(ch);
    tu_rmrf(dir);
    free(dir);
}

/* (1) a deadline that passes while spinning is a timeout, at the deadline. */
static void test_deadline_ends_the_spin(void **state)
{
    (void)state;
    grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
    double t0 = now_s();
    grpc_event ev = poll_next(&group, cq, in_ms(20), 10 * 1000 * 1000);
    double took = now_s() - t0;
    assert_int_equal(ev.type, GRPC_QUEUE_TIMEOUT);
    assert_true(took >= 0.015); /* not before the deadline */
    assert_true(took < 5.0);    /* nor the 10 s spin */
    assert_int_equal(group.spinning, 0);
    /* A deadline in another clock (the channel's realtime deadlines). */
    t0 = now_s();
    gpr_timespec realtime_dl =
        gpr_time_add(gpr_now(GPR_CLOCK_REALTIME), gpr_time_from_millis(20, GPR_TIMESPAN));
    ev = poll_next(&group, cq, realtime_dl, 10 * 1000 * 1000);
    assert_int_equal(ev.type, GRPC_QUEUE_TIMEOUT);
    took = now_s() - t0;
    assert_true(took >= 0.015);
    assert_true(took < 5.0);
    drain_and_destroy(cq);
}

struct waiter {
    pthread_t t;
    grpc_completion_queue *cq;
    int spin_us, ms;
};

static void *wait_empty(void *arg)
{
    struct waiter *w = arg;
    grpc_event ev = poll_next(&group, w->cq, in_ms(w->ms), w->spin_us);
    return ev.type == GRPC_QUEUE_TIMEOUT ? w : NULL;
}

static void start(struct waiter *w, int spin_us, int ms)
{
    w->cq = grpc_completion_queue_create_for_next(NULL);
    w->spin_us = spin_us;
    w->ms = ms;
    assert_int_equal(pthread_create(&w->t, NULL, wait_empty, w), 0);
}

static void join(struct waiter *w)
{
    void *r = NULL;
    assert_int_equal(pthread_join(w->t, &r), 0);
    assert_ptr_equal(r, w); /* it timed out, as the blocking wait would */
    drain_and_destroy(w->cq);
}

/* The most threads seen spinning at once over the next SECONDS (or until
 * one was seen, if UNTIL_ONE). */
static int most_spinning(double seconds, int until_one)
{
    int most = 0;
    double end = now_s() + seconds;
    for (int i = 0; i < 100000 && now_s() < end && !(until_one && most > 0); i++) {
        int k = group.spinning;
        if (k > most)
            most = k;
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    return most;
}

/* (2) one spinner at most, and none beside another waiter. */
static void test_only_a_lone_waiter_spins(void **state)
{
    (void)state;
    struct waiter w[4];
    unsigned long caught = group.caught;
    /* A waiter that blocks at once, then three that would spin 10 s. */
    start(&w[0], 0, 3000);
    for (int i = 0; i < 5000 && group.waiting < 1; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(group.waiting, 1);
    for (int i = 1; i < 4; i++)
        start(&w[i], 10 * 1000 * 1000, 600);
    assert_int_equal(most_spinning(0.5, 0), 0);
    for (int i = 0; i < 4; i++)
        join(&w[i]);
    assert_int_equal(group.waiting, 0);
    /* Four that would all spin 10 s: one at a time (the first to wait
     * spins until its deadline: nothing comes). */
    for (int i = 0; i < 4; i++)
        start(&w[i], 10 * 1000 * 1000, 1500);
    int most = most_spinning(1.2, 1);
    for (int i = 0; i < 4; i++)
        join(&w[i]);
    assert_true(most <= 1);
    assert_int_equal(most, poll_can_spin()); /* (3): none on one CPU */
    assert_int_equal(group.spinning, 0);
    assert_int_equal(group.waiting, 0);
    assert_int_equal(group.caught, caught); /* nothing came to any queue */
}

int main(void)
{
    grpc_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_comes_back_with_its_tag),
        cmocka_unit_test(test_deadline_ends_the_spin),
        cmocka_unit_test(test_only_a_lone_waiter_spins),
    };
    int rv = cmocka_run_group_tests(tests, NULL, NULL);
    grpc_shutdown();
    return rv;
}
