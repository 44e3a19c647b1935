/*
 * server.c — owns the gRPC C core server: completion queue, its threads and
 * the per-call state machine (rpc.h).
 *
 * Per-call states (one batch in flight per call, so a call is only touched
 * by the thread that got its tag: no per-call lock; a client stream also by
 * its applier, under its plock (8)):
 *   REQUEST --request arrived [on_request]--> (handler runs) then
 *     unary:          --> FINISH [finish]
 *     server-stream:  --> SENDING [stream_next] --(each send done)--> SENDING | FINISH
 *     client-stream:  --> RECEIVING [pipe_recv] --(each message)--> RECEIVING | FINISH (8)
 *     session:        --> IDLE [session_recv] --(message)--> (unary handler runs)
 *                     --> SENDING [session_request] --(sent)--> IDLE | FINISH
 *   FINISH --final batch done--> freed [call_free]
 *   any state --success == 0 (client gone, cancelled, shutting down)--> freed
 * Invariants: (1) while the server runs, every method always has
 * POSTED_PER_METHOD requests posted; (2) `live` counts every allocated call
 * context, and the completion queue is shut down only when it is 0 and the
 * shutdown tag was seen (shutting it down earlier aborts inside gRPC);
 * (3) a handler's error becomes the call's status, with the exact cairn error
 * in trailing metadata "cairn-errno"; (4) a call to a method nobody
 * registered is answered UNIMPLEMENTED at once; (5) a session (the
 * cairn.v1.Session/Call stream, session.proto) answers each CallRequest
 * exactly as the plain unary call would, in the order they came; an IDLE
 * session is on the server's idle list, and stopping cancels every idle
 * session and never applies a request that arrives after that; (6) turns:
 * at most `pollers` threads (default 1) wait in the completion queue at a
 * time; the others stand by and take over when the queue has gone unserved
 * for a whole look (its thread is in a handler that may be blocked on the
 * disk) or at once before a slow method's handler runs; (7) the waiting
 * thread polls without blocking for spin_us before it sleeps (poll.c), but
 * only if no other thread runs a handler and no open client stream began
 * or brought a message in the last stream_quiet_ms (rpc_server_opts,
 * default 100) when its wait begins: a spin would take the CPU from the
 * handler, or from the appliers and the sender of a stream, whose next
 * piece takes longer to come than a spin lasts (a stream whose client
 * stopped sending stops counting); (8) a
 * client stream's messages are applied in the order they came, on the
 * server's appliers (jobs.h), while the next one is received: at most
 * PIPE_DEPTH received messages wait per stream, at most one receive is in
 * flight, and the call ends (finish or call_free) only once no receive is
 * in flight, by the applier, after every message before the end was
 * applied or, after an error, dropped; an applier applies one piece per
 * turn, so streams share the appliers. So a stream runs at the speed of
 * the slower of receiving and applying instead of their sum (a 1 GiB
 * stream of 1 MiB writes, 2-CPU VM: 0.75 s of the stream thread per
 * GiB in the engine, 0.15 in decoding and 0.26 waiting for the next piece
 * when one thread did all three).
 */
#include "rpc.h"

#include "cairn/v1/session.pb-c.h"
#include "cairn_err.h"
#include "codec.h"
#include "jobs.h"
#include "poll.h"

#include <errno.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POSTED_PER_METHOD 8
#define PIPE_DEPTH 2 /* (8) received messages waiting per client stream */

enum call_state { CS_REQUEST, CS_SENDING, CS_RECEIVING, CS_IDLE, CS_FINISH };

struct rpc_server {
    grpc_server *srv;
    grpc_completion_queue *cq;
    pthread_t *threads;
    int n_threads;
    struct jobs *appliers; /* (8) */
    const struct rpc_method *methods;
    size_t n_methods;
    void **handles;
    void *session_handle;
    struct call *idle; /* (5) sessions waiting for a request; under lock */
    void *app;
    void (*observe)(void *app, size_t method, int code, double seconds);
    void (*session)(void *app, int delta);
    int port;
    _Atomic int shutting_down;
    _Atomic long dropped; /* (5) requests that met a session the stop ended */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    long live;     /* (2) under lock */
    int shut_seen; /* under lock */
    /* (6) */
    _Atomic int serving;          /* threads waiting in the queue (poll_next) */
    int max_serving;              /* rpc_server_opts.pollers */
    int spin_us;                  /* rpc_server_opts.spin_us */
    int stream_quiet_ms;          /* rpc_server_opts.stream_quiet_ms (7) */
    _Atomic int working;          /* threads running step(): none, or no spin (7) */
    _Atomic int streams;          /* (7) client streams begun and not freed */
    _Atomic int64_t stream_at;    /* (7) ms when a client stream last began or brought a message */
    struct poll_group polls;      /* (7) */
    _Atomic unsigned long events; /* events taken from the queue */
    _Atomic int dozing;           /* standby threads waiting for an event */
    _Atomic int handoff;          /* a slow handler runs: take over now */
    int turns_over;               /* the queue is shut down; under turn_lock */
    pthread_mutex_t turn_lock;
    pthread_cond_t turn_cond;
};

