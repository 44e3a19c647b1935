/*
 * poll.c — owns the wait for a completion queue's next event (poll.h): a
 * bounded spin of non-blocking polls, then the blocking wait.
 *
 * Why: a thread that sleeps until its peer's message comes pays for going
 * to sleep and for being woken (on a VM, the host halts the idle vCPU and
 * must resume it), and on the machines cairn was measured on that was most
 * of what a small call cost. One caller doing getattr over the unix socket
 * of a 2-CPU VM, cairnd and libcairn at their defaults (200 and 50 us):
 * 55 us per call and 28-29 us of CPU on each side with both ends blocking,
 * 19-23 us per call and 19-23 us of CPU on each side with both spinning.
 * A spin that finds nothing costs its length in CPU (less what (4) gives
 * away), once per wait that outlasts it.
 *
 * Invariants: (1) the event returned is one the blocking wait could have
 * returned: a spin polls the same queue with a deadline in the past, and a
 * DEADLINE that passes while spinning is a timeout, as it would have been;
 * (2) a wait spins (at most SPIN_US) only when it is the only thread of its
 * group waiting in poll_next (a server's threads; every client call of the
 * process), so at most one thread of a group spins, and only while the
 * answer it waits for is likely to come soon: with other calls in flight
 * it queues behind them, and a spin would only take a CPU from the peer
 * that works on them (so a server with several pollers rarely spins);
 * (3) a process whose CPU affinity, read when first asked, allows one CPU
 * only (a container's cpuset counts, not the host's; a CPU quota does
 * not) never spins: the spinner would hold the CPU its peer needs; (4) a spin
 * yields its CPU between polls (sched_yield), so a thread with work that is
 * waiting for this CPU runs first: without it, a spinning cairnd took the
 * CPU from the program, cairn-fuse and its sender when all of them had work
 * (random 4 KiB writes through the mount: 3,800-4,200 writes/s against
 * 4,600-6,100 with no spin at all; 5,100-6,400 with the yield).
 * Threads: any.
 */
#include "poll.h"

#include "rpc.h" /* RPC_SPIN_MAX_US */

#include <grpc/support/time.h>
#include <sched.h>
#include <stdatomic.h>

struct poll_group poll_clients;

int poll_spin_bound(int spin_us)
{
    return spin_us < 0 ? 0 : spin_us > RPC_SPIN_MAX_US ? RPC_SPIN_MAX_US : spin_us;
}

int poll_can_spin(void)
{
    static _Atomic int can = -1; /* not known yet */
    int c = atomic_load(&can);
    if (c < 0) {
        cpu_set_t set;
        c = sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) >= 2; /* (3) */
        atomic_store(&can, c);
    }
    return c;
}

/* Polls CQ without blocking until an event, UNTIL or DL (both monotonic,
 * UNTIL <= DL); the event, or a timeout. */
static grpc_event spin(struct poll_group *g, grpc_completion_queue *cq, gpr_timespec until,
                       gpr_timespec dl, int *dl_passed)
{
    grpc_event ev;
    gpr_timespec now;
    atomic_fetch_add(&g->spinning, 1);
    for (;;) {
        ev = grpc_completion_queue_next(cq, gpr_inf_past(GPR_CLOCK_MONOTONIC), NULL);
        now = gpr_now(GPR_CLOCK_MONOTONIC);
        if (ev.type != GRPC_QUEUE_TIMEOUT || gpr_time_cmp(now, until) >= 0)
            break;
        sched_yield(); /* (4) */
    }
    atomic_fetch_sub(&g->spinning, 1);
    if (ev.type != GRPC_QUEUE_TIMEOUT)
        atomic_fetch_add(&g->caught, 1);
    *dl_passed = gpr_time_cmp(now, dl) >= 0;
    return ev;
}

grpc_event poll_next(struct poll_group *g, grpc_completion_queue *cq, gpr_timespec deadline,
                     int spin_us)
{
    int alone = atomic_fetch_add(&g->waiting, 1) == 0;
    grpc_event ev = {.type = GRPC_QUEUE_TIMEOUT};
    int done = 0;
    if (spin_us > 0 && alone && poll_can_spin()) {
        gpr_timespec now = gpr_now(GPR_CLOCK_MONOTONIC);
        gpr_timespec until = gpr_time_add(now, gpr_time_from_micros(spin_us, GPR_TIMESPAN));
        gpr_timespec dl = gpr_convert_clock_type(deadline, GPR_CLOCK_MONOTONIC);
        if (gpr_time_cmp(dl, until) < 0)
            until = dl;
        int dl_passed;
        ev = spin(g, cq, until, dl, &dl_passed);
        done = ev.type != GRPC_QUEUE_TIMEOUT || dl_passed; /* (1) */
    }
    if (!done)
        ev = grpc_completion_queue_next(cq, deadline, NULL);
    atomic_fetch_sub(&g->waiting, 1);
    return ev;
}
