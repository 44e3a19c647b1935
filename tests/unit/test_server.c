/*
 * test_server.c — unit tests for rpc/server.c's turns (invariant (6)): at
 * most one thread waits in the completion queue, and a handler that blocks
 * never holds up the other calls while the server has a second thread.
 *
 * A real server on a unix socket in a temporary directory with two methods
 * of the Peer.Ping shape: Block (its handler waits until the test releases
 * it) and Quick (answers at once). With Block's handler held, 200 Quick calls
 * from another thread must all be answered, within the channel's 10 s
 * deadline per call (a stuck queue fails them with a timeout instead of
 * hanging the test):
 *  - Block marked slow (rpc.h): its thread hands the turn over first;
 *  - Block not marked slow: the standby takes the turn after a look;
 *  - both again with plain calls instead of session streams;
 *  - Block not marked slow, with two threads that both wait in the queue
 *    ([rpc] pollers = 2);
 *  - four of these again with the server's threads allowed to spin before
 *    they sleep in the queue ([rpc] spin_us = 2000, poll.c), and 50 quick
 *    calls before Block is called and after it returns, when no handler
 *    runs (while Block's handler runs, server.c (7) forbids the spin): with
 *    one poller, it must have caught some of them while spinning (unless
 *    the process may run on one CPU); with two, each waits beside the other
 *    and rarely spins; with spin_us 0 it never does;
 * and Block's own caller gets its answer once released.
 *
 * A method table that names a path twice (or the session stream's path)
 * is refused at start with -EINVAL, before anything is bound.
 *
 * Client streams (invariant (8)), on Sum, whose handler wants each message's
 * hlc to be the next number and pauses now and then so that received
 * messages wait for it: 300 messages are applied once each, in order (the
 * reply counts them); a handler error at message 100 is the call's status
 * and no message after it is applied, though the client sent them all; a
 * client that gives up at message 50 (its generator fails) gets its own
 * error, and the server goes on serving and stops in time; with one applier,
 * a short stream that starts while a long one keeps it busy ends long before
 * the long one (they take turns). A lone poller allowed to spin (2000 us)
 * catches none of 30 quick calls made while a client stream is open and
 * waiting for its next message (server.c (7)), and some after it ended, and
 * some beside a stream whose client stopped sending 300 ms before.
 * A step of the wall clock a day ahead in the middle of a stream does not
 * end it (channel.c (4)).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cairn/v1/peer.pb-c.h"
#include "codec.h" /* RPC_SESSION_PATH */
#include "poll.h"  /* poll_can_spin */
#include "rpc.h"
#include "testutil.h"

#include <errno.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { M_BLOCK, M_QUICK, M_SUM, M_N };

static const char *const paths[M_N] = {"/cairn.test.T/Block", "/cairn.test.T/Quick",
                                       "/cairn.test.T/Sum"};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int entered, released; /* under lock */

static int answer(const ProtobufCMessage *req, ProtobufCMessage **resp)
{
    const Cairn__V1__PingRequest *rq = (const Cairn__V1__PingRequest *)req;
    Cairn__V1__PingReply *rep = malloc(sizeof *rep);
    if (!rep)
        return -12;
    cairn__v1__ping_reply__init(rep);
    rep->hlc = rq->hlc + 1;
    *resp = &rep->base;
    return 0;
}

static int h_block(void *app, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
    (void)app;
    pthread_mutex_lock(&lock);
    entered = 1;
    pthread_cond_broadcast(&cond);
    while (!released)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    return answer(req, resp);
}

static int h_quick(void *app, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
    (void)app;
    return answer(req, resp);
}

/* ---- Sum: a client stream ---- */

static _Atomic long sum_seen[3];     /* messages the handler was given, by from_node */
static _Atomic uint64_t sum_fail_at; /* the message whose handler fails */
static _Atomic int sum_delay_us;     /* how long each message takes */

static int sum_start(void *app, void **state)
{
    (void)app;
    *state = calloc(1, sizeof(uint64_t));
    return *state ? 0 : -ENOMEM;
}

