/*
 * orphan.c — owns the client calls given up on while gRPC still held a
 * batch of theirs (orphan.h).
 *
 * Why: a send that is blocked because the server stopped reading (a stopped
 * or hung cairnd, a partition) does not complete when its call is
 * cancelled: its bytes are in the connection's write, which ends only when
 * the server reads them or the connection breaks. A caller whose deadline
 * has passed cannot wait for that, and cannot free what the batch points at
 * either (its message, the arrays its receives fill). So the call, its
 * completion queue and that memory come here, and go when every batch has
 * completed: when the server reads again, or the connection breaks.
 *
 * Invariants: (1) an orphan's memory is released only after its last pending
 * event arrived on its queue; (2) reaping never blocks: it polls each queue
 * with a deadline in the past; (3) the list is under one lock, and orphans
 * still pending at exit stay on it (reachable, not leaked); (4) each orphan
 * holds a grpc_init() until it is released, so gRPC stays up for it after
 * its channel was closed.
 * Threads: any.
 */
#include "orphan.h"

#include "session.h" /* channel_cq_destroy */

#include <errno.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct orphan {
    struct orphan *next;
    grpc_call *call;
    grpc_completion_queue *cq;
    int pending;
    void (*release)(void *arg);
    void *arg;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct orphan *orphans; /* (3) */
static _Atomic int n_orphans;

int orphan_add(grpc_call *call, grpc_completion_queue *cq, int pending, void (*release)(void *arg),
               void *arg)
{
    struct orphan *o = malloc(sizeof *o);
    if (!o)
        return -ENOMEM;
    *o = (struct orphan){NULL, call, cq, pending, release, arg};
    grpc_init(); /* (4) */
    pthread_mutex_lock(&lock);
    o->next = orphans;
    orphans = o;
    atomic_fetch_add(&n_orphans, 1);
    pthread_mutex_unlock(&lock);
    orphan_reap(); /* its batches may have completed meanwhile */
    return 0;
}

void orphan_reap(void)
{
    if (atomic_load(&n_orphans) == 0)
        return;
    pthread_mutex_lock(&lock);
    for (struct orphan **pp = &orphans; *pp;) {
        struct orphan *o = *pp;
        while (o->pending > 0) { /* (2) */
            grpc_event ev =
                grpc_completion_queue_next(o->cq, gpr_inf_past(GPR_CLOCK_MONOTONIC), NULL);
            if (ev.type != GRPC_OP_COMPLETE)
                break;
            o->pending--;
        }
        if (o->pending > 0) {
            pp = &o->next;
            continue;
        }
        *pp = o->next; /* (1) */
        atomic_fetch_sub(&n_orphans, 1);
        grpc_call_unref(o->call);
        channel_cq_destroy(o->cq);
        o->release(o->arg);
        free(o);
        grpc_shutdown(); /* (4) */
    }
    pthread_mutex_unlock(&lock);
}

int orphan_count(void)
{
    return atomic_load(&n_orphans);
}
