/*
 * hlc.c — owns the hybrid logical clock (see hlc.h).
 *
 * Invariants: (1) successive hlc_now results strictly increase; (2) after
 * hlc_update(r), every later hlc_now is > r; (3) the logical counter
 * overflowing carries into the ms part rather than wrapping. Threads: any,
 * under h->lock.
 */
#include "hlc.h"

#include <errno.h>
#include <time.h>

uint64_t hlc_realtime_ms(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void hlc_init(struct hlc *h, hlc_clock_fn clock, void *ctx)
{
    pthread_mutex_init(&h->lock, NULL);
    h->last = 0;
    h->clock = clock ? clock : hlc_realtime_ms;
    h->ctx = ctx;
    h->max_drift_ms = 60u * 60u * 1000u;
}

void hlc_fini(struct hlc *h)
{
    pthread_mutex_destroy(&h->lock);
}

uint64_t hlc_physical_ms(struct hlc *h)
{
    return h->clock(h->ctx);
}

uint64_t hlc_now(struct hlc *h)
{
    uint64_t pt = HLC_MAKE(h->clock(h->ctx), 0);
    pthread_mutex_lock(&h->lock);
    /* +1 carries from the counter into the ms part on overflow (3). */
    h->last = pt > h->last ? pt : h->last + 1;
    uint64_t s = h->last;
    pthread_mutex_unlock(&h->lock);
    return s;
}

int hlc_update(struct hlc *h, uint64_t remote)
{
    uint64_t pt_ms = h->clock(h->ctx);
    if (HLC_MS(remote) > pt_ms + h->max_drift_ms)
        return -ERANGE;
    pthread_mutex_lock(&h->lock);
    if (remote > h->last)
        h->last = remote;
    pthread_mutex_unlock(&h->lock);
    return 0;
}

void hlc_observe(struct hlc *h, uint64_t stamp)
{
    pthread_mutex_lock(&h->lock);
    if (stamp > h->last)
        h->last = stamp;
    pthread_mutex_unlock(&h->lock);
}