static int sum_msg(void *state, const ProtobufCMessage *msg, const struct rpc_segs *segs)
{
    (void)segs; /* PingRequest has no bytes field */
    const Cairn__V1__PingRequest *rq = (const Cairn__V1__PingRequest *)msg;
    uint64_t *next = state, hlc = rq->hlc;
    atomic_fetch_add(&sum_seen[rq->from_node % 3], 1);
    if (atomic_load(&sum_delay_us))
        usleep((useconds_t)atomic_load(&sum_delay_us));
    if (hlc != *next)
        return -EILSEQ; /* out of order, or one applied twice */
    if (hlc == atomic_load(&sum_fail_at))
        return -ENOSPC;
    if (hlc % 50 == 0)
        usleep(2000); /* the next ones queue up meanwhile */
    ++*next;
    return 0;
}

static int sum_finish(void *state, ProtobufCMessage **resp)
{
    Cairn__V1__PingReply *rep = malloc(sizeof *rep);
    if (!rep)
        return -ENOMEM;
    cairn__v1__ping_reply__init(rep);
    rep->hlc = *(uint64_t *)state;
    *resp = &rep->base;
    return 0;
}

struct sum_gen {
    Cairn__V1__PingRequest rq;
    uint64_t n, give_up_at;
};

static _Atomic int sum_pause_us;     /* the client's pause before each message after the first */
static _Atomic uint64_t sum_step_at; /* the message before which the wall clock steps */

/* The wall clock as gRPC reads it (gpr_now), stepped by wall_offset_s: how
 * a test makes the clock jump (NTP, an operator's `date -s`) without
 * touching the machine's. gpr_now_impl is libgpr's exported hook for it
 * (not in its public headers). */
extern gpr_timespec (*gpr_now_impl)(gpr_clock_type clock_type);
static gpr_timespec (*real_now)(gpr_clock_type clock_type);
static _Atomic int64_t wall_offset_s;

static gpr_timespec stepped_now(gpr_clock_type clock_type)
{
    gpr_timespec t = real_now(clock_type);
    if (clock_type == GPR_CLOCK_REALTIME)
        t.tv_sec += atomic_load(&wall_offset_s);
    return t;
}

static int sum_next(void *ctx, const ProtobufCMessage **m)
{
    struct sum_gen *g = ctx;
    if (g->rq.hlc + 1 >= g->n)
        return 0;
    if (g->rq.hlc + 1 > 0 && atomic_load(&sum_pause_us))
        usleep((useconds_t)atomic_load(&sum_pause_us));
    if (++g->rq.hlc == g->give_up_at)
        return -ECANCELED;
    if (g->rq.hlc == atomic_load(&sum_step_at))
        atomic_store(&wall_offset_s, 86400); /* a day ahead */
    *m = &g->rq.base;
    return 1;
}

/* Sends N messages (hlc 0..N-1, from_node TAG) on Sum, giving up at
 * GIVE_UP_AT (if < N); the call's result, and the reply's count in *COUNT. */
static int sum_call(struct rpc_channel *ch, uint32_t tag, uint64_t n, uint64_t give_up_at,
                    uint64_t *count)
{
    struct sum_gen g = {CAIRN__V1__PING_REQUEST__INIT, n, give_up_at};
    g.rq.from_node = tag;
    g.rq.hlc = UINT64_MAX; /* sum_next steps to 0 first */
    ProtobufCMessage *rep = NULL;
    int rv = rpc_client_stream(ch, M_SUM, (size_t)n, sum_next, &g, NULL,
                               &cairn__v1__ping_reply__descriptor, &rep);
    if (rv == 0) {
        *count = ((Cairn__V1__PingReply *)rep)->hlc;
        protobuf_c_message_free_unpacked(rep, NULL);
    }
    return rv;
}