struct call {
    struct rpc_server *s;
    size_t m;
    enum call_state state;
    grpc_call *call;
    gpr_timespec deadline;
    grpc_metadata_array md;
    grpc_byte_buffer *payload;
    grpc_byte_buffer *send;
    grpc_slice details;
    grpc_metadata trailer;
    int has_status;
    int md_sent;
    int cancelled;
    int code;
    void *state_ptr;
    int state_owned;
    struct timespec t0;
    grpc_call_details cd;               /* GENERIC calls only */
    struct call *idle_prev, *idle_next; /* (5) SESSION calls, under s->lock */
    int on_idle, dropped;               /* (5) under s->lock */
    /* (8) client streams (piped) only; the rest under plock */
    int piped;
    struct job job; /* pipe_drain, on s->appliers */
    pthread_mutex_t plock;
    struct codec_msg q[PIPE_DEPTH];
    unsigned qhead, qn;
    int scheduled;   /* job is queued or running */
    int recv_posted; /* a receive is in flight */
    int closed;      /* enum pipe_event: what ended the receiving (0: not yet) */
    int perr;        /* the first error: later messages are dropped */
};

/* m of a call to a method nobody registered: answered UNIMPLEMENTED at once
 * (gRPC would otherwise hold it until the client's deadline). */
#define GENERIC SIZE_MAX
#define POSTED_GENERIC 4
/* m of a session stream (5). */
#define SESSION (SIZE_MAX - 1)

static char shutdown_tag;

/* Seconds from T0 (CLOCK_MONOTONIC) to now. */
static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Milliseconds on the monotonic clock (coarse: a tick is enough here). */
static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* (7) a client stream is open and began or brought a message lately. */
static int stream_busy(struct rpc_server *s)
{
    return atomic_load(&s->streams) > 0 &&
           mono_ms() - atomic_load(&s->stream_at) < s->stream_quiet_ms;
}

static void live_add(struct rpc_server *s, long d)
{
    pthread_mutex_lock(&s->lock);
    s->live += d;
    if (s->live == 0)
        pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static void post_request(struct rpc_server *s, size_t m)
{
    struct call *c = calloc(1, sizeof *c);
    if (!c)
        abort();
    c->s = s;
    c->m = m;
    c->state = CS_REQUEST;
    grpc_metadata_array_init(&c->md);
    if (m != SESSION && s->methods[m].shape == RPC_CLIENT_STREAM) {
        c->piped = 1;
        pthread_mutex_init(&c->plock, NULL);
    }
    live_add(s, 1);
    int want_payload = m != SESSION && !c->piped;
    grpc_call_error e = grpc_server_request_registered_call(
        s->srv, m == SESSION ? s->session_handle : s->handles[m], &c->call, &c->deadline, &c->md,
        want_payload ? &c->payload : NULL, s->cq, s->cq, c);
    if (e != GRPC_CALL_OK) {
        grpc_metadata_array_destroy(&c->md);
        if (c->piped)
            pthread_mutex_destroy(&c->plock);
        free(c);
        live_add(s, -1);
    }
}

static void post_generic(struct rpc_server *s)
{
    struct call *c = calloc(1, sizeof *c);
    if (!c)
        abort();
    c->s = s;
    c->m = GENERIC;
    c->state = CS_REQUEST;
    grpc_metadata_array_init(&c->md);
    grpc_call_details_init(&c->cd);
    live_add(s, 1);
    if (grpc_server_request_call(s->srv, &c->call, &c->cd, &c->md, s->cq, s->cq, c) !=
        GRPC_CALL_OK) {
        grpc_call_details_destroy(&c->cd);
        grpc_metadata_array_destroy(&c->md);
        free(c);
        live_add(s, -1);
    }
}

static void call_free(struct call *c)
{
    struct rpc_server *s = c->s;
    if (c->m == GENERIC) {
        grpc_call_details_destroy(&c->cd);
        grpc_metadata_array_destroy(&c->md);
        if (c->has_status) {
            grpc_slice_unref(c->details);
            grpc_slice_unref(c->trailer.key);
            grpc_slice_unref(c->trailer.value);
        }
        if (c->call)
            grpc_call_unref(c->call);
        free(c);
        live_add(s, -1);
        return;
    }
    const struct rpc_method *m = c->m == SESSION ? NULL : &s->methods[c->m];
    if (!m && c->state != CS_REQUEST && s->session)
        s->session(s->app, -1);
    if (m && c->state != CS_REQUEST && s->observe)
        s->observe(s->app, c->m, c->has_status && !c->cancelled ? c->code : GRPC_STATUS_CANCELLED,
                   seconds_since(&c->t0));
    if (c->state_owned && m && m->sfree)
        m->sfree(c->state_ptr);
    if (c->piped) {
        if (c->state_owned)
            atomic_fetch_sub(&s->streams, 1);
        for (; c->qn > 0; c->qn--, c->qhead = (c->qhead + 1) % PIPE_DEPTH)
            codec_msg_free(&c->q[c->qhead]);
        pthread_mutex_destroy(&c->plock);
    }
    if (c->payload)
        grpc_byte_buffer_destroy(c->payload);
    if (c->send)
        grpc_byte_buffer_destroy(c->send);
    if (c->has_status) {
        grpc_slice_unref(c->details);
        grpc_slice_unref(c->trailer.key);
        grpc_slice_unref(c->trailer.value);
    }
    grpc_metadata_array_destroy(&c->md);
    if (c->call)
        grpc_call_unref(c->call); /* cancels it if still active */
    free(c);
    live_add(s, -1);
}

static void start_batch(struct call *c, grpc_op *ops, size_t n)
{
    if (grpc_call_start_batch(c->call, ops, n, c, NULL) != GRPC_CALL_OK)
        call_free(c);
}

static void hand_over(struct rpc_server *s);

/* Lets another thread serve the queue while M's handler runs, if it is slow
 * (6). */
static void before_handler(struct rpc_server *s, const struct rpc_method *m)
{
    if (m->slow)
        hand_over(s);
}

/* Sends the final status (3) with REPLY (may be NULL) and closes the call. */
static void finish(struct call *c, int err, ProtobufCMessage *reply)
{
    grpc_op ops[4];
    size_t n = 0;
    memset(ops, 0, sizeof ops);
    if (!c->md_sent) {
        ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
        n++;
        c->md_sent = 1;
    }
    if (err == 0 && reply) {
        c->send = codec_encode(reply);
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n].data.send_message.send_message = c->send;
        n++;
    }
    if (reply)
        protobuf_c_message_free_unpacked(reply, NULL);
    char num[16];
    snprintf(num, sizeof num, "%d", err);
    c->code = rpc_status_from_err(err);
    c->details = grpc_slice_from_copied_string(err ? cairn_strerror(err) : "");
    c->trailer.key = grpc_slice_from_static_string("cairn-errno");
    c->trailer.value = grpc_slice_from_copied_string(num);
    c->has_status = 1;
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = (grpc_status_code)c->code;
    ops[n].data.send_status_from_server.status_details = &c->details;
    ops[n].data.send_status_from_server.trailing_metadata_count = err ? 1 : 0;
    ops[n].data.send_status_from_server.trailing_metadata = &c->trailer;
    n++;
    ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[n].data.recv_close_on_server.cancelled = &c->cancelled;
    n++;
    c->state = CS_FINISH;
    start_batch(c, ops, n);
}

