/*
 * lend.c — owns bytes lent to the RPC layer (rpc.h: rpc_lend): a caller's
 * buffer that messages refer to where it lies instead of a copy of it.
 * Invariants: (1) the lender's DONE(ARG) runs exactly once, when the lender
 * has ended its own reference (rpc_lend_end) and gRPC has released every
 * slice made over the bytes (lend_slice), whichever comes last, on the
 * thread that dropped the last reference; (2) nothing here writes to the
 * bytes or frees them.
 * Threads: any; the count is atomic.
 */
#include "lend.h"

#include <stdatomic.h>
#include <stdlib.h>

struct rpc_lend {
    _Atomic size_t refs; /* the lender's, plus one per live slice */
    uint32_t field;
    void (*done)(void *arg);
    void *arg;
};

struct rpc_lend *rpc_lend_new(uint32_t field, void (*done)(void *arg), void *arg)
{
    struct rpc_lend *l = malloc(sizeof *l);
    if (!l)
        return NULL;
    atomic_init(&l->refs, 1);
    l->field = field;
    l->done = done;
    l->arg = arg;
    return l;
}

uint32_t lend_field(const struct rpc_lend *l)
{
    return l->field;
}

static void unref(void *p)
{
    struct rpc_lend *l = p;
    if (atomic_fetch_sub(&l->refs, 1) == 1) { /* (1) */
        l->done(l->arg);
        free(l);
    }
}

void rpc_lend_end(struct rpc_lend *l)
{
    unref(l);
}

grpc_slice lend_slice(struct rpc_lend *l, const void *p, size_t n)
{
    atomic_fetch_add(&l->refs, 1);
    return grpc_slice_new_with_user_data((void *)(uintptr_t)p, n, unref, l);
}
