/*
 * session.c — owns the client's session streams (session.h): a pool of
 * cairn.v1.Session/Call streams, each carrying one caller's unary calls one
 * at a time.
 *
 * Invariants:
 * (1) a session is used by one caller at a time: it is out of the pool while
 *     a call runs on it, so the next event on its completion queue is that
 *     call's (or the stream's end);
 * (2) every session has its status receive posted from the start, so a
 *     stream that ended while pooled (cairnd stopped or restarted) is seen
 *     and thrown away before it is used;
 * (3) a call is sent again, on a fresh session, within the call's one
 *     deadline, only when it cannot have been applied: its message never
 *     left (the stream was already broken), or the server ended the stream
 *     without answering it, with OK or with ABORTED RPC_SESSION_ENDED (a
 *     stopping cairnd applies nothing after that, server.c (5)); never after
 *     this side cancelled; any other broken stream is the call's error, as
 *     for a plain call;
 * (4) a server that has no Session service (UNIMPLEMENTED) turns sessions
 *     off for the pool: every later call is a plain call;
 * (5) a call that timed out is cancelled; if its batches do not complete
 *     within ORPHAN_AFTER_MS even then (a send blocked because the server
 *     stopped reading), the session goes to orphan.c with the messages its
 *     batches point at, and the call fails with DEADLINE_EXCEEDED at once.
 * Threads: any; the pool's list is under its lock.
 */
#include "session.h"

#include "cairn/v1/session.pb-c.h"
#include "cairn_err.h"
#include "codec.h"
#include "orphan.h"
#include "poll.h"
#include "rpc.h"

#include <grpc/support/time.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Larger requests go as plain calls: the envelope would copy them once more. */
#define SESSION_MAX_BODY (256u << 10)
#define SESSION_TRIES 3
/* Sessions kept open for reuse; more callers at once open more, closed after. */
#define SESSION_POOL_MAX 64

struct session {
    struct session *next;
    grpc_completion_queue *cq;
    grpc_call *call;
    struct call_bufs b; /* (5) */
    int started;        /* initial metadata sent */
    int ended;          /* (2) the status arrived */
};

struct session_pool {
    grpc_channel *ch;
    void *handle;
    pthread_mutex_t lock;
    struct session *free;
    size_t n_free;
    _Atomic int off; /* (4) */
};

/* Tags of a session's three batches (each queue is one session's). */
static char tag_send, tag_recv, tag_end;

struct session_pool *session_pool_new(grpc_channel *ch)
{
    struct session_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->ch = ch;
    p->handle = grpc_channel_register_call(ch, RPC_SESSION_PATH, NULL, NULL);
    pthread_mutex_init(&p->lock, NULL);
    return p;
}