static void stream_next(struct call *c)
{
    const struct rpc_method *m = &c->s->methods[c->m];
    ProtobufCMessage *msg = NULL;
    before_handler(c->s, m);
    int rv = m->snext(c->state_ptr, &msg);
    if (rv <= 0) {
        finish(c, rv, NULL);
        return;
    }
    if (c->send) {
        grpc_byte_buffer_destroy(c->send);
        c->send = NULL;
    }
    c->send = codec_encode_taking(msg); /* a read piece's data is not copied */
    protobuf_c_message_free_unpacked(msg, NULL);
    grpc_op ops[2];
    size_t n = 0;
    memset(ops, 0, sizeof ops);
    if (!c->md_sent) {
        ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
        c->md_sent = 1;
    }
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n].data.send_message.send_message = c->send;
    n++;
    c->state = CS_SENDING;
    start_batch(c, ops, n);
}

/* Fills OPS with the batch that receives the call's next message (and
 * first sends the initial metadata); the number of ops. */
static size_t recv_ops(struct call *c, grpc_op ops[2])
{
    size_t n = 0;
    memset(ops, 0, 2 * sizeof *ops);
    if (!c->md_sent) {
        ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
        c->md_sent = 1;
    }
    ops[n].op = GRPC_OP_RECV_MESSAGE;
    ops[n].data.recv_message.recv_message = &c->payload;
    return n + 1;
}

/* ---- client streams (8) ---- */

/* What a receive brought: a message, one that does not decode (applied in
 * its turn as CAIRN_EPROTO; nothing more is received), the client's
 * half-close, or nothing (the call was cancelled or the client went). */
enum pipe_event { PE_MSG, PE_BAD, PE_END, PE_GONE };

static void pipe_push(struct call *c, enum pipe_event ev, struct codec_msg *msg);

/* Posts the stream's next receive (recv_posted is already set); a receive
 * gRPC refuses ends the stream as if the client had gone. */
static void pipe_recv(struct call *c)
{
    grpc_op ops[2];
    size_t n = recv_ops(c, ops);
    c->state = CS_RECEIVING;
    if (grpc_call_start_batch(c->call, ops, n, c, NULL) != GRPC_CALL_OK)
        pipe_push(c, PE_GONE, NULL);
}

/* What the receive in flight brought: EV, with MSG (taken) for PE_MSG and
 * PE_BAD. */