static int call(struct rpc_channel *ch, size_t m, uint64_t v)
{
    Cairn__V1__PingRequest rq = CAIRN__V1__PING_REQUEST__INIT;
    rq.hlc = v;
    ProtobufCMessage *rep = NULL;
    int rv = rpc_unary(ch, m, &rq.base, &cairn__v1__ping_reply__descriptor, &rep);
    if (rv == 0) {
        if (((Cairn__V1__PingReply *)rep)->hlc != v + 1)
            rv = -1;
        protobuf_c_message_free_unpacked(rep, NULL);
    }
    return rv;
}

struct blocker {
    struct rpc_channel *ch;
    int rv;
};

static void *block_caller(void *arg)
{
    struct blocker *b = arg;
    b->rv = call(b->ch, M_BLOCK, 41);
    return NULL;
}

/* The method table: Block runs BLOCK (marked slow if SLOW), Quick, Sum. */
static void methods_init(struct rpc_method methods[M_N],
                         int (*block)(void *, const ProtobufCMessage *, ProtobufCMessage **),
                         int slow)
{
    memset(methods, 0, M_N * sizeof *methods);
    methods[M_BLOCK] = (struct rpc_method){.path = paths[M_BLOCK],
                                           .shape = RPC_UNARY,
                                           .req = &cairn__v1__ping_request__descriptor,
                                           .unary = block,
                                           .slow = slow};
    methods[M_QUICK] = (struct rpc_method){.path = paths[M_QUICK],
                                           .shape = RPC_UNARY,
                                           .req = &cairn__v1__ping_request__descriptor,
                                           .unary = h_quick};
    methods[M_SUM] = (struct rpc_method){.path = paths[M_SUM],
                                         .shape = RPC_CLIENT_STREAM,
                                         .req = &cairn__v1__ping_request__descriptor,
                                         .cstart = sum_start,
                                         .cmsg = sum_msg,
                                         .cfinish = sum_finish,
                                         .sfree = free,
                                         .slow = 1};
}

static void run(int slow, int no_sessions, int pollers, int spin_us)
{
    char *dir = tu_tmpdir("server");
    char sock[512], addr[520];
    snprintf(sock, sizeof sock, "%s/s.sock", dir);
    snprintf(addr, sizeof addr, "unix:%s", sock);
    struct rpc_method methods[M_N];
    methods_init(methods, h_block, slow);
    struct rpc_server_opts o = {.unix_path = sock,
                                .threads = 2,
                                .methods = methods,
                                .n_methods = M_N,
                                .no_sessions = no_sessions,
                                .pollers = pollers,
                                .spin_us = spin_us};
    struct rpc_server *s = NULL;
    assert_int_equal(rpc_server_start(&s, &o), 0);
    entered = released = 0;

    struct rpc_channel *bch = NULL, *qch = NULL;
    assert_int_equal(rpc_channel_open(&bch, addr, paths, M_N), 0);
    assert_int_equal(rpc_channel_open(&qch, addr, paths, M_N), 0);
    rpc_channel_set_timeout(bch, 10000);
    rpc_channel_set_timeout(qch, 10000);
    for (uint64_t i = 0; i < 50; i++) /* no handler running */
        assert_int_equal(call(qch, M_QUICK, i), 0);
    struct blocker b = {bch, 1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, block_caller, &b), 0);
    pthread_mutex_lock(&lock);
    while (!entered)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);

    /* Block's handler holds one of the two threads. */
    for (uint64_t i = 0; i < 200; i++)
        assert_int_equal(call(qch, M_QUICK, i), 0);
    pthread_mutex_lock(&lock);
    assert_int_equal(released, 0); /* all answered while it was held */
    released = 1;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(b.rv, 0);
    for (uint64_t i = 0; i < 50; i++)
        assert_int_equal(call(bch, M_QUICK, i), 0);

    rpc_channel_close(bch);
    rpc_channel_close(qch);
    if (spin_us == 0 || !poll_can_spin())
        assert_int_equal(rpc_server_spins_caught(s), 0);
    else if (pollers == 1) /* its lone poller spun between calls */
        assert_true(rpc_server_spins_caught(s) > 0);
    long dropped = -1;
    assert_int_equal(rpc_server_stop(s, 2000, &dropped), 0);
    assert_int_equal(dropped, 0); /* closed sessions are no dropped requests */
    tu_rmrf(dir);
    free(dir);
}

