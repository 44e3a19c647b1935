/*
 * channel.c — owns the client side of the RPC layer: one channel to one
 * server, its registered methods, and blocking call helpers (rpc.h).
 *
 * Each call borrows a completion queue from the channel's pool and has
 * exactly one batch in flight at a time, so the next event on that queue is
 * always its own; queues go back to the pool after the call, so a thread
 * pool of callers reuses a handful of queues.
 * Invariants: (1) every call ends by receiving its status, whatever happened
 * before (a cancelled or failed batch still yields a status); (2) every
 * buffer, slice and metadata array a call received is released before it
 * returns, except by a call given up on (3); (3) no wait outlasts the call's
 * deadline, nor the channel's timeout from the start of the batch it waits
 * for (a server that makes no progress for that long is not answering,
 * however long the stream), by more than ORPHAN_AFTER_MS: a batch still
 * pending then cancels the call, which fails with DEADLINE_EXCEEDED
 * (-ETIMEDOUT); if the batch does not complete even then (a send blocked
 * because the server stopped reading: a stopped or hung cairnd, a
 * partition; gRPC's own deadline does not end it either) the call, its
 * queue and its struct ccall (which the batch points into) go to orphan.c
 * until it does (tests/fault/test_unresponsive.sh); (4) deadlines and
 * limits are on the monotonic clock (channel_in_ms), so a step of the wall
 * clock neither ends a call early nor stretches a wait; (5) a server that
 * went away is tried again at most RPC_RECONNECT_MAX_MS apart.
 * Threads: any; the pool is under ch->lock.
 */
#include "rpc.h"

#include "cairn_err.h"
#include "codec.h"
#include "orphan.h"
#include "poll.h"
#include "session.h"

#include <errno.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

struct rpc_channel {
    grpc_channel *ch;
    void **handles;
    const char *const *paths; /* the caller's, for sessions */
    size_t n;
    struct session_pool *sessions; /* NULL: plain calls only */
    _Atomic int timeout_ms;        /* settings: any thread may set them while others call */
    _Atomic int wait_ready;
    _Atomic int spin_us;
    pthread_mutex_t lock;
    grpc_completion_queue **pool;
    size_t npool, cap;
};

static __thread char last_error[256];

const char *rpc_last_error(void)
{
    return last_error;
}

int rpc_channel_open(struct rpc_channel **out, const char *addr, const char *const *paths,
                     size_t n_paths)
{
    if (!addr || !*addr)
        return -EINVAL;
    struct sockaddr_un sa;
    const char *upath = strncmp(addr, "unix://", 7) == 0 ? addr + 7
                        : strncmp(addr, "unix:", 5) == 0 ? addr + 5
                                                         : NULL;
    if (upath && strlen(upath) >= sizeof sa.sun_path)
        return -ENAMETOOLONG; /* gRPC would log it and fail each call as CANCELLED */
    grpc_init();
    struct rpc_channel *c = calloc(1, sizeof *c);
    if (!c) {
        grpc_shutdown();
        return -ENOMEM;
    }
    /* (5) gRPC's own reconnect backoff grows to 120 s: a cairnd back after
     * an outage would wait that long for its clients (a mount's calls
     * failing all the while). Its server is local or near: retry each
     * second at most, and give a connect that gets no answer (a dropped
     * packet, not a refusal) no longer (gRPC's own minimum is 20 s). */
    static const struct {
        const char *key;
        int value;
    } backoff[] = {{GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, RPC_RECONNECT_MAX_MS},
                   {GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, RPC_RECONNECT_MAX_MS},
                   {GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100}};
    enum { N_BACKOFF = sizeof backoff / sizeof backoff[0] };
    grpc_arg args[CODEC_N_ARGS + N_BACKOFF];
    codec_channel_args(args);
    for (size_t i = 0; i < N_BACKOFF; i++) {
        args[CODEC_N_ARGS + i].type = GRPC_ARG_INTEGER;
        args[CODEC_N_ARGS + i].key = (char *)(uintptr_t)backoff[i].key;
        args[CODEC_N_ARGS + i].value.integer = backoff[i].value;
    }
    grpc_channel_args cargs = {CODEC_N_ARGS + N_BACKOFF, args};
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    c->ch = grpc_channel_create(addr, creds, &cargs);
    grpc_channel_credentials_release(creds);
    c->handles = calloc(n_paths ? n_paths : 1, sizeof *c->handles);
    if (!c->ch || !c->handles) {
        if (c->ch)
            grpc_channel_destroy(c->ch);
        free(c->handles);
        free(c);
        grpc_shutdown();
        return -ENOMEM;
    }
    for (size_t i = 0; i < n_paths; i++)
        c->handles[i] = grpc_channel_register_call(c->ch, paths[i], NULL, NULL);
    c->n = n_paths;
    c->paths = paths;
    c->sessions = getenv("CAIRN_NO_SESSIONS") ? NULL : session_pool_new(c->ch);
    c->timeout_ms = RPC_TIMEOUT_MS;
    c->spin_us = RPC_CLIENT_SPIN_US;
    pthread_mutex_init(&c->lock, NULL);
    *out = c;
    return 0;
}