static void pipe_push(struct call *c, enum pipe_event ev, struct codec_msg *msg)
{
    pthread_mutex_lock(&c->plock);
    if (ev == PE_MSG || ev == PE_BAD)
        c->q[(c->qhead + c->qn++) % PIPE_DEPTH] = *msg;
    if (ev != PE_MSG)
        c->closed = ev;
    int post = !c->closed && !c->perr && c->qn < PIPE_DEPTH;
    c->recv_posted = post;
    int submit = !c->scheduled;
    c->scheduled = 1;
    pthread_mutex_unlock(&c->plock);
    if (post)
        pipe_recv(c);
    if (submit)
        jobs_submit(c->s->appliers, &c->job);
}

/* The applier's turn at a stream: applies the next waiting piece and queues
 * another turn (behind the other streams' turns: one stream does not keep an
 * applier to itself); ends the call once nothing is in flight and the end,
 * the client's going or an error with nothing left to receive was seen. */
static void pipe_drain(struct job *j)
{
    struct call *c = (struct call *)(void *)((char *)j - offsetof(struct call, job));
    struct rpc_server *s = c->s;
    const struct rpc_method *m = &s->methods[c->m];
    atomic_fetch_add(&s->working, 1); /* (7) */
    pthread_mutex_lock(&c->plock);
    int err = c->perr, has = c->qn > 0, closed = c->closed;
    struct codec_msg msg = {0};
    if (has) {
        msg = c->q[c->qhead];
        c->qhead = (c->qhead + 1) % PIPE_DEPTH;
        c->qn--;
    }
    int post = !c->closed && !c->perr && !c->recv_posted && c->qn < PIPE_DEPTH;
    c->recv_posted |= post;
    int ended = !has && !c->recv_posted && (closed || err);
    if (!has && !ended)
        c->scheduled = 0; /* the receive in flight brings more */
    pthread_mutex_unlock(&c->plock);
    if (post)
        pipe_recv(c);
    if (has) {
        int rv = err     ? 0
                 : msg.m ? m->cmsg(c->state_ptr, msg.m, msg.segs.n ? &msg.segs : NULL)
                         : CAIRN_EPROTO;
        codec_msg_free(&msg);
        if (rv != 0) {
            pthread_mutex_lock(&c->plock);
            if (!c->perr)
                c->perr = rv;
            pthread_mutex_unlock(&c->plock);
        }
        jobs_requeue(s->appliers, j); /* still scheduled: c is not touched after this */
    } else if (ended) {
        if (closed == PE_GONE) { /* cancelled or gone: no finish (CANCELLED) */
            call_free(c);
        } else if (err) { /* a bad piece set it in its turn */
            finish(c, err, NULL);
        } else {
            ProtobufCMessage *reply = NULL;
            int rv = m->cfinish(c->state_ptr, &reply);
            finish(c, rv, rv == 0 ? reply : NULL);
            if (rv != 0 && reply)
                protobuf_c_message_free_unpacked(reply, NULL);
        }
    }
    atomic_fetch_sub(&s->working, 1);
}

static void session_recv(struct call *c);

static void on_request(struct call *c)
{
    struct rpc_server *s = c->s;
    clock_gettime(CLOCK_MONOTONIC, &c->t0);
    if (c->m == GENERIC) {
        if (!atomic_load(&s->shutting_down))
            post_generic(s);
        finish(c, -ENOSYS, NULL); /* UNIMPLEMENTED */
        return;
    }
    if (!atomic_load(&s->shutting_down))
        post_request(s, c->m); /* (1) */
    if (c->m == SESSION) {
        if (s->session)
            s->session(s->app, 1);
        session_recv(c);
        return;
    }
    const struct rpc_method *m = &s->methods[c->m];
    struct codec_msg req;
    ProtobufCMessage *reply = NULL;
    int rv;
    switch (m->shape) {
    case RPC_UNARY:
        if (codec_msg_decode(&req, c->payload, m->req, RPC_MAX_MESSAGE, 0) != 0) {
            finish(c, CAIRN_EPROTO, NULL);
            return;
        }
        before_handler(s, m);
        rv = m->unary(s->app, req.m, &reply);
        codec_msg_free(&req);
        finish(c, rv, rv == 0 ? reply : NULL);
        if (rv != 0 && reply)
            protobuf_c_message_free_unpacked(reply, NULL);
        return;
    case RPC_SERVER_STREAM:
        if (codec_msg_decode(&req, c->payload, m->req, RPC_MAX_MESSAGE, 0) != 0) {
            finish(c, CAIRN_EPROTO, NULL);
            return;
        }
        before_handler(s, m);
        rv = m->sstart(s->app, req.m, &c->state_ptr);
        codec_msg_free(&req);
        if (rv != 0) {
            finish(c, rv, NULL);
            return;
        }
        c->state_owned = 1;
        stream_next(c);
        return;
    case RPC_CLIENT_STREAM:
        before_handler(s, m);
        if ((rv = m->cstart(s->app, &c->state_ptr)) != 0) {
            finish(c, rv, NULL);
            return;
        }
        c->state_owned = 1;
        atomic_store(&s->stream_at, mono_ms()); /* (7) */
        atomic_fetch_add(&s->streams, 1);
        c->job.run = pipe_drain;
        c->recv_posted = 1;
        pipe_recv(c);
        return;
    }
}