/* Waits for the stream's status (2), cancelling the stream first if CANCEL. */
static void session_end(struct session *se, int cancel)
{
    if (!se->ended && cancel)
        grpc_call_cancel(se->call, NULL);
    while (!se->ended) {
        grpc_event ev =
            grpc_completion_queue_next(se->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        if (ev.type != GRPC_OP_COMPLETE || ev.tag == &tag_end)
            se->ended = 1;
    }
}

/* Frees SE's memory, not its call or queue. */
static void session_release(void *arg)
{
    struct session *se = arg;
    call_bufs_destroy(&se->b);
    free(se);
}

static void session_free(struct session *se)
{
    if (se->call) {
        session_end(se, 1);
        grpc_call_unref(se->call);
    }
    channel_cq_destroy(se->cq);
    session_release(se);
}

/* (5): SE, cancelled, still has PENDING batches of its call besides its
 * status; they complete when the server reads again or the connection
 * breaks. */
static void session_orphan(struct session *se, int pending)
{
    pending += !se->ended;
    if (orphan_add(se->call, se->cq, pending, session_release, se) == 0)
        return;
    while (pending-- > 0) /* no memory to hand it over: wait for it after all */
        grpc_completion_queue_next(se->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
    se->ended = 1;
    session_free(se);
}

void session_pool_free(struct session_pool *p)
{
    if (!p)
        return;
    while (p->free) {
        struct session *se = p->free;
        p->free = se->next;
        session_free(se);
    }
    pthread_mutex_destroy(&p->lock);
    free(p);
}

static struct session *session_open(struct session_pool *p)
{
    struct session *se = calloc(1, sizeof *se);
    if (!se)
        return NULL;
    se->cq = grpc_completion_queue_create_for_next(NULL);
    se->call =
        grpc_channel_create_registered_call(p->ch, NULL, GRPC_PROPAGATE_DEFAULTS, se->cq, p->handle,
                                            gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
    call_bufs_init(&se->b);
    grpc_op op;
    memset(&op, 0, sizeof op);
    channel_status_op(&op, &se->b.trail_md, &se->b.status, &se->b.details); /* (2) */
    if (!se->call || grpc_call_start_batch(se->call, &op, 1, &tag_end, NULL) != GRPC_CALL_OK) {
        se->ended = 1;
        session_free(se);
        return NULL;
    }
    return se;
}

/* A pooled session whose stream is still open (2), or a new one. */
static struct session *session_get(struct session_pool *p)
{
    for (;;) {
        pthread_mutex_lock(&p->lock);
        struct session *se = p->free;
        if (se) {
            p->free = se->next;
            p->n_free--;
        }
        pthread_mutex_unlock(&p->lock);
        if (!se)
            return session_open(p);
        grpc_event ev = grpc_completion_queue_next(se->cq, gpr_inf_past(GPR_CLOCK_MONOTONIC), NULL);
        if (ev.type == GRPC_OP_COMPLETE && ev.tag == &tag_end)
            se->ended = 1;
        if (!se->ended)
            return se;
        session_free(se);
    }
}

static void session_put(struct session_pool *p, struct session *se)
{
    pthread_mutex_lock(&p->lock);
    int keep = p->n_free < SESSION_POOL_MAX;
    if (keep) {
        se->next = p->free;
        p->free = se;
        p->n_free++;
    }
    pthread_mutex_unlock(&p->lock);
    if (!keep)
        session_free(se);
}

enum outcome { DONE, RETRY, PLAIN };

/* One attempt of a call on SE, which it keeps (pooled again) or frees; SEND
 * is copied (a send takes the slices of what it sends). Sets *RV on DONE
 * and RETRY (the error a retry that never comes would report). */
static enum outcome attempt(struct session_pool *p, struct session *se, grpc_byte_buffer *send,
                            gpr_timespec dl, const struct call_opts *co,
                            const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
                            int *rv)
{
    grpc_byte_buffer *recv;
    se->b.send = grpc_byte_buffer_copy(send);
    se->b.recv = NULL;
    grpc_op sops[2], rops[2];
    size_t ns = 0, nr = 0;
    memset(sops, 0, sizeof sops);
    memset(rops, 0, sizeof rops);
    int first = !se->started;
    if (first) {
        sops[ns].op = GRPC_OP_SEND_INITIAL_METADATA;
        sops[ns++].flags = co->wait_ready ? GRPC_INITIAL_METADATA_WAIT_FOR_READY : 0;
        rops[nr].op = GRPC_OP_RECV_INITIAL_METADATA;
        rops[nr++].data.recv_initial_metadata.recv_initial_metadata = &se->b.init_md;
        se->started = 1;
    }
    sops[ns].op = GRPC_OP_SEND_MESSAGE;
    sops[ns++].data.send_message.send_message = se->b.send;
    rops[nr].op = GRPC_OP_RECV_MESSAGE;
    rops[nr++].data.recv_message.recv_message = &se->b.recv;
    int sent = -1, got = -1, timed_out = 0, cancelled = 0;
    if (grpc_call_start_batch(se->call, sops, ns, &tag_send, NULL) != GRPC_CALL_OK) {
        sent = got = 0;
    } else if (grpc_call_start_batch(se->call, rops, nr, &tag_recv, NULL) != GRPC_CALL_OK) {
        grpc_call_cancel(se->call, NULL); /* the send may still be in flight */
        cancelled = 1;
        got = 0;
    }
    gpr_timespec wait_dl = dl;
    while (sent < 0 || got < 0) {
        grpc_event ev = poll_next(&poll_clients, se->cq, wait_dl, co->spin_us);
        if (ev.type == GRPC_QUEUE_TIMEOUT && timed_out) { /* (5) */
            session_orphan(se, (sent < 0) + (got < 0));
            *rv = channel_result(GRPC_STATUS_DEADLINE_EXCEEDED,
                                 grpc_slice_from_static_string("Deadline Exceeded"), 0);
            return DONE;
        } else if (ev.type == GRPC_QUEUE_TIMEOUT) {
            timed_out = cancelled = 1;
            grpc_call_cancel(se->call, NULL);
            wait_dl = channel_in_ms(ORPHAN_AFTER_MS);
        } else if (ev.type != GRPC_OP_COMPLETE) {
            break; /* cannot happen: the queue is never shut down while used */
        } else if (ev.tag == &tag_send) {
            sent = ev.success;
        } else if (ev.tag == &tag_recv) {
            got = ev.success;
        } else if (ev.tag == &tag_end) {
            se->ended = 1;
        }
    }
    grpc_byte_buffer_destroy(se->b.send);
    se->b.send = NULL;
    recv = se->b.recv;
    se->b.recv = NULL;
    if (got <= 0 || !recv) { /* the stream ended without an answer */
        if (recv)
            grpc_byte_buffer_destroy(recv);
        if (timed_out) {
            session_free(se);
            *rv = channel_result(GRPC_STATUS_DEADLINE_EXCEEDED,
                                 grpc_slice_from_static_string("Deadline Exceeded"), 0);
            return DONE;
        }
        session_end(se, sent == 0); /* a send that never started left the stream open */
        enum outcome o = DONE;
        int ended_idle = se->b.status == GRPC_STATUS_OK ||
                         (se->b.status == GRPC_STATUS_ABORTED &&
                          grpc_slice_str_cmp(se->b.details, RPC_SESSION_ENDED) == 0);
        if (first && se->b.status == GRPC_STATUS_UNIMPLEMENTED) {
            atomic_store(&p->off, 1); /* (4) */
            o = PLAIN;
        } else if (!cancelled && (sent == 0 || ended_idle)) {
            o = RETRY; /* (3) */
        }
        /* a session the server ended (stopping) is the server going away,
         * also when no retry is left */
        *rv = channel_result(ended_idle ? GRPC_STATUS_UNAVAILABLE : se->b.status, se->b.details,
                             channel_trailer_errno(&se->b.trail_md));
        session_free(se);
        return o;
    }
    struct codec_msg env;
    int bad = codec_msg_decode(&env, recv, &cairn__v1__call_reply__descriptor, RPC_MAX_MESSAGE, 0);
    grpc_byte_buffer_destroy(recv);
    if (bad) {
        session_free(se);
        *rv = CAIRN_EPROTO;
        return DONE;
    }
    const Cairn__V1__CallReply *rep = (const Cairn__V1__CallReply *)env.m;
    *rv = channel_result((grpc_status_code)rep->code, grpc_slice_from_static_string(rep->detail),
                         rep->err);
    if (rep->code == GRPC_STATUS_OK) {
        *resp = protobuf_c_message_unpack(resp_desc, NULL, rep->body.len, rep->body.data);
        if (!*resp)
            *rv = CAIRN_EPROTO;
    }
    codec_msg_free(&env);
    if (timed_out)
        session_free(se);
    else
        session_put(p, se);
    return DONE;
}

int session_call(struct session_pool *p, const char *path, const struct call_opts *co,
                 const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                 ProtobufCMessage **resp, int *rv)
{
    if (!p || atomic_load(&p->off))
        return 0;
    if (protobuf_c_message_get_packed_size(req) > SESSION_MAX_BODY)
        return 0;
    Cairn__V1__CallRequest rq = CAIRN__V1__CALL_REQUEST__INIT;
    rq.method = (char *)path;
    ProtobufCBinaryData body;
    if (codec_pack(req, &body) != 0)
        return 0;
    grpc_byte_buffer *send = codec_encode_with(&rq.base, 2 /* CallRequest.body */, &body);
    /* One deadline for the call, whatever the number of attempts. */
    gpr_timespec dl = channel_in_ms(co->timeout_ms);
    enum outcome o = PLAIN;
    orphan_reap();
    for (int i = 0; i < SESSION_TRIES; i++) {
        struct session *se = session_get(p);
        if (!se)
            break;
        o = attempt(p, se, send, dl, co, resp_desc, resp, rv);
        if (o != RETRY)
            break;
    }
    grpc_byte_buffer_destroy(send);
    return o != PLAIN; /* RETRY: every try found a broken stream; *RV says how */
}