gpr_timespec channel_in_ms(int64_t ms)
{
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(ms, GPR_TIMESPAN));
}

void call_bufs_init(struct call_bufs *b)
{
    memset(b, 0, sizeof *b);
    grpc_metadata_array_init(&b->init_md);
    grpc_metadata_array_init(&b->trail_md);
    b->details = grpc_empty_slice();
}

void call_bufs_destroy(struct call_bufs *b)
{
    grpc_metadata_array_destroy(&b->init_md);
    grpc_metadata_array_destroy(&b->trail_md);
    grpc_slice_unref(b->details);
    if (b->send)
        grpc_byte_buffer_destroy(b->send);
    if (b->recv)
        grpc_byte_buffer_destroy(b->recv);
}

void channel_cq_destroy(grpc_completion_queue *cq)
{
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
}

void rpc_channel_close(struct rpc_channel *c)
{
    if (!c)
        return;
    session_pool_free(c->sessions);
    for (size_t i = 0; i < c->npool; i++)
        channel_cq_destroy(c->pool[i]);
    free(c->pool);
    grpc_channel_destroy(c->ch);
    free(c->handles);
    pthread_mutex_destroy(&c->lock);
    free(c);
    grpc_shutdown();
}

void rpc_channel_set_timeout(struct rpc_channel *c, int timeout_ms)
{
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : RPC_TIMEOUT_MS;
}

void rpc_channel_set_wait_for_ready(struct rpc_channel *c, int on)
{
    c->wait_ready = on;
}

void rpc_channel_set_spin(struct rpc_channel *c, int spin_us)
{
    c->spin_us = poll_spin_bound(spin_us);
}

static grpc_completion_queue *cq_get(struct rpc_channel *c)
{
    grpc_completion_queue *cq = NULL;
    pthread_mutex_lock(&c->lock);
    if (c->npool)
        cq = c->pool[--c->npool];
    pthread_mutex_unlock(&c->lock);
    return cq ? cq : grpc_completion_queue_create_for_next(NULL);
}

static void cq_put(struct rpc_channel *c, grpc_completion_queue *cq)
{
    pthread_mutex_lock(&c->lock);
    if (c->npool == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        grpc_completion_queue **p = realloc(c->pool, cap * sizeof *p);
        if (!p) {
            pthread_mutex_unlock(&c->lock);
            channel_cq_destroy(cq);
            return;
        }
        c->pool = p;
        c->cap = cap;
    }
    c->pool[c->npool++] = cq;
    pthread_mutex_unlock(&c->lock);
}

/* One call in progress, on the heap: a batch given up on may still point
 * into it (3). */
struct ccall {
    struct rpc_channel *ch;
    grpc_completion_queue *cq;
    grpc_call *call;
    struct call_bufs b;
    gpr_timespec deadline;
    int batch_ms;  /* (3) the longest wait for one batch: the channel's timeout */
    int timed_out; /* (3) */
    int orphaned;  /* (3): its batch never completed; ccall_end hands it over */
    int spin_us;   /* poll.c: unary calls only; a stream's pieces take long */
};

/* The deadline is the channel's timeout for each of the PIECES messages
 * the call carries (1 for a unary call). NULL: no memory, or METHOD is not
 * one of the channel's (*RV says which). */