/* A client stream's receive is done (8). */
static void on_received(struct call *c)
{
    const struct rpc_method *m = &c->s->methods[c->m];
    atomic_store(&c->s->stream_at, mono_ms()); /* (7) */
    /* no payload: the client half-closed, or the call ended */
    if (!c->payload) {
        pipe_push(c, grpc_call_failed_before_recv_message(c->call) ? PE_GONE : PE_END, NULL);
        return;
    }
    struct codec_msg msg; /* m NULL when it does not decode (a no-op to free) */
    int bad = codec_msg_decode(&msg, c->payload, m->req, RPC_MAX_MESSAGE, CODEC_SEGS);
    grpc_byte_buffer_destroy(c->payload);
    c->payload = NULL;
    pipe_push(c, bad ? PE_BAD : PE_MSG, &msg);
}

/* ---- sessions (5) ---- */

/* Waits for the session's next request, on the idle list; ends the session
 * (status OK) instead when the server is stopping. */
static void session_recv(struct call *c)
{
    struct rpc_server *s = c->s;
    pthread_mutex_lock(&s->lock);
    if (atomic_load(&s->shutting_down)) {
        pthread_mutex_unlock(&s->lock);
        finish(c, 0, NULL);
        return;
    }
    grpc_op ops[2];
    size_t n = recv_ops(c, ops);
    c->state = CS_IDLE;
    grpc_call_error e = grpc_call_start_batch(c->call, ops, n, c, NULL);
    if (e == GRPC_CALL_OK) {
        c->on_idle = 1;
        c->idle_prev = NULL;
        c->idle_next = s->idle;
        if (s->idle)
            s->idle->idle_prev = c;
        s->idle = c;
    }
    pthread_mutex_unlock(&s->lock);
    if (e != GRPC_CALL_OK)
        call_free(c);
}

/* Takes the session off the idle list; 1 if stopping cancelled it there. */
static int session_wake(struct call *c)
{
    struct rpc_server *s = c->s;
    pthread_mutex_lock(&s->lock);
    if (c->on_idle) {
        if (c->idle_prev)
            c->idle_prev->idle_next = c->idle_next;
        else
            s->idle = c->idle_next;
        if (c->idle_next)
            c->idle_next->idle_prev = c->idle_prev;
        c->on_idle = 0;
    }
    int dropped = c->dropped;
    pthread_mutex_unlock(&s->lock);
    return dropped;
}

/* The unary method at PATH, or SIZE_MAX. */
static size_t unary_by_path(const struct rpc_server *s, const char *path)
{
    for (size_t i = 0; i < s->n_methods; i++)
        if (s->methods[i].shape == RPC_UNARY && strcmp(s->methods[i].path, path) == 0)
            return i;
    return SIZE_MAX;
}

/* A request arrived on an idle session: runs it as the plain call and sends
 * the answer; NULL payload: the client half-closed. */
static void session_request(struct call *c)
{
    struct rpc_server *s = c->s;
    grpc_byte_buffer *payload = c->payload;
    c->payload = NULL;
    if (!payload) {
        finish(c, 0, NULL);
        return;
    }
    clock_gettime(CLOCK_MONOTONIC, &c->t0);
    struct codec_msg env;
    int bad =
        codec_msg_decode(&env, payload, &cairn__v1__call_request__descriptor, RPC_MAX_MESSAGE, 0);
    grpc_byte_buffer_destroy(payload);
    if (bad) {
        finish(c, CAIRN_EPROTO, NULL);
        return;
    }
    const Cairn__V1__CallRequest *rq = (const Cairn__V1__CallRequest *)env.m;
    size_t m = unary_by_path(s, rq->method);
    ProtobufCMessage *reply = NULL;
    int rv = -ENOSYS; /* UNIMPLEMENTED */
    if (m != SIZE_MAX) {
        ProtobufCBinaryData *ref;
        ProtobufCMessage *req = codec_unpack(&ref, s->methods[m].req, rq->body.len, rq->body.data);
        if (req)
            before_handler(s, &s->methods[m]);
        rv = req ? s->methods[m].unary(s->app, req, &reply) : CAIRN_EPROTO;
        codec_free(req, ref);
    }
    codec_msg_free(&env);
    Cairn__V1__CallReply rep = CAIRN__V1__CALL_REPLY__INIT;
    rep.code = (uint32_t)rpc_status_from_err(rv);
    rep.err = rv;
    rep.detail = (char *)(rv ? cairn_strerror(rv) : "");
    ProtobufCBinaryData body = {0, NULL};
    if (rv == 0 && reply && codec_pack(reply, &body) != 0)
        abort(); /* out of memory: gRPC aborts on it too (codec_encode) */
    if (reply)
        protobuf_c_message_free_unpacked(reply, NULL);
    c->send = codec_encode_with(&rep.base, 4 /* CallReply.body */, &body);
    if (m != SIZE_MAX && s->observe)
        s->observe(s->app, m, (int)rep.code, seconds_since(&c->t0));
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_SEND_MESSAGE;
    op.data.send_message.send_message = c->send;
    c->state = CS_SENDING;
    start_batch(c, &op, 1);
}