/* One case of the table below: how Block is marked, plain calls or
 * sessions, pollers, how long the server's threads spin (poll.c). */
struct variant {
    int slow, no_sessions, pollers, spin_us;
};

static void test_variant(void **state)
{
    const struct variant *v = *state;
    run(v->slow, v->no_sessions, v->pollers, v->spin_us);
}

/* A server with THREADS threads (and as many appliers) and a channel to it. */
struct sfx {
    char *dir;
    struct rpc_method methods[M_N];
    struct rpc_server *s;
    struct rpc_channel *ch;
};

/* A server with THREADS threads that spin SPIN_US and stop holding the spin
 * back for a stream quiet for QUIET_MS (0: the server's default). */
static void sfx_start(struct sfx *f, int threads, int spin_us, int quiet_ms)
{
    f->dir = tu_tmpdir("server");
    char sock[512], addr[520];
    snprintf(sock, sizeof sock, "%s/s.sock", f->dir);
    snprintf(addr, sizeof addr, "unix:%s", sock);
    methods_init(f->methods, h_quick, 0);
    struct rpc_server_opts o = {.unix_path = sock,
                                .threads = threads,
                                .methods = f->methods,
                                .n_methods = M_N,
                                .no_sessions = 1,
                                .spin_us = spin_us,
                                .stream_quiet_ms = quiet_ms};
    f->s = NULL;
    assert_int_equal(rpc_server_start(&f->s, &o), 0);
    f->ch = NULL;
    assert_int_equal(rpc_channel_open(&f->ch, addr, paths, M_N), 0);
    rpc_channel_set_timeout(f->ch, 10000);
    atomic_store(&sum_fail_at, UINT64_MAX);
    atomic_store(&sum_step_at, UINT64_MAX);
    atomic_store(&sum_delay_us, 0);
    atomic_store(&sum_pause_us, 0);
    for (int i = 0; i < 3; i++)
        atomic_store(&sum_seen[i], 0);
}

static void sfx_stop(struct sfx *f)
{
    rpc_channel_close(f->ch);
    assert_int_equal(rpc_server_stop(f->s, 2000, NULL), 0); /* not late: nothing held */
    tu_rmrf(f->dir);
    free(f->dir);
}

static void test_client_stream_in_order_and_stops_at_an_error(void **state)
{
    (void)state;
    struct sfx f;
    sfx_start(&f, 2, 0, 0);
    uint64_t count = 0;
    assert_int_equal(sum_call(f.ch, 0, 300, UINT64_MAX, &count), 0);
    assert_int_equal(count, 300);
    assert_int_equal(atomic_load(&sum_seen[0]), 300);

    atomic_store(&sum_fail_at, 100);
    atomic_store(&sum_seen[0], 0);
    assert_int_equal(sum_call(f.ch, 0, 300, UINT64_MAX, &count), -ENOSPC);
    assert_int_equal(atomic_load(&sum_seen[0]), 101); /* 0..100, none after */

    atomic_store(&sum_fail_at, UINT64_MAX);
    atomic_store(&sum_seen[0], 0);
    assert_int_equal(sum_call(f.ch, 0, 300, 50, &count), -ECANCELED);
    assert_true(atomic_load(&sum_seen[0]) <= 50);
    assert_int_equal(call(f.ch, M_QUICK, 7), 0);
    assert_int_equal(sum_call(f.ch, 0, 20, UINT64_MAX, &count), 0);
    assert_int_equal(count, 20);
    sfx_stop(&f);
}

struct long_stream {
    struct rpc_channel *ch;
    int rv;
    uint64_t count, n; /* N messages: 0 means 300 */
};

static void *long_stream(void *arg)
{
    struct long_stream *l = arg;
    l->rv = sum_call(l->ch, 1, l->n ? l->n : 300, UINT64_MAX, &l->count);
    return NULL;
}

/* Starts L's stream on thread *T and waits (at most 5 s) until the server
 * has applied SEEN of its messages. */
