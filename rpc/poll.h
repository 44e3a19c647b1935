/*
 * poll.h — waiting for a completion queue's next event, with a short spin
 * of non-blocking polls first (poll.c). Private to rpc/.
 */
#ifndef CAIRN_POLL_H
#define CAIRN_POLL_H

#include <grpc/grpc.h>

/* What grpc_completion_queue_next(CQ, DEADLINE) returns, but first polls CQ
 * without blocking for up to SPIN_US microseconds (0: blocks at once). */
grpc_event poll_next(grpc_completion_queue *cq, gpr_timespec deadline, int spin_us);

/* For tests: how many threads spin now, and how many may at once. */
int poll_spinning(void);
int poll_spin_slots(void);

#endif