static struct ccall *ccall_start(struct rpc_channel *c, size_t method, size_t pieces, int *rv)
{
    orphan_reap();
    *rv = method < c->n ? -ENOMEM : -EINVAL;
    struct ccall *cc = method < c->n ? calloc(1, sizeof *cc) : NULL;
    if (!cc)
        return NULL;
    cc->ch = c;
    cc->cq = cq_get(c);
    gpr_timespec dl = channel_in_ms((int64_t)c->timeout_ms * (int64_t)(pieces ? pieces : 1));
    cc->deadline = dl;
    cc->batch_ms = c->timeout_ms;
    cc->call = grpc_channel_create_registered_call(c->ch, NULL, GRPC_PROPAGATE_DEFAULTS, cc->cq,
                                                   c->handles[method], dl, NULL);
    call_bufs_init(&cc->b);
    if (!cc->call) {
        cq_put(c, cc->cq);
        call_bufs_destroy(&cc->b);
        free(cc);
        return NULL;
    }
    *rv = 0;
    return cc;
}

/* Waits for the call's one batch in flight up to DL or its limit (3),
 * whichever comes first; at the limit, cancels the call and waits
 * ORPHAN_AFTER_MS more, then gives the batch up. The event: a timeout only
 * when DL came first or the batch was given up on. */
static grpc_event wait_batch(struct ccall *cc, gpr_timespec dl)
{
    gpr_timespec limit = channel_in_ms(cc->batch_ms);
    if (gpr_time_cmp(limit, cc->deadline) > 0)
        limit = cc->deadline;
    int at_limit = gpr_time_cmp(dl, limit) >= 0;
    grpc_event ev = poll_next(&poll_clients, cc->cq, at_limit ? limit : dl, cc->spin_us);
    if (ev.type == GRPC_QUEUE_TIMEOUT && at_limit) {
        cc->timed_out = 1;
        grpc_call_cancel_with_status(cc->call, GRPC_STATUS_DEADLINE_EXCEEDED, "Deadline Exceeded",
                                     NULL);
        ev = grpc_completion_queue_next(cc->cq, channel_in_ms(ORPHAN_AFTER_MS), NULL);
        cc->orphaned = ev.type == GRPC_QUEUE_TIMEOUT;
    }
    return ev;
}

/* Runs one batch and waits for it; 1 when it succeeded. */
static int batch(struct ccall *cc, grpc_op *ops, size_t n)
{
    if (grpc_call_start_batch(cc->call, ops, n, cc, NULL) != GRPC_CALL_OK)
        return 0;
    grpc_event ev = wait_batch(cc, gpr_inf_future(GPR_CLOCK_MONOTONIC));
    return ev.type == GRPC_OP_COMPLETE && ev.success;
}

/* The message of the batch about to start: CC owns it until the next. */
static grpc_byte_buffer *ccall_send(struct ccall *cc, grpc_byte_buffer *msg)
{
    if (cc->b.send)
        grpc_byte_buffer_destroy(cc->b.send);
    return cc->b.send = msg;
}

/* What the last batch received, now the caller's (NULL: nothing). */
static grpc_byte_buffer *ccall_take_recv(struct ccall *cc)
{
    grpc_byte_buffer *r = cc->b.recv;
    cc->b.recv = NULL;
    return r;
}

static uint32_t initial_flags(struct ccall *cc)
{
    return cc->ch->wait_ready ? GRPC_INITIAL_METADATA_WAIT_FOR_READY : 0;
}

int channel_trailer_errno(const grpc_metadata_array *trail)
{
    int errno_md = 0;
    for (size_t i = 0; i < trail->count; i++) {
        const grpc_metadata *m = &trail->metadata[i];
        if (grpc_slice_str_cmp(m->key, "cairn-errno") == 0) {
            char buf[16];
            size_t n = GRPC_SLICE_LENGTH(m->value);
            if (n < sizeof buf) {
                memcpy(buf, GRPC_SLICE_START_PTR(m->value), n);
                buf[n] = '\0';
                errno_md = atoi(buf);
            }
        }
    }
    return errno_md;
}

int channel_result(grpc_status_code status, grpc_slice details, int errno_md)
{
    if (status != GRPC_STATUS_OK) {
        size_t n = GRPC_SLICE_LENGTH(details);
        if (n >= sizeof last_error)
            n = sizeof last_error - 1;
        memcpy(last_error, GRPC_SLICE_START_PTR(details), n);
        last_error[n] = '\0';
    } else {
        last_error[0] = '\0';
    }
    return rpc_err_from_status(status, errno_md);
}

/* The call's result from its status and "cairn-errno" trailer; a call this
 * side timed out (3) failed with DEADLINE_EXCEEDED whatever its batches say. */
static int ccall_result(struct ccall *cc)
{
    if (cc->timed_out)
        return channel_result(GRPC_STATUS_DEADLINE_EXCEEDED,
                              grpc_slice_from_static_string("Deadline Exceeded"), 0);
    return channel_result(cc->b.status, cc->b.details, channel_trailer_errno(&cc->b.trail_md));
}

