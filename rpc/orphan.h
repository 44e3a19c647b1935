/*
 * orphan.h — client calls given up on while gRPC still holds a batch of
 * theirs (orphan.c). Private to rpc/.
 */
#ifndef CAIRN_ORPHAN_H
#define CAIRN_ORPHAN_H

#include <grpc/grpc.h>

/* How long a cancelled call's batches get to complete before the call is
 * given up on (they complete at once unless a send is blocked). */
#define ORPHAN_AFTER_MS 200

/* Takes CALL (its reference), CQ (the call's own queue: nothing else may
 * use it) and ARG: once PENDING more events have arrived on CQ, the call is
 * unreferenced, CQ destroyed and RELEASE(ARG) run (ARG holds what the
 * pending batches point at). The call must have been cancelled. -ENOMEM:
 * nothing was taken. */
int orphan_add(grpc_call *call, grpc_completion_queue *cq, int pending, void (*release)(void *arg),
               void *arg);

/* Releases the orphans whose batches have all completed; never blocks.
 * Calls run it, and while there are orphans a reaper thread does too
 * (orphan.c (5)). */
void orphan_reap(void);

/* Orphans not yet released (for tests). */
int orphan_count(void);

#endif
