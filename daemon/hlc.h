/*
 * hlc.h — hybrid logical clock (Kulkarni et al.): 48 bits of unix ms and a
 * 16-bit logical counter in one u64, so stamps compare as integers.
 *
 * The physical clock is injectable (tests step time by hand). Thread-safe:
 * one lock per clock. hlc_now never returns the same stamp twice and never
 * goes backwards, even when the physical clock does.
 */
#ifndef CAIRN_HLC_H
#define CAIRN_HLC_H

#include <pthread.h>
#include <stdint.h>

typedef uint64_t (*hlc_clock_fn)(void *ctx); /* returns unix ms */

struct hlc {
    pthread_mutex_t lock;
    uint64_t last;
    hlc_clock_fn clock;
    void *ctx;
    uint64_t max_drift_ms; /* remote stamps further ahead are refused */
};

#define HLC_MS(stamp) ((stamp) >> 16)
#define HLC_LOGICAL(stamp) ((stamp)&0xffffu)
#define HLC_MAKE(ms, c) (((uint64_t)(ms) << 16) | ((c)&0xffffu))
/* The largest stamp at unix time MS: "as of MS" includes all of that ms. */
#define HLC_END_OF_MS(ms) HLC_MAKE(ms, 0xffffu)

/* CLOCK NULL uses the real-time clock. */
void hlc_init(struct hlc *h, hlc_clock_fn clock, void *ctx);
void hlc_fini(struct hlc *h);
/* A fresh stamp for a local event. */
uint64_t hlc_now(struct hlc *h);
/* Merges a stamp received from elsewhere (or found on disk) so later local
 * stamps are greater. Returns -ERANGE (and merges nothing) when REMOTE is
 * more than max_drift_ms ahead of the physical clock. */
int hlc_update(struct hlc *h, uint64_t remote);
/* Merges a stamp read from this node's own disk: never refused, so stamps
 * issued after a restart are above every stamp already stored. */
void hlc_observe(struct hlc *h, uint64_t stamp);
/* Unix ms of the physical clock behind H. */
uint64_t hlc_physical_ms(struct hlc *h);
/* The real-time clock in ms (the default hlc_clock_fn). */
uint64_t hlc_realtime_ms(void *ctx);

#endif