/* The answer went out: frees it and waits for the next request. */
static void session_sent(struct call *c)
{
    grpc_byte_buffer_destroy(c->send);
    c->send = NULL;
    session_recv(c);
}

static void step(struct call *c, int success)
{
    if (c->m == SESSION && c->state == CS_IDLE && session_wake(c)) {
        if (success && c->payload) /* a request, not a half-close */
            atomic_fetch_add(&c->s->dropped, 1);
        success = 0; /* cancelled by stopping: the request is never applied */
    }
    if (!success) { /* shutting down, cancelled, client gone, deadline */
        if (c->piped && c->state == CS_RECEIVING)
            pipe_push(c, PE_GONE, NULL); /* (8) the applier may hold it */
        else
            call_free(c);
        return;
    }
    switch (c->state) {
    case CS_REQUEST:
        on_request(c);
        break;
    case CS_SENDING:
        if (c->m == SESSION)
            session_sent(c);
        else
            stream_next(c);
        break;
    case CS_RECEIVING:
        on_received(c);
        break;
    case CS_IDLE:
        session_request(c);
        break;
    case CS_FINISH:
        call_free(c);
        break;
    }
}

/* CLOCK_MONOTONIC (the clock of the server's condition variables) MS
 * milliseconds from now: a step of the wall clock neither stretches a look
 * nor the stop's grace. */
static struct timespec deadline_in(int ms)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* Turns (6). gRPC hands the poll to another thread waiting in the queue
 * every time the polling thread takes an event: a futex wake and two context
 * switches per event, which cost cairnd 12 switches and ~550 us of CPU per
 * file created through a mount (against 4 and ~370 us with one thread).
 * With one waiter there is nothing to hand over, and a standby thread still
 * serves the queue while the other is blocked in a handler, after at most
 * two looks. A slow method's handler (rpc.h: a read that may wait for the
 * disk, a read stream's piece, a sync) is known to keep its thread for a
 * while: its thread hands the turn over before it runs it (hand_over), so
 * other calls are served and a read stream's last piece is sent meanwhile:
 * it runs at the speed of the slower side instead of the sum of both (a
 * write stream's pieces run on the appliers instead, (8)). A standby that
 * saw no event for TURN_DOZE looks dozes until a serving thread takes one.
 * With pollers > 1 that many threads wait in the queue at once (gRPC hands
 * events among them), for machines whose cores can run more quick calls at a
 * time than the hand-offs cost. */
#define TURN_LOOK_MS 1
#define TURN_DOZE 20

/* 1 if this thread may wait in the queue now (fewer than max_serving do). */
static int try_serve(struct rpc_server *s)
{
    int n = atomic_load(&s->serving);
    while (n < s->max_serving)
        if (atomic_compare_exchange_weak(&s->serving, &n, n + 1))
            return 1;
    return 0;
}

/* 1 when this thread is to wait in the queue, 0 when the queue is shut down. */
static int take_turn(struct rpc_server *s)
{
    if (try_serve(s))
        return 1;
    pthread_mutex_lock(&s->turn_lock);
    unsigned long seen = atomic_load(&s->events);
    int quiet = 0, turn = 0;
    while (!s->turns_over && !turn) {
        if (quiet >= TURN_DOZE) {
            atomic_fetch_add(&s->dozing, 1);
            if (atomic_load(&s->events) == seen) /* else an event was taken: look again */
                pthread_cond_wait(&s->turn_cond, &s->turn_lock);
            atomic_fetch_sub(&s->dozing, 1);
            quiet = 0;
        } else {
            struct timespec dl = deadline_in(TURN_LOOK_MS);
            pthread_cond_timedwait(&s->turn_cond, &s->turn_lock, &dl);
        }
        unsigned long now = atomic_load(&s->events);
        /* Handed over, or unserved and no event taken for a whole look: the
         * thread that took the last one is still in its handler. */
        int wanted = atomic_exchange(&s->handoff, 0) || now == seen;
        if (wanted && try_serve(s))
            turn = 1;
        quiet = now == seen ? quiet + 1 : 0;
        seen = now;
    }
    pthread_mutex_unlock(&s->turn_lock);
    return turn;
}

/* Wakes every standby thread to look again. */
static void turn_wake(struct rpc_server *s)
{
    pthread_mutex_lock(&s->turn_lock);
    pthread_cond_broadcast(&s->turn_cond);
    pthread_mutex_unlock(&s->turn_lock);
}

/* A slow handler is about to run on this thread: a standby takes the turn
 * at once instead of after a look. */
static void hand_over(struct rpc_server *s)
{
    if (s->n_threads < 2)
        return;
    atomic_store(&s->handoff, 1);
    turn_wake(s);
}

/* The queue is shut down: standby threads leave too. */
static void turns_over(struct rpc_server *s)
{
    pthread_mutex_lock(&s->turn_lock);
    s->turns_over = 1;
    pthread_cond_broadcast(&s->turn_cond);
    pthread_mutex_unlock(&s->turn_lock);
}

static void *worker(void *arg)
{
    struct rpc_server *s = arg;
    while (take_turn(s)) {
        grpc_event ev = poll_next(&s->polls, s->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC),
                                  atomic_load(&s->working) || stream_busy(s) ? 0 : s->spin_us);
        /* Counted before the turn is given up, so a standby never takes a
         * turn from a thread that has only just taken its event. */
        atomic_fetch_add(&s->events, 1);
        atomic_fetch_sub(&s->serving, 1);
        if (atomic_load(&s->dozing) > 0)
            turn_wake(s);
        if (ev.type == GRPC_QUEUE_SHUTDOWN) {
            turns_over(s);
            break;
        }
        if (ev.type != GRPC_OP_COMPLETE)
            continue;
        if (ev.tag == &shutdown_tag) {
            pthread_mutex_lock(&s->lock);
            s->shut_seen = 1;
            pthread_cond_broadcast(&s->cond);
            pthread_mutex_unlock(&s->lock);
            continue;
        }
        atomic_fetch_add(&s->working, 1);
        step(ev.tag, ev.success);
        atomic_fetch_sub(&s->working, 1);
    }
    return NULL;
}

