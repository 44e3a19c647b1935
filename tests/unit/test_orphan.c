/*
 * test_orphan.c — unit tests for rpc/orphan.c and the deadline rule of
 * rpc/channel.c (3): a client call whose send is blocked because its server
 * stopped reading ends at its deadline, and what gRPC still holds of it is
 * released once the server reads again.
 *
 * The server is a fake on a unix socket: it accepts, writes an HTTP/2
 * SETTINGS frame with a 2 GiB stream window and a connection WINDOW_UPDATE
 * (so flow control lets the client write far more than the socket holds),
 * and then reads nothing, as a stopped cairnd with an open connection.
 * Covers:
 *  - a client stream of one 8 MiB piece returns -ETIMEDOUT (it would wait
 *    forever without channel.c (3)), and its call is then an orphan;
 *  - once the fake reads (and throws away) what was sent, the orphan is
 *    released (bounded wait) by orphan.c's reaper thread, with no further
 *    call from the test, and the count is back to 0;
 *  - the same piece lent (rpc_lend, lend.c): its DONE has not run when the
 *    call returns -ETIMEDOUT (gRPC still refers to the bytes, so the lender
 *    must not reuse them), and runs exactly once after the fake read them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cairn/v1/fs.pb-c.h"
#include "orphan.h"
#include "rpc.h"
#include "testutil.h"

#include <errno.h>
#include <grpc/grpc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define PIECE (8u << 20) /* far more than a unix socket holds */

struct fake {
    int lfd;
    _Atomic int drain; /* 1: read and discard everything from now on */
    pthread_t thread;
};

/* Accepts one connection, sends the frames, reads nothing until told to,
 * then reads until the client goes away. */
static void *fake_main(void *arg)
{
    struct fake *f = arg;
    int fd = accept(f->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    static const uint8_t frames[] = {
        /* SETTINGS: length 6, type 4, no flags, stream 0; INITIAL_WINDOW_SIZE = 2^31-1 */
        0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 4, 0x7f, 0xff, 0xff, 0xff,
        /* WINDOW_UPDATE: length 4, type 8, stream 0; increment 2^31-1-65535 */
        0, 0, 4, 8, 0, 0, 0, 0, 0, 0x7f, 0xff, 0, 0};
    if (write(fd, frames, sizeof frames) != (ssize_t)sizeof frames) {
        close(fd);
        return NULL;
    }
    for (int i = 0; i < 60000 && !atomic_load(&f->drain); i++) /* at most 60 s */
        usleep(1000);
    char buf[65536];
    while (read(fd, buf, sizeof buf) > 0)
        ;
    close(fd);
    return NULL;
}

struct gen {
    Cairn__V1__WriteRequest req;
    int sent;
};

static int one_piece(void *ctx, const ProtobufCMessage **m)
{
    struct gen *g = ctx;
    if (g->sent++)
        return 0;
    *m = &g->req.base;
    return 1;
}

static _Atomic int lend_dones;

static void lend_done(void *arg)
{
    (void)arg;
    lend_dones++;
}

/* The blocked send, LENT: its piece lent instead of copied. */
static void blocked_send(int lent)
{
    char *dir = tu_tmpdir("orphan");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s/s.sock", dir);
    struct fake f = {.lfd = socket(AF_UNIX, SOCK_STREAM, 0)};
    assert_true(f.lfd >= 0);
    assert_int_equal(bind(f.lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(f.lfd, 1), 0);
    assert_int_equal(pthread_create(&f.thread, NULL, fake_main, &f), 0);

    char addr[sizeof sa.sun_path + 8];
    snprintf(addr, sizeof addr, "unix:%s", sa.sun_path);
    static const char *const paths[] = {"/cairn.v1.Fs/WriteStream"};
    struct rpc_channel *ch;
    assert_int_equal(rpc_channel_open(&ch, addr, paths, 1), 0);
    rpc_channel_set_timeout(ch, 500);

    uint8_t *data = calloc(1, PIECE);
    assert_non_null(data);
    struct gen g = {CAIRN__V1__WRITE_REQUEST__INIT, 0};
    g.req.data.data = data;
    g.req.data.len = PIECE;
    ProtobufCMessage *resp = NULL;
    int before = orphan_count();
    lend_dones = 0;
    struct rpc_lend *lend = lent ? rpc_lend_new(4 /* data */, lend_done, NULL) : NULL;
    assert_true(!lent || lend);
    int rv = rpc_client_stream(ch, 0, 1, one_piece, &g, lend, &cairn__v1__write_reply__descriptor,
                               &resp);
    assert_int_equal(rv, -ETIMEDOUT);
    assert_null(resp);
    assert_int_equal(orphan_count(), before + 1); /* its send is still in gRPC's write */
    if (lend)
        rpc_lend_end(lend);
    usleep(100000);
    assert_int_equal(lend_dones, 0); /* the bytes are still gRPC's */

    atomic_store(&f.drain, 1);
    for (int i = 0; i < 10000 && orphan_count() > before; i++) /* at most 10 s */
        usleep(1000); /* no call here: orphan.c's reaper releases it (5) */
    assert_int_equal(orphan_count(), before);
    for (int i = 0; i < 10000 && lent && lend_dones == 0; i++) /* at most 10 s */
        usleep(1000);
    assert_int_equal(lend_dones, lent ? 1 : 0);

    rpc_channel_close(ch);
    assert_int_equal(lend_dones, lent ? 1 : 0);
    close(f.lfd);
    pthread_join(f.thread, NULL);
    free(data);
    tu_rmrf(dir);
    free(dir);
}

static void test_blocked_send_ends_at_deadline_and_is_released(void **state)
{
    (void)state;
    blocked_send(0);
}

static void test_lent_bytes_stay_lent_until_the_blocked_send_ends(void **state)
{
    (void)state;
    blocked_send(1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocked_send_ends_at_deadline_and_is_released),
        cmocka_unit_test(test_lent_bytes_stay_lent_until_the_blocked_send_ends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