void channel_status_op(grpc_op *op, grpc_metadata_array *trail, grpc_status_code *status,
                       grpc_slice *details)
{
    op->op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    op->data.recv_status_on_client.trailing_metadata = trail;
    op->data.recv_status_on_client.status = status;
    op->data.recv_status_on_client.status_details = details;
}

static void recv_status_op(struct ccall *cc, grpc_op *op)
{
    channel_status_op(op, &cc->b.trail_md, &cc->b.status, &cc->b.details);
}

/* The four ops that end a call that has sent its messages: half-close, then
 * the reply's metadata, message (into cc->b.recv) and status. OPS is zeroed. */
static void closing_ops(struct ccall *cc, grpc_op *ops)
{
    ops[0].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[1].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[1].data.recv_initial_metadata.recv_initial_metadata = &cc->b.init_md;
    ops[2].op = GRPC_OP_RECV_MESSAGE;
    ops[2].data.recv_message.recv_message = &cc->b.recv;
    recv_status_op(cc, &ops[3]);
}

/* How long a call whose send failed waits for the server's status before
 * it cancels (the status is usually there already). */
#define STATUS_GRACE_MS 2000

/* (1): receive the status, whatever state the call is in. FAILED: a batch
 * failed, so the call is cancelled first: its status then arrives at once
 * (the server's, if it sent one) instead of waiting for a stream that will
 * not go on. SEND_FAILED: a send failed because the call is over on the
 * wire (the server answered early, e.g. ENOSPC at some piece): its status
 * is taken as it is, since cancelling would replace it with CANCELLED; but
 * gRPC does not always deliver it, so after STATUS_GRACE_MS the call is
 * cancelled all the same. */
enum finish_how { FINISH_OK, FINISH_FAILED, FINISH_SEND_FAILED };

static int ccall_finish(struct ccall *cc, enum finish_how how)
{
    if (cc->orphaned) /* a batch is still pending: the status would queue behind it */
        return ccall_result(cc);
    if (how == FINISH_FAILED)
        grpc_call_cancel(cc->call, NULL);
    grpc_op op;
    memset(&op, 0, sizeof op);
    recv_status_op(cc, &op);
    if (grpc_call_start_batch(cc->call, &op, 1, cc, NULL) != GRPC_CALL_OK) {
        cc->b.status = GRPC_STATUS_UNAVAILABLE;
        return ccall_result(cc);
    }
    gpr_timespec dl = how == FINISH_SEND_FAILED ? channel_in_ms(STATUS_GRACE_MS)
                                                : gpr_inf_future(GPR_CLOCK_MONOTONIC);
    grpc_event ev = wait_batch(cc, dl);
    if (cc->orphaned)
        return ccall_result(cc);
    int lost = ev.type == GRPC_QUEUE_TIMEOUT;
    if (lost) { /* the answer is lost: say so, not "cancelled" */
        grpc_call_cancel(cc->call, NULL);
        ev = grpc_completion_queue_next(cc->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
    }
    if (lost || ev.type != GRPC_OP_COMPLETE || !ev.success) {
        cc->b.status = GRPC_STATUS_UNAVAILABLE;
        grpc_slice_unref(cc->b.details);
        cc->b.details = grpc_slice_from_static_string("the server's answer to a stream was lost");
    }
    return ccall_result(cc);
}

/* Frees CC's memory, not its call or queue. */
static void ccall_release(void *arg)
{
    struct ccall *cc = arg;
    call_bufs_destroy(&cc->b);
    free(cc);
}

static void ccall_end(struct ccall *cc)
{
    if (cc->orphaned && orphan_add(cc->call, cc->cq, 1, ccall_release, cc) == 0)
        return;       /* (3) */
    if (cc->orphaned) /* no memory to hand it over: wait for it after all */
        grpc_completion_queue_next(cc->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
    grpc_call_unref(cc->call);
    cq_put(cc->ch, cc->cq);
    ccall_release(cc);
}

int rpc_unary(struct rpc_channel *c, size_t method, const ProtobufCMessage *req,
              const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp)
{
    int rv;
    struct call_opts co = {c->timeout_ms, c->wait_ready, c->spin_us};
    if (method < c->n &&
        session_call(c->sessions, c->paths[method], &co, req, resp_desc, resp, &rv))
        return rv;
    struct ccall *cc = ccall_start(c, method, 1, &rv);
    if (!cc)
        return rv;
    cc->spin_us = c->spin_us;
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].flags = initial_flags(cc);
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = ccall_send(cc, codec_encode(req));
    closing_ops(cc, &ops[2]);
    if (!batch(cc, ops, 6))
        cc->b.status = GRPC_STATUS_UNAVAILABLE;
    rv = ccall_result(cc);
    if (rv == 0) {
        *resp = codec_decode(cc->b.recv, resp_desc, RPC_MAX_MESSAGE);
        if (!*resp)
            rv = CAIRN_EPROTO;
    }
    ccall_end(cc);
    return rv;
}

int rpc_server_stream(struct rpc_channel *c, size_t method, size_t pieces,
                      const ProtobufCMessage *req, const ProtobufCMessageDescriptor *msg_desc,
                      int (*on_msg)(void *ctx, const ProtobufCMessage *m,
                                    const struct rpc_segs *segs),
                      void *ctx)
{
    int rv;
    struct ccall *cc = ccall_start(c, method, pieces, &rv);
    if (!cc)
        return rv;
    grpc_op ops[4];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].flags = initial_flags(cc);
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = ccall_send(cc, codec_encode(req));
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &cc->b.init_md;
    int ok = batch(cc, ops, 4), cb_err = 0, broken = !ok;
    while (ok) {
        memset(ops, 0, sizeof ops);
        ops[0].op = GRPC_OP_RECV_MESSAGE;
        ops[0].data.recv_message.recv_message = &cc->b.recv;
        if (!batch(cc, ops, 1)) {
            broken = 1;
            break;
        }
        grpc_byte_buffer *recv = ccall_take_recv(cc);
        if (!recv)
            break; /* end of stream; the status tells how it ended */
        struct codec_msg m;
        int bad = codec_msg_decode(&m, recv, msg_desc, RPC_MAX_MESSAGE, CODEC_SEGS);
        grpc_byte_buffer_destroy(recv);
        cb_err = bad ? CAIRN_EPROTO : on_msg(ctx, m.m, m.segs.n ? &m.segs : NULL);
        codec_msg_free(&m);
        if (cb_err) {
            broken = 1;
            break;
        }
    }
    rv = ccall_finish(cc, broken ? FINISH_FAILED : FINISH_OK);
    ccall_end(cc);
    return cb_err ? cb_err : rv;
}