unsigned long rpc_server_spins_caught(struct rpc_server *s)
{
    return atomic_load(&s->polls.caught);
}

int rpc_server_port(const struct rpc_server *s)
{
    return s->port;
}

int rpc_server_start(struct rpc_server **out, const struct rpc_server_opts *o)
{
    grpc_init();
    struct rpc_server *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    s->stream_quiet_ms = o->stream_quiet_ms > 0 ? o->stream_quiet_ms : 100;
    atomic_init(&s->stream_at, -(int64_t)s->stream_quiet_ms); /* (7) no stream yet */
    s->methods = o->methods;
    s->n_methods = o->n_methods;
    s->app = o->app;
    s->observe = o->observe;
    s->session = o->session;
    s->n_threads = o->threads > 0 ? o->threads : 1;
    s->max_serving = o->pollers < 1 ? 1 : o->pollers > s->n_threads ? s->n_threads : o->pollers;
    s->spin_us = poll_spin_bound(o->spin_us);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* deadline_in */
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, &ca);
    pthread_mutex_init(&s->turn_lock, NULL);
    pthread_cond_init(&s->turn_cond, &ca);
    pthread_condattr_destroy(&ca);
    grpc_arg args[CODEC_N_ARGS];
    codec_channel_args(args);
    grpc_channel_args cargs = {CODEC_N_ARGS, args};
    s->srv = grpc_server_create(&cargs, NULL);
    s->cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(s->srv, s->cq, NULL);
    s->handles = calloc(s->n_methods ? s->n_methods : 1, sizeof *s->handles);
    for (size_t i = 0; i < s->n_methods; i++)
        s->handles[i] = grpc_server_register_method(s->srv, s->methods[i].path, NULL,
                                                    s->methods[i].shape == RPC_CLIENT_STREAM
                                                        ? GRPC_SRM_PAYLOAD_NONE
                                                        : GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER,
                                                    0);
    if (!o->no_sessions)
        s->session_handle =
            grpc_server_register_method(s->srv, RPC_SESSION_PATH, NULL, GRPC_SRM_PAYLOAD_NONE, 0);
    int rv = 0;
    for (size_t i = 0; i < s->n_methods; i++)
        if (!s->handles[i]) /* a path given twice (or RPC_SESSION_PATH) */
            rv = -EINVAL;
    if (!o->no_sessions && !s->session_handle)
        rv = -EINVAL;
    grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
    if (rv == 0 && o->unix_path) {
        char *addr = NULL;
        if (asprintf(&addr, "unix:%s", o->unix_path) < 0)
            abort();
        if (grpc_server_add_http2_port(s->srv, addr, creds) == 0)
            rv = -EADDRINUSE;
        free(addr);
    }
    if (rv == 0 && o->tcp_addr) {
        s->port = grpc_server_add_http2_port(s->srv, o->tcp_addr, creds);
        if (s->port == 0)
            rv = -EADDRNOTAVAIL;
    }
    grpc_server_credentials_release(creds);
    /* The threads first, so that a start that cannot have any fails like a
     * bad address: nothing was served yet. They wait for the first events. */
    s->threads = calloc((size_t)s->n_threads, sizeof *s->threads);
    if (!s->threads)
        abort();
    if (rv == 0 && !(s->appliers = jobs_start(s->n_threads))) /* (8) */
        rv = -EAGAIN;
    int started = 0;
    while (rv == 0 && started < s->n_threads &&
           pthread_create(&s->threads[started], NULL, worker, s) == 0)
        started++;
    if (rv == 0 && started == 0)
        rv = -EAGAIN;
    s->n_threads = started;
    if (s->max_serving > started && started > 0)
        s->max_serving = started;
    if (rv != 0) {
        /* gRPC destroys a server only after its shutdown (it aborts on one
         * whose ports were added): the unix port may be, the TCP one not. */
        static char shut_tag;
        grpc_server_shutdown_and_notify(s->srv, s->cq, &shut_tag);
        while (grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).tag !=
               &shut_tag)
            ;
        grpc_server_destroy(s->srv);
        grpc_completion_queue_shutdown(s->cq);
        while (grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type !=
               GRPC_QUEUE_SHUTDOWN)
            ;
        grpc_completion_queue_destroy(s->cq);
        jobs_stop(s->appliers);
        free(s->threads);
        free(s->handles);
        pthread_cond_destroy(&s->turn_cond);
        pthread_mutex_destroy(&s->turn_lock);
        pthread_cond_destroy(&s->cond);
        pthread_mutex_destroy(&s->lock);
        free(s);
        grpc_shutdown();
        return rv;
    }
    grpc_server_start(s->srv);
    for (size_t i = 0; i < s->n_methods; i++)
        for (int k = 0; k < POSTED_PER_METHOD; k++)
            post_request(s, i);
    for (int k = 0; s->session_handle && k < POSTED_PER_METHOD; k++)
        post_request(s, SESSION);
    for (int k = 0; k < POSTED_GENERIC; k++)
        post_generic(s);
    *out = s;
    return 0;
}

