/*
 * poll.c — owns the wait for a completion queue's next event (poll.h): a
 * bounded spin of non-blocking polls, then the blocking wait.
 *
 * Why: a thread that sleeps until its peer's message comes pays for going
 * to sleep and for being woken (on a VM, the host halts the idle vCPU and
 * must resume it), and on the machines cairn was measured on that was most
 * of what a small call cost. One caller doing getattr over the unix socket:
 * 55 us per call and 28-29 us of CPU on each side with both ends blocking;
 * 23 us per call and 22-23 us of CPU on each side with the client spinning
 * up to 30 us and cairnd up to 100 us. A spin that finds nothing costs its
 * length in CPU, once per wait that outlasts it.
 *
 * Invariants: (1) the event returned is one the blocking wait could have
 * returned: a spin polls the same queue with a deadline in the past, and a
 * DEADLINE that passes while spinning is a timeout, as it would have been;
 * (2) a wait spins at most SPIN_US, and at most poll_spin_slots() threads of
 * the process spin at once (half the online CPUs, at least one): any other
 * waiter blocks at once, so spinning threads never take every core from
 * the ones with work to do.
 * Threads: any.
 */
#include "poll.h"

#include <grpc/support/time.h>
#include <stdatomic.h>
#include <unistd.h>

static _Atomic int spinning;

int poll_spinning(void)
{
    return atomic_load(&spinning);
}

int poll_spin_slots(void)
{
    static _Atomic int slots;
    int n = atomic_load(&slots);
    if (n == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        n = cpus >= 4 ? (int)(cpus / 2) : 1;
        atomic_store(&slots, n);
    }
    return n;
}

/* 1 when this thread may spin now (a slot was free and is now taken). */
static int take_slot(void)
{
    int n = atomic_load(&spinning);
    while (n < poll_spin_slots())
        if (atomic_compare_exchange_weak(&spinning, &n, n + 1))
            return 1;
    return 0;
}

grpc_event poll_next(grpc_completion_queue *cq, gpr_timespec deadline, int spin_us)
{
    if (spin_us > 0 && take_slot()) {
        gpr_timespec now = gpr_now(GPR_CLOCK_MONOTONIC);
        gpr_timespec until = gpr_time_add(now, gpr_time_from_micros(spin_us, GPR_TIMESPAN));
        gpr_timespec dl = gpr_convert_clock_type(deadline, GPR_CLOCK_MONOTONIC);
        if (gpr_time_cmp(dl, until) < 0)
            until = dl;
        grpc_event ev;
        do {
            ev = grpc_completion_queue_next(cq, gpr_inf_past(GPR_CLOCK_MONOTONIC), NULL);
            now = gpr_now(GPR_CLOCK_MONOTONIC);
        } while (ev.type == GRPC_QUEUE_TIMEOUT && gpr_time_cmp(now, until) < 0);
        atomic_fetch_sub(&spinning, 1);
        if (ev.type != GRPC_QUEUE_TIMEOUT || gpr_time_cmp(now, dl) >= 0)
            return ev; /* (1) an event, or the caller's deadline passed */
    }
    return grpc_completion_queue_next(cq, deadline, NULL);
}