static void long_stream_start(struct long_stream *l, pthread_t *t, long seen)
{
    assert_int_equal(pthread_create(t, NULL, long_stream, l), 0);
    for (int i = 0; i < 5000 && atomic_load(&sum_seen[1]) < seen; i++)
        usleep(1000);
    assert_true(atomic_load(&sum_seen[1]) >= seen);
}

/* One applier, a long stream of slow messages that keeps it busy, and a
 * short stream that starts after it: the short one takes turns with the
 * long one instead of waiting for its end. */
static void test_client_streams_share_the_appliers(void **state)
{
    (void)state;
    struct sfx f;
    sfx_start(&f, 1, 0, 0);
    atomic_store(&sum_delay_us, 1000); /* the long stream: >= 300 ms */
    struct long_stream l = {f.ch, 1, 0, 0};
    pthread_t t;
    long_stream_start(&l, &t, 5);
    uint64_t count = 0;
    assert_int_equal(sum_call(f.ch, 2, 5, UINT64_MAX, &count), 0);
    long long_seen = atomic_load(&sum_seen[1]);
    assert_int_equal(count, 5);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(l.rv, 0);
    assert_int_equal(l.count, 300);
    if (long_seen >= 300)
        fail_msg("the short stream waited for the long one to end (it saw %ld of 300)", long_seen);
    sfx_stop(&f);
}

/* A server whose lone poller spins (server.c (7)) does not while a client
 * stream is open, even while the stream waits for its next piece: quick
 * calls made then are never caught by a spin; after the stream, they are. */
static void test_no_spin_while_a_stream_is_open(void **state)
{
    (void)state;
    if (!poll_can_spin())
        skip();
    struct sfx f;
    sfx_start(&f, 2, 2000, 5000);       /* pauses of up to 5 s between messages still hold it */
    atomic_store(&sum_pause_us, 50000); /* 10 messages: >= 450 ms open */
    struct long_stream l = {f.ch, 0, 0, 10};
    pthread_t t;
    long_stream_start(&l, &t, 1);
    unsigned long before = rpc_server_spins_caught(f.s);
    for (uint64_t i = 0; i < 30; i++)
        assert_int_equal(call(f.ch, M_QUICK, i), 0);
    unsigned long during = rpc_server_spins_caught(f.s);
    assert_true(atomic_load(&sum_seen[1]) < 10); /* the stream was open all along */
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(l.rv, 0);
    assert_int_equal(l.count, 10);
    assert_int_equal(during, before);
    for (uint64_t i = 0; i < 30; i++)
        assert_int_equal(call(f.ch, M_QUICK, i), 0);
    assert_true(rpc_server_spins_caught(f.s) > during); /* it spins again */
    sfx_stop(&f);
}

/* A client stream whose client stopped sending (here for 800 ms after its
 * first message) stops holding back the spin once stream_quiet_ms (100)
 * passed without a message (server.c (7)): quick calls made then are caught
 * by it. */
static void test_spins_again_beside_a_stalled_stream(void **state)
{
    (void)state;
    if (!poll_can_spin())
        skip();
    struct sfx f;
    sfx_start(&f, 2, 2000, 100);
    atomic_store(&sum_pause_us, 800000);
    struct long_stream l = {f.ch, 0, 0, 2};
    pthread_t t;
    long_stream_start(&l, &t, 1);
    usleep(300000); /* the stream is quiet for 3 x stream_quiet_ms */
    unsigned long before = rpc_server_spins_caught(f.s);
    for (uint64_t i = 0; i < 30; i++)
        assert_int_equal(call(f.ch, M_QUICK, i), 0);
    unsigned long during = rpc_server_spins_caught(f.s);
    assert_true(atomic_load(&sum_seen[1]) < 2); /* the stream was still open */
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(l.rv, 0);
    assert_int_equal(l.count, 2);
    if (during == before)
        fail_msg("no quick call was caught by a spin beside a stream quiet for 300 ms");
    sfx_stop(&f);
}