int rpc_client_stream(struct rpc_channel *c, size_t method, size_t pieces,
                      int (*next)(void *ctx, const ProtobufCMessage **m), void *ctx,
                      struct rpc_lend *lend, const ProtobufCMessageDescriptor *resp_desc,
                      ProtobufCMessage **resp)
{
    int rv;
    struct ccall *cc = ccall_start(c, method, pieces, &rv);
    if (!cc)
        return rv;
    grpc_op ops[4];
    int ok = 1, gen_err = 0, md_sent = 0;
    while (ok) {
        const ProtobufCMessage *m = NULL;
        int r = next(ctx, &m);
        if (r < 0) {
            gen_err = r;
            ok = 0;
            break;
        }
        if (r == 0)
            break;
        memset(ops, 0, sizeof ops);
        size_t n = 0;
        if (!md_sent) { /* with the first message: no separate turn for it */
            ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
            ops[n++].flags = initial_flags(cc);
            md_sent = 1;
        }
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message =
            ccall_send(cc, lend ? codec_encode_lent(m, lend) : codec_encode(m));
        ok = batch(cc, ops, n);
    }
    if (ok && !md_sent) { /* an empty stream */
        memset(ops, 0, sizeof ops);
        ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
        ops[0].flags = initial_flags(cc);
        ok = batch(cc, ops, 1);
    }
    if (ok) {
        memset(ops, 0, sizeof ops);
        closing_ops(cc, ops);
        if (!batch(cc, ops, 4))
            cc->b.status = GRPC_STATUS_UNAVAILABLE;
        rv = ccall_result(cc);
    } else {
        /* only our own generator's error cancels at once */
        rv = ccall_finish(cc, gen_err ? FINISH_FAILED : FINISH_SEND_FAILED);
    }
    if (rv == 0 && !gen_err) {
        *resp = codec_decode(cc->b.recv, resp_desc, RPC_MAX_MESSAGE);
        if (!*resp)
            rv = CAIRN_EPROTO;
    }
    ccall_end(cc);
    return gen_err ? gen_err : rv;
}