/* How long a stop waits for clients to read their last answers and close
 * their connections before it disconnects them (within the grace). */
#define FLUSH_MS 250

/* Waits until every call context is gone (and the shutdown tag was seen, if
 * SHUT), or until DEADLINE (deadline_in); 1 when done. */
static int wait_drained(struct rpc_server *s, const struct timespec *deadline, int shut)
{
    pthread_mutex_lock(&s->lock);
    int r = 0;
    while (!((s->shut_seen || !shut) && s->live == 0) && r == 0)
        r = deadline ? pthread_cond_timedwait(&s->cond, &s->lock, deadline)
                     : pthread_cond_wait(&s->cond, &s->lock);
    int done = (s->shut_seen || !shut) && s->live == 0;
    pthread_mutex_unlock(&s->lock);
    return done;
}

int rpc_server_stop(struct rpc_server *s, int grace_ms, long *dropped)
{
    if (dropped)
        *dropped = 0;
    if (!s)
        return 0;
    atomic_store(&s->shutting_down, 1);
    grpc_server_shutdown_and_notify(s->srv, s->cq, &shutdown_tag);
    pthread_mutex_lock(&s->lock); /* (5): idle sessions would hold the drain */
    for (struct call *c = s->idle; c; c = c->idle_next) {
        c->dropped = 1;
        grpc_call_cancel_with_status(c->call, GRPC_STATUS_ABORTED, RPC_SESSION_ENDED, NULL);
    }
    pthread_mutex_unlock(&s->lock);
    struct timespec dl = deadline_in(grace_ms);
    int late = !wait_drained(s, &dl, 0);
    if (!late) {
        /* Every call is over, but the last answers may still be in the
         * connections' write buffers: a client that reads its answer and
         * has nothing else open closes its connection, which delivers the
         * shutdown tag. Wait for that a moment (within the grace), so that
         * no applied call loses its answer to the disconnect below. */
        struct timespec fl = deadline_in(FLUSH_MS);
        int sooner = fl.tv_sec < dl.tv_sec || (fl.tv_sec == dl.tv_sec && fl.tv_nsec < dl.tv_nsec);
        wait_drained(s, sooner ? &fl : &dl, 1);
    }
    /* The shutdown tag still waits for idle client connections to close,
     * which an idle client never does; cancelling disconnects them (and
     * ends the late calls). */
    grpc_server_cancel_all_calls(s->srv);
    wait_drained(s, NULL, 1); /* (2) */
    jobs_stop(s->appliers);   /* (8) idle: every call is gone */
    grpc_server_destroy(s->srv);
    grpc_completion_queue_shutdown(s->cq);
    for (int i = 0; i < s->n_threads; i++)
        pthread_join(s->threads[i], NULL);
    grpc_completion_queue_destroy(s->cq);
    if (dropped)
        *dropped = atomic_load(&s->dropped);
    free(s->threads);
    free(s->handles);
    pthread_cond_destroy(&s->turn_cond);
    pthread_mutex_destroy(&s->turn_lock);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
    /* grpc_shutdown is left to rpc_release: in this gRPC (1.51) it can block
     * for ~10 s joining an executor thread parked in epoll_wait. */
    return late;
}

void rpc_release(void)
{
    grpc_shutdown();
}
