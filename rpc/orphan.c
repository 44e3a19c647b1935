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
 * its channel was closed; (5) while there are orphans, a reaper thread reaps
 * every REAP_EVERY_MS (and so polls their connections), so an orphan whose
 * send ended is released then even if the program makes no more calls (what
 * it holds may be lent bytes, rpc.h: rpc_lend); the thread ends when the
 * list is empty; (6) an orphan is released (its call unreferenced, RELEASE
 * run) outside the lock, so what that runs may make calls of its own.
 * Threads: any, plus the reaper.
 */
#include "orphan.h"

#include "session.h" /* channel_cq_destroy */

#include <errno.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

struct orphan {
    struct orphan *next;
    grpc_call *call;
    grpc_completion_queue *cq;
    int pending;
    void (*release)(void *arg);
    void *arg;
};

#define REAP_EVERY_MS 50 /* (5) */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct orphan *orphans; /* (3) */
static _Atomic int n_orphans;
static _Atomic int reaper_on; /* (5) a reaper thread runs */

static void *reaper(void *arg)
{
    (void)arg;
    for (;;) {
        while (atomic_load(&n_orphans) > 0) {
            orphan_reap();
            nanosleep(&(struct timespec){0, REAP_EVERY_MS * 1000000L}, NULL);
        }
        atomic_store(&reaper_on, 0);
        int off = 0; /* an orphan added since the look above finds no reaper: take it */
        if (atomic_load(&n_orphans) == 0 || !atomic_compare_exchange_strong(&reaper_on, &off, 1))
            return NULL;
    }
}

/* (5) Starts the reaper unless it runs; without one (no thread to be had),
 * orphans are reaped at the next call as before. */
static void reaper_start(void)
{
    int off = 0;
    if (!atomic_compare_exchange_strong(&reaper_on, &off, 1))
        return;
    pthread_t t;
    pthread_attr_t a;
    int ok = pthread_attr_init(&a) == 0;
    if (ok) {
        ok = pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED) == 0 &&
             pthread_create(&t, &a, reaper, NULL) == 0;
        pthread_attr_destroy(&a);
    }
    if (!ok)
        atomic_store(&reaper_on, 0);
}

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
    reaper_start();
    return 0;
}

void orphan_reap(void)
{
    if (atomic_load(&n_orphans) == 0)
        return;
    struct orphan *done = NULL;
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
        o->next = done;
        done = o;
    }
    pthread_mutex_unlock(&lock);
    while (done) { /* (6) */
        struct orphan *o = done;
        done = o->next;
        grpc_call_unref(o->call);
        channel_cq_destroy(o->cq);
        o->release(o->arg);
        free(o);
        atomic_fetch_sub(&n_orphans, 1); /* after the release: orphan_count() 0 means all done */
        grpc_shutdown();                 /* (4) */
    }
}

int orphan_count(void)
{
    return atomic_load(&n_orphans);
}