/* The wall clock jumps a day ahead in the middle of a client stream (whose
 * deadline is 300 x 10 s away): the stream still completes, every message
 * applied once, and the next call works (channel.c (4)); deadlines on the
 * wall clock would have made it time out at its next message. */
static void test_wall_clock_step_mid_stream(void **state)
{
    (void)state;
    struct sfx f;
    sfx_start(&f, 2, 0, 0);
    real_now = gpr_now_impl;
    gpr_now_impl = stepped_now;
    atomic_store(&sum_step_at, 10);
    uint64_t count = 0;
    int rv = sum_call(f.ch, 0, 300, UINT64_MAX, &count);
    int64_t stepped = atomic_load(&wall_offset_s);
    int quick = call(f.ch, M_QUICK, 7);
    gpr_now_impl = real_now;
    atomic_store(&wall_offset_s, 0);
    assert_int_equal(stepped, 86400); /* the step happened */
    assert_int_equal(rv, 0);
    assert_int_equal(count, 300);
    assert_int_equal(atomic_load(&sum_seen[0]), 300);
    assert_int_equal(quick, 0);
    sfx_stop(&f);
}

static void test_duplicate_path_refused(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("server");
    char sock[512];
    snprintf(sock, sizeof sock, "%s/s.sock", dir);
    const char *twice[] = {paths[M_QUICK], RPC_SESSION_PATH};
    for (size_t i = 0; i < 2; i++) {
        struct rpc_method methods[2] = {
            {.path = paths[M_QUICK],
             .shape = RPC_UNARY,
             .req = &cairn__v1__ping_request__descriptor,
             .unary = h_quick},
            {.path = twice[i],
             .shape = RPC_CLIENT_STREAM,
             .req = &cairn__v1__ping_request__descriptor},
        };
        struct rpc_server_opts o = {
            .unix_path = sock, .threads = 2, .methods = methods, .n_methods = 2};
        struct rpc_server *s = NULL;
        assert_int_equal(rpc_server_start(&s, &o), -EINVAL);
        assert_null(s);
        assert_int_equal(access(sock, F_OK), -1); /* nothing bound */
    }
    tu_rmrf(dir);
    free(dir);
}

int main(void)
{
    static struct variant v[] = {{1, 0, 1, 0},    {0, 0, 1, 0},    {1, 1, 1, 0},
                                 {0, 1, 1, 0},    {0, 0, 2, 0},    {1, 0, 1, 2000},
                                 {0, 0, 1, 2000}, {0, 1, 1, 2000}, {0, 0, 2, 2000}};
    const struct CMUnitTest tests[] = {
        {"slow_handler_hands_its_turn_over", test_variant, NULL, NULL, &v[0]},
        {"blocked_handler_is_covered_after_a_look", test_variant, NULL, NULL, &v[1]},
        {"plain_calls_slow_handler", test_variant, NULL, NULL, &v[2]},
        {"plain_calls_blocked_handler", test_variant, NULL, NULL, &v[3]},
        {"two_pollers_blocked_handler", test_variant, NULL, NULL, &v[4]},
        {"spinning_slow_handler_hands_its_turn_over", test_variant, NULL, NULL, &v[5]},
        {"spinning_blocked_handler_is_covered_after_a_look", test_variant, NULL, NULL, &v[6]},
        {"spinning_plain_calls_blocked_handler", test_variant, NULL, NULL, &v[7]},
        {"spinning_two_pollers_blocked_handler", test_variant, NULL, NULL, &v[8]},
        cmocka_unit_test(test_client_stream_in_order_and_stops_at_an_error),
        cmocka_unit_test(test_client_streams_share_the_appliers),
        cmocka_unit_test(test_spins_again_beside_a_stalled_stream),
        cmocka_unit_test(test_no_spin_while_a_stream_is_open),
        cmocka_unit_test(test_wall_clock_step_mid_stream),
        cmocka_unit_test(test_duplicate_path_refused),
    };
    int rv = cmocka_run_group_tests(tests, NULL, NULL);
    rpc_release();
    return rv;
}
