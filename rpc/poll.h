/*
 * poll.h — waiting for a completion queue's next event, with a short spin
 * of non-blocking polls first (poll.c). Private to rpc/.
 */
#ifndef CAIRN_POLL_H
#define CAIRN_POLL_H

#include <grpc/grpc.h>

/* The threads that wait in poll_next on one side: a server's, or every
 * client call of the process (poll_clients). Zeroed memory is a group. */
struct poll_group {
    _Atomic int waiting;          /* threads in poll_next now */
    _Atomic int spinning;         /* of those, spinning (0 or 1) */
    _Atomic unsigned long caught; /* events a spin caught (for tests) */
};

extern struct poll_group poll_clients;

/* What grpc_completion_queue_next(CQ, DEADLINE) returns, but first polls CQ
 * without blocking for up to SPIN_US microseconds (0: blocks at once) when
 * no other thread of group G waits in poll_next. */
grpc_event poll_next(struct poll_group *g, grpc_completion_queue *cq, gpr_timespec deadline,
                     int spin_us);

/* SPIN_US cut to what a server or channel accepts: 0..RPC_SPIN_MAX_US. */
int poll_spin_bound(int spin_us);

/* 1 if this process may spin at all: its CPU affinity, read once, allows 2
 * CPUs or more. */
int poll_can_spin(void);

#endif
