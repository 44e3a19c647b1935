/*
 * poll.h — waiting for a completion queue's next event, with a short spin
 * of non-blocking polls first (poll.c). Private to rpc/.
 */
#ifndef CAIRN_POLL_H
#define CAIRN_POLL_H

#include <grpc/grpc.h>

/* What grpc_completion_queue_next(CQ, DEADLINE) returns, but first polls CQ
 * without blocking for up to SPIN_US microseconds (0: blocks at once) when
 * no other thread of the process waits in poll_next. */
grpc_event poll_next(grpc_completion_queue *cq, gpr_timespec deadline, int spin_us);

/* For tests: how many threads of the process wait in poll_next now, how
 * many of them spin (0 or 1), and 1 if it may spin at all (it may run on 2
 * CPUs or more). */
int poll_waiting(void);
int poll_spinning(void);
int poll_can_spin(void);

#endif
